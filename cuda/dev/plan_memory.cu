// What the CUDA backend would hold for one image size, and where the arena's
// peak lies: read from the plan, no GPU needed (so it runs anywhere the CUDA
// backend builds).
//
//   plan_memory -m MODEL | --random DIM,B0,B1,B2,B3,REFINE  [-s WxH] [-p fp16|fp32] [--layout]
//
// Prints the parts of the device memory (fp32 weights, their fp16 copies,
// the image in and out, fixed scratch, the arena: their sum is what
// sagalux_context_peak_bytes reports, less the host's two padded copies),
// then the step where the most arena is live and every buffer live there;
// --layout: every buffer's place in the arena and the steps it lives.
#include <cstdio>
#include <cstring>

extern "C" {
#include "backend.h"
#include "network.h"
#include "plan.h"
#include "sagalux.h"
}

static double mib(size_t bytes) { return bytes / 1048576.0; }

int main(int argc, char **argv)
{
    const char *model_path = nullptr;
    int w = 1280, h = 1280, random = 0, layout = 0;
    sagalux_precision precision = SAGALUX_PRECISION_FP16;
    sagalux_config cfg = {0, {0}, 0, {1, 2, 4, 8}, 2.66f};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (!strcmp(a, "-m") && v) model_path = v, i++;
        else if (!strcmp(a, "--layout")) layout = 1;
        else if (!strcmp(a, "-s") && v && sscanf(v, "%dx%d", &w, &h) == 2) i++;
        else if (!strcmp(a, "-p") && v && (!strcmp(v, "fp16") || !strcmp(v, "fp32")))
            precision = !strcmp(v, "fp32") ? SAGALUX_PRECISION_FP32 : SAGALUX_PRECISION_FP16, i++;
        else if (!strcmp(a, "--random") && v &&
                 sscanf(v, "%d,%d,%d,%d,%d,%d", &cfg.dim, &cfg.blocks[0], &cfg.blocks[1], &cfg.blocks[2],
                        &cfg.blocks[3], &cfg.refine) == 6)
            random = 1, i++;
        else {
            fprintf(stderr, "usage: plan_memory -m MODEL | --random DIM,B0,B1,B2,B3,REFINE [-s WxH] [-p fp16|fp32] "
                            "[--layout]\n");
            return 2;
        }
    }
    char err[512];
    sagalux_model *model;
    if (!model_path && !random) {
        fprintf(stderr, "plan_memory: need -m MODEL or --random CONFIG\n");
        return 2;
    }
    if ((random ? sagalux_model_random(&cfg, 1, &model, err, sizeof err)
                : sagalux_model_load(model_path, &model, err, sizeof err)) != SAGALUX_OK) {
        fprintf(stderr, "plan_memory: %s\n", err);
        return 2;
    }
    const int hp = (h + 15) / 16 * 16, wp = (w + 15) / 16 * 16;
    static sx_plan plan;
    sx_cuda_memory b;
    if (sx_cuda_plan_memory(model, hp, wp, precision, &plan, &b) != SAGALUX_OK) {
        fprintf(stderr, "plan_memory: cannot plan a %dx%d image\n", wp, hp);
        return 1;
    }
    printf("%dx%d (padded %dx%d), %s: device %.1f MiB = fp32 weights %.1f + fp16 weights %.1f + images %.1f + "
           "fixed %.1f + arena %.1f\n",
           w, h, wp, hp, precision == SAGALUX_PRECISION_FP16 ? "fp16" : "fp32",
           mib(b.weights + b.weights16 + b.images + b.fixed + b.arena), mib(b.weights), mib(b.weights16),
           mib(b.images), mib(b.fixed), mib(b.arena));
    printf("device: %s\n", b.device);
    const size_t elem = plan.arena_elems ? b.arena / plan.arena_elems : sizeof(float); // 2: fp16 maps
    size_t peak = 0;
    int at = 0;
    for (int s = 0; s < plan.n_steps; s++) {
        size_t live = 0;
        for (int i = 0; i < plan.n_bufs; i++) {
            const sx_plan_buffer *pb = &plan.bufs[i];
            if (!pb->external && pb->born <= s && s <= pb->dies) live += pb->elems * elem;
        }
        if (live > peak) peak = live, at = s;
    }
    const sx_step *st = &plan.steps[at];
    printf("maps %s; arena peak %.1f MiB at step %d (%s C=%d %dx%d); live there:\n", elem == 2 ? "fp16" : "fp32", mib(peak), at, sx_step_kind_name(st->kind),
           st->c, st->w, st->h);
    for (int i = 0; i < plan.n_bufs; i++) {
        const sx_plan_buffer *pb = &plan.bufs[i];
        if (!pb->external && pb->born <= at && at <= pb->dies)
            printf("  %-12s %8.1f MiB  steps %d..%d\n", pb->name ? pb->name : "?", mib(pb->elems * elem),
                   pb->born, pb->dies);
    }
    for (int i = 0; layout && i < plan.n_bufs; i++) {
        const sx_plan_buffer *pb = &plan.bufs[i];
        if (!pb->external && pb->born >= 0)
            printf("  layout %-12s %8.1f .. %8.1f MiB  steps %2d..%2d\n", pb->name ? pb->name : "?",
                   mib(pb->offset * elem), mib((pb->offset + pb->elems) * elem), pb->born, pb->dies);
    }
    sagalux_model_free(model);
    return 0;
}
