/* The CPU backend: walks the plan with the fp32 layers (layers.c), our
 * thread pool and one arena. This is the readable reference every other
 * backend is checked against. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "gemm.h"
#include "layers.h"
#include "log.h"
#include "plan.h"
#include "threadpool.h"

typedef struct cpu_state {
    const sagalux_model *model;
    sx_threadpool *tp;
    sx_plan plan;
    int prepared;
    float *arena;
    int (*before_step)(void *user, float done);
    void *hook_user;
    double network_ms; /* the last successful run's wall-clock time */
    int fp16_maps;     /* sx_cpu_backend_fp16_maps */
} cpu_state;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Scratch, in floats, that each step below uses. */
static size_t cpu_scratch(const sx_step *s, void *user)
{
    (void)user;
    size_t n = (size_t)s->h * s->w;
    switch (s->kind) {
    case SX_STEP_STAGE: {
        if (s->stage->count == 0) return 0;
        size_t wide = 5 * (size_t)s->c, ffn = 2 * (size_t)s->stage->blocks[0].hid;
        return ((size_t)s->c + (ffn > wide ? ffn : wide)) * n; /* LN output + (5C or 2hid) */
    }
    case SX_STEP_FUSE: return 9 * (size_t)s->c * n;
    case SX_STEP_DOWN: return (size_t)(s->c / 2) * n;
    case SX_STEP_UP: return 2 * (size_t)s->c * n;
    case SX_STEP_SKIP: return (size_t)s->c * n;
    default: return 0;
    }
}

static void run_step(cpu_state *s, const sx_step *st, const float *in0, const float *in1, float *out, float *scr)
{
    sx_threadpool *tp = s->tp;
    int c = st->c, h = st->h, w = st->w;
    size_t n = (size_t)h * w;
    switch (st->kind) {
    case SX_STEP_EMBED: sx_conv3x3(tp, in0, 3, h, w, st->conv, NULL, s->model->cfg.dim, out); break;
    case SX_STEP_STAGE:
        if (out != in0) memcpy(out, in0, (size_t)c * n * sizeof(float));
        for (int i = 0; i < st->stage->count; i++) sx_block_forward(tp, &st->stage->blocks[i], out, h, w, scr, scr + (size_t)c * n);
        break;
    case SX_STEP_FUSE: sx_fuse_forward(tp, st->fuse, in0, h, w, out, scr); break;
    case SX_STEP_DOWN:
        sx_conv3x3(tp, in0, c, h, w, st->conv, NULL, c / 2, scr);
        sx_pixel_unshuffle(tp, scr, c / 2, h, w, out);
        break;
    case SX_STEP_UP:
        sx_conv3x3(tp, in0, c, h, w, st->conv, NULL, 2 * c, scr);
        sx_pixel_shuffle(tp, scr, 2 * c, h, w, out);
        break;
    case SX_STEP_SKIP:
        sx_weighted_sum(tp, in0, st->skip->alpha, in1, st->skip->beta, c, n, scr);
        sx_conv1x1(tp, scr, c, n, st->skip->conv, NULL, c, out, 0);
        break;
    case SX_STEP_MIX: sx_weighted_sum(tp, in0, st->alpha, in1, st->beta, c, n, out); break;
    case SX_STEP_OUT: sx_conv3x3(tp, in0, c, h, w, st->conv, NULL, 3, out); break;
    default: break;
    }
}

sagalux_status sx_cpu_arena_bytes(const sagalux_model *model, int h, int w, size_t *bytes)
{
    sx_plan plan;
    sagalux_status st = sx_plan_build(model, h, w, cpu_scratch, NULL, &plan);
    *bytes = st == SAGALUX_OK ? plan.arena_elems * sizeof(float) : 0;
    return st;
}

static sagalux_status cpu_prepare(void *state, int h, int w, char *err, size_t err_size)
{
    cpu_state *s = state;
    if (s->prepared && s->plan.h == h && s->plan.w == w) return SAGALUX_OK;
    s->prepared = 0;
    free(s->arena);
    s->arena = NULL;
    sagalux_status st = sx_plan_build(s->model, h, w, cpu_scratch, NULL, &s->plan);
    if (st != SAGALUX_OK) return sx_fail(err, err_size, st, "CPU: cannot plan a %dx%d image", w, h);
    s->arena = malloc(s->plan.arena_elems * sizeof(float));
    if (!s->arena)
        return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "CPU: out of memory allocating %zu MiB for a %dx%d image",
                       (s->plan.arena_elems * sizeof(float)) >> 20, w, h);
    s->prepared = 1;
    return SAGALUX_OK;
}

/* v rounded to the nearest fp16 value (ties to even), as a float; beyond
 * fp16's range, infinity; subnormal fp16 values are multiples of 2^-24. */
static float round_to_fp16(float v)
{
    const float a = fabsf(v);
    if (!(a < 65520.0f)) return isnan(v) ? v : copysignf(INFINITY, v);
    if (a < 6.103515625e-05f) return nearbyintf(v * 16777216.0f) / 16777216.0f;
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    u += 0x0FFFu + ((u >> 13) & 1u); /* round the 13 dropped mantissa bits, ties to even */
    u &= ~0x1FFFu;
    memcpy(&v, &u, sizeof v);
    return v;
}

void sx_cpu_backend_fp16_maps(void *state, int on) { ((cpu_state *)state)->fp16_maps = on; }

static float *map_of(cpu_state *s, sx_ref r, const float *in, float *out)
{
    if (r.buf < 0) return NULL;
    if (r.buf == s->plan.input) return (float *)in + r.offset;
    if (r.buf == s->plan.output) return out + r.offset;
    return s->arena + s->plan.bufs[r.buf].offset + r.offset;
}

static sagalux_status cpu_run(void *state, const float *in, float *out, sx_tap_fn tap, void *tap_user, char *err,
                              size_t err_size)
{
    cpu_state *s = state;
    if (!s->prepared) return sx_fail(err, err_size, SAGALUX_ERR_INVALID_ARGUMENT, "CPU: run before prepare");
    const double t0 = now_ms();
    for (int i = 0; i < s->plan.n_steps; i++) {
        const sx_step *st = &s->plan.steps[i];
        if (s->before_step && s->before_step(s->hook_user, sx_plan_progress(&s->plan, i)))
            return sx_reason(err, err_size, SAGALUX_ERR_CANCELLED, "CPU: cancelled");
        float *o = map_of(s, st->out, in, out);
        float *scr = st->scratch.buf >= 0 ? s->arena + s->plan.bufs[st->scratch.buf].offset + st->scratch.offset : NULL;
        run_step(s, st, map_of(s, st->in[0], in, out), map_of(s, st->in[1], in, out), o, scr);
        if (s->fp16_maps && st->out.buf != s->plan.output)
            for (size_t k = 0, count = (size_t)sx_step_out_channels(&s->plan, st) * sx_step_out_h(st) * sx_step_out_w(st);
                 k < count; k++)
                o[k] = round_to_fp16(o[k]);
        if (tap) tap(tap_user, i, st->tap, o, sx_step_out_channels(&s->plan, st), sx_step_out_h(st), sx_step_out_w(st));
    }
    s->network_ms = now_ms() - t0;
    return SAGALUX_OK;
}

static double cpu_network_ms(const void *state) { return ((const cpu_state *)state)->network_ms; }

static void cpu_set_step_hook(void *state, int (*before_step)(void *user, float done), void *user)
{
    cpu_state *s = state;
    s->before_step = before_step;
    s->hook_user = user;
}

static size_t cpu_peak(const void *state)
{
    const cpu_state *s = state;
    return s->prepared ? s->plan.arena_elems * sizeof(float) : 0;
}

static void cpu_close(void *state)
{
    cpu_state *s = state;
    if (!s) return;
    sx_threadpool_free(s->tp);
    free(s->arena);
    free(s);
}

sagalux_status sx_cpu_backend_open(const sagalux_model *model, int threads, sx_backend *out, char *err,
                                   size_t err_size)
{
    /* Each of our threads calls single-threaded sgemm on its own slice; BLAS
     * threads on top would oversubscribe the cores. */
    sx_gemm_single_threaded();
    cpu_state *s = calloc(1, sizeof *s);
    if (!s) return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "CPU: out of memory");
    s->model = model;
    size_t scratch = sx_layers_scratch_floats(sx_network_max_channels(sagalux_model_config(model)), SAGALUX_MAX_SIDE);
    s->tp = sx_threadpool_create(threads, scratch);
    if (!s->tp) {
        cpu_close(s);
        return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "CPU: out of memory for %d worker threads", threads);
    }
    *out = (sx_backend){"cpu",     SAGALUX_DEVICE_CPU, s,    cpu_prepare,       cpu_run,       cpu_peak,
                        cpu_close, malloc,             free, cpu_set_step_hook, cpu_network_ms};
    return SAGALUX_OK;
}
