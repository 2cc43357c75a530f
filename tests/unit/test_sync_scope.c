/*
 * test_sync_scope.c -- sync scopes: the downward scope of an origin (its
 * ancestors' logs alone), its limits, and a hub sending a township exactly
 * that over the lossy in-memory network.
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
#include "common/sync.h"
#include "sync_fixture.h"

/* ---- scopes ---- */

static void test_sync_scope_down(void **state)
{
    (void)state;
    sync_scope_t s;
    assert_int_equal(sync_scope_down(&s, "hrb/wuchang/shanhe", false), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.item[0].origin, "hrb");
    assert_false(s.item[0].subtree);
    assert_string_equal(s.item[1].origin, "hrb/wuchang");
    assert_false(s.item[1].subtree);
    assert_true(sync_scope_has(&s, "hrb", 3));
    assert_true(sync_scope_has(&s, "hrb/wuchang", 11));
    assert_false(sync_scope_has(&s, "hrb/wuchang/shanhe", 18));
    assert_false(sync_scope_has(&s, "hrb/daoli", 9));
    assert_false(sync_scope_has(&s, "hr", 2));

    assert_int_equal(sync_scope_down(&s, "hrb/wuchang/shanhe", true), 0);
    assert_int_equal(s.n, 3);
    assert_true(s.item[2].subtree);
    assert_true(sync_scope_has(&s, "hrb/wuchang/shanhe", 18));
    assert_true(sync_scope_has(&s, "hrb/wuchang/shanhe/cun", 22));
    assert_false(sync_scope_has(&s, "hrb/wuchang/shanhex", 19));

    assert_int_equal(sync_scope_down(&s, "hrb", false), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(sync_scope_down(&s, "Hrb/x", false), LD_EINVAL);
    assert_int_equal(sync_scope_add(&s, "a/", false), LD_EINVAL);
    for (int i = 0; i < SYNC_SCOPE_MAX; i++)
        assert_int_equal(sync_scope_add(&s, "a", false), 0);
    assert_int_equal(sync_scope_add(&s, "a", false), LD_ETOOBIG);
}

/* Downward: a hub sends a child its ancestors' logs alone, never a
 * sibling's or the hub's other children's. */
static void test_sync_downward_exact_scope(void **state)
{
    fx_t *f = *state;
    store_t *hub = new_store(f, PARENT);
    append_n(hub, 60, "directive");
    add_foreign_log(f, hub, CHILD, 30);
    add_foreign_log(f, hub, GRAND1, 20);
    add_foreign_log(f, hub, "hrb/nangang", 10);
    store_t *town = new_store(f, GRAND1);
    sync_scope_t sc;
    assert_int_equal(sync_scope_down(&sc, GRAND1, false), 0);
    sync_out_opts_t o = {2, 7, 300};
    link_t l;
    memset(&l, 0, sizeof l);
    assert_int_equal(sync_out_new(hub, &sc, &o, &l.out), 0);
    assert_int_equal(sync_in_new(&sc, &l.rx.in), 0);
    l.rx.s = town;
    l.rx.group = 2;
    l.net = (net_t){.rng = 77, .loss = 0.1, .dup = 0.1, .reorder = 0.2, .out = l.out,
                    .window = 2};
    sync_in_start(l.rx.in, 1);
    assert_int_equal(sync_out_start(l.out, 1, NULL, f->clock.now_ms), 0);
    run(f, &l.net, &l.rx, 100000, true);
    store_txn_t *t;
    store_head_t h;
    assert_int_equal(store_read_begin(town, &t), 0);
    assert_int_equal(store_head_get(t, PARENT, &h), 0);
    assert_int_equal(h.seq, 60);
    assert_int_equal(store_head_get(t, CHILD, &h), 0);
    assert_int_equal(h.seq, 30);
    assert_int_equal(store_head_get(t, "hrb/nangang", &h), LD_ENOTFOUND);
    assert_int_equal(store_head_get(t, GRAND1, &h), LD_ENOTFOUND);
    store_read_end(&t);
    assert_int_equal(info_of(town).events, 90);
    link_close(&l);
    store_close(&town);
    store_close(&hub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_scope_down),
        cmocka_unit_test_setup_teardown(test_sync_downward_exact_scope, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
