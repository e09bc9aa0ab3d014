// The dense 3x3 convolutions around the U (the embedding, Down, Up, the
// output) as implicit GEMMs on tensor cores: K = 9 taps x Cin (padded to 16,
// 32 or 64) read from the tile's halo in shared memory (igemm_common.cuh),
// Cout in chunks of 32, fp16 operands and fp32 accumulation; the pixel
// (un)shuffle of Down and Up is where each output is stored, so no Cout x N
// map is ever whole. The fp16 precision runs every 3x3 these widths take
// (cuda_backend.cu, conv_path_of); cuda/bench_conv checks and times them.
#pragma once
#include <cstddef>
#include <cuda_runtime.h>

// Where output channel c of the convolution at (y, x) goes: as is; Down's
// PixelUnshuffle(2) (channel 4c + 2i + j at (y / 2, x / 2)); Up's
// PixelShuffle(2) (channel c / 4 at (2y + i, 2x + j), i j = c % 4).
enum ig_conv_output { IG_CONV_PLAIN, IG_CONV_UNSHUFFLE, IG_CONV_SHUFFLE };

// Shared memory a block takes for these widths; 0 where the kernel does not
// take them (Cin <= 64, Cout <= 128). Host arithmetic only: no device asked.
size_t ig_conv_smem(int cin, int cout);
// True when the kernel takes the shape on this device (sm_80, its shared memory).
bool ig_conv_supported(int cin, int cout);

// out = 3x3 conv of x (Cin, H, W; zero padding, no bias), w (Cout, Cin, 3, 3)
// fp32, stored as `how` says. TI, TO: float or __half (map_io.cuh). False on
// a launch-configuration error.
template <typename TI, typename TO>
bool ig_conv3x3(cudaStream_t s, const TI *x, int cin, int h, int w, const float *wt, int cout, ig_conv_output how,
                TO *out);
