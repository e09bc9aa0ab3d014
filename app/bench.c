/* sagalux-bench — times the network on a random image (a tool, not a test).
 *
 *   sagalux-bench -m MODEL [-s WxH] [-t THREADS] [-r RUNS] [-d cpu|cuda]
 *   sagalux-bench --random DIM,B0,B1,B2,B3,REFINE ...   random weights of that
 *       configuration (heads 1,2,4,8, ffn 2.66): --random 16,2,4,8,16,2 is the
 *       LLFormer setting
 *
 * Prints the median and minimum milliseconds of RUNS enhance calls after one
 * warm-up, the activation peak the library reports, and the process's peak
 * RSS (model weights and the image included). */
#define _POSIX_C_SOURCE 200809L
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
    sagalux_config random_cfg = {0, {0}, 0, {1, 2, 4, 8}, 2.66f};
    int random = 0;
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
        else if (!strcmp(a, "-d") && v) device = !strcmp(v, "cuda") ? SAGALUX_DEVICE_CUDA : SAGALUX_DEVICE_CPU, i++;
        else {
            fprintf(stderr, "usage: sagalux-bench -m MODEL | --random DIM,B0,B1,B2,B3,REFINE  [-s WxH] [-t THREADS] "
                            "[-r RUNS] [-d cpu|cuda]\n");
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
    sagalux_context *ctx;
    err[0] = 0;
    sagalux_status st = sagalux_context_create(model, &co, &ctx, err, sizeof err);
    sagalux_image *img;
    if (st != SAGALUX_OK || sagalux_image_create(w, h, 0, &img) != SAGALUX_OK) {
        fprintf(stderr, "sagalux-bench: cannot set up: %s\n", err[0] ? err : sagalux_status_string(st));
        return 2;
    }
    uint64_t s = 1;
    for (size_t i = 0; i < (size_t)3 * w * h; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        img->rgb[i] = (float)(s >> 40) / 16777216.0f * 0.3f;
    }
    double *ms = malloc(sizeof(double) * runs);
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
        if (r >= 0) ms[r] = t1 - t0;
    }
    qsort(ms, runs, sizeof *ms, by_value);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const sagalux_config *cfg = sagalux_model_config(model);
    printf("device %s  threads %d  size %dx%d  dim %d blocks %d,%d,%d,%d refine %d  params %zu\n",
           sagalux_context_device(ctx) == SAGALUX_DEVICE_CUDA ? "cuda" : "cpu", threads ? threads : -1, w, h, cfg->dim, cfg->blocks[0], cfg->blocks[1], cfg->blocks[2], cfg->blocks[3],
           cfg->refine, sagalux_model_parameter_count(model));
    printf("median_ms %.1f  min_ms %.1f  runs %d  activation_peak_mib %.1f  peak_rss_mib %.1f\n", ms[runs / 2], ms[0],
           runs, sagalux_context_peak_bytes(ctx) / 1048576.0, ru.ru_maxrss / 1024.0);
    free(ms);
    sagalux_image_free(img);
    sagalux_context_free(ctx);
    sagalux_model_free(model);
    return 0;
}
