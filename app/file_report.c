/* cJSON writes the records: file names may hold any byte but NUL, and a
 * well-kept library escapes them correctly (quotes, control characters,
 * invalid UTF-8 passed through as the bytes given). */
#include "file_report.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *shown(const char *path) { return strcmp(path, "-") == 0 ? "<stdin>" : path; }

static int report_json(const file_reporter *r, const file_result *res)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return -1;
    cJSON_AddStringToObject(o, "input", res->input);
    if (res->output) cJSON_AddStringToObject(o, "output", res->output);
    else cJSON_AddNullToObject(o, "output");
    cJSON_AddStringToObject(o, "status", res->status);
    if (res->error[0]) cJSON_AddStringToObject(o, "error", res->error);
    else cJSON_AddNullToObject(o, "error");
    cJSON_AddNumberToObject(o, "ms", (double)(long)(res->ms * 10.0 + 0.5) / 10.0);
    cJSON_AddNumberToObject(o, "width", res->width);
    cJSON_AddNumberToObject(o, "height", res->height);
    cJSON_AddStringToObject(o, "device", res->device ? res->device : r->device);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) return -1;
    int rc = printf("%s\n", text) < 0 ? -1 : 0;
    cJSON_free(text);
    return rc;
}

int file_report(const file_reporter *r, const file_result *res)
{
    if (strcmp(res->status, "failed") == 0) fprintf(stderr, "sagalux: %s\n", res->error);
    if (r->json) return report_json(r, res);
    if (strcmp(res->status, "enhanced") == 0 && !r->quiet)
        return fprintf(r->results_to_stderr ? stderr : stdout, "%s -> %s (%dx%d, %.0f ms)\n", shown(res->input),
                       strcmp(res->output, "-") == 0 ? "<stdout>" : res->output, res->width, res->height, res->ms) < 0
                   ? -1
                   : 0;
    if (strcmp(res->status, "skipped") == 0 && r->verbose)
        fprintf(stderr, "sagalux: %s: skipped, %s exists\n", shown(res->input), res->output);
    return 0;
}
