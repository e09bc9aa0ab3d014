/* The one matrix product the CPU layers use: C = alpha * op(A) op(B) + beta * C,
 * row-major, op(X) = X or X^T. OpenBLAS's sgemm when the build has it; else
 * a small built-in kernel (the GPU machine has no OpenBLAS, and the CPU path
 * must still build and run there as the reference). */
#ifndef SX_GEMM_H
#define SX_GEMM_H

#include <stddef.h>
#include <stdint.h>

/* C (M, N) = alpha * op(A) (M, K) . op(B) (K, N) + beta * C.
 * lda, ldb, ldc: row strides of A, B, C as stored. beta == 0 ignores C's old
 * contents (NaN included), as BLAS does. */
void sx_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
              int ldb, float beta, float *c, int ldc);

/* The built-in kernel, always compiled, so a test can hold it against OpenBLAS. */
void sx_sgemm_builtin(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                      const float *b, int ldb, float beta, float *c, int ldc);

/* Single-threaded BLAS: our own pool splits the work (no-op without OpenBLAS). */
void sx_gemm_single_threaded(void);

/* "OpenBLAS" or "built-in", for logs and benchmarks. */
const char *sx_gemm_name(void);

/* Address space the matrix library will still map for work buffers when
 * `threads` threads run products (OpenBLAS maps one per caller, once);
 * 0 with the built-in kernel. */
uint64_t sx_gemm_workspace_bytes(int threads);

#endif
