/*
 * children_int.h -- internals shared by the children_*.c files of the hub.
 */
#ifndef LD_HUB_CHILDREN_INT_H
#define LD_HUB_CHILDREN_INT_H

#include "hub/children.h"

#define CHILD_RID_MAX 256

struct child {
    char origin[PROTO_ORIGIN_MAX + 1];
    uint8_t rid[CHILD_RID_MAX];      /* ROUTER routing id of the live session */
    size_t rid_len;
    uint64_t session;
    bool active;
    bool down_ready;                 /* its SUB subscribed to its topic */
    char epoch[MSG_EPOCH_MAX + 1];
    bool epoch_alarm;
    sync_scope_t scope_in, scope_out;
    sync_in_t *in;
    sync_out_t *out;
    uint64_t connected_ms, last_seen_ms, last_progress_ms, last_saved_ms;
    uint64_t announced_head, announced_pending, behind_since_ms;
    uint64_t events_in, batches_rejected;
    int64_t origins;                 /* origins of its subtree held or parked; -1: not counted */
    bool acking;                     /* has batches in the commit just done */
    uint64_t ack_batch;              /* the last of them */
};

struct pending_batch {
    child_t *child;
    uint64_t session, batch;         /* the child's session it came in, and its number */
    zmq_msg_t frame;                 /* the BATCH bytes, moved out of the socket */
    sync_events_t events;            /* its events as judged: views into frame; the
                                        buffer is kept with the slot for reuse */
};

/* children_commit.c: events per group commit at most: 8,192, or
 * LIANDONG_COMMIT_MAX if set (the tests make it small, so that groups are
 * cut while batches keep coming). */
size_t children_commit_max(void);

/* children.c, for the other children_*.c */
uint64_t children_now_ms(children_t *c);
int children_send(children_t *c, child_t *ch, const buf_t *b);
/* Ends a child's session (logged with why); its batches already accepted
 * are still committed, but not acknowledged. */
void children_end_session(children_t *c, child_t *ch, const char *why);
/* The last step of children_close, once no watcher is open and no commit
 * in flight: frees what the commit used and calls the close callback. */
void children_close_done(children_t *c);

/* children_commit.c: the uv_check that starts a group commit each loop turn */
void children_commit_on_check(uv_check_t *h);

/* children_db.c */
int children_record_put(store_txn_t *t, const char *origin, json_t *rec);
json_t *children_record_get(store_txn_t *t, const char *origin);

/* children_view.c */
json_t *child_json(children_t *c, child_t *ch, store_txn_t *t, uint64_t now);

#endif
