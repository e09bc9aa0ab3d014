// The kernel workbench for the deep levels' depthwise 3x3 + gates (llm.c's
// dev/cuda pattern):
//
//   bench_dw [--size WxH] [--runs N]
//
// For each deep level of the LLFormer setting (C = 64, 128, 256 at 1/4, 1/8,
// 1/16 of --size) and both branches (attention: 5C -> q, relu(k) sigmoid(gk),
// v sigmoid(gv); FFN: 2 hid -> the dual gate), the two kernels on fp16 maps
// (the one-column kernels of cuda/src/kernels.cu and the two-pixel kernels
// of cuda/src/dw_pairs.cu) are
//   - checked against the CPU reference (core/src/layers.c's depthwise and
//     dual gate, the attention's gates as NETWORK.md writes them) on random
//     taps and a random fp16-rounded input at 70x50 (partial tiles at both
//     edges, rows left over within a thread);
//   - compared with each other value by value (the same sums in the same
//     order: they should agree bit for bit);
// then timed at the level's size (median of --runs), with the bandwidth of
// their one read of t and one write of u.
#include <cmath>
#include <cstring>
#include <vector>

#include <cuda_fp16.h>

#include "bench_common.cuh"
#include "dw_pairs.cuh"
#include "kernels.cuh"

extern "C" {
#include "layers.h"
#include "threadpool.h"
}

struct dw_case {
    const char *branch; // "attn" or "ffn"
    int c, level;       // the block's width; its size is --size / 2^level
};

static const dw_case CASES[] = {{"attn", 64, 2}, {"ffn", 64, 2},  {"attn", 128, 3},
                                {"ffn", 128, 3}, {"attn", 256, 4}, {"ffn", 256, 4}};

static bool is_attn(const dw_case &k) { return !strcmp(k.branch, "attn"); }
static int hid_of(int c) { return (int)(c * 2.66); } // NETWORK.md: floor(C ffn), the LLFormer setting's 2.66
static int in_maps(const dw_case &k) { return is_attn(k) ? 5 * k.c : 2 * hid_of(k.c); }
static int out_maps(const dw_case &k) { return is_attn(k) ? 3 * k.c : hid_of(k.c); }

static std::vector<float> fp16_rounded(const std::vector<float> &v)
{
    std::vector<float> r(v.size());
    for (size_t i = 0; i < v.size(); i++) r[i] = __half2float(__float2half(v[i]));
    return r;
}

static float sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }

// The CPU reference of u from t (h x w).
static std::vector<float> reference(sx_threadpool *tp, const dw_case &k, std::vector<float> t, int h, int w,
                                    const std::vector<float> &wt)
{
    const size_t n = (size_t)h * w;
    sx_dwconv3x3_inplace(tp, t.data(), in_maps(k), h, w, wt.data(), nullptr);
    if (!is_attn(k)) {
        sx_dual_gate(tp, t.data(), hid_of(k.c), n);
        t.resize((size_t)hid_of(k.c) * n);
        return t;
    }
    const size_t cn = (size_t)k.c * n;
    std::vector<float> u(3 * cn);
    for (size_t i = 0; i < cn; i++) {
        u[i] = t[i];                                             // q
        u[cn + i] = fmaxf(t[cn + i], 0.0f) * sigmoid(t[3 * cn + i]); // relu(k) sigmoid(gk)
        u[2 * cn + i] = t[2 * cn + i] * sigmoid(t[4 * cn + i]);      // v sigmoid(gv)
    }
    return u;
}

static void launch(const dw_case &k, bool pairs, const __half *t, int h, int w, const float *wt, __half *u)
{
    if (is_attn(k)) (pairs ? k_attn_dw_gate_pairs : k_attn_dw_gate)(nullptr, t, k.c, h, w, wt, u);
    else (pairs ? k_ffn_dw_gate_pairs : k_ffn_dw_gate)(nullptr, t, hid_of(k.c), h, w, wt, u);
}

// The kernel's u for t (h x w, already fp16-rounded), as floats.
static std::vector<float> run(const dw_case &k, bool pairs, const std::vector<float> &t, int h, int w, const float *dwt)
{
    const size_t n = (size_t)h * w, out_count = (size_t)out_maps(k) * n;
    std::vector<__half> th(t.size()), uh(out_count);
    for (size_t i = 0; i < t.size(); i++) th[i] = __float2half(t[i]);
    __half *dt, *du;
    CK(cudaMalloc(&dt, t.size() * 2));
    CK(cudaMalloc(&du, out_count * 2));
    CK(cudaMemcpy(dt, th.data(), t.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemset(du, 0xff, out_count * 2)); // NaNs: an output the kernel never writes fails the check
    launch(k, pairs, dt, h, w, dwt, du);
    CK(cudaGetLastError());
    CK(cudaMemcpy(uh.data(), du, out_count * 2, cudaMemcpyDeviceToHost));
    cudaFree(dt);
    cudaFree(du);
    std::vector<float> u(out_count);
    for (size_t i = 0; i < out_count; i++) u[i] = __half2float(uh[i]);
    return u;
}

static size_t differing(const std::vector<float> &a, const std::vector<float> &b)
{
    size_t count = 0;
    for (size_t i = 0; i < a.size(); i++) count += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return count;
}

int main(int argc, char **argv)
{
    int W = 1280, H = 1280, runs = 20;
    if (!size_runs_args(argc, argv, "bench_dw", &W, &H, &runs)) return 2;
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    sx_threadpool *tp = sx_threadpool_create(0, sx_layers_scratch_floats(16, 70));
    printf("%s; deep depthwise 3x3 + gates on fp16 maps; check at 70x50 against the CPU reference; time at the "
           "level's size of %dx%d (median of %d)\n",
           prop.name, W, H, runs);
    printf("%-5s %4s %5s %9s %10s %10s %9s %10s %10s %8s\n", "dw", "C", "maps", "size", "nerr col", "nerr pairs",
           "differ", "col ms", "pairs ms", "GB/s*");
    const int ch = 50, cw = 70;
    // fp16 output rounding (2^-11 relative) and ~2 ulp gates: the limit of the other workbenches' fp16 maps.
    const double limit = 2e-3;
    int failed = 0;
    for (const dw_case &k : CASES) {
        const std::vector<float> wt = random_map((size_t)in_maps(k) * 9, 29);
        float *dwt;
        CK(cudaMalloc(&dwt, wt.size() * 4));
        CK(cudaMemcpy(dwt, wt.data(), wt.size() * 4, cudaMemcpyHostToDevice));
        // Inputs of a few units, as a 1x1 of a LayerNormed map gives: the gates' whole range.
        std::vector<float> t = random_map((size_t)in_maps(k) * ch * cw, 31);
        for (float &v : t) v *= 4.0f;
        t = fp16_rounded(t);
        const std::vector<float> want = reference(tp, k, t, ch, cw, wt), col = run(k, false, t, ch, cw, dwt),
                                 pairs = run(k, true, t, ch, cw, dwt);
        const double e_col = nerr(col, want), e_pairs = nerr(pairs, want);
        const size_t differ = differing(col, pairs);
        const bool ok = e_col <= limit && e_pairs <= limit && differ == 0;
        failed += !ok;
        // Timing at the level's size.
        const int h = H >> k.level, w = W >> k.level;
        const size_t n = (size_t)h * w;
        __half *dt, *du;
        CK(cudaMalloc(&dt, (size_t)in_maps(k) * n * 2));
        CK(cudaMalloc(&du, (size_t)out_maps(k) * n * 2));
        CK(cudaMemset(dt, 0, (size_t)in_maps(k) * n * 2));
        const double ms_col = median_ms(nullptr, runs, [] {}, [&] { launch(k, false, dt, h, w, dwt, du); });
        double ms_pairs = NAN;
        if (dw_pairs_supported(h, w)) ms_pairs = median_ms(nullptr, runs, [] {}, [&] { launch(k, true, dt, h, w, dwt, du); });
        const double bytes = 2.0 * (in_maps(k) + out_maps(k)) * n, best = std::isnan(ms_pairs) ? ms_col : fmin(ms_col, ms_pairs);
        char size[32];
        snprintf(size, sizeof size, "%dx%d", w, h);
        printf("%-5s %4d %5d %9s %10.2e %10.2e %9zu %10.4f %10.4f %8.0f%s\n", k.branch, k.c, in_maps(k), size, e_col,
               e_pairs, differ, ms_col, ms_pairs, bytes / best / 1e6, ok ? "" : "  CHECK FAILED");
        cudaFree(dt);
        cudaFree(du);
        cudaFree(dwt);
    }
    // An odd width takes the one-column kernels: the pair kernels must say no.
    if (dw_pairs_supported(50, 71)) {
        printf("dw_pairs_supported(50, 71) says yes: an odd width would read half2 across columns  CHECK FAILED\n");
        failed++;
    }
    printf("* GB/s: t read and u written once (the fastest kernel's time). differ: values where the two kernels' "
           "fp16 outputs are not identical.\n");
    sx_threadpool_free(tp);
    return failed ? 1 : 0;
}
