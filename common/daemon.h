/*
 * daemon.h -- what `run` (and `sync --once`) of both programs share: the
 * libuv loop, the ZeroMQ context, the unit, the link to the parent hub,
 * the nudge socket the CLI pokes after each commit, the control socket the
 * CLI asks for live state, signals, and the lock that keeps one daemon per
 * data directory.
 *
 * The owner (node or hub) fills the callbacks, calls daemon_init(), adds its
 * own handles to d->loop, then daemon_run(). SIGINT/SIGTERM arrive between
 * loop callbacks, so no transaction is ever open when shutdown begins:
 * everything is closed and daemon_run() returns d->exit_code.
 *
 * Not thread-safe: one daemon per process, everything on its loop.
 */
#ifndef LD_COMMON_DAEMON_H
#define LD_COMMON_DAEMON_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "common/ctl.h"
#include "common/keys.h"
#include "common/link_up.h"
#include "common/nudge.h"
#include "common/unit.h"

typedef struct daemon daemon_t;

typedef struct daemon_opts {
    const char *dir;
    unsigned heartbeat_ms;      /* 0: 1000 */
    bool need_upstream;         /* a node: no upstream configured is an error */
    bool restore;               /* HELLO with MSG_HELLO_RESTORE */
    bool quiet_ctl;             /* no control socket (sync --once) */
    sync_out_opts_t out;
} daemon_opts_t;

struct daemon {
    void *data;
    uv_loop_t loop;
    void *zctx;
    unit_t *unit;
    keys_t keys;
    char epoch[33];
    bool has_up;
    link_up_t up;
    nudge_t nudge;
    ctl_t ctl;
    bool has_ctl, has_nudge, has_handles;
    uv_signal_t sigint, sigterm;
    uv_timer_t slow;            /* rescans for changes a lost nudge missed */
    int lock_fd;
    int exit_code;
    bool stopping;
    bool restoring;             /* this unit's own log is still coming back */
    uint64_t acked_saved_ms;
    daemon_opts_t o;
    /* callbacks (may be NULL) */
    void (*on_change)(daemon_t *d);              /* the store changed locally */
    void (*on_up)(daemon_t *d, link_up_event_t ev);
    json_t *(*on_ctl)(daemon_t *d, const char *cmd, json_t *req);
    void (*on_stop)(daemon_t *d);                /* close the owner's handles */
};

int daemon_init(daemon_t *d, const daemon_opts_t *o);
/* Runs until daemon_stop(); returns the exit code. */
int daemon_run(daemon_t *d);
/* Begins a clean shutdown (idempotent). */
void daemon_stop(daemon_t *d, int exit_code);
/* Frees what daemon_init() made (after daemon_run() returned). */
void daemon_destroy(daemon_t *d);

/* If this unit is being restored and its link is now in sync, ends the
 * restore (unit_restore_done). The link can come into sync on a timer
 * rather than on a link event, so a caller that stops on "synced" calls
 * this first. */
int daemon_restore_check(daemon_t *d);

/* The link's state as the CLI shows it (`status`). New reference. */
json_t *daemon_link_json(daemon_t *d);

/* Saves the parent's acknowledged heads to the store (meta "sync.acked",
 * "sync.last_ok"), so `status` can say what is pending with no daemon. */
int daemon_save_acked(daemon_t *d);

#endif
