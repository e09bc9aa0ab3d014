// What the fused tile kernels (block_fused.cu, fuse_fused.cu) share: one
// thread per pixel of a 16x16 tile, the 18x18 halo a depthwise 3x3 needs
// (each thread owns halo positions threadIdx.x and threadIdx.x + 256), and a
// persistent grid that loops over tiles.
#pragma once
#include <cuda_runtime.h>

namespace tile {

constexpr int T = 16, HALO = T + 2, HN = HALO * HALO, NT = T * T;

// The depthwise 3x3 of one halo map (HN floats, row-major) at this thread's pixel.
__device__ inline float dw_at(const float *m, const float *k9)
{
    int ty = threadIdx.x / T, tx = threadIdx.x % T;
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

// Blocks for a persistent grid: what fits on the device at once, at most tiles.
template <typename K> int grid_for(K kernel, size_t smem, int tiles)
{
    int dev = 0, sms = 0, per_sm = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, NT, smem);
    int g = sms * (per_sm > 0 ? per_sm : 1);
    return g < tiles ? g : tiles;
}

} // namespace tile
