/* The forward pass of the SAGA U-Net (docs/network.md, "The network").
 *
 * Every map is taken from the buffer pool when it is born and given back after
 * its last reader, so peak memory is set by the widest moment of the graph
 * (the Fuse at full resolution: 3 inputs + 9C of q,k,v + its output), not by
 * the number of layers. */
#include <string.h>

#include "layers.h"
#include "network.h"

typedef struct fwd {
    const sagalux_model *m;
    sx_threadpool *tp;
    sx_bufpool *bp;
    int failed;
} fwd;

static float *take(fwd *f, size_t floats)
{
    float *p = sx_buf_get(f->bp, floats);
    if (!p) f->failed = 1;
    return p;
}

static void give(fwd *f, float *p) { sx_buf_put(f->bp, p); }

/* x (C, H, W) <- Block(x), in place:
 *   x += Attn(LN1(x));  x += FFN(LN2(x)) */
static void run_block(fwd *f, const sx_block *b, float *x, int h, int w, float *ln, float *t)
{
    size_t n = (size_t)h * w;
    int c = b->c;
    sx_layernorm(f->tp, x, c, n, b->norm1_w, b->norm1_b, ln);
    sx_conv1x1(f->tp, ln, c, n, b->qkv, NULL, 5 * c, t, 0);           /* (5C, N) */
    sx_dwconv3x3_inplace(f->tp, t, 5 * c, h, w, b->qkv_dw, NULL);
    float *o = t + 3 * (size_t)c * n;                                 /* the gk slot */
    sx_saga_attention(f->tp, t, c, b->heads, n, o);                   /* (C, N) */
    sx_conv1x1(f->tp, o, c, n, b->proj, NULL, c, x, 1);               /* x += proj(o) */

    sx_layernorm(f->tp, x, c, n, b->norm2_w, b->norm2_b, ln);
    sx_conv1x1(f->tp, ln, c, n, b->pw_in, NULL, 2 * b->hid, t, 0);     /* (2hid, N) */
    sx_dwconv3x3_inplace(f->tp, t, 2 * b->hid, h, w, b->dw, NULL);
    sx_dual_gate(f->tp, t, b->hid, n);                                /* (hid, N) */
    sx_conv1x1(f->tp, t, b->hid, n, b->pw_out, NULL, c, x, 1);         /* x += pw_out(u) */
}

/* x (C, H, W) <- Blocks_k(x), in place. */
static void run_stage(fwd *f, const sx_stage *s, float *x, int h, int w)
{
    if (s->count == 0 || f->failed) return;
    int c = s->blocks[0].c;
    size_t n = (size_t)h * w, wide = 5 * (size_t)c;
    if (2 * (size_t)s->blocks[0].hid > wide) wide = 2 * (size_t)s->blocks[0].hid;
    float *ln = take(f, (size_t)c * n), *t = take(f, wide * n);
    if (ln && t)
        for (int i = 0; i < s->count; i++) run_block(f, &s->blocks[i], x, h, w, ln, t);
    give(f, ln);
    give(f, t);
}

/* out (C, H, W) = Fuse(x), x (3C, H, W) the three maps stacked. */
static void run_fuse(fwd *f, const sx_fuse *fu, const float *x, int h, int w, float *out)
{
    if (f->failed) return;
    int c = fu->c;
    size_t n = (size_t)h * w, cn = (size_t)c * n;
    float *t = take(f, 9 * cn);
    if (!t) return;
    sx_conv1x1(f->tp, x, 3 * c, n, fu->qkv_w, fu->qkv_b, 9 * c, t, 0);  /* (9C, N) */
    sx_dwconv3x3_inplace(f->tp, t, 9 * c, h, w, fu->dw_w, fu->dw_b);
    sx_fuse_mix(f->tp, t, c, n, fu->tau, t);                          /* o = A v into the q slot */
    float *p = t + 3 * cn;                                            /* the k slot */
    memcpy(p, x, 3 * cn * sizeof(float));
    sx_conv1x1(f->tp, t, 3 * c, n, fu->proj_w, fu->proj_b, 3 * c, p, 1); /* p = proj(o) + x */
    sx_conv1x1(f->tp, p, 3 * c, n, fu->out_w, NULL, c, out, 0);
    give(f, t);
}

/* Returns Down(C)(x): (C, H, W) -> (2C, H/2, W/2), a new buffer. */
static float *run_down(fwd *f, const float *weight, const float *x, int c, int h, int w)
{
    size_t n = (size_t)h * w;
    float *t = take(f, (size_t)(c / 2) * n), *y = take(f, 2 * (size_t)c * n / 4);
    if (t && y) {
        sx_conv3x3(f->tp, x, c, h, w, weight, NULL, c / 2, t);
        sx_pixel_unshuffle(f->tp, t, c / 2, h, w, y);
    }
    give(f, t);
    return y;
}

/* Returns Up(C)(x): (C, H, W) -> (C/2, 2H, 2W), a new buffer. */
static float *run_up(fwd *f, const float *weight, const float *x, int c, int h, int w)
{
    size_t n = (size_t)h * w;
    float *t = take(f, 2 * (size_t)c * n), *y = take(f, 2 * (size_t)c * n);
    if (t && y) {
        sx_conv3x3(f->tp, x, c, h, w, weight, NULL, 2 * c, t);
        sx_pixel_shuffle(f->tp, t, 2 * c, h, w, y);
    }
    give(f, t);
    return y;
}

/* Returns Skip(C)(a, b) = 1x1(alpha*a + beta*b), a new buffer. */
static float *run_skip(fwd *f, const sx_skip *s, const float *a, const float *b, size_t n)
{
    float *m = take(f, (size_t)s->c * n), *y = take(f, (size_t)s->c * n);
    if (m && y) {
        sx_weighted_sum(f->tp, a, s->alpha, b, s->beta, s->c, n, m);
        sx_conv1x1(f->tp, m, s->c, n, s->conv, NULL, s->c, y, 0);
    }
    give(f, m);
    return y;
}

/* Runs three stages in sequence into the three slots of x3 (3C, N):
 * slot i = stage_i(slot i-1), slot 0 already holding stage_0's input. */
static void run_three(fwd *f, const sx_stage st[3], float *x3, int c, int h, int w)
{
    size_t cn = (size_t)c * h * w;
    for (int i = 0; i < 3; i++) {
        if (i > 0) memcpy(x3 + i * cn, x3 + (i - 1) * cn, cn * sizeof(float));
        run_stage(f, &st[i], x3 + i * cn, h, w);
    }
}

#define TAP(name, map, c, h, w) \
    do { if (tap && !f.failed) tap(tap_user, name, map, c, h, w); } while (0)

sagalux_status sx_network_forward(const sagalux_model *m, sx_threadpool *tp, sx_bufpool *bp, const float *in,
                                  int h, int w, float *out, sx_tap_fn tap, void *tap_user)
{
    if (h <= 0 || w <= 0 || h % 16 || w % 16) return SAGALUX_ERR_INVALID_ARGUMENT;
    fwd f = {m, tp, bp, 0};
    sx_bufpool_recycle(bp); /* a failed earlier pass may have left buffers marked in use */
    const int d0 = m->cfg.dim;
    int hl[SX_LEVELS], wl[SX_LEVELS];
    size_t nl[SX_LEVELS];
    for (int l = 0; l < SX_LEVELS; l++) {
        hl[l] = h >> l;
        wl[l] = w >> l;
        nl[l] = (size_t)hl[l] * wl[l];
    }

    /* F1, F2, F3 = Blocks_b0 chain from e = 3x3(3->d0)(I); F = Fuse(F1, F2, F3). */
    float *f3 = take(&f, 3 * (size_t)d0 * nl[0]);
    if (f3) sx_conv3x3(tp, in, 3, h, w, m->embed, NULL, d0, f3);
    if (f3) run_three(&f, m->feat, f3, d0, h, w);
    float *fm = take(&f, (size_t)d0 * nl[0]);
    if (fm) run_fuse(&f, &m->fuse_in, f3, h, w, fm);
    give(&f, f3);
    TAP("F", fm, d0, h, w);

    /* L = Blocks_b0(F), kept for the refinement. */
    float *lat = take(&f, (size_t)d0 * nl[0]);
    if (lat && fm) memcpy(lat, fm, (size_t)d0 * nl[0] * sizeof(float));
    run_stage(&f, &m->latent, lat, h, w);

    /* Encoder: X_l = Blocks(Down(prev)). */
    float *x[4] = {0};
    const float *prev = fm;
    for (int l = 0; l < 4; l++) {
        if (f.failed) break;
        x[l] = run_down(&f, m->down[l], prev, d0 << l, hl[l], wl[l]);
        if (l == 0) give(&f, fm);
        run_stage(&f, &m->enc[l], x[l], hl[l + 1], wl[l + 1]);
        static const char *const names[4] = {"X0", "X1", "X2", "X3"};
        TAP(names[l], x[l], d0 << (l + 1), hl[l + 1], wl[l + 1]);
        prev = x[l];
    }

    /* Decoder: Y_l = Blocks(Skip(X_l, Up(deeper))). */
    float *deep = x[3];
    for (int l = 2; l >= 0 && !f.failed; l--) {
        int c = d0 << (l + 1); /* the skip's width */
        float *u = run_up(&f, m->up[l + 1], deep, 2 * c, hl[l + 2], wl[l + 2]);
        give(&f, deep);
        deep = u ? run_skip(&f, &m->skip[l], x[l], u, nl[l + 1]) : NULL;
        give(&f, u);
        if (l > 0) give(&f, x[l]);
        if (!deep) break;
        run_stage(&f, &m->dec[l], deep, hl[l + 1], wl[l + 1]);
        static const char *const names[3] = {"Y0", "Y1", "Y2"};
        TAP(names[l], deep, c, hl[l + 1], wl[l + 1]);
    }
    give(&f, x[0]);

    /* Refinement: R0 = alpha*L + beta*Up(Y0); R1..R3 chained; O = 3x3(Fuse(R1, R2, R3)). */
    float *r3 = NULL;
    if (!f.failed) {
        float *u = run_up(&f, m->up[0], deep, 2 * d0, hl[1], wl[1]);
        give(&f, deep);
        deep = NULL;
        r3 = take(&f, 3 * (size_t)d0 * nl[0]);
        if (u && r3) {
            sx_weighted_sum(tp, lat, m->mix_alpha, u, m->mix_beta, d0, nl[0], r3);
            /* R1 = Blocks(R0) lands in slot 0, R2 in slot 1, R3 in slot 2. */
            run_three(&f, m->ref, r3, d0, h, w);
        }
        give(&f, u);
    }
    give(&f, deep);
    give(&f, lat);
    if (r3) TAP("R3", r3 + 2 * (size_t)d0 * nl[0], d0, h, w);
    float *fo = r3 ? take(&f, (size_t)d0 * nl[0]) : NULL;
    if (fo) {
        run_fuse(&f, &m->fuse_out, r3, h, w, fo);
        if (!f.failed) sx_conv3x3(tp, fo, d0, h, w, m->out, NULL, 3, out);
    }
    give(&f, r3);
    give(&f, fo);
    if (f.failed) return SAGALUX_ERR_OUT_OF_MEMORY;
    TAP("O", out, 3, h, w);
    return SAGALUX_OK;
}
