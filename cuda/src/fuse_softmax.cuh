// The Fuse layer's 3x3 mixing matrix from its 15 global sums, as the CPU
// computes it (core/src/layers.c, sx_fuse_mix): shared by the unfused and the
// fused GPU paths.
#pragma once
#include <cmath>

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
