/* sagalux-view: the window's state and what acts on it.
 *
 * viewer.c: photos, device, strength, zoom, saving (the actions keys, mouse
 * and scripts share); viewer_draw.c: the frame; viewer_input.c: events. */
#ifndef SAGALUX_VIEWER_H
#define SAGALUX_VIEWER_H

#include <SDL.h>

#include "script.h"
#include "settings.h"
#include "text.h"
#include "tiles.h"
#include "view_math.h"
#include "worker.h"

typedef enum view_mode { MODE_SPLIT, MODE_SIDE, MODE_ENHANCED, MODE_ORIGINAL, MODE_COUNT } view_mode;

enum { VIEWER_CACHE = 4 };

typedef struct viewer_options {
    const char *model_path;
    const char *font_path;
    sagalux_context_options device;
    int device_given;        /* --device was given: it wins over the remembered one */
    int tile;                /* largest texture tile (0: the renderer's limit, at most 4096) */
    int width, height;       /* the window's first size */
    int remember;            /* read and write the settings file */
    int scripted;            /* --set or --screenshot: the settings file is read, never written */
    int verbose;
} viewer_options;

/* What a side's texture shows (viewer_draw.c redraws it when this changes). */
typedef struct side_key {
    const picture *pic;
    int network;             /* the blend (1) or the original (0) */
    vm_view view;
    float strength;
    int w, h;
} side_key;

typedef struct viewer {
    viewer_options opt;
    SDL_Window *window;
    SDL_Renderer *renderer;
    Uint32 wake_event;
    text *font;
    int font_px;
    char font_error[256];
    int dw, dh;              /* the drawable's size (HiDPI: more than the window's) */
    double dpi;              /* drawable pixels per window coordinate */
    int tile;

    worker *work;
    sagalux_context_options device;
    char device_label[160];
    char kept_device[16];    /* a remembered device that is not here: saved back unless another is chosen */

    char **files;            /* the photos to step through */
    int n_files, index;

    picture *pic;            /* the photo shown (NULL before the first loads) */
    picture *cache[VIEWER_CACHE]; /* recently shown, most recent first, for going back */
    int waiting;             /* the shown photo's load or network is under way */
    tile_layer original, enhanced;
    SDL_Texture *side[2];    /* original and enhanced side, each drawn at the area's size */
    side_key side_key[2];
    vm_view view;
    int fitted;              /* the view follows the window's size (not zoomed by hand) */
    int view_w, view_h;      /* the photo size the view was made for */

    float strength;
    double divider;
    view_mode mode;
    int flash;               /* show the original on both sides */
    int help;

    enum { DRAG_NONE, DRAG_DIVIDER, DRAG_PAN, DRAG_SLIDER } drag;
    double mouse_x, mouse_y; /* drawable pixels */

    char error[640];         /* shown in the window until the next photo */
    char notice[640];        /* a passing message ("saved …") */
    Uint32 notice_until;
    int asking;              /* the save-over question is on screen */
    char ask_path[4096], ask_new_path[4096];

    int redraw;
    unsigned long busy_frames;
    double busy_seconds;
    int quit;
} viewer;

/* Window, renderer, font, worker; the files to show. 0, or -1 with a message on stderr. */
int viewer_init(viewer *v, const viewer_options *opt, char **files, int n_files);
void viewer_close(viewer *v);
/* Events until the window closes, or until the script's actions are done
 * (script may be NULL). Returns the exit status. */
int viewer_run(viewer *v, const script_action *script, int n_script);

/* Actions (viewer.c). */
void viewer_show(viewer *v, int index);
void viewer_set_files(viewer *v, char **files, int n_files, int index); /* takes files */
int viewer_open_paths(viewer *v, char **paths, int n); /* files, or one folder; 0 or -1 with v->error */
void viewer_set_strength(viewer *v, float s);
void viewer_set_mode(viewer *v, view_mode m);
/* "auto", "cpu", "cuda", "cuda:N" into context options; -1 when not one. */
int viewer_parse_device(const char *spec, sagalux_context_options *out);
int viewer_set_device(viewer *v, const char *spec); /* "auto", "cpu", "cuda", "cuda:N"; -1 when not one */
void viewer_cycle_device(viewer *v);
void viewer_zoom_at(viewer *v, double scale, double x, double y);
void viewer_fit(viewer *v);
/* The window's size or display changed: drawable size, font, view. */
void viewer_resized(viewer *v);
/* Ctrl+S: the blended result beside the photo; asks before replacing a file
 * unless new_name_when_taken, which picks a new name instead. 0 when saved. */
int viewer_save(viewer *v, int new_name_when_taken);
int viewer_save_to(viewer *v, const char *path, int replace);
void viewer_notice(viewer *v, const char *fmt, ...);
/* The view's area: the whole window above the status bar, or one of the two
 * side-by-side panes (pane 0 left, 1 right). */
SDL_Rect viewer_area(const viewer *v, int pane);
int viewer_bar_height(const viewer *v);
/* Whether the photo on screen is loaded and, unless it failed, enhanced. */
int viewer_idle(viewer *v);

/* Drawing (viewer_draw.c). */
void viewer_draw(viewer *v);
/* Drops the sides' textures (the renderer lost its targets, or the photo went away). */
void viewer_forget_sides(viewer *v);
/* The strength slider's track, for hit-testing. */
SDL_Rect viewer_slider_rect(const viewer *v);
int viewer_screenshot(viewer *v, const char *path, char *err, size_t err_size);

/* Events (viewer_input.c). */
void viewer_handle_event(viewer *v, const SDL_Event *e);

#endif
