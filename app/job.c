#define _XOPEN_SOURCE 700 /* PATH_MAX */
#include "job.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "output_plan.h"

double job_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define FAIL(...) (snprintf(j->r.error, sizeof j->r.error, __VA_ARGS__), j->r.status = "failed")

static int is_dash(const char *s) { return s && strcmp(s, "-") == 0; }

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

/* Whether the output was made by someone else since the plan looked (a
 * second run on the same folder): 1 after filling in the result (skipped,
 * or failed without --overwrite), so the photo is not worked on twice. */
static int output_appeared(job *j, const cli_options *opt)
{
    struct stat sb;
    if (opt->overwrite || is_dash(j->r.output) || lstat(j->r.output, &sb) != 0) return 0;
    if (opt->skip_existing) j->r.status = "skipped";
    else FAIL("%s: output %s appeared after the run planned its outputs; it was not replaced (--overwrite replaces it)",
              j->r.input, j->r.output);
    return 1;
}


/* "14.2 GB", "310.5 MB". */
static void size_text(char *out, size_t n, uint64_t bytes)
{
    if (bytes >= 1000000000u) snprintf(out, n, "%.1f GB", (double)bytes / 1e9);
    else snprintf(out, n, "%.1f MB", (double)bytes / 1e6);
}

/* What the network's context holds on the host between photos (its arena
 * and padded copies), which the next photo's enhance frees or reuses:
 * counted as room by the check before decoding. With several GPUs, the last
 * one's (their host part is the padded copies alone). */
static _Atomic uint64_t network_holds;

/* Refuses a photo before decoding it when its header says that decoding and
 * enhancing it need more memory than the process may take: the decode alone
 * of a 144-megapixel photo is 3.5 GB. A header that does not read is left
 * to the decoder, which says why. 0: go on; -1: failed. */
static int check_memory(job *j, const cli_options *opt, const sagalux_context *ctx)
{
    int w, h;
    const int from_stdin = is_dash(j->r.input);
    sagalux_status st = from_stdin ? sagalux_image_probe_memory(opt->stdin_data, opt->stdin_size, "<stdin>", &w, &h,
                                                                NULL, 0)
                                   : sagalux_image_probe(j->r.input, &w, &h, NULL, 0);
    uint64_t enhance;
    if (st != SAGALUX_OK || sagalux_context_memory_need(ctx, w, h, &enhance) != SAGALUX_OK) return 0;
    struct stat sb;
    uint64_t file = from_stdin ? 0 : stat(j->r.input, &sb) == 0 ? (uint64_t)sb.st_size : 0; /* read whole */
    uint64_t need = file + sagalux_image_decode_bytes(w, h) + enhance, available = sagalux_memory_available();
    uint64_t reusable = atomic_load(&network_holds);
    /* The decode happens while the photo before may still hold the
     * network's memory: it must fit in what is free now. (Loaders deciding
     * at the same moment each see the same room; the library's own check
     * before the network allocates is the exact one.) */
    const uint64_t decode = file + sagalux_image_decode_bytes(w, h);
    if (available == UINT64_MAX || (decode <= available && need <= available + reusable)) return 0;
    char a[32], b[32];
    size_text(a, sizeof a, need);
    size_text(b, sizeof b, available + reusable);
    FAIL("%s: %dx%d: needs %s to decode and enhance, %s available", from_stdin ? "<stdin>" : j->r.input, w, h, a, b);
    return -1;
}

/* Claims the output among the runs that share its folder, so two runs
 * started together on one folder do each photo once: a photo another run is
 * working on is skipped (--skip-existing) or fails at once, before any work
 * (its final move would refuse anyway). With --overwrite every run writes,
 * as asked. 0: go on (claimed, or no claim can be made there: the final
 * move still replaces nothing); -1: finished. */
static int claim_output(job *j, const cli_options *opt)
{
    if (opt->overwrite || is_dash(j->r.output)) return 0;
    if (sagalux_claim_output(j->r.output, &j->claim) != SAGALUX_ERR_EXISTS) return 0;
    if (opt->skip_existing) j->r.status = "skipped";
    else FAIL("%s: another run is writing its output %s now; it was not replaced (--skip-existing skips such photos)",
              j->r.input, j->r.output);
    return -1;
}

int job_load(job *j, const cli_options *opt, const sagalux_context *ctx)
{
    const double t0 = job_now_seconds();
    char err[512];
    const char *slash = strrchr(j->r.output, '/');
    if (slash && !is_dash(j->r.output)) { /* a subfolder of the output folder (-r, --name) */
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - j->r.output), j->r.output);
        /* Looked at before the folders are made (mkdir would make them
         * through a link) and after (one could be swapped in between). */
        char bad[PATH_MAX];
        int real = output_subfolders_real(opt->out_dir, j->r.output, bad, sizeof bad);
        if (real && make_dirs(dir, NULL) != 0) {
            FAIL("%.200s: cannot create %.200s: %s", j->r.input, dir, strerror(errno));
            return -1;
        }
        if (!real || !output_subfolders_real(opt->out_dir, j->r.output, bad, sizeof bad)) {
            FAIL("%.200s: %.200s is a link, not a folder: not followed (someone sharing the output folder may have "
                 "put it there)", j->r.input, bad);
            return -1;
        }
    }
    if (claim_output(j, opt) != 0 || output_appeared(j, opt) || check_memory(j, opt, ctx) != 0) {
        job_release(j);
        return -1;
    }
    sagalux_status st = is_dash(j->r.input)
                            ? sagalux_image_load_memory(opt->stdin_data, opt->stdin_size, "<stdin>", &j->img, err,
                                                        sizeof err)
                            : sagalux_image_load(j->r.input, &j->img, err, sizeof err);
    if (st != SAGALUX_OK) {
        FAIL("%s", err);
        return -1;
    }
    if (!opt->keep_orientation && (st = sagalux_image_apply_orientation(j->img)) != SAGALUX_OK) {
        FAIL("%s: cannot turn the image upright: %s", j->r.input, sagalux_status_string(st));
        job_release(j);
        return -1;
    }
    j->source_format = j->img->source_format;
    j->r.width = j->img->width;
    j->r.height = j->img->height;
    j->load_ms = (job_now_seconds() - t0) * 1e3;
    j->r.ms += j->load_ms;
    return 0;
}

int job_enhance(job *j, sagalux_context *ctx, const char *device, float strength)
{
    const double t0 = job_now_seconds();
    j->r.device = device;
    sagalux_enhance_options eo = sagalux_enhance_options_default();
    eo.strength = strength;
    sagalux_status st = sagalux_enhance(ctx, j->img, &eo, &j->res);
    j->network_ms = (job_now_seconds() - t0) * 1e3;
    atomic_store(&network_holds, (uint64_t)(sagalux_context_peak_bytes(ctx) - sagalux_context_device_bytes(ctx)));
    j->r.ms += j->network_ms;
    if (st == SAGALUX_OK) {
        sagalux_image_free(j->img); /* the result holds its metadata: one photo less in memory */
        j->img = NULL;
        return 0;
    }
    if (st == SAGALUX_ERR_CANCELLED) {
        j->r.status = "interrupted";
    } else {
        const char *why = sagalux_context_error(ctx);
        FAIL("%s: enhance failed: %s", is_dash(j->r.input) ? "<stdin>" : j->r.input,
             why[0] ? why : sagalux_status_string(st));
    }
    job_release(j);
    return -1;
}

void job_save(job *j, const cli_options *opt)
{
    const double t0 = job_now_seconds();
    char err[512];
    const int to_stdout = is_dash(j->r.output);
    sagalux_file_format fmt =
        !to_stdout ? sagalux_format_from_name(j->r.output)
        : opt->format && strcmp(opt->format, "same") ? (strcmp(opt->format, "png") ? SAGALUX_FORMAT_JPEG
                                                                                   : SAGALUX_FORMAT_PNG)
                                                     : j->source_format;
    if (opt->strip) sagalux_image_strip(j->res); /* the ICC profile and density stay */
    sagalux_save_options so = sagalux_save_options_default(fmt);
    so.jpeg_quality = opt->jpeg_quality;
    so.jpeg_subsampling = opt->jpeg_subsampling;
    so.png_bit_depth = opt->png_bit_depth;
    so.replace = opt->overwrite; /* else the final move refuses whatever is there by then */
    if (so.format == SAGALUX_FORMAT_JPEG && j->res->alpha)
        snprintf(j->note, sizeof j->note, "%.200s: JPEG has no alpha channel; transparency is dropped", j->r.input);
    if (to_stdout) {
        void *data = NULL;
        size_t size = 0;
        if (sagalux_image_save_memory(j->res, &so, "<stdout>", &data, &size, err, sizeof err) != SAGALUX_OK)
            FAIL("%s", err);
        else if (write_stdout(data, size) != 0) {
            const int e = errno; /* before FAIL's snprintf can change it */
            FAIL("<stdout>: write failed: %s", strerror(e));
            j->disk_full = e == ENOSPC || e == EDQUOT;
        }
        free(data);
    } else {
        sagalux_status st = sagalux_image_save(j->res, j->r.output, &so, err, sizeof err);
        if (st == SAGALUX_ERR_EXISTS && opt->skip_existing)
            j->r.status = "skipped"; /* another run wrote it while this one worked: its file stays */
        else if (st == SAGALUX_ERR_EXISTS)
            FAIL("%s: output %s appeared while the photo was enhanced; it was not replaced (--overwrite replaces it)",
                 j->r.input, j->r.output);
        else if (st != SAGALUX_OK)
            FAIL("%s", err), j->disk_full = st == SAGALUX_ERR_NO_SPACE;
    }
    if (!j->r.status) j->r.status = "enhanced";
    j->save_ms = (job_now_seconds() - t0) * 1e3;
    j->r.ms += j->save_ms;
    job_release(j);
}

void job_release(job *j)
{
    sagalux_claim_release(j->claim); /* after the save, or when the photo goes no further */
    j->claim = NULL;
    sagalux_image_free(j->img);
    sagalux_image_free(j->res);
    j->img = j->res = NULL;
}
