/* The viewer's keys (help.h). */
#include "help.h"

const char *const viewer_help_lines[] = {
    "Left / Right, PageUp / PageDown: previous / next photo   Home / End: first / last",
    "\\ or Space (hold): show the original on both sides",
    "Tab (Shift+Tab back): split, side by side, enhanced only, original only",
    "drag the divider; drag the photo to pan; wheel: zoom about the pointer",
    "+ / -: zoom   0 or F: fit the window   1: 100%",
    "double click: 100% about the pointer, or back to fit",
    "Shift+arrows, Up / Down: pan",
    "[ / ]: strength -0.05 / +0.05 (or drag the slider)",
    "D: next device (CPU, each GPU)   Ctrl+S: save the result beside the photo",
    "drop photos or a folder onto the window to open them",
    "H or F1: this help   Q or Esc: quit (Esc first closes the help or the save question)",
};
const int viewer_help_count = (int)(sizeof viewer_help_lines / sizeof viewer_help_lines[0]);
