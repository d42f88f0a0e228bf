/* libFuzzer target: shard iterators of the local stream store.
 *
 * Once per process (LLVMFuzzerInitialize), a store is made in a fresh
 * temporary directory, removed at exit: stream "fuzz" with 2 shards and 7
 * records, stream "fuzz-split" with 1 shard resharded to 2 (so a closed
 * shard and its two children), all under a fixed clock.  Its store id is
 * then set to a fixed value, so that iterators are the same in every run and
 * a real iterator kept as a seed (tests/fuzz/seeds/local_iterator/) stays
 * valid.  Nothing is written to the store while fuzzing.
 *
 * Input: two control bytes, then lines (split at '\n'):
 *     ITERATOR \n SHARD_ID \n SEQUENCE_NUMBER \n TIMESTAMP_MS
 *   ctl0 bits 0-2  iterator type given to rp__local_get_iterator (0 and
 *                  6-7 are out of range on purpose)
 *        bit  3    also retry ITERATOR with its check recomputed (the
 *                  part after the last '.'), as fuzz_model_native fixes up
 *                  its checksum, so that mutations of the fields get past
 *                  the check
 *        bits 4-5  how far the clock moves between making an iterator and
 *                  reading: 0, 1 s, just past the 5 min expiry, 25 h
 *                  (past the retention)
 *        bit  6    the record callback stops the read at the 2nd record
 *        bit  7    limit 2 instead of 0 (the maximum)
 *   ctl1 bits 0-1  stream: "fuzz", "fuzz-split", "nope" (absent), "" (bad)
 *        bit  2    pass SEQUENCE_NUMBER even for types that refuse it
 *                  (else only for AT/AFTER_SEQUENCE_NUMBER)
 *        bit  3    the line is missing: pass NULL for the sequence number
 *
 * rp__local_get_records reads ITERATOR (as given, and fixed up), then the
 * iterator rp__local_get_iterator makes from SHARD_ID / SEQUENCE_NUMBER /
 * TIMESTAMP_MS (T0 + the number), following each next iterator a few pages.
 *
 * FUZZ_LOCAL_ITERATOR_DUMP=1 prints a TRIM_HORIZON iterator of every shard
 * at start-up (how the seed iterators were made), then the records read. */
#include <dirent.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream/local/local_store.h"

#define T0 INT64_C(1714564800000) /* 2024-05-01T12:00:00Z */
#define ITER_CHECK_MAX_BODY 96    /* what the store refuses to check beyond */

static const unsigned char fixed_id[16] = {0x72, 0x69, 0x64, 0x65, 0x70, 0x72, 0x65, 0x64,
                                           0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x69, 0x64};
static const char *const streams[4] = {"fuzz", "fuzz-split", "nope", ""};
static const int64_t shifts[4] = {0, 1000, 300001, INT64_C(25) * 3600 * 1000};

static char dir[256];
static char db_path[300];
static rp__local_store *store;
static int64_t clock_now = T0;
static int64_t clock_end; /* the clock after the set-up */
static EVP_MD_CTX *md_ctx;
static bool dump; /* FUZZ_LOCAL_ITERATOR_DUMP: print what is read */

static int64_t fuzz_clock(void *ctx)
{
    (void)ctx;
    return clock_now;
}

static void die(const char *what, const rp_error *err)
{
    fprintf(stderr, "fuzz_local_iterator: %s: %s\n", what, err ? err->msg : "failed");
    abort();
}

static void remove_dir(void)
{
    if (store) {
        rp__local_close(store);
        store = NULL;
    }
    EVP_MD_CTX_free(md_ctx);
    md_ctx = NULL;
    if (!dir[0])
        return;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[600];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
    dir[0] = '\0';
}

static void put(const char *stream, const char *key, const char *data)
{
    rp_stream_entry e = {data, strlen(data), key, strlen(key)};
    rp_stream_put_result r;
    rp_error err;
    if (rp__local_put_records(store, stream, &e, 1, &r, &err) != 0)
        die("put", &err);
    if (!r.ok)
        die(r.error_message, NULL);
    clock_now += 1000;
}

/* Replaces the random store id with fixed_id (the handle reads it at open). */
static void fix_store_id(void)
{
    sqlite3 *db = NULL;
    char sql[128], hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", fixed_id[i]);
    snprintf(sql, sizeof sql, "UPDATE meta SET value = '%s' WHERE key = 'store_id'", hex);
    if (sqlite3_open(db_path, &db) != SQLITE_OK || sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_changes(db) != 1)
        die(db ? sqlite3_errmsg(db) : "sqlite3_open", NULL);
    sqlite3_close(db);
}

static void dump_iterators(void)
{
    for (int s = 0; s < 2; s++) {
        rp_stream_shard *sh = NULL;
        size_t n = 0;
        rp_error err;
        if (rp__local_list_shards(store, streams[s], &sh, &n, &err) != 0)
            die("list shards", &err);
        for (size_t i = 0; i < n; i++) {
            char it[RP_STREAM_ITER_MAX];
            if (rp__local_get_iterator(store, streams[s], sh[i].shard_id, RP_STREAM_TRIM_HORIZON, NULL, 0, it,
                                       &err) != 0)
                die("get iterator", &err);
            fprintf(stderr, "%s %s seq %s..%s %s\n", streams[s], sh[i].shard_id, sh[i].seq_start,
                    sh[i].seq_end[0] ? sh[i].seq_end : "", it);
        }
        free(sh);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fuzz_local_iterator.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        dir[0] = '\0';
        die("mkdtemp", NULL);
    }
    atexit(remove_dir);
    snprintf(db_path, sizeof db_path, "%s/streams.db", dir);
    md_ctx = EVP_MD_CTX_new();
    if (!md_ctx)
        die("EVP_MD_CTX_new", NULL);

    rp_error err;
    if (rp__local_open(db_path, &store, &err) != 0)
        die("open", &err);
    rp__local_set_clock(store, fuzz_clock, NULL);
    if (rp__local_create_stream(store, streams[0], 2, 24, &err) != 0 ||
        rp__local_create_stream(store, streams[1], 1, 24, &err) != 0)
        die("create", &err);
    static const char *const keys[] = {"a", "b", "c", "d", "130_205", "1_2", "zz"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        put(streams[0], keys[i], i == 3 ? "" : "{\"trip_distance\": 3.5}");
    put(streams[1], "a", "before-1");
    put(streams[1], "b", "before-2");
    if (rp__local_update_shard_count(store, streams[1], 2, &err) != 0)
        die("reshard", &err);
    put(streams[1], "c", "after-1");
    put(streams[1], "d", "after-2");
    clock_end = clock_now;
    rp__local_close(store);
    store = NULL;

    fix_store_id();
    if (rp__local_open(db_path, &store, &err) != 0)
        die("reopen", &err);
    rp__local_set_clock(store, fuzz_clock, NULL);
    dump = getenv("FUZZ_LOCAL_ITERATOR_DUMP") != NULL;
    if (dump)
        dump_iterators();
    return 0;
}

typedef struct reader {
    size_t count;
    bool stop_at_2nd;
} reader;

static int on_record(void *ctx, const rp_stream_record *rec)
{
    reader *rd = ctx;
    if (!rec->shard_id || strncmp(rec->shard_id, "shardId-", 8) != 0 || !rec->sequence_number ||
        strlen(rec->sequence_number) != RP_LOCAL_SEQ_LEN || !rec->partition_key ||
        rec->partition_key_len == 0 || rec->partition_key_len > RP_STREAM_PK_MAX ||
        (!rec->data && rec->data_len) || rec->data_len > 64)
        __builtin_trap();
    volatile unsigned char sink = 0;
    for (size_t i = 0; i < rec->partition_key_len; i++)
        sink ^= (unsigned char)rec->partition_key[i];
    for (size_t i = 0; i < rec->data_len; i++)
        sink ^= rec->data[i];
    (void)sink;
    if (dump)
        fprintf(stderr, "  record %s %s %.*s\n", rec->shard_id, rec->sequence_number,
                (int)rec->partition_key_len, rec->partition_key);
    rd->count++;
    return rd->stop_at_2nd && rd->count == 2 ? 7 : 0;
}

/* Reads from iter (any length: the store must refuse what is too long) and
 * then a few more pages from each next iterator. */
static void read_pages(const char *iter, uint32_t limit, bool stop_at_2nd)
{
    char cur[RP_STREAM_ITER_MAX], next[RP_STREAM_ITER_MAX];
    for (int page = 0; page < 3; page++) {
        reader rd = {0, stop_at_2nd};
        rp_error err;
        int64_t behind = -1;
        memset(next, 0x55, sizeof next);
        if (rp__local_get_records(store, page == 0 ? iter : cur, limit, on_record, &rd, next, &behind,
                                  &err) != 0) {
            if (!err.msg[0])
                __builtin_trap();
            return;
        }
        if (strnlen(next, sizeof next) == sizeof next || behind < 0 || (limit && rd.count > limit))
            __builtin_trap();
        if (!next[0])
            return; /* a closed shard read to its end */
        memcpy(cur, next, sizeof cur);
    }
}

/* iter with everything after its last '.' replaced by the check the store
 * computes: the first 8 bytes of MD5(store id || the text before), in hex. */
static bool resign(const char *iter, char out[RP_STREAM_ITER_MAX])
{
    const char *dot = strrchr(iter, '.');
    if (!dot || dot == iter)
        return false;
    size_t n = (size_t)(dot - iter);
    if (n > ITER_CHECK_MAX_BODY)
        return false;
    unsigned char buf[16 + ITER_CHECK_MAX_BODY], h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    memcpy(buf, fixed_id, 16);
    memcpy(buf + 16, iter, n);
    if (EVP_DigestInit_ex(md_ctx, EVP_md5(), NULL) != 1 || EVP_DigestUpdate(md_ctx, buf, 16 + n) != 1 ||
        EVP_DigestFinal_ex(md_ctx, h, &hl) != 1 || hl != 16)
        abort();
    memcpy(out, iter, n + 1);
    for (int i = 0; i < 8; i++)
        snprintf(out + n + 1 + 2 * i, 3, "%02x", h[i]);
    return true;
}

/* A NUL-terminated copy of p[0..n) (cut at an embedded NUL by its readers). */
static char *dup_bytes(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t ctl0 = size > 0 ? data[0] : 0, ctl1 = size > 1 ? data[1] : 0;
    const uint8_t *p = data + (size > 2 ? 2 : size), *end = data + size;

    /* Up to four lines; fields[i] NULL when the input has no such line. */
    char *fields[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < 4 && p <= end; i++) {
        if (i == 0 && size < 2)
            break;
        const uint8_t *nl = i < 3 ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        const uint8_t *le = nl ? nl : end;
        fields[i] = dup_bytes(p, (size_t)(le - p));
        if (!nl)
            break;
        p = nl + 1;
    }

    rp_stream_iterator type = (rp_stream_iterator)(ctl0 & 7);
    bool fixup = ctl0 & 8;
    int64_t shift = shifts[(ctl0 >> 4) & 3];
    bool stop_at_2nd = ctl0 & 0x40;
    uint32_t limit = ctl0 & 0x80 ? 2 : 0;
    const char *stream = streams[ctl1 & 3];
    bool seq_always = ctl1 & 4, seq_null = ctl1 & 8;

    /* The iterator as given, then with its check recomputed. */
    clock_now = clock_end + shift;
    if (fields[0]) {
        read_pages(fields[0], limit, stop_at_2nd);
        char fixed[RP_STREAM_ITER_MAX];
        if (fixup && resign(fields[0], fixed))
            read_pages(fixed, limit, stop_at_2nd);
    }

    /* An iterator made from the shard id and position, read after the shift. */
    if (fields[1]) {
        bool wants_seq = type == RP_STREAM_AT_SEQUENCE_NUMBER || type == RP_STREAM_AFTER_SEQUENCE_NUMBER;
        const char *seq = seq_null ? NULL : fields[2] ? fields[2] : "";
        if (!wants_seq && !seq_always)
            seq = NULL;
        int64_t ts = T0;
        if (fields[3]) {
            char *e;
            long long v = strtoll(fields[3], &e, 10);
            ts = v > INT64_MAX - T0 ? INT64_MAX : v < INT64_MIN + T0 ? INT64_MIN : T0 + v;
        }
        char it[RP_STREAM_ITER_MAX];
        rp_error err;
        clock_now = clock_end;
        memset(it, 0x55, sizeof it);
        if (rp__local_get_iterator(store, stream, fields[1], type, seq, ts, it, &err) == 0) {
            if (strnlen(it, sizeof it) == sizeof it || strncmp(it, "rpl1.", 5) != 0)
                __builtin_trap();
            clock_now = clock_end + shift;
            read_pages(it, limit, stop_at_2nd);
        } else if (!err.msg[0]) {
            __builtin_trap();
        }
    }
    for (int i = 0; i < 4; i++)
        free(fields[i]);
    return 0;
}
