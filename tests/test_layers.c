/* Each CPU layer against a naive loop written straight from docs/network.md,
 * on random data, odd sizes, channel counts that are not multiples of 8, and
 * 1 and 3 threads. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gelu_fast.h"
#include "layers.h"
#include "test_util.h"

/* fp32 sums of at most a few hundred terms of size ~1, reordered by BLAS. */
#define ATOL 1e-5
#define RTOL 1e-5

static uint64_t rng = 42;
static const int thread_counts[] = {1, 3};

static float *rnd(size_t n, float lo, float hi)
{
    float *x = malloc(n * sizeof(float));
    assert_non_null(x);
    tu_fill_random(x, n, lo, hi, &rng);
    return x;
}

static float *copy(const float *x, size_t n)
{
    float *y = malloc(n * sizeof(float));
    memcpy(y, x, n * sizeof(float));
    return y;
}

static sx_threadpool *pool(int threads) { return sx_threadpool_create(threads, sx_layers_scratch_floats(64, 64)); }

static void test_conv1x1(void **state)
{
    (void)state;
    const int cin = 13, cout = 7;
    const size_t n = 37 * 29;
    for (int ti = 0; ti < 2; ti++)
        for (int variant = 0; variant < 3; variant++) { /* plain, bias, bias + accumulate */
            sx_threadpool *tp = pool(thread_counts[ti]);
            float *x = rnd(cin * n, -1, 1), *w = rnd(cout * cin, -1, 1), *b = rnd(cout, -1, 1);
            float *y = rnd(cout * n, -1, 1), *want = copy(y, cout * n);
            const float *bias = variant ? b : NULL;
            int acc = variant == 2;
            for (int o = 0; o < cout; o++)
                for (size_t p = 0; p < n; p++) {
                    double s = (bias ? bias[o] : 0.0) + (acc ? want[o * n + p] : 0.0);
                    for (int i = 0; i < cin; i++) s += (double)w[o * cin + i] * x[i * n + p];
                    want[o * n + p] = (float)s;
                }
            sx_conv1x1(tp, x, cin, n, w, bias, cout, y, acc);
            assert_true(tu_close("conv1x1", y, want, cout * n, ATOL, RTOL));
            free(x), free(w), free(b), free(y), free(want);
            sx_threadpool_free(tp);
        }
}

static float at_zero_pad(const float *plane, int h, int w, int y, int x)
{
    return (y < 0 || y >= h || x < 0 || x >= w) ? 0.0f : plane[y * w + x];
}

static void test_conv3x3(void **state)
{
    (void)state;
    const int cin = 5, cout = 11, h = 17, w = 23;
    const size_t n = (size_t)h * w;
    for (int ti = 0; ti < 2; ti++) {
        sx_threadpool *tp = pool(thread_counts[ti]);
        float *x = rnd(cin * n, -1, 1), *wt = rnd(cout * cin * 9, -1, 1), *b = rnd(cout, -1, 1);
        float *y = malloc(cout * n * sizeof(float)), *want = malloc(cout * n * sizeof(float));
        for (int o = 0; o < cout; o++)
            for (int yy = 0; yy < h; yy++)
                for (int xx = 0; xx < w; xx++) {
                    double s = b[o];
                    for (int i = 0; i < cin; i++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++)
                                s += (double)wt[((o * cin + i) * 3 + ky) * 3 + kx] *
                                     at_zero_pad(x + i * n, h, w, yy + ky - 1, xx + kx - 1);
                    want[o * n + yy * w + xx] = (float)s;
                }
        sx_conv3x3(tp, x, cin, h, w, wt, b, cout, y);
        assert_true(tu_close("conv3x3", y, want, cout * n, ATOL, RTOL));
        free(x), free(wt), free(b), free(y), free(want);
        sx_threadpool_free(tp);
    }
}

static void test_dwconv3x3(void **state)
{
    (void)state;
    const int shapes[][3] = {{7, 19, 13}, {3, 1, 9}, {2, 8, 1}}; /* C, H, W: including one row / one column */
    for (int si = 0; si < 3; si++)
        for (int ti = 0; ti < 2; ti++) {
            int c = shapes[si][0], h = shapes[si][1], w = shapes[si][2];
            size_t n = (size_t)h * w;
            sx_threadpool *tp = pool(thread_counts[ti]);
            float *x = rnd(c * n, -1, 1), *wt = rnd(c * 9, -1, 1), *b = rnd(c, -1, 1);
            float *want = malloc(c * n * sizeof(float));
            for (int ch = 0; ch < c; ch++)
                for (int yy = 0; yy < h; yy++)
                    for (int xx = 0; xx < w; xx++) {
                        double s = b[ch];
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++)
                                s += (double)wt[ch * 9 + ky * 3 + kx] * at_zero_pad(x + ch * n, h, w, yy + ky - 1, xx + kx - 1);
                        want[ch * n + yy * w + xx] = (float)s;
                    }
            sx_dwconv3x3_inplace(tp, x, c, h, w, wt, b);
            assert_true(tu_close("dwconv3x3", x, want, c * n, ATOL, RTOL));
            free(x), free(wt), free(b), free(want);
            sx_threadpool_free(tp);
        }
}

static void test_layernorm(void **state)
{
    (void)state;
    const int c = 13;
    const size_t n = 301;
    for (int ti = 0; ti < 2; ti++) {
        sx_threadpool *tp = pool(thread_counts[ti]);
        float *x = rnd(c * n, -3, 5), *w = rnd(c, 0.5f, 1.5f), *b = rnd(c, -0.5f, 0.5f);
        float *y = malloc(c * n * sizeof(float)), *want = malloc(c * n * sizeof(float));
        for (size_t p = 0; p < n; p++) {
            double mu = 0, var = 0;
            for (int i = 0; i < c; i++) mu += x[i * n + p];
            mu /= c;
            for (int i = 0; i < c; i++) var += (x[i * n + p] - mu) * (x[i * n + p] - mu);
            var /= c;
            for (int i = 0; i < c; i++) want[i * n + p] = (float)((x[i * n + p] - mu) / sqrt(var + 1e-5) * w[i] + b[i]);
        }
        sx_layernorm(tp, x, c, n, w, b, y);
        assert_true(tu_close("layernorm", y, want, c * n, ATOL, RTOL));
        free(x), free(w), free(b), free(y), free(want);
        sx_threadpool_free(tp);
    }
}

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

static void test_saga_attention(void **state)
{
    (void)state;
    const int cases[][2] = {{12, 3}, {10, 2}, {7, 1}}; /* C, heads: d = 4, 5, 7 */
    const size_t n = 211;
    for (int ci = 0; ci < 3; ci++)
        for (int ti = 0; ti < 2; ti++) {
            int c = cases[ci][0], heads = cases[ci][1], d = c / heads;
            sx_threadpool *tp = pool(thread_counts[ti]);
            /* q and k mostly positive keep phi_q . z well away from the 1e-6
             * epsilon, where any fp32 implementation is ill-conditioned. */
            float *t = rnd(5 * c * n, -0.5f, 2.0f), *ref = copy(t, 5 * c * n);
            float *want = malloc(c * n * sizeof(float));
            const float *q = ref, *k = ref + c * n, *v = ref + 2 * c * n, *gk = ref + 3 * c * n, *gv = ref + 4 * c * n;
            for (int hh = 0; hh < heads; hh++) {
                double s[64][64] = {{0}}, z[64] = {0};
                for (size_t p = 0; p < n; p++)
                    for (int i = 0; i < d; i++) {
                        int ch = hh * d + i;
                        double fk = fmax(k[ch * n + p], 0.0) * sigmoid(gk[ch * n + p]);
                        z[i] += fk / n;
                        for (int j = 0; j < d; j++) {
                            int cj = hh * d + j;
                            s[i][j] += fk * v[cj * n + p] * sigmoid(gv[cj * n + p]) / n;
                        }
                    }
                for (size_t p = 0; p < n; p++) {
                    double den = 1e-6;
                    for (int i = 0; i < d; i++) den += fmax(q[(hh * d + i) * n + p], 0.0) * z[i];
                    for (int j = 0; j < d; j++) {
                        double num = 0;
                        for (int i = 0; i < d; i++) num += fmax(q[(hh * d + i) * n + p], 0.0) * s[i][j];
                        want[(hh * d + j) * n + p] = (float)(num / den);
                    }
                }
            }
            float *o = t + 3 * c * n; /* the aliasing the network uses */
            sx_saga_attention(tp, t, c, heads, n, o);
            assert_true(tu_close("saga_attention", o, want, c * n, ATOL, RTOL));
            free(t), free(ref), free(want);
            sx_threadpool_free(tp);
        }
}

static double gelu(double v) { return 0.5 * v * (1.0 + erf(v / sqrt(2.0))); }

static void test_dual_gate(void **state)
{
    (void)state;
    const int hid = 9;
    const size_t n = 77;
    sx_threadpool *tp = pool(3);
    float *t = rnd(2 * hid * n, -3, 3), *want = malloc(hid * n * sizeof(float));
    for (size_t i = 0; i < hid * n; i++) {
        double t1 = t[i], t2 = t[i + hid * n];
        want[i] = (float)(gelu(t2) * t1 + gelu(t1) * t2);
    }
    sx_dual_gate(tp, t, hid, n);
    assert_true(tu_close("dual_gate", t, want, hid * n, ATOL, RTOL));
    free(t), free(want);
    sx_threadpool_free(tp);
}

/* The fp16 CUDA kernels' GELU (core/src/gelu_fast.h) against the exact
 * x Phi(x) in double on a dense grid over [-12, 12] (every 2^-12) and at
 * tiny and huge |x|. Limit: A&S 7.1.26's 1.5e-7 in erf is 0.75e-7 in Phi,
 * so 0.75e-7 |x|, plus 4 float ulps of the result for the arithmetic. */
static void test_gelu_fast(void **state)
{
    (void)state;
    double worst = 0.0;
    float at = 0.0f;
    const float extra[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-6f, -1e-6f, 40.0f, -40.0f, 1e4f, -1e4f};
    const int grid = 2 * 12 * 4096 + 1, total = grid + (int)(sizeof extra / sizeof extra[0]);
    for (int i = 0; i < total; i++) {
        const float x = i < grid ? (float)(i - 12 * 4096) / 4096.0f : extra[i - grid];
        const double want = 0.5 * (double)x * (1.0 + erf((double)x / sqrt(2.0)));
        const double got = (double)sx_gelu_fast(x);
        const double limit = 0.75e-7 * fabs((double)x) + 4.0 * (double)FLT_EPSILON * fabs(want) + 1e-37;
        const double ratio = fabs(got - want) / limit;
        if (ratio > worst) worst = ratio, at = x;
    }
    if (worst > 1.0) fail_msg("sx_gelu_fast: %.2fx its limit at x = %g", worst, (double)at);
    /* The dual gate with its shared reciprocal, against the same in double,
     * on pairs spread over [-12, 12]^2. Each of its two terms is off by at
     * most (error of Phi) |t1 t2|; Phi's error: A&S's 0.75e-7 plus 4 float
     * ulps of 1 for evaluating it in float (the shared reciprocal's two
     * extra roundings among them; measured worst 5.7e-7 |t1 t2| in all). */
    uint32_t seed = 12345;
    const double phi_error = 0.75e-7 + 4.0 * (double)FLT_EPSILON;
    for (int i = 0; i < 200000; i++) {
        float t[2];
        for (int k = 0; k < 2; k++) {
            seed = seed * 1664525u + 1013904223u;
            t[k] = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 24.0f;
        }
        const double g1 = 0.5 * t[0] * (1.0 + erf(t[0] / sqrt(2.0))), g2 = 0.5 * t[1] * (1.0 + erf(t[1] / sqrt(2.0)));
        const double want = g2 * t[0] + g1 * t[1];
        const double limit = 2.0 * phi_error * fabs((double)t[0] * t[1]) + 1e-37;
        const double ratio = fabs((double)sx_dual_gate_fast(t[0], t[1]) - want) / limit;
        if (ratio > 1.0) fail_msg("sx_dual_gate_fast: %.2fx its limit at (%g, %g)", ratio, (double)t[0], (double)t[1]);
    }
}

static void test_fuse_mix(void **state)
{
    (void)state;
    const int c = 5;
    const size_t n = 143, row = c * n;
    const float tau = 1.7f;
    for (int ti = 0; ti < 2; ti++) {
        sx_threadpool *tp = pool(thread_counts[ti]);
        float *t = rnd(9 * row, -1, 1), *ref = copy(t, 9 * row), *want = malloc(3 * row * sizeof(float));
        double nq[3] = {0}, nk[3] = {0}, a[3][3];
        for (int r = 0; r < 3; r++)
            for (size_t i = 0; i < row; i++) {
                nq[r] += (double)ref[r * row + i] * ref[r * row + i];
                nk[r] += (double)ref[(3 + r) * row + i] * ref[(3 + r) * row + i];
            }
        for (int r = 0; r < 3; r++) {
            double z = 0;
            for (int s = 0; s < 3; s++) {
                double dot = 0;
                for (size_t i = 0; i < row; i++) dot += (double)ref[r * row + i] * ref[(3 + s) * row + i];
                a[r][s] = exp(dot / sqrt(nq[r]) / sqrt(nk[s]) * tau);
                z += a[r][s];
            }
            for (int s = 0; s < 3; s++) a[r][s] /= z;
        }
        for (int r = 0; r < 3; r++)
            for (size_t i = 0; i < row; i++) {
                double s = 0;
                for (int k = 0; k < 3; k++) s += a[r][k] * ref[(6 + k) * row + i];
                want[r * row + i] = (float)s;
            }
        sx_fuse_mix(tp, t, c, n, tau, t);
        assert_true(tu_close("fuse_mix", t, want, 3 * row, ATOL, RTOL));
        free(t), free(ref), free(want);
        sx_threadpool_free(tp);
    }
}

static void test_pixel_shuffle_pair(void **state)
{
    (void)state;
    const int c = 3, h = 6, w = 10;
    sx_threadpool *tp = pool(3);
    float *x = rnd(c * h * w, -1, 1), *y = malloc(c * h * w * sizeof(float)), *back = malloc(c * h * w * sizeof(float));
    sx_pixel_unshuffle(tp, x, c, h, w, y);
    /* out[4c + 2i + j, yy, xx] = in[c, 2yy + i, 2xx + j] (PyTorch's order) */
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                for (int yy = 0; yy < h / 2; yy++)
                    for (int xx = 0; xx < w / 2; xx++)
                        assert_true(y[((4 * ch + 2 * i + j) * (h / 2) + yy) * (w / 2) + xx] ==
                                    x[(ch * h + 2 * yy + i) * w + 2 * xx + j]);
    sx_pixel_shuffle(tp, y, 4 * c, h / 2, w / 2, back);
    assert_memory_equal(back, x, c * h * w * sizeof(float));
    free(x), free(y), free(back);
    sx_threadpool_free(tp);
}

static void test_weighted_sum(void **state)
{
    (void)state;
    const int c = 6;
    const size_t n = 50;
    sx_threadpool *tp = pool(2);
    float *a = rnd(c * n, -1, 1), *b = rnd(c * n, -1, 1), *al = rnd(c, 0, 2), *be = rnd(c, 0, 2);
    float *y = malloc(c * n * sizeof(float)), *want = malloc(c * n * sizeof(float));
    for (int ch = 0; ch < c; ch++)
        for (size_t p = 0; p < n; p++) want[ch * n + p] = al[ch] * a[ch * n + p] + be[ch] * b[ch * n + p];
    sx_weighted_sum(tp, a, al, b, be, c, n, y);
    assert_true(tu_close("weighted_sum", y, want, c * n, ATOL, RTOL));
    free(a), free(b), free(al), free(be), free(y), free(want);
    sx_threadpool_free(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv1x1),          cmocka_unit_test(test_conv3x3),
        cmocka_unit_test(test_dwconv3x3),        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_saga_attention),   cmocka_unit_test(test_dual_gate),
        cmocka_unit_test(test_fuse_mix),         cmocka_unit_test(test_pixel_shuffle_pair),
        cmocka_unit_test(test_weighted_sum),      cmocka_unit_test(test_gelu_fast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
