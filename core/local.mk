# wgmd: main.c on top of libwgmcore (everything else, so unit tests link it).
noinst_LTLIBRARIES += core/libwgmcore.la
core_libwgmcore_la_SOURCES = \
	core/log.c core/log.h \
	core/util.c core/util.h \
	core/conf.c core/conf.h core/conf_schema.c \
	core/secret.c core/secret.h \
	core/events.c core/events.h \
	core/scheduler.c core/scheduler.h \
	core/metrics.c core/metrics_core.c core/metrics.h \
	core/http/router.c core/http/router.h \
	core/http/server.c core/http/server.h \
	core/http/response.c core/http/request.h \
	core/plugin/loader.c core/plugin/loader.h \
	core/plugin/host.c core/plugin/host_table.h \
	core/plugin/services.c core/plugin/services.h \
	core/daemon.c core/daemon.h \
	core/api_core.c core/api.h \
	core/validate.h \
	core/sysconfig.c core/sysconfig.h \
	core/api_users.c core/api_system.c \
	core/auth/principal.c core/auth/principal.h core/auth/netaddr.h \
	core/auth/password.c core/auth/password.h \
	core/auth/jwt.c core/auth/jwt.h \
	core/auth/schema.c core/auth/schema.h \
	core/auth/users.c core/auth/users.h \
	core/auth/auth.c core/auth/auth.h \
	core/auth/session.c core/auth/guard.c \
	core/auth/apikeys.c core/auth/api_auth.c
core_libwgmcore_la_CPPFLAGS = $(AM_CPPFLAGS) -include $(top_builddir)/config.h \
	-DWGM_SYSCONFDIR='"$(wgmconfdir)"' -DWGM_PLUGINDIR='"$(plugindir)"' \
	-DWGM_DRIVERDIR='"$(driverdir)"' -DWGM_LOCALSTATEDIR='"$(localstatedir)/lib/wgm"'
core_libwgmcore_la_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(SODIUM_CFLAGS) $(INIH_CFLAGS) $(JWT_CFLAGS)
core_libwgmcore_la_LIBADD = core/db/libwgmdb.la core/cache/libwgmcache.la \
	core/logs/libwgmlogs.la core/otp/libwgmotp.la core/ws/libwgmws.la \
	$(MHD_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS) $(INIH_LIBS) $(JWT_LIBS) $(LIBS)

sbin_PROGRAMS += wgmd
wgmd_SOURCES = core/main.c
wgmd_CPPFLAGS = $(core_libwgmcore_la_CPPFLAGS)
wgmd_LDADD = core/libwgmcore.la
