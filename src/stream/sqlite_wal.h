/* Putting a shared SQLite file into WAL mode, for the local stream store and
 * the consumer's checkpoint store. */
#ifndef RP_STREAM_SQLITE_WAL_H
#define RP_STREAM_SQLITE_WAL_H

#include <sqlite3.h>
#include <stddef.h>

/* Runs PRAGMA journal_mode=WAL on db, retrying for up to timeout_ms while
 * another connection holds the lock.  The first switch to WAL needs an
 * exclusive lock and SQLite does not always wait for it through the busy
 * handler, so two processes opening a new file at once would otherwise see
 * "database is locked".  Returns SQLITE_OK in WAL mode, SQLITE_CANTOPEN when
 * the file cannot use WAL (the mode it kept is written to mode[mode_size]),
 * or the SQLite error of the last attempt (sqlite3_errmsg(db) says more). */
int rp__sqlite_enable_wal(sqlite3 *db, int timeout_ms, char *mode, size_t mode_size);

#endif
