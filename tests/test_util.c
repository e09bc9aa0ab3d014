#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef SAGALUX_TEST_DATA
#define SAGALUX_TEST_DATA "tests/data"
#endif

void tu_fill_random(float *x, size_t n, float lo, float hi, uint64_t *state)
{
    for (size_t i = 0; i < n; i++) {
        *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = lo + (hi - lo) * (float)((*state >> 40) * (1.0 / 16777216.0));
    }
}

double tu_max_abs_diff(const float *a, const float *b, size_t n, size_t *where)
{
    double worst = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > worst || isnan(d)) {
            worst = isnan(d) ? INFINITY : d;
            at = i;
        }
    }
    if (where) *where = at;
    return worst;
}

int tu_close(const char *label, const float *got, const float *want, size_t n, double atol, double rtol)
{
    size_t bad = n;
    for (size_t i = 0; i < n; i++) {
        double tol = atol + rtol * fabs((double)want[i]);
        if (!(fabs((double)got[i] - (double)want[i]) <= tol)) {
            bad = i;
            break;
        }
    }
    if (bad == n) return 1;
    size_t at;
    double worst = tu_max_abs_diff(got, want, n, &at);
    fprintf(stderr, "%s: mismatch (atol %g, rtol %g); first bad index %zu\n", label, atol, rtol, bad);
    fprintf(stderr, "  got : ");
    for (size_t i = 0; i < 5 && i < n; i++) fprintf(stderr, "%.7f ", got[i]);
    fprintf(stderr, "\n  want: ");
    for (size_t i = 0; i < 5 && i < n; i++) fprintf(stderr, "%.7f ", want[i]);
    fprintf(stderr, "\n  largest |diff| %.3g at %zu (got %.7f, want %.7f)\n", worst, at, got[at], want[at]);
    return 0;
}

/* dir/name in one of four rotating buffers, so a call can take a few paths at once. */
static const char *joined(const char *dir, const char *name)
{
    static char path[4][1024];
    static int slot;
    slot = (slot + 1) % 4;
    snprintf(path[slot], sizeof path[slot], "%s/%s", dir, name);
    return path[slot];
}

const char *tu_data(const char *name) { return joined(SAGALUX_TEST_DATA, name); }

static char scratch_dir[256];

int tu_scratch_create(const char *tag)
{
    snprintf(scratch_dir, sizeof scratch_dir, "/tmp/sagalux-test-%s-%ld", tag, (long)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", scratch_dir);
    return system(cmd);
}

const char *tu_scratch(const char *name) { return joined(scratch_dir, name); }

int tu_scratch_remove(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", scratch_dir);
    return system(cmd);
}
