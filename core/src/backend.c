/* Picks the backend a context runs on. */
#include "backend.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

sagalux_status sx_backend_open(const sagalux_model *model, const sagalux_context_options *opt, sx_backend *out,
                               char *err, size_t err_size)
{
    if (opt->device == SAGALUX_DEVICE_CPU) return sx_cpu_backend_open(model, opt->threads, out, err, err_size);
    char why[512] = "";
    sagalux_status st = sx_cuda_backend_open(model, opt->cuda_device, opt->gpu_memory_limit, opt->precision, out, why,
                                             sizeof why);
    if (st == SAGALUX_OK) return st;
    if (opt->device == SAGALUX_DEVICE_CUDA) {
        if (err && err_size) snprintf(err, err_size, "%s", why);
        return st;
    }
    sx_log(SAGALUX_LOG_INFO, "using the CPU: %s", why);
    return sx_cpu_backend_open(model, opt->threads, out, err, err_size);
}

/* The CPU's model name from /proc/cpuinfo ("CPU" where there is none). */
static void cpu_name(char *out, size_t size)
{
    snprintf(out, size, "CPU");
    FILE *fp = fopen("/proc/cpuinfo", "r");
    if (!fp) return;
    char line[512];
    while (fgets(line, sizeof line, fp)) {
        const char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || !colon) continue;
        colon++;
        while (*colon == ' ' || *colon == '\t') colon++;
        snprintf(out, size, "%.*s", (int)strcspn(colon, "\n"), colon);
        break;
    }
    fclose(fp);
}

int sagalux_cuda_device_count(char *why, size_t why_size)
{
    char reason[256] = "";
    int n = sx_cuda_probe(reason, sizeof reason);
    if (why && why_size) snprintf(why, why_size, "%s", n > 0 ? "" : reason);
    return n;
}

int sagalux_list_devices(sagalux_device_info *out, int max)
{
    sagalux_device_info cpu = {SAGALUX_DEVICE_CPU, 0, "", 0, 0, 0};
    cpu_name(cpu.name, sizeof cpu.name);
    long pages = sysconf(_SC_PHYS_PAGES), avail = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cpu.memory_bytes = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : 0;
    cpu.free_bytes = avail > 0 && page > 0 ? (size_t)avail * (size_t)page : 0;
    cpu.threads = cores > 0 ? (int)cores : 1;
    if (out && max > 0) out[0] = cpu;
    return 1 + sx_cuda_list_devices(out && max > 1 ? out + 1 : NULL, max > 1 ? max - 1 : 0);
}
