/* How much memory this process may still take: the least of what the
 * machine has free, what its control group allows and what its resource
 * limits allow. A photo whose plan needs more is refused before anything is
 * allocated, rather than the kernel's OOM killer ending the process (a
 * 6000x4000 photo on the CPU grew to 14 GB and took the viewer with it). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "sagalux.h"

static uint64_t least(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* The value after "key:" in a /proc file of "Key:   123 kB" lines, in bytes
 * (kB multiplied out); UINT64_MAX when absent. */
static uint64_t proc_field(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f) return UINT64_MAX;
    char line[256];
    size_t klen = strlen(key);
    uint64_t v = UINT64_MAX;
    while (fgets(line, sizeof line, f)) {
        unsigned long long n;
        char unit[8] = "";
        if (strncmp(line, key, klen) == 0 && line[klen] == ':' && sscanf(line + klen + 1, "%llu %7s", &n, unit) >= 1) {
            v = strcmp(unit, "kB") == 0 ? (uint64_t)n * 1024 : (uint64_t)n;
            break;
        }
    }
    fclose(f);
    return v;
}

/* A file holding one number ("max", or a number near 2^63 on cgroup v1,
 * means no limit: UINT64_MAX, as does a file that is not there). */
static uint64_t read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return UINT64_MAX;
    unsigned long long n;
    int got = fscanf(f, "%llu", &n);
    fclose(f);
    return got == 1 && n < (1ull << 62) ? (uint64_t)n : UINT64_MAX;
}

/* A "key value" line of a cgroup's memory.stat (bytes); 0 when absent. */
static uint64_t stat_field(const char *dir, const char *key)
{
    char path[4096], name[64];
    if (snprintf(path, sizeof path, "%s/memory.stat", dir) >= (int)sizeof path) return 0;
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    unsigned long long v, found = 0;
    while (fscanf(f, "%63s %llu", name, &v) == 2)
        if (strcmp(name, key) == 0) {
            found = v;
            break;
        }
    fclose(f);
    return found;
}

/* limit - usage in folder dir (names of the two files given), UINT64_MAX
 * without a limit there. The usage counts the page cache, and a batch run
 * fills its group with the cache of the photos it reads and writes: its
 * inactive part (cache_key in memory.stat) is given back on demand, so it
 * counts as room. */
static uint64_t group_room(const char *dir, const char *limit_name, const char *usage_name, const char *cache_key)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, limit_name) >= (int)sizeof path) return UINT64_MAX;
    uint64_t limit = read_number(path);
    if (limit == UINT64_MAX) return UINT64_MAX;
    if (snprintf(path, sizeof path, "%s/%s", dir, usage_name) >= (int)sizeof path) return UINT64_MAX;
    uint64_t usage = read_number(path);
    if (usage == UINT64_MAX) return UINT64_MAX;
    uint64_t cache = stat_field(dir, cache_key);
    usage = cache < usage ? usage - cache : 0;
    return usage < limit ? limit - usage : 0;
}

/* The least room of the group and every group above it (a limit may be
 * set on a parent) under the hierarchy mounted at mount; rel is the
 * process's path from /proc/self/cgroup. */
static uint64_t hierarchy_room(const char *mount, const char *rel, const char *limit_name, const char *usage_name,
                               const char *cache_key)
{
    char dir[4096];
    int n = snprintf(dir, sizeof dir, "%s%s", mount, rel);
    if (n <= 0 || (size_t)n >= sizeof dir) return UINT64_MAX;
    while (n > 0 && dir[n - 1] == '/') dir[--n] = 0;
    uint64_t room = UINT64_MAX;
    for (;;) {
        room = least(room, group_room(dir, limit_name, usage_name, cache_key));
        char *slash = strrchr(dir, '/');
        if (!slash || (size_t)(slash - dir) < strlen(mount)) break;
        *slash = 0;
    }
    /* In a container the process's path may not exist under the mount: its
     * own group is then the mount's root, already read above. */
    return least(room, group_room(mount, limit_name, usage_name, cache_key));
}

/* cgroup v2 ("0::/path") and v1 ("N:memory:/path", or a list holding memory). */
static uint64_t cgroup_room(void)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return UINT64_MAX;
    uint64_t room = UINT64_MAX;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        *c2 = 0;
        const char *controllers = c1 + 1, *rel = c2 + 1;
        if (strcmp(line, "0") == 0 && controllers[0] == 0) {
            room = least(room, hierarchy_room("/sys/fs/cgroup", rel, "memory.max", "memory.current", "inactive_file"));
        } else {
            char list[256];
            snprintf(list, sizeof list, ",%s,", controllers);
            if (strstr(list, ",memory,"))
                room = least(room, hierarchy_room("/sys/fs/cgroup/memory", rel, "memory.limit_in_bytes",
                                                  "memory.usage_in_bytes", "total_inactive_file"));
        }
    }
    fclose(f);
    return room;
}

/* A resource limit minus what the process already has of it. */
static uint64_t rlimit_room(int resource, const char *status_key)
{
    struct rlimit rl;
    if (getrlimit(resource, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return UINT64_MAX;
    uint64_t used = proc_field("/proc/self/status", status_key);
    if (used == UINT64_MAX) return UINT64_MAX;
    return used < (uint64_t)rl.rlim_cur ? (uint64_t)rl.rlim_cur - used : 0;
}

uint64_t sagalux_memory_available(void)
{
    uint64_t room = proc_field("/proc/meminfo", "MemAvailable");
    room = least(room, cgroup_room());
    room = least(room, rlimit_room(RLIMIT_AS, "VmSize"));
    room = least(room, rlimit_room(RLIMIT_DATA, "VmData"));
    return room;
}
