/* testutil.c -- see testutil.h. */
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *testutil_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/liandong-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl)) {
        perror("mkdtemp");
        abort();
    }
    return strdup(tmpl);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

void testutil_rmdir(const char *dir)
{
    if (dir && strstr(dir, "liandong-test-"))
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

uint64_t testutil_clock_ms(void *arg)
{
    return ((testutil_clock_t *)arg)->now_ms;
}
