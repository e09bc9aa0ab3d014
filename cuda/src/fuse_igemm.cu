// The Fuse layer's passes as implicit GEMMs (see fuse_igemm.cuh).
//
// As block_igemm.cu: one thread block per 16x16 tile of a persistent grid,
// warp w on the tile's rows w and w + 8, one m16 tile (16 pixels) each;
// the halo of X (48 channels) and the combined weights in shared memory
// (igemm_common.cuh).
#include <algorithm>
#include <cuda_fp16.h>

#include "fuse_igemm.cuh"
#include "fuse_softmax.cuh"
#include "igemm_common.cuh"

namespace {

using namespace igemm;
using namespace tile;
using mma::mma16816;
using mma::pack;

constexpr int C = 16, X3 = 3 * C, KS = geo<X3>::KS, LDK = geo<X3>::LDK;
constexpr int LDB = 24;          // halves a row of the bias step's B: 9 taps, the constant, padding
constexpr int LD2 = 2 * X3 + 8;  // halves a row of [M | W_out]
constexpr int SUMS = 15;         // |q_r|^2, |k_s|^2, q_r . k_s

// The halo of x (3C channels as they are) into A, fp16, zeros outside the image.
template <typename M> __device__ void halo_x(const M *x, size_t n, int h, int w, int x0, int y0, half *A)
{
    for (int pos = threadIdx.x; pos < HN; pos += NT) {
        int gy, gx;
        uint4 *dst = reinterpret_cast<uint4 *>(A + (size_t)pos * geo<X3>::LDC);
        if (!halo_pixel(h, w, x0, y0, pos, &gy, &gx)) {
#pragma unroll
            for (int c = 0; c < X3; c += 8) dst[c / 8] = make_uint4(0u, 0u, 0u, 0u);
            continue;
        }
        const M *p = x + (size_t)gy * w + gx;
#pragma unroll
        for (int c = 0; c < X3; c += 8) {
            float v[8];
#pragma unroll
            for (int i = 0; i < 8; i++) v[i] = load(&p[(size_t)(c + i) * n]);
            dst[c / 8] = make_uint4(pack(v[0], v[1]), pack(v[2], v[3]), pack(v[4], v[5]), pack(v[6], v[7]));
        }
    }
}

// The A operand of the bias step for tile row r: column k < 9 is 1 where
// tap k of the pixel lies inside the image (the 1x1's bias reaches the
// depthwise only there), column 9 is 1 (the depthwise's bias), the rest 0.
__device__ __forceinline__ void bias_a(uint32_t (&a)[4], int h, int w, int x0, int y0, int r)
{
    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    auto one = [&](int m, int k) {
        if (k >= 9) return k == 9 ? 1.0f : 0.0f;
        const int yy = y0 + r + k / 3 - 1, xx = x0 + m + k % 3 - 1;
        return yy >= 0 && yy < h && xx >= 0 && xx < w ? 1.0f : 0.0f;
    };
    a[0] = pack(one(g, 2 * t), one(g, 2 * t + 1));
    a[1] = pack(one(g + 8, 2 * t), one(g + 8, 2 * t + 1));
    a[2] = pack(one(g, 2 * t + 8), one(g, 2 * t + 9));
    a[3] = pack(one(g + 8, 2 * t + 8), one(g + 8, 2 * t + 9));
}

// The bias step's B for the 1x1/depthwise rows first .. first + rows: tap
// k's share of the 1x1's bias, dw[ch][k] b1[ch]; the depthwise's bias at k = 9.
__device__ void bias_weights(half *Bb, int first, int rows, const gpu_fuse_weights &f)
{
    for (int e = threadIdx.x; e < rows * LDB; e += NT) {
        const int n = e / LDB, k = e % LDB, ch = first + n;
        const float v = k < 9 ? f.dw_w[ch * 9 + k] * f.qkv_b[ch] : k == 9 ? f.dw_b[ch] : 0.0f;
        Bb[e] = __float2half(v);
    }
}

// acc[q] (N2 n-tiles: rows 0 .. 8 N2 of B and Bb) = the 1x1 + depthwise of
// tile row r + 8 q (q < RW: for_each_tile_rows) with both biases; each B
// operand loaded once for the RW rows. CENTRE: keep the centre tap's A
// operands (X at the row's own pixels, k-steps 12..14) in centre[q].
template <int RW, int N2, bool CENTRE>
__device__ __forceinline__ void conv_rows(float (&acc)[RW][N2][4], const half *A, const half *B, const half *Bb, int h,
                                          int w, int x0, int y0, int r, uint32_t (&centre)[RW][3][4])
{
#pragma unroll
    for (int ks = 0; ks < KS; ks++) {
        uint32_t a[RW][4];
#pragma unroll
        for (int q = 0; q < RW; q++) {
            load_a<X3>(a[q], A, r + 8 * q, ks);
            if (CENTRE && ks / 3 == 4)
#pragma unroll
                for (int i = 0; i < 4; i++) centre[q][ks % 3][i] = a[q][i];
        }
#pragma unroll
        for (int p = 0; p < N2 / 2; p++) {
            uint32_t bb[4];
            load_b2(bb, B, LDK, 16 * p, 16 * ks);
#pragma unroll
            for (int q = 0; q < RW; q++) {
                mma16816(acc[q][2 * p], a[q], bb[0], bb[1]);
                mma16816(acc[q][2 * p + 1], a[q], bb[2], bb[3]);
            }
        }
    }
    uint32_t a[RW][4];
#pragma unroll
    for (int q = 0; q < RW; q++) bias_a(a[q], h, w, x0, y0, r + 8 * q);
#pragma unroll
    for (int p = 0; p < N2 / 2; p++) {
        uint32_t bb[4];
        load_b2(bb, Bb, LDB, 16 * p, 0);
#pragma unroll
        for (int q = 0; q < RW; q++) {
            mma16816(acc[q][2 * p], a[q], bb[0], bb[1]);
            mma16816(acc[q][2 * p + 1], a[q], bb[2], bb[3]);
        }
    }
}

// ------------------------------------------------------------------- sums

constexpr size_t SUMS_B = geo<X3>::A_BYTES, SUMS_BB = SUMS_B + aligned((size_t)2 * X3 * LDK * 2),
                 SUMS_BYTES = SUMS_BB + aligned((size_t)2 * X3 * LDB * 2);

// B's 96 rows: q_0, q_1, q_2, k_0, k_1, k_2 (the first 6C of the 9C qkv
// rows, in order), so q_r and k_s of channel c are in the same column of
// n-tiles 2r + c / 8 and 6 + 2s + c / 8: in one thread. RW rows a warp at
// once (RW = 2: the weights' operands loaded once for two m16 tiles).
template <int RW, typename M>
__global__ void __launch_bounds__(NT, 1) sums_ig_kernel(const M *x, int h, int w, gpu_fuse_weights f, double *partial)
{
    extern __shared__ __align__(128) unsigned char smem[];
    half *A = reinterpret_cast<half *>(smem), *B = reinterpret_cast<half *>(smem + SUMS_B),
         *Bb = reinterpret_cast<half *>(smem + SUMS_BB);
    combine_weights<X3>(B, 2 * X3, f.qkv_w, f.dw_w, [](int n) { return n; });
    bias_weights(Bb, 0, 2 * X3, f);
    const int lane = threadIdx.x & 31, g = lane >> 2;
    const size_t n = (size_t)h * w;
    double acc[SUMS];
#pragma unroll
    for (int i = 0; i < SUMS; i++) acc[i] = 0.0;
    __syncthreads();
    for_each_tile_rows<RW>(
        h, w, [&](int x0, int y0) { halo_x(x, n, h, w, x0, y0, A); },
        [&](int x0, int y0, int r) {
            float t[RW][12][4] = {}, s[SUMS] = {};
            uint32_t unused[RW][3][4];
            conv_rows<RW, 12, false>(t, A, B, Bb, h, w, x0, y0, r, unused);
#pragma unroll
            for (int q = 0; q < RW; q++) {
                const bool row = row_in(h, y0, r + 8 * q), in0 = row && x0 + g < w, in1 = row && x0 + g + 8 < w;
#pragma unroll
                for (int hf = 0; hf < 2; hf++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        if (!(e < 2 ? in0 : in1)) continue;
                        float qv[3];
#pragma unroll
                        for (int rr = 0; rr < 3; rr++) {
                            qv[rr] = t[q][2 * rr + hf][e];
                            s[rr] += qv[rr] * qv[rr];
                        }
#pragma unroll
                        for (int ss = 0; ss < 3; ss++) {
                            const float k = t[q][6 + 2 * ss + hf][e];
                            s[3 + ss] += k * k;
#pragma unroll
                            for (int rr = 0; rr < 3; rr++) s[6 + 3 * rr + ss] += qv[rr] * k;
                        }
                    }
            }
            // The rows' sums (at most 32 RW terms a thread) in fp32, the running sums in double.
#pragma unroll
            for (int i = 0; i < SUMS; i++) acc[i] += (double)s[i];
        });
    fuse_block_partial<NT>(acc, partial);
}

// ------------------------------------------------------------------ apply

constexpr size_t APPLY_B = geo<X3>::A_BYTES, APPLY_BB = APPLY_B + aligned((size_t)X3 * LDK * 2),
                 APPLY_B2 = APPLY_BB + aligned((size_t)X3 * LDB * 2), APPLY_C0 = APPLY_B2 + aligned((size_t)C * LD2 * 2),
                 APPLY_BYTES = APPLY_C0 + aligned((size_t)C * 4);

// v (the last 3C of the 9C rows) per tile row, then out = M v + W_out X + c0
// with v's accumulators and the centre tap's A as the operands of one more
// product against [M | W_out] (C x 6C). RW rows a warp at once, as the sums.
template <int RW, typename MT>
__global__ void __launch_bounds__(NT, 2) apply_ig_kernel(const MT *x, int h, int w, gpu_fuse_weights f,
                                                        const float *fold, MT *out)
{
    extern __shared__ __align__(128) unsigned char smem[];
    half *A = reinterpret_cast<half *>(smem), *B = reinterpret_cast<half *>(smem + APPLY_B),
         *Bb = reinterpret_cast<half *>(smem + APPLY_BB), *B2 = reinterpret_cast<half *>(smem + APPLY_B2);
    float *C0 = reinterpret_cast<float *>(smem + APPLY_C0);
    combine_weights<X3>(B, X3, f.qkv_w, f.dw_w, [](int n) { return 2 * X3 + n; });
    bias_weights(Bb, 2 * X3, X3, f);
    for (int e = threadIdx.x; e < C * LD2; e += NT) { // [M | W_out]; M from the fold's M^T (3C x C)
        const int o = e / LD2, k = e % LD2;
        B2[e] = __float2half(k < X3 ? fold[k * C + o] : k < 2 * X3 ? f.out_w[o * X3 + k - X3] : 0.0f);
    }
    for (int e = threadIdx.x; e < C; e += NT) C0[e] = fold[X3 * C + e];
    const size_t n = (size_t)h * w;
    __syncthreads();
    for_each_tile_rows<RW>(
        h, w, [&](int x0, int y0) { halo_x(x, n, h, w, x0, y0, A); },
        [&](int x0, int y0, int r) {
            float v[RW][6][4] = {};
            uint32_t xa[RW][3][4];
            conv_rows<RW, 6, true>(v, A, B, Bb, h, w, x0, y0, r, xa);
            float o[RW][2][4] = {};
#pragma unroll
            for (int kq = 0; kq < 3; kq++) {
                uint32_t bv[4], bx[4];
                load_b2(bv, B2, LD2, 0, 16 * kq);
                load_b2(bx, B2, LD2, 0, X3 + 16 * kq);
#pragma unroll
                for (int q = 0; q < RW; q++) {
                    const float *v0 = v[q][2 * kq], *v1 = v[q][2 * kq + 1];
                    const uint32_t va[4] = {pack(v0[0], v0[1]), pack(v0[2], v0[3]), pack(v1[0], v1[1]), pack(v1[2], v1[3])};
                    mma16816(o[q][0], va, bv[0], bv[1]);
                    mma16816(o[q][1], va, bv[2], bv[3]);
                    mma16816(o[q][0], xa[q][kq], bx[0], bx[1]);
                    mma16816(o[q][1], xa[q][kq], bx[2], bx[3]);
                }
            }
#pragma unroll
            for (int q = 0; q < RW; q++)
                if (row_in(h, y0, r + 8 * q))
                    for_each_output(o[q], w, x0, y0 + r + 8 * q, [&](size_t c, size_t at, float val) {
                        store(&out[c * n + at], val + C0[c]);
                    });
        });
}
template <int RW, typename M>
bool sums_run(cudaStream_t s, const gpu_fuse_weights &f, const M *x, int h, int w, double *partial, int max_parts,
              int *parts)
{
    if (!opt_in(sums_ig_kernel<RW, M>, SUMS_BYTES)) return false;
    const int g = grid_for(sums_ig_kernel<RW, M>, SUMS_BYTES, tiles_of(h, w));
    *parts = g < max_parts ? g : max_parts;
    sums_ig_kernel<RW, M><<<*parts, NT, SUMS_BYTES, s>>>(x, h, w, f, partial);
    return true;
}

template <int RW, typename M>
bool apply_run(cudaStream_t s, const gpu_fuse_weights &f, const M *x, int h, int w, const float *fold, M *out)
{
    if (!opt_in(apply_ig_kernel<RW, M>, APPLY_BYTES)) return false;
    apply_ig_kernel<RW, M><<<grid_for(apply_ig_kernel<RW, M>, APPLY_BYTES, tiles_of(h, w)), NT, APPLY_BYTES, s>>>(
        x, h, w, f, fold, out);
    return true;
}

} // namespace

bool ig_fuse_supported(int c)
{
    return c == C && device_takes(std::max(SUMS_BYTES, APPLY_BYTES));
}

template <typename M>
bool ig_fuse_sums(cudaStream_t s, const gpu_fuse_weights &f, const M *x, int h, int w, double *partial,
                  int max_parts, int *parts, bool two_rows)
{
    if (f.c != C) return false;
    return two_rows ? sums_run<2>(s, f, x, h, w, partial, max_parts, parts)
                    : sums_run<1>(s, f, x, h, w, partial, max_parts, parts);
}

template <typename M>
bool ig_fuse_apply(cudaStream_t s, const gpu_fuse_weights &f, const M *x, int h, int w, const float *fold, M *out,
                   bool two_rows)
{
    if (f.c != C) return false;
    return two_rows ? apply_run<2>(s, f, x, h, w, fold, out) : apply_run<1>(s, f, x, h, w, fold, out);
}

template bool ig_fuse_sums(cudaStream_t, const gpu_fuse_weights &, const float *, int, int, double *, int, int *, bool);
template bool ig_fuse_sums(cudaStream_t, const gpu_fuse_weights &, const __half *, int, int, double *, int, int *, bool);
template bool ig_fuse_apply(cudaStream_t, const gpu_fuse_weights &, const float *, int, int, const float *, float *, bool);
template bool ig_fuse_apply(cudaStream_t, const gpu_fuse_weights &, const __half *, int, int, const float *, __half *, bool);
