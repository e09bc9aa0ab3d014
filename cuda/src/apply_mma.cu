// The SAGA apply on tensor cores (see apply_mma.cuh).
#include <cmath>
#include <cstdint>

#include "apply_mma.cuh"
#include "mma_sync.cuh"
#include "tile_common.cuh"

namespace {

using mma::mma16816;
using mma::pack;

constexpr int WARPS = 8, STEP = 8, STEPS = 4; // a warp: STEPS steps of STEP pixels (one n-tile each)
constexpr int BLOCK_PIXELS = WARPS * STEP * STEPS;

// relu(q) of row `row` at pixel p; 0 past the map's end.
__device__ __forceinline__ float relu_at(const __half *row, size_t p, size_t n)
{
    return p < n ? fmaxf(__half2float(row[p]), 0.0f) : 0.0f;
}

// EVEN: n is even, so o's rows start 4-byte aligned and a pixel pair (even
// first pixel) is one __half2.
template <int D, bool EVEN>
__global__ void __launch_bounds__(WARPS * 32)
    saga_apply_mma_kernel(const __half *q, size_t n, const float *S, const float *z, __half *o)
{
    constexpr int MT = D / 16, KS = D / 16;
    const int head = blockIdx.y, warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const float *Sh = S + (size_t)head * D * D, *zh = z + (size_t)head * D;
    float m = 0.0f;
    for (int e = lane; e < D * D + D; e += 32) m = fmaxf(m, fabsf(e < D * D ? Sh[e] : zh[e - D * D]));
#pragma unroll
    for (int k = 16; k; k >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, k));
    const float s = mma::fp16_range_scale(m), eps = 1e-6f * s;
    // A: S^T (row j = output, column i = input) per m-tile and k-step; z as row 0 of za.
    uint32_t sa[MT][KS][4], za[KS][4];
    auto st = [&](int j, int i) { return Sh[(size_t)i * D + j] * s; };
#pragma unroll
    for (int ks = 0; ks < KS; ks++) {
        const int i0 = 16 * ks + 2 * t;
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
            const int j0 = 16 * mt + g;
            sa[mt][ks][0] = pack(st(j0, i0), st(j0, i0 + 1));
            sa[mt][ks][1] = pack(st(j0 + 8, i0), st(j0 + 8, i0 + 1));
            sa[mt][ks][2] = pack(st(j0, i0 + 8), st(j0, i0 + 9));
            sa[mt][ks][3] = pack(st(j0 + 8, i0 + 8), st(j0 + 8, i0 + 9));
        }
        za[ks][0] = g == 0 ? pack(zh[i0] * s, zh[i0 + 1] * s) : 0u;
        za[ks][1] = 0u;
        za[ks][2] = g == 0 ? pack(zh[i0 + 8] * s, zh[i0 + 9] * s) : 0u;
        za[ks][3] = 0u;
    }
    const __half *qh = q + (size_t)head * D * n;
    __half *oh = o + (size_t)head * D * n;
    const size_t first = ((size_t)blockIdx.x * WARPS + warp) * STEP * STEPS;
    for (int step = 0; step < STEPS; step++) {
        const size_t p0 = first + (size_t)step * STEP;
        if (p0 >= n) break; // the same for the whole warp
        // B (k = input channel, n = pixel): b0 = channels 2t, 2t + 1 at pixel g; b1 = 2t + 8, 2t + 9.
        uint32_t b[KS][2];
        const size_t p = p0 + g;
#pragma unroll
        for (int ks = 0; ks < KS; ks++) {
            const __half *r = qh + (size_t)(16 * ks + 2 * t) * n;
            b[ks][0] = pack(relu_at(r, p, n), relu_at(r + n, p, n));
            b[ks][1] = pack(relu_at(r + 8 * n, p, n), relu_at(r + 9 * n, p, n));
        }
        float acc[MT][4] = {}, den[4] = {};
#pragma unroll
        for (int ks = 0; ks < KS; ks++) {
#pragma unroll
            for (int mt = 0; mt < MT; mt++) mma16816(acc[mt], sa[mt][ks], b[ks][0], b[ks][1]);
            mma16816(den, za[ks], b[ks][0], b[ks][1]);
        }
        // The denominators of pixels 2t and 2t + 1: row 0 of den, held by lane t (g = 0).
        const float r0 = 1.0f / (__shfl_sync(0xffffffffu, den[0], t) + eps);
        const float r1 = 1.0f / (__shfl_sync(0xffffffffu, den[1], t) + eps);
        const size_t pa = p0 + 2 * t;
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                const float v0 = acc[mt][2 * hf] * r0, v1 = acc[mt][2 * hf + 1] * r1;
                __half *dst = oh + (size_t)(16 * mt + g + 8 * hf) * n + pa;
                if (EVEN && pa < n) {
                    *reinterpret_cast<__half2 *>(dst) = __floats2half2_rn(v0, v1);
                } else {
                    if (pa < n) dst[0] = __float2half_rn(v0);
                    if (pa + 1 < n) dst[1] = __float2half_rn(v1);
                }
            }
    }
}

template <int D>
void launch(cudaStream_t s, const __half *q, int heads, size_t n, const float *S, const float *z, __half *o)
{
    const dim3 grid((unsigned)((n + BLOCK_PIXELS - 1) / BLOCK_PIXELS), (unsigned)heads);
    if (n % 2 == 0) saga_apply_mma_kernel<D, true><<<grid, WARPS * 32, 0, s>>>(q, n, S, z, o);
    else saga_apply_mma_kernel<D, false><<<grid, WARPS * 32, 0, s>>>(q, n, S, z, o);
}

} // namespace

bool mma_apply_supported(int d) { return (d == 16 || d == 32) && tile::device_compute_major() >= 8; }

bool mma_saga_apply(cudaStream_t s, const __half *q, int d, int heads, size_t n, const float *S, const float *z,
                    __half *o)
{
    if (!mma_apply_supported(d)) return false;
    if (d == 16) launch<16>(s, q, heads, n, S, z, o);
    else launch<32>(s, q, heads, n, S, z, o);
    return true;
}
