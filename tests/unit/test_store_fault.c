/*
 * test_store_fault.c -- a fault swept through every write of an append and
 * of a put that moves held events in: each failing step returns LD_EFAULT
 * and leaves the store byte for byte as it was.
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

/* Sweeps a fault through every write of op(): each failing step returns
 * LD_EFAULT and leaves every database byte for byte as it was. */
static int sweep(store_t *s, int (*op)(store_t *, void *), void *arg)
{
    uint8_t before[32], after[32];
    snapshot(s, before);
    for (int n = 1; n < 1000; n++) {
        store_fault_after(n);
        int rc = op(s, arg);
        store_fault_after(0);
        if (rc == 0)
            return n;
        assert_int_equal(rc, LD_EFAULT);
        assert_non_null(strstr(err_msg(), "injected fault"));
        snapshot(s, after);
        assert_memory_equal(before, after, 32);
    }
    fail_msg("the fault sweep never finished");
    return 0;
}

static int op_append10(store_t *s, void *arg)
{
    (void)arg;
    return append_n(s, 10, "swept");
}

static void test_store_fault_sweep_append(void **state)
{
    fx_t *f = *state;
    f->s = open_origin(f, "a", "hrb/a", 0);
    assert_int_equal(append_n(f->s, 3, NULL), 0);
    int steps = sweep(f->s, op_append10, NULL);
    assert_true(steps >= 5);   /* the ten as one chunk put + write-back + commit */
    assert_int_equal(head_of(f->s, "hrb/a").seq, 13);
    assert_int_equal(info_of(f->s).events, 13);
    assert_int_equal(verify_all(f->s, "").events, 13);
}

static int op_put(store_t *s, void *arg)
{
    return store_write(s, put_range_cb, arg);
}

static void test_store_fault_sweep_put_moving_held(void **state)
{
    fx_t *f = *state;
    log_t l;
    make_log(f, "src", "hrb/a", 8, NULL, &l);
    f->s = open_origin(f, "hub", "hrb", 0);
    assert_int_equal(put_one(f->s, &l, 1), STORE_PUT_STORED);
    for (size_t seq = 4; seq <= 8; seq++)
        assert_int_equal(put_one(f->s, &l, seq), STORE_PUT_HELD);
    /* seq 2 and 3 arrive together: 3 chains, then 4..8 move in from held */
    put_range_t p = {&l, 2, 3, 0, 0};
    int steps = sweep(f->s, op_put, &p);
    assert_true(steps > 8);    /* five held deletes + the run put + write-back + commit */
    store_head_t h = head_of(f->s, "hrb/a");
    assert_int_equal(h.seq, 8);
    assert_int_equal(h.held, 0);
    store_info_t i = info_of(f->s);
    assert_int_equal(i.events, 8);
    assert_int_equal(i.held, 0);
    verify_all(f->s, "");
    testutil_log_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_store_fault_sweep_append),
        T(test_store_fault_sweep_put_moving_held),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
