/* The seam between the enhance call and the device that runs the network.
 * The CPU backend is the reference; a CUDA backend (cuda/) plugs in beside it
 * with the same three entry points. */
#ifndef SX_BACKEND_H
#define SX_BACKEND_H

#include "sagalux.h"

typedef struct sx_backend {
    const char *name;
    sagalux_device device;
    void *state;
    /* out (3, H, W) = network(in (3, H, W)), host memory, H and W multiples of 16. */
    sagalux_status (*forward)(void *state, const float *in, int h, int w, float *out);
    size_t (*peak_bytes)(const void *state);
    void (*destroy)(void *state);
} sx_backend;

sagalux_status sx_cpu_backend_create(const sagalux_model *model, int threads, sx_backend *out);

#endif
