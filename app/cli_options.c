#define _XOPEN_SOURCE 700 /* realpath */
#include "cli_options.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SAGALUX_DEFAULT_MODEL
#define SAGALUX_DEFAULT_MODEL "assets/sagalux.sglx"
#endif

static void usage(FILE *to)
{
    fprintf(to,
            "usage: sagalux [options] INPUT... -o OUTDIR\n"
            "Brightens dark photos with a SAGA U-Net. INPUT is a PNG or JPEG file or a folder.\n"
            "\n"
            "  -o, --output DIR       write results here (created with its parents if missing)\n"
            "  -r, --recursive        enter subfolders; the tree is kept under the output folder\n"
            "  -m, --model FILE       model file (default: $SAGALUX_MODEL, then the shipped model)\n"
            "  -s, --strength S       0 = unchanged .. 1 = full enhancement (default 1)\n"
            "  -f, --format F         same | png | jpg (default: same as the input)\n"
            "  -q, --quality Q        JPEG quality 1..100 (default 92)\n"
            "  -b, --bit-depth B      PNG bit depth 8 or 16 (default: the input's)\n"
            "  -t, --threads N        CPU threads (default: all cores)\n"
            "  -d, --device D         auto | cpu | cuda (default auto)\n"
            "      --overwrite        replace existing output files (never an input)\n"
            "      --skip-existing    leave existing outputs alone and count them as skipped (resume a run)\n"
            "      --shard K/N        process only the K-th of N slices of the sorted input list (1 <= K <= N),\n"
            "                         so N machines or jobs split a large archive with no coordination\n"
            "      --quiet            print nothing on success\n"
            "  -v, --verbose          print library messages\n"
            "  -h, --help             this help\n"
            "      --version          print the version\n"
            "\n"
            "Inputs are never modified: a run whose outputs would replace an input, or in which two\n"
            "inputs would share an output, stops before any work.\n"
            "Exit status: 0 all files done or skipped, 1 some file failed, 2 bad arguments, model or output plan,\n"
            "130/143 stopped by SIGINT/SIGTERM (after the file in hand; --skip-existing resumes).\n");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

/* The option's value: "--opt=value", or the next argument. */
static const char *value_of(int argc, char **argv, int *i, const char *eq)
{
    if (eq) return eq + 1;
    if (*i + 1 >= argc) return NULL;
    return argv[++*i];
}

static int is(const char *arg, size_t len, const char *s, const char *l)
{
    return (s && strlen(s) == len && strncmp(arg, s, len) == 0) || (l && strlen(l) == len && strncmp(arg, l, len) == 0);
}

void cli_options_free(cli_options *opt)
{
    free(opt->inputs);
    opt->inputs = NULL;
}

static int parse_args(int argc, char **argv, cli_options *opt);

int cli_parse(int argc, char **argv, cli_options *opt)
{
    int rc = parse_args(argc, argv, opt);
    if (rc != CLI_RUN) cli_options_free(opt);
    return rc;
}

static int parse_args(int argc, char **argv, cli_options *opt)
{
    *opt = (cli_options){.strength = 1.0f, .jpeg_quality = 92, .device = SAGALUX_DEVICE_AUTO};
    opt->inputs = calloc((size_t)argc, sizeof(char *));
    if (!opt->inputs) return CLI_EXIT_USAGE;
    int only_inputs = 0;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (only_inputs || arg[0] != '-' || arg[1] == 0) {
            opt->inputs[opt->n_inputs++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_inputs = 1;
            continue;
        }
        const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        const char *v;
#define NEED_VALUE() \
    if (!(v = value_of(argc, argv, &i, eq))) { fprintf(stderr, "sagalux: %s needs a value\n", arg); return CLI_EXIT_USAGE; }
#define BAD_VALUE(what) \
    do { fprintf(stderr, "sagalux: %s: %s\n", arg, what); return CLI_EXIT_USAGE; } while (0)
        if (is(arg, len, "-h", "--help")) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (is(arg, len, NULL, "--version")) {
            printf("sagalux %s\n", SAGALUX_VERSION_STRING);
            return CLI_EXIT_OK;
        } else if (is(arg, len, "-o", "--output")) {
            NEED_VALUE();
            opt->out_dir = v;
        } else if (is(arg, len, "-m", "--model")) {
            NEED_VALUE();
            opt->model_path = v;
        } else if (is(arg, len, "-s", "--strength")) {
            NEED_VALUE();
            char *end;
            opt->strength = strtof(v, &end);
            if (!*v || *end || !(opt->strength >= 0.0f && opt->strength <= 1.0f)) BAD_VALUE("strength must be in 0..1");
        } else if (is(arg, len, "-f", "--format")) {
            NEED_VALUE();
            if (strcmp(v, "same") && strcmp(v, "png") && strcmp(v, "jpg") && strcmp(v, "jpeg"))
                BAD_VALUE("format must be same, png or jpg");
            opt->format = v;
        } else if (is(arg, len, "-q", "--quality")) {
            NEED_VALUE();
            if (parse_int(v, 1, 100, &opt->jpeg_quality)) BAD_VALUE("quality must be 1..100");
        } else if (is(arg, len, "-b", "--bit-depth")) {
            NEED_VALUE();
            if (parse_int(v, 8, 16, &opt->png_bit_depth) || (opt->png_bit_depth != 8 && opt->png_bit_depth != 16))
                BAD_VALUE("bit depth must be 8 or 16");
        } else if (is(arg, len, "-t", "--threads")) {
            NEED_VALUE();
            if (parse_int(v, 1, 1024, &opt->threads)) BAD_VALUE("threads must be 1..1024");
        } else if (is(arg, len, "-d", "--device")) {
            NEED_VALUE();
            if (!strcmp(v, "auto")) opt->device = SAGALUX_DEVICE_AUTO;
            else if (!strcmp(v, "cpu")) opt->device = SAGALUX_DEVICE_CPU;
            else if (!strcmp(v, "cuda")) opt->device = SAGALUX_DEVICE_CUDA;
            else BAD_VALUE("device must be auto, cpu or cuda");
        } else if (eq && (is(arg, len, NULL, "--overwrite") || is(arg, len, NULL, "--skip-existing") ||
                          is(arg, len, NULL, "--quiet") || is(arg, len, NULL, "--verbose") ||
                          is(arg, len, NULL, "--recursive"))) {
            fprintf(stderr, "sagalux: %.*s takes no value\n", (int)len, arg);
            return CLI_EXIT_USAGE;
        } else if (is(arg, len, NULL, "--shard")) {
            NEED_VALUE();
            char *end;
            long k = strtol(v, &end, 10), n = *end == '/' ? strtol(end + 1, &end, 10) : 0;
            if (*end || k < 1 || n < 1 || k > n || n > 1000000) BAD_VALUE("shard must be K/N with 1 <= K <= N");
            opt->shard_k = (int)k;
            opt->shard_n = (int)n;
        } else if (is(arg, len, NULL, "--overwrite")) {
            opt->overwrite = 1;
        } else if (is(arg, len, "-r", "--recursive")) {
            opt->recursive = 1;
        } else if (is(arg, len, NULL, "--skip-existing")) {
            opt->skip_existing = 1;
        } else if (is(arg, len, NULL, "--quiet")) {
            opt->quiet = 1;
        } else if (is(arg, len, "-v", "--verbose")) {
            opt->verbose = 1;
        } else {
            fprintf(stderr, "sagalux: unknown option %s (see --help)\n", arg);
            return CLI_EXIT_USAGE;
        }
    }
    if (opt->overwrite && opt->skip_existing) {
        fprintf(stderr, "sagalux: --overwrite and --skip-existing contradict each other\n");
        return CLI_EXIT_USAGE;
    }
    if (opt->n_inputs == 0 || !opt->out_dir) {
        fprintf(stderr, "sagalux: %s\n", opt->n_inputs ? "no output folder (-o DIR)" : "no input files");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    return CLI_RUN;
}

static int readable(const char *path) { return access(path, R_OK) == 0; }

int cli_find_model(const cli_options *opt, char *path, size_t size)
{
    const char *env = getenv("SAGALUX_MODEL");
    const char *choice = opt->model_path ? opt->model_path : (env && *env) ? env : NULL;
    if (choice) {
        /* An explicit choice is used as given; its loader reports any problem. */
        return snprintf(path, size, "%s", choice) < (int)size ? 0 : -1;
    }
    /* Beside the executable (build tree: build/app/sagalux -> ../../assets),
     * then the installed share folder, then the source tree. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        static const char *const rel[] = {"/../../assets/sagalux.sglx", "/../assets/sagalux.sglx",
                                          "/../share/sagalux/sagalux.sglx"};
        for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
            char joined[PATH_MAX + 64], *resolved;
            snprintf(joined, sizeof joined, "%s%s", exe, rel[i]);
            if (readable(joined) && (resolved = realpath(joined, NULL))) {
                int fits = snprintf(path, size, "%s", resolved) < (int)size;
                free(resolved);
                if (fits) return 0;
            }
        }
    }
    if (snprintf(path, size, "%s", SAGALUX_DEFAULT_MODEL) < (int)size && readable(path)) return 0;
    return -1;
}
