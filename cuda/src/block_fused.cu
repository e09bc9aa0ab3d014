// The fused block kernels (see block_fused.cuh). One thread per pixel of a
// 16x16 tile; the 18x18 halo the depthwise 3x3 needs is recomputed by each
// tile (27% more 1x1 work, none of the 5C / 2hid maps in memory).
#include "block_fused.cuh"
#include "kernels.cuh"

namespace {

constexpr int T = 16, HALO = T + 2, HN = HALO * HALO, NT = T * T;
constexpr int CB = 2; // channels of k, v, gk, gv (or q) per round
constexpr int HB = 4; // hidden pairs per round of the FFN

__device__ float sigmoidf_(float v) { return 1.0f / (1.0f + expf(-v)); }
__device__ float gelu_(float v) { return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); }

// ln[c][pos] = LayerNorm(x) at the 18x18 halo positions of the tile; 0 outside
// the image, so the 1x1 outputs there are 0: the depthwise conv's zero padding.
template <int C>
__device__ void load_ln_halo(const float *x, size_t n, int h, int w, int x0, int y0, const float *g, const float *b,
                             float (*ln)[HN])
{
    for (int pos = threadIdx.x; pos < HN; pos += NT) {
        int gy = y0 + pos / HALO - 1, gx = x0 + pos % HALO - 1;
        if (gy < 0 || gy >= h || gx < 0 || gx >= w) {
#pragma unroll
            for (int c = 0; c < C; c++) ln[c][pos] = 0.0f;
            continue;
        }
        const float *p = x + (size_t)gy * w + gx;
        float v[C], mean = 0.0f, var = 0.0f;
#pragma unroll
        for (int c = 0; c < C; c++) {
            v[c] = p[(size_t)c * n];
            mean += v[c];
        }
        mean /= (float)C;
#pragma unroll
        for (int c = 0; c < C; c++) var += (v[c] - mean) * (v[c] - mean);
        float rstd = rsqrtf(var / (float)C + 1e-5f);
#pragma unroll
        for (int c = 0; c < C; c++) ln[c][pos] = (v[c] - mean) * rstd * g[c] + b[c];
    }
}

// out[r][pos] = sum_k W[row_r][k] ln[k][pos] for R rows at the halo positions.
template <int C, int R>
__device__ void pointwise_halo(const float (*ln)[HN], const float *W, const int *rows, float (*out)[HN])
{
    for (int i = threadIdx.x; i < R * HN; i += NT) {
        int r = i / HN, pos = i % HN;
        const float *wr = W + (size_t)rows[r] * C;
        float acc = 0.0f;
#pragma unroll
        for (int k = 0; k < C; k++) acc += wr[k] * ln[k][pos];
        out[r][pos] = acc;
    }
}

// The depthwise 3x3 of one halo map at this thread's pixel.
__device__ float dw_at(const float *m, const float *k9)
{
    int ty = threadIdx.x / T, tx = threadIdx.x % T;
    float acc = 0.0f;
#pragma unroll
    for (int dy = 0; dy < 3; dy++)
#pragma unroll
        for (int dx = 0; dx < 3; dx++) acc += k9[dy * 3 + dx] * m[(ty + dy) * HALO + tx + dx];
    return acc;
}

template <int C> struct summary_smem {
    float ln[C][HN];
    float t[4 * CB][HN];
    float phik[C][NT], vt[C][NT];
};

// Grid-stride over tiles; each block keeps its share of S and z in registers
// and writes it to partial[block][head] (the layout saga_reduce_kernel reads).
template <int C>
__global__ void __launch_bounds__(NT) summary_kernel(const float *x, int h, int w, fused_block_weights b,
                                                     float *partial)
{
    extern __shared__ float smem_raw[];
    summary_smem<C> &sm = *reinterpret_cast<summary_smem<C> *>(smem_raw);
    const size_t n = (size_t)h * w;
    const int d = C / b.heads, entries = b.heads * d * d;
    constexpr int PER = (C * C + NT - 1) / NT; // entries per thread, at most C*d <= C*C
    float acc[PER], zacc = 0.0f;
#pragma unroll
    for (int r = 0; r < PER; r++) acc[r] = 0.0f;
    const int tiles_x = (w + T - 1) / T, tiles = tiles_x * ((h + T - 1) / T);
    const int ty = threadIdx.x / T, tx = threadIdx.x % T;
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        int x0 = (tile % tiles_x) * T, y0 = (tile / tiles_x) * T;
        bool inside = y0 + ty < h && x0 + tx < w;
        load_ln_halo<C>(x, n, h, w, x0, y0, b.norm1_w, b.norm1_b, sm.ln);
        __syncthreads();
        for (int c0 = 0; c0 < C; c0 += CB) {
            int rows[4 * CB];
#pragma unroll
            for (int j = 0; j < CB; j++) {
                rows[4 * j + 0] = C + c0 + j;     // k
                rows[4 * j + 1] = 3 * C + c0 + j; // gk
                rows[4 * j + 2] = 2 * C + c0 + j; // v
                rows[4 * j + 3] = 4 * C + c0 + j; // gv
            }
            pointwise_halo<C, 4 * CB>(sm.ln, b.qkv, rows, sm.t);
            __syncthreads();
#pragma unroll
            for (int j = 0; j < CB; j++) {
                float k = dw_at(sm.t[4 * j + 0], b.qkv_dw + (size_t)rows[4 * j + 0] * 9);
                float gk = dw_at(sm.t[4 * j + 1], b.qkv_dw + (size_t)rows[4 * j + 1] * 9);
                float v = dw_at(sm.t[4 * j + 2], b.qkv_dw + (size_t)rows[4 * j + 2] * 9);
                float gv = dw_at(sm.t[4 * j + 3], b.qkv_dw + (size_t)rows[4 * j + 3] * 9);
                sm.phik[c0 + j][threadIdx.x] = inside ? fmaxf(k, 0.0f) * sigmoidf_(gk) : 0.0f;
                sm.vt[c0 + j][threadIdx.x] = inside ? v * sigmoidf_(gv) : 0.0f;
            }
            __syncthreads();
        }
#pragma unroll
        for (int r = 0; r < PER; r++) {
            int e = threadIdx.x + r * NT;
            if (e < entries) {
                int head = e / (d * d), i = head * d + (e % (d * d)) / d, j = head * d + e % d;
                float a = acc[r];
                for (int p = 0; p < NT; p++) a += sm.phik[i][p] * sm.vt[j][p];
                acc[r] = a;
            }
        }
        if (threadIdx.x < C)
            for (int p = 0; p < NT; p++) zacc += sm.phik[threadIdx.x][p];
        __syncthreads();
    }
    const int per = d * d + d;
#pragma unroll
    for (int r = 0; r < PER; r++) {
        int e = threadIdx.x + r * NT;
        if (e < entries) {
            int head = e / (d * d);
            partial[((size_t)blockIdx.x * b.heads + head) * per + e % (d * d)] = acc[r];
        }
    }
    if (threadIdx.x < C) {
        int head = threadIdx.x / d;
        partial[((size_t)blockIdx.x * b.heads + head) * per + d * d + threadIdx.x % d] = zacc;
    }
}

template <int C> struct apply_smem {
    float ln[C][HN];
    float t[CB][HN];
    float q[C][NT];
    float S[C * C], z[C];
};

// y = x + proj(o), o_n = phi_q_n^T S / (phi_q_n^T z + 1e-6) per head.
template <int C>
__global__ void __launch_bounds__(NT) apply_kernel(const float *x, int h, int w, fused_block_weights b,
                                                   const float *S, const float *z, float *y)
{
    extern __shared__ float smem_raw[];
    apply_smem<C> &sm = *reinterpret_cast<apply_smem<C> *>(smem_raw);
    const size_t n = (size_t)h * w;
    const int d = C / b.heads;
    for (int i = threadIdx.x; i < b.heads * d * d; i += NT) sm.S[i] = S[i];
    for (int i = threadIdx.x; i < C; i += NT) sm.z[i] = z[i];
    const int tiles_x = (w + T - 1) / T;
    const int x0 = (blockIdx.x % tiles_x) * T, y0 = (blockIdx.x / tiles_x) * T;
    const int ty = threadIdx.x / T, tx = threadIdx.x % T;
    load_ln_halo<C>(x, n, h, w, x0, y0, b.norm1_w, b.norm1_b, sm.ln);
    __syncthreads();
    for (int c0 = 0; c0 < C; c0 += CB) {
        int rows[CB];
#pragma unroll
        for (int j = 0; j < CB; j++) rows[j] = c0 + j;
        pointwise_halo<C, CB>(sm.ln, b.qkv, rows, sm.t);
        __syncthreads();
#pragma unroll
        for (int j = 0; j < CB; j++) sm.q[c0 + j][threadIdx.x] = fmaxf(dw_at(sm.t[j], b.qkv_dw + (size_t)rows[j] * 9), 0.0f);
        __syncthreads();
    }
    const int py = y0 + ty, px = x0 + tx;
    if (py >= h || px >= w) return;
    float o[C];
    for (int head = 0; head < b.heads; head++) {
        const float *Sh = sm.S + head * d * d;
        float den = 1e-6f;
        for (int i = 0; i < d; i++) den += sm.q[head * d + i][threadIdx.x] * sm.z[head * d + i];
        for (int j = 0; j < d; j++) {
            float a = 0.0f;
            for (int i = 0; i < d; i++) a += sm.q[head * d + i][threadIdx.x] * Sh[i * d + j];
            o[head * d + j] = a / den;
        }
    }
    const size_t at = (size_t)py * w + px;
#pragma unroll
    for (int c = 0; c < C; c++) {
        const float *wr = b.proj + (size_t)c * C;
        float a = x[(size_t)c * n + at];
#pragma unroll
        for (int k = 0; k < C; k++) a += wr[k] * o[k];
        y[(size_t)c * n + at] = a;
    }
}

template <int C> struct ffn_smem {
    float ln[C][HN];
    float t[2 * HB][HN];
};

// y = x + pw_out(gelu(t2) t1 + gelu(t1) t2), t = dw(pw_in(LN2(x))).
template <int C>
__global__ void __launch_bounds__(NT) ffn_kernel(const float *x, int h, int w, fused_block_weights b, float *y)
{
    extern __shared__ float smem_raw[];
    ffn_smem<C> &sm = *reinterpret_cast<ffn_smem<C> *>(smem_raw);
    const size_t n = (size_t)h * w;
    const int tiles_x = (w + T - 1) / T;
    const int x0 = (blockIdx.x % tiles_x) * T, y0 = (blockIdx.x / tiles_x) * T;
    const int ty = threadIdx.x / T, tx = threadIdx.x % T;
    load_ln_halo<C>(x, n, h, w, x0, y0, b.norm2_w, b.norm2_b, sm.ln);
    float acc[C];
#pragma unroll
    for (int c = 0; c < C; c++) acc[c] = 0.0f;
    __syncthreads();
    for (int i0 = 0; i0 < b.hid; i0 += HB) {
        int rows[2 * HB];
#pragma unroll
        for (int j = 0; j < HB; j++) {
            int i = i0 + j < b.hid ? i0 + j : b.hid - 1; // past the end: recompute the last pair, unused
            rows[2 * j] = i;
            rows[2 * j + 1] = b.hid + i;
        }
        pointwise_halo<C, 2 * HB>(sm.ln, b.pw_in, rows, sm.t);
        __syncthreads();
#pragma unroll
        for (int j = 0; j < HB; j++) {
            if (i0 + j >= b.hid) break;
            float t1 = dw_at(sm.t[2 * j], b.dw + (size_t)rows[2 * j] * 9);
            float t2 = dw_at(sm.t[2 * j + 1], b.dw + (size_t)rows[2 * j + 1] * 9);
            float u = gelu_(t2) * t1 + gelu_(t1) * t2;
#pragma unroll
            for (int c = 0; c < C; c++) acc[c] += b.pw_out[(size_t)c * b.hid + i0 + j] * u;
        }
        __syncthreads();
    }
    const int py = y0 + ty, px = x0 + tx;
    if (py >= h || px >= w) return;
    const size_t at = (size_t)py * w + px;
#pragma unroll
    for (int c = 0; c < C; c++) y[(size_t)c * n + at] = x[(size_t)c * n + at] + acc[c];
}

template <int C>
bool run(cudaStream_t s, const fused_block_weights &b, float *x, int h, int w, float *tmp, float *partial, float *S,
         float *z)
{
    const int d = C / b.heads, tiles = ((w + T - 1) / T) * ((h + T - 1) / T);
    int parts = K_SUMMARY_BLOCKS / b.heads;
    if (parts > tiles) parts = tiles;
    size_t sm_sum = sizeof(summary_smem<C>), sm_apply = sizeof(apply_smem<C>), sm_ffn = sizeof(ffn_smem<C>);
    // Opt in to more than 48 KB of shared memory (per device, so every time: a cheap call).
    if (cudaFuncSetAttribute(summary_kernel<C>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm_sum) ||
        cudaFuncSetAttribute(apply_kernel<C>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm_apply) ||
        cudaFuncSetAttribute(ffn_kernel<C>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm_ffn))
        return false;
    summary_kernel<C><<<parts, NT, sm_sum, s>>>(x, h, w, b, partial);
    k_saga_reduce(s, partial, parts, b.heads, d, 1.0f / (float)((size_t)h * w), S, z);
    apply_kernel<C><<<tiles, NT, sm_apply, s>>>(x, h, w, b, S, z, tmp);
    ffn_kernel<C><<<tiles, NT, sm_ffn, s>>>(tmp, h, w, b, x);
    return true;
}

} // namespace

bool fused_block_supported(int c, int heads)
{
    return (c == 16 || c == 32) && heads >= 1 && c % heads == 0;
}

bool fused_block_run(cudaStream_t s, const fused_block_weights &b, float *x, int h, int w, float *tmp, float *partial,
                     float *S, float *z)
{
    switch (b.c) {
    case 16: return run<16>(s, b, x, h, w, tmp, partial, S, z);
    case 32: return run<32>(s, b, x, h, w, tmp, partial, S, z);
    default: return false;
    }
}
