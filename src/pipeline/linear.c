/* LinearRegression on the ride design (see train.h, docs/train.md).
 *
 * scikit-learn fits LinearRegression(fit_intercept=True) on the sparse
 * matrix a DictVectorizer makes with scipy's LSQR on the centred operator
 * (sklearn/linear_model/_base.py, scipy/sparse/linalg/_isolve/lsqr.py):
 *
 *   X_offset = column means (sklearn's mean_variance_axis: a sequential sum
 *              over rows, divided by the sum of the unit weights)
 *   y_offset = np.average(y, weights=1): numpy's sum (pairwise within
 *              blocks of 8192, blocks added in order) / n
 *   matvec(b)  = X b   - b . X_offset          (per row, scipy's csr_matvec)
 *   rmatvec(b) = X' b  - X_offset * (b . 1)    (per column, csc_matvec)
 *   coef = lsqr(operator, y - y_offset)[0]     (atol = btol = 1e-6, conlim 1e8)
 *   intercept = y_offset - X_offset . coef
 *
 * LSQR stops after a few dozen iterations, far from the exact least-squares
 * solution (validation RMSE 7.7587 against 7.4808 for the exact one on the
 * course's data), and its result is extremely sensitive to rounding (a
 * 1e-15 relative change of y moves predictions by 5e-5).  To give
 * scikit-learn's answer, every operation below is the one numpy / scipy /
 * the reference BLAS perform, in the same order: dot products and norms
 * sum sequentially (netlib ddot), norms are sqrt(dot), vector scalings are
 * multiplications by the reciprocal, as in lsqr.py.
 *
 * RP_LINEAR_EXACT instead gives the minimum-norm least-squares solution in
 * closed form: every row has exactly one one-hot column, so after centring
 * the one-hot part is a per-category mean and the slope a within-category
 * regression; the centred one-hot columns sum to zero, whose null direction
 * (all one-hot coefficients shifted together) is removed by centring them
 * (minimum norm). */
#include "pipeline/train.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void rp__linear_fit_free(rp__linear_fit *f)
{
    if (!f)
        return;
    free(f->coef);
    f->coef = NULL;
}

/* netlib ddot: a sequential sum of products. */
static double dot(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double norm(const double *a, size_t n)
{
    return sqrt(dot(a, a, n));
}

/* numpy's pairwise summation of one inner-loop call. */
static double pairwise(const double *a, size_t n)
{
    if (n < 8) {
        double r = 0.0;
        for (size_t i = 0; i < n; i++)
            r += a[i];
        return r;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++)
            r[j] = a[j];
        size_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise(a, n2) + pairwise(a + n2, n - n2);
}

/* np.sum of a float64 vector: the reduction runs in buffers of 8192. */
static double np_sum(const double *a, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i += 8192)
        s += pairwise(a + i, n - i < 8192 ? n - i : 8192);
    return s;
}

static double sign(double a)
{
    return a > 0 ? 1.0 : a < 0 ? -1.0 : a;
}

/* lsqr.py's _sym_ortho. */
static void sym_ortho(double a, double b, double *c, double *s, double *r)
{
    if (b == 0) {
        *c = sign(a);
        *s = 0;
        *r = fabs(a);
    } else if (a == 0) {
        *c = 0;
        *s = sign(b);
        *r = fabs(b);
    } else if (fabs(b) > fabs(a)) {
        double tau = a / b;
        *s = sign(b) / sqrt(1 + tau * tau);
        *c = *s * tau;
        *r = b / *s;
    } else {
        double tau = b / a;
        *c = sign(a) / sqrt(1 + tau * tau);
        *s = *c * tau;
        *r = a / *c;
    }
}

typedef struct op {
    const rp__train_set *s;
    size_t p; /* columns: K one-hot + trip_distance */
    uint32_t K;
    const double *xo; /* column means */
    double *t;        /* p scratch */
} op;

/* out = matvec(v) - alfa * u, in place into u. */
static void matvec_sub(const op *o, const double *v, double alfa, double *u)
{
    double dv = dot(v, o->xo, o->p);
    double vk = v[o->K];
    const rp__train_set *s = o->s;
    for (size_t i = 0; i < s->n; i++) {
        double row = v[s->cat[i]] + s->x[i] * vk;
        u[i] = (row - dv) - alfa * u[i];
    }
}

/* v = rmatvec(u) - beta * v (beta 0 and v NULL: just rmatvec into out). */
static void rmatvec_sub(const op *o, const double *u, double beta, double *v)
{
    const rp__train_set *s = o->s;
    double *t = o->t;
    memset(t, 0, o->p * sizeof *t);
    uint32_t K = o->K;
    for (size_t i = 0; i < s->n; i++) {
        t[s->cat[i]] += u[i];
        t[K] += s->x[i] * u[i];
    }
    double su = 0.0;
    for (size_t i = 0; i < s->n; i++)
        su += u[i] * 1.0;
    for (size_t j = 0; j < o->p; j++)
        v[j] = (t[j] - o->xo[j] * su) - beta * v[j];
}

static int lsqr(const rp__train_set *s, uint32_t K, const double *xo, const double *b, double *x,
                int *itn_out, int *istop_out, rp_error *err)
{
    const double atol = 1e-6, btol = 1e-6, conlim = 1e8, eps = DBL_EPSILON;
    size_t m = s->n, n = (size_t)K + 1;
    int rc = -1;
    double *u = malloc(m * sizeof *u), *v = calloc(n, sizeof *v), *w = malloc(n * sizeof *w),
           *dk = malloc(n * sizeof *dk), *t = malloc(n * sizeof *t);
    if (!u || !v || !w || !dk || !t) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory for the linear fit");
        goto out;
    }
    op o = {.s = s, .p = n, .K = K, .xo = xo, .t = t};
    size_t iter_lim = 2 * n;
    int itn = 0, istop = 0;
    double ctol = 1 / conlim, anorm = 0, acond = 0, ddnorm = 0, res2 = 0, xnorm = 0, xxnorm = 0, z = 0,
           cs2 = -1, sn2 = 0;
    memcpy(u, b, m * sizeof *u);
    double bnorm = norm(b, m);
    memset(x, 0, n * sizeof *x);
    double beta = bnorm, alfa = 0;
    if (beta > 0) {
        double r = 1 / beta;
        for (size_t i = 0; i < m; i++)
            u[i] = r * u[i];
        rmatvec_sub(&o, u, 0.0, v);
        alfa = norm(v, n);
    }
    if (alfa > 0) {
        double r = 1 / alfa;
        for (size_t j = 0; j < n; j++)
            v[j] = r * v[j];
    }
    memcpy(w, v, n * sizeof *w);
    double rhobar = alfa, phibar = beta;
    if (alfa * beta == 0)
        goto done;
    while ((size_t)itn < iter_lim) {
        itn++;
        matvec_sub(&o, v, alfa, u);
        beta = norm(u, m);
        if (beta > 0) {
            double r = 1 / beta;
            for (size_t i = 0; i < m; i++)
                u[i] = r * u[i];
            anorm = sqrt(anorm * anorm + alfa * alfa + beta * beta + 0.0);
            rmatvec_sub(&o, u, beta, v);
            alfa = norm(v, n);
            if (alfa > 0) {
                r = 1 / alfa;
                for (size_t j = 0; j < n; j++)
                    v[j] = r * v[j];
            }
        }
        double rhobar1 = rhobar, psi = 0.0, cs, sn, rho;
        sym_ortho(rhobar1, beta, &cs, &sn, &rho);
        double theta = sn * alfa;
        rhobar = -cs * alfa;
        double phi = cs * phibar;
        phibar = sn * phibar;
        double tau = sn * phi;
        double t1 = phi / rho, t2 = -theta / rho;
        double rr = 1 / rho;
        for (size_t j = 0; j < n; j++) {
            dk[j] = rr * w[j];
            x[j] = x[j] + t1 * w[j];
            w[j] = v[j] + t2 * w[j];
        }
        double dn = norm(dk, n);
        ddnorm = ddnorm + dn * dn;
        double delta = sn2 * rho, gambar = -cs2 * rho, rhs = phi - delta * z, zbar = rhs / gambar;
        xnorm = sqrt(xxnorm + zbar * zbar);
        double gamma = sqrt(gambar * gambar + theta * theta);
        cs2 = gambar / gamma;
        sn2 = theta / gamma;
        z = rhs / gamma;
        xxnorm = xxnorm + z * z;
        acond = anorm * sqrt(ddnorm);
        double res1 = phibar * phibar;
        res2 = res2 + psi * psi;
        double rnorm = sqrt(res1 + res2), arnorm = alfa * fabs(tau);
        double test1 = rnorm / bnorm, test2 = arnorm / (anorm * rnorm + eps), test3 = 1 / (acond + eps);
        t1 = test1 / (1 + anorm * xnorm / bnorm);
        double rtol = btol + atol * anorm * xnorm / bnorm;
        if ((size_t)itn >= iter_lim)
            istop = 7;
        if (1 + test3 <= 1)
            istop = 6;
        if (1 + test2 <= 1)
            istop = 5;
        if (1 + t1 <= 1)
            istop = 4;
        if (test3 <= ctol)
            istop = 3;
        if (test2 <= atol)
            istop = 2;
        if (test1 <= rtol)
            istop = 1;
        if (istop)
            break;
    }
done:
    *itn_out = itn;
    *istop_out = istop;
    rc = 0;
out:
    free(u);
    free(v);
    free(w);
    free(dk);
    free(t);
    return rc;
}

/* The closed-form minimum-norm solution (see the top of the file). */
static int exact(const rp__train_set *s, uint32_t K, double *coef, rp_error *err)
{
    size_t n = s->n;
    double *cnt = calloc(K, sizeof *cnt), *xb = calloc(K, sizeof *xb), *yb = calloc(K, sizeof *yb);
    if (!cnt || !xb || !yb) {
        free(cnt);
        free(xb);
        free(yb);
        return rp_error_set(err, RP_ERR_NOMEM, "out of memory for the linear fit");
    }
    double xm = 0, ym = 0;
    for (size_t i = 0; i < n; i++) {
        cnt[s->cat[i]] += 1;
        xb[s->cat[i]] += s->x[i];
        yb[s->cat[i]] += s->y[i];
        xm += s->x[i];
        ym += s->y[i];
    }
    xm /= (double)n;
    ym /= (double)n;
    for (uint32_t k = 0; k < K; k++) {
        xb[k] /= cnt[k];
        yb[k] /= cnt[k];
    }
    /* Within-category regression of y on x. */
    double sxx = 0, sxy = 0, txx = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = s->x[i] - xb[s->cat[i]], dy = s->y[i] - yb[s->cat[i]];
        sxx += dx * dx;
        sxy += dx * dy;
        txx += (s->x[i] - xm) * (s->x[i] - xm);
    }
    /* x explained by the categories (a second null direction): the
     * minimum-norm solution puts the whole fit on the one-hot columns when
     * x adds nothing, up to a tolerance relative to its total variation. */
    double slope = sxx > 1e-12 * txx && sxx > 0 ? sxy / sxx : 0.0;
    double mean_d = 0;
    for (uint32_t k = 0; k < K; k++) {
        coef[k] = (yb[k] - ym) - slope * (xb[k] - xm);
        mean_d += coef[k];
    }
    mean_d /= K ? (double)K : 1.0;
    for (uint32_t k = 0; k < K; k++)
        coef[k] -= mean_d;
    coef[K] = slope;
    if (!(sxx > 1e-12 * txx && sxx > 0) && K > 0) {
        /* Minimum norm over the two null directions: c + t*1 - a*g with
         * g_k = xb_k - xm and the slope a.  Minimise |c + t 1 - a g|^2 + a^2
         * (2x2 normal equations; t = 0 is already optimal for c centred
         * and, after centring g, independent of a). */
        double gm = 0;
        for (uint32_t k = 0; k < K; k++)
            gm += xb[k] - xm;
        gm /= (double)K;
        double gg = 0, gc = 0;
        for (uint32_t k = 0; k < K; k++) {
            double g = xb[k] - xm - gm;
            gg += g * g;
            gc += g * coef[k];
        }
        double a = gc / (gg + 1.0);
        for (uint32_t k = 0; k < K; k++)
            coef[k] -= a * (xb[k] - xm - gm);
        coef[K] = a;
    }
    free(cnt);
    free(xb);
    free(yb);
    return 0;
}

int rp__train_linear(const rp__train_set *s, const rp__vocab *v, rp__linear_solver solver,
                     rp__linear_fit *out, rp_error *err)
{
    memset(out, 0, sizeof *out);
    if (s->n == 0)
        return rp_error_set(err, RP_ERR_INVALID, "no training rides");
    uint32_t K = v->n;
    size_t p = (size_t)K + 1, n = s->n;
    for (size_t i = 0; i < n; i++)
        if (s->cat[i] >= K)
            return rp_error_set(err, RP_ERR_INTERNAL, "training ride %zu has no one-hot column", i);
    int rc = -1;
    double *xo = calloc(p, sizeof *xo), *yc = malloc(n * sizeof *yc), *coef = calloc(p, sizeof *coef);
    if (!xo || !yc || !coef) {
        rp_error_set(err, RP_ERR_NOMEM, "out of memory for the linear fit");
        goto out;
    }
    /* mean_variance_axis: sequential column sums of X * weight (1.0), over
     * the sum of the weights (np.sum of n ones: n exactly). */
    for (size_t i = 0; i < n; i++) {
        xo[s->cat[i]] += 1.0 * 1.0;
        xo[K] += s->x[i] * 1.0;
    }
    for (size_t j = 0; j < p; j++)
        xo[j] /= (double)n;
    double y_offset = np_sum(s->y, n) / (double)n;
    for (size_t i = 0; i < n; i++)
        yc[i] = s->y[i] - y_offset;
    if (solver == RP_LINEAR_EXACT) {
        if (exact(s, K, coef, err) < 0)
            goto out;
    } else if (lsqr(s, K, xo, yc, coef, &out->iterations, &out->istop, err) < 0) {
        goto out;
    }
    for (size_t j = 0; j < p; j++)
        if (!isfinite(coef[j])) {
            rp_error_set(err, RP_ERR_INVALID, "the linear fit diverged (coefficient %zu is not finite)", j);
            goto out;
        }
    out->intercept = y_offset - dot(xo, coef, p);
    out->coef = coef;
    coef = NULL;
    rc = 0;
out:
    free(xo);
    free(yc);
    free(coef);
    return rc;
}
