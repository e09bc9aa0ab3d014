#include "bufpool.h"

#include <stdlib.h>

typedef struct entry {
    float *ptr;
    size_t cap;       /* floats */
    int in_use;
    size_t asked;     /* floats the current user asked for */
} entry;

struct sx_bufpool {
    entry *e;
    size_t count, capacity;
    size_t held_bytes, peak_bytes;
    size_t live_bytes, live_peak; /* requested sizes of buffers in use */
    size_t budget;                /* largest live peak of earlier passes */
};

sx_bufpool *sx_bufpool_create(void) { return calloc(1, sizeof(sx_bufpool)); }

void sx_bufpool_free(sx_bufpool *bp)
{
    if (!bp) return;
    for (size_t i = 0; i < bp->count; i++) free(bp->e[i].ptr);
    free(bp->e);
    free(bp);
}

static void drop(sx_bufpool *bp, size_t i)
{
    free(bp->e[i].ptr);
    bp->held_bytes -= bp->e[i].cap * sizeof(float);
    bp->e[i] = bp->e[--bp->count];
}

static void note_live(sx_bufpool *bp, size_t n)
{
    bp->live_bytes += n * sizeof(float);
    if (bp->live_bytes > bp->live_peak) bp->live_peak = bp->live_bytes;
}

float *sx_buf_get(sx_bufpool *bp, size_t n)
{
    if (n == 0) n = 1;
    size_t best = (size_t)-1;
    /* Reuse only a tight fit: a large buffer lent to a small map would force a
     * fresh allocation when the large size is needed again. */
    for (size_t i = 0; i < bp->count; i++)
        if (!bp->e[i].in_use && bp->e[i].cap >= n && bp->e[i].cap - n <= n / 4 &&
            (best == (size_t)-1 || bp->e[i].cap < bp->e[best].cap))
            best = i;
    if (best != (size_t)-1) {
        bp->e[best].in_use = 1;
        bp->e[best].asked = n;
        note_live(bp, n);
        return bp->e[best].ptr;
    }
    if (n > ((size_t)-1) / sizeof(float) / 2) return NULL;
    /* Release kept buffers, largest first, until holding this one stays within
     * the budget: the liveness peak of earlier passes (or what is live now). */
    size_t want = n * sizeof(float), limit = bp->budget > bp->live_bytes + want ? bp->budget : bp->live_bytes + want;
    while (bp->held_bytes + want > limit) {
        size_t largest = (size_t)-1;
        for (size_t i = 0; i < bp->count; i++)
            if (!bp->e[i].in_use && (largest == (size_t)-1 || bp->e[i].cap > bp->e[largest].cap)) largest = i;
        if (largest == (size_t)-1) break;
        drop(bp, largest);
    }
    if (bp->count == bp->capacity) {
        size_t cap = bp->capacity ? 2 * bp->capacity : 32;
        entry *grown = realloc(bp->e, cap * sizeof *grown);
        if (!grown) return NULL;
        bp->e = grown;
        bp->capacity = cap;
    }
    float *p = malloc(n * sizeof(float));
    if (!p) return NULL;
    bp->e[bp->count++] = (entry){p, n, 1, n};
    note_live(bp, n);
    bp->held_bytes += n * sizeof(float);
    if (bp->held_bytes > bp->peak_bytes) bp->peak_bytes = bp->held_bytes;
    return p;
}

void sx_buf_put(sx_bufpool *bp, float *buf)
{
    if (!buf) return;
    for (size_t i = 0; i < bp->count; i++)
        if (bp->e[i].ptr == buf && bp->e[i].in_use) {
            bp->e[i].in_use = 0;
            bp->live_bytes -= bp->e[i].asked * sizeof(float);
            return;
        }
}

size_t sx_bufpool_live_peak_bytes(const sx_bufpool *bp) { return bp->live_peak; }

void sx_bufpool_recycle(sx_bufpool *bp)
{
    for (size_t i = 0; i < bp->count; i++) bp->e[i].in_use = 0;
    bp->live_bytes = 0;
    if (bp->live_peak > bp->budget) bp->budget = bp->live_peak;
}

size_t sx_bufpool_peak_bytes(const sx_bufpool *bp) { return bp->peak_bytes; }
void sx_bufpool_reset_peak(sx_bufpool *bp)
{
    bp->peak_bytes = bp->held_bytes;
    bp->live_peak = bp->live_bytes;
}
