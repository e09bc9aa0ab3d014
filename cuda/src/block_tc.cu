// The fused block's summary and FFN on tensor cores (see block_tc.cuh).
//
// Per 16x16 tile: the LayerNorm of the 18x18 halo (324 positions, padded to
// 336 = 21 row tiles) goes to shared memory as an fp16 matrix A (position x
// channel); the 1x1 is A x W^T, 16 output rows (weight rows) at a time per
// warp task, stored as fp32 halo maps T for the depthwise taps. Everything
// per-pixel after that is one thread per pixel, as in block_fused.cu. The
// halo matrix, its 1x1 and the layout rules are tc_common.cuh's.
#include <cuda_fp16.h>
#include <mma.h>

#include "block_tc.cuh"
#include "kernels.cuh"
#include "tc_common.cuh"

namespace {

using namespace tile;
using namespace tc;
using namespace nvcuda;

// 16-row weight tiles per round of the 1x1: one at C = 16 (T then takes
// 21 KB, so more blocks share an SM), two at C = 32, where the FFN stages its
// 32 x NT output in T (a planted single tile overflowed into U, and the
// workbench's check caught it).
__host__ __device__ constexpr int rn_of(int c) { return c <= 16 ? 1 : 2; }
static_assert(rn_of(16) * 16 * LDT >= 16 * LDO && rn_of(32) * 16 * LDT >= 32 * LDO,
              "T too small to stage the FFN's output");

// This thread's one or two halo positions, LayerNormed, into A as fp16
// (zeros outside the image and in the padding rows).
template <int C, typename M>
__device__ void halo_ln_to_smem(const M *x, size_t n, int h, int w, int x0, int y0, const float *g,
                                const float *bias, half *A)
{
    float v[C];
    for (int pos = threadIdx.x; pos < MP; pos += NT) {
        ln_at<C>(x, n, h, w, x0, y0, pos, g, bias, v);
#pragma unroll
        for (int k = 0; k < C; k++) A[(size_t)k * LDA + pos] = __float2half(v[k]);
    }
}

// ---------------------------------------------------------------- summary

struct summary_layout {
    int ldw;                      // halves per weight row
    size_t a, w, dw, t, phik, vt, total;
};

__host__ __device__ inline summary_layout summary_layout_of(int c)
{
    summary_layout L;
    L.ldw = c + 8;
    size_t o = 0;
    L.a = o, o += aligned((size_t)c * LDA * 2);
    L.w = o, o += aligned((size_t)4 * c * L.ldw * 2);
    L.dw = o, o += aligned((size_t)4 * c * 9 * 4);
    L.t = o, o += aligned((size_t)rn_of(c) * 16 * LDT * 4);
    L.phik = o, o += aligned((size_t)c * LDP * 2);
    L.vt = o, o += aligned((size_t)c * LDP * 2);
    L.total = o;
    return L;
}

// Weight rows grouped per channel (4c + 0..3 = k, gk, v, gv: slots 1, 3, 2, 4
// of the 5C qkv rows), so each 16-row tile holds four whole channels. Each
// warp keeps one 16x16 tile of phi_k v~^T over its share of the pixels (a
// quarter or an eighth of the k-steps) in an accumulator for the whole grid
// loop; the block's partial is their sum in a fixed order.
template <int C, typename M>
__global__ void __launch_bounds__(NT) summary_tc_kernel(const M *x, int h, int w, gpu_block_weights b,
                                                        float *partial)
{
    extern __shared__ __align__(128) unsigned char smem[];
    const summary_layout L = summary_layout_of(C);
    half *A = (half *)(smem + L.a), *W = (half *)(smem + L.w), *phik = (half *)(smem + L.phik),
         *vt = (half *)(smem + L.vt);
    float *DW = (float *)(smem + L.dw), *T = (float *)(smem + L.t);
    const int slot[4] = {1, 3, 2, 4};
    for (int e = threadIdx.x; e < 4 * C * L.ldw; e += NT) {
        int r = e / L.ldw, k = e % L.ldw, row = slot[r % 4] * C + r / 4;
        W[e] = __float2half(k < C ? b.qkv[(size_t)row * C + k] : 0.0f);
    }
    for (int e = threadIdx.x; e < 4 * C * 9; e += NT) {
        int r = e / 9, row = slot[r % 4] * C + r / 4;
        DW[e] = b.qkv_dw[(size_t)row * 9 + e % 9];
    }
    constexpr int OT = (C / 16) * (C / 16);   // 16x16 tiles of the C x C product
    constexpr int WPT = WARPS / OT;           // warps sharing one tile, each over 16/WPT k-steps of 16 pixels
    constexpr int KS = (NT / 16) / WPT;
    const int warp = threadIdx.x / 32, ot = warp % OT, part = warp / OT, mi = ot / (C / 16), nj = ot % (C / 16);
    frag_acc acc;
    wmma::fill_fragment(acc, 0.0f);
    float zacc = 0.0f;
    const size_t n = (size_t)h * w;
    const int tiles = tiles_of(h, w), ty = pixel_y(), tx = pixel_x();
    __syncthreads();
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        int x0, y0;
        tile_origin(tile, w, &x0, &y0);
        const bool inside = y0 + ty < h && x0 + tx < w;
        halo_ln_to_smem<C>(x, n, h, w, x0, y0, b.norm1_w, b.norm1_b, A);
        __syncthreads();
        constexpr int RN = rn_of(C);
        for (int n0 = 0; n0 < C / 4; n0 += RN) {
            const int rn = C / 4 - n0 < RN ? C / 4 - n0 : RN;
            halo_1x1<C>(A, W, L.ldw, n0, rn, T);
            __syncthreads();
            for (int j = 0; j < 4 * rn; j++) {
                const int c = 4 * n0 + j;
                const float *dw = DW + (size_t)4 * c * 9;
                float k = dw_at(T + (4 * j + 0) * LDT, dw), gk = dw_at(T + (4 * j + 1) * LDT, dw + 9);
                float v = dw_at(T + (4 * j + 2) * LDT, dw + 18), gv = dw_at(T + (4 * j + 3) * LDT, dw + 27);
                phik[c * LDP + threadIdx.x] = __float2half(inside ? fmaxf(k, 0.0f) * sigmoidf_(gk) : 0.0f);
                vt[c * LDP + threadIdx.x] = __float2half(inside ? v * sigmoidf_(gv) : 0.0f);
            }
            __syncthreads();
        }
        // S += phi_k v~^T over this tile's pixels: A = phi_k (C x pixels,
        // row-major), B = v~^T (pixels x C, column-major).
#pragma unroll
        for (int s = 0; s < KS; s++) {
            const int p0 = (part * KS + s) * 16;
            wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> fa;
            wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::col_major> fb;
            wmma::load_matrix_sync(fa, phik + (size_t)mi * 16 * LDP + p0, LDP);
            wmma::load_matrix_sync(fb, vt + (size_t)nj * 16 * LDP + p0, LDP);
            wmma::mma_sync(acc, fa, fb, acc);
        }
        if (threadIdx.x < C) {
            const half *pi = phik + threadIdx.x * LDP;
            for (int p = 0; p < NT; p++) zacc += __half2float(pi[p]);
        }
        // phi_k and v~ are rewritten only after the next tile's two barriers.
    }
    // T is free (every warp is past the last round's barrier): the warps'
    // tiles go there, then each S entry is summed over its warps in order.
    float *stage = T;
    wmma::store_matrix_sync(stage + warp * 256, acc, 16, wmma::mem_row_major);
    __syncthreads();
    const int d = C / b.heads, per = d * d + d;
    for (int e = threadIdx.x; e < b.heads * d * d; e += NT) {
        int head = e / (d * d), i = head * d + (e % (d * d)) / d, j = head * d + e % d;
        int t = (i / 16) * (C / 16) + j / 16;
        float sum = 0.0f;
        for (int r = 0; r < WPT; r++) sum += stage[(t + r * OT) * 256 + (i % 16) * 16 + j % 16];
        partial[((size_t)blockIdx.x * b.heads + head) * per + e % (d * d)] = sum;
    }
    if (threadIdx.x < C)
        partial[((size_t)blockIdx.x * b.heads + threadIdx.x / d) * per + d * d + threadIdx.x % d] = zacc;
}

// -------------------------------------------------------------------- FFN

struct ffn_layout {
    int hp, hk, ldw, ldo;         // pairs padded to 8 (a 16-row tile), hid padded to 16 (a k-step); row strides
    size_t a, wi, di, wo, t, u, total;
};

__host__ __device__ inline ffn_layout ffn_layout_of(int c, int hid)
{
    ffn_layout L;
    L.hp = round_up(hid, 8);
    L.hk = round_up(hid, 16);
    L.ldw = c + 8;
    L.ldo = L.hk + 8;
    size_t o = 0;
    L.a = o, o += aligned((size_t)c * LDA * 2);
    L.wi = o, o += aligned((size_t)2 * L.hp * L.ldw * 2);
    L.di = o, o += aligned((size_t)2 * L.hp * 9 * 4);
    L.wo = o, o += aligned((size_t)c * L.ldo * 2);
    // T, and afterwards the output staging (C x LDO floats: see rn_of).
    L.t = o, o += aligned((size_t)rn_of(c) * 16 * LDT * 4);
    L.u = o, o += aligned((size_t)L.hk * LDP * 2);
    L.total = o;
    return L;
}

// y = x + pw_out(u), u = gelu(t2) t1 + gelu(t1) t2, t = dw(pw_in(LN2(x))):
// pw_in's rows interleaved (t1_i, t2_i) so each 16-row tile is 8 whole pairs;
// u (pixels x hid, fp16) stays in shared memory until the second 1x1.
template <int C, typename M>
__global__ void __launch_bounds__(NT) ffn_tc_kernel(const M *x, int h, int w, gpu_block_weights b, M *y)
{
    extern __shared__ __align__(128) unsigned char smem[];
    const int hid = b.hid;
    const ffn_layout L = ffn_layout_of(C, hid);
    half *A = (half *)(smem + L.a), *WI = (half *)(smem + L.wi), *WO = (half *)(smem + L.wo),
         *U = (half *)(smem + L.u);
    float *DI = (float *)(smem + L.di), *T = (float *)(smem + L.t);
    const int rows = 2 * L.hp, row_tiles = rows / 16;
    for (int e = threadIdx.x; e < rows * L.ldw; e += NT) {
        int r = e / L.ldw, k = e % L.ldw, i = r / 2;
        WI[e] = __float2half(i < hid && k < C ? b.pw_in[(size_t)((r % 2) * hid + i) * C + k] : 0.0f);
    }
    for (int e = threadIdx.x; e < rows * 9; e += NT) {
        int r = e / 9, i = r / 2;
        DI[e] = i < hid ? b.dw[(size_t)((r % 2) * hid + i) * 9 + e % 9] : 0.0f;
    }
    for (int e = threadIdx.x; e < C * L.ldo; e += NT) {
        int c = e / L.ldo, k = e % L.ldo;
        WO[e] = __float2half(k < hid ? b.pw_out[(size_t)c * hid + k] : 0.0f);
    }
    for (int e = threadIdx.x; e < (L.hk - hid) * LDP; e += NT) U[(size_t)hid * LDP + e] = __float2half(0.0f);
    const size_t n = (size_t)h * w;
    const int tiles = tiles_of(h, w), ty = pixel_y(), tx = pixel_x();
    __syncthreads();
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        int x0, y0;
        tile_origin(tile, w, &x0, &y0);
        halo_ln_to_smem<C>(x, n, h, w, x0, y0, b.norm2_w, b.norm2_b, A);
        __syncthreads();
        constexpr int RN = rn_of(C);
        for (int n0 = 0; n0 < row_tiles; n0 += RN) {
            const int rn = row_tiles - n0 < RN ? row_tiles - n0 : RN;
            halo_1x1<C>(A, WI, L.ldw, n0, rn, T);
            __syncthreads();
            for (int j = 0; j < 8 * rn && 8 * n0 + j < hid; j++) {
                const int i = 8 * n0 + j;
                float t1 = dw_at(T + 2 * j * LDT, DI + 2 * i * 9), t2 = dw_at(T + (2 * j + 1) * LDT, DI + (2 * i + 1) * 9);
                U[(size_t)i * LDP + threadIdx.x] = __float2half(gelu_(t2) * t1 + gelu_(t1) * t2);
            }
            __syncthreads();
        }
        // out (pixels x C) = U (pixels x hk) x pw_out^T, staged in T.
        float *O = T;
        pixels_1x1(U, L.hk, WO, L.ldo, C / 16, O);
        __syncthreads();
        const int py = y0 + ty, px = x0 + tx;
        if (py < h && px < w) {
            const size_t at = (size_t)py * w + px;
#pragma unroll
            for (int c = 0; c < C; c++) store(&y[(size_t)c * n + at], load(&x[(size_t)c * n + at]) + O[c * LDO + threadIdx.x]);
        }
        // O (= T) is rewritten only after the next tile's first barrier.
    }
}

template <int C, typename M>
bool summary_run(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, float *partial, int max_parts,
                 int *parts)
{
    const size_t bytes = summary_layout_of(C).total;
    if (cudaFuncSetAttribute(summary_tc_kernel<C, M>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes)) return false;
    int g = grid_for(summary_tc_kernel<C, M>, bytes, tiles_of(h, w));
    *parts = g < max_parts ? g : max_parts;
    summary_tc_kernel<C, M><<<*parts, NT, bytes, s>>>(x, h, w, b, partial);
    return true;
}

template <int C, typename M> bool ffn_run(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, M *y)
{
    const size_t bytes = ffn_layout_of(C, b.hid).total;
    if (cudaFuncSetAttribute(ffn_tc_kernel<C, M>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes)) return false;
    ffn_tc_kernel<C, M><<<grid_for(ffn_tc_kernel<C, M>, bytes, tiles_of(h, w)), NT, bytes, s>>>(x, h, w, b, y);
    return true;
}

} // namespace

bool tc_block_supported(int c, int heads, int hid)
{
    return (c == 16 || c == 32) && heads >= 1 && c % heads == 0 && hid >= 1 &&
           device_smem_takes(ffn_layout_of(c, hid).total) && device_smem_takes(summary_layout_of(c).total);
}

template <typename M>
bool tc_block_summary(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, float *partial,
                      int max_parts, int *parts)
{
    switch (b.c) {
    case 16: return summary_run<16>(s, b, x, h, w, partial, max_parts, parts);
    case 32: return summary_run<32>(s, b, x, h, w, partial, max_parts, parts);
    default: return false;
    }
}

template <typename M> bool tc_block_ffn(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, M *y)
{
    switch (b.c) {
    case 16: return ffn_run<16>(s, b, x, h, w, y);
    case 32: return ffn_run<32>(s, b, x, h, w, y);
    default: return false;
    }
}

template bool tc_block_summary(cudaStream_t, const gpu_block_weights &, const float *, int, int, float *, int, int *);
template bool tc_block_summary(cudaStream_t, const gpu_block_weights &, const __half *, int, int, float *, int, int *);
template bool tc_block_ffn(cudaStream_t, const gpu_block_weights &, const float *, int, int, float *);
template bool tc_block_ffn(cudaStream_t, const gpu_block_weights &, const __half *, int, int, __half *);
