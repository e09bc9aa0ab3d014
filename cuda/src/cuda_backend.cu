// The CUDA backend: walks the same plan as the CPU (core/src/plan.h) on one
// GPU. Weights are uploaded once; a prepared size holds one device arena
// placed by the plan's liveness; the maps between steps are fp16 in the fp16
// precision (half the memory: a 16-channel map at 1280^2 is 50 MiB, not
// 100) and fp32 in the fp32 precision and the unfused path. Per step:
// the blocks of the two widest levels (C = 16, 32) in fused tile kernels
// (block_fused.cu; implicit GEMMs on tensor cores in the fp16 precision,
// block_igemm.cu), the deeper blocks and the deepest Down/Up 3x3s as fp16
// cuBLAS GEMMs in the fp16 precision (layers_half.cu), the other dense 3x3s
// as implicit GEMMs in the fp16 precision (conv_igemm.cu), the Fuse layers
// in two fused passes (fuse_fused.cu; implicit GEMMs in the fp16 precision,
// fuse_igemm.cu), everything else one kernel per layer
// (kernels.cu) with cuBLAS 1x1s: that unfused path is also the GPU's plain
// reference (SAGALUX_CUDA_UNFUSED=1 runs it everywhere). A step whose
// kernels take only fp32 maps (the unfused block and Fuse: widths the fused
// kernels do not cover) runs on fp16 maps through fp32 copies in its scratch.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "block_fused.cuh"
#include "conv_igemm.cuh"
#include "deep_front.cuh"
#include "fuse_fused.cuh"
#include "layers_half.cuh"
#include "layers_unfused.cuh"
#include "kernels.cuh"

extern "C" {
#include "backend.h"
#include "log.h"
#include "plan.h"
}

namespace {

// One fp16 weight: the fp32 tensor it copies, and where it lies in weights16.
struct half_weight {
    const float *host;
    size_t count, offset;
    size_t cols, ld; // rows of cols floats stored ld halves apart (ld >= cols; zeros between)
};

struct cuda_state {
    const sagalux_model *model;
    int device;
    char name[256];
    cudaStream_t stream;
    cublasHandle_t blas;
    float *weights;            // the model's fp32 arena less the tensors read only as fp16 (see dev)
    __half *weights16;         // fp16 copies of the weights the GEMMs on fp16 data read (fp16 precision only)
    struct half_weight *w16;   // where each of them lies in weights16, in the order of the host arena
    int n_w16;
    size_t w16_floats;         // the fp32 elements they replace
    sx_plan plan;
    int prepared;
    int half_maps;             // the maps between steps (the arena) are fp16: the fp16 precision, fused
    void *arena;               // the plan's buffers, in map elements (fp16 or fp32)
    float *in, *out;
    float *summary;            // per head S (d x d) then z (C), for the widest level
    double *fuse_partial, *fuse_sums;
    float *fuse_fold;          // the fused Fuse's folded output matrix and bias
    float *summary_partial;    // K_SUMMARY_BLOCKS * (32*32 + 32) floats for the split-N summary
    float *host_tap;           // a tapped map copied back for the golden test
    __half *host_tap16;        // ... as it lies on the device, when the maps are fp16
    size_t arena_bytes, io_bytes, weight_bytes, fixed_bytes, memory_limit;
    int profile;               // SAGALUX_CUDA_PROFILE set: time every step, log the times and the memory
    size_t free_at_open;       // the device's free memory as this context began (profile only)
    cublasComputeType_t math;  // SAGALUX_CUDA_MATH: the 1x1 GEMMs' arithmetic (see gpu_ctx)
    int tensor_cores;          // SAGALUX_PRECISION_FP16: fused kernels on fp16, cuBLAS on tf32 tensor cores
    int sm_major;              // the device's compute capability and opt-in shared memory a block, which
    size_t smem_optin;         // kernels the plan's steps take (plan_memory without a GPU: an H100's)
    int unfused;               // SAGALUX_CUDA_UNFUSED set: one kernel per layer everywhere (the workbench's baseline)
    fused_kernels block_kernels; // the wide levels' fused blocks (block_fused.cuh); SAGALUX_CUDA_BLOCK=igemm2: the C=16 FFN two blocks an SM (the default before), =igemm: one row a warp, =wmma: WMMA
    fuse_kernels fuse_passes;   // the Fuse layers' passes (fuse_fused.cuh); SAGALUX_CUDA_FUSE=igemm: one row a warp, =wmma: the older WMMA pair
    deep_fronts deep;           // the deep blocks' branch fronts (layers_half.cuh); SAGALUX_CUDA_DEEP=scalar: one pixel a thread, =fused: opt-in
    int apply_mma;              // SAGALUX_CUDA_APPLY=mma: the deep blocks' apply on tensor cores (apply_mma.cuh; opt-in)
    cudaEvent_t marks[SX_PLAN_MAX_STEPS + 1];
    cudaEvent_t net_begin, net_end;  // around the network of every run: network_ms
    double network_ms;
    int graphs;                // replay the steps as one CUDA graph (SAGALUX_CUDA_GRAPHS=0: off)
    cudaGraphExec_t graph;     // captured for the prepared size on the first untapped run
    int (*before_step)(void *, float);  // asked before each step (not within a graph replay: one launch)
    void *hook_user;
};

// The device pointer of a fp32 weight: its offset in the host arena less the
// tensors before it that are uploaded only as fp16 (s->w16, in arena order);
// null for those tensors themselves (their readers take the fp16 copy).
const float *dev(const cuda_state *s, const float *host)
{
    if (!host) return nullptr;
    size_t at = (size_t)(host - s->model->arena), skipped = 0;
    for (int i = 0; i < s->n_w16 && s->w16[i].host <= host; i++) {
        const size_t lo = (size_t)(s->w16[i].host - s->model->arena);
        if (at < lo + s->w16[i].count) return nullptr;
        skipped += s->w16[i].count;
    }
    return s->weights + (at - skipped);
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

// Device memory a context holds whatever the image size: the Fuse's partial
// and global sums, the summary's split-N partials, the Fuse's folded matrix.
size_t fixed_bytes()
{
    return K_FUSE_BLOCKS * 16 * sizeof(double) + (size_t)K_SUMMARY_BLOCKS * (32 * 32 + 32) * sizeof(float) +
           fused_fuse_fold_floats(16) * sizeof(float);
}

// The fp16 copy of a weight, or null where there is none.
const __half *dev16(const cuda_state *s, const float *host)
{
    for (int i = 0; host && i < s->n_w16; i++)
        if (s->w16[i].host == host) return s->weights16 + s->w16[i].offset;
    return nullptr;
}

bool stage_is_fused(const cuda_state *s, const sx_step *st)
{
    return !s->unfused && st->stage->count > 0 && fused_block_supported(st->c, st->stage->blocks[0].heads, st->stage->blocks[0].hid);
}

// A stage the fused kernels do not take runs on fp16 maps in the fp16 precision.
bool stage_is_half(const cuda_state *s, const sx_step *st)
{
    return s->tensor_cores && !s->unfused && st->stage->count > 0 && !stage_is_fused(s, st) &&
           half_block_supported(st->c, st->stage->blocks[0].heads);
}

// Down and Up's 3x3 as fp16 GEMMs on im2col chunks (layers_half.cuh) in the
// fp16 precision, where the output is wide enough to pay for the 9 Cin x N
// im2col traffic. Measured on an H200 (LLFormer 1280^2): Up C=32..256 (64 to
// 512 outputs) 1.08..0.94 ms -> 0.59..0.20 ms, Down C=128 (64 outputs) 0.28
// -> 0.17 ms, Down C=64 (32) 0.30 either way, Down C=16 and 32 (8 and 16
// outputs) 0.31 -> 0.84 and 0.30 -> 0.53 ms: slower.
// The implicit GEMMs below take Cin <= 64 first, so here that leaves the
// deepest Down and Up (Cin 128, 256, 512).
constexpr int CONV_GEMM_MIN_OUT = 64;

// The dense 3x3s (embedding, Down, Up, output) in the fp16 precision: as
// implicit GEMMs (conv_igemm.cuh) where the kernel takes the widths, else
// Down and Up as fp16 GEMMs where the output is wide, else the fp32 tiled
// kernel. Measured on an H200 (cuda/bench_conv, LLFormer 1280^2): embedding
// 0.23 -> 0.10 ms, Down C=16..64 0.35..0.34 -> 0.11..0.06 ms, Up C=32 0.41
// -> 0.13 ms, Up C=64 0.21 -> 0.21 ms (the GEMM's), output 0.29 -> 0.10 ms.
enum conv_path { CONV_TILED, CONV_IGEMM, CONV_GEMM };
conv_path conv_path_of(const cuda_state *s, int cin, int cout)
{
    if (!s->tensor_cores || s->unfused) return CONV_TILED;
    const size_t smem = ig_conv_smem(cin, cout); // from the state's device figures, so plan_memory plans alike
    if (smem && s->sm_major >= 8 && smem <= s->smem_optin) return CONV_IGEMM;
    return cout >= CONV_GEMM_MIN_OUT ? CONV_GEMM : CONV_TILED;
}
// Down's and Up's output widths.
int down_out(int c) { return c / 2; }
int up_out(int c) { return 2 * c; }
int conv_out(const sx_step *st) { return st->kind == SX_STEP_DOWN ? down_out(st->c) : up_out(st->c); }

// The embedding's and the output's 3x3 (no resampling): the implicit GEMM
// or the tiled kernel, as conv_path_of says. False on a launch error.
template <typename TI, typename TO>
bool plain_conv3x3(const cuda_state *s, const TI *x, int cin, int h, int w, const float *wt, int cout, TO *y)
{
    if (conv_path_of(s, cin, cout) == CONV_IGEMM) return ig_conv3x3(s->stream, x, cin, h, w, wt, cout, IG_CONV_PLAIN, y);
    k_conv3x3(s->stream, x, cin, h, w, wt, nullptr, cout, y);
    return true;
}

// The device figures conv_path_of reads; false (and zeros) when the device cannot say.
bool read_device(cuda_state *s, int device, cudaDeviceProp *prop)
{
    const bool ok = cudaGetDeviceProperties(prop, device) == cudaSuccess;
    if (!ok) cudaGetLastError();
    s->sm_major = ok ? prop->major : 0;
    s->smem_optin = ok ? prop->sharedMemPerBlockOptin : 0;
    return ok;
}

bool fuse_is_fused(const cuda_state *s, const sx_step *st) { return !s->unfused && fused_fuse_supported(st->c); }

// Scratch sizes in map elements (what the plan counts) from halves and
// floats; each piece rounded to 64 elements, so the next starts aligned.
size_t round64(size_t e) { return (e + 63) / 64 * 64; }
size_t elems_of_halves(const cuda_state *s, size_t halves) { return round64(s->half_maps ? halves : (halves + 1) / 2); }
size_t elems_of_floats(const cuda_state *s, size_t floats) { return round64(s->half_maps ? 2 * floats : floats); }

// Scratch, in map elements, each step below uses.
size_t cuda_scratch(const sx_step *st, void *user)
{
    const cuda_state *s = static_cast<const cuda_state *>(user);
    size_t n = (size_t)st->h * st->w, cn = (size_t)st->c * n;
    switch (st->kind) {
    case SX_STEP_STAGE: {
        if (st->stage->count == 0) return 0;
        if (stage_is_fused(s, st)) return round64(cn); // the block's half-way map
        if (stage_is_half(s, st)) return elems_of_halves(s, half_block_scratch(st->c, st->stage->blocks[0].hid, n));
        // fp32 blocks; on fp16 maps, on an fp32 copy of x first
        return (s->half_maps ? elems_of_floats(s, cn) : 0) +
               elems_of_floats(s, unfused_block_scratch(st->c, st->stage->blocks[0].hid, n));
    }
    case SX_STEP_FUSE: // fp32 layers; on fp16 maps, from an fp32 copy of the input into an fp32 output
        if (fuse_is_fused(s, st)) return 0;
        return (s->half_maps ? elems_of_floats(s, 3 * cn) + elems_of_floats(s, cn) : 0) +
               elems_of_floats(s, unfused_fuse_scratch(st->c, n));
    case SX_STEP_DOWN: // the implicit GEMM none; fp16 GEMMs a chunk's im2col and output; the tiled kernel the conv's output
    case SX_STEP_UP: {
        const int cout = conv_out(st);
        switch (conv_path_of(s, st->c, cout)) {
        case CONV_IGEMM: return 0;
        case CONV_GEMM: return elems_of_halves(s, conv3x3_scratch_halves(st->c, cout, n));
        default: return round64(cout * n);
        }
    }
    case SX_STEP_SKIP: return round64(cn);
    default: return 0;
    }
}

gpu_ctx ctx_of(const cuda_state *s)
{
    return gpu_ctx{s->stream, s->blas, s->summary, s->summary_partial, reinterpret_cast<float *>(s->fuse_partial),
                   reinterpret_cast<float *>(s->fuse_sums), s->math, s->apply_mma != 0};
}

gpu_block_weights weights_of(const cuda_state *s, const sx_block *b)
{
    return gpu_block_weights{dev(s, b->norm1_w), dev(s, b->norm1_b), dev(s, b->qkv),     dev(s, b->qkv_dw),
                             dev(s, b->proj),    dev(s, b->norm2_w), dev(s, b->norm2_b), dev(s, b->pw_in),
                             dev(s, b->dw),      dev(s, b->pw_out),  b->c,               b->heads,
                             b->hid,             dev16(s, b->qkv),   dev16(s, b->proj),  dev16(s, b->pw_in),
                             dev16(s, b->pw_out)};
}

gpu_fuse_weights weights_of(const cuda_state *s, const sx_fuse *f)
{
    return gpu_fuse_weights{dev(s, f->qkv_w), dev(s, f->qkv_b), dev(s, f->dw_w),  dev(s, f->dw_b), f->tau,
                            dev(s, f->proj_w), dev(s, f->proj_b), dev(s, f->out_w), f->c};
}

// The fp32 unfused block or Fuse on fp16 maps: their input widened into
// fp32 scratch, the fp32 layers, the output narrowed back.
template <typename M>
cublasStatus_t fp32_step_on_half_maps(cuda_state *s, const sx_step *st, const M *in0, M *out, M *scr)
{
    if constexpr (!std::is_same<M, __half>::value) {
        return CUBLAS_STATUS_INTERNAL_ERROR; // fp32 maps never come here
    } else {
        const int c = st->c, h = st->h, w = st->w;
        const size_t n = (size_t)h * w, cn = (size_t)c * n;
        cudaStream_t q = s->stream;
        float *x32 = reinterpret_cast<float *>(scr);
        if (st->kind == SX_STEP_STAGE) { // x32 <- in0, the blocks in place, out <- x32
            float *scr32 = x32 + elems_of_floats(s, cn) / 2;
            k_to_float(q, in0, cn, x32);
            for (int i = 0; i < st->stage->count; i++) {
                cublasStatus_t bs = unfused_block_run(ctx_of(s), weights_of(s, &st->stage->blocks[i]), x32, h, w, scr32);
                if (bs) return bs;
            }
            k_to_half(q, x32, cn, out);
            return CUBLAS_STATUS_SUCCESS;
        }
        float *out32 = x32 + elems_of_floats(s, 3 * cn) / 2, *scr32 = out32 + elems_of_floats(s, cn) / 2;
        k_to_float(q, in0, 3 * cn, x32);
        cublasStatus_t bs = unfused_fuse_run(ctx_of(s), weights_of(s, st->fuse), x32, h, w, out32, scr32);
        k_to_half(q, out32, cn, out);
        return bs;
    }
}

template <typename M> cublasStatus_t run_step(cuda_state *s, const sx_step *st, const M *in0, const M *in1, M *out, M *scr)
{
    int c = st->c, h = st->h, w = st->w;
    size_t n = (size_t)h * w;
    cudaStream_t q = s->stream;
    constexpr bool half_maps = std::is_same<M, __half>::value;
    switch (st->kind) {
    case SX_STEP_EMBED:
        if (!plain_conv3x3(s, s->in, 3, h, w, dev(s, st->conv), s->model->cfg.dim, out)) return CUBLAS_STATUS_EXECUTION_FAILED;
        break;
    case SX_STEP_STAGE: {
        if (out != in0) cudaMemcpyAsync(out, in0, (size_t)c * n * sizeof(M), cudaMemcpyDeviceToDevice, q);
        if (st->stage->count == 0) break;
        const bool fused = stage_is_fused(s, st), half = stage_is_half(s, st);
        if (!fused && !half && half_maps) return fp32_step_on_half_maps(s, st, out, out, scr);
        for (int i = 0; i < st->stage->count; i++) {
            gpu_block_weights bw = weights_of(s, &st->stage->blocks[i]);
            if (fused) {
                float *z = s->summary + (size_t)bw.c * bw.c;
                if (!fused_block_run(q, bw, out, h, w, scr, s->summary_partial, s->summary, z, s->block_kernels))
                    return CUBLAS_STATUS_EXECUTION_FAILED;
            } else if (half) {
                const deep_fronts fronts = s->deep == DEEP_FUSED && !deep_front_supported(c) ? DEEP_SCALAR : s->deep;
                cublasStatus_t bs = half_block_run(ctx_of(s), bw, out, h, w, reinterpret_cast<__half *>(scr), fronts);
                if (bs) return bs;
            } else if constexpr (!half_maps) {
                cublasStatus_t bs = unfused_block_run(ctx_of(s), bw, out, h, w, scr);
                if (bs) return bs;
            }
        }
        break;
    }
    case SX_STEP_FUSE:
        if (!fuse_is_fused(s, st)) {
            if constexpr (half_maps) return fp32_step_on_half_maps(s, st, in0, out, scr);
            else return unfused_fuse_run(ctx_of(s), weights_of(s, st->fuse), in0, h, w, out, scr);
        }
        if (!fused_fuse_run(q, weights_of(s, st->fuse), in0, h, w, out, s->fuse_partial, s->fuse_sums, s->fuse_fold,
                            s->fuse_passes))
            return CUBLAS_STATUS_EXECUTION_FAILED;
        break;
    case SX_STEP_DOWN:
    case SX_STEP_UP: {
        const int cout = conv_out(st);
        const conv_path path = conv_path_of(s, c, cout);
        if (path == CONV_IGEMM)
            return ig_conv3x3(q, in0, c, h, w, dev(s, st->conv), cout,
                              st->kind == SX_STEP_DOWN ? IG_CONV_UNSHUFFLE : IG_CONV_SHUFFLE, out)
                       ? CUBLAS_STATUS_SUCCESS
                       : CUBLAS_STATUS_EXECUTION_FAILED;
        if (path == CONV_GEMM) {
            if (!dev16(s, st->conv)) return CUBLAS_STATUS_INVALID_VALUE; // never uploaded
            return half_conv3x3(ctx_of(s), in0, c, h, w, dev16(s, st->conv), cout, out, reinterpret_cast<__half *>(scr),
                                st->kind == SX_STEP_DOWN ? CONV_UNSHUFFLE : CONV_SHUFFLE);
        }
        k_conv3x3(q, in0, c, h, w, dev(s, st->conv), nullptr, cout, scr);
        if (st->kind == SX_STEP_DOWN) k_pixel_unshuffle(q, scr, cout, h, w, out);
        else k_pixel_shuffle(q, scr, cout, h, w, out);
        break;
    }
    case SX_STEP_SKIP:
        k_weighted_sum(q, in0, dev(s, st->skip->alpha), in1, dev(s, st->skip->beta), c, n, scr);
        if constexpr (half_maps) {
            const __half *w16 = dev16(s, st->skip->conv);
            return w16 ? half_conv1x1(ctx_of(s), scr, c, n, w16, c, out) : CUBLAS_STATUS_INVALID_VALUE; // never uploaded
        } else
            return gpu_conv1x1(ctx_of(s), scr, c, n, dev(s, st->skip->conv), nullptr, c, out, 0);
    case SX_STEP_MIX: k_weighted_sum(q, in0, dev(s, st->alpha), in1, dev(s, st->beta), c, n, out); break;
    case SX_STEP_OUT:
        if (!plain_conv3x3(s, in0, c, h, w, dev(s, st->conv), 3, s->out)) return CUBLAS_STATUS_EXECUTION_FAILED;
        break;
    default: break;
    }
    return CUBLAS_STATUS_SUCCESS;
}

// The fp16 weights: the four 1x1s of every block that runs on fp16 GEMMs,
// the 3x3s of Down and Up that run as GEMMs, and (on fp16 maps) the Skip
// layers' 1x1s. Each starts on a 256-byte
// boundary: cuBLAS takes its fast tensor-core kernels only for 16-byte
// aligned operands, and the fp32 arena's offsets are not (a depthwise weight
// of 2 hid x 9 floats shifts what follows by 4 floats when hid is odd).
void want16(cuda_state *s, const float *host, size_t count, size_t *total, size_t cols = 0, size_t ld = 0)
{
    if (!cols) cols = ld = count;
    const size_t halves = count / cols * ld;
    if (s->w16) s->w16[s->n_w16] = half_weight{host, count, *total, cols, ld};
    s->n_w16++;
    s->w16_floats += count;
    *total += (halves + 127) / 128 * 128;
}

size_t list_half_weights(cuda_state *s)
{
    const sagalux_model *m = s->model;
    const int d0 = m->cfg.dim;
    size_t total = 0;
    s->n_w16 = 0;
    s->w16_floats = 0;
    if (!s->tensor_cores || s->unfused) return 0; // everything fp32
    const sx_stage *stages[] = {&m->feat[0], &m->feat[1], &m->feat[2], &m->enc[0], &m->enc[1], &m->enc[2], &m->enc[3],
                                &m->dec[0],  &m->dec[1],  &m->dec[2],  &m->latent, &m->ref[0], &m->ref[1], &m->ref[2]};
    for (const sx_stage *st : stages)
        for (int i = 0; i < st->count; i++) {
            const sx_block *b = &st->blocks[i];
            if (fused_block_supported(b->c, b->heads, b->hid) || !half_block_supported(b->c, b->heads)) continue;
            want16(s, b->qkv, (size_t)5 * b->c * b->c, &total);
            want16(s, b->proj, (size_t)b->c * b->c, &total);
            want16(s, b->pw_in, (size_t)2 * b->hid * b->c, &total);
            want16(s, b->pw_out, (size_t)b->c * b->hid, &total, b->hid, hid_padded(b->hid));
        }
    for (int l = 0; l < 4; l++) {
        const int down_in = d0 << l, up_in = 2 * d0 << l;
        if (conv_path_of(s, down_in, down_out(down_in)) == CONV_GEMM)
            want16(s, m->down[l], (size_t)down_out(down_in) * down_in * 9, &total);
        if (conv_path_of(s, up_in, up_out(up_in)) == CONV_GEMM)
            want16(s, m->up[l], (size_t)up_out(up_in) * up_in * 9, &total);
    }
    for (int l = 0; l < 3 && s->half_maps; l++) want16(s, m->skip[l].conv, (size_t)(2 * d0 << l) * (2 * d0 << l), &total);
    return total;
}

// The weights on the device: the fp16 copies (converted here on the host),
// and the fp32 arena less the tensors that have one: in the fp16 precision
// the big 1x1 and 3x3 weights of the deep levels are read only as fp16, so
// their fp32 copies (81 of 84 MiB in the LLFormer setting) would be dead weight.
sagalux_status upload_weights(cuda_state *s, char *err, size_t err_size)
{
    const size_t halves = list_half_weights(s); // counts
    s->w16 = static_cast<half_weight *>(calloc(s->n_w16 ? s->n_w16 : 1, sizeof(half_weight)));
    __half *host16 = static_cast<__half *>(malloc((halves ? halves : 1) * sizeof(__half)));
    if (!s->w16 || !host16) {
        free(host16);
        return sx_reason(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "CUDA: out of host memory");
    }
    list_half_weights(s); // places
    std::sort(s->w16, s->w16 + s->n_w16, [](const half_weight &a, const half_weight &b) { return a.host < b.host; });
    const size_t floats = s->model->params - s->w16_floats;
    s->weight_bytes = floats * sizeof(float) + halves * sizeof(__half);
    sagalux_status st;
    if ((st = alloc(s, (void **)&s->weights, floats * sizeof(float), "the weights", err, err_size)) ||
        (st = alloc(s, (void **)&s->weights16, halves * sizeof(__half), "fp16 weights", err, err_size))) {
        free(host16);
        return st;
    }
    memset(host16, 0, halves * sizeof(__half));
    for (int i = 0; i < s->n_w16; i++) {
        const half_weight &wt = s->w16[i];
        for (size_t k = 0; k < wt.count; k++)
            host16[wt.offset + k / wt.cols * wt.ld + k % wt.cols] = __float2half_rn(wt.host[k]);
    }
    cudaError_t e = cudaMemcpy(s->weights16, host16, halves * sizeof(__half), cudaMemcpyHostToDevice);
    free(host16);
    // The fp32 runs between the fp16-only tensors, each where dev() says.
    const float *from = s->model->arena, *end = s->model->arena + s->model->params;
    for (int i = 0; i <= s->n_w16 && e == cudaSuccess; i++) {
        const float *to = i < s->n_w16 ? s->w16[i].host : end;
        if (to > from) e = cudaMemcpy(const_cast<float *>(dev(s, from)), from, (size_t)(to - from) * sizeof(float),
                                      cudaMemcpyHostToDevice);
        if (i < s->n_w16) from = s->w16[i].host + s->w16[i].count;
    }
    return e == cudaSuccess ? SAGALUX_OK : fail_cuda(s, e, "uploading the weights", err, err_size);
}

void release_size(cuda_state *s)
{
    cudaFree(s->arena);
    cudaFree(s->in);
    cudaFree(s->out);
    cudaFree(s->summary);
    free(s->host_tap);
    free(s->host_tap16);
    s->arena = nullptr;
    s->in = s->out = s->summary = s->host_tap = nullptr;
    s->host_tap16 = nullptr;
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
    s->arena_bytes = s->plan.arena_elems * (s->half_maps ? sizeof(__half) : sizeof(float));
    s->io_bytes = 2 * io;
    size_t need = s->weight_bytes + s->fixed_bytes + s->arena_bytes + s->io_bytes + (top * top + top) * sizeof(float);
    if (s->memory_limit && need > s->memory_limit) {
        s->arena_bytes = s->io_bytes = 0;
        return sx_reason(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY,
                       "CUDA device %d (%s): a %dx%d image needs %zu MiB, over this context's %zu MiB limit", s->device,
                       s->name, w, h, (need + (1 << 20) - 1) >> 20, s->memory_limit >> 20);
    }
    if ((st = alloc(s, &s->arena, s->arena_bytes, "activations", err, err_size)) ||
        (st = alloc(s, (void **)&s->in, io, "the input image", err, err_size)) ||
        (st = alloc(s, (void **)&s->out, io, "the output image", err, err_size)) ||
        (st = alloc(s, (void **)&s->summary, (top * top + top) * sizeof(float), "attention summaries", err, err_size))) {
        release_size(s);
        return st;
    }
    s->prepared = 1;
    return SAGALUX_OK;
}

// A map of the arena (the image buffers, fp32 whatever the maps are, are
// s->in and s->out: only Embed reads one, only Out writes the other).
template <typename M> M *map_of(cuda_state *s, sx_ref r)
{
    if (r.buf < 0 || r.buf == s->plan.input || r.buf == s->plan.output) return nullptr;
    return static_cast<M *>(s->arena) + s->plan.bufs[r.buf].offset + r.offset;
}

// Copies step i's output to the host as fp32 and hands it to tap.
template <typename M> sagalux_status tap_step(cuda_state *s, int i, sx_tap_fn tap, void *tap_user, char *err, size_t err_size)
{
    const sx_step *st = &s->plan.steps[i];
    const int c = sx_step_out_channels(&s->plan, st), oh = sx_step_out_h(st), ow = sx_step_out_w(st);
    const size_t count = (size_t)c * oh * ow;
    const bool image = st->out.buf == s->plan.output, half = !image && std::is_same<M, __half>::value;
    const void *o = image ? static_cast<const void *>(s->out) : map_of<M>(s, st->out);
    float *host = static_cast<float *>(realloc(s->host_tap, count * sizeof(float)));
    if (host) s->host_tap = host;
    __half *host16 = half ? static_cast<__half *>(realloc(s->host_tap16, count * sizeof(__half))) : nullptr;
    if (host16) s->host_tap16 = host16;
    if (!host || (half && !host16))
        return sx_reason(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "CUDA: out of host memory for a tap");
    cudaError_t e;
    if ((e = cudaMemcpyAsync(half ? static_cast<void *>(host16) : host, o, count * (half ? sizeof(__half) : sizeof(float)),
                             cudaMemcpyDeviceToHost, s->stream)) != cudaSuccess ||
        (e = cudaStreamSynchronize(s->stream)) != cudaSuccess)
        return fail_cuda(s, e, "copying a tap back", err, err_size);
    for (size_t k = 0; half && k < count; k++) host[k] = __half2float(host16[k]);
    tap(tap_user, i, st->tap, host, c, oh, ow);
    return SAGALUX_OK;
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
template <typename M> sagalux_status run_steps(cuda_state *s, sx_tap_fn tap, void *tap_user, char *err, size_t err_size)
{
    cudaError_t e;
    if (s->profile) cudaEventRecord(s->marks[0], s->stream);
    for (int i = 0; i < s->plan.n_steps; i++) {
        const sx_step *st = &s->plan.steps[i];
        if (s->before_step && s->before_step(s->hook_user, sx_plan_progress(&s->plan, i)))
            return sx_reason(err, err_size, SAGALUX_ERR_CANCELLED, "CUDA device %d: cancelled", s->device);
        M *scr = st->scratch.buf >= 0
                     ? static_cast<M *>(s->arena) + s->plan.bufs[st->scratch.buf].offset + st->scratch.offset
                     : nullptr;
        cublasStatus_t bs = run_step<M>(s, st, map_of<M>(s, st->in[0]), map_of<M>(s, st->in[1]), map_of<M>(s, st->out), scr);
        if (bs != CUBLAS_STATUS_SUCCESS)
            return sx_reason(err, err_size, SAGALUX_ERR_DEVICE, "CUDA device %d (%s): cuBLAS failed in step %d (%s): %s",
                           s->device, s->name, i, sx_step_kind_name(st->kind), cublasGetStatusString(bs));
        if ((e = cudaGetLastError()) != cudaSuccess) {
            char what[64];
            snprintf(what, sizeof what, "step %d (%s)", i, sx_step_kind_name(st->kind));
            return fail_cuda(s, e, what, err, err_size);
        }
        if (s->profile) cudaEventRecord(s->marks[i + 1], s->stream);
        sagalux_status ts;
        if (tap && (ts = tap_step<M>(s, i, tap, tap_user, err, err_size)) != SAGALUX_OK) return ts;
    }
    return SAGALUX_OK;
}

sagalux_status run_steps(cuda_state *s, sx_tap_fn tap, void *tap_user, char *err, size_t err_size)
{
    return s->half_maps ? run_steps<__half>(s, tap, tap_user, err, err_size)
                        : run_steps<float>(s, tap, tap_user, err, err_size);
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

extern "C" size_t cuda_peak(const void *state);

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
    cudaEventRecord(s->net_begin, s->stream);
    if (!tap && !s->profile && s->graph) {
        if ((e = cudaGraphLaunch(s->graph, s->stream)) != cudaSuccess)
            return fail_cuda(s, e, "launching the network's graph", err, err_size);
    } else if ((st = run_steps(s, tap, tap_user, err, err_size)) != SAGALUX_OK) {
        cudaStreamSynchronize(s->stream);
        return st;
    }
    cudaEventRecord(s->net_end, s->stream);
    if ((e = cudaMemcpyAsync(out, s->out, io, cudaMemcpyDeviceToHost, s->stream)) != cudaSuccess ||
        (e = cudaStreamSynchronize(s->stream)) != cudaSuccess)
        return fail_cuda(s, e, "running the network", err, err_size);
    float ms = 0.0f;
    if (cudaEventElapsedTime(&ms, s->net_begin, s->net_end) == cudaSuccess) s->network_ms = ms;
    else cudaGetLastError();
    if (s->profile) {
        log_step_times(s);
        // What peak_bytes accounts for beside what the device lost since this
        // context opened: the difference is what cuBLAS and CUDA graphs hold
        // (the same process running nothing else on the device).
        size_t free_now = 0, total = 0;
        if (cudaMemGetInfo(&free_now, &total) == cudaSuccess && free_now <= s->free_at_open)
            sx_log(SAGALUX_LOG_INFO, "cuda memory: accounted %.1f MiB; the device's free memory fell %.1f MiB since open",
                   cuda_peak(s) / 1048576.0, (s->free_at_open - free_now) / 1048576.0);
        else cudaGetLastError();
    }
    return SAGALUX_OK;
}

extern "C" void cuda_set_step_hook(void *state, int (*before_step)(void *, float), void *user)
{
    cuda_state *s = static_cast<cuda_state *>(state);
    s->before_step = before_step;
    s->hook_user = user;
}

extern "C" double cuda_network_ms(const void *state) { return static_cast<const cuda_state *>(state)->network_ms; }

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
    if (s->net_begin) cudaEventDestroy(s->net_begin);
    if (s->net_end) cudaEventDestroy(s->net_end);
    cudaFree(s->weights);
    cudaFree(s->weights16);
    free(s->w16);
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

/* The runtime's words for "no driver" (cudaErrorInsufficientDriver: "CUDA
 * driver version is insufficient for CUDA runtime version") blame a driver
 * that is not there at all; the driver's version (0: none) tells them apart. */
extern "C" int sx_cuda_probe(char *why, size_t why_size)
{
    int count = 0, driver = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e == cudaSuccess && count > 0) return count;
    cudaGetLastError();
    if (cudaDriverGetVersion(&driver) != cudaSuccess) cudaGetLastError(), driver = 0;
    char text[200];
    if (e == cudaSuccess || e == cudaErrorNoDevice) snprintf(text, sizeof text, "no NVIDIA GPU was found");
    else if (driver == 0) snprintf(text, sizeof text, "no NVIDIA driver is loaded");
    else if (e == cudaErrorInsufficientDriver)
        snprintf(text, sizeof text, "the NVIDIA driver (CUDA %d.%d) is older than this build needs (CUDA %d.%d)",
                 driver / 1000, driver % 1000 / 10, CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10);
    else snprintf(text, sizeof text, "%s", cudaGetErrorString(e));
    if (why && why_size) snprintf(why, why_size, "%s", text);
    return 0;
}

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

extern "C" sagalux_status sx_cuda_plan_memory(const sagalux_model *model, int h, int w, sagalux_precision precision,
                                               sx_plan *plan, sx_cuda_memory *bytes)
{
    cuda_state s = {}; // what the scratch sizes and the fp16 weight list read: the model, the precision, the device
    s.model = model;
    int dev = 0;
    cudaDeviceProp prop;
    if (cudaGetDevice(&dev) == cudaSuccess && read_device(&s, dev, &prop)) {
        snprintf(bytes->device, sizeof bytes->device, "%.150s", prop.name);
    } else { // no GPU here: plan as an H100 or H200 would run it
        cudaGetLastError();
        s.sm_major = 9;
        s.smem_optin = 227 * 1024;
        snprintf(bytes->device, sizeof bytes->device, "no GPU here: planned as for an H100/H200 (sm_90, 227 KiB shared memory a block)");
    }
    s.tensor_cores = precision == SAGALUX_PRECISION_FP16;
    s.unfused = getenv("SAGALUX_CUDA_UNFUSED") != nullptr;
    s.half_maps = s.tensor_cores && !s.unfused;
    sagalux_status st = sx_plan_build(model, h, w, cuda_scratch, &s, plan);
    if (st != SAGALUX_OK) return st;
    bytes->weights16 = list_half_weights(&s) * sizeof(__half);
    bytes->weights = (model->params - s.w16_floats) * sizeof(float);
    bytes->arena = plan->arena_elems * (s.half_maps ? sizeof(__half) : sizeof(float));
    bytes->images = 2 * 3 * (size_t)h * w * sizeof(float);
    bytes->fixed = fixed_bytes();
    return SAGALUX_OK;
}

extern "C" sagalux_status sx_cuda_backend_open(const sagalux_model *model, int device, size_t memory_limit,
                                               sagalux_precision precision, sx_backend *out, char *err,
                                               size_t err_size)
{
    char why[200];
    const int count = sx_cuda_probe(why, sizeof why);
    if (count == 0) return sx_reason(err, err_size, SAGALUX_ERR_DEVICE, "CUDA device %d: %s", device, why);
    cudaError_t e;
    if (device < 0 || device >= count)
        return sx_reason(err, err_size, SAGALUX_ERR_DEVICE, "CUDA device %d: not present (this machine has %d)", device,
                       count);
    cuda_state *s = static_cast<cuda_state *>(calloc(1, sizeof(cuda_state))); // plain data: zero is empty
    if (!s) return sx_reason(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "CUDA: out of host memory");
    s->model = model;
    s->device = device;
    s->memory_limit = memory_limit;
    const size_t fold_bytes = fused_fuse_fold_floats(16) * sizeof(float); // the widest fused Fuse
    s->fixed_bytes = fixed_bytes();
    cudaDeviceProp prop;
    snprintf(s->name, sizeof s->name, "%s", read_device(s, device, &prop) ? prop.name : "?");
    sagalux_status st = SAGALUX_OK;
    s->tensor_cores = precision == SAGALUX_PRECISION_FP16;
    s->unfused = getenv("SAGALUX_CUDA_UNFUSED") != nullptr;
    s->half_maps = s->tensor_cores && !s->unfused;
    if ((e = cudaSetDevice(device)) != cudaSuccess || (e = cudaStreamCreate(&s->stream)) != cudaSuccess)
        st = fail_cuda(s, e, "starting", err, err_size);
    else if (cublasCreate(&s->blas) != CUBLAS_STATUS_SUCCESS || cublasSetStream(s->blas, s->stream) != CUBLAS_STATUS_SUCCESS)
        st = sx_reason(err, err_size, SAGALUX_ERR_DEVICE, "CUDA device %d (%s): cuBLAS did not start", device, s->name);
    if (getenv("SAGALUX_CUDA_PROFILE") && st == SAGALUX_OK) {
        size_t total = 0;
        if (cudaMemGetInfo(&s->free_at_open, &total) != cudaSuccess) cudaGetLastError();
    }
    if (st == SAGALUX_OK && !(st = upload_weights(s, err, err_size)) &&
        !(st = alloc(s, (void **)&s->fuse_partial, K_FUSE_BLOCKS * 15 * sizeof(double), "fuse sums", err, err_size)) &&
        !(st = alloc(s, (void **)&s->fuse_sums, 15 * sizeof(double), "fuse sums", err, err_size)) &&
        !(st = alloc(s, (void **)&s->fuse_fold, fold_bytes, "the fuse layer's folded weights", err, err_size)))
        st = alloc(s, (void **)&s->summary_partial, (size_t)K_SUMMARY_BLOCKS * (32 * 32 + 32) * sizeof(float),
                   "attention partial sums", err, err_size);
    if (st == SAGALUX_OK &&
        ((e = cudaEventCreate(&s->net_begin)) != cudaSuccess || (e = cudaEventCreate(&s->net_end)) != cudaSuccess))
        st = fail_cuda(s, e, "creating events", err, err_size);
    // The fp32-data cuBLAS 1x1s (the Skip layers, the unfused path's blocks
    // and Fuse layers: widths the fused and fp16 paths do not take) follow
    // the precision: tf32 tensor cores in the fast mode (fp16's 10-bit
    // mantissa, fp32's range, fp32 sums). SAGALUX_CUDA_MATH=fp32|tf32|fp16
    // overrides them alone (the workbench's knob for what each costs).
    const char *math = getenv("SAGALUX_CUDA_MATH");
    if (math && !*math) math = nullptr;
    s->math = math && !strcmp(math, "fp32")   ? CUBLAS_COMPUTE_32F
              : math && !strcmp(math, "tf32") ? CUBLAS_COMPUTE_32F_FAST_TF32
              : math && !strcmp(math, "fp16") ? CUBLAS_COMPUTE_32F_FAST_16F
              : s->tensor_cores               ? CUBLAS_COMPUTE_32F_FAST_TF32
                                              : CUBLAS_COMPUTE_32F;
    if (math) sx_log(SAGALUX_LOG_INFO, "CUDA device %d: SAGALUX_CUDA_MATH=%s for the cuBLAS 1x1s", device, math);
    // The defaults are the kernels that won on the H200 (docs/performance.md,
    // the "Latest" section and the session sections after it); the
    // environment picks the ones they replaced, for A/B runs and as a fallback.
    const char *block = getenv("SAGALUX_CUDA_BLOCK");
    s->block_kernels = !s->tensor_cores                       ? FUSED_FP32
                       : block && !strcmp(block, "wmma")   ? FUSED_TC
                       : block && !strcmp(block, "igemm")  ? FUSED_IGEMM
                       : block && !strcmp(block, "igemm2") ? FUSED_IGEMM2
                                                            : FUSED_IGEMM2O;
    if (s->tensor_cores && block && *block)
        sx_log(SAGALUX_LOG_INFO, "CUDA device %d: SAGALUX_CUDA_BLOCK=%s for the wide levels' blocks", device, block);
    const char *fuse = getenv("SAGALUX_CUDA_FUSE");
    s->fuse_passes = !s->tensor_cores                    ? FUSE_FP32
                     : fuse && !strcmp(fuse, "wmma")  ? FUSE_TC
                     : fuse && !strcmp(fuse, "igemm") ? FUSE_IGEMM
                                                      : FUSE_IGEMM2;
    if (s->tensor_cores && fuse && *fuse)
        sx_log(SAGALUX_LOG_INFO, "CUDA device %d: SAGALUX_CUDA_FUSE=%s for the Fuse layers", device, fuse);
    const char *deep = getenv("SAGALUX_CUDA_DEEP");
    s->deep = deep && !strcmp(deep, "scalar")                    ? DEEP_SCALAR
              : deep && s->tensor_cores && !strcmp(deep, "fused") ? DEEP_FUSED
                                                                  : DEEP_PAIRS;
    if (deep && *deep)
        sx_log(SAGALUX_LOG_INFO, "CUDA device %d: SAGALUX_CUDA_DEEP=%s for the deep blocks", device, deep);
    const char *apply = getenv("SAGALUX_CUDA_APPLY");
    s->apply_mma = s->tensor_cores && apply && !strcmp(apply, "mma");
    if (s->apply_mma) sx_log(SAGALUX_LOG_INFO, "CUDA device %d: SAGALUX_CUDA_APPLY=mma for the deep blocks", device);
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
    *out = sx_backend{"cuda",          SAGALUX_DEVICE_CUDA, s,           cuda_prepare,      cuda_run,       cuda_peak,
                      cuda_close,      cuda_host_alloc,     cuda_host_free, cuda_set_step_hook, cuda_network_ms};
    return SAGALUX_OK;
}
