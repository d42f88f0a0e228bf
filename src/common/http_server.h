/* A small HTTP/1.1 server on epoll for the service endpoints (`serve`'s
 * invoke endpoint, `consume --metrics-listen`).
 *
 * The server owns the sockets and a pool of threads; each complete request
 * is handed to one route callback, which fills a reply (status, content
 * type, body, a few headers) that the server sends.  Request bodies are
 * buffered up to max_body_bytes and no further: a body announced or found
 * to be larger is not read into memory and the route sees body_too_large
 * (it answers 413 or whatever it likes).
 *
 * The server answers by itself, always with one response whose body is
 * JSON ({"message": "..."}), when a request cannot reach the route:
 *   400  malformed request line or header field, a line not ending in CRLF,
 *        an HTTP/1.1 request without exactly one Host, a Content-Length that
 *        is not a decimal number, Content-Length values that differ, both
 *        Content-Length and Transfer-Encoding, a malformed chunked body
 *        (each of these also closes the connection: RFC 9112 section 6.3);
 *   408  the request head not received within header_timeout_s of its first
 *        byte, or the body not within body_timeout_s + its size /
 *        body_min_rate seconds (connection closed);
 *   414 / 431  request line / head (its final CRLF CRLF included) over
 *        max_header_bytes, however the bytes arrive (closed);
 *   501  a transfer coding other than chunked (closed);
 *   503 + Retry-After  the bodies buffered at once over all connections
 *        would pass max_total_body_bytes;
 *   505  an HTTP major version other than 1 (closed).
 * Connections: at most max_connections open, at most max_client_connections
 * from one client address; beyond either, a new connection is accepted and
 * closed at once.  A connection waiting for a request is closed after
 * timeout_s, and so is one whose answer makes no progress for timeout_s.
 *
 * Threads: each of `threads` pool threads has its own connections and runs
 * the route for them, concurrently with the other threads; calls on one
 * thread never overlap, so a route may keep per-thread state (thread-local
 * storage or a pthread key).  No library beyond libc is needed.  At start
 * the soft limit of open files is raised (never lowered, up to the hard
 * limit) to leave room for max_connections. */
#ifndef RP_SERVICE_HTTP_SERVER_H
#define RP_SERVICE_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "ridepred/error.h"

typedef struct rp__http_server rp__http_server;

typedef struct rp__http_request {
    const char *method; /* "GET", "POST", ... as sent */
    const char *path;   /* the path as sent (not percent-decoded), without
                             the query string; "/" for an absolute-form
                             target without a path; "*" for OPTIONS * */
    const char *body;   /* NULL when empty or too large; NUL-terminated otherwise */
    size_t body_len;
    bool body_too_large; /* the body exceeded max_body_bytes (not buffered) */
    void *conn_;         /* private: for rp__http_request_header */
} rp__http_request;

/* The value of a request header (case-insensitive name; the first when
 * sent more than once), or NULL.  Valid during the route call. */
const char *rp__http_request_header(const rp__http_request *req, const char *name);

#define RP_HTTP_REPLY_MAX_HEADERS 4

#define RP_HTTP_DEFAULT_MAX_CONNECTIONS 1024u
#define RP_HTTP_DEFAULT_MAX_CLIENT_CONNECTIONS 256u
#define RP_HTTP_DEFAULT_HEADER_TIMEOUT_S 10u
#define RP_HTTP_DEFAULT_BODY_TIMEOUT_S 10u
#define RP_HTTP_DEFAULT_BODY_MIN_RATE ((size_t)64 * 1024)

typedef struct rp__http_reply {
    int status;               /* 0 is answered as 500 */
    const char *content_type; /* NULL: no Content-Type header */
    const char *body;         /* copied by the server; NULL: empty */
    size_t body_len;
    bool body_owned; /* body was malloc'd: the server takes it
                                  (no copy) and frees it */
    /* Extra headers (names and values copied by the server). */
    const char *header_names[RP_HTTP_REPLY_MAX_HEADERS];
    const char *header_values[RP_HTTP_REPLY_MAX_HEADERS];
    size_t nheaders;
} rp__http_reply;

/* Adds a header to a reply; ignored beyond RP_HTTP_REPLY_MAX_HEADERS. */
void rp__http_reply_header(rp__http_reply *reply, const char *name, const char *value);

/* Called once per complete request, on a pool thread.  reply arrives zeroed;
 * its strings must stay valid after the callback returns, until the server
 * has copied them: static, owned by the route's context or thread, or a
 * body handed over with body_owned. */
typedef void (*rp__http_route_fn)(void *ctx, const rp__http_request *req, rp__http_reply *reply);

typedef struct rp__http_server_config {
    /* "HOST:PORT" (IPv4 address or name), "[IPv6]:PORT", or ":PORT" (all
     * IPv4 addresses).  Port 0 picks a free port (see rp__http_server_port). */
    const char *listen;
    unsigned threads;                /* pool threads; 0: the number of online CPUs */
    unsigned max_connections;        /* 0: RP_HTTP_DEFAULT_MAX_CONNECTIONS */
    unsigned max_client_connections; /* open connections from one client
                                  address (IPv4, or IPv6 address);
                                  0: RP_HTTP_DEFAULT_MAX_CLIENT_CONNECTIONS
                                  (no cap of its own when it is not below
                                  max_connections) */
    size_t max_body_bytes;           /* 0: bodies are refused (body_too_large if any) */
    size_t max_total_body_bytes;     /* bodies buffered at once over all
                                  connections; a request that would go
                                  beyond gets 503 + Retry-After from the
                                  server itself; 0: max_body_bytes x 64 */
    size_t max_header_bytes;         /* request line and headers of one request,
                                  the empty line ending them included;
                                  0: 32 KiB */
    unsigned timeout_s;              /* idle connection timeout; 0: 30 s */
    unsigned header_timeout_s;       /* whole request head, from its first byte;
                                  0: RP_HTTP_DEFAULT_HEADER_TIMEOUT_S */
    unsigned body_timeout_s;         /* body: this many seconds plus its size /
                                  body_min_rate; 0: RP_HTTP_DEFAULT_BODY_TIMEOUT_S */
    size_t body_min_rate;            /* bytes per second; 0: RP_HTTP_DEFAULT_BODY_MIN_RATE */
    rp__http_route_fn route;
    void *route_ctx;
} rp__http_server_config;

/* Binds, listens and starts the pool.  Returns 0, or -1 with err saying why
 * (RP_ERR_INVALID: bad address; RP_ERR_IO: port in use, no permission;
 * RP_ERR_NOMEM). */
int rp__http_server_start(const rp__http_server_config *cfg, rp__http_server **out, rp_error *err);

/* The bound port (useful after asking for port 0). */
unsigned rp__http_server_port(const rp__http_server *s);

/* Requests whose head has arrived and whose answer has not been fully sent
 * (nor given up on: connection closed, timed out). */
unsigned rp__http_server_in_flight(const rp__http_server *s);

/* Stops accepting connections, waits up to drain_ms for the requests in
 * flight to be answered, then closes every connection, joins the threads
 * and frees s (NULL is ignored).  Returns the number of requests that were
 * still in flight when it gave up waiting (0 on a clean stop). */
unsigned rp__http_server_stop(rp__http_server *s, unsigned drain_ms);

#endif
