/*
 * test_sync.c -- the sync engines end to end, without sockets: a child
 * store (with its townships' logs in its subtree) sends to a parent store
 * through an in-memory network that drops, duplicates and reorders
 * messages in both directions under a seeded PRNG, with a fake clock so
 * that timeouts fire without sleeping. After every run the parent must hold
 * exactly the child's logs for the scope: same heads and hashes, every
 * event once, nothing held aside, no equivocation.
 *
 * Also: session restarts, a wiped parent, batches with a forbidden origin
 * or a corrupted event, the credit window, the downward scope, and the
 * small rules of numbering (stale NACKs, ACKs for unsent batches, OLD).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/err.h"
#include "common/store.h"
#include "common/sync.h"
#include "proto/json.h"
#include "testutil.h"

#define CHILD  "hrb/daoli"
#define GRAND1 "hrb/daoli/xinfa"
#define GRAND2 "hrb/daoli/tuanjie"
#define PARENT "hrb"

typedef struct fx {
    char *dir;
    testutil_clock_t clock;
    int ndirs;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->dir = testutil_tmpdir();
    f->clock.now_ms = 1700000000000ull;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    testutil_rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* ---- stores and events ---- */

static int set_origin_cb(store_txn_t *t, void *arg)
{
    return store_meta_put(t, "origin", arg, strlen(arg));
}

/* A store in a fresh subdirectory, its origin set and the store reopened. */
static store_t *new_store(fx_t *f, const char *origin)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/s%d", f->dir, f->ndirs++);
    assert_int_equal(mkdir(path, 0700), 0);
    store_opts_t o = {0, testutil_clock_ms, &f->clock};
    store_t *s = NULL;
    assert_int_equal(store_open(path, STORE_CREATE, &o, &s), 0);
    assert_int_equal(store_write(s, set_origin_cb, (void *)origin), 0);
    store_close(&s);
    assert_int_equal(store_open(path, 0, &o, &s), 0);
    assert_string_equal(store_origin(s), origin);
    return s;
}

typedef struct append_ctx {
    int n;
    const char *tag;
} append_ctx_t;

static int append_cb(store_txn_t *t, void *arg)
{
    append_ctx_t *c = arg;
    buf_t b = BUF_INIT;
    int rc = 0;
    for (int i = 0; i < c->n && !rc; i++) {
        char note[160];
        snprintf(note, sizeof note, "%s %d: met constituents at the reception day, "
                 "heard about school places and the bus line", c->tag, i);
        json_t *o = json_pack("{s:s, s:s, s:s}", "deputy", "d1", "channel", "visit",
                              "note", note);
        buf_reset(&b);
        rc = proto_body_pack_json(o, &b);
        json_decref(o);
        store_new_t ev = {"deputy.contact", "2024-05-01", "clerk", b.data, b.len};
        if (!rc)
            rc = store_txn_append(t, &ev, NULL);
    }
    buf_free(&b);
    return rc;
}

static void append_n(store_t *s, int n, const char *tag)
{
    append_ctx_t c = {n, tag};
    assert_int_equal(store_write(s, append_cb, &c), 0);
}

typedef testutil_log_t log_t;

static int put_log_cb(store_txn_t *t, void *arg)
{
    const log_t *l = arg;
    for (size_t i = 0; i < l->n; i++) {
        store_put_result_t res;
        int rc = store_txn_put(t, l->raw[i], l->len[i], &res);
        if (rc)
            return rc;
    }
    return 0;
}

/* A log of n events made by its own store, put into `into`. */
static void add_foreign_log(fx_t *f, store_t *into, const char *origin, int n)
{
    store_t *s = new_store(f, origin);
    append_n(s, n, origin);
    log_t l;
    testutil_log_copy(s, origin, &l);
    store_close(&s);
    assert_int_equal(store_write(into, put_log_cb, &l), 0);
    testutil_log_free(&l);
}

/* The child: its own log and two townships' logs in its subtree. */
static store_t *make_child(fx_t *f, int own, int g1, int g2)
{
    store_t *c = new_store(f, CHILD);
    append_n(c, own, CHILD);
    if (g1)
        add_foreign_log(f, c, GRAND1, g1);
    if (g2)
        add_foreign_log(f, c, GRAND2, g2);
    return c;
}

static int heads_to_vv_cb(const char *origin, const store_head_t *h, void *arg)
{
    return vv_set(arg, origin, strlen(origin), h->seq);
}

/* What a WELCOME would say: the store's heads under prefix. */
static void heads_vv(store_t *s, const char *prefix, vv_t *v)
{
    store_txn_t *t;
    vv_clear(v);
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_heads_foreach(t, prefix, heads_to_vv_cb, v), 0);
    store_read_end(&t);
}

typedef struct cmp_ctx {
    store_txn_t *other;
    uint64_t n;
} cmp_ctx_t;

static int cmp_head_cb(const char *origin, const store_head_t *h, void *arg)
{
    cmp_ctx_t *c = arg;
    store_head_t o;
    if (store_head_get(c->other, origin, &o) != 0)
        fail_msg("the parent holds nothing of %s", origin);
    if (o.seq != h->seq || memcmp(o.hash, h->hash, PROTO_HASH_LEN) != 0)
        fail_msg("%s: parent head %llu, child head %llu", origin, (unsigned long long)o.seq,
                 (unsigned long long)h->seq);
    assert_int_equal(o.held, 0);
    c->n++;
    return 0;
}

static store_info_t info_of(store_t *s)
{
    store_txn_t *t;
    store_info_t i;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_info_get(t, &i), 0);
    store_read_end(&t);
    return i;
}

/* The parent holds exactly the child's subtree: same digest, every event
 * once, nothing held, no equivocation. */
static void assert_converged(store_t *child, store_t *parent)
{
    store_txn_t *tc, *tp;
    assert_int_equal(store_read_begin(child, &tc), 0);
    assert_int_equal(store_read_begin(parent, &tp), 0);
    cmp_ctx_t c = {tp, 0};
    assert_int_equal(store_heads_foreach(tc, CHILD, cmp_head_cb, &c), 0);
    store_read_end(&tp);
    store_read_end(&tc);
    store_info_t ic = info_of(child), ip = info_of(parent);
    assert_int_equal(ip.origins, c.n);
    assert_int_equal(ip.events, ic.events);
    assert_int_equal(ip.held, 0);
    assert_int_equal(ip.equivocations, 0);
}

/* ---- the network ---- */

typedef struct pkt {
    uint8_t *data;
    size_t len;
} pkt_t;

typedef struct queue {
    pkt_t *p;
    size_t n, cap;
} queue_t;

typedef struct net {
    uint64_t rng;
    double loss, dup, reorder, send_fail;
    queue_t up, down;
    sync_out_t *out;
    unsigned window;
    bool strict_window;    /* no loss: BATCHes in the network <= window */
    uint64_t batches, dropped;
} net_t;

static uint64_t rnd(net_t *n)
{
    n->rng ^= n->rng << 13;
    n->rng ^= n->rng >> 7;
    n->rng ^= n->rng << 17;
    return n->rng;
}

static double rndf(net_t *n)
{
    return (double)(rnd(n) >> 11) / 9007199254740992.0;
}

static void q_push(queue_t *q, const uint8_t *data, size_t len)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->p = realloc(q->p, q->cap * sizeof *q->p);
    }
    q->p[q->n].data = malloc(len);
    memcpy(q->p[q->n].data, data, len);
    q->p[q->n++].len = len;
}

static void q_free(queue_t *q)
{
    for (size_t i = 0; i < q->n; i++)
        free(q->p[i].data);
    free(q->p);
    *q = (queue_t){0};
}

static void net_put(net_t *n, queue_t *q, const uint8_t *data, size_t len)
{
    if (rndf(n) < n->loss) {
        n->dropped++;
        return;
    }
    q_push(q, data, len);
    if (rndf(n) < n->dup)
        q_push(q, data, len);
}

/* The next packet: usually the oldest, sometimes one of the next few. */
static bool net_take(net_t *n, queue_t *q, pkt_t *out)
{
    if (q->n == 0)
        return false;
    size_t i = rndf(n) < n->reorder ? rnd(n) % (q->n < 5 ? q->n : 5) : 0;
    *out = q->p[i];
    memmove(&q->p[i], &q->p[i + 1], (q->n - i - 1) * sizeof *q->p);
    q->n--;
    return true;
}

static unsigned batches_in(const queue_t *q)
{
    unsigned k = 0;
    for (size_t i = 0; i < q->n; i++)
        k += q->p[i].len > 1 && q->p[i].data[1] == MSG_T_BATCH;
    return k;
}

static int send_cb(const uint8_t *msg, size_t len, void *arg)
{
    net_t *n = arg;
    sync_out_stats_t st;
    sync_out_stats(n->out, &st);
    assert_true(st.inflight < n->window);   /* credit before every send */
    if (rndf(n) < n->send_fail)
        return -EAGAIN;
    n->batches++;
    net_put(n, &n->up, msg, len);
    if (n->strict_window)
        assert_true(batches_in(&n->up) <= n->window);
    return 0;
}

/* ---- the two ends ---- */

typedef struct rx {
    store_t *s;
    sync_in_t *in;
    int group;                 /* batches applied per write transaction */
    bool keep;                 /* as a hub: check_keep, then apply_events */
    sync_events_t ev[8];       /* with keep: the accepted batches' events */
    unsigned commits;
    sync_in_counts_t counts;
} rx_t;

typedef struct apply_ctx {
    rx_t *rx;
    msg_t *m;
    int n;
    sync_in_counts_t c;
    int map_full;              /* fail this many runs as a full map would */
} apply_ctx_t;

static int apply_cb(store_txn_t *t, void *arg)
{
    apply_ctx_t *a = arg;
    a->c = (sync_in_counts_t){0};
    sync_in_apply_begin(a->rx->in);
    for (int i = 0; i < a->n; i++) {
        int rc = a->rx->keep ? sync_in_apply_events(t, a->rx->in, &a->rx->ev[i], &a->c)
                             : sync_in_apply(t, a->rx->in, &a->m[i], &a->c);
        if (rc)
            return rc;
    }
    /* store_write grows the map and runs this again from the start */
    return a->map_full-- > 0 ? MDB_MAP_FULL : 0;
}

/* The parent takes up to rx->group packets, applies the accepted batches in
 * one transaction and acknowledges the last. */
static void deliver_up(net_t *n, rx_t *rx)
{
    pkt_t p[8];
    msg_t acc[8];
    int np = 0, na = 0;
    buf_t b = BUF_INIT;
    while (np < rx->group && net_take(n, &n->up, &p[np])) {
        msg_t m;
        sync_in_verdict_t v;
        assert_int_equal(msg_decode(p[np].data, p[np].len, &m), 0);
        int rc = rx->keep ? sync_in_check_keep(rx->in, &m, &v, &rx->ev[na])
                          : sync_in_check(rx->in, &m, &v);
        if (rc)
            fail_msg("check: %s", err_msg());
        buf_reset(&b);
        if (v == SYNC_IN_ACCEPT) {
            acc[na++] = m;
        } else if (v == SYNC_IN_GAP) {
            assert_int_equal(sync_in_nack(rx->in, &b), 0);
        } else if (v == SYNC_IN_OLD) {
            const uint8_t *ack;
            size_t len;
            sync_in_last_ack(rx->in, &ack, &len);
            if (len)
                buf_append(&b, ack, len);
        }
        if (b.len)
            net_put(n, &n->down, b.data, b.len);
        np++;
    }
    if (na) {
        /* with keep, every fifth transaction is re-run, as after a map resize */
        apply_ctx_t a = {rx, acc, na, {0}, rx->keep && rx->commits++ % 5 == 0};
        int rc = store_write(rx->s, apply_cb, &a);
        if (rc)
            fail_msg("apply: %s", err_msg());
        rx->counts.stored += a.c.stored;
        rx->counts.duplicates += a.c.duplicates;
        rx->counts.equivocations += a.c.equivocations;
        buf_reset(&b);
        assert_int_equal(sync_in_ack(rx->in, rx->s, acc[na - 1].batch, &b), 0);
        net_put(n, &n->down, b.data, b.len);
    }
    for (int i = 0; i < np; i++)
        free(p[i].data);
    buf_free(&b);
}

static void deliver_down(net_t *n, uint64_t now)
{
    pkt_t p;
    if (!net_take(n, &n->down, &p))
        return;
    msg_t m;
    assert_int_equal(msg_decode(p.data, p.len, &m), 0);
    if (m.type == MSG_T_ACK)
        assert_int_equal(sync_out_ack(n->out, &m, now), 0);
    else if (m.type == MSG_T_NACK)
        assert_int_equal(sync_out_nack(n->out, &m, now), 0);
    else
        fail_msg("unexpected message type %d", m.type);
    free(p.data);
}

/* Runs both ends until the sender is done (or, with until_step, for that
 * many steps). Returns the steps taken. */
static int run(fx_t *f, net_t *n, rx_t *rx, int max_steps, bool until_done)
{
    for (int step = 0; step < max_steps; step++) {
        f->clock.now_ms += 1 + rnd(n) % 20;
        int rc = sync_out_pump(n->out, send_cb, n, f->clock.now_ms);
        if (rc != 0 && rc != -EAGAIN)
            fail_msg("pump: %d %s", rc, err_msg());
        if (until_done && sync_out_done(n->out)) {
            if (getenv("SYNC_DEBUG")) {
                sync_out_stats_t st;
                sync_out_stats(n->out, &st);
                fprintf(stderr, "done in %d steps: sent %llu resends %llu dropped %llu batches %llu\n", step,
                        (unsigned long long)st.events_sent, (unsigned long long)st.resends,
                        (unsigned long long)n->dropped, (unsigned long long)n->batches);
            }
            return step;
        }
        int ups = (int)(rnd(n) % 3), downs = (int)(rnd(n) % 3);
        for (int i = 0; i < ups; i++)
            deliver_up(n, rx);
        for (int i = 0; i < downs; i++)
            deliver_down(n, f->clock.now_ms);
        sync_out_tick(n->out, f->clock.now_ms);
        sync_out_stats_t st;
        sync_out_stats(n->out, &st);
        assert_true(st.inflight <= n->window);
    }
    if (until_done)
        fail_msg("no convergence in %d steps", max_steps);
    return max_steps;
}

static sync_scope_t up_scope(void)
{
    sync_scope_t sc = {0};
    assert_int_equal(sync_scope_add(&sc, CHILD, true), 0);
    return sc;
}

typedef struct link {
    net_t net;
    rx_t rx;
    sync_out_t *out;
} link_t;

static void link_open(link_t *l, store_t *child, store_t *parent, const sync_out_opts_t *o,
                      uint64_t seed)
{
    sync_scope_t sc = up_scope();
    memset(l, 0, sizeof *l);
    assert_int_equal(sync_out_new(child, &sc, o, &l->out), 0);
    assert_int_equal(sync_in_new(&sc, &l->rx.in), 0);
    l->rx.s = parent;
    l->rx.group = 1;
    l->net.rng = seed * 0x9E3779B97F4A7C15ull + 1;
    l->net.out = l->out;
    l->net.window = o->window;
}

/* A new session from the parent's real heads, as its WELCOME would say. */
static void link_session(fx_t *f, link_t *l, uint64_t session)
{
    vv_t v = VV_INIT;
    heads_vv(l->rx.s, CHILD, &v);
    sync_in_start(l->rx.in, session);
    assert_int_equal(sync_out_start(l->out, session, &v, f->clock.now_ms), 0);
    assert_false(sync_out_done(l->out));   /* nothing known before a pump */
    vv_free(&v);
}

static void link_close(link_t *l)
{
    sync_out_destroy(&l->out);
    sync_in_destroy(&l->rx.in);
    for (int i = 0; i < 8; i++)
        sync_events_free(&l->rx.ev[i]);
    q_free(&l->net.up);
    q_free(&l->net.down);
}

/* ---- convergence ---- */

static void test_sync_converges_lossless(void **state)
{
    fx_t *f = *state;
    store_t *child = make_child(f, 400, 150, 120), *parent = new_store(f, PARENT);
    sync_out_opts_t o = {4, 16, 300};
    link_t l;
    link_open(&l, child, parent, &o, 1);
    l.net.strict_window = true;
    link_session(f, &l, 1);
    run(f, &l.net, &l.rx, 100000, true);
    assert_converged(child, parent);
    sync_out_stats_t st;
    sync_out_stats(l.out, &st);
    assert_int_equal(st.events_sent, 670);   /* nothing sent twice */
    assert_int_equal(st.resends, 0);
    assert_int_equal(st.pending, 0);
    assert_int_equal(l.rx.counts.stored, 670);
    assert_int_equal(l.rx.counts.duplicates, 0);
    /* The acknowledged heads are the parent's. */
    const vv_t *acked = sync_out_acked(l.out);
    assert_int_equal(acked->n, 3);
    assert_int_equal(vv_get(acked, GRAND1, strlen(GRAND1)), 150);
    /* Nothing new: a pump sends nothing. */
    uint64_t before = l.net.batches;
    assert_int_equal(sync_out_pump(l.out, send_cb, &l.net, f->clock.now_ms), 0);
    assert_int_equal(l.net.batches, before);
    /* New events are sent by the next pump. */
    append_n(child, 5, "later");
    assert_int_equal(sync_out_pump(l.out, send_cb, &l.net, f->clock.now_ms), 0);
    assert_false(sync_out_done(l.out));
    run(f, &l.net, &l.rx, 1000, true);
    assert_converged(child, parent);
    link_close(&l);
    store_close(&parent);
    store_close(&child);
}

static void converge_under_loss(fx_t *f, bool keep)
{
    static const double loss[] = {0.0, 0.1, 0.3};
    store_t *child = make_child(f, 300, 200, 100);
    /* LD_SYNC_SEEDS=n runs more seeds (a soak, by hand). */
    int seeds = getenv("LD_SYNC_SEEDS") ? atoi(getenv("LD_SYNC_SEEDS")) : 3;
    for (int seed = 1; seed <= seeds; seed++)
        for (size_t k = 0; k < 3; k++) {
            store_t *parent = new_store(f, PARENT);
            sync_out_opts_t o = {(unsigned)(2 + seed * 2), (unsigned)(8 + 8 * seed), 250};
            link_t l;
            link_open(&l, child, parent, &o, (uint64_t)seed * 10 + k);
            l.rx.keep = keep;
            l.net.loss = loss[k];
            l.net.dup = 0.1;
            l.net.reorder = 0.3;
            l.rx.group = 1 + (seed + (int)k) % 4;
            link_session(f, &l, 7);
            size_t map = store_map_size(parent);
            run(f, &l.net, &l.rx, 200000, true);
            assert_converged(child, parent);
            if (keep)   /* the forced re-runs did happen */
                assert_true(store_map_size(parent) > map);
            link_close(&l);
            store_close(&parent);
        }
    store_close(&child);
}

static void test_sync_converges_under_loss(void **state)
{
    converge_under_loss(*state, false);
}

/* The same with the events kept from the check to the apply, as a hub does
 * (sync_in_check_keep, sync_in_apply_events), every fifth transaction
 * re-run as after a map resize. */
static void test_sync_converges_under_loss_kept_events(void **state)
{
    converge_under_loss(*state, true);
}

static void test_sync_recovers_after_total_loss(void **state)
{
    fx_t *f = *state;
    store_t *child = make_child(f, 300, 100, 0), *parent = new_store(f, PARENT);
    sync_out_opts_t o = {4, 32, 200};
    link_t l;
    link_open(&l, child, parent, &o, 42);
    l.net.loss = 1.0;
    link_session(f, &l, 1);
    run(f, &l.net, &l.rx, 2000, false);
    sync_out_stats_t st;
    sync_out_stats(l.out, &st);
    assert_true(st.resends >= 5);             /* timeouts rewound, again and again */
    assert_int_equal(info_of(parent).events, 0);
    l.net.loss = 0.1;
    l.net.dup = 0.05;
    l.net.reorder = 0.2;
    run(f, &l.net, &l.rx, 200000, true);
    assert_converged(child, parent);
    link_close(&l);
    store_close(&parent);
    store_close(&child);
}

static void test_sync_send_failures_are_resent(void **state)
{
    fx_t *f = *state;
    store_t *child = make_child(f, 300, 50, 50), *parent = new_store(f, PARENT);
    sync_out_opts_t o = {3, 10, 300};
    link_t l;
    link_open(&l, child, parent, &o, 5);
    l.net.send_fail = 0.3;
    l.net.strict_window = true;
    link_session(f, &l, 1);
    run(f, &l.net, &l.rx, 100000, true);
    assert_converged(child, parent);
    sync_out_stats_t st;
    sync_out_stats(l.out, &st);
    assert_int_equal(st.events_sent, 400);    /* a failed send did not count */
    link_close(&l);
    store_close(&parent);
    store_close(&child);
}

static void test_sync_session_restart_midway(void **state)
{
    fx_t *f = *state;
    store_t *child = make_child(f, 500, 200, 0), *parent = new_store(f, PARENT);
    sync_out_opts_t o = {4, 16, 300};
    link_t l;
    link_open(&l, child, parent, &o, 9);
    l.net.loss = 0.1;
    l.net.dup = 0.1;
    l.net.reorder = 0.3;
    link_session(f, &l, 1);
    while (info_of(parent).events < 250)
        run(f, &l.net, &l.rx, 1, false);
    uint64_t mid = info_of(parent).events;
    assert_true(mid > 0 && mid < 700);
    /* Link down and up again; the old session's packets are still about,
     * but the new one is clean: exactly what the parent lacks is sent. */
    sync_out_stop(l.out);
    assert_false(sync_out_done(l.out));
    link_session(f, &l, 2);
    l.net.loss = l.net.dup = l.net.reorder = 0;
    run(f, &l.net, &l.rx, 200000, true);
    assert_converged(child, parent);
    sync_out_stats_t st;
    sync_out_stats(l.out, &st);
    assert_int_equal(st.session, 2);
    assert_int_equal(st.events_sent, 700 - mid);   /* resumed from the parent's heads */

    /* And once more, lossy, from wherever that leaves it. */
    append_n(child, 300, "more");
    l.net.loss = 0.2;
    l.net.dup = 0.1;
    l.net.reorder = 0.3;
    link_session(f, &l, 3);
    run(f, &l.net, &l.rx, 200000, true);
    assert_converged(child, parent);
    link_close(&l);
    store_close(&parent);
    store_close(&child);
}

static void test_sync_wiped_parent_is_refilled(void **state)
{
    fx_t *f = *state;
    store_t *child = make_child(f, 200, 100, 50), *parent = new_store(f, PARENT);
    sync_out_opts_t o = {4, 32, 300};
    link_t l;
    link_open(&l, child, parent, &o, 3);
    l.net.loss = 0.1;
    link_session(f, &l, 1);
    run(f, &l.net, &l.rx, 100000, true);
    assert_converged(child, parent);
    /* The parent loses everything; its next WELCOME says so. */
    store_close(&parent);
    parent = new_store(f, PARENT);
    l.rx.s = parent;
    link_session(f, &l, 2);
    run(f, &l.net, &l.rx, 100000, true);
    assert_converged(child, parent);
    link_close(&l);
    store_close(&parent);
    store_close(&child);
}

/* ---- bad batches ---- */

/* One BATCH of the given events, exactly sized on the heap. */
static uint8_t *make_batch(uint64_t session, uint64_t batch, uint8_t **raw, size_t *len, int n,
                           size_t *out_len)
{
    buf_t b = BUF_INIT;
    msg_batch_builder_t bb;
    assert_int_equal(msg_batch_begin(&bb, &b, session, batch), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(msg_batch_add(&bb, raw[i], len[i]), 0);
    size_t off;
    msg_batch_finish(&bb, &off);
    uint8_t *m = malloc(b.len - off);
    memcpy(m, b.data + off, b.len - off);
    *out_len = b.len - off;
    buf_free(&b);
    return m;
}

static void test_sync_rejects_origin_outside_scope(void **state)
{
    fx_t *f = *state;
    store_t *child = make_child(f, 5, 3, 0), *parent = new_store(f, PARENT);
    log_t own, g;
    testutil_log_copy(child, CHILD, &own);
    testutil_log_copy(child, GRAND1, &g);
    /* A link that may carry the child's own log only. */
    sync_scope_t sc = {0};
    assert_int_equal(sync_scope_add(&sc, CHILD, false), 0);
    sync_in_t *in;
    assert_int_equal(sync_in_new(&sc, &in), 0);
    sync_in_start(in, 1);
    uint8_t *raw[6] = {own.raw[0], own.raw[1], own.raw[2], g.raw[0], own.raw[3], own.raw[4]};
    size_t len[6] = {own.len[0], own.len[1], own.len[2], g.len[0], own.len[3], own.len[4]};
    size_t mlen;
    uint8_t *data = make_batch(1, 1, raw, len, 6, &mlen);
    msg_t m;
    sync_in_verdict_t v = SYNC_IN_OTHER;
    assert_int_equal(msg_decode(data, mlen, &m), 0);
    assert_int_equal(sync_in_check(in, &m, &v), LD_EORIGIN);
    assert_non_null(strstr(err_msg(), GRAND1 "#1"));
    assert_non_null(strstr(err_msg(), "event 3"));
    assert_int_equal(sync_in_expected(in), 1);
    assert_int_equal(info_of(parent).events, 0);
    free(data);
    /* Without the stranger the same batch is fine. */
    raw[3] = own.raw[3];
    len[3] = own.len[3];
    data = make_batch(1, 1, raw, len, 4, &mlen);
    assert_int_equal(msg_decode(data, mlen, &m), 0);
    assert_int_equal(sync_in_check(in, &m, &v), 0);
    assert_int_equal(v, SYNC_IN_ACCEPT);
    assert_int_equal(sync_in_expected(in), 2);
    free(data);
    sync_in_destroy(&in);
    testutil_log_free(&own);
    testutil_log_free(&g);
    store_close(&parent);
    store_close(&child);
}

static void test_sync_rejects_corrupted_event(void **state)
{
    fx_t *f = *state;
    store_t *child = make_child(f, 4, 0, 0);
    log_t own;
    testutil_log_copy(child, CHILD, &own);
    sync_scope_t sc = up_scope();
    sync_in_t *in;
    assert_int_equal(sync_in_new(&sc, &in), 0);
    sync_in_start(in, 1);
    for (int k = 0; k < 3; k++) {
        uint8_t bad[1024];
        size_t blen = own.len[2];
        memcpy(bad, own.raw[2], blen);
        if (k == 0)
            blen--;                       /* truncated */
        else if (k == 1)
            bad[blen - 3] = 0xff;         /* invalid UTF-8 in the note */
        else
            bad[0] = 0x98;                /* an array of 8 */
        uint8_t *raw[4] = {own.raw[0], own.raw[1], bad, own.raw[3]};
        size_t len[4] = {own.len[0], own.len[1], blen, own.len[3]};
        size_t mlen;
        uint8_t *data = make_batch(1, 1, raw, len, 4, &mlen);
        msg_t m;
        sync_in_verdict_t v;
        assert_int_equal(msg_decode(data, mlen, &m), 0);
        int rc = sync_in_check(in, &m, &v);
        assert_true(rc < 0);
        assert_non_null(strstr(err_msg(), "event 2"));
        assert_int_equal(sync_in_expected(in), 1);
        free(data);
    }
    sync_in_destroy(&in);
    testutil_log_free(&own);
    store_close(&child);
}

/* ---- numbering rules, driven by hand ---- */

static int collect_cb(const uint8_t *msg, size_t len, void *arg)
{
    queue_t *q = arg;
    q_push(q, msg, len);
    return 0;
}

static void encode_decode_ack(buf_t *b, msg_t *m, uint64_t session, uint64_t batch,
                              uint64_t seq)
{
    static const uint8_t h[PROTO_HASH_LEN];
    msg_vv_builder_t vv = {BUF_INIT, 0};
    assert_int_equal(msg_vv_add(&vv, CHILD, seq, h), 0);
    buf_reset(b);
    assert_int_equal(msg_encode_ack(b, session, batch, &vv), 0);
    assert_int_equal(msg_decode(b->data, b->len, m), 0);
    msg_vv_free(&vv);
}

static void encode_decode_nack(buf_t *b, msg_t *m, uint64_t session, uint64_t expected)
{
    buf_reset(b);
    assert_int_equal(msg_encode_nack(b, session, expected), 0);
    assert_int_equal(msg_decode(b->data, b->len, m), 0);
}

static sync_out_stats_t stats_of(const sync_out_t *o)
{
    sync_out_stats_t st;
    sync_out_stats(o, &st);
    return st;
}

/* A sender over 100 events, window 3 of 10 events, timeout 1000 ms,
 * session 5, with its first window pumped at time 0 into q. */
static sync_out_t *hand_sender(fx_t *f, store_t **child, queue_t *q)
{
    *child = make_child(f, 100, 0, 0);
    sync_scope_t sc = up_scope();
    sync_out_opts_t o = {3, 10, 1000};
    sync_out_t *out;
    assert_int_equal(sync_out_new(*child, &sc, &o, &out), 0);
    assert_int_equal(sync_out_pump(out, collect_cb, q, 0), 0);   /* not started */
    assert_int_equal(q->n, 0);
    assert_int_equal(sync_out_start(out, 5, NULL, 0), 0);
    assert_int_equal(sync_out_pump(out, collect_cb, q, 0), 0);
    assert_int_equal(q->n, 3);                                   /* the window */
    assert_int_equal(stats_of(out).pending, 100);
    assert_int_equal(stats_of(out).next_batch, 4);
    return out;
}

/* The first event of the BATCH in q->p[i]: its batch number and seq. */
static void first_event(const queue_t *q, size_t i, uint64_t *batch, uint64_t *seq)
{
    msg_t m;
    const uint8_t *raw;
    size_t len;
    proto_event_t ev;
    assert_int_equal(msg_decode(q->p[i].data, q->p[i].len, &m), 0);
    assert_int_equal(msg_batch_next(&m, &raw, &len), 0);
    assert_int_equal(proto_event_decode(raw, len, 0, &ev), 0);
    *batch = m.batch;
    *seq = ev.seq;
}

static void test_sync_out_ack_rules(void **state)
{
    store_t *child;
    queue_t q = {0};
    buf_t b = BUF_INIT;
    msg_t m;
    sync_out_t *out = hand_sender(*state, &child, &q);

    encode_decode_ack(&b, &m, 4, 1, 10);             /* another session */
    assert_int_equal(sync_out_ack(out, &m, 10), 0);
    encode_decode_ack(&b, &m, 5, 9, 90);             /* a batch never sent */
    assert_int_equal(sync_out_ack(out, &m, 10), 0);
    assert_int_equal(stats_of(out).inflight, 3);
    assert_int_equal(vv_get(sync_out_acked(out), CHILD, strlen(CHILD)), 0);

    encode_decode_ack(&b, &m, 5, 2, 20);             /* cumulative: 1 and 2 */
    assert_int_equal(sync_out_ack(out, &m, 10), 0);
    assert_int_equal(stats_of(out).inflight, 1);
    assert_int_equal(vv_get(sync_out_acked(out), CHILD, strlen(CHILD)), 20);
    encode_decode_ack(&b, &m, 5, 1, 5);              /* late and lower: never lowers */
    assert_int_equal(sync_out_ack(out, &m, 11), 0);
    assert_int_equal(vv_get(sync_out_acked(out), CHILD, strlen(CHILD)), 20);

    encode_decode_nack(&b, &m, 5, 2);                /* stale: already acknowledged */
    assert_int_equal(sync_out_nack(out, &m, 20), 0);
    encode_decode_nack(&b, &m, 5, 4);                /* a batch never sent */
    assert_int_equal(sync_out_nack(out, &m, 20), 0);
    assert_int_equal(stats_of(out).resends, 0);

    /* The last batch acknowledged with a lower head than it carried (the
     * receiver dropped it as already applied): those events go again. */
    encode_decode_ack(&b, &m, 5, 3, 25);
    assert_int_equal(sync_out_ack(out, &m, 30), 0);
    assert_int_equal(stats_of(out).inflight, 0);
    q_free(&q);
    assert_int_equal(sync_out_pump(out, collect_cb, &q, 30), 0);
    uint64_t batch, seq;
    first_event(&q, 0, &batch, &seq);
    assert_int_equal(batch, 4);
    assert_int_equal(seq, 26);

    sync_out_stop(out);
    sync_out_tick(out, 100000);
    assert_false(sync_out_done(out));
    q_free(&q);
    buf_free(&b);
    sync_out_destroy(&out);
    sync_out_destroy(&out);
    store_close(&child);
}

static void test_sync_out_rewind_rules(void **state)
{
    store_t *child;
    queue_t q = {0};
    buf_t b = BUF_INIT;
    msg_t m;
    uint64_t batch, seq;
    sync_out_t *out = hand_sender(*state, &child, &q);
    encode_decode_ack(&b, &m, 5, 2, 20);
    assert_int_equal(sync_out_ack(out, &m, 10), 0);

    /* No timeout before timeout_ms without progress; a rewind after. */
    sync_out_tick(out, 1010);
    assert_int_equal(stats_of(out).resends, 0);
    sync_out_tick(out, 1011);
    assert_int_equal(stats_of(out).resends, 1);
    assert_int_equal(stats_of(out).inflight, 0);
    assert_int_equal(stats_of(out).next_batch, 3);

    /* An ACK from further on: the receiver had applied batch 3 before the
     * rewind, and its ACK was late. Numbering follows it. */
    encode_decode_ack(&b, &m, 5, 3, 30);
    assert_int_equal(sync_out_ack(out, &m, 1015), 0);
    assert_int_equal(stats_of(out).next_batch, 4);
    q_free(&q);
    assert_int_equal(sync_out_pump(out, collect_cb, &q, 1020), 0);
    assert_int_equal(q.n, 3);
    first_event(&q, 0, &batch, &seq);
    assert_int_equal(batch, 4);
    assert_int_equal(seq, 31);                       /* from the acknowledged head */

    /* A NACK: rewind to what the receiver expects; its echoes are ignored. */
    encode_decode_nack(&b, &m, 5, 5);
    assert_int_equal(sync_out_nack(out, &m, 1030), 0);
    assert_int_equal(stats_of(out).resends, 2);
    assert_int_equal(stats_of(out).inflight, 0);
    assert_int_equal(stats_of(out).next_batch, 5);
    assert_int_equal(sync_out_nack(out, &m, 1031), 0);
    assert_int_equal(stats_of(out).resends, 2);

    /* A forced rewind (the link saw its data path connect only now) with a
     * far-future clock must not switch later timeouts off. */
    q_free(&q);
    assert_int_equal(sync_out_pump(out, collect_cb, &q, 2000), 0);
    assert_int_equal(q.n, 3);
    sync_out_tick(out, UINT64_MAX / 2);
    assert_int_equal(stats_of(out).resends, 3);
    sync_out_rewind(out, 2001);                     /* nothing in flight: no-op */
    assert_int_equal(stats_of(out).resends, 3);
    q_free(&q);
    assert_int_equal(sync_out_pump(out, collect_cb, &q, 3000), 0);
    sync_out_rewind(out, 3001);
    assert_int_equal(stats_of(out).resends, 4);
    assert_int_equal(sync_out_pump(out, collect_cb, &q, 4000), 0);
    sync_out_tick(out, 4900);
    assert_int_equal(stats_of(out).resends, 4);
    sync_out_tick(out, 5001);
    assert_int_equal(stats_of(out).resends, 5);
    q_free(&q);
    buf_free(&b);
    sync_out_destroy(&out);
    store_close(&child);
}

static void test_sync_in_verdicts(void **state)
{
    fx_t *f = *state;
    store_t *child = make_child(f, 3, 0, 0), *parent = new_store(f, PARENT);
    log_t own;
    testutil_log_copy(child, CHILD, &own);
    sync_scope_t sc = up_scope();
    sync_in_t *in;
    assert_int_equal(sync_in_new(&sc, &in), 0);
    size_t mlen;
    uint8_t *b1 = make_batch(8, 1, own.raw, own.len, 2, &mlen);
    msg_t m;
    sync_in_verdict_t v;
    assert_int_equal(msg_decode(b1, mlen, &m), 0);
    assert_int_equal(sync_in_check(in, &m, &v), 0);
    assert_int_equal(v, SYNC_IN_OTHER);             /* no session yet */
    sync_in_start(in, 8);
    const uint8_t *ack;
    size_t alen;
    sync_in_last_ack(in, &ack, &alen);
    assert_int_equal(alen, 0);
    assert_int_equal(sync_in_check(in, &m, &v), 0);
    assert_int_equal(v, SYNC_IN_ACCEPT);
    rx_t rx = {.s = parent, .in = in, .group = 1};
    apply_ctx_t a = {.rx = &rx, .m = &m, .n = 1};
    assert_int_equal(store_write(parent, apply_cb, &a), 0);
    assert_int_equal(a.c.stored, 2);
    buf_t b = BUF_INIT;
    assert_int_equal(sync_in_ack(in, parent, 1, &b), 0);
    sync_in_last_ack(in, &ack, &alen);
    assert_int_equal(alen, b.len);
    assert_memory_equal(ack, b.data, b.len);
    msg_t am;
    msg_vv_entry_t e;
    assert_int_equal(msg_decode(b.data, b.len, &am), 0);
    assert_int_equal(am.batch, 1);
    assert_int_equal(am.vv_count, 1);
    assert_int_equal(msg_vv_next(&am, &e), 0);
    assert_int_equal(e.seq, 2);

    assert_int_equal(sync_in_check(in, &m, &v), 0);
    assert_int_equal(v, SYNC_IN_OLD);
    uint8_t *b3 = make_batch(8, 3, own.raw + 2, own.len + 2, 1, &mlen);
    assert_int_equal(msg_decode(b3, mlen, &m), 0);
    assert_int_equal(sync_in_check(in, &m, &v), 0);
    assert_int_equal(v, SYNC_IN_GAP);
    buf_reset(&b);
    assert_int_equal(sync_in_nack(in, &b), 0);
    assert_int_equal(msg_decode(b.data, b.len, &am), 0);
    assert_int_equal(am.type, MSG_T_NACK);
    assert_int_equal(am.batch, 2);
    assert_int_equal(sync_in_expected(in), 2);
    /* Not a BATCH at all. */
    assert_int_equal(sync_in_check(in, &am, &v), LD_EINVAL);
    buf_free(&b);
    free(b1);
    free(b3);
    sync_in_destroy(&in);
    sync_in_destroy(&in);
    testutil_log_free(&own);
    store_close(&parent);
    store_close(&child);
}

/* ---- scopes ---- */

static void test_sync_scope_down(void **state)
{
    (void)state;
    sync_scope_t s;
    assert_int_equal(sync_scope_down(&s, "hrb/wuchang/shanhe", false), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.item[0].origin, "hrb");
    assert_false(s.item[0].subtree);
    assert_string_equal(s.item[1].origin, "hrb/wuchang");
    assert_false(s.item[1].subtree);
    assert_true(sync_scope_has(&s, "hrb", 3));
    assert_true(sync_scope_has(&s, "hrb/wuchang", 11));
    assert_false(sync_scope_has(&s, "hrb/wuchang/shanhe", 18));
    assert_false(sync_scope_has(&s, "hrb/daoli", 9));
    assert_false(sync_scope_has(&s, "hr", 2));

    assert_int_equal(sync_scope_down(&s, "hrb/wuchang/shanhe", true), 0);
    assert_int_equal(s.n, 3);
    assert_true(s.item[2].subtree);
    assert_true(sync_scope_has(&s, "hrb/wuchang/shanhe", 18));
    assert_true(sync_scope_has(&s, "hrb/wuchang/shanhe/cun", 22));
    assert_false(sync_scope_has(&s, "hrb/wuchang/shanhex", 19));

    assert_int_equal(sync_scope_down(&s, "hrb", false), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(sync_scope_down(&s, "Hrb/x", false), LD_EINVAL);
    assert_int_equal(sync_scope_add(&s, "a/", false), LD_EINVAL);
    for (int i = 0; i < SYNC_SCOPE_MAX; i++)
        assert_int_equal(sync_scope_add(&s, "a", false), 0);
    assert_int_equal(sync_scope_add(&s, "a", false), LD_ETOOBIG);
}

/* Downward: a hub sends a child its ancestors' logs alone, never a
 * sibling's or the hub's other children's. */
static void test_sync_downward_exact_scope(void **state)
{
    fx_t *f = *state;
    store_t *hub = new_store(f, PARENT);
    append_n(hub, 60, "directive");
    add_foreign_log(f, hub, CHILD, 30);
    add_foreign_log(f, hub, GRAND1, 20);
    add_foreign_log(f, hub, "hrb/nangang", 10);
    store_t *town = new_store(f, GRAND1);
    sync_scope_t sc;
    assert_int_equal(sync_scope_down(&sc, GRAND1, false), 0);
    sync_out_opts_t o = {2, 7, 300};
    link_t l;
    memset(&l, 0, sizeof l);
    assert_int_equal(sync_out_new(hub, &sc, &o, &l.out), 0);
    assert_int_equal(sync_in_new(&sc, &l.rx.in), 0);
    l.rx.s = town;
    l.rx.group = 2;
    l.net = (net_t){.rng = 77, .loss = 0.1, .dup = 0.1, .reorder = 0.2, .out = l.out,
                    .window = 2};
    sync_in_start(l.rx.in, 1);
    assert_int_equal(sync_out_start(l.out, 1, NULL, f->clock.now_ms), 0);
    run(f, &l.net, &l.rx, 100000, true);
    store_txn_t *t;
    store_head_t h;
    assert_int_equal(store_read_begin(town, &t), 0);
    assert_int_equal(store_head_get(t, PARENT, &h), 0);
    assert_int_equal(h.seq, 60);
    assert_int_equal(store_head_get(t, CHILD, &h), 0);
    assert_int_equal(h.seq, 30);
    assert_int_equal(store_head_get(t, "hrb/nangang", &h), LD_ENOTFOUND);
    assert_int_equal(store_head_get(t, GRAND1, &h), LD_ENOTFOUND);
    store_read_end(&t);
    assert_int_equal(info_of(town).events, 90);
    link_close(&l);
    store_close(&town);
    store_close(&hub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sync_converges_lossless, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_converges_under_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_converges_under_loss_kept_events, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sync_recovers_after_total_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_send_failures_are_resent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_session_restart_midway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_wiped_parent_is_refilled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_rejects_origin_outside_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_rejects_corrupted_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_out_ack_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_out_rewind_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_in_verdicts, setup, teardown),
        cmocka_unit_test(test_sync_scope_down),
        cmocka_unit_test_setup_teardown(test_sync_downward_exact_scope, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
