# plugins/monitor/procfs: the /proc and /sys readers (procfs.c) and the
# usage and rates derived from two of their snapshots (sample.c).  Pure C,
# no library: monitor.so links it, so do the test, the fuzzer and the bench.
noinst_LTLIBRARIES += plugins/monitor/libmonprocfs.la
plugins_monitor_libmonprocfs_la_SOURCES = \
	plugins/monitor/procfs.c plugins/monitor/procfs.h \
	plugins/monitor/sample.c plugins/monitor/sample.h
plugins_monitor_libmonprocfs_la_CFLAGS = $(AM_CFLAGS) -fPIC

# Snapshots of the fixture trees in tests/fixtures/procfs/ (found through
# WGM_TEST_SRCDIR, or the configured source directory when run by hand, as
# under valgrind), the parsers on strings, exact derived figures, and this
# machine's invariants.
check_PROGRAMS += tests/unit/test_monitor_procfs
TESTS += tests/unit/test_monitor_procfs
tests_unit_test_monitor_procfs_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/monitor \
	-DMON_TEST_SRCDIR='"$(abs_top_srcdir)"'
tests_unit_test_monitor_procfs_LDADD = plugins/monitor/libmonprocfs.la -lm
EXTRA_DIST += tests/fixtures/procfs/normal tests/fixtures/procfs/minimal \
	tests/fixtures/procfs/container tests/fixtures/procfs/garbage

# Snapshot + derive cycles on a fixture root and on this machine: a check
# program (built, warnings fatal, by `make check`; not in TESTS, it asserts
# nothing).  tests/bench/monitor/run builds it in the build tree and runs it.
check_PROGRAMS += tests/bench/monitor/sampler
tests_bench_monitor_sampler_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/monitor
tests_bench_monitor_sampler_LDADD = plugins/monitor/libmonprocfs.la
EXTRA_DIST += tests/bench/monitor/run
