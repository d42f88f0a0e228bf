/* The checkpoint store interface (see lease_store.h): a tagged dispatch to
 * the SQLite store (checkpoint.c) or the DynamoDB lease table
 * (lease_dynamodb.c). */
#include "consume/lease_store.h"

#include <stdlib.h>
#include <string.h>

#include "consume/lease_dynamodb.h"

struct rp__lease_store {
    rp__lease_kind kind;
    char *spec, *group, *source, *owner;
    int64_t lease_ms;
    rp__ddb_leases *ddb; /* DynamoDB */
};

struct rp__lease {
    rp__lease_store *s;
    rp__ckpt *ck;           /* SQLite */
    rp__ddb_lease_conn *dc; /* DynamoDB */
};

int rp__lease_store_parse(const char *spec, rp__lease_kind *kind, const char **table, rp_error *err)
{
    *table = NULL;
    if (!spec || !*spec)
        return rp_error_set(err, RP_ERR_INVALID, "no checkpoint store given");
    size_t pl = strlen(RP_LEASE_DYNAMODB_PREFIX);
    if (strncmp(spec, RP_LEASE_DYNAMODB_PREFIX, pl) != 0) {
        *kind = RP_LEASE_SQLITE;
        return 0;
    }
    const char *t = spec + pl;
    size_t n = strlen(t);
    bool ok = n >= 3 && n <= 255;
    for (size_t i = 0; ok && i < n; i++)
        ok = (t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= '0' && t[i] <= '9') ||
             t[i] == '_' || t[i] == '-' || t[i] == '.';
    if (!ok)
        return rp_error_set(
            err, RP_ERR_INVALID,
            "checkpoint store %s: a DynamoDB table name is 3 to 255 characters of A-Z a-z 0-9 _ - . "
            "(a SQLite file whose name starts with dynamodb: is ./%s)",
            spec, spec);
    *kind = RP_LEASE_DYNAMODB;
    *table = t;
    return 0;
}

int rp__lease_store_open(const rp__lease_config *cfg, rp__lease_store **out, rp_error *err)
{
    *out = NULL;
    rp__lease_kind kind;
    const char *table;
    if (rp__lease_store_parse(cfg->spec, &kind, &table, err) < 0)
        return -1;
    rp__lease_store *s = calloc(1, sizeof *s);
    if (!s)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    s->kind = kind;
    s->lease_ms = cfg->lease_ms;
    s->spec = strdup(cfg->spec);
    s->group = strdup(cfg->group);
    s->source = strdup(cfg->source);
    s->owner = strdup(cfg->owner);
    if (!s->spec || !s->group || !s->source || !s->owner) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (kind == RP_LEASE_DYNAMODB) {
        rp__ddb_leases_config dc = {.table = table,
                                    .owner = cfg->owner,
                                    .lease_ms = cfg->lease_ms,
                                    .max_steal = cfg->max_steal,
                                    .ddb = {.endpoint_url = cfg->endpoint_url,
                                            .endpoint_source = "the lease table's endpoint",
                                            .region = cfg->region},
                                    .requests = cfg->requests,
                                    .throttles = cfg->throttles,
                                    .clock = cfg->clock,
                                    .clock_ctx = cfg->clock_ctx};
        if (rp__ddb_leases_open(&dc, &s->ddb, err) < 0)
            goto fail;
    } else {
        /* The file must open now, with a clear error if not. */
        rp__ckpt *probe = NULL;
        if (rp__ckpt_open(s->spec, s->group, s->source, s->owner, s->lease_ms, &probe, err) < 0)
            goto fail;
        rp__ckpt_close(probe);
    }
    *out = s;
    return 0;
fail:
    rp__lease_store_close(s);
    return -1;
}

void rp__lease_store_close(rp__lease_store *s)
{
    if (!s)
        return;
    rp__ddb_leases_close(s->ddb);
    free(s->spec);
    free(s->group);
    free(s->source);
    free(s->owner);
    free(s);
}

rp__lease_kind rp__lease_store_kind(const rp__lease_store *s)
{
    return s->kind;
}

const char *rp__lease_store_spec(const rp__lease_store *s)
{
    return s->spec;
}

int rp__lease_open(rp__lease_store *s, rp__lease **out, rp_error *err)
{
    *out = NULL;
    rp__lease *l = calloc(1, sizeof *l);
    if (!l)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    l->s = s;
    if (s->kind == RP_LEASE_DYNAMODB
            ? rp__ddb_leases_connect(s->ddb, &l->dc, err) < 0
            : rp__ckpt_open(s->spec, s->group, s->source, s->owner, s->lease_ms, &l->ck, err) < 0) {
        free(l);
        return -1;
    }
    *out = l;
    return 0;
}

void rp__lease_close(rp__lease *l)
{
    if (!l)
        return;
    rp__ckpt_close(l->ck);
    rp__ddb_leases_disconnect(l->dc);
    free(l);
}

int rp__lease_sync(rp__lease *l, const rp_stream_shard *shards, size_t n_shards, const char *initial_start,
                   const char (*held)[RP_STREAM_SHARD_ID_MAX], size_t n_held, rp__ckpt_plan *plan,
                   rp_error *err)
{
    if (l->dc)
        return rp__ddb_leases_sync(l->dc, shards, n_shards, initial_start, held, n_held, plan, err);
    return rp__ckpt_sync(l->ck, shards, n_shards, initial_start, held, n_held, plan, err);
}

int rp__lease_commit(rp__lease *l, const char *shard_id, const char *sequence_number, bool ended,
                     rp_error *err)
{
    if (l->dc)
        return rp__ddb_leases_commit(l->dc, shard_id, sequence_number, ended, err);
    return rp__ckpt_commit(l->ck, shard_id, sequence_number, ended, err);
}

int rp__lease_release(rp__lease *l, const char *shard_id, rp_error *err)
{
    if (l->dc)
        return rp__ddb_leases_release(l->dc, shard_id, err);
    return rp__ckpt_release(l->ck, shard_id, err);
}

int rp__lease_leave(rp__lease *l, rp_error *err)
{
    if (l->dc)
        return 0;
    return rp__ckpt_leave(l->ck, err);
}
