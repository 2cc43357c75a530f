/*
 * test_sync_out.c -- the sending engine's small rules of numbering, driven
 * by hand: ACKs and NACKs of other sessions, of unsent or already
 * acknowledged batches, acknowledged heads that never go down, rewinds on
 * timeout, on NACK and forced, and late ACKs after a rewind.
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

/* ---- numbering rules, driven by hand ---- */

static int collect_cb(const uint8_t *msg, size_t len, void *arg)
{
    queue_t *q = arg;
    q_push(q, msg, len);
    return 0;
}

static void encode_decode_ack(buf_t *b, msg_t *m, uint64_t session, uint64_t batch,
                              uint64_t seq)
{
    static const uint8_t h[PROTO_HASH_LEN];
    msg_vv_builder_t vv = {BUF_INIT, 0};
    assert_int_equal(msg_vv_add(&vv, CHILD, seq, h), 0);
    buf_reset(b);
    assert_int_equal(msg_encode_ack(b, session, batch, &vv), 0);
    assert_int_equal(msg_decode(b->data, b->len, m), 0);
    msg_vv_free(&vv);
}

static void encode_decode_nack(buf_t *b, msg_t *m, uint64_t session, uint64_t expected)
{
    buf_reset(b);
    assert_int_equal(msg_encode_nack(b, session, expected), 0);
    assert_int_equal(msg_decode(b->data, b->len, m), 0);
}

static sync_out_stats_t stats_of(const sync_out_t *o)
{
    sync_out_stats_t st;
    sync_out_stats(o, &st);
    return st;
}

/* A sender over 100 events, window 3 of 10 events, timeout 1000 ms,
 * session 5, with its first window pumped at time 0 into q. */
static sync_out_t *hand_sender(fx_t *f, store_t **child, queue_t *q)
{
    *child = make_child(f, 100, 0, 0);
    sync_scope_t sc = up_scope();
    sync_out_opts_t o = {3, 10, 1000};
    sync_out_t *out;
    assert_int_equal(sync_out_new(*child, &sc, &o, &out), 0);
    assert_int_equal(sync_out_pump(out, collect_cb, q, 0), 0);   /* not started */
    assert_int_equal(q->n, 0);
    assert_int_equal(sync_out_start(out, 5, NULL, 0), 0);
    assert_int_equal(sync_out_pump(out, collect_cb, q, 0), 0);
    assert_int_equal(q->n, 3);                                   /* the window */
    assert_int_equal(stats_of(out).pending, 100);
    assert_int_equal(stats_of(out).next_batch, 4);
    return out;
}

/* The first event of the BATCH in q->p[i]: its batch number and seq. */
static void first_event(const queue_t *q, size_t i, uint64_t *batch, uint64_t *seq)
{
    msg_t m;
    const uint8_t *raw;
    size_t len;
    proto_event_t ev;
    assert_int_equal(msg_decode(q->p[i].data, q->p[i].len, &m), 0);
    assert_int_equal(msg_batch_next(&m, &raw, &len), 0);
    assert_int_equal(proto_event_decode(raw, len, 0, &ev), 0);
    *batch = m.batch;
    *seq = ev.seq;
}

static void test_sync_out_ack_rules(void **state)
{
    store_t *child;
    queue_t q = {0};
    buf_t b = BUF_INIT;
    msg_t m;
    sync_out_t *out = hand_sender(*state, &child, &q);

    encode_decode_ack(&b, &m, 4, 1, 10);             /* another session */
    assert_int_equal(sync_out_ack(out, &m, 10), 0);
    encode_decode_ack(&b, &m, 5, 9, 90);             /* a batch never sent */
    assert_int_equal(sync_out_ack(out, &m, 10), 0);
    assert_int_equal(stats_of(out).inflight, 3);
    assert_int_equal(vv_get(sync_out_acked(out), CHILD, strlen(CHILD)), 0);

    encode_decode_ack(&b, &m, 5, 2, 20);             /* cumulative: 1 and 2 */
    assert_int_equal(sync_out_ack(out, &m, 10), 0);
    assert_int_equal(stats_of(out).inflight, 1);
    assert_int_equal(vv_get(sync_out_acked(out), CHILD, strlen(CHILD)), 20);
    encode_decode_ack(&b, &m, 5, 1, 5);              /* late and lower: never lowers */
    assert_int_equal(sync_out_ack(out, &m, 11), 0);
    assert_int_equal(vv_get(sync_out_acked(out), CHILD, strlen(CHILD)), 20);

    encode_decode_nack(&b, &m, 5, 2);                /* stale: already acknowledged */
    assert_int_equal(sync_out_nack(out, &m, 20), 0);
    encode_decode_nack(&b, &m, 5, 4);                /* a batch never sent */
    assert_int_equal(sync_out_nack(out, &m, 20), 0);
    assert_int_equal(stats_of(out).resends, 0);

    /* The last batch acknowledged with a lower head than it carried (the
     * receiver dropped it as already applied): those events go again. */
    encode_decode_ack(&b, &m, 5, 3, 25);
    assert_int_equal(sync_out_ack(out, &m, 30), 0);
    assert_int_equal(stats_of(out).inflight, 0);
    q_free(&q);
    assert_int_equal(sync_out_pump(out, collect_cb, &q, 30), 0);
    uint64_t batch, seq;
    first_event(&q, 0, &batch, &seq);
    assert_int_equal(batch, 4);
    assert_int_equal(seq, 26);

    sync_out_stop(out);
    sync_out_tick(out, 100000);
    assert_false(sync_out_done(out));
    q_free(&q);
    buf_free(&b);
    sync_out_destroy(&out);
    sync_out_destroy(&out);
    store_close(&child);
}

static void test_sync_out_rewind_rules(void **state)
{
    store_t *child;
    queue_t q = {0};
    buf_t b = BUF_INIT;
    msg_t m;
    uint64_t batch, seq;
    sync_out_t *out = hand_sender(*state, &child, &q);
    encode_decode_ack(&b, &m, 5, 2, 20);
    assert_int_equal(sync_out_ack(out, &m, 10), 0);

    /* No timeout before timeout_ms without progress; a rewind after. */
    sync_out_tick(out, 1010);
    assert_int_equal(stats_of(out).resends, 0);
    sync_out_tick(out, 1011);
    assert_int_equal(stats_of(out).resends, 1);
    assert_int_equal(stats_of(out).inflight, 0);
    assert_int_equal(stats_of(out).next_batch, 3);

    /* An ACK from further on: the receiver had applied batch 3 before the
     * rewind, and its ACK was late. Numbering follows it. */
    encode_decode_ack(&b, &m, 5, 3, 30);
    assert_int_equal(sync_out_ack(out, &m, 1015), 0);
    assert_int_equal(stats_of(out).next_batch, 4);
    q_free(&q);
    assert_int_equal(sync_out_pump(out, collect_cb, &q, 1020), 0);
    assert_int_equal(q.n, 3);
    first_event(&q, 0, &batch, &seq);
    assert_int_equal(batch, 4);
    assert_int_equal(seq, 31);                       /* from the acknowledged head */

    /* A NACK: rewind to what the receiver expects; its echoes are ignored. */
    encode_decode_nack(&b, &m, 5, 5);
    assert_int_equal(sync_out_nack(out, &m, 1030), 0);
    assert_int_equal(stats_of(out).resends, 2);
    assert_int_equal(stats_of(out).inflight, 0);
    assert_int_equal(stats_of(out).next_batch, 5);
    assert_int_equal(sync_out_nack(out, &m, 1031), 0);
    assert_int_equal(stats_of(out).resends, 2);

    /* A forced rewind (the link saw its data path connect only now) with a
     * far-future clock must not switch later timeouts off. */
    q_free(&q);
    assert_int_equal(sync_out_pump(out, collect_cb, &q, 2000), 0);
    assert_int_equal(q.n, 3);
    sync_out_tick(out, UINT64_MAX / 2);
    assert_int_equal(stats_of(out).resends, 3);
    sync_out_rewind(out, 2001);                     /* nothing in flight: no-op */
    assert_int_equal(stats_of(out).resends, 3);
    q_free(&q);
    assert_int_equal(sync_out_pump(out, collect_cb, &q, 3000), 0);
    sync_out_rewind(out, 3001);
    assert_int_equal(stats_of(out).resends, 4);
    assert_int_equal(sync_out_pump(out, collect_cb, &q, 4000), 0);
    sync_out_tick(out, 4900);
    assert_int_equal(stats_of(out).resends, 4);
    sync_out_tick(out, 5001);
    assert_int_equal(stats_of(out).resends, 5);
    q_free(&q);
    buf_free(&b);
    sync_out_destroy(&out);
    store_close(&child);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sync_out_ack_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_out_rewind_rules, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
