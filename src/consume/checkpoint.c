/* Checkpoints and leases in SQLite (see checkpoint.h). */
#include "consume/checkpoint.h"
#include "common/file.h"
#include "stream/sqlite_api.h"
#include "stream/sqlite_wal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define APP_ID 0x5250434b /* "RPCK" */
#define SCHEMA_VERSION 1

struct rp__ckpt {
    sqlite3 *db;
    sqlite3_stmt *commit, *release;
    char *group, *source, *owner;
    int64_t lease_ms;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS leases("
    " grp TEXT NOT NULL, source TEXT NOT NULL, shard_id TEXT NOT NULL,"
    " checkpoint TEXT NOT NULL DEFAULT '', ended INTEGER NOT NULL DEFAULT 0,"
    " start TEXT NOT NULL, owner TEXT, expires_ms INTEGER NOT NULL DEFAULT 0,"
    " updated_ms INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(grp, source, shard_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS workers("
    " grp TEXT NOT NULL, source TEXT NOT NULL, owner TEXT NOT NULL, seen_ms INTEGER NOT NULL,"
    " PRIMARY KEY(grp, source, owner)) WITHOUT ROWID;";

int64_t rp__ckpt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int db_error(rp__ckpt *c, rp_error *err, const char *what)
{
    int code = rp__sq.extended_errcode(c->db);
    rp_error_set(err, RP_ERR_IO, "checkpoint store: %s: %s", what, rp__sq.errmsg(c->db));
    if (err && ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED))
        err->retriable = true;
    return -1;
}

static int exec(rp__ckpt *c, const char *sql, rp_error *err)
{
    if (rp__sq.exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_error(c, err, sql);
    return 0;
}

static int query_int(rp__ckpt *c, const char *sql, int *out, rp_error *err)
{
    sqlite3_stmt *st;
    if (rp__sq.prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(c, err, sql);
    int r = rp__sq.step(st);
    *out = r == SQLITE_ROW ? rp__sq.column_int(st, 0) : 0;
    rp__sq.finalize(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        return db_error(c, err, sql);
    return 0;
}

int rp__ckpt_open(const char *path, const char *group, const char *source, const char *owner,
                  int64_t lease_ms, rp__ckpt **out, rp_error *err)
{
    *out = NULL;
    if (rp__sqlite_load(err) != 0) {
        rp_error_prefix(err, "checkpoint store");
        return -1;
    }
    rp__ckpt *c = calloc(1, sizeof *c);
    if (!c)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    c->group = strdup(group);
    c->source = strdup(source);
    c->owner = strdup(owner);
    c->lease_ms = lease_ms;
    if (!c->group || !c->source || !c->owner) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (rp__file_mkdirs_for(path, 0700, err) < 0) {
        rp_error_prefix(err, "checkpoint store");
        goto fail;
    }
    if (rp__sqlite_check_files(path, err) < 0) {
        rp_error_prefix(err, "checkpoint store");
        goto fail;
    }
    if (rp__sq.open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                       NULL) != SQLITE_OK) {
        rp_error_set(err, RP_ERR_IO, "checkpoint store %s: %s", path,
                     c->db ? rp__sq.errmsg(c->db) : "cannot open");
        goto fail;
    }
    rp__sq.busy_timeout(c->db, RP_CKPT_BUSY_TIMEOUT_MS);
    int app = 0, ver = 0;
    if (query_int(c, "PRAGMA application_id", &app, err) < 0) {
        rp_error_set(err, RP_ERR_CORRUPT, "checkpoint store %s is not a ridepred checkpoint store", path);
        goto fail;
    }
    if (app != 0 && app != APP_ID) {
        rp_error_set(err, RP_ERR_CORRUPT, "checkpoint store %s belongs to another application", path);
        goto fail;
    }
    char mode[32];
    int wal = rp__sqlite_enable_wal(c->db, RP_CKPT_BUSY_TIMEOUT_MS, mode, sizeof mode);
    if (wal == SQLITE_CANTOPEN) {
        rp_error_set(err, RP_ERR_IO, "checkpoint store %s: cannot use WAL (journal mode %s)", path, mode);
        goto fail;
    }
    if (wal != SQLITE_OK) {
        db_error(c, err, "PRAGMA journal_mode=WAL");
        goto fail;
    }
    if (exec(c, "PRAGMA synchronous=NORMAL", err) < 0)
        goto fail;
    if (exec(c, "BEGIN IMMEDIATE", err) < 0)
        goto fail;
    if (query_int(c, "PRAGMA user_version", &ver, err) < 0)
        goto rollback;
    if (ver > SCHEMA_VERSION) {
        rp_error_set(err, RP_ERR_UNSUPPORTED,
                     "checkpoint store %s has schema %d, newer than this ridepred's %d", path, ver,
                     SCHEMA_VERSION);
        goto rollback;
    }
    char pragmas[128];
    snprintf(pragmas, sizeof pragmas, "PRAGMA application_id=%d; PRAGMA user_version=%d;", APP_ID,
             SCHEMA_VERSION);
    if (exec(c, schema, err) < 0 || exec(c, pragmas, err) < 0)
        goto rollback;
    if (exec(c, "COMMIT", err) < 0)
        goto rollback;
    if (rp__sq.prepare_v2(c->db,
                          "UPDATE leases SET checkpoint = CASE WHEN ?1 = '' THEN checkpoint ELSE ?1 END,"
                          " ended = ?2, expires_ms = CASE WHEN ?2 THEN 0 ELSE ?3 + ?4 END,"
                          " owner = CASE WHEN ?2 THEN NULL ELSE owner END, updated_ms = ?3"
                          " WHERE grp = ?5 AND source = ?6 AND shard_id = ?7 AND owner = ?8"
                          " AND expires_ms > ?3",
                          -1, &c->commit, NULL) != SQLITE_OK ||
        rp__sq.prepare_v2(c->db,
                          "UPDATE leases SET owner = NULL, expires_ms = 0"
                          " WHERE grp = ?1 AND source = ?2 AND shard_id = ?3 AND owner = ?4",
                          -1, &c->release, NULL) != SQLITE_OK) {
        db_error(c, err, "prepare");
        goto fail;
    }
    *out = c;
    return 0;
rollback:
    rp__sq.exec(c->db, "ROLLBACK", NULL, NULL, NULL);
fail:
    rp__ckpt_close(c);
    return -1;
}

void rp__ckpt_close(rp__ckpt *c)
{
    if (!c)
        return;
    rp__sq.finalize(c->commit);
    rp__sq.finalize(c->release);
    rp__sq.close(c->db);
    free(c->group);
    free(c->source);
    free(c->owner);
    free(c);
}

void rp__ckpt_plan_free(rp__ckpt_plan *p)
{
    free(p->acquired);
    free(p->lost);
    free(p->release);
    memset(p, 0, sizeof *p);
}

static void bind_key(sqlite3_stmt *st, rp__ckpt *c, int first)
{
    rp__sq.bind_text(st, first, c->group, -1, SQLITE_STATIC);
    rp__sq.bind_text(st, first + 1, c->source, -1, SQLITE_STATIC);
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = rp__sq.column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* A row as sync sees it. */
typedef struct row {
    rp__ckpt_shard s;
    char owner[RP_CKPT_OWNER_MAX];
    int64_t expires_ms;
    bool listed;
} row;

static row *find_row(row *rows, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rows[i].s.shard_id, id))
            return &rows[i];
    return NULL;
}

static bool is_held(const char (*held)[RP_STREAM_SHARD_ID_MAX], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(held[i], id))
            return true;
    return false;
}

int rp__ckpt_sync(rp__ckpt *c, const rp_stream_shard *shards, size_t n_shards, const char *initial_start,
                  const char (*held)[RP_STREAM_SHARD_ID_MAX], size_t n_held, rp__ckpt_plan *plan,
                  rp_error *err)
{
    memset(plan, 0, sizeof *plan);
    int rc = -1;
    sqlite3_stmt *st = NULL;
    row *rows = NULL;
    size_t n_rows = 0, cap_rows = 0;
    int64_t now = rp__ckpt_now_ms();
    bool in_txn = false;

    plan->acquired = calloc(n_shards ? n_shards : 1, sizeof *plan->acquired);
    plan->lost = calloc(n_held ? n_held : 1, sizeof *plan->lost);
    plan->release = calloc(n_held + n_shards + 1, sizeof *plan->release);
    if (!plan->acquired || !plan->lost || !plan->release) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (exec(c, "BEGIN IMMEDIATE", err) < 0)
        goto out;
    in_txn = true;

    /* Heartbeat, and forget consumers gone for ten lease times. */
    if (rp__sq.prepare_v2(c->db,
                          "INSERT INTO workers(grp, source, owner, seen_ms) VALUES(?1, ?2, ?3, ?4)"
                          " ON CONFLICT(grp, source, owner) DO UPDATE SET seen_ms = excluded.seen_ms",
                          -1, &st, NULL) != SQLITE_OK)
        goto dberr;
    bind_key(st, c, 1);
    rp__sq.bind_text(st, 3, c->owner, -1, SQLITE_STATIC);
    rp__sq.bind_int64(st, 4, now);
    if (rp__sq.step(st) != SQLITE_DONE)
        goto dberr;
    rp__sq.finalize(st);
    st = NULL;
    if (rp__sq.prepare_v2(c->db, "DELETE FROM workers WHERE grp = ?1 AND source = ?2 AND seen_ms < ?3", -1,
                          &st, NULL) != SQLITE_OK)
        goto dberr;
    bind_key(st, c, 1);
    rp__sq.bind_int64(st, 3, now - 10 * c->lease_ms);
    if (rp__sq.step(st) != SQLITE_DONE)
        goto dberr;
    rp__sq.finalize(st);
    st = NULL;

    /* Does the group know this source at all? */
    if (rp__sq.prepare_v2(c->db, "SELECT count(*) FROM leases WHERE grp = ?1 AND source = ?2", -1, &st,
                          NULL) != SQLITE_OK)
        goto dberr;
    bind_key(st, c, 1);
    if (rp__sq.step(st) != SQLITE_ROW)
        goto dberr;
    bool fresh = rp__sq.column_int64(st, 0) == 0;
    rp__sq.finalize(st);
    st = NULL;

    /* New shards. */
    if (rp__sq.prepare_v2(c->db,
                          "INSERT OR IGNORE INTO leases(grp, source, shard_id, start, updated_ms)"
                          " VALUES(?1, ?2, ?3, ?4, ?5)",
                          -1, &st, NULL) != SQLITE_OK)
        goto dberr;
    for (size_t i = 0; i < n_shards; i++) {
        rp__sq.reset(st);
        bind_key(st, c, 1);
        rp__sq.bind_text(st, 3, shards[i].shard_id, -1, SQLITE_STATIC);
        rp__sq.bind_text(st, 4, fresh ? initial_start : "TRIM_HORIZON", -1, SQLITE_STATIC);
        rp__sq.bind_int64(st, 5, now);
        if (rp__sq.step(st) != SQLITE_DONE)
            goto dberr;
    }
    rp__sq.finalize(st);
    st = NULL;

    /* Renew what we hold. */
    if (rp__sq.prepare_v2(c->db,
                          "UPDATE leases SET expires_ms = ?3 + ?4 WHERE grp = ?1 AND source = ?2"
                          " AND owner = ?5 AND expires_ms > ?3 AND ended = 0",
                          -1, &st, NULL) != SQLITE_OK)
        goto dberr;
    bind_key(st, c, 1);
    rp__sq.bind_int64(st, 3, now);
    rp__sq.bind_int64(st, 4, c->lease_ms);
    rp__sq.bind_text(st, 5, c->owner, -1, SQLITE_STATIC);
    if (rp__sq.step(st) != SQLITE_DONE)
        goto dberr;
    rp__sq.finalize(st);
    st = NULL;

    /* Live consumers. */
    if (rp__sq.prepare_v2(c->db,
                          "SELECT count(*) FROM workers WHERE grp = ?1 AND source = ?2 AND seen_ms > ?3", -1,
                          &st, NULL) != SQLITE_OK)
        goto dberr;
    bind_key(st, c, 1);
    rp__sq.bind_int64(st, 3, now - c->lease_ms);
    if (rp__sq.step(st) != SQLITE_ROW)
        goto dberr;
    plan->live_workers = (size_t)rp__sq.column_int64(st, 0);
    if (plan->live_workers < 1)
        plan->live_workers = 1;
    rp__sq.finalize(st);
    st = NULL;

    /* Every row of the source. */
    if (rp__sq.prepare_v2(c->db,
                          "SELECT shard_id, checkpoint, start, ended, owner, expires_ms FROM leases"
                          " WHERE grp = ?1 AND source = ?2 ORDER BY shard_id",
                          -1, &st, NULL) != SQLITE_OK)
        goto dberr;
    bind_key(st, c, 1);
    int r;
    while ((r = rp__sq.step(st)) == SQLITE_ROW) {
        if (n_rows == cap_rows) {
            size_t nc = cap_rows ? cap_rows * 2 : 16;
            row *nr = realloc(rows, nc * sizeof *rows);
            if (!nr) {
                rp_error_set(err, RP_ERR_NOMEM, "out of memory");
                goto out;
            }
            rows = nr;
            cap_rows = nc;
        }
        row *w = &rows[n_rows++];
        memset(w, 0, sizeof *w);
        copy_col(w->s.shard_id, sizeof w->s.shard_id, st, 0);
        copy_col(w->s.checkpoint, sizeof w->s.checkpoint, st, 1);
        copy_col(w->s.start, sizeof w->s.start, st, 2);
        w->s.ended = rp__sq.column_int(st, 3) != 0;
        copy_col(w->owner, sizeof w->owner, st, 4);
        w->expires_ms = rp__sq.column_int64(st, 5);
    }
    if (r != SQLITE_DONE)
        goto dberr;
    rp__sq.finalize(st);
    st = NULL;
    for (size_t i = 0; i < n_shards; i++) {
        row *w = find_row(rows, n_rows, shards[i].shard_id);
        if (w)
            w->listed = true;
    }

    /* Lost leases. */
    for (size_t i = 0; i < n_held; i++) {
        row *w = find_row(rows, n_rows, held[i]);
        if (!w || strcmp(w->owner, c->owner) != 0 || w->expires_ms <= now)
            snprintf(plan->lost[plan->n_lost++], RP_STREAM_SHARD_ID_MAX, "%s", held[i]);
    }

    /* Eligible shards: listed, not ended, every listed parent ended. */
    size_t held_now = 0;
    bool *eligible = calloc(n_shards ? n_shards : 1, sizeof *eligible);
    if (!eligible) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_shards; i++) {
        row *w = find_row(rows, n_rows, shards[i].shard_id);
        if (!w || w->s.ended)
            continue;
        bool ok = true;
        const char *parents[2] = {shards[i].parent_shard_id, shards[i].adjacent_parent_shard_id};
        for (int p = 0; p < 2 && ok; p++) {
            if (!parents[p][0])
                continue;
            row *pw = find_row(rows, n_rows, parents[p]);
            if (pw && pw->listed && !pw->s.ended)
                ok = false;
        }
        if (!ok)
            continue;
        eligible[i] = true;
        plan->eligible++;
        if (!strcmp(w->owner, c->owner) && w->expires_ms > now && is_held(held, n_held, w->s.shard_id))
            held_now++;
    }
    size_t target = (plan->eligible + plan->live_workers - 1) / plan->live_workers;

    /* Take free or expired leases up to the fair share. */
    if (held_now < target) {
        if (rp__sq.prepare_v2(c->db,
                              "UPDATE leases SET owner = ?3, expires_ms = ?4 + ?5, updated_ms = ?4"
                              " WHERE grp = ?1 AND source = ?2 AND shard_id = ?6 AND ended = 0"
                              " AND (owner IS NULL OR expires_ms <= ?4)",
                              -1, &st, NULL) != SQLITE_OK) {
            free(eligible);
            goto dberr;
        }
        for (size_t i = 0; i < n_shards && held_now < target; i++) {
            if (!eligible[i] || is_held(held, n_held, shards[i].shard_id))
                continue;
            row *w = find_row(rows, n_rows, shards[i].shard_id);
            if (w->owner[0] && w->expires_ms > now)
                continue;
            rp__sq.reset(st);
            bind_key(st, c, 1);
            rp__sq.bind_text(st, 3, c->owner, -1, SQLITE_STATIC);
            rp__sq.bind_int64(st, 4, now);
            rp__sq.bind_int64(st, 5, c->lease_ms);
            rp__sq.bind_text(st, 6, w->s.shard_id, -1, SQLITE_STATIC);
            if (rp__sq.step(st) != SQLITE_DONE) {
                free(eligible);
                goto dberr;
            }
            if (rp__sq.changes(c->db) == 1) {
                plan->acquired[plan->n_acquired++] = w->s;
                held_now++;
            }
        }
        rp__sq.finalize(st);
        st = NULL;
    } else if (held_now > target) {
        /* Hand back the highest shard ids beyond the share. */
        size_t excess = held_now - target;
        for (size_t i = n_shards; i-- > 0 && excess > 0;) {
            if (!eligible[i] || !is_held(held, n_held, shards[i].shard_id))
                continue;
            row *w = find_row(rows, n_rows, shards[i].shard_id);
            if (strcmp(w->owner, c->owner) != 0 || w->expires_ms <= now)
                continue;
            snprintf(plan->release[plan->n_release++], RP_STREAM_SHARD_ID_MAX, "%s", w->s.shard_id);
            excess--;
        }
    }
    free(eligible);
    plan->held = held_now;
    if (exec(c, "COMMIT", err) < 0)
        goto out;
    in_txn = false;
    rc = 0;
    goto out;
dberr:
    db_error(c, err, "sync");
out:
    rp__sq.finalize(st);
    if (in_txn)
        rp__sq.exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    free(rows);
    if (rc < 0)
        rp__ckpt_plan_free(plan);
    return rc;
}

int rp__ckpt_commit(rp__ckpt *c, const char *shard_id, const char *sequence_number, bool ended, rp_error *err)
{
    sqlite3_stmt *st = c->commit;
    rp__sq.reset(st);
    rp__sq.bind_text(st, 1, sequence_number ? sequence_number : "", -1, SQLITE_STATIC);
    rp__sq.bind_int(st, 2, ended ? 1 : 0);
    rp__sq.bind_int64(st, 3, rp__ckpt_now_ms());
    rp__sq.bind_int64(st, 4, c->lease_ms);
    bind_key(st, c, 5);
    rp__sq.bind_text(st, 7, shard_id, -1, SQLITE_STATIC);
    rp__sq.bind_text(st, 8, c->owner, -1, SQLITE_STATIC);
    int r = rp__sq.step(st);
    rp__sq.reset(st);
    if (r != SQLITE_DONE)
        return db_error(c, err, "checkpoint");
    return rp__sq.changes(c->db) == 1 ? 0 : 1;
}

int rp__ckpt_release(rp__ckpt *c, const char *shard_id, rp_error *err)
{
    sqlite3_stmt *st = c->release;
    rp__sq.reset(st);
    bind_key(st, c, 1);
    rp__sq.bind_text(st, 3, shard_id, -1, SQLITE_STATIC);
    rp__sq.bind_text(st, 4, c->owner, -1, SQLITE_STATIC);
    int r = rp__sq.step(st);
    rp__sq.reset(st);
    if (r != SQLITE_DONE)
        return db_error(c, err, "release");
    return 0;
}

int rp__ckpt_leave(rp__ckpt *c, rp_error *err)
{
    sqlite3_stmt *st;
    if (rp__sq.prepare_v2(c->db, "DELETE FROM workers WHERE grp = ?1 AND source = ?2 AND owner = ?3", -1, &st,
                          NULL) != SQLITE_OK)
        return db_error(c, err, "leave");
    bind_key(st, c, 1);
    rp__sq.bind_text(st, 3, c->owner, -1, SQLITE_STATIC);
    int r = rp__sq.step(st);
    rp__sq.finalize(st);
    if (r != SQLITE_DONE)
        return db_error(c, err, "leave");
    return 0;
}

int rp__ckpt_get(rp__ckpt *c, const char *shard_id, rp__ckpt_shard *out, char owner[RP_CKPT_OWNER_MAX],
                 int64_t *expires_ms, rp_error *err)
{
    sqlite3_stmt *st;
    if (rp__sq.prepare_v2(c->db,
                          "SELECT shard_id, checkpoint, start, ended, owner, expires_ms FROM leases"
                          " WHERE grp = ?1 AND source = ?2 AND shard_id = ?3",
                          -1, &st, NULL) != SQLITE_OK)
        return db_error(c, err, "read");
    bind_key(st, c, 1);
    rp__sq.bind_text(st, 3, shard_id, -1, SQLITE_STATIC);
    int r = rp__sq.step(st), rc = 0;
    if (r == SQLITE_ROW) {
        copy_col(out->shard_id, sizeof out->shard_id, st, 0);
        copy_col(out->checkpoint, sizeof out->checkpoint, st, 1);
        copy_col(out->start, sizeof out->start, st, 2);
        out->ended = rp__sq.column_int(st, 3) != 0;
        if (owner)
            copy_col(owner, RP_CKPT_OWNER_MAX, st, 4);
        if (expires_ms)
            *expires_ms = rp__sq.column_int64(st, 5);
        rc = 1;
    } else if (r != SQLITE_DONE) {
        rc = db_error(c, err, "read");
    }
    rp__sq.finalize(st);
    return rc;
}
