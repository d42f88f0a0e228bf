/* ridepred put: records into a stream, as `aws kinesis put-record(s)`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/stream_opts.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/pyjson.h"

static const char help[] =
    "usage: ridepred put STREAM [--partition-key K] JSON\n"
    "       ridepred put STREAM [--partition-key K] -      (one record per line of stdin)\n"
    "\n"
    "Puts records, as `aws kinesis put-record` does without the base64 step.\n"
    "Without --partition-key, a record's key is its document's ride_id (an\n"
    "integer or a string).  Prints {\"ShardId\": ..., \"SequenceNumber\": ...} per\n"
    "record, in input order; a record the stream refused prints\n"
    "{\"ErrorCode\": ..., \"ErrorMessage\": ...}.  stdin is sent in batches of up\n"
    "to 500 records / 5 MiB.\n"
    "\n"
    "options:\n"
    "  --partition-key K     the partition key of every record\n" RP_STREAM_OPTS_HELP RP_LOG_OPTS_HELP
    "  -h, --help            this help\n"
    "\n"
    "exit status: 0 every record stored; 1 some refused; 2 bad usage; 3 failed.\n";

#define BATCH RP_STREAM_PUT_BATCH_MAX

/* The ride_id of a JSON document as str() gives it, into key. */
static int ride_id_key(const char *doc, size_t len, char *key, size_t cap, size_t *klen)
{
    rp__json_reader r;
    rp__json_value v, k, id = {0};
    bool have = false;
    rp__json_init(&r, doc, len, 64);
    if (rp__json_next(&r, &v) != 1 || v.type != RP_JSON_OBJECT)
        return -1;
    int rc;
    while ((rc = rp__json_member(&r, &k)) == 1) {
        if (rp__json_next(&r, &v) < 0)
            return -1;
        if (rp__json_str_eq(&k, "ride_id", 7)) {
            id = v;
            have = true;
        }
        if ((v.type == RP_JSON_OBJECT || v.type == RP_JSON_ARRAY) && rp__json_skip(&r, &v) < 0)
            return -1;
    }
    if (rc < 0 || !have)
        return -1;
    if (id.type == RP_JSON_STRING && id.len < cap) {
        *klen = rp__json_str_decode(&id, key);
        return *klen ? 0 : -1;
    }
    if (id.type == RP_JSON_NUMBER && id.is_int && id.len < cap) {
        if (id.len == 2 && id.ptr[0] == '-' && id.ptr[1] == '0') {
            key[0] = '0';
            *klen = 1;
        } else {
            memcpy(key, id.ptr, id.len);
            *klen = id.len;
        }
        return 0;
    }
    return -1;
}

typedef struct batch {
    size_t n;
    rp_stream_entry e[BATCH];
    rp_stream_put_result res[BATCH];
    char *doc[BATCH];
    char key[BATCH][RP_STREAM_PK_MAX * 4 + 1];
    bool no_key[BATCH];
    size_t bytes;
} batch;

static int flush(rp_stream_conn *s, const char *name, batch *b, int *refused)
{
    if (!b->n)
        return 0;
    /* Records without a key are refused here; the rest are sent. */
    rp_stream_entry send[BATCH];
    rp_stream_put_result got[BATCH];
    size_t map[BATCH], m = 0;
    for (size_t i = 0; i < b->n; i++)
        if (!b->no_key[i]) {
            send[m] = b->e[i];
            map[m++] = i;
        }
    rp_error err;
    int rc = 0;
    if (m && rp_stream_put(s, name, send, m, got, &err) < 0) {
        rp__cli_error("%s", err.msg);
        rc = -1;
    }
    for (size_t j = 0; j < m; j++)
        b->res[map[j]] = got[j];
    for (size_t i = 0; i < b->n; i++) {
        if (b->no_key[i]) {
            printf(
                "{\"ErrorCode\": \"NoPartitionKey\", \"ErrorMessage\": \"the record has no ride_id: give --partition-key\"}\n");
            (*refused)++;
        } else if (b->res[i].ok) {
            printf("{\"ShardId\": \"%s\", \"SequenceNumber\": \"%s\"}\n", b->res[i].shard_id,
                   b->res[i].sequence_number);
        } else {
            rp__buf line;
            rp__buf_init(&line, 4096);
            rp__buf_lit(&line, "{\"ErrorCode\": ");
            rp__pyjson_utf8(&line, b->res[i].error_code, strlen(b->res[i].error_code));
            rp__buf_lit(&line, ", \"ErrorMessage\": ");
            rp__pyjson_utf8(&line, b->res[i].error_message, strlen(b->res[i].error_message));
            rp__buf_lit(&line, "}\n");
            if (!line.failed)
                fwrite(line.data, 1, line.len, stdout);
            rp__buf_cleanup(&line);
            (*refused)++;
        }
        free(b->doc[i]);
    }
    b->n = 0;
    b->bytes = 0;
    return rc;
}

static int add(rp_stream_conn *s, const char *name, batch *b, const char *pk, const char *doc, size_t len,
               int *refused)
{
    size_t klen = pk ? strlen(pk) : 0;
    if (b->n == BATCH || b->bytes + len + klen > RP_STREAM_PUT_BYTES_MAX)
        if (flush(s, name, b, refused) < 0)
            return -1;
    size_t i = b->n++;
    b->doc[i] = malloc(len ? len : 1);
    if (!b->doc[i])
        return -1;
    memcpy(b->doc[i], doc, len);
    b->no_key[i] = false;
    if (pk) {
        b->e[i].partition_key = pk;
        b->e[i].partition_key_len = klen;
    } else if (ride_id_key(doc, len, b->key[i], sizeof b->key[i], &klen) == 0) {
        b->e[i].partition_key = b->key[i];
        b->e[i].partition_key_len = klen;
    } else {
        b->no_key[i] = true;
    }
    b->e[i].data = b->doc[i];
    b->e[i].data_len = len;
    b->bytes += len + klen;
    return 0;
}

int rp__cmd_put(int argc, char **argv)
{
    static const struct option opts[] = {
        {"partition-key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        RP_STREAM_LONGOPTS,
        RP_LOG_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    rp_stream_config cfg = {0};
    rp__cli_log_opts lo = {0};
    const char *pk = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = rp__cli_log_opt(c, optarg, &lo) ? 1 : rp__cli_stream_opt(c, optarg, &cfg);
        if (r < 0)
            return RP_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case 'k': pk = optarg; break;
        case 'h': fputs(help, stdout); return RP_EXIT_OK;
        default: fputs(help, stderr); return RP_EXIT_USAGE;
        }
    }
    if (rp__cli_logging(lo.format, lo.level) < 0)
        return RP_EXIT_USAGE;
    if (argc - optind != 2) {
        fprintf(stderr, "ridepred put: needs STREAM and a JSON record (or - for stdin)\n\n%s", help);
        return RP_EXIT_USAGE;
    }
    if (pk && (!*pk || strlen(pk) > RP_STREAM_PK_MAX * 4)) {
        fprintf(stderr, "ridepred put: --partition-key must be 1 to 256 characters\n");
        return RP_EXIT_USAGE;
    }
    rp_stream_conn *s = NULL;
    char name[RP_STREAM_NAME_MAX + 1];
    if (rp__cli_open_stream(argv[optind], &cfg, &s, name) < 0)
        return RP_EXIT_FAILURE;
    batch *b = calloc(1, sizeof *b);
    int refused = 0, rc = RP_EXIT_OK;
    const char *arg = argv[optind + 1];
    if (!b) {
        rc = RP_EXIT_FAILURE;
        goto out;
    }
    if (strcmp(arg, "-") != 0) {
        if (add(s, name, b, pk, arg, strlen(arg), &refused) < 0)
            rc = RP_EXIT_FAILURE;
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        bool failed = false;
        while ((n = getline(&line, &cap, stdin)) >= 0) {
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                n--;
            if (n == 0)
                continue;
            /* After a failed request, every later record is still reported
             * (not sent), so that none is dropped silently. */
            if (!failed && add(s, name, b, pk, line, (size_t)n, &refused) < 0) {
                rc = RP_EXIT_FAILURE;
                failed = true;
            } else if (!failed) {
                continue;
            }
            printf(
                "{\"ErrorCode\": \"NotAttempted\", \"ErrorMessage\": \"not sent: an earlier request failed\"}\n");
            refused++;
        }
        free(line);
    }
    if (flush(s, name, b, &refused) < 0)
        rc = RP_EXIT_FAILURE;
    if (rc == RP_EXIT_OK && refused)
        rc = RP_EXIT_FUNCTION_ERROR;
out:
    free(b);
    rp_stream_close(s);
    return rc;
}
