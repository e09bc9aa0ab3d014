/* The .sglx container: a GGUF-like file of typed key-values and named tensors.
 * The byte layout is specified in docs/model-format.md; train/sglx.py writes it.
 *
 * sglx_open reads the file into memory, verifies magic, version, every
 * length and offset against the file size, and the CRC-32 trailer, before
 * anything is handed out. Lookups never read outside that buffer. */
#ifndef SX_MODEL_FILE_H
#define SX_MODEL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "sagalux.h"

#define SGLX_MAGIC "SGLX"
#define SGLX_VERSION 1u
#define SGLX_ALIGN 64u
#define SGLX_MAX_DIMS 4

typedef enum { SGLX_KV_U32 = 0, SGLX_KV_F32 = 1, SGLX_KV_STR = 2 } sglx_kv_type;
typedef enum { SGLX_F32 = 0, SGLX_F16 = 1 } sglx_dtype;

typedef struct sglx_kv {
    char key[64];
    sglx_kv_type type;
    uint32_t count;        /* elements (bytes for strings) */
    const uint8_t *value;  /* little-endian payload inside the file's bytes */
} sglx_kv;

typedef struct sglx_tensor {
    char name[128];
    sglx_dtype dtype;
    int ndim;
    uint32_t dims[SGLX_MAX_DIMS];
    uint64_t elements;
    const uint8_t *data;   /* inside the file's bytes, at a multiple of SGLX_ALIGN from its start */
} sglx_tensor;

typedef struct sglx_file {
    const char *path;      /* for messages; not owned */
    const uint8_t *base;
    size_t size;
    uint32_t n_kv, n_tensors;
    sglx_kv *kv;
    sglx_tensor *tensors;
    void *owned;           /* the bytes sglx_open read (NULL for sglx_parse) */
} sglx_file;

sagalux_status sglx_open(const char *path, sglx_file **out, char *err, size_t err_size);
/* Same checks over a caller-owned buffer (used by the fuzz target). */
sagalux_status sglx_parse(const uint8_t *data, size_t size, const char *label, sglx_file **out, char *err,
                          size_t err_size);
void sglx_close(sglx_file *f);

const sglx_kv *sglx_find_kv(const sglx_file *f, const char *key);
const sglx_tensor *sglx_find_tensor(const sglx_file *f, const char *name);

/* Reads a u32 key holding exactly count values. */
sagalux_status sglx_get_u32(const sglx_file *f, const char *key, uint32_t *values, uint32_t count, char *err,
                            size_t err_size);
sagalux_status sglx_get_f32(const sglx_file *f, const char *key, float *value, char *err, size_t err_size);

/* Converts a tensor's elements to fp32 into dst (elements floats). */
void sglx_tensor_to_f32(const sglx_tensor *t, float *dst);

float sx_half_to_float(uint16_t h);

#endif
