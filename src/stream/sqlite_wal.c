/* WAL mode on a shared SQLite file (see sqlite_wal.h). */
#include "stream/sqlite_wal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stream/sqlite_api.h"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int rp__sqlite_enable_wal(sqlite3 *db, int timeout_ms, char *mode, size_t mode_size)
{
    int64_t deadline = mono_ms() + timeout_ms;
    if (mode_size)
        snprintf(mode, mode_size, "?");
    for (;;) {
        sqlite3_stmt *st = NULL;
        int r = rp__sq.prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
        if (r == SQLITE_OK)
            r = rp__sq.step(st);
        if (r == SQLITE_ROW) {
            const char *got = (const char *)rp__sq.column_text(st, 0);
            int ok = got && strcmp(got, "wal") == 0;
            if (!ok && got && mode_size)
                snprintf(mode, mode_size, "%s", got);
            rp__sq.finalize(st);
            return ok ? SQLITE_OK : SQLITE_CANTOPEN;
        }
        rp__sq.finalize(st);
        int prim = r & 0xff;
        if ((prim != SQLITE_BUSY && prim != SQLITE_LOCKED) || mono_ms() > deadline)
            return r;
        usleep(2000);
    }
}
