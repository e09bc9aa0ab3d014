/* A GPU that cannot hold an image does not fail it: with a device-memory cap
 * too small for a 256x256 image, sagalux_enhance on a CUDA context still
 * succeeds, computes exactly what a CPU context computes (the image ran on
 * the CPU), and says so once through the log. Skips, saying why, where no
 * CUDA device can be used. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sagalux.h"
#include "test_util.h"

static char warnings[4096];
static int warning_count;

static void on_log(sagalux_log_level level, const char *message, void *user)
{
    (void)user;
    if (level != SAGALUX_LOG_WARN) return;
    warning_count++;
    snprintf(warnings + strlen(warnings), sizeof warnings - strlen(warnings), "%s\n", message);
}

static sagalux_image *enhance_with(const sagalux_model *m, const sagalux_context_options *co, const sagalux_image *in,
                                   sagalux_device *ran_on)
{
    sagalux_context *ctx = NULL;
    char err[512];
    assert_int_equal(sagalux_context_create(m, co, &ctx, err, sizeof err), SAGALUX_OK);
    *ran_on = sagalux_context_device(ctx);
    sagalux_image *out = NULL;
    assert_int_equal(sagalux_enhance(ctx, in, NULL, &out), SAGALUX_OK);
    sagalux_context_free(ctx);
    return out;
}

static void test_out_of_memory_falls_back_to_cpu(void **state)
{
    (void)state;
    sagalux_model *m;
    char err[512];
    assert_int_equal(sagalux_model_load(tu_data("golden_tiny.sglx"), &m, err, sizeof err), SAGALUX_OK);
    sagalux_context_options co = sagalux_context_options_default();
    co.device = SAGALUX_DEVICE_CUDA;
    co.threads = 2;
    co.gpu_memory_limit = (size_t)8 << 20; /* the weights fit; a 256x256 image's maps do not */
    sagalux_context *probe = NULL;
    if (sagalux_context_create(m, &co, &probe, err, sizeof err) != SAGALUX_OK) {
        printf("SKIP: the GPU fallback test needs a CUDA device: %s\n", err);
        sagalux_model_free(m);
        skip();
    }
    sagalux_context_free(probe);

    sagalux_image *in;
    assert_int_equal(sagalux_image_create(256, 256, 0, &in), SAGALUX_OK);
    uint64_t rng = 5;
    tu_fill_random(in->rgb, 3 * 256 * 256, 0.0f, 0.3f, &rng);
    sagalux_set_log(on_log, NULL);
    sagalux_device dev;
    sagalux_image *got = enhance_with(m, &co, in, &dev);
    sagalux_set_log(NULL, NULL);
    assert_int_equal(dev, SAGALUX_DEVICE_CUDA);
    printf("warnings: %s", warnings);
    assert_int_equal(warning_count, 1);
    assert_non_null(strstr(warnings, "limit"));
    assert_non_null(strstr(warnings, "CPU"));

    sagalux_context_options cpu = co;
    cpu.device = SAGALUX_DEVICE_CPU;
    sagalux_image *want = enhance_with(m, &cpu, in, &dev);
    size_t where;
    assert_true(tu_max_abs_diff(got->rgb, want->rgb, 3 * 256 * 256, &where) == 0.0);
    sagalux_image_free(got);
    sagalux_image_free(want);
    sagalux_image_free(in);
    sagalux_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_out_of_memory_falls_back_to_cpu)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
