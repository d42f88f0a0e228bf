/* src/common/file.c: whole reads with a cap, maps, mkdir -p, base names;
 * each refusal with its code and message. */
#include "common/file.h"
#include "testing.h"

#include <errno.h>
#include <sys/stat.h>

static char root[256];

static bool is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

TEST(mkdirs)
{
    char p[512], q[512];
    rp_error err;
    snprintf(p, sizeof p, "%s/a/b/c", root);
    CHECK(rp_file_mkdirs(p, 0700, &err) == 0);
    CHECK(is_dir(p));
    CHECK(rp_file_mkdirs(p, 0700, &err) == 0); /* again: fine */
    snprintf(p, sizeof p, "%s/a/b/d//", root);
    CHECK(rp_file_mkdirs(p, 0700, &err) == 0); /* trailing and doubled slashes */
    snprintf(q, sizeof q, "%s/a/b/d", root);
    CHECK(is_dir(q));
    struct stat sb;
    CHECK(stat(q, &sb) == 0 && (sb.st_mode & 0777) == 0700);
    /* The parents of a file's path, not the file. */
    snprintf(p, sizeof p, "%s/x/y/file.db", root);
    CHECK(rp_file_mkdirs_for(p, 0700, &err) == 0);
    snprintf(q, sizeof q, "%s/x/y", root);
    CHECK(is_dir(q));
    CHECK(!is_dir(p) && access(p, F_OK) != 0);
    CHECK(rp_file_mkdirs_for("file.db", 0700, &err) == 0); /* no directory part */
    CHECK(rp_file_mkdirs_for("/file.db", 0700, &err) == 0);
    /* A file in the way. */
    snprintf(q, sizeof q, "%s/plain", root);
    write_text(q, "x");
    snprintf(p, sizeof p, "%s/plain/sub", root);
    CHECK(rp_file_mkdirs(p, 0700, &err) == -1);
    CHECK(err.code == RP_ERR_IO);
    char want[600];
    snprintf(want, sizeof want, "cannot create directory %s/plain: %s", root, strerror(ENOTDIR));
    CHECK_STR(err.msg, want); /* names what is in the way */
    CHECK(rp_file_mkdirs(q, 0700, &err) == -1); /* the file itself */
    snprintf(want, sizeof want, "cannot create directory %s/plain: %s", root, strerror(ENOTDIR));
    CHECK_STR(err.msg, want);
    /* No permission (root may write anywhere: then only the success is checked). */
    snprintf(q, sizeof q, "%s/locked", root);
    CHECK(mkdir(q, 0500) == 0);
    snprintf(p, sizeof p, "%s/locked/sub", root);
    int r = rp_file_mkdirs(p, 0700, &err);
    if (geteuid() != 0) {
        CHECK(r == -1);
        CHECK(strstr(err.msg, strerror(EACCES)) != NULL);
    } else {
        CHECK(r == 0);
    }
    chmod(q, 0700);
    /* Too long. */
    char longp[PATH_MAX + 16];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    CHECK(rp_file_mkdirs(longp, 0700, &err) == -1);
    CHECK(err.code == RP_ERR_LIMIT);
}

TEST(read_and_map)
{
    char p[512];
    rp_error err;
    unsigned char *buf = NULL;
    size_t len = 0;
    snprintf(p, sizeof p, "%s/ten", root);
    write_text(p, "0123456789");
    CHECK(rp_file_read(p, 10, &buf, &len, &err) == 0);
    CHECK(len == 10 && buf && !memcmp(buf, "0123456789", 10));
    free(buf);
    CHECK(rp_file_read(p, 9, &buf, &len, &err) == -1);
    CHECK(err.code == RP_ERR_LIMIT && buf == NULL);
    CHECK(rp_file_read(root, 100, &buf, &len, &err) == -1); /* a directory */
    CHECK(err.code == RP_ERR_IO);
    snprintf(p, sizeof p, "%s/absent", root);
    CHECK(rp_file_read(p, 100, &buf, &len, &err) == -1);
    CHECK(err.code == RP_ERR_NOT_FOUND);
    void *map = NULL;
    size_t size = 0;
    snprintf(p, sizeof p, "%s/ten", root);
    CHECK(rp_file_map(p, &map, &size, &err) == 0);
    CHECK(size == 10 && map && !memcmp(map, "0123456789", 10));
    rp_file_unmap(map, size);
    snprintf(p, sizeof p, "%s/empty", root);
    write_text(p, "");
    CHECK(rp_file_map(p, &map, &size, &err) == 0);
    CHECK(map == NULL && size == 0);
    rp_file_unmap(map, size);
    CHECK(rp_file_map(root, &map, &size, &err) == -1);
    CHECK(strstr(err.msg, "not a regular file") != NULL);
}

TEST(basename)
{
    CHECK_STR(rp_file_basename("/a/b/model.pkl"), "model.pkl");
    CHECK_STR(rp_file_basename("model.pkl"), "model.pkl");
    CHECK_STR(rp_file_basename("dir/"), "");
}

int main(void)
{
    rp_t_tmpdir(root, sizeof root, "rp_file_test");
    RUN(mkdirs);
    RUN(read_and_map);
    RUN(basename);
    CHECK(rp_t_rmtree(root) == 0);
    return rp_t_done();
}
