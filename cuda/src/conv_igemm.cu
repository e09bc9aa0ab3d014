// The dense 3x3 convolutions as implicit GEMMs (see conv_igemm.cuh).
#include <cuda_fp16.h>

#include "conv_igemm.cuh"
#include "igemm_common.cuh"

namespace {

using namespace igemm;
using namespace tile;
using mma::mma16816;
using mma::pack;

constexpr int CHUNK = 32; // output channels a pass over a row (four n-tiles, 16 accumulators)

__host__ __device__ constexpr int round16(int v) { return (v + 15) / 16 * 16; }

// The halo of x's cin channels into A, zero-padded to CP channels, fp16;
// zeros outside the image.
template <int CP, typename TI>
__device__ void halo_in(const TI *x, int cin, size_t n, int h, int w, int x0, int y0, half *A)
{
    for (int pos = threadIdx.x; pos < HN; pos += NT) {
        int gy, gx;
        const bool in = halo_pixel(h, w, x0, y0, pos, &gy, &gx);
        const TI *p = x + (in ? (size_t)gy * w + gx : 0);
        uint4 *dst = reinterpret_cast<uint4 *>(A + (size_t)pos * geo<CP>::LDC);
#pragma unroll
        for (int c = 0; c < CP; c += 8) {
            float v[8];
#pragma unroll
            for (int i = 0; i < 8; i++) v[i] = in && c + i < cin ? load(&p[(size_t)(c + i) * n]) : 0.0f;
            dst[c / 8] = make_uint4(pack(v[0], v[1]), pack(v[2], v[3]), pack(v[4], v[5]), pack(v[6], v[7]));
        }
    }
}

// Stores value v of output channel c at pixel (py, px) of the h x w input grid.
template <typename TO>
__device__ __forceinline__ void put(TO *out, ig_conv_output how, int h, int w, int c, int py, int px, float v)
{
    const size_t n = (size_t)h * w;
    if (how == IG_CONV_PLAIN) {
        store(&out[(size_t)c * n + (size_t)py * w + px], v);
    } else if (how == IG_CONV_UNSHUFFLE) { // (cout, h, w) -> (4 cout, h / 2, w / 2)
        const int i = py & 1, j = px & 1;
        store(&out[(size_t)(4 * c + 2 * i + j) * (n / 4) + (size_t)(py / 2) * (w / 2) + px / 2], v);
    } else { // (cout, h, w) -> (cout / 4, 2h, 2w)
        const int i = (c >> 1) & 1, j = c & 1;
        store(&out[(size_t)(c / 4) * (4 * n) + (size_t)(2 * py + i) * (2 * w) + 2 * px + j], v);
    }
}

template <int CP, typename TI, typename TO>
__global__ void __launch_bounds__(NT) conv_ig_kernel(const TI *x, int cin, int h, int w, const float *wt, int cout,
                                                    ig_conv_output how, TO *out)
{
    extern __shared__ __align__(128) unsigned char smem[];
    constexpr int KS = geo<CP>::KS, LDK = geo<CP>::LDK;
    half *A = reinterpret_cast<half *>(smem), *B = reinterpret_cast<half *>(smem + geo<CP>::A_BYTES);
    const int rows = round16(cout);
    // B[o][tap CP + c] = w[o][c][tap]: the taps major, as the k-steps read A.
    for (int e = threadIdx.x; e < rows * geo<CP>::K; e += NT) {
        const int o = e / geo<CP>::K, k = e % geo<CP>::K, tap = k / CP, c = k % CP;
        B[(size_t)o * LDK + k] = __float2half(o < cout && c < cin ? wt[((size_t)o * cin + c) * 9 + tap] : 0.0f);
    }
    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const size_t n = (size_t)h * w;
    __syncthreads();
    for_each_tile_row(
        h, w, [&](int x0, int y0) { halo_in<CP>(x, cin, n, h, w, x0, y0, A); },
        [&](int x0, int y0, int r) {
            for (int n0 = 0; n0 < rows; n0 += CHUNK) {
                const bool two = n0 + 16 < rows; // the chunk's second pair of n-tiles exists
                float acc[4][4] = {};
#pragma unroll
                for (int ks = 0; ks < KS; ks++) {
                    uint32_t a[4], bb[4];
                    load_a<CP>(a, A, r, ks);
                    load_b2(bb, B, LDK, n0, 16 * ks);
                    mma16816(acc[0], a, bb[0], bb[1]);
                    mma16816(acc[1], a, bb[2], bb[3]);
                    if (two) {
                        load_b2(bb, B, LDK, n0 + 16, 16 * ks);
                        mma16816(acc[2], a, bb[0], bb[1]);
                        mma16816(acc[3], a, bb[2], bb[3]);
                    }
                }
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    const int px = x0 + g + 8 * e;
                    if (px >= w) continue;
#pragma unroll
                    for (int j = 0; j < 4; j++) {
                        const int c = n0 + 8 * j + 2 * t;
                        if (c < cout) put(out, how, h, w, c, y0 + r, px, acc[j][2 * e]);
                        if (c + 1 < cout) put(out, how, h, w, c + 1, y0 + r, px, acc[j][2 * e + 1]);
                    }
                }
            }
        });
}

template <int CP> size_t conv_bytes(int cout) { return geo<CP>::A_BYTES + aligned((size_t)round16(cout) * geo<CP>::LDK * 2); }

template <int CP, typename TI, typename TO>
bool launch(cudaStream_t s, const TI *x, int cin, int h, int w, const float *wt, int cout, ig_conv_output how, TO *out)
{
    const size_t bytes = conv_bytes<CP>(cout);
    if (!opt_in(conv_ig_kernel<CP, TI, TO>, bytes)) return false;
    conv_ig_kernel<CP, TI, TO><<<grid_for(conv_ig_kernel<CP, TI, TO>, bytes, tiles_of(h, w)), NT, bytes, s>>>(
        x, cin, h, w, wt, cout, how, out);
    return true;
}

} // namespace

size_t ig_conv_smem(int cin, int cout)
{
    if (cin < 1 || cin > 64 || cout < 1 || cout > 128) return 0;
    return cin <= 16 ? conv_bytes<16>(cout) : cin <= 32 ? conv_bytes<32>(cout) : conv_bytes<64>(cout);
}

bool ig_conv_supported(int cin, int cout)
{
    const size_t bytes = ig_conv_smem(cin, cout);
    return bytes && device_takes(bytes);
}

template <typename TI, typename TO>
bool ig_conv3x3(cudaStream_t s, const TI *x, int cin, int h, int w, const float *wt, int cout, ig_conv_output how,
                TO *out)
{
    if (cin < 1 || cin > 64 || cout < 1 || cout > 128) return false;
    if ((how == IG_CONV_UNSHUFFLE && ((h | w) & 1)) || (how == IG_CONV_SHUFFLE && cout % 4)) return false;
    if (cin <= 16) return launch<16>(s, x, cin, h, w, wt, cout, how, out);
    if (cin <= 32) return launch<32>(s, x, cin, h, w, wt, cout, how, out);
    return launch<64>(s, x, cin, h, w, wt, cout, how, out);
}

template bool ig_conv3x3(cudaStream_t, const float *, int, int, int, const float *, int, ig_conv_output, float *);
template bool ig_conv3x3(cudaStream_t, const __half *, int, int, int, const float *, int, ig_conv_output, __half *);
template bool ig_conv3x3(cudaStream_t, const float *, int, int, int, const float *, int, ig_conv_output, __half *);
template bool ig_conv3x3(cudaStream_t, const __half *, int, int, int, const float *, int, ig_conv_output, float *);
