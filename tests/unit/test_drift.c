/* src/monitor/drift.c: values worked out by hand, Evidently's rule choice
 * and thresholds, and the edge cases (empty, constant, NaN/Infinity, one
 * category).  SciPy parity is tests/integration/test_drift_scipy.py. */
#include "monitor/drift.h"
#include "testing.h"

#include <math.h>

#define NEAR(x, y) (fabs((x) - (y)) <= 1e-12 * fmax(1.0, fabs(y)))

TEST(test_ks_by_hand)
{
    double a[] = {1, 2, 3}, b[] = {4, 5, 6}, d, p;
    /* Disjoint samples of 3: D = 1, P(D >= 1) = 2 / C(6, 3). */
    CHECK(rp__ks_2samp(a, 3, b, 3, &d, &p, NULL) == 0);
    CHECK(d == 1.0);
    CHECK(NEAR(p, 0.1));
    /* Same sample: D = 0, p = 1. */
    CHECK(rp__ks_2samp(a, 3, a, 3, &d, &p, NULL) == 0);
    CHECK(d == 0.0 && p == 1.0);
    /* Unequal sizes, disjoint: only the two extreme paths leave, 2 / C(5, 2). */
    double c[] = {10, 11};
    CHECK(rp__ks_2samp(a, 3, c, 2, &d, &p, NULL) == 0);
    CHECK(d == 1.0);
    CHECK(NEAR(p, 0.2));
    rp_error err = {0};
    CHECK(rp__ks_2samp(a, 0, b, 3, &d, &p, &err) == -1 && err.code == RP_ERR_INVALID);
}

TEST(test_ks_asymptotic)
{
    /* kstwo.sf for n = 1: D_1 is uniform on [1/2, 1], so sf(x) = 2 - 2x there. */
    CHECK(NEAR(rp__kstwo_sf(0.75, 1), 0.5));
    CHECK(rp__kstwo_sf(0.4, 1) == 1.0 && rp__kstwo_sf(1.0, 1) == 0.0);
    CHECK(isnan(rp__kstwo_sf(0.3, 0)) && isnan(rp__kstwo_sf(0.3, 2.5)));
    /* More than 10,000 values: the asymptotic p-value.  Two halves of one
     * grid interleaved: D = 1/20000, p close to 1. */
    static double a[20000], b[20000];
    for (int i = 0; i < 20000; i++) {
        a[i] = 2 * i;
        b[i] = 2 * i + 1;
    }
    double d, p;
    CHECK(rp__ks_2samp(a, 20000, b, 20000, &d, &p, NULL) == 0);
    CHECK(NEAR(d, 1.0 / 20000) && p > 0.999 && p <= 1.0);
    /* Shifted by half the range: D = 1/2, p vanishes. */
    for (int i = 0; i < 20000; i++)
        b[i] = 2 * i + 20000;
    CHECK(rp__ks_2samp(a, 20000, b, 20000, &d, &p, NULL) == 0);
    CHECK(NEAR(d, 0.5) && p < 1e-100);
}

TEST(test_wasserstein_by_hand)
{
    double u[] = {0, 1}, v[] = {1, 2}, w;
    CHECK(rp__wasserstein(u, 2, v, 2, &w, NULL) == 0 && NEAR(w, 1.0));
    double x[] = {3, 3, 3};
    CHECK(rp__wasserstein(x, 3, x, 3, &w, NULL) == 0 && w == 0.0);
    rp_error err = {0};
    CHECK(rp__wasserstein(u, 2, v, 0, &w, &err) == -1 && err.code == RP_ERR_INVALID);
}

TEST(test_special_functions)
{
    CHECK(rp__ndtr(0) == 0.5);
    CHECK(NEAR(rp__ndtr(1.0) + rp__ndtr(-1.0), 1.0));
    /* Two degrees of freedom: the tail is exp(-x / 2). */
    for (double x = 0.25; x < 60; x *= 1.7)
        CHECK(fabs(rp__chi2_sf(x, 2) - exp(-x / 2)) <= 1e-14);
    CHECK(rp__chi2_sf(0, 3) == 1.0);
    CHECK(rp__chi2_sf(INFINITY, 3) == 0.0);
    CHECK(isnan(rp__chi2_sf(0, 0))); /* one category: SciPy's NaN */
}

TEST(test_chisquare_and_js)
{
    double obs[] = {10, 20, 30}, exp[] = {10, 20, 30}, s, p;
    CHECK(rp__chisquare(obs, exp, 3, &s, &p, NULL) == 0 && s == 0.0 && p == 1.0);
    double exp0[] = {0, 30, 30};
    CHECK(rp__chisquare(obs, exp0, 3, &s, &p, NULL) == 0 && isinf(s) && p == 0.0);
    rp_error err = {0};
    CHECK(rp__chisquare(obs, exp, 0, &s, &p, &err) == -1 && err.code == RP_ERR_INVALID);
    double pp[] = {1, 0}, qq[] = {0, 1}, same[] = {0.5, 0.5};
    CHECK(NEAR(rp__jensenshannon(pp, qq, 2), sqrt(log(2.0))));
    CHECK(rp__jensenshannon(same, same, 2) == 0.0);
    double scaled[] = {2, 2}; /* normalised first */
    CHECK(rp__jensenshannon(same, scaled, 2) == 0.0);
}

TEST(test_rule_choice)
{
    CHECK(rp__drift_pick_test(RP_DRIFT_NUM, 1000, 6) == RP_DRIFT_TEST_KS);
    CHECK(rp__drift_pick_test(RP_DRIFT_NUM, 1001, 6) == RP_DRIFT_TEST_WASSERSTEIN);
    CHECK(rp__drift_pick_test(RP_DRIFT_NUM, 1000, 5) == RP_DRIFT_TEST_CHISQUARE);
    CHECK(rp__drift_pick_test(RP_DRIFT_NUM, 1000, 2) == RP_DRIFT_TEST_Z);
    CHECK(rp__drift_pick_test(RP_DRIFT_NUM, 1001, 5) == RP_DRIFT_TEST_JENSENSHANNON);
    CHECK(rp__drift_pick_test(RP_DRIFT_CAT, 1000, 200) == RP_DRIFT_TEST_CHISQUARE);
    CHECK(rp__drift_pick_test(RP_DRIFT_CAT, 1000, 3) == RP_DRIFT_TEST_CHISQUARE);
    CHECK(rp__drift_pick_test(RP_DRIFT_CAT, 10, 2) == RP_DRIFT_TEST_Z);
    CHECK(rp__drift_pick_test(RP_DRIFT_CAT, 10, 1) == RP_DRIFT_TEST_Z);
    CHECK(rp__drift_pick_test(RP_DRIFT_CAT, 1001, 2) == RP_DRIFT_TEST_JENSENSHANNON);
}

TEST(test_column_edges)
{
    static double ref[2000], cur[10];
    rp__drift_result r;
    rp_error err = {0};
    /* Constant reference: its std is 0, Evidently divides by 0.001 instead. */
    for (int i = 0; i < 2000; i++)
        ref[i] = 5.0;
    for (int i = 0; i < 10; i++)
        cur[i] = i + 1;
    CHECK(rp__column_drift(ref, 2000, cur, 10, RP_DRIFT_NUM, &r, NULL) == 0);
    CHECK(r.test == RP_DRIFT_TEST_WASSERSTEIN && r.n_values == 10);
    CHECK(NEAR(r.score, 2.5 / 0.001) && r.drifted);
    /* Constant on both sides, the same value: one category, no drift. */
    CHECK(rp__column_drift(ref, 2000, ref, 7, RP_DRIFT_NUM, &r, NULL) == 0);
    CHECK(r.test == RP_DRIFT_TEST_JENSENSHANNON && r.score == 0.0 && !r.drifted && r.n_values == 1);
    CHECK(rp__column_drift(ref, 10, ref, 7, RP_DRIFT_CAT, &r, NULL) == 0);
    CHECK(r.test == RP_DRIFT_TEST_Z && r.score == 1.0 && !r.drifted);
    /* Two categories, each side constant and different: the Z-test drifts. */
    CHECK(rp__column_drift(ref, 100, cur, 1, RP_DRIFT_CAT, &r, NULL) == 0);
    CHECK(r.test == RP_DRIFT_TEST_Z && r.n_values == 2 && r.score < 0.05 && r.drifted);
    /* NaN and +-Infinity are dropped before the test and the rule. */
    double a[] = {1, 2, NAN, 3, INFINITY, 4, 5, 6, -INFINITY}, b[] = {1, 2, 3, 4, 5, 6, NAN};
    CHECK(rp__column_drift(a, 9, b, 7, RP_DRIFT_NUM, &r, NULL) == 0);
    CHECK(r.reference_n == 6 && r.current_n == 6 && r.n_values == 6);
    CHECK(r.test == RP_DRIFT_TEST_KS && r.score == 1.0 && !r.drifted);
    /* Nothing finite on one side: Evidently's "empty column". */
    double nan3[] = {NAN, INFINITY, NAN};
    CHECK(rp__column_drift(nan3, 3, b, 7, RP_DRIFT_NUM, &r, &err) == -1 && err.code == RP_ERR_INVALID);
    CHECK(strstr(err.msg, "reference") != NULL);
    CHECK(rp__column_drift(b, 7, nan3, 0, RP_DRIFT_CAT, &r, &err) == -1 && err.code == RP_ERR_INVALID);
    CHECK(strstr(err.msg, "current") != NULL);
    /* Disjoint samples of 7: KS p = 2 / C(14, 7), drift. */
    double lo[] = {1, 2, 3, 4, 5, 6, 7}, hi[] = {11, 12, 13, 14, 15, 16, 17};
    CHECK(rp__column_drift(lo, 7, hi, 7, RP_DRIFT_NUM, &r, NULL) == 0);
    CHECK(r.test == RP_DRIFT_TEST_KS && r.drifted && NEAR(r.score, 2.0 / 3432));
}

TEST(test_dataset_and_missing)
{
    CHECK(rp__dataset_drift(3, 6, RP_DRIFT_SHARE)); /* half: drift (>=) */
    CHECK(!rp__dataset_drift(2, 6, RP_DRIFT_SHARE));
    CHECK(!rp__dataset_drift(0, 0, RP_DRIFT_SHARE));
    double x[] = {1, NAN, INFINITY, -INFINITY, 0, -0.0};
    CHECK(rp__count_missing(x, 6) == 3);
    CHECK(rp__count_missing(x, 0) == 0);
}

int main(void)
{
    RUN(test_ks_by_hand);
    RUN(test_ks_asymptotic);
    RUN(test_wasserstein_by_hand);
    RUN(test_special_functions);
    RUN(test_chisquare_and_js);
    RUN(test_rule_choice);
    RUN(test_column_edges);
    RUN(test_dataset_and_missing);
    return rp_t_done();
}
