/* Monitoring rows in PostgreSQL, as the course's week 5 writes them
 * (docs/monitoring.md, "PostgreSQL and Grafana"): one row per (source,
 * window), in a table created when missing, read by the Grafana dashboard of
 * deploy/grafana/.
 *
 * libpq (Debian libpq5, libpq.so.5) is loaded with dlopen on the first open
 * (src/common/dl.h), never linked: most runs never write a row.  Its few
 * prototypes are declared in db.c, so the build needs no libpq-dev.
 *
 * A handle belongs to one thread at a time (libpq's connections are not
 * shared between threads); separate handles may be used concurrently.  The
 * password of a URL never appears in an error message. */
#ifndef RP_MONITOR_DB_H
#define RP_MONITOR_DB_H

#include <stdint.h>

#include "monitor/monitor.h"
#include "ridepred/error.h"

#define RP_MONITOR_DB_TABLE "ridepred_monitor" /* default table */
#define RP_MONITOR_DB_TABLE_MAX 63              /* bytes of a table name (PostgreSQL's NAMEDATALEN - 1) */
#define RP_MONITOR_DB_CONNECT_TIMEOUT "10"      /* seconds, unless the URL or PGCONNECT_TIMEOUT says */

typedef struct rp__monitor_db rp__monitor_db;

typedef struct rp__monitor_db_row {
    const char *source;       /* "monitor", "consume", "serve", "lambda": who computed the row */
    int64_t start_us, end_us; /* the window [start, end), microseconds since the epoch (UTC) */
    const rp__monitor_spec *spec;
    const rp__monitor_result *result;
} rp__monitor_db_row;

/* Connects to url and creates the table when missing.
 *
 * url: a libpq URI (postgresql://user:password@host:port/db?param=...,
 * postgres://...) or a libpq key=value string ("host=... dbname=...");
 * libpq's PG* environment variables fill what it leaves out.  A connect
 * timeout of RP_MONITOR_DB_CONNECT_TIMEOUT seconds applies unless the URL
 * has connect_timeout or PGCONNECT_TIMEOUT is set.  table: NULL for
 * RP_MONITOR_DB_TABLE, else [A-Za-z_][A-Za-z0-9_]* of at most
 * RP_MONITOR_DB_TABLE_MAX bytes, used quoted (case kept); no schema prefix
 * (the connection's search_path decides, as for an unqualified name).
 *
 * Returns 0 and *out (the caller closes it with rp__monitor_db_close), or -1
 * with *out NULL and err:
 *   RP_ERR_UNSUPPORTED  libpq5 is not installed ("... install libpq5");
 *   RP_ERR_INVALID      a bad table name, a URL libpq cannot parse;
 *   RP_ERR_IO           the server could not be reached or refused the
 *                       connection (the message names host:port; retriable
 *                       true, except for authentication failures and a
 *                       missing database), or the table could not be
 *                       created (the server's message);
 *   RP_ERR_NOMEM. */
int rp__monitor_db_open(const char *url, const char *table, rp__monitor_db **out, rp_error *err);

/* Writes row: one row per (source, timestamp = start of the window), so
 * re-writing a window replaces its row (INSERT ... ON CONFLICT DO UPDATE).
 * Scores and shares that are NaN or infinite are written as NULL.  When the
 * connection was lost (a server restart), reconnects once and retries; when
 * the table has disappeared, creates it again and retries.
 * Returns 0, or -1 with err: RP_ERR_INVALID (no source, spec and result
 * disagree), RP_ERR_IO (the server's message; retriable true for connection
 * failures), RP_ERR_NOMEM.  The handle stays usable after a failure. */
int rp__monitor_db_write(rp__monitor_db *db, const rp__monitor_db_row *row, rp_error *err);

/* Closes the connection and frees db.  NULL ignored. */
void rp__monitor_db_close(rp__monitor_db *db);

/* Checks a table name as rp__monitor_db_open does.  Returns 0, or -1 with
 * RP_ERR_INVALID naming the rule. */
int rp__monitor_db_check_table(const char *table, rp_error *err);

/* Formats microseconds since the epoch as PostgreSQL's `timestamp` text,
 * "YYYY-MM-DD HH:MM:SS.ffffff" (UTC); out holds at least 32 bytes.
 * Returns out.  Negative values (before 1970) are formatted too. */
char *rp__monitor_db_timestamp(int64_t us, char out[32]);

#endif
