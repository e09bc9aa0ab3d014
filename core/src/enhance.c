/* The public enhance call: reflect-pad to multiples of 16, run the backend,
 * crop, blend with the input by strength, clamp to [0, 1]. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "image.h"
#include "log.h"
#include "sagalux.h"

struct sagalux_context {
    const sagalux_model *model;
    sagalux_context_options options;
    sx_backend backend;
    sx_backend cpu_fallback; /* opened when a GPU run fails; .state NULL until then */
    float *in_pad, *out_pad; /* reused between calls of the same size */
    size_t pad_floats;
    char error[512];         /* the last failure's reason ("" after a success) */
    atomic_int cancel;       /* sagalux_context_cancel's request */
};

sagalux_context_options sagalux_context_options_default(void)
{
    return (sagalux_context_options){SAGALUX_DEVICE_AUTO, 0, 0, 0};
}

sagalux_enhance_options sagalux_enhance_options_default(void) { return (sagalux_enhance_options){1.0f}; }

sagalux_status sagalux_context_create(const sagalux_model *model, const sagalux_context_options *options,
                                      sagalux_context **out, char *err, size_t err_size)
{
    if (!model || !out) return SAGALUX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    sagalux_context_options opt = options ? *options : sagalux_context_options_default();
    if (opt.threads < 0 || opt.cuda_device < 0 || opt.device < SAGALUX_DEVICE_AUTO || opt.device > SAGALUX_DEVICE_CUDA)
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
    free(ctx);
}

sagalux_device sagalux_context_device(const sagalux_context *ctx) { return ctx->backend.device; }

const char *sagalux_context_error(const sagalux_context *ctx) { return ctx ? ctx->error : ""; }

size_t sagalux_context_peak_bytes(const sagalux_context *ctx)
{
    return ctx->backend.peak_bytes(ctx->backend.state) + 2 * ctx->pad_floats * sizeof(float);
}

void sagalux_context_cancel(sagalux_context *ctx)
{
    if (ctx) atomic_store(&ctx->cancel, 1);
}

static int cancel_requested(void *user) { return atomic_load(&((sagalux_context *)user)->cancel); }

static sagalux_status run_on(sx_backend *b, sagalux_context *ctx, int h, int w)
{
    b->set_cancel(b->state, cancel_requested, ctx);
    sagalux_status st = b->prepare(b->state, h, w, ctx->error, sizeof ctx->error);
    if (st == SAGALUX_OK) st = b->run(b->state, ctx->in_pad, ctx->out_pad, NULL, NULL, ctx->error, sizeof ctx->error);
    return st;
}

/* The network on the padded image. A GPU that runs out of memory or fails
 * does not fail the image: it runs on the CPU, with one log line saying why. */
static sagalux_status run_network(sagalux_context *ctx, int h, int w)
{
    sagalux_status st = run_on(&ctx->backend, ctx, h, w);
    if (st == SAGALUX_OK || st == SAGALUX_ERR_CANCELLED || ctx->backend.device == SAGALUX_DEVICE_CPU ||
        (st != SAGALUX_ERR_OUT_OF_MEMORY && st != SAGALUX_ERR_DEVICE))
        return st;
    sx_log(SAGALUX_LOG_WARN, "%s; running this image on the CPU", ctx->error);
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

sagalux_status sagalux_enhance(sagalux_context *ctx, const sagalux_image *input,
                               const sagalux_enhance_options *options, sagalux_image **out)
{
    if (!ctx || !input || !out || !input->rgb || input->width <= 0 || input->height <= 0)
        return SAGALUX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    float strength = options ? options->strength : 1.0f;
    if (!(strength >= 0.0f && strength <= 1.0f)) return SAGALUX_ERR_INVALID_ARGUMENT;
    int h = input->height, w = input->width;
    int hp = (h + 15) / 16 * 16, wp = (w + 15) / 16 * 16;
    size_t plane = (size_t)hp * wp;
    ctx->error[0] = 0;
    atomic_store(&ctx->cancel, 0);
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
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < hp; y++) {
            const float *src = input->rgb + ((size_t)c * h + sx_reflect_index(y, h)) * w;
            float *dst = ctx->in_pad + c * plane + (size_t)y * wp;
            memcpy(dst, src, (size_t)w * sizeof(float));
            for (int x = w; x < wp; x++) dst[x] = src[sx_reflect_index(x, w)];
        }
    sagalux_status st = run_network(ctx, hp, wp);
    if (st != SAGALUX_OK) return st;

    sagalux_image *res;
    st = sagalux_image_create(w, h, input->alpha != NULL, &res);
    if (st != SAGALUX_OK) return st;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++) {
            const float *net = ctx->out_pad + c * plane + (size_t)y * wp;
            const float *src = input->rgb + ((size_t)c * h + y) * w;
            float *dst = res->rgb + ((size_t)c * h + y) * w;
            for (int x = 0; x < w; x++) {
                float v = src[x] + strength * (net[x] - src[x]);
                dst[x] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
            }
        }
    if (input->alpha) memcpy(res->alpha, input->alpha, (size_t)w * h * sizeof(float));
    st = sx_image_copy_metadata(res, input);
    if (st != SAGALUX_OK) {
        sagalux_image_free(res);
        return st;
    }
    *out = res;
    return SAGALUX_OK;
}
