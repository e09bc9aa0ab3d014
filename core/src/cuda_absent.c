/* Stands in for the CUDA backend in a build without it (no CUDA compiler, or
 * SAGALUX_CUDA=OFF), so that asking for it gives a reason, not a link error. */
#include "backend.h"

#include <stdio.h>

#include "log.h"

sagalux_status sx_cuda_backend_open(const sagalux_model *model, int device, size_t memory_limit,
                                    sagalux_precision precision, sx_backend *out, char *err, size_t err_size)
{
    (void)model;
    (void)memory_limit;
    (void)precision;
    (void)out;
    char why[64];
    sx_cuda_probe(why, sizeof why);
    return sx_reason(err, err_size, SAGALUX_ERR_DEVICE, "CUDA device %d: %s", device, why);
}

int sx_cuda_probe(char *why, size_t why_size)
{
    if (why && why_size) snprintf(why, why_size, "this build has no CUDA backend");
    return 0;
}

int sx_cuda_list_devices(sagalux_device_info *out, int max)
{
    (void)out;
    (void)max;
    return 0;
}
