/* The SAGA U-Net's weights, bound from a model file (model.c). Tensor names
 * and shapes follow train/model.py's state dict exactly; the wiring of the
 * forward pass is plan.c's, run by each backend. */
#ifndef SX_NETWORK_H
#define SX_NETWORK_H

#include <stddef.h>

#include "sagalux.h"

enum { SX_LEVELS = 5 }; /* channel widths d0, 2d0, 4d0, 8d0, 16d0 */

typedef struct sx_block {
    int c, heads, hid;
    const float *norm1_w, *norm1_b;
    const float *qkv;     /* (5C, C) */
    const float *qkv_dw;  /* (5C, 3, 3) */
    const float *proj;    /* (C, C) */
    const float *norm2_w, *norm2_b;
    const float *pw_in;   /* (2*hid, C) */
    const float *dw;      /* (2*hid, 3, 3) */
    const float *pw_out;  /* (C, hid) */
} sx_block;

typedef struct sx_stage {
    int count;
    sx_block *blocks;
} sx_stage;

typedef struct sx_fuse {
    int c;
    float tau;
    const float *qkv_w, *qkv_b;   /* (9C, 3C), (9C) */
    const float *dw_w, *dw_b;     /* (9C, 3, 3), (9C) */
    const float *proj_w, *proj_b; /* (3C, 3C), (3C) */
    const float *out_w;           /* (C, 3C) */
} sx_fuse;

typedef struct sx_skip {
    int c;
    const float *alpha, *beta, *conv; /* (C), (C), (C, C) */
} sx_skip;

struct sagalux_model {
    sagalux_config cfg;
    int trained;           /* the file's "trained" key; 1 when absent */
    char description[256];
    float *arena;          /* every weight, fp32 */
    size_t params;
    sx_block *block_store; /* every block of every stage */
    const float *embed;    /* (d0, 3, 3, 3) */
    const float *out;      /* (3, d0, 3, 3) */
    sx_stage feat[3];      /* F1, F2, F3 */
    sx_fuse fuse_in;
    const float *down[4];  /* down[l]: Down(d0<<l), (C/2, C, 3, 3) */
    sx_stage enc[4];       /* X0..X3 */
    const float *up[4];    /* up[l]: Up(2d0<<l), (2C, C, 3, 3) */
    sx_skip skip[3];       /* skip[l] at 2d0<<l */
    sx_stage dec[3];       /* Y0..Y2 */
    sx_stage latent;       /* L */
    const float *mix_alpha, *mix_beta; /* (d0) */
    sx_stage ref[3];       /* R1..R3 */
    sx_fuse fuse_out;
};

struct sglx_file;
/* Builds a model from an opened container (sagalux_model_load = sglx_open + this). */
sagalux_status sx_model_from_file(const struct sglx_file *f, sagalux_model **out, char *err, size_t err_size);

/* Heads used at channel level l (0..4): heads[min(l, 3)]. */
int sx_level_heads(const sagalux_config *cfg, int level);
/* Hidden width of the FFN at C channels: floor(C * ffn). */
int sx_ffn_hidden(const sagalux_config *cfg, int c);

/* Largest channel count any layer sees (sizes the thread scratch). */
int sx_network_max_channels(const sagalux_config *cfg);

#endif
