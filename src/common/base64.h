/* Base64 as Python's base64.b64decode / b64encode do it.
 *
 * Decoding follows binascii.a2b_base64 in its default (non-strict) mode,
 * so that records decode exactly as in the reference: characters outside
 * the alphabet are skipped, decoding stops at a complete padding sequence,
 * and a dangling quad is an error ("Incorrect padding", or the "1 more than
 * a multiple of 4" message). */
#ifndef RP_COMMON_BASE64_H
#define RP_COMMON_BASE64_H

#include <stddef.h>

/* Bytes needed to decode n input characters. */
#define RP_BASE64_DECODED_MAX(n) (((n) / 4 + 1) * 3)
#define RP_BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/* Decodes in[0..n) into out (RP_BASE64_DECODED_MAX(n) bytes).  Returns the
 * decoded length, or -1 with *why set to a static message. */
long rp__base64_decode(const char *in, size_t n, unsigned char *out, const char **why);

/* Encodes with padding; out holds RP_BASE64_ENCODED_LEN(n) bytes.  Returns
 * the length written. */
size_t rp__base64_encode(const unsigned char *in, size_t n, char *out);

#endif
