/* The viewer's worker thread: it loads photos and runs the network so that
 * the window keeps drawing and answering input meanwhile.
 *
 * The window asks for a photo (worker_open) and polls for what came of it:
 * LOADED (the original, upright, with its levels of detail: show it at once),
 * then ENHANCED (the network's full-strength output and its levels), or
 * FAILED with a reason. A new request cancels the network run of a photo the
 * window no longer wants. Pictures are shared between the two threads and
 * counted: whoever holds one releases it. */
#ifndef SAGALUX_WORKER_H
#define SAGALUX_WORKER_H

#include <stdatomic.h>

#include "pyramid.h"
#include "sagalux.h"

typedef struct picture {
    atomic_int refs;
    char *path;
    sagalux_image *original; /* upright (EXIF orientation applied), as the CLI enhances it */
    pyramid original_levels;
    sagalux_image *network;  /* the network's output (NULL until ENHANCED) */
    pyramid network_levels;
    double network_ms;       /* the enhance call's time */
    char device[160];        /* what ran it, e.g. "CUDA 0: NVIDIA H100 80GB HBM3" */
    char error[512];         /* why loading or enhancing failed ("" when neither did) */
} picture;

picture *picture_retain(picture *p);
void picture_release(picture *p);
/* Bytes a picture holds (images and levels): for the window's cache. */
size_t picture_bytes(const picture *p);

typedef enum worker_event_kind { WORKER_LOADED, WORKER_ENHANCED, WORKER_FAILED, WORKER_DEVICE } worker_event_kind;

typedef struct worker_event {
    worker_event_kind kind;
    picture *pic;      /* retained for the receiver; NULL for DEVICE and for a failure without a photo */
    char message[512]; /* FAILED: the reason; DEVICE: the device now in use, or why none is */
} worker_event;

typedef struct worker worker;

/* Starts the thread, which loads the model and opens the device given by
 * options; wake(user) is called (from the worker thread) whenever an event
 * is ready. NULL when the thread cannot start. */
worker *worker_create(const char *model_path, sagalux_context_options options, void (*wake)(void *user),
                      void *user);
/* Cancels what runs, joins the thread, releases everything not yet polled. */
void worker_destroy(worker *w);

/* Load path and enhance it; replaces any request not yet started and cancels
 * the network run of another photo. */
void worker_open(worker *w, const char *path);
/* Enhance a picture already loaded (from the window's cache). */
void worker_enhance(worker *w, picture *pic);
/* Reopens the device (the next network run uses it); a DEVICE event follows. */
void worker_set_device(worker *w, sagalux_context_options options);

/* 1 and the oldest event when one is waiting; 0 otherwise. */
int worker_poll(worker *w, worker_event *ev);
/* Whether a request is pending or running, and the network's progress 0..1. */
int worker_busy(worker *w);
float worker_progress(worker *w);

#endif
