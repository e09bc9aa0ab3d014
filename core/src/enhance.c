/* The public enhance call: reflect-pad to multiples of 16, run the backend,
 * crop, blend with the input by strength, clamp to [0, 1]. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "image.h"
#include "log.h"
#include "sagalux.h"

struct sagalux_context {
    sx_backend backend;
    float *in_pad, *out_pad; /* reused between calls of the same size */
    size_t pad_floats;
};

sagalux_context_options sagalux_context_options_default(void)
{
    return (sagalux_context_options){SAGALUX_DEVICE_AUTO, 0, 0};
}

sagalux_enhance_options sagalux_enhance_options_default(void) { return (sagalux_enhance_options){1.0f}; }

sagalux_status sagalux_context_create(const sagalux_model *model, const sagalux_context_options *options,
                                      sagalux_context **out)
{
    if (!model || !out) return SAGALUX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    sagalux_context_options opt = options ? *options : sagalux_context_options_default();
    if (opt.threads < 0) return SAGALUX_ERR_INVALID_ARGUMENT;
    if (opt.device == SAGALUX_DEVICE_CUDA) {
        sx_log(SAGALUX_LOG_ERROR, "this build of libsagalux has no CUDA backend");
        return SAGALUX_ERR_DEVICE;
    }
    sagalux_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return SAGALUX_ERR_OUT_OF_MEMORY;
    sagalux_status st = sx_cpu_backend_create(model, opt.threads, &ctx->backend);
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
    ctx->backend.destroy(ctx->backend.state);
    free(ctx->in_pad);
    free(ctx->out_pad);
    free(ctx);
}

sagalux_device sagalux_context_device(const sagalux_context *ctx) { return ctx->backend.device; }

size_t sagalux_context_peak_bytes(const sagalux_context *ctx)
{
    return ctx->backend.peak_bytes(ctx->backend.state) + 2 * ctx->pad_floats * sizeof(float);
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
    if (plane * 3 > ctx->pad_floats) {
        free(ctx->in_pad);
        free(ctx->out_pad);
        ctx->pad_floats = 0;
        ctx->in_pad = malloc(plane * 3 * sizeof(float));
        ctx->out_pad = malloc(plane * 3 * sizeof(float));
        if (!ctx->in_pad || !ctx->out_pad) return SAGALUX_ERR_OUT_OF_MEMORY;
        ctx->pad_floats = plane * 3;
    }
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < hp; y++) {
            const float *src = input->rgb + ((size_t)c * h + sx_reflect_index(y, h)) * w;
            float *dst = ctx->in_pad + c * plane + (size_t)y * wp;
            memcpy(dst, src, (size_t)w * sizeof(float));
            for (int x = w; x < wp; x++) dst[x] = src[sx_reflect_index(x, w)];
        }
    sagalux_status st = ctx->backend.forward(ctx->backend.state, ctx->in_pad, hp, wp, ctx->out_pad);
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
