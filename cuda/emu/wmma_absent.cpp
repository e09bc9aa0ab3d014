// The WMMA kernels (block_tc.cu, fuse_tc.cu) on the CUDA emulator: not
// emulated (WMMA's fragment layouts are opaque by design), so they say no
// to every shape and their callers take the next kernels down, as on a
// device without tensor cores. The mma.sync kernels that replaced them as
// the defaults are emulated (emu_mma.h).
#include "block_tc.cuh"
#include "fuse_tc.cuh"

bool tc_block_supported(int, int, int) { return false; }
bool tc_fuse_supported(int) { return false; }

template <typename M>
bool tc_block_summary(cudaStream_t, const gpu_block_weights &, const M *, int, int, float *, int, int *)
{
    return false;
}
template <typename M> bool tc_block_ffn(cudaStream_t, const gpu_block_weights &, const M *, int, int, M *) { return false; }
template <typename M>
bool tc_fuse_sums(cudaStream_t, const gpu_fuse_weights &, const M *, int, int, double *, int, int *)
{
    return false;
}
template <typename M>
bool tc_fuse_apply(cudaStream_t, const gpu_fuse_weights &, const M *, int, int, const float *, M *)
{
    return false;
}

template bool tc_block_summary(cudaStream_t, const gpu_block_weights &, const float *, int, int, float *, int, int *);
template bool tc_block_summary(cudaStream_t, const gpu_block_weights &, const __half *, int, int, float *, int, int *);
template bool tc_block_ffn(cudaStream_t, const gpu_block_weights &, const float *, int, int, float *);
template bool tc_block_ffn(cudaStream_t, const gpu_block_weights &, const __half *, int, int, __half *);
template bool tc_fuse_sums(cudaStream_t, const gpu_fuse_weights &, const float *, int, int, double *, int, int *);
template bool tc_fuse_sums(cudaStream_t, const gpu_fuse_weights &, const __half *, int, int, double *, int, int *);
template bool tc_fuse_apply(cudaStream_t, const gpu_fuse_weights &, const float *, int, int, const float *, float *);
template bool tc_fuse_apply(cudaStream_t, const gpu_fuse_weights &, const __half *, int, int, const float *, __half *);
