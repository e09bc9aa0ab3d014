/* What the viewer remembers between runs: strength, mode, divider and
 * device, in $XDG_CONFIG_HOME/sagalux/viewer.json (~/.config when unset),
 * written with cJSON. A missing or broken file means the defaults. */
#ifndef SAGALUX_SETTINGS_H
#define SAGALUX_SETTINGS_H

#include <stddef.h>

typedef struct viewer_settings {
    float strength;   /* 0..1 */
    double divider;   /* 0..1 of the photo's visible width */
    char mode[16];    /* "split", "side", "enhanced", "original" */
    char device[16];  /* "auto", "cpu", "cuda", "cuda:N" */
} viewer_settings;

viewer_settings settings_default(void);
/* The file's path into buf; 0, or -1 when neither variable is set. */
int settings_path(char *buf, size_t size);
/* Fields the file has and that are valid replace those in s. 0 when the file
 * was read whole or is not there; -1 when it could not be read or held
 * something that is not the viewer's settings, with why ("is not valid …"). */
int settings_load(viewer_settings *s, const char *path, char *why, size_t why_size);
/* 0 when settings_save can write path (the nearest existing folder lets us
 * create and rename files); -1 with why. */
int settings_writable(const char *path, char *why, size_t why_size);
/* Creates the folder when needed and writes a new file (exclusively, under
 * an unpredictable name) that replaces path; numbers to four decimals.
 * 0, or -1 (errno says why). */
int settings_save(const viewer_settings *s, const char *path);

#endif
