/* The CPU fp32 layers of the SAGA U-Net (see docs/network.md).
 *
 * Every map is planar: channel c, pixel n = y*W + x lives at x[c*N + n].
 * Shapes are given as (C, N) or (C, H, W). Weights are PyTorch's layouts:
 * 1x1 conv (Cout, Cin), 3x3 conv (Cout, Cin, 3, 3), depthwise (C, 3, 3).
 * All work is split over the thread pool; results do not depend on the
 * thread count except for the order of long sums. */
#ifndef SX_LAYERS_H
#define SX_LAYERS_H

#include <stddef.h>

#include "threadpool.h"

/* y (Cout, N) = w (Cout, Cin) . x (Cin, N) + bias, plus y's old value when
 * accumulate (used for residual adds). bias may be NULL. */
void sx_conv1x1(sx_threadpool *tp, const float *x, int cin, size_t n, const float *w, const float *bias,
                int cout, float *y, int accumulate);

/* y (Cout, H, W) = 3x3 conv of x (Cin, H, W), zero padding, w (Cout, Cin, 3, 3).
 * Needs 9*Cin floats of thread scratch per pixel column (im2col panels). */
void sx_conv3x3(sx_threadpool *tp, const float *x, int cin, int h, int w, const float *weight,
                const float *bias, int cout, float *y);

/* x (C, H, W) <- depthwise 3x3 of x, zero padding, weight (C, 3, 3), in place
 * (two saved rows per channel instead of a second map). bias may be NULL. */
void sx_dwconv3x3_inplace(sx_threadpool *tp, float *x, int c, int h, int w, const float *weight,
                          const float *bias);

/* y (C, N) = LayerNorm over the C values of each pixel, eps 1e-5. */
void sx_layernorm(sx_threadpool *tp, const float *x, int c, size_t n, const float *weight,
                  const float *bias, float *y);

/* SAGA attention core. t (5C, N) holds q, k, v, gk, gv after the depthwise
 * conv; t is overwritten (feature maps, gates). o (C, N) receives
 * o_n = (phi_q_n^T S) / (phi_q_n^T z + 1e-6) per head; o may alias
 * t + 3*C*N (the gk slot). */
void sx_saga_attention(sx_threadpool *tp, float *t, int c, int heads, size_t n, float *o);

/* Dual-gated FFN gate: t (2*hid, N) -> t[0 .. hid*N) = gelu(t2)*t1 + gelu(t1)*t2. */
void sx_dual_gate(sx_threadpool *tp, float *t, int hid, size_t n);

/* Fuse's channel mixing. t (9C, N) holds q, k, v (3C each); each of q, k, v
 * is 3 rows of C*N values. Rows of q and k are L2-normalised, A =
 * softmax_row(q k^T * tau) (3x3), and o (3C, N) = A v. o may alias t. */
void sx_fuse_mix(sx_threadpool *tp, float *t, int c, size_t n, float tau, float *o);

/* y (C, N) = alpha (C) * a + beta (C) * b, per channel. */
void sx_weighted_sum(sx_threadpool *tp, const float *a, const float *alpha, const float *b,
                     const float *beta, int c, size_t n, float *y);

/* (C, H, W) -> (4C, H/2, W/2): y[4c + 2i + j, yy, xx] = x[c, 2yy + i, 2xx + j]. */
void sx_pixel_unshuffle(sx_threadpool *tp, const float *x, int c, int h, int w, float *y);

/* (4C, H, W) -> (C, 2H, 2W), the inverse of pixel_unshuffle. */
void sx_pixel_shuffle(sx_threadpool *tp, const float *x, int c4, int h, int w, float *y);

/* x (C, H, W) <- Block(x) in place (docs/network.md): x += Attn(LN1(x));
 * x += FFN(LN2(x)). ln: C*N floats, t: max(5C, 2 hid)*N floats of scratch. */
struct sx_block;
void sx_block_forward(sx_threadpool *tp, const struct sx_block *b, float *x, int h, int w, float *ln, float *t);

/* out (C, H, W) = Fuse(x), x (3C, H, W) the three maps stacked; t (9C, N) of scratch. */
struct sx_fuse;
void sx_fuse_forward(sx_threadpool *tp, const struct sx_fuse *fu, const float *x, int h, int w, float *out, float *t);

/* Thread scratch (floats) the layers need for maps up to max_channels wide
 * and max_width pixels across. */
size_t sx_layers_scratch_floats(int max_channels, int max_width);

#endif
