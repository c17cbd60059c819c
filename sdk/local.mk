wgmincludedir = $(includedir)/wgm
wgminclude_HEADERS = \
	sdk/include/wgm/wgm.h sdk/include/wgm/plugin.h \
	sdk/include/wgm/host.h sdk/include/wgm/db.h sdk/include/wgm/input.h
nodist_wgminclude_HEADERS = sdk/include/wgm/abi.h
pkgconfig_DATA = sdk/wgm-plugin.pc
EXTRA_DIST += sdk/example sdk/include/wgm/abi.h.in
