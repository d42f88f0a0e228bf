/* Drift statistics, as Evidently computes them by default (docs/monitoring.md
 * says which Evidently source each rule comes from).
 *
 * The two-sample tests and distances are the SciPy functions Evidently calls,
 * computed the same way (tests/integration/test_drift_scipy.py checks them
 * against SciPy 1.10 to 1e-9):
 *   rp__ks_2samp         scipy.stats.ks_2samp(a, b), method='auto', two-sided
 *   rp__wasserstein      scipy.stats.wasserstein_distance(u, v)
 *   rp__chisquare        scipy.stats.chisquare(f_obs, f_exp)
 *   rp__jensenshannon    scipy.spatial.distance.jensenshannon(p, q) (natural log)
 *   rp__z_2cat           Evidently's own two-proportion Z-test
 * and rp__column_drift picks one of them per column by Evidently's rule.
 *
 * Inputs are plain arrays of doubles, never modified; categorical values are
 * doubles too (PULocationID and the like), compared with ==.  Functions that
 * sort take copies (malloc), so each may fail with RP_ERR_NOMEM.  Nothing here
 * keeps state or allocates beyond the call: thread-safe. */
#ifndef RP_MONITOR_DRIFT_H
#define RP_MONITOR_DRIFT_H

#include "ridepred/error.h"

#include <stdbool.h>
#include <stddef.h>

/* Evidently's defaults (evidently 0.4.x, calculations/stattests/). */
#define RP_DRIFT_SMALL_REFERENCE 1000 /* reference values at most this: p-value tests */
#define RP_DRIFT_FEW_VALUES 5 /* numerical with at most this many distinct values: treated as categories */
#define RP_DRIFT_P_THRESHOLD 0.05       /* ks (p <= t), chisquare and z (p < t) */
#define RP_DRIFT_DISTANCE_THRESHOLD 0.1 /* wasserstein (normed) and jensenshannon (>= t) */
#define RP_DRIFT_SHARE 0.5              /* dataset drift: drifted columns / columns >= this */

typedef enum rp__drift_kind {
    RP_DRIFT_NUM,
    RP_DRIFT_CAT
} rp__drift_kind;

typedef enum rp__drift_test {
    RP_DRIFT_TEST_KS,
    RP_DRIFT_TEST_WASSERSTEIN,
    RP_DRIFT_TEST_CHISQUARE,
    RP_DRIFT_TEST_Z,
    RP_DRIFT_TEST_JENSENSHANNON
} rp__drift_test;

typedef struct rp__drift_result {
    rp__drift_test test;
    double score;     /* p-value (ks, chisquare, z) or distance (wasserstein normed, jensenshannon) */
    double threshold; /* the test's default threshold */
    bool drifted;
    size_t reference_n, current_n; /* finite values used */
    size_t n_values;               /* distinct finite values over both samples */
} rp__drift_result;

/* Evidently's name of a test ("ks", "wasserstein", "chisquare", "z", "jensenshannon"). */
const char *rp__drift_test_name(rp__drift_test t);

/* Two-sided two-sample Kolmogorov-Smirnov test as scipy.stats.ks_2samp with
 * method='auto' (SciPy 1.10): the statistic D and its p-value, exact when
 * max(na, nb) <= 10000 (lattice-path counts, SciPy's two algorithms for
 * na == nb and na != nb; D is then rounded to h / lcm(na, nb) as SciPy
 * returns it), else, and wherever the exact computation fails, SciPy's
 * asymptotic one, rp__kstwo_sf(D, round(na nb / (na + nb))).  Values must be
 * finite.  Returns 0 and sets *d and *p; -1 with RP_ERR_INVALID for an empty
 * sample, RP_ERR_NOMEM. */
int rp__ks_2samp(const double *a, size_t na, const double *b, size_t nb, double *d, double *p, rp_error *err);

/* First Wasserstein distance of two 1-D samples with equal weights, as
 * scipy.stats.wasserstein_distance(u, v).  Values must be finite.  Returns 0
 * and sets *out; -1 with RP_ERR_INVALID for an empty sample, RP_ERR_NOMEM. */
int rp__wasserstein(const double *u, size_t nu, const double *v, size_t nv, double *out, rp_error *err);

/* Population standard deviation (numpy.std, ddof=0) of n > 0 values; 0 for n == 0. */
double rp__std(const double *x, size_t n);

/* Pearson's chi-squared goodness-of-fit test as scipy.stats.chisquare(f_obs,
 * f_exp) over k >= 1 categories (degrees of freedom k - 1): *stat is
 * sum((obs - exp)^2 / exp) (infinite when an expected count is 0 and its
 * observed count is not) and *p its upper tail, chi2.sf(stat, k - 1).  k == 1
 * gives NaN as SciPy does.  Returns 0; -1 with RP_ERR_INVALID when k == 0. */
int rp__chisquare(const double *obs, const double *exp, size_t k, double *stat, double *p, rp_error *err);

/* Jensen-Shannon distance of two frequency vectors as
 * scipy.spatial.distance.jensenshannon(p, q) with base None (natural log, as
 * Evidently 0.2-0.7 calls it): both are normalised to sum 1 first.  Returns
 * the distance (NaN when a vector sums to 0, as SciPy). */
double rp__jensenshannon(const double *p, const double *q, size_t k);

/* Upper tail of the chi-squared distribution with df degrees of freedom
 * (scipy.special.chdtrc); hand-written: see drift.c. */
double rp__chi2_sf(double x, double df);

/* Survival function of the two-sided one-sample Kolmogorov-Smirnov
 * statistic D_n: scipy.stats.kstwo.sf(x, n) (SciPy 1.10's _kolmogn ported,
 * see drift.c).  NaN when n is not a positive integer. */
double rp__kstwo_sf(double x, double n);

/* Standard normal CDF (scipy.special.ndtr), from libm's erf/erfc. */
double rp__ndtr(double x);

/* Evidently's drift test of one column (calculations/data_drift.py:
 * get_one_column_drift).  NaN and +-Infinity are dropped from both samples
 * first; the test is then picked by rp__drift_pick_test and run with its
 * default threshold.  Categories are distinct values.  Returns 0 and fills
 * *out; -1 with RP_ERR_INVALID when either sample has no finite value
 * ("empty column", as Evidently raises), RP_ERR_UNSUPPORTED (see
 * rp__ks_2samp), RP_ERR_NOMEM. */
int rp__column_drift(const double *ref, size_t nref, const double *cur, size_t ncur, rp__drift_kind kind,
                     rp__drift_result *out, rp_error *err);

/* A reference column prepared once for many rp__column_drift_ref calls
 * (one per window): its finite values sorted, and its population standard
 * deviation taken in the given order (as numpy does). */
typedef struct rp__drift_ref {
    double *sorted; /* n finite values, ascending (owned) */
    size_t n;
    size_t given; /* values given, missing ones included */
    double std;
} rp__drift_ref;

/* Prepares x (n values; NaN and +-Infinity dropped).  Returns 0, or -1 with
 * RP_ERR_NOMEM (r left empty, safe to free). */
int rp__drift_ref_init(rp__drift_ref *r, const double *x, size_t n, rp_error *err);
void rp__drift_ref_free(rp__drift_ref *r); /* NULL ignored */

/* rp__column_drift against a prepared reference: the same result, bit for
 * bit, without sorting the reference again. */
int rp__column_drift_ref(const rp__drift_ref *ref, const double *cur, size_t ncur, rp__drift_kind kind,
                         rp__drift_result *out, rp_error *err);

/* Evidently's default test (stattests/registry.py: _get_default_stattest) for
 * a column whose cleaned reference has nref values and whose cleaned samples
 * have n_values distinct values together. */
rp__drift_test rp__drift_pick_test(rp__drift_kind kind, size_t nref, size_t n_values);

/* Evidently's dataset drift (data_drift.py: get_dataset_drift): true when
 * n_drifted / n_columns >= share.  False for n_columns == 0. */
bool rp__dataset_drift(size_t n_drifted, size_t n_columns, double share);

/* Missing cells among n values: NaN, +Infinity and -Infinity, as Evidently's
 * DatasetMissingValuesMetric counts them by default (None/NaN, inf, -inf;
 * its "" has no double counterpart). */
size_t rp__count_missing(const double *x, size_t n);

#endif
