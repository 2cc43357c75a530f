/*
 * link_up.c -- the child end of a sync link; see link_up.h.
 *
 * Sockets are rebuilt for every session rather than left to ZeroMQ's own
 * reconnection: a fresh set guarantees that nothing queued for a dead
 * session (a stale BATCH, an old HELLO) leaks into the next one, and the
 * parent's WELCOME then states the truth from scratch.
 */
#include "common/link_up.h"
#include "common/err.h"
#include "common/log.h"
#include "common/stall.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 100

#define HELLO_WAIT_MIN_MS 3000
static void link_teardown(link_up_t *l, const char *why);
static void check_restored(link_up_t *l);

int link_endpoints(const char *endpoint, char out[3][300])
{
    const char *colon = strrchr(endpoint, ':');
    if (strncmp(endpoint, "tcp://", 6) != 0 || !colon || colon < endpoint + 7)
        return err_set(LD_EINVAL, "endpoint '%s' is not tcp://HOST:PORT", endpoint);
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || port < 1 || port > 65533)
        return err_set(LD_EINVAL, "endpoint '%s': bad port", endpoint);
    for (int i = 0; i < 3; i++)
        snprintf(out[i], 300, "%.*s:%ld", (int)(colon - endpoint), endpoint, port + i);
    return 0;
}

static uint64_t now_ms(link_up_t *l)
{
    uv_update_time(l->loop);
    return uv_now(l->loop);
}

static void fire(link_up_t *l, link_up_event_t ev)
{
    if (l->cb)
        l->cb(l, ev);
}

/* ---- sending ---- */

static uint32_t link_hello_flags(const link_up_t *l)
{
    return l->o.hello_flags | (l->own_restore ? MSG_HELLO_RESTORE : 0);
}

static int send_ctl(link_up_t *l, const buf_t *b)
{
    return l->ctl ? zloop_send(&l->w_ctl, b->data, b->len, 0) : -EAGAIN;
}

static int send_batch(const uint8_t *msg, size_t len, void *arg)
{
    link_up_t *l = arg;
    return zloop_send(&l->w_up, msg, len, 0);
}

void link_up_pump(link_up_t *l)
{
    if (l->state != LINK_UP_ACTIVE || !l->up_ready)
        return;
    int rc = sync_out_pump(l->out, send_batch, l, now_ms(l));
    if (rc && rc != -EAGAIN)
        log_warn("link", "sending to %s: %s", l->o.endpoint, err_msg());
}

static int hello_vv_add(const char *origin, const store_head_t *h, void *arg)
{
    return msg_vv_add(arg, origin, h->seq, h->hash);
}

static int send_hello(link_up_t *l)
{
    msg_vv_builder_t vv = {BUF_INIT, 0};
    store_txn_t *t;
    int rc = store_read_begin(l->store, &t);
    if (!rc) {
        rc = store_heads_foreach(t, "", hello_vv_add, &vv);
        store_read_end(&t);
    }
    buf_reset(&l->scratch);
    if (!rc)
        rc = msg_encode_hello(&l->scratch, l->origin, l->epoch, l->session,
                              link_hello_flags(l), &vv);
    msg_vv_free(&vv);
    if (!rc)
        rc = send_ctl(l, &l->scratch);
    return rc == -EAGAIN ? 0 : rc; /* queued for when the connection comes up */
}

static void send_ping(link_up_t *l)
{
    store_txn_t *t;
    store_head_t h = {0};
    if (store_read_begin(l->store, &t) == 0) {
        store_head_get(t, l->origin, &h);
        store_read_end(&t);
    }
    buf_reset(&l->scratch);
    if (msg_encode_ping(&l->scratch, l->session, h.seq, link_up_pending(l)) == 0)
        send_ctl(l, &l->scratch);
}

static void set_fork_error(link_up_t *l)
{
    snprintf(l->last_error, sizeof l->last_error,
             "the hub holds a different log of %s than this store (reinstalled without "
             "`init --restore`?): this unit's events were sent to the hub as an alarm; "
             "restore this unit from its hub", l->origin);
    log_error("link", "%s", l->last_error);
}

/* ---- receiving ---- */

/* The parent's word on this unit's own log against what this store holds.
 *  - The parent holds another event at our head: this store is not the one
 *    that wrote that log (a PC reinstalled without `init --restore`). Our
 *    events are sent from seq 1 anyway, so the hub keeps them aside as
 *    equivocations and raises the alarm: nothing is lost or overwritten.
 *  - The parent holds more of our own log than we do: this store is behind
 *    its own log (restored from an old backup, or reinstalled). Our events
 *    are sent from seq 1 as well (duplicates if it is the same log, evidence
 *    if not), and the next session asks for our own log back (a restore):
 *    if it chains onto what we hold, we are simply caught up; if it does
 *    not, it is a fork, reported as above. */
static int check_fork(link_up_t *l, msg_t *m, vv_t *peer)
{
    l->forked = l->behind = false;
    if (link_hello_flags(l) & MSG_HELLO_RESTORE)
        return 0;
    store_txn_t *t;
    store_head_t mine = {0};
    int rc = store_read_begin(l->store, &t);
    if (rc)
        return rc;
    store_head_get(t, l->origin, &mine);
    store_read_end(&t);
    msg_vv_entry_t e;
    for (uint32_t i = 0; i < m->vv_count && msg_vv_next(m, &e) == 0; i++) {
        if (!mpk_str_eq(e.origin, l->origin))
            continue;
        l->behind = mine.seq < e.seq;
        l->forked = mine.seq == e.seq && memcmp(mine.hash, e.hash, PROTO_HASH_LEN) != 0;
    }
    if (l->forked)
        set_fork_error(l);
    else if (l->behind)
        log_warn("link", "the hub holds more of %s's own log than this store: fetching it back",
                 l->origin);
    return l->forked || l->behind ? vv_set(peer, l->origin, strlen(l->origin), 0) : 0;
}

static void on_welcome(link_up_t *l, msg_t *m)
{
    if (l->state != LINK_UP_HELLO || m->session != l->session)
        return;
    vv_t peer = VV_INIT;
    vv_clear(&l->due);
    msg_t again = *m; /* the vv reader is consumed by one pass */
    int rc = sync_vv_from_msg(m, NULL, &peer);
    if (!rc)
        rc = check_fork(l, &again, &peer);
    /* The WELCOME also lists the parent's heads of the logs that come down
     * (its own and its ancestors'): that is what is due here. */
    for (size_t i = 0; !rc && i < peer.n; i++)
        if (sync_scope_has(&l->scope_down, peer.e[i].origin, strlen(peer.e[i].origin)))
            rc = vv_set(&l->due, peer.e[i].origin, strlen(peer.e[i].origin), peer.e[i].seq);
    if (!rc)
        rc = sync_out_start(l->out, l->session, &peer, now_ms(l));
    vv_free(&peer);
    if (rc) {
        link_teardown(l, "bad WELCOME");
        return;
    }
    sync_in_start(l->in, l->session);
    l->state = LINK_UP_ACTIVE;
    l->sessions++;
    l->backoff_ms = 0;
    l->handshake_failures = 0;
    l->last_error[0] = '\0';
    log_info("link", "session %016llx with %s active", (unsigned long long)l->session,
             l->o.endpoint);
    fire(l, LINK_UP_EV_ACTIVE);
    link_up_pump(l);
}

static void on_refused(link_up_t *l, const char *why)
{
    /* A hub's reason may be longer than we keep; cut it, knowingly. */
    snprintf(l->last_error, sizeof l->last_error, "%.*s", (int)sizeof l->last_error - 1, why);
    log_warn("link", "%s refused us: %s", l->o.endpoint, why);
    fire(l, LINK_UP_EV_REFUSED);
    /* Refusals are not fixed by retrying fast. */
    l->backoff_ms = l->o.backoff_max_ms;
    link_teardown(l, why);
}

static void on_ack(link_up_t *l, msg_t *m)
{
    sync_out_stats_t before, after;
    sync_out_stats(l->out, &before);
    uint64_t pending_before = before.pending;
    if (sync_out_ack(l->out, m, now_ms(l)))
        return;
    link_up_pump(l);
    sync_out_stats(l->out, &after);
    if (pending_before > after.pending)
        l->events_up_acked += pending_before - after.pending;
    if (sync_out_done(l->out) && l->forked) {
        /* Delivered as evidence, but this store is not in sync: say so. */
        char why[sizeof l->last_error];
        memcpy(why, l->last_error, sizeof why);
        on_refused(l, why);
        return;
    }
    if (sync_out_done(l->out) && l->behind) {
        l->own_restore = true; /* the next session fetches our own log back */
        l->backoff_ms = 0;
        link_teardown(l, "fetching this unit's own log back from the hub");
        return;
    }
    if (sync_out_done(l->out))
        l->last_ok_ms = now_ms(l);
    check_restored(l);
    fire(l, LINK_UP_EV_ACKED);
}

static void on_ctl(zloop_t *w, zloop_msg_t *zm)
{
    link_up_t *l = w->data;
    size_t len;
    const void *data = zloop_msg_data(zm, zm->count - 1, &len);
    msg_t m;
    if (msg_decode(data, len, &m)) {
        log_warn("link", "bad control message from %s: %s", l->o.endpoint, err_msg());
        return;
    }
    l->last_rx_ms = now_ms(l);
    switch (m.type) {
    case MSG_T_WELCOME: on_welcome(l, &m); break;
    case MSG_T_ACK: if (l->state == LINK_UP_ACTIVE) on_ack(l, &m); break;
    case MSG_T_NACK:
        if (l->state == LINK_UP_ACTIVE && !sync_out_nack(l->out, &m, now_ms(l)))
            link_up_pump(l);
        break;
    case MSG_T_ERROR: {
        char why[MSG_TEXT_MAX + 64];
        snprintf(why, sizeof why, "%.*s (code %u)", (int)m.text.len, m.text.ptr, m.code);
        if (m.code == MSG_ERR_SESSION) {
            /* Not a refusal: the hub ended this connection's session (it did
             * not hear us for a while). Say HELLO again soon, on a new one. */
            if (l->state == LINK_UP_ACTIVE)
                link_teardown(l, "the hub ended the session");
            break;
        }
        on_refused(l, why);
        break;
    }
    default: break; /* PING: last_rx_ms is all it is for */
    }
}

typedef struct apply_ctx {
    sync_in_t *in;
    msg_t *batch;
    sync_in_counts_t counts;
} apply_ctx_t;

static int apply_fn(store_txn_t *t, void *arg)
{
    apply_ctx_t *a = arg;
    memset(&a->counts, 0, sizeof a->counts);
    sync_in_apply_begin(a->in);
    return sync_in_apply(t, a->in, a->batch, &a->counts);
}

static void on_down(zloop_t *w, zloop_msg_t *zm)
{
    link_up_t *l = w->data;
    size_t len;
    const void *data = zloop_msg_data(zm, zm->count - 1, &len);
    msg_t m;
    sync_in_verdict_t v;
    if (l->state != LINK_UP_ACTIVE || msg_decode(data, len, &m) || m.type != MSG_T_BATCH)
        return;
    int rc = sync_in_check(l->in, &m, &v);
    if (rc) {
        l->batches_rejected++;
        log_warn("link", "rejected a batch from %s: %s", l->o.endpoint, err_msg());
        link_teardown(l, "bad batch from the parent");
        return;
    }
    buf_reset(&l->scratch);
    if (v == SYNC_IN_GAP) {
        rc = sync_in_nack(l->in, &l->scratch);
    } else if (v == SYNC_IN_OLD) {
        rc = sync_in_ack(l->in, l->store, sync_in_expected(l->in) - 1, &l->scratch);
    } else if (v == SYNC_IN_ACCEPT) {
        apply_ctx_t a = {l->in, &m, {0}};
        rc = store_write(l->store, apply_fn, &a);
        if (!rc)
            rc = sync_in_ack(l->in, l->store, m.batch, &l->scratch);
        if (!rc) {
            l->events_down += a.counts.stored;
            l->batches_down++;
            fire(l, LINK_UP_EV_RECEIVED);
        }
        if (!rc && !l->own_restore && a.counts.equivocations) {
            /* The logs from above forked: a hub above was restored from an
             * old backup and recorded again, say. Kept aside, not applied;
             * said once a session (the hub sends them again now and then). */
            if (!l->forked_above)
                log_warn("link", "ALARM: events from %s conflict with the logs from above held "
                         "here (a hub restored from an old backup that recorded again?): kept "
                         "aside, see `status` equivocations", l->o.endpoint);
            l->forked_above += a.counts.equivocations;
        }
        if (!rc && l->own_restore && a.counts.equivocations) {
            /* Our own log came back and does not chain onto what we hold. */
            set_fork_error(l);
            char why[sizeof l->last_error];
            memcpy(why, l->last_error, sizeof why);
            send_ctl(l, &l->scratch); /* the ACK still goes out */
            on_refused(l, why);
            return;
        }
    } else {
        return;
    }
    if (rc) {
        log_error("link", "storing events from above: %s", err_msg());
        link_teardown(l, "local store failure");
        return;
    }
    send_ctl(l, &l->scratch);
    check_restored(l);
}

/* Subscriptions arriving on our XPUB: the parent's SUB is connected. */
static void on_up(zloop_t *w, zloop_msg_t *zm)
{
    link_up_t *l = w->data;
    size_t len;
    const uint8_t *d = zloop_msg_data(zm, 0, &len);
    if (len >= 1 && d[0] == 1 && !l->up_ready) {
        l->up_ready = true;
        link_up_pump(l);
    }
}

/* Socket monitor of the DEALER: handshake failures explain a refusal. */
static void on_mon(zloop_t *w, zloop_msg_t *zm)
{
    link_up_t *l = w->data;
    size_t len;
    const uint8_t *d = zloop_msg_data(zm, 0, &len);
    if (len < 6)
        return;
    uint16_t ev;
    uint32_t val;
    memcpy(&ev, d, 2);
    memcpy(&val, d + 2, 4);
    if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        on_refused(l, val == 400 ? "the hub does not allow this unit's key "
                                   "(run `liandong-hub allow ORIGIN KEY` there)"
                                 : "authentication failed");
    else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
             ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        /* A wrong server key and a hub that died mid-handshake look alike
         * (a reset connection); only a failure that repeats is a refusal. */
        if (++l->handshake_failures >= 3)
            on_refused(l, "CURVE handshake failed (is upstream_key the hub's public key?)");
        else
            link_teardown(l, "handshake failed");
    }
}

/* ---- connection management ---- */

static void watcher_closed(zloop_t *w)
{
    link_up_t *l = w->data;
    l->open_watchers--;
    if (l->closing && l->open_watchers == 0) {
        uv_close((uv_handle_t *)&l->timer, NULL);
        sync_out_destroy(&l->out);
        sync_in_destroy(&l->in);
        buf_free(&l->scratch);
        vv_free(&l->due);
        keys_wipe(&l->keys);
        if (l->close_cb)
            l->close_cb(l);
    }
}

static void close_socket(void **sock, zloop_t *w)
{
    if (!*sock)
        return;
    zloop_close(w, watcher_closed);
    zmq_close(*sock);
    *sock = NULL;
}

static void link_teardown(link_up_t *l, const char *why)
{
    bool was_active = l->state == LINK_UP_ACTIVE;
    if (l->ctl)
        zmq_socket_monitor(l->ctl, NULL, 0);
    close_socket(&l->mon, &l->w_mon);
    close_socket(&l->ctl, &l->w_ctl);
    close_socket(&l->up, &l->w_up);
    close_socket(&l->down, &l->w_down);
    if (l->out)
        sync_out_stop(l->out);
    l->state = LINK_UP_IDLE;
    l->up_ready = false;
    if (!l->last_error[0] || was_active)
        snprintf(l->last_error, sizeof l->last_error, "%s", why);
    uint64_t b = l->backoff_ms ? l->backoff_ms * 2 : BACKOFF_MIN_MS;
    l->backoff_ms = b > l->o.backoff_max_ms ? l->o.backoff_max_ms : b;
    /* Jitter spreads 300 townships reconnecting after a hub restart. */
    l->reconnect_at_ms = now_ms(l) + l->backoff_ms / 2 +
                         randombytes_uniform((uint32_t)(l->backoff_ms / 2 + 1));
    if (was_active) {
        log_info("link", "session with %s ended: %s", l->o.endpoint, why);
        fire(l, LINK_UP_EV_LOST);
    }
}

static void *make_socket(link_up_t *l, int type, zloop_t *w, zloop_recv_cb cb, int *rc)
{
    void *s = zmq_socket(l->zctx, type);
    if (!s) {
        *rc = err_set(-zmq_errno(), "socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int zero = 0, max = MSG_MAX_BYTES, hwm = 1000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    int64_t max64 = max;
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max64, sizeof max64);
    if (type != ZMQ_PAIR && (*rc = keys_curve_client(s, &l->keys, l->server_key))) {
        zmq_close(s);
        return NULL;
    }
    if ((*rc = zloop_init(l->loop, w, s))) {
        zmq_close(s);
        return NULL;
    }
    w->data = l;
    l->open_watchers++;
    zloop_start(w, cb);
    return s;
}

/* What may come down depends on whether this session restores our own log. */
static int link_scopes(link_up_t *l)
{
    sync_in_destroy(&l->in);
    memset(&l->scope_down, 0, sizeof l->scope_down);
    int rc = sync_scope_down(&l->scope_down, l->origin,
                             (link_hello_flags(l) & MSG_HELLO_RESTORE) != 0);
    return rc ? rc : sync_in_new(&l->scope_down, &l->in);
}

static int link_connect(link_up_t *l)
{
    int rc = link_scopes(l), one = 1;
    char mon_ep[64], topic[PROTO_ORIGIN_MAX + 2];
    if (rc)
        return rc;
    l->connects++;
    l->ctl = make_socket(l, ZMQ_DEALER, &l->w_ctl, on_ctl, &rc);
    if (l->ctl) {
        snprintf(mon_ep, sizeof mon_ep, "inproc://link-mon-%p-%llu", (void *)l,
                 (unsigned long long)l->connects);
        zmq_socket_monitor(l->ctl, mon_ep, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
        l->mon = make_socket(l, ZMQ_PAIR, &l->w_mon, on_mon, &rc);
        if (l->mon)
            zmq_connect(l->mon, mon_ep);
    }
    if (!rc)
        l->up = make_socket(l, ZMQ_XPUB, &l->w_up, on_up, &rc);
    if (!rc) {
        zmq_setsockopt(l->up, ZMQ_XPUB_VERBOSE, &one, sizeof one);
        l->down = make_socket(l, ZMQ_SUB, &l->w_down, on_down, &rc);
    }
    if (!rc) {
        size_t n = strlen(l->origin) + 1; /* "ORIGIN\0": exact, not a prefix */
        memcpy(topic, l->origin, n);
        zmq_setsockopt(l->down, ZMQ_SUBSCRIBE, topic, n);
    }
    if (!rc && (zmq_connect(l->ctl, l->endpoint[0]) || zmq_connect(l->up, l->endpoint[1]) ||
                zmq_connect(l->down, l->endpoint[2])))
        rc = err_set(-zmq_errno(), "connect %s: %s", l->o.endpoint, zmq_strerror(zmq_errno()));
    if (!rc) {
        randombytes_buf(&l->session, sizeof l->session);
        l->forked_above = 0;
        l->state = LINK_UP_HELLO;
        l->hello_ms = now_ms(l);
        l->last_rx_ms = l->hello_ms;
        rc = send_hello(l);
    }
    return rc;
}

/* The timer's period: the heartbeat, but at least every 100 ms for resends
 * and reconnects. */
static unsigned tick_ms(const link_up_t *l)
{
    return l->o.heartbeat_ms < 200 ? l->o.heartbeat_ms : 100;
}

static void on_timer(uv_timer_t *t)
{
    link_up_t *l = t->data;
    uint64_t now = now_ms(l);
    /* Time this process was busy elsewhere (a long commit) delays this timer
     * and leaves the parent's messages unread: not the parent's silence. */
    uint64_t stalled = stall_measure(&l->last_tick_ms, now, tick_ms(l));
    if (stalled) {
        stall_forgive(&l->last_rx_ms, stalled, now);
        if (l->state != LINK_UP_IDLE)
            log_info("link", "busy for %llu ms: not counted as the hub's silence",
                     (unsigned long long)stalled);
    }
    if (l->state == LINK_UP_IDLE) {
        if (now >= l->reconnect_at_ms && l->open_watchers == 0) {
            int rc = link_connect(l);
            if (rc) {
                log_warn("link", "connecting to %s: %s", l->o.endpoint, err_msg());
                link_teardown(l, err_msg());
            }
        }
        return;
    }
    /* A WELCOME may wait behind the hub's commit in flight (its answer to a
     * new child writes the child's epoch): give it at least 3 s, or a busy
     * hub with fast heartbeats is never reached at all. */
    uint64_t limit = l->o.dead_ms;
    if (l->state == LINK_UP_HELLO && limit < HELLO_WAIT_MIN_MS)
        limit = HELLO_WAIT_MIN_MS;
    if (now - l->last_rx_ms > limit) {
        link_teardown(l, l->state == LINK_UP_HELLO ? "no answer from the hub (unreachable?)"
                                                   : "the hub went silent");
        return;
    }
    if (l->state == LINK_UP_ACTIVE) {
        if (now - l->last_ping_ms >= l->o.heartbeat_ms) {
            l->last_ping_ms = now;
            send_ping(l);
        }
        sync_out_tick(l->out, now);
        link_up_pump(l);
    }
}

int link_up_init(uv_loop_t *loop, link_up_t *l, void *zctx, store_t *s,
                 const link_up_opts_t *o)
{
    memset(l, 0, sizeof *l);
    l->loop = loop;
    l->zctx = zctx;
    l->store = s;
    l->o = *o;
    if (!l->o.heartbeat_ms)
        l->o.heartbeat_ms = 1000;
    if (!l->o.dead_ms)
        l->o.dead_ms = 5 * l->o.heartbeat_ms;
    if (!l->o.backoff_max_ms)
        l->o.backoff_max_ms = 10000;
    int rc = link_endpoints(o->endpoint, l->endpoint);
    if (rc)
        return rc;
    if (!o->server_key || !keys_valid_public(o->server_key))
        return err_set(LD_ECONFIG, "the upstream hub's public key is not set or not valid "
                       "(config set upstream_key KEY)");
    snprintf(l->server_key, sizeof l->server_key, "%s", o->server_key);
    snprintf(l->origin, sizeof l->origin, "%s", o->origin);
    snprintf(l->epoch, sizeof l->epoch, "%s", o->epoch);
    l->keys = *o->keys;
    l->o.keys = &l->keys;
    l->o.endpoint = strdup(o->endpoint);
    if ((rc = sync_scope_add(&l->scope_up, l->origin, true)) ||
        (rc = sync_out_new(s, &l->scope_up, &o->out, &l->out)) ||
        (rc = link_scopes(l)))
        return rc;
    uv_timer_init(loop, &l->timer);
    l->timer.data = l;
    return 0;
}

int link_up_start(link_up_t *l, link_up_cb cb)
{
    l->cb = cb;
    l->reconnect_at_ms = 0;
    l->last_tick_ms = 0;
    return uv_timer_start(&l->timer, on_timer, 0, tick_ms(l));
}

uint64_t link_up_pending(const link_up_t *l)
{
    sync_out_stats_t s;
    sync_out_stats(l->out, &s);
    return s.pending;
}

static bool down_complete(link_up_t *l)
{
    store_txn_t *t;
    if (store_read_begin(l->store, &t))
        return false;
    bool ok = true;
    for (size_t i = 0; ok && i < l->due.n; i++) {
        store_head_t h = {0};
        store_head_get(t, l->due.e[i].origin, &h);
        ok = h.seq >= l->due.e[i].seq;
    }
    store_read_end(&t);
    return ok;
}

/* A session that fetched our own log back is done once we are in sync. */
static void check_restored(link_up_t *l)
{
    if (l->own_restore && link_up_synced(l)) {
        l->own_restore = false;
        log_info("link", "%s's own log is back from the hub", l->origin);
    }
}

bool link_up_synced(link_up_t *l)
{
    return l->state == LINK_UP_ACTIVE && sync_out_done(l->out) && down_complete(l);
}

void link_up_close(link_up_t *l, void (*cb)(link_up_t *l))
{
    l->closing = true;
    l->close_cb = cb;
    uv_timer_stop(&l->timer);
    link_teardown(l, "closing");
    free((void *)l->o.endpoint);
    l->o.endpoint = NULL;
    if (l->open_watchers == 0) {
        l->open_watchers = 1; /* let watcher_closed() run the final steps once */
        zloop_t dummy = {.data = l};
        watcher_closed(&dummy);
    }
}
