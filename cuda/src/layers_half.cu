// The deep levels in fp16 (see layers_half.cuh).
#include "layers_half.cuh"

#include "apply_mma.cuh"
#include "deep_front.cuh"
#include "dw_pairs.cuh"
#include "kernels.cuh"

namespace {

// y (Cout, N; row stride ldy) = W (Cout, Cin) x (Cin, N; row stride ldx)
// [+ y], x and W in fp16, y in fp16 or fp32 (yt), fp32 accumulation. As in
// gpu_conv1x1: row-major y = W x is column-major y^T = x^T W^T.
cublasStatus_t gemm16(const gpu_ctx &s, const __half *x, size_t ldx, int cin, size_t n, const __half *w, int cout,
                      void *y, cudaDataType yt, size_t ldy, bool accumulate)
{
    const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    return cublasGemmEx(s.blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)n, cout, cin, &one, x, CUDA_R_16F, (int)ldx, w,
                        CUDA_R_16F, cin, &beta, y, yt, (int)ldy, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

template <typename M> constexpr cudaDataType data_type() { return sizeof(M) == 2 ? CUDA_R_16F : CUDA_R_32F; }

} // namespace

bool half_block_supported(int c, int heads)
{
    if (heads < 1 || c % heads) return false;
    const int d = c / heads;
    return d == 8 || d == 16 || d == 32;
}

template <typename M>
cublasStatus_t half_block_run(const gpu_ctx &s, const gpu_block_weights &b, M *x, int h, int w, __half *scr,
                              deep_fronts fronts)
{
    const size_t n = (size_t)h * w, cn = (size_t)b.c * n;
    const int c = b.c, d = c / b.heads;
    // Each map over one that is dead by then: u over ln (read by the GEMM
    // into t), the attention's output o over t (read into u).
    __half *ln = scr, *u = scr, *t = scr + half_block_gated(c, b.hid) * n, *o = t;
    float *z = s.summary + (size_t)b.heads * d * d;
    cublasStatus_t bs;
    if (!b.qkv16 || !b.proj16 || !b.pw_in16 || !b.pw_out16) return CUBLAS_STATUS_INVALID_VALUE; // never uploaded
    const bool fused_front = fronts == DEEP_FUSED, pairs = fronts == DEEP_PAIRS && dw_pairs_supported(h, w);
    // Attention: u = q, phi_k, v~ (3C); S, z from phi_k and v~; o.
    if (fused_front) {
        if (!deep_front_attn(s.stream, b, x, h, w, u)) return CUBLAS_STATUS_EXECUTION_FAILED;
    } else {
        k_layernorm(s.stream, x, c, n, b.norm1_w, b.norm1_b, ln);
        if ((bs = gemm16(s, ln, n, c, n, b.qkv16, 5 * c, t, CUDA_R_16F, n, false))) return bs;
        (pairs ? k_attn_dw_gate_pairs : k_attn_dw_gate)(s.stream, t, c, h, w, b.qkv_dw, u);
    }
    if (!k_saga_summary(s.stream, u + cn, u + 2 * cn, c, b.heads, n, s.partial, s.summary, z))
        return CUBLAS_STATUS_NOT_SUPPORTED; // half_block_supported said otherwise
    if (!(s.apply_mma && mma_saga_apply(s.stream, u, d, b.heads, n, s.summary, z, o)))
        k_saga_apply(s.stream, u, c, b.heads, n, s.summary, z, o);
    if ((bs = gemm16(s, o, n, c, n, b.proj16, c, x, data_type<M>(), n, true))) return bs;
    // FFN: u = the dual gate of the depthwise 2 hid expansion (hid).
    if (fused_front) {
        if (!deep_front_ffn(s.stream, b, x, h, w, u)) return CUBLAS_STATUS_EXECUTION_FAILED;
    } else {
        k_layernorm(s.stream, x, c, n, b.norm2_w, b.norm2_b, ln);
        if ((bs = gemm16(s, ln, n, c, n, b.pw_in16, 2 * b.hid, t, CUDA_R_16F, n, false))) return bs;
        (pairs ? k_ffn_dw_gate_pairs : k_ffn_dw_gate)(s.stream, t, b.hid, h, w, b.dw, u);
    }
    const int hidp = hid_padded(b.hid);
    if (hidp > b.hid &&
        cudaMemsetAsync(u + (size_t)b.hid * n, 0, (size_t)(hidp - b.hid) * n * sizeof(__half), s.stream) != cudaSuccess)
        return CUBLAS_STATUS_EXECUTION_FAILED;
    return gemm16(s, u, n, hidp, n, b.pw_out16, c, x, data_type<M>(), n, true);
}
template cublasStatus_t half_block_run(const gpu_ctx &, const gpu_block_weights &, float *, int, int, __half *, deep_fronts);
template cublasStatus_t half_block_run(const gpu_ctx &, const gpu_block_weights &, __half *, int, int, __half *, deep_fronts);

size_t conv3x3_chunk(int cin, size_t n)
{
    const size_t cap = (size_t)8 << 20, rows = 9 * (size_t)cin;
    size_t chunk = cap / rows / 64 * 64; // whole 64-pixel steps keep every chunk's start aligned
    if (chunk < 64) chunk = 64;
    return chunk < n ? chunk : n;
}

template <typename M>
cublasStatus_t half_conv3x3(const gpu_ctx &s, const M *x, int cin, int h, int w, const __half *wt16, int cout, M *y,
                            __half *scr, conv_resample resample)
{
    const size_t n = (size_t)h * w, chunk = conv3x3_chunk(cin, n);
    __half *col = scr, *out = scr + conv3x3_col_halves(cin, n);
    for (size_t p0 = 0; p0 < n; p0 += chunk) {
        const size_t len = n - p0 < chunk ? n - p0 : chunk;
        k_im2col3x3(s.stream, x, cin, h, w, p0, len, col);
        cublasStatus_t bs = gemm16(s, col, len, 9 * cin, len, wt16, cout, out, CUDA_R_16F, len, false);
        if (bs) return bs;
        if (resample == CONV_SHUFFLE) k_pixel_shuffle_chunk(s.stream, out, cout, len, p0, h, w, y);
        else k_pixel_unshuffle_chunk(s.stream, out, cout, len, p0, h, w, y);
    }
    return CUBLAS_STATUS_SUCCESS;
}
template cublasStatus_t half_conv3x3(const gpu_ctx &, const float *, int, int, int, const __half *, int, float *,
                                     __half *, conv_resample);
template cublasStatus_t half_conv3x3(const gpu_ctx &, const __half *, int, int, int, const __half *, int, __half *,
                                     __half *, conv_resample);

cublasStatus_t half_conv1x1(const gpu_ctx &s, const __half *x, int cin, size_t n, const __half *wt16, int cout,
                            __half *y)
{
    return gemm16(s, x, n, cin, n, wt16, cout, y, CUDA_R_16F, n, false);
}
