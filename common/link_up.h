/*
 * link_up.h -- the child end of a sync link: a township node's, or a
 * district hub's towards the city.
 *
 * Three sockets per link, all CurveZMQ clients pinned to the parent's key:
 *   DEALER -> parent ROUTER  (PORT)    control: HELLO, WELCOME, ACK, NACK, PING, ERROR
 *   XPUB   -> parent SUB     (PORT+1)  data up: BATCHes of this subtree's events
 *   SUB    <- parent XPUB    (PORT+2)  data down: BATCHes of the ancestors' logs,
 *                                      subscribed to the topic "ORIGIN\0"
 * The data-up socket is an XPUB so that the child sees the parent's
 * subscription arrive, i.e. knows the data path is connected before it
 * sends anything on it.
 *
 * Life cycle of a session: connect, HELLO (own heads) -> WELCOME (the
 * parent's heads for this subtree: the truth) -> send what the parent lacks
 * (common/sync.h), take in what comes down, PING both ways. No word from
 * the parent for `dead_ms` (or no WELCOME in time), an ERROR, or a failed
 * handshake: the sockets are torn down and rebuilt after an exponential
 * backoff with jitter, and a new session starts from a new HELLO.
 *
 * Loop-bound (libuv lifecycle): caller-allocated; link_up_init, _start,
 * _close(cb), memory released after cb. Everything runs on the loop thread.
 * Nothing here logs except state changes (through common/log).
 */
#ifndef LD_COMMON_LINK_UP_H
#define LD_COMMON_LINK_UP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/keys.h"
#include "common/store.h"
#include "common/sync.h"
#include "common/zloop.h"

typedef enum link_up_state {
    LINK_UP_IDLE,      /* not started, or backing off before a reconnect */
    LINK_UP_HELLO,     /* connected sockets, HELLO sent, waiting for WELCOME */
    LINK_UP_ACTIVE     /* session running */
} link_up_state_t;

typedef enum link_up_event {
    LINK_UP_EV_ACTIVE,    /* WELCOME received: a session started */
    LINK_UP_EV_LOST,      /* the session ended (timeout, error); reconnecting */
    LINK_UP_EV_RECEIVED,  /* events from above were committed here */
    LINK_UP_EV_ACKED,     /* the parent acknowledged events */
    LINK_UP_EV_REFUSED    /* the parent refused us (ERROR, or the handshake
                             failed: unknown key, wrong server key);
                             last_error says why */
} link_up_event_t;

typedef struct link_up_opts {
    const char *endpoint;     /* tcp://HOST:PORT of the parent's control socket */
    const char *server_key;   /* the parent's public key, Z85 */
    const keys_t *keys;       /* this unit's key pair (copied) */
    const char *origin;       /* this unit */
    const char *epoch;        /* this store's epoch */
    uint32_t hello_flags;     /* MSG_HELLO_RESTORE */
    unsigned heartbeat_ms;    /* 0: 1000 */
    unsigned dead_ms;         /* 0: 5 * heartbeat */
    unsigned backoff_max_ms;  /* 0: 10000 */
    sync_out_opts_t out;
} link_up_opts_t;

typedef struct link_up link_up_t;
typedef void (*link_up_cb)(link_up_t *l, link_up_event_t ev);

struct link_up {
    void *data;
    link_up_state_t state;
    /* read-only statistics */
    uint64_t sessions;            /* sessions started */
    uint64_t events_up_acked;     /* events the parent acknowledged, all sessions */
    uint64_t events_down;         /* events stored from above */
    uint64_t batches_down;        /* batches from above taken and acknowledged */
    uint64_t batches_rejected;    /* bad batches from above */
    uint64_t forked_above;        /* events from above this session that conflicted with
                                     what is held here (kept aside): a fork above */
    uint64_t last_ok_ms;          /* last time the parent held everything we had */
    uint64_t last_rx_ms;          /* last message from the parent */
    char last_error[512];         /* why the last session ended or was refused */
    /* private */
    uv_loop_t *loop;
    void *zctx;
    store_t *store;
    link_up_opts_t o;
    keys_t keys;
    char endpoint[3][300];
    char origin[PROTO_ORIGIN_MAX + 1];
    char epoch[MSG_EPOCH_MAX + 1];
    char server_key[KEYS_Z85_LEN + 1];
    void *ctl, *up, *down, *mon;
    zloop_t w_ctl, w_up, w_down, w_mon;
    int open_watchers;
    uv_timer_t timer;
    bool up_ready;                /* the parent subscribed on our XPUB */
    bool forked;                  /* the parent holds another log of this unit */
    bool behind;                  /* the parent holds more of this unit's own log */
    bool own_restore;             /* so this session asks for it back */
    unsigned handshake_failures;  /* in a row, since the last WELCOME */
    uint64_t connects;
    uint64_t session, hello_ms, backoff_ms, reconnect_at_ms, last_ping_ms;
    uint64_t last_tick_ms;        /* when on_timer last ran: its lateness is our stall */
    vv_t due;                     /* what WELCOME said is due to come down */
    sync_out_t *out;
    sync_in_t *in;
    sync_scope_t scope_up, scope_down;
    buf_t scratch;
    link_up_cb cb;
    void (*close_cb)(link_up_t *l);
    bool closing;
};

int link_up_init(uv_loop_t *loop, link_up_t *l, void *zctx, store_t *s,
                 const link_up_opts_t *o);
/* Connects and keeps the link up until closed; cb gets the events above. */
int link_up_start(link_up_t *l, link_up_cb cb);
/* The store has new events in scope (a local record, a merge from below):
 * send them now. Cheap when there is nothing to send. */
void link_up_pump(link_up_t *l);
/* Events of this subtree held here that the parent has not acknowledged
 * (as of the last pump); 0 when idle. */
uint64_t link_up_pending(const link_up_t *l);
/* True when a session is active, the parent holds everything in scope, and
 * everything the WELCOME said was due from above has been stored here. */
bool link_up_synced(link_up_t *l);
void link_up_close(link_up_t *l, void (*cb)(link_up_t *l));

/* Splits tcp://HOST:PORT into the three endpoints PORT, PORT+1, PORT+2. */
int link_endpoints(const char *endpoint, char out[3][300]);

#endif
