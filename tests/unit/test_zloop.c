/*
 * test_zloop.c -- ZeroMQ sockets driven from a libuv loop.
 *
 * Every test is bounded by a uv timer: a lost edge shows up as a stall, the
 * deadline fires and the test fails (test_zloop_stall_is_caught proves the
 * harness does catch one, with a deliberately naive adapter).
 */
#include "common/err.h"
#include "common/zloop.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define N_STREAM 100000u
#define N_PINGPONG 10000u
#define DEADLINE_MS 30000   /* generous for sanitizer builds; a pass takes far less */

typedef struct harness {
    uv_loop_t loop;
    uv_timer_t deadline;
    bool expired;
    void *ctx;
} harness_t;

static void on_deadline(uv_timer_t *t)
{
    harness_t *h = t->data;
    h->expired = true;
    zmq_ctx_shutdown(h->ctx);   /* unblocks sender threads with ETERM */
    uv_stop(&h->loop);
}

static void harness_init(harness_t *h, uint64_t ms)
{
    memset(h, 0, sizeof *h);
    assert_int_equal(uv_loop_init(&h->loop), 0);
    assert_int_equal(uv_timer_init(&h->loop, &h->deadline), 0);
    h->deadline.data = h;
    assert_int_equal(uv_timer_start(&h->deadline, on_deadline, ms, 0), 0);
    h->ctx = zmq_ctx_new();
    assert_non_null(h->ctx);
}

/* Call after every watcher has been zloop_close()d and its socket closed. */
static void harness_done(harness_t *h)
{
    uv_close((uv_handle_t *)&h->deadline, NULL);
    assert_int_equal(uv_run(&h->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    assert_int_equal(zmq_ctx_term(h->ctx), 0);
}

static void *socket_new(harness_t *h, int type)
{
    void *s = zmq_socket(h->ctx, type);
    int linger = 0;
    assert_non_null(s);
    assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger), 0);
    return s;
}

/* Binds to an ephemeral loopback port and returns the endpoint. */
static void bind_ephemeral(void *s, char *endpoint, size_t size)
{
    assert_int_equal(zmq_bind(s, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, endpoint, &size), 0);
}

/* ---- 100,000 messages from a sender thread ---- */

typedef struct sender {
    void *ctx;
    const char *endpoint;
    unsigned n;
    int rc;
} sender_t;

static void *sender_main(void *arg)
{
    sender_t *s = arg;
    void *push = zmq_socket(s->ctx, ZMQ_PUSH);
    if (!push || zmq_connect(push, s->endpoint) != 0) {
        s->rc = -zmq_errno();
        return NULL;
    }
    for (uint32_t i = 0; i < s->n; i++) {
        if (zmq_send(push, &i, sizeof i, 0) != (int)sizeof i) {
            s->rc = -zmq_errno();
            break;
        }
    }
    int linger = s->rc ? 0 : -1;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(push);
    return NULL;
}

typedef struct stream {
    harness_t *h;
    uint32_t next;
    unsigned out_of_order;
    const char *socket_type;    /* metadata of the first message */
    bool socket_type_ok;
} stream_t;

static void on_stream(zloop_t *w, zloop_msg_t *m)
{
    stream_t *st = w->data;
    size_t len;
    const uint32_t *v = zloop_msg_data(m, 0, &len);
    if (st->next == 0 && st->socket_type)
        st->socket_type_ok = zloop_msg_gets(m, "Socket-Type")
            && strcmp(zloop_msg_gets(m, "Socket-Type"), st->socket_type) == 0;
    if (m->count != 1 || len != sizeof *v || *v != st->next)
        st->out_of_order++;
    if (++st->next == N_STREAM)
        uv_stop(&st->h->loop);
}

static void stream_through_loop(const char *endpoint_or_null)
{
    harness_t h;
    char endpoint[256] = "inproc://zloop-stream";
    harness_init(&h, DEADLINE_MS);

    void *pull = socket_new(&h, ZMQ_PULL);
    if (endpoint_or_null)
        bind_ephemeral(pull, endpoint, sizeof endpoint);
    else
        assert_int_equal(zmq_bind(pull, endpoint), 0);

    zloop_t w;
    stream_t st = {.h = &h, .socket_type = endpoint_or_null ? "PUSH" : NULL};
    assert_int_equal(zloop_init(&h.loop, &w, pull), 0);
    w.data = &st;
    assert_int_equal(zloop_start(&w, on_stream), 0);

    sender_t snd = {.ctx = h.ctx, .endpoint = endpoint, .n = N_STREAM};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, sender_main, &snd), 0);
    uv_run(&h.loop, UV_RUN_DEFAULT);
    pthread_join(th, NULL);

    zloop_close(&w, NULL);
    zmq_close(pull);
    harness_done(&h);

    assert_false(h.expired);
    assert_int_equal(snd.rc, 0);
    assert_int_equal(st.next, N_STREAM);
    assert_int_equal(st.out_of_order, 0);
    assert_int_equal(w.received, N_STREAM);
    if (endpoint_or_null)
        assert_true(st.socket_type_ok);
}

static void test_zloop_stream_inproc(void **state)
{
    (void)state;
    stream_through_loop(NULL);
}

static void test_zloop_stream_tcp(void **state)
{
    (void)state;
    stream_through_loop("tcp");
}

/* ---- budget: a deep queue is drained over several loop turns ---- */

typedef struct turns {
    unsigned this_turn, max_turn, turns_with_input, total, target;
    harness_t *h;
} turns_t;

static void on_counted(zloop_t *w, zloop_msg_t *m)
{
    turns_t *t = w->data;
    (void)m;
    t->this_turn++;
    if (++t->total == t->target)
        uv_stop(&t->h->loop);
}

static void on_check(uv_check_t *c)
{
    turns_t *t = c->data;
    if (t->this_turn) {
        t->turns_with_input++;
        if (t->this_turn > t->max_turn)
            t->max_turn = t->this_turn;
    }
    t->this_turn = 0;
}

/* Fills a PAIR over inproc with n messages before the loop runs; returns
 * the receiving end. The queue then holds everything behind a single edge. */
static void *preloaded_pair(harness_t *h, const char *endpoint, unsigned n, void **tx_out)
{
    int unlimited = 0;
    void *rx = socket_new(h, ZMQ_PAIR), *tx = socket_new(h, ZMQ_PAIR);
    assert_int_equal(zmq_setsockopt(rx, ZMQ_RCVHWM, &unlimited, sizeof unlimited), 0);
    assert_int_equal(zmq_setsockopt(tx, ZMQ_SNDHWM, &unlimited, sizeof unlimited), 0);
    assert_int_equal(zmq_bind(rx, endpoint), 0);
    assert_int_equal(zmq_connect(tx, endpoint), 0);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(zmq_send(tx, &i, sizeof i, ZMQ_DONTWAIT), (int)sizeof i);
    *tx_out = tx;
    return rx;
}

static void test_zloop_budget_spreads_over_turns(void **state)
{
    (void)state;
    harness_t h;
    void *tx;
    const unsigned n = 10000, budget = 100;
    harness_init(&h, DEADLINE_MS);
    void *rx = preloaded_pair(&h, "inproc://zloop-budget", n, &tx);

    turns_t t = {.target = n, .h = &h};
    uv_check_t check;
    uv_check_init(&h.loop, &check);
    check.data = &t;
    uv_check_start(&check, on_check);

    zloop_t w;
    assert_int_equal(zloop_init(&h.loop, &w, rx), 0);
    w.data = &t;
    w.budget = budget;
    assert_int_equal(zloop_start(&w, on_counted), 0);
    uv_run(&h.loop, UV_RUN_DEFAULT);
    on_check(&check);   /* account for the turn uv_stop() cut short */

    zloop_close(&w, NULL);
    uv_close((uv_handle_t *)&check, NULL);
    zmq_close(rx);
    zmq_close(tx);
    harness_done(&h);

    assert_false(h.expired);
    assert_int_equal(t.total, n);
    assert_true(t.max_turn <= budget);
    assert_true(t.turns_with_input >= n / budget);
}

/* ---- the harness catches a stall ---- */

/* What a wrong adapter does: one zmq_recv per readable fd, trusting the fd to
 * fire again while messages are queued. It does not. */
typedef struct naive {
    turns_t t;
    void *sock;
} naive_t;

static void on_naive(uv_poll_t *p, int status, int events)
{
    naive_t *nv = p->data;
    uint32_t v;
    (void)status;
    (void)events;
    if (zmq_recv(nv->sock, &v, sizeof v, ZMQ_DONTWAIT) >= 0
        && ++nv->t.total == nv->t.target)
        uv_stop(&nv->t.h->loop);
}

static void test_zloop_stall_is_caught(void **state)
{
    (void)state;
    harness_t h;
    void *tx;
    const unsigned n = 1000;
    harness_init(&h, 300);
    void *rx = preloaded_pair(&h, "inproc://zloop-naive", n, &tx);

    naive_t nv = {.t = {.target = n, .h = &h}, .sock = rx};
    zmq_fd_t fd;
    size_t len = sizeof fd;
    assert_int_equal(zmq_getsockopt(rx, ZMQ_FD, &fd, &len), 0);
    uv_poll_t p;
    assert_int_equal(uv_poll_init_socket(&h.loop, &p, fd), 0);
    p.data = &nv;
    uv_poll_start(&p, UV_READABLE, on_naive);
    uv_run(&h.loop, UV_RUN_DEFAULT);

    uv_close((uv_handle_t *)&p, NULL);
    zmq_close(rx);
    zmq_close(tx);
    harness_done(&h);

    /* The naive reader stalls with messages queued, and the deadline is what
     * ends the run: exactly what the other tests would report as a failure. */
    assert_true(h.expired);
    assert_true(nv.t.total < n);
}

/* ---- ping-pong: every reply is sent from inside the receive callback ---- */

typedef struct pingpong {
    harness_t *h;
    zloop_t client, server;
    uint32_t next;              /* the ping the client is waiting for */
    unsigned errors;
    bool router;                /* server is a ROUTER: [routing id, payload] */
} pingpong_t;

static void on_server(zloop_t *w, zloop_msg_t *m)
{
    pingpong_t *pp = w->data;
    int rc;
    if (pp->router) {
        zloop_frame_t f[2];
        if (m->count != 2) {
            pp->errors++;
            return;
        }
        f[0].data = zloop_msg_data(m, 0, &f[0].len);
        f[1].data = zloop_msg_data(m, 1, &f[1].len);
        rc = zloop_sendv(w, f, 2);
    } else {
        size_t len;
        const void *d = zloop_msg_data(m, 0, &len);
        rc = zloop_send(w, d, len, 0);
    }
    if (rc != 0)
        pp->errors++;
}

static void on_client(zloop_t *w, zloop_msg_t *m)
{
    pingpong_t *pp = w->data;
    size_t len;
    const uint32_t *v = zloop_msg_data(m, 0, &len);
    if (m->count != 1 || len != sizeof *v || *v != pp->next)
        pp->errors++;
    if (++pp->next == N_PINGPONG) {
        uv_stop(&pp->h->loop);
        return;
    }
    if (zloop_send(w, &pp->next, sizeof pp->next, 0) != 0)
        pp->errors++;
}

static void pingpong_run(int client_type, int server_type, bool tcp)
{
    harness_t h;
    char endpoint[256] = "inproc://zloop-pingpong";
    harness_init(&h, DEADLINE_MS);
    void *srv = socket_new(&h, server_type), *cli = socket_new(&h, client_type);
    if (tcp)
        bind_ephemeral(srv, endpoint, sizeof endpoint);
    else
        assert_int_equal(zmq_bind(srv, endpoint), 0);
    assert_int_equal(zmq_connect(cli, endpoint), 0);

    pingpong_t pp = {.h = &h, .router = server_type == ZMQ_ROUTER};
    assert_int_equal(zloop_init(&h.loop, &pp.server, srv), 0);
    assert_int_equal(zloop_init(&h.loop, &pp.client, cli), 0);
    pp.server.data = pp.client.data = &pp;
    assert_int_equal(zloop_start(&pp.server, on_server), 0);
    assert_int_equal(zloop_start(&pp.client, on_client), 0);
    /* The first ping leaves before the connection is up: DEALER and PAIR
     * queue it. */
    assert_int_equal(zloop_send(&pp.client, &pp.next, sizeof pp.next, 0), 0);
    uv_run(&h.loop, UV_RUN_DEFAULT);

    zloop_close(&pp.server, NULL);
    zloop_close(&pp.client, NULL);
    zmq_close(srv);
    zmq_close(cli);
    harness_done(&h);

    assert_false(h.expired);
    assert_int_equal(pp.errors, 0);
    assert_int_equal(pp.next, N_PINGPONG);
}

static void test_zloop_pingpong_tcp_dealer_router(void **state)
{
    (void)state;
    pingpong_run(ZMQ_DEALER, ZMQ_ROUTER, true);
}

static void test_zloop_pingpong_inproc_pair(void **state)
{
    (void)state;
    pingpong_run(ZMQ_PAIR, ZMQ_PAIR, false);
}

/* ---- sends from outside the socket's own callback ---- */

/* Requests leave from a uv_check callback (as heartbeats leave from timers, or
 * ACKs on ROUTER from the SUB callback), up to WINDOW outstanding, while
 * replies arrive. Such a send can process the very command that signalled a
 * reply, resetting ZMQ_FD: only the re-check inside zloop_send() notices.
 * The drain loop cannot, as it is not running. */
#define WINDOW 64
#define N_PIPELINE 50000u   /* without the re-check this stalls within ~4,000 */

typedef struct pipeline {
    harness_t *h;
    zloop_t client, server;
    uint32_t sent, replies;
    unsigned errors;
} pipeline_t;

static void on_pipeline_reply(zloop_t *w, zloop_msg_t *m)
{
    pipeline_t *pl = w->data;
    size_t len;
    const uint32_t *v = zloop_msg_data(m, 0, &len);
    if (m->count != 1 || len != sizeof *v || *v != pl->replies)
        pl->errors++;
    if (++pl->replies == N_PIPELINE)
        uv_stop(&pl->h->loop);
}

static void on_pipeline_check(uv_check_t *c)
{
    pipeline_t *pl = c->data;
    for (int i = 0; i < 8 && pl->sent < N_PIPELINE && pl->sent - pl->replies < WINDOW; i++) {
        if (zloop_send(&pl->client, &pl->sent, sizeof pl->sent, 0) != 0)
            break;
        pl->sent++;
    }
}

static void on_pipeline_request(zloop_t *w, zloop_msg_t *m)
{
    pipeline_t *pl = w->data;
    zloop_frame_t f[2];
    if (m->count != 2) {
        pl->errors++;
        return;
    }
    f[0].data = zloop_msg_data(m, 0, &f[0].len);
    f[1].data = zloop_msg_data(m, 1, &f[1].len);
    if (zloop_sendv(w, f, 2) != 0)
        pl->errors++;
}

static void test_zloop_send_outside_callback(void **state)
{
    (void)state;
    harness_t h;
    char endpoint[256];
    harness_init(&h, DEADLINE_MS);
    void *srv = socket_new(&h, ZMQ_ROUTER), *cli = socket_new(&h, ZMQ_DEALER);
    bind_ephemeral(srv, endpoint, sizeof endpoint);
    assert_int_equal(zmq_connect(cli, endpoint), 0);

    pipeline_t pl = {.h = &h};
    assert_int_equal(zloop_init(&h.loop, &pl.server, srv), 0);
    assert_int_equal(zloop_init(&h.loop, &pl.client, cli), 0);
    pl.server.data = pl.client.data = &pl;
    assert_int_equal(zloop_start(&pl.server, on_pipeline_request), 0);
    assert_int_equal(zloop_start(&pl.client, on_pipeline_reply), 0);
    /* The check handle runs after every poll phase: whenever the loop wakes,
     * the client tops its window up. */
    uv_check_t check;
    uv_check_init(&h.loop, &check);
    check.data = &pl;
    uv_check_start(&check, on_pipeline_check);
    on_pipeline_check(&check);
    uv_run(&h.loop, UV_RUN_DEFAULT);

    uv_close((uv_handle_t *)&check, NULL);
    zloop_close(&pl.server, NULL);
    zloop_close(&pl.client, NULL);
    zmq_close(srv);
    zmq_close(cli);
    harness_done(&h);

    assert_false(h.expired);
    assert_int_equal(pl.errors, 0);
    assert_int_equal(pl.replies, N_PIPELINE);
}

/* ---- framing, stop and close from inside the callback ---- */

static void on_closed(zloop_t *w);

typedef struct frames {
    harness_t *h;
    unsigned seen, stop_after;
    size_t last_count;
    bool close_inside, closed, closed_synchronously;
} frames_t;

static void on_frames(zloop_t *w, zloop_msg_t *m)
{
    frames_t *f = w->data;
    f->seen++;
    f->last_count = m->count;
    if (f->seen == f->stop_after) {
        if (f->close_inside) {
            zloop_close(w, on_closed);
            f->closed_synchronously = f->closed;
        } else {
            zloop_stop(w);
        }
        uv_stop(&f->h->loop);
    }
}

static void test_zloop_too_many_frames_dropped(void **state)
{
    (void)state;
    harness_t h;
    harness_init(&h, DEADLINE_MS);
    void *rx = socket_new(&h, ZMQ_PAIR), *tx = socket_new(&h, ZMQ_PAIR);
    assert_int_equal(zmq_bind(rx, "inproc://zloop-frames"), 0);
    assert_int_equal(zmq_connect(tx, "inproc://zloop-frames"), 0);
    for (int i = 0; i < ZLOOP_MAX_FRAMES + 4; i++)
        zmq_send(tx, "x", 1, i + 1 < ZLOOP_MAX_FRAMES + 4 ? ZMQ_SNDMORE : 0);
    for (int i = 0; i < ZLOOP_MAX_FRAMES; i++)   /* exactly the limit: fine */
        zmq_send(tx, "y", 1, i + 1 < ZLOOP_MAX_FRAMES ? ZMQ_SNDMORE : 0);
    zmq_send(tx, "z", 1, 0);

    frames_t f = {.h = &h, .stop_after = 2};
    zloop_t w;
    assert_int_equal(zloop_init(&h.loop, &w, rx), 0);
    w.data = &f;
    assert_int_equal(zloop_start(&w, on_frames), 0);
    uv_run(&h.loop, UV_RUN_DEFAULT);

    zloop_close(&w, NULL);
    zmq_close(rx);
    zmq_close(tx);
    harness_done(&h);
    assert_false(h.expired);
    assert_int_equal(w.dropped, 1);
    assert_int_equal(w.received, 2);
    assert_int_equal(f.last_count, 1);     /* "z", a message of its own */
}

static void on_closed(zloop_t *w)
{
    ((frames_t *)w->data)->closed = true;
}

/* Stop inside the callback: nothing more is delivered, the rest stays
 * queued and arrives after a restart. Then close inside the callback. */
static void test_zloop_stop_and_close_inside_callback(void **state)
{
    (void)state;
    harness_t h;
    void *tx;
    harness_init(&h, DEADLINE_MS);
    void *rx = preloaded_pair(&h, "inproc://zloop-stop", 50, &tx);

    frames_t f = {.h = &h, .stop_after = 10};
    zloop_t w;
    assert_int_equal(zloop_init(&h.loop, &w, rx), 0);
    w.data = &f;
    assert_int_equal(zloop_start(&w, on_frames), 0);
    uv_run(&h.loop, UV_RUN_DEFAULT);
    assert_int_equal(f.seen, 10);
    uv_run(&h.loop, UV_RUN_NOWAIT);        /* stopped: a turn delivers nothing */
    assert_int_equal(f.seen, 10);

    f.stop_after = 50;
    f.close_inside = true;
    assert_int_equal(zloop_start(&w, on_frames), 0);
    uv_run(&h.loop, UV_RUN_DEFAULT);
    assert_int_equal(f.seen, 50);
    assert_false(f.closed_synchronously);   /* libuv: the callback comes later */
    assert_true(f.closed);

    zmq_close(rx);
    zmq_close(tx);
    harness_done(&h);
    assert_false(h.expired);
}

/* A send on a socket with no peer does not block and says so. */
static void test_zloop_send_would_block(void **state)
{
    (void)state;
    harness_t h;
    harness_init(&h, DEADLINE_MS);
    void *s = socket_new(&h, ZMQ_DEALER);
    zloop_t w;
    assert_int_equal(zloop_init(&h.loop, &w, s), 0);
    assert_int_equal(zloop_send(&w, "x", 1, 0), -EAGAIN);
    assert_string_equal(err_str(-EAGAIN), strerror(EAGAIN));
    zloop_close(&w, NULL);
    zmq_close(s);
    harness_done(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zloop_stream_inproc),
        cmocka_unit_test(test_zloop_stream_tcp),
        cmocka_unit_test(test_zloop_budget_spreads_over_turns),
        cmocka_unit_test(test_zloop_stall_is_caught),
        cmocka_unit_test(test_zloop_pingpong_tcp_dealer_router),
        cmocka_unit_test(test_zloop_pingpong_inproc_pair),
        cmocka_unit_test(test_zloop_send_outside_callback),
        cmocka_unit_test(test_zloop_too_many_frames_dropped),
        cmocka_unit_test(test_zloop_stop_and_close_inside_callback),
        cmocka_unit_test(test_zloop_send_would_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
