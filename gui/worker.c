/* The viewer's worker thread (worker.h). */
#define _GNU_SOURCE /* syscall(SYS_gettid) for the thread's priority */
#include "worker.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

enum { MAX_EVENTS = 32 };

struct worker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* the request slot: at most one waits; a newer one replaces it */
    char *want_path;
    picture *want_pic;
    int quit;
    int reopen;                       /* options changed: open the device anew */
    sagalux_context_options options;
    /* the work in hand */
    char *running_path;               /* the photo whose network runs now, or NULL */
    int busy;
    sagalux_context *ctx;             /* read by the window only under mu (to cancel) */
    char model_path[4096];
    worker_event events[MAX_EVENTS];
    int n_events;
    void (*wake)(void *user);
    void *wake_user;
};

picture *picture_retain(picture *p)
{
    if (p) atomic_fetch_add(&p->refs, 1);
    return p;
}

void picture_release(picture *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1) return;
    pyramid_free(&p->original_levels);
    pyramid_free(&p->network_levels);
    sagalux_image_free(p->original);
    sagalux_image_free(p->network);
    free(p->path);
    free(p);
}

size_t picture_bytes(const picture *p)
{
    size_t px = p->original ? (size_t)p->original->width * p->original->height : 0;
    return px * 3 * sizeof(float) * (p->network ? 2 : 1) + pyramid_bytes(&p->original_levels) +
           pyramid_bytes(&p->network_levels);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Queues an event (taking over pic's reference) and wakes the window. When
 * the queue is full the oldest event is dropped: the window only needs the
 * newest news of the photo it shows. */
static void post(worker *w, worker_event_kind kind, picture *pic, const char *message)
{
    pthread_mutex_lock(&w->mu);
    if (w->n_events == MAX_EVENTS) {
        picture_release(w->events[0].pic);
        memmove(w->events, w->events + 1, (MAX_EVENTS - 1) * sizeof w->events[0]);
        w->n_events--;
    }
    worker_event *ev = &w->events[w->n_events++];
    ev->kind = kind;
    ev->pic = pic;
    snprintf(ev->message, sizeof ev->message, "%s", message ? message : "");
    pthread_mutex_unlock(&w->mu);
    if (w->wake) w->wake(w->wake_user);
}

/* "CPU (8 threads)", "CUDA 0: NVIDIA H100 80GB HBM3". */
static void describe_device(const sagalux_context *ctx, const sagalux_context_options *o, char *out, size_t n)
{
    sagalux_device_info info[16];
    int count = sagalux_list_devices(info, 16);
    if (sagalux_context_device(ctx) == SAGALUX_DEVICE_CUDA) {
        for (int i = 1; i < count && i < 16; i++)
            if (info[i].index == o->cuda_device) {
                snprintf(out, n, "CUDA %d: %s", info[i].index, info[i].name);
                return;
            }
        snprintf(out, n, "CUDA %d", o->cuda_device);
    } else {
        snprintf(out, n, "CPU (%d threads)", count > 0 ? info[0].threads : 0);
    }
}

static void open_device(worker *w, const sagalux_model *model, sagalux_context_options options, char *label,
                        size_t label_size)
{
    pthread_mutex_lock(&w->mu);
    sagalux_context *old = w->ctx;
    w->ctx = NULL;
    pthread_mutex_unlock(&w->mu);
    sagalux_context_free(old);
    char err[512] = "";
    sagalux_context *ctx = NULL;
    if (model && sagalux_context_create(model, &options, &ctx, err, sizeof err) == SAGALUX_OK) {
        describe_device(ctx, &options, label, label_size);
        pthread_mutex_lock(&w->mu);
        w->ctx = ctx;
        pthread_mutex_unlock(&w->mu);
        post(w, WORKER_DEVICE, NULL, label);
    } else if (model) {
        snprintf(label, label_size, "no device");
        post(w, WORKER_FAILED, NULL, err);
    }
}

static picture *load_picture(const char *path)
{
    picture *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    atomic_init(&p->refs, 1);
    p->path = strdup(path);
    /* A photo too large to decode here is refused from its header, before
     * the kernel would kill the window for it; one that decodes but cannot
     * be enhanced is shown, with the library's reason (enhance_picture). */
    int w, h;
    uint64_t available = sagalux_memory_available();
    if (sagalux_image_probe(path, &w, &h, NULL, 0) == SAGALUX_OK && available != UINT64_MAX &&
        sagalux_image_decode_bytes(w, h) > available) {
        snprintf(p->error, sizeof p->error, "%s: %dx%d: needs %.1f GB to decode, %.1f GB available", path, w, h,
                 (double)sagalux_image_decode_bytes(w, h) / 1e9, (double)available / 1e9);
        return p;
    }
    sagalux_status st = sagalux_image_load(path, &p->original, p->error, sizeof p->error);
    if (st == SAGALUX_OK && (st = sagalux_image_apply_orientation(p->original)) != SAGALUX_OK)
        snprintf(p->error, sizeof p->error, "%s: cannot turn the image upright: %s", path,
                 sagalux_status_string(st));
    if (st == SAGALUX_OK &&
        pyramid_build(&p->original_levels, p->original->rgb, p->original->alpha, p->original->width,
                      p->original->height) != 0)
        snprintf(p->error, sizeof p->error, "%s: out of memory for the display levels", path);
    return p;
}

/* The network on pic; posts ENHANCED or FAILED, or nothing when cancelled. */
static void enhance_picture(worker *w, picture *pic, const char *device_label)
{
    pthread_mutex_lock(&w->mu);
    sagalux_context *ctx = w->ctx;
    int superseded = w->want_path || w->want_pic;
    if (ctx && !superseded) {
        free(w->running_path);
        w->running_path = strdup(pic->path);
    }
    pthread_mutex_unlock(&w->mu);
    if (!ctx || superseded) { /* no device (its failure was posted), or the window wants another photo */
        picture_release(pic);
        return;
    }
    double t0 = now_ms();
    sagalux_image *net = NULL;
    sagalux_status st = sagalux_enhance_network(ctx, pic->original, &net);
    double ms = now_ms() - t0;
    pthread_mutex_lock(&w->mu);
    free(w->running_path);
    w->running_path = NULL;
    pthread_mutex_unlock(&w->mu);
    if (st == SAGALUX_ERR_CANCELLED) {
        picture_release(pic);
        return;
    }
    if (st != SAGALUX_OK) {
        const char *why = sagalux_context_error(ctx);
        char msg[512];
        snprintf(msg, sizeof msg, "%s: enhance failed: %s", pic->path, why[0] ? why : sagalux_status_string(st));
        post(w, WORKER_FAILED, pic, msg);
        return;
    }
    pyramid levels;
    if (pyramid_build(&levels, net->rgb, NULL, net->width, net->height) != 0) {
        sagalux_image_free(net);
        char msg[512];
        snprintf(msg, sizeof msg, "%s: out of memory for the display levels", pic->path);
        post(w, WORKER_FAILED, pic, msg);
        return;
    }
    /* Only this thread writes these, and only before ENHANCED is posted; the
     * window reads them after taking the event (the queue's mutex orders it). */
    if (!pic->network) {
        pic->network = net;
        pic->network_levels = levels;
        pic->network_ms = ms;
        snprintf(pic->device, sizeof pic->device, "%s", device_label);
    } else {
        pyramid_free(&levels);
        sagalux_image_free(net);
    }
    post(w, WORKER_ENHANCED, pic, NULL);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
#ifdef __linux__
    /* Below the window's thread, so that drawing stays smooth while every
     * core computes; the library's CPU threads, made by this thread when it
     * opens the device, inherit it. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
#endif
    sagalux_model *model = NULL;
    char err[512] = "", label[160] = "no device";
    if (sagalux_model_load(w->model_path, &model, err, sizeof err) != SAGALUX_OK) post(w, WORKER_FAILED, NULL, err);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->quit && !w->reopen && !w->want_path && !w->want_pic) pthread_cond_wait(&w->cv, &w->mu);
        if (w->quit) break;
        if (w->reopen) {
            w->reopen = 0;
            sagalux_context_options o = w->options;
            pthread_mutex_unlock(&w->mu);
            open_device(w, model, o, label, sizeof label);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        char *path = w->want_path;
        picture *pic = w->want_pic;
        w->want_path = NULL;
        w->want_pic = NULL;
        w->busy = 1;
        pthread_mutex_unlock(&w->mu);
        if (path) {
            pic = load_picture(path);
            free(path);
            if (!pic) {
                post(w, WORKER_FAILED, NULL, "out of memory");
            } else if (pic->error[0]) {
                post(w, WORKER_FAILED, pic, pic->error);
                pic = NULL;
            } else {
                post(w, WORKER_LOADED, picture_retain(pic), NULL);
            }
        }
        if (pic) enhance_picture(w, pic, label);
        pthread_mutex_lock(&w->mu);
        w->busy = 0;
    }
    sagalux_context *ctx = w->ctx;
    w->ctx = NULL;
    pthread_mutex_unlock(&w->mu);
    sagalux_context_free(ctx);
    sagalux_model_free(model);
    return NULL;
}

worker *worker_create(const char *model_path, sagalux_context_options options, void (*wake)(void *user),
                      void *user)
{
    worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    snprintf(w->model_path, sizeof w->model_path, "%s", model_path);
    w->options = options;
    w->reopen = 1;
    w->wake = wake;
    w->wake_user = user;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return NULL;
    }
    return w;
}

/* Under mu: stop the network run unless it is for keep_path. */
static void cancel_other(worker *w, const char *keep_path)
{
    if (w->ctx && w->running_path && (!keep_path || strcmp(w->running_path, keep_path) != 0))
        sagalux_context_cancel(w->ctx);
}

static void clear_request(worker *w)
{
    free(w->want_path);
    w->want_path = NULL;
    picture_release(w->want_pic);
    w->want_pic = NULL;
}

void worker_destroy(worker *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    clear_request(w);
    cancel_other(w, NULL);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    for (int i = 0; i < w->n_events; i++) picture_release(w->events[i].pic);
    free(w->running_path);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

void worker_open(worker *w, const char *path)
{
    pthread_mutex_lock(&w->mu);
    clear_request(w);
    w->want_path = strdup(path);
    cancel_other(w, path);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void worker_enhance(worker *w, picture *pic)
{
    pthread_mutex_lock(&w->mu);
    clear_request(w);
    w->want_pic = picture_retain(pic);
    cancel_other(w, pic->path);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void worker_set_device(worker *w, sagalux_context_options options)
{
    pthread_mutex_lock(&w->mu);
    w->options = options;
    w->reopen = 1;
    cancel_other(w, NULL);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int worker_poll(worker *w, worker_event *ev)
{
    pthread_mutex_lock(&w->mu);
    int got = w->n_events > 0;
    if (got) {
        *ev = w->events[0];
        memmove(w->events, w->events + 1, (size_t)(w->n_events - 1) * sizeof w->events[0]);
        w->n_events--;
    }
    pthread_mutex_unlock(&w->mu);
    return got;
}

int worker_busy(worker *w)
{
    pthread_mutex_lock(&w->mu);
    int b = w->busy || w->want_path || w->want_pic || w->reopen;
    pthread_mutex_unlock(&w->mu);
    return b;
}

float worker_progress(worker *w)
{
    pthread_mutex_lock(&w->mu);
    float p = w->ctx && w->running_path ? sagalux_context_progress(w->ctx) : 0.0f;
    pthread_mutex_unlock(&w->mu);
    return p;
}
