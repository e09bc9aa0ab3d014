// A transformer block at the wide levels (C = 16 or 32 channels, the full and
// half resolutions, where the maps are large) in three fused kernels, fp32,
// so no 5C or 2hid intermediate ever reaches device memory:
//   summary: LN1 + 1x1 (k, v, gk, gv) + depthwise + gates on a 16x16 tile
//            with its halo, feeding the per-head S and z sums (split over N,
//            reduced in a fixed order);
//   apply:   LN1 + 1x1 (q) + depthwise + relu, o = phi_q S / (phi_q z + eps),
//            the output projection and the residual, into y;
//   ffn:     LN2 + 1x1 + depthwise + dual gate + 1x1 + residual, y into x.
// The unfused kernels (kernels.cu) stay the reference and serve other widths.
#pragma once
#include <cstddef>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "layers_unfused.cuh"


// True when the fused kernels handle this block's shape.
bool fused_block_supported(int c, int heads, int hid);

// Which kernels run the block. A choice a shape does not take falls back to
// the one before it.
enum fused_kernels {
    FUSED_FP32,   // all fp32 (this file's)
    FUSED_TC,     // the summary and FFN with their 1x1s on WMMA (block_tc.cuh)
    FUSED_IGEMM,  // all three passes as implicit GEMMs on mma.sync, one row a warp (block_igemm.cuh)
    FUSED_IGEMM2, // those with the summary and FFN two rows a warp (one weight operand load for two m16 tiles)
    FUSED_IGEMM2O // FUSED_IGEMM2 with the C=16 FFN built for three blocks an SM (80 registers): the default
};

// x (C, H, W) <- Block(x), maps fp32 or fp16 (map_io.cuh). tmp: C*N map
// values; partial: K_SUMMARY_BLOCKS * (32*32 + 32)
// floats; S, z: heads*d*d and C floats. Returns false on a
// launch-configuration error.
template <typename M>
bool fused_block_run(cudaStream_t s, const gpu_block_weights &b, M *x, int h, int w, M *tmp, float *partial, float *S,
                     float *z, fused_kernels kernels);
