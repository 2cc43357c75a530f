/*
 * test_vv.c -- the in-memory version vector: lookups, set and raise,
 * store-compatible origin order, copies, and many entries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/vv.h"

static uint64_t get(const vv_t *v, const char *origin)
{
    return vv_get(v, origin, strlen(origin));
}

static void test_vv_get_absent_is_zero(void **state)
{
    (void)state;
    vv_t v = VV_INIT;
    assert_int_equal(get(&v, "hrb"), 0);
    assert_int_equal(vv_set(&v, "hrb", 3, 5), 0);
    assert_int_equal(get(&v, "hrb/wuchang"), 0);
    assert_int_equal(get(&v, "hr"), 0);
    vv_free(&v);
}

static void test_vv_set_overwrites_and_lowers(void **state)
{
    (void)state;
    vv_t v = VV_INIT;
    assert_int_equal(vv_set(&v, "hrb", 3, 5), 0);
    assert_int_equal(vv_set(&v, "hrb", 3, 9), 0);
    assert_int_equal(get(&v, "hrb"), 9);
    assert_int_equal(vv_set(&v, "hrb", 3, 2), 0);
    assert_int_equal(get(&v, "hrb"), 2);
    assert_int_equal(v.n, 1);
    vv_free(&v);
}

static void test_vv_raise_never_lowers(void **state)
{
    (void)state;
    vv_t v = VV_INIT;
    assert_int_equal(vv_raise(&v, "hrb/wuchang", 11, 7), 0);
    assert_int_equal(vv_raise(&v, "hrb/wuchang", 11, 3), 0);
    assert_int_equal(get(&v, "hrb/wuchang"), 7);
    assert_int_equal(vv_raise(&v, "hrb/wuchang", 11, 8), 0);
    assert_int_equal(get(&v, "hrb/wuchang"), 8);
    assert_int_equal(vv_raise(&v, "hrb", 3, 0), 0);   /* adds an entry at 0 */
    assert_int_equal(v.n, 2);
    vv_free(&v);
}

static void test_vv_origin_not_nul_terminated(void **state)
{
    (void)state;
    vv_t v = VV_INIT;
    const char *s = "hrb/wuchangXYZ";
    assert_int_equal(vv_set(&v, s, 11, 4), 0);
    assert_string_equal(v.e[0].origin, "hrb/wuchang");
    assert_int_equal(vv_get(&v, s, 11), 4);
    assert_int_equal(vv_get(&v, s, 3), 0);
    vv_free(&v);
}

/* The order is LMDB's default key order: bytewise, a prefix first. */
static void test_vv_order_matches_store_keys(void **state)
{
    (void)state;
    static const char *const in[] = {"hrb/wuchang/shanhe", "hrb", "hrb/a", "hrb/wuchang",
                                     "hrb-x", "hrb/wuchang/a", "a", "hrb0"};
    static const char *const want[] = {"a", "hrb", "hrb-x", "hrb/a", "hrb/wuchang",
                                       "hrb/wuchang/a", "hrb/wuchang/shanhe", "hrb0"};
    vv_t v = VV_INIT;
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(vv_set(&v, in[i], strlen(in[i]), i + 1), 0);
    assert_int_equal(v.n, 8);
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(v.e[i].origin, want[i]);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(get(&v, in[i]), i + 1);
    vv_free(&v);
}

static void test_vv_copy_is_deep(void **state)
{
    (void)state;
    vv_t a = VV_INIT, b = VV_INIT;
    assert_int_equal(vv_set(&a, "hrb", 3, 1), 0);
    assert_int_equal(vv_set(&a, "hrb/daoli", 9, 2), 0);
    assert_int_equal(vv_set(&b, "zzz", 3, 9), 0);   /* replaced by the copy */
    assert_int_equal(vv_copy(&b, &a), 0);
    assert_int_equal(b.n, 2);
    assert_int_equal(get(&b, "zzz"), 0);
    assert_int_equal(get(&b, "hrb/daoli"), 2);
    assert_ptr_not_equal(a.e[0].origin, b.e[0].origin);
    vv_set(&a, "hrb", 3, 50);
    assert_int_equal(get(&b, "hrb"), 1);
    vv_free(&a);
    assert_int_equal(get(&b, "hrb"), 1);
    assert_int_equal(vv_copy(&b, &b), 0);
    assert_int_equal(b.n, 2);
    vv_free(&b);
}

static void test_vv_clear_keeps_it_usable(void **state)
{
    (void)state;
    vv_t v = VV_INIT;
    assert_int_equal(vv_set(&v, "hrb", 3, 1), 0);
    vv_clear(&v);
    assert_int_equal(v.n, 0);
    assert_int_equal(get(&v, "hrb"), 0);
    assert_int_equal(vv_set(&v, "hrb", 3, 2), 0);
    assert_int_equal(get(&v, "hrb"), 2);
    vv_free(&v);
    vv_free(&v);   /* idempotent */
}

static void test_vv_many_entries(void **state)
{
    (void)state;
    vv_t v = VV_INIT;
    char o[32];
    for (int i = 4999; i >= 0; i--) {
        int n = snprintf(o, sizeof o, "c/d%d", (i * 7919) % 5000);
        assert_int_equal(vv_set(&v, o, (size_t)n, (uint64_t)i), 0);
    }
    assert_int_equal(v.n, 5000);
    for (size_t i = 1; i < v.n; i++)
        assert_true(strcmp(v.e[i - 1].origin, v.e[i].origin) < 0);
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(o, sizeof o, "c/d%d", (i * 7919) % 5000);
        assert_int_equal(vv_get(&v, o, (size_t)n), (uint64_t)i);
    }
    vv_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vv_get_absent_is_zero),
        cmocka_unit_test(test_vv_set_overwrites_and_lowers),
        cmocka_unit_test(test_vv_raise_never_lowers),
        cmocka_unit_test(test_vv_origin_not_nul_terminated),
        cmocka_unit_test(test_vv_order_matches_store_keys),
        cmocka_unit_test(test_vv_copy_is_deep),
        cmocka_unit_test(test_vv_clear_keeps_it_usable),
        cmocka_unit_test(test_vv_many_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
