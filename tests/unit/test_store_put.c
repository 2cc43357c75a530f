/*
 * test_store_put.c -- the store taking foreign events one by one: idempotent
 * puts, equivocations kept aside, the bound on what a sender can park,
 * out-of-order arrivals held and drained, a held event whose prev turns out
 * wrong, and restoring a reinstalled PC's own log before it appends.
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

static void test_store_put_duplicate_is_noop(void **state)
{
    fx_t *f = *state;
    log_t l;
    make_log(f, "src", "hrb/a", 3, NULL, &l);
    f->s = open_origin(f, "b", "hrb", 0);
    for (size_t i = 1; i <= 3; i++)
        assert_int_equal(put_one(f->s, &l, i), STORE_PUT_STORED);
    uint8_t d1[32], d2[32];
    snapshot(f->s, d1);
    for (size_t i = 1; i <= 3; i++)
        assert_int_equal(put_one(f->s, &l, i), STORE_PUT_DUPLICATE);
    snapshot(f->s, d2);
    assert_memory_equal(d1, d2, 32);
    store_info_t i = info_of(f->s);
    assert_int_equal(i.events, 3);
    assert_int_equal(i.equivocations, 0);
    testutil_log_free(&l);
}

static void test_store_equivocation_kept_aside(void **state)
{
    fx_t *f = *state;
    log_t a, b;
    make_log(f, "a1", "hrb/a", 3, "first install", &a);
    make_log(f, "a2", "hrb/a", 3, "reinstalled", &b);   /* same origin, new PC */
    f->s = open_origin(f, "hub", "hrb", 0);
    assert_int_equal(put_one(f->s, &a, 1), STORE_PUT_STORED);
    assert_int_equal(put_one(f->s, &a, 2), STORE_PUT_STORED);
    store_head_t h = head_of(f->s, "hrb/a");
    /* seq 2 again, other bytes: conflicts with what is stored */
    assert_int_equal(put_one(f->s, &b, 2), STORE_PUT_EQUIVOCATION);
    assert_int_equal(put_one(f->s, &b, 2), STORE_PUT_EQUIVOCATION);
    /* seq 3 of the other log: next in line, but its prev is not our seq 2 */
    assert_int_equal(put_one(f->s, &b, 3), STORE_PUT_EQUIVOCATION);
    store_head_t h2 = head_of(f->s, "hrb/a");
    assert_int_equal(h2.seq, 2);
    assert_memory_equal(h2.hash, h.hash, PROTO_HASH_LEN);
    store_info_t i = info_of(f->s);
    assert_int_equal(i.equivocations, 2);
    assert_int_equal(i.events, 2);
    store_txn_t *t;
    const uint8_t *raw;
    size_t len;
    int n = 0;
    assert_int_equal(store_read_begin(f->s, &t), 0);
    assert_int_equal(store_event_get(t, "hrb/a", 2, &raw, &len), 0);
    assert_int_equal(len, a.len[1]);
    assert_memory_equal(raw, a.raw[1], len);
    assert_int_equal(store_equivocations_foreach(t, count_cb, &n), 0);
    store_read_end(&t);
    assert_int_equal(n, 2);
    /* the genuine seq 3 still chains */
    assert_int_equal(put_one(f->s, &a, 3), STORE_PUT_STORED);
    testutil_log_free(&a);
    testutil_log_free(&b);
}

/* What a sender can make a store keep outside the logs is bounded: at most
 * STORE_EQUIV_PER_EVENT versions of one event, and nothing held further than
 * STORE_HELD_SPAN beyond the head -- each still answered for (counted). */
static void test_store_bounds_what_a_sender_parks(void **state)
{
    fx_t *f = *state;
    log_t a, v[STORE_EQUIV_PER_EVENT + 2];
    make_log(f, "genuine", "hrb/a", 2, "genuine", &a);
    for (int i = 0; i < STORE_EQUIV_PER_EVENT + 2; i++) {
        char name[32];
        snprintf(name, sizeof name, "minted%d", i);
        make_log(f, name, "hrb/a", 2, name, &v[i]);
    }
    f->s = open_origin(f, "hub", "hrb", 0);
    assert_int_equal(put_one(f->s, &a, 1), STORE_PUT_STORED);
    assert_int_equal(put_one(f->s, &a, 2), STORE_PUT_STORED);
    for (int i = 0; i < STORE_EQUIV_PER_EVENT + 2; i++)
        assert_int_equal(put_one(f->s, &v[i], 2), STORE_PUT_EQUIVOCATION);
    assert_int_equal(info_of(f->s).equivocations, STORE_EQUIV_PER_EVENT);

    /* seq head + SPAN is held; head + SPAN + 1 is not kept at all */
    buf_t body = BUF_INIT, ev = BUF_INIT;
    pack_body(&body, "d1", "far ahead");
    for (uint64_t ahead = STORE_HELD_SPAN; ahead <= STORE_HELD_SPAN + 1; ahead++) {
        proto_header_t h = {"hrb/a", 2 + ahead, 1, {0}, "deputy.contact", "2024-05-01", "x"};
        buf_reset(&ev);
        assert_int_equal(proto_event_encode(&h, body.data, body.len, &ev), 0);
        log_t one = {1, (uint8_t *[]){ev.data}, (size_t[]){ev.len}};
        assert_int_equal(put_one(f->s, &one, 1),
                         ahead == STORE_HELD_SPAN ? STORE_PUT_HELD : STORE_PUT_DROPPED);
    }
    store_info_t i = info_of(f->s);
    assert_int_equal(i.held, 1);
    assert_int_equal(i.events, 2);
    assert_int_equal(head_of(f->s, "hrb/a").held, 1);
    buf_free(&body);
    buf_free(&ev);
    testutil_log_free(&a);
    for (int k = 0; k < STORE_EQUIV_PER_EVENT + 2; k++)
        testutil_log_free(&v[k]);
}

typedef struct order {
    uint64_t seq[16];
    int n;
} order_t;

static int order_indexer(store_txn_t *t, const proto_event_t *ev, void *arg)
{
    (void)t;
    order_t *o = arg;
    if (o->n < 16)
        o->seq[o->n] = ev->seq;
    o->n++;
    return 0;
}

static void test_store_out_of_order_fill(void **state)
{
    fx_t *f = *state;
    log_t l;
    make_log(f, "src", "hrb/a", 5, NULL, &l);
    f->s = open_origin(f, "hub", "hrb", 0);
    order_t o = {0};
    assert_int_equal(store_add_indexer(f->s, order_indexer, &o), 0);
    static const size_t arrival[] = {3, 5, 4, 2};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(put_one(f->s, &l, arrival[i]), STORE_PUT_HELD);
        store_head_t h = head_of(f->s, "hrb/a");
        assert_int_equal(h.seq, 0);
        assert_int_equal(h.held, i + 1);
        assert_int_equal(info_of(f->s).held, i + 1);
    }
    assert_int_equal(put_one(f->s, &l, 5), STORE_PUT_DUPLICATE);   /* held, same bytes */
    assert_int_equal(o.n, 0);
    assert_int_equal(put_one(f->s, &l, 1), STORE_PUT_STORED);
    store_head_t h = head_of(f->s, "hrb/a");
    assert_int_equal(h.seq, 5);
    assert_int_equal(h.held, 0);
    store_info_t i = info_of(f->s);
    assert_int_equal(i.held, 0);
    assert_int_equal(i.events, 5);
    assert_int_equal(i.origins, 1);
    assert_int_equal(o.n, 5);
    for (int k = 0; k < 5; k++)
        assert_int_equal(o.seq[k], (uint64_t)k + 1);
    verify_all(f->s, "");
    testutil_log_free(&l);
}

static void test_store_held_with_wrong_prev_becomes_equivocation(void **state)
{
    fx_t *f = *state;
    log_t a, b;
    make_log(f, "a1", "hrb/a", 3, "one", &a);
    make_log(f, "a2", "hrb/a", 3, "two", &b);
    f->s = open_origin(f, "hub", "hrb", 0);
    assert_int_equal(put_one(f->s, &b, 3), STORE_PUT_HELD);
    assert_int_equal(put_one(f->s, &a, 1), STORE_PUT_STORED);
    assert_int_equal(put_one(f->s, &a, 2), STORE_PUT_STORED);
    store_head_t h = head_of(f->s, "hrb/a");
    assert_int_equal(h.seq, 2);
    assert_int_equal(h.held, 0);
    store_info_t i = info_of(f->s);
    assert_int_equal(i.held, 0);
    assert_int_equal(i.equivocations, 1);
    assert_int_equal(put_one(f->s, &a, 3), STORE_PUT_STORED);
    assert_int_equal(verify_all(f->s, "hrb/a").events, 3);
    testutil_log_free(&a);
    testutil_log_free(&b);
}

static void test_store_restore_own_log_before_append(void **state)
{
    fx_t *f = *state;
    log_t l;
    make_log(f, "old", "hrb/a", 3, NULL, &l);
    f->s = open_origin(f, "new", "hrb/a", 0);   /* reinstalled PC, same origin */
    assert_int_equal(put_one(f->s, &l, 3), STORE_PUT_HELD);
    assert_int_equal(append_n(f->s, 1, NULL), LD_ECHAIN);
    assert_int_equal(put_one(f->s, &l, 2), STORE_PUT_HELD);
    assert_int_equal(put_one(f->s, &l, 1), STORE_PUT_STORED);
    append_ctx_t c = {.n = 1};
    assert_int_equal(store_write(f->s, append_cb, &c), 0);
    assert_int_equal(c.refs[0].seq, 4);
    assert_int_equal(verify_all(f->s, "").events, 4);
    testutil_log_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_store_put_duplicate_is_noop),
        T(test_store_equivocation_kept_aside),
        T(test_store_bounds_what_a_sender_parks),
        T(test_store_out_of_order_fill),
        T(test_store_held_with_wrong_prev_becomes_equivocation),
        T(test_store_restore_own_log_before_append),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
