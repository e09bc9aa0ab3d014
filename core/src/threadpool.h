/* A small fixed pthread pool with a static-partition parallel_for.
 *
 * Work is split into one contiguous range per thread, so a given thread count
 * always produces the same partition (and the same floating-point sums). Each
 * thread owns a scratch area for kernels that need temporary space (im2col
 * panels, row buffers, partial sums). */
#ifndef SX_THREADPOOL_H
#define SX_THREADPOOL_H

#include <stddef.h>

typedef struct sx_threadpool sx_threadpool;

/* Runs fn(arg, begin, end, thread) over [0, n) split among the threads. */
typedef void (*sx_range_fn)(void *arg, size_t begin, size_t end, int thread);

/* threads <= 0 means the number of online cores. NULL on failure. */
sx_threadpool *sx_threadpool_create(int threads, size_t scratch_floats);
void sx_threadpool_free(sx_threadpool *tp);
int sx_threadpool_threads(const sx_threadpool *tp);

/* Ranges are multiples of grain (except the last); fewer threads are used
 * when n is small. Returns when every range is done. */
void sx_parallel_for(sx_threadpool *tp, size_t n, size_t grain, sx_range_fn fn, void *arg);

float *sx_threadpool_scratch(sx_threadpool *tp, int thread);
size_t sx_threadpool_scratch_floats(const sx_threadpool *tp);

int sx_cpu_count(void);

#endif
