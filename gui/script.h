/* The viewer's scripted mode: actions given on the command line (--set
 * NAME=VALUE, --screenshot FILE), run in order once the photo on screen is
 * loaded and enhanced, so that tests and docs drive and capture the window
 * without a person. */
#ifndef SAGALUX_SCRIPT_H
#define SAGALUX_SCRIPT_H

#include <stddef.h>

typedef enum script_kind {
    ACT_DIVIDER,    /* divider=P        the split at P (0..1) of the photo's visible width */
    ACT_ZOOM,       /* zoom=fit|S       fit the window, or S screen pixels per photo pixel (1 = 100%) */
    ACT_CENTER,     /* center=X,Y       photo pixel (X, Y) at the view's centre */
    ACT_STRENGTH,   /* strength=S       0..1 */
    ACT_MODE,       /* mode=split|side|enhanced|original */
    ACT_FLASH,      /* flash=1|0        hold (or release) the show-the-original key */
    ACT_NEXT,       /* next             the next photo (waits until it is enhanced) */
    ACT_PREV,       /* prev */
    ACT_SIZE,       /* size=WxH         the window's size */
    ACT_DEVICE,     /* device=auto|cpu|cuda|cuda:N (waits for the new run) */
    ACT_SAVE,       /* save             as Ctrl+S; where the name exists, a new name (never overwrites) */
    ACT_SCREENSHOT, /* --screenshot F   the window as a PNG */
    ACT_KIND_COUNT
} script_kind;

typedef struct script_action {
    script_kind kind;
    double a, b;       /* numbers: P, S (0 for fit), X and Y, W and H */
    char text[4096];   /* mode, device, screenshot file */
} script_action;

/* Parses one --set argument ("divider=0.3"); 0, or -1 with a reason. */
int script_parse_set(const char *arg, script_action *out, char *err, size_t err_size);

#endif
