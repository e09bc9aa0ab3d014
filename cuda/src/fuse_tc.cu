// The fused Fuse layer's passes on tensor cores (see fuse_tc.cuh).
#include "fuse_tc.cuh"

#include "fuse_softmax.cuh"
#include "tc_common.cuh"

namespace {

using namespace tile;
using namespace tc;
using namespace nvcuda;

constexpr int C = 16, X3 = 3 * C;
constexpr int KA = X3 + 16;      // A's columns: the 3C inputs, the ones column, zero padding to a k-step
constexpr int LDW = KA + 8;      // halves per row of a 1x1's weights (the bias at column X3)
constexpr int LDM = X3 + 8;      // halves per output row of the folded M (the apply's second product)
constexpr int SUMS = 15;         // |q_r|^2, |k_s|^2, q_r . k_s

// A's columns X3 + 1 .. KA - 1 are zero for the whole kernel; column X3 is
// written per tile.
__device__ void zero_padding_columns(half *A)
{
    for (int e = threadIdx.x; e < (KA - X3 - 1) * LDA; e += NT) A[(size_t)(X3 + 1) * LDA + e] = __float2half(0.0f);
}

// This thread's halo positions: the 3C inputs and a one (zeros outside the
// image) into A, fp16; in[i]: position threadIdx.x + i NT lies in the image.
template <typename M>
__device__ void halo_x_to_smem(const M *x, size_t n, int h, int w, int x0, int y0, half *A, bool (&in)[2])
{
#pragma unroll
    for (int i = 0; i < 2; i++) {
        const int pos = threadIdx.x + i * NT;
        int gy, gx;
        in[i] = halo_pixel(h, w, x0, y0, pos, &gy, &gx);
        if (pos >= MP) continue;
        const M *p = in[i] ? x + (size_t)gy * w + gx : x;
#pragma unroll
        for (int c = 0; c < X3; c++) A[(size_t)c * LDA + pos] = __float2half(in[i] ? load(&p[(size_t)c * n]) : 0.0f);
        A[(size_t)X3 * LDA + pos] = __float2half(in[i] ? 1.0f : 0.0f);
    }
}

// Rows of a 1x1 (first, count) with their bias in column X3, as fp16.
__device__ void weights_to_smem(const float *w, const float *b, int first, int count, half *W)
{
    for (int e = threadIdx.x; e < count * LDW; e += NT) {
        const int r = e / LDW, k = e % LDW, row = first + r;
        const float v = k < X3 ? w[(size_t)row * X3 + k] : k == X3 ? b[row] : 0.0f;
        W[e] = __float2half(v);
    }
}

// ------------------------------------------------------------------- sums

struct sums_layout {
    size_t a, w, dw, db, t, total;
};

__host__ __device__ inline sums_layout sums_layout_of()
{
    sums_layout L;
    size_t o = 0;
    L.a = o, o += aligned((size_t)KA * LDA * 2);
    L.w = o, o += aligned((size_t)6 * C * LDW * 2);
    L.dw = o, o += aligned((size_t)6 * C * 9 * 4);
    L.db = o, o += aligned((size_t)6 * C * 4);
    L.t = o, o += aligned((size_t)16 * LDT * 4);
    L.total = o;
    return L;
}

// Six rounds, one 16-row tile of the 1x1 each: q_0, q_1, q_2, k_0, k_1, k_2
// (rows rC + c of the 9C qkv rows, in order). The q values of a thread's
// pixel stay in registers until the k rounds meet them.
template <typename M>
__global__ void __launch_bounds__(NT) sums_tc_kernel(const M *x, int h, int w, gpu_fuse_weights f, double *partial)
{
    extern __shared__ __align__(128) unsigned char smem[];
    const sums_layout L = sums_layout_of();
    half *A = (half *)(smem + L.a), *W = (half *)(smem + L.w);
    float *DW = (float *)(smem + L.dw), *DB = (float *)(smem + L.db), *T = (float *)(smem + L.t);
    weights_to_smem(f.qkv_w, f.qkv_b, 0, 6 * C, W);
    for (int e = threadIdx.x; e < 6 * C * 9; e += NT) DW[e] = f.dw_w[e];
    for (int e = threadIdx.x; e < 6 * C; e += NT) DB[e] = f.dw_b[e];
    zero_padding_columns(A);
    const size_t n = (size_t)h * w;
    const int tiles = tiles_of(h, w), ty = pixel_y(), tx = pixel_x();
    double acc[SUMS];
#pragma unroll
    for (int i = 0; i < SUMS; i++) acc[i] = 0.0;
    __syncthreads();
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        int x0, y0;
        tile_origin(tile, w, &x0, &y0);
        const bool inside = y0 + ty < h && x0 + tx < w;
        bool in[2];
        halo_x_to_smem(x, n, h, w, x0, y0, A, in);
        float q[3][C], s[SUMS];
#pragma unroll
        for (int i = 0; i < SUMS; i++) s[i] = 0.0f;
#pragma unroll
        for (int r = 0; r < 6; r++) {
            __syncthreads(); // A written (r = 0) / T read by every thread (r > 0)
            halo_1x1<KA>(A, W, LDW, r, 1, T);
            __syncthreads();
            if (inside) {
#pragma unroll
                for (int c = 0; c < C; c++) {
                    const int row = r * C + c;
                    const float v = dw_at(T + c * LDT, DW + row * 9) + DB[row];
                    if (r < 3) {
                        q[r][c] = v;
                        s[r] += v * v;
                    } else {
                        s[r] += v * v; // |k_(r-3)|^2 at sums[3 + (r - 3)]
#pragma unroll
                        for (int m = 0; m < 3; m++) s[6 + 3 * m + (r - 3)] += q[m][c] * v;
                    }
                }
            }
        }
        // A tile's sums (C terms per thread) in fp32, the running sums in double.
#pragma unroll
        for (int i = 0; i < SUMS; i++) acc[i] += (double)s[i];
        __syncthreads(); // T and A are rewritten by the next tile
    }
    fuse_block_partial<NT>(acc, partial);
}

// ------------------------------------------------------------------ apply

struct apply_layout {
    size_t a, wv, dv, dbv, m, wot, c0, t, u, total;
};

__host__ __device__ inline apply_layout apply_layout_of()
{
    apply_layout L;
    size_t o = 0;
    L.a = o, o += aligned((size_t)KA * LDA * 2);
    L.wv = o, o += aligned((size_t)X3 * LDW * 2);
    L.dv = o, o += aligned((size_t)X3 * 9 * 4);
    L.dbv = o, o += aligned((size_t)X3 * 4);
    L.m = o, o += aligned((size_t)C * LDM * 2);
    L.wot = o, o += aligned((size_t)X3 * C * 4);
    L.c0 = o, o += aligned((size_t)C * 4);
    // T: one round of 16 v halo maps; afterwards the output staging (C x LDO floats).
    L.t = o, o += aligned((size_t)16 * LDT * 4);
    L.u = o, o += aligned((size_t)X3 * LDP * 2);
    L.total = o;
    return L;
}
static_assert(16 * LDT >= C * LDO, "T too small to stage the output");

// out = M v + W_out X + b (fuse_fused.cuh's fold): v (3C per pixel, after
// the depthwise) into U as fp16, three rounds of 16 rows; then O = U x M^T
// on tensor cores; the W_out X term and the bias in fp32 per thread.
template <typename MT>
__global__ void __launch_bounds__(NT) apply_tc_kernel(const MT *x, int h, int w, gpu_fuse_weights f,
                                                      const float *fold, MT *out)
{
    extern __shared__ __align__(128) unsigned char smem[];
    const apply_layout L = apply_layout_of();
    half *A = (half *)(smem + L.a), *WV = (half *)(smem + L.wv), *M = (half *)(smem + L.m), *U = (half *)(smem + L.u);
    float *DV = (float *)(smem + L.dv), *DBV = (float *)(smem + L.dbv), *WOT = (float *)(smem + L.wot),
          *C0 = (float *)(smem + L.c0), *T = (float *)(smem + L.t);
    weights_to_smem(f.qkv_w, f.qkv_b, 6 * C, X3, WV);
    for (int e = threadIdx.x; e < X3 * 9; e += NT) DV[e] = f.dw_w[(size_t)6 * C * 9 + e];
    for (int e = threadIdx.x; e < X3; e += NT) DBV[e] = f.dw_b[6 * C + e];
    for (int e = threadIdx.x; e < C * LDM; e += NT) { // M (C x 3C) from the fold's M^T
        const int o = e / LDM, j = e % LDM;
        M[e] = __float2half(j < X3 ? fold[j * C + o] : 0.0f);
    }
    for (int e = threadIdx.x; e < X3 * C; e += NT) WOT[e] = f.out_w[(e % C) * X3 + e / C];
    for (int e = threadIdx.x; e < C; e += NT) C0[e] = fold[X3 * C + e];
    zero_padding_columns(A);
    const size_t n = (size_t)h * w;
    const int tiles = tiles_of(h, w), ty = pixel_y(), tx = pixel_x();
    __syncthreads();
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        int x0, y0;
        tile_origin(tile, w, &x0, &y0);
        const int py = y0 + ty, px = x0 + tx;
        const bool inside = py < h && px < w;
        const size_t at = inside ? (size_t)py * w + px : 0;
        bool in[2];
        halo_x_to_smem(x, n, h, w, x0, y0, A, in);
        float acc[C];
#pragma unroll
        for (int o = 0; o < C; o++) acc[o] = C0[o];
        if (inside)
            for (int k = 0; k < X3; k++) {
                const float xk = load(&x[(size_t)k * n + at]);
#pragma unroll
                for (int o = 0; o < C; o++) acc[o] += WOT[k * C + o] * xk;
            }
        for (int r = 0; r < 3; r++) {
            __syncthreads(); // A written (r = 0) / T read by every thread (r > 0)
            halo_1x1<KA>(A, WV, LDW, r, 1, T);
            __syncthreads();
#pragma unroll
            for (int c = 0; c < C; c++) {
                const int row = r * C + c;
                const float v = dw_at(T + c * LDT, DV + row * 9) + DBV[row];
                U[(size_t)row * LDP + threadIdx.x] = __float2half(inside ? v : 0.0f);
            }
        }
        __syncthreads(); // U complete; T free
        float *O = T;
        pixels_1x1(U, X3, M, LDM, C / 16, O); // O = U M^T: M is C x 3C, one 16-row tile
        __syncthreads();
        if (inside)
#pragma unroll
            for (int o = 0; o < C; o++) store(&out[(size_t)o * n + at], acc[o] + O[o * LDO + threadIdx.x]);
        // O (= T) and U are rewritten only after the next tile's first barrier.
    }
}

} // namespace

bool tc_fuse_supported(int c) { return c == C && device_smem_takes(sums_layout_of().total) && device_smem_takes(apply_layout_of().total); }

template <typename M>
bool tc_fuse_sums(cudaStream_t s, const gpu_fuse_weights &f, const M *x, int h, int w, double *partial,
                  int max_parts, int *parts)
{
    if (f.c != C) return false;
    const size_t bytes = sums_layout_of().total;
    if (cudaFuncSetAttribute(sums_tc_kernel<M>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes)) return false;
    const int g = grid_for(sums_tc_kernel<M>, bytes, tiles_of(h, w));
    *parts = g < max_parts ? g : max_parts;
    sums_tc_kernel<M><<<*parts, NT, bytes, s>>>(x, h, w, f, partial);
    return true;
}

template <typename M>
bool tc_fuse_apply(cudaStream_t s, const gpu_fuse_weights &f, const M *x, int h, int w, const float *fold, M *out)
{
    if (f.c != C) return false;
    const size_t bytes = apply_layout_of().total;
    if (cudaFuncSetAttribute(apply_tc_kernel<M>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes)) return false;
    apply_tc_kernel<M><<<grid_for(apply_tc_kernel<M>, bytes, tiles_of(h, w)), NT, bytes, s>>>(x, h, w, f, fold, out);
    return true;
}

template bool tc_fuse_sums(cudaStream_t, const gpu_fuse_weights &, const float *, int, int, double *, int, int *);
template bool tc_fuse_sums(cudaStream_t, const gpu_fuse_weights &, const __half *, int, int, double *, int, int *);
template bool tc_fuse_apply(cudaStream_t, const gpu_fuse_weights &, const float *, int, int, const float *, float *);
template bool tc_fuse_apply(cudaStream_t, const gpu_fuse_weights &, const __half *, int, int, const float *, __half *);
