// The Fuse layer (NETWORK.md, "Layer fusion") in two fused passes over the
// image, so its 9C-channel intermediate (472 MB fp16, 944 MB fp32 at 1280^2,
// C = 16) never reaches device memory:
//   sums:  1x1 (3C -> the 6C q and k rows) + depthwise on a 16x16 tile with
//          its halo, feeding the 15 global sums (row norms of q and k, and
//          q_r . k_s), per block in double, reduced in a fixed order;
//   fold:  one block turns the sums into A = softmax(q^ k^T tau) and folds
//          A, the projection and the output 1x1 into one C x 3C matrix M and
//          a bias: out = M v + W_out X + W_out b_proj, since every step
//          after the softmax is linear;
//   apply: 1x1 (3C -> the 3C v rows) + depthwise per tile with its halo,
//          then out = M v + W_out X + b in registers.
// The unfused path (layers_unfused.cu) stays the reference and serves other widths.
#pragma once
#include <cstddef>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "layers_unfused.cuh"

// True when the fused passes handle this width (C = 8 or 16: a thread holds
// the 3C inputs of two halo positions in registers).
bool fused_fuse_supported(int c);

// Floats of device scratch the fold needs (M transposed, then the bias).
inline size_t fused_fuse_fold_floats(int c) { return 3 * (size_t)c * c + c; }

// Which kernels run the two passes: all fp32 (this file's); their 1x1s on
// WMMA (fuse_tc.cuh); or as implicit GEMMs on mma.sync (fuse_igemm.cuh, the
// fp16 precision's default); or those with a warp's two rows of a tile at
// once (one weight operand load for two m16 tiles; written without a GPU,
// opt-in until measured). A choice the width or the device does not take
// falls back to the one before it.
enum fuse_kernels { FUSE_FP32, FUSE_TC, FUSE_IGEMM, FUSE_IGEMM2 };

// out (C, H, W) = Fuse(x (3C, H, W)). partial: K_FUSE_BLOCKS * 15 doubles;
// sums: 15 doubles; fold: fused_fuse_fold_floats(C). Maps fp32 or fp16
// (map_io.cuh). False on a launch-configuration error.
template <typename M>
bool fused_fuse_run(cudaStream_t s, const gpu_fuse_weights &f, const M *x, int h, int w, M *out, double *partial,
                    double *sums, float *fold, fuse_kernels kernels);
