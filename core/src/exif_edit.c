/* libexif does the EXIF work; these options keep what it does not know
 * (unknown tags, maker notes) exactly as it was. */
#include "exif_edit.h"

#include <stdlib.h>
#include <string.h>

#include <libexif/exif-data.h>

static const unsigned char EXIF_HEADER[6] = {'E', 'x', 'i', 'f', 0, 0};
enum { MAX_EXIF = 65533 - 6 }; /* what one JPEG APP1 segment holds */

static ExifData *load(const unsigned char *tiff, size_t size)
{
    if (!tiff || size < 8 || size > MAX_EXIF) return NULL;
    unsigned char *buf = malloc(size + 6);
    ExifData *ed = buf ? exif_data_new() : NULL;
    if (!ed) {
        free(buf);
        return NULL;
    }
    exif_data_unset_option(ed, EXIF_DATA_OPTION_IGNORE_UNKNOWN_TAGS);
    exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
    exif_data_set_option(ed, EXIF_DATA_OPTION_DONT_CHANGE_MAKER_NOTE);
    memcpy(buf, EXIF_HEADER, 6);
    memcpy(buf + 6, tiff, size);
    exif_data_load_data(ed, buf, (unsigned)(size + 6));
    free(buf);
    return ed;
}

/* The entry's first value as a number (SHORT or LONG); -1 when neither. */
static long entry_value(ExifEntry *e, ExifByteOrder order)
{
    if (!e || !e->data || e->components < 1) return -1;
    if (e->format == EXIF_FORMAT_SHORT && e->size >= 2) return exif_get_short(e->data, order);
    if (e->format == EXIF_FORMAT_LONG && e->size >= 4) return (long)exif_get_long(e->data, order);
    return -1;
}

static void set_entry_value(ExifEntry *e, ExifByteOrder order, long v)
{
    if (e->format == EXIF_FORMAT_SHORT) exif_set_short(e->data, order, (ExifShort)v);
    else if (e->format == EXIF_FORMAT_LONG) exif_set_long(e->data, order, (ExifLong)v);
}

/* Swaps two entries' values when both are there in the same form (a RATIONAL
 * each, as the standard has XResolution and YResolution). */
static void swap_entry_values(ExifEntry *a, ExifEntry *b)
{
    unsigned char t[16];
    if (!a || !b || !a->data || !b->data || a->format != b->format || a->size != b->size || a->size > sizeof t) return;
    memcpy(t, a->data, a->size);
    memcpy(a->data, b->data, a->size);
    memcpy(b->data, t, a->size);
}

int sx_exif_orientation(const unsigned char *tiff, size_t size)
{
    ExifData *ed = load(tiff, size);
    if (!ed) return 1;
    long v = entry_value(exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION), exif_data_get_byte_order(ed));
    exif_data_unref(ed);
    return v >= 1 && v <= 8 ? (int)v : 1;
}

int sx_exif_has_thumbnail(const unsigned char *tiff, size_t size)
{
    ExifData *ed = load(tiff, size);
    if (!ed) return 0;
    int has = ed->data && ed->size > 0;
    exif_data_unref(ed);
    return has;
}

sagalux_status sx_exif_edit(const unsigned char *tiff, size_t size, const sx_exif_changes *ch, unsigned char **out,
                            size_t *out_size)
{
    *out = NULL;
    *out_size = 0;
    ExifData *ed = load(tiff, size);
    if (!ed) return SAGALUX_ERR_FORMAT;
    ExifByteOrder order = exif_data_get_byte_order(ed);
    ExifEntry *o = exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
    if (ch->reset_orientation && entry_value(o, order) >= 0) set_entry_value(o, order, 1);
    if (ch->swap_dimensions) {
        ExifEntry *x = exif_content_get_entry(ed->ifd[EXIF_IFD_EXIF], EXIF_TAG_PIXEL_X_DIMENSION);
        ExifEntry *y = exif_content_get_entry(ed->ifd[EXIF_IFD_EXIF], EXIF_TAG_PIXEL_Y_DIMENSION);
        long xv = entry_value(x, order), yv = entry_value(y, order);
        if (xv >= 0 && yv >= 0) {
            set_entry_value(x, order, yv);
            set_entry_value(y, order, xv);
        }
        /* Turned upright, the pixels across were the pixels down: their density too. */
        swap_entry_values(exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_X_RESOLUTION),
                          exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_Y_RESOLUTION));
    }
    if (ch->replace_thumbnail) {
        /* libexif's default allocator is the C library's: free() and malloc() match it. */
        free(ed->data);
        ed->data = NULL;
        ed->size = 0;
        if (ch->thumb && ch->thumb_size) {
            ed->data = malloc(ch->thumb_size);
            if (!ed->data) {
                exif_data_unref(ed);
                return SAGALUX_ERR_OUT_OF_MEMORY;
            }
            memcpy(ed->data, ch->thumb, ch->thumb_size);
            ed->size = (unsigned)ch->thumb_size;
        }
    }
    unsigned char *saved = NULL;
    unsigned int saved_size = 0;
    exif_data_save_data(ed, &saved, &saved_size);
    exif_data_unref(ed);
    if (!saved || saved_size <= 6 || memcmp(saved, EXIF_HEADER, 6) != 0) {
        free(saved);
        return SAGALUX_ERR_FORMAT;
    }
    memmove(saved, saved + 6, saved_size - 6);
    *out = saved;
    *out_size = saved_size - 6;
    return SAGALUX_OK;
}
