/* cJSON writes the records: it escapes quotes and control characters, but
 * passes any other byte through as given, and a file name (or a message
 * quoting bytes from a file) may hold bytes that are not UTF-8. Every string
 * is therefore made valid UTF-8 before cJSON sees it, so each record is
 * valid JSON; a name that had to be changed also comes as hex, exactly. */
#include "file_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *shown(const char *path) { return strcmp(path, "-") == 0 ? "<stdin>" : path; }

/* The length of the well-formed UTF-8 sequence at s (1..4), or 0 where the
 * bytes there are none (a stray byte, an overlong form, a surrogate, beyond
 * U+10FFFF, or cut short). */
static size_t utf8_sequence(const unsigned char *s)
{
    if (s[0] < 0x80) return 1;
    size_t n;
    unsigned cp, min;
    if ((s[0] & 0xE0) == 0xC0) n = 2, cp = s[0] & 0x1Fu, min = 0x80;
    else if ((s[0] & 0xF0) == 0xE0) n = 3, cp = s[0] & 0x0Fu, min = 0x800;
    else if ((s[0] & 0xF8) == 0xF0) n = 4, cp = s[0] & 0x07u, min = 0x10000;
    else return 0;
    for (size_t i = 1; i < n; i++) { /* stops at the NUL: it is no continuation byte */
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    return cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ? 0 : n;
}

static int utf8_valid(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_sequence(p);
        if (!n) return 0;
        p += n;
    }
    return 1;
}

/* s with each byte that is not part of a well-formed sequence replaced by
 * U+FFFD; malloc'd, NULL when out of memory. */
static char *utf8_repaired(const char *s)
{
    char *out = malloc(3 * strlen(s) + 1), *o = out;
    if (!out) return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_sequence(p);
        if (n) {
            memcpy(o, p, n);
            o += n, p += n;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3, p++;
        }
    }
    *o = 0;
    return out;
}

/* key: s as valid UTF-8; when s is not, key_hex too: its exact bytes. */
static void add_string(cJSON *o, const char *key, const char *s, int with_hex)
{
    if (utf8_valid(s)) {
        cJSON_AddStringToObject(o, key, s);
        return;
    }
    char *fixed = utf8_repaired(s);
    cJSON_AddStringToObject(o, key, fixed ? fixed : "");
    free(fixed);
    if (!with_hex) return;
    size_t len = strlen(s);
    char *hex = malloc(2 * len + 1), hex_key[64];
    if (!hex) return;
    for (size_t i = 0; i < len; i++) sprintf(hex + 2 * i, "%02x", (unsigned char)s[i]);
    hex[2 * len] = 0;
    snprintf(hex_key, sizeof hex_key, "%s_hex", key);
    cJSON_AddStringToObject(o, hex_key, hex);
    free(hex);
}

static int report_json(const file_reporter *r, const file_result *res)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return -1;
    add_string(o, "input", res->input, 1);
    if (res->output) add_string(o, "output", res->output, 1);
    else cJSON_AddNullToObject(o, "output");
    add_string(o, "status", res->status, 0);
    if (res->error[0]) add_string(o, "error", res->error, 0);
    else cJSON_AddNullToObject(o, "error");
    cJSON_AddNumberToObject(o, "ms", (double)(long)(res->ms * 10.0 + 0.5) / 10.0);
    cJSON_AddNumberToObject(o, "width", res->width);
    cJSON_AddNumberToObject(o, "height", res->height);
    const char *device = res->device ? res->device : r->device;
    if (device) add_string(o, "device", device, 0);
    else cJSON_AddNullToObject(o, "device");
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) return -1;
    int rc = printf("%s\n", text) < 0 ? -1 : 0;
    cJSON_free(text);
    return rc;
}

const char *file_report_text(const char *s, char *buf, size_t size)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 5 < size; p++) {
        if (*p < 0x20 || *p == 0x7F) n += (size_t)snprintf(buf + n, size - n, "\\x%02x", *p);
        else buf[n++] = (char)*p;
    }
    if (size) buf[n < size ? n : size - 1] = 0;
    return buf;
}

int file_report(const file_reporter *r, const file_result *res)
{
    char a[1024], b[1024];
    if (strcmp(res->status, "failed") == 0)
        fprintf(stderr, "sagalux: %s\n", file_report_text(res->error, a, sizeof a));
    if (r->json) return report_json(r, res);
    if (strcmp(res->status, "enhanced") == 0 && !r->quiet)
        return fprintf(r->results_to_stderr ? stderr : stdout, "%s -> %s (%dx%d, %.0f ms)\n",
                       file_report_text(shown(res->input), a, sizeof a),
                       strcmp(res->output, "-") == 0 ? "<stdout>" : file_report_text(res->output, b, sizeof b),
                       res->width, res->height, res->ms) < 0
                   ? -1
                   : 0;
    if (strcmp(res->status, "skipped") == 0 && r->verbose)
        fprintf(stderr, "sagalux: %s: skipped, %s exists\n", file_report_text(shown(res->input), a, sizeof a),
                file_report_text(res->output, b, sizeof b));
    return 0;
}
