/* A fuzz target with a planted fault, to prove that smoke.sh reports a
 * failing fuzzer as a failure (it once passed for weeks while its fuzzer
 * crashed). Built twice: PLANT_OOM allocates past libFuzzer's memory limit,
 * otherwise the first input aborts. Both ctest entries are WILL_FAIL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#ifdef PLANT_OOM
    (void)data;
    size_t n = (size_t)3 << 30; /* over the 2048 MB the smoke run allows */
    char *volatile p = malloc(n);
    if (p) memset(p, (int)size, n);
    free(p);
#else
    if (size > 0 && data[0] != 0x42) abort();
#endif
    return 0;
}
