/* Output names from a template (--name), in exiftool's %d %f %e style. */
#ifndef SAGALUX_NAME_TEMPLATE_H
#define SAGALUX_NAME_TEMPLATE_H

#include <stddef.h>

#define NAME_TEMPLATE_DEFAULT "%d/%f.%e"

/* Checks an output name template (--name): only %d %f %e %% placeholders,
 * a relative path that stays under the output folder. 0, or -1 with why. */
int name_template_check(const char *tmpl, char *why, size_t why_size);

/* Expands a template: dir (the input's subfolder, may be ""), base (with
 * the suffix added), ext (no dot). A "%d/" whose folder is empty disappears.
 * 0, or -1 when out is too small. */
int name_template_expand(const char *tmpl, const char *dir, const char *base, const char *ext, char *out,
                         size_t size);

#endif
