/* CPU fp32 layers. Matrix products go through sx_sgemm (OpenBLAS, single-
 * threaded per call, or the built-in kernel); this file splits the work over
 * our own pool so the two never fight over the cores. */
#include "layers.h"

#include <math.h>
#include <string.h>

#include "gemm.h"
#include "network.h"

/* Pixels per work unit: large enough for a good sgemm panel, small enough
 * that every thread gets work on the coarsest level. */
enum { PIXEL_GRAIN = 64 };

size_t sx_layers_scratch_floats(int max_channels, int max_width)
{
    size_t need = (size_t)1 << 20;                                      /* im2col panels */
    size_t im2col = (size_t)9 * (size_t)max_channels * 64;              /* >= 64 pixels */
    size_t attn = (size_t)max_channels * (size_t)max_channels + (size_t)max_channels + 4096;
    size_t rows = 3 * ((size_t)max_width + 2);                          /* depthwise rows */
    if (im2col > need) need = im2col;
    if (attn > need) need = attn;
    if (rows > need) need = rows;
    return need;
}

/* ------------------------------------------------------------ 1x1 conv */

typedef struct {
    const float *x, *w, *bias;
    float *y;
    int cin, cout, accumulate;
    size_t n;
} conv1x1_job;

static void conv1x1_range(void *arg, size_t b, size_t e, int thread)
{
    (void)thread;
    const conv1x1_job *j = arg;
    int len = (int)(e - b);
    if (j->bias) {
        for (int o = 0; o < j->cout; o++) {
            float *row = j->y + (size_t)o * j->n + b;
            float bv = j->bias[o];
            if (j->accumulate)
                for (int p = 0; p < len; p++) row[p] += bv;
            else
                for (int p = 0; p < len; p++) row[p] = bv;
        }
    }
    float beta = (j->bias || j->accumulate) ? 1.0f : 0.0f;
    sx_sgemm(0, 0, j->cout, len, j->cin, 1.0f, j->w, j->cin,
                j->x + b, (int)j->n, beta, j->y + b, (int)j->n);
}

void sx_conv1x1(sx_threadpool *tp, const float *x, int cin, size_t n, const float *w, const float *bias,
                int cout, float *y, int accumulate)
{
    conv1x1_job j = {x, w, bias, y, cin, cout, accumulate, n};
    sx_parallel_for(tp, n, PIXEL_GRAIN, conv1x1_range, &j);
}

/* ------------------------------------------------------------ 3x3 conv */

typedef struct {
    sx_threadpool *tp;
    const float *x, *w, *bias;
    float *y;
    int cin, cout, h, width;
} conv3x3_job;

/* Builds the (9*Cin, P) im2col panel for pixels [n0, n0 + P). Row index is
 * ci*9 + ky*3 + kx, matching the weight layout (Cout, Cin, 3, 3). */
static void im2col_panel(const conv3x3_job *j, size_t n0, int p_count, float *panel)
{
    size_t plane = (size_t)j->h * j->width;
    for (int ci = 0; ci < j->cin; ci++) {
        const float *src = j->x + (size_t)ci * plane;
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                float *dst = panel + ((size_t)ci * 9 + ky * 3 + kx) * p_count;
                int yy = (int)(n0 / j->width), xx = (int)(n0 % j->width);
                for (int p = 0; p < p_count; p++) {
                    int sy = yy + ky - 1, sx = xx + kx - 1;
                    dst[p] = (sy >= 0 && sy < j->h && sx >= 0 && sx < j->width)
                                 ? src[(size_t)sy * j->width + sx]
                                 : 0.0f;
                    if (++xx == j->width) { xx = 0; yy++; }
                }
            }
    }
}

static void conv3x3_range(void *arg, size_t b, size_t e, int thread)
{
    const conv3x3_job *j = arg;
    float *panel = sx_threadpool_scratch(j->tp, thread);
    size_t per_pixel = (size_t)9 * j->cin;
    size_t chunk = sx_threadpool_scratch_floats(j->tp) / per_pixel;
    size_t n = (size_t)j->h * j->width;
    for (size_t n0 = b; n0 < e; n0 += chunk) {
        int len = (int)((e - n0) < chunk ? (e - n0) : chunk);
        im2col_panel(j, n0, len, panel);
        if (j->bias)
            for (int o = 0; o < j->cout; o++)
                for (int p = 0; p < len; p++) j->y[(size_t)o * n + n0 + p] = j->bias[o];
        sx_sgemm(0, 0, j->cout, len, (int)per_pixel, 1.0f, j->w,
                    (int)per_pixel, panel, len, j->bias ? 1.0f : 0.0f, j->y + n0, (int)n);
    }
}

void sx_conv3x3(sx_threadpool *tp, const float *x, int cin, int h, int w, const float *weight,
                const float *bias, int cout, float *y)
{
    conv3x3_job j = {tp, x, weight, bias, y, cin, cout, h, w};
    sx_parallel_for(tp, (size_t)h * w, PIXEL_GRAIN, conv3x3_range, &j);
}

/* ------------------------------------------------------ depthwise 3x3 */

typedef struct {
    sx_threadpool *tp;
    float *x;
    const float *w, *bias;
    int h, width;
} dw_job;

/* One channel in place. Rows are copied into a zero-bordered ring of three
 * (above, current, below) before the current row is overwritten. */
static void dw_channel(const dw_job *j, float *plane, const float *k, float bias, float *rows)
{
    int w = j->width;
    size_t stride = (size_t)w + 2;
    float *ring[3] = {rows, rows + stride, rows + 2 * stride};
    for (int r = 0; r < 3; r++) ring[r][0] = ring[r][w + 1] = 0.0f;
    memset(ring[0], 0, stride * sizeof(float)); /* the row above row 0 */
    memcpy(ring[1] + 1, plane, (size_t)w * sizeof(float));
    for (int y = 0; y < j->h; y++) {
        float *above = ring[0], *mid = ring[1], *below = ring[2];
        if (y + 1 < j->h)
            memcpy(below + 1, plane + (size_t)(y + 1) * w, (size_t)w * sizeof(float));
        else
            memset(below, 0, stride * sizeof(float));
        float *out = plane + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            out[x] = bias + k[0] * above[x] + k[1] * above[x + 1] + k[2] * above[x + 2] + k[3] * mid[x] +
                     k[4] * mid[x + 1] + k[5] * mid[x + 2] + k[6] * below[x] + k[7] * below[x + 1] +
                     k[8] * below[x + 2];
        }
        ring[0] = mid;
        ring[1] = below;
        ring[2] = above;
    }
}

static void dw_range(void *arg, size_t b, size_t e, int thread)
{
    const dw_job *j = arg;
    float *rows = sx_threadpool_scratch(j->tp, thread);
    size_t plane = (size_t)j->h * j->width;
    for (size_t c = b; c < e; c++)
        dw_channel(j, j->x + c * plane, j->w + c * 9, j->bias ? j->bias[c] : 0.0f, rows);
}

void sx_dwconv3x3_inplace(sx_threadpool *tp, float *x, int c, int h, int w, const float *weight,
                          const float *bias)
{
    dw_job j = {tp, x, weight, bias, h, w};
    sx_parallel_for(tp, (size_t)c, 1, dw_range, &j);
}

/* ----------------------------------------------------------- layernorm */

typedef struct {
    sx_threadpool *tp;
    const float *x, *w, *b;
    float *y;
    int c;
    size_t n;
} ln_job;

enum { LN_TILE = 256 };

/* Pixels are handled in tiles so each channel row is read contiguously. */
static void ln_range(void *arg, size_t b, size_t e, int thread)
{
    const ln_job *j = arg;
    float *mean = sx_threadpool_scratch(j->tp, thread), *rstd = mean + LN_TILE;
    for (size_t n0 = b; n0 < e; n0 += LN_TILE) {
        int len = (int)((e - n0) < LN_TILE ? (e - n0) : LN_TILE);
        for (int p = 0; p < len; p++) mean[p] = rstd[p] = 0.0f;
        for (int c = 0; c < j->c; c++) {
            const float *row = j->x + (size_t)c * j->n + n0;
            for (int p = 0; p < len; p++) mean[p] += row[p];
        }
        for (int p = 0; p < len; p++) mean[p] /= (float)j->c;
        for (int c = 0; c < j->c; c++) {
            const float *row = j->x + (size_t)c * j->n + n0;
            for (int p = 0; p < len; p++) {
                float d = row[p] - mean[p];
                rstd[p] += d * d;
            }
        }
        for (int p = 0; p < len; p++) rstd[p] = 1.0f / sqrtf(rstd[p] / (float)j->c + 1e-5f);
        for (int c = 0; c < j->c; c++) {
            const float *row = j->x + (size_t)c * j->n + n0;
            float *out = j->y + (size_t)c * j->n + n0;
            float wc = j->w[c], bc = j->b[c];
            for (int p = 0; p < len; p++) out[p] = (row[p] - mean[p]) * rstd[p] * wc + bc;
        }
    }
}

void sx_layernorm(sx_threadpool *tp, const float *x, int c, size_t n, const float *weight,
                  const float *bias, float *y)
{
    ln_job j = {tp, x, weight, bias, y, c, n};
    sx_parallel_for(tp, n, LN_TILE, ln_range, &j);
}

/* ------------------------------------------------------ SAGA attention */

static inline float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

typedef struct {
    sx_threadpool *tp;
    float *t, *o;
    int c, heads, d;
    size_t n;
    float *summary; /* per head: S (d x d) then z (d); heads*(d*d + d) floats */
} attn_job;

/* phi_q = relu(q); phi_k = relu(k) * sigmoid(gk); v~ = v * sigmoid(gv). */
static void attn_features(void *arg, size_t b, size_t e, int thread)
{
    (void)thread;
    const attn_job *j = arg;
    size_t n = j->n, cn = (size_t)j->c * n;
    for (size_t ch = b; ch < e; ch++) {
        float *q = j->t + ch * n, *k = q + cn, *v = k + cn, *gk = v + cn, *gv = gk + cn;
        for (size_t p = 0; p < n; p++) {
            q[p] = q[p] > 0.0f ? q[p] : 0.0f;
            k[p] = (k[p] > 0.0f ? k[p] : 0.0f) * sigmoidf(gk[p]);
            v[p] = v[p] * sigmoidf(gv[p]);
        }
    }
}

/* Each thread writes its partial S and z (sums over its pixels) into its scratch. */
static void attn_summary(void *arg, size_t b, size_t e, int thread)
{
    const attn_job *j = arg;
    float *part = sx_threadpool_scratch(j->tp, thread);
    int d = j->d, len = (int)(e - b);
    size_t n = j->n, cn = (size_t)j->c * n;
    for (int h = 0; h < j->heads; h++) {
        const float *k = j->t + cn + (size_t)h * d * n + b;
        const float *v = j->t + 2 * cn + (size_t)h * d * n + b;
        float *s = part + (size_t)h * (d * d + d), *z = s + d * d;
        sx_sgemm(0, 1, d, d, len, 1.0f, k, (int)n, v, (int)n, 0.0f, s,
                    d);
        for (int i = 0; i < d; i++) {
            const float *row = k + (size_t)i * n;
            float acc = 0.0f;
            for (int p = 0; p < len; p++) acc += row[p];
            z[i] = acc;
        }
    }
}

/* o = (S^T phi_q) / (z . phi_q + 1e-6), pixel by pixel. The first
 * heads*(d*d + d) floats of every scratch are reserved (thread 0's hold the
 * reduced summary); the denominator tile follows them. */
static void attn_output(void *arg, size_t b, size_t e, int thread)
{
    const attn_job *j = arg;
    int d = j->d;
    size_t reserved = (size_t)j->heads * (d * d + d);
    float *den = sx_threadpool_scratch(j->tp, thread) + reserved;
    size_t n = j->n, tile = sx_threadpool_scratch_floats(j->tp) - reserved;
    for (int h = 0; h < j->heads; h++) {
        const float *s = j->summary + (size_t)h * (d * d + d), *z = s + d * d;
        const float *q = j->t + (size_t)h * d * n;
        float *o = j->o + (size_t)h * d * n;
        for (size_t n0 = b; n0 < e; n0 += tile) {
            int len = (int)((e - n0) < tile ? (e - n0) : tile);
            sx_sgemm(1, 0, d, len, d, 1.0f, s, d, q + n0, (int)n, 0.0f,
                        o + n0, (int)n);
            for (int p = 0; p < len; p++) den[p] = 1e-6f;
            for (int i = 0; i < d; i++) {
                const float *row = q + (size_t)i * n + n0;
                for (int p = 0; p < len; p++) den[p] += z[i] * row[p];
            }
            for (int i = 0; i < d; i++) {
                float *row = o + (size_t)i * n + n0;
                for (int p = 0; p < len; p++) row[p] /= den[p];
            }
        }
    }
}

void sx_saga_attention(sx_threadpool *tp, float *t, int c, int heads, size_t n, float *o)
{
    int d = c / heads;
    size_t total = (size_t)heads * (d * d + d);
    int threads = sx_threadpool_threads(tp);
    attn_job j = {tp, t, o, c, heads, d, n, NULL};

    sx_parallel_for(tp, (size_t)c, 1, attn_features, &j);

    for (int th = 0; th < threads; th++) memset(sx_threadpool_scratch(tp, th), 0, total * sizeof(float));
    sx_parallel_for(tp, n, PIXEL_GRAIN, attn_summary, &j);

    /* Reduce the partials in thread order (deterministic for a thread count)
     * into thread 0's scratch, then take the mean over the N pixels. */
    float *summary = sx_threadpool_scratch(tp, 0);
    for (size_t i = 0; i < total; i++) {
        float acc = summary[i];
        for (int th = 1; th < threads; th++) acc += sx_threadpool_scratch(tp, th)[i];
        summary[i] = acc / (float)n;
    }
    j.summary = summary;
    sx_parallel_for(tp, n, PIXEL_GRAIN, attn_output, &j);
}

/* --------------------------------------------------------- FFN gating */

static inline float gelu(float v) { return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); }

typedef struct {
    float *t;
    int hid;
    size_t n;
} gate_job;

static void gate_range(void *arg, size_t b, size_t e, int thread)
{
    (void)thread;
    const gate_job *j = arg;
    size_t hn = (size_t)j->hid * j->n;
    for (size_t i = b; i < e; i++) {
        float t1 = j->t[i], t2 = j->t[i + hn];
        j->t[i] = gelu(t2) * t1 + gelu(t1) * t2;
    }
}

void sx_dual_gate(sx_threadpool *tp, float *t, int hid, size_t n)
{
    gate_job j = {t, hid, n};
    sx_parallel_for(tp, (size_t)hid * n, 4096, gate_range, &j);
}

/* ------------------------------------------------------------ Fuse mix */

typedef struct {
    sx_threadpool *tp;
    float *t, *o;
    size_t row;   /* C*N: length of one of the three rows */
    double *part; /* per thread: 3 |q_r|^2, 3 |k_s|^2, 9 q_r.k_s */
    float a[9];   /* the 3x3 mixing matrix */
} fuse_job;

enum { FUSE_SUMS = 15 };

static void fuse_sums(void *arg, size_t b, size_t e, int thread)
{
    fuse_job *j = arg;
    const float *q = j->t, *k = j->t + 3 * j->row;
    double acc[FUSE_SUMS] = {0};
    for (size_t i = b; i < e; i++) {
        float qv[3], kv[3];
        for (int r = 0; r < 3; r++) {
            qv[r] = q[r * j->row + i];
            kv[r] = k[r * j->row + i];
        }
        for (int r = 0; r < 3; r++) {
            acc[r] += (double)qv[r] * qv[r];
            acc[3 + r] += (double)kv[r] * kv[r];
            for (int s = 0; s < 3; s++) acc[6 + 3 * r + s] += (double)qv[r] * kv[s];
        }
    }
    memcpy(j->part + (size_t)thread * FUSE_SUMS, acc, sizeof acc);
}

static void fuse_apply(void *arg, size_t b, size_t e, int thread)
{
    (void)thread;
    const fuse_job *j = arg;
    const float *v = j->t + 6 * j->row;
    for (size_t i = b; i < e; i++) {
        float v0 = v[i], v1 = v[j->row + i], v2 = v[2 * j->row + i];
        for (int r = 0; r < 3; r++) j->o[r * j->row + i] = j->a[3 * r] * v0 + j->a[3 * r + 1] * v1 + j->a[3 * r + 2] * v2;
    }
}

void sx_fuse_mix(sx_threadpool *tp, float *t, int c, size_t n, float tau, float *o)
{
    int threads = sx_threadpool_threads(tp);
    double part[256 * FUSE_SUMS];
    fuse_job j = {tp, t, o, (size_t)c * n, part, {0}};
    memset(part, 0, sizeof(double) * (size_t)threads * FUSE_SUMS);
    sx_parallel_for(tp, j.row, 4096, fuse_sums, &j);
    double sum[FUSE_SUMS] = {0};
    for (int th = 0; th < threads; th++)
        for (int i = 0; i < FUSE_SUMS; i++) sum[i] += part[th * FUSE_SUMS + i];
    /* F.normalize: x / max(|x|, 1e-12). */
    for (int r = 0; r < 3; r++) {
        double nq = fmax(sqrt(sum[r]), 1e-12), logit[3], mx = -INFINITY, z = 0.0;
        for (int s = 0; s < 3; s++) {
            double nk = fmax(sqrt(sum[3 + s]), 1e-12);
            logit[s] = sum[6 + 3 * r + s] / (nq * nk) * tau;
            if (logit[s] > mx) mx = logit[s];
        }
        for (int s = 0; s < 3; s++) z += exp(logit[s] - mx);
        for (int s = 0; s < 3; s++) j.a[3 * r + s] = (float)(exp(logit[s] - mx) / z);
    }
    sx_parallel_for(tp, j.row, 4096, fuse_apply, &j);
}

/* ------------------------------------------------------ small helpers */

typedef struct {
    const float *a, *alpha, *b, *beta;
    float *y;
    size_t n;
} wsum_job;

static void wsum_range(void *arg, size_t b, size_t e, int thread)
{
    (void)thread;
    const wsum_job *j = arg;
    for (size_t c = b; c < e; c++) {
        const float *ra = j->a + c * j->n, *rb = j->b + c * j->n;
        float *ry = j->y + c * j->n, al = j->alpha[c], be = j->beta[c];
        for (size_t p = 0; p < j->n; p++) ry[p] = al * ra[p] + be * rb[p];
    }
}

void sx_weighted_sum(sx_threadpool *tp, const float *a, const float *alpha, const float *b,
                     const float *beta, int c, size_t n, float *y)
{
    wsum_job j = {a, alpha, b, beta, y, n};
    sx_parallel_for(tp, (size_t)c, 1, wsum_range, &j);
}

typedef struct {
    const float *x;
    float *y;
    int h, w; /* of the full-resolution side */
} shuffle_job;

static void unshuffle_range(void *arg, size_t b, size_t e, int thread)
{
    (void)thread;
    const shuffle_job *j = arg;
    int h2 = j->h / 2, w2 = j->w / 2;
    for (size_t oc = b; oc < e; oc++) {
        size_t c = oc / 4;
        int i = (int)(oc % 4) / 2, jj = (int)(oc % 2);
        const float *src = j->x + c * (size_t)j->h * j->w;
        float *dst = j->y + oc * (size_t)h2 * w2;
        for (int y = 0; y < h2; y++)
            for (int x = 0; x < w2; x++) dst[(size_t)y * w2 + x] = src[(size_t)(2 * y + i) * j->w + 2 * x + jj];
    }
}

void sx_pixel_unshuffle(sx_threadpool *tp, const float *x, int c, int h, int w, float *y)
{
    shuffle_job j = {x, y, h, w};
    sx_parallel_for(tp, (size_t)c * 4, 1, unshuffle_range, &j);
}

static void shuffle_range(void *arg, size_t b, size_t e, int thread)
{
    (void)thread;
    const shuffle_job *j = arg;
    int h2 = j->h / 2, w2 = j->w / 2;
    for (size_t ic = b; ic < e; ic++) {
        size_t c = ic / 4;
        int i = (int)(ic % 4) / 2, jj = (int)(ic % 2);
        const float *src = j->x + ic * (size_t)h2 * w2;
        float *dst = j->y + c * (size_t)j->h * j->w;
        for (int y = 0; y < h2; y++)
            for (int x = 0; x < w2; x++) dst[(size_t)(2 * y + i) * j->w + 2 * x + jj] = src[(size_t)y * w2 + x];
    }
}

void sx_pixel_shuffle(sx_threadpool *tp, const float *x, int c4, int h, int w, float *y)
{
    shuffle_job j = {x, y, 2 * h, 2 * w};
    sx_parallel_for(tp, (size_t)c4, 1, shuffle_range, &j);
}

/* ------------------------------------------------------------- a Block */

/* x (C, H, W) <- Block(x), in place:
 *   x += Attn(LN1(x));  x += FFN(LN2(x)) */
void sx_block_forward(sx_threadpool *tp, const sx_block *b, float *x, int h, int w, float *ln, float *t)
{
    size_t n = (size_t)h * w;
    int c = b->c;
    sx_layernorm(tp, x, c, n, b->norm1_w, b->norm1_b, ln);
    sx_conv1x1(tp, ln, c, n, b->qkv, NULL, 5 * c, t, 0);           /* (5C, N) */
    sx_dwconv3x3_inplace(tp, t, 5 * c, h, w, b->qkv_dw, NULL);
    float *o = t + 3 * (size_t)c * n;                              /* the gk slot */
    sx_saga_attention(tp, t, c, b->heads, n, o);                   /* (C, N) */
    sx_conv1x1(tp, o, c, n, b->proj, NULL, c, x, 1);               /* x += proj(o) */

    sx_layernorm(tp, x, c, n, b->norm2_w, b->norm2_b, ln);
    sx_conv1x1(tp, ln, c, n, b->pw_in, NULL, 2 * b->hid, t, 0);     /* (2hid, N) */
    sx_dwconv3x3_inplace(tp, t, 2 * b->hid, h, w, b->dw, NULL);
    sx_dual_gate(tp, t, b->hid, n);                                /* (hid, N) */
    sx_conv1x1(tp, t, b->hid, n, b->pw_out, NULL, c, x, 1);         /* x += pw_out(u) */
}

void sx_fuse_forward(sx_threadpool *tp, const sx_fuse *fu, const float *x, int h, int w, float *out, float *t)
{
    int c = fu->c;
    size_t n = (size_t)h * w, cn = (size_t)c * n;
    sx_conv1x1(tp, x, 3 * c, n, fu->qkv_w, fu->qkv_b, 9 * c, t, 0);  /* (9C, N) */
    sx_dwconv3x3_inplace(tp, t, 9 * c, h, w, fu->dw_w, fu->dw_b);
    sx_fuse_mix(tp, t, c, n, fu->tau, t);                          /* o = A v into the q slot */
    float *p = t + 3 * cn;                                         /* the k slot */
    memcpy(p, x, 3 * cn * sizeof(float));
    sx_conv1x1(tp, t, 3 * c, n, fu->proj_w, fu->proj_b, 3 * c, p, 1); /* p = proj(o) + x */
    sx_conv1x1(tp, p, 3 * c, n, fu->out_w, NULL, c, out, 0);
}
