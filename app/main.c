/* sagalux — the command-line batch tool.
 *
 *   sagalux [options] INPUT... -o OUTDIR
 *
 * INPUT is a PNG or JPEG file, or a folder whose PNG/JPEG files are taken
 * (sorted by name). Every output path is planned before any work (an input is
 * never replaced; two inputs never share an output). Each file gets one line
 * on stdout (line-buffered); each failure one line on stderr; a summary ends
 * the run. Exit status: 0 all done or skipped, 1 some file failed, 2 bad
 * arguments, model or output plan, 130/143 stopped by SIGINT/SIGTERM. */
#define _XOPEN_SOURCE 700 /* sigaction, kill, NAME_MAX */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_options.h"
#include "file_list.h"
#include "file_report.h"
#include "output_plan.h"
#include "sagalux.h"

/* One steady progress line on stderr when it is a terminal: redrawn before
 * each file, cleared before any other line is printed. */
static int progress_on, progress_shown;

static void progress_clear(void)
{
    if (progress_shown) fputs("\r\033[K", stderr);
    progress_shown = 0;
}

#define SAY(stream, ...) (progress_clear(), fprintf(stream, __VA_ARGS__))

static void clock_text(char *out, size_t size, double seconds)
{
    long s = (long)(seconds + 0.5);
    if (s >= 3600) snprintf(out, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else snprintf(out, size, "%ld:%02ld", s / 60, s % 60);
}

/* [N/M] name  elapsed, ETA (from the mean time of the files done so far). */
static void progress_draw(size_t index, size_t total, const char *path, double elapsed, int finished)
{
    if (!progress_on) return;
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    char el[32], eta[32] = "--:--";
    clock_text(el, sizeof el, elapsed);
    if (finished > 0) clock_text(eta, sizeof eta, elapsed / finished * (double)(total - index));
    fprintf(stderr, "\r\033[K[%zu/%zu] %.40s  %s elapsed, ETA %s", index + 1, total, name, el, eta);
    progress_shown = 1;
}

static void log_to_stderr(sagalux_log_level level, const char *message, void *user)
{
    const cli_options *opt = user;
    /* Errors come back through return values and are printed once, by the
     * caller, with the file's name: the log adds warnings (and, with -v, info). */
    if (level == SAGALUX_LOG_WARN || (opt->verbose && level < SAGALUX_LOG_WARN))
        SAY(stderr, "sagalux: %s\n", message);
}

/* SIGINT / SIGTERM: the first stops the run after the file in hand (its
 * enhance is cancelled; a save in progress completes, so no partial or
 * temporary file is left); a second one ends the process at once. */
static volatile sig_atomic_t stop_signal;
static sagalux_context *volatile running;

static void on_stop_signal(int sig)
{
    if (stop_signal) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_signal = sig;
    sagalux_context *ctx = running;
    if (ctx) sagalux_context_cancel(ctx);
}

static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART; /* writes in progress finish */
    sigemptyset(&sa.sa_mask);
    const int sigs[2] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        struct sigaction old;
        /* A signal ignored by whoever started us (a script's background job
         * ignores SIGINT) stays ignored. */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

/* Removes NAME.tmp-PID files that a crashed or killed run left in dir (the
 * library writes each output to such a file and renames it): only when no
 * process PID exists. Returns how many were removed. */
static int remove_stale_temporaries(const char *dir, int verbose)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    for (struct dirent *e; (e = readdir(d));) {
        const char *tag = strstr(e->d_name, ".tmp-");
        if (!tag || tag == e->d_name || !tag[5]) continue;
        char *end;
        long pid = strtol(tag + 5, &end, 10);
        if (*end || pid <= 0) continue;
        char name[NAME_MAX + 1];
        snprintf(name, sizeof name, "%.*s", (int)(tag - e->d_name), e->d_name);
        if (sagalux_format_from_name(name) == SAGALUX_FORMAT_UNKNOWN) continue; /* not one of ours */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;           /* its writer may still run */
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
        if (unlink(path) == 0) {
            removed++;
            if (verbose) fprintf(stderr, "sagalux: removed %s, left by an earlier run that did not finish\n", path);
        }
    }
    closedir(d);
    return removed;
}

static int by_string(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Stale temporaries in the output folder and in every folder the plan
 * writes into (-r keeps a tree, --name may make one): each folder once. */
static void remove_stale_temporaries_of_plan(const output_plan *plan, const char *out_dir, int verbose)
{
    remove_stale_temporaries(out_dir, verbose);
    char **dirs = calloc(plan->count ? plan->count : 1, sizeof *dirs);
    size_t n = 0;
    if (!dirs) return;
    for (size_t i = 0; i < plan->count; i++) {
        const char *o = plan->entries[i].output, *slash = o ? strrchr(o, '/') : NULL;
        if (slash && (dirs[n] = strndup(o, (size_t)(slash - o)))) n++;
    }
    qsort(dirs, n, sizeof *dirs, by_string);
    for (size_t i = 0; i < n; i++) {
        if ((i == 0 || strcmp(dirs[i], dirs[i - 1]) != 0) && strcmp(dirs[i], out_dir) != 0)
            remove_stale_temporaries(dirs[i], verbose);
    }
    for (size_t i = 0; i < n; i++) free(dirs[i]);
    free(dirs);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Writes all of data to stdout; 0, or -1 with errno. */
static int write_stdout(const void *data, size_t size)
{
    const unsigned char *p = data;
    while (size) {
        ssize_t n = write(STDOUT_FILENO, p, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        size -= (size_t)n;
    }
    return 0;
}

#define FAIL(...) (snprintf(r->error, sizeof r->error, __VA_ARGS__), r->status = "failed")

/* Loads, enhances and saves one file into r (status "enhanced", "failed"
 * with the reason, or "interrupted"). */
static void enhance_one(sagalux_context *ctx, const cli_options *opt, file_result *r)
{
    char err[512];
    const double t0 = now_seconds();
    const int from_stdin = strcmp(r->input, "-") == 0, to_stdout = strcmp(r->output, "-") == 0;
    sagalux_image *img = NULL, *res = NULL;
    const char *slash = strrchr(r->output, '/');
    if (slash && !to_stdout) { /* a subfolder of the output folder (-r, --name) */
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - r->output), r->output);
        if (make_dirs(dir) != 0) {
            FAIL("%.200s: cannot create %.200s: %s", r->input, dir, strerror(errno));
            return;
        }
    }
    sagalux_status st = from_stdin ? sagalux_image_load_memory(opt->stdin_data, opt->stdin_size, "<stdin>", &img, err,
                                                               sizeof err)
                                   : sagalux_image_load(r->input, &img, err, sizeof err);
    if (st != SAGALUX_OK) {
        FAIL("%s", err);
        return;
    }
    if (!opt->keep_orientation && (st = sagalux_image_apply_orientation(img)) != SAGALUX_OK) {
        FAIL("%s: cannot turn the image upright: %s", r->input, sagalux_status_string(st));
        sagalux_image_free(img);
        return;
    }
    r->width = img->width;
    r->height = img->height;
    sagalux_enhance_options eo = sagalux_enhance_options_default();
    eo.strength = opt->strength;
    st = sagalux_enhance(ctx, img, &eo, &res);
    if (st == SAGALUX_ERR_CANCELLED) {
        r->status = "interrupted";
    } else if (st != SAGALUX_OK) {
        const char *why = sagalux_context_error(ctx);
        FAIL("%s: enhance failed: %s", from_stdin ? "<stdin>" : r->input, why[0] ? why : sagalux_status_string(st));
    } else {
        sagalux_file_format fmt =
            to_stdout ? (opt->format && strcmp(opt->format, "same") ? (strcmp(opt->format, "png") ? SAGALUX_FORMAT_JPEG
                                                                                                 : SAGALUX_FORMAT_PNG)
                                                                    : img->source_format)
                      : sagalux_format_from_name(r->output);
        if (opt->strip) { /* no EXIF; the ICC profile stays: it defines the colours */
            free(res->exif);
            res->exif = NULL;
            res->exif_size = 0;
        }
        sagalux_save_options so = sagalux_save_options_default(fmt);
        so.jpeg_quality = opt->jpeg_quality;
        so.jpeg_subsampling = opt->jpeg_subsampling;
        so.png_bit_depth = opt->png_bit_depth;
        if (so.format == SAGALUX_FORMAT_JPEG && res->alpha)
            SAY(stderr, "sagalux: %s: JPEG has no alpha channel; transparency is dropped\n", r->input);
        if (to_stdout) {
            void *data = NULL;
            size_t size = 0;
            st = sagalux_image_save_memory(res, &so, "<stdout>", &data, &size, err, sizeof err);
            if (st != SAGALUX_OK) FAIL("%s", err);
            else if (write_stdout(data, size) != 0) FAIL("<stdout>: write failed: %s", strerror(errno));
            free(data);
        } else if ((st = sagalux_image_save(res, r->output, &so, err, sizeof err)) != SAGALUX_OK) {
            FAIL("%s", err);
        }
        if (!r->error[0]) r->status = "enhanced";
    }
    r->ms = (now_seconds() - t0) * 1e3;
    sagalux_image_free(img);
    sagalux_image_free(res);
}

/* Standard input, whole, into opt->stdin_data (at most 2 GiB, like a file). */
static int read_stdin(cli_options *opt)
{
    size_t cap = 1 << 20, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fprintf(stderr, "sagalux: <stdin>: out of memory\n");
            return -1;
        }
        ssize_t got = read(STDIN_FILENO, buf + n, cap - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            fprintf(stderr, "sagalux: <stdin>: read error: %s\n", strerror(errno));
            free(buf);
            return -1;
        }
        if (got == 0) break;
        n += (size_t)got;
        if (n == cap) {
            if (cap >= ((size_t)2 << 30)) {
                fprintf(stderr, "sagalux: <stdin>: more than 2 GiB\n");
                free(buf);
                return -1;
            }
            unsigned char *more = realloc(buf, cap * 2);
            if (!more) free(buf);
            buf = more;
            cap *= 2;
        }
    }
    opt->stdin_data = buf;
    opt->stdin_size = n;
    return 0;
}

/* --list-devices: one line each, index 0 the CPU. */
static int list_devices(void)
{
    sagalux_device_info d[16];
    int n = sagalux_list_devices(d, 16);
    for (int i = 0; i < n && i < 16; i++) {
        if (d[i].kind == SAGALUX_DEVICE_CPU)
            printf("cpu        %s, %d threads, %.1f GiB memory (%.1f GiB available)\n", d[i].name, d[i].threads,
                   d[i].memory_bytes / 1073741824.0, d[i].free_bytes / 1073741824.0);
        else
            printf("cuda:%-5d %s, %.1f GiB memory (%.1f GiB free)\n", d[i].index, d[i].name,
                   d[i].memory_bytes / 1073741824.0, d[i].free_bytes / 1073741824.0);
    }
    if (n == 1) printf("(no CUDA GPU: %s)\n", "this build has no CUDA backend, or no usable GPU was found");
    return 0;
}

static int run(cli_options *opt);

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* a pipe or log file gets each line as it happens */
    cli_options opt;
    int parsed = cli_parse(argc, argv, &opt);
    if (parsed != CLI_RUN) return parsed == CLI_EXIT_OK ? 0 : 2;
    sagalux_set_log(log_to_stderr, &opt);
    int rc = run(&opt);
    free((void *)opt.stdin_data);
    cli_options_free(&opt);
    return rc;
}

static int run(cli_options *opt_in)
{
    if (opt_in->list_devices) return list_devices();
    for (int i = 0; i < opt_in->n_inputs; i++)
        if (strcmp(opt_in->inputs[i], "-") == 0 && read_stdin(opt_in) != 0) return 1;
    const cli_options opt = *opt_in;
    const int to_stdout = strcmp(opt.out_dir, "-") == 0;

    file_list inputs = {.extensions = opt.extensions};
    int failures = 0;
    for (int i = 0; i < opt.n_inputs; i++)
        failures += file_list_add_input(&inputs, opt.inputs[i], opt.recursive, opt.verbose);
    if ((inputs.skipped_files || inputs.skipped_folders) && !opt.quiet)
        fprintf(stderr, "sagalux: skipped %d file(s) that are not %s by name and %d subfolder(s)%s%s\n",
                inputs.skipped_files, opt.extensions ? "of the --ext list" : "PNG or JPEG", inputs.skipped_folders,
                inputs.skipped_folders ? " (-r enters them)" : "",
                opt.verbose ? "" : "; -v lists them");
    if (opt.shard_n) file_list_shard(&inputs, opt.shard_k, opt.shard_n);
    if (inputs.count == 0 && opt.shard_n && !failures) {
        fprintf(stderr, "sagalux: shard %d/%d has no files\n", opt.shard_k, opt.shard_n);
        file_list_free(&inputs);
        return 0;
    }
    if (inputs.count == 0) {
        fprintf(stderr, "sagalux: no PNG or JPEG files to enhance\n");
        file_list_free(&inputs);
        return failures ? 1 : 2;
    }
    if (to_stdout && inputs.count != 1) {
        fprintf(stderr, "sagalux: -o - writes one image to standard output, but %zu inputs were given\n", inputs.count);
        file_list_free(&inputs);
        return 2;
    }
    output_plan plan = {0};
    if ((!to_stdout && output_dir_ready(opt.out_dir) != 0) || output_plan_make(&plan, &opt, &inputs) != 0) {
        fprintf(stderr, "sagalux: nothing was processed\n");
        output_plan_free(&plan);
        file_list_free(&inputs);
        return 2;
    }

    char model_path[PATH_MAX], err[512];
    if (cli_find_model(&opt, model_path, sizeof model_path) != 0) {
        fprintf(stderr, "sagalux: no model found; pass one with -m FILE or set SAGALUX_MODEL\n");
        output_plan_free(&plan);
        file_list_free(&inputs);
        return 2;
    }
    sagalux_model *model = NULL;
    if (sagalux_model_load(model_path, &model, err, sizeof err) != SAGALUX_OK) {
        fprintf(stderr, "sagalux: %s\n", err);
        output_plan_free(&plan);
        file_list_free(&inputs);
        return 2;
    }
    if (!sagalux_model_is_trained(model))
        fprintf(stderr,
                "sagalux: warning: %s holds UNTRAINED weights (%s); its output is not an enhancement.\n"
                "sagalux: a trained model comes from train/ (see README.md)\n",
                model_path, sagalux_model_description(model));
    sagalux_context_options co = sagalux_context_options_default();
    co.device = opt.device;
    co.threads = opt.threads;
    co.cuda_device = opt.cuda_device;
    sagalux_context *ctx = NULL;
    err[0] = 0;
    sagalux_status st = sagalux_context_create(model, &co, &ctx, err, sizeof err);
    if (st != SAGALUX_OK) {
        fprintf(stderr, "sagalux: cannot start the %s backend: %s\n",
                opt.device == SAGALUX_DEVICE_CUDA ? "CUDA" : "CPU", err[0] ? err : sagalux_status_string(st));
        sagalux_model_free(model);
        output_plan_free(&plan);
        file_list_free(&inputs);
        return 2;
    }

    if (!to_stdout) remove_stale_temporaries_of_plan(&plan, opt.out_dir, opt.verbose);
    char device[32];
    if (sagalux_context_device(ctx) == SAGALUX_DEVICE_CUDA) snprintf(device, sizeof device, "cuda:%d", opt.cuda_device);
    else snprintf(device, sizeof device, "cpu");
    const file_reporter reporter = {opt.json, opt.quiet, opt.verbose, to_stdout, device};
    int done = 0, skipped = 0;
    running = ctx;
    catch_stop_signals();
    progress_on = !opt.quiet && isatty(STDERR_FILENO);
    const double started = now_seconds();
    for (size_t i = 0; i < plan.count && !stop_signal; i++) {
        const plan_entry *e = &plan.entries[i];
        file_result r = {e->input, e->output, "failed", "", 0.0, 0, 0};
        if (e->action == PLAN_FAIL) {
            snprintf(r.error, sizeof r.error, "%s", e->reason);
        } else if (e->action == PLAN_SKIP_EXISTING) {
            r.status = "skipped";
        } else {
            progress_draw(i, plan.count, strcmp(e->input, "-") ? e->input : "<stdin>", now_seconds() - started,
                          done + failures);
            enhance_one(ctx, &opt, &r);
        }
        progress_clear();
        file_report(&reporter, &r);
        if (!strcmp(r.status, "enhanced")) done++;
        else if (!strcmp(r.status, "skipped")) skipped++;
        else if (!strcmp(r.status, "failed")) failures++;
    }
    running = NULL;
    progress_clear();
    if (!opt.quiet || failures || stop_signal)
        fprintf(stderr, "sagalux: %d enhanced, %d skipped (output exists), %d failed\n", done, skipped, failures);
    if (stop_signal)
        fprintf(stderr, "sagalux: interrupted by %s: %zu file(s) not processed; --skip-existing resumes\n",
                stop_signal == SIGINT ? "SIGINT" : "SIGTERM", plan.count - (size_t)(done + skipped + failures));

    sagalux_context_free(ctx);
    sagalux_model_free(model);
    output_plan_free(&plan);
    file_list_free(&inputs);
    if (stop_signal) return 128 + stop_signal; /* 130 for SIGINT, 143 for SIGTERM */
    return failures ? 1 : 0;
}
