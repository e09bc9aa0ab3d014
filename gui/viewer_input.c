/* sagalux-view: keys, mouse, drops and window events (viewer.h). */
#include <stdlib.h>
#include <string.h>

#include "viewer.h"

enum { MAX_DROPPED = 4096 };

/* Files dropped in one gesture arrive one event each, between BEGIN and COMPLETE. */
static char *dropped[MAX_DROPPED];
static int n_dropped;

static void finish_drop(viewer *v)
{
    if (n_dropped > 0) viewer_open_paths(v, dropped, n_dropped);
    for (int i = 0; i < n_dropped; i++) SDL_free(dropped[i]);
    n_dropped = 0;
}

static int in_rect(SDL_Rect r, double x, double y, int margin)
{
    return x >= r.x - margin && x < r.x + r.w + margin && y >= r.y - margin && y < r.y + r.h + margin;
}

/* Whether the pointer at (x, y) is on the split's divider. */
static int on_divider(const viewer *v, double x, double y)
{
    SDL_Rect a = viewer_area(v, 0);
    return v->mode == MODE_SPLIT && v->pic && y < a.h &&
           vm_divider_hit(&v->view, v->pic->original->width, a.w, v->divider, x - a.x, 8 * v->dpi);
}

static void slider_to(viewer *v, double x)
{
    SDL_Rect s = viewer_slider_rect(v);
    /* steps of 0.01, as the value is shown */
    double f = (x - s.x) / (double)s.w;
    viewer_set_strength(v, (float)(SDL_floor(f * 100.0 + 0.5) / 100.0));
}

/* The view's area the pointer is in (side by side: either pane; both show the same view). */
static SDL_Rect area_at(const viewer *v, double x)
{
    SDL_Rect right = viewer_area(v, 1);
    return v->mode == MODE_SIDE && x >= right.x ? right : viewer_area(v, 0);
}

static void pan(viewer *v, double dx, double dy)
{
    if (!v->pic) return;
    SDL_Rect a = viewer_area(v, 0);
    vm_pan(&v->view, dx, dy, v->pic->original->width, v->pic->original->height, a.w, a.h);
    v->fitted = 0;
    v->redraw = 1;
}

static void zoom_steps(viewer *v, double steps, double x, double y)
{
    viewer_zoom_at(v, v->view.scale * SDL_pow(1.25, steps), x, y);
}

static void answer_question(viewer *v, SDL_Keycode k)
{
    if (k == SDLK_o) {
        v->asking = 0;
        viewer_save_to(v, v->ask_path, 1); /* the user chose to overwrite it */
    } else if (k == SDLK_n) {
        v->asking = 0;
        viewer_save_to(v, v->ask_new_path, 0);
    } else if (k == SDLK_ESCAPE) {
        v->asking = 0;
        viewer_notice(v, "not saved");
    }
    v->redraw = 1;
}

static void key_down(viewer *v, const SDL_KeyboardEvent *k)
{
    SDL_Keycode key = k->keysym.sym;
    int ctrl = k->keysym.mod & KMOD_CTRL, shift = k->keysym.mod & KMOD_SHIFT;
    if (v->asking) {
        answer_question(v, key);
        return;
    }
    SDL_Rect a = viewer_area(v, 0);
    double step = 0.1 * (a.w < a.h ? a.w : a.h);
    switch (key) {
    case SDLK_ESCAPE:
        if (v->help) v->help = 0;
        else v->quit = 1;
        break;
    case SDLK_q: v->quit = 1; break;
    case SDLK_h: case SDLK_F1: v->help = !v->help; break;
    case SDLK_BACKSLASH: case SDLK_SPACE: v->flash = 1; break;
    case SDLK_RIGHT: case SDLK_LEFT: case SDLK_UP: case SDLK_DOWN:
        if (shift || key == SDLK_UP || key == SDLK_DOWN)
            pan(v, key == SDLK_LEFT ? step : key == SDLK_RIGHT ? -step : 0, key == SDLK_UP ? step : key == SDLK_DOWN ? -step : 0);
        else viewer_show(v, v->index + (key == SDLK_RIGHT ? 1 : -1));
        break;
    case SDLK_PAGEDOWN: viewer_show(v, v->index + 1); break;
    case SDLK_PAGEUP: viewer_show(v, v->index - 1); break;
    case SDLK_HOME: viewer_show(v, 0); break;
    case SDLK_END: viewer_show(v, v->n_files - 1); break;
    case SDLK_TAB: viewer_set_mode(v, (view_mode)((v->mode + (shift ? MODE_COUNT - 1 : 1)) % MODE_COUNT)); break;
    case SDLK_PLUS: case SDLK_EQUALS: case SDLK_KP_PLUS: zoom_steps(v, 1, a.w / 2.0, a.h / 2.0); break;
    case SDLK_MINUS: case SDLK_KP_MINUS: zoom_steps(v, -1, a.w / 2.0, a.h / 2.0); break;
    case SDLK_0: case SDLK_f: viewer_fit(v); break;
    case SDLK_1: viewer_zoom_at(v, 1.0, a.w / 2.0, a.h / 2.0); break;
    case SDLK_LEFTBRACKET: viewer_set_strength(v, v->strength - 0.05f); break;
    case SDLK_RIGHTBRACKET: viewer_set_strength(v, v->strength + 0.05f); break;
    case SDLK_d: viewer_cycle_device(v); break;
    case SDLK_s:
        if (ctrl) viewer_save(v, 0);
        break;
    default: return;
    }
    v->redraw = 1;
}

static void mouse_down(viewer *v, double x, double y, int clicks)
{
    SDL_Rect a = viewer_area(v, 0);
    if (in_rect(viewer_slider_rect(v), x, y, (int)(8 * v->dpi))) {
        v->drag = DRAG_SLIDER;
        slider_to(v, x);
    } else if (on_divider(v, x, y)) {
        v->drag = DRAG_DIVIDER;
    } else if (y < a.h && clicks == 2) { /* double click: fit, or 100% about the pointer */
        SDL_Rect at = area_at(v, x);
        if (v->fitted && v->pic) viewer_zoom_at(v, 1.0, x - at.x, y - at.y);
        else viewer_fit(v);
    } else if (y < a.h) {
        v->drag = DRAG_PAN;
    }
}

static void mouse_move(viewer *v, double x, double y)
{
    double dx = x - v->mouse_x, dy = y - v->mouse_y;
    SDL_Rect a = viewer_area(v, 0);
    if (v->drag == DRAG_DIVIDER && v->pic) {
        v->divider = vm_divider_from_x(&v->view, v->pic->original->width, a.w, x - a.x);
        v->redraw = 1;
    } else if (v->drag == DRAG_PAN) {
        pan(v, dx, dy);
    } else if (v->drag == DRAG_SLIDER) {
        slider_to(v, x);
    }
    /* the pointer says what dragging here would do */
    static SDL_Cursor *arrow, *sizing, *hand;
    if (!arrow) {
        arrow = SDL_CreateSystemCursor(SDL_SYSTEM_CURSOR_ARROW);
        sizing = SDL_CreateSystemCursor(SDL_SYSTEM_CURSOR_SIZEWE);
        hand = SDL_CreateSystemCursor(SDL_SYSTEM_CURSOR_HAND);
    }
    SDL_Cursor *c = v->drag == DRAG_DIVIDER || on_divider(v, x, y) ? sizing : y < a.h && v->pic ? hand : arrow;
    if (c) SDL_SetCursor(c);
}

void viewer_handle_event(viewer *v, const SDL_Event *e)
{
    switch (e->type) {
    case SDL_QUIT: v->quit = 1; break;
    case SDL_WINDOWEVENT:
        if (e->window.event == SDL_WINDOWEVENT_SIZE_CHANGED || e->window.event == SDL_WINDOWEVENT_DISPLAY_CHANGED) {
            viewer_resized(v);
        }
        v->redraw = 1;
        break;
    case SDL_RENDER_TARGETS_RESET:
    case SDL_RENDER_DEVICE_RESET:
        viewer_forget_sides(v);
        tile_layer_clear(&v->original);
        tile_layer_clear(&v->enhanced);
        v->redraw = 1;
        break;
    case SDL_KEYDOWN: key_down(v, &e->key); break;
    case SDL_KEYUP:
        if (e->key.keysym.sym == SDLK_BACKSLASH || e->key.keysym.sym == SDLK_SPACE) {
            v->flash = 0;
            v->redraw = 1;
        }
        break;
    case SDL_MOUSEBUTTONDOWN:
        v->mouse_x = e->button.x * v->dpi;
        v->mouse_y = e->button.y * v->dpi;
        if (e->button.button == SDL_BUTTON_LEFT) mouse_down(v, v->mouse_x, v->mouse_y, e->button.clicks);
        break;
    case SDL_MOUSEBUTTONUP:
        if (e->button.button == SDL_BUTTON_LEFT) v->drag = DRAG_NONE;
        break;
    case SDL_MOUSEMOTION: {
        double x = e->motion.x * v->dpi, y = e->motion.y * v->dpi;
        mouse_move(v, x, y);
        v->mouse_x = x;
        v->mouse_y = y;
        break;
    }
    case SDL_MOUSEWHEEL: {
        SDL_Rect at = area_at(v, v->mouse_x);
        double steps = e->wheel.preciseY != 0.0f ? e->wheel.preciseY : e->wheel.y;
        if (v->mouse_y < at.h) zoom_steps(v, steps, v->mouse_x - at.x, v->mouse_y - at.y);
        break;
    }
    case SDL_DROPBEGIN: n_dropped = 0; break;
    case SDL_DROPFILE:
        if (n_dropped < MAX_DROPPED) dropped[n_dropped++] = e->drop.file;
        else SDL_free(e->drop.file);
        break;
    case SDL_DROPCOMPLETE: finish_drop(v); break;
    default: break;
    }
}
