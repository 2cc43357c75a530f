/* sync_fixture.c -- see sync_fixture.h. */
#include "sync_fixture.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/err.h"
#include "proto/json.h"

int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->dir = testutil_tmpdir();
    f->clock.now_ms = 1700000000000ull;
    *state = f;
    return 0;
}

int teardown(void **state)
{
    fx_t *f = *state;
    testutil_rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* ---- stores and events ---- */

/* A store in a fresh subdirectory, its origin set and the store reopened. */
store_t *new_store(fx_t *f, const char *origin)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/s%d", f->dir, f->ndirs++);
    assert_int_equal(mkdir(path, 0700), 0);
    store_opts_t o = {0, testutil_clock_ms, &f->clock};
    store_t *s = NULL;
    assert_int_equal(store_open(path, STORE_CREATE, &o, &s), 0);
    assert_int_equal(store_write(s, testutil_set_origin_cb, (void *)origin), 0);
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

void append_n(store_t *s, int n, const char *tag)
{
    append_ctx_t c = {n, tag};
    assert_int_equal(store_write(s, append_cb, &c), 0);
}

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
void add_foreign_log(fx_t *f, store_t *into, const char *origin, int n)
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
store_t *make_child(fx_t *f, int own, int g1, int g2)
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

store_info_t info_of(store_t *s)
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
void assert_converged(store_t *child, store_t *parent)
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

void q_push(queue_t *q, const uint8_t *data, size_t len)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->p = realloc(q->p, q->cap * sizeof *q->p);
    }
    q->p[q->n].data = malloc(len);
    memcpy(q->p[q->n].data, data, len);
    q->p[q->n++].len = len;
}

void q_free(queue_t *q)
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

int send_cb(const uint8_t *msg, size_t len, void *arg)
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

int apply_cb(store_txn_t *t, void *arg)
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
int run(fx_t *f, net_t *n, rx_t *rx, int max_steps, bool until_done)
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

sync_scope_t up_scope(void)
{
    sync_scope_t sc = {0};
    assert_int_equal(sync_scope_add(&sc, CHILD, true), 0);
    return sc;
}

void link_open(link_t *l, store_t *child, store_t *parent, const sync_out_opts_t *o,
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
void link_session(fx_t *f, link_t *l, uint64_t session)
{
    vv_t v = VV_INIT;
    heads_vv(l->rx.s, CHILD, &v);
    sync_in_start(l->rx.in, session);
    assert_int_equal(sync_out_start(l->out, session, &v, f->clock.now_ms), 0);
    assert_false(sync_out_done(l->out));   /* nothing known before a pump */
    vv_free(&v);
}

void link_close(link_t *l)
{
    sync_out_destroy(&l->out);
    sync_in_destroy(&l->rx.in);
    for (int i = 0; i < 8; i++)
        sync_events_free(&l->rx.ev[i]);
    q_free(&l->net.up);
    q_free(&l->net.down);
}
