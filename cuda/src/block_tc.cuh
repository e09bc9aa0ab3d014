// The fused block's two heavy kernels on tensor cores: the summary (LN1 +
// the k, gk, v, gv 1x1 + depthwise + gates + the S and z sums) and the FFN
// (LN2 + 1x1 + depthwise + dual gate + 1x1 + residual). Same tiles, halo and
// persistent grid as block_fused.cu; the 1x1 convolutions and the S sums run
// as fp16 x fp16 -> fp32 mma (WMMA 16x16x16), everything else in fp32: the
// LayerNorm, the depthwise taps (on fp32 1x1 outputs), the gates, every sum.
// What is rounded to fp16: the LayerNorm output, the weights of the 1x1s,
// phi_k and v~ (the S operands) and the FFN's gated map before its last 1x1.
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "layers_unfused.cuh"

// True when these kernels take a block of this shape (C = 16 or 32, and the
// FFN's shared memory fits one block per SM).
bool tc_block_supported(int c, int heads, int hid);

// Per-block partial S and z of x (layout as k_saga_reduce reads it) into
// partial; *parts: how many blocks wrote (at most max_parts). False on a
// configuration error. Maps fp32 or fp16 (map_io.cuh).
template <typename M>
bool tc_block_summary(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, float *partial,
                      int max_parts, int *parts);

// y = x + FFN(LN2(x)).
template <typename M> bool tc_block_ffn(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, M *y);
