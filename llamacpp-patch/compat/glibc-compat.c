/*
 * Lets the CUDA backend built on a GPU machine's newer distribution load where older glibc is (Debian 12: 2.36,
 * Ubuntu 22.04: 2.35): the natives jar pairs it with CPU libraries built on Debian 12 (build-native.sh,
 * DELTAKV_CUDA_BACKEND).
 *
 * glibc 2.38 redirects strtol, sscanf and their family to new __isoc23_* symbols (C23 "0b" binary prefixes) in
 * code compiled with _GNU_SOURCE, as all C++ is, and in its own static libstdc++ objects. Defined here, hidden,
 * the library's references bind to these at link time and need no symbol of glibc 2.38 at run time.
 * Nothing in llama.cpp parses "0b" numbers.
 */
#include <features.h>
/* this file's own calls go to the old entry points, whichever C standard the compiler defaults to */
#undef __GLIBC_USE_C2X_STRTOL
#define __GLIBC_USE_C2X_STRTOL 0
#undef __GLIBC_USE_C23_STRTOL
#define __GLIBC_USE_C23_STRTOL 0

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define HIDDEN __attribute__((visibility("hidden")))

HIDDEN long __isoc23_strtol(const char * s, char ** end, int base) { return strtol(s, end, base); }
HIDDEN unsigned long __isoc23_strtoul(const char * s, char ** end, int base) { return strtoul(s, end, base); }
HIDDEN long long __isoc23_strtoll(const char * s, char ** end, int base) { return strtoll(s, end, base); }
HIDDEN unsigned long long __isoc23_strtoull(const char * s, char ** end, int base) { return strtoull(s, end, base); }
HIDDEN intmax_t __isoc23_strtoimax(const char * s, char ** end, int base) { return strtoimax(s, end, base); }
HIDDEN uintmax_t __isoc23_strtoumax(const char * s, char ** end, int base) { return strtoumax(s, end, base); }

HIDDEN int __isoc23_vsscanf(const char * s, const char * format, va_list args) { return vsscanf(s, format, args); }
HIDDEN int __isoc23_vfscanf(FILE * f, const char * format, va_list args) { return vfscanf(f, format, args); }

HIDDEN int __isoc23_sscanf(const char * s, const char * format, ...) {
    va_list args;
    va_start(args, format);
    int n = vsscanf(s, format, args);
    va_end(args);
    return n;
}

HIDDEN int __isoc23_fscanf(FILE * f, const char * format, ...) {
    va_list args;
    va_start(args, format);
    int n = vfscanf(f, format, args);
    va_end(args);
    return n;
}
