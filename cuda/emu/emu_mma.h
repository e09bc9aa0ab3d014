// mma_sync.cuh's warp-level primitives on the CUDA emulator (emu.h): each
// lane hands its registers to the warp (emu::warp_gather) and computes its
// own result from all 32, by the per-lane layouts PTX documents (and
// mma_sync.cuh repeats):
//
//   lane = 4 g + t
//   A (16x16) a[0]: (g, 2t..2t+1)  a[1]: (g+8, 2t..)  a[2]: (g, 2t+8..)  a[3]: (g+8, 2t+8..)
//   B (16x8, k x n) b0: (k 2t..2t+1, n g)  b1: (k 2t+8..2t+9, n g)
//   C (16x8) c[0], c[1]: (g, 2t), (g, 2t+1)  c[2], c[3]: (g+8, 2t), (g+8, 2t+1)
//   ldmatrix x4: lanes 8j..8j+7 give the rows of matrix j; r[j] = (row g, columns 2t, 2t+1) of it
//   movmatrix.trans: the lane holding (g, 2t..2t+1) of M receives (g, 2t..2t+1) of M^T
//
// A half is the low (even column) or high (odd column) 16 bits of a register.
#pragma once
#include <cstdint>
#include <cstring>
#include <cuda_fp16.h>

namespace mma {

namespace emu_detail {

inline float half_of(uint32_t reg, int hi)
{
    const unsigned short bits = (unsigned short)(hi ? reg >> 16 : reg & 0xffffu);
    return __half2float(__ushort_as_half(bits));
}

template <typename T> inline T lane_value(const unsigned char (*all)[emu::SLOT], int lane)
{
    T v;
    memcpy(&v, all[lane], sizeof v);
    return v;
}

} // namespace emu_detail

// Four 8x8 fp16 matrices from (emulated) shared memory.
inline void ldsm_x4(uint32_t (&r)[4], const void *row)
{
    unsigned char all[32][emu::SLOT];
    emu::warp_gather(&row, sizeof row, all);
    const int lane = emu::here().lane(), g = lane >> 2, t = lane & 3;
    for (int j = 0; j < 4; j++) {
        const unsigned char *base = emu_detail::lane_value<const unsigned char *>(all, 8 * j + g);
        memcpy(&r[j], base + 4 * t, 4);
    }
}

// d += a b (16x8x16), fp16 products summed in fp32.
inline void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1)
{
    struct regs {
        uint32_t a[4], b0, b1;
    } mine = {{a[0], a[1], a[2], a[3]}, b0, b1};
    unsigned char all[32][emu::SLOT];
    emu::warp_gather(&mine, sizeof mine, all);
    // A[m][k] and B[k][n] from the lanes that hold them.
    auto A = [&](int m, int k) {
        const regs r = emu_detail::lane_value<regs>(all, 4 * (m % 8) + (k % 8) / 2);
        return emu_detail::half_of(r.a[(m >= 8) + 2 * (k >= 8)], k % 2);
    };
    auto B = [&](int k, int n) {
        const regs r = emu_detail::lane_value<regs>(all, 4 * n + (k % 8) / 2);
        return emu_detail::half_of(k < 8 ? r.b0 : r.b1, k % 2);
    };
    const int lane = emu::here().lane(), g = lane >> 2, t = lane & 3;
    for (int e = 0; e < 4; e++) {
        const int m = g + 8 * (e >> 1), n = 2 * t + (e & 1);
        float acc = 0.0f;
        for (int k = 0; k < 16; k++) acc += A(m, k) * B(k, n);
        d[e] += acc;
    }
}

// The transpose of an 8x8 fp16 matrix held one register a lane.
inline uint32_t trans(uint32_t x)
{
    unsigned char all[32][emu::SLOT];
    emu::warp_gather(&x, sizeof x, all);
    const int lane = emu::here().lane(), g = lane >> 2, t = lane & 3;
    // (M^T)[g][c] = M[c][g], held by lane 4 c + g / 2, half g % 2.
    auto at = [&](int c) {
        const uint32_t reg = emu_detail::lane_value<uint32_t>(all, 4 * c + g / 2);
        return (uint32_t)(g % 2 ? reg >> 16 : reg & 0xffffu);
    };
    return at(2 * t) | (at(2 * t + 1) << 16);
}

} // namespace mma
