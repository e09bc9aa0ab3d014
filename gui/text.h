/* Text on the viewer's window with SDL2_ttf and the font shipped in
 * assets/fonts (DejaVu Sans, LICENSE-DejaVu.txt beside it). Rendered strings
 * are kept as textures while they are drawn, so a steady status line costs
 * one copy a frame, not a rasterisation. */
#ifndef SAGALUX_TEXT_H
#define SAGALUX_TEXT_H

#include <SDL.h>
#include <stddef.h>

typedef struct text text;

/* The font at a pixel height (already multiplied by the display's scale).
 * NULL with a reason in err when the font cannot be opened. */
text *text_open(SDL_Renderer *renderer, const char *font_path, int pixel_height, char *err, size_t err_size);
void text_close(text *t);

/* Draws s with its top-left corner at (x, y); returns its width. */
int text_draw(text *t, int x, int y, const char *s, SDL_Color color);
int text_width(text *t, const char *s);
int text_line_height(const text *t);

#endif
