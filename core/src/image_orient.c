/* EXIF orientation applied to the pixels. Orientation o says how the stored
 * pixels must be turned for display; display pixel (X, Y) comes from stored
 * pixel source(o, X, Y) of the W x H stored image. */
#include <stdlib.h>

#include "exif_edit.h"
#include "image.h"

static void source(int o, int X, int Y, int W, int H, int *x, int *y)
{
    switch (o) {
    case 2: *x = W - 1 - X, *y = Y; break;         /* mirrored left-right */
    case 3: *x = W - 1 - X, *y = H - 1 - Y; break; /* turned 180 */
    case 4: *x = X, *y = H - 1 - Y; break;         /* mirrored top-bottom */
    case 5: *x = Y, *y = X; break;                 /* transposed */
    case 6: *x = Y, *y = H - 1 - X; break;         /* display = stored turned 90 clockwise */
    case 7: *x = W - 1 - Y, *y = H - 1 - X; break; /* transversed */
    case 8: *x = W - 1 - Y, *y = X; break;         /* display = stored turned 90 counter-clockwise */
    default: *x = X, *y = Y; break;
    }
}

/* planes planes of W x H floats, reordered into a new buffer. */
static float *turn(const float *src, int planes, int o, int W, int H, int DW, int DH)
{
    size_t n = (size_t)W * H;
    float *dst = malloc(sizeof(float) * n * (size_t)planes);
    if (!dst) return NULL;
    for (int p = 0; p < planes; p++)
        for (int Y = 0; Y < DH; Y++)
            for (int X = 0; X < DW; X++) {
                int x, y;
                source(o, X, Y, W, H, &x, &y);
                dst[p * n + (size_t)Y * DW + X] = src[p * n + (size_t)y * W + x];
            }
    return dst;
}

sagalux_status sagalux_image_apply_orientation(sagalux_image *img)
{
    if (!img || !img->rgb) return SAGALUX_ERR_INVALID_ARGUMENT;
    int o = img->orientation;
    if (o < 2 || o > 8) {
        img->orientation = 1;
        return SAGALUX_OK;
    }
    const int W = img->width, H = img->height, quarter = o >= 5;
    const int DW = quarter ? H : W, DH = quarter ? W : H;
    float *rgb = turn(img->rgb, 3, o, W, H, DW, DH);
    float *alpha = img->alpha ? turn(img->alpha, 1, o, W, H, DW, DH) : NULL;
    unsigned char *exif = NULL;
    size_t exif_size = 0;
    sagalux_status st = rgb && (alpha || !img->alpha) ? SAGALUX_OK : SAGALUX_ERR_OUT_OF_MEMORY;
    if (st == SAGALUX_OK && img->exif) {
        sx_exif_changes ch = {1, quarter, 0, NULL, 0};
        if (sx_exif_edit(img->exif, img->exif_size, &ch, &exif, &exif_size) != SAGALUX_OK)
            exif = NULL; /* unreadable EXIF: dropped, so no stale orientation turns the pixels twice */
    }
    if (st != SAGALUX_OK) {
        free(rgb);
        free(alpha);
        return st;
    }
    free(img->rgb);
    free(img->alpha);
    free(img->exif);
    img->rgb = rgb;
    img->alpha = alpha;
    img->exif = exif;
    img->exif_size = exif ? exif_size : 0;
    img->width = DW;
    img->height = DH;
    img->orientation = 1;
    if (img->xmp) sx_xmp_reset_orientation(img->xmp, img->xmp_size);
    if (quarter) {
        unsigned d = img->density_x;
        img->density_x = img->density_y;
        img->density_y = d;
    }
    return SAGALUX_OK;
}
