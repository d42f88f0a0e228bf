/* libFuzzer target: the HTTP/1.1 server's reading of requests
 * (src/common/http_server.c: conn_read, head_step, parse_head, body_step,
 * the answers, keep-alive and the closing states), through the test seam of
 * http_server_internal.h: the real connection state machine on one end of
 * a socketpair, driven on this thread as the worker's epoll loop would.
 *
 * Input: byte 0 seeds the random piece sizes, byte 1 picks the server's
 * limits (body, head, budget of all bodies), whether the connection's
 * deadline passes after the last byte, and the largest piece; the rest is
 * what a client sends before shutting its write side.  It is sent twice on
 * two connections: all at once, and in random-sized pieces with the server
 * running after each.  Properties (any failure aborts):
 *  - what the server writes back is a sequence of well-formed HTTP/1.1
 *    responses, one per answer the server queued (seen through the seam's
 *    observer), interleaved only with "100 Continue": a status line, one
 *    header block with exactly one Content-Length and one Date, exactly
 *    Content-Length body bytes (none for HEAD), Connection: close exactly
 *    when the server closes after it, nothing after a closing answer;
 *  - the server's own answers carry a JSON {"message": "..."} body, and
 *    every one of them but 503 closes the connection (framing errors,
 *    deadlines, limits: RFC 9112 section 6.3);
 *  - the route sees only requests whose body is what the framing said: its
 *    length is the Content-Length (or the body is flagged too large), never
 *    both Content-Length and Transfer-Encoding, never over max_body_bytes,
 *    NUL-terminated; and, followed through the input from its start, each
 *    routed request's body is the bytes at its place (Content-Length) or
 *    the decoded chunks (a reference decoder here);
 *  - where the input is split changes nothing: both connections get the
 *    same bytes (Date aside), the same answers and the same route calls;
 *  - once the client has shut its side, the server closes the connection;
 *    no request stays in flight and the body budget is back to 0. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/http_server.h"
#include "common/http_server_internal.h"

#define FAIL(...)                                                                                            \
    do {                                                                                                     \
        fprintf(stderr, "fuzz_http_server: " __VA_ARGS__);                                                   \
        fputc('\n', stderr);                                                                                 \
        abort();                                                                                             \
    } while (0)

#define MAX_CALLS 256
#define OUT_CAP ((size_t)4 * 1024 * 1024)

typedef struct answer {
    int status;
    bool head_only, close_after, routed;
} answer;

typedef struct call {
    char *method;
    bool too_large, chunked, has_length;
    uint64_t length;
    size_t body_len;
    char *body;
} call;

typedef struct run {
    answer answers[MAX_CALLS];
    size_t nanswers;
    call calls[MAX_CALLS];
    size_t ncalls;
    char *out;
    size_t out_len;
} run;

static run runs[2];
static run *cur;
static size_t cur_max_body;

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static void on_answer(void *ctx, int status, bool head_only, bool close_after, bool routed)
{
    run *r = ctx;
    if (r->nanswers == MAX_CALLS)
        FAIL("more than %d answers", MAX_CALLS);
    r->answers[r->nanswers++] = (answer){status, head_only, close_after, routed};
}

/* A Content-Length value: a list of equal decimal numbers (the server
 * refuses lists of different values); its first; false when any element is
 * not 1*DIGIT. */
static bool parse_length(const char *v, uint64_t *out)
{
    bool any = false;
    for (;;) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        if (!*v)
            return any;
        uint64_t n = 0;
        const char *d = v;
        for (; *d >= '0' && *d <= '9'; d++)
            n = n > (UINT64_MAX - 9) / 10 ? UINT64_MAX : n * 10 + (uint64_t)(*d - '0');
        if (d == v)
            return false;
        while (*d == ' ' || *d == '\t')
            d++;
        if (*d && *d != ',')
            return false;
        if (!any)
            *out = n;
        any = true;
        v = d;
    }
}

static void route(void *ctx, const rp__http_request *req, rp__http_reply *reply)
{
    (void)ctx;
    run *r = cur;
    if (r->ncalls == MAX_CALLS)
        FAIL("more than %d route calls", MAX_CALLS);
    call *c = &r->calls[r->ncalls];
    memset(c, 0, sizeof *c);
    size_t ml = strlen(req->method);
    if (!ml)
        FAIL("an empty method");
    for (size_t i = 0; i < ml; i++)
        if (!is_tchar((unsigned char)req->method[i]))
            FAIL("method with a byte 0x%02x", (unsigned char)req->method[i]);
    c->method = strdup(req->method);
    if (!c->method)
        abort();
    if (req->path[0] != '/' && strcmp(req->path, "*") != 0)
        FAIL("path '%s'", req->path);
    const char *cl = rp__http_request_header(req, "Content-Length");
    const char *te = rp__http_request_header(req, "Transfer-Encoding");
    if (cl && te)
        FAIL("the route saw Content-Length and Transfer-Encoding");
    c->too_large = req->body_too_large;
    c->chunked = te != NULL;
    c->has_length = cl && parse_length(cl, &c->length);
    if (cl && !c->has_length)
        FAIL("the route saw Content-Length '%s'", cl);
    if (req->body_too_large && (req->body || req->body_len))
        FAIL("a body too large handed over");
    if (req->body_len > cur_max_body)
        FAIL("a body of %zu bytes over the limit of %zu", req->body_len, cur_max_body);
    if (req->body_len && (!req->body || req->body[req->body_len] != '\0'))
        FAIL("a body not NUL-terminated");
    if (!req->body_len && req->body)
        FAIL("an empty body not NULL");
    if (c->has_length && !req->body_too_large && req->body_len != c->length)
        FAIL("body of %zu bytes for Content-Length %llu", req->body_len, (unsigned long long)c->length);
    if (c->has_length && req->body_too_large && c->length <= cur_max_body)
        FAIL("too large with Content-Length %llu", (unsigned long long)c->length);
    if (!cl && !te && (req->body_len || req->body_too_large))
        FAIL("a body without framing");
    c->body_len = req->body_len;
    if (req->body_len) {
        c->body = malloc(req->body_len);
        if (!c->body)
            abort();
        memcpy(c->body, req->body, req->body_len);
    }
    r->ncalls++;

    static char seq[MAX_CALLS][16];
    snprintf(seq[r->ncalls - 1], sizeof seq[0], "%zu", r->ncalls);
    rp__http_reply_header(reply, "X-Seq", seq[r->ncalls - 1]);
    reply->status = req->body_too_large ? 413 : 200;
    reply->content_type = "text/plain";
    if (r->ncalls % 2) { /* borrowed, and owned */
        reply->body = "ok";
        reply->body_len = 2;
    } else {
        char *b = malloc(32);
        if (!b)
            abort();
        reply->body_len = (size_t)snprintf(b, 32, "body %zu", req->body_len);
        reply->body = b;
        reply->body_owned = true;
    }
}

static void out_add(run *r, const char *p, size_t n)
{
    if (r->out_len + n > OUT_CAP)
        FAIL("more than %zu bytes of answers", OUT_CAP);
    memcpy(r->out + r->out_len, p, n);
    r->out_len += n;
}

/* Reads what the server has written; true when it has shut its side. */
static bool drain(int fd, run *r)
{
    char buf[65536];
    for (;;) {
        ssize_t k = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (k > 0) {
            out_add(r, buf, (size_t)k);
            continue;
        }
        if (k == 0)
            return true;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return false;
        return true; /* ECONNRESET: closed */
    }
}

static uint32_t rng;

static size_t next_piece(size_t max)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return 1 + rng % max;
}

/* One connection: the input in pieces of at most `piece` bytes (0: all at
 * once), the server pumped after each. */
static void feed(rp__http_server *s, run *r, const uint8_t *data, size_t size, size_t piece, bool expire)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        FAIL("socketpair: %s", strerror(errno));
    cur = r;
    rp__http_server_observe(s, on_answer, r);
    if (rp__http_server_adopt(s, sv[1]) != 0)
        FAIL("adopt failed");
    bool open = true;
    size_t off = 0;
    while (off < size && open) {
        size_t n = piece ? next_piece(piece) : size - off;
        if (n > size - off)
            n = size - off;
        ssize_t k = send(sv[0], data + off, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k > 0)
            off += (size_t)k;
        else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            break; /* the server closed: the rest is never read */
        open = rp__http_server_pump(s);
        drain(sv[0], r);
    }
    if (expire && open) {
        open = rp__http_server_expire(s);
        drain(sv[0], r);
    }
    shutdown(sv[0], SHUT_WR);
    for (int i = 0; open; i++) {
        if (i == 10000)
            FAIL("the connection stays open after the client shut its side");
        open = rp__http_server_pump(s);
        drain(sv[0], r);
    }
    /* Closed: whatever is left, then the end. */
    if (!drain(sv[0], r))
        FAIL("the server's side not closed");
    close(sv[0]);
    rp__http_server_observe(s, NULL, NULL);
    if (rp__http_server_in_flight(s) != 0)
        FAIL("%u requests in flight after the connection closed", rp__http_server_in_flight(s));
    if (rp__http_server_body_bytes(s) != 0)
        FAIL("%zu bytes of the body budget held after the connection closed", rp__http_server_body_bytes(s));
}

static bool starts(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

/* The answers in r->out against r->answers. */
static void check_answers(const run *r)
{
    const char *p = r->out, *end = r->out + r->out_len;
    size_t ai = 0, seq = 0;
    while (p < end) {
        if (starts(p, end, "HTTP/1.1 100 Continue\r\n\r\n")) {
            p += 25;
            continue;
        }
        if (ai == r->nanswers)
            FAIL("bytes after the %zu answers queued: '%.40s'", r->nanswers, p);
        const answer *a = &r->answers[ai++];
        char want[16];
        snprintf(want, sizeof want, "HTTP/1.1 %03d ", a->status);
        if (!starts(p, end, want))
            FAIL("answer %zu: not '%s': '%.40s'", ai, want, p);
        const char *line_end = memchr(p, '\n', (size_t)(end - p));
        if (!line_end || line_end[-1] != '\r' || line_end - p < 15)
            FAIL("answer %zu: a bad status line", ai);
        for (const char *q = p + 13; q < line_end - 1; q++)
            if ((unsigned char)*q < 0x20 || *q == 0x7f)
                FAIL("answer %zu: a control byte in the reason", ai);
        p = line_end + 1;
        int lengths = 0, dates = 0, closes = 0, seqs = 0, json = 0;
        uint64_t length = 0;
        for (;;) {
            line_end = memchr(p, '\n', (size_t)(end - p));
            if (!line_end || line_end == p || line_end[-1] != '\r')
                FAIL("answer %zu: a header line not ending in CRLF", ai);
            if (line_end == p + 1)
                break;
            const char *colon = p;
            while (colon < line_end && is_tchar((unsigned char)*colon))
                colon++;
            if (colon == p || colon[0] != ':' || colon[1] != ' ')
                FAIL("answer %zu: a bad header line '%.*s'", ai, (int)(line_end - p), p);
            for (const char *q = colon + 2; q < line_end - 1; q++)
                if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f)
                    FAIL("answer %zu: a control byte in a header value", ai);
            size_t nl = (size_t)(colon - p);
            const char *v = colon + 2;
            size_t vl = (size_t)(line_end - 1 - v);
#define IS(name) (nl == sizeof name - 1 && strncasecmp(p, name, nl) == 0)
            if (IS("Content-Length")) {
                lengths++;
                length = 0;
                for (size_t i = 0; i < vl; i++) {
                    if (v[i] < '0' || v[i] > '9' || length > UINT64_MAX / 10 - 1)
                        FAIL("answer %zu: Content-Length '%.*s'", ai, (int)vl, v);
                    length = length * 10 + (uint64_t)(v[i] - '0');
                }
                if (!vl)
                    FAIL("answer %zu: an empty Content-Length", ai);
            } else if (IS("Date")) {
                dates++;
            } else if (IS("Connection")) {
                if (vl == 5 && memcmp(v, "close", 5) == 0)
                    closes++;
                else if (!(vl == 10 && memcmp(v, "keep-alive", 10) == 0))
                    FAIL("answer %zu: Connection '%.*s'", ai, (int)vl, v);
            } else if (IS("X-Seq")) {
                seqs++;
                if (strtoul(v, NULL, 10) != ++seq)
                    FAIL("answer %zu: X-Seq %.*s, not %zu", ai, (int)vl, v, seq);
            } else if (IS("Content-Type")) {
                json += vl == 16 && memcmp(v, "application/json", 16) == 0;
            } else if (IS("Transfer-Encoding")) {
                FAIL("answer %zu: Transfer-Encoding", ai);
            }
#undef IS
            p = line_end + 1;
        }
        p += 2;
        if (lengths != 1 || dates != 1 || closes != (a->close_after ? 1 : 0) || seqs != (a->routed ? 1 : 0))
            FAIL("answer %zu (%d): %d Content-Length, %d Date, %d Connection: close (closing: %d), %d X-Seq",
                 ai, a->status, lengths, dates, closes, a->close_after, seqs);
        if (!a->head_only) {
            if ((uint64_t)(end - p) < length)
                FAIL("answer %zu: %zu body bytes of %llu", ai, (size_t)(end - p), (unsigned long long)length);
            if (!a->routed) {
                const char *b = p, *be = p + length;
                if (!json || !starts(b, be, "{\"message\": \"") || length < 16 || be[-1] != '}' ||
                    be[-2] != '"')
                    FAIL("answer %zu (%d): not a JSON message: '%.*s'", ai, a->status, (int)length, b);
                for (const char *q = b + 13; q < be - 2; q++)
                    if (*q == '"' || *q == '\\' || (unsigned char)*q < 0x20)
                        FAIL("answer %zu: a bad byte in the message", ai);
            }
            p += length;
        }
        if (!a->routed && a->status != 503 && !a->close_after)
            FAIL("answer %zu: the server's %d keeps the connection", ai, a->status);
        if (a->close_after && (p != end || ai != r->nanswers))
            FAIL("answer %zu (%d) closes, and more follows", ai, a->status);
    }
    if (ai != r->nanswers)
        FAIL("%zu answers queued, %zu sent", r->nanswers, ai);
    if (seq != r->ncalls)
        FAIL("%zu route calls, %zu routed answers", r->ncalls, seq);
}

/* Decodes a chunked body (and trailer section) at p; the bytes it took, or
 * 0 when it is not whole or not well-formed. */
static size_t dechunk(const uint8_t *p, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t i = 0;
    *out_len = 0;
    for (;;) {
        uint64_t size = 0;
        size_t digits = 0;
        for (; i < n; i++, digits++) {
            int ch = p[i], d = ch >= '0' && ch <= '9'                     ? ch - '0'
                               : (ch | 0x20) >= 'a' && (ch | 0x20) <= 'f' ? (ch | 0x20) - 'a' + 10
                                                                          : -1;
            if (d < 0)
                break;
            size = size * 16 + (uint64_t)d;
        }
        if (!digits || digits > 16)
            return 0;
        const uint8_t *crlf = NULL;
        for (size_t j = i; j + 1 < n; j++)
            if (p[j] == '\r' && p[j + 1] == '\n') {
                crlf = p + j;
                break;
            }
        if (!crlf)
            return 0;
        i = (size_t)(crlf - p) + 2;
        if (size == 0)
            break;
        if (size > n - i || n - i - size < 2 || p[i + size] != '\r' || p[i + size + 1] != '\n')
            return 0;
        if (*out_len + size <= cap)
            memcpy(out + *out_len, p + i, size);
        *out_len += size;
        i += size + 2;
    }
    for (;;) { /* trailer fields, then an empty line */
        const uint8_t *crlf = NULL;
        for (size_t j = i; j + 1 < n; j++)
            if (p[j] == '\r' && p[j + 1] == '\n') {
                crlf = p + j;
                break;
            }
        if (!crlf)
            return 0;
        bool empty = crlf == p + i;
        i = (size_t)(crlf - p) + 2;
        if (empty)
            return i;
    }
}

/* Follows the routed requests through the input from its start, up to the
 * first answer the route did not make. */
static void check_bodies(const run *r, const uint8_t *data, size_t size)
{
    static uint8_t ref[1 << 17];
    size_t pos = 0, ci = 0;
    for (size_t ai = 0; ai < r->nanswers && r->answers[ai].routed; ai++) {
        const call *c = &r->calls[ci++];
        while (size - pos >= 2 && data[pos] == '\r' && data[pos + 1] == '\n')
            pos += 2;
        size_t he = 0;
        for (size_t j = pos; j + 3 < size; j++)
            if (memcmp(data + j, "\r\n\r\n", 4) == 0) {
                he = j + 4;
                break;
            }
        size_t ml = strlen(c->method);
        if (!he || size - pos <= ml || memcmp(data + pos, c->method, ml) != 0 || data[pos + ml] != ' ')
            FAIL("routed request %zu (%s) is not at offset %zu of the input", ci, c->method, pos);
        size_t next = he;
        if (c->chunked) {
            size_t got = 0, took = dechunk(data + he, size - he, ref, sizeof ref, &got);
            if (!took)
                FAIL("routed request %zu: its chunked body at %zu is not whole or not well-formed", ci, he);
            if (!c->too_large && (got != c->body_len || (got && memcmp(ref, c->body, got) != 0)))
                FAIL("routed request %zu: a body of %zu bytes, the chunks hold %zu", ci, c->body_len, got);
            if (c->too_large && got <= cur_max_body)
                FAIL("routed request %zu: too large with %zu bytes of chunks", ci, got);
            next = he + took;
        } else if (c->has_length && c->length) {
            if (c->too_large) {
                if (c->length > size - he)
                    break; /* answered before its body: the connection closed */
            } else if (c->length > size - he || memcmp(data + he, c->body, c->body_len) != 0) {
                FAIL("routed request %zu: the body is not the %llu bytes after its head", ci,
                     (unsigned long long)c->length);
            }
            next = he + c->length;
        } else if (c->body_len) {
            FAIL("routed request %zu: a body without framing", ci);
        }
        pos = next;
    }
}

/* Strips the Date lines (the clock may tick between the two runs). */
static size_t undated(const char *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (n - i >= 8 && memcmp(p + i, "\r\nDate: ", 8) == 0) {
            const char *e = memchr(p + i + 2, '\n', n - i - 2);
            if (e) {
                i = (size_t)(e - 1 - p);
                continue;
            }
        }
        out[o++] = p[i++];
    }
    return o;
}

static void same_runs(const run *a, const run *b)
{
    static char ua[OUT_CAP], ub[OUT_CAP];
    size_t la = undated(a->out, a->out_len, ua), lb = undated(b->out, b->out_len, ub);
    if (la != lb || memcmp(ua, ub, la) != 0)
        FAIL("the answers depend on where the input was split:\n--- at once\n%.*s\n--- in pieces\n%.*s",
             (int)la, ua, (int)lb, ub);
    if (a->nanswers != b->nanswers || memcmp(a->answers, b->answers, a->nanswers * sizeof *a->answers) != 0 ||
        a->ncalls != b->ncalls)
        FAIL("the answers queued depend on where the input was split");
    for (size_t i = 0; i < a->ncalls; i++) {
        const call *x = &a->calls[i], *y = &b->calls[i];
        if (strcmp(x->method, y->method) != 0 || x->too_large != y->too_large || x->body_len != y->body_len ||
            (x->body_len && memcmp(x->body, y->body, x->body_len) != 0))
            FAIL("route call %zu depends on where the input was split", i + 1);
    }
}

static void reset(run *r)
{
    for (size_t i = 0; i < r->ncalls; i++) {
        free(r->calls[i].method);
        free(r->calls[i].body);
    }
    r->ncalls = r->nanswers = r->out_len = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t bodies[4] = {0, 16, 1000, 100000};
    static const size_t heads[4] = {0, 64, 300, 9000};
    static const size_t pieces[4] = {1, 7, 64, 1500};
    static rp__http_server *servers[32];
    if (!runs[0].out) {
        runs[0].out = malloc(OUT_CAP);
        runs[1].out = malloc(OUT_CAP);
        if (!runs[0].out || !runs[1].out)
            abort();
    }
    if (size < 2)
        return 0;
    unsigned conf = data[1] & 31;
    if (!servers[conf]) {
        rp__http_server_config cfg = {
            .max_body_bytes = bodies[conf & 3],
            .max_header_bytes = heads[(conf >> 2) & 3],
            .max_total_body_bytes = conf & 16 ? 10 : 0,
            .route = route,
        };
        rp_error err;
        if (rp__http_server_detached(&cfg, &servers[conf], &err) != 0)
            FAIL("%s", err.msg);
    }
    rp__http_server *s = servers[conf];
    cur_max_body = bodies[conf & 3];
    bool expire = data[1] & 32;
    size_t piece = pieces[data[1] >> 6];
    rng = 0x9e3779b9u ^ data[0];
    data += 2;
    size -= 2;

    reset(&runs[0]);
    reset(&runs[1]);
    feed(s, &runs[0], data, size, 0, expire);
    check_answers(&runs[0]);
    check_bodies(&runs[0], data, size);
    feed(s, &runs[1], data, size, piece, expire);
    check_answers(&runs[1]);
    same_runs(&runs[0], &runs[1]);
    return 0;
}
