/* The viewer's keys, as the help overlay (H) and --help list them: one list,
 * so the two cannot drift apart (tests/test_viewer.py checks it against the
 * docs). No SDL here. */
#ifndef SAGALUX_HELP_H
#define SAGALUX_HELP_H

extern const char *const viewer_help_lines[];
extern const int viewer_help_count;

#endif
