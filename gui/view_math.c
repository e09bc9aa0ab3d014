/* The viewer's geometry (view_math.h). */
#include "view_math.h"

#include <math.h>

double vm_fit_scale(int iw, int ih, int aw, int ah)
{
    if (iw <= 0 || ih <= 0 || aw <= 0 || ah <= 0) return 1.0;
    double sx = (double)aw / iw, sy = (double)ah / ih;
    double s = sx < sy ? sx : sy;
    return s > VM_MAX_SCALE ? VM_MAX_SCALE : s;
}

double vm_min_scale(int iw, int ih, int aw, int ah)
{
    double half = 0.5 * vm_fit_scale(iw, ih, aw, ah);
    return half < 1.0 ? half : 1.0;
}

/* On one axis: centred when the image is smaller than the area, else no margin. */
static double clamp_axis(double t, double image_px, int area)
{
    if (image_px <= area) return 0.5 * (area - image_px);
    if (t > 0.0) return 0.0;
    if (t < area - image_px) return area - image_px;
    return t;
}

void vm_clamp(vm_view *v, int iw, int ih, int aw, int ah)
{
    v->tx = clamp_axis(v->tx, iw * v->scale, aw);
    v->ty = clamp_axis(v->ty, ih * v->scale, ah);
}

vm_view vm_fit(int iw, int ih, int aw, int ah)
{
    vm_view v = {vm_fit_scale(iw, ih, aw, ah), 0.0, 0.0};
    vm_clamp(&v, iw, ih, aw, ah);
    return v;
}

void vm_zoom_at(vm_view *v, double new_scale, double cx, double cy, int iw, int ih, int aw, int ah)
{
    double lo = vm_min_scale(iw, ih, aw, ah);
    if (!(new_scale >= lo)) new_scale = lo; /* also catches NaN */
    if (new_scale > VM_MAX_SCALE) new_scale = VM_MAX_SCALE;
    double ix, iy;
    vm_screen_to_image(v, cx, cy, &ix, &iy);
    v->scale = new_scale;
    v->tx = cx - ix * new_scale;
    v->ty = cy - iy * new_scale;
    vm_clamp(v, iw, ih, aw, ah);
}

void vm_pan(vm_view *v, double dx, double dy, int iw, int ih, int aw, int ah)
{
    v->tx += dx;
    v->ty += dy;
    vm_clamp(v, iw, ih, aw, ah);
}

void vm_image_to_screen(const vm_view *v, double ix, double iy, double *sx, double *sy)
{
    *sx = ix * v->scale + v->tx;
    *sy = iy * v->scale + v->ty;
}

void vm_screen_to_image(const vm_view *v, double sx, double sy, double *ix, double *iy)
{
    *ix = (sx - v->tx) / v->scale;
    *iy = (sy - v->ty) / v->scale;
}

/* The part of [start, start + length) inside [0, area]. */
static void visible_span(double start, double length, int area, double *lo, double *hi)
{
    double end = start + length;
    *lo = start < 0.0 ? 0.0 : start > area ? area : start;
    *hi = end < 0.0 ? 0.0 : end > area ? area : end;
}

void vm_photo_columns(const vm_view *v, int iw, int aw, double *x0, double *x1)
{
    visible_span(v->tx, iw * v->scale, aw, x0, x1);
}

int vm_divider_x(const vm_view *v, int iw, int aw, double position)
{
    double x0, x1;
    vm_photo_columns(v, iw, aw, &x0, &x1);
    return (int)lround(x0 + position * (x1 - x0));
}

int vm_divider_hit(const vm_view *v, int iw, int aw, double position, double x, double grab)
{
    return fabs(x - vm_divider_x(v, iw, aw, position)) <= grab;
}

double vm_divider_from_x(const vm_view *v, int iw, int aw, double x)
{
    double x0, x1;
    vm_photo_columns(v, iw, aw, &x0, &x1);
    if (x1 - x0 < 1.0) return 0.5;
    double p = (x - x0) / (x1 - x0);
    return p < 0.0 ? 0.0 : p > 1.0 ? 1.0 : p;
}

int vm_handle_y(const vm_view *v, int ih, int ah, int handle_h)
{
    double y0, y1;
    visible_span(v->ty, ih * v->scale, ah, &y0, &y1);
    int gap = handle_h / 4;
    if (y1 - y0 >= 3.0 * handle_h) return (int)lround(0.5 * (y0 + y1)) - handle_h / 2;
    if (y1 + gap + handle_h <= ah) return (int)ceil(y1) + gap;
    if (y0 - gap - handle_h >= 0) return (int)floor(y0) - gap - handle_h;
    return ah / 2 - handle_h / 2;
}

int vm_level_for_scale(double scale, int levels)
{
    int k = 0;
    /* level k's pixels cover 2^k image pixels: step up while the next level
     * still has at least one pixel per screen pixel. */
    while (k + 1 < levels && scale * (double)(1 << (k + 1)) <= 1.0) k++;
    return k;
}

int vm_level_side(int side, int level)
{
    for (int k = 0; k < level; k++) side = (side + 1) / 2;
    return side;
}

int vm_tiles_across(int w, int tile) { return (w + tile - 1) / tile; }

vm_rect vm_tile_rect(int w, int h, int tile, int index)
{
    int across = vm_tiles_across(w, tile);
    int tx = index % across, ty = index / across;
    vm_rect r = {tx * tile, ty * tile, tile, tile};
    if (r.x + r.w > w) r.w = w - r.x;
    if (r.y + r.h > h) r.h = h - r.y;
    return r;
}

vm_rect vm_rect_grow(vm_rect r, int n, int w, int h)
{
    int x0 = r.x - n < 0 ? 0 : r.x - n, y0 = r.y - n < 0 ? 0 : r.y - n;
    int x1 = r.x + r.w + n > w ? w : r.x + r.w + n, y1 = r.y + r.h + n > h ? h : r.y + r.h + n;
    return (vm_rect){x0, y0, x1 - x0, y1 - y0};
}

/* Tiles [*a, *b) covering level coordinates [lo, hi) on an axis of n tiles. */
static void tile_span(double lo, double hi, int tile, int n, int *a, int *b)
{
    int first = (int)floor(lo / tile), last = (int)ceil(hi / tile);
    *a = first < 0 ? 0 : first > n ? n : first;
    *b = last < 0 ? 0 : last > n ? n : last;
    if (*b < *a) *b = *a;
}

void vm_visible_tiles(const vm_view *v, int iw, int ih, int lw, int lh, int tile, int aw, int ah, int *x0, int *y0,
                      int *x1, int *y1)
{
    double ix0, iy0, ix1, iy1;
    vm_screen_to_image(v, 0.0, 0.0, &ix0, &iy0);
    vm_screen_to_image(v, aw, ah, &ix1, &iy1);
    /* the level spans the whole image: level x = image x * lw / iw */
    double fx = (double)lw / iw, fy = (double)lh / ih;
    tile_span(ix0 * fx, ix1 * fx, tile, vm_tiles_across(lw, tile), x0, x1);
    tile_span(iy0 * fy, iy1 * fy, tile, vm_tiles_across(lh, tile), y0, y1);
}

void vm_level_rect_on_screen(const vm_view *v, int iw, int ih, int lw, int lh, vm_rect r, double *sx, double *sy,
                             double *sw, double *sh)
{
    double fx = (double)iw / lw, fy = (double)ih / lh;
    vm_image_to_screen(v, r.x * fx, r.y * fy, sx, sy);
    *sw = r.w * fx * v->scale;
    *sh = r.h * fy * v->scale;
}
