/* Shared helpers for the cmocka tests. */
#ifndef SAGALUX_TEST_UTIL_H
#define SAGALUX_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Deterministic uniform floats in [lo, hi). */
void tu_fill_random(float *x, size_t n, float lo, float hi, uint64_t *state);

/* Largest |a - b|; *where gets its index. Prints nothing. */
double tu_max_abs_diff(const float *a, const float *b, size_t n, size_t *where);

/* Compares two arrays; on failure prints the label, the first values of both
 * and the largest difference, and returns 0. */
int tu_close(const char *label, const float *got, const float *want, size_t n, double atol, double rtol);

/* A scratch folder for one test program, /tmp/sagalux-test-TAG-PID:
 * create it (0 when done), name files in it (four paths live at a time),
 * remove it with what it holds (0 when done). */
int tu_scratch_create(const char *tag);
const char *tu_scratch(const char *name);
int tu_scratch_remove(void);

/* Path of a file under tests/data. */
const char *tu_data(const char *name);

#endif
