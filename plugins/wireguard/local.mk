# plugins/wireguard: the WireGuard plugin and its two backends.  Each part
# below is kept by its own owner; add to your section only.

# --- device model ---
# The device/peer structs shared by both backends.  Its own convenience
# library, linked by each consumer next to the backend libraries, so that
# device.c is compiled (and its symbols defined) exactly once.
noinst_LTLIBRARIES += plugins/wireguard/libwgdevice.la
plugins_wireguard_libwgdevice_la_SOURCES = \
	plugins/wireguard/device.c plugins/wireguard/device.h
plugins_wireguard_libwgdevice_la_CFLAGS = $(AM_CFLAGS) -fPIC

# --- kernel backend (netlink) ---
# Generic netlink (WireGuard devices) and rtnetlink (links, addresses,
# routes) with libmnl.  Link with libwgdevice.la as well.
noinst_LTLIBRARIES += plugins/wireguard/libwgkernel.la
plugins_wireguard_libwgkernel_la_SOURCES = \
	plugins/wireguard/netlink.c plugins/wireguard/netlink.h \
	plugins/wireguard/rtnl.c plugins/wireguard/rtnl.h \
	plugins/wireguard/backend.h
plugins_wireguard_libwgkernel_la_CFLAGS = $(AM_CFLAGS) $(MNL_CFLAGS) -fPIC
plugins_wireguard_libwgkernel_la_LIBADD = $(MNL_LIBS)

# Pure encode/decode against recorded and constructed messages.
check_PROGRAMS += tests/unit/test_wg_netlink
TESTS += tests/unit/test_wg_netlink
tests_unit_test_wg_netlink_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/wireguard
tests_unit_test_wg_netlink_CFLAGS = $(AM_CFLAGS) $(MNL_CFLAGS)
tests_unit_test_wg_netlink_LDADD = plugins/wireguard/libwgkernel.la plugins/wireguard/libwgdevice.la $(MNL_LIBS)

# Live rtnetlink in a private network namespace (skips without root).
check_PROGRAMS += tests/unit/test_wg_rtnl
TESTS += tests/unit/test_wg_rtnl
tests_unit_test_wg_rtnl_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/wireguard
tests_unit_test_wg_rtnl_CFLAGS = $(AM_CFLAGS) $(MNL_CFLAGS)
tests_unit_test_wg_rtnl_LDADD = plugins/wireguard/libwgkernel.la plugins/wireguard/libwgdevice.la $(MNL_LIBS)

EXTRA_DIST += tests/fixtures/netlink tests/fuzz/fuzz_wg_netlink.c tests/fuzz/corpus/wg_netlink

# --- userspace backend (uapi) ---
# The UAPI text protocol (uapi.c: pure encode/parse, plus one socket
# connection per operation) and the implementation-process manager
# (userspace.c: wireguard-go per interface).  userspace.c calls rtnl.c, so
# link with libwgkernel.la and libwgdevice.la as well.
noinst_LTLIBRARIES += plugins/wireguard/libwguser.la
plugins_wireguard_libwguser_la_SOURCES = \
	plugins/wireguard/uapi.c plugins/wireguard/uapi.h \
	plugins/wireguard/userspace.c
plugins_wireguard_libwguser_la_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) -fPIC
plugins_wireguard_libwguser_la_LIBADD = $(SODIUM_LIBS)

# Pure encode/parse and the transport against a fake server thread.
check_PROGRAMS += tests/unit/test_wg_uapi
TESTS += tests/unit/test_wg_uapi
tests_unit_test_wg_uapi_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
tests_unit_test_wg_uapi_LDADD = plugins/wireguard/libwguser.la plugins/wireguard/libwgdevice.la $(SODIUM_LIBS)

# Live: wireguard-go in a private network namespace (skips without root,
# wireguard-go or /dev/net/tun).
check_PROGRAMS += tests/unit/test_wg_userspace
TESTS += tests/unit/test_wg_userspace
tests_unit_test_wg_userspace_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
tests_unit_test_wg_userspace_LDADD = plugins/wireguard/libwguser.la plugins/wireguard/libwgkernel.la \
	plugins/wireguard/libwgdevice.la $(SODIUM_LIBS) $(MNL_LIBS)

EXTRA_DIST += tests/fuzz/fuzz_wg_uapi.c tests/fuzz/fuzz_wg_uapi.dict tests/fuzz/corpus/wg_uapi

# --- plugin ---
# wireguard.so: the API, storage, reconciliation; links both backends.
if ENABLE_WIREGUARD
plugin_LTLIBRARIES += plugins/wireguard/wireguard.la
dist_wgmconfd_DATA += conf.d/50-wireguard.conf
endif
plugins_wireguard_wireguard_la_SOURCES = \
	plugins/wireguard/plugin.c plugins/wireguard/wireguard.h \
	plugins/wireguard/schema.c plugins/wireguard/store.c plugins/wireguard/store.h \
	plugins/wireguard/keys.c plugins/wireguard/keys.h \
	plugins/wireguard/subnet.c plugins/wireguard/subnet.h \
	plugins/wireguard/wgquick.c plugins/wireguard/wgquick.h \
	plugins/wireguard/reconcile.c plugins/wireguard/status.c plugins/wireguard/metrics.c \
	plugins/wireguard/counters.c plugins/wireguard/counters.h \
	plugins/wireguard/prefixes.c \
	plugins/wireguard/api_common.c plugins/wireguard/api_common.h \
	plugins/wireguard/api_servers.c plugins/wireguard/api_clients.c \
	plugins/wireguard/endpoint.c plugins/wireguard/endpoint.h \
	plugins/wireguard/linkstats.c plugins/wireguard/linkstats.h \
	plugins/wireguard/service.c
plugins_wireguard_wireguard_la_CFLAGS = $(MODULE_CFLAGS) $(SODIUM_CFLAGS) $(MNL_CFLAGS)
plugins_wireguard_wireguard_la_LDFLAGS = $(MODULE_LDFLAGS) -export-symbols-regex '^wgm_plugin_v1$$'
plugins_wireguard_wireguard_la_LIBADD = plugins/wireguard/libwguser.la plugins/wireguard/libwgkernel.la \
	plugins/wireguard/libwgdevice.la $(SODIUM_LIBS) $(MNL_LIBS) $(JANSSON_LIBS)
EXTRA_DIST += conf.d/50-wireguard.conf

# Endpoint validation, rendering and the host-address pick (pure).
check_PROGRAMS += tests/unit/test_wg_endpoint
TESTS += tests/unit/test_wg_endpoint
tests_unit_test_wg_endpoint_SOURCES = tests/unit/test_wg_endpoint.c \
	plugins/wireguard/endpoint.c plugins/wireguard/endpoint.h
tests_unit_test_wg_endpoint_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/wireguard

# Link counters as the API shows them: null when unreadable (live rtnetlink).
check_PROGRAMS += tests/unit/test_wg_linkstats
TESTS += tests/unit/test_wg_linkstats
tests_unit_test_wg_linkstats_SOURCES = tests/unit/test_wg_linkstats.c \
	plugins/wireguard/linkstats.c plugins/wireguard/linkstats.h
tests_unit_test_wg_linkstats_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/wireguard
tests_unit_test_wg_linkstats_CFLAGS = $(AM_CFLAGS) $(MNL_CFLAGS)
tests_unit_test_wg_linkstats_LDADD = plugins/wireguard/libwgkernel.la plugins/wireguard/libwgdevice.la \
	$(MNL_LIBS) $(JANSSON_LIBS)

# Strict CIDR parsing of allowed IPs and addresses (no white space or trailing bytes).
check_PROGRAMS += tests/unit/test_wg_parse
TESTS += tests/unit/test_wg_parse
tests_unit_test_wg_parse_SOURCES = tests/unit/test_wg_parse.c \
	plugins/wireguard/subnet.c plugins/wireguard/subnet.h
tests_unit_test_wg_parse_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/wireguard
tests_unit_test_wg_parse_LDADD = plugins/wireguard/libwgdevice.la
