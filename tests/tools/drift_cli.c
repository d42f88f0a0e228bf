/* drift_cli: a test driver for src/monitor/drift.h, fed by
 * tests/integration/test_drift_scipy.py.  Reads cases from stdin, each three
 * lines: a command, then two lines of space-separated numbers (strtod: "nan",
 * "inf" and "-inf" are accepted).  Commands and the line each writes
 * (numbers as %.17g, so they read back exactly):
 *   ks              A, B           -> D p            (rp__ks_2samp)
 *   wasserstein     U, V           -> w              (rp__wasserstein)
 *   chisquare       OBS, EXP       -> stat p         (rp__chisquare)
 *   jensenshannon   P, Q           -> js             (rp__jensenshannon)
 *   num | cat       REF, CUR       -> test score drifted n_values (rp__column_drift)
 *   missing         X, (ignored)   -> count          (rp__count_missing)
 *   kstwo           N..., X...     -> one sf per pair (rp__kstwo_sf)
 * A failing call writes "error <code> <message>".  Exits 2 on a malformed case. */
#include "monitor/drift.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_all(FILE *f)
{
    size_t cap = 1 << 16, len = 0;
    char *b = malloc(cap);
    size_t got;
    while (b && (got = fread(b + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 2) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return NULL;
            }
            b = nb;
            cap *= 2;
        }
    }
    if (b)
        b[len] = 0;
    return b;
}

/* Parses the numbers of one line into a fresh array (caller frees). */
static double *parse_line(char *line, size_t *n)
{
    size_t cap = 16;
    double *v = malloc(cap * sizeof *v);
    *n = 0;
    char *p = line, *end;
    while (v) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        double x = strtod(p, &end);
        if (end == p) {
            free(v);
            return NULL;
        }
        p = end;
        if (*n == cap) {
            double *nv = realloc(v, 2 * cap * sizeof *v);
            if (!nv) {
                free(v);
                return NULL;
            }
            v = nv;
            cap *= 2;
        }
        v[(*n)++] = x;
    }
    return v;
}

int main(void)
{
    char *all = read_all(stdin);
    if (!all)
        return 2;
    char *save = NULL;
    int status = 0;
    for (;;) {
        char *cmd = strtok_r(save ? NULL : all, "\n", &save);
        if (!cmd)
            break;
        char *l1 = strtok_r(NULL, "\n", &save), *l2 = strtok_r(NULL, "\n", &save);
        if (!l1 || !l2) {
            fprintf(stderr, "drift_cli: case '%s' lacks its two lines\n", cmd);
            status = 2;
            break;
        }
        /* An empty sample is written as the single word "empty". */
        size_t na = 0, nb = 0;
        double *a = strcmp(l1, "empty") == 0 ? malloc(sizeof(double)) : parse_line(l1, &na);
        double *b = strcmp(l2, "empty") == 0 ? malloc(sizeof(double)) : parse_line(l2, &nb);
        if (!a || !b) {
            fprintf(stderr, "drift_cli: malformed numbers in case '%s'\n", cmd);
            free(a);
            free(b);
            status = 2;
            break;
        }
        rp_error err = {0};
        int rc = 0;
        if (strcmp(cmd, "ks") == 0) {
            double d, p;
            if (!(rc = rp__ks_2samp(a, na, b, nb, &d, &p, &err)))
                printf("%.17g %.17g\n", d, p);
        } else if (strcmp(cmd, "wasserstein") == 0) {
            double w;
            if (!(rc = rp__wasserstein(a, na, b, nb, &w, &err)))
                printf("%.17g\n", w);
        } else if (strcmp(cmd, "chisquare") == 0) {
            double s, p;
            if (na != nb)
                rc = rp_error_set(&err, RP_ERR_INVALID, "chisquare: %zu observed, %zu expected", na, nb);
            else if (!(rc = rp__chisquare(a, b, na, &s, &p, &err)))
                printf("%.17g %.17g\n", s, p);
        } else if (strcmp(cmd, "jensenshannon") == 0) {
            if (na != nb)
                rc = rp_error_set(&err, RP_ERR_INVALID, "jensenshannon: lengths %zu and %zu", na, nb);
            else
                printf("%.17g\n", rp__jensenshannon(a, b, na));
        } else if (strcmp(cmd, "num") == 0 || strcmp(cmd, "cat") == 0) {
            rp__drift_result r;
            if (!(rc = rp__column_drift(a, na, b, nb, cmd[0] == 'n' ? RP_DRIFT_NUM : RP_DRIFT_CAT, &r, &err)))
                printf("%s %.17g %d %zu\n", rp__drift_test_name(r.test), r.score, r.drifted ? 1 : 0,
                       r.n_values);
        } else if (strcmp(cmd, "kstwo") == 0) {
            for (size_t i = 0; i < na && i < nb; i++)
                printf("%s%.17g", i ? " " : "", rp__kstwo_sf(b[i], a[i]));
            printf("\n");
        } else if (strcmp(cmd, "missing") == 0) {
            printf("%zu\n", rp__count_missing(a, na));
        } else {
            fprintf(stderr, "drift_cli: unknown command '%s'\n", cmd);
            status = 2;
        }
        if (rc)
            printf("error %d %s\n", (int)err.code, err.msg);
        free(a);
        free(b);
        if (status)
            break;
    }
    free(all);
    return status;
}
