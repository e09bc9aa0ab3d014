// The CUDA backend: walks the same plan as the CPU (core/src/plan.h) on one
// GPU. Weights are uploaded once; a prepared size holds one device arena
// placed by the plan's liveness. This first version keeps fp32 storage and
// one kernel per layer (kernels.cu), 1x1 convolutions through cuBLAS: the
// correct-first GPU reference that the fused fp16 kernels will be held to.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "block_fused.cuh"
#include "fuse_fused.cuh"
#include "layers_unfused.cuh"
#include "kernels.cuh"

extern "C" {
#include "backend.h"
#include "log.h"
#include "plan.h"
}

namespace {

struct cuda_state {
    const sagalux_model *model;
    int device;
    char name[256];
    cudaStream_t stream;
    cublasHandle_t blas;
    float *weights;            // the model's fp32 arena, same offsets as on the host
    sx_plan plan;
    int prepared;
    float *arena, *in, *out;
    float *summary;            // per head S (d x d) then z (C), for the widest level
    double *fuse_partial, *fuse_sums;
    float *fuse_fold;          // the fused Fuse's folded output matrix and bias
    float *summary_partial;    // K_SUMMARY_BLOCKS * (32*32 + 32) floats for the split-N summary
    float *host_tap;           // a tapped map copied back for the golden test
    size_t arena_bytes, io_bytes, weight_bytes, fixed_bytes, memory_limit;
    int profile;               // SAGALUX_CUDA_PROFILE set: time every step, log the times
    cublasComputeType_t math;  // SAGALUX_CUDA_MATH: the 1x1 GEMMs' arithmetic (see gpu_ctx)
    int tensor_cores;          // SAGALUX_PRECISION_FP16: fused kernels on fp16, cuBLAS on tf32 tensor cores
    int unfused;               // SAGALUX_CUDA_UNFUSED set: one kernel per layer everywhere (the workbench's baseline)
    cudaEvent_t marks[SX_PLAN_MAX_STEPS + 1];
    int graphs;                // replay the steps as one CUDA graph (SAGALUX_CUDA_GRAPHS=0: off)
    cudaGraphExec_t graph;     // captured for the prepared size on the first untapped run
    int (*before_step)(void *, float);  // asked before each step (not within a graph replay: one launch)
    void *hook_user;
};

// The device pointer of a weight: same offset in the uploaded arena.
const float *dev(const cuda_state *s, const float *host)
{
    return host ? s->weights + (host - s->model->arena) : nullptr;
}

sagalux_status fail_cuda(const cuda_state *s, cudaError_t e, const char *what, char *err, size_t err_size)
{
    sagalux_status st = e == cudaErrorMemoryAllocation ? SAGALUX_ERR_OUT_OF_MEMORY : SAGALUX_ERR_DEVICE;
    return sx_reason(err, err_size, st, "CUDA device %d (%s): %s: %s", s->device, s->name, what, cudaGetErrorString(e));
}

sagalux_status alloc(cuda_state *s, void **p, size_t bytes, const char *what, char *err, size_t err_size)
{
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
    if (e == cudaSuccess) return SAGALUX_OK;
    cudaGetLastError(); // clear the sticky-free allocation error
    return sx_reason(err, err_size, e == cudaErrorMemoryAllocation ? SAGALUX_ERR_OUT_OF_MEMORY : SAGALUX_ERR_DEVICE,
                   "CUDA device %d (%s): %s allocating %zu MiB for %s", s->device, s->name,
                   e == cudaErrorMemoryAllocation ? "out of memory" : cudaGetErrorString(e), (bytes + (1 << 20) - 1) >> 20,
                   what);
}

bool stage_is_fused(const cuda_state *s, const sx_step *st)
{
    return !s->unfused && st->stage->count > 0 && fused_block_supported(st->c, st->stage->blocks[0].heads, st->stage->blocks[0].hid);
}

bool fuse_is_fused(const cuda_state *s, const sx_step *st) { return !s->unfused && fused_fuse_supported(st->c); }

// Scratch, in floats, each step below uses.
size_t cuda_scratch(const sx_step *st, void *user)
{
    const cuda_state *s = static_cast<const cuda_state *>(user);
    size_t n = (size_t)st->h * st->w;
    switch (st->kind) {
    case SX_STEP_STAGE: {
        if (st->stage->count == 0) return 0;
        if (stage_is_fused(s, st)) return (size_t)st->c * n; // the block's half-way map
        return unfused_block_scratch(st->c, st->stage->blocks[0].hid, n);
    }
    case SX_STEP_FUSE: return fuse_is_fused(s, st) ? 0 : unfused_fuse_scratch(st->c, n);
    case SX_STEP_DOWN: return (size_t)(st->c / 2) * n;
    case SX_STEP_UP: return 2 * (size_t)st->c * n;
    case SX_STEP_SKIP: return (size_t)st->c * n;
    default: return 0;
    }
}

gpu_ctx ctx_of(const cuda_state *s)
{
    return gpu_ctx{s->stream, s->blas, s->summary, s->summary_partial, reinterpret_cast<float *>(s->fuse_partial),
                   reinterpret_cast<float *>(s->fuse_sums), s->math};
}

gpu_block_weights weights_of(const cuda_state *s, const sx_block *b)
{
    return gpu_block_weights{dev(s, b->norm1_w), dev(s, b->norm1_b), dev(s, b->qkv),     dev(s, b->qkv_dw),
                             dev(s, b->proj),    dev(s, b->norm2_w), dev(s, b->norm2_b), dev(s, b->pw_in),
                             dev(s, b->dw),      dev(s, b->pw_out),  b->c,               b->heads,
                             b->hid};
}

gpu_fuse_weights weights_of(const cuda_state *s, const sx_fuse *f)
{
    return gpu_fuse_weights{dev(s, f->qkv_w), dev(s, f->qkv_b), dev(s, f->dw_w),  dev(s, f->dw_b), f->tau,
                            dev(s, f->proj_w), dev(s, f->proj_b), dev(s, f->out_w), f->c};
}

cublasStatus_t run_step(cuda_state *s, const sx_step *st, const float *in0, const float *in1, float *out, float *scr)
{
    int c = st->c, h = st->h, w = st->w;
    size_t n = (size_t)h * w;
    cudaStream_t q = s->stream;
    switch (st->kind) {
    case SX_STEP_EMBED: k_conv3x3(q, in0, 3, h, w, dev(s, st->conv), nullptr, s->model->cfg.dim, out); break;
    case SX_STEP_STAGE: {
        if (out != in0) cudaMemcpyAsync(out, in0, (size_t)c * n * sizeof(float), cudaMemcpyDeviceToDevice, q);
        if (st->stage->count == 0) break;
        const bool fused = stage_is_fused(s, st);
        for (int i = 0; i < st->stage->count; i++) {
            gpu_block_weights bw = weights_of(s, &st->stage->blocks[i]);
            if (fused) {
                float *z = s->summary + (size_t)bw.c * bw.c;
                if (!fused_block_run(q, bw, out, h, w, scr, s->summary_partial, s->summary, z, s->tensor_cores))
                    return CUBLAS_STATUS_EXECUTION_FAILED;
            } else {
                cublasStatus_t bs = unfused_block_run(ctx_of(s), bw, out, h, w, scr);
                if (bs) return bs;
            }
        }
        break;
    }
    case SX_STEP_FUSE:
        if (!fuse_is_fused(s, st)) return unfused_fuse_run(ctx_of(s), weights_of(s, st->fuse), in0, h, w, out, scr);
        if (!fused_fuse_run(q, weights_of(s, st->fuse), in0, h, w, out, s->fuse_partial, s->fuse_sums, s->fuse_fold))
            return CUBLAS_STATUS_EXECUTION_FAILED;
        break;
    case SX_STEP_DOWN:
        k_conv3x3(q, in0, c, h, w, dev(s, st->conv), nullptr, c / 2, scr);
        k_pixel_unshuffle(q, scr, c / 2, h, w, out);
        break;
    case SX_STEP_UP:
        k_conv3x3(q, in0, c, h, w, dev(s, st->conv), nullptr, 2 * c, scr);
        k_pixel_shuffle(q, scr, 2 * c, h, w, out);
        break;
    case SX_STEP_SKIP:
        k_weighted_sum(q, in0, dev(s, st->skip->alpha), in1, dev(s, st->skip->beta), c, n, scr);
        return gpu_conv1x1(ctx_of(s), scr, c, n, dev(s, st->skip->conv), nullptr, c, out, 0);
    case SX_STEP_MIX: k_weighted_sum(q, in0, dev(s, st->alpha), in1, dev(s, st->beta), c, n, out); break;
    case SX_STEP_OUT: k_conv3x3(q, in0, c, h, w, dev(s, st->conv), nullptr, 3, out); break;
    default: break;
    }
    return CUBLAS_STATUS_SUCCESS;
}

void release_size(cuda_state *s)
{
    cudaFree(s->arena);
    cudaFree(s->in);
    cudaFree(s->out);
    cudaFree(s->summary);
    free(s->host_tap);
    s->arena = s->in = s->out = s->summary = s->host_tap = nullptr;
    s->arena_bytes = s->io_bytes = 0;
    s->prepared = 0;
    if (s->graph) cudaGraphExecDestroy(s->graph);
    s->graph = nullptr;
}

extern "C" sagalux_status cuda_prepare(void *state, int h, int w, char *err, size_t err_size)
{
    cuda_state *s = static_cast<cuda_state *>(state);
    if (s->prepared && s->plan.h == h && s->plan.w == w) return SAGALUX_OK;
    release_size(s);
    cudaError_t e = cudaSetDevice(s->device);
    if (e != cudaSuccess) return fail_cuda(s, e, "cudaSetDevice", err, err_size);
    sagalux_status st = sx_plan_build(s->model, h, w, cuda_scratch, s, &s->plan);
    if (st != SAGALUX_OK) return sx_reason(err, err_size, st, "CUDA device %d: cannot plan a %dx%d image", s->device, w, h);
    size_t io = 3 * (size_t)h * w * sizeof(float), top = (size_t)sx_network_max_channels(&s->model->cfg);
    s->arena_bytes = s->plan.arena_elems * sizeof(float);
    s->io_bytes = 2 * io;
    size_t need = s->weight_bytes + s->fixed_bytes + s->arena_bytes + s->io_bytes + (top * top + top) * sizeof(float);
    if (s->memory_limit && need > s->memory_limit) {
        s->arena_bytes = s->io_bytes = 0;
        return sx_reason(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY,
                       "CUDA device %d (%s): a %dx%d image needs %zu MiB, over this context's %zu MiB limit", s->device,
                       s->name, w, h, (need + (1 << 20) - 1) >> 20, s->memory_limit >> 20);
    }
    if ((st = alloc(s, (void **)&s->arena, s->arena_bytes, "activations", err, err_size)) ||
        (st = alloc(s, (void **)&s->in, io, "the input image", err, err_size)) ||
        (st = alloc(s, (void **)&s->out, io, "the output image", err, err_size)) ||
        (st = alloc(s, (void **)&s->summary, (top * top + top) * sizeof(float), "attention summaries", err, err_size))) {
        release_size(s);
        return st;
    }
    s->prepared = 1;
    return SAGALUX_OK;
}

float *map_of(cuda_state *s, sx_ref r)
{
    if (r.buf < 0) return nullptr;
    if (r.buf == s->plan.input) return s->in + r.offset;
    if (r.buf == s->plan.output) return s->out + r.offset;
    return s->arena + s->plan.bufs[r.buf].offset + r.offset;
}

// One INFO line per step with its device time (the workbench's view of where
// a forward pass spends its time; events between steps, so it is exact).
void log_step_times(cuda_state *s)
{
    float total = 0.0f;
    for (int i = 0; i < s->plan.n_steps; i++) {
        const sx_step *st = &s->plan.steps[i];
        float ms = 0.0f;
        cudaEventElapsedTime(&ms, s->marks[i], s->marks[i + 1]);
        total += ms;
        sx_log(SAGALUX_LOG_INFO, "cuda step %2d %-5s C=%-4d %5dx%-5d blocks %d: %8.3f ms", i, sx_step_kind_name(st->kind),
               st->c, st->w, st->h, st->kind == SX_STEP_STAGE ? st->stage->count : 0, ms);
    }
    sx_log(SAGALUX_LOG_INFO, "cuda steps total: %.3f ms", total);
}

// Every step of the plan on the stream; with tap, each output copied back.
sagalux_status run_steps(cuda_state *s, sx_tap_fn tap, void *tap_user, char *err, size_t err_size)
{
    cudaError_t e;
    if (s->profile) cudaEventRecord(s->marks[0], s->stream);
    for (int i = 0; i < s->plan.n_steps; i++) {
        const sx_step *st = &s->plan.steps[i];
        if (s->before_step && s->before_step(s->hook_user, sx_plan_progress(&s->plan, i)))
            return sx_reason(err, err_size, SAGALUX_ERR_CANCELLED, "CUDA device %d: cancelled", s->device);
        float *o = map_of(s, st->out);
        float *scr = st->scratch >= 0 ? s->arena + s->plan.bufs[st->scratch].offset : nullptr;
        cublasStatus_t bs = run_step(s, st, map_of(s, st->in[0]), map_of(s, st->in[1]), o, scr);
        if (bs != CUBLAS_STATUS_SUCCESS)
            return sx_reason(err, err_size, SAGALUX_ERR_DEVICE, "CUDA device %d (%s): cuBLAS failed in step %d (%s): %s",
                           s->device, s->name, i, sx_step_kind_name(st->kind), cublasGetStatusString(bs));
        if ((e = cudaGetLastError()) != cudaSuccess) {
            char what[64];
            snprintf(what, sizeof what, "step %d (%s)", i, sx_step_kind_name(st->kind));
            return fail_cuda(s, e, what, err, err_size);
        }
        if (s->profile) cudaEventRecord(s->marks[i + 1], s->stream);
        if (tap) {
            int c = sx_step_out_channels(&s->plan, st), oh = sx_step_out_h(st), ow = sx_step_out_w(st);
            size_t bytes = (size_t)c * oh * ow * sizeof(float);
            float *host = static_cast<float *>(realloc(s->host_tap, bytes));
            if (!host) return sx_reason(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "CUDA: out of host memory for a tap");
            s->host_tap = host;
            if ((e = cudaMemcpyAsync(host, o, bytes, cudaMemcpyDeviceToHost, s->stream)) != cudaSuccess ||
                (e = cudaStreamSynchronize(s->stream)) != cudaSuccess)
                return fail_cuda(s, e, "copying a tap back", err, err_size);
            tap(tap_user, i, st->tap, host, c, oh, ow);
        }
    }
    return SAGALUX_OK;
}

// The steps captured once as a CUDA graph for the prepared size (its
// pointers are fixed until the size changes): one launch instead of hundreds,
// which matters at the deep levels, where kernels are short. When capture
// fails, graphs are turned off for this context and the steps run as before.
void capture_graph(cuda_state *s)
{
    char why[256] = "";
    cudaGraph_t g = nullptr;
    int (*before_step)(void *, float) = s->before_step; // a capture records every step, whatever is asked meanwhile
    s->before_step = nullptr;
    cudaError_t e = cudaStreamBeginCapture(s->stream, cudaStreamCaptureModeRelaxed);
    sagalux_status st = e == cudaSuccess ? run_steps(s, nullptr, nullptr, why, sizeof why) : SAGALUX_ERR_DEVICE;
    s->before_step = before_step;
    if (e == cudaSuccess) e = cudaStreamEndCapture(s->stream, &g);
    if (st == SAGALUX_OK && e == cudaSuccess) e = cudaGraphInstantiate(&s->graph, g, 0);
    if (g) cudaGraphDestroy(g);
    if (st != SAGALUX_OK || e != cudaSuccess) {
        cudaGetLastError();
        s->graph = nullptr;
        s->graphs = 0;
        sx_log(SAGALUX_LOG_INFO, "CUDA device %d: running without CUDA graphs (%s)", s->device,
               why[0] ? why : cudaGetErrorString(e));
    }
}

extern "C" sagalux_status cuda_run(void *state, const float *in, float *out, sx_tap_fn tap, void *tap_user, char *err,
                                   size_t err_size)
{
    cuda_state *s = static_cast<cuda_state *>(state);
    if (!s->prepared) return sx_reason(err, err_size, SAGALUX_ERR_INVALID_ARGUMENT, "CUDA: run before prepare");
    cudaError_t e = cudaSetDevice(s->device);
    if (e != cudaSuccess) return fail_cuda(s, e, "cudaSetDevice", err, err_size);
    size_t io = 3 * (size_t)s->plan.h * s->plan.w * sizeof(float);
    if ((e = cudaMemcpyAsync(s->in, in, io, cudaMemcpyHostToDevice, s->stream)) != cudaSuccess)
        return fail_cuda(s, e, "copying the image to the device", err, err_size);
    sagalux_status st = SAGALUX_OK;
    if (!tap && !s->profile && s->graphs && !s->graph) capture_graph(s);
    if (!tap && !s->profile && s->graph) {
        if ((e = cudaGraphLaunch(s->graph, s->stream)) != cudaSuccess)
            return fail_cuda(s, e, "launching the network's graph", err, err_size);
    } else if ((st = run_steps(s, tap, tap_user, err, err_size)) != SAGALUX_OK) {
        cudaStreamSynchronize(s->stream);
        return st;
    }
    if ((e = cudaMemcpyAsync(out, s->out, io, cudaMemcpyDeviceToHost, s->stream)) != cudaSuccess ||
        (e = cudaStreamSynchronize(s->stream)) != cudaSuccess)
        return fail_cuda(s, e, "running the network", err, err_size);
    if (s->profile) log_step_times(s);
    return SAGALUX_OK;
}

extern "C" void cuda_set_step_hook(void *state, int (*before_step)(void *, float), void *user)
{
    cuda_state *s = static_cast<cuda_state *>(state);
    s->before_step = before_step;
    s->hook_user = user;
}

extern "C" size_t cuda_peak(const void *state)
{
    const cuda_state *s = static_cast<const cuda_state *>(state);
    return s->weight_bytes + s->fixed_bytes + s->arena_bytes + s->io_bytes;
}

extern "C" void cuda_close(void *state)
{
    cuda_state *s = static_cast<cuda_state *>(state);
    if (!s) return;
    cudaSetDevice(s->device);
    release_size(s);
    if (s->profile)
        for (int i = 0; i <= SX_PLAN_MAX_STEPS; i++) cudaEventDestroy(s->marks[i]);
    cudaFree(s->weights);
    cudaFree(s->fuse_partial);
    cudaFree(s->summary_partial);
    cudaFree(s->fuse_sums);
    cudaFree(s->fuse_fold);
    if (s->blas) cublasDestroy(s->blas);
    if (s->stream) cudaStreamDestroy(s->stream);
    free(s);
}

extern "C" void *cuda_host_alloc(size_t bytes)
{
    void *p = nullptr;
    if (cudaMallocHost(&p, bytes) != cudaSuccess) {
        cudaGetLastError();
        return malloc(bytes); // pageable memory still works, only slower to copy
    }
    return p;
}

extern "C" void cuda_host_free(void *p)
{
    if (!p) return;
    cudaPointerAttributes attr;
    if (cudaPointerGetAttributes(&attr, p) == cudaSuccess && attr.type == cudaMemoryTypeHost) cudaFreeHost(p);
    else {
        cudaGetLastError();
        free(p);
    }
}

} // namespace

extern "C" int sx_cuda_list_devices(sagalux_device_info *out, int max)
{
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    for (int i = 0; i < count && out && i < max; i++) {
        sagalux_device_info d = {SAGALUX_DEVICE_CUDA, i, "?", 0, 0, 0};
        cudaDeviceProp prop;
        if (cudaGetDeviceProperties(&prop, i) == cudaSuccess) {
            snprintf(d.name, sizeof d.name, "%.127s", prop.name);
            d.memory_bytes = prop.totalGlobalMem;
        }
        size_t free_b = 0, total_b = 0;
        int was = 0;
        cudaGetDevice(&was);
        if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) d.free_bytes = free_b;
        cudaGetLastError();
        cudaSetDevice(was);
        out[i] = d;
    }
    return count;
}

extern "C" sagalux_status sx_cuda_backend_open(const sagalux_model *model, int device, size_t memory_limit,
                                               sagalux_precision precision, sx_backend *out, char *err,
                                               size_t err_size)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return sx_reason(err, err_size, SAGALUX_ERR_DEVICE, "CUDA device %d: no usable GPU (%s)", device,
                       cudaGetErrorString(e));
    }
    if (device < 0 || device >= count)
        return sx_reason(err, err_size, SAGALUX_ERR_DEVICE, "CUDA device %d: not present (this machine has %d)", device,
                       count);
    cuda_state *s = static_cast<cuda_state *>(calloc(1, sizeof(cuda_state))); // plain data: zero is empty
    if (!s) return sx_reason(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "CUDA: out of host memory");
    s->model = model;
    s->device = device;
    s->memory_limit = memory_limit;
    const size_t fold_bytes = fused_fuse_fold_floats(16) * sizeof(float); // the widest fused Fuse
    s->fixed_bytes = K_FUSE_BLOCKS * 16 * sizeof(double) + (size_t)K_SUMMARY_BLOCKS * (32 * 32 + 32) * sizeof(float) +
                     fold_bytes;
    cudaDeviceProp prop;
    snprintf(s->name, sizeof s->name, "%s", cudaGetDeviceProperties(&prop, device) == cudaSuccess ? prop.name : "?");
    sagalux_status st = SAGALUX_OK;
    s->weight_bytes = model->params * sizeof(float);
    if ((e = cudaSetDevice(device)) != cudaSuccess || (e = cudaStreamCreate(&s->stream)) != cudaSuccess)
        st = fail_cuda(s, e, "starting", err, err_size);
    else if (cublasCreate(&s->blas) != CUBLAS_STATUS_SUCCESS || cublasSetStream(s->blas, s->stream) != CUBLAS_STATUS_SUCCESS)
        st = sx_reason(err, err_size, SAGALUX_ERR_DEVICE, "CUDA device %d (%s): cuBLAS did not start", device, s->name);
    else if (!(st = alloc(s, (void **)&s->weights, s->weight_bytes, "the weights", err, err_size)) &&
             !(st = alloc(s, (void **)&s->fuse_partial, K_FUSE_BLOCKS * 15 * sizeof(double), "fuse sums", err, err_size)) &&
             !(st = alloc(s, (void **)&s->fuse_sums, 15 * sizeof(double), "fuse sums", err, err_size)) &&
             !(st = alloc(s, (void **)&s->fuse_fold, fold_bytes, "the fuse layer's folded weights", err, err_size)) &&
             !(st = alloc(s, (void **)&s->summary_partial, (size_t)K_SUMMARY_BLOCKS * (32 * 32 + 32) * sizeof(float),
                          "attention partial sums", err, err_size))) {
        if ((e = cudaMemcpy(s->weights, model->arena, s->weight_bytes, cudaMemcpyHostToDevice)) != cudaSuccess)
            st = fail_cuda(s, e, "uploading the weights", err, err_size);
    }
    s->unfused = getenv("SAGALUX_CUDA_UNFUSED") != nullptr;
    s->tensor_cores = precision == SAGALUX_PRECISION_FP16;
    // The cuBLAS 1x1s follow the precision: tf32 tensor cores in the fast mode
    // (fp16's 10-bit mantissa, fp32's range, fp32 sums; cuBLAS's _FAST_16F
    // gave 1.6e-2 against the CPU at the deep levels of the parity test's
    // random models, tf32 and the fused fp16 kernels under 5e-3).
    // SAGALUX_CUDA_MATH=fp32|tf32|fp16 overrides them alone (the workbench's
    // knob for what each costs).
    const char *math = getenv("SAGALUX_CUDA_MATH");
    if (math && !*math) math = nullptr;
    s->math = math && !strcmp(math, "fp32")   ? CUBLAS_COMPUTE_32F
              : math && !strcmp(math, "tf32") ? CUBLAS_COMPUTE_32F_FAST_TF32
              : math && !strcmp(math, "fp16") ? CUBLAS_COMPUTE_32F_FAST_16F
              : s->tensor_cores               ? CUBLAS_COMPUTE_32F_FAST_TF32
                                              : CUBLAS_COMPUTE_32F;
    if (math) sx_log(SAGALUX_LOG_INFO, "CUDA device %d: SAGALUX_CUDA_MATH=%s for the cuBLAS 1x1s", device, math);
    const char *graphs = getenv("SAGALUX_CUDA_GRAPHS");
    s->graphs = !(graphs && strcmp(graphs, "0") == 0);
    if (st == SAGALUX_OK && getenv("SAGALUX_CUDA_PROFILE")) {
        s->profile = 1;
        for (int i = 0; i <= SX_PLAN_MAX_STEPS; i++) cudaEventCreate(&s->marks[i]);
    }
    if (st != SAGALUX_OK) {
        cuda_close(s);
        return st;
    }
    *out = sx_backend{"cuda",    SAGALUX_DEVICE_CUDA, s, cuda_prepare, cuda_run, cuda_peak, cuda_close,
                      cuda_host_alloc, cuda_host_free, cuda_set_step_hook};
    return SAGALUX_OK;
}
