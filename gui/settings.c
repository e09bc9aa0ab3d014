/* The viewer's remembered settings (settings.h). */
#include "settings.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

viewer_settings settings_default(void)
{
    viewer_settings s = {1.0f, 0.5, "split", "auto"};
    return s;
}

int settings_path(char *buf, size_t size)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && xdg[0]) n = snprintf(buf, size, "%s/sagalux/viewer.json", xdg);
    else if (home && home[0]) n = snprintf(buf, size, "%s/.config/sagalux/viewer.json", home);
    else return -1;
    return n > 0 && (size_t)n < size ? 0 : -1;
}

static char *read_small_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(65537);
    size_t n = buf ? fread(buf, 1, 65536, f) : 0;
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

void settings_load(viewer_settings *s, const char *path)
{
    char *json = read_small_file(path);
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    free(json);
    if (!root) return;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "strength");
    if (cJSON_IsNumber(v) && v->valuedouble >= 0.0 && v->valuedouble <= 1.0) s->strength = (float)v->valuedouble;
    v = cJSON_GetObjectItemCaseSensitive(root, "divider");
    if (cJSON_IsNumber(v) && v->valuedouble >= 0.0 && v->valuedouble <= 1.0) s->divider = v->valuedouble;
    v = cJSON_GetObjectItemCaseSensitive(root, "mode");
    if (cJSON_IsString(v) && strlen(v->valuestring) < sizeof s->mode) snprintf(s->mode, sizeof s->mode, "%s", v->valuestring);
    v = cJSON_GetObjectItemCaseSensitive(root, "device");
    if (cJSON_IsString(v) && strlen(v->valuestring) < sizeof s->device)
        snprintf(s->device, sizeof s->device, "%s", v->valuestring);
    cJSON_Delete(root);
}

/* mkdir -p of path's folder. */
static int make_parent(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) return 0;
    *slash = 0;
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(dir, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(dir, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

int settings_save(const viewer_settings *s, const char *path)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return -1;
    cJSON_AddNumberToObject(root, "strength", s->strength);
    cJSON_AddNumberToObject(root, "divider", s->divider);
    cJSON_AddStringToObject(root, "mode", s->mode);
    cJSON_AddStringToObject(root, "device", s->device);
    char *json = cJSON_Print(root);
    cJSON_Delete(root);
    if (!json) return -1;
    int rc = -1;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f;
    if (make_parent(path) == 0 && (f = fopen(tmp, "wb"))) {
        int ok = fputs(json, f) >= 0 && fputc('\n', f) != EOF;
        ok = (fclose(f) == 0) && ok;
        rc = ok && rename(tmp, path) == 0 ? 0 : -1;
        if (rc != 0) remove(tmp);
    }
    free(json);
    return rc;
}
