/* The viewer's settings file (gui/settings.c): the write never follows a
 * planted link, numbers are saved as a person set them, and a broken or
 * unwritable file is reported rather than silently reset. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "settings.h"

static char folder[256];

static int make_folder(void **state)
{
    (void)state;
    snprintf(folder, sizeof folder, "/tmp/sagalux-settings-XXXXXX");
    return mkdtemp(folder) ? 0 : -1;
}

static int remove_folder(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", folder);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static void test_save_never_follows_a_planted_link(void **state)
{
    (void)state;
    char path[512], victim[512], planted[600];
    snprintf(path, sizeof path, "%s/sagalux/viewer.json", folder);
    snprintf(victim, sizeof victim, "%s/victim", folder);
    snprintf(planted, sizeof planted, "%s.tmp", path);
    write_text(victim, "precious\n");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/sagalux", folder);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(symlink(victim, planted), 0); /* the old fixed temporary name */
    viewer_settings s = settings_default();
    assert_int_equal(settings_save(&s, path), 0);
    assert_string_equal(read_text(victim), "precious\n");
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(lstat(planted, &st), 0); /* left as it was */
    assert_true(S_ISLNK(st.st_mode));
    /* no temporary is left beside it: the folder holds the file and the planted link */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 2", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_numbers_are_saved_without_float_noise(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/tidy.json", folder);
    viewer_settings s = settings_default();
    s.strength = 1.0f - 0.05f - 0.05f; /* [ pressed twice */
    s.divider = 0.25000000000000006;
    assert_int_equal(settings_save(&s, path), 0);
    const char *text = read_text(path);
    assert_non_null(strstr(text, "\"strength\":\t0.9,"));
    assert_non_null(strstr(text, "\"divider\":\t0.25,"));
    viewer_settings back = settings_default();
    char why[256];
    assert_int_equal(settings_load(&back, path, why, sizeof why), 0);
    assert_true(back.strength == 0.9f);
}

static void test_broken_file_is_reported(void **state)
{
    (void)state;
    char path[512], why[256] = "";
    viewer_settings s = settings_default();
    snprintf(path, sizeof path, "%s/none.json", folder);
    assert_int_equal(settings_load(&s, path, why, sizeof why), 0); /* never saved: not an error */
    snprintf(path, sizeof path, "%s/broken.json", folder);
    write_text(path, "{\"strength\": 0.4, \"mode\": ");
    assert_int_equal(settings_load(&s, path, why, sizeof why), -1);
    assert_non_null(strstr(why, "not valid"));
    write_text(path, "{\"strength\": 7, \"mode\": \"side\"}");
    s = settings_default();
    assert_int_equal(settings_load(&s, path, why, sizeof why), -1);
    assert_string_equal(s.mode, "side"); /* what is valid is kept */
    assert_true(s.strength == 1.0f);
}

static void test_unwritable_place_is_reported(void **state)
{
    (void)state;
    char path[512], file[512], why[256] = "";
    snprintf(path, sizeof path, "%s/new/sagalux/viewer.json", folder);
    assert_int_equal(settings_writable(path, why, sizeof why), 0); /* folders to be made: fine */
    /* a file where the folder should be (fails for root too) */
    snprintf(file, sizeof file, "%s/blocked", folder);
    write_text(file, "");
    snprintf(path, sizeof path, "%s/blocked/sagalux/viewer.json", folder);
    assert_int_equal(settings_writable(path, why, sizeof why), -1);
    assert_non_null(strstr(why, "blocked"));
    viewer_settings s = settings_default();
    assert_int_equal(settings_save(&s, path), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_never_follows_a_planted_link),
        cmocka_unit_test(test_numbers_are_saved_without_float_noise),
        cmocka_unit_test(test_broken_file_is_reported),
        cmocka_unit_test(test_unwritable_place_is_reported),
    };
    return cmocka_run_group_tests(tests, make_folder, remove_folder);
}
