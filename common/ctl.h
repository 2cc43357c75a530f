/*
 * ctl.h -- the local control channel between the CLI and a running daemon,
 * for what only the daemon knows: live link state (`children`, `status`).
 *
 * The daemon binds a ZeroMQ REP socket at ipc://DIR/run/ctl.sock (the
 * directory is mode 0700, so only the unit's own user can ask). A request
 * is a JSON object {"cmd": NAME, ...}; the reply is a JSON object. The
 * server runs on the daemon's loop through common/zloop; the handler
 * returns a new reference, or NULL for {"error": "unknown command"}.
 *
 * The client call is synchronous with a timeout: LD_EUNREACH when no daemon
 * answers (not running), so callers can fall back to what the store says.
 */
#ifndef LD_COMMON_CTL_H
#define LD_COMMON_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "common/zloop.h"

typedef struct ctl ctl_t;
typedef json_t *(*ctl_handler_fn)(ctl_t *c, const char *cmd, json_t *req);

struct ctl {
    void *data;
    /* private */
    void *sock;
    zloop_t w;
    ctl_handler_fn handler;
    void (*close_cb)(ctl_t *c);
    char endpoint[160];
};

/* Binds in zctx; errors per common/err.h with err_msg(). */
int ctl_init(uv_loop_t *loop, ctl_t *c, void *zctx, const char *dir);
int ctl_start(ctl_t *c, ctl_handler_fn handler);
/* Stops, closes the socket; cb runs later, then c may be freed. */
void ctl_close(ctl_t *c, void (*cb)(ctl_t *c));

/* True if a daemon holds the lock of data directory dir. */
bool ctl_daemon_running(const char *dir);

/* Asks the daemon of `dir`; *reply is a new reference. */
int ctl_call(const char *dir, json_t *req, int timeout_ms, json_t **reply);

#endif
