/* Text with SDL2_ttf (text.h). */
#include "text.h"

#include <SDL_ttf.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

enum { CACHE_SLOTS = 48, CACHE_TEXT = 256 };

typedef struct cached {
    char s[CACHE_TEXT];
    SDL_Color color;
    SDL_Texture *tex;
    int w, h;
    unsigned long used; /* the draw count when last drawn: the oldest slot is reused */
} cached;

struct text {
    SDL_Renderer *renderer;
    TTF_Font *font;
    int line_height;
    unsigned long draws;
    cached slot[CACHE_SLOTS];
};

text *text_open(SDL_Renderer *renderer, const char *font_path, int pixel_height, char *err, size_t err_size)
{
    if (!TTF_WasInit() && TTF_Init() != 0) {
        snprintf(err, err_size, "SDL_ttf: %s", TTF_GetError());
        return NULL;
    }
    TTF_Font *font = TTF_OpenFont(font_path, pixel_height);
    if (!font) {
        snprintf(err, err_size, "%s: cannot open the font: %s", font_path, TTF_GetError());
        return NULL;
    }
    text *t = calloc(1, sizeof *t);
    if (!t) {
        TTF_CloseFont(font);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    t->renderer = renderer;
    t->font = font;
    t->line_height = TTF_FontLineSkip(font);
    return t;
}

void text_close(text *t)
{
    if (!t) return;
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (t->slot[i].tex) SDL_DestroyTexture(t->slot[i].tex);
    TTF_CloseFont(t->font);
    free(t);
}

static int same_color(SDL_Color a, SDL_Color b) { return a.r == b.r && a.g == b.g && a.b == b.b && a.a == b.a; }

/* The slot holding s in color, rendered now when it is not cached. */
static cached *lookup(text *t, const char *s, SDL_Color color)
{
    cached *oldest = &t->slot[0];
    for (int i = 0; i < CACHE_SLOTS; i++) {
        cached *c = &t->slot[i];
        if (c->tex && same_color(c->color, color) && strncmp(c->s, s, CACHE_TEXT) == 0) return c;
        if (c->used < oldest->used) oldest = c;
    }
    if (oldest->tex) SDL_DestroyTexture(oldest->tex);
    memset(oldest, 0, sizeof *oldest);
    SDL_Surface *surf = TTF_RenderUTF8_Blended(t->font, s, color);
    if (!surf) return NULL;
    oldest->tex = SDL_CreateTextureFromSurface(t->renderer, surf);
    oldest->w = surf->w;
    oldest->h = surf->h;
    SDL_FreeSurface(surf);
    if (!oldest->tex) return NULL;
    snprintf(oldest->s, sizeof oldest->s, "%s", s);
    oldest->color = color;
    return oldest;
}

int text_draw(text *t, int x, int y, const char *s, SDL_Color color)
{
    if (!t || !s[0]) return 0;
    cached *c = lookup(t, s, color);
    if (!c) return 0;
    c->used = ++t->draws;
    SDL_Rect dst = {x, y, c->w, c->h};
    SDL_RenderCopy(t->renderer, c->tex, NULL, &dst);
    return c->w;
}

int text_width(text *t, const char *s)
{
    int w = 0, h = 0;
    if (t && s[0]) TTF_SizeUTF8(t->font, s, &w, &h);
    return w;
}

int text_line_height(const text *t) { return t ? t->line_height : 0; }
