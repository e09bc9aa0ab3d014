// The fused block at the two widest levels as implicit GEMMs on tensor cores.
//
// A 1x1 convolution followed by a depthwise 3x3 is one dense 3x3
// convolution: dw(pw(x))[o] = sum over taps t and channels c of
// dw[o][t] pw[o][c] x[c](p + t), the zero padding included (the LayerNorm
// output is zero outside the image and the 1x1 has no bias). So each of the
// block's three passes runs its 1x1 + depthwise as one GEMM of the tile's
// 16 pixels a row (M) by the outputs (N) over 9 taps x C channels (K), read
// straight from the LayerNormed 18x18 halo in shared memory (ldmatrix, a tap
// is a shifted row address), with mma.sync m16n8k16 (fp16 in, fp32
// accumulate). The combined weights dw[o][t] pw[o][c] are formed in fp32
// and rounded to fp16 once.
//
// Everything after the GEMM stays in registers, in the accumulators' own
// layout (mma_sync.cuh):
//   summary: the gates (relu(k) sigmoid(gk), v sigmoid(gv)), then the
//            tile's S += phi_k^T v~ as more mma (movmatrix transposes the
//            accumulators into operands) and z in fp32; per-warp sums over
//            the whole grid loop, reduced in a fixed order per block;
//   apply:   relu(q) against [S | z] (scaled by a power of two into fp16's
//            range) by mma, o = num / den, the projection by mma, residual;
//   ffn:     the (t1, t2) pairs land in one thread by the column order, so
//            u = gelu(t2) t1 + gelu(t1) t2 is formed in registers and is
//            already the A operand of the output 1x1; residual.
// No 5C or 2 hid map exists anywhere, not even in shared memory. The
// CUDA-core work a pixel is the LayerNorm of the halo and the gates.
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "layers_unfused.cuh"

// True when these kernels take the shape: C = 16 or 32 with heads of 16
// channels, and the FFN's weights fit shared memory.
bool ig_block_supported(int c, int heads, int hid);

// Per-block partial S and z of x into partial (the layout k_saga_reduce
// reads); *parts: how many blocks wrote (at most max_parts). two_rows: each
// warp runs its two rows of a tile at once, sharing the weights' operands
// (the summary and FFN; FUSED_IGEMM2 in block_fused.cuh).
template <typename M>
bool ig_block_summary(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, float *partial,
                      int max_parts, int *parts, bool two_rows = false);

// y = x + proj(o), o = phi_q S / (phi_q z + 1e-6) per head.
template <typename M>
bool ig_block_apply(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, const float *S,
                    const float *z, M *y);

// y = x + FFN(LN2(x)). three_blocks (C = 16 with two_rows; elsewhere
// ignored): the kernel built for three blocks an SM, 80 registers a thread
// instead of 128 (FUSED_IGEMM2O in block_fused.cuh).
template <typename M>
bool ig_block_ffn(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, M *y, bool two_rows = false,
                  bool three_blocks = false);
