/*
 * sync_in.c -- the receiving half of sync (sync.h): takes BATCH messages
 * strictly in order, judges each as a whole before anything is stored
 * (every event decodes, every origin is one this link may carry), puts the
 * events, and acknowledges with the store's real heads after the commit.
 * A hub judges a batch when it arrives and puts it at its group commit:
 * sync_in_check_keep() keeps the decoded events for sync_in_apply_events(),
 * so that each event is decoded once.
 *
 * The last ACK is kept, so that a resent batch (SYNC_IN_OLD) is answered by
 * sending it again: the sender learns where the receiver really is, even
 * when the ACK that said so first was lost (see sync_out.c on numbering).
 */
#include "common/sync.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct sync_in {
    sync_scope_t allowed;
    bool active;
    uint64_t session;
    uint64_t expected;
    vv_t touched;             /* origins put since sync_in_apply_begin() */
    buf_t last_ack;
    msg_vv_builder_t vvb;     /* reused by every ACK */
};

int sync_in_new(const sync_scope_t *allowed, sync_in_t **out)
{
    sync_in_t *i = calloc(1, sizeof *i);
    if (!i)
        return err_set(LD_ENOMEM, "sync: out of memory");
    i->allowed = *allowed;
    i->expected = 1;
    *out = i;
    return 0;
}

void sync_in_destroy(sync_in_t **p)
{
    sync_in_t *i = p ? *p : NULL;
    if (!i)
        return;
    vv_free(&i->touched);
    buf_free(&i->last_ack);
    msg_vv_free(&i->vvb);
    free(i);
    *p = NULL;
}

void sync_in_start(sync_in_t *i, uint64_t session)
{
    i->active = true;
    i->session = session;
    i->expected = 1;
    vv_clear(&i->touched);
    buf_reset(&i->last_ack);
}

void sync_events_free(sync_events_t *e)
{
    if (!e)
        return;
    free(e->ev);
    free(e->hash);
    free(e->run);
    *e = (sync_events_t)SYNC_EVENTS_INIT;
}

void sync_events_reset(sync_events_t *e)
{
    e->n = e->nrun = 0;
}

/* Room for n decoded events in e. */
static int events_reserve(sync_events_t *e, uint32_t n)
{
    if (n <= e->cap)
        return 0;
    proto_event_t *p = realloc(e->ev, (size_t)n * sizeof *p);
    if (!p)
        return err_set(LD_ENOMEM, "sync: out of memory");
    e->ev = p;
    uint8_t (*h)[PROTO_HASH_LEN] = realloc(e->hash, (size_t)n * sizeof *h);
    if (!h)
        return err_set(LD_ENOMEM, "sync: out of memory");
    e->hash = h;
    uint32_t *r = realloc(e->run, (size_t)n * sizeof *r);
    if (!r)
        return err_set(LD_ENOMEM, "sync: out of memory");
    e->run = r;
    e->cap = n;
    return 0;
}

/* Every event of the batch decodes and may come over this link; with
 * `keep`, the decoded events are left in it. */
static int check_events(const sync_in_t *i, const msg_t *batch, sync_events_t *keep)
{
    msg_t m = *batch;
    mpk_str_t last = {NULL, 0};   /* the origin checked last: runs repeat it */
    int rc = keep ? events_reserve(keep, m.nevents) : 0;
    if (rc)
        return rc;
    uint32_t nrun = 0;
    for (uint32_t k = 0; k < m.nevents; k++) {
        const uint8_t *raw;
        size_t len;
        proto_event_t one, *ev = keep ? &keep->ev[k] : &one;
        rc = msg_batch_next(&m, &raw, &len);
        if (!rc)
            rc = proto_event_decode(raw, len, 0, ev);
        if (rc)
            return err_wrap(rc, "batch %llu, event %u", (unsigned long long)m.batch, k);
        if (keep) {
            /* Hashed here, on the receiving thread, so that a hub's commit
             * thread (its busiest: it is the serial stage) need not. */
            proto_hash(raw, len, keep->hash[k]);
            ev->hash = keep->hash[k];
        }
        if (last.ptr && ev->origin.len == last.len &&
            memcmp(ev->origin.ptr, last.ptr, last.len) == 0)
            continue;
        if (!sync_scope_has(&i->allowed, ev->origin.ptr, ev->origin.len))
            return err_set(LD_EORIGIN, "batch %llu, event %u (%.*s#%llu): origin '%.*s' "
                           "may not be sent over this link", (unsigned long long)m.batch, k,
                           (int)ev->origin.len, ev->origin.ptr, (unsigned long long)ev->seq,
                           (int)ev->origin.len, ev->origin.ptr);
        last = ev->origin;
        if (keep)
            keep->run[nrun++] = k;
    }
    if (keep) {
        keep->n = m.nevents;
        keep->nrun = nrun;
    }
    return 0;
}

static int check(sync_in_t *i, const msg_t *batch, sync_in_verdict_t *verdict,
                 sync_events_t *keep)
{
    if (keep)
        sync_events_reset(keep);
    if (batch->type != MSG_T_BATCH)
        return err_set(LD_EINVAL, "sync: sync_in_check on a message that is not a BATCH");
    if (!i->active || batch->session != i->session) {
        *verdict = SYNC_IN_OTHER;
        return 0;
    }
    if (batch->batch != i->expected) {
        *verdict = batch->batch < i->expected ? SYNC_IN_OLD : SYNC_IN_GAP;
        return 0;
    }
    int rc = check_events(i, batch, keep);
    if (rc) {
        if (keep)
            sync_events_reset(keep);
        return rc;
    }
    *verdict = SYNC_IN_ACCEPT;
    i->expected++;
    return 0;
}

int sync_in_check(sync_in_t *i, const msg_t *batch, sync_in_verdict_t *verdict)
{
    return check(i, batch, verdict, NULL);
}

int sync_in_check_keep(sync_in_t *i, const msg_t *batch, sync_in_verdict_t *verdict,
                       sync_events_t *out)
{
    return check(i, batch, verdict, out);
}

void sync_in_apply_begin(sync_in_t *i)
{
    vv_clear(&i->touched);
}

static void count_put(sync_in_counts_t *c, store_put_result_t res)
{
    c->stored += res == STORE_PUT_STORED;
    c->held += res == STORE_PUT_HELD;
    c->duplicates += res == STORE_PUT_DUPLICATE;
    c->equivocations += res == STORE_PUT_EQUIVOCATION;
    c->dropped += res == STORE_PUT_DROPPED;
}

/* Counts one put and notes its origin as touched (runs repeat the last). */
static int note_put(sync_in_t *i, const proto_event_t *ev, store_put_result_t res,
                    mpk_str_t *last, sync_in_counts_t *c)
{
    if (c)
        count_put(c, res);
    if (last->ptr && ev->origin.len == last->len &&
        memcmp(ev->origin.ptr, last->ptr, last->len) == 0)
        return 0;
    *last = ev->origin;
    return vv_raise(&i->touched, ev->origin.ptr, ev->origin.len, 0);
}

int sync_in_apply(store_txn_t *t, sync_in_t *i, const msg_t *batch, sync_in_counts_t *c)
{
    msg_t m = *batch;
    mpk_str_t last = {NULL, 0};
    for (uint32_t k = 0; k < m.nevents; k++) {
        const uint8_t *raw;
        size_t len;
        proto_event_t ev;
        store_put_result_t res;
        int rc = msg_batch_next(&m, &raw, &len);
        if (!rc)
            rc = proto_event_decode(raw, len, 0, &ev);
        if (!rc)
            rc = store_txn_put_event(t, &ev, &res);
        if (rc)
            return err_wrap(rc, "batch %llu, event %u", (unsigned long long)m.batch, k);
        if ((rc = note_put(i, &ev, res, &last, c)))
            return rc;
    }
    return 0;
}

int sync_in_put_events(store_txn_t *t, const sync_events_t *events, sync_in_counts_t *c)
{
    for (uint32_t k = 0; k < events->n; k++) {
        store_put_result_t res;
        int rc = store_txn_put_event(t, &events->ev[k], &res);
        if (rc)
            return err_wrap(rc, "event %u", k);
        if (c)
            count_put(c, res);
    }
    return 0;
}

int sync_in_note_events(sync_in_t *i, const sync_events_t *events)
{
    /* By the runs check_events found while the events were in cache: after
     * a group commit they are not, and comparing every event's origin with
     * the last cost ~1 % of a catch-up in cache misses. */
    for (uint32_t r = 0; r < events->nrun; r++) {
        const mpk_str_t *o = &events->ev[events->run[r]].origin;
        int rc = vv_raise(&i->touched, o->ptr, o->len, 0);
        if (rc)
            return rc;
    }
    return 0;
}

int sync_in_apply_events(store_txn_t *t, sync_in_t *i, const sync_events_t *events,
                         sync_in_counts_t *c)
{
    int rc = sync_in_put_events(t, events, c);
    return rc ? rc : sync_in_note_events(i, events);
}

int sync_in_ack(sync_in_t *i, store_t *s, uint64_t batch, buf_t *out)
{
    static const uint8_t zero[PROTO_HASH_LEN];
    store_txn_t *t = NULL;
    buf_reset(&i->vvb.body);
    i->vvb.count = 0;
    int rc = store_read_begin(s, &t);
    for (size_t k = 0; !rc && k < i->touched.n; k++) {
        const char *origin = i->touched.e[k].origin;
        store_head_t h;
        rc = store_head_get(t, origin, &h);
        if (rc == LD_ENOTFOUND)   /* all of it held, waiting for a gap */
            rc = msg_vv_add(&i->vvb, origin, 0, zero);
        else if (!rc)
            rc = msg_vv_add(&i->vvb, origin, h.seq, h.hash);
    }
    store_read_end(&t);
    if (rc)
        return rc;
    size_t start = out->len;
    if ((rc = msg_encode_ack(out, i->session, batch, &i->vvb)))
        return rc;
    buf_reset(&i->last_ack);
    return buf_append(&i->last_ack, out->data + start, out->len - start);
}

int sync_in_nack(const sync_in_t *i, buf_t *out)
{
    return msg_encode_nack(out, i->session, i->expected);
}

uint64_t sync_in_expected(const sync_in_t *i)
{
    return i->expected;
}

void sync_in_last_ack(const sync_in_t *i, const uint8_t **msg, size_t *len)
{
    *msg = i->last_ack.len ? i->last_ack.data : NULL;
    *len = i->last_ack.len;
}
