# Test programs and fixtures live in tests/; each subsystem's local.mk adds its own.
EXTRA_DIST += tests/unit/tap.h tests/unit/sqlite_host.h tests/fixtures/fixture.h

# Plugins the loader must accept or refuse (tests/fixtures/.libs/*.so).
FIXTURE_LDFLAGS = -module -avoid-version -shared -rpath $(abs_builddir)/tests/fixtures
FIXTURE_CFLAGS = $(MODULE_CFLAGS)
check_LTLIBRARIES += tests/fixtures/slow.la
tests_fixtures_slow_la_SOURCES = tests/fixtures/slow.c
tests_fixtures_slow_la_CFLAGS = $(FIXTURE_CFLAGS)
tests_fixtures_slow_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/good.la
tests_fixtures_good_la_SOURCES = tests/fixtures/good.c
tests_fixtures_good_la_CFLAGS = $(FIXTURE_CFLAGS)
tests_fixtures_good_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/no_symbol.la
tests_fixtures_no_symbol_la_SOURCES = tests/fixtures/no_symbol.c
tests_fixtures_no_symbol_la_CFLAGS = $(FIXTURE_CFLAGS)
tests_fixtures_no_symbol_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/bad_magic.la
tests_fixtures_bad_magic_la_SOURCES = tests/fixtures/bad_magic.c
tests_fixtures_bad_magic_la_CFLAGS = $(FIXTURE_CFLAGS)
tests_fixtures_bad_magic_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/other_major.la
tests_fixtures_other_major_la_SOURCES = tests/fixtures/other_major.c
tests_fixtures_other_major_la_CFLAGS = $(FIXTURE_CFLAGS)
tests_fixtures_other_major_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/newer_minor.la
tests_fixtures_newer_minor_la_SOURCES = tests/fixtures/newer_minor.c
tests_fixtures_newer_minor_la_CFLAGS = $(FIXTURE_CFLAGS)
tests_fixtures_newer_minor_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/wrong_signature.la
tests_fixtures_wrong_signature_la_SOURCES = tests/fixtures/wrong_signature.c
tests_fixtures_wrong_signature_la_CFLAGS = $(FIXTURE_CFLAGS)
tests_fixtures_wrong_signature_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/init_fails.la
tests_fixtures_init_fails_la_SOURCES = tests/fixtures/init_fails.c
tests_fixtures_init_fails_la_CFLAGS = $(FIXTURE_CFLAGS)
tests_fixtures_init_fails_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/service.la
tests_fixtures_service_la_SOURCES = tests/fixtures/service.c
tests_fixtures_service_la_CFLAGS = $(FIXTURE_CFLAGS)
tests_fixtures_service_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/missing_requirement.la
tests_fixtures_missing_requirement_la_SOURCES = tests/fixtures/missing_requirement.c
tests_fixtures_missing_requirement_la_CFLAGS = $(FIXTURE_CFLAGS)
tests_fixtures_missing_requirement_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/needs_failed.la
tests_fixtures_needs_failed_la_SOURCES = tests/fixtures/needs_failed.c
tests_fixtures_needs_failed_la_CFLAGS = $(FIXTURE_CFLAGS)
tests_fixtures_needs_failed_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/a_needs_good.la
tests_fixtures_a_needs_good_la_SOURCES = tests/fixtures/a_needs_good.c
tests_fixtures_a_needs_good_la_CFLAGS = $(FIXTURE_CFLAGS)
tests_fixtures_a_needs_good_la_LDFLAGS = $(FIXTURE_LDFLAGS)

# C unit tests of the core (TAP).
CORE_TEST_LDADD = core/libwgmcore.la
check_PROGRAMS += tests/unit/test_router tests/unit/test_conf tests/unit/test_runtime \
	tests/unit/test_secret tests/unit/test_loader tests/unit/test_auth tests/unit/test_metrics
TESTS += tests/unit/test_router tests/unit/test_conf tests/unit/test_runtime \
	tests/unit/test_secret tests/unit/test_loader tests/unit/test_auth tests/unit/test_metrics
tests_unit_test_metrics_LDADD = $(CORE_TEST_LDADD) -lm
tests_unit_test_router_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_conf_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_runtime_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_secret_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_loader_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_secret_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
tests_unit_test_loader_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS)
tests_unit_test_auth_LDADD = $(CORE_TEST_LDADD)
tests_unit_test_auth_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(JWT_CFLAGS)

