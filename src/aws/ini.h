/* The AWS shared configuration files (~/.aws/credentials, ~/.aws/config),
 * read as botocore reads them: Python's configparser.RawConfigParser with
 * its defaults, then botocore's nested-value rule.
 *
 * That is, line by line (lines end at \n, \r\n or \r; the file must be
 * UTF-8):
 *  - a line whose stripped text starts with '#' or ';' is a comment; there
 *    are no inline comments ("key = a # b" has the value "a # b");
 *  - a line indented deeper than the option line above it continues that
 *    option's value (joined with '\n'; blank lines inside are kept, trailing
 *    ones dropped);
 *  - "[name]" starts a section (the name is everything between the first
 *    '[' and the last ']', spaces included); "[DEFAULT]" holds values every
 *    section inherits;
 *  - "key = value" or "key: value" sets an option: split at the first '=' or
 *    ':', both sides stripped, the key lower-cased;
 *  - a duplicate section, a duplicate key in a section, an option before any
 *    section, or any other line is an error naming the file and line;
 *  - a value that starts on the line after its key (e.g. "s3 =" followed by
 *    indented "key = value" lines) is a nested block; every non-blank line of
 *    it must hold a '=', as botocore requires, or the file is malformed.
 * "Stripped" means Python's str.strip(): ASCII blanks, \x1c-\x1f, and the
 * Unicode spaces (U+0085, U+00A0, U+2000-U+200A, ...). */
#ifndef RP_AWS_INI_H
#define RP_AWS_INI_H

#include <stdbool.h>
#include <stddef.h>

#include "ridepred/error.h"

#define RP_INI_MAX_BYTES ((size_t)1024 * 1024)

typedef struct rp__ini rp__ini;

/* Parses text[0..len).  `path` names the file in error messages.  Returns 0
 * and a new rp__ini (free it with rp__ini_free), or -1 with err set:
 * RP_ERR_CORRUPT "PATH:LINE: what" for a malformed file, RP_ERR_LIMIT when
 * larger than RP_INI_MAX_BYTES, RP_ERR_NOMEM. */
int rp__ini_parse(const char *text, size_t len, const char *path, rp__ini **out, rp_error *err);

/* Reads and parses a file.  Returns 0, or -1 with err set; err->code is
 * RP_ERR_NOT_FOUND when the file does not exist, or is a directory or a
 * character device such as /dev/null (no file, as botocore's
 * os.path.isfile); RP_ERR_IO when it cannot be read, or is a FIFO, a socket
 * or a block device ("PATH: is a FIFO, not a regular file": opened without
 * blocking, refused rather than skipped as botocore would). */
int rp__ini_load(const char *path, rp__ini **out, rp_error *err);

void rp__ini_free(rp__ini *ini);

/* Sections in file order ("DEFAULT" excluded). */
size_t rp__ini_section_count(const rp__ini *ini);
const char *rp__ini_section_name(const rp__ini *ini, size_t i);
bool rp__ini_has_section(const rp__ini *ini, const char *section);

/* The value of `key` (lower case) in `section`, or inherited from
 * [DEFAULT]; NULL when absent.  *line (may be NULL) gets the line of the
 * key, *nested (may be NULL) whether the value is a nested block.  The
 * string lives as long as the rp__ini. */
const char *rp__ini_get(const rp__ini *ini, const char *section, const char *key, int *line, bool *nested);

/* Calls `visit` for every option: those of [DEFAULT] first (section
 * "DEFAULT"), then each section's own, in file order (inherited values are
 * not repeated). */
typedef void (*rp__ini_visit_fn)(void *ctx, const char *section, const char *key, const char *value, int line,
                                 bool nested);
void rp__ini_foreach(const rp__ini *ini, rp__ini_visit_fn visit, void *ctx);

/* Internal, shared with the signer: the length in bytes of the character
 * at p when it is a Python whitespace character (str.isspace()), else 0.
 * Bytes that do not start a valid UTF-8 sequence are not whitespace. */
size_t rp__py_space_len(const char *p, const char *end);

/* The path given when parsing. */
const char *rp__ini_path(const rp__ini *ini);

#endif
