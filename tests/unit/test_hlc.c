/*
 * test_hlc.c -- the hybrid logical clock: stamps strictly increase whatever
 * the wall clock does, the logical half carries into the physical half,
 * and remote stamps move the clock forward unless they are absurdly far
 * in the future (the clock read only when they could).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/hlc.h"
#include "testutil.h"

static void test_hlc_monotonic_when_wall_clock_goes_back(void **state)
{
    (void)state;
    testutil_clock_t c = {1700000000000ull};
    hlc_t h;
    hlc_init(&h, 0, testutil_clock_ms, &c);
    uint64_t a = hlc_now(&h);
    assert_int_equal(HLC_PHYSICAL(a), c.now_ms);
    assert_int_equal(HLC_LOGICAL(a), 0);
    uint64_t b = hlc_now(&h);                 /* same millisecond */
    assert_true(b > a);
    assert_int_equal(HLC_LOGICAL(b), 1);
    c.now_ms -= 86400000;                     /* a day back */
    uint64_t d = hlc_now(&h);
    assert_true(d > b);
    assert_int_equal(HLC_PHYSICAL(d), 1700000000000ull);
    c.now_ms = 1700000000000ull + 5;          /* the wall clock overtakes again */
    uint64_t e = hlc_now(&h);
    assert_true(e > d);
    assert_int_equal(HLC_PHYSICAL(e), c.now_ms);
    assert_int_equal(HLC_LOGICAL(e), 0);
}

static void test_hlc_logical_overflow_carries(void **state)
{
    (void)state;
    testutil_clock_t c = {1000};
    hlc_t h;
    hlc_init(&h, (1000ull << 16) | 0xfffeu, testutil_clock_ms, &c);
    uint64_t a = hlc_now(&h);
    assert_int_equal(HLC_PHYSICAL(a), 1000);
    assert_int_equal(HLC_LOGICAL(a), 0xffff);
    uint64_t b = hlc_now(&h);
    assert_true(b > a);
    assert_int_equal(HLC_PHYSICAL(b), 1001);
    assert_int_equal(HLC_LOGICAL(b), 0);
    c.now_ms = 1001;                          /* wall equal to the carried stamp */
    uint64_t d = hlc_now(&h);
    assert_true(d > b);
}

static void test_hlc_observe_ignores_far_future(void **state)
{
    (void)state;
    testutil_clock_t c = {1700000000000ull};
    hlc_t h;
    hlc_init(&h, 0, testutil_clock_ms, &c);
    uint64_t a = hlc_now(&h);
    uint64_t y2099 = (c.now_ms + HLC_MAX_DRIFT_MS + 1) << 16;
    hlc_observe(&h, y2099);
    uint64_t b = hlc_now(&h);
    assert_true(b > a);
    assert_true(b < y2099);
    assert_int_equal(HLC_PHYSICAL(b), c.now_ms);
}

static void test_hlc_observe_moves_clock_forward(void **state)
{
    (void)state;
    testutil_clock_t c = {1700000000000ull};
    hlc_t h;
    hlc_init(&h, 0, testutil_clock_ms, &c);
    hlc_now(&h);
    uint64_t remote = ((c.now_ms + 60000) << 16) | 7;  /* a minute ahead: allowed */
    hlc_observe(&h, remote);
    uint64_t b = hlc_now(&h);
    assert_true(b > remote);
    /* an older remote stamp does not move it back */
    hlc_observe(&h, 5);
    assert_true(hlc_now(&h) > b);
}

static uint64_t counting_clock(void *arg)
{
    uint64_t *reads = arg;
    (*reads)++;
    return 1700000000000ull;
}

/* A hub observes every event it merges: the stamps that cannot move the
 * clock must not cost a clock read, and those that can still obey the
 * drift rule. */
static void test_hlc_observe_reads_clock_only_to_move(void **state)
{
    (void)state;
    uint64_t reads = 0;
    hlc_t h;
    hlc_init(&h, 0, counting_clock, &reads);
    uint64_t a = hlc_now(&h);
    assert_int_equal(reads, 1);
    hlc_observe(&h, a);
    hlc_observe(&h, a - 1);
    assert_int_equal(reads, 1);
    assert_int_equal(h.last, a);
    hlc_observe(&h, a + 3);
    assert_int_equal(reads, 2);
    assert_int_equal(h.last, a + 3);
    hlc_observe(&h, (1700000000000ull + HLC_MAX_DRIFT_MS + 1) << 16);
    assert_int_equal(reads, 3);
    assert_int_equal(h.last, a + 3);
}

static void test_hlc_real_clock_default(void **state)
{
    (void)state;
    hlc_t h;
    hlc_init(&h, 0, NULL, NULL);
    uint64_t a = hlc_now(&h), b = hlc_now(&h);
    assert_true(b > a);
    assert_true(HLC_PHYSICAL(a) > 1600000000000ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hlc_monotonic_when_wall_clock_goes_back),
        cmocka_unit_test(test_hlc_logical_overflow_carries),
        cmocka_unit_test(test_hlc_observe_ignores_far_future),
        cmocka_unit_test(test_hlc_observe_moves_clock_forward),
        cmocka_unit_test(test_hlc_observe_reads_clock_only_to_move),
        cmocka_unit_test(test_hlc_real_clock_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
