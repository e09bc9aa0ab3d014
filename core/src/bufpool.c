#include "bufpool.h"

#include <stdlib.h>

typedef struct entry {
    float *ptr;
    size_t cap;       /* floats */
    int in_use;
} entry;

struct sx_bufpool {
    entry *e;
    size_t count, capacity;
    size_t held_bytes, peak_bytes;
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

void sx_bufpool_trim(sx_bufpool *bp)
{
    for (size_t i = bp->count; i-- > 0;)
        if (!bp->e[i].in_use) drop(bp, i);
}

float *sx_buf_get(sx_bufpool *bp, size_t n)
{
    if (n == 0) n = 1;
    size_t best = (size_t)-1;
    for (size_t i = 0; i < bp->count; i++)
        if (!bp->e[i].in_use && bp->e[i].cap >= n && (best == (size_t)-1 || bp->e[i].cap < bp->e[best].cap))
            best = i;
    if (best != (size_t)-1) {
        bp->e[best].in_use = 1;
        return bp->e[best].ptr;
    }
    sx_bufpool_trim(bp);
    if (n > ((size_t)-1) / sizeof(float)) return NULL;
    if (bp->count == bp->capacity) {
        size_t cap = bp->capacity ? 2 * bp->capacity : 32;
        entry *grown = realloc(bp->e, cap * sizeof *grown);
        if (!grown) return NULL;
        bp->e = grown;
        bp->capacity = cap;
    }
    float *p = malloc(n * sizeof(float));
    if (!p) return NULL;
    bp->e[bp->count++] = (entry){p, n, 1};
    bp->held_bytes += n * sizeof(float);
    if (bp->held_bytes > bp->peak_bytes) bp->peak_bytes = bp->held_bytes;
    return p;
}

void sx_buf_put(sx_bufpool *bp, float *buf)
{
    if (!buf) return;
    for (size_t i = 0; i < bp->count; i++)
        if (bp->e[i].ptr == buf) {
            bp->e[i].in_use = 0;
            return;
        }
}

void sx_bufpool_recycle(sx_bufpool *bp)
{
    for (size_t i = 0; i < bp->count; i++) bp->e[i].in_use = 0;
}

size_t sx_bufpool_peak_bytes(const sx_bufpool *bp) { return bp->peak_bytes; }
void sx_bufpool_reset_peak(sx_bufpool *bp) { bp->peak_bytes = bp->held_bytes; }
