/* Activation buffers reused by liveness.
 *
 * The forward pass takes a buffer when a map is born and gives it back when
 * the map's last reader is done. Freed buffers are kept for reuse (so a second
 * image of the same size allocates little). A kept buffer is reused only when
 * it is at most 25% larger than asked; otherwise kept buffers are released,
 * largest first, until the new one fits within the budget: the largest
 * liveness peak of earlier passes, or what is live now. So the bytes held
 * stay at the liveness peak of the graph, not the sum of its maps. */
#ifndef SX_BUFPOOL_H
#define SX_BUFPOOL_H

#include <stddef.h>

typedef struct sx_bufpool sx_bufpool;

sx_bufpool *sx_bufpool_create(void);
void sx_bufpool_free(sx_bufpool *bp);

/* A buffer of at least n floats, or NULL when memory runs out. */
float *sx_buf_get(sx_bufpool *bp, size_t n);
void sx_buf_put(sx_bufpool *bp, float *buf);

/* Marks every buffer unused (the start of a new pass). */
void sx_bufpool_recycle(sx_bufpool *bp);

size_t sx_bufpool_peak_bytes(const sx_bufpool *bp);
/* The largest sum of requested sizes in use at once: the liveness floor. */
size_t sx_bufpool_live_peak_bytes(const sx_bufpool *bp);
void sx_bufpool_reset_peak(sx_bufpool *bp);

#endif
