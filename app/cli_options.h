/* Command-line options of the sagalux tool. */
#ifndef SAGALUX_CLI_OPTIONS_H
#define SAGALUX_CLI_OPTIONS_H

#include <stddef.h>

#include "sagalux.h"

enum { CLI_MAX_GPUS = 16 };

typedef struct cli_options {
    const char *out_dir;
    const char *model_path;    /* NULL: find the default */
    const char *format;        /* NULL or "same": keep the input's; "png"; "jpg" */
    float strength;
    int threads;
    int jpeg_quality;
    int jpeg_subsampling;      /* 0: the library's default (420) */
    int png_bit_depth;         /* 0: keep the input's depth */
    int overwrite;
    int skip_existing;
    int recursive;             /* -r: enter subfolders, keep the tree under out_dir */
    const char *extensions;    /* --ext: folders give only these (comma-separated); NULL: all PNG/JPEG */
    int shard_k, shard_n;      /* --shard K/N; 0/0 when not given */
    int quiet, verbose;
    int json;                  /* --json: one object per file on stdout */
    int keep_orientation;      /* leave pixels as stored, EXIF orientation kept */
    int strip;                 /* write no EXIF */
    int list_devices;
    const char *name_template; /* --name: NULL means "%d/%f.%e" */
    const char *suffix;        /* --suffix: added to %f; NULL means none */
    sagalux_device device;
    int cuda_device;           /* -d cuda:N: the first GPU named */
    int cuda_devices[CLI_MAX_GPUS]; /* -d cuda:N,M,...: each once; n_cuda_devices 0 when not given */
    int n_cuda_devices;
    int all_cuda_devices;      /* -d cuda:all */
    int io_threads;            /* --io-threads: 0 means the default */
    sagalux_precision precision; /* --precision: the GPU's arithmetic */
    int n_inputs;
    const unsigned char *stdin_data; /* input "-": standard input, read before planning */
    size_t stdin_size;
    char **inputs;             /* points into argv */
    char **args;               /* argv with short options taken apart ("-rq": "-r -q") */
    char *arg_pool;            /* the "-r", "-q" strings of args */
    char *out_dir_tidy;        /* out_dir's storage once tidied ("out//" is "out") */
} cli_options;

enum { CLI_RUN = 0, CLI_EXIT_OK = 1, CLI_EXIT_USAGE = 2 };

/* Parses argv; prints usage or errors itself. Returns a CLI_* value. */
int cli_parse(int argc, char **argv, cli_options *opt);

void cli_options_free(cli_options *opt);

/* The model to use: -m, then $SAGALUX_MODEL, then the shipped default. */
int cli_find_model(const cli_options *opt, char *path, size_t size);

#endif
