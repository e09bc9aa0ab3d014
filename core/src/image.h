/* Internal image helpers shared by the decoders, encoders and enhance. */
#ifndef SX_IMAGE_H
#define SX_IMAGE_H

#include <stddef.h>

#include "sagalux.h"

/* What decoding holds at its peak, a pixel: 12 bytes of float RGB, 4 of
 * alpha, and the decoder's own copy (libpng's rows, 8 bytes for 16-bit
 * RGBA; libjpeg's coefficients of a progressive photo, 6 at 4:4:4). */
#define SX_DECODE_PEAK_BYTES_PER_PIXEL 24u

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

/* Copies all metadata (EXIF, ICC, XMP, Photoshop, texts, density), the
 * orientation, bit depth and source flags. */
sagalux_status sx_image_copy_metadata(sagalux_image *dst, const sagalux_image *src);

/* Stores a copy of data as the image's EXIF (TIFF-structured, no "Exif\0\0"
 * header) and reads its orientation. Malformed EXIF is dropped, not fatal. */
void sx_image_set_exif(sagalux_image *img, const unsigned char *data, size_t size);
void sx_image_set_icc(sagalux_image *img, const unsigned char *data, size_t size);

/* A malloc'd copy of size bytes, or NULL (also for none). */
unsigned char *sx_dup_bytes(const unsigned char *data, size_t size);

/* image_meta.c: XMP, Photoshop resources, texts and density. The setters
 * return 0 when out of memory. */
int sx_image_set_xmp(sagalux_image *img, const unsigned char *data, size_t size);
int sx_image_add_photoshop(sagalux_image *img, const unsigned char *data, size_t size); /* appends */
int sx_photoshop_wrap_iptc(sagalux_image *img, const unsigned char *iim, size_t size);   /* as resource 0x0404 */
int sx_image_add_text(sagalux_image *img, const sagalux_text *text);                     /* copies it */
void sx_image_clear_texts(sagalux_image *img);
sagalux_status sx_image_copy_extra_metadata(sagalux_image *dst, const sagalux_image *src);
/* ImageMagick's hex "Raw profile type NAME" PNG text: decode (0 when
 * malformed or out of memory) and encode (malloc'd, or NULL). */
int sx_raw_profile_decode(const char *text, size_t len, unsigned char **out, size_t *out_size);
char *sx_raw_profile_encode(const char *name, const unsigned char *data, size_t size);
/* A copy without the thumbnail resources (*out NULL when nothing is left);
 * SAGALUX_ERR_FORMAT when the block does not parse. */
sagalux_status sx_photoshop_without_thumbnails(const unsigned char *data, size_t size, unsigned char **out,
                                               size_t *out_size);
/* 1 when s is valid UTF-8 with at least one character past ASCII. */
int sx_utf8_beyond_ascii(const char *s);
/* Sets every tiff:Orientation in the packet to 1, in place. */
void sx_xmp_reset_orientation(unsigned char *xmp, size_t size);

/* Mirror index used for padding: see enhance.c. */
int sx_reflect_index(int i, int n);

/* Format by magic bytes. */
sagalux_file_format sx_sniff_format(const unsigned char *data, size_t size);

sagalux_status sx_png_decode(const unsigned char *data, size_t size, sagalux_image **out, const char *label,
                             char *err, size_t err_size);
sagalux_status sx_jpeg_decode(const unsigned char *data, size_t size, sagalux_image **out, const char *label,
                              char *err, size_t err_size);
/* Encoders write to an open stream; the caller handles temp-and-rename. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Opens path for reading when it is a regular file (*sb filled in), without
 * ever waiting on a FIFO or device; else a reason naming path. */
sagalux_status sx_open_regular(const char *path, FILE **fp, struct stat *sb, char *err, size_t err_size);

sagalux_status sx_png_encode(const sagalux_image *img, FILE *fp, const sagalux_save_options *opt,
                             const char *label, char *err, size_t err_size);
sagalux_status sx_jpeg_encode(const sagalux_image *img, FILE *fp, const sagalux_save_options *opt,
                              const char *label, char *err, size_t err_size);

/* A failed write to fp: SAGALUX_ERR_NO_SPACE when the stream's error was a
 * full file system or quota (errnum: errno as the write failed), else
 * SAGALUX_ERR_IO; and the words for it (strerror, or fallback). */
static inline int sx_write_full(FILE *fp, int errnum) { return ferror(fp) && (errnum == ENOSPC || errnum == EDQUOT); }
static inline sagalux_status sx_write_status(FILE *fp, int errnum)
{
    return sx_write_full(fp, errnum) ? SAGALUX_ERR_NO_SPACE : SAGALUX_ERR_IO;
}
static inline const char *sx_write_reason(FILE *fp, int errnum, const char *fallback)
{
    return sx_write_full(fp, errnum) ? strerror(errnum) : fallback;
}

/* Float [0,1] to an integer sample with rounding and clamping. */
static inline unsigned sx_quantize(float v, unsigned maxval)
{
    if (!(v > 0.0f)) return 0; /* also maps NaN to 0 */
    if (v >= 1.0f) return maxval;
    return (unsigned)(v * (float)maxval + 0.5f);
}

#endif
