/*
 * children.c -- sessions with this hub's children; see children.h.
 *
 * The flow per child: HELLO on the ROUTER (its origin must be the one its
 * key is allowed as) -> WELCOME with this hub's heads for the child's
 * subtree and for the logs that go down to it; BATCHes arrive on the SUB,
 * are parked and judged at once (sync_in_check_keep: every event decoded,
 * once); at the end of the loop turn (uv_check) every parked batch's
 * events are put in one write transaction (children_commit.c), and each
 * child gets one cumulative ACK for its last batch in it.
 */
#include "hub/children.h"
#include "common/err.h"
#include "common/link_up.h"
#include "common/log.h"
#include "common/stall.h"
#include "hub/children_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint64_t children_now_ms(children_t *c)
{
    uv_update_time(c->loop);
    return uv_now(c->loop);
}

/* ---- the child table ---- */

static child_t *child_find(children_t *c, const char *origin)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->child[i]->origin, origin) == 0)
            return c->child[i];
    return NULL;
}

static child_t *child_get(children_t *c, const char *origin, int *rc)
{
    child_t *ch = child_find(c, origin);
    if (ch)
        return ch;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        child_t **p = realloc(c->child, cap * sizeof *p);
        if (!p) {
            *rc = err_set(LD_ENOMEM, "out of memory");
            return NULL;
        }
        c->child = p;
        c->cap = cap;
    }
    ch = calloc(1, sizeof *ch);
    if (!ch) {
        *rc = err_set(LD_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(ch->origin, sizeof ch->origin, "%s", origin);
    if ((*rc = sync_scope_add(&ch->scope_in, origin, true)) ||
        (*rc = sync_scope_down(&ch->scope_out, origin, false)) ||
        (*rc = sync_in_new(&ch->scope_in, &ch->in)) ||
        (*rc = sync_out_new(c->store, &ch->scope_out, &c->o.out, &ch->out))) {
        sync_in_destroy(&ch->in);
        free(ch);
        return NULL;
    }
    c->child[c->n++] = ch;
    return ch;
}

static void child_free(child_t *ch)
{
    sync_in_destroy(&ch->in);
    sync_out_destroy(&ch->out);
    free(ch);
}

/* ---- sending ---- */

int children_send(children_t *c, child_t *ch, const buf_t *b)
{
    zloop_frame_t f[2] = {{ch->rid, ch->rid_len}, {b->data, b->len}};
    return zloop_sendv(&c->w_router, f, 2);
}

static void send_error(children_t *c, const void *rid, size_t rid_len, uint32_t code,
                       const char *text)
{
    buf_reset(&c->scratch);
    if (msg_encode_error(&c->scratch, code, text) == 0) {
        zloop_frame_t f[2] = {{rid, rid_len}, {c->scratch.data, c->scratch.len}};
        zloop_sendv(&c->w_router, f, 2);
    }
}

typedef struct down_ctx {
    children_t *c;
    child_t *ch;
} down_ctx_t;

static int send_down(const uint8_t *msg, size_t len, void *arg)
{
    down_ctx_t *d = arg;
    char topic[PROTO_ORIGIN_MAX + 1];
    size_t n = strlen(d->ch->origin) + 1; /* with its NUL: exact match */
    memcpy(topic, d->ch->origin, n);
    zloop_frame_t f[2] = {{topic, n}, {msg, len}};
    return zloop_sendv(&d->c->w_xpub, f, 2);
}

static void pump_child(children_t *c, child_t *ch)
{
    if (!ch->active || !ch->down_ready)
        return;
    down_ctx_t d = {c, ch};
    int rc = sync_out_pump(ch->out, send_down, &d, children_now_ms(c));
    if (rc && rc != -EAGAIN)
        log_warn("hub", "sending down to %s: %s", ch->origin, err_msg());
}

void children_pump_down(children_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        pump_child(c, c->child[i]);
}

void children_end_session(children_t *c, child_t *ch, const char *why)
{
    if (!ch->active)
        return;
    ch->active = false;
    ch->down_ready = false;
    sync_out_stop(ch->out);
    log_info("hub", "child %s: session ended: %s", ch->origin, why);
    (void)c;
}

void children_recheck_allowed(children_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->child[i]->active && !zap_origin_allowed(c->zap, c->child[i]->origin))
            children_end_session(c, c->child[i], "no longer allowed");
}

/* ---- HELLO ---- */

typedef struct hello_vv {
    msg_vv_builder_t *b;
    child_t *ch;
} hello_vv_t;

static int welcome_add(const char *origin, const store_head_t *h, void *arg)
{
    hello_vv_t *hv = arg;
    return msg_vv_add(hv->b, origin, h->seq, h->hash);
}

/* This hub's heads for the child's subtree and for what goes down to it. */
static int welcome_vv(children_t *c, child_t *ch, msg_vv_builder_t *b)
{
    store_txn_t *t;
    int rc = store_read_begin(c->store, &t);
    if (rc)
        return rc;
    hello_vv_t hv = {b, ch};
    rc = store_heads_foreach(t, ch->origin, welcome_add, &hv);
    for (int i = 0; !rc && i < ch->scope_out.n; i++) {
        store_head_t h;
        if (store_head_get(t, ch->scope_out.item[i].origin, &h) == 0)
            rc = msg_vv_add(b, ch->scope_out.item[i].origin, h.seq, h.hash);
    }
    store_read_end(&t);
    return rc;
}

typedef struct epoch_ctx {
    child_t *ch;
    uint64_t now;
    bool restore;   /* a reinstalled unit fetching its log back: a new epoch is expected */
    bool alarm;
} epoch_ctx_t;

static int epoch_fn(store_txn_t *t, void *arg)
{
    epoch_ctx_t *e = arg;
    json_t *rec = children_record_get(t, e->ch->origin);
    if (!rec)
        rec = json_object();
    const char *known = json_string_value(json_object_get(rec, "epoch"));
    e->alarm = json_is_true(json_object_get(rec, "epoch_alarm"));
    if (known && strcmp(known, e->ch->epoch) != 0 && e->restore) {
        json_object_set_new(rec, "epoch", json_string(e->ch->epoch));
    } else if (known && strcmp(known, e->ch->epoch) != 0) {
        e->alarm = true;
        json_object_set_new(rec, "epoch_alarm", json_true());
        json_object_set_new(rec, "alarm_epoch", json_string(e->ch->epoch));
    } else if (!known) {
        json_object_set_new(rec, "epoch", json_string(e->ch->epoch));
    }
    json_object_set_new(rec, "last_seen_ms", json_integer((json_int_t)e->now));
    int rc = children_record_put(t, e->ch->origin, rec);
    json_decref(rec);
    return rc;
}

/* True if the child's record already holds this epoch (*alarm: its flag). */
static bool epoch_known(children_t *c, child_t *ch, bool *alarm)
{
    store_txn_t *t;
    if (store_read_begin(c->store, &t))
        return false;
    json_t *rec = children_record_get(t, ch->origin);
    store_read_end(&t);
    const char *known = json_string_value(json_object_get(rec, "epoch"));
    bool same = known && strcmp(known, ch->epoch) == 0;
    *alarm = json_is_true(json_object_get(rec, "epoch_alarm"));
    json_decref(rec);
    return same;
}

static void on_hello(children_t *c, const void *rid, size_t rid_len, const char *user,
                     msg_t *m)
{
    int rc = 0;
    c->stats.hellos++;
    if (!mpk_str_eq(m->origin, user)) {
        c->stats.refused_origin++;
        log_warn("hub", "HELLO as %.*s from a key allowed as %s: refused", (int)m->origin.len,
                 m->origin.ptr, user);
        send_error(c, rid, rid_len, MSG_ERR_ORIGIN, "this key is allowed as another unit");
        return;
    }
    child_t *ch = child_get(c, user, &rc);
    if (!ch || rid_len > CHILD_RID_MAX)
        return;
    memcpy(ch->rid, rid, rid_len);
    ch->rid_len = rid_len;
    snprintf(ch->epoch, sizeof ch->epoch, "%.*s", (int)m->epoch.len, m->epoch.ptr);
    epoch_ctx_t e = {ch, children_now_ms(c), (m->flags & MSG_HELLO_RESTORE) != 0, false};
    if (e.restore)
        log_info("hub", "child %s is restoring its log from this hub", ch->origin);
    /* A durable write per HELLO would throttle a thousand children
     * reconnecting after a hub restart: write only a new or changed epoch. */
    if (epoch_known(c, ch, &e.alarm)) {
        /* e.alarm was read back from the record */
    } else if (store_write(c->store, epoch_fn, &e) == 0 && e.alarm && !ch->epoch_alarm) {
        c->stats.epoch_alarms++;
        log_warn("hub", "ALARM: %s came back with a different store (epoch %s): reinstalled "
                 "without `init --restore`? Its new events will show as equivocations.",
                 ch->origin, ch->epoch);
    }
    ch->epoch_alarm = e.alarm;
    vv_t peer = VV_INIT;
    msg_vv_builder_t b = {BUF_INIT, 0};
    memset(&ch->scope_out, 0, sizeof ch->scope_out);
    if (!(rc = sync_scope_down(&ch->scope_out, ch->origin, (m->flags & MSG_HELLO_RESTORE) != 0)))
        rc = sync_vv_from_msg(m, &ch->scope_out, &peer);
    /* The sender reads its scope at creation: rebuild it for a restore. */
    sync_out_destroy(&ch->out);
    if (!rc)
        rc = sync_out_new(c->store, &ch->scope_out, &c->o.out, &ch->out);
    if (!rc)
        rc = sync_out_start(ch->out, m->session, &peer, children_now_ms(c));
    if (!rc)
        rc = welcome_vv(c, ch, &b);
    buf_reset(&c->scratch);
    if (!rc)
        rc = msg_encode_welcome(&c->scratch, store_origin(c->store), c->epoch, m->session, &b);
    vv_free(&peer);
    msg_vv_free(&b);
    if (rc) {
        log_error("hub", "HELLO from %s: %s", user, err_msg());
        return;
    }
    sync_in_start(ch->in, m->session);
    ch->origins = -1;
    ch->session = m->session;
    ch->active = true;
    ch->connected_ms = ch->last_seen_ms = children_now_ms(c);
    if (!ch->last_progress_ms)
        ch->last_progress_ms = ch->connected_ms;
    children_send(c, ch, &c->scratch);
    log_info("hub", "child %s: session %016llx started", ch->origin,
             (unsigned long long)ch->session);
    /* The subscription may already be there from before this HELLO. */
    ch->down_ready = true;
    pump_child(c, ch);
}

/* ---- control messages ---- */

static void on_router(zloop_t *w, zloop_msg_t *zm)
{
    children_t *c = w->data;
    const char *user = zloop_msg_user_id(zm);
    if (zm->count != 2 || !user) {
        c->stats.bad_messages++;
        return;
    }
    size_t rid_len, len;
    const void *rid = zloop_msg_data(zm, 0, &rid_len);
    const void *data = zloop_msg_data(zm, 1, &len);
    msg_t m;
    int rc = msg_decode(data, len, &m);
    if (rc) {
        c->stats.bad_messages++;
        if (rc == LD_EVERSION) {
            c->stats.refused_version++;
            send_error(c, rid, rid_len, MSG_ERR_VERSION, "protocol version not supported");
        }
        log_warn("hub", "bad control message from %s: %s", user, err_msg());
        return;
    }
    if (!zap_origin_allowed(c->zap, user)) {
        c->stats.unknown_sender++;
        return;
    }
    if (m.type == MSG_T_HELLO) {
        on_hello(c, rid, rid_len, user, &m);
        return;
    }
    child_t *ch = child_find(c, user);
    if (ch && !ch->active) {
        /* We ended its session (silent, say) and it does not know yet: tell
         * it, rather than leave it to notice our silence a dead time later.
         * A connection carries one session, so this cannot hit a newer one. */
        send_error(c, rid, rid_len, MSG_ERR_SESSION, "session ended by the hub: say HELLO again");
        return;
    }
    if (!ch || m.session != ch->session)
        return;
    ch->last_seen_ms = children_now_ms(c);
    if (m.type == MSG_T_PING) {
        ch->announced_head = m.head;
        ch->announced_pending = m.pending;
    } else if (m.type == MSG_T_ACK) {
        if (sync_out_ack(ch->out, &m, children_now_ms(c)) == 0)
            pump_child(c, ch);
    } else if (m.type == MSG_T_NACK) {
        if (sync_out_nack(ch->out, &m, children_now_ms(c)) == 0)
            pump_child(c, ch);
    }
}

/* ---- data up ---- */

/* Moves the frame into the next pending slot. The events are judged there,
 * from the parked bytes, so that their decoded views stay valid until the
 * group commit has applied them. (A frame that holds an event is longer
 * than ZeroMQ keeps inline in a zmq_msg_t, so its bytes do not move when
 * pend is reallocated.) */
static struct pending_batch *park(children_t *c, child_t *ch, zmq_msg_t *frame)
{
    if (c->npend == c->cappend) {
        size_t cap = c->cappend ? c->cappend * 2 : 64;
        struct pending_batch *p = realloc(c->pend, cap * sizeof *p);
        if (!p) {
            err_set(LD_ENOMEM, "out of memory");
            return NULL;
        }
        for (size_t i = c->cappend; i < cap; i++)
            p[i].events = (sync_events_t)SYNC_EVENTS_INIT;
        c->pend = p;
        c->cappend = cap;
    }
    struct pending_batch *pb = &c->pend[c->npend++];
    pb->child = ch;
    zmq_msg_init(&pb->frame);
    zmq_msg_move(&pb->frame, frame);
    return pb;
}

/* Takes back the batch parked last (it was not accepted). */
static void unpark(children_t *c)
{
    struct pending_batch *pb = &c->pend[--c->npend];
    zmq_msg_close(&pb->frame);
    sync_events_reset(&pb->events);
}

static void reply(children_t *c, child_t *ch, int is_nack)
{
    buf_reset(&c->scratch);
    int rc = is_nack ? sync_in_nack(ch->in, &c->scratch)
                     : sync_in_ack(ch->in, c->store, sync_in_expected(ch->in) - 1, &c->scratch);
    if (!rc)
        children_send(c, ch, &c->scratch);
}

/* A district has tens of townships; nothing real comes near this. Without a
 * bound one child key could mint origins below its own until the version
 * vectors this hub exchanges with its own parent no longer fit a message. */
#define CHILD_MAX_ORIGINS 4096

static int count_origin(const char *origin, const store_head_t *h, void *arg)
{
    (void)origin; (void)h;
    (*(int64_t *)arg)++;
    return 0;
}

/* Counts the origins of an accepted batch that this hub does not hold yet
 * against the child's bound: LD_ETOOBIG past it. */
static int check_new_origins(children_t *c, child_t *ch, const sync_events_t *evs)
{
    store_txn_t *t;
    int rc = store_read_begin(c->store, &t);
    if (rc)
        return rc;
    if (ch->origins < 0) {
        ch->origins = 0;
        store_heads_foreach(t, ch->origin, count_origin, &ch->origins);
    }
    /* Batches come in runs of one origin: one lookup per run. (A new origin
     * seen in two runs before it is committed counts twice: the bound only
     * gets stricter, by a handful.) */
    for (uint32_t r = 0; !rc && r < evs->nrun; r++) {
        const mpk_str_t *o = &evs->ev[evs->run[r]].origin;
        char origin[PROTO_ORIGIN_MAX + 1];
        memcpy(origin, o->ptr, o->len);   /* the decoder bounds it by PROTO_ORIGIN_MAX */
        origin[o->len] = '\0';
        store_head_t h;
        if (store_head_get(t, origin, &h) != LD_ENOTFOUND)
            continue;
        if (++ch->origins > CHILD_MAX_ORIGINS)
            rc = err_set(LD_ETOOBIG, "more than %d origins below %s", CHILD_MAX_ORIGINS,
                         ch->origin);
    }
    store_read_end(&t);
    return rc;
}

static void on_sub(zloop_t *w, zloop_msg_t *zm)
{
    children_t *c = w->data;
    const char *user = zloop_msg_user_id(zm);
    child_t *ch = user ? child_find(c, user) : NULL;
    if (!ch || !ch->active || !zap_origin_allowed(c->zap, user)) {
        c->stats.unknown_sender++;
        return;
    }
    /* Out of memory here or in the check below is ours, not the child's:
     * the batch is dropped unjudged, the next one shows a gap, and the
     * child resends from there. */
    struct pending_batch *pb = park(c, ch, zloop_msg_frame(zm, zm->count - 1));
    if (!pb) {
        log_error("hub", "child %s: batch dropped: %s", user, err_msg());
        return;
    }
    msg_t m;
    sync_in_verdict_t v = SYNC_IN_OTHER;
    int rc = msg_decode(zmq_msg_data(&pb->frame), zmq_msg_size(&pb->frame), &m);
    if (!rc && m.type != MSG_T_BATCH)
        rc = err_set(LD_EPROTO, "not a BATCH on the data socket");
    if (!rc)
        rc = sync_in_check_keep(ch->in, &m, &v, &pb->events);
    if (!rc && v == SYNC_IN_ACCEPT)
        rc = check_new_origins(c, ch, &pb->events);
    if (rc || v != SYNC_IN_ACCEPT)
        unpark(c);
    if (rc == LD_ENOMEM) {
        log_error("hub", "child %s: batch dropped: %s", user, err_msg());
        return;
    }
    if (rc) {
        c->stats.bad_batches++;
        ch->batches_rejected++;
        if (rc == LD_EORIGIN)
            c->stats.foreign_origin++;
        log_warn("hub", "child %s: batch rejected, session ended: %s", user, err_msg());
        /* The code says which fault it was: a foreign origin is a matter of
         * keys and subtrees, anything else a broken or hostile sender. */
        send_error(c, ch->rid, ch->rid_len, rc == LD_EORIGIN ? MSG_ERR_ORIGIN : MSG_ERR_BATCH,
                   err_msg());
        children_end_session(c, ch, "bad batch");
        return;
    }
    ch->last_seen_ms = children_now_ms(c);
    if (v == SYNC_IN_ACCEPT) {
        pb->session = m.session;
        pb->batch = m.batch;
    } else if (v == SYNC_IN_GAP || v == SYNC_IN_OLD) {
        reply(c, ch, v == SYNC_IN_GAP);
    }
}

/* ---- subscriptions on the XPUB: a child's data-down path is connected ---- */

/* The XPUB runs in manual mode: a subscription takes effect only when this
 * code applies it, and it applies a child's subscription only to the topic
 * of that child's own origin (its authenticated User-Id). Otherwise any
 * allowed key could subscribe to another child's topic and read what goes
 * down to it (a restore carries that child's whole log). */
static void on_xpub(zloop_t *w, zloop_msg_t *zm)
{
    children_t *c = w->data;
    size_t len;
    const uint8_t *d = zloop_msg_data(zm, 0, &len);
    const char *user = zloop_msg_user_id(zm);
    if (len < 2 || (d[0] != 0 && d[0] != 1))
        return;
    size_t ulen = user ? strlen(user) : 0;
    if (!user || len != ulen + 2 || d[len - 1] != '\0' || memcmp(d + 1, user, ulen) != 0) {
        c->stats.foreign_subscriptions++;
        log_warn("hub", "%s subscribed to another unit's data: ignored", user ? user : "?");
        return;
    }
    zmq_setsockopt(c->xpub, d[0] ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, d + 1, len - 1);
    child_t *ch = child_find(c, user);
    if (d[0] == 1 && ch && ch->active) {
        ch->down_ready = true;
        /* What was sent before the subscription arrived was dropped: resend. */
        sync_out_rewind(ch->out, children_now_ms(c));
        pump_child(c, ch);
    }
}

/* ---- timers ---- */

static void ping_child(children_t *c, child_t *ch, uint64_t head)
{
    buf_reset(&c->scratch);
    if (msg_encode_ping(&c->scratch, ch->session, head, 0) == 0)
        children_send(c, ch, &c->scratch);
}

/* Every heartbeat: end silent sessions, ping the others, and give their
 * downward senders a chance to time out. With a thousand children this runs
 * a thousand times per tick, so it reads the store once, not per child. */
static void on_timer(uv_timer_t *t)
{
    children_t *c = t->data;
    uint64_t now = children_now_ms(c);
    store_txn_t *txn;
    store_head_t own = {0};
    if (store_read_begin(c->store, &txn) == 0) {
        store_head_get(txn, store_origin(c->store), &own);
        store_read_end(&txn);
    }
    /* A long commit of our own delays this timer and leaves the children's
     * messages unread in the sockets: that time is our stall, not their
     * silence. Without this, a hub busy for longer than dead_ms (a big group
     * commit on a slow disk) ended every session at the next tick, and the
     * children reconnected and resent, only to be ended again. */
    uint64_t stalled = stall_measure(&c->last_tick_ms, now, c->o.heartbeat_ms);
    if (stalled)
        log_info("hub", "busy for %llu ms: not counted as the children's silence",
                 (unsigned long long)stalled);
    for (size_t i = 0; i < c->n; i++) {
        child_t *ch = c->child[i];
        if (!ch->active)
            continue;
        stall_forgive(&ch->last_seen_ms, stalled, now);
        if (now - ch->last_seen_ms > c->o.dead_ms) {
            children_end_session(c, ch, "silent");
            continue;
        }
        ping_child(c, ch, own.seq);
        sync_out_tick(ch->out, now);
        sync_out_stats_t st;
        sync_out_stats(ch->out, &st);
        /* Changes are pumped when they happen; this catches rewinds. */
        if (st.inflight || st.pending)
            pump_child(c, ch);
    }
}

/* ---- set-up ---- */

static void *bind_socket(children_t *c, int type, const char *ep, zloop_t *w, zloop_recv_cb cb,
                         int *rc)
{
    void *s = zmq_socket(c->zctx, type);
    if (!s) {
        *rc = err_set(-zmq_errno(), "socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int zero = 0, hwm = 10000, one = 1;
    int64_t max = MSG_MAX_BYTES;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
    if (type == ZMQ_ROUTER)
        zmq_setsockopt(s, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
    if (type == ZMQ_XPUB)
        zmq_setsockopt(s, ZMQ_XPUB_MANUAL, &one, sizeof one);
    if ((*rc = keys_curve_server(s, &c->keys)) || (*rc = zap_guard(c->zap, s)))
        goto fail;
    if (type == ZMQ_SUB)
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    if (zmq_bind(s, ep)) {
        *rc = err_set(-zmq_errno(), "bind %s: %s", ep, zmq_strerror(zmq_errno()));
        goto fail;
    }
    if ((*rc = zloop_init(c->loop, w, s)))
        goto fail;
    w->data = c;
    c->open_watchers++;
    zloop_start(w, cb);
    return s;
fail:
    zmq_close(s);
    return NULL;
}

int children_init(uv_loop_t *loop, children_t *c, void *zctx, store_t *s, zap_t *zap,
                  const children_opts_t *o)
{
    memset(c, 0, sizeof *c);
    c->loop = loop;
    c->zctx = zctx;
    c->store = s;
    c->zap = zap;
    c->o = *o;
    c->keys = *o->keys;
    c->o.keys = &c->keys;
    if (!c->o.heartbeat_ms)
        c->o.heartbeat_ms = 1000;
    if (!c->o.dead_ms)
        c->o.dead_ms = 5 * c->o.heartbeat_ms;
    if (!c->o.stall_ms)
        c->o.stall_ms = 30000;
    snprintf(c->epoch, sizeof c->epoch, "%s", o->epoch);
    c->commit_max = children_commit_max();
    int rc = link_endpoints(o->listen, c->endpoint);
    if (rc)
        return err_wrap(rc, "listen");
    c->router = bind_socket(c, ZMQ_ROUTER, c->endpoint[0], &c->w_router, on_router, &rc);
    if (!rc)
        c->sub = bind_socket(c, ZMQ_SUB, c->endpoint[1], &c->w_sub, on_sub, &rc);
    if (!rc)
        c->xpub = bind_socket(c, ZMQ_XPUB, c->endpoint[2], &c->w_xpub, on_xpub, &rc);
    if (rc)
        return rc; /* the caller closes what was opened with children_close */
    uv_check_init(loop, &c->flush);
    c->flush.data = c;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    return 0;
}

int children_start(children_t *c, children_merged_cb cb)
{
    c->merged_cb = cb;
    uv_check_start(&c->flush, children_commit_on_check);
    return uv_timer_start(&c->timer, on_timer, c->o.heartbeat_ms, c->o.heartbeat_ms);
}

/* The last step of closing, once no socket watcher is open and no commit
 * is in flight (its worker still uses the store and those batches): the
 * caller's callback, once. */
void children_close_done(children_t *c)
{
    if (!c->closing || c->open_watchers || c->committing)
        return;
    for (size_t i = 0; i < c->capinflight; i++)
        sync_events_free(&c->inflight[i].events);
    free(c->inflight);
    c->inflight = NULL;
    c->ninflight = c->capinflight = 0;
    void (*cb)(children_t *c) = c->close_cb;
    c->close_cb = NULL;
    if (cb)
        cb(c);
}

static void watcher_closed(zloop_t *w)
{
    children_t *c = w->data;
    --c->open_watchers;
    children_close_done(c);
}

static void close_sock(void **s, zloop_t *w)
{
    if (!*s)
        return;
    zloop_close(w, watcher_closed);
    zmq_close(*s);
    *s = NULL;
}

void children_close(children_t *c, void (*cb)(children_t *c))
{
    c->close_cb = cb;
    c->closing = true;   /* a commit in flight finishes; no new one starts */
    if (uv_is_active((uv_handle_t *)&c->flush) || c->flush.data)
        uv_close((uv_handle_t *)&c->flush, NULL);
    if (c->timer.data)
        uv_close((uv_handle_t *)&c->timer, NULL);
    for (size_t i = 0; i < c->npend; i++)
        zmq_msg_close(&c->pend[i].frame);
    for (size_t i = 0; i < c->cappend; i++)
        sync_events_free(&c->pend[i].events);
    free(c->pend);
    c->pend = NULL;
    c->npend = c->cappend = 0;
    for (size_t i = 0; i < c->n; i++)
        child_free(c->child[i]);
    free(c->child);
    c->child = NULL;
    c->n = 0;
    buf_free(&c->scratch);
    keys_wipe(&c->keys);
    close_sock(&c->router, &c->w_router);
    close_sock(&c->sub, &c->w_sub);
    close_sock(&c->xpub, &c->w_xpub);
    children_close_done(c);
}
