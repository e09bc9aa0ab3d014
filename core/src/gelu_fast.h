/* GELU with the exact erf, evaluated to 1.5e-7 (absolute, in erf) by
 * Abramowitz & Stegun 7.1.26 instead of the C library's erff: one
 * reciprocal and one exponential, no branches (the FFN's dual gate,
 * sx_dual_gate_fast, shares one reciprocal between its two GELUs). The
 * CUDA fp16 block kernels use it (cuda/src/block_igemm.cu): their GELU outputs are rounded to fp16
 * (2^-11 relative) right after, so an erf good to 1.5e-7 cannot be told
 * from the library's, while erff's branches and polynomials were the
 * largest part of their FFN's instructions. (The tanh-form GELU differs by
 * up to 1e-3: a different function, which NETWORK.md rules out.) Plain C,
 * so tests/test_layers.c checks this very code on the CPU against a double
 * erf; under nvcc the device build uses the fast hardware exp2 and
 * reciprocal (about 2 ulp each). */
#ifndef SAGALUX_GELU_FAST_H
#define SAGALUX_GELU_FAST_H

#include <math.h>

#if defined(__CUDACC__)
#define SX_GELU_FN static __host__ __device__ __forceinline__
#else
#define SX_GELU_FN static inline
#endif

#if defined(__CUDACC__)
/* The hardware's approximate reciprocal and exp2, flushing denormals: one
 * MUFU instruction each (the non-ftz forms add a range fix-up). */
static __device__ __forceinline__ float sx_fast_rcp(float v)
{
    float r;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(v));
    return r;
}
static __device__ __forceinline__ float sx_fast_exp2(float v)
{
    float r;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(v));
    return r;
}
/* The gates' sigmoid on the same two (~2 ulp); exp overflowing to inf gives
 * 0, the right limit. */
static __device__ __forceinline__ float sx_sigmoid_fast(float v)
{
    return sx_fast_rcp(1.0f + sx_fast_exp2(v * -1.44269504f));
}
#elif defined(SAGALUX_EMU)
/* The CUDA emulator (cuda/emu) runs the kernels as host code: exact forms. */
static inline float sx_sigmoid_fast(float v) { return 1.0f / (1.0f + exp2f(v * -1.44269504f)); }
#endif
#if defined(__CUDA_ARCH__)
#define SX_GELU_RCP(v) sx_fast_rcp(v)
#define SX_GELU_EXP2(v) sx_fast_exp2(v)
#else
#define SX_GELU_RCP(v) (1.0f / (v))
#define SX_GELU_EXP2(v) exp2f(v)
#endif

/* Phi(-|x|) given t = 1 / (1 + p a), where a = |x| / sqrt 2:
 * 0.5 erfc(a) = 0.5 t P(t) exp(-a^2). b = a sqrt(log2 e), so
 * exp(-a^2) = exp2(-b^2); p and the 0.5 are folded into the constants. */
SX_GELU_FN float sx_phi_lower(float b, float t)
{
    float poly = 0.5307027145f; /* 0.5 a5 .. 0.5 a1 */
    poly = poly * t - 0.7265760135f;
    poly = poly * t + 0.7107068705f;
    poly = poly * t - 0.142248368f;
    poly = poly * t + 0.127414796f;
    return poly * t * SX_GELU_EXP2(-b * b);
}

#define SX_GELU_B(x) (fabsf(x) * 0.84932180028801904f) /* |x| sqrt(log2 e / 2) */
#define SX_GELU_D(b) (1.0f + 0.27273748f * (b))         /* 1 + p a, p / sqrt(log2 e) */

SX_GELU_FN float sx_gelu_fast(float x)
{
    const float b = SX_GELU_B(x), lower = sx_phi_lower(b, SX_GELU_RCP(SX_GELU_D(b)));
    return x * (x >= 0.0f ? 1.0f - lower : lower);
}

/* The FFN's dual gate, gelu(t2) t1 + gelu(t1) t2, with one reciprocal for
 * both t: 1/d1 = d2 / (d1 d2). (d1 d2 overflowing to inf, at |t| beyond
 * ~1e19, gives t = 0 and the GELU's own limits.) */
SX_GELU_FN float sx_dual_gate_fast(float t1, float t2)
{
    const float b1 = SX_GELU_B(t1), b2 = SX_GELU_B(t2), d1 = SX_GELU_D(b1), d2 = SX_GELU_D(b2);
    const float r = SX_GELU_RCP(d1 * d2);
    const float l1 = sx_phi_lower(b1, d2 * r), l2 = sx_phi_lower(b2, d1 * r);
    const float g1 = t1 * (t1 >= 0.0f ? 1.0f - l1 : l1), g2 = t2 * (t2 >= 0.0f ? 1.0f - l2 : l2);
    return g2 * t1 + g1 * t2;
}
#undef SX_GELU_B
#undef SX_GELU_D
#undef SX_GELU_RCP
#undef SX_GELU_EXP2

#endif
