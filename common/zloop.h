/*
 * zloop.h -- the one adapter that drives a ZeroMQ socket from a libuv loop.
 *
 * A ZeroMQ socket is not a file descriptor. Its ZMQ_FD only says "something
 * changed inside the socket", and it says so edge-triggered: once ZMQ_EVENTS
 * (or any zmq_send/zmq_recv, which process the same internal commands) has
 * consumed the signal, the fd stays quiet however many messages are queued.
 * So a zloop_t uses a uv_poll_t on ZMQ_FD purely as a wake-up, then receives
 * while ZMQ_EVENTS shows ZMQ_POLLIN, at most `budget` messages per loop turn
 * so that one busy socket cannot starve timers and other sockets. When the
 * budget runs out with input still queued, an idle handle continues on the
 * next turn without waiting for a new edge. Every send done through
 * zloop_send()/zloop_sendv() re-checks ZMQ_EVENTS afterwards (a send can eat
 * the edge that announced incoming data); code that calls zmq_send() directly
 * on a watched socket must call zloop_kick() afterwards.
 *
 * The adapter receives whole multipart messages and hands them to the
 * callback as a zloop_msg_t: the frames and their metadata (ZAP "User-Id",
 * "Peer-Address"). ROUTER control messages arrive as [routing id, payload],
 * SUB and DEALER data as [payload]. A message of more than ZLOOP_MAX_FRAMES
 * frames is not ours: it is received to the end, discarded and counted in
 * `dropped`.
 *
 * Lifecycle (libuv's): the caller allocates the zloop_t and owns the ZeroMQ
 * socket; zloop_init() -> zloop_start() -> zloop_stop() -> zloop_close(cb).
 * The zloop_t memory may be released only once the close callback has run.
 * The socket is never closed by the adapter: close it after zloop_close()
 * (the wake-up is detached from the fd synchronously by zloop_close()).
 *
 * Threads: a watched socket belongs to the loop thread; every function here
 * must be called on the thread running `loop`. The receive callback may send,
 * stop or close the watcher; after a stop or close no further message is
 * delivered. Errors are negative codes per common/err.h (libuv codes are
 * negated errno values on Unix, ZeroMQ errors are -zmq_errno()); nothing here
 * logs.
 */
#ifndef LD_COMMON_ZLOOP_H
#define LD_COMMON_ZLOOP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <zmq.h>

#define ZLOOP_MAX_FRAMES 16     /* a ZAP request over ROUTER needs 9 */
#define ZLOOP_BUDGET 256        /* default messages per loop turn */

/* One received multipart message. Frames are owned by the adapter and closed
 * after the receive callback returns; a callback that wants to keep a frame
 * (e.g. to forward its bytes without copying) moves it out with
 * zmq_msg_move(&mine, zloop_msg_frame(m, i)). */
typedef struct zloop_msg {
    size_t count;                       /* frames, 1..ZLOOP_MAX_FRAMES */
    zmq_msg_t frame[ZLOOP_MAX_FRAMES];
} zloop_msg_t;

typedef struct zloop zloop_t;
typedef void (*zloop_recv_cb)(zloop_t *w, zloop_msg_t *msg);
typedef void (*zloop_close_cb)(zloop_t *w);

struct zloop {
    void *data;                 /* user data, untouched by the adapter */
    unsigned budget;            /* messages per loop turn; ZLOOP_BUDGET after init */
    /* read-only statistics */
    uint64_t received;          /* messages handed to the callback */
    uint64_t dropped;           /* messages discarded (too many frames) */
    int error;                  /* last receive error other than EAGAIN, 0 if none */
    /* private */
    void *sock;
    uv_poll_t poll;
    uv_idle_t idle;
    zloop_recv_cb recv_cb;
    zloop_close_cb close_cb;
    int state;
    int closing_handles;
};

/* Prepares w to watch `sock` on `loop`. Any socket type may be watched; for
 * one that never receives (PUB) the watcher still processes the socket's
 * internal commands (subscriptions) promptly and gives zloop_send(). Fails
 * with -(zmq errno) if ZMQ_FD cannot be read, -EEXIST if the socket is
 * already watched on this loop, or another libuv code; on failure nothing
 * needs closing. */
int zloop_init(uv_loop_t *loop, zloop_t *w, void *sock);

/* Starts delivering messages to cb. Messages already queued before the call
 * are delivered too (the adapter checks once on the next loop turn instead of
 * trusting an edge that may be gone). Returns 0 or a libuv code. May be called
 * again after zloop_stop(), also to change the callback. */
int zloop_start(zloop_t *w, zloop_recv_cb cb);

/* Stops delivery; queued messages stay in the socket. Always 0. */
int zloop_stop(zloop_t *w);

/* Stops and releases the libuv handles; cb (may be NULL) runs on a later loop
 * turn, after which w may be freed. The socket stays open and owned by the
 * caller. Calling it twice is a programmer error. */
void zloop_close(zloop_t *w, zloop_close_cb cb);

/* Re-checks ZMQ_EVENTS and, if input is pending, arranges for it to be
 * drained on the next loop turn. Call after any zmq_send()/zmq_recv() done on
 * the watched socket outside this adapter. Never calls the receive callback
 * itself, so it is safe from inside it. */
void zloop_kick(zloop_t *w);

/* Sends one frame, never blocking (ZMQ_DONTWAIT is added to flags; pass
 * ZMQ_SNDMORE for a non-final frame), then re-checks ZMQ_EVENTS. Returns 0,
 * -EAGAIN when the socket cannot take the message now (HWM reached, no peer),
 * or another -(zmq errno) (e.g. -EHOSTUNREACH for an unknown ROUTER peer with
 * ZMQ_ROUTER_MANDATORY). */
int zloop_send(zloop_t *w, const void *data, size_t len, int flags);

typedef struct zloop_frame {
    const void *data;
    size_t len;
} zloop_frame_t;

/* Sends n frames as one multipart message (e.g. ROUTER [routing id,
 * payload]), without blocking, then re-checks ZMQ_EVENTS. ZeroMQ applies the
 * high-water mark to the first frame only, so the message goes out whole or
 * not at all. Errors as zloop_send(). */
int zloop_sendv(zloop_t *w, const zloop_frame_t *frames, size_t n);

/* Sends a zmq_msg_t, taking its content on success (zmq_msg_send semantics;
 * the caller still closes msg either way), then re-checks ZMQ_EVENTS. For
 * forwarding received frames without copying. Errors as zloop_send(). */
int zloop_send_msg(zloop_t *w, zmq_msg_t *msg, int flags);

/* Frame i of m (i < m->count) and its size; the bytes stay valid until the
 * receive callback returns (or the frame is moved out). */
static inline zmq_msg_t *zloop_msg_frame(zloop_msg_t *m, size_t i)
{
    return &m->frame[i];
}
const void *zloop_msg_data(zloop_msg_t *m, size_t i, size_t *len);

/* A metadata property of the connection the message came in on ("User-Id",
 * "Peer-Address", "Socket-Type", or an application "X-..." property), taken
 * from the last frame, which is always one that travelled on the wire (with
 * libzmq 4.3.4 the routing-id frame a ROUTER prepends carries no metadata).
 * NULL if the property is not set. Valid until the callback returns. */
const char *zloop_msg_gets(zloop_msg_t *m, const char *property);

/* The ZAP-authenticated identity: the User-Id set by the ZAP handler (see
 * common/zap.h), i.e. the origin id of a CURVE peer. NULL when the message
 * came over a connection that ZAP did not authenticate (the client side of a
 * CURVE link, NULL mechanism, inproc). */
static inline const char *zloop_msg_user_id(zloop_msg_t *m)
{
    return zloop_msg_gets(m, "User-Id");
}

#endif
