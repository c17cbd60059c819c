# Test programs and fixtures live in tests/; each subsystem's local.mk adds its own.
EXTRA_DIST += tests/unit/tap.h
