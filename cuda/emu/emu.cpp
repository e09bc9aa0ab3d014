// The CUDA emulator's runtime (see emu.h): the fibers that are a block's
// threads, the barriers and warp collectives they meet at, and the CUDA
// runtime and cuBLAS calls the kernels' host code makes, on host memory.
#include "emu.h"

#include <cublas_v2.h>
#include <csetjmp>
#include <ucontext.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

namespace emu {
namespace {

// The device the emulator says it is: an sm_90 part with few SMs, so the
// persistent grids (an SM count times the blocks an SM takes) loop over
// several tiles a block, as they do on a real GPU at full size.
constexpr int SMS = 3, SMEM_OPTIN = 227 * 1024, DEFAULT_SMEM = 48 * 1024;
constexpr size_t STACK = 256 * 1024;

// A fiber starts on its own stack through makecontext/swapcontext, and
// after that switches by _setjmp/_longjmp, which (unlike swapcontext) make
// no system call to save the signal mask: the emulator spends most of its
// time switching (bench_block at C=16 ran 2.7x faster this way than with
// swapcontext throughout). The build undefines _FORTIFY_SOURCE for this
// file: its longjmp check refuses a jump to another stack.
struct fiber {
    ucontext_t ctx;
    jmp_buf at;
    coords c;
    bool started = false, done = false;
    std::unique_ptr<char[]> stack{new char[STACK]};
};

struct barrier {
    int arrived = 0;
    unsigned gen = 0;
};

struct block_state {
    std::vector<fiber> fibers;
    int live = 0;                      // threads not yet returned
    std::vector<int> warp_live;        // the same a warp
    barrier bar;                       // __syncthreads
    std::vector<barrier> warp_bar;     // warp collectives
    std::vector<unsigned char> warp_buf; // two buffers of 32 slots a warp
    long progress = 0;                 // arrivals, releases and returns: a pass without any is a deadlock
};

jmp_buf scheduler;
block_state B;
fiber *current = nullptr;
const std::function<void()> *body = nullptr;
std::vector<unsigned char> smem;
cudaError_t sticky = cudaSuccess;

void yield()
{
    if (!_setjmp(current->at)) _longjmp(scheduler, 1);
}

void wait_at(barrier &b, int expected)
{
    B.progress++;
    const unsigned gen = b.gen;
    if (++b.arrived >= expected) {
        b.arrived = 0;
        b.gen++;
        return;
    }
    while (b.gen == gen) yield();
}

// A barrier whose waiters are all the live threads left opens.
void release_if_complete(barrier &b, int live)
{
    if (b.arrived > 0 && b.arrived >= live) {
        b.arrived = 0;
        b.gen++;
        B.progress++;
    }
}

void trampoline()
{
    (*body)();
    current->done = true;
    _longjmp(scheduler, 1);
}

void fail(const char *what)
{
    fprintf(stderr, "cuda emulator: %s\n", what);
    abort();
}

} // namespace

const coords &here() { return current->c; }

void sync_block() { wait_at(B.bar, B.live); }

unsigned char *dynamic_smem() { return smem.data(); }

// Two buffers a warp, alternating: a lane can be at most one collective
// ahead of another (the next one's barrier waits for all), so writing the
// other buffer never overwrites what a slower lane still reads, and one
// barrier a collective is enough.
void warp_gather(const void *mine, size_t bytes, unsigned char (*all)[SLOT])
{
    if (bytes > SLOT) fail("a warp collective's value is larger than its slot");
    const int w = current->c.warp(), lane = current->c.lane();
    barrier &bar = B.warp_bar[w];
    unsigned char *buf = B.warp_buf.data() + ((size_t)w * 2 + (bar.gen & 1)) * 32 * SLOT;
    memcpy(buf + lane * SLOT, mine, bytes);
    wait_at(bar, B.warp_live[w]);
    memcpy(all, buf, 32 * SLOT);
}

void run_grid(const config &c, const std::function<void()> &fn)
{
    const int threads = (int)(c.block.x * c.block.y * c.block.z);
    if (threads < 1 || threads > 1024 || c.grid.x * c.grid.y * c.grid.z == 0) {
        sticky = cudaErrorInvalidConfiguration;
        return;
    }
    body = &fn;
    smem.assign(c.bytes + 128, 0xff);
    const int warps = (threads + 31) / 32;
    for (unsigned bz = 0; bz < c.grid.z; bz++)
        for (unsigned by = 0; by < c.grid.y; by++)
            for (unsigned bx = 0; bx < c.grid.x; bx++) {
                std::fill(smem.begin(), smem.end(), (unsigned char)0xff);
                B.fibers.resize(threads);
                B.live = threads;
                B.warp_live.assign(warps, 0);
                B.bar = barrier{};
                B.warp_bar.assign(warps, barrier{});
                B.warp_buf.assign((size_t)warps * 2 * 32 * SLOT, 0);
                for (int i = 0; i < threads; i++) {
                    fiber &f = B.fibers[i];
                    f.started = f.done = false;
                    f.c.thread = make_uint3(i % c.block.x, i / c.block.x % c.block.y, i / (c.block.x * c.block.y));
                    f.c.block = make_uint3(bx, by, bz);
                    f.c.block_dim = c.block;
                    f.c.grid_dim = c.grid;
                    B.warp_live[i / 32]++;
                    getcontext(&f.ctx);
                    f.ctx.uc_stack.ss_sp = f.stack.get();
                    f.ctx.uc_stack.ss_size = STACK;
                    f.ctx.uc_link = nullptr; // a fiber never returns: it jumps back
                    makecontext(&f.ctx, trampoline, 0);
                }
                for (int left = threads; left > 0;) {
                    const long before = B.progress;
                    for (fiber &f : B.fibers) {
                        if (f.done) continue;
                        current = &f;
                        if (!_setjmp(scheduler)) {
                            if (f.started) _longjmp(f.at, 1);
                            f.started = true;
                            ucontext_t from;
                            swapcontext(&from, &f.ctx); // returns never: the fiber jumps to scheduler
                        }
                        if (f.done) {
                            left--, B.live--, B.warp_live[f.c.warp()]--, B.progress++;
                            release_if_complete(B.bar, B.live);
                            release_if_complete(B.warp_bar[f.c.warp()], B.warp_live[f.c.warp()]);
                        }
                    }
                    if (left > 0 && B.progress == before) fail("deadlock: every thread left waits at a barrier that cannot open");
                }
            }
    current = nullptr;
}

void launch_failed(const config &) { sticky = cudaErrorInvalidValue; }

} // namespace emu

// ----------------------------------------------------------- CUDA runtime

extern "C" {

cudaError_t cudaGetLastError(void)
{
    const cudaError_t e = emu::sticky;
    emu::sticky = cudaSuccess;
    return e;
}
cudaError_t cudaPeekAtLastError(void) { return emu::sticky; }
const char *cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "emulated launch error"; }
const char *cudaGetErrorName(cudaError_t e) { return e == cudaSuccess ? "cudaSuccess" : "cudaErrorEmulated"; }

cudaError_t cudaGetDevice(int *d)
{
    *d = 0;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int) { return cudaSuccess; }
cudaError_t cudaGetDeviceCount(int *n)
{
    *n = 1;
    return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int *v)
{
    *v = CUDART_VERSION; /* the emulated driver is as new as the headers */
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }

cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int)
{
    switch (a) {
    case cudaDevAttrMultiProcessorCount: *v = emu::SMS; break;
    case cudaDevAttrComputeCapabilityMajor: *v = 9; break;
    case cudaDevAttrComputeCapabilityMinor: *v = 0; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = emu::SMEM_OPTIN; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *v = emu::DEFAULT_SMEM; break;
    case cudaDevAttrMaxThreadsPerBlock: *v = 1024; break;
    case cudaDevAttrWarpSize: *v = 32; break;
    default: *v = 0; return cudaErrorInvalidValue;
    }
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "CUDA emulator (cuda/emu, %d SMs as sm_90)", emu::SMS);
    p->major = 9;
    p->multiProcessorCount = emu::SMS;
    p->sharedMemPerBlock = emu::DEFAULT_SMEM;
    p->sharedMemPerBlockOptin = emu::SMEM_OPTIN;
    p->sharedMemPerMultiprocessor = emu::SMEM_OPTIN + 1024;
    p->maxThreadsPerBlock = 1024;
    p->regsPerBlock = 65536;
    p->warpSize = 32;
    p->totalGlobalMem = (size_t)8 << 30;
    return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void *f, cudaFuncAttribute a, int v)
{
    (void)f;
    return a == cudaFuncAttributeMaxDynamicSharedMemorySize && v > emu::SMEM_OPTIN ? cudaErrorInvalidValue : cudaSuccess;
}

// One block an SM: the persistent grids are then SMS blocks, each looping over many tiles.
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int *n, const void *, int, size_t)
{
    *n = 1;
    return cudaSuccess;
}
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int *n, const void *, int, size_t, unsigned)
{
    *n = 1;
    return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t bytes)
{
    *p = aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaMallocHost(void **p, size_t bytes) { return cudaMalloc(p, bytes); }
cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned) { return cudaMalloc(p, bytes); }
cudaError_t cudaFree(void *p)
{
    free(p);
    return cudaSuccess;
}
cudaError_t cudaFreeHost(void *p) { return cudaFree(p); }
cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind)
{
    memmove(d, s, n);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind k, cudaStream_t)
{
    return cudaMemcpy(d, s, n, k);
}
cudaError_t cudaMemset(void *p, int v, size_t n)
{
    memset(p, v, n);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t) { return cudaMemset(p, v, n); }
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total)
{
    *free_bytes = *total = (size_t)8 << 30;
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *s)
{
    *s = nullptr;
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

// No graphs: a launch runs when it is made, so there is nothing to capture.
// The backend then runs its steps one by one (it says so in an info line).
cudaError_t cudaStreamBeginCapture(cudaStream_t, cudaStreamCaptureMode) { return cudaErrorNotSupported; }
cudaError_t cudaStreamEndCapture(cudaStream_t, cudaGraph_t *g)
{
    *g = nullptr;
    return cudaErrorNotSupported;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *e, cudaGraph_t, unsigned long long)
{
    *e = nullptr;
    return cudaErrorNotSupported;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t, cudaStream_t) { return cudaErrorNotSupported; }
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t) { return cudaSuccess; }
cudaError_t cudaGraphDestroy(cudaGraph_t) { return cudaSuccess; }

// Every pointer is host memory here.
cudaError_t cudaPointerGetAttributes(cudaPointerAttributes *a, const void *p)
{
    memset(a, 0, sizeof *a);
    a->type = cudaMemoryTypeHost;
    a->hostPointer = const_cast<void *>(p);
    return cudaSuccess;
}

// Events hold the host time (the emulator's times mean nothing about a GPU's).
struct CUevent_st {
    std::chrono::steady_clock::time_point t;
};
cudaError_t cudaEventCreate(cudaEvent_t *e)
{
    *e = new CUevent_st;
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e)
{
    delete e;
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t)
{
    e->t = std::chrono::steady_clock::now();
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b)
{
    *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
    return cudaSuccess;
}

} // extern "C"

// ----------------------------------------------------------------- cuBLAS

struct cublasContext {
    int unused;
};

namespace {

float element(const void *p, cudaDataType t, size_t i)
{
    return t == CUDA_R_16F ? __half2float(static_cast<const __half *>(p)[i]) : static_cast<const float *>(p)[i];
}

// C (m x n, column-major, ldc) = alpha op(A) op(B) + beta C in fp32 sums.
// op(A) and op(B) are first unpacked to fp32, row i of op(A) and column j
// of op(B) contiguous, so the inner loop is a plain dot product.
void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, const void *A, cudaDataType at,
          int lda, const void *Bm, cudaDataType bt, int ldb, float beta, void *C, cudaDataType ct, int ldc)
{
    std::vector<float> a((size_t)m * k), b((size_t)n * k);
    for (int i = 0; i < m; i++)
        for (int p = 0; p < k; p++)
            a[(size_t)i * k + p] = element(A, at, ta == CUBLAS_OP_N ? (size_t)p * lda + i : (size_t)i * lda + p);
    for (int j = 0; j < n; j++)
        for (int p = 0; p < k; p++)
            b[(size_t)j * k + p] = element(Bm, bt, tb == CUBLAS_OP_N ? (size_t)j * ldb + p : (size_t)p * ldb + j);
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            const float *ar = &a[(size_t)i * k], *bc = &b[(size_t)j * k];
            float acc = 0.0f;
            for (int p = 0; p < k; p++) acc += ar[p] * bc[p];
            const size_t at_c = (size_t)j * ldc + i;
            const float old = beta != 0.0f ? element(C, ct, at_c) : 0.0f;
            const float v = alpha * acc + beta * old;
            if (ct == CUDA_R_16F) static_cast<__half *>(C)[at_c] = __float2half(v);
            else static_cast<float *>(C)[at_c] = v;
        }
}

} // namespace

extern "C" {

cublasStatus_t cublasCreate(cublasHandle_t *h)
{
    *h = new cublasContext;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t h)
{
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetWorkspace(cublasHandle_t, void *, size_t) { return CUBLAS_STATUS_SUCCESS; }
const char *cublasGetStatusString(cublasStatus_t s) { return s == CUBLAS_STATUS_SUCCESS ? "success" : "emulated failure"; }

cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType at, int lda, const void *Bm,
                            cudaDataType bt, int ldb, const void *beta, void *C, cudaDataType ct, int ldc,
                            cublasComputeType_t, cublasGemmAlgo_t)
{
    gemm(ta, tb, m, n, k, *static_cast<const float *>(alpha), A, at, lda, Bm, bt, ldb,
         *static_cast<const float *>(beta), C, ct, ldc);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                         int k, const float *alpha, const float *A, int lda, long long sa,
                                         const float *Bm, int ldb, long long sb, const float *beta, float *C,
                                         int ldc, long long sc, int batches)
{
    for (int i = 0; i < batches; i++)
        gemm(ta, tb, m, n, k, *alpha, A + i * sa, CUDA_R_32F, lda, Bm + i * sb, CUDA_R_32F, ldb, *beta, C + i * sc,
             CUDA_R_32F, ldc);
    return CUBLAS_STATUS_SUCCESS;
}

} // extern "C"
