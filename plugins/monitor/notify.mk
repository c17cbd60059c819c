# plugins/monitor/notify: webhook and mail delivery for monitor.so (libcurl).
# Only with the plugin enabled: configure looks for libcurl (CURL_*) then.
if ENABLE_MONITOR
noinst_LTLIBRARIES += plugins/monitor/libmonnotify.la
plugins_monitor_libmonnotify_la_SOURCES = plugins/monitor/notify.c plugins/monitor/notify.h
plugins_monitor_libmonnotify_la_CFLAGS = $(AM_CFLAGS) -fPIC $(CURL_CFLAGS) $(SODIUM_CFLAGS)
plugins_monitor_libmonnotify_la_LIBADD = $(CURL_LIBS) $(SODIUM_LIBS)

# Against HTTP and SMTP servers of its own on 127.0.0.1: bodies, headers,
# signatures, the retry policy, timeouts, queue limits and shutdown.
check_PROGRAMS += tests/unit/test_monitor_notify
TESTS += tests/unit/test_monitor_notify
tests_unit_test_monitor_notify_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/monitor
tests_unit_test_monitor_notify_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
tests_unit_test_monitor_notify_LDADD = plugins/monitor/libmonnotify.la $(SODIUM_LIBS)
endif
