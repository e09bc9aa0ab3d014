/* Levels of detail of a photo for display, and the 8-bit pixels the screen
 * shows, blended at any strength.
 *
 * Level 0 is the photo itself (borrowed, planar float RGB as the library
 * gives it); level k + 1 averages 2 x 2 pixels of level k (the last row or
 * column of an odd side averages with itself), so a fitted 24 MP photo is
 * drawn from pixels that were filtered, never skipped. Blending at a level
 * uses the library's formula, clamp(o + s * (n - o)); at level 0 it is the
 * saved result's value before quantisation. */
#ifndef SAGALUX_PYRAMID_H
#define SAGALUX_PYRAMID_H

#include <stddef.h>
#include <stdint.h>

#include "view_math.h"

enum { PYR_MAX_LEVELS = 16, PYR_SMALLEST_SIDE = 256 };

typedef struct pyr_level {
    int w, h;
    float *rgb;  /* planar: R plane, G plane, B plane */
    float *alpha; /* w * h, or NULL when the photo is opaque */
} pyr_level;

typedef struct pyramid {
    int levels;
    pyr_level level[PYR_MAX_LEVELS];
} pyramid;

/* Levels down to the first whose longer side is at most PYR_SMALLEST_SIDE,
 * with alpha levels when alpha is not NULL. Level 0 borrows rgb and alpha
 * (they must outlive the pyramid). 0, or -1 when out of memory. */
int pyramid_build(pyramid *p, const float *rgb, const float *alpha, int w, int h);
void pyramid_free(pyramid *p);
/* Bytes the pyramid allocated (level 0 is borrowed, not counted). */
size_t pyramid_bytes(const pyramid *p);

/* 8-bit RGBA for rectangle r of a level: the original when net is NULL,
 * else the blend of orig and net at strength; alpha is orig's (255 when it
 * has none). out holds r.h rows pitch bytes apart. */
void pyramid_rgba(const pyramid *orig, const pyramid *net, float strength, int level, vm_rect r, uint8_t *out,
                  int pitch);

#endif
