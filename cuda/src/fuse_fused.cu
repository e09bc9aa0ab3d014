// The Fuse layer in two fused passes (see fuse_fused.cuh). Like the fused
// block: one thread per pixel of a 16x16 tile, the 3C input values of the
// thread's two halo positions in registers, the 1x1 weights in shared memory
// (a broadcast load per multiply-add), one round of halo maps at a time.
#include "fuse_fused.cuh"
#include "fuse_softmax.cuh"
#include "fuse_igemm.cuh"
#include "fuse_tc.cuh"
#include "kernels.cuh"
#include "tile_common.cuh"

namespace {

using namespace tile;

constexpr int QK = 6;     // q and k rows per channel offset c: q_0..2 (rows rC + c), k_0..2 (rows 3C + sC + c)
constexpr int CS = 2;     // channel offsets per round of the sums pass
constexpr int CV = 4;     // v rows per round of the apply pass
constexpr int SUMS = 15;  // |q_r|^2, |k_s|^2, q_r . k_s

// The 3C input values at halo position pos (zeros outside the image); true inside.
template <int X3, typename M>
__device__ bool load_at(const M *x, size_t n, int h, int w, int x0, int y0, int pos, float (&v)[X3])
{
    int gy, gx;
    bool in = halo_pixel(h, w, x0, y0, pos, &gy, &gx);
    const M *p = in ? x + (size_t)gy * w + gx : x;
#pragma unroll
    for (int c = 0; c < X3; c++) v[c] = in ? load(&p[(size_t)c * n]) : 0.0f;
    return in;
}

// ------------------------------------------------------------------- sums

// The q and k rows of the 1x1 grouped by channel offset (6C x 3C) with their
// biases, the depthwise rows (6C x 9) and biases, one round of halo maps.
template <int C> constexpr int sums_floats() { return QK * C * 3 * C + QK * C + QK * C * 9 + QK * C + QK * CS * HN; }

template <int C, typename M>
__global__ void __launch_bounds__(NT) sums_kernel(const M *x, int h, int w, gpu_fuse_weights f, double *partial)
{
    constexpr int X3 = 3 * C;
    extern __shared__ float sm[];
    float *W = sm, *B = W + QK * C * X3, *DW = B + QK * C, *DB = DW + QK * C * 9, *t = DB + QK * C;
    for (int i = threadIdx.x; i < QK * C; i += NT) {
        int row = (i % QK) * C + i / QK; // q_j (j < 3) and k_(j-3) both sit at row j*C + c
        for (int k = 0; k < X3; k++) W[i * X3 + k] = f.qkv_w[(size_t)row * X3 + k];
        for (int k = 0; k < 9; k++) DW[i * 9 + k] = f.dw_w[(size_t)row * 9 + k];
        B[i] = f.qkv_b[row];
        DB[i] = f.dw_b[row];
    }
    const size_t n = (size_t)h * w;
    const int tiles = tiles_of(h, w);
    const int ty = pixel_y(), tx = pixel_x(), p0 = threadIdx.x, p1 = threadIdx.x + NT;
    double acc[SUMS];
#pragma unroll
    for (int i = 0; i < SUMS; i++) acc[i] = 0.0;
    __syncthreads();
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        int x0, y0;
        tile_origin(tile, w, &x0, &y0);
        bool inside = y0 + ty < h && x0 + tx < w;
        float v0[X3], v1[X3], s[SUMS];
        bool in0 = load_at<X3>(x, n, h, w, x0, y0, p0, v0), in1 = load_at<X3>(x, n, h, w, x0, y0, p1, v1);
#pragma unroll
        for (int i = 0; i < SUMS; i++) s[i] = 0.0f;
        for (int c0 = 0; c0 < C; c0 += CS) {
            // The 1x1 output is zero outside the image (bias included): the depthwise conv's padding.
#pragma unroll
            for (int r = 0; r < QK * CS; r++) {
                const int row = QK * c0 + r;
                t[r * HN + p0] = in0 ? dot<X3>(W + row * X3, v0) + B[row] : 0.0f;
                if (p1 < HN) t[r * HN + p1] = in1 ? dot<X3>(W + row * X3, v1) + B[row] : 0.0f;
            }
            __syncthreads();
            if (inside) {
#pragma unroll
                for (int j = 0; j < CS; j++) {
                    float q[3], k[3];
#pragma unroll
                    for (int m = 0; m < 3; m++) {
                        const int rq = QK * j + m, rk = QK * j + 3 + m, row = QK * c0;
                        q[m] = dw_at(t + rq * HN, DW + (row + rq) * 9) + DB[row + rq];
                        k[m] = dw_at(t + rk * HN, DW + (row + rk) * 9) + DB[row + rk];
                    }
#pragma unroll
                    for (int r = 0; r < 3; r++) {
                        s[r] += q[r] * q[r];
                        s[3 + r] += k[r] * k[r];
#pragma unroll
                        for (int m = 0; m < 3; m++) s[6 + 3 * r + m] += q[r] * k[m];
                    }
                }
            }
            __syncthreads();
        }
        // A tile's sums (C terms per thread) in fp32, the running sums in double.
#pragma unroll
        for (int i = 0; i < SUMS; i++) acc[i] += (double)s[i];
    }
    fuse_block_partial<NT>(acc, partial);
}

// ------------------------------------------------------------------- fold

// out = W_out (proj (A (x) I_C) v + b_proj + X): M = W_out proj (A (x) I_C),
// stored transposed (3C x C) for the apply pass, then W_out b_proj (C).
template <int C> __global__ void fold_kernel(gpu_fuse_weights f, const double *sums, float *fold)
{
    constexpr int X3 = 3 * C;
    __shared__ float a[9];
    __shared__ double q[C * X3]; // W_out proj
    if (threadIdx.x == 0) fuse_softmax(sums, f.tau, a);
    for (int e = threadIdx.x; e < C * X3; e += blockDim.x) {
        int o = e / X3, m = e % X3;
        double v = 0.0;
        for (int k = 0; k < X3; k++) v += (double)f.out_w[o * X3 + k] * f.proj_w[k * X3 + m];
        q[e] = v;
    }
    for (int o = threadIdx.x; o < C; o += blockDim.x) {
        double v = 0.0;
        for (int k = 0; k < X3; k++) v += (double)f.out_w[o * X3 + k] * f.proj_b[k];
        fold[X3 * C + o] = (float)v;
    }
    __syncthreads();
    for (int e = threadIdx.x; e < C * X3; e += blockDim.x) {
        int o = e / X3, j = e % X3, s = j / C, c = j % C; // v row j = s C + c
        double v = 0.0;
        for (int r = 0; r < 3; r++) v += q[o * X3 + r * C + c] * a[3 * r + s];
        fold[j * C + o] = (float)v;
    }
}

// ------------------------------------------------------------------ apply

// The v rows of the 1x1 (3C x 3C) and biases, their depthwise rows and
// biases, M^T (3C x C), W_out^T (3C x C), the folded bias (C), a round of halo maps.
template <int C> constexpr int apply_floats() { return 9 * C * C + 3 * C + 27 * C + 3 * C + 6 * C * C + C + CV * HN; }

template <int C, typename M>
__global__ void __launch_bounds__(NT) apply_kernel(const M *x, int h, int w, gpu_fuse_weights f, const float *fold,
                                                   M *out)
{
    constexpr int X3 = 3 * C;
    extern __shared__ float sm[];
    float *WV = sm, *BV = WV + X3 * X3, *DV = BV + X3, *DBV = DV + X3 * 9, *MT = DBV + X3, *WOT = MT + X3 * C,
          *C0 = WOT + X3 * C, *t = C0 + C;
    copy_to_smem(WV, f.qkv_w + (size_t)6 * C * X3, X3 * X3);
    copy_to_smem(BV, f.qkv_b + 6 * C, X3);
    copy_to_smem(DV, f.dw_w + (size_t)6 * C * 9, X3 * 9);
    copy_to_smem(DBV, f.dw_b + 6 * C, X3);
    copy_to_smem(MT, fold, X3 * C);
    copy_to_smem(C0, fold + X3 * C, C);
    for (int e = threadIdx.x; e < X3 * C; e += NT) WOT[e] = f.out_w[(e % C) * X3 + e / C];
    const size_t n = (size_t)h * w;
    const int tiles = tiles_of(h, w);
    const int ty = pixel_y(), tx = pixel_x(), p0 = threadIdx.x, p1 = threadIdx.x + NT;
    __syncthreads();
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        int x0, y0;
        tile_origin(tile, w, &x0, &y0);
        const int py = y0 + ty, px = x0 + tx;
        const bool inside = py < h && px < w;
        const size_t at = inside ? (size_t)py * w + px : 0;
        float v0[X3], v1[X3], acc[C];
        bool in0 = load_at<X3>(x, n, h, w, x0, y0, p0, v0), in1 = load_at<X3>(x, n, h, w, x0, y0, p1, v1);
#pragma unroll
        for (int o = 0; o < C; o++) acc[o] = C0[o];
        if (inside)
            for (int k = 0; k < X3; k++) {
                float xk = load(&x[(size_t)k * n + at]);
#pragma unroll
                for (int o = 0; o < C; o++) acc[o] += WOT[k * C + o] * xk;
            }
        for (int c0 = 0; c0 < X3; c0 += CV) {
#pragma unroll
            for (int r = 0; r < CV; r++) {
                const int row = c0 + r;
                t[r * HN + p0] = in0 ? dot<X3>(WV + row * X3, v0) + BV[row] : 0.0f;
                if (p1 < HN) t[r * HN + p1] = in1 ? dot<X3>(WV + row * X3, v1) + BV[row] : 0.0f;
            }
            __syncthreads();
#pragma unroll
            for (int r = 0; r < CV; r++) {
                const int row = c0 + r;
                float v = dw_at(t + r * HN, DV + row * 9) + DBV[row];
#pragma unroll
                for (int o = 0; o < C; o++) acc[o] += MT[row * C + o] * v;
            }
            __syncthreads();
        }
        if (inside)
#pragma unroll
            for (int o = 0; o < C; o++) store(&out[(size_t)o * n + at], acc[o]);
    }
}

template <int C, typename M>
bool run(cudaStream_t s, const gpu_fuse_weights &f, const M *x, int h, int w, M *out, double *partial, double *sums,
         float *fold, fuse_kernels kernels)
{
    static_assert((3 * C) % CV == 0 && C % CS == 0, "rounds must divide the rows");
    const int tiles = tiles_of(h, w);
    if ((kernels == FUSE_IGEMM || kernels == FUSE_IGEMM2) && ig_fuse_supported(C)) {
        const bool two = kernels == FUSE_IGEMM2;
        int parts = 0;
        if (!ig_fuse_sums(s, f, x, h, w, partial, K_FUSE_BLOCKS, &parts, two)) return false;
        k_fuse_reduce(s, partial, parts, sums);
        fold_kernel<C><<<1, NT, 0, s>>>(f, sums, fold);
        return ig_fuse_apply(s, f, x, h, w, fold, out, two);
    }
    if (kernels != FUSE_FP32 && tc_fuse_supported(C)) {
        int parts = 0;
        if (!tc_fuse_sums(s, f, x, h, w, partial, K_FUSE_BLOCKS, &parts)) return false;
        k_fuse_reduce(s, partial, parts, sums);
        fold_kernel<C><<<1, NT, 0, s>>>(f, sums, fold);
        return tc_fuse_apply(s, f, x, h, w, fold, out);
    }
    const size_t sm_sums = sums_floats<C>() * sizeof(float), sm_apply = apply_floats<C>() * sizeof(float);
    if (cudaFuncSetAttribute(sums_kernel<C, M>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm_sums) ||
        cudaFuncSetAttribute(apply_kernel<C, M>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm_apply))
        return false;
    int parts = grid_for(sums_kernel<C, M>, sm_sums, tiles);
    if (parts > K_FUSE_BLOCKS) parts = K_FUSE_BLOCKS; // the partial buffer's size
    sums_kernel<C, M><<<parts, NT, sm_sums, s>>>(x, h, w, f, partial);
    k_fuse_reduce(s, partial, parts, sums);
    fold_kernel<C><<<1, NT, 0, s>>>(f, sums, fold);
    apply_kernel<C, M><<<grid_for(apply_kernel<C, M>, sm_apply, tiles), NT, sm_apply, s>>>(x, h, w, f, fold, out);
    return true;
}

} // namespace

bool fused_fuse_supported(int c) { return c == 8 || c == 16; }

template <typename M>
bool fused_fuse_run(cudaStream_t s, const gpu_fuse_weights &f, const M *x, int h, int w, M *out, double *partial,
                    double *sums, float *fold, fuse_kernels kernels)
{
    switch (f.c) {
    case 8: return run<8>(s, f, x, h, w, out, partial, sums, fold, kernels);
    case 16: return run<16>(s, f, x, h, w, out, partial, sums, fold, kernels);
    default: return false;
    }
}
template bool fused_fuse_run(cudaStream_t, const gpu_fuse_weights &, const float *, int, int, float *, double *,
                             double *, float *, fuse_kernels);
template bool fused_fuse_run(cudaStream_t, const gpu_fuse_weights &, const __half *, int, int, __half *, double *,
                             double *, float *, fuse_kernels);
