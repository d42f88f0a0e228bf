/* src/monitor/monitor.c: the column sets, windows compared with a reference
 * (empty windows, columns with only missing values, NaN and Infinity as
 * missing, the dataset drift share), and the reference file (bit-for-bit
 * round trip, a missing column, a wrong kind, a bad cell naming its line).
 * The figures against SciPy are tests/integration/test_monitor_scipy.py. */
#include "common/pyfloat.h"
#include "monitor/monitor.h"
#include "monitor/report.h"
#include "pipeline/monitor_run.h"
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
    CHECK(rp__monitor_sample_init(&x, RP_MONITOR_MAX_COLUMNS + 1, 4, &err) == -1 &&
          err.code == RP_ERR_INVALID);
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
        CHECK(r.col[j].status == RP_MONITOR_COLUMN_EMPTY && isnan(r.col[j].drift.score) &&
              r.col[j].missing == 0);
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
    CHECK(rp__monitor_sample_init(&ref4, 4, 20, NULL) == 0 &&
          rp__monitor_sample_init(&cur4, 4, 20, NULL) == 0);
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
    static const double vals[] = {0.1,      1.0 / 3.0,
                                  5e-324,   1.7976931348623157e308,
                                  -0.0,     123456789.123456789,
                                  INFINITY, -INFINITY,
                                  NAN,      2.5e-17,
                                  1e16,     42};
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
    CHECK(back.ncols == 2 && bits(back.col[0][0]) == bits(s.col[6][0]) &&
          bits(back.col[1][5]) == bits(s.col[1][5]));
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
    CHECK(rp__monitor_reference_read(path, &serving, &s, NULL, &err) == -1 &&
          strstr(err.msg, "DOLocationID"));
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
    CHECK(rp__monitor_reference_read(path, &serving, &s, NULL, &err) == -1 &&
          strstr(err.msg, ":2: 3 fields"));
    write_text(path, "num:trip_distance,cat:PULocationID,cat:DOLocationID,num:prediction\n1.5,7,8,1,2\n");
    CHECK(rp__monitor_reference_read(path, &serving, &s, NULL, &err) == -1 &&
          strstr(err.msg, ":2: more fields"));
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

TEST(test_window_json)
{
    rp__monitor_spec spec;
    rp__monitor_sample ref, cur;
    small_setup(&spec, &ref);
    CHECK(rp__monitor_sample_init(&cur, 3, 4, NULL) == 0);
    put(&cur, (double[]){NAN, 0, 11});
    put(&cur, (double[]){INFINITY, 1, 12});
    rp__monitor_result r;
    CHECK(rp__monitor_compare(&spec, &ref, &cur, &r, NULL) == 0);
    rp__buf b;
    rp__buf_init(&b, 1 << 16);
    /* 2021-03-01T00:00:00Z and a day later */
    rp__monitor_window_json(&b, &spec, INT64_C(1614556800000000), INT64_C(1614643200000000), &r);
    /* the scores as Python's repr writes them (the values are SciPy's: test_monitor_scipy.py) */
    char pred[RP_PYFLOAT_MAX], bs[RP_PYFLOAT_MAX], want[1024];
    rp__pyfloat_repr(r.prediction_drift, pred);
    rp__pyfloat_repr(r.col[1].drift.score, bs);
    snprintf(
        want, sizeof want,
        "{\"start\": \"2021-03-01T00:00:00Z\", \"end\": \"2021-03-02T00:00:00Z\", \"rides\": 2, "
        "\"prediction_drift\": %s, \"prediction_drifted\": false, \"num_drifted_columns\": 0, "
        "\"share_drifted_columns\": 0.0, \"dataset_drift\": false, \"share_missing_values\": "
        "0.3333333333333333, \"columns\": {\"a\": {\"test\": null, \"score\": null, \"drifted\": false, "
        "\"missing\": 2}, \"b\": {\"test\": \"chisquare\", \"score\": %s, \"drifted\": false, \"missing\": 0}, "
        "\"prediction\": {\"test\": \"ks\", \"score\": %s, \"drifted\": false, \"missing\": 0}}}",
        pred, bs, pred);
    CHECK(!b.failed);
    CHECK_STR(b.data, want);
    /* an empty window: every number null */
    rp__monitor_sample none;
    CHECK(rp__monitor_sample_init(&none, 3, 0, NULL) == 0);
    CHECK(rp__monitor_compare(&spec, &ref, &none, &r, NULL) == 0);
    rp__buf_reset(&b);
    rp__monitor_window_json(&b, &spec, 0, 3600000000, &r);
    CHECK(strstr(b.data,
                 "\"start\": \"1970-01-01T00:00:00Z\", \"end\": \"1970-01-01T01:00:00Z\", \"rides\": 0, "
                 "\"prediction_drift\": null") &&
          strstr(b.data, "\"share_missing_values\": null") &&
          strstr(b.data, "\"share_drifted_columns\": 0.0"));
    char t[RP_MONITOR_TIME_MAX];
    rp__monitor_time_iso(-1, t); /* before the epoch: floor, the microseconds shown */
    CHECK_STR(t, "1969-12-31T23:59:59.999999Z");
    rp__monitor_time_iso(-1000000, t); /* a whole second: none */
    CHECK_STR(t, "1969-12-31T23:59:59Z");
    rp__monitor_time_iso(INT64_C(1500000), t); /* a sub-second window while serving */
    CHECK_STR(t, "1970-01-01T00:00:01.500000Z");
    rp__monitor_time_iso(INT64_C(951782400000000), t); /* a leap day */
    CHECK_STR(t, "2000-02-29T00:00:00Z");
    rp__buf_cleanup(&b);
    rp__monitor_sample_free(&none);
    rp__monitor_sample_free(&cur);
    rp__monitor_sample_free(&ref);
}

TEST(test_options)
{
    int64_t us;
    CHECK(rp__monitor_parse_window("1d", &us) == 0 && us == INT64_C(86400000000));
    CHECK(rp__monitor_parse_window("6h", &us) == 0 && us == INT64_C(21600000000));
    CHECK(rp__monitor_parse_window("30m", &us) == 0 && us == INT64_C(1800000000));
    CHECK(rp__monitor_parse_window("90", &us) == 0 && us == INT64_C(90000000));
    CHECK(rp__monitor_parse_window("90s", &us) == 0 && us == INT64_C(90000000));
    CHECK(rp__monitor_parse_window("366d", &us) == 0);
    const char *bad[] = {"0", "367d", "1w", "-1d", "1dd", "", "d", " 1d", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(rp__monitor_parse_window(bad[i], &us) == -1);
    rp__monitor_spec s;
    rp_error err = {0};
    CHECK(rp__monitor_parse_columns("num:trip_distance,fare_amount;cat:PULocationID", &s, &err) == 0);
    CHECK(s.n == 4 && s.col[1].kind == RP_DRIFT_NUM && s.col[2].kind == RP_DRIFT_CAT);
    CHECK_STR(s.col[1].name, "fare_amount");
    CHECK_STR(s.col[3].name, RP_MONITOR_PREDICTION);
    CHECK(rp__monitor_parse_columns("cat:PULocationID;num:-prediction", &s, &err) == 0 && s.n == 1);
    CHECK(rp__monitor_parse_columns("num:prediction,trip_distance", &s, &err) == 0 && s.n == 2 &&
          rp__monitor_spec_find(&s, RP_MONITOR_PREDICTION) == 0);
    CHECK(rp__monitor_parse_columns("x:a", &s, &err) == -1 && strstr(err.msg, "num: or cat:"));
    CHECK(rp__monitor_parse_columns("num:a,,b", &s, &err) == -1 && strstr(err.msg, "empty column name"));
    CHECK(rp__monitor_parse_columns("num:a;cat:a", &s, &err) == -1 && strstr(err.msg, "a is named twice"));
    CHECK(rp__monitor_parse_columns("num:-prediction", &s, &err) == -1 && strstr(err.msg, "no column left"));
    CHECK(rp__monitor_parse_columns("num:prediction,-prediction", &s, &err) == -1);
    CHECK(rp__monitor_parse_columns("", &s, &err) == -1);
    CHECK(rp__monitor_parse_columns("num:a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p", &s, &err) == -1 &&
          strstr(err.msg, "with the prediction"));
}

/* The reference of trip files: the kept rides only, a uniform sample in file order beyond the cap,
 * the same for the same seed. */
TEST(test_reference_from_trips)
{
    char dir[256], path[300];
    rp_t_tmpdir(dir, sizeof dir, "test_monitor");
    snprintf(path, sizeof path, "%s/trips.csv", dir);
    FILE *f = fopen(path, "w");
    fputs("lpep_pickup_datetime,lpep_dropoff_datetime,PULocationID,DOLocationID,trip_distance,fare_amount\n",
          f);
    for (int i = 0; i < 100; i++) /* every third ride lasts 90 minutes: not kept */
        fprintf(f, "2021-03-01 10:00:00,2021-03-01 %s,%d,%d,%d.5,%d\n", i % 3 == 2 ? "11:30:00" : "10:10:00",
                i, i + 1, i, i % 7 ? i : -1);
    fclose(f);
    rp__monitor_spec spec = {0};
    rp_error err = {0};
    CHECK(rp__monitor_parse_columns("num:trip_distance,fare_amount;cat:DOLocationID;num:-prediction", &spec,
                                    &err) == 0);
    const char *files[] = {path};
    rp__monitor_sample all, a, b, c;
    rp__monitor_scored st;
    CHECK(rp__monitor_reference_from_trips(NULL, files, 1, &spec, 1000, 15, NULL, &all, &st, &err) == 0);
    CHECK(all.n == 67 && st.rows == 100 && st.used == 67 && st.unscored == 0);
    bool kept = true;
    for (size_t i = 0; i < all.n; i++) /* trip_distance i + 0.5 of row i, i % 3 != 2 */
        kept &= ((int)all.col[0][i]) % 3 != 2 && all.col[2][i] == all.col[0][i] + 0.5;
    CHECK(kept);
    CHECK(rp__monitor_reference_from_trips(NULL, files, 1, &spec, 10, 15, NULL, &a, NULL, &err) == 0 &&
          a.n == 10);
    CHECK(rp__monitor_reference_from_trips(NULL, files, 1, &spec, 10, 15, NULL, &b, NULL, &err) == 0 &&
          b.n == 10);
    CHECK(rp__monitor_reference_from_trips(NULL, files, 1, &spec, 10, 16, NULL, &c, NULL, &err) == 0 &&
          c.n == 10);
    bool same = true, differs = false, ordered = true, subset = true;
    for (size_t i = 0; i < 10; i++) {
        same &= a.col[0][i] == b.col[0][i];
        differs |= a.col[0][i] != c.col[0][i];
        if (i)
            ordered &= a.col[0][i] > a.col[0][i - 1];
        subset &= ((int)a.col[0][i]) % 3 != 2;
    }
    CHECK(same && differs && ordered && subset);
    rp__monitor_sample_free(&all);
    rp__monitor_sample_free(&a);
    rp__monitor_sample_free(&b);
    rp__monitor_sample_free(&c);
    /* a column the file lacks, and predictions without a model */
    CHECK(rp__monitor_parse_columns("num:tip_amount;num:-prediction", &spec, &err) == 0);
    CHECK(rp__monitor_reference_from_trips(NULL, files, 1, &spec, 10, 15, NULL, &a, NULL, &err) == -1 &&
          strstr(err.msg, path) && strstr(err.msg, "no column tip_amount"));
    rp__monitor_spec_serving(&spec);
    CHECK(rp__monitor_reference_from_trips(NULL, files, 1, &spec, 10, 15, NULL, &a, NULL, &err) == -1 &&
          strstr(err.msg, "a model"));
    /* nothing kept */
    f = fopen(path, "w");
    fputs("lpep_pickup_datetime,lpep_dropoff_datetime,PULocationID,DOLocationID,trip_distance\n"
          "2021-03-01 10:00:00,2021-03-01 10:00:10,1,2,3\n",
          f);
    fclose(f);
    CHECK(rp__monitor_parse_columns("num:trip_distance;num:-prediction", &spec, &err) == 0);
    CHECK(rp__monitor_reference_from_trips(NULL, files, 1, &spec, 10, 15, NULL, &a, NULL, &err) == -1 &&
          strstr(err.msg, "no rides left"));
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
    RUN(test_window_json);
    RUN(test_options);
    RUN(test_reference_from_trips);
    return rp_t_done();
}
