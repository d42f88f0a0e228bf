/* src/monitor/monitor.c: the column sets, windows compared with a reference
 * (empty windows, columns with only missing values, NaN and Infinity as
 * missing, the dataset drift share), and the reference file (bit-for-bit
 * round trip, a missing column, a wrong kind, a bad cell naming its line).
 * The figures against SciPy are tests/integration/test_monitor_scipy.py. */
#include "monitor/monitor.h"
#include "testing.h"

#include <math.h>
#include <stdint.h>

static void put(rp__monitor_sample *s, const double *row)
{
    for (size_t j = 0; j < s->ncols; j++)
        s->col[j][s->n] = row[j];
    s->n++;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

TEST(test_specs)
{
    rp__monitor_spec s;
    rp__monitor_spec_course(&s);
    CHECK(s.n == 7);
    CHECK(rp__monitor_spec_find(&s, "passenger_count") == 0);
    CHECK(rp__monitor_spec_find(&s, "PULocationID") == 4 && s.col[4].kind == RP_DRIFT_CAT);
    CHECK(rp__monitor_spec_find(&s, RP_MONITOR_PREDICTION) == 6 && s.col[6].kind == RP_DRIFT_NUM);
    CHECK(rp__monitor_spec_find(&s, "nope") == -1);
    rp__monitor_spec_serving(&s);
    CHECK(s.n == 4);
    CHECK_STR(s.col[0].name, "trip_distance");
    CHECK(rp__monitor_spec_find(&s, "DOLocationID") == 2 && s.col[2].kind == RP_DRIFT_CAT);
    CHECK(rp__monitor_spec_find(&s, RP_MONITOR_PREDICTION) == 3);
    rp__monitor_sample x;
    rp_error err = {0};
    CHECK(rp__monitor_sample_init(&x, RP_MONITOR_MAX_COLUMNS + 1, 4, &err) == -1 && err.code == RP_ERR_INVALID);
    rp__monitor_sample_free(&x); /* left empty: safe */
    CHECK(rp__monitor_sample_init(&x, 2, 0, &err) == 0 && x.ncols == 2 && x.n == 0);
    rp__monitor_sample_free(&x);
}

/* A spec of two numerical columns and the prediction, a reference of 20
 * rows. */
static void small_setup(rp__monitor_spec *spec, rp__monitor_sample *ref)
{
    memset(spec, 0, sizeof *spec);
    spec->n = 3;
    strcpy(spec->col[0].name, "a");
    spec->col[0].kind = RP_DRIFT_NUM;
    strcpy(spec->col[1].name, "b");
    spec->col[1].kind = RP_DRIFT_CAT;
    strcpy(spec->col[2].name, RP_MONITOR_PREDICTION);
    spec->col[2].kind = RP_DRIFT_NUM;
    CHECK(rp__monitor_sample_init(ref, 3, 20, NULL) == 0);
    for (int i = 0; i < 20; i++)
        put(ref, (double[]){i, i % 3, 10 + i});
}

TEST(test_compare_empty_window)
{
    rp__monitor_spec spec;
    rp__monitor_sample ref, cur;
    small_setup(&spec, &ref);
    CHECK(rp__monitor_sample_init(&cur, 3, 0, NULL) == 0);
    rp__monitor_result r;
    CHECK(rp__monitor_compare(&spec, &ref, &cur, &r, NULL) == 0);
    CHECK(r.rides == 0 && r.ncols == 3);
    for (int j = 0; j < 3; j++)
        CHECK(r.col[j].status == RP_MONITOR_COLUMN_EMPTY && isnan(r.col[j].drift.score) && r.col[j].missing == 0);
    CHECK(r.prediction == 2 && isnan(r.prediction_drift) && !r.prediction_drifted);
    CHECK(r.num_drifted_columns == 0 && !r.dataset_drift && r.share_drifted_columns == 0.0);
    CHECK(r.cells == 0 && isnan(r.share_missing_values));
    /* mismatched column counts */
    rp__monitor_sample bad;
    CHECK(rp__monitor_sample_init(&bad, 2, 1, NULL) == 0);
    rp_error err = {0};
    CHECK(rp__monitor_compare(&spec, &ref, &bad, &r, &err) == -1 && err.code == RP_ERR_INVALID);
    rp__monitor_sample_free(&bad);
    rp__monitor_sample_free(&cur);
    rp__monitor_sample_free(&ref);
}

TEST(test_compare_missing)
{
    rp__monitor_spec spec;
    rp__monitor_sample ref, cur;
    small_setup(&spec, &ref);
    CHECK(rp__monitor_sample_init(&cur, 3, 8, NULL) == 0);
    /* column a: only missing values (NaN, inf, -inf); b and prediction fine */
    put(&cur, (double[]){NAN, 0, 11});
    put(&cur, (double[]){INFINITY, 1, 12});
    put(&cur, (double[]){-INFINITY, 2, 13});
    put(&cur, (double[]){NAN, 1, NAN});
    rp__monitor_result r;
    CHECK(rp__monitor_compare(&spec, &ref, &cur, &r, NULL) == 0);
    CHECK(r.rides == 4);
    CHECK(r.col[0].status == RP_MONITOR_COLUMN_EMPTY && r.col[0].missing == 4 && isnan(r.col[0].drift.score));
    CHECK(r.col[1].status == RP_MONITOR_COLUMN_OK && r.col[1].missing == 0);
    CHECK(r.col[2].status == RP_MONITOR_COLUMN_OK && r.col[2].missing == 1);
    CHECK(r.col[2].drift.current_n == 3); /* the NaN prediction left out of its test */
    CHECK(r.missing_cells == 5 && r.cells == 12);
    CHECK(r.share_missing_values == 5.0 / 12.0);
    CHECK(r.prediction_drift == r.col[2].drift.score && !isnan(r.prediction_drift));
    /* a reference column with nothing finite: EMPTY too */
    for (size_t i = 0; i < ref.n; i++)
        ref.col[1][i] = NAN;
    CHECK(rp__monitor_compare(&spec, &ref, &cur, &r, NULL) == 0);
    CHECK(r.col[1].status == RP_MONITOR_COLUMN_EMPTY && r.col[1].missing == 0);
    rp__monitor_sample_free(&cur);
    rp__monitor_sample_free(&ref);
}

TEST(test_compare_dataset_drift_share)
{
    rp__monitor_spec spec;
    rp__monitor_sample ref, cur;
    small_setup(&spec, &ref);
    CHECK(rp__monitor_sample_init(&cur, 3, 20, NULL) == 0);
    /* a: shifted far (drifts); b and the prediction: the reference itself */
    for (int i = 0; i < 20; i++)
        put(&cur, (double[]){1000 + i, i % 3, 10 + i});
    rp__monitor_result r;
    CHECK(rp__monitor_compare(&spec, &ref, &cur, &r, NULL) == 0);
    CHECK(r.col[0].status == RP_MONITOR_COLUMN_OK && r.col[0].drift.drifted);
    CHECK(r.col[0].drift.test == RP_DRIFT_TEST_KS);
    CHECK(!r.col[1].drift.drifted && !r.col[2].drift.drifted);
    CHECK(r.num_drifted_columns == 1 && !r.dataset_drift); /* 1/3 < 0.5 */
    CHECK(r.share_drifted_columns == 1.0 / 3.0);
    CHECK(!r.prediction_drifted && r.prediction_drift == 1.0);
    /* the prediction too: 2/3 >= 0.5 */
    for (int i = 0; i < 20; i++)
        cur.col[2][i] = 500 + i;
    CHECK(rp__monitor_compare(&spec, &ref, &cur, &r, NULL) == 0);
    CHECK(r.num_drifted_columns == 2 && r.dataset_drift && r.prediction_drifted);
    /* exactly half drifts: 2 of 4 columns */
    spec.n = 4;
    strcpy(spec.col[3].name, "d");
    spec.col[3].kind = RP_DRIFT_NUM;
    rp__monitor_sample ref4, cur4;
    CHECK(rp__monitor_sample_init(&ref4, 4, 20, NULL) == 0 && rp__monitor_sample_init(&cur4, 4, 20, NULL) == 0);
    for (int i = 0; i < 20; i++) {
        put(&ref4, (double[]){i, i % 3, 10 + i, i});
        put(&cur4, (double[]){1000 + i, i % 3, 500 + i, i});
    }
    CHECK(rp__monitor_compare(&spec, &ref4, &cur4, &r, NULL) == 0);
    CHECK(r.num_drifted_columns == 2 && r.share_drifted_columns == 0.5 && r.dataset_drift);
    /* no prediction column: prediction -1, NaN */
    strcpy(spec.col[2].name, "c");
    CHECK(rp__monitor_compare(&spec, &ref4, &cur4, &r, NULL) == 0);
    CHECK(r.prediction == -1 && isnan(r.prediction_drift) && !r.prediction_drifted);
    rp__monitor_sample_free(&ref4);
    rp__monitor_sample_free(&cur4);
    rp__monitor_sample_free(&cur);
    rp__monitor_sample_free(&ref);
}

static uint64_t bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

TEST(test_reference_round_trip)
{
    char dir[256], path[300];
    rp_t_tmpdir(dir, sizeof dir, "test_monitor");
    snprintf(path, sizeof path, "%s/ref.csv", dir);
    rp__monitor_spec spec;
    rp__monitor_spec_course(&spec);
    rp__monitor_sample s;
    CHECK(rp__monitor_sample_init(&s, spec.n, 6, NULL) == 0);
    static const double vals[] = {0.1, 1.0 / 3.0, 5e-324, 1.7976931348623157e308, -0.0, 123456789.123456789,
                                  INFINITY, -INFINITY, NAN, 2.5e-17, 1e16, 42};
    for (size_t i = 0; i < 6; i++) {
        double row[7];
        for (size_t j = 0; j < 7; j++)
            row[j] = vals[(i * 7 + j) % 12];
        put(&s, row);
    }
    rp_error err = {0};
    CHECK(rp__monitor_reference_write(path, &spec, &s, &err) == 0);
    rp__monitor_sample back;
    rp__monitor_spec got;
    CHECK(rp__monitor_reference_read(path, &spec, &back, &got, &err) == 0);
    CHECK(back.n == 6 && back.ncols == 7 && got.n == 7);
    CHECK_STR(got.col[4].name, "PULocationID");
    CHECK(got.col[4].kind == RP_DRIFT_CAT);
    bool same = true;
    for (size_t j = 0; j < 7; j++)
        for (size_t i = 0; i < 6; i++)
            if (isnan(s.col[j][i]) ? !isnan(back.col[j][i]) : bits(s.col[j][i]) != bits(back.col[j][i]))
                same = false;
    CHECK(same);
    rp__monitor_sample_free(&back);
    /* a subset in another order */
    rp__monitor_spec want = {0};
    want.n = 2;
    want.col[0] = spec.col[6];
    want.col[1] = spec.col[1];
    CHECK(rp__monitor_reference_read(path, &want, &back, NULL, &err) == 0);
    CHECK(back.ncols == 2 && bits(back.col[0][0]) == bits(s.col[6][0]) && bits(back.col[1][5]) == bits(s.col[1][5]));
    rp__monitor_sample_free(&back);
    /* the header as documented */
    FILE *f = fopen(path, "r");
    char line[256] = "";
    CHECK(f && fgets(line, sizeof line, f));
    if (f)
        fclose(f);
    CHECK_STR(line, "num:passenger_count,num:trip_distance,num:fare_amount,num:total_amount,cat:PULocationID,"
                    "cat:DOLocationID,num:prediction\n");
    /* an unwritable place names the path */
    char bad[320];
    snprintf(bad, sizeof bad, "%s/no/such/dir/ref.csv", dir);
    CHECK(rp__monitor_reference_write(bad, &spec, &s, &err) == -1 && err.code == RP_ERR_IO);
    CHECK(strstr(err.msg, "/no/such/dir/ref.csv") != NULL);
    rp__monitor_sample_free(&s);
    rp_t_rmtree(dir);
}

TEST(test_reference_errors)
{
    char dir[256], path[300];
    rp_t_tmpdir(dir, sizeof dir, "test_monitor");
    snprintf(path, sizeof path, "%s/ref.csv", dir);
    rp__monitor_spec spec;
    rp__monitor_spec_course(&spec);
    rp__monitor_sample s;
    rp_error err = {0};
    /* a column missing */
    write_text(path, "num:trip_distance,cat:PULocationID,num:prediction\n1.5,7,10\n");
    CHECK(rp__monitor_reference_read(path, &spec, &s, NULL, &err) == -1 && err.code == RP_ERR_INVALID);
    CHECK(strstr(err.msg, path) && strstr(err.msg, "no column passenger_count"));
    CHECK(s.ncols == 0 && s.n == 0);
    /* the serving set is in it */
    rp__monitor_spec serving;
    rp__monitor_spec_serving(&serving);
    CHECK(rp__monitor_reference_read(path, &serving, &s, NULL, &err) == -1 && strstr(err.msg, "DOLocationID"));
    /* wrong kind */
    write_text(path, "num:trip_distance,num:PULocationID,cat:DOLocationID,num:prediction\n1.5,7,8,10\n");
    CHECK(rp__monitor_reference_read(path, &serving, &s, NULL, &err) == -1 && err.code == RP_ERR_INVALID);
    CHECK(strstr(err.msg, path) && strstr(err.msg, "PULocationID") && strstr(err.msg, "cat:PULocationID"));
    /* a bad cell names its line and column */
    write_text(path, "num:trip_distance,cat:PULocationID,cat:DOLocationID,num:prediction\n1.5,7,8,10\n"
                     "2,7,8,11\n2.5,x7,8,12\n");
    CHECK(rp__monitor_reference_read(path, &serving, &s, NULL, &err) == -1 && err.code == RP_ERR_INVALID);
    CHECK(strstr(err.msg, ":4:") && strstr(err.msg, "PULocationID") && strstr(err.msg, "x7"));
    /* a short line, a long line */
    write_text(path, "num:trip_distance,cat:PULocationID,cat:DOLocationID,num:prediction\n1.5,7,8\n");
    CHECK(rp__monitor_reference_read(path, &serving, &s, NULL, &err) == -1 && strstr(err.msg, ":2: 3 fields"));
    write_text(path, "num:trip_distance,cat:PULocationID,cat:DOLocationID,num:prediction\n1.5,7,8,1,2\n");
    CHECK(rp__monitor_reference_read(path, &serving, &s, NULL, &err) == -1 && strstr(err.msg, ":2: more fields"));
    /* not a reference: no kinds */
    write_text(path, "trip_distance,PULocationID\n1,2\n");
    CHECK(rp__monitor_reference_read(path, &serving, &s, NULL, &err) == -1 && strstr(err.msg, "KIND:NAME"));
    write_text(path, "");
    CHECK(rp__monitor_reference_read(path, &serving, &s, NULL, &err) == -1 && strstr(err.msg, "no header"));
    /* missing cells, NaN and Infinity, CRLF: read as missing/infinite */
    write_text(path, "num:trip_distance,cat:PULocationID,cat:DOLocationID,num:prediction\r\n,7,8,nan\r\n"
                     "inf,-inf,8,Infinity\r\n");
    CHECK(rp__monitor_reference_read(path, &serving, &s, NULL, &err) == 0);
    CHECK(s.n == 2 && isnan(s.col[0][0]) && isnan(s.col[3][0]) && s.col[0][1] == INFINITY &&
          s.col[1][1] == -INFINITY && s.col[3][1] == INFINITY && s.col[2][1] == 8);
    rp__monitor_sample_free(&s);
    /* a file that is not there: named */
    snprintf(path, sizeof path, "%s/none.csv", dir);
    CHECK(rp__monitor_reference_read(path, &serving, &s, NULL, &err) == -1 && err.code == RP_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "none.csv") != NULL);
    rp_t_rmtree(dir);
}

int main(void)
{
    RUN(test_specs);
    RUN(test_compare_empty_window);
    RUN(test_compare_missing);
    RUN(test_compare_dataset_drift_share);
    RUN(test_reference_round_trip);
    RUN(test_reference_errors);
    return rp_t_done();
}
