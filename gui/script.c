/* Parsing the viewer's scripted actions (script.h). */
#include "script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int number(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi)) return -1;
    *out = v;
    return 0;
}

static int pair(const char *s, char sep, double lo, double hi, double *a, double *b)
{
    char first[64];
    const char *at = strchr(s, sep);
    if (!at || (size_t)(at - s) >= sizeof first) return -1;
    memcpy(first, s, (size_t)(at - s));
    first[at - s] = 0;
    return number(first, lo, hi, a) || number(at + 1, lo, hi, b) ? -1 : 0;
}

int script_parse_set(const char *arg, script_action *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    const char *eq = strchr(arg, '=');
    size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
    const char *v = eq ? eq + 1 : "";
#define NAME(s) (name_len == strlen(s) && strncmp(arg, s, name_len) == 0)
#define BAD(...) return snprintf(err, err_size, __VA_ARGS__), -1
    if (NAME("divider")) {
        out->kind = ACT_DIVIDER;
        if (number(v, 0.0, 1.0, &out->a)) BAD("--set divider=P: P from 0 to 1");
    } else if (NAME("zoom")) {
        out->kind = ACT_ZOOM;
        if (strcmp(v, "fit") != 0 && number(v, 1.0 / 64, 32.0, &out->a))
            BAD("--set zoom=fit or zoom=S, S screen pixels per photo pixel (1/64 to 32; 1 is 100%%)");
    } else if (NAME("center")) {
        out->kind = ACT_CENTER;
        if (pair(v, ',', 0.0, 1e6, &out->a, &out->b)) BAD("--set center=X,Y: a photo pixel");
    } else if (NAME("strength")) {
        out->kind = ACT_STRENGTH;
        if (number(v, 0.0, 1.0, &out->a)) BAD("--set strength=S: S from 0 to 1");
    } else if (NAME("mode")) {
        out->kind = ACT_MODE;
        if (strcmp(v, "split") && strcmp(v, "side") && strcmp(v, "enhanced") && strcmp(v, "original"))
            BAD("--set mode=split|side|enhanced|original");
        snprintf(out->text, sizeof out->text, "%s", v);
    } else if (NAME("flash")) {
        out->kind = ACT_FLASH;
        if (strcmp(v, "0") && strcmp(v, "1")) BAD("--set flash=1 or flash=0");
        out->a = v[0] == '1';
    } else if (NAME("next") || NAME("prev")) {
        out->kind = NAME("next") ? ACT_NEXT : ACT_PREV;
        if (eq) BAD("--set next and --set prev take no value");
    } else if (NAME("size")) {
        out->kind = ACT_SIZE;
        if (pair(v, 'x', 64, 16384, &out->a, &out->b)) BAD("--set size=WxH: 64 to 16384 pixels a side");
    } else if (NAME("device")) {
        out->kind = ACT_DEVICE;
        if (!v[0] || strlen(v) >= 16) BAD("--set device=auto|cpu|cuda|cuda:N");
        snprintf(out->text, sizeof out->text, "%s", v);
    } else if (NAME("save")) {
        out->kind = ACT_SAVE;
        if (eq) BAD("--set save takes no value (the name is chosen as Ctrl+S chooses it)");
    } else {
        BAD("--set %.*s: not an action (divider, zoom, center, strength, mode, flash, next, prev, size, device, save)",
            (int)name_len, arg);
    }
    return 0;
#undef NAME
#undef BAD
}
