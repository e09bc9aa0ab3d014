/* One photo's way through sagalux: load (and turn upright), enhance, save.
 * Each step is called from its own thread by the pipeline; a step that
 * fails fills in the result (status and a reason naming the file) and the
 * photo goes no further. */
#ifndef SAGALUX_JOB_H
#define SAGALUX_JOB_H

#include "cli_options.h"
#include "file_report.h"
#include "sagalux.h"

typedef struct job {
    file_result r;      /* r.status stays NULL until the photo is finished */
    sagalux_image *img; /* decoded (and upright), until enhanced */
    sagalux_image *res; /* enhanced, until saved */
    sagalux_file_format source_format;
    char note[256];     /* a warning to print with the result, or "" */
    double load_ms, network_ms, save_ms; /* each step's own time (r.ms is their sum) */
    double finished_at; /* job_now_seconds() when finished */
    int disk_full;      /* the save failed for a full file system or quota */
    sagalux_claim *claim; /* the output, claimed from loading until saved (NULL: none) */
} job;

/* 0: loaded; -1: finished (failed), also when the header says that the
 * photo needs more memory to decode and enhance on ctx than the process may
 * take (checked before decoding). ctx: any of the run's contexts (only its
 * device kind is read). */
int job_load(job *j, const cli_options *opt, const sagalux_context *ctx);
/* 0: enhanced; -1: finished (failed, or "interrupted" by a cancel). device
 * names the context's device in the result. */
int job_enhance(job *j, sagalux_context *ctx, const char *device, float strength);
/* Finishes the job: saved ("enhanced") or failed. */
void job_save(job *j, const cli_options *opt);
/* Frees the images a finished or abandoned job still holds, and lets its claim go. */
void job_release(job *j);

double job_now_seconds(void);

#endif
