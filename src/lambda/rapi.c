/* The Lambda Runtime API client (see rapi.h for what it does and why it is
 * not libcurl). */
#include "lambda/rapi.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/iov.h"
#include "ridepred/log.h"

#ifndef RIDEPRED_VERSION
#define RIDEPRED_VERSION "0.1.0"
#endif

#define DEFAULT_TIMEOUT_MS 30000u
#define DEFAULT_CONNECT_TIMEOUT_MS 3000u
#define DEFAULT_RETRY ((rp__retry_policy){5, 100, 2000})
/* The first allocation of the receive buffer, and the least free room
 * asked of it before a recv. */
#define IN_INITIAL ((size_t)16 * 1024)
#define IN_MIN_ROOM ((size_t)4 * 1024)
/* The request head: method, path (a request id is at most a few hundred
 * bytes encoded), a few headers. */
#define REQ_HEAD_MAX ((size_t)8 * 1024)

struct rp__rapi {
    char address[262]; /* as given: messages and the Host header */
    char host[256];    /* without brackets */
    char port[8];
    rp__rapi_options opt;
    struct addrinfo *ai;    /* resolved on the first connection, kept */
    int fd;                 /* -1: not connected */
    uint64_t conn_requests; /* requests sent on the current connection */
    /* The receive buffer: answers are parsed (and chunked bodies decoded)
     * in place.  [keep_off, keep_off + keep_len) holds bytes received after
     * the last answer (a server may pipeline). */
    char *in;
    size_t in_len, in_cap;
    size_t keep_off, keep_len;
    char head[REQ_HEAD_MAX];
    rp__rapi_hooks hooks;
    uint64_t rng;
    rp__rapi_stats stats;
};

/* ---- address ------------------------------------------------------------------ */

static int split_address(rp__rapi *c, const char *a, rp_error *err)
{
    size_t n = strlen(a);
    if (!n || n >= sizeof c->address)
        return rp_error_set(err, RP_ERR_INVALID, "the address must be HOST:PORT (1 to 255 bytes)");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)a[i] <= 0x20 || (unsigned char)a[i] >= 0x7f || strchr("/?#@\\", a[i]))
            return rp_error_set(err, RP_ERR_INVALID,
                                "the address must be HOST:PORT, without scheme, path or user");
    memcpy(c->address, a, n + 1);
    const char *host = a, *port = NULL;
    size_t host_len;
    if (a[0] == '[') {
        const char *close = strchr(a, ']');
        if (!close || close == a + 1)
            return rp_error_set(err, RP_ERR_INVALID, "an IPv6 address must be [ADDRESS]:PORT");
        host = a + 1;
        host_len = (size_t)(close - host);
        if (close[1] == ':')
            port = close + 2;
        else if (close[1])
            return rp_error_set(err, RP_ERR_INVALID, "an IPv6 address must be [ADDRESS]:PORT");
    } else {
        const char *colon = strchr(a, ':');
        if (colon && strchr(colon + 1, ':'))
            return rp_error_set(err, RP_ERR_INVALID, "an IPv6 address must be in brackets: [ADDRESS]:PORT");
        host_len = colon ? (size_t)(colon - a) : n;
        if (colon)
            port = colon + 1;
    }
    if (!host_len)
        return rp_error_set(err, RP_ERR_INVALID, "no host");
    memcpy(c->host, host, host_len);
    c->host[host_len] = '\0';
    if (!port) {
        snprintf(c->port, sizeof c->port, "80");
        return 0;
    }
    unsigned long v = 0;
    size_t digits = 0;
    for (const char *p = port; *p; p++, digits++) {
        if (*p < '0' || *p > '9' || digits >= 5)
            return rp_error_set(err, RP_ERR_INVALID, "the port must be a number from 1 to 65535");
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (!digits || v == 0 || v > 65535)
        return rp_error_set(err, RP_ERR_INVALID, "the port must be a number from 1 to 65535");
    snprintf(c->port, sizeof c->port, "%lu", v);
    return 0;
}

/* ---- defaults of the hooks ---------------------------------------------------------- */

static int default_exchange(void *ctx, rp__rapi *c, const rp__rapi_request *req, rp__rapi_response *resp,
                            rp_error *err)
{
    (void)ctx;
    return rp__rapi_send(c, req, resp, err);
}

int rp__rapi_new(const char *address, const rp__rapi_options *opt, rp__rapi **out, rp_error *err)
{
    *out = NULL;
    rp__rapi *c = calloc(1, sizeof *c);
    if (!c)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    if (split_address(c, address ? address : "", err) < 0) {
        free(c);
        return -1;
    }
    if (opt)
        c->opt = *opt;
    if (!c->opt.timeout_ms)
        c->opt.timeout_ms = DEFAULT_TIMEOUT_MS;
    if (!c->opt.connect_timeout_ms)
        c->opt.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    if (!c->opt.retry.max_attempts)
        c->opt.retry = DEFAULT_RETRY;
    c->fd = -1;
    c->hooks.exchange = default_exchange;
    c->hooks.sleep_ms = rp__retry_sleep;
    c->hooks.random = rp__retry_random;
    c->hooks.random_ctx = &c->rng;
    c->rng = rp__retry_seed(c);
    *out = c;
    return 0;
}

static void disconnect(rp__rapi *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->conn_requests = 0;
    c->keep_len = 0;
}

void rp__rapi_free(rp__rapi *c)
{
    if (!c)
        return;
    disconnect(c);
    if (c->ai)
        freeaddrinfo(c->ai);
    free(c->in);
    free(c);
}

rp__rapi_hooks *rp__rapi_get_hooks(rp__rapi *c)
{
    return &c->hooks;
}

const rp__rapi_options *rp__rapi_get_options(const rp__rapi *c)
{
    return &c->opt;
}

void rp__rapi_get_stats(const rp__rapi *c, rp__rapi_stats *out)
{
    *out = c->stats;
}

/* ---- the answer parser ------------------------------------------------------------------
 *
 * A resumable state machine over c->in: feed() consumes what was received
 * and says whether the answer is complete.  Positions are offsets (the
 * buffer moves when it grows); views are made at the end. */

enum {
    ST_HEAD,
    ST_BODY_LEN,
    ST_BODY_EOF,
    ST_CHUNK_SIZE,
    ST_CHUNK_DATA,
    ST_CHUNK_END,
    ST_TRAILERS,
    ST_DONE
};

/* feed() results */
#define P_MORE 1
#define P_DONE 0
#define P_ERROR (-1)

typedef struct span {
    size_t off, len;
    bool set;
} span;

typedef struct parser {
    rp__rapi *c;
    size_t body_max;
    int state;
    size_t start;    /* where the current answer's head starts */
    size_t pos;      /* parse position */
    size_t scan;     /* where the search for the head's end resumes */
    size_t body_off; /* where the body starts (after the head) */
    size_t body_len; /* body bytes so far (decoded), at body_off */
    uint64_t left;   /* bytes left: of a Content-Length body, of a chunk */
    int status;
    bool close; /* Connection: close, HTTP/1.0, body to the end */
    bool toobig;
    bool any;         /* any byte received for this request */
    unsigned interim; /* 1xx answers skipped */
    size_t trailers;  /* trailer bytes so far */
    span head;        /* header lines */
    span rid, deadline, trace, arn;
} parser;

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool name_is(const char *p, size_t n, const char *lit, size_t lit_len)
{
    return n == lit_len && strncasecmp(p, lit, n) == 0;
}
#define NAME_IS(p, n, lit) name_is((p), (n), (lit), sizeof(lit) - 1)

/* True when the comma-separated list v holds token tok (any case). */
static bool list_has(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok);
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
            return true;
    }
    return false;
}

/* Parses the head in c->in[start, end) (end: after the blank line).
 * Returns 0, or -1 with err set. */
static int parse_head(parser *p, size_t end, bool *chunked, bool *has_len, uint64_t *len, rp_error *err)
{
    const char *b = p->c->in;
    size_t i = p->start;
    /* The status line: HTTP/1.x SSS[ reason] */
    const char *nl = memchr(b + i, '\n', end - i);
    size_t le = (size_t)(nl - b);
    size_t ll = le - i;
    if (ll && b[le - 1] == '\r')
        ll--;
    const char *s = b + i;
    if (ll < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ' ||
        s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9' ||
        (ll > 12 && s[12] != ' '))
        return rp_error_set(err, RP_ERR_INVALID,
                            "the Runtime API's answer does not start with an HTTP/1.x status line");
    p->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    bool keep_alive = false, close_hdr = false;
    *chunked = *has_len = false;
    *len = 0;
    p->rid.set = p->deadline.set = p->trace.set = p->arn.set = false;
    i = le + 1;
    p->head.off = i;
    p->head.len = 0;
    while (i < end) {
        nl = memchr(b + i, '\n', end - i);
        le = (size_t)(nl - b);
        ll = le - i;
        if (ll && b[le - 1] == '\r')
            ll--;
        if (!ll) {
            p->head.len = i - p->head.off;
            break;
        }
        const char *line = b + i;
        size_t k = 0;
        while (k < ll && is_tchar((unsigned char)line[k]))
            k++;
        if (!k || k >= ll || line[k] != ':')
            return rp_error_set(err, RP_ERR_INVALID,
                                "the Runtime API's answer has a malformed header line (no \"Name:\")");
        const char *name = line;
        size_t nn = k;
        size_t vs = k + 1, ve = ll;
        while (vs < ve && (line[vs] == ' ' || line[vs] == '\t'))
            vs++;
        while (ve > vs && (line[ve - 1] == ' ' || line[ve - 1] == '\t'))
            ve--;
        for (size_t j = vs; j < ve; j++)
            if (((unsigned char)line[j] < 0x20 && line[j] != '\t') || line[j] == 0x7f)
                return rp_error_set(err, RP_ERR_INVALID,
                                    "the Runtime API's answer has a control character in a header");
        const char *v = line + vs;
        size_t vn = ve - vs;
        span val = {(size_t)(v - b), vn, true};
        if (NAME_IS(name, nn, "Content-Length")) {
            if (!vn || vn > 19)
                return rp_error_set(err, RP_ERR_INVALID, "the Runtime API's answer has a bad Content-Length");
            uint64_t x = 0;
            for (size_t j = 0; j < vn; j++) {
                if (v[j] < '0' || v[j] > '9')
                    return rp_error_set(err, RP_ERR_INVALID,
                                        "the Runtime API's answer has a bad Content-Length");
                x = x * 10 + (uint64_t)(v[j] - '0');
            }
            if (*has_len && x != *len)
                return rp_error_set(err, RP_ERR_INVALID,
                                    "the Runtime API's answer has two different Content-Length headers");
            *has_len = true;
            *len = x;
        } else if (NAME_IS(name, nn, "Transfer-Encoding")) {
            /* Only "chunked" (possibly with identity) is served. */
            if (!list_has(v, vn, "chunked"))
                return rp_error_set(err, RP_ERR_UNSUPPORTED,
                                    "the Runtime API's answer has an unsupported Transfer-Encoding");
            for (size_t j = 0, s0 = 0; j <= vn; j++) {
                if (j == vn || v[j] == ',') {
                    size_t a = s0, z = j;
                    while (a < z && (v[a] == ' ' || v[a] == '\t'))
                        a++;
                    while (z > a && (v[z - 1] == ' ' || v[z - 1] == '\t'))
                        z--;
                    if (z > a && !NAME_IS(v + a, z - a, "chunked") && !NAME_IS(v + a, z - a, "identity"))
                        return rp_error_set(err, RP_ERR_UNSUPPORTED,
                                            "the Runtime API's answer has an unsupported Transfer-Encoding");
                    s0 = j + 1;
                }
            }
            *chunked = true;
        } else if (NAME_IS(name, nn, "Connection")) {
            if (list_has(v, vn, "close"))
                close_hdr = true;
            if (list_has(v, vn, "keep-alive"))
                keep_alive = true;
        } else if (NAME_IS(name, nn, "Lambda-Runtime-Aws-Request-Id")) {
            if (!p->rid.set)
                p->rid = val;
        } else if (NAME_IS(name, nn, "Lambda-Runtime-Deadline-Ms")) {
            if (!p->deadline.set)
                p->deadline = val;
        } else if (NAME_IS(name, nn, "Lambda-Runtime-Trace-Id")) {
            if (!p->trace.set)
                p->trace = val;
        } else if (NAME_IS(name, nn, "Lambda-Runtime-Invoked-Function-Arn")) {
            if (!p->arn.set)
                p->arn = val;
        }
        /* Lambda-Runtime-Client-Context, Lambda-Runtime-Cognito-Identity and
         * anything else: ignored. */
        i = le + 1;
    }
    /* HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes
     * unless told to keep it. */
    p->close = close_hdr || (s[7] == '0' && !keep_alive);
    if (*chunked && *has_len) {
        /* RFC 9112 6.3: chunked wins, and the connection must not be reused. */
        *has_len = false;
        p->close = true;
    }
    return 0;
}

/* Moves bytes not yet parsed down over the framing already consumed of a
 * chunked body, so that the buffer holds the head, the decoded body and
 * what is pending only. */
static void compact(parser *p)
{
    rp__rapi *c = p->c;
    size_t dst = p->body_off + p->body_len;
    if (p->state < ST_CHUNK_SIZE || p->state == ST_DONE || p->pos <= dst)
        return;
    size_t pending = c->in_len - p->pos;
    memmove(c->in + dst, c->in + p->pos, pending);
    c->in_len = dst + pending;
    p->pos = dst;
}

/* Finds the end of a line from p->pos within [pos, in_len): the offset of
 * the '\n', or (size_t)-1. */
static size_t line_end(const parser *p)
{
    const char *nl = memchr(p->c->in + p->pos, '\n', p->c->in_len - p->pos);
    return nl ? (size_t)(nl - p->c->in) : (size_t)-1;
}

static int feed(parser *p, bool eof, rp_error *err)
{
    rp__rapi *c = p->c;
    for (;;) {
        switch (p->state) {
        case ST_HEAD: {
            /* The blank line that ends the head: "\n\r\n" or "\n\n". */
            size_t i = p->scan > p->start ? p->scan : p->start;
            size_t end = (size_t)-1;
            const char *b = c->in;
            for (; i < c->in_len; i++) {
                const char *nl = memchr(b + i, '\n', c->in_len - i);
                if (!nl) {
                    i = c->in_len;
                    break;
                }
                i = (size_t)(nl - b);
                if (i + 1 >= c->in_len)
                    break; /* undecided: resume at this '\n' */
                if (b[i + 1] == '\n') {
                    end = i + 2;
                    break;
                }
                if (b[i + 1] == '\r') {
                    if (i + 2 >= c->in_len)
                        break;
                    if (b[i + 2] == '\n') {
                        end = i + 3;
                        break;
                    }
                }
            }
            if (end == (size_t)-1) {
                size_t have = c->in_len - p->start;
                p->scan = i;
                if (have > RP_RAPI_HEAD_MAX) {
                    p->close = true;
                    return rp_error_set(err, RP_ERR_LIMIT,
                                        "the Runtime API's answer has more than %zu bytes of headers",
                                        RP_RAPI_HEAD_MAX);
                }
                if (!eof)
                    return P_MORE;
                p->close = true;
                if (!have)
                    rp_error_set(err, RP_ERR_IO, "the Runtime API closed the connection without an answer");
                else
                    rp_error_set(
                        err, RP_ERR_IO,
                        "the Runtime API closed the connection in the middle of an answer's headers");
                err->retriable = true;
                return P_ERROR;
            }
            if (end - p->start > RP_RAPI_HEAD_MAX) {
                p->close = true;
                return rp_error_set(err, RP_ERR_LIMIT,
                                    "the Runtime API's answer has more than %zu bytes of headers",
                                    RP_RAPI_HEAD_MAX);
            }
            bool chunked = false, has_len = false;
            uint64_t len = 0;
            if (parse_head(p, end, &chunked, &has_len, &len, err) < 0) {
                p->close = true;
                return P_ERROR;
            }
            if (p->status < 200) {
                if (p->status == 101) {
                    p->close = true;
                    return rp_error_set(err, RP_ERR_INVALID,
                                        "the Runtime API answered 101 Switching Protocols");
                }
                /* An interim answer (100 Continue...): dropped, the final
                 * one follows. */
                if (++p->interim > 16) {
                    p->close = true;
                    return rp_error_set(err, RP_ERR_INVALID,
                                        "the Runtime API sent more than 16 interim answers");
                }
                memmove(c->in, c->in + end, c->in_len - end);
                c->in_len -= end;
                p->start = p->scan = 0;
                continue;
            }
            p->pos = p->body_off = end;
            p->body_len = 0;
            if (p->status == 204 || p->status == 304) {
                p->state = ST_DONE;
            } else if (chunked) {
                p->state = ST_CHUNK_SIZE;
            } else if (has_len) {
                if (len > p->body_max) {
                    /* Not read at all: the connection goes. */
                    p->toobig = true;
                    p->close = true;
                    p->state = ST_DONE;
                } else {
                    p->left = len;
                    p->state = ST_BODY_LEN;
                }
            } else {
                p->close = true;
                p->state = ST_BODY_EOF;
            }
            continue;
        }
        case ST_BODY_LEN: {
            size_t avail = c->in_len - p->pos;
            size_t take = avail < p->left ? avail : (size_t)p->left;
            p->pos += take;
            p->body_len += take;
            p->left -= take;
            if (!p->left) {
                p->state = ST_DONE;
                continue;
            }
            if (eof) {
                p->close = true;
                rp_error_set(err, RP_ERR_IO,
                             "the Runtime API closed the connection in the middle of an answer's body "
                             "(%zu of %zu bytes)",
                             p->body_len, p->body_len + (size_t)p->left);
                err->retriable = true;
                return P_ERROR;
            }
            return P_MORE;
        }
        case ST_BODY_EOF:
            p->body_len += c->in_len - p->pos;
            p->pos = c->in_len;
            if (p->body_len > p->body_max) {
                p->toobig = true;
                p->state = ST_DONE;
                continue;
            }
            if (eof) {
                p->state = ST_DONE;
                continue;
            }
            return P_MORE;
        case ST_CHUNK_SIZE: {
            size_t le = line_end(p);
            if (le == (size_t)-1) {
                if (c->in_len - p->pos > RP_RAPI_CHUNK_LINE_MAX)
                    goto bad_chunk;
                goto more_chunked;
            }
            const char *s = c->in + p->pos;
            size_t n = le - p->pos;
            if (n > RP_RAPI_CHUNK_LINE_MAX)
                goto bad_chunk;
            if (n && s[n - 1] == '\r')
                n--;
            uint64_t size = 0;
            size_t k = 0;
            for (; k < n; k++) {
                int d;
                char ch = s[k];
                if (ch >= '0' && ch <= '9')
                    d = ch - '0';
                else if (ch >= 'a' && ch <= 'f')
                    d = ch - 'a' + 10;
                else if (ch >= 'A' && ch <= 'F')
                    d = ch - 'A' + 10;
                else
                    break;
                if (k >= 15)
                    goto bad_chunk; /* 16 hex digits and more: no body is that large */
                size = size * 16 + (uint64_t)d;
            }
            if (!k)
                goto bad_chunk;
            while (k < n && (s[k] == ' ' || s[k] == '\t'))
                k++;
            if (k < n && s[k] != ';')
                goto bad_chunk;
            p->pos = le + 1;
            if (!size) {
                p->state = ST_TRAILERS;
                continue;
            }
            if (size > p->body_max - p->body_len) {
                p->toobig = true;
                p->close = true;
                p->state = ST_DONE;
                continue;
            }
            p->left = size;
            p->state = ST_CHUNK_DATA;
            continue;
        }
        case ST_CHUNK_DATA: {
            size_t avail = c->in_len - p->pos;
            size_t take = avail < p->left ? avail : (size_t)p->left;
            size_t dst = p->body_off + p->body_len;
            if (take && dst != p->pos)
                memmove(c->in + dst, c->in + p->pos, take);
            p->pos += take;
            p->body_len += take;
            p->left -= take;
            if (p->left) {
                goto more_chunked;
            }
            p->state = ST_CHUNK_END;
            continue;
        }
        case ST_CHUNK_END: {
            size_t avail = c->in_len - p->pos;
            const char *s = c->in + p->pos;
            if (avail >= 1 && s[0] == '\n') {
                p->pos += 1;
            } else if (avail >= 2 && s[0] == '\r' && s[1] == '\n') {
                p->pos += 2;
            } else if (avail == 0 || (avail == 1 && s[0] == '\r')) {
                goto more_chunked;
            } else {
                goto bad_chunk;
            }
            p->state = ST_CHUNK_SIZE;
            continue;
        }
        case ST_TRAILERS: {
            size_t le = line_end(p);
            if (le == (size_t)-1) {
                if (c->in_len - p->pos > RP_RAPI_HEAD_MAX)
                    goto bad_chunk;
                goto more_chunked;
            }
            size_t n = le - p->pos;
            p->trailers += n + 1;
            if (n && c->in[le - 1] == '\r')
                n--;
            p->pos = le + 1;
            if (!n)
                p->state = ST_DONE;
            else if (p->trailers > RP_RAPI_HEAD_MAX)
                goto bad_chunk; /* trailers without end */
            continue;
        }
        case ST_DONE:
        default: return P_DONE;
        }
    more_chunked:
        if (eof) {
            p->close = true;
            rp_error_set(err, RP_ERR_IO,
                         "the Runtime API closed the connection in the middle of a chunked body");
            err->retriable = true;
            return P_ERROR;
        }
        compact(p);
        return P_MORE;
    bad_chunk:
        p->close = true;
        return rp_error_set(err, RP_ERR_INVALID, "the Runtime API's answer has a malformed chunked body");
    }
}

/* Room for at least `want` more bytes in the receive buffer, within the
 * parser's bound.  Returns 0, or -1 (out of memory). */
static int reserve(rp__rapi *c, size_t want)
{
    if (c->in_cap - c->in_len > want)
        return 0;
    size_t need = c->in_len + want + 1;
    size_t cap = c->in_cap ? c->in_cap : IN_INITIAL;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *n = realloc(c->in, cap);
    if (!n)
        return -1;
    c->in = n;
    c->in_cap = cap;
    return 0;
}

/* How much to read next: for a Content-Length body, what is left of it
 * (so that the buffer grows once to its size); else at least IN_MIN_ROOM.
 * The buffer never holds more than the head, the body cap, and one chunk
 * line or trailer block. */
static size_t room_wanted(const parser *p)
{
    if (p->state == ST_BODY_LEN)
        return (size_t)p->left;
    return IN_MIN_ROOM;
}

static void parser_start(parser *p, rp__rapi *c, size_t body_max)
{
    memset(p, 0, sizeof *p);
    p->c = c;
    p->body_max = body_max;
    p->state = ST_HEAD;
    /* Bytes kept from the last answer come first. */
    if (c->keep_len && c->keep_off)
        memmove(c->in, c->in + c->keep_off, c->keep_len);
    c->in_len = c->keep_len;
    c->keep_off = c->keep_len = 0;
    p->any = c->in_len > 0;
}

static rp__rapi_str view(const rp__rapi *c, span s)
{
    return s.set ? (rp__rapi_str){c->in + s.off, s.len} : (rp__rapi_str){NULL, 0};
}

static void parser_finish(parser *p, rp__rapi_response *r)
{
    rp__rapi *c = p->c;
    memset(r, 0, sizeof *r);
    r->status = p->status;
    r->head = (rp__rapi_str){c->in + p->head.off, p->head.len};
    r->request_id = view(c, p->rid);
    r->deadline_ms = view(c, p->deadline);
    r->trace_id = view(c, p->trace);
    r->function_arn = view(c, p->arn);
    r->body_toobig = p->toobig;
    size_t end = p->body_off + p->body_len;
    if (p->toobig) {
        r->body = "";
        r->body_len = 0;
    } else {
        /* The byte after the body: NUL for the caller, after keeping any
         * bytes that follow (moved past the NUL). */
        size_t extra = c->in_len - p->pos;
        if (extra && !p->close) {
            /* [pos, in_len) to [end + 1, ...): there is room, since pos >=
             * end and reserve kept a spare byte at the end. */
            memmove(c->in + end + 1, c->in + p->pos, extra);
            c->keep_off = end + 1;
            c->keep_len = extra;
        }
        c->in[end] = '\0';
        r->body = c->in + p->body_off;
        r->body_len = p->body_len;
    }
}

/* Reads from memory: the exchange of rp__rapi_parse. */
typedef struct mem_src {
    const char *data;
    size_t len, off, piece;
} mem_src;

/* Runs the parser over input from fd (recv) or from memory.  Returns 0 with
 * resp filled, or -1 with err set.  *got_any tells whether any byte came. */
static int read_answer(rp__rapi *c, int fd, mem_src *mem, size_t body_max, bool wait, rp__rapi_response *resp,
                       bool *got_any, rp_error *err)
{
    parser p;
    parser_start(&p, c, body_max);
    struct timespec t0 = {0, 0};
    bool timed = fd >= 0 && !wait;
    if (timed)
        clock_gettime(CLOCK_MONOTONIC, &t0);
    bool eof = false;
    int r = p.any ? feed(&p, false, err) : P_MORE;
    while (r == P_MORE) {
        if (reserve(c, room_wanted(&p)) < 0) {
            disconnect(c);
            return rp_error_set(err, RP_ERR_NOMEM, "out of memory reading the Runtime API's answer");
        }
        size_t room = c->in_cap - c->in_len - 1;
        ssize_t n;
        if (mem) {
            size_t take = mem->len - mem->off;
            if (mem->piece && take > mem->piece)
                take = mem->piece;
            if (take > room)
                take = room;
            memcpy(c->in + c->in_len, mem->data + mem->off, take);
            mem->off += take;
            n = (ssize_t)take;
        } else {
            n = recv(fd, c->in + c->in_len, room, 0);
            if (n < 0) {
                int e = errno;
                if (e == EINTR)
                    continue;
                if (e == EAGAIN || e == EWOULDBLOCK) {
                    if (!timed)
                        continue; /* /next: wait on */
                    struct timespec t1;
                    clock_gettime(CLOCK_MONOTONIC, &t1);
                    double ms =
                        (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
                    disconnect(c);
                    rp_error_set(err, RP_ERR_IO, "no answer from the Runtime API within %.0f ms", ms);
                    err->retriable = true;
                    *got_any = p.any;
                    return -1;
                }
                disconnect(c);
                rp_error_set(err, RP_ERR_IO, "reading the Runtime API's answer: %s", strerror(e));
                err->retriable = true;
                *got_any = p.any;
                return -1;
            }
        }
        if (n == 0) {
            eof = true;
        } else {
            c->in_len += (size_t)n;
            p.any = true;
        }
        r = feed(&p, eof, err);
        if (r == P_MORE && timed) {
            struct timespec t1;
            clock_gettime(CLOCK_MONOTONIC, &t1);
            uint64_t ms = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000u + (uint64_t)(t1.tv_nsec / 1000000) -
                          (uint64_t)(t0.tv_nsec / 1000000);
            if (ms > 2ull * c->opt.timeout_ms) {
                disconnect(c);
                rp_error_set(err, RP_ERR_IO, "the Runtime API's answer took more than %llu ms",
                             (unsigned long long)(2ull * c->opt.timeout_ms));
                err->retriable = true;
                *got_any = true;
                return -1;
            }
        }
    }
    *got_any = p.any;
    if (r == P_ERROR) {
        disconnect(c);
        return -1;
    }
    parser_finish(&p, resp);
    if (p.close && fd >= 0) {
        /* The views stay valid: disconnecting keeps the buffer. */
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        c->conn_requests = 0;
        c->keep_len = 0;
    }
    if (p.close)
        c->keep_len = 0;
    return 0;
}

int rp__rapi_parse(rp__rapi *c, const void *data, size_t len, size_t piece, size_t body_max,
                   rp__rapi_response *resp, rp_error *err)
{
    mem_src m = {data, len, 0, piece};
    bool any;
    c->keep_len = 0;
    return read_answer(c, -1, &m, body_max, false, resp, &any, err);
}

bool rp__rapi_header(const rp__rapi_response *r, const char *name, rp__rapi_str *value)
{
    size_t nl = strlen(name);
    const char *s = r->head.p, *end = r->head.p + r->head.n;
    while (s && s < end) {
        const char *e = memchr(s, '\n', (size_t)(end - s));
        if (!e)
            e = end;
        if ((size_t)(e - s) > nl && s[nl] == ':' && strncasecmp(s, name, nl) == 0) {
            const char *v = s + nl + 1, *ve = e;
            if (ve > v && ve[-1] == '\r')
                ve--;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *value = (rp__rapi_str){v, (size_t)(ve - v)};
            return true;
        }
        s = e + 1;
    }
    *value = (rp__rapi_str){NULL, 0};
    return false;
}

/* ---- the connection ------------------------------------------------------------------------ */

static bool errno_retriable(int e)
{
    return e == ECONNREFUSED || e == ECONNRESET || e == ECONNABORTED || e == EPIPE || e == ETIMEDOUT ||
           e == EINPROGRESS || e == EAGAIN || e == EWOULDBLOCK || e == ENETUNREACH || e == EHOSTUNREACH ||
           e == ENETDOWN || e == EHOSTDOWN || e == EADDRNOTAVAIL || e == EINTR;
}

static void set_timeout(int fd, int opt, uint32_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    (void)setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

static int connect_api(rp__rapi *c, rp_error *err)
{
    if (!c->ai) {
        struct addrinfo hints = {
            .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
        int rc = getaddrinfo(c->host, c->port, &hints, &c->ai);
        if (rc != 0) {
            c->ai = NULL;
            rp_error_set(err, RP_ERR_IO, "cannot resolve %s: %s", c->host,
                         rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
            err->retriable = rc == EAI_AGAIN || rc == EAI_SYSTEM;
            return -1;
        }
    }
    int last = ECONNREFUSED;
    for (struct addrinfo *a = c->ai; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        /* connect(2) honours SO_SNDTIMEO: the connect timeout. */
        set_timeout(fd, SO_SNDTIMEO, c->opt.connect_timeout_ms);
        int rc;
        do {
            rc = connect(fd, a->ai_addr, a->ai_addrlen);
        } while (rc < 0 && errno == EINTR);
        if (rc < 0) {
            last = errno == EINPROGRESS ? ETIMEDOUT : errno;
            close(fd);
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        /* Every later send and recv: a wait of timeout_ms at most (/next
         * waits on in turns). */
        set_timeout(fd, SO_SNDTIMEO, c->opt.timeout_ms);
        set_timeout(fd, SO_RCVTIMEO, c->opt.timeout_ms);
        c->fd = fd;
        c->conn_requests = 0;
        c->keep_len = 0;
        c->stats.connections++;
        return 0;
    }
    rp_error_set(err, RP_ERR_IO, "cannot connect to %s: %s", c->address, strerror(last));
    err->retriable = errno_retriable(last);
    return -1;
}

/* Appends a string to the request head; false when it does not fit. */
static bool put(char *h, size_t *n, const char *s, size_t len)
{
    if (len > REQ_HEAD_MAX - *n)
        return false;
    memcpy(h + *n, s, len);
    *n += len;
    return true;
}
#define PUT_LIT(h, n, s) put((h), (n), (s), sizeof(s) - 1)

static bool clean_value(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            return false;
    return true;
}

static int build_head(rp__rapi *c, const rp__rapi_request *req, size_t *len, rp_error *err)
{
    char *h = c->head;
    size_t n = 0;
    const char *m = req->method ? req->method : "GET";
    bool ok = put(h, &n, m, strlen(m)) && PUT_LIT(h, &n, " ") && put(h, &n, req->path, strlen(req->path)) &&
              PUT_LIT(h, &n, " HTTP/1.1\r\nHost: ") && put(h, &n, c->address, strlen(c->address)) &&
              PUT_LIT(h, &n, "\r\nUser-Agent: ridepred/" RIDEPRED_VERSION "\r\n");
    if (ok && strcmp(m, "GET") != 0) {
        char num[24];
        size_t k = sizeof num;
        size_t v = req->body_len;
        do {
            num[--k] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        ok = PUT_LIT(h, &n, "Content-Type: application/json\r\nContent-Length: ") &&
             put(h, &n, num + k, sizeof num - k) && PUT_LIT(h, &n, "\r\n");
    }
    if (ok && req->error_type)
        ok = PUT_LIT(h, &n, "Lambda-Runtime-Function-Error-Type: ") &&
             put(h, &n, req->error_type, strlen(req->error_type)) && PUT_LIT(h, &n, "\r\n");
    ok = ok && PUT_LIT(h, &n, "\r\n");
    if (!ok)
        return rp_error_set(err, RP_ERR_LIMIT, "Runtime API request head over %zu bytes", REQ_HEAD_MAX);
    *len = n;
    return 0;
}

static int send_all(rp__rapi *c, const char *head, size_t head_len, const void *body, size_t body_len,
                    rp_error *err)
{
    struct iovec iov[2] = {{(void *)head, head_len}, {(void *)body, body_len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = body_len ? 2 : 1};
    size_t left = head_len + body_len;
    while (left) {
        ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            disconnect(c);
            if (e == EAGAIN || e == EWOULDBLOCK)
                rp_error_set(err, RP_ERR_IO, "the Runtime API took no data for %u ms",
                             (unsigned)c->opt.timeout_ms);
            else
                rp_error_set(err, RP_ERR_IO, "sending to the Runtime API: %s", strerror(e));
            err->retriable = errno_retriable(e);
            return -1;
        }
        left -= (size_t)n;
        rp__iov_advance(&msg, (size_t)n);
    }
    return 0;
}

int rp__rapi_send(rp__rapi *c, const rp__rapi_request *req, rp__rapi_response *resp, rp_error *err)
{
    if (req->error_type && !clean_value(req->error_type))
        return rp_error_set(err, RP_ERR_INVALID, "an error type with control characters cannot be sent");
    if (!clean_value(req->path) || strchr(req->path, ' '))
        return rp_error_set(err, RP_ERR_INVALID, "a Runtime API path with blanks or control characters");
    size_t head_len = 0;
    if (build_head(c, req, &head_len, err) < 0)
        return -1;
    /* A kept connection the server has closed meanwhile fails before any
     * byte of an answer: once, the request goes again on a new one. */
    for (int pass = 0;; pass++) {
        if (c->fd < 0 && connect_api(c, err) < 0)
            return -1;
        bool reused = c->conn_requests > 0;
        c->conn_requests++;
        c->stats.requests++;
        if (send_all(c, c->head, head_len, req->body, req->body_len, err) < 0) {
            if (reused && pass == 0 && err->retriable)
                continue;
            return -1;
        }
        bool any = false;
        if (read_answer(c, c->fd, NULL, req->body_max, req->wait, resp, &any, err) == 0)
            return 0;
        if (reused && !any && pass == 0 && err->retriable)
            continue;
        return -1;
    }
}

int rp__rapi_call(rp__rapi *c, const rp__rapi_request *req, rp__rapi_response *resp, rp_error *err)
{
    const rp__retry_policy *p = &c->opt.retry;
    unsigned max = p->max_attempts ? p->max_attempts : 1;
    unsigned attempt = 0;
    for (;;) {
        attempt++;
        err->retriable = false;
        if (c->hooks.exchange(c->hooks.exchange_ctx, c, req, resp, err) == 0) {
            c->stats.last_attempts = attempt;
            return 0;
        }
        if (!err->retriable || attempt >= max)
            break;
        uint32_t ms = rp__retry_delay_ms(p, attempt, c->hooks.random(c->hooks.random_ctx));
        if (rp_log_enabled(RP_LOG_WARN)) {
            char a[16], d[16];
            snprintf(a, sizeof a, "%u", attempt + 1);
            snprintf(d, sizeof d, "%u", (unsigned)ms);
            rp_log(RP_LOG_WARN, "Runtime API unreachable, retrying", "attempt", a, "delay_ms", d, "reason",
                   err->msg, NULL);
        }
        c->hooks.sleep_ms(c->hooks.sleep_ctx, ms);
    }
    c->stats.last_attempts = attempt;
    if (err->retriable)
        rp_error_prefix(
            err, "cannot reach the Lambda Runtime API at %s (AWS_LAMBDA_RUNTIME_API) after %u attempt%s",
            c->address, attempt, attempt == 1 ? "" : "s");
    else
        rp_error_prefix(err, "Lambda Runtime API at %s (AWS_LAMBDA_RUNTIME_API)", c->address);
    return -1;
}
