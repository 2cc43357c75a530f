/*
 * modes.c -- liandong-hostile's modes about who may send what: links the
 * hub must not admit, events that are not this key's to send, HELLOs
 * claiming another origin, gaps, a second version of an event, and
 * listening in on another child's data.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include <sodium.h>

#include "hostile.h"

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

const char *verdict_name(int r)
{
    return r == MSG_T_ERROR ? "refused" : r == MSG_T_ACK ? "acked" : "no answer";
}

/* no-curve and unknown-key: HELLO and BATCH over a link the hub must not
 * admit at all; the monitor says how the handshake ended. */
int mode_unadmitted(hx_t *h, const char *as, store_t *victim)
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
int mode_foreign(hx_t *h, store_t *victim, const char *vorigin)
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
int mode_forged(hx_t *h, store_t *victim, const char *vorigin)
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

/* seq-gap phase 1: own events 1..3 and 7..9; phase 2: 4..6. */
int mode_seq_gap(hx_t *h, int phase)
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
int mode_replay(hx_t *h, uint64_t seq)
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
int mode_eavesdrop(hx_t *h, const char *topic, int secs)
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
