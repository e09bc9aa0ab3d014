// What the kernel workbenches (bench_block.cu, bench_fuse.cu) share: a
// checked CUDA call, a random map, the normalised error against the CPU, and
// a CUDA-event timer (warm-up, then the median of runs).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <cuda_runtime.h>

#define CK(call)                                                                                                       \
    do {                                                                                                               \
        cudaError_t e_ = (call);                                                                                       \
        if (e_ != cudaSuccess) {                                                                                       \
            fprintf(stderr, "workbench: %s: %s\n", #call, cudaGetErrorString(e_));                                     \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

// The arguments of a workbench that takes only [--size WxH] [--runs N];
// false, with the usage printed, on anything else.
inline bool size_runs_args(int argc, char **argv, const char *tool, int *W, int *H, int *runs)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (!strcmp(a, "--size") && v && sscanf(v, "%dx%d", W, H) == 2) i++;
        else if (!strcmp(a, "--runs") && v) *runs = atoi(v), i++;
        else {
            fprintf(stderr, "usage: %s [--size WxH] [--runs N]\n", tool);
            return false;
        }
    }
    return true;
}

// Values in [-1, 1) from a fixed seed.
inline std::vector<float> random_map(size_t count, uint64_t seed)
{
    std::vector<float> x(count);
    for (auto &v : x) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        v = (float)(seed >> 40) / 16777216.0f * 2.0f - 1.0f;
    }
    return x;
}

// |got - want| / |want| over the whole map; infinity when got has a NaN or Inf.
inline double nerr(const std::vector<float> &got, const std::vector<float> &want)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < want.size(); i++) {
        if (!std::isfinite(got[i])) return INFINITY;
        num += (got[i] - want[i]) * (double)(got[i] - want[i]);
        den += (double)want[i] * want[i];
    }
    return sqrt(num / den);
}

// The median device time of run() over runs calls, after two warm-ups;
// before() (untimed) restores the input first.
template <typename Before, typename Run> double median_ms(cudaStream_t s, int runs, Before before, Run run)
{
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    std::vector<float> ms;
    for (int r = -2; r < runs; r++) {
        before();
        CK(cudaEventRecord(e0, s));
        run();
        CK(cudaEventRecord(e1, s));
        CK(cudaEventSynchronize(e1));
        float t;
        CK(cudaEventElapsedTime(&t, e0, e1));
        if (r >= 0) ms.push_back(t);
    }
    CK(cudaGetLastError());
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}
