/* See parquet.h.  The format: "PAR1", column chunks (pages, each a Thrift
 * PageHeader followed by its data), the footer (a Thrift FileMetaData), the
 * footer's length (4 bytes little-endian) and "PAR1".  Field ids below are
 * those of parquet.thrift. */
#include "data/parquet.h"

#include "common/file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/codec.h"
#include "data/thrift.h"

#define DEFAULT_MAX_PAGE_BYTES ((size_t)256 << 20)
#define DEFAULT_MAX_BYTES ((size_t)4 << 30)
#define MAX_SCHEMA_DEPTH 64
#define MAX_NAME_BYTES ((size_t)16 << 20)

enum {
    PAGE_DATA = 0,
    PAGE_INDEX = 1,
    PAGE_DICTIONARY = 2,
    PAGE_DATA_V2 = 3
};
enum {
    CODEC_UNCOMPRESSED = 0,
    CODEC_SNAPPY = 1,
    CODEC_GZIP = 2,
    CODEC_ZSTD = 6
};
enum {
    ENC_PLAIN = 0,
    ENC_PLAIN_DICTIONARY = 2,
    ENC_RLE = 3,
    ENC_BIT_PACKED = 4,
    ENC_RLE_DICTIONARY = 8,
};
enum {
    REP_REQUIRED = 0,
    REP_OPTIONAL = 1,
    REP_REPEATED = 2
};

typedef struct chunk {
    bool has_meta;
    bool external; /* file_path set: data in another file */
    bool encrypted;
    int32_t type, codec;
    int64_t num_values;
    int64_t total_compressed_size;
    int64_t data_page_offset;
    int64_t dictionary_page_offset; /* -1: none */
    /* for rp__parquet_chunk_info only */
    int64_t total_uncompressed_size;
    uint32_t encodings;
    bool has_stats, has_null_count;
    int64_t null_count;
    const uint8_t *min, *max; /* min_value, max_value: views into the footer */
    size_t min_len, max_len;
} chunk;

typedef struct row_group {
    int64_t num_rows;
    chunk *chunks; /* one per leaf column */
} row_group;

typedef struct leaf {
    rp__parquet_column pub;
    char *name;
    int max_def, max_rep;
    int repetition;
} leaf;

struct rp__parquet {
    const uint8_t *data;
    size_t len;
    void *map;           /* mmap'd (rp__parquet_open) */
    size_t footer_start; /* pages lie in [4, footer_start) */
    char name[256];
    int64_t num_rows;
    leaf *cols;
    size_t ncols;
    row_group *rgs;
    size_t nrg;
    rp__parquet_limits lim;
    const uint8_t *created_by; /* a view into the footer, or NULL */
    size_t created_by_len;
};

const char *rp__parquet_type_name(rp__pq_type t)
{
    static const char *const names[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                        "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown type";
}

const char *rp__parquet_codec_name(int codec)
{
    static const char *const names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                        "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};
    return codec >= 0 && (size_t)codec < sizeof names / sizeof names[0] ? names[codec] : "unknown codec";
}

const char *rp__parquet_encoding_name(int encoding)
{
    static const char *const names[] = {
        "PLAIN",          "GROUP_VAR_INT",       "PLAIN_DICTIONARY",        "RLE",
        "BIT_PACKED",     "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
        "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
    return encoding >= 0 && (size_t)encoding < sizeof names / sizeof names[0] ? names[encoding]
                                                                              : "unknown encoding";
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- RLE / bit-packed hybrid -------------------------------------------- */

int rp__pq_rle_decode(const uint8_t *data, size_t len, int bit_width, uint32_t *out, size_t n, rp_error *err)
{
    if (bit_width < 0 || bit_width > 32)
        return rp_error_set(err, RP_ERR_CORRUPT, "RLE: bit width %d (0 to 32 allowed)", bit_width);
    size_t pos = 0, i = 0;
    size_t vbytes = ((size_t)bit_width + 7) / 8;
    uint32_t mask = bit_width == 32 ? UINT32_MAX : (UINT32_C(1) << bit_width) - 1;
    while (i < n) {
        uint64_t h = 0;
        int shift = 0;
        for (;;) {
            if (pos >= len)
                return rp_error_set(err, RP_ERR_CORRUPT, "RLE: data ends after %zu of %zu values", i, n);
            uint8_t b = data[pos++];
            h |= (uint64_t)(b & 0x7f) << shift;
            if (!(b & 0x80))
                break;
            shift += 7;
            if (shift > 35)
                return rp_error_set(err, RP_ERR_CORRUPT, "RLE: run header longer than 5 bytes");
        }
        if (h & 1) { /* bit-packed: (h >> 1) groups of 8 values */
            uint64_t count = (h >> 1) * 8;
            size_t take = count < n - i ? (size_t)count : n - i;
            size_t need = (take * (size_t)bit_width + 7) / 8;
            size_t avail = len - pos;
            if (need > avail)
                return rp_error_set(err, RP_ERR_CORRUPT, "RLE: bit-packed run past the end of the data");
            const uint8_t *q = data + pos;
            uint64_t acc = 0;
            int nbits = 0;
            for (size_t j = 0; j < take; j++) {
                while (nbits < bit_width) {
                    acc |= (uint64_t)*q++ << nbits;
                    nbits += 8;
                }
                out[i + j] = (uint32_t)acc & mask;
                acc = bit_width == 64 ? 0 : acc >> bit_width;
                nbits -= bit_width;
            }
            i += take;
            /* The last run may be cut short of its padding. */
            uint64_t run_bytes = (h >> 1) * (uint64_t)bit_width;
            pos += run_bytes < avail ? (size_t)run_bytes : avail;
        } else { /* a repeated value */
            uint64_t count = h >> 1;
            if (vbytes > len - pos)
                return rp_error_set(err, RP_ERR_CORRUPT, "RLE: run value past the end of the data");
            uint32_t v = 0;
            for (size_t k = 0; k < vbytes; k++)
                v |= (uint32_t)data[pos + k] << (8 * k);
            pos += vbytes;
            if (v & ~mask)
                return rp_error_set(err, RP_ERR_CORRUPT, "RLE: value %u wider than %d bits", v, bit_width);
            size_t take = count < n - i ? (size_t)count : n - i;
            for (size_t j = 0; j < take; j++)
                out[i + j] = v;
            i += take;
        }
    }
    return 0;
}

/* ---- footer ------------------------------------------------------------------ */

typedef struct schema_el {
    bool has_type;
    int32_t type, type_length, repetition, num_children, converted;
    bool has_converted;
    const uint8_t *name;
    size_t name_len;
    rp__pq_logical logical;
    bool has_logical, nested_logical;
    rp__pq_time_unit unit;
    bool utc;
    int bits;
    bool is_signed;
} schema_el;

static int read_empty_struct_id(rp__thrift *t, int16_t *which)
{
    int16_t id;
    uint8_t ty;
    int r;
    *which = 0;
    if (rp__thrift_struct_begin(t) < 0)
        return -1;
    while ((r = rp__thrift_field(t, &id, &ty)) > 0) {
        if (ty == RP_THRIFT_STRUCT && !*which)
            *which = id;
        if (rp__thrift_skip(t, ty) < 0)
            return -1;
    }
    return r;
}

/* LogicalType: a union; only the members we interpret are read. */
static int read_logical(rp__thrift *t, schema_el *e)
{
    int16_t id, fid;
    uint8_t ty, fty;
    int r;
    if (rp__thrift_struct_begin(t) < 0)
        return -1;
    while ((r = rp__thrift_field(t, &id, &ty)) > 0) {
        if (ty != RP_THRIFT_STRUCT) {
            if (rp__thrift_skip(t, ty) < 0)
                return -1;
            continue;
        }
        e->has_logical = true;
        if (id == 8) { /* TIMESTAMP */
            e->logical = RP_PQ_LOGICAL_TIMESTAMP;
            if (rp__thrift_struct_begin(t) < 0)
                return -1;
            int r2;
            while ((r2 = rp__thrift_field(t, &fid, &fty)) > 0) {
                if (fid == 1 && (fty == RP_THRIFT_TRUE || fty == RP_THRIFT_FALSE)) {
                    rp__thrift_field_bool(t, fty, &e->utc);
                } else if (fid == 2 && fty == RP_THRIFT_STRUCT) {
                    int16_t unit;
                    if (read_empty_struct_id(t, &unit) < 0)
                        return -1;
                    if (unit >= 1 && unit <= 3)
                        e->unit = (rp__pq_time_unit)unit;
                } else if (rp__thrift_skip(t, fty) < 0) {
                    return -1;
                }
            }
            if (r2 < 0)
                return -1;
        } else if (id == 10) { /* INTEGER */
            e->logical = RP_PQ_LOGICAL_INT;
            if (rp__thrift_struct_begin(t) < 0)
                return -1;
            int r2;
            while ((r2 = rp__thrift_field(t, &fid, &fty)) > 0) {
                if (fid == 1) {
                    int32_t bw;
                    if (rp__thrift_i32(t, fty, &bw) < 0)
                        return -1;
                    e->bits = bw;
                } else if (fid == 2 && (fty == RP_THRIFT_TRUE || fty == RP_THRIFT_FALSE)) {
                    rp__thrift_field_bool(t, fty, &e->is_signed);
                } else if (rp__thrift_skip(t, fty) < 0) {
                    return -1;
                }
            }
            if (r2 < 0)
                return -1;
        } else {
            switch (id) {
            case 1:
            case 4:
            case 12: e->logical = RP_PQ_LOGICAL_STRING; break;
            case 5: e->logical = RP_PQ_LOGICAL_DECIMAL; break;
            case 6: e->logical = RP_PQ_LOGICAL_DATE; break;
            case 2:
            case 3:
                e->nested_logical = true;
                e->logical = RP_PQ_LOGICAL_OTHER;
                break;
            default: e->logical = RP_PQ_LOGICAL_OTHER; break;
            }
            if (rp__thrift_skip(t, ty) < 0)
                return -1;
        }
    }
    return r;
}

static void from_converted(schema_el *e)
{
    switch (e->converted) {
    case 0:
    case 4:
    case 19: e->logical = RP_PQ_LOGICAL_STRING; break;
    case 1:
    case 2:
    case 3:
        e->nested_logical = true;
        e->logical = RP_PQ_LOGICAL_OTHER;
        break;
    case 5: e->logical = RP_PQ_LOGICAL_DECIMAL; break;
    case 6: e->logical = RP_PQ_LOGICAL_DATE; break;
    case 9:
    case 10:
        e->logical = RP_PQ_LOGICAL_TIMESTAMP;
        e->unit = e->converted == 9 ? RP_PQ_MILLIS : RP_PQ_MICROS;
        e->utc = true;
        break;
    case 11:
    case 12:
    case 13:
    case 14:
    case 15:
    case 16:
    case 17:
    case 18:
        e->logical = RP_PQ_LOGICAL_INT;
        e->bits = 8 << ((e->converted - 11) % 4);
        e->is_signed = e->converted >= 15;
        break;
    default: e->logical = RP_PQ_LOGICAL_OTHER; break;
    }
}

static int read_schema_el(rp__thrift *t, schema_el *e)
{
    int16_t id;
    uint8_t ty;
    int r;
    memset(e, 0, sizeof *e);
    if (rp__thrift_struct_begin(t) < 0)
        return -1;
    while ((r = rp__thrift_field(t, &id, &ty)) > 0) {
        switch (id) {
        case 1:
            e->has_type = true;
            rp__thrift_i32(t, ty, &e->type);
            break;
        case 2: rp__thrift_i32(t, ty, &e->type_length); break;
        case 3: rp__thrift_i32(t, ty, &e->repetition); break;
        case 4:
            if (ty != RP_THRIFT_BINARY)
                return rp__thrift_fail(t, RP_ERR_CORRUPT, "schema name is not a string");
            rp__thrift_binary(t, &e->name, &e->name_len);
            break;
        case 5: rp__thrift_i32(t, ty, &e->num_children); break;
        case 6:
            e->has_converted = true;
            rp__thrift_i32(t, ty, &e->converted);
            break;
        case 10:
            if (ty != RP_THRIFT_STRUCT)
                return rp__thrift_fail(t, RP_ERR_CORRUPT, "logicalType is not a struct");
            read_logical(t, e);
            break;
        default: rp__thrift_skip(t, ty); break;
        }
        if (t->failed)
            return -1;
    }
    if (r < 0)
        return -1;
    if (!e->has_logical && e->has_converted)
        from_converted(e);
    return 0;
}

/* Statistics: null_count, max_value and min_value (the deprecated min and
 * max, whose order is unclear, are not read). */
static int read_stats(rp__thrift *t, chunk *c)
{
    int16_t id;
    uint8_t ty;
    int r;
    if (rp__thrift_struct_begin(t) < 0)
        return -1;
    c->has_stats = true;
    while ((r = rp__thrift_field(t, &id, &ty)) > 0) {
        if (id == 3) {
            c->has_null_count = true;
            rp__thrift_i64(t, ty, &c->null_count);
        } else if (id == 5 && ty == RP_THRIFT_BINARY) {
            rp__thrift_binary(t, &c->max, &c->max_len);
        } else if (id == 6 && ty == RP_THRIFT_BINARY) {
            rp__thrift_binary(t, &c->min, &c->min_len);
        } else {
            rp__thrift_skip(t, ty);
        }
        if (t->failed)
            return -1;
    }
    return r;
}

static int read_encodings(rp__thrift *t, chunk *c)
{
    uint8_t et;
    uint32_t n;
    if (rp__thrift_list_begin(t, &et, &n) < 0)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        int32_t e;
        if (et == RP_THRIFT_TRUE || et == RP_THRIFT_FALSE) {
            bool b;
            if (rp__thrift_list_bool(t, &b) < 0)
                return -1;
            continue;
        }
        if (rp__thrift_i32(t, et, &e) < 0)
            return -1;
        if (e >= 0 && e < 32)
            c->encodings |= UINT32_C(1) << e;
    }
    return 0;
}

static int read_column_meta(rp__thrift *t, chunk *c)
{
    int16_t id;
    uint8_t ty;
    int r;
    if (rp__thrift_struct_begin(t) < 0)
        return -1;
    c->has_meta = true;
    while ((r = rp__thrift_field(t, &id, &ty)) > 0) {
        switch (id) {
        case 1: rp__thrift_i32(t, ty, &c->type); break;
        case 2:
            if (ty == RP_THRIFT_LIST)
                read_encodings(t, c);
            else
                rp__thrift_skip(t, ty);
            break;
        case 4: rp__thrift_i32(t, ty, &c->codec); break;
        case 5: rp__thrift_i64(t, ty, &c->num_values); break;
        case 6: rp__thrift_i64(t, ty, &c->total_uncompressed_size); break;
        case 7: rp__thrift_i64(t, ty, &c->total_compressed_size); break;
        case 9: rp__thrift_i64(t, ty, &c->data_page_offset); break;
        case 11: rp__thrift_i64(t, ty, &c->dictionary_page_offset); break;
        case 12:
            if (ty == RP_THRIFT_STRUCT)
                read_stats(t, c);
            else
                rp__thrift_skip(t, ty);
            break;
        default: rp__thrift_skip(t, ty); break;
        }
        if (t->failed)
            return -1;
    }
    return r;
}

static int read_column_chunk(rp__thrift *t, chunk *c)
{
    int16_t id;
    uint8_t ty;
    int r;
    memset(c, 0, sizeof *c);
    c->dictionary_page_offset = -1;
    c->type = -1;
    if (rp__thrift_struct_begin(t) < 0)
        return -1;
    while ((r = rp__thrift_field(t, &id, &ty)) > 0) {
        if (id == 1 && ty == RP_THRIFT_BINARY) {
            const uint8_t *s;
            size_t n;
            rp__thrift_binary(t, &s, &n);
            c->external = n > 0;
        } else if (id == 3 && ty == RP_THRIFT_STRUCT) {
            read_column_meta(t, c);
        } else if (id == 8 || id == 9) {
            c->encrypted = true;
            rp__thrift_skip(t, ty);
        } else {
            rp__thrift_skip(t, ty);
        }
        if (t->failed)
            return -1;
    }
    return r;
}

static int read_row_group(rp__thrift *t, row_group *g, size_t ncols)
{
    int16_t id;
    uint8_t ty;
    int r;
    bool have_cols = false;
    if (rp__thrift_struct_begin(t) < 0)
        return -1;
    while ((r = rp__thrift_field(t, &id, &ty)) > 0) {
        if (id == 1 && ty == RP_THRIFT_LIST) {
            uint8_t et;
            uint32_t n;
            if (have_cols)
                return rp__thrift_fail(t, RP_ERR_CORRUPT, "row group lists its columns twice");
            if (rp__thrift_list_begin(t, &et, &n) < 0)
                return -1;
            if (et != RP_THRIFT_STRUCT || n != ncols)
                return rp__thrift_fail(t, RP_ERR_CORRUPT,
                                       "row group has %u column chunks, the schema %zu columns", n, ncols);
            have_cols = true;
            g->chunks = calloc(ncols ? ncols : 1, sizeof *g->chunks);
            if (!g->chunks)
                return rp__thrift_fail(t, RP_ERR_NOMEM, "out of memory");
            for (uint32_t i = 0; i < n; i++)
                if (read_column_chunk(t, &g->chunks[i]) < 0)
                    return -1;
        } else if (id == 3) {
            rp__thrift_i64(t, ty, &g->num_rows);
        } else {
            rp__thrift_skip(t, ty);
        }
        if (t->failed)
            return -1;
    }
    if (r < 0)
        return -1;
    if (!have_cols)
        return rp__thrift_fail(t, RP_ERR_CORRUPT, "row group without columns");
    if (g->num_rows < 0)
        return rp__thrift_fail(t, RP_ERR_CORRUPT, "row group of %lld rows", (long long)g->num_rows);
    return 0;
}

/* Turns the flattened schema (depth-first, children counted) into leaves. */
static int build_leaves(rp__parquet *p, rp__thrift *t, const schema_el *el, size_t nel)
{
    if (nel == 0)
        return rp__thrift_fail(t, RP_ERR_CORRUPT, "empty schema");
    if (el[0].num_children < 0 || (size_t)el[0].num_children > nel - 1)
        return rp__thrift_fail(t, RP_ERR_CORRUPT, "schema root has %d children", el[0].num_children);
    struct frame {
        int32_t left; /* children still to visit */
        int def, rep;
        size_t name_len; /* path length up to this group */
        bool nested;
    } stack[MAX_SCHEMA_DEPTH + 1];
    int sp = 0;
    stack[0] = (struct frame){.left = el[0].num_children};
    char path[4096];
    size_t name_total = 0;
    p->cols = calloc(nel, sizeof *p->cols);
    if (!p->cols)
        return rp__thrift_fail(t, RP_ERR_NOMEM, "out of memory");
    size_t i = 1;
    while (sp >= 0) {
        if (stack[sp].left == 0) {
            sp--;
            continue;
        }
        if (i >= nel)
            return rp__thrift_fail(t, RP_ERR_CORRUPT, "schema counts more children than it has elements");
        stack[sp].left--;
        const schema_el *e = &el[i++];
        struct frame *parent = &stack[sp];
        if (e->repetition < REP_REQUIRED || e->repetition > REP_REPEATED)
            return rp__thrift_fail(t, RP_ERR_CORRUPT, "schema element with repetition %d", e->repetition);
        if (!e->name)
            return rp__thrift_fail(t, RP_ERR_CORRUPT, "schema element without a name");
        size_t name_len = parent->name_len + (parent->name_len ? 1 : 0) + e->name_len;
        if (name_len >= sizeof path)
            return rp__thrift_fail(t, RP_ERR_LIMIT, "column path longer than %zu bytes", sizeof path - 1);
        if (parent->name_len)
            path[parent->name_len] = '.';
        memcpy(path + name_len - e->name_len, e->name, e->name_len);
        int def = parent->def + (e->repetition != REP_REQUIRED);
        int rep = parent->rep + (e->repetition == REP_REPEATED);
        bool nested = sp > 0 || e->repetition == REP_REPEATED || e->nested_logical;
        if (e->num_children > 0) {
            if (sp >= MAX_SCHEMA_DEPTH)
                return rp__thrift_fail(t, RP_ERR_LIMIT, "schema nested deeper than %d", MAX_SCHEMA_DEPTH);
            stack[++sp] = (struct frame){
                .left = e->num_children, .def = def, .rep = rep, .name_len = name_len, .nested = true};
            continue;
        }
        if (e->num_children < 0)
            return rp__thrift_fail(t, RP_ERR_CORRUPT, "schema element with %d children", e->num_children);
        if (!e->has_type)
            return rp__thrift_fail(t, RP_ERR_CORRUPT, "leaf column without a type");
        if (e->type < RP_PQ_BOOLEAN || e->type > RP_PQ_FIXED_LEN_BYTE_ARRAY)
            return rp__thrift_fail(t, RP_ERR_CORRUPT, "column with physical type %d", e->type);
        if (e->type == RP_PQ_FIXED_LEN_BYTE_ARRAY && (e->type_length <= 0 || e->type_length > (1 << 20)))
            return rp__thrift_fail(t, RP_ERR_CORRUPT, "FIXED_LEN_BYTE_ARRAY of length %d", e->type_length);
        name_total += name_len + 1;
        if (name_total > MAX_NAME_BYTES)
            return rp__thrift_fail(t, RP_ERR_LIMIT, "column names over %zu bytes", MAX_NAME_BYTES);
        leaf *l = &p->cols[p->ncols++];
        l->name = malloc(name_len + 1);
        if (!l->name)
            return rp__thrift_fail(t, RP_ERR_NOMEM, "out of memory");
        memcpy(l->name, path, name_len);
        l->name[name_len] = '\0';
        l->max_def = def;
        l->max_rep = rep;
        l->repetition = e->repetition;
        rp__parquet_column *c = &l->pub;
        c->name = l->name;
        c->type = (rp__pq_type)e->type;
        c->type_length = e->type == RP_PQ_INT96 ? 12 : e->type_length;
        c->logical = e->logical;
        c->time_unit = e->unit;
        c->utc_adjusted = e->utc;
        c->int_bits = e->bits;
        c->int_signed = e->is_signed;
        c->optional = def > 0;
        c->nested = nested || parent->nested;
        if (c->logical == RP_PQ_LOGICAL_TIMESTAMP && !c->time_unit)
            c->logical = RP_PQ_LOGICAL_OTHER;
    }
    if (i != nel)
        return rp__thrift_fail(t, RP_ERR_CORRUPT, "schema has %zu elements, its tree %zu", nel, i);
    return 0;
}

static int read_footer(rp__parquet *p, const uint8_t *f, size_t len, rp_error *err)
{
    rp__thrift t;
    rp__thrift_init(&t, f, len, "footer", err);
    int16_t id;
    uint8_t ty;
    int r;
    schema_el *el = NULL;
    size_t nel = 0;
    bool have_schema = false, have_rgs = false, have_rows = false;
    int rc = -1;
    if (rp__thrift_struct_begin(&t) < 0)
        goto out;
    while ((r = rp__thrift_field(&t, &id, &ty)) > 0) {
        if (id == 2 && ty == RP_THRIFT_LIST && !have_schema) {
            uint8_t et;
            uint32_t n;
            if (rp__thrift_list_begin(&t, &et, &n) < 0)
                goto out;
            if (et != RP_THRIFT_STRUCT) {
                rp__thrift_fail(&t, RP_ERR_CORRUPT, "schema is not a list of structs");
                goto out;
            }
            el = calloc(n ? n : 1, sizeof *el);
            if (!el) {
                rp__thrift_fail(&t, RP_ERR_NOMEM, "out of memory");
                goto out;
            }
            for (nel = 0; nel < n; nel++)
                if (read_schema_el(&t, &el[nel]) < 0)
                    goto out;
            if (build_leaves(p, &t, el, nel) < 0)
                goto out;
            have_schema = true;
        } else if (id == 3) {
            rp__thrift_i64(&t, ty, &p->num_rows);
            have_rows = true;
        } else if (id == 4 && ty == RP_THRIFT_LIST && !have_rgs) {
            if (!have_schema) {
                rp__thrift_fail(&t, RP_ERR_CORRUPT, "row groups before the schema");
                goto out;
            }
            uint8_t et;
            uint32_t n;
            if (rp__thrift_list_begin(&t, &et, &n) < 0)
                goto out;
            if (et != RP_THRIFT_STRUCT) {
                rp__thrift_fail(&t, RP_ERR_CORRUPT, "row groups are not a list of structs");
                goto out;
            }
            p->rgs = calloc(n ? n : 1, sizeof *p->rgs);
            if (!p->rgs) {
                rp__thrift_fail(&t, RP_ERR_NOMEM, "out of memory");
                goto out;
            }
            for (p->nrg = 0; p->nrg < n;) {
                if (read_row_group(&t, &p->rgs[p->nrg++], p->ncols) < 0)
                    goto out;
            }
            have_rgs = true;
        } else if (id == 6 && ty == RP_THRIFT_BINARY) {
            rp__thrift_binary(&t, &p->created_by, &p->created_by_len);
        } else if (rp__thrift_skip(&t, ty) < 0) {
            goto out;
        }
        if (t.failed)
            goto out;
    }
    if (r < 0)
        goto out;
    if (!have_schema || !have_rows || !have_rgs) {
        rp__thrift_fail(&t, RP_ERR_CORRUPT, "no %s",
                        !have_schema ? "schema"
                        : !have_rows ? "num_rows"
                                     : "row groups");
        goto out;
    }
    int64_t sum = 0;
    for (size_t g = 0; g < p->nrg; g++) {
        if (p->rgs[g].num_rows > INT64_MAX - sum) {
            rp__thrift_fail(&t, RP_ERR_CORRUPT, "row counts overflow");
            goto out;
        }
        sum += p->rgs[g].num_rows;
    }
    if (p->num_rows < 0 || sum != p->num_rows) {
        rp__thrift_fail(&t, RP_ERR_CORRUPT, "file says %lld rows, its row groups %lld",
                        (long long)p->num_rows, (long long)sum);
        goto out;
    }
    rc = 0;
out:
    free(el);
    return rc;
}

/* ---- opening ------------------------------------------------------------------ */

static int open_common(rp__parquet *p, rp_error *err)
{
    p->lim = (rp__parquet_limits){DEFAULT_MAX_PAGE_BYTES, DEFAULT_MAX_BYTES};
    if (p->len < 12 || memcmp(p->data, "PAR1", 4) != 0)
        return rp_error_set(err, RP_ERR_CORRUPT, "%s: not a Parquet file (no PAR1 at the start)", p->name);
    const uint8_t *tail = p->data + p->len - 8;
    if (memcmp(tail + 4, "PARE", 4) == 0)
        return rp_error_set(err, RP_ERR_UNSUPPORTED, "%s: encrypted Parquet files are not supported",
                            p->name);
    if (memcmp(tail + 4, "PAR1", 4) != 0)
        return rp_error_set(err, RP_ERR_CORRUPT, "%s: no PAR1 at the end: truncated or not Parquet", p->name);
    uint32_t flen = le32(tail);
    if (flen == 0 || flen > p->len - 12)
        return rp_error_set(err, RP_ERR_CORRUPT, "%s: footer length %u does not fit a %zu-byte file", p->name,
                            flen, p->len);
    p->footer_start = p->len - 8 - flen;
    if (read_footer(p, p->data + p->footer_start, flen, err) < 0) {
        rp_error_prefix(err, "%s", p->name);
        return -1;
    }
    return 0;
}

static void set_name(rp__parquet *p, const char *name)
{
    snprintf(p->name, sizeof p->name, "%s", name ? name : "parquet");
}

int rp__parquet_open_mem(const void *data, size_t len, const char *name, rp__parquet **out, rp_error *err)
{
    *out = NULL;
    rp__parquet *p = calloc(1, sizeof *p);
    if (!p)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    set_name(p, name);
    p->data = data;
    p->len = len;
    if (open_common(p, err) < 0) {
        rp__parquet_close(p);
        return -1;
    }
    *out = p;
    return 0;
}

int rp__parquet_open(const char *path, rp__parquet **out, rp_error *err)
{
    *out = NULL;
    void *map;
    size_t size;
    if (rp__file_map(path, &map, &size, err) < 0)
        return -1;
    if (size < 12) {
        rp__file_unmap(map, size);
        return rp_error_set(err, RP_ERR_CORRUPT, "%s: not a Parquet file (%zu bytes)", path, size);
    }
    rp__parquet *p = calloc(1, sizeof *p);
    if (!p) {
        rp__file_unmap(map, size);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
    }
    set_name(p, path);
    p->map = map;
    p->data = map;
    p->len = size;
    if (open_common(p, err) < 0) {
        rp__parquet_close(p);
        return -1;
    }
    *out = p;
    return 0;
}

void rp__parquet_close(rp__parquet *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->ncols; i++)
        free(p->cols[i].name);
    free(p->cols);
    for (size_t g = 0; g < p->nrg; g++)
        free(p->rgs[g].chunks);
    free(p->rgs);
    if (p->map)
        rp__file_unmap(p->map, p->len);
    free(p);
}

void rp__parquet_set_limits(rp__parquet *p, const rp__parquet_limits *limits)
{
    p->lim.max_page_bytes = limits->max_page_bytes ? limits->max_page_bytes : DEFAULT_MAX_PAGE_BYTES;
    p->lim.max_bytes = limits->max_bytes ? limits->max_bytes : DEFAULT_MAX_BYTES;
}

int64_t rp__parquet_num_rows(const rp__parquet *p)
{
    return p->num_rows;
}

size_t rp__parquet_num_row_groups(const rp__parquet *p)
{
    return p->nrg;
}

size_t rp__parquet_num_columns(const rp__parquet *p)
{
    return p->ncols;
}

const rp__parquet_column *rp__parquet_column_at(const rp__parquet *p, size_t i)
{
    return i < p->ncols ? &p->cols[i].pub : NULL;
}

int64_t rp__parquet_row_group_rows(const rp__parquet *p, size_t g)
{
    return g < p->nrg ? p->rgs[g].num_rows : -1;
}

int rp__parquet_chunk_at(const rp__parquet *p, size_t g, size_t col, rp__parquet_chunk_info *out)
{
    memset(out, 0, sizeof *out);
    if (g >= p->nrg || col >= p->ncols)
        return -1;
    const chunk *c = &p->rgs[g].chunks[col];
    out->codec = c->codec;
    out->num_values = c->num_values;
    out->total_compressed_size = c->total_compressed_size;
    out->total_uncompressed_size = c->total_uncompressed_size;
    out->data_page_offset = c->data_page_offset;
    out->dictionary_page_offset = c->dictionary_page_offset;
    out->encodings = c->encodings;
    out->has_stats = c->has_stats;
    out->has_null_count = c->has_null_count;
    out->null_count = c->null_count;
    out->min = c->min;
    out->min_len = c->min_len;
    out->max = c->max;
    out->max_len = c->max_len;
    return 0;
}

const char *rp__parquet_created_by(const rp__parquet *p, size_t *len)
{
    *len = p->created_by_len;
    return (const char *)p->created_by;
}

int rp__parquet_find_column(const rp__parquet *p, const char *name)
{
    for (size_t i = 0; i < p->ncols; i++)
        if (strcmp(p->cols[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* ---- reading a column ------------------------------------------------------ */

typedef struct reader {
    rp__parquet *p;
    const leaf *col;
    rp__parquet_values *out;
    rp_error *err;
    size_t width;     /* bytes per value in out->v (fixed types), 0 for byte arrays */
    size_t fixed_len; /* INT96 / FIXED_LEN_BYTE_ARRAY: bytes per value in the file */
    size_t data_len, data_cap;
    size_t used_bytes; /* counted against lim.max_bytes */
    /* where we are, for messages */
    size_t group;
    size_t page;
    /* the chunk's dictionary */
    bool has_dict;
    uint8_t *dict_buf;       /* owned when decompressed */
    const uint8_t *dict_raw; /* fixed types: dict_n * value width in the file's layout */
    uint32_t dict_n;
    uint64_t *dict_off; /* byte types: dict_n + 1 offsets into dict_bytes */
    const uint8_t *dict_bytes;
    uint32_t *dict_len;
    /* scratch */
    uint32_t *levels, *idx;
    size_t scratch_cap;
    uint8_t *page_buf;
    size_t page_cap;
} reader;

static int fail(reader *r, rp_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(reader *r, rp_code code, const char *fmt, ...)
{
    char msg[RP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rp_error_set(r->err, code, "%s: column %s, row group %zu, page %zu: %s", r->p->name, r->col->name,
                        r->group, r->page, msg);
}

/* Values that the file stores with fixed_len bytes and out keeps by offsets. */
static bool is_bytes(rp__pq_type t)
{
    return t == RP_PQ_BYTE_ARRAY || t == RP_PQ_FIXED_LEN_BYTE_ARRAY || t == RP_PQ_INT96;
}

static int append_bytes(reader *r, size_t row, const uint8_t *s, size_t n)
{
    if (n > r->data_cap - r->data_len) {
        size_t want = r->data_len + n, cap = r->data_cap ? r->data_cap : 4096;
        while (cap < want)
            cap = cap > SIZE_MAX / 2 ? want : cap * 2;
        if (r->used_bytes + (cap - r->data_cap) > r->p->lim.max_bytes) {
            cap = want;
            if (r->used_bytes + (cap - r->data_cap) > r->p->lim.max_bytes)
                return fail(r, RP_ERR_LIMIT, "values over the limit of %zu bytes", r->p->lim.max_bytes);
        }
        uint8_t *d = realloc(r->out->data, cap);
        if (!d)
            return fail(r, RP_ERR_NOMEM, "out of memory for %zu bytes of values", cap);
        r->used_bytes += cap - r->data_cap;
        r->out->data = d;
        r->data_cap = cap;
    }
    if (n)
        memcpy(r->out->data + r->data_len, s, n);
    r->data_len += n;
    r->out->off[row + 1] = r->data_len;
    return 0;
}

static int grow_scratch(reader *r, size_t n)
{
    if (n <= r->scratch_cap)
        return 0;
    uint32_t *a = realloc(r->levels, n * sizeof *a);
    if (!a)
        return fail(r, RP_ERR_NOMEM, "out of memory");
    r->levels = a;
    uint32_t *b = realloc(r->idx, n * sizeof *b);
    if (!b)
        return fail(r, RP_ERR_NOMEM, "out of memory");
    r->idx = b;
    r->scratch_cap = n;
    return 0;
}

/* Decompresses a page body (or returns it as is) into *out. */
static int page_body(reader *r, int codec, const uint8_t *src, size_t src_len, size_t dst_len, bool own,
                     const uint8_t **out, uint8_t **owned)
{
    *owned = NULL;
    if (dst_len > r->p->lim.max_page_bytes)
        return fail(r, RP_ERR_LIMIT, "page of %zu bytes over the limit of %zu", dst_len,
                    r->p->lim.max_page_bytes);
    if (codec == CODEC_UNCOMPRESSED) {
        if (src_len != dst_len)
            return fail(r, RP_ERR_CORRUPT, "uncompressed page of %zu bytes says %zu", src_len, dst_len);
        *out = src;
        return 0;
    }
    uint8_t *dst;
    if (own) {
        dst = malloc(dst_len ? dst_len : 1);
        if (!dst)
            return fail(r, RP_ERR_NOMEM, "out of memory for a page of %zu bytes", dst_len);
        *owned = dst;
    } else {
        if (dst_len > r->page_cap) {
            free(r->page_buf);
            r->page_buf = malloc(dst_len);
            r->page_cap = r->page_buf ? dst_len : 0;
            if (!r->page_buf)
                return fail(r, RP_ERR_NOMEM, "out of memory for a page of %zu bytes", dst_len);
        }
        dst = r->page_buf;
    }
    rp_error cerr;
    int rc;
    switch (codec) {
    case CODEC_GZIP: rc = rp__codec_gzip(src, src_len, dst, dst_len, &cerr); break;
    case CODEC_SNAPPY: rc = rp__codec_snappy(src, src_len, dst, dst_len, &cerr); break;
    case CODEC_ZSTD: rc = rp__codec_zstd(src, src_len, dst, dst_len, &cerr); break;
    default:
        return fail(r, RP_ERR_UNSUPPORTED,
                    "compression codec %s is not supported (UNCOMPRESSED, SNAPPY, GZIP and ZSTD are)",
                    rp__parquet_codec_name(codec));
    }
    if (rc < 0)
        return fail(r, cerr.code, "%s", cerr.msg);
    *out = dst;
    return 0;
}

/* Width in the file of one PLAIN value of a fixed-size type (0: BOOLEAN, bits). */
static size_t file_width(const reader *r)
{
    switch (r->col->pub.type) {
    case RP_PQ_INT32:
    case RP_PQ_FLOAT: return 4;
    case RP_PQ_INT64:
    case RP_PQ_DOUBLE: return 8;
    case RP_PQ_INT96:
    case RP_PQ_FIXED_LEN_BYTE_ARRAY: return r->fixed_len;
    default: return 0;
    }
}

static int read_dictionary(reader *r, int codec, const uint8_t *src, size_t csize, int32_t usize, int32_t num,
                           int32_t encoding)
{
    if (r->has_dict)
        return fail(r, RP_ERR_CORRUPT, "a second dictionary page");
    if (encoding != ENC_PLAIN && encoding != ENC_PLAIN_DICTIONARY)
        return fail(r, RP_ERR_UNSUPPORTED, "dictionary page encoding %s is not supported",
                    rp__parquet_encoding_name(encoding));
    if (num < 0 || usize < 0)
        return fail(r, RP_ERR_CORRUPT, "dictionary page with %d values, %d bytes", num, usize);
    const uint8_t *d;
    if (page_body(r, codec, src, csize, (size_t)usize, true, &d, &r->dict_buf) < 0)
        return -1;
    size_t len = (size_t)usize, n = (size_t)num;
    r->dict_n = (uint32_t)n;
    r->has_dict = true;
    rp__pq_type t = r->col->pub.type;
    if (t == RP_PQ_BYTE_ARRAY) {
        if (n > len / 4)
            return fail(r, RP_ERR_CORRUPT, "dictionary of %zu strings in %zu bytes", n, len);
        r->dict_off = malloc((n + 1) * sizeof *r->dict_off);
        r->dict_len = malloc((n + 1) * sizeof *r->dict_len);
        if (!r->dict_off || !r->dict_len)
            return fail(r, RP_ERR_NOMEM, "out of memory for a dictionary of %zu values", n);
        size_t pos = 0;
        for (size_t i = 0; i < n; i++) {
            if (len - pos < 4)
                return fail(r, RP_ERR_CORRUPT, "dictionary ends at value %zu of %zu", i, n);
            uint32_t l = le32(d + pos);
            pos += 4;
            if (l > len - pos)
                return fail(r, RP_ERR_CORRUPT, "dictionary string %zu of %u bytes past the page end", i, l);
            r->dict_off[i] = pos;
            r->dict_len[i] = l;
            pos += l;
        }
        r->dict_bytes = d;
    } else if (t == RP_PQ_BOOLEAN) {
        if (n > len * 8)
            return fail(r, RP_ERR_CORRUPT, "dictionary of %zu booleans in %zu bytes", n, len);
        uint8_t *b = malloc(n ? n : 1);
        if (!b)
            return fail(r, RP_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
            b[i] = (d[i / 8] >> (i % 8)) & 1;
        free(r->dict_buf);
        r->dict_buf = b;
        r->dict_raw = b;
    } else {
        size_t w = file_width(r);
        if (n > len / w)
            return fail(r, RP_ERR_CORRUPT, "dictionary of %zu values of %zu bytes in %zu bytes", n, w, len);
        r->dict_raw = d;
    }
    return 0;
}

/* Stores value bytes s (file layout) of a fixed type at row. */
static inline void put_fixed(reader *r, size_t row, const uint8_t *s)
{
    memcpy((uint8_t *)r->out->v.raw + row * r->width, s, r->width);
}

/* Decodes the values of rows [at, at + rows) whose definition levels are
 * levels (NULL: all present) from the page's value bytes v. */
static int decode_values(reader *r, int32_t encoding, const uint8_t *v, size_t vlen, size_t at, size_t rows,
                         size_t present)
{
    const uint32_t *lv = r->levels;
    const uint32_t max_def = (uint32_t)r->col->max_def;
    rp__pq_type t = r->col->pub.type;
#define PRESENT(i) (!max_def || lv[i] == max_def)
    if (encoding == ENC_PLAIN) {
        if (t == RP_PQ_BOOLEAN) {
            if (present > vlen * 8)
                return fail(r, RP_ERR_CORRUPT, "%zu booleans in %zu bytes", present, vlen);
            size_t k = 0;
            for (size_t i = 0; i < rows; i++)
                if (PRESENT(i)) {
                    r->out->v.b[at + i] = (v[k / 8] >> (k % 8)) & 1;
                    k++;
                }
            return 0;
        }
        if (t == RP_PQ_BYTE_ARRAY) {
            size_t pos = 0;
            for (size_t i = 0; i < rows; i++) {
                if (!PRESENT(i)) {
                    r->out->off[at + i + 1] = r->data_len;
                    continue;
                }
                if (vlen - pos < 4)
                    return fail(r, RP_ERR_CORRUPT, "values end at row %zu of the page", i);
                uint32_t l = le32(v + pos);
                pos += 4;
                if (l > vlen - pos)
                    return fail(r, RP_ERR_CORRUPT, "a string of %u bytes past the page end", l);
                if (append_bytes(r, at + i, v + pos, l) < 0)
                    return -1;
                pos += l;
            }
            return 0;
        }
        size_t w = file_width(r);
        if (present > vlen / w)
            return fail(r, RP_ERR_CORRUPT, "%zu values of %zu bytes in %zu bytes", present, w, vlen);
        size_t k = 0;
        for (size_t i = 0; i < rows; i++) {
            if (!PRESENT(i)) {
                if (is_bytes(t))
                    r->out->off[at + i + 1] = r->data_len;
                continue;
            }
            if (is_bytes(t)) {
                if (append_bytes(r, at + i, v + k * w, w) < 0)
                    return -1;
            } else {
                put_fixed(r, at + i, v + k * w);
            }
            k++;
        }
        return 0;
    }
    if (encoding == ENC_RLE && t == RP_PQ_BOOLEAN) {
        if (vlen < 4 || le32(v) > vlen - 4)
            return fail(r, RP_ERR_CORRUPT, "RLE booleans: bad length prefix");
        rp_error e;
        if (rp__pq_rle_decode(v + 4, le32(v), 1, r->idx, present, &e) < 0)
            return fail(r, RP_ERR_CORRUPT, "booleans: %s", e.msg);
        size_t k = 0;
        for (size_t i = 0; i < rows; i++)
            if (PRESENT(i))
                r->out->v.b[at + i] = (uint8_t)r->idx[k++];
        return 0;
    }
    if (encoding == ENC_PLAIN_DICTIONARY || encoding == ENC_RLE_DICTIONARY) {
        if (!r->has_dict)
            return fail(r, RP_ERR_CORRUPT, "dictionary-encoded page without a dictionary page");
        if (present == 0) { /* a page of nulls: the offsets still advance (empty values) */
            if (is_bytes(t))
                for (size_t i = 0; i < rows; i++)
                    r->out->off[at + i + 1] = r->data_len;
            return 0;
        }
        if (vlen < 1)
            return fail(r, RP_ERR_CORRUPT, "dictionary indices missing");
        rp_error e;
        if (rp__pq_rle_decode(v + 1, vlen - 1, v[0], r->idx, present, &e) < 0)
            return fail(r, RP_ERR_CORRUPT, "dictionary indices: %s", e.msg);
        size_t k = 0;
        const uint32_t *idx = r->idx;
        for (size_t i = 0; i < present; i++)
            if (idx[i] >= r->dict_n)
                return fail(r, RP_ERR_CORRUPT, "dictionary index %u of a %u-value dictionary", idx[i],
                            r->dict_n);
        if (t == RP_PQ_BYTE_ARRAY) {
            for (size_t i = 0; i < rows; i++) {
                if (!PRESENT(i)) {
                    r->out->off[at + i + 1] = r->data_len;
                    continue;
                }
                uint32_t j = idx[k++];
                if (append_bytes(r, at + i, r->dict_bytes + r->dict_off[j], r->dict_len[j]) < 0)
                    return -1;
            }
        } else if (is_bytes(t)) {
            size_t w = file_width(r);
            for (size_t i = 0; i < rows; i++) {
                if (!PRESENT(i)) {
                    r->out->off[at + i + 1] = r->data_len;
                    continue;
                }
                if (append_bytes(r, at + i, r->dict_raw + (size_t)idx[k++] * w, w) < 0)
                    return -1;
            }
        } else if (!max_def && r->width == 8) {
            const uint64_t *dict = (const void *)r->dict_raw;
            uint64_t *o = (uint64_t *)r->out->v.raw + at;
            if (((uintptr_t)dict & 7) == 0) {
                for (size_t i = 0; i < rows; i++)
                    o[i] = dict[idx[i]];
            } else {
                for (size_t i = 0; i < rows; i++)
                    memcpy(&o[i], r->dict_raw + (size_t)idx[i] * 8, 8);
            }
        } else {
            size_t w = t == RP_PQ_BOOLEAN ? 1 : file_width(r);
            for (size_t i = 0; i < rows; i++)
                if (PRESENT(i))
                    put_fixed(r, at + i, r->dict_raw + (size_t)idx[k++] * w);
        }
        return 0;
    }
#undef PRESENT
    return fail(r, RP_ERR_UNSUPPORTED,
                "encoding %s is not supported for %s (PLAIN, dictionary and RLE booleans are)",
                rp__parquet_encoding_name(encoding), rp__parquet_type_name(t));
}

/* Definition levels of rows values into r->levels; counts the present ones. */
static int decode_levels(reader *r, const uint8_t *d, size_t len, size_t at, size_t rows, size_t *present)
{
    rp_error e;
    int bw = 0;
    while ((1 << bw) <= r->col->max_def)
        bw++;
    if (rp__pq_rle_decode(d, len, bw, r->levels, rows, &e) < 0)
        return fail(r, RP_ERR_CORRUPT, "definition levels: %s", e.msg);
    size_t k = 0;
    uint32_t max_def = (uint32_t)r->col->max_def;
    for (size_t i = 0; i < rows; i++) {
        if (r->levels[i] > max_def)
            return fail(r, RP_ERR_CORRUPT, "definition level %u over the maximum %u", r->levels[i], max_def);
        k += r->out->valid[at + i] = r->levels[i] == max_def;
    }
    *present = k;
    return 0;
}

typedef struct page_header {
    int32_t type, usize, csize;
    bool has_v1, has_v2, has_dict;
    int32_t num_values, encoding, def_encoding, rep_encoding; /* v1, dict (num, encoding) */
    int32_t num_nulls, num_rows, def_len, rep_len;            /* v2 */
    bool is_compressed;
} page_header;

static int read_sub(rp__thrift *t, page_header *h, int which)
{
    int16_t id;
    uint8_t ty;
    int r;
    if (rp__thrift_struct_begin(t) < 0)
        return -1;
    while ((r = rp__thrift_field(t, &id, &ty)) > 0) {
        int32_t *dst = NULL;
        if (which == 5) { /* DataPageHeader */
            int32_t *f[] = {NULL, &h->num_values, &h->encoding, &h->def_encoding, &h->rep_encoding};
            dst = id >= 1 && id <= 4 ? f[id] : NULL;
        } else if (which == 7) { /* DictionaryPageHeader */
            dst = id == 1 ? &h->num_values : id == 2 ? &h->encoding : NULL;
        } else { /* DataPageHeaderV2 */
            int32_t *f[] = {NULL,         &h->num_values, &h->num_nulls, &h->num_rows,
                            &h->encoding, &h->def_len,    &h->rep_len};
            dst = id >= 1 && id <= 6 ? f[id] : NULL;
            if (id == 7 && (ty == RP_THRIFT_TRUE || ty == RP_THRIFT_FALSE)) {
                rp__thrift_field_bool(t, ty, &h->is_compressed);
                continue;
            }
        }
        if (dst)
            rp__thrift_i32(t, ty, dst);
        else
            rp__thrift_skip(t, ty);
        if (t->failed)
            return -1;
    }
    return r;
}

static int read_page_header(reader *r, const uint8_t *p, size_t avail, page_header *h, size_t *hlen)
{
    rp_error e;
    rp__thrift t;
    rp__thrift_init(&t, p, avail, "page header", &e);
    memset(h, 0, sizeof *h);
    h->type = -1;
    h->usize = h->csize = -1;
    h->is_compressed = true;
    int16_t id;
    uint8_t ty;
    int rr;
    if (rp__thrift_struct_begin(&t) < 0)
        goto bad;
    while ((rr = rp__thrift_field(&t, &id, &ty)) > 0) {
        if (id == 1)
            rp__thrift_i32(&t, ty, &h->type);
        else if (id == 2)
            rp__thrift_i32(&t, ty, &h->usize);
        else if (id == 3)
            rp__thrift_i32(&t, ty, &h->csize);
        else if ((id == 5 || id == 7 || id == 8) && ty == RP_THRIFT_STRUCT) {
            read_sub(&t, h, id);
            if (id == 5)
                h->has_v1 = true;
            else if (id == 7)
                h->has_dict = true;
            else
                h->has_v2 = true;
        } else
            rp__thrift_skip(&t, ty);
        if (t.failed)
            goto bad;
    }
    if (rr < 0)
        goto bad;
    if (h->usize < 0 || h->csize < 0)
        return fail(r, RP_ERR_CORRUPT, "page header without sizes");
    *hlen = rp__thrift_offset(&t);
    return 0;
bad:
    return fail(r, e.code, "%s", e.msg);
}

static int read_chunk(reader *r, const chunk *c, size_t at, size_t want)
{
    rp__parquet *p = r->p;
    int64_t start = c->data_page_offset;
    if (c->dictionary_page_offset > 0 && c->dictionary_page_offset < start)
        start = c->dictionary_page_offset;
    if (start < 4 || c->total_compressed_size <= 0 || (uint64_t)start > p->footer_start ||
        (uint64_t)c->total_compressed_size > p->footer_start - (uint64_t)start)
        return fail(r, RP_ERR_CORRUPT, "column chunk at %lld of %lld bytes outside the file's %zu data bytes",
                    (long long)start, (long long)c->total_compressed_size, p->footer_start);
    size_t pos = (size_t)start, end = pos + (size_t)c->total_compressed_size;
    size_t got = 0;
    r->page = 0;
    while (got < want) {
        if (pos >= end)
            return fail(r, RP_ERR_CORRUPT, "column chunk ends after %zu of %zu values", got, want);
        page_header h;
        size_t hlen = 0;
        if (read_page_header(r, p->data + pos, end - pos, &h, &hlen) < 0)
            return -1;
        pos += hlen;
        if ((size_t)h.csize > end - pos)
            return fail(r, RP_ERR_CORRUPT, "page of %d bytes past the end of its column chunk", h.csize);
        if ((size_t)h.csize > p->lim.max_page_bytes)
            return fail(r, RP_ERR_LIMIT, "page of %d bytes over the limit of %zu", h.csize,
                        p->lim.max_page_bytes);
        const uint8_t *body = p->data + pos;
        pos += (size_t)h.csize;
        if (h.type == PAGE_DICTIONARY) {
            if (!h.has_dict)
                return fail(r, RP_ERR_CORRUPT, "dictionary page without its header");
            if (got > 0)
                return fail(r, RP_ERR_CORRUPT, "dictionary page after data pages");
            if (read_dictionary(r, c->codec, body, (size_t)h.csize, h.usize, h.num_values, h.encoding) < 0)
                return -1;
            r->page++;
            continue;
        }
        if (h.type != PAGE_DATA && h.type != PAGE_DATA_V2) {
            r->page++; /* index pages and pages of future kinds are skipped */
            continue;
        }
        if ((h.type == PAGE_DATA && !h.has_v1) || (h.type == PAGE_DATA_V2 && !h.has_v2))
            return fail(r, RP_ERR_CORRUPT, "data page without its header");
        if (h.num_values < 0)
            return fail(r, RP_ERR_CORRUPT, "data page of %d values", h.num_values);
        size_t rows = (size_t)h.num_values < want - got ? (size_t)h.num_values : want - got;
        if (grow_scratch(r, rows ? rows : 1) < 0)
            return -1;
        const uint8_t *vals;
        size_t vlen, present = rows;
        uint8_t *owned;
        if (h.type == PAGE_DATA) {
            const uint8_t *d;
            if (page_body(r, c->codec, body, (size_t)h.csize, (size_t)h.usize, false, &d, &owned) < 0)
                return -1;
            size_t len = (size_t)h.usize, off = 0;
            if (r->col->max_def > 0) {
                if (h.def_encoding != ENC_RLE)
                    return fail(r, RP_ERR_UNSUPPORTED,
                                "definition levels in %s encoding are not supported (RLE is)",
                                rp__parquet_encoding_name(h.def_encoding));
                if (len < 4 || le32(d) > len - 4)
                    return fail(r, RP_ERR_CORRUPT, "definition levels: bad length prefix");
                if (decode_levels(r, d + 4, le32(d), at + got, rows, &present) < 0)
                    return -1;
                off = 4 + le32(d);
            }
            vals = d + off;
            vlen = len - off;
        } else {
            if (h.def_len < 0 || h.rep_len < 0 || (size_t)h.def_len + (size_t)h.rep_len > (size_t)h.csize ||
                h.def_len + (int64_t)h.rep_len > h.usize)
                return fail(r, RP_ERR_CORRUPT, "v2 page levels of %d + %d bytes in a %d-byte page", h.rep_len,
                            h.def_len, h.csize);
            size_t lv = (size_t)h.def_len + (size_t)h.rep_len;
            if (r->col->max_def > 0 &&
                decode_levels(r, body + h.rep_len, (size_t)h.def_len, at + got, rows, &present) < 0)
                return -1;
            int codec = h.is_compressed ? c->codec : CODEC_UNCOMPRESSED;
            if (page_body(r, codec, body + lv, (size_t)h.csize - lv, (size_t)h.usize - lv, false, &vals,
                          &owned) < 0)
                return -1;
            vlen = (size_t)h.usize - lv;
        }
        if (decode_values(r, h.encoding, vals, vlen, at + got, rows, present) < 0)
            return -1;
        got += rows;
        r->page++;
    }
    return 0;
}

void rp__parquet_values_free(rp__parquet_values *v)
{
    if (!v)
        return;
    free(v->valid);
    free(v->v.raw);
    free(v->off);
    free(v->data);
    memset(v, 0, sizeof *v);
}

static void free_dict(reader *r)
{
    free(r->dict_buf);
    free(r->dict_off);
    free(r->dict_len);
    r->dict_buf = NULL;
    r->dict_off = NULL;
    r->dict_len = NULL;
    r->dict_raw = r->dict_bytes = NULL;
    r->dict_n = 0;
    r->has_dict = false;
}

int rp__parquet_read_column(rp__parquet *p, size_t col, size_t max_rows, rp__parquet_values *out,
                            rp_error *err)
{
    memset(out, 0, sizeof *out);
    if (col >= p->ncols)
        return rp_error_set(err, RP_ERR_INVALID, "%s: no column %zu (%zu columns)", p->name, col, p->ncols);
    const leaf *l = &p->cols[col];
    if (l->pub.nested)
        return rp_error_set(
            err, RP_ERR_UNSUPPORTED,
            "%s: column %s is nested (in a group, list or map, or repeated): nested columns are not supported",
            p->name, l->name);
    reader r = {.p = p, .col = l, .out = out, .err = err};
    rp__pq_type t = l->pub.type;
    r.fixed_len = t == RP_PQ_INT96 ? 12 : t == RP_PQ_FIXED_LEN_BYTE_ARRAY ? (size_t)l->pub.type_length : 0;
    r.width = is_bytes(t) ? 0 : t == RP_PQ_BOOLEAN ? 1 : t == RP_PQ_INT32 || t == RP_PQ_FLOAT ? 4 : 8;
    size_t n = (size_t)p->num_rows;
    if ((uint64_t)p->num_rows > SIZE_MAX / 16)
        return rp_error_set(err, RP_ERR_LIMIT, "%s: %lld rows", p->name, (long long)p->num_rows);
    if (max_rows && max_rows < n)
        n = max_rows;
    size_t per_row = (l->pub.optional ? 1 : 0) + (r.width ? r.width : 8);
    if (n > (p->lim.max_bytes - 8) / per_row)
        return rp_error_set(err, RP_ERR_LIMIT,
                            "%s: column %s: %zu rows need more than the limit of %zu bytes", p->name, l->name,
                            n, p->lim.max_bytes);
    r.used_bytes = n * per_row + 8;
    out->type = t;
    out->n = n;
    int rc = -1;
    if (l->pub.optional && !(out->valid = calloc(n ? n : 1, 1)))
        goto nomem;
    if (r.width) {
        if (!(out->v.raw = calloc(n ? n : 1, r.width)))
            goto nomem;
    } else if (!(out->off = calloc(n + 1, sizeof *out->off))) {
        goto nomem;
    }
    size_t at = 0;
    for (size_t g = 0; g < p->nrg && at < n; g++) {
        r.group = g;
        r.page = 0;
        const chunk *c = &p->rgs[g].chunks[col];
        size_t rg_rows = (size_t)p->rgs[g].num_rows;
        size_t want = rg_rows < n - at ? rg_rows : n - at;
        if (want == 0)
            continue;
        if (!c->has_meta) {
            fail(&r, c->encrypted ? RP_ERR_UNSUPPORTED : RP_ERR_CORRUPT, "%s",
                 c->encrypted ? "encrypted columns are not supported" : "column chunk without metadata");
            goto out;
        }
        if (c->external) {
            fail(&r, RP_ERR_UNSUPPORTED, "column data in another file (file_path) is not supported");
            goto out;
        }
        if (c->type != (int32_t)t) {
            fail(&r, RP_ERR_CORRUPT, "chunk of type %d in a %s column", c->type, rp__parquet_type_name(t));
            goto out;
        }
        if (c->num_values != p->rgs[g].num_rows) {
            fail(&r, RP_ERR_CORRUPT, "chunk of %lld values in a row group of %lld rows",
                 (long long)c->num_values, (long long)p->rgs[g].num_rows);
            goto out;
        }
        if (c->codec != CODEC_UNCOMPRESSED && c->codec != CODEC_SNAPPY && c->codec != CODEC_GZIP &&
            c->codec != CODEC_ZSTD) {
            fail(&r, RP_ERR_UNSUPPORTED,
                 "compression codec %s is not supported (UNCOMPRESSED, SNAPPY, GZIP and ZSTD are)",
                 rp__parquet_codec_name(c->codec));
            goto out;
        }
        int frc = read_chunk(&r, c, at, want);
        free_dict(&r);
        if (frc < 0)
            goto out;
        at += want;
    }
    if (at != n) {
        rp_error_set(err, RP_ERR_CORRUPT, "%s: column %s: row groups hold %zu rows, the file says %zu",
                     p->name, l->name, at, n);
        goto out;
    }
    rc = 0;
    goto out;
nomem:
    rp_error_set(err, RP_ERR_NOMEM, "%s: column %s: out of memory for %zu rows", p->name, l->name, n);
out:
    free_dict(&r);
    free(r.levels);
    free(r.idx);
    free(r.page_buf);
    if (rc < 0)
        rp__parquet_values_free(out);
    return rc;
}
