/* The model loader against corrupt files: truncation at every region, flipped
 * bytes, and files whose checksum is valid but whose contents lie (bad counts,
 * offsets, shapes, names), so the checks behind the CRC are reached too.
 * Every case must fail with a status and a message, never crash (this test
 * also runs under ASan/UBSan in CI), or, for random metadata changes, load a
 * model that computes exactly what the original does. */
#define _DEFAULT_SOURCE /* syscall() */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "model_file.h"
#include "sagalux.h"
#include "test_util.h"

typedef struct blob {
    unsigned char *data;
    size_t size;
} blob;

static blob original;
static char tmp_path[256];

static int setup(void **state)
{
    (void)state;
    FILE *fp = fopen(tu_data("golden_tiny.sglx"), "rb");
    if (!fp) return -1;
    fseek(fp, 0, SEEK_END);
    original.size = (size_t)ftell(fp);
    rewind(fp);
    original.data = malloc(original.size);
    if (fread(original.data, 1, original.size, fp) != original.size) return -1;
    fclose(fp);
    snprintf(tmp_path, sizeof tmp_path, "/tmp/sagalux-test-model-%ld.sglx", (long)getpid());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(original.data);
    remove(tmp_path);
    return 0;
}

static blob clone(void)
{
    blob b = {malloc(original.size), original.size};
    memcpy(b.data, original.data, original.size);
    return b;
}

static void fix_crc(blob *b)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, b->data, (uInt)(b->size - 4));
    for (int i = 0; i < 4; i++) b->data[b->size - 4 + i] = (unsigned char)(crc >> (8 * i));
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Loads b through the public API; returns the status, message in err. */
static sagalux_status load(const blob *b, char *err, size_t err_size)
{
    FILE *fp = fopen(tmp_path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b->data, 1, b->size, fp), b->size);
    fclose(fp);
    sagalux_model *m = NULL;
    err[0] = 0;
    sagalux_status st = sagalux_model_load(tmp_path, &m, err, err_size);
    if (st == SAGALUX_OK) assert_non_null(m);
    else assert_null(m);
    sagalux_model_free(m);
    return st;
}

static void expect_failure(const blob *b, sagalux_status want, const char *needle)
{
    char err[512];
    sagalux_status st = load(b, err, sizeof err);
    if (st != want || !strstr(err, needle) || !strstr(err, tmp_path)) {
        fprintf(stderr, "status %s, message '%s'; wanted %s containing '%s'\n", sagalux_status_string(st), err,
                sagalux_status_string(want), needle);
        fail();
    }
}

/* Where the tensor entry for name starts (its u16 length), in the header. */
static unsigned char *entry_of(blob *b, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 32; i + len + 2 < b->size; i++)
        if (b->data[i] == (len & 0xff) && b->data[i + 1] == (len >> 8) && memcmp(b->data + i + 2, name, len) == 0)
            return b->data + i;
    fail_msg("tensor entry %s not found", name);
    return NULL;
}

static void test_valid_file_loads(void **state)
{
    (void)state;
    char err[512];
    assert_int_equal(load(&original, err, sizeof err), SAGALUX_OK);
}

static void test_missing_file(void **state)
{
    (void)state;
    sagalux_model *m = NULL;
    char err[512];
    assert_int_equal(sagalux_model_load("/nonexistent/model.sglx", &m, err, sizeof err), SAGALUX_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent/model.sglx"));
}

static void test_truncations(void **state)
{
    (void)state;
    /* Every length through the header and metadata, then a sweep of the data. */
    size_t lengths[600], count = 0;
    for (size_t n = 0; n < 400; n++) lengths[count++] = n;
    for (size_t k = 1; k < 200; k++) lengths[count++] = original.size * k / 200;
    lengths[count++] = original.size - 1;
    for (size_t i = 0; i < count; i++) {
        blob b = {original.data, lengths[i]};
        char err[512];
        sagalux_status st = load(&b, err, sizeof err);
        if (st != SAGALUX_ERR_FORMAT) fail_msg("truncated to %zu bytes: status %s (%s)", lengths[i], sagalux_status_string(st), err);
    }
}

static void test_zero_bytes_and_garbage(void **state)
{
    (void)state;
    blob b = {original.data, 0};
    expect_failure(&b, SAGALUX_ERR_FORMAT, "too short");
    unsigned char text[] = "this is not a model file, just some text that is long enough";
    b = (blob){text, sizeof text};
    expect_failure(&b, SAGALUX_ERR_FORMAT, "bad magic");
}

static void test_bad_version(void **state)
{
    (void)state;
    blob b = clone();
    put32(b.data + 4, 99);
    fix_crc(&b);
    expect_failure(&b, SAGALUX_ERR_FORMAT, "version 99");
    free(b.data);
}

static void test_checksum(void **state)
{
    (void)state;
    /* One flipped bit anywhere: in the header, in a tensor, in the trailer. */
    size_t where[] = {40, original.size / 2, original.size - 10, original.size - 1};
    for (size_t i = 0; i < 4; i++) {
        blob b = clone();
        b.data[where[i]] ^= 0x10;
        expect_failure(&b, SAGALUX_ERR_FORMAT, "checksum");
        free(b.data);
    }
}

static void test_lying_header(void **state)
{
    (void)state;
    blob b = clone();
    put32(b.data + 12, 0xffffffffu); /* n_tensors */
    fix_crc(&b);
    expect_failure(&b, SAGALUX_ERR_FORMAT, "implausible");
    free(b.data);

    b = clone();
    put32(b.data + 12, 5000); /* more tensors than entries: runs into the data */
    fix_crc(&b);
    expect_failure(&b, SAGALUX_ERR_FORMAT, "tensor entry");
    free(b.data);

    b = clone();
    put64(b.data + 16, 1ull << 62); /* data_offset */
    fix_crc(&b);
    expect_failure(&b, SAGALUX_ERR_FORMAT, "truncated or inconsistent");
    free(b.data);

    b = clone();
    put64(b.data + 24, 12345); /* data_size */
    fix_crc(&b);
    expect_failure(&b, SAGALUX_ERR_FORMAT, "truncated or inconsistent");
    free(b.data);
}

static void test_lying_tensor_entry(void **state)
{
    (void)state;
    const char *name = "embed.weight"; /* dtype, ndim 4, dims (4,3,3,3), offset */
    size_t after_name = 2 + strlen(name);

    blob b = clone();
    put64(entry_of(&b, name) + after_name + 2 + 16, 1ull << 40);
    fix_crc(&b);
    expect_failure(&b, SAGALUX_ERR_FORMAT, "outside the data section");
    free(b.data);

    b = clone();
    put32(entry_of(&b, name) + after_name + 2, 0x7fffffff);
    fix_crc(&b);
    expect_failure(&b, SAGALUX_ERR_FORMAT, "embed.weight");
    free(b.data);

    b = clone();
    entry_of(&b, name)[after_name] = 7; /* dtype */
    fix_crc(&b);
    expect_failure(&b, SAGALUX_ERR_FORMAT, "bad dtype");
    free(b.data);

    b = clone();
    put32(entry_of(&b, name) + after_name + 2, 2); /* 2x3x3x3 instead of 4x3x3x3 */
    fix_crc(&b);
    expect_failure(&b, SAGALUX_ERR_MODEL, "has shape 2x3x3x3, expected 4x3x3x3");
    free(b.data);

    b = clone();
    entry_of(&b, name)[2 + 4] = 'X'; /* "embeX.weight" */
    fix_crc(&b);
    expect_failure(&b, SAGALUX_ERR_MODEL, "tensor 'embed.weight' is missing");
    free(b.data);
}

static void test_bad_config(void **state)
{
    (void)state;
    /* The key "dim" (u16 3, "dim", type u32, count 1, value 4). */
    blob b = clone();
    unsigned char *p = NULL;
    for (size_t i = 32; i < 200 && !p; i++)
        if (memcmp(b.data + i, "\x03\x00" "dim", 5) == 0) p = b.data + i;
    assert_non_null(p);
    put32(p + 5 + 1 + 4, 3); /* odd dim */
    fix_crc(&b);
    expect_failure(&b, SAGALUX_ERR_MODEL, "dim 3");
    put32(p + 5 + 1 + 4, 8); /* valid config, but every tensor shape now differs */
    fix_crc(&b);
    expect_failure(&b, SAGALUX_ERR_MODEL, "has shape");
    p[2] = 'x'; /* "xim": the key is gone */
    fix_crc(&b);
    expect_failure(&b, SAGALUX_ERR_MODEL, "'dim' is missing");
    free(b.data);
}

/* A model with one weight that is not a number (or infinite), its checksum
 * valid: only a look at the values can refuse it. */
static unsigned char *tensor_data(blob *b, const char *name, uint8_t *dtype)
{
    unsigned char *e = entry_of(b, name) + 2 + strlen(name);
    *dtype = e[0];
    const unsigned char *off = e + 2 + 4 * (size_t)e[1];
    uint64_t offset = 0, data_offset = 0;
    for (int i = 7; i >= 0; i--) offset = offset << 8 | off[i];
    for (int i = 7; i >= 0; i--) data_offset = data_offset << 8 | b->data[16 + i];
    return b->data + data_offset + offset;
}

/* mix_alpha (4 values) rewritten as fp32: the golden file stores weights as
 * fp16, and a 4-value tensor has room for fp32 in its 64-byte slot. */
static void mix_alpha_as_f32(blob *b, const float v[4])
{
    uint8_t dtype;
    unsigned char *p = tensor_data(b, "mix_alpha", &dtype);
    entry_of(b, "mix_alpha")[2 + strlen("mix_alpha")] = 0;
    memcpy(p, v, 4 * sizeof *v); /* little-endian host, as the loader assumes */
    fix_crc(b);
}

static void test_non_finite_weights(void **state)
{
    (void)state;
    const char *names[2] = {"NaN", "Inf"};
    const uint16_t halves[2] = {0x7e00, 0xfc00}; /* fp16 NaN, -Inf */
    for (int k = 0; k < 2; k++) {
        blob b = clone();
        uint8_t dtype;
        unsigned char *p = tensor_data(&b, "feat1.0.ffn.pw_out.weight", &dtype);
        assert_int_equal(dtype, 1);
        p[2 * 5] = (unsigned char)halves[k];
        p[2 * 5 + 1] = (unsigned char)(halves[k] >> 8);
        fix_crc(&b);
        char want[128];
        snprintf(want, sizeof want, "tensor 'feat1.0.ffn.pw_out.weight' holds %s at element 5", names[k]);
        expect_failure(&b, SAGALUX_ERR_MODEL, want);
        free(b.data);
    }
    const float singles[2] = {NAN, INFINITY};
    for (int k = 0; k < 2; k++) {
        blob b = clone();
        mix_alpha_as_f32(&b, (const float[4]){0.5f, 0.5f, 0.5f, singles[k]});
        char want[128];
        snprintf(want, sizeof want, "tensor 'mix_alpha' holds %s at element 3", names[k]);
        expect_failure(&b, SAGALUX_ERR_MODEL, want);
        free(b.data);
    }
    /* The same fp32 tensor, every value finite, loads: the values are what refused the others. */
    blob b = clone();
    mix_alpha_as_f32(&b, (const float[4]){0.5f, 0.5f, 0.5f, 0.5f});
    char err[512];
    if (load(&b, err, sizeof err) != SAGALUX_OK) fail_msg("finite fp32 mix_alpha refused: %s", err);
    free(b.data);
}

/* Another process changing the model file while it loads (a copy or export
 * over it as a job starts). The test's own read() and mmap() stand in for
 * the C library's: on the loader's first read or map of the armed file,
 * after the loader has taken its size, the file is cut to half (or grown).
 * A loader that maps the file then faults (SIGBUS) past the new end. */
static struct {
    int armed, fired;
    dev_t dev;
    ino_t ino;
    long delta; /* bytes added (> 0) or taken off (< 0) */
} change;

static void arm_change(const char *path, long delta)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    change.dev = sb.st_dev;
    change.ino = sb.st_ino;
    change.delta = delta;
    change.fired = 0;
    change.armed = 1;
}

static void change_if_armed(int fd)
{
    struct stat sb;
    if (!change.armed || fstat(fd, &sb) != 0 || sb.st_dev != change.dev || sb.st_ino != change.ino) return;
    change.armed = 0;
    change.fired = 1;
    if (truncate(tmp_path, sb.st_size + change.delta) != 0) abort();
}

ssize_t read(int fd, void *buf, size_t n)
{
    change_if_armed(fd);
    return (ssize_t)syscall(SYS_read, fd, buf, n);
}

void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
    void *p = (void *)syscall(SYS_mmap, addr, length, prot, flags, fd, offset);
    if (p != MAP_FAILED && fd >= 0) change_if_armed(fd);
    return p;
}

static void test_file_changes_while_loading(void **state)
{
    (void)state;
    const long deltas[2] = {-(long)original.size / 2, 4096};
    for (int k = 0; k < 2; k++) {
        FILE *fp = fopen(tmp_path, "wb");
        assert_non_null(fp);
        assert_int_equal(fwrite(original.data, 1, original.size, fp), original.size);
        fclose(fp);
        arm_change(tmp_path, deltas[k]);
        sagalux_model *m = NULL;
        char err[512] = "";
        sagalux_status st = sagalux_model_load(tmp_path, &m, err, sizeof err);
        change.armed = 0;
        if (!change.fired) fail_msg("the loader never read the file through read() or mmap()");
        assert_null(m);
        if (st != SAGALUX_ERR_IO || !strstr(err, "the model file changed while it was read") || !strstr(err, tmp_path))
            fail_msg("file %s while loading: status %s, '%s'", deltas[k] < 0 ? "cut" : "grown",
                     sagalux_status_string(st), err);
    }
}

/* Random byte damage in the header and metadata with a repaired checksum:
 * every outcome is allowed except a crash or a success with a broken model. */
/* Enhances a fixed 32x32 image with the model in path (CPU, one thread, so
 * the result is bit-for-bit repeatable). Returns a malloc'd RGB plane set. */
static float *enhance_fixed(const char *path)
{
    sagalux_model *m = NULL;
    char err[512];
    assert_int_equal(sagalux_model_load(path, &m, err, sizeof err), SAGALUX_OK);
    sagalux_context_options co = sagalux_context_options_default();
    co.device = SAGALUX_DEVICE_CPU;
    co.threads = 1;
    sagalux_context *ctx = NULL;
    assert_int_equal(sagalux_context_create(m, &co, &ctx, NULL, 0), SAGALUX_OK);
    sagalux_image *in = NULL, *out = NULL;
    assert_int_equal(sagalux_image_create(32, 32, 0, &in), SAGALUX_OK);
    uint64_t rng = 3;
    tu_fill_random(in->rgb, 3 * 32 * 32, 0.0f, 0.3f, &rng);
    sagalux_enhance_options eo = sagalux_enhance_options_default();
    assert_int_equal(sagalux_enhance(ctx, in, &eo, &out), SAGALUX_OK);
    float *rgb = malloc(3 * 32 * 32 * sizeof *rgb);
    memcpy(rgb, out->rgb, 3 * 32 * 32 * sizeof *rgb);
    sagalux_image_free(in);
    sagalux_image_free(out);
    sagalux_context_free(ctx);
    sagalux_model_free(m);
    return rgb;
}

/* Random byte changes in the metadata (key-values, tensor table), with the
 * CRC fixed so the checks behind it are reached. Each mutant must either be
 * refused with a message naming the file, or load as a model that computes
 * exactly what the original computes (the change hit something that does not
 * matter, such as the description). A mutant that loads and computes
 * something else is a broken model the loader let through. */
static void test_fuzz_metadata(void **state)
{
    (void)state;
    char err[512];
    assert_int_equal(load(&original, err, sizeof err), SAGALUX_OK);
    float *want = enhance_fixed(tmp_path);
    uint64_t rng = 7;
    size_t meta_end = 2048 < original.size ? 2048 : original.size;
    int refused = 0, harmless = 0;
    for (int iter = 0; iter < 300; iter++) {
        blob b = clone();
        int flips = 1 + iter % 4;
        for (int k = 0; k < flips; k++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = (size_t)(rng >> 33) % meta_end;
            b.data[at] = (unsigned char)(rng >> 13);
        }
        fix_crc(&b);
        sagalux_status st = load(&b, err, sizeof err);
        if (st != SAGALUX_OK) {
            if (!err[0] || !strstr(err, tmp_path)) fail_msg("mutant %d refused without naming the file: '%s'", iter, err);
            refused++;
        } else {
            float *got = enhance_fixed(tmp_path);
            size_t where;
            double diff = tu_max_abs_diff(got, want, 3 * 32 * 32, &where);
            if (diff != 0.0) fail_msg("mutant %d loaded but computes something else (max |diff| %g)", iter, diff);
            free(got);
            harmless++;
        }
        free(b.data);
    }
    /* Both outcomes must occur, or the mutation is not reaching the checks. */
    print_message("metadata mutants: %d refused, %d harmless\n", refused, harmless);
    assert_true(refused > 0 && harmless > 0);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_file_loads),   cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_truncations),        cmocka_unit_test(test_zero_bytes_and_garbage),
        cmocka_unit_test(test_bad_version),        cmocka_unit_test(test_checksum),
        cmocka_unit_test(test_lying_header),       cmocka_unit_test(test_lying_tensor_entry),
        cmocka_unit_test(test_bad_config),         cmocka_unit_test(test_fuzz_metadata),
        cmocka_unit_test(test_non_finite_weights), cmocka_unit_test(test_file_changes_while_loading),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
