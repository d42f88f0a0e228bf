/* src/common/file.c: whole reads with a cap, maps, mkdir -p, base names;
 * each refusal with its code and message. */
#include "common/file.h"
#include "testing.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

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
    CHECK(rp__file_mkdirs(p, 0700, &err) == 0);
    CHECK(is_dir(p));
    CHECK(rp__file_mkdirs(p, 0700, &err) == 0); /* again: fine */
    snprintf(p, sizeof p, "%s/a/b/d//", root);
    CHECK(rp__file_mkdirs(p, 0700, &err) == 0); /* trailing and doubled slashes */
    snprintf(q, sizeof q, "%s/a/b/d", root);
    CHECK(is_dir(q));
    struct stat sb;
    CHECK(stat(q, &sb) == 0 && (sb.st_mode & 0777) == 0700);
    /* The parents of a file's path, not the file. */
    snprintf(p, sizeof p, "%s/x/y/file.db", root);
    CHECK(rp__file_mkdirs_for(p, 0700, &err) == 0);
    snprintf(q, sizeof q, "%s/x/y", root);
    CHECK(is_dir(q));
    CHECK(!is_dir(p) && access(p, F_OK) != 0);
    CHECK(rp__file_mkdirs_for("file.db", 0700, &err) == 0); /* no directory part */
    CHECK(rp__file_mkdirs_for("/file.db", 0700, &err) == 0);
    /* A file in the way. */
    snprintf(q, sizeof q, "%s/plain", root);
    write_text(q, "x");
    snprintf(p, sizeof p, "%s/plain/sub", root);
    CHECK(rp__file_mkdirs(p, 0700, &err) == -1);
    CHECK(err.code == RP_ERR_IO);
    char want[600];
    snprintf(want, sizeof want, "cannot create directory %s/plain: %s", root, strerror(ENOTDIR));
    CHECK_STR(err.msg, want);                    /* names what is in the way */
    CHECK(rp__file_mkdirs(q, 0700, &err) == -1); /* the file itself */
    snprintf(want, sizeof want, "cannot create directory %s/plain: %s", root, strerror(ENOTDIR));
    CHECK_STR(err.msg, want);
    /* No permission (root may write anywhere: then only the success is checked). */
    snprintf(q, sizeof q, "%s/locked", root);
    CHECK(mkdir(q, 0500) == 0);
    snprintf(p, sizeof p, "%s/locked/sub", root);
    int r = rp__file_mkdirs(p, 0700, &err);
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
    CHECK(rp__file_mkdirs(longp, 0700, &err) == -1);
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
    CHECK(rp__file_read(p, 10, &buf, &len, &err) == 0);
    CHECK(len == 10 && buf && !memcmp(buf, "0123456789", 10));
    free(buf);
    CHECK(rp__file_read(p, 9, &buf, &len, &err) == -1);
    CHECK(err.code == RP_ERR_LIMIT && buf == NULL);
    CHECK(rp__file_read(root, 100, &buf, &len, &err) == -1); /* a directory */
    CHECK(err.code == RP_ERR_IO);
    snprintf(p, sizeof p, "%s/absent", root);
    CHECK(rp__file_read(p, 100, &buf, &len, &err) == -1);
    CHECK(err.code == RP_ERR_NOT_FOUND);
    void *map = NULL;
    size_t size = 0;
    snprintf(p, sizeof p, "%s/ten", root);
    CHECK(rp__file_map(p, &map, &size, &err) == 0);
    CHECK(size == 10 && map && !memcmp(map, "0123456789", 10));
    rp__file_unmap(map, size);
    snprintf(p, sizeof p, "%s/empty", root);
    write_text(p, "");
    CHECK(rp__file_map(p, &map, &size, &err) == 0);
    CHECK(map == NULL && size == 0);
    rp__file_unmap(map, size);
    CHECK(rp__file_map(root, &map, &size, &err) == -1);
    CHECK(strstr(err.msg, "not a regular file") != NULL);
}

/* The reading half on a descriptor the caller keeps: the first size bytes,
 * the descriptor left open, a file shorter than size refused by name. */
TEST(read_fd)
{
    char p[512], want[600];
    rp_error err;
    snprintf(p, sizeof p, "%s/ten-fd", root);
    write_text(p, "0123456789");
    int fd = open(p, O_RDONLY);
    CHECK(fd >= 0);
    unsigned char *buf = NULL;
    CHECK(rp__file_read_fd(fd, p, 4, &buf, &err) == 0);
    CHECK(buf && !memcmp(buf, "0123", 4));
    free(buf);
    CHECK(rp__file_read_fd(fd, p, 10, &buf, &err) == 0); /* from offset 0 again */
    CHECK(buf && !memcmp(buf, "0123456789", 10));
    free(buf);
    CHECK(fcntl(fd, F_GETFD) != -1); /* still open */
    CHECK(rp__file_read_fd(fd, p, 0, &buf, &err) == 0 && buf != NULL);
    free(buf);
    buf = (unsigned char *)"x";
    CHECK(rp__file_read_fd(fd, p, 11, &buf, &err) == -1 && buf == NULL);
    CHECK(err.code == RP_ERR_IO);
    snprintf(want, sizeof want, "cannot read %s: short read", p);
    CHECK_STR(err.msg, want);
    close(fd);
}

/* A path that names something else than a regular file (a FIFO above all:
 * opening one for reading used to wait for a writer forever) is refused at
 * once, with the path and what it is; a regular file comes back blocking. */
TEST(only_regular_files)
{
    char fifo[512], sock[512], reg[512], want[700];
    rp_error err;
    snprintf(fifo, sizeof fifo, "%s/fifo", root);
    CHECK(mkfifo(fifo, 0600) == 0);
    struct stat st;
    CHECK(rp__file_open(fifo, false, &st, &err) == -1);
    CHECK(err.code == RP_ERR_IO);
    snprintf(want, sizeof want, "%s: is a FIFO, not a regular file", fifo);
    CHECK_STR(err.msg, want);
    CHECK(rp__file_open(fifo, true, &st, &err) == -1);
    snprintf(want, sizeof want, "%s: is a FIFO, not a regular file or a directory", fifo);
    CHECK_STR(err.msg, want);
    unsigned char *buf = NULL;
    size_t len = 0;
    CHECK(rp__file_read(fifo, 100, &buf, &len, &err) == -1 && buf == NULL);
    snprintf(want, sizeof want, "%s: is a FIFO, not a regular file", fifo);
    CHECK_STR(err.msg, want);
    void *map = NULL;
    size_t size = 0;
    CHECK(rp__file_map(fifo, &map, &size, &err) == -1);
    CHECK_STR(err.msg, want);
    CHECK(rp__file_fopen(fifo, &err) == NULL);
    CHECK_STR(err.msg, want);
    CHECK(rp__file_check_regular(fifo, &err) == -1);
    CHECK_STR(err.msg, want);
    /* A character device, a directory, a socket. */
    CHECK(rp__file_open("/dev/null", false, NULL, &err) == -1);
    CHECK_STR(err.msg, "/dev/null: is a character device, not a regular file");
    CHECK(rp__file_open(root, false, NULL, &err) == -1);
    snprintf(want, sizeof want, "%s: is a directory, not a regular file", root);
    CHECK_STR(err.msg, want);
    int fd = rp__file_open(root, true, &st, &err); /* where a directory is expected */
    CHECK(fd >= 0 && S_ISDIR(st.st_mode));
    if (fd >= 0)
        close(fd);
    snprintf(sock, sizeof sock, "%s/sock", root);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    CHECK(strlen(sock) < sizeof sa.sun_path);
    memcpy(sa.sun_path, sock, strlen(sock) < sizeof sa.sun_path ? strlen(sock) : sizeof sa.sun_path - 1);
    CHECK(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof sa) == 0);
    CHECK(rp__file_open(sock, false, NULL, &err) == -1);
    snprintf(want, sizeof want, "%s: is a socket, not a regular file", sock);
    CHECK_STR(err.msg, want);
    CHECK(rp__file_check_regular(sock, &err) == -1);
    CHECK_STR(err.msg, want);
    close(s);
    /* A regular file: its descriptor, blocking again; nothing there. */
    snprintf(reg, sizeof reg, "%s/reg", root);
    write_text(reg, "abc");
    fd = rp__file_open(reg, false, &st, &err);
    CHECK(fd >= 0 && S_ISREG(st.st_mode) && st.st_size == 3);
    CHECK(fd >= 0 && !(fcntl(fd, F_GETFL) & O_NONBLOCK));
    CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
    if (fd >= 0)
        close(fd);
    FILE *f = rp__file_fopen(reg, &err);
    char got[8] = {0};
    CHECK(f && fread(got, 1, sizeof got, f) == 3 && !memcmp(got, "abc", 3));
    if (f)
        fclose(f);
    CHECK(rp__file_check_regular(reg, &err) == 0);
    snprintf(reg, sizeof reg, "%s/absent", root);
    CHECK(rp__file_check_regular(reg, &err) == 0);
    CHECK(rp__file_open(reg, false, NULL, &err) == -1 && err.code == RP_ERR_NOT_FOUND);
    snprintf(want, sizeof want, "cannot open %s: %s", reg, strerror(ENOENT));
    CHECK_STR(err.msg, want);
}

TEST(basename)
{
    CHECK_STR(rp__file_basename("/a/b/model.pkl"), "model.pkl");
    CHECK_STR(rp__file_basename("model.pkl"), "model.pkl");
    CHECK_STR(rp__file_basename("dir/"), "");
}

int main(void)
{
    rp_t_tmpdir(root, sizeof root, "rp_file_test");
    RUN(mkdirs);
    RUN(read_and_map);
    RUN(read_fd);
    rp_t_watchdog(20);
    RUN(only_regular_files);
    RUN(basename);
    CHECK(rp_t_rmtree(root) == 0);
    return rp_t_done();
}
