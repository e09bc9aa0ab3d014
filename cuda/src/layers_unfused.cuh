// The block and the Fuse layer one kernel per layer (kernels.cu), 1x1
// convolutions through cuBLAS: the GPU's plain reference, the path for the
// widths the fused kernels do not take, and the workbench's baseline. All
// pointers are device memory.
#pragma once
#include <cstddef>
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

struct gpu_ctx {
    cudaStream_t stream;
    cublasHandle_t blas;
    float *summary;      // S (heads * d * d) then z, for the widest level
    float *partial;      // K_SUMMARY_BLOCKS * (32*32 + 32) floats
    float *fuse_partial; // K_FUSE_BLOCKS * 15 doubles
    float *fuse_sums;    // 15 doubles
    // The 1x1 GEMMs' arithmetic: CUBLAS_COMPUTE_32F (exact fp32: the fp32
    // precision) or tensor cores on fp32 data (_FAST_TF32: the fp16
    // precision; SAGALUX_CUDA_MATH=fp32|tf32|fp16 overrides, to measure).
    cublasComputeType_t math = CUBLAS_COMPUTE_32F;
    // The deep blocks' apply on tensor cores (apply_mma.cuh; SAGALUX_CUDA_APPLY=mma, opt-in).
    bool apply_mma = false;
};

struct gpu_block_weights {
    const float *norm1_w, *norm1_b, *qkv, *qkv_dw, *proj, *norm2_w, *norm2_b, *pw_in, *dw, *pw_out;
    int c, heads, hid;
    // fp16 copies of the four 1x1 weights (layers_half.cuh), where the fp16
    // precision uploaded them; pw_out16's rows hid_padded(hid) halves apart,
    // zeros past hid.
    const __half *qkv16 = nullptr, *proj16 = nullptr, *pw_in16 = nullptr, *pw_out16 = nullptr;
};

struct gpu_fuse_weights {
    const float *qkv_w, *qkv_b, *dw_w, *dw_b;
    float tau;
    const float *proj_w, *proj_b, *out_w;
    int c;
};

// y (Cout, N) = W (Cout, Cin) x (Cin, N) [+ bias] [+ y when accumulate].
cublasStatus_t gpu_conv1x1(const gpu_ctx &s, const float *x, int cin, size_t n, const float *w, const float *bias,
                           int cout, float *y, int accumulate);

// The wider of a block's two expansions: 5C (attention) or 2 hid (FFN).
inline size_t unfused_wide(int c, int hid) { return 5 * (size_t)c > 2 * (size_t)hid ? 5 * (size_t)c : 2 * (size_t)hid; }
// Scratch floats: LN out, a layer's output, its depthwise output.
inline size_t unfused_block_scratch(int c, int hid, size_t n) { return ((size_t)c + 2 * unfused_wide(c, hid)) * n; }
inline size_t unfused_fuse_scratch(int c, size_t n) { return 18 * (size_t)c * n; }

// x (C, H, W) <- Block(x) in place.
cublasStatus_t unfused_block_run(const gpu_ctx &s, const gpu_block_weights &b, float *x, int h, int w, float *scr);
// out (C, H, W) = Fuse(x (3C, H, W)).
cublasStatus_t unfused_fuse_run(const gpu_ctx &s, const gpu_fuse_weights &f, const float *x, int h, int w, float *out,
                                float *scr);
