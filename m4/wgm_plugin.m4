# WGM_PLUGIN(NAME)
# Adds --disable-NAME (plugins are built by default) and the automake
# conditional ENABLE_<NAME> used by plugins/NAME/local.mk.
AC_DEFUN([WGM_PLUGIN], [
  AC_ARG_ENABLE([$1],
    [AS_HELP_STRING([--disable-$1], [do not build the $1 plugin])],
    [], [enable_$1=yes])
  AM_CONDITIONAL([ENABLE_]m4_toupper([$1]), [test "x$enable_$1" != xno])
  AS_IF([test "x$enable_$1" != xno], [WGM_ENABLED_PLUGINS="$WGM_ENABLED_PLUGINS $1"])
  AC_SUBST([WGM_ENABLED_PLUGINS])
])
