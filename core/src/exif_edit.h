/* Reading and editing EXIF blocks through libexif (a well-kept parser, not
 * a hand-written one): the orientation, and the edits a saved result needs
 * (orientation reset, dimensions and resolution swapped, thumbnail replaced
 * or dropped).
 * Blocks are TIFF-structured, without the "Exif\0\0" header. */
#ifndef SX_EXIF_EDIT_H
#define SX_EXIF_EDIT_H

#include <stddef.h>

#include "sagalux.h"

/* EXIF orientation (1..8); 1 when absent or unreadable. */
int sx_exif_orientation(const unsigned char *tiff, size_t size);

/* 1 when the block holds a JPEG thumbnail. */
int sx_exif_has_thumbnail(const unsigned char *tiff, size_t size);

typedef struct sx_exif_changes {
    int reset_orientation;       /* write orientation 1 */
    int swap_dimensions;         /* a quarter turn: swap PixelX/YDimension and X/YResolution */
    int replace_thumbnail;       /* put thumb (NULL: no thumbnail) in place of the old one */
    const unsigned char *thumb;  /* a JPEG file */
    size_t thumb_size;
} sx_exif_changes;

/* A new block (*out, malloc'd) with the changes; every other tag, the maker
 * note included, is kept as it was. */
sagalux_status sx_exif_edit(const unsigned char *tiff, size_t size, const sx_exif_changes *changes, unsigned char **out,
                            size_t *out_size);

#endif
