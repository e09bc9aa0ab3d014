/* sagalux — brighten dark photos with a SAGA U-Net.
 *
 * The public C API of libsagalux. Plain C11; no CUDA or BLAS types appear here.
 *
 * Conventions
 * - Every fallible call returns a sagalux_status; SAGALUX_OK is 0.
 * - Objects are opaque handles with create/free pairs; free(NULL) is a no-op.
 * - The library never prints and never exits. Diagnostics go to the log
 *   callback (sagalux_set_log); a failing load, save or context creation
 *   writes a one-line reason (naming the file or the device) into the
 *   caller's err buffer, and a context keeps its last failure's reason for
 *   sagalux_context_error().
 */
#ifndef SAGALUX_H
#define SAGALUX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SAGALUX_VERSION_STRING "0.2.0"

typedef enum sagalux_status {
    SAGALUX_OK = 0,
    SAGALUX_ERR_INVALID_ARGUMENT, /* a NULL pointer, an option out of range */
    SAGALUX_ERR_OUT_OF_MEMORY,
    SAGALUX_ERR_IO,               /* open/read/write/rename failed */
    SAGALUX_ERR_FORMAT,           /* not a file of the expected kind, or corrupt */
    SAGALUX_ERR_UNSUPPORTED,      /* a valid file we do not handle (CMYK JPEG, …) */
    SAGALUX_ERR_TOO_LARGE,        /* dimensions past the caps, or size overflow */
    SAGALUX_ERR_MODEL,            /* model file valid but unusable (missing tensor, bad shape) */
    SAGALUX_ERR_DEVICE,           /* the requested device is not available */
    SAGALUX_ERR_CANCELLED,        /* sagalux_context_cancel stopped the call */
    SAGALUX_ERR_EXISTS,           /* the output exists and replacing it was not asked for */
    SAGALUX_ERR_NO_SPACE,         /* the file system is full (or the quota is used up) */
    SAGALUX_STATUS_COUNT
} sagalux_status;

/* A static, human-readable name for a status ("out of memory", …). */
const char *sagalux_status_string(sagalux_status status);

/* ---------------------------------------------------------------- logging */

typedef enum sagalux_log_level {
    SAGALUX_LOG_DEBUG = 0,
    SAGALUX_LOG_INFO,
    SAGALUX_LOG_WARN,
    SAGALUX_LOG_ERROR
} sagalux_log_level;

typedef void (*sagalux_log_fn)(sagalux_log_level level, const char *message, void *user);

/* Installs a process-wide log sink; NULL (the default) discards messages. */
void sagalux_set_log(sagalux_log_fn fn, void *user);

/* ----------------------------------------------------------------- images */

/* Hard caps, checked before any allocation. */
#define SAGALUX_MAX_SIDE 30000
#define SAGALUX_MAX_PIXELS 500000000ULL

/* The decode budget: the most pixels a decoder allocates for one image; a
 * larger one fails with SAGALUX_ERR_TOO_LARGE before anything is allocated.
 * The default (0) is what half of the machine's physical memory holds at 16
 * bytes a pixel, never more than SAGALUX_MAX_PIXELS. Process-wide; set it
 * before loading (fuzzers and servers set it low). */
void sagalux_set_image_pixel_limit(uint64_t pixels);
uint64_t sagalux_image_pixel_limit(void);

typedef enum sagalux_file_format {
    SAGALUX_FORMAT_UNKNOWN = 0,
    SAGALUX_FORMAT_PNG,
    SAGALUX_FORMAT_JPEG
} sagalux_file_format;

/* A text carried with a photo: a PNG tEXt, zTXt or iTXt chunk, or a JPEG
 * comment (COM marker), which reads as keyword "Comment". */
typedef struct sagalux_text {
    char *keyword;            /* 1..79 Latin-1 characters */
    char *text;               /* UTF-8 when international, else Latin-1 */
    char *language;           /* iTXt's language tag, or NULL */
    char *translated_keyword; /* iTXt's translated keyword (UTF-8), or NULL */
    int international;        /* 1: iTXt */
    int compressed;           /* zTXt, or a compressed iTXt */
} sagalux_text;

/* How the pixel density is given: JPEG's JFIF units, plus PNG's metre. */
typedef enum sagalux_density_unit {
    SAGALUX_DENSITY_NONE = 0,  /* no density recorded */
    SAGALUX_DENSITY_ASPECT,    /* only the pixels' aspect ratio */
    SAGALUX_DENSITY_PER_INCH,
    SAGALUX_DENSITY_PER_CM,
    SAGALUX_DENSITY_PER_METRE
} sagalux_density_unit;

/* A decoded photo. Pixels are planar float in [0,1]: rgb holds the R plane,
 * then G, then B, each width*height values, row-major. Grey sources are
 * expanded to three equal planes. Alpha, when the source has it, is a separate
 * plane (NULL otherwise) and is never touched by enhancement. */
typedef struct sagalux_image {
    int width, height;
    float *rgb;                 /* 3 * width * height */
    float *alpha;               /* width * height, or NULL */
    int bit_depth;              /* 8 or 16: the source's sample depth */
    int is_grey;                /* the source had one colour channel */
    sagalux_file_format source_format;
    unsigned char *exif;        /* raw TIFF-structured EXIF block (no "Exif\0\0"), or NULL */
    size_t exif_size;
    unsigned char *icc;         /* ICC profile, or NULL */
    size_t icc_size;
    int orientation;            /* EXIF orientation 1..8 (1 when absent) */
    unsigned char *xmp;         /* the XMP packet (UTF-8 XML), or NULL */
    size_t xmp_size;
    unsigned char *photoshop;   /* Photoshop image resources ("8BIM" blocks; IPTC
                                   is resource 0x0404), or NULL */
    size_t photoshop_size;
    sagalux_density_unit density_unit;
    unsigned density_x, density_y; /* pixels per unit (DPI, …), or the aspect ratio */
    sagalux_text *texts;        /* text chunks and comments, in file order */
    int text_count;
} sagalux_image;

/* The blocks are carried as read, converted between the formats: XMP is a
 * JPEG APP1 "http://ns.adobe.com/xap/1.0/" segment or a PNG iTXt
 * "XML:com.adobe.xmp"; the Photoshop resources are JPEG APP13 "Photoshop 3.0"
 * segments or, in PNG (which defines no IPTC chunk), a zTXt "Raw profile type
 * 8bim" in ImageMagick's hex convention, which ExifTool reads too; density is
 * JFIF's or pHYs. A saved file drops the Photoshop thumbnail resources (they
 * would show the dark original). JPEG keeps only the "Comment" texts (as COM
 * markers): it has no place for the others. Everything in the image struct
 * is freed by sagalux_image_free, so a caller that sets a field hands it a
 * malloc'd block. */

/* A new image with zeroed rgb (and alpha when with_alpha), bit_depth 8. */
sagalux_status sagalux_image_create(int width, int height, int with_alpha, sagalux_image **out);
void sagalux_image_free(sagalux_image *image);

/* Decodes a PNG or JPEG (chosen by content, not name). On failure *out is NULL
 * and, when err is given, a one-line reason is written to it. */
sagalux_status sagalux_image_load(const char *path, sagalux_image **out, char *err, size_t err_size);
/* name labels the data in error messages (e.g. "<stdin>"); NULL: "(memory)". */
sagalux_status sagalux_image_load_memory(const void *data, size_t size, const char *name, sagalux_image **out,
                                         char *err, size_t err_size);

/* A photo's size from its header alone (PNG's IHDR, JPEG's start of
 * frame; a file is read only there), without decoding: what a caller checks
 * before it spends the memory to decode (sagalux_image_decode_bytes) and
 * enhance (sagalux_context_memory_need). Fails, with a reason in err, on a
 * file that is not a PNG or JPEG, whose header is corrupt or truncated, or
 * whose size is past the caps; the decode budget is not checked here. */
sagalux_status sagalux_image_probe(const char *path, int *width, int *height, char *err, size_t err_size);
sagalux_status sagalux_image_probe_memory(const void *data, size_t size, const char *name, int *width, int *height,
                                          char *err, size_t err_size);
/* The host bytes decoding a width x height photo holds at its peak, besides
 * the file's own bytes: 24 a pixel (float RGB, alpha and the decoder's copy). */
uint64_t sagalux_image_decode_bytes(int width, int height);

typedef struct sagalux_save_options {
    sagalux_file_format format; /* PNG or JPEG */
    int jpeg_quality;           /* 1..100; 0 means 92 */
    int jpeg_subsampling;       /* chroma: 444 (none), 422 (half across) or 420
                                   (half both ways); 0 means 420, libjpeg's default */
    int png_bit_depth;          /* 8 or 16; 0 means the image's bit_depth */
    int keep_metadata;          /* write EXIF, ICC, XMP, Photoshop/IPTC, texts and
                                   density when the image has them; an EXIF
                                   thumbnail is made anew from the pixels saved */
    int replace;                /* sagalux_image_save: 1 replaces what is at the
                                   path (a link itself, never what it points to);
                                   0 (default) leaves it and fails with
                                   SAGALUX_ERR_EXISTS */
} sagalux_save_options;

sagalux_save_options sagalux_save_options_default(sagalux_file_format format);

/* Encodes to a temporary file in path's folder and moves it into place, so
 * a failure never leaves a partial output. The temporary is unnamed
 * (O_TMPFILE) where the file system allows, else a new, exclusively created
 * ".sagalux-XXXXXXXXXXXX.tmp" that the writer keeps locked: neither can be
 * an existing file or a planted link. The move replaces nothing unless
 * options->replace (SAGALUX_ERR_EXISTS), even when the file appeared while
 * the image was encoded; a full file system gives SAGALUX_ERR_NO_SPACE. */
sagalux_status sagalux_image_save(const sagalux_image *image, const char *path,
                                  const sagalux_save_options *options, char *err, size_t err_size);

/* Removes from folder dir (not its subfolders) the temporaries that
 * sagalux_image_save left when its process was killed: a file is removed only
 * when it is provably one: named as sagalux_image_save names them, a regular
 * file of this user, and not locked, so no writer on any host is alive to
 * finish it. *removed (may be NULL) counts them. The locks are open-file-
 * description locks (Linux 3.15 and later); with the older per-process
 * locks, a program that calls this on one thread while it saves on another
 * could take its own live temporary for abandoned. */
sagalux_status sagalux_remove_abandoned_temporaries(const char *dir, int *removed);

/* A claim on an output path among processes that share its folder, on any
 * host: the first to claim a path gets SAGALUX_OK and holds it until
 * sagalux_claim_release; the others get SAGALUX_ERR_EXISTS while it is
 * held. A claim is a locked ".sagalux-XXXXXXXXXXXX.tmp" beside the path (the
 * name derived from the path's), so a claim whose holder died is taken over,
 * and sagalux_remove_abandoned_temporaries removes it. Other failures
 * (SAGALUX_ERR_IO: the folder cannot be written, or something that is not a
 * regular file has the claim's name) mean no claim was made. */
typedef struct sagalux_claim sagalux_claim;
sagalux_status sagalux_claim_output(const char *path, sagalux_claim **out);
void sagalux_claim_release(sagalux_claim *claim);

/* Encodes into a new malloc'd buffer (*data, *size; free() it): the whole
 * file or, on failure, nothing (*data NULL). name labels error messages. */
sagalux_status sagalux_image_save_memory(const sagalux_image *image, const sagalux_save_options *options,
                                         const char *name, void **data, size_t *size, char *err, size_t err_size);

/* Drops what describes the photo's content and origin (EXIF, XMP, the
 * Photoshop/IPTC block and the texts); keeps what defines its colours and
 * print size (the ICC profile and the density). */
void sagalux_image_strip(sagalux_image *image);

/* Turns the pixels (and alpha) as the EXIF orientation says, so they stand
 * upright without it, then sets the orientation to 1 (in the EXIF block and
 * the XMP packet's tiff:Orientation too; PixelX/YDimension and the density
 * are swapped for a quarter turn). A no-op at 1. */
sagalux_status sagalux_image_apply_orientation(sagalux_image *image);

/* Format from a file's first bytes (8 are enough); UNKNOWN when neither. */
sagalux_file_format sagalux_format_from_bytes(const void *data, size_t size);

/* Format from a file name's extension (.png, .jpg, .jpeg, .jpe, .jfif; any case). */
sagalux_file_format sagalux_format_from_name(const char *path);

/* ------------------------------------------------------------------ model */

typedef struct sagalux_model sagalux_model;

/* The network's configuration, as stored in the model file. */
typedef struct sagalux_config {
    int dim;        /* channels at full resolution */
    int blocks[4];  /* transformer blocks per level */
    int refine;     /* blocks in each refinement stage */
    int heads[4];   /* attention heads per level */
    float ffn;      /* FFN expansion; hidden = floor(C * ffn) */
} sagalux_config;

/* Loads and validates a .sglx model file: every size is checked against the
 * file, the checksum verified, every tensor looked up by name and its shape
 * checked against the configuration. */
sagalux_status sagalux_model_load(const char *path, sagalux_model **out, char *err, size_t err_size);
/* A model of the given configuration with random weights (deterministic for
 * a seed), checked like a file's: for benchmarks of other configurations
 * (the LLFormer setting) and backend parity tests. Marked untrained. */
sagalux_status sagalux_model_random(const sagalux_config *config, uint64_t seed, sagalux_model **out, char *err,
                                    size_t err_size);
void sagalux_model_free(sagalux_model *model);
const sagalux_config *sagalux_model_config(const sagalux_model *model);
size_t sagalux_model_parameter_count(const sagalux_model *model);
/* 0 when the file says its weights are untrained (random), else 1. */
int sagalux_model_is_trained(const sagalux_model *model);
/* The file's free-text description ("" when absent). */
const char *sagalux_model_description(const sagalux_model *model);

/* -------------------------------------------------------------- enhancing */

typedef enum sagalux_device {
    SAGALUX_DEVICE_AUTO = 0, /* the GPU when one is usable, else the CPU */
    SAGALUX_DEVICE_CPU,
    SAGALUX_DEVICE_CUDA
} sagalux_device;

/* The devices this build can use: index 0 is the CPU, then one per CUDA GPU
 * (none when the library was built without CUDA or no GPU is usable). */
typedef struct sagalux_device_info {
    sagalux_device kind;
    int index;                 /* the GPU's index for cuda_device; 0 for the CPU */
    char name[128];            /* "NVIDIA H100 80GB HBM3", or the CPU's model name */
    size_t memory_bytes;       /* the GPU's total memory; the machine's for the CPU */
    size_t free_bytes;         /* free now (GPU); available (CPU) */
    int threads;               /* the CPU's cores; 0 for a GPU */
} sagalux_device_info;

/* Fills up to max entries and returns how many devices there are. */
int sagalux_list_devices(sagalux_device_info *out, int max);

/* How many CUDA GPUs this build sees. 0 with the reason in why (which may
 * be NULL): "this build has no CUDA backend", "no NVIDIA driver is loaded",
 * "no NVIDIA GPU was found", or the CUDA runtime's own words. */
int sagalux_cuda_device_count(char *why, size_t why_size);

typedef struct sagalux_context sagalux_context;

/* The GPU's arithmetic (the CPU is always fp32). FP16: the maps between
 * layers stored in fp16, the convolutions' products on tensor cores with
 * fp16 operands, every sum in fp32 (fast, half the memory; the default).
 * FP32: fp32 throughout, to check the fast path against. */
typedef enum sagalux_precision {
    SAGALUX_PRECISION_FP16 = 0,
    SAGALUX_PRECISION_FP32 = 1
} sagalux_precision;

typedef struct sagalux_context_options {
    sagalux_device device;
    int threads;      /* CPU worker threads; 0 = number of cores */
    int cuda_device;  /* GPU index when device is CUDA or AUTO */
    size_t gpu_memory_limit; /* bytes the GPU may hold for this context, weights
                                included; 0 = what the card has. An image that
                                needs more runs on the CPU. */
    sagalux_precision precision; /* the GPU's arithmetic */
} sagalux_context_options;

sagalux_context_options sagalux_context_options_default(void);

/* A context owns a device (the GPU's memory and weights, or CPU worker
 * threads) and reusable buffers; use one per thread. AUTO takes the GPU
 * cuda_device when it is usable, else the CPU (one log line says why); CUDA
 * fails with SAGALUX_ERR_DEVICE and a reason when it is not. */
sagalux_status sagalux_context_create(const sagalux_model *model, const sagalux_context_options *options,
                                      sagalux_context **out, char *err, size_t err_size);
void sagalux_context_free(sagalux_context *ctx);
sagalux_device sagalux_context_device(const sagalux_context *ctx);
/* Why the last sagalux_enhance on ctx failed ("" after a success), e.g.
 * "CUDA device 0: out of memory allocating 512 MiB". */
const char *sagalux_context_error(const sagalux_context *ctx);

typedef struct sagalux_enhance_options {
    float strength;   /* 0 = the input unchanged, 1 = the network's output */
} sagalux_enhance_options;

sagalux_enhance_options sagalux_enhance_options_default(void);

/* Enhances input into a new image (same size, alpha and metadata copied).
 * Sides that are not multiples of 16 are reflect-padded and cropped back.
 * When the GPU runs out of memory or fails, the image runs on the CPU (a
 * warning through the log says why). */
sagalux_status sagalux_enhance(sagalux_context *ctx, const sagalux_image *input,
                               const sagalux_enhance_options *options, sagalux_image **out);

/* The network's own output for input: what sagalux_enhance gives at strength
 * 1 before clamping, so values may lie a little outside [0, 1] (same size,
 * alpha and metadata as input). With sagalux_blend it gives sagalux_enhance's
 * result for any strength, bit for bit, without running the network again:
 * a viewer's strength slider. */
sagalux_status sagalux_enhance_network(sagalux_context *ctx, const sagalux_image *input, sagalux_image **out);

/* A new image: clamp(original + strength * (network - original)) to [0, 1],
 * with original's alpha and metadata. network comes from
 * sagalux_enhance_network on original; sizes must match, strength in [0, 1]. */
sagalux_status sagalux_blend(const sagalux_image *original, const sagalux_image *network, float strength,
                             sagalux_image **out);

/* How far the enhance now running on ctx has come, from 0 to 1 (its share of
 * the network's estimated work; 1 after it finished). Safe to call from
 * another thread while sagalux_enhance runs: a progress bar. */
float sagalux_context_progress(const sagalux_context *ctx);

/* Asks the sagalux_enhance running on ctx to stop at its next step; it then
 * returns SAGALUX_ERR_CANCELLED and writes nothing. Safe to call from another
 * thread or a signal handler. The request ends when the next enhance starts. */
void sagalux_context_cancel(sagalux_context *ctx);

/* The host memory (bytes) that enhancing a width x height photo on ctx
 * takes at its peak: the padded copies in and out, the result (an alpha
 * plane counted) and, on the CPU, the network's arena (the plan places every
 * map and scratch in it); on a GPU the arena is device memory, so this is
 * the host's part only. The input photo, the caller's, is not counted.
 * Measured against the peak RSS of sagalux -d cpu (shipped model), less a
 * 16x16 run's: within 1.5% at 1000x750 and 2000x1500 (enhance.c says how).
 * Reads only what does not change after sagalux_context_create: safe from
 * any thread. */
sagalux_status sagalux_context_memory_need(const sagalux_context *ctx, int width, int height, uint64_t *bytes);

/* The bytes this process may still allocate: the least of the machine's
 * MemAvailable (/proc/meminfo), its control group's room (cgroup v2
 * memory.max - memory.current, v1 limit_in_bytes - usage_in_bytes, parents
 * included) and RLIMIT_AS / RLIMIT_DATA less the address space and data
 * already in use. 0: nothing is left; UINT64_MAX: nothing could be read
 * and nothing limits it. sagalux_enhance and sagalux_enhance_network refuse
 * a photo whose memory need exceeds it with SAGALUX_ERR_OUT_OF_MEMORY before
 * allocating, the context's error saying "6000x4000: needs 14.2 GB, 9.8 GB
 * available" (rather than the kernel killing the process partway through). */
uint64_t sagalux_memory_available(void);

/* Bytes of activations and scratch the context holds for the last image
 * size (on a GPU: device memory, weights included), plus the padded copies. */
size_t sagalux_context_peak_bytes(const sagalux_context *ctx);

/* Bytes of device memory the context holds for the last image size: the
 * weights, the activations and scratch, the image in and out on the GPU (the
 * part of sagalux_context_peak_bytes that is on the device; 0 on the CPU). */
size_t sagalux_context_device_bytes(const sagalux_context *ctx);

/* Milliseconds the last successful enhance on ctx spent in the network
 * itself, without padding, blending or (on a GPU) the copies to and from the
 * device: on a GPU timed by the device (CUDA events), on the CPU by the wall
 * clock. 0 before the first. What sagalux-bench reports as network_ms. */
double sagalux_context_network_ms(const sagalux_context *ctx);

#ifdef __cplusplus
}
#endif
#endif /* SAGALUX_H */
