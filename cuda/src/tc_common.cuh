// What the tensor-core tile kernels (block_tc.cu, fuse_tc.cu) share: a 16x16
// tile's 18x18 halo as the rows of an fp16 matrix A (position x channel,
// column-major, 324 positions padded to 336 = 21 row tiles), and the 1x1
// convolution of the halo as A x W^T on WMMA (fp16 in, fp32 out), stored as
// fp32 halo maps T for the depthwise taps.
//
// Shared-memory matrices are column-major with padded leading dimensions, so
// one-thread-per-position writes and the depthwise reads are conflict-free;
// every WMMA pointer is 32-byte aligned (offsets are multiples of 16
// elements on 16-element-multiple strides).
#pragma once
#include <cuda_fp16.h>
#include <mma.h>

#include "tile_common.cuh"

namespace tc {

using namespace nvcuda;
using tile::NT;

constexpr int MP = 336;          // halo positions padded to whole 16-row tiles
constexpr int MT = MP / 16;      // row tiles of the halo
constexpr int LDA = MP + 8;      // halves: column (channel) stride of A
constexpr int LDT = MP + 4;      // floats: column (map) stride of T
constexpr int LDP = NT + 8;      // halves: per-channel rows of per-pixel fp16 matrices (phi_k, v~, u, v)
constexpr int LDO = NT + 4;      // floats: column stride of a per-pixel fp32 output staging
constexpr int WARPS = NT / 32;

using frag_acc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

__host__ __device__ constexpr int round_up(int v, int m) { return (v + m - 1) / m * m; }
__host__ __device__ constexpr size_t aligned(size_t bytes) { return (bytes + 127) / 128 * 128; }

// T (halo maps of rows [16 n0, 16 (n0 + rn))) = A x W^T: tasks of one 16x16
// output tile each, spread over the warps. A holds K channels; W: row-major
// fp16, ldw halves a row.
template <int K>
__device__ void halo_1x1(const half *A, const half *W, int ldw, int n0, int rn, float *T)
{
    const int warp = threadIdx.x / 32;
    for (int task = warp; task < MT * rn; task += WARPS) {
        const int mt = task % MT, nt = task / MT;
        frag_acc acc;
        wmma::fill_fragment(acc, 0.0f);
#pragma unroll
        for (int k = 0; k < K; k += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::col_major> a;
            wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::col_major> b;
            wmma::load_matrix_sync(a, A + (size_t)k * LDA + mt * 16, LDA);
            wmma::load_matrix_sync(b, W + (size_t)(n0 + nt) * 16 * ldw + k, ldw);
            wmma::mma_sync(acc, a, b, acc);
        }
        wmma::store_matrix_sync(T + (size_t)nt * 16 * LDT + mt * 16, acc, LDT, wmma::mem_col_major);
    }
}

// O (the tile's NT pixels x 16 nt outputs, column-major, LDO floats a
// column) = U (NT pixels x k, column-major, LDP halves a column) x W^T, W
// row-major fp16 (16 nt rows, ldw halves a row; k a multiple of 16): the
// per-pixel 1x1 after the depthwise, tasks of one 16x16 tile spread over
// the warps.
__device__ inline void pixels_1x1(const half *U, int k, const half *W, int ldw, int nt, float *O)
{
    const int warp = threadIdx.x / 32;
    for (int task = warp; task < (NT / 16) * nt; task += WARPS) {
        const int mt = task % (NT / 16), ot = task / (NT / 16);
        frag_acc acc;
        wmma::fill_fragment(acc, 0.0f);
        for (int kk = 0; kk < k; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::col_major> fa;
            wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::col_major> fb;
            wmma::load_matrix_sync(fa, U + (size_t)kk * LDP + mt * 16, LDP);
            wmma::load_matrix_sync(fb, W + (size_t)ot * 16 * ldw + kk, ldw);
            wmma::mma_sync(acc, fa, fb, acc);
        }
        wmma::store_matrix_sync(O + (size_t)ot * 16 * LDO + mt * 16, acc, LDO, wmma::mem_col_major);
    }
}

} // namespace tc
