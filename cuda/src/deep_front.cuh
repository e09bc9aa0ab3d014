// The front of each branch of a deep-level block (C = 64, 128, 256; fp16
// precision) in one kernel: the LayerNorm of a tile's halo into shared
// memory, the branch's 1x1 on tensor cores (mma.sync, fp16 in, fp32
// accumulate) a chunk of 16 channels at a time into shared memory, then the
// depthwise 3x3 and the gates on the CUDA cores from there. The 5C and
// 2 hid expansions never reach device memory, and the LayerNorm's output
// map does not exist: per block ~100 MB of the ~230 MB of DRAM traffic at
// C=128 160^2 (docs/performance.md). Unlike the C=16 block's implicit GEMM
// (a 1x1 + depthwise as one 3x3: 9x the 1x1's FLOPs, paid on tensor cores),
// the 1x1 stays a 1x1 here, only the halo's extra positions recomputed:
// at these widths the 1x1s are most of the block's FLOPs.
//
// Checked on an H200 (bench_block --variant half-fused[/16]: nerr 2.8e-4 on
// fp16 maps, 8e-5 on fp32 maps, as the unfused fronts; compute-sanitizer
// memcheck and racecheck clean) but slower than the separate kernels it
// replaces: the block C=64 320^2 0.336 -> 0.453 ms, C=128 160^2 0.193 ->
// 0.344, C=256 80^2 0.142 -> 0.357. So it stays opt-in (SAGALUX_CUDA_DEEP=fused)
// and the workbench's: each chunk runs its three steps between barriers
// with two or three blocks an SM, and step 3 (scalar fp16 taps from shared
// memory, ~110 instructions a unit and pixel, no register window) is the
// bulk. What to try is in docs/performance.md.
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "layers_unfused.cuh"

// True for the widths these kernels take (C = 64, 128, 256) on a device
// with mma.sync m16n8k16 and their shared memory.
bool deep_front_supported(int c);

// u (3C, H, W) fp16 = q, relu(k) sigmoid(gk), v sigmoid(gv): each the
// depthwise 3x3 (qkv_dw) of the 1x1 qkv (qkv16) of LayerNorm1(x), as
// k_layernorm + the qkv GEMM + k_attn_dw_gate compute it. False on a
// launch-configuration error or a shape deep_front_supported refuses.
template <typename M>
bool deep_front_attn(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, __half *u);

// u (hid, H, W) fp16 = the dual gate gelu(b) a + gelu(a) b of a, b: the
// depthwise 3x3 (dw) of channels j and hid + j of the 1x1 pw_in (pw_in16)
// of LayerNorm2(x), as k_layernorm + the GEMM + k_ffn_dw_gate compute it.
template <typename M>
bool deep_front_ffn(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, __half *u);
