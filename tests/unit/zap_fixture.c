/* zap_fixture.c -- see zap_fixture.h. */
#include "zap_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* ---- plumbing ---- */

void *socket_new(void *ctx, int type)
{
    void *s = zmq_socket(ctx, type);
    int linger = 0;
    assert_non_null(s);
    assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger), 0);
    return s;
}

void new_keys(keys_t *k)
{
    assert_int_equal(zmq_curve_keypair(k->public, k->secret), 0);
}

bool frame_eq(zloop_msg_t *m, size_t i, const char *s)
{
    size_t len;
    const void *d = zloop_msg_data(m, i, &len);
    return len == strlen(s) && memcmp(d, s, len) == 0;
}

void copy_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "(null)");
}

/* Every run is bounded: t->data points at the run's `expired` flag. */
void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
    uv_stop(t->loop);
}

/* Binds three sockets to consecutive ephemeral loopback ports (the hub's
 * "one address, three ports" scheme): the first on port 0, the others next
 * to it; retried when a neighbour port is taken. */
static void bind_three(void *s[3], char ep[3][64])
{
    for (int attempt = 0; attempt < 50; attempt++) {
        size_t len = 64;
        assert_int_equal(zmq_bind(s[0], "tcp://127.0.0.1:*"), 0);
        assert_int_equal(zmq_getsockopt(s[0], ZMQ_LAST_ENDPOINT, ep[0], &len), 0);
        int port = atoi(strrchr(ep[0], ':') + 1), i;
        for (i = 1; i < 3; i++) {
            snprintf(ep[i], 64, "tcp://127.0.0.1:%d", port + i);
            if (zmq_bind(s[i], ep[i]) != 0)
                break;
        }
        if (i == 3)
            return;
        while (--i >= 0)
            zmq_unbind(s[i], ep[i]);
    }
    fail_msg("no three consecutive free ports");
}

/* ---- the hub ---- */

static void on_hub_router(zloop_t *w, zloop_msg_t *m)
{
    hub_t *h = w->data;
    if (m->count != 2 || !frame_eq(m, 1, "hello")) {
        h->evil++;
        return;
    }
    if (h->good_router++ == 0) {
        copy_str(h->router_uid, sizeof h->router_uid, zloop_msg_user_id(m));
        copy_str(h->router_rid_uid, sizeof h->router_rid_uid,
                 zmq_msg_gets(zloop_msg_frame(m, 0), "User-Id"));
    }
    zloop_frame_t f[2];
    f[0].data = zloop_msg_data(m, 0, &f[0].len);
    f[1] = (zloop_frame_t){"welcome", 7};
    assert_int_equal(zloop_sendv(w, f, 2), 0);
}

static void on_hub_sub(zloop_t *w, zloop_msg_t *m)
{
    hub_t *h = w->data;
    if (m->count != 1 || !frame_eq(m, 0, "data")) {
        h->evil++;
        return;
    }
    if (h->good_sub++ == 0)
        copy_str(h->sub_uid, sizeof h->sub_uid, zloop_msg_user_id(m));
}

static void on_monitor(zloop_t *w, zloop_msg_t *m)
{
    hub_t *h = w->data;
    int i = (int)(w - h->w_mon);
    uint16_t event;
    size_t len;
    const uint8_t *d = zloop_msg_data(m, 0, &len);
    if (len < 6)
        return;
    memcpy(&event, d, sizeof event);
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
        h->succeeded[i]++;
    else
        h->failed[i]++;
}

static void hub_watch_monitor(hub_t *h, uv_loop_t *loop, int i)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://monitor-%d", i);
    assert_int_equal(zmq_socket_monitor(h->sock[i], ep,
        ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
        | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH), 0);
    h->mon[i] = socket_new(h->ctx, ZMQ_PAIR);
    assert_int_equal(zmq_connect(h->mon[i], ep), 0);
    assert_int_equal(zloop_init(loop, &h->w_mon[i], h->mon[i]), 0);
    h->w_mon[i].data = h;
    assert_int_equal(zloop_start(&h->w_mon[i], on_monitor), 0);
}

/* The handler first, then the guarded sockets (see the caveat in zap.h). */
void hub_open(hub_t *h, uv_loop_t *loop)
{
    static const int types[3] = {ZMQ_ROUTER, ZMQ_SUB, ZMQ_PUB};
    memset(h, 0, sizeof *h);
    h->ctx = zmq_ctx_new();
    new_keys(&h->keys);
    assert_int_equal(zap_init(loop, &h->zap, h->ctx), 0);
    assert_int_equal(zap_set_domain(&h->zap, DOMAIN), 0);
    assert_int_equal(zap_start(&h->zap), 0);
    for (int i = 0; i < 3; i++) {
        h->sock[i] = socket_new(h->ctx, types[i]);
        assert_int_equal(keys_curve_server(h->sock[i], &h->keys), 0);
        assert_int_equal(zap_guard(&h->zap, h->sock[i]), 0);
        hub_watch_monitor(h, loop, i);
    }
    assert_int_equal(zmq_setsockopt(h->sock[H_SUB], ZMQ_SUBSCRIBE, "", 0), 0);
    bind_three(h->sock, h->ep);
    assert_int_equal(zloop_init(loop, &h->w_router, h->sock[H_ROUTER]), 0);
    assert_int_equal(zloop_init(loop, &h->w_sub, h->sock[H_SUB]), 0);
    h->w_router.data = h->w_sub.data = h;
    assert_int_equal(zloop_start(&h->w_router, on_hub_router), 0);
    assert_int_equal(zloop_start(&h->w_sub, on_hub_sub), 0);
}

/* Closes the guarded sockets before the handler. The context is terminated
 * by hub_term() once the loop has run the close callbacks. */
void hub_close(hub_t *h)
{
    zloop_close(&h->w_router, NULL);
    zloop_close(&h->w_sub, NULL);
    for (int i = 0; i < 3; i++) {
        zloop_close(&h->w_mon[i], NULL);
        zmq_socket_monitor(h->sock[i], NULL, 0);
        zmq_close(h->mon[i]);
        zmq_close(h->sock[i]);
    }
    zap_close(&h->zap, NULL);
}

void hub_term(hub_t *h)
{
    assert_int_equal(zmq_ctx_term(h->ctx), 0);
    keys_wipe(&h->keys);
}
