/* Python-exact float text.
 *
 * rp__pyfloat_repr writes what Python 3's repr(float) prints: the shortest
 * digit string that reads back to the same double (closest to the exact
 * value among those), `10.0` not `10`, exponent form outside
 * 1e-4 <= |x| < 1e16 (`1e-05`, `1.5e+16`), "-0.0", and "inf", "-inf", "nan"
 * for non-finite values.  `out` must hold RP_PYFLOAT_MAX bytes; the text is
 * NUL-terminated and its length returned.  No allocation, no locale. */
#ifndef RP_COMMON_PYFLOAT_H
#define RP_COMMON_PYFLOAT_H

#include <stddef.h>

#define RP_PYFLOAT_MAX 32

size_t rp__pyfloat_repr(double x, char *out);

#endif
