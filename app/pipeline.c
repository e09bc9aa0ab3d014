#define _XOPEN_SOURCE 700
#include "pipeline.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A bounded queue of job indices. closed: no more will come. */
typedef struct queue {
    size_t *items, cap, head, count;
    int closed;
    pthread_cond_t not_empty, not_full;
} queue;

struct pipeline {
    pipeline_config cfg;
    job *jobs;
    unsigned char *finished; /* by plan index, under lock */
    atomic_size_t next_load;
    queue to_enhance, to_save;
    int loaders_left, workers_left; /* under lock: the last one closes the next queue */
    volatile sig_atomic_t halt;     /* a thread did not start: everything stops */
    atomic_int disk_full;           /* a save found the disk full: no new photo starts */
    pthread_mutex_t lock;           /* one lock for the queues and the finished flags: all short */
    pthread_cond_t any_finished;    /* also: a thread has ended */
    int threads_running;            /* under lock */
    pthread_t *threads;
    int n_threads;
    struct worker_arg { pipeline *p; int index; } *worker_args;
};

static int stopped(pipeline *p) { return p->halt || atomic_load(&p->disk_full) || (p->cfg.stop && *p->cfg.stop); }

static int queue_init(queue *q, size_t cap)
{
    memset(q, 0, sizeof *q);
    q->cap = cap;
    q->items = malloc(cap * sizeof *q->items);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    return q->items ? 0 : -1;
}

static void queue_destroy(queue *q)
{
    free(q->items);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
}

/* 0: pushed; -1: the run stopped (or, with even_after_stop, only when it
 * halted: a photo already enhanced is still saved after a stop, since the
 * savers drain their queue). */
static int queue_push(pipeline *p, queue *q, size_t item, int even_after_stop)
{
    pthread_mutex_lock(&p->lock);
    while (q->count == q->cap && !(even_after_stop ? p->halt : stopped(p))) pthread_cond_wait(&q->not_full, &p->lock);
    int rc = -1;
    if (q->count < q->cap) {
        q->items[(q->head + q->count++) % q->cap] = item;
        pthread_cond_signal(&q->not_empty);
        rc = 0;
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* 0: *item popped; -1: closed and empty, or (unless drain_after_stop) the
 * run stopped. */
static int queue_pop(pipeline *p, queue *q, size_t *item, int drain_after_stop)
{
    pthread_mutex_lock(&p->lock);
    while (q->count == 0 && !q->closed && (drain_after_stop || !stopped(p))) pthread_cond_wait(&q->not_empty, &p->lock);
    int rc = -1;
    if (q->count > 0 && (drain_after_stop || !stopped(p))) {
        *item = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        pthread_cond_signal(&q->not_full);
        rc = 0;
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

static void queue_close(queue *q)
{
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
}

static void finish(pipeline *p, size_t i)
{
    p->jobs[i].finished_at = job_now_seconds();
    pthread_mutex_lock(&p->lock);
    p->finished[i] = 1;
    pthread_cond_broadcast(&p->any_finished);
    pthread_mutex_unlock(&p->lock);
}

/* Every thread says when it ends, so pipeline_join can keep waking the
 * others while it waits (a stop that comes then must reach them). */
/* A thread leaves: the last of its stage (stage_left counts them) closes
 * the queue the stage feeds; NULL for the last stage. */
static void thread_ended(pipeline *p, int *stage_left, queue *feeds)
{
    pthread_mutex_lock(&p->lock);
    if (stage_left && --*stage_left == 0) queue_close(feeds);
    p->threads_running--;
    pthread_cond_broadcast(&p->any_finished);
    pthread_mutex_unlock(&p->lock);
}

static void *loader(void *arg)
{
    pipeline *p = arg;
    const output_plan *plan = p->cfg.plan;
    for (;;) {
        size_t i = atomic_fetch_add(&p->next_load, 1);
        if (i >= plan->count || stopped(p)) break;
        if (plan->entries[i].action != PLAN_ENHANCE) continue; /* finished at the start */
        job *j = &p->jobs[i];
        if (job_load(j, p->cfg.opt, p->cfg.workers[0].ctx) != 0) {
            finish(p, i);
            continue;
        }
        if (queue_push(p, &p->to_enhance, i, 0) != 0) break; /* stopped: the job stays unfinished, its image freed at pipeline_free */
    }
    thread_ended(p, &p->loaders_left, &p->to_enhance);
    return NULL;
}

static void *network_worker(void *arg)
{
    struct worker_arg *a = arg;
    pipeline *p = a->p;
    const pipeline_worker *w = &p->cfg.workers[a->index];
    for (;;) {
        size_t i;
        if (queue_pop(p, &p->to_enhance, &i, 0) != 0) break;
        job *j = &p->jobs[i];
        if (job_enhance(j, w->ctx, w->device, p->cfg.opt->strength) != 0) {
            finish(p, i);
            continue;
        }
        if (queue_push(p, &p->to_save, i, 1) != 0) break; /* halted: the job stays unfinished */
    }
    thread_ended(p, &p->workers_left, &p->to_save);
    return NULL;
}

static void wake_all(pipeline *p);

/* Every further photo would run the network only to fail at its save. */
static void stop_for_full_disk(pipeline *p)
{
    for (int w = 0; w < p->cfg.n_workers; w++) sagalux_context_cancel(p->cfg.workers[w].ctx);
    pthread_mutex_lock(&p->lock);
    wake_all(p);
    pthread_mutex_unlock(&p->lock);
}

int pipeline_disk_full(pipeline *p) { return atomic_load(&p->disk_full); }

static void *saver(void *arg)
{
    pipeline *p = arg;
    for (;;) {
        size_t i;
        if (queue_pop(p, &p->to_save, &i, 1) != 0) break;
        job_save(&p->jobs[i], p->cfg.opt);
        if (p->jobs[i].disk_full && !atomic_exchange(&p->disk_full, 1)) stop_for_full_disk(p);
        finish(p, i);
    }
    thread_ended(p, NULL, NULL);
    return NULL;
}

/* Wakes every waiting thread so each sees the stop. */
static void wake_all(pipeline *p)
{
    pthread_cond_broadcast(&p->to_enhance.not_empty);
    pthread_cond_broadcast(&p->to_enhance.not_full);
    pthread_cond_broadcast(&p->to_save.not_empty);
    pthread_cond_broadcast(&p->to_save.not_full);
}

int pipeline_start(pipeline **out, const pipeline_config *cfg)
{
    *out = NULL;
    const size_t n = cfg->plan->count;
    pipeline *p = calloc(1, sizeof *p);
    if (!p) return -1;
    p->cfg = *cfg;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->any_finished, NULL);
    int total = cfg->load_threads + cfg->n_workers + cfg->save_threads;
    p->jobs = calloc(n ? n : 1, sizeof *p->jobs);
    p->finished = calloc(n ? n : 1, 1);
    p->threads = calloc((size_t)total, sizeof *p->threads);
    p->worker_args = calloc((size_t)cfg->n_workers, sizeof *p->worker_args);
    /* One photo waiting per network worker at each queue keeps every
     * worker fed and bounds the photos in memory. */
    int q1 = queue_init(&p->to_enhance, (size_t)cfg->n_workers), q2 = queue_init(&p->to_save, (size_t)cfg->n_workers);
    if (!p->jobs || !p->finished || !p->threads || !p->worker_args || q1 || q2) {
        pipeline_free(p);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const plan_entry *e = &cfg->plan->entries[i];
        p->jobs[i].r = (file_result){.input = e->input, .output = e->output};
        if (e->action == PLAN_FAIL) {
            p->jobs[i].r.status = "failed";
            snprintf(p->jobs[i].r.error, sizeof p->jobs[i].r.error, "%s", e->reason);
            p->finished[i] = 1;
        } else if (e->action == PLAN_SKIP_EXISTING) {
            p->jobs[i].r.status = "skipped";
            p->finished[i] = 1;
        }
    }
    p->loaders_left = cfg->load_threads;
    p->workers_left = cfg->n_workers;
    int started = 0;
    for (int t = 0; t < total; t++) {
        int w = t - cfg->load_threads;
        if (w >= 0 && w < cfg->n_workers) p->worker_args[w] = (struct worker_arg){p, w};
        int rc = t < cfg->load_threads ? pthread_create(&p->threads[p->n_threads], NULL, loader, p)
                 : w < cfg->n_workers  ? pthread_create(&p->threads[p->n_threads], NULL, network_worker, &p->worker_args[w])
                                       : pthread_create(&p->threads[p->n_threads], NULL, saver, p);
        if (rc == 0) {
            pthread_mutex_lock(&p->lock);
            p->threads_running++;
            pthread_mutex_unlock(&p->lock);
            p->n_threads++, started++;
        }
    }
    if (started != total) {
        /* A stage without its threads would wait forever: stop the others
         * before any photo is saved (a save comes last) and say so. */
        pthread_mutex_lock(&p->lock);
        p->halt = 1;
        wake_all(p);
        pthread_mutex_unlock(&p->lock);
        pipeline_join(p);
        pipeline_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

/* Under p->lock: waits on any_finished for at most 100 ms. A signal
 * handler cannot signal a condition variable, so waiters look at the stop
 * flag ten times a second and wake every thread once it is set. */
static void wait_a_little(pipeline *p)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 100 * 1000 * 1000;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&p->any_finished, &p->lock, &until);
    if (stopped(p)) wake_all(p);
}

const job *pipeline_wait(pipeline *p, size_t i)
{
    pthread_mutex_lock(&p->lock);
    while (!p->finished[i] && !stopped(p)) wait_a_little(p);
    if (stopped(p)) wake_all(p);
    const job *j = p->finished[i] ? &p->jobs[i] : NULL;
    pthread_mutex_unlock(&p->lock);
    return j;
}

const job *pipeline_finished(pipeline *p, size_t i)
{
    pthread_mutex_lock(&p->lock);
    const job *j = p->finished[i] ? &p->jobs[i] : NULL;
    pthread_mutex_unlock(&p->lock);
    return j;
}

void pipeline_join(pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    if (stopped(p)) wake_all(p);
    while (p->threads_running > 0) wait_a_little(p);
    pthread_mutex_unlock(&p->lock);
    for (int t = 0; t < p->n_threads; t++) pthread_join(p->threads[t], NULL);
    p->n_threads = 0;
}

void pipeline_free(pipeline *p)
{
    if (!p) return;
    if (p->jobs)
        for (size_t i = 0; i < p->cfg.plan->count; i++) job_release(&p->jobs[i]);
    free(p->jobs);
    free(p->finished);
    free(p->threads);
    free(p->worker_args);
    queue_destroy(&p->to_enhance);
    queue_destroy(&p->to_save);
    pthread_cond_destroy(&p->any_finished);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
