/*
 * nudge.h -- tells a running daemon "the store changed" the instant the CLI
 * commits, so a recorded event leaves for the hub at once instead of at the
 * next poll (the latency budget is two milliseconds, which rules polling out).
 *
 * The daemon binds a Unix datagram socket at DIR/run/nudge.sock; the CLI
 * sends one empty datagram to it after its commit. Best effort by design:
 * no daemon, a full socket buffer or a stale path all mean "nothing to do",
 * because the daemon also rescans the store on a slow timer and at start.
 *
 * The listener is loop-bound (libuv lifecycle: init, start, close); the
 * sender is a plain function. Errors per common/err.h.
 */
#ifndef LD_COMMON_NUDGE_H
#define LD_COMMON_NUDGE_H

#include <uv.h>

/* Sends a nudge to the daemon of data directory dir; never blocks, never
 * fails loudly (returns 0 also when nobody listens). */
int nudge_send(const char *dir);

typedef struct nudge nudge_t;
typedef void (*nudge_cb)(nudge_t *n);

struct nudge {
    void *data;
    /* private */
    int fd;
    uv_poll_t poll;
    nudge_cb cb;
    char path[108];
};

/* Binds DIR/run/nudge.sock (creating DIR/run, replacing a stale socket).
 * Errors: negated errno, with err_msg(); LD_EINVAL if the path is too long
 * for a Unix socket. */
int nudge_init(uv_loop_t *loop, nudge_t *n, const char *dir);
/* cb runs once per loop turn in which nudges arrived (they are coalesced). */
int nudge_start(nudge_t *n, nudge_cb cb);
/* Unlinks the socket path; close_cb may be NULL. */
void nudge_close(nudge_t *n, uv_close_cb close_cb);

#endif
