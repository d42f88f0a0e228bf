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
 * - ks_2samp's p-values are SciPy's own algorithms, ported (no Debian C
 *   library has them, GSL included): the exact ones,
 *   _compute_prob_outside_square for equal sizes and
 *   _compute_outer_prob_inside_method otherwise, and the asymptotic one,
 *   kstwo.sf (_kolmogn, below rp__kstwo_sf's section comment). */
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

/* Sorts n doubles (no NaN) ascending: an LSD radix sort on their bits,
 * ordered as the values (sign flipped, negatives inverted), 8 bits a pass,
 * passes where every value has the same byte skipped: several times faster
 * than qsort on the 100,000-value windows of monitoring while serving.
 * The result is qsort's with cmp_double, except that -0.0 comes before
 * 0.0 (equal values either way: no statistic here tells them apart).
 * Small arrays, or no memory for the scratch copy: qsort. */
static void sort_doubles(double *a, size_t n)
{
    uint64_t *k = n >= 512 ? malloc(2 * n * sizeof *k) : NULL;
    if (!k) {
        qsort(a, n, sizeof *a, cmp_double);
        return;
    }
    uint64_t *t = k + n;
    static const uint64_t sign = (uint64_t)1 << 63;
    size_t count[8][256];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &a[i], sizeof u);
        u = u & sign ? ~u : u | sign;
        k[i] = u;
        for (int b = 0; b < 8; b++)
            count[b][(u >> (8 * b)) & 0xff]++;
    }
    for (int b = 0; b < 8; b++) {
        size_t *c = count[b], sum = 0;
        if (c[(k[0] >> (8 * b)) & 0xff] == n)
            continue; /* one value of this byte: the pass would not move anything */
        for (int d = 0; d < 256; d++) {
            size_t x = c[d];
            c[d] = sum;
            sum += x;
        }
        for (size_t i = 0; i < n; i++)
            t[c[(k[i] >> (8 * b)) & 0xff]++] = k[i];
        uint64_t *sw = k;
        k = t;
        t = sw;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t u = k[i] & sign ? k[i] & ~sign : ~k[i];
        memcpy(&a[i], &u, sizeof u);
    }
    free(k < t ? k : t); /* the block's start, whichever half holds the keys now */
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
    sort_doubles(c, n);
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

/* ---- the two-sided one-sample Kolmogorov-Smirnov distribution ----
 *
 * scipy.stats.kstwo.sf(x, n), which ks_2samp uses as its asymptotic
 * p-value: SciPy 1.10's _kolmogn (scipy/stats/_ksstats.py, Simard and
 * L'Ecuyer's choice between the Ruben-Gambino formulas, the Durbin matrix
 * (Marsaglia-Tsang-Wang), Pomeranz's recursion, Pelz-Good's approximation and
 * twice the one-sided tail), ported.  The one-sided tail (scipy.special.smirnov,
 * cephes) is the exact Birnbaum-Tingey sum, all of whose terms are positive. */

#define KS_E128 128
#define KS_EP128 0x1p128
#define KS_EM128 0x1p-128

static double clip01(double p)
{
    return p < 0 ? 0.0 : (p > 1 ? 1.0 : p);
}

/* log(n! / n^n) by Stirling's series, as SciPy's _log_nfactorial_div_n_pow_n. */
static double log_nfactorial_div_n_pow_n(double n)
{
    static const double c[] = {-2.955065359477124183e-2,  6.4102564102564102564e-3, -1.9175269175269175269e-3,
                               8.4175084175084175084e-4,  -5.952380952380952381e-4, 7.9365079365079365079e-4,
                               -2.7777777777777777778e-3, 8.3333333333333333333e-2};
    double rn = 1.0 / n, x = rn / n, poly = 0.0;
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        poly = poly * x + c[i];
    return log(n) / 2 - n + log(2 * M_PI) / 2 + rn * poly;
}

/* P(D+_n >= x), the one-sided tail (Birnbaum and Tingey). */
static double smirnov(int64_t n, double x)
{
    if (!(x > 0))
        return 1.0;
    if (x >= 1)
        return 0.0;
    double dn = (double)n;
    if (x >= 1 - 1 / dn)
        return pow(1 - x, dn);
    int64_t maxj = (int64_t)floor(dn * (1 - x));
    double sum = 0.0, lgn = lgamma(dn + 1);
    for (int64_t j = 0; j <= maxj; j++) {
        double dj = (double)j, a = 1 - x - dj / dn, b = x + dj / dn;
        if (a <= 0)
            continue;
        sum += exp(lgn - lgamma(dj + 1) - lgamma(dn - dj + 1) + (dn - dj) * log(a) + (dj - 1) * log(b));
    }
    return clip01(x * sum);
}

/* out = a b for m x m row-major matrices (out distinct from a and b), the
 * product of SciPy's _kolmogn Durbin matrix powers. */
static void matmul(const double *a, const double *b, double *out, int m)
{
    for (int r = 0; r < m; r++)
        for (int c = 0; c < m; c++) {
            double acc = 0.0;
            for (int t = 0; t < m; t++)
                acc += a[r * m + t] * b[t * m + c];
            out[r * m + c] = acc;
        }
}

/* Pr(D_n <= d) by the Durbin matrix, Marsaglia-Tsang-Wang's way; -1 on no memory. */
static double kolmogn_dmtw(int64_t n, double d)
{
    if (d >= 1.0)
        return 1.0;
    double nd = (double)n * d;
    if (nd <= 0.5)
        return 0.0;
    int k = (int)ceil(nd), m = 2 * k - 1;
    double h = k - nd;
    size_t mm = (size_t)m * (size_t)m;
    double *hm = calloc(4 * mm + 2 * (size_t)m, sizeof(double));
    if (!hm)
        return -1;
    double *pw = hm + mm, *tmp = pw + mm, *tmp2 = tmp + mm, *v = tmp2 + mm, *w = v + m;
    double fac = 1.0;
    for (int j = 1; j <= m; j++) {
        v[j - 1] = 1.0 - pow(h, j);
        w[j - 1] = fac;
        fac /= j;
        v[j - 1] *= fac;
    }
    double tt = pow(fmax(2 * h - 1.0, 0), m) - 2 * pow(h, m);
    v[m - 1] = (1.0 + tt) * fac;
    for (int i = 1; i < m; i++)
        for (int r = i - 1; r < m; r++)
            hm[r * m + i] = w[r - (i - 1)];
    for (int r = 0; r < m; r++)
        hm[r * m] = v[r];
    for (int c = 0; c < m; c++)
        hm[(m - 1) * m + c] = v[m - 1 - c];
    for (int r = 0; r < m; r++)
        pw[r * m + r] = 1.0;
    int expnt = 0, hexpnt = 0;
    for (int64_t nn = n; nn > 0; nn /= 2) {
        if (nn % 2) {
            matmul(pw, hm, tmp, m);
            memcpy(pw, tmp, mm * sizeof(double));
            expnt += hexpnt;
        }
        matmul(hm, hm, tmp2, m);
        memcpy(hm, tmp2, mm * sizeof(double));
        hexpnt *= 2;
        if (fabs(hm[(k - 1) * m + (k - 1)]) > KS_EP128) {
            for (size_t i = 0; i < mm; i++)
                hm[i] /= KS_EP128;
            hexpnt += KS_E128;
        }
    }
    double p = pw[(k - 1) * m + (k - 1)];
    free(hm);
    for (int64_t i = 1; i <= n; i++) {
        p = (double)i * p / (double)n;
        if (fabs(p) < KS_EM128) {
            p *= KS_EP128;
            expnt -= KS_E128;
        }
    }
    if (expnt != 0)
        p = ldexp(p, expnt);
    return clip01(p);
}

static void pomeranz_j1j2(int64_t i, int64_t n, int64_t ll, int64_t ceilf, int64_t roundf, int64_t *j1o,
                          int64_t *j2o)
{
    int64_t j1, j2;
    if (i == 0) {
        j1 = -ll - ceilf - 1;
        j2 = ll + ceilf - 1;
    } else {
        int64_t ip1div2 = (i + 1) / 2, ip1mod2 = (i + 1) % 2;
        if (ip1mod2 == 0) {
            if (ip1div2 == n + 1) {
                j1 = n - ll - ceilf - 1;
                j2 = n + ll + ceilf - 1;
            } else {
                j1 = ip1div2 - 1 - ll - roundf - 1;
                j2 = ip1div2 + ll - 1 + ceilf - 1;
            }
        } else {
            j1 = ip1div2 - 1 - ll - 1;
            j2 = ip1div2 + ll + roundf - 1;
        }
    }
    *j1o = j1 + 2 > 0 ? j1 + 2 : 0;
    *j2o = j2 < n ? j2 : n;
}

/* Pr(D_n <= x) by Pomeranz's recursion; -1 on no memory. */
static double kolmogn_pomeranz(int64_t n, double x)
{
    double t = (double)n * x;
    int64_t ll = (int64_t)floor(t);
    double f = t - (double)ll, g = fmin(f, 1.0 - f);
    int64_t ceilf = f > 0 ? 1 : 0, roundf = f > 0.5 ? 1 : 0, npwrs = 2 * (ll + 1);
    double *mem = calloc(5 * (size_t)npwrs, sizeof(double));
    if (!mem)
        return -1;
    double *gp = mem, *twogp = gp + npwrs, *om2gp = twogp + npwrs, *v0 = om2gp + npwrs, *v1 = v0 + npwrs;
    gp[0] = twogp[0] = om2gp[0] = 1.0;
    double dn = (double)n, gn = g / dn, twogn = 2 * g / dn, om2gn = (1 - 2 * g) / dn;
    for (int64_t m = 1; m < npwrs; m++) {
        gp[m] = gp[m - 1] * gn / (double)m;
        twogp[m] = twogp[m - 1] * twogn / (double)m;
        om2gp[m] = om2gp[m - 1] * om2gn / (double)m;
    }
    v1[0] = 1;
    int64_t v0s = 0, v1s = 0, j1, j2, expnt = 0;
    pomeranz_j1j2(0, n, ll, ceilf, roundf, &j1, &j2);
    for (int64_t i = 1; i < 2 * n + 2; i++) {
        int64_t k1 = j1;
        double *sw = v0;
        v0 = v1;
        v1 = sw;
        int64_t ts = v0s;
        v0s = v1s;
        v1s = ts;
        memset(v1, 0, (size_t)npwrs * sizeof(double));
        pomeranz_j1j2(i, n, ll, ceilf, roundf, &j1, &j2);
        const double *pwrs = (i == 1 || i == 2 * n + 1) ? gp : (i % 2 ? twogp : om2gp);
        int64_t ln2 = j2 - k1 + 1;
        if (ln2 > 0) {
            int64_t off = k1 - v0s, seg = ln2;
            if (off + seg > npwrs)
                seg = npwrs - off; /* numpy's slice stops at the end */
            int64_t conv_start = j1 - k1, conv_len = j2 - j1 + 1;
            double vmax = 0.0;
            for (int64_t c = 0; c < conv_len; c++) {
                int64_t tt = conv_start + c;
                double acc = 0.0;
                for (int64_t s2 = 0; s2 < seg; s2++)
                    if (tt - s2 >= 0 && tt - s2 < ln2)
                        acc += v0[off + s2] * pwrs[tt - s2];
                v1[c] = acc;
                if (acc > vmax)
                    vmax = acc;
            }
            if (vmax > 0 && vmax < KS_EM128) {
                for (int64_t c = 0; c < npwrs; c++)
                    v1[c] *= KS_EP128;
                expnt -= KS_E128;
            }
            v1s = v0s + j1 - k1;
        }
    }
    double ans = v1[n - v1s];
    free(mem);
    for (int64_t m = 1; m <= n; m++) {
        if (fabs(ans) > KS_EP128) {
            ans *= KS_EM128;
            expnt += KS_E128;
        }
        ans *= (double)m;
    }
    if (expnt != 0)
        ans = ldexp(ans, (int)expnt);
    return clip01(ans);
}

/* Pelz-Good's approximation of Pr(D_n <= x). */
static double kolmogn_pelzgood(int64_t n, double x)
{
    if (x <= 0.0)
        return 0.0;
    if (x >= 1.0)
        return 1.0;
    const double pi2 = M_PI * M_PI, pi4 = pi2 * pi2, pi6 = pi4 * pi2, sqrt2pi = sqrt(2 * M_PI);
    double z = sqrt((double)n) * x, z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
    double qlog = -pi2 / 8 / z2;
    if (qlog < -708)
        return 0.0;
    double q = exp(qlog);
    double k1a = -z2, k1b = pi2 / 4;
    double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4, k2c = pi4 * (1 - 2 * z2) / 16;
    double k3d = pi6 * (5 - 30 * z2) / 64, k3c = pi4 * (-60 * z2 + 212 * z4) / 16,
           k3b = pi2 * (135 * z4 - 96 * z6) / 4, k3a = -30 * z6 - 90 * pow(z, 8);
    double kk[4] = {0, 0, 0, 0};
    int maxk = (int)ceil(16 * z / M_PI);
    for (int k = maxk; k > 0; k--) {
        double m = 2 * k - 1, m2 = m * m, m4 = m2 * m2, m6 = m4 * m2, qp = pow(q, 8 * k);
        double co[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6};
        for (int i = 0; i < 4; i++)
            kk[i] = kk[i] * qp + co[i];
    }
    double den[4] = {z, 6 * z4, 72 * pow(z, 7), 6480 * pow(z, 10)};
    for (int i = 0; i < 4; i++)
        kk[i] = kk[i] * q * sqrt2pi / den[i];
    q = exp(-pi2 / 2 / z2);
    double sqrt3z = sqrt(3.0) * z, k2extra = 0.0, k3extra = 0.0;
    for (int k = maxk; k > 0; k--) {
        double ks2 = (double)k * k, kspi = M_PI * k, qpw = pow(q, ks2);
        k2extra += ks2 * qpw;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ks2 * qpw;
    }
    kk[2] += k2extra * pi2 * sqrt2pi / (-36 * z3);
    kk[3] += k3extra * pi2 * sqrt2pi / (216 * z6);
    double sum = 0.0;
    for (int i = 0; i < 4; i++)
        sum += kk[i] / pow((double)n, i / 2.0);
    return sum;
}

double rp__kstwo_sf(double x, double dn)
{
    if (isnan(dn) || isnan(x) || dn != floor(dn) || dn <= 0)
        return NAN;
    if (x >= 1.0)
        return 0.0;
    if (x <= 0.0)
        return 1.0;
    int64_t n = (int64_t)dn;
    double t = dn * x, cdf;
    if (t <= 1.0) {
        if (t <= 0.5)
            return 1.0;
        double prob;
        if (n <= 140) {
            prob = 1.0;
            for (int64_t i = 1; i <= n; i++)
                prob *= (double)i * (1.0 / dn) * (2 * t - 1);
        } else {
            prob = exp(log_nfactorial_div_n_pow_n(dn) + dn * log(2 * t - 1));
        }
        return clip01(1.0 - prob);
    }
    if (t >= dn - 1)
        return clip01(2 * pow(1.0 - x, dn));
    if (x >= 0.5)
        return clip01(2 * smirnov(n, x));
    double nxsquared = t * x;
    if (n <= 140) {
        if (nxsquared <= 0.754693)
            cdf = kolmogn_dmtw(n, x);
        else if (nxsquared <= 4)
            cdf = kolmogn_pomeranz(n, x);
        else
            return clip01(2 * smirnov(n, x));
    } else {
        if (nxsquared >= 370.0)
            return 0.0;
        if (nxsquared >= 2.2)
            return clip01(2 * smirnov(n, x));
        if (n <= 100000 && dn * pow(x, 1.5) <= 1.4)
            cdf = kolmogn_dmtw(n, x);
        else
            cdf = clip01(kolmogn_pelzgood(n, x));
    }
    if (cdf == -1)
        return NAN; /* out of memory */
    return clip01(1.0 - cdf);
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
    double p = NAN;
    bool exact = (n1 > n2 ? n1 : n2) <= KS_MAX_AUTO_N;
    if (exact) {
        size_t g = gcd_size(n1, n2);
        int64_t lcm = (int64_t)(n1 / g) * (int64_t)n2;
        int64_t h = (int64_t)nearbyint(d * (double)lcm);
        d = (double)h / (double)lcm; /* SciPy returns D so rounded, also when it goes on to asymp */
        if (h == 0) {
            p = 1.0;
        } else if (n1 == n2) {
            p = ks_prob_outside_square((int64_t)n1, h);
        } else {
            p = ks_outer_prob_inside((int64_t)n1, (int64_t)n2, (int64_t)g, h);
            if (p == -1)
                return rp_error_set(err, RP_ERR_NOMEM, "drift: out of memory for the KS p-value");
        }
        exact = p >= 0 && p <= 1;
    }
    if (!exact) { /* SciPy's asymptotic p-value, also where the exact one failed */
        double m = (double)(n1 > n2 ? n1 : n2), n = (double)(n1 > n2 ? n2 : n1);
        p = rp__kstwo_sf(d, nearbyint(m * n / (m + n)));
        if (isnan(p) && m * n / (m + n) >= 0.5 && nearbyint(m * n / (m + n)) > 0)
            return rp_error_set(err, RP_ERR_NOMEM, "drift: out of memory for the KS p-value");
        p = isnan(p) ? p : clip01(p);
    }
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

void rp__drift_ref_free(rp__drift_ref *r)
{
    if (!r)
        return;
    free(r->sorted);
    memset(r, 0, sizeof *r);
}

int rp__drift_ref_init(rp__drift_ref *r, const double *x, size_t n, rp_error *err)
{
    memset(r, 0, sizeof *r);
    if (finite_sorted(x, n, &r->sorted, &r->n, err))
        return -1;
    r->given = n;
    /* The reference's std is taken before sorting, in its order, as numpy does. */
    r->std = rp__std(r->sorted, r->n);
    sort_doubles(r->sorted, r->n);
    return 0;
}

int rp__column_drift_ref(const rp__drift_ref *ref, const double *cur, size_t ncur, rp__drift_kind kind,
                         rp__drift_result *out, rp_error *err)
{
    double *c = NULL;
    const double *r = ref->sorted;
    size_t nr = ref->n, nc;
    cat_counts cc = {0};
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (finite_sorted(cur, ncur, &c, &nc, err))
        goto done;
    if (nr == 0 || nc == 0) {
        rp_error_set(
            err, RP_ERR_INVALID,
            "drift: the %s sample has no finite value (%zu given, NaN and Infinity are missing): nothing to compare",
            nr == 0 ? "reference" : "current", nr == 0 ? ref->given : ncur);
        goto done;
    }
    sort_doubles(c, nc);
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
        out->score = wasserstein_sorted(r, nr, c, nc) / fmax(ref->std, 0.001);
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
    free(c);
    free(cc.ref);
    return rc;
}

int rp__column_drift(const double *ref, size_t nref, const double *cur, size_t ncur, rp__drift_kind kind,
                     rp__drift_result *out, rp_error *err)
{
    rp__drift_ref r;
    memset(out, 0, sizeof *out);
    if (rp__drift_ref_init(&r, ref, nref, err) < 0)
        return -1;
    int rc = rp__column_drift_ref(&r, cur, ncur, kind, out, err);
    rp__drift_ref_free(&r);
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
