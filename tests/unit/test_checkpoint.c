/* The consumer's checkpoint store (src/consume/checkpoint.c): several
 * processes opening one new file at once, lease exclusivity between two
 * consumers, and files that are not checkpoint stores. */
#include "consume/checkpoint.h"
#include "testing.h"

#include <sqlite3.h>
#include <stdint.h>
#include <sys/wait.h>

static char tmp_root[256];

static const char *fresh_path(void)
{
    static char buf[320];
    static int n;
    snprintf(buf, sizeof buf, "%s/c%d/checkpoints.db", tmp_root, ++n);
    return buf;
}

static void shards(rp_stream_shard *v, size_t n)
{
    memset(v, 0, n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        snprintf(v[i].shard_id, sizeof v[i].shard_id, "shardId-%012zu", i);
}

/* Six processes open a checkpoint file that does not exist yet at the same
 * moment (released together from a pipe) and each runs a sync.  The first
 * switch of a new file to WAL needs an exclusive lock that SQLite does not
 * wait for through its busy handler: before rp__sqlite_enable_wal, one in a
 * few such rounds failed with "database is locked" (CI saw it as a second
 * `consume` of a group exiting 3). */
TEST(processes_open_at_once)
{
    enum {
        ROUNDS = 25,
        PROCS = 6
    };
    int failed = 0;
    for (int round = 0; round < ROUNDS; round++) {
        char path[320];
        snprintf(path, sizeof path, "%s", fresh_path());
        int gate[2];
        if (pipe(gate) != 0) {
            perror("pipe");
            exit(2);
        }
        pid_t pids[PROCS];
        for (int p = 0; p < PROCS; p++) {
            pids[p] = fork();
            if (pids[p] == 0) {
                close(gate[1]);
                char c;
                while (read(gate[0], &c, 1) > 0) {
                }
                char owner[32];
                snprintf(owner, sizeof owner, "worker-%d", p);
                rp__ckpt *ck = NULL;
                rp_error err;
                int bad = rp__ckpt_open(path, "g", "in", owner, 60000, &ck, &err) != 0;
                rp_stream_shard sh[4];
                shards(sh, 4);
                rp__ckpt_plan plan = {0};
                if (!bad && rp__ckpt_sync(ck, sh, 4, "TRIM_HORIZON", NULL, 0, &plan, &err) != 0)
                    bad = 1;
                if (bad)
                    fprintf(stderr, "round %d, process %d: %s\n", round, p, err.msg);
                rp__ckpt_plan_free(&plan);
                rp__ckpt_close(ck);
                _exit(bad);
            }
        }
        close(gate[0]);
        close(gate[1]); /* every child's read returns 0: go */
        for (int p = 0; p < PROCS; p++) {
            int st = 0;
            waitpid(pids[p], &st, 0);
            failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
    }
    CHECK(failed == 0);
}

/* A consumer holding unexpired leases keeps them: a second one of the group
 * acquires nothing held, cannot checkpoint on them, and takes them once
 * they are released. */
TEST(leases_are_exclusive)
{
    const char *path = fresh_path();
    rp__ckpt *a = NULL, *b = NULL;
    rp_error err;
    CHECK(rp__ckpt_open(path, "g", "in", "a", 60000, &a, &err) == 0);
    CHECK(rp__ckpt_open(path, "g", "in", "b", 60000, &b, &err) == 0);
    if (!a || !b) {
        rp__ckpt_close(a);
        rp__ckpt_close(b);
        return;
    }
    rp_stream_shard sh[2];
    shards(sh, 2);
    rp__ckpt_plan pa = {0}, pb = {0};
    CHECK(rp__ckpt_sync(a, sh, 2, "TRIM_HORIZON", NULL, 0, &pa, &err) == 0);
    CHECK(pa.n_acquired == 2);
    CHECK(rp__ckpt_sync(b, sh, 2, "TRIM_HORIZON", NULL, 0, &pb, &err) == 0);
    CHECK(pb.n_acquired == 0);
    CHECK(pb.live_workers == 2);
    CHECK(rp__ckpt_commit(b, sh[0].shard_id, "100", false, &err) == 1);
    CHECK(rp__ckpt_commit(a, sh[0].shard_id, "100", false, &err) == 0);
    rp__ckpt_shard row;
    char owner[RP_CKPT_OWNER_MAX];
    int64_t expires = 0;
    CHECK(rp__ckpt_get(b, sh[0].shard_id, &row, owner, &expires, &err) == 1);
    CHECK_STR(row.checkpoint, "100");
    CHECK_STR(owner, "a");
    CHECK(rp__ckpt_release(a, sh[0].shard_id, &err) == 0);
    rp__ckpt_plan_free(&pb);
    CHECK(rp__ckpt_sync(b, sh, 2, "TRIM_HORIZON", NULL, 0, &pb, &err) == 0);
    CHECK(pb.n_acquired == 1);
    if (pb.n_acquired == 1) {
        CHECK_STR(pb.acquired[0].shard_id, sh[0].shard_id);
        CHECK_STR(pb.acquired[0].checkpoint, "100");
    }
    rp__ckpt_plan_free(&pa);
    rp__ckpt_plan_free(&pb);
    rp__ckpt_close(a);
    rp__ckpt_close(b);
}

/* A file that is not a checkpoint store is refused, and left as it was. */
TEST(foreign_files)
{
    rp__ckpt *c = NULL;
    rp_error err;
    /* Text, not SQLite. */
    char text[320];
    snprintf(text, sizeof text, "%s/notes.txt", tmp_root);
    FILE *f = fopen(text, "w");
    if (f) {
        fputs("these are not checkpoints, but a file long enough to have a header of its own\n", f);
        fclose(f);
    }
    CHECK(rp__ckpt_open(text, "g", "in", "a", 1000, &c, &err) == -1);
    CHECK(err.code == RP_ERR_CORRUPT);
    CHECK(strstr(err.msg, "is not a ridepred checkpoint store") != NULL);
    CHECK(c == NULL);
    /* SQLite, another application's. */
    char other[320];
    snprintf(other, sizeof other, "%s/other.db", tmp_root);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(other, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA application_id=42; CREATE TABLE t(x);", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(rp__ckpt_open(other, "g", "in", "a", 1000, &c, &err) == -1);
    CHECK(err.code == RP_ERR_CORRUPT);
    CHECK(strstr(err.msg, "belongs to another application") != NULL);
    CHECK(c == NULL);
}

int main(void)
{
    rp_t_tmpdir(tmp_root, sizeof tmp_root, "rp_ckpt_test");
    RUN(processes_open_at_once);
    RUN(leases_are_exclusive);
    RUN(foreign_files);
    CHECK(rp_t_rmtree(tmp_root) == 0);
    return rp_t_done();
}
