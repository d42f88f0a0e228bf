/* The live page of a serving command (issue 15): GET /dashboard, one
 * self-contained HTML document (src/monitor/dashboard.html, embedded at
 * build time), and GET /dashboard.json, what the page polls:
 *
 *     {"now": <unix seconds>, "metrics": <rp__metrics_render_json>,
 *      "monitor": null | <the serving side's window object>}
 *
 * (docs/monitoring.md, "Live page", has the format).  `serve` and
 * `consume --metrics-listen` hand every request to rp__dashboard_route
 * before their own routes. */
#ifndef RP_MONITOR_DASHBOARD_H
#define RP_MONITOR_DASHBOARD_H

#include "common/http_server.h"
#include "common/metrics.h"

struct rp__monitor_live;

/* The paths answered. */
#define RP_DASHBOARD_PATH "/dashboard"
#define RP_DASHBOARD_JSON_PATH "/dashboard.json"

/* Answers req when its path is one of the dashboard's: GET and HEAD get the
 * page (text/html) or the JSON (application/json, Cache-Control: no-store),
 * other methods 405 with Allow: GET, HEAD (a JSON message, as the servers'
 * own 405s); a JSON too large for its cap (a bug) or out of memory is a 500.
 * m: the registry to render (NULL: an empty "metrics"); live: the serving
 * side's monitor, NULL when monitoring is off ("monitor": null).  A JSON body
 * is handed to the server (body_owned); the page is static.  Returns 1 when
 * the path was the dashboard's (reply filled), 0 otherwise (reply
 * untouched). */
int rp__dashboard_route(const rp__metrics *m, const struct rp__monitor_live *live,
                        const rp__http_request *req, rp__http_reply *reply);

#endif
