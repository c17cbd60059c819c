# core/logs: the log store (sink of core/log + structured records, batched
# writer), the audit trail, GET /logs, exports and retention.  Linked into
# libwgmcore (core/local.mk).
noinst_LTLIBRARIES += core/logs/libwgmlogs.la
core_logs_libwgmlogs_la_SOURCES = \
	core/logs/queue.c core/logs/queue.h \
	core/logs/store.c core/logs/store.h \
	core/logs/query.c core/logs/query.h \
	core/logs/export.c core/logs/export.h \
	core/logs/retention.c core/logs/retention.h \
	core/logs/audit.c core/logs/audit.h \
	core/logs/access.c core/logs/access.h \
	core/logs/api.c core/logs/api.h
core_logs_libwgmlogs_la_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(SODIUM_CFLAGS)

# Queue, filters, CSV/TXT/JSON writers, export names, and the store itself
# on a temporary SQLite database (drivers from WGM_TEST_DRIVER_DIR), and on
# MariaDB too when WGM_TEST_MYSQL_URL is set.  libwgmcore carries libwgmlogs.
check_PROGRAMS += tests/unit/test_logs
TESTS += tests/unit/test_logs
tests_unit_test_logs_SOURCES = tests/unit/test_logs.c tests/unit/tap.h
tests_unit_test_logs_LDADD = core/libwgmcore.la
EXTRA_tests_unit_test_logs_DEPENDENCIES = core/db/db_sqlite.la
