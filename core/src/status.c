/* Status names and the process-wide log sink. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const status_names[SAGALUX_STATUS_COUNT] = {
    [SAGALUX_OK] = "ok",
    [SAGALUX_ERR_INVALID_ARGUMENT] = "invalid argument",
    [SAGALUX_ERR_OUT_OF_MEMORY] = "out of memory",
    [SAGALUX_ERR_IO] = "input/output error",
    [SAGALUX_ERR_FORMAT] = "bad or corrupt file",
    [SAGALUX_ERR_UNSUPPORTED] = "unsupported",
    [SAGALUX_ERR_TOO_LARGE] = "too large",
    [SAGALUX_ERR_MODEL] = "unusable model",
    [SAGALUX_ERR_DEVICE] = "device not available",
    [SAGALUX_ERR_CANCELLED] = "cancelled",
    [SAGALUX_ERR_EXISTS] = "file exists",
    [SAGALUX_ERR_NO_SPACE] = "no space left on the device",
};

const char *sagalux_status_string(sagalux_status status)
{
    if ((int)status < 0 || status >= SAGALUX_STATUS_COUNT) return "unknown status";
    return status_names[status];
}

static sagalux_log_fn log_fn;
static void *log_user;

void sagalux_set_log(sagalux_log_fn fn, void *user)
{
    log_fn = fn;
    log_user = user;
}

void sx_log(sagalux_log_level level, const char *fmt, ...)
{
    if (!log_fn) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_fn(level, msg, log_user);
}

sagalux_status sx_fail(char *err, size_t err_size, sagalux_status status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (err && err_size) snprintf(err, err_size, "%s", msg);
    sx_log(SAGALUX_LOG_ERROR, "%s", msg);
    return status;
}

sagalux_status sx_reason(char *err, size_t err_size, sagalux_status status, const char *fmt, ...)
{
    if (err && err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return status;
}
