#include "base64.h"

#include <stdint.h>

static const char enc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value + 1 for the alphabet, 65 for '=', 0 for anything else. */
static const uint8_t dec1[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, 63,  0,  0,  0, 64,
    53, 54, 55, 56, 57, 58, 59, 60, 61, 62,  0,  0,  0, 65,  0,  0,
     0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15,
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,  0,  0,  0,  0,  0,
     0, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,
    42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
};

long rp_base64_decode(const char *in, size_t n, unsigned char *out, const char **why)
{
    const unsigned char *p = (const unsigned char *)in, *e = p + n;
    unsigned char *o = out;

    /* Fast path: whole quads of alphabet characters. */
    while (e - p >= 4) {
        uint8_t a = dec1[p[0]], b = dec1[p[1]], c = dec1[p[2]], d = dec1[p[3]];
        if ((uint8_t)(a - 1) >= 64 || (uint8_t)(b - 1) >= 64 || (uint8_t)(c - 1) >= 64 || (uint8_t)(d - 1) >= 64)
            break;
        a--, b--, c--, d--;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
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
        uint8_t c = dec1[*p];
        if (c == 65) {
            if (quad_pos >= 2 && quad_pos + ++pads >= 4)
                return (long)(o - out);
            continue;
        }
        if (c == 0)
            continue;
        c--;
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
}

size_t rp_base64_encode(const unsigned char *in, size_t n, char *out)
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
