/*
 * hostile.c -- liandong-hostile: a misbehaving child, for
 * tests/integration/test_sync_hostile.sh.
 *
 *   liandong-hostile MODE --endpoint tcp://HOST:PORT --server-key KEY
 *                    [--dir CHILD_DIR] [--victim-dir DIR] [--as ORIGIN]
 *                    [--phase N] [--seq N] [--vv N] [--count N] [--timeout S]
 *   liandong-hostile ctl --dir DATA_DIR [CMD]   (a running daemon's ctl reply,
 *                    e.g. the hub's "status" counters, which the CLI does not show)
 *
 * It connects to a running hub the way a child does (DEALER to PORT, XPUB
 * to PORT+1, SUB to PORT+2), with the CurveZMQ key pair of CHILD_DIR, a
 * fresh one, or none, and does one bad thing (MODE, see usage()). It exits 0
 * if it managed to send it and 1 if it could not (bad arguments, no
 * connection, no WELCOME when one was needed); what the hub made of it is
 * for the script to check with the CLI. Lines on stdout, each "hostile:
 * ...", say what came back (WELCOME, ACK heads, ERROR codes, handshake and
 * disconnect events), so a failing run shows what the hub did.
 *
 * The events it sends are real: CHILD_DIR's own log read from its store
 * (opened read-only; no daemon may run on it), continued with events it
 * generates itself, chained with proto_hash. The generated part is
 * deterministic (fixed HLC, body derived from seq), so two runs build the
 * same chain and a later run can equivocate on an event an earlier one
 * sent. Everything is bounded in time by --timeout (default 10 s).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/buf.h"
#include "common/ctl.h"
#include "common/err.h"
#include "common/keys.h"
#include "common/link_up.h"
#include "common/store.h"
#include "proto/event.h"
#include "proto/json.h"
#include "proto/msg.h"

#define CHAIN_MAX 64
#define FLOOD_BATCH 1024  /* events per batch of the origin flood, as a real child sends */
#define WV_MAX 32
/* 2026-01-01T00:00:00Z as an HLC stamp: generated events are in the past. */
#define HLC_BASE (1767225600000ull << 16)

typedef struct wv_entry {
    char origin[PROTO_ORIGIN_MAX + 1];
    uint64_t seq;
    uint8_t hash[PROTO_HASH_LEN];
} wv_entry_t;

typedef struct hx {
    void *z, *ctl, *up, *down, *mon_ctl, *mon_up;
    char ep[3][300];
    bool curve;
    keys_t keys;
    char server_key[KEYS_Z85_LEN + 1];
    char origin[PROTO_ORIGIN_MAX + 1];
    char epoch[MSG_EPOCH_MAX + 1];
    store_t *store;                 /* CHILD_DIR's store, read-only; may be NULL */
    uint64_t session;
    bool welcomed, up_ready;
    wv_entry_t wv[WV_MAX];          /* the last WELCOME's heads */
    int nwv;
    uint64_t deadline_ms, last_ping_ms;
    buf_t rx;                       /* the last control message's bytes */
} hx_t;

/* One origin's log: events 1..n, bytes and hashes. */
typedef struct chain {
    buf_t ev[CHAIN_MAX + 1];
    uint8_t hash[CHAIN_MAX + 1][PROTO_HASH_LEN];
    uint64_t n;
} chain_t;

/* ---- small helpers ---- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("hostile: ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

static int die(const char *what)
{
    fprintf(stderr, "liandong-hostile: %s\n", what);
    return 1;
}

/* Milliseconds left of the overall bound, at most cap. */
static int left(const hx_t *h, int cap)
{
    uint64_t now = now_ms();
    if (now >= h->deadline_ms)
        return 0;
    uint64_t l = h->deadline_ms - now;
    return l < (uint64_t)cap ? (int)l : cap;
}

static int zsend(void *s, const void *data, size_t len, int flags)
{
    return zmq_send(s, data, len, flags | ZMQ_DONTWAIT) == (int)len ? 0 : -1;
}

/* ---- sockets ---- */

static const char *event_name(unsigned ev)
{
    switch (ev) {
    case ZMQ_EVENT_CONNECTED: return "connected";
    case ZMQ_EVENT_DISCONNECTED: return "disconnected";
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: return "handshake succeeded";
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: return "handshake refused (auth)";
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: return "handshake failed (protocol)";
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: return "handshake failed";
    default: return NULL;
    }
}

/* Reports the monitor events queued on mon; returns the mask of those seen. */
static unsigned mon_drain(void *mon, const char *sock)
{
    unsigned seen = 0;
    for (;;) {
        zmq_msg_t f;
        zmq_msg_init(&f);
        if (zmq_msg_recv(&f, mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&f);
            return seen;
        }
        uint16_t ev = 0;
        uint32_t val = 0;
        if (zmq_msg_size(&f) >= 6) {
            memcpy(&ev, zmq_msg_data(&f), 2);
            memcpy(&val, (uint8_t *)zmq_msg_data(&f) + 2, 4);
        }
        while (zmq_msg_more(&f) && zmq_msg_recv(&f, mon, 0) >= 0)
            ;
        zmq_msg_close(&f);
        seen |= ev;
        if (event_name(ev))
            say("%s socket: %s (%u)", sock, event_name(ev), val);
    }
}

static void *open_socket(hx_t *h, int type, int i, void **mon, const char *name)
{
    void *s = zmq_socket(h->z, type);
    int linger = 500, one = 1;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (h->curve && keys_curve_client(s, &h->keys, h->server_key)) {
        fprintf(stderr, "liandong-hostile: curve: %s\n", err_msg());
        exit(1);
    }
    if (type == ZMQ_XPUB)
        zmq_setsockopt(s, ZMQ_XPUB_VERBOSE, &one, sizeof one);
    if (type == ZMQ_SUB) {
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, h->origin, strlen(h->origin) + 1);
    }
    if (mon) {
        char mep[64];
        snprintf(mep, sizeof mep, "inproc://hostile-mon-%s", name);
        zmq_socket_monitor(s, mep, ZMQ_EVENT_ALL);
        *mon = zmq_socket(h->z, ZMQ_PAIR);
        zmq_connect(*mon, mep);
    }
    if (zmq_connect(s, h->ep[i])) {
        fprintf(stderr, "liandong-hostile: connect %s: %s\n", h->ep[i], zmq_strerror(zmq_errno()));
        exit(1);
    }
    return s;
}

static void open_sockets(hx_t *h)
{
    h->ctl = open_socket(h, ZMQ_DEALER, 0, &h->mon_ctl, "ctl");
    h->up = open_socket(h, ZMQ_XPUB, 1, &h->mon_up, "up");
    h->down = open_socket(h, ZMQ_SUB, 2, NULL, "down");
}

static void close_sockets(hx_t *h)
{
    void **s[] = {&h->ctl, &h->up, &h->down, &h->mon_ctl, &h->mon_up};
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
        if (*s[i]) {
            zmq_close(*s[i]);
            *s[i] = NULL;
        }
}

/* The data path is up when the hub's SUB has subscribed on our XPUB. */
static bool wait_up_ready(hx_t *h, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (!h->up_ready) {
        zmq_pollitem_t it = {h->up, 0, ZMQ_POLLIN, 0};
        int t = left(h, (int)(end > now_ms() ? end - now_ms() : 0));
        if (t <= 0 || zmq_poll(&it, 1, t) <= 0)
            break;
        uint8_t b[8];
        int n = zmq_recv(h->up, b, sizeof b, ZMQ_DONTWAIT);
        if (n >= 1 && b[0] == 1)
            h->up_ready = true;
    }
    if (!h->up_ready)
        say("the hub never subscribed on the data socket");
    return h->up_ready;
}

/* ---- control messages ---- */

static void send_ping(hx_t *h)
{
    buf_t b = BUF_INIT;
    if (msg_encode_ping(&b, h->session, 0, 0) == 0)
        zsend(h->ctl, b.data, b.len, 0);
    buf_free(&b);
    h->last_ping_ms = now_ms();
}

static void note_welcome(hx_t *h, msg_t *m)
{
    h->nwv = 0;
    msg_vv_entry_t e;
    uint32_t below = 0; /* heads of origins below our own (an origin flood's) */
    for (uint32_t i = 0; i < m->vv_count && msg_vv_next(m, &e) == 0; i++) {
        size_t olen = strlen(h->origin);
        if (e.origin.len > olen && proto_origin_within(e.origin.ptr, e.origin.len, h->origin, olen) &&
            ++below > 2)
            continue;
        if (h->nwv == WV_MAX)
            break;
        wv_entry_t *w = &h->wv[h->nwv++];
        snprintf(w->origin, sizeof w->origin, "%.*s", (int)e.origin.len, e.origin.ptr);
        w->seq = e.seq;
        memcpy(w->hash, e.hash, PROTO_HASH_LEN);
        say("welcome: hub holds %s up to %llu", w->origin, (unsigned long long)w->seq);
    }
    if (below > 2)
        say("welcome: and %u more origins below ours", below - 2);
}

static void note_ack(msg_t *m)
{
    msg_vv_entry_t e;
    say("ack: batch %llu", (unsigned long long)m->batch);
    for (uint32_t i = 0; i < m->vv_count && i < 8 && msg_vv_next(m, &e) == 0; i++)
        say("ack: head %.*s %llu", (int)e.origin.len, e.origin.ptr, (unsigned long long)e.seq);
    if (m->vv_count > 8)
        say("ack: and %u more heads", m->vv_count - 8);
}

/* Receives control messages for up to ms (keeping the session alive with
 * PINGs) until one of type `want` (or an ERROR) arrives: returns its type,
 * 0 on timeout. *m views h->rx. */
static int ctl_wait(hx_t *h, int want, int ms, msg_t *m)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    for (;;) {
        uint64_t now = now_ms();
        if (h->welcomed && now - h->last_ping_ms >= 100)
            send_ping(h);
        int t = left(h, end > now ? (int)(end - now) : 0);
        if (t <= 0)
            return 0;
        zmq_pollitem_t it = {h->ctl, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, t < 100 ? t : 100) <= 0)
            continue;
        zmq_msg_t f;
        zmq_msg_init(&f);
        if (zmq_msg_recv(&f, h->ctl, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&f);
            continue;
        }
        buf_reset(&h->rx);
        buf_append(&h->rx, zmq_msg_data(&f), zmq_msg_size(&f));
        zmq_msg_close(&f);
        if (msg_decode(h->rx.data, h->rx.len, m)) {
            say("undecodable control message from the hub: %s", err_msg());
            /* A WELCOME over MSG_MAX_BYTES (after an origin flood) still
             * starts a session at the hub: go on as if it had been read. */
            if (want == MSG_T_WELCOME && h->rx.len > MSG_MAX_BYTES && h->rx.data[0] == 0x96 &&
                h->rx.data[1] == MSG_T_WELCOME) {
                m->type = MSG_T_WELCOME;
                m->session = h->session;
                return MSG_T_WELCOME;
            }
            continue;
        }
        if (m->type == MSG_T_ERROR) {
            say("error %u: %.*s", m->code, (int)m->text.len, m->text.ptr);
            h->welcomed = false;
            return MSG_T_ERROR;
        }
        if (m->type == MSG_T_WELCOME && m->session == h->session)
            note_welcome(h, m);
        else if (m->type == MSG_T_ACK && m->session == h->session)
            note_ack(m);
        else if (m->type == MSG_T_NACK && m->session == h->session)
            say("nack: expected %llu", (unsigned long long)m->batch);
        if ((int)m->type == want && (m->type == MSG_T_ERROR || m->session == h->session))
            return want;
    }
}

static int send_hello(hx_t *h, const char *as, uint64_t session)
{
    msg_vv_builder_t vv = {BUF_INIT, 0};
    buf_t b = BUF_INIT;
    int rc = msg_encode_hello(&b, as, h->epoch, session, 0, &vv);
    if (!rc)
        rc = zsend(h->ctl, b.data, b.len, 0);
    buf_free(&b);
    return rc;
}

/* A new session, HELLO as `as`: 1 welcomed, 0 refused (ERROR), -1 no answer. */
static int session(hx_t *h, const char *as)
{
    msg_t m;
    h->welcomed = false;
    /* Whatever is still queued belongs to what came before. */
    while (zmq_recv(h->ctl, NULL, 0, ZMQ_DONTWAIT) >= 0)
        ;
    randombytes_buf(&h->session, sizeof h->session);
    if (send_hello(h, as, h->session))
        return -1;
    say("hello as %s", as);
    int t = ctl_wait(h, MSG_T_WELCOME, 3000, &m);
    if (t == MSG_T_WELCOME) {
        h->welcomed = true;
        h->last_ping_ms = now_ms();
        return 1;
    }
    if (t == 0)
        say("no answer to the hello as %s", as);
    return t == MSG_T_ERROR ? 0 : -1;
}

/* After a BATCH: what the hub answered (ACK, NACK, ERROR), 0 if nothing. */
static int batch_reply(hx_t *h, int ms)
{
    msg_t m;
    uint64_t end = now_ms() + (uint64_t)ms;
    for (;;) {
        int t = left(h, end > now_ms() ? (int)(end - now_ms()) : 0);
        int r = t > 0 ? ctl_wait(h, MSG_T_ACK, t, &m) : 0;
        if (r == MSG_T_ACK || r == MSG_T_ERROR || r == 0)
            return r;
    }
}

/* ---- events ---- */

typedef struct evref {
    const uint8_t *p;
    size_t len;
} evref_t;

static int send_batch(hx_t *h, uint64_t batch, const evref_t *ev, size_t n)
{
    buf_t out = BUF_INIT;
    msg_batch_builder_t b;
    size_t off;
    int rc = msg_batch_begin(&b, &out, h->session, batch);
    for (size_t i = 0; !rc && i < n; i++)
        rc = msg_batch_add(&b, ev[i].p, ev[i].len);
    if (!rc) {
        msg_batch_finish(&b, &off);
        rc = zsend(h->up, out.data + off, out.len - off, 0);
    }
    buf_free(&out);
    if (!rc)
        say("batch %llu of %zu events sent", (unsigned long long)batch, n);
    return rc;
}

/* A valid deputy.contact event of origin#seq chained to prev; `variant`
 * changes the body (an equivocation of the plain one). */
static int gen_event(const char *origin, uint64_t seq, const uint8_t prev[PROTO_HASH_LEN],
                     int variant, buf_t *out)
{
    char topic[64];
    if (variant)
        snprintf(topic, sizeof topic, "伪造的另一版本 %d", variant);
    else
        snprintf(topic, sizeof topic, "hostile chain %llu", (unsigned long long)seq);
    json_t *body = json_pack("{s:s, s:s, s:I, s:s}", "deputy", "d001", "channel",
                             "reception_day", "constituents", (json_int_t)(seq % 100 + 1),
                             "topic", topic);
    buf_t b = BUF_INIT;
    proto_header_t hd = {origin, seq, HLC_BASE + seq, {0}, "deputy.contact", "2026-03-05", NULL};
    memcpy(hd.prev, prev, PROTO_HASH_LEN);
    buf_reset(out);
    int rc = body ? proto_body_pack_json(body, &b) : LD_ENOMEM;
    if (!rc)
        rc = proto_event_encode(&hd, b.data, b.len, out);
    proto_event_t e;
    if (!rc && (rc = proto_event_decode(out->data, out->len, PROTO_DECODE_STRICT, &e)))
        fprintf(stderr, "liandong-hostile: generated event does not decode: %s\n", err_msg());
    json_decref(body);
    buf_free(&b);
    return rc;
}

/* origin's log up to `upto`: what `s` holds of it (if s), then generated. */
static int chain_build(store_t *s, const char *origin, uint64_t upto, chain_t *c)
{
    static const uint8_t zero[PROTO_HASH_LEN];
    store_txn_t *t = NULL;
    if (upto > CHAIN_MAX)
        return LD_ETOOBIG;
    if (s && store_read_begin(s, &t))
        t = NULL;
    int rc = 0;
    c->n = 0;
    for (uint64_t k = 1; !rc && k <= upto; k++) {
        const uint8_t *raw;
        size_t len;
        buf_reset(&c->ev[k]);
        if (t && store_event_get(t, origin, k, &raw, &len) == 0)
            rc = buf_append(&c->ev[k], raw, len);
        else
            rc = gen_event(origin, k, k == 1 ? zero : c->hash[k - 1], 0, &c->ev[k]);
        if (!rc) {
            proto_hash(c->ev[k].data, c->ev[k].len, c->hash[k]);
            c->n = k;
        }
    }
    store_read_end(&t);
    return rc;
}

static void chain_free(chain_t *c)
{
    for (int k = 0; k <= CHAIN_MAX; k++)
        buf_free(&c->ev[k]);
}

static evref_t ref(const buf_t *b)
{
    return (evref_t){b->data, b->len};
}

/* The head `s` holds of origin (0 if none or no store). */
static uint64_t store_head(store_t *s, const char *origin, uint8_t hash[PROTO_HASH_LEN])
{
    store_txn_t *t;
    store_head_t hd = {0};
    if (s && store_read_begin(s, &t) == 0) {
        store_head_get(t, origin, &hd);
        store_read_end(&t);
    }
    if (hash)
        memcpy(hash, hd.hash, PROTO_HASH_LEN);
    return hd.seq;
}

/* ---- raw bytes ---- */

/* Random bytes, a plain TCP connection (not ZMTP at all) or ZMTP garbage. */
static int raw_tcp(const char *endpoint, int port_off, const void *data, size_t len)
{
    char host[256];
    const char *colon = strrchr(endpoint, ':');
    if (strncmp(endpoint, "tcp://", 6) != 0 || !colon || (size_t)(colon - endpoint - 6) >= sizeof host)
        return -1;
    snprintf(host, sizeof host, "%.*s", (int)(colon - endpoint - 6), endpoint + 6);
    char port[16];
    snprintf(port, sizeof port, "%ld", strtol(colon + 1, NULL, 10) + port_off);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, port, &hints, &ai))
        return -1;
    int fd = socket(ai->ai_family, ai->ai_socktype, 0), rc = -1;
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        rc = send(fd, data, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
        uint8_t junk[512];
        (void)!recv(fd, junk, sizeof junk, 0); /* let the peer read before we close */
    }
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return rc;
}

/* Garbage straight onto the three TCP ports: the hub's libzmq must cope. */
static int raw_garbage(const char *endpoint)
{
    uint8_t rnd[2048];
    randombytes_buf(rnd, sizeof rnd);
    /* A ZMTP 3.0 greeting for CURVE, then a HELLO command of nonsense. */
    uint8_t zmtp[64 + 200] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'C', 'U', 'R', 'V', 'E'};
    zmtp[64] = 0x04;
    zmtp[65] = 198;
    memcpy(zmtp + 66, "\x05HELLO", 6);
    randombytes_buf(zmtp + 72, sizeof zmtp - 72);
    int sent = 0;
    for (int p = 0; p < 3; p++) {
        sent += raw_tcp(endpoint, p, rnd, sizeof rnd) == 0;
        sent += raw_tcp(endpoint, p, zmtp, sizeof zmtp) == 0;
    }
    say("raw tcp garbage: %d of 6 connections written", sent);
    return sent ? 0 : -1;
}

/* ---- modes ---- */

typedef struct opts {
    const char *mode, *endpoint, *server_key, *dir, *victim_dir, *as;
    int phase, n_vv, count;
    uint64_t seq;
    int timeout_s;
} opts_t;

static const char *verdict_name(int r)
{
    return r == MSG_T_ERROR ? "refused" : r == MSG_T_ACK ? "acked" : "no answer";
}

/* no-curve and unknown-key: HELLO and BATCH over a link the hub must not
 * admit at all; the monitor says how the handshake ended. */
static int mode_unadmitted(hx_t *h, const char *as, store_t *victim)
{
    open_sockets(h);
    uint8_t vh[PROTO_HASH_LEN];
    uint64_t vs = store_head(victim, as, vh);
    buf_t ev = BUF_INIT;
    int rc = gen_event(as, vs + 1, vh, 0, &ev);
    randombytes_buf(&h->session, sizeof h->session);
    if (!rc)
        rc = send_hello(h, as, h->session);
    evref_t e = ref(&ev);
    if (!rc)
        rc = send_batch(h, 1, &e, 1);
    say("hello as %s and a batch of %s#%llu sent", as, as, (unsigned long long)vs + 1);
    msg_t m;
    int r = ctl_wait(h, MSG_T_WELCOME, left(h, 1200), &m);
    say("reply: %s", r ? "SOME" : "none");
    mon_drain(h->mon_ctl, "ctl");
    mon_drain(h->mon_up, "up");
    buf_free(&ev);
    return rc ? 1 : 0;
}

static void parent_of(const char *origin, char *out, size_t n)
{
    snprintf(out, n, "%s", origin);
    char *slash = strrchr(out, '/');
    if (slash)
        *slash = '\0';
}

/* A batch with events that are not this key's to send. */
static int mode_foreign(hx_t *h, store_t *victim, const char *vorigin)
{
    open_sockets(h);
    char parent[PROTO_ORIGIN_MAX + 1], sibling[PROTO_ORIGIN_MAX + 2], below[PROTO_ORIGIN_MAX + 8];
    parent_of(h->origin, parent, sizeof parent);
    snprintf(sibling, sizeof sibling, "%sx", h->origin);
    snprintf(below, sizeof below, "%s/sub", vorigin);
    static const uint8_t zero[PROTO_HASH_LEN];
    uint8_t vh[PROTO_HASH_LEN];
    uint64_t vs = store_head(victim, vorigin, vh);
    buf_t ev[5] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
    chain_t own = {0};
    int rc = session(h, h->origin) == 1 && wait_up_ready(h, 3000) ? 0 : -1;
    /* The parent's head comes from the WELCOME (what goes down to us). */
    uint64_t ps = 0;
    const uint8_t *ph = zero;
    for (int i = 0; i < h->nwv; i++)
        if (strcmp(h->wv[i].origin, parent) == 0) {
            ps = h->wv[i].seq;
            ph = h->wv[i].hash;
        }
    if (!rc)
        rc = gen_event(vorigin, vs + 1, vh, 0, &ev[0]) || gen_event(parent, ps + 1, ph, 0, &ev[1]) ||
             gen_event(sibling, 1, zero, 0, &ev[2]) || gen_event(below, 1, zero, 0, &ev[3]) ||
             chain_build(h->store, h->origin, 1, &own);
    struct { const char *name; evref_t e[2]; size_t n; } v[] = {
        {"the victim's next event", {ref(&ev[0])}, 1},
        {"the parent's next event", {ref(&ev[1])}, 1},
        {"an origin our id prefixes", {ref(&ev[2])}, 1},
        {"an origin below the victim", {ref(&ev[3])}, 1},
        {"own event then the victim's", {ref(&own.ev[1]), ref(&ev[0])}, 2},
    };
    for (size_t i = 0; !rc && i < sizeof v / sizeof *v; i++) {
        if (i > 0 && session(h, h->origin) != 1) {
            rc = -1;
            break;
        }
        rc = send_batch(h, 1, v[i].e, v[i].n);
        say("foreign %s: %s", v[i].name, verdict_name(batch_reply(h, 3000)));
    }
    for (int i = 0; i < 5; i++)
        buf_free(&ev[i]);
    chain_free(&own);
    return rc ? 1 : 0;
}

/* HELLOs claiming to be someone else, then data under the forged session. */
static int mode_forged(hx_t *h, store_t *victim, const char *vorigin)
{
    open_sockets(h);
    char parent[PROTO_ORIGIN_MAX + 1], sibling[PROTO_ORIGIN_MAX + 2], below[PROTO_ORIGIN_MAX + 8];
    parent_of(h->origin, parent, sizeof parent);
    snprintf(sibling, sizeof sibling, "%sx", h->origin);
    snprintf(below, sizeof below, "%s/sub", h->origin);
    const char *claims[] = {vorigin, parent, below, sibling, vorigin};
    int rc = 0, welcomed = 0;
    for (size_t i = 0; !rc && i < sizeof claims / sizeof *claims; i++) {
        int r = session(h, claims[i]);
        welcomed += r == 1;
        say("forged hello as %s: %s", claims[i], r == 1 ? "WELCOMED" : r == 0 ? "refused" : "no answer");
    }
    /* Under the last forged session: the victim's next event on the data socket. */
    uint8_t vh[PROTO_HASH_LEN];
    uint64_t vs = store_head(victim, vorigin, vh);
    buf_t ev = BUF_INIT;
    if (wait_up_ready(h, 3000) && gen_event(vorigin, vs + 1, vh, 0, &ev) == 0) {
        evref_t e = ref(&ev);
        rc = send_batch(h, 1, &e, 1);
        say("batch under the forged session: %s", verdict_name(batch_reply(h, 1000)));
    } else {
        rc = -1;
    }
    buf_free(&ev);
    say("forged hellos welcomed: %d", welcomed);
    return rc ? 1 : 0;
}

/* Sends n frames as one multipart message on s. */
static int send_frames(void *s, const buf_t *f, size_t n)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++)
        rc = zsend(s, f[i].data, f[i].len, i + 1 < n ? ZMQ_SNDMORE : 0);
    return rc;
}

/* The canonical bin header for len (< 65536) into out; returns its size. */
static size_t bin_hdr(size_t len, uint8_t out[3])
{
    if (len < 256) {
        out[0] = 0xc4, out[1] = (uint8_t)len;
        return 2;
    }
    out[0] = 0xc5, out[1] = (uint8_t)(len >> 8), out[2] = (uint8_t)len;
    return 3;
}

/* A BATCH header for this session and batch 1 with `count` events, then `tail`. */
static void batch_bytes(hx_t *h, buf_t *out, uint32_t count, const void *tail, size_t tlen)
{
    uint8_t hd[16] = {0x94, 0x07, 0xcf};
    for (int i = 0; i < 8; i++)
        hd[3 + i] = (uint8_t)(h->session >> (56 - 8 * i));
    hd[11] = 0x01;
    buf_reset(out);
    buf_append(out, hd, 12);
    if (count < 16) {
        uint8_t a = (uint8_t)(0x90 | count);
        buf_append(out, &a, 1);
    } else {
        uint8_t a[3] = {0xdc, (uint8_t)(count >> 8), (uint8_t)count};
        buf_append(out, a, 3);
    }
    buf_append(out, tail, tlen);
}

/* Garbage on the control socket inside a live session, then garbage on
 * the data socket (each bad batch ends the session: a new one per item). */
static int mode_malformed(hx_t *h, const char *endpoint)
{
    open_sockets(h);
    if (session(h, h->origin) != 1 || !wait_up_ready(h, 3000))
        return 1;
    chain_t own = {0};
    if (chain_build(h->store, h->origin, 1, &own))
        return 1;
    buf_t f[20], hello = BUF_INIT, tmp = BUF_INIT;
    for (int i = 0; i < 20; i++) {
        buf_init(&f[i]);
        buf_append(&f[i], "\x91\x05", 2);
    }
    msg_vv_builder_t vv = {BUF_INIT, 0};
    msg_encode_hello(&hello, h->origin, h->epoch, h->session, 0, &vv);
    uint8_t rnd[300];
    randombytes_buf(rnd, sizeof rnd);
    uint8_t v2[] = {0x97, 0x01, 0x02, 0xa1, 'a', 0xa0, 0x00, 0x00, 0x90};
    int sent = 0;
    /* control */
    sent += zsend(h->ctl, rnd, sizeof rnd, 0) == 0;
    sent += zsend(h->ctl, hello.data, hello.len - 3, 0) == 0;       /* truncated msgpack */
    sent += zsend(h->ctl, "", 0, 0) == 0;                           /* empty frame */
    sent += send_frames(h->ctl, f, 20) == 0;                        /* 20 frames */
    sent += send_frames(h->ctl, f, 2) == 0;                         /* 2 frames */
    sent += zsend(h->ctl, "\x91\x09", 2, 0) == 0;                   /* unknown type */
    sent += zsend(h->ctl, "\xc0", 1, 0) == 0;                       /* not an array */
    sent += zsend(h->ctl, "\x94\x07\x01\x01\x90", 5, 0) == 0;       /* BATCH on control */
    sent += zsend(h->ctl, v2, sizeof v2, 0) == 0;                   /* version 2 HELLO */
    msg_encode_ping(&tmp, h->session, UINT64_C(1) << 62, UINT64_C(1) << 62);
    sent += zsend(h->ctl, tmp.data, tmp.len, 0) == 0;               /* absurd PING */
    buf_reset(&tmp);
    msg_encode_nack(&tmp, h->session, 1000000);
    sent += zsend(h->ctl, tmp.data, tmp.len, 0) == 0;               /* NACK never sent */
    buf_reset(&tmp);
    msg_encode_ack(&tmp, h->session ^ 1, 1, &vv);
    sent += zsend(h->ctl, tmp.data, tmp.len, 0) == 0;               /* ACK other session */
    say("control garbage: %d of 12 messages sent", sent);
    msg_t m;
    /* The version-2 HELLO is answered with ERROR 1 (our session goes on);
     * then the hub must still ping us. */
    int r = ctl_wait(h, MSG_T_ERROR, 3000, &m);
    h->welcomed = true;
    r = ctl_wait(h, MSG_T_PING, 3000, &m);
    say("session after control garbage: %s", r == MSG_T_PING ? "alive (hub pings)" : "silent");
    /* data */
    const uint8_t *e1 = own.ev[1].data;
    size_t l1 = own.ev[1].len;
    buf_t ev = BUF_INIT;
    struct { const char *name; int kind; } d[] = {
        {"random bytes", 0}, {"truncated BATCH", 1}, {"non-bin in the events array", 2},
        {"truncated event", 3}, {"event with a trailing byte", 4}, {"empty frame", 5},
        {"20 frames", 6}, {"PING on the data socket", 7}, {"batch 5 first (gap)", 8},
    };
    for (size_t i = 0; i < sizeof d / sizeof *d; i++) {
        if (session(h, h->origin) != 1)
            break;
        buf_reset(&ev);
        buf_reset(&tmp);
        uint8_t bh[3];
        switch (d[i].kind) {
        case 0: buf_append(&ev, rnd, sizeof rnd); break;
        case 1: /* a whole batch of one event, less its last 10 bytes */
            batch_bytes(h, &ev, 1, bh, bin_hdr(l1, bh));
            buf_append(&ev, e1, l1);
            ev.len -= 10;
            break;
        case 2: batch_bytes(h, &ev, 1, "\xa3" "abc", 4); break;
        case 3: /* a bin that holds all but the last byte of an event */
            batch_bytes(h, &ev, 1, bh, bin_hdr(l1 - 1, bh));
            buf_append(&ev, e1, l1 - 1);
            break;
        case 4:
            batch_bytes(h, &ev, 1, bh, bin_hdr(l1 + 1, bh));
            buf_append(&ev, e1, l1);
            buf_append(&ev, "\xc0", 1);
            break;
        case 7: msg_encode_ping(&ev, h->session, 0, 0); break;
        case 8: {
            msg_batch_builder_t b;
            size_t off;
            msg_batch_begin(&b, &tmp, h->session, 5);
            msg_batch_add(&b, e1, l1);
            msg_batch_finish(&b, &off);
            buf_append(&ev, tmp.data + off, tmp.len - off);
            buf_reset(&tmp);
            break;
        }
        default: break;
        }
        int ok = d[i].kind == 6 ? send_frames(h->up, f, 20) : zsend(h->up, ev.data, ev.len, 0);
        sent += ok == 0;
        if (d[i].kind == 8) {
            r = ctl_wait(h, MSG_T_NACK, 3000, &m);
            say("data %s: %s", d[i].name, r == MSG_T_NACK ? "nacked" : verdict_name(r));
        } else {
            int wait = d[i].kind == 6 ? 500 : 3000; /* 20 frames: dropped unanswered */
            say("data %s: %s", d[i].name, verdict_name(batch_reply(h, wait)));
        }
    }
    int rc = raw_garbage(endpoint);
    for (int i = 0; i < 20; i++)
        buf_free(&f[i]);
    buf_free(&hello);
    buf_free(&tmp);
    buf_free(&ev);
    chain_free(&own);
    return sent && !rc ? 0 : 1;
}

/* Waits up to ms for monitor event `ev` on mon. */
static bool mon_wait(hx_t *h, void *mon, const char *name, unsigned ev, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    for (;;) {
        if (mon_drain(mon, name) & ev)
            return true;
        int t = left(h, end > now_ms() ? (int)(end - now_ms()) : 0);
        zmq_pollitem_t it = {mon, 0, ZMQ_POLLIN, 0};
        if (t <= 0 || zmq_poll(&it, 1, t) <= 0)
            return false;
    }
}

/* A HELLO with n distinct vv entries, sorted or reverse-sorted: how long
 * until the WELCOME (UINT64_MAX: none)? */
static uint64_t vv_flood(hx_t *h, int n, bool desc)
{
    static const char dig[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    uint8_t hash[PROTO_HASH_LEN] = {0};
    msg_vv_builder_t vv = {BUF_INIT, 0};
    buf_t b = BUF_INIT;
    msg_t m;
    for (int j = 0; j < n; j++) {
        int i = desc ? n - 1 - j : j;
        char o[8] = {'v', dig[i / 46656 % 36], dig[i / 1296 % 36], dig[i / 36 % 36], dig[i % 36]};
        msg_vv_add(&vv, o, 1, hash);
    }
    randombytes_buf(&h->session, sizeof h->session);
    msg_encode_hello(&b, h->origin, h->epoch, h->session, 0, &vv);
    uint64_t t0 = now_ms();
    if (zsend(h->ctl, b.data, b.len, 0)) {
        msg_vv_free(&vv);
        buf_free(&b);
        return UINT64_MAX;
    }
    int r = ctl_wait(h, MSG_T_WELCOME, 60000, &m);
    uint64_t ms = now_ms() - t0;
    say("hello with %d vv entries (%zu bytes, %s): %s after %llu ms", n, b.len,
        desc ? "descending" : "ascending", r == MSG_T_WELCOME ? "welcome" : verdict_name(r),
        (unsigned long long)ms);
    h->welcomed = r == MSG_T_WELCOME;
    h->last_ping_ms = now_ms();
    msg_vv_free(&vv);
    buf_free(&b);
    return r == MSG_T_WELCOME || r == 0 ? ms : UINT64_MAX; /* no answer: at least ms */
}

/* Counts and sizes over the limits, small and real. */
static int mode_oversized(hx_t *h, int n_vv)
{
    open_sockets(h);
    if (session(h, h->origin) != 1 || !wait_up_ready(h, 3000))
        return 1;
    buf_t b = BUF_INIT;
    msg_vv_builder_t vv = {BUF_INIT, 0};
    int sent = 0;
    /* A HELLO whose vv claims 2^32-1 entries, and an ACK claiming 65535, in a few bytes. */
    msg_encode_hello(&b, h->origin, h->epoch, h->session, 0, &vv);
    b.len--;
    buf_append(&b, "\xdd\xff\xff\xff\xff", 5);
    sent += zsend(h->ctl, b.data, b.len, 0) == 0;
    buf_reset(&b);
    msg_encode_ack(&b, h->session, 1, &vv);
    b.len--;
    buf_append(&b, "\xdc\xff\xff", 3);
    sent += zsend(h->ctl, b.data, b.len, 0) == 0;
    say("vv count claims sent");
    /* A BATCH of MSG_BATCH_EVENTS + 1 tiny events; one event of PROTO_EVENT_MAX + 1 bytes. */
    batch_bytes(h, &b, MSG_BATCH_EVENTS + 1, NULL, 0);
    for (int i = 0; i <= MSG_BATCH_EVENTS; i++)
        buf_append(&b, "\xc4\x01\x00", 3);
    sent += zsend(h->up, b.data, b.len, 0) == 0;
    say("batch of %d events: %s", MSG_BATCH_EVENTS + 1, verdict_name(batch_reply(h, 3000)));
    if (session(h, h->origin) == 1) {
        uint32_t n = PROTO_EVENT_MAX + 1;
        uint8_t hd[5] = {0xc6, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
        batch_bytes(h, &b, 1, hd, 5);
        buf_reserve(&b, n);
        memset(b.data + b.len, 0x01, n);
        b.len += n;
        sent += zsend(h->up, b.data, b.len, 0) == 0;
        say("event of %u bytes: %s", n, verdict_name(batch_reply(h, 3000)));
    }
    /* Real HELLOs with n vv entries, in ascending and in descending order:
     * a hub that handles them in O(n log n) answers both alike. */
    uint64_t asc = vv_flood(h, n_vv, false), desc = vv_flood(h, n_vv, true);
    sent += asc != UINT64_MAX && desc != UINT64_MAX ? 1 : 0;
    say("vv flood of %d entries: ascending %llu ms, descending %llu ms", n_vv,
        (unsigned long long)asc, (unsigned long long)desc);
    /* Frames over MSG_MAX_BYTES: ZMQ_MAXMSGSIZE must cut each connection. */
    mon_drain(h->mon_ctl, "ctl");
    mon_drain(h->mon_up, "up");
    buf_reset(&b);
    buf_reserve(&b, MSG_MAX_BYTES + 1);
    memset(b.data, 0x90, MSG_MAX_BYTES + 1);
    b.len = MSG_MAX_BYTES + 1;
    sent += zsend(h->up, b.data, b.len, 0) == 0;
    say("data frame of %zu bytes: connection %s", b.len,
        mon_wait(h, h->mon_up, "up", ZMQ_EVENT_DISCONNECTED, 2000) ? "cut" : "NOT cut");
    h->welcomed = false;
    sent += zsend(h->ctl, b.data, b.len, 0) == 0;
    say("control frame of %zu bytes: connection %s", b.len,
        mon_wait(h, h->mon_ctl, "ctl", ZMQ_EVENT_DISCONNECTED, 2000) ? "cut" : "NOT cut");
    msg_vv_free(&vv);
    buf_free(&b);
    return sent == 7 ? 0 : 1;
}

/* seq-gap phase 1: own events 1..3 and 7..9; phase 2: 4..6. */
static int mode_seq_gap(hx_t *h, int phase)
{
    open_sockets(h);
    chain_t c = {0};
    int rc = chain_build(h->store, h->origin, 9, &c);
    if (!rc && (session(h, h->origin) != 1 || !wait_up_ready(h, 3000)))
        rc = -1;
    if (!rc) {
        evref_t e[6];
        size_t n = 0;
        static const int p1[] = {1, 2, 3, 7, 8, 9}, p2[] = {4, 5, 6};
        const int *s = phase == 2 ? p2 : p1;
        for (size_t i = 0; i < (phase == 2 ? 3u : 6u); i++)
            e[n++] = ref(&c.ev[s[i]]);
        rc = send_batch(h, 1, e, n);
        say("seq-gap phase %d: %s", phase, verdict_name(batch_reply(h, 5000)));
    }
    chain_free(&c);
    return rc ? 1 : 0;
}

/* Own event `seq` again with another body (an equivocation), then the
 * genuine one again (a duplicate). */
static int mode_replay(hx_t *h, uint64_t seq)
{
    open_sockets(h);
    chain_t c = {0};
    buf_t other = BUF_INIT;
    int rc = seq < 1 ? -1 : chain_build(h->store, h->origin, seq, &c);
    static const uint8_t zero[PROTO_HASH_LEN];
    if (!rc)
        rc = gen_event(h->origin, seq, seq == 1 ? zero : c.hash[seq - 1], 1, &other);
    if (!rc && (session(h, h->origin) != 1 || !wait_up_ready(h, 3000)))
        rc = -1;
    if (!rc) {
        uint8_t hh[PROTO_HASH_LEN];
        char hex[2 * PROTO_HASH_LEN + 1];
        proto_hash(other.data, other.len, hh);
        proto_hash_hex(hh, hex);
        evref_t e = ref(&other);
        rc = send_batch(h, 1, &e, 1);
        say("other version of %s#%llu (hash %s): %s", h->origin, (unsigned long long)seq, hex,
            verdict_name(batch_reply(h, 5000)));
        e = ref(&c.ev[seq]);
        if (!rc)
            rc = send_batch(h, 2, &e, 1);
        say("genuine %s#%llu again: %s", h->origin, (unsigned long long)seq,
            verdict_name(batch_reply(h, 5000)));
    }
    chain_free(&c);
    buf_free(&other);
    return rc ? 1 : 0;
}

/* Subscribes to another child's topic on the hub's XPUB with our own key
 * and counts what arrives in `secs` seconds. */
static int mode_eavesdrop(hx_t *h, const char *topic, int secs)
{
    snprintf(h->origin, sizeof h->origin, "%s", topic); /* open_socket subscribes to it */
    h->down = open_socket(h, ZMQ_SUB, 2, &h->mon_up, "down");
    /* The subscription goes out right after the handshake: then the script
     * makes the hub send something down. */
    if (!mon_wait(h, h->mon_up, "down", ZMQ_EVENT_HANDSHAKE_SUCCEEDED, 5000))
        return die("no connection to the hub's data-down socket");
    usleep(200 * 1000);
    say("subscribed to %s: ready", topic);
    int n = 0;
    uint64_t end = now_ms() + (uint64_t)secs * 1000;
    for (;;) {
        int t = left(h, end > now_ms() ? (int)(end - now_ms()) : 0);
        zmq_pollitem_t it = {h->down, 0, ZMQ_POLLIN, 0};
        if (t <= 0)
            break;
        if (zmq_poll(&it, 1, t) <= 0)
            continue;
        zmq_msg_t f;
        zmq_msg_init(&f);
        while (zmq_msg_recv(&f, h->down, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&f))
            ;
        zmq_msg_close(&f);
        n++;
    }
    say("eavesdrop: %d messages meant for %s", n, topic);
    return 0;
}

/* Mints `count` origins below our own, one event each, named as long as an
 * origin may be: each is legal for this key (its subtree), and each is a
 * version-vector entry of about 200 bytes in every HELLO and WELCOME that
 * lists the heads of this subtree, up the whole tree. */
static int mode_origin_flood(hx_t *h, int count)
{
    static const uint8_t zero[PROTO_HASH_LEN];
    char base[PROTO_ORIGIN_MAX + 1], o[PROTO_ORIGIN_MAX + 16];
    int len = snprintf(base, sizeof base, "%s", h->origin), depth = 1;
    for (const char *p = base; *p; p++)
        depth += *p == '/';
    while (depth < PROTO_ORIGIN_DEPTH - 1 && len + 1 + 1 < PROTO_ORIGIN_MAX - 7) {
        int seg = PROTO_ORIGIN_MAX - 7 - len - 1;
        seg = seg > PROTO_SEGMENT_MAX ? PROTO_SEGMENT_MAX : seg;
        base[len++] = '/';
        memset(base + len, 'f', (size_t)seg);
        len += seg;
        base[len] = '\0';
        depth++;
    }
    open_sockets(h);
    if (session(h, h->origin) != 1 || !wait_up_ready(h, 3000))
        return 1;
    buf_t out = BUF_INIT, ev = BUF_INIT;
    msg_batch_builder_t b;
    uint64_t batch = 1, sent = 0;
    int rc = 0, tries = 0, done = 0;
    /* One batch at a time, each ACKed before the next (so that each ACK
     * lists one batch's heads); a lost session is resumed like a child would. */
    while (!rc && done < count) {
        int j = done;
        size_t off;
        rc = msg_batch_begin(&b, &out, h->session, batch);
        for (; !rc && j < count; j++) {
            snprintf(o, sizeof o, "%s/o%05d", base, j);
            if (b.count == FLOOD_BATCH)
                break;
            if (!(rc = gen_event(o, 1, zero, 0, &ev)) &&
                (rc = msg_batch_add(&b, ev.data, ev.len)) == LD_ETOOBIG) {
                rc = 0;
                break;
            }
        }
        msg_batch_finish(&b, &off);
        if (!rc)
            rc = zsend(h->up, out.data + off, out.len - off, 0);
        buf_reset(&out);
        sent++;
        msg_t m;
        int r = rc ? 0 : ctl_wait(h, MSG_T_ACK, 5000, &m);
        while (r == MSG_T_ACK && m.batch < batch)
            r = ctl_wait(h, MSG_T_ACK, 5000, &m);
        if (r == MSG_T_ACK) {
            done = j;
            batch++;
        } else if (!rc && ++tries <= 10 && session(h, h->origin) == 1) {
            say("batch %llu unanswered: new session", (unsigned long long)batch);
            batch = 1;
        } else {
            rc = -1;
        }
    }
    say("minted %d origins like %s in %llu batches sent", done, o, (unsigned long long)sent);
    say("origin flood: %s", rc ? "FAILED" : "all acked");
    buf_free(&out);
    buf_free(&ev);
    return rc ? 1 : 0;
}

/* ---- main ---- */

static int usage(void)
{
    fprintf(stderr,
        "usage: liandong-hostile MODE --endpoint tcp://HOST:PORT --server-key KEY\n"
        "         [--dir CHILD_DIR] [--victim-dir DIR] [--as ORIGIN] [--phase 1|2]\n"
        "         [--seq N] [--timeout SECONDS]\n"
        "       liandong-hostile ctl --dir DATA_DIR [CMD]\n\n"
        "modes: no-curve, unknown-key (HELLO and BATCH as --as or the victim),\n"
        "  foreign-origin, forged-hello (need --victim-dir), malformed,\n"
        "  seq-gap (--phase 1: seq 1-3 and 7-9; 2: seq 4-6), replay-different (--seq N),\n"
        "  oversized [--vv N: entries of the HELLO flood], origin-flood [--count N],\n"
        "  eavesdrop --as OTHER_CHILD [--count SECONDS] (--dir: whose key).\n"
        "Exit 0: the bad thing was sent; the hub's reaction is printed, not judged.\n");
    return 2;
}

static int ctl_mode(const char *dir, const char *cmd)
{
    json_t *req = json_pack("{s:s}", "cmd", cmd), *rep = NULL;
    int rc = ctl_call(dir, req, 3000, &rep);
    json_decref(req);
    if (rc)
        return die(err_msg());
    char *s = json_dumps(rep, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(rep);
    return 0;
}

/* Opens DIR/store read-only: its origin (*origin) and epoch (h->epoch if h). */
static store_t *open_child(const char *dir, hx_t *h)
{
    char path[4096];
    store_t *s = NULL;
    snprintf(path, sizeof path, "%s/store", dir);
    if (store_open(path, STORE_RDONLY, NULL, &s)) {
        fprintf(stderr, "liandong-hostile: %s: %s\n", path, err_msg());
        exit(1);
    }
    store_txn_t *t;
    const void *v;
    size_t len;
    if (h && store_read_begin(s, &t) == 0) {
        if (store_meta_get(t, "epoch", &v, &len) == 0 && len <= MSG_EPOCH_MAX)
            snprintf(h->epoch, sizeof h->epoch, "%.*s", (int)len, (const char *)v);
        store_read_end(&t);
    }
    return s;
}

static int run(hx_t *h, const opts_t *o)
{
    store_t *victim = o->victim_dir ? open_child(o->victim_dir, NULL) : NULL;
    const char *vorigin = victim ? store_origin(victim) : o->as ? o->as : h->origin;
    const char *m = o->mode;
    int rc;
    if (strcmp(m, "no-curve") == 0 || strcmp(m, "unknown-key") == 0) {
        h->curve = strcmp(m, "unknown-key") == 0;
        char pub[KEYS_Z85_LEN + 1], sec[KEYS_Z85_LEN + 1];
        if (h->curve && zmq_curve_keypair(pub, sec))
            return die("zmq_curve_keypair failed");
        memcpy(h->keys.public, pub, sizeof pub);
        memcpy(h->keys.secret, sec, sizeof sec);
        rc = mode_unadmitted(h, o->as ? o->as : vorigin, victim);
    } else if (strcmp(m, "eavesdrop") == 0 && o->as) {
        rc = mode_eavesdrop(h, o->as, o->count ? o->count : 3);
    } else if (!h->store) {
        rc = die("this mode needs --dir CHILD_DIR");
    } else if (strcmp(m, "foreign-origin") == 0 && victim) {
        rc = mode_foreign(h, victim, vorigin);
    } else if (strcmp(m, "forged-hello") == 0 && victim) {
        rc = mode_forged(h, victim, vorigin);
    } else if (strcmp(m, "malformed") == 0) {
        rc = mode_malformed(h, o->endpoint);
    } else if (strcmp(m, "oversized") == 0) {
        rc = mode_oversized(h, o->n_vv);
    } else if (strcmp(m, "seq-gap") == 0) {
        rc = mode_seq_gap(h, o->phase);
    } else if (strcmp(m, "origin-flood") == 0) {
        rc = mode_origin_flood(h, o->count ? o->count : 1000);
    } else if (strcmp(m, "replay-different") == 0) {
        rc = mode_replay(h, o->seq);
    } else {
        rc = usage();
    }
    store_close(&victim);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"endpoint", 1, 0, 'e'}, {"server-key", 1, 0, 'k'}, {"dir", 1, 0, 'd'},
        {"victim-dir", 1, 0, 'v'}, {"as", 1, 0, 'a'}, {"phase", 1, 0, 'p'},
        {"seq", 1, 0, 's'}, {"timeout", 1, 0, 't'}, {"vv", 1, 0, 'V'}, {"count", 1, 0, 'c'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    opts_t o = {.phase = 1, .seq = 5, .timeout_s = 10, .n_vv = MSG_VV_MAX};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'e': o.endpoint = optarg; break;
        case 'k': o.server_key = optarg; break;
        case 'd': o.dir = optarg; break;
        case 'v': o.victim_dir = optarg; break;
        case 'a': o.as = optarg; break;
        case 'p': o.phase = atoi(optarg); break;
        case 's': o.seq = strtoull(optarg, NULL, 10); break;
        case 't': o.timeout_s = atoi(optarg); break;
        case 'V': o.n_vv = atoi(optarg); break;
        case 'c': o.count = atoi(optarg); break;
        default: return usage();
        }
    }
    if (optind >= argc)
        return usage();
    o.mode = argv[optind];
    if (strcmp(o.mode, "ctl") == 0)
        return o.dir ? ctl_mode(o.dir, optind + 1 < argc ? argv[optind + 1] : "status") : usage();
    if (!o.endpoint || !o.server_key || sodium_init() < 0)
        return usage();
    hx_t h = {.curve = true, .deadline_ms = now_ms() + (uint64_t)o.timeout_s * 1000};
    if (link_endpoints(o.endpoint, h.ep))
        return die(err_msg());
    snprintf(h.server_key, sizeof h.server_key, "%s", o.server_key);
    snprintf(h.origin, sizeof h.origin, "%s", o.as ? o.as : "hrb/hostile");
    if (o.dir) {
        if (keys_load(o.dir, &h.keys))
            return die(err_msg());
        h.store = open_child(o.dir, &h);
        snprintf(h.origin, sizeof h.origin, "%s", store_origin(h.store));
    }
    h.z = zmq_ctx_new();
    int rc = run(&h, &o);
    close_sockets(&h);
    zmq_ctx_term(h.z);
    store_close(&h.store);
    keys_wipe(&h.keys);
    buf_free(&h.rx);
    return rc;
}
