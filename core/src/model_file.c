#include "model_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "log.h"

/* Header: magic[4] version u32 n_kv u32 n_tensors u32 data_offset u64 data_size u64 */
enum { HEADER_BYTES = 32, TRAILER_BYTES = 4, MAX_ENTRIES = 100000 };

typedef struct {
    const uint8_t *p, *end;
} reader;

static int take(reader *r, size_t n, const uint8_t **out)
{
    if ((size_t)(r->end - r->p) < n) return 0;
    *out = r->p;
    r->p += n;
    return 1;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static int take_u8(reader *r, uint8_t *v)
{
    const uint8_t *p;
    if (!take(r, 1, &p)) return 0;
    *v = p[0];
    return 1;
}
static int take_u16(reader *r, uint16_t *v)
{
    const uint8_t *p;
    if (!take(r, 2, &p)) return 0;
    *v = le16(p);
    return 1;
}
static int take_u32(reader *r, uint32_t *v)
{
    const uint8_t *p;
    if (!take(r, 4, &p)) return 0;
    *v = le32(p);
    return 1;
}
static int take_u64(reader *r, uint64_t *v)
{
    const uint8_t *p;
    if (!take(r, 8, &p)) return 0;
    *v = le64(p);
    return 1;
}

/* A length-prefixed (u16) name copied into a NUL-terminated buffer. */
static int take_name(reader *r, char *dst, size_t cap)
{
    uint16_t len;
    const uint8_t *p;
    if (!take_u16(r, &len) || len == 0 || len >= cap || !take(r, len, &p)) return 0;
    memcpy(dst, p, len);
    dst[len] = 0;
    return memchr(dst, 0, len) == NULL; /* no embedded NULs */
}

float sx_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

void sglx_tensor_to_f32(const sglx_tensor *t, float *dst)
{
    if (t->dtype == SGLX_F32) {
        memcpy(dst, t->data, t->elements * sizeof(float)); /* little-endian host assumed (x86-64, arm64) */
    } else {
        for (uint64_t i = 0; i < t->elements; i++) dst[i] = sx_half_to_float(le16(t->data + 2 * i));
    }
}

#define BAD(...) sx_fail(err, err_size, SAGALUX_ERR_FORMAT, __VA_ARGS__)

static size_t tensor_bytes(const sglx_tensor *t) { return (size_t)t->elements * (t->dtype == SGLX_F32 ? 4u : 2u); }

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const sglx_tensor *const *)a)->name, (*(const sglx_tensor *const *)b)->name);
}

static int by_data(const void *a, const void *b)
{
    const uint8_t *x = (*(const sglx_tensor *const *)a)->data, *y = (*(const sglx_tensor *const *)b)->data;
    return (x > y) - (x < y);
}

/* No two tensors share a name or a byte: a flipped offset or shape that still
 * lies inside the data section would otherwise load as a model with some
 * weights read from another tensor's bytes. Sorting keeps it O(n log n) for
 * a file that lists 100,000 entries. */
static sagalux_status check_tensor_layout(const sglx_file *f, const char *label, char *err, size_t err_size)
{
    if (f->n_tensors < 2) return SAGALUX_OK;
    const sglx_tensor **order = malloc(f->n_tensors * sizeof *order);
    if (!order) return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    for (uint32_t i = 0; i < f->n_tensors; i++) order[i] = &f->tensors[i];
    sagalux_status st = SAGALUX_OK;
    qsort(order, f->n_tensors, sizeof *order, by_name);
    for (uint32_t i = 1; i < f->n_tensors && st == SAGALUX_OK; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0)
            st = BAD("%s: tensor '%s' appears twice", label, order[i]->name);
    qsort(order, f->n_tensors, sizeof *order, by_data);
    for (uint32_t i = 1; i < f->n_tensors && st == SAGALUX_OK; i++)
        if ((size_t)(order[i]->data - order[i - 1]->data) < tensor_bytes(order[i - 1]))
            st = BAD("%s: tensors '%s' and '%s' overlap in the data section", label, order[i - 1]->name,
                     order[i]->name);
    free(order);
    return st;
}

sagalux_status sglx_parse(const uint8_t *data, size_t size, const char *label, sglx_file **out, char *err,
                          size_t err_size)
{
    *out = NULL;
    if (size < HEADER_BYTES + TRAILER_BYTES)
        return BAD("%s: too short to be a sagalux model (%zu bytes)", label, size);
    if (memcmp(data, SGLX_MAGIC, 4) != 0) return BAD("%s: bad magic (not a sagalux .sglx model file)", label);
    uint32_t version = le32(data + 4);
    if (version != SGLX_VERSION)
        return BAD("%s: unsupported model file version %u (this build reads %u)", label, version, SGLX_VERSION);
    uint32_t n_kv = le32(data + 8), n_tensors = le32(data + 12);
    uint64_t data_offset = le64(data + 16), data_size = le64(data + 24);
    if (n_kv > MAX_ENTRIES || n_tensors > MAX_ENTRIES)
        return BAD("%s: implausible entry counts (%u keys, %u tensors)", label, n_kv, n_tensors);
    if (data_offset % SGLX_ALIGN != 0 || data_offset < HEADER_BYTES || data_offset > size ||
        data_size > size - data_offset || size - data_offset - data_size != TRAILER_BYTES)
        return BAD("%s: truncated or inconsistent (header says data at %llu, %llu bytes; file has %zu)", label,
                   (unsigned long long)data_offset, (unsigned long long)data_size, size);
    uint32_t stored_crc = le32(data + size - TRAILER_BYTES);
    uint32_t crc = (uint32_t)crc32(0L, Z_NULL, 0);
    for (size_t done = 0; done < size - TRAILER_BYTES;) { /* zlib takes uInt lengths */
        size_t chunk = size - TRAILER_BYTES - done;
        if (chunk > (1u << 30)) chunk = 1u << 30;
        crc = (uint32_t)crc32(crc, data + done, (uInt)chunk);
        done += chunk;
    }
    if (crc != stored_crc) return BAD("%s: checksum mismatch (file is corrupt)", label);

    sglx_file *f = calloc(1, sizeof *f);
    if (!f) return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    f->path = label;
    f->base = data;
    f->size = size;
    f->n_kv = n_kv;
    f->n_tensors = n_tensors;
    f->kv = calloc(n_kv ? n_kv : 1, sizeof *f->kv);
    f->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *f->tensors);
    if (!f->kv || !f->tensors) {
        sglx_close(f);
        return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    }

    reader r = {data + HEADER_BYTES, data + data_offset};
    sagalux_status st = SAGALUX_OK;
    for (uint32_t i = 0; i < n_kv && st == SAGALUX_OK; i++) {
        sglx_kv *kv = &f->kv[i];
        uint8_t type;
        size_t elem;
        if (!take_name(&r, kv->key, sizeof kv->key) || !take_u8(&r, &type) || !take_u32(&r, &kv->count)) {
            st = BAD("%s: key-value %u is truncated or malformed", label, i);
            break;
        }
        switch (type) {
        case SGLX_KV_U32: case SGLX_KV_F32: elem = 4; break;
        case SGLX_KV_STR: elem = 1; break;
        default: st = BAD("%s: key '%s' has unknown type %u", label, kv->key, type); continue;
        }
        kv->type = (sglx_kv_type)type;
        if (!take(&r, (size_t)kv->count * elem, &kv->value))
            st = BAD("%s: value of key '%s' runs past the header", label, kv->key);
    }
    for (uint32_t i = 0; i < n_tensors && st == SAGALUX_OK; i++) {
        sglx_tensor *t = &f->tensors[i];
        uint8_t dtype, ndim;
        uint64_t offset;
        if (!take_name(&r, t->name, sizeof t->name) || !take_u8(&r, &dtype) || !take_u8(&r, &ndim)) {
            st = BAD("%s: tensor entry %u is truncated or malformed", label, i);
            break;
        }
        if (dtype > SGLX_F16 || ndim == 0 || ndim > SGLX_MAX_DIMS) {
            st = BAD("%s: tensor '%s' has bad dtype %u or rank %u", label, t->name, dtype, ndim);
            break;
        }
        t->dtype = (sglx_dtype)dtype;
        t->ndim = ndim;
        uint64_t elements = 1;
        for (int d = 0; d < ndim && st == SAGALUX_OK; d++) {
            if (!take_u32(&r, &t->dims[d])) st = BAD("%s: tensor '%s' shape is truncated", label, t->name);
            else if (t->dims[d] == 0 || elements > UINT64_MAX / t->dims[d] ||
                     (elements *= t->dims[d]) > ((uint64_t)1 << 40))
                st = BAD("%s: tensor '%s' has an absurd shape", label, t->name);
        }
        if (st != SAGALUX_OK) break;
        if (!take_u64(&r, &offset)) {
            st = BAD("%s: tensor '%s' entry is truncated", label, t->name);
            break;
        }
        uint64_t nbytes = elements * (dtype == SGLX_F32 ? 4u : 2u);
        if (offset % SGLX_ALIGN != 0 || offset > data_size || nbytes > data_size - offset) {
            st = BAD("%s: tensor '%s' lies outside the data section (offset %llu, %llu bytes)", label, t->name,
                     (unsigned long long)offset, (unsigned long long)nbytes);
            break;
        }
        t->elements = elements;
        t->data = data + data_offset + offset;
    }
    if (st == SAGALUX_OK) st = check_tensor_layout(f, label, err, err_size);
    if (st != SAGALUX_OK) {
        sglx_close(f);
        return st;
    }
    *out = f;
    return SAGALUX_OK;
}

/* Reads exactly size bytes from fd into buf. 1: done; 0: the file ended
 * early or holds more (it changed since fstat); -1: a read error (errno). */
static int read_exactly(int fd, uint8_t *buf, size_t size)
{
    size_t done = 0;
    while (done < size) {
        ssize_t n = read(fd, buf + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) return 0;
        done += (size_t)n;
    }
    uint8_t extra;
    ssize_t n;
    while ((n = read(fd, &extra, 1)) < 0 && errno == EINTR) {}
    if (n < 0) return -1;
    return n == 0;
}

/* The file is read into memory, not mapped: a mapping of a file someone
 * truncates (a model copied or exported over while a job starts) faults
 * with SIGBUS on the first page past the new end. A read sees the change
 * as a short count instead, and the whole file is then checked at leisure. */
sagalux_status sglx_open(const char *path, sglx_file **out, char *err, size_t err_size)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sx_fail(err, err_size, SAGALUX_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return sx_fail(err, err_size, SAGALUX_ERR_IO, "%s: not a regular file", path);
    }
    if (sb.st_size < HEADER_BYTES + TRAILER_BYTES) {
        close(fd);
        return BAD("%s: too short to be a sagalux model (%lld bytes)", path, (long long)sb.st_size);
    }
    if ((unsigned long long)sb.st_size > (unsigned long long)PTRDIFF_MAX) {
        close(fd);
        return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "%s: %lld bytes will not fit in memory", path,
                       (long long)sb.st_size);
    }
    size_t size = (size_t)sb.st_size;
    uint8_t *buf = malloc(size);
    if (!buf) {
        close(fd);
        return sx_fail(err, err_size, SAGALUX_ERR_OUT_OF_MEMORY, "%s: out of memory for %zu bytes", path, size);
    }
    int got = read_exactly(fd, buf, size);
    int read_errno = errno;
    close(fd);
    if (got != 1) {
        free(buf);
        if (got < 0) return sx_fail(err, err_size, SAGALUX_ERR_IO, "%s: cannot read: %s", path, strerror(read_errno));
        return sx_fail(err, err_size, SAGALUX_ERR_IO, "%s: the model file changed while it was read", path);
    }
    sglx_file *parsed;
    sagalux_status st = sglx_parse(buf, size, path, &parsed, err, err_size);
    if (st != SAGALUX_OK) {
        free(buf);
        return st;
    }
    parsed->owned = buf;
    *out = parsed;
    return SAGALUX_OK;
}

void sglx_close(sglx_file *f)
{
    if (!f) return;
    free(f->owned);
    free(f->kv);
    free(f->tensors);
    free(f);
}

const sglx_kv *sglx_find_kv(const sglx_file *f, const char *key)
{
    for (uint32_t i = 0; i < f->n_kv; i++)
        if (strcmp(f->kv[i].key, key) == 0) return &f->kv[i];
    return NULL;
}

const sglx_tensor *sglx_find_tensor(const sglx_file *f, const char *name)
{
    for (uint32_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

sagalux_status sglx_get_u32(const sglx_file *f, const char *key, uint32_t *values, uint32_t count, char *err,
                            size_t err_size)
{
    const sglx_kv *kv = sglx_find_kv(f, key);
    if (!kv) return sx_fail(err, err_size, SAGALUX_ERR_MODEL, "%s: configuration key '%s' is missing", f->path, key);
    if (kv->type != SGLX_KV_U32 || kv->count != count)
        return sx_fail(err, err_size, SAGALUX_ERR_MODEL, "%s: configuration key '%s' should be %u integer(s)",
                       f->path, key, count);
    for (uint32_t i = 0; i < count; i++) values[i] = le32(kv->value + 4 * i);
    return SAGALUX_OK;
}

sagalux_status sglx_get_f32(const sglx_file *f, const char *key, float *value, char *err, size_t err_size)
{
    const sglx_kv *kv = sglx_find_kv(f, key);
    if (!kv) return sx_fail(err, err_size, SAGALUX_ERR_MODEL, "%s: configuration key '%s' is missing", f->path, key);
    if (kv->type != SGLX_KV_F32 || kv->count != 1)
        return sx_fail(err, err_size, SAGALUX_ERR_MODEL, "%s: configuration key '%s' should be one float", f->path,
                       key);
    uint32_t bits = le32(kv->value);
    memcpy(value, &bits, sizeof *value);
    return SAGALUX_OK;
}
