// The fused block kernels (see block_fused.cuh). One thread per pixel of a
// 16x16 tile; the 18x18 halo the depthwise 3x3 needs is recomputed by each
// tile (27% more 1x1 work, none of the 5C / 2hid maps in memory). Each thread
// keeps the LayerNorm of its one or two halo positions in registers and reads
// the 1x1 weights from shared memory (loaded once per block, the blocks loop
// over tiles), so a multiply-add costs a quarter of a shared-memory load.
#include "block_fused.cuh"
#include "block_igemm.cuh"
#include "block_tc.cuh"
#include "kernels.cuh"
#include "tile_common.cuh"

namespace {

using namespace tile;

constexpr int CB = 2;  // channels of k, gk, v, gv (or q) per round
constexpr int HB = 4;  // hidden pairs per round of the FFN
constexpr int PAD = 1; // per-pixel rows padded by one float: no bank conflicts

// ---------------------------------------------------------------- summary

// Shared memory of the summary kernel, in floats: the k, gk, v, gv rows of the
// 1x1 weight (4C x C, grouped by channel) and of the depthwise (4C x 9), one
// round of halo maps, and phi_k and v~ of the tile's pixels.
template <int C> constexpr int summary_floats() { return 4 * C * C + 4 * C * 9 + 4 * CB * HN + 2 * C * (NT + PAD); }

template <int C, typename M>
__global__ void __launch_bounds__(NT) summary_kernel(const M *x, int h, int w, gpu_block_weights b,
                                                     float *partial)
{
    extern __shared__ float sm[];
    float *W = sm, *DW = W + 4 * C * C, *t = DW + 4 * C * 9, *phik = t + 4 * CB * HN, *vt = phik + C * (NT + PAD);
    const int groups[4] = {1, 3, 2, 4}; // k, gk, v, gv: slots of the 5C rows
    for (int i = threadIdx.x; i < 4 * C; i += NT) {
        int c = i / 4, row = groups[i % 4] * C + c;
        for (int k = 0; k < C; k++) W[i * C + k] = b.qkv[(size_t)row * C + k];
        for (int k = 0; k < 9; k++) DW[i * 9 + k] = b.qkv_dw[(size_t)row * 9 + k];
    }
    const size_t n = (size_t)h * w;
    const int d = C / b.heads, entries = b.heads * d * d;
    constexpr int PER = (C * C + NT - 1) / NT; // entries per thread: at most C*d <= C*C
    float acc[PER], zacc = 0.0f;
#pragma unroll
    for (int r = 0; r < PER; r++) acc[r] = 0.0f;
    const int tiles = tiles_of(h, w);
    const int ty = pixel_y(), tx = pixel_x(), p0 = threadIdx.x, p1 = threadIdx.x + NT;
    __syncthreads();
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        int x0, y0;
        tile_origin(tile, w, &x0, &y0);
        bool inside = y0 + ty < h && x0 + tx < w;
        float v0[C], v1[C];
        ln_at<C>(x, n, h, w, x0, y0, p0, b.norm1_w, b.norm1_b, v0);
        ln_at<C>(x, n, h, w, x0, y0, p1, b.norm1_w, b.norm1_b, v1);
#pragma unroll
        for (int c0 = 0; c0 < C; c0 += CB) {
#pragma unroll
            for (int r = 0; r < 4 * CB; r++) {
                const float *wr = W + (4 * c0 + r) * C;
                t[r * HN + p0] = dot<C>(wr, v0);
                if (p1 < HN) t[r * HN + p1] = dot<C>(wr, v1);
            }
            __syncthreads();
#pragma unroll
            for (int j = 0; j < CB; j++) {
                const int r = 4 * j, row = 4 * (c0 + j);
                float k = dw_at(t + (r + 0) * HN, DW + (row + 0) * 9), gk = dw_at(t + (r + 1) * HN, DW + (row + 1) * 9);
                float v = dw_at(t + (r + 2) * HN, DW + (row + 2) * 9), gv = dw_at(t + (r + 3) * HN, DW + (row + 3) * 9);
                phik[(c0 + j) * (NT + PAD) + threadIdx.x] = inside ? fmaxf(k, 0.0f) * sigmoidf_(gk) : 0.0f;
                vt[(c0 + j) * (NT + PAD) + threadIdx.x] = inside ? v * sigmoidf_(gv) : 0.0f;
            }
            __syncthreads();
        }
#pragma unroll
        for (int r = 0; r < PER; r++) {
            int e = threadIdx.x + r * NT;
            if (e < entries) {
                int head = e / (d * d), i = head * d + (e % (d * d)) / d, j = head * d + e % d;
                const float *pi = phik + i * (NT + PAD), *pj = vt + j * (NT + PAD);
                float a = acc[r];
                for (int p = 0; p < NT; p++) a += pi[p] * pj[p];
                acc[r] = a;
            }
        }
        if (threadIdx.x < C) {
            const float *pi = phik + threadIdx.x * (NT + PAD);
            for (int p = 0; p < NT; p++) zacc += pi[p];
        }
        __syncthreads();
    }
    const int per = d * d + d;
#pragma unroll
    for (int r = 0; r < PER; r++) {
        int e = threadIdx.x + r * NT;
        if (e < entries) partial[((size_t)blockIdx.x * b.heads + e / (d * d)) * per + e % (d * d)] = acc[r];
    }
    if (threadIdx.x < C)
        partial[((size_t)blockIdx.x * b.heads + threadIdx.x / d) * per + d * d + threadIdx.x % d] = zacc;
}

// ------------------------------------------------------------------ apply

// q rows of the 1x1 and the depthwise, the projection, S and z spread over
// C x C (zero across heads, so every loop below has compile-time bounds), and
// one round of halo maps.
template <int C> constexpr int apply_floats() { return C * C + C * 9 + C * C + 2 * C * C + CB * HN; }

// y = x + proj(o), o_n = phi_q_n^T S / (phi_q_n^T z + 1e-6) per head.
template <int C, typename M>
__global__ void __launch_bounds__(NT) apply_kernel(const M *x, int h, int w, gpu_block_weights b,
                                                   const float *S, const float *z, M *y)
{
    extern __shared__ float sm[];
    float *WQ = sm, *DQ = WQ + C * C, *WP = DQ + C * 9, *SF = WP + C * C, *ZF = SF + C * C, *t = ZF + C * C;
    const int d = C / b.heads;
    copy_to_smem(WQ, b.qkv, C * C); // q: the first C rows
    copy_to_smem(DQ, b.qkv_dw, C * 9);
    copy_to_smem(WP, b.proj, C * C);
    for (int e = threadIdx.x; e < C * C; e += NT) {
        int i = e / C, j = e % C, same = i / d == j / d;
        SF[e] = same ? S[(size_t)(i / d) * d * d + (i % d) * d + j % d] : 0.0f;
        ZF[e] = same ? z[i] : 0.0f;
    }
    const size_t n = (size_t)h * w;
    const int tiles = tiles_of(h, w);
    const int ty = pixel_y(), tx = pixel_x(), p0 = threadIdx.x, p1 = threadIdx.x + NT;
    __syncthreads();
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        int x0, y0;
        tile_origin(tile, w, &x0, &y0);
        float v0[C], v1[C], q[C];
        ln_at<C>(x, n, h, w, x0, y0, p0, b.norm1_w, b.norm1_b, v0);
        ln_at<C>(x, n, h, w, x0, y0, p1, b.norm1_w, b.norm1_b, v1);
#pragma unroll
        for (int c0 = 0; c0 < C; c0 += CB) {
#pragma unroll
            for (int r = 0; r < CB; r++) {
                t[r * HN + p0] = dot<C>(WQ + (c0 + r) * C, v0);
                if (p1 < HN) t[r * HN + p1] = dot<C>(WQ + (c0 + r) * C, v1);
            }
            __syncthreads();
#pragma unroll
            for (int r = 0; r < CB; r++) q[c0 + r] = fmaxf(dw_at(t + r * HN, DQ + (c0 + r) * 9), 0.0f);
            __syncthreads();
        }
        const int py = y0 + ty, px = x0 + tx;
        if (py >= h || px >= w) continue;
        float o[C];
#pragma unroll
        for (int j = 0; j < C; j++) {
            float num = 0.0f, den = 1e-6f;
#pragma unroll
            for (int i = 0; i < C; i++) {
                num += q[i] * SF[i * C + j];
                den += q[i] * ZF[i * C + j];
            }
            o[j] = num / den;
        }
        const size_t at = (size_t)py * w + px;
#pragma unroll
        for (int c = 0; c < C; c++) store(&y[(size_t)c * n + at], load(&x[(size_t)c * n + at]) + dot<C>(WP + c * C, o));
    }
}

// -------------------------------------------------------------------- FFN

// pw_in rows interleaved (t1_i, t2_i), their depthwise rows the same way,
// pw_out transposed (hid x C), one round of halo maps.
__host__ __device__ constexpr int ffn_floats(int c, int hid) { return 2 * hid * c + 2 * hid * 9 + hid * c + 2 * HB * HN; }

// y = x + pw_out(gelu(t2) t1 + gelu(t1) t2), t = dw(pw_in(LN2(x))).
template <int C, typename M>
__global__ void __launch_bounds__(NT) ffn_kernel(const M *x, int h, int w, gpu_block_weights b, M *y)
{
    extern __shared__ float sm[];
    const int hid = b.hid;
    float *WI = sm, *DI = WI + 2 * hid * C, *WO = DI + 2 * hid * 9, *t = WO + hid * C;
    for (int i = threadIdx.x; i < 2 * hid; i += NT) {
        int row = (i % 2) * hid + i / 2;
        for (int k = 0; k < C; k++) WI[i * C + k] = b.pw_in[(size_t)row * C + k];
        for (int k = 0; k < 9; k++) DI[i * 9 + k] = b.dw[(size_t)row * 9 + k];
    }
    for (int e = threadIdx.x; e < hid * C; e += NT) WO[e] = b.pw_out[(size_t)(e % C) * hid + e / C];
    const size_t n = (size_t)h * w;
    const int tiles = tiles_of(h, w);
    const int ty = pixel_y(), tx = pixel_x(), p0 = threadIdx.x, p1 = threadIdx.x + NT;
    __syncthreads();
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        int x0, y0;
        tile_origin(tile, w, &x0, &y0);
        float v0[C], v1[C], acc[C];
        ln_at<C>(x, n, h, w, x0, y0, p0, b.norm2_w, b.norm2_b, v0);
        ln_at<C>(x, n, h, w, x0, y0, p1, b.norm2_w, b.norm2_b, v1);
#pragma unroll
        for (int c = 0; c < C; c++) acc[c] = 0.0f;
        for (int i0 = 0; i0 < hid; i0 += HB) {
            const int pairs = hid - i0 < HB ? hid - i0 : HB;
            for (int r = 0; r < 2 * pairs; r++) {
                const float *wr = WI + (2 * i0 + r) * C;
                t[r * HN + p0] = dot<C>(wr, v0);
                if (p1 < HN) t[r * HN + p1] = dot<C>(wr, v1);
            }
            __syncthreads();
            for (int j = 0; j < pairs; j++) {
                const int row = 2 * (i0 + j);
                float t1 = dw_at(t + 2 * j * HN, DI + row * 9), t2 = dw_at(t + (2 * j + 1) * HN, DI + (row + 1) * 9);
                float u = gelu_(t2) * t1 + gelu_(t1) * t2;
                const float *wo = WO + (i0 + j) * C;
#pragma unroll
                for (int c = 0; c < C; c++) acc[c] += wo[c] * u;
            }
            __syncthreads();
        }
        const int py = y0 + ty, px = x0 + tx;
        if (py >= h || px >= w) continue;
        const size_t at = (size_t)py * w + px;
#pragma unroll
        for (int c = 0; c < C; c++) store(&y[(size_t)c * n + at], load(&x[(size_t)c * n + at]) + acc[c]);
    }
}

template <int C, typename M>
bool run(cudaStream_t s, const gpu_block_weights &b, M *x, int h, int w, M *tmp, float *partial, float *S, float *z,
         fused_kernels kernels)
{
    const int d = C / b.heads, tiles = tiles_of(h, w);
    if (kernels != FUSED_FP32 && kernels != FUSED_TC && ig_block_supported(C, b.heads, b.hid)) {
        const bool two = kernels != FUSED_IGEMM, three = kernels == FUSED_IGEMM2O;
        int parts = 0;
        if (!ig_block_summary(s, b, x, h, w, partial, K_SUMMARY_BLOCKS / b.heads, &parts, two)) return false;
        k_saga_reduce(s, partial, parts, b.heads, d, 1.0f / (float)((size_t)h * w), S, z);
        return ig_block_apply(s, b, x, h, w, S, z, tmp) && ig_block_ffn(s, b, tmp, h, w, x, two, three);
    }
    const bool tc = kernels != FUSED_FP32 && tc_block_supported(C, b.heads, b.hid);
    size_t sm_sum = summary_floats<C>() * sizeof(float), sm_apply = apply_floats<C>() * sizeof(float),
           sm_ffn = (size_t)ffn_floats(C, b.hid) * sizeof(float);
    // Opt in to more than 48 KB of shared memory (per device, so every time: a cheap call).
    if (cudaFuncSetAttribute(summary_kernel<C, M>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm_sum) ||
        cudaFuncSetAttribute(apply_kernel<C, M>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm_apply) ||
        cudaFuncSetAttribute(ffn_kernel<C, M>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm_ffn))
        return false;
    int parts = 0;
    if (tc) {
        if (!tc_block_summary(s, b, x, h, w, partial, K_SUMMARY_BLOCKS / b.heads, &parts)) return false;
    } else {
        parts = grid_for(summary_kernel<C, M>, sm_sum, tiles);
        if (parts > K_SUMMARY_BLOCKS / b.heads) parts = K_SUMMARY_BLOCKS / b.heads; // the partial buffer's size
        summary_kernel<C, M><<<parts, NT, sm_sum, s>>>(x, h, w, b, partial);
    }
    k_saga_reduce(s, partial, parts, b.heads, d, 1.0f / (float)((size_t)h * w), S, z);
    apply_kernel<C, M><<<grid_for(apply_kernel<C, M>, sm_apply, tiles), NT, sm_apply, s>>>(x, h, w, b, S, z, tmp);
    if (tc) return tc_block_ffn(s, b, tmp, h, w, x);
    ffn_kernel<C, M><<<grid_for(ffn_kernel<C, M>, sm_ffn, tiles), NT, sm_ffn, s>>>(tmp, h, w, b, x);
    return true;
}

} // namespace

bool fused_block_supported(int c, int heads, int hid)
{
    // Shared memory of the FFN grows with hid: beyond ~150 KB one block per SM
    // would hold too little work; such (unusual) widths run unfused.
    return (c == 16 || c == 32) && heads >= 1 && c % heads == 0 && ffn_floats(c, hid) * 4 <= 150 * 1024;
}

template <typename M>
bool fused_block_run(cudaStream_t s, const gpu_block_weights &b, M *x, int h, int w, M *tmp, float *partial, float *S,
                     float *z, fused_kernels kernels)
{
    switch (b.c) {
    case 16: return run<16>(s, b, x, h, w, tmp, partial, S, z, kernels);
    case 32: return run<32>(s, b, x, h, w, tmp, partial, S, z, kernels);
    default: return false;
    }
}
template bool fused_block_run(cudaStream_t, const gpu_block_weights &, float *, int, int, float *, float *, float *,
                              float *, fused_kernels);
template bool fused_block_run(cudaStream_t, const gpu_block_weights &, __half *, int, int, __half *, float *, float *,
                              float *, fused_kernels);
