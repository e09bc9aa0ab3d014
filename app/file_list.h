/* Expanding the command line's inputs into a list of image files. */
#ifndef SAGALUX_FILE_LIST_H
#define SAGALUX_FILE_LIST_H

#include <stddef.h>

#include <sys/types.h>

typedef struct file_list_id {
    int set;
    dev_t dev;
    ino_t ino;
} file_list_id;

typedef struct file_list {
    char **paths;
    char **rel;            /* the file's folder relative to the folder given on the command line ("" at its top) */
    size_t count, capacity;
    int skipped_files;     /* files in scanned folders that are not PNG/JPEG by name */
    int skipped_folders;   /* subfolders not entered (no -r) */
    int skipped_hidden;    /* files and folders whose name starts with a dot, in scanned folders */
    char **failed;         /* inputs (or files and folders found in them) that could not be read */
    char **failed_why;     /* for each, the message naming it */
    size_t n_failed;
    const char *extensions; /* set by the caller: folders give only files with one of these
                               comma-separated extensions ("jpg,jpeg"; any case); NULL: every
                               PNG/JPEG extension */
    file_list_id output_dir; /* set by the caller: the output folder, never entered as an input */
} file_list;

/* Whether every entry of a comma-separated extension list is a PNG or JPEG
 * extension (png jpg jpeg jpe jfif, any case, no dot). */
int file_list_extensions_valid(const char *extensions);

/* Adds a file, or a folder's PNG/JPEG files (its subfolders' too when
 * recursive; only list->extensions when set), sorted by path. A file named
 * directly is taken whatever its extension. Hidden files and folders (a
 * name starting with a dot) in a folder are not taken, only counted. Paths
 * are kept tidy (no "//", "/./" or leading "./"). Returns the number of
 * failures (an input that does not exist or cannot be read), each added to
 * list->failed for the caller to report; with verbose, each skipped file is
 * named on stderr. */
int file_list_add_input(file_list *list, const char *input, int recursive, int verbose);
void file_list_free(file_list *list);

/* path without empty or "." parts ("./t1//a.jpg" is "t1/a.jpg"); a leading
 * "./" is kept where the rest would read as an option or as "-". path needs
 * room for 2 more bytes. */
void file_list_tidy_path(char *path);

/* Keeps the K-th (1-based) of N slices of the list sorted by path: entry i
 * of the sorted list belongs to slice i mod N + 1. */
void file_list_shard(file_list *list, int k, int n);

#endif
