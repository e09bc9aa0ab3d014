// The block and the Fuse layer one kernel per layer (see layers_unfused.cuh).
#include "layers_unfused.cuh"

#include "kernels.cuh"

// y (Cout, N) = W (Cout, Cin) x (Cin, N) [+ bias] [+ y]. Row-major y = W x is
// column-major y^T = x^T W^T: cuBLAS's (N x Cout) = (N x Cin)(Cin x Cout).
cublasStatus_t gpu_conv1x1(const gpu_ctx &s, const float *x, int cin, size_t n, const float *w, const float *bias,
                           int cout, float *y, int accumulate)
{
    float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    if (bias) {
        k_bias_init(s.stream, y, cout, n, bias, accumulate);
        beta = 1.0f;
    }
    return cublasGemmEx(s.blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)n, cout, cin, &one, x, CUDA_R_32F, (int)n, w, CUDA_R_32F,
                        cin, &beta, y, CUDA_R_32F, (int)n, s.math, CUBLAS_GEMM_DEFAULT);
}

// x (C, H, W) <- Block(x) in place; scr holds unfused_block_scratch floats.
cublasStatus_t unfused_block_run(const gpu_ctx &s, const gpu_block_weights &bw, float *x, int h, int w, float *scr)
{
    const gpu_block_weights *b = &bw;
    size_t wide = unfused_wide(b->c, b->hid);
    size_t n = (size_t)h * w, cn = (size_t)b->c * n;
    int c = b->c, d = c / b->heads;
    float *ln = scr, *t = scr + cn, *t2 = t + wide * n;
    cublasStatus_t bs;
    k_layernorm(s.stream, x, c, n, b->norm1_w, b->norm1_b, ln);
    if ((bs = gpu_conv1x1(s, ln, c, n, b->qkv, nullptr, 5 * c, t, 0))) return bs;
    k_dwconv3x3(s.stream, t, 5 * c, h, w, b->qkv_dw, nullptr, t2);
    k_saga_gate(s.stream, t2, c, n);
    const float *k = t2 + cn, *v = t2 + 2 * cn;
    float *z = s.summary + (size_t)b->heads * d * d;
    if (!k_saga_summary(s.stream, k, v, c, b->heads, n, s.partial, s.summary, z)) {
        // Other head widths: S_h = (1/N) phi_k_h v_h^T by cuBLAS (column-major S^T = V K^T), z by row sums.
        float inv_n = 1.0f / (float)n, zero = 0.0f;
        bs = cublasSgemmStridedBatched(s.blas, CUBLAS_OP_T, CUBLAS_OP_N, d, d, (int)n, &inv_n, v, (int)n,
                                       (long long)d * n, k, (int)n, (long long)d * n, &zero, s.summary, d,
                                       (long long)d * d, b->heads);
        if (bs) return bs;
        k_row_sums(s.stream, k, c, n, inv_n, z);
    }
    k_saga_apply(s.stream, t2, c, b->heads, n, s.summary, z, t);
    if ((bs = gpu_conv1x1(s, t, c, n, b->proj, nullptr, c, x, 1))) return bs;

    k_layernorm(s.stream, x, c, n, b->norm2_w, b->norm2_b, ln);
    if ((bs = gpu_conv1x1(s, ln, c, n, b->pw_in, nullptr, 2 * b->hid, t, 0))) return bs;
    k_dwconv3x3(s.stream, t, 2 * b->hid, h, w, b->dw, nullptr, t2);
    k_dual_gate(s.stream, t2, b->hid, n);
    return gpu_conv1x1(s, t2, b->hid, n, b->pw_out, nullptr, c, x, 1);
}

cublasStatus_t unfused_fuse_run(const gpu_ctx &s, const gpu_fuse_weights &fw, const float *x, int h, int w, float *out,
                                float *scr)
{
    const gpu_fuse_weights *fu = &fw;
    int c = fu->c;
    size_t n = (size_t)h * w, cn = (size_t)c * n;
    float *t = scr, *t2 = scr + 9 * cn;
    cublasStatus_t bs;
    if ((bs = gpu_conv1x1(s, x, 3 * c, n, fu->qkv_w, fu->qkv_b, 9 * c, t, 0))) return bs;
    k_dwconv3x3(s.stream, t, 9 * c, h, w, fu->dw_w, fu->dw_b, t2);
    k_fuse_sums(s.stream, t2, c, n, s.fuse_partial, K_FUSE_BLOCKS, s.fuse_sums);
    k_fuse_apply(s.stream, t2, c, n, fu->tau, s.fuse_sums, t2); // o -> q slot
    float *p = t2 + 3 * cn;                                                                        // the k slot
    cudaMemcpyAsync(p, x, 3 * cn * sizeof(float), cudaMemcpyDeviceToDevice, s.stream);
    if ((bs = gpu_conv1x1(s, t2, 3 * c, n, fu->proj_w, fu->proj_b, 3 * c, p, 1))) return bs;
    return gpu_conv1x1(s, p, 3 * c, n, fu->out_w, nullptr, c, out, 0);
}

