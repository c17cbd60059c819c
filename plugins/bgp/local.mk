# plugins/bgp: BGP sessions through BIRD 2 (bgp.so comes with issue 6).

# --- core ---
# The pure core the plugin will be written on: the control-socket reply
# parser, client and output parsers (birdctl.c), and the generator and
# checker of the include file wgm owns (birdconf.c).  No library linked.
noinst_LTLIBRARIES += plugins/bgp/libbirdcore.la
plugins_bgp_libbirdcore_la_SOURCES = \
	plugins/bgp/birdctl.c plugins/bgp/birdctl.h \
	plugins/bgp/birdconf.c plugins/bgp/birdconf.h
plugins_bgp_libbirdcore_la_CFLAGS = $(AM_CFLAGS) -fPIC

# The reply parser and the output parsers on the replies captured in
# protocols.md 4.4-4.5.
check_PROGRAMS += tests/unit/test_birdctl
TESTS += tests/unit/test_birdctl
tests_unit_test_birdctl_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/bgp
tests_unit_test_birdctl_LDADD = plugins/bgp/libbirdcore.la

# The generated include file: exact text, injection refused, `bird -p -c` on
# it, and the client against a private bird running it (the live parts
# skipped without /usr/sbin/bird).
check_PROGRAMS += tests/unit/test_birdconf
TESTS += tests/unit/test_birdconf
tests_unit_test_birdconf_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/bgp
tests_unit_test_birdconf_LDADD = plugins/bgp/libbirdcore.la

EXTRA_DIST += tests/fuzz/fuzz_birdctl.c tests/fuzz/corpus/birdctl

# --- plugin ---
# bgp.so: /bgp/sessions, /bgp/routes and /bgp/announcements on the core
# above; with manage_daemon = yes it also runs a private bird.
if ENABLE_BGP
plugin_LTLIBRARIES += plugins/bgp/bgp.la
dist_wgmconfd_DATA += conf.d/70-bgp.conf
endif
plugins_bgp_bgp_la_SOURCES = \
	plugins/bgp/plugin.c plugins/bgp/schema.c plugins/bgp/apply.c \
	plugins/bgp/api_sessions.c plugins/bgp/api_routes.c plugins/bgp/api_announcements.c \
	plugins/bgp/follow.c plugins/bgp/status.c plugins/bgp/files.c
plugins_bgp_bgp_la_CFLAGS = $(MODULE_CFLAGS)
plugins_bgp_bgp_la_LDFLAGS = $(MODULE_LDFLAGS) -export-symbols-regex '^wgm_plugin_v1$$'
plugins_bgp_bgp_la_LIBADD = plugins/bgp/libbirdcore.la $(JANSSON_LIBS)
EXTRA_DIST += conf.d/70-bgp.conf
