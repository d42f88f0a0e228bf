/* The HTTP/1.1 server (see http_server.h), on epoll.
 *
 * Until issue 11 this was libmicrohttpd 0.9.75 (Debian 12), which could not
 * be made to meet the rules in http_server.h: it answers malformed requests
 * itself with an HTML page; for a Content-Length it cannot parse or hold
 * (-5, 2^64) it writes two header blocks in one answer (its
 * parse_connection_headers queues the error, then its state machine builds
 * the header again); it keeps the first of two conflicting Content-Length
 * headers and reads the rest of the body as a second request; its only
 * clock is an idle timeout, which a client sending a byte now and then never
 * reaches.  None of this can be changed from outside the library.
 *
 * The other server libraries of Debian 12, read at their packaged versions
 * (docs/serve.md has the details): libevent 2.1.12's evhttp has only
 * bufferevent timeouts, which every read re-arms (no head deadline); it
 * takes the first Content-Length and ignores the rest (evhttp_get_body_length),
 * lets Transfer-Encoding: chunked override Content-Length and ignores other
 * codings (evhttp_get_body), answers errors with a fixed HTML page
 * (evhttp_send_error), and has no connection caps.  h2o 2.2.5's libh2o-evloop
 * has a real request deadline (one timer from reqread_start, not re-armed by
 * reads, closing without an answer), but keeps the first Content-Length and
 * lets Transfer-Encoding replace it (init_headers), and writes a fixed
 * text/plain 400 for heads it cannot parse (send_bad_request).  Either would
 * have needed a patched fork of a library larger than this server (evhttp's
 * http.c alone is 5,128 lines; h2o's lib/ 24,099).
 *
 * Model: `threads` workers, each with its own epoll set and connections.
 * All wait on the one listening socket (EPOLLEXCLUSIVE: a new connection
 * wakes one of them); a connection stays with the worker that accepted it.
 * Sockets are non-blocking and level-triggered; a worker blocks only in
 * epoll_wait and in the route.
 *
 * A connection's life: HEAD (waiting for, then reading, a request head) ->
 * BODY (Content-Length or chunked) -> the route runs -> WRITE -> HEAD again
 * (keep-alive; pipelined bytes already read are used first), or LINGER
 * (answer sent, write side shut, the client's remaining bytes read and
 * dropped until it closes, so that it reads the answer rather than a reset)
 * -> closed.  Each state has one deadline (0: none), checked by a sweep of
 * the worker's connections when the earliest one is due. */
#define _GNU_SOURCE
#include "common/http_server.h"
#include "common/http_server_internal.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/iov.h"
#include "ridepred/log.h"

#define DEFAULT_HEADER_BYTES ((size_t)32 * 1024)
#define DEFAULT_TIMEOUT_S 30u
/* A body over the limit is read and thrown away (so that the client, still
 * sending, reads the 413 rather than a reset connection) up to this many
 * bytes past the limit; beyond, the answer goes at once and the connection
 * is closed. */
#define DISCARD_MAX_BYTES ((uint64_t)64 * 1024 * 1024)
#define MAX_HEADER_FIELDS 100
/* A chunk-size line (with extensions) or one trailer field line. */
#define CHUNK_LINE_MAX 4096
/* The input buffer starts at this size and doubles up to the head limit. */
#define IN_FIRST_BYTES 4096
/* A Content-Length body is read straight into the body buffer, this much
 * at a time. */
#define BODY_READ_BYTES ((size_t)256 * 1024)
/* After a closing answer: how long, and how many bytes, the client's
 * remaining input is read and dropped before the connection is closed. */
#define LINGER_MS 2000
#define LINGER_MAX_BYTES ((uint64_t)4 * 1024 * 1024)
/* Out of file descriptors: accepting pauses this long. */
#define ACCEPT_PAUSE_MS 100
#define ACCEPT_BATCH 16
#define EVENTS_PER_WAIT 64

/* ---- time --------------------------------------------------------------------- */

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* ---- types -------------------------------------------------------------------- */

typedef struct client_ent {
    struct client_ent *next;
    unsigned char addr[16]; /* IPv6, or IPv4 as ::ffff:a.b.c.d */
    unsigned n;             /* connections open now */
} client_ent;

typedef enum {
    ST_HEAD,
    ST_BODY,
    ST_WRITE,
    ST_LINGER
} conn_state;
typedef enum {
    BODY_NONE,
    BODY_LENGTH,
    BODY_CHUNKED
} body_framing;
typedef enum {
    CH_SIZE,
    CH_DATA,
    CH_DATA_END,
    CH_TRAILER
} chunk_state;
typedef enum {
    AFTER_NEXT,
    AFTER_CONTINUE,
    AFTER_CLOSE
} after_write;

typedef struct header_field {
    const char *name, *value;
} header_field;

typedef struct worker worker;

typedef struct conn {
    worker *w;
    struct conn *prev, *next; /* the worker's connections */
    int fd;
    conn_state state;
    uint32_t events;   /* epoll interest now */
    uint64_t deadline; /* ms; 0: none */
    client_ent *client;
    bool eof; /* the client shut its write side */

    /* Bytes received and not yet used: [in_off, in_len) of in. */
    char *in;
    size_t in_off, in_len, in_cap;
    size_t scan;          /* head: bytes after in_off already scanned */
    bool head_started;    /* head: its first byte has arrived */
    bool first_line_done; /* head: the request line is whole */

    /* The request (valid from the head's end to the answer's end). */
    bool in_request; /* counted in in_flight */
    char *head;      /* a copy of the head, cut into strings */
    size_t head_cap;
    header_field *fields;
    size_t nfields, fields_cap;
    const char *method, *path;
    bool http10, keep_alive, head_only, expect_continue, must_close;
    body_framing framing;
    uint64_t remaining; /* Content-Length bytes, or chunk bytes, left */
    chunk_state chunk;
    size_t trailer_bytes;
    uint64_t body_start, body_progress; /* for the body deadline */
    uint64_t body_deadline;
    rp__buf body;
    size_t reserved; /* bytes of the server's body budget held */
    uint64_t discarded;
    uint64_t body_seen; /* body bytes through body_feed, kept or not (chunked:
                           all; Content-Length: those not read straight in) */
    bool too_large, over_budget;

    /* The answer: out (status line, headers) then obody. */
    rp__buf out;
    const char *obody;
    size_t obody_len;
    char *obody_owned; /* obody when the connection owns it */
    size_t sent;
    after_write after;
    uint64_t lingered;
} conn;

struct worker {
    rp__http_server *s;
    pthread_t thread;
    bool started;
    int ep;
    conn *conns;
    uint64_t next_deadline; /* earliest deadline of conns (may be early) */
    uint64_t accept_resume; /* accepting paused until then; 0: not */
    uint64_t accept_warned; /* when that was last logged */
    time_t date_sec;
    char date[40]; /* "Date: ...\r\n" for date_sec */
};

struct rp__http_server {
    rp__http_server_config cfg;
    int listen_fd, wake_fd;
    unsigned port;
    worker *workers;
    unsigned nworkers;
    size_t in_max; /* input buffer cap */
    uint64_t head_ms, body_ms, idle_ms;
    _Atomic unsigned in_flight;
    _Atomic unsigned connections; /* open now */
    _Atomic size_t body_bytes;    /* buffered now, over all requests */
    size_t max_total_body;
    atomic_bool stopping, quit;
    pthread_mutex_t clients_lock;
    client_ent **clients;
    size_t clients_mask;
    rp__http_answer_fn observe; /* tests only (http_server_internal.h) */
    void *observe_ctx;
};

/* ---- per-client connection counts --------------------------------------------- */

static size_t client_hash(const rp__http_server *s, const unsigned char a[16])
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ a[i]) * 16777619u;
    return h & s->clients_mask;
}

static void client_addr(const struct sockaddr_storage *ss, unsigned char out[16])
{
    memset(out, 0, 16);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    }
}

/* Counts one more connection from addr; NULL when that client is at its cap
 * (or memory is short). */
static client_ent *client_take(rp__http_server *s, const unsigned char addr[16])
{
    size_t h = client_hash(s, addr);
    pthread_mutex_lock(&s->clients_lock);
    client_ent *e = s->clients[h];
    while (e && memcmp(e->addr, addr, 16) != 0)
        e = e->next;
    if (!e) {
        e = calloc(1, sizeof *e);
        if (e) {
            memcpy(e->addr, addr, 16);
            e->next = s->clients[h];
            s->clients[h] = e;
        }
    }
    if (e && e->n >= s->cfg.max_client_connections)
        e = NULL;
    else if (e)
        e->n++;
    pthread_mutex_unlock(&s->clients_lock);
    return e;
}

static void client_drop(rp__http_server *s, client_ent *e)
{
    pthread_mutex_lock(&s->clients_lock);
    if (--e->n == 0) {
        client_ent **pp = &s->clients[client_hash(s, e->addr)];
        while (*pp != e)
            pp = &(*pp)->next;
        *pp = e->next;
        free(e);
    }
    pthread_mutex_unlock(&s->clients_lock);
}

/* ---- request headers ---------------------------------------------------------- */

const char *rp__http_request_header(const rp__http_request *req, const char *name)
{
    const conn *c = req ? req->conn_ : NULL;
    if (!c || !name)
        return NULL;
    for (size_t i = 0; i < c->nfields; i++)
        if (strcasecmp(c->fields[i].name, name) == 0)
            return c->fields[i].value;
    return NULL;
}

void rp__http_reply_header(rp__http_reply *reply, const char *name, const char *value)
{
    if (reply->nheaders >= RP_HTTP_REPLY_MAX_HEADERS)
        return;
    reply->header_names[reply->nheaders] = name;
    reply->header_values[reply->nheaders] = value;
    reply->nheaders++;
}

/* ---- the body budget ------------------------------------------------------------ */

static void release(rp__http_server *s, conn *c)
{
    if (c->reserved) {
        atomic_fetch_sub_explicit(&s->body_bytes, c->reserved, memory_order_relaxed);
        c->reserved = 0;
    }
}

/* Takes n more bytes from the budget of all bodies; false when over it. */
static bool reserve(rp__http_server *s, conn *c, size_t n)
{
    size_t before = atomic_fetch_add_explicit(&s->body_bytes, n, memory_order_relaxed);
    if (before + n > s->max_total_body) {
        atomic_fetch_sub_explicit(&s->body_bytes, n, memory_order_relaxed);
        return false;
    }
    c->reserved += n;
    return true;
}

/* ---- connections: epoll interest, deadlines, close ------------------------------- */

static void set_deadline(conn *c, uint64_t when)
{
    c->deadline = when;
    if (when && (!c->w->next_deadline || when < c->w->next_deadline))
        c->w->next_deadline = when;
}

static void set_interest(conn *c, uint32_t events)
{
    if (c->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = events;
}

/* The request's answer is sent (or will never be): it leaves in_flight. */
static void end_request(conn *c)
{
    rp__http_server *s = c->w->s;
    release(s, c);
    if (c->body.cap > 64 * 1024)
        rp__buf_cleanup(&c->body);
    else
        rp__buf_reset(&c->body);
    if (c->in_request) {
        c->in_request = false;
        /* release: whoever sees the count drop also sees the budget returned */
        atomic_fetch_sub_explicit(&s->in_flight, 1, memory_order_release);
    }
    c->nfields = 0;
    c->method = c->path = NULL;
    c->framing = BODY_NONE;
    c->too_large = c->over_budget = c->must_close = c->expect_continue = c->head_only = false;
    c->remaining = c->discarded = c->body_seen = 0;
    c->head_started = c->first_line_done = false;
    c->scan = 0;
}

static void conn_close(conn *c)
{
    worker *w = c->w;
    rp__http_server *s = w->s;
    end_request(c);
    close(c->fd); /* also leaves the epoll set */
    if (c->client)
        client_drop(s, c->client);
    atomic_fetch_sub_explicit(&s->connections, 1, memory_order_relaxed);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    rp__buf_cleanup(&c->body);
    rp__buf_cleanup(&c->out);
    free(c->obody_owned);
    free(c->in);
    free(c->head);
    free(c->fields);
    free(c);
}

/* ---- answers ------------------------------------------------------------------- */

static const char *reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
    }
}

/* "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" (RFC 9110 IMF-fixdate, whatever
 * the locale), made once a second per worker. */
static const char *date_line(worker *w)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = time(NULL);
    if (t != w->date_sec) {
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(w->date, sizeof w->date, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                 days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
        w->date_sec = t;
    }
    return w->date;
}

/* A header a route may not set (the server writes them) or cannot (CR, LF). */
static bool header_ok(const char *name, const char *value)
{
    if (!name || !*name || !value || strpbrk(name, "\r\n: ") || strpbrk(value, "\r\n"))
        return false;
    return strcasecmp(name, "Content-Length") != 0 && strcasecmp(name, "Connection") != 0 &&
           strcasecmp(name, "Transfer-Encoding") != 0 && strcasecmp(name, "Date") != 0;
}

/* Queues an answer and moves c to WRITE.  body is borrowed until the first
 * send (copied if it does not all go at once) unless owned (then c frees
 * it).  Returns 0, or -1 out of memory (c is then closed by the caller). */
static int queue_answer(conn *c, const rp__http_reply *r, bool close_after, bool routed)
{
    rp__http_server *s = c->w->s;
    int status = r->status >= 200 && r->status <= 999 ? r->status : 500;
    if (atomic_load_explicit(&s->stopping, memory_order_relaxed) || !c->keep_alive)
        close_after = true;
    rp__buf_reset(&c->out);
    rp__buf_printf(&c->out, "HTTP/1.1 %d %s\r\n", status, reason(status));
    rp__buf_puts(&c->out, date_line(c->w));
    if (r->content_type && header_ok("Content-Type", r->content_type))
        rp__buf_printf(&c->out, "Content-Type: %s\r\n", r->content_type);
    for (size_t i = 0; i < r->nheaders && i < RP_HTTP_REPLY_MAX_HEADERS; i++)
        if (header_ok(r->header_names[i], r->header_values[i]))
            rp__buf_printf(&c->out, "%s: %s\r\n", r->header_names[i], r->header_values[i]);
    rp__buf_printf(&c->out, "Content-Length: %zu\r\n", r->body ? r->body_len : (size_t)0);
    if (close_after)
        rp__buf_lit(&c->out, "Connection: close\r\n");
    else if (c->http10)
        rp__buf_lit(&c->out, "Connection: keep-alive\r\n");
    rp__buf_lit(&c->out, "\r\n");
    if (r->body_owned && r->body && (c->head_only || c->out.failed)) {
        free((void *)r->body);
    } else if (r->body_owned && r->body) {
        c->obody_owned = (char *)r->body;
    }
    if (c->out.failed)
        return -1;
    c->obody = c->head_only || !r->body ? NULL : r->body;
    c->obody_len = c->obody ? r->body_len : 0;
    c->sent = 0;
    c->after = close_after ? AFTER_CLOSE : AFTER_NEXT;
    c->state = ST_WRITE;
    set_deadline(c, now_ms() + s->idle_ms);
    if (s->observe)
        s->observe(s->observe_ctx, status, c->head_only, close_after, routed);
    return 0;
}

/* The server's own answer: {"message": msg} (msg holds no '"' or '\\'). */
static int answer_error(conn *c, int status, const char *msg, bool close_after)
{
    size_t cap = strlen(msg) + 32;
    char *body = malloc(cap);
    if (!body)
        return -1;
    int n = snprintf(body, cap, "{\"message\": \"%s\"}", msg);
    rp__http_reply r = {.status = status,
                        .content_type = "application/json",
                        .body = body,
                        .body_len = (size_t)n,
                        .body_owned = true};
    if (status == 503)
        rp__http_reply_header(&r, "Retry-After", "1");
    return queue_answer(c, &r, close_after, false);
}

static int answer_errorf(conn *c, int status, bool close_after, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int answer_errorf(conn *c, int status, bool close_after, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return answer_error(c, status, msg, close_after);
}

/* Runs the route on the request (or answers 503 for a body over the
 * budget) and queues its answer.  Returns 0, or -1 out of memory. */
static int dispatch(conn *c)
{
    rp__http_server *s = c->w->s;
    if (c->over_budget)
        return answer_error(c, 503, "the server is buffering too many large requests at once: retry shortly",
                            c->must_close);
    rp__http_request req = {
        .method = c->method,
        .path = c->path,
        .body = !c->too_large && c->body.len ? c->body.data : NULL,
        .body_len = c->too_large ? 0 : c->body.len,
        .body_too_large = c->too_large,
        .conn_ = c,
    };
    rp__http_reply reply;
    memset(&reply, 0, sizeof reply);
    s->cfg.route(s->cfg.route_ctx, &req, &reply);
    /* The request's body is no longer needed (the reply never points into it). */
    release(s, c);
    if (c->body.cap > 64 * 1024)
        rp__buf_cleanup(&c->body);
    return queue_answer(c, &reply, c->must_close, true);
}

/* Sends what is left of the answer.  Returns 1 when all is sent, 0 when
 * the socket is full (c waits for EPOLLOUT), -1 on a send error. */
static int flush(conn *c)
{
    size_t head_len = c->out.len, total = head_len + c->obody_len;
    while (c->sent < total) {
        struct iovec iov[2];
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 0};
        if (c->sent < head_len)
            iov[msg.msg_iovlen++] = (struct iovec){c->out.data + c->sent, head_len - c->sent};
        size_t body_off = c->sent > head_len ? c->sent - head_len : 0;
        if (c->obody_len > body_off)
            iov[msg.msg_iovlen++] = (struct iovec){(char *)c->obody + body_off, c->obody_len - body_off};
        ssize_t k = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -1;
            /* The route's body is only borrowed until this returns. */
            if (c->obody && !c->obody_owned) {
                char *copy = malloc(c->obody_len ? c->obody_len : 1);
                if (!copy)
                    return -1;
                memcpy(copy, c->obody, c->obody_len);
                c->obody = c->obody_owned = copy;
            }
            set_interest(c, EPOLLOUT);
            return 0;
        }
        c->sent += (size_t)k;
        set_deadline(c, now_ms() + c->w->s->idle_ms);
    }
    free(c->obody_owned);
    c->obody_owned = NULL;
    c->obody = NULL;
    c->obody_len = 0;
    return 1;
}

/* ---- reading -------------------------------------------------------------------- */

/* Makes room in the input buffer.  Returns the room (0: full at its cap). */
static size_t in_room(conn *c)
{
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
    } else if (c->in_off) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (c->in_len == c->in_cap && c->in_cap < c->w->s->in_max) {
        size_t cap = c->in_cap ? c->in_cap * 2 : IN_FIRST_BYTES;
        if (cap > c->w->s->in_max)
            cap = c->w->s->in_max;
        char *p = realloc(c->in, cap);
        if (!p)
            return 0;
        c->in = p;
        c->in_cap = cap;
    }
    return c->in_cap - c->in_len;
}

/* One recv into the right place.  Returns 1 (bytes or EOF arrived), 0
 * (nothing yet), -1 (an error: close). */
static int conn_read(conn *c)
{
    rp__http_server *s = c->w->s;
    ssize_t k;
    if (c->state == ST_LINGER) {
        char drop[16384];
        k = recv(c->fd, drop, sizeof drop, 0);
        if (k > 0) {
            c->lingered += (uint64_t)k;
            return c->lingered > LINGER_MAX_BYTES ? -1 : 1;
        }
    } else if (c->state == ST_BODY && c->framing == BODY_LENGTH && c->in_off == c->in_len && !c->too_large &&
               !c->over_budget && c->remaining > 0) {
        /* Straight into the body buffer, within the budget. */
        size_t want = c->remaining < BODY_READ_BYTES ? (size_t)c->remaining : BODY_READ_BYTES;
        if (!reserve(s, c, want)) {
            c->over_budget = true;
            release(s, c);
            rp__buf_cleanup(&c->body);
            return 1; /* the bytes go through the input buffer, dropped */
        }
        if (rp__buf_grow(&c->body, want) != 0)
            return -1;
        k = recv(c->fd, c->body.data + c->body.len, want, 0);
        size_t got = k > 0 ? (size_t)k : 0;
        atomic_fetch_sub_explicit(&s->body_bytes, want - got, memory_order_relaxed);
        c->reserved -= want - got;
        if (got) {
            c->body.len += got;
            c->body.data[c->body.len] = '\0';
            c->remaining -= got;
            return 1;
        }
    } else {
        size_t room = in_room(c);
        if (!room)
            return -1; /* cannot happen: every state consumes or answers before the cap */
        k = recv(c->fd, c->in + c->in_len, room, 0);
        if (k > 0) {
            c->in_len += (size_t)k;
            return 1;
        }
    }
    if (k == 0) {
        c->eof = true;
        return 1;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
}

/* ---- parsing the head -------------------------------------------------------------- */

static bool is_tchar(unsigned char ch)
{
    /* RFC 9110 token: ! # $ % & ' * + - . ^ _ ` | ~ DIGIT ALPHA */
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* A field value's bytes: VCHAR, obs-text, SP, HTAB. */
static bool value_ok(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return false;
    return true;
}

static char *trim_ows(char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        v[--n] = '\0';
    return v;
}

/* The next element of a comma-separated list (RFC 9110 section 5.6.1),
 * trimmed, into out; empty elements are skipped.  Returns false at the end. */
static bool next_element(const char **list, char *out, size_t cap, bool *too_long)
{
    const char *p = *list;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p) {
            *list = p;
            return false;
        }
        size_t n = strcspn(p, ",");
        const char *e = p + n;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n >= cap) {
            *too_long = true;
            n = cap - 1;
        }
        memcpy(out, p, n);
        out[n] = '\0';
        *list = e;
        if (n)
            return true;
        p = e;
    }
}

typedef struct parse_error {
    int status;
    const char *msg;
} parse_error;

#define BAD(st, m) ((parse_error){(st), (m)})
#define PARSED ((parse_error){0, NULL})

static bool token_in_list(const char *list, const char *token)
{
    char el[64];
    bool too_long = false;
    while (next_element(&list, el, sizeof el, &too_long))
        if (strcasecmp(el, token) == 0)
            return true;
    return false;
}

/* Parses the copy of a head in c->head (without its final CRLF CRLF) into
 * the request line and fields, and decides the body's framing. */
static parse_error parse_head(conn *c, uint64_t *declared)
{
    char *line = c->head, *next = strstr(line, "\r\n");
    if (next) {
        next[0] = next[1] = '\0';
        next += 2;
    }
    /* request-line = method SP request-target SP HTTP-version */
    char *p = line;
    while (is_tchar((unsigned char)*p))
        p++;
    if (p == line || *p != ' ')
        return BAD(400, "malformed request line: give METHOD /path HTTP/1.1");
    *p++ = '\0';
    char *target = p;
    while ((unsigned char)*p > ' ' && (unsigned char)*p < 0x7f)
        p++;
    if (p == target || *p != ' ')
        return BAD(400, "malformed request line: give METHOD /path HTTP/1.1");
    *p++ = '\0';
    if (strncmp(p, "HTTP/", 5) != 0 || p[5] < '0' || p[5] > '9' || p[6] != '.' || p[7] < '0' || p[7] > '9' ||
        p[8])
        return BAD(400, "malformed request line: give METHOD /path HTTP/1.1");
    if (p[5] != '1')
        return BAD(505, "HTTP version not supported: use HTTP/1.1");
    c->http10 = p[7] == '0';
    c->method = line;
    if (target[0] == '/' || strcmp(target, "*") == 0) {
        c->path = target;
    } else if (strncasecmp(target, "http://", 7) == 0 || strncasecmp(target, "https://", 8) == 0) {
        char *authority = strstr(target, "://") + 3;
        char *rest = authority + strcspn(authority, "/?");
        c->path = *rest == '/' ? rest : "/";
    } else {
        return BAD(400, "malformed request target: give a path starting with /");
    }
    char *query = c->path[0] == '/' ? strchr(target, '?') : NULL;
    if (query)
        *query = '\0';

    /* field-line = field-name ":" OWS field-value OWS */
    c->nfields = 0;
    for (line = next; line; line = next) {
        next = strstr(line, "\r\n");
        if (next) {
            next[0] = next[1] = '\0';
            next += 2;
        }
        char *colon = line;
        while (is_tchar((unsigned char)*colon))
            colon++;
        /* Leading white space (obs-fold) or white space before the colon
         * are refused (RFC 9112 sections 5.1 and 5.2). */
        if (colon == line || *colon != ':')
            return BAD(400, "malformed header field: give Name: value");
        *colon = '\0';
        char *value = trim_ows(colon + 1);
        if (!value_ok(value))
            return BAD(400, "malformed header field: a control character in a value");
        if (c->nfields == MAX_HEADER_FIELDS)
            return BAD(431, "more than 100 header fields");
        if (c->nfields == c->fields_cap) {
            header_field *nf = rp__array_grow(c->fields, c->nfields, &c->fields_cap, sizeof *c->fields, 16);
            if (!nf)
                return BAD(500, "out of memory");
            c->fields = nf;
        }
        c->fields[c->nfields++] = (header_field){line, value};
    }

    /* What the fields mean for framing and the connection. */
    unsigned hosts = 0;
    bool have_length = false, seen_length = false, have_te = false, length_bad = false,
         length_conflict = false;
    bool te_chunked_last = false, te_other = false, te_chunked_twice = false;
    unsigned chunked_seen = 0;
    uint64_t length = 0;
    c->keep_alive = !c->http10;
    c->expect_continue = false;
    for (size_t i = 0; i < c->nfields; i++) {
        const char *name = c->fields[i].name, *v = c->fields[i].value;
        if (strcasecmp(name, "Host") == 0) {
            hosts++;
        } else if (strcasecmp(name, "Content-Length") == 0) {
            /* Content-Length = 1*DIGIT; a list of equal values is one value
             * (RFC 9110 section 8.6), different ones are refused.  Each
             * element is read whole, however long (leading zeros count
             * for nothing; past 2^64 - 1 it is more than anyone can send:
             * too large). */
            const char *p = v;
            bool any = false;
            have_length = true;
            for (;;) {
                while (*p == ' ' || *p == '\t' || *p == ',')
                    p++;
                if (!*p)
                    break;
                any = true;
                uint64_t n = 0;
                const char *d = p;
                for (; *d >= '0' && *d <= '9'; d++)
                    n = n > (UINT64_MAX - 9) / 10 ? UINT64_MAX : n * 10 + (uint64_t)(*d - '0');
                const char *e = d;
                while (*e == ' ' || *e == '\t')
                    e++;
                if (d == p || (*e && *e != ',')) {
                    length_bad = true;
                    break;
                }
                if (seen_length && n != length)
                    length_conflict = true;
                length = n;
                seen_length = true;
                p = e;
            }
            if (!any)
                length_bad = true;
        } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
            have_te = true;
            const char *list = v;
            char el[64];
            bool too_long = false;
            while (next_element(&list, el, sizeof el, &too_long)) {
                if (strcasecmp(el, "chunked") == 0) {
                    chunked_seen++;
                    te_chunked_last = true;
                } else {
                    te_other = true;
                    te_chunked_last = false;
                }
            }
        } else if (strcasecmp(name, "Connection") == 0) {
            if (token_in_list(v, "close"))
                c->keep_alive = false;
            else if (c->http10 && token_in_list(v, "keep-alive"))
                c->keep_alive = true;
        } else if (strcasecmp(name, "Expect") == 0) {
            c->expect_continue = !c->http10 && strcasecmp(v, "100-continue") == 0;
        }
    }
    te_chunked_twice = chunked_seen > 1;
    if (!c->http10 && hosts != 1)
        return BAD(400, "an HTTP/1.1 request needs exactly one Host header");
    if (c->http10 && hosts > 1)
        return BAD(400, "more than one Host header");
    if (have_te) {
        if (have_length)
            return BAD(400, "both Content-Length and Transfer-Encoding: refused (RFC 9112 section 6.3)");
        if (c->http10)
            return BAD(400, "Transfer-Encoding in an HTTP/1.0 request: send Content-Length");
        if (!te_chunked_last || te_chunked_twice)
            return BAD(400, "Transfer-Encoding must end with chunked, once");
        if (te_other)
            return BAD(501, "only the chunked transfer coding is supported");
        c->framing = BODY_CHUNKED;
        c->chunk = CH_SIZE;
        c->trailer_bytes = 0;
    } else if (have_length) {
        if (length_bad)
            return BAD(400, "Content-Length is not a decimal number of bytes");
        if (length_conflict)
            return BAD(400, "conflicting Content-Length values: refused (RFC 9112 section 6.3)");
        c->framing = length ? BODY_LENGTH : BODY_NONE;
        c->remaining = length;
        *declared = length;
    } else {
        c->framing = BODY_NONE;
    }
    c->head_only = strcmp(c->method, "HEAD") == 0;
    return PARSED;
}

/* ---- the state machine ------------------------------------------------------------ */

/* Where the body must have arrived by: body_timeout_s plus one second per
 * body_min_rate bytes of size. */
static uint64_t body_deadline(const rp__http_server *s, uint64_t start, uint64_t size)
{
    uint64_t rate = s->cfg.body_min_rate;
    uint64_t ms = size / rate * 1000u + size % rate * 1000u / rate;
    return start + s->body_ms + ms;
}

/* Answers early a body that is over the limit and that is not read: the
 * route sees body_too_large (or 503 when over the budget); closes after. */
static int answer_now(conn *c)
{
    c->must_close = true;
    return dispatch(c);
}

/* n more body bytes: kept (within the limit and the budget) or dropped.
 * A body over the limit is too large (the route answers it) even when the
 * budget ran out on an earlier piece of it: the size decides, not where
 * the network split the body (a 503 would invite a retry that cannot
 * succeed).  Returns 0, 1 when an answer was queued, -1 out of memory. */
static int body_feed(conn *c, const char *data, size_t n)
{
    rp__http_server *s = c->w->s;
    c->body_seen += n;
    if (!c->too_large && c->body_seen > s->cfg.max_body_bytes) {
        c->too_large = true;
        c->over_budget = false;
        release(s, c);
        rp__buf_cleanup(&c->body);
    }
    if (!c->too_large && !c->over_budget) {
        if (!reserve(s, c, n)) {
            c->over_budget = true;
            release(s, c);
            rp__buf_cleanup(&c->body);
        } else if (rp__buf_append(&c->body, data, n) != 0) {
            return -1;
        }
    }
    if (c->too_large || c->over_budget) {
        /* Counted from the start of a body refused from its head on, so
         * the cap is the limit plus DISCARD_MAX_BYTES. */
        c->discarded += n;
        if (c->discarded > DISCARD_MAX_BYTES + s->cfg.max_body_bytes)
            return answer_now(c) < 0 ? -1 : 1;
    }
    return 0;
}

/* The end of a CRLF line in [p, p+n): its length without CRLF, or -1 when
 * not whole yet, or -2 when malformed (bare CR or LF, NUL). */
static long line_end(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\r') {
            if (i + 1 == n)
                return -1;
            return p[i + 1] == '\n' ? (long)i : -2;
        }
        if (p[i] == '\n' || p[i] == '\0')
            return -2;
    }
    return -1;
}

/* HEAD: finds the end of the head, parses it, sets up the body.  Returns 1
 * when c moved on, 0 when it waits for bytes, -1 when c was closed. */
static int head_step(conn *c)
{
    rp__http_server *s = c->w->s;
    if (!c->head_started) {
        /* Empty lines before a request line are ignored (RFC 9112 section 2.2). */
        while (c->in_len - c->in_off >= 2 && c->in[c->in_off] == '\r' && c->in[c->in_off + 1] == '\n')
            c->in_off += 2;
        if (c->in_len - c->in_off == 1 && c->in[c->in_off] == '\r' && !c->eof)
            return 0;
        if (c->in_off == c->in_len) {
            if (c->eof) {
                conn_close(c);
                return -1;
            }
            return 0;
        }
        c->head_started = true;
        c->scan = 0;
        set_deadline(c, now_ms() + s->head_ms);
    }
    /* The head, its final CRLF CRLF included, must end within the first
     * max_header_bytes bytes: only those are looked at, however many have
     * arrived, so that the answer does not depend on how the network split
     * the bytes. */
    const char *b = c->in + c->in_off;
    size_t n = c->in_len - c->in_off, end = 0;
    size_t limit = s->cfg.max_header_bytes, scan_to = n < limit ? n : limit;
    bool bad = false;
    for (size_t i = c->scan; i < scan_to; i++) {
        unsigned char ch = (unsigned char)b[i];
        if (i && b[i - 1] == '\r' && ch != '\n') {
            bad = true;
            break;
        }
        if (ch == '\0') {
            bad = true;
            break;
        }
        if (ch == '\n') {
            if (!i || b[i - 1] != '\r') {
                bad = true;
                break;
            }
            c->first_line_done = true;
            if (i >= 3 && b[i - 2] == '\n' && b[i - 3] == '\r') {
                end = i + 1;
                break;
            }
        }
    }
    if (bad) {
        if (answer_error(c, 400, "malformed request: lines must end with CRLF, and hold no NUL or bare CR",
                         true) < 0) {
            conn_close(c);
            return -1;
        }
        return 1;
    }
    if (!end) {
        c->scan = scan_to;
        if (n >= limit) {
            int r = c->first_line_done ? answer_errorf(c, 431, true, "request headers larger than %zu bytes",
                                                       s->cfg.max_header_bytes)
                                       : answer_errorf(c, 414, true, "request line longer than %zu bytes",
                                                       s->cfg.max_header_bytes);
            if (r < 0) {
                conn_close(c);
                return -1;
            }
            return 1;
        }
        if (c->eof) {
            conn_close(c);
            return -1;
        }
        return 0;
    }
    /* The head is whole: a copy of it (without the final CRLF CRLF) is
     * parsed in place; the input buffer moves on. */
    if (end - 3 > c->head_cap) {
        char *h = realloc(c->head, end - 3);
        if (!h) {
            conn_close(c);
            return -1;
        }
        c->head = h;
        c->head_cap = end - 3;
    }
    memcpy(c->head, b, end - 4);
    c->head[end - 4] = '\0';
    c->in_off += end;
    c->scan = 0;
    c->in_request = true;
    atomic_fetch_add_explicit(&s->in_flight, 1, memory_order_relaxed);
    uint64_t declared = 0;
    c->framing = BODY_NONE;
    parse_error pe = parse_head(c, &declared);
    if (pe.status) {
        c->keep_alive = false;
        if (answer_error(c, pe.status, pe.msg, true) < 0) {
            conn_close(c);
            return -1;
        }
        return 1;
    }
    rp__buf_reset(&c->body);
    c->too_large = c->over_budget = false;
    c->discarded = c->body_seen = 0;
    int r;
    if (c->framing == BODY_NONE) {
        r = dispatch(c);
    } else if (c->framing == BODY_LENGTH && declared > s->cfg.max_body_bytes &&
               (c->expect_continue || declared - s->cfg.max_body_bytes > DISCARD_MAX_BYTES)) {
        /* Answer before the body when the client waits for our word or
         * when reading the body to the end would take too long. */
        c->too_large = true;
        r = answer_now(c);
    } else {
        c->too_large = c->framing == BODY_LENGTH && declared > s->cfg.max_body_bytes;
        uint64_t now = now_ms();
        c->body_start = now;
        c->body_progress = 0;
        c->body_deadline = body_deadline(s, now, c->framing == BODY_LENGTH ? declared : 0);
        if (c->expect_continue) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            rp__buf_reset(&c->out);
            rp__buf_lit(&c->out, cont);
            if (c->out.failed) {
                conn_close(c);
                return -1;
            }
            c->obody = NULL;
            c->obody_len = 0;
            c->sent = 0;
            c->after = AFTER_CONTINUE;
            c->state = ST_WRITE;
            set_deadline(c, now + s->idle_ms);
        } else {
            c->state = ST_BODY;
            set_deadline(c, c->body_deadline);
        }
        r = 0;
    }
    if (r < 0) {
        conn_close(c);
        return -1;
    }
    return 1;
}

/* BODY: uses the bytes at hand.  Returns 1 when c moved on (answer queued),
 * 0 when it waits for bytes, -1 when c was closed. */
static int body_step(conn *c)
{
    rp__http_server *s = c->w->s;
    int r = 0;
    while (r == 0) {
        const char *b = c->in + c->in_off;
        size_t n = c->in_len - c->in_off;
        if (c->framing == BODY_LENGTH) {
            size_t take = n < c->remaining ? n : (size_t)c->remaining;
            if (take) {
                c->in_off += take;
                c->remaining -= take;
                r = body_feed(c, b, take);
                continue;
            }
            if (c->remaining == 0) {
                r = dispatch(c) < 0 ? -1 : 1;
                break;
            }
            break; /* wait */
        }
        /* chunked (RFC 9112 section 7.1) */
        if (c->chunk == CH_DATA) {
            size_t take = n < c->remaining ? n : (size_t)c->remaining;
            if (!take)
                break;
            c->in_off += take;
            c->remaining -= take;
            c->body_progress += take;
            if (!c->remaining)
                c->chunk = CH_DATA_END;
            r = body_feed(c, b, take);
            continue;
        }
        if (c->chunk == CH_DATA_END) {
            if (n < 2)
                break;
            if (b[0] != '\r' || b[1] != '\n') {
                r = answer_error(c, 400, "malformed chunked body: no CRLF after a chunk", true) < 0 ? -1 : 1;
                break;
            }
            c->in_off += 2;
            c->body_progress += 2;
            c->chunk = CH_SIZE;
            continue;
        }
        long len = line_end(b, n < CHUNK_LINE_MAX + 2 ? n : CHUNK_LINE_MAX + 2);
        if (len == -1 && n >= CHUNK_LINE_MAX + 2)
            len = -2;
        if (len == -1)
            break;
        if (len == -2) {
            r = answer_error(c, 400, "malformed chunked body: a line too long or not ending in CRLF", true) <
                        0
                    ? -1
                    : 1;
            break;
        }
        char line[CHUNK_LINE_MAX + 1];
        memcpy(line, b, (size_t)len);
        line[len] = '\0';
        c->in_off += (size_t)len + 2;
        c->body_progress += (size_t)len + 2;
        if (c->chunk == CH_TRAILER) {
            if (len == 0) { /* the end of the trailer section: the body is whole */
                r = dispatch(c) < 0 ? -1 : 1;
                break;
            }
            c->trailer_bytes += (size_t)len + 2;
            char *colon = line;
            while (is_tchar((unsigned char)*colon))
                colon++;
            if (colon == line || *colon != ':' || !value_ok(colon + 1) ||
                c->trailer_bytes > s->cfg.max_header_bytes) {
                r = answer_error(c, 400, "malformed chunked body: a bad trailer field", true) < 0 ? -1 : 1;
                break;
            }
            continue; /* trailer fields are not kept */
        }
        /* chunk-size [ chunk-ext ] */
        uint64_t size = 0;
        int digits = 0;
        const char *p = line;
        for (;; p++, digits++) {
            int d = *p >= '0' && *p <= '9'                     ? *p - '0'
                    : (*p | 0x20) >= 'a' && (*p | 0x20) <= 'f' ? (*p | 0x20) - 'a' + 10
                                                               : -1;
            if (d < 0)
                break;
            if (size >> 59)
                digits = 99; /* too large to be a size anyone sends */
            size = size * 16 + (uint64_t)d;
        }
        while (*p == ' ' || *p == '\t')
            p++;
        if (!digits || digits > 16 || (*p && *p != ';') || !value_ok(p)) {
            r = answer_error(c, 400, "malformed chunked body: a bad chunk size line", true) < 0 ? -1 : 1;
            break;
        }
        if (size == 0) {
            c->chunk = CH_TRAILER;
        } else {
            c->chunk = CH_DATA;
            c->remaining = size;
        }
    }
    if (r < 0) {
        conn_close(c);
        return -1;
    }
    if (r == 1)
        return 1;
    if (c->framing == BODY_CHUNKED) {
        /* The deadline moves on with what arrived. */
        uint64_t d = body_deadline(s, c->body_start, c->body_progress);
        if (d != c->body_deadline) {
            c->body_deadline = d;
            set_deadline(c, d);
        }
    }
    if (c->eof) {
        conn_close(c); /* the client gave up before the end of its body */
        return -1;
    }
    return 0;
}

/* WRITE finished: what comes next. */
static int after_step(conn *c)
{
    rp__http_server *s = c->w->s;
    switch (c->after) {
    case AFTER_CONTINUE:
        c->state = ST_BODY;
        set_deadline(c, c->body_deadline);
        break;
    case AFTER_NEXT:
        end_request(c);
        c->state = ST_HEAD;
        set_deadline(c, now_ms() + s->idle_ms);
        break;
    case AFTER_CLOSE:
        end_request(c);
        if (c->eof) {
            conn_close(c);
            return -1;
        }
        shutdown(c->fd, SHUT_WR);
        c->state = ST_LINGER;
        c->lingered = 0;
        c->in_off = c->in_len = 0;
        set_deadline(c, now_ms() + LINGER_MS);
        break;
    }
    set_interest(c, EPOLLIN);
    return 0;
}

/* Advances c as far as the bytes at hand allow.  Returns 0, or -1 when c
 * was closed (and freed). */
static int conn_run(conn *c)
{
    for (;;) {
        int r;
        switch (c->state) {
        case ST_HEAD: r = head_step(c); break;
        case ST_BODY: r = body_step(c); break;
        case ST_WRITE:
            r = flush(c);
            if (r < 0) {
                conn_close(c);
                return -1;
            }
            if (r == 0)
                return 0;
            r = after_step(c) < 0 ? -1 : 1;
            break;
        case ST_LINGER:
        default:
            c->in_off = c->in_len = 0;
            if (c->eof) {
                conn_close(c);
                return -1;
            }
            return 0;
        }
        if (r <= 0)
            return r;
    }
}

static void on_event(conn *c, uint32_t events)
{
    if (c->state != ST_WRITE) {
        int r = conn_read(c);
        if (r < 0) {
            conn_close(c);
            return;
        }
        if (r == 0 && !(events & (EPOLLHUP | EPOLLERR)))
            return;
        if (r == 0) {
            conn_close(c);
            return;
        }
    }
    conn_run(c);
}

/* A deadline passed. */
static void expire(conn *c)
{
    rp__http_server *s = c->w->s;
    int r = -1;
    if (c->state == ST_HEAD && c->head_started)
        r = answer_errorf(c, 408, true, "the request head did not arrive within %u s",
                          s->cfg.header_timeout_s);
    else if (c->state == ST_BODY)
        r = answer_errorf(c, 408, true,
                          "the request body did not arrive in time (%u s plus 1 s per %zu bytes)",
                          s->cfg.body_timeout_s, s->cfg.body_min_rate);
    if (r < 0) {
        /* idle, a stalled answer, a lingering close: just closed */
        conn_close(c);
        return;
    }
    rp_log(RP_LOG_DEBUG, "request timed out", NULL);
    conn_run(c);
}

/* ---- accepting ------------------------------------------------------------------- */

static void accept_some(worker *w)
{
    rp__http_server *s = w->s;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Level-triggered: the socket stays readable, so stop
                 * watching it for a while rather than spin. */
                uint64_t now = now_ms();
                if (!w->accept_warned || now - w->accept_warned >= 10000) {
                    rp_log(RP_LOG_WARN,
                           "cannot accept a connection: out of file descriptors or memory; pausing "
                           "(raise ulimit -n, or lower --max-connections)",
                           "error", strerror(errno), NULL);
                    w->accept_warned = now;
                }
                epoll_ctl(w->ep, EPOLL_CTL_DEL, s->listen_fd, NULL);
                w->accept_resume = now + ACCEPT_PAUSE_MS;
                if (!w->next_deadline || w->accept_resume < w->next_deadline)
                    w->next_deadline = w->accept_resume;
                return;
            }
            /* Stopped (shut down) or broken: this worker stops accepting. */
            epoll_ctl(w->ep, EPOLL_CTL_DEL, s->listen_fd, NULL);
            return;
        }
        unsigned before = atomic_fetch_add_explicit(&s->connections, 1, memory_order_relaxed);
        if (before >= s->cfg.max_connections) {
            /* Closed at once, so that the client learns it (rather than
             * wait in the listen backlog). */
            atomic_fetch_sub_explicit(&s->connections, 1, memory_order_relaxed);
            close(fd);
            rp_log(RP_LOG_DEBUG, "connection refused: too many open connections", NULL);
            continue;
        }
        unsigned char addr[16];
        client_addr(&ss, addr);
        client_ent *ce = client_take(s, addr);
        conn *c = ce ? calloc(1, sizeof *c) : NULL;
        if (!c) {
            if (ce)
                client_drop(s, ce);
            atomic_fetch_sub_explicit(&s->connections, 1, memory_order_relaxed);
            close(fd);
            rp_log(RP_LOG_DEBUG, "connection refused: too many open connections from one client", NULL);
            continue;
        }
        c->w = w;
        c->fd = fd;
        c->client = ce;
        c->state = ST_HEAD;
        rp__buf_init(&c->body, s->cfg.max_body_bytes);
        rp__buf_init(&c->out, (size_t)64 * 1024);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->events = EPOLLIN;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        c->next = w->conns;
        if (w->conns)
            w->conns->prev = c;
        w->conns = c;
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            conn_close(c);
            continue;
        }
        set_deadline(c, now_ms() + s->idle_ms);
    }
}

static void sweep(worker *w, uint64_t now)
{
    rp__http_server *s = w->s;
    w->next_deadline = 0;
    if (w->accept_resume) {
        if (now >= w->accept_resume) {
            w->accept_resume = 0;
            if (!atomic_load(&s->stopping)) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &s->listen_fd};
                epoll_ctl(w->ep, EPOLL_CTL_ADD, s->listen_fd, &ev);
            }
        } else {
            w->next_deadline = w->accept_resume;
        }
    }
    for (conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (c->deadline && c->deadline <= now)
            expire(c); /* may close c, never another */
    }
    for (conn *c = w->conns; c; c = c->next)
        if (c->deadline && (!w->next_deadline || c->deadline < w->next_deadline))
            w->next_deadline = c->deadline;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    rp__http_server *s = w->s;
    struct epoll_event evs[EVENTS_PER_WAIT];
    while (!atomic_load(&s->quit)) {
        uint64_t now = now_ms();
        int timeout = 1000;
        if (w->next_deadline)
            timeout = w->next_deadline <= now         ? 0
                      : w->next_deadline - now < 1000 ? (int)(w->next_deadline - now)
                                                      : 1000;
        int n = epoll_wait(w->ep, evs, EVENTS_PER_WAIT, timeout);
        if (n < 0 && errno != EINTR) {
            rp_log(RP_LOG_ERROR, "http server: epoll_wait failed", "error", strerror(errno), NULL);
            break;
        }
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &s->listen_fd)
                accept_some(w);
            else if (p != &s->wake_fd)
                on_event(p, evs[i].events);
        }
        now = now_ms();
        if (w->next_deadline && now >= w->next_deadline)
            sweep(w, now);
    }
    while (w->conns)
        conn_close(w->conns);
    return NULL;
}

/* ---- start and stop ---------------------------------------------------------------- */

/* Splits "HOST:PORT", "[V6]:PORT" or ":PORT" and resolves it. */
static int resolve(const char *listen, struct addrinfo **out, rp_error *err)
{
    char host[256];
    const char *port;
    if (!listen || !*listen)
        return rp_error_set(err, RP_ERR_INVALID, "no listen address: give HOST:PORT, e.g. 127.0.0.1:8080");
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':' || (size_t)(close - listen - 1) >= sizeof host)
            return rp_error_set(err, RP_ERR_INVALID,
                                "bad listen address '%s': give [IPV6]:PORT, e.g. [::1]:8080", listen);
        memcpy(host, listen + 1, (size_t)(close - listen - 1));
        host[close - listen - 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (!colon || (size_t)(colon - listen) >= sizeof host ||
            memchr(listen, ':', (size_t)(colon - listen)))
            return rp_error_set(err, RP_ERR_INVALID,
                                "bad listen address '%s': give HOST:PORT, e.g. 127.0.0.1:8080 "
                                "(IPv6 in brackets: [::1]:8080)",
                                listen);
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
        port = colon + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535)
        return rp_error_set(err, RP_ERR_INVALID, "bad port in listen address '%s': give 0..65535", listen);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(*host ? host : NULL, port, &hints, out);
    if (rc != 0)
        return rp_error_set(err, RP_ERR_INVALID, "cannot resolve listen address '%s': %s", listen,
                            gai_strerror(rc));
    return 0;
}

static unsigned online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 1024 ? (unsigned)n : 1u;
}

/* A listening socket on the address.  Returns the fd, or -1 with err. */
static int listen_on(const char *listen_arg, const struct addrinfo *ai, rp_error *err)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return rp_error_set(err, RP_ERR_IO, "cannot listen on %s: socket: %s", listen_arg, strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        close(fd);
        return rp_error_set(
            err, RP_ERR_IO, "cannot listen on %s: %s%s", listen_arg, strerror(e),
            e == EADDRINUSE ? " (is another server on that port? choose another address with --listen)" : "");
    }
    return fd;
}

/* Leaves room for max_connections descriptors: raises the soft limit of
 * open files toward the hard one (a default soft limit of 1024 would fail
 * accept before max_connections). */
static void raise_fd_limit(unsigned max_connections)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)max_connections + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static void free_server(rp__http_server *s)
{
    for (unsigned i = 0; i < s->nworkers; i++)
        if (s->workers[i].ep >= 0)
            close(s->workers[i].ep);
    free(s->workers);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    if (s->clients) {
        for (size_t i = 0; i <= s->clients_mask; i++)
            while (s->clients[i]) {
                client_ent *e = s->clients[i];
                s->clients[i] = e->next;
                free(e);
            }
        free(s->clients);
    }
    pthread_mutex_destroy(&s->clients_lock);
    free(s);
}

/* Tells the workers to end and joins those started. */
static void join_workers(rp__http_server *s)
{
    atomic_store(&s->quit, true);
    uint64_t one = 1;
    if (write(s->wake_fd, &one, sizeof one) < 0) {
        /* an eventfd write fails only on overflow: the workers are woken */
    }
    for (unsigned i = 0; i < s->nworkers; i++)
        if (s->workers[i].started)
            pthread_join(s->workers[i].thread, NULL);
}

/* A server with cfg's settings (defaults filled in), its client table,
 * workers (not started, no epoll set yet) and wake descriptor, no listening
 * socket.  Returns it, or NULL out of memory or descriptors. */
static rp__http_server *server_new(const rp__http_server_config *cfg)
{
    rp__http_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->listen_fd = s->wake_fd = -1;
    pthread_mutex_init(&s->clients_lock, NULL);
    s->cfg = *cfg;
    s->cfg.listen = NULL; /* not kept: the caller's string */
    rp__http_server_config *c = &s->cfg;
    if (!c->threads)
        c->threads = online_cpus();
    if (!c->max_connections)
        c->max_connections = RP_HTTP_DEFAULT_MAX_CONNECTIONS;
    if (!c->max_client_connections)
        c->max_client_connections = RP_HTTP_DEFAULT_MAX_CLIENT_CONNECTIONS;
    if (!c->max_header_bytes)
        c->max_header_bytes = DEFAULT_HEADER_BYTES;
    if (!c->timeout_s)
        c->timeout_s = DEFAULT_TIMEOUT_S;
    if (!c->header_timeout_s)
        c->header_timeout_s = RP_HTTP_DEFAULT_HEADER_TIMEOUT_S;
    if (!c->body_timeout_s)
        c->body_timeout_s = RP_HTTP_DEFAULT_BODY_TIMEOUT_S;
    if (!c->body_min_rate)
        c->body_min_rate = RP_HTTP_DEFAULT_BODY_MIN_RATE;
    s->idle_ms = (uint64_t)c->timeout_s * 1000u;
    s->head_ms = (uint64_t)c->header_timeout_s * 1000u;
    s->body_ms = (uint64_t)c->body_timeout_s * 1000u;
    s->in_max = (c->max_header_bytes > 2 * CHUNK_LINE_MAX ? c->max_header_bytes : 2 * CHUNK_LINE_MAX) + 1;
    s->max_total_body = c->max_total_body_bytes ? c->max_total_body_bytes : c->max_body_bytes * 64;
    atomic_init(&s->in_flight, 0);
    atomic_init(&s->connections, 0);
    atomic_init(&s->body_bytes, 0);
    atomic_init(&s->stopping, false);
    atomic_init(&s->quit, false);
    size_t nb = 64;
    while (nb < c->max_connections && nb < 65536)
        nb *= 2;
    s->clients = calloc(nb, sizeof *s->clients);
    s->clients_mask = nb - 1;
    s->workers = calloc(c->threads, sizeof *s->workers);
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!s->clients || !s->workers || s->wake_fd < 0) {
        free_server(s);
        return NULL;
    }
    s->nworkers = c->threads;
    for (unsigned i = 0; i < s->nworkers; i++) {
        s->workers[i].ep = -1;
        s->workers[i].s = s;
    }
    return s;
}

int rp__http_server_start(const rp__http_server_config *cfg, rp__http_server **out, rp_error *err)
{
    *out = NULL;
    if (!cfg || !cfg->route)
        return rp_error_set(err, RP_ERR_INVALID, "http server: no route callback");
    struct addrinfo *ai = NULL;
    if (resolve(cfg->listen, &ai, err) < 0)
        return -1;
    rp__http_server *s = server_new(cfg);
    if (!s) {
        freeaddrinfo(ai);
        return rp_error_set(err, RP_ERR_NOMEM, "http server: out of memory or file descriptors");
    }
    rp__http_server_config *c = &s->cfg;
    s->listen_fd = listen_on(cfg->listen, ai, err);
    char shown[NI_MAXHOST];
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, shown, sizeof shown, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(shown, sizeof shown, "?");
    freeaddrinfo(ai);
    if (s->listen_fd < 0) {
        free_server(s);
        return -1;
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof bound;
    if (getsockname(s->listen_fd, (struct sockaddr *)&bound, &bl) == 0)
        s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
    raise_fd_limit(c->max_connections);

    for (unsigned i = 0; i < s->nworkers; i++) {
        worker *w = &s->workers[i];
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &s->listen_fd};
        struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &s->wake_fd};
        if (w->ep < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, s->listen_fd, &lev) != 0 ||
            epoll_ctl(w->ep, EPOLL_CTL_ADD, s->wake_fd, &wev) != 0 ||
            pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            int e = errno;
            join_workers(s);
            free_server(s);
            return rp_error_set(err, RP_ERR_NOMEM, "http server: cannot start its threads: %s", strerror(e));
        }
        w->started = true;
    }
    rp_log(RP_LOG_DEBUG, "http server started", "address", shown, NULL);
    *out = s;
    return 0;
}

unsigned rp__http_server_port(const rp__http_server *s)
{
    return s ? s->port : 0;
}

unsigned rp__http_server_in_flight(const rp__http_server *s)
{
    return s ? atomic_load_explicit(&((rp__http_server *)s)->in_flight, memory_order_acquire) : 0;
}

unsigned rp__http_server_stop(rp__http_server *s, unsigned drain_ms)
{
    if (!s)
        return 0;
    /* No new connections: the workers stop watching the socket, and the
     * kernel refuses connections from now on (shutdown of a listening
     * socket ends its listening; the backlog is reset). */
    atomic_store(&s->stopping, true);
    for (unsigned i = 0; i < s->nworkers; i++)
        epoll_ctl(s->workers[i].ep, EPOLL_CTL_DEL, s->listen_fd, NULL);
    shutdown(s->listen_fd, SHUT_RDWR);
    struct timespec step = {0, 5 * 1000 * 1000};
    for (unsigned waited = 0; rp__http_server_in_flight(s) > 0 && waited < drain_ms; waited += 5)
        nanosleep(&step, NULL);
    unsigned left = rp__http_server_in_flight(s);
    join_workers(s);
    for (unsigned i = 0; i < s->nworkers; i++)
        while (!s->workers[i].started && s->workers[i].conns) /* a detached server's */
            conn_close(s->workers[i].conns);
    free_server(s);
    return left;
}

/* ---- the test seam (http_server_internal.h) ------------------------------------------ */

int rp__http_server_detached(const rp__http_server_config *cfg, rp__http_server **out, rp_error *err)
{
    *out = NULL;
    if (!cfg || !cfg->route)
        return rp_error_set(err, RP_ERR_INVALID, "http server: no route callback");
    rp__http_server_config one = *cfg;
    one.threads = 1;
    rp__http_server *s = server_new(&one);
    if (!s)
        return rp_error_set(err, RP_ERR_NOMEM, "http server: out of memory or file descriptors");
    s->workers[0].ep = epoll_create1(EPOLL_CLOEXEC);
    if (s->workers[0].ep < 0) {
        free_server(s);
        return rp_error_set(err, RP_ERR_NOMEM, "http server: epoll_create1: %s", strerror(errno));
    }
    *out = s;
    return 0;
}

void rp__http_server_observe(rp__http_server *s, rp__http_answer_fn fn, void *ctx)
{
    s->observe = fn;
    s->observe_ctx = ctx;
}

int rp__http_server_adopt(rp__http_server *s, int fd)
{
    worker *w = &s->workers[0];
    conn *c = w->conns ? NULL : calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return -1;
    }
    atomic_fetch_add_explicit(&s->connections, 1, memory_order_relaxed);
    c->w = w;
    c->fd = fd;
    c->state = ST_HEAD;
    rp__buf_init(&c->body, s->cfg.max_body_bytes);
    rp__buf_init(&c->out, (size_t)64 * 1024);
    c->events = EPOLLIN;
    w->conns = c;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        conn_close(c);
        return -1;
    }
    set_deadline(c, now_ms() + s->idle_ms);
    return 0;
}

bool rp__http_server_pump(rp__http_server *s)
{
    worker *w = &s->workers[0];
    struct epoll_event ev;
    /* The worker's loop, without its clock: events while there are some. */
    while (w->conns && epoll_wait(w->ep, &ev, 1, 0) == 1)
        on_event(ev.data.ptr, ev.events);
    return w->conns != NULL;
}

bool rp__http_server_expire(rp__http_server *s)
{
    worker *w = &s->workers[0];
    if (w->conns)
        expire(w->conns);
    return rp__http_server_pump(s);
}

size_t rp__http_server_body_bytes(const rp__http_server *s)
{
    return atomic_load_explicit(&((rp__http_server *)s)->body_bytes, memory_order_relaxed);
}
