// The SAGA summary's split-N partial sums on tensor cores, for the deep
// levels' fp16 maps: S_head += phi_k v^T and z_head += phi_k over a chunk of
// pixels, each 16 pixels one k-step of mma.sync m16n8k16 (fp16 operands as
// the maps hold them, fp32 accumulation), z from one more product against a
// column of ones. Same partial layout as kernels.cu's saga_partial_kernel
// (d*d then d floats per block and head), so k_saga_reduce finishes both.
#pragma once
#include <cstddef>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

// True for the head widths it takes (16, 32) on a device with mma.sync m16n8k16.
bool mma_saga_supported(int d);

// partial[(p * heads + head) * (d*d + d) ...] for p < parts, chunk pixels
// each (a multiple of 16). k, v: (heads * d, n) fp16. False where
// mma_saga_supported says no.
bool mma_saga_partial(cudaStream_t s, const __half *k, const __half *v, int d, int heads, size_t n, size_t chunk,
                      int parts, float *partial);
