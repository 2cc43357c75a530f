/*
 * store_fixture.h -- what the test_store*.c pieces share: a fresh directory
 * and a fake clock per test, stores opened with an origin, appends of plain
 * contact events, foreign logs made by a second store and put one event at
 * a time, and whole-store checks (a digest of every database, the chains
 * verified by a full scan).
 *
 * Every helper fails the test (cmocka) when something it needs goes wrong.
 */
#ifndef LD_TESTS_STORE_FIXTURE_H
#define LD_TESTS_STORE_FIXTURE_H

#include <stdint.h>

#include "common/buf.h"
#include "common/store.h"
#include "testutil.h"

typedef struct fx {
    char *dir;
    testutil_clock_t clock;
    store_t *s;
} fx_t;

typedef testutil_log_t log_t;

/* cmocka setup/teardown: *state is a fx_t; teardown closes f->s and
 * clears any injected fault. */
int setup(void **state);
int teardown(void **state);

/* f->dir/name, created; the caller frees the path. */
char *subdir(fx_t *f, const char *name);
store_t *open_at(fx_t *f, const char *dir, size_t map_size);
/* store_write callback: sets the origin (arg, a string). */
void set_origin(store_t *s, const char *origin);
store_t *open_origin(fx_t *f, const char *name, const char *origin, size_t map_size);

/* ---- appends and puts ---- */

/* A deputy.contact body into b (reset first). */
void pack_body(buf_t *b, const char *deputy, const char *note);

typedef struct append_ctx {
    int n;
    const char *note;
    store_ref_t refs[64];
    int done;
} append_ctx_t;

/* store_write callback: appends c->n events (arg, an append_ctx_t). */
int append_cb(store_txn_t *t, void *arg);
int append_n(store_t *s, int n, const char *note);
void make_log(fx_t *f, const char *name, const char *origin, int n, const char *note,
              log_t *out);
/* Puts event seq (from 1) of l into s in one write transaction. */
store_put_result_t put_one(store_t *s, const log_t *l, size_t seq);
/* store_write callback: puts events from..to of l (arg, a put_range_t),
 * counting what became of them. */
typedef struct put_range {
    const log_t *l;
    size_t from, to;
    int stored, dup;
} put_range_t;
int put_range_cb(store_txn_t *t, void *arg);

/* ---- whole-store checks ---- */

store_head_t head_of(store_t *s, const char *origin);
store_info_t info_of(store_t *s);
void snapshot(store_t *s, uint8_t out[32]);
/* store_events_foreach callback: counts into arg (an int). */
int count_cb(const char *origin, uint64_t seq, const uint8_t *raw, size_t len, void *arg);

typedef struct verify {
    char origin[PROTO_ORIGIN_MAX + 1];
    uint64_t seq;
    uint8_t prev[PROTO_HASH_LEN];
    uint64_t events, origins;
    int bad;
} verify_t;

/* Every event under prefix decodes and chains; fails the test if not. */
verify_t verify_all(store_t *s, const char *prefix);

#endif
