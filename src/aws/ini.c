/* The AWS shared configuration files, parsed as botocore parses them (see
 * ini.h).  The rules follow CPython 3.11's configparser.RawConfigParser._read
 * and botocore.configloader.raw_config_parse line for line; where they
 * are odd (no inline comments, "key: value", continuation by indentation),
 * the oddity is botocore's and we keep it so that a file means the same to
 * ridepred as to the AWS CLI. */
#include "aws/ini.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/file.h"

typedef struct ini_opt {
    char *key;
    rp__buf val;
    int line;
    bool nested;
} ini_opt;

typedef struct ini_section {
    char *name;
    ini_opt *opts;
    size_t n_opts, cap_opts;
    int line;
} ini_section;

struct rp__ini {
    char *path;
    ini_section *sections;
    size_t n_sections, cap_sections;
    ini_section defaults;
};

/* Values are at most the file's size; the cap only guards the buffers. */
#define INI_VALUE_MAX RP_INI_MAX_BYTES

/* ---- UTF-8 and Python's notion of whitespace ---------------------------- */

/* Decodes one code point of valid UTF-8 (the file was validated). */
static uint32_t utf8_at(const unsigned char *p, const unsigned char *end, size_t *len)
{
    unsigned c = p[0];
    (void)end;
    if (c < 0x80) {
        *len = 1;
        return c;
    }
    if (c < 0xE0) {
        *len = 2;
        return ((c & 0x1Fu) << 6) | (p[1] & 0x3Fu);
    }
    if (c < 0xF0) {
        *len = 3;
        return ((c & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    }
    *len = 4;
    return ((c & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
}

/* Python's str.isspace(). */
static bool py_space(uint32_t c)
{
    if (c < 0x80)
        return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

size_t rp__py_space_len(const char *p, const char *end)
{
    const unsigned char *u = (const unsigned char *)p, *e = (const unsigned char *)end;
    if (u >= e)
        return 0;
    if (u[0] < 0x80)
        return py_space(u[0]) ? 1 : 0;
    /* The non-ASCII spaces are 2-byte (C2 85, C2 A0) or 3-byte (E1 9A 80,
     * E2 80 80-8A, E2 80 A8/A9/AF, E2 81 9F, E3 80 80) sequences. */
    if (u[0] == 0xC2 && e - u >= 2 && (u[1] == 0x85 || u[1] == 0xA0))
        return 2;
    if ((u[0] == 0xE1 || u[0] == 0xE2 || u[0] == 0xE3) && e - u >= 3 && (u[1] & 0xC0) == 0x80 &&
        (u[2] & 0xC0) == 0x80) {
        size_t n;
        return py_space(utf8_at(u, e, &n)) ? 3 : 0;
    }
    return 0;
}

/* Returns the offset of the first invalid UTF-8 byte (as Python's strict
 * utf-8 codec judges: no overlong forms, no surrogates, at most U+10FFFF),
 * or len when all is valid. */
static size_t utf8_check(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t min, cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
            min = 0x80;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            min = 0x800;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            min = 0x10000;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (len - i < n)
            return i;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n;
    }
    return len;
}

/* Python's str.strip() on [*b, *e). */
static void py_strip(const char **b, const char **e)
{
    const unsigned char *p = (const unsigned char *)*b, *end = (const unsigned char *)*e;
    while (p < end) {
        size_t n;
        if (!py_space(utf8_at(p, end, &n)))
            break;
        p += n;
    }
    const unsigned char *last = p;
    for (const unsigned char *q = p; q < end;) {
        size_t n;
        uint32_t c = utf8_at(q, end, &n);
        q += n;
        if (!py_space(c))
            last = q;
    }
    *b = (const char *)p;
    *e = (const char *)last;
}

/* Python's str.rstrip(): the new end of [b, e). */
static const char *py_rstrip(const char *b, const char *e)
{
    const unsigned char *last = (const unsigned char *)b;
    for (const unsigned char *q = (const unsigned char *)b; q < (const unsigned char *)e;) {
        size_t n;
        uint32_t c = utf8_at(q, (const unsigned char *)e, &n);
        q += n;
        if (!py_space(c))
            last = q;
    }
    return (const char *)last;
}

/* The index, in code points, of the first non-space character (Python's
 * re.search(r"\S", line).start()); 0 for an all-space line. */
static size_t py_indent(const char *b, const char *e)
{
    const unsigned char *p = (const unsigned char *)b, *end = (const unsigned char *)e;
    size_t cps = 0;
    while (p < end) {
        size_t n;
        if (!py_space(utf8_at(p, end, &n)))
            return cps;
        p += n;
        cps++;
    }
    return 0;
}

/* ---- building ------------------------------------------------------------ */

static char *dup_range(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static void section_free(ini_section *s)
{
    for (size_t i = 0; i < s->n_opts; i++) {
        free(s->opts[i].key);
        rp__buf_cleanup(&s->opts[i].val);
    }
    free(s->opts);
    free(s->name);
    memset(s, 0, sizeof *s);
}

void rp__ini_free(rp__ini *ini)
{
    if (!ini)
        return;
    for (size_t i = 0; i < ini->n_sections; i++)
        section_free(&ini->sections[i]);
    free(ini->sections);
    section_free(&ini->defaults);
    free(ini->path);
    free(ini);
}

static ini_section *find_section(const rp__ini *ini, const char *name, size_t n)
{
    for (size_t i = 0; i < ini->n_sections; i++) {
        ini_section *s = &ini->sections[i];
        if (strlen(s->name) == n && memcmp(s->name, name, n) == 0)
            return s;
    }
    return NULL;
}

static ini_opt *find_opt(const ini_section *s, const char *key)
{
    for (size_t i = 0; i < s->n_opts; i++)
        if (strcmp(s->opts[i].key, key) == 0)
            return &s->opts[i];
    return NULL;
}

/* The error helpers return -1 so that callers can `goto out` after them. */
static int bad_line(rp_error *err, const rp__ini *ini, int line, const char *what)
{
    return rp_error_set(err, RP_ERR_CORRUPT, "%s:%d: %s", ini->path, line, what);
}

static int nomem(rp_error *err)
{
    return rp_error_set(err, RP_ERR_NOMEM, "out of memory reading a configuration file");
}

/* Joins every value ('\n'.join(parts).rstrip()) and applies botocore's
 * nested-block rule. */
/* The length of a str.splitlines() line boundary at p, or 0: \n \r \v \f
 * \x1c \x1d \x1e, U+0085, U+2028, U+2029. */
static size_t py_line_break(const char *p, const char *end)
{
    unsigned char c = (unsigned char)*p;
    if (c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || (c >= 0x1c && c <= 0x1e))
        return 1;
    if (c == 0xC2 && end - p >= 2 && (unsigned char)p[1] == 0x85)
        return 2;
    if (c == 0xE2 && end - p >= 3 && (unsigned char)p[1] == 0x80 &&
        ((unsigned char)p[2] == 0xA8 || (unsigned char)p[2] == 0xA9))
        return 3;
    return 0;
}

/* Joins every value ('\n'.join(parts).rstrip()) and, when `check_nested`,
 * applies botocore's nested-block rule (_parse_nested: every non-blank
 * line of a value that starts with a line break must hold a '='). */
static int finish_section(rp__ini *ini, ini_section *s, bool check_nested, rp_error *err)
{
    for (size_t i = 0; i < s->n_opts; i++) {
        ini_opt *o = &s->opts[i];
        if (o->val.failed)
            return nomem(err);
        if (!o->val.data && rp__buf_grow(&o->val, 0) != 0)
            return nomem(err);
        o->val.data[o->val.len] = '\0';
        /* rstrip only: a leading '\n' marks a nested block. */
        o->val.len = (size_t)(py_rstrip(o->val.data, o->val.data + o->val.len) - o->val.data);
        o->val.data[o->val.len] = '\0';
        if (o->val.len == 0 || o->val.data[0] != '\n')
            continue;
        o->nested = true;
        if (!check_nested)
            continue;
        const char *p = o->val.data, *end = o->val.data + o->val.len;
        while (p < end) {
            const char *le = p;
            size_t br = 0;
            while (le < end && (br = py_line_break(le, end)) == 0)
                le++;
            const char *lb = p, *lend = le;
            py_strip(&lb, &lend);
            if (lb < lend && !memchr(lb, '=', (size_t)(lend - lb))) {
                char what[200];
                snprintf(what, sizeof what, "the nested value of '%.64s' has a line without '='", o->key);
                return bad_line(err, ini, o->line, what);
            }
            p = le + br;
            if (le < end && *le == '\r' && le + 1 < end && le[1] == '\n')
                p++;
        }
    }
    return 0;
}

int rp__ini_parse(const char *text, size_t len, const char *path, rp__ini **out, rp_error *err)
{
    int rc = -1;
    rp__ini *ini = NULL;
    *out = NULL;
    if (len > RP_INI_MAX_BYTES) {
        rp_error_set(err, RP_ERR_LIMIT, "%s: larger than %zu bytes", path, RP_INI_MAX_BYTES);
        goto out;
    }
    ini = calloc(1, sizeof *ini);
    if (!ini || !(ini->path = dup_range(path, strlen(path)))) {
        nomem(err);
        goto out;
    }
    size_t bad = utf8_check((const unsigned char *)text, len);
    if (bad < len) {
        int line = 1;
        for (size_t i = 0; i < bad; i++)
            line += text[i] == '\n' || (text[i] == '\r' && (i + 1 >= len || text[i + 1] != '\n'));
        bad_line(err, ini, line, "not valid UTF-8");
        goto out;
    }
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        bad_line(err, ini, 1, "starts with a byte-order mark, which botocore does not accept");
        goto out;
    }

    ini_section *cur = NULL; /* the current section, or &ini->defaults */
    ini_opt *opt = NULL;     /* the option a continuation line extends */
    size_t indent_level = 0;
    int lineno = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        /* One line, ending at \n, \r\n or \r (Python's universal newlines). */
        const char *lb = p, *le = p;
        while (le < end && *le != '\n' && *le != '\r')
            le++;
        p = le;
        if (p < end)
            p += (*p == '\r' && p + 1 < end && p[1] == '\n') ? 2 : 1;
        lineno++;
        if (memchr(lb, '\0', (size_t)(le - lb))) {
            bad_line(err, ini, lineno, "contains a NUL byte");
            goto out;
        }
        const char *vb = lb, *ve = le;
        py_strip(&vb, &ve);
        if (vb < ve && (*vb == '#' || *vb == ';'))
            continue; /* a comment line, never part of a value */
        if (vb == ve) {
            /* A blank line inside a multi-line value is kept. */
            if (cur && opt && rp__buf_putc(&opt->val, '\n') != 0) {
                nomem(err);
                goto out;
            }
            continue;
        }
        size_t indent = py_indent(lb, le);
        if (cur && opt && indent > indent_level) {
            if (rp__buf_putc(&opt->val, '\n') != 0 || rp__buf_append(&opt->val, vb, (size_t)(ve - vb)) != 0) {
                nomem(err);
                goto out;
            }
            continue;
        }
        indent_level = indent;
        /* A section header: '[' .+ ']' with the last ']' on the line. */
        const char *close = NULL;
        if (*vb == '[') {
            for (const char *q = ve - 1; q > vb + 1; q--) {
                if (*q == ']') {
                    close = q;
                    break;
                }
            }
        }
        if (close) {
            const char *name = vb + 1;
            size_t n = (size_t)(close - name);
            opt = NULL;
            if (n == 7 && memcmp(name, "DEFAULT", 7) == 0) {
                cur = &ini->defaults;
                if (!cur->name && !(cur->name = dup_range("DEFAULT", 7))) {
                    nomem(err);
                    goto out;
                }
                continue;
            }
            if (find_section(ini, name, n)) {
                char what[200];
                snprintf(what, sizeof what, "duplicate section [%.*s]", (int)(n > 128 ? 128 : n), name);
                bad_line(err, ini, lineno, what);
                goto out;
            }
            if (ini->n_sections == ini->cap_sections) {
                size_t cap = ini->cap_sections ? ini->cap_sections * 2 : 8;
                ini_section *s = realloc(ini->sections, cap * sizeof *s);
                if (!s) {
                    nomem(err);
                    goto out;
                }
                ini->sections = s;
                ini->cap_sections = cap;
            }
            cur = &ini->sections[ini->n_sections];
            memset(cur, 0, sizeof *cur);
            if (!(cur->name = dup_range(name, n))) {
                nomem(err);
                goto out;
            }
            cur->line = lineno;
            ini->n_sections++;
            continue;
        }
        if (!cur) {
            bad_line(err, ini, lineno, "an option before any [section] header");
            goto out;
        }
        const char *delim = vb;
        while (delim < ve && *delim != '=' && *delim != ':')
            delim++;
        if (delim == ve) {
            bad_line(err, ini, lineno, "neither a [section], a 'key = value' line nor a comment");
            goto out;
        }
        const char *kb = vb, *ke = delim, *xb = delim + 1, *xe = ve;
        py_strip(&kb, &ke);
        py_strip(&xb, &xe);
        if (kb == ke) {
            bad_line(err, ini, lineno, "an option with an empty name");
            goto out;
        }
        char *key = dup_range(kb, (size_t)(ke - kb));
        if (!key) {
            nomem(err);
            goto out;
        }
        for (char *k = key; *k; k++)
            if (*k >= 'A' && *k <= 'Z')
                *k = (char)(*k - 'A' + 'a');
        if (find_opt(cur, key)) {
            char what[200];
            snprintf(what, sizeof what, "duplicate option '%.64s' in section [%.64s]", key, cur->name);
            free(key);
            bad_line(err, ini, lineno, what);
            goto out;
        }
        if (cur->n_opts == cur->cap_opts) {
            size_t cap = cur->cap_opts ? cur->cap_opts * 2 : 8;
            ini_opt *o = realloc(cur->opts, cap * sizeof *o);
            if (!o) {
                free(key);
                nomem(err);
                goto out;
            }
            cur->opts = o;
            cur->cap_opts = cap;
        }
        opt = &cur->opts[cur->n_opts++];
        opt->key = key;
        opt->line = lineno;
        opt->nested = false;
        rp__buf_init(&opt->val, INI_VALUE_MAX);
        if (rp__buf_append(&opt->val, xb, (size_t)(xe - xb)) != 0) {
            nomem(err);
            goto out;
        }
    }
    /* botocore checks the values it reads: those of every section,
     * including what they inherit from [DEFAULT]. */
    for (size_t i = 0; i < ini->n_sections; i++)
        if (finish_section(ini, &ini->sections[i], true, err) != 0)
            goto out;
    if (finish_section(ini, &ini->defaults, ini->n_sections > 0, err) != 0)
        goto out;
    *out = ini;
    ini = NULL;
    rc = 0;
out:
    rp__ini_free(ini);
    return rc;
}

int rp__ini_load(const char *path, rp__ini **out, rp_error *err)
{
    int rc = -1;
    FILE *f = NULL;
    char *text = NULL;
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            rp_error_set(err, RP_ERR_NOT_FOUND, "%s: no such file", path);
        else
            rp_error_set(err, RP_ERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (S_ISDIR(st.st_mode) || S_ISCHR(st.st_mode)) {
        /* botocore's os.path.isfile: a directory, or /dev/null (the usual
         * way to say "no config file"), is no file. */
        rp_error_set(err, RP_ERR_NOT_FOUND, "%s: %s, not a regular file", path, rp__file_kind(st.st_mode));
        goto out;
    }
    /* A FIFO, socket or block device is refused (botocore would skip it;
     * reading one would block): opened without waiting, checked again. */
    f = rp__file_fopen(path, err);
    if (!f)
        goto out;
    text = malloc(RP_INI_MAX_BYTES + 1);
    if (!text) {
        nomem(err);
        goto out;
    }
    size_t n = fread(text, 1, RP_INI_MAX_BYTES + 1, f);
    if (ferror(f)) {
        rp_error_set(err, RP_ERR_IO, "%s: read error", path);
        goto out;
    }
    if (n > RP_INI_MAX_BYTES) {
        rp_error_set(err, RP_ERR_LIMIT, "%s: larger than %zu bytes", path, RP_INI_MAX_BYTES);
        goto out;
    }
    rc = rp__ini_parse(text, n, path, out, err);
out:
    free(text);
    if (f)
        fclose(f);
    return rc;
}

size_t rp__ini_section_count(const rp__ini *ini)
{
    return ini->n_sections;
}

const char *rp__ini_section_name(const rp__ini *ini, size_t i)
{
    return i < ini->n_sections ? ini->sections[i].name : NULL;
}

bool rp__ini_has_section(const rp__ini *ini, const char *section)
{
    return find_section(ini, section, strlen(section)) != NULL;
}

const char *rp__ini_get(const rp__ini *ini, const char *section, const char *key, int *line, bool *nested)
{
    const ini_section *s = find_section(ini, section, strlen(section));
    if (!s)
        return NULL;
    const ini_opt *o = find_opt(s, key);
    if (!o)
        o = find_opt(&ini->defaults, key);
    if (!o)
        return NULL;
    if (line)
        *line = o->line;
    if (nested)
        *nested = o->nested;
    return o->val.data ? o->val.data : "";
}

void rp__ini_foreach(const rp__ini *ini, rp__ini_visit_fn visit, void *ctx)
{
    for (size_t i = 0; i < ini->defaults.n_opts; i++) {
        const ini_opt *o = &ini->defaults.opts[i];
        visit(ctx, "DEFAULT", o->key, o->val.data ? o->val.data : "", o->line, o->nested);
    }
    for (size_t k = 0; k < ini->n_sections; k++) {
        const ini_section *s = &ini->sections[k];
        for (size_t i = 0; i < s->n_opts; i++) {
            const ini_opt *o = &s->opts[i];
            visit(ctx, s->name, o->key, o->val.data ? o->val.data : "", o->line, o->nested);
        }
    }
}

const char *rp__ini_path(const rp__ini *ini)
{
    return ini->path;
}
