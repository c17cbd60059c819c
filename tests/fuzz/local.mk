# libFuzzer harnesses: every parser of untrusted input has one (DESIGN.md,
# style rule 11).  Built only by `configure CC=clang --enable-fuzzers`, which
# also instruments all the code they reach (see configure.ac); run by
# tests/fuzz/run, which scripts/test calls.
#
# A new harness is tests/fuzz/fuzz_<name>.c (defining LLVMFuzzerTestOneInput),
# seeds in tests/fuzz/corpus/<name>/, optionally tokens in
# tests/fuzz/fuzz_<name>.dict, and one stanza below: list it, say what it
# links, give it FUZZER_LINK (automake has no per-directory defaults).
FUZZER_LINK = $(AM_LDFLAGS) -fsanitize=fuzzer

if ENABLE_FUZZERS
noinst_PROGRAMS += tests/fuzz/fuzz_router
tests_fuzz_fuzz_router_LDADD = core/libwgmcore.la
tests_fuzz_fuzz_router_LDFLAGS = $(FUZZER_LINK)

noinst_PROGRAMS += tests/fuzz/fuzz_otp
tests_fuzz_fuzz_otp_LDADD = core/otp/libwgmotp.la
tests_fuzz_fuzz_otp_LDFLAGS = $(FUZZER_LINK)

noinst_PROGRAMS += tests/fuzz/fuzz_ws_frame
tests_fuzz_fuzz_ws_frame_LDADD = core/ws/libwgmws.la
tests_fuzz_fuzz_ws_frame_LDFLAGS = $(FUZZER_LINK)

noinst_PROGRAMS += tests/fuzz/fuzz_wg_uapi
tests_fuzz_fuzz_wg_uapi_LDADD = plugins/wireguard/libwguser.la plugins/wireguard/libwgdevice.la $(SODIUM_LIBS)
tests_fuzz_fuzz_wg_uapi_LDFLAGS = $(FUZZER_LINK)

noinst_PROGRAMS += tests/fuzz/fuzz_wg_netlink
tests_fuzz_fuzz_wg_netlink_LDADD = plugins/wireguard/libwgkernel.la plugins/wireguard/libwgdevice.la $(MNL_LIBS)
tests_fuzz_fuzz_wg_netlink_LDFLAGS = $(FUZZER_LINK)

noinst_PROGRAMS += tests/fuzz/fuzz_wg_endpoint
tests_fuzz_fuzz_wg_endpoint_SOURCES = tests/fuzz/fuzz_wg_endpoint.c plugins/wireguard/endpoint.c
tests_fuzz_fuzz_wg_endpoint_LDADD = plugins/wireguard/libwgdevice.la
tests_fuzz_fuzz_wg_endpoint_LDFLAGS = $(FUZZER_LINK)

noinst_PROGRAMS += tests/fuzz/fuzz_ipv6_prefix
tests_fuzz_fuzz_ipv6_prefix_LDADD = plugins/ipv6pool/libipv6core.la
tests_fuzz_fuzz_ipv6_prefix_LDFLAGS = $(FUZZER_LINK)

noinst_PROGRAMS += tests/fuzz/fuzz_birdctl
tests_fuzz_fuzz_birdctl_LDADD = plugins/bgp/libbirdcore.la
tests_fuzz_fuzz_birdctl_LDFLAGS = $(FUZZER_LINK)

noinst_PROGRAMS += tests/fuzz/fuzz_procfs
tests_fuzz_fuzz_procfs_LDADD = plugins/monitor/libmonprocfs.la
tests_fuzz_fuzz_procfs_LDFLAGS = $(FUZZER_LINK)

noinst_PROGRAMS += tests/fuzz/fuzz_netaddr
tests_fuzz_fuzz_netaddr_LDADD = core/cache/libwgmcache.la
tests_fuzz_fuzz_netaddr_LDFLAGS = $(FUZZER_LINK)
endif

# Shipped whether or not this build fuzzes.
EXTRA_DIST += tests/fuzz/run tests/fuzz/corpus \
	tests/fuzz/fuzz_router.c tests/fuzz/fuzz_router.dict \
	tests/fuzz/fuzz_otp.c tests/fuzz/fuzz_otp.dict \
	tests/fuzz/fuzz_ws_frame.c tests/fuzz/fuzz_procfs.c tests/fuzz/fuzz_wg_endpoint.c
