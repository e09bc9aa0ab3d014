// cp.async (compute capability 8.0 on): copies from global to shared memory
// that the SM carries out while the issuing threads go on, without passing
// through their registers: how a tile kernel fetches its next tile's input
// during this tile's arithmetic. A thread sees its own copies after
// cpasync::wait_all(); the block sees everyone's after that and a barrier.
#pragma once
#include <cstdint>
#include <cstring>

namespace cpasync {

// 4 bytes from src (4-byte aligned) to dst (shared memory, 4-byte aligned);
// zeros instead where !valid (src is then not read).
__device__ __forceinline__ void copy4(void *dst, const void *src, bool valid)
{
#if defined(SAGALUX_EMU) || (defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800)
    // The CUDA emulator (cuda/emu), and the builds for GPUs before sm_80
    // (which never run the implicit-GEMM kernels: ig_block_supported asks
    // the device), copy at once: the same result once the wait and the
    // barrier that must follow have run.
    uint32_t v = 0;
    if (valid) memcpy(&v, src, 4);
    memcpy(dst, &v, 4);
#else
    const unsigned to = static_cast<unsigned>(__cvta_generic_to_shared(dst));
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(to), "l"(src), "r"(valid ? 4 : 0) : "memory");
#endif
}

// Closes the group of this thread's copies issued since the last commit.
__device__ __forceinline__ void commit()
{
#if !defined(SAGALUX_EMU) && !(defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800)
    asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

// Waits until all of this thread's copies have landed.
__device__ __forceinline__ void wait_all()
{
#if !defined(SAGALUX_EMU) && !(defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800)
    asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}

} // namespace cpasync
