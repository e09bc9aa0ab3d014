/* sagalux-view: the window's life and the actions keys, mouse and scripts
 * share (viewer.h). */
#define _GNU_SOURCE /* strdup, realpath */
#include "viewer.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_list.h"

static const char *const mode_names[MODE_COUNT] = {"split", "side", "enhanced", "original"};

static void wake_window(void *user)
{
    SDL_Event e = {0};
    e.type = *(Uint32 *)user;
    SDL_PushEvent(&e); /* thread-safe: the worker calls this */
}

void viewer_notice(viewer *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->notice, sizeof v->notice, fmt, ap);
    va_end(ap);
    v->notice_until = SDL_GetTicks() + 4000;
    v->redraw = 1;
    if (v->opt.verbose) fprintf(stderr, "sagalux-view: %s\n", v->notice);
}

int viewer_bar_height(const viewer *v) { return 2 * text_line_height(v->font) + (int)(12 * v->dpi); }

SDL_Rect viewer_area(const viewer *v, int pane)
{
    int h = v->dh - viewer_bar_height(v);
    if (h < 1) h = 1;
    if (v->mode != MODE_SIDE) return (SDL_Rect){0, 0, v->dw, h};
    int half = v->dw / 2;
    return pane == 0 ? (SDL_Rect){0, 0, half, h} : (SDL_Rect){half, 0, v->dw - half, h};
}

/* The drawable's size and scale, and a font that matches it. */
static void update_size(viewer *v)
{
    int ww, wh;
    SDL_GetWindowSize(v->window, &ww, &wh);
    SDL_GetRendererOutputSize(v->renderer, &v->dw, &v->dh);
    v->dpi = ww > 0 ? (double)v->dw / ww : 1.0;
    int px = (int)(15 * v->dpi + 0.5);
    if (px != v->font_px || (!v->font && !v->font_error[0])) {
        text_close(v->font);
        v->font = text_open(v->renderer, v->opt.font_path, px, v->font_error, sizeof v->font_error);
        if (!v->font) fprintf(stderr, "sagalux-view: %s; text is not shown\n", v->font_error);
        v->font_px = px;
    }
    v->redraw = 1;
}

/* Keeps the view valid for the photo and area: refit when following the
 * window, else keep zoom and place and only clamp. */
static void settle_view(viewer *v)
{
    if (!v->pic) return;
    SDL_Rect a = viewer_area(v, 0);
    int iw = v->pic->original->width, ih = v->pic->original->height;
    if (v->fitted) v->view = vm_fit(iw, ih, a.w, a.h);
    else vm_clamp(&v->view, iw, ih, a.w, a.h);
}

void viewer_resized(viewer *v)
{
    update_size(v);
    settle_view(v);
}

void viewer_fit(viewer *v)
{
    v->fitted = 1;
    settle_view(v);
    v->redraw = 1;
}

void viewer_zoom_at(viewer *v, double scale, double x, double y)
{
    if (!v->pic) return;
    SDL_Rect a = viewer_area(v, 0);
    vm_zoom_at(&v->view, scale, x, y, v->pic->original->width, v->pic->original->height, a.w, a.h);
    v->fitted = 0;
    v->redraw = 1;
}

/* ------------------------------------------------------------ the photos */

static void forget_cached(viewer *v, int i)
{
    picture_release(v->cache[i]);
    memmove(v->cache + i, v->cache + i + 1, (size_t)(VIEWER_CACHE - 1 - i) * sizeof v->cache[0]);
    v->cache[VIEWER_CACHE - 1] = NULL;
}

/* Remembers pic (most recent first), within the count and about 2 GiB. */
static void remember(viewer *v, picture *pic)
{
    for (int i = 0; i < VIEWER_CACHE; i++)
        if (v->cache[i] == pic) forget_cached(v, i);
    if (v->cache[VIEWER_CACHE - 1]) forget_cached(v, VIEWER_CACHE - 1);
    memmove(v->cache + 1, v->cache, (VIEWER_CACHE - 1) * sizeof v->cache[0]);
    v->cache[0] = picture_retain(pic);
    size_t bytes = 0;
    for (int i = 0; i < VIEWER_CACHE && v->cache[i]; i++) {
        bytes += picture_bytes(v->cache[i]);
        if (i > 0 && bytes > ((size_t)2 << 30)) {
            while (v->cache[i]) forget_cached(v, i);
            break;
        }
    }
}

static picture *cached(viewer *v, const char *path)
{
    for (int i = 0; i < VIEWER_CACHE && v->cache[i]; i++)
        if (strcmp(v->cache[i]->path, path) == 0) return v->cache[i];
    return NULL;
}

/* Nothing of the photo on screen stays: neither drawn nor saved. */
static void drop_picture(viewer *v)
{
    picture_release(v->pic);
    v->pic = NULL;
    tile_layer_clear(&v->original);
    tile_layer_clear(&v->enhanced);
    viewer_forget_sides(v);
    v->redraw = 1;
}

/* Puts pic on screen; the view stays when the size is the same. */
static void present(viewer *v, picture *pic)
{
    int same = v->pic && v->view_w == pic->original->width && v->view_h == pic->original->height;
    if (v->pic != pic) {
        picture_release(v->pic);
        v->pic = picture_retain(pic);
        tile_layer_clear(&v->original);
        tile_layer_clear(&v->enhanced);
        viewer_forget_sides(v); /* a new photo may sit at a freed one's address */
    }
    v->view_w = pic->original->width;
    v->view_h = pic->original->height;
    if (!same) v->fitted = 1;
    settle_view(v);
    remember(v, pic);
    v->redraw = 1;
}

void viewer_show(viewer *v, int index)
{
    if (v->n_files == 0) return;
    index = (index % v->n_files + v->n_files) % v->n_files;
    v->index = index;
    v->error[0] = 0;
    v->asking = 0;
    const char *path = v->files[index];
    picture *pic = cached(v, path);
    char title[4200];
    snprintf(title, sizeof title, "%s (%d/%d) - sagalux-view", path, index + 1, v->n_files);
    SDL_SetWindowTitle(v->window, title);
    if (pic) {
        present(v, pic);
        v->waiting = !pic->network && !pic->error[0];
        if (v->waiting) worker_enhance(v->work, pic);
    } else {
        v->waiting = 1;
        worker_open(v->work, path);
    }
    v->redraw = 1;
}

void viewer_set_files(viewer *v, char **files, int n_files, int index)
{
    for (int i = 0; i < v->n_files; i++) free(v->files[i]);
    free(v->files);
    v->files = files;
    v->n_files = n_files;
    v->index = 0;
    if (n_files > 0) viewer_show(v, index);
}

static int is_folder(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* One file opens its folder at that file (next and previous walk the
 * folder); one folder opens its photos; several files open just those. */
int viewer_open_paths(viewer *v, char **paths, int n)
{
    file_list list = {0};
    const char *select = NULL;
    char folder[PATH_MAX];
    if (n == 1 && access(paths[0], R_OK) != 0) {
        snprintf(v->error, sizeof v->error, "%s: cannot open: %s", paths[0], strerror(errno));
        v->redraw = 1;
        return -1;
    }
    if (n == 1 && !is_folder(paths[0])) {
        snprintf(folder, sizeof folder, "%s", paths[0]);
        char *slash = strrchr(folder, '/');
        if (!slash) snprintf(folder, sizeof folder, ".");
        else slash[slash == folder] = 0; /* "/x.jpg": the folder is "/" */
        select = paths[0];
        if (sagalux_format_from_name(paths[0]) == SAGALUX_FORMAT_UNKNOWN || file_list_add_input(&list, folder, 0, 0))
            file_list_add_input(&list, paths[0], 0, 0); /* a file the folder scan would skip: it alone */
    } else {
        for (int i = 0; i < n; i++) file_list_add_input(&list, paths[i], 0, 0);
    }
    if (list.count == 0) {
        if (list.n_failed) /* a folder that cannot be read says why, not "no photos" */
            snprintf(v->error, sizeof v->error, "%s", list.failed_why[0]);
        else
            snprintf(v->error, sizeof v->error, "%s: no PNG or JPEG photos here", n > 0 ? paths[0] : "(nothing)");
        file_list_free(&list);
        v->redraw = 1;
        return -1;
    }
    char **files = malloc(list.count * sizeof *files);
    int index = 0;
    char want[PATH_MAX], got[PATH_MAX];
    int have_want = select && realpath(select, want);
    for (size_t i = 0; files && i < list.count; i++) {
        files[i] = strdup(list.paths[i]);
        if (have_want && realpath(list.paths[i], got) && strcmp(got, want) == 0) index = (int)i;
    }
    int count = (int)list.count;
    file_list_free(&list);
    if (!files) return -1;
    viewer_set_files(v, files, count, index);
    return 0;
}

/* ------------------------------------------------------------ settings */

void viewer_set_strength(viewer *v, float s)
{
    s = s < 0.0f ? 0.0f : s > 1.0f ? 1.0f : s;
    if (s == v->strength) return;
    v->strength = s;
    tile_layer_invalidate(&v->enhanced);
    v->redraw = 1;
}

/* Places photo point (ix, iy) at the centre of the view's area, as far as
 * the clamp allows. */
static void centre_on(viewer *v, double ix, double iy)
{
    SDL_Rect a = viewer_area(v, 0);
    v->view.tx = a.w / 2.0 - ix * v->view.scale;
    v->view.ty = a.h / 2.0 - iy * v->view.scale;
    settle_view(v);
}

void viewer_set_mode(viewer *v, view_mode m)
{
    /* the photo point at the view's centre stays there (side by side halves the area) */
    SDL_Rect before = viewer_area(v, 0);
    double ix, iy;
    vm_screen_to_image(&v->view, before.w / 2.0, before.h / 2.0, &ix, &iy);
    v->mode = m;
    centre_on(v, ix, iy);
    v->redraw = 1;
}

int viewer_parse_device(const char *spec, sagalux_context_options *o)
{
    *o = sagalux_context_options_default();
    if (strcmp(spec, "auto") == 0) return 0;
    if (strcmp(spec, "cpu") == 0) return o->device = SAGALUX_DEVICE_CPU, 0;
    if (strcmp(spec, "cuda") == 0) return o->device = SAGALUX_DEVICE_CUDA, 0;
    char *end;
    if (strncmp(spec, "cuda:", 5) == 0) {
        long n = strtol(spec + 5, &end, 10);
        if (end != spec + 5 && !*end && n >= 0 && n < 64) {
            o->device = SAGALUX_DEVICE_CUDA;
            o->cuda_device = (int)n;
            return 0;
        }
    }
    return -1;
}

static void apply_device(viewer *v, sagalux_context_options o)
{
    v->device = o;
    v->kept_device[0] = 0; /* a device chosen now is the one to remember */
    snprintf(v->device_label, sizeof v->device_label, "opening the device…");
    worker_set_device(v->work, o);
    /* every network output came from the old device: run the photo again */
    for (int i = 0; i < VIEWER_CACHE; i++) {
        picture_release(v->cache[i]);
        v->cache[i] = NULL;
    }
    drop_picture(v);
    if (v->n_files) viewer_show(v, v->index);
}

int viewer_set_device(viewer *v, const char *spec)
{
    sagalux_context_options o;
    if (viewer_parse_device(spec, &o) != 0) return -1;
    apply_device(v, o);
    return 0;
}

/* CPU, then each GPU, then the CPU again. */
void viewer_cycle_device(viewer *v)
{
    sagalux_device_info info[16];
    int n = sagalux_list_devices(info, 16);
    if (n > 16) n = 16;
    sagalux_context_options o = sagalux_context_options_default();
    int now = v->device.device == SAGALUX_DEVICE_CPU ? 0 : -1;
    for (int i = 1; i < n; i++)
        if (v->device.device != SAGALUX_DEVICE_CPU && info[i].index == v->device.cuda_device) now = i;
    int next = (now + 1) % (n > 0 ? n : 1);
    if (n <= 1 && v->device.device == SAGALUX_DEVICE_CPU) {
        viewer_notice(v, "no GPU: this build or machine has only the CPU");
        return;
    }
    if (n <= 1) { /* a GPU that is not here (or auto): the CPU is always reachable */
        viewer_notice(v, "no GPU: this build or machine has only the CPU; using the CPU");
        next = 0;
    }
    o.device = next == 0 ? SAGALUX_DEVICE_CPU : SAGALUX_DEVICE_CUDA;
    o.cuda_device = next == 0 ? 0 : info[next].index;
    apply_device(v, o);
}

/* ------------------------------------------------------------ saving */

/* dir/stem_enhanced.ext, or with -2, -3 … when taken (n > 1). */
static void save_name(const char *photo, int n, char *out, size_t size)
{
    const char *slash = strrchr(photo, '/');
    const char *base = slash ? slash + 1 : photo;
    const char *dot = strrchr(base, '.');
    int stem = dot && dot != base ? (int)(dot - photo) : (int)strlen(photo);
    const char *ext = dot && dot != base ? dot : ".png";
    if (n <= 1) snprintf(out, size, "%.*s_enhanced%s", stem, photo, ext);
    else snprintf(out, size, "%.*s_enhanced-%d%s", stem, photo, n, ext);
}

/* Whether the picture held is the current file's, ready to save; else says why not. */
static int can_save(viewer *v)
{
    const char *current = v->n_files ? v->files[v->index] : NULL;
    const char *slash = current ? strrchr(current, '/') : NULL;
    const char *name = slash ? slash + 1 : current;
    if (!current) viewer_notice(v, "not saved: no photo is open");
    else if (!v->pic || strcmp(v->pic->path, current) != 0)
        viewer_notice(v, v->waiting ? "not saved: %s is still loading" : "not saved: %s could not be opened", name);
    else if (!v->pic->network)
        viewer_notice(v, v->waiting ? "not saved: %s is still being enhanced" : "not saved: %s could not be enhanced",
                      name);
    else return 1;
    return 0;
}

int viewer_save_to(viewer *v, const char *path, int replace)
{
    if (!can_save(v)) return -1;
    sagalux_image *res = NULL;
    char err[640];
    sagalux_status st = sagalux_blend(v->pic->original, v->pic->network, v->strength, &res);
    if (st != SAGALUX_OK) {
        snprintf(v->error, sizeof v->error, "%s: cannot blend: %s", path, sagalux_status_string(st));
        return -1;
    }
    /* as the CLI saves by default: upright (the orientation was applied on
     * loading and its tag reset), EXIF and ICC kept with a new thumbnail,
     * the source's format and depth, JPEG quality 92 */
    sagalux_file_format fmt = sagalux_format_from_name(path);
    if (fmt == SAGALUX_FORMAT_UNKNOWN) fmt = v->pic->original->source_format;
    sagalux_save_options so = sagalux_save_options_default(fmt);
    so.keep_metadata = 1;
    so.replace = replace; /* else a file that appeared since the name was chosen stays */
    st = sagalux_image_save(res, path, &so, err, sizeof err);
    sagalux_image_free(res);
    if (st != SAGALUX_OK) {
        snprintf(v->error, sizeof v->error, "%s", err);
        v->redraw = 1;
        return -1;
    }
    viewer_notice(v, "saved %s (strength %.2f)", path, v->strength);
    return 0;
}

int viewer_save(viewer *v, int new_name_when_taken)
{
    if (!can_save(v)) return -1;
    char path[4096], fresh[4096];
    save_name(v->pic->path, 1, path, sizeof path);
    if (access(path, F_OK) != 0) return viewer_save_to(v, path, 0);
    for (int n = 2; n < 10000; n++) {
        save_name(v->pic->path, n, fresh, sizeof fresh);
        if (access(fresh, F_OK) != 0) break;
    }
    if (new_name_when_taken) return viewer_save_to(v, fresh, 0);
    snprintf(v->ask_path, sizeof v->ask_path, "%s", path);
    snprintf(v->ask_new_path, sizeof v->ask_new_path, "%s", fresh);
    v->asking = 1;
    v->redraw = 1;
    return -1;
}

/* ------------------------------------------------------------ life */

int viewer_idle(viewer *v)
{
    if (v->n_files == 0) return !worker_busy(v->work);
    return !v->waiting && !worker_busy(v->work);
}

/* Whether a CUDA device asked for is listed (the CPU and auto always are). */
static int device_present(sagalux_context_options o)
{
    if (o.device != SAGALUX_DEVICE_CUDA) return 1;
    sagalux_device_info info[16];
    int n = sagalux_list_devices(info, 16);
    for (int i = 1; i < n && i < 16; i++)
        if (info[i].index == o.cuda_device) return 1;
    return 0;
}

static view_mode mode_from_name(const char *s)
{
    for (int m = 0; m < MODE_COUNT; m++)
        if (strcmp(s, mode_names[m]) == 0) return (view_mode)m;
    return MODE_SPLIT;
}

int viewer_init(viewer *v, const viewer_options *opt, char **paths, int n_paths)
{
    memset(v, 0, sizeof *v);
    v->opt = *opt;
    viewer_settings s = settings_default();
    char settings_file[4096], why[600], settings_notice[4800] = "", device_notice[200] = "";
    if (opt->remember && settings_path(settings_file, sizeof settings_file) == 0) {
        if (settings_load(&s, settings_file, why, sizeof why) != 0)
            /* the consequence first: a long path may run past the window's edge */
            snprintf(settings_notice, sizeof settings_notice, "default settings%s: the file %s: %s",
                     opt->scripted ? "" : " (the file is rewritten on quitting)", why, settings_file);
        else if (!opt->scripted && settings_writable(settings_file, why, sizeof why) != 0)
            snprintf(settings_notice, sizeof settings_notice, "settings cannot be saved (%s): they are lost on quitting",
                     why);
    }
    v->strength = s.strength;
    v->divider = s.divider;
    v->mode = mode_from_name(s.mode);
    v->device = opt->device;
    if (!opt->device_given && viewer_parse_device(s.device, &v->device) != 0) v->device = sagalux_context_options_default();
    if (!opt->device_given && !device_present(v->device)) {
        /* a GPU remembered from another machine or build: the CPU, and the
         * choice kept in the settings for when the GPU is back */
        snprintf(device_notice, sizeof device_notice, "the remembered device %s is not available: using the CPU",
                 s.device);
        snprintf(v->kept_device, sizeof v->kept_device, "%s", s.device);
        v->device = sagalux_context_options_default();
        v->device.device = SAGALUX_DEVICE_CPU;
    }

    SDL_SetHint(SDL_HINT_VIDEO_ALLOW_SCREENSAVER, "1");
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        fprintf(stderr, "sagalux-view: cannot open a window: %s\n", SDL_GetError());
        return -1;
    }
    v->window = SDL_CreateWindow("sagalux-view", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, opt->width,
                                 opt->height, SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI);
    if (v->window) v->renderer = SDL_CreateRenderer(v->window, -1, SDL_RENDERER_PRESENTVSYNC);
    if (v->window && !v->renderer) v->renderer = SDL_CreateRenderer(v->window, -1, 0);
    if (!v->renderer) {
        fprintf(stderr, "sagalux-view: cannot open a window: %s\n", SDL_GetError());
        return -1;
    }
    SDL_RendererInfo info;
    int limit = 4096;
    if (SDL_GetRendererInfo(v->renderer, &info) == 0) {
        if (info.max_texture_width > 0 && info.max_texture_width < limit) limit = info.max_texture_width;
        if (info.max_texture_height > 0 && info.max_texture_height < limit) limit = info.max_texture_height;
        if (opt->verbose)
            fprintf(stderr, "sagalux-view: renderer %s, textures up to %dx%d\n", info.name, info.max_texture_width,
                    info.max_texture_height);
    }
    limit -= 2; /* a tile's texture holds a one-pixel apron on each side */
    v->tile = opt->tile > 0 && opt->tile < limit ? opt->tile : limit;
    tile_layer_init(&v->original, v->tile);
    tile_layer_init(&v->enhanced, v->tile);
    SDL_SetRenderDrawBlendMode(v->renderer, SDL_BLENDMODE_BLEND);
    SDL_EventState(SDL_DROPFILE, SDL_ENABLE);
    update_size(v);

    v->wake_event = SDL_RegisterEvents(1);
    v->work = worker_create(opt->model_path, v->device, wake_window, &v->wake_event);
    if (!v->work) {
        fprintf(stderr, "sagalux-view: cannot start the worker thread\n");
        return -1;
    }
    snprintf(v->device_label, sizeof v->device_label, "opening the device…");
    /* said once, long enough to be read while the first photo loads */
    if (settings_notice[0] || device_notice[0]) {
        viewer_notice(v, "%s%s%s", device_notice, device_notice[0] && settings_notice[0] ? "; " : "", settings_notice);
        v->notice_until = SDL_GetTicks() + 12000;
    }
    if (n_paths > 0) viewer_open_paths(v, paths, n_paths);
    return 0;
}

void viewer_close(viewer *v)
{
    if (v->opt.remember && !v->opt.scripted) { /* a script's settings are the script's, not the user's */
        viewer_settings s = settings_default();
        s.strength = v->strength;
        s.divider = v->divider;
        snprintf(s.mode, sizeof s.mode, "%s", mode_names[v->mode]);
        if (v->device.device == SAGALUX_DEVICE_CPU) snprintf(s.device, sizeof s.device, "cpu");
        else if (v->device.device == SAGALUX_DEVICE_CUDA) snprintf(s.device, sizeof s.device, "cuda:%d", v->device.cuda_device);
        if (v->kept_device[0]) snprintf(s.device, sizeof s.device, "%s", v->kept_device);
        char path[4096];
        if (settings_path(path, sizeof path) == 0 && settings_save(&s, path) != 0 && v->opt.verbose)
            fprintf(stderr, "sagalux-view: %s: cannot save the settings: %s\n", path, strerror(errno));
    }
    worker_destroy(v->work);
    for (int i = 0; i < VIEWER_CACHE; i++) picture_release(v->cache[i]);
    picture_release(v->pic);
    tile_layer_clear(&v->original);
    tile_layer_clear(&v->enhanced);
    viewer_forget_sides(v);
    text_close(v->font);
    for (int i = 0; i < v->n_files; i++) free(v->files[i]);
    free(v->files);
    if (v->renderer) SDL_DestroyRenderer(v->renderer);
    if (v->window) SDL_DestroyWindow(v->window);
    SDL_Quit();
}

/* What the worker reports, applied to the window. */
static void take_worker_events(viewer *v)
{
    worker_event ev;
    while (worker_poll(v->work, &ev)) {
        int current = ev.pic && v->n_files && strcmp(ev.pic->path, v->files[v->index]) == 0;
        switch (ev.kind) {
        case WORKER_DEVICE:
            snprintf(v->device_label, sizeof v->device_label, "%.159s", ev.message);
            break;
        case WORKER_LOADED:
            if (current) present(v, ev.pic);
            break;
        case WORKER_ENHANCED:
            if (current && ev.pic == v->pic) {
                tile_layer_clear(&v->enhanced);
                v->waiting = 0;
            }
            break;
        case WORKER_FAILED:
            if (!ev.pic || current) {
                if (current && ev.pic != v->pic) drop_picture(v); /* the photo before it must not pass for it */
                snprintf(v->error, sizeof v->error, "%s", ev.message);
                if (!ev.pic) snprintf(v->device_label, sizeof v->device_label, "no device");
                v->waiting = 0;
            }
            break;
        }
        picture_release(ev.pic);
        v->redraw = 1;
    }
}

/* One scripted action; 0, or -1 when it cannot be done. */
static int run_action(viewer *v, const script_action *a)
{
    SDL_Rect area = viewer_area(v, 0);
    char err[512];
    switch (a->kind) {
    case ACT_DIVIDER: v->divider = a->a; break;
    case ACT_ZOOM:
        if (a->a == 0.0) viewer_fit(v);
        else viewer_zoom_at(v, a->a, area.w / 2.0, area.h / 2.0);
        break;
    case ACT_CENTER:
        if (v->pic) {
            v->fitted = 0;
            centre_on(v, a->a, a->b);
        }
        break;
    case ACT_STRENGTH: viewer_set_strength(v, (float)a->a); break;
    case ACT_MODE: viewer_set_mode(v, mode_from_name(a->text)); break;
    case ACT_FLASH: v->flash = a->a != 0.0; break;
    case ACT_NEXT: viewer_show(v, v->index + 1); break;
    case ACT_PREV: viewer_show(v, v->index - 1); break;
    case ACT_SIZE:
        SDL_SetWindowSize(v->window, (int)a->a, (int)a->b);
        viewer_resized(v);
        break;
    case ACT_DEVICE:
        if (viewer_set_device(v, a->text) != 0) {
            fprintf(stderr, "sagalux-view: --set device=%s: not a device\n", a->text);
            return -1;
        }
        break;
    case ACT_SAVE: return viewer_save(v, 1);
    case ACT_SCREENSHOT:
        if (viewer_screenshot(v, a->text, err, sizeof err) != 0) {
            fprintf(stderr, "sagalux-view: %s\n", err);
            return -1;
        }
        if (v->opt.verbose) fprintf(stderr, "sagalux-view: wrote %s\n", a->text);
        break;
    default: return -1;
    }
    v->redraw = 1;
    return 0;
}

int viewer_run(viewer *v, const script_action *script, int n_script)
{
    int next_action = 0, status = 0;
    Uint64 freq = SDL_GetPerformanceFrequency(), last = SDL_GetPerformanceCounter();
    while (!v->quit) {
        int busy = worker_busy(v->work);
        int animate = busy || v->drag != DRAG_NONE;
        SDL_Event e;
        /* Wait for input when nothing moves. A drag draws every 16 ms; while
         * the network runs (on the same cores, maybe), every 25 ms: 40 frames
         * a second keep the window live and leave the network its time. The
         * drawing's own time counts in the period. */
        int wait = 500;
        if (animate || script) {
            Uint64 period = v->drag != DRAG_NONE ? 16 : 25;
            Uint64 since = (SDL_GetPerformanceCounter() - last) * 1000 / freq;
            wait = since >= period ? 0 : (int)(period - since);
        }
        if (wait == 0 ? SDL_PollEvent(&e) : SDL_WaitEventTimeout(&e, wait)) {
            do {
                if (e.type == v->wake_event) take_worker_events(v);
                else viewer_handle_event(v, &e);
            } while (SDL_PollEvent(&e));
        }
        take_worker_events(v);
        if (v->notice[0] && SDL_TICKS_PASSED(SDL_GetTicks(), v->notice_until)) {
            v->notice[0] = 0;
            v->redraw = 1;
        }
        if (script && viewer_idle(v)) {
            while (next_action < n_script && viewer_idle(v))
                if (run_action(v, &script[next_action++]) != 0) status = 1;
            if (next_action == n_script && viewer_idle(v)) v->quit = 1;
        }
        Uint64 now = SDL_GetPerformanceCounter();
        if (busy || v->redraw) {
            viewer_draw(v);
            v->redraw = 0;
            if (busy) {
                v->busy_frames++;
                v->busy_seconds += (double)(now - last) / freq;
            }
            last = now;
        }
    }
    if (v->opt.verbose && v->busy_frames > 1)
        fprintf(stderr, "sagalux-view: %lu frames in %.1f s while the network ran (%.0f frames a second)\n",
                v->busy_frames, v->busy_seconds, v->busy_frames / v->busy_seconds);
    return status;
}
