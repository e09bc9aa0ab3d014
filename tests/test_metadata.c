/* XMP, Photoshop/IPTC, texts and density: carried through load and save,
 * converted between JPEG and PNG, and edited where a result needs it (no
 * stale thumbnail, no stale orientation). Files are written and read back
 * here with libjpeg and libpng directly, and the PNG hex profiles decoded by
 * this file's own reader, so the library is checked against the formats
 * rather than against itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jpeglib.h>
#include <png.h>

#include "image.h"
#include "sagalux.h"
#include "test_util.h"

static const char *tmp(const char *name) { return tu_scratch(name); }

static int setup(void **state)
{
    (void)state;
    return tu_scratch_create("meta");
}

static int teardown(void **state)
{
    (void)state;
    return tu_scratch_remove();
}

/* ------------------------------------------------------------ fixtures */

static const char XMP[] =
    "<?xpacket begin='\xef\xbb\xbf' id='W5M0MpCehiHzreSzNTczkc9d'?>\n"
    "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
    "<rdf:Description xmlns:xmp='http://ns.adobe.com/xap/1.0/' xmlns:tiff='http://ns.adobe.com/tiff/1.0/' "
    "xmp:Rating='4' tiff:Orientation='6'><tiff:Orientation>6</tiff:Orientation></rdf:Description>"
    "</rdf:RDF></x:xmpmeta>\n<?xpacket end='w'?>";

static const char COMMENT[] = "\xc3\x9c" "berbelichtet, Aitzgorri"; /* UTF-8 */

/* One Photoshop resource: signature, id, empty name (padded to 2), size, data (padded to even). */
static size_t irb_put(unsigned char *out, unsigned id, const unsigned char *data, size_t n)
{
    memcpy(out, "8BIM", 4);
    out[4] = (unsigned char)(id >> 8), out[5] = (unsigned char)id;
    out[6] = out[7] = 0;
    for (int i = 0; i < 4; i++) out[8 + i] = (unsigned char)(n >> (24 - 8 * i));
    memcpy(out + 12, data, n);
    if (n & 1) out[12 + n++] = 0;
    return 12 + n;
}

/* IPTC records: keywords "dark", "night"; caption. */
static const unsigned char IIM[] = {0x1c, 2, 25, 0, 4, 'd', 'a', 'r', 'k', 0x1c, 2, 25, 0, 5, 'n', 'i', 'g', 'h', 't',
                                    0x1c, 2, 120, 0, 7, 'C', 'a', 'p', 't', 'i', 'o', 'n'};

/* irb: IPTC, a thumbnail (0x040C), resolution info; kept: the same without the thumbnail. */
static void make_irb(unsigned char *irb, size_t *irb_n, unsigned char *kept, size_t *kept_n)
{
    unsigned char thumb[40], res[16];
    for (size_t i = 0; i < sizeof thumb; i++) thumb[i] = (unsigned char)(i * 3);
    for (size_t i = 0; i < sizeof res; i++) res[i] = (unsigned char)(i + 1);
    size_t n = 0, k = 0;
    n += irb_put(irb + n, 0x0404, IIM, sizeof IIM);
    n += irb_put(irb + n, 0x040C, thumb, sizeof thumb);
    n += irb_put(irb + n, 0x03ED, res, sizeof res);
    k += irb_put(kept + k, 0x0404, IIM, sizeof IIM);
    k += irb_put(kept + k, 0x03ED, res, sizeof res);
    *irb_n = n;
    *kept_n = k;
}

static void put_segment(j_compress_ptr c, int marker, const char *head, size_t head_n, const void *data, size_t n)
{
    unsigned char *seg = malloc(head_n + n);
    memcpy(seg, head, head_n);
    memcpy(seg + head_n, data, n);
    jpeg_write_marker(c, marker, seg, (unsigned)(head_n + n));
    free(seg);
}

/* An 8x8 grey-gradient JPEG with the given blocks and a JFIF density. */
static void write_jpeg(const char *path, const unsigned char *irb, size_t irb_n, int unit, int dx, int dy)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, fp);
    c.image_width = 8;
    c.image_height = 8;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    c.density_unit = (UINT8)unit;
    c.X_density = (UINT16)dx;
    c.Y_density = (UINT16)dy;
    jpeg_start_compress(&c, TRUE);
    put_segment(&c, JPEG_APP0 + 1, "http://ns.adobe.com/xap/1.0/", 29, XMP, strlen(XMP));
    put_segment(&c, JPEG_APP0 + 13, "Photoshop 3.0", 14, irb, irb_n);
    jpeg_write_marker(&c, JPEG_COM, (const JOCTET *)COMMENT, (unsigned)strlen(COMMENT));
    unsigned char row[24];
    while (c.next_scanline < 8) {
        for (int i = 0; i < 24; i++) row[i] = (unsigned char)(c.next_scanline * 20 + i);
        JSAMPROW rp = row;
        jpeg_write_scanlines(&c, &rp, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(fp);
}

/* The usual fixture: a JPEG with every block (make_irb's resources) and
 * the density given. */
static void write_fixture_jpeg(const char *path, int unit, int dx, int dy)
{
    unsigned char irb[300], kept[300];
    size_t irb_n, kept_n;
    make_irb(irb, &irb_n, kept, &kept_n);
    write_jpeg(path, irb, irb_n, unit, dx, dy);
}

/* What a JPEG file holds, read with libjpeg's own marker saving. */
typedef struct jpeg_blocks {
    unsigned char xmp[70000], photoshop[200000], comment[1000];
    size_t xmp_n, photoshop_n, comment_n;
    int photoshop_segments, xmp_segments, unit, dx, dy, jfif;
} jpeg_blocks;

static void read_jpeg_blocks(const char *path, jpeg_blocks *b)
{
    memset(b, 0, sizeof *b);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr jerr;
    d.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, fp);
    jpeg_save_markers(&d, JPEG_APP0 + 1, 0xffff);
    jpeg_save_markers(&d, JPEG_APP0 + 13, 0xffff);
    jpeg_save_markers(&d, JPEG_COM, 0xffff);
    jpeg_read_header(&d, TRUE);
    for (jpeg_saved_marker_ptr m = d.marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length > 29 && !memcmp(m->data, "http://ns.adobe.com/xap/1.0/", 29)) {
            memcpy(b->xmp, m->data + 29, m->data_length - 29);
            b->xmp_n = m->data_length - 29;
            b->xmp_segments++;
        } else if (m->marker == JPEG_APP0 + 13 && m->data_length > 14 && !memcmp(m->data, "Photoshop 3.0", 14)) {
            assert_true(b->photoshop_n + m->data_length - 14 <= sizeof b->photoshop);
            memcpy(b->photoshop + b->photoshop_n, m->data + 14, m->data_length - 14);
            b->photoshop_n += m->data_length - 14;
            b->photoshop_segments++;
        } else if (m->marker == JPEG_COM) {
            memcpy(b->comment, m->data, m->data_length);
            b->comment_n = m->data_length;
        }
    }
    b->jfif = d.saw_JFIF_marker;
    b->unit = d.density_unit;
    b->dx = d.X_density;
    b->dy = d.Y_density;
    jpeg_destroy_decompress(&d);
    fclose(fp);
}

/* The PNG's text chunks and pHYs, read with libpng. */
typedef struct png_blocks {
    png_textp texts;
    int count;
    png_uint_32 dx, dy;
    int unit, has_phys;
    png_structp png;
    png_infop info;
    FILE *fp;
} png_blocks;

static void read_png_blocks(const char *path, png_blocks *b)
{
    memset(b, 0, sizeof *b);
    b->fp = fopen(path, "rb");
    assert_non_null(b->fp);
    b->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    b->info = png_create_info_struct(b->png);
    png_init_io(b->png, b->fp);
    png_read_info(b->png, b->info);
    png_get_text(b->png, b->info, &b->texts, &b->count);
    b->has_phys = png_get_pHYs(b->png, b->info, &b->dx, &b->dy, &b->unit) != 0;
}

static void close_png_blocks(png_blocks *b)
{
    png_destroy_read_struct(&b->png, &b->info, NULL);
    fclose(b->fp);
}

static const png_text *find_text(const png_blocks *b, const char *key)
{
    for (int i = 0; i < b->count; i++)
        if (!strcmp(b->texts[i].key, key)) return &b->texts[i];
    return NULL;
}

/* ImageMagick's hex profile, decoded here without the library's reader:
 * "\n<name>\n<length>\n<hex>". */
static size_t decode_hex_profile(const char *s, unsigned char *out, size_t cap)
{
    char name[32];
    unsigned long n;
    int used;
    assert_int_equal(sscanf(s, " %31s %lu%n", name, &n, &used), 2);
    assert_true(n <= cap);
    const char *p = s + used;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        while (*p == '\n') p++;
        assert_int_equal(sscanf(p, "%2x", &v), 1);
        out[i] = (unsigned char)v;
        p += 2;
    }
    return n;
}

static char *hex_profile(const char *name, const unsigned char *data, size_t n)
{
    char *s = malloc(64 + 3 * n);
    size_t k = (size_t)sprintf(s, "\n%s\n%8zu\n", name, n);
    for (size_t i = 0; i < n; i++) k += (size_t)sprintf(s + k, "%02x%s", data[i], i % 36 == 35 ? "\n" : "");
    strcpy(s + k, "\n");
    return s;
}

static sagalux_image *load_ok(const char *path)
{
    sagalux_image *img = NULL;
    char err[512];
    if (sagalux_image_load(path, &img, err, sizeof err) != SAGALUX_OK) fail_msg("%s: %s", path, err);
    return img;
}

static void save_ok(const sagalux_image *img, const char *path)
{
    char err[512];
    if (sagalux_image_save(img, path, NULL, err, sizeof err) != SAGALUX_OK) fail_msg("%s: %s", path, err);
}

/* --------------------------------------------------------------- tests */

static void test_jpeg_blocks_to_png_and_back(void **state)
{
    (void)state;
    unsigned char irb[300], kept[300];
    size_t irb_n, kept_n;
    make_irb(irb, &irb_n, kept, &kept_n);
    write_jpeg(tmp("src.jpg"), irb, irb_n, 1, 300, 300);

    sagalux_image *img = load_ok(tmp("src.jpg"));
    assert_int_equal(img->xmp_size, strlen(XMP));
    assert_memory_equal(img->xmp, XMP, strlen(XMP));
    assert_int_equal(img->photoshop_size, irb_n); /* as read; the thumbnail goes at save */
    assert_memory_equal(img->photoshop, irb, irb_n);
    assert_int_equal(img->text_count, 1);
    assert_string_equal(img->texts[0].keyword, "Comment");
    assert_string_equal(img->texts[0].text, COMMENT);
    assert_int_equal(img->texts[0].international, 1);
    assert_int_equal(img->density_unit, SAGALUX_DENSITY_PER_INCH);
    assert_int_equal(img->density_x, 300);
    assert_int_equal(img->density_y, 300);

    /* JPEG to PNG: XMP as iTXt, the resources as a hex zTXt, the comment as iTXt, 300 dpi as pHYs. */
    save_ok(img, tmp("mid.png"));
    sagalux_image_free(img);
    png_blocks p;
    read_png_blocks(tmp("mid.png"), &p);
    const png_text *x = find_text(&p, "XML:com.adobe.xmp"), *ps = find_text(&p, "Raw profile type 8bim"),
                   *com = find_text(&p, "Comment");
    assert_non_null(x);
    assert_non_null(ps);
    assert_non_null(com);
    assert_int_equal(x->compression, PNG_ITXT_COMPRESSION_NONE);
    assert_string_equal(x->text, XMP);
    assert_int_equal(ps->compression, PNG_TEXT_COMPRESSION_zTXt);
    unsigned char back[300];
    size_t back_n = decode_hex_profile(ps->text, back, sizeof back);
    assert_int_equal(back_n, kept_n);
    assert_memory_equal(back, kept, kept_n);
    assert_true(com->compression >= PNG_ITXT_COMPRESSION_NONE);
    assert_string_equal(com->text, COMMENT);
    assert_true(p.has_phys);
    assert_int_equal(p.unit, PNG_RESOLUTION_METER);
    assert_int_equal(p.dx, 11811); /* 300 / 0.0254 */
    assert_int_equal(p.dy, 11811);
    assert_int_equal(p.count, 3);
    close_png_blocks(&p);

    /* And back to JPEG: the same blocks, 300 dpi again. */
    img = load_ok(tmp("mid.png"));
    assert_int_equal(img->density_unit, SAGALUX_DENSITY_PER_METRE);
    save_ok(img, tmp("end.jpg"));
    sagalux_image_free(img);
    jpeg_blocks *b = malloc(sizeof *b);
    read_jpeg_blocks(tmp("end.jpg"), b);
    assert_int_equal(b->xmp_n, strlen(XMP));
    assert_memory_equal(b->xmp, XMP, b->xmp_n);
    assert_int_equal(b->photoshop_n, kept_n);
    assert_memory_equal(b->photoshop, kept, kept_n);
    assert_int_equal(b->comment_n, strlen(COMMENT));
    assert_memory_equal(b->comment, COMMENT, b->comment_n);
    assert_true(b->jfif);
    assert_int_equal(b->unit, 1);
    assert_int_equal(b->dx, 300);
    assert_int_equal(b->dy, 300);
    free(b);
}

/* A resource block larger than one segment spans several APP13 segments
 * and reads back whole. */
static void test_large_photoshop_block_spans_segments(void **state)
{
    (void)state;
    size_t big_n = 150000;
    unsigned char *big = malloc(big_n), *irb = malloc(big_n + 20);
    for (size_t i = 0; i < big_n; i++) big[i] = (unsigned char)(i * 13 + 7);
    size_t irb_n = irb_put(irb, 0x0404, big, big_n);
    sagalux_image *img;
    assert_int_equal(sagalux_image_create(8, 8, 0, &img), SAGALUX_OK);
    img->photoshop = irb;
    img->photoshop_size = irb_n;
    save_ok(img, tmp("big.jpg"));
    jpeg_blocks *b = malloc(sizeof *b);
    read_jpeg_blocks(tmp("big.jpg"), b);
    assert_int_equal(b->photoshop_segments, 3);
    assert_int_equal(b->photoshop_n, irb_n);
    assert_memory_equal(b->photoshop, irb, irb_n);
    free(b);
    sagalux_image *back = load_ok(tmp("big.jpg"));
    assert_int_equal(back->photoshop_size, irb_n);
    assert_memory_equal(back->photoshop, irb, irb_n);
    sagalux_image_free(back);
    sagalux_image_free(img);
    free(big);
}

/* ImageMagick's older PNG profiles (bare IPTC, EXIF in hex) are read into
 * their own fields; other texts, tEXt and iTXt with a language, come back as
 * they were; a raw profile that does not decode is dropped. */
static void test_png_texts_and_imagemagick_profiles(void **state)
{
    (void)state;
    unsigned char exif[32] = {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0,
                              0, 1, 0, 6, 0, 0, 0, 0, 0, 0};
    char *iptc = hex_profile("iptc", IIM, sizeof IIM), *exif_hex = hex_profile("exif", exif, sizeof exif);
    char bogus[] = "\n8bim\n 999999999\n0102\n"; /* declares far more than it holds */
    png_text t[5] = {
        {.compression = PNG_TEXT_COMPRESSION_zTXt, .key = "Raw profile type iptc", .text = iptc},
        {.compression = PNG_TEXT_COMPRESSION_zTXt, .key = "Raw profile type exif", .text = exif_hex},
        {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "Author", .text = "J. Doe"},
        {.compression = PNG_ITXT_COMPRESSION_NONE, .key = "Title", .text = "Nacht \xc3\xbc" "ber", .lang = "de",
         .lang_key = "Titel"},
        {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "Raw profile type 8bim", .text = bogus},
    };
    FILE *fp = fopen(tmp("im.png"), "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, fp);
    png_set_IHDR(png, info, 4, 2, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_set_text(png, info, t, 5);
    png_set_pHYs(png, info, 2, 1, PNG_RESOLUTION_UNKNOWN); /* pixels twice as wide as tall */
    png_write_info(png, info);
    unsigned char row[12] = {0};
    png_write_row(png, row);
    png_write_row(png, row);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
    free(iptc);
    free(exif_hex);

    sagalux_image *img = load_ok(tmp("im.png"));
    unsigned char wrapped[64];
    size_t wrapped_n = irb_put(wrapped, 0x0404, IIM, sizeof IIM);
    assert_int_equal(img->photoshop_size, wrapped_n);
    assert_memory_equal(img->photoshop, wrapped, wrapped_n);
    assert_int_equal(img->exif_size, sizeof exif - 6);
    assert_int_equal(img->orientation, 6);
    assert_int_equal(img->text_count, 2);
    assert_string_equal(img->texts[0].keyword, "Author");
    assert_int_equal(img->texts[0].international, 0);
    assert_string_equal(img->texts[1].keyword, "Title");
    assert_string_equal(img->texts[1].language, "de");
    assert_string_equal(img->texts[1].translated_keyword, "Titel");
    assert_int_equal(img->density_unit, SAGALUX_DENSITY_ASPECT);

    save_ok(img, tmp("im2.png"));
    save_ok(img, tmp("im2.jpg"));
    sagalux_image_free(img);
    png_blocks p;
    read_png_blocks(tmp("im2.png"), &p);
    const png_text *a = find_text(&p, "Author"), *ti = find_text(&p, "Title");
    assert_non_null(a);
    assert_non_null(ti);
    assert_int_equal(a->compression, PNG_TEXT_COMPRESSION_NONE);
    assert_string_equal(a->text, "J. Doe");
    assert_int_equal(ti->compression, PNG_ITXT_COMPRESSION_NONE);
    assert_string_equal(ti->lang, "de");
    assert_string_equal(ti->lang_key, "Titel");
    assert_string_equal(ti->text, "Nacht \xc3\xbc" "ber");
    assert_int_equal(p.unit, PNG_RESOLUTION_UNKNOWN);
    assert_int_equal(p.dx, 2);
    assert_int_equal(p.dy, 1);
    close_png_blocks(&p);
    jpeg_blocks *b = malloc(sizeof *b);
    read_jpeg_blocks(tmp("im2.jpg"), b);
    assert_int_equal(b->unit, 0); /* aspect ratio only */
    assert_int_equal(b->dx, 2);
    assert_int_equal(b->dy, 1);
    assert_int_equal(b->comment_n, 0); /* no "Comment" text: JPEG has no place for the others */
    assert_int_equal(b->photoshop_n, wrapped_n);
    free(b);
}

/* Turning the pixels upright resets XMP's tiff:Orientation (attribute and
 * element forms) and swaps the density with a quarter turn. */
static void test_orientation_updates_xmp_and_density(void **state)
{
    (void)state;
    sagalux_image *img;
    assert_int_equal(sagalux_image_create(6, 4, 0, &img), SAGALUX_OK);
    img->orientation = 6;
    img->xmp_size = strlen(XMP);
    img->xmp = malloc(img->xmp_size);
    memcpy(img->xmp, XMP, img->xmp_size);
    img->density_unit = SAGALUX_DENSITY_PER_INCH;
    img->density_x = 300;
    img->density_y = 150;
    assert_int_equal(sagalux_image_apply_orientation(img), SAGALUX_OK);
    assert_int_equal(img->width, 4);
    assert_int_equal(img->density_x, 150);
    assert_int_equal(img->density_y, 300);
    char *want = strdup(XMP), *p;
    p = strstr(want, "tiff:Orientation='6'");
    p[sizeof "tiff:Orientation='" - 1] = '1';
    p = strstr(want, "<tiff:Orientation>6");
    p[sizeof "<tiff:Orientation>" - 1] = '1';
    assert_int_equal(img->xmp_size, strlen(want));
    assert_memory_equal(img->xmp, want, img->xmp_size);
    free(want);
    sagalux_image_free(img);
}

/* --strip's call: content and origin go; colours and print size stay. */
static void test_strip_keeps_colour_and_size(void **state)
{
    (void)state;
    write_fixture_jpeg(tmp("s.jpg"), 2, 100, 100);
    sagalux_image *img = load_ok(tmp("s.jpg"));
    img->icc_size = 4;
    img->icc = malloc(4);
    memcpy(img->icc, "icc!", 4);
    sagalux_image_strip(img);
    assert_null(img->exif);
    assert_null(img->xmp);
    assert_null(img->photoshop);
    assert_int_equal(img->text_count, 0);
    assert_non_null(img->icc);
    assert_int_equal(img->density_unit, SAGALUX_DENSITY_PER_CM);
    sagalux_image_free(img);
}

/* JFIF's default (1:1, no unit) says nothing about density: none is read,
 * and a PNG made from it has no pHYs. */
static void test_default_jfif_is_no_density(void **state)
{
    (void)state;
    write_fixture_jpeg(tmp("d.jpg"), 0, 1, 1);
    sagalux_image *img = load_ok(tmp("d.jpg"));
    assert_int_equal(img->density_unit, SAGALUX_DENSITY_NONE);
    save_ok(img, tmp("d.png"));
    sagalux_image_free(img);
    png_blocks p;
    read_png_blocks(tmp("d.png"), &p);
    assert_false(p.has_phys);
    close_png_blocks(&p);
}

/* A save without keep_metadata writes none of the blocks. */
static void test_no_metadata_writes_none(void **state)
{
    (void)state;
    write_fixture_jpeg(tmp("n.jpg"), 1, 72, 72);
    sagalux_image *img = load_ok(tmp("n.jpg"));
    char err[256];
    sagalux_save_options o = sagalux_save_options_default(SAGALUX_FORMAT_JPEG);
    o.keep_metadata = 0;
    assert_int_equal(sagalux_image_save(img, tmp("n2.jpg"), &o, err, sizeof err), SAGALUX_OK);
    sagalux_image_free(img);
    jpeg_blocks *b = malloc(sizeof *b);
    read_jpeg_blocks(tmp("n2.jpg"), b);
    assert_int_equal(b->xmp_n + b->photoshop_n + b->comment_n, 0);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jpeg_blocks_to_png_and_back),
        cmocka_unit_test(test_large_photoshop_block_spans_segments),
        cmocka_unit_test(test_png_texts_and_imagemagick_profiles),
        cmocka_unit_test(test_orientation_updates_xmp_and_density),
        cmocka_unit_test(test_strip_keeps_colour_and_size),
        cmocka_unit_test(test_default_jfif_is_no_density),
        cmocka_unit_test(test_no_metadata_writes_none),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
