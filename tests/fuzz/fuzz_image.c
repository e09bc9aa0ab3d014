/* libFuzzer target: the PNG and JPEG decoders (and a re-encode of whatever
 * decodes). Build with -DSAGALUX_FUZZ=ON (clang). */
#include <stdint.h>
#include <stdio.h>

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
        if ((size_t)img->width * img->height <= 1u << 16) {
            char path[64];
            snprintf(path, sizeof path, "/tmp/sagalux-fuzz-%d.png", (int)(size % 7));
            sagalux_save_options opt = sagalux_save_options_default(SAGALUX_FORMAT_PNG);
            sagalux_image_save(img, path, &opt, err, sizeof err);
            remove(path);
        }
        sagalux_image_free(img);
    }
    return 0;
}
