# core/otp: TOTP (liboath) and QR code PNGs (libqrencode + libpng) for
# two-factor enrolment and login.  Linked into wgmd by core/local.mk.
noinst_LTLIBRARIES += core/otp/libwgmotp.la
core_otp_libwgmotp_la_SOURCES = \
	core/otp/totp.c core/otp/totp.h \
	core/otp/qr.c core/otp/qr.h
core_otp_libwgmotp_la_CFLAGS = $(AM_CFLAGS) $(OATH_CFLAGS) $(QRENCODE_CFLAGS) $(PNG_CFLAGS) $(SODIUM_CFLAGS)
core_otp_libwgmotp_la_LIBADD = $(OATH_LIBS) $(QRENCODE_LIBS) $(PNG_LIBS) $(SODIUM_LIBS)

check_PROGRAMS += tests/unit/test_otp
TESTS += tests/unit/test_otp
# The test reads the PNGs back with libpng and the data URI with libsodium.
tests_unit_test_otp_CFLAGS = $(AM_CFLAGS) $(PNG_CFLAGS) $(SODIUM_CFLAGS)
tests_unit_test_otp_LDADD = core/otp/libwgmotp.la $(PNG_LIBS) $(SODIUM_LIBS)
