/* Internal logging and error-reporting helpers. */
#ifndef SX_LOG_H
#define SX_LOG_H

#include "sagalux.h"

#if defined(__GNUC__)
#define SX_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SX_PRINTF(a, b)
/* Writes a one-line reason into err (when given) and returns status, without
 * logging: for failures the caller handles (a GPU that falls back to the CPU,
 * a backend probed by AUTO), so that nothing is reported twice. */
sagalux_status sx_reason(char *err, size_t err_size, sagalux_status status, const char *fmt, ...) SX_PRINTF(4, 5);

#endif

/* Sends a formatted message to the user's log sink, if any. */
void sx_log(sagalux_log_level level, const char *fmt, ...) SX_PRINTF(2, 3);

/* Writes a one-line reason into err (when given), logs it, returns status. */
sagalux_status sx_fail(char *err, size_t err_size, sagalux_status status, const char *fmt, ...)
    SX_PRINTF(4, 5);

/* Writes a one-line reason into err (when given) and returns status, without
 * logging: for failures the caller handles (a GPU that falls back to the CPU,
 * a backend probed by AUTO), so that nothing is reported twice. */
sagalux_status sx_reason(char *err, size_t err_size, sagalux_status status, const char *fmt, ...) SX_PRINTF(4, 5);

#endif
