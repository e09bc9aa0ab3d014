/* The viewer's geometry, free of SDL so that it is unit-tested: where the
 * image lies on the screen at a zoom and pan, zoom about a point, pan limits,
 * the split divider, the level of detail to draw from, and the texture tiles.
 *
 * Coordinates: the view area is aw x ah drawable pixels with (0, 0) at its
 * top left; an image pixel (ix, iy) lands at screen (ix * scale + tx,
 * iy * scale + ty). Image coordinates are continuous: pixel i spans [i, i+1). */
#ifndef SAGALUX_VIEW_MATH_H
#define SAGALUX_VIEW_MATH_H

typedef struct vm_view {
    double scale;  /* screen pixels per image pixel */
    double tx, ty; /* screen position of the image's top-left corner */
} vm_view;

typedef struct vm_rect {
    int x, y, w, h;
} vm_rect;

enum { VM_MAX_SCALE = 32 };

/* The scale at which the whole image fits the area (upscaling small ones). */
double vm_fit_scale(int iw, int ih, int aw, int ah);

/* The smallest scale zooming out may reach: half the fit, or 1 when smaller. */
double vm_min_scale(int iw, int ih, int aw, int ah);

/* The whole image, centred, at the fit scale. */
vm_view vm_fit(int iw, int ih, int aw, int ah);

/* Keeps the image where it belongs: centred on an axis where it is smaller
 * than the area, else with no empty margin on that axis. */
void vm_clamp(vm_view *v, int iw, int ih, int aw, int ah);

/* Scale set to new_scale (limited to [min, VM_MAX_SCALE]) so that the image
 * point under screen point (cx, cy) stays under it, then clamped. */
void vm_zoom_at(vm_view *v, double new_scale, double cx, double cy, int iw, int ih, int aw, int ah);

/* Moves the image by (dx, dy) screen pixels, then clamps. */
void vm_pan(vm_view *v, double dx, double dy, int iw, int ih, int aw, int ah);

void vm_image_to_screen(const vm_view *v, double ix, double iy, double *sx, double *sy);
void vm_screen_to_image(const vm_view *v, double sx, double sy, double *ix, double *iy);

/* The split divider sits over the photo, not the window: position P in
 * [0, 1] is that share of the columns the photo covers in an area aw wide
 * (all of them when it is wider than the area), so a portrait photo at 0.8
 * still shows both sides. */
void vm_photo_columns(const vm_view *v, int iw, int aw, double *x0, double *x1);
/* The divider's x in the area for a position in [0, 1]. */
int vm_divider_x(const vm_view *v, int iw, int aw, double position);
/* Whether screen x is close enough to grab the divider (within grab pixels). */
int vm_divider_hit(const vm_view *v, int iw, int aw, double position, double x, double grab);
/* The divider position for a mouse at x, limited to [0, 1]. */
double vm_divider_from_x(const vm_view *v, int iw, int aw, double x);
/* The top of the divider's handle (handle_h tall) in an area ah high: half way
 * down the photo's visible rows, or just below (else above) a photo too short
 * to hold it, so the handle never hides a small photo. */
int vm_handle_y(const vm_view *v, int ih, int ah, int handle_h);

/* The level of detail to draw from: level k holds the image halved k times
 * (ceil at each halving); the finest level whose pixels are not more than two
 * to a screen pixel, so the renderer's bilinear filter never skips pixels. */
int vm_level_for_scale(double scale, int levels);
/* A side at level k: ceil(side / 2^k). */
int vm_level_side(int side, int level);

/* Texture tiles: a w x h level split into tiles of at most tile x tile
 * (tile is the renderer's maximum texture size or smaller). */
int vm_tiles_across(int w, int tile);
vm_rect vm_tile_rect(int w, int h, int tile, int index);
/* r grown by n pixels on each side, within a w x h level. */
vm_rect vm_rect_grow(vm_rect r, int n, int w, int h);

/* The range of tiles [*x0, *x1) x [*y0, *y1) of a level of lw x lh that an
 * area of aw x ah shows of an iw x ih image; an empty range when none. A
 * level covers the whole image, so level x = image x * lw / iw. */
void vm_visible_tiles(const vm_view *v, int iw, int ih, int lw, int lh, int tile, int aw, int ah, int *x0, int *y0,
                      int *x1, int *y1);

/* Where a rectangle of a level's pixels lands on the screen. */
void vm_level_rect_on_screen(const vm_view *v, int iw, int ih, int lw, int lh, vm_rect r, double *sx, double *sy,
                             double *sw, double *sh);

#endif
