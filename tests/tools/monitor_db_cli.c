/* monitor_db_cli: a test driver for src/monitor/db.h, fed by
 * tests/integration/test_monitor_db.py.
 *
 *   monitor_db_cli [--table NAME] URL < rows
 *
 * Opens URL (rp__monitor_db_open), then writes one row per line of stdin
 * (rp__monitor_db_write), answering each on stdout, flushed, before reading
 * the next line: "ok", or "error <code> <retriable 0|1> <message>".  A line
 * is space-separated key=value fields (numbers as strtod reads them: "nan",
 * "inf"; booleans 0/1):
 *   source=S start=US end=US  (microseconds since the epoch, UTC)
 *   rides=N pred=X pred_drifted=B drifted=K share_drifted=X dataset_drift=B
 *   missing=M cells=C share_missing=X
 *   col=NAME:KIND:TEST:SCORE:DRIFTED:MISSING   (repeated; KIND num|cat; TEST
 *      an Evidently test name, or "-" for a column with no finite value)
 * The prediction is the column named "prediction" when there is one.
 * Exits 0 when every write succeeded, 3 when opening or a write failed
 * (opening: "monitor_db_cli: <message>" and "retriable: 0|1" on stderr),
 * 2 on a usage error or a malformed line. */
#include "monitor/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_of(const char *name, rp__drift_test *t)
{
    static const rp__drift_test all[] = {RP_DRIFT_TEST_KS, RP_DRIFT_TEST_WASSERSTEIN, RP_DRIFT_TEST_CHISQUARE,
                                         RP_DRIFT_TEST_Z, RP_DRIFT_TEST_JENSENSHANNON};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(rp__drift_test_name(all[i]), name) == 0) {
            *t = all[i];
            return 0;
        }
    return -1;
}

/* NAME:KIND:TEST:SCORE:DRIFTED:MISSING into column i of spec and res. */
static int parse_col(char *v, rp__monitor_spec *spec, rp__monitor_result *res)
{
    if (spec->n == RP_MONITOR_MAX_COLUMNS)
        return -1;
    char *f[6];
    for (int k = 0; k < 6; k++) {
        f[k] = v;
        char *c = k < 5 ? strchr(v, ':') : NULL;
        if (k < 5 && !c)
            return -1;
        if (c) {
            *c = '\0';
            v = c + 1;
        }
    }
    size_t i = spec->n++;
    rp__monitor_column *col = &spec->col[i];
    if (strlen(f[0]) > RP_MONITOR_NAME_MAX)
        return -1;
    strcpy(col->name, f[0]);
    col->kind = strcmp(f[1], "cat") == 0 ? RP_DRIFT_CAT : RP_DRIFT_NUM;
    rp__monitor_column_result *c = &res->col[i];
    memset(c, 0, sizeof *c);
    if (strcmp(f[2], "-") == 0) {
        c->status = RP_MONITOR_COLUMN_EMPTY;
    } else {
        c->status = RP_MONITOR_COLUMN_OK;
        if (test_of(f[2], &c->drift.test) != 0)
            return -1;
    }
    c->drift.score = strtod(f[3], NULL);
    c->drift.drifted = atoi(f[4]) != 0;
    c->missing = (size_t)strtoull(f[5], NULL, 10);
    if (strcmp(col->name, RP_MONITOR_PREDICTION) == 0)
        res->prediction = (int)i;
    res->ncols = spec->n;
    return 0;
}

static int parse_line(char *line, rp__monitor_db_row *row, rp__monitor_spec *spec, rp__monitor_result *res)
{
    memset(row, 0, sizeof *row);
    memset(spec, 0, sizeof *spec);
    memset(res, 0, sizeof *res);
    res->prediction = -1;
    row->spec = spec;
    row->result = res;
    for (char *save = NULL, *tok = strtok_r(line, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
        char *v = strchr(tok, '=');
        if (!v)
            return -1;
        *v++ = '\0';
        if (strcmp(tok, "source") == 0)
            row->source = v;
        else if (strcmp(tok, "start") == 0)
            row->start_us = strtoll(v, NULL, 10);
        else if (strcmp(tok, "end") == 0)
            row->end_us = strtoll(v, NULL, 10);
        else if (strcmp(tok, "rides") == 0)
            res->rides = (size_t)strtoull(v, NULL, 10);
        else if (strcmp(tok, "pred") == 0)
            res->prediction_drift = strtod(v, NULL);
        else if (strcmp(tok, "pred_drifted") == 0)
            res->prediction_drifted = atoi(v) != 0;
        else if (strcmp(tok, "drifted") == 0)
            res->num_drifted_columns = (size_t)strtoull(v, NULL, 10);
        else if (strcmp(tok, "share_drifted") == 0)
            res->share_drifted_columns = strtod(v, NULL);
        else if (strcmp(tok, "dataset_drift") == 0)
            res->dataset_drift = atoi(v) != 0;
        else if (strcmp(tok, "missing") == 0)
            res->missing_cells = (size_t)strtoull(v, NULL, 10);
        else if (strcmp(tok, "cells") == 0)
            res->cells = (size_t)strtoull(v, NULL, 10);
        else if (strcmp(tok, "share_missing") == 0)
            res->share_missing_values = strtod(v, NULL);
        else if (strcmp(tok, "col") == 0) {
            if (parse_col(v, spec, res) != 0)
                return -1;
        } else
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *table = NULL;
    int a = 1;
    if (a + 1 < argc && strcmp(argv[a], "--table") == 0) {
        table = argv[a + 1];
        a += 2;
    }
    if (a + 1 != argc) {
        fprintf(stderr, "usage: monitor_db_cli [--table NAME] URL < rows\n");
        return 2;
    }
    rp_error err = {0};
    rp__monitor_db *db = NULL;
    if (rp__monitor_db_open(argv[a], table, &db, &err) != 0) {
        fprintf(stderr, "monitor_db_cli: %s\nretriable: %d\n", err.msg, err.retriable ? 1 : 0);
        return 3;
    }
    int status = 0;
    char line[8192];
    while (fgets(line, sizeof line, stdin)) {
        if (line[0] == '\n' || line[0] == '#')
            continue;
        rp__monitor_db_row row;
        rp__monitor_spec spec;
        rp__monitor_result res;
        if (parse_line(line, &row, &spec, &res) != 0) {
            fprintf(stderr, "monitor_db_cli: malformed line\n");
            rp__monitor_db_close(db);
            return 2;
        }
        if (rp__monitor_db_write(db, &row, &err) == 0) {
            printf("ok\n");
        } else {
            printf("error %s %d %s\n", rp_code_name(err.code), err.retriable ? 1 : 0, err.msg);
            status = 3;
        }
        fflush(stdout);
    }
    rp__monitor_db_close(db);
    return status;
}
