// The SAGA apply of the deep levels on tensor cores (fp16 maps, heads of 16
// or 32 channels): o_n = (phi_q_n^T S) / (phi_q_n^T z + 1e-6) for every
// pixel n, as k_saga_apply computes it, with the sums on mma.sync m16n8k16.
// An 8-pixel step of a warp is one product per 16 output channels: A is
// S^T (outputs x inputs, held in registers for the whole kernel, with z as
// row 0 of one more A for the denominator), B is relu(q) at those pixels
// (inputs x pixels, read straight from the map), the accumulators are o's
// rows at those pixels, stored as pairs. S and z go to fp16 scaled by a
// power of two into [0.5, 1) (the ratio, and the 1e-6 scaled with it, are
// unchanged), as the implicit-GEMM block's apply does.
//
// Why: k_saga_apply does d FMAs and d shared loads per output (H200, C=128
// at 160^2: 12.8 us for 13 MB moved, ~4 us at bandwidth). Written without a
// GPU, checked on the CUDA emulator; opt-in (SAGALUX_CUDA_APPLY=mma,
// bench_block --variant half-apply[/16]) until measured.
#pragma once
#include <cstddef>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

// True for the head widths it takes (16, 32) on a device with mma.sync m16n8k16.
bool mma_apply_supported(int d);

// o (heads * d, n) from q (heads * d, n), S (heads x d x d) and z (heads x d),
// as k_saga_apply. False where mma_apply_supported says no.
bool mma_saga_apply(cudaStream_t s, const __half *q, int d, int heads, size_t n, const float *S, const float *z,
                    __half *o);
