/* The local stream store (src/stream/local): every behaviour of the API and
 * every bad input.  Each test works in its own fresh store under a temporary
 * directory; tests that need time to pass set the store's clock. */
#include "stream/local/local_store.h"
#include "testing.h"

#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp_root[256];

static void make_root(void)
{
    rp_t_tmpdir(tmp_root, sizeof tmp_root, "rp_local_test");
}

/* A fresh store path under the temporary root. */
static const char *fresh_path(void)
{
    static char buf[320];
    static int n;
    snprintf(buf, sizeof buf, "%s/s%d/streams.db", tmp_root, ++n);
    return buf;
}

static rp__local_store *fresh_store(void)
{
    rp__local_store *s = NULL;
    rp_error err;
    if (rp__local_open(fresh_path(), &s, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        exit(2);
    }
    return s;
}

typedef struct fake_clock {
    int64_t now;
} fake_clock;

static int64_t fake_now(void *ctx)
{
    return ((fake_clock *)ctx)->now;
}

/* Records collected by a read. */
#define MAX_GOT 20000
typedef struct got {
    size_t n;
    char seq[MAX_GOT][RP_STREAM_SEQ_MAX];
    char shard[MAX_GOT][RP_STREAM_SHARD_ID_MAX];
    char data[MAX_GOT][32];
    char pk[MAX_GOT][32];
    size_t pk_len[MAX_GOT];
    int64_t arrival[MAX_GOT];
    size_t bytes;
    int stop_after; /* return 1 on this record (1-based), 0: never */
} got;

static int collect(void *ctx, const rp_stream_record *r)
{
    got *g = ctx;
    if (g->stop_after && (int)g->n + 1 == g->stop_after)
        return 1;
    if (g->n < MAX_GOT) {
        snprintf(g->seq[g->n], RP_STREAM_SEQ_MAX, "%s", r->sequence_number);
        snprintf(g->shard[g->n], RP_STREAM_SHARD_ID_MAX, "%s", r->shard_id);
        snprintf(g->data[g->n], 32, "%.*s", (int)(r->data_len < 31 ? r->data_len : 31),
                 (const char *)r->data);
        snprintf(g->pk[g->n], 32, "%.*s", (int)(r->partition_key_len < 31 ? r->partition_key_len : 31),
                 r->partition_key);
        g->arrival[g->n] = r->arrival_ms;
        g->pk_len[g->n] = r->partition_key_len;
    }
    g->bytes += r->data_len;
    g->n++;
    return 0;
}

static got *new_got(void)
{
    got *g = calloc(1, sizeof *g);
    if (!g)
        exit(2);
    return g;
}

/* Puts one record with data == key; returns its result. */
static rp_stream_put_result put1(rp__local_store *s, const char *stream, const char *key)
{
    rp_stream_entry e = {key, strlen(key), key, strlen(key)};
    rp_stream_put_result r;
    rp_error err;
    memset(&r, 0, sizeof r);
    if (rp__local_put_records(s, stream, &e, 1, &r, &err) != 0)
        fprintf(stderr, "put1: %s\n", err.msg);
    return r;
}

/* Reads the whole shard from an iterator type, following next iterators
 * until an empty page (or the end of a closed shard). */
static int read_shard(rp__local_store *s, const char *stream, const char *shard, rp_stream_iterator type,
                      const char *seq, int64_t ts, uint32_t limit, got *g)
{
    char it[RP_STREAM_ITER_MAX], next[RP_STREAM_ITER_MAX];
    rp_error err;
    if (rp__local_get_iterator(s, stream, shard, type, seq, ts, it, &err) != 0) {
        fprintf(stderr, "get_iterator: %s\n", err.msg);
        return -1;
    }
    for (int guard = 0; guard < 100000; guard++) {
        size_t before = g->n;
        int64_t behind = -1;
        if (rp__local_get_records(s, it, limit, collect, g, next, &behind, &err) != 0) {
            fprintf(stderr, "get_records: %s\n", err.msg);
            return -1;
        }
        if (!next[0] || g->n == before)
            return 0;
        memcpy(it, next, sizeof it);
    }
    return -1;
}

/* ---- opening -------------------------------------------------------------- */

TEST(open_creates_file_and_parents)
{
    char path[400];
    snprintf(path, sizeof path, "%s/deep/er/dir/x.db", tmp_root);
    rp__local_store *s = NULL;
    rp_error err;
    CHECK(rp__local_open(path, &s, &err) == 0);
    CHECK(s != NULL);
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    char dir[400];
    snprintf(dir, sizeof dir, "%s/deep/er/dir", tmp_root);
    CHECK(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == 0700);
    CHECK(rp__local_create_stream(s, "a", 1, 0, &err) == 0);
    rp__local_close(s);

    /* Reopening finds the stream; the file is in WAL mode. */
    s = NULL;
    CHECK(rp__local_open(path, &s, &err) == 0);
    rp_stream_info info;
    CHECK(rp__local_describe_stream(s, "a", &info, &err) == 0);
    rp__local_close(s);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    rp__local_close(NULL);
}

TEST(open_refuses_foreign_files)
{
    rp__local_store *s = NULL;
    rp_error err;
    char path[400];

    snprintf(path, sizeof path, "%s/not-sqlite.db", tmp_root);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("this is not a database, just some text that is long enough to matter.......\n"
              "......................................................................\n",
              f);
        fclose(f);
    }
    CHECK(rp__local_open(path, &s, &err) == -1);
    CHECK(s == NULL);
    CHECK(err.code == RP_ERR_CORRUPT);

    /* Another application's SQLite database. */
    snprintf(path, sizeof path, "%s/other-app.db", tmp_root);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(rp__local_open(path, &s, &err) == -1);
    CHECK(err.code == RP_ERR_CORRUPT);
    CHECK(strstr(err.msg, "not a ridepred stream store") != NULL);

    /* A store written by a newer schema. */
    snprintf(path, sizeof path, "%s/newer.db", tmp_root);
    CHECK(rp__local_open(path, &s, &err) == 0);
    rp__local_close(s);
    s = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(rp__local_open(path, &s, &err) == -1);
    CHECK(err.code == RP_ERR_UNSUPPORTED);

    /* A directory where the file should be, a parent that is a file. */
    snprintf(path, sizeof path, "%s", tmp_root);
    CHECK(rp__local_open(path, &s, &err) == -1);
    CHECK(err.code == RP_ERR_IO || err.code == RP_ERR_CORRUPT);
    snprintf(path, sizeof path, "%s/not-sqlite.db/x.db", tmp_root);
    CHECK(rp__local_open(path, &s, &err) == -1);
    CHECK(err.code == RP_ERR_IO);
    CHECK(rp__local_open("", &s, &err) == -1);
    CHECK(rp__local_open(NULL, &s, &err) == -1 && err.code == RP_ERR_INVALID); /* no default in the library */
    CHECK(rp__local_open(path, NULL, &err) == -1);
}

TEST(create_validates)
{
    rp__local_store *s = fresh_store();
    rp_error err;
    char name[200];

    CHECK(rp__local_create_stream(s, "ride_events", 2, 0, &err) == 0);
    CHECK(rp__local_create_stream(s, "a.B-c_9", 1, 48, &err) == 0);
    memset(name, 'n', 128);
    name[128] = '\0';
    CHECK(rp__local_create_stream(s, name, 1, 0, &err) == 0); /* 128 characters */
    name[128] = 'n';
    name[129] = '\0';
    CHECK(rp__local_create_stream(s, name, 1, 0, &err) == -1); /* 129 */
    CHECK(err.code == RP_ERR_INVALID);
    CHECK(strstr(err.msg, "ValidationException") == err.msg);

    const char *bad[] = {"", "a b", "a/b", "a:b", "ümlaut", "x\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(rp__local_create_stream(s, bad[i], 1, 0, &err) == -1);
        CHECK(err.code == RP_ERR_INVALID);
    }
    CHECK(rp__local_create_stream(s, NULL, 1, 0, &err) == -1);
    CHECK(rp__local_create_stream(NULL, "x", 1, 0, &err) == -1);

    CHECK(rp__local_create_stream(s, "zero", 0, 0, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);
    CHECK(rp__local_create_stream(s, "many", RP_LOCAL_SHARDS_MAX + 1, 0, &err) == -1);
    CHECK(err.code == RP_ERR_LIMIT);
    CHECK(strstr(err.msg, "LimitExceededException") == err.msg);
    CHECK(rp__local_create_stream(s, "ret", 1, RP_LOCAL_RETENTION_HOURS_MAX + 1, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);

    /* Duplicate: ResourceInUseException, and the first stream is untouched. */
    CHECK(rp__local_create_stream(s, "ride_events", 5, 0, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);
    CHECK(strstr(err.msg, "ResourceInUseException") != NULL);
    rp_stream_info info;
    CHECK(rp__local_describe_stream(s, "ride_events", &info, &err) == 0);
    CHECK(info.open_shards == 2);
    CHECK(rp__local_create_stream(s, "zero", 1, 0, NULL) == 0); /* NULL err is fine */
    rp__local_close(s);
}

TEST(describe_list_delete)
{
    rp__local_store *s = fresh_store();
    fake_clock clk = {1700000000123};
    rp__local_set_clock(s, fake_now, &clk);
    rp_error err;
    rp_stream_info info, *list = NULL;
    size_t n = 99;

    CHECK(rp__local_list_streams(s, &list, &n, &err) == 0);
    CHECK(n == 0 && list == NULL);
    CHECK(rp__local_create_stream(s, "zeta", 3, 0, &err) == 0);
    CHECK(rp__local_create_stream(s, "alpha", 1, 72, &err) == 0);
    CHECK(rp__local_describe_stream(s, "zeta", &info, &err) == 0);
    CHECK_STR(info.name, "zeta");
    CHECK_STR(info.status, "ACTIVE");
    CHECK(info.open_shards == 3);
    CHECK(info.retention_hours == 24);
    CHECK(info.created_ms == 1700000000123);

    CHECK(rp__local_list_streams(s, &list, &n, &err) == 0);
    CHECK(n == 2);
    if (n == 2) {
        CHECK_STR(list[0].name, "alpha");
        CHECK(list[0].retention_hours == 72);
        CHECK(list[0].open_shards == 1);
        CHECK_STR(list[1].name, "zeta");
    }
    free(list);

    CHECK(rp__local_describe_stream(s, "nope", &info, &err) == -1);
    CHECK(err.code == RP_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "ResourceNotFoundException") == err.msg);
    CHECK(rp__local_describe_stream(s, "bad name", &info, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);

    /* Delete: records and shards go; iterators on it fail; the name is free. */
    CHECK(put1(s, "zeta", "k").ok);
    char it[RP_STREAM_ITER_MAX], next[RP_STREAM_ITER_MAX];
    CHECK(rp__local_get_iterator(s, "zeta", "shardId-000000000000", RP_STREAM_TRIM_HORIZON, NULL, 0, it,
                                 &err) == 0);
    CHECK(rp__local_delete_stream(s, "zeta", &err) == 0);
    CHECK(rp__local_describe_stream(s, "zeta", &info, &err) == -1);
    CHECK(err.code == RP_ERR_NOT_FOUND);
    CHECK(rp__local_delete_stream(s, "zeta", &err) == -1);
    CHECK(err.code == RP_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "ResourceNotFoundException") == err.msg);
    got *g = new_got();
    CHECK(rp__local_get_records(s, it, 0, collect, g, next, NULL, &err) == -1);
    CHECK(err.code == RP_ERR_NOT_FOUND);
    free(g);
    CHECK(rp__local_create_stream(s, "zeta", 1, 0, &err) == 0);
    rp_stream_shard *sh = NULL;
    CHECK(rp__local_list_shards(s, "zeta", &sh, &n, &err) == 0);
    CHECK(n == 1);
    free(sh);
    CHECK(rp__local_list_streams(s, &list, &n, &err) == 0 && n == 2);
    free(list);
    CHECK(rp__local_delete_stream(s, "", &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);
    rp__local_close(s);
}

/* Hash-key ranges as Kinesis computes them: each floor(2^128 / N) wide, the
 * last one up to 2^128 - 1.  Expected values from Python:
 *   size = 2**128 // n
 *   [(i*size, (i+1)*size-1 if i < n-1 else 2**128-1) for i in range(n)] */
TEST(list_shards_hash_ranges)
{
    rp__local_store *s = fresh_store();
    rp_error err;
    rp_stream_shard *v = NULL;
    size_t n = 0;

    CHECK(rp__local_create_stream(s, "one", 1, 0, &err) == 0);
    CHECK(rp__local_list_shards(s, "one", &v, &n, &err) == 0);
    CHECK(n == 1);
    if (n == 1) {
        CHECK_STR(v[0].shard_id, "shardId-000000000000");
        CHECK_STR(v[0].hash_start, "0");
        CHECK_STR(v[0].hash_end, "340282366920938463463374607431768211455");
        CHECK_STR(v[0].parent_shard_id, "");
        CHECK_STR(v[0].adjacent_parent_shard_id, "");
        CHECK_STR(v[0].seq_start, "100000000000000000000000000000000");
        CHECK_STR(v[0].seq_end, "");
    }
    free(v);

    CHECK(rp__local_create_stream(s, "three", 3, 0, &err) == 0);
    CHECK(rp__local_list_shards(s, "three", &v, &n, &err) == 0);
    CHECK(n == 3);
    if (n == 3) {
        CHECK_STR(v[0].hash_start, "0");
        CHECK_STR(v[0].hash_end, "113427455640312821154458202477256070484");
        CHECK_STR(v[1].shard_id, "shardId-000000000001");
        CHECK_STR(v[1].hash_start, "113427455640312821154458202477256070485");
        CHECK_STR(v[1].hash_end, "226854911280625642308916404954512140969");
        CHECK_STR(v[2].shard_id, "shardId-000000000002");
        CHECK_STR(v[2].hash_start, "226854911280625642308916404954512140970");
        CHECK_STR(v[2].hash_end, "340282366920938463463374607431768211455");
        CHECK_STR(v[2].seq_start, "100000000000200000000000000000000");
    }
    free(v);

    CHECK(rp__local_create_stream(s, "two", 2, 0, &err) == 0);
    CHECK(rp__local_list_shards(s, "two", &v, &n, &err) == 0);
    CHECK(n == 2);
    if (n == 2) {
        CHECK_STR(v[0].hash_end, "170141183460469231731687303715884105727");
        CHECK_STR(v[1].hash_start, "170141183460469231731687303715884105728");
    }
    free(v);

    CHECK(rp__local_create_stream(s, "five", 5, 0, &err) == 0);
    CHECK(rp__local_list_shards(s, "five", &v, &n, &err) == 0);
    CHECK(n == 5);
    if (n == 5) {
        CHECK_STR(v[1].hash_start, "68056473384187692692674921486353642291");
        CHECK_STR(v[3].hash_end, "272225893536750770770699685945414569163");
        CHECK_STR(v[4].hash_start, "272225893536750770770699685945414569164");
        CHECK_STR(v[4].hash_end, "340282366920938463463374607431768211455");
    }
    free(v);

    CHECK(rp__local_list_shards(s, "absent", &v, &n, &err) == -1);
    CHECK(err.code == RP_ERR_NOT_FOUND && v == NULL && n == 0);
    CHECK(rp__local_list_shards(s, "bad/name", &v, &n, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);
    rp__local_close(s);
}

/* ---- put -------------------------------------------------------------------- */

/* Shards for MD5(key) read as a 128-bit big-endian integer, from Python:
 *   h = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
 *   [i for i, (lo, hi) in enumerate(ranges(n)) if lo <= h <= hi]
 * with ranges(n) as above.  E.g. MD5("156") = 0x1c9a...: 38021893533086928252583267129179697882. */
static const struct {
    const char *key;
    int shard3, shard4, shard7;
} placement[] = {
    {"1", 2, 3, -1},
    {"156", 0, 0, -1},
    {"partitionKey", 1, 2, -1},
    {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 0, 0, -1}, /* "é€😀" */
    {"ride-0", 0, 0, 0},
    {"ride-1", 1, 1, 3},
    {"ride-2", 2, 3, 6},
    {"ride-4", 0, 0, 1},
    {"ride-5", 2, 2, 4},
    {"x", 1, 2, 4},
};

TEST(put_places_by_md5)
{
    rp__local_store *s = fresh_store();
    rp_error err;
    CHECK(rp__local_create_stream(s, "s3", 3, 0, &err) == 0);
    CHECK(rp__local_create_stream(s, "s4", 4, 0, &err) == 0);
    CHECK(rp__local_create_stream(s, "s7", 7, 0, &err) == 0);
    for (size_t i = 0; i < sizeof placement / sizeof *placement; i++) {
        char want[32];
        rp_stream_put_result r = put1(s, "s3", placement[i].key);
        snprintf(want, sizeof want, "shardId-%012d", placement[i].shard3);
        CHECK(r.ok);
        CHECK_STR(r.shard_id, want);
        r = put1(s, "s4", placement[i].key);
        snprintf(want, sizeof want, "shardId-%012d", placement[i].shard4);
        CHECK_STR(r.shard_id, want);
        if (placement[i].shard7 >= 0) {
            r = put1(s, "s7", placement[i].key);
            snprintf(want, sizeof want, "shardId-%012d", placement[i].shard7);
            CHECK_STR(r.shard_id, want);
        }
    }
    /* A 256-character key ("a" * 256): MD5 puts it in shard 1 of 3. */
    char key[257];
    memset(key, 'a', 256);
    key[256] = '\0';
    rp_stream_put_result r = put1(s, "s3", key);
    CHECK(r.ok);
    CHECK_STR(r.shard_id, "shardId-000000000001");
    rp__local_close(s);
}

TEST(put_sequence_numbers)
{
    rp__local_store *s = fresh_store();
    rp_error err;
    CHECK(rp__local_create_stream(s, "s", 2, 0, &err) == 0);
    rp_stream_entry e[300];
    rp_stream_put_result r[300];
    char keys[300][16];
    for (int i = 0; i < 300; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        e[i] = (rp_stream_entry){keys[i], strlen(keys[i]), keys[i], strlen(keys[i])};
    }
    CHECK(rp__local_put_records(s, "s", e, 300, r, &err) == 0);
    char last[2][RP_STREAM_SEQ_MAX] = {"", ""};
    int per[2] = {0, 0};
    for (int i = 0; i < 300; i++) {
        CHECK(r[i].ok);
        CHECK(strlen(r[i].sequence_number) == RP_LOCAL_SEQ_LEN);
        CHECK(r[i].error_code[0] == '\0');
        int sh = r[i].shard_id[19] - '0';
        CHECK(sh == 0 || sh == 1);
        if (sh != 0 && sh != 1)
            continue;
        CHECK(strcmp(r[i].sequence_number, last[sh]) > 0); /* strictly increasing per shard */
        memcpy(last[sh], r[i].sequence_number, RP_STREAM_SEQ_MAX);
        per[sh]++;
    }
    CHECK(per[0] > 50 && per[1] > 50);
    /* The first record of shard 1 has counter 1. */
    for (int i = 0; i < 300; i++)
        if (r[i].shard_id[19] == '1') {
            CHECK_STR(r[i].sequence_number, "100000000000100000000000000000001");
            break;
        }
    /* A second call continues the numbering. */
    CHECK(rp__local_put_records(s, "s", e, 1, r, &err) == 0);
    int sh = r[0].shard_id[19] - '0';
    if (sh == 0 || sh == 1)
        CHECK(strcmp(r[0].sequence_number, last[sh]) > 0);
    rp__local_close(s);
}

TEST(put_bad_records_fail_one_by_one)
{
    rp__local_store *s = fresh_store();
    rp_error err;
    CHECK(rp__local_create_stream(s, "s", 1, 0, &err) == 0);

    char k256[257], k257[258], e256[513], e257[515];
    memset(k256, 'k', 256);
    k256[256] = '\0';
    memset(k257, 'k', 257);
    k257[257] = '\0';
    for (int i = 0; i < 256; i++)
        memcpy(e256 + 2 * i, "\xc3\xa9", 2); /* 256 characters, 512 bytes */
    e256[512] = '\0';
    memcpy(e257, e256, 512);
    memcpy(e257 + 512, "\xc3\xa9", 3); /* 257 characters */
    size_t big = RP_STREAM_RECORD_MAX - 3;
    unsigned char *data = calloc(1, RP_STREAM_RECORD_MAX + 1);
    CHECK(data != NULL);
    if (!data)
        return;

    rp_stream_entry e[] = {
        {"ok", 2, "a", 1},                       /* 0: fine */
        {"x", 1, "", 0},                         /* 1: empty key */
        {"x", 1, k257, 257},                     /* 2: 257 characters */
        {"x", 1, k256, 256},                     /* 3: 256: fine */
        {"x", 1, e256, 512},                     /* 4: 256 two-byte characters: fine */
        {"x", 1, e257, 514},                     /* 5: 257 characters */
        {"x", 1, "\xff\xfe", 2},                 /* 6: not UTF-8 */
        {"x", 1, "\xed\xa0\x80", 3},             /* 7: a surrogate */
        {"x", 1, "\xc0\xaf", 2},                 /* 8: overlong */
        {data, big, "abc", 3},                   /* 9: data + key = 1 MiB exactly: fine */
        {data, big + 1, "abc", 3},               /* 10: 1 MiB + 1 */
        {NULL, 5, "k", 1},                       /* 11: no data */
        {NULL, 0, "k", 1},                       /* 12: empty data: fine */
        {"x", 1, NULL, 1},                       /* 13: no key */
        {data, RP_STREAM_RECORD_MAX + 1, "k", 1} /* 14: data alone over 1 MiB */
    };
    size_t n = sizeof e / sizeof *e;
    rp_stream_put_result r[sizeof e / sizeof *e];
    bool want_ok[] = {1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0};
    CHECK(rp__local_put_records(s, "s", e, n, r, &err) == 0);
    for (size_t i = 0; i < n; i++) {
        CHECK(r[i].ok == want_ok[i]);
        if (!want_ok[i]) {
            CHECK_STR(r[i].error_code, "ValidationException");
            CHECK(r[i].error_message[0] != '\0');
            CHECK(r[i].sequence_number[0] == '\0');
        }
    }
    CHECK(strstr(r[1].error_message, "greater than or equal to 1") != NULL);
    CHECK(strstr(r[2].error_message, "less than or equal to 256") != NULL);

    /* The good ones were stored, in order, with their bytes. */
    got *g = new_got();
    CHECK(read_shard(s, "s", "shardId-000000000000", RP_STREAM_TRIM_HORIZON, NULL, 0, 0, g) == 0);
    CHECK(g->n == 5);
    CHECK_STR(g->data[0], "ok");
    CHECK_STR(g->pk[0], "a");
    CHECK(g->pk_len[1] == 256 && g->pk[1][0] == 'k');
    CHECK(g->pk_len[2] == 512 && memcmp(g->pk[2], "\xc3\xa9", 2) == 0);
    CHECK_STR(g->pk[4], "k");
    CHECK(g->bytes == 2 + 1 + 1 + big + 0);
    free(g);

    /* Only bad records: the call succeeds, every result failed. */
    CHECK(rp__local_put_records(s, "s", e + 1, 2, r, &err) == 0);
    CHECK(!r[0].ok && !r[1].ok);
    free(data);
    rp__local_close(s);
}

TEST(put_call_errors)
{
    rp__local_store *s = fresh_store();
    rp_error err;
    CHECK(rp__local_create_stream(s, "s", 1, 0, &err) == 0);
    rp_stream_entry e[RP_STREAM_PUT_BATCH_MAX + 1];
    rp_stream_put_result r[RP_STREAM_PUT_BATCH_MAX + 1];
    for (int i = 0; i <= RP_STREAM_PUT_BATCH_MAX; i++)
        e[i] = (rp_stream_entry){"d", 1, "k", 1};

    CHECK(rp__local_put_records(s, "s", e, 0, r, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);
    CHECK(rp__local_put_records(s, "s", e, RP_STREAM_PUT_BATCH_MAX + 1, r, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);
    CHECK(!r[0].ok && r[0].error_code[0]);
    CHECK(rp__local_put_records(s, "s", e, RP_STREAM_PUT_BATCH_MAX, r, &err) == 0);
    CHECK(r[RP_STREAM_PUT_BATCH_MAX - 1].ok);

    r[0].ok = true;
    CHECK(rp__local_put_records(s, "missing", e, 2, r, &err) == -1);
    CHECK(err.code == RP_ERR_NOT_FOUND);
    CHECK(!r[0].ok && !r[1].ok);
    CHECK_STR(r[1].error_code, "ResourceNotFoundException");
    CHECK(rp__local_put_records(s, "bad name", e, 1, r, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);
    CHECK(rp__local_put_records(s, "s", NULL, 1, r, &err) == -1);
    CHECK(rp__local_put_records(s, "s", e, 1, NULL, &err) == -1);
    CHECK(rp__local_put_records(NULL, "s", e, 1, r, &err) == -1);
    /* 5 MiB in all: refused as a whole. */
    unsigned char *data = calloc(1, RP_STREAM_RECORD_MAX);
    if (data) {
        rp_stream_entry big[6];
        for (int i = 0; i < 6; i++)
            big[i] = (rp_stream_entry){data, RP_STREAM_RECORD_MAX - 1, "k", 1};
        CHECK(rp__local_put_records(s, "s", big, 5, r, &err) == 0);
        CHECK(rp__local_put_records(s, "s", big, 6, r, &err) == -1);
        CHECK(strstr(err.msg, "InvalidArgumentException") == err.msg);
        free(data);
    }
    rp__local_close(s);
}

/* ---- iterators and reading ------------------------------------------------ */

TEST(iterator_types)
{
    rp__local_store *s = fresh_store();
    fake_clock clk = {1000000};
    rp__local_set_clock(s, fake_now, &clk);
    rp_error err;
    const char *sh0 = "shardId-000000000000";
    CHECK(rp__local_create_stream(s, "s", 1, 0, &err) == 0);

    char seqs[5][RP_STREAM_SEQ_MAX];
    for (int i = 0; i < 5; i++) {
        char k[8];
        snprintf(k, sizeof k, "r%d", i);
        clk.now = 1000000 + 1000 * i; /* arrivals 1000000, 1001000, ... */
        rp_stream_put_result r = put1(s, "s", k);
        CHECK(r.ok);
        memcpy(seqs[i], r.sequence_number, RP_STREAM_SEQ_MAX);
    }
    clk.now = 1010000;

    got *g = new_got();
    CHECK(read_shard(s, "s", sh0, RP_STREAM_TRIM_HORIZON, NULL, 0, 0, g) == 0);
    CHECK(g->n == 5);
    CHECK_STR(g->data[0], "r0");
    CHECK_STR(g->data[4], "r4");
    CHECK_STR(g->seq[2], seqs[2]);
    CHECK_STR(g->shard[2], sh0);
    CHECK(g->arrival[3] == 1003000);

    memset(g, 0, sizeof *g);
    CHECK(read_shard(s, "s", sh0, RP_STREAM_AT_SEQUENCE_NUMBER, seqs[2], 0, 0, g) == 0);
    CHECK(g->n == 3);
    CHECK_STR(g->data[0], "r2");

    memset(g, 0, sizeof *g);
    CHECK(read_shard(s, "s", sh0, RP_STREAM_AFTER_SEQUENCE_NUMBER, seqs[2], 0, 0, g) == 0);
    CHECK(g->n == 2);
    CHECK_STR(g->data[0], "r3");

    memset(g, 0, sizeof *g);
    CHECK(read_shard(s, "s", sh0, RP_STREAM_AFTER_SEQUENCE_NUMBER, seqs[4], 0, 0, g) == 0);
    CHECK(g->n == 0);

    /* The shard's starting sequence number: AT reads everything. */
    memset(g, 0, sizeof *g);
    CHECK(read_shard(s, "s", sh0, RP_STREAM_AT_SEQUENCE_NUMBER, "100000000000000000000000000000000", 0, 0,
                     g) == 0);
    CHECK(g->n == 5);

    /* AT_TIMESTAMP: exact, between two arrivals, before all, after all. */
    memset(g, 0, sizeof *g);
    CHECK(read_shard(s, "s", sh0, RP_STREAM_AT_TIMESTAMP, NULL, 1002000, 0, g) == 0);
    CHECK(g->n == 3);
    CHECK_STR(g->data[0], "r2");
    memset(g, 0, sizeof *g);
    CHECK(read_shard(s, "s", sh0, RP_STREAM_AT_TIMESTAMP, NULL, 1002001, 0, g) == 0);
    CHECK(g->n == 2);
    CHECK_STR(g->data[0], "r3");
    memset(g, 0, sizeof *g);
    CHECK(read_shard(s, "s", sh0, RP_STREAM_AT_TIMESTAMP, NULL, 0, 0, g) == 0);
    CHECK(g->n == 5);
    memset(g, 0, sizeof *g);
    CHECK(read_shard(s, "s", sh0, RP_STREAM_AT_TIMESTAMP, NULL, 1009000, 0, g) == 0);
    CHECK(g->n == 0);

    /* LATEST: nothing now; what is put afterwards. */
    char it[RP_STREAM_ITER_MAX], next[RP_STREAM_ITER_MAX];
    CHECK(rp__local_get_iterator(s, "s", sh0, RP_STREAM_LATEST, NULL, 0, it, &err) == 0);
    char at_ts[RP_STREAM_ITER_MAX]; /* AT_TIMESTAMP now: also sees later records */
    CHECK(rp__local_get_iterator(s, "s", sh0, RP_STREAM_AT_TIMESTAMP, NULL, clk.now, at_ts, &err) == 0);
    memset(g, 0, sizeof *g);
    int64_t behind = -1;
    CHECK(rp__local_get_records(s, it, 0, collect, g, next, &behind, &err) == 0);
    CHECK(g->n == 0);
    CHECK(behind == 0);
    CHECK(next[0] != '\0'); /* an empty page still returns a next iterator */
    put1(s, "s", "r5");
    put1(s, "s", "r6");
    CHECK(rp__local_get_records(s, next, 0, collect, g, it, &behind, &err) == 0);
    CHECK(g->n == 2);
    CHECK_STR(g->data[0], "r5");
    memset(g, 0, sizeof *g);
    CHECK(rp__local_get_records(s, at_ts, 0, collect, g, it, &behind, &err) == 0);
    CHECK(g->n == 2);

    /* Iterators are independent: reading one does not move another. */
    char a[RP_STREAM_ITER_MAX];
    CHECK(rp__local_get_iterator(s, "s", sh0, RP_STREAM_TRIM_HORIZON, NULL, 0, a, &err) == 0);
    memset(g, 0, sizeof *g);
    CHECK(rp__local_get_records(s, a, 3, collect, g, next, &behind, &err) == 0);
    CHECK(g->n == 3);
    CHECK(behind == 10000 - 2000); /* r2 arrived at 1002000, now is 1010000 */
    memset(g, 0, sizeof *g);
    CHECK(rp__local_get_records(s, a, 3, collect, g, next, &behind, &err) == 0);
    CHECK(g->n == 3 && strcmp(g->data[0], "r0") == 0);
    memset(g, 0, sizeof *g);
    CHECK(rp__local_get_records(s, next, 100, collect, g, it, &behind, &err) == 0);
    CHECK(g->n == 4);
    CHECK_STR(g->data[0], "r3");
    CHECK(behind == 0);
    /* Shorter shard ids are accepted as Kinesis accepts them. */
    CHECK(rp__local_get_iterator(s, "s", "shardId-0", RP_STREAM_TRIM_HORIZON, NULL, 0, a, &err) == 0);
    free(g);
    rp__local_close(s);
}

TEST(iterator_bad_inputs)
{
    rp__local_store *s = fresh_store();
    fake_clock clk = {5000000};
    rp__local_set_clock(s, fake_now, &clk);
    rp_error err;
    char it[RP_STREAM_ITER_MAX];
    const char *sh0 = "shardId-000000000000";
    CHECK(rp__local_create_stream(s, "s", 2, 0, &err) == 0);
    rp_stream_put_result r0 = put1(s, "s", "ride-0"); /* shard 0 */
    rp_stream_put_result r1 = put1(s, "s", "1");      /* shard 1 of 2 */
    CHECK_STR(r0.shard_id, sh0);
    CHECK_STR(r1.shard_id, "shardId-000000000001");

    CHECK(rp__local_get_iterator(s, "nope", sh0, RP_STREAM_LATEST, NULL, 0, it, &err) == -1);
    CHECK(err.code == RP_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "ResourceNotFoundException") == err.msg);
    CHECK(it[0] == '\0');
    CHECK(rp__local_get_iterator(s, "s", "shardId-000000000002", RP_STREAM_LATEST, NULL, 0, it, &err) == -1);
    CHECK(err.code == RP_ERR_NOT_FOUND);
    const char *bad_ids[] = {"shard-1", "shardId-", "shardId-x", "shardId-0000000000001", "shardId-1 ", "0"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++) {
        CHECK(rp__local_get_iterator(s, "s", bad_ids[i], RP_STREAM_LATEST, NULL, 0, it, &err) == -1);
        CHECK(err.code == RP_ERR_NOT_FOUND);
    }
    CHECK(rp__local_get_iterator(s, "s", "", RP_STREAM_LATEST, NULL, 0, it, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);
    CHECK(rp__local_get_iterator(s, "s", NULL, RP_STREAM_LATEST, NULL, 0, it, &err) == -1);
    CHECK(rp__local_get_iterator(s, "bad name", sh0, RP_STREAM_LATEST, NULL, 0, it, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);
    CHECK(rp__local_get_iterator(s, "s", sh0, (rp_stream_iterator)0, NULL, 0, it, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);
    CHECK(rp__local_get_iterator(s, "s", sh0, (rp_stream_iterator)99, NULL, 0, it, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);

    /* Sequence numbers: required for AT/AFTER, refused for the others, of
     * this shard, well formed. */
    CHECK(rp__local_get_iterator(s, "s", sh0, RP_STREAM_AT_SEQUENCE_NUMBER, NULL, 0, it, &err) == -1);
    CHECK(strstr(err.msg, "InvalidArgumentException") == err.msg);
    CHECK(rp__local_get_iterator(s, "s", sh0, RP_STREAM_AFTER_SEQUENCE_NUMBER, NULL, 0, it, &err) == -1);
    CHECK(rp__local_get_iterator(s, "s", sh0, RP_STREAM_TRIM_HORIZON, r0.sequence_number, 0, it, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);
    CHECK(rp__local_get_iterator(s, "s", sh0, RP_STREAM_LATEST, r0.sequence_number, 0, it, &err) == -1);
    CHECK(rp__local_get_iterator(s, "s", sh0, RP_STREAM_AT_SEQUENCE_NUMBER, r1.sequence_number, 0, it,
                                 &err) == -1); /* shard 1's number on shard 0 */
    CHECK(err.code == RP_ERR_INVALID);
    CHECK(strstr(err.msg, "encodes shardId-000000000001") != NULL);
    const char *bad_seqs[] = {"",
                              "1",
                              "abc",
                              "0",
                              "200000000000000000000000000000001",
                              "10000000000000000000000000000000a",
                              "1000000000000000000000000000000001",
                              "100000000000099999999999999999999"}; /* counter beyond 2^40 */
    for (size_t i = 0; i < sizeof bad_seqs / sizeof *bad_seqs; i++) {
        CHECK(rp__local_get_iterator(s, "s", sh0, RP_STREAM_AT_SEQUENCE_NUMBER, bad_seqs[i], 0, it, &err) ==
              -1);
        CHECK(err.code == RP_ERR_INVALID);
    }

    /* AT_TIMESTAMP in the future. */
    CHECK(rp__local_get_iterator(s, "s", sh0, RP_STREAM_AT_TIMESTAMP, NULL, clk.now + 1, it, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);
    CHECK(rp__local_get_iterator(s, "s", sh0, RP_STREAM_AT_TIMESTAMP, NULL, clk.now, it, &err) == 0);
    rp__local_close(s);
}

TEST(get_records_bad_iterators)
{
    rp__local_store *s = fresh_store();
    fake_clock clk = {7000000};
    rp__local_set_clock(s, fake_now, &clk);
    rp_error err;
    char it[RP_STREAM_ITER_MAX], next[RP_STREAM_ITER_MAX], bad[RP_STREAM_ITER_MAX + 8];
    got *g = new_got();
    CHECK(rp__local_create_stream(s, "s", 1, 0, &err) == 0);
    put1(s, "s", "a");
    put1(s, "s", "b");
    CHECK(rp__local_get_iterator(s, "s", "shardId-000000000000", RP_STREAM_TRIM_HORIZON, NULL, 0, it, &err) ==
          0);
    CHECK(strlen(it) < RP_STREAM_ITER_MAX);

    const char *garbage[] = {"",
                             "x",
                             "rpl1.",
                             "rpl1.1.1.1",
                             "rpl1.1.1.1.",
                             "rpl2.1.1.1.00",
                             "rpl1.-1.1.7000000.0000000000000000",
                             "rpl1.99999999999999999999.1.1.0000000000000000"};
    for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++) {
        strcpy(next, "unchanged");
        CHECK(rp__local_get_records(s, garbage[i], 0, collect, g, next, NULL, &err) == -1);
        CHECK(err.code == RP_ERR_INVALID);
        CHECK(strstr(err.msg, "InvalidArgumentException") == err.msg);
        CHECK_STR(next, "unchanged");
    }
    /* Tampering with any field breaks the check. */
    size_t len = strlen(it);
    for (size_t i = 5; i < len; i++) {
        memcpy(bad, it, len + 1);
        bad[i] = bad[i] == '1' ? '2' : '1';
        if (strcmp(bad, it) == 0)
            continue;
        CHECK(rp__local_get_records(s, bad, 0, collect, g, next, NULL, &err) == -1);
    }
    memcpy(bad, it, len + 1);
    bad[len - 1] = '\0';
    CHECK(rp__local_get_records(s, bad, 0, collect, g, next, NULL, &err) == -1);
    memset(bad, 'a', sizeof bad - 1); /* longer than any iterator */
    bad[sizeof bad - 1] = '\0';
    CHECK(rp__local_get_records(s, bad, 0, collect, g, next, NULL, &err) == -1);
    CHECK(rp__local_get_records(s, NULL, 0, collect, g, next, NULL, &err) == -1);
    CHECK(rp__local_get_records(s, it, 0, NULL, g, next, NULL, &err) == -1);
    CHECK(rp__local_get_records(s, it, 0, collect, g, NULL, NULL, &err) == -1);
    CHECK(rp__local_get_records(s, it, RP_LOCAL_GET_LIMIT_MAX + 1, collect, g, next, NULL, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);
    CHECK(g->n == 0);

    /* An iterator from another store file (same shard key, same position). */
    rp__local_store *other = fresh_store();
    rp__local_set_clock(other, fake_now, &clk);
    CHECK(rp__local_create_stream(other, "s", 1, 0, &err) == 0);
    CHECK(rp__local_get_records(other, it, 0, collect, g, next, NULL, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);
    rp__local_close(other);

    /* A callback that stops the read: -1, next_iter untouched; the iterator
     * can be used again and sees the same records. */
    g->stop_after = 2;
    strcpy(next, "unchanged");
    CHECK(rp__local_get_records(s, it, 0, collect, g, next, NULL, &err) == -1);
    CHECK(err.code == RP_ERR_INTERNAL);
    CHECK_STR(next, "unchanged");
    CHECK(g->n == 1);
    memset(g, 0, sizeof *g);
    CHECK(rp__local_get_records(s, it, 0, collect, g, next, NULL, &err) == 0);
    CHECK(g->n == 2);

    /* Expiry: valid up to 5 minutes after creation, expired after. */
    clk.now += RP_LOCAL_ITER_TTL_MS;
    memset(g, 0, sizeof *g);
    CHECK(rp__local_get_records(s, it, 0, collect, g, next, NULL, &err) == 0);
    clk.now += 1;
    CHECK(rp__local_get_records(s, it, 0, collect, g, next, NULL, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);
    CHECK(strstr(err.msg, "ExpiredIteratorException") == err.msg);
    /* ... while the next iterator just returned is fresh. */
    CHECK(rp__local_get_records(s, next, 0, collect, g, it, NULL, &err) == 0);
    free(g);
    rp__local_close(s);
}

static int count_rows(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int n = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM records", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

TEST(retention)
{
    char path[320];
    snprintf(path, sizeof path, "%s", fresh_path());
    rp__local_store *s = NULL;
    rp_error err;
    CHECK(rp__local_open(path, &s, &err) == 0);
    fake_clock clk = {100000000};
    rp__local_set_clock(s, fake_now, &clk);
    const char *sh0 = "shardId-000000000000";
    const int64_t hour = 3600000;
    CHECK(rp__local_create_stream(s, "s", 1, 1, &err) == 0); /* 1 hour */
    CHECK(rp__local_create_stream(s, "d", 1, 0, &err) == 0); /* 24 hours */
    for (int i = 0; i < 10; i++) {
        char k[8];
        snprintf(k, sizeof k, "o%d", i);
        clk.now = 100000000 + i; /* arrivals t0 .. t0+9 */
        CHECK(put1(s, "s", k).ok);
        CHECK(put1(s, "d", k).ok);
    }
    char it_old[RP_STREAM_ITER_MAX];
    CHECK(rp__local_get_iterator(s, "s", sh0, RP_STREAM_TRIM_HORIZON, NULL, 0, it_old, &err) == 0);
    CHECK(count_rows(path) == 20);

    /* One hour later, records 0..4 have expired: not returned by any
     * iterator, though still in the file. */
    clk.now = 100000000 + hour + 5;
    got *g = new_got();
    CHECK(read_shard(s, "s", sh0, RP_STREAM_TRIM_HORIZON, NULL, 0, 0, g) == 0);
    CHECK(g->n == 5);
    CHECK_STR(g->data[0], "o5");
    memset(g, 0, sizeof *g);
    char next[RP_STREAM_ITER_MAX];
    CHECK(rp__local_get_records(s, it_old, 0, collect, g, next, NULL, &err) == -1); /* expired */
    memset(g, 0, sizeof *g);
    CHECK(read_shard(s, "s", sh0, RP_STREAM_AT_TIMESTAMP, NULL, 0, 0, g) == 0);
    CHECK(g->n == 5);
    memset(g, 0, sizeof *g);
    CHECK(read_shard(s, "s", sh0, RP_STREAM_AT_SEQUENCE_NUMBER, "100000000000000000000000000000002", 0, 0,
                     g) == 0);
    CHECK(g->n == 5);
    memset(g, 0, sizeof *g);
    CHECK(read_shard(s, "d", sh0, RP_STREAM_TRIM_HORIZON, NULL, 0, 0, g) == 0);
    CHECK(g->n == 10); /* the 24-hour stream keeps them */
    CHECK(count_rows(path) == 20);

    /* A put trims its stream (the first put after a minute): 5 rows go. */
    CHECK(put1(s, "s", "new").ok);
    CHECK(count_rows(path) == 16);
    /* Within the minute, a put does not trim again. */
    clk.now += 3;
    CHECK(put1(s, "s", "new2").ok);
    CHECK(count_rows(path) == 17);
    /* A minute later every o* has expired: the next put deletes o5..o9. */
    clk.now += 60000;
    CHECK(put1(s, "s", "new3").ok);
    CHECK(count_rows(path) == 13);
    memset(g, 0, sizeof *g);
    CHECK(read_shard(s, "s", sh0, RP_STREAM_TRIM_HORIZON, NULL, 0, 0, g) == 0);
    CHECK(g->n == 3);
    CHECK_STR(g->data[0], "new");

    /* rp__local_trim sweeps everything, every stream. */
    clk.now += 25 * hour;
    CHECK(rp__local_trim(s, &err) == 0);
    CHECK(count_rows(path) == 0);
    memset(g, 0, sizeof *g);
    CHECK(read_shard(s, "d", sh0, RP_STREAM_TRIM_HORIZON, NULL, 0, 0, g) == 0);
    CHECK(g->n == 0);
    /* Sequence numbers go on after a trim. */
    rp_stream_put_result r = put1(s, "s", "after");
    CHECK_STR(r.sequence_number, "100000000000000000000000000000014");
    free(g);
    rp__local_close(s);
}

TEST(get_records_limits)
{
    rp__local_store *s = fresh_store();
    rp_error err;
    const char *sh0 = "shardId-000000000000";
    CHECK(rp__local_create_stream(s, "s", 1, 0, &err) == 0);

    /* 12000 small records: a page holds at most 10000. */
    rp_stream_entry e[500];
    rp_stream_put_result r[500];
    for (int i = 0; i < 500; i++)
        e[i] = (rp_stream_entry){"d", 1, "k", 1};
    for (int b = 0; b < 24; b++)
        CHECK(rp__local_put_records(s, "s", e, 500, r, &err) == 0);
    char it[RP_STREAM_ITER_MAX], next[RP_STREAM_ITER_MAX];
    got *g = new_got();
    CHECK(rp__local_get_iterator(s, "s", sh0, RP_STREAM_TRIM_HORIZON, NULL, 0, it, &err) == 0);
    CHECK(rp__local_get_records(s, it, 0, collect, g, next, NULL, &err) == 0);
    CHECK(g->n == 10000);
    CHECK(rp__local_get_records(s, next, 0, collect, g, it, NULL, &err) == 0);
    CHECK(g->n == 12000);
    CHECK_STR(g->seq[11999], "100000000000000000000000000012000");
    CHECK(rp__local_get_records(s, it, 1, collect, g, next, NULL, &err) == 0);
    CHECK(g->n == 12000);
    CHECK(rp__local_delete_stream(s, "s", &err) == 0);

    /* Records of 1,000,000 bytes: a page stops before 10 MiB (10 of them). */
    CHECK(rp__local_create_stream(s, "s", 1, 0, &err) == 0);
    unsigned char *data = calloc(1, 1000000);
    CHECK(data != NULL);
    if (data) {
        rp_stream_entry big[4];
        for (int i = 0; i < 4; i++)
            big[i] = (rp_stream_entry){data, 1000000, "k", 1};
        for (int b = 0; b < 3; b++)
            CHECK(rp__local_put_records(s, "s", big, 4, r, &err) == 0);
        memset(g, 0, sizeof *g);
        CHECK(rp__local_get_iterator(s, "s", sh0, RP_STREAM_TRIM_HORIZON, NULL, 0, it, &err) == 0);
        CHECK(rp__local_get_records(s, it, 0, collect, g, next, NULL, &err) == 0);
        CHECK(g->n == 10);
        CHECK(rp__local_get_records(s, next, 0, collect, g, it, NULL, &err) == 0);
        CHECK(g->n == 12);
        free(data);
    }
    free(g);
    rp__local_close(s);
}

/* ---- resharding ------------------------------------------------------------- */

static rp_stream_shard *shards_of(rp__local_store *s, const char *name, size_t *n)
{
    rp_stream_shard *v = NULL;
    rp_error err;
    if (rp__local_list_shards(s, name, &v, n, &err) != 0) {
        fprintf(stderr, "list_shards: %s\n", err.msg);
        *n = 0;
    }
    return v;
}

static const rp_stream_shard *find_shard(const rp_stream_shard *v, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].shard_id, id) == 0)
            return &v[i];
    return NULL;
}

TEST(update_shard_count_split_and_merge)
{
    rp__local_store *s = fresh_store();
    rp_error err;
    size_t n;
    rp_stream_info info;
    CHECK(rp__local_create_stream(s, "s", 2, 0, &err) == 0);
    rp_stream_put_result before0 = put1(s, "s", "ride-0"); /* shard 0 */
    rp_stream_put_result before1 = put1(s, "s", "x");      /* shard 1 of 2 */
    CHECK_STR(before1.shard_id, "shardId-000000000001");
    char it_parent[RP_STREAM_ITER_MAX];
    CHECK(rp__local_get_iterator(s, "s", "shardId-000000000000", RP_STREAM_TRIM_HORIZON, NULL, 0, it_parent,
                                 &err) == 0);

    /* 2 -> 4: each shard splits in two. */
    CHECK(rp__local_update_shard_count(s, "s", 4, &err) == 0);
    CHECK(rp__local_describe_stream(s, "s", &info, &err) == 0);
    CHECK(info.open_shards == 4);
    rp_stream_shard *v = shards_of(s, "s", &n);
    CHECK(n == 6);
    if (n == 6) {
        /* Parents closed, with ending sequence numbers. */
        CHECK_STR(v[0].seq_end, "100000000000000000000000000000001");
        CHECK_STR(v[1].seq_end, "100000000000100000000000000000001");
        /* Children: 2, 3 of 0; 4, 5 of 1; ranges of a 4-shard stream. */
        CHECK_STR(v[2].parent_shard_id, "shardId-000000000000");
        CHECK_STR(v[3].parent_shard_id, "shardId-000000000000");
        CHECK_STR(v[4].parent_shard_id, "shardId-000000000001");
        CHECK_STR(v[5].parent_shard_id, "shardId-000000000001");
        CHECK_STR(v[2].adjacent_parent_shard_id, "");
        CHECK_STR(v[2].hash_start, "0");
        CHECK_STR(v[2].hash_end, "85070591730234615865843651857942052863");
        CHECK_STR(v[3].hash_start, "85070591730234615865843651857942052864");
        CHECK_STR(v[3].hash_end, "170141183460469231731687303715884105727");
        CHECK_STR(v[4].hash_start, "170141183460469231731687303715884105728");
        CHECK_STR(v[5].hash_end, "340282366920938463463374607431768211455");
        CHECK_STR(v[5].seq_end, "");
        CHECK_STR(v[5].seq_start, "100000000000500000000000000000000");
        /* Child sequence numbers sort after the parent's. */
        CHECK(strcmp(v[2].seq_start, v[0].seq_end) > 0);
    }
    free(v);

    /* New records go to the children (same places as a 4-shard stream). */
    CHECK_STR(put1(s, "s", "ride-1").shard_id, "shardId-000000000003");
    CHECK_STR(put1(s, "s", "ride-2").shard_id, "shardId-000000000005");
    CHECK_STR(put1(s, "s", "x").shard_id, "shardId-000000000004");

    /* The closed parent still reads, to its end: then the next iterator is "". */
    got *g = new_got();
    char next[RP_STREAM_ITER_MAX];
    CHECK(rp__local_get_records(s, it_parent, 0, collect, g, next, NULL, &err) == 0);
    CHECK(g->n == 1);
    CHECK_STR(g->seq[0], before0.sequence_number);
    CHECK_STR(next, "");
    memset(g, 0, sizeof *g);
    CHECK(rp__local_get_iterator(s, "s", "shardId-000000000001", RP_STREAM_LATEST, NULL, 0, it_parent,
                                 &err) == 0);
    CHECK(rp__local_get_records(s, it_parent, 0, collect, g, next, NULL, &err) == 0);
    CHECK(g->n == 0);
    CHECK_STR(next, "");

    /* 4 -> 2: pairs merge; the child names both parents. */
    CHECK(rp__local_update_shard_count(s, "s", 2, &err) == 0);
    v = shards_of(s, "s", &n);
    CHECK(n == 8);
    if (n == 8) {
        CHECK_STR(v[6].parent_shard_id, "shardId-000000000002");
        CHECK_STR(v[6].adjacent_parent_shard_id, "shardId-000000000003");
        CHECK_STR(v[6].hash_end, "170141183460469231731687303715884105727");
        CHECK_STR(v[7].parent_shard_id, "shardId-000000000004");
        CHECK_STR(v[7].adjacent_parent_shard_id, "shardId-000000000005");
        CHECK_STR(v[3].seq_end, "100000000000300000000000000000001");
        CHECK_STR(v[2].seq_end, "100000000000200000000000000000000"); /* empty: ends at 0 */
    }
    free(v);

    /* 2 -> 3: shard 6 splits at 1/3, shard 7 at 2/3, the middle pieces merge. */
    CHECK(rp__local_update_shard_count(s, "s", 3, &err) == 0);
    CHECK(rp__local_describe_stream(s, "s", &info, &err) == 0);
    CHECK(info.open_shards == 3);
    v = shards_of(s, "s", &n);
    CHECK(n == 13);
    if (n == 13) {
        const rp_stream_shard *a = find_shard(v, n, "shardId-000000000008");
        const rp_stream_shard *b = find_shard(v, n, "shardId-000000000009");
        const rp_stream_shard *c = find_shard(v, n, "shardId-000000000010");
        const rp_stream_shard *d = find_shard(v, n, "shardId-000000000011");
        const rp_stream_shard *m = find_shard(v, n, "shardId-000000000012");
        CHECK(a && b && c && d && m);
        if (a && b && c && d && m) {
            CHECK_STR(a->parent_shard_id, "shardId-000000000006");
            CHECK_STR(a->hash_end, "113427455640312821154458202477256070484");
            CHECK_STR(a->seq_end, "");
            CHECK_STR(b->parent_shard_id, "shardId-000000000006");
            CHECK(b->seq_end[0] != '\0'); /* merged away at once */
            CHECK_STR(c->parent_shard_id, "shardId-000000000007");
            CHECK(c->seq_end[0] != '\0');
            CHECK_STR(d->hash_start, "226854911280625642308916404954512140970");
            CHECK_STR(d->seq_end, "");
            CHECK_STR(m->parent_shard_id, "shardId-000000000009");
            CHECK_STR(m->adjacent_parent_shard_id, "shardId-000000000010");
            CHECK_STR(m->hash_start, "113427455640312821154458202477256070485");
            CHECK_STR(m->hash_end, "226854911280625642308916404954512140969");
        }
    }
    free(v);
    /* Placement now as in a 3-shard stream. */
    CHECK_STR(put1(s, "s", "ride-0").shard_id, "shardId-000000000008");
    CHECK_STR(put1(s, "s", "ride-1").shard_id, "shardId-000000000012");
    CHECK_STR(put1(s, "s", "ride-2").shard_id, "shardId-000000000011");

    /* The same count: no change. */
    CHECK(rp__local_update_shard_count(s, "s", 3, &err) == 0);
    v = shards_of(s, "s", &n);
    CHECK(n == 13);
    free(v);

    /* Limits: at most double, at least half. */
    CHECK(rp__local_update_shard_count(s, "s", 7, &err) == -1);
    CHECK(err.code == RP_ERR_LIMIT);
    CHECK(strstr(err.msg, "LimitExceededException") == err.msg);
    CHECK(rp__local_update_shard_count(s, "s", 1, &err) == -1);
    CHECK(err.code == RP_ERR_LIMIT);
    CHECK(rp__local_update_shard_count(s, "s", 0, &err) == -1);
    CHECK(err.code == RP_ERR_INVALID);
    CHECK(rp__local_update_shard_count(s, "nope", 2, &err) == -1);
    CHECK(err.code == RP_ERR_NOT_FOUND);
    CHECK(rp__local_update_shard_count(s, "s", 6, &err) == 0);
    CHECK(rp__local_describe_stream(s, "s", &info, &err) == 0);
    CHECK(info.open_shards == 6);
    free(g);
    rp__local_close(s);
}

TEST(closed_shards_expire)
{
    rp__local_store *s = fresh_store();
    fake_clock clk = {200000000};
    rp__local_set_clock(s, fake_now, &clk);
    rp_error err;
    size_t n;
    CHECK(rp__local_create_stream(s, "s", 1, 1, &err) == 0);
    CHECK(put1(s, "s", "a").ok);
    CHECK(rp__local_update_shard_count(s, "s", 2, &err) == 0);
    rp_stream_shard *v = shards_of(s, "s", &n);
    CHECK(n == 3);
    free(v);
    /* Still readable within the retention period. */
    got *g = new_got();
    CHECK(read_shard(s, "s", "shardId-000000000000", RP_STREAM_TRIM_HORIZON, NULL, 0, 0, g) == 0);
    CHECK(g->n == 1);
    clk.now += 3600000 + 1;
    CHECK(rp__local_trim(s, &err) == 0);
    v = shards_of(s, "s", &n);
    CHECK(n == 2);
    if (n == 2) {
        CHECK_STR(v[0].shard_id, "shardId-000000000001");
        CHECK_STR(v[0].parent_shard_id, "shardId-000000000000"); /* kept, as Kinesis does */
    }
    free(v);
    char it[RP_STREAM_ITER_MAX];
    CHECK(rp__local_get_iterator(s, "s", "shardId-000000000000", RP_STREAM_TRIM_HORIZON, NULL, 0, it, &err) ==
          -1);
    CHECK(err.code == RP_ERR_NOT_FOUND);
    free(g);
    rp__local_close(s);
}

/* ---- several processes ------------------------------------------------------ */

/* Four processes open a file that does not exist yet, create-or-find a
 * stream and put 2000 records each at once; the parent then reads 8000. */
TEST(processes_at_once)
{
    char path[320];
    snprintf(path, sizeof path, "%s", fresh_path());
    pid_t pids[4];
    for (int p = 0; p < 4; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            rp__local_store *s = NULL;
            rp_error err;
            int bad = rp__local_open(path, &s, &err) != 0;
            if (!bad && rp__local_create_stream(s, "s", 3, 0, &err) != 0 &&
                !strstr(err.msg, "ResourceInUseException"))
                bad = 1;
            rp_stream_entry e[100];
            rp_stream_put_result r[100];
            char keys[100][24];
            for (int b = 0; !bad && b < 20; b++) {
                for (int i = 0; i < 100; i++) {
                    snprintf(keys[i], sizeof keys[i], "p%d-%d", p, b * 100 + i);
                    e[i] = (rp_stream_entry){keys[i], strlen(keys[i]), keys[i], strlen(keys[i])};
                }
                if (rp__local_put_records(s, "s", e, 100, r, &err) != 0)
                    bad = 1;
                for (int i = 0; i < 100; i++)
                    bad |= !r[i].ok;
            }
            if (bad)
                fprintf(stderr, "child %d: %s\n", p, err.msg);
            rp__local_close(s);
            _exit(bad);
        }
    }
    int failed = 0;
    for (int p = 0; p < 4; p++) {
        int st = 0;
        waitpid(pids[p], &st, 0);
        failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK(failed == 0);
    rp__local_store *s = NULL;
    rp_error err;
    CHECK(rp__local_open(path, &s, &err) == 0);
    got *g = new_got();
    int last[4];
    for (int sh = 0; sh < 3; sh++) {
        char id[32];
        snprintf(id, sizeof id, "shardId-%012d", sh);
        size_t from = g->n;
        CHECK(read_shard(s, "s", id, RP_STREAM_TRIM_HORIZON, NULL, 0, 0, g) == 0);
        /* Within a shard, each producer's records are in the order put. */
        for (int p = 0; p < 4; p++)
            last[p] = -1;
        for (size_t i = from; i < g->n; i++) {
            int p = -1, k = -1;
            if (sscanf(g->data[i], "p%d-%d", &p, &k) == 2 && p >= 0 && p < 4) {
                CHECK(k > last[p]);
                last[p] = k;
            }
            if (i > from)
                CHECK(strcmp(g->seq[i], g->seq[i - 1]) > 0);
        }
    }
    CHECK(g->n == 8000);
    free(g);
    rp__local_close(s);
}

int main(void)
{
    make_root();
    RUN(open_creates_file_and_parents);
    RUN(open_refuses_foreign_files);
    RUN(create_validates);
    RUN(describe_list_delete);
    RUN(list_shards_hash_ranges);
    RUN(put_places_by_md5);
    RUN(put_sequence_numbers);
    RUN(put_bad_records_fail_one_by_one);
    RUN(put_call_errors);
    RUN(iterator_types);
    RUN(iterator_bad_inputs);
    RUN(get_records_bad_iterators);
    RUN(retention);
    RUN(get_records_limits);
    RUN(update_shard_count_split_and_merge);
    RUN(closed_shards_expire);
    RUN(processes_at_once);
    CHECK(rp_t_rmtree(tmp_root) == 0);
    return rp_t_done();
}
