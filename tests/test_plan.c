/* The plan's memory layout: every step's reads, write and scratch lie in
 * their buffers and apart from one another (only the in-place forms the
 * kernels allow share memory), buffers alive at the same step never overlap
 * in the arena, the arena is no smaller than what is live at its peak, and a
 * scratch that fits a chain's unwritten slot goes there. Checked with three
 * scratch functions: none, one map per stage (the CUDA backend's fused
 * stages: the spare slot takes it), and three maps per stage (it does not). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "plan.h"
#include "sagalux.h"

/* A scratch of k maps of the step's input width per stage, one per Fuse,
 * the conv's output for Down and Up, one map for Skip. */
static size_t scratch_maps(const sx_step *st, void *user)
{
    const size_t k = *(const size_t *)user, n = (size_t)st->h * st->w, cn = (size_t)st->c * n;
    switch (st->kind) {
    case SX_STEP_STAGE: return st->stage->count ? k * cn : 0;
    case SX_STEP_FUSE: return cn;
    case SX_STEP_DOWN: return cn / 2;
    case SX_STEP_UP: return 2 * cn;
    case SX_STEP_SKIP: return cn;
    default: return 0;
    }
}

/* Elements step reads through in[i]. */
static size_t in_elems(const sx_step *st, int i)
{
    const size_t n = (size_t)st->h * st->w;
    if (st->in[i].buf < 0) return 0;
    switch (st->kind) {
    case SX_STEP_EMBED: return 3 * n;
    case SX_STEP_FUSE: return 3 * (size_t)st->c * n;
    default: return (size_t)st->c * n;
    }
}

typedef struct region {
    int buf;
    size_t lo, hi; /* arena (or external buffer) elements */
} region;

static region region_of(const sx_plan *p, sx_ref r, size_t elems)
{
    region g = {r.buf, 0, 0};
    if (r.buf < 0) return g;
    const sx_plan_buffer *b = &p->bufs[r.buf];
    assert_true(r.offset + elems <= b->elems); /* inside its buffer */
    g.lo = (b->external ? 0 : b->offset) + r.offset;
    g.hi = g.lo + elems;
    return g;
}

/* Whether two regions share memory: the same external buffer, or both in
 * the arena and overlapping. */
static int overlap(const sx_plan *p, region a, region b)
{
    if (a.buf < 0 || b.buf < 0 || a.lo == a.hi || b.lo == b.hi) return 0;
    const int ea = p->bufs[a.buf].external, eb = p->bufs[b.buf].external;
    if (ea || eb) return a.buf == b.buf && a.lo < b.hi && b.lo < a.hi;
    return a.lo < b.hi && b.lo < a.hi;
}

static int same(region a, region b) { return a.buf == b.buf && a.lo == b.lo && a.hi == b.hi; }

static void check_layout(const sx_plan *p, sx_scratch_fn fn, void *user)
{
    for (int i = 0; i < p->n_steps; i++) {
        const sx_step *st = &p->steps[i];
        const size_t out_elems =
            (size_t)sx_step_out_channels(p, st) * sx_step_out_h(st) * sx_step_out_w(st);
        const region in0 = region_of(p, st->in[0], in_elems(st, 0)), in1 = region_of(p, st->in[1], in_elems(st, 1)),
                     out = region_of(p, st->out, out_elems),
                     scr = region_of(p, st->scratch, fn && st->scratch.buf >= 0 ? fn(st, user) : 0);
        /* In place: a stage over its input, the mix (elementwise) over either input. */
        const int in_place0 = same(in0, out) && (st->kind == SX_STEP_STAGE || st->kind == SX_STEP_MIX);
        const int in_place1 = same(in1, out) && st->kind == SX_STEP_MIX;
        if ((!in_place0 && overlap(p, in0, out)) || (!in_place1 && overlap(p, in1, out)) || overlap(p, in0, scr) ||
            overlap(p, in1, scr) || overlap(p, out, scr)) {
            printf("step %d (%s): its maps share memory\n", i, sx_step_kind_name(st->kind));
            fail();
        }
    }
    for (int a = 0; a < p->n_bufs; a++)
        for (int b = a + 1; b < p->n_bufs; b++) {
            const sx_plan_buffer *x = &p->bufs[a], *y = &p->bufs[b];
            if (x->external || y->external || x->born < 0 || y->born < 0) continue;
            const int alive_together = x->born <= y->dies && y->born <= x->dies;
            if (alive_together && x->offset < y->offset + y->elems && y->offset < x->offset + x->elems) {
                printf("buffers %s and %s are alive together in the same memory\n", x->name, y->name);
                fail();
            }
        }
    size_t peak = 0;
    for (int s = 0; s < p->n_steps; s++) {
        size_t live = 0;
        for (int b = 0; b < p->n_bufs; b++)
            if (!p->bufs[b].external && p->bufs[b].born <= s && s <= p->bufs[b].dies) live += p->bufs[b].elems;
        if (live > peak) peak = live;
    }
    assert_true(p->arena_elems >= peak);
}

/* The buffer holding step i's scratch, by name ("" for none). */
static const char *scratch_home(const sx_plan *p, int i)
{
    const int b = p->steps[i].scratch.buf;
    return b < 0 ? "" : p->bufs[b].name;
}

static void layouts(const sagalux_config *cfg, int h, int w)
{
    sagalux_model *model;
    char err[256];
    assert_int_equal(sagalux_model_random(cfg, 5, &model, err, sizeof err), SAGALUX_OK);
    static sx_plan plan;
    size_t one = 1, three = 3;
    assert_int_equal(sx_plan_build(model, h, w, NULL, NULL, &plan), SAGALUX_OK);
    check_layout(&plan, NULL, NULL);

    /* One map per stage: the first two stages of each chain take the third slot. */
    assert_int_equal(sx_plan_build(model, h, w, scratch_maps, &one, &plan), SAGALUX_OK);
    check_layout(&plan, scratch_maps, &one);
    int spare = 0;
    for (int i = 0; i < plan.n_steps; i++) {
        const sx_step *st = &plan.steps[i];
        if (st->kind != SX_STEP_STAGE || st->spare_elems == 0 || st->stage->count == 0) continue;
        assert_int_equal(st->scratch.buf, st->spare.buf);
        assert_true(!strcmp(scratch_home(&plan, i), "F1F2F3") || !strcmp(scratch_home(&plan, i), "R1R2R3"));
        spare++;
    }
    assert_int_equal(spare, (cfg->blocks[0] ? 2 : 0) + (cfg->refine ? 2 : 0)); /* feat 0, 1; ref 0, 1 */
    /* The refinement (from the mix to the Fuse) holds four full-resolution maps at most, not five. */
    const size_t map0 = (size_t)cfg->dim * h * w;
    for (int s = 0; s < plan.n_steps; s++) {
        if (plan.steps[s].kind != SX_STEP_MIX && (s == 0 || plan.steps[s - 1].kind != SX_STEP_MIX)) continue;
        size_t live = 0; /* the mix and the first refinement stage */
        for (int b = 0; b < plan.n_bufs; b++) {
            const sx_plan_buffer *pb = &plan.bufs[b];
            if (!pb->external && pb->born <= s && s <= pb->dies) live += pb->elems;
        }
        if (live > 4 * map0) printf("step %d holds %.2f full-resolution maps\n", s, (double)live / map0);
        assert_true(live <= 4 * map0);
    }

    /* Three maps per stage: too big for a slot, a buffer of its own. */
    assert_int_equal(sx_plan_build(model, h, w, scratch_maps, &three, &plan), SAGALUX_OK);
    check_layout(&plan, scratch_maps, &three);
    for (int i = 0; i < plan.n_steps; i++)
        if (plan.steps[i].scratch.buf >= 0) assert_string_equal(scratch_home(&plan, i), "scratch");
    sagalux_model_free(model);
}

static void test_llformer_layout(void **state)
{
    (void)state;
    const sagalux_config cfg = {16, {2, 4, 8, 16}, 2, {1, 2, 4, 8}, 2.66f};
    layouts(&cfg, 256, 192);
}

static void test_odd_layout(void **state)
{
    (void)state;
    const sagalux_config cfg = {6, {1, 1, 1, 1}, 1, {1, 2, 3, 4}, 2.66f};
    layouts(&cfg, 48, 80);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_llformer_layout), cmocka_unit_test(test_odd_layout)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
