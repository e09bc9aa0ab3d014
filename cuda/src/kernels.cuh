// The CUDA kernels of the first GPU backend: one plain kernel per layer of
// core/src/layers.h, fp32 storage and arithmetic, maps planar (C, N) exactly
// as on the CPU. This is the correct-first version that the fused fp16
// kernels will be checked against; nothing here is tuned yet.
#pragma once
#include <cstddef>
#include <cuda_runtime.h>

// y (Cout, H, W) = 3x3 conv of x (Cin, H, W), zero padding; w (Cout, Cin, 3, 3); bias may be null.
void k_conv3x3(cudaStream_t s, const float *x, int cin, int h, int w, const float *wt, const float *bias, int cout,
               float *y);
// y (C, H, W) = depthwise 3x3 of x, zero padding; wt (C, 3, 3); bias may be null. y != x.
void k_dwconv3x3(cudaStream_t s, const float *x, int c, int h, int w, const float *wt, const float *bias, float *y);
// y (C, N) = LayerNorm over channels per pixel, eps 1e-5.
void k_layernorm(cudaStream_t s, const float *x, int c, size_t n, const float *g, const float *b, float *y);
// y (Cout, N) = bias (or y when accumulate, or 0) first; the product is added by cuBLAS.
void k_bias_init(cudaStream_t s, float *y, int cout, size_t n, const float *bias, int accumulate);
// t (5C, N): k <- relu(k) * sigmoid(gk), v <- v * sigmoid(gv), in place.
void k_saga_gate(cudaStream_t s, float *t, int c, size_t n);
// z (C) = sum over N of rows of x (C, N) times scale; deterministic (one block per row).
void k_row_sums(cudaStream_t s, const float *x, int c, size_t n, float scale, float *z);
// S (heads, d, d) = (1/N) sum_n phi_k_n v_n^T and z (C) = (1/N) sum_n phi_k_n per
// head, split over N into partial (K_SUMMARY_BLOCKS * (d*d + d) floats), then
// reduced in a fixed order. For d = 8, 16, 32; false (nothing done) otherwise.
bool k_saga_summary(cudaStream_t s, const float *k, const float *v, int c, int heads, size_t n, float *partial,
                    float *S, float *z);
// S, z = scale * the sum over parts of partial[part][head] (d*d then d floats), in order.
void k_saga_reduce(cudaStream_t s, const float *partial, int parts, int heads, int d, float scale, float *S, float *z);
// o (C, N): per head (d = C/heads), o_n = (relu(q_n)^T S) / (relu(q_n)^T z + 1e-6).
void k_saga_apply(cudaStream_t s, const float *q, int c, int heads, size_t n, const float *S, const float *z, float *o);
// t (2 hid, N) -> t[0, hid N) = gelu(t2) t1 + gelu(t1) t2.
void k_dual_gate(cudaStream_t s, float *t, int hid, size_t n);
// Fuse's 15 global sums over t (9C, N): |q_r|^2, |k_r|^2 (r < 3) and q_r . k_s, into sums[15];
// partial (blocks x 15) floats of scratch; fixed reduction order.
void k_fuse_sums(cudaStream_t s, const float *t, int c, size_t n, float *partial, int blocks, float *sums);
// sums (15 doubles) = the sum of blocks x 15 partial doubles, in order.
void k_fuse_reduce(cudaStream_t s, const double *partial, int blocks, double *sums);
// o (3C, N) = A v with A = softmax_row(q^ k^T tau) from the sums; o may alias t (the q slot).
void k_fuse_apply(cudaStream_t s, float *t, int c, size_t n, float tau, const float *sums, float *o);
// y (C, N) = alpha (C) a + beta (C) b.
void k_weighted_sum(cudaStream_t s, const float *a, const float *alpha, const float *b, const float *beta, int c,
                    size_t n, float *y);
// (C, H, W) -> (4C, H/2, W/2) and its inverse (4C, H, W) -> (C, 2H, 2W).
void k_pixel_unshuffle(cudaStream_t s, const float *x, int c, int h, int w, float *y);
void k_pixel_shuffle(cudaStream_t s, const float *x, int c4, int h, int w, float *y);

enum { K_FUSE_BLOCKS = 256, K_SUMMARY_BLOCKS = 528 /* 4 per SM of an H100 */ };
