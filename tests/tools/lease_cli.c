/* lease_cli: the consumer's checkpoint stores (src/consume/lease_store.h)
 * driven step by step, with an injected clock, for
 * tests/integration/test_consume_dynamodb.py: several stores ("workers")
 * in one process on one DynamoDB lease table (dynalite), so that the test
 * decides who syncs, who pauses and when time passes.
 *
 *   lease_cli SPEC
 *
 * SPEC is what --checkpoint-store takes (dynamodb:TABLE; the endpoint and
 * credentials come from the environment as for consume).  Commands come on
 * stdin, one a line, words separated by spaces; each answers one JSON line
 * on stdout (flushed):
 *
 *   open NAME OWNER LEASE_MS [MAX_STEAL]   a store and its handle
 *   clock MS                               the clock moves MS forward
 *   sync NAME SHARDS HELD                  prints the plan: {"rc", "acquired":
 *                                          [{"shard", "checkpoint", "start", "at"}],
 *                                          "stolen", "lost", "workers", "eligible", "held"}
 *   commit NAME SHARD SEQ [ended]          {"rc"}: 0 stored, 1 refused, -1 failed
 *   release NAME SHARD                     {"rc"}
 *   close NAME
 *
 * SHARDS: comma-separated shard ids, a child written CHILD<PARENT or
 * CHILD<PARENT+ADJACENT; "-" for none.  HELD: comma-separated, "-" for none.
 * Errors add "error": the message.  Exit 0 at the end of stdin, 2 on a
 * usage error. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/pyjson.h"
#include "consume/lease_store.h"
#include "ridepred/log.h"

#define MAX_STORES 8
#define MAX_SHARDS 64

static int64_t now_ms = 1000000;

static int64_t clock_fn(void *ctx)
{
    (void)ctx;
    return now_ms;
}

typedef struct store {
    char name[32];
    rp__lease_store *s;
    rp__lease *l;
} store;

static store stores[MAX_STORES];

static store *find(const char *name)
{
    for (int i = 0; i < MAX_STORES; i++)
        if (stores[i].s && !strcmp(stores[i].name, name))
            return &stores[i];
    return NULL;
}

static void json_str(rp__buf *b, const char *s)
{
    rp__pyjson_utf8(b, s, strlen(s));
}

static void answer(rp__buf *b)
{
    fputs(b->failed ? "{\"rc\": -1, \"error\": \"output too large\"}" : b->data, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    rp__buf_reset(b);
}

static void answer_rc(rp__buf *b, int rc, const rp_error *err)
{
    char n[16];
    snprintf(n, sizeof n, "%d", rc);
    rp__buf_lit(b, "{\"rc\": ");
    rp__buf_puts(b, n);
    if (rc < 0 && err) {
        rp__buf_lit(b, ", \"error\": ");
        json_str(b, err->msg);
    }
    rp__buf_putc(b, '}');
    answer(b);
}

/* "a,b<a,c<a+b" into shards; returns the count or -1. */
static int parse_shards(char *spec, rp_stream_shard *out)
{
    int n = 0;
    if (!strcmp(spec, "-"))
        return 0;
    for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
        if (n == MAX_SHARDS)
            return -1;
        rp_stream_shard *s = &out[n++];
        memset(s, 0, sizeof *s);
        char *lt = strchr(tok, '<');
        if (lt) {
            *lt++ = '\0';
            char *plus = strchr(lt, '+');
            if (plus) {
                *plus++ = '\0';
                snprintf(s->adjacent_parent_shard_id, sizeof s->adjacent_parent_shard_id, "%s", plus);
            }
            snprintf(s->parent_shard_id, sizeof s->parent_shard_id, "%s", lt);
        }
        snprintf(s->shard_id, sizeof s->shard_id, "%s", tok);
    }
    return n;
}

static int parse_held(char *spec, char (*out)[RP_STREAM_SHARD_ID_MAX])
{
    int n = 0;
    if (!strcmp(spec, "-"))
        return 0;
    for (char *tok = strtok(spec, ","); tok && n < MAX_SHARDS; tok = strtok(NULL, ","))
        snprintf(out[n++], RP_STREAM_SHARD_ID_MAX, "%s", tok);
    return n;
}

static void print_plan(rp__buf *b, const rp__ckpt_plan *p)
{
    char n[32];
    rp__buf_lit(b, "{\"rc\": 0, \"acquired\": [");
    for (size_t i = 0; i < p->n_acquired; i++) {
        const rp__ckpt_shard *a = &p->acquired[i];
        rp__buf_puts(b, i ? ", {\"shard\": " : "{\"shard\": ");
        json_str(b, a->shard_id);
        rp__buf_lit(b, ", \"checkpoint\": ");
        json_str(b, a->checkpoint);
        rp__buf_lit(b, ", \"start\": ");
        json_str(b, a->start);
        rp__buf_puts(b, a->at_checkpoint ? ", \"at\": true}" : ", \"at\": false}");
    }
    rp__buf_lit(b, "], \"lost\": [");
    for (size_t i = 0; i < p->n_lost; i++) {
        if (i)
            rp__buf_lit(b, ", ");
        json_str(b, p->lost[i]);
    }
    snprintf(n, sizeof n, "%zu", p->n_stolen);
    rp__buf_lit(b, "], \"stolen\": ");
    rp__buf_puts(b, n);
    snprintf(n, sizeof n, "%zu", p->live_workers);
    rp__buf_lit(b, ", \"workers\": ");
    rp__buf_puts(b, n);
    snprintf(n, sizeof n, "%zu", p->eligible);
    rp__buf_lit(b, ", \"eligible\": ");
    rp__buf_puts(b, n);
    snprintf(n, sizeof n, "%zu", p->held);
    rp__buf_lit(b, ", \"held\": ");
    rp__buf_puts(b, n);
    rp__buf_putc(b, '}');
    answer(b);
}

static int usage(const char *why)
{
    fprintf(stderr, "lease_cli: %s\nusage: lease_cli SPEC < commands (see the source)\n", why);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return usage("one argument: the checkpoint store spec");
    rp_log_configure(RP_LOG_INFO, RP_LOG_TEXT);
    const char *spec = argv[1];
    rp__buf out;
    rp__buf_init(&out, 1 << 20);
    char line[8192];
    static rp_stream_shard shards[MAX_SHARDS];
    static char held[MAX_SHARDS][RP_STREAM_SHARD_ID_MAX];
    int rc = 0;
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *w[8];
        int nw = 0;
        for (char *tok = strtok(line, " "); tok && nw < 8; tok = strtok(NULL, " "))
            w[nw++] = tok;
        if (!nw)
            continue;
        rp_error err = {0};
        if (!strcmp(w[0], "clock") && nw == 2) {
            now_ms += strtoll(w[1], NULL, 10);
            answer_rc(&out, 0, NULL);
        } else if (!strcmp(w[0], "open") && (nw == 4 || nw == 5)) {
            store *st = NULL;
            for (int i = 0; i < MAX_STORES && !st; i++)
                if (!stores[i].s)
                    st = &stores[i];
            if (!st || find(w[1])) {
                rc = usage("too many stores, or the name is taken");
                break;
            }
            rp__lease_config cfg = {.spec = spec,
                                    .group = "g",
                                    .source = "kinesis:test",
                                    .owner = w[2],
                                    .lease_ms = strtoll(w[3], NULL, 10),
                                    .max_steal = nw == 5 ? (uint32_t)strtoul(w[4], NULL, 10) : 0,
                                    .clock = clock_fn};
            int r = rp__lease_store_open(&cfg, &st->s, &err);
            if (r == 0 && rp__lease_open(st->s, &st->l, &err) < 0) {
                rp__lease_store_close(st->s);
                st->s = NULL;
                r = -1;
            }
            if (r == 0)
                snprintf(st->name, sizeof st->name, "%s", w[1]);
            answer_rc(&out, r, &err);
        } else if (!strcmp(w[0], "close") && nw == 2 && find(w[1])) {
            store *st = find(w[1]);
            rp__lease_close(st->l);
            rp__lease_store_close(st->s);
            memset(st, 0, sizeof *st);
            answer_rc(&out, 0, NULL);
        } else if (!strcmp(w[0], "sync") && nw == 4 && find(w[1])) {
            int ns = parse_shards(w[2], shards), nh = parse_held(w[3], held);
            if (ns < 0) {
                rc = usage("too many shards");
                break;
            }
            rp__ckpt_plan plan;
            if (rp__lease_sync(find(w[1])->l, shards, (size_t)ns, "TRIM_HORIZON",
                               (const char(*)[RP_STREAM_SHARD_ID_MAX])held, (size_t)nh, &plan, &err) < 0) {
                answer_rc(&out, -1, &err);
            } else {
                print_plan(&out, &plan);
                rp__ckpt_plan_free(&plan);
            }
        } else if (!strcmp(w[0], "commit") && (nw == 4 || nw == 5) && find(w[1])) {
            bool ended = nw == 5 && !strcmp(w[4], "ended");
            int r = rp__lease_commit(find(w[1])->l, w[2], strcmp(w[3], "-") ? w[3] : "", ended, &err);
            answer_rc(&out, r, &err);
        } else if (!strcmp(w[0], "release") && nw == 3 && find(w[1])) {
            answer_rc(&out, rp__lease_release(find(w[1])->l, w[2], &err), &err);
        } else {
            rc = usage("unknown command or store");
            break;
        }
    }
    for (int i = 0; i < MAX_STORES; i++)
        if (stores[i].s) {
            rp__lease_close(stores[i].l);
            rp__lease_store_close(stores[i].s);
        }
    rp__buf_cleanup(&out);
    return rc;
}
