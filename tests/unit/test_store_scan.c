/*
 * test_store_scan.c -- scans over the store: every chain verified by a full
 * scan after logs arrived backwards, and subtree scans of heads and events
 * that respect segment boundaries ("hrb/wu" is not under "hrb/w").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/store.h"
#include "store_fixture.h"

static void test_store_chain_verifies_by_full_scan(void **state)
{
    fx_t *f = *state;
    static const char *const origins[] = {"hrb/a", "hrb/b", "hrb/b/x", "hrb/c"};
    f->s = open_origin(f, "hub", "hrb", 0);
    assert_int_equal(append_n(f->s, 4, NULL), 0);
    for (size_t k = 0; k < 4; k++) {
        char name[8];
        log_t l;
        snprintf(name, sizeof name, "s%zu", k);
        make_log(f, name, origins[k], (int)k + 2, NULL, &l);
        for (size_t seq = l.n; seq >= 1; seq--)     /* backwards: all held, then drained */
            put_one(f->s, &l, seq);
        testutil_log_free(&l);
    }
    verify_t v = verify_all(f->s, "");
    assert_int_equal(v.events, 4 + 2 + 3 + 4 + 5);
    assert_int_equal(v.origins, 5);
    store_info_t i = info_of(f->s);
    assert_int_equal(i.events, v.events);
    assert_int_equal(i.origins, 5);
    assert_int_equal(i.held, 0);
}

typedef struct names {
    char list[512];
    uint64_t n;
} names_t;

static int name_head_cb(const char *origin, const store_head_t *h, void *arg)
{
    names_t *nm = arg;
    (void)h;
    strcat(nm->list, origin);
    strcat(nm->list, " ");
    nm->n++;
    return 0;
}

static int name_event_cb(const char *origin, uint64_t seq, const uint8_t *raw, size_t len,
                         void *arg)
{
    names_t *nm = arg;
    char one[200];
    (void)raw; (void)len;
    snprintf(one, sizeof one, "%s#%llu ", origin, (unsigned long long)seq);
    strcat(nm->list, one);
    nm->n++;
    return 0;
}

static void heads_under(store_t *s, const char *prefix, const char *want)
{
    names_t nm = {{0}, 0};
    store_txn_t *t;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_heads_foreach(t, prefix, name_head_cb, &nm), 0);
    store_read_end(&t);
    assert_string_equal(nm.list, want);
}

static void events_under(store_t *s, const char *prefix, uint64_t since, const char *want)
{
    names_t nm = {{0}, 0};
    store_txn_t *t;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_events_foreach(t, prefix, since, name_event_cb, &nm), 0);
    store_read_end(&t);
    assert_string_equal(nm.list, want);
}

static void test_store_prefix_scans_respect_segments(void **state)
{
    fx_t *f = *state;
    static const char *const origins[] = {"hrb/wu", "hrb/wu-x", "hrb/wu/a", "hrb/wuchang",
                                          "hrb/wuchang/shanhe", "hrb/w"};
    f->s = open_origin(f, "hub", "hrb", 0);
    assert_int_equal(append_n(f->s, 1, NULL), 0);
    for (size_t k = 0; k < 6; k++) {
        char name[8];
        log_t l;
        snprintf(name, sizeof name, "s%zu", k);
        make_log(f, name, origins[k], 2, NULL, &l);
        put_one(f->s, &l, 1);
        put_one(f->s, &l, 2);
        testutil_log_free(&l);
    }
    heads_under(f->s, "hrb/wu", "hrb/wu hrb/wu/a ");
    heads_under(f->s, "hrb/wuchang", "hrb/wuchang hrb/wuchang/shanhe ");
    heads_under(f->s, "hrb/w", "hrb/w ");
    heads_under(f->s, "hrb/wuc", "");
    heads_under(f->s, "", "hrb hrb/w hrb/wu hrb/wu-x hrb/wu/a hrb/wuchang hrb/wuchang/shanhe ");
    heads_under(f->s, "hrb", "hrb hrb/w hrb/wu hrb/wu-x hrb/wu/a hrb/wuchang hrb/wuchang/shanhe ");
    events_under(f->s, "hrb/wu", 0, "hrb/wu#1 hrb/wu#2 hrb/wu/a#1 hrb/wu/a#2 ");
    events_under(f->s, "hrb/wu", 1, "hrb/wu#2 hrb/wu/a#2 ");
    events_under(f->s, "hrb/wu", 2, "");
    events_under(f->s, "hrb/wuchang/shanhe", 0, "hrb/wuchang/shanhe#1 hrb/wuchang/shanhe#2 ");
    events_under(f->s, "", 1, "hrb/w#2 hrb/wu#2 hrb/wu-x#2 hrb/wu/a#2 hrb/wuchang#2 "
                 "hrb/wuchang/shanhe#2 ");
    events_under(f->s, "hrb", 0, "hrb#1 hrb/w#1 hrb/w#2 hrb/wu#1 hrb/wu#2 hrb/wu-x#1 hrb/wu-x#2 "
                 "hrb/wu/a#1 hrb/wu/a#2 hrb/wuchang#1 hrb/wuchang#2 hrb/wuchang/shanhe#1 "
                 "hrb/wuchang/shanhe#2 ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_store_chain_verifies_by_full_scan),
        T(test_store_prefix_scans_respect_segments),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
