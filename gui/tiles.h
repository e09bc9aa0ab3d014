/* One side of the comparison on the screen: a level of detail of the photo
 * as textures of at most (tile + 2)^2 pixels (the renderer's limit or less),
 * made when they first come into view and remade when the strength changes.
 * A 24 MP photo at 100% thus uploads only the few tiles the window shows. */
#ifndef SAGALUX_TILES_H
#define SAGALUX_TILES_H

#include <SDL.h>

#include "pyramid.h"
#include "view_math.h"

typedef struct tile_layer {
    int tile;              /* side of a tile */
    int level, lw, lh;     /* the level the textures hold, and its size */
    int count;
    SDL_Texture **tex;     /* count entries, NULL until first in view */
    unsigned char *stale;  /* 1: remake before drawing */
    uint8_t *staging;      /* (tile + 2)^2 RGBA pixels: a tile and its apron */
} tile_layer;

/* An empty layer with tiles of at most tile pixels a side. */
void tile_layer_init(tile_layer *t, int tile);
/* Drops every texture (another photo, or a lost renderer). */
void tile_layer_clear(tile_layer *t);
/* Marks every texture stale (the strength changed). */
void tile_layer_invalidate(tile_layer *t);

/* Draws the photo as the view places it in the area at (ax, ay), aw x ah,
 * from the level that suits the view's scale: the original when net is NULL,
 * else the blend at strength. The caller sets the clip rectangle. 0, or -1
 * when a texture could not be made (SDL_GetError says why). */
int tile_layer_draw(tile_layer *t, SDL_Renderer *r, const pyramid *orig, const pyramid *net, float strength,
                    const vm_view *v, int ax, int ay, int aw, int ah);

#endif
