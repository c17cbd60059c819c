# plugins/ipv6pool: IPv6 pools carved into delegated prefixes.

# --- core ---
# The pure core the plugin is written on: 128-bit prefix arithmetic
# (prefix.c) and the allocator (allocator.c: counter + free list with
# quarantine, through the host table's db_* and stmt_* only).  No database
# library is linked: the tests hand it a host table over SQLite.
noinst_LTLIBRARIES += plugins/ipv6pool/libipv6core.la
plugins_ipv6pool_libipv6core_la_SOURCES = \
	plugins/ipv6pool/prefix.c plugins/ipv6pool/prefix.h \
	plugins/ipv6pool/allocator.c plugins/ipv6pool/allocator.h
plugins_ipv6pool_libipv6core_la_CFLAGS = $(AM_CFLAGS) -fPIC

# Prefix arithmetic: edge cases, parse errors, exact counts.
check_PROGRAMS += tests/unit/test_ipv6_prefix
TESTS += tests/unit/test_ipv6_prefix
tests_unit_test_ipv6_prefix_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/ipv6pool
tests_unit_test_ipv6_prefix_LDADD = plugins/ipv6pool/libipv6core.la

# The allocator against real SQLite files (a minimal host table over sqlite3).
check_PROGRAMS += tests/unit/test_ipv6_alloc
TESTS += tests/unit/test_ipv6_alloc
tests_unit_test_ipv6_alloc_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/ipv6pool
tests_unit_test_ipv6_alloc_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
tests_unit_test_ipv6_alloc_LDADD = plugins/ipv6pool/libipv6core.la $(SQLITE_LIBS)

# The allocator-alone benchmark: a check program (compiled, warnings fatal,
# by `make check`; not in TESTS, it asserts nothing).  tests/bench/ipv6pool/run
# builds it in the build tree and runs it.
check_PROGRAMS += tests/bench/ipv6pool/alloc
tests_bench_ipv6pool_alloc_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/ipv6pool -I$(top_srcdir)/tests/unit
tests_bench_ipv6pool_alloc_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
tests_bench_ipv6pool_alloc_LDADD = plugins/ipv6pool/libipv6core.la $(SQLITE_LIBS)

EXTRA_DIST += tests/fuzz/fuzz_ipv6_prefix.c tests/fuzz/corpus/ipv6_prefix tests/bench/ipv6pool/run

# --- plugin ---
# ipv6pool.so: /ipv6/pools and /ipv6/allocations on the core above, the
# expiry and status timers, and the ipv6.allocation.* events.
if ENABLE_IPV6POOL
plugin_LTLIBRARIES += plugins/ipv6pool/ipv6pool.la
dist_wgmconfd_DATA += conf.d/60-ipv6pool.conf
endif
plugins_ipv6pool_ipv6pool_la_SOURCES = \
	plugins/ipv6pool/plugin.c plugins/ipv6pool/schema.c \
	plugins/ipv6pool/api_pools.c plugins/ipv6pool/api_allocations.c
plugins_ipv6pool_ipv6pool_la_CFLAGS = $(MODULE_CFLAGS)
plugins_ipv6pool_ipv6pool_la_LDFLAGS = $(MODULE_LDFLAGS) -export-symbols-regex '^wgm_plugin_v1$$'
plugins_ipv6pool_ipv6pool_la_LIBADD = plugins/ipv6pool/libipv6core.la $(JANSSON_LIBS)
EXTRA_DIST += conf.d/60-ipv6pool.conf
