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
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_options.h"
#include "file_list.h"
#include "file_report.h"
#include "job.h"
#include "output_plan.h"
#include "pipeline.h"
#include "sagalux.h"

/* One steady progress line on stderr when it is a terminal: redrawn before
 * each file, cleared before any other line is printed. */
static int progress_on, progress_shown;

static void progress_clear(void)
{
    if (progress_shown) fputs("\r\033[K", stderr);
    progress_shown = 0;
}

/* Lines on stderr come from several threads (the library's warnings come
 * from the decoding, network and encoding threads): one at a time, each
 * clearing the progress line first. */
static pthread_mutex_t say_lock = PTHREAD_MUTEX_INITIALIZER;

static void say(FILE *stream, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&say_lock);
    progress_clear();
    vfprintf(stream, fmt, ap);
    pthread_mutex_unlock(&say_lock);
    va_end(ap);
}

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
    char shown[256];
    name = file_report_text(name ? name + 1 : path, shown, sizeof shown);
    char el[32], eta[32] = "--:--";
    clock_text(el, sizeof el, elapsed);
    if (finished > 0) clock_text(eta, sizeof eta, elapsed / finished * (double)(total - index));
    fprintf(stderr, "\r\033[K[%zu/%zu] %.40s  %s elapsed, ETA %s", index + 1, total, name, el, eta);
    progress_shown = 1;
}

/* "2.50 a second", or for slow photos "251.0 s a photo" (a rate below one
 * a second would print as 0.00). */
static const char *rate_text(char *out, size_t size, int photos, double seconds)
{
    if (seconds > 0 && photos / seconds >= 1.0) snprintf(out, size, "%.2f a second", photos / seconds);
    else snprintf(out, size, "%.1f s a photo", seconds / photos);
    return out;
}

static void log_to_stderr(sagalux_log_level level, const char *message, void *user)
{
    const cli_options *opt = user;
    /* Errors come back through return values and are printed once, by the
     * caller, with the file's name: the log adds warnings (and, with -v, info). */
    if (level != SAGALUX_LOG_WARN && !(opt->verbose && level < SAGALUX_LOG_WARN)) return;
    char shown[1024];
    say(stderr, "sagalux: %s\n", file_report_text(message, shown, sizeof shown));
}

/* SIGINT / SIGTERM: the first stops the run: no new photo is read, the
 * photos in the network are cancelled, photos already enhanced are saved (a
 * save completes, so no partial or temporary file is left); a second one
 * ends the process at once. */
static volatile sig_atomic_t stop_signal;
static sagalux_context *volatile running[CLI_MAX_GPUS];

static void on_stop_signal(int sig)
{
    if (stop_signal) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_signal = sig;
    for (int i = 0; i < CLI_MAX_GPUS; i++) {
        sagalux_context *ctx = running[i];
        if (ctx) sagalux_context_cancel(ctx);
    }
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

/* Removes the temporaries a killed run left in dir: the library removes a
 * file only when it is provably one of its own whose writer is gone. */
static void remove_abandoned_temporaries(const char *dir, int verbose)
{
    int removed = 0;
    if (sagalux_remove_abandoned_temporaries(dir, &removed) == SAGALUX_OK && removed && verbose)
        fprintf(stderr, "sagalux: %s: removed %d temporary file(s) left by a run that was killed\n", dir, removed);
}

static int by_string(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Abandoned temporaries in the output folder and in every folder the plan
 * writes into (-r keeps a tree, --name may make one): each folder once. */
static void remove_abandoned_temporaries_of_plan(const output_plan *plan, const char *out_dir, int verbose)
{
    remove_abandoned_temporaries(out_dir, verbose);
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
            remove_abandoned_temporaries(dirs[i], verbose);
    }
    for (size_t i = 0; i < n; i++) free(dirs[i]);
    free(dirs);
}

/* The most bytes of standard input taken for a photo of width x height
 * (0 x 0: size not known yet): the largest file such a photo can sensibly
 * be, its pixels uncompressed at 16-bit RGBA plus 64 MiB of metadata (one
 * ancillary PNG chunk at libpng's cap), and never more than a file's 2 GiB.
 * Before the header tells the size, the decode limit's pixels bound it. */
static size_t stdin_bound(uint64_t width, uint64_t height)
{
    uint64_t pixels = width && height ? width * height : sagalux_image_pixel_limit();
    uint64_t bytes = pixels * 8 + ((uint64_t)64 << 20), file_cap = (uint64_t)2 << 30;
    return (size_t)(bytes < file_cap ? bytes : file_cap);
}

/* Standard input into opt->stdin_data: no more than the photo it holds can
 * be (stdin_bound; it was 2 GiB of anything, 2.26 GB resident for
 * /dev/zero). Reading stops at once when the first bytes are neither PNG
 * nor JPEG: the decoder then says so, naming <stdin>. */
static int read_stdin(cli_options *opt)
{
    size_t cap = 1 << 20, n = 0, bound = stdin_bound(0, 0);
    int sized = 0, w = 0, h = 0;
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
        if (n >= 8 && sagalux_format_from_bytes(buf, n) == SAGALUX_FORMAT_UNKNOWN) break;
        if (!sized && sagalux_image_probe_memory(buf, n, "<stdin>", &w, &h, NULL, 0) == SAGALUX_OK) {
            sized = 1;
            bound = stdin_bound((uint64_t)w, (uint64_t)h);
        }
        if (n > bound) {
            if (sized)
                fprintf(stderr, "sagalux: <stdin>: more than %zu MiB, more than a %dx%d photo can be\n", bound >> 20,
                        w, h);
            else
                fprintf(stderr, "sagalux: <stdin>: more than %zu MiB, more than a photo within the %llu-pixel "
                                "decode limit can be\n", bound >> 20, (unsigned long long)sagalux_image_pixel_limit());
            free(buf);
            return -1;
        }
        if (n == cap) {
            size_t more_cap = cap * 2 < bound + 1 ? cap * 2 : bound + 1;
            unsigned char *more = realloc(buf, more_cap);
            if (!more) free(buf);
            buf = more;
            cap = more_cap;
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
    char why[256] = "";
    if (n == 1 && sagalux_cuda_device_count(why, sizeof why) == 0) printf("(no CUDA GPU: %s)\n", why);
    return 0;
}

static int run(cli_options *opt);

/* -d auto: the first GPU when there is one it can start on, else the CPU. A
 * machine with no GPU is an ordinary case (-v says why); a GPU that is there
 * but cannot be used is said once, with the reason, as it costs speed. */
static sagalux_context *auto_gpu_context(const cli_options *opt, sagalux_model *model)
{
    char why[512] = "";
    if (sagalux_cuda_device_count(why, sizeof why) == 0) {
        if (opt->verbose) fprintf(stderr, "sagalux: enhancing on the CPU: no CUDA GPU (%s)\n", why);
        return NULL;
    }
    sagalux_context_options co = sagalux_context_options_default();
    co.device = SAGALUX_DEVICE_CUDA;
    co.precision = opt->precision;
    co.cuda_device = opt->cuda_device;
    sagalux_context *ctx = NULL;
    sagalux_status st = sagalux_context_create(model, &co, &ctx, why, sizeof why);
    if (st == SAGALUX_OK) return ctx;
    if (!opt->quiet)
        fprintf(stderr, "sagalux: the GPU cannot be used, so the CPU enhances (slower): %s\n",
                why[0] ? why : sagalux_status_string(st));
    return NULL;
}

/* The network contexts: one for the CPU or the GPU asked for (auto: the
 * first GPU, else the CPU), or one per GPU of -d cuda:N,M / cuda:all.
 * Returns how many started, each named in devices ("cpu", "cuda:1"); 0
 * after printing why when one could not start. */
static int start_contexts(const cli_options *opt, sagalux_model *model, sagalux_context **ctx,
                          char devices[][16])
{
    int gpus[CLI_MAX_GPUS], n = 0;
    if (opt->all_cuda_devices) {
        sagalux_device_info d[CLI_MAX_GPUS + 1];
        int found = sagalux_list_devices(d, CLI_MAX_GPUS + 1);
        for (int i = 0; i < found && i < CLI_MAX_GPUS + 1; i++)
            if (d[i].kind == SAGALUX_DEVICE_CUDA && n < CLI_MAX_GPUS) gpus[n++] = d[i].index;
        if (n == 0) {
            fprintf(stderr, "sagalux: -d cuda:all: no usable CUDA GPU (see --list-devices)\n");
            return 0;
        }
    } else if (opt->n_cuda_devices > 1) {
        for (int i = 0; i < opt->n_cuda_devices; i++) gpus[n++] = opt->cuda_devices[i];
    }
    int count = n ? n : 1;
    if (!n && opt->device == SAGALUX_DEVICE_AUTO && (ctx[0] = auto_gpu_context(opt, model))) {
        snprintf(devices[0], 16, "cuda:%d", opt->cuda_device);
        return 1;
    }
    for (int i = 0; i < count; i++) {
        sagalux_context_options co = sagalux_context_options_default();
        co.device = n ? SAGALUX_DEVICE_CUDA : opt->device == SAGALUX_DEVICE_AUTO ? SAGALUX_DEVICE_CPU : opt->device;
        co.threads = opt->threads;
        co.precision = opt->precision;
        co.cuda_device = n ? gpus[i] : opt->cuda_device;
        char err[512] = "";
        sagalux_status st = sagalux_context_create(model, &co, &ctx[i], err, sizeof err);
        if (st != SAGALUX_OK) {
            if (co.device == SAGALUX_DEVICE_CUDA)
                fprintf(stderr, "sagalux: cannot start the CUDA backend on cuda:%d: %s\n", co.cuda_device,
                        err[0] ? err : sagalux_status_string(st));
            else
                fprintf(stderr, "sagalux: cannot start the CPU backend: %s\n", err[0] ? err : sagalux_status_string(st));
            for (int k = 0; k < i; k++) sagalux_context_free(ctx[k]);
            return 0;
        }
        if (sagalux_context_device(ctx[i]) == SAGALUX_DEVICE_CUDA) snprintf(devices[i], 16, "cuda:%d", co.cuda_device);
        else snprintf(devices[i], 16, "cpu");
    }
    return count;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* a pipe or log file gets each line as it happens */
    cli_options opt;
    int parsed = cli_parse(argc, argv, &opt);
    if (parsed != CLI_RUN) return parsed == CLI_EXIT_OK ? 0 : 2;
    sagalux_set_log(log_to_stderr, &opt);
    int rc = run(&opt);
    /* The report is part of the result: lines that never reached stdout (a
     * full disk under a --json log, a closed pipe's reader) fail the run. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "sagalux: standard output: the report could not be written: %s\n", strerror(errno));
        if (rc == 0) rc = 1;
    }
    free((void *)opt.stdin_data);
    cli_options_free(&opt);
    return rc;
}

static int run(cli_options *opt_in)
{
    if (opt_in->list_devices) return list_devices();
    if (strcmp(opt_in->out_dir, "-") == 0 && isatty(STDOUT_FILENO)) {
        fprintf(stderr, "sagalux: -o - writes the image to standard output, which is a terminal; redirect it to a "
                        "file or a pipe (> bright.png)\n");
        return 2;
    }
    for (int i = 0; i < opt_in->n_inputs; i++)
        if (strcmp(opt_in->inputs[i], "-") == 0 && read_stdin(opt_in) != 0) return 1;
    const cli_options opt = *opt_in;
    const int to_stdout = strcmp(opt.out_dir, "-") == 0;

    file_list inputs = {.extensions = opt.extensions};
    struct stat out_sb; /* with -r, an output folder inside an input folder is not walked as input */
    if (!to_stdout && stat(opt.out_dir, &out_sb) == 0 && S_ISDIR(out_sb.st_mode))
        inputs.output_dir = (file_list_id){1, out_sb.st_dev, out_sb.st_ino};
    int failures = 0;
    for (int i = 0; i < opt.n_inputs; i++)
        failures += file_list_add_input(&inputs, opt.inputs[i], opt.recursive, opt.verbose);
    /* An input that could not be read gets its record now: the run may end
     * before any device is chosen. */
    const file_reporter list_reporter = {opt.json, opt.quiet, opt.verbose, to_stdout, NULL};
    for (size_t i = 0; i < inputs.n_failed; i++) {
        file_result r = {.input = inputs.failed[i], .status = "failed"};
        snprintf(r.error, sizeof r.error, "%s", inputs.failed_why[i]);
        file_report(&list_reporter, &r);
    }
    if ((inputs.skipped_files || inputs.skipped_folders || inputs.skipped_hidden) && !opt.quiet)
    {
        char hidden[96] = "";
        if (inputs.skipped_hidden)
            snprintf(hidden, sizeof hidden, ", and %d hidden file(s) or folder(s) (a name starting with a dot)",
                     inputs.skipped_hidden);
        fprintf(stderr, "sagalux: skipped %d file(s) that are not %s by name and %d subfolder(s)%s%s%s\n",
                inputs.skipped_files, opt.extensions ? "of the --ext list" : "PNG or JPEG", inputs.skipped_folders,
                inputs.skipped_folders ? " (-r enters them)" : "", hidden, opt.verbose ? "" : "; -v lists them");
    }
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
    made_dirs made = {0}; /* a run refused before any work leaves no new folder behind */
    if ((!to_stdout && output_dir_ready(opt.out_dir, &made) != 0) || output_plan_make(&plan, &opt, &inputs) != 0) {
        fprintf(stderr, "sagalux: nothing was processed\n");
        made_dirs_remove(&made);
        output_plan_free(&plan);
        file_list_free(&inputs);
        return 2;
    }

    char model_path[PATH_MAX], err[512];
    if (cli_find_model(&opt, model_path, sizeof model_path) != 0) {
        fprintf(stderr, "sagalux: no model found; pass one with -m FILE or set SAGALUX_MODEL\n");
        made_dirs_remove(&made);
        output_plan_free(&plan);
        file_list_free(&inputs);
        return 2;
    }
    sagalux_model *model = NULL;
    if (sagalux_model_load(model_path, &model, err, sizeof err) != SAGALUX_OK) {
        fprintf(stderr, "sagalux: %s\n", err);
        made_dirs_remove(&made);
        output_plan_free(&plan);
        file_list_free(&inputs);
        return 2;
    }
    if (!sagalux_model_is_trained(model))
        fprintf(stderr,
                "sagalux: warning: %s holds UNTRAINED weights (%s); its output is not an enhancement.\n"
                "sagalux: a trained model comes from train/ (see README.md)\n",
                model_path, sagalux_model_description(model));
    sagalux_context *contexts[CLI_MAX_GPUS] = {0};
    char devices[CLI_MAX_GPUS][16];
    int n_ctx = start_contexts(&opt, model, contexts, devices);
    if (n_ctx == 0) {
        sagalux_model_free(model);
        made_dirs_remove(&made);
        output_plan_free(&plan);
        file_list_free(&inputs);
        return 2;
    }
    made_dirs_free(&made);

    if (!to_stdout) remove_abandoned_temporaries_of_plan(&plan, opt.out_dir, opt.verbose);
    pipeline_worker workers[CLI_MAX_GPUS];
    for (int w = 0; w < n_ctx; w++) workers[w] = (pipeline_worker){contexts[w], devices[w]};
    const int on_gpu = sagalux_context_device(contexts[0]) == SAGALUX_DEVICE_CUDA;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int io = opt.io_threads ? opt.io_threads : on_gpu ? 2 * n_ctx : 1;
    if (!opt.io_threads && cores > 0 && io > cores) io = (int)cores;
    if (plan.count < (size_t)io) io = plan.count ? (int)plan.count : 1; /* no idle threads for a few files */
    const file_reporter reporter = {opt.json, opt.quiet, opt.verbose, to_stdout, devices[0]};
    for (int w = 0; w < n_ctx; w++) running[w] = contexts[w];
    catch_stop_signals();
    progress_on = !opt.quiet && isatty(STDERR_FILENO);
    const double started = job_now_seconds();
    pipeline_config pc = {&opt, &plan, workers, n_ctx, io, io, &stop_signal};
    pipeline *pipe = NULL;
    int done = 0, skipped = 0, not_processed = 0, disk_full = 0; /* and failures, above */
    double load_ms = 0, network_ms = 0, save_ms = 0, first_done = 0, last_done = 0; /* for -v's figures */
    if (pipeline_start(&pipe, &pc) != 0) {
        for (size_t i = 0; i < plan.count; i++) { /* each file gets its record */
            file_result r = {.input = plan.entries[i].input, .output = plan.entries[i].output, .status = "failed"};
            snprintf(r.error, sizeof r.error, "%.400s: not processed: the worker threads could not start",
                     plan.entries[i].input);
            file_report(&reporter, &r);
            failures++;
        }
    } else {
        /* In plan order, as each is finished; after a stop, the ones that
         * finished all the same (saved, failed or cancelled). */
        for (size_t i = 0; i < plan.count; i++) {
            if (!stop_signal && !pipeline_finished(pipe, i)) { /* the photo waited for */
                const char *name = plan.entries[i].input;
                pthread_mutex_lock(&say_lock);
                progress_draw(i, plan.count, strcmp(name, "-") ? name : "<stdin>", job_now_seconds() - started,
                              done + failures);
                pthread_mutex_unlock(&say_lock);
            }
            const job *j = pipeline_wait(pipe, i);
            if (!j) { /* stopped: once the threads are done, what finished is final */
                pipeline_join(pipe);
                j = pipeline_finished(pipe, i);
            }
            if (!j) { /* never started: its record says so */
                file_result r = {.input = plan.entries[i].input, .output = plan.entries[i].output,
                                 .status = "not processed"};
                not_processed++;
                if (opt.json) file_report(&reporter, &r);
                continue;
            }
            pthread_mutex_lock(&say_lock);
            progress_clear();
            char note[512];
            if (j->note[0]) fprintf(stderr, "sagalux: %s\n", file_report_text(j->note, note, sizeof note));
            file_report(&reporter, &j->r);
            pthread_mutex_unlock(&say_lock);
            if (!strcmp(j->r.status, "enhanced")) {
                done++;
                load_ms += j->load_ms, network_ms += j->network_ms, save_ms += j->save_ms;
                if (!first_done || j->finished_at < first_done) first_done = j->finished_at;
                if (j->finished_at > last_done) last_done = j->finished_at;
            }
            else if (!strcmp(j->r.status, "skipped")) skipped++;
            else if (!strcmp(j->r.status, "failed")) failures++;
            else not_processed++; /* interrupted */
        }
        pipeline_join(pipe);
        disk_full = pipeline_disk_full(pipe);
        pipeline_free(pipe);
    }
    const double elapsed = job_now_seconds() - started;
    for (int w = 0; w < n_ctx; w++) running[w] = NULL;
    progress_clear();
    if (!opt.quiet || failures || stop_signal)
        fprintf(stderr, "sagalux: %d enhanced, %d skipped (output exists), %d failed\n", done, skipped, failures);
    if (opt.verbose && done) {
        /* The rate from the first photo finished to the last leaves out the
         * start (the first photo's load and the network's warm-up): it is
         * the rate a long batch runs at. */
        char rate[64];
        fprintf(stderr, "sagalux: %d photo(s) in %.2f s: %s", done, elapsed, rate_text(rate, sizeof rate, done, elapsed));
        if (done > 1)
            fprintf(stderr, ", %s after the first", rate_text(rate, sizeof rate, done - 1, last_done - first_done));
        fprintf(stderr, "\nsagalux: per photo: load %.1f ms, network %.1f ms, save %.1f ms; %d decoding and %d "
                        "encoding thread(s); network on", load_ms / done, network_ms / done, save_ms / done, io, io);
        for (int w = 0; w < n_ctx; w++) fprintf(stderr, " %s", devices[w]);
        fprintf(stderr, "\n");
    }
    if (disk_full)
        fprintf(stderr, "sagalux: the disk holding %s is full: stopped; %zu photo(s) not processed\n",
                to_stdout ? "standard output" : opt.out_dir, (size_t)not_processed);
    if (stop_signal)
        fprintf(stderr, "sagalux: interrupted by %s: %zu file(s) not processed; --skip-existing resumes\n",
                stop_signal == SIGINT ? "SIGINT" : "SIGTERM", (size_t)not_processed);

    for (int w = 0; w < n_ctx; w++) sagalux_context_free(contexts[w]);
    sagalux_model_free(model);
    output_plan_free(&plan);
    file_list_free(&inputs);
    if (stop_signal) return 128 + stop_signal; /* 130 for SIGINT, 143 for SIGTERM */
    return failures ? 1 : 0;
}
