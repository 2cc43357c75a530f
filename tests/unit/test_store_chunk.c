/*
 * test_store_chunk.c -- runs of events stored as one record (chunks, see
 * common/store_int.h): every event of a run found by seq, scans that start
 * inside a run or at its edges, one-event records and runs side by side,
 * duplicates and equivocations judged against events inside a run, and a
 * transaction that switches origins and comes back; a corrupt run refused;
 * format 1 stores.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>

#include "common/err.h"
#include "common/store.h"
#include "store_fixture.h"

/* 602 events of hrb/a: two one-event transactions, then 600 in one (runs
 * of 256, 256 and 88). Returns the store they are in, still open. */
#define RUN_TOTAL 602

static store_t *make_runs(fx_t *f, const char *name, const char *origin, const char *note,
                          log_t *out)
{
    store_t *s = open_origin(f, name, origin, 0);
    assert_int_equal(append_n(s, 1, note), 0);
    assert_int_equal(append_n(s, 1, note), 0);
    assert_int_equal(append_n(s, RUN_TOTAL - 2, note), 0);
    assert_int_equal(verify_all(s, "").events, RUN_TOTAL);
    testutil_log_copy(s, origin, out);
    assert_int_equal(out->n, RUN_TOTAL);
    return s;
}

typedef struct seen {
    uint64_t first, last, n;
    int gaps;
} seen_t;

static int seen_cb(const char *origin, uint64_t seq, const uint8_t *raw, size_t len, void *arg)
{
    (void)origin, (void)raw, (void)len;
    seen_t *s = arg;
    if (s->n == 0)
        s->first = seq;
    else if (seq != s->last + 1)
        s->gaps++;
    s->last = seq;
    s->n++;
    return 0;
}

/* store_events_foreach in a read txn of its own: its result code. */
static int scan(store_t *s, const char *prefix, uint64_t since, seen_t *seen)
{
    store_txn_t *t;
    *seen = (seen_t){0};
    assert_int_equal(store_read_begin(s, &t), 0);
    int rc = store_events_foreach(t, prefix, since, seen_cb, seen);
    store_read_end(&t);
    return rc;
}

static seen_t scan_since(store_t *s, const char *prefix, uint64_t since)
{
    seen_t seen;
    assert_int_equal(scan(s, prefix, since, &seen), 0);
    return seen;
}

static void check_every_event(store_t *s, const char *origin, const log_t *l)
{
    store_txn_t *t;
    assert_int_equal(store_read_begin(s, &t), 0);
    for (uint64_t seq = 1; seq <= l->n; seq++) {
        const uint8_t *raw;
        size_t len;
        assert_int_equal(store_event_get(t, origin, seq, &raw, &len), 0);
        assert_int_equal(len, l->len[seq - 1]);
        assert_memory_equal(raw, l->raw[seq - 1], len);
    }
    const uint8_t *raw;
    size_t len;
    assert_int_equal(store_event_get(t, origin, l->n + 1, &raw, &len), LD_ENOTFOUND);
    store_read_end(&t);
}

static void test_store_chunk_runs_read_back(void **state)
{
    fx_t *f = *state;
    log_t l;
    store_t *s = make_runs(f, "src", "hrb/a", NULL, &l);
    check_every_event(s, "hrb/a", &l);
    /* Scans starting before, at, inside and after each record. */
    static const uint64_t since[] = {0, 1, 2, 3, 100, 257, 258, 259, 300, 514, 515, 516,
                                     601, 602, 700};
    for (size_t i = 0; i < sizeof since / sizeof since[0]; i++) {
        seen_t seen = scan_since(s, "hrb/a", since[i]);
        uint64_t want = since[i] >= RUN_TOTAL ? 0 : RUN_TOTAL - since[i];
        assert_int_equal(seen.n, want);
        assert_int_equal(seen.gaps, 0);
        if (want)
            assert_int_equal(seen.first, since[i] + 1);
    }
    store_close(&s);
    testutil_log_free(&l);
}

static void put_range(store_t *s, const log_t *l, size_t from, size_t to)
{
    put_range_t p = {l, from, to, 0, 0};
    assert_int_equal(store_write(s, put_range_cb, &p), 0);
    assert_int_equal(p.stored, to - from + 1);
}

static void test_store_chunk_duplicates_and_equivocations(void **state)
{
    fx_t *f = *state;
    log_t l, other;
    store_t *src = make_runs(f, "src", "hrb/a", "one", &l);
    store_t *fork = make_runs(f, "fork", "hrb/a", "two", &other); /* same origin, other bytes */
    store_close(&src);
    store_close(&fork);
    store_t *hub = open_origin(f, "hub", "hrb", 0);
    put_range(hub, &l, 1, RUN_TOTAL);
    check_every_event(hub, "hrb/a", &l);
    /* The same bytes again, first, inside and last of a run: no-ops. */
    static const size_t again[] = {1, 3, 200, 258, 259, 514, 602};
    for (size_t i = 0; i < sizeof again / sizeof again[0]; i++)
        assert_int_equal(put_one(hub, &l, again[i]), STORE_PUT_DUPLICATE);
    /* Other bytes under a seq inside a run: kept aside, never over it. */
    assert_int_equal(put_one(hub, &other, 300), STORE_PUT_EQUIVOCATION);
    assert_int_equal(info_of(hub).equivocations, 1);
    assert_int_equal(info_of(hub).events, RUN_TOTAL);
    check_every_event(hub, "hrb/a", &l);
    /* A duplicate in the transaction that is still gathering the run. */
    store_t *hub2 = open_origin(f, "hub2", "hrb", 0);
    put_range_t p = {&l, 1, 10, 0, 0};
    assert_int_equal(store_write(hub2, put_range_cb, &p), 0);
    p = (put_range_t){&l, 5, 12, 0, 0};
    assert_int_equal(store_write(hub2, put_range_cb, &p), 0);
    assert_int_equal(p.dup, 6);
    assert_int_equal(p.stored, 2);
    verify_all(hub2, "");
    store_close(&hub2);
    store_close(&hub);
    testutil_log_free(&l);
    testutil_log_free(&other);
}

/* One transaction: a1..a10, b1..b10, a11..a20, and c (under a's name
 * but not in its subtree) -- runs end where the origin changes. */
static int interleave_cb(store_txn_t *t, void *arg)
{
    const log_t *logs = arg;   /* a, b, c */
    static const struct { int log; size_t from, to; } runs[] = {
        {0, 1, 10}, {1, 1, 10}, {0, 11, 20}, {2, 1, 20}, {1, 11, 20},
    };
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++)
        for (size_t seq = runs[r].from; seq <= runs[r].to; seq++) {
            const log_t *l = &logs[runs[r].log];
            store_put_result_t res;
            int rc = store_txn_put(t, l->raw[seq - 1], l->len[seq - 1], &res);
            if (rc)
                return rc;
            assert_int_equal(res, STORE_PUT_STORED);
        }
    return 0;
}

static void test_store_chunk_origins_interleaved(void **state)
{
    fx_t *f = *state;
    log_t logs[3];
    make_log(f, "a", "hrb/a", 20, NULL, &logs[0]);
    make_log(f, "b", "hrb/a/x", 20, NULL, &logs[1]);
    make_log(f, "c", "hrb/ab", 20, NULL, &logs[2]);
    store_t *hub = open_origin(f, "hub", "hrb", 0);
    assert_int_equal(store_write(hub, interleave_cb, logs), 0);
    check_every_event(hub, "hrb/a", &logs[0]);
    check_every_event(hub, "hrb/a/x", &logs[1]);
    check_every_event(hub, "hrb/ab", &logs[2]);
    assert_int_equal(verify_all(hub, "").events, 60);
    /* hrb/a's subtree is hrb/a and hrb/a/x, not hrb/ab */
    assert_int_equal(scan_since(hub, "hrb/a", 0).n, 40);
    assert_int_equal(scan_since(hub, "hrb/a", 15).n, 10);
    assert_int_equal(scan_since(hub, "hrb/ab", 15).n, 5);
    store_close(&hub);
    for (int i = 0; i < 3; i++)
        testutil_log_free(&logs[i]);
}

/* Replaces the record of hrb/a at seq 3 (the first run) with a chunk whose
 * first length runs past its end, as a torn or tampered file would. */
static int corrupt_cb(store_txn_t *t, void *arg)
{
    (void)arg;
    MDB_dbi dbi;
    int rc = mdb_dbi_open(store_txn_mdb(t), "events", 0, &dbi);
    uint8_t key[] = {'h', 'r', 'b', '/', 'a', 0, 0, 0, 0, 0, 0, 0, 0, 3};
    uint8_t bad[15] = {0xc1, 0, 0, 0x03, 0xe8};   /* 1,000 bytes announced, 10 there */
    MDB_val k = {sizeof key, key}, v = {sizeof bad, bad};
    return rc ? rc : mdb_put(store_txn_mdb(t), dbi, &k, &v, 0);
}

/* A chunk that does not hold together is reported as corrupt by every
 * reader, never read past. */
static void test_store_chunk_corrupt_is_refused(void **state)
{
    fx_t *f = *state;
    log_t l;
    store_t *s = make_runs(f, "src", "hrb/a", NULL, &l);
    assert_int_equal(store_write(s, corrupt_cb, NULL), 0);
    store_txn_t *t;
    const uint8_t *raw;
    size_t len;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_event_get(t, "hrb/a", 2, &raw, &len), 0);   /* its own record */
    assert_int_equal(store_event_get(t, "hrb/a", 3, &raw, &len), LD_ECORRUPT);
    assert_int_equal(store_event_get(t, "hrb/a", 100, &raw, &len), LD_ECORRUPT);
    assert_int_equal(store_event_get(t, "hrb/a", 300, &raw, &len), 0);  /* the next run */
    store_read_end(&t);
    seen_t seen;
    assert_int_equal(scan(s, "hrb/a", 0, &seen), LD_ECORRUPT);
    store_close(&s);
    testutil_log_free(&l);
}

static int put_format_cb(store_txn_t *t, void *arg)
{
    uint8_t f[4] = {0, 0, 0, *(const uint8_t *)arg};
    return store_meta_put(t, "format", f, 4);
}

static uint8_t format_of(store_t *s)
{
    store_txn_t *t;
    const void *v;
    size_t len;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_meta_get(t, "format", &v, &len), 0);
    assert_int_equal(len, 4);
    uint8_t f = ((const uint8_t *)v)[3];
    store_read_end(&t);
    return f;
}

/* Format 2 adds chunks: a format-1 store is read as it is, and marked 2 by
 * the first writable open (so a format-1 build refuses it from then on);
 * a format this build does not know is refused. */
static void test_store_format_1_is_read_and_upgraded(void **state)
{
    fx_t *f = *state;
    char *dir = subdir(f, "u");
    store_t *s = open_origin(f, "u", "hrb/u", 0);
    assert_int_equal(format_of(s), 2);
    assert_int_equal(store_write(s, put_format_cb, &(uint8_t){1}), 0);
    store_close(&s);
    store_opts_t o = {0, NULL, NULL};
    assert_int_equal(store_open(dir, STORE_RDONLY, &o, &s), 0);
    assert_int_equal(format_of(s), 1);
    store_close(&s);
    s = open_at(f, dir, 0);
    assert_int_equal(format_of(s), 2);
    assert_int_equal(store_write(s, put_format_cb, &(uint8_t){9}), 0);
    store_close(&s);
    assert_int_equal(store_open(dir, 0, &o, &s), LD_EVERSION);
    assert_null(s);
    free(dir);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_store_chunk_runs_read_back),
        T(test_store_chunk_duplicates_and_equivocations),
        T(test_store_chunk_origins_interleaved),
        T(test_store_chunk_corrupt_is_refused),
        T(test_store_format_1_is_read_and_upgraded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
