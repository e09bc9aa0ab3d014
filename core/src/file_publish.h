/* Writing a file so that nobody ever sees half of it, and so that a shared
 * folder cannot turn the write against us.
 *
 * The bytes go to a temporary in the destination's own folder (same file
 * system, so the final move is atomic):
 * - an unnamed one (O_TMPFILE) where the file system has them: nothing to
 *   plant, guess or leave behind, even when the process is killed;
 * - else ".sagalux-XXXXXXXXXXXX.tmp" (12 random letters and digits), made
 *   with O_CREAT|O_EXCL|O_NOFOLLOW, so it is always a new regular file and
 *   never an existing file or a link; the writer holds an open-file-
 *   description lock on it until it is moved or removed, which is how
 *   sx_remove_abandoned_temporaries (and another host, over NFS) tells a
 *   live writer's temporary from one whose process died.
 * The final move never replaces what is at the destination (a file, a link,
 * a dangling link) unless asked: linkat() of the unnamed file, or
 * renameat2(RENAME_NOREPLACE), else link()+unlink(), for a named one. */
#ifndef SAGALUX_FILE_PUBLISH_H
#define SAGALUX_FILE_PUBLISH_H

#include <stddef.h>

#include "sagalux.h"

/* The fallback temporary's name: prefix, 12 random [A-Za-z0-9], suffix. */
#define SX_TEMP_PREFIX ".sagalux-"
#define SX_TEMP_SUFFIX ".tmp"
#define SX_TEMP_RANDOM 12

typedef struct sx_publish {
    int dirfd;               /* the destination's folder */
    int fd;                  /* the temporary, open for writing */
    const char *name;        /* the destination's name in that folder (points into the caller's path) */
    char temp_name[32];      /* the named temporary; "" while the temporary is unnamed */
} sx_publish;

/* How the temporary is made: SX_TEMP_ANY tries an unnamed one first; the
 * tests choose SX_TEMP_NAMED to check the fallback on any file system. */
typedef enum sx_temp_kind { SX_TEMP_ANY, SX_TEMP_NAMED } sx_temp_kind;

/* Opens a temporary for path. The destination's name must fit NAME_MAX;
 * path's folder must exist (a link to a folder is followed: the user chose
 * it). label names the file in messages. */
sagalux_status sx_publish_open(sx_publish *p, const char *path, sx_temp_kind kind, const char *label, char *err,
                               size_t err_size);

/* Moves the written temporary to the destination and closes it. Without
 * replace, an existing entry there (file, folder, link, dangling link) is
 * left alone and SAGALUX_ERR_EXISTS is returned; the temporary is removed
 * either way on failure. */
sagalux_status sx_publish_commit(sx_publish *p, int replace, const char *label, char *err, size_t err_size);

/* Drops the temporary (after a failed write). */
void sx_publish_abort(sx_publish *p);

/* Whether name is one this module gives its named temporaries. */
int sx_is_temp_name(const char *name);

#endif
