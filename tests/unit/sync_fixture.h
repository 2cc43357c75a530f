/*
 * sync_fixture.h -- what the test_sync*.c pieces share: stores with a fake
 * clock in a fresh directory per test, the child (its own log and two
 * townships' logs in its subtree), the check that a parent holds exactly
 * the child's subtree, and the two sync engines joined by an in-memory
 * network that drops, duplicates and reorders under a seeded PRNG.
 *
 * Every helper fails the test (cmocka) when something it needs goes wrong.
 */
#ifndef LD_TESTS_SYNC_FIXTURE_H
#define LD_TESTS_SYNC_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/store.h"
#include "common/sync.h"
#include "testutil.h"

#define CHILD  "hrb/daoli"
#define GRAND1 "hrb/daoli/xinfa"
#define GRAND2 "hrb/daoli/tuanjie"
#define PARENT "hrb"

typedef struct fx {
    char *dir;
    testutil_clock_t clock;
    int ndirs;
} fx_t;

/* cmocka setup/teardown: *state is a fx_t. */
int setup(void **state);
int teardown(void **state);

/* ---- stores and events ---- */

store_t *new_store(fx_t *f, const char *origin);
void append_n(store_t *s, int n, const char *tag);

typedef testutil_log_t log_t;

void add_foreign_log(fx_t *f, store_t *into, const char *origin, int n);
store_t *make_child(fx_t *f, int own, int g1, int g2);
store_info_t info_of(store_t *s);
void assert_converged(store_t *child, store_t *parent);

/* ---- the network ---- */

typedef struct pkt {
    uint8_t *data;
    size_t len;
} pkt_t;

typedef struct queue {
    pkt_t *p;
    size_t n, cap;
} queue_t;

typedef struct net {
    uint64_t rng;
    double loss, dup, reorder, send_fail;
    queue_t up, down;
    sync_out_t *out;
    unsigned window;
    bool strict_window;    /* no loss: BATCHes in the network <= window */
    uint64_t batches, dropped;
} net_t;

void q_push(queue_t *q, const uint8_t *data, size_t len);
void q_free(queue_t *q);
/* The sender's send callback (arg: the net_t): checks the credit window,
 * fails a share of sends, and puts the rest on the network. */
int send_cb(const uint8_t *msg, size_t len, void *arg);

/* ---- the two ends ---- */

typedef struct rx {
    store_t *s;
    sync_in_t *in;
    int group;                 /* batches applied per write transaction */
    bool keep;                 /* as a hub: check_keep, then apply_events */
    sync_events_t ev[8];       /* with keep: the accepted batches' events */
    unsigned commits;
    sync_in_counts_t counts;
} rx_t;

typedef struct apply_ctx {
    rx_t *rx;
    msg_t *m;
    int n;
    sync_in_counts_t c;
    int map_full;              /* fail this many runs as a full map would */
} apply_ctx_t;

/* store_write callback (arg: an apply_ctx_t): applies the accepted batches. */
int apply_cb(store_txn_t *t, void *arg);
int run(fx_t *f, net_t *n, rx_t *rx, int max_steps, bool until_done);
/* The upward scope: CHILD and its subtree. */
sync_scope_t up_scope(void);

typedef struct link {
    net_t net;
    rx_t rx;
    sync_out_t *out;
} link_t;

void link_open(link_t *l, store_t *child, store_t *parent, const sync_out_opts_t *o,
               uint64_t seed);
void link_session(fx_t *f, link_t *l, uint64_t session);
void link_close(link_t *l);

#endif
