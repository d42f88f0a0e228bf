/* Files: whole reads with a size cap, read-only maps, mkdir -p, base names
 * (see file.h). */
#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *rp__file_kind(mode_t mode)
{
    if (S_ISREG(mode))
        return "a regular file";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISLNK(mode))
        return "a symbolic link";
    return "not a file";
}

int rp__file_open(const char *path, bool allow_dir, struct stat *st, rp_error *err)
{
    /* O_NONBLOCK: opening a FIFO for reading waits for a writer, and some
     * devices wait too; with it, open returns at once and fstat tells. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        struct stat sb;
        /* A socket cannot be opened at all (ENXIO): say what it is. */
        if (e == ENXIO && stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
            return rp_error_set(err, RP_ERR_IO, "%s: is %s, not a regular file%s", path,
                                rp__file_kind(sb.st_mode), allow_dir ? " or a directory" : "");
        return rp_error_set(err, e == ENOENT || e == ENOTDIR ? RP_ERR_NOT_FOUND : RP_ERR_IO,
                            "cannot open %s: %s", path, strerror(e));
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        int e = errno;
        close(fd);
        return rp_error_set(err, RP_ERR_IO, "cannot stat %s: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode) && !(allow_dir && S_ISDIR(sb.st_mode))) {
        close(fd);
        return rp_error_set(err, RP_ERR_IO, "%s: is %s, not a regular file%s", path,
                            rp__file_kind(sb.st_mode), allow_dir ? " or a directory" : "");
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        return rp_error_set(err, RP_ERR_IO, "cannot open %s: %s", path, strerror(e));
    }
    if (st)
        *st = sb;
    return fd;
}

FILE *rp__file_fopen(const char *path, rp_error *err)
{
    int fd = rp__file_open(path, false, NULL, err);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        rp_error_set(err, e == ENOMEM ? RP_ERR_NOMEM : RP_ERR_IO, "cannot open %s: %s", path, strerror(e));
    }
    return f;
}

int rp__file_check_regular(const char *path, rp_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT)
            return 0;
        return rp_error_set(err, RP_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
    }
    if (!S_ISREG(sb.st_mode))
        return rp_error_set(err, RP_ERR_IO, "%s: is %s, not a regular file", path, rp__file_kind(sb.st_mode));
    return 0;
}

int rp__file_read(const char *path, size_t max, unsigned char **out, size_t *len, rp_error *err)
{
    *out = NULL;
    struct stat st;
    int fd = rp__file_open(path, false, &st, err);
    if (fd < 0)
        return -1;
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return rp_error_set(err, RP_ERR_LIMIT, "%s: %lld bytes is over the limit of %zu bytes", path,
                            (long long)st.st_size, max);
    }
    size_t size = (size_t)st.st_size;
    int rc = rp__file_read_fd(fd, path, size, out, err);
    close(fd);
    if (rc == 0)
        *len = size;
    return rc;
}

int rp__file_read_fd(int fd, const char *path, size_t size, unsigned char **out, rp_error *err)
{
    *out = NULL;
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf)
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory reading %s", path);
    size_t have = 0;
    while (have < size) {
        ssize_t n = pread(fd, buf + have, size - have, (off_t)have);
        if (n <= 0) {
            int e = errno;
            free(buf);
            return rp_error_set(err, RP_ERR_IO, "cannot read %s: %s", path,
                                n == 0 ? "short read" : strerror(e));
        }
        have += (size_t)n;
    }
    *out = buf;
    return 0;
}

static int mkdirs_n(const char *dir, size_t n, unsigned mode, rp_error *err)
{
    char tmp[PATH_MAX];
    if (n >= sizeof tmp)
        return rp_error_set(err, RP_ERR_LIMIT, "cannot create directory %.*s...: path too long", 64, dir);
    memcpy(tmp, dir, n);
    tmp[n] = '\0';
    for (size_t i = 1; i <= n; i++) {
        if (i < n && tmp[i] != '/')
            continue;
        tmp[i] = '\0';
        if (mkdir(tmp, (mode_t)mode) != 0) {
            int e = errno;
            struct stat sb;
            if (e != EEXIST || stat(tmp, &sb) != 0 || !S_ISDIR(sb.st_mode))
                return rp_error_set(err, RP_ERR_IO, "cannot create directory %s: %s", tmp,
                                    strerror(e == EEXIST ? ENOTDIR : e));
        }
        if (i < n)
            tmp[i] = '/';
    }
    return 0;
}

int rp__file_mkdirs(const char *dir, unsigned mode, rp_error *err)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return mkdirs_n(dir, n, mode, err);
}

int rp__file_mkdirs_for(const char *path, unsigned mode, rp_error *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    return mkdirs_n(path, (size_t)(slash - path), mode, err);
}

const char *rp__file_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int rp__file_map(const char *path, void **map, size_t *size, rp_error *err)
{
    *map = NULL;
    *size = 0;
    struct stat st;
    int fd = rp__file_open(path, false, &st, err);
    if (fd < 0)
        return -1;
    if (st.st_size == 0) {
        close(fd);
        return 0;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED)
        return rp_error_set(err, RP_ERR_IO, "%s: mmap: %s", path, strerror(e));
    *map = m;
    *size = (size_t)st.st_size;
    return 0;
}

void rp__file_unmap(void *map, size_t size)
{
    if (map)
        munmap(map, size);
}
