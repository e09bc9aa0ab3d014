// The Fuse layer's two passes (fuse_fused.cuh) as implicit GEMMs on tensor
// cores, C = 16: the 1x1 (3C -> 9C, with bias) followed by the depthwise
// (with bias) is one dense 3x3 of K = 9 taps x 3C channels read from the
// tile's halo of X (igemm_common.cuh). The 1x1's bias reaches the depthwise
// only where the tap lies inside the image (its zero padding), so it rides
// on one more k-step whose A is that indicator per tap, built in registers,
// and whose tenth column, a constant one, carries the depthwise's bias.
//   sums:  q and k (96 outputs) per tile row, the 15 global sums (|q_r|^2,
//          |k_s|^2, q_r . k_s) from the accumulators in fp32 per tile and
//          double across tiles, reduced in a fixed order;
//   apply: v (48 outputs), then out = [M | W_out] [v ; X] + c0 (the fold of
//          fuse_fused.cuh) as a second mma, X being the centre tap's A.
// The fp16 precision's default (SAGALUX_CUDA_FUSE=wmma runs fuse_tc.cu):
// 1.35 -> 0.98 ms a layer at 1280^2 on an H200 (cuda/bench_fuse).
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "layers_unfused.cuh"

// True for the widths these kernels take (C = 16) on a device that has
// mma.sync m16n8k16 and their shared memory.
bool ig_fuse_supported(int c);
// The sums pass: 15 doubles per block into partial (at most max_parts
// blocks; *parts says how many ran). two_rows: each warp runs its two rows
// of a tile at once, sharing the weights' operands (FUSE_IGEMM2).
template <typename M>
bool ig_fuse_sums(cudaStream_t s, const gpu_fuse_weights &f, const M *x, int h, int w, double *partial,
                  int max_parts, int *parts, bool two_rows = false);
// The apply pass: out (C, H, W) from x (3C, H, W) and the fold (fused_fuse_fold_floats).
template <typename M>
bool ig_fuse_apply(cudaStream_t s, const gpu_fuse_weights &f, const M *x, int h, int w, const float *fold, M *out,
                   bool two_rows = false);
