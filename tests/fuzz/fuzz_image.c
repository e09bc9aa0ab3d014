/* libFuzzer target: the PNG and JPEG decoders (and a re-encode, as PNG or
 * JPEG, of whatever decodes). Build with -DSAGALUX_FUZZ=ON (clang). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sagalux.h"

/* 16 MP (about 200 MB of float RGB): larger declared sizes must be refused
 * cleanly, and a run stays inside libFuzzer's 2 GB memory limit. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sagalux_set_image_pixel_limit(1u << 24);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sagalux_image *img = NULL;
    char err[256];
    if (sagalux_image_load_memory(data, size, NULL, &img, err, sizeof err) == SAGALUX_OK) {
        /* Decoded sizes are bounded by the caps; keep re-encoding cheap. */
        /* Both encoders, so the metadata conversions (hex profiles, APP13
         * splitting, thumbnail removal) see fuzzed blocks too. */
        if ((size_t)img->width * img->height <= 1u << 16) {
            sagalux_save_options opt = sagalux_save_options_default(size & 1 ? SAGALUX_FORMAT_JPEG : SAGALUX_FORMAT_PNG);
            void *out = NULL;
            size_t out_size = 0;
            sagalux_image_save_memory(img, &opt, NULL, &out, &out_size, err, sizeof err);
            free(out);
        }
        sagalux_image_free(img);
    }
    return 0;
}
