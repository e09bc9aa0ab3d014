// Per-layer kernels (see kernels.cuh), fp32 arithmetic on fp32 or fp16
// storage. Launch errors are checked by the caller (cudaGetLastError after
// each step).
#include "kernels.cuh"
#include "fuse_softmax.cuh"
#include "map_io.cuh"
#include "summary_mma.cuh"
#include "gelu_fast.h"

#include <cmath>
#include <cuda_fp16.h>
#include <type_traits>

namespace {

constexpr int THREADS = 256;

unsigned blocks_for(size_t n) { return (unsigned)((n + THREADS - 1) / THREADS); }

__device__ float gelu(float v) { return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); }
__device__ float sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }

// The gates of the depthwise kernels below: exact on fp32 maps (the GPU's
// plain reference); on fp16 maps, whose storage rounds them by 2^-11 right
// after, the fast forms of gelu_fast.h (1.5e-7 in erf, ~2 ulp in the
// sigmoid), as the implicit-GEMM block uses. H200, C=64 at 320^2: the FFN's
// depthwise + dual gate was issue-bound on erff (108 us for 117 MB).
template <typename T> __device__ __forceinline__ float gate_of(float v)
{
    if constexpr (std::is_same<T, __half>::value) return sx_sigmoid_fast(v);
    else return sigmoid(v);
}
template <typename T> __device__ __forceinline__ float dual_gate_of(float a, float b)
{
    if constexpr (std::is_same<T, __half>::value) return sx_dual_gate_fast(a, b);
    else return gelu(b) * a + gelu(a) * b;
}


// A 16x16 tile of output pixels for COB output channels per block: input
// channels stream through shared memory CIB at a time with a one-pixel halo,
// their weights beside them, so every input value is read from device memory
// once per block instead of 9 * COB times.
constexpr int TILE = 16, COB = 8, CIB = 8, HALO = TILE + 2;

template <typename TI, typename TO>
__global__ void __launch_bounds__(TILE * TILE) conv3x3_tiled_kernel(const TI *x, int cin, int h, int w,
                                                                    const float *wt, const float *bias, int cout,
                                                                    TO *y)
{
    __shared__ float tile[CIB][HALO][HALO];
    __shared__ float wsh[COB][CIB][9];
    const int tx = threadIdx.x % TILE, ty = threadIdx.x / TILE;
    const int x0 = blockIdx.x * TILE, y0 = blockIdx.y * TILE, o0 = blockIdx.z * COB;
    const size_t n = (size_t)h * w;
    float acc[COB];
#pragma unroll
    for (int o = 0; o < COB; o++) acc[o] = (bias && o0 + o < cout) ? bias[o0 + o] : 0.0f;
    for (int c0 = 0; c0 < cin; c0 += CIB) {
        for (int i = threadIdx.x; i < CIB * HALO * HALO; i += TILE * TILE) {
            int c = i / (HALO * HALO), r = i % (HALO * HALO), yy = y0 + r / HALO - 1, xx = x0 + r % HALO - 1;
            bool in = c0 + c < cin && yy >= 0 && yy < h && xx >= 0 && xx < w;
            tile[c][r / HALO][r % HALO] = in ? load(&x[(size_t)(c0 + c) * n + (size_t)yy * w + xx]) : 0.0f;
        }
        for (int i = threadIdx.x; i < COB * CIB * 9; i += TILE * TILE) {
            int o = i / (CIB * 9), c = (i / 9) % CIB, k = i % 9;
            wsh[o][c][k] = (o0 + o < cout && c0 + c < cin) ? wt[((size_t)(o0 + o) * cin + c0 + c) * 9 + k] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int c = 0; c < CIB; c++)
#pragma unroll
            for (int k = 0; k < 9; k++) {
                float v = tile[c][ty + k / 3][tx + k % 3];
#pragma unroll
                for (int o = 0; o < COB; o++) acc[o] += wsh[o][c][k] * v;
            }
        __syncthreads();
    }
    int px = x0 + tx, py = y0 + ty;
    if (px >= w || py >= h) return;
#pragma unroll
    for (int o = 0; o < COB; o++)
        if (o0 + o < cout) store(&y[(size_t)(o0 + o) * n + (size_t)py * w + px], acc[o]);
}

__global__ void dwconv3x3_kernel(const float *x, int h, int w, const float *wt, const float *bias, float *y)
{
    size_t n = (size_t)h * w, i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    int c = blockIdx.y;
    if (i >= n) return;
    int py = (int)(i / w), px = (int)(i % w);
    const float *xc = x + (size_t)c * n, *wc = wt + (size_t)c * 9;
    float acc = bias ? bias[c] : 0.0f;
    for (int dy = -1; dy <= 1; dy++) {
        int yy = py + dy;
        if (yy < 0 || yy >= h) continue;
        for (int dx = -1; dx <= 1; dx++) {
            int xx = px + dx;
            if (xx >= 0 && xx < w) acc += wc[(dy + 1) * 3 + dx + 1] * xc[(size_t)yy * w + xx];
        }
    }
    y[(size_t)c * n + i] = acc;
}

// LayerNorm over channels, per pixel. A block holds 32 pixels x G channel
// groups: a warp reads 32 neighbouring pixels of one channel (coalesced),
// and the channels of a pixel are summed by G threads, so a small map
// (80x80: 6,400 pixels) still gives 200 blocks, not 25 (one thread per
// pixel left 107 of the H100's 132 SMs idle). Partial sums meet in shared
// memory in a fixed order: deterministic. Where a thread's channels fit in
// HELD registers they are read once, not three times. G = 8, or 32 where
// the map gives few blocks (H200, C=256 at 80x80, 200 blocks: 15.7 us with
// G = 8 and three reads, latency-bound at 12 warps an SM; 7.1 us with G = 32.
// C=128 at 160x160, 800 blocks: 9.3 us with G = 8 and three reads, 15.0 with
// G = 32; so there G = 8 with 16 held, one read).
constexpr int LN_PIX = 32, LN_FEW_BLOCKS = 512;

template <int G, int HELD, typename TI, typename T>
__global__ void __launch_bounds__(LN_PIX *G)
    layernorm_kernel(const TI *x, int c, size_t n, const float *g, const float *b, T *y)
{
    __shared__ float part[G][LN_PIX + 1], mean_sh[LN_PIX], rstd_sh[LN_PIX];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const size_t i = (size_t)blockIdx.x * LN_PIX + tx;
    const bool in = i < n, hold = c <= G * HELD;
    float held[HELD]; // channels ty, ty + G, ... of pixel i when hold
    float acc = 0.0f;
    if (in && hold) {
#pragma unroll
        for (int j = 0; j < HELD; j++) {
            const int k = ty + j * G;
            held[j] = k < c ? load(&x[(size_t)k * n + i]) : 0.0f;
            acc += held[j];
        }
    } else if (in) {
        for (int k = ty; k < c; k += G) acc += load(&x[(size_t)k * n + i]);
    }
    part[ty][tx] = acc;
    __syncthreads();
    if (ty == 0) {
        float sum = 0.0f;
        for (int gi = 0; gi < G; gi++) sum += part[gi][tx];
        mean_sh[tx] = sum / (float)c;
    }
    __syncthreads();
    const float mean = mean_sh[tx];
    acc = 0.0f;
    if (in && hold) {
#pragma unroll
        for (int j = 0; j < HELD; j++) {
            const float d = held[j] - mean;
            if (ty + j * G < c) acc += d * d;
        }
    } else if (in) {
        for (int k = ty; k < c; k += G) {
            const float d = load(&x[(size_t)k * n + i]) - mean;
            acc += d * d;
        }
    }
    part[ty][tx] = acc;
    __syncthreads();
    if (ty == 0) {
        float sum = 0.0f;
        for (int gi = 0; gi < G; gi++) sum += part[gi][tx];
        rstd_sh[tx] = rsqrtf(sum / (float)c + 1e-5f);
    }
    __syncthreads();
    const float rstd = rstd_sh[tx];
    if (in && hold) {
#pragma unroll
        for (int j = 0; j < HELD; j++) {
            const int k = ty + j * G;
            if (k < c) store(&y[(size_t)k * n + i], (held[j] - mean) * rstd * g[k] + b[k]);
        }
    } else if (in) {
        for (int k = ty; k < c; k += G) store(&y[(size_t)k * n + i], (load(&x[(size_t)k * n + i]) - mean) * rstd * g[k] + b[k]);
    }
}

__global__ void bias_init_kernel(float *y, size_t n, const float *bias, int accumulate)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float v = bias ? bias[blockIdx.y] : 0.0f;
    float *p = y + (size_t)blockIdx.y * n + i;
    *p = accumulate ? *p + v : v;
}

__global__ void saga_gate_kernel(float *t, size_t cn)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= cn) return;
    float *k = t + cn, *v = t + 2 * cn;
    const float *gk = t + 3 * cn, *gv = t + 4 * cn;
    k[i] = fmaxf(k[i], 0.0f) * sigmoid(gk[i]);
    v[i] = v[i] * sigmoid(gv[i]);
}

// One block per row; a fixed tree inside the block: deterministic.
__global__ void row_sums_kernel(const float *x, size_t n, float scale, float *z)
{
    __shared__ float part[THREADS];
    const float *row = x + (size_t)blockIdx.x * n;
    float acc = 0.0f;
    for (size_t i = threadIdx.x; i < n; i += THREADS) acc += row[i];
    part[threadIdx.x] = acc;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) z[blockIdx.x] = part[0] * scale;
}

// blockIdx.y = head; S for the head in shared memory.
template <typename T> __global__ void saga_apply_kernel(const T *q, int d, size_t n, const float *S, const float *z, T *o)
{
    extern __shared__ float sh[]; // d*d + d
    int head = blockIdx.y;
    const float *Sh = S + (size_t)head * d * d, *zh = z + (size_t)head * d;
    for (int i = threadIdx.x; i < d * d; i += blockDim.x) sh[i] = Sh[i];
    for (int i = threadIdx.x; i < d; i += blockDim.x) sh[d * d + i] = zh[i];
    __syncthreads();
    size_t p = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= n) return;
    const T *qh = q + (size_t)head * d * n + p;
    T *oh = o + (size_t)head * d * n + p;
    float den = 1e-6f;
    for (int i = 0; i < d; i++) den += fmaxf(load(&qh[(size_t)i * n]), 0.0f) * sh[d * d + i];
    for (int j = 0; j < d; j++) {
        float acc = 0.0f;
        for (int i = 0; i < d; i++) acc += fmaxf(load(&qh[(size_t)i * n]), 0.0f) * sh[i * d + j];
        store(&oh[(size_t)j * n], acc / den);
    }
}

// The same for the usual head widths: relu(q) held in registers (the loop
// above reads each q value from memory d + 1 times).
template <int D, typename T>
__global__ void saga_apply_d_kernel(const T *q, size_t n, const float *S, const float *z, T *o)
{
    __shared__ float sh[D * D + D];
    const int head = blockIdx.y;
    const float *Sh = S + (size_t)head * D * D, *zh = z + (size_t)head * D;
    for (int i = threadIdx.x; i < D * D; i += blockDim.x) sh[i] = Sh[i];
    for (int i = threadIdx.x; i < D; i += blockDim.x) sh[D * D + i] = zh[i];
    __syncthreads();
    const size_t p = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= n) return;
    const T *qh = q + (size_t)head * D * n + p;
    T *oh = o + (size_t)head * D * n + p;
    float qr[D], den = 1e-6f;
#pragma unroll
    for (int i = 0; i < D; i++) {
        qr[i] = fmaxf(load(&qh[(size_t)i * n]), 0.0f);
        den += qr[i] * sh[D * D + i];
    }
#pragma unroll 4
    for (int j = 0; j < D; j++) {
        float acc = 0.0f;
#pragma unroll
        for (int i = 0; i < D; i++) acc += qr[i] * sh[i * D + j];
        store(&oh[(size_t)j * n], acc / den);
    }
}

// The SAGA summary split over N: block (p, head) sums phi_k v^T and phi_k over
// its chunk of pixels into partial[p][head] (d*d then d floats); thread e owns
// entries e, e + 256, ... of the d x d product. k and v chunks stream through
// shared memory (rows padded by one float: no bank conflicts on v).
constexpr int SUM_TILE = 64;

template <int D, typename T>
__global__ void __launch_bounds__(THREADS) saga_partial_kernel(const T *k, const T *v, size_t n, size_t chunk,
                                                              float *partial)
{
    __shared__ float ks[D][SUM_TILE + 1], vs[D][SUM_TILE + 1];
    constexpr int PER = (D * D + THREADS - 1) / THREADS;
    const int head = blockIdx.y, heads = gridDim.y;
    const T *kh = k + (size_t)head * D * n, *vh = v + (size_t)head * D * n;
    size_t begin = (size_t)blockIdx.x * chunk, end = begin + chunk < n ? begin + chunk : n;
    float acc[PER], zacc = 0.0f;
#pragma unroll
    for (int r = 0; r < PER; r++) acc[r] = 0.0f;
    for (size_t p0 = begin; p0 < end; p0 += SUM_TILE) {
        for (int i = threadIdx.x; i < D * SUM_TILE; i += THREADS) {
            int row = i / SUM_TILE, col = i % SUM_TILE;
            size_t p = p0 + col;
            ks[row][col] = p < end ? load(&kh[(size_t)row * n + p]) : 0.0f;
            vs[row][col] = p < end ? load(&vh[(size_t)row * n + p]) : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int r = 0; r < PER; r++) {
            int e = threadIdx.x + r * THREADS;
            if (e < D * D) {
                int i = e / D, j = e % D;
                float a = acc[r];
                for (int t = 0; t < SUM_TILE; t++) a += ks[i][t] * vs[j][t];
                acc[r] = a;
            }
        }
        if (threadIdx.x < D)
            for (int t = 0; t < SUM_TILE; t++) zacc += ks[threadIdx.x][t];
        __syncthreads();
    }
    float *out = partial + ((size_t)blockIdx.x * heads + head) * (D * D + D);
#pragma unroll
    for (int r = 0; r < PER; r++) {
        int e = threadIdx.x + r * THREADS;
        if (e < D * D) out[e] = acc[r];
    }
    if (threadIdx.x < D) out[D * D + threadIdx.x] = zacc;
}

// S[head] (d x d) and z (heads * d) = (1/N) * the sum of the partials
// (partial[p][head][d * d + d]). Thread (x, y) of a block sums entry
// blockIdx.x * RED_X + x over parts y, y + RED_Y, ..., and the RED_Y slices
// meet in shared memory in a fixed order: deterministic, with parts / RED_Y
// loads a thread. (One thread an entry over all the parts, as before, left
// a C=16 block's 272 entries to two blocks reading 396 parts each in a row.)
constexpr int RED_X = 32, RED_Y = 16;

__global__ void __launch_bounds__(RED_X *RED_Y)
    saga_reduce_kernel(const float *partial, int parts, int heads, int d, float scale, float *S, float *z)
{
    __shared__ float slice[RED_Y][RED_X];
    const int per = d * d + d, e = blockIdx.x * RED_X + threadIdx.x;
    const bool in = e < heads * per;
    float acc = 0.0f;
    if (in) {
        const float *src = partial + e; // entry e of part p: src[p * heads * per]
        const size_t stride = (size_t)heads * per;
#pragma unroll 4
        for (int p = threadIdx.y; p < parts; p += RED_Y) acc += src[(size_t)p * stride];
    }
    slice[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y != 0 || !in) return;
    float sum = 0.0f;
#pragma unroll
    for (int j = 0; j < RED_Y; j++) sum += slice[j][threadIdx.x];
    const int head = e / per, k = e % per;
    if (k < d * d) S[(size_t)head * d * d + k] = sum * scale;
    else z[(size_t)head * d + (k - d * d)] = sum * scale;
}

__global__ void dual_gate_kernel(float *t, size_t hn)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= hn) return;
    float t1 = t[i], t2 = t[i + hn];
    t[i] = gelu(t2) * t1 + gelu(t1) * t2;
}

// The depthwise kernels on fp16 maps: a block is a 32 x 32 tile of pixels of
// one channel (blockIdx.z), 32 x 8 threads, each thread four consecutive
// pixels of a column (a 6 x 3 window of each map in registers serves all
// four: 18 shared loads, not 36) with the filter taps in registers; the M maps
// it reads (at channels ch, ch + stride, ...) come into shared memory with
// their one-pixel halo first, so each input value is read from device memory
// about once, not nine times. (ncu, C=64 at 320x320: one thread per pixel
// reading its nine taps from memory, with 64-bit divisions for its
// coordinates, took 308 us for the FFN's; a 32 x 8 tile with one pixel per
// thread, 219 us.)
constexpr int DW_TX = 32, DW_TY = 8, DW_ROWS = 4, DW_TH = DW_TY * DW_ROWS, DW_HX = DW_TX + 2, DW_HY = DW_TH + 2,
              DW_HN = DW_HX * DW_HY;

template <int M, typename T>
__device__ void load_halos(float (*sh)[DW_HN], const T *t, size_t stride_elems, int h, int w)
{
    const int x0 = blockIdx.x * DW_TX - 1, y0 = blockIdx.y * DW_TH - 1;
    for (int i = threadIdx.y * DW_TX + threadIdx.x; i < DW_HN; i += DW_TX * DW_TY) {
        const int gy = y0 + i / DW_HX, gx = x0 + i % DW_HX;
        const bool in = gy >= 0 && gy < h && gx >= 0 && gx < w;
        const size_t at = in ? (size_t)gy * w + gx : 0;
#pragma unroll
        for (int m = 0; m < M; m++) sh[m][i] = in ? load(&t[m * stride_elems + at]) : 0.0f;
    }
    __syncthreads();
}

// The depthwise 3x3 of halo map m at this thread's DW_ROWS pixels (rows
// ty * DW_ROWS + r of the tile).
__device__ inline void dw_from_halo(const float *m, const float (&k9)[9], float (&out)[DW_ROWS])
{
    const float *col = m + threadIdx.y * DW_ROWS * DW_HX + threadIdx.x;
    float win[DW_ROWS + 2][3];
#pragma unroll
    for (int r = 0; r < DW_ROWS + 2; r++)
#pragma unroll
        for (int dx = 0; dx < 3; dx++) win[r][dx] = col[r * DW_HX + dx];
#pragma unroll
    for (int r = 0; r < DW_ROWS; r++) {
        float acc = 0.0f;
#pragma unroll
        for (int dy = 0; dy < 3; dy++)
#pragma unroll
            for (int dx = 0; dx < 3; dx++) acc += k9[dy * 3 + dx] * win[r + dy][dx];
        out[r] = acc;
    }
}

__device__ inline void taps(const float *wt, float (&k9)[9])
{
#pragma unroll
    for (int k = 0; k < 9; k++) k9[k] = wt[k];
}

// t (5C: q k v gk gv) -> u (3C): q, relu(k) sigmoid(gk), v sigmoid(gv), the
// depthwise 3x3 of each of the five first.
template <typename T> __global__ void __launch_bounds__(DW_TX *DW_TY)
    attn_dw_gate_kernel(const T *t, int c, int h, int w, const float *wt, T *u)
{
    __shared__ float sh[5][DW_HN];
    const size_t n = (size_t)h * w, cn = (size_t)c * n;
    const int ch = blockIdx.z;
    load_halos<5>(sh, t + (size_t)ch * n, cn, h, w);
    const int px = blockIdx.x * DW_TX + threadIdx.x;
    if (px >= w) return;
    float v[5][DW_ROWS];
#pragma unroll
    for (int j = 0; j < 5; j++) {
        float k9[9];
        taps(wt + ((size_t)j * c + ch) * 9, k9);
        dw_from_halo(sh[j], k9, v[j]);
    }
#pragma unroll
    for (int r = 0; r < DW_ROWS; r++) {
        const int py = blockIdx.y * DW_TH + threadIdx.y * DW_ROWS + r;
        if (py >= h) break;
        const size_t o = (size_t)ch * n + (size_t)py * w + px;
        store(&u[o], v[0][r]);
        store(&u[cn + o], fmaxf(v[1][r], 0.0f) * gate_of<T>(v[3][r]));
        store(&u[2 * cn + o], v[2][r] * gate_of<T>(v[4][r]));
    }
}

// t (2 hid) -> u (hid) = gelu(b) a + gelu(a) b, with a, b the depthwise 3x3
// of channels ch and hid + ch.
template <typename T> __global__ void __launch_bounds__(DW_TX *DW_TY)
    ffn_dw_gate_kernel(const T *t, int hid, int h, int w, const float *wt, T *u)
{
    __shared__ float sh[2][DW_HN];
    const size_t n = (size_t)h * w;
    const int ch = blockIdx.z;
    load_halos<2>(sh, t + (size_t)ch * n, (size_t)hid * n, h, w);
    const int px = blockIdx.x * DW_TX + threadIdx.x;
    if (px >= w) return;
    float k9[9], a[DW_ROWS], b[DW_ROWS];
    taps(wt + (size_t)ch * 9, k9);
    dw_from_halo(sh[0], k9, a);
    taps(wt + (size_t)(hid + ch) * 9, k9);
    dw_from_halo(sh[1], k9, b);
#pragma unroll
    for (int r = 0; r < DW_ROWS; r++) {
        const int py = blockIdx.y * DW_TH + threadIdx.y * DW_ROWS + r;
        if (py >= h) break;
        store(&u[(size_t)ch * n + (size_t)py * w + px], dual_gate_of<T>(a[r], b[r]));
    }
}

// col (9 Cin, len) = the 3x3 neighbourhoods of pixels p0 .. p0 + len of x
// (Cin, H, W), zero padded; row c * 9 + k is tap k of channel c, the order of
// a 3x3 weight (Cout, Cin, 3, 3), so a 3x3 convolution is one GEMM on col.
template <typename TI, typename T>
__global__ void im2col3x3_kernel(const TI *x, int h, int w, size_t p0, size_t len, T *col)
{
    const size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x, n = (size_t)h * w;
    const int c = blockIdx.y;
    if (j >= len) return;
    const size_t p = p0 + j;
    const int py = (int)(p / w), px = (int)(p % w);
    const TI *xc = x + (size_t)c * n;
#pragma unroll
    for (int k = 0; k < 9; k++) {
        const int yy = py + k / 3 - 1, xx = px + k % 3 - 1;
        store(&col[((size_t)c * 9 + k) * len + j], yy >= 0 && yy < h && xx >= 0 && xx < w ? load(&xc[(size_t)yy * w + xx]) : 0.0f);
    }
}

// Each block: 15 partial sums (in double, as the CPU does) over a strided share.
__global__ void fuse_partial_kernel(const float *t, size_t row, double *partial)
{
    __shared__ double sh[15][THREADS];
    double acc[15] = {0};
    const float *q = t, *k = t + 3 * row;
    for (size_t i = (size_t)blockIdx.x * THREADS + threadIdx.x; i < row; i += (size_t)gridDim.x * THREADS) {
        float qv[3], kv[3];
        for (int r = 0; r < 3; r++) {
            qv[r] = q[r * row + i];
            kv[r] = k[r * row + i];
        }
        for (int r = 0; r < 3; r++) {
            acc[r] += (double)qv[r] * qv[r];
            acc[3 + r] += (double)kv[r] * kv[r];
            for (int s = 0; s < 3; s++) acc[6 + 3 * r + s] += (double)qv[r] * kv[s];
        }
    }
    for (int j = 0; j < 15; j++) sh[j][threadIdx.x] = acc[j];
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s)
            for (int j = 0; j < 15; j++) sh[j][threadIdx.x] += sh[j][threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x < 15) partial[(size_t)blockIdx.x * 15 + threadIdx.x] = sh[threadIdx.x][0];
}

// The Fuse's 15 sums over the blocks' partials (partial[b][15]): thread
// (j, y) sums entry j over blocks y, y + FRED_Y, ..., the slices meeting in a
// fixed order (deterministic; blocks / FRED_Y loads a thread, not blocks).
constexpr int FRED_Y = 32;

__global__ void __launch_bounds__(16 * FRED_Y) fuse_reduce_kernel(const double *partial, int blocks, float *sums)
{
    __shared__ double slice[FRED_Y][16];
    const int j = threadIdx.x;
    double acc = 0.0;
    if (j < 15)
#pragma unroll 4
        for (int b = threadIdx.y; b < blocks; b += FRED_Y) acc += partial[(size_t)b * 15 + j];
    slice[threadIdx.y][j] = acc;
    __syncthreads();
    if (threadIdx.y != 0 || j >= 15) return;
    double sum = 0.0;
    for (int y = 0; y < FRED_Y; y++) sum += slice[y][j];
    // sums is read as doubles by fuse_apply: store them as a double array.
    reinterpret_cast<double *>(sums)[j] = sum;
}

__global__ void fuse_apply_kernel(float *t, size_t row, float tau, const float *sums, float *o)
{
    __shared__ float a[9];
    if (threadIdx.x == 0) fuse_softmax(reinterpret_cast<const double *>(sums), tau, a);
    __syncthreads();
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= row) return;
    const float *v = t + 6 * row;
    float v0 = v[i], v1 = v[row + i], v2 = v[2 * row + i];
    for (int r = 0; r < 3; r++) o[r * row + i] = a[3 * r] * v0 + a[3 * r + 1] * v1 + a[3 * r + 2] * v2;
}

template <typename T>
__global__ void weighted_sum_kernel(const T *a, const float *alpha, const T *b, const float *beta, size_t n, T *y)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    size_t at = (size_t)blockIdx.y * n + i;
    store(&y[at], alpha[blockIdx.y] * load(&a[at]) + beta[blockIdx.y] * load(&b[at]));
}

// y[4c + 2i + j, yy, xx] = x[c, 2yy + i, 2xx + j]; one thread per x element.
template <typename T> __global__ void unshuffle_kernel(const T *x, int h, int w, T *y)
{
    size_t n = (size_t)h * w, p = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= n) return;
    int c = blockIdx.y, py = (int)(p / w), px = (int)(p % w);
    int i = py & 1, j = px & 1, h2 = h / 2, w2 = w / 2;
    y[((size_t)(4 * c + 2 * i + j) * h2 + py / 2) * w2 + px / 2] = x[(size_t)c * n + p];
}

// The inverse: y (C, 2H, 2W) from x (4C, H, W); one thread per y element.
template <typename T> __global__ void shuffle_kernel(const T *x, int h, int w, T *y)
{
    int H = 2 * h, W = 2 * w;
    size_t N = (size_t)H * W, p = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= N) return;
    int c = blockIdx.y, py = (int)(p / W), px = (int)(p % W);
    int i = py & 1, j = px & 1;
    y[(size_t)c * N + p] = x[((size_t)(4 * c + 2 * i + j) * h + py / 2) * w + px / 2];
}

// Chunk j of channel blockIdx.y of a conv's output (pixel p0 + j of h x w)
// to its place in the (un)shuffled map: the same index maps as above.
template <typename T>
__global__ void unshuffle_chunk_kernel(const __half *y, size_t len, size_t p0, int h, int w, T *out)
{
    const size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= len) return;
    const size_t p = p0 + j;
    const int c = blockIdx.y, py = (int)(p / w), px = (int)(p % w), i = py & 1, jj = px & 1, h2 = h / 2, w2 = w / 2;
    store(&out[((size_t)(4 * c + 2 * i + jj) * h2 + py / 2) * w2 + px / 2], __half2float(y[(size_t)c * len + j]));
}

template <typename T>
__global__ void shuffle_chunk_kernel(const __half *y, size_t len, size_t p0, int h, int w, T *out)
{
    const size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= len) return;
    const size_t p = p0 + j, N = (size_t)4 * h * w;
    const int ch = blockIdx.y, c = ch / 4, i = (ch / 2) & 1, jj = ch & 1, py = (int)(p / w), px = (int)(p % w);
    store(&out[(size_t)c * N + (size_t)(2 * py + i) * (2 * w) + 2 * px + jj], __half2float(y[(size_t)ch * len + j]));
}

} // namespace

template <typename T>
void k_pixel_unshuffle_chunk(cudaStream_t s, const __half *y, int cout, size_t len, size_t p0, int h, int w, T *out)
{
    unshuffle_chunk_kernel<<<dim3(blocks_for(len), cout), THREADS, 0, s>>>(y, len, p0, h, w, out);
}

template <typename T>
void k_pixel_shuffle_chunk(cudaStream_t s, const __half *y, int cout, size_t len, size_t p0, int h, int w, T *out)
{
    shuffle_chunk_kernel<<<dim3(blocks_for(len), cout), THREADS, 0, s>>>(y, len, p0, h, w, out);
}

template <typename TI, typename TO>
void k_conv3x3(cudaStream_t s, const TI *x, int cin, int h, int w, const float *wt, const float *bias, int cout, TO *y)
{
    dim3 grid((unsigned)((w + TILE - 1) / TILE), (unsigned)((h + TILE - 1) / TILE), (unsigned)((cout + COB - 1) / COB));
    conv3x3_tiled_kernel<<<grid, TILE * TILE, 0, s>>>(x, cin, h, w, wt, bias, cout, y);
}

void k_dwconv3x3(cudaStream_t s, const float *x, int c, int h, int w, const float *wt, const float *bias, float *y)
{
    dwconv3x3_kernel<<<dim3(blocks_for((size_t)h * w), c), THREADS, 0, s>>>(x, h, w, wt, bias, y);
}

template <typename TI, typename T>
void k_layernorm(cudaStream_t s, const TI *x, int c, size_t n, const float *g, const float *b, T *y)
{
    const unsigned blocks = (unsigned)((n + LN_PIX - 1) / LN_PIX);
    if (blocks <= LN_FEW_BLOCKS) layernorm_kernel<32, 8><<<blocks, dim3(LN_PIX, 32), 0, s>>>(x, c, n, g, b, y);
    else if (c <= 8 * 8) layernorm_kernel<8, 8><<<blocks, dim3(LN_PIX, 8), 0, s>>>(x, c, n, g, b, y);
    else layernorm_kernel<8, 16><<<blocks, dim3(LN_PIX, 8), 0, s>>>(x, c, n, g, b, y);
}

void k_bias_init(cudaStream_t s, float *y, int cout, size_t n, const float *bias, int accumulate)
{
    bias_init_kernel<<<dim3(blocks_for(n), cout), THREADS, 0, s>>>(y, n, bias, accumulate);
}

void k_saga_gate(cudaStream_t s, float *t, int c, size_t n)
{
    saga_gate_kernel<<<blocks_for((size_t)c * n), THREADS, 0, s>>>(t, (size_t)c * n);
}

void k_row_sums(cudaStream_t s, const float *x, int c, size_t n, float scale, float *z)
{
    row_sums_kernel<<<c, THREADS, 0, s>>>(x, n, scale, z);
}

template <typename T>
static void saga_apply(cudaStream_t s, const T *q, int c, int heads, size_t n, const float *S, const float *z, T *o)
{
    const int d = c / heads;
    const dim3 grid(blocks_for(n), heads);
    switch (d) {
    case 8: saga_apply_d_kernel<8><<<grid, THREADS, 0, s>>>(q, n, S, z, o); break;
    case 16: saga_apply_d_kernel<16><<<grid, THREADS, 0, s>>>(q, n, S, z, o); break;
    case 32: saga_apply_d_kernel<32><<<grid, THREADS, 0, s>>>(q, n, S, z, o); break;
    default: {
        size_t shmem = (size_t)(d * d + d) * sizeof(float);
        saga_apply_kernel<<<grid, THREADS, shmem, s>>>(q, d, n, S, z, o);
    }
    }
}
void k_saga_apply(cudaStream_t s, const float *q, int c, int heads, size_t n, const float *S, const float *z, float *o)
{
    saga_apply(s, q, c, heads, n, S, z, o);
}
void k_saga_apply(cudaStream_t s, const __half *q, int c, int heads, size_t n, const float *S, const float *z, __half *o)
{
    saga_apply(s, q, c, heads, n, S, z, o);
}

template <typename T>
static bool saga_summary(cudaStream_t s, const T *k, const T *v, int c, int heads, size_t n, float *partial, float *S, float *z)
{
    int d = c / heads;
    int parts = K_SUMMARY_BLOCKS / heads;
    if (parts < 1) parts = 1;
    size_t chunk = (n + parts - 1) / parts;
    if (chunk < SUM_TILE) chunk = SUM_TILE;
    // fp16 maps at heads of 16 or 32 channels: on tensor cores (summary_mma.cuh;
    // H200, C=64 at 320^2: 50.6 us on this file's kernel, bound by its shared-memory loads).
    const bool mma = std::is_same<T, __half>::value && mma_saga_supported(d);
    if (mma) chunk = (chunk + 15) / 16 * 16;
    parts = (int)((n + chunk - 1) / chunk);
    if constexpr (std::is_same<T, __half>::value)
        if (mma) {
            if (!mma_saga_partial(s, k, v, d, heads, n, chunk, parts, partial)) return false;
            k_saga_reduce(s, partial, parts, heads, d, 1.0f / (float)n, S, z);
            return true;
        }
    dim3 grid((unsigned)parts, (unsigned)heads);
    switch (d) {
    case 8: saga_partial_kernel<8, T><<<grid, THREADS, 0, s>>>(k, v, n, chunk, partial); break;
    case 16: saga_partial_kernel<16, T><<<grid, THREADS, 0, s>>>(k, v, n, chunk, partial); break;
    case 32: saga_partial_kernel<32, T><<<grid, THREADS, 0, s>>>(k, v, n, chunk, partial); break;
    default: return false;
    }
    k_saga_reduce(s, partial, parts, heads, d, 1.0f / (float)n, S, z);
    return true;
}
bool k_saga_summary(cudaStream_t s, const float *k, const float *v, int c, int heads, size_t n, float *partial,
                    float *S, float *z)
{
    return saga_summary(s, k, v, c, heads, n, partial, S, z);
}
bool k_saga_summary(cudaStream_t s, const __half *k, const __half *v, int c, int heads, size_t n, float *partial,
                    float *S, float *z)
{
    return saga_summary(s, k, v, c, heads, n, partial, S, z);
}

void k_saga_reduce(cudaStream_t s, const float *partial, int parts, int heads, int d, float scale, float *S, float *z)
{
    const int entries = heads * (d * d + d);
    saga_reduce_kernel<<<(entries + RED_X - 1) / RED_X, dim3(RED_X, RED_Y), 0, s>>>(partial, parts, heads, d, scale, S, z);
}

void k_dual_gate(cudaStream_t s, float *t, int hid, size_t n)
{
    dual_gate_kernel<<<blocks_for((size_t)hid * n), THREADS, 0, s>>>(t, (size_t)hid * n);
}

void k_fuse_sums(cudaStream_t s, const float *t, int c, size_t n, float *partial, int blocks, float *sums)
{
    fuse_partial_kernel<<<blocks, THREADS, 0, s>>>(t, (size_t)c * n, reinterpret_cast<double *>(partial));
    fuse_reduce_kernel<<<1, dim3(16, FRED_Y), 0, s>>>(reinterpret_cast<const double *>(partial), blocks, sums);
}

void k_fuse_reduce(cudaStream_t s, const double *partial, int blocks, double *sums)
{
    fuse_reduce_kernel<<<1, dim3(16, FRED_Y), 0, s>>>(partial, blocks, reinterpret_cast<float *>(sums));
}

void k_fuse_apply(cudaStream_t s, float *t, int c, size_t n, float tau, const float *sums, float *o)
{
    fuse_apply_kernel<<<blocks_for((size_t)c * n), THREADS, 0, s>>>(t, (size_t)c * n, tau, sums, o);
}

template <typename T>
void k_weighted_sum(cudaStream_t s, const T *a, const float *alpha, const T *b, const float *beta, int c, size_t n,
                    T *y)
{
    weighted_sum_kernel<<<dim3(blocks_for(n), c), THREADS, 0, s>>>(a, alpha, b, beta, n, y);
}

template <typename T> void k_pixel_unshuffle(cudaStream_t s, const T *x, int c, int h, int w, T *y)
{
    unshuffle_kernel<<<dim3(blocks_for((size_t)h * w), c), THREADS, 0, s>>>(x, h, w, y);
}

template <typename T> void k_pixel_shuffle(cudaStream_t s, const T *x, int c4, int h, int w, T *y)
{
    shuffle_kernel<<<dim3(blocks_for((size_t)4 * h * w), c4 / 4), THREADS, 0, s>>>(x, h, w, y);
}

static dim3 dw_grid(int h, int w, int c) { return dim3((w + DW_TX - 1) / DW_TX, (h + DW_TH - 1) / DW_TH, c); }

void k_attn_dw_gate(cudaStream_t s, const __half *t, int c, int h, int w, const float *wt, __half *u)
{
    attn_dw_gate_kernel<<<dw_grid(h, w, c), dim3(DW_TX, DW_TY), 0, s>>>(t, c, h, w, wt, u);
}

void k_ffn_dw_gate(cudaStream_t s, const __half *t, int hid, int h, int w, const float *wt, __half *u)
{
    ffn_dw_gate_kernel<<<dw_grid(h, w, hid), dim3(DW_TX, DW_TY), 0, s>>>(t, hid, h, w, wt, u);
}

template <typename TI>
void k_im2col3x3(cudaStream_t s, const TI *x, int cin, int h, int w, size_t p0, size_t len, __half *col)
{
    im2col3x3_kernel<<<dim3(blocks_for(len), cin), THREADS, 0, s>>>(x, h, w, p0, len, col);
}

namespace {
template <typename TI, typename TO> __global__ void convert_kernel(const TI *x, size_t n, TO *y)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) store(&y[i], load(&x[i]));
}
} // namespace

void k_to_half(cudaStream_t s, const float *x, size_t n, __half *y)
{
    convert_kernel<<<blocks_for(n), THREADS, 0, s>>>(x, n, y);
}

void k_to_float(cudaStream_t s, const __half *x, size_t n, float *y)
{
    convert_kernel<<<blocks_for(n), THREADS, 0, s>>>(x, n, y);
}

// Every storage combination the backend and the workbench use.
template void k_conv3x3(cudaStream_t, const float *, int, int, int, const float *, const float *, int, float *);
template void k_conv3x3(cudaStream_t, const float *, int, int, int, const float *, const float *, int, __half *);
template void k_conv3x3(cudaStream_t, const __half *, int, int, int, const float *, const float *, int, __half *);
template void k_conv3x3(cudaStream_t, const __half *, int, int, int, const float *, const float *, int, float *);
template void k_layernorm(cudaStream_t, const float *, int, size_t, const float *, const float *, float *);
template void k_layernorm(cudaStream_t, const float *, int, size_t, const float *, const float *, __half *);
template void k_layernorm(cudaStream_t, const __half *, int, size_t, const float *, const float *, __half *);
template void k_weighted_sum(cudaStream_t, const float *, const float *, const float *, const float *, int, size_t,
                             float *);
template void k_weighted_sum(cudaStream_t, const __half *, const float *, const __half *, const float *, int, size_t,
                             __half *);
template void k_pixel_unshuffle(cudaStream_t, const float *, int, int, int, float *);
template void k_pixel_unshuffle(cudaStream_t, const __half *, int, int, int, __half *);
template void k_pixel_shuffle(cudaStream_t, const float *, int, int, int, float *);
template void k_pixel_shuffle(cudaStream_t, const __half *, int, int, int, __half *);
template void k_im2col3x3(cudaStream_t, const float *, int, int, int, size_t, size_t, __half *);
template void k_im2col3x3(cudaStream_t, const __half *, int, int, int, size_t, size_t, __half *);
template void k_pixel_unshuffle_chunk(cudaStream_t, const __half *, int, size_t, size_t, int, int, float *);
template void k_pixel_unshuffle_chunk(cudaStream_t, const __half *, int, size_t, size_t, int, int, __half *);
template void k_pixel_shuffle_chunk(cudaStream_t, const __half *, int, size_t, size_t, int, int, float *);
template void k_pixel_shuffle_chunk(cudaStream_t, const __half *, int, size_t, size_t, int, int, __half *);
