/* libFuzzer target: the .sglx parser and the model binder. The CRC is
 * recomputed over the input first, so mutations reach the checks behind it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "model_file.h"
#include "network.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8 || size > (1u << 24)) return 0;
    uint8_t *copy = malloc(size);
    memcpy(copy, data, size);
    uLong crc = crc32(crc32(0L, Z_NULL, 0), copy, (uInt)(size - 4));
    for (int i = 0; i < 4; i++) copy[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    sglx_file *f = NULL;
    char err[256];
    if (sglx_parse(copy, size, "fuzz", &f, err, sizeof err) == SAGALUX_OK) {
        sagalux_model *m = NULL;
        if (sx_model_from_file(f, &m, err, sizeof err) == SAGALUX_OK) sagalux_model_free(m);
        sglx_close(f);
    }
    free(copy);
    return 0;
}
