/* SQLite, loaded on first use.
 *
 * The local stream store and the consumer's checkpoint store are SQLite
 * files; every other run (`invoke`, a Lambda function publishing to
 * Kinesis, `serve`, `train`) never opens one.  Linking libsqlite3 costs each
 * start about 0.3 ms of loading and relocation on this machine, so it is
 * loaded with dlopen (src/common/dl.h) by the first open, as libcurl and
 * libcrypto are.  The functions are called through rp__sq, e.g.
 * rp__sq.step(st) for sqlite3_step(st): the same calls, one indirection.
 * Only SQLite's header is used at build time; each pointer's type is checked
 * against the header's declaration when this module compiles. */
#ifndef RP_STREAM_SQLITE_API_H
#define RP_STREAM_SQLITE_API_H

#include <sqlite3.h>

#include "ridepred/error.h"

#define RP_LIBSQLITE_SONAME "libsqlite3.so.0"

/* X(return type, name without "sqlite3_", parameter list) */
#define RP_SQLITE_FUNCS(X)                                                                                   \
    X(int, bind_blob, (sqlite3_stmt *, int, const void *, int, void (*)(void *)))                            \
    X(int, bind_int, (sqlite3_stmt *, int, int))                                                             \
    X(int, bind_int64, (sqlite3_stmt *, int, sqlite3_int64))                                                 \
    X(int, bind_text, (sqlite3_stmt *, int, const char *, int, void (*)(void *)))                            \
    X(int, busy_timeout, (sqlite3 *, int))                                                                   \
    X(int, changes, (sqlite3 *))                                                                             \
    X(int, close, (sqlite3 *))                                                                               \
    X(const void *, column_blob, (sqlite3_stmt *, int))                                                      \
    X(int, column_bytes, (sqlite3_stmt *, int))                                                              \
    X(int, column_int, (sqlite3_stmt *, int))                                                                \
    X(sqlite3_int64, column_int64, (sqlite3_stmt *, int))                                                    \
    X(const unsigned char *, column_text, (sqlite3_stmt *, int))                                             \
    X(int, column_type, (sqlite3_stmt *, int))                                                               \
    X(const char *, errmsg, (sqlite3 *))                                                                     \
    X(const char *, errstr, (int))                                                                           \
    X(int, exec, (sqlite3 *, const char *, int (*)(void *, int, char **, char **), void *, char **))         \
    X(int, extended_errcode, (sqlite3 *))                                                                    \
    X(int, extended_result_codes, (sqlite3 *, int))                                                          \
    X(int, finalize, (sqlite3_stmt *))                                                                       \
    X(int, get_autocommit, (sqlite3 *))                                                                      \
    X(sqlite3_int64, last_insert_rowid, (sqlite3 *))                                                         \
    X(int, open_v2, (const char *, sqlite3 **, int, const char *))                                           \
    X(int, prepare_v2, (sqlite3 *, const char *, int, sqlite3_stmt **, const char **))                       \
    X(int, prepare_v3, (sqlite3 *, const char *, int, unsigned int, sqlite3_stmt **, const char **))         \
    X(int, reset, (sqlite3_stmt *))                                                                          \
    X(int, step, (sqlite3_stmt *))

typedef struct rp__sqlite_api {
#define RP_SQLITE_FIELD(ret, name, args) ret(*name) args;
    RP_SQLITE_FUNCS(RP_SQLITE_FIELD)
#undef RP_SQLITE_FIELD
} rp__sqlite_api;

/* Filled by the first successful rp__sqlite_load; read-only after. */
extern rp__sqlite_api rp__sq;

/* Loads libsqlite3 once per process (thread-safe).  Returns 0, or -1 with
 * err set ("SQLite is not available (...): install ...").  Call it before
 * any rp__sq function (the stores' open functions do). */
int rp__sqlite_load(rp_error *err);

/* Before SQLite opens the database at path: refuses it, or its -wal,
 * -journal or -shm companion, when it exists and is not a regular file
 * (SQLite would block forever reading a FIFO).  Returns 0, or -1 with err
 * set: "PATH: is a FIFO, not a regular file" (RP_ERR_IO). */
int rp__sqlite_check_files(const char *path, rp_error *err);

#endif
