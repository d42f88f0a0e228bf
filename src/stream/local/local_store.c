/* The embedded local stream store: Kinesis semantics over SQLite (WAL).
 * docs/local-store.md is the design; the notes here are about the code.
 *
 * A record's rowid is (shard key << 40) | counter, where the shard key is
 * the shard's rowid (global to the file, never reused) and the counter
 * numbers the shard's records from 1.  A shard's records are therefore one
 * contiguous rowid range: puts append at its end, reads and trims are range
 * scans on the table's own B-tree, and no secondary index is needed.  The
 * counters of a shard's retained records are contiguous (trimming only
 * removes a prefix) and their arrival times never decrease (a put stamps
 * max(now, the shard's last arrival)), so the first record at or after a
 * time is found by binary search over counters. */
#include "stream/local/local_store.h"
#include "aws/crypto.h"
#include "common/buf.h"
#include "common/file.h"
#include "stream/reshard.h"
#include "stream/sqlite_api.h"
#include "stream/sqlite_wal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef rp__u128 u128;

#define SCHEMA_VERSION 1
#define APPLICATION_ID 0x52504c53 /* "RPLS" */
#define COUNTER_BITS 40
#define COUNTER_MAX ((INT64_C(1) << COUNTER_BITS) - 1)
#define SHARD_KEY_MAX ((INT64_C(1) << (63 - COUNTER_BITS)) - 1)
#define SHARD_INDEX_MAX INT64_C(999999999999) /* 12 digits */
#define HOUR_MS INT64_C(3600000)
#define TRIM_EVERY_MS INT64_C(60000) /* a put trims its stream at most this often */
#define TRIM_BUDGET INT64_C(100000)  /* records a put may delete */
#define ITER_PREFIX "rpl1."
#define INSERT_ROWS 50 /* rows per multi-row INSERT */

enum {
    ST_BEGIN,
    ST_BEGIN_IMMEDIATE,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_STREAM_BY_NAME,
    ST_OPEN_SHARDS,
    ST_INSERT,
    ST_INSERT_MANY,
    ST_UPDATE_SHARD,
    ST_SHARD_BY_KEY,
    ST_SHARD_BY_NAME,
    ST_READ,
    ST_ARRIVAL_AT,
    ST_FIRST_RECORD,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN",
    [ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_STREAM_BY_NAME] =
        "SELECT id, retention_hours, created_ms, next_idx, trimmed_ms FROM streams WHERE name = ?1",
    [ST_OPEN_SHARDS] = "SELECT id, idx, hash_start, hash_end, last_counter, last_arrival_ms FROM shards"
                       " WHERE stream_id = ?1 AND ending_counter IS NULL ORDER BY hash_start",
    [ST_INSERT] = "INSERT INTO records(id, arrival_ms, partition_key, data) VALUES (?1, ?2, ?3, ?4)",
    [ST_INSERT_MANY] = NULL, /* built by build_insert_many */
    [ST_UPDATE_SHARD] = "UPDATE shards SET last_counter = ?2, last_arrival_ms = ?3 WHERE id = ?1",
    [ST_SHARD_BY_KEY] = "SELECT sh.idx, sh.last_counter, sh.ending_counter, st.retention_hours"
                        " FROM shards sh JOIN streams st ON st.id = sh.stream_id WHERE sh.id = ?1",
    [ST_SHARD_BY_NAME] = "SELECT sh.id, sh.last_counter, st.retention_hours"
                         " FROM shards sh JOIN streams st ON st.id = sh.stream_id"
                         " WHERE st.name = ?1 AND sh.idx = ?2",
    [ST_READ] = "SELECT id, arrival_ms, partition_key, data FROM records"
                " WHERE id >= ?1 AND id <= ?2 ORDER BY id LIMIT ?3",
    [ST_ARRIVAL_AT] = "SELECT arrival_ms FROM records WHERE id = ?1",
    [ST_FIRST_RECORD] = "SELECT id, arrival_ms FROM records WHERE id >= ?1 AND id <= ?2 ORDER BY id LIMIT 1",
};

static const char schema_sql[] = "CREATE TABLE IF NOT EXISTS meta("
                                 "  key TEXT PRIMARY KEY,"
                                 "  value TEXT NOT NULL"
                                 ") WITHOUT ROWID;"
                                 "CREATE TABLE IF NOT EXISTS streams("
                                 "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                                 "  name TEXT NOT NULL UNIQUE,"
                                 "  retention_hours INTEGER NOT NULL,"
                                 "  created_ms INTEGER NOT NULL,"
                                 "  next_idx INTEGER NOT NULL,"
                                 "  trimmed_ms INTEGER NOT NULL DEFAULT 0"
                                 ");"
                                 "CREATE TABLE IF NOT EXISTS shards("
                                 "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                                 "  stream_id INTEGER NOT NULL,"
                                 "  idx INTEGER NOT NULL,"
                                 "  parent_idx INTEGER,"
                                 "  adjacent_parent_idx INTEGER,"
                                 "  hash_start BLOB NOT NULL,"
                                 "  hash_end BLOB NOT NULL,"
                                 "  created_ms INTEGER NOT NULL,"
                                 "  last_counter INTEGER NOT NULL DEFAULT 0,"
                                 "  last_arrival_ms INTEGER NOT NULL DEFAULT 0,"
                                 "  ending_counter INTEGER,"
                                 "  closed_ms INTEGER,"
                                 "  UNIQUE(stream_id, idx)"
                                 ");"
                                 "CREATE TABLE IF NOT EXISTS records("
                                 "  id INTEGER PRIMARY KEY,"
                                 "  arrival_ms INTEGER NOT NULL,"
                                 "  partition_key TEXT NOT NULL,"
                                 "  data BLOB NOT NULL"
                                 ");";

/* An open shard as a put routes to it. */
typedef struct open_shard {
    int64_t key, idx, last_counter, last_arrival_ms;
    unsigned char lo[16], hi[16];
    bool touched;
    size_t fill; /* put's counting sort */
    char id[RP_STREAM_SHARD_ID_MAX];
} open_shard;

struct rp__local_store {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    const rp__crypto *crypto;
    EVP_MD *md5;
    EVP_MD_CTX *md_ctx;
    unsigned char store_id[16];
    int64_t (*clock)(void *ctx);
    void *clock_ctx;
    open_shard *shards; /* put's scratch: the stream's open shards */
    size_t shards_cap;
};

static const unsigned char empty_bytes[1];

/* ---- errors ------------------------------------------------------------ */

/* Sets a Kinesis-named error: "Name: message". */
__attribute__((format(printf, 4, 5))) static int kerr(rp_error *err, rp_code code, const char *name,
                                                      const char *fmt, ...)
{
    char msg[RP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rp_error_set(err, code, "%s: %s", name, msg);
}

static int sql_err(const rp__local_store *s, int rc, const char *what, rp_error *err)
{
    int prim = rc & 0xff;
    rp_code code = RP_ERR_IO;
    if (prim == SQLITE_NOMEM)
        code = RP_ERR_NOMEM;
    else if (prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB)
        code = RP_ERR_CORRUPT;
    const char *why = s && s->db ? rp__sq.errmsg(s->db) : rp__sq.errstr(rc);
    rp_error_set(err, code, "local store: %s: %s", what, why);
    if (err && (prim == SQLITE_BUSY || prim == SQLITE_LOCKED))
        err->retriable = true;
    return -1;
}

/* ---- small helpers ----------------------------------------------------- */

static int64_t real_clock_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ms(const rp__local_store *s)
{
    return s->clock(s->clock_ctx);
}

static int64_t rec_id(int64_t key, int64_t counter)
{
    return (int64_t)(((uint64_t)key << COUNTER_BITS) | (uint64_t)counter);
}

static void reset_all(rp__local_store *s)
{
    for (int i = 0; i < ST_COUNT; i++)
        if (s->st[i])
            rp__sq.reset(s->st[i]);
}

/* Writes v as exactly width decimal digits (v < 10^width). */
static void put_digits(char *out, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* "1" + 12-digit shard index + 20-digit counter: fixed width, so sequence
 * numbers compare as strings exactly as they do as numbers. */
static void seq_format(char out[RP_STREAM_SEQ_MAX], int64_t idx, int64_t counter)
{
    out[0] = '1';
    put_digits(out + 1, (uint64_t)idx, 12);
    put_digits(out + 13, (uint64_t)counter, 20);
    out[RP_LOCAL_SEQ_LEN] = '\0';
}

static int seq_parse(const char *seq, int64_t *idx, int64_t *counter)
{
    if (!seq || strlen(seq) != RP_LOCAL_SEQ_LEN || seq[0] != '1')
        return -1;
    uint64_t a = 0, b = 0;
    for (int i = 1; i < RP_LOCAL_SEQ_LEN; i++) {
        if (seq[i] < '0' || seq[i] > '9')
            return -1;
        if (i < 13)
            a = a * 10 + (uint64_t)(seq[i] - '0');
        else if (b > (uint64_t)COUNTER_MAX)
            return -1;
        else
            b = b * 10 + (uint64_t)(seq[i] - '0');
    }
    if (b > (uint64_t)COUNTER_MAX)
        return -1;
    *idx = (int64_t)a;
    *counter = (int64_t)b;
    return 0;
}

static void shard_id_format(char out[RP_STREAM_SHARD_ID_MAX], int64_t idx)
{
    memcpy(out, "shardId-", 8);
    put_digits(out + 8, (uint64_t)idx, 12);
    out[20] = '\0';
}

/* "shardId-" and 1 to 12 digits (Kinesis pads to 12; shorter is accepted). */
static int shard_id_parse(const char *id, int64_t *idx)
{
    if (strncmp(id, "shardId-", 8) != 0)
        return -1;
    const char *p = id + 8;
    size_t n = strlen(p);
    if (n < 1 || n > 12)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *idx = v;
    return 0;
}

static int check_stream_name(const char *name, rp_error *err)
{
    if (!name)
        return kerr(err, RP_ERR_INVALID, "ValidationException", "stream name missing");
    size_t n = strlen(name);
    if (n < 1 || n > RP_STREAM_NAME_MAX)
        return kerr(err, RP_ERR_INVALID, "ValidationException",
                    "Value '%.140s' at 'streamName' failed to satisfy constraint: "
                    "Member must have length between 1 and %d",
                    name, RP_STREAM_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            return kerr(err, RP_ERR_INVALID, "ValidationException",
                        "Value '%.140s' at 'streamName' failed to satisfy constraint: "
                        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
                        name);
    }
    return 0;
}

/* The number of Unicode characters in p[0..n), or -1 when it is not valid
 * UTF-8 (overlong forms, surrogates and values above U+10FFFF refused). */
static long utf8_chars(const unsigned char *p, size_t n)
{
    long chars = 0;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t len;
        unsigned cp;
        if (c < 0x80) {
            i++;
            chars++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return -1;
        }
        if (n - i < len)
            return -1;
        for (size_t k = 1; k < len; k++) {
            unsigned cc = p[i + k];
            if ((cc & 0xc0) != 0x80)
                return -1;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return -1;
        i += len;
        chars++;
    }
    return chars;
}

/* ---- 128-bit hash keys ------------------------------------------------- */

static u128 u128_from_be(const unsigned char b[16])
{
    u128 v = 0;
    for (int i = 0; i < 16; i++)
        v = (v << 8) | b[i];
    return v;
}

static void u128_to_be(u128 v, unsigned char b[16])
{
    for (int i = 15; i >= 0; i--) {
        b[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static int md5(rp__local_store *s, const void *p, size_t n, unsigned char out[16], rp_error *err)
{
    unsigned int len = 0;
    const rp__crypto *c = s->crypto;
    if (c->EVP_DigestInit_ex2(s->md_ctx, s->md5, NULL) != 1 || c->EVP_DigestUpdate(s->md_ctx, p, n) != 1 ||
        c->EVP_DigestFinal_ex(s->md_ctx, out, &len) != 1 || len != 16)
        return rp_error_set(err, RP_ERR_INTERNAL, "local store: MD5 failed");
    return 0;
}

/* ---- statements and transactions ---------------------------------------- */

static int step_done(rp__local_store *s, sqlite3_stmt *st, const char *what, rp_error *err)
{
    int rc = rp__sq.step(st);
    rp__sq.reset(st);
    if (rc != SQLITE_DONE)
        return sql_err(s, rc, what, err);
    return 0;
}

static int tx_begin(rp__local_store *s, bool write, rp_error *err)
{
    return step_done(s, s->st[write ? ST_BEGIN_IMMEDIATE : ST_BEGIN],
                     write ? "begin write transaction" : "begin read transaction", err);
}

static int tx_commit(rp__local_store *s, rp_error *err)
{
    reset_all(s);
    return step_done(s, s->st[ST_COMMIT], "commit", err);
}

static void tx_rollback(rp__local_store *s)
{
    reset_all(s);
    if (!rp__sq.get_autocommit(s->db)) {
        rp__sq.step(s->st[ST_ROLLBACK]);
        rp__sq.reset(s->st[ST_ROLLBACK]);
    }
}

/* The two ends of an operation's transaction.  tx_finish commits the one
 * the caller opened (*in_tx true) and clears *in_tx; tx_end, on every way
 * out, rolls back a transaction still open and resets every statement
 * (s may be NULL: nothing was opened). */
static int tx_finish(rp__local_store *s, bool *in_tx, rp_error *err)
{
    if (tx_commit(s, err) != 0)
        return -1;
    *in_tx = false;
    return 0;
}

static void tx_end(rp__local_store *s, bool in_tx)
{
    if (!s)
        return;
    if (in_tx)
        tx_rollback(s);
    reset_all(s);
}

static int prepare(rp__local_store *s, const char *sql, sqlite3_stmt **st, rp_error *err)
{
    int rc = rp__sq.prepare_v2(s->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK)
        return sql_err(s, rc, "prepare", err);
    return 0;
}

typedef struct stream_row {
    int64_t id, retention_hours, created_ms, next_idx, trimmed_ms;
} stream_row;

static int find_stream(rp__local_store *s, const char *name, stream_row *row, rp_error *err)
{
    int rc = -1;
    sqlite3_stmt *st = s->st[ST_STREAM_BY_NAME];
    rp__sq.bind_text(st, 1, name, -1, SQLITE_STATIC);
    int r = rp__sq.step(st);
    if (r == SQLITE_ROW) {
        row->id = rp__sq.column_int64(st, 0);
        row->retention_hours = rp__sq.column_int64(st, 1);
        row->created_ms = rp__sq.column_int64(st, 2);
        row->next_idx = rp__sq.column_int64(st, 3);
        row->trimmed_ms = rp__sq.column_int64(st, 4);
        rc = 0;
    } else if (r == SQLITE_DONE) {
        kerr(err, RP_ERR_NOT_FOUND, "ResourceNotFoundException", "Stream %s not found.", name);
    } else {
        sql_err(s, r, "find stream", err);
    }
    rp__sq.reset(st);
    return rc;
}

/* Looks up the arrival time of the shard's record `counter`; *found false
 * when there is no such record. */
static int arrival_at(rp__local_store *s, int64_t key, int64_t counter, bool *found, int64_t *arrival,
                      rp_error *err)
{
    int rc = -1;
    sqlite3_stmt *st = s->st[ST_ARRIVAL_AT];
    rp__sq.bind_int64(st, 1, rec_id(key, counter));
    int r = rp__sq.step(st);
    if (r == SQLITE_ROW) {
        *found = true;
        *arrival = rp__sq.column_int64(st, 0);
        rc = 0;
    } else if (r == SQLITE_DONE) {
        *found = false;
        rc = 0;
    } else {
        sql_err(s, r, "read arrival", err);
    }
    rp__sq.reset(st);
    return rc;
}

/* The smallest counter in [lo, hi] whose record exists and arrived at or
 * after ts, or hi + 1 when none does.  Relies on the two invariants in the
 * file comment: present counters are contiguous up to hi, arrivals sorted. */
static int first_since(rp__local_store *s, int64_t key, int64_t lo, int64_t hi, int64_t ts, int64_t *out,
                       rp_error *err)
{
    int64_t ans = hi + 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2, arrival = 0;
        bool found = false;
        if (arrival_at(s, key, mid, &found, &arrival, err) != 0)
            return -1;
        if (found && arrival >= ts) {
            ans = mid;
            hi = mid - 1;
        } else {
            lo = mid + 1;
        }
    }
    *out = ans;
    return 0;
}

/* ---- opening ------------------------------------------------------------- */

static int query_int(rp__local_store *s, const char *sql, int64_t *out, rp_error *err)
{
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (prepare(s, sql, &st, err) != 0)
        goto out;
    int r = rp__sq.step(st);
    if (r != SQLITE_ROW) {
        sql_err(s, r, sql, err);
        goto out;
    }
    *out = rp__sq.column_int64(st, 0);
    rc = 0;
out:
    rp__sq.finalize(st);
    return rc;
}

static int exec_sql(rp__local_store *s, const char *sql, rp_error *err)
{
    int r = rp__sq.exec(s->db, sql, NULL, NULL, NULL);
    if (r != SQLITE_OK)
        return sql_err(s, r, sql, err);
    return 0;
}

static int enable_wal(rp__local_store *s, rp_error *err)
{
    char mode[32];
    int r = rp__sqlite_enable_wal(s->db, RP_LOCAL_BUSY_TIMEOUT_MS, mode, sizeof mode);
    if (r == SQLITE_CANTOPEN)
        return rp_error_set(err, RP_ERR_IO, "local store: cannot enable WAL (journal mode %s)", mode);
    if (r != SQLITE_OK)
        return sql_err(s, r, "enable WAL", err);
    return 0;
}

static void hex_encode(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_decode(const char *h, unsigned char *out, size_t n)
{
    if (strlen(h) != 2 * n)
        return -1;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = h[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (unsigned char)(v << 4);
        else
            out[i / 2] |= (unsigned char)v;
    }
    return 0;
}

/* Creates the schema in a fresh file, or checks an existing one; loads the
 * store's random id (the key of its iterators' check). */
static int init_schema(rp__local_store *s, rp_error *err)
{
    int rc = -1;
    bool in_tx = false;
    sqlite3_stmt *st = NULL;
    int64_t app = 0, version = 0, tables = 0;

    if (query_int(s, "PRAGMA user_version", &version, err) != 0 ||
        query_int(s, "PRAGMA application_id", &app, err) != 0)
        goto out;
    if (version != SCHEMA_VERSION || app != APPLICATION_ID) {
        if (exec_sql(s, "BEGIN IMMEDIATE", err) != 0)
            goto out;
        in_tx = true;
        if (query_int(s, "PRAGMA user_version", &version, err) != 0 ||
            query_int(s, "PRAGMA application_id", &app, err) != 0 ||
            query_int(s, "SELECT count(*) FROM sqlite_master", &tables, err) != 0)
            goto out;
        if (version == 0 && app == 0 && tables == 0) {
            unsigned char id[16];
            char hex[33], sql[160];
            if (rp__random_bytes(id, sizeof id, err) != 0) {
                rp_error_prefix(err, "local store");
                goto out;
            }
            hex_encode(id, sizeof id, hex);
            snprintf(sql, sizeof sql,
                     "INSERT INTO meta(key, value) VALUES ('store_id', '%s');"
                     "PRAGMA application_id = %d; PRAGMA user_version = %d;",
                     hex, APPLICATION_ID, SCHEMA_VERSION);
            if (exec_sql(s, schema_sql, err) != 0 || exec_sql(s, sql, err) != 0)
                goto out;
        } else if (app != APPLICATION_ID) {
            rp_error_set(err, RP_ERR_CORRUPT, "local store: the file is not a ridepred stream store");
            goto out;
        } else if (version > SCHEMA_VERSION) {
            rp_error_set(err, RP_ERR_UNSUPPORTED,
                         "local store: schema version %lld is newer than this program's (%d)",
                         (long long)version, SCHEMA_VERSION);
            goto out;
        } else if (version != SCHEMA_VERSION) {
            rp_error_set(err, RP_ERR_CORRUPT, "local store: unknown schema version %lld", (long long)version);
            goto out;
        }
        if (exec_sql(s, "COMMIT", err) != 0)
            goto out;
        in_tx = false;
    }
    if (prepare(s, "SELECT value FROM meta WHERE key = 'store_id'", &st, err) != 0)
        goto out;
    int r = rp__sq.step(st);
    if (r != SQLITE_ROW ||
        hex_decode((const char *)rp__sq.column_text(st, 0), s->store_id, sizeof s->store_id) != 0) {
        rp_error_set(err, RP_ERR_CORRUPT, "local store: store id missing or malformed");
        goto out;
    }
    rc = 0;
out:
    rp__sq.finalize(st);
    if (in_tx)
        rp__sq.exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* INSERT INTO records(...) VALUES (?,?,?,?), ... INSERT_ROWS times. */
static void build_insert_many(char *sql)
{
    char *p = sql + sprintf(sql, "INSERT INTO records(id, arrival_ms, partition_key, data) VALUES ");
    for (int i = 0; i < INSERT_ROWS; i++)
        p += sprintf(p, i ? ",(?,?,?,?)" : "(?,?,?,?)");
}

int rp__local_open(const char *path, rp__local_store **out, rp_error *err)
{
    int rc = -1;
    char many_sql[64 + INSERT_ROWS * 16];
    rp__local_store *s = NULL;
    if (!out) {
        rp_error_set(err, RP_ERR_INVALID, "local store: no output handle");
        goto out;
    }
    *out = NULL;
    if (!path || !*path) {
        rp_error_set(err, RP_ERR_INVALID, "local store: no path given (--store or RIDEPRED_LOCAL_STORE)");
        goto out;
    }
    if (rp__sqlite_load(err) != 0) {
        rp_error_prefix(err, "local store");
        goto out;
    }
    if (rp__file_mkdirs_for(path, 0700, err) != 0) {
        rp_error_prefix(err, "local store");
        goto out;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        rp_error_set(err, RP_ERR_NOMEM, "local store: out of memory");
        goto out;
    }
    s->clock = real_clock_ms;
    if (rp__sqlite_check_files(path, err) != 0) {
        rp_error_prefix(err, "local store");
        goto out;
    }
    int r =
        rp__sq.open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (r != SQLITE_OK) {
        sql_err(s, r, "open", err);
        rp_error_prefix(err, "%s", path);
        goto out;
    }
    rp__sq.extended_result_codes(s->db, 1);
    rp__sq.busy_timeout(s->db, RP_LOCAL_BUSY_TIMEOUT_MS);
    if (enable_wal(s, err) != 0 ||
        exec_sql(s,
                 "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-16384;"
                 " PRAGMA wal_autocheckpoint=4000; PRAGMA journal_size_limit=67108864;",
                 err) != 0 ||
        init_schema(s, err) != 0) {
        rp_error_prefix(err, "%s", path);
        goto out;
    }
    build_insert_many(many_sql);
    for (int i = 0; i < ST_COUNT; i++) {
        r = rp__sq.prepare_v3(s->db, i == ST_INSERT_MANY ? many_sql : stmt_sql[i], -1,
                              SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (r != SQLITE_OK) {
            sql_err(s, r, "prepare", err);
            goto out;
        }
    }
    if (!(s->crypto = rp__crypto_get(err))) {
        rp_error_prefix(err, "local store");
        goto out;
    }
    s->md5 = s->crypto->EVP_MD_fetch(NULL, "MD5", NULL);
    s->md_ctx = s->crypto->EVP_MD_CTX_new();
    if (!s->md5 || !s->md_ctx) {
        rp_error_set(err, RP_ERR_INTERNAL, "local store: MD5 unavailable in libcrypto");
        goto out;
    }
    *out = s;
    s = NULL;
    rc = 0;
out:
    rp__local_close(s);
    return rc;
}

void rp__local_close(rp__local_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        rp__sq.finalize(s->st[i]);
    rp__sq.close(s->db);
    if (s->crypto) {
        s->crypto->EVP_MD_CTX_free(s->md_ctx);
        s->crypto->EVP_MD_free(s->md5);
    }
    free(s->shards);
    free(s);
}

void rp__local_set_clock(rp__local_store *s, int64_t (*clock)(void *ctx), void *ctx)
{
    if (!s)
        return;
    s->clock = clock ? clock : real_clock_ms;
    s->clock_ctx = clock ? ctx : NULL;
}

/* ---- shards -------------------------------------------------------------- */

static int insert_shard(rp__local_store *s, int64_t stream_id, int64_t idx, int64_t parent, int64_t adjacent,
                        u128 lo, u128 hi, int64_t now, int64_t *key, rp_error *err)
{
    int rc = -1;
    sqlite3_stmt *st = NULL;
    unsigned char blo[16], bhi[16];
    if (idx > SHARD_INDEX_MAX) {
        kerr(err, RP_ERR_LIMIT, "LimitExceededException", "shard index above %lld",
             (long long)SHARD_INDEX_MAX);
        goto out;
    }
    if (prepare(s,
                "INSERT INTO shards(stream_id, idx, parent_idx, adjacent_parent_idx,"
                " hash_start, hash_end, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                &st, err) != 0)
        goto out;
    u128_to_be(lo, blo);
    u128_to_be(hi, bhi);
    rp__sq.bind_int64(st, 1, stream_id);
    rp__sq.bind_int64(st, 2, idx);
    if (parent >= 0)
        rp__sq.bind_int64(st, 3, parent);
    if (adjacent >= 0)
        rp__sq.bind_int64(st, 4, adjacent);
    rp__sq.bind_blob(st, 5, blo, 16, SQLITE_TRANSIENT);
    rp__sq.bind_blob(st, 6, bhi, 16, SQLITE_TRANSIENT);
    rp__sq.bind_int64(st, 7, now);
    int r = rp__sq.step(st);
    if (r != SQLITE_DONE) {
        sql_err(s, r, "insert shard", err);
        goto out;
    }
    *key = rp__sq.last_insert_rowid(s->db);
    if (*key > SHARD_KEY_MAX) {
        kerr(err, RP_ERR_LIMIT, "LimitExceededException", "the store has used up its %lld shard keys",
             (long long)SHARD_KEY_MAX);
        goto out;
    }
    rc = 0;
out:
    rp__sq.finalize(st);
    return rc;
}

int rp__local_create_stream(rp__local_store *s, const char *name, uint32_t shard_count,
                            uint32_t retention_hours, rp_error *err)
{
    int rc = -1;
    bool in_tx = false;
    sqlite3_stmt *st = NULL;
    stream_row row;
    rp_error probe;

    if (!s) {
        rp_error_set(err, RP_ERR_INVALID, "local store: no store");
        goto out;
    }
    if (check_stream_name(name, err) != 0)
        goto out;
    if (shard_count < 1 || shard_count > RP_LOCAL_SHARDS_MAX) {
        kerr(err, shard_count < 1 ? RP_ERR_INVALID : RP_ERR_LIMIT,
             shard_count < 1 ? "ValidationException" : "LimitExceededException",
             "shard count %u is not between 1 and %d", shard_count, RP_LOCAL_SHARDS_MAX);
        goto out;
    }
    if (retention_hours == 0)
        retention_hours = RP_LOCAL_RETENTION_HOURS_DEFAULT;
    if (retention_hours > RP_LOCAL_RETENTION_HOURS_MAX) {
        kerr(err, RP_ERR_INVALID, "InvalidArgumentException", "retention of %u hours is not between 1 and %d",
             retention_hours, RP_LOCAL_RETENTION_HOURS_MAX);
        goto out;
    }
    if (tx_begin(s, true, err) != 0)
        goto out;
    in_tx = true;
    if (find_stream(s, name, &row, &probe) == 0) {
        kerr(err, RP_ERR_INVALID, "ResourceInUseException", "Stream %s already exists.", name);
        goto out;
    }
    if (probe.code != RP_ERR_NOT_FOUND) {
        if (err)
            *err = probe;
        goto out;
    }
    int64_t now = now_ms(s);
    if (prepare(s,
                "INSERT INTO streams(name, retention_hours, created_ms, next_idx)"
                " VALUES (?1, ?2, ?3, ?4)",
                &st, err) != 0)
        goto out;
    rp__sq.bind_text(st, 1, name, -1, SQLITE_STATIC);
    rp__sq.bind_int64(st, 2, retention_hours);
    rp__sq.bind_int64(st, 3, now);
    rp__sq.bind_int64(st, 4, shard_count);
    int r = rp__sq.step(st);
    if (r != SQLITE_DONE) {
        sql_err(s, r, "insert stream", err);
        goto out;
    }
    int64_t stream_id = rp__sq.last_insert_rowid(s->db);
    for (uint32_t i = 0; i < shard_count; i++) {
        u128 lo, hi;
        int64_t key;
        rp__hash_range(shard_count, i, &lo, &hi);
        if (insert_shard(s, stream_id, i, -1, -1, lo, hi, now, &key, err) != 0)
            goto out;
    }
    if (tx_finish(s, &in_tx, err) != 0)
        goto out;
    rc = 0;
out:
    rp__sq.finalize(st);
    tx_end(s, in_tx);
    return rc;
}

/* Deletes the records of shard `key` with counters in [lo, hi]. */
static int delete_records(rp__local_store *s, int64_t key, int64_t lo, int64_t hi, rp_error *err)
{
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (prepare(s, "DELETE FROM records WHERE id >= ?1 AND id <= ?2", &st, err) != 0)
        goto out;
    rp__sq.bind_int64(st, 1, rec_id(key, lo));
    rp__sq.bind_int64(st, 2, rec_id(key, hi));
    int r = rp__sq.step(st);
    if (r != SQLITE_DONE) {
        sql_err(s, r, "delete records", err);
        goto out;
    }
    rc = 0;
out:
    rp__sq.finalize(st);
    return rc;
}

static int exec_bound_id(rp__local_store *s, const char *sql, int64_t id, rp_error *err)
{
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (prepare(s, sql, &st, err) != 0)
        goto out;
    rp__sq.bind_int64(st, 1, id);
    int r = rp__sq.step(st);
    if (r != SQLITE_DONE) {
        sql_err(s, r, sql, err);
        goto out;
    }
    rc = 0;
out:
    rp__sq.finalize(st);
    return rc;
}

int rp__local_delete_stream(rp__local_store *s, const char *name, rp_error *err)
{
    int rc = -1;
    bool in_tx = false;
    sqlite3_stmt *st = NULL;
    stream_row row;
    int64_t *keys = NULL;
    size_t nkeys = 0, cap = 0;

    if (!s) {
        rp_error_set(err, RP_ERR_INVALID, "local store: no store");
        goto out;
    }
    if (check_stream_name(name, err) != 0)
        goto out;
    if (tx_begin(s, true, err) != 0)
        goto out;
    in_tx = true;
    if (find_stream(s, name, &row, err) != 0)
        goto out;
    if (prepare(s, "SELECT id FROM shards WHERE stream_id = ?1", &st, err) != 0)
        goto out;
    rp__sq.bind_int64(st, 1, row.id);
    int r;
    while ((r = rp__sq.step(st)) == SQLITE_ROW) {
        int64_t *nk = rp__array_grow(keys, nkeys, &cap, sizeof *keys, 16);
        if (!nk) {
            rp_error_set(err, RP_ERR_NOMEM, "local store: out of memory");
            goto out;
        }
        keys = nk;
        keys[nkeys++] = rp__sq.column_int64(st, 0);
    }
    if (r != SQLITE_DONE) {
        sql_err(s, r, "list shards", err);
        goto out;
    }
    for (size_t i = 0; i < nkeys; i++)
        if (delete_records(s, keys[i], 0, COUNTER_MAX, err) != 0)
            goto out;
    if (exec_bound_id(s, "DELETE FROM shards WHERE stream_id = ?1", row.id, err) != 0 ||
        exec_bound_id(s, "DELETE FROM streams WHERE id = ?1", row.id, err) != 0)
        goto out;
    if (tx_finish(s, &in_tx, err) != 0)
        goto out;
    rc = 0;
out:
    rp__sq.finalize(st);
    free(keys);
    tx_end(s, in_tx);
    return rc;
}

static const char stream_info_sql[] =
    "SELECT name, retention_hours, created_ms,"
    " (SELECT count(*) FROM shards sh WHERE sh.stream_id = st.id AND sh.ending_counter IS NULL)"
    " FROM streams st";

static void fill_stream_info(sqlite3_stmt *st, rp_stream_info *info)
{
    const char *name = (const char *)rp__sq.column_text(st, 0);
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s", name ? name : "");
    snprintf(info->status, sizeof info->status, "ACTIVE");
    info->retention_hours = (uint32_t)rp__sq.column_int64(st, 1);
    info->created_ms = rp__sq.column_int64(st, 2);
    info->open_shards = (uint32_t)rp__sq.column_int64(st, 3);
}

int rp__local_list_streams(rp__local_store *s, rp_stream_info **out, size_t *count, rp_error *err)
{
    int rc = -1;
    sqlite3_stmt *st = NULL;
    rp_stream_info *v = NULL;
    size_t n = 0, cap = 0;
    char sql[sizeof stream_info_sql + 32];

    if (!s || !out || !count) {
        rp_error_set(err, RP_ERR_INVALID, "local store: missing argument");
        goto out;
    }
    *out = NULL;
    *count = 0;
    snprintf(sql, sizeof sql, "%s ORDER BY name", stream_info_sql);
    if (prepare(s, sql, &st, err) != 0)
        goto out;
    int r;
    while ((r = rp__sq.step(st)) == SQLITE_ROW) {
        rp_stream_info *nv = rp__array_grow(v, n, &cap, sizeof *v, 8);
        if (!nv) {
            rp_error_set(err, RP_ERR_NOMEM, "local store: out of memory");
            goto out;
        }
        v = nv;
        fill_stream_info(st, &v[n++]);
    }
    if (r != SQLITE_DONE) {
        sql_err(s, r, "list streams", err);
        goto out;
    }
    *out = v;
    *count = n;
    v = NULL;
    rc = 0;
out:
    rp__sq.finalize(st);
    free(v);
    return rc;
}

int rp__local_describe_stream(rp__local_store *s, const char *name, rp_stream_info *info, rp_error *err)
{
    int rc = -1;
    sqlite3_stmt *st = NULL;
    char sql[sizeof stream_info_sql + 32];

    if (!s || !info) {
        rp_error_set(err, RP_ERR_INVALID, "local store: missing argument");
        goto out;
    }
    if (check_stream_name(name, err) != 0)
        goto out;
    snprintf(sql, sizeof sql, "%s WHERE name = ?1", stream_info_sql);
    if (prepare(s, sql, &st, err) != 0)
        goto out;
    rp__sq.bind_text(st, 1, name, -1, SQLITE_STATIC);
    int r = rp__sq.step(st);
    if (r == SQLITE_DONE) {
        kerr(err, RP_ERR_NOT_FOUND, "ResourceNotFoundException", "Stream %s not found.", name);
        goto out;
    }
    if (r != SQLITE_ROW) {
        sql_err(s, r, "describe stream", err);
        goto out;
    }
    fill_stream_info(st, info);
    rc = 0;
out:
    rp__sq.finalize(st);
    return rc;
}

int rp__local_list_shards(rp__local_store *s, const char *name, rp_stream_shard **out, size_t *count,
                          rp_error *err)
{
    int rc = -1;
    bool in_tx = false;
    sqlite3_stmt *st = NULL;
    rp_stream_shard *v = NULL;
    size_t n = 0, cap = 0;
    stream_row row;

    if (!s || !out || !count) {
        rp_error_set(err, RP_ERR_INVALID, "local store: missing argument");
        goto out;
    }
    *out = NULL;
    *count = 0;
    if (check_stream_name(name, err) != 0)
        goto out;
    if (tx_begin(s, false, err) != 0)
        goto out;
    in_tx = true;
    if (find_stream(s, name, &row, err) != 0)
        goto out;
    if (prepare(s,
                "SELECT idx, parent_idx, adjacent_parent_idx, hash_start, hash_end,"
                " ending_counter FROM shards WHERE stream_id = ?1 ORDER BY idx",
                &st, err) != 0)
        goto out;
    rp__sq.bind_int64(st, 1, row.id);
    int r;
    while ((r = rp__sq.step(st)) == SQLITE_ROW) {
        rp_stream_shard *nv = rp__array_grow(v, n, &cap, sizeof *v, 8);
        if (!nv) {
            rp_error_set(err, RP_ERR_NOMEM, "local store: out of memory");
            goto out;
        }
        v = nv;
        rp_stream_shard *si = &v[n++];
        memset(si, 0, sizeof *si);
        int64_t idx = rp__sq.column_int64(st, 0);
        shard_id_format(si->shard_id, idx);
        if (rp__sq.column_type(st, 1) != SQLITE_NULL)
            shard_id_format(si->parent_shard_id, rp__sq.column_int64(st, 1));
        if (rp__sq.column_type(st, 2) != SQLITE_NULL)
            shard_id_format(si->adjacent_parent_shard_id, rp__sq.column_int64(st, 2));
        if (rp__sq.column_bytes(st, 3) != 16 || rp__sq.column_bytes(st, 4) != 16) {
            rp_error_set(err, RP_ERR_CORRUPT, "local store: malformed hash range of shard %lld",
                         (long long)idx);
            goto out;
        }
        rp__u128_to_dec(u128_from_be(rp__sq.column_blob(st, 3)), si->hash_start);
        rp__u128_to_dec(u128_from_be(rp__sq.column_blob(st, 4)), si->hash_end);
        seq_format(si->seq_start, idx, 0);
        if (rp__sq.column_type(st, 5) != SQLITE_NULL)
            seq_format(si->seq_end, idx, rp__sq.column_int64(st, 5));
    }
    if (r != SQLITE_DONE) {
        sql_err(s, r, "list shards", err);
        goto out;
    }
    rp__sq.finalize(st);
    st = NULL;
    if (tx_finish(s, &in_tx, err) != 0)
        goto out;
    *out = v;
    *count = n;
    v = NULL;
    rc = 0;
out:
    rp__sq.finalize(st);
    free(v);
    tx_end(s, in_tx);
    return rc;
}

/* Loads the stream's open shards, sorted by hash range, into s->shards. */
static int load_open_shards(rp__local_store *s, int64_t stream_id, size_t *count, rp_error *err)
{
    int rc = -1;
    size_t n = 0;
    sqlite3_stmt *st = s->st[ST_OPEN_SHARDS];
    rp__sq.bind_int64(st, 1, stream_id);
    int r;
    while ((r = rp__sq.step(st)) == SQLITE_ROW) {
        open_shard *nv = rp__array_grow(s->shards, n, &s->shards_cap, sizeof *s->shards, 16);
        if (!nv) {
            rp_error_set(err, RP_ERR_NOMEM, "local store: out of memory");
            goto out;
        }
        s->shards = nv;
        open_shard *sh = &s->shards[n++];
        sh->key = rp__sq.column_int64(st, 0);
        sh->idx = rp__sq.column_int64(st, 1);
        if (rp__sq.column_bytes(st, 2) != 16 || rp__sq.column_bytes(st, 3) != 16) {
            rp_error_set(err, RP_ERR_CORRUPT, "local store: malformed hash range of shard %lld",
                         (long long)sh->idx);
            goto out;
        }
        memcpy(sh->lo, rp__sq.column_blob(st, 2), 16);
        memcpy(sh->hi, rp__sq.column_blob(st, 3), 16);
        sh->last_counter = rp__sq.column_int64(st, 4);
        sh->last_arrival_ms = rp__sq.column_int64(st, 5);
        sh->touched = false;
        sh->fill = 0;
        shard_id_format(sh->id, sh->idx);
    }
    if (r != SQLITE_DONE) {
        sql_err(s, r, "load shards", err);
        goto out;
    }
    if (n == 0 || memcmp(s->shards[0].lo, (unsigned char[16]){0}, 16) != 0) {
        rp_error_set(err, RP_ERR_CORRUPT, "local store: the open shards do not cover the hash space");
        goto out;
    }
    *count = n;
    rc = 0;
out:
    rp__sq.reset(st);
    return rc;
}

/* ---- retention ----------------------------------------------------------- */

/* Deletes the stream's records older than its retention, at most *budget of
 * them (decremented), and its closed shards that have expired and hold no
 * more records.  *complete is false when the budget ran out first. */
static int trim_stream(rp__local_store *s, int64_t stream_id, int64_t retention_hours, int64_t now,
                       int64_t *budget, bool *complete, rp_error *err)
{
    int rc = -1;
    sqlite3_stmt *st = NULL;
    struct trim_shard {
        int64_t key, last, closed_ms;
        bool closed;
    } *v = NULL;
    size_t n = 0, cap = 0;
    int64_t cutoff = now - retention_hours * HOUR_MS;

    *complete = true;
    if (prepare(s, "SELECT id, last_counter, closed_ms FROM shards WHERE stream_id = ?1", &st, err) != 0)
        goto out;
    rp__sq.bind_int64(st, 1, stream_id);
    int r;
    while ((r = rp__sq.step(st)) == SQLITE_ROW) {
        struct trim_shard *nv = rp__array_grow(v, n, &cap, sizeof *v, 16);
        if (!nv) {
            rp_error_set(err, RP_ERR_NOMEM, "local store: out of memory");
            goto out;
        }
        v = nv;
        v[n].key = rp__sq.column_int64(st, 0);
        v[n].last = rp__sq.column_int64(st, 1);
        v[n].closed = rp__sq.column_type(st, 2) != SQLITE_NULL;
        v[n].closed_ms = rp__sq.column_int64(st, 2);
        n++;
    }
    if (r != SQLITE_DONE) {
        sql_err(s, r, "list shards", err);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *first = s->st[ST_FIRST_RECORD];
        rp__sq.bind_int64(first, 1, rec_id(v[i].key, 0));
        rp__sq.bind_int64(first, 2, rec_id(v[i].key, COUNTER_MAX));
        r = rp__sq.step(first);
        bool any = r == SQLITE_ROW;
        int64_t first_counter = any ? (rp__sq.column_int64(first, 0) & COUNTER_MAX) : 0;
        int64_t first_arrival = any ? rp__sq.column_int64(first, 1) : 0;
        rp__sq.reset(first);
        if (r != SQLITE_ROW && r != SQLITE_DONE) {
            sql_err(s, r, "trim", err);
            goto out;
        }
        int64_t keep = first_counter; /* first counter to keep */
        if (any && first_arrival < cutoff) {
            if (first_since(s, v[i].key, first_counter, v[i].last, cutoff, &keep, err) != 0)
                goto out;
            if (keep - first_counter > *budget) {
                keep = first_counter + *budget;
                *complete = false;
            }
            if (keep > first_counter) {
                if (delete_records(s, v[i].key, first_counter, keep - 1, err) != 0)
                    goto out;
                *budget -= keep - first_counter;
            }
        }
        bool empty = !any || keep > v[i].last;
        if (v[i].closed && v[i].closed_ms < cutoff && empty &&
            exec_bound_id(s, "DELETE FROM shards WHERE id = ?1", v[i].key, err) != 0)
            goto out;
    }
    rc = 0;
out:
    rp__sq.finalize(st);
    free(v);
    return rc;
}

static int set_trimmed(rp__local_store *s, int64_t stream_id, int64_t now, rp_error *err)
{
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (prepare(s, "UPDATE streams SET trimmed_ms = ?2 WHERE id = ?1", &st, err) != 0)
        goto out;
    rp__sq.bind_int64(st, 1, stream_id);
    rp__sq.bind_int64(st, 2, now);
    int r = rp__sq.step(st);
    if (r != SQLITE_DONE) {
        sql_err(s, r, "mark trimmed", err);
        goto out;
    }
    rc = 0;
out:
    rp__sq.finalize(st);
    return rc;
}

int rp__local_trim(rp__local_store *s, rp_error *err)
{
    int rc = -1;
    bool in_tx = false;
    sqlite3_stmt *st = NULL;
    struct {
        int64_t id, retention;
    } *v = NULL;
    size_t n = 0, cap = 0;

    if (!s) {
        rp_error_set(err, RP_ERR_INVALID, "local store: no store");
        goto out;
    }
    if (tx_begin(s, true, err) != 0)
        goto out;
    in_tx = true;
    if (prepare(s, "SELECT id, retention_hours FROM streams", &st, err) != 0)
        goto out;
    int r;
    while ((r = rp__sq.step(st)) == SQLITE_ROW) {
        void *nv = rp__array_grow(v, n, &cap, sizeof *v, 8);
        if (!nv) {
            rp_error_set(err, RP_ERR_NOMEM, "local store: out of memory");
            goto out;
        }
        v = nv;
        v[n].id = rp__sq.column_int64(st, 0);
        v[n].retention = rp__sq.column_int64(st, 1);
        n++;
    }
    if (r != SQLITE_DONE) {
        sql_err(s, r, "list streams", err);
        goto out;
    }
    int64_t now = now_ms(s);
    for (size_t i = 0; i < n; i++) {
        int64_t budget = INT64_MAX;
        bool complete;
        if (trim_stream(s, v[i].id, v[i].retention, now, &budget, &complete, err) != 0 ||
            set_trimmed(s, v[i].id, now, err) != 0)
            goto out;
    }
    rp__sq.finalize(st);
    st = NULL;
    if (tx_finish(s, &in_tx, err) != 0)
        goto out;
    rc = 0;
out:
    rp__sq.finalize(st);
    free(v);
    tx_end(s, in_tx);
    return rc;
}

/* ---- put ----------------------------------------------------------------- */

static void fail_result(rp_stream_put_result *res, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_result(rp_stream_put_result *res, const char *code, const char *fmt, ...)
{
    va_list ap;
    res->ok = false;
    res->shard_id[0] = res->sequence_number[0] = '\0';
    snprintf(res->error_code, sizeof res->error_code, "%s", code);
    va_start(ap, fmt);
    vsnprintf(res->error_message, sizeof res->error_message, fmt, ap);
    va_end(ap);
}

/* Checks entry i as PutRecords validates a record; fills its result when it
 * is refused and returns -1. */
static int check_entry(const rp_stream_entry *e, size_t i, rp_stream_put_result *res)
{
    if (!e->partition_key) {
        fail_result(res, "ValidationException", "records.%zu.member.partitionKey: missing", i + 1);
        return -1;
    }
    /* A character takes at most 4 bytes: longer keys are too long anyway. */
    long chars = e->partition_key_len > 4 * RP_STREAM_PK_MAX
                     ? RP_STREAM_PK_MAX + 1
                     : utf8_chars((const unsigned char *)e->partition_key, e->partition_key_len);
    if (chars < 0) {
        fail_result(res, "ValidationException", "records.%zu.member.partitionKey: not valid UTF-8", i + 1);
        return -1;
    }
    if (chars < 1 || chars > RP_STREAM_PK_MAX) {
        fail_result(res, "ValidationException",
                    "Value at 'records.%zu.member.partitionKey' failed to satisfy constraint: "
                    "Member must have length %s %d",
                    i + 1, chars < 1 ? "greater than or equal to" : "less than or equal to",
                    chars < 1 ? 1 : RP_STREAM_PK_MAX);
        return -1;
    }
    if (!e->data && e->data_len) {
        fail_result(res, "ValidationException", "records.%zu.member.data: missing", i + 1);
        return -1;
    }
    if (e->data_len > RP_STREAM_RECORD_MAX || e->data_len + e->partition_key_len > RP_STREAM_RECORD_MAX) {
        fail_result(res, "ValidationException",
                    "records.%zu: data and partition key are %zu bytes, more than %zu", i + 1,
                    e->data_len + e->partition_key_len, RP_STREAM_RECORD_MAX);
        return -1;
    }
    return 0;
}

static size_t route(const open_shard *v, size_t n, const unsigned char h[16])
{
    size_t lo = 0, hi = n; /* the answer is the last shard with start <= h */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(v[mid].lo, h, 16) <= 0)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

int rp__local_put_records(rp__local_store *s, const char *stream, const rp_stream_entry *entries, size_t n,
                          rp_stream_put_result *results, rp_error *err)
{
    int rc = -1;
    bool in_tx = false;
    rp_error e;
    unsigned char hashes[RP_STREAM_PUT_BATCH_MAX][16];
    bool valid[RP_STREAM_PUT_BATCH_MAX];
    uint32_t shard_of[RP_STREAM_PUT_BATCH_MAX], order[RP_STREAM_PUT_BATCH_MAX];
    size_t nvalid = 0, nshards = 0;
    stream_row row;

    rp_error_clear(&e);
    if (!s || !results || (n && !entries)) {
        rp_error_set(&e, RP_ERR_INVALID, "local store: missing argument");
        goto out;
    }
    if (check_stream_name(stream, &e) != 0)
        goto out;
    if (n < 1 || n > RP_STREAM_PUT_BATCH_MAX) {
        kerr(&e, RP_ERR_INVALID, "ValidationException", "%zu records: PutRecords takes 1 to %d", n,
             RP_STREAM_PUT_BATCH_MAX);
        goto out;
    }
    size_t total = 0; /* saturates above the limit: no overflow */
    for (size_t i = 0; i < n && total <= RP_STREAM_PUT_BYTES_MAX; i++) {
        size_t len = entries[i].data_len, klen = entries[i].partition_key_len;
        total = len > RP_STREAM_PUT_BYTES_MAX || klen > RP_STREAM_PUT_BYTES_MAX ? RP_STREAM_PUT_BYTES_MAX + 1
                                                                                : total + len + klen;
    }
    if (total > RP_STREAM_PUT_BYTES_MAX) {
        kerr(&e, RP_ERR_INVALID, "InvalidArgumentException", "Records size exceeds %zu bytes: %zu",
             RP_STREAM_PUT_BYTES_MAX, total);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        valid[i] = check_entry(&entries[i], i, &results[i]) == 0;
        if (!valid[i])
            continue;
        if (md5(s, entries[i].partition_key, entries[i].partition_key_len, hashes[i], &e) != 0)
            goto out;
        nvalid++;
    }
    if (nvalid == 0) {
        rc = 0;
        goto out;
    }

    if (tx_begin(s, true, &e) != 0)
        goto out;
    in_tx = true;
    if (find_stream(s, stream, &row, &e) != 0 || load_open_shards(s, row.id, &nshards, &e) != 0)
        goto out;
    /* Insert grouped by shard (a counting sort), in entry order within a
     * shard: consecutive rows then have consecutive rowids, which SQLite
     * appends without a fresh B-tree descent. */
    for (size_t i = 0; i < n; i++)
        if (valid[i])
            s->shards[shard_of[i] = (uint32_t)route(s->shards, nshards, hashes[i])].fill++;
    size_t at = 0;
    for (size_t j = 0; j < nshards; j++) {
        size_t f = s->shards[j].fill;
        s->shards[j].fill = at;
        at += f;
    }
    for (size_t i = 0; i < n; i++)
        if (valid[i])
            order[s->shards[shard_of[i]].fill++] = (uint32_t)i;
    int64_t now = now_ms(s);
    size_t rows = 0; /* rows bound to the multi-row statement */
    for (size_t o = 0; o < nvalid; o++) {
        size_t i = order[o];
        open_shard *sh = &s->shards[shard_of[i]];
        if (sh->last_counter >= COUNTER_MAX) {
            kerr(&e, RP_ERR_LIMIT, "LimitExceededException", "shard %s is full", sh->id);
            goto out;
        }
        int64_t counter = ++sh->last_counter;
        if (now > sh->last_arrival_ms)
            sh->last_arrival_ms = now;
        sh->touched = true;
        /* Rows go INSERT_ROWS at a time; the last few one by one. */
        bool many = nvalid - (o - rows) >= INSERT_ROWS;
        sqlite3_stmt *ins = s->st[many ? ST_INSERT_MANY : ST_INSERT];
        int p = many ? 4 * (int)rows : 0;
        rp__sq.bind_int64(ins, p + 1, rec_id(sh->key, counter));
        rp__sq.bind_int64(ins, p + 2, sh->last_arrival_ms);
        rp__sq.bind_text(ins, p + 3, entries[i].partition_key, (int)entries[i].partition_key_len,
                         SQLITE_STATIC);
        rp__sq.bind_blob(ins, p + 4, entries[i].data_len ? entries[i].data : empty_bytes,
                         (int)entries[i].data_len, SQLITE_STATIC);
        if (!many || ++rows == INSERT_ROWS) {
            rows = 0;
            if (step_done(s, ins, "insert records", &e) != 0)
                goto out;
        }
        rp_stream_put_result *res = &results[i];
        res->ok = true;
        memcpy(res->shard_id, sh->id, sizeof res->shard_id);
        seq_format(res->sequence_number, sh->idx, counter);
        res->error_code[0] = res->error_message[0] = '\0';
    }
    sqlite3_stmt *upd = s->st[ST_UPDATE_SHARD];
    for (size_t j = 0; j < nshards; j++) {
        if (!s->shards[j].touched)
            continue;
        rp__sq.bind_int64(upd, 1, s->shards[j].key);
        rp__sq.bind_int64(upd, 2, s->shards[j].last_counter);
        rp__sq.bind_int64(upd, 3, s->shards[j].last_arrival_ms);
        if (step_done(s, upd, "update shard", &e) != 0)
            goto out;
    }
    if (now - row.trimmed_ms >= TRIM_EVERY_MS) {
        int64_t budget = TRIM_BUDGET;
        bool complete;
        if (trim_stream(s, row.id, row.retention_hours, now, &budget, &complete, &e) != 0 ||
            (complete && set_trimmed(s, row.id, now, &e) != 0))
            goto out;
    }
    if (tx_finish(s, &in_tx, &e) != 0)
        goto out;
    rc = 0;
out:
    tx_end(s, in_tx);
    if (rc != 0) {
        if (results) {
            /* The message starts with the Kinesis error name when there is one. */
            char code[64] = "InternalFailure";
            const char *colon = strchr(e.msg, ':');
            if (colon && colon - e.msg < (ptrdiff_t)sizeof code && colon - e.msg > 9 &&
                strncmp(colon - 9, "Exception", 9) == 0)
                snprintf(code, sizeof code, "%.*s", (int)(colon - e.msg), e.msg);
            for (size_t i = 0; i < n; i++)
                fail_result(&results[i], code, "%s", e.msg);
        }
        if (err)
            *err = e;
    }
    return rc;
}

/* ---- iterators and reading ------------------------------------------------ */

static int iter_check(rp__local_store *s, const char *body, size_t len, char hex[17], rp_error *err)
{
    unsigned char buf[16 + 96], h[16];
    if (len > 96)
        return rp_error_set(err, RP_ERR_INTERNAL, "local store: iterator too long");
    memcpy(buf, s->store_id, 16);
    memcpy(buf + 16, body, len);
    if (md5(s, buf, 16 + len, h, err) != 0)
        return -1;
    hex_encode(h, 8, hex);
    return 0;
}

/* rpl1.<shard key>.<next counter>.<created ms>.<check>, where check is the
 * first 8 bytes of MD5(store id || everything before it), in hex. */
static int iter_encode(rp__local_store *s, int64_t key, int64_t pos, int64_t created,
                       char out[RP_STREAM_ITER_MAX], rp_error *err)
{
    char hex[17];
    int n = snprintf(out, RP_STREAM_ITER_MAX, ITER_PREFIX "%lld.%lld.%lld", (long long)key, (long long)pos,
                     (long long)created);
    if (iter_check(s, out, (size_t)n, hex, err) != 0)
        return -1;
    snprintf(out + n, RP_STREAM_ITER_MAX - (size_t)n, ".%s", hex);
    return 0;
}

static int parse_dec(const char **p, int64_t *v)
{
    const char *q = *p;
    int64_t x = 0;
    if (*q < '0' || *q > '9')
        return -1;
    for (; *q >= '0' && *q <= '9'; q++) {
        if (x > (INT64_MAX - 9) / 10)
            return -1;
        x = x * 10 + (*q - '0');
    }
    *p = q;
    *v = x;
    return 0;
}

static int iter_decode(rp__local_store *s, const char *it, int64_t *key, int64_t *pos, int64_t *created,
                       rp_error *err)
{
    const char *p = it;
    char hex[17];
    if (!it || strnlen(it, RP_STREAM_ITER_MAX) >= RP_STREAM_ITER_MAX ||
        strncmp(it, ITER_PREFIX, strlen(ITER_PREFIX)) != 0)
        goto bad;
    p += strlen(ITER_PREFIX);
    if (parse_dec(&p, key) != 0 || *p++ != '.' || parse_dec(&p, pos) != 0 || *p++ != '.' ||
        parse_dec(&p, created) != 0 || *p != '.')
        goto bad;
    if (*key < 1 || *key > SHARD_KEY_MAX || *pos > COUNTER_MAX + 1)
        goto bad;
    if (iter_check(s, it, (size_t)(p - it), hex, err) != 0)
        return -1;
    if (strcmp(p + 1, hex) != 0)
        goto bad;
    return 0;
bad:
    return kerr(err, RP_ERR_INVALID, "InvalidArgumentException", "Invalid ShardIterator.");
}

int rp__local_get_iterator(rp__local_store *s, const char *stream, const char *shard_id,
                           rp_stream_iterator type, const char *sequence_number, int64_t timestamp_ms,
                           char iter[RP_STREAM_ITER_MAX], rp_error *err)
{
    int rc = -1;
    bool in_tx = false;
    int64_t idx = 0, seq_idx = 0, seq_counter = 0, pos = 0;
    char canon[RP_STREAM_SHARD_ID_MAX];
    stream_row row;

    if (!s || !iter) {
        rp_error_set(err, RP_ERR_INVALID, "local store: missing argument");
        goto out;
    }
    iter[0] = '\0';
    if (check_stream_name(stream, err) != 0)
        goto out;
    if (!shard_id || !*shard_id || strlen(shard_id) > 128) {
        kerr(err, RP_ERR_INVALID, "ValidationException", "shard id missing or too long");
        goto out;
    }
    if (type < RP_STREAM_TRIM_HORIZON || type > RP_STREAM_AT_TIMESTAMP) {
        kerr(err, RP_ERR_INVALID, "ValidationException", "unknown shard iterator type %d", (int)type);
        goto out;
    }
    bool wants_seq = type == RP_STREAM_AT_SEQUENCE_NUMBER || type == RP_STREAM_AFTER_SEQUENCE_NUMBER;
    if (wants_seq != (sequence_number != NULL)) {
        kerr(err, RP_ERR_INVALID, "InvalidArgumentException",
             "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
             "StartingSequenceNumber or (2) TRIM_HORIZON, LATEST or AT_TIMESTAMP and no "
             "StartingSequenceNumber.");
        goto out;
    }
    if (shard_id_parse(shard_id, &idx) != 0) {
        kerr(err, RP_ERR_NOT_FOUND, "ResourceNotFoundException", "Shard %.140s in stream %s does not exist",
             shard_id, stream);
        goto out;
    }
    shard_id_format(canon, idx);
    if (wants_seq) {
        if (seq_parse(sequence_number, &seq_idx, &seq_counter) != 0) {
            kerr(err, RP_ERR_INVALID, "InvalidArgumentException",
                 "StartingSequenceNumber %.140s used in GetShardIterator on shard %s in stream %s"
                 " is invalid.",
                 sequence_number, canon, stream);
            goto out;
        }
        if (seq_idx != idx) {
            kerr(err, RP_ERR_INVALID, "InvalidArgumentException",
                 "Invalid StartingSequenceNumber. It encodes shardId-%012lld, while it was used"
                 " in a call to a shard with %s",
                 (long long)seq_idx, canon);
            goto out;
        }
    }
    int64_t now = now_ms(s);
    if (type == RP_STREAM_AT_TIMESTAMP && timestamp_ms > now) {
        kerr(err, RP_ERR_INVALID, "InvalidArgumentException",
             "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis."
             " timestampInMillis: %lld, currentTimestampInMillis: %lld",
             (long long)timestamp_ms, (long long)now);
        goto out;
    }
    if (tx_begin(s, false, err) != 0)
        goto out;
    in_tx = true;
    sqlite3_stmt *st = s->st[ST_SHARD_BY_NAME];
    rp__sq.bind_text(st, 1, stream, -1, SQLITE_STATIC);
    rp__sq.bind_int64(st, 2, idx);
    int r = rp__sq.step(st);
    if (r == SQLITE_DONE) {
        rp__sq.reset(st);
        if (find_stream(s, stream, &row, err) == 0)
            kerr(err, RP_ERR_NOT_FOUND, "ResourceNotFoundException", "Shard %s in stream %s does not exist",
                 canon, stream);
        goto out;
    }
    if (r != SQLITE_ROW) {
        sql_err(s, r, "find shard", err);
        goto out;
    }
    int64_t key = rp__sq.column_int64(st, 0);
    int64_t last = rp__sq.column_int64(st, 1);
    int64_t retention = rp__sq.column_int64(st, 2);
    rp__sq.reset(st);
    switch (type) {
    case RP_STREAM_TRIM_HORIZON: pos = 1; break;
    case RP_STREAM_LATEST: pos = last + 1; break;
    case RP_STREAM_AT_SEQUENCE_NUMBER: pos = seq_counter; break;
    case RP_STREAM_AFTER_SEQUENCE_NUMBER: pos = seq_counter + 1; break;
    case RP_STREAM_AT_TIMESTAMP: {
        int64_t cutoff = now - retention * HOUR_MS;
        if (first_since(s, key, 1, last, timestamp_ms > cutoff ? timestamp_ms : cutoff, &pos, err) != 0)
            goto out;
        break;
    }
    }
    if (tx_finish(s, &in_tx, err) != 0)
        goto out;
    if (iter_encode(s, key, pos, now, iter, err) != 0)
        goto out;
    rc = 0;
out:
    tx_end(s, in_tx);
    return rc;
}

int rp__local_get_records(rp__local_store *s, const char *iter, uint32_t limit, rp_stream_record_fn cb,
                          void *ctx, char next_iter[RP_STREAM_ITER_MAX], int64_t *millis_behind_latest,
                          rp_error *err)
{
    int rc = -1;
    bool in_tx = false;
    int64_t key = 0, pos = 0, created = 0;
    char shard_id[RP_STREAM_SHARD_ID_MAX], seq[RP_STREAM_SEQ_MAX];

    if (!s || !iter || !cb || !next_iter) {
        rp_error_set(err, RP_ERR_INVALID, "local store: missing argument");
        goto out;
    }
    if (limit == 0)
        limit = RP_LOCAL_GET_LIMIT_MAX;
    if (limit > RP_LOCAL_GET_LIMIT_MAX) {
        kerr(err, RP_ERR_INVALID, "ValidationException",
             "Value '%u' at 'limit' failed to satisfy constraint: Member must have value less"
             " than or equal to %d",
             limit, RP_LOCAL_GET_LIMIT_MAX);
        goto out;
    }
    if (iter_decode(s, iter, &key, &pos, &created, err) != 0)
        goto out;
    int64_t now = now_ms(s);
    if (now - created > RP_LOCAL_ITER_TTL_MS) {
        kerr(err, RP_ERR_INVALID, "ExpiredIteratorException",
             "Iterator expired. The iterator was created at %lld ms while right now it is"
             " %lld ms, further in the future than the tolerated delay of %d milliseconds.",
             (long long)created, (long long)now, RP_LOCAL_ITER_TTL_MS);
        goto out;
    }
    if (tx_begin(s, false, err) != 0)
        goto out;
    in_tx = true;
    sqlite3_stmt *st = s->st[ST_SHARD_BY_KEY];
    rp__sq.bind_int64(st, 1, key);
    int r = rp__sq.step(st);
    if (r == SQLITE_DONE) {
        kerr(err, RP_ERR_NOT_FOUND, "ResourceNotFoundException",
             "The shard of this iterator no longer exists (stream deleted or shard expired)");
        goto out;
    }
    if (r != SQLITE_ROW) {
        sql_err(s, r, "find shard", err);
        goto out;
    }
    int64_t idx = rp__sq.column_int64(st, 0);
    int64_t last = rp__sq.column_int64(st, 1);
    bool closed = rp__sq.column_type(st, 2) != SQLITE_NULL;
    int64_t ending = rp__sq.column_int64(st, 2);
    int64_t cutoff = now - rp__sq.column_int64(st, 3) * HOUR_MS;
    rp__sq.reset(st);

    int64_t start = pos < 1 ? 1 : pos;
    if (start <= last) {
        /* Skip what retention has expired (or trimming removed). */
        bool found = false;
        int64_t arrival = 0;
        if (arrival_at(s, key, start, &found, &arrival, err) != 0)
            goto out;
        if ((!found || arrival < cutoff) && first_since(s, key, start, last, cutoff, &start, err) != 0)
            goto out;
    }
    int64_t next = start, last_arrival = 0;
    size_t bytes = 0, count = 0;
    if (start <= last) {
        shard_id_format(shard_id, idx);
        seq_format(seq, idx, 0);
        rp_stream_record rec = {.shard_id = shard_id, .sequence_number = seq};
        st = s->st[ST_READ];
        rp__sq.bind_int64(st, 1, rec_id(key, start));
        rp__sq.bind_int64(st, 2, rec_id(key, last));
        rp__sq.bind_int64(st, 3, limit);
        while ((r = rp__sq.step(st)) == SQLITE_ROW) {
            rec.partition_key = (const char *)rp__sq.column_text(st, 2);
            rec.data = rp__sq.column_blob(st, 3);
            size_t klen = (size_t)rp__sq.column_bytes(st, 2);
            size_t dlen = (size_t)rp__sq.column_bytes(st, 3);
            if (count > 0 && bytes + dlen + klen > RP_LOCAL_GET_BYTES_MAX)
                break;
            int64_t counter = rp__sq.column_int64(st, 0) & COUNTER_MAX;
            put_digits(seq + 13, (uint64_t)counter, 20);
            rec.arrival_ms = rp__sq.column_int64(st, 1);
            rec.partition_key_len = klen;
            if (!rec.data)
                rec.data = empty_bytes;
            rec.data_len = dlen;
            int c = cb(ctx, &rec);
            if (c != 0) {
                rp_error_set(err, RP_ERR_INTERNAL, "local store: the record callback returned %d", c);
                goto out;
            }
            bytes += dlen + klen;
            count++;
            next = counter + 1;
            last_arrival = rec.arrival_ms;
        }
        if (r != SQLITE_ROW && r != SQLITE_DONE) {
            sql_err(s, r, "read records", err);
            goto out;
        }
        rp__sq.reset(st);
    }
    if (tx_finish(s, &in_tx, err) != 0)
        goto out;
    if (millis_behind_latest)
        *millis_behind_latest = next > last || count == 0 ? 0 : now - last_arrival;
    if (closed && next > ending)
        next_iter[0] = '\0';
    else if (iter_encode(s, key, next, now, next_iter, err) != 0)
        goto out;
    rc = 0;
out:
    tx_end(s, in_tx);
    return rc;
}

/* ---- resharding ------------------------------------------------------------ */

typedef rp__reshard_piece piece;

static int close_shard(rp__local_store *s, int64_t key, int64_t now, rp_error *err)
{
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (prepare(s, "UPDATE shards SET ending_counter = last_counter, closed_ms = ?2 WHERE id = ?1", &st,
                err) != 0)
        goto out;
    rp__sq.bind_int64(st, 1, key);
    rp__sq.bind_int64(st, 2, now);
    int r = rp__sq.step(st);
    if (r != SQLITE_DONE) {
        sql_err(s, r, "close shard", err);
        goto out;
    }
    rc = 0;
out:
    rp__sq.finalize(st);
    return rc;
}

/* Creates a child shard of range [lo, hi] with the given parents (-1: none). */
static int child(rp__local_store *s, int64_t stream_id, int64_t *next_idx, int64_t parent, int64_t adjacent,
                 u128 lo, u128 hi, int64_t now, piece *out, rp_error *err)
{
    out->idx = (*next_idx)++;
    out->lo = lo;
    out->hi = hi;
    return insert_shard(s, stream_id, out->idx, parent, adjacent, lo, hi, now, &out->key, err);
}

/* The local store's side of the plan of src/stream/reshard.h: children
 * inserted and parents closed in the caller's transaction. */
typedef struct reshard_ctx {
    rp__local_store *s;
    int64_t stream_id, next_idx, now;
} reshard_ctx;

static int local_split(void *ctx, const piece *p, u128 at, piece *left, piece *right, rp_error *err)
{
    reshard_ctx *c = ctx;
    if (child(c->s, c->stream_id, &c->next_idx, p->idx, -1, p->lo, at - 1, c->now, left, err) != 0 ||
        child(c->s, c->stream_id, &c->next_idx, p->idx, -1, at, p->hi, c->now, right, err) != 0)
        return -1;
    return close_shard(c->s, p->key, c->now, err);
}

static int local_merge(void *ctx, const piece *a, const piece *b, piece *merged, rp_error *err)
{
    reshard_ctx *c = ctx;
    if (child(c->s, c->stream_id, &c->next_idx, a->idx, b->idx, a->lo, b->hi, c->now, merged, err) != 0 ||
        close_shard(c->s, a->key, c->now, err) != 0)
        return -1;
    return close_shard(c->s, b->key, c->now, err);
}

int rp__local_update_shard_count(rp__local_store *s, const char *stream, uint32_t target_count, rp_error *err)
{
    int rc = -1;
    bool in_tx = false;
    piece *opened = NULL;
    size_t nshards = 0;
    stream_row row;
    sqlite3_stmt *st = NULL;

    if (!s) {
        rp_error_set(err, RP_ERR_INVALID, "local store: no store");
        goto out;
    }
    if (check_stream_name(stream, err) != 0)
        goto out;
    if (target_count < 1) {
        kerr(err, RP_ERR_INVALID, "ValidationException", "target shard count must be at least 1");
        goto out;
    }
    if (tx_begin(s, true, err) != 0)
        goto out;
    in_tx = true;
    if (find_stream(s, stream, &row, err) != 0 || load_open_shards(s, row.id, &nshards, err) != 0)
        goto out;
    if (target_count > RP_LOCAL_SHARDS_MAX || (size_t)target_count > 2 * nshards ||
        2 * (size_t)target_count < nshards) {
        kerr(err, RP_ERR_LIMIT, "LimitExceededException",
             "UpdateShardCount can scale between half and double the open shard count, up to %d."
             " Current open shard count: %zu, Target shard count: %u",
             RP_LOCAL_SHARDS_MAX, nshards, target_count);
        goto out;
    }
    reshard_ctx rc_ctx = {.s = s, .stream_id = row.id, .next_idx = row.next_idx, .now = now_ms(s)};
    opened = malloc((nshards ? nshards : 1) * sizeof *opened);
    if (!opened) {
        rp_error_set(err, RP_ERR_NOMEM, "local store: out of memory");
        goto out;
    }
    for (size_t i = 0; i < nshards; i++) {
        const open_shard *o = &s->shards[i];
        opened[i] =
            (piece){.key = o->key, .idx = o->idx, .lo = u128_from_be(o->lo), .hi = u128_from_be(o->hi)};
    }
    static const rp__reshard_ops ops = {local_split, local_merge, "local store"};
    if (rp__reshard(opened, nshards, target_count, &ops, &rc_ctx, err) != 0)
        goto out;
    int64_t next_idx = rc_ctx.next_idx;
    if (prepare(s, "UPDATE streams SET next_idx = ?2 WHERE id = ?1", &st, err) != 0)
        goto out;
    rp__sq.bind_int64(st, 1, row.id);
    rp__sq.bind_int64(st, 2, next_idx);
    int r = rp__sq.step(st);
    if (r != SQLITE_DONE) {
        sql_err(s, r, "update stream", err);
        goto out;
    }
    rp__sq.finalize(st);
    st = NULL;
    if (tx_finish(s, &in_tx, err) != 0)
        goto out;
    rc = 0;
out:
    rp__sq.finalize(st);
    free(opened);
    tx_end(s, in_tx);
    return rc;
}
