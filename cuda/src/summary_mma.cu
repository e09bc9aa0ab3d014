// The SAGA summary's partial sums on tensor cores (see summary_mma.cuh).
//
// A block is one chunk of one head, its eight warps taking 16-pixel steps in
// turn. For a step at pixel p the operands come straight from the maps, as
// the fragment layouts of mma_sync.cuh want them: A (16 channels x 16
// pixels) is phi_k's rows, row-major as stored; B (16 pixels x 8 channels,
// k x n) is v's rows read as columns, which is v's storage too. So
// S[i][j] = sum_p phi_k[i][p] v[j][p] needs no transpose and no shared
// memory; the warps' accumulators meet in shared memory once at the end and
// are summed in a fixed order (deterministic).
#include <cstdint>

#include "mma_sync.cuh"
#include "summary_mma.cuh"
#include "tile_common.cuh"

namespace {

using mma::mma16816;

constexpr int WARPS = 8, STEP = 16;

// Two fp16 of row `row` at pixels p and p + 1 as one register (p + 1 < end
// or both zero past it). EVEN: n is even, so p (even) is 4-byte aligned.
template <bool EVEN>
__device__ __forceinline__ uint32_t pair(const __half *row, size_t p, size_t end)
{
    if (p >= end) return 0u;
    if constexpr (EVEN) {
        return *reinterpret_cast<const uint32_t *>(row + p);
    } else {
        const __half lo = row[p], hi = p + 1 < end ? row[p + 1] : __float2half(0.0f);
        return (uint32_t)__half_as_ushort(lo) | ((uint32_t)__half_as_ushort(hi) << 16);
    }
}

template <int D, bool EVEN>
__global__ void __launch_bounds__(WARPS * 32) saga_partial_mma_kernel(const __half *k, const __half *v, size_t n,
                                                                     size_t chunk, float *partial)
{
    constexpr int MT = D / 16, NT8 = D / 8, PER = D * D + D;
    __shared__ float sh[WARPS][PER];
    const int head = blockIdx.y, heads = gridDim.y, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    const __half *kh = k + (size_t)head * D * n, *vh = v + (size_t)head * D * n;
    const size_t begin = (size_t)blockIdx.x * chunk, end = begin + chunk < n ? begin + chunk : n;
    float acc[MT][NT8][4] = {}, zacc[MT][4] = {};
    const uint32_t ones = 0x3C003C00u; // two fp16 1.0
#pragma unroll 2 // two steps' loads in flight
    for (size_t p = begin + (size_t)warp * STEP; p < end; p += WARPS * STEP) {
        const size_t c0 = p + 2 * t, c1 = c0 + 8; // this lane's pixel pairs in the step
        uint32_t a[MT][4], b[NT8][2];
#pragma unroll
        for (int m = 0; m < MT; m++) {
            const __half *r0 = kh + (size_t)(16 * m + g) * n, *r1 = r0 + 8 * n;
            a[m][0] = pair<EVEN>(r0, c0, end);
            a[m][1] = pair<EVEN>(r1, c0, end);
            a[m][2] = pair<EVEN>(r0, c1, end);
            a[m][3] = pair<EVEN>(r1, c1, end);
        }
#pragma unroll
        for (int j = 0; j < NT8; j++) {
            const __half *r = vh + (size_t)(8 * j + g) * n;
            b[j][0] = pair<EVEN>(r, c0, end);
            b[j][1] = pair<EVEN>(r, c1, end);
        }
#pragma unroll
        for (int m = 0; m < MT; m++) {
#pragma unroll
            for (int j = 0; j < NT8; j++) mma16816(acc[m][j], a[m], b[j][0], b[j][1]);
            mma16816(zacc[m], a[m], ones, ones);
        }
    }
    // Accumulator (g, 2t + e) of tile (m, j) is S[16m + g][8j + 2t + e];
    // (g + 8, ...) in registers 2 and 3. z: any column of the ones product.
    float *mine = sh[warp];
#pragma unroll
    for (int m = 0; m < MT; m++) {
#pragma unroll
        for (int j = 0; j < NT8; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int i = 16 * m + g + 8 * (e >> 1), jj = 8 * j + 2 * t + (e & 1);
                mine[i * D + jj] = acc[m][j][e];
            }
        if (t == 0) {
            mine[D * D + 16 * m + g] = zacc[m][0];
            mine[D * D + 16 * m + g + 8] = zacc[m][2];
        }
    }
    __syncthreads();
    float *out = partial + ((size_t)blockIdx.x * heads + head) * PER;
    for (int e = threadIdx.x; e < PER; e += WARPS * 32) {
        float s = 0.0f;
#pragma unroll
        for (int w = 0; w < WARPS; w++) s += sh[w][e];
        out[e] = s;
    }
}

template <int D>
void launch(cudaStream_t s, const __half *k, const __half *v, int heads, size_t n, size_t chunk, int parts,
            float *partial)
{
    const dim3 grid((unsigned)parts, (unsigned)heads);
    if (n % 2 == 0) saga_partial_mma_kernel<D, true><<<grid, WARPS * 32, 0, s>>>(k, v, n, chunk, partial);
    else saga_partial_mma_kernel<D, false><<<grid, WARPS * 32, 0, s>>>(k, v, n, chunk, partial);
}

} // namespace

bool mma_saga_supported(int d) { return (d == 16 || d == 32) && tile::device_compute_major() >= 8; }

bool mma_saga_partial(cudaStream_t s, const __half *k, const __half *v, int d, int heads, size_t n, size_t chunk,
                      int parts, float *partial)
{
    if (chunk % STEP || !mma_saga_supported(d)) return false;
    if (d == 16) launch<16>(s, k, v, heads, n, chunk, parts, partial);
    else launch<32>(s, k, v, heads, n, chunk, parts, partial);
    return true;
}
