#define _XOPEN_SOURCE 700 /* realpath */
#include "cli_options.h"
#include "file_list.h"
#include "name_template.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SAGALUX_DEFAULT_MODEL
#define SAGALUX_DEFAULT_MODEL "assets/sagalux.sglx"
#endif

/* Every option, once: --help and the man page (--help-man, docs/sagalux.1)
 * are both printed from this table. */
typedef struct option_doc {
    const char *short_name, *long_name, *value, *help;
} option_doc;

static const option_doc OPTIONS[] = {
    {"-o", "--output", "DIR", "write results here (created with its parents if missing); - writes the one result to "
                              "standard output"},
    {"-r", "--recursive", NULL, "enter subfolders; the tree is kept under the output folder"},
    {NULL, "--ext", "LIST", "take only these extensions from folders, e.g. jpg,jpeg (default: png, jpg, jpeg, jpe, "
                            "jfif; any case); files named directly are always taken"},
    {NULL, "--name", "TEMPLATE", "output path under DIR: %d the input's subfolder (with -r), %f its base name, %e the "
                                 "extension, %% a percent sign (default %d/%f.%e); the extension picks the format"},
    {NULL, "--suffix", "TEXT", "added to each base name (%f), e.g. _bright"},
    {NULL, "--keep-orientation", NULL, "keep the pixels as stored and the EXIF orientation tag (default: turn them "
                                       "upright and set the tag to 1)"},
    {NULL, "--strip", NULL, "write no EXIF, XMP, IPTC or text (the ICC colour profile and the DPI are kept); by "
                            "default all are carried, the EXIF thumbnail made anew from the result"},
    {"-m", "--model", "FILE", "model file (default: $SAGALUX_MODEL, then the shipped model)"},
    {"-s", "--strength", "S", "0 = unchanged .. 1 = full enhancement (default 1)"},
    {"-f", "--format", "F", "same | png | jpg (default: same as the input)"},
    {"-Q", "--quality", "Q", "JPEG quality 1..100 (default 92)"},
    {NULL, "--subsampling", "S", "JPEG chroma subsampling 444 | 422 | 420 (default 420)"},
    {"-b", "--bit-depth", "B", "PNG bit depth 8 or 16 (default: the input's)"},
    {"-t", "--threads", "N", "CPU threads (default: all cores)"},
    {"-d", "--device", "D", "auto | cpu | cuda | cuda:N | cuda:N,M,... | cuda:all (default auto: the first GPU, "
                            "else the CPU); several GPUs share one queue of photos, one network on each (a GPU "
                            "named twice runs two)"},
    {NULL, "--precision", "P", "fp16 | fp32: the GPU's arithmetic (default fp16: tensor cores, every sum in fp32; "
                               "fp32 to check it; the CPU is always fp32)"},
    {NULL, "--io-threads", "N", "decoding threads and encoding threads, N of each (default: 1 on the CPU, 2 per "
                                "GPU), so reading and writing overlap the network"},
    {NULL, "--list-devices", NULL, "list the CPU and the GPUs this build can use, and exit"},
    {NULL, "--overwrite", NULL, "replace existing output files (never an input)"},
    {NULL, "--skip-existing", NULL, "leave existing outputs alone and count them as skipped (resume a run)"},
    {NULL, "--shard", "K/N", "process only the K-th of N slices of the sorted input list (1 <= K <= N), so N machines "
                             "or jobs split a large archive with no coordination"},
    {NULL, "--json", NULL, "one JSON object per input on standard output (input, output, status, error, ms, width, "
                           "height, device; input_hex and output_hex where a name is not UTF-8) instead of the text "
                           "lines"},
    {"-q", "--quiet", NULL, "print nothing on success"},
    {"-v", "--verbose", NULL, "print library messages, skipped files (hidden ones too) and the rate"},
    {"-h", "--help", NULL, "this help"},
    {NULL, "--version", NULL, "print the version"},
};

static const char SYNOPSIS[] = "sagalux [options] INPUT... -o DIR";
static const char DESCRIPTION[] =
    "Brightens dark photos with a SAGA U-Net. INPUT is a PNG or JPEG file, a folder (its PNG and JPEG files, "
    "sorted by name; hidden files and folders, whose name starts with a dot, are skipped and counted), or - for one "
    "image on standard input.";
static const char PROMISE[] =
    "Inputs are never modified: a run whose outputs would replace an input, or in which two inputs would share "
    "an output, stops before any work. Each output is written to a temporary file (unnamed where the file system "
    "allows, else a new, randomly named .sagalux-*.tmp) and moved into place without replacing anything unless "
    "--overwrite is given, also a file that appeared during the run. Only temporaries that killed runs left are "
    "ever removed. With -r, an output folder inside the input tree is not read as input.";
static const char EXIT_STATUS[] =
    "0 all files done or skipped, 1 some file failed, 2 bad arguments, model or output plan, 130/143 stopped by "
    "SIGINT/SIGTERM (after the file in hand; --skip-existing resumes).";

/* text word-wrapped to width columns, each line after the first indented by indent. */
static void print_wrapped(FILE *to, const char *text, int col, int indent, int width)
{
    while (*text) {
        size_t word = strcspn(text, " ");
        if (col > indent && col + 1 + (int)word > width) {
            fprintf(to, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', to);
            col++;
        }
        fprintf(to, "%.*s", (int)word, text);
        col += (int)word;
        text += word;
        while (*text == ' ') text++;
    }
    fputc('\n', to);
}

static void usage(FILE *to)
{
    fprintf(to, "usage: %s\n", SYNOPSIS);
    print_wrapped(to, DESCRIPTION, 0, 0, 100);
    fputc('\n', to);
    for (size_t i = 0; i < sizeof OPTIONS / sizeof *OPTIONS; i++) {
        const option_doc *o = &OPTIONS[i];
        char head[64];
        snprintf(head, sizeof head, "  %s%s%s%s%s", o->short_name ? o->short_name : "    ", o->short_name ? ", " : "",
                 o->long_name, o->value ? " " : "", o->value ? o->value : "");
        fprintf(to, "%-27s", head);
        print_wrapped(to, o->help, strlen(head) < 27 ? 27 : (int)strlen(head), 27, 100);
    }
    fputc('\n', to);
    print_wrapped(to, PROMISE, 0, 0, 100);
    fputs("Exit status:", to);
    print_wrapped(to, EXIT_STATUS, 12, 0, 100);
}

/* roff text: a backslash doubled, a leading dot or quote escaped, '-' as \-. */
static void roff(FILE *to, const char *text)
{
    if (*text == '.' || *text == '\'') fputs("\\&", to);
    for (; *text; text++) {
        if (*text == '\\') fputs("\\\\", to);
        else if (*text == '-') fputs("\\-", to);
        else fputc(*text, to);
    }
}

/* s in a font (\\fB bold, \\fI italic), then back to roman. */
static void roff_in(FILE *to, const char *font, const char *s)
{
    fputs(font, to);
    roff(to, s);
    fputs("\\fR", to);
}

/* The man page, from the same table as --help (docs/sagalux.1 is this output). */
static void man_page(FILE *to)
{
    fprintf(to, ".TH SAGALUX 1 \"\" \"sagalux %s\" \"User Commands\"\n.SH NAME\nsagalux \\- brighten dark photos with "
                "a neural network\n.SH SYNOPSIS\n.B sagalux\n[\\fIoptions\\fR] \\fIINPUT\\fR... \\fB\\-o\\fR "
                "\\fIDIR\\fR\n.SH DESCRIPTION\n",
            SAGALUX_VERSION_STRING);
    roff(to, DESCRIPTION);
    fputs("\n.PP\n", to);
    roff(to, PROMISE);
    fputs("\n.SH OPTIONS\n", to);
    for (size_t i = 0; i < sizeof OPTIONS / sizeof *OPTIONS; i++) {
        const option_doc *o = &OPTIONS[i];
        fputs(".TP\n", to);
        if (o->short_name) {
            roff_in(to, "\\fB", o->short_name);
            fputs(", ", to);
        }
        roff_in(to, "\\fB", o->long_name);
        if (o->value) {
            fputc(' ', to);
            roff_in(to, "\\fI", o->value);
        }
        fputc('\n', to);
        roff(to, o->help);
        fputc('\n', to);
    }
    fputs(".SH EXIT STATUS\n", to);
    roff(to, EXIT_STATUS);
    fputs("\n.SH EXAMPLES\n.nf\nsagalux \\-r photos/ \\-o bright/ \\-\\-skip\\-existing\nsagalux \\-\\-json dark.jpg "
          "\\-o out/ | jq .status\nsagalux \\- \\-o \\- \\-f png < dark.jpg > bright.png\nsagalux \\-\\-shard "
          "3/8 archive/ \\-r \\-o bright/\n.fi\n.SH SEE ALSO\nsagalux\\-view(1); docs/cli.md in the source tree.\n",
          to);
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
    free(opt->args);
    opt->args = NULL;
    free(opt->arg_pool);
    opt->arg_pool = NULL;
    free(opt->out_dir_tidy);
    opt->out_dir_tidy = NULL;
}

/* The table's entry for a short or long option name (len bytes of name), or NULL. */
static const option_doc *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof OPTIONS / sizeof *OPTIONS; i++) {
        const option_doc *o = &OPTIONS[i];
        if ((o->short_name && strlen(o->short_name) == len && !strncmp(name, o->short_name, len)) ||
            (strlen(o->long_name) == len && !strncmp(name, o->long_name, len)))
            return o;
    }
    return NULL;
}

/* argv with short options taken apart as getopt does: "-rq" is "-r -q",
 * "-t1" is "-t 1", "-rt1" is "-r -t 1". An option's value and everything
 * after "--" stay as given. Into opt->args (count in *out_argc); -1 when out
 * of memory. */
static int split_short_options(int argc, char **argv, cli_options *opt, int *out_argc)
{
    size_t pool_size = 1;
    for (int i = 1; i < argc; i++) pool_size += 3 * strlen(argv[i]);
    opt->arg_pool = malloc(pool_size);
    int cap = 1;
    for (int i = 1; i < argc; i++) cap += (int)strlen(argv[i]) + 1;
    opt->args = calloc((size_t)cap, sizeof *opt->args);
    if (!opt->arg_pool || !opt->args) return -1;
    char *pool = opt->arg_pool;
    int n = 0, verbatim = 0, value_next = 0;
    opt->args[n++] = argv[0];
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (verbatim || value_next || arg[0] != '-' || arg[1] == 0) {
            value_next = 0;
            opt->args[n++] = arg;
            continue;
        }
        if (arg[1] == '-') {
            verbatim = arg[2] == 0;
            const char *eq = strchr(arg, '=');
            const option_doc *o = find_option(arg, eq ? (size_t)(eq - arg) : strlen(arg));
            value_next = o && o->value && !eq;
            opt->args[n++] = arg;
            continue;
        }
        for (char *c = arg + 1; *c; c++) {
            char *one = pool;
            pool += 3;
            one[0] = '-', one[1] = *c, one[2] = 0;
            opt->args[n++] = one;
            const option_doc *o = find_option(one, 2);
            if (!o) break; /* an unknown option, named on its own */
            if (o->value) {
                if (c[1]) opt->args[n++] = c + 1;
                else value_next = 1;
                break;
            }
        }
    }
    *out_argc = n;
    return 0;
}

static int parse_args(int argc, char **argv, cli_options *opt);

int cli_parse(int argc, char **argv, cli_options *opt)
{
    int rc = parse_args(argc, argv, opt);
    if (rc != CLI_RUN) cli_options_free(opt);
    return rc;
}

/* "0,1,3" into opt->cuda_devices: 0, or -1 when malformed. A GPU named
 * twice gets two networks (its copies and host work then overlap). */
static int parse_device_list(const char *v, cli_options *opt)
{
    opt->n_cuda_devices = 0;
    for (const char *p = v;;) {
        const char *comma = strchr(p, ',');
        char one[8];
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        int d;
        if (n == 0 || n >= sizeof one || opt->n_cuda_devices == CLI_MAX_GPUS) return -1;
        memcpy(one, p, n);
        one[n] = 0;
        if (parse_int(one, 0, 255, &d)) return -1;
        opt->cuda_devices[opt->n_cuda_devices++] = d;
        if (!comma) break;
        p = comma + 1;
    }
    opt->cuda_device = opt->cuda_devices[0];
    return 0;
}

static int parse_args(int given_argc, char **given_argv, cli_options *opt)
{
    *opt = (cli_options){.strength = 1.0f, .jpeg_quality = 92, .device = SAGALUX_DEVICE_AUTO,
                         .precision = SAGALUX_PRECISION_FP16};
    int argc;
    if (split_short_options(given_argc, given_argv, opt, &argc) != 0) return CLI_EXIT_USAGE;
    char **argv = opt->args;
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
        } else if (is(arg, len, NULL, "--help-man")) { /* not in the table: it writes docs/sagalux.1 */
            man_page(stdout);
            return CLI_EXIT_OK;
        } else if (is(arg, len, NULL, "--version")) {
            printf("sagalux %s\n", SAGALUX_VERSION_STRING);
            return CLI_EXIT_OK;
        } else if (is(arg, len, "-o", "--output")) {
            NEED_VALUE();
            if (opt->out_dir) {
                fprintf(stderr, "sagalux: -o is given twice (%s and %s); one run writes into one folder\n",
                        opt->out_dir, v);
                return CLI_EXIT_USAGE;
            }
            if (!*v) BAD_VALUE("the output folder name is empty");
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
        } else if (is(arg, len, "-Q", "--quality")) {
            NEED_VALUE();
            if (parse_int(v, 1, 100, &opt->jpeg_quality)) BAD_VALUE("quality must be 1..100");
        } else if (is(arg, len, NULL, "--subsampling")) {
            NEED_VALUE();
            if (parse_int(v, 420, 444, &opt->jpeg_subsampling) ||
                (opt->jpeg_subsampling != 420 && opt->jpeg_subsampling != 422 && opt->jpeg_subsampling != 444))
                BAD_VALUE("subsampling must be 444, 422 or 420");
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
            else if (!strcmp(v, "cuda:all")) opt->device = SAGALUX_DEVICE_CUDA, opt->all_cuda_devices = 1;
            else if (!strncmp(v, "cuda:", 5) && parse_device_list(v + 5, opt) == 0) opt->device = SAGALUX_DEVICE_CUDA;
            else BAD_VALUE("device must be auto, cpu, cuda, cuda:N, cuda:N,M,... or cuda:all");
        } else if (is(arg, len, NULL, "--precision")) {
            NEED_VALUE();
            if (!strcmp(v, "fp16")) opt->precision = SAGALUX_PRECISION_FP16;
            else if (!strcmp(v, "fp32")) opt->precision = SAGALUX_PRECISION_FP32;
            else BAD_VALUE("precision must be fp16 or fp32");
        } else if (is(arg, len, NULL, "--io-threads")) {
            NEED_VALUE();
            if (parse_int(v, 1, 64, &opt->io_threads)) BAD_VALUE("io-threads must be 1..64");
        } else if (is(arg, len, NULL, "--name")) {
            NEED_VALUE();
            char why[128];
            if (name_template_check(v, why, sizeof why) != 0) BAD_VALUE(why);
            opt->name_template = v;
        } else if (is(arg, len, NULL, "--ext")) {
            NEED_VALUE();
            if (!file_list_extensions_valid(v)) BAD_VALUE("--ext takes PNG/JPEG extensions: png,jpg,jpeg,jpe,jfif");
            opt->extensions = v;
        } else if (is(arg, len, NULL, "--suffix")) {
            NEED_VALUE();
            if (strchr(v, '/')) BAD_VALUE("the suffix cannot hold a /");
            opt->suffix = v;
        } else if (eq && (is(arg, len, NULL, "--overwrite") || is(arg, len, NULL, "--skip-existing") ||
                          is(arg, len, NULL, "--quiet") || is(arg, len, NULL, "--verbose") ||
                          is(arg, len, NULL, "--recursive") || is(arg, len, NULL, "--json") ||
                          is(arg, len, NULL, "--list-devices") || is(arg, len, NULL, "--keep-orientation") ||
                          is(arg, len, NULL, "--strip"))) {
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
        } else if (is(arg, len, NULL, "--keep-orientation")) {
            opt->keep_orientation = 1;
        } else if (is(arg, len, NULL, "--strip")) {
            opt->strip = 1;
        } else if (is(arg, len, NULL, "--json")) {
            opt->json = 1;
        } else if (is(arg, len, NULL, "--list-devices")) {
            opt->list_devices = 1;
        } else if (is(arg, len, "-q", "--quiet")) {
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
    if (opt->list_devices) return CLI_RUN; /* needs no inputs */
    int stdin_inputs = 0;
    for (int k = 0; k < opt->n_inputs; k++) stdin_inputs += strcmp(opt->inputs[k], "-") == 0;
    if (stdin_inputs > 1) {
        fprintf(stderr, "sagalux: - (standard input) can be given once\n");
        return CLI_EXIT_USAGE;
    }
    if (opt->out_dir && strcmp(opt->out_dir, "-") == 0) {
        if (opt->json) {
            fprintf(stderr, "sagalux: --json and -o - both write to standard output; choose one\n");
            return CLI_EXIT_USAGE;
        }
        if (opt->name_template || opt->suffix || opt->recursive) {
            fprintf(stderr, "sagalux: -o - writes one image to standard output; --name, --suffix and -r name files\n");
            return CLI_EXIT_USAGE;
        }
    }
    if (opt->out_dir && strcmp(opt->out_dir, "-") != 0) { /* printed in every output path: tidy */
        if (!(opt->out_dir_tidy = malloc(strlen(opt->out_dir) + 3))) return CLI_EXIT_USAGE;
        strcpy(opt->out_dir_tidy, opt->out_dir);
        file_list_tidy_path(opt->out_dir_tidy);
        opt->out_dir = opt->out_dir_tidy;
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
