/* Temporaries that cannot be planted, guessed or replaced, and a final move
 * that replaces nothing unless asked: see file_publish.h. Linux calls
 * (O_TMPFILE, renameat2, open-file-description locks), each with the POSIX
 * fallback it needs. */
#define _GNU_SOURCE /* O_TMPFILE, renameat2, F_OFD_SETLK, getrandom */
#include "file_publish.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sagalux.h"

static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* A fresh temporary name. getrandom() almost never fails; if it does, the
 * clock, the PID and a counter still make collisions rare, and O_EXCL
 * turns any collision into a retry rather than a shared file. */
static void random_temp_name(char out[32])
{
    unsigned char r[SX_TEMP_RANDOM];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        static _Atomic unsigned counter; /* savers run on several threads */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 16) ^ ++counter;
        for (size_t i = 0; i < sizeof r; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            r[i] = (unsigned char)x;
        }
    }
    char *p = out + snprintf(out, 32, "%s", SX_TEMP_PREFIX);
    for (size_t i = 0; i < sizeof r; i++) *p++ = letters[r[i] % (sizeof letters - 1)];
    snprintf(p, 8, "%s", SX_TEMP_SUFFIX);
}

int sx_is_temp_name(const char *name)
{
    const size_t np = strlen(SX_TEMP_PREFIX), ns = strlen(SX_TEMP_SUFFIX);
    if (strlen(name) != np + SX_TEMP_RANDOM + ns || strncmp(name, SX_TEMP_PREFIX, np) != 0 ||
        strcmp(name + np + SX_TEMP_RANDOM, SX_TEMP_SUFFIX) != 0)
        return 0;
    for (size_t i = np; i < np + SX_TEMP_RANDOM; i++)
        if (!strchr(letters, name[i])) return 0;
    return 1;
}

/* A write lock on the whole file, on this open file description (so it is
 * released only when the temporary is closed, whatever else the process
 * opens or closes). 0, or -1 with errno (EAGAIN/EACCES: someone holds it). */
static int lock_whole(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0) return 0;
    if (errno != EINVAL) return -1;
    return fcntl(fd, F_SETLK, &fl); /* a kernel before 3.15 */
}

/* Whether name in dirfd is still the file open as fd (not removed, not
 * replaced). */
static int still_named(int dirfd, const char *name, int fd)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

/* A new named temporary in dirfd, locked and checked to still carry its
 * name (a cleaner may have taken it between the create and the lock). */
static int open_named_temp(int dirfd, char name[32])
{
    for (int attempt = 0; attempt < 100; attempt++) {
        random_temp_name(name);
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0) {
            if (errno == EEXIST) continue;
            return -1;
        }
        if (lock_whole(fd) == 0 && still_named(dirfd, name, fd)) return fd;
        close(fd); /* a cleaner has it: it removes the file; take another name */
    }
    errno = EEXIST;
    return -1;
}

/* An unnamed temporary, where the file system has them and /proc lets us
 * give it a name later; -1 otherwise. */
static int open_unnamed_temp(int dirfd)
{
    if (access("/proc/self/fd", X_OK) != 0) return -1;
    int fd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    if (fd >= 0 && lock_whole(fd) != 0) { /* locked too, so a link made for --overwrite is never "abandoned" */
        close(fd);
        fd = -1;
    }
    return fd;
}

sagalux_status sx_publish_open(sx_publish *p, const char *path, sx_temp_kind kind, const char *label, char *err,
                               size_t err_size)
{
    *p = (sx_publish){.dirfd = -1, .fd = -1};
    const char *slash = strrchr(path, '/');
    p->name = slash ? slash + 1 : path;
    if (!*p->name) return sx_fail(err, err_size, SAGALUX_ERR_INVALID_ARGUMENT, "%s: names a folder, not a file", label);
    if (strlen(p->name) > NAME_MAX)
        return sx_fail(err, err_size, SAGALUX_ERR_INVALID_ARGUMENT, "%s: the file name is longer than %d bytes", label,
                       NAME_MAX);
    char dir[PATH_MAX];
    size_t dn = slash ? (size_t)(slash - path) : 0;
    if (dn >= sizeof dir) return sx_fail(err, err_size, SAGALUX_ERR_INVALID_ARGUMENT, "%s: path too long", label);
    memcpy(dir, path, dn);
    dir[dn] = 0;
    p->dirfd = open(slash ? (dn ? dir : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (p->dirfd < 0)
        return sx_fail(err, err_size, SAGALUX_ERR_IO, "%s: cannot open its folder: %s", label, strerror(errno));
    if (kind == SX_TEMP_ANY) p->fd = open_unnamed_temp(p->dirfd);
    if (p->fd < 0) p->fd = open_named_temp(p->dirfd, p->temp_name);
    if (p->fd < 0) {
        sagalux_status st = errno == ENOSPC || errno == EDQUOT ? SAGALUX_ERR_NO_SPACE : SAGALUX_ERR_IO;
        sx_fail(err, err_size, st, "%s: cannot write in its folder: %s", label, strerror(errno));
        close(p->dirfd);
        p->dirfd = -1;
        return st;
    }
    return SAGALUX_OK;
}

/* Moves named temporary p->temp_name to p->name without replacing: 0, or
 * -1 with errno (EEXIST: something is there). */
static int move_no_replace(sx_publish *p)
{
    if (renameat2(p->dirfd, p->temp_name, p->dirfd, p->name, RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return -1;
    /* The file system has no RENAME_NOREPLACE: a hard link fails on any
     * existing entry, atomically, and the temporary's name goes after. */
    if (linkat(p->dirfd, p->temp_name, p->dirfd, p->name, 0) == 0) {
        unlinkat(p->dirfd, p->temp_name, 0);
        return 0;
    }
    if (errno == EEXIST || (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP)) return -1;
    /* Neither (FAT, some FUSE file systems): look, then move. This leaves a
     * window of microseconds in which a file made by someone else could be
     * replaced; such file systems offer nothing better. */
    struct stat sb;
    if (fstatat(p->dirfd, p->name, &sb, AT_SYMLINK_NOFOLLOW) == 0) return errno = EEXIST, -1;
    return renameat(p->dirfd, p->temp_name, p->dirfd, p->name);
}

/* Gives the unnamed temporary the name `name` in its folder (linkat fails
 * on any existing entry). 0, or -1 with errno. */
static int link_unnamed(sx_publish *p, const char *name)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", p->fd);
    return linkat(AT_FDCWD, proc, p->dirfd, name, AT_SYMLINK_FOLLOW);
}

static void close_all(sx_publish *p)
{
    if (p->fd >= 0) close(p->fd);
    if (p->dirfd >= 0) close(p->dirfd);
    p->fd = p->dirfd = -1;
}

void sx_publish_abort(sx_publish *p)
{
    if (p->temp_name[0] && p->fd >= 0 && still_named(p->dirfd, p->temp_name, p->fd))
        unlinkat(p->dirfd, p->temp_name, 0);
    p->temp_name[0] = 0;
    close_all(p);
}

sagalux_status sx_publish_commit(sx_publish *p, int replace, const char *label, char *err, size_t err_size)
{
    /* On the disk before it has its name: after a power cut, a name with
     * half a photo behind it would be taken for a finished output (and
     * --skip-existing would never redo it). */
    if (fsync(p->fd) != 0 && errno != EINVAL && errno != EROFS) {
        int e = errno;
        sx_publish_abort(p);
        return sx_fail(err, err_size, e == ENOSPC || e == EDQUOT ? SAGALUX_ERR_NO_SPACE : SAGALUX_ERR_IO,
                       "%s: write failed: %s", label, strerror(e));
    }
    int rc;
    if (!p->temp_name[0] && !replace) {
        rc = link_unnamed(p, p->name);
    } else {
        if (!p->temp_name[0]) { /* replacing: the unnamed file needs a name to rename from */
            rc = -1;
            for (int attempt = 0; attempt < 100 && rc != 0; attempt++) {
                random_temp_name(p->temp_name);
                rc = link_unnamed(p, p->temp_name);
                if (rc != 0 && errno != EEXIST) break;
            }
            if (rc != 0) {
                int e = errno;
                p->temp_name[0] = 0;
                close_all(p);
                return sx_fail(err, err_size, e == ENOSPC || e == EDQUOT ? SAGALUX_ERR_NO_SPACE : SAGALUX_ERR_IO,
                               "%s: cannot move into place: %s", label, strerror(e));
            }
        }
        rc = replace ? renameat(p->dirfd, p->temp_name, p->dirfd, p->name) : move_no_replace(p);
    }
    if (rc == 0) {
        p->temp_name[0] = 0;
        close_all(p);
        return SAGALUX_OK;
    }
    int e = errno;
    sx_publish_abort(p);
    if (e == EEXIST)
        return sx_fail(err, err_size, SAGALUX_ERR_EXISTS, "%s: exists; it was not replaced", label);
    return sx_fail(err, err_size, e == ENOSPC || e == EDQUOT ? SAGALUX_ERR_NO_SPACE : SAGALUX_ERR_IO,
                   "%s: cannot move into place: %s", label, strerror(e));
}

/* One directory entry: removed when it is provably an abandoned temporary
 * of ours (our name, a regular file of our user, and nobody holds its lock:
 * its writer died). 1 when removed. */
static int remove_if_abandoned(int dirfd, const char *name)
{
    if (!sx_is_temp_name(name)) return 0;
    /* O_NOFOLLOW: a link with our name is not ours; O_NONBLOCK: a FIFO with
     * our name does not hang us. Write access is what a write lock needs. */
    int fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return 0;
    struct stat sb;
    int removed = 0;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_uid == geteuid() && lock_whole(fd) == 0 &&
        still_named(dirfd, name, fd))
        removed = unlinkat(dirfd, name, 0) == 0;
    close(fd);
    return removed;
}

sagalux_status sagalux_remove_abandoned_temporaries(const char *dir, int *removed)
{
    if (removed) *removed = 0;
    if (!dir) return SAGALUX_ERR_INVALID_ARGUMENT;
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) return SAGALUX_ERR_IO;
    int dup_fd = dup(dirfd);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        if (dup_fd >= 0) close(dup_fd);
        close(dirfd);
        return SAGALUX_ERR_IO;
    }
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += remove_if_abandoned(dirfd, e->d_name);
    closedir(d);
    close(dirfd);
    if (removed) *removed = n;
    return SAGALUX_OK;
}

/* ---------------------------------------------------------------- claims */

struct sagalux_claim {
    int dirfd, fd;
    char name[32];
};

/* The claim's name for the file called base: one of our temporary names
 * (so the cleanup knows it, and removes it once its holder is gone), its
 * random part a hash of base, so every process derives the same one. */
static void claim_name(const char *base, char out[32])
{
    uint64_t h1 = 1469598103934665603ull, h2 = 0x9E3779B97F4A7C15ull;
    for (const unsigned char *p = (const unsigned char *)base; *p; p++) {
        h1 = (h1 ^ *p) * 1099511628211ull;
        h2 = (h2 ^ *p) * 0xff51afd7ed558ccdull;
        h2 ^= h2 >> 29;
    }
    char *q = out + snprintf(out, 32, "%s", SX_TEMP_PREFIX);
    for (int i = 0; i < SX_TEMP_RANDOM; i++) {
        uint64_t *h = i % 2 ? &h2 : &h1;
        *q++ = letters[*h % (sizeof letters - 1)];
        *h /= sizeof letters - 1;
    }
    snprintf(q, 8, "%s", SX_TEMP_SUFFIX);
}

sagalux_status sagalux_claim_output(const char *path, sagalux_claim **out)
{
    if (!path || !out) return SAGALUX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    char dir[PATH_MAX];
    size_t dn = slash ? (size_t)(slash - path) : 0;
    if (!*base || dn >= sizeof dir) return SAGALUX_ERR_INVALID_ARGUMENT;
    memcpy(dir, path, dn);
    dir[dn] = 0;
    sagalux_claim *c = calloc(1, sizeof *c);
    if (!c) return SAGALUX_ERR_OUT_OF_MEMORY;
    c->fd = -1;
    c->dirfd = open(slash ? (dn ? dir : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c->dirfd < 0) {
        free(c);
        return SAGALUX_ERR_IO;
    }
    claim_name(base, c->name);
    sagalux_status st = SAGALUX_ERR_IO;
    for (int attempt = 0; attempt < 8; attempt++) {
        int fd = openat(c->dirfd, c->name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0 && errno == EEXIST) /* someone's claim: alive if its lock is held, else abandoned and ours */
            fd = openat(c->dirfd, c->name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT) continue; /* its holder let it go between our two opens */
            break;                         /* a link or a folder with that name: no claim */
        }
        struct stat sb;
        if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            close(fd);
            break;
        }
        if (lock_whole(fd) != 0) {
            close(fd);
            st = errno == EAGAIN || errno == EACCES ? SAGALUX_ERR_EXISTS : SAGALUX_ERR_IO;
            break;
        }
        if (still_named(c->dirfd, c->name, fd)) {
            c->fd = fd;
            *out = c;
            return SAGALUX_OK;
        }
        close(fd); /* released and removed by its holder after we opened it: try again */
    }
    close(c->dirfd);
    free(c);
    return st;
}

void sagalux_claim_release(sagalux_claim *c)
{
    if (!c) return;
    if (still_named(c->dirfd, c->name, c->fd)) unlinkat(c->dirfd, c->name, 0); /* while the lock is still ours */
    close(c->fd);
    close(c->dirfd);
    free(c);
}
