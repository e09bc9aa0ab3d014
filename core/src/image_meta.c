/* The metadata blocks an image carries besides EXIF and ICC: XMP, Photoshop
 * image resources (where JPEG keeps IPTC), texts and density. Each is kept
 * as the file had it; these helpers store, copy and convert them between
 * the JPEG and PNG containers, and make the small edits a saved result
 * needs (no stale thumbnail, no stale orientation). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "log.h"

static char *dup_string(const char *s) { return s ? strdup(s) : NULL; }

int sx_image_set_xmp(sagalux_image *img, const unsigned char *data, size_t size)
{
    free(img->xmp);
    img->xmp = sx_dup_bytes(data, size);
    img->xmp_size = img->xmp ? size : 0;
    return img->xmp || !size;
}

int sx_image_add_photoshop(sagalux_image *img, const unsigned char *data, size_t size)
{
    if (!size) return 1;
    unsigned char *p = realloc(img->photoshop, img->photoshop_size + size);
    if (!p) return 0;
    memcpy(p + img->photoshop_size, data, size);
    img->photoshop = p;
    img->photoshop_size += size;
    return 1;
}

static void free_text(sagalux_text *t)
{
    free(t->keyword);
    free(t->text);
    free(t->language);
    free(t->translated_keyword);
}

int sx_image_add_text(sagalux_image *img, const sagalux_text *t)
{
    sagalux_text *list = realloc(img->texts, sizeof *list * ((size_t)img->text_count + 1));
    if (!list) return 0;
    img->texts = list;
    sagalux_text c = {dup_string(t->keyword), dup_string(t->text), dup_string(t->language),
                      dup_string(t->translated_keyword), t->international, t->compressed};
    if (!c.keyword || !c.text || (t->language && !c.language) || (t->translated_keyword && !c.translated_keyword)) {
        free_text(&c);
        return 0;
    }
    list[img->text_count++] = c;
    return 1;
}

void sx_image_clear_texts(sagalux_image *img)
{
    for (int i = 0; i < img->text_count; i++) free_text(&img->texts[i]);
    free(img->texts);
    img->texts = NULL;
    img->text_count = 0;
}

void sagalux_image_strip(sagalux_image *img)
{
    if (!img) return;
    free(img->exif);
    free(img->xmp);
    free(img->photoshop);
    img->exif = img->xmp = img->photoshop = NULL;
    img->exif_size = img->xmp_size = img->photoshop_size = 0;
    sx_image_clear_texts(img);
}

sagalux_status sx_image_copy_extra_metadata(sagalux_image *dst, const sagalux_image *src)
{
    if (!sx_image_set_xmp(dst, src->xmp, src->xmp_size)) return SAGALUX_ERR_OUT_OF_MEMORY;
    free(dst->photoshop);
    dst->photoshop = NULL;
    dst->photoshop_size = 0;
    if (!sx_image_add_photoshop(dst, src->photoshop, src->photoshop_size)) return SAGALUX_ERR_OUT_OF_MEMORY;
    sx_image_clear_texts(dst);
    for (int i = 0; i < src->text_count; i++)
        if (!sx_image_add_text(dst, &src->texts[i])) return SAGALUX_ERR_OUT_OF_MEMORY;
    dst->density_unit = src->density_unit;
    dst->density_x = src->density_x;
    dst->density_y = src->density_y;
    return SAGALUX_OK;
}

int sx_utf8_beyond_ascii(const char *s)
{
    int beyond = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || (n == 1 && *p < 0xc2)) return 0;
        beyond |= n > 0;
        p++;
        for (int i = 0; i < n; i++, p++)
            if ((*p & 0xc0) != 0x80) return 0;
    }
    return beyond;
}

/* ------------------------------------------------ raw profiles (PNG) */

/* ImageMagick's convention for binary profiles in PNG text, which ExifTool
 * also reads: "\n<name>\n<length, 8 wide>\n<hex, 72 digits a line>\n". */

static int hex_value(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

int sx_raw_profile_decode(const char *text, size_t len, unsigned char **out, size_t *out_size)
{
    *out = NULL;
    *out_size = 0;
    size_t i = 0;
    while (i < len && is_space(text[i])) i++;
    while (i < len && !is_space(text[i])) i++; /* the profile's name */
    while (i < len && is_space(text[i])) i++;
    unsigned long long n = 0;
    size_t digits = 0;
    for (; i < len && text[i] >= '0' && text[i] <= '9' && digits < 12; i++, digits++) n = n * 10 + (unsigned)(text[i] - '0');
    if (!digits || n == 0 || n > (len - i) / 2) return 0; /* the hex cannot hold that many bytes */
    unsigned char *p = malloc((size_t)n);
    if (!p) return 0;
    size_t got = 0;
    int hi = -1;
    for (; i < len && got < n; i++) {
        if (is_space(text[i])) continue;
        int v = hex_value((unsigned char)text[i]);
        if (v < 0) break;
        if (hi < 0) {
            hi = v;
        } else {
            p[got++] = (unsigned char)(hi << 4 | v);
            hi = -1;
        }
    }
    if (got != n) {
        free(p);
        return 0;
    }
    *out = p;
    *out_size = (size_t)n;
    return 1;
}

char *sx_raw_profile_encode(const char *name, const unsigned char *data, size_t size)
{
    static const char digits[] = "0123456789abcdef";
    size_t lines = (size_t)size / 36 + 1, cap = strlen(name) + 32 + 2 * (size_t)size + lines;
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t k = (size_t)snprintf(s, cap, "\n%s\n%8zu\n", name, size);
    for (size_t i = 0; i < size; i++) {
        s[k++] = digits[data[i] >> 4];
        s[k++] = digits[data[i] & 15];
        if (i % 36 == 35 || i + 1 == size) s[k++] = '\n';
    }
    s[k] = 0;
    return s;
}

/* ------------------------------------------- Photoshop image resources */

static const char *const irb_signatures[] = {"8BIM", "PHUT", "AgHg", "DCSR", "MeSa"};

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

/* The length of the resource at p (at most n bytes), padding included, or 0
 * when it is malformed. *id gets its identifier. */
static size_t irb_resource(const unsigned char *p, size_t n, unsigned *id)
{
    int known = 0;
    for (size_t s = 0; s < sizeof irb_signatures / sizeof *irb_signatures; s++)
        known |= n >= 4 && memcmp(p, irb_signatures[s], 4) == 0;
    if (!known || n < 12) return 0;
    *id = (unsigned)p[4] << 8 | p[5];
    size_t name = 1 + (size_t)p[6];
    name += name & 1;
    if (6 + name + 4 > n) return 0;
    size_t data = be32(p + 6 + name);
    size_t total = 6 + name + 4 + data + (data & 1);
    if (data > n || total > n) return 0;
    return total;
}

sagalux_status sx_photoshop_without_thumbnails(const unsigned char *data, size_t size, unsigned char **out,
                                               size_t *out_size)
{
    *out = NULL;
    *out_size = 0;
    unsigned char *p = malloc(size ? size : 1);
    if (!p) return SAGALUX_ERR_OUT_OF_MEMORY;
    size_t pos = 0, kept = 0;
    while (pos < size) {
        /* Padding after the last resource: some writers leave a few zeros. */
        if (size - pos < 12) {
            int zeros = 1;
            for (size_t i = pos; i < size; i++) zeros &= data[i] == 0;
            if (zeros) break;
        }
        unsigned id;
        size_t len = irb_resource(data + pos, size - pos, &id);
        if (!len) {
            free(p);
            return SAGALUX_ERR_FORMAT;
        }
        if (id != 0x0409 && id != 0x040C) { /* the two thumbnail resources (Photoshop 4, then 5 on) */
            memcpy(p + kept, data + pos, len);
            kept += len;
        }
        pos += len;
    }
    if (!kept) {
        free(p);
        return SAGALUX_OK;
    }
    *out = p;
    *out_size = kept;
    return SAGALUX_OK;
}

int sx_photoshop_wrap_iptc(sagalux_image *img, const unsigned char *iim, size_t size)
{
    if (size > 0x7fffffffu) return 0;
    unsigned char head[12] = {'8', 'B', 'I', 'M', 0x04, 0x04, 0, 0,
                              (unsigned char)(size >> 24), (unsigned char)(size >> 16), (unsigned char)(size >> 8),
                              (unsigned char)size};
    static const unsigned char pad = 0;
    return sx_image_add_photoshop(img, head, sizeof head) && sx_image_add_photoshop(img, iim, size) &&
           (!(size & 1) || sx_image_add_photoshop(img, &pad, 1));
}

/* ----------------------------------------------------------------- XMP */

void sx_xmp_reset_orientation(unsigned char *xmp, size_t size)
{
    static const char tag[] = "tiff:Orientation";
    const size_t tl = sizeof tag - 1;
    for (size_t i = 0; i + tl < size; i++) {
        if (memcmp(xmp + i, tag, tl) != 0) continue;
        size_t j = i + tl;
        while (j < size && is_space((char)xmp[j])) j++;
        if (j < size && xmp[j] == '=') { /* attribute: tiff:Orientation="6" */
            j++;
            while (j < size && is_space((char)xmp[j])) j++;
            if (j < size && (xmp[j] == '"' || xmp[j] == '\'')) j++;
            else continue;
        } else if (j < size && xmp[j] == '>') { /* element: <tiff:Orientation>6</tiff:Orientation> */
            j++;
            while (j < size && is_space((char)xmp[j])) j++;
        } else {
            continue;
        }
        if (j + 1 < size && xmp[j] >= '1' && xmp[j] <= '8' && (xmp[j + 1] == '"' || xmp[j + 1] == '\'' ||
                                                               xmp[j + 1] == '<' || is_space((char)xmp[j + 1])))
            xmp[j] = '1';
    }
}
