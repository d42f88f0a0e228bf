/* Monitoring rows in PostgreSQL through libpq, loaded on first use (see
 * db.h and docs/monitoring.md).
 *
 * libpq's prototypes and the few constants used are declared here rather
 * than taken from libpq-fe.h (libpq-dev), so building needs nothing of
 * PostgreSQL: PGconn and PGresult are opaque, and the values below are
 * libpq.so.5's ABI, unchanged since PostgreSQL 7.4 (the enums'
 * first members, PG_DIAG_SQLSTATE, PQconninfoOption's layout).
 * tests/integration/test_monitor_db.py compiles these declarations against
 * libpq-fe.h where it is installed and fails on any difference. */
#include "monitor/db.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/dl.h"

/* ---- libpq, as much as used ------------------------------------------------ */

#define RP_LIBPQ_SONAME "libpq.so.5"

/* libpq-fe.h's layout of PQconninfoOption (the entries PQconninfoParse returns). */
struct rp_pq_option {
    char *keyword, *envvar, *compiled, *val, *label, *dispchar;
    int dispsize;
};

#ifndef LIBPQ_FE_H
typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;
typedef unsigned int Oid;
typedef void (*PQnoticeProcessor)(void *arg, const char *message);
typedef struct rp_pq_option PQconninfoOption;
#define RP_PQ_CONN_STATUS int /* ConnStatusType, an enum: the size and calling convention of an int */
#define RP_PQ_EXEC_STATUS int /* ExecStatusType, likewise */
#else
/* Compiled so only by tests/integration/test_monitor_db.py (cc -fsyntax-only
 * -include libpq-fe.h): each declaration here against libpq's own. */
#define RP_PQ_CONN_STATUS ConnStatusType
#define RP_PQ_EXEC_STATUS ExecStatusType
#endif

#define RP_PQ_CONNECTION_OK 0    /* ConnStatusType */
#define RP_PQ_PGRES_COMMAND_OK 1 /* ExecStatusType */
#define RP_PQ_PGRES_TUPLES_OK 2
#define RP_PQ_DIAG_SQLSTATE 'C'

/* X(return type, name without "PQ", parameters) */
#define RP_PQ_FUNCS(X)                                                                                       \
    X(PGconn *, connectdbParams, (const char *const *keywords, const char *const *values, int expand_dbname)) \
    X(RP_PQ_CONN_STATUS, status, (const PGconn *conn))                                                       \
    X(char *, errorMessage, (const PGconn *conn))                                                            \
    X(void, finish, (PGconn * conn))                                                                         \
    X(void, reset, (PGconn * conn))                                                                          \
    X(char *, host, (const PGconn *conn))                                                                    \
    X(char *, port, (const PGconn *conn))                                                                    \
    X(int, connectionNeedsPassword, (const PGconn *conn))                                                    \
    X(PQnoticeProcessor, setNoticeProcessor, (PGconn * conn, PQnoticeProcessor proc, void *arg))             \
    X(PGresult *, exec, (PGconn * conn, const char *query))                                                  \
    X(PGresult *, execParams,                                                                                \
      (PGconn * conn, const char *command, int nParams, const Oid *paramTypes, const char *const *paramValues, \
       const int *paramLengths, const int *paramFormats, int resultFormat))                                  \
    X(RP_PQ_EXEC_STATUS, resultStatus, (const PGresult *res))                                                \
    X(char *, resultErrorMessage, (const PGresult *res))                                                     \
    X(char *, resultErrorField, (const PGresult *res, int fieldcode))                                        \
    X(void, clear, (PGresult * res))                                                                         \
    X(PQconninfoOption *, conninfoParse, (const char *conninfo, char **errmsg))                              \
    X(void, conninfoFree, (PQconninfoOption * connOptions))                                                  \
    X(void, freemem, (void *ptr))

#ifdef LIBPQ_FE_H
#define RP_PQ_CHECK(ret, name, args)                                                                         \
    _Static_assert(__builtin_types_compatible_p(__typeof__(&PQ##name), ret(*) args), "PQ" #name);
RP_PQ_FUNCS(RP_PQ_CHECK)
#undef RP_PQ_CHECK
_Static_assert(CONNECTION_OK == RP_PQ_CONNECTION_OK, "CONNECTION_OK");
_Static_assert(PGRES_COMMAND_OK == RP_PQ_PGRES_COMMAND_OK, "PGRES_COMMAND_OK");
_Static_assert(PGRES_TUPLES_OK == RP_PQ_PGRES_TUPLES_OK, "PGRES_TUPLES_OK");
_Static_assert(PG_DIAG_SQLSTATE == RP_PQ_DIAG_SQLSTATE, "PG_DIAG_SQLSTATE");
_Static_assert(sizeof(ConnStatusType) == sizeof(int) && sizeof(ExecStatusType) == sizeof(int), "enum size");
_Static_assert(sizeof(PQconninfoOption) == sizeof(struct rp_pq_option), "PQconninfoOption");
_Static_assert(offsetof(PQconninfoOption, keyword) == offsetof(struct rp_pq_option, keyword), "keyword");
_Static_assert(offsetof(PQconninfoOption, val) == offsetof(struct rp_pq_option, val), "val");
_Static_assert(offsetof(PQconninfoOption, dispsize) == offsetof(struct rp_pq_option, dispsize), "dispsize");
#endif

typedef struct pq_api {
#define RP_PQ_FIELD(ret, name, args) ret(*name) args;
    RP_PQ_FUNCS(RP_PQ_FIELD)
#undef RP_PQ_FIELD
} pq_api;

static pq_api pq;
static rp__dl_once pq_lib = RP_DL_ONCE_INIT;

static void pq_setup(void)
{
    static const char *const sonames[] = {RP_LIBPQ_SONAME, NULL};
    static const rp__dl_sym syms[] = {
#define RP_PQ_SYM(ret, name, args) {"PQ" #name, offsetof(pq_api, name)},
        RP_PQ_FUNCS(RP_PQ_SYM)
#undef RP_PQ_SYM
    };
    rp__dl_once_load(&pq_lib, "libpq (PostgreSQL's client library)", sonames, syms, sizeof syms / sizeof syms[0],
                     &pq, "libpq5 (Debian: apt-get install libpq5) to write monitoring rows to PostgreSQL");
}

/* ---- the handle ------------------------------------------------------------- */

struct rp__monitor_db {
    PGconn *conn;
    char table[RP_MONITOR_DB_TABLE_MAX + 1];
    char where[256];    /* host:port, for messages */
    char *secret[2];    /* passwords to keep out of messages (the parsed one, the URL's raw text) */
    char *upsert_sql;   /* INSERT ... ON CONFLICT for this table */
    char *create_sql;   /* CREATE TABLE IF NOT EXISTS for this table */
};

int rp__monitor_db_check_table(const char *table, rp_error *err)
{
    size_t n = strlen(table);
    bool ok = n > 0 && n <= RP_MONITOR_DB_TABLE_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        char c = table[i];
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        ok = alpha || (i > 0 && c >= '0' && c <= '9');
    }
    if (!ok)
        return rp_error_set(err, RP_ERR_INVALID,
                            "bad monitoring table name \"%.80s\": use letters, digits and '_' (not first), at "
                            "most %d bytes, without a schema",
                            table, RP_MONITOR_DB_TABLE_MAX);
    return 0;
}

char *rp__monitor_db_timestamp(int64_t us, char out[32])
{
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, 32, "1970-01-01 00:00:00");
        return out;
    }
    char tmp[96]; /* room for any int the compiler imagines; real dates take 26 bytes */
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d %02d:%02d:%02d.%06d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
    size_t n = strnlen(tmp, 31);
    memcpy(out, tmp, n);
    out[n] = '\0';
    return out;
}

/* Replaces, in place, every occurrence of each non-empty secret in s by
 * "***" (by as many '*' as it has bytes when shorter: s never grows). */
static void scrub(char *s, char *const secret[2])
{
    for (int k = 0; k < 2; k++) {
        const char *x = secret[k];
        size_t n = x ? strlen(x) : 0;
        if (n == 0)
            continue;
        for (char *p = strstr(s, x); p; p = strstr(p, x)) {
            size_t stars = n < 3 ? n : 3;
            memset(p, '*', stars);
            memmove(p + stars, p + n, strlen(p + n) + 1);
            p += stars;
        }
    }
}

/* libpq's messages end with a newline and may span lines: one line, runs
 * of white space as one space. */
static void one_line(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        bool space = *r == '\n' || *r == '\t' || *r == '\r' || *r == ' ';
        if (space && (w == s || w[-1] == ' '))
            continue;
        *w++ = space ? ' ' : *r;
    }
    while (w > s && w[-1] == ' ')
        w--;
    *w = '\0';
}

/* The raw password of a URI (between "user:" and '@' of its authority) or of a
 * key=value string (password=...), as written: a message quoting the URL
 * back would carry it in this form.  NULL when there is none. */
static char *raw_password(const char *url)
{
    const char *p = NULL, *e = NULL;
    const char *scheme = strstr(url, "://");
    if (scheme && (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)) {
        const char *a = scheme + 3;
        size_t alen = strcspn(a, "/?");
        const char *at = NULL;
        for (const char *q = a; q < a + alen; q++)
            if (*q == '@')
                at = q;
        if (at) {
            const char *colon = memchr(a, ':', (size_t)(at - a));
            if (colon) {
                p = colon + 1;
                e = at;
            }
        }
    } else {
        const char *k = strstr(url, "password");
        if (k) {
            k += 8;
            while (*k == ' ')
                k++;
            if (*k == '=') {
                k++;
                while (*k == ' ')
                    k++;
                p = k;
                if (*k == '\'') {
                    p = ++k;
                    while (*k && *k != '\'')
                        k += (*k == '\\' && k[1]) ? 2 : 1;
                } else {
                    while (*k && *k != ' ')
                        k++;
                }
                e = k;
            }
        }
    }
    if (!p || e <= p)
        return NULL;
    char *s = malloc((size_t)(e - p) + 1);
    if (s) {
        memcpy(s, p, (size_t)(e - p));
        s[e - p] = '\0';
    }
    return s;
}

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "relation ... already exists, skipping" and the like */
}

static int sqlstate_is(const PGresult *r, const char *code)
{
    const char *s = r ? pq.resultErrorField(r, RP_PQ_DIAG_SQLSTATE) : NULL;
    return s && strcmp(s, code) == 0;
}

static void set_where(rp__monitor_db *db)
{
    const char *h = pq.host(db->conn), *p = pq.port(db->conn);
    snprintf(db->where, sizeof db->where, "%s:%s", h && *h ? h : "localhost", p && *p ? p : "5432");
}

/* err from the connection's message: "PostgreSQL at host:port: ...". */
static int conn_error(rp__monitor_db *db, const char *what, bool retriable, rp_error *err)
{
    char msg[RP_ERROR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", pq.errorMessage(db->conn));
    one_line(msg);
    scrub(msg, db->secret);
    rp_error_set(err, RP_ERR_IO, "PostgreSQL at %s: %s: %s", db->where, what, msg);
    if (err)
        err->retriable = retriable;
    return -1;
}

static int result_error(rp__monitor_db *db, PGresult *r, const char *what, rp_error *err)
{
    char msg[RP_ERROR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", r ? pq.resultErrorMessage(r) : pq.errorMessage(db->conn));
    one_line(msg);
    scrub(msg, db->secret);
    bool lost = pq.status(db->conn) != RP_PQ_CONNECTION_OK;
    rp_error_set(err, RP_ERR_IO, "PostgreSQL at %s: %s %s: %s", db->where, what, db->table, msg);
    if (err)
        err->retriable = lost;
    return -1;
}

static int create_table(rp__monitor_db *db, rp_error *err)
{
    PGresult *r = pq.exec(db->conn, db->create_sql);
    int st = r ? (int)pq.resultStatus(r) : -1;
    /* Two writers creating the table at once: one of them sees the other's
     * catalog rows (23505 on pg_type) or the table (42P07); both fine. */
    if (st != RP_PQ_PGRES_COMMAND_OK && !sqlstate_is(r, "42P07") && !sqlstate_is(r, "23505")) {
        result_error(db, r, "cannot create the table", err);
        pq.clear(r);
        return -1;
    }
    pq.clear(r);
    return 0;
}

static char *sql_printf(const char *fmt, const char *table)
{
    int n = snprintf(NULL, 0, fmt, table, table);
    char *s = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (s)
        snprintf(s, (size_t)n + 1, fmt, table, table);
    return s;
}

void rp__monitor_db_close(rp__monitor_db *db)
{
    if (!db)
        return;
    if (db->conn)
        pq.finish(db->conn);
    for (int k = 0; k < 2; k++)
        if (db->secret[k]) {
            memset(db->secret[k], 0, strlen(db->secret[k]));
            free(db->secret[k]);
        }
    free(db->upsert_sql);
    free(db->create_sql);
    free(db);
}

int rp__monitor_db_open(const char *url, const char *table, rp__monitor_db **out, rp_error *err)
{
    *out = NULL;
    if (!table)
        table = RP_MONITOR_DB_TABLE;
    if (rp__monitor_db_check_table(table, err) != 0)
        return -1;
    if (!url || !*url)
        return rp_error_set(err, RP_ERR_INVALID,
                            "no PostgreSQL URL: give postgresql://user:password@host:port/db (or set "
                            "RIDEPRED_MONITOR_DB)");
    if (rp__dl_once_run(&pq_lib, pq_setup, err) != 0)
        return -1;
    rp__monitor_db *db = calloc(1, sizeof *db);
    if (!db)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    snprintf(db->table, sizeof db->table, "%s", table);
    db->secret[1] = raw_password(url);

    /* Parse first: a URL libpq cannot read is the caller's mistake, not a
     * connection failure; and the parsed password is kept out of messages. */
    char *perr = NULL;
    PQconninfoOption *opts = pq.conninfoParse(url, &perr);
    if (!opts) {
        char msg[RP_ERROR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", perr ? perr : "out of memory");
        if (perr)
            pq.freemem(perr);
        one_line(msg);
        scrub(msg, db->secret);
        rp__monitor_db_close(db);
        return rp_error_set(err, RP_ERR_INVALID,
                            "the PostgreSQL URL does not parse (%s): use postgresql://user:password@host:port/db "
                            "or libpq's key=value form",
                            msg);
    }
    bool has_timeout = getenv("PGCONNECT_TIMEOUT") != NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
            db->secret[0] = strdup(o->val);
        if (strcmp(o->keyword, "connect_timeout") == 0 && o->val && *o->val)
            has_timeout = true;
    }
    pq.conninfoFree(opts);

    db->create_sql = sql_printf("CREATE TABLE IF NOT EXISTS \"%s\" ("
                                "source text NOT NULL, "
                                "\"timestamp\" timestamp NOT NULL, "
                                "window_end timestamp NOT NULL, "
                                "rides bigint NOT NULL, "
                                "prediction_drift float, "
                                "prediction_drifted boolean NOT NULL, "
                                "num_drifted_columns integer NOT NULL, "
                                "share_drifted_columns float, "
                                "dataset_drift boolean NOT NULL, "
                                "num_columns integer NOT NULL, "
                                "share_missing_values float, "
                                "columns jsonb NOT NULL, "
                                "PRIMARY KEY (source, \"timestamp\"))%.0s",
                                table);
    db->upsert_sql = sql_printf(
        "INSERT INTO \"%s\" AS t (source, \"timestamp\", window_end, rides, prediction_drift, "
        "prediction_drifted, num_drifted_columns, share_drifted_columns, dataset_drift, num_columns, "
        "share_missing_values, columns) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
        "ON CONFLICT (source, \"timestamp\") DO UPDATE SET window_end = EXCLUDED.window_end, "
        "rides = EXCLUDED.rides, prediction_drift = EXCLUDED.prediction_drift, "
        "prediction_drifted = EXCLUDED.prediction_drifted, num_drifted_columns = EXCLUDED.num_drifted_columns, "
        "share_drifted_columns = EXCLUDED.share_drifted_columns, dataset_drift = EXCLUDED.dataset_drift, "
        "num_columns = EXCLUDED.num_columns, share_missing_values = EXCLUDED.share_missing_values, "
        "columns = EXCLUDED.columns%.0s",
        table);
    if (!db->create_sql || !db->upsert_sql) {
        rp__monitor_db_close(db);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }

    /* dbname = url, expanded by libpq: the URL's parameters override the
     * defaults placed before it. */
    const char *keys[4] = {NULL}, *vals[4] = {NULL};
    int k = 0;
    if (!has_timeout) {
        keys[k] = "connect_timeout";
        vals[k++] = RP_MONITOR_DB_CONNECT_TIMEOUT;
    }
    keys[k] = "fallback_application_name";
    vals[k++] = "ridepred";
    keys[k] = "dbname";
    vals[k++] = url;
    db->conn = pq.connectdbParams(keys, vals, 1);
    if (!db->conn) {
        rp__monitor_db_close(db);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory (libpq)");
    }
    set_where(db);
    if (pq.status(db->conn) != RP_PQ_CONNECTION_OK) {
        const char *m = pq.errorMessage(db->conn);
        /* Retriable when the server could not be reached (libpq's messages
         * in the C locale); not when it refused us, nor for a bad
         * parameter ("invalid sslmode value"), which no retry mends. */
        bool refused = pq.connectionNeedsPassword(db->conn) || strstr(m, "authentication failed") ||
                       strstr(m, "does not exist");
        bool unreachable = strstr(m, "connection to server") || strstr(m, "could not translate host name") ||
                           strstr(m, "timeout expired") || strstr(m, "server closed the connection");
        conn_error(db, "cannot connect", unreachable && !refused, err);
        rp__monitor_db_close(db);
        return -1;
    }
    pq.setNoticeProcessor(db->conn, quiet_notices, NULL);
    if (create_table(db, err) != 0) {
        rp__monitor_db_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

/* ---- rows -------------------------------------------------------------------- */

/* A double as SQL text, or NULL (the parameter is NULL) when not finite. */
static const char *num_text(double x, char buf[32])
{
    if (!isfinite(x))
        return NULL;
    snprintf(buf, 32, "%.17g", x);
    return buf;
}

static int json_string(rp__buf *b, const char *s)
{
    if (rp__buf_putc(b, '"') != 0)
        return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int rc;
        if (*p == '"' || *p == '\\')
            rc = rp__buf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            rc = rp__buf_printf(b, "\\u%04x", *p);
        else
            rc = rp__buf_putc(b, (char)*p);
        if (rc != 0)
            return -1;
    }
    return rp__buf_putc(b, '"');
}

/* {"name": {"kind": "num", "test": "ks"|null, "score": x|null, "drifted": b, "missing": n}, ...} */
static int columns_json(const rp__monitor_spec *spec, const rp__monitor_result *res, rp__buf *b)
{
    if (rp__buf_putc(b, '{') != 0)
        return -1;
    for (size_t i = 0; i < res->ncols; i++) {
        const rp__monitor_column_result *c = &res->col[i];
        bool ok = c->status == RP_MONITOR_COLUMN_OK;
        char num[32];
        const char *score = ok ? num_text(c->drift.score, num) : NULL;
        if ((i > 0 && rp__buf_puts(b, ", ") != 0) || json_string(b, spec->col[i].name) != 0 ||
            rp__buf_printf(b, ": {\"kind\": \"%s\", \"test\": ", spec->col[i].kind == RP_DRIFT_CAT ? "cat" : "num") !=
                0)
            return -1;
        if (ok ? rp__buf_printf(b, "\"%s\"", rp__drift_test_name(c->drift.test)) : rp__buf_puts(b, "null"))
            return -1;
        if (rp__buf_printf(b, ", \"score\": %s, \"drifted\": %s, \"missing\": %zu}", score ? score : "null",
                           ok && c->drift.drifted ? "true" : "false", c->missing) != 0)
            return -1;
    }
    return rp__buf_putc(b, '}');
}

static PGresult *upsert(rp__monitor_db *db, const char *const vals[12])
{
    return pq.execParams(db->conn, db->upsert_sql, 12, NULL, vals, NULL, NULL, 0);
}

int rp__monitor_db_write(rp__monitor_db *db, const rp__monitor_db_row *row, rp_error *err)
{
    const rp__monitor_result *res = row->result;
    const rp__monitor_spec *spec = row->spec;
    if (!row->source || !*row->source)
        return rp_error_set(err, RP_ERR_INVALID, "a monitoring row needs a source");
    if (!res || !spec || res->ncols != spec->n || res->ncols > RP_MONITOR_MAX_COLUMNS)
        return rp_error_set(err, RP_ERR_INVALID, "a monitoring row's spec and result disagree (%zu and %zu columns)",
                            spec ? spec->n : 0, res ? res->ncols : 0);
    rp__buf js;
    rp__buf_init(&js, (size_t)1 << 20);
    if (columns_json(spec, res, &js) != 0) {
        rp__buf_cleanup(&js);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    char start[32], end[32], rides[32], pdrift[32], ndrift[32], sdrift[32], ncols[32], smiss[32];
    snprintf(rides, sizeof rides, "%zu", res->rides);
    snprintf(ndrift, sizeof ndrift, "%zu", res->num_drifted_columns);
    snprintf(ncols, sizeof ncols, "%zu", res->ncols);
    const char *const vals[12] = {
        row->source,
        rp__monitor_db_timestamp(row->start_us, start),
        rp__monitor_db_timestamp(row->end_us, end),
        rides,
        num_text(res->prediction_drift, pdrift),
        res->prediction_drifted ? "true" : "false",
        ndrift,
        num_text(res->share_drifted_columns, sdrift),
        res->dataset_drift ? "true" : "false",
        ncols,
        num_text(res->share_missing_values, smiss),
        js.data,
    };
    int rc = -1;
    bool reconnected = false, recreated = false;
    for (;;) {
        PGresult *r = upsert(db, vals);
        if (r && pq.resultStatus(r) == RP_PQ_PGRES_COMMAND_OK) {
            pq.clear(r);
            rc = 0;
            break;
        }
        if (pq.status(db->conn) != RP_PQ_CONNECTION_OK && !reconnected) {
            /* The connection was lost (a server restart): once more on a new one. */
            pq.clear(r);
            reconnected = true;
            pq.reset(db->conn);
            if (pq.status(db->conn) != RP_PQ_CONNECTION_OK) {
                conn_error(db, "lost the connection and cannot reconnect", true, err);
                break;
            }
            pq.setNoticeProcessor(db->conn, quiet_notices, NULL);
            continue;
        }
        if (sqlstate_is(r, "42P01") && !recreated) { /* undefined_table: dropped since open */
            pq.clear(r);
            recreated = true;
            if (create_table(db, err) != 0)
                break;
            continue;
        }
        result_error(db, r, "cannot write a row to", err);
        pq.clear(r);
        break;
    }
    rp__buf_cleanup(&js);
    return rc;
}
