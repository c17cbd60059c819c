# WebSocket: the RFC 6455 codec (pure) and the hub behind GET /ws/connect.
# libwgmcore links libwgmws.la; the codec test needs nothing else.
noinst_LTLIBRARIES += core/ws/libwgmws.la
core_ws_libwgmws_la_SOURCES = \
	core/ws/frame.c core/ws/frame.h \
	core/ws/hub.c core/ws/hub.h \
	core/ws/revalidate.c core/ws/revalidate.h
core_ws_libwgmws_la_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS)

check_PROGRAMS += tests/unit/test_ws_frame
TESTS += tests/unit/test_ws_frame
tests_unit_test_ws_frame_LDADD = core/ws/libwgmws.la $(JANSSON_LIBS)

# The credential verdicts (pure) against the rest of the core.
check_PROGRAMS += tests/unit/test_ws_revalidate
TESTS += tests/unit/test_ws_revalidate
tests_unit_test_ws_revalidate_LDADD = core/libwgmcore.la

EXTRA_DIST += tests/fuzz/fuzz_ws_frame.c tests/fuzz/corpus/ws_frame
