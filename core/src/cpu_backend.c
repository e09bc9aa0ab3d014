/* The CPU backend: our thread pool, the activation buffer pool, OpenBLAS. */
#include <stdlib.h>

#include "backend.h"
#include "bufpool.h"
#include "gemm.h"
#include "layers.h"
#include "network.h"
#include "threadpool.h"

typedef struct cpu_state {
    const sagalux_model *model;
    sx_threadpool *tp;
    sx_bufpool *bp;
} cpu_state;

static sagalux_status cpu_forward(void *state, const float *in, int h, int w, float *out)
{
    cpu_state *s = state;
    sx_bufpool_reset_peak(s->bp);
    return sx_network_forward(s->model, s->tp, s->bp, in, h, w, out, NULL, NULL);
}

static size_t cpu_peak(const void *state) { return sx_bufpool_peak_bytes(((const cpu_state *)state)->bp); }

static void cpu_destroy(void *state)
{
    cpu_state *s = state;
    if (!s) return;
    sx_threadpool_free(s->tp);
    sx_bufpool_free(s->bp);
    free(s);
}

sagalux_status sx_cpu_backend_create(const sagalux_model *model, int threads, sx_backend *out)
{
    /* Each of our threads calls single-threaded sgemm on its own slice; OpenBLAS
     * threads on top would oversubscribe the cores. */
    sx_gemm_single_threaded();
    cpu_state *s = calloc(1, sizeof *s);
    if (!s) return SAGALUX_ERR_OUT_OF_MEMORY;
    s->model = model;
    size_t scratch = sx_layers_scratch_floats(sx_network_max_channels(sagalux_model_config(model)), SAGALUX_MAX_SIDE);
    s->tp = sx_threadpool_create(threads, scratch);
    s->bp = sx_bufpool_create();
    if (!s->tp || !s->bp) {
        cpu_destroy(s);
        return SAGALUX_ERR_OUT_OF_MEMORY;
    }
    *out = (sx_backend){"cpu", SAGALUX_DEVICE_CPU, s, cpu_forward, cpu_peak, cpu_destroy};
    return SAGALUX_OK;
}
