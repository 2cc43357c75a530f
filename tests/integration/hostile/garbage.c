/*
 * garbage.c -- liandong-hostile's modes about bytes: garbage on the control
 * and data sockets and raw on the TCP ports, counts and sizes over the
 * limits, HELLOs with huge version vectors, and a flood of minted origins.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include <sodium.h>

#include "common/err.h"
#include "hostile.h"

#define FLOOD_BATCH 1024  /* events per batch of the origin flood, as a real child sends */

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

/* ---- malformed ---- */

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
int mode_malformed(hx_t *h, const char *endpoint)
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

/* ---- oversized ---- */

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
int mode_oversized(hx_t *h, int n_vv)
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

/* ---- origin flood ---- */

/* Mints `count` origins below our own, one event each, named as long as an
 * origin may be: each is legal for this key (its subtree), and each is a
 * version-vector entry of about 200 bytes in every HELLO and WELCOME that
 * lists the heads of this subtree, up the whole tree. */
int mode_origin_flood(hx_t *h, int count)
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
