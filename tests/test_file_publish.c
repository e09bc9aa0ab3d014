/* Writing a file in a shared folder (core/src/file_publish.c), with both
 * kinds of temporary (unnamed where the file system has them, and the named
 * fallback every file system gets): the final move replaces nothing unless
 * asked, also what appeared after the temporary was opened, and never
 * follows a link at the destination; a failed write leaves nothing; the
 * cleanup removes exactly the abandoned temporaries of ours. */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "file_publish.h"
#include "sagalux.h"
#include "test_util.h"

/* Entries of the scratch folder, sorted, as one line ("a b c "). */
static const char *listing(void)
{
    static char out[1024];
    struct dirent **names;
    int n = scandir(tu_scratch(""), &names, NULL, alphasort);
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, ".."))
            snprintf(out + strlen(out), sizeof out - strlen(out), "%s ", names[i]->d_name);
        free(names[i]);
    }
    free(names);
    return out;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *read_text(const char *path)
{
    static char buf[256];
    FILE *f = fopen(path, "r");
    if (!f) return "(missing)";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void empty_scratch(void)
{
    tu_scratch_remove();
    assert_int_equal(tu_scratch_create("publish"), 0);
}

/* Opens a temporary for path, writes text to it. */
static void open_and_write(sx_publish *p, const char *path, sx_temp_kind kind, const char *text)
{
    char err[256] = "";
    assert_int_equal(sx_publish_open(p, path, kind, path, err, sizeof err), SAGALUX_OK);
    assert_int_equal(write(p->fd, text, strlen(text)), (ssize_t)strlen(text));
}

static void publishes_without_replacing(sx_temp_kind kind)
{
    empty_scratch();
    char out[512], err[256];
    snprintf(out, sizeof out, "%s", tu_scratch("out.png"));
    sx_publish p;

    /* Nothing there: the file appears whole, and only it. */
    open_and_write(&p, out, kind, "first");
    assert_int_equal(sx_publish_commit(&p, 0, out, err, sizeof err), SAGALUX_OK);
    assert_string_equal(read_text(out), "first");
    assert_string_equal(listing(), "out.png ");

    /* Something appears while the temporary is written (another run): it stays. */
    open_and_write(&p, out, kind, "second");
    assert_int_equal(sx_publish_commit(&p, 0, out, err, sizeof err), SAGALUX_ERR_EXISTS);
    assert_string_equal(read_text(out), "first");
    assert_string_equal(listing(), "out.png ");

    /* Asked to replace: replaced. */
    open_and_write(&p, out, kind, "third");
    assert_int_equal(sx_publish_commit(&p, 1, out, err, sizeof err), SAGALUX_OK);
    assert_string_equal(read_text(out), "third");
    assert_string_equal(listing(), "out.png ");

    /* A dangling link at the destination is something there; replacing
     * replaces the link, never what it points to. */
    char target[512], link_path[512];
    snprintf(target, sizeof target, "%s", tu_scratch("target"));
    snprintf(link_path, sizeof link_path, "%s", tu_scratch("link.png"));
    assert_int_equal(symlink(target, link_path), 0);
    open_and_write(&p, link_path, kind, "fourth");
    assert_int_equal(sx_publish_commit(&p, 0, link_path, err, sizeof err), SAGALUX_ERR_EXISTS);
    assert_true(access(target, F_OK) != 0);
    write_text(target, "precious");
    open_and_write(&p, link_path, kind, "fifth");
    assert_int_equal(sx_publish_commit(&p, 1, link_path, err, sizeof err), SAGALUX_OK);
    struct stat sb;
    assert_int_equal(lstat(link_path, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_string_equal(read_text(link_path), "fifth");
    assert_string_equal(read_text(target), "precious");

    /* A failed write leaves nothing behind. */
    open_and_write(&p, tu_scratch("never.png"), kind, "partial");
    sx_publish_abort(&p);
    assert_string_equal(listing(), "link.png out.png target ");
}

static void test_unnamed_temporary(void **state)
{
    (void)state;
    publishes_without_replacing(SX_TEMP_ANY);
    /* Where the file system has unnamed files, that is what was used. */
    int probe = open(tu_scratch(""), O_TMPFILE | O_WRONLY, 0600);
    if (probe < 0) {
        printf("(this file system has no O_TMPFILE: the named fallback stood in)\n");
        return;
    }
    close(probe);
    sx_publish p;
    char err[256];
    open_and_write(&p, tu_scratch("u.png"), SX_TEMP_ANY, "x");
    assert_string_equal(p.temp_name, "");
    assert_string_equal(listing(), "link.png out.png target ");
    assert_int_equal(sx_publish_commit(&p, 0, tu_scratch("u.png"), err, sizeof err), SAGALUX_OK);
}

static void test_named_temporary(void **state)
{
    (void)state;
    publishes_without_replacing(SX_TEMP_NAMED);
}

/* The named temporary: a new regular file with our name, locked while it is
 * written, so a cleaner running beside the writer leaves it alone. */
static void test_named_temporary_is_locked_while_written(void **state)
{
    (void)state;
    empty_scratch();
    char out[512], err[256];
    snprintf(out, sizeof out, "%s", tu_scratch("a.jpg"));
    sx_publish p;
    open_and_write(&p, out, SX_TEMP_NAMED, "data");
    assert_true(sx_is_temp_name(p.temp_name));
    int removed = -1;
    assert_int_equal(sagalux_remove_abandoned_temporaries(tu_scratch(""), &removed), SAGALUX_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(sx_publish_commit(&p, 0, out, err, sizeof err), SAGALUX_OK);
    assert_string_equal(listing(), "a.jpg ");
}

/* The cleanup: our name, unlocked, a regular file: removed; anything else
 * (a user's file with an old-style name, a near miss, a link with our name,
 * one another writer holds locked) stays. */
static void test_cleanup_removes_only_abandoned(void **state)
{
    (void)state;
    empty_scratch();
    write_text(tu_scratch(".sagalux-Abandoned123.tmp"), "");
    write_text(tu_scratch("a.jpg.tmp-999999"), "user's");
    write_text(tu_scratch(".sagalux-Short.tmp"), "");
    write_text(tu_scratch("victim"), "precious");
    char victim[512];
    snprintf(victim, sizeof victim, "%s", tu_scratch("victim"));
    assert_int_equal(symlink(victim, tu_scratch(".sagalux-LinkLinkLink.tmp")), 0);
    write_text(tu_scratch(".sagalux-HeldByWriter.tmp"), "");
    /* Another open file description holding the lock stands for a live
     * writer (in this process, on another host: the same to the lock). */
    int held = open(tu_scratch(".sagalux-HeldByWriter.tmp"), O_RDWR);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    assert_int_equal(fcntl(held, F_OFD_SETLK, &fl), 0);
    int removed = -1;
    assert_int_equal(sagalux_remove_abandoned_temporaries(tu_scratch(""), &removed), SAGALUX_OK);
    assert_int_equal(removed, 1);
    assert_string_equal(listing(),
                        ".sagalux-HeldByWriter.tmp .sagalux-LinkLinkLink.tmp .sagalux-Short.tmp a.jpg.tmp-999999 victim ");
    assert_string_equal(read_text(victim), "precious");
    close(held); /* its writer died: now it is abandoned */
    assert_int_equal(sagalux_remove_abandoned_temporaries(tu_scratch(""), &removed), SAGALUX_OK);
    assert_int_equal(removed, 1);
    assert_string_equal(listing(), ".sagalux-LinkLinkLink.tmp .sagalux-Short.tmp a.jpg.tmp-999999 victim ");
}

/* A name of NAME_MAX bytes is written (the temporary's own name is short);
 * one byte more is refused before anything is created. */
static void test_longest_name(void **state)
{
    (void)state;
    empty_scratch();
    char name[300], path[1024], err[1024];
    memset(name, 'n', 251);
    snprintf(name + 251, sizeof name - 251, ".png");
    snprintf(path, sizeof path, "%s", tu_scratch(name));
    sx_publish p;
    open_and_write(&p, path, SX_TEMP_NAMED, "x");
    assert_int_equal(sx_publish_commit(&p, 0, path, err, sizeof err), SAGALUX_OK);
    snprintf(path + strlen(path) - 4, 16, "x.png");
    assert_int_equal(sx_publish_open(&p, path, SX_TEMP_ANY, path, err, sizeof err), SAGALUX_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "longer than"));
}

/* Claims: the first holder wins, the others are told while it holds the
 * claim; a released claim leaves nothing; the claim of a holder that died
 * (a child that exits without releasing) is taken over, and the cleanup
 * removes it. */
static void test_claims(void **state)
{
    (void)state;
    empty_scratch();
    char out[512];
    snprintf(out, sizeof out, "%s", tu_scratch("photo.jpg"));
    sagalux_claim *a = NULL, *b = NULL;
    assert_int_equal(sagalux_claim_output(out, &a), SAGALUX_OK);
    assert_int_equal(sagalux_claim_output(out, &b), SAGALUX_ERR_EXISTS);
    assert_null(b);
    sagalux_claim_release(a);
    assert_string_equal(listing(), "");
    pid_t child = fork();
    if (child == 0) _exit(sagalux_claim_output(out, &a) == SAGALUX_OK ? 0 : 1); /* dies holding it */
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_string_not_equal(listing(), "");
    int removed = 0;
    assert_int_equal(sagalux_remove_abandoned_temporaries(tu_scratch(""), &removed), SAGALUX_OK);
    assert_int_equal(removed, 1);
    child = fork();
    if (child == 0) _exit(sagalux_claim_output(out, &a) == SAGALUX_OK ? 0 : 1);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_int_equal(sagalux_claim_output(out, &a), SAGALUX_OK); /* left behind, unlocked: taken over */
    sagalux_claim_release(a);
    assert_string_equal(listing(), "");
}

static int teardown(void **state)
{
    (void)state;
    return tu_scratch_remove();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unnamed_temporary),
        cmocka_unit_test(test_named_temporary),
        cmocka_unit_test(test_named_temporary_is_locked_while_written),
        cmocka_unit_test(test_cleanup_removes_only_abandoned),
        cmocka_unit_test(test_longest_name),
        cmocka_unit_test(test_claims),
    };
    if (tu_scratch_create("publish") != 0) return 1;
    return cmocka_run_group_tests(tests, NULL, teardown);
}
