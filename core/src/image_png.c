/* PNG decode and encode with libpng.
 *
 * Every PNG variant (grey, palette, tRNS, alpha, 1..16 bits, interlaced) is
 * normalised by libpng's transforms to 8- or 16-bit RGB(A); we turn that into
 * planar float. iCCP, eXIf, pHYs and the text chunks (XMP among them, and
 * ImageMagick's hex "Raw profile type" texts) are kept. libpng errors longjmp back
 * here; the message is kept for the caller. */
#include <limits.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "log.h"

/* Ancillary chunks (iCCP, eXIf, text) above this are refused by libpng. */
#define PNG_CHUNK_CAP (64u << 20)

typedef struct png_ctx {
    jmp_buf jmp;
    char message[200];
    const unsigned char *data;
    size_t size, pos;
} png_ctx;

static void on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->message, sizeof c->message, "%s", msg);
    longjmp(c->jmp, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    sx_log(SAGALUX_LOG_WARN, "libpng: %s", msg);
}

static void read_memory(png_structp png, png_bytep out, png_size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->size - c->pos) png_error(png, "file is truncated");
    memcpy(out, c->data + c->pos, n);
    c->pos += n;
}

/* Deflate codes at most 258 bytes in 2 bits (a ratio of 1032), so `size`
 * bytes of PNG hold at most 1032 * size bytes of filtered rows: each row is a
 * filter byte plus ceil(width * bits per pixel / 8). ULLONG_MAX when the
 * header is not one we know (libpng will refuse it). */
static unsigned long long max_pixels_from_data(unsigned long w, unsigned long h, unsigned depth, unsigned color,
                                               size_t size)
{
    static const unsigned channels[7] = {1, 0, 3, 1, 2, 0, 4}; /* by colour type */
    if (color > 6 || !channels[color] || depth == 0 || depth > 16 || w == 0 || h == 0) return ULLONG_MAX;
    unsigned long long row = 1 + ((unsigned long long)w * channels[color] * depth + 7) / 8;
    unsigned long long rows_possible = 1032ull * size / row; /* size < 2^31, row < 2^22: no overflow */
    return rows_possible >= h ? ULLONG_MAX : rows_possible * w;
}

static const char XMP_KEYWORD[] = "XML:com.adobe.xmp";

/* A "Raw profile type NAME" text of a kind the image has a field for goes
 * into that field, unless it holds one already (a repeat is dropped, so a
 * save never writes two); a malformed one is dropped with a warning. 1:
 * taken; 0: not such a text; -1: out of memory. */
static int take_raw_profile(sagalux_image *img, const png_text *t, const char *label)
{
    static const char prefix[] = "Raw profile type ";
    if (strncmp(t->key, prefix, sizeof prefix - 1) != 0) return 0;
    const char *name = t->key + sizeof prefix - 1;
    int is_photoshop = !strcmp(name, "8bim") || !strcmp(name, "iptc");
    int is_xmp = !strcmp(name, "xmp"), is_exif = !strcmp(name, "exif") || !strcmp(name, "APP1");
    if (!(is_photoshop || is_xmp || is_exif)) return 0;
    if ((is_photoshop && img->photoshop) || (is_xmp && img->xmp) || (is_exif && img->exif)) return 1;
    unsigned char *data;
    size_t size;
    if (!sx_raw_profile_decode(t->text, strlen(t->text), &data, &size)) {
        sx_log(SAGALUX_LOG_WARN, "%s: the PNG text \"%s\" does not decode; it is not carried", label, t->key);
        return 1;
    }
    int ok = 1;
    if (is_photoshop) /* "iptc" may hold bare IPTC records (they start with 0x1c) */
        ok = data[0] == 0x1c ? sx_photoshop_wrap_iptc(img, data, size) : sx_image_add_photoshop(img, data, size);
    else if (is_xmp)
        ok = sx_image_set_xmp(img, data, size);
    else if (size > 6 && memcmp(data, "Exif\0\0", 6) == 0)
        sx_image_set_exif(img, data + 6, size - 6);
    else
        sx_image_set_exif(img, data, size);
    free(data);
    return ok ? 1 : -1;
}

/* XMP and the older ImageMagick profiles (Photoshop/IPTC, XMP, EXIF) into
 * their own fields; every other text as it is. 0: out of memory. The
 * "8bim" profile wins over an "iptc" one: ImageMagick writes both. */
static int keep_texts(sagalux_image *img, const png_text *texts, int count, const char *label)
{
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < count; i++) {
            const png_text *t = &texts[i];
            int iptc = !strcmp(t->key, "Raw profile type iptc");
            if (pass == 0 && iptc) continue; /* after every "8bim" */
            if (pass == 1 && !iptc) continue;
            if (!strcmp(t->key, XMP_KEYWORD) && !img->xmp) {
                if (!sx_image_set_xmp(img, (const unsigned char *)t->text, strlen(t->text))) return 0;
                continue;
            }
            int taken = take_raw_profile(img, t, label);
            if (taken < 0) return 0;
            if (taken) continue;
            int international = t->compression >= PNG_ITXT_COMPRESSION_NONE;
            sagalux_text s = {.keyword = t->key, .text = t->text, .international = international,
                              .compressed = t->compression == PNG_TEXT_COMPRESSION_zTXt ||
                                            t->compression == PNG_ITXT_COMPRESSION_zTXt,
                              .language = international ? t->lang : NULL,
                              .translated_keyword = international ? t->lang_key : NULL};
            if (!sx_image_add_text(img, &s)) return 0;
        }
    return 1;
}

/* libpng allocates a text chunk's declared length before it reads it (1.9
 * GB for a 486-byte file, found by the fuzzer), so every chunk's length is
 * checked against the bytes the file has left before libpng sees it. 0, or
 * -1 with the chunk's type and length in why. */
static int chunk_lengths_fit(const unsigned char *data, size_t size, char *why, size_t why_size)
{
    for (size_t pos = 8; pos + 12 <= size;) {
        size_t len = (size_t)data[pos] << 24 | data[pos + 1] << 16 | data[pos + 2] << 8 | data[pos + 3];
        if (len > size - pos - 12) {
            snprintf(why, why_size, "a %.4s chunk declares %zu bytes; the file has %zu left", (const char *)data + pos + 4,
                     len, size - pos - 12);
            return -1;
        }
        if (memcmp(data + pos + 4, "IEND", 4) == 0) break;
        pos += 12 + len;
    }
    return 0;
}

sagalux_status sx_png_decode(const unsigned char *data, size_t size, sagalux_image **out, const char *label,
                             char *err, size_t err_size)
{
    char why[128];
    if (chunk_lengths_fit(data, size, why, sizeof why) != 0)
        return sx_fail(err, err_size, SAGALUX_ERR_FORMAT, "%s: corrupt or truncated PNG (%s)", label, why);
    /* IHDR must come first: check the size before libpng allocates anything. */
    if (size >= 29 && memcmp(data + 12, "IHDR", 4) == 0) {
        unsigned long w = (unsigned long)data[16] << 24 | data[17] << 16 | data[18] << 8 | data[19];
        unsigned long h = (unsigned long)data[20] << 24 | data[21] << 16 | data[22] << 8 | data[23];
        sagalux_status st = sx_image_check_decode((long long)w, (long long)h,
                                                  max_pixels_from_data(w, h, data[24], data[25], size), "PNG",
                                                  label, err, err_size);
        if (st != SAGALUX_OK) return st;
    }
    png_ctx c = {.data = data, .size = size};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    }
    /* volatile: these change between setjmp and a possible longjmp. */
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    sagalux_image *volatile img = NULL;
    sagalux_status status = SAGALUX_ERR_FORMAT;

    if (setjmp(c.jmp)) {
        free(pixels);
        free(rows);
        sagalux_image_free(img);
        png_destroy_read_struct(&png, &info, NULL);
        if (status == SAGALUX_ERR_FORMAT)
            return sx_fail(err, err_size, status, "%s: corrupt or truncated PNG (%s)", label, c.message);
        return sx_fail(err, err_size, status, "%s: %s", label, c.message);
    }
    png_set_read_fn(png, &c, read_memory);
    png_set_user_limits(png, 0x7fffffffL, 0x7fffffffL); /* our own cap, below, gives the clearer message */
    png_set_chunk_malloc_max(png, PNG_CHUNK_CAP);
    png_read_info(png, info);

    png_uint_32 width, height;
    int depth, color, interlace;
    png_get_IHDR(png, info, &width, &height, &depth, &color, &interlace, NULL, NULL);
    if (sx_image_check_size(width, height) != SAGALUX_OK) { /* unreachable after the IHDR check; kept for safety */
        snprintf(c.message, sizeof c.message, "image is %ux%u", (unsigned)width, (unsigned)height);
        longjmp(c.jmp, 1);
    }
    int grey = !(color & PNG_COLOR_MASK_COLOR) && color != PNG_COLOR_TYPE_PALETTE;
    png_set_expand(png);                 /* palette -> RGB, low-bit grey -> 8, tRNS -> alpha */
    if (grey) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info), bits = png_get_bit_depth(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if ((channels != 3 && channels != 4) || (bits != 8 && bits != 16) ||
        rowbytes != (size_t)width * channels * (bits / 8)) {
        snprintf(c.message, sizeof c.message, "unexpected layout after expansion");
        longjmp(c.jmp, 1);
    }
    status = SAGALUX_ERR_OUT_OF_MEMORY;
    if (sagalux_image_create((int)width, (int)height, channels == 4, (sagalux_image **)&img) != SAGALUX_OK ||
        !(pixels = malloc(rowbytes * height)) || !(rows = malloc(height * sizeof *rows))) {
        snprintf(c.message, sizeof c.message, "out of memory for a %ux%u image", (unsigned)width, (unsigned)height);
        longjmp(c.jmp, 1);
    }
    status = SAGALUX_ERR_FORMAT;
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, info); /* eXIf may follow the image data */

    size_t plane = (size_t)width * height;
    float scale = 1.0f / (bits == 16 ? 65535.0f : 255.0f);
    for (png_uint_32 y = 0; y < height; y++) {
        const unsigned char *row = rows[y];
        for (png_uint_32 x = 0; x < width; x++) {
            size_t i = (size_t)y * width + x;
            for (int ch = 0; ch < channels; ch++) {
                const unsigned char *s = row + ((size_t)x * channels + ch) * (bits / 8);
                float v = (bits == 16 ? (float)(s[0] << 8 | s[1]) : (float)s[0]) * scale;
                if (ch < 3) img->rgb[ch * plane + i] = v;
                else img->alpha[i] = v;
            }
        }
    }
    img->bit_depth = bits;
    img->is_grey = grey;
    img->source_format = SAGALUX_FORMAT_PNG;

    png_charp icc_name;
    int compression;
    png_bytep icc;
    png_uint_32 icc_len;
    if (png_get_iCCP(png, info, &icc_name, &compression, &icc, &icc_len) && icc_len)
        sx_image_set_icc(img, icc, icc_len);
    png_bytep exif;
    png_uint_32 exif_len;
    if (png_get_eXIf_1(png, info, &exif_len, &exif) && exif_len) sx_image_set_exif(img, exif, exif_len);
    png_uint_32 dx, dy;
    int unit;
    if (png_get_pHYs(png, info, &dx, &dy, &unit) && dx && dy) {
        img->density_unit = unit == PNG_RESOLUTION_METER ? SAGALUX_DENSITY_PER_METRE : SAGALUX_DENSITY_ASPECT;
        img->density_x = dx;
        img->density_y = dy;
    }
    png_textp texts;
    int text_count = 0;
    png_get_text(png, info, &texts, &text_count);
    if (!keep_texts(img, texts, text_count, label)) {
        status = SAGALUX_ERR_OUT_OF_MEMORY;
        snprintf(c.message, sizeof c.message, "out of memory for the metadata");
        longjmp(c.jmp, 1);
    }

    free(pixels);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    *out = img;
    return SAGALUX_OK;
}

/* The text chunks to write: XMP as iTXt, the Photoshop resources as a hex
 * zTXt profile, then the image's texts. Built before libpng can longjmp. */
typedef struct png_meta {
    png_text *texts;
    int count;
    char *xmp, *photoshop; /* NUL-terminated copies libpng reads with strlen */
} png_meta;

static void free_texts(png_meta *m)
{
    free(m->texts);
    free(m->xmp);
    free(m->photoshop);
    *m = (png_meta){0};
}

static int prepare_texts(png_meta *m, const sagalux_image *img)
{
    if (!img->xmp && !img->photoshop && !img->text_count) return 1;
    m->texts = calloc((size_t)img->text_count + 2, sizeof *m->texts);
    if (!m->texts) return 0;
    /* XMP is UTF-8 text: a packet holding a NUL is not one, and iTXt could not carry it. */
    if (img->xmp && !memchr(img->xmp, 0, img->xmp_size)) {
        if (!(m->xmp = malloc(img->xmp_size + 1))) goto oom;
        memcpy(m->xmp, img->xmp, img->xmp_size);
        m->xmp[img->xmp_size] = 0;
        m->texts[m->count++] = (png_text){.compression = PNG_ITXT_COMPRESSION_NONE, .key = (char *)XMP_KEYWORD,
                                          .text = m->xmp, .lang = "", .lang_key = ""};
    }
    if (img->photoshop) {
        if (!(m->photoshop = sx_raw_profile_encode("8bim", img->photoshop, img->photoshop_size))) goto oom;
        m->texts[m->count++] = (png_text){.compression = PNG_TEXT_COMPRESSION_zTXt, .key = "Raw profile type 8bim",
                                          .text = m->photoshop};
    }
    for (int i = 0; i < img->text_count; i++) {
        const sagalux_text *t = &img->texts[i];
        int compression = t->international ? (t->compressed ? PNG_ITXT_COMPRESSION_zTXt : PNG_ITXT_COMPRESSION_NONE)
                                           : (t->compressed ? PNG_TEXT_COMPRESSION_zTXt : PNG_TEXT_COMPRESSION_NONE);
        m->texts[m->count++] = (png_text){.compression = compression, .key = t->keyword, .text = t->text,
                                          .lang = t->international ? (t->language ? t->language : "") : NULL,
                                          .lang_key = t->international
                                                          ? (t->translated_keyword ? t->translated_keyword : "")
                                                          : NULL};
    }
    return 1;
oom:
    free_texts(m);
    return 0;
}

/* pHYs: dots per metre as they are; per inch or cm converted (rounded). */
static void set_density(png_structp png, png_infop info, const sagalux_image *img)
{
    double scale;
    switch (img->density_unit) {
    case SAGALUX_DENSITY_ASPECT:
    case SAGALUX_DENSITY_PER_METRE: scale = 1.0; break;
    case SAGALUX_DENSITY_PER_INCH: scale = 1.0 / 0.0254; break;
    case SAGALUX_DENSITY_PER_CM: scale = 100.0; break;
    default: return;
    }
    double x = img->density_x * scale + 0.5, y = img->density_y * scale + 0.5;
    if (x < 1.0 || y < 1.0 || x > 2147483647.0 || y > 2147483647.0) return;
    png_set_pHYs(png, info, (png_uint_32)x, (png_uint_32)y,
                 img->density_unit == SAGALUX_DENSITY_ASPECT ? PNG_RESOLUTION_UNKNOWN : PNG_RESOLUTION_METER);
}

sagalux_status sx_png_encode(const sagalux_image *img, FILE *fp, const sagalux_save_options *opt,
                             const char *label, char *err, size_t err_size)
{
    png_ctx c = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &c, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    }
    /* Grey in, grey out: a grey source is written as grey (the mean of the
     * three planes), so the enhancement cannot add a colour tint to it. */
    const int grey = img->is_grey;
    int channels = (grey ? 1 : 3) + (img->alpha ? 1 : 0), bits = opt->png_bit_depth;
    size_t rowbytes = (size_t)img->width * channels * (bits / 8);
    unsigned char *volatile row = malloc(rowbytes);
    png_meta meta = {0};
    if (row && opt->keep_metadata && !prepare_texts(&meta, img)) {
        free(row);
        row = NULL;
    }
    if (!row || setjmp(c.jmp)) {
        const int errnum = errno; /* a full disk: libpng's fwrite failed with ENOSPC */
        free(row);
        free_texts(&meta);
        png_destroy_write_struct(&png, &info);
        return sx_fail(err, err_size, row ? sx_write_status(fp, errnum) : SAGALUX_ERR_OUT_OF_MEMORY,
                       "%s: cannot write PNG (%s)", label, row ? sx_write_reason(fp, errnum, c.message) : "out of memory");
    }
    png_init_io(png, fp);
    /* An ICC profile libpng finds malformed (say, carried from a JPEG) is
     * dropped with a warning instead of failing the whole save. */
    png_set_benign_errors(png, 1);
    int color = grey ? (img->alpha ? PNG_COLOR_TYPE_GRAY_ALPHA : PNG_COLOR_TYPE_GRAY)
                     : (img->alpha ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB);
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, bits, color, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (opt->keep_metadata && img->icc)
        png_set_iCCP(png, info, "ICC profile", PNG_COMPRESSION_TYPE_BASE, img->icc, (png_uint_32)img->icc_size);
    if (opt->keep_metadata && img->exif) png_set_eXIf_1(png, info, (png_uint_32)img->exif_size, img->exif);
    if (opt->keep_metadata) set_density(png, info, img);
    if (meta.count) png_set_text(png, info, meta.texts, meta.count);
    png_write_info(png, info);
    /* png_write_end writes eXIf again while its valid flag is set (libpng
     * 1.6.39 does), and a PNG may hold only one: the one png_write_info
     * wrote, before IDAT, is the one kept. */
    png_set_invalid(png, info, PNG_INFO_eXIf);

    size_t plane = (size_t)img->width * img->height;
    unsigned maxval = bits == 16 ? 65535u : 255u;
    for (int y = 0; y < img->height; y++) {
        unsigned char *p = row;
        for (int x = 0; x < img->width; x++) {
            size_t i = (size_t)y * img->width + x;
            for (int ch = 0; ch < channels; ch++) {
                int colour = grey ? ch < 1 : ch < 3;
                float f = !colour ? img->alpha[i]
                          : grey  ? (img->rgb[i] + img->rgb[plane + i] + img->rgb[2 * plane + i]) * (1.0f / 3.0f)
                                  : img->rgb[ch * plane + i];
                unsigned v = sx_quantize(f, maxval);
                if (bits == 16) *p++ = (unsigned char)(v >> 8);
                *p++ = (unsigned char)v;
            }
        }
        png_write_row(png, row);
    }
    png_write_end(png, info);
    free(row);
    free_texts(&meta);
    png_destroy_write_struct(&png, &info);
    return SAGALUX_OK;
}
