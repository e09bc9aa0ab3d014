#include "threadpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

enum { SX_MAX_THREADS = 256 };

struct sx_threadpool {
    int nthreads;               /* including the calling thread */
    pthread_t *workers;         /* nthreads - 1 of them */
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    unsigned long generation;   /* bumped for each parallel_for */
    int pending;                /* workers still busy in this generation */
    int stop;
    /* The current job. */
    sx_range_fn fn;
    void *arg;
    size_t n, grain;
    int active;                 /* threads taking part in this job */
    float *scratch;             /* nthreads * scratch_floats */
    size_t scratch_floats;
};

int sx_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void job_range(const sx_threadpool *tp, int t, size_t *begin, size_t *end)
{
    size_t blocks = (tp->n + tp->grain - 1) / tp->grain;
    size_t b0 = blocks * (size_t)t / (size_t)tp->active;
    size_t b1 = blocks * (size_t)(t + 1) / (size_t)tp->active;
    *begin = b0 * tp->grain;
    *end = b1 * tp->grain < tp->n ? b1 * tp->grain : tp->n;
}

typedef struct { sx_threadpool *tp; int index; } worker_arg;

static void *worker_main(void *p)
{
    worker_arg *wa = p;
    sx_threadpool *tp = wa->tp;
    int t = wa->index;
    free(wa);
    unsigned long seen = 0;
    pthread_mutex_lock(&tp->mu);
    for (;;) {
        while (!tp->stop && tp->generation == seen) pthread_cond_wait(&tp->work_cv, &tp->mu);
        if (tp->stop) break;
        seen = tp->generation;
        if (t < tp->active) {
            pthread_mutex_unlock(&tp->mu);
            size_t b, e;
            job_range(tp, t, &b, &e);
            if (b < e) tp->fn(tp->arg, b, e, t);
            pthread_mutex_lock(&tp->mu);
        }
        if (--tp->pending == 0) pthread_cond_signal(&tp->done_cv);
    }
    pthread_mutex_unlock(&tp->mu);
    return NULL;
}

sx_threadpool *sx_threadpool_create(int threads, size_t scratch_floats)
{
    if (threads <= 0) threads = sx_cpu_count();
    if (threads > SX_MAX_THREADS) threads = SX_MAX_THREADS;
    sx_threadpool *tp = calloc(1, sizeof *tp);
    if (!tp) return NULL;
    tp->nthreads = 1;
    tp->scratch_floats = scratch_floats;
    tp->scratch = malloc((size_t)threads * scratch_floats * sizeof(float));
    tp->workers = calloc((size_t)threads, sizeof(pthread_t));
    if (!tp->scratch || !tp->workers) goto fail;
    pthread_mutex_init(&tp->mu, NULL);
    pthread_cond_init(&tp->work_cv, NULL);
    pthread_cond_init(&tp->done_cv, NULL);
    for (int t = 1; t < threads; t++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa) break;
        wa->tp = tp;
        wa->index = t;
        if (pthread_create(&tp->workers[t - 1], NULL, worker_main, wa) != 0) {
            free(wa);
            break; /* run with the threads we got */
        }
        tp->nthreads++;
    }
    return tp;
fail:
    free(tp->scratch);
    free(tp->workers);
    free(tp);
    return NULL;
}

void sx_threadpool_free(sx_threadpool *tp)
{
    if (!tp) return;
    pthread_mutex_lock(&tp->mu);
    tp->stop = 1;
    pthread_cond_broadcast(&tp->work_cv);
    pthread_mutex_unlock(&tp->mu);
    for (int t = 1; t < tp->nthreads; t++) pthread_join(tp->workers[t - 1], NULL);
    pthread_mutex_destroy(&tp->mu);
    pthread_cond_destroy(&tp->work_cv);
    pthread_cond_destroy(&tp->done_cv);
    free(tp->workers);
    free(tp->scratch);
    free(tp);
}

int sx_threadpool_threads(const sx_threadpool *tp) { return tp->nthreads; }

float *sx_threadpool_scratch(sx_threadpool *tp, int thread)
{
    return tp->scratch + (size_t)thread * tp->scratch_floats;
}

size_t sx_threadpool_scratch_floats(const sx_threadpool *tp) { return tp->scratch_floats; }

void sx_parallel_for(sx_threadpool *tp, size_t n, size_t grain, sx_range_fn fn, void *arg)
{
    if (n == 0) return;
    if (grain == 0) grain = 1;
    size_t blocks = (n + grain - 1) / grain;
    int active = blocks < (size_t)tp->nthreads ? (int)blocks : tp->nthreads;
    if (active <= 1) {
        fn(arg, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&tp->mu);
    tp->fn = fn;
    tp->arg = arg;
    tp->n = n;
    tp->grain = grain;
    tp->active = active;
    tp->pending = tp->nthreads - 1;
    tp->generation++;
    pthread_cond_broadcast(&tp->work_cv);
    pthread_mutex_unlock(&tp->mu);

    size_t b, e;
    job_range(tp, 0, &b, &e);
    if (b < e) fn(arg, b, e, 0);

    pthread_mutex_lock(&tp->mu);
    while (tp->pending > 0) pthread_cond_wait(&tp->done_cv, &tp->mu);
    pthread_mutex_unlock(&tp->mu);
}
