/* dynamodb_cli: the DynamoDB client (src/aws/dynamodb.h) and its item codec,
 * for the integration test tests/integration/test_dynamodb_client.py.
 *
 *   dynamodb_cli [OPTIONS] COMMAND ARG...
 *   dynamodb_cli [OPTIONS] -
 *
 * The second form reads commands from stdin, one a line, each a JSON array
 * of strings ["COMMAND", "ARG", ...], runs them on one handle (one
 * connection) and ends each with a line "done RC" (flushed), so that a test
 * can act between commands (stop the peer, restart it).
 *
 * OPTIONS: --endpoint URL, --region R (else the chain), --attempts N and
 * --base-ms N (the retry policy; else AWS_MAX_ATTEMPTS / the default),
 * --timeout-ms N, --wait-ms N (waits for ACTIVE / deletion).  Credentials:
 * the chain (AWS_ACCESS_KEY_ID...).
 *
 * COMMANDS (ITEM, KEY and VALUES are DynamoDB JSON objects, decoded by
 * rp__ddb_item_decode and sent encoded by rp__ddb_item_encode):
 *   create TABLE HASHKEY            prints "created" or "existed"
 *   describe TABLE                  prints the table as one JSON object
 *   wait TABLE                      waits until ACTIVE
 *   delete-table TABLE
 *   get TABLE KEY [--eventual]      prints the item; RC 3 when none
 *   put TABLE ITEM [EXPR]
 *   update TABLE KEY UPDATE [EXPR] [--return-new]   prints the new item
 *   delete TABLE KEY [EXPR]
 *   scan TABLE [--limit N] [--eventual] [--filter EXPR] [EXPR]
 *                                   prints each item, then "pages=N items=M"
 *   codec ITEM                      decodes and prints it encoded again
 *   i64 ITEM NAME                   prints the N attribute as an int64
 * EXPR: --cond EXPRESSION, --names '{"#a": "name"}', --values VALUES.
 *
 * Results: RC 0; RC 3 when a condition failed (stderr: "condition-failed"
 * and the message) or get found nothing; RC 1 on an error, with stderr
 * "error: CODE: MESSAGE", "retriable: yes|no" and "last_code: X"; RC 2 for
 * a usage error.  Every command that sends requests prints "attempts=N" on
 * stderr (the last request's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/dynamodb.h"
#include "common/buf.h"
#include "common/json.h"
#include "ridepred/log.h"

#define MAX_NAMES 16

typedef struct cmd_expr {
    rp__ddb_expr x;
    rp__ddb_name names[MAX_NAMES];
    char *name_text[2 * MAX_NAMES];
    size_t n_text;
    rp__ddb_item values;
    const char *filter;
} cmd_expr;

static void expr_free(cmd_expr *e)
{
    for (size_t i = 0; i < e->n_text; i++)
        free(e->name_text[i]);
    rp__ddb_item_free(&e->values);
}

static int usage(const char *why)
{
    fprintf(stderr, "dynamodb_cli: %s (see the comment at the top of tests/tools/dynamodb_cli.c)\n", why);
    return 2;
}

static char *decode_str(const rp__json_value *v)
{
    char *s = malloc(v->len + 1);
    if (s)
        s[rp__json_str_decode(v, s)] = '\0';
    return s;
}

/* --names '{"#a": "name", ...}' */
static int parse_names(cmd_expr *e, const char *json)
{
    rp__json_reader r;
    rp__json_value k, v;
    rp__json_init(&r, json, strlen(json), 4);
    if (rp__json_next(&r, &v) != 1 || v.type != RP_JSON_OBJECT)
        return -1;
    int rc;
    while ((rc = rp__json_member(&r, &k)) == 1) {
        if (rp__json_next(&r, &v) != 1 || v.type != RP_JSON_STRING || e->x.n_names == MAX_NAMES)
            return -1;
        char *p = decode_str(&k), *n = decode_str(&v);
        e->name_text[e->n_text++] = p;
        e->name_text[e->n_text++] = n;
        if (!p || !n)
            return -1;
        e->names[e->x.n_names++] = (rp__ddb_name){p, n};
    }
    return rc == 0 ? 0 : -1;
}

static void print_item(const rp__ddb_item *it)
{
    rp__buf b;
    rp__buf_init(&b, (size_t)64 * 1024 * 1024);
    rp_error err;
    if (rp__ddb_item_encode(it, &b, &err) != 0)
        printf("encode error: %s\n", err.msg);
    else
        printf("%s\n", b.data);
    rp__buf_cleanup(&b);
}

static int print_cb(void *ctx, const rp__ddb_item *it)
{
    (*(size_t *)ctx)++;
    print_item(it);
    return 0;
}

static int fail(rp__dynamodb *d, const rp_error *err)
{
    fprintf(stderr, "error: %s: %s\nretriable: %s\nlast_code: %s\n", rp_code_name(err->code), err->msg,
            err->retriable ? "yes" : "no", d ? rp__dynamodb_last_code(d) : "");
    return 1;
}

/* The outcome of a call that may return 1. */
static int outcome(rp__dynamodb *d, int rc, const rp_error *err, const char *what)
{
    if (rc == 0)
        return 0;
    if (rc > 0) {
        fprintf(stderr, "%s: %s\n", what, err ? err->msg : "");
        return 3;
    }
    return fail(d, err);
}

static int decode_arg(const char *json, rp__ddb_item *it, const char *what)
{
    rp_error err;
    if (rp__ddb_item_decode(json, strlen(json), it, &err) != 0) {
        fprintf(stderr, "error: %s: %s: %s\nretriable: no\nlast_code: \n", rp_code_name(err.code), what,
                err.msg);
        return 1;
    }
    return 0;
}

/* Reads the EXPR options and the command's flags from argv[i..]. */
static int parse_opts(int argc, char **argv, int i, cmd_expr *e, bool *eventual, bool *return_new,
                      uint32_t *limit)
{
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--eventual")) {
            *eventual = true;
        } else if (!strcmp(a, "--return-new")) {
            *return_new = true;
        } else if (!strcmp(a, "--cond") && v) {
            e->x.condition = v, i++;
        } else if (!strcmp(a, "--filter") && v) {
            e->filter = v, i++;
        } else if (!strcmp(a, "--names") && v) {
            if (parse_names(e, v) != 0)
                return usage("--names wants a JSON object of strings");
            i++;
        } else if (!strcmp(a, "--values") && v) {
            if (decode_arg(v, &e->values, "--values") != 0)
                return 1;
            i++;
        } else if (!strcmp(a, "--limit") && v) {
            *limit = (uint32_t)strtoul(v, NULL, 10), i++;
        } else {
            return usage("unknown option or missing value");
        }
    }
    e->x.names = e->names;
    e->x.values = &e->values;
    return 0;
}

static int run(rp__dynamodb *d, int argc, char **argv)
{
    if (argc < 2)
        return usage("a command and a table");
    const char *cmd = argv[0], *table = argv[1];
    rp_error err;
    rp_error_clear(&err);
    rp__ddb_item a = {0}, out = {0};
    cmd_expr e;
    memset(&e, 0, sizeof e);
    bool eventual = false, return_new = false;
    uint32_t limit = 0;
    int rc = 0, first_opt = 2;
    const char *update = NULL;

    if (!strcmp(cmd, "codec") || !strcmp(cmd, "i64")) {
        if ((rc = decode_arg(argv[1], &a, "item")) == 0) {
            int64_t x;
            if (!strcmp(cmd, "codec"))
                print_item(&a);
            else if (argc < 3 || rp__ddb_item_get_i64(&a, argv[2], &x) != 0)
                rc = 3;
            else
                printf("%lld\n", (long long)x);
        }
        rp__ddb_item_free(&a);
        return rc;
    }
    if (!d)
        return usage("no endpoint: give --endpoint or AWS_ENDPOINT_URL_DYNAMODB");
    if (!strcmp(cmd, "get") || !strcmp(cmd, "put") || !strcmp(cmd, "update") || !strcmp(cmd, "delete")) {
        if (argc < 3)
            return usage("an item or key");
        if (decode_arg(argv[2], &a, "item") != 0)
            return 1;
        first_opt = 3;
        if (!strcmp(cmd, "update")) {
            if (argc < 4) {
                rp__ddb_item_free(&a);
                return usage("an update expression");
            }
            update = argv[3];
            first_opt = 4;
        }
    } else if (!strcmp(cmd, "create")) {
        if (argc < 3)
            return usage("a hash key name");
        first_opt = 3;
    }
    if ((rc = parse_opts(argc, argv, first_opt, &e, &eventual, &return_new, &limit)) != 0)
        goto done;

    if (!strcmp(cmd, "create")) {
        rc = rp__dynamodb_create_table(d, table, argv[2], &err);
        if (rc >= 0)
            printf("%s\n", rc ? "existed" : "created");
        rc = rc < 0 ? fail(d, &err) : 0;
    } else if (!strcmp(cmd, "describe")) {
        rp__dynamodb_table t;
        if (rp__dynamodb_describe_table(d, table, &t, &err) != 0) {
            rc = fail(d, &err);
        } else {
            printf("{\"name\": \"%s\", \"status\": \"%s\", \"hash_key\": \"%s\", \"hash_key_type\": \"%s\", "
                   "\"billing_mode\": \"%s\", \"item_count\": %lld, \"created_ms\": %lld}\n",
                   t.name, t.status, t.hash_key, t.hash_key_type, t.billing_mode, (long long)t.item_count,
                   (long long)t.created_ms);
        }
    } else if (!strcmp(cmd, "wait")) {
        rc = outcome(d, rp__dynamodb_wait_active(d, table, &err), &err, "?");
    } else if (!strcmp(cmd, "delete-table")) {
        rc = outcome(d, rp__dynamodb_delete_table(d, table, &err), &err, "?");
    } else if (!strcmp(cmd, "get")) {
        rc = outcome(d, rp__dynamodb_get_item(d, table, &a, !eventual, &out, &err), &err, "no-item");
        if (rc == 0)
            print_item(&out);
    } else if (!strcmp(cmd, "put")) {
        rc = outcome(d, rp__dynamodb_put_item(d, table, &a, &e.x, &err), &err, "condition-failed");
    } else if (!strcmp(cmd, "update")) {
        rc = outcome(d, rp__dynamodb_update_item(d, table, &a, update, &e.x, return_new ? &out : NULL, &err),
                     &err, "condition-failed");
        if (rc == 0 && return_new)
            print_item(&out);
    } else if (!strcmp(cmd, "delete")) {
        rc = outcome(d, rp__dynamodb_delete_item(d, table, &a, &e.x, &err), &err, "condition-failed");
    } else if (!strcmp(cmd, "scan")) {
        size_t pages = 0, items = 0;
        e.x.condition = e.filter;
        rp__dynamodb_scan_options so = {.page_limit = limit, .consistent = !eventual, .filter = &e.x};
        rc = outcome(d, rp__dynamodb_scan(d, table, &so, print_cb, &items, &pages, &err), &err, "?");
        if (rc == 0)
            printf("pages=%zu items=%zu\n", pages, items);
    } else {
        rc = usage("unknown command");
    }
    fprintf(stderr, "attempts=%u\n", rp__dynamodb_http(d)->last_attempts);
done:
    rp__ddb_item_free(&a);
    rp__ddb_item_free(&out);
    expr_free(&e);
    return rc;
}

/* One stdin line, a JSON array of strings, into argv (malloc'd). */
static int split_line(const char *line, char ***argv, int *argc)
{
    rp__json_reader r;
    rp__json_value v;
    rp__json_init(&r, line, strlen(line), 4);
    *argv = NULL;
    *argc = 0;
    if (rp__json_next(&r, &v) != 1 || v.type != RP_JSON_ARRAY)
        return -1;
    size_t cap = 0;
    int rc;
    while ((rc = rp__json_element(&r)) == 1) {
        if (rp__json_next(&r, &v) != 1 || v.type != RP_JSON_STRING)
            return -1;
        char **grown = rp__array_grow(*argv, (size_t)*argc, &cap, sizeof **argv, 8);
        if (!grown)
            return -1;
        *argv = grown;
        if (!((*argv)[*argc] = decode_str(&v)))
            return -1;
        (*argc)++;
    }
    return rc;
}

int main(int argc, char **argv)
{
    rp__dynamodb_options o = {0};
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-' && argv[i][1] == '-'; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--endpoint"))
            o.endpoint_url = v;
        else if (!strcmp(a, "--region"))
            o.region = v;
        else if (!strcmp(a, "--attempts"))
            o.retry.max_attempts = (unsigned)atoi(v);
        else if (!strcmp(a, "--base-ms"))
            o.retry.base_delay_ms = (uint32_t)atoi(v);
        else if (!strcmp(a, "--timeout-ms"))
            o.timeout_ms = o.connect_timeout_ms = (uint32_t)atoi(v);
        else if (!strcmp(a, "--wait-ms"))
            o.wait_timeout_ms = (uint32_t)atoi(v);
        else
            return usage("unknown option");
    }
    if (o.retry.max_attempts && !o.retry.max_delay_ms)
        o.retry.max_delay_ms = 20000;
    if (i >= argc)
        return usage("no command");
    rp__dynamodb *d = NULL;
    rp_error err;
    bool offline = !strcmp(argv[i], "codec") || !strcmp(argv[i], "i64");
    if (!offline && rp__dynamodb_open(&o, &d, &err) != 0)
        return fail(NULL, &err);
    int rc = 0;
    if (strcmp(argv[i], "-") != 0) {
        rc = run(d, argc - i, argv + i);
    } else {
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, stdin) > 0) {
            char **av;
            int ac;
            if (split_line(line, &av, &ac) != 0)
                rc = usage("a stdin line must be a JSON array of strings");
            else
                rc = run(d, ac, av);
            for (int k = 0; k < ac; k++)
                free(av[k]);
            free(av);
            printf("done %d\n", rc);
            fflush(stdout);
            fflush(stderr);
        }
        free(line);
    }
    rp__dynamodb_close(d);
    return rc;
}
