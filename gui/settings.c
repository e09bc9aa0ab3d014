/* The viewer's remembered settings (settings.h). */
#define _GNU_SOURCE /* getrandom */
#include "settings.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* The file's text, or NULL with errno (ENOENT when there is none; EFBIG when
 * it is too long to be the viewer's). */
static char *read_small_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(65537);
    size_t n = buf ? fread(buf, 1, 65537, f) : 0;
    int failed = !buf || ferror(f);
    fclose(f);
    if (failed || n > 65536) {
        free(buf);
        errno = failed ? EIO : EFBIG;
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

int settings_load(viewer_settings *s, const char *path, char *why, size_t why_size)
{
    char *json = read_small_file(path);
    if (!json) {
        if (errno == ENOENT || errno == ENOTDIR) return 0; /* never saved: the defaults */
        snprintf(why, why_size, "cannot be read: %s", strerror(errno));
        return -1;
    }
    cJSON *root = cJSON_Parse(json);
    free(json);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        snprintf(why, why_size, "is not valid (not a JSON object)");
        return -1;
    }
    int bad = 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "strength");
    if (cJSON_IsNumber(v) && v->valuedouble >= 0.0 && v->valuedouble <= 1.0) s->strength = (float)v->valuedouble;
    else bad |= v != NULL;
    v = cJSON_GetObjectItemCaseSensitive(root, "divider");
    if (cJSON_IsNumber(v) && v->valuedouble >= 0.0 && v->valuedouble <= 1.0) s->divider = v->valuedouble;
    else bad |= v != NULL;
    v = cJSON_GetObjectItemCaseSensitive(root, "mode");
    if (cJSON_IsString(v) && strlen(v->valuestring) < sizeof s->mode) snprintf(s->mode, sizeof s->mode, "%s", v->valuestring);
    else bad |= v != NULL;
    v = cJSON_GetObjectItemCaseSensitive(root, "device");
    if (cJSON_IsString(v) && strlen(v->valuestring) < sizeof s->device)
        snprintf(s->device, sizeof s->device, "%s", v->valuestring);
    else bad |= v != NULL;
    cJSON_Delete(root);
    if (bad) {
        snprintf(why, why_size, "has values that are not valid");
        return -1;
    }
    return 0;
}

int settings_writable(const char *path, char *why, size_t why_size)
{
    /* the save makes the folder and renames a new file into it: the nearest
     * folder that exists must let us do both */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    struct stat st;
    for (;;) {
        char *slash = strrchr(dir, '/');
        if (!slash) snprintf(dir, sizeof dir, ".");
        else slash[slash == dir] = 0;
        if (stat(dir, &st) == 0) break;
        if (errno != ENOENT || !slash || slash == dir) {
            snprintf(why, why_size, "%s: %s", dir, strerror(errno));
            return -1;
        }
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, why_size, "%s: %s", dir, strerror(ENOTDIR));
        return -1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(why, why_size, "%s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
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

/* A new file in path's folder, made exclusively under an unpredictable name,
 * so that nothing planted there (a link, a file) is followed or written to.
 * Its name into tmp; the descriptor, or -1 with errno. */
static int create_temporary(const char *path, char *tmp, size_t size)
{
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) + 1 : 0;
    for (int attempt = 0; attempt < 16; attempt++) {
        unsigned char r[8];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) return -1;
        char hex[17];
        for (int i = 0; i < 8; i++) snprintf(hex + 2 * i, 3, "%02x", r[i]);
        if (snprintf(tmp, size, "%.*s.%s.%s.tmp", dir_len, path, path + dir_len, hex) >= (int)size) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

/* Four decimals, as a person sets them: 0.9, not 0.89999997615814209. */
static double tidy(double x) { return round(x * 1e4) / 1e4; }

int settings_save(const viewer_settings *s, const char *path)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return -1;
    cJSON_AddNumberToObject(root, "strength", tidy(s->strength));
    cJSON_AddNumberToObject(root, "divider", tidy(s->divider));
    cJSON_AddStringToObject(root, "mode", s->mode);
    cJSON_AddStringToObject(root, "device", s->device);
    char *json = cJSON_Print(root);
    cJSON_Delete(root);
    if (!json) return -1;
    int rc = -1, fd = -1;
    char tmp[4200];
    if (make_parent(path) == 0 && (fd = create_temporary(path, tmp, sizeof tmp)) >= 0) {
        FILE *f = fdopen(fd, "wb");
        int ok = f && fputs(json, f) >= 0 && fputc('\n', f) != EOF;
        ok = (f ? fclose(f) == 0 : close(fd) == 0) && ok;
        rc = ok && rename(tmp, path) == 0 ? 0 : -1;
        int saved = errno;
        if (rc != 0) unlink(tmp);
        errno = saved;
    }
    free(json);
    return rc;
}
