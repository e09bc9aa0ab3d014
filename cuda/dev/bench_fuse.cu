// The kernel workbench for the Fuse layer (llm.c's dev/cuda pattern):
//
//   bench_fuse [--c 8|16] [--size WxH] [--runs N] [--variant all|unfused|fused|fused-tc|igemm|igemm2]
//
// Each variant is the production code (cuda/src/layers_unfused.cu,
// cuda/src/fuse_fused.cu; fused-tc: its 1x1s on fp16 tensor cores,
// cuda/src/fuse_tc.cu; igemm: both passes as implicit GEMMs on mma.sync,
// cuda/src/fuse_igemm.cu, the fp16 default; igemm2: those with two rows a
// warp), first checked against the CPU reference
// (sx_fuse_forward, core/src/layers.c) on random weights and a random
// three-map input at an odd size (70x50: partial tiles), then timed at
// --size with CUDA events (warm-up, median of --runs).
#include <cstring>

#include <cublas_v2.h>

#include "bench_common.cuh"
#include "fuse_fused.cuh"
#include "fuse_igemm.cuh"
#include "fuse_tc.cuh"
#include "kernels.cuh"
#include "layers_unfused.cuh"

extern "C" {
#include "layers.h"
#include "network.h"
#include "sagalux.h"
#include "threadpool.h"
}

struct bench {
    gpu_fuse_weights f;
    gpu_ctx ctx;
    double *partial, *sums;
    float *fold, *scratch = nullptr;
    size_t scratch_floats = 0;
};

static bool run_variant(bench &B, const char *variant, const float *x, int h, int w, float *out)
{
    if (!strncmp(variant, "fused", 5) || !strncmp(variant, "igemm", 5))
        return fused_fuse_run(B.ctx.stream, B.f, x, h, w, out, B.partial, B.sums, B.fold,
                              !strcmp(variant, "igemm2")     ? FUSE_IGEMM2
                              : !strcmp(variant, "igemm")    ? FUSE_IGEMM
                              : !strcmp(variant, "fused-tc") ? FUSE_TC
                                                             : FUSE_FP32);
    size_t need = unfused_fuse_scratch(B.f.c, (size_t)h * w);
    if (need > B.scratch_floats) {
        cudaFree(B.scratch);
        CK(cudaMalloc(&B.scratch, need * sizeof(float)));
        B.scratch_floats = need;
    }
    return unfused_fuse_run(B.ctx, B.f, x, h, w, out, B.scratch) == CUBLAS_STATUS_SUCCESS;
}

// Runs variant on x (3C, h, w) and returns its output (C, h, w).
static std::vector<float> run_on(bench &B, const char *variant, const std::vector<float> &x, int h, int w)
{
    const size_t n = (size_t)h * w, c = B.f.c;
    float *dx, *dout;
    CK(cudaMalloc(&dx, 3 * c * n * sizeof(float)));
    CK(cudaMalloc(&dout, c * n * sizeof(float)));
    CK(cudaMemcpy(dx, x.data(), 3 * c * n * sizeof(float), cudaMemcpyHostToDevice));
    std::vector<float> got(c * n, NAN);
    if (run_variant(B, variant, dx, h, w, dout)) {
        CK(cudaGetLastError());
        CK(cudaMemcpy(got.data(), dout, c * n * sizeof(float), cudaMemcpyDeviceToHost));
    }
    cudaFree(dx);
    cudaFree(dout);
    return got;
}

int main(int argc, char **argv)
{
    int c = 16, w = 1280, h = 1280, runs = 20;
    const char *variant = "all";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (!strcmp(a, "--c") && v) c = atoi(v), i++;
        else if (!strcmp(a, "--size") && v && sscanf(v, "%dx%d", &w, &h) == 2) i++;
        else if (!strcmp(a, "--runs") && v) runs = atoi(v), i++;
        else if (!strcmp(a, "--variant") && v) variant = v, i++;
        else {
            fprintf(stderr, "usage: bench_fuse [--c 8|16] [--size WxH] [--runs N] [--variant all|unfused|fused|fused-tc|igemm|igemm2]\n");
            return 2;
        }
    }
    sagalux_config cfg = {c, {1, 0, 0, 0}, 0, {1, 1, 1, 1}, 2.66f};
    sagalux_model *model;
    char err[512];
    if (sagalux_model_random(&cfg, 7, &model, err, sizeof err) != SAGALUX_OK) {
        fprintf(stderr, "bench_fuse: %s\n", err);
        return 2;
    }
    const sx_fuse *fu = &model->fuse_in;
    float *arena;
    CK(cudaMalloc(&arena, model->params * sizeof(float)));
    CK(cudaMemcpy(arena, model->arena, model->params * sizeof(float), cudaMemcpyHostToDevice));
    auto dev = [&](const float *p) { return arena + (p - model->arena); };
    bench B;
    B.f = gpu_fuse_weights{dev(fu->qkv_w), dev(fu->qkv_b), dev(fu->dw_w), dev(fu->dw_b), fu->tau,
                           dev(fu->proj_w), dev(fu->proj_b), dev(fu->out_w), fu->c};
    CK(cudaStreamCreate(&B.ctx.stream));
    cublasCreate(&B.ctx.blas);
    cublasSetStream(B.ctx.blas, B.ctx.stream);
    CK(cudaMalloc(&B.partial, K_FUSE_BLOCKS * 15 * sizeof(double)));
    CK(cudaMalloc(&B.sums, 15 * sizeof(double)));
    CK(cudaMalloc(&B.fold, fused_fuse_fold_floats(c) * sizeof(float)));
    B.ctx.fuse_partial = reinterpret_cast<float *>(B.partial);
    B.ctx.fuse_sums = reinterpret_cast<float *>(B.sums);
    sx_threadpool *tp = sx_threadpool_create(0, sx_layers_scratch_floats(3 * c, 70));

    // The CPU reference at 70x50.
    const int ch = 50, cw = 70;
    const size_t cn = (size_t)ch * cw;
    std::vector<float> cx = random_map(3 * c * cn, 99), want(c * cn), t(9 * c * cn);
    sx_fuse_forward(tp, fu, cx.data(), ch, cw, want.data(), t.data());

    cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    // FLOPs per pixel as the layer is written (1x1 3C->9C, depthwise 9C, the mix, 1x1 3C->3C and 3C->C) and
    // the fewest bytes: the 3C input read once, the C output written once.
    const double n = (double)w * h, x3 = 3.0 * c,
                 flop = n * (2.0 * x3 * 3 * x3 + 2.0 * 9 * 3 * x3 + 2.0 * 15 * c + 2.0 * 3 * x3 + 2.0 * x3 * x3 +
                             2.0 * x3 * c);
    printf("%s; Fuse C=%d; check at 70x50 against the CPU reference; time at %dx%d (median of %d)\n", prop.name, c,
           w, h, runs);
    printf("%-8s %10s %10s %10s %10s\n", "variant", "nerr", "ms", "GFLOP/s", "GB/s*");
    std::vector<float> x = random_map(3 * (size_t)c * w * h, 5);
    float *dx, *dout;
    CK(cudaMalloc(&dx, x.size() * sizeof(float)));
    CK(cudaMalloc(&dout, (size_t)c * w * h * sizeof(float)));
    CK(cudaMemcpy(dx, x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice));
    const char *variants[] = {"unfused", "fused", "fused-tc", "igemm", "igemm2"};
    for (const char *v : variants) {
        if (strcmp(variant, "all") && strcmp(variant, v)) continue;
        if ((!strcmp(v, "fused") && !fused_fuse_supported(c)) || (!strcmp(v, "fused-tc") && !tc_fuse_supported(c)) ||
            (!strncmp(v, "igemm", 5) && !ig_fuse_supported(c))) {
            printf("%-8s (not for this width)\n", v);
            continue;
        }
        double e = nerr(run_on(B, v, cx, ch, cw), want);
        double ms = median_ms(B.ctx.stream, runs, [] {}, [&] { run_variant(B, v, dx, h, w, dout); });
        // 1e-5: fp32 against fp32, a different summation order (the fused pass folds the softmax and the two 1x1s);
        // 2e-3 for fused-tc and igemm: their operands (the inputs, the weights, v, the folded M; for igemm also
        // W_out and the biases) round to fp16, 2^-11 relative each, with fp32 sums (the fused block's
        // tensor-core limit, same reasoning).
        const double limit = !strcmp(v, "fused-tc") || !strncmp(v, "igemm", 5) ? 2e-3 : 1e-5;
        printf("%-8s %10.2e %10.3f %10.0f %10.0f%s\n", v, e, ms, flop / ms / 1e6, 4.0 * c * n * 4 / ms / 1e6,
               e <= limit ? "" : "  CHECK FAILED");
    }
    printf("* GB/s counts only the layer's input and output (3C read and C written once): the fused floor's traffic.\n");
    sx_threadpool_free(tp);
    sagalux_model_free(model);
    return 0;
}
