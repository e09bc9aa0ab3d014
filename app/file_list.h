/* Expanding the command line's inputs into a list of image files. */
#ifndef SAGALUX_FILE_LIST_H
#define SAGALUX_FILE_LIST_H

#include <stddef.h>

typedef struct file_list {
    char **paths;
    size_t count, capacity;
} file_list;

/* Adds a file, or a folder's PNG/JPEG files sorted by name. Returns the
 * number of failures (an input that does not exist or cannot be read), each
 * reported on stderr. */
int file_list_add_input(file_list *list, const char *input);
void file_list_free(file_list *list);

#endif
