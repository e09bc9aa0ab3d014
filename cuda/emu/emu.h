// The CUDA emulator: the project's kernels compiled as host C++ and run on
// the CPU, each GPU thread a fiber, so their logic (indexing, masking, the
// mma.sync fragment layouts, barriers) can be checked where no GPU is: in
// CI, and in sessions without one. Not a performance model; not a race
// detector (a fiber runs until it waits at a barrier or a warp collective,
// so a missing barrier can go unseen: compute-sanitizer's racecheck on the
// GPU is that check); and only half a check of uninitialised reads
// (dynamic shared memory starts as NaNs, static __shared__ arrays zeroed). The
// workbenches (cuda/dev/bench_*.cu) and the backend's parity and golden
// tests run here unchanged (cuda/emu/CMakeLists.txt).
//
// cu2cpp.py turns a .cu into C++ for this (kernel launches become
// emu::launch, dynamic shared memory emu::dynamic_smem()); every translated
// file is compiled with -include emu.h. What the kernels use of CUDA's
// device side is here; the runtime and cuBLAS calls they make are in
// emu.cpp. The warp-level primitives follow the per-lane layouts PTX
// documents (mma_sync.cuh lists them).
#pragma once

#define SAGALUX_EMU 1
// Before CUDA's headers, which keep a definition they find (host_defines.h).
#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __constant__ static
#define __launch_bounds__(...)

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <utility>

namespace emu {

// The running thread's coordinates.
struct coords {
    uint3 thread, block;
    dim3 block_dim, grid_dim;
    int lane() const { return (int)((thread.z * block_dim.y + thread.y) * block_dim.x + thread.x) % 32; }
    int warp() const { return (int)((thread.z * block_dim.y + thread.y) * block_dim.x + thread.x) / 32; }
};
const coords &here();

// __syncthreads for the running block.
void sync_block();
// The running block's dynamic shared memory (the launch's bytes; filled with
// 0xff at each block's start, so a read of what no thread wrote is a NaN).
unsigned char *dynamic_smem();
// Every lane of the running warp passes bytes (at most 64) and receives all
// 32 lanes' (slot lane at all + lane * 64). The lanes meet twice: once all
// have written, once all have read.
constexpr int SLOT = 64;
void warp_gather(const void *mine, size_t bytes, unsigned char (*all)[SLOT]);

// A launch's configuration, as <<<grid, block, bytes, stream>>> gives it.
struct config {
    dim3 grid, block;
    size_t bytes;
};
inline config cfg(dim3 grid, dim3 block, size_t bytes = 0, cudaStream_t = nullptr) { return config{grid, block, bytes}; }

// Runs body once for every thread of every block of c, a block at a time.
void run_grid(const config &c, const std::function<void()> &body);
// A launch: call(args...) runs the kernel for one thread (cu2cpp.py wraps
// the kernel's name in a generic lambda, so template arguments are deduced
// from the arguments as a CUDA launch deduces them). More dynamic shared
// memory than a block may take fails the launch (cudaGetLastError says so)
// and runs nothing.
void launch_failed(const config &c);
template <typename Call> struct launcher {
    config c;
    Call call;
    template <typename... A> void operator()(const A &...a) const
    {
        if (c.bytes > (size_t)227 * 1024) {
            launch_failed(c);
            return;
        }
        std::tuple<A...> args(a...); // by value, as a launch copies them
        run_grid(c, [&] { std::apply(call, args); });
    }
};
template <typename Call> launcher<Call> launch(config c, Call call) { return launcher<Call>{c, call}; }

template <typename T> T shfl(T v, int src_of_lane(int lane, int arg), int arg)
{
    static_assert(sizeof(T) <= SLOT, "a shuffle's value fits a slot");
    unsigned char all[32][SLOT];
    warp_gather(&v, sizeof v, all);
    T out;
    memcpy(&out, all[src_of_lane(here().lane(), arg) & 31], sizeof out);
    return out;
}

} // namespace emu

// The runtime's kernel-pointer templates (nvcc's cuda_runtime.h has them;
// a host compiler sees only the const void * forms).
template <typename F> cudaError_t cudaFuncSetAttribute(F *kernel, cudaFuncAttribute a, int v)
{
    return cudaFuncSetAttribute(reinterpret_cast<const void *>(kernel), a, v);
}
template <typename F> cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int *n, F *kernel, int threads, size_t smem)
{
    return cudaOccupancyMaxActiveBlocksPerMultiprocessor(n, reinterpret_cast<const void *>(kernel), threads, smem);
}

#define threadIdx (emu::here().thread)
#define blockIdx (emu::here().block)
#define blockDim (emu::here().block_dim)
#define gridDim (emu::here().grid_dim)

inline void __syncthreads() { emu::sync_block(); }
template <typename T> inline T __ldg(const T *p) { return *p; }
inline float rsqrtf(float v) { return 1.0f / sqrtf(v); }
inline void __trap() { abort(); }

template <typename T> inline T __shfl_sync(unsigned, T v, int src, int = 32)
{
    return emu::shfl(v, [](int, int s) { return s; }, src);
}
template <typename T> inline T __shfl_xor_sync(unsigned, T v, int mask, int = 32)
{
    return emu::shfl(v, [](int lane, int m) { return lane ^ m; }, mask);
}
// Lanes past the warp's end keep their own value, as on the GPU.
template <typename T> inline T __shfl_down_sync(unsigned, T v, int delta, int = 32)
{
    return emu::shfl(v, [](int lane, int d) { return lane + d < 32 ? lane + d : lane; }, delta);
}
