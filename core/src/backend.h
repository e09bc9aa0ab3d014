/* The seam between the enhance call and the device that runs the network.
 *
 * Every backend walks the same plan (plan.h). Its life: open (device, weights
 * upload), prepare for a size (plan + one arena; kept while the size stays),
 * run (image in, image out, host memory, with optional golden taps), close.
 * Failures return a status and write a one-line reason into err that names
 * the device (e.g. "CUDA device 0: out of memory allocating 512 MiB"). */
#ifndef SX_BACKEND_H
#define SX_BACKEND_H

#include <stddef.h>

#include "sagalux.h"

/* Called after every step of the plan with its output as fp32 host memory
 * (name: the golden tap F, X0..X3, Y2..Y0, R3, O, or NULL for the steps
 * between), so the golden and parity tests compare any backend step by step. */
typedef void (*sx_tap_fn)(void *user, int step, const char *name, const float *map, int c, int h, int w);

typedef struct sx_backend {
    const char *name;
    sagalux_device device;
    void *state;
    /* Plans for an H x W image (multiples of 16) and holds its arena. */
    sagalux_status (*prepare)(void *state, int h, int w, char *err, size_t err_size);
    /* out (3, H, W) = network(in (3, H, W)) for the prepared size. tap may be NULL. */
    sagalux_status (*run)(void *state, const float *in, float *out, sx_tap_fn tap, void *tap_user, char *err,
                          size_t err_size);
    /* Bytes the backend holds for the prepared size: arena and scratch (and, on a GPU, weights). */
    size_t (*peak_bytes)(const void *state);
    void (*close)(void *state);
    /* Host memory for the image in and out (a GPU backend gives page-locked
     * memory, which copies to and from the device about twice as fast). */
    void *(*host_alloc)(size_t bytes);
    void (*host_free)(void *p);
    /* A run calls before_step(user, done) before each step, done being the
     * share of the work already finished (sx_plan_progress), and stops with
     * SAGALUX_ERR_CANCELLED when it returns nonzero (before_step may be NULL). */
    void (*set_step_hook)(void *state, int (*before_step)(void *user, float done), void *user);
    /* Milliseconds the last successful run spent in the network itself: on a
     * GPU measured by the device (events from the image's arrival to the
     * output, copies excluded), on the CPU by the wall clock. */
    double (*network_ms)(const void *state);
} sx_backend;

sagalux_status sx_cpu_backend_open(const sagalux_model *model, int threads, sx_backend *out, char *err,
                                   size_t err_size);
/* The CPU backend's arena for an H x W image (multiples of 16), from the
 * plan alone: what its prepare allocates. */
sagalux_status sx_cpu_arena_bytes(const sagalux_model *model, int h, int w, size_t *bytes);
/* on: every map a step writes (not the output image) is rounded to fp16 as
 * the step ends, as the CUDA backend stores its maps in the fp16 precision:
 * the parity test's reference for that precision, so what it compares is
 * the kernels' arithmetic, not the storage's rounding (which random models
 * amplify: measured 1.5e-2 at one step of a dim-6 model, CPU against CPU). */
void sx_cpu_backend_fp16_maps(void *state, int on);

/* The CUDA backend (cuda/); SAGALUX_ERR_DEVICE with a reason when this build
 * has none or the device cannot be used. memory_limit: bytes it may hold,
 * weights included (0: no limit); a size that needs more fails to prepare
 * with SAGALUX_ERR_OUT_OF_MEMORY. precision: the GPU's arithmetic (sagalux.h). */
/* What a CUDA context holds for an H x W image (multiples of 16), from the
 * plan alone, no GPU needed: the plan with the CUDA backend's scratch sizes,
 * and the bytes of each part (their sum is what peak_bytes reports). Only in
 * builds with the CUDA backend (cuda/dev/plan_memory reads it). */
typedef struct sx_cuda_memory {
    size_t weights, weights16, arena, images, fixed; /* fp32 weights, their fp16 copies, the arena, image in + out */
    char device[160]; /* the GPU the plan is for (the kernels a step takes depend on it) */
} sx_cuda_memory;
struct sx_plan;
sagalux_status sx_cuda_plan_memory(const sagalux_model *model, int h, int w, sagalux_precision precision,
                                   struct sx_plan *plan, sx_cuda_memory *bytes);
/* The usable CUDA GPUs (up to max written to out); 0 without CUDA. */
int sx_cuda_list_devices(sagalux_device_info *out, int max);
/* The CUDA GPUs the runtime sees; 0 with the reason in why (see sagalux_cuda_device_count). */
int sx_cuda_probe(char *why, size_t why_size);
sagalux_status sx_cuda_backend_open(const sagalux_model *model, int device, size_t memory_limit,
                                    sagalux_precision precision, sx_backend *out,
                                    char *err, size_t err_size);

/* Picks by the context options: CPU; CUDA (or a reason); AUTO = CUDA when a
 * usable device exists, else the CPU with one log line saying why. */
sagalux_status sx_backend_open(const sagalux_model *model, const sagalux_context_options *options, sx_backend *out,
                               char *err, size_t err_size);

#endif
