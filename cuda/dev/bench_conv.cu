// The kernel workbench for the dense 3x3 convolutions around the U (llm.c's
// dev/cuda pattern):
//
//   bench_conv [--size WxH] [--runs N]
//
// For each convolution of the LLFormer setting (the embedding, the three
// Downs, the Ups at 32 and 64 inputs, the output), the implicit-GEMM kernel
// (cuda/src/conv_igemm.cu) is checked against the CPU reference
// (sx_conv3x3 and sx_pixel_(un)shuffle, core/src/layers.c) on random
// weights and a random input at an odd tile count (70x50), once with fp32
// and once with fp16 maps; then it and the path the backend runs today (the
// tiled kernel plus the (un)shuffle below 64 outputs, the chunked fp16 GEMM
// from 64) are timed on fp16 maps at the level's size of --size (median of
// --runs).
#include <cstring>
#include <vector>

#include <cublas_v2.h>
#include <cuda_fp16.h>

#include "bench_common.cuh"
#include "conv_igemm.cuh"
#include "kernels.cuh"
#include "layers_half.cuh"

extern "C" {
#include "layers.h"
#include "threadpool.h"
}

struct conv_case {
    const char *name;
    int cin, cout, level; // level: the size is --size / 2^level
    ig_conv_output how;
};

static const conv_case CASES[] = {
    {"embed", 3, 16, 0, IG_CONV_PLAIN},        {"down16", 16, 8, 0, IG_CONV_UNSHUFFLE},
    {"down32", 32, 16, 1, IG_CONV_UNSHUFFLE},  {"down64", 64, 32, 2, IG_CONV_UNSHUFFLE},
    {"up32", 32, 64, 1, IG_CONV_SHUFFLE},      {"up64", 64, 128, 2, IG_CONV_SHUFFLE},
    {"out", 16, 3, 0, IG_CONV_PLAIN},
};

// The CPU reference: conv, then the case's resampling.
static std::vector<float> reference(sx_threadpool *tp, const conv_case &k, const std::vector<float> &x, int h, int w,
                                    const std::vector<float> &wt)
{
    std::vector<float> y((size_t)k.cout * h * w), r(y.size());
    sx_conv3x3(tp, x.data(), k.cin, h, w, wt.data(), nullptr, k.cout, y.data());
    if (k.how == IG_CONV_PLAIN) return y;
    if (k.how == IG_CONV_UNSHUFFLE) sx_pixel_unshuffle(tp, y.data(), k.cout, h, w, r.data());
    else sx_pixel_shuffle(tp, y.data(), k.cout, h, w, r.data());
    return r;
}

static std::vector<float> fp16_rounded(const std::vector<float> &v)
{
    std::vector<float> r(v.size());
    for (size_t i = 0; i < v.size(); i++) r[i] = __half2float(__float2half(v[i]));
    return r;
}

static float to_float(float v) { return v; }
static float to_float(__half v) { return __half2float(v); }
template <typename T> static T from_float(float v);
template <> float from_float<float>(float v) { return v; }
template <> __half from_float<__half>(float v) { return __float2half(v); }

// The kernel's output for x (h x w) with maps of type T; ok: it launched.
template <typename T>
static std::vector<float> run_kernel(const conv_case &k, const std::vector<float> &x, int h, int w, const float *dwt,
                                     bool *ok)
{
    const size_t in_count = x.size(), out_count = (size_t)k.cout * h * w;
    std::vector<T> xt(in_count), yt(out_count);
    for (size_t i = 0; i < in_count; i++) xt[i] = from_float<T>(x[i]);
    T *dx, *dy;
    CK(cudaMalloc(&dx, in_count * sizeof(T)));
    CK(cudaMalloc(&dy, out_count * sizeof(T)));
    CK(cudaMemcpy(dx, xt.data(), in_count * sizeof(T), cudaMemcpyHostToDevice));
    *ok = ig_conv3x3(nullptr, dx, k.cin, h, w, dwt, k.cout, k.how, dy);
    CK(cudaGetLastError());
    CK(cudaMemcpy(yt.data(), dy, out_count * sizeof(T), cudaMemcpyDeviceToHost));
    cudaFree(dx);
    cudaFree(dy);
    std::vector<float> got(out_count);
    for (size_t i = 0; i < out_count; i++) got[i] = to_float(yt[i]);
    return got;
}

// nerr of the kernel against the CPU at 70x50, with fp16 (half) or fp32 maps
// (for fp16 the reference starts from the same rounded input).
static double check(sx_threadpool *tp, const conv_case &k, const float *dwt, const std::vector<float> &wt, bool half)
{
    const int h = 50, w = 70;
    std::vector<float> x = random_map((size_t)k.cin * h * w, 11);
    if (half) x = fp16_rounded(x);
    bool ok = false;
    const std::vector<float> got = half ? run_kernel<__half>(k, x, h, w, dwt, &ok) : run_kernel<float>(k, x, h, w, dwt, &ok);
    return ok ? nerr(got, reference(tp, k, x, h, w, wt)) : INFINITY;
}

int main(int argc, char **argv)
{
    int W = 1280, H = 1280, runs = 20;
    if (!size_runs_args(argc, argv, "bench_conv", &W, &H, &runs)) return 2;
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    gpu_ctx ctx = {};
    CK(cudaStreamCreate(&ctx.stream));
    cublasCreate(&ctx.blas);
    cublasSetStream(ctx.blas, ctx.stream);
    sx_threadpool *tp = sx_threadpool_create(0, sx_layers_scratch_floats(128, 70));
    printf("%s; 3x3 convolutions; check at 70x50 against the CPU reference (fp32 and fp16 maps); time at the level's "
           "size of %dx%d on fp16 maps (median of %d)\n",
           prop.name, W, H, runs);
    printf("%-7s %5s %5s %9s %9s %9s %11s %11s %8s\n", "conv", "cin", "cout", "size", "nerr32", "nerr16", "igemm ms",
           "today ms", "GB/s*");
    for (const conv_case &k : CASES) {
        const int h = H >> k.level, w = W >> k.level;
        const size_t n = (size_t)h * w;
        const std::vector<float> wt = random_map((size_t)k.cout * k.cin * 9, 23);
        float *dwt;
        __half *dwt16;
        CK(cudaMalloc(&dwt, wt.size() * 4));
        CK(cudaMalloc(&dwt16, wt.size() * 2));
        CK(cudaMemcpy(dwt, wt.data(), wt.size() * 4, cudaMemcpyHostToDevice));
        k_to_half(ctx.stream, dwt, wt.size(), dwt16);
        if (!ig_conv_supported(k.cin, k.cout)) {
            printf("%-7s (not on this device)\n", k.name);
            continue;
        }
        // fp16 operands round by 2^-11 relative each, sums fp32: the tensor-core limit of the other workbenches.
        const double limit = 2e-3, e32 = check(tp, k, dwt, wt, false), e16 = check(tp, k, dwt, wt, true);
        __half *dx, *dy, *dt, *scr = nullptr;
        CK(cudaMalloc(&dx, (size_t)k.cin * n * 2));
        CK(cudaMalloc(&dy, (size_t)k.cout * n * 2));
        CK(cudaMalloc(&dt, (size_t)k.cout * n * 2));
        CK(cudaMemset(dx, 0, (size_t)k.cin * n * 2));
        const bool gemm = k.cout >= 64; // the backend's CONV_GEMM_MIN_OUT
        if (gemm) CK(cudaMalloc(&scr, conv3x3_scratch_halves(k.cin, k.cout, n) * 2));
        const double ig = median_ms(ctx.stream, runs, [] {}, [&] {
            ig_conv3x3(ctx.stream, dx, k.cin, h, w, dwt, k.cout, k.how, dy);
        });
        const double today = median_ms(ctx.stream, runs, [] {}, [&] {
            if (gemm) {
                half_conv3x3(ctx, dx, k.cin, h, w, dwt16, k.cout, dy, scr,
                             k.how == IG_CONV_UNSHUFFLE ? CONV_UNSHUFFLE : CONV_SHUFFLE);
                return;
            }
            k_conv3x3(ctx.stream, dx, k.cin, h, w, dwt, nullptr, k.cout, k.how == IG_CONV_PLAIN ? dy : dt);
            if (k.how == IG_CONV_UNSHUFFLE) k_pixel_unshuffle(ctx.stream, dt, k.cout, h, w, dy);
            else if (k.how == IG_CONV_SHUFFLE) k_pixel_shuffle(ctx.stream, dt, k.cout, h, w, dy);
        });
        CK(cudaGetLastError());
        char size[32];
        snprintf(size, sizeof size, "%dx%d", w, h);
        printf("%-7s %5d %5d %9s %9.2e %9.2e %11.3f %11.3f %8.0f%s\n", k.name, k.cin, k.cout, size, e32, e16, ig, today,
               2.0 * (k.cin + k.cout) * n / ig / 1e6, e32 <= limit && e16 <= limit ? "" : "  CHECK FAILED");
        cudaFree(dx);
        cudaFree(dy);
        cudaFree(dt);
        cudaFree(scr);
        cudaFree(dwt);
        cudaFree(dwt16);
    }
    printf("* GB/s counts the input read and the output written once, fp16: the floor's traffic.\n");
    sx_threadpool_free(tp);
    return 0;
}
