// The deep levels' depthwise 3x3 + gates two pixels a thread (see dw_pairs.cuh).
//
// Same arithmetic as the one-column kernels in kernels.cu, in the same
// order (each output's nine taps summed dy-major from 0 in fp32, the same
// gate functions, round-to-nearest fp16 stores), so the results match
// theirs bit for bit; bench_dw checks that, and both against the CPU.
#include <climits>
#include <cuda_fp16.h>

#include "dw_pairs.cuh"
#include "gelu_fast.h"

namespace {

// A block is a 32 x 32 tile of one channel (blockIdx.z), 16 x 8 threads;
// thread (tx, ty) takes the tile's columns 2 tx, 2 tx + 1 and rows
// ROWS ty .. ROWS ty + ROWS - 1.
constexpr int TW = 32, TH = 32, TX = 16, TY = 8, ROWS = TH / TY;
// The halo in shared memory as fp32 pairs: rows y0 - 1 .. y0 + TH, columns
// x0 - 2 .. x0 + TW + 1 as whole pairs (x0 - 2 and x0 + TW + 1 come along unused).
constexpr int HP = TW / 2 + 2, HR = TH + 2, HPAIRS = HP * HR;

// M maps at channels 0, stride, 2 stride, ... of t (the tile's channel
// plane already added) into sh, zeros outside the image. Thread i takes
// pair column i % HP of rows i / HP, + STEP, ...: its column's bounds check
// and the maps' addresses once, then a row costs one add and a compare.
template <int M> __device__ __forceinline__ void load_pair_halos(float2 (*sh)[HPAIRS], const __half *t, size_t stride, int h, int w)
{
    constexpr int STEP = TX * TY / HP; // rows a pass: 7, so 126 of the 128 threads load
    const int i = threadIdx.y * TX + threadIdx.x, r0 = i / HP, p = i - r0 * HP;
    if (r0 < STEP) {
        const int gx = blockIdx.x * TW - 2 + 2 * p, y0 = blockIdx.y * TH - 1, w2 = w / 2;
        // w is even and gx too: a pair lies wholly inside or wholly outside.
        const bool in_x = (unsigned)gx < (unsigned)w;
        const __half2 *src[M];
#pragma unroll
        for (int m = 0; m < M; m++) src[m] = reinterpret_cast<const __half2 *>(t + m * stride);
        // Every position loads (pair 0 of the plane where it lies outside) and
        // then selects: predicated loads made the compiler recompute the maps'
        // 64-bit addresses inside each one (SASS: ~25 instructions a pair).
        // Unsigned offsets: a 32-bit multiply-add to each address, no sign extension.
        unsigned at = (unsigned)((y0 + r0) * w2 + gx / 2); // in pairs, from src
        for (int r = r0; r < HR; r += STEP, at += STEP * w2) {
            const bool in = in_x && (unsigned)(y0 + r) < (unsigned)h;
            const unsigned a = in ? at : 0u;
#pragma unroll
            for (int m = 0; m < M; m++) {
                const __half2 v = src[m][a];
                sh[m][r * HP + p] = __half22float2(in ? v : __float2half2_rn(0.0f));
            }
        }
    }
    __syncthreads();
}

// out[r][e] = the depthwise 3x3 (taps wt[0..8]) of halo map m at this
// thread's pixel (row ROWS ty + r, column 2 tx + e of the tile).
__device__ __forceinline__ void dw_at(const float2 *m, const float *wt, float (&out)[ROWS][2])
{
    float k9[9];
#pragma unroll
    for (int k = 0; k < 9; k++) k9[k] = __ldg(wt + k);
    // The window: halo rows ROWS ty .. + ROWS + 1; tile columns 2 tx - 1 ..
    // 2 tx + 2, which are halo columns 2 tx + 1 .. 2 tx + 4: pairs tx .. tx + 2.
    const float2 *p = m + threadIdx.y * ROWS * HP + threadIdx.x;
    float win[ROWS + 2][4];
#pragma unroll
    for (int r = 0; r < ROWS + 2; r++) {
        const float2 a = p[r * HP], b = p[r * HP + 1], c = p[r * HP + 2];
        win[r][0] = a.y, win[r][1] = b.x, win[r][2] = b.y, win[r][3] = c.x;
    }
#pragma unroll
    for (int r = 0; r < ROWS; r++)
#pragma unroll
        for (int e = 0; e < 2; e++) {
            float acc = 0.0f;
#pragma unroll
            for (int dy = 0; dy < 3; dy++)
#pragma unroll
                for (int dx = 0; dx < 3; dx++) acc += k9[dy * 3 + dx] * win[r + dy][e + dx];
            out[r][e] = acc;
        }
}

// This thread's pixels of v into the map at u (its first pixel's address), rows rows of them.
__device__ __forceinline__ void store_pairs(__half *u, int w, int rows, const float (&v)[ROWS][2])
{
#pragma unroll
    for (int r = 0; r < ROWS; r++)
        if (r < rows) *reinterpret_cast<__half2 *>(u + r * w) = __floats2half2_rn(v[r][0], v[r][1]);
}

__global__ void __launch_bounds__(TX *TY) attn_pairs_kernel(const __half *t, int c, int h, int w, const float *wt, __half *u)
{
    __shared__ float2 sh[5][HPAIRS];
    const size_t n = (size_t)h * w, cn = (size_t)c * n;
    const int ch = blockIdx.z;
    load_pair_halos<5>(sh, t + (size_t)ch * n, cn, h, w);
    const int px = blockIdx.x * TW + 2 * threadIdx.x, py = blockIdx.y * TH + threadIdx.y * ROWS;
    if (px >= w || py >= h) return;
    const int rows = h - py;
    __half *out = u + (size_t)ch * n + py * w + px;
    float a[ROWS][2], b[ROWS][2];
    dw_at(sh[0], wt + (size_t)ch * 9, a); // q
    store_pairs(out, w, rows, a);
    dw_at(sh[1], wt + ((size_t)c + ch) * 9, a); // relu(k) sigmoid(gk)
    dw_at(sh[3], wt + ((size_t)3 * c + ch) * 9, b);
#pragma unroll
    for (int r = 0; r < ROWS; r++)
#pragma unroll
        for (int e = 0; e < 2; e++) a[r][e] = fmaxf(a[r][e], 0.0f) * sx_sigmoid_fast(b[r][e]);
    store_pairs(out + cn, w, rows, a);
    dw_at(sh[2], wt + ((size_t)2 * c + ch) * 9, a); // v sigmoid(gv)
    dw_at(sh[4], wt + ((size_t)4 * c + ch) * 9, b);
#pragma unroll
    for (int r = 0; r < ROWS; r++)
#pragma unroll
        for (int e = 0; e < 2; e++) a[r][e] = a[r][e] * sx_sigmoid_fast(b[r][e]);
    store_pairs(out + 2 * cn, w, rows, a);
}

__global__ void __launch_bounds__(TX *TY) ffn_pairs_kernel(const __half *t, int hid, int h, int w, const float *wt, __half *u)
{
    __shared__ float2 sh[2][HPAIRS];
    const size_t n = (size_t)h * w;
    const int ch = blockIdx.z;
    load_pair_halos<2>(sh, t + (size_t)ch * n, (size_t)hid * n, h, w);
    const int px = blockIdx.x * TW + 2 * threadIdx.x, py = blockIdx.y * TH + threadIdx.y * ROWS;
    if (px >= w || py >= h) return;
    float a[ROWS][2], b[ROWS][2];
    dw_at(sh[0], wt + (size_t)ch * 9, a);
    dw_at(sh[1], wt + ((size_t)hid + ch) * 9, b);
#pragma unroll
    for (int r = 0; r < ROWS; r++)
#pragma unroll
        for (int e = 0; e < 2; e++) a[r][e] = sx_dual_gate_fast(a[r][e], b[r][e]);
    store_pairs(u + (size_t)ch * n + py * w + px, w, h - py, a);
}

dim3 grid_of(int h, int w, int c) { return dim3((w + TW - 1) / TW, (h + TH - 1) / TH, c); }

} // namespace

bool dw_pairs_supported(int h, int w) { return h > 0 && w > 0 && w % 2 == 0 && (long long)h * w <= INT_MAX; }

void k_attn_dw_gate_pairs(cudaStream_t s, const __half *t, int c, int h, int w, const float *wt, __half *u)
{
    attn_pairs_kernel<<<grid_of(h, w, c), dim3(TX, TY), 0, s>>>(t, c, h, w, wt, u);
}

void k_ffn_dw_gate_pairs(cudaStream_t s, const __half *t, int hid, int h, int w, const float *wt, __half *u)
{
    ffn_pairs_kernel<<<grid_of(h, w, hid), dim3(TX, TY), 0, s>>>(t, hid, h, w, wt, u);
}
