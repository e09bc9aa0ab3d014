/* Image decode/encode: every PNG and JPEG variant the issue names, metadata
 * round trips, and bad input (empty, truncated, not an image, absurd sizes,
 * CMYK). Test images are written here with libpng/libjpeg directly so each
 * variant is exactly what it claims to be. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>
#include <jpeglib.h>
#include <png.h>

#include <libexif/exif-data.h>

#include "exif_edit.h"
#include "image.h"
#include "sagalux.h"
#include "test_util.h"

static const char *tmp(const char *name) { return tu_scratch(name); }

static int setup(void **state)
{
    (void)state;
    return tu_scratch_create("io");
}

static int teardown(void **state)
{
    (void)state;
    return tu_scratch_remove();
}

/* Pixel (x, y) channel c of the test pattern, 0..maxval. */
static unsigned pattern(int x, int y, int c, unsigned maxval) { return (unsigned)((x * 37 + y * 11 + c * 101) % (maxval + 1)); }

/* Writes a PNG with libpng: color_type/bit depth as given, interlace optional. */
static void write_png(const char *path, int w, int h, int color_type, int depth, int interlace,
                      const unsigned char *exif, size_t exif_len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, fp);
    png_set_IHDR(png, info, w, h, depth, color_type, interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
        png_byte trans[4] = {255, 128, 0, 255};
        png_set_PLTE(png, info, pal, 4);
        png_set_tRNS(png, info, trans, 4, NULL);
    }
    if (exif) png_set_eXIf_1(png, info, (png_uint_32)exif_len, (png_bytep)exif);
    png_write_info(png, info);
    int channels = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    unsigned char *rows = calloc(h, rowbytes);
    png_bytep *rp = malloc(h * sizeof *rp);
    unsigned maxval = (1u << depth) - 1;
    for (int y = 0; y < h; y++) {
        rp[y] = rows + y * rowbytes;
        for (int x = 0; x < w; x++)
            for (int c = 0; c < channels; c++) {
                unsigned v = color_type == PNG_COLOR_TYPE_PALETTE ? (unsigned)(x + y) % 4 : pattern(x, y, c, maxval);
                if (depth == 16) {
                    rp[y][(x * channels + c) * 2] = (unsigned char)(v >> 8);
                    rp[y][(x * channels + c) * 2 + 1] = (unsigned char)v;
                } else if (depth == 8) {
                    rp[y][x * channels + c] = (unsigned char)v;
                } else { /* packed low-bit: one channel */
                    int per = 8 / depth, shift = 8 - depth * (x % per + 1);
                    rp[y][x / per] |= (unsigned char)(v << shift);
                }
            }
    }
    png_write_image(png, rp);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
    free(rows);
    free(rp);
}

static void write_jpeg(const char *path, int w, int h, J_COLOR_SPACE space, int progressive,
                       const unsigned char *exif, size_t exif_len, const unsigned char *icc, size_t icc_len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, fp);
    cinfo.image_width = w;
    cinfo.image_height = h;
    cinfo.input_components = space == JCS_GRAYSCALE ? 1 : space == JCS_CMYK ? 4 : 3;
    cinfo.in_color_space = space;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 95, TRUE);
    if (progressive) jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    if (exif) {
        unsigned char seg[256];
        memcpy(seg, "Exif\0\0", 6);
        memcpy(seg + 6, exif, exif_len);
        jpeg_write_marker(&cinfo, JPEG_APP0 + 1, seg, (unsigned)(exif_len + 6));
    }
    if (icc) jpeg_write_icc_profile(&cinfo, icc, (unsigned)icc_len);
    unsigned char *row = malloc(w * cinfo.input_components);
    while (cinfo.next_scanline < cinfo.image_height) {
        for (int x = 0; x < w; x++)
            for (int c = 0; c < cinfo.input_components; c++)
                row[x * cinfo.input_components + c] = (unsigned char)pattern(x / 8 * 8, (int)cinfo.next_scanline / 8 * 8, c, 255);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    fclose(fp);
    free(row);
}

/* A big-endian TIFF block whose IFD0 holds Orientation = value. */
static size_t make_exif(unsigned char *out, int orientation)
{
    static const unsigned char base[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(out, base, sizeof base);
    out[19] = (unsigned char)orientation;
    return sizeof base;
}

/* A structurally valid RGB display profile (libpng checks these): header,
 * no tags, then padding bytes. */
static void make_icc(unsigned char *p, size_t n)
{
    memset(p, 0, n);
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(n >> (24 - 8 * i));
    memcpy(p + 4, "none", 4);
    p[8] = 2; p[9] = 0x10;           /* version 2.1 */
    memcpy(p + 12, "mntr", 4);
    memcpy(p + 16, "RGB ", 4);
    memcpy(p + 20, "XYZ ", 4);
    memcpy(p + 36, "acsp", 4);
    static const unsigned char d50[12] = {0, 0, 0xf6, 0xd6, 0, 1, 0, 0, 0, 0, 0xd3, 0x2d};
    memcpy(p + 68, d50, 12);
    for (size_t i = 132; i < n; i++) p[i] = (unsigned char)(i * 7); /* tag count stays 0 */
}

static sagalux_image *load_ok(const char *path)
{
    sagalux_image *img = NULL;
    char err[512];
    sagalux_status st = sagalux_image_load(path, &img, err, sizeof err);
    if (st != SAGALUX_OK) fail_msg("%s: %s", path, err);
    return img;
}

static void expect_load_failure(const char *path, sagalux_status want, const char *needle)
{
    sagalux_image *img = NULL;
    char err[512] = "";
    sagalux_status st = sagalux_image_load(path, &img, err, sizeof err);
    assert_null(img);
    if (st != want || !strstr(err, needle) || !strstr(err, path))
        fail_msg("%s: status %s '%s'; wanted %s with '%s'", path, sagalux_status_string(st), err, sagalux_status_string(want), needle);
}

static void test_png_variants(void **state)
{
    (void)state;
    struct { int type, depth, interlace, alpha, grey; } cases[] = {
        {PNG_COLOR_TYPE_RGB, 8, 0, 0, 0},        {PNG_COLOR_TYPE_RGB, 16, 0, 0, 0},
        {PNG_COLOR_TYPE_RGB_ALPHA, 8, 0, 1, 0},  {PNG_COLOR_TYPE_RGB_ALPHA, 16, 1, 1, 0},
        {PNG_COLOR_TYPE_GRAY, 8, 0, 0, 1},       {PNG_COLOR_TYPE_GRAY, 16, 1, 0, 1},
        {PNG_COLOR_TYPE_GRAY, 1, 0, 0, 1},       {PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, 1, 1},
        {PNG_COLOR_TYPE_PALETTE, 8, 1, 1, 0},    {PNG_COLOR_TYPE_RGB, 8, 1, 0, 0},
    };
    const int w = 33, h = 21;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *path = tmp("variant.png");
        write_png(path, w, h, cases[i].type, cases[i].depth, cases[i].interlace, NULL, 0);
        sagalux_image *img = load_ok(path);
        assert_int_equal(img->width, w);
        assert_int_equal(img->height, h);
        assert_int_equal(img->alpha != NULL, cases[i].alpha);
        assert_int_equal(img->is_grey, cases[i].grey);
        assert_int_equal(img->bit_depth, cases[i].depth == 16 ? 16 : 8);
        size_t plane = (size_t)w * h;
        int x = 5, y = 7;
        if (cases[i].type == PNG_COLOR_TYPE_PALETTE) {
            /* index (x+y)%4 = 0: red, opaque */
            assert_float_equal(img->rgb[y * w + x], 1.0f, 1e-6);
            assert_float_equal(img->rgb[plane + y * w + x], 0.0f, 1e-6);
            assert_float_equal(img->alpha[y * w + x], 1.0f, 1e-6);
            assert_float_equal(img->alpha[y * w + x + 1], 128.0f / 255.0f, 1e-6);
        } else if (cases[i].depth >= 8) {
            unsigned maxval = (1u << cases[i].depth) - 1;
            for (int c = 0; c < 3; c++) {
                int src_c = cases[i].grey ? 0 : c;
                assert_float_equal(img->rgb[c * plane + y * w + x], pattern(x, y, src_c, maxval) / (float)maxval, 1e-6);
            }
        }
        sagalux_image_free(img);
    }
}

static void test_png_roundtrip_16bit_alpha_metadata(void **state)
{
    (void)state;
    unsigned char exif[64];
    size_t exif_len = make_exif(exif, 6);
    write_png(tmp("src16.png"), 19, 13, PNG_COLOR_TYPE_RGB_ALPHA, 16, 0, exif, exif_len);
    sagalux_image *img = load_ok(tmp("src16.png"));
    assert_int_equal(img->orientation, 6);
    unsigned char icc[300];
    make_icc(icc, sizeof icc);
    img->icc = malloc(300);
    memcpy(img->icc, icc, 300);
    img->icc_size = 300;
    char err[512];
    sagalux_save_options opt = sagalux_save_options_default(SAGALUX_FORMAT_PNG);
    if (sagalux_image_save(img, tmp("out16.png"), &opt, err, sizeof err) != SAGALUX_OK) fail_msg("%s", err);
    sagalux_image *back = load_ok(tmp("out16.png"));
    assert_int_equal(back->bit_depth, 16);
    assert_non_null(back->alpha);
    assert_memory_equal(back->rgb, img->rgb, 3 * 19 * 13 * sizeof(float)); /* 16-bit survives exactly */
    assert_memory_equal(back->alpha, img->alpha, 19 * 13 * sizeof(float));
    assert_int_equal(back->exif_size, exif_len);
    assert_memory_equal(back->exif, exif, exif_len);
    assert_int_equal(back->orientation, 6);
    assert_int_equal(back->icc_size, 300);
    assert_memory_equal(back->icc, icc, 300);
    /* 8-bit output when asked */
    opt.png_bit_depth = 8;
    assert_int_equal(sagalux_image_save(img, tmp("out8.png"), &opt, err, sizeof err), SAGALUX_OK);
    sagalux_image *eight = load_ok(tmp("out8.png"));
    assert_int_equal(eight->bit_depth, 8);
    for (size_t i = 0; i < 3 * 19 * 13; i++) assert_float_equal(eight->rgb[i], img->rgb[i], 0.5 / 255 + 1e-6);
    /* A malformed profile is dropped, the save still succeeds. */
    img->icc[40] ^= 0xff;
    img->icc[0] = 0x7f;
    assert_int_equal(sagalux_image_save(img, tmp("badicc.png"), &opt, err, sizeof err), SAGALUX_OK);
    sagalux_image *no_icc = load_ok(tmp("badicc.png"));
    assert_null(no_icc->icc);
    sagalux_image_free(no_icc);
    sagalux_image_free(img);
    sagalux_image_free(back);
    sagalux_image_free(eight);
}

static void test_jpeg_variants_and_metadata(void **state)
{
    (void)state;
    unsigned char exif[64], icc[70000];
    size_t exif_len = make_exif(exif, 8);
    for (size_t i = 0; i < sizeof icc; i++) icc[i] = (unsigned char)(i * 13 + 1); /* > one APP2 segment */
    const int w = 40, h = 24;
    for (int progressive = 0; progressive < 2; progressive++)
        for (int grey = 0; grey < 2; grey++) {
            write_jpeg(tmp("v.jpg"), w, h, grey ? JCS_GRAYSCALE : JCS_RGB, progressive, exif, exif_len, icc, sizeof icc);
            sagalux_image *img = load_ok(tmp("v.jpg"));
            assert_int_equal(img->width, w);
            assert_int_equal(img->height, h);
            assert_int_equal(img->is_grey, grey);
            assert_null(img->alpha);
            assert_int_equal(img->orientation, 8);
            assert_int_equal(img->icc_size, sizeof icc);
            assert_memory_equal(img->icc, icc, sizeof icc);
            /* flat 8x8 blocks decode close to their value (JPEG is lossy) */
            size_t plane = (size_t)w * h;
            for (int c = 0; c < 3; c++)
                assert_float_equal(img->rgb[c * plane + 11 * w + 12], pattern(8, 8, grey ? 0 : c, 255) / 255.0f, 12.0 / 255);
            /* JPEG -> JPEG keeps EXIF and ICC */
            char err[512];
            sagalux_save_options opt = sagalux_save_options_default(SAGALUX_FORMAT_JPEG);
            opt.jpeg_quality = 90;
            opt.replace = 1; /* o.jpg is written once a variant */
            assert_int_equal(sagalux_image_save(img, tmp("o.jpg"), &opt, err, sizeof err), SAGALUX_OK);
            sagalux_image *back = load_ok(tmp("o.jpg"));
            assert_int_equal(back->orientation, 8);
            assert_int_equal(back->exif_size, exif_len);
            assert_int_equal(back->icc_size, sizeof icc);
            sagalux_image_free(back);
            sagalux_image_free(img);
        }
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (n) assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    *n = (size_t)ftell(fp);
    rewind(fp);
    unsigned char *d = malloc(*n);
    assert_int_equal(fread(d, 1, *n, fp), *n);
    fclose(fp);
    return d;
}

/* A PNG whose IHDR claims width x height (valid CRC), followed by nothing useful. */
static void write_png_header_only(const char *path, uint32_t width, uint32_t height)
{
    unsigned char b[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    for (int i = 0; i < 4; i++) {
        b[16 + i] = (unsigned char)(width >> (24 - 8 * i));
        b[20 + i] = (unsigned char)(height >> (24 - 8 * i));
    }
    b[24] = 8; /* depth */
    b[25] = 2; /* RGB */
    uLong crc = crc32(0, b + 12, 17);
    for (int i = 0; i < 4; i++) b[29 + i] = (unsigned char)(crc >> (24 - 8 * i));
    write_bytes(path, b, sizeof b);
}

/* A FIFO named like a photo (no writer) is refused at once by the loader
 * and the header probe, never waited on: the alarm fails the test if
 * either blocks. */
static void test_fifo_is_refused_not_waited_on(void **state)
{
    (void)state;
    const char *fifo = tmp("pipe.jpg");
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    char err[512];
    int w, h;
    sagalux_image *img = NULL;
    alarm(10);
    assert_int_equal(sagalux_image_probe(fifo, &w, &h, err, sizeof err), SAGALUX_ERR_IO);
    assert_non_null(strstr(err, "not a regular file"));
    assert_int_equal(sagalux_image_load(fifo, &img, err, sizeof err), SAGALUX_ERR_IO);
    assert_non_null(strstr(err, "not a regular file"));
    alarm(0);
    unlink(fifo);
}

static void test_bad_input(void **state)
{
    (void)state;
    write_bytes(tmp("empty.png"), "", 0);
    expect_load_failure(tmp("empty.png"), SAGALUX_ERR_FORMAT, "empty file");
    write_bytes(tmp("text.jpg"), "hello, I am not a picture\n", 26);
    expect_load_failure(tmp("text.jpg"), SAGALUX_ERR_FORMAT, "not a PNG or JPEG");
    expect_load_failure(tmp("does-not-exist.png"), SAGALUX_ERR_IO, "cannot open");
    /* 486 bytes whose zTXt declares 1.9 GB: libpng would allocate that (found by the fuzzer). */
    expect_load_failure(tu_data("png_text_length_bomb.png"), SAGALUX_ERR_FORMAT, "zTXt chunk declares 1946157158 bytes");

    write_png_header_only(tmp("huge.png"), 29000, 29000); /* under the side cap, over the pixel cap */
    expect_load_failure(tmp("huge.png"), SAGALUX_ERR_TOO_LARGE, "larger than");
    write_png_header_only(tmp("wide.png"), 40000, 10);
    expect_load_failure(tmp("wide.png"), SAGALUX_ERR_TOO_LARGE, "larger than");

    /* Truncated PNG and JPEG, at several cut points. */
    write_png(tmp("full.png"), 64, 48, PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0);
    write_jpeg(tmp("full.jpg"), 64, 48, JCS_RGB, 1, NULL, 0, NULL, 0);
    const char *full[2] = {"full.png", "full.jpg"};
    for (int f = 0; f < 2; f++) {
        size_t n;
        unsigned char *d = read_all(tmp(full[f]), &n);
        size_t cuts[] = {3, 8, 20, 40, n / 3, n / 2, n - 20, n - 2};
        for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
            write_bytes(tmp("cut"), d, cuts[i]);
            sagalux_image *img = NULL;
            char err[512] = "";
            sagalux_status st = sagalux_image_load(tmp("cut"), &img, err, sizeof err);
            if (st == SAGALUX_OK || !strstr(err, tmp("cut")))
                fail_msg("%s cut to %zu of %zu bytes (ends %02x %02x, cut off %02x %02x): %s '%s'", full[f], cuts[i], n,
                         d[cuts[i] - 2], d[cuts[i] - 1], d[cuts[i]], d[cuts[i] + 1], sagalux_status_string(st), err);
        }
        /* Flipped bytes in the compressed data must not crash. */
        for (size_t i = 0; i < 200; i++) {
            unsigned char *bad = malloc(n);
            memcpy(bad, d, n);
            bad[(i * 7919) % n] ^= (unsigned char)(1 + i);
            sagalux_image *img = NULL;
            char err[512];
            if (sagalux_image_load_memory(bad, n, NULL, &img, err, sizeof err) == SAGALUX_OK) sagalux_image_free(img);
            free(bad);
        }
        free(d);
    }

    write_jpeg(tmp("cmyk.jpg"), 16, 16, JCS_CMYK, 0, NULL, 0, NULL, 0);
    expect_load_failure(tmp("cmyk.jpg"), SAGALUX_ERR_UNSUPPORTED, "CMYK");
}

/* Entries of the scratch folder whose name starts with prefix. */
static int count_entries(const char *prefix)
{
    DIR *d = opendir(tmp("."));
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

/* A header may declare far more pixels than the file's data can fill: the
 * decoder must refuse it before allocating for the declared size. */
static void test_declared_size_beyond_data(void **state)
{
    (void)state;
    /* Kept from a fuzz run: 335 bytes of grey baseline JPEG declaring
     * 18760x17490 (328 MP, under the 500 MP cap). It used to decode "fine"
     * (libjpeg padding with grey) into 3.8 GB. */
    expect_load_failure(tu_data("bomb_18760x17490.jpg"), SAGALUX_ERR_FORMAT, "data can hold at most");

    /* A JPEG whose entropy data ends early but whose end marker is present:
     * libjpeg only warns "premature end of data segment". */
    write_jpeg(tmp("tall.jpg"), 64, 48, JCS_RGB, 0, NULL, 0, NULL, 0);
    size_t n;
    unsigned char *d = read_all(tmp("tall.jpg"), &n);
    for (size_t i = 0; i + 9 < n; i++)
        if (d[i] == 0xff && d[i + 1] == 0xc0) { /* SOF0: height at +5 */
            d[i + 5] = 480 >> 8;
            d[i + 6] = 480 & 0xff;
            break;
        }
    write_bytes(tmp("tall.jpg"), d, n);
    free(d);
    expect_load_failure(tmp("tall.jpg"), SAGALUX_ERR_FORMAT, "premature end");

    /* A PNG header of 20000x20000 RGB (400 MP, under the cap) in 33 bytes:
     * deflate cannot expand that little data into 1.2 GB of rows. */
    write_png_header_only(tmp("big.png"), 20000, 20000);
    expect_load_failure(tmp("big.png"), SAGALUX_ERR_FORMAT, "data can hold at most");
}

/* Grey in, grey out: an image marked grey whose planes drifted apart (as an
 * enhancement of a grey photo does) is saved as a grey file, the mean of the
 * planes, so no colour tint can appear; a colour image stays colour. */
static void test_grey_in_grey_out(void **state)
{
    (void)state;
    static const char *const names[2] = {"grey.png", "grey.jpg"};
    for (int f = 0; f < 2; f++)
        for (int grey = 0; grey < 2; grey++) {
            sagalux_image *img;
            assert_int_equal(sagalux_image_create(16, 8, f == 0, &img), SAGALUX_OK);
            size_t plane = 16 * 8;
            for (size_t i = 0; i < plane; i++) {
                img->rgb[i] = 0.50f;             /* R */
                img->rgb[plane + i] = 0.40f;     /* G: a tint */
                img->rgb[2 * plane + i] = 0.30f; /* B */
                if (img->alpha) img->alpha[i] = 0.25f;
            }
            img->is_grey = grey;
            char err[512];
            unlink(tmp(names[f])); /* written once for grey and once for colour */
            assert_int_equal(sagalux_image_save(img, tmp(names[f]), NULL, err, sizeof err), SAGALUX_OK);
            sagalux_image *back = load_ok(tmp(names[f]));
            assert_int_equal(back->is_grey, grey);
            float r = back->rgb[0], g = back->rgb[plane], b = back->rgb[2 * plane];
            if (grey) {
                assert_true(r == g && g == b);
                assert_true(fabsf(r - 0.40f) < 2.5f / 255.0f); /* 8-bit rounding, JPEG's DC quantisation */
            } else {
                assert_true(r - b > 0.15f);
            }
            if (f == 0) assert_true(fabsf(back->alpha[0] - 0.25f) < 1.0f / 255.0f);
            sagalux_image_free(back);
            sagalux_image_free(img);
        }
}

/* The caller's decode budget is checked before anything is allocated. */
static void test_pixel_limit(void **state)
{
    (void)state;
    write_png(tmp("limit.png"), 64, 48, PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0);
    write_jpeg(tmp("limit.jpg"), 64, 48, JCS_RGB, 1, NULL, 0, NULL, 0);
    sagalux_set_image_pixel_limit(64 * 48 - 1);
    assert_int_equal(sagalux_image_pixel_limit(), 64 * 48 - 1);
    expect_load_failure(tmp("limit.png"), SAGALUX_ERR_TOO_LARGE, "3072 pixels), more than the 3071-pixel");
    expect_load_failure(tmp("limit.jpg"), SAGALUX_ERR_TOO_LARGE, "3072 pixels), more than the 3071-pixel");
    sagalux_set_image_pixel_limit(64 * 48);
    sagalux_image_free(load_ok(tmp("limit.png")));
    sagalux_image_free(load_ok(tmp("limit.jpg")));
    sagalux_set_image_pixel_limit(0); /* back to the default: within the hard cap, above a few MP */
    assert_true(sagalux_image_pixel_limit() <= SAGALUX_MAX_PIXELS && sagalux_image_pixel_limit() > 10000000);
}

static void test_save_errors_leave_nothing(void **state)
{
    (void)state;
    sagalux_image *img;
    assert_int_equal(sagalux_image_create(8, 8, 0, &img), SAGALUX_OK);
    char err[512];
    assert_int_equal(sagalux_image_save(img, tmp("x.bmp"), NULL, err, sizeof err), SAGALUX_ERR_INVALID_ARGUMENT);
    assert_int_equal(sagalux_image_save(img, "/nonexistent-dir/x.png", NULL, err, sizeof err), SAGALUX_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent-dir/x.png"));
    /* A failure after the temporary file was written: the move onto a
     * folder fails (refused without replace; EISDIR with it), and neither
     * the temporary nor anything else remains. */
    assert_int_equal(mkdir(tmp("taken.png"), 0700), 0);
    const int entries = count_entries("");
    assert_int_equal(sagalux_image_save(img, tmp("taken.png"), NULL, err, sizeof err), SAGALUX_ERR_EXISTS);
    sagalux_save_options replace = sagalux_save_options_default(SAGALUX_FORMAT_PNG);
    replace.replace = 1;
    assert_int_equal(sagalux_image_save(img, tmp("taken.png"), &replace, err, sizeof err), SAGALUX_ERR_IO);
    assert_non_null(strstr(err, "move into place"));
    assert_int_equal(count_entries(""), entries); /* the folder itself, no temporary */
    assert_int_equal(count_entries(".sagalux-"), 0);
    rmdir(tmp("taken.png"));
    sagalux_image_free(img);
    assert_int_equal(sagalux_image_create(0, 5, 0, &img) == SAGALUX_OK, 0);
    assert_int_equal(sagalux_image_create(SAGALUX_MAX_SIDE + 1, 5, 0, &img), SAGALUX_ERR_TOO_LARGE);
    sagalux_image_free(NULL);
}

/* Every orientation against its display layout, written out by hand for a
 * 3x2 image "abc/def" (not derived from the code under test); alpha turns
 * with the colours, and the EXIF tag reads 1 afterwards. */
static void test_apply_orientation(void **state)
{
    (void)state;
    static const char *const want[9] = {NULL, "abc/def", "cba/fed", "fed/cba", "def/abc",
                                        "ad/be/cf", "da/eb/fc", "fc/eb/da", "cf/be/ad"};
    for (int o = 1; o <= 8; o++) {
        sagalux_image *img;
        assert_int_equal(sagalux_image_create(3, 2, 1, &img), SAGALUX_OK);
        for (int i = 0; i < 6; i++) {
            for (int c = 0; c < 3; c++) img->rgb[c * 6 + i] = (float)('a' + i) / 256.0f;
            img->alpha[i] = (float)('a' + i) / 256.0f;
        }
        unsigned char exif[64];
        sx_image_set_exif(img, exif, make_exif(exif, o));
        assert_int_equal(img->orientation, o);
        assert_int_equal(sagalux_image_apply_orientation(img), SAGALUX_OK);
        char got[16] = "";
        size_t k = 0;
        for (int y = 0; y < img->height; y++) {
            if (y) got[k++] = '/';
            for (int x = 0; x < img->width; x++) {
                int i = y * img->width + x;
                got[k++] = (char)(img->rgb[2 * img->width * img->height + i] * 256.0f + 0.5f); /* the B plane */
                assert_float_equal(img->alpha[i], img->rgb[i], 0.0f);
            }
        }
        got[k] = 0;
        if (strcmp(got, want[o]) != 0) fail_msg("orientation %d: got %s, want %s", o, got, want[o]);
        assert_int_equal(img->orientation, 1);
        assert_non_null(img->exif);
        assert_int_equal(sx_exif_orientation(img->exif, img->exif_size), 1);
        sagalux_image_free(img);
    }
}

/* ed's EXIF block without libexif's "Exif\0\0" header, into *out (malloc'd);
 * ed is released. Returns the size. */
static size_t exif_block(ExifData *ed, unsigned char **out)
{
    unsigned char *saved;
    unsigned int saved_size;
    exif_data_save_data(ed, &saved, &saved_size);
    exif_data_unref(ed);
    assert_true(saved_size > 6);
    *out = malloc(saved_size - 6);
    memcpy(*out, saved + 6, saved_size - 6);
    free(saved);
    return saved_size - 6;
}

/* An EXIF block made with libexif: orientation 1 and a black JPEG thumbnail. */
static size_t exif_with_dark_thumbnail(unsigned char **out)
{
    sagalux_image *black;
    assert_int_equal(sagalux_image_create(16, 12, 0, &black), SAGALUX_OK);
    void *thumb;
    size_t thumb_size;
    sagalux_save_options o = {.format = SAGALUX_FORMAT_JPEG, .jpeg_quality = 90, .png_bit_depth = 8};
    assert_int_equal(sagalux_image_save_memory(black, &o, NULL, &thumb, &thumb_size, NULL, 0), SAGALUX_OK);
    sagalux_image_free(black);
    ExifData *ed = exif_data_new();
    exif_data_set_byte_order(ed, EXIF_BYTE_ORDER_INTEL);
    ExifEntry *e = exif_entry_new();
    exif_content_add_entry(ed->ifd[EXIF_IFD_0], e);
    exif_entry_initialize(e, EXIF_TAG_ORIENTATION);
    exif_set_short(e->data, EXIF_BYTE_ORDER_INTEL, 1);
    exif_entry_unref(e);
    ed->data = thumb; /* libexif frees it with free() */
    ed->size = (unsigned)thumb_size;
    return exif_block(ed, out);
}

/* img's EXIF block parsed by libexif (which wants its "Exif\0\0" header back). */
static ExifData *exif_of(const sagalux_image *img)
{
    assert_non_null(img->exif);
    unsigned char *buf = malloc(img->exif_size + 6);
    memcpy(buf, "Exif\0\0", 6);
    memcpy(buf + 6, img->exif, img->exif_size);
    ExifData *ed = exif_data_new_from_data(buf, (unsigned)(img->exif_size + 6));
    free(buf);
    assert_non_null(ed);
    return ed;
}

/* The mean of the thumbnail in a saved file's EXIF block. */
static double thumbnail_mean(const char *path)
{
    sagalux_image *back;
    char err[256];
    assert_int_equal(sagalux_image_load(path, &back, err, sizeof err), SAGALUX_OK);
    ExifData *ed = exif_of(back);
    sagalux_image_free(back);
    assert_non_null(ed->data);
    sagalux_image *t;
    assert_int_equal(sagalux_image_load_memory(ed->data, ed->size, "thumbnail", &t, err, sizeof err), SAGALUX_OK);
    exif_data_unref(ed);
    double sum = 0.0;
    size_t n = (size_t)3 * t->width * t->height;
    for (size_t i = 0; i < n; i++) sum += t->rgb[i];
    assert_true(t->width <= 160 && t->height <= 120);
    sagalux_image_free(t);
    return sum / (double)n;
}

/* A saved bright image never carries the dark original's EXIF thumbnail. */
static void test_thumbnail_made_from_result(void **state)
{
    (void)state;
    sagalux_image *img;
    assert_int_equal(sagalux_image_create(64, 48, 0, &img), SAGALUX_OK);
    for (size_t i = 0; i < (size_t)3 * 64 * 48; i++) img->rgb[i] = 0.9f;
    unsigned char *exif;
    size_t exif_size = exif_with_dark_thumbnail(&exif);
    sx_image_set_exif(img, exif, exif_size);
    free(exif);
    assert_true(sx_exif_has_thumbnail(img->exif, img->exif_size));
    const char *names[2] = {"thumb.jpg", "thumb.png"};
    for (int f = 0; f < 2; f++) {
        const char *path = tmp(names[f]);
        assert_int_equal(sagalux_image_save(img, path, NULL, NULL, 0), SAGALUX_OK);
        double mean = thumbnail_mean(path);
        if (mean < 0.8) fail_msg("%s: the EXIF thumbnail's mean is %.3f: the dark one was kept", names[f], mean);
        remove(path);
    }
    sagalux_image_free(img);
}

/* The chunk types of a PNG file, in order, read straight from its bytes
 * (libpng's reader keeps only one eXIf, so it cannot tell). */
static int png_chunk_types(const char *path, char types[][5], int cap)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    unsigned char sig[8], head[8];
    assert_int_equal(fread(sig, 1, 8, fp), 8);
    int n = 0;
    while (n < cap && fread(head, 1, 8, fp) == 8) {
        long len = (long)head[0] << 24 | head[1] << 16 | head[2] << 8 | head[3];
        memcpy(types[n], head + 4, 4);
        types[n++][4] = 0;
        assert_int_equal(fseek(fp, len + 4, SEEK_CUR), 0);
    }
    fclose(fp);
    return n;
}

/* A PNG holds at most one eXIf, and it must come before IDAT for readers
 * that stop at the image data. */
static void test_png_writes_one_exif_before_idat(void **state)
{
    (void)state;
    sagalux_image *img;
    assert_int_equal(sagalux_image_create(8, 6, 0, &img), SAGALUX_OK);
    unsigned char exif[64];
    sx_image_set_exif(img, exif, make_exif(exif, 1));
    const char *path = tmp("one-exif.png");
    char err[256];
    if (sagalux_image_save(img, path, NULL, err, sizeof err) != SAGALUX_OK) fail_msg("%s", err);
    sagalux_image_free(img);
    char types[64][5];
    int n = png_chunk_types(path, types, 64), exifs = 0, first_exif = -1, first_idat = -1;
    for (int i = 0; i < n; i++) {
        if (!strcmp(types[i], "eXIf") && exifs++ == 0) first_exif = i;
        if (!strcmp(types[i], "IDAT") && first_idat < 0) first_idat = i;
    }
    if (exifs != 1) fail_msg("%d eXIf chunks written; a PNG may hold one", exifs);
    assert_true(first_idat > 0);
    if (first_exif > first_idat) fail_msg("eXIf is chunk %d, after the first IDAT (%d)", first_exif, first_idat);
    assert_string_equal(types[n - 1], "IEND");
    remove(path);
}

/* An EXIF block (Intel order): the orientation, XResolution x_dpi/1 and
 * YResolution y_dpi/1 per inch. */
static size_t exif_with_resolution(unsigned char **out, int orientation, unsigned x_dpi, unsigned y_dpi)
{
    const ExifByteOrder order = EXIF_BYTE_ORDER_INTEL;
    ExifData *ed = exif_data_new();
    exif_data_set_byte_order(ed, order);
    const ExifTag tags[4] = {EXIF_TAG_ORIENTATION, EXIF_TAG_X_RESOLUTION, EXIF_TAG_Y_RESOLUTION,
                             EXIF_TAG_RESOLUTION_UNIT};
    for (int i = 0; i < 4; i++) {
        ExifEntry *e = exif_entry_new();
        exif_content_add_entry(ed->ifd[EXIF_IFD_0], e);
        exif_entry_initialize(e, tags[i]);
        if (tags[i] == EXIF_TAG_ORIENTATION) exif_set_short(e->data, order, (ExifShort)orientation);
        if (tags[i] == EXIF_TAG_RESOLUTION_UNIT) exif_set_short(e->data, order, 2);
        if (tags[i] == EXIF_TAG_X_RESOLUTION) exif_set_rational(e->data, order, (ExifRational){x_dpi, 1});
        if (tags[i] == EXIF_TAG_Y_RESOLUTION) exif_set_rational(e->data, order, (ExifRational){y_dpi, 1});
        exif_entry_unref(e);
    }
    return exif_block(ed, out);
}

/* A saved file's EXIF XResolution and YResolution (rounded), read with libexif. */
static void saved_resolution(const char *path, unsigned *x, unsigned *y)
{
    sagalux_image *back = load_ok(path);
    ExifData *ed = exif_of(back);
    sagalux_image_free(back);
    ExifByteOrder order = exif_data_get_byte_order(ed);
    ExifEntry *ex = exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_X_RESOLUTION);
    ExifEntry *ey = exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_Y_RESOLUTION);
    assert_non_null(ex);
    assert_non_null(ey);
    ExifRational rx = exif_get_rational(ex->data, order), ry = exif_get_rational(ey->data, order);
    assert_true(rx.denominator && ry.denominator);
    *x = (rx.numerator + rx.denominator / 2) / rx.denominator;
    *y = (ry.numerator + ry.denominator / 2) / ry.denominator;
    exif_data_unref(ed);
}

/* A photo taken on its side (orientation 6) at 300 x 150 dpi is, once turned
 * upright, 150 dpi across and 300 down: EXIF says so as the pixels do. */
static void test_quarter_turn_swaps_exif_resolution(void **state)
{
    (void)state;
    sagalux_image *img;
    assert_int_equal(sagalux_image_create(12, 8, 0, &img), SAGALUX_OK);
    for (size_t i = 0; i < (size_t)3 * 12 * 8; i++) img->rgb[i] = (float)(i % 7) / 8.0f;
    unsigned char *exif;
    size_t exif_size = exif_with_resolution(&exif, 6, 300, 150);
    sx_image_set_exif(img, exif, exif_size);
    free(exif);
    const char *photo = tmp("sideways.jpg");
    char err[256];
    if (sagalux_image_save(img, photo, NULL, err, sizeof err) != SAGALUX_OK) fail_msg("%s", err);
    sagalux_image_free(img);

    img = load_ok(photo);
    assert_int_equal(img->orientation, 6);
    assert_int_equal(sagalux_image_apply_orientation(img), SAGALUX_OK);
    assert_int_equal(img->width, 8);
    const char *names[2] = {"upright.jpg", "upright.png"};
    for (int f = 0; f < 2; f++) {
        const char *path = tmp(names[f]);
        if (sagalux_image_save(img, path, NULL, err, sizeof err) != SAGALUX_OK) fail_msg("%s", err);
        unsigned x, y;
        saved_resolution(path, &x, &y);
        if (x != 150 || y != 300) fail_msg("%s: EXIF resolution %u x %u dpi; want 150 x 300", names[f], x, y);
        remove(path);
    }
    sagalux_image_free(img);
    remove(photo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_variants),
        cmocka_unit_test(test_declared_size_beyond_data),
        cmocka_unit_test(test_pixel_limit),
        cmocka_unit_test(test_grey_in_grey_out),
        cmocka_unit_test(test_png_roundtrip_16bit_alpha_metadata),
        cmocka_unit_test(test_jpeg_variants_and_metadata),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_fifo_is_refused_not_waited_on),
        cmocka_unit_test(test_save_errors_leave_nothing),
        cmocka_unit_test(test_apply_orientation),
        cmocka_unit_test(test_thumbnail_made_from_result),
        cmocka_unit_test(test_png_writes_one_exif_before_idat),
        cmocka_unit_test(test_quarter_turn_swaps_exif_resolution),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
