/* sx_sgemm: OpenBLAS when built with it, else the built-in kernel below. */
#include "gemm.h"

#include <stdatomic.h>
#include <stdint.h>

#ifdef SAGALUX_HAVE_OPENBLAS
#include <cblas.h>
#endif

/* The built-in kernel: op(B) is first packed row-major (K, NB) in column
 * blocks so the inner loop runs over contiguous floats of B and C, which the
 * compiler vectorises; A is read element by element. Fast enough to be the
 * reference where no BLAS exists; not a replacement for one. */
enum { NB = 256, KB = 64 }; /* a 64 KiB panel on the stack */

void sx_sgemm_builtin(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                      const float *b, int ldb, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++) {
        float *row = c + (size_t)i * ldc;
        if (beta == 0.0f)
            for (int j = 0; j < n; j++) row[j] = 0.0f;
        else if (beta != 1.0f)
            for (int j = 0; j < n; j++) row[j] *= beta;
    }
    float panel[KB * NB];
    for (int j0 = 0; j0 < n; j0 += NB) {
        int nb = n - j0 < NB ? n - j0 : NB;
        for (int p0 = 0; p0 < k; p0 += KB) {
            int kb = k - p0 < KB ? k - p0 : KB;
            for (int p = 0; p < kb; p++)
                for (int j = 0; j < nb; j++)
                    panel[p * NB + j] = trans_b ? b[(size_t)(j0 + j) * ldb + p0 + p] : b[(size_t)(p0 + p) * ldb + j0 + j];
            for (int i = 0; i < m; i++) {
                float *row = c + (size_t)i * ldc + j0;
                for (int p = 0; p < kb; p++) {
                    float av = alpha * (trans_a ? a[(size_t)(p0 + p) * lda + i] : a[(size_t)i * lda + p0 + p]);
                    const float *brow = panel + p * NB;
                    for (int j = 0; j < nb; j++) row[j] += av * brow[j];
                }
            }
        }
    }
}

#ifdef SAGALUX_HAVE_OPENBLAS
/* OpenBLAS maps a work buffer (BUFFER_SIZE: 128 MiB of address space on
 * x86-64) the first time each concurrent caller runs a product, and under
 * an address-space limit (ulimit -v) it retries a buffer it cannot map for
 * ever: the memory check counts the buffers not mapped yet. The threads
 * that have called are counted; OpenBLAS never maps more buffers than
 * that. */
#define BLAS_BUFFER_BYTES ((uint64_t)128 << 20)
static atomic_int blas_callers;
static _Thread_local int blas_called_here;
#endif

uint64_t sx_gemm_workspace_bytes(int threads)
{
#ifdef SAGALUX_HAVE_OPENBLAS
    const int ready = atomic_load(&blas_callers);
    return threads > ready ? (uint64_t)(threads - ready) * BLAS_BUFFER_BYTES : 0;
#else
    (void)threads;
    return 0; /* the built-in kernel allocates nothing */
#endif
}

void sx_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
              int ldb, float beta, float *c, int ldc)
{
#ifdef SAGALUX_HAVE_OPENBLAS
    if (!blas_called_here) {
        blas_called_here = 1;
        atomic_fetch_add(&blas_callers, 1);
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
                alpha, a, lda, b, ldb, beta, c, ldc);
#else
    sx_sgemm_builtin(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}

void sx_gemm_single_threaded(void)
{
#ifdef SAGALUX_HAVE_OPENBLAS
    openblas_set_num_threads(1);
#endif
}

const char *sx_gemm_name(void)
{
#ifdef SAGALUX_HAVE_OPENBLAS
    return "OpenBLAS";
#else
    return "built-in";
#endif
}
