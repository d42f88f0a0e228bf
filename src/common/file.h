/* Files: opening what is expected without blocking, whole reads with a size
 * cap, read-only maps, mkdir -p, base names.
 *
 * Every file ridepred reads (models, events, trip files, credentials and
 * config files) is opened through rp__file_open: a FIFO, device or socket
 * named where a file is expected is refused at once, with its path, instead
 * of blocking the program on its first read (or its open). */
#ifndef RP_COMMON_FILE_H
#define RP_COMMON_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include "ridepred/error.h"

/* Opens path read-only without waiting on it (O_RDONLY | O_NONBLOCK |
 * O_CLOEXEC | O_NOCTTY), fstat()s it, refuses it unless it is a regular
 * file (or a directory, when allow_dir), then clears O_NONBLOCK so that
 * reads block as usual.  Returns the descriptor (the caller closes it) with
 * *st filled when st is not NULL, or -1 with err set:
 *   "cannot open PATH: <strerror>"  RP_ERR_NOT_FOUND (ENOENT, ENOTDIR), else RP_ERR_IO
 *   "PATH: is a FIFO, not a regular file" (or a directory, a character
 *   device, a block device, a socket; "... not a regular file or a
 *   directory" when allow_dir)  RP_ERR_IO */
int rp__file_open(const char *path, bool allow_dir, struct stat *st, rp_error *err);

/* rp__file_open as a stdio stream ("rb").  NULL with err set on failure. */
FILE *rp__file_fopen(const char *path, rp_error *err);

/* For files another library opens by name (SQLite databases): when path
 * exists, refuses it unless it is a regular file, without opening it.
 * Returns 0 (a regular file, or nothing there yet), or -1 with err:
 * "PATH: is a FIFO, not a regular file" (RP_ERR_IO), or "cannot stat PATH:
 * <strerror>" (RP_ERR_IO) for another failure than ENOENT. */
int rp__file_check_regular(const char *path, rp_error *err);

/* What a file of this st_mode is, for messages: "a regular file", "a
 * directory", "a FIFO", "a character device", "a block device", "a socket",
 * "a symbolic link", else "not a file". */
const char *rp__file_kind(mode_t mode);

/* Reads the regular file at path (at most max bytes) into a malloc'd buffer
 * that the caller frees; opened with rp__file_open.  Returns 0, or -1 with
 * err set: RP_ERR_NOT_FOUND, RP_ERR_IO (not a regular file, read error),
 * RP_ERR_LIMIT (over max), RP_ERR_NOMEM.  *out is NULL on failure. */
int rp__file_read(const char *path, size_t max, unsigned char **out, size_t *len, rp_error *err);

/* The reading half of rp__file_read, for a file already open (and sized by
 * fstat): reads its first size bytes from offset 0 into a malloc'd buffer
 * (at least 1 byte allocated) that the caller frees; fd stays open.  path
 * names the file in messages.  Returns 0, or -1 with err: "out of memory
 * reading PATH" (RP_ERR_NOMEM), "cannot read PATH: short read" or
 * "...: <strerror>" (RP_ERR_IO).  *out is NULL on failure. */
int rp__file_read_fd(int fd, const char *path, size_t size, unsigned char **out, rp_error *err);

/* Maps the regular file at path read-only (MAP_PRIVATE); opened with
 * rp__file_open.  Returns 0 with *map and *size set (an empty file: *map
 * NULL, *size 0), or -1 with err: those of rp__file_open, "PATH: mmap:
 * <strerror>".  Unmap with rp__file_unmap. */
int rp__file_map(const char *path, void **map, size_t *size, rp_error *err);
void rp__file_unmap(void *map, size_t size);

/* Creates the directory dir and every missing parent (mkdir -p), new ones
 * with mode.  An existing directory is fine.  Returns 0, or -1 with err:
 * "cannot create directory D: <strerror>" (RP_ERR_IO; also when D exists
 * and is not a directory), RP_ERR_LIMIT for a path over PATH_MAX. */
int rp__file_mkdirs(const char *dir, unsigned mode, rp_error *err);
/* The same for the directory part of path (nothing when it has no '/'). */
int rp__file_mkdirs_for(const char *path, unsigned mode, rp_error *err);

/* The last component of path (after its last '/'), inside path. */
const char *rp__file_basename(const char *path);

#endif
