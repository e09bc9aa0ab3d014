// The Fuse layer's 15 global sums on the GPU: a fused pass's per-block
// reduction of them, and the 3x3 mixing matrix from them as the CPU computes
// it (core/src/layers.c, sx_fuse_mix). Shared by the unfused, the fused and
// the tensor-core paths.
#pragma once
#include <cmath>

// Every thread's 15 running sums (acc) into partial[blockIdx.x * 15 ..] in a
// fixed order: shuffles within each warp, then the warps in order (the
// result does not depend on timing). THREADS: the block's size.
template <int THREADS> __device__ inline void fuse_block_partial(const double (&acc)[15], double *partial)
{
    __shared__ double warp_sums[THREADS / 32][15];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
    for (int i = 0; i < 15; i++) {
        double v = acc[i];
        for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
        if (lane == 0) warp_sums[warp][i] = v;
    }
    __syncthreads();
    if (threadIdx.x < 15) {
        double v = 0.0;
        for (int k = 0; k < THREADS / 32; k++) v += warp_sums[k][threadIdx.x];
        partial[(size_t)blockIdx.x * 15 + threadIdx.x] = v;
    }
}

// sum: |q_r|^2 (3), |k_s|^2 (3), q_r . k_s (9, row-major); a: A[r][s] row-major.
// F.normalize divides by max(|x|, 1e-12); softmax over s.
__device__ inline void fuse_softmax(const double *sum, float tau, float *a)
{
    for (int r = 0; r < 3; r++) {
        double nq = fmax(sqrt(sum[r]), 1e-12), logit[3], mx = -INFINITY, z = 0.0;
        for (int s = 0; s < 3; s++) {
            double nk = fmax(sqrt(sum[3 + s]), 1e-12);
            logit[s] = sum[6 + 3 * r + s] / (nq * nk) * tau;
            mx = fmax(mx, logit[s]);
        }
        for (int s = 0; s < 3; s++) z += exp(logit[s] - mx);
        for (int s = 0; s < 3; s++) a[3 * r + s] = (float)(exp(logit[s] - mx) / z);
    }
}
