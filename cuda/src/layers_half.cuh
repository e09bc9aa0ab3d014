// The deep levels (C >= 64: few pixels, many channels) in the fp16
// precision. There the fused tile kernels do not fit (a tile's 5C x 18 x 18
// halo outgrows shared memory) and the work is dense 1x1s: cuBLAS GEMMs on
// fp16 data (tensor cores, fp32 accumulation), a block's 5C and 2 hid
// intermediates stored as fp16 (half the traffic), the depthwise 3x3 fused
// with the gates that follow it, the residual stream x in the maps' storage
// (fp16 in the fp16 precision, fp32 for the workbench's checks) and every
// sum (LayerNorm, S, z) in fp32. The 3x3 convolutions of Down and Up become
// GEMMs on fp16 im2col chunks. All pointers are device memory.
#pragma once
#include <cstddef>
#include <cublas_v2.h>
#include <cuda_fp16.h>

#include "layers_unfused.cuh"

// True when half_block_run takes this shape (head width 8, 16 or 32: the
// split-N summary kernel's widths).
bool half_block_supported(int c, int heads);
// The FFN's hidden width rounded up to a multiple of 8: the K of the FFN's
// output 1x1 and its fp16 weights' row stride. cuBLAS takes its tensor-core
// kernels with 16-byte vector loads only where K and the leading dimensions
// are multiples of 8 halves; LLFormer's hid (2.66 C: 170, 340, 681) is not.
// The gated map's rows hid.. are zeroed before that GEMM (0 x a stale Inf
// would be NaN), the weights' pad columns are zeros.
inline int hid_padded(int hid) { return (hid + 7) / 8 * 8; }
// Scratch, in halves: the gated maps (3C or hid_padded rows; the LayerNorm's
// output before them), then the 5C / 2 hid expansion (the attention's output after it).
inline size_t half_block_gated(int c, int hid)
{
    const int rows = hid_padded(hid);
    return (size_t)(3 * c > rows ? 3 * c : rows);
}
inline size_t half_block_scratch(int c, int hid, size_t n) { return (half_block_gated(c, hid) + unfused_wide(c, hid)) * n; }

// How a deep block runs each branch's front (LayerNorm, 1x1, depthwise 3x3, gates).
enum deep_fronts {
    DEEP_SCALAR, // k_layernorm, a cuBLAS GEMM, the depthwise + gates a column of pixels a thread (kernels.cuh)
    DEEP_PAIRS,  // the same with the depthwise + gates two pixels a thread on half2 loads (dw_pairs.cuh) where the width is even
    DEEP_FUSED,  // all four in one kernel (deep_front.cuh; where deep_front_supported says so)
};

// x (C, H, W) <- Block(x) in place; b's fp16 1x1 weights set; scr holds
// half_block_scratch halves; s.summary and s.partial as for the fp32 block.
template <typename M>
cublasStatus_t half_block_run(const gpu_ctx &s, const gpu_block_weights &b, M *x, int h, int w, __half *scr,
                              deep_fronts fronts = DEEP_SCALAR);

// Pixels per im2col chunk: the col buffer holds 9 Cin x chunk halves, at
// most 8 Mi halves (16 MiB), so the 3x3 at full resolution needs no 9 Cin x N map.
size_t conv3x3_chunk(int cin, size_t n);
// What the conv's output goes through: Down's pixel unshuffle, Up's pixel shuffle.
enum conv_resample { CONV_UNSHUFFLE, CONV_SHUFFLE };
// Halves of one im2col chunk, rounded to 64 so what follows it starts aligned.
inline size_t conv3x3_col_halves(int cin, size_t n) { return ((size_t)9 * cin * conv3x3_chunk(cin, n) + 63) / 64 * 64; }
// Scratch of half_conv3x3, in halves: the im2col chunk and the chunk's output,
// so no Cout x N map of the conv's output is ever whole.
inline size_t conv3x3_scratch_halves(int cin, int cout, size_t n)
{
    return conv3x3_col_halves(cin, n) + (size_t)cout * conv3x3_chunk(cin, n);
}
// y = resample(the 3x3 convolution (zero padding, no bias) of x (Cin, H, W)
// with wt16 (Cout, Cin, 3, 3) in fp16), chunk by chunk of pixels; scr holds
// conv3x3_scratch_halves halves. x and y both fp32 or both fp16.
template <typename M>
cublasStatus_t half_conv3x3(const gpu_ctx &s, const M *x, int cin, int h, int w, const __half *wt16, int cout, M *y,
                            __half *scr, conv_resample resample);
// y (Cout, N) = W (Cout, Cin) x (Cin, N), all fp16 (fp32 accumulation): the
// Skip layers' 1x1 on fp16 maps.
cublasStatus_t half_conv1x1(const gpu_ctx &s, const __half *x, int cin, size_t n, const __half *wt16, int cout,
                            __half *y);
