/*
 * children_commit.c -- the hub's group commit: the batches its children sent
 * since the last commit go into the store in one transaction, on libuv's
 * thread pool while the loop goes on reading (small groups on the loop
 * itself), and are acknowledged afterwards, each to the session it came in.
 *
 * Thread rules: commit_fn and commit_work run on a pool thread and touch
 * only the store and c->inflight / c->commit_*; everything else runs on the
 * loop. One commit is in flight at a time (LMDB has one writer).
 */
#include "hub/children_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"

/* On a thread of libuv's pool: the puts of every batch in flight, one
 * transaction, one fsync. Only c->inflight, c->commit_* and the store. */
static int commit_fn(store_txn_t *t, void *arg)
{
    children_t *c = arg;
    memset(&c->commit_counts, 0, sizeof c->commit_counts);
    for (size_t i = 0; i < c->ninflight; i++) {
        /* judged and decoded when it arrived (on_sub): only the puts here */
        int rc = sync_in_put_events(t, &c->inflight[i].events, &c->commit_counts);
        if (rc)
            return rc;
    }
    return 0;
}

static void commit_work(uv_work_t *w)
{
    children_t *c = w->data;
    c->commit_rc = store_write(c->store, commit_fn, c);
    /* err_msg() is per thread: carry it to the loop's */
    snprintf(c->commit_err, sizeof c->commit_err, "%s", c->commit_rc ? err_msg() : "");
}

static void inflight_release(children_t *c)
{
    for (size_t i = 0; i < c->ninflight; i++) {
        zmq_msg_close(&c->inflight[i].frame);
        sync_events_reset(&c->inflight[i].events);
    }
    c->ninflight = 0;
}

static void commit_start(children_t *c);

/* Back on the loop: acknowledge what was committed, batch by batch in the
 * order it came, to the sessions it came in (a child that said HELLO again
 * meanwhile gets its heads in WELCOME instead), then start the next. */
static void commit_done(uv_work_t *w, int status)
{
    children_t *c = w->data;
    c->committing = false;
    if (c->closing) {
        inflight_release(c);
        children_close_done(c);
        return;
    }
    int rc = status ? err_set(LD_EFAULT, "the commit did not run: %s", uv_strerror(status))
                    : c->commit_rc;
    const char *why = status ? err_msg() : c->commit_err;
    if (rc) {
        /* Nothing was committed: the children resend after their timeout. */
        log_error("hub", "group commit of %zu batches failed: %s", c->ninflight, why);
        for (size_t i = 0; i < c->ninflight; i++) {
            child_t *ch = c->inflight[i].child;
            if (ch->active && c->inflight[i].session == ch->session)
                children_end_session(c, ch, "local store failure");
        }
    } else {
        c->stats.commits++;
        c->stats.batches += c->ninflight;
        c->stats.events_stored += c->commit_counts.stored;
        c->stats.events_duplicate += c->commit_counts.duplicates;
        c->stats.events_held += c->commit_counts.held;
        c->stats.events_dropped += c->commit_counts.dropped;
        c->stats.equivocations += c->commit_counts.equivocations;
    }
    uint64_t now = children_now_ms(c);
    for (size_t i = 0; !rc && i < c->ninflight; i++) {
        struct pending_batch *pb = &c->inflight[i];
        child_t *ch = pb->child;
        if (!ch->active || pb->session != ch->session)
            continue;
        if (!ch->acking) {
            sync_in_apply_begin(ch->in);
            ch->acking = true;
        }
        if (sync_in_note_events(ch->in, &pb->events))
            log_error("hub", "child %s: %s", ch->origin, err_msg());
        ch->ack_batch = pb->batch;
    }
    for (size_t i = 0; !rc && i < c->ninflight; i++) {
        child_t *ch = c->inflight[i].child;
        if (!ch->acking)
            continue;
        ch->acking = false;
        ch->last_progress_ms = now;
        buf_reset(&c->scratch);
        if (sync_in_ack(ch->in, c->store, ch->ack_batch, &c->scratch) == 0)
            children_send(c, ch, &c->scratch);
    }
    inflight_release(c);
    if (!rc && c->commit_counts.stored && c->merged_cb)
        c->merged_cb(c);
    commit_start(c);   /* what came in meanwhile */
}

/* Group commit: what was accepted since the last one goes in one
 * transaction, unless one is in flight (then at its end), up to
 * c->commit_max events (COMMIT_MAX_EVENTS). LMDB keeps the pages a
 * transaction dirtied on its own free list for the life of the process, and
 * the statistics cache grows with the group, so an unbounded group (every
 * child's whole window at once, 65,536 events from four townships) set the
 * hub's resident memory. */
#define COMMIT_INLINE_EVENTS 256
#define COMMIT_MAX_EVENTS    8192

size_t children_commit_max(void)
{
    const char *e = getenv("LIANDONG_COMMIT_MAX");
    char *end;
    unsigned long long v = e ? strtoull(e, &end, 10) : 0;
    return e && *e && !*end && v > 0 ? (size_t)v : COMMIT_MAX_EVENTS;
}

static void slot_swap(struct pending_batch *a, struct pending_batch *b)
{
    /* A parked frame's bytes are outside its zmq_msg_t (see park()), so the
     * decoded views into them survive the move. */
    struct pending_batch t = *a;
    *a = *b;
    *b = t;
}

/* Moves the first n pending batches into the (released) in-flight slots. */
static int take_pending(children_t *c, size_t n)
{
    if (n == c->npend) {   /* all of them: swap the arrays */
        struct pending_batch *p = c->inflight;
        size_t cap = c->capinflight;
        c->inflight = c->pend;
        c->ninflight = c->npend;
        c->capinflight = c->cappend;
        c->pend = p;
        c->npend = 0;
        c->cappend = cap;
        return 0;
    }
    if (c->capinflight < n) {
        struct pending_batch *p = realloc(c->inflight, n * sizeof *p);
        if (!p)
            return err_set(LD_ENOMEM, "out of memory");
        for (size_t i = c->capinflight; i < n; i++) {
            p[i].events = (sync_events_t)SYNC_EVENTS_INIT;
            zmq_msg_init(&p[i].frame);
        }
        c->inflight = p;
        c->capinflight = n;
    }
    for (size_t i = 0; i < n; i++)
        slot_swap(&c->inflight[i], &c->pend[i]);
    for (size_t i = n; i < c->npend; i++)   /* the rest, in order, to the front */
        slot_swap(&c->pend[i - n], &c->pend[i]);
    c->ninflight = n;
    c->npend -= n;
    return 0;
}

static void commit_start(children_t *c)
{
    if (!c->npend || c->committing || c->closing)
        return;
    size_t n = 0, events = 0;
    while (n < c->npend && (n == 0 || events + c->pend[n].events.n <= c->commit_max))
        events += c->pend[n++].events.n;
    if (take_pending(c, n)) {
        log_error("hub", "group commit: %s; trying again at the next turn", err_msg());
        return;
    }
    c->committing = true;
    c->work.data = c;
    /* A small group (an online township's record) commits right here: the
     * hand-off to a pool thread and back costs ~0.15 ms per hub, which is
     * most of what a round trip through a district adds. */
    if (events <= COMMIT_INLINE_EVENTS ||
        uv_queue_work(c->loop, &c->work, commit_work, commit_done) != 0) {
        commit_work(&c->work);
        commit_done(&c->work, 0);
    }
}

void children_commit_on_check(uv_check_t *h)
{
    commit_start(h->data);
}
