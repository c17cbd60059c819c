# plugins/monitor: metrics, history, alert rules, notifications, /metrics.

# --- pure core (no host): /proc and /sys readers, notification channels ---
include plugins/monitor/procfs.mk
include plugins/monitor/notify.mk

# The metric catalogue, the rollup buckets and ring, and the alert rule
# state machine: pure, unit-tested without a daemon.
noinst_LTLIBRARIES += plugins/monitor/libmoncore.la
plugins_monitor_libmoncore_la_SOURCES = \
	plugins/monitor/catalog.c plugins/monitor/catalog.h \
	plugins/monitor/rollup.c plugins/monitor/rollup.h \
	plugins/monitor/rule_eval.c plugins/monitor/rule_eval.h
plugins_monitor_libmoncore_la_CFLAGS = $(AM_CFLAGS) -fPIC

check_PROGRAMS += tests/unit/test_monitor_core
TESTS += tests/unit/test_monitor_core
tests_unit_test_monitor_core_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/monitor
tests_unit_test_monitor_core_LDADD = plugins/monitor/libmoncore.la

# alerts.c itself against a fake host table: every rule row is loaded and
# evaluated on its own, and a reload keeps the state of the rules that stay.
check_PROGRAMS += tests/unit/test_monitor_alerts
TESTS += tests/unit/test_monitor_alerts
tests_unit_test_monitor_alerts_SOURCES = tests/unit/test_monitor_alerts.c \
	plugins/monitor/alerts.c plugins/monitor/appname.c
tests_unit_test_monitor_alerts_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/monitor
tests_unit_test_monitor_alerts_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_monitor_alerts_LDADD = plugins/monitor/libmoncore.la $(JANSSON_LIBS) -lm -lpthread

# --- plugin ---
if ENABLE_MONITOR
plugin_LTLIBRARIES += plugins/monitor/monitor.la
dist_wgmconfd_DATA += conf.d/80-monitor.conf
endif
plugins_monitor_monitor_la_SOURCES = \
	plugins/monitor/monitor.h plugins/monitor/plugin.c plugins/monitor/collector.c \
	plugins/monitor/store.c plugins/monitor/alerts.c plugins/monitor/channels.c \
	plugins/monitor/services.c plugins/monitor/appname.c plugins/monitor/api_metrics.c plugins/monitor/api_dashboard.c \
	plugins/monitor/api_alerts.c plugins/monitor/prometheus.c
plugins_monitor_monitor_la_CFLAGS = $(MODULE_CFLAGS)
plugins_monitor_monitor_la_LDFLAGS = $(MODULE_LDFLAGS) -export-symbols-regex '^wgm_plugin_v1$$'
plugins_monitor_monitor_la_LIBADD = plugins/monitor/libmoncore.la plugins/monitor/libmonprocfs.la \
	plugins/monitor/libmonnotify.la $(JANSSON_LIBS) -lm
EXTRA_DIST += conf.d/80-monitor.conf
