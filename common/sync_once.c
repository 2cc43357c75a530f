/*
 * sync_once.c -- connect, exchange everything, return; see sync_once.h.
 * A daemon (common/daemon.h) without a control socket, stopped by its own
 * timers: one checks every 50 ms whether the link is in sync, one is the
 * deadline.
 */
#include "common/sync_once.h"
#include "common/daemon.h"
#include "common/err.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct once {
    daemon_t d;
    uv_timer_t deadline, tick;
    sync_once_opts_t o;
    uint64_t total;
    int rc;
    char why[1024];
} once_t;

static void once_finish(once_t *w, int rc, const char *why)
{
    w->rc = rc;
    snprintf(w->why, sizeof w->why, "%s", why ? why : "");
    uv_close((uv_handle_t *)&w->deadline, NULL);
    uv_close((uv_handle_t *)&w->tick, NULL);
    daemon_stop(&w->d, rc ? 1 : 0);
}

static void once_check(once_t *w)
{
    daemon_t *d = &w->d;
    if (d->stopping)
        return;
    uint64_t pending = link_up_pending(&d->up);
    if (w->o.progress && d->up.state == LINK_UP_ACTIVE) {
        if (pending > w->total)
            w->total = pending;
        uint64_t done = w->total - pending;
        int pct = w->total ? (int)(done * 100 / w->total) : 100;
        fprintf(stderr, "\rsync: [%-40.*s] %3d%% (%llu/%llu events up, %llu down)",
                pct * 40 / 100, "########################################", pct,
                (unsigned long long)done, (unsigned long long)w->total,
                (unsigned long long)d->up.events_down);
    }
    if (link_up_synced(&d->up)) {
        int rc = daemon_restore_check(d);
        once_finish(w, rc, rc ? err_msg() : NULL);
    } else if (d->up.forked_above && d->up.state == LINK_UP_ACTIVE && pending == 0) {
        /* Everything went up, but what is due from above cannot be taken:
         * waiting for the timeout would not change that. */
        once_finish(w, LD_EEQUIV, "the logs from above conflict with what this unit holds "
                    "(kept aside, see `status` equivocations): was a hub above restored from "
                    "an old backup and recorded again? Its operator must resolve the fork");
    }
}

static void once_on_up(daemon_t *d, link_up_event_t ev)
{
    once_t *w = (once_t *)d; /* d is the first member */
    if (ev == LINK_UP_EV_REFUSED)
        once_finish(w, LD_EDENIED, d->up.last_error);
    else
        once_check(w);
}

static void once_deadline(uv_timer_t *t)
{
    once_t *w = t->data;
    daemon_t *d = &w->d;
    char why[1024];
    if (d->up.state == LINK_UP_ACTIVE)
        snprintf(why, sizeof why, "timed out with %llu events not yet acknowledged by the hub",
                 (unsigned long long)link_up_pending(&d->up));
    else
        snprintf(why, sizeof why, "timed out: the hub at %s did not answer (%s)",
                 config_get(d->unit->config, "upstream"),
                 d->up.last_error[0] ? d->up.last_error : "unreachable");
    once_finish(w, LD_ETIMEOUT, why);
}

static void once_tick(uv_timer_t *t) { once_check(t->data); }

int sync_once(const char *dir, const sync_once_opts_t *o, sync_once_result_t *res)
{
    once_t *w = calloc(1, sizeof *w);
    if (!w)
        return err_set(LD_ENOMEM, "out of memory");
    w->o = *o;
    /* A command, not a daemon: it reports its outcome in one line, so the
     * link's own log lines only when asked for (LIANDONG_LOG). */
    if (!getenv("LIANDONG_LOG"))
        log_set_level(LOG_SILENT);
    daemon_opts_t dopt = {.dir = dir, .need_upstream = true, .quiet_ctl = true,
                          .restore = o->restore, .heartbeat_ms = o->heartbeat_ms};
    int rc = daemon_init(&w->d, &dopt);
    if (!rc) {
        w->d.on_up = once_on_up;
        w->deadline.data = w->tick.data = w;
        uv_timer_init(&w->d.loop, &w->deadline);
        uv_timer_init(&w->d.loop, &w->tick);
        uv_timer_start(&w->deadline, once_deadline,
                       (uint64_t)((o->timeout_s > 0 ? o->timeout_s : 60) * 1000), 0);
        uv_timer_start(&w->tick, once_tick, 50, 50);
        daemon_run(&w->d);
        if (o->progress)
            fputc('\n', stderr);
        rc = w->rc ? err_set(w->rc, "%s", w->why) : 0;
        if (res) {
            res->acked = w->d.up.events_up_acked;
            res->received = w->d.up.events_down;
        }
    }
    daemon_destroy(&w->d);
    free(w);
    return rc;
}
