/*
 * children.h -- the parent end of the sync links: every child of this hub
 * (township nodes, or district hubs under the city).
 *
 * Three bound sockets, all CurveZMQ servers guarded by the ZAP handler, so
 * each message carries the sender's origin as User-Id:
 *   ROUTER  PORT    control with every child
 *   SUB     PORT+1  data up: BATCHes from every child (subscribed to all)
 *   XPUB    PORT+2  data down: BATCHes under the topic "CHILD\0"
 *
 * Per child, a session (HELLO -> WELCOME) with a receiver for its subtree
 * (sync_in, allowed only that subtree: a key can never send another unit's
 * events) and a sender of the ancestors' logs (sync_out). Batches from all
 * children that arrive in one loop turn are committed in ONE transaction
 * (group commit) and only then acknowledged.
 *
 * It knows what BRIEF "Observability" asks per child (children_json()), and
 * keeps a record per child in the store (db "children": epoch, last seen,
 * last progress), so `children` still says something when no daemon runs.
 *
 * Loop-bound (libuv lifecycle); caller-allocated children_t; everything on
 * the loop thread. Bad input from the network is counted and logged here
 * (this is the edge where it is handled), never returned.
 */
#ifndef LD_HUB_CHILDREN_H
#define LD_HUB_CHILDREN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/keys.h"
#include "common/store.h"
#include "common/sync.h"
#include "common/zap.h"
#include "common/zloop.h"

typedef struct child child_t;
typedef struct children children_t;

/* After a group commit stored new events from below: forward them up. */
typedef void (*children_merged_cb)(children_t *c);

typedef struct children_opts {
    const char *listen;       /* tcp://ADDRESS:PORT */
    const keys_t *keys;       /* this hub's key pair */
    const char *epoch;        /* this store's epoch */
    unsigned heartbeat_ms;    /* 0: 1000 */
    unsigned dead_ms;         /* 0: 5 * heartbeat */
    unsigned stall_ms;        /* connected, behind, no progress this long: a fault; 0: 30000 */
    sync_out_opts_t out;
} children_opts_t;

typedef struct children_stats {
    uint64_t hellos, refused_origin, refused_version, bad_messages, bad_batches,
             foreign_origin, unknown_sender, batches, events_stored, events_duplicate,
             events_held, events_dropped, equivocations, commits, epoch_alarms, foreign_subscriptions;
} children_stats_t;

struct children {
    void *data;
    children_stats_t stats;
    /* private */
    uv_loop_t *loop;
    void *zctx;
    store_t *store;
    zap_t *zap;
    children_opts_t o;
    keys_t keys;
    char epoch[MSG_EPOCH_MAX + 1];
    char endpoint[3][300];
    void *router, *sub, *xpub;
    zloop_t w_router, w_sub, w_xpub;
    int open_watchers;
    child_t **child;
    size_t n, cap;
    struct pending_batch *pend;      /* accepted, waiting for the next group commit */
    size_t npend, cappend;
    /* The group commit in flight on libuv's thread pool, so that the loop
     * goes on reading, judging and answering meanwhile. One at a time (LMDB
     * has one writer); its batches were moved here from pend. The worker
     * touches only these fields and the store. */
    struct pending_batch *inflight;
    size_t ninflight, capinflight;
    size_t commit_max;           /* events per group commit at most (one batch at least) */
    uv_work_t work;
    bool committing, closing;
    int commit_rc;
    char commit_err[256];
    sync_in_counts_t commit_counts;
    uv_check_t flush;
    uv_timer_t timer;
    uint64_t last_tick_ms;           /* when on_timer last ran: its lateness is our stall */
    buf_t scratch;
    children_merged_cb merged_cb;
    void (*close_cb)(children_t *c);
};

/* Binds the three sockets (the ZAP handler must already be bound in zctx). */
int children_init(uv_loop_t *loop, children_t *c, void *zctx, store_t *s, zap_t *zap,
                  const children_opts_t *o);
int children_start(children_t *c, children_merged_cb cb);
/* The hub's own log or an ancestor's grew: send it down to every child. */
void children_pump_down(children_t *c);
/* Ends the sessions of children whose keys are no longer allowed. */
void children_recheck_allowed(children_t *c);
/* Per child, as `children --json` prints it. New reference. */
json_t *children_json(children_t *c);
void children_close(children_t *c, void (*cb)(children_t *c));

/* The stored per-child records (no daemon needed): the same shape as
 * children_json() with "connected": false. New reference. */
json_t *children_json_stored(store_t *s, const char *self);

/* The allow table kept in the store (db "allow": origin -> Z85 key). */
int children_allow_put(store_t *s, const char *origin, const char *key);
int children_allow_del(store_t *s, const char *origin);
typedef int (*children_allow_fn)(const char *origin, const char *key, void *arg);
int children_allow_foreach(store_t *s, children_allow_fn fn, void *arg);

#endif
