/* A small HTTP/1.1 server over libmicrohttpd for the service endpoints
 * (`serve`'s invoke endpoint, `consume --metrics-listen`).
 *
 * The server owns the sockets and a pool of threads; each complete request
 * is handed to one route callback, which fills a reply (status, content
 * type, body, a few headers) that the server copies and sends.  Request
 * bodies are buffered up to max_body_bytes and no further: a body announced
 * or found to be larger is not read into memory and the route sees
 * body_too_large (it answers 413 or whatever it likes).  Request headers
 * are bounded by max_header_bytes (beyond: microhttpd answers 431/413 by
 * itself), connections by max_connections (beyond: accepted and closed at
 * once), idle connections by timeout_s, and the memory of all bodies
 * buffered at once by max_total_body_bytes.
 *
 * Threads: the route runs on one of `threads` pool threads, concurrently
 * with other requests; calls on one thread never overlap, so a route may
 * keep per-thread state (thread-local storage or a pthread key).
 *
 * libmicrohttpd is loaded with dlopen on the first rp_http_server_start
 * (it brings GnuTLS, which most runs of the program never need). */
#ifndef RP_SERVICE_HTTP_SERVER_H
#define RP_SERVICE_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "ridepred/error.h"

typedef struct rp_http_server rp_http_server;

typedef struct rp_http_request {
    const char *method;   /* "GET", "POST", ... as sent */
    const char *path;     /* the path, without the query string */
    const char *body;     /* NULL when empty or too large; NUL-terminated otherwise */
    size_t body_len;
    bool body_too_large;  /* the body exceeded max_body_bytes (not buffered) */
    void *conn_;          /* private: for rp_http_request_header */
} rp_http_request;

/* The value of a request header (case-insensitive name), or NULL. */
const char *rp_http_request_header(const rp_http_request *req, const char *name);

#define RP_HTTP_REPLY_MAX_HEADERS 4

typedef struct rp_http_reply {
    int status;                /* 0 is answered as 500 */
    const char *content_type;  /* NULL: no Content-Type header */
    const char *body;          /* copied by the server; NULL: empty */
    size_t body_len;
    bool body_owned;           /* body was malloc'd: the server takes it
                                  (no copy) and frees it */
    /* Extra headers (names and values copied by the server). */
    const char *header_names[RP_HTTP_REPLY_MAX_HEADERS];
    const char *header_values[RP_HTTP_REPLY_MAX_HEADERS];
    size_t nheaders;
} rp_http_reply;

/* Adds a header to a reply; ignored beyond RP_HTTP_REPLY_MAX_HEADERS. */
void rp_http_reply_header(rp_http_reply *reply, const char *name, const char *value);

/* Called once per complete request, on a pool thread.  reply arrives zeroed;
 * its strings must stay valid after the callback returns, until the server
 * has copied them: static, owned by the route's context or thread, or a
 * body handed over with body_owned. */
typedef void (*rp_http_route_fn)(void *ctx, const rp_http_request *req, rp_http_reply *reply);

typedef struct rp_http_server_config {
    /* "HOST:PORT" (IPv4 address or name), "[IPv6]:PORT", or ":PORT" (all
     * IPv4 addresses).  Port 0 picks a free port (see rp_http_server_port). */
    const char *listen;
    unsigned threads;          /* pool threads; 0: the number of online CPUs */
    unsigned max_connections;  /* 0: 1024 */
    size_t max_body_bytes;     /* 0: bodies are refused (body_too_large if any) */
    size_t max_total_body_bytes; /* bodies buffered at once over all
                                  connections; a request that would go
                                  beyond gets 503 + Retry-After from the
                                  server itself; 0: max_body_bytes x 64 */
    size_t max_header_bytes;   /* per-connection memory for the request line
                                  and headers; 0: 32 KiB */
    unsigned timeout_s;        /* idle connection timeout; 0: 30 s */
    rp_http_route_fn route;
    void *route_ctx;
} rp_http_server_config;

/* Binds, listens and starts the pool.  Returns 0, or -1 with err saying why
 * (bad address, port in use, libmicrohttpd not installed). */
int rp_http_server_start(const rp_http_server_config *cfg, rp_http_server **out, rp_error *err);

/* The bound port (useful after asking for port 0). */
unsigned rp_http_server_port(const rp_http_server *s);

/* Requests received so far whose answer has not been fully sent. */
unsigned rp_http_server_in_flight(const rp_http_server *s);

/* Stops accepting connections, waits up to drain_ms for the requests in
 * flight to be answered, then closes every connection, joins the threads
 * and frees s (NULL is ignored).  Returns the number of requests that were
 * still in flight when it gave up waiting (0 on a clean stop). */
unsigned rp_http_server_stop(rp_http_server *s, unsigned drain_ms);

#endif
