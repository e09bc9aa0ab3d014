#include "name_template.h"

#include <stdio.h>
#include <string.h>

#include "sagalux.h"

int name_template_check(const char *tmpl, char *why, size_t why_size)
{
    if (!*tmpl) return snprintf(why, why_size, "the name template is empty"), -1;
    if (tmpl[0] == '/') return snprintf(why, why_size, "the name template must be relative to the output folder"), -1;
    for (const char *p = tmpl; *p; p++) {
        if (*p != '%') continue;
        p++;
        if (*p != 'd' && *p != 'f' && *p != 'e' && *p != '%')
            return snprintf(why, why_size, "unknown placeholder %%%.1s (use %%d, %%f, %%e or %%%%)", p), -1;
    }
    /* No ".." segment: every output stays under the output folder. */
    for (const char *seg = tmpl; seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL)
        if (strncmp(seg, "..", 2) == 0 && (seg[2] == '/' || seg[2] == 0))
            return snprintf(why, why_size, "the name template cannot leave the output folder (..)"), -1;
    if (!strstr(tmpl, "%f"))
        return snprintf(why, why_size, "the name template needs %%f, or every input gets the same name"), -1;
    /* The output's format comes from its extension: the name must end in
     * ".%e" or a PNG/JPEG extension, or every photo would fail at its save. */
    const char *last = strrchr(tmpl, '/') ? strrchr(tmpl, '/') + 1 : tmpl, *dot = strrchr(last, '.');
    if (!dot || (strcmp(dot, ".%e") != 0 && sagalux_format_from_name(dot) == SAGALUX_FORMAT_UNKNOWN))
        return snprintf(why, why_size,
                        "the name template must end in .%%e or a PNG/JPEG extension (.png, .jpg, ...): the "
                        "extension chooses the output's format"),
               -1;
    return 0;
}

int name_template_expand(const char *tmpl, const char *dir, const char *base, const char *ext, char *out,
                         size_t size)
{
    size_t n = 0;
    for (const char *p = tmpl; *p; p++) {
        const char *piece = NULL;
        char one[2] = {*p, 0};
        if (*p == '%' && p[1]) {
            p++;
            piece = *p == 'd' ? dir : *p == 'f' ? base : *p == 'e' ? ext : "%";
            if (*p == 'd' && !*dir && p[1] == '/') p++; /* "%d/" at the top folder: nothing */
        } else {
            piece = one;
        }
        size_t len = strlen(piece);
        if (n + len >= size) return -1;
        memcpy(out + n, piece, len);
        n += len;
    }
    out[n] = 0;
    return 0;
}
