// The storage of the maps between steps: fp32 in the fp32 precision, fp16 in
// the fp16 precision (half the memory and traffic). Kernels that read or
// write maps are templated on the storage type and go through these two
// functions; their arithmetic is fp32 either way.
#pragma once
#include <cuda_fp16.h>

__device__ __forceinline__ float load(const float *p) { return *p; }
__device__ __forceinline__ float load(const __half *p) { return __half2float(*p); }
__device__ __forceinline__ void store(float *p, float v) { *p = v; }
__device__ __forceinline__ void store(__half *p, float v) { *p = __float2half_rn(v); }
