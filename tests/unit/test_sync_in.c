/*
 * test_sync_in.c -- the receiving engine driven by hand: batches with an
 * origin outside the link's scope or a corrupted event are refused whole,
 * and the verdicts (other session, accept, old, gap) with their ACK and
 * NACK.
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

/* ---- bad batches ---- */

/* One BATCH of the given events, exactly sized on the heap. */
static uint8_t *make_batch(uint64_t session, uint64_t batch, uint8_t **raw, size_t *len, int n,
                           size_t *out_len)
{
    buf_t b = BUF_INIT;
    msg_batch_builder_t bb;
    assert_int_equal(msg_batch_begin(&bb, &b, session, batch), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(msg_batch_add(&bb, raw[i], len[i]), 0);
    size_t off;
    msg_batch_finish(&bb, &off);
    uint8_t *m = malloc(b.len - off);
    memcpy(m, b.data + off, b.len - off);
    *out_len = b.len - off;
    buf_free(&b);
    return m;
}

static void test_sync_rejects_origin_outside_scope(void **state)
{
    fx_t *f = *state;
    store_t *child = make_child(f, 5, 3, 0), *parent = new_store(f, PARENT);
    log_t own, g;
    testutil_log_copy(child, CHILD, &own);
    testutil_log_copy(child, GRAND1, &g);
    /* A link that may carry the child's own log only. */
    sync_scope_t sc = {0};
    assert_int_equal(sync_scope_add(&sc, CHILD, false), 0);
    sync_in_t *in;
    assert_int_equal(sync_in_new(&sc, &in), 0);
    sync_in_start(in, 1);
    uint8_t *raw[6] = {own.raw[0], own.raw[1], own.raw[2], g.raw[0], own.raw[3], own.raw[4]};
    size_t len[6] = {own.len[0], own.len[1], own.len[2], g.len[0], own.len[3], own.len[4]};
    size_t mlen;
    uint8_t *data = make_batch(1, 1, raw, len, 6, &mlen);
    msg_t m;
    sync_in_verdict_t v = SYNC_IN_OTHER;
    assert_int_equal(msg_decode(data, mlen, &m), 0);
    assert_int_equal(sync_in_check(in, &m, &v), LD_EORIGIN);
    assert_non_null(strstr(err_msg(), GRAND1 "#1"));
    assert_non_null(strstr(err_msg(), "event 3"));
    assert_int_equal(sync_in_expected(in), 1);
    assert_int_equal(info_of(parent).events, 0);
    free(data);
    /* Without the stranger the same batch is fine. */
    raw[3] = own.raw[3];
    len[3] = own.len[3];
    data = make_batch(1, 1, raw, len, 4, &mlen);
    assert_int_equal(msg_decode(data, mlen, &m), 0);
    assert_int_equal(sync_in_check(in, &m, &v), 0);
    assert_int_equal(v, SYNC_IN_ACCEPT);
    assert_int_equal(sync_in_expected(in), 2);
    free(data);
    sync_in_destroy(&in);
    testutil_log_free(&own);
    testutil_log_free(&g);
    store_close(&parent);
    store_close(&child);
}

static void test_sync_rejects_corrupted_event(void **state)
{
    fx_t *f = *state;
    store_t *child = make_child(f, 4, 0, 0);
    log_t own;
    testutil_log_copy(child, CHILD, &own);
    sync_scope_t sc = up_scope();
    sync_in_t *in;
    assert_int_equal(sync_in_new(&sc, &in), 0);
    sync_in_start(in, 1);
    for (int k = 0; k < 3; k++) {
        uint8_t bad[1024];
        size_t blen = own.len[2];
        memcpy(bad, own.raw[2], blen);
        if (k == 0)
            blen--;                       /* truncated */
        else if (k == 1)
            bad[blen - 3] = 0xff;         /* invalid UTF-8 in the note */
        else
            bad[0] = 0x98;                /* an array of 8 */
        uint8_t *raw[4] = {own.raw[0], own.raw[1], bad, own.raw[3]};
        size_t len[4] = {own.len[0], own.len[1], blen, own.len[3]};
        size_t mlen;
        uint8_t *data = make_batch(1, 1, raw, len, 4, &mlen);
        msg_t m;
        sync_in_verdict_t v;
        assert_int_equal(msg_decode(data, mlen, &m), 0);
        int rc = sync_in_check(in, &m, &v);
        assert_true(rc < 0);
        assert_non_null(strstr(err_msg(), "event 2"));
        assert_int_equal(sync_in_expected(in), 1);
        free(data);
    }
    sync_in_destroy(&in);
    testutil_log_free(&own);
    store_close(&child);
}

/* ---- verdicts ---- */

static void test_sync_in_verdicts(void **state)
{
    fx_t *f = *state;
    store_t *child = make_child(f, 3, 0, 0), *parent = new_store(f, PARENT);
    log_t own;
    testutil_log_copy(child, CHILD, &own);
    sync_scope_t sc = up_scope();
    sync_in_t *in;
    assert_int_equal(sync_in_new(&sc, &in), 0);
    size_t mlen;
    uint8_t *b1 = make_batch(8, 1, own.raw, own.len, 2, &mlen);
    msg_t m;
    sync_in_verdict_t v;
    assert_int_equal(msg_decode(b1, mlen, &m), 0);
    assert_int_equal(sync_in_check(in, &m, &v), 0);
    assert_int_equal(v, SYNC_IN_OTHER);             /* no session yet */
    sync_in_start(in, 8);
    const uint8_t *ack;
    size_t alen;
    sync_in_last_ack(in, &ack, &alen);
    assert_int_equal(alen, 0);
    assert_int_equal(sync_in_check(in, &m, &v), 0);
    assert_int_equal(v, SYNC_IN_ACCEPT);
    rx_t rx = {.s = parent, .in = in, .group = 1};
    apply_ctx_t a = {.rx = &rx, .m = &m, .n = 1};
    assert_int_equal(store_write(parent, apply_cb, &a), 0);
    assert_int_equal(a.c.stored, 2);
    buf_t b = BUF_INIT;
    assert_int_equal(sync_in_ack(in, parent, 1, &b), 0);
    sync_in_last_ack(in, &ack, &alen);
    assert_int_equal(alen, b.len);
    assert_memory_equal(ack, b.data, b.len);
    msg_t am;
    msg_vv_entry_t e;
    assert_int_equal(msg_decode(b.data, b.len, &am), 0);
    assert_int_equal(am.batch, 1);
    assert_int_equal(am.vv_count, 1);
    assert_int_equal(msg_vv_next(&am, &e), 0);
    assert_int_equal(e.seq, 2);

    assert_int_equal(sync_in_check(in, &m, &v), 0);
    assert_int_equal(v, SYNC_IN_OLD);
    uint8_t *b3 = make_batch(8, 3, own.raw + 2, own.len + 2, 1, &mlen);
    assert_int_equal(msg_decode(b3, mlen, &m), 0);
    assert_int_equal(sync_in_check(in, &m, &v), 0);
    assert_int_equal(v, SYNC_IN_GAP);
    buf_reset(&b);
    assert_int_equal(sync_in_nack(in, &b), 0);
    assert_int_equal(msg_decode(b.data, b.len, &am), 0);
    assert_int_equal(am.type, MSG_T_NACK);
    assert_int_equal(am.batch, 2);
    assert_int_equal(sync_in_expected(in), 2);
    /* Not a BATCH at all. */
    assert_int_equal(sync_in_check(in, &am, &v), LD_EINVAL);
    buf_free(&b);
    free(b1);
    free(b3);
    sync_in_destroy(&in);
    sync_in_destroy(&in);
    testutil_log_free(&own);
    store_close(&parent);
    store_close(&child);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sync_rejects_origin_outside_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_rejects_corrupted_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_in_verdicts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
