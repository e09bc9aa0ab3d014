/* Picks the backend a context runs on. */
#include "backend.h"

#include <stdio.h>

#include "log.h"

sagalux_status sx_backend_open(const sagalux_model *model, const sagalux_context_options *opt, sx_backend *out,
                               char *err, size_t err_size)
{
    if (opt->device == SAGALUX_DEVICE_CPU) return sx_cpu_backend_open(model, opt->threads, out, err, err_size);
    char why[512] = "";
    sagalux_status st = sx_cuda_backend_open(model, opt->cuda_device, opt->gpu_memory_limit, out, why, sizeof why);
    if (st == SAGALUX_OK) return st;
    if (opt->device == SAGALUX_DEVICE_CUDA) {
        if (err && err_size) snprintf(err, err_size, "%s", why);
        return st;
    }
    sx_log(SAGALUX_LOG_INFO, "using the CPU: %s", why);
    return sx_cpu_backend_open(model, opt->threads, out, err, err_size);
}
