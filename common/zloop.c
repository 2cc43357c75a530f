/*
 * zloop.c -- ZeroMQ sockets on a libuv loop; see zloop.h for the edge-trigger
 * rules this file exists to get right.
 */
#include "common/zloop.h"

#include <assert.h>
#include <errno.h>

enum { ZLOOP_IDLE, ZLOOP_ACTIVE, ZLOOP_CLOSING };

/* The socket's ZMQ_EVENTS. Reading it processes the socket's pending
 * internal commands, which is also what resets the ZMQ_FD signal. */
static int zloop_events(zloop_t *w)
{
    int ev = 0;
    size_t len = sizeof ev;
    if (zmq_getsockopt(w->sock, ZMQ_EVENTS, &ev, &len) != 0) {
        w->error = -zmq_errno();
        return 0;
    }
    return ev;
}

static void msg_close(zloop_msg_t *m)
{
    for (size_t i = 0; i < m->count; i++)
        zmq_msg_close(&m->frame[i]);
    m->count = 0;
}

/* Receives one whole message into m. Returns 1 if a message is ready for the
 * callback, 2 if one was consumed but dropped (too many frames), 0 if none
 * was queued, or a negative code. */
static int recv_one(zloop_t *w, zloop_msg_t *m)
{
    int too_many = 0;
    m->count = 0;
    for (;;) {
        if (m->count == ZLOOP_MAX_FRAMES) {
            /* Over the limit: keep receiving into the last slot so that the
             * rest of the message cannot be mistaken for a new one. */
            zmq_msg_close(&m->frame[--m->count]);
            too_many = 1;
        }
        zmq_msg_t *f = &m->frame[m->count];
        zmq_msg_init(f);
        if (zmq_msg_recv(f, w->sock, ZMQ_DONTWAIT) < 0) {
            int e = zmq_errno();
            zmq_msg_close(f);
            if (m->count == 0 && e == EAGAIN)
                return 0;
            if (m->count == 0 && e == EINTR)
                continue;
            msg_close(m);       /* cannot happen mid-message short of ETERM */
            return -e;
        }
        m->count++;
        if (!zmq_msg_more(f))
            break;
    }
    if (too_many) {
        msg_close(m);
        w->dropped++;
        return 2;
    }
    return 1;
}

/* Delivers up to w->budget messages. Returns 1 if input is still pending
 * afterwards (the budget ran out), 0 otherwise. */
static int drain(zloop_t *w)
{
    zloop_msg_t m;
    unsigned budget = w->budget ? w->budget : ZLOOP_BUDGET;

    for (unsigned n = 0; n < budget; n++) {
        if (w->state != ZLOOP_ACTIVE || !(zloop_events(w) & ZMQ_POLLIN))
            return 0;
        int rc = recv_one(w, &m);
        if (rc < 0) {
            w->error = rc;
            return 0;
        }
        if (rc == 0)
            return 0;
        if (rc == 1) {
            w->received++;
            w->recv_cb(w, &m);
            msg_close(&m);
        }
    }
    return w->state == ZLOOP_ACTIVE && (zloop_events(w) & ZMQ_POLLIN);
}

static void on_idle(uv_idle_t *h)
{
    zloop_t *w = h->data;
    if (!drain(w) && w->state == ZLOOP_ACTIVE)
        uv_idle_stop(&w->idle);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    zloop_t *w = h->data;
    (void)status;   /* an fd error still leaves ZMQ_EVENTS the truth */
    (void)events;
    if (drain(w))
        uv_idle_start(&w->idle, on_idle);
}

int zloop_init(uv_loop_t *loop, zloop_t *w, void *sock)
{
    zmq_fd_t fd;
    size_t len = sizeof fd;
    int rc;

    *w = (zloop_t){.budget = ZLOOP_BUDGET, .sock = sock};
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) != 0)
        return -zmq_errno();
    /* uv_poll_init_socket() fails before registering anything with the
     * loop (bad fd, fd already polled), and uv_idle_init() "always
     * succeeds" (uv.h), so a failed init leaves nothing to close. */
    if ((rc = uv_poll_init_socket(loop, &w->poll, fd)) != 0)
        return rc;
    (void)uv_idle_init(loop, &w->idle);
    w->poll.data = w;
    w->idle.data = w;
    return 0;
}

int zloop_start(zloop_t *w, zloop_recv_cb cb)
{
    assert(cb && w->state != ZLOOP_CLOSING);
    w->recv_cb = cb;
    w->state = ZLOOP_ACTIVE;
    int rc = uv_poll_start(&w->poll, UV_READABLE, on_poll);
    if (rc != 0) {
        w->state = ZLOOP_IDLE;
        return rc;
    }
    /* The edge for messages queued before now may already be spent. */
    return uv_idle_start(&w->idle, on_idle);
}

int zloop_stop(zloop_t *w)
{
    if (w->state == ZLOOP_ACTIVE) {
        w->state = ZLOOP_IDLE;
        uv_poll_stop(&w->poll);
        uv_idle_stop(&w->idle);
    }
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    zloop_t *w = h->data;
    if (--w->closing_handles == 0 && w->close_cb)
        w->close_cb(w);
}

void zloop_close(zloop_t *w, zloop_close_cb cb)
{
    assert(w->state != ZLOOP_CLOSING);
    w->state = ZLOOP_CLOSING;
    w->close_cb = cb;
    w->closing_handles = 2;
    /* uv_close() stops the poll (and removes the fd from epoll) right away,
     * so the caller may close the socket as soon as this returns. */
    uv_close((uv_handle_t *)&w->poll, on_handle_closed);
    uv_close((uv_handle_t *)&w->idle, on_handle_closed);
}

void zloop_kick(zloop_t *w)
{
    if (w->state == ZLOOP_ACTIVE && (zloop_events(w) & ZMQ_POLLIN))
        uv_idle_start(&w->idle, on_idle);
}

/* Finishes a send: re-checks ZMQ_EVENTS whatever the outcome (a failed send
 * processes commands too) and converts the result. */
static int sent(zloop_t *w, int rc)
{
    int e = rc < 0 ? zmq_errno() : 0;
    zloop_kick(w);
    return rc < 0 ? -e : 0;
}

int zloop_send(zloop_t *w, const void *data, size_t len, int flags)
{
    return sent(w, zmq_send(w->sock, data, len, flags | ZMQ_DONTWAIT));
}

int zloop_sendv(zloop_t *w, const zloop_frame_t *frames, size_t n)
{
    assert(n > 0);
    for (size_t i = 0; i < n; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0);
        int rc = zmq_send(w->sock, frames[i].data, frames[i].len, flags);
        if (rc < 0 || i + 1 == n)
            return sent(w, rc);
    }
    return 0;   /* not reached */
}

int zloop_send_msg(zloop_t *w, zmq_msg_t *msg, int flags)
{
    return sent(w, zmq_msg_send(msg, w->sock, flags | ZMQ_DONTWAIT));
}

const void *zloop_msg_data(zloop_msg_t *m, size_t i, size_t *len)
{
    assert(i < m->count);
    if (len)
        *len = zmq_msg_size(&m->frame[i]);
    return zmq_msg_data(&m->frame[i]);
}

const char *zloop_msg_gets(zloop_msg_t *m, const char *property)
{
    if (m->count == 0)
        return NULL;
    return zmq_msg_gets(&m->frame[m->count - 1], property);
}
