/* Never killed for memory: what enhancing a photo needs grows with its
 * pixels; what the process may take follows RLIMIT_AS; sagalux_enhance and
 * sagalux_enhance_network refuse, before allocating, a photo that needs more
 * than that, with a reason naming its size and the need; a photo's size
 * reads from its header alone. The RLIMIT_AS cases run in a child process
 * (the limit is not undone) and are skipped, saying why, under
 * AddressSanitizer, whose shadow memory cannot live under such a limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sagalux.h"
#include "test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static sagalux_context *cpu_context(sagalux_model **model)
{
    char err[512];
    assert_int_equal(sagalux_model_load(tu_data("golden_tiny.sglx"), model, err, sizeof err), SAGALUX_OK);
    sagalux_context_options o = sagalux_context_options_default();
    o.device = SAGALUX_DEVICE_CPU;
    o.threads = 1;
    sagalux_context *ctx = NULL;
    assert_int_equal(sagalux_context_create(*model, &o, &ctx, err, sizeof err), SAGALUX_OK);
    return ctx;
}

static void test_need_grows_with_pixels(void **state)
{
    (void)state;
    sagalux_model *m;
    sagalux_context *ctx = cpu_context(&m);
    uint64_t small, mid, big, wide, first;
    /* Before the first run the need also holds the matrix library's work
     * buffers (OpenBLAS maps them on its first product; after that they
     * are in use and in the room's accounting, not in the need). */
    assert_int_equal(sagalux_context_memory_need(ctx, 64, 48, &first), SAGALUX_OK);
    sagalux_image *in = NULL, *out = NULL;
    assert_int_equal(sagalux_image_create(64, 48, 0, &in), SAGALUX_OK);
    assert_int_equal(sagalux_enhance(ctx, in, NULL, &out), SAGALUX_OK);
    assert_int_equal(sagalux_context_memory_need(ctx, 64, 48, &small), SAGALUX_OK);
    assert_true(first >= small);
    assert_true(first - small == 0 || first - small == 128ull << 20); /* one thread: one buffer, or none */
    assert_int_equal(sagalux_context_memory_need(ctx, 640, 480, &mid), SAGALUX_OK);
    assert_int_equal(sagalux_context_memory_need(ctx, 6400, 4800, &big), SAGALUX_OK);
    assert_int_equal(sagalux_context_memory_need(ctx, 4800, 6400, &wide), SAGALUX_OK);
    /* At least the padded copies and the result (40 bytes a pixel), and
     * about in proportion to the pixels (100x more pixels each step). */
    assert_true(small >= 64ull * 48 * 40);
    assert_true(mid > 80 * small && mid < 120 * small);
    assert_true(big > 95 * mid && big < 105 * mid);
    assert_true(wide > 95 * mid && wide < 105 * mid);
    /* What the context holds after a run is what the need counted (its
     * arena and padded copies; plus the result, which the caller holds). */
    assert_int_equal(small, sagalux_context_peak_bytes(ctx) + 4ull * 64 * 48 * sizeof(float));
    uint64_t b;
    assert_int_equal(sagalux_context_memory_need(ctx, 0, 48, &b), SAGALUX_ERR_INVALID_ARGUMENT);
    assert_int_equal(sagalux_context_memory_need(ctx, 40000, 48, &b), SAGALUX_ERR_TOO_LARGE);
    sagalux_image_free(in);
    sagalux_image_free(out);
    sagalux_context_free(ctx);
    sagalux_model_free(m);
}

static void test_available_is_below_meminfo(void **state)
{
    (void)state;
    uint64_t a = sagalux_memory_available();
    assert_true(a > 0);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    assert_true(a <= (uint64_t)pages * (uint64_t)page);
}

/* The VmSize of this process, bytes. */
static uint64_t address_space_in_use(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %llu kB", &kb) == 1) break;
    if (f) fclose(f);
    return (uint64_t)kb * 1024;
}

/* In a child, under RLIMIT_AS = what is in use + room: available is at
 * most room, and a photo that needs more is refused with the reason. The
 * child's exit status says which check failed (0: all passed). */
static int child_under_limit(uint64_t room)
{
    sagalux_model *m;
    char err[512];
    if (sagalux_model_load(tu_data("golden_tiny.sglx"), &m, err, sizeof err) != SAGALUX_OK) return 10;
    sagalux_context_options o = sagalux_context_options_default();
    o.device = SAGALUX_DEVICE_CPU;
    o.threads = 1;
    sagalux_context *ctx = NULL;
    if (sagalux_context_create(m, &o, &ctx, err, sizeof err) != SAGALUX_OK) return 11;
    sagalux_image *in = NULL, *out = NULL;
    if (sagalux_image_create(1000, 750, 0, &in) != SAGALUX_OK) return 12;
    uint64_t need;
    if (sagalux_context_memory_need(ctx, 1000, 750, &need) != SAGALUX_OK || need <= room) return 13;
    /* A first run before the limit: OpenBLAS takes its buffers then (under
     * the limit its allocator would retry for ever). */
    sagalux_image *small = NULL;
    if (sagalux_image_create(32, 32, 0, &small) != SAGALUX_OK || sagalux_enhance(ctx, small, NULL, &out) != SAGALUX_OK)
        return 19;
    sagalux_image_free(out);
    out = NULL;
    struct rlimit rl = {address_space_in_use() + room, RLIM_INFINITY};
    if (setrlimit(RLIMIT_AS, &rl) != 0) return 14;
    uint64_t a = sagalux_memory_available();
    if (a > room) return 15;
    if (sagalux_enhance(ctx, in, NULL, &out) != SAGALUX_ERR_OUT_OF_MEMORY || out) return 16;
    const char *why = sagalux_context_error(ctx);
    if (!strstr(why, "1000x750: needs ") || !strstr(why, " available")) {
        fprintf(stderr, "reason: %s\n", why);
        return 17;
    }
    if (sagalux_enhance_network(ctx, in, &out) != SAGALUX_ERR_OUT_OF_MEMORY || out) return 18;
    /* A photo that fits still runs under the same limit. */
    if (sagalux_enhance(ctx, small, NULL, &out) != SAGALUX_OK) return 20;
    sagalux_image_free(out);
    sagalux_image_free(small);
    sagalux_image_free(in);
    sagalux_context_free(ctx);
    sagalux_model_free(m);
    return 0;
}

static void test_enhance_refuses_past_rlimit_as(void **state)
{
    (void)state;
    if (UNDER_ASAN) {
        printf("skipped: AddressSanitizer build (its shadow memory cannot live under RLIMIT_AS)\n");
        skip();
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(60); /* a hang is a failure, not a stuck test */
        _exit(child_under_limit(64u << 20));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status)) fprintf(stderr, "child ended by signal %d\n", WTERMSIG(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_probe_reads_the_header(void **state)
{
    (void)state;
    int w = 0, h = 0;
    char err[256] = "";
    assert_int_equal(sagalux_image_probe(tu_data("bomb_18760x17490.jpg"), &w, &h, err, sizeof err), SAGALUX_OK);
    assert_int_equal(w, 18760);
    assert_int_equal(h, 17490);
    assert_int_equal(sagalux_image_probe(tu_data("tiny_dark.png"), &w, &h, err, sizeof err), SAGALUX_OK);
    sagalux_image *img = NULL;
    assert_int_equal(sagalux_image_load(tu_data("tiny_dark.png"), &img, err, sizeof err), SAGALUX_OK);
    assert_int_equal(w, img->width);
    assert_int_equal(h, img->height);
    sagalux_image_free(img);
    assert_int_equal(sagalux_image_probe(tu_data("tiny_meta.jpg"), &w, &h, err, sizeof err), SAGALUX_OK);
    assert_int_equal(sagalux_image_load(tu_data("tiny_meta.jpg"), &img, err, sizeof err), SAGALUX_OK);
    assert_int_equal(w, img->width);
    assert_int_equal(h, img->height);
    sagalux_image_free(img);
    /* In memory: a truncated header and a file of another kind fail. */
    static const unsigned char png_start[12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};
    assert_int_equal(sagalux_image_probe_memory(png_start, sizeof png_start, "cut", &w, &h, err, sizeof err),
                     SAGALUX_ERR_FORMAT);
    assert_non_null(strstr(err, "cut: corrupt or truncated PNG header"));
    assert_int_equal(sagalux_image_probe_memory("hello, world", 12, "text", &w, &h, err, sizeof err),
                     SAGALUX_ERR_FORMAT);
    assert_non_null(strstr(err, "text: not a PNG or JPEG image"));
    assert_true(sagalux_image_decode_bytes(100, 10) >= 100 * 10 * 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_need_grows_with_pixels),
        cmocka_unit_test(test_available_is_below_meminfo),
        cmocka_unit_test(test_enhance_refuses_past_rlimit_as),
        cmocka_unit_test(test_probe_reads_the_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
