/* Levels of detail and display pixels (pyramid.h). */
#include "pyramid.h"

#include <stdlib.h>
#include <string.h>

/* dst (dw x dh) = 2 x 2 means of src (sw x sh), one plane. */
static void halve_plane(const float *src, int sw, int sh, float *dst, int dw, int dh)
{
    for (int y = 0; y < dh; y++) {
        const float *r0 = src + (size_t)(2 * y) * sw;
        const float *r1 = src + (size_t)(2 * y + 1 < sh ? 2 * y + 1 : 2 * y) * sw;
        float *d = dst + (size_t)y * dw;
        for (int x = 0; x < dw; x++) {
            int x0 = 2 * x, x1 = 2 * x + 1 < sw ? 2 * x + 1 : 2 * x;
            d[x] = 0.25f * (r0[x0] + r0[x1] + r1[x0] + r1[x1]);
        }
    }
}

int pyramid_build(pyramid *p, const float *rgb, const float *alpha, int w, int h)
{
    memset(p, 0, sizeof *p);
    p->level[0] = (pyr_level){w, h, (float *)rgb, (float *)alpha};
    p->levels = 1;
    while (p->levels < PYR_MAX_LEVELS) {
        const pyr_level *s = &p->level[p->levels - 1];
        if ((s->w > s->h ? s->w : s->h) <= PYR_SMALLEST_SIDE) break;
        pyr_level d = {(s->w + 1) / 2, (s->h + 1) / 2, NULL, NULL};
        size_t plane = (size_t)d.w * d.h;
        d.rgb = malloc(3 * plane * sizeof(float));
        if (s->alpha) d.alpha = malloc(plane * sizeof(float));
        if (!d.rgb || (s->alpha && !d.alpha)) {
            free(d.rgb);
            free(d.alpha);
            pyramid_free(p);
            return -1;
        }
        for (int c = 0; c < 3; c++)
            halve_plane(s->rgb + (size_t)c * s->w * s->h, s->w, s->h, d.rgb + c * plane, d.w, d.h);
        if (s->alpha) halve_plane(s->alpha, s->w, s->h, d.alpha, d.w, d.h);
        p->level[p->levels++] = d;
    }
    return 0;
}

void pyramid_free(pyramid *p)
{
    for (int k = 1; k < p->levels; k++) {
        free(p->level[k].rgb);
        free(p->level[k].alpha);
    }
    memset(p, 0, sizeof *p);
}

size_t pyramid_bytes(const pyramid *p)
{
    size_t n = 0;
    for (int k = 1; k < p->levels; k++)
        n += (p->level[k].alpha ? 4 : 3) * (size_t)p->level[k].w * p->level[k].h * sizeof(float);
    return n;
}

static uint8_t to_byte(float v)
{
    v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    return (uint8_t)(v * 255.0f + 0.5f);
}

void pyramid_rgba(const pyramid *orig, const pyramid *net, float strength, int level, vm_rect r, uint8_t *out,
                  int pitch)
{
    const pyr_level *o = &orig->level[level];
    const pyr_level *n = net ? &net->level[level] : NULL;
    size_t plane = (size_t)o->w * o->h;
    for (int y = 0; y < r.h; y++) {
        uint8_t *d = out + (size_t)y * pitch;
        size_t row = (size_t)(r.y + y) * o->w + r.x;
        for (int x = 0; x < r.w; x++) {
            for (int c = 0; c < 3; c++) {
                float v = o->rgb[c * plane + row + x];
                if (n) v = v + strength * (n->rgb[c * plane + row + x] - v); /* to_byte clamps, as sagalux_blend does */
                d[4 * x + c] = to_byte(v);
            }
            d[4 * x + 3] = o->alpha ? to_byte(o->alpha[row + x]) : 255;
        }
    }
}
