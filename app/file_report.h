/* One result line per file: text for people (stdout for results, stderr
 * for failures) or, with --json, one JSON object per file on stdout. */
#ifndef SAGALUX_FILE_REPORT_H
#define SAGALUX_FILE_REPORT_H

#include <stddef.h>

typedef struct file_result {
    const char *input;  /* as given; "-" is standard input */
    const char *output; /* NULL when none was planned; "-" is standard output */
    const char *status; /* "enhanced", "skipped", "failed", "interrupted" or "not processed" */
    char error[512];    /* the reason, naming the file, when failed */
    double ms;          /* load + enhance + save */
    int width, height;  /* 0 when not decoded */
    const char *device; /* the one that enhanced it; NULL: the reporter's */
} file_result;

typedef struct file_reporter {
    int json, quiet, verbose;
    int results_to_stderr; /* the image itself goes to stdout (-o -) */
    const char *device;    /* "cpu", "cuda:0": where a file no device saw is reported; NULL: none chosen yet */
} file_reporter;

/* Prints res once: a failure always gets one line on stderr (and its JSON
 * record with --json); 0, or -1 when stdout could not be written. */
int file_report(const file_reporter *r, const file_result *res);

/* s for a line of text: each control character written as \xNN, so a
 * name cannot move the cursor, clear the screen or forge a line; cut to
 * fit size. Returns buf. */
const char *file_report_text(const char *s, char *buf, size_t size);

#endif
