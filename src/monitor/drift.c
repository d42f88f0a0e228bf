/* Drift statistics: see drift.h and docs/monitoring.md.
 *
 * Special functions.  The normal CDF comes from libm (erf/erfc), arranged as
 * SciPy's ndtr (cephes) arranges them.  The chi-squared tail (the regularised
 * upper incomplete gamma function) and the Kolmogorov-Smirnov lattice-path
 * probabilities are written here:
 * - libm has no incomplete gamma function.  Debian's GSL (libgsl-dev) has
 *   one (gsl_sf_gamma_inc_Q) but no Kolmogorov-Smirnov distribution at all,
 *   it is GPL-3 (the static library would carry it into every ridepred
 *   program), and like every optional library here it would have to be
 *   loaded with dlopen for one 40-line function.  The series and continued
 *   fraction below are cephes' igam/igamc (which SciPy's chdtrc calls), and
 *   the parity test holds them to SciPy to 1e-9.
 * - ks_2samp's exact p-values are SciPy's own algorithms (no C library has
 *   them): _compute_prob_outside_square for equal sizes and
 *   _compute_outer_prob_inside_method otherwise. */
#include "monitor/drift.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *rp__drift_test_name(rp__drift_test t)
{
    switch (t) {
    case RP_DRIFT_TEST_KS: return "ks";
    case RP_DRIFT_TEST_WASSERSTEIN: return "wasserstein";
    case RP_DRIFT_TEST_CHISQUARE: return "chisquare";
    case RP_DRIFT_TEST_Z: return "z";
    case RP_DRIFT_TEST_JENSENSHANNON: return "jensenshannon";
    }
    return "?";
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A sorted copy of x (n > 0), or NULL with RP_ERR_NOMEM. */
static double *sorted_copy(const double *x, size_t n, rp_error *err)
{
    double *c = malloc(n * sizeof *c);
    if (!c) {
        rp_error_set(err, RP_ERR_NOMEM, "drift: out of memory sorting %zu values", n);
        return NULL;
    }
    memcpy(c, x, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double);
    return c;
}

/* ---- special functions ---- */

double rp__ndtr(double a)
{
    if (isnan(a))
        return NAN;
    double x = a * M_SQRT1_2, z = fabs(x);
    if (z < M_SQRT1_2)
        return 0.5 + 0.5 * erf(x);
    double y = 0.5 * erfc(z);
    return x > 0 ? 1.0 - y : y;
}

#define IGAM_MAXLOG 709.782712893384
#define IGAM_BIG 4.503599627370496e15
#define IGAM_BIGINV 2.22044604925031308085e-16

/* Lower regularised incomplete gamma P(a, x) by its power series. */
static double igam_series(double a, double x)
{
    double ax = a * log(x) - x - lgamma(a);
    if (ax < -IGAM_MAXLOG)
        return 0.0;
    ax = exp(ax);
    double r = a, c = 1.0, ans = 1.0;
    for (int i = 0; i < 100000; i++) {
        r += 1.0;
        c *= x / r;
        ans += c;
        if (c / ans <= DBL_EPSILON)
            break;
    }
    return ans * ax / a;
}

/* Upper regularised incomplete gamma Q(a, x) by its continued fraction (x >= 1, x >= a). */
static double igamc_fraction(double a, double x)
{
    double ax = a * log(x) - x - lgamma(a);
    if (ax < -IGAM_MAXLOG)
        return 0.0;
    ax = exp(ax);
    double y = 1.0 - a, z = x + y + 1.0, c = 0.0;
    double pkm2 = 1.0, qkm2 = x, pkm1 = x + 1.0, qkm1 = z * x;
    double ans = pkm1 / qkm1, t;
    int i = 0;
    do {
        c += 1.0;
        y += 1.0;
        z += 2.0;
        double yc = y * c, pk = pkm1 * z - pkm2 * yc, qk = qkm1 * z - qkm2 * yc;
        if (qk != 0) {
            double r = pk / qk;
            t = fabs((ans - r) / r);
            ans = r;
        } else {
            t = 1.0;
        }
        pkm2 = pkm1;
        pkm1 = pk;
        qkm2 = qkm1;
        qkm1 = qk;
        if (fabs(pk) > IGAM_BIG) {
            pkm2 *= IGAM_BIGINV;
            pkm1 *= IGAM_BIGINV;
            qkm2 *= IGAM_BIGINV;
            qkm1 *= IGAM_BIGINV;
        }
    } while (t > DBL_EPSILON && ++i < 100000);
    return ans * ax;
}

static double igamc(double a, double x)
{
    if (isnan(a) || isnan(x) || x < 0 || a < 0)
        return NAN;
    if (a == 0)
        return x > 0 ? 0.0 : NAN; /* as scipy.special.gammaincc(0, x) */
    if (x == 0)
        return 1.0;
    if (isinf(x))
        return 0.0;
    if (x < 1.0 || x < a)
        return 1.0 - igam_series(a, x);
    return igamc_fraction(a, x);
}

double rp__chi2_sf(double x, double df)
{
    if (x < 0)
        return 1.0; /* as scipy.special.chdtrc */
    return igamc(df / 2.0, x / 2.0);
}

/* ---- Kolmogorov-Smirnov ---- */

static size_t gcd_size(size_t a, size_t b)
{
    while (b) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Pr(D_{n,n} >= h/n): SciPy's Horner-like alternating sum. */
static double ks_prob_outside_square(int64_t n, int64_t h)
{
    double p = 0.0;
    for (int64_t k = n / h; k >= 0; k--) {
        double p1 = 1.0;
        for (int64_t j = 0; j < h; j++)
            p1 = (double)(n - k * h - j) * p1 / (double)(n + k * h + j + 1);
        p = p1 * (1.0 - p);
    }
    return 2 * p;
}

/* Share of the lattice paths from (0,0) to (m,n) that leave the band
 * |x/m - y/n| < h/lcm(m,n): one column of probabilities kept in a sliding
 * window, as SciPy's _compute_outer_prob_inside_method.  -1 on no memory. */
static double ks_outer_prob_inside(int64_t m, int64_t n, int64_t g, int64_t h)
{
    if (m < n) {
        int64_t t = m;
        m = n;
        n = t;
    }
    int64_t mg = m / g, ng = n / g;
    int64_t minj = 0, maxj = (int64_t)ceil((double)h / (double)mg);
    if (maxj > n + 1)
        maxj = n + 1;
    int64_t curlen = maxj - minj;
    int64_t len_a = 2 * maxj + 2 < n + 1 ? 2 * maxj + 2 : n + 1;
    double *a = malloc((size_t)len_a * sizeof *a);
    if (!a)
        return -1;
    for (int64_t k = 0; k < len_a; k++)
        a[k] = k < maxj ? 0.0 : 1.0;
    for (int64_t i = 1; i <= m; i++) {
        int64_t lastminj = minj, lastlen = curlen;
        minj = (int64_t)floor((double)(ng * i - h) / (double)mg) + 1;
        if (minj < 0)
            minj = 0;
        if (minj > n)
            minj = n;
        maxj = (int64_t)ceil((double)(ng * i + h) / (double)mg);
        if (maxj > n + 1)
            maxj = n + 1;
        if (maxj <= minj) {
            free(a);
            return 1.0;
        }
        double val = minj == 0 ? 0.0 : 1.0;
        for (int64_t jj = 0; jj < maxj - minj; jj++) {
            int64_t j = jj + minj;
            val = (a[jj + minj - lastminj] * (double)i + val * (double)j) / (double)(i + j);
            a[jj] = val;
        }
        curlen = maxj - minj;
        for (int64_t k = curlen; k < lastlen; k++)
            a[k] = 1.0;
    }
    double out = a[maxj - minj - 1];
    free(a);
    return out;
}

#define KS_MAX_AUTO_N 10000 /* scipy's MAX_AUTO_N: exact when max(n1, n2) <= this */

static int ks_sorted(const double *a, size_t n1, const double *b, size_t n2, double *d_out, double *p_out,
                     rp_error *err)
{
    /* D: the largest gap between the two empirical CDFs, over every value. */
    double maxs = -INFINITY, mins = INFINITY;
    size_t i = 0, j = 0;
    while (i < n1 || j < n2) {
        double v = j >= n2 || (i < n1 && a[i] <= b[j]) ? a[i] : b[j];
        while (i < n1 && a[i] <= v)
            i++;
        while (j < n2 && b[j] <= v)
            j++;
        double diff = (double)i / (double)n1 - (double)j / (double)n2;
        if (diff > maxs)
            maxs = diff;
        if (diff < mins)
            mins = diff;
    }
    double mn = -mins;
    if (mn < 0)
        mn = 0;
    if (mn > 1)
        mn = 1;
    double d = mn > maxs ? mn : maxs;
    if ((n1 > n2 ? n1 : n2) > KS_MAX_AUTO_N)
        return rp_error_set(err, RP_ERR_UNSUPPORTED,
                            "drift: KS p-value for samples of %zu and %zu values needs SciPy's asymptotic "
                            "distribution (more than %d values), which is not built yet",
                            n1, n2, KS_MAX_AUTO_N);
    size_t g = gcd_size(n1, n2);
    int64_t lcm = (int64_t)(n1 / g) * (int64_t)n2;
    int64_t h = (int64_t)nearbyint(d * (double)lcm);
    d = (double)h / (double)lcm;
    double p;
    if (h == 0) {
        p = 1.0;
    } else if (n1 == n2) {
        p = ks_prob_outside_square((int64_t)n1, h);
    } else {
        p = ks_outer_prob_inside((int64_t)n1, (int64_t)n2, (int64_t)g, h);
        if (p == -1)
            return rp_error_set(err, RP_ERR_NOMEM, "drift: out of memory for the KS p-value");
    }
    if (!(p >= 0 && p <= 1))
        return rp_error_set(err, RP_ERR_UNSUPPORTED,
                            "drift: exact KS p-value failed for %zu and %zu values (SciPy falls back to its "
                            "asymptotic distribution, not built yet)",
                            n1, n2);
    *d_out = d;
    *p_out = p;
    return 0;
}

int rp__ks_2samp(const double *a, size_t na, const double *b, size_t nb, double *d, double *p, rp_error *err)
{
    if (na == 0 || nb == 0)
        return rp_error_set(err, RP_ERR_INVALID, "drift: KS test of an empty sample");
    double *sa = sorted_copy(a, na, err);
    if (!sa)
        return -1;
    double *sb = sorted_copy(b, nb, err);
    if (!sb) {
        free(sa);
        return -1;
    }
    int rc = ks_sorted(sa, na, sb, nb, d, p, err);
    free(sa);
    free(sb);
    return rc;
}

/* ---- Wasserstein ---- */

static double wasserstein_sorted(const double *u, size_t nu, const double *v, size_t nv)
{
    /* Integral of |U(x) - V(x)| over the merged values (scipy's _cdf_distance, p = 1). */
    double sum = 0.0, prev = 0.0;
    size_t i = 0, j = 0, seen = 0;
    while (i < nu || j < nv) {
        double x = j >= nv || (i < nu && u[i] <= v[j]) ? u[i] : v[j];
        if (seen++)
            sum += fabs((double)i / (double)nu - (double)j / (double)nv) * (x - prev);
        /* Each merged value is a step; equal values add zero-width steps, so
         * advancing past one copy at a time gives the same sum. */
        if (j >= nv || (i < nu && u[i] <= v[j]))
            i++;
        else
            j++;
        prev = x;
    }
    return sum;
}

int rp__wasserstein(const double *u, size_t nu, const double *v, size_t nv, double *out, rp_error *err)
{
    if (nu == 0 || nv == 0)
        return rp_error_set(err, RP_ERR_INVALID, "drift: Wasserstein distance of an empty sample");
    double *su = sorted_copy(u, nu, err);
    if (!su)
        return -1;
    double *sv = sorted_copy(v, nv, err);
    if (!sv) {
        free(su);
        return -1;
    }
    *out = wasserstein_sorted(su, nu, sv, nv);
    free(su);
    free(sv);
    return 0;
}

double rp__std(const double *x, size_t n)
{
    if (n == 0)
        return 0.0;
    double mean = 0.0;
    for (size_t i = 0; i < n; i++)
        mean += x[i];
    mean /= (double)n;
    double ss = 0.0;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - mean) * (x[i] - mean);
    return sqrt(ss / (double)n);
}

/* ---- categories ---- */

int rp__chisquare(const double *obs, const double *exp, size_t k, double *stat, double *p, rp_error *err)
{
    if (k == 0)
        return rp_error_set(err, RP_ERR_INVALID, "drift: chi-squared test over no categories");
    double s = 0.0;
    for (size_t i = 0; i < k; i++)
        s += (obs[i] - exp[i]) * (obs[i] - exp[i]) / exp[i];
    *stat = s;
    *p = rp__chi2_sf(s, (double)(k - 1));
    return 0;
}

static double rel_entr(double x, double y)
{
    if (isnan(x) || isnan(y))
        return NAN;
    if (x > 0 && y > 0)
        return x * log(x / y);
    if (x == 0 && y >= 0)
        return 0.0;
    return INFINITY;
}

double rp__jensenshannon(const double *p, const double *q, size_t k)
{
    double sp = 0.0, sq = 0.0;
    for (size_t i = 0; i < k; i++) {
        sp += p[i];
        sq += q[i];
    }
    double left = 0.0, right = 0.0;
    for (size_t i = 0; i < k; i++) {
        double pi = p[i] / sp, qi = q[i] / sq, m = (pi + qi) / 2.0;
        left += rel_entr(pi, m);
        right += rel_entr(qi, m);
    }
    return sqrt((left + right) / 2.0);
}

/* Distinct values of two sorted samples and their counts in each. */
typedef struct cat_counts {
    size_t k;
    double *ref, *cur; /* counts, k each (one allocation) */
    double first;      /* the smallest value */
} cat_counts;

static int count_categories(const double *r, size_t nr, const double *c, size_t nc, cat_counts *out,
                            rp_error *err)
{
    size_t i = 0, j = 0, k = 0;
    out->ref = malloc(2 * (nr + nc) * sizeof(double));
    if (!out->ref)
        return rp_error_set(err, RP_ERR_NOMEM, "drift: out of memory counting categories");
    out->cur = out->ref + (nr + nc);
    out->first = nr && (!nc || r[0] <= c[0]) ? r[0] : (nc ? c[0] : NAN);
    while (i < nr || j < nc) {
        double v = j >= nc || (i < nr && r[i] <= c[j]) ? r[i] : c[j];
        size_t i0 = i, j0 = j;
        while (i < nr && r[i] == v)
            i++;
        while (j < nc && c[j] == v)
            j++;
        out->ref[k] = (double)(i - i0);
        out->cur[k] = (double)(j - j0);
        k++;
    }
    out->k = k;
    return 0;
}

/* Evidently's chi_stat_test: expected counts are the reference's scaled to the current's size. */
static double evidently_chisquare(const cat_counts *cc, size_t nr, size_t nc)
{
    double k_norm = (double)nc / (double)nr, s = 0.0;
    for (size_t i = 0; i < cc->k; i++) {
        double e = cc->ref[i] * k_norm;
        s += (cc->cur[i] - e) * (cc->cur[i] - e) / e;
    }
    return rp__chi2_sf(s, (double)(cc->k - 1));
}

/* Evidently's z_stat_test: the smallest value against the rest, two-sided. */
static double evidently_z(const cat_counts *cc, size_t nr, size_t nc)
{
    if (cc->k == 1)
        return 1.0; /* one value, the same on both sides */
    double n1 = (double)nr, n2 = (double)nc;
    double p1 = (n1 - cc->ref[0]) / n1, p2 = (n2 - cc->cur[0]) / n2;
    double pp = (p1 * n1 + p2 * n2) / (n1 + n2);
    double z = (p1 - p2) / sqrt(pp * (1 - pp) * (1.0 / n1 + 1.0 / n2));
    return 2 * (1 - rp__ndtr(fabs(z)));
}

static double evidently_jensenshannon(const cat_counts *cc, size_t nr, size_t nc)
{
    for (size_t i = 0; i < cc->k; i++) { /* in place: counts become frequencies */
        cc->ref[i] /= (double)nr;
        cc->cur[i] /= (double)nc;
    }
    return rp__jensenshannon(cc->ref, cc->cur, cc->k);
}

/* ---- the rules ---- */

rp__drift_test rp__drift_pick_test(rp__drift_kind kind, size_t nref, size_t n_values)
{
    if (nref <= RP_DRIFT_SMALL_REFERENCE) {
        if (kind == RP_DRIFT_NUM && n_values > RP_DRIFT_FEW_VALUES)
            return RP_DRIFT_TEST_KS;
        return n_values > 2 ? RP_DRIFT_TEST_CHISQUARE : RP_DRIFT_TEST_Z;
    }
    if (kind == RP_DRIFT_NUM && n_values > RP_DRIFT_FEW_VALUES)
        return RP_DRIFT_TEST_WASSERSTEIN;
    return RP_DRIFT_TEST_JENSENSHANNON;
}

/* The finite values of x, sorted, in *out (caller frees); their number in *n. */
static int finite_sorted(const double *x, size_t n, double **out, size_t *nout, rp_error *err)
{
    double *c = malloc((n ? n : 1) * sizeof *c);
    if (!c)
        return rp_error_set(err, RP_ERR_NOMEM, "drift: out of memory copying %zu values", n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]))
            c[k++] = x[i];
    *out = c;
    *nout = k;
    return 0;
}

int rp__column_drift(const double *ref, size_t nref, const double *cur, size_t ncur, rp__drift_kind kind,
                     rp__drift_result *out, rp_error *err)
{
    double *r = NULL, *c = NULL;
    size_t nr, nc;
    cat_counts cc = {0};
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (finite_sorted(ref, nref, &r, &nr, err) || finite_sorted(cur, ncur, &c, &nc, err))
        goto done;
    if (nr == 0 || nc == 0) {
        rp_error_set(
            err, RP_ERR_INVALID,
            "drift: the %s sample has no finite value (%zu given, NaN and Infinity are missing): nothing to compare",
            nr == 0 ? "reference" : "current", nr == 0 ? nref : ncur);
        goto done;
    }
    /* The reference's std is taken before sorting, in its order, as numpy does. */
    double ref_std = rp__std(r, nr);
    qsort(r, nr, sizeof *r, cmp_double);
    qsort(c, nc, sizeof *c, cmp_double);
    if (count_categories(r, nr, c, nc, &cc, err))
        goto done;
    out->reference_n = nr;
    out->current_n = nc;
    out->n_values = cc.k;
    out->test = rp__drift_pick_test(kind, nr, cc.k);
    double d;
    switch (out->test) {
    case RP_DRIFT_TEST_KS:
        if (ks_sorted(r, nr, c, nc, &d, &out->score, err))
            goto done;
        out->threshold = RP_DRIFT_P_THRESHOLD;
        out->drifted = out->score <= out->threshold;
        break;
    case RP_DRIFT_TEST_WASSERSTEIN:
        out->score = wasserstein_sorted(r, nr, c, nc) / fmax(ref_std, 0.001);
        out->threshold = RP_DRIFT_DISTANCE_THRESHOLD;
        out->drifted = out->score >= out->threshold;
        break;
    case RP_DRIFT_TEST_CHISQUARE:
        out->score = evidently_chisquare(&cc, nr, nc);
        out->threshold = RP_DRIFT_P_THRESHOLD;
        out->drifted = out->score < out->threshold;
        break;
    case RP_DRIFT_TEST_Z:
        out->score = evidently_z(&cc, nr, nc);
        out->threshold = RP_DRIFT_P_THRESHOLD;
        out->drifted = out->score < out->threshold;
        break;
    case RP_DRIFT_TEST_JENSENSHANNON:
        out->score = evidently_jensenshannon(&cc, nr, nc);
        out->threshold = RP_DRIFT_DISTANCE_THRESHOLD;
        out->drifted = out->score >= out->threshold;
        break;
    }
    rc = 0;
done:
    free(r);
    free(c);
    free(cc.ref);
    return rc;
}

bool rp__dataset_drift(size_t n_drifted, size_t n_columns, double share)
{
    return n_columns > 0 && (double)n_drifted / (double)n_columns >= share;
}

size_t rp__count_missing(const double *x, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += !isfinite(x[i]);
    return k;
}
