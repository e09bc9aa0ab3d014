/* A photo's size from its header alone (PNG's IHDR, JPEG's start-of-frame),
 * without decoding it: so that a caller can tell what decoding and
 * enhancing it would take before it spends the memory (a 144-megapixel
 * photo decodes to 3.5 GB before the network's allocation can fail). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "image.h"
#include "log.h"

/* Bytes of a photo in memory or, read as needed, in a file. */
typedef struct source {
    const unsigned char *data;
    size_t size;
    FILE *fp;
} source;

/* n bytes at offset into out; 0, or -1 when the photo ends first. */
static int get(const source *s, size_t offset, unsigned char *out, size_t n)
{
    if (!s->fp) {
        if (offset > s->size || n > s->size - offset) return -1;
        memcpy(out, s->data + offset, n);
        return 0;
    }
    if (fseeko(s->fp, (off_t)offset, SEEK_SET) != 0) return -1;
    return fread(out, 1, n, s->fp) == n ? 0 : -1;
}

static int png_size(const source *s, long long *w, long long *h)
{
    unsigned char b[24];
    if (get(s, 0, b, sizeof b) != 0 || memcmp(b + 12, "IHDR", 4) != 0) return -1;
    *w = (long long)b[16] << 24 | b[17] << 16 | b[18] << 8 | b[19];
    *h = (long long)b[20] << 24 | b[21] << 16 | b[22] << 8 | b[23];
    return 0;
}

/* Walks the markers from SOI to the first start-of-frame, skipping each
 * segment by its length (a file is read only at the markers). */
static int jpeg_size(const source *s, long long *w, long long *h)
{
    size_t at = 2;
    for (int segments = 0; segments < 100000; segments++) {
        unsigned char m[2];
        if (get(s, at, m, 2) != 0 || m[0] != 0xff) return -1;
        if (m[1] == 0xff) { /* fill byte */
            at++;
            continue;
        }
        at += 2;
        if (m[1] == 0x01 || (m[1] >= 0xd0 && m[1] <= 0xd8)) continue; /* no length */
        if (m[1] == 0xd9 || m[1] == 0xda) return -1;                  /* image data before any frame */
        unsigned char len[2];
        if (get(s, at, len, 2) != 0) return -1;
        size_t n = (size_t)len[0] << 8 | len[1];
        if (n < 2) return -1;
        int sof = m[1] >= 0xc0 && m[1] <= 0xcf && m[1] != 0xc4 && m[1] != 0xc8 && m[1] != 0xcc;
        if (sof) {
            unsigned char f[5];
            if (n < 7 || get(s, at + 2, f, 5) != 0) return -1;
            *h = f[1] << 8 | f[2];
            *w = f[3] << 8 | f[4];
            return 0;
        }
        at += n;
    }
    return -1;
}

static sagalux_status probe(const source *s, const char *label, int *width, int *height, char *err, size_t err_size)
{
    unsigned char head[8];
    size_t have = s->fp ? (get(s, 0, head, 8) == 0 ? 8 : 0) : (s->size < 8 ? s->size : 8);
    if (!s->fp && have) memcpy(head, s->data, have);
    long long w = 0, h = 0;
    int rc;
    const char *what;
    switch (sx_sniff_format(head, have)) {
    case SAGALUX_FORMAT_PNG: rc = png_size(s, &w, &h), what = "PNG"; break;
    case SAGALUX_FORMAT_JPEG: rc = jpeg_size(s, &w, &h), what = "JPEG"; break;
    default: return sx_reason(err, err_size, SAGALUX_ERR_FORMAT, "%s: not a PNG or JPEG image", label);
    }
    if (rc != 0)
        return sx_reason(err, err_size, SAGALUX_ERR_FORMAT, "%s: corrupt or truncated %s header", label, what);
    sagalux_status st = sx_image_check_size(w, h);
    if (st == SAGALUX_ERR_FORMAT)
        return sx_reason(err, err_size, st, "%s: corrupt %s (image is %lldx%lld)", label, what, w, h);
    if (st != SAGALUX_OK)
        return sx_reason(err, err_size, st, "%s: image is %lldx%lld, larger than the %dx%d / %llu-pixel cap", label, w,
                         h, SAGALUX_MAX_SIDE, SAGALUX_MAX_SIDE, (unsigned long long)SAGALUX_MAX_PIXELS);
    *width = (int)w;
    *height = (int)h;
    return SAGALUX_OK;
}

sagalux_status sagalux_image_probe(const char *path, int *width, int *height, char *err, size_t err_size)
{
    if (!path || !width || !height) return SAGALUX_ERR_INVALID_ARGUMENT;
    *width = *height = 0;
    struct stat sb;
    FILE *fp;
    sagalux_status opened = sx_open_regular(path, &fp, &sb, err, err_size);
    if (opened != SAGALUX_OK) return opened;
    source s = {NULL, 0, fp};
    sagalux_status st = probe(&s, path, width, height, err, err_size);
    fclose(fp);
    return st;
}

sagalux_status sagalux_image_probe_memory(const void *data, size_t size, const char *name, int *width, int *height,
                                          char *err, size_t err_size)
{
    if ((!data && size) || !width || !height) return SAGALUX_ERR_INVALID_ARGUMENT;
    *width = *height = 0;
    source s = {data, size, NULL};
    return probe(&s, name ? name : "(memory)", width, height, err, err_size);
}

uint64_t sagalux_image_decode_bytes(int width, int height)
{
    return width > 0 && height > 0 ? (uint64_t)width * (uint64_t)height * SX_DECODE_PEAK_BYTES_PER_PIXEL : 0;
}
