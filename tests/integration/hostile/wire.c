/*
 * wire.c -- liandong-hostile's link to the hub: small helpers, the three
 * sockets and their monitors, control messages (HELLO, WELCOME, ACK, NACK,
 * ERROR, PING) and BATCHes on the data socket.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include <sodium.h>

#include "common/err.h"
#include "hostile.h"

/* ---- small helpers ---- */

uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("hostile: ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

int die(const char *what)
{
    fprintf(stderr, "liandong-hostile: %s\n", what);
    return 1;
}

/* Milliseconds left of the overall bound, at most cap. */
int left(const hx_t *h, int cap)
{
    uint64_t now = now_ms();
    if (now >= h->deadline_ms)
        return 0;
    uint64_t l = h->deadline_ms - now;
    return l < (uint64_t)cap ? (int)l : cap;
}

int zsend(void *s, const void *data, size_t len, int flags)
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
unsigned mon_drain(void *mon, const char *sock)
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

void *open_socket(hx_t *h, int type, int i, void **mon, const char *name)
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

void open_sockets(hx_t *h)
{
    h->ctl = open_socket(h, ZMQ_DEALER, 0, &h->mon_ctl, "ctl");
    h->up = open_socket(h, ZMQ_XPUB, 1, &h->mon_up, "up");
    h->down = open_socket(h, ZMQ_SUB, 2, NULL, "down");
}

void close_sockets(hx_t *h)
{
    void **s[] = {&h->ctl, &h->up, &h->down, &h->mon_ctl, &h->mon_up};
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
        if (*s[i]) {
            zmq_close(*s[i]);
            *s[i] = NULL;
        }
}

/* Waits up to ms for monitor event `ev` on mon. */
bool mon_wait(hx_t *h, void *mon, const char *name, unsigned ev, int ms)
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

/* The data path is up when the hub's SUB has subscribed on our XPUB. */
bool wait_up_ready(hx_t *h, int ms)
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
int ctl_wait(hx_t *h, int want, int ms, msg_t *m)
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

int send_hello(hx_t *h, const char *as, uint64_t session)
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
int session(hx_t *h, const char *as)
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
int batch_reply(hx_t *h, int ms)
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

/* ---- batches ---- */

int send_batch(hx_t *h, uint64_t batch, const evref_t *ev, size_t n)
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
