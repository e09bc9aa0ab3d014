/* The network as data: one plan per (model, H, W) that every backend walks.
 *
 * A plan is the U-Net of docs/network.md written as a list of steps at stage
 * granularity (embed, stage of k blocks, fuse, down, up, skip, mix, out),
 * each with its weights, its input and output maps and the golden tap name
 * of its output, plus every map's size and its offset in one arena, placed by
 * liveness. The wiring lives here only: the CPU executor runs each step with
 * layers.c, the CUDA executor with fused kernels, and both give the golden
 * test the same taps. Sizes are in elements; a backend chooses the element
 * type (fp32 on the CPU, fp16 on the GPU) and, through a callback, how much
 * scratch each step needs, which the plan places in the same arena. */
#ifndef SX_PLAN_H
#define SX_PLAN_H

#include <stddef.h>

#include "network.h"
#include "sagalux.h"

enum { SX_PLAN_MAX_STEPS = 48, SX_PLAN_MAX_BUFS = 96 };

typedef enum sx_step_kind {
    SX_STEP_EMBED, /* out (d0, H, W) = 3x3(3 -> d0)(in0), the image */
    SX_STEP_STAGE, /* out (C, H, W) = Blocks_k(in0); out may be in0 (in place) */
    SX_STEP_FUSE,  /* out (C, H, W) = Fuse(C)(in0 = the three maps stacked, 3C) */
    SX_STEP_DOWN,  /* out (2C, H/2, W/2) = Down(C)(in0 (C, H, W)) */
    SX_STEP_UP,    /* out (C/2, 2H, 2W) = Up(C)(in0 (C, H, W)) */
    SX_STEP_SKIP,  /* out (C, H, W) = Skip(C)(in0, in1) */
    SX_STEP_MIX,   /* out (d0, H, W) = alpha * in0 + beta * in1 (the refinement's R0) */
    SX_STEP_OUT,   /* out (3, H, W) = 3x3(d0 -> 3)(in0) */
    SX_STEP_KIND_COUNT
} sx_step_kind;

/* A map: a plan buffer and an element offset into it (the three maps a Fuse
 * reads are three slots of one buffer). */
typedef struct sx_ref {
    int buf;       /* -1: none */
    size_t offset; /* elements */
} sx_ref;

typedef struct sx_step {
    sx_step_kind kind;
    int c, h, w;           /* the input's channels and size, as in the layer notation above */
    const sx_stage *stage; /* STAGE */
    const sx_fuse *fuse;   /* FUSE */
    const sx_skip *skip;   /* SKIP */
    const float *conv;     /* EMBED, DOWN, UP, OUT: the 3x3 weight */
    const float *alpha, *beta; /* MIX */
    sx_ref in[2], out;
    sx_ref scratch;        /* this step's scratch (buf -1 when it needs none) */
    sx_ref spare;          /* room the step may use as scratch: slots of its output buffer */
    size_t spare_elems;    /* not yet written (0: none) */
    const char *tap;       /* golden name of out (F, X0..X3, Y2..Y0, R3, O), or NULL */
} sx_step;

typedef struct sx_plan_buffer {
    const char *name;
    size_t elems;
    int born, dies;        /* first and last step that touch it */
    int external;          /* the image in and out: the caller's memory, not the arena */
    size_t offset;         /* in the arena, elements (0 for external) */
} sx_plan_buffer;

typedef struct sx_plan {
    const sagalux_model *model;
    int h, w;
    int n_steps, n_bufs;
    sx_step steps[SX_PLAN_MAX_STEPS];
    sx_plan_buffer bufs[SX_PLAN_MAX_BUFS];
    int input, output;     /* buffer ids of the image (3, H, W) in and out */
    size_t arena_elems;    /* the arena: every non-external buffer at its offset */
} sx_plan;

/* Elements of scratch a backend's implementation of step needs (0: none). */
typedef size_t (*sx_scratch_fn)(const sx_step *step, void *user);

/* Builds the plan for an H x W image (multiples of 16). */
sagalux_status sx_plan_build(const sagalux_model *m, int h, int w, sx_scratch_fn scratch, void *user,
                             sx_plan *out);

const char *sx_step_kind_name(sx_step_kind kind);

/* The shape of a step's output. */
int sx_step_out_channels(const sx_plan *plan, const sx_step *step);
int sx_step_out_h(const sx_step *step);
int sx_step_out_w(const sx_step *step);

/* The share of the plan's work (estimated multiply-adds) in the steps before
 * step: 0 at step 0, 1 at n_steps. For progress reports. */
float sx_plan_progress(const sx_plan *plan, int step);

#endif
