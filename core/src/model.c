/* Loading a model: configuration checks, then every tensor bound by name with
 * its shape checked, converted to fp32 into one arena. */
#include <math.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "model_file.h"
#include "network.h"

int sx_level_heads(const sagalux_config *cfg, int level) { return cfg->heads[level < 3 ? level : 3]; }

int sx_ffn_hidden(const sagalux_config *cfg, int c) { return (int)floor((double)c * (double)cfg->ffn); }

int sx_network_max_channels(const sagalux_config *cfg)
{
    int top = cfg->dim << 4;                         /* X3 */
    int widest = 2 * top;                            /* Up(16d0) output */
    int fuse = 9 * cfg->dim;                         /* Fuse(d0) qkv */
    int ffn = 2 * sx_ffn_hidden(cfg, top);           /* FFN at X3 */
    if (fuse > widest) widest = fuse;
    if (ffn > widest) widest = ffn;
    if (5 * top > widest) widest = 5 * top;
    return widest;
}

typedef struct binder {
    const sglx_file *file; /* NULL: random weights (sagalux_model_random) */
    const char *label;     /* the file's path, for messages */
    float *arena;          /* NULL with a random model: only count the elements */
    size_t used, capacity;
    uint64_t rng;
    char *err;
    size_t err_size;
    sagalux_status status;
} binder;

static float uniform(uint64_t *rng, float lo, float hi)
{
    *rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (float)(*rng >> 40) / 16777216.0f;
}

/* Random weights of a plausible scale: convolutions U(+-1/sqrt(fan_in)) (so
 * activations neither vanish nor explode through deep stages), gains (norm
 * weights, alpha, beta, tau) U(0.5, 1.5), biases U(-0.1, 0.1). */
static void fill_random(binder *b, const char *name, int ndim, const int *dims, float *dst, size_t elements)
{
    float lo = -0.1f, hi = 0.1f;
    size_t len = strlen(name);
    int is_weight = len > 7 && strcmp(name + len - 7, ".weight") == 0;
    if (ndim == 4) {
        float a = 1.0f / sqrtf((float)(dims[1] * dims[2] * dims[3]));
        lo = -a;
        hi = a;
    } else if ((is_weight && strstr(name, "norm")) || strstr(name, "alpha") || strstr(name, "beta") || strstr(name, "tau")) {
        lo = 0.5f;
        hi = 1.5f;
    }
    for (size_t i = 0; i < elements; i++) dst[i] = uniform(&b->rng, lo, hi);
}

/* Finds tensor `name` (printf-style), checks it has exactly the given dims
 * (ndim of them), copies it into the arena. Returns NULL and records the
 * first failure; later calls then do nothing. */
static const float *bind(binder *b, int ndim, const int *dims, const char *fmt, ...) SX_PRINTF(4, 5);
static const float *bind(binder *b, int ndim, const int *dims, const char *fmt, ...)
{
    if (b->status != SAGALUX_OK) return NULL;
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (!b->file) {
        size_t elements = 1;
        for (int i = 0; i < ndim; i++) elements *= (size_t)dims[i];
        float *dst = b->arena ? b->arena + b->used : NULL;
        if (dst) fill_random(b, name, ndim, dims, dst, elements);
        b->used += elements;
        return dst;
    }
    const sglx_tensor *t = sglx_find_tensor(b->file, name);
    if (!t) {
        b->status = sx_fail(b->err, b->err_size, SAGALUX_ERR_MODEL, "%s: tensor '%s' is missing", b->file->path, name);
        return NULL;
    }
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->dims[i] == (uint32_t)dims[i];
    if (!ok) {
        char want[64] = "", have[64] = "";
        for (int i = 0; i < ndim; i++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", i ? "x" : "", dims[i]);
        for (int i = 0; i < t->ndim; i++) snprintf(have + strlen(have), sizeof have - strlen(have), "%s%u", i ? "x" : "", t->dims[i]);
        b->status = sx_fail(b->err, b->err_size, SAGALUX_ERR_MODEL, "%s: tensor '%s' has shape %s, expected %s",
                            b->file->path, name, have, want);
        return NULL;
    }
    if (t->elements > b->capacity - b->used) {
        b->status = sx_fail(b->err, b->err_size, SAGALUX_ERR_MODEL, "%s: tensors larger than the file allows", b->file->path);
        return NULL;
    }
    float *dst = b->arena + b->used;
    sglx_tensor_to_f32(t, dst);
    /* One NaN or Inf weight spreads through every later layer and the whole
     * photo comes out black; the CRC cannot tell, as it was written so. */
    for (uint64_t i = 0; i < t->elements; i++)
        if (!isfinite(dst[i])) {
            b->status = sx_fail(b->err, b->err_size, SAGALUX_ERR_MODEL, "%s: tensor '%s' holds %s at element %llu",
                                b->file->path, name, isnan(dst[i]) ? "NaN" : "Inf", (unsigned long long)i);
            return NULL;
        }
    b->used += t->elements;
    return dst;
}

#define DIMS(...) ((const int[]){__VA_ARGS__})

static const float *bind_conv(binder *b, int cout, int cin, int k, const char *name)
{
    return bind(b, 4, DIMS(cout, cin, k, k), "%s.weight", name);
}

static void bind_block(binder *b, sx_block *blk, const char *prefix, int c, int heads, int hid)
{
    blk->c = c;
    blk->heads = heads;
    blk->hid = hid;
    blk->norm1_w = bind(b, 1, DIMS(c), "%s.norm1.weight", prefix);
    blk->norm1_b = bind(b, 1, DIMS(c), "%s.norm1.bias", prefix);
    blk->qkv = bind(b, 4, DIMS(5 * c, c, 1, 1), "%s.attn.qkv.weight", prefix);
    blk->qkv_dw = bind(b, 4, DIMS(5 * c, 1, 3, 3), "%s.attn.qkv_dw.weight", prefix);
    blk->proj = bind(b, 4, DIMS(c, c, 1, 1), "%s.attn.proj.weight", prefix);
    blk->norm2_w = bind(b, 1, DIMS(c), "%s.norm2.weight", prefix);
    blk->norm2_b = bind(b, 1, DIMS(c), "%s.norm2.bias", prefix);
    blk->pw_in = bind(b, 4, DIMS(2 * hid, c, 1, 1), "%s.ffn.pw_in.weight", prefix);
    blk->dw = bind(b, 4, DIMS(2 * hid, 1, 3, 3), "%s.ffn.dw.weight", prefix);
    blk->pw_out = bind(b, 4, DIMS(c, hid, 1, 1), "%s.ffn.pw_out.weight", prefix);
}

static void bind_stage(binder *b, sx_stage *s, sx_block **store, const char *name, int count,
                       const sagalux_config *cfg, int level)
{
    s->count = count;
    s->blocks = *store;
    *store += count;
    int c = cfg->dim << level;
    for (int i = 0; i < count; i++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s.%d", name, i);
        bind_block(b, &s->blocks[i], prefix, c, sx_level_heads(cfg, level), sx_ffn_hidden(cfg, c));
    }
}

static void bind_fuse(binder *b, sx_fuse *f, const char *name, int c)
{
    f->c = c;
    f->qkv_w = bind(b, 4, DIMS(9 * c, 3 * c, 1, 1), "%s.qkv.weight", name);
    f->qkv_b = bind(b, 1, DIMS(9 * c), "%s.qkv.bias", name);
    f->dw_w = bind(b, 4, DIMS(9 * c, 1, 3, 3), "%s.qkv_dw.weight", name);
    f->dw_b = bind(b, 1, DIMS(9 * c), "%s.qkv_dw.bias", name);
    const float *tau = bind(b, 1, DIMS(1), "%s.tau", name);
    f->tau = tau ? *tau : 0.0f;
    f->proj_w = bind(b, 4, DIMS(3 * c, 3 * c, 1, 1), "%s.proj.weight", name);
    f->proj_b = bind(b, 1, DIMS(3 * c), "%s.proj.bias", name);
    f->out_w = bind(b, 4, DIMS(c, 3 * c, 1, 1), "%s.out.weight", name);
}

/* The configuration's ranges (docs/model-format.md); label names the source. */
static sagalux_status check_config(const char *label, uint32_t dim, uint32_t refine, const uint32_t blocks[4],
                                   const uint32_t heads[4], float ffn, sagalux_config *cfg, char *err, size_t err_size)
{
    cfg->ffn = ffn;
    if (dim < 2 || dim > 256 || dim % 2 != 0)
        return sx_fail(err, err_size, SAGALUX_ERR_MODEL, "%s: dim %u must be even and in 2..256", label, dim);
    if (refine > 64)
        return sx_fail(err, err_size, SAGALUX_ERR_MODEL, "%s: refine %u is out of range 0..64", label, refine);
    if (!(cfg->ffn > 0.0f && cfg->ffn <= 16.0f))
        return sx_fail(err, err_size, SAGALUX_ERR_MODEL, "%s: ffn factor must be in (0, 16]", label);
    cfg->dim = (int)dim;
    cfg->refine = (int)refine;
    for (int i = 0; i < 4; i++) {
        if (blocks[i] > 64)
            return sx_fail(err, err_size, SAGALUX_ERR_MODEL, "%s: blocks[%d] = %u is out of range 0..64", label, i, blocks[i]);
        if (heads[i] < 1 || heads[i] > 256)
            return sx_fail(err, err_size, SAGALUX_ERR_MODEL, "%s: heads[%d] = %u is out of range 1..256", label, i, heads[i]);
        cfg->blocks[i] = (int)blocks[i];
        cfg->heads[i] = (int)heads[i];
    }
    for (int level = 0; level < SX_LEVELS; level++) {
        int c = cfg->dim << level, h = sx_level_heads(cfg, level);
        if (c % h != 0)
            return sx_fail(err, err_size, SAGALUX_ERR_MODEL, "%s: %d heads do not divide %d channels", label, h, c);
        if (sx_ffn_hidden(cfg, c) < 1)
            return sx_fail(err, err_size, SAGALUX_ERR_MODEL, "%s: ffn factor gives an empty FFN at %d channels", label, c);
    }
    return SAGALUX_OK;
}

static sagalux_status read_config(const sglx_file *f, sagalux_config *cfg, char *err, size_t err_size)
{
    uint32_t dim, refine, blocks[4], heads[4];
    float ffn;
    sagalux_status st;
    if ((st = sglx_get_u32(f, "dim", &dim, 1, err, err_size)) ||
        (st = sglx_get_u32(f, "blocks", blocks, 4, err, err_size)) ||
        (st = sglx_get_u32(f, "refine", &refine, 1, err, err_size)) ||
        (st = sglx_get_u32(f, "heads", heads, 4, err, err_size)) ||
        (st = sglx_get_f32(f, "ffn", &ffn, err, err_size)))
        return st;
    return check_config(f->path, dim, refine, blocks, heads, ffn, cfg, err, err_size);
}

/* Optional keys: "trained" (u32) and "description" (string). */
static void read_provenance(const sglx_file *f, sagalux_model *m)
{
    uint32_t trained = 1;
    const sglx_kv *kv = sglx_find_kv(f, "trained");
    if (kv && kv->type == SGLX_KV_U32 && kv->count == 1) sglx_get_u32(f, "trained", &trained, 1, NULL, 0);
    m->trained = trained != 0;
    kv = sglx_find_kv(f, "description");
    if (kv && kv->type == SGLX_KV_STR) {
        size_t n = kv->count < sizeof m->description - 1 ? kv->count : sizeof m->description - 1;
        memcpy(m->description, kv->value, n);
        m->description[n] = 0;
    }
}

static void bind_all(binder *b, sagalux_model *m, sx_block *store);

/* Binds every tensor the configuration needs, in a fixed order: from the
 * file f, or (f NULL) random weights from seed. */
static sagalux_status bind_model(sagalux_model *m, const sglx_file *f, uint64_t seed, char *err, size_t err_size)
{
    const sagalux_config *cfg = &m->cfg;
    const char *label = f ? f->path : "random model";
    size_t capacity = 0, nblocks = 3 * (size_t)cfg->blocks[0] + cfg->blocks[0] * 3 + 3 * (size_t)cfg->refine;
    for (int l = 1; l < 4; l++) nblocks += (size_t)cfg->blocks[l] * (l < 3 ? 2 : 1);
    if (f) {
        for (uint32_t i = 0; i < f->n_tensors; i++) capacity += f->tensors[i].elements;
    } else {
        sx_block *scratch = calloc(nblocks ? nblocks : 1, sizeof(sx_block));
        if (!scratch) return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
        binder count = {NULL, label, NULL, 0, SIZE_MAX, 0, err, err_size, SAGALUX_OK};
        bind_all(&count, m, scratch);
        free(scratch);
        capacity = count.used;
    }
    m->arena = malloc((capacity ? capacity : 1) * sizeof(float));
    m->block_store = calloc(nblocks ? nblocks : 1, sizeof(sx_block));
    if (!m->arena || !m->block_store)
        return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "%s: out of memory for weights", label);
    binder b = {f, label, m->arena, 0, capacity, seed, err, err_size, SAGALUX_OK};
    bind_all(&b, m, m->block_store);
    m->params = b.used;
    return b.status;
}

static void bind_all(binder *b, sagalux_model *m, sx_block *store)
{
        const sagalux_config *cfg = &m->cfg;
    int d0 = cfg->dim;
    m->embed = bind_conv(b, d0, 3, 3, "embed");
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "feat%d", i + 1);
        bind_stage(b, &m->feat[i], &store, name, cfg->blocks[0], cfg, 0);
    }
    bind_fuse(b, &m->fuse_in, "fuse_in", d0);
    for (int l = 0; l < 4; l++) {
        char name[16];
        int c = d0 << l;
        snprintf(name, sizeof name, "down%d.conv", l);
        m->down[l] = bind_conv(b, c / 2, c, 3, name);
        snprintf(name, sizeof name, "enc%d", l);
        bind_stage(b, &m->enc[l], &store, name, cfg->blocks[l], cfg, l + 1);
    }
    for (int l = 3; l >= 0; l--) {
        char name[16];
        int c = 2 * d0 << l; /* Up(c) input width */
        snprintf(name, sizeof name, "up%d.conv", l);
        m->up[l] = bind_conv(b, 2 * c, c, 3, name);
        if (l == 0) break;
        sx_skip *s = &m->skip[l - 1];
        int sc = c / 2; /* the skip's width: 2d0 << (l-1) */
        s->c = sc;
        s->alpha = bind(b, 1, DIMS(sc), "skip%d.alpha", l - 1);
        s->beta = bind(b, 1, DIMS(sc), "skip%d.beta", l - 1);
        s->conv = bind(b, 4, DIMS(sc, sc, 1, 1), "skip%d.conv.weight", l - 1);
        snprintf(name, sizeof name, "dec%d", l - 1);
        bind_stage(b, &m->dec[l - 1], &store, name, cfg->blocks[l - 1], cfg, l);
    }
    bind_stage(b, &m->latent, &store, "latent", cfg->blocks[0], cfg, 0);
    m->mix_alpha = bind(b, 1, DIMS(d0), "mix_alpha");
    m->mix_beta = bind(b, 1, DIMS(d0), "mix_beta");
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "ref%d", i + 1);
        bind_stage(b, &m->ref[i], &store, name, cfg->refine, cfg, 0);
    }
    bind_fuse(b, &m->fuse_out, "fuse_out", d0);
    m->out = bind_conv(b, 3, d0, 3, "out");
}

sagalux_status sx_model_from_file(const sglx_file *f, sagalux_model **out, char *err, size_t err_size)
{
    *out = NULL;
    sagalux_model *m = calloc(1, sizeof *m);
    if (!m) return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "%s: out of memory", f->path);
    sagalux_status st = read_config(f, &m->cfg, err, err_size);
    read_provenance(f, m);
    if (st == SAGALUX_OK) st = bind_model(m, f, 0, err, err_size);
    if (st != SAGALUX_OK) {
        sagalux_model_free(m);
        return st;
    }
    sx_log(SAGALUX_LOG_INFO, "%s: dim %d, blocks %d,%d,%d,%d, refine %d, %zu parameters", f->path, m->cfg.dim,
           m->cfg.blocks[0], m->cfg.blocks[1], m->cfg.blocks[2], m->cfg.blocks[3], m->cfg.refine, m->params);
    *out = m;
    return SAGALUX_OK;
}

sagalux_status sagalux_model_random(const sagalux_config *cfg, uint64_t seed, sagalux_model **out, char *err,
                                    size_t err_size)
{
    if (!cfg || !out) return SAGALUX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    sagalux_model *m = calloc(1, sizeof *m);
    if (!m) return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "random model: out of memory");
    uint32_t blocks[4], heads[4];
    for (int i = 0; i < 4; i++) {
        blocks[i] = cfg->blocks[i] < 0 ? 65u : (uint32_t)cfg->blocks[i];
        heads[i] = cfg->heads[i] < 1 ? 0u : (uint32_t)cfg->heads[i];
    }
    sagalux_status st = check_config("random model", cfg->dim < 0 ? 0u : (uint32_t)cfg->dim,
                                     cfg->refine < 0 ? 65u : (uint32_t)cfg->refine, blocks, heads, cfg->ffn, &m->cfg,
                                     err, err_size);
    m->trained = 0;
    snprintf(m->description, sizeof m->description, "random weights (seed %llu)", (unsigned long long)seed);
    if (st == SAGALUX_OK) st = bind_model(m, NULL, seed * 2654435761ULL + 1, err, err_size);
    if (st != SAGALUX_OK) {
        sagalux_model_free(m);
        return st;
    }
    *out = m;
    return SAGALUX_OK;
}

sagalux_status sagalux_model_load(const char *path, sagalux_model **out, char *err, size_t err_size)
{
    if (!path || !out) return SAGALUX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    sglx_file *f;
    sagalux_status st = sglx_open(path, &f, err, err_size);
    if (st != SAGALUX_OK) return st;
    st = sx_model_from_file(f, out, err, err_size); /* weights are copied: the file's bytes can go */
    sglx_close(f);
    return st;
}

void sagalux_model_free(sagalux_model *model)
{
    if (!model) return;
    free(model->arena);
    free(model->block_store);
    free(model);
}

const sagalux_config *sagalux_model_config(const sagalux_model *model) { return model ? &model->cfg : NULL; }

size_t sagalux_model_parameter_count(const sagalux_model *model) { return model ? model->params : 0; }

int sagalux_model_is_trained(const sagalux_model *model) { return model ? model->trained : 0; }

const char *sagalux_model_description(const sagalux_model *model) { return model ? model->description : ""; }
