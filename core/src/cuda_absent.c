/* Stands in for the CUDA backend in a build without it (no CUDA compiler, or
 * SAGALUX_CUDA=OFF), so that asking for it gives a reason, not a link error. */
#include "backend.h"
#include "log.h"

sagalux_status sx_cuda_backend_open(const sagalux_model *model, int device, size_t memory_limit,
                                    sagalux_precision precision, sx_backend *out, char *err, size_t err_size)
{
    (void)model;
    (void)memory_limit;
    (void)precision;
    (void)out;
    return sx_reason(err, err_size, SAGALUX_ERR_DEVICE, "CUDA device %d: this build of libsagalux has no CUDA backend",
                   device);
}

int sx_cuda_list_devices(sagalux_device_info *out, int max)
{
    (void)out;
    (void)max;
    return 0;
}
