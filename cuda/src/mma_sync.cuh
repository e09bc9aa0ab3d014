// Warp-level tensor-core primitives in PTX (mma.sync m16n8k16: sm_80 and
// later; ldmatrix and movmatrix: sm_75): mma.sync m16n8k16 (fp16 in, fp32 accumulate), ldmatrix, and the
// 8x8 transpose. Used where WMMA's fragments are too opaque: the implicit
// GEMM block (block_igemm.cu) keeps its accumulators in registers and turns
// them into the next product's operands without shared memory, which needs
// the documented per-lane layouts:
//
//   lane = 4 g + t (g = lane / 4, t = lane % 4)
//   A (16x16, row-major) a[0]: (g, 2t..2t+1)  a[1]: (g+8, 2t..)  a[2]: (g, 2t+8..)  a[3]: (g+8, 2t+8..)
//   B (16x8, k x n)      b0: (k 2t..2t+1, n g)  b1: (k 2t+8..2t+9, n g)
//   C (16x8, fp32)       c[0], c[1]: (g, 2t), (g, 2t+1)  c[2], c[3]: (g+8, 2t), (g+8, 2t+1)
//
// so the accumulators of two neighbouring n-tiles are, packed to fp16, an A
// operand whose k runs over those 16 columns (as in FlashAttention-2).
#pragma once
#include <cmath>
#include <cstdint>
#include <cuda_fp16.h>

namespace mma {

// The power of two that brings m, the largest magnitude of a set of fp32
// values, into [0.5, 1): scaled by it they fit fp16's range as operands
// (a ratio of two of them is unchanged); 1 where m is 0 or not finite.
__device__ __forceinline__ float fp16_range_scale(float m)
{
    int ex = 0;
    frexpf(m, &ex);
    return m > 0.0f && std::isfinite(m) ? ldexpf(1.0f, -ex) : 1.0f;
}

// Two floats as one register of two fp16 (lo in the low half).
__device__ __forceinline__ uint32_t pack(float lo, float hi)
{
    __half2 v = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

#ifdef SAGALUX_EMU
} // namespace mma
#include "emu_mma.h" // the same three on the CPU (cuda/emu)
namespace mma {
#else
__device__ __forceinline__ uint32_t smem_addr(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

// Four 8x8 fp16 matrices from shared memory: lanes 8j..8j+7 give the row
// addresses of matrix j (16-byte aligned); r[j] is this lane's part of matrix j.
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const void *row)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(row)));
}

// d += a b (16x8x16, fp16 x fp16 -> fp32). sm_80 and later: the builds for
// older GPUs (sm_75) compile a trap, and the host never launches it there
// (ig_block_supported asks the device).
__device__ __forceinline__ void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    (void)d, (void)a, (void)b0, (void)b1;
    __trap();
#else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

// The transpose of an 8x8 fp16 matrix held one register a lane (row g, columns 2t, 2t+1).
__device__ __forceinline__ uint32_t trans(uint32_t x)
{
    uint32_t y;
    asm volatile("movmatrix.sync.aligned.m8n8.trans.b16 %0, %1;\n" : "=r"(y) : "r"(x));
    return y;
}
#endif

} // namespace mma
