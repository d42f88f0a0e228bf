/* The HTTP server over libmicrohttpd (see http_server.h).
 *
 * libmicrohttpd is loaded with dlopen("libmicrohttpd.so.12") on the first
 * start, not linked: it brings GnuTLS and its dependencies, which would cost
 * every start of the program (most runs never serve HTTP).  <microhttpd.h>
 * gives the types and constants; the functions come from the table below.
 *
 * Request life: the access callback is called once when the headers are
 * in (a context is made, a declared Content-Length over the limit is noted),
 * once per piece of body (appended up to the limit, then discarded), and
 * once at the end (the route runs, its reply is queued).  The completion
 * callback frees the context whatever the outcome. */
#include "service/http_server.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/dl.h"
#include "ridepred/log.h"

#define DEFAULT_MAX_CONNECTIONS 1024u
#define DEFAULT_HEADER_BYTES ((size_t)32 * 1024)
#define DEFAULT_TIMEOUT_S 30u
/* A body over the limit is read and thrown away (so that the client, still
 * sending, reads the 413 rather than a reset connection) up to this many
 * bytes; beyond, the connection is closed after the 413. */
#define DISCARD_MAX_BYTES ((size_t)64 * 1024 * 1024)

/* ---- libmicrohttpd, loaded on first use -------------------------------------- */

typedef struct mhd_api {
    struct MHD_Daemon *(*start_daemon)(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
                                       void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls, ...);
    void (*stop_daemon)(struct MHD_Daemon *d);
    MHD_socket (*quiesce_daemon)(struct MHD_Daemon *d);
    const union MHD_DaemonInfo *(*get_daemon_info)(struct MHD_Daemon *d, enum MHD_DaemonInfoType t, ...);
    const char *(*lookup_connection_value)(struct MHD_Connection *c, enum MHD_ValueKind kind, const char *key);
    struct MHD_Response *(*create_response_from_buffer)(size_t size, void *buffer,
                                                        enum MHD_ResponseMemoryMode mode);
    enum MHD_Result (*add_response_header)(struct MHD_Response *r, const char *header, const char *content);
    enum MHD_Result (*queue_response)(struct MHD_Connection *c, unsigned int status, struct MHD_Response *r);
    void (*destroy_response)(struct MHD_Response *r);
} mhd_api;

static mhd_api mhd;
static rp_dl_once mhd_lib = RP_DL_ONCE_INIT;

static void mhd_setup(void)
{
    static const char *const sonames[] = {"libmicrohttpd.so.12", NULL};
    static const rp_dl_sym syms[] = {
        {"MHD_start_daemon", offsetof(mhd_api, start_daemon)},
        {"MHD_stop_daemon", offsetof(mhd_api, stop_daemon)},
        {"MHD_quiesce_daemon", offsetof(mhd_api, quiesce_daemon)},
        {"MHD_get_daemon_info", offsetof(mhd_api, get_daemon_info)},
        {"MHD_lookup_connection_value", offsetof(mhd_api, lookup_connection_value)},
        {"MHD_create_response_from_buffer", offsetof(mhd_api, create_response_from_buffer)},
        {"MHD_add_response_header", offsetof(mhd_api, add_response_header)},
        {"MHD_queue_response", offsetof(mhd_api, queue_response)},
        {"MHD_destroy_response", offsetof(mhd_api, destroy_response)},
    };
    rp_dl_once_load(&mhd_lib, "libmicrohttpd", sonames, syms, sizeof syms / sizeof syms[0], &mhd,
                    "libmicrohttpd12 (Debian: apt-get install libmicrohttpd12)");
}

/* ---- the server --------------------------------------------------------------- */

struct rp_http_server {
    struct MHD_Daemon *daemon;
    rp_http_server_config cfg;
    unsigned port;
    _Atomic unsigned in_flight;
    _Atomic unsigned connections;  /* open now */
    _Atomic size_t body_bytes;  /* buffered now, over all requests */
    size_t max_total_body;
};

typedef struct req_ctx {
    rp_buf body;
    size_t reserved;    /* bytes of body_bytes held by this request */
    size_t discarded;   /* body bytes thrown away past the limit */
    bool too_large;
    bool over_budget;
} req_ctx;

const char *rp_http_request_header(const rp_http_request *req, const char *name)
{
    if (!req || !req->conn_ || !mhd_lib.ready)
        return NULL;
    return mhd.lookup_connection_value(req->conn_, MHD_HEADER_KIND, name);
}

void rp_http_reply_header(rp_http_reply *reply, const char *name, const char *value)
{
    if (reply->nheaders >= RP_HTTP_REPLY_MAX_HEADERS)
        return;
    reply->header_names[reply->nheaders] = name;
    reply->header_values[reply->nheaders] = value;
    reply->nheaders++;
}

static void release(rp_http_server *s, req_ctx *c)
{
    if (c->reserved) {
        atomic_fetch_sub_explicit(&s->body_bytes, c->reserved, memory_order_relaxed);
        c->reserved = 0;
    }
}

/* Takes n more bytes from the budget of all bodies; false when over it. */
static bool reserve(rp_http_server *s, req_ctx *c, size_t n)
{
    size_t before = atomic_fetch_add_explicit(&s->body_bytes, n, memory_order_relaxed);
    if (before + n > s->max_total_body) {
        atomic_fetch_sub_explicit(&s->body_bytes, n, memory_order_relaxed);
        return false;
    }
    c->reserved += n;
    return true;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, const rp_http_reply *r)
{
    struct MHD_Response *resp =
        r->body_owned && r->body
            ? mhd.create_response_from_buffer(r->body_len, (void *)r->body, MHD_RESPMEM_MUST_FREE)
            : mhd.create_response_from_buffer(r->body_len, (void *)(r->body ? r->body : ""), MHD_RESPMEM_MUST_COPY);
    if (!resp) {
        if (r->body_owned)
            free((void *)r->body);
        return MHD_NO;
    }
    enum MHD_Result ok = MHD_YES;
    if (r->content_type)
        ok = mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    for (size_t i = 0; i < r->nheaders && ok == MHD_YES; i++)
        ok = mhd.add_response_header(resp, r->header_names[i], r->header_values[i]);
    if (ok == MHD_YES)
        ok = mhd.queue_response(conn, r->status > 0 ? (unsigned)r->status : 500u, resp);
    mhd.destroy_response(resp);
    return ok;
}

static enum MHD_Result dispatch(rp_http_server *s, struct MHD_Connection *conn, const char *url,
                                const char *method, req_ctx *c)
{
    rp_http_reply reply;
    memset(&reply, 0, sizeof reply);
    if (c->over_budget) {
        static const char busy[] =
            "{\"message\": \"the server is buffering too many large requests at once: retry shortly\"}";
        reply.status = MHD_HTTP_SERVICE_UNAVAILABLE;
        reply.content_type = "application/json";
        reply.body = busy;
        reply.body_len = sizeof busy - 1;
        rp_http_reply_header(&reply, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        return send_reply(conn, &reply);
    }
    rp_http_request req = {
        .method = method,
        .path = url,
        .body = !c->too_large && c->body.len ? c->body.data : NULL,
        .body_len = c->too_large ? 0 : c->body.len,
        .body_too_large = c->too_large,
        .conn_ = conn,
    };
    s->cfg.route(s->cfg.route_ctx, &req, &reply);
    return send_reply(conn, &reply);
}

/* Content-Length as a number; false when absent or not a plain number. */
static bool content_length(struct MHD_Connection *conn, unsigned long long *out)
{
    const char *v = mhd.lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!v || *v < '0' || *v > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end)
        return false;
    *out = n;
    return true;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    (void)version;
    rp_http_server *s = cls;
    req_ctx *c = *con_cls;
    if (!c) {
        /* The headers are in. */
        c = calloc(1, sizeof *c);
        if (!c)
            return MHD_NO;
        rp_buf_init(&c->body, s->cfg.max_body_bytes);
        *con_cls = c;
        atomic_fetch_add_explicit(&s->in_flight, 1, memory_order_relaxed);
        unsigned long long declared;
        if (content_length(conn, &declared) && declared > s->cfg.max_body_bytes) {
            c->too_large = true;
            /* Answer before the body when the client waits for our word
             * (Expect: 100-continue) or when reading the body to the end
             * would take too long; microhttpd then closes the connection. */
            const char *expect = mhd.lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
            if ((expect && strcasecmp(expect, "100-continue") == 0) ||
                declared - s->cfg.max_body_bytes > DISCARD_MAX_BYTES)
                return dispatch(s, conn, url, method, c);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!c->too_large && !c->over_budget) {
            if (n > s->cfg.max_body_bytes - c->body.len) {
                c->too_large = true;
                release(s, c);
                rp_buf_cleanup(&c->body);
            } else if (!reserve(s, c, n)) {
                c->over_budget = true;
                release(s, c);
                rp_buf_cleanup(&c->body);
            } else if (rp_buf_append(&c->body, upload_data, n) != 0) {
                return MHD_NO; /* out of memory */
            }
        }
        if (c->too_large || c->over_budget) {
            c->discarded += n;
            if (c->discarded > DISCARD_MAX_BYTES)
                return MHD_NO;
        }
        return MHD_YES;
    }
    return dispatch(s, conn, url, method, c);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    rp_http_server *s = cls;
    req_ctx *c = *con_cls;
    if (!c)
        return;
    release(s, c);
    rp_buf_cleanup(&c->body);
    free(c);
    *con_cls = NULL;
    /* release: whoever sees the count drop also sees the budget returned */
    atomic_fetch_sub_explicit(&s->in_flight, 1, memory_order_release);
}

/* Over the limit, a connection is accepted and closed at once, so that
 * the client learns it (microhttpd's own limit would leave it waiting in the
 * listen backlog).  Checked against the connections open now: pool threads
 * accepting at the same instant may each let one more in. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addr;
    (void)addrlen;
    rp_http_server *s = cls;
    if (atomic_load_explicit(&s->connections, memory_order_relaxed) >= s->cfg.max_connections) {
        rp_log(RP_LOG_DEBUG, "connection refused: too many open connections", NULL);
        return MHD_NO;
    }
    return MHD_YES;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)conn;
    (void)socket_context;
    rp_http_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add_explicit(&s->connections, 1, memory_order_relaxed);
    else
        atomic_fetch_sub_explicit(&s->connections, 1, memory_order_relaxed);
}

/* The last message microhttpd logged on this thread: the reason a start
 * failed (it returns NULL and says why only to its logger). */
static _Thread_local char last_mhd_message[256];

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    vsnprintf(last_mhd_message, sizeof last_mhd_message, fmt, ap);
    size_t n = strlen(last_mhd_message);
    while (n && (last_mhd_message[n - 1] == '\n' || last_mhd_message[n - 1] == '\r'))
        last_mhd_message[--n] = '\0';
    rp_log(RP_LOG_DEBUG, "libmicrohttpd", "message", last_mhd_message, NULL);
}

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
            return rp_error_set(err, RP_ERR_INVALID, "bad listen address '%s': give [IPV6]:PORT, e.g. [::1]:8080",
                                listen);
        memcpy(host, listen + 1, (size_t)(close - listen - 1));
        host[close - listen - 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (!colon || (size_t)(colon - listen) >= sizeof host || memchr(listen, ':', (size_t)(colon - listen)))
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

int rp_http_server_start(const rp_http_server_config *cfg, rp_http_server **out, rp_error *err)
{
    *out = NULL;
    if (!cfg || !cfg->route)
        return rp_error_set(err, RP_ERR_INVALID, "http server: no route callback");
    if (rp_dl_once_run(&mhd_lib, mhd_setup, err) != 0)
        return -1;
    struct addrinfo *ai = NULL;
    if (resolve(cfg->listen, &ai, err) < 0)
        return -1;
    rp_http_server *s = calloc(1, sizeof *s);
    if (!s) {
        freeaddrinfo(ai);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    s->cfg = *cfg;
    s->cfg.listen = NULL; /* not kept: the caller's string */
    if (!s->cfg.threads)
        s->cfg.threads = online_cpus();
    if (!s->cfg.max_connections)
        s->cfg.max_connections = DEFAULT_MAX_CONNECTIONS;
    if (s->cfg.max_connections < s->cfg.threads)
        s->cfg.max_connections = s->cfg.threads; /* each pool thread gets a share */
    if (!s->cfg.max_header_bytes)
        s->cfg.max_header_bytes = DEFAULT_HEADER_BYTES;
    if (!s->cfg.timeout_s)
        s->cfg.timeout_s = DEFAULT_TIMEOUT_S;
    s->max_total_body = s->cfg.max_total_body_bytes ? s->cfg.max_total_body_bytes : s->cfg.max_body_bytes * 64;
    atomic_init(&s->in_flight, 0);
    atomic_init(&s->connections, 0);
    atomic_init(&s->body_bytes, 0);

    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    last_mhd_message[0] = '\0';
    /* microhttpd shares its limit among the pool threads; on_accept keeps
     * the real one, this one leaves room for an uneven share. */
    unsigned mhd_limit = s->cfg.max_connections * 2 + s->cfg.threads;
    s->daemon = mhd.start_daemon(
        flags, 0, on_accept, s, on_access, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, s->cfg.threads > 1 ? s->cfg.threads : 0u,
        MHD_OPTION_CONNECTION_LIMIT, mhd_limit, MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->cfg.max_header_bytes,
        MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        MHD_OPTION_END);
    char shown[NI_MAXHOST];
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, shown, sizeof shown, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(shown, sizeof shown, "?");
    freeaddrinfo(ai);
    if (!s->daemon) {
        bool bind_failed = strstr(last_mhd_message, "bind") || strstr(last_mhd_message, "in use");
        rp_error_set(err, RP_ERR_IO, "cannot listen on %s: %s%s", cfg->listen,
                     last_mhd_message[0] ? last_mhd_message : "libmicrohttpd refused to start",
                     bind_failed ? " (is another server on that port? choose another address with --listen)" : "");
        free(s);
        return -1;
    }
    const union MHD_DaemonInfo *info = mhd.get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    rp_log(RP_LOG_DEBUG, "http server started", "address", shown, NULL);
    *out = s;
    return 0;
}

unsigned rp_http_server_port(const rp_http_server *s)
{
    return s ? s->port : 0;
}

unsigned rp_http_server_in_flight(const rp_http_server *s)
{
    return s ? atomic_load_explicit(&((rp_http_server *)s)->in_flight, memory_order_acquire) : 0;
}

unsigned rp_http_server_stop(rp_http_server *s, unsigned drain_ms)
{
    if (!s)
        return 0;
    MHD_socket lfd = mhd.quiesce_daemon(s->daemon);
    struct timespec step = {0, 5 * 1000 * 1000};
    for (unsigned waited = 0; rp_http_server_in_flight(s) > 0 && waited < drain_ms; waited += 5)
        nanosleep(&step, NULL);
    unsigned left = rp_http_server_in_flight(s);
    mhd.stop_daemon(s->daemon);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    free(s);
    return left;
}
