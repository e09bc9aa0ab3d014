/* The public enhance calls: reflect-pad to multiples of 16, run the backend,
 * crop, blend with the input by strength, clamp to [0, 1]; or keep the
 * network's own output and blend it later (sagalux_blend). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "image.h"
#include "gemm.h"
#include "log.h"
#include "sagalux.h"
#include "threadpool.h"

struct sagalux_context {
    const sagalux_model *model;
    sagalux_context_options options;
    sx_backend backend;
    sx_backend cpu_fallback; /* opened when a GPU run fails; .state NULL until then */
    float *in_pad, *out_pad; /* reused between calls of the same size */
    sx_threadpool *host_tp;  /* pads and blends in parallel on a GPU context; NULL: one thread */
    size_t pad_floats;
    char error[512];         /* the last failure's reason ("" after a success) */
    double network_ms;       /* the last successful run's time in the network (sx_backend.network_ms) */
    atomic_int cancel;       /* sagalux_context_cancel's request */
    atomic_int progress;     /* the running enhance's share done, in 1/65536 */
};

sagalux_context_options sagalux_context_options_default(void)
{
    return (sagalux_context_options){SAGALUX_DEVICE_AUTO, 0, 0, 0, SAGALUX_PRECISION_FP16};
}

sagalux_enhance_options sagalux_enhance_options_default(void) { return (sagalux_enhance_options){1.0f}; }

sagalux_status sagalux_context_create(const sagalux_model *model, const sagalux_context_options *options,
                                      sagalux_context **out, char *err, size_t err_size)
{
    if (!model || !out) return SAGALUX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    sagalux_context_options opt = options ? *options : sagalux_context_options_default();
    if (opt.threads < 0 || opt.cuda_device < 0 || opt.device < SAGALUX_DEVICE_AUTO || opt.device > SAGALUX_DEVICE_CUDA ||
        (opt.precision != SAGALUX_PRECISION_FP16 && opt.precision != SAGALUX_PRECISION_FP32))
        return sx_fail(err, err_size, SAGALUX_ERR_INVALID_ARGUMENT, "context options out of range");
    sagalux_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "out of memory");
    ctx->model = model;
    ctx->options = opt;
    sagalux_status st = sx_backend_open(model, &opt, &ctx->backend, err, err_size);
    if (st != SAGALUX_OK) {
        free(ctx);
        return st;
    }
    /* On a GPU the host's part (padding the input, blending the output: four
     * passes over the image) is a fifth of an enhance at 1280x1280; spread it
     * over a few cores. Copies are memory-bound: more than 8 threads do not help. */
    if (ctx->backend.device == SAGALUX_DEVICE_CUDA) {
        int threads = opt.threads ? opt.threads : sx_cpu_count();
        ctx->host_tp = sx_threadpool_create(threads < 8 ? threads : 8, 0); /* NULL: one thread, still correct */
    }
    *out = ctx;
    return SAGALUX_OK;
}

void sagalux_context_free(sagalux_context *ctx)
{
    if (!ctx) return;
    if (ctx->cpu_fallback.state) ctx->cpu_fallback.close(ctx->cpu_fallback.state);
    ctx->backend.host_free(ctx->in_pad);
    ctx->backend.host_free(ctx->out_pad);
    ctx->backend.close(ctx->backend.state);
    sx_threadpool_free(ctx->host_tp);
    free(ctx);
}

sagalux_device sagalux_context_device(const sagalux_context *ctx) { return ctx->backend.device; }

const char *sagalux_context_error(const sagalux_context *ctx) { return ctx ? ctx->error : ""; }

size_t sagalux_context_peak_bytes(const sagalux_context *ctx)
{
    return ctx->backend.peak_bytes(ctx->backend.state) + 2 * ctx->pad_floats * sizeof(float);
}

size_t sagalux_context_device_bytes(const sagalux_context *ctx)
{
    return ctx->backend.device == SAGALUX_DEVICE_CUDA ? ctx->backend.peak_bytes(ctx->backend.state) : 0;
}

double sagalux_context_network_ms(const sagalux_context *ctx) { return ctx ? ctx->network_ms : 0.0; }

void sagalux_context_cancel(sagalux_context *ctx)
{
    if (ctx) atomic_store(&ctx->cancel, 1);
}

float sagalux_context_progress(const sagalux_context *ctx)
{
    return ctx ? (float)atomic_load(&((sagalux_context *)ctx)->progress) / 65536.0f : 0.0f;
}

/* ---------------------------------------------------------------- memory */

/* Host bytes enhancing a width x height photo takes on device: the padded
 * copies in and out, the result (its alpha plane counted: the photo may have
 * one) and, on the CPU, the plan's arena. The input is the caller's and not
 * counted. On a GPU the arena is device memory (gpu_memory_limit bounds it).
 *
 * Measured: peak RSS of `sagalux -d cpu -t 2` (GNU time -v, shipped model,
 * a PNG), less that of a 16x16 run (24.0 MiB: code, model, threads), against
 * this need plus the decoded input the CLI holds meanwhile (12 bytes a
 * pixel): 1000x750 predicted 669.9 MB, measured 679.5 MB (+1.4%);
 * 2000x1500 predicted 2658.8 MB, measured 2659.8 MB (+0.04%). The
 * difference is about constant: OpenBLAS's own buffers, which it allocates
 * once per thread at the first product. */
static sagalux_status host_need(const sagalux_model *model, sagalux_device device, int threads, int width,
                                int height, uint64_t *bytes)
{
    const int hp = (height + 15) / 16 * 16, wp = (width + 15) / 16 * 16;
    uint64_t total = 2 * 3 * (uint64_t)hp * wp * sizeof(float) + 4 * (uint64_t)width * height * sizeof(float);
    if (device == SAGALUX_DEVICE_CPU) {
        size_t arena;
        sagalux_status st = sx_cpu_arena_bytes(model, hp, wp, &arena);
        if (st != SAGALUX_OK) return st;
        total += arena + sx_gemm_workspace_bytes(threads ? threads : sx_cpu_count());
    }
    *bytes = total;
    return SAGALUX_OK;
}

/* What ctx holds now on the host that an enhance on b frees or reuses
 * before it allocates: the padded copies (counted with the context's own
 * backend) and a CPU backend's arena. */
static uint64_t host_held(const sagalux_context *ctx, const sx_backend *b)
{
    uint64_t held = b == &ctx->backend ? 2 * (uint64_t)ctx->pad_floats * sizeof(float) : 0;
    if (b->state && b->device == SAGALUX_DEVICE_CPU) held += b->peak_bytes(b->state);
    return held;
}

/* "14.2 GB", "310.5 MB". */
static void size_text(char *out, size_t n, uint64_t bytes)
{
    if (bytes >= 1000000000u) snprintf(out, n, "%.1f GB", (double)bytes / 1e9);
    else snprintf(out, n, "%.1f MB", (double)bytes / 1e6);
}

/* Refuses, before anything is allocated, a photo that needs more memory
 * than the process may still take: the kernel would otherwise kill the
 * whole process (and a viewer's window with it) partway through. */
static sagalux_status check_memory(sagalux_context *ctx, uint64_t need, uint64_t held, int width, int height,
                                   const char *where)
{
    uint64_t available = sagalux_memory_available();
    if (available == UINT64_MAX || need <= held || need - held <= available) return SAGALUX_OK;
    char a[32], b[32];
    size_text(a, sizeof a, need);
    size_text(b, sizeof b, available + held);
    return sx_fail(ctx->error, sizeof ctx->error, SAGALUX_ERR_OUT_OF_MEMORY, "%dx%d: needs %s%s, %s available", width,
                   height, a, where, b);
}

sagalux_status sagalux_context_memory_need(const sagalux_context *ctx, int width, int height, uint64_t *bytes)
{
    if (!ctx || !bytes) return SAGALUX_ERR_INVALID_ARGUMENT;
    *bytes = 0;
    sagalux_status st = sx_image_check_size(width, height);
    if (st != SAGALUX_OK) return st == SAGALUX_ERR_FORMAT ? SAGALUX_ERR_INVALID_ARGUMENT : st;
    return host_need(ctx->model, ctx->backend.device, ctx->options.threads, width, height, bytes);
}

/* Before each step of the plan: publish progress, and stop when asked to. */
static int before_step(void *user, float done)
{
    sagalux_context *ctx = user;
    atomic_store(&ctx->progress, (int)(done * 65536.0f));
    return atomic_load(&ctx->cancel);
}

static sagalux_status run_on(sx_backend *b, sagalux_context *ctx, int h, int w)
{
    b->set_step_hook(b->state, before_step, ctx);
    sagalux_status st = b->prepare(b->state, h, w, ctx->error, sizeof ctx->error);
    if (st == SAGALUX_OK) st = b->run(b->state, ctx->in_pad, ctx->out_pad, NULL, NULL, ctx->error, sizeof ctx->error);
    if (st == SAGALUX_OK) ctx->network_ms = b->network_ms(b->state);
    return st;
}

/* The network on the padded image (h x w; the photo is width x height). A
 * GPU that runs out of memory or fails does not fail the image: it runs on
 * the CPU, with one log line saying why, when the host has the memory. */
static sagalux_status run_network(sagalux_context *ctx, int h, int w, int width, int height)
{
    sagalux_status st = run_on(&ctx->backend, ctx, h, w);
    if (st == SAGALUX_OK || st == SAGALUX_ERR_CANCELLED || ctx->backend.device == SAGALUX_DEVICE_CPU ||
        (st != SAGALUX_ERR_OUT_OF_MEMORY && st != SAGALUX_ERR_DEVICE))
        return st;
    char gpu_error[sizeof ctx->error];
    snprintf(gpu_error, sizeof gpu_error, "%s", ctx->error);
    uint64_t need;
    st = host_need(ctx->model, SAGALUX_DEVICE_CPU, ctx->options.threads, width, height, &need);
    /* The padded copies are held already: the CPU adds its arena. */
    if (st == SAGALUX_OK)
        st = check_memory(ctx, need, host_held(ctx, &ctx->backend) + host_held(ctx, &ctx->cpu_fallback), width,
                          height, " on the CPU");
    if (st != SAGALUX_OK) {
        char why[sizeof ctx->error];
        snprintf(why, sizeof why, "%s", ctx->error);
        snprintf(ctx->error, sizeof ctx->error, "%.200s; %.300s", gpu_error, why);
        return st;
    }
    sx_log(SAGALUX_LOG_WARN, "%s; running this image on the CPU", gpu_error);
    if (!ctx->cpu_fallback.state) {
        st = sx_cpu_backend_open(ctx->model, ctx->options.threads, &ctx->cpu_fallback, ctx->error, sizeof ctx->error);
        if (st != SAGALUX_OK) return st;
    }
    return run_on(&ctx->cpu_fallback, ctx, h, w);
}

/* Mirror index for padding past the end: ... n-2, n-1, n-2 ... 1, 0, 1 ...
 * (PyTorch's 'reflect', extended periodically when the pad exceeds the side). */
int sx_reflect_index(int i, int n)
{
    if (n == 1) return 0;
    int period = 2 * (n - 1);
    i %= period;
    return i < n ? i : period - i;
}

/* Rows of the three planes of a reflect-padded copy (row r: plane r / hp, line r % hp). */
typedef struct pad_job {
    const sagalux_image *src;
    float *dst;
    int hp, wp;
} pad_job;

static void pad_rows(void *arg, size_t begin, size_t end, int thread)
{
    (void)thread;
    const pad_job *j = arg;
    const int h = j->src->height, w = j->src->width;
    for (size_t r = begin; r < end; r++) {
        const int c = (int)(r / (size_t)j->hp), y = (int)(r % (size_t)j->hp);
        const float *src = j->src->rgb + ((size_t)c * h + sx_reflect_index(y, h)) * w;
        float *dst = j->dst + r * (size_t)j->wp;
        memcpy(dst, src, (size_t)w * sizeof(float));
        for (int x = w; x < j->wp; x++) dst[x] = src[sx_reflect_index(x, w)];
    }
}

/* fn over n rows: on the host pool when there is one, else here. */
static void for_rows(sx_threadpool *tp, size_t n, sx_range_fn fn, void *arg)
{
    if (tp) sx_parallel_for(tp, n, 16, fn, arg);
    else fn(arg, 0, n, 0);
}

/* Pads input into ctx->in_pad, runs the network into ctx->out_pad (row
 * stride *wp_out, plane stride *plane_out). */
static sagalux_status run_padded(sagalux_context *ctx, const sagalux_image *input, int *wp_out, size_t *plane_out)
{
    int h = input->height, w = input->width;
    int hp = (h + 15) / 16 * 16, wp = (w + 15) / 16 * 16;
    size_t plane = (size_t)hp * wp;
    ctx->error[0] = 0;
    atomic_store(&ctx->cancel, 0);
    atomic_store(&ctx->progress, 0);
    uint64_t need;
    sagalux_status st = host_need(ctx->model, ctx->backend.device, ctx->options.threads, w, h, &need);
    if (st == SAGALUX_OK) st = check_memory(ctx, need, host_held(ctx, &ctx->backend), w, h, "");
    if (st != SAGALUX_OK) return st;
    if (plane * 3 > ctx->pad_floats) {
        ctx->backend.host_free(ctx->in_pad);
        ctx->backend.host_free(ctx->out_pad);
        ctx->pad_floats = 0;
        ctx->in_pad = ctx->backend.host_alloc(plane * 3 * sizeof(float));
        ctx->out_pad = ctx->backend.host_alloc(plane * 3 * sizeof(float));
        if (!ctx->in_pad || !ctx->out_pad)
            return sx_fail(ctx->error, sizeof ctx->error, SAGALUX_ERR_OUT_OF_MEMORY,
                           "out of memory for a %dx%d image", wp, hp);
        ctx->pad_floats = plane * 3;
    }
    pad_job pj = {input, ctx->in_pad, hp, wp};
    for_rows(ctx->host_tp, (size_t)3 * hp, pad_rows, &pj);
    st = run_network(ctx, hp, wp, w, h);
    if (st == SAGALUX_OK) atomic_store(&ctx->progress, 65536);
    *wp_out = wp;
    *plane_out = plane;
    return st;
}

/* dst = clamp(src + strength * (net - src)) over the image's three planes;
 * net's rows are net_stride apart and its planes net_plane apart. The one
 * blend both sagalux_enhance and sagalux_blend use, so they agree bit for bit
 * (each value alone: the same bits on any number of threads). */
typedef struct blend_job {
    const sagalux_image *src_img;
    const float *net_rgb;
    int net_stride;
    size_t net_plane;
    float strength;
    float *dst_rgb;
} blend_job;

static void blend_rows(void *arg, size_t begin, size_t end, int thread)
{
    (void)thread;
    const blend_job *j = arg;
    const int w = j->src_img->width, h = j->src_img->height;
    for (size_t r = begin; r < end; r++) { /* row r: plane r / h, line r % h */
        const int c = (int)(r / (size_t)h), y = (int)(r % (size_t)h);
        const float *net = j->net_rgb + c * j->net_plane + (size_t)y * j->net_stride;
        const float *src = j->src_img->rgb + r * (size_t)w;
        float *dst = j->dst_rgb + r * (size_t)w;
        for (int x = 0; x < w; x++) {
            float v = src[x] + j->strength * (net[x] - src[x]);
            dst[x] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        }
    }
}

static void blend_planes(sx_threadpool *tp, const sagalux_image *src_img, const float *net_rgb, int net_stride,
                         size_t net_plane, float strength, float *dst_rgb)
{
    blend_job j = {src_img, net_rgb, net_stride, net_plane, strength, dst_rgb};
    for_rows(tp, (size_t)3 * src_img->height, blend_rows, &j);
}

/* A new image of input's size, alpha and metadata; rgb left for the caller. */
static sagalux_status image_like(const sagalux_image *input, sagalux_image **out)
{
    sagalux_image *res;
    sagalux_status st = sagalux_image_create(input->width, input->height, input->alpha != NULL, &res);
    if (st != SAGALUX_OK) return st;
    if (input->alpha) memcpy(res->alpha, input->alpha, (size_t)input->width * input->height * sizeof(float));
    st = sx_image_copy_metadata(res, input);
    if (st != SAGALUX_OK) {
        sagalux_image_free(res);
        return st;
    }
    *out = res;
    return SAGALUX_OK;
}

static int valid_image(const sagalux_image *im) { return im && im->rgb && im->width > 0 && im->height > 0; }

sagalux_status sagalux_enhance(sagalux_context *ctx, const sagalux_image *input,
                               const sagalux_enhance_options *options, sagalux_image **out)
{
    if (!ctx || !valid_image(input) || !out) return SAGALUX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    float strength = options ? options->strength : 1.0f;
    if (!(strength >= 0.0f && strength <= 1.0f)) return SAGALUX_ERR_INVALID_ARGUMENT;
    int wp;
    size_t plane;
    sagalux_status st = run_padded(ctx, input, &wp, &plane);
    if (st != SAGALUX_OK) return st;
    sagalux_image *res;
    if ((st = image_like(input, &res)) != SAGALUX_OK) return st;
    blend_planes(ctx->host_tp, input, ctx->out_pad, wp, plane, strength, res->rgb);
    *out = res;
    return SAGALUX_OK;
}

sagalux_status sagalux_enhance_network(sagalux_context *ctx, const sagalux_image *input, sagalux_image **out)
{
    if (!ctx || !valid_image(input) || !out) return SAGALUX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    int wp, w = input->width, h = input->height;
    size_t plane;
    sagalux_status st = run_padded(ctx, input, &wp, &plane);
    if (st != SAGALUX_OK) return st;
    sagalux_image *res;
    if ((st = image_like(input, &res)) != SAGALUX_OK) return st;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++)
            memcpy(res->rgb + ((size_t)c * h + y) * w, ctx->out_pad + c * plane + (size_t)y * wp, (size_t)w * sizeof(float));
    *out = res;
    return SAGALUX_OK;
}

sagalux_status sagalux_blend(const sagalux_image *original, const sagalux_image *network, float strength,
                             sagalux_image **out)
{
    if (!valid_image(original) || !valid_image(network) || !out) return SAGALUX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!(strength >= 0.0f && strength <= 1.0f) || network->width != original->width ||
        network->height != original->height)
        return SAGALUX_ERR_INVALID_ARGUMENT;
    sagalux_image *res;
    sagalux_status st = image_like(original, &res);
    if (st != SAGALUX_OK) return st;
    blend_planes(NULL, original, network->rgb, original->width, (size_t)original->width * original->height, strength,
                 res->rgb);
    *out = res;
    return SAGALUX_OK;
}
