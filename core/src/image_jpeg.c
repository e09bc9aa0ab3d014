/* JPEG decode and encode with libjpeg-turbo.
 *
 * Baseline and progressive, colour and grey decode to planar float RGB; the
 * EXIF and XMP (APP1) blocks, the ICC profile (APP2 chunks), the Photoshop
 * resources with IPTC (APP13), comments (COM) and the JFIF density are kept. CMYK/YCCK
 * sources are refused with a clear message. A truncated file is an error
 * (libjpeg would otherwise pad it with grey and call it a success); a header
 * that declares more pixels than the file's data can code is refused before
 * anything is allocated; a progress monitor caps the number of scans (a known
 * decompression bomb). */
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "image.h"
#include "log.h"

enum {
    MAX_SCANS = 1000,
    EXIF_MARKER = JPEG_APP0 + 1, /* EXIF and XMP, told apart by their headers */
    ICC_MARKER = JPEG_APP0 + 2,
    PHOTOSHOP_MARKER = JPEG_APP0 + 13,
    MAX_MARKER_DATA = 65533 /* a segment's length field counts itself */
};

static const char XMP_HEADER[] = "http://ns.adobe.com/xap/1.0/";       /* and its NUL: 29 bytes */
static const char XMP_EXTENSION[] = "http://ns.adobe.com/xmp/extension/";
static const char PHOTOSHOP_HEADER[] = "Photoshop 3.0";               /* and its NUL: 14 bytes */

typedef struct jpeg_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jmp;
    char message[JMSG_LENGTH_MAX];
} jpeg_err;

static void on_error(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    cinfo->err->format_message(cinfo, e->message);
    longjmp(e->jmp, 1);
}

/* Warnings that mean the image data ended early or makes no sense are fatal:
 * libjpeg would pad with grey and call it a success. The rest are logged. */
static void on_message(j_common_ptr cinfo, int level)
{
    if (level >= 0) return;
    int code = cinfo->err->msg_code;
    if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_BOGUS_PROGRESSION) on_error(cinfo);
    char buf[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, buf);
    sx_log(SAGALUX_LOG_WARN, "libjpeg: %s", buf);
}

/* The most pixels `size` bytes of Huffman-coded JPEG can describe. Every block
 * of a component that is coded at all costs at least one bit (its DC code),
 * and at least one component is coded, so the component with the fewest
 * blocks has at most 8 * size of them. Arithmetic coding has no such floor
 * (ULLONG_MAX: only the decode budget applies). */
static unsigned long long max_pixels_from_data(j_decompress_ptr cinfo, size_t size)
{
    if (cinfo->arith_code) return ULLONG_MAX;
    unsigned long long fewest = ULLONG_MAX;
    for (int c = 0; c < cinfo->num_components; c++) {
        unsigned long long b =
            (unsigned long long)cinfo->comp_info[c].width_in_blocks * cinfo->comp_info[c].height_in_blocks;
        if (b < fewest) fewest = b;
    }
    unsigned long long pixels = (unsigned long long)cinfo->image_width * cinfo->image_height;
    if (fewest == 0 || 8ull * size >= fewest) return ULLONG_MAX;
    return pixels * 8ull * size / fewest; /* < pixels: fewest <= 30000^2 / 64, no overflow */
}

static void on_progress(j_common_ptr cinfo)
{
    if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > MAX_SCANS) {
        jpeg_err *e = (jpeg_err *)cinfo->err;
        snprintf(e->message, sizeof e->message, "more than %d scans", MAX_SCANS);
        longjmp(e->jmp, 1);
    }
}

static int has_header(jpeg_saved_marker_ptr m, const char *header)
{
    size_t n = strlen(header) + 1; /* the NUL is part of the header */
    return m->data_length > n && memcmp(m->data, header, n) == 0;
}

/* EXIF, XMP, the Photoshop resources (APP13 segments concatenated, as
 * Photoshop splits them) and comments, as the file has them. 0: out of memory. */
static int keep_metadata(sagalux_image *img, j_decompress_ptr cinfo, const char *label)
{
    static const unsigned char exif_tag[6] = {'E', 'x', 'i', 'f', 0, 0};
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
        if (m->marker == EXIF_MARKER && m->data_length > 6 && memcmp(m->data, exif_tag, 6) == 0) {
            if (!img->exif) sx_image_set_exif(img, m->data + 6, m->data_length - 6);
        } else if (m->marker == EXIF_MARKER && has_header(m, XMP_HEADER)) {
            if (!img->xmp && !sx_image_set_xmp(img, m->data + sizeof XMP_HEADER, m->data_length - sizeof XMP_HEADER))
                return 0;
        } else if (m->marker == EXIF_MARKER && has_header(m, XMP_EXTENSION)) {
            sx_log(SAGALUX_LOG_WARN, "%s: extended XMP (a packet over 64 KiB) is not carried", label);
        } else if (m->marker == PHOTOSHOP_MARKER && has_header(m, PHOTOSHOP_HEADER)) {
            if (!sx_image_add_photoshop(img, m->data + sizeof PHOTOSHOP_HEADER, m->data_length - sizeof PHOTOSHOP_HEADER))
                return 0;
        } else if (m->marker == JPEG_COM && m->data_length > 0) {
            char *text = malloc(m->data_length + 1);
            if (!text) return 0;
            memcpy(text, m->data, m->data_length);
            text[m->data_length] = 0;
            /* A comment is bytes; one that reads as UTF-8 goes to PNG as iTXt. */
            sagalux_text t = {.keyword = "Comment", .text = text, .international = sx_utf8_beyond_ascii(text)};
            int ok = sx_image_add_text(img, &t);
            free(text);
            if (!ok) return 0;
        }
    }
    /* JFIF's default (aspect 1:1, no unit) says nothing: no density. */
    if (cinfo->saw_JFIF_marker && cinfo->X_density && cinfo->Y_density && cinfo->density_unit <= 2 &&
        !(cinfo->density_unit == 0 && cinfo->X_density == cinfo->Y_density)) {
        static const sagalux_density_unit units[3] = {SAGALUX_DENSITY_ASPECT, SAGALUX_DENSITY_PER_INCH,
                                                      SAGALUX_DENSITY_PER_CM};
        img->density_unit = units[cinfo->density_unit];
        img->density_x = cinfo->X_density;
        img->density_y = cinfo->Y_density;
    }
    return 1;
}

sagalux_status sx_jpeg_decode(const unsigned char *data, size_t size, sagalux_image **out, const char *label,
                              char *err, size_t err_size)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress = {.progress_monitor = on_progress};
    jpeg_err e;
    cinfo.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = on_error;
    e.mgr.emit_message = on_message;
    unsigned char *volatile row = NULL;
    sagalux_image *volatile img = NULL;
    volatile sagalux_status status = SAGALUX_ERR_FORMAT;
    if (setjmp(e.jmp)) {
        jpeg_destroy_decompress(&cinfo);
        free(row);
        sagalux_image_free(img);
        if (status == SAGALUX_ERR_FORMAT)
            return sx_fail(err, err_size, status, "%s: corrupt or truncated JPEG (%s)", label, e.message);
        return sx_fail(err, err_size, status, "%s: %s", label, e.message);
    }
    jpeg_create_decompress(&cinfo);
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_save_markers(&cinfo, EXIF_MARKER, 0xffff);
    jpeg_save_markers(&cinfo, ICC_MARKER, 0xffff);
    jpeg_save_markers(&cinfo, PHOTOSHOP_MARKER, 0xffff);
    jpeg_save_markers(&cinfo, JPEG_COM, 0xffff);
    jpeg_read_header(&cinfo, TRUE);

    status = sx_image_check_decode(cinfo.image_width, cinfo.image_height, max_pixels_from_data(&cinfo, size),
                                   "JPEG", label, err, err_size);
    if (status != SAGALUX_OK) {
        jpeg_destroy_decompress(&cinfo);
        return status;
    }
    status = SAGALUX_ERR_FORMAT;
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        status = SAGALUX_ERR_UNSUPPORTED;
        snprintf(e.message, sizeof e.message, "CMYK JPEG is not supported; convert it to RGB first");
        longjmp(e.jmp, 1);
    }
    int grey = cinfo.jpeg_color_space == JCS_GRAYSCALE;
    cinfo.out_color_space = grey ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);

    int w = (int)cinfo.output_width, h = (int)cinfo.output_height, comps = cinfo.output_components;
    status = SAGALUX_ERR_OUT_OF_MEMORY;
    snprintf(e.message, sizeof e.message, "out of memory for a %dx%d image", w, h);
    if (sagalux_image_create(w, h, 0, (sagalux_image **)&img) != SAGALUX_OK ||
        !(row = malloc((size_t)w * comps)))
        longjmp(e.jmp, 1);
    status = SAGALUX_ERR_FORMAT;

    size_t plane = (size_t)w * h;
    while (cinfo.output_scanline < cinfo.output_height) {
        int y = (int)cinfo.output_scanline;
        JSAMPROW rp = row;
        jpeg_read_scanlines(&cinfo, &rp, 1);
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < 3; ch++)
                img->rgb[ch * plane + (size_t)y * w + x] = row[(size_t)x * comps + (grey ? 0 : ch)] * (1.0f / 255.0f);
    }
    status = SAGALUX_ERR_OUT_OF_MEMORY;
    snprintf(e.message, sizeof e.message, "out of memory for the metadata");
    if (!keep_metadata(img, &cinfo, label)) longjmp(e.jmp, 1);
    status = SAGALUX_ERR_FORMAT;
    JOCTET *icc = NULL;
    unsigned int icc_len = 0;
    if (jpeg_read_icc_profile(&cinfo, &icc, &icc_len) && icc) {
        sx_image_set_icc(img, icc, icc_len);
        free(icc);
    }
    jpeg_finish_decompress(&cinfo);
    /* The memory source answers a read past the end with a made-up end-of-image
     * marker from its own buffer (and a warning that some libjpeg builds do not
     * raise): reading stopped inside our data only if the real marker was there. */
    if (cinfo.src->next_input_byte < data || cinfo.src->next_input_byte > data + size) {
        snprintf(e.message, sizeof e.message, "the data ends before the end-of-image marker");
        longjmp(e.jmp, 1);
    }
    jpeg_destroy_decompress(&cinfo);
    free(row);
    img->bit_depth = 8;
    img->is_grey = grey;
    img->source_format = SAGALUX_FORMAT_JPEG;
    *out = img;
    return SAGALUX_OK;
}

/* One marker segment: header (header_size bytes, its NUL included) then
 * data. Too large for one segment: left out, with a warning. */
static void write_segment(j_compress_ptr cinfo, int marker, const char *header, size_t header_size,
                          const unsigned char *data, size_t size, const char *what, const char *label)
{
    if (!data || !size) return;
    if (size > MAX_MARKER_DATA - header_size) {
        sx_log(SAGALUX_LOG_WARN, "%s: %s of %zu bytes is too large for one JPEG segment; not written", label, what, size);
        return;
    }
    jpeg_write_m_header(cinfo, marker, (unsigned)(header_size + size));
    for (size_t i = 0; i < header_size; i++) jpeg_write_m_byte(cinfo, (unsigned char)header[i]);
    for (size_t i = 0; i < size; i++) jpeg_write_m_byte(cinfo, data[i]);
}

/* JFIF's density fields (16 bits each): dots per inch or cm as they are,
 * PNG's dots per metre as the nearest whole dots per inch. */
static void set_density(j_compress_ptr cinfo, const sagalux_image *img)
{
    unsigned x = img->density_x, y = img->density_y;
    UINT8 unit;
    switch (img->density_unit) {
    case SAGALUX_DENSITY_ASPECT: unit = 0; break;
    case SAGALUX_DENSITY_PER_INCH: unit = 1; break;
    case SAGALUX_DENSITY_PER_CM: unit = 2; break;
    case SAGALUX_DENSITY_PER_METRE:
        unit = 1;
        x = (unsigned)(x * 0.0254 + 0.5);
        y = (unsigned)(y * 0.0254 + 0.5);
        break;
    default: return;
    }
    if (!x || !y || x > 65535 || y > 65535) return;
    cinfo->density_unit = unit;
    cinfo->X_density = (UINT16)x;
    cinfo->Y_density = (UINT16)y;
}

sagalux_status sx_jpeg_encode(const sagalux_image *img, FILE *fp, const sagalux_save_options *opt,
                              const char *label, char *err, size_t err_size)
{
    struct jpeg_compress_struct cinfo;
    jpeg_err e;
    cinfo.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = on_error;
    unsigned char *volatile row = malloc((size_t)img->width * 3);
    if (!row) return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    if (setjmp(e.jmp)) {
        const int errnum = errno; /* a full disk: libjpeg's fwrite failed with ENOSPC */
        jpeg_destroy_compress(&cinfo);
        free(row);
        return sx_fail(err, err_size, sx_write_status(fp, errnum), "%s: cannot write JPEG (%s)", label,
                       sx_write_reason(fp, errnum, e.message));
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, fp);
    cinfo.image_width = (JDIMENSION)img->width;
    cinfo.image_height = (JDIMENSION)img->height;
    /* Grey in, grey out (see the PNG encoder). */
    const int grey = img->is_grey, comps = grey ? 1 : 3;
    cinfo.input_components = comps;
    cinfo.in_color_space = grey ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, opt->jpeg_quality, TRUE);
    if (!grey) { /* luma's sampling factors against chroma's 1 x 1 */
        cinfo.comp_info[0].h_samp_factor = opt->jpeg_subsampling == 444 ? 1 : 2;
        cinfo.comp_info[0].v_samp_factor = opt->jpeg_subsampling == 420 ? 2 : 1;
    }
    if (opt->keep_metadata) set_density(&cinfo, img);
    jpeg_start_compress(&cinfo, TRUE);
    if (opt->keep_metadata) {
        write_segment(&cinfo, EXIF_MARKER, "Exif\0", 6, img->exif, img->exif_size, "EXIF block", label);
        write_segment(&cinfo, EXIF_MARKER, XMP_HEADER, sizeof XMP_HEADER, img->xmp, img->xmp_size, "XMP packet", label);
        if (img->icc) jpeg_write_icc_profile(&cinfo, img->icc, (unsigned)img->icc_size);
        /* Photoshop's resources may span several APP13 segments; readers join them. */
        const size_t room = MAX_MARKER_DATA - sizeof PHOTOSHOP_HEADER;
        for (size_t at = 0; at < img->photoshop_size; at += room) {
            size_t n = img->photoshop_size - at < room ? img->photoshop_size - at : room;
            write_segment(&cinfo, PHOTOSHOP_MARKER, PHOTOSHOP_HEADER, sizeof PHOTOSHOP_HEADER, img->photoshop + at, n,
                          "Photoshop block", label);
        }
        for (int i = 0; i < img->text_count; i++)
            if (strcmp(img->texts[i].keyword, "Comment") == 0)
                write_segment(&cinfo, JPEG_COM, "", 0, (const unsigned char *)img->texts[i].text,
                              strlen(img->texts[i].text), "comment", label);
    }

    size_t plane = (size_t)img->width * img->height;
    while (cinfo.next_scanline < cinfo.image_height) {
        size_t y = cinfo.next_scanline;
        for (int x = 0; x < img->width; x++) {
            size_t i = y * img->width + x;
            if (grey)
                row[x] = (unsigned char)sx_quantize((img->rgb[i] + img->rgb[plane + i] + img->rgb[2 * plane + i]) * (1.0f / 3.0f), 255);
            else
                for (int ch = 0; ch < 3; ch++) row[(size_t)x * 3 + ch] = (unsigned char)sx_quantize(img->rgb[ch * plane + i], 255);
        }
        JSAMPROW rp = row;
        jpeg_write_scanlines(&cinfo, &rp, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    free(row);
    return SAGALUX_OK;
}
