/* The image object, size caps, metadata and the load/save front doors. */
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exif_edit.h"
#include "file_publish.h"
#include "log.h"

sagalux_status sx_image_check_size(long long width, long long height)
{
    if (width <= 0 || height <= 0) return SAGALUX_ERR_FORMAT;
    if (width > SAGALUX_MAX_SIDE || height > SAGALUX_MAX_SIDE) return SAGALUX_ERR_TOO_LARGE;
    if ((unsigned long long)width * (unsigned long long)height > SAGALUX_MAX_PIXELS) return SAGALUX_ERR_TOO_LARGE;
    return SAGALUX_OK;
}

/* ------------------------------------------------------ decode budget */

/* What one decoded pixel costs while loading: 12 bytes of float RGB plus the
 * decoder's own row or coefficient buffers. */
#define DECODE_BYTES_PER_PIXEL 16u

static _Atomic uint64_t pixel_limit; /* 0: the default below */

static uint64_t default_pixel_limit(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return SAGALUX_MAX_PIXELS;
    /* Half of physical memory: a decode must leave room for the network. */
    uint64_t px = (uint64_t)pages * (uint64_t)page / 2 / DECODE_BYTES_PER_PIXEL;
    return px < SAGALUX_MAX_PIXELS ? px : SAGALUX_MAX_PIXELS;
}

void sagalux_set_image_pixel_limit(uint64_t pixels) { atomic_store(&pixel_limit, pixels); }

uint64_t sagalux_image_pixel_limit(void)
{
    uint64_t v = atomic_load(&pixel_limit);
    if (v == 0) v = default_pixel_limit();
    return v < SAGALUX_MAX_PIXELS ? v : SAGALUX_MAX_PIXELS;
}

sagalux_status sx_image_check_decode(long long width, long long height, unsigned long long max_pixels_from_data,
                                     const char *what, const char *label, char *err, size_t err_size)
{
    sagalux_status st = sx_image_check_size(width, height);
    if (st == SAGALUX_ERR_FORMAT)
        return sx_fail(err, err_size, st, "%s: corrupt %s (image is %lldx%lld)", label, what, width, height);
    if (st != SAGALUX_OK)
        return sx_fail(err, err_size, st, "%s: image is %lldx%lld, larger than the %dx%d / %llu-pixel cap", label,
                       width, height, SAGALUX_MAX_SIDE, SAGALUX_MAX_SIDE, (unsigned long long)SAGALUX_MAX_PIXELS);
    unsigned long long pixels = (unsigned long long)width * (unsigned long long)height;
    if (pixels > max_pixels_from_data)
        return sx_fail(err, err_size, SAGALUX_ERR_FORMAT,
                       "%s: corrupt or truncated %s (it declares %lldx%lld pixels, but its data can hold at most "
                       "%llu)", label, what, width, height, max_pixels_from_data);
    uint64_t limit = sagalux_image_pixel_limit();
    if (pixels > limit)
        return sx_fail(err, err_size, SAGALUX_ERR_TOO_LARGE,
                       "%s: image is %lldx%lld (%llu pixels), more than the %llu-pixel decode limit "
                       "(half of this machine's memory, or the caller's sagalux_set_image_pixel_limit)",
                       label, width, height, pixels, (unsigned long long)limit);
    return SAGALUX_OK;
}

sagalux_status sagalux_image_create(int width, int height, int with_alpha, sagalux_image **out)
{
    if (!out) return SAGALUX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    sagalux_status st = sx_image_check_size(width, height);
    if (st != SAGALUX_OK) return st == SAGALUX_ERR_FORMAT ? SAGALUX_ERR_INVALID_ARGUMENT : st;
    size_t plane = (size_t)width * (size_t)height; /* <= 5e8 by the cap: no overflow below */
    sagalux_image *img = calloc(1, sizeof *img);
    if (!img) return SAGALUX_ERR_OUT_OF_MEMORY;
    img->width = width;
    img->height = height;
    img->bit_depth = 8;
    img->orientation = 1;
    img->rgb = calloc(3 * plane, sizeof(float));
    if (with_alpha) img->alpha = calloc(plane, sizeof(float));
    if (!img->rgb || (with_alpha && !img->alpha)) {
        sagalux_image_free(img);
        return SAGALUX_ERR_OUT_OF_MEMORY;
    }
    *out = img;
    return SAGALUX_OK;
}

void sagalux_image_free(sagalux_image *image)
{
    if (!image) return;
    free(image->rgb);
    free(image->alpha);
    free(image->exif);
    free(image->icc);
    free(image->xmp);
    free(image->photoshop);
    sx_image_clear_texts(image);
    free(image);
}

unsigned char *sx_dup_bytes(const unsigned char *data, size_t size)
{
    if (!data || !size) return NULL;
    unsigned char *p = malloc(size);
    if (p) memcpy(p, data, size);
    return p;
}

void sx_image_set_exif(sagalux_image *img, const unsigned char *data, size_t size)
{
    free(img->exif);
    img->exif = sx_dup_bytes(data, size);
    img->exif_size = img->exif ? size : 0;
    img->orientation = img->exif ? sx_exif_orientation(img->exif, img->exif_size) : 1;
}

void sx_image_set_icc(sagalux_image *img, const unsigned char *data, size_t size)
{
    free(img->icc);
    img->icc = sx_dup_bytes(data, size);
    img->icc_size = img->icc ? size : 0;
}

sagalux_status sx_image_copy_metadata(sagalux_image *dst, const sagalux_image *src)
{
    dst->bit_depth = src->bit_depth;
    dst->is_grey = src->is_grey;
    dst->source_format = src->source_format;
    if (src->exif) sx_image_set_exif(dst, src->exif, src->exif_size);
    if (src->icc) sx_image_set_icc(dst, src->icc, src->icc_size);
    dst->orientation = src->orientation;
    if ((src->exif && !dst->exif) || (src->icc && !dst->icc)) return SAGALUX_ERR_OUT_OF_MEMORY;
    return sx_image_copy_extra_metadata(dst, src);
}

/* ------------------------------------------------------------- EXIF */

/* ------------------------------------------------------ load and save */

sagalux_file_format sx_sniff_format(const unsigned char *data, size_t size)
{
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size >= 8 && memcmp(data, png_sig, 8) == 0) return SAGALUX_FORMAT_PNG;
    if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) return SAGALUX_FORMAT_JPEG;
    return SAGALUX_FORMAT_UNKNOWN;
}

sagalux_file_format sagalux_format_from_bytes(const void *data, size_t size)
{
    return data ? sx_sniff_format(data, size) : SAGALUX_FORMAT_UNKNOWN;
}

sagalux_file_format sagalux_format_from_name(const char *path)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (!dot || strchr(dot, '/')) return SAGALUX_FORMAT_UNKNOWN;
    if (strcasecmp(dot, ".png") == 0) return SAGALUX_FORMAT_PNG;
    if (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 || strcasecmp(dot, ".jpe") == 0 ||
        strcasecmp(dot, ".jfif") == 0)
        return SAGALUX_FORMAT_JPEG;
    return SAGALUX_FORMAT_UNKNOWN;
}

static sagalux_status decode(const unsigned char *data, size_t size, const char *label, sagalux_image **out,
                             char *err, size_t err_size)
{
    if (size == 0) return sx_fail(err, err_size, SAGALUX_ERR_FORMAT, "%s: empty file", label);
    switch (sx_sniff_format(data, size)) {
    case SAGALUX_FORMAT_PNG: return sx_png_decode(data, size, out, label, err, err_size);
    case SAGALUX_FORMAT_JPEG: return sx_jpeg_decode(data, size, out, label, err, err_size);
    default: return sx_fail(err, err_size, SAGALUX_ERR_FORMAT, "%s: not a PNG or JPEG image", label);
    }
}

sagalux_status sagalux_image_load_memory(const void *data, size_t size, const char *name, sagalux_image **out,
                                         char *err, size_t err_size)
{
    if (!out || (!data && size)) return SAGALUX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    return decode(data, size, name ? name : "(memory)", out, err, err_size);
}

/* Whole files are read into memory: the caps bound a compressed photo far
 * below this limit, and decoding from memory keeps one code path. */
#define MAX_FILE_BYTES ((size_t)2 << 30)

sagalux_status sx_open_regular(const char *path, FILE **fp, struct stat *sb, char *err, size_t err_size)
{
    *fp = NULL;
    /* O_NONBLOCK: a FIFO or device named like a photo is refused at once
     * instead of waiting for a writer (or reading without end). */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return sx_fail(err, err_size, SAGALUX_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)) { /* a pipe's bytes would be gone once read */
        close(fd);
        return sx_fail(err, err_size, SAGALUX_ERR_IO, "%s: not a regular file", path);
    }
    if (!(*fp = fdopen(fd, "rb"))) {
        close(fd);
        return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    return SAGALUX_OK;
}

sagalux_status sagalux_image_load(const char *path, sagalux_image **out, char *err, size_t err_size)
{
    if (!path || !out) return SAGALUX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    struct stat sb;
    FILE *fp;
    sagalux_status opened = sx_open_regular(path, &fp, &sb, err, err_size);
    if (opened != SAGALUX_OK) return opened;
    if ((unsigned long long)sb.st_size > MAX_FILE_BYTES) {
        fclose(fp);
        return sx_fail(err, err_size, SAGALUX_ERR_TOO_LARGE, "%s: file is larger than 2 GiB", path);
    }
    size_t size = (size_t)sb.st_size;
    unsigned char *data = malloc(size ? size : 1);
    if (!data) {
        fclose(fp);
        return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    size_t got = fread(data, 1, size, fp);
    int read_error = ferror(fp);
    fclose(fp);
    if (got != size || read_error) {
        free(data);
        return sx_fail(err, err_size, SAGALUX_ERR_IO, "%s: read error", path);
    }
    sagalux_status st = decode(data, size, path, out, err, err_size);
    free(data);
    return st;
}

sagalux_save_options sagalux_save_options_default(sagalux_file_format format)
{
    return (sagalux_save_options){.format = format, .jpeg_quality = 92, .keep_metadata = 1};
}

/* The options a save will use (defaults filled in), or an error naming label. */
static sagalux_status resolve_save_options(const sagalux_image *image, const char *label,
                                           const sagalux_save_options *options, sagalux_file_format by_name,
                                           sagalux_save_options *opt, char *err, size_t err_size)
{
    *opt = options ? *options : sagalux_save_options_default(by_name);
    if (opt->format == SAGALUX_FORMAT_UNKNOWN) opt->format = by_name;
    if (opt->format == SAGALUX_FORMAT_UNKNOWN)
        return sx_fail(err, err_size, SAGALUX_ERR_INVALID_ARGUMENT, "%s: cannot tell the format (use .png or .jpg)", label);
    if (opt->jpeg_quality == 0) opt->jpeg_quality = 92;
    if (opt->jpeg_quality < 1 || opt->jpeg_quality > 100)
        return sx_fail(err, err_size, SAGALUX_ERR_INVALID_ARGUMENT, "%s: JPEG quality %d is outside 1..100", label,
                       opt->jpeg_quality);
    if (opt->jpeg_subsampling == 0) opt->jpeg_subsampling = 420;
    if (opt->jpeg_subsampling != 444 && opt->jpeg_subsampling != 422 && opt->jpeg_subsampling != 420)
        return sx_fail(err, err_size, SAGALUX_ERR_INVALID_ARGUMENT, "%s: JPEG subsampling %d is not 444, 422 or 420",
                       label, opt->jpeg_subsampling);
    if (opt->png_bit_depth == 0) opt->png_bit_depth = image->bit_depth == 16 ? 16 : 8;
    if (opt->png_bit_depth != 8 && opt->png_bit_depth != 16)
        return sx_fail(err, err_size, SAGALUX_ERR_INVALID_ARGUMENT, "%s: PNG bit depth must be 8 or 16", label);
    return SAGALUX_OK;
}

/* A JPEG thumbnail of the image, at most 160 x 120 (box-filtered). */
static sagalux_status make_thumbnail(const sagalux_image *img, void **jpeg, size_t *size)
{
    double scale = fmin(160.0 / img->width, 120.0 / img->height);
    if (scale > 1.0) scale = 1.0;
    int tw = (int)(img->width * scale + 0.5), th = (int)(img->height * scale + 0.5);
    if (tw < 1) tw = 1;
    if (th < 1) th = 1;
    sagalux_image *t;
    sagalux_status st = sagalux_image_create(tw, th, 0, &t);
    if (st != SAGALUX_OK) return st;
    size_t n = (size_t)img->width * img->height, tn = (size_t)tw * th;
    for (int y = 0; y < th; y++) {
        int y0 = (int)((long long)y * img->height / th), y1 = (int)((long long)(y + 1) * img->height / th);
        for (int x = 0; x < tw; x++) {
            int x0 = (int)((long long)x * img->width / tw), x1 = (int)((long long)(x + 1) * img->width / tw);
            for (int c = 0; c < 3; c++) {
                double sum = 0.0;
                for (int yy = y0; yy < y1; yy++)
                    for (int xx = x0; xx < x1; xx++) sum += img->rgb[c * n + (size_t)yy * img->width + xx];
                t->rgb[c * tn + (size_t)y * tw + x] = (float)(sum / ((double)(y1 - y0) * (x1 - x0)));
            }
        }
    }
    sagalux_save_options o = {.format = SAGALUX_FORMAT_JPEG, .jpeg_quality = 80, .png_bit_depth = 8};
    st = sagalux_image_save_memory(t, &o, "thumbnail", jpeg, size, NULL, 0);
    sagalux_image_free(t);
    return st;
}

/* The EXIF block to write: the image's own, or, when it holds a thumbnail,
 * a copy whose thumbnail shows these pixels (or none, if one cannot be
 * made): an old thumbnail would show the dark original. *owned is set when
 * the caller must free *exif. */
static void exif_for_save(const sagalux_image *img, const unsigned char **exif, size_t *size, unsigned char **owned)
{
    *exif = img->exif;
    *size = img->exif_size;
    *owned = NULL;
    if (!img->exif || !sx_exif_has_thumbnail(img->exif, img->exif_size)) return;
    void *thumb = NULL;
    size_t thumb_size = 0;
    if (make_thumbnail(img, &thumb, &thumb_size) != SAGALUX_OK) thumb = NULL;
    sx_exif_changes ch = {0, 0, 1, thumb, thumb ? thumb_size : 0};
    unsigned char *edited = NULL;
    size_t edited_size = 0;
    if (sx_exif_edit(img->exif, img->exif_size, &ch, &edited, &edited_size) == SAGALUX_OK) {
        *exif = *owned = edited;
        *size = edited_size;
    } else {
        *exif = NULL; /* unreadable: not written, rather than with a dark thumbnail */
        *size = 0;
    }
    free(thumb);
}

/* Encodes to an open stream and flushes it. */
static sagalux_status encode(const sagalux_image *image_in, FILE *fp, const sagalux_save_options *opt,
                             const char *label, char *err, size_t err_size)
{
    sagalux_image image = *image_in;
    unsigned char *owned = NULL, *photoshop = NULL;
    if (opt->keep_metadata) {
        const unsigned char *exif;
        exif_for_save(image_in, &exif, &image.exif_size, &owned);
        image.exif = (unsigned char *)exif;
        /* The Photoshop block's thumbnail would show the dark original. */
        if (image_in->photoshop && sx_photoshop_without_thumbnails(image_in->photoshop, image_in->photoshop_size,
                                                                   &photoshop, &image.photoshop_size) != SAGALUX_OK) {
            sx_log(SAGALUX_LOG_WARN, "%s: the Photoshop/IPTC block does not parse; it is not written", label);
            photoshop = NULL;
        }
        image.photoshop = photoshop;
        if (!photoshop) image.photoshop_size = 0;
    }
    sagalux_status st = opt->format == SAGALUX_FORMAT_PNG ? sx_png_encode(&image, fp, opt, label, err, err_size)
                                                          : sx_jpeg_encode(&image, fp, opt, label, err, err_size);
    free(owned);
    free(photoshop);
    if (fflush(fp) != 0 && st == SAGALUX_OK)
        st = sx_fail(err, err_size, sx_write_status(fp, errno), "%s: write failed: %s", label, strerror(errno));
    return st;
}

sagalux_status sagalux_image_save(const sagalux_image *image, const char *path,
                                  const sagalux_save_options *options, char *err, size_t err_size)
{
    if (!image || !path || !image->rgb) return SAGALUX_ERR_INVALID_ARGUMENT;
    sagalux_save_options opt;
    sagalux_status st = resolve_save_options(image, path, options, sagalux_format_from_name(path), &opt, err, err_size);
    if (st != SAGALUX_OK) return st;
    sx_publish pub;
    if ((st = sx_publish_open(&pub, path, SX_TEMP_ANY, path, err, err_size)) != SAGALUX_OK) return st;
    /* The stream gets its own descriptor: fclose reports the last write
     * errors (NFS reports some only then), and the temporary stays open for
     * the move. */
    int fd = dup(pub.fd);
    FILE *fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!fp) {
        st = sx_fail(err, err_size, fd < 0 ? SAGALUX_ERR_IO : SAGALUX_ERR_OUT_OF_MEMORY, "%s: %s", path,
                     fd < 0 ? strerror(errno) : "out of memory");
        if (fd >= 0) close(fd);
        sx_publish_abort(&pub);
        return st;
    }
    st = encode(image, fp, &opt, path, err, err_size);
    if (fclose(fp) != 0 && st == SAGALUX_OK) /* the stream is gone: its errno alone tells a full disk */
        st = sx_fail(err, err_size, errno == ENOSPC || errno == EDQUOT ? SAGALUX_ERR_NO_SPACE : SAGALUX_ERR_IO,
                     "%s: write failed: %s", path, strerror(errno));
    if (st != SAGALUX_OK) {
        sx_publish_abort(&pub);
        return st;
    }
    return sx_publish_commit(&pub, opt.replace, path, err, err_size);
}

sagalux_status sagalux_image_save_memory(const sagalux_image *image, const sagalux_save_options *options,
                                         const char *name, void **data, size_t *size, char *err, size_t err_size)
{
    if (!image || !image->rgb || !data || !size) return SAGALUX_ERR_INVALID_ARGUMENT;
    *data = NULL;
    *size = 0;
    const char *label = name ? name : "(memory)";
    sagalux_save_options opt;
    sagalux_status st = resolve_save_options(image, label, options, SAGALUX_FORMAT_UNKNOWN, &opt, err, err_size);
    if (st != SAGALUX_OK) return st;
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (!fp) return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    st = encode(image, fp, &opt, label, err, err_size);
    if (fclose(fp) != 0 && st == SAGALUX_OK)
        st = sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    if (st != SAGALUX_OK) {
        free(buf);
        return st;
    }
    *data = buf;
    *size = len;
    return SAGALUX_OK;
}
