/*
 * liandong-fanin -- many townships sending to one hub at once (the fan-in
 * benchmark, scripts/bench/fanin).
 *
 *   liandong-fanin --keys-out FILE --links L [--parent hrb/wuchang]
 *   liandong-fanin --keys FILE --connect tcp://127.0.0.1:PORT --server-key KEY
 *                  [--seconds 60] [--grace 10] [--io-threads 1] [--dump FILE]
 *
 * The first form makes L CurveZMQ key pairs and writes one line per
 * simulated township, "ORIGIN PUBLIC SECRET" (origins PARENT/sim0001...),
 * so that the script can `liandong-hub allow ORIGIN PUBLIC` each of them.
 *
 * The second form simulates every township of FILE in this one process, on
 * one libuv loop (common/zloop), speaking the protocol a real child speaks
 * (common/link_up.c, docs/protocol.md): per township a DEALER to PORT, an
 * XPUB to PORT+1 and a SUB to PORT+2, all CURVE clients pinned to the hub's
 * key; HELLO -> WELCOME. Set-up is not measured: the clock starts once
 * every session is up, every data path connected and the hub has PINGed
 * every township in its current session for three seconds running (a hub
 * working through a backlog of HELLOs ends sessions as "silent"). Then
 * once per second, at a slot of its own spread
 * uniformly over the second, each township appends the next event of its
 * own hash chain (seq 1 unit.registered, then deputy.contact) and sends it
 * as a one-event BATCH. The latency of an event is the time from its first
 * send to the ACK whose head for that township covers it (the hub ACKs only
 * after its LMDB commit). NACKs and ACK timeouts rewind and resend from the
 * acknowledged head as sync_out does; what the hub sends down (its own log)
 * is taken in and acknowledged, and each township PINGs once per second.
 * After the last send, a grace period lets the last ACKs arrive; an event
 * never acknowledged by then is lost. Prints one line
 *
 *   fanin: links=L seconds=S events=E lost=N p50_ms=… p99_ms=… max_ms=…
 *
 * (diagnostics on stderr) and exits 1 if anything was lost. --dump writes
 * every event as "ORIGIN SEQ SENT_MS LATENCY_MS" (sent from the start of
 * second 0; "-": never sent / never acknowledged).
 */
#include "common/err.h"
#include "common/keys.h"
#include "common/link_up.h"
#include "common/zloop.h"
#include "proto/json.h"
#include "proto/msg.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define WINDOW       16      /* in-flight batches, as sync_out's default */
#define TIMEOUT_US   3000000 /* no ACK progress: rewind (sync_out's default) */
#define HELLO_US     10000000 /* no WELCOME: a new HELLO */
#define DEAD_US      5000000 /* nothing from the hub: a new session */
#define PING_US      1000000
#define HOUSE_MS     10      /* housekeeping tick; each link visited once a second */
#define DOWN_MAX     PROTO_ORIGIN_DEPTH

typedef struct down_head {
    char origin[PROTO_ORIGIN_MAX + 1];
    uint64_t seq;
    uint8_t hash[PROTO_HASH_LEN];
} down_head_t;

typedef struct slot {
    uint64_t batch, seq, sent_us;
} slot_t;

typedef enum { S_HELLO, S_ACTIVE } sim_state_t;

typedef struct sim {
    int idx;
    char origin[PROTO_ORIGIN_MAX + 1];
    keys_t keys;
    char epoch[17];
    void *ctl, *up, *down;
    zloop_t w_ctl, w_up, w_down;
    sim_state_t state;
    bool up_ready;
    uint64_t session, hello_us, last_rx_us, last_ping_us, retry_at_us;
    uint64_t hub_ping_us;          /* last PING from the hub in this session */
    /* own log: event seq s is evbuf[off[s-1] .. off[s]) */
    buf_t evbuf;
    size_t *off;
    uint64_t created, hlc;
    uint8_t head_hash[PROTO_HASH_LEN];
    /* up sender (sync_out's rules, one event per batch) */
    uint64_t acked_seq, sent_seq;
    uint64_t next_batch, acked_batch, max_sent, rewound_to, progress_us;
    slot_t ring[WINDOW];
    unsigned rhead, rcount;
    uint64_t *first_sent_us;   /* per seq, 0 = never sent */
    double *lat_ms;            /* per seq, < 0 = not acknowledged */
    /* down receiver */
    uint64_t down_expected;
    down_head_t dh[DOWN_MAX];
    int ndh;
    buf_t last_ack;
    /* diagnostics */
    uint64_t rewinds, sessions, nacks_in, errors_in, down_events;
} sim_t;

static struct {
    uv_loop_t *loop;
    void *zctx;
    sim_t *sim;
    int n;
    int seconds;
    double grace_s;
    char server_key[KEYS_Z85_LEN + 1];
    char ep[3][300];
    char parent[PROTO_ORIGIN_MAX + 1];
    char date[11];
    buf_t scratch, body_contact;
    uv_timer_t sched, house;
    uint64_t t0_us;            /* start of second 0 */
    uint64_t g, gmax;          /* next scheduled (second, link) pair */
    uint64_t end_us;           /* end of the grace period, 0 until all sent */
    int house_cursor;
    uint64_t acked_total;
    double lag_max_ms;
    uint64_t send_failures, bad_down, fatal;
    int active, ready;
} G;

static uint64_t now_us(void)
{
    return uv_hrtime() / 1000;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the township's own log ---- */

static int make_event(sim_t *s)
{
    uint64_t seq = s->created + 1;
    buf_t body = BUF_INIT;
    const uint8_t *bp = G.body_contact.data;
    size_t blen = G.body_contact.len;
    const char *kind = "deputy.contact";
    int rc = 0;
    if (seq == 1) {
        char name[64];
        snprintf(name, sizeof name, "模拟镇%04d", s->idx + 1);
        json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "id", s->origin, "name", name,
                              "type", "township", "parent", G.parent);
        rc = proto_body_pack_json(j, &body);
        json_decref(j);
        bp = body.data;
        blen = body.len;
        kind = "unit.registered";
    }
    uint64_t hlc = wall_ms() << 16;
    s->hlc = hlc > s->hlc ? hlc : s->hlc + 1;
    proto_header_t h = {.origin = s->origin, .seq = seq, .hlc = s->hlc, .kind = kind,
                        .date = G.date, .author = "联络员"};
    memcpy(h.prev, s->head_hash, PROTO_HASH_LEN);
    size_t start = s->evbuf.len;
    if (!rc)
        rc = proto_event_encode(&h, bp, blen, &s->evbuf);
    buf_free(&body);
    if (rc)
        return rc;
    proto_event_t ev;
    if ((rc = proto_event_decode(s->evbuf.data + start, s->evbuf.len - start,
                                 PROTO_DECODE_STRICT, &ev)))
        return rc;
    proto_hash(s->evbuf.data + start, s->evbuf.len - start, s->head_hash);
    s->off[seq] = s->evbuf.len;
    s->created = seq;
    return 0;
}

/* ---- sending ---- */

static int send_ctl(sim_t *s, const buf_t *b)
{
    int rc = zloop_send(&s->w_ctl, b->data, b->len, 0);
    if (rc)
        G.send_failures++;
    return rc;
}

static void send_hello(sim_t *s)
{
    msg_vv_builder_t vv = {BUF_INIT, 0};
    int rc = msg_vv_add(&vv, s->origin, s->created, s->head_hash);
    for (int i = 0; !rc && i < s->ndh; i++)
        rc = msg_vv_add(&vv, s->dh[i].origin, s->dh[i].seq, s->dh[i].hash);
    randombytes_buf(&s->session, sizeof s->session);
    buf_reset(&G.scratch);
    if (!rc)
        rc = msg_encode_hello(&G.scratch, s->origin, s->epoch, s->session, 0, &vv);
    msg_vv_free(&vv);
    if (!rc)
        send_ctl(s, &G.scratch);
    if (s->state == S_ACTIVE)
        G.active--;
    s->state = S_HELLO;
    s->hello_us = s->last_rx_us = now_us();
    s->hub_ping_us = 0;
    s->sessions++;
}

static void pump(sim_t *s)
{
    if (s->state != S_ACTIVE || !s->up_ready)
        return;
    while (s->sent_seq < s->created && s->rcount < WINDOW) {
        uint64_t seq = s->sent_seq + 1;
        msg_batch_builder_t b;
        size_t off;
        buf_reset(&G.scratch);
        if (msg_batch_begin(&b, &G.scratch, s->session, s->next_batch) ||
            msg_batch_add(&b, s->evbuf.data + s->off[seq - 1], s->off[seq] - s->off[seq - 1]))
            return;
        msg_batch_finish(&b, &off);
        if (zloop_send(&s->w_up, G.scratch.data + off, G.scratch.len - off, 0)) {
            G.send_failures++;
            return; /* resent by the timeout */
        }
        uint64_t now = now_us();
        s->ring[(s->rhead + s->rcount) % WINDOW] = (slot_t){s->next_batch, seq, now};
        s->rcount++;
        if (s->next_batch > s->max_sent)
            s->max_sent = s->next_batch;
        s->next_batch++;
        s->sent_seq = seq;
        if (!s->first_sent_us[seq])
            s->first_sent_us[seq] = now;
    }
}

static void rewind_to(sim_t *s, uint64_t r)
{
    s->rhead = s->rcount = 0;
    s->acked_batch = r - 1;
    s->next_batch = r;
    s->rewound_to = r;
    s->sent_seq = s->acked_seq;
    s->rewinds++;
}

static void raise_acked(sim_t *s, uint64_t head)
{
    if (head <= s->acked_seq)
        return;
    if (head > s->created) {
        fprintf(stderr, "fanin: %s: the hub acknowledges seq %llu, only %llu exist\n",
                s->origin, (unsigned long long)head, (unsigned long long)s->created);
        G.fatal++;
        head = s->created;
    }
    uint64_t now = now_us();
    for (uint64_t q = s->acked_seq + 1; q <= head; q++) {
        if (s->first_sent_us[q] && s->lat_ms[q] < 0) {
            s->lat_ms[q] = (double)(now - s->first_sent_us[q]) / 1000.0;
            G.acked_total++;
        }
    }
    s->acked_seq = head;
}

/* ---- control messages from the hub ---- */

static void on_welcome(sim_t *s, msg_t *m)
{
    if (s->state != S_HELLO || m->session != s->session)
        return;
    uint64_t head = 0;
    msg_vv_entry_t e;
    for (uint32_t i = 0; i < m->vv_count; i++) {
        if (msg_vv_next(m, &e))
            return;
        if (mpk_str_eq(e.origin, s->origin))
            head = e.seq;
    }
    /* WELCOME is the truth: resume from what the hub holds. */
    if (head > s->created) {
        fprintf(stderr, "fanin: %s: the hub already holds seq %llu (a stale store?)\n",
                s->origin, (unsigned long long)head);
        G.fatal++;
        head = s->created;
    }
    raise_acked(s, head);
    s->acked_seq = head;
    s->sent_seq = head;
    s->next_batch = 1;
    s->acked_batch = s->max_sent = s->rewound_to = 0;
    s->rhead = s->rcount = 0;
    s->progress_us = now_us();
    s->down_expected = 1;
    buf_reset(&s->last_ack);
    s->state = S_ACTIVE;
    G.active++;
    pump(s);
}

static void release(sim_t *s, uint64_t b)
{
    while (s->rcount > 0 && s->ring[s->rhead].batch <= b) {
        if (s->ring[s->rhead].seq > s->acked_seq && s->sent_seq > s->acked_seq)
            s->sent_seq = s->acked_seq; /* dropped as OLD although not applied */
        s->rhead = (s->rhead + 1) % WINDOW;
        s->rcount--;
    }
}

static void on_ack(sim_t *s, msg_t *m)
{
    if (m->session != s->session || m->batch == 0 || m->batch > s->max_sent)
        return;
    msg_vv_entry_t e;
    for (uint32_t i = 0; i < m->vv_count; i++) {
        if (msg_vv_next(m, &e))
            return;
        if (mpk_str_eq(e.origin, s->origin))
            raise_acked(s, e.seq);
    }
    if (m->batch <= s->acked_batch)
        return;
    s->progress_us = now_us();
    release(s, m->batch);
    s->acked_batch = m->batch;
    if (m->batch >= s->next_batch)
        s->next_batch = m->batch + 1;
    if (s->rcount == 0 && s->sent_seq > s->acked_seq)
        s->sent_seq = s->acked_seq;
    pump(s);
}

static void on_nack(sim_t *s, msg_t *m)
{
    s->nacks_in++;
    uint64_t x = m->batch;
    if (m->session != s->session || x <= s->acked_batch || x > s->max_sent ||
        x == s->rewound_to)
        return;
    rewind_to(s, x);
    pump(s);
}

static void on_ctl(zloop_t *w, zloop_msg_t *zm)
{
    sim_t *s = w->data;
    size_t len;
    const void *data = zloop_msg_data(zm, zm->count - 1, &len);
    msg_t m;
    if (msg_decode(data, len, &m)) {
        fprintf(stderr, "fanin: %s: bad control message: %s\n", s->origin, err_msg());
        return;
    }
    s->last_rx_us = now_us();
    switch (m.type) {
    case MSG_T_WELCOME: on_welcome(s, &m); break;
    case MSG_T_ACK: if (s->state == S_ACTIVE) on_ack(s, &m); break;
    case MSG_T_NACK: if (s->state == S_ACTIVE) on_nack(s, &m); break;
    case MSG_T_ERROR:
        s->errors_in++;
        if (s->errors_in <= 3)
            fprintf(stderr, "fanin: %s: ERROR %u from the hub: %.*s\n", s->origin, m.code,
                    (int)m.text.len, m.text.ptr);
        if (s->state == S_ACTIVE)
            G.active--;
        s->state = S_HELLO;
        s->hello_us = 0;
        s->retry_at_us = now_us() + 1000000; /* a new session in a second */
        break;
    case MSG_T_PING:
        if (s->state == S_ACTIVE && m.session == s->session)
            s->hub_ping_us = s->last_rx_us;
        break;
    default: break;
    }
}

/* ---- data down: the hub's own log ---- */

static down_head_t *down_head(sim_t *s, const char *origin, size_t len)
{
    for (int i = 0; i < s->ndh; i++)
        if (strlen(s->dh[i].origin) == len && memcmp(s->dh[i].origin, origin, len) == 0)
            return &s->dh[i];
    if (s->ndh == DOWN_MAX)
        return NULL;
    down_head_t *d = &s->dh[s->ndh++];
    memset(d, 0, sizeof *d);
    memcpy(d->origin, origin, len);
    return d;
}

static void on_down(zloop_t *w, zloop_msg_t *zm)
{
    sim_t *s = w->data;
    size_t len;
    const uint8_t *data = zloop_msg_data(zm, zm->count - 1, &len);
    msg_t m;
    if (s->state != S_ACTIVE || msg_decode(data, len, &m) || m.type != MSG_T_BATCH ||
        m.session != s->session)
        return;
    buf_reset(&G.scratch);
    if (m.batch > s->down_expected) {
        msg_encode_nack(&G.scratch, s->session, s->down_expected);
        send_ctl(s, &G.scratch);
        return;
    }
    if (m.batch < s->down_expected) {
        if (s->last_ack.len)
            send_ctl(s, &s->last_ack);
        return;
    }
    /* Check the whole batch first, as sync_in_check does. */
    msg_t scan = m;
    const uint8_t *raw;
    size_t rlen;
    proto_event_t ev;
    for (uint32_t i = 0; i < m.nevents; i++) {
        if (msg_batch_next(&scan, &raw, &rlen) || proto_event_decode(raw, rlen, 0, &ev) ||
            !proto_origin_within(s->origin, strlen(s->origin), ev.origin.ptr, ev.origin.len) ||
            mpk_str_eq(ev.origin, s->origin)) {
            G.bad_down++;
            return;
        }
    }
    msg_vv_builder_t vv = {BUF_INIT, 0};
    down_head_t *touched[DOWN_MAX];
    int nt = 0;
    for (uint32_t i = 0; i < m.nevents; i++) {
        msg_batch_next(&m, &raw, &rlen);
        proto_event_decode(raw, rlen, 0, &ev);
        down_head_t *d = down_head(s, ev.origin.ptr, ev.origin.len);
        if (!d)
            continue;
        if (ev.seq == d->seq + 1 && memcmp(ev.prev, d->hash, PROTO_HASH_LEN) == 0) {
            d->seq = ev.seq;
            proto_hash(raw, rlen, d->hash);
            s->down_events++;
        }
        int k = 0;
        while (k < nt && touched[k] != d)
            k++;
        if (k == nt)
            touched[nt++] = d;
    }
    for (int k = 0; k < nt; k++)
        msg_vv_add(&vv, touched[k]->origin, touched[k]->seq, touched[k]->hash);
    s->down_expected++;
    buf_reset(&s->last_ack);
    if (msg_encode_ack(&s->last_ack, s->session, m.batch, &vv) == 0)
        send_ctl(s, &s->last_ack);
    msg_vv_free(&vv);
}

/* Subscriptions arriving on the data-up XPUB: the hub's SUB is connected. */
static void on_up(zloop_t *w, zloop_msg_t *zm)
{
    sim_t *s = w->data;
    size_t len;
    const uint8_t *d = zloop_msg_data(zm, 0, &len);
    if (len < 1)
        return;
    if (d[0] == 1) {
        if (!s->up_ready) {
            s->up_ready = true;
            G.ready++;
        }
        /* What went out before the (re)subscription was dropped: resend. */
        if (s->state == S_ACTIVE && s->rcount)
            rewind_to(s, s->acked_batch + 1);
        pump(s);
    } else if (d[0] == 0 && s->up_ready) {
        s->up_ready = false;
        G.ready--;
    }
}

/* ---- sockets ---- */

static void *make_socket(sim_t *s, int type, zloop_t *w, zloop_recv_cb cb)
{
    void *z = zmq_socket(G.zctx, type);
    if (!z) {
        fprintf(stderr, "fanin: socket: %s\n", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int zero = 0, hwm = 1000;
    int64_t max = MSG_MAX_BYTES;
    zmq_setsockopt(z, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(z, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(z, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(z, ZMQ_MAXMSGSIZE, &max, sizeof max);
    int rc = keys_curve_client(z, &s->keys, G.server_key);
    if (!rc)
        rc = zloop_init(G.loop, w, z);
    if (rc) {
        fprintf(stderr, "fanin: %s: socket set-up: %s\n", s->origin, err_msg());
        zmq_close(z);
        return NULL;
    }
    w->data = s;
    zloop_start(w, cb);
    return z;
}

static int sim_connect(sim_t *s)
{
    int one = 1;
    char topic[PROTO_ORIGIN_MAX + 2];
    if (!(s->ctl = make_socket(s, ZMQ_DEALER, &s->w_ctl, on_ctl)) ||
        !(s->up = make_socket(s, ZMQ_XPUB, &s->w_up, on_up)) ||
        !(s->down = make_socket(s, ZMQ_SUB, &s->w_down, on_down)))
        return -1;
    zmq_setsockopt(s->up, ZMQ_XPUB_VERBOSE, &one, sizeof one);
    size_t n = strlen(s->origin) + 1;
    memcpy(topic, s->origin, n);
    zmq_setsockopt(s->down, ZMQ_SUBSCRIBE, topic, n);
    if (zmq_connect(s->ctl, G.ep[0]) || zmq_connect(s->up, G.ep[1]) ||
        zmq_connect(s->down, G.ep[2])) {
        fprintf(stderr, "fanin: connect: %s\n", zmq_strerror(zmq_errno()));
        return -1;
    }
    send_hello(s);
    return 0;
}

/* ---- timers ---- */

static uint64_t due_us(uint64_t g)
{
    uint64_t k = g / (uint64_t)G.n, i = g % (uint64_t)G.n;
    return G.t0_us + k * 1000000 + i * 1000000 / (uint64_t)G.n;
}

static void on_sched(uv_timer_t *t)
{
    uint64_t now = now_us();
    while (G.g < G.gmax && due_us(G.g) <= now + 200) {
        sim_t *s = &G.sim[G.g % (uint64_t)G.n];
        uint64_t due = due_us(G.g);
        if (now > due && (double)(now - due) / 1000.0 > G.lag_max_ms)
            G.lag_max_ms = (double)(now - due) / 1000.0;
        if (make_event(s)) {
            fprintf(stderr, "fanin: %s: making event %llu: %s\n", s->origin,
                    (unsigned long long)s->created + 1, err_msg());
            G.fatal++;
            uv_stop(G.loop);
            return;
        }
        pump(s);
        G.g++;
        now = now_us();
    }
    if (G.g >= G.gmax) {
        G.end_us = now + (uint64_t)(G.grace_s * 1e6);
        return;
    }
    uint64_t d = due_us(G.g);
    uint64_t ms = d > now ? (d - now + 999) / 1000 : 0;
    uv_timer_start(t, on_sched, ms ? ms : 1, 0);
}

static void house_one(sim_t *s, uint64_t now)
{
    if (s->state == S_HELLO) {
        if ((s->hello_us && now - s->hello_us > HELLO_US) ||
            (!s->hello_us && now >= s->retry_at_us))
            send_hello(s);
        return;
    }
    if (now - s->last_rx_us > DEAD_US) {
        fprintf(stderr, "fanin: %s: the hub went silent; new session\n", s->origin);
        send_hello(s);
        return;
    }
    if (now - s->last_ping_us >= PING_US - HOUSE_MS * 1000) {
        s->last_ping_us = now;
        buf_reset(&G.scratch);
        if (msg_encode_ping(&G.scratch, s->session, s->created, s->created - s->acked_seq) == 0)
            send_ctl(s, &G.scratch);
    }
    if (s->rcount) {
        uint64_t base = s->ring[s->rhead].sent_us;
        if (s->progress_us > base)
            base = s->progress_us;
        if (now > base && now - base > TIMEOUT_US) {
            rewind_to(s, s->acked_batch + 1);
            pump(s);
        }
    }
}

static void on_house(uv_timer_t *t)
{
    (void)t;
    uint64_t now = now_us();
    int per = (G.n * HOUSE_MS + 999) / 1000;
    for (int k = 0; k < per; k++) {
        house_one(&G.sim[G.house_cursor], now);
        G.house_cursor = (G.house_cursor + 1) % G.n;
    }
    if (G.end_us && (G.acked_total == G.gmax || now >= G.end_us))
        uv_stop(G.loop);
}

/* Set-up is over when every session is active, every data path connected,
 * and the hub has PINGed every township in its current session within the
 * last 1.5 s: a hub still working through a backlog of HELLOs may have ended
 * sessions that the townships still think are up. */
static bool settled(uint64_t now)
{
    if (G.active < G.n || G.ready < G.n)
        return false;
    for (int i = 0; i < G.n; i++)
        if (!G.sim[i].hub_ping_us || now - G.sim[i].hub_ping_us > 1500000)
            return false;
    return true;
}

/* ---- key file ---- */

static int keys_out(const char *path, int links, const char *parent)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    for (int i = 0; i < links; i++) {
        char pub[KEYS_Z85_LEN + 1], sec[KEYS_Z85_LEN + 1];
        if (zmq_curve_keypair(pub, sec)) {
            fprintf(stderr, "fanin: zmq_curve_keypair: %s\n", zmq_strerror(zmq_errno()));
            fclose(f);
            return 1;
        }
        fprintf(f, "%s/sim%04d %s %s\n", parent, i + 1, pub, sec);
    }
    return fclose(f) ? 1 : 0;
}

static int keys_in(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    char line[512], o[PROTO_ORIGIN_MAX + 1], pub[64], sec[64];
    int cap = 0;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%160s %63s %63s", o, pub, sec) != 3)
            continue;
        if (!proto_origin_valid(o, strlen(o)) || !keys_valid_public(pub) ||
            strlen(sec) != KEYS_Z85_LEN) {
            fprintf(stderr, "fanin: %s: bad line: %s", path, line);
            fclose(f);
            return -1;
        }
        if (G.n == cap) {
            cap = cap ? cap * 2 : 256;
            G.sim = realloc(G.sim, (size_t)cap * sizeof *G.sim);
        }
        sim_t *s = &G.sim[G.n];
        memset(s, 0, sizeof *s);
        s->idx = G.n++;
        snprintf(s->origin, sizeof s->origin, "%s", o);
        memcpy(s->keys.public, pub, KEYS_Z85_LEN + 1);
        memcpy(s->keys.secret, sec, KEYS_Z85_LEN + 1);
        uint8_t e[8];
        randombytes_buf(e, sizeof e);
        sodium_bin2hex(s->epoch, sizeof s->epoch, e, sizeof e);
    }
    fclose(f);
    return G.n;
}

static void raise_nofile(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double q)
{
    if (!n)
        return 0;
    size_t k = (size_t)ceil(q * (double)n);
    return v[k ? k - 1 : 0];
}

static void usage(void)
{
    fprintf(stderr,
            "usage: liandong-fanin --keys-out FILE --links L [--parent hrb/wuchang]\n"
            "       liandong-fanin --keys FILE --connect tcp://HOST:PORT --server-key KEY\n"
            "                      [--seconds 60] [--grace 10] [--io-threads 1] [--dump FILE]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"keys-out", required_argument, NULL, 'o'}, {"links", required_argument, NULL, 'l'},
        {"parent", required_argument, NULL, 'p'}, {"keys", required_argument, NULL, 'k'},
        {"connect", required_argument, NULL, 'c'}, {"server-key", required_argument, NULL, 's'},
        {"seconds", required_argument, NULL, 'S'}, {"grace", required_argument, NULL, 'g'},
        {"io-threads", required_argument, NULL, 'i'}, {"dump", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    const char *dump = NULL, *out = NULL, *in = NULL, *connect = NULL, *skey = NULL;
    const char *parent = "hrb/wuchang";
    int links = 1000, io_threads = 1, c;
    G.seconds = 60;
    G.grace_s = 10;
    if (sodium_init() < 0)
        return 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'l': links = atoi(optarg); break;
        case 'p': parent = optarg; break;
        case 'k': in = optarg; break;
        case 'c': connect = optarg; break;
        case 's': skey = optarg; break;
        case 'S': G.seconds = atoi(optarg); break;
        case 'g': G.grace_s = atof(optarg); break;
        case 'i': io_threads = atoi(optarg); break;
        case 'd': dump = optarg; break;
        default: usage(); return 2;
        }
    }
    if (!proto_origin_valid(parent, strlen(parent))) {
        fprintf(stderr, "fanin: '%s' is not a valid origin\n", parent);
        return 2;
    }
    if (out) {
        if (links < 1 || links > 99999) {
            usage();
            return 2;
        }
        return keys_out(out, links, parent);
    }
    if (!in || !connect || !skey || G.seconds < 1 || G.grace_s < 0 || io_threads < 1) {
        usage();
        return 2;
    }
    if (!keys_valid_public(skey)) {
        fprintf(stderr, "fanin: --server-key is not a Z85 public key\n");
        return 2;
    }
    snprintf(G.server_key, sizeof G.server_key, "%s", skey);
    if (link_endpoints(connect, G.ep)) {
        fprintf(stderr, "fanin: %s\n", err_msg());
        return 2;
    }
    if (keys_in(in) <= 0) {
        fprintf(stderr, "fanin: no townships in %s\n", in);
        return 2;
    }
    raise_nofile();

    /* The parent of the simulated origins, for unit.registered. */
    snprintf(G.parent, sizeof G.parent, "%s", G.sim[0].origin);
    char *slash = strrchr(G.parent, '/');
    if (slash)
        *slash = '\0';
    time_t tt = time(NULL);
    struct tm tm;
    localtime_r(&tt, &tm);
    strftime(G.date, sizeof G.date, "%Y-%m-%d", &tm);
    json_t *j = json_pack("{s:s, s:s, s:i, s:s}", "deputy", "d0001", "channel", "reception_day",
                          "constituents", 12, "topic", "春耕备耕农资供应情况");
    proto_body_pack_json(j, &G.body_contact);
    json_decref(j);

    for (int i = 0; i < G.n; i++) {
        sim_t *s = &G.sim[i];
        s->off = calloc((size_t)G.seconds + 2, sizeof *s->off);
        s->first_sent_us = calloc((size_t)G.seconds + 2, sizeof *s->first_sent_us);
        s->lat_ms = malloc(((size_t)G.seconds + 2) * sizeof *s->lat_ms);
        if (!s->off || !s->first_sent_us || !s->lat_ms) {
            fprintf(stderr, "fanin: out of memory\n");
            return 1;
        }
        for (int k = 0; k < G.seconds + 2; k++)
            s->lat_ms[k] = -1;
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    G.loop = &loop;
    G.zctx = zmq_ctx_new();
    zmq_ctx_set(G.zctx, ZMQ_MAX_SOCKETS, 3 * G.n + 100);
    zmq_ctx_set(G.zctx, ZMQ_IO_THREADS, io_threads);
    if (zmq_ctx_get(G.zctx, ZMQ_MAX_SOCKETS) < 3 * G.n + 100) {
        fprintf(stderr, "fanin: ZMQ_MAX_SOCKETS stays at %d, %d needed\n",
                zmq_ctx_get(G.zctx, ZMQ_MAX_SOCKETS), 3 * G.n + 100);
        return 1;
    }

    /* Set-up, not measured: every township connects and says HELLO. */
    uint64_t t_setup = now_us();
    for (int i = 0; i < G.n; i++)
        if (sim_connect(&G.sim[i]))
            return 1;
    uv_timer_init(&loop, &G.house);
    uv_timer_init(&loop, &G.sched);
    uv_timer_start(&G.house, on_house, HOUSE_MS, HOUSE_MS);
    uint64_t setup_limit = 60000000 + (uint64_t)G.n * 60000; /* 60 s + 60 ms a link */
    uint64_t last_report = t_setup, last_check = 0, stable_since = 0;
    for (;;) {
        uv_run(&loop, UV_RUN_ONCE);
        uint64_t now = now_us();
        if (now - last_check >= 100000) {
            last_check = now;
            if (!settled(now))
                stable_since = 0;
            else if (!stable_since)
                stable_since = now;
            else if (now - stable_since >= 3000000)
                break; /* three seconds without a lost session */
        }
        if (now - t_setup > setup_limit) {
            fprintf(stderr, "fanin: set-up timed out: %d of %d sessions active, %d of %d data "
                    "paths connected\n", G.active, G.n, G.ready, G.n);
            return 1;
        }
        if (now - last_report > 5000000) {
            last_report = now;
            fprintf(stderr, "fanin: set-up: %d/%d sessions, %d/%d data paths\n", G.active,
                    G.n, G.ready, G.n);
        }
    }
    uint64_t setup_sessions = 0;
    for (int i = 0; i < G.n; i++)
        setup_sessions += G.sim[i].sessions;
    fprintf(stderr, "fanin: %d townships connected and settled in %.1f s (%llu HELLOs)\n", G.n,
            (double)(now_us() - t_setup) / 1e6, (unsigned long long)setup_sessions);

    /* The measured period. */
    G.gmax = (uint64_t)G.n * (uint64_t)G.seconds;
    G.t0_us = now_us() + 100000;
    uv_timer_start(&G.sched, on_sched, 100, 0);
    uv_run(&loop, UV_RUN_DEFAULT);

    /* Results. */
    FILE *df = dump ? fopen(dump, "w") : NULL;
    for (int i = 0; df && i < G.n; i++) {
        const sim_t *s = &G.sim[i];
        for (uint64_t q = 1; q <= s->created; q++) {
            char sent[32] = "-", lat[32] = "-";
            if (s->first_sent_us[q])
                snprintf(sent, sizeof sent, "%.3f",
                         ((double)s->first_sent_us[q] - (double)G.t0_us) / 1e3);
            if (s->lat_ms[q] >= 0)
                snprintf(lat, sizeof lat, "%.3f", s->lat_ms[q]);
            fprintf(df, "%s %llu %s %s\n", s->origin, (unsigned long long)q, sent, lat);
        }
    }
    if (df)
        fclose(df);
    size_t n = 0;
    double *all = malloc(G.gmax * sizeof *all);
    uint64_t rewinds = 0, sessions = 0, errors = 0, nacks = 0, down = 0, created = 0;
    for (int i = 0; i < G.n; i++) {
        sim_t *s = &G.sim[i];
        for (uint64_t q = 1; q <= s->created; q++)
            if (s->lat_ms[q] >= 0)
                all[n++] = s->lat_ms[q];
        created += s->created;
        rewinds += s->rewinds;
        sessions += s->sessions;
        errors += s->errors_in;
        nacks += s->nacks_in;
        down += s->down_events;
    }
    qsort(all, n, sizeof *all, cmp_double);
    uint64_t lost = G.gmax - n;
    sessions -= setup_sessions;
    fprintf(stderr, "fanin: created %llu events, send lag max %.1f ms, %llu new sessions, "
            "%llu rewinds, %llu NACKs, %llu ERRORs, %llu send failures, %llu events down, "
            "%llu bad down batches\n",
            (unsigned long long)created, G.lag_max_ms, (unsigned long long)sessions,
            (unsigned long long)rewinds, (unsigned long long)nacks, (unsigned long long)errors,
            (unsigned long long)G.send_failures, (unsigned long long)down,
            (unsigned long long)G.bad_down);
    if (lost) {
        int shown = 0;
        for (int i = 0; i < G.n && shown < 5; i++)
            if (G.sim[i].acked_seq < G.sim[i].created) {
                sim_t *s = &G.sim[i];
                fprintf(stderr, "fanin: %s: acked %llu of %llu (state %s, %u in flight)\n",
                        s->origin, (unsigned long long)s->acked_seq,
                        (unsigned long long)s->created,
                        s->state == S_ACTIVE ? "active" : "hello", s->rcount);
                shown++;
            }
    }
    printf("fanin: links=%d seconds=%d events=%llu lost=%llu p50_ms=%.2f p99_ms=%.2f "
           "max_ms=%.2f\n", G.n, G.seconds, (unsigned long long)G.gmax,
           (unsigned long long)lost, pct(all, n, 0.50), pct(all, n, 0.99),
           n ? all[n - 1] : 0.0);
    fflush(stdout);
    free(all);

    /* Tear-down. */
    for (int i = 0; i < G.n; i++) {
        sim_t *s = &G.sim[i];
        zloop_close(&s->w_ctl, NULL);
        zloop_close(&s->w_up, NULL);
        zloop_close(&s->w_down, NULL);
        zmq_close(s->ctl);
        zmq_close(s->up);
        zmq_close(s->down);
        buf_free(&s->evbuf);
        buf_free(&s->last_ack);
        free(s->off);
        free(s->first_sent_us);
        free(s->lat_ms);
        keys_wipe(&s->keys);
    }
    uv_close((uv_handle_t *)&G.sched, NULL);
    uv_close((uv_handle_t *)&G.house, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    zmq_ctx_term(G.zctx);
    free(G.sim);
    buf_free(&G.scratch);
    buf_free(&G.body_contact);
    return lost || G.fatal ? 1 : 0;
}
