/* The Runtime API client (src/lambda/rapi.c): its answer parser on good
 * and broken input (fed whole and byte by byte, which must agree), a
 * fuzz-style run over mutated answers, and the connection against a
 * scripted server thread on loopback: keep-alive, Connection: close,
 * a kept connection closed by the server, refused connections and retries,
 * timeouts, oversized bodies, pipelined bytes, the request bytes sent. */
#define _GNU_SOURCE 1 /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lambda/rapi.h"
#include "ridepred/log.h"
#include "testing.h"

static rp__rapi *client(const char *addr)
{
    rp__rapi *c;
    rp_error err;
    if (rp__rapi_new(addr, NULL, &c, &err) < 0) {
        fprintf(stderr, "rp__rapi_new(%s): %s\n", addr, err.msg);
        exit(1);
    }
    return c;
}

static bool str_is(rp__rapi_str s, const char *want)
{
    return s.p && s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

/* Parses `raw` whole, then in pieces of 1, 2, 3, 7 and 64 bytes: every way
 * must give the same result.  Returns the whole parse's rc, with *out (and
 * *err) from it (views into c). */
static int parse_all_ways(rp__rapi *c, const char *raw, size_t len, size_t body_max, rp__rapi_response *out,
                          rp_error *err)
{
    static const size_t pieces[] = {1, 2, 3, 7, 64};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        rp__rapi_response r;
        rp_error e;
        int rc = rp__rapi_parse(c, raw, len, pieces[i], body_max, &r, &e);
        rp__rapi_response w;
        rp_error we;
        int wrc = rp__rapi_parse(c, raw, len, 0, body_max, &w, &we);
        (void)r;
        if (rc != wrc) {
            fprintf(stderr, "pieces of %zu: rc %d, whole: rc %d (%s / %s)\n", pieces[i], rc, wrc,
                    rc < 0 ? e.msg : "", wrc < 0 ? we.msg : "");
            CHECK(rc == wrc);
        } else if (rc < 0 && (e.code != we.code || e.retriable != we.retriable)) {
            fprintf(stderr, "pieces of %zu: %s / whole: %s\n", pieces[i], e.msg, we.msg);
            CHECK(e.code == we.code && e.retriable == we.retriable);
        }
    }
    /* Compare bodies: parse in pieces of 1 into a second client. */
    rp__rapi *c2 = client("127.0.0.1:9");
    rp__rapi_response r1;
    rp_error e1;
    int rc1 = rp__rapi_parse(c2, raw, len, 1, body_max, &r1, &e1);
    int rc = rp__rapi_parse(c, raw, len, 0, body_max, out, err);
    if (rc == 0 && rc1 == 0) {
        CHECK(r1.status == out->status && r1.body_len == out->body_len &&
              r1.body_toobig == out->body_toobig && memcmp(r1.body, out->body, out->body_len) == 0);
        CHECK(out->body[out->body_len] == '\0');
    }
    rp__rapi_free(c2);
    return rc;
}

/* ---- the parser ----------------------------------------------------------------------- */

TEST(parses_a_next_answer)
{
    rp__rapi *c = client("127.0.0.1:9001");
    const char raw[] =
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: application/json\r\n"
        "lambda-runtime-aws-request-id:   8476a536-e9f4-11e8-9739-2dfe598c3fcd  \r\n"
        "Lambda-Runtime-Deadline-Ms: 1542409706888\r\n"
        "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-2:123456789012:function:f\r\n"
        "Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419\r\n"
        "Lambda-Runtime-Client-Context: {\"x\": 1}\r\n"
        "Lambda-Runtime-Cognito-Identity: {}\r\n"
        "Content-Length: 13\r\n"
        "\r\n"
        "{\"ride\": 123}";
    rp__rapi_response r;
    rp_error err;
    CHECK(parse_all_ways(c, raw, sizeof raw - 1, 100, &r, &err) == 0);
    CHECK(r.status == 200 && !r.body_toobig);
    CHECK_MEM(r.body, r.body_len, "{\"ride\": 123}");
    CHECK(str_is(r.request_id, "8476a536-e9f4-11e8-9739-2dfe598c3fcd"));
    CHECK(str_is(r.deadline_ms, "1542409706888"));
    CHECK(str_is(r.function_arn, "arn:aws:lambda:us-east-2:123456789012:function:f"));
    CHECK(str_is(r.trace_id, "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419"));
    rp__rapi_str v;
    CHECK(rp__rapi_header(&r, "content-type", &v) && str_is(v, "application/json"));
    CHECK(rp__rapi_header(&r, "Lambda-Runtime-Client-Context", &v) && str_is(v, "{\"x\": 1}"));
    CHECK(!rp__rapi_header(&r, "Content", &v) && v.p == NULL);

    /* Without the Lambda headers; bare LF line ends; an empty body. */
    const char raw2[] = "HTTP/1.1 202 Accepted\nContent-Length: 0\n\n";
    CHECK(parse_all_ways(c, raw2, sizeof raw2 - 1, 100, &r, &err) == 0);
    CHECK(r.status == 202 && r.body_len == 0 && r.body && r.body[0] == '\0');
    CHECK(r.request_id.p == NULL && r.deadline_ms.p == NULL && r.trace_id.p == NULL);

    /* A status line without a reason; equal duplicate Content-Lengths. */
    const char raw3[] = "HTTP/1.1 400\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}";
    CHECK(parse_all_ways(c, raw3, sizeof raw3 - 1, 100, &r, &err) == 0);
    CHECK(r.status == 400 && r.body_len == 2);
    rp__rapi_free(c);
}

TEST(parses_chunked_bodies)
{
    rp__rapi *c = client("127.0.0.1:9001");
    rp__rapi_response r;
    rp_error err;
    const char raw[] =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nLambda-Runtime-Aws-Request-Id: r1\r\n\r\n"
        "5\r\nhello\r\n"
        "1;name=value\r\n \r\n"
        "A  \r\n0123456789\r\n"
        "0\r\nX-Trailer: yes\r\n\r\n";
    CHECK(parse_all_ways(c, raw, sizeof raw - 1, 100, &r, &err) == 0);
    CHECK(r.status == 200);
    CHECK_MEM(r.body, r.body_len, "hello 0123456789");
    CHECK(str_is(r.request_id, "r1"));

    /* Upper-case hex, LF-only framing, "chunked" with identity. */
    const char raw2[] =
        "HTTP/1.1 200 OK\nTransfer-Encoding: identity, Chunked\n\n1F\nabcdefghijklmnopqrstuvwxyz01234\n0\n\n";
    CHECK(parse_all_ways(c, raw2, sizeof raw2 - 1, 100, &r, &err) == 0);
    CHECK_MEM(r.body, r.body_len, "abcdefghijklmnopqrstuvwxyz01234");

    /* Chunked wins over Content-Length. */
    const char raw3[] =
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
    CHECK(parse_all_ways(c, raw3, sizeof raw3 - 1, 100, &r, &err) == 0);
    CHECK_MEM(r.body, r.body_len, "ok");

    /* Exactly the cap, then one byte over it. */
    const char at_cap[] =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    CHECK(parse_all_ways(c, at_cap, sizeof at_cap - 1, 5, &r, &err) == 0);
    CHECK(!r.body_toobig && r.body_len == 5);
    CHECK(parse_all_ways(c, at_cap, sizeof at_cap - 1, 4, &r, &err) == 0);
    CHECK(r.body_toobig && r.body_len == 0 && r.body[0] == '\0');
    rp__rapi_free(c);
}

TEST(other_framings)
{
    rp__rapi *c = client("127.0.0.1:9001");
    rp__rapi_response r;
    rp_error err;
    /* Interim answers are skipped. */
    const char raw[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\n"
                       "HTTP/1.1 202 Accepted\r\nContent-Length: 4\r\n\r\nDONE";
    CHECK(parse_all_ways(c, raw, sizeof raw - 1, 100, &r, &err) == 0);
    CHECK(r.status == 202);
    CHECK_MEM(r.body, r.body_len, "DONE");
    /* 204: no body, whatever follows. */
    const char raw2[] = "HTTP/1.1 204 No Content\r\n\r\n";
    CHECK(parse_all_ways(c, raw2, sizeof raw2 - 1, 100, &r, &err) == 0);
    CHECK(r.status == 204 && r.body_len == 0);
    /* No length: the body runs to the end of the connection (HTTP/1.0 too). */
    const char raw3[] = "HTTP/1.0 200 OK\r\n\r\nuntil the end";
    CHECK(parse_all_ways(c, raw3, sizeof raw3 - 1, 100, &r, &err) == 0);
    CHECK_MEM(r.body, r.body_len, "until the end");
    CHECK(parse_all_ways(c, raw3, sizeof raw3 - 1, 5, &r, &err) == 0);
    CHECK(r.body_toobig && r.body_len == 0);
    /* A Content-Length over the cap: not read. */
    const char raw4[] =
        "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: big\r\nContent-Length: 6291457\r\n\r\nxx";
    CHECK(parse_all_ways(c, raw4, sizeof raw4 - 1, 6291456, &r, &err) == 0);
    CHECK(r.body_toobig && r.body_len == 0 && str_is(r.request_id, "big"));
    rp__rapi_free(c);
}

/* Each broken answer: -1, its error code, and retriable or not. */
TEST(refuses_broken_answers)
{
    static const struct {
        const char *raw;
        rp_code code;
        bool retriable;
    } bad[] = {
        {"", RP_ERR_IO, true},                                                   /* nothing at all */
        {"HTTP/1.1 200 OK\r\nContent-Le", RP_ERR_IO, true},                      /* truncated head */
        {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", RP_ERR_IO, true}, /* truncated body */
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", RP_ERR_IO, true},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n", RP_ERR_IO, true},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n", RP_ERR_IO, true},
        {"HTTP/2 200\r\n\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 20 OK\r\n\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 2000 OK\r\n\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 600 OK\r\n\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 abc OK\r\n\r\n", RP_ERR_INVALID, false},
        {"http/1.1 200 OK\r\n\r\n", RP_ERR_INVALID, false},
        {"SSH-2.0-OpenSSH_9.2\r\n\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 101 Switching Protocols\r\n\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\nName : value\r\n\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\n: value\r\n\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\nA: b\x01c\r\n\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\nx", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", RP_ERR_UNSUPPORTED, false},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", RP_ERR_UNSUPPORTED, false},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n", RP_ERR_INVALID,
         false},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n", RP_ERR_INVALID,
         false},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", RP_ERR_INVALID, false},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\rX0\r\n\r\n", RP_ERR_INVALID, false},
    };
    rp__rapi *c = client("127.0.0.1:9001");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rp__rapi_response r;
        rp_error err;
        memset(&err, 0, sizeof err);
        int rc = parse_all_ways(c, bad[i].raw, strlen(bad[i].raw), 1000, &r, &err);
        if (rc != -1 || err.code != bad[i].code || err.retriable != bad[i].retriable) {
            fprintf(stderr, "case %zu: rc %d, code %d, retriable %d: %s\n", i, rc, (int)err.code,
                    err.retriable, rc < 0 ? err.msg : "");
            CHECK(false);
        } else {
            CHECK(strstr(err.msg, "Runtime API") != NULL);
        }
    }
    rp__rapi_free(c);
}

TEST(bounds)
{
    rp__rapi *c = client("127.0.0.1:9001");
    rp__rapi_response r;
    rp_error err;
    /* Headers over 64 KiB, with and without an end. */
    size_t n = RP_RAPI_HEAD_MAX + 100;
    char *raw = malloc(n + 64);
    strcpy(raw, "HTTP/1.1 200 OK\r\nX-Big: ");
    size_t k = strlen(raw);
    memset(raw + k, 'a', n - k);
    CHECK(parse_all_ways(c, raw, n, 100, &r, &err) == -1 && err.code == RP_ERR_LIMIT);
    memcpy(raw + n, "\r\n\r\n", 4);
    CHECK(parse_all_ways(c, raw, n + 4, 100, &r, &err) == -1 && err.code == RP_ERR_LIMIT);
    /* A chunk-size line over its bound (a long extension). */
    strcpy(raw, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;");
    k = strlen(raw);
    memset(raw + k, 'e', RP_RAPI_CHUNK_LINE_MAX + 10);
    CHECK(parse_all_ways(c, raw, k + RP_RAPI_CHUNK_LINE_MAX + 10, 100, &r, &err) == -1 &&
          err.code == RP_ERR_INVALID);
    /* Trailers without end. */
    strcpy(raw, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n");
    k = strlen(raw);
    for (size_t i = k; i + 6 < n; i += 6)
        memcpy(raw + i, "T: 1\r\n", 6), k = i + 6;
    CHECK(parse_all_ways(c, raw, k, 100, &r, &err) == -1 && err.code == RP_ERR_INVALID);
    /* Endless interim answers. */
    k = 0;
    for (int i = 0; i < 20; i++) {
        memcpy(raw + k, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        k += 25;
    }
    CHECK(parse_all_ways(c, raw, k, 100, &r, &err) == -1 && err.code == RP_ERR_INVALID);
    free(raw);
    /* Many tiny chunks: the framing is compacted away, the body is whole. */
    size_t chunks = 20000;
    raw = malloc(64 + chunks * 6 + 16);
    strcpy(raw, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    k = strlen(raw);
    for (size_t i = 0; i < chunks; i++) {
        memcpy(raw + k, "1\r\nz\r\n", 6);
        k += 6;
    }
    memcpy(raw + k, "0\r\n\r\n", 5);
    k += 5;
    CHECK(rp__rapi_parse(c, raw, k, 0, chunks, &r, &err) == 0 && r.body_len == chunks && !r.body_toobig);
    CHECK(r.body[0] == 'z' && r.body[chunks - 1] == 'z' && r.body[chunks] == '\0');
    CHECK(rp__rapi_parse(c, raw, k, 0, chunks - 1, &r, &err) == 0 && r.body_toobig);
    free(raw);
    rp__rapi_free(c);
}

/* Mutated answers: every result is a clean success within the bounds or a
 * clean error, and feeding byte by byte agrees with feeding whole (ASan
 * and valgrind check the memory). */
TEST(fuzz_mutated_answers)
{
    static const char *seeds[] = {
        ("HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: abc\r\nLambda-Runtime-Deadline-Ms: 1\r\n"
         "Content-Length: 11\r\n\r\n{\"a\": \"b\"}x"),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nConnection: close\r\n\r\nbody to the end",
        "HTTP/1.0 413 Too Large\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n{}",
    };
    uint64_t s = 0x853c49e6748fea9bULL;
    char buf[512];
    int ok = 0, errors = 0;
    rp__rapi *c = client("127.0.0.1:9001");
    for (int iter = 0; iter < 3000; iter++) {
        const char *seed = seeds[iter % 4];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        int muts = 1 + (int)(s % 4);
        for (int m = 0; m < muts && n > 0; m++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            size_t at = (size_t)(s >> 8) % n;
            switch (s % 6) {
            case 0: buf[at] = (char)(s >> 40); break;                /* any byte */
            case 1: buf[at] = "\r\n:; 0-9aF"[(s >> 32) % 10]; break; /* a framing byte */
            case 2: n = at; break;                                   /* truncate */
            case 3:                                                  /* delete */
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
                break;
            case 4: /* insert a digit */
                if (n + 1 < sizeof buf) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = (char)('0' + (s >> 20) % 10);
                    n++;
                }
                break;
            default: /* duplicate a span */
                if (n + 16 < sizeof buf && at + 16 <= n) {
                    memmove(buf + at + 16, buf + at, n - at);
                    n += 16;
                }
                break;
            }
        }
        rp__rapi_response r;
        rp_error err;
        int rc = parse_all_ways(c, buf, n, 64, &r, &err);
        if (rc == 0) {
            ok++;
            CHECK(r.status >= 200 && r.status <= 599);
            CHECK(r.body_len <= 64 && r.body[r.body_len] == '\0');
            CHECK(!r.body_toobig || r.body_len == 0);
        } else {
            errors++;
            CHECK(rc == -1 && err.msg[0]);
        }
    }
    /* Both outcomes were exercised. */
    CHECK(ok > 100 && errors > 100);
    rp__rapi_free(c);
}

TEST(addresses)
{
    const char *good[] = {"127.0.0.1:9001", "[::1]:9001", "localhost", "169.254.100.1:9001", "h:65535"};
    const char *bad[] = {"",      "h:",       ":80",   "h:0",   "h:65536", "h:123456",
                         "h:x",   "::1:9001", "[::1",  "[]:1",  "[::1]x",  "http://h:1",
                         "h:1/x", "u@h:1",    "a b:1", "h:1?x", "h\r\n:1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        rp__rapi *c = NULL;
        rp_error err;
        CHECK(rp__rapi_new(good[i], NULL, &c, &err) == 0 && c);
        rp__rapi_free(c);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rp__rapi *c = NULL;
        rp_error err;
        int rc = rp__rapi_new(bad[i], NULL, &c, &err);
        if (rc != -1 || c)
            fprintf(stderr, "address %s accepted\n", bad[i]);
        CHECK(rc == -1 && c == NULL && err.code == RP_ERR_INVALID);
    }
    rp__rapi *c;
    rp_error err;
    CHECK(rp__rapi_new("127.0.0.1:1", NULL, &c, &err) == 0);
    const rp__rapi_options *o = rp__rapi_get_options(c);
    CHECK(o->timeout_ms == 30000 && o->connect_timeout_ms == 3000 && o->retry.max_attempts == 5 &&
          o->retry.base_delay_ms == 100 && o->retry.max_delay_ms == 2000);
    rp__rapi_free(c);
}

/* ---- over sockets ------------------------------------------------------------------------ */

/* A scripted server: for each request it reads (one request: head and
 * Content-Length body), it sends the step's answer; a step can drop the
 * connection instead, wait first, or say to accept a new connection. */
typedef struct sstep {
    const char *answer; /* NULL: send nothing */
    bool close_after;   /* close the connection after answering */
    bool no_read;       /* answer without reading a request first */
    int delay_ms;
} sstep;

#define MAX_STEPS 8
typedef struct server {
    int ls;
    int port;
    int family;
    const sstep *steps;
    int n;
    char got[MAX_STEPS][1024]; /* requests received */
    int accepted;
    pthread_t th;
} server;

static int read_req(int fd, char *out, size_t cap)
{
    size_t len = 0;
    for (;;) {
        char *e = len >= 4 ? memmem(out, len, "\r\n\r\n", 4) : NULL;
        if (e) {
            size_t head = (size_t)(e - out) + 4, cl = 0;
            char *p = memmem(out, head, "Content-Length: ", 16);
            if (p)
                cl = strtoul(p + 16, NULL, 10);
            while (len < head + cl && len + 1 < cap) {
                ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
                if (n <= 0)
                    return -1;
                len += (size_t)n;
            }
            out[len] = '\0';
            return 0;
        }
        if (len + 1 >= cap)
            return -1;
        ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
        if (n <= 0)
            return -1;
        len += (size_t)n;
    }
}

static void *server_main(void *arg)
{
    server *s = arg;
    int fd = -1;
    for (int i = 0; i < s->n; i++) {
        const sstep *st = &s->steps[i];
        if (fd < 0) {
            fd = accept(s->ls, NULL, NULL);
            if (fd < 0)
                break;
            s->accepted++;
        }
        if (!st->no_read && read_req(fd, s->got[i], sizeof s->got[i]) < 0) {
            close(fd);
            fd = -1;
            continue;
        }
        if (st->delay_ms) {
            struct timespec ts = {st->delay_ms / 1000, (long)(st->delay_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (st->answer) {
            ssize_t w = send(fd, st->answer, strlen(st->answer), MSG_NOSIGNAL);
            (void)w;
        }
        if (st->close_after) {
            shutdown(fd, SHUT_RDWR);
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0) {
        /* Wait for the client to close, then close. */
        char b[256];
        while (recv(fd, b, sizeof b, 0) > 0) {
        }
        close(fd);
    }
    return NULL;
}

static int server_start(server *s, int family, const sstep *steps, int n)
{
    memset(s, 0, sizeof *s);
    s->family = family;
    s->steps = steps;
    s->n = n;
    s->ls = socket(family, SOCK_STREAM, 0);
    if (s->ls < 0)
        return -1;
    int one = 1;
    setsockopt(s->ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        sl = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof *a;
    }
    if (bind(s->ls, (struct sockaddr *)&ss, sl) < 0 || listen(s->ls, 8) < 0 ||
        getsockname(s->ls, (struct sockaddr *)&ss, &sl) < 0) {
        close(s->ls);
        return -1;
    }
    s->port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
    pthread_create(&s->th, NULL, server_main, s);
    return 0;
}

static void server_join(server *s)
{
    pthread_join(s->th, NULL);
    close(s->ls);
}

static rp__rapi *client_for(const server *s, uint32_t timeout_ms)
{
    char addr[64];
    snprintf(addr, sizeof addr, s->family == AF_INET6 ? "[::1]:%d" : "127.0.0.1:%d", s->port);
    rp__rapi_options o = {.timeout_ms = timeout_ms, .retry = {2, 1, 1}};
    rp__rapi *c;
    rp_error err;
    if (rp__rapi_new(addr, &o, &c, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return c;
}

#define NEXT_ANSWER(id, body)                                                                                \
    "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: " id "\r\nLambda-Runtime-Deadline-Ms: 99\r\n"         \
    "Content-Length: " #body "\r\n\r\n"
#define ACCEPTED                                                                                             \
    "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\": \"OK\"}"

static const rp__rapi_request next_req = {
    .method = "GET", .path = "/2018-06-01/runtime/invocation/next", .body_max = 1000, .wait = true};

TEST(keep_alive_and_request_bytes)
{
    const sstep steps[] = {
        {"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r-1\r\nContent-Length: 2\r\n\r\n{}", false, false,
         0},
        {ACCEPTED, false, false, 0},
        {"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r-2\r\nTransfer-Encoding: chunked\r\n\r\n"
         "2\r\n[]\r\n0\r\n\r\n",
         false, false, 0},
    };
    server s;
    CHECK(server_start(&s, AF_INET, steps, 3) == 0);
    rp__rapi *c = client_for(&s, 2000);
    rp__rapi_response r;
    rp_error err;
    CHECK(rp__rapi_call(c, &next_req, &r, &err) == 0);
    CHECK(r.status == 200 && str_is(r.request_id, "r-1"));
    CHECK_MEM(r.body, r.body_len, "{}");
    rp__rapi_request post = {.method = "POST",
                             .path = "/2018-06-01/runtime/invocation/r-1/error",
                             .error_type = "InvalidEvent",
                             .body = "hello",
                             .body_len = 5,
                             .body_max = 100};
    CHECK(rp__rapi_call(c, &post, &r, &err) == 0);
    CHECK(r.status == 202);
    CHECK_MEM(r.body, r.body_len, "{\"status\": \"OK\"}");
    CHECK(rp__rapi_call(c, &next_req, &r, &err) == 0);
    CHECK(str_is(r.request_id, "r-2"));
    CHECK_MEM(r.body, r.body_len, "[]");
    rp__rapi_stats st;
    rp__rapi_get_stats(c, &st);
    CHECK(st.connections == 1 && st.requests == 3 && st.last_attempts == 1);
    rp__rapi_free(c);
    server_join(&s);
    CHECK(s.accepted == 1);
    char want[512];
    snprintf(want, sizeof want,
             "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
             "User-Agent: ridepred/0.1.0\r\n\r\n",
             s.port);
    CHECK_STR(s.got[0], want);
    snprintf(want, sizeof want,
             "POST /2018-06-01/runtime/invocation/r-1/error HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
             "User-Agent: ridepred/0.1.0\r\nContent-Type: application/json\r\nContent-Length: 5\r\n"
             "Lambda-Runtime-Function-Error-Type: InvalidEvent\r\n\r\nhello",
             s.port);
    CHECK_STR(s.got[1], want);
}

TEST(connection_close_and_stale_connections)
{
    /* 1: answered with Connection: close -> the client reconnects.
     * 2: answered, then the server drops the kept connection silently ->
     *    the next request finds it closed and goes again on a new one.
     * 3: HTTP/1.0 without keep-alive -> closes. */
    const sstep steps[] = {
        {"HTTP/1.1 200 OK\r\nConnection: close\r\nLambda-Runtime-Aws-Request-Id: a\r\nContent-Length: 1\r\n\r\n1",
         true, false, 0},
        {"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: b\r\nContent-Length: 1\r\n\r\n2", true, false, 0},
        {"HTTP/1.0 200 OK\r\nLambda-Runtime-Aws-Request-Id: c\r\nContent-Length: 1\r\n\r\n3", true, false, 0},
        {"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: d\r\nContent-Length: 1\r\n\r\n4", false, false,
         0},
    };
    server s;
    CHECK(server_start(&s, AF_INET, steps, 4) == 0);
    rp__rapi *c = client_for(&s, 2000);
    rp__rapi_response r;
    rp_error err;
    const char *ids[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) {
        CHECK(rp__rapi_call(c, &next_req, &r, &err) == 0);
        CHECK(str_is(r.request_id, ids[i]));
        if (i == 1) {
            /* Let the server's close reach us: the kept connection is stale. */
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    rp__rapi_stats st;
    rp__rapi_get_stats(c, &st);
    CHECK(st.connections == 4);
    CHECK(st.last_attempts == 1); /* the stale connection cost no retry */
    rp__rapi_free(c);
    server_join(&s);
    CHECK(s.accepted == 4);
}

TEST(pipelined_bytes_are_kept)
{
    const sstep steps[] = {
        {"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: one\r\nContent-Length: 3\r\n\r\nabc"
         "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: two\r\nContent-Length: 3\r\n\r\ndef",
         false, false, 0},
        {NULL, false, false, 0},
    };
    server s;
    CHECK(server_start(&s, AF_INET, steps, 2) == 0);
    rp__rapi *c = client_for(&s, 2000);
    rp__rapi_response r;
    rp_error err;
    CHECK(rp__rapi_call(c, &next_req, &r, &err) == 0);
    CHECK(str_is(r.request_id, "one"));
    CHECK_MEM(r.body, r.body_len, "abc");
    CHECK(rp__rapi_call(c, &next_req, &r, &err) == 0);
    CHECK(str_is(r.request_id, "two"));
    CHECK_MEM(r.body, r.body_len, "def");
    rp__rapi_free(c);
    server_join(&s);
}

TEST(oversized_body_drops_the_connection)
{
    const sstep steps[] = {
        {"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: big\r\nContent-Length: 5000\r\n\r\nxxxxxxxx",
         true, false, 0},
        {NEXT_ANSWER("small", 2) "{}", false, false, 0},
    };
    server s;
    CHECK(server_start(&s, AF_INET, steps, 2) == 0);
    rp__rapi *c = client_for(&s, 2000);
    rp__rapi_response r;
    rp_error err;
    CHECK(rp__rapi_call(c, &next_req, &r, &err) == 0);
    CHECK(r.body_toobig && r.body_len == 0 && str_is(r.request_id, "big"));
    CHECK(rp__rapi_call(c, &next_req, &r, &err) == 0);
    CHECK(str_is(r.request_id, "small") && !r.body_toobig);
    rp__rapi_stats st;
    rp__rapi_get_stats(c, &st);
    CHECK(st.connections == 2);
    rp__rapi_free(c);
    server_join(&s);
}

TEST(timeouts)
{
    /* A post that gets no answer times out; /next waits past the timeout. */
    const sstep steps[] = {
        {NULL, false, false, 0},
        {NULL, true, true, 300}, /* then drop that connection */
        {NEXT_ANSWER("late", 2) "{}", false, false, 450},
    };
    server s;
    CHECK(server_start(&s, AF_INET, steps, 3) == 0);
    rp__rapi_options o = {.timeout_ms = 150, .retry = {1, 0, 0}};
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", s.port);
    rp__rapi *c;
    rp_error err;
    CHECK(rp__rapi_new(addr, &o, &c, &err) == 0);
    rp__rapi_request post = {.method = "POST",
                             .path = "/2018-06-01/runtime/invocation/x/response",
                             .body = "{}",
                             .body_len = 2,
                             .body_max = 100};
    rp__rapi_response r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(rp__rapi_call(c, &post, &r, &err) == -1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    CHECK(ms >= 140 && ms < 1000);
    CHECK(err.retriable && strstr(err.msg, "no answer from the Runtime API within") != NULL);
    CHECK(strstr(err.msg, "(AWS_LAMBDA_RUNTIME_API) after 1 attempt:") != NULL);
    /* /next: answered after 450 ms, three timeouts' worth. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(rp__rapi_call(c, &next_req, &r, &err) == 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    CHECK(str_is(r.request_id, "late") && ms >= 400);
    rp__rapi_free(c);
    server_join(&s);
}

typedef struct sleeps {
    uint32_t ms[16];
    int n;
} sleeps;

static void record_sleep(void *ctx, uint32_t ms)
{
    sleeps *s = ctx;
    if (s->n < 16)
        s->ms[s->n] = ms;
    s->n++;
}

static uint64_t max_random(void *ctx)
{
    (void)ctx;
    return UINT64_MAX;
}

TEST(refused_connections_are_retried)
{
    /* A port with nothing listening. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(a.sin_port));
    rp__rapi *c;
    rp_error err;
    CHECK(rp__rapi_new(addr, NULL, &c, &err) == 0);
    sleeps sl = {{0}, 0};
    rp__rapi_hooks *h = rp__rapi_get_hooks(c);
    h->sleep_ms = record_sleep;
    h->sleep_ctx = &sl;
    h->random = max_random;
    rp__rapi_response r;
    CHECK(rp__rapi_call(c, &next_req, &r, &err) == -1);
    CHECK(err.retriable);
    CHECK(strstr(err.msg, "cannot reach the Lambda Runtime API at 127.0.0.1:") != NULL);
    CHECK(strstr(err.msg, "(AWS_LAMBDA_RUNTIME_API) after 5 attempts") != NULL);
    CHECK(strstr(err.msg, "Connection refused") != NULL);
    /* Full jitter in [0, min(2000, 100 * 2^(k-1))]: UINT64_MAX % (ceiling + 1). */
    CHECK(sl.n == 4);
    for (int k = 0; k < 4 && k < sl.n; k++) {
        uint32_t ceiling = 100u << k;
        CHECK(sl.ms[k] == (uint32_t)(UINT64_MAX % (ceiling + 1)));
    }
    rp__rapi_stats st;
    rp__rapi_get_stats(c, &st);
    CHECK(st.last_attempts == 5 && st.connections == 0);
    rp__rapi_free(c);

    /* A server that drops the connection mid-answer: retried, then served. */
    const sstep steps[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", true, false, 0},
        {NEXT_ANSWER("again", 2) "{}", false, false, 0},
    };
    server s;
    CHECK(server_start(&s, AF_INET, steps, 2) == 0);
    c = client_for(&s, 2000);
    CHECK(rp__rapi_call(c, &next_req, &r, &err) == 0);
    CHECK(str_is(r.request_id, "again"));
    rp__rapi_get_stats(c, &st);
    CHECK(st.last_attempts == 2);
    rp__rapi_free(c);
    server_join(&s);

    /* A malformed answer is not retried. */
    const sstep bad[] = {{"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", true, false, 0}};
    CHECK(server_start(&s, AF_INET, bad, 1) == 0);
    c = client_for(&s, 2000);
    CHECK(rp__rapi_call(c, &next_req, &r, &err) == -1);
    CHECK(!err.retriable && strstr(err.msg, "Content-Length") != NULL);
    rp__rapi_get_stats(c, &st);
    CHECK(st.last_attempts == 1);
    rp__rapi_free(c);
    server_join(&s);
}

TEST(ipv6)
{
    const sstep steps[] = {{NEXT_ANSWER("v6", 2) "{}", false, false, 0}};
    server s;
    if (server_start(&s, AF_INET6, steps, 1) < 0) {
        fprintf(stderr, "no IPv6 loopback here: the IPv6 case is not run\n");
        return;
    }
    rp__rapi *c = client_for(&s, 2000);
    rp__rapi_response r;
    rp_error err;
    CHECK(rp__rapi_call(c, &next_req, &r, &err) == 0);
    CHECK(str_is(r.request_id, "v6"));
    rp__rapi_free(c);
    server_join(&s);
    CHECK(strstr(s.got[0], "Host: [::1]:") != NULL);
}

TEST(refuses_bad_requests)
{
    rp__rapi *c = client("127.0.0.1:9");
    rp__rapi_response r;
    rp_error err;
    rp__rapi_request q = {.method = "POST", .path = "/x", .error_type = "A\r\nInjected: 1", .body_max = 10};
    CHECK(rp__rapi_send(c, &q, &r, &err) == -1 && err.code == RP_ERR_INVALID);
    rp__rapi_request q2 = {.method = "GET", .path = "/x y", .body_max = 10};
    CHECK(rp__rapi_send(c, &q2, &r, &err) == -1 && err.code == RP_ERR_INVALID);
    char longpath[9000];
    memset(longpath, 'p', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    rp__rapi_request q3 = {.method = "GET", .path = longpath, .body_max = 10};
    CHECK(rp__rapi_send(c, &q3, &r, &err) == -1 && err.code == RP_ERR_LIMIT);
    rp__rapi_stats st;
    rp__rapi_get_stats(c, &st);
    CHECK(st.connections == 0 && st.requests == 0);
    rp__rapi_free(c);
}

int main(void)
{
    rp_log_configure(RP_LOG_OFF, RP_LOG_TEXT);
    RUN(parses_a_next_answer);
    RUN(parses_chunked_bodies);
    RUN(other_framings);
    RUN(refuses_broken_answers);
    RUN(bounds);
    RUN(fuzz_mutated_answers);
    RUN(addresses);
    RUN(keep_alive_and_request_bytes);
    RUN(connection_close_and_stale_connections);
    RUN(pipelined_bytes_are_kept);
    RUN(oversized_body_drops_the_connection);
    RUN(timeouts);
    RUN(refused_connections_are_retried);
    RUN(ipv6);
    RUN(refuses_bad_requests);
    return rp_t_done();
}
