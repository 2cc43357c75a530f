/* store_fixture.c -- see store_fixture.h. */
#include "store_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "common/err.h"
#include "proto/json.h"

int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->dir = testutil_tmpdir();
    f->clock.now_ms = 1700000000000ull;
    *state = f;
    return 0;
}

int teardown(void **state)
{
    fx_t *f = *state;
    store_close(&f->s);
    store_fault_after(0);
    testutil_rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

char *subdir(fx_t *f, const char *name)
{
    char *p = malloc(strlen(f->dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", f->dir, name);
    mkdir(p, 0700);
    return p;
}

store_t *open_at(fx_t *f, const char *dir, size_t map_size)
{
    store_opts_t o = {map_size, testutil_clock_ms, &f->clock};
    store_t *s = NULL;
    int rc = store_open(dir, STORE_CREATE, &o, &s);
    if (rc)
        print_error("store_open: %s\n", err_msg());
    assert_int_equal(rc, 0);
    return s;
}

void set_origin(store_t *s, const char *origin)
{
    assert_int_equal(store_write(s, testutil_set_origin_cb, (void *)origin), 0);
    assert_string_equal(store_origin(s), origin);
}

/* A store with `origin` in a fresh subdirectory. */
store_t *open_origin(fx_t *f, const char *name, const char *origin, size_t map_size)
{
    char *d = subdir(f, name);
    store_t *s = open_at(f, d, map_size);
    free(d);
    set_origin(s, origin);
    return s;
}

void pack_body(buf_t *b, const char *deputy, const char *note)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "deputy", deputy, "channel", "visit", "note", note);
    buf_reset(b);
    assert_int_equal(proto_body_pack_json(o, b), 0);
    json_decref(o);
}

int append_cb(store_txn_t *t, void *arg)
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

int append_n(store_t *s, int n, const char *note)
{
    append_ctx_t c = {.n = n, .note = note};
    return store_write(s, append_cb, &c);
}

/* A log of n events of `origin`, made by its own store in subdir name. */
void make_log(fx_t *f, const char *name, const char *origin, int n, const char *note,
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

store_put_result_t put_one(store_t *s, const log_t *l, size_t seq)
{
    put_ctx_t c = {l->raw[seq - 1], l->len[seq - 1], 0};
    int rc = store_write(s, put_cb, &c);
    if (rc)
        print_error("put: %s\n", err_msg());
    assert_int_equal(rc, 0);
    return c.res;
}

int put_range_cb(store_txn_t *t, void *arg)
{
    put_range_t *p = arg;
    p->stored = p->dup = 0;
    for (size_t seq = p->from; seq <= p->to; seq++) {
        store_put_result_t res;
        int rc = store_txn_put(t, p->l->raw[seq - 1], p->l->len[seq - 1], &res);
        if (rc)
            return rc;
        p->stored += res == STORE_PUT_STORED;
        p->dup += res == STORE_PUT_DUPLICATE;
    }
    return 0;
}

store_head_t head_of(store_t *s, const char *origin)
{
    store_txn_t *t;
    store_head_t h;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_head_get(t, origin, &h), 0);
    store_read_end(&t);
    return h;
}

store_info_t info_of(store_t *s)
{
    store_txn_t *t;
    store_info_t i;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_info_get(t, &i), 0);
    store_read_end(&t);
    return i;
}

/* BLAKE2b over every key and value of every database: "exactly as before". */
void snapshot(store_t *s, uint8_t out[32])
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

int count_cb(const char *origin, uint64_t seq, const uint8_t *raw, size_t len, void *arg)
{
    (void)origin; (void)seq; (void)raw; (void)len;
    (*(int *)arg)++;
    return 0;
}

/* ---- chain verification by a full scan ---- */

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

verify_t verify_all(store_t *s, const char *prefix)
{
    verify_t v = {0};
    store_txn_t *t;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_events_foreach(t, prefix, 0, verify_cb, &v), 0);
    store_read_end(&t);
    assert_int_equal(v.bad, 0);
    return v;
}
