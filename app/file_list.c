#define _POSIX_C_SOURCE 200809L
#include "file_list.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "sagalux.h"

static int push(file_list *list, const char *path, const char *rel)
{
    if (list->count == list->capacity) {
        size_t cap = list->capacity ? 2 * list->capacity : 64;
        char **grown = realloc(list->paths, cap * sizeof *grown);
        if (!grown) return -1;
        list->paths = grown;
        grown = realloc(list->rel, cap * sizeof *grown);
        if (!grown) return -1;
        list->rel = grown;
        list->capacity = cap;
    }
    char *copy = strdup(path), *rcopy = strdup(rel);
    if (!copy || !rcopy) {
        free(copy);
        free(rcopy);
        return -1;
    }
    list->paths[list->count] = copy;
    list->rel[list->count++] = rcopy;
    return 0;
}

/* Records a failure: path, and the message naming it. -1 when out of memory. */
static int push_failure(file_list *list, const char *path, const char *fmt, const char *detail)
{
    char why[1024];
    snprintf(why, sizeof why, fmt, path, detail);
    char **grown = realloc(list->failed, (list->n_failed + 1) * sizeof *grown);
    if (!grown) return -1;
    list->failed = grown;
    grown = realloc(list->failed_why, (list->n_failed + 1) * sizeof *grown);
    if (!grown) return -1;
    list->failed_why = grown;
    char *p = strdup(path), *w = strdup(why);
    if (!p || !w) {
        free(p);
        free(w);
        return -1;
    }
    list->failed[list->n_failed] = p;
    list->failed_why[list->n_failed++] = w;
    return 0;
}

typedef struct entry {
    char *path, *rel;
} entry;

static int by_path(const void *a, const void *b) { return strcmp(((const entry *)a)->path, ((const entry *)b)->path); }

/* Sorts entries [first, count) by path, keeping rel beside each path. */
static void sort_range(file_list *list, size_t first)
{
    size_t n = list->count - first;
    entry *e = malloc((n ? n : 1) * sizeof *e);
    if (!e) return; /* unsorted, but complete */
    for (size_t i = 0; i < n; i++) e[i] = (entry){list->paths[first + i], list->rel[first + i]};
    qsort(e, n, sizeof *e, by_path);
    for (size_t i = 0; i < n; i++) {
        list->paths[first + i] = e[i].path;
        list->rel[first + i] = e[i].rel;
    }
    free(e);
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), len = la + strlen(b) + 2;
    char *p = malloc(len);
    if (p) snprintf(p, len, "%s%s%s", a, la && a[la - 1] != '/' ? "/" : "", b);
    return p;
}

/* Whether ext (no dot) is one of the comma-separated list's entries, any case. */
static int in_list(const char *list, const char *ext, size_t ext_len)
{
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == ext_len && strncasecmp(p, ext, n) == 0) return 1;
        p += n + (p[n] == ',');
    }
    return 0;
}

int file_list_extensions_valid(const char *extensions)
{
    if (!extensions[0]) return 0;
    for (const char *p = extensions; *p;) {
        size_t n = strcspn(p, ",");
        char name[16];
        if (n == 0 || n > 8) return 0;
        snprintf(name, sizeof name, "x.%.*s", (int)n, p);
        if (sagalux_format_from_name(name) == SAGALUX_FORMAT_UNKNOWN) return 0;
        p += n + (p[n] == ',');
    }
    return 1;
}

/* A folder's file worth taking: a PNG/JPEG name, and one of the chosen extensions. */
static int wanted(const file_list *list, const char *name)
{
    if (sagalux_format_from_name(name) == SAGALUX_FORMAT_UNKNOWN) return 0;
    if (!list->extensions) return 1;
    const char *dot = strrchr(name, '.');
    return dot && in_list(list->extensions, dot + 1, strlen(dot + 1));
}

/* path for a line on stderr: control characters as \xNN, as the CLI's
 * other lines write them (the viewer links this file alone, so it has its own). */
static const char *shown(const char *path, char *buf, size_t size)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)path; *p && n + 5 < size; p++) {
        if (*p < 0x20 || *p == 0x7F) n += (size_t)snprintf(buf + n, size - n, "\\x%02x", *p);
        else buf[n++] = (char)*p;
    }
    buf[n] = 0;
    return buf;
}

/* Adds folder dir's images; rel is dir relative to the command-line folder. */
static int add_folder(file_list *list, const char *dir, const char *rel, int recursive, int verbose, int depth)
{
    DIR *d = opendir(dir);
    if (!d) {
        push_failure(list, dir, "%s: cannot read folder: %s", strerror(errno));
        return 1;
    }
    int failures = 0;
    char buf[4096];
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char *path = join(dir, de->d_name);
        struct stat sb;
        if (!path) {
            failures++;
            break;
        }
        int found = 0;
        if (de->d_name[0] == '.') { /* hidden, as ls and file managers hide them */
            list->skipped_hidden++;
            if (verbose)
                fprintf(stderr, "sagalux: %s: skipped, hidden (its name starts with a dot)\n", shown(path, buf, sizeof buf));
        } else if ((found = stat(path, &sb) == 0) && S_ISDIR(sb.st_mode)) {
            if (list->output_dir.set && sb.st_dev == list->output_dir.dev && sb.st_ino == list->output_dir.ino) {
                /* Our own outputs: reading them as inputs would refuse (same
                 * names) or re-enhance them on the next run. */
                if (verbose)
                    fprintf(stderr, "sagalux: %s: the output folder, not read as input\n", shown(path, buf, sizeof buf));
            } else if (!recursive) {
                list->skipped_folders++;
                if (verbose)
                    fprintf(stderr, "sagalux: %s: folder skipped (-r enters folders)\n", shown(path, buf, sizeof buf));
            } else if (depth >= 64) {
                push_failure(list, path, "%s: folders nested more than 64 deep are not entered%s", "");
                failures++;
            } else {
                char *sub = join(rel, de->d_name);
                failures += sub ? add_folder(list, path, sub, recursive, verbose, depth + 1) : 1;
                free(sub);
            }
        } else if (!wanted(list, de->d_name)) {
            list->skipped_files++;
            if (verbose)
                fprintf(stderr, "sagalux: %s: skipped, not a %s name\n", shown(path, buf, sizeof buf),
                        list->extensions ? "chosen (--ext)" : "PNG or JPEG");
        } else if (!found || !S_ISREG(sb.st_mode)) {
            /* A photo's name on a dangling link, a FIFO or a device: a photo
             * the run cannot take, said as a failure, not read. */
            push_failure(list, path, "%s: %s", found ? "not a regular file (a FIFO, device or socket is not read)"
                                                     : strerror(errno));
            failures++;
        } else if (push(list, path, rel) != 0) {
            failures++;
        }
        free(path);
    }
    closedir(d);
    return failures;
}

/* path without empty or "." parts, so "./t1//a.jpg" is "t1/a.jpg"; a
 * leading "./" is kept where the rest would read as an option or as
 * standard input ("-"). Never longer than path + 2. */
void file_list_tidy_path(char *path)
{
    const int absolute = path[0] == '/';
    char *o = path + absolute;
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        if (n && !(n == 1 && p[0] == '.')) {
            if (o > path + absolute) *o++ = '/';
            memmove(o, p, n);
            o += n;
        }
        p += n;
        while (*p == '/') p++;
    }
    *o = 0;
    if (o == path + absolute) strcpy(path, absolute ? "/" : ".");
    if (path[0] == '-') {
        memmove(path + 2, path, strlen(path) + 1);
        memcpy(path, "./", 2);
    }
}

static int add_tidy_input(file_list *list, const char *input, int recursive, int verbose)
{
    struct stat sb;
    if (stat(input, &sb) != 0) {
        push_failure(list, input, "%s: %s", strerror(errno));
        return 1;
    }
    if (!S_ISDIR(sb.st_mode)) return push(list, input, "") == 0 ? 0 : 1;
    size_t first = list->count;
    int failures = add_folder(list, input, "", recursive, verbose, 0);
    sort_range(list, first);
    return failures;
}

int file_list_add_input(file_list *list, const char *given, int recursive, int verbose)
{
    if (strcmp(given, "-") == 0) return push(list, given, "") == 0 ? 0 : 1; /* standard input */
    char *input = malloc(strlen(given) + 3);
    if (!input) return 1;
    strcpy(input, given);
    file_list_tidy_path(input);
    int failures = add_tidy_input(list, input, recursive, verbose);
    free(input);
    return failures;
}

void file_list_free(file_list *list)
{
    for (size_t i = 0; i < list->n_failed; i++) {
        free(list->failed[i]);
        free(list->failed_why[i]);
    }
    free(list->failed);
    free(list->failed_why);
    for (size_t i = 0; i < list->count; i++) {
        free(list->paths[i]);
        free(list->rel[i]);
    }
    free(list->paths);
    free(list->rel);
    *list = (file_list){0};
}

void file_list_shard(file_list *list, int k, int n)
{
    sort_range(list, 0);
    size_t kept = 0;
    for (size_t i = 0; i < list->count; i++) {
        if ((int)(i % (size_t)n) == k - 1) {
            list->paths[kept] = list->paths[i];
            list->rel[kept++] = list->rel[i];
        } else {
            free(list->paths[i]);
            free(list->rel[i]);
        }
    }
    list->count = kept;
}
