/*
 * test_store_checked.c -- the fast paths for content checked or decoded
 * already: store_txn_append_checked and store_txn_put_event give the same
 * stores, down to the last byte, as the plain append and put.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/err.h"
#include "common/store.h"
#include "proto/json.h"
#include "store_fixture.h"

/* ---- appending content that was checked already ---- */

/* Hashes everything an indexer can see of each event. */
static int digest_indexer(store_txn_t *t, const proto_event_t *ev, void *arg)
{
    (void)t;
    crypto_generichash_state *st = arg;
    uint64_t nums[] = {ev->version, ev->seq, ev->hlc, ev->body_fields, ev->flags,
                       (uint64_t)(uintptr_t)ev->schema, ev->author.ptr != NULL};
    crypto_generichash_update(st, (const uint8_t *)nums, sizeof nums);
    const mpk_str_t strs[] = {ev->origin, ev->kind, ev->date, ev->author};
    for (size_t i = 0; i < 4; i++) {
        crypto_generichash_update(st, (const uint8_t *)&strs[i].len, sizeof strs[i].len);
        crypto_generichash_update(st, (const uint8_t *)strs[i].ptr, strs[i].len);
    }
    crypto_generichash_update(st, ev->prev, PROTO_HASH_LEN);
    crypto_generichash_update(st, ev->body, ev->body_len);
    crypto_generichash_update(st, ev->raw, ev->raw_len);
    return 0;
}

typedef struct checked_ctx {
    bool checked;
    const char *kind;          /* the kind passed to append (NULL: deputy.contact) */
    int n;
} checked_ctx_t;

static int append_checked_cb(store_txn_t *t, void *arg)
{
    checked_ctx_t *c = arg;
    buf_t b = BUF_INIT, enc = BUF_INIT;
    int rc = 0;
    for (int i = 0; i < c->n && !rc; i++) {
        char note[64];
        snprintf(note, sizeof note, "\xe5\xb1\xb1 %d", i);
        pack_body(&b, "d1", note);
        const char *author = i % 2 ? "clerk" : NULL;
        store_new_t ev = {c->kind ? c->kind : "deputy.contact", "2024-05-01", author, b.data,
                          b.len};
        if (!c->checked) {
            rc = store_txn_append(t, &ev, NULL);
            continue;
        }
        /* validated the way import does: seq 1, hlc 0, zero prev */
        proto_header_t h = {.origin = store_origin(store_txn_store(t)), .seq = 1,
                            .kind = "deputy.contact", .date = ev.date, .author = author};
        proto_event_t dec;
        proto_checked_t ck;
        buf_reset(&enc);
        assert_int_equal(proto_event_encode(&h, b.data, b.len, &enc), 0);
        assert_int_equal(proto_event_decode(enc.data, enc.len, PROTO_DECODE_STRICT, &dec), 0);
        proto_checked_from(&dec, &ck);
        rc = store_txn_append_checked(t, &ev, &ck, NULL);
    }
    buf_free(&b);
    buf_free(&enc);
    return rc;
}

/* The same events appended with and without the strict decode give
 * byte-identical stores, and the indexers see identical events. */
static void test_store_append_checked_same_as_append(void **state)
{
    fx_t *f = *state;
    uint8_t snap[2][32], seen[2][32];
    for (int checked = 0; checked <= 1; checked++) {
        store_t *s = open_origin(f, checked ? "fast" : "strict", "hrb/a", 0);
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, 32);
        assert_int_equal(store_add_indexer(s, digest_indexer, &st), 0);
        checked_ctx_t c = {.checked = checked, .n = 40};
        assert_int_equal(store_write(s, append_checked_cb, &c), 0);
        assert_int_equal(store_write(s, append_checked_cb, &c), 0);
        crypto_generichash_final(&st, seen[checked], 32);
        snapshot(s, snap[checked]);
        assert_int_equal(verify_all(s, "").bad, 0);
        store_close(&s);
    }
    assert_memory_equal(snap[0], snap[1], 32);
    assert_memory_equal(seen[0], seen[1], 32);
}

static int append_checked_null_cb(store_txn_t *t, void *arg)
{
    (void)arg;
    buf_t b = BUF_INIT;
    pack_body(&b, "d1", "n");
    store_new_t ev = {"deputy.contact", "2024-05-01", NULL, b.data, b.len};
    int rc = store_txn_append_checked(t, &ev, NULL, NULL);
    buf_free(&b);
    return rc;
}

/* A check that cannot be this event's is refused, and nothing is stored. */
static void test_store_append_checked_refuses_mismatch(void **state)
{
    fx_t *f = *state;
    f->s = open_origin(f, "a", "hrb/a", 0);
    assert_int_equal(append_n(f->s, 1, NULL), 0);
    uint8_t before[32], after[32];
    snapshot(f->s, before);
    checked_ctx_t c = {.checked = true, .kind = "deputy.left", .n = 1};
    assert_int_equal(store_write(f->s, append_checked_cb, &c), LD_EINVAL);
    assert_int_equal(store_write(f->s, append_checked_null_cb, NULL), LD_EINVAL);
    snapshot(f->s, after);
    assert_memory_equal(before, after, 32);
}

/* ---- putting events decoded already ---- */

typedef struct put_event_ctx {
    const uint8_t *raw;
    size_t len;
    store_put_result_t res;
} put_event_ctx_t;

static int put_event_cb(store_txn_t *t, void *arg)
{
    put_event_ctx_t *c = arg;
    proto_event_t ev;
    int rc = proto_event_decode(c->raw, c->len, 0, &ev);
    return rc ? rc : store_txn_put_event(t, &ev, &c->res);
}

/* Every outcome (stored, held, moved in, duplicate, equivocation) is the
 * same through store_txn_put_event as through store_txn_put, down to the
 * last byte of every database. */
static void test_store_put_event_same_as_put(void **state)
{
    fx_t *f = *state;
    log_t l, other;
    make_log(f, "src", "hrb/a", 6, "n", &l);
    make_log(f, "fork", "hrb/a", 6, "other", &other);
    const struct { const log_t *log; size_t seq; store_put_result_t want; } steps[] = {
        {&l, 1, STORE_PUT_STORED}, {&l, 4, STORE_PUT_HELD}, {&l, 3, STORE_PUT_HELD},
        {&l, 2, STORE_PUT_STORED}, {&l, 2, STORE_PUT_DUPLICATE},
        {&l, 4, STORE_PUT_DUPLICATE}, {&other, 3, STORE_PUT_EQUIVOCATION},
        {&other, 5, STORE_PUT_EQUIVOCATION}, {&l, 6, STORE_PUT_HELD},
        {&l, 5, STORE_PUT_STORED},
    };
    uint8_t snap[2][32];
    for (int fast = 0; fast <= 1; fast++) {
        store_t *s = open_origin(f, fast ? "viaevent" : "viaput", "hrb/p", 0);
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
            const log_t *g = steps[i].log;
            size_t k = steps[i].seq - 1;
            store_put_result_t res;
            if (fast) {
                put_event_ctx_t c = {g->raw[k], g->len[k], 0};
                assert_int_equal(store_write(s, put_event_cb, &c), 0);
                res = c.res;
            } else {
                res = put_one(s, g, steps[i].seq);
            }
            assert_int_equal(res, steps[i].want);
        }
        assert_int_equal(head_of(s, "hrb/a").seq, 6);
        assert_int_equal(info_of(s).equivocations, 2);
        snapshot(s, snap[fast]);
        store_close(&s);
    }
    assert_memory_equal(snap[0], snap[1], 32);
    testutil_log_free(&l);
    testutil_log_free(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_store_append_checked_same_as_append),
        T(test_store_append_checked_refuses_mismatch),
        T(test_store_put_event_same_as_put),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
