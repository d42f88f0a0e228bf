/* A seam into src/common/http_server.c for tests and the fuzz target
 * (tests/fuzz/fuzz_http_server.c, tests/unit/test_http_server.c): the real
 * connection state machine (reading, head and body parsing, the route,
 * answers, keep-alive, lingering close) driven by the caller on its own
 * thread, on a descriptor it hands over (one end of a socketpair), with no
 * listening socket and no pool threads.  Not for the service itself. */
#ifndef RP_SERVICE_HTTP_SERVER_INTERNAL_H
#define RP_SERVICE_HTTP_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "common/http_server.h"

/* Called each time an answer is queued (before any of it is sent), with
 * its status, whether it goes without a body (a HEAD request), whether the
 * connection closes after it, and whether the route made it (false: the
 * server's own answer). */
typedef void (*rp__http_answer_fn)(void *ctx, int status, bool head_only, bool close_after, bool routed);

/* A server with cfg's settings (cfg->listen and cfg->threads are ignored:
 * one worker, never started).  Returns 0, or -1 with err (RP_ERR_INVALID:
 * no route; RP_ERR_NOMEM).  Free it with rp__http_server_stop(s, 0), which
 * also closes its connection. */
int rp__http_server_detached(const rp__http_server_config *cfg, rp__http_server **out, rp_error *err);

/* Sets (or with NULL clears) the answer observer. */
void rp__http_server_observe(rp__http_server *s, rp__http_answer_fn fn, void *ctx);

/* Adds a connection on fd (a connected, non-blocking stream socket; the
 * server owns it from now on and closes it with the connection).  At most
 * one connection at a time.  Returns 0, or -1 (out of memory, or one is
 * open already: fd is then closed too). */
int rp__http_server_adopt(rp__http_server *s, int fd);

/* Does what the worker's level-triggered epoll loop would do while the
 * connection's descriptor is ready for what it waits for (reading, or
 * writing an answer): reads, parses, runs the route, writes.  Returns
 * when it would block.  Returns true while the connection is open, false
 * once the server has closed it (or none was adopted). */
bool rp__http_server_pump(rp__http_server *s);

/* As if the connection's deadline passed now (head or body: 408; idle, a
 * stalled answer or a lingering close: closed), then pumps.  Returns as
 * rp__http_server_pump. */
bool rp__http_server_expire(rp__http_server *s);

/* Bytes of the body budget held now over all connections (0 once every
 * request is answered). */
size_t rp__http_server_body_bytes(const rp__http_server *s);

#endif
