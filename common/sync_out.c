/*
 * sync_out.c -- the sending half of sync (sync.h): which events in scope
 * the peer lacks, cut into numbered BATCH messages under a credit window,
 * and what to resend when batches or acknowledgements go missing.
 *
 * State per session:
 *   acked       the peer's heads as it reported them: its version vector
 *               at session start (filtered to scope), raised by every ACK.
 *               Only ever raised; this is the truth everything resumes from.
 *   sent        the send cursor per origin: the highest seq put into a
 *               batch that went out. Never below acked (raised lazily).
 *   ring        the in-flight batches, numbers acked_batch+1 .. next-1 in
 *               order (at most `window`), each with its send time and its
 *               "runs": for each origin it carried, the last seq.
 *
 * A pump walks the heads of every scope item in one read transaction,
 * counts what the peer lacks (pending), and for each origin whose head is
 * beyond its cursor streams the events with one cursor (store_events_
 * foreach) straight into the batch buffer: no allocation and no lookup per
 * event. A batch ends at batch_events events or MSG_BATCH_BYTES; it goes
 * out through the callback and only then advances the cursors, so a send
 * that fails leaves nothing to undo.
 *
 * Batch numbers, and why they stay consistent after a rewind. The receiver
 * takes exactly batch `expected` and answers: the next one -> apply and
 * ACK; a lower one (OLD) -> re-send its last ACK; a higher one (GAP) ->
 * NACK(expected). Three rules here:
 *
 *  1. A rewind (NACK, timeout) empties the ring, lowers every cursor to
 *     acked, and continues numbering at R: for a NACK(X), R = X (the
 *     receiver said so); for a timeout, R = acked_batch + 1 (the receiver
 *     expects at least that). Batches numbered below R count as settled.
 *  2. If the receiver is in fact further on (it applied batches whose ACKs
 *     were lost), our new batches below its `expected` come back as OLD:
 *     it re-sends its last ACK, for a batch b >= R that we may not even
 *     have re-sent yet. Any ACK for b <= max_sent (the highest number sent
 *     in this session) is therefore taken as "the receiver expects b+1":
 *     slots <= b are released and, if b >= next, numbering jumps to b+1.
 *     Its contents are never trusted by number: only the heads in the ACK
 *     count.
 *  3. Because numbers are reused, a batch may be dropped as OLD although
 *     its contents were never applied. So when an ACK releases a slot, each
 *     origin whose acknowledged head is below what that slot carried has
 *     its cursor lowered to the head and is sent again; and when the ring
 *     becomes empty, every cursor is lowered to acked. Nothing can then
 *     stay unsent with nothing in flight: with the ring empty, sent ==
 *     acked for every origin, and the next pump sends whatever is missing.
 *     Except when the ACK raised no head at all: then the receiver took
 *     what it got and still does not hold it (it kept a conflicting version
 *     aside: a fork), and sending it again at once would ping-pong batches
 *     as fast as the receiver commits. The lowering then waits for the
 *     timeout (sync_out_tick), so such events go again once per timeout.
 *
 * After a rewind to R, every batch of the old stream still in the network
 * makes the receiver NACK(R) again; those echoes are ignored (a NACK for
 * the number just rewound to); a genuine loss of the new batch R is caught
 * by the timeout. NACKs at or below acked_batch (stale) or beyond max_sent
 * (never sent) are ignored too. Duplicates cost bandwidth, never
 * correctness: the store takes every event idempotently and reports its
 * real heads, from which everything here resumes.
 */
#include "common/sync.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define STOP 1   /* a store callback's "enough", not an error */

typedef struct run {
    size_t off;       /* the origin's bytes in the slot's names */
    size_t len;
    uint64_t last;    /* highest seq of that origin in the batch */
} run_t;

typedef struct slot {
    uint64_t batch;
    uint64_t sent_ms;
    run_t *runs;
    size_t nruns, cap;
    buf_t names;
} slot_t;

struct sync_out {
    store_t *store;
    sync_scope_t scope;
    unsigned window, batch_events;
    uint64_t timeout_ms;

    bool active, pumped;
    uint64_t session;
    vv_t acked, sent;
    uint64_t next_batch, acked_batch, max_sent, rewound_to;
    uint64_t progress_ms;      /* last ACK progress (or session start) */
    bool stale;                /* cursors above acked, lowering deferred (rule 3) */
    slot_t *ring;
    unsigned head, count;      /* oldest in-flight slot, slots in flight */
    uint64_t pending, events_sent, resends;
    buf_t out;                 /* the batch being built */
};

int sync_out_new(store_t *s, const sync_scope_t *scope, const sync_out_opts_t *opts,
                 sync_out_t **out)
{
    sync_out_t *o = calloc(1, sizeof *o);
    if (!o)
        return err_set(LD_ENOMEM, "sync: out of memory");
    o->store = s;
    o->scope = *scope;
    o->window = opts && opts->window ? opts->window : 16;
    o->batch_events = opts && opts->batch_events ? opts->batch_events : 1024;
    if (o->batch_events > MSG_BATCH_EVENTS)
        o->batch_events = MSG_BATCH_EVENTS;
    o->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : 3000;
    o->ring = calloc(o->window, sizeof *o->ring);
    if (!o->ring) {
        free(o);
        return err_set(LD_ENOMEM, "sync: out of memory");
    }
    *out = o;
    return 0;
}

void sync_out_destroy(sync_out_t **p)
{
    sync_out_t *o = p ? *p : NULL;
    if (!o)
        return;
    for (unsigned i = 0; i < o->window; i++) {
        free(o->ring[i].runs);
        buf_free(&o->ring[i].names);
    }
    free(o->ring);
    vv_free(&o->acked);
    vv_free(&o->sent);
    buf_free(&o->out);
    free(o);
    *p = NULL;
}

int sync_out_start(sync_out_t *o, uint64_t session, const vv_t *peer, uint64_t now_ms)
{
    vv_clear(&o->acked);
    vv_clear(&o->sent);
    o->active = false;
    for (size_t k = 0; peer && k < peer->n; k++) {
        const vv_entry_t *e = &peer->e[k];
        size_t len = strlen(e->origin);
        int rc = sync_scope_has(&o->scope, e->origin, len)
                     ? vv_set(&o->acked, e->origin, len, e->seq) : 0;
        if (rc)
            return rc;
    }
    o->session = session;
    o->active = true;
    o->pumped = false;
    o->next_batch = 1;
    o->acked_batch = o->max_sent = o->rewound_to = 0;
    o->progress_ms = now_ms;
    o->stale = false;
    o->head = o->count = 0;
    o->pending = o->events_sent = o->resends = 0;
    return 0;
}

void sync_out_stop(sync_out_t *o)
{
    o->active = false;
    o->head = o->count = 0;
}

/* ---- cursors ---- */

/* Lowers every send cursor above its acknowledged head to that head. */
static void sent_lower_to_acked(sync_out_t *o)
{
    for (size_t k = 0; k < o->sent.n; k++) {
        vv_entry_t *e = &o->sent.e[k];
        uint64_t a = vv_get(&o->acked, e->origin, strlen(e->origin));
        if (e->seq > a)
            e->seq = a;
    }
}

/* Empties the ring and continues at batch r from the acknowledged heads.
 * The clock is left alone: the next timeout counts from the send time of
 * the next batch, so a caller that forces a rewind with a far-future `now`
 * (tick(UINT64_MAX / 2)) does not switch timeouts off. */
static void rewind_to(sync_out_t *o, uint64_t r)
{
    o->stale = false;
    o->head = o->count = 0;
    o->acked_batch = r - 1;
    o->next_batch = r;
    o->rewound_to = r;
    o->resends++;
    sent_lower_to_acked(o);
}

/* ---- pumping ---- */

typedef struct pump {
    sync_out_t *o;
    store_txn_t *t;
    sync_send_fn send;
    void *arg;
    uint64_t now;
    msg_batch_builder_t b;
    slot_t *slot;          /* the slot of the batch being built */
    bool open;             /* a batch is being built */
    bool run_open;         /* the slot's last run is the current origin's */
    bool blocked;          /* window full or a send failed: count only */
    int send_rc;
    const char *origin;    /* the origin being streamed */
    size_t olen;
    uint64_t head;         /* its head */
    uint64_t pending;
} pump_t;

static int open_batch(pump_t *p)
{
    sync_out_t *o = p->o;
    p->slot = &o->ring[(o->head + o->count) % o->window];
    p->slot->nruns = 0;
    buf_reset(&p->slot->names);
    buf_reset(&o->out);
    int rc = msg_batch_begin(&p->b, &o->out, o->session, o->next_batch);
    p->open = rc == 0;
    p->run_open = false;
    return rc;
}

/* Sends the batch being built; only a successful send commits it (slot,
 * number, cursors). A failed send blocks the rest of this pump. */
static int flush(pump_t *p)
{
    sync_out_t *o = p->o;
    size_t off;
    msg_batch_finish(&p->b, &off);
    p->open = p->run_open = false;
    int rc = p->send(o->out.data + off, o->out.len - off, p->arg);
    if (rc) {
        p->blocked = true;
        p->send_rc = rc;
        return 0;
    }
    slot_t *s = p->slot;
    s->batch = o->next_batch++;
    s->sent_ms = p->now;
    o->count++;
    if (s->batch > o->max_sent)
        o->max_sent = s->batch;
    o->events_sent += p->b.count;
    for (size_t k = 0; k < s->nruns; k++) {
        const run_t *r = &s->runs[k];
        if ((rc = vv_set(&o->sent, (const char *)s->names.data + r->off, r->len, r->last)))
            return rc;
    }
    if (o->count == o->window)
        p->blocked = true;
    return 0;
}

/* Notes that the batch being built carries event `seq` of p->origin. */
static int note_run(pump_t *p, uint64_t seq)
{
    slot_t *s = p->slot;
    if (p->run_open) {
        s->runs[s->nruns - 1].last = seq;
        return 0;
    }
    if (s->nruns == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        run_t *r = realloc(s->runs, cap * sizeof *r);
        if (!r)
            return err_set(LD_ENOMEM, "sync: out of memory");
        s->runs = r;
        s->cap = cap;
    }
    int rc = buf_append(&s->names, p->origin, p->olen);
    if (rc)
        return rc;
    s->runs[s->nruns++] = (run_t){s->names.len - p->olen, p->olen, seq};
    p->run_open = true;
    return 0;
}

static int add_event(pump_t *p, uint64_t seq, const uint8_t *raw, size_t len)
{
    for (;;) {
        if (!p->open) {
            if (p->blocked)
                return STOP;
            int rc = open_batch(p);
            if (rc)
                return rc;
        }
        int rc = msg_batch_add(&p->b, raw, len);
        if (rc == LD_ETOOBIG && p->b.count > 0) {
            if ((rc = flush(p)))
                return rc;
            continue;
        }
        if (rc || (rc = note_run(p, seq)))
            return rc;
        if (p->b.count >= p->o->batch_events && (rc = flush(p)))
            return rc;
        return 0;
    }
}

static int event_cb(const char *origin, uint64_t seq, const uint8_t *raw, size_t len,
                    void *arg)
{
    pump_t *p = arg;
    /* The scan also covers origins below this one: they come after it. */
    if (seq > p->head || strncmp(origin, p->origin, p->olen + 1) != 0)
        return STOP;
    return add_event(p, seq, raw, len);
}

static int head_cb(const char *origin, const store_head_t *head, void *arg)
{
    pump_t *p = arg;
    sync_out_t *o = p->o;
    size_t olen = strlen(origin);
    uint64_t acked = vv_get(&o->acked, origin, olen);
    if (head->seq > acked)
        p->pending += head->seq - acked;
    uint64_t sent = vv_get(&o->sent, origin, olen);
    if (sent < acked) {
        int rc = vv_set(&o->sent, origin, olen, acked);
        if (rc)
            return rc;
        sent = acked;
    }
    if (head->seq <= sent || p->blocked)
        return 0;
    p->origin = origin;
    p->olen = olen;
    p->head = head->seq;
    p->run_open = false;
    int rc = store_events_foreach(p->t, origin, sent, event_cb, p);
    return rc == STOP ? 0 : rc;
}

static int pump_scope(pump_t *p)
{
    const sync_scope_t *sc = &p->o->scope;
    int rc = 0;
    for (int k = 0; k < sc->n && !rc; k++) {
        const char *origin = sc->item[k].origin;
        if (sc->item[k].subtree) {
            rc = store_heads_foreach(p->t, origin, head_cb, p);
            continue;
        }
        store_head_t h;
        rc = store_head_get(p->t, origin, &h);
        rc = rc == LD_ENOTFOUND ? 0 : rc ? rc : head_cb(origin, &h, p);
    }
    if (!rc && p->open && p->b.count > 0)
        rc = flush(p);
    return rc;
}

int sync_out_pump(sync_out_t *o, sync_send_fn send, void *arg, uint64_t now_ms)
{
    /* A full window: nothing can go out, and pending is as of the last
     * pump that could send. */
    if (!o->active || o->count >= o->window)
        return 0;
    pump_t p = {.o = o, .send = send, .arg = arg, .now = now_ms};
    int rc = store_read_begin(o->store, &p.t);
    if (rc)
        return rc;
    rc = pump_scope(&p);
    store_read_end(&p.t);
    if (rc)
        return rc;
    o->pending = p.pending;
    o->pumped = true;
    return p.send_rc;
}

/* ---- acknowledgements ---- */

/* Releases the in-flight slots numbered up to b; an origin whose
 * acknowledged head stays below what a released slot carried is sent again
 * from that head (rule 3 above) -- at once if `lower`, else at the timeout. */
static void release(sync_out_t *o, uint64_t b, bool lower)
{
    while (o->count > 0 && o->ring[o->head].batch <= b) {
        const slot_t *s = &o->ring[o->head];
        for (size_t k = 0; k < s->nruns; k++) {
            const run_t *r = &s->runs[k];
            const char *origin = (const char *)s->names.data + r->off;
            uint64_t a = vv_get(&o->acked, origin, r->len);
            if (a < r->last && vv_get(&o->sent, origin, r->len) > a) {
                if (lower)
                    (void)vv_set(&o->sent, origin, r->len, a);  /* entry exists: no alloc */
                else
                    o->stale = true;
            }
        }
        o->head = (o->head + 1) % o->window;
        o->count--;
    }
}

int sync_out_ack(sync_out_t *o, const msg_t *ack, uint64_t now_ms)
{
    if (!o->active || ack->type != MSG_T_ACK || ack->session != o->session ||
        ack->batch == 0 || ack->batch > o->max_sent)
        return 0;
    msg_t m = *ack;
    bool raised = false;
    for (uint32_t k = 0; k < m.vv_count; k++) {
        msg_vv_entry_t e;
        int rc = msg_vv_next(&m, &e);
        if (!rc && sync_scope_has(&o->scope, e.origin.ptr, e.origin.len)) {
            raised |= e.seq > vv_get(&o->acked, e.origin.ptr, e.origin.len);
            rc = vv_raise(&o->acked, e.origin.ptr, e.origin.len, e.seq);
        }
        if (rc)
            return rc;
    }
    if (ack->batch <= o->acked_batch)
        return 0;              /* old news: the heads may still have helped */
    o->progress_ms = now_ms;
    release(o, ack->batch, raised);
    o->acked_batch = ack->batch;
    if (ack->batch >= o->next_batch)
        o->next_batch = ack->batch + 1;   /* rule 2: the receiver is further on */
    if (o->count == 0) {
        if (raised)
            sent_lower_to_acked(o), o->stale = false;
        else
            o->stale = true;
    }
    return 0;
}

int sync_out_nack(sync_out_t *o, const msg_t *nack, uint64_t now_ms)
{
    if (!o->active || nack->type != MSG_T_NACK || nack->session != o->session)
        return 0;
    uint64_t x = nack->batch;
    (void)now_ms;
    if (x <= o->acked_batch || x > o->max_sent || x == o->rewound_to)
        return 0;
    rewind_to(o, x);
    return 0;
}

void sync_out_tick(sync_out_t *o, uint64_t now_ms)
{
    if (o->active && o->count == 0 && o->stale && now_ms > o->progress_ms &&
        now_ms - o->progress_ms > o->timeout_ms) {
        /* rule 3, deferred: what the receiver did not take goes again */
        sent_lower_to_acked(o);
        o->stale = false;
        o->progress_ms = now_ms;
        o->resends++;
    }
    if (!o->active || o->count == 0)
        return;
    uint64_t base = o->ring[o->head].sent_ms;
    if (o->progress_ms > base)
        base = o->progress_ms;
    if (now_ms > base && now_ms - base > o->timeout_ms)
        rewind_to(o, o->acked_batch + 1);
}

/* As a timeout would, but now: the link knows what is in flight was lost. */
void sync_out_rewind(sync_out_t *o, uint64_t now_ms)
{
    (void)now_ms;
    if (o->active && o->count)
        rewind_to(o, o->acked_batch + 1);
}

/* ---- status ---- */

void sync_out_stats(const sync_out_t *o, sync_out_stats_t *out)
{
    *out = (sync_out_stats_t){
        .session = o->session,
        .active = o->active,
        .next_batch = o->next_batch,
        .inflight = o->count,
        .events_sent = o->events_sent,
        .resends = o->resends,
        .pending = o->pending,
    };
}

bool sync_out_done(const sync_out_t *o)
{
    return o->active && o->pumped && o->count == 0 && o->pending == 0 && !o->stale;
}

const vv_t *sync_out_acked(const sync_out_t *o)
{
    return &o->acked;
}
