/*
 * sync.h -- the transport-free heart of sync: what to send to a peer, and
 * how to take in what a peer sent. No sockets here: the link modules move
 * the bytes, and tests drive these engines directly, dropping, duplicating
 * and reordering messages at will.
 *
 * Rules this implements (docs/protocol.md, "Sync"):
 *  - The peer's version vector at session start (WELCOME for a child, HELLO
 *    for a parent) is the truth: sending starts from what the peer says it
 *    holds, never from anything remembered.
 *  - BATCH messages are numbered 1, 2, 3... per session. The receiver takes
 *    them strictly in order, commits each (several per transaction at a
 *    hub), and only then ACKs with its heads for the origins the batch
 *    touched. ACKs are cumulative.
 *  - The sender keeps at most `window` unacknowledged batches (credit), so
 *    a PUB socket never reaches its high-water mark and drops; on a NACK
 *    (the receiver saw a gap) or when no ACK came for `timeout_ms`, it
 *    rewinds to the acknowledged heads and resends from there.
 *  - Everything is idempotent at the store, so a resend is harmless.
 *
 * sync_out_t / sync_in_t are plain objects (new/destroy), owned by one
 * link, used on one thread (the loop's). Errors per common/err.h.
 */
#ifndef LD_COMMON_SYNC_H
#define LD_COMMON_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/store.h"
#include "common/vv.h"
#include "proto/msg.h"

/* Which origins a link carries, in one direction: each item is one origin
 * alone (`subtree` false) or that origin and everything below it. Upward
 * from a unit: {own, subtree}. Downward to a child C: each proper ancestor
 * of C, alone (the hubs' own logs carry the directives); and with a
 * restore, {C, subtree} too. */
#define SYNC_SCOPE_MAX 10
typedef struct sync_scope {
    struct {
        char origin[PROTO_ORIGIN_MAX + 1];
        bool subtree;
    } item[SYNC_SCOPE_MAX];
    int n;
} sync_scope_t;

int sync_scope_add(sync_scope_t *s, const char *origin, bool subtree);
/* True if origin is in scope. */
bool sync_scope_has(const sync_scope_t *s, const char *origin, size_t len);
/* The downward scope for child `child`: its proper ancestors; plus its own
 * subtree when `restore`. */
int sync_scope_down(sync_scope_t *s, const char *child, bool restore);

/* Reads the version vector of a HELLO, WELCOME or ACK into out (seqs only;
 * consumes m's vv reader: decode again to read it twice). With `only`, just
 * the origins in that scope: a peer's vector can hold 100,000 entries, and
 * the ones a link does not carry are not worth a sorted insert each. */
int sync_vv_from_msg(msg_t *m, const sync_scope_t *only, vv_t *out);

/* ---- sending ---- */

typedef struct sync_out_opts {
    unsigned window;          /* unacknowledged batches at most; 0: 16 */
    unsigned batch_events;    /* events per batch at most; 0: 1024 */
    uint64_t timeout_ms;      /* no ACK progress for this long: rewind; 0: 3000 */
} sync_out_opts_t;

typedef struct sync_out sync_out_t;

/* Called once per BATCH produced by sync_out_pump(); the bytes are valid
 * only during the call. A non-zero return (e.g. -EAGAIN: the socket is
 * full) stops the pump; that batch counts as lost and is resent later. */
typedef int (*sync_send_fn)(const uint8_t *msg, size_t len, void *arg);

int sync_out_new(store_t *s, const sync_scope_t *scope, const sync_out_opts_t *opts,
                 sync_out_t **out);
void sync_out_destroy(sync_out_t **o);

/* Starts a session: forget all state, take the peer's version vector
 * (entries outside the scope are ignored). The next batch is number 1. */
int sync_out_start(sync_out_t *o, uint64_t session, const vv_t *peer, uint64_t now_ms);
/* Stops sending (link down) until the next start. */
void sync_out_stop(sync_out_t *o);

/* Sends batches while the window has room and there is something in scope
 * the peer lacks (store heads beyond the sent cursors). Cheap when there is
 * nothing to do; call it after every local commit and every ACK. */
int sync_out_pump(sync_out_t *o, sync_send_fn send, void *arg, uint64_t now_ms);

/* An ACK for this session: raises the acknowledged heads (never lowers
 * them), frees credit. ACKs for other sessions or for batches not sent are
 * ignored (returns 0). A head lower than what was sent (the receiver holds
 * some of it aside, waiting for a gap) leads to a resend from that head. */
int sync_out_ack(sync_out_t *o, const msg_t *ack, uint64_t now_ms);
/* A NACK: the receiver expects batch `expected`; rewind and resend. */
int sync_out_nack(sync_out_t *o, const msg_t *nack, uint64_t now_ms);
/* Rewinds at once, as a timeout would: for when the link knows that what is
 * in flight was lost (the receiver's data socket only now connected). */
void sync_out_rewind(sync_out_t *o, uint64_t now_ms);
/* Timer: rewinds if no ACK progress for timeout_ms with batches in flight. */
void sync_out_tick(sync_out_t *o, uint64_t now_ms);

typedef struct sync_out_stats {
    uint64_t session;
    bool active;
    uint64_t next_batch;
    unsigned inflight;
    uint64_t events_sent;     /* this session, resends included */
    uint64_t resends;         /* rewinds */
    uint64_t pending;         /* events in scope held here, not yet acknowledged
                                 (as of the last pump) */
} sync_out_stats_t;
void sync_out_stats(const sync_out_t *o, sync_out_stats_t *out);
/* True when the session is active and the peer has acknowledged every
 * event in scope that this store held at the last pump. */
bool sync_out_done(const sync_out_t *o);
/* The peer's acknowledged heads (for status: pending upstream). */
const vv_t *sync_out_acked(const sync_out_t *o);

/* ---- receiving ---- */

typedef struct sync_in sync_in_t;

int sync_in_new(const sync_scope_t *allowed, sync_in_t **out);
void sync_in_destroy(sync_in_t **i);
/* A new session: the next batch expected is 1. */
void sync_in_start(sync_in_t *i, uint64_t session);

typedef enum sync_in_verdict {
    SYNC_IN_ACCEPT,   /* in order and valid: apply it, then ACK */
    SYNC_IN_GAP,      /* a batch is missing: send NACK(expected) */
    SYNC_IN_OLD,      /* already applied (a resend): re-send the last ACK */
    SYNC_IN_OTHER     /* another session's: ignore */
} sync_in_verdict_t;

/* Judges a BATCH without touching the store: session, order, and every
 * event decoded and within the allowed scope. A bad batch (malformed event,
 * an origin the sender may not send) is an error (LD_EPROTO, LD_EORIGIN...,
 * err_msg() names the event); the caller counts it and drops the link.
 * ACCEPT advances the expected number: the caller must then apply. */
int sync_in_check(sync_in_t *i, const msg_t *batch, sync_in_verdict_t *verdict);

/* The events of an accepted BATCH as sync_in_check_keep() decoded them:
 * views into the batch's bytes, valid exactly as long as those bytes are.
 * A reusable buffer: zero-initialise it (SYNC_EVENTS_INIT), free it with
 * sync_events_free(). (Added so that a receiver decodes each event once.) */
typedef struct sync_events {
    proto_event_t *ev;
    uint8_t (*hash)[PROTO_HASH_LEN];   /* ev[k].hash points at hash[k] */
    uint32_t *run;    /* ev[run[r]] begins the r-th run of events of one origin */
    uint32_t n, nrun, cap;
} sync_events_t;

#define SYNC_EVENTS_INIT {NULL, NULL, NULL, 0, 0, 0}
void sync_events_free(sync_events_t *e);
/* Empties e, keeping its memory: no events and no runs (the views into the
 * batch's bytes must not outlive them). */
void sync_events_reset(sync_events_t *e);

/* sync_in_check(), keeping every event of an accepted batch as decoded in
 * *out (reset first; filled only for SYNC_IN_ACCEPT), for
 * sync_in_apply_events(). The batch's bytes must then stay where they are
 * until the events are applied (a hub parks the received frame). Errors as
 * sync_in_check, and LD_ENOMEM. */
int sync_in_check_keep(sync_in_t *i, const msg_t *batch, sync_in_verdict_t *verdict,
                       sync_events_t *out);

typedef struct sync_in_counts {
    uint64_t stored, held, duplicates, equivocations, dropped;
} sync_in_counts_t;

/* Inside a write transaction: puts every event of an accepted batch and
 * notes which origins it touched (for the ACK). Re-runnable (store_write
 * may retry): call sync_in_apply_begin() at the start of the callback. */
void sync_in_apply_begin(sync_in_t *i);
int sync_in_apply(store_txn_t *t, sync_in_t *i, const msg_t *batch, sync_in_counts_t *c);
/* sync_in_apply() for a batch kept by sync_in_check_keep(): puts the
 * events as they were decoded then (store_txn_put_event), without decoding
 * them again. Same rules: inside the write transaction, after
 * sync_in_apply_begin(), re-runnable. */
int sync_in_apply_events(store_txn_t *t, sync_in_t *i, const sync_events_t *events,
                         sync_in_counts_t *c);
/* sync_in_apply_events() in two halves, for a receiver that commits on
 * another thread than the one that owns `i` (the hub's group commit):
 * sync_in_put_events() puts the events and counts them, touching no
 * sync_in_t (any thread, inside the write transaction, re-runnable);
 * sync_in_note_events() then marks their origins touched for the next
 * sync_in_ack(), on the owner's thread, after the commit. */
int sync_in_put_events(store_txn_t *t, const sync_events_t *events, sync_in_counts_t *c);
int sync_in_note_events(sync_in_t *i, const sync_events_t *events);

/* After the commit: the ACK for batch `batch` with this store's heads for
 * the origins touched since sync_in_apply_begin(). Appends to out. */
int sync_in_ack(sync_in_t *i, store_t *s, uint64_t batch, buf_t *out);
/* The NACK for the current gap. */
int sync_in_nack(const sync_in_t *i, buf_t *out);
uint64_t sync_in_expected(const sync_in_t *i);
/* The last ACK sync_in_ack() encoded in this session, to send again when a
 * batch comes back as SYNC_IN_OLD; NULL and 0 if there is none yet. Valid
 * until the next sync_in_ack() or sync_in_start(). (Added by the sync
 * implementation.) */
void sync_in_last_ack(const sync_in_t *i, const uint8_t **msg, size_t *len);

#endif
