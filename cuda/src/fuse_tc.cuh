// The fused Fuse layer's two passes (fuse_fused.cuh) with their 1x1s on
// tensor cores, for the fp16 precision at C = 16: the 3C = 48 input channels
// of a tile's halo as an fp16 matrix, with a 49th column of ones (zero
// outside the image) that carries the 1x1's bias, so the 1x1 of the halo is
// one WMMA product (fp32 accumulation) and is zero outside the image, bias
// included, as the depthwise padding needs. The depthwise taps, the 15 global
// sums (fp32 per tile, double across tiles, a fixed reduction order) and
// the W_out X term stay fp32 on the CUDA cores; the folded M v product of the
// apply pass is a second WMMA product.
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "layers_unfused.cuh"

// True for the widths these kernels take (C = 16).
bool tc_fuse_supported(int c);
// The sums pass: 15 doubles per block into partial (at most max_parts
// blocks; *parts says how many ran). False on a launch-configuration error.
// Maps fp32 or fp16 (map_io.cuh).
template <typename M>
bool tc_fuse_sums(cudaStream_t s, const gpu_fuse_weights &f, const M *x, int h, int w, double *partial,
                  int max_parts, int *parts);
// The apply pass: out (C, H, W) from x (3C, H, W) and the fold (fused_fuse_fold_floats).
template <typename M>
bool tc_fuse_apply(cudaStream_t s, const gpu_fuse_weights &f, const M *x, int h, int w, const float *fold, M *out);
