/* Texture tiles of one side of the comparison (tiles.h). */
#include "tiles.h"

#include <stdlib.h>
#include <string.h>

void tile_layer_init(tile_layer *t, int tile)
{
    memset(t, 0, sizeof *t);
    t->tile = tile;
    t->level = -1;
}

void tile_layer_clear(tile_layer *t)
{
    for (int i = 0; i < t->count; i++)
        if (t->tex[i]) SDL_DestroyTexture(t->tex[i]);
    free(t->tex);
    free(t->stale);
    free(t->staging);
    tile_layer_init(t, t->tile);
}

void tile_layer_invalidate(tile_layer *t)
{
    if (t->stale) memset(t->stale, 1, (size_t)t->count);
}

/* Textures for level of size lw x lh; the old level's are dropped. */
static int use_level(tile_layer *t, int level, int lw, int lh)
{
    if (t->level == level && t->lw == lw && t->lh == lh) return 0;
    tile_layer_clear(t);
    int count = vm_tiles_across(lw, t->tile) * vm_tiles_across(lh, t->tile);
    t->tex = calloc((size_t)count, sizeof *t->tex);
    t->stale = calloc((size_t)count, 1);
    t->staging = malloc((size_t)(t->tile + 2) * (t->tile + 2) * 4);
    if (!t->tex || !t->stale || !t->staging) {
        tile_layer_clear(t);
        SDL_SetError("out of memory for %d tiles", count);
        return -1;
    }
    t->count = count;
    t->level = level;
    t->lw = lw;
    t->lh = lh;
    return 0;
}

int tile_layer_draw(tile_layer *t, SDL_Renderer *r, const pyramid *orig, const pyramid *net, float strength,
                    const vm_view *v, int ax, int ay, int aw, int ah)
{
    int iw = orig->level[0].w, ih = orig->level[0].h;
    int level = vm_level_for_scale(v->scale, orig->levels);
    if (net && net->levels < level + 1) level = net->levels - 1;
    int lw = orig->level[level].w, lh = orig->level[level].h;
    if (use_level(t, level, lw, lh) != 0) return -1;
    int x0, y0, x1, y1, across = vm_tiles_across(lw, t->tile);
    vm_visible_tiles(v, iw, ih, lw, lh, t->tile, aw, ah, &x0, &y0, &x1, &y1);
    for (int ty = y0; ty < y1; ty++)
        for (int tx = x0; tx < x1; tx++) {
            int i = ty * across + tx;
            vm_rect rect = vm_tile_rect(lw, lh, t->tile, i);
            /* The texture holds the tile and a one-pixel apron of its
             * neighbours, so that a filtering renderer blends across the
             * seam with real pixels instead of repeating the tile's edge. */
            vm_rect held = vm_rect_grow(rect, 1, lw, lh);
            if (!t->tex[i]) {
                t->tex[i] = SDL_CreateTexture(r, SDL_PIXELFORMAT_RGBA32, SDL_TEXTUREACCESS_STATIC, held.w, held.h);
                if (!t->tex[i]) return -1;
                /* transparent pixels let the checkerboard under them show; an
                 * opaque photo is copied, which is faster */
                SDL_SetTextureBlendMode(t->tex[i], orig->level[0].alpha ? SDL_BLENDMODE_BLEND : SDL_BLENDMODE_NONE);
                t->stale[i] = 1;
            }
            if (t->stale[i]) {
                pyramid_rgba(orig, net, strength, level, held, t->staging, held.w * 4);
                if (SDL_UpdateTexture(t->tex[i], NULL, t->staging, held.w * 4) != 0) return -1;
                t->stale[i] = 0;
            }
            SDL_Rect src = {rect.x - held.x, rect.y - held.y, rect.w, rect.h};
            /* A level's pixels map onto the whole image; rounding the edges
             * (not the sizes) keeps neighbouring tiles seamless. */
            double sx, sy, sw, sh;
            vm_level_rect_on_screen(v, iw, ih, lw, lh, rect, &sx, &sy, &sw, &sh);
            int left = (int)SDL_floor(sx + 0.5), top = (int)SDL_floor(sy + 0.5);
            int right = (int)SDL_floor(sx + sw + 0.5), bottom = (int)SDL_floor(sy + sh + 0.5);
            SDL_Rect dst = {ax + left, ay + top, right - left, bottom - top};
            /* Zoomed in past 2:1 the pixels show as squares, as a photo
             * editor shows them; below that the filter smooths, and the
             * levels have done the minifying. */
            SDL_SetTextureScaleMode(t->tex[i], v->scale * (1 << level) > 2.0 ? SDL_ScaleModeNearest
                                                                             : SDL_ScaleModeLinear);
            SDL_RenderCopy(r, t->tex[i], &src, &dst);
        }
    return 0;
}
