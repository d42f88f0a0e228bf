/* See parquet_write.h.  The file: "PAR1", per row group and column one
 * column chunk (an optional dictionary page, then data pages v1: each a
 * Thrift PageHeader and its compressed body), the footer (a Thrift
 * FileMetaData), its length (4 bytes little-endian) and "PAR1".  Field ids
 * are those of parquet.thrift, as in parquet.c.
 *
 * Values are buffered per column in their PLAIN layout (fixed-width values
 * as they are, strings as offsets into one byte array) from the first row
 * not yet written (`start`); a row group takes rows [start, start + k) of
 * every column, and the rows taken are dropped from the buffers once per
 * put, not once per row group. */
#include "data/parquet_write.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "data/codec.h"
#include "data/thrift.h"

#ifndef RIDEPRED_VERSION
#define RIDEPRED_VERSION "0.1.0"
#endif

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "parquet_write.c copies values in the host's byte order: Parquet's is little-endian"
#endif

enum {
    PAGE_DATA = 0,
    PAGE_DICTIONARY = 2
};
enum {
    ENC_PLAIN = 0,
    ENC_RLE = 3,
    ENC_RLE_DICTIONARY = 8
};
enum {
    CONVERTED_UTF8 = 0,
    CONVERTED_TIMESTAMP_MILLIS = 9,
    CONVERTED_TIMESTAMP_MICROS = 10
};

#define DEFAULT_ROW_GROUP_ROWS ((size_t)1 << 20)
#define DEFAULT_ROW_GROUP_BYTES ((size_t)128 << 20)
#define DEFAULT_PAGE_BYTES ((size_t)1 << 20)
#define DEFAULT_DICT_MAX_BYTES ((size_t)1 << 20)
#define DEFAULT_DICT_MAX_VALUES ((size_t)1 << 16)
#define DEFAULT_MAX_BUFFERED ((size_t)1 << 30)
#define MAX_PAGE_BYTES ((size_t)1 << 30)
#define MAX_STAT_BYTES 4096
#define FOOTER_MAX ((size_t)1 << 30)

static const uint8_t MAGIC[4] = {'P', 'A', 'R', '1'};

typedef struct wcol {
    char *name;
    rp__pqw_kind kind;
    bool optional;
    rp__pq_time_unit unit;
    bool utc;
    rp__pqw_dict dict;
    int ptype;    /* physical type */
    size_t width; /* bytes per value; 0 for strings */
    /* buffered rows [start, n) */
    size_t start, n, cap;
    uint8_t *valid; /* optional columns: cap flags */
    uint8_t *vals;  /* fixed width: cap * width bytes */
    uint64_t *off;  /* strings: cap + 1 offsets into bytes */
    uint8_t *bytes;
    size_t bytes_cap;
} wcol;

typedef struct chunk_meta {
    int64_t file_offset, data_page_offset, dict_page_offset; /* dict_page_offset -1: none */
    int64_t num_values, null_count;
    int64_t total_uncompressed, total_compressed;
    bool has_minmax;
    uint8_t *min, *max; /* PLAIN bytes of the statistics (owned) */
    size_t min_len, max_len;
} chunk_meta;

typedef struct rg_meta {
    int64_t num_rows, file_offset, total_byte_size, total_compressed;
    chunk_meta *chunks;
} rg_meta;

struct rp__pqw {
    char *name;
    wcol *cols;
    size_t ncols;
    rp__pqw_options opt;
    char *created_by;
    rp__pqw_sink sink;
    /* a path: the temporary file, renamed at the end */
    char *path, *tmp;
    int fd;
    bool started; /* "PAR1" written */
    uint64_t pos; /* bytes written */
    bool failed;
    rp_error first; /* the failure every later call repeats */
    rg_meta *rgs;
    size_t nrg, rg_cap;
    int64_t rows_written;
    /* scratch */
    rp__buf chunk, page, comp;
    uint32_t *idx, *levels; /* dictionary indices of the chunk's values; a page's levels */
    size_t idx_cap, levels_cap;
    uint32_t *table; /* dictionary hash table: entry + 1, 0 = empty */
    size_t table_cap;
    size_t *entries; /* dictionary entries: buffer rows */
    size_t entries_cap;
};

/* ---- failures ------------------------------------------------------------------ */

static int failv(rp__pqw *w, rp_error *err, rp_code code, const char *fmt, va_list ap)
{
    char msg[RP_ERROR_MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (!w->failed) {
        w->failed = true;
        rp_error_set(&w->first, code, "%s: %s", w->name, msg);
    }
    if (err)
        *err = w->first;
    return -1;
}

static int fail(rp__pqw *w, rp_error *err, rp_code code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(rp__pqw *w, rp_error *err, rp_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    failv(w, err, code, fmt, ap);
    va_end(ap);
    return -1;
}

/* Fails with e (already a full message, from a callee) as it is. */
static int fail_with(rp__pqw *w, rp_error *err, const rp_error *e)
{
    if (!w->failed) {
        w->failed = true;
        w->first = *e;
    }
    if (err)
        *err = w->first;
    return -1;
}

static int failed(rp__pqw *w, rp_error *err)
{
    if (err)
        *err = w->first;
    return -1;
}

/* ---- RLE / bit-packed hybrid ------------------------------------------------ */

static int put_uvarint(rp__buf *out, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    return rp__buf_append(out, b, n);
}

/* Whether v[i .. i + 8) are all equal. */
static bool run_of_8(const uint32_t *v, size_t n, size_t i)
{
    if (n - i < 8)
        return false;
    for (size_t j = i + 1; j < i + 8; j++)
        if (v[j] != v[i])
            return false;
    return true;
}

int rp__pq_rle_encode(const uint32_t *v, size_t n, int bit_width, rp__buf *out)
{
    if (bit_width < 1 || bit_width > 32) {
        out->failed = true;
        return -1;
    }
    size_t vbytes = ((size_t)bit_width + 7) / 8;
    size_t i = 0;
    while (i < n) {
        size_t r = 1;
        while (i + r < n && v[i + r] == v[i])
            r++;
        if (r >= 8) {
            uint8_t b[4];
            for (size_t k = 0; k < vbytes; k++)
                b[k] = (uint8_t)(v[i] >> (8 * k));
            if (put_uvarint(out, (uint64_t)r << 1) < 0 || rp__buf_append(out, b, vbytes) < 0)
                return -1;
            i += r;
            continue;
        }
        /* Literal groups of 8 until the end, a run of 8 at a group's start, or
         * 63 groups (a one-byte header). */
        size_t start = i, groups = 0;
        while (i < n && groups < 63) {
            i += 8;
            groups++;
            if (i >= n || run_of_8(v, n, i))
                break;
        }
        size_t end = i < n ? i : n;
        if (put_uvarint(out, (uint64_t)groups << 1 | 1) < 0 ||
            rp__buf_grow(out, groups * (size_t)bit_width) < 0)
            return -1;
        uint8_t *o = (uint8_t *)out->data + out->len;
        uint64_t acc = 0;
        int nbits = 0;
        for (size_t j = start; j < start + groups * 8; j++) {
            acc |= (uint64_t)(j < end ? v[j] : 0) << nbits;
            nbits += bit_width;
            while (nbits >= 8) {
                *o++ = (uint8_t)acc;
                acc >>= 8;
                nbits -= 8;
            }
        }
        out->len += groups * (size_t)bit_width;
        out->data[out->len] = '\0';
        i = end;
    }
    return 0;
}

/* ---- sinks ------------------------------------------------------------------------ */

static int buf_write(void *ctx, const void *data, size_t len, rp_error *err)
{
    rp__buf *b = ctx;
    if (rp__buf_append(b, data, len) < 0)
        return b->toobig
                   ? rp_error_set(err, RP_ERR_LIMIT, "the file is over the limit of %zu bytes", b->max)
                   : rp_error_set(err, RP_ERR_NOMEM, "out of memory for the file's %zu bytes", b->len + len);
    return 0;
}

rp__pqw_sink rp__pqw_buf_sink(rp__buf *out)
{
    return (rp__pqw_sink){.write = buf_write, .ctx = out};
}

static int fd_write(void *ctx, const void *data, size_t len, rp_error *err)
{
    rp__pqw *w = ctx;
    const uint8_t *p = data;
    while (len) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return rp_error_set(err, RP_ERR_IO, "cannot write %s: %s", w->tmp,
                                n < 0 ? strerror(errno) : "nothing written");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int raw_fd_write(void *ctx, const void *data, size_t len, rp_error *err)
{
    int fd = (int)(intptr_t)ctx;
    const uint8_t *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return rp_error_set(err, RP_ERR_IO, "cannot write to descriptor %d: %s", fd,
                                n < 0 ? strerror(errno) : "nothing written");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

rp__pqw_sink rp__pqw_fd_sink(int fd)
{
    return (rp__pqw_sink){.write = raw_fd_write, .ctx = (void *)(intptr_t)fd};
}

/* Writes len bytes to the sink ("PAR1" first). */
static int out_write(rp__pqw *w, const void *data, size_t len, rp_error *err)
{
    rp_error e;
    if (!w->started) {
        if (w->sink.write(w->sink.ctx, MAGIC, sizeof MAGIC, &e) < 0)
            return fail_with(w, err, &e);
        w->started = true;
        w->pos = sizeof MAGIC;
    }
    if (len && w->sink.write(w->sink.ctx, data, len, &e) < 0)
        return fail_with(w, err, &e);
    w->pos += len;
    return 0;
}

/* ---- opening ---------------------------------------------------------------------- */

static const char *kind_name(rp__pqw_kind k)
{
    switch (k) {
    case RP_PQW_STRING: return "string";
    case RP_PQW_INT32: return "int32";
    case RP_PQW_INT64: return "int64";
    case RP_PQW_DOUBLE: return "double";
    case RP_PQW_TIMESTAMP: return "timestamp";
    }
    return "unknown kind";
}

static void free_meta(rp__pqw *w)
{
    for (size_t g = 0; g < w->nrg; g++) {
        for (size_t c = 0; c < w->ncols; c++) {
            free(w->rgs[g].chunks[c].min);
            free(w->rgs[g].chunks[c].max);
        }
        free(w->rgs[g].chunks);
    }
    free(w->rgs);
    w->rgs = NULL;
    w->nrg = 0;
}

static void destroy(rp__pqw *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->ncols; i++) {
        wcol *c = &w->cols[i];
        free(c->name);
        free(c->valid);
        free(c->vals);
        free(c->off);
        free(c->bytes);
    }
    free(w->cols);
    free_meta(w);
    rp__buf_cleanup(&w->chunk);
    rp__buf_cleanup(&w->page);
    rp__buf_cleanup(&w->comp);
    free(w->idx);
    free(w->levels);
    free(w->table);
    free(w->entries);
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp)
        unlink(w->tmp);
    free(w->tmp);
    free(w->path);
    free(w->created_by);
    free(w->name);
    free(w);
}

static int setup(rp__pqw *w, const rp__pqw_column *cols, size_t ncols, const rp__pqw_options *opt,
                 rp_error *err)
{
    rp__pqw_options o = opt ? *opt : (rp__pqw_options){0};
    if (!o.row_group_rows)
        o.row_group_rows = DEFAULT_ROW_GROUP_ROWS;
    if (!o.row_group_bytes)
        o.row_group_bytes = DEFAULT_ROW_GROUP_BYTES;
    if (!o.page_bytes)
        o.page_bytes = DEFAULT_PAGE_BYTES;
    if (!o.dict_max_bytes)
        o.dict_max_bytes = DEFAULT_DICT_MAX_BYTES;
    if (!o.dict_max_values)
        o.dict_max_values = DEFAULT_DICT_MAX_VALUES;
    if (!o.max_buffered_bytes)
        o.max_buffered_bytes = DEFAULT_MAX_BUFFERED;
    if (o.codec != RP_PQW_SNAPPY && o.codec != RP_PQW_ZSTD && o.codec != RP_PQW_GZIP &&
        o.codec != RP_PQW_UNCOMPRESSED)
        return rp_error_set(err, RP_ERR_INVALID, "%s: unknown codec %d", w->name, (int)o.codec);
    if (o.row_group_rows > INT32_MAX)
        return rp_error_set(err, RP_ERR_INVALID, "%s: row groups of %zu rows: at most %d", w->name,
                            o.row_group_rows, INT32_MAX);
    if (o.page_bytes > MAX_PAGE_BYTES)
        return rp_error_set(err, RP_ERR_INVALID, "%s: pages of %zu bytes: at most %zu", w->name, o.page_bytes,
                            MAX_PAGE_BYTES);
    if (o.row_group_bytes > o.max_buffered_bytes)
        return rp_error_set(err, RP_ERR_INVALID,
                            "%s: row groups of %zu bytes do not fit the %zu bytes that may be buffered",
                            w->name, o.row_group_bytes, o.max_buffered_bytes);
    if (o.level < 0 || (o.codec == RP_PQW_GZIP && o.level > 9) || (o.codec == RP_PQW_ZSTD && o.level > 22))
        return rp_error_set(err, RP_ERR_INVALID, "%s: compression level %d (GZIP: 1 to 9, ZSTD: 1 to 22)",
                            w->name, o.level);
    if (o.dict_max_values > UINT32_MAX - 1)
        o.dict_max_values = UINT32_MAX - 1;
    w->created_by = strdup(o.created_by ? o.created_by : "ridepred version " RIDEPRED_VERSION);
    o.created_by = NULL;
    w->opt = o;
    if (ncols == 0)
        return rp_error_set(err, RP_ERR_INVALID, "%s: a Parquet file needs at least one column", w->name);
    w->cols = calloc(ncols, sizeof *w->cols);
    if (!w->cols || !w->created_by)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < ncols; i++) {
        const rp__pqw_column *in = &cols[i];
        wcol *c = &w->cols[i];
        if (!in->name || !*in->name)
            return rp_error_set(err, RP_ERR_INVALID, "%s: column %zu has no name", w->name, i);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cols[j].name, in->name))
                return rp_error_set(err, RP_ERR_INVALID, "%s: two columns named %s", w->name, in->name);
        if ((unsigned)in->kind > RP_PQW_TIMESTAMP)
            return rp_error_set(err, RP_ERR_INVALID, "%s: column %s of unknown kind %d", w->name, in->name,
                                (int)in->kind);
        if ((unsigned)in->dictionary > RP_PQW_DICT_NEVER)
            return rp_error_set(err, RP_ERR_INVALID, "%s: column %s: unknown dictionary setting %d", w->name,
                                in->name, (int)in->dictionary);
        c->unit = in->unit ? in->unit : RP_PQ_MICROS;
        if (in->kind == RP_PQW_TIMESTAMP && c->unit != RP_PQ_MILLIS && c->unit != RP_PQ_MICROS &&
            c->unit != RP_PQ_NANOS)
            return rp_error_set(err, RP_ERR_INVALID, "%s: column %s: unknown time unit %d", w->name, in->name,
                                (int)in->unit);
        if (!(c->name = strdup(in->name)))
            return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        w->ncols++;
        c->kind = in->kind;
        c->optional = in->optional;
        c->utc = in->utc_adjusted;
        c->dict = in->dictionary;
        switch (in->kind) {
        case RP_PQW_STRING:
            c->ptype = RP_PQ_BYTE_ARRAY;
            c->width = 0;
            break;
        case RP_PQW_INT32:
            c->ptype = RP_PQ_INT32;
            c->width = 4;
            break;
        case RP_PQW_DOUBLE:
            c->ptype = RP_PQ_DOUBLE;
            c->width = 8;
            break;
        default:
            c->ptype = RP_PQ_INT64;
            c->width = 8;
            break;
        }
    }
    rp__buf_init(&w->chunk, SIZE_MAX / 2);
    rp__buf_init(&w->page, SIZE_MAX / 2);
    rp__buf_init(&w->comp, SIZE_MAX / 2);
    return 0;
}

static rp__pqw *new_writer(const char *name, rp_error *err)
{
    rp__pqw *w = calloc(1, sizeof *w);
    if (!w || !(w->name = strdup(name ? name : "parquet"))) {
        free(w);
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    w->fd = -1;
    return w;
}

int rp__pqw_open_sink(const rp__pqw_sink *sink, const char *name, const rp__pqw_column *cols, size_t ncols,
                      const rp__pqw_options *opt, rp__pqw **out, rp_error *err)
{
    *out = NULL;
    rp__pqw *w = new_writer(name, err);
    if (!w)
        return -1;
    w->sink = *sink;
    if (setup(w, cols, ncols, opt, err) < 0) {
        destroy(w);
        return -1;
    }
    *out = w;
    return 0;
}

int rp__pqw_open_path(const char *path, const rp__pqw_column *cols, size_t ncols, const rp__pqw_options *opt,
                      rp__pqw **out, rp_error *err)
{
    *out = NULL;
    rp__pqw *w = new_writer(path, err);
    if (!w)
        return -1;
    if (setup(w, cols, ncols, opt, err) < 0)
        goto fail;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        rp_error_set(err, RP_ERR_IO, "cannot create %s: it is a directory (give a file name)", path);
        goto fail;
    }
    size_t len = strlen(path);
    w->path = strdup(path);
    w->tmp = malloc(len + 32);
    if (!w->path || !w->tmp) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    /* A name of our own rather than mkstemp's, so that the file gets the
     * usual 0666 & ~umask and not 0600. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t seed = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 20 ^ (uint64_t)getpid() << 40;
    for (int attempt = 0; attempt < 100; attempt++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        snprintf(w->tmp, len + 32, "%s.tmp-%06llx", path, (unsigned long long)(seed >> 40));
        w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
        if (w->fd >= 0 || errno != EEXIST)
            break;
    }
    if (w->fd < 0) {
        rp_error_set(err, RP_ERR_IO, "cannot create %s: %s (a temporary file beside it could not be made)",
                     path, strerror(errno));
        free(w->tmp);
        w->tmp = NULL;
        goto fail;
    }
    w->sink = (rp__pqw_sink){.write = fd_write, .ctx = w};
    *out = w;
    return 0;
fail:
    destroy(w);
    return -1;
}

int rp__pqw_codec_parse(const char *name, rp__pqw_codec *codec, rp_error *err)
{
    static const struct {
        const char *name;
        rp__pqw_codec codec;
    } names[] = {{"snappy", RP_PQW_SNAPPY},
                 {"zstd", RP_PQW_ZSTD},
                 {"gzip", RP_PQW_GZIP},
                 {"none", RP_PQW_UNCOMPRESSED},
                 {"uncompressed", RP_PQW_UNCOMPRESSED}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (name && !strcasecmp(name, names[i].name)) {
            *codec = names[i].codec;
            return 0;
        }
    return rp_error_set(err, RP_ERR_INVALID, "unknown compression '%s': snappy, zstd, gzip or none",
                        name ? name : "");
}

/* ---- putting values --------------------------------------------------------------- */

static size_t live(const wcol *c)
{
    return c->n - c->start;
}

static size_t col_bytes(const wcol *c, size_t from, size_t to)
{
    if (from == to)
        return 0;
    if (c->width)
        return (to - from) * c->width;
    return (size_t)(c->off[to] - c->off[from]) + 4 * (to - from);
}

static size_t buffered_bytes(const rp__pqw *w)
{
    size_t sum = 0;
    for (size_t i = 0; i < w->ncols; i++)
        sum += col_bytes(&w->cols[i], w->cols[i].start, w->cols[i].n) + live(&w->cols[i]);
    return sum;
}

/* Drops the rows before start. */
static void compact(wcol *c)
{
    if (c->start == 0)
        return;
    size_t keep = live(c);
    if (c->valid && keep)
        memmove(c->valid, c->valid + c->start, keep);
    if (c->width) {
        if (keep)
            memmove(c->vals, c->vals + c->start * c->width, keep * c->width);
    } else {
        uint64_t base = c->off[c->start];
        if (c->off[c->n] > base)
            memmove(c->bytes, c->bytes + base, (size_t)(c->off[c->n] - base));
        for (size_t i = 0; i <= keep; i++)
            c->off[i] = c->off[c->start + i] - base;
    }
    c->n = keep;
    c->start = 0;
}

static int reserve_rows(rp__pqw *w, wcol *c, size_t more, rp_error *err)
{
    compact(c);
    if (c->cap && more <= c->cap - c->n)
        return 0;
    size_t cap = c->cap ? c->cap : 1024;
    while (cap - c->n < more) {
        if (cap > SIZE_MAX / 32)
            return fail(w, err, RP_ERR_NOMEM, "column %s: too many rows", c->name);
        cap *= 2;
    }
    if (c->optional) {
        uint8_t *v = realloc(c->valid, cap);
        if (!v)
            goto nomem;
        c->valid = v;
    }
    if (c->width) {
        uint8_t *v = realloc(c->vals, cap * c->width);
        if (!v)
            goto nomem;
        c->vals = v;
    } else {
        uint64_t *o = realloc(c->off, (cap + 1) * sizeof *o);
        if (!o)
            goto nomem;
        if (!c->off)
            o[0] = 0;
        c->off = o;
        if (!c->bytes) { /* never NULL once rows are put: value_at adds offsets to it */
            if (!(c->bytes = malloc(4096)))
                goto nomem;
            c->bytes_cap = 4096;
        }
    }
    c->cap = cap;
    return 0;
nomem:
    return fail(w, err, RP_ERR_NOMEM, "column %s: out of memory for %zu rows", c->name, cap);
}

static int reserve_bytes(rp__pqw *w, wcol *c, size_t more, rp_error *err)
{
    size_t used = (size_t)c->off[c->n];
    if (more <= c->bytes_cap - used)
        return 0;
    size_t cap = c->bytes_cap ? c->bytes_cap : 4096;
    while (cap - used < more) {
        if (cap > SIZE_MAX / 4)
            return fail(w, err, RP_ERR_NOMEM, "column %s: too many bytes", c->name);
        cap *= 2;
    }
    uint8_t *b = realloc(c->bytes, cap);
    if (!b)
        return fail(w, err, RP_ERR_NOMEM, "column %s: out of memory for %zu bytes", c->name, cap);
    c->bytes = b;
    c->bytes_cap = cap;
    return 0;
}

static int flush(rp__pqw *w, bool final, rp_error *err);

/* Checks a put of n values to column col of a kind in `kinds` (a bit
 * mask) and makes room for them. */
static int begin_put(rp__pqw *w, size_t col, unsigned kinds, const uint8_t *valid, size_t n, wcol **out,
                     rp_error *err)
{
    if (w->failed)
        return failed(w, err);
    if (col >= w->ncols)
        return fail(w, err, RP_ERR_INVALID, "no column %zu (%zu columns)", col, w->ncols);
    wcol *c = &w->cols[col];
    if (!(kinds & (1u << c->kind)))
        return fail(w, err, RP_ERR_INVALID, "column %s holds %ss: values of another kind given", c->name,
                    kind_name(c->kind));
    if (valid && !c->optional)
        for (size_t i = 0; i < n; i++)
            if (!valid[i])
                return fail(w, err, RP_ERR_INVALID, "column %s is required: its row %llu is null", c->name,
                            (unsigned long long)(w->rows_written + (int64_t)live(c) + (int64_t)i));
    if (reserve_rows(w, c, n, err) < 0)
        return -1;
    if (c->optional) {
        if (valid)
            for (size_t i = 0; i < n; i++)
                c->valid[c->n + i] = valid[i] != 0;
        else
            memset(c->valid + c->n, 1, n);
    }
    *out = c;
    return 0;
}

static int end_put(rp__pqw *w, rp_error *err)
{
    if (flush(w, false, err) < 0)
        return -1;
    size_t b = buffered_bytes(w);
    if (b > w->opt.max_buffered_bytes)
        return fail(
            w, err, RP_ERR_LIMIT,
            "%zu bytes of values waiting, over the limit of %zu: put the rows of every column in turn", b,
            w->opt.max_buffered_bytes);
    return 0;
}

static int put_fixed(rp__pqw *w, size_t col, unsigned kinds, const void *v, const uint8_t *valid, size_t n,
                     rp_error *err)
{
    wcol *c;
    if (begin_put(w, col, kinds, valid, n, &c, err) < 0)
        return -1;
    if (n)
        memcpy(c->vals + c->n * c->width, v, n * c->width);
    if (valid) /* a null's slot holds 0, whatever was given */
        for (size_t i = 0; i < n; i++)
            if (!valid[i])
                memset(c->vals + (c->n + i) * c->width, 0, c->width);
    c->n += n;
    return end_put(w, err);
}

int rp__pqw_put_i32(rp__pqw *w, size_t col, const int32_t *v, const uint8_t *valid, size_t n, rp_error *err)
{
    return put_fixed(w, col, 1u << RP_PQW_INT32, v, valid, n, err);
}

int rp__pqw_put_i64(rp__pqw *w, size_t col, const int64_t *v, const uint8_t *valid, size_t n, rp_error *err)
{
    return put_fixed(w, col, 1u << RP_PQW_INT64 | 1u << RP_PQW_TIMESTAMP, v, valid, n, err);
}

int rp__pqw_put_double(rp__pqw *w, size_t col, const double *v, const uint8_t *valid, size_t n, rp_error *err)
{
    return put_fixed(w, col, 1u << RP_PQW_DOUBLE, v, valid, n, err);
}

int rp__pqw_put_bytes(rp__pqw *w, size_t col, const uint8_t *data, const uint64_t *off, const uint8_t *valid,
                      size_t n, rp_error *err)
{
    if (!w->failed && n && off)
        for (size_t i = 0; i < n; i++)
            if (off[i + 1] < off[i] || off[i + 1] - off[i] > UINT32_MAX)
                return fail(w, err, RP_ERR_INVALID, "string %zu of the batch: offsets %llu then %llu", i,
                            (unsigned long long)off[i], (unsigned long long)off[i + 1]);
    wcol *c;
    if (begin_put(w, col, 1u << RP_PQW_STRING, valid, n, &c, err) < 0)
        return -1;
    size_t total = n ? (size_t)(off[n] - off[0]) : 0;
    if (reserve_bytes(w, c, total, err) < 0)
        return -1;
    uint64_t at = c->off[c->n];
    for (size_t i = 0; i < n; i++) {
        if (!valid || valid[i]) {
            size_t len = (size_t)(off[i + 1] - off[i]);
            if (len)
                memcpy(c->bytes + at, data + off[i], len);
            at += len;
        }
        c->off[c->n + i + 1] = at;
    }
    c->n += n;
    return end_put(w, err);
}

int rp__pqw_put_cstr(rp__pqw *w, size_t col, const char *const *s, size_t n, rp_error *err)
{
    if (w->failed)
        return failed(w, err);
    if (col < w->ncols && w->cols[col].kind == RP_PQW_STRING && !w->cols[col].optional)
        for (size_t i = 0; i < n; i++)
            if (!s[i])
                return fail(
                    w, err, RP_ERR_INVALID, "column %s is required: its row %llu is null", w->cols[col].name,
                    (unsigned long long)(w->rows_written + (int64_t)live(&w->cols[col]) + (int64_t)i));
    wcol *c;
    if (begin_put(w, col, 1u << RP_PQW_STRING, NULL, n, &c, err) < 0)
        return -1;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += s[i] ? strlen(s[i]) : 0;
    if (reserve_bytes(w, c, total, err) < 0)
        return -1;
    uint64_t at = c->off[c->n];
    for (size_t i = 0; i < n; i++) {
        if (c->optional)
            c->valid[c->n + i] = s[i] != NULL;
        if (s[i]) {
            size_t len = strlen(s[i]);
            memcpy(c->bytes + at, s[i], len);
            at += len;
        }
        c->off[c->n + i + 1] = at;
    }
    c->n += n;
    return end_put(w, err);
}

int64_t rp__pqw_rows(const rp__pqw *w)
{
    size_t n = SIZE_MAX;
    for (size_t i = 0; i < w->ncols; i++)
        if (live(&w->cols[i]) < n)
            n = live(&w->cols[i]);
    return w->rows_written + (int64_t)(w->ncols ? n : 0);
}

/* ---- writing a column chunk -------------------------------------------------------- */

static const uint8_t *value_at(const wcol *c, size_t row, size_t *len)
{
    if (c->width) {
        *len = c->width;
        return c->vals + row * c->width;
    }
    *len = (size_t)(c->off[row + 1] - c->off[row]);
    return c->bytes + c->off[row];
}

static bool present(const wcol *c, size_t row)
{
    return !c->optional || c->valid[row];
}

/* Statistics of rows [from, to). */
static int chunk_stats(rp__pqw *w, const wcol *c, size_t from, size_t to, chunk_meta *m, rp_error *err)
{
    const uint8_t *mn = NULL, *mx = NULL;
    size_t mn_len = 0, mx_len = 0;
    int64_t nulls = 0;
    if (c->kind == RP_PQW_STRING) {
        for (size_t r = from; r < to; r++) {
            if (!present(c, r)) {
                nulls++;
                continue;
            }
            size_t len;
            const uint8_t *v = value_at(c, r, &len);
            if (!mn) {
                mn = mx = v;
                mn_len = mx_len = len;
                continue;
            }
            int k = memcmp(v, mn, len < mn_len ? len : mn_len);
            if (k < 0 || (k == 0 && len < mn_len)) {
                mn = v;
                mn_len = len;
            }
            k = memcmp(v, mx, len < mx_len ? len : mx_len);
            if (k > 0 || (k == 0 && len > mx_len)) {
                mx = v;
                mx_len = len;
            }
        }
        if (mn_len > MAX_STAT_BYTES || mx_len > MAX_STAT_BYTES)
            mn = mx = NULL;
    } else if (c->kind == RP_PQW_DOUBLE) {
        double lo = 0, hi = 0;
        bool any = false;
        for (size_t r = from; r < to; r++) {
            if (!present(c, r)) {
                nulls++;
                continue;
            }
            double d;
            memcpy(&d, c->vals + r * 8, 8);
            if (isnan(d))
                continue;
            if (!any) {
                lo = hi = d;
                any = true;
            } else {
                lo = d < lo ? d : lo;
                hi = d > hi ? d : hi;
            }
        }
        if (any) {
            /* The format: a zero minimum is written -0.0, a zero maximum +0.0. */
            if (lo == 0)
                lo = -0.0;
            if (hi == 0)
                hi = 0.0;
            m->min = malloc(8);
            m->max = malloc(8);
            if (!m->min || !m->max)
                return fail(w, err, RP_ERR_NOMEM, "out of memory");
            memcpy(m->min, &lo, 8);
            memcpy(m->max, &hi, 8);
            m->min_len = m->max_len = 8;
            m->has_minmax = true;
        }
        m->null_count = nulls;
        return 0;
    } else {
        int64_t lo = 0, hi = 0;
        bool any = false;
        for (size_t r = from; r < to; r++) {
            if (!present(c, r)) {
                nulls++;
                continue;
            }
            int64_t x;
            if (c->width == 4) {
                int32_t y;
                memcpy(&y, c->vals + r * 4, 4);
                x = y;
            } else {
                memcpy(&x, c->vals + r * 8, 8);
            }
            if (!any) {
                lo = hi = x;
                any = true;
            } else {
                lo = x < lo ? x : lo;
                hi = x > hi ? x : hi;
            }
        }
        if (any) {
            m->min = malloc(8);
            m->max = malloc(8);
            if (!m->min || !m->max)
                return fail(w, err, RP_ERR_NOMEM, "out of memory");
            if (c->width == 4) {
                int32_t a = (int32_t)lo, b = (int32_t)hi;
                memcpy(m->min, &a, 4);
                memcpy(m->max, &b, 4);
            } else {
                memcpy(m->min, &lo, 8);
                memcpy(m->max, &hi, 8);
            }
            m->min_len = m->max_len = c->width;
            m->has_minmax = true;
        }
        m->null_count = nulls;
        return 0;
    }
    m->null_count = nulls;
    if (mn) {
        m->min = malloc(mn_len ? mn_len : 1);
        m->max = malloc(mx_len ? mx_len : 1);
        if (!m->min || !m->max)
            return fail(w, err, RP_ERR_NOMEM, "out of memory");
        if (mn_len)
            memcpy(m->min, mn, mn_len);
        if (mx_len)
            memcpy(m->max, mx, mx_len);
        m->min_len = mn_len;
        m->max_len = mx_len;
        m->has_minmax = true;
    }
    return 0;
}

static int grow_u32(rp__pqw *w, uint32_t **a, size_t *cap, size_t n, rp_error *err)
{
    if (n <= *cap)
        return 0;
    uint32_t *p = realloc(*a, n * sizeof *p);
    if (!p)
        return fail(w, err, RP_ERR_NOMEM, "out of memory for %zu values", n);
    *a = p;
    *cap = n;
    return 0;
}

/* Builds the dictionary of the present values of rows [from, to) into
 * w->entries (buffer rows of the distinct values, in first-seen order) and
 * w->idx (one index per present value).  Returns 1 when built, 0 when it
 * passed the limits (limited), -1 on failure. */
static int build_dict(rp__pqw *w, const wcol *c, size_t from, size_t to, bool limited, size_t *n_entries,
                      size_t *dict_bytes, rp_error *err)
{
    size_t rows = to - from;
    if (grow_u32(w, &w->idx, &w->idx_cap, rows ? rows : 1, err) < 0)
        return -1;
    size_t want = 1024;
    size_t bound = limited && w->opt.dict_max_values < rows ? w->opt.dict_max_values : rows;
    while (want < 2 * bound && want < ((size_t)1 << 40))
        want *= 2;
    if (want > w->table_cap) {
        free(w->table);
        w->table = malloc(want * sizeof *w->table);
        w->table_cap = w->table ? want : 0;
        if (!w->table)
            return fail(w, err, RP_ERR_NOMEM, "out of memory for a dictionary");
    }
    size_t tcap = want;
    memset(w->table, 0, tcap * sizeof *w->table);
    size_t ne = 0, bytes = 0, k = 0;
    for (size_t r = from; r < to; r++) {
        if (!present(c, r))
            continue;
        size_t len;
        const uint8_t *v = value_at(c, r, &len);
        size_t h = (size_t)XXH3_64bits(v, len) & (tcap - 1);
        uint32_t e;
        for (;;) {
            e = w->table[h];
            if (!e)
                break;
            size_t elen;
            const uint8_t *ev = value_at(c, w->entries[e - 1], &elen);
            if (elen == len && !memcmp(ev, v, len))
                break;
            h = (h + 1) & (tcap - 1);
        }
        if (!e) {
            if (limited && (ne + 1 > w->opt.dict_max_values || bytes + len + 4 > w->opt.dict_max_bytes))
                return 0;
            if (ne == w->entries_cap) {
                size_t nc = w->entries_cap ? w->entries_cap * 2 : 1024;
                size_t *p = realloc(w->entries, nc * sizeof *p);
                if (!p)
                    return fail(w, err, RP_ERR_NOMEM, "out of memory for a dictionary");
                w->entries = p;
                w->entries_cap = nc;
            }
            w->entries[ne++] = r;
            e = (uint32_t)ne;
            w->table[h] = e;
            bytes += c->width ? c->width : len + 4;
        }
        w->idx[k++] = e - 1;
    }
    *n_entries = ne;
    *dict_bytes = bytes;
    return 1;
}

static int bit_width_of(size_t n_entries)
{
    int bw = 1;
    while (bw < 32 && ((size_t)1 << bw) < n_entries)
        bw++;
    return bw;
}

/* Compresses w->page into w->comp (or takes it as it is) and appends the
 * page header and the body to w->chunk.  Sizes are added to m. */
static int emit_page(rp__pqw *w, const wcol *c, int type, int32_t num_values, int encoding, chunk_meta *m,
                     rp_error *err)
{
    const rp__buf *body = &w->page;
    if (w->page.len > MAX_PAGE_BYTES)
        return fail(w, err, RP_ERR_LIMIT, "column %s: a page of %zu bytes (at most %zu: a string that long?)",
                    c->name, w->page.len, MAX_PAGE_BYTES);
    rp_error e;
    int rc = 0;
    rp__buf_reset(&w->comp);
    switch (w->opt.codec) {
    case RP_PQW_SNAPPY:
        rc = rp__codec_snappy_compress((const uint8_t *)w->page.data, w->page.len, &w->comp, &e);
        break;
    case RP_PQW_ZSTD:
        rc = rp__codec_zstd_compress((const uint8_t *)w->page.data, w->page.len, w->opt.level, &w->comp, &e);
        break;
    case RP_PQW_GZIP:
        rc = rp__codec_gzip_compress((const uint8_t *)w->page.data, w->page.len, w->opt.level, &w->comp, &e);
        break;
    case RP_PQW_UNCOMPRESSED: break;
    }
    if (rc < 0)
        return fail(w, err, e.code, "column %s: %s", c->name, e.msg);
    if (w->opt.codec != RP_PQW_UNCOMPRESSED)
        body = &w->comp;
    if (body->len > INT32_MAX)
        return fail(w, err, RP_ERR_LIMIT, "column %s: a compressed page of %zu bytes", c->name, body->len);
    size_t before = w->chunk.len;
    rp__thrift_w t;
    rp__thrift_w_init(&t, &w->chunk);
    rp__thrift_w_struct_begin(&t);
    rp__thrift_w_field_i32(&t, 1, type);
    rp__thrift_w_field_i32(&t, 2, (int32_t)w->page.len);
    rp__thrift_w_field_i32(&t, 3, (int32_t)body->len);
    if (type == PAGE_DATA) {
        rp__thrift_w_field(&t, 5, RP_THRIFT_STRUCT);
        rp__thrift_w_struct_begin(&t);
        rp__thrift_w_field_i32(&t, 1, num_values);
        rp__thrift_w_field_i32(&t, 2, encoding);
        rp__thrift_w_field_i32(&t, 3, ENC_RLE);
        rp__thrift_w_field_i32(&t, 4, ENC_RLE);
        rp__thrift_w_struct_end(&t);
    } else {
        rp__thrift_w_field(&t, 7, RP_THRIFT_STRUCT);
        rp__thrift_w_struct_begin(&t);
        rp__thrift_w_field_i32(&t, 1, num_values);
        rp__thrift_w_field_i32(&t, 2, encoding);
        rp__thrift_w_struct_end(&t);
    }
    rp__thrift_w_struct_end(&t);
    if (rp__thrift_w_done(&t, "page header", &e) < 0)
        return fail(w, err, e.code, "column %s: %s", c->name, e.msg);
    size_t hlen = w->chunk.len - before;
    if (rp__buf_append(&w->chunk, body->data, body->len) < 0)
        return fail(w, err, RP_ERR_NOMEM, "column %s: out of memory for a page of %zu bytes", c->name,
                    body->len);
    m->total_uncompressed += (int64_t)(hlen + w->page.len);
    m->total_compressed += (int64_t)(hlen + body->len);
    return 0;
}

/* Rows of the page starting at row a (at most to): about page_bytes of values. */
static size_t page_end(const rp__pqw *w, const wcol *c, size_t a, size_t to)
{
    if (c->width) {
        size_t per = w->opt.page_bytes / c->width;
        per = per ? per : 1;
        return to - a < per ? to : a + per;
    }
    size_t b = a, bytes = 0;
    while (b < to && (b == a || bytes < w->opt.page_bytes)) {
        bytes += 4 + (size_t)(c->off[b + 1] - c->off[b]);
        b++;
    }
    return b;
}

static int write_chunk(rp__pqw *w, wcol *c, size_t from, size_t to, chunk_meta *m, rp_error *err)
{
    memset(m, 0, sizeof *m);
    m->dict_page_offset = -1;
    m->num_values = (int64_t)(to - from);
    if (chunk_stats(w, c, from, to, m, err) < 0)
        return -1;
    size_t npresent = (to - from) - (size_t)m->null_count;
    size_t n_entries = 0, dict_bytes = 0;
    bool dict = false;
    if (npresent > 0 && c->dict != RP_PQW_DICT_NEVER) {
        int r = build_dict(w, c, from, to, c->dict == RP_PQW_DICT_AUTO, &n_entries, &dict_bytes, err);
        if (r < 0)
            return -1;
        if (r > 0 && c->dict == RP_PQW_DICT_AUTO) {
            size_t plain = col_bytes(c, from, to) - (size_t)m->null_count * (c->width ? c->width : 4);
            size_t idx = (npresent * (size_t)bit_width_of(n_entries) + 7) / 8 + npresent / 64 + 8;
            dict = dict_bytes + idx < plain;
        } else {
            dict = r > 0;
        }
    }
    rp__buf_reset(&w->chunk);
    if (dict) {
        rp__buf_reset(&w->page);
        for (size_t i = 0; i < n_entries; i++) {
            size_t len;
            const uint8_t *v = value_at(c, w->entries[i], &len);
            if (!c->width) {
                uint32_t l = (uint32_t)len;
                rp__buf_append(&w->page, &l, 4);
            }
            rp__buf_append(&w->page, v, len);
        }
        if (w->page.failed)
            return fail(w, err, RP_ERR_NOMEM, "column %s: out of memory for a dictionary", c->name);
        if (n_entries > INT32_MAX)
            return fail(w, err, RP_ERR_LIMIT, "column %s: a dictionary of %zu values", c->name, n_entries);
        if (emit_page(w, c, PAGE_DICTIONARY, (int32_t)n_entries, ENC_PLAIN, m, err) < 0)
            return -1;
    }
    size_t data_start = w->chunk.len;
    int bw = dict ? bit_width_of(n_entries) : 0;
    size_t k = 0; /* present values so far (index into w->idx) */
    for (size_t a = from; a < to;) {
        size_t b = page_end(w, c, a, to);
        rp__buf_reset(&w->page);
        size_t page_present = b - a;
        if (c->optional) {
            if (grow_u32(w, &w->levels, &w->levels_cap, b - a, err) < 0)
                return -1;
            page_present = 0;
            for (size_t r = a; r < b; r++)
                page_present += w->levels[r - a] = c->valid[r];
            uint32_t zero = 0;
            rp__buf_append(&w->page, &zero, 4);
            size_t at = w->page.len;
            rp__pq_rle_encode(w->levels, b - a, 1, &w->page);
            if (!w->page.failed) {
                uint32_t len = (uint32_t)(w->page.len - at);
                memcpy(w->page.data + at - 4, &len, 4);
            }
        }
        if (dict) {
            uint8_t bwb = (uint8_t)bw;
            rp__buf_append(&w->page, &bwb, 1);
            rp__pq_rle_encode(w->idx + k, page_present, bw, &w->page);
        } else if (c->width && !c->optional) {
            rp__buf_append(&w->page, c->vals + a * c->width, (b - a) * c->width);
        } else {
            for (size_t r = a; r < b; r++) {
                if (!present(c, r))
                    continue;
                size_t len;
                const uint8_t *v = value_at(c, r, &len);
                if (!c->width) {
                    uint32_t l = (uint32_t)len;
                    rp__buf_append(&w->page, &l, 4);
                }
                rp__buf_append(&w->page, v, len);
            }
        }
        k += page_present;
        if (w->page.failed)
            return fail(w, err, RP_ERR_NOMEM, "column %s: out of memory for a page", c->name);
        if (emit_page(w, c, PAGE_DATA, (int32_t)(b - a), dict ? ENC_RLE_DICTIONARY : ENC_PLAIN, m, err) < 0)
            return -1;
        a = b;
    }
    /* Offsets: the chunk lands at the current position ("PAR1" first). */
    int64_t base = w->started ? (int64_t)w->pos : (int64_t)sizeof MAGIC;
    m->file_offset = base;
    m->dict_page_offset = dict ? base : -1;
    m->data_page_offset = base + (int64_t)data_start;
    return out_write(w, w->chunk.data, w->chunk.len, err);
}

/* Writes rows [start, start + k) of every column as a row group. */
static int write_row_group(rp__pqw *w, size_t k, rp_error *err)
{
    if (w->nrg == w->rg_cap) {
        size_t nc = w->rg_cap ? w->rg_cap * 2 : 8;
        rg_meta *p = realloc(w->rgs, nc * sizeof *p);
        if (!p)
            return fail(w, err, RP_ERR_NOMEM, "out of memory");
        w->rgs = p;
        w->rg_cap = nc;
    }
    rg_meta *g = &w->rgs[w->nrg];
    memset(g, 0, sizeof *g);
    g->chunks = calloc(w->ncols, sizeof *g->chunks);
    if (!g->chunks)
        return fail(w, err, RP_ERR_NOMEM, "out of memory");
    w->nrg++;
    g->num_rows = (int64_t)k;
    for (size_t i = 0; i < w->ncols; i++) {
        wcol *c = &w->cols[i];
        if (write_chunk(w, c, c->start, c->start + k, &g->chunks[i], err) < 0)
            return -1;
        if (i == 0)
            g->file_offset = g->chunks[0].file_offset;
        g->total_byte_size += g->chunks[i].total_uncompressed;
        g->total_compressed += g->chunks[i].total_compressed;
        c->start += k;
    }
    w->rows_written += (int64_t)k;
    return 0;
}

/* The rows of the next row group among the n that every column has: at
 * most row_group_rows, and as many as keep the values (PLAIN size) within
 * row_group_bytes (at least one). */
static size_t group_rows(const rp__pqw *w, size_t n)
{
    size_t hi = n < w->opt.row_group_rows ? n : w->opt.row_group_rows;
    size_t lo = 1;
    /* the largest k in [1, hi] with bytes(k) <= row_group_bytes (monotonic) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2, bytes = 0;
        for (size_t i = 0; i < w->ncols; i++)
            bytes += col_bytes(&w->cols[i], w->cols[i].start, w->cols[i].start + mid);
        if (bytes <= w->opt.row_group_bytes)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static int flush(rp__pqw *w, bool final, rp_error *err)
{
    for (;;) {
        size_t n = SIZE_MAX;
        for (size_t i = 0; i < w->ncols; i++)
            if (live(&w->cols[i]) < n)
                n = live(&w->cols[i]);
        if (n == 0)
            break;
        size_t k = group_rows(w, n);
        if (k == n && !final && n < w->opt.row_group_rows) {
            /* a full row group only when the next row would not fit */
            size_t bytes = 0;
            for (size_t i = 0; i < w->ncols; i++)
                bytes += col_bytes(&w->cols[i], w->cols[i].start, w->cols[i].n);
            if (bytes < w->opt.row_group_bytes)
                break;
        }
        if (write_row_group(w, k, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- the footer -------------------------------------------------------------------- */

static void footer(rp__pqw *w, rp__thrift_w *t)
{
    rp__thrift_w_struct_begin(t);
    rp__thrift_w_field_i32(t, 1, 1); /* version */
    rp__thrift_w_field(t, 2, RP_THRIFT_LIST);
    rp__thrift_w_list_begin(t, RP_THRIFT_STRUCT, (uint32_t)(w->ncols + 1));
    rp__thrift_w_struct_begin(t); /* the root */
    rp__thrift_w_field_binary(t, 4, "schema", 6);
    rp__thrift_w_field_i32(t, 5, (int32_t)w->ncols);
    rp__thrift_w_struct_end(t);
    for (size_t i = 0; i < w->ncols; i++) {
        const wcol *c = &w->cols[i];
        rp__thrift_w_struct_begin(t);
        rp__thrift_w_field_i32(t, 1, c->ptype);
        rp__thrift_w_field_i32(t, 3, c->optional ? 1 : 0);
        rp__thrift_w_field_binary(t, 4, c->name, strlen(c->name));
        if (c->kind == RP_PQW_STRING)
            rp__thrift_w_field_i32(t, 6, CONVERTED_UTF8);
        else if (c->kind == RP_PQW_TIMESTAMP && c->unit != RP_PQ_NANOS)
            /* as pyarrow and LogicalTypes.md do, also for local (not UTC-adjusted) times */
            rp__thrift_w_field_i32(
                t, 6, c->unit == RP_PQ_MILLIS ? CONVERTED_TIMESTAMP_MILLIS : CONVERTED_TIMESTAMP_MICROS);
        if (c->kind == RP_PQW_STRING || c->kind == RP_PQW_TIMESTAMP) {
            rp__thrift_w_field(t, 10, RP_THRIFT_STRUCT); /* LogicalType */
            rp__thrift_w_struct_begin(t);
            if (c->kind == RP_PQW_STRING) {
                rp__thrift_w_field(t, 1, RP_THRIFT_STRUCT); /* STRING: StringType {} */
                rp__thrift_w_struct_begin(t);
                rp__thrift_w_struct_end(t);
            } else {
                rp__thrift_w_field(t, 8, RP_THRIFT_STRUCT); /* TIMESTAMP */
                rp__thrift_w_struct_begin(t);
                rp__thrift_w_field_bool(t, 1, c->utc);
                rp__thrift_w_field(t, 2, RP_THRIFT_STRUCT); /* TimeUnit */
                rp__thrift_w_struct_begin(t);
                rp__thrift_w_field(t, (int16_t)c->unit, RP_THRIFT_STRUCT); /* MILLIS 1, MICROS 2, NANOS 3 */
                rp__thrift_w_struct_begin(t);
                rp__thrift_w_struct_end(t);
                rp__thrift_w_struct_end(t);
                rp__thrift_w_struct_end(t);
            }
            rp__thrift_w_struct_end(t);
        }
        rp__thrift_w_struct_end(t);
    }
    rp__thrift_w_field_i64(t, 3, w->rows_written);
    rp__thrift_w_field(t, 4, RP_THRIFT_LIST);
    rp__thrift_w_list_begin(t, RP_THRIFT_STRUCT, (uint32_t)w->nrg);
    for (size_t g = 0; g < w->nrg; g++) {
        const rg_meta *rg = &w->rgs[g];
        rp__thrift_w_struct_begin(t);
        rp__thrift_w_field(t, 1, RP_THRIFT_LIST);
        rp__thrift_w_list_begin(t, RP_THRIFT_STRUCT, (uint32_t)w->ncols);
        for (size_t i = 0; i < w->ncols; i++) {
            const wcol *c = &w->cols[i];
            const chunk_meta *m = &rg->chunks[i];
            bool dict = m->dict_page_offset >= 0;
            rp__thrift_w_struct_begin(t); /* ColumnChunk */
            rp__thrift_w_field_i64(t, 2, m->file_offset);
            rp__thrift_w_field(t, 3, RP_THRIFT_STRUCT); /* ColumnMetaData */
            rp__thrift_w_struct_begin(t);
            rp__thrift_w_field_i32(t, 1, c->ptype);
            rp__thrift_w_field(t, 2, RP_THRIFT_LIST);
            rp__thrift_w_list_begin(t, RP_THRIFT_I32, dict ? 3 : 2);
            rp__thrift_w_int(t, ENC_PLAIN);
            rp__thrift_w_int(t, ENC_RLE);
            if (dict)
                rp__thrift_w_int(t, ENC_RLE_DICTIONARY);
            rp__thrift_w_field(t, 3, RP_THRIFT_LIST);
            rp__thrift_w_list_begin(t, RP_THRIFT_BINARY, 1);
            rp__thrift_w_binary(t, c->name, strlen(c->name));
            static const int codecs[] = {
                [RP_PQW_SNAPPY] = 1, [RP_PQW_ZSTD] = 6, [RP_PQW_GZIP] = 2, [RP_PQW_UNCOMPRESSED] = 0};
            rp__thrift_w_field_i32(t, 4, codecs[w->opt.codec]);
            rp__thrift_w_field_i64(t, 5, m->num_values);
            rp__thrift_w_field_i64(t, 6, m->total_uncompressed);
            rp__thrift_w_field_i64(t, 7, m->total_compressed);
            rp__thrift_w_field_i64(t, 9, m->data_page_offset);
            if (dict)
                rp__thrift_w_field_i64(t, 11, m->dict_page_offset);
            rp__thrift_w_field(t, 12, RP_THRIFT_STRUCT); /* Statistics */
            rp__thrift_w_struct_begin(t);
            rp__thrift_w_field_i64(t, 3, m->null_count);
            if (m->has_minmax) {
                rp__thrift_w_field_binary(t, 5, m->max, m->max_len);
                rp__thrift_w_field_binary(t, 6, m->min, m->min_len);
            }
            rp__thrift_w_struct_end(t);
            rp__thrift_w_struct_end(t); /* ColumnMetaData */
            rp__thrift_w_struct_end(t); /* ColumnChunk */
        }
        rp__thrift_w_field_i64(t, 2, rg->total_byte_size);
        rp__thrift_w_field_i64(t, 3, rg->num_rows);
        rp__thrift_w_field_i64(t, 5, rg->file_offset);
        rp__thrift_w_field_i64(t, 6, rg->total_compressed);
        rp__thrift_w_struct_end(t);
    }
    rp__thrift_w_field_binary(t, 6, w->created_by, strlen(w->created_by));
    rp__thrift_w_field(t, 7, RP_THRIFT_LIST); /* column_orders: TypeDefinedOrder for each */
    rp__thrift_w_list_begin(t, RP_THRIFT_STRUCT, (uint32_t)w->ncols);
    for (size_t i = 0; i < w->ncols; i++) {
        rp__thrift_w_struct_begin(t);
        rp__thrift_w_field(t, 1, RP_THRIFT_STRUCT);
        rp__thrift_w_struct_begin(t);
        rp__thrift_w_struct_end(t);
        rp__thrift_w_struct_end(t);
    }
    rp__thrift_w_struct_end(t);
}

static int finish(rp__pqw *w, rp_error *err)
{
    if (w->failed)
        return failed(w, err);
    for (size_t i = 1; i < w->ncols; i++)
        if (live(&w->cols[i]) != live(&w->cols[0]))
            return fail(w, err, RP_ERR_INVALID,
                        "column %s has %zu rows, column %s %zu: every column needs as many", w->cols[0].name,
                        (size_t)w->rows_written + live(&w->cols[0]), w->cols[i].name,
                        (size_t)w->rows_written + live(&w->cols[i]));
    if (flush(w, true, err) < 0)
        return -1;
    rp__buf f;
    rp__buf_init(&f, FOOTER_MAX);
    rp__thrift_w t;
    rp__thrift_w_init(&t, &f);
    footer(w, &t);
    rp_error e;
    if (rp__thrift_w_done(&t, "footer", &e) < 0) {
        rp__buf_cleanup(&f);
        return fail(w, err, e.code, "%s", e.msg);
    }
    uint32_t len = (uint32_t)f.len;
    int rc = out_write(w, f.data, f.len, err);
    rp__buf_cleanup(&f);
    if (rc < 0 || out_write(w, &len, 4, err) < 0 || out_write(w, MAGIC, 4, err) < 0)
        return -1;
    if (!w->tmp)
        return 0;
    if (w->opt.fsync && fsync(w->fd) != 0)
        return fail(w, err, RP_ERR_IO, "cannot sync %s: %s", w->tmp, strerror(errno));
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0)
        return fail(w, err, RP_ERR_IO, "cannot write %s: %s", w->tmp, strerror(errno));
    if (rename(w->tmp, w->path) != 0)
        return fail(w, err, RP_ERR_IO, "cannot rename %s to %s: %s", w->tmp, w->path, strerror(errno));
    free(w->tmp);
    w->tmp = NULL; /* in place: nothing to remove */
    if (w->opt.fsync) {
        char *dir = strdup(w->path);
        if (!dir)
            return fail(w, err, RP_ERR_NOMEM, "out of memory");
        char *slash = strrchr(dir, '/');
        const char *d = slash ? (slash == dir ? "/" : (*slash = '\0', dir)) : ".";
        int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int ok = dfd >= 0 && fsync(dfd) == 0;
        int saved = errno;
        if (dfd >= 0)
            close(dfd);
        if (!ok) {
            fail(w, err, RP_ERR_IO, "cannot sync the directory %s: %s", d, strerror(saved));
            free(dir);
            return -1;
        }
        free(dir);
    }
    return 0;
}

int rp__pqw_close(rp__pqw *w, rp_error *err)
{
    int rc = finish(w, err);
    destroy(w);
    return rc;
}

void rp__pqw_abort(rp__pqw *w)
{
    destroy(w);
}
