// The per-layer CUDA kernels: one kernel per layer of core/src/layers.h,
// fp32 storage and arithmetic, maps planar (C, N) exactly as on the CPU (the
// unfused path: the GPU's plain reference, and the layers the fused kernels
// do not cover), plus the fp16-storage kernels of the deep levels'
// fp16 path (layers_half.cuh) at the end, whose arithmetic stays fp32.
#pragma once
#include <cstddef>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

// y (Cout, H, W) = 3x3 conv of x (Cin, H, W), zero padding; w (Cout, Cin, 3, 3); bias may be null.
// x and y fp32 or fp16 (map_io.cuh), either way round.
template <typename TI, typename TO>
void k_conv3x3(cudaStream_t s, const TI *x, int cin, int h, int w, const float *wt, const float *bias, int cout, TO *y);
// y (C, H, W) = depthwise 3x3 of x, zero padding; wt (C, 3, 3); bias may be null. y != x.
void k_dwconv3x3(cudaStream_t s, const float *x, int c, int h, int w, const float *wt, const float *bias, float *y);
// y (C, N) = LayerNorm over channels per pixel, eps 1e-5 (x, y fp32 or fp16).
template <typename TI, typename T>
void k_layernorm(cudaStream_t s, const TI *x, int c, size_t n, const float *g, const float *b, T *y);
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
// y (C, N) = alpha (C) a + beta (C) b (maps fp32 or fp16).
template <typename T>
void k_weighted_sum(cudaStream_t s, const T *a, const float *alpha, const T *b, const float *beta, int c, size_t n,
                    T *y);
// (C, H, W) -> (4C, H/2, W/2) and its inverse (4C, H, W) -> (C, 2H, 2W).
template <typename T> void k_pixel_unshuffle(cudaStream_t s, const T *x, int c, int h, int w, T *y);
template <typename T> void k_pixel_shuffle(cudaStream_t s, const T *x, int c4, int h, int w, T *y);
// The same from a chunk y (Cout, len) of a conv's output: its pixels p0 ..
// p0 + len of h x w, into the (un)shuffled map out.
template <typename T>
void k_pixel_unshuffle_chunk(cudaStream_t s, const __half *y, int cout, size_t len, size_t p0, int h, int w, T *out);
template <typename T>
void k_pixel_shuffle_chunk(cudaStream_t s, const __half *y, int cout, size_t len, size_t p0, int h, int w, T *out);


// fp16 storage, fp32 arithmetic (the deep levels of the fp16 precision; see layers_half.cuh).
bool k_saga_summary(cudaStream_t s, const __half *k, const __half *v, int c, int heads, size_t n, float *partial,
                    float *S, float *z);
void k_saga_apply(cudaStream_t s, const __half *q, int c, int heads, size_t n, const float *S, const float *z, __half *o);
// t (5C: q k v gk gv, H, W) -> u (3C): q, relu(k) sigmoid(gk), v sigmoid(gv) after
// the depthwise 3x3 wt (5C, 3, 3) of each. u != t.
void k_attn_dw_gate(cudaStream_t s, const __half *t, int c, int h, int w, const float *wt, __half *u);
// t (2 hid, H, W) -> u (hid) = gelu(b) a + gelu(a) b, a and b the depthwise 3x3
// wt (2 hid, 3, 3) of the two halves. u != t.
void k_ffn_dw_gate(cudaStream_t s, const __half *t, int hid, int h, int w, const float *wt, __half *u);
// col (9 Cin, len): the zero-padded 3x3 neighbourhoods of pixels p0 .. p0 + len
// of x (Cin, H, W; fp32 or fp16), row c * 9 + k for tap k of channel c.
template <typename TI>
void k_im2col3x3(cudaStream_t s, const TI *x, int cin, int h, int w, size_t p0, size_t len, __half *col);
// y = x rounded to fp16, n values; and back.
void k_to_half(cudaStream_t s, const float *x, size_t n, __half *y);
void k_to_float(cudaStream_t s, const __half *x, size_t n, float *y);

enum { K_FUSE_BLOCKS = 256, K_SUMMARY_BLOCKS = 528 /* 4 per SM of an H100 */ };
