/*
 * test_store.c -- the LMDB store, basics: an append chains, HLC stamps only
 * go up, what was written survives a reopen, an append needs an origin and
 * a valid body, an indexer's error aborts the transaction, metadata and the
 * open modes. The other test_store_*.c files take one topic each.
 *
 * Foreign events are made the way they arise in real life: a second store
 * with another origin appends them, and their raw bytes are copied over
 * (store_fixture.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/err.h"
#include "common/store.h"
#include "proto/json.h"
#include "store_fixture.h"

static void test_store_append_chains(void **state)
{
    fx_t *f = *state;
    f->s = open_origin(f, "a", "hrb/wuchang/shanhe", 0);
    append_ctx_t c = {.n = 3};
    assert_int_equal(store_write(f->s, append_cb, &c), 0);
    store_txn_t *t;
    assert_int_equal(store_read_begin(f->s, &t), 0);
    uint8_t prev[PROTO_HASH_LEN] = {0};
    for (uint64_t seq = 1; seq <= 3; seq++) {
        const uint8_t *raw;
        size_t len;
        proto_event_t e;
        uint8_t hash[PROTO_HASH_LEN];
        assert_int_equal(c.refs[seq - 1].seq, seq);
        assert_int_equal(store_event_get(t, "hrb/wuchang/shanhe", seq, &raw, &len), 0);
        assert_int_equal(proto_event_decode(raw, len, PROTO_DECODE_STRICT, &e), 0);
        assert_int_equal(e.seq, seq);
        assert_memory_equal(e.prev, prev, PROTO_HASH_LEN);
        proto_hash(raw, len, hash);
        assert_memory_equal(hash, c.refs[seq - 1].hash, PROTO_HASH_LEN);
        memcpy(prev, hash, sizeof prev);
    }
    store_head_t h;
    assert_int_equal(store_head_get(t, "hrb/wuchang/shanhe", &h), 0);
    assert_int_equal(h.seq, 3);
    assert_memory_equal(h.hash, prev, PROTO_HASH_LEN);
    const uint8_t *raw;
    size_t len;
    assert_int_equal(store_event_get(t, "hrb/wuchang/shanhe", 4, &raw, &len), LD_ENOTFOUND);
    store_read_end(&t);
}

static uint64_t hlc_of(store_t *s, const char *origin, uint64_t seq)
{
    store_txn_t *t;
    const uint8_t *raw;
    size_t len;
    proto_event_t e;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_event_get(t, origin, seq, &raw, &len), 0);
    assert_int_equal(proto_event_decode(raw, len, 0, &e), 0);
    store_read_end(&t);
    return e.hlc;
}

static void test_store_hlc_increases_when_clock_goes_back(void **state)
{
    fx_t *f = *state;
    f->s = open_origin(f, "a", "hrb", 0);
    assert_int_equal(append_n(f->s, 2, NULL), 0);
    f->clock.now_ms -= 3600 * 1000;     /* the office PC's clock is set back an hour */
    assert_int_equal(append_n(f->s, 2, NULL), 0);
    f->clock.now_ms = 1000;             /* and then to 1970 */
    assert_int_equal(append_n(f->s, 1, NULL), 0);
    uint64_t last = 0;
    for (uint64_t seq = 1; seq <= 5; seq++) {
        uint64_t h = hlc_of(f->s, "hrb", seq);
        assert_true(h > last);
        last = h;
    }
    assert_int_equal(HLC_PHYSICAL(hlc_of(f->s, "hrb", 1)), 1700000000000ull);
}

static void test_store_reopen_persists(void **state)
{
    fx_t *f = *state;
    char *d = subdir(f, "a");
    f->s = open_at(f, d, 0);
    set_origin(f->s, "hrb/daoli");
    assert_int_equal(append_n(f->s, 5, NULL), 0);
    store_head_t before = head_of(f->s, "hrb/daoli");
    uint64_t hlc5 = hlc_of(f->s, "hrb/daoli", 5);
    store_close(&f->s);
    assert_null(f->s);
    f->clock.now_ms = 5;                /* clock wildly back across the restart */
    f->s = open_at(f, d, 0);
    free(d);
    assert_string_equal(store_origin(f->s), "hrb/daoli");
    store_head_t after = head_of(f->s, "hrb/daoli");
    assert_int_equal(after.seq, 5);
    assert_memory_equal(after.hash, before.hash, PROTO_HASH_LEN);
    store_info_t i = info_of(f->s);
    assert_int_equal(i.events, 5);
    assert_int_equal(i.origins, 1);
    assert_int_equal(i.held, 0);
    assert_true(i.data_bytes > 0);
    assert_int_equal(append_n(f->s, 1, NULL), 0);
    assert_true(hlc_of(f->s, "hrb/daoli", 6) > hlc5);
    verify_t v = verify_all(f->s, "");
    assert_int_equal(v.events, 6);
}

static void test_store_append_needs_origin(void **state)
{
    fx_t *f = *state;
    f->s = open_at(f, f->dir, 0);
    assert_string_equal(store_origin(f->s), "");
    assert_int_equal(append_n(f->s, 1, NULL), LD_EINVAL);
    assert_int_equal(store_write(f->s, testutil_set_origin_cb, "Not/Valid"), LD_EINVAL);
    set_origin(f->s, "hrb/a");
    assert_int_equal(store_write(f->s, testutil_set_origin_cb, "hrb/b"), LD_EEXIST);
    assert_int_equal(append_n(f->s, 1, NULL), 0);
}

typedef struct bad_ctx {
    store_new_t ev;
} bad_ctx_t;

static int bad_cb(store_txn_t *t, void *arg)
{
    store_ref_t ref;
    return store_txn_append(t, &((bad_ctx_t *)arg)->ev, &ref);
}

static void test_store_append_rejects_bad_body(void **state)
{
    fx_t *f = *state;
    f->s = open_origin(f, "a", "hrb/a", 0);
    assert_int_equal(append_n(f->s, 1, NULL), 0);
    uint8_t before[32], after[32];
    snapshot(f->s, before);
    buf_t b = BUF_INIT;
    json_t *o = json_pack("{s:s}", "channel", "visit");     /* no deputy */
    assert_int_equal(proto_body_pack_json(o, &b), 0);
    json_decref(o);
    bad_ctx_t c = {{"deputy.contact", "2024-05-01", NULL, b.data, b.len}};
    assert_int_equal(store_write(f->s, bad_cb, &c), LD_ESCHEMA);
    c.ev.kind = "no.such_kind";
    assert_int_equal(store_write(f->s, bad_cb, &c), LD_ESCHEMA);
    buf_free(&b);
    snapshot(f->s, after);
    assert_memory_equal(before, after, 32);
}

static int failing_indexer(store_txn_t *t, const proto_event_t *ev, void *arg)
{
    (void)t; (void)arg;
    return ev->seq == 3 ? err_set(LD_EINVAL, "indexer says no") : 0;
}

static void test_store_indexer_error_aborts(void **state)
{
    fx_t *f = *state;
    f->s = open_origin(f, "a", "hrb/a", 0);
    assert_int_equal(store_add_indexer(f->s, failing_indexer, NULL), 0);
    assert_int_equal(append_n(f->s, 2, NULL), 0);
    assert_int_equal(append_n(f->s, 2, NULL), LD_EINVAL);
    assert_int_equal(head_of(f->s, "hrb/a").seq, 2);
    assert_int_equal(info_of(f->s).events, 2);
}

static int meta_cb(store_txn_t *t, void *arg)
{
    (void)arg;
    const void *v;
    size_t len;
    int rc = store_meta_put(t, "name", "山河镇", strlen("山河镇"));
    if (!rc)
        rc = store_meta_get(t, "name", &v, &len);
    if (!rc && (len != strlen("山河镇") || memcmp(v, "山河镇", len)))
        rc = LD_ECORRUPT;
    return rc;
}

static void test_store_meta_and_open_modes(void **state)
{
    fx_t *f = *state;
    store_t *s = NULL;
    assert_int_equal(store_open(f->dir, 0, NULL, &s), LD_ENOTFOUND);
    assert_null(s);
    f->s = open_origin(f, "a", "hrb/a", 0);
    assert_int_equal(store_write(f->s, meta_cb, NULL), 0);
    assert_int_equal(append_n(f->s, 2, NULL), 0);
    store_close(&f->s);
    char *d = subdir(f, "a");
    assert_int_equal(store_open(d, STORE_RDONLY, NULL, &f->s), 0);
    free(d);
    store_txn_t *t;
    const void *v;
    size_t len;
    assert_int_equal(store_read_begin(f->s, &t), 0);
    assert_int_equal(store_meta_get(t, "name", &v, &len), 0);
    assert_int_equal(store_meta_get(t, "nothing", &v, &len), LD_ENOTFOUND);
    assert_int_equal(store_meta_get(t, "hlc", &v, &len), 0);
    assert_int_equal(len, 8);
    store_txn_t *t2;
    assert_int_equal(store_read_begin(f->s, &t2), LD_EINVAL);  /* one per thread */
    store_read_end(&t);
    assert_null(t);
    assert_int_equal(append_n(f->s, 1, NULL), LD_EINVAL);       /* read-only */
    assert_int_equal(head_of(f->s, "hrb/a").seq, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_store_append_chains),
        T(test_store_hlc_increases_when_clock_goes_back),
        T(test_store_reopen_persists),
        T(test_store_append_needs_origin),
        T(test_store_append_rejects_bad_body),
        T(test_store_indexer_error_aborts),
        T(test_store_meta_and_open_modes),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
