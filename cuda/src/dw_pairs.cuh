// The deep levels' depthwise 3x3 + gates (fp16 maps) two pixels a thread:
// the same results as k_attn_dw_gate and k_ffn_dw_gate (kernels.cuh), for
// maps of even width, where every pair of columns (2j, 2j + 1) is one
// aligned half2 in device memory.
//
// Why: ncu on the one-column kernels (H200, C=128 at 160^2) found them
// issue-bound at ~135 instructions an output value, and their SASS spends
// ~40 of them on loading the halo (a 64-bit address, four bounds checks and
// one scalar fp16 load a value, for the 1156 halo positions of a 32 x 32
// tile), ~14 on shared loads (18 a map for four outputs). Here a halo load
// brings two values (half the loads and index arithmetic, 612 pairs a tile),
// and a thread's 2 x 4 outputs read their 6 x 4 window as three float2 a row
// (18 shared loads a map for eight outputs). What is left is the arithmetic
// itself: nine fp32 FMAs a map and output, and the gates.
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>

// True when the pair kernels take an h x w map: even width, and a plane's
// offsets fit an int.
bool dw_pairs_supported(int h, int w);

// As k_attn_dw_gate: t (5C: q k v gk gv, H, W) -> u (3C) = q, relu(k)
// sigmoid(gk), v sigmoid(gv), the depthwise 3x3 wt (5C, 3, 3) of each first.
void k_attn_dw_gate_pairs(cudaStream_t s, const __half *t, int c, int h, int w, const float *wt, __half *u);

// As k_ffn_dw_gate: t (2 hid, H, W) -> u (hid) = gelu(b) a + gelu(a) b, a and
// b the depthwise 3x3 wt (2 hid, 3, 3) of the two halves.
void k_ffn_dw_gate_pairs(cudaStream_t s, const __half *t, int hid, int h, int w, const float *wt, __half *u);
