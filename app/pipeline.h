/* The load -> enhance -> save pipeline of the batch tool.
 *
 * Decoding threads, one network worker per context (the CPU's, or one per
 * GPU, all fed from one queue) and encoding threads run at once, joined by
 * bounded queues, so decoding and encoding hide behind the network and only
 * a few decoded photos are held at a time. Results come back in plan order,
 * whatever order the photos finish in, so a run's output reads the same
 * with one worker or many. */
#ifndef SAGALUX_PIPELINE_H
#define SAGALUX_PIPELINE_H

#include <signal.h>
#include <stddef.h>

#include "cli_options.h"
#include "job.h"
#include "output_plan.h"

typedef struct pipeline_worker {
    sagalux_context *ctx;
    const char *device; /* "cpu", "cuda:1": named in each result it makes */
} pipeline_worker;

typedef struct pipeline_config {
    const cli_options *opt;
    const output_plan *plan;
    const pipeline_worker *workers;
    int n_workers;
    int load_threads, save_threads;
    volatile sig_atomic_t *stop; /* set (by a signal handler): take no new photo */
} pipeline_config;

typedef struct pipeline pipeline;

/* Starts the threads. 0, or -1 (out of memory, or no thread could start). */
int pipeline_start(pipeline **out, const pipeline_config *config);

/* Waits until plan entry i is finished and returns its job; NULL once *stop
 * is set and entry i is not finished (the run is ending). */
const job *pipeline_wait(pipeline *p, size_t i);

/* The job of entry i if it is finished, else NULL (after pipeline_join). */
const job *pipeline_finished(pipeline *p, size_t i);

/* 1 once a save failed because the disk (or quota) is full: from then on no
 * new photo is read or enhanced and the photo in the network is cancelled,
 * as after a stop; the photos already enhanced are still saved (or fail). */
int pipeline_disk_full(pipeline *p);

/* Waits for every thread: after a stop, photos in the network are
 * cancelled, photos already enhanced are saved, the rest are left. */
void pipeline_join(pipeline *p);

void pipeline_free(pipeline *p);

#endif
