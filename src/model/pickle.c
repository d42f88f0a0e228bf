/* The restricted unpickler (see pickle.h and docs/models.md). */
#include "model/pickle.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/budget.h"

/* What a global may do when it is called (REDUCE, NEWOBJ). */
enum role {
    R_CLASS,       /* an instance recording class, args and state */
    R_NDARRAY,     /* numpy.ndarray: only an argument of _reconstruct */
    R_RECONSTRUCT, /* numpy.core.multiarray._reconstruct(ndarray, shape, b'b') */
    R_DTYPE,       /* numpy.dtype(spec, align, copy) */
    R_SCALAR,      /* numpy.core.multiarray.scalar(dtype, bytes) */
    R_FROMBUFFER,  /* numpy.core.numeric._frombuffer(buf, dtype, shape, order) */
    R_CODECS,      /* _codecs.encode(str, 'latin1') */
    R_COPYREG,     /* copyreg._reconstructor(cls, object, None) */
    R_TYPE,        /* a type used as a value only (numpy.float64, builtins.object) */
};

typedef struct allowed {
    const char *module, *name;
    enum role role;
} allowed;

static const allowed ALLOW[] = {
    {"sklearn.pipeline", "Pipeline", R_CLASS},
    {"sklearn.feature_extraction._dict_vectorizer", "DictVectorizer", R_CLASS},
    {"sklearn.feature_extraction.dict_vectorizer", "DictVectorizer", R_CLASS},
    {"sklearn.linear_model._base", "LinearRegression", R_CLASS},
    {"sklearn.linear_model.base", "LinearRegression", R_CLASS},
    {"sklearn.linear_model._ridge", "Ridge", R_CLASS},
    {"sklearn.linear_model._coordinate_descent", "Lasso", R_CLASS},
    {"sklearn.linear_model._coordinate_descent", "ElasticNet", R_CLASS},
    {"sklearn.tree._classes", "DecisionTreeRegressor", R_CLASS},
    {"sklearn.tree._classes", "ExtraTreeRegressor", R_CLASS},
    {"sklearn.tree._tree", "Tree", R_CLASS},
    {"sklearn.ensemble._forest", "RandomForestRegressor", R_CLASS},
    {"sklearn.ensemble._forest", "ExtraTreesRegressor", R_CLASS},
    {"sklearn.ensemble._gb", "GradientBoostingRegressor", R_CLASS},
    {"sklearn.dummy", "DummyRegressor", R_CLASS},
    /* Loss objects a GradientBoostingRegressor carries (never evaluated). */
    {"sklearn.ensemble._gb_losses", "LeastSquaresError", R_CLASS},
    {"sklearn.ensemble._gb_losses", "LeastAbsoluteError", R_CLASS},
    {"sklearn.ensemble._gb_losses", "HuberLossFunction", R_CLASS},
    {"sklearn.ensemble._gb_losses", "QuantileLossFunction", R_CLASS},
    {"sklearn._loss.loss", "HalfSquaredError", R_CLASS},
    {"sklearn._loss.loss", "AbsoluteError", R_CLASS},
    {"sklearn._loss.loss", "PinballLoss", R_CLASS},
    {"sklearn._loss.loss", "HuberLoss", R_CLASS},
    {"sklearn._loss.link", "IdentityLink", R_CLASS},
    {"sklearn._loss.link", "Interval", R_CLASS},
    {"sklearn._loss._loss", "CyHalfSquaredError", R_CLASS},
    {"sklearn._loss._loss", "CyAbsoluteError", R_CLASS},
    {"sklearn._loss._loss", "CyPinballLoss", R_CLASS},
    {"sklearn._loss._loss", "CyHuberLoss", R_CLASS},
    /* The random state a fitted GradientBoostingRegressor keeps (_rng). */
    {"numpy.random._pickle", "__randomstate_ctor", R_CLASS},
    {"numpy.random._pickle", "__bit_generator_ctor", R_CLASS},
    {"numpy.random._pickle", "__generator_ctor", R_CLASS},
    {"numpy.random.mtrand", "RandomState", R_CLASS},
    {"numpy.random._mt19937", "MT19937", R_TYPE},
    /* numpy */
    {"numpy", "ndarray", R_NDARRAY},
    {"numpy", "dtype", R_DTYPE},
    {"numpy.core.multiarray", "_reconstruct", R_RECONSTRUCT},
    {"numpy._core.multiarray", "_reconstruct", R_RECONSTRUCT},
    {"numpy.core.multiarray", "scalar", R_SCALAR},
    {"numpy._core.multiarray", "scalar", R_SCALAR},
    {"numpy.core.numeric", "_frombuffer", R_FROMBUFFER},
    {"numpy._core.numeric", "_frombuffer", R_FROMBUFFER},
    {"numpy", "float64", R_TYPE},
    {"numpy", "float32", R_TYPE},
    {"numpy", "int64", R_TYPE},
    {"numpy", "int32", R_TYPE},
    /* Python */
    {"_codecs", "encode", R_CODECS},
    {"copyreg", "_reconstructor", R_COPYREG},
    {"copy_reg", "_reconstructor", R_COPYREG}, /* protocol 2 with fix_imports */
    {"__builtin__", "object", R_TYPE},
    {"builtins", "object", R_TYPE},
    {"builtins", "slice", R_CLASS},
};
#define N_ALLOW (sizeof ALLOW / sizeof ALLOW[0])

typedef struct pk_state {
    const unsigned char *p, *end, *start;
    pk_graph *g;
    rp_error *err;
    pk_value **stack;
    size_t sp, scap;
    size_t *marks;
    size_t nmarks, mcap;
    pk_value **memo;
    size_t nmemo, memocap;
    size_t ops;
    rp__model_budget *budget; /* or NULL */
} pk_state;

static int fail(pk_state *st, rp_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(pk_state *st, rp_code code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rp_error_set(st->err, code, "pickle (offset %zu): %s", (size_t)(st->p - st->start), msg);
}

static int account(pk_state *st, size_t n)
{
    if (n > PK_MAX_BYTES || st->g->bytes > PK_MAX_BYTES - n)
        return fail(st, RP_ERR_LIMIT, "over the memory limit of %zu bytes for one pickle", PK_MAX_BYTES);
    if (rp__budget_take(st->budget, n, st->err, "the unpickled objects, at offset %zu of the pickle",
                        (size_t)(st->p - st->start)) < 0)
        return -1;
    st->g->bytes += n;
    return 0;
}

static pk_value *newv(pk_state *st, pk_type t)
{
    if (account(st, sizeof(pk_value)) < 0)
        return NULL;
    pk_value *v = calloc(1, sizeof *v);
    if (!v) {
        fail(st, RP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    v->type = t;
    v->gid = -1;
    v->next_alloc = st->g->arena;
    st->g->arena = v;
    return v;
}

static int items_reserve(pk_state *st, pk_value *v, size_t extra)
{
    size_t need = v->n + extra;
    if (v->type == PK_DICT)
        need = 2 * v->n + extra;
    if (need <= v->cap)
        return 0;
    size_t cap = v->cap ? v->cap : 4;
    while (cap < need)
        cap *= 2;
    if (account(st, (cap - v->cap) * sizeof(pk_value *)) < 0)
        return -1;
    pk_value **p = realloc(v->items, cap * sizeof *p);
    if (!p)
        return fail(st, RP_ERR_NOMEM, "out of memory");
    v->items = p;
    v->cap = cap;
    return 0;
}

static int push(pk_state *st, pk_value *v)
{
    if (!v)
        return -1;
    if (st->sp == st->scap) {
        if (st->sp >= PK_MAX_STACK)
            return fail(st, RP_ERR_LIMIT, "more than %zu values on the stack", PK_MAX_STACK);
        size_t cap = st->scap ? st->scap * 2 : 64;
        if (account(st, (cap - st->scap) * sizeof(pk_value *)) < 0)
            return -1;
        pk_value **p = realloc(st->stack, cap * sizeof *p);
        if (!p)
            return fail(st, RP_ERR_NOMEM, "out of memory");
        st->stack = p;
        st->scap = cap;
    }
    st->stack[st->sp++] = v;
    return 0;
}

static size_t mark_base(pk_state *st)
{
    return st->nmarks ? st->marks[st->nmarks - 1] : 0;
}

static pk_value *pop(pk_state *st)
{
    if (st->sp <= mark_base(st)) {
        fail(st, RP_ERR_INVALID, "stack underflow");
        return NULL;
    }
    return st->stack[--st->sp];
}

static pk_value *top(pk_state *st)
{
    if (st->sp <= mark_base(st)) {
        fail(st, RP_ERR_INVALID, "stack underflow");
        return NULL;
    }
    return st->stack[st->sp - 1];
}

/* Pops the items above the last MARK and the MARK; returns their index. */
static int pop_mark(pk_state *st, size_t *from)
{
    if (!st->nmarks)
        return fail(st, RP_ERR_INVALID, "no MARK on the stack");
    *from = st->marks[--st->nmarks];
    return 0;
}

static int need(pk_state *st, size_t n)
{
    if ((size_t)(st->end - st->p) < n)
        return fail(st, RP_ERR_INVALID, "truncated: %zu bytes needed, %zu left", n,
                    (size_t)(st->end - st->p));
    return 0;
}

static uint64_t rd_le(const unsigned char *p, int n)
{
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--)
        x = (x << 8) | p[i];
    return x;
}

static const char *role_name(enum role r)
{
    switch (r) {
    case R_CLASS: return "class";
    case R_NDARRAY: return "numpy.ndarray";
    case R_RECONSTRUCT: return "_reconstruct";
    case R_DTYPE: return "numpy.dtype";
    case R_SCALAR: return "numpy scalar";
    case R_FROMBUFFER: return "_frombuffer";
    case R_CODECS: return "_codecs.encode";
    case R_COPYREG: return "copyreg._reconstructor";
    case R_TYPE: return "type";
    }
    return "?";
}

static int global(pk_state *st, const char *mod, size_t ml, const char *name, size_t nl)
{
    for (size_t i = 0; i < N_ALLOW; i++) {
        if (strlen(ALLOW[i].module) == ml && !memcmp(ALLOW[i].module, mod, ml) &&
            strlen(ALLOW[i].name) == nl && !memcmp(ALLOW[i].name, name, nl)) {
            pk_value *v = newv(st, PK_GLOBAL);
            if (!v)
                return -1;
            v->gid = (int)i;
            return push(st, v);
        }
    }
    /* Print printable ASCII only. */
    char buf[200];
    size_t k = 0;
    for (size_t i = 0; i < ml + 1 + nl && k < sizeof buf - 4; i++) {
        unsigned char c = i < ml ? (unsigned char)mod[i] : i == ml ? '.' : (unsigned char)name[i - ml - 1];
        buf[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    buf[k] = '\0';
    return fail(st, RP_ERR_UNSUPPORTED, "refusing to load %s: not a class ridepred can serve", buf);
}

/* ---- numpy ---------------------------------------------------------------- */

static int parse_dtype_spec(pk_state *st, pk_value *dt, const pk_value *spec)
{
    if (!spec || spec->type != PK_STR || spec->n == 0 || spec->n > 16)
        return fail(st, RP_ERR_INVALID, "numpy.dtype needs a short type string");
    char s[17];
    memcpy(s, spec->s, spec->n);
    s[spec->n] = '\0';
    const char *q = s;
    dt->order = '|';
    if (*q == '<' || *q == '>' || *q == '|' || *q == '=') {
        dt->order = *q == '=' ? '<' : *q;
        q++;
    }
    if (!*q)
        return fail(st, RP_ERR_INVALID, "bad dtype \"%s\"", s);
    dt->kind = *q++;
    if (!*q) {
        dt->itemsize = dt->kind == 'O' ? 8 : dt->kind == 'b' || dt->kind == '?' ? 1 : 0;
    } else {
        unsigned long n = 0;
        for (; *q; q++) {
            if (*q < '0' || *q > '9' || n > 100000000)
                return fail(st, RP_ERR_INVALID, "bad dtype \"%s\"", s);
            n = n * 10 + (unsigned long)(*q - '0');
        }
        dt->itemsize = (uint32_t)n;
    }
    if (dt->kind == '?')
        dt->kind = 'b';
    if (dt->itemsize == 1)
        dt->order = '|';
    return 0;
}

static int build_dtype(pk_state *st, pk_value *dt, const pk_value *state)
{
    if (!state || state->type != PK_TUPLE || state->n < 8)
        return fail(st, RP_ERR_INVALID, "numpy dtype state is not an 8-tuple");
    int64_t version;
    if (!pk_int(state->items[0], &version) || version < 3)
        return fail(st, RP_ERR_UNSUPPORTED, "numpy dtype state version is not supported");
    const pk_value *endian = state->items[1];
    if (!endian || endian->type != PK_STR || endian->n != 1)
        return fail(st, RP_ERR_INVALID, "numpy dtype byte order is not a character");
    char o = endian->s[0];
    if (o != '<' && o != '>' && o != '|' && o != '=')
        return fail(st, RP_ERR_INVALID, "numpy dtype byte order '%c'", o);
    if (dt->itemsize > 1)
        dt->order = o == '=' ? '<' : o;
    if (state->items[2]->type != PK_NONE)
        return fail(st, RP_ERR_UNSUPPORTED, "numpy sub-array dtypes are not supported");
    const pk_value *names = state->items[3], *fields = state->items[4];
    if (names->type == PK_TUPLE && fields->type == PK_DICT) {
        dt->names = (pk_value *)names;
        dt->fields = (pk_value *)fields;
    } else if (names->type != PK_NONE || fields->type != PK_NONE) {
        return fail(st, RP_ERR_INVALID, "numpy dtype names/fields malformed");
    }
    int64_t elsize;
    if (!pk_int(state->items[5], &elsize))
        return fail(st, RP_ERR_INVALID, "numpy dtype element size is not an integer");
    if (elsize > 0) {
        if (elsize > 1 << 20)
            return fail(st, RP_ERR_LIMIT, "numpy dtype element size %lld", (long long)elsize);
        if (dt->kind == 'V')
            dt->itemsize = (uint32_t)elsize;
    }
    dt->built = true;
    return 0;
}

static int shape_of(pk_state *st, pk_value *arr, const pk_value *shape)
{
    if (!shape || shape->type != PK_TUPLE)
        return fail(st, RP_ERR_INVALID, "array shape is not a tuple");
    if (shape->n > PK_MAX_NDIM)
        return fail(st, RP_ERR_LIMIT, "array of %zu dimensions", shape->n);
    arr->ndim = (uint32_t)shape->n;
    uint64_t count = 1;
    for (size_t i = 0; i < shape->n; i++) {
        int64_t d;
        if (!pk_int(shape->items[i], &d) || d < 0)
            return fail(st, RP_ERR_INVALID, "array dimension is not a non-negative integer");
        arr->shape[i] = (uint64_t)d;
        if (d && count > ((uint64_t)1 << 40) / (uint64_t)d)
            return fail(st, RP_ERR_LIMIT, "array too large");
        count *= (uint64_t)d;
    }
    arr->count = count;
    return 0;
}

static int check_order(pk_state *st, const pk_value *arr, bool fortran)
{
    if (!fortran)
        return 0;
    int big = 0;
    for (uint32_t i = 0; i < arr->ndim; i++)
        big += arr->shape[i] > 1;
    if (big > 1)
        return fail(st, RP_ERR_UNSUPPORTED, "Fortran-ordered multi-dimensional arrays are not supported");
    return 0;
}

static int set_array_data(pk_state *st, pk_value *arr, const pk_value *data)
{
    const pk_value *dt = arr->dtype;
    if (dt->kind == 'O') {
        if (!data || data->type != PK_LIST || data->n != arr->count)
            return fail(st, RP_ERR_INVALID, "object array data is not a list of %llu items",
                        (unsigned long long)arr->count);
        arr->args = (pk_value *)data; /* read through pk_array_item: the list may change */
        arr->data = NULL;
        arr->built = true;
        return 0;
    }
    if (!data || data->type != PK_BYTES)
        return fail(st, RP_ERR_INVALID, "array data is not bytes");
    if (dt->itemsize == 0 || arr->count > SIZE_MAX / dt->itemsize || data->n != arr->count * dt->itemsize)
        return fail(st, RP_ERR_INVALID, "array data has %zu bytes for %llu items of %u bytes", data->n,
                    (unsigned long long)arr->count, dt->itemsize);
    arr->data = (const unsigned char *)data->s;
    arr->built = true;
    return 0;
}

static int build_array(pk_state *st, pk_value *arr, const pk_value *state)
{
    if (!state || state->type != PK_TUPLE || (state->n != 5 && state->n != 4))
        return fail(st, RP_ERR_INVALID, "numpy array state is not a 4- or 5-tuple");
    size_t k = state->n == 5 ? 1 : 0;
    if (shape_of(st, arr, state->items[k]) < 0)
        return -1;
    pk_value *dt = state->items[k + 1];
    if (dt->type != PK_DTYPE || !dt->built)
        return fail(st, RP_ERR_INVALID, "numpy array dtype is not a dtype");
    arr->dtype = dt;
    const pk_value *fo = state->items[k + 2];
    if (fo->type != PK_BOOL && fo->type != PK_INT)
        return fail(st, RP_ERR_INVALID, "numpy array order flag is not a boolean");
    if (check_order(st, arr, fo->type == PK_BOOL ? fo->b : fo->i != 0) < 0)
        return -1;
    return set_array_data(st, arr, state->items[k + 3]);
}

/* ---- calls ---------------------------------------------------------------- */

static pk_value *arg(const pk_value *args, size_t i)
{
    return args && args->type == PK_TUPLE && i < args->n ? args->items[i] : NULL;
}

static int reduce(pk_state *st, pk_value *fn, pk_value *args, bool newobj)
{
    if (fn->type != PK_GLOBAL)
        return fail(st, RP_ERR_UNSUPPORTED, "calling a %s, not an allowed class", pk_type_name(fn));
    if (!args || args->type != PK_TUPLE)
        return fail(st, RP_ERR_INVALID, "call arguments are not a tuple");
    const allowed *a = &ALLOW[fn->gid];
    if (newobj && a->role != R_CLASS && a->role != R_TYPE)
        return fail(st, RP_ERR_UNSUPPORTED, "NEWOBJ of %s.%s", a->module, a->name);
    switch (a->role) {
    case R_CLASS:
    case R_TYPE: {
        if (a->role == R_TYPE && !newobj && strcmp(a->name, "MT19937"))
            return fail(st, RP_ERR_UNSUPPORTED, "refusing to call %s.%s", a->module, a->name);
        pk_value *o = newv(st, PK_OBJECT);
        if (!o)
            return -1;
        o->gid = fn->gid;
        o->args = args;
        return push(st, o);
    }
    case R_COPYREG: {
        pk_value *cls = arg(args, 0);
        if (!cls || cls->type != PK_GLOBAL || ALLOW[cls->gid].role != R_CLASS)
            return fail(st, RP_ERR_UNSUPPORTED, "copyreg._reconstructor of something not an allowed class");
        pk_value *o = newv(st, PK_OBJECT);
        if (!o)
            return -1;
        o->gid = cls->gid;
        o->args = args;
        return push(st, o);
    }
    case R_RECONSTRUCT: {
        pk_value *cls = arg(args, 0);
        if (!cls || cls->type != PK_GLOBAL || ALLOW[cls->gid].role != R_NDARRAY)
            return fail(st, RP_ERR_UNSUPPORTED, "_reconstruct of something other than numpy.ndarray");
        pk_value *arr = newv(st, PK_ARRAY);
        return push(st, arr);
    }
    case R_DTYPE: {
        pk_value *dt = newv(st, PK_DTYPE);
        if (!dt || parse_dtype_spec(st, dt, arg(args, 0)) < 0)
            return -1;
        return push(st, dt);
    }
    case R_SCALAR: {
        pk_value *dt = arg(args, 0), *raw = arg(args, 1);
        if (!dt || dt->type != PK_DTYPE || !dt->built || !pk_dtype_numeric(dt))
            return fail(st, RP_ERR_UNSUPPORTED, "numpy scalar of a non-numeric dtype");
        if (!raw || raw->type != PK_BYTES || raw->n != dt->itemsize)
            return fail(st, RP_ERR_INVALID, "numpy scalar data has the wrong size");
        const unsigned char *p = (const unsigned char *)raw->s;
        pk_value *v;
        if (dt->kind == 'f') {
            v = newv(st, PK_FLOAT);
            if (v)
                v->f = pk_elem_f64(p, dt);
        } else if (dt->kind == 'b') {
            v = newv(st, PK_BOOL);
            if (v)
                v->b = p[0] != 0;
        } else {
            v = newv(st, PK_INT);
            if (v)
                v->i = pk_elem_i64(p, dt);
        }
        return push(st, v);
    }
    case R_FROMBUFFER: {
        pk_value *buf = arg(args, 0), *dt = arg(args, 1), *shape = arg(args, 2), *order = arg(args, 3);
        if (!dt || dt->type != PK_DTYPE || !dt->built || dt->kind == 'O')
            return fail(st, RP_ERR_INVALID, "_frombuffer needs a plain dtype");
        pk_value *arr = newv(st, PK_ARRAY);
        if (!arr || shape_of(st, arr, shape) < 0)
            return -1;
        if (!order || order->type != PK_STR || order->n != 1 || (order->s[0] != 'C' && order->s[0] != 'F'))
            return fail(st, RP_ERR_INVALID, "_frombuffer order is not 'C' or 'F'");
        if (check_order(st, arr, order->s[0] == 'F') < 0)
            return -1;
        arr->dtype = dt;
        if (set_array_data(st, arr, buf) < 0)
            return -1;
        return push(st, arr);
    }
    case R_CODECS: {
        pk_value *s = arg(args, 0), *enc = arg(args, 1);
        if (!s || s->type != PK_STR || !enc || !(pk_str_eq(enc, "latin1") || pk_str_eq(enc, "latin-1")))
            return fail(st, RP_ERR_UNSUPPORTED, "_codecs.encode other than of a string to latin1");
        if (account(st, s->n + 1) < 0)
            return -1;
        char *out = malloc(s->n + 1);
        if (!out)
            return fail(st, RP_ERR_NOMEM, "out of memory");
        if (st->g->n_blocks == st->g->cap_blocks) {
            size_t cap = st->g->cap_blocks ? st->g->cap_blocks * 2 : 16;
            char **nb = realloc(st->g->blocks, cap * sizeof *nb);
            if (!nb) {
                free(out);
                return fail(st, RP_ERR_NOMEM, "out of memory");
            }
            st->g->blocks = nb;
            st->g->cap_blocks = cap;
        }
        st->g->blocks[st->g->n_blocks++] = out;
        size_t n = 0;
        const unsigned char *q = (const unsigned char *)s->s, *e = q + s->n;
        while (q < e) {
            if (q[0] < 0x80) {
                out[n++] = (char)*q++;
            } else if ((q[0] & 0xE0) == 0xC0 && e - q >= 2 && (q[1] & 0xC0) == 0x80 && q[0] <= 0xC3 &&
                       q[0] >= 0xC2) {
                out[n++] = (char)(((q[0] & 0x1F) << 6) | (q[1] & 0x3F));
                q += 2;
            } else {
                return fail(st, RP_ERR_INVALID, "_codecs.encode: character not in latin-1");
            }
        }
        pk_value *v = newv(st, PK_BYTES);
        if (!v)
            return -1;
        v->s = out;
        v->n = n;
        return push(st, v);
    }
    case R_NDARRAY: return fail(st, RP_ERR_UNSUPPORTED, "calling numpy.ndarray directly");
    }
    return fail(st, RP_ERR_INTERNAL, "role %s", role_name(a->role));
}

static int build(pk_state *st, pk_value *obj, pk_value *state)
{
    switch (obj->type) {
    case PK_OBJECT: obj->state = state; return 0;
    case PK_ARRAY:
        if (obj->built)
            return fail(st, RP_ERR_INVALID, "array state set twice");
        return build_array(st, obj, state);
    case PK_DTYPE:
        if (obj->built)
            return fail(st, RP_ERR_INVALID, "dtype state set twice");
        return build_dtype(st, obj, state);
    default: return fail(st, RP_ERR_INVALID, "BUILD on a %s", pk_type_name(obj));
    }
}

/* ---- the opcode loop ------------------------------------------------------ */

static pk_value *str_value(pk_state *st, pk_type t, size_t n)
{
    if (need(st, n) < 0)
        return NULL;
    pk_value *v = newv(st, t);
    if (!v)
        return NULL;
    v->s = (const char *)st->p;
    v->n = n;
    st->p += n;
    return v;
}

static int read_len(pk_state *st, int width, size_t *n)
{
    if (need(st, (size_t)width) < 0)
        return -1;
    uint64_t x = rd_le(st->p, width);
    st->p += width;
    if (x > (uint64_t)(st->end - st->p))
        return fail(st, RP_ERR_INVALID, "declared length %llu exceeds the %zu bytes left",
                    (unsigned long long)x, (size_t)(st->end - st->p));
    *n = (size_t)x;
    return 0;
}

static int memo_put(pk_state *st, uint64_t idx)
{
    pk_value *v = top(st);
    if (!v)
        return -1;
    if (idx >= PK_MAX_MEMO || idx > st->ops)
        return fail(st, RP_ERR_LIMIT, "memo index %llu out of range", (unsigned long long)idx);
    if (idx >= st->memocap) {
        size_t cap = st->memocap ? st->memocap : 64;
        while (cap <= idx)
            cap *= 2;
        if (account(st, (cap - st->memocap) * sizeof(pk_value *)) < 0)
            return -1;
        pk_value **p = realloc(st->memo, cap * sizeof *p);
        if (!p)
            return fail(st, RP_ERR_NOMEM, "out of memory");
        memset(p + st->memocap, 0, (cap - st->memocap) * sizeof *p);
        st->memo = p;
        st->memocap = cap;
    }
    st->memo[idx] = v;
    if (idx >= st->nmemo)
        st->nmemo = (size_t)idx + 1;
    return 0;
}

static int memo_get(pk_state *st, uint64_t idx)
{
    if (idx >= st->nmemo || !st->memo[idx])
        return fail(st, RP_ERR_INVALID, "memo index %llu was never stored", (unsigned long long)idx);
    return push(st, st->memo[idx]);
}

static int make_seq(pk_state *st, pk_type t, size_t from)
{
    pk_value *v = newv(st, t);
    if (!v)
        return -1;
    size_t n = st->sp - from;
    if (t == PK_DICT) {
        if (n % 2)
            return fail(st, RP_ERR_INVALID, "odd number of items for a dict");
        if (items_reserve(st, v, n) < 0)
            return -1;
        v->n = n / 2;
    } else {
        if (items_reserve(st, v, n) < 0)
            return -1;
        v->n = n;
    }
    if (n)
        memcpy(v->items, st->stack + from, n * sizeof *v->items);
    st->sp = from;
    return push(st, v);
}

static int add_items(pk_state *st, pk_value *list, size_t from)
{
    size_t n = st->sp - from;
    if (list->type != PK_LIST)
        return fail(st, RP_ERR_INVALID, "APPEND(S) to a %s", pk_type_name(list));
    if (n == 0)
        return 0;
    if (items_reserve(st, list, n) < 0)
        return -1;
    memcpy(list->items + list->n, st->stack + from, n * sizeof *list->items);
    list->n += n;
    st->sp = from;
    return 0;
}

static int set_items(pk_state *st, pk_value *dict, size_t from)
{
    size_t n = st->sp - from;
    if (dict->type != PK_DICT)
        return fail(st, RP_ERR_INVALID, "SETITEM(S) on a %s", pk_type_name(dict));
    if (n % 2)
        return fail(st, RP_ERR_INVALID, "odd number of items for SETITEMS");
    for (size_t i = 0; i < n; i += 2) {
        pk_value *k = st->stack[from + i], *val = st->stack[from + i + 1];
        bool done = false;
        /* A repeated string key replaces the value (as a dict would). */
        if (k->type == PK_STR && dict->n < 64) {
            for (size_t j = 0; j < dict->n; j++) {
                pk_value *kj = dict->items[2 * j];
                if (kj->type == PK_STR && kj->n == k->n && !memcmp(kj->s, k->s, k->n)) {
                    dict->items[2 * j + 1] = val;
                    done = true;
                    break;
                }
            }
        }
        if (done)
            continue;
        if (items_reserve(st, dict, 2) < 0)
            return -1;
        dict->items[2 * dict->n] = k;
        dict->items[2 * dict->n + 1] = val;
        dict->n++;
    }
    st->sp = from;
    return 0;
}

static int run(pk_state *st)
{
    if (need(st, 2) < 0)
        return -1;
    if (st->p[0] != 0x80)
        return fail(st, RP_ERR_INVALID, "not a pickle of protocol 2 or later (no PROTO opcode)");
    for (;;) {
        if (need(st, 1) < 0)
            return -1;
        unsigned char op = *st->p++;
        st->ops++;
        size_t n = 0, from = 0;
        pk_value *v, *a, *b;
        switch (op) {
        case 0x80: /* PROTO */
            if (need(st, 1) < 0)
                return -1;
            st->g->protocol = *st->p++;
            if (st->g->protocol < 2 || st->g->protocol > 5)
                return fail(st, RP_ERR_UNSUPPORTED, "pickle protocol %d (ridepred reads 2 to 5)",
                            st->g->protocol);
            break;
        case 0x95: /* FRAME */
            if (read_len(st, 8, &n) < 0)
                return -1;
            break;
        case '.': /* STOP */
            if (st->nmarks)
                return fail(st, RP_ERR_INVALID, "STOP with an open MARK");
            if (st->sp != 1)
                return fail(st, RP_ERR_INVALID, "STOP with %zu values on the stack", st->sp);
            st->g->root = st->stack[0];
            return 0;
        case '(': /* MARK */
            if (st->nmarks >= PK_MAX_MARKS)
                return fail(st, RP_ERR_LIMIT, "more than %d nested MARKs", PK_MAX_MARKS);
            if (st->nmarks == st->mcap) {
                size_t cap = st->mcap ? st->mcap * 2 : 16;
                size_t *p = realloc(st->marks, cap * sizeof *p);
                if (!p)
                    return fail(st, RP_ERR_NOMEM, "out of memory");
                st->marks = p;
                st->mcap = cap;
            }
            st->marks[st->nmarks++] = st->sp;
            break;
        case '0': /* POP */
            if (!pop(st))
                return -1;
            break;
        case '1': /* POP_MARK */
            if (pop_mark(st, &from) < 0)
                return -1;
            st->sp = from;
            break;
        case '2': /* DUP */
            if (!(v = top(st)) || push(st, v) < 0)
                return -1;
            break;
        case 'N':
            if (push(st, newv(st, PK_NONE)) < 0)
                return -1;
            break;
        case 0x88:
        case 0x89:
            v = newv(st, PK_BOOL);
            if (v)
                v->b = op == 0x88;
            if (push(st, v) < 0)
                return -1;
            break;
        case 'J':
        case 'K':
        case 'M': {
            int w = op == 'J' ? 4 : op == 'K' ? 1 : 2;
            if (need(st, (size_t)w) < 0)
                return -1;
            uint64_t x = rd_le(st->p, w);
            st->p += w;
            v = newv(st, PK_INT);
            if (v)
                v->i = op == 'J' ? (int64_t)(int32_t)(uint32_t)x : (int64_t)x;
            if (push(st, v) < 0)
                return -1;
            break;
        }
        case 0x8a:
        case 0x8b: /* LONG1, LONG4 */
            if (op == 0x8a) {
                if (read_len(st, 1, &n) < 0)
                    return -1;
            } else {
                if (need(st, 4) < 0)
                    return -1;
                int32_t l = (int32_t)(uint32_t)rd_le(st->p, 4);
                if (l < 0)
                    return fail(st, RP_ERR_INVALID, "LONG4 with a negative length");
                if (read_len(st, 4, &n) < 0)
                    return -1;
            }
            if (n <= 8) {
                v = newv(st, PK_INT);
                if (v) {
                    uint64_t x = n ? rd_le(st->p, (int)n) : 0;
                    if (n && n < 8 && (st->p[n - 1] & 0x80))
                        x |= ~(uint64_t)0 << (8 * n);
                    v->i = (int64_t)x;
                }
            } else {
                v = newv(st, PK_BIGINT);
            }
            st->p += n;
            if (push(st, v) < 0)
                return -1;
            break;
        case 'G': {
            if (need(st, 8) < 0)
                return -1;
            uint64_t x = 0;
            for (int i = 0; i < 8; i++)
                x = (x << 8) | st->p[i];
            st->p += 8;
            v = newv(st, PK_FLOAT);
            if (v)
                memcpy(&v->f, &x, 8);
            if (push(st, v) < 0)
                return -1;
            break;
        }
        case 0x8c:
        case 'X':
        case 0x8d: /* SHORT_BINUNICODE, BINUNICODE, BINUNICODE8 */
            if (read_len(st,
                         op == 0x8c  ? 1
                         : op == 'X' ? 4
                                     : 8,
                         &n) < 0 ||
                push(st, str_value(st, PK_STR, n)) < 0)
                return -1;
            break;
        case 'C':
        case 'B':
        case 0x8e:
        case 0x96: /* SHORT_BINBYTES, BINBYTES, BINBYTES8, BYTEARRAY8 */
            if (read_len(st,
                         op == 'C'   ? 1
                         : op == 'B' ? 4
                                     : 8,
                         &n) < 0 ||
                push(st, str_value(st, PK_BYTES, n)) < 0)
                return -1;
            break;
        case ')':
            if (make_seq(st, PK_TUPLE, st->sp) < 0)
                return -1;
            break;
        case 0x85:
        case 0x86:
        case 0x87: {
            size_t k = (size_t)(op - 0x84);
            if (st->sp < mark_base(st) + k)
                return fail(st, RP_ERR_INVALID, "stack underflow");
            if (make_seq(st, PK_TUPLE, st->sp - k) < 0)
                return -1;
            break;
        }
        case 't':
        case 'l':
        case 'd':
        case 0x91: /* TUPLE, LIST, DICT, FROZENSET */
            if (pop_mark(st, &from) < 0 || make_seq(st,
                                                    op == 't'   ? PK_TUPLE
                                                    : op == 'd' ? PK_DICT
                                                                : PK_LIST,
                                                    from) < 0)
                return -1;
            break;
        case ']':
        case 0x8f: /* EMPTY_LIST, EMPTY_SET */
            if (push(st, newv(st, PK_LIST)) < 0)
                return -1;
            break;
        case '}':
            if (push(st, newv(st, PK_DICT)) < 0)
                return -1;
            break;
        case 'a':
            if (!(v = pop(st)) || !(a = top(st)))
                return -1;
            st->stack[st->sp++] = v;
            if (add_items(st, a, st->sp - 1) < 0)
                return -1;
            break;
        case 'e':
        case 0x90: /* APPENDS, ADDITEMS */
            if (pop_mark(st, &from) < 0)
                return -1;
            if (from == 0 || from <= mark_base(st))
                return fail(st, RP_ERR_INVALID, "stack underflow");
            if (add_items(st, st->stack[from - 1], from) < 0)
                return -1;
            break;
        case 's':
            if (st->sp < mark_base(st) + 3)
                return fail(st, RP_ERR_INVALID, "stack underflow");
            if (set_items(st, st->stack[st->sp - 3], st->sp - 2) < 0)
                return -1;
            break;
        case 'u':
            if (pop_mark(st, &from) < 0)
                return -1;
            if (from == 0 || from <= mark_base(st))
                return fail(st, RP_ERR_INVALID, "stack underflow");
            if (set_items(st, st->stack[from - 1], from) < 0)
                return -1;
            break;
        case 'c': { /* GLOBAL "module\nname\n" */
            const unsigned char *nl1 = memchr(st->p, '\n', (size_t)(st->end - st->p));
            if (!nl1)
                return fail(st, RP_ERR_INVALID, "truncated GLOBAL");
            const unsigned char *nl2 = memchr(nl1 + 1, '\n', (size_t)(st->end - nl1 - 1));
            if (!nl2)
                return fail(st, RP_ERR_INVALID, "truncated GLOBAL");
            const unsigned char *m = st->p;
            st->p = nl2 + 1;
            if (global(st, (const char *)m, (size_t)(nl1 - m), (const char *)nl1 + 1,
                       (size_t)(nl2 - nl1 - 1)) < 0)
                return -1;
            break;
        }
        case 0x93: /* STACK_GLOBAL */
            if (!(b = pop(st)) || !(a = pop(st)))
                return -1;
            if (a->type != PK_STR || b->type != PK_STR)
                return fail(st, RP_ERR_INVALID, "STACK_GLOBAL of non-strings");
            if (global(st, a->s, a->n, b->s, b->n) < 0)
                return -1;
            break;
        case 'R': /* REDUCE */
            if (!(b = pop(st)) || !(a = pop(st)) || reduce(st, a, b, false) < 0)
                return -1;
            break;
        case 0x81: /* NEWOBJ */
            if (!(b = pop(st)) || !(a = pop(st)) || reduce(st, a, b, true) < 0)
                return -1;
            break;
        case 0x92: { /* NEWOBJ_EX */
            pk_value *kw;
            if (!(kw = pop(st)) || !(b = pop(st)) || !(a = pop(st)))
                return -1;
            if (kw->type != PK_DICT || kw->n)
                return fail(st, RP_ERR_UNSUPPORTED, "NEWOBJ_EX with keyword arguments");
            if (reduce(st, a, b, true) < 0)
                return -1;
            break;
        }
        case 'b': /* BUILD */
            if (!(b = pop(st)) || !(a = top(st)) || build(st, a, b) < 0)
                return -1;
            break;
        case 'h':
        case 'j':
            if (need(st, op == 'h' ? 1 : 4) < 0)
                return -1;
            n = (size_t)rd_le(st->p, op == 'h' ? 1 : 4);
            st->p += op == 'h' ? 1 : 4;
            if (memo_get(st, n) < 0)
                return -1;
            break;
        case 'q':
        case 'r':
            if (need(st, op == 'q' ? 1 : 4) < 0)
                return -1;
            n = (size_t)rd_le(st->p, op == 'q' ? 1 : 4);
            st->p += op == 'q' ? 1 : 4;
            if (memo_put(st, n) < 0)
                return -1;
            break;
        case 0x94: /* MEMOIZE */
            if (memo_put(st, st->nmemo) < 0)
                return -1;
            break;
        case 0x97:
        case 0x98:
            st->p--;
            return fail(
                st, RP_ERR_UNSUPPORTED,
                "%s: out-of-band buffers (protocol 5 buffer_callback) are not supported; pickle the model without buffer_callback",
                op == 0x97 ? "NEXT_BUFFER" : "READONLY_BUFFER");
        default:
            st->p--;
            return fail(
                st, RP_ERR_UNSUPPORTED,
                "opcode 0x%02x is not supported (ridepred reads the binary opcodes of protocols 2 to 5 that scikit-learn models use)",
                op);
        }
    }
}

int pk_load(const unsigned char *data, size_t len, pk_graph *g, rp_error *err)
{
    return pk_load_budget(data, len, NULL, g, err);
}

int pk_load_budget(const unsigned char *data, size_t len, struct rp__model_budget *budget, pk_graph *g,
                   rp_error *err)
{
    memset(g, 0, sizeof *g);
    pk_state st;
    memset(&st, 0, sizeof st);
    st.p = st.start = data;
    st.end = data + len;
    st.g = g;
    st.err = err;
    st.budget = budget;
    int rc = run(&st);
    free(st.stack);
    free(st.marks);
    free(st.memo);
    return rc;
}

void pk_free(pk_graph *g)
{
    pk_value *v = g->arena;
    while (v) {
        pk_value *next = v->next_alloc;
        if (v->type == PK_TUPLE || v->type == PK_LIST || v->type == PK_DICT)
            free(v->items);
        free(v);
        v = next;
    }
    for (size_t i = 0; i < g->n_blocks; i++)
        free(g->blocks[i]);
    free(g->blocks);
    memset(g, 0, sizeof *g);
}

/* ---- accessors ------------------------------------------------------------ */

const char *pk_module(const pk_value *v)
{
    return v && (v->type == PK_GLOBAL || v->type == PK_OBJECT) && v->gid >= 0 ? ALLOW[v->gid].module : "";
}

const char *pk_name(const pk_value *v)
{
    return v && (v->type == PK_GLOBAL || v->type == PK_OBJECT) && v->gid >= 0 ? ALLOW[v->gid].name : "";
}

bool pk_is(const pk_value *v, const char *name)
{
    return v && v->type == PK_OBJECT && !strcmp(pk_name(v), name);
}

const char *pk_type_name(const pk_value *v)
{
    if (!v)
        return "nothing";
    switch (v->type) {
    case PK_NONE: return "None";
    case PK_BOOL: return "bool";
    case PK_INT: return "int";
    case PK_BIGINT: return "big int";
    case PK_FLOAT: return "float";
    case PK_STR: return "str";
    case PK_BYTES: return "bytes";
    case PK_TUPLE: return "tuple";
    case PK_LIST: return "list";
    case PK_DICT: return "dict";
    case PK_GLOBAL: return ALLOW[v->gid].name;
    case PK_OBJECT: return ALLOW[v->gid].name;
    case PK_DTYPE: return "numpy.dtype";
    case PK_ARRAY: return "numpy.ndarray";
    }
    return "?";
}

bool pk_str_eq(const pk_value *v, const char *s)
{
    size_t n = strlen(s);
    return v && v->type == PK_STR && v->n == n && !memcmp(v->s, s, n);
}

const pk_value *pk_dict_get(const pk_value *dict, const char *name)
{
    if (!dict || dict->type != PK_DICT)
        return NULL;
    const pk_value *found = NULL;
    for (size_t i = 0; i < dict->n; i++)
        if (pk_str_eq(dict->items[2 * i], name))
            found = dict->items[2 * i + 1];
    return found;
}

const pk_value *pk_attr(const pk_value *obj, const char *name)
{
    if (!obj || obj->type != PK_OBJECT || !obj->state)
        return NULL;
    const pk_value *st = obj->state;
    if (st->type == PK_TUPLE && st->n == 2)
        st = st->items[0];
    return pk_dict_get(st, name);
}

bool pk_number(const pk_value *v, double *out)
{
    if (!v)
        return false;
    switch (v->type) {
    case PK_FLOAT: *out = v->f; return true;
    case PK_INT: *out = (double)v->i; return true;
    case PK_BOOL: *out = v->b; return true;
    default: return false;
    }
}

bool pk_int(const pk_value *v, int64_t *out)
{
    if (!v)
        return false;
    if (v->type == PK_INT) {
        *out = v->i;
        return true;
    }
    if (v->type == PK_BOOL) {
        *out = v->b;
        return true;
    }
    return false;
}

bool pk_dtype_numeric(const pk_value *dt)
{
    if (!dt || dt->type != PK_DTYPE || !dt->built || dt->names)
        return false;
    switch (dt->kind) {
    case 'f': return dt->itemsize == 4 || dt->itemsize == 8;
    case 'i':
    case 'u': return dt->itemsize == 1 || dt->itemsize == 2 || dt->itemsize == 4 || dt->itemsize == 8;
    case 'b': return dt->itemsize == 1;
    default: return false;
    }
}

static uint64_t load_raw(const unsigned char *p, const pk_value *dt)
{
    uint64_t x = 0;
    uint32_t n = dt->itemsize;
    if (dt->order == '>') {
        for (uint32_t i = 0; i < n; i++)
            x = (x << 8) | p[i];
    } else {
        for (uint32_t i = n; i-- > 0;)
            x = (x << 8) | p[i];
    }
    return x;
}

double pk_elem_f64(const unsigned char *p, const pk_value *dt)
{
    uint64_t x = load_raw(p, dt);
    if (dt->kind == 'f') {
        if (dt->itemsize == 8) {
            double d;
            memcpy(&d, &x, 8);
            return d;
        }
        uint32_t x32 = (uint32_t)x;
        float f;
        memcpy(&f, &x32, 4);
        return (double)f;
    }
    if (dt->kind == 'b')
        return x != 0;
    return (double)pk_elem_i64(p, dt);
}

int64_t pk_elem_i64(const unsigned char *p, const pk_value *dt)
{
    uint64_t x = load_raw(p, dt);
    if (dt->kind == 'f') {
        double d = pk_elem_f64(p, dt);
        return d >= -9.2e18 && d <= 9.2e18 ? (int64_t)d : INT64_MIN;
    }
    if (dt->kind == 'i' && dt->itemsize < 8 && (x >> (8 * dt->itemsize - 1)) & 1)
        x |= ~(uint64_t)0 << (8 * dt->itemsize);
    if (dt->kind == 'b')
        return x != 0;
    return (int64_t)x;
}

const pk_value *pk_array_item(const pk_value *arr, uint64_t i)
{
    if (!arr || arr->type != PK_ARRAY || !arr->built || !arr->args || arr->args->type != PK_LIST ||
        i >= arr->count || i >= arr->args->n)
        return NULL;
    return arr->args->items[i];
}

bool pk_dtype_field(const pk_value *dt, const char *name, uint32_t *off, const pk_value **fdt)
{
    if (!dt || dt->type != PK_DTYPE || !dt->fields)
        return false;
    const pk_value *f = pk_dict_get(dt->fields, name);
    if (!f || f->type != PK_TUPLE || f->n < 2)
        return false;
    int64_t o;
    const pk_value *t = f->items[0];
    if (!pk_int(f->items[1], &o) || o < 0 || !pk_dtype_numeric(t) || (uint64_t)o + t->itemsize > dt->itemsize)
        return false;
    *off = (uint32_t)o;
    *fdt = t;
    return true;
}
