# core/cache: key/value cache, in-process or Redis (hiredis), and the rate
# limits built on its token buckets; linked into the core.
noinst_LTLIBRARIES += core/cache/libwgmcache.la
core_cache_libwgmcache_la_SOURCES = \
	core/cache/cache.c core/cache/cache.h \
	core/cache/backend.h \
	core/cache/memory.c \
	core/cache/redis.c \
	core/cache/ratelimit.c core/cache/ratelimit.h
core_cache_libwgmcache_la_CFLAGS = $(AM_CFLAGS) $(HIREDIS_CFLAGS)
core_cache_libwgmcache_la_LIBADD = $(HIREDIS_LIBS) $(JANSSON_LIBS) -lm

check_PROGRAMS += tests/unit/test_cache
TESTS += tests/unit/test_cache
tests_unit_test_cache_SOURCES = tests/unit/test_cache.c tests/unit/tap.h
tests_unit_test_cache_LDADD = core/cache/libwgmcache.la

check_PROGRAMS += tests/unit/test_ratelimit
TESTS += tests/unit/test_ratelimit
tests_unit_test_ratelimit_SOURCES = tests/unit/test_ratelimit.c tests/unit/tap.h
tests_unit_test_ratelimit_LDADD = core/cache/libwgmcache.la $(JANSSON_LIBS)
