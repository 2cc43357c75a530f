/*
 * test_sync.c -- the sync engines end to end, without sockets: a child
 * store (with its townships' logs in its subtree) sends to a parent store
 * through an in-memory network that drops, duplicates and reorders
 * messages in both directions under a seeded PRNG, with a fake clock so
 * that timeouts fire without sleeping. After every run the parent must hold
 * exactly the child's logs for the scope: same heads and hashes, every
 * event once, nothing held aside, no equivocation.
 *
 * Also: total loss, failing sends, session restarts and a wiped parent.
 * The credit window is checked before every send (sync_fixture.c). Bad
 * batches are in test_sync_in.c, the sender's numbering rules in
 * test_sync_out.c, scopes in test_sync_scope.c.
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

/* ---- convergence ---- */

static void test_sync_converges_lossless(void **state)
{
    fx_t *f = *state;
    store_t *child = make_child(f, 400, 150, 120), *parent = new_store(f, PARENT);
    sync_out_opts_t o = {4, 16, 300};
    link_t l;
    link_open(&l, child, parent, &o, 1);
    l.net.strict_window = true;
    link_session(f, &l, 1);
    run(f, &l.net, &l.rx, 100000, true);
    assert_converged(child, parent);
    sync_out_stats_t st;
    sync_out_stats(l.out, &st);
    assert_int_equal(st.events_sent, 670);   /* nothing sent twice */
    assert_int_equal(st.resends, 0);
    assert_int_equal(st.pending, 0);
    assert_int_equal(l.rx.counts.stored, 670);
    assert_int_equal(l.rx.counts.duplicates, 0);
    /* The acknowledged heads are the parent's. */
    const vv_t *acked = sync_out_acked(l.out);
    assert_int_equal(acked->n, 3);
    assert_int_equal(vv_get(acked, GRAND1, strlen(GRAND1)), 150);
    /* Nothing new: a pump sends nothing. */
    uint64_t before = l.net.batches;
    assert_int_equal(sync_out_pump(l.out, send_cb, &l.net, f->clock.now_ms), 0);
    assert_int_equal(l.net.batches, before);
    /* New events are sent by the next pump. */
    append_n(child, 5, "later");
    assert_int_equal(sync_out_pump(l.out, send_cb, &l.net, f->clock.now_ms), 0);
    assert_false(sync_out_done(l.out));
    run(f, &l.net, &l.rx, 1000, true);
    assert_converged(child, parent);
    link_close(&l);
    store_close(&parent);
    store_close(&child);
}

static void converge_under_loss(fx_t *f, bool keep)
{
    static const double loss[] = {0.0, 0.1, 0.3};
    store_t *child = make_child(f, 300, 200, 100);
    /* LD_SYNC_SEEDS=n runs more seeds (a soak, by hand). */
    int seeds = getenv("LD_SYNC_SEEDS") ? atoi(getenv("LD_SYNC_SEEDS")) : 3;
    for (int seed = 1; seed <= seeds; seed++)
        for (size_t k = 0; k < 3; k++) {
            store_t *parent = new_store(f, PARENT);
            sync_out_opts_t o = {(unsigned)(2 + seed * 2), (unsigned)(8 + 8 * seed), 250};
            link_t l;
            link_open(&l, child, parent, &o, (uint64_t)seed * 10 + k);
            l.rx.keep = keep;
            l.net.loss = loss[k];
            l.net.dup = 0.1;
            l.net.reorder = 0.3;
            l.rx.group = 1 + (seed + (int)k) % 4;
            link_session(f, &l, 7);
            size_t map = store_map_size(parent);
            run(f, &l.net, &l.rx, 200000, true);
            assert_converged(child, parent);
            if (keep)   /* the forced re-runs did happen */
                assert_true(store_map_size(parent) > map);
            link_close(&l);
            store_close(&parent);
        }
    store_close(&child);
}

static void test_sync_converges_under_loss(void **state)
{
    converge_under_loss(*state, false);
}

/* The same with the events kept from the check to the apply, as a hub does
 * (sync_in_check_keep, sync_in_apply_events), every fifth transaction
 * re-run as after a map resize. */
static void test_sync_converges_under_loss_kept_events(void **state)
{
    converge_under_loss(*state, true);
}

static void test_sync_recovers_after_total_loss(void **state)
{
    fx_t *f = *state;
    store_t *child = make_child(f, 300, 100, 0), *parent = new_store(f, PARENT);
    sync_out_opts_t o = {4, 32, 200};
    link_t l;
    link_open(&l, child, parent, &o, 42);
    l.net.loss = 1.0;
    link_session(f, &l, 1);
    run(f, &l.net, &l.rx, 2000, false);
    sync_out_stats_t st;
    sync_out_stats(l.out, &st);
    assert_true(st.resends >= 5);             /* timeouts rewound, again and again */
    assert_int_equal(info_of(parent).events, 0);
    l.net.loss = 0.1;
    l.net.dup = 0.05;
    l.net.reorder = 0.2;
    run(f, &l.net, &l.rx, 200000, true);
    assert_converged(child, parent);
    link_close(&l);
    store_close(&parent);
    store_close(&child);
}

static void test_sync_send_failures_are_resent(void **state)
{
    fx_t *f = *state;
    store_t *child = make_child(f, 300, 50, 50), *parent = new_store(f, PARENT);
    sync_out_opts_t o = {3, 10, 300};
    link_t l;
    link_open(&l, child, parent, &o, 5);
    l.net.send_fail = 0.3;
    l.net.strict_window = true;
    link_session(f, &l, 1);
    run(f, &l.net, &l.rx, 100000, true);
    assert_converged(child, parent);
    sync_out_stats_t st;
    sync_out_stats(l.out, &st);
    assert_int_equal(st.events_sent, 400);    /* a failed send did not count */
    link_close(&l);
    store_close(&parent);
    store_close(&child);
}

static void test_sync_session_restart_midway(void **state)
{
    fx_t *f = *state;
    store_t *child = make_child(f, 500, 200, 0), *parent = new_store(f, PARENT);
    sync_out_opts_t o = {4, 16, 300};
    link_t l;
    link_open(&l, child, parent, &o, 9);
    l.net.loss = 0.1;
    l.net.dup = 0.1;
    l.net.reorder = 0.3;
    link_session(f, &l, 1);
    while (info_of(parent).events < 250)
        run(f, &l.net, &l.rx, 1, false);
    uint64_t mid = info_of(parent).events;
    assert_true(mid > 0 && mid < 700);
    /* Link down and up again; the old session's packets are still about,
     * but the new one is clean: exactly what the parent lacks is sent. */
    sync_out_stop(l.out);
    assert_false(sync_out_done(l.out));
    link_session(f, &l, 2);
    l.net.loss = l.net.dup = l.net.reorder = 0;
    run(f, &l.net, &l.rx, 200000, true);
    assert_converged(child, parent);
    sync_out_stats_t st;
    sync_out_stats(l.out, &st);
    assert_int_equal(st.session, 2);
    assert_int_equal(st.events_sent, 700 - mid);   /* resumed from the parent's heads */

    /* And once more, lossy, from wherever that leaves it. */
    append_n(child, 300, "more");
    l.net.loss = 0.2;
    l.net.dup = 0.1;
    l.net.reorder = 0.3;
    link_session(f, &l, 3);
    run(f, &l.net, &l.rx, 200000, true);
    assert_converged(child, parent);
    link_close(&l);
    store_close(&parent);
    store_close(&child);
}

static void test_sync_wiped_parent_is_refilled(void **state)
{
    fx_t *f = *state;
    store_t *child = make_child(f, 200, 100, 50), *parent = new_store(f, PARENT);
    sync_out_opts_t o = {4, 32, 300};
    link_t l;
    link_open(&l, child, parent, &o, 3);
    l.net.loss = 0.1;
    link_session(f, &l, 1);
    run(f, &l.net, &l.rx, 100000, true);
    assert_converged(child, parent);
    /* The parent loses everything; its next WELCOME says so. */
    store_close(&parent);
    parent = new_store(f, PARENT);
    l.rx.s = parent;
    link_session(f, &l, 2);
    run(f, &l.net, &l.rx, 100000, true);
    assert_converged(child, parent);
    link_close(&l);
    store_close(&parent);
    store_close(&child);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sync_converges_lossless, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_converges_under_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_converges_under_loss_kept_events, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sync_recovers_after_total_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_send_failures_are_resent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_session_restart_midway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_wiped_parent_is_refilled, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
