// The front of a deep-level block's two branches in one kernel (see
// deep_front.cuh).
//
// A block is one tile of TH x 16 pixels and a share of its chunks: the
// halo, (TH + 2) x 18 positions padded to whole m16 tiles, holds the
// LayerNormed x in A (position-major, fp16). Per chunk of 16 units (the
// attention: channels i, whose 1x1 rows are q, k, v, gk, gv = i, C + i, ...,
// 4C + i; the FFN: pairs j, whose rows are j and hid + j):
//   1. the chunk's 1x1 rows (B, fp16) and depthwise taps (Dw, fp32) into
//      shared memory;
//   2. T = A B^T over every halo position (mma.sync m16n8k16, a warp a job
//      of one m16 tile by two n8 tiles), stored channel-major in fp16, as the
//      unfused path's 5C / 2 hid maps round it;
//   3. the depthwise 3x3 of each unit's rows at the tile's pixels from T,
//      the gates, the outputs to u.
// The halo positions outside the image hold zeros, so T is zero there: the
// depthwise's zero padding (the 1x1 has no bias). When the image gives few
// tiles, the chunks of a tile are shared among `groups` blocks (each
// LayerNorms the halo itself), so the grid still fills the GPU.
#include <algorithm>
#include <cstdint>
#include <cuda_fp16.h>

#include "deep_front.cuh"
#include "gelu_fast.h"
#include "igemm_common.cuh"
#include "map_io.cuh"
#include "mma_sync.cuh"

namespace {

using igemm::aligned;
using igemm::load_b2;
using mma::ldsm_x4;
using mma::mma16816;
using mma::pack;

constexpr int TW = 16, HX = TW + 2, UNITS = 16, THREADS = 256, WARPS = THREADS / 32;

enum front_kind { FRONT_ATTN, FRONT_FFN };

template <int C, front_kind K> struct front {
    static constexpr int TH = C >= 256 ? 4 : 8;                  // tile rows: A (the halo) within ~60 KB
    static constexpr int P = (TH + 2) * HX;                      // halo positions
    static constexpr int MP = (P + 15) / 16 * 16, MT = MP / 16;  // padded to m16 tiles
    static constexpr int LDA = C + 8;                            // halves a position of A (and a row of B)
    static constexpr int LDT = MP + 8;                           // halves a row of T
    static constexpr int N = K == FRONT_ATTN ? 5 * UNITS : 2 * UNITS; // 1x1 rows a chunk
    static constexpr int JOBS = MT * (N / 16);                   // (m16 tile, two n8 tiles) pairs
    static constexpr size_t A_AT = 0, B_AT = aligned((size_t)MP * LDA * 2), T_AT = B_AT + aligned((size_t)N * LDA * 2),
                            DW_AT = T_AT + aligned((size_t)N * LDT * 2), BYTES = DW_AT + aligned((size_t)N * 9 * 4);
};

// The halo of x around the tile at (x0, y0) into A, LayerNormed (fp32
// statistics), fp16; zero rows outside the image and past the halo. The
// raw values go into A first (every thread loading, so many loads are in
// flight), then each position's thread normalises its row in place. On fp32
// maps (the workbench's check) that rounds x to fp16 before the LayerNorm.
template <int C, front_kind K, typename M>
__device__ void layernorm_halo(const M *x, int h, int w, int x0, int y0, const float *g, const float *b, half *A)
{
    using F = front<C, K>;
    const size_t n = (size_t)h * w;
    for (int e = threadIdx.x; e < F::MP * (C / 2); e += THREADS) {
        const int pos = e % F::MP, c = 2 * (e / F::MP), gy = y0 - 1 + pos / HX, gx = x0 - 1 + pos % HX;
        const bool in = pos < F::P && gy >= 0 && gy < h && gx >= 0 && gx < w;
        const M *p = x + (size_t)c * n + (in ? (size_t)gy * w + gx : 0);
        *reinterpret_cast<uint32_t *>(A + (size_t)pos * F::LDA + c) = in ? pack(load(p), load(p + n)) : 0u;
    }
    __syncthreads();
    for (int pos = threadIdx.x; pos < F::MP; pos += THREADS) {
        const int gy = y0 - 1 + pos / HX, gx = x0 - 1 + pos % HX;
        if (!(pos < F::P && gy >= 0 && gy < h && gx >= 0 && gx < w)) continue; // zeros already
        half2 *row = reinterpret_cast<half2 *>(A + (size_t)pos * F::LDA);
        float sum = 0.0f;
#pragma unroll 8
        for (int c = 0; c < C / 2; c++) {
            const float2 v = __half22float2(row[c]);
            sum += v.x + v.y;
        }
        const float mean = sum / C;
        float var = 0.0f;
#pragma unroll 8
        for (int c = 0; c < C / 2; c++) {
            const float2 v = __half22float2(row[c]);
            var += (v.x - mean) * (v.x - mean) + (v.y - mean) * (v.y - mean);
        }
        const float rstd = rsqrtf(var / C + 1e-5f);
#pragma unroll 8
        for (int c = 0; c < C / 2; c++) {
            const float2 v = __half22float2(row[c]);
            row[c] = __floats2half2_rn((v.x - mean) * rstd * g[2 * c] + b[2 * c],
                                       (v.y - mean) * rstd * g[2 * c + 1] + b[2 * c + 1]);
        }
    }
}

// The 1x1 row (and depthwise filter) chunk row r computes for units
// u0 .. u0 + 15 of `units` (C or hid); -1 past the last unit.
template <front_kind K> __device__ __forceinline__ int row_of(int r, int u0, int units)
{
    const int i = u0 + r % UNITS;
    return i < units ? (r / UNITS) * units + i : -1;
}

// Step 1: the chunk's 1x1 rows into B (16-byte loads: rows of C halves on
// 256-byte aligned weights) and its depthwise taps into Dw.
template <int C, front_kind K>
__device__ void load_chunk(const half *w1, const float *dw, int u0, int units, half *B, float *Dw)
{
    using F = front<C, K>;
    for (int e = threadIdx.x; e < F::N * (C / 8); e += THREADS) {
        const int r = e / (C / 8), q = e % (C / 8), row = row_of<K>(r, u0, units);
        *reinterpret_cast<uint4 *>(B + (size_t)r * F::LDA + 8 * q) =
            row < 0 ? make_uint4(0u, 0u, 0u, 0u) : *reinterpret_cast<const uint4 *>(w1 + (size_t)row * C + 8 * q);
    }
    for (int e = threadIdx.x; e < F::N * 9; e += THREADS) {
        const int row = row_of<K>(e / 9, u0, units);
        Dw[e] = row < 0 ? 0.0f : dw[(size_t)row * 9 + e % 9];
    }
}

// Step 2: T (N x MP, channel-major) = B A^T.
template <int C, front_kind K> __device__ void gemm_chunk(const half *A, const half *B, half *T)
{
    using F = front<C, K>;
    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    for (int job = threadIdx.x >> 5; job < F::JOBS; job += WARPS) {
        const int mt = job % F::MT, n0 = 16 * (job / F::MT);
        float acc[2][4] = {};
#pragma unroll
        for (int ks = 0; ks < C / 16; ks++) {
            uint32_t a[4], bb[4];
            ldsm_x4(a, A + (size_t)(16 * mt + (lane & 15)) * F::LDA + 16 * ks + (lane >> 4) * 8);
            load_b2(bb, B, F::LDA, n0, 16 * ks);
            mma16816(acc[0], a, bb[0], bb[1]);
            mma16816(acc[1], a, bb[2], bb[3]);
        }
        // Accumulator e of n8 tile j: position 16 mt + g (+ 8 for e >= 2), row n0 + 8 j + 2t (+ 1 for odd e).
#pragma unroll
        for (int j = 0; j < 2; j++)
#pragma unroll
            for (int e = 0; e < 4; e++)
                T[(size_t)(n0 + 8 * j + 2 * t + (e & 1)) * F::LDT + 16 * mt + g + 8 * (e >> 1)] = __float2half(acc[j][e]);
    }
}

// The depthwise 3x3 of T's row r at tile pixel (ty, tx).
template <int C, front_kind K> __device__ __forceinline__ float dw_at(const half *T, const float *Dw, int r, int ty, int tx)
{
    using F = front<C, K>;
    const half *p = T + (size_t)r * F::LDT + ty * HX + tx;
    const float *k = Dw + r * 9;
    float acc = 0.0f;
#pragma unroll
    for (int dy = 0; dy < 3; dy++)
#pragma unroll
        for (int dx = 0; dx < 3; dx++) acc += k[dy * 3 + dx] * __half2float(p[dy * HX + dx]);
    return acc;
}

// Step 3: each (unit, pixel) of the chunk: the depthwise of its rows, the
// gates, its outputs (a warp: two rows of 16 pixels of one unit: 32-byte
// stores).
template <int C, front_kind K>
__device__ void gate_chunk(const half *T, const float *Dw, int u0, int units, int h, int w, int x0, int y0, half *u)
{
    using F = front<C, K>;
    const size_t n = (size_t)h * w;
    for (int it = threadIdx.x; it < UNITS * F::TH * TW; it += THREADS) {
        const int tx = it % TW, ty = (it / TW) % F::TH, unit = it / (F::TH * TW), i = u0 + unit;
        const int gy = y0 + ty, gx = x0 + tx;
        if (gy >= h || gx >= w || i >= units) continue;
        const size_t at = (size_t)gy * w + gx;
        if constexpr (K == FRONT_FFN) {
            const float a = dw_at<C, K>(T, Dw, unit, ty, tx), bb = dw_at<C, K>(T, Dw, UNITS + unit, ty, tx);
            u[(size_t)i * n + at] = __float2half(sx_dual_gate_fast(a, bb));
        } else {
            const float q = dw_at<C, K>(T, Dw, unit, ty, tx), k = dw_at<C, K>(T, Dw, UNITS + unit, ty, tx),
                        v = dw_at<C, K>(T, Dw, 2 * UNITS + unit, ty, tx),
                        gk = dw_at<C, K>(T, Dw, 3 * UNITS + unit, ty, tx),
                        gv = dw_at<C, K>(T, Dw, 4 * UNITS + unit, ty, tx);
            u[(size_t)i * n + at] = __float2half(q);
            u[(size_t)(C + i) * n + at] = __float2half(fmaxf(k, 0.0f) * sx_sigmoid_fast(gk));
            u[(size_t)(2 * C + i) * n + at] = __float2half(v * sx_sigmoid_fast(gv));
        }
    }
}

template <int C, front_kind K, typename M>
__global__ void __launch_bounds__(THREADS) front_kernel(const M *x, int h, int w, const float *ln_g, const float *ln_b,
                                                        const half *w1, const float *dw, int units, int groups, half *u)
{
    using F = front<C, K>;
    extern __shared__ __align__(128) unsigned char smem[];
    half *A = reinterpret_cast<half *>(smem + F::A_AT), *B = reinterpret_cast<half *>(smem + F::B_AT),
         *T = reinterpret_cast<half *>(smem + F::T_AT);
    float *Dw = reinterpret_cast<float *>(smem + F::DW_AT);
    const int tiles_x = (w + TW - 1) / TW, tile = blockIdx.x / groups, group = blockIdx.x % groups;
    const int x0 = (tile % tiles_x) * TW, y0 = (tile / tiles_x) * F::TH;
    layernorm_halo<C, K>(x, h, w, x0, y0, ln_g, ln_b, A);
    const int chunks = (units + UNITS - 1) / UNITS;
    for (int chunk = group; chunk < chunks; chunk += groups) {
        load_chunk<C, K>(w1, dw, chunk * UNITS, units, B, Dw);
        __syncthreads(); // A (the first time), B and Dw whole
        gemm_chunk<C, K>(A, B, T);
        __syncthreads();
        gate_chunk<C, K>(T, Dw, chunk * UNITS, units, h, w, x0, y0, u);
        __syncthreads(); // T, B and Dw free for the next chunk
    }
}

template <int C, front_kind K, typename M>
bool launch(cudaStream_t s, const M *x, int h, int w, const float *ln_g, const float *ln_b, const half *w1,
            const float *dw, int units, half *u)
{
    using F = front<C, K>;
    auto kernel = front_kernel<C, K, M>;
    if (!w1 || !igemm::opt_in(kernel, F::BYTES)) return false;
    const int tiles = ((w + TW - 1) / TW) * ((h + F::TH - 1) / F::TH), chunks = (units + UNITS - 1) / UNITS;
    // Two blocks an SM at least, sharing a tile's chunks where tiles are few.
    const int groups = std::max(1, std::min(chunks, (2 * tile::device_sm_count() + tiles - 1) / tiles));
    kernel<<<tiles * groups, THREADS, F::BYTES, s>>>(x, h, w, ln_g, ln_b, w1, dw, units, groups, u);
    return true;
}

template <front_kind K, typename M>
bool run(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, __half *u)
{
    const float *g = K == FRONT_ATTN ? b.norm1_w : b.norm2_w, *bias = K == FRONT_ATTN ? b.norm1_b : b.norm2_b;
    const half *w1 = K == FRONT_ATTN ? b.qkv16 : b.pw_in16;
    const float *dw = K == FRONT_ATTN ? b.qkv_dw : b.dw;
    const int units = K == FRONT_ATTN ? b.c : b.hid;
    switch (b.c) {
    case 64: return launch<64, K>(s, x, h, w, g, bias, w1, dw, units, u);
    case 128: return launch<128, K>(s, x, h, w, g, bias, w1, dw, units, u);
    case 256: return launch<256, K>(s, x, h, w, g, bias, w1, dw, units, u);
    default: return false;
    }
}

} // namespace

bool deep_front_supported(int c)
{
    const size_t bytes = c == 64    ? std::max(front<64, FRONT_ATTN>::BYTES, front<64, FRONT_FFN>::BYTES)
                         : c == 128 ? std::max(front<128, FRONT_ATTN>::BYTES, front<128, FRONT_FFN>::BYTES)
                         : c == 256 ? std::max(front<256, FRONT_ATTN>::BYTES, front<256, FRONT_FFN>::BYTES)
                                    : 0;
    return bytes && igemm::device_takes(bytes);
}

template <typename M>
bool deep_front_attn(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, __half *u)
{
    return run<FRONT_ATTN>(s, b, x, h, w, u);
}

template <typename M>
bool deep_front_ffn(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, __half *u)
{
    return run<FRONT_FFN>(s, b, x, h, w, u);
}

template bool deep_front_attn(cudaStream_t, const gpu_block_weights &, const float *, int, int, __half *);
template bool deep_front_attn(cudaStream_t, const gpu_block_weights &, const __half *, int, int, __half *);
template bool deep_front_ffn(cudaStream_t, const gpu_block_weights &, const float *, int, int, __half *);
template bool deep_front_ffn(cudaStream_t, const gpu_block_weights &, const __half *, int, int, __half *);
