/* Internal image helpers shared by the decoders, encoders and enhance. */
#ifndef SX_IMAGE_H
#define SX_IMAGE_H

#include <stddef.h>

#include "sagalux.h"

/* Checks the caps and the size products before any allocation. */
sagalux_status sx_image_check_size(long long width, long long height);

/* What a decoder checks once it knows the declared size, before it allocates
 * anything: the hard caps, that the file's data can fill that many pixels at
 * all (max_pixels_from_data: a bound from the format's smallest possible
 * coding; ULLONG_MAX when none is known), and the process's decode budget
 * (sagalux_image_pixel_limit). On failure err says which, naming the file;
 * what is "PNG" or "JPEG". */
sagalux_status sx_image_check_decode(long long width, long long height, unsigned long long max_pixels_from_data,
                                     const char *what, const char *label, char *err, size_t err_size);

/* Copies EXIF, ICC, orientation, bit depth and source flags. */
sagalux_status sx_image_copy_metadata(sagalux_image *dst, const sagalux_image *src);

/* Stores a copy of data as the image's EXIF (TIFF-structured, no "Exif\0\0"
 * header) and reads its orientation. Malformed EXIF is dropped, not fatal. */
void sx_image_set_exif(sagalux_image *img, const unsigned char *data, size_t size);
void sx_image_set_icc(sagalux_image *img, const unsigned char *data, size_t size);


/* Mirror index used for padding: see enhance.c. */
int sx_reflect_index(int i, int n);

/* Format by magic bytes. */
sagalux_file_format sx_sniff_format(const unsigned char *data, size_t size);

sagalux_status sx_png_decode(const unsigned char *data, size_t size, sagalux_image **out, const char *label,
                             char *err, size_t err_size);
sagalux_status sx_jpeg_decode(const unsigned char *data, size_t size, sagalux_image **out, const char *label,
                              char *err, size_t err_size);
/* Encoders write to an open stream; the caller handles temp-and-rename. */
#include <stdio.h>
sagalux_status sx_png_encode(const sagalux_image *img, FILE *fp, const sagalux_save_options *opt,
                             const char *label, char *err, size_t err_size);
sagalux_status sx_jpeg_encode(const sagalux_image *img, FILE *fp, const sagalux_save_options *opt,
                              const char *label, char *err, size_t err_size);

/* Float [0,1] to an integer sample with rounding and clamping. */
static inline unsigned sx_quantize(float v, unsigned maxval)
{
    if (!(v > 0.0f)) return 0; /* also maps NaN to 0 */
    if (v >= 1.0f) return maxval;
    return (unsigned)(v * (float)maxval + 0.5f);
}

#endif
