/* Leases and checkpoints in a KCL 2.x lease table (see lease_dynamodb.h). */
#include "consume/lease_dynamodb.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/retry.h"
#include "consume/lease_kcl.h"
#include "ridepred/log.h"

/* What this process knows of one lease; never freed before the store (the
 * workers keep pointers).  The list is guarded by the store's mutex; the
 * fields by the entry's own, held across a write of the lease. */
typedef struct entry {
    char key[RP_STREAM_SHARD_ID_MAX];
    pthread_mutex_t mu;
    bool held;          /* this process holds the lease */
    bool lost;          /* it held it and lost it (refused write, or not renewed in time) */
    int64_t counter;    /* the leaseCounter of our last write (or of the take) */
    int64_t renewed_ms; /* when a write of ours last went through */
    /* The coordinator's observations (its thread only). */
    bool seen;
    int64_t seen_counter, changed_ms;
} entry;

struct rp__ddb_leases {
    char *table, *owner;
    int64_t lease_ms, renew_ms;
    uint32_t max_steal;
    rp__dynamodb_options ddb;
    char *endpoint_url, *region, *profile;
    rp__aws_credentials creds;
    bool has_creds;
    rp__counter *requests, *throttles;
    int64_t (*clock)(void *);
    void *clock_ctx;
    atomic_bool table_ready;
    pthread_mutex_t mu;
    entry **entries;
    size_t n, cap;
    uint64_t rng;
    size_t last_bad; /* unusable items in the last scan (logged when it changes) */
    /* The coordinator's view of the table's health (its thread only). */
    bool failing;
    int64_t failing_since, last_warn;
};

struct rp__ddb_lease_conn {
    rp__ddb_leases *s;
    rp__dynamodb *d;
    rp__http_transport_fn transport; /* the client's own, which count_transport wraps */
    void *transport_ctx;
};

/* ---- small helpers --------------------------------------------------------- */

static int64_t mono_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ms(const rp__ddb_leases *s)
{
    return s->clock(s->clock_ctx);
}

static char *dup_or_null(const char *s, bool *failed)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *failed = true;
    return d;
}

static void i64s(char *buf, size_t cap, int64_t v)
{
    snprintf(buf, cap, "%" PRId64, v);
}

/* The entry of a lease, made when missing (NULL when memory ran short). */
static entry *find_entry(rp__ddb_leases *s, const char *key, bool make)
{
    entry *e = NULL;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->entries[i]->key, key)) {
            e = s->entries[i];
            break;
        }
    if (!e && make) {
        entry **ne =
            s->n == s->cap ? realloc(s->entries, (s->cap ? s->cap * 2 : 16) * sizeof *ne) : s->entries;
        if (ne) {
            if (s->n == s->cap)
                s->cap = s->cap ? s->cap * 2 : 16;
            s->entries = ne;
            e = calloc(1, sizeof *e);
            if (e) {
                snprintf(e->key, sizeof e->key, "%s", key);
                pthread_mutex_init(&e->mu, NULL);
                s->entries[s->n++] = e;
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    return e;
}

/* Counts every request, and the answers that were throttling. */
static int count_transport(void *ctx, rp__http_client *c, const rp__http_request *req,
                           rp__http_response *resp, rp_error *err)
{
    rp__ddb_lease_conn *x = ctx;
    rp__counter_add(x->s->requests, 1);
    int r = x->transport(x->transport_ctx, c, req, resp, err);
    if (r == 0 && resp->status >= 400) {
        rp__aws_error_info info;
        rp__aws_error_parse(resp, &info);
        if (strstr(info.code, "Throttl") || !strcmp(info.code, "ProvisionedThroughputExceededException") ||
            !strcmp(info.code, "RequestLimitExceeded"))
            rp__counter_add(x->s->throttles, 1);
    }
    return r;
}

/* ---- expressions ------------------------------------------------------------- */

static const rp__ddb_name N_RENEW[] = {{"#c", RP_KCL_LEASE_COUNTER}, {"#o", RP_KCL_LEASE_OWNER}};
static const rp__ddb_name N_TAKE[] = {{"#c", RP_KCL_LEASE_COUNTER}, {"#o", RP_KCL_LEASE_OWNER}};
static const rp__ddb_name N_TAKE_SWITCH[] = {
    {"#c", RP_KCL_LEASE_COUNTER}, {"#o", RP_KCL_LEASE_OWNER}, {"#sw", RP_KCL_OWNER_SWITCHES}};
static const rp__ddb_name N_CHECKPOINT[] = {{"#c", RP_KCL_LEASE_COUNTER},
                                            {"#o", RP_KCL_LEASE_OWNER},
                                            {"#cp", RP_KCL_CHECKPOINT},
                                            {"#sub", RP_KCL_CHECKPOINT_SUB},
                                            {"#sw", RP_KCL_OWNER_SWITCHES},
                                            {"#pc", RP_KCL_PENDING_CHECKPOINT},
                                            {"#pcs", RP_KCL_PENDING_CHECKPOINT_SUB},
                                            {"#pst", RP_KCL_PENDING_CHECKPOINT_STATE}};
static const rp__ddb_name N_CREATE[] = {{"#k", RP_KCL_LEASE_KEY}};
static const rp__ddb_name N_CHILDREN[] = {
    {"#k", RP_KCL_LEASE_KEY}, {"#cp", RP_KCL_CHECKPOINT}, {"#ch", RP_KCL_CHILD_SHARD_IDS}};
#define COUNT(a) (sizeof(a) / sizeof(a)[0])

static int key_item(rp__ddb_item *k, const char *key, rp_error *err)
{
    rp__ddb_item_free(k);
    return rp__ddb_item_set_s(k, RP_KCL_LEASE_KEY, key, strlen(key), err);
}

/* UpdateItem of lease `key`.  Returns 0, RP_DDB_CONDITION_FAILED, -1. */
static int update(rp__ddb_lease_conn *x, const char *key, const char *expr, const char *cond,
                  const rp__ddb_name *names, size_t n_names, const rp__ddb_item *values, rp_error *err)
{
    rp__ddb_item k = {0};
    int rc = -1;
    if (key_item(&k, key, err) == 0) {
        rp__ddb_expr x_ = {.condition = cond, .names = names, .n_names = n_names, .values = values};
        rc = rp__dynamodb_update_item(x->d, x->s->table, &k, expr, &x_, NULL, err);
    }
    rp__ddb_item_free(&k);
    return rc;
}

/* The lease as the table holds it now (consistent).  1 found, 0 not there
 * or unreadable, -1 failure. */
static int read_lease(rp__ddb_lease_conn *x, const char *key, rp__kcl_lease *out, rp_error *err)
{
    rp__ddb_item k = {0}, it = {0};
    int rc = -1;
    if (key_item(&k, key, err) == 0) {
        int r = rp__dynamodb_get_item(x->d, x->s->table, &k, true, &it, err);
        if (r == 0)
            rc = rp__kcl_lease_read(&it, out, err) == 0 ? 1 : 0;
        else if (r == 1)
            rc = 0;
    }
    rp__ddb_item_free(&k);
    rp__ddb_item_free(&it);
    return rc;
}

/* A conditional write of ours failed: did it go through anyway (a request
 * retried after its first answer was lost)?  want_owner: the owner the
 * write leaves ("" none); want_cp: its checkpoint (NULL: any).  Returns 1
 * yes, 0 no (*now is the table's lease, valid when found), -1 cannot tell. */
static int went_through(rp__ddb_lease_conn *x, const char *key, int64_t want_counter, const char *want_owner,
                        const char *want_cp, rp__kcl_lease *now, bool *found, rp_error *err)
{
    int r = read_lease(x, key, now, err);
    *found = r == 1;
    if (r < 0)
        return -1;
    if (r == 0)
        return 0;
    return now->counter == want_counter && !strcmp(now->owner, want_owner) &&
           (!want_cp || !strcmp(now->checkpoint, want_cp));
}

/* Logs a write the table refused, with what it holds. */
static void log_refused(const char *what, const char *key, int64_t expected, const rp__kcl_lease *now,
                        bool found)
{
    char exp[24], got[24] = "(none)";
    i64s(exp, sizeof exp, expected);
    if (found)
        i64s(got, sizeof got, now->counter);
    rp_log(RP_LOG_WARN, what, "shard", key, "expected_lease_counter", exp, "table_lease_counter", got,
           "table_lease_owner", found ? (now->owner[0] ? now->owner : "(none)") : "(no lease)", NULL);
}

/* The lease table failed a call of the coordinator: the first failure is
 * logged, then one line every OUTAGE_LOG_MS while it lasts. */
#define OUTAGE_LOG_MS 5000

static void table_failing(rp__ddb_leases *s, const char *what, const char *key, const char *why)
{
    int64_t now = now_ms(s);
    if (s->failing && now - s->last_warn < OUTAGE_LOG_MS)
        return;
    if (!s->failing) {
        s->failing = true;
        s->failing_since = now;
    }
    s->last_warn = now;
    char ms[24];
    i64s(ms, sizeof ms, now - s->failing_since);
    rp_log(RP_LOG_WARN, what, "table", s->table, "shard", key ? key : "-", "error", why, "failing_for_ms", ms,
           NULL);
}

static void table_answers(rp__ddb_leases *s)
{
    if (!s->failing)
        return;
    s->failing = false;
    char ms[24];
    i64s(ms, sizeof ms, now_ms(s) - s->failing_since);
    rp_log(RP_LOG_INFO, "the lease table answers again", "table", s->table, "failed_for_ms", ms, NULL);
}

/* ---- the table ------------------------------------------------------------- */

/* Checks (creating when missing) the lease table.  0 ready, -1 not (err). */
static int ensure_table(rp__ddb_lease_conn *x, rp_error *err)
{
    rp__ddb_leases *s = x->s;
    if (atomic_load(&s->table_ready))
        return 0;
    rp__dynamodb_table t;
    if (rp__dynamodb_describe_table(x->d, s->table, &t, err) < 0) {
        if (err->code != RP_ERR_NOT_FOUND)
            return -1;
        int r = rp__dynamodb_create_table(x->d, s->table, RP_KCL_LEASE_KEY, err);
        if (r < 0) {
            rp_error_prefix(err, "cannot create the lease table %s", s->table);
            return -1;
        }
        if (r == 0)
            rp_log(RP_LOG_INFO, "lease table created (hash key leaseKey, on-demand billing)", "table",
                   s->table, NULL);
        if (rp__dynamodb_describe_table(x->d, s->table, &t, err) < 0)
            return -1;
    }
    if (strcmp(t.hash_key, RP_KCL_LEASE_KEY) != 0 || strcmp(t.hash_key_type, "S") != 0) {
        rp_error_set(
            err, RP_ERR_INVALID,
            "DynamoDB table %s has the hash key %s (%s), not leaseKey (S): it is not a KCL lease table; "
            "give another table to --checkpoint-store dynamodb:TABLE",
            s->table, t.hash_key, t.hash_key_type);
        return -1;
    }
    if (strcmp(t.status, "ACTIVE") != 0 && strcmp(t.status, "UPDATING") != 0 &&
        rp__dynamodb_wait_active(x->d, s->table, err) < 0)
        return -1;
    atomic_store(&s->table_ready, true);
    return 0;
}

/* ---- open and close ------------------------------------------------------------ */

int rp__ddb_leases_open(const rp__ddb_leases_config *cfg, rp__ddb_leases **out, rp_error *err)
{
    *out = NULL;
    rp__ddb_leases *s = calloc(1, sizeof *s);
    if (!s)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->table_ready, false);
    bool failed = false;
    s->table = dup_or_null(cfg->table, &failed);
    s->owner = dup_or_null(cfg->owner, &failed);
    s->endpoint_url = dup_or_null(cfg->ddb.endpoint_url, &failed);
    s->region = dup_or_null(cfg->ddb.region, &failed);
    s->profile = dup_or_null(cfg->ddb.profile, &failed);
    if (failed || !s->table || !s->owner) {
        rp__ddb_leases_close(s);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    s->lease_ms = cfg->lease_ms;
    s->renew_ms = cfg->lease_ms / 3;
    s->max_steal = cfg->max_steal ? cfg->max_steal : 1;
    s->requests = cfg->requests;
    s->throttles = cfg->throttles;
    s->clock = cfg->clock ? cfg->clock : mono_ms;
    s->clock_ctx = cfg->clock_ctx;
    s->rng = rp__retry_seed(s);
    s->ddb = cfg->ddb;
    s->ddb.endpoint_url = s->endpoint_url;
    s->ddb.region = s->region;
    s->ddb.profile = s->profile;
    if (cfg->ddb.credentials) {
        s->creds = *cfg->ddb.credentials;
        s->has_creds = true;
    }
    s->ddb.credentials = NULL;
    if (!s->ddb.retry.max_attempts)
        s->ddb.retry = (rp__retry_policy){3, 50, 1000};
    if (!s->ddb.timeout_ms) {
        int64_t t = s->lease_ms / 3;
        s->ddb.timeout_ms = (uint32_t)(t < 1000 ? 1000 : t > 10000 ? 10000 : t);
    }
    if (!s->ddb.connect_timeout_ms)
        s->ddb.connect_timeout_ms = s->ddb.timeout_ms < 2000 ? s->ddb.timeout_ms : 2000;
    /* The table now, with a clear error if it cannot be used; DynamoDB
     * out of reach is waited for (the first sync checks again). */
    rp__ddb_lease_conn *x = NULL;
    if (rp__ddb_leases_connect(s, &x, err) < 0) {
        rp__ddb_leases_close(s);
        return -1;
    }
    int r = ensure_table(x, err);
    rp__ddb_leases_disconnect(x);
    if (r < 0) {
        if (!err->retriable) {
            rp_error_prefix(err, "lease table %s", s->table);
            rp__ddb_leases_close(s);
            return -1;
        }
        rp_log(RP_LOG_WARN, "cannot reach the lease table yet; consume starts and waits for it", "table",
               s->table, "error", err->msg, NULL);
    }
    *out = s;
    return 0;
}

void rp__ddb_leases_close(rp__ddb_leases *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        pthread_mutex_destroy(&s->entries[i]->mu);
        free(s->entries[i]);
    }
    free(s->entries);
    pthread_mutex_destroy(&s->mu);
    free(s->table);
    free(s->owner);
    free(s->endpoint_url);
    free(s->region);
    free(s->profile);
    memset(&s->creds, 0, sizeof s->creds);
    free(s);
}

int rp__ddb_leases_connect(rp__ddb_leases *s, rp__ddb_lease_conn **out, rp_error *err)
{
    *out = NULL;
    rp__ddb_lease_conn *x = calloc(1, sizeof *x);
    if (!x)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    x->s = s;
    rp__dynamodb_options o = s->ddb;
    o.credentials = s->has_creds ? &s->creds : NULL;
    if (rp__dynamodb_open(&o, &x->d, err) < 0) {
        rp_error_prefix(err, "lease table %s", s->table);
        free(x);
        return -1;
    }
    rp__http_client *h = rp__dynamodb_http(x->d);
    x->transport = h->transport;
    x->transport_ctx = h->transport_ctx;
    h->transport = count_transport;
    h->transport_ctx = x;
    *out = x;
    return 0;
}

void rp__ddb_leases_disconnect(rp__ddb_lease_conn *x)
{
    if (!x)
        return;
    rp__dynamodb_close(x->d);
    free(x);
}

/* ---- writes of one lease (the entry's mutex held) ---------------------------------- */

/* Marks a held lease lost (entry locked). */
static void lose(entry *e)
{
    e->held = false;
    e->lost = true;
}

/* Renews a held lease.  0 renewed (or kept: DynamoDB out of reach, the
 * lease not yet expired here), 1 lost. */
static int renew(rp__ddb_lease_conn *x, entry *e, int64_t now)
{
    rp__ddb_leases *s = x->s;
    rp_error err;
    rp__ddb_item v = {0};
    int64_t next = e->counter + 1;
    int r = -1;
    if (rp__ddb_item_set_i64(&v, ":n", next, &err) == 0 &&
        rp__ddb_item_set_i64(&v, ":c", e->counter, &err) == 0 &&
        rp__ddb_item_set_s(&v, ":me", s->owner, strlen(s->owner), &err) == 0)
        r = update(x, e->key, "SET #c = :n", "#c = :c AND #o = :me", N_RENEW, COUNT(N_RENEW), &v, &err);
    rp__ddb_item_free(&v);
    if (r == RP_DDB_CONDITION_FAILED) {
        rp__kcl_lease now_l;
        bool found;
        int t = went_through(x, e->key, next, s->owner, NULL, &now_l, &found, &err);
        if (t == 1) {
            r = 0;
        } else if (t == 0) {
            log_refused(
                "lease renewal refused by the lease table (the conditional write failed): another worker "
                "took the lease; stopping the shard's worker",
                e->key, e->counter, &now_l, found);
            lose(e);
            return 1;
        }
    }
    if (r == 0) {
        e->counter = next;
        e->renewed_ms = now;
        return 0;
    }
    if (now - e->renewed_ms > s->lease_ms) {
        char ms[24];
        i64s(ms, sizeof ms, now - e->renewed_ms);
        rp_log(RP_LOG_WARN,
               "lease not renewed within the lease time (the lease table cannot be reached): it "
               "counts as lost here; stopping the shard's worker",
               "shard", e->key, "since_ms", ms, "error", err.msg, NULL);
        lose(e);
        return 1;
    }
    table_failing(s, "cannot renew a lease; retrying at the next sync", e->key, err.msg);
    return 0;
}

int rp__ddb_leases_commit(rp__ddb_lease_conn *x, const char *shard_id, const char *sequence_number,
                          bool ended, rp_error *err)
{
    rp__ddb_leases *s = x->s;
    entry *e = find_entry(s, shard_id, false);
    if (!e) {
        rp_log(RP_LOG_WARN, "checkpoint of a lease this process never held: refused", "shard", shard_id,
               NULL);
        return 1;
    }
    const char *cp = ended ? RP_KCL_SHARD_END : sequence_number;
    if (!cp || !*cp)
        return rp_error_set(err, RP_ERR_INVALID, "checkpoint: no sequence number");
    pthread_mutex_lock(&e->mu);
    int64_t next = e->counter + 1;
    rp__ddb_item v = {0};
    int r = -1;
    if (rp__ddb_item_set_s(&v, ":cp", cp, strlen(cp), err) == 0 &&
        rp__ddb_item_set_i64(&v, ":zero", 0, err) == 0 && rp__ddb_item_set_i64(&v, ":n", next, err) == 0 &&
        rp__ddb_item_set_i64(&v, ":c", e->counter, err) == 0 &&
        rp__ddb_item_set_s(&v, ":me", s->owner, strlen(s->owner), err) == 0)
        r = update(x, shard_id,
                   ended ? "SET #cp = :cp, #sub = :zero, #sw = :zero, #c = :n REMOVE #pc, #pcs, #pst, #o"
                         : "SET #cp = :cp, #sub = :zero, #sw = :zero, #c = :n REMOVE #pc, #pcs, #pst",
                   "#c = :c AND #o = :me", N_CHECKPOINT, COUNT(N_CHECKPOINT), &v, err);
    rp__ddb_item_free(&v);
    if (r == RP_DDB_CONDITION_FAILED) {
        rp__kcl_lease now_l;
        bool found;
        rp_error e2;
        int t = went_through(x, shard_id, next, ended ? "" : s->owner, cp, &now_l, &found, &e2);
        if (t == 1) {
            r = 0;
        } else if (t == 0) {
            log_refused(
                "checkpoint refused by the lease table (the conditional write failed): another worker "
                "holds the lease",
                shard_id, e->counter, &now_l, found);
            lose(e);
            pthread_mutex_unlock(&e->mu);
            return 1;
        } else {
            *err = e2;
            r = -1;
        }
    }
    if (r == 0) {
        e->counter = next;
        e->renewed_ms = now_ms(s);
        if (ended)
            e->held = false;
    }
    pthread_mutex_unlock(&e->mu);
    return r == 0 ? 0 : -1;
}

int rp__ddb_leases_release(rp__ddb_lease_conn *x, const char *shard_id, rp_error *err)
{
    rp__ddb_leases *s = x->s;
    entry *e = find_entry(s, shard_id, false);
    if (!e)
        return 0;
    pthread_mutex_lock(&e->mu);
    int rc = 0;
    if (e->held) {
        int64_t next = e->counter + 1;
        rp__ddb_item v = {0};
        int r = -1;
        if (rp__ddb_item_set_i64(&v, ":n", next, err) == 0 &&
            rp__ddb_item_set_i64(&v, ":c", e->counter, err) == 0 &&
            rp__ddb_item_set_s(&v, ":me", s->owner, strlen(s->owner), err) == 0)
            r = update(x, shard_id, "SET #c = :n REMOVE #o", "#c = :c AND #o = :me", N_RENEW, COUNT(N_RENEW),
                       &v, err);
        rp__ddb_item_free(&v);
        if (r == RP_DDB_CONDITION_FAILED) {
            rp__kcl_lease now_l;
            bool found;
            rp_error e2;
            if (went_through(x, shard_id, next, "", NULL, &now_l, &found, &e2) != 1)
                log_refused("lease release refused by the lease table: another worker holds the lease",
                            shard_id, e->counter, &now_l, found);
            r = 0;
        }
        if (r == 0) {
            e->counter = next;
            e->held = false;
        } else {
            rc = -1;
        }
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* Takes a lease (KCL's takeLease: conditional on the counter seen).  1
 * taken, 0 not (another worker wrote it first), -1 failure. */
static int take(rp__ddb_lease_conn *x, const rp__kcl_lease *l, rp_error *err)
{
    rp__ddb_leases *s = x->s;
    bool switch_owner = l->owner[0] && strcmp(l->owner, s->owner) != 0;
    rp__ddb_item v = {0};
    int r = -1;
    if (rp__ddb_item_set_i64(&v, ":n", l->counter + 1, err) == 0 &&
        rp__ddb_item_set_i64(&v, ":c", l->counter, err) == 0 &&
        rp__ddb_item_set_s(&v, ":me", s->owner, strlen(s->owner), err) == 0 &&
        (!switch_owner || rp__ddb_item_set_i64(&v, ":one", 1, err) == 0))
        r = update(x, l->key, switch_owner ? "SET #o = :me, #c = :n ADD #sw :one" : "SET #o = :me, #c = :n",
                   "#c = :c", switch_owner ? N_TAKE_SWITCH : N_TAKE,
                   switch_owner ? COUNT(N_TAKE_SWITCH) : COUNT(N_TAKE), &v, err);
    rp__ddb_item_free(&v);
    if (r == RP_DDB_CONDITION_FAILED)
        return 0;
    return r == 0 ? 1 : -1;
}

/* ---- the coordinator's step ------------------------------------------------------------ */

typedef struct scan_ctx {
    rp__kcl_lease *v;
    size_t n, cap, bad;
    bool oom;
    char first_bad[RP_ERROR_MSG_MAX];
} scan_ctx;

static int on_item(void *ctx, const rp__ddb_item *it)
{
    scan_ctx *sc = ctx;
    if (sc->n == sc->cap) {
        size_t nc = sc->cap ? sc->cap * 2 : 32;
        rp__kcl_lease *nv = realloc(sc->v, nc * sizeof *nv);
        if (!nv) {
            sc->oom = true;
            return 1;
        }
        sc->v = nv;
        sc->cap = nc;
    }
    rp_error e;
    if (rp__kcl_lease_read(it, &sc->v[sc->n], &e) != 0) {
        if (!sc->bad++)
            snprintf(sc->first_bad, sizeof sc->first_bad, "%s", e.msg);
        return 0;
    }
    sc->n++;
    return 0;
}

static const rp__kcl_lease *find_lease(const scan_ctx *sc, const char *key)
{
    for (size_t i = 0; i < sc->n; i++)
        if (!strcmp(sc->v[i].key, key))
            return &sc->v[i];
    return NULL;
}

static void add_lost(rp__ckpt_plan *plan, const char *key)
{
    snprintf(plan->lost[plan->n_lost++], RP_STREAM_SHARD_ID_MAX, "%s", key);
}

/* Renews the held leases that are due; names the lost ones. */
static void renew_held(rp__ddb_lease_conn *x, const char (*held)[RP_STREAM_SHARD_ID_MAX], size_t n_held,
                       rp__ckpt_plan *plan)
{
    rp__ddb_leases *s = x->s;
    for (size_t i = 0; i < n_held; i++) {
        entry *e = find_entry(s, held[i], false);
        if (!e) {
            add_lost(plan, held[i]);
            continue;
        }
        pthread_mutex_lock(&e->mu);
        int64_t now = now_ms(s);
        if (e->lost)
            add_lost(plan, held[i]);
        else if (e->held && now - e->renewed_ms >= s->renew_ms && renew(x, e, now) == 1)
            add_lost(plan, held[i]);
        pthread_mutex_unlock(&e->mu);
    }
}

/* New shards get a lease (PutItem if absent), added to the scan's leases
 * so that they may be taken in the same sync. */
static void create_missing(rp__ddb_lease_conn *x, const rp_stream_shard *shards, size_t n_shards,
                           const char *initial_start, scan_ctx *sc)
{
    bool fresh = sc->n == 0 && sc->bad == 0;
    const char *cp = fresh ? rp__kcl_start_sentinel(initial_start) : RP_KCL_TRIM_HORIZON;
    for (size_t i = 0; i < n_shards; i++) {
        if (find_lease(sc, shards[i].shard_id))
            continue;
        rp__ddb_item it = {0};
        rp_error err;
        int r = -1;
        if (rp__kcl_lease_item(&shards[i], cp, &it, &err) == 0) {
            rp__ddb_expr cond = {.condition = "attribute_not_exists(#k)", .names = N_CREATE, .n_names = 1};
            r = rp__dynamodb_put_item(x->d, x->s->table, &it, &cond, &err);
        }
        if (r == 0) {
            rp_log(RP_LOG_INFO, "lease created for a new shard", "shard", shards[i].shard_id, "checkpoint",
                   cp, NULL);
            on_item(sc, &it);
        }
        rp__ddb_item_free(&it);
        if (r < 0)
            rp_log(RP_LOG_WARN, "cannot create a shard's lease; retrying at the next sync", "shard",
                   shards[i].shard_id, "error", err.msg, NULL);
    }
}

/* Ended parents get childShardIds (once), as KCL writes them. */
static void note_children(rp__ddb_lease_conn *x, const rp_stream_shard *shards, size_t n_shards,
                          const scan_ctx *sc)
{
    for (size_t i = 0; i < sc->n; i++) {
        const rp__kcl_lease *l = &sc->v[i];
        if (!rp__kcl_ended(l) || l->has_children)
            continue;
        const char *kids[8];
        size_t nk = 0;
        for (size_t j = 0; j < n_shards && nk < 8; j++)
            if (!strcmp(shards[j].parent_shard_id, l->key) ||
                !strcmp(shards[j].adjacent_parent_shard_id, l->key))
                kids[nk++] = shards[j].shard_id;
        if (!nk)
            continue;
        rp__ddb_item v = {0};
        rp_error err;
        if (rp__ddb_item_set_ss(&v, ":ch", kids, nk, &err) == 0 &&
            rp__ddb_item_set_s(&v, ":end", RP_KCL_SHARD_END, strlen(RP_KCL_SHARD_END), &err) == 0)
            update(x, l->key, "SET #ch = :ch", "attribute_exists(#k) AND #cp = :end", N_CHILDREN,
                   COUNT(N_CHILDREN), &v, &err);
        rp__ddb_item_free(&v);
    }
}

int rp__ddb_leases_sync(rp__ddb_lease_conn *x, const rp_stream_shard *shards, size_t n_shards,
                        const char *initial_start, const char (*held)[RP_STREAM_SHARD_ID_MAX], size_t n_held,
                        rp__ckpt_plan *plan, rp_error *err)
{
    rp__ddb_leases *s = x->s;
    memset(plan, 0, sizeof *plan);
    scan_ctx sc = {0};
    rp__kcl_row *rows = NULL;
    bool *eligible = NULL;
    size_t *pick = NULL;
    bool *steal = NULL;
    int rc = -1;
    plan->lost = calloc(n_held ? n_held : 1, sizeof *plan->lost);
    plan->release = calloc(1, sizeof *plan->release);
    if (!plan->lost || !plan->release) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (ensure_table(x, err) < 0) {
        if (!err->retriable)
            goto out;
        table_failing(s, "cannot reach the lease table; retrying", NULL, err->msg);
    } else {
        renew_held(x, held, n_held, plan);
    }
    rp_error serr;
    size_t pages;
    rp__dynamodb_scan_options so = {.consistent = true};
    if (!atomic_load(&s->table_ready) ||
        rp__dynamodb_scan(x->d, s->table, &so, on_item, &sc, &pages, &serr) < 0) {
        if (sc.oom) {
            rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (atomic_load(&s->table_ready))
            table_failing(s, "cannot scan the lease table; retrying", NULL, serr.msg);
        plan->held = n_held - plan->n_lost;
        rc = 0;
        goto out;
    }
    int64_t scan_ms = now_ms(s);
    table_answers(s);
    if (sc.bad != s->last_bad) {
        char nb[24];
        i64s(nb, sizeof nb, (int64_t)sc.bad);
        if (sc.bad)
            rp_log(RP_LOG_WARN, "items of the lease table that are not KCL leases are ignored", "table",
                   s->table, "count", nb, "first", sc.first_bad, NULL);
        s->last_bad = sc.bad;
    }
    create_missing(x, shards, n_shards, initial_start, &sc);
    note_children(x, shards, n_shards, &sc);

    /* Observations, and held leases another worker owns now. */
    rows = calloc(sc.n ? sc.n : 1, sizeof *rows);
    eligible = calloc(sc.n ? sc.n : 1, sizeof *eligible);
    pick = calloc(sc.n ? sc.n : 1, sizeof *pick);
    steal = calloc(sc.n ? sc.n : 1, sizeof *steal);
    plan->acquired = calloc(sc.n ? sc.n : 1, sizeof *plan->acquired);
    if (!rows || !eligible || !pick || !steal || !plan->acquired) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    rp__kcl_eligible(shards, n_shards, sc.v, sc.n, eligible);
    for (size_t i = 0; i < sc.n; i++) {
        const rp__kcl_lease *l = &sc.v[i];
        entry *e = find_entry(s, l->key, true);
        if (!e) {
            rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            goto out;
        }
        pthread_mutex_lock(&e->mu);
        e->changed_ms = rp__kcl_observe(e->seen, e->seen_counter, e->changed_ms, l, scan_ms);
        e->seen = true;
        e->seen_counter = l->counter;
        /* The scan shows another owner of a lease held here: a renewal,
         * conditional as always, confirms it (refused: lost) rather than
         * trusting a view that may be older than our last write. */
        if (e->held && strcmp(l->owner, s->owner) != 0 && renew(x, e, now_ms(s)) == 1) {
            bool listed = false;
            for (size_t j = 0; j < n_held && !listed; j++)
                listed = !strcmp(held[j], l->key);
            if (listed)
                add_lost(plan, l->key);
        }
        rows[i] =
            (rp__kcl_row){.lease = l, .eligible = eligible[i], .held = e->held, .changed_ms = e->changed_ms};
        pthread_mutex_unlock(&e->mu);
        if (eligible[i])
            plan->eligible++;
    }

    rp__kcl_choice ch = {.pick = pick, .steal = steal};
    rp__kcl_choose(rows, sc.n, s->owner, now_ms(s), s->lease_ms, s->max_steal, &s->rng, &ch);
    plan->live_workers = ch.workers;
    size_t mine = ch.mine;
    for (size_t k = 0; k < ch.n_pick; k++) {
        rp__kcl_lease l = sc.v[pick[k]];
        rp_error terr;
        int t = take(x, &l, &terr);
        if (t == 0 && steal[k]) {
            /* Busy leases move their counter with every checkpoint: read
             * it again once and try with the fresh counter, if it is
             * still the same worker's. */
            rp__kcl_lease fresh;
            if (read_lease(x, l.key, &fresh, &terr) == 1 && !strcmp(fresh.owner, l.owner) &&
                !rp__kcl_ended(&fresh)) {
                l = fresh;
                t = take(x, &l, &terr);
            }
        }
        if (t < 0)
            rp_log(RP_LOG_WARN, "cannot take a lease; retrying at the next sync", "shard", l.key, "error",
                   terr.msg, NULL);
        if (t != 1)
            continue;
        entry *e = find_entry(s, l.key, true);
        if (!e)
            continue; /* taken but not tracked: it expires */
        pthread_mutex_lock(&e->mu);
        e->held = true;
        e->lost = false;
        e->counter = l.counter + 1;
        e->renewed_ms = now_ms(s);
        pthread_mutex_unlock(&e->mu);
        rp__kcl_lease_shard(&l, initial_start, &plan->acquired[plan->n_acquired++]);
        mine++;
        if (steal[k])
            plan->n_stolen++;
        char cnt[24];
        i64s(cnt, sizeof cnt, l.counter + 1);
        rp_log(RP_LOG_INFO,
               steal[k] ? "lease stolen from a busier worker to balance the group" : "lease taken", "shard",
               l.key, "previous_owner", l.owner[0] ? l.owner : "(none)", "lease_counter", cnt, "checkpoint",
               l.checkpoint, NULL);
    }
    plan->held = mine;
    rc = 0;
out:
    free(sc.v);
    free(rows);
    free(eligible);
    free(pick);
    free(steal);
    if (rc < 0)
        rp__ckpt_plan_free(plan);
    return rc;
}
