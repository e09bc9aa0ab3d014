#define _POSIX_C_SOURCE 200809L
#include "file_list.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sagalux.h"

static int push(file_list *list, const char *path)
{
    if (list->count == list->capacity) {
        size_t cap = list->capacity ? 2 * list->capacity : 64;
        char **grown = realloc(list->paths, cap * sizeof *grown);
        if (!grown) return -1;
        list->paths = grown;
        list->capacity = cap;
    }
    char *copy = strdup(path);
    if (!copy) return -1;
    list->paths[list->count++] = copy;
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int file_list_add_input(file_list *list, const char *input)
{
    struct stat sb;
    if (stat(input, &sb) != 0) {
        fprintf(stderr, "sagalux: %s: %s\n", input, strerror(errno));
        return 1;
    }
    if (!S_ISDIR(sb.st_mode)) return push(list, input) == 0 ? 0 : 1;
    DIR *dir = opendir(input);
    if (!dir) {
        fprintf(stderr, "sagalux: %s: cannot read folder: %s\n", input, strerror(errno));
        return 1;
    }
    size_t first = list->count;
    int failures = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (de->d_name[0] == '.' || sagalux_format_from_name(de->d_name) == SAGALUX_FORMAT_UNKNOWN) continue;
        size_t len = strlen(input) + strlen(de->d_name) + 2;
        char *path = malloc(len);
        if (!path) { failures++; break; }
        snprintf(path, len, "%s%s%s", input, input[strlen(input) - 1] == '/' ? "" : "/", de->d_name);
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && push(list, path) != 0) failures++;
        free(path);
    }
    closedir(dir);
    qsort(list->paths + first, list->count - first, sizeof *list->paths, by_name);
    return failures;
}

void file_list_free(file_list *list)
{
    for (size_t i = 0; i < list->count; i++) free(list->paths[i]);
    free(list->paths);
    *list = (file_list){0};
}

void file_list_shard(file_list *list, int k, int n)
{
    qsort(list->paths, list->count, sizeof *list->paths, by_name);
    size_t kept = 0;
    for (size_t i = 0; i < list->count; i++) {
        if ((int)(i % (size_t)n) == k - 1) list->paths[kept++] = list->paths[i];
        else free(list->paths[i]);
    }
    list->count = kept;
}
