/* Every output path of a run, planned before any work, so that no photo is
 * lost: an output that would replace an input (same file, by device and
 * inode, or by real path) or that two inputs would share is an error before
 * anything is processed, --overwrite or not. */
#ifndef SAGALUX_OUTPUT_PLAN_H
#define SAGALUX_OUTPUT_PLAN_H

#include <stddef.h>

#include "cli_options.h"
#include "file_list.h"

typedef enum plan_action { PLAN_ENHANCE, PLAN_SKIP_EXISTING, PLAN_FAIL } plan_action;

typedef struct plan_entry {
    const char *input;  /* points into the file list */
    char *output;       /* NULL when action is PLAN_FAIL */
    plan_action action;
    char reason[512];   /* PLAN_FAIL: why, naming the file (as long as a result's error) */
} plan_entry;

typedef struct output_plan {
    plan_entry *entries;
    size_t count;
} output_plan;

/* Plans inputs -> outputs. Per-file problems (cannot tell the format, the
 * output exists without --overwrite or --skip-existing) become PLAN_FAIL
 * entries; problems of the run (an output replaces an input, two inputs share
 * an output) are printed, each once, and make it return -1. */
int output_plan_make(output_plan *plan, const cli_options *opt, const file_list *inputs);
void output_plan_free(output_plan *plan);

/* The folders a run created, so that a run refused before any work leaves
 * none behind. */
#define MADE_DIRS_MAX 64
typedef struct made_dirs {
    char *paths[MADE_DIRS_MAX];
    int count;
} made_dirs;

/* Creates the output folder (and its parents; each new one recorded in
 * made, which may be NULL) and checks that a file can be written there,
 * before the first photo is enhanced. 0, or -1 with a message. */
int output_dir_ready(const char *dir, made_dirs *made);

/* mkdir -p: 0, or -1 with errno set; the folders it made go into made
 * (NULL: not recorded). */
int make_dirs(const char *dir, made_dirs *made);

/* Whether every folder between out_dir and output (the subfolders -r and
 * --name make) is a real folder: a link planted there by someone sharing
 * the output folder would send the photo elsewhere. 0 with the first
 * offending path in bad. */
int output_subfolders_real(const char *out_dir, const char *output, char *bad, size_t bad_size);

/* Removes the recorded folders that are still empty, newest first, and
 * forgets them; made_dirs_free only forgets them. */
void made_dirs_remove(made_dirs *made);
void made_dirs_free(made_dirs *made);

#endif
