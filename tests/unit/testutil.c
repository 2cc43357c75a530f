/* testutil.c -- see testutil.h. */
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/store.h"

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

int testutil_set_origin_cb(store_txn_t *t, void *arg)
{
    return store_meta_put(t, "origin", arg, strlen(arg));
}

uint64_t testutil_clock_ms(void *arg)
{
    return ((testutil_clock_t *)arg)->now_ms;
}

void testutil_log_copy(store_t *s, const char *origin, testutil_log_t *out)
{
    store_txn_t *t;
    store_head_t h;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_head_get(t, origin, &h), 0);
    out->n = h.seq;
    out->raw = calloc(h.seq, sizeof *out->raw);
    out->len = calloc(h.seq, sizeof *out->len);
    for (uint64_t i = 0; i < h.seq; i++) {
        const uint8_t *raw;
        assert_int_equal(store_event_get(t, origin, i + 1, &raw, &out->len[i]), 0);
        out->raw[i] = malloc(out->len[i]);
        memcpy(out->raw[i], raw, out->len[i]);
    }
    store_read_end(&t);
}

void testutil_log_free(testutil_log_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->raw[i]);
    free(l->raw);
    free(l->len);
}
