// What the fused tile kernels (block_fused.cu, block_tc.cu, fuse_fused.cu)
// share: one thread per pixel of a 16x16 tile, the 18x18 halo a depthwise 3x3 needs
// (each thread owns halo positions threadIdx.x and threadIdx.x + 256), and a
// persistent grid that loops over tiles.
#pragma once
#include <cuda_runtime.h>

#include "map_io.cuh"

namespace tile {

constexpr int T = 16, HALO = T + 2, HN = HALO * HALO, NT = T * T;

// This thread's pixel in its tile: warp w takes rows w and w + 8, sixteen
// lanes each. The depthwise taps of a warp then read two halo rows 8 x 18 =
// 144 floats apart, 16 banks: conflict-free (rows w and w + 1, 18 floats
// apart, put two pairs of lanes on the same banks: measured 33% of the
// shared-memory wavefronts were conflicts).
__device__ inline int pixel_y() { return (threadIdx.x >> 5) + ((threadIdx.x >> 4) & 1) * 8; }
__device__ inline int pixel_x() { return threadIdx.x & 15; }

// The depthwise 3x3 of one halo map (HN floats, row-major) at this thread's pixel.
__device__ inline float dw_at(const float *m, const float *k9)
{
    const int ty = pixel_y(), tx = pixel_x();
    float acc = 0.0f;
#pragma unroll
    for (int dy = 0; dy < 3; dy++)
#pragma unroll
        for (int dx = 0; dx < 3; dx++) acc += k9[dy * 3 + dx] * m[(ty + dy) * HALO + tx + dx];
    return acc;
}

__device__ inline void copy_to_smem(float *dst, const float *src, int count)
{
    for (int i = threadIdx.x; i < count; i += NT) dst[i] = src[i];
}

template <int C> __device__ inline float dot(const float *wrow, const float (&v)[C])
{
    float a = 0.0f;
#pragma unroll
    for (int k = 0; k < C; k++) a += wrow[k] * v[k];
    return a;
}

// The image coordinates of halo position pos of the tile at (x0, y0), and
// whether it lies inside the h x w image (pos past the halo never does).
__device__ inline bool halo_pixel(int h, int w, int x0, int y0, int pos, int *gy, int *gx)
{
    *gy = y0 + pos / HALO - 1;
    *gx = x0 + pos % HALO - 1;
    return pos < HN && *gy >= 0 && *gy < h && *gx >= 0 && *gx < w;
}

__host__ __device__ inline int tiles_of(int h, int w) { return ((w + T - 1) / T) * ((h + T - 1) / T); }

// The top-left pixel of tile number tile (row-major over an image w wide).
__device__ inline void tile_origin(int tile, int w, int *x0, int *y0)
{
    const int tiles_x = (w + T - 1) / T;
    *x0 = (tile % tiles_x) * T;
    *y0 = (tile / tiles_x) * T;
}

// The current device's SMs (1 when it cannot say).
inline int device_sm_count()
{
    int dev = 0, sms = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
        cudaGetLastError();
        return 1;
    }
    return sms > 0 ? sms : 1;
}

// Blocks for a persistent grid: what fits on the device at once, at most tiles.
template <typename K> int grid_for(K kernel, size_t smem, int tiles)
{
    int per_sm = 0;
    cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, NT, smem);
    int g = device_sm_count() * (per_sm > 0 ? per_sm : 1);
    return g < tiles ? g : tiles;
}

// The current device's compute capability (major; 0 when it cannot say),
// and whether a block of it may use smem bytes of shared memory (consumer
// GPUs opt in to ~99 KB, data-centre ones to ~227 KB): the kernels'
// "supported" checks ask, so a shape the device cannot take runs on the
// next kernels down instead of failing its launch.
inline int device_compute_major()
{
    int dev = 0, major = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return major;
}
inline bool device_smem_takes(size_t smem)
{
    int dev = 0, optin = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess) {
        cudaGetLastError();
        return false;
    }
    return smem <= (size_t)optin;
}

__device__ inline float sigmoidf_(float v) { return 1.0f / (1.0f + expf(-v)); }
__device__ inline float gelu_(float v) { return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); }

// LayerNorm of x at halo position pos of the tile at (x0, y0), into v; zeros
// outside the image (and for pos past the halo), so the 1x1 outputs there are
// 0: the depthwise conv's zero padding.
template <int C, typename M>
__device__ inline void ln_at(const M *x, size_t n, int h, int w, int x0, int y0, int pos, const float *g, const float *b,
                      float (&v)[C])
{
    int gy, gx;
    if (!halo_pixel(h, w, x0, y0, pos, &gy, &gx)) {
#pragma unroll
        for (int c = 0; c < C; c++) v[c] = 0.0f;
        return;
    }
    const M *p = x + (size_t)gy * w + gx;
    float mean = 0.0f, var = 0.0f;
#pragma unroll
    for (int c = 0; c < C; c++) {
        v[c] = load(&p[(size_t)c * n]);
        mean += v[c];
    }
    mean *= 1.0f / (float)C;
#pragma unroll
    for (int c = 0; c < C; c++) var += (v[c] - mean) * (v[c] - mean);
    float rstd = rsqrtf(var * (1.0f / (float)C) + 1e-5f);
#pragma unroll
    for (int c = 0; c < C; c++) v[c] = (v[c] - mean) * rstd * g[c] + b[c];
}

} // namespace tile
