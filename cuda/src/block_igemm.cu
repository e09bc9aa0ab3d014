// The fused block's three passes as implicit GEMMs (see block_igemm.cuh).
//
// One thread block per 16x16 tile of a persistent grid; warp w takes the
// tile's rows w and w + 8, one m16 tile each (its 16 pixels are the GEMM's
// rows). Shared memory: the LayerNormed halo A and the combined weights B
// (igemm_common.cuh).
#include <algorithm>
#include <cuda_fp16.h>

#include "block_igemm.cuh"
#include "gelu_fast.h"
#include "kernels.cuh"
#include "igemm_common.cuh"
#include "mma_sync.cuh"
#include "tile_common.cuh"

namespace {

using namespace igemm;
using namespace tile;
using mma::ldsm_x4;
using mma::mma16816;
using mma::pack;
using mma::trans;

constexpr int WARPS = NT / 32;
constexpr int HEAD = 16; // channels a head: the kernels' S tile

// The gates' sigmoid: sx_sigmoid_fast (gelu_fast.h), its outputs rounded to
// fp16 (phi_k, v~) right after.

// The LayerNorm (with its affine) of the tile's halo into A, fp16, zeros
// outside the image: the depthwise's zero padding. (Loading a thread's two
// positions before normalising either was measured slower at C=16: see
// docs/performance.md.)
template <int C, typename M>
__device__ void halo_ln(const M *x, size_t n, int h, int w, int x0, int y0, const float *g, const float *b, half *A)
{
    for (int pos = threadIdx.x; pos < HN; pos += NT) {
        float v[C];
        ln_at<C>(x, n, h, w, x0, y0, pos, g, b, v);
#pragma unroll
        for (int c = 0; c < C; c += 8)
            *reinterpret_cast<uint4 *>(A + (size_t)pos * geo<C>::LDC + c) =
                make_uint4(pack(v[c], v[c + 1]), pack(v[c + 2], v[c + 3]), pack(v[c + 4], v[c + 5]),
                           pack(v[c + 6], v[c + 7]));
    }
}

// The block's residual: y = x + o at tile row py for the accumulators o (C/8 n-tiles).
template <int C, typename M>
__device__ __forceinline__ void residual_store(const M *x, M *y, size_t n, int w, int x0, int py, const float (&o)[C / 8][4])
{
    for_each_output(o, w, x0, py, [&](size_t c, size_t at, float v) { store(&y[c * n + at], load(&x[c * n + at]) + v); });
}

// ---------------------------------------------------------------- summary

template <int C> constexpr size_t summary_bytes() { return geo<C>::A_BYTES + aligned((size_t)4 * C * geo<C>::LDK * 2); }

// B's rows per head gi of 16 channels: four n-tiles per 8 channels, in the
// order k, gk, v, gv (slots 1, 3, 2, 4 of the 5C rows), so the four values
// of a channel and pixel land in one thread. RW rows a warp at once
// (for_each_tile_rows): RW = 2 loads each B operand once for two m16 tiles,
// which the 3 blocks an SM of RW = 1 leave no registers for (2 blocks an SM).
template <int C, int RW, typename M>
__global__ void __launch_bounds__(NT, RW == 1 ? 3 : 2) summary_ig_kernel(const M *x, int h, int w, gpu_block_weights b, float *partial)
{
    extern __shared__ __align__(128) unsigned char smem[];
    constexpr int G = C / HEAD, KS = geo<C>::KS, LDK = geo<C>::LDK;
    half *A = reinterpret_cast<half *>(smem), *B = reinterpret_cast<half *>(smem + geo<C>::A_BYTES);
    combine_weights<C>(B, 4 * C, b.qkv, b.qkv_dw, [](int n) {
        const int slot[4] = {1, 3, 2, 4}, q = n % 64;
        return slot[(q % 32) / 8] * C + (n / 64) * HEAD + (q / 32) * 8 + q % 8;
    });
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2;
    float S[G][2][4] = {}, zp[G][2][2] = {};
    const size_t n = (size_t)h * w;
    __syncthreads();
    for_each_tile_rows<RW>(
        h, w, [&](int x0, int y0) { halo_ln<C>(x, n, h, w, x0, y0, b.norm1_w, b.norm1_b, A); },
        [&](int x0, int y0, int r) {
#pragma unroll
            for (int gi = 0; gi < G; gi++) {
                float acc[RW][8][4] = {};
#pragma unroll
                for (int ks = 0; ks < KS; ks++) {
                    uint32_t a[RW][4];
#pragma unroll
                    for (int q = 0; q < RW; q++) load_a<C>(a[q], A, r + 8 * q, ks);
#pragma unroll
                    for (int p = 0; p < 4; p++) {
                        uint32_t bb[4];
                        load_b2(bb, B, LDK, gi * 64 + p * 16, ks * 16);
#pragma unroll
                        for (int q = 0; q < RW; q++) {
                            mma16816(acc[q][2 * p], a[q], bb[0], bb[1]);
                            mma16816(acc[q][2 * p + 1], a[q], bb[2], bb[3]);
                        }
                    }
                }
#pragma unroll
                for (int q = 0; q < RW; q++) {
                    // acc[q][4 cb + s]: s = k, gk, v, gv of channels 8 cb + 2t, +1.
                    const bool row = row_in(h, y0, r + 8 * q), in0 = row && x0 + g < w, in1 = row && x0 + g + 8 < w;
                    float ph[2][4], vv[2][4];
#pragma unroll
                    for (int cb = 0; cb < 2; cb++)
#pragma unroll
                        for (int e = 0; e < 4; e++) {
                            const bool in = e < 2 ? in0 : in1;
                            ph[cb][e] = in ? fmaxf(acc[q][4 * cb][e], 0.0f) * sx_sigmoid_fast(acc[q][4 * cb + 1][e]) : 0.0f;
                            vv[cb][e] = in ? acc[q][4 * cb + 2][e] * sx_sigmoid_fast(acc[q][4 * cb + 3][e]) : 0.0f;
                            zp[gi][cb][e & 1] += ph[cb][e];
                        }
                    // S += phi_k^T v~ over these 16 pixels: the pixel index becomes k.
                    const uint32_t sa[4] = {trans(pack(ph[0][0], ph[0][1])), trans(pack(ph[1][0], ph[1][1])),
                                            trans(pack(ph[0][2], ph[0][3])), trans(pack(ph[1][2], ph[1][3]))};
                    mma16816(S[gi][0], sa, trans(pack(vv[0][0], vv[0][1])), trans(pack(vv[0][2], vv[0][3])));
                    mma16816(S[gi][1], sa, trans(pack(vv[1][0], vv[1][1])), trans(pack(vv[1][2], vv[1][3])));
                }
            }
        });
    // z: sum over the eight g of each t, then every warp's S and z into A's
    // space, then per entry over the warps in order.
#pragma unroll
    for (int gi = 0; gi < G; gi++)
#pragma unroll
        for (int cb = 0; cb < 2; cb++)
#pragma unroll
            for (int e = 0; e < 2; e++)
#pragma unroll
                for (int m = 4; m < 32; m <<= 1) zp[gi][cb][e] += __shfl_xor_sync(0xffffffffu, zp[gi][cb][e], m);
    constexpr int PER = HEAD * HEAD + HEAD;
    static_assert(WARPS * G * PER * 4 <= geo<C>::A_BYTES, "the S staging must fit in A");
    float *stage = reinterpret_cast<float *>(smem);
    const int t = lane & 3;
#pragma unroll
    for (int gi = 0; gi < G; gi++) {
        float *st = stage + (size_t)(warp * G + gi) * PER;
#pragma unroll
        for (int j = 0; j < 2; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) st[(g + 8 * (e >> 1)) * HEAD + 8 * j + 2 * t + (e & 1)] = S[gi][j][e];
        if (g == 0)
#pragma unroll
            for (int cb = 0; cb < 2; cb++) {
                st[HEAD * HEAD + 8 * cb + 2 * t] = zp[gi][cb][0];
                st[HEAD * HEAD + 8 * cb + 2 * t + 1] = zp[gi][cb][1];
            }
    }
    __syncthreads();
    for (int e = threadIdx.x; e < G * PER; e += NT) {
        const int gi = e / PER;
        float sum = 0.0f;
        for (int wp = 0; wp < WARPS; wp++) sum += stage[(size_t)(wp * G + gi) * PER + e % PER];
        partial[((size_t)blockIdx.x * G + gi) * PER + e % PER] = sum;
    }
}

// ------------------------------------------------------------------ apply

template <int C> constexpr size_t apply_bytes() { return geo<C>::A_BYTES + aligned((size_t)C * geo<C>::LDK * 2) + 128; }

template <int C, typename M>
__global__ void __launch_bounds__(NT, C == 16 ? 4 : 3) apply_ig_kernel(const M *x, int h, int w, gpu_block_weights b, const float *Sg,
                                                        const float *zg, M *y)
{
    extern __shared__ __align__(128) unsigned char smem[];
    constexpr int G = C / HEAD, KS = geo<C>::KS, LDK = geo<C>::LDK;
    half *A = reinterpret_cast<half *>(smem), *B = reinterpret_cast<half *>(smem + geo<C>::A_BYTES);
    float *scale = reinterpret_cast<float *>(smem + geo<C>::A_BYTES + aligned((size_t)C * LDK * 2));
    combine_weights<C>(B, C, b.qkv, b.qkv_dw, [](int n) { return n; }); // q: the first C rows
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    // Each head's S and z scaled by a power of two so the largest lies in
    // [0.5, 1): fp16 holds them without overflow; the ratio is unchanged
    // (the 1e-6 below is scaled with them).
    if (warp < G) {
        float m = 0.0f;
        for (int e = lane; e < HEAD * HEAD + HEAD; e += 32)
            m = fmaxf(m, fabsf(e < HEAD * HEAD ? Sg[warp * HEAD * HEAD + e] : zg[warp * HEAD + e - HEAD * HEAD]));
#pragma unroll
        for (int k = 16; k; k >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, k));
        if (lane == 0) scale[warp] = mma::fp16_range_scale(m);
    }
    __syncthreads();
    // B operands held in registers for the whole kernel: [S | z] per head
    // (k = i, n = j, z as column 16) and the projection (n = out, k = in).
    uint32_t sb[G][3][2], pb[C / 8][C / 16][2];
    float eps[G];
#pragma unroll
    for (int gi = 0; gi < G; gi++) {
        const float s = scale[gi];
        eps[gi] = 1e-6f * s;
        auto sz = [&](int i, int j) {
            return j < HEAD ? Sg[gi * HEAD * HEAD + i * HEAD + j] * s : j == HEAD ? zg[gi * HEAD + i] * s : 0.0f;
        };
#pragma unroll
        for (int j = 0; j < 3; j++) {
            const int col = 8 * j + g;
            sb[gi][j][0] = pack(sz(2 * t, col), sz(2 * t + 1, col));
            sb[gi][j][1] = pack(sz(2 * t + 8, col), sz(2 * t + 9, col));
        }
    }
#pragma unroll
    for (int j = 0; j < C / 8; j++)
#pragma unroll
        for (int kq = 0; kq < C / 16; kq++) {
            const float *row = b.proj + (size_t)(8 * j + g) * C + 16 * kq + 2 * t;
            pb[j][kq][0] = pack(row[0], row[1]);
            pb[j][kq][1] = pack(row[8], row[9]);
        }
    const size_t n = (size_t)h * w;
    auto row = [&](int x0, int y0, int r) {
        float q[C / 8][4] = {};
#pragma unroll
        for (int ks = 0; ks < KS; ks++) {
            uint32_t a[4];
            load_a<C>(a, A, r, ks);
#pragma unroll
            for (int np = 0; np < C / 16; np++) {
                uint32_t bb[4];
                load_b2(bb, B, LDK, np * 16, ks * 16);
                mma16816(q[2 * np], a, bb[0], bb[1]);
                mma16816(q[2 * np + 1], a, bb[2], bb[3]);
            }
        }
        float o[C / 8][4];
#pragma unroll
        for (int gi = 0; gi < G; gi++) {
            const float *q0 = q[2 * gi], *q1 = q[2 * gi + 1];
            const uint32_t qa[4] = {pack(fmaxf(q0[0], 0.0f), fmaxf(q0[1], 0.0f)),
                                    pack(fmaxf(q0[2], 0.0f), fmaxf(q0[3], 0.0f)),
                                    pack(fmaxf(q1[0], 0.0f), fmaxf(q1[1], 0.0f)),
                                    pack(fmaxf(q1[2], 0.0f), fmaxf(q1[3], 0.0f))};
            float num[3][4] = {};
#pragma unroll
            for (int j = 0; j < 3; j++) mma16816(num[j], qa, sb[gi][j][0], sb[gi][j][1]);
            // The denominator is column 16: n-tile 2, column 0, held by t = 0.
            const float r0 = 1.0f / (__shfl_sync(0xffffffffu, num[2][0], lane & ~3) + eps[gi]);
            const float r1 = 1.0f / (__shfl_sync(0xffffffffu, num[2][2], lane & ~3) + eps[gi]);
#pragma unroll
            for (int j = 0; j < 2; j++) {
                o[2 * gi + j][0] = num[j][0] * r0, o[2 * gi + j][1] = num[j][1] * r0;
                o[2 * gi + j][2] = num[j][2] * r1, o[2 * gi + j][3] = num[j][3] * r1;
            }
        }
        float out[C / 8][4] = {};
#pragma unroll
        for (int kq = 0; kq < C / 16; kq++) {
            const float *o0 = o[2 * kq], *o1 = o[2 * kq + 1];
            const uint32_t oa[4] = {pack(o0[0], o0[1]), pack(o0[2], o0[3]), pack(o1[0], o1[1]), pack(o1[2], o1[3])};
#pragma unroll
            for (int j = 0; j < C / 8; j++) mma16816(out[j], oa, pb[j][kq][0], pb[j][kq][1]);
        }
        residual_store<C>(x, y, n, w, x0, y0 + r, out);
    };
    for_each_tile_row(h, w, [&](int x0, int y0) { halo_ln<C>(x, n, h, w, x0, y0, b.norm1_w, b.norm1_b, A); }, row);
}

// -------------------------------------------------------------------- FFN

struct ffn_geo {
    int hb;            // blocks of 16 hidden pairs
    int ld2;           // halves a row of the output 1x1 (hb 16 + 8)
    size_t b1, b2, total;
};

template <int C> __host__ __device__ ffn_geo ffn_geo_of(int hid)
{
    ffn_geo F;
    F.hb = (hid + 15) / 16;
    F.ld2 = F.hb * 16 + 8;
    F.b1 = geo<C>::A_BYTES;
    F.b2 = F.b1 + aligned((size_t)F.hb * 32 * geo<C>::LDK * 2);
    F.total = F.b2 + aligned((size_t)C * F.ld2 * 2);
    return F;
}

// Per block hb of 16 hidden pairs, four n-tiles whose column 2t (2t + 1)
// holds t1 (t2) of pair 16 hb + {2t, 2t + 1, 2t + 8, 2t + 9}[tile]: a
// thread's u values are then exactly its part of the A operand (k = the 16
// pairs) of the output 1x1. RW rows a warp at once, as the summary.
// MINB blocks an SM: 2 gives each thread 128 registers; 3 (the default for
// the C=16 two-row pass; SAGALUX_CUDA_BLOCK=igemm2 takes 2) holds it in 80
// (ptxas: 4 bytes spilled), six warps a scheduler where ncu saw four leave
// half the issue slots empty on the gates' and mma's dependent chains: on the
// H200 the C=16 block 0.573 -> 0.551 ms, the network 19.23 -> 18.97 ms.
template <int C, int RW, typename M, int MINB = 2>
__global__ void __launch_bounds__(NT, MINB) ffn_ig_kernel(const M *x, int h, int w, gpu_block_weights b, M *y)
{
    extern __shared__ __align__(128) unsigned char smem[];
    constexpr int KS = geo<C>::KS, LDK = geo<C>::LDK;
    const int hid = b.hid;
    const ffn_geo F = ffn_geo_of<C>(hid);
    half *A = reinterpret_cast<half *>(smem), *B1 = reinterpret_cast<half *>(smem + F.b1),
         *B2 = reinterpret_cast<half *>(smem + F.b2);
    combine_weights<C>(B1, F.hb * 32, b.pw_in, b.dw, [hid](int n) {
        const int j = (n % 32) / 8, cc = n % 8;
        const int pair = 16 * (n / 32) + (cc / 2) * 2 + (j & 1) + (j >> 1) * 8;
        return pair < hid ? (cc % 2) * hid + pair : -1;
    });
    for (int e = threadIdx.x; e < C * F.ld2; e += NT) {
        const int c = e / F.ld2, k = e % F.ld2;
        B2[e] = __float2half(k < hid ? b.pw_out[(size_t)c * hid + k] : 0.0f);
    }
    const size_t n = (size_t)h * w;
    __syncthreads();
    for_each_tile_rows<RW>(
        h, w, [&](int x0, int y0) { halo_ln<C>(x, n, h, w, x0, y0, b.norm2_w, b.norm2_b, A); },
        [&](int x0, int y0, int r) {
            float out[RW][C / 8][4] = {};
            for (int hb = 0; hb < F.hb; hb++) {
                float acc[RW][4][4] = {};
#pragma unroll
                for (int ks = 0; ks < KS; ks++) {
                    uint32_t a[RW][4], b01[4], b23[4];
#pragma unroll
                    for (int q = 0; q < RW; q++) load_a<C>(a[q], A, r + 8 * q, ks);
                    load_b2(b01, B1, LDK, hb * 32, ks * 16);
                    load_b2(b23, B1, LDK, hb * 32 + 16, ks * 16);
#pragma unroll
                    for (int q = 0; q < RW; q++) {
                        mma16816(acc[q][0], a[q], b01[0], b01[1]);
                        mma16816(acc[q][1], a[q], b01[2], b01[3]);
                        mma16816(acc[q][2], a[q], b23[0], b23[1]);
                        mma16816(acc[q][3], a[q], b23[2], b23[3]);
                    }
                }
                uint32_t ua[RW][4];
#pragma unroll
                for (int q = 0; q < RW; q++) {
                    float u[4][2];
#pragma unroll
                    for (int j = 0; j < 4; j++)
#pragma unroll
                        for (int e = 0; e < 2; e++) {
                            const float t1 = acc[q][j][2 * e], t2 = acc[q][j][2 * e + 1];
                            u[j][e] = sx_dual_gate_fast(t1, t2);
                        }
                    ua[q][0] = pack(u[0][0], u[1][0]), ua[q][1] = pack(u[0][1], u[1][1]);
                    ua[q][2] = pack(u[2][0], u[3][0]), ua[q][3] = pack(u[2][1], u[3][1]);
                }
#pragma unroll
                for (int np = 0; np < C / 16; np++) {
                    uint32_t bo[4];
                    load_b2(bo, B2, F.ld2, np * 16, hb * 16);
#pragma unroll
                    for (int q = 0; q < RW; q++) {
                        mma16816(out[q][2 * np], ua[q], bo[0], bo[1]);
                        mma16816(out[q][2 * np + 1], ua[q], bo[2], bo[3]);
                    }
                }
            }
#pragma unroll
            for (int q = 0; q < RW; q++)
                if (row_in(h, y0, r + 8 * q)) residual_store<C>(x, y, n, w, x0, y0 + r + 8 * q, out[q]);
        });
}

// ------------------------------------------------------------ launchers

template <int C, int RW, typename M>
bool summary_run(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, float *partial, int max_parts,
                 int *parts)
{
    const size_t bytes = summary_bytes<C>();
    if (!opt_in(summary_ig_kernel<C, RW, M>, bytes)) return false;
    const int g = grid_for(summary_ig_kernel<C, RW, M>, bytes, tiles_of(h, w));
    *parts = g < max_parts ? g : max_parts;
    summary_ig_kernel<C, RW, M><<<*parts, NT, bytes, s>>>(x, h, w, b, partial);
    return true;
}

template <int C, typename M>
bool apply_run(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, const float *S, const float *z, M *y)
{
    const size_t bytes = apply_bytes<C>();
    if (!opt_in(apply_ig_kernel<C, M>, bytes)) return false;
    apply_ig_kernel<C, M><<<grid_for(apply_ig_kernel<C, M>, bytes, tiles_of(h, w)), NT, bytes, s>>>(x, h, w, b, S, z, y);
    return true;
}

template <int C, int RW, typename M, int MINB = 2>
bool ffn_run(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, M *y)
{
    const size_t bytes = ffn_geo_of<C>(b.hid).total;
    auto kernel = ffn_ig_kernel<C, RW, M, MINB>;
    if (!opt_in(kernel, bytes)) return false;
    kernel<<<grid_for(kernel, bytes, tiles_of(h, w)), NT, bytes, s>>>(x, h, w, b, y);
    return true;
}

} // namespace

bool ig_block_supported(int c, int heads, int hid)
{
    if (!((c == 16 || c == 32) && heads == c / HEAD && hid >= 1)) return false;
    const size_t ffn = c == 16 ? ffn_geo_of<16>(hid).total : ffn_geo_of<32>(hid).total,
                 other = c == 16 ? std::max(summary_bytes<16>(), apply_bytes<16>())
                                 : std::max(summary_bytes<32>(), apply_bytes<32>());
    return device_takes(std::max(ffn, other));
}

template <typename M>
bool ig_block_summary(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, float *partial,
                      int max_parts, int *parts, bool two_rows)
{
    switch (b.c * 2 + two_rows) {
    case 32: return summary_run<16, 1>(s, b, x, h, w, partial, max_parts, parts);
    case 33: return summary_run<16, 2>(s, b, x, h, w, partial, max_parts, parts);
    case 64: return summary_run<32, 1>(s, b, x, h, w, partial, max_parts, parts);
    case 65: return summary_run<32, 2>(s, b, x, h, w, partial, max_parts, parts);
    default: return false;
    }
}

template <typename M>
bool ig_block_apply(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, const float *S,
                    const float *z, M *y)
{
    switch (b.c) {
    case 16: return apply_run<16>(s, b, x, h, w, S, z, y);
    case 32: return apply_run<32>(s, b, x, h, w, S, z, y);
    default: return false;
    }
}

template <typename M>
bool ig_block_ffn(cudaStream_t s, const gpu_block_weights &b, const M *x, int h, int w, M *y, bool two_rows,
                  bool three_blocks)
{
    if (b.c == 16 && two_rows && three_blocks) return ffn_run<16, 2, M, 3>(s, b, x, h, w, y);
    switch (b.c * 2 + two_rows) {
    case 32: return ffn_run<16, 1>(s, b, x, h, w, y);
    case 33: return ffn_run<16, 2>(s, b, x, h, w, y);
    case 64: return ffn_run<32, 1>(s, b, x, h, w, y);
    case 65: return ffn_run<32, 2>(s, b, x, h, w, y);
    default: return false;
    }
}

template bool ig_block_summary(cudaStream_t, const gpu_block_weights &, const float *, int, int, float *, int, int *, bool);
template bool ig_block_summary(cudaStream_t, const gpu_block_weights &, const __half *, int, int, float *, int, int *, bool);
template bool ig_block_apply(cudaStream_t, const gpu_block_weights &, const float *, int, int, const float *,
                             const float *, float *);
template bool ig_block_apply(cudaStream_t, const gpu_block_weights &, const __half *, int, int, const float *,
                             const float *, __half *);
template bool ig_block_ffn(cudaStream_t, const gpu_block_weights &, const float *, int, int, float *, bool, bool);
template bool ig_block_ffn(cudaStream_t, const gpu_block_weights &, const __half *, int, int, __half *, bool, bool);
