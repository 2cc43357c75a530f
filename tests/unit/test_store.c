/*
 * test_store.c -- the LMDB store: chains, HLC stamps, idempotent puts,
 * equivocations, out-of-order arrivals, subtree scans, map growth, two
 * processes writing one directory, and a fault swept through every write
 * of an append and of a put that moves held events in.
 *
 * Foreign events are made the way they arise in real life: a second store
 * with another origin appends them, and their raw bytes are copied over.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <jansson.h>
#include <sodium.h>

#include "common/err.h"
#include "common/store.h"
#include "proto/json.h"
#include "testutil.h"

typedef struct fx {
    char *dir;
    testutil_clock_t clock;
    store_t *s;
} fx_t;

typedef testutil_log_t log_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->dir = testutil_tmpdir();
    f->clock.now_ms = 1700000000000ull;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    store_close(&f->s);
    store_fault_after(0);
    testutil_rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static char *subdir(fx_t *f, const char *name)
{
    char *p = malloc(strlen(f->dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", f->dir, name);
    mkdir(p, 0700);
    return p;
}

static store_t *open_at(fx_t *f, const char *dir, size_t map_size)
{
    store_opts_t o = {map_size, testutil_clock_ms, &f->clock};
    store_t *s = NULL;
    int rc = store_open(dir, STORE_CREATE, &o, &s);
    if (rc)
        print_error("store_open: %s\n", err_msg());
    assert_int_equal(rc, 0);
    return s;
}

static int set_origin_cb(store_txn_t *t, void *arg)
{
    return store_meta_put(t, "origin", arg, strlen(arg));
}

static void set_origin(store_t *s, const char *origin)
{
    assert_int_equal(store_write(s, set_origin_cb, (void *)origin), 0);
    assert_string_equal(store_origin(s), origin);
}

/* A store with `origin` in a fresh subdirectory. */
static store_t *open_origin(fx_t *f, const char *name, const char *origin, size_t map_size)
{
    char *d = subdir(f, name);
    store_t *s = open_at(f, d, map_size);
    free(d);
    set_origin(s, origin);
    return s;
}

static void pack_body(buf_t *b, const char *deputy, const char *note)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "deputy", deputy, "channel", "visit", "note", note);
    buf_reset(b);
    assert_int_equal(proto_body_pack_json(o, b), 0);
    json_decref(o);
}

typedef struct append_ctx {
    int n;
    const char *note;
    store_ref_t refs[64];
    int done;
} append_ctx_t;

static int append_cb(store_txn_t *t, void *arg)
{
    append_ctx_t *c = arg;
    buf_t b = BUF_INIT;
    int rc = 0;
    c->done = 0;
    for (int i = 0; i < c->n && !rc; i++) {
        char note[64];
        snprintf(note, sizeof note, "%s %d", c->note ? c->note : "n", i);
        pack_body(&b, "d1", note);
        store_new_t ev = {"deputy.contact", "2024-05-01", "clerk", b.data, b.len};
        rc = store_txn_append(t, &ev, i < 64 ? &c->refs[i] : NULL);
        if (!rc)
            c->done++;
    }
    buf_free(&b);
    return rc;
}

static int append_n(store_t *s, int n, const char *note)
{
    append_ctx_t c = {.n = n, .note = note};
    return store_write(s, append_cb, &c);
}

/* A log of n events of `origin`, made by its own store in subdir name. */
static void make_log(fx_t *f, const char *name, const char *origin, int n, const char *note,
                     log_t *out)
{
    store_t *s = open_origin(f, name, origin, 0);
    assert_int_equal(append_n(s, n, note), 0);
    testutil_log_copy(s, origin, out);
    store_close(&s);
}

typedef struct put_ctx {
    const uint8_t *raw;
    size_t len;
    store_put_result_t res;
} put_ctx_t;

static int put_cb(store_txn_t *t, void *arg)
{
    put_ctx_t *c = arg;
    return store_txn_put(t, c->raw, c->len, &c->res);
}

static store_put_result_t put_one(store_t *s, const log_t *l, size_t seq)
{
    put_ctx_t c = {l->raw[seq - 1], l->len[seq - 1], 0};
    int rc = store_write(s, put_cb, &c);
    if (rc)
        print_error("put: %s\n", err_msg());
    assert_int_equal(rc, 0);
    return c.res;
}

static store_head_t head_of(store_t *s, const char *origin)
{
    store_txn_t *t;
    store_head_t h;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_head_get(t, origin, &h), 0);
    store_read_end(&t);
    return h;
}

static store_info_t info_of(store_t *s)
{
    store_txn_t *t;
    store_info_t i;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_info_get(t, &i), 0);
    store_read_end(&t);
    return i;
}

/* BLAKE2b over every key and value of every database: "exactly as before". */
static void snapshot(store_t *s, uint8_t out[32])
{
    static const char *const dbs[] = {"events", "heads", "held", "equivocations", "meta"};
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    store_txn_t *t;
    assert_int_equal(store_read_begin(s, &t), 0);
    for (size_t i = 0; i < 5; i++) {
        MDB_dbi d;
        MDB_cursor *c;
        MDB_val k, v;
        assert_int_equal(mdb_dbi_open(store_txn_mdb(t), dbs[i], 0, &d), 0);
        assert_int_equal(mdb_cursor_open(store_txn_mdb(t), d, &c), 0);
        crypto_generichash_update(&st, (const uint8_t *)dbs[i], strlen(dbs[i]) + 1);
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            uint64_t lens[2] = {k.mv_size, v.mv_size};
            crypto_generichash_update(&st, (const uint8_t *)lens, sizeof lens);
            crypto_generichash_update(&st, k.mv_data, k.mv_size);
            crypto_generichash_update(&st, v.mv_data, v.mv_size);
        }
        mdb_cursor_close(c);
    }
    store_read_end(&t);
    crypto_generichash_final(&st, out, 32);
}

/* ---- chain verification by a full scan ---- */

typedef struct verify {
    char origin[PROTO_ORIGIN_MAX + 1];
    uint64_t seq;
    uint8_t prev[PROTO_HASH_LEN];
    uint64_t events, origins;
    int bad;
} verify_t;

static int verify_cb(const char *origin, uint64_t seq, const uint8_t *raw, size_t len, void *arg)
{
    verify_t *v = arg;
    proto_event_t e;
    if (strcmp(origin, v->origin) != 0) {
        snprintf(v->origin, sizeof v->origin, "%s", origin);
        v->seq = 0;
        memset(v->prev, 0, sizeof v->prev);
        v->origins++;
    }
    if (proto_event_decode(raw, len, 0, &e) || e.seq != seq || seq != v->seq + 1 ||
        !mpk_str_eq(e.origin, origin) || memcmp(e.prev, v->prev, PROTO_HASH_LEN) != 0)
        v->bad++;
    proto_hash(raw, len, v->prev);
    v->seq = seq;
    v->events++;
    return 0;
}

static verify_t verify_all(store_t *s, const char *prefix)
{
    verify_t v = {0};
    store_txn_t *t;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_events_foreach(t, prefix, 0, verify_cb, &v), 0);
    store_read_end(&t);
    assert_int_equal(v.bad, 0);
    return v;
}

/* ---- tests ---- */

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

static int count_cb(const char *origin, uint64_t seq, const uint8_t *raw, size_t len, void *arg)
{
    (void)origin; (void)seq; (void)raw; (void)len;
    (*(int *)arg)++;
    return 0;
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

static void test_store_chain_verifies_by_full_scan(void **state)
{
    fx_t *f = *state;
    static const char *const origins[] = {"hrb/a", "hrb/b", "hrb/b/x", "hrb/c"};
    f->s = open_origin(f, "hub", "hrb", 0);
    assert_int_equal(append_n(f->s, 4, NULL), 0);
    for (size_t k = 0; k < 4; k++) {
        char name[8];
        log_t l;
        snprintf(name, sizeof name, "s%zu", k);
        make_log(f, name, origins[k], (int)k + 2, NULL, &l);
        for (size_t seq = l.n; seq >= 1; seq--)     /* backwards: all held, then drained */
            put_one(f->s, &l, seq);
        testutil_log_free(&l);
    }
    verify_t v = verify_all(f->s, "");
    assert_int_equal(v.events, 4 + 2 + 3 + 4 + 5);
    assert_int_equal(v.origins, 5);
    store_info_t i = info_of(f->s);
    assert_int_equal(i.events, v.events);
    assert_int_equal(i.origins, 5);
    assert_int_equal(i.held, 0);
}

typedef struct names {
    char list[512];
    uint64_t n;
} names_t;

static int name_head_cb(const char *origin, const store_head_t *h, void *arg)
{
    names_t *nm = arg;
    (void)h;
    strcat(nm->list, origin);
    strcat(nm->list, " ");
    nm->n++;
    return 0;
}

static int name_event_cb(const char *origin, uint64_t seq, const uint8_t *raw, size_t len,
                         void *arg)
{
    names_t *nm = arg;
    char one[200];
    (void)raw; (void)len;
    snprintf(one, sizeof one, "%s#%llu ", origin, (unsigned long long)seq);
    strcat(nm->list, one);
    nm->n++;
    return 0;
}

static void heads_under(store_t *s, const char *prefix, const char *want)
{
    names_t nm = {{0}, 0};
    store_txn_t *t;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_heads_foreach(t, prefix, name_head_cb, &nm), 0);
    store_read_end(&t);
    assert_string_equal(nm.list, want);
}

static void events_under(store_t *s, const char *prefix, uint64_t since, const char *want)
{
    names_t nm = {{0}, 0};
    store_txn_t *t;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_events_foreach(t, prefix, since, name_event_cb, &nm), 0);
    store_read_end(&t);
    assert_string_equal(nm.list, want);
}

static void test_store_prefix_scans_respect_segments(void **state)
{
    fx_t *f = *state;
    static const char *const origins[] = {"hrb/wu", "hrb/wu-x", "hrb/wu/a", "hrb/wuchang",
                                          "hrb/wuchang/shanhe", "hrb/w"};
    f->s = open_origin(f, "hub", "hrb", 0);
    assert_int_equal(append_n(f->s, 1, NULL), 0);
    for (size_t k = 0; k < 6; k++) {
        char name[8];
        log_t l;
        snprintf(name, sizeof name, "s%zu", k);
        make_log(f, name, origins[k], 2, NULL, &l);
        put_one(f->s, &l, 1);
        put_one(f->s, &l, 2);
        testutil_log_free(&l);
    }
    heads_under(f->s, "hrb/wu", "hrb/wu hrb/wu/a ");
    heads_under(f->s, "hrb/wuchang", "hrb/wuchang hrb/wuchang/shanhe ");
    heads_under(f->s, "hrb/w", "hrb/w ");
    heads_under(f->s, "hrb/wuc", "");
    heads_under(f->s, "", "hrb hrb/w hrb/wu hrb/wu-x hrb/wu/a hrb/wuchang hrb/wuchang/shanhe ");
    heads_under(f->s, "hrb", "hrb hrb/w hrb/wu hrb/wu-x hrb/wu/a hrb/wuchang hrb/wuchang/shanhe ");
    events_under(f->s, "hrb/wu", 0, "hrb/wu#1 hrb/wu#2 hrb/wu/a#1 hrb/wu/a#2 ");
    events_under(f->s, "hrb/wu", 1, "hrb/wu#2 hrb/wu/a#2 ");
    events_under(f->s, "hrb/wu", 2, "");
    events_under(f->s, "hrb/wuchang/shanhe", 0, "hrb/wuchang/shanhe#1 hrb/wuchang/shanhe#2 ");
    events_under(f->s, "", 1, "hrb/w#2 hrb/wu#2 hrb/wu-x#2 hrb/wu/a#2 hrb/wuchang#2 "
                 "hrb/wuchang/shanhe#2 ");
    events_under(f->s, "hrb", 0, "hrb#1 hrb/w#1 hrb/w#2 hrb/wu#1 hrb/wu#2 hrb/wu-x#1 hrb/wu-x#2 "
                 "hrb/wu/a#1 hrb/wu/a#2 hrb/wuchang#1 hrb/wuchang#2 hrb/wuchang/shanhe#1 "
                 "hrb/wuchang/shanhe#2 ");
}

static void test_store_map_grows(void **state)
{
    fx_t *f = *state;
    f->s = open_origin(f, "a", "hrb/a", 64 * 1024);
    size_t before = store_map_size(f->s);
    for (int i = 0; i < 20; i++)                 /* many small txns */
        assert_int_equal(append_n(f->s, 100, "a note long enough to fill pages quickly"), 0);
    assert_int_equal(append_n(f->s, 3000, "and one large transaction"), 0);
    assert_true(store_map_size(f->s) > before);
    assert_int_equal(head_of(f->s, "hrb/a").seq, 5000);
    assert_int_equal(verify_all(f->s, "").events, 5000);
    assert_int_equal(info_of(f->s).events, 5000);
}

/* Two processes append to one directory at once: LMDB serialises them, so
 * the log stays gapless. A small map makes both grow it under each other. */
static void test_store_two_processes_append(void **state)
{
    fx_t *f = *state;
    char *d = subdir(f, "shared");
    f->s = open_at(f, d, 64 * 1024);
    set_origin(f->s, "hrb/a");
    assert_int_equal(append_n(f->s, 1, "init"), 0);
    store_close(&f->s);
    pid_t pid[2];
    for (int k = 0; k < 2; k++) {
        pid[k] = fork();
        assert_true(pid[k] >= 0);
        if (pid[k] == 0) {
            store_t *s = NULL;
            int rc = store_open(d, 0, &(store_opts_t){64 * 1024, NULL, NULL}, &s);
            for (int i = 0; i < 50 && !rc; i++)
                rc = append_n(s, 10, k ? "child two" : "child one");
            if (rc)
                fprintf(stderr, "child %d: %s\n", k, err_msg());
            store_close(&s);
            _exit(rc ? 1 : 0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status;
        assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    f->s = open_at(f, d, 0);
    free(d);
    assert_int_equal(head_of(f->s, "hrb/a").seq, 1001);
    assert_int_equal(verify_all(f->s, "").events, 1001);
    assert_int_equal(info_of(f->s).events, 1001);
}

/* One process has the store open with a small map while another grows it
 * far past that: the first one's next transaction meets MDB_MAP_RESIZED,
 * adopts the new size and goes on. */
static void test_store_adopts_growth_by_another_process(void **state)
{
    fx_t *f = *state;
    char *d = subdir(f, "shared");
    f->s = open_at(f, d, 64 * 1024);
    set_origin(f->s, "hrb/a");
    store_close(&f->s);
    int go[2], done[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(done), 0);
    pid_t small = fork();
    assert_true(small >= 0);
    if (small == 0) {
        store_t *s = NULL;
        char c;
        int rc = store_open(d, 0, &(store_opts_t){64 * 1024, NULL, NULL}, &s);
        if (write(done[1], "o", 1) != 1 || read(go[0], &c, 1) != 1)
            rc = -1;
        if (!rc)
            rc = append_n(s, 5, "after the other grew it");
        store_close(&s);
        _exit(rc ? 1 : 0);
    }
    char c;
    assert_int_equal(read(done[0], &c, 1), 1);     /* the small one is open */
    pid_t big = fork();
    assert_true(big >= 0);
    if (big == 0) {
        store_t *s = NULL;
        int rc = store_open(d, 0, &(store_opts_t){64 * 1024, NULL, NULL}, &s);
        for (int i = 0; i < 20 && !rc; i++)
            rc = append_n(s, 200, "a note long enough to need a much larger map");
        store_close(&s);
        _exit(rc ? 1 : 0);
    }
    int status;
    assert_int_equal(waitpid(big, &status, 0), big);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(write(go[1], "g", 1), 1);
    assert_int_equal(waitpid(small, &status, 0), small);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(go[0]); close(go[1]); close(done[0]); close(done[1]);
    f->s = open_at(f, d, 0);
    free(d);
    assert_int_equal(verify_all(f->s, "").events, 4005);
}

typedef struct reader_ctx {
    store_t *s;
    atomic_int stop;
    int rounds, errors;
} reader_ctx_t;

static void *reader_main(void *arg)
{
    reader_ctx_t *r = arg;
    while (!atomic_load(&r->stop)) {
        store_txn_t *t;
        store_info_t i;
        int n = 0;
        if (store_read_begin(r->s, &t) || store_info_get(t, &i) ||
            store_events_foreach(t, "", 0, count_cb, &n) || (uint64_t)n != i.events)
            r->errors++;
        store_read_end(&t);
        r->rounds++;
    }
    return NULL;
}

/* One thread reads in a loop while another appends into a tiny map: growth
 * must wait for the readers' transactions, never unmap under them. */
static void test_store_threads_read_while_map_grows(void **state)
{
    fx_t *f = *state;
    f->s = open_origin(f, "a", "hrb/a", 64 * 1024);
    reader_ctx_t r = {f->s, 0, 0, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, reader_main, &r), 0);
    for (int i = 0; i < 30; i++)
        assert_int_equal(append_n(f->s, 100, "written while another thread reads"), 0);
    atomic_store(&r.stop, 1);
    pthread_join(th, NULL);
    assert_int_equal(r.errors, 0);
    assert_true(r.rounds > 0);
    assert_true(store_map_size(f->s) > 64 * 1024);
    assert_int_equal(verify_all(f->s, "").events, 3000);
}

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
    assert_true(steps > 10);                     /* 10 puts + write-back + commit */
    assert_int_equal(head_of(f->s, "hrb/a").seq, 13);
    assert_int_equal(info_of(f->s).events, 13);
    assert_int_equal(verify_all(f->s, "").events, 13);
}

typedef struct put_many {
    const log_t *l;
    size_t from, to;
} put_many_t;

static int put_many_cb(store_txn_t *t, void *arg)
{
    put_many_t *p = arg;
    for (size_t seq = p->from; seq <= p->to; seq++) {
        store_put_result_t res;
        int rc = store_txn_put(t, p->l->raw[seq - 1], p->l->len[seq - 1], &res);
        if (rc)
            return rc;
    }
    return 0;
}

static int op_put(store_t *s, void *arg)
{
    return store_write(s, put_many_cb, arg);
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
    put_many_t p = {&l, 2, 3};
    int steps = sweep(f->s, op_put, &p);
    assert_true(steps > 12);
    store_head_t h = head_of(f->s, "hrb/a");
    assert_int_equal(h.seq, 8);
    assert_int_equal(h.held, 0);
    store_info_t i = info_of(f->s);
    assert_int_equal(i.events, 8);
    assert_int_equal(i.held, 0);
    verify_all(f->s, "");
    testutil_log_free(&l);
}

static void test_store_append_needs_origin(void **state)
{
    fx_t *f = *state;
    f->s = open_at(f, f->dir, 0);
    assert_string_equal(store_origin(f->s), "");
    assert_int_equal(append_n(f->s, 1, NULL), LD_EINVAL);
    assert_int_equal(store_write(f->s, set_origin_cb, "Not/Valid"), LD_EINVAL);
    set_origin(f->s, "hrb/a");
    assert_int_equal(store_write(f->s, set_origin_cb, "hrb/b"), LD_EEXIST);
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
        T(test_store_put_duplicate_is_noop),
        T(test_store_equivocation_kept_aside),
        T(test_store_bounds_what_a_sender_parks),
        T(test_store_out_of_order_fill),
        T(test_store_held_with_wrong_prev_becomes_equivocation),
        T(test_store_chain_verifies_by_full_scan),
        T(test_store_prefix_scans_respect_segments),
        T(test_store_map_grows),
        T(test_store_two_processes_append),
        T(test_store_adopts_growth_by_another_process),
        T(test_store_threads_read_while_map_grows),
        T(test_store_fault_sweep_append),
        T(test_store_fault_sweep_put_moving_held),
        T(test_store_append_needs_origin),
        T(test_store_append_rejects_bad_body),
        T(test_store_append_checked_same_as_append),
        T(test_store_append_checked_refuses_mismatch),
        T(test_store_put_event_same_as_put),
        T(test_store_indexer_error_aborts),
        T(test_store_restore_own_log_before_append),
        T(test_store_meta_and_open_modes),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
