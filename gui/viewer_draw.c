/* sagalux-view: drawing a frame (viewer.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "help.h"
#include "viewer.h"

static const SDL_Color WHITE = {255, 255, 255, 255}, GREY = {170, 170, 170, 255}, RED = {255, 110, 100, 255},
                       YELLOW = {255, 214, 102, 255};

static void fill(SDL_Renderer *r, SDL_Rect rect, Uint8 red, Uint8 green, Uint8 blue, Uint8 alpha)
{
    SDL_SetRenderDrawColor(r, red, green, blue, alpha);
    SDL_RenderFillRect(r, &rect);
}

static int pad(const viewer *v) { return (int)(6 * v->dpi + 0.5); }

/* A label on a dark translucent box; right-aligned at x when right. */
static void label(viewer *v, int x, int y, const char *s, SDL_Color c, int right)
{
    if (!v->font || !s[0]) return;
    int w = text_width(v->font, s), h = text_line_height(v->font), p = pad(v);
    if (right) x -= w + 2 * p;
    fill(v->renderer, (SDL_Rect){x, y, w + 2 * p, h + p}, 0, 0, 0, 150);
    text_draw(v->font, x + p, y + p / 2, s, c);
}

/* A message box in the middle of the whole view (both panes side by side). */
static void centred_box(viewer *v, const char *lines[], int n, SDL_Color first)
{
    if (!v->font) return;
    SDL_Rect a = viewer_area(v, 0);
    a.w = v->dw; /* side by side, pane 0 is only the left half */
    int lh = text_line_height(v->font), p = 2 * pad(v), w = 0;
    for (int i = 0; i < n; i++) {
        int lw = text_width(v->font, lines[i]);
        if (lw > w) w = lw;
    }
    if (w > v->dw - 4 * p) w = v->dw - 4 * p; /* a margin each side: the box is seen whole */
    SDL_Rect box = {(a.w - w) / 2 - p, (a.h - n * lh) / 2 - p, w + 2 * p, n * lh + 2 * p};
    fill(v->renderer, box, 20, 20, 20, 230);
    SDL_SetRenderDrawColor(v->renderer, 90, 90, 90, 255);
    SDL_RenderDrawRect(v->renderer, &box);
    SDL_RenderSetClipRect(v->renderer, &box);
    for (int i = 0; i < n; i++) text_draw(v->font, box.x + p, box.y + p + i * lh, lines[i], i == 0 ? first : WHITE);
    SDL_RenderSetClipRect(v->renderer, NULL);
}

/* What a side's picture depends on: it is drawn again only when this changes. */
static side_key key_of(const viewer *v, int enhanced, SDL_Rect a)
{
    side_key k;
    memset(&k, 0, sizeof k); /* padding too: keys are compared with memcmp */
    k.pic = v->pic;
    k.network = enhanced && v->pic->network && !v->flash;
    k.view = v->view;
    k.strength = k.network ? v->strength : 0.0f;
    k.w = a.w;
    k.h = a.h;
    return k;
}

/* Transparent pixels show a grey checkerboard, as image viewers draw them,
 * under the photo's visible part of an area aw x ah. */
static void draw_checkerboard(viewer *v, int aw, int ah)
{
    const sagalux_image *img = v->pic->original;
    double x0, x1, y0, y1;
    vm_image_to_screen(&v->view, 0, 0, &x0, &y0);
    vm_image_to_screen(&v->view, img->width, img->height, &x1, &y1);
    /* rounded as the tiles round their edges, so none of it shows beside the photo */
    SDL_Rect photo = {(int)SDL_floor(x0 < 0 ? 0 : x0 + 0.5), (int)SDL_floor(y0 < 0 ? 0 : y0 + 0.5), 0, 0};
    photo.w = (int)SDL_floor(x1 > aw ? aw : x1 + 0.5) - photo.x;
    photo.h = (int)SDL_floor(y1 > ah ? ah : y1 + 0.5) - photo.y;
    if (photo.w <= 0 || photo.h <= 0) return;
    fill(v->renderer, photo, 204, 204, 204, 255);
    int sq = (int)(8 * v->dpi + 0.5);
    SDL_RenderSetClipRect(v->renderer, &photo);
    SDL_SetRenderDrawColor(v->renderer, 153, 153, 153, 255);
    for (int y = 0; y < photo.y + photo.h; y += sq) /* squares fixed to the screen, so panning moves the photo over them */
        for (int x = ((y / sq) % 2) * sq; x < photo.x + photo.w; x += 2 * sq)
            if (y + sq > photo.y && x + sq > photo.x) SDL_RenderFillRect(v->renderer, &(SDL_Rect){x, y, sq, sq});
    SDL_RenderSetClipRect(v->renderer, NULL);
}

/* One side of the comparison, as the view places it in area a, shown in
 * clip. Each side is drawn whole into a texture of the area's size and then
 * copied 1:1: cutting a scaled copy with a clip rectangle would shift its
 * sampling (SDL's software renderer rounds the cut source), and a frame that
 * only moves the divider or the progress bar redraws nothing of the photo. */
static void draw_side(viewer *v, int enhanced, SDL_Rect a, SDL_Rect clip)
{
    if (clip.w <= 0 || clip.h <= 0) return;
    side_key k = key_of(v, enhanced, a);
    SDL_Texture **tex = &v->side[enhanced];
    int tw = 0, th = 0;
    if (*tex) SDL_QueryTexture(*tex, NULL, NULL, &tw, &th);
    if (*tex && (tw != a.w || th != a.h)) {
        SDL_DestroyTexture(*tex);
        *tex = NULL;
    }
    if (!*tex) {
        *tex = SDL_CreateTexture(v->renderer, SDL_PIXELFORMAT_RGBA32, SDL_TEXTUREACCESS_TARGET, a.w, a.h);
        if (!*tex) {
            snprintf(v->error, sizeof v->error, "cannot draw the photo: %s", SDL_GetError());
            return;
        }
        memset(&v->side_key[enhanced], 0, sizeof v->side_key[enhanced]);
    }
    if (memcmp(&k, &v->side_key[enhanced], sizeof k) != 0) {
        SDL_SetRenderTarget(v->renderer, *tex);
        SDL_SetRenderDrawColor(v->renderer, 40, 40, 40, 255);
        SDL_RenderClear(v->renderer);
        if (v->pic->original->alpha) draw_checkerboard(v, a.w, a.h);
        tile_layer *t = k.network ? &v->enhanced : &v->original;
        int rc = tile_layer_draw(t, v->renderer, &v->pic->original_levels, k.network ? &v->pic->network_levels : NULL,
                                 v->strength, &v->view, 0, 0, a.w, a.h);
        SDL_SetRenderTarget(v->renderer, NULL);
        if (rc != 0) {
            snprintf(v->error, sizeof v->error, "cannot draw the photo: %s", SDL_GetError());
            return;
        }
        v->side_key[enhanced] = k;
    }
    SDL_Rect src = {clip.x - a.x, clip.y - a.y, clip.w, clip.h};
    SDL_RenderCopy(v->renderer, *tex, &src, &clip);
}

void viewer_forget_sides(viewer *v)
{
    for (int i = 0; i < 2; i++) {
        if (v->side[i]) SDL_DestroyTexture(v->side[i]);
        v->side[i] = NULL;
        memset(&v->side_key[i], 0, sizeof v->side_key[i]);
    }
}

static void draw_photo(viewer *v)
{
    SDL_Rect a = viewer_area(v, 0);
    const picture *p = v->pic;
    const char *after = !p->network ? "" : v->flash ? "Original (held)" : "Enhanced";
    int top = pad(v);
    switch (v->mode) {
    case MODE_SPLIT: {
        int dx = a.x + vm_divider_x(&v->view, p->original->width, a.w, v->divider);
        draw_side(v, 0, a, (SDL_Rect){a.x, a.y, dx - a.x, a.h});
        draw_side(v, 1, a, (SDL_Rect){dx, a.y, a.x + a.w - dx, a.h});
        int lw = (int)(2 * v->dpi + 0.5), hh = (int)(28 * v->dpi), hw = (int)(10 * v->dpi);
        int hy = a.y + vm_handle_y(&v->view, p->original->height, a.h, hh);
        fill(v->renderer, (SDL_Rect){dx - lw / 2, a.y, lw, a.h}, 255, 255, 255, 220);
        fill(v->renderer, (SDL_Rect){dx - hw / 2, hy, hw, hh}, 255, 255, 255, 240);
        label(v, a.x + top, top, "Original", WHITE, 0);
        label(v, a.x + a.w - top, top, after, WHITE, 1);
        break;
    }
    case MODE_SIDE: {
        SDL_Rect b = viewer_area(v, 1);
        draw_side(v, 0, a, a);
        draw_side(v, 1, b, b);
        fill(v->renderer, (SDL_Rect){b.x - 1, b.y, 2, b.h}, 0, 0, 0, 255);
        label(v, a.x + top, top, "Original", WHITE, 0);
        label(v, b.x + top, top, after, WHITE, 0);
        break;
    }
    case MODE_ENHANCED:
        draw_side(v, 1, a, a);
        label(v, a.x + top, top, p->network ? after : "Original (enhancing…)", WHITE, 0);
        break;
    default:
        draw_side(v, 0, a, a);
        label(v, a.x + top, top, "Original", WHITE, 0);
        break;
    }
}

SDL_Rect viewer_slider_rect(const viewer *v)
{
    int bar = viewer_bar_height(v), lh = text_line_height(v->font), p = pad(v);
    int x = p + (v->font ? text_width(v->font, "Strength ") : 0) + p;
    int w = (int)(220 * v->dpi);
    return (SDL_Rect){x, v->dh - bar + p + lh + lh / 2 - (int)(2 * v->dpi), w, (int)(4 * v->dpi) + 1};
}

static void draw_bar(viewer *v)
{
    int bar = viewer_bar_height(v), p = pad(v), lh = text_line_height(v->font);
    fill(v->renderer, (SDL_Rect){0, v->dh - bar, v->dw, bar}, 24, 24, 24, 255);
    char line[1024] = "";
    if (v->pic) {
        const char *slash = strrchr(v->pic->path, '/');
        int n = snprintf(line, sizeof line, "%d/%d   %s   %d×%d", v->index + 1, v->n_files,
                         slash ? slash + 1 : v->pic->path, v->pic->original->width, v->pic->original->height);
        if (v->pic->network)
            n += snprintf(line + n, sizeof line - (size_t)n, "   network %.0f ms on %s", v->pic->network_ms, v->pic->device);
        snprintf(line + n, sizeof line - (size_t)n, "   zoom %.0f%%", v->view.scale * 100.0);
    } else if (v->n_files) {
        snprintf(line, sizeof line, "%d/%d   %s", v->index + 1, v->n_files, v->files[v->index]);
    } else {
        snprintf(line, sizeof line, "no photo");
    }
    int y = v->dh - bar + p;
    int used = text_draw(v->font, p, y, line, WHITE);
    char dev[200];
    snprintf(dev, sizeof dev, "%s   H: help", v->device_label);
    int dev_w = text_width(v->font, dev);
    if (v->font && p + used + 4 * p + dev_w <= v->dw) text_draw(v->font, v->dw - p - dev_w, y, dev, GREY);

    /* strength slider */
    y += lh;
    text_draw(v->font, p, y, "Strength", WHITE);
    SDL_Rect s = viewer_slider_rect(v);
    fill(v->renderer, s, 90, 90, 90, 255);
    fill(v->renderer, (SDL_Rect){s.x, s.y, (int)(s.w * v->strength), s.h}, 255, 214, 102, 255);
    int knob = (int)(12 * v->dpi);
    fill(v->renderer, (SDL_Rect){s.x + (int)(s.w * v->strength) - knob / 4, s.y + s.h / 2 - knob / 2, knob / 2, knob},
         255, 255, 255, 255);
    char val[32];
    snprintf(val, sizeof val, "%.2f", v->strength);
    int x = s.x + s.w + 2 * p;
    x += text_draw(v->font, x, y, val, WHITE) + 4 * p;

    /* progress of the network, or the passing notice */
    if (v->waiting && !v->error[0]) {
        float f = worker_progress(v->work);
        int pw = (int)(200 * v->dpi);
        char what[64];
        snprintf(what, sizeof what, v->pic ? "enhancing %.0f%%" : "loading", 100.0 * f);
        x += text_draw(v->font, x, y, what, YELLOW) + 2 * p;
        fill(v->renderer, (SDL_Rect){x, s.y, pw, s.h}, 90, 90, 90, 255);
        fill(v->renderer, (SDL_Rect){x, s.y, (int)(pw * f), s.h}, 120, 200, 255, 255);
        x += pw + 4 * p;
    }
    if (v->notice[0]) text_draw(v->font, x, y, v->notice, YELLOW); /* also while loading: a notice at start is read then */
}

static void draw_help(viewer *v)
{
    const char *lines[32] = {"sagalux-view"};
    int n = 1;
    for (int i = 0; i < viewer_help_count && n < 32; i++) lines[n++] = viewer_help_lines[i];
    centred_box(v, lines, n, YELLOW);
}

static void draw_frame(viewer *v)
{
    SDL_SetRenderDrawColor(v->renderer, 40, 40, 40, 255);
    SDL_RenderClear(v->renderer);
    if (v->pic) draw_photo(v);
    if (v->error[0]) {
        const char *lines[] = {"Error", v->error};
        centred_box(v, lines, 2, RED);
    } else if (!v->pic) {
        const char *lines[] = {v->n_files ? "Loading…" : "Drop photos or a folder here",
                               v->n_files ? v->files[v->index] : "(or give them on the command line)"};
        centred_box(v, lines, 2, WHITE);
    }
    if (v->asking) {
        char l1[4300], l2[4300];
        snprintf(l1, sizeof l1, "%s exists.", v->ask_path);
        snprintf(l2, sizeof l2, "N: save as %s", v->ask_new_path);
        const char *lines[] = {l1, "O: replace it", l2, "Esc: cancel"};
        centred_box(v, lines, 4, YELLOW);
    }
    if (v->help) draw_help(v);
    draw_bar(v);
}

void viewer_draw(viewer *v)
{
    draw_frame(v);
    SDL_RenderPresent(v->renderer);
}

int viewer_screenshot(viewer *v, const char *path, char *err, size_t err_size)
{
    draw_frame(v); /* read back before presenting: after it the buffer's contents are undefined */
    size_t n = (size_t)v->dw * v->dh;
    uint8_t *px = malloc(n * 4);
    sagalux_image *img = NULL;
    if (!px || sagalux_image_create(v->dw, v->dh, 0, &img) != SAGALUX_OK) {
        free(px);
        snprintf(err, err_size, "%s: out of memory for a screenshot", path);
        return -1;
    }
    if (SDL_RenderReadPixels(v->renderer, NULL, SDL_PIXELFORMAT_RGBA32, px, v->dw * 4) != 0) {
        snprintf(err, err_size, "%s: cannot read the window: %s", path, SDL_GetError());
        free(px);
        sagalux_image_free(img);
        return -1;
    }
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < n; i++) img->rgb[c * n + i] = px[4 * i + c] / 255.0f;
    free(px);
    sagalux_save_options so = sagalux_save_options_default(SAGALUX_FORMAT_PNG);
    so.replace = 1; /* the path --screenshot names is the file asked for */
    sagalux_status st = sagalux_image_save(img, path, &so, err, err_size);
    sagalux_image_free(img);
    SDL_RenderPresent(v->renderer);
    return st == SAGALUX_OK ? 0 : -1;
}
