/* Log lines (src/common/log.c): text lines keep valid UTF-8 readable and
 * escape control characters, encoded surrogates and bytes that are not
 * UTF-8, so that every line is one line of valid UTF-8; JSON lines stay
 * valid JSON for any bytes.  stderr is captured into a temporary file. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "ridepred/log.h"
#include "testing.h"

static char captured[1 << 16];
static size_t captured_len;

/* Runs rp_log(level, msg, k1, v1, k2, v2, NULL) with stderr sent to a file
 * and keeps what was written, without the timestamp and the level (text:
 * from after "ridepred LEVEL "; JSON: the whole line). */
static const char *logged(rp_log_format fmt, const char *msg, const char *k1, const char *v1, const char *k2,
                          const char *v2)
{
    char path[] = "/tmp/rp-test-log.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        exit(2);
    }
    unlink(path);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    rp_log_configure(RP_LOG_DEBUG, fmt);
    rp_log(RP_LOG_WARN, msg, k1, v1, k2, v2, NULL);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = pread(fd, captured, sizeof captured - 1, 0);
    close(fd);
    captured_len = n > 0 ? (size_t)n : 0;
    captured[captured_len] = '\0';
    if (fmt == RP_LOG_JSON)
        return captured;
    const char *p = strstr(captured, "ridepred WARN  ");
    return p ? p + strlen("ridepred WARN  ") : "(no text line)";
}

/* True when the captured output is one line of valid UTF-8 with no control
 * character but its final newline (and no C1 control, U+2028, U+2029). */
static bool one_clean_line(void)
{
    const unsigned char *p = (const unsigned char *)captured, *e = p + captured_len;
    if (captured_len == 0 || e[-1] != '\n')
        return false;
    e--;
    while (p < e) {
        if (*p < 0x80) {
            if (*p < 0x20 || *p == 0x7F)
                return false;
            p++;
            continue;
        }
        size_t k = rp__utf8_seq(p, e);
        if (!k || (k == 2 && p[0] == 0xC2 && p[1] < 0xA0) ||
            (k == 3 && p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)))
            return false;
        p += k;
    }
    return true;
}

/* The value of key in the captured JSON line, decoded, into out; false when
 * the line is not one valid JSON object or has no such string member. */
static bool json_member(const char *key, char *out, size_t cap, size_t *out_len)
{
    rp__json_reader r;
    rp__json_value v, k;
    bool found = false;
    rp__json_init(&r, captured, captured_len, 8);
    if (rp__json_next(&r, &v) != 1 || v.type != RP_JSON_OBJECT)
        return false;
    int rc;
    while ((rc = rp__json_member(&r, &k)) == 1) {
        if (rp__json_next(&r, &v) != 1)
            return false;
        if (v.type == RP_JSON_STRING && rp__json_str_eq(&k, key, strlen(key)) && v.len < cap) {
            *out_len = rp__json_str_decode(&v, out);
            found = true;
        }
    }
    return rc == 0 && rp__json_end(&r) == 1 && found;
}

TEST(text_values_bare_and_quoted)
{
    CHECK_STR(logged(RP_LOG_TEXT, "record failed", "sequence_number", "7", "reason", "not a number"),
              "record failed sequence_number=7 reason=\"not a number\"\n");
    CHECK(one_clean_line());
    /* valid UTF-8 stays readable, bare or quoted */
    CHECK_STR(logged(RP_LOG_TEXT, "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac", "k", "caf\xc3\xa9", "q",
                     "a \xf0\x9f\x9a\x95"),
              "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac k=caf\xc3\xa9 q=\"a \xf0\x9f\x9a\x95\"\n");
    CHECK(one_clean_line());
    /* empty, '=', '"' and '\\' are quoted; '"' and '\\' escaped inside */
    CHECK_STR(logged(RP_LOG_TEXT, "m", "e", "", "q", "a=\"b\"\\c"), "m e=\"\" q=\"a=\\\"b\\\"\\\\c\"\n");
    CHECK_STR(logged(RP_LOG_TEXT, "m", "n", NULL, "b", "x\\y"), "m n=\"\" b=\"x\\\\y\"\n");
}

TEST(text_escapes_controls_and_bad_bytes)
{
    /* a lone surrogate (what "\ud800" in a JSON sequence number decodes to) */
    CHECK_STR(logged(RP_LOG_TEXT, "record failed", "sequence_number", "49\xed\xa0\x80", NULL, NULL),
              "record failed sequence_number=\"49\\ud800\"\n");
    CHECK(one_clean_line());
    CHECK_STR(logged(RP_LOG_TEXT, "m", "low", "\xed\xbf\xbf", NULL, NULL), "m low=\"\\udfff\"\n");
    CHECK(one_clean_line());
    /* bytes that are not UTF-8: stray continuation, truncated, overlong, past U+10FFFF */
    CHECK_STR(logged(RP_LOG_TEXT, "m", "v",
                     "\xff\x80"
                     "a\xc3"
                     "b\xc0\xaf\xf4\x90\x80\x80",
                     NULL, NULL),
              "m v=\"\\xff\\x80a\\xc3b\\xc0\\xaf\\xf4\\x90\\x80\\x80\"\n");
    CHECK(one_clean_line());
    /* C0 controls, DEL, C1 controls, line and paragraph separators */
    CHECK_STR(logged(RP_LOG_TEXT, "m", "v",
                     "a\nb\rc\td\x01"
                     "e\x1b[31mf\x7fg\xc2\x85h\xe2\x80\xa8i\xe2\x80\xa9",
                     NULL, NULL),
              "m v=\"a\\nb\\rc\\td\\x01e\\x1b[31mf\\x7fg\\u0085h\\u2028i\\u2029\"\n");
    CHECK(one_clean_line());
    /* the message and the keys too (not quoted: '"' and '\\' stay as they are) */
    CHECK_STR(logged(RP_LOG_TEXT, "bad \"x\"\\\nforged line\xff", "k\n", "v", NULL, NULL),
              "bad \"x\"\\\\nforged line\\xff k\\n=v\n");
    CHECK(one_clean_line());
    /* U+00A0 (not a control) stays; U+0080..U+009F do not */
    CHECK_STR(logged(RP_LOG_TEXT, "m", "v", "\xc2\xa0\xc2\x80\xc2\x9f", NULL, NULL),
              "m v=\"\xc2\xa0\\u0080\\u009f\"\n");
    CHECK(one_clean_line());
}

TEST(text_request_id)
{
    rp_log_set_request_id("r-1");
    CHECK_STR(logged(RP_LOG_TEXT, "m", NULL, NULL, NULL, NULL), "m requestId=r-1\n");
    rp_log_set_request_id("a b\xff\n");
    CHECK_STR(logged(RP_LOG_TEXT, "m", NULL, NULL, NULL, NULL), "m requestId=\"a b\\xff\\n\"\n");
    CHECK(one_clean_line());
    rp_log_set_request_id(NULL);
}

TEST(json_lines_stay_json)
{
    static const char *const values[] = {
        "7", "49\xed\xa0\x80", "\xff\x80\x61\xc3", "a\nb\"c\\d\x01\x7f", "caf\xc3\xa9 \xf0\x9f\x9a\x95",
        "",  "\xc2\x85",
    };
    char got[256];
    size_t n;
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        logged(RP_LOG_JSON, "record failed \xff", "sequence_number", values[i], NULL, NULL);
        CHECK(json_member("sequence_number", got, sizeof got, &n));
        /* ASCII only, one line */
        bool ascii = captured_len > 0 && captured[captured_len - 1] == '\n';
        for (size_t j = 0; j + 1 < captured_len; j++)
            if ((unsigned char)captured[j] < 0x20 || (unsigned char)captured[j] >= 0x7F)
                ascii = false;
        CHECK(ascii);
    }
    /* valid UTF-8 and lone surrogates read back as they were */
    logged(RP_LOG_JSON, "m", "v", "49\xed\xa0\x80", NULL, NULL);
    CHECK(json_member("v", got, sizeof got, &n) && n == 5 && memcmp(got, "49\xed\xa0\x80", 5) == 0);
    logged(RP_LOG_JSON, "m", "v", "a\nb\"c\\d", NULL, NULL);
    CHECK(json_member("v", got, sizeof got, &n) && n == 7 && memcmp(got, "a\nb\"c\\d", 7) == 0);
}

/* Random bytes anywhere: a text line is always one clean line, a JSON line
 * always valid JSON. */
TEST(random_bytes)
{
    uint64_t x = 0x9E3779B97F4A7C15u;
    char msg[64], key[16], val[96], got[512];
    size_t n;
    int rounds = 0, bad_text = 0, bad_json = 0;
    for (; rounds < 3000; rounds++) {
        char *bufs[3] = {msg, key, val};
        size_t caps[3] = {sizeof msg, sizeof key, sizeof val};
        for (int b = 0; b < 3; b++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t len = (size_t)(x % (caps[b] - 1));
            for (size_t i = 0; i < len; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                unsigned char c = (unsigned char)(x >> 24);
                /* mostly interesting bytes: controls, lead and continuation bytes */
                bufs[b][i] = (char)(c == 0 ? 'a' : (x & 1) ? c : (unsigned char)(0x80 | (c & 0x7F)));
            }
            bufs[b][len] = '\0';
        }
        logged(RP_LOG_TEXT, msg, key[0] ? key : "k", val, NULL, NULL);
        bad_text += !one_clean_line();
        logged(RP_LOG_JSON, msg, "v", val, NULL, NULL);
        bad_json += !json_member("v", got, sizeof got, &n);
    }
    CHECK(rounds == 3000 && bad_text == 0);
    CHECK(bad_json == 0);
}

int main(void)
{
    RUN(text_values_bare_and_quoted);
    RUN(text_escapes_controls_and_bad_bytes);
    RUN(text_request_id);
    RUN(json_lines_stay_json);
    RUN(random_bytes);
    rp_log_configure(RP_LOG_INFO, RP_LOG_TEXT);
    fprintf(stderr, "%d passed, %d failed\n", rp_t_checks - rp_t_failed, rp_t_failed);
    return rp_t_failed ? 1 : 0;
}
