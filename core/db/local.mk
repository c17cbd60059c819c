# core/db: the pool, statements, migrations and JSON rows (libwgmdb), and one
# libtool module per database driver, so wgmd maps libmariadb only when a
# mysql:// URL is configured.
noinst_LTLIBRARIES += core/db/libwgmdb.la
core_db_libwgmdb_la_SOURCES = \
	core/db/db.h core/db/driver.h core/db/internal.h \
	core/db/error.c \
	core/db/loader.c \
	core/db/pool.c \
	core/db/stmt.c \
	core/db/rows_json.c \
	core/db/migrate.c
core_db_libwgmdb_la_CFLAGS = $(AM_CFLAGS)
core_db_libwgmdb_la_LIBADD = $(JANSSON_LIBS) $(LIBS)

# Driver modules: wgm_db_driver_v1 is their one exported symbol, and they
# need nothing from wgmd.
driver_LTLIBRARIES += core/db/db_sqlite.la core/db/db_mysql.la
core_db_db_sqlite_la_SOURCES = core/db/sqlite.c core/db/driver.h
core_db_db_sqlite_la_CFLAGS = $(MODULE_CFLAGS) $(SQLITE_CFLAGS)
core_db_db_sqlite_la_LDFLAGS = $(AM_LDFLAGS) $(MODULE_LDFLAGS) \
	-export-symbols-regex '^wgm_db_driver_v1$$'
core_db_db_sqlite_la_LIBADD = $(SQLITE_LIBS)

core_db_db_mysql_la_SOURCES = core/db/mysql.c core/db/driver.h
core_db_db_mysql_la_CFLAGS = $(MODULE_CFLAGS) $(MARIADB_CFLAGS)
core_db_db_mysql_la_LDFLAGS = $(AM_LDFLAGS) $(MODULE_LDFLAGS) \
	-export-symbols-regex '^wgm_db_driver_v1$$'
core_db_db_mysql_la_LIBADD = $(MARIADB_LIBS)

# One suite, run on SQLite and (with WGM_TEST_MYSQL_URL) on MariaDB.  It
# needs only libwgmdb and the driver modules.
check_PROGRAMS += tests/unit/test_db
TESTS += tests/unit/test_db
tests_unit_test_db_SOURCES = tests/unit/test_db.c tests/unit/tap.h
tests_unit_test_db_CFLAGS = $(AM_CFLAGS)
tests_unit_test_db_LDADD = core/db/libwgmdb.la $(JANSSON_LIBS)
# make check runs the suite against freshly built modules.
EXTRA_tests_unit_test_db_DEPENDENCIES = core/db/db_sqlite.la core/db/db_mysql.la
