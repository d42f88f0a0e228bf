/* pyfloat_cli: a test driver for rp__pyfloat_repr.  Reads one IEEE-754 double
 * per line on stdin as 16 hexadecimal digits (its bit pattern, as Python's
 * struct.pack('>d', x).hex() gives it) and writes rp__pyfloat_repr of it on
 * its own line of stdout.  Both directions are buffered in large blocks, so
 * millions of values take well under a second.  Exits 2 on a malformed line. */
#include "common/pyfloat.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define OUT_BLOCK (1 << 16)

static int hex_value(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int main(void)
{
    static char in_buf[1 << 16], out_buf[OUT_BLOCK + RP_PYFLOAT_MAX + 1];
    static char line[64];
    size_t out_len = 0;
    unsigned long line_no = 0;

    setvbuf(stdin, in_buf, _IOFBF, sizeof in_buf);
    while (fgets(line, sizeof line, stdin)) {
        line_no++;
        size_t len = strcspn(line, "\r\n");
        if (len == 0)
            continue;
        uint64_t bits = 0;
        int ok = len == 16;
        for (size_t i = 0; ok && i < len; i++) {
            int v = hex_value((unsigned char)line[i]);
            ok = v >= 0;
            bits = bits << 4 | (uint64_t)(v & 15);
        }
        if (!ok) {
            fprintf(stderr, "pyfloat_cli: line %lu: expected 16 hex digits\n", line_no);
            return 2;
        }
        double x;
        memcpy(&x, &bits, sizeof x);
        out_len += rp__pyfloat_repr(x, out_buf + out_len);
        out_buf[out_len++] = '\n';
        if (out_len >= OUT_BLOCK) {
            fwrite(out_buf, 1, out_len, stdout);
            out_len = 0;
        }
    }
    fwrite(out_buf, 1, out_len, stdout);
    return fflush(stdout) == 0 && !ferror(stdin) ? 0 : 1;
}
