#include "base64.h"

#include <stdint.h>
#include <string.h>

static const char enc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63 for the alphabet, 0xFE for '=', 0xFF for anything else: a value
 * with either of the top two bits set is not a data character. */
static const uint8_t dec[256] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3e, 0xff, 0xff, 0xff, 0x3f,
    0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff,
    0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
    0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

long rp__base64_decode(const char *in, size_t n, unsigned char *out, const char **why)
{
    const unsigned char *p = (const unsigned char *)in, *e = p + n;
    unsigned char *o = out;

    /* Fast path: runs of alphabet characters, two quads (six bytes) at a
     * time, then one quad.  Alphabet characters are ASCII, so the check for
     * non-ASCII input is only needed on the slow path. */
    while (e - p >= 8) {
        uint64_t a = dec[p[0]], b = dec[p[1]], c = dec[p[2]], d = dec[p[3]];
        uint64_t f = dec[p[4]], g = dec[p[5]], h = dec[p[6]], i = dec[p[7]];
        if ((a | b | c | d | f | g | h | i) & 0xC0)
            break;
        uint64_t v = a << 58 | b << 52 | c << 46 | d << 40 | f << 34 | g << 28 | h << 22 | i << 16;
        /* Six bytes, big-endian, written as eight: the output buffer
         * (RP_BASE64_DECODED_MAX) always has the two spare bytes here. */
        v = __builtin_bswap64(v);
        memcpy(o, &v, 8);
        o += 6;
        p += 8;
    }
    while (e - p >= 4) {
        uint32_t a = dec[p[0]], b = dec[p[1]], c = dec[p[2]], d = dec[p[3]];
        if ((a | b | c | d) & 0xC0)
            break;
        uint32_t v = a << 18 | b << 12 | c << 6 | d;
        o[0] = (unsigned char)(v >> 16);
        o[1] = (unsigned char)(v >> 8);
        o[2] = (unsigned char)v;
        o += 3;
        p += 4;
    }

    /* The rest, exactly as CPython's binascii.a2b_base64 (strict_mode=0). */
    int quad_pos = 0, pads = 0;
    unsigned leftchar = 0;
    for (; p < e; p++) {
        if (*p >= 0x80)
            goto non_ascii;
        uint8_t c = dec[*p];
        if (c == 0xFE) {
            if (quad_pos >= 2 && quad_pos + ++pads >= 4) {
                /* Python checks the whole string is ASCII before decoding. */
                for (p++; p < e; p++)
                    if (*p >= 0x80)
                        goto non_ascii;
                return (long)(o - out);
            }
            continue;
        }
        if (c == 0xFF)
            continue;
        pads = 0;
        switch (quad_pos) {
        case 0:
            quad_pos = 1;
            leftchar = c;
            break;
        case 1:
            quad_pos = 2;
            *o++ = (unsigned char)((leftchar << 2) | (c >> 4));
            leftchar = c & 0x0F;
            break;
        case 2:
            quad_pos = 3;
            *o++ = (unsigned char)((leftchar << 4) | (c >> 2));
            leftchar = c & 0x03;
            break;
        default:
            quad_pos = 0;
            *o++ = (unsigned char)((leftchar << 6) | c);
            leftchar = 0;
            break;
        }
    }
    if (quad_pos != 0) {
        if (why)
            *why = quad_pos == 1 ? "Invalid base64-encoded string: number of data characters "
                                   "cannot be 1 more than a multiple of 4"
                                 : "Incorrect padding";
        return -1;
    }
    return (long)(o - out);
non_ascii:
    if (why)
        *why = "string argument should contain only ASCII characters";
    return -1;
}

size_t rp__base64_encode(const unsigned char *in, size_t n, char *out)
{
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        o[0] = enc[v >> 18];
        o[1] = enc[(v >> 12) & 63];
        o[2] = enc[(v >> 6) & 63];
        o[3] = enc[v & 63];
        o += 4;
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        o[0] = enc[v >> 18];
        o[1] = enc[(v >> 12) & 63];
        o[2] = '=';
        o[3] = '=';
        o += 4;
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        o[0] = enc[v >> 18];
        o[1] = enc[(v >> 12) & 63];
        o[2] = enc[(v >> 6) & 63];
        o[3] = '=';
        o += 4;
    }
    return (size_t)(o - out);
}
