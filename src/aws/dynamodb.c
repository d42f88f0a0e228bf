/* Amazon DynamoDB: the JSON 1.0 API over src/aws/jsonapi.h, and the item
 * codec (see dynamodb.h). */
#include "aws/dynamodb.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/jsonapi.h"
#include "common/json.h"
#include "common/pyjson.h"
#include "ridepred/log.h"

#define NAME_MAX_BYTES 65535                  /* DynamoDB's limit on an attribute name */
#define REQUEST_MAX ((size_t)4 * 1024 * 1024) /* an item is at most 400 KB */
#define TABLE_DEFS_MAX 16                     /* AttributeDefinitions read by DescribeTable */

static const char SERVICE[] = "DynamoDB";
static const char CONDITION_FAILED[] = "ConditionalCheckFailedException";

/* ---- items -------------------------------------------------------------- */

static bool valid_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        size_t k = rp__utf8_seq(p, e);
        if (!k)
            return false;
        p += k;
    }
    return true;
}

/* DynamoDB's number syntax: -?(D+[.D*]|.D+)([eE][+-]?D+)? */
static bool valid_number(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    if (i < n && s[i] == '-')
        i++;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    if (!digits)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t exp = 0;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            exp++;
        if (!exp)
            return false;
    }
    return i == n;
}

static int str_dup(rp__ddb_str *out, const char *s, size_t len)
{
    out->ptr = malloc(len + 1);
    if (!out->ptr)
        return -1;
    if (len)
        memcpy(out->ptr, s, len);
    out->ptr[len] = '\0';
    out->len = len;
    return 0;
}

static void value_free(rp__ddb_value *v)
{
    free(v->s.ptr);
    for (size_t i = 0; i < v->n; i++)
        free(v->set[i].ptr);
    free(v->set);
    memset(v, 0, sizeof *v);
}

static int nomem(rp_error *err)
{
    return rp_error_set(err, RP_ERR_NOMEM, "out of memory");
}

void rp__ddb_item_init(rp__ddb_item *it)
{
    memset(it, 0, sizeof *it);
}

void rp__ddb_item_free(rp__ddb_item *it)
{
    if (!it)
        return;
    for (size_t i = 0; i < it->n; i++) {
        free(it->attrs[i].name);
        value_free(&it->attrs[i].v);
    }
    free(it->attrs);
    rp__ddb_item_init(it);
}

static rp__ddb_attr *find(const rp__ddb_item *it, const char *name)
{
    for (size_t i = 0; i < it->n; i++)
        if (!strcmp(it->attrs[i].name, name))
            return &it->attrs[i];
    return NULL;
}

static int check_name(const char *name, rp_error *err)
{
    if (!name)
        return rp_error_set(err, RP_ERR_INVALID, "DynamoDB attribute name missing");
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_BYTES)
        return rp_error_set(err, RP_ERR_INVALID, "DynamoDB attribute name must be 1 to %d bytes",
                            NAME_MAX_BYTES);
    if (!valid_utf8(name, n))
        return rp_error_set(err, RP_ERR_INVALID, "DynamoDB attribute name is not valid UTF-8");
    return 0;
}

/* Adds name = *v to the item (or replaces the value of that name), taking
 * ownership of v's memory, freed on failure. */
static int put_value(rp__ddb_item *it, const char *name, rp__ddb_value *v, rp_error *err)
{
    rp__ddb_attr *a = find(it, name);
    if (a) {
        value_free(&a->v);
        a->v = *v;
        return 0;
    }
    char *copy = strdup(name);
    rp__ddb_attr *grown = copy ? rp__array_grow(it->attrs, it->n, &it->cap, sizeof *it->attrs, 8) : NULL;
    if (!grown) {
        free(copy);
        value_free(v);
        return nomem(err);
    }
    it->attrs = grown;
    it->attrs[it->n].name = copy;
    it->attrs[it->n].v = *v;
    it->n++;
    return 0;
}

static int set_text(rp__ddb_item *it, const char *name, rp__ddb_type type, const char *s, size_t len,
                    rp_error *err)
{
    if (check_name(name, err) != 0)
        return -1;
    if (!s && len)
        return rp_error_set(err, RP_ERR_INVALID, "DynamoDB attribute %s: value missing", name);
    if (!s)
        s = "";
    if (type == RP_DDB_N && !valid_number(s, len))
        return rp_error_set(err, RP_ERR_INVALID, "DynamoDB attribute %s: '%.40s' is not a decimal number",
                            name, s);
    if (type == RP_DDB_S && !valid_utf8(s, len))
        return rp_error_set(err, RP_ERR_INVALID, "DynamoDB attribute %s: the string is not valid UTF-8",
                            name);
    rp__ddb_value v = {.type = type};
    if (str_dup(&v.s, s, len) != 0)
        return nomem(err);
    return put_value(it, name, &v, err);
}

int rp__ddb_item_set_s(rp__ddb_item *it, const char *name, const char *s, size_t len, rp_error *err)
{
    return set_text(it, name, RP_DDB_S, s, len, err);
}

int rp__ddb_item_set_n(rp__ddb_item *it, const char *name, const char *decimal, rp_error *err)
{
    return set_text(it, name, RP_DDB_N, decimal, decimal ? strlen(decimal) : 0, err);
}

int rp__ddb_item_set_i64(rp__ddb_item *it, const char *name, int64_t x, rp_error *err)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, x);
    return rp__ddb_item_set_n(it, name, text, err);
}

static int set_flag(rp__ddb_item *it, const char *name, rp__ddb_type type, bool b, rp_error *err)
{
    if (check_name(name, err) != 0)
        return -1;
    rp__ddb_value v = {.type = type, .b = b};
    return put_value(it, name, &v, err);
}

int rp__ddb_item_set_bool(rp__ddb_item *it, const char *name, bool b, rp_error *err)
{
    return set_flag(it, name, RP_DDB_BOOL, b, err);
}

int rp__ddb_item_set_null(rp__ddb_item *it, const char *name, rp_error *err)
{
    return set_flag(it, name, RP_DDB_NULL, false, err);
}

static int cmp_str(const void *a, const void *b)
{
    const rp__ddb_str *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->ptr, y->ptr, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* A set of n strings (v[i] of len[i] bytes; len NULL: strlen), checked for
 * the type and for duplicates, copied into an owned value. */
static int make_set(rp__ddb_value *out, rp__ddb_type type, const char *name, const char *const *v,
                    const size_t *len, size_t n, rp_error *err)
{
    const char *what = type == RP_DDB_SS ? "SS" : "NS";
    if (n == 0 || !v)
        return rp_error_set(err, RP_ERR_INVALID, "DynamoDB attribute %s: an %s set must not be empty", name,
                            what);
    rp__ddb_value s = {.type = type};
    s.set = calloc(n, sizeof *s.set);
    if (!s.set)
        return nomem(err);
    for (size_t i = 0; i < n; i++) {
        size_t l = len ? len[i] : (v[i] ? strlen(v[i]) : 0);
        if (!v[i] || (type == RP_DDB_NS ? !valid_number(v[i], l) : !valid_utf8(v[i], l))) {
            value_free(&s);
            return rp_error_set(err, RP_ERR_INVALID, "DynamoDB attribute %s: element %zu of the %s set is %s",
                                name, i, what,
                                !v[i]               ? "missing"
                                : type == RP_DDB_NS ? "not a decimal number"
                                                    : "not valid UTF-8");
        }
        if (str_dup(&s.set[i], v[i], l) != 0) {
            value_free(&s);
            return nomem(err);
        }
        s.n = i + 1;
    }
    rp__ddb_str *sorted = malloc(n * sizeof *sorted);
    if (!sorted) {
        value_free(&s);
        return nomem(err);
    }
    memcpy(sorted, s.set, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_str);
    for (size_t i = 1; i < n; i++)
        if (!cmp_str(&sorted[i - 1], &sorted[i])) {
            rp_error_set(err, RP_ERR_INVALID, "DynamoDB attribute %s: the %s set holds '%.40s' twice", name,
                         what, sorted[i].ptr);
            free(sorted);
            value_free(&s);
            return -1;
        }
    free(sorted);
    *out = s;
    return 0;
}

static int set_set(rp__ddb_item *it, const char *name, rp__ddb_type type, const char *const *v, size_t n,
                   rp_error *err)
{
    if (check_name(name, err) != 0)
        return -1;
    rp__ddb_value s;
    if (make_set(&s, type, name, v, NULL, n, err) != 0)
        return -1;
    return put_value(it, name, &s, err);
}

int rp__ddb_item_set_ss(rp__ddb_item *it, const char *name, const char *const *v, size_t n, rp_error *err)
{
    return set_set(it, name, RP_DDB_SS, v, n, err);
}

int rp__ddb_item_set_ns(rp__ddb_item *it, const char *name, const char *const *v, size_t n, rp_error *err)
{
    return set_set(it, name, RP_DDB_NS, v, n, err);
}

/* True when raw[0..len) is one JSON object. */
static bool is_json_object(const char *raw, size_t len)
{
    rp__json_reader r;
    rp__json_value v;
    rp__json_init(&r, raw, len, RP_AWS_JSONAPI_DEPTH);
    return rp__json_next(&r, &v) == 1 && v.type == RP_JSON_OBJECT && rp__json_skip(&r, &v) >= 0 &&
           rp__json_end(&r) == 1;
}

int rp__ddb_item_set(rp__ddb_item *it, const char *name, const rp__ddb_value *v, rp_error *err)
{
    if (check_name(name, err) != 0)
        return -1;
    switch (v->type) {
    case RP_DDB_S:
    case RP_DDB_N: return set_text(it, name, v->type, v->s.ptr, v->s.len, err);
    case RP_DDB_BOOL:
    case RP_DDB_NULL: return set_flag(it, name, v->type, v->type == RP_DDB_BOOL && v->b, err);
    case RP_DDB_SS:
    case RP_DDB_NS: {
        const char **ptrs = v->n ? malloc(v->n * sizeof *ptrs) : NULL;
        size_t *lens = v->n ? malloc(v->n * sizeof *lens) : NULL;
        if (v->n && (!ptrs || !lens)) {
            free(ptrs);
            free(lens);
            return nomem(err);
        }
        for (size_t i = 0; i < v->n; i++) {
            ptrs[i] = v->set[i].ptr;
            lens[i] = v->set[i].len;
        }
        rp__ddb_value s;
        int rc = make_set(&s, v->type, name, ptrs, lens, v->n, err);
        free(ptrs);
        free(lens);
        return rc != 0 ? -1 : put_value(it, name, &s, err);
    }
    case RP_DDB_RAW: {
        if (!v->s.ptr || !is_json_object(v->s.ptr, v->s.len))
            return rp_error_set(err, RP_ERR_INVALID,
                                "DynamoDB attribute %s: a raw value must be a JSON object", name);
        rp__ddb_value raw = {.type = RP_DDB_RAW};
        if (str_dup(&raw.s, v->s.ptr, v->s.len) != 0)
            return nomem(err);
        return put_value(it, name, &raw, err);
    }
    }
    return rp_error_set(err, RP_ERR_INVALID, "DynamoDB attribute %s: unknown type %d", name, (int)v->type);
}

bool rp__ddb_item_remove(rp__ddb_item *it, const char *name)
{
    rp__ddb_attr *a = find(it, name);
    if (!a)
        return false;
    free(a->name);
    value_free(&a->v);
    size_t i = (size_t)(a - it->attrs);
    memmove(a, a + 1, (it->n - i - 1) * sizeof *a);
    it->n--;
    return true;
}

const rp__ddb_value *rp__ddb_item_get(const rp__ddb_item *it, const char *name)
{
    const rp__ddb_attr *a = find(it, name);
    return a ? &a->v : NULL;
}

const char *rp__ddb_item_get_s(const rp__ddb_item *it, const char *name)
{
    const rp__ddb_value *v = rp__ddb_item_get(it, name);
    return v && v->type == RP_DDB_S ? v->s.ptr : NULL;
}

int rp__ddb_value_i64(const rp__ddb_value *v, int64_t *out)
{
    if (!v || v->type != RP_DDB_N || !v->s.len)
        return -1;
    const char *s = v->s.ptr;
    size_t n = v->s.len, i = 0;
    bool neg = s[0] == '-';
    if (neg)
        i++;
    if (i == n)
        return -1;
    uint64_t x = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (limit - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *out = neg ? (x == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)x) : (int64_t)x;
    return 0;
}

int rp__ddb_item_get_i64(const rp__ddb_item *it, const char *name, int64_t *out)
{
    return rp__ddb_value_i64(rp__ddb_item_get(it, name), out);
}

/* ---- encoding ----------------------------------------------------------- */

static void encode_set(rp__buf *b, const rp__ddb_value *v)
{
    rp__buf_putc(b, '[');
    for (size_t i = 0; i < v->n; i++) {
        if (i)
            rp__buf_lit(b, ", ");
        rp__pyjson_utf8(b, v->set[i].ptr, v->set[i].len);
    }
    rp__buf_putc(b, ']');
}

int rp__ddb_item_encode(const rp__ddb_item *it, rp__buf *b, rp_error *err)
{
    rp__buf_putc(b, '{');
    for (size_t i = 0; i < it->n; i++) {
        const rp__ddb_attr *a = &it->attrs[i];
        const rp__ddb_value *v = &a->v;
        if (!a->name)
            return rp_error_set(err, RP_ERR_INVALID, "DynamoDB item: attribute %zu has no name", i);
        if (i)
            rp__buf_lit(b, ", ");
        rp__aws_json_str(b, a->name);
        rp__buf_lit(b, ": ");
        switch (v->type) {
        case RP_DDB_S:
            rp__buf_lit(b, "{\"S\": ");
            rp__pyjson_utf8(b, v->s.ptr, v->s.len);
            rp__buf_putc(b, '}');
            break;
        case RP_DDB_N:
            rp__buf_lit(b, "{\"N\": ");
            rp__pyjson_utf8(b, v->s.ptr, v->s.len);
            rp__buf_putc(b, '}');
            break;
        case RP_DDB_BOOL:
            if (v->b)
                rp__buf_lit(b, "{\"BOOL\": true}");
            else
                rp__buf_lit(b, "{\"BOOL\": false}");
            break;
        case RP_DDB_NULL: rp__buf_lit(b, "{\"NULL\": true}"); break;
        case RP_DDB_SS:
        case RP_DDB_NS:
            rp__buf_lit(b, v->type == RP_DDB_SS ? "{\"SS\": " : "{\"NS\": ");
            encode_set(b, v);
            rp__buf_putc(b, '}');
            break;
        case RP_DDB_RAW: rp__buf_append(b, v->s.ptr, v->s.len); break;
        default:
            return rp_error_set(err, RP_ERR_INVALID, "DynamoDB item: attribute %s has an unknown type %d",
                                a->name, (int)v->type);
        }
    }
    rp__buf_putc(b, '}');
    if (b->failed)
        return b->toobig ? rp_error_set(err, RP_ERR_LIMIT, "DynamoDB item too large (over %zu bytes of JSON)",
                                        b->max)
                         : nomem(err);
    return 0;
}

/* ---- decoding ----------------------------------------------------------- */

/* A decoded JSON string into an owned counted string. */
static int take_str(const rp__json_value *v, rp__ddb_str *out)
{
    out->ptr = malloc(v->len + 1);
    if (!out->ptr)
        return -1;
    out->len = rp__json_str_decode(v, out->ptr);
    out->ptr[out->len] = '\0';
    return 0;
}

static int syntax(const rp__json_reader *r, rp_error *err)
{
    return rp_error_set(err, RP_ERR_INVALID, "malformed JSON (%s)", r->err.msg);
}

/* One attribute value, {"TYPE": content}, whose object r has just entered
 * (start: its opening brace) into *out. */
static int decode_value(rp__json_reader *r, const char *start, const char *name, rp__ddb_value *out,
                        rp_error *err)
{
    rp__json_value key, v;
    int rc = rp__json_member(r, &key);
    if (rc < 0)
        return syntax(r, err);
    if (rc == 0)
        return rp_error_set(err, RP_ERR_INVALID, "attribute %s: a value with no type", name);
    if (rp__json_next(r, &v) != 1)
        return syntax(r, err);
    char type[8] = "";
    if (rp__aws_json_copy_str(&key, type, sizeof type) != 0)
        snprintf(type, sizeof type, "?");
    rp__ddb_value val = {0};
    const char *bad = NULL;
    if (!strcmp(type, "S") || !strcmp(type, "N")) {
        val.type = type[0] == 'S' ? RP_DDB_S : RP_DDB_N;
        if (v.type != RP_JSON_STRING)
            bad = "is not a JSON string";
        else if (take_str(&v, &val.s) != 0)
            return nomem(err);
        else if (val.type == RP_DDB_N && !valid_number(val.s.ptr, val.s.len))
            bad = "is not a decimal number";
    } else if (!strcmp(type, "BOOL")) {
        val.type = RP_DDB_BOOL;
        val.b = v.type == RP_JSON_TRUE;
        if (v.type != RP_JSON_TRUE && v.type != RP_JSON_FALSE)
            bad = "is not true or false";
    } else if (!strcmp(type, "NULL")) {
        val.type = RP_DDB_NULL;
        if (v.type != RP_JSON_TRUE)
            bad = "is not true";
    } else if (!strcmp(type, "SS") || !strcmp(type, "NS")) {
        val.type = type[0] == 'S' ? RP_DDB_SS : RP_DDB_NS;
        if (v.type != RP_JSON_ARRAY) {
            bad = "is not an array";
        } else {
            size_t cap = 0;
            while (!bad && (rc = rp__json_element(r)) == 1) {
                rp__json_value e;
                if (rp__json_next(r, &e) != 1) {
                    value_free(&val);
                    return syntax(r, err);
                }
                if (e.type != RP_JSON_STRING) {
                    bad = "has an element that is not a string";
                    break;
                }
                rp__ddb_str *grown = rp__array_grow(val.set, val.n, &cap, sizeof *val.set, 4);
                if (!grown || take_str(&e, &grown[val.n]) != 0) {
                    if (grown)
                        val.set = grown;
                    value_free(&val);
                    return nomem(err);
                }
                val.set = grown;
                val.n++;
                if (val.type == RP_DDB_NS && !valid_number(val.set[val.n - 1].ptr, val.set[val.n - 1].len))
                    bad = "has an element that is not a decimal number";
            }
            if (rc < 0) {
                value_free(&val);
                return syntax(r, err);
            }
        }
    } else if (!strcmp(type, "B") || !strcmp(type, "BS") || !strcmp(type, "L") || !strcmp(type, "M")) {
        val.type = RP_DDB_RAW;
        if (rp__aws_json_skip(r, &v) != 0)
            return syntax(r, err);
    } else {
        return rp_error_set(err, RP_ERR_INVALID, "attribute %s: unknown type %s", name, type);
    }
    if (bad) {
        value_free(&val);
        return rp_error_set(err, RP_ERR_INVALID, "attribute %s: the %s value %s", name, type, bad);
    }
    rc = rp__json_member(r, &key);
    if (rc != 0) {
        value_free(&val);
        return rc < 0
                   ? syntax(r, err)
                   : rp_error_set(err, RP_ERR_INVALID, "attribute %s: a value with more than one type", name);
    }
    if (val.type == RP_DDB_RAW) {
        /* Compacting adds at most a blank after each ':' and ','. */
        size_t len = (size_t)(r->p - start);
        rp__buf raw;
        rp__buf_init(&raw, 2 * len + 16);
        int bad_json = rp__json_compact(&raw, start, len, RP_AWS_JSONAPI_DEPTH);
        if (bad_json || raw.failed) {
            bool oom = raw.failed;
            rp__buf_cleanup(&raw);
            return oom ? nomem(err)
                       : rp_error_set(err, RP_ERR_INVALID, "attribute %s: malformed %s value", name, type);
        }
        val.s.ptr = rp__buf_steal(&raw, &val.s.len);
        if (!val.s.ptr)
            return nomem(err);
    }
    *out = val;
    return 0;
}

/* The attributes of the object that r has just entered, into *out (empty,
 * not yet owning anything). */
static int decode_item(rp__json_reader *r, rp__ddb_item *out, rp_error *err)
{
    rp__json_value key, v;
    int rc;
    while ((rc = rp__json_member(r, &key)) == 1) {
        char *name = malloc(key.len + 1);
        if (!name)
            return nomem(err);
        size_t n = rp__json_str_decode(&key, name);
        name[n] = '\0';
        if (n == 0 || memchr(name, '\0', n)) {
            free(name);
            return rp_error_set(err, RP_ERR_INVALID, "an attribute name that is empty or holds a NUL");
        }
        if (rp__json_next(r, &v) != 1) {
            free(name);
            return syntax(r, err);
        }
        if (v.type != RP_JSON_OBJECT) {
            rp_error_set(err, RP_ERR_INVALID, "attribute %.200s: the value is not an object {\"TYPE\": ...}",
                         name);
            free(name);
            return -1;
        }
        rp__ddb_value val;
        char shown[208];
        snprintf(shown, sizeof shown, "%.200s", name);
        if (decode_value(r, v.ptr, shown, &val, err) != 0 || put_value(out, name, &val, err) != 0) {
            free(name);
            return -1;
        }
        free(name);
    }
    return rc < 0 ? syntax(r, err) : 0;
}

int rp__ddb_item_decode(const char *json, size_t len, rp__ddb_item *out, rp_error *err)
{
    rp__ddb_item_free(out);
    rp__json_reader r;
    rp__json_value v;
    rp__json_init(&r, json ? json : "", json ? len : 0, RP_AWS_JSONAPI_DEPTH);
    int rc = rp__json_next(&r, &v);
    if (rc != 1)
        return syntax(&r, err);
    if (v.type != RP_JSON_OBJECT)
        return rp_error_set(err, RP_ERR_INVALID, "a DynamoDB item must be a JSON object");
    if (decode_item(&r, out, err) != 0 || (rp__json_end(&r) != 1 && syntax(&r, err))) {
        rp__ddb_item_free(out);
        return -1;
    }
    return 0;
}

/* ---- the client --------------------------------------------------------- */

struct rp__dynamodb {
    rp__aws_jsonapi api;
};

static const rp__aws_jsonapi_service dynamodb_service = {
    .name = SERVICE,
    .signing_name = "dynamodb",
    .env_id = "DYNAMODB",
    .target_prefix = RP_DYNAMODB_TARGET_PREFIX,
    .content_type = RP_DYNAMODB_CONTENT_TYPE,
    .max_request_bytes = REQUEST_MAX,
    .max_response_bytes = RP_DYNAMODB_MAX_RESPONSE_BYTES,
};

int rp__dynamodb_open(const rp__dynamodb_options *opt, rp__dynamodb **out, rp_error *err)
{
    if (!out)
        return rp_error_set(err, RP_ERR_INVALID, "dynamodb: no output handle");
    *out = NULL;
    rp__dynamodb *d = calloc(1, sizeof *d);
    if (!d)
        return nomem(err);
    if (rp__aws_jsonapi_init(&d->api, &dynamodb_service, opt, err) != 0) {
        free(d);
        return -1;
    }
    *out = d;
    return 0;
}

void rp__dynamodb_close(rp__dynamodb *d)
{
    if (!d)
        return;
    rp__aws_jsonapi_cleanup(&d->api);
    free(d);
}

const char *rp__dynamodb_endpoint(const rp__dynamodb *d)
{
    return d->api.url;
}

const char *rp__dynamodb_region(const rp__dynamodb *d)
{
    return d->api.region;
}

const char *rp__dynamodb_last_code(const rp__dynamodb *d)
{
    return d->api.last_code;
}

rp__http_client *rp__dynamodb_http(rp__dynamodb *d)
{
    return &d->api.http;
}

/* ---- requests ----------------------------------------------------------- */

/* DynamoDB's rule: 3 to 255 of A-Z a-z 0-9 _ - . */
static int check_table(const char *table, rp_error *err)
{
    size_t n = table ? strlen(table) : 0;
    bool ok = n >= 3 && n <= RP_DYNAMODB_TABLE_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        char c = table[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
             c == '-' || c == '.';
    }
    if (!ok)
        return rp_error_set(err, RP_ERR_INVALID,
                            "ValidationException: a DynamoDB table name is 3 to 255 characters of "
                            "A-Z a-z 0-9 _ - . ('%.64s')",
                            table ? table : "");
    return 0;
}

/* Starts a request: {"TableName": TABLE */
static rp__buf *begin(rp__dynamodb *d, const char *table)
{
    rp__buf *b = &d->api.body;
    rp__buf_reset(b);
    rp__buf_lit(b, "{\"TableName\": ");
    rp__aws_json_str(b, table);
    return b;
}

/* , "FIELD": ITEM */
static int add_item(rp__buf *b, const char *field, const rp__ddb_item *it, rp_error *err)
{
    rp__buf_printf(b, ", \"%s\": ", field);
    if (rp__ddb_item_encode(it, b, err) != 0) {
        rp_error_prefix(err, "%s", field);
        return -1;
    }
    return 0;
}

/* The expression's condition as FIELD, then its placeholders. */
static int add_expr(rp__buf *b, const char *field, const rp__ddb_expr *x, rp_error *err)
{
    if (!x)
        return 0;
    if (x->condition) {
        rp__buf_printf(b, ", \"%s\": ", field);
        rp__aws_json_str(b, x->condition);
    }
    if (x->n_names) {
        rp__buf_lit(b, ", \"ExpressionAttributeNames\": {");
        for (size_t i = 0; i < x->n_names; i++) {
            const rp__ddb_name *nm = &x->names[i];
            if (!nm->placeholder || nm->placeholder[0] != '#' || !nm->name || !nm->name[0])
                return rp_error_set(err, RP_ERR_INVALID,
                                    "ExpressionAttributeNames: entry %zu must map \"#name\" to a name", i);
            if (i)
                rp__buf_lit(b, ", ");
            rp__aws_json_str(b, nm->placeholder);
            rp__buf_lit(b, ": ");
            rp__aws_json_str(b, nm->name);
        }
        rp__buf_putc(b, '}');
    }
    if (x->values && x->values->n) {
        for (size_t i = 0; i < x->values->n; i++)
            if (x->values->attrs[i].name[0] != ':')
                return rp_error_set(err, RP_ERR_INVALID,
                                    "ExpressionAttributeValues: '%.64s' must start with ':'",
                                    x->values->attrs[i].name);
        if (add_item(b, "ExpressionAttributeValues", x->values, err) != 0)
            return -1;
    }
    return 0;
}

static int call(rp__dynamodb *d, const char *op, rp_error *err)
{
    rp__buf_putc(&d->api.body, '}');
    return rp__aws_jsonapi_call(&d->api, op, err);
}

/* A write's call: a failed condition is its own outcome. */
static int write_call(rp__dynamodb *d, const char *op, rp_error *err)
{
    if (call(d, op, err) == 0)
        return 0;
    if (!strcmp(d->api.last_code, CONDITION_FAILED)) {
        if (err)
            err->retriable = false;
        return RP_DDB_CONDITION_FAILED;
    }
    return -1;
}

/* Reads the answer's members, decoding the object under `field` (when
 * there) into *out.  Returns 1 when it was there, 0 when not, -1. */
static int answer_item(rp__dynamodb *d, const char *op, const char *field, rp__ddb_item *out, rp_error *err)
{
    rp__json_reader r;
    rp__json_value key, v;
    int rc, found = 0;
    if (rp__aws_jsonapi_answer(&d->api, &r, op, err) != 0)
        return -1;
    while ((rc = rp__json_member(&r, &key)) == 1) {
        if (rp__json_next(&r, &v) != 1)
            return rp__aws_json_error(&r, SERVICE, op, err);
        if (rp__json_str_eq(&key, field, strlen(field)) && v.type == RP_JSON_OBJECT) {
            rp_error e;
            rp__ddb_item_free(out);
            if (decode_item(&r, out, &e) != 0) {
                rp__ddb_item_free(out);
                return e.code == RP_ERR_NOMEM
                           ? nomem(err)
                           : rp__aws_bad_answer(err, SERVICE, op, "an %s it cannot read: %s", field, e.msg);
            }
            found = 1;
        } else if (rp__aws_json_skip(&r, &v) != 0) {
            return rp__aws_json_error(&r, SERVICE, op, err);
        }
    }
    if (rc < 0)
        return rp__aws_json_error(&r, SERVICE, op, err);
    return found;
}

/* ---- tables ------------------------------------------------------------- */

typedef struct attr_def {
    rp__json_value name, type;
} attr_def;

/* The members of one object of KeySchema or AttributeDefinitions. */
static int read_pair(rp__json_reader *r, const char *k1, rp__json_value *v1, const char *k2,
                     rp__json_value *v2)
{
    rp__json_value key, v;
    int rc;
    while ((rc = rp__json_member(r, &key)) == 1) {
        if (rp__json_next(r, &v) != 1)
            return -1;
        if (rp__json_str_eq(&key, k1, strlen(k1)) && v.type == RP_JSON_STRING)
            *v1 = v;
        else if (rp__json_str_eq(&key, k2, strlen(k2)) && v.type == RP_JSON_STRING)
            *v2 = v;
        else if (rp__aws_json_skip(r, &v) != 0)
            return -1;
    }
    return rc;
}

/* An array of pairs: each {k1, k2} object goes to fn(ctx, v1, v2). */
static int read_pairs(rp__json_reader *r, const char *k1, const char *k2,
                      void (*fn)(void *ctx, const rp__json_value *v1, const rp__json_value *v2), void *ctx)
{
    int rc;
    while ((rc = rp__json_element(r)) == 1) {
        rp__json_value v, v1 = {.type = RP_JSON_NULL}, v2 = {.type = RP_JSON_NULL};
        if (rp__json_next(r, &v) != 1)
            return -1;
        if (v.type != RP_JSON_OBJECT) {
            if (rp__aws_json_skip(r, &v) != 0)
                return -1;
            continue;
        }
        if (read_pair(r, k1, &v1, k2, &v2) != 0)
            return -1;
        fn(ctx, &v1, &v2);
    }
    return rc;
}

static void take_hash_key(void *ctx, const rp__json_value *name, const rp__json_value *type)
{
    rp__json_value *hash = ctx;
    if (type->type == RP_JSON_STRING && rp__json_str_eq(type, "HASH", 4))
        *hash = *name;
}

typedef struct defs {
    attr_def d[TABLE_DEFS_MAX];
    size_t n;
} defs;

static void take_def(void *ctx, const rp__json_value *name, const rp__json_value *type)
{
    defs *ds = ctx;
    if (ds->n < TABLE_DEFS_MAX && name->type == RP_JSON_STRING && type->type == RP_JSON_STRING)
        ds->d[ds->n++] = (attr_def){*name, *type};
}

static bool same_string(const rp__json_value *a, const rp__json_value *b)
{
    char x[256], y[256];
    return !rp__aws_json_copy_str(a, x, sizeof x) && !rp__aws_json_copy_str(b, y, sizeof y) && !strcmp(x, y);
}

int rp__dynamodb_describe_table(rp__dynamodb *d, const char *table, rp__dynamodb_table *out, rp_error *err)
{
    static const char op[] = "DescribeTable";
    memset(out, 0, sizeof *out);
    if (check_table(table, err) != 0)
        return -1;
    begin(d, table);
    if (call(d, op, err) != 0)
        return -1;
    rp__json_reader r;
    rp__json_value key, v;
    rp__json_value hash = {.type = RP_JSON_NULL};
    defs ds = {.n = 0};
    bool found = false;
    int rc;
    if (rp__aws_jsonapi_answer(&d->api, &r, op, err) != 0)
        return -1;
    while ((rc = rp__json_member(&r, &key)) == 1) {
        if (rp__json_next(&r, &v) != 1)
            return rp__aws_json_error(&r, SERVICE, op, err);
        if (!rp__json_str_eq(&key, "Table", 5) || v.type != RP_JSON_OBJECT) {
            if (rp__aws_json_skip(&r, &v) != 0)
                return rp__aws_json_error(&r, SERVICE, op, err);
            continue;
        }
        found = true;
        int rc2;
        while ((rc2 = rp__json_member(&r, &key)) == 1) {
            if (rp__json_next(&r, &v) != 1)
                return rp__aws_json_error(&r, SERVICE, op, err);
            int bad = 0;
            uint64_t count;
            if (rp__json_str_eq(&key, "TableName", 9)) {
                bad = rp__aws_json_copy_str(&v, out->name, sizeof out->name);
            } else if (rp__json_str_eq(&key, "TableStatus", 11)) {
                bad = rp__aws_json_copy_str(&v, out->status, sizeof out->status);
            } else if (rp__json_str_eq(&key, "ItemCount", 9)) {
                bad = rp__aws_json_uint(&v, INT64_MAX, &count);
                out->item_count = bad ? 0 : (int64_t)count;
            } else if (rp__json_str_eq(&key, "CreationDateTime", 16)) {
                bad = rp__aws_json_time_ms(&v, &out->created_ms);
            } else if (rp__json_str_eq(&key, "KeySchema", 9) && v.type == RP_JSON_ARRAY) {
                bad = read_pairs(&r, "AttributeName", "KeyType", take_hash_key, &hash);
            } else if (rp__json_str_eq(&key, "AttributeDefinitions", 20) && v.type == RP_JSON_ARRAY) {
                bad = read_pairs(&r, "AttributeName", "AttributeType", take_def, &ds);
            } else if (rp__json_str_eq(&key, "BillingModeSummary", 18) && v.type == RP_JSON_OBJECT) {
                rp__json_value mode = {.type = RP_JSON_NULL}, unused = {.type = RP_JSON_NULL};
                bad = read_pair(&r, "BillingMode", &mode, "LastUpdateToPayPerRequestDateTime", &unused);
                if (!bad && mode.type == RP_JSON_STRING)
                    bad = rp__aws_json_copy_str(&mode, out->billing_mode, sizeof out->billing_mode);
            } else {
                bad = rp__aws_json_skip(&r, &v);
            }
            if (bad)
                return r.failed ? rp__aws_json_error(&r, SERVICE, op, err)
                                : rp__aws_bad_answer(err, SERVICE, op, "an unexpected value in Table");
        }
        if (rc2 < 0)
            return rp__aws_json_error(&r, SERVICE, op, err);
    }
    if (rc < 0)
        return rp__aws_json_error(&r, SERVICE, op, err);
    if (!found || !out->status[0])
        return rp__aws_bad_answer(err, SERVICE, op, "no Table.TableStatus");
    if (!out->name[0])
        snprintf(out->name, sizeof out->name, "%s", table);
    if (hash.type == RP_JSON_STRING) {
        if (rp__aws_json_copy_str(&hash, out->hash_key, sizeof out->hash_key) != 0)
            out->hash_key[0] = '\0';
        for (size_t i = 0; i < ds.n; i++)
            if (same_string(&ds.d[i].name, &hash) &&
                rp__aws_json_copy_str(&ds.d[i].type, out->hash_key_type, sizeof out->hash_key_type) != 0)
                out->hash_key_type[0] = '\0';
    }
    return 0;
}

enum wait_for {
    WAIT_ACTIVE,
    WAIT_GONE
};

typedef struct wait_ctx {
    rp__dynamodb *d;
    const char *table;
    enum wait_for what;
    int rc; /* the last DescribeTable's */
    rp__dynamodb_table in;
} wait_ctx;

static int wait_probe(void *ctx, rp_error *err)
{
    wait_ctx *w = ctx;
    rp_error e;
    rp_error_clear(&e);
    w->rc = rp__dynamodb_describe_table(w->d, w->table, &w->in, &e);
    if (w->rc != 0 && e.code == RP_ERR_NOT_FOUND)
        return w->what == WAIT_GONE ? 1 : 0; /* a new table may not be visible yet */
    if (w->rc != 0) {
        if (err)
            *err = e;
        return -1;
    }
    if (w->what == WAIT_ACTIVE && !strcmp(w->in.status, "DELETING"))
        return rp_error_set(err, RP_ERR_NOT_FOUND, "ResourceNotFoundException: table %s is being deleted",
                            w->table);
    return w->what == WAIT_ACTIVE && !strcmp(w->in.status, "ACTIVE");
}

static int wait_for(rp__dynamodb *d, const char *table, enum wait_for what, rp_error *err)
{
    wait_ctx w = {.d = d, .table = table, .what = what};
    int rc = rp__aws_jsonapi_poll(&d->api, wait_probe, &w, err);
    if (rc <= 0)
        return rc;
    const char *status = w.rc == 0 ? w.in.status : "not visible";
    if (what == WAIT_GONE) {
        rp_log(RP_LOG_WARN, "DynamoDB table still being deleted; going on", "table", table, "status", status,
               NULL);
        return 0;
    }
    rp_error_set(err, RP_ERR_IO, "DynamoDB table %s is still %s after %u ms (expected ACTIVE)", table, status,
                 d->api.wait_timeout_ms);
    if (err)
        err->retriable = true;
    return -1;
}

int rp__dynamodb_wait_active(rp__dynamodb *d, const char *table, rp_error *err)
{
    if (check_table(table, err) != 0)
        return -1;
    return wait_for(d, table, WAIT_ACTIVE, err);
}

int rp__dynamodb_create_table(rp__dynamodb *d, const char *table, const char *hash_key, rp_error *err)
{
    if (check_table(table, err) != 0 || check_name(hash_key, err) != 0)
        return -1;
    rp__buf *b = begin(d, table);
    rp__buf_lit(b, ", \"AttributeDefinitions\": [{\"AttributeName\": ");
    rp__aws_json_str(b, hash_key);
    rp__buf_lit(b, ", \"AttributeType\": \"S\"}], \"KeySchema\": [{\"AttributeName\": ");
    rp__aws_json_str(b, hash_key);
    rp__buf_lit(b, ", \"KeyType\": \"HASH\"}], \"BillingMode\": \"PAY_PER_REQUEST\"");
    int existed = 0;
    if (call(d, "CreateTable", err) != 0) {
        if (strcmp(d->api.last_code, "ResourceInUseException") != 0)
            return -1;
        existed = 1;
    }
    if (wait_for(d, table, WAIT_ACTIVE, err) != 0)
        return -1;
    if (existed && err)
        rp_error_clear(err);
    return existed;
}

int rp__dynamodb_delete_table(rp__dynamodb *d, const char *table, rp_error *err)
{
    if (check_table(table, err) != 0)
        return -1;
    begin(d, table);
    if (call(d, "DeleteTable", err) != 0)
        return -1;
    return wait_for(d, table, WAIT_GONE, err);
}

/* ---- items -------------------------------------------------------------- */

static int check_key(const rp__ddb_item *key, rp_error *err)
{
    if (!key || !key->n)
        return rp_error_set(err, RP_ERR_INVALID, "DynamoDB key missing: give the key attribute(s)");
    return 0;
}

int rp__dynamodb_get_item(rp__dynamodb *d, const char *table, const rp__ddb_item *key, bool consistent,
                          rp__ddb_item *out, rp_error *err)
{
    static const char op[] = "GetItem";
    rp__ddb_item_free(out);
    if (check_table(table, err) != 0 || check_key(key, err) != 0)
        return -1;
    rp__buf *b = begin(d, table);
    if (add_item(b, "Key", key, err) != 0)
        return -1;
    if (consistent)
        rp__buf_lit(b, ", \"ConsistentRead\": true");
    if (call(d, op, err) != 0)
        return -1;
    int found = answer_item(d, op, "Item", out, err);
    return found < 0 ? -1 : !found;
}

/* PutItem or DeleteItem: the item (or key) under field, and the condition. */
static int write_one(rp__dynamodb *d, const char *op, const char *table, const char *field,
                     const rp__ddb_item *item, const rp__ddb_expr *expr, rp_error *err)
{
    if (check_table(table, err) != 0 || check_key(item, err) != 0)
        return -1;
    rp__buf *b = begin(d, table);
    if (add_item(b, field, item, err) != 0 || add_expr(b, "ConditionExpression", expr, err) != 0)
        return -1;
    return write_call(d, op, err);
}

int rp__dynamodb_put_item(rp__dynamodb *d, const char *table, const rp__ddb_item *item,
                          const rp__ddb_expr *expr, rp_error *err)
{
    return write_one(d, "PutItem", table, "Item", item, expr, err);
}

int rp__dynamodb_update_item(rp__dynamodb *d, const char *table, const rp__ddb_item *key, const char *update,
                             const rp__ddb_expr *expr, rp__ddb_item *new_item, rp_error *err)
{
    static const char op[] = "UpdateItem";
    rp__ddb_item_free(new_item);
    if (check_table(table, err) != 0 || check_key(key, err) != 0)
        return -1;
    if (!update || !*update)
        return rp_error_set(err, RP_ERR_INVALID, "UpdateItem needs an UpdateExpression");
    rp__buf *b = begin(d, table);
    if (add_item(b, "Key", key, err) != 0)
        return -1;
    rp__buf_lit(b, ", \"UpdateExpression\": ");
    rp__aws_json_str(b, update);
    if (add_expr(b, "ConditionExpression", expr, err) != 0)
        return -1;
    if (new_item)
        rp__buf_lit(b, ", \"ReturnValues\": \"ALL_NEW\"");
    int rc = write_call(d, op, err);
    if (rc != 0 || !new_item)
        return rc;
    int found = answer_item(d, op, "Attributes", new_item, err);
    if (found < 0)
        return -1;
    if (!found)
        return rp__aws_bad_answer(err, SERVICE, op, "no Attributes (ReturnValues ALL_NEW)");
    return 0;
}

int rp__dynamodb_delete_item(rp__dynamodb *d, const char *table, const rp__ddb_item *key,
                             const rp__ddb_expr *expr, rp_error *err)
{
    return write_one(d, "DeleteItem", table, "Key", key, expr, err);
}

/* One Scan answer: cb for each item of Items, LastEvaluatedKey into *next
 * (empty when absent). */
static int scan_answer(rp__dynamodb *d, rp__ddb_item_fn cb, void *ctx, rp__ddb_item *next, rp_error *err)
{
    static const char op[] = "Scan";
    rp__json_reader r;
    rp__json_value key, v;
    rp__ddb_item item = {0};
    rp_error e;
    int rc;
    rp__ddb_item_free(next);
    if (rp__aws_jsonapi_answer(&d->api, &r, op, err) != 0)
        return -1;
    while ((rc = rp__json_member(&r, &key)) == 1) {
        if (rp__json_next(&r, &v) != 1)
            goto json_fail;
        if (rp__json_str_eq(&key, "Items", 5) && v.type == RP_JSON_ARRAY) {
            int re;
            while ((re = rp__json_element(&r)) == 1) {
                if (rp__json_next(&r, &v) != 1)
                    goto json_fail;
                if (v.type != RP_JSON_OBJECT) {
                    rp__aws_bad_answer(err, SERVICE, op, "an element of Items that is not an object");
                    goto fail;
                }
                rp__ddb_item_free(&item);
                if (decode_item(&r, &item, &e) != 0)
                    goto item_fail;
                if (cb && cb(ctx, &item) != 0) {
                    rp_error_set(err, RP_ERR_INTERNAL, "DynamoDB Scan stopped by its callback");
                    goto fail;
                }
            }
            if (re < 0)
                goto json_fail;
        } else if (rp__json_str_eq(&key, "LastEvaluatedKey", 16) && v.type == RP_JSON_OBJECT) {
            rp__ddb_item_free(next);
            if (decode_item(&r, next, &e) != 0)
                goto item_fail;
        } else if (rp__aws_json_skip(&r, &v) != 0) {
            goto json_fail;
        }
    }
    if (rc < 0)
        goto json_fail;
    rp__ddb_item_free(&item);
    return 0;
item_fail:
    if (e.code == RP_ERR_NOMEM)
        nomem(err);
    else
        rp__aws_bad_answer(err, SERVICE, op, "an item it cannot read: %s", e.msg);
    goto fail;
json_fail:
    rp__aws_json_error(&r, SERVICE, op, err);
fail:
    rp__ddb_item_free(&item);
    rp__ddb_item_free(next);
    return -1;
}

int rp__dynamodb_scan(rp__dynamodb *d, const char *table, const rp__dynamodb_scan_options *opt,
                      rp__ddb_item_fn cb, void *ctx, size_t *pages, rp_error *err)
{
    rp__dynamodb_scan_options none = {0};
    if (!opt)
        opt = &none;
    if (pages)
        *pages = 0;
    if (check_table(table, err) != 0)
        return -1;
    rp__ddb_item start = {0}, next = {0};
    rp__buf seen, now;
    rp__buf_init(&seen, REQUEST_MAX);
    rp__buf_init(&now, REQUEST_MAX);
    int rc = -1;
    for (;;) {
        rp__buf *b = begin(d, table);
        if (opt->page_limit)
            rp__buf_printf(b, ", \"Limit\": %" PRIu32, opt->page_limit);
        if (opt->consistent)
            rp__buf_lit(b, ", \"ConsistentRead\": true");
        if (add_expr(b, "FilterExpression", opt->filter, err) != 0)
            break;
        if (start.n && add_item(b, "ExclusiveStartKey", &start, err) != 0)
            break;
        if (call(d, "Scan", err) != 0 || scan_answer(d, cb, ctx, &next, err) != 0)
            break;
        if (pages)
            (*pages)++;
        if (!next.n) {
            rc = 0;
            break;
        }
        /* A LastEvaluatedKey given twice would make this loop forever. */
        rp__buf_reset(&now);
        if (rp__ddb_item_encode(&next, &now, err) != 0)
            break;
        if (seen.len == now.len && !memcmp(seen.data, now.data, now.len)) {
            rp__aws_bad_answer(err, SERVICE, "Scan", "the same LastEvaluatedKey twice");
            break;
        }
        rp__buf tmp = seen;
        seen = now;
        now = tmp;
        rp__ddb_item swap = start;
        start = next;
        next = swap;
    }
    rp__ddb_item_free(&start);
    rp__ddb_item_free(&next);
    rp__buf_cleanup(&seen);
    rp__buf_cleanup(&now);
    return rc;
}
