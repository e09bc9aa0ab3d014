/* Builds the plan: the U-Net's wiring (docs/network.md, "The network") as
 * steps, then every buffer's lifetime and its place in one arena. */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

/* Arena offsets are multiples of this many elements (256 bytes of fp32):
 * aligned for vector loads on either backend. */
enum { ALIGN_ELEMS = 64 };

typedef struct builder {
    sx_plan *p;
    sx_scratch_fn scratch;
    void *user;
    int failed;
} builder;

static int new_buf(builder *b, const char *name, size_t elems, int external)
{
    sx_plan *p = b->p;
    if (p->n_bufs == SX_PLAN_MAX_BUFS) {
        b->failed = 1;
        return -1;
    }
    p->bufs[p->n_bufs] = (sx_plan_buffer){name, elems, -1, -1, external, 0};
    return p->n_bufs++;
}

static sx_ref ref(int buf, size_t offset) { return (sx_ref){buf, offset}; }
static const sx_ref NONE = {-1, 0};

/* Appends a step; its scratch buffer (if the backend wants one) is made here. */
static sx_step *add(builder *b, sx_step_kind kind, int c, int h, int w, sx_ref in0, sx_ref in1, sx_ref out,
                    const char *tap)
{
    sx_plan *p = b->p;
    if (p->n_steps == SX_PLAN_MAX_STEPS) {
        b->failed = 1;
        static sx_step sink;
        return &sink;
    }
    sx_step *s = &p->steps[p->n_steps++];
    *s = (sx_step){.kind = kind, .c = c, .h = h, .w = w, .in = {in0, in1}, .out = out, .scratch = NONE, .spare = NONE,
                   .tap = tap};
    return s;
}

/* Scratch sizes can depend on the weights set after add(): asked at the end.
 * A scratch that fits the step's spare room goes there, not in a buffer of
 * its own. */
static void add_scratch(builder *b)
{
    for (int i = 0; i < b->p->n_steps; i++) {
        sx_step *s = &b->p->steps[i];
        size_t n = b->scratch ? b->scratch(s, b->user) : 0;
        if (n && n <= s->spare_elems) s->scratch = s->spare;
        else if (n) s->scratch = ref(new_buf(b, "scratch", n, 0), 0);
    }
}

static void touch(sx_plan *p, int buf, int step)
{
    if (buf < 0) return;
    sx_plan_buffer *pb = &p->bufs[buf];
    if (pb->born < 0 || step < pb->born) pb->born = step;
    if (step > pb->dies) pb->dies = step;
}

typedef struct span {
    size_t lo, hi;
} span;

static int by_lo(const void *a, const void *b)
{
    size_t x = ((const span *)a)->lo, y = ((const span *)b)->lo;
    return (x > y) - (x < y);
}


/* Order keys for place(): the greedy-by-size heuristic of offline memory
 * planners, and two that put long-lived buffers first (a short-lived big
 * scratch placed first at offset 0 can push a map that lives across the
 * whole network above it: measured 275 instead of 250 MiB, LLFormer 1280^2). */
static double key_size(const sx_plan_buffer *b) { return (double)b->elems; }
static double key_life(const sx_plan_buffer *b) { return (b->dies - b->born + 1) * 1e15 + (double)b->elems; }
static double key_area(const sx_plan_buffer *b) { return (double)(b->dies - b->born + 1) * (double)b->elems; }

/* Places buffers in the order of key (descending; ties by id), each at the
 * lowest offset that overlaps no placed buffer alive at the same time;
 * returns the arena's size in elements. */
static size_t place_by(sx_plan *p, double (*key)(const sx_plan_buffer *))
{
    int order[SX_PLAN_MAX_BUFS], placed[SX_PLAN_MAX_BUFS], n_placed = 0;
    for (int i = 0; i < p->n_bufs; i++) order[i] = i;
    for (int i = 1; i < p->n_bufs; i++) /* insertion sort: the plan has a few dozen buffers */
        for (int j = i; j > 0 && key(&p->bufs[order[j]]) > key(&p->bufs[order[j - 1]]); j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    size_t arena = 0;
    for (int oi = 0; oi < p->n_bufs; oi++) {
        sx_plan_buffer *b = &p->bufs[order[oi]];
        if (b->external || b->born < 0) continue;
        span busy[SX_PLAN_MAX_BUFS];
        int nb = 0;
        for (int k = 0; k < n_placed; k++) {
            const sx_plan_buffer *o = &p->bufs[placed[k]];
            if (o->born <= b->dies && b->born <= o->dies) busy[nb++] = (span){o->offset, o->offset + o->elems};
        }
        qsort(busy, (size_t)nb, sizeof *busy, by_lo);
        size_t at = 0;
        for (int k = 0; k < nb; k++) {
            if (busy[k].lo >= at + b->elems) break;
            if (busy[k].hi > at) at = (busy[k].hi + ALIGN_ELEMS - 1) / ALIGN_ELEMS * ALIGN_ELEMS;
        }
        b->offset = at;
        if (at + b->elems > arena) arena = at + b->elems;
        placed[n_placed++] = order[oi];
    }
    return arena;
}

/* The smallest arena of the three orders. */
static void place(sx_plan *p)
{
    double (*const keys[])(const sx_plan_buffer *) = {key_size, key_life, key_area};
    int best = 0;
    size_t best_elems = (size_t)-1;
    for (int k = 0; k < 3; k++) {
        size_t e = place_by(p, keys[k]);
        if (e < best_elems) best_elems = e, best = k;
    }
    p->arena_elems = place_by(p, keys[best]);
}

sagalux_status sx_plan_build(const sagalux_model *m, int h, int w, sx_scratch_fn scratch, void *user,
                             sx_plan *out)
{
    if (!m || !out || h <= 0 || w <= 0 || h % 16 || w % 16) return SAGALUX_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    out->model = m;
    out->h = h;
    out->w = w;
    builder b = {out, scratch, user, 0};
    const int d0 = m->cfg.dim;
    int hl[SX_LEVELS], wl[SX_LEVELS];
    size_t nl[SX_LEVELS];
    for (int l = 0; l < SX_LEVELS; l++) {
        hl[l] = h >> l;
        wl[l] = w >> l;
        nl[l] = (size_t)hl[l] * wl[l];
    }
    size_t map0 = (size_t)d0 * nl[0];
    out->input = new_buf(&b, "image", 3 * nl[0], 1);
    out->output = new_buf(&b, "output", 3 * nl[0], 1);

    /* e = 3x3(I); F1, F2, F3 chained in three slots (the first two stages'
     * scratch in the third); F = Fuse(F1, F2, F3). */
    int f3 = new_buf(&b, "F1F2F3", 3 * map0, 0);
    add(&b, SX_STEP_EMBED, 3, h, w, ref(out->input, 0), NONE, ref(f3, 0), NULL)->conv = m->embed;
    for (int i = 0; i < 3; i++) {
        sx_step *st = add(&b, SX_STEP_STAGE, d0, h, w, ref(f3, (size_t)(i ? i - 1 : 0) * map0), NONE,
                          ref(f3, (size_t)i * map0), NULL);
        st->stage = &m->feat[i];
        if (i < 2) st->spare = ref(f3, 2 * map0), st->spare_elems = map0;
    }
    int fm = new_buf(&b, "F", map0, 0);
    add(&b, SX_STEP_FUSE, d0, h, w, ref(f3, 0), NONE, ref(fm, 0), "F")->fuse = &m->fuse_in;

    /* L = Blocks_b0(F), kept for the refinement. */
    int lat = new_buf(&b, "L", map0, 0);
    add(&b, SX_STEP_STAGE, d0, h, w, ref(fm, 0), NONE, ref(lat, 0), NULL)->stage = &m->latent;

    /* Encoder: X_l = Blocks(Down(previous)). */
    static const char *const xname[4] = {"X0", "X1", "X2", "X3"};
    int x[4], prev = fm;
    for (int l = 0; l < 4; l++) {
        int c = d0 << l;
        x[l] = new_buf(&b, xname[l], 2 * (size_t)c * nl[l + 1], 0);
        add(&b, SX_STEP_DOWN, c, hl[l], wl[l], ref(prev, 0), NONE, ref(x[l], 0), NULL)->conv = m->down[l];
        add(&b, SX_STEP_STAGE, 2 * c, hl[l + 1], wl[l + 1], ref(x[l], 0), NONE, ref(x[l], 0), xname[l])->stage =
            &m->enc[l];
        prev = x[l];
    }

    /* Decoder: Y_l = Blocks(Skip(X_l, Up(deeper))). */
    static const char *const uname[4] = {"up0", "up1", "up2", "up3"}, *const yname[3] = {"Y0", "Y1", "Y2"};
    int deep = x[3];
    for (int l = 2; l >= 0; l--) {
        int c = d0 << (l + 1); /* the skip's width */
        int u = new_buf(&b, uname[l + 1], (size_t)c * nl[l + 1], 0);
        add(&b, SX_STEP_UP, 2 * c, hl[l + 2], wl[l + 2], ref(deep, 0), NONE, ref(u, 0), NULL)->conv = m->up[l + 1];
        int y = new_buf(&b, yname[l], (size_t)c * nl[l + 1], 0);
        add(&b, SX_STEP_SKIP, c, hl[l + 1], wl[l + 1], ref(x[l], 0), ref(u, 0), ref(y, 0), NULL)->skip = &m->skip[l];
        add(&b, SX_STEP_STAGE, c, hl[l + 1], wl[l + 1], ref(y, 0), NONE, ref(y, 0), yname[l])->stage = &m->dec[l];
        deep = y;
    }

    /* Refinement: R0 = alpha*L + beta*Up(Y0), in place over Up(Y0); R1..R3
     * chained in three slots, the first two stages' scratch in the third
     * (not yet written): so the refinement holds four full-resolution maps
     * at most, not five (the network's peak); O = 3x3(Fuse(R1, R2, R3)). */
    int u0 = new_buf(&b, uname[0], map0, 0);
    add(&b, SX_STEP_UP, 2 * d0, hl[1], wl[1], ref(deep, 0), NONE, ref(u0, 0), NULL)->conv = m->up[0];
    int r3 = new_buf(&b, "R1R2R3", 3 * map0, 0);
    sx_step *mix = add(&b, SX_STEP_MIX, d0, h, w, ref(lat, 0), ref(u0, 0), ref(u0, 0), NULL);
    mix->alpha = m->mix_alpha;
    mix->beta = m->mix_beta;
    for (int i = 0; i < 3; i++) {
        sx_step *st = add(&b, SX_STEP_STAGE, d0, h, w, i ? ref(r3, (size_t)(i - 1) * map0) : ref(u0, 0), NONE,
                          ref(r3, (size_t)i * map0), i == 2 ? "R3" : NULL);
        st->stage = &m->ref[i];
        if (i < 2) st->spare = ref(r3, 2 * map0), st->spare_elems = map0;
    }
    int fo = new_buf(&b, "fuse_out", map0, 0);
    add(&b, SX_STEP_FUSE, d0, h, w, ref(r3, 0), NONE, ref(fo, 0), NULL)->fuse = &m->fuse_out;
    add(&b, SX_STEP_OUT, d0, h, w, ref(fo, 0), NONE, ref(out->output, 0), "O")->conv = m->out;

    add_scratch(&b);
    if (b.failed) return SAGALUX_ERR_INVALID_ARGUMENT; /* the tables above are sized for this network */
    for (int i = 0; i < out->n_steps; i++) {
        const sx_step *s = &out->steps[i];
        touch(out, s->in[0].buf, i);
        touch(out, s->in[1].buf, i);
        touch(out, s->out.buf, i);
        touch(out, s->scratch.buf, i);
    }
    place(out);
    return SAGALUX_OK;
}

const char *sx_step_kind_name(sx_step_kind kind)
{
    static const char *const names[SX_STEP_KIND_COUNT] = {"embed", "stage", "fuse", "down",
                                                          "up",    "skip",  "mix",  "out"};
    return kind >= 0 && kind < SX_STEP_KIND_COUNT ? names[kind] : "?";
}

int sx_step_out_channels(const sx_plan *plan, const sx_step *step)
{
    switch (step->kind) {
    case SX_STEP_EMBED: return plan->model->cfg.dim;
    case SX_STEP_DOWN: return 2 * step->c;
    case SX_STEP_UP: return step->c / 2;
    case SX_STEP_OUT: return 3;
    default: return step->c;
    }
}

int sx_step_out_h(const sx_step *step)
{
    return step->kind == SX_STEP_DOWN ? step->h / 2 : step->kind == SX_STEP_UP ? 2 * step->h : step->h;
}

int sx_step_out_w(const sx_step *step)
{
    return step->kind == SX_STEP_DOWN ? step->w / 2 : step->kind == SX_STEP_UP ? 2 * step->w : step->w;
}

/* Multiply-adds of a step, roughly: the 1x1 and 3x3 convolutions dominate,
 * so C^2 per pixel times a factor per kind is close enough for a progress bar. */
static double step_work(const sx_step *st)
{
    double px = (double)st->h * st->w, cc = (double)st->c * st->c;
    switch (st->kind) {
    case SX_STEP_STAGE: return 10.0 * cc * px * st->stage->count;
    case SX_STEP_FUSE: return 30.0 * cc * px;
    case SX_STEP_DOWN: case SX_STEP_UP: return 9.0 * cc * px;
    case SX_STEP_SKIP: return 2.0 * cc * px;
    case SX_STEP_EMBED: case SX_STEP_OUT: return 27.0 * 16.0 * px;
    default: return (double)st->c * px;
    }
}

float sx_plan_progress(const sx_plan *plan, int step)
{
    double done = 0.0, total = 0.0;
    for (int i = 0; i < plan->n_steps; i++) {
        double w = step_work(&plan->steps[i]);
        total += w;
        if (i < step) done += w;
    }
    return total > 0.0 ? (float)(done / total) : 0.0f;
}
