/* Files: whole reads with a size cap, read-only maps, mkdir -p, base names. */
#ifndef RP_COMMON_FILE_H
#define RP_COMMON_FILE_H

#include <stddef.h>

#include "ridepred/error.h"

/* Reads the regular file at path (at most max bytes) into a malloc'd buffer
 * that the caller frees.  Returns 0, or -1 with err set: RP_ERR_NOT_FOUND,
 * RP_ERR_IO (not a regular file, read error), RP_ERR_LIMIT (over max),
 * RP_ERR_NOMEM.  *out is NULL on failure. */
int rp_file_read(const char *path, size_t max, unsigned char **out, size_t *len, rp_error *err);

/* Maps the regular file at path read-only (MAP_PRIVATE).  Returns 0 with
 * *map and *size set (an empty file: *map NULL, *size 0), or -1 with err:
 * "PATH: <strerror>" (RP_ERR_NOT_FOUND, RP_ERR_IO), "PATH: not a regular
 * file", "PATH: mmap: <strerror>".  Unmap with rp_file_unmap. */
int rp_file_map(const char *path, void **map, size_t *size, rp_error *err);
void rp_file_unmap(void *map, size_t size);

/* Creates the directory dir and every missing parent (mkdir -p), new ones
 * with mode.  An existing directory is fine.  Returns 0, or -1 with err:
 * "cannot create directory D: <strerror>" (RP_ERR_IO; also when D exists
 * and is not a directory), RP_ERR_LIMIT for a path over PATH_MAX. */
int rp_file_mkdirs(const char *dir, unsigned mode, rp_error *err);
/* The same for the directory part of path (nothing when it has no '/'). */
int rp_file_mkdirs_for(const char *path, unsigned mode, rp_error *err);

/* The last component of path (after its last '/'), inside path. */
const char *rp_file_basename(const char *path);

#endif
