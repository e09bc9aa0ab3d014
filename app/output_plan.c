#define _XOPEN_SOURCE 700 /* realpath */
#include "output_plan.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "name_template.h"
#include "sagalux.h"

/* The format of a file by its first bytes (for inputs whose name does not say). */
static sagalux_file_format sniff(const char *path)
{
    unsigned char b[8] = {0};
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* the plan refused what is not a regular file */
    if (fd < 0) return SAGALUX_FORMAT_UNKNOWN;
    ssize_t n = read(fd, b, sizeof b);
    close(fd);
    return sagalux_format_from_bytes(b, n > 0 ? (size_t)n : 0);
}

/* Each name in the output's path below the output folder fits the file
 * system's limit: a name too long fails before any work, not after the
 * network ran. */
static int names_fit(const char *relpath, const char *out_dir)
{
    long max = pathconf(out_dir, _PC_NAME_MAX);
    if (max <= 0) max = NAME_MAX;
    for (const char *seg = relpath; *seg;) {
        size_t n = strcspn(seg, "/");
        if ((long)n > max) return 0;
        seg += n + (seg[n] == '/');
    }
    return 1;
}

static int ends_in_slash(const char *s) { return *s && s[strlen(s) - 1] == '/'; }

/* OUTDIR/ + the name template expanded (default <rel>/<stem>.<ext>; rel:
 * the input's folder under a folder given with -r). The extension: the
 * input's, or the one -f asks for, or (an input whose name has none we know,
 * or standard input) the one its content says. "-o -": "-". */
static int output_path(const cli_options *opt, const char *input, const char *rel, char *path, size_t size, char *why,
                       size_t why_size)
{
    const int from_stdin = strcmp(input, "-") == 0;
    const char *base = strrchr(input, '/');
    base = from_stdin ? "stdin" : base ? base + 1 : input;
    const char *dot = strrchr(base, '.');
    int known = !from_stdin && sagalux_format_from_name(base) != SAGALUX_FORMAT_UNKNOWN;
    size_t stem = dot && known ? (size_t)(dot - base) : strlen(base);
    const char *ext = dot && known ? dot + 1 : NULL;
    if (opt->format && strcmp(opt->format, "same") != 0) ext = strcmp(opt->format, "png") == 0 ? "png" : "jpg";
    if (!ext) {
        sagalux_file_format f = from_stdin ? sagalux_format_from_bytes(opt->stdin_data, opt->stdin_size) : sniff(input);
        if (f == SAGALUX_FORMAT_UNKNOWN) {
            snprintf(why, why_size, "%s: not a PNG or JPEG image", from_stdin ? "<stdin>" : input);
            return -1;
        }
        ext = f == SAGALUX_FORMAT_PNG ? "png" : "jpg";
    }
    if (strcmp(opt->out_dir, "-") == 0) return snprintf(path, size, "-"), 0;
    char name[PATH_MAX], relpath[PATH_MAX];
    int n = snprintf(name, sizeof name, "%.*s%s", (int)stem, base, opt->suffix ? opt->suffix : "");
    if (n < 0 || (size_t)n >= sizeof name ||
        name_template_expand(opt->name_template ? opt->name_template : NAME_TEMPLATE_DEFAULT, rel, name, ext, relpath,
                             sizeof relpath) != 0 ||
        (size_t)snprintf(path, size, "%s%s%s", opt->out_dir, ends_in_slash(opt->out_dir) ? "" : "/", relpath) >= size) {
        snprintf(why, why_size, "%s: output path is too long", input);
        return -1;
    }
    if (!names_fit(relpath, opt->out_dir)) {
        long max = pathconf(opt->out_dir, _PC_NAME_MAX);
        snprintf(why, why_size, "%.400s: its output name is longer than the file system allows (%ld bytes)", input,
                 max > 0 ? max : (long)NAME_MAX);
        return -1;
    }
    return 0;
}

/* Same file: same device and inode when both exist, else the same real path
 * of the folder plus the same name. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

/* An output path, made canonical enough to compare: real path of its folder
 * (which exists once output_dir_ready ran) plus its name. */
static char *canonical(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    size_t dn = slash ? (size_t)(slash - path) : 0;
    if (dn >= sizeof dir) return NULL;
    memcpy(dir, path, dn);
    dir[dn] = 0;
    char real[PATH_MAX];
    if (!realpath(dn ? dir : ".", real)) return strdup(path);
    size_t len = strlen(real) + strlen(slash ? slash : path) + 2;
    char *out = malloc(len);
    if (out) snprintf(out, len, "%s/%s", real, slash ? slash + 1 : path);
    return out;
}

static int by_canonical(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return strcmp(x[0], y[0]);
}

/* The rest of a clash's advice: the naming options that made the name come first. */
static const char *clash_advice(const cli_options *opt)
{
    if (opt->name_template && opt->suffix) return ", or change --name or --suffix";
    if (opt->name_template) return ", or change --name (%d keeps the tree)";
    if (opt->suffix) return ", or change --suffix";
    return " or -f format";
}

int output_plan_make(output_plan *plan, const cli_options *opt, const file_list *inputs)
{
    plan->count = inputs->count;
    plan->entries = calloc(inputs->count ? inputs->count : 1, sizeof *plan->entries);
    if (!plan->entries) return -1;
    int run_errors = 0;
    for (size_t i = 0; i < inputs->count; i++) {
        plan_entry *e = &plan->entries[i];
        e->input = inputs->paths[i];
        char path[PATH_MAX];
        struct stat in;
        if (strcmp(e->input, "-") != 0 && stat(e->input, &in) == 0 && !S_ISREG(in.st_mode)) {
            /* A FIFO would wait for a writer, a device read without end. */
            e->action = PLAN_FAIL;
            snprintf(e->reason, sizeof e->reason, "%s: not a regular file (a FIFO, device or socket is not read)",
                     e->input);
            continue;
        }
        if (output_path(opt, e->input, inputs->rel[i], path, sizeof path, e->reason, sizeof e->reason) != 0) {
            e->action = PLAN_FAIL;
            continue;
        }
        e->output = strdup(path);
        if (!e->output) return -1;
        if (strcmp(e->output, "-") == 0) continue; /* standard output: nothing to replace or collide with */
        /* An input is never replaced, whatever the options say. */
        for (size_t k = 0; k < inputs->count; k++)
            if (same_file(e->output, inputs->paths[k])) {
                fprintf(stderr, "sagalux: %s: its output %s would replace the input %s; choose another -o folder%s\n",
                        e->input, e->output, inputs->paths[k], clash_advice(opt));
                run_errors++;
                break;
            }
        struct stat sb; /* lstat: a link at the output, dangling or not, is something there */
        if (lstat(e->output, &sb) == 0 && e->action == PLAN_ENHANCE) {
            if (S_ISDIR(sb.st_mode)) { /* no option replaces a folder with a photo */
                e->action = PLAN_FAIL;
                snprintf(e->reason, sizeof e->reason, "%s: its output %s is a folder", e->input, e->output);
            } else if (opt->skip_existing) e->action = PLAN_SKIP_EXISTING;
            else if (!opt->overwrite) {
                e->action = PLAN_FAIL;
                snprintf(e->reason, sizeof e->reason,
                         "%s: output %s exists (--skip-existing skips it, --overwrite replaces it)", e->input, e->output);
            }
        }
    }
    /* Two inputs, one output: sort (canonical output, input) pairs and look at neighbours. */
    const char **pairs = calloc(2 * (inputs->count ? inputs->count : 1), sizeof *pairs);
    size_t np = 0;
    if (!pairs) return -1;
    for (size_t i = 0; i < plan->count; i++)
        if (plan->entries[i].output) {
            char *c = canonical(plan->entries[i].output);
            if (!c) continue;
            pairs[2 * np] = c;
            pairs[2 * np + 1] = plan->entries[i].input;
            np++;
        }
    qsort(pairs, np, 2 * sizeof *pairs, by_canonical);
    for (size_t i = 1; i < np; i++)
        if (strcmp(pairs[2 * i], pairs[2 * i - 2]) == 0) {
            fprintf(stderr, "sagalux: %s and %s would both be written to %s; enhance them into different folders%s\n",
                    pairs[2 * i - 1], pairs[2 * i + 1], pairs[2 * i],
                    opt->name_template ? clash_advice(opt)
                                       : ", or name them with --name (%d keeps the tree)");
            run_errors++;
        }
    for (size_t i = 0; i < np; i++) free((char *)pairs[2 * i]);
    free(pairs);
    return run_errors ? -1 : 0;
}

void output_plan_free(output_plan *plan)
{
    for (size_t i = 0; i < plan->count; i++) free(plan->entries[i].output);
    free(plan->entries);
    *plan = (output_plan){0};
}

/* mkdir for one folder, recorded in made when it is new. */
static int make_dir(const char *path, made_dirs *made)
{
    if (mkdir(path, 0777) == 0) {
        if (made && made->count < MADE_DIRS_MAX && (made->paths[made->count] = strdup(path))) made->count++;
        return 0;
    }
    return errno == EEXIST ? 0 : -1;
}

int make_dirs(const char *dir, made_dirs *made)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (make_dir(path, made) != 0) return -1;
            *p = '/';
        }
    return make_dir(path, made);
}

void made_dirs_remove(made_dirs *made)
{
    /* Newest first, so children go before parents; rmdir removes only a
     * folder that is still empty, so nothing anyone put there is lost. */
    for (int i = made->count - 1; i >= 0; i--) rmdir(made->paths[i]);
    made_dirs_free(made);
}

void made_dirs_free(made_dirs *made)
{
    for (int i = 0; i < made->count; i++) free(made->paths[i]);
    made->count = 0;
}

int output_dir_ready(const char *dir, made_dirs *made)
{
    struct stat sb;
    if (make_dirs(dir, made) != 0) {
        fprintf(stderr, "sagalux: %s: cannot create the output folder: %s\n", dir, strerror(errno));
        return -1;
    }
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "sagalux: %s: the output path exists and is not a folder\n", dir);
        return -1;
    }
    /* A probe of our own making (mkstemp: a new file, a random name), so
     * that runs sharing the folder never collide on it. */
    char probe[PATH_MAX];
    int fd = -1;
    if (snprintf(probe, sizeof probe, "%s/.sagalux-write-test-XXXXXX", dir) < (int)sizeof probe) fd = mkstemp(probe);
    else errno = ENAMETOOLONG;
    if (fd < 0) {
        fprintf(stderr, "sagalux: %s: cannot write in the output folder: %s\n", dir, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(probe);
    return 0;
}

int output_subfolders_real(const char *out_dir, const char *output, char *bad, size_t bad_size)
{
    size_t n = strlen(out_dir);
    if (strncmp(output, out_dir, n) != 0) return 1;
    const char *last = strrchr(output, '/');
    char path[PATH_MAX];
    for (const char *p = output + n; last && p < last;) {
        while (*p == '/') p++;
        const char *end = strchr(p, '/');
        if (!end || end > last) break;
        if ((size_t)(end - output) >= sizeof path) return 1;
        memcpy(path, output, (size_t)(end - output));
        path[end - output] = 0;
        struct stat sb;
        if (lstat(path, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
            snprintf(bad, bad_size, "%s", path);
            return 0;
        }
        p = end;
    }
    return 1;
}
