/* KCL 2.x lease rows and the taker's rules (see lease_kcl.h). */
#include "consume/lease_kcl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/retry.h"

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static bool sentinel(const char *s)
{
    return !strcmp(s, RP_KCL_TRIM_HORIZON) || !strcmp(s, RP_KCL_LATEST) || !strcmp(s, RP_KCL_AT_TIMESTAMP) ||
           !strcmp(s, RP_KCL_SHARD_END);
}

/* Copies an S attribute into dst (cap with the NUL).  0 copied, 1 absent
 * (dst ""), -1 present but not an S, too long or holding a NUL. */
static int get_s(const rp__ddb_item *it, const char *name, char *dst, size_t cap)
{
    dst[0] = '\0';
    const rp__ddb_value *v = rp__ddb_item_get(it, name);
    if (!v)
        return 1;
    if (v->type != RP_DDB_S || v->s.len >= cap || strlen(v->s.ptr) != v->s.len)
        return -1;
    memcpy(dst, v->s.ptr, v->s.len + 1);
    return 0;
}

/* An N attribute as an integer; absent: def. */
static int get_n(const rp__ddb_item *it, const char *name, int64_t def, int64_t *out)
{
    const rp__ddb_value *v = rp__ddb_item_get(it, name);
    if (!v) {
        *out = def;
        return 0;
    }
    return rp__ddb_value_i64(v, out);
}

static int bad(rp_error *err, const char *key, const char *why)
{
    rp_error_set(err, RP_ERR_INVALID, "lease %s: %s", key, why);
    return 1;
}

int rp__kcl_lease_read(const rp__ddb_item *it, rp__kcl_lease *out, rp_error *err)
{
    memset(out, 0, sizeof *out);
    if (get_s(it, RP_KCL_LEASE_KEY, out->key, sizeof out->key) != 0 || !out->key[0])
        return bad(err, "?", "no leaseKey string (or one longer than a shard id)");
    if (get_s(it, RP_KCL_LEASE_OWNER, out->owner, sizeof out->owner) < 0)
        return bad(err, out->key, "leaseOwner is not a string of at most 255 bytes");
    if (!rp__ddb_item_get(it, RP_KCL_LEASE_COUNTER) || get_n(it, RP_KCL_LEASE_COUNTER, 0, &out->counter) < 0)
        return bad(err, out->key, "no integer leaseCounter number");
    int r = get_s(it, RP_KCL_CHECKPOINT, out->checkpoint, sizeof out->checkpoint);
    if (r < 0)
        return bad(err, out->key, "checkpoint is not a string");
    if (r == 1)
        snprintf(out->checkpoint, sizeof out->checkpoint, "%s", RP_KCL_TRIM_HORIZON);
    if (!all_digits(out->checkpoint) && !sentinel(out->checkpoint))
        return bad(err, out->key, "checkpoint is neither a sequence number nor a KCL sentinel");
    if (get_n(it, RP_KCL_CHECKPOINT_SUB, 0, &out->sub_seq) < 0 || out->sub_seq < 0)
        return bad(err, out->key, "checkpointSubSequenceNumber is not a non-negative integer");
    if (get_n(it, RP_KCL_OWNER_SWITCHES, 0, &out->owner_switches) < 0)
        return bad(err, out->key, "ownerSwitchesSinceCheckpoint is not an integer");
    const rp__ddb_value *p = rp__ddb_item_get(it, RP_KCL_PARENT_SHARD_ID);
    if (p) {
        if (p->type != RP_DDB_SS || p->n > RP_KCL_PARENTS_MAX)
            return bad(err, out->key, "parentShardId is not a set of at most two strings");
        for (size_t i = 0; i < p->n; i++) {
            if (p->set[i].len >= sizeof out->parents[0] || strlen(p->set[i].ptr) != p->set[i].len)
                return bad(err, out->key, "a parentShardId is longer than a shard id");
            memcpy(out->parents[out->n_parents++], p->set[i].ptr, p->set[i].len + 1);
        }
    }
    out->has_children = rp__ddb_item_get(it, RP_KCL_CHILD_SHARD_IDS) != NULL;
    return 0;
}

int rp__kcl_lease_item(const rp_stream_shard *shard, const char *checkpoint, rp__ddb_item *out, rp_error *err)
{
    rp__ddb_item_free(out);
    const char *parents[RP_KCL_PARENTS_MAX];
    size_t np = 0;
    if (shard->parent_shard_id[0])
        parents[np++] = shard->parent_shard_id;
    if (shard->adjacent_parent_shard_id[0] && (!np || strcmp(parents[0], shard->adjacent_parent_shard_id)))
        parents[np++] = shard->adjacent_parent_shard_id;
    if (rp__ddb_item_set_s(out, RP_KCL_LEASE_KEY, shard->shard_id, strlen(shard->shard_id), err) < 0 ||
        rp__ddb_item_set_i64(out, RP_KCL_LEASE_COUNTER, 0, err) < 0 ||
        rp__ddb_item_set_s(out, RP_KCL_CHECKPOINT, checkpoint, strlen(checkpoint), err) < 0 ||
        rp__ddb_item_set_i64(out, RP_KCL_CHECKPOINT_SUB, 0, err) < 0 ||
        rp__ddb_item_set_i64(out, RP_KCL_OWNER_SWITCHES, 0, err) < 0 ||
        (np && rp__ddb_item_set_ss(out, RP_KCL_PARENT_SHARD_ID, parents, np, err) < 0) ||
        (shard->hash_start[0] && shard->hash_end[0] &&
         (rp__ddb_item_set_s(out, RP_KCL_STARTING_HASH_KEY, shard->hash_start, strlen(shard->hash_start),
                             err) < 0 ||
          rp__ddb_item_set_s(out, RP_KCL_ENDING_HASH_KEY, shard->hash_end, strlen(shard->hash_end), err) <
              0))) {
        rp__ddb_item_free(out);
        return -1;
    }
    return 0;
}

const char *rp__kcl_start_sentinel(const char *start)
{
    if (!strcmp(start, "LATEST"))
        return RP_KCL_LATEST;
    if (!strncmp(start, "AT_TIMESTAMP:", 13))
        return RP_KCL_AT_TIMESTAMP;
    return RP_KCL_TRIM_HORIZON;
}

bool rp__kcl_ended(const rp__kcl_lease *l)
{
    return !strcmp(l->checkpoint, RP_KCL_SHARD_END);
}

void rp__kcl_lease_shard(const rp__kcl_lease *l, const char *initial_start, rp__ckpt_shard *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->shard_id, sizeof out->shard_id, "%s", l->key);
    snprintf(out->start, sizeof out->start, "TRIM_HORIZON");
    if (rp__kcl_ended(l)) {
        out->ended = true;
    } else if (all_digits(l->checkpoint)) {
        snprintf(out->checkpoint, sizeof out->checkpoint, "%s", l->checkpoint);
        out->at_checkpoint = l->sub_seq > 0;
    } else if (!strcmp(l->checkpoint, RP_KCL_LATEST)) {
        snprintf(out->start, sizeof out->start, "LATEST");
    } else if (!strcmp(l->checkpoint, RP_KCL_AT_TIMESTAMP) && !strncmp(initial_start, "AT_TIMESTAMP:", 13)) {
        snprintf(out->start, sizeof out->start, "%s", initial_start);
    }
}

static const rp__kcl_lease *find(const rp__kcl_lease *leases, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(leases[i].key, key))
            return &leases[i];
    return NULL;
}

static const rp_stream_shard *find_shard(const rp_stream_shard *shards, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(shards[i].shard_id, id))
            return &shards[i];
    return NULL;
}

/* A parent blocks its child while it is listed and its lease is not at
 * SHARD_END (or it has no lease yet). */
static bool blocks(const rp_stream_shard *shards, size_t n_shards, const rp__kcl_lease *leases, size_t n,
                   const char *parent)
{
    if (!parent[0] || !find_shard(shards, n_shards, parent))
        return false;
    const rp__kcl_lease *p = find(leases, n, parent);
    return !p || !rp__kcl_ended(p);
}

void rp__kcl_eligible(const rp_stream_shard *shards, size_t n_shards, const rp__kcl_lease *leases, size_t n,
                      bool *eligible)
{
    for (size_t i = 0; i < n; i++) {
        const rp__kcl_lease *l = &leases[i];
        const rp_stream_shard *s = find_shard(shards, n_shards, l->key);
        bool ok = s && !rp__kcl_ended(l);
        if (ok)
            ok = !blocks(shards, n_shards, leases, n, s->parent_shard_id) &&
                 !blocks(shards, n_shards, leases, n, s->adjacent_parent_shard_id);
        for (size_t p = 0; ok && p < l->n_parents; p++)
            ok = !blocks(shards, n_shards, leases, n, l->parents[p]);
        eligible[i] = ok;
    }
}

int64_t rp__kcl_observe(bool seen, int64_t seen_counter, int64_t seen_changed_ms, const rp__kcl_lease *l,
                        int64_t scan_ms)
{
    if (!seen)
        return l->owner[0] ? scan_ms : RP_KCL_NEVER;
    return seen_counter == l->counter ? seen_changed_ms : scan_ms;
}

bool rp__kcl_expired(const rp__kcl_lease *l, int64_t changed_ms, int64_t now_ms, int64_t lease_ms)
{
    return !l->owner[0] || now_ms - changed_ms > lease_ms;
}

/* Whether row r is available to take: eligible, and free, expired, or
 * marked mine in the table while this process does not hold it. */
static bool available(const rp__kcl_row *r, const char *me, int64_t now, int64_t lease_ms)
{
    if (!r->eligible || r->held)
        return false;
    return rp__kcl_expired(r->lease, r->changed_ms, now, lease_ms) || !strcmp(r->lease->owner, me);
}

/* Shuffles idx[0..n) (Fisher-Yates). */
static void shuffle(size_t *idx, size_t n, uint64_t *rng)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rp__retry_random(rng) % i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

void rp__kcl_choose(const rp__kcl_row *rows, size_t n, const char *me, int64_t now_ms, int64_t lease_ms,
                    uint32_t max_steal, uint64_t *rng, rp__kcl_choice *out)
{
    out->workers = 1;
    out->target = 0;
    out->mine = 0;
    out->n_pick = 0;
    if (!max_steal)
        max_steal = 1;
    size_t eligible = 0, n_avail = 0;
    /* The owners of unexpired leases and their counts (owner[k] is the
     * first row of owner k). */
    size_t *owner_row = calloc(n ? n : 1, sizeof *owner_row), *count = calloc(n ? n : 1, sizeof *count);
    size_t *avail = calloc(n ? n : 1, sizeof *avail);
    size_t n_owners = 0;
    if (!owner_row || !count || !avail)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const rp__kcl_row *r = &rows[i];
        if (!r->eligible)
            continue;
        eligible++;
        if (r->held) {
            out->mine++;
            continue;
        }
        if (available(r, me, now_ms, lease_ms)) {
            avail[n_avail++] = i;
            continue;
        }
        size_t k = 0;
        while (k < n_owners && strcmp(rows[owner_row[k]].lease->owner, r->lease->owner) != 0)
            k++;
        if (k == n_owners) {
            owner_row[n_owners] = i;
            count[n_owners++] = 0;
        }
        count[k]++;
    }
    out->workers = n_owners + 1;
    if (!eligible)
        goto out;
    out->target = out->workers >= eligible ? 1 : (eligible + out->workers - 1) / out->workers;
    if (out->mine >= out->target)
        goto out;
    size_t needed = out->target - out->mine;
    if (n_avail) {
        shuffle(avail, n_avail, rng);
        for (size_t i = 0; i < n_avail && out->n_pick < needed; i++) {
            out->steal[out->n_pick] = false;
            out->pick[out->n_pick++] = avail[i];
        }
        goto out;
    }
    /* Nothing free: steal from the most loaded worker. */
    size_t most = 0;
    for (size_t k = 1; k < n_owners; k++)
        if (count[k] > count[most])
            most = k;
    if (!n_owners || count[most] < out->target)
        goto out;
    size_t steal = count[most] - out->target;
    if (steal > needed)
        steal = needed;
    if (!steal && needed > 1)
        steal = 1;
    if (steal > max_steal)
        steal = max_steal;
    size_t n_cand = 0;
    const char *victim = rows[owner_row[most]].lease->owner;
    for (size_t i = 0; i < n; i++)
        if (rows[i].eligible && !rows[i].held && !available(&rows[i], me, now_ms, lease_ms) &&
            !strcmp(rows[i].lease->owner, victim))
            avail[n_cand++] = i;
    shuffle(avail, n_cand, rng);
    for (size_t i = 0; i < n_cand && out->n_pick < steal; i++) {
        out->steal[out->n_pick] = true;
        out->pick[out->n_pick++] = avail[i];
    }
out:
    free(owner_row);
    free(count);
    free(avail);
}
