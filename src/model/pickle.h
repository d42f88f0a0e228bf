/* A restricted unpickler, written by hand (no C library reads pickles).
 *
 * It reads pickle protocols 2 to 5 into an inert object graph and never runs
 * anything: GLOBAL / STACK_GLOBAL resolve only the (module, name) pairs of an
 * allow-list (scikit-learn estimators ridepred serves, numpy arrays, dtypes
 * and scalars, and a few helpers that appear inside such pickles); anything
 * else is refused with an error naming it.  REDUCE / NEWOBJ / BUILD never
 * call code: they record the class, its arguments and its state, except for
 * a handful of numpy / codecs reconstructors whose effect is computed here
 * (ndarray, dtype, scalar, _frombuffer, _codecs.encode to latin-1).
 *
 * Memory is bounded (docs/models.md): stack, mark depth and memo size are
 * capped, every declared length is checked against the remaining input
 * before anything is allocated, and all allocations together are capped
 * (PK_MAX_BYTES, and the model's build budget: model/budget.h).  Strings
 * and byte arrays point into the input, which must outlive the graph. */
#ifndef RP_MODEL_PICKLE_H
#define RP_MODEL_PICKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ridepred/error.h"

#define PK_MAX_BYTES ((size_t)1 << 30) /* all allocations of one load */
#define PK_MAX_STACK ((size_t)1 << 22) /* values on the stack */
#define PK_MAX_MARKS 4096              /* nested MARKs */
#define PK_MAX_MEMO ((size_t)1 << 24)  /* memo entries */
#define PK_MAX_NDIM 8

typedef enum pk_type {
    PK_NONE,
    PK_BOOL,
    PK_INT,
    PK_BIGINT, /* an integer beyond 64 bits: kept opaque */
    PK_FLOAT,
    PK_STR,   /* UTF-8 */
    PK_BYTES, /* bytes or bytearray */
    PK_TUPLE,
    PK_LIST,   /* also sets and frozensets */
    PK_DICT,   /* items: key, value, key, value ... in insertion order */
    PK_GLOBAL, /* an allow-listed (module, name) */
    PK_OBJECT, /* an instance: class, constructor arguments, BUILD state */
    PK_DTYPE,  /* a numpy dtype */
    PK_ARRAY   /* a numpy ndarray */
} pk_type;

typedef struct pk_value pk_value;

struct pk_value {
    pk_type type;
    pk_value *next_alloc; /* the arena's list */
    bool b;
    int64_t i;
    double f;
    const char *s;    /* PK_STR, PK_BYTES */
    size_t n;         /* string length, or item count */
    pk_value **items; /* PK_TUPLE, PK_LIST, PK_DICT (2n) */
    size_t cap;
    int gid;                /* PK_GLOBAL, PK_OBJECT: allow-list index */
    pk_value *args, *state; /* PK_OBJECT; args: an object array's list */
    /* PK_DTYPE */
    char kind; /* 'f', 'i', 'u', 'b', 'V', 'O', ... */
    uint32_t itemsize;
    char order;               /* '<', '>', '|' */
    pk_value *names, *fields; /* structured dtypes */
    bool built;               /* dtype or array got its state */
    /* PK_ARRAY */
    pk_value *dtype;
    uint32_t ndim;
    uint64_t shape[PK_MAX_NDIM];
    uint64_t count;
    const unsigned char *data; /* count * itemsize bytes, or NULL for objects */
};

typedef struct pk_graph {
    pk_value *root;
    pk_value *arena; /* every value, for freeing */
    char **blocks;   /* bytes made here (codecs.encode) */
    size_t n_blocks, cap_blocks;
    size_t bytes; /* allocated so far */
    int protocol;
} pk_graph;

/* Unpickles data[0, len).  On success g->root is the result; free with
 * pk_free in either case. */
int pk_load(const unsigned char *data, size_t len, pk_graph *g, rp_error *err);
/* The same, counting every allocation against a model's build budget too
 * (model/budget.h; NULL: only PK_MAX_BYTES). */
struct rp__model_budget;
int pk_load_budget(const unsigned char *data, size_t len, struct rp__model_budget *budget, pk_graph *g,
                   rp_error *err);
void pk_free(pk_graph *g);

/* The allow-list entry of a PK_GLOBAL or PK_OBJECT ("module", "name"). */
const char *pk_module(const pk_value *v);
const char *pk_name(const pk_value *v);
/* Whether v is an object (or global) whose class is called `name`. */
bool pk_is(const pk_value *v, const char *name);
const char *pk_type_name(const pk_value *v);

/* Whether v is a string equal to s. */
bool pk_str_eq(const pk_value *v, const char *s);
/* The value of key `name` in a dict (string keys), or NULL. */
const pk_value *pk_dict_get(const pk_value *dict, const char *name);
/* An object's attribute: its BUILD state dict (or the dict of a
 * (dict, slots) state), or NULL. */
const pk_value *pk_attr(const pk_value *obj, const char *name);

/* A number (bool, int, float, or a numpy scalar already folded into these). */
bool pk_number(const pk_value *v, double *out);
bool pk_int(const pk_value *v, int64_t *out);

/* Numeric element reading.  `dt` a simple numeric dtype (f4 f8 i1-8 u1-8 b1
 * in either byte order); p points at one element. */
bool pk_dtype_numeric(const pk_value *dt);
double pk_elem_f64(const unsigned char *p, const pk_value *dt);
int64_t pk_elem_i64(const unsigned char *p, const pk_value *dt);
/* Item i of an object array (dtype 'O'), or NULL. */
const pk_value *pk_array_item(const pk_value *arr, uint64_t i);
/* A field of a structured dtype: its offset and dtype, or false. */
bool pk_dtype_field(const pk_value *dt, const char *name, uint32_t *off, const pk_value **fdt);

#endif
