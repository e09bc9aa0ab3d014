/* sagalux-bench — times the network on a random image (a tool, not a test).
 *
 *   sagalux-bench -m MODEL [-s WxH] [-t THREADS] [-r RUNS] [-d cpu|cuda] [-p fp16|fp32]
 *   sagalux-bench --random DIM,B0,B1,B2,B3,REFINE ...   random weights of that
 *       configuration (heads 1,2,4,8, ffn 2.66): --random 16,2,4,8,16,2 is the
 *       LLFormer setting
 *   sagalux-bench -m MODEL -d cuda --psnr FILE...   enhances each photo on the
 *       CPU (fp32, the reference) and on the device, and prints the PSNR of
 *       the device's output against the CPU's (outputs clamped to [0, 1])
 *   -p: the GPU's arithmetic (sagalux_precision; fp16, the library's default,
 *       or fp32)
 *
 * Prints the median and minimum milliseconds of RUNS enhance calls after one
 * warm-up (host to host: padding, copies, network, blending), the activation
 * peak the library reports, the process's peak RSS (model weights and the
 * image included), and the median and minimum of the network alone
 * (sagalux_context_network_ms: CUDA events on a GPU, copies excluded; what a
 * PyTorch timing of model(x) on a device tensor compares with). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "sagalux.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* Library messages (device choice, fallbacks, SAGALUX_CUDA_PROFILE step times) to stderr. */
static void log_to_stderr(sagalux_log_level level, const char *message, void *user)
{
    (void)user;
    if (level >= SAGALUX_LOG_INFO) fprintf(stderr, "%s\n", message);
}

/* PSNR (dB) of b against a over n values clamped to [0, 1]; *max_abs the largest difference. */
static double psnr(const float *a, const float *b, size_t n, double *max_abs)
{
    double se = 0.0;
    *max_abs = 0.0;
    for (size_t i = 0; i < n; i++) {
        double x = a[i] < 0 ? 0 : a[i] > 1 ? 1 : a[i], y = b[i] < 0 ? 0 : b[i] > 1 ? 1 : b[i], d = x - y;
        se += d * d;
        if (fabs(d) > *max_abs) *max_abs = fabs(d);
    }
    return se == 0.0 ? INFINITY : 10.0 * log10((double)n / se);
}

/* --psnr: every file on the CPU and on ctx; 0 when all ran. */
static int compare_with_cpu(const sagalux_model *model, sagalux_context *ctx, const char *device_name, char **files,
                            int count)
{
    sagalux_context_options co = sagalux_context_options_default();
    co.device = SAGALUX_DEVICE_CPU;
    sagalux_context *cpu;
    char err[512];
    if (sagalux_context_create(model, &co, &cpu, err, sizeof err) != SAGALUX_OK) {
        fprintf(stderr, "sagalux-bench: %s\n", err);
        return 1;
    }
    double worst = INFINITY;
    int failed = 0;
    for (int i = 0; i < count; i++) {
        sagalux_image *img, *ref = NULL, *got = NULL;
        if (sagalux_image_load(files[i], &img, err, sizeof err) != SAGALUX_OK) {
            fprintf(stderr, "sagalux-bench: %s\n", err);
            failed = 1;
            continue;
        }
        double t0 = now_ms();
        sagalux_status a = sagalux_enhance(cpu, img, NULL, &ref);
        double t1 = now_ms();
        sagalux_status b = sagalux_enhance(ctx, img, NULL, &got);
        double t2 = now_ms(), max_abs;
        if (a != SAGALUX_OK || b != SAGALUX_OK) {
            fprintf(stderr, "sagalux-bench: %s: enhance failed: %s\n", files[i],
                    sagalux_status_string(a != SAGALUX_OK ? a : b));
            failed = 1;
        } else {
            double p = psnr(ref->rgb, got->rgb, (size_t)3 * img->width * img->height, &max_abs);
            printf("%s %dx%d psnr_db %.2f max_abs %.2e cpu_ms %.0f device_ms %.1f\n", files[i], img->width,
                   img->height, p, max_abs, t1 - t0, t2 - t1);
            if (p < worst) worst = p;
        }
        sagalux_image_free(ref);
        sagalux_image_free(got);
        sagalux_image_free(img);
    }
    printf("min_psnr_db %.2f over %d photos (device %s vs cpu fp32)\n", worst, count, device_name);
    sagalux_context_free(cpu);
    return failed;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *model_path = NULL;
    int w = 512, h = 512, threads = 0, runs = 5;
    sagalux_device device = SAGALUX_DEVICE_CPU;
    sagalux_precision precision = SAGALUX_PRECISION_FP16;
    sagalux_config random_cfg = {0, {0}, 0, {1, 2, 4, 8}, 2.66f};
    int random = 0, psnr_count = 0;
    char **psnr_files = NULL;
    sagalux_set_log(log_to_stderr, NULL);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-m") && v) model_path = v, i++;
        else if (!strcmp(a, "-s") && v && sscanf(v, "%dx%d", &w, &h) == 2) i++;
        else if (!strcmp(a, "-t") && v) threads = atoi(v), i++;
        else if (!strcmp(a, "-r") && v) runs = atoi(v), i++;
        else if (!strcmp(a, "--random") && v &&
                 sscanf(v, "%d,%d,%d,%d,%d,%d", &random_cfg.dim, &random_cfg.blocks[0], &random_cfg.blocks[1],
                        &random_cfg.blocks[2], &random_cfg.blocks[3], &random_cfg.refine) == 6)
            random = 1, i++;
        else if (!strcmp(a, "--psnr") && v) {
            psnr_files = argv + i + 1;
            psnr_count = argc - i - 1;
            break;
        } else if (!strcmp(a, "-d") && v) device = !strcmp(v, "cuda") ? SAGALUX_DEVICE_CUDA : SAGALUX_DEVICE_CPU, i++;
        else if (!strcmp(a, "-p") && v && (!strcmp(v, "fp16") || !strcmp(v, "fp32")))
            precision = !strcmp(v, "fp32") ? SAGALUX_PRECISION_FP32 : SAGALUX_PRECISION_FP16, i++;
        else {
            fprintf(stderr, "usage: sagalux-bench -m MODEL | --random DIM,B0,B1,B2,B3,REFINE  [-s WxH] [-t THREADS] "
                            "[-r RUNS] [-d cpu|cuda] [-p fp16|fp32] [--psnr FILE...]\n");
            return 2;
        }
    }
    if ((!model_path && !random) || runs < 1 || runs > 1000 || threads < 0) {
        fprintf(stderr, "sagalux-bench: need -m MODEL or --random CONFIG, and 1..1000 runs\n");
        return 2;
    }
    char err[512];
    sagalux_model *model;
    if ((random ? sagalux_model_random(&random_cfg, 1, &model, err, sizeof err)
                : sagalux_model_load(model_path, &model, err, sizeof err)) != SAGALUX_OK) {
        fprintf(stderr, "sagalux-bench: %s\n", err);
        return 2;
    }
    sagalux_context_options co = sagalux_context_options_default();
    co.device = device;
    co.threads = threads;
    co.precision = precision;
    sagalux_context *ctx;
    err[0] = 0;
    sagalux_status st = sagalux_context_create(model, &co, &ctx, err, sizeof err);
    sagalux_image *img;
    if (st != SAGALUX_OK || sagalux_image_create(w, h, 0, &img) != SAGALUX_OK) {
        fprintf(stderr, "sagalux-bench: cannot set up: %s\n", err[0] ? err : sagalux_status_string(st));
        return 2;
    }
    const char *device_name = sagalux_context_device(ctx) != SAGALUX_DEVICE_CUDA ? "cpu"
                              : precision == SAGALUX_PRECISION_FP32           ? "cuda fp32"
                                                                              : "cuda fp16";
    if (psnr_count) {
        int rc = compare_with_cpu(model, ctx, device_name, psnr_files, psnr_count);
        sagalux_image_free(img);
        sagalux_context_free(ctx);
        sagalux_model_free(model);
        return rc;
    }
    uint64_t s = 1;
    for (size_t i = 0; i < (size_t)3 * w * h; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        img->rgb[i] = (float)(s >> 40) / 16777216.0f * 0.3f;
    }
    double *ms = malloc(sizeof(double) * runs), *net_ms = malloc(sizeof(double) * runs);
    for (int r = -1; r < runs; r++) { /* r = -1: warm-up */
        sagalux_image *out;
        double t0 = now_ms();
        st = sagalux_enhance(ctx, img, NULL, &out);
        double t1 = now_ms();
        if (st != SAGALUX_OK) {
            fprintf(stderr, "sagalux-bench: enhance failed: %s\n", sagalux_status_string(st));
            return 1;
        }
        sagalux_image_free(out);
        if (r >= 0) ms[r] = t1 - t0, net_ms[r] = sagalux_context_network_ms(ctx);
    }
    qsort(ms, runs, sizeof *ms, by_value);
    qsort(net_ms, runs, sizeof *net_ms, by_value);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const sagalux_config *cfg = sagalux_model_config(model);
    printf("device %s  threads %d  size %dx%d  dim %d blocks %d,%d,%d,%d refine %d  params %zu\n",
           device_name, threads ? threads : -1, w, h, cfg->dim, cfg->blocks[0], cfg->blocks[1], cfg->blocks[2], cfg->blocks[3],
           cfg->refine, sagalux_model_parameter_count(model));
    printf("median_ms %.1f  min_ms %.1f  runs %d  activation_peak_mib %.1f  device_mib %.1f  peak_rss_mib %.1f\n",
           ms[runs / 2], ms[0], runs, sagalux_context_peak_bytes(ctx) / 1048576.0,
           sagalux_context_device_bytes(ctx) / 1048576.0, ru.ru_maxrss / 1024.0);
    printf("network_ms %.2f  network_min_ms %.2f  (the network alone: %s)\n", net_ms[runs / 2], net_ms[0],
           sagalux_context_device(ctx) == SAGALUX_DEVICE_CUDA ? "CUDA events, copies excluded" : "wall clock");
    free(ms);
    free(net_ms);
    sagalux_image_free(img);
    sagalux_context_free(ctx);
    sagalux_model_free(model);
    return 0;
}
