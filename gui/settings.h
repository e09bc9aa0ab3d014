/* What the viewer remembers between runs: strength, mode, divider and
 * device, in $XDG_CONFIG_HOME/sagalux/viewer.json (~/.config when unset),
 * written with cJSON. A missing or broken file means the defaults. */
#ifndef SAGALUX_SETTINGS_H
#define SAGALUX_SETTINGS_H

#include <stddef.h>

typedef struct viewer_settings {
    float strength;   /* 0..1 */
    double divider;   /* 0..1 of the view's width */
    char mode[16];    /* "split", "side", "enhanced", "original" */
    char device[16];  /* "auto", "cpu", "cuda", "cuda:N" */
} viewer_settings;

viewer_settings settings_default(void);
/* The file's path into buf; 0, or -1 when neither variable is set. */
int settings_path(char *buf, size_t size);
/* Fields the file has and that are valid replace those in s. */
void settings_load(viewer_settings *s, const char *path);
/* Creates the folder when needed; 0, or -1 (errno says why). */
int settings_save(const viewer_settings *s, const char *path);

#endif
