// What the implicit-GEMM tile kernels (block_igemm.cu, fuse_igemm.cu)
// share: a 1x1 convolution followed by a depthwise 3x3 is one dense 3x3, so
// a pass is a GEMM of a tile row's 16 pixels (M) by the outputs (N) over
// 9 taps x C channels (K), read from the tile's 18x18 halo in shared memory.
//
// Shared memory: the halo A position-major, C + 8 halves a position, and
// the combined weights B output-major, 9C + 8 halves a row: either way the
// eight 16-byte rows of an ldmatrix land on distinct banks.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cuda_fp16.h>

#include "mma_sync.cuh"
#include "tile_common.cuh"

namespace igemm {

using tile::HALO;
using tile::HN;
using tile::NT;

__host__ __device__ constexpr size_t aligned(size_t bytes) { return (bytes + 127) / 128 * 128; }

template <int C> struct geo {
    static constexpr int LDC = C + 8;  // halves a halo position in A
    static constexpr int K = 9 * C;    // taps x channels
    static constexpr int KS = K / 16;  // k-steps
    static constexpr int LDK = K + 8;  // halves a row of B
    static constexpr size_t A_BYTES = aligned((size_t)HN * LDC * 2);
};

// The A operand of k-step ks for tile row r: 16 pixels of the row shifted
// by the step's tap, 16 of its channels.
template <int C> __device__ __forceinline__ void load_a(uint32_t (&a)[4], const half *A, int r, int ks)
{
    const int lane = threadIdx.x & 31, tap = ks / (C / 16), cb = ks % (C / 16);
    const int pos = (r + tap / 3) * HALO + tap % 3 + (lane & 15);
    mma::ldsm_x4(a, A + (size_t)pos * geo<C>::LDC + cb * 16 + (lane >> 4) * 8);
}

// The B operands of two n-tiles (rows n0..n0+15 of an output-major matrix
// ld halves a row) at k0: b[0], b[1] for rows n0.., b[2], b[3] for n0+8...
__device__ __forceinline__ void load_b2(uint32_t (&b)[4], const half *B, int ld, int n0, int k0)
{
    const int lane = threadIdx.x & 31;
    mma::ldsm_x4(b, B + (size_t)(n0 + (lane >> 4) * 8 + (lane & 7)) * ld + k0 + ((lane >> 3) & 1) * 8);
}

// Rows of B: row n is output channel chan(n) of the 1x1 pw (C inputs) and
// the depthwise dw after it, as one 3x3: B[n][t C + c] = dw[ch][t] pw[ch][c];
// zeros where chan(n) < 0 (padding).
template <int C, typename F> __device__ void combine_weights(half *B, int rows, const float *pw, const float *dw, F chan)
{
    constexpr int K = geo<C>::K;
    for (int e = threadIdx.x; e < rows * K; e += NT) {
        const int n = e / K, k = e % K, ch = chan(n);
        B[(size_t)n * geo<C>::LDK + k] = __float2half(ch < 0 ? 0.0f : dw[ch * 9 + k / C] * pw[(size_t)ch * C + k % C]);
    }
}

// Whether this device runs the implicit-GEMM kernels with smem bytes of
// shared memory a block: mma.sync m16n8k16 needs compute capability 8.0.
inline bool device_takes(size_t smem) { return tile::device_compute_major() >= 8 && tile::device_smem_takes(smem); }

// Lets kernel use smem bytes of dynamic shared memory (above the default 48 KB).
template <typename K> bool opt_in(K kernel, size_t smem)
{
    return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) == cudaSuccess;
}

// put(c, at, v) for each value v of the accumulators o of tile row py
// (n_tiles n-tiles: channel 8j + 2t, +1 of pixels x0 + g and x0 + g + 8;
// at = py w + px) whose pixel lies in the image: a pass's outputs.
template <int N_TILES, typename Put>
__device__ __forceinline__ void for_each_output(const float (&o)[N_TILES][4], int w, int x0, int py, Put put)
{
    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int e = 0; e < 2; e++) {
        const int px = x0 + g + 8 * e;
        if (px >= w) continue;
        const size_t at = (size_t)py * w + px;
#pragma unroll
        for (int j = 0; j < N_TILES; j++) {
            const size_t c = (size_t)(8 * j + 2 * t);
            put(c, at, o[j][2 * e]);
            put(c + 1, at, o[j][2 * e + 1]);
        }
    }
}

// The persistent grid's walk: for each of this block's tiles, fill(x0, y0)
// writes the tile's halo into shared memory, then body(x0, y0) computes
// from it. The barriers keep the halo whole while the body reads it, and
// free before the next tile's fill.
template <typename Fill, typename Body> __device__ __forceinline__ void for_each_tile(int h, int w, Fill fill, Body body)
{
    const int tiles = tile::tiles_of(h, w);
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        int x0, y0;
        tile::tile_origin(tile, w, &x0, &y0);
        fill(x0, y0);
        __syncthreads();
        body(x0, y0);
        __syncthreads();
    }
}

// row(x0, y0, r) for this warp's rows of each tile that lie in the image
// (warp w: rows w and w + 8, one m16 tile each).
template <typename Fill, typename Row> __device__ __forceinline__ void for_each_tile_row(int h, int w, Fill fill, Row row)
{
    const int warp = threadIdx.x >> 5;
    for_each_tile(h, w, fill, [&](int x0, int y0) {
        for (int r = warp; r < tile::T && y0 + r < h; r += NT / 32) row(x0, y0, r);
    });
}

// As for_each_tile_row, for a pass that runs RW rows a warp at once:
// rows(x0, y0, r) takes rows r, r + 8, ..., r + 8 (RW - 1) of the tile,
// their m16 tiles sharing each B operand (one ldmatrix of the weights serves
// RW mma). RW = 1 is for_each_tile_row; RW = 2 calls it once a warp and
// tile, for rows warp and warp + 8. A row below the image still computes
// (its halo rows are zeros or the image's last rows): rows must neither
// store it nor sum it (row_in).
template <int RW, typename Fill, typename Rows>
__device__ __forceinline__ void for_each_tile_rows(int h, int w, Fill fill, Rows rows)
{
    if constexpr (RW == 1) {
        for_each_tile_row(h, w, fill, rows);
    } else {
        static_assert(RW == 2 && 2 * (NT / 32) == tile::T, "two rows a warp cover the tile");
        const int warp = threadIdx.x >> 5;
        for_each_tile(h, w, fill, [&](int x0, int y0) {
            if (y0 + warp < h) rows(x0, y0, warp);
        });
    }
}

// Whether row r of the tile at y0 lies in the image.
__device__ __forceinline__ bool row_in(int h, int y0, int r) { return y0 + r < h; }

} // namespace igemm
