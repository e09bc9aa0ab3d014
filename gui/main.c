/* sagalux-view: a before/after viewer for sagalux. Opens photos, a folder,
 * or what is dropped on the window; compares, zooms, sets the strength and
 * saves. Scripted with --set and --screenshot for tests and documentation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "help.h"
#include "viewer.h"

#ifndef SAGALUX_DEFAULT_MODEL
#define SAGALUX_DEFAULT_MODEL "assets/sagalux.sglx"
#endif
#ifndef SAGALUX_DEFAULT_FONT
#define SAGALUX_DEFAULT_FONT "assets/fonts/DejaVuSans.ttf"
#endif

enum { MAX_SCRIPT = 256 };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sagalux-view [options] [PHOTO... | FOLDER]\n"
            "\n"
            "Shows each photo beside its enhanced version. One photo opens its folder;\n"
            "photos or a folder can also be dropped onto the window. H in the window lists the keys.\n"
            "\n"
            "  -m, --model FILE     the model (default %s; $SAGALUX_MODEL)\n"
            "  -d, --device D       auto, cpu, cuda or cuda:N (default: the last one used, else auto)\n"
            "      --size WxH       the window's size (default 1280x800)\n"
            "      --tile N         largest texture tile in pixels (default: the renderer's limit)\n"
            "      --no-settings    neither read nor write ~/.config/sagalux/viewer.json\n"
            "                       (scripted runs read it but never write it)\n"
            "      --set A[=V]      a scripted action, run in order once the photo is enhanced:\n"
            "                       divider=P zoom=fit|S center=X,Y strength=S mode=split|side|enhanced|original\n"
            "                       flash=1|0 next prev size=WxH device=D save\n"
            "      --screenshot F   (scripted) the window as a PNG; the viewer exits after the last action\n"
            "  -v, --verbose        say what happens on stderr (renderer, frame rate while the network runs)\n"
            "  -h, --help           this text\n"
            "      --version\n"
            "\n"
            "Keys and mouse in the window:\n",
            SAGALUX_DEFAULT_MODEL);
    for (int i = 0; i < viewer_help_count; i++) fprintf(f, "  %s\n", viewer_help_lines[i]);
}

static int parse_size(const char *s, int *w, int *h)
{
    char x;
    return sscanf(s, "%d%c%d", w, &x, h) == 3 && x == 'x' && *w >= 64 && *h >= 64 && *w <= 16384 && *h <= 16384
               ? 0
               : -1;
}

int main(int argc, char **argv)
{
    viewer_options opt = {0};
    const char *env_model = getenv("SAGALUX_MODEL");
    opt.model_path = env_model && env_model[0] ? env_model : SAGALUX_DEFAULT_MODEL;
    opt.font_path = SAGALUX_DEFAULT_FONT;
    opt.device = sagalux_context_options_default();
    opt.width = 1280;
    opt.height = 800;
    opt.remember = 1;
    static script_action script[MAX_SCRIPT];
    int n_script = 0;
    char **paths = calloc((size_t)argc, sizeof *paths);
    int n_paths = 0, only_paths = 0;
    char err[512];
    if (!paths) return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDS_VALUE()                                                             \
    do {                                                                          \
        if (!next) {                                                              \
            fprintf(stderr, "sagalux-view: %s needs a value (see --help)\n", a);  \
            return 2;                                                             \
        }                                                                         \
        i++;                                                                      \
    } while (0)
        if (only_paths || a[0] != '-' || !a[1]) {
            paths[n_paths++] = argv[i];
        } else if (!strcmp(a, "--")) {
            only_paths = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("sagalux-view %s\n", SAGALUX_VERSION_STRING);
            return 0;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            opt.verbose = 1;
        } else if (!strcmp(a, "--no-settings")) {
            opt.remember = 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            NEEDS_VALUE();
            opt.model_path = next;
        } else if (!strcmp(a, "-d") || !strcmp(a, "--device")) {
            NEEDS_VALUE();
            if (viewer_parse_device(next, &opt.device) != 0) {
                fprintf(stderr, "sagalux-view: --device %s: auto, cpu, cuda or cuda:N\n", next);
                return 2;
            }
            opt.device_given = 1;
        } else if (!strcmp(a, "--size")) {
            NEEDS_VALUE();
            if (parse_size(next, &opt.width, &opt.height)) {
                fprintf(stderr, "sagalux-view: --size %s: WxH, 64 to 16384 pixels a side\n", next);
                return 2;
            }
        } else if (!strcmp(a, "--tile")) {
            NEEDS_VALUE();
            opt.tile = atoi(next);
            if (opt.tile < 16 || opt.tile > 16384) {
                fprintf(stderr, "sagalux-view: --tile %s: 16 to 16384\n", next);
                return 2;
            }
        } else if (!strcmp(a, "--set") || !strcmp(a, "--screenshot")) {
            NEEDS_VALUE();
            if (n_script == MAX_SCRIPT) {
                fprintf(stderr, "sagalux-view: more than %d scripted actions\n", MAX_SCRIPT);
                return 2;
            }
            script_action *act = &script[n_script++];
            if (!strcmp(a, "--screenshot")) {
                memset(act, 0, sizeof *act);
                act->kind = ACT_SCREENSHOT;
                snprintf(act->text, sizeof act->text, "%s", next);
            } else if (script_parse_set(next, act, err, sizeof err) != 0) {
                fprintf(stderr, "sagalux-view: %s\n", err);
                return 2;
            }
        } else {
            fprintf(stderr, "sagalux-view: %s: unknown option (see --help)\n", a);
            return 2;
        }
#undef NEEDS_VALUE
    }
    if (n_script > 0 && n_paths == 0) {
        fprintf(stderr, "sagalux-view: --set and --screenshot need a photo to show\n");
        return 2;
    }
    opt.scripted = n_script > 0;
    viewer v;
    int status = 1;
    if (viewer_init(&v, &opt, paths, n_paths) == 0) status = viewer_run(&v, n_script ? script : NULL, n_script);
    viewer_close(&v);
    free(paths);
    return status;
}
