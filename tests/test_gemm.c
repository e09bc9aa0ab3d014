/* sx_sgemm and the built-in kernel against a float64 reference, for every
 * transpose combination, odd sizes, strides larger than the rows, and the
 * beta cases BLAS defines (beta 0 ignores NaN in C). With OpenBLAS in the
 * build, sx_sgemm is OpenBLAS, so this also holds the built-in kernel
 * against it through the same reference. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "gemm.h"
#include "test_util.h"

typedef void (*gemm_fn)(int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);

static float at(const float *x, int ld, int trans, int r, int c) { return trans ? x[(size_t)c * ld + r] : x[(size_t)r * ld + c]; }

static void check(gemm_fn fn, const char *name, int ta, int tb, int m, int n, int k, float alpha, float beta)
{
    uint64_t rng = (uint64_t)(m * 131 + n * 17 + k + ta * 7 + tb * 3);
    int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2; /* strides past the rows */
    size_t sa = (size_t)(ta ? k : m) * lda, sb = (size_t)(tb ? n : k) * ldb, sc = (size_t)m * ldc;
    float *a = malloc(sa * sizeof *a), *b = malloc(sb * sizeof *b), *c = malloc(sc * sizeof *c);
    double *want = malloc((size_t)m * n * sizeof *want), *bound = malloc((size_t)m * n * sizeof *bound);
    tu_fill_random(a, sa, -1.0f, 1.0f, &rng);
    tu_fill_random(b, sb, -1.0f, 1.0f, &rng);
    tu_fill_random(c, sc, -1.0f, 1.0f, &rng);
    if (beta == 0.0f)
        for (size_t i = 0; i < sc; i++) c[i] = NAN; /* must be ignored */
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double acc = 0.0, mag = 0.0;
            for (int p = 0; p < k; p++) {
                double t = (double)at(a, lda, ta, i, p) * at(b, ldb, tb, p, j);
                acc += t;
                mag += fabs(t);
            }
            double old = beta == 0.0f ? 0.0 : (double)beta * c[(size_t)i * ldc + j];
            want[(size_t)i * n + j] = alpha * acc + old;
            /* fp32 summation in any order: |error| <= (k + 2) * eps * (|alpha| sum|a b| + |beta c|). */
            bound[(size_t)i * n + j] = (k + 2) * 1.2e-7 * (fabs(alpha) * mag + fabs(old)) + 1e-30;
        }
    fn(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double got = c[(size_t)i * ldc + j], err = fabs(got - want[(size_t)i * n + j]);
            if (!(err <= bound[(size_t)i * n + j]))
                fail_msg("%s ta=%d tb=%d %dx%dx%d alpha=%g beta=%g: C[%d,%d] = %.9g, want %.9g", name, ta, tb, m, n, k,
                         alpha, beta, i, j, got, want[(size_t)i * n + j]);
        }
    free(a);
    free(b);
    free(c);
    free(want);
    free(bound);
}

static void run_all(gemm_fn fn, const char *name)
{
    static const int sizes[][3] = {{1, 1, 1}, {5, 7, 3}, {16, 300, 48}, {33, 257, 65}, {8, 1000, 8}, {80, 129, 300}};
    static const float betas[] = {0.0f, 1.0f, 0.5f};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int bi = 0; bi < 3; bi++)
                    check(fn, name, ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], bi == 2 ? -0.75f : 1.0f, betas[bi]);
}

static void test_builtin(void **state)
{
    (void)state;
    run_all(sx_sgemm_builtin, "built-in");
}

static void test_library(void **state)
{
    (void)state;
    print_message("sx_sgemm is %s\n", sx_gemm_name());
    run_all(sx_sgemm, sx_gemm_name());
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_builtin), cmocka_unit_test(test_library)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
