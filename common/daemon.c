/*
 * daemon.c -- the scaffolding both daemons share; see daemon.h.
 */
#include "common/daemon.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/msg.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* A batch (~200 KiB; up to MSG_MAX_BYTES) is allocated and freed several
 * times per hop: by libzmq on receipt, by CurveZMQ's encode and decode, by
 * the sender's buffer. glibc's defaults return such memory to the kernel
 * (heap trimmed once 2x the last freed size is free at its top), so each
 * allocation faulted its pages in again, zero-filled: 4.7 % of all CPU in
 * a catch-up, 85,000 minor faults. Keeping up to 8 MiB free per arena, and
 * every message on the heap, halves the faults and costs a hub ~3 MiB of
 * resident memory (docs/performance.md). */
static void tune_malloc(void)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 2 * MSG_MAX_BYTES);
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
#endif
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

typedef struct acked_ctx {
    const vv_t *acked;
    uint64_t last_ok;
} acked_ctx_t;

static int save_acked_fn(store_txn_t *t, void *arg)
{
    acked_ctx_t *a = arg;
    json_t *o = json_object();
    for (size_t i = 0; i < a->acked->n; i++)
        json_object_set_new(o, a->acked->e[i].origin,
                            json_integer((json_int_t)a->acked->e[i].seq));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return err_set(LD_ENOMEM, "out of memory");
    int rc = store_meta_put(t, "sync.acked", text, strlen(text));
    free(text);
    if (!rc && a->last_ok)
        rc = store_meta_put(t, "sync.last_ok", &a->last_ok, sizeof a->last_ok);
    return rc;
}

int daemon_save_acked(daemon_t *d)
{
    if (!d->has_up || d->up.state != LINK_UP_ACTIVE)
        return 0;
    acked_ctx_t a = {sync_out_acked(d->up.out), link_up_synced(&d->up) ? wall_ms() : 0};
    return store_write(d->unit->store, save_acked_fn, &a);
}

json_t *daemon_link_json(daemon_t *d)
{
    if (!d->has_up)
        return json_pack("{s:b}", "configured", 0);
    static const char *const states[] = {"connecting", "waiting for WELCOME", "connected"};
    uv_update_time(&d->loop);
    uint64_t now = uv_now(&d->loop);
    return json_pack("{s:b, s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
        "configured", 1, "state", states[d->up.state],
        "reachable", d->up.state == LINK_UP_ACTIVE, "synced", link_up_synced(&d->up),
        "pending_upstream", (json_int_t)link_up_pending(&d->up),
        "sessions", (json_int_t)d->up.sessions,
        "events_down", (json_int_t)d->up.events_down,
        "batches_down", (json_int_t)d->up.batches_down,
        "forked_above", (json_int_t)d->up.forked_above,
        "last_ok_ms_ago", (json_int_t)(d->up.last_ok_ms ? (int64_t)(now - d->up.last_ok_ms) : -1),
        "last_rx_ms_ago", (json_int_t)(d->up.last_rx_ms ? (int64_t)(now - d->up.last_rx_ms) : -1),
        "last_error", d->up.last_error);
}

static void on_nudge(nudge_t *n)
{
    daemon_t *d = n->data;
    if (d->has_up)
        link_up_pump(&d->up);
    if (d->on_change)
        d->on_change(d);
}

int daemon_restore_check(daemon_t *d)
{
    if (!d->restoring || !d->has_up || !link_up_synced(&d->up))
        return 0;
    int rc = unit_restore_done(d->unit);
    if (rc)
        log_error("daemon", "finishing the restore: %s", err_msg());
    else
        log_info("daemon", "restore complete: this unit's log is back from its hub");
    d->restoring = rc != 0;
    return rc;
}

static void on_up(link_up_t *l, link_up_event_t ev)
{
    daemon_t *d = l->data;
    daemon_restore_check(d);
    if (ev == LINK_UP_EV_ACKED && link_up_synced(l)) {
        uint64_t now = uv_now(&d->loop);
        if (now - d->acked_saved_ms > 5000) {
            d->acked_saved_ms = now;
            daemon_save_acked(d);
        }
    }
    if (d->on_up)
        d->on_up(d, ev);
}

static json_t *on_ctl(ctl_t *c, const char *cmd, json_t *req)
{
    daemon_t *d = c->data;
    if (strcmp(cmd, "link") == 0)
        return daemon_link_json(d);
    return d->on_ctl ? d->on_ctl(d, cmd, req) : NULL;
}

static void on_signal(uv_signal_t *s, int signum)
{
    daemon_t *d = s->data;
    log_info("daemon", "signal %d: shutting down", signum);
    daemon_stop(d, 0);
}

static void on_slow(uv_timer_t *t)
{
    daemon_t *d = t->data;
    on_nudge(&d->nudge);
}

static int lock_dir(daemon_t *d)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/run", d->unit->dir);
    if (mkdir(path, 0700) && errno != EEXIST)
        return err_set(err_from_errno(errno), "%s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/run/daemon.lock", d->unit->dir);
    d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d->lock_fd < 0)
        return err_set(err_from_errno(errno), "%s: %s", path, strerror(errno));
    if (flock(d->lock_fd, LOCK_EX | LOCK_NB))
        return err_set(LD_EEXIST, "another daemon is already running on %s", d->unit->dir);
    return 0;
}

static int start_up_link(daemon_t *d)
{
    const char *up = config_get(d->unit->config, "upstream");
    if (!up || !*up)
        return d->o.need_upstream
                   ? err_set(LD_ECONFIG, "no upstream hub configured (config set upstream "
                             "tcp://HOST:PORT and config set upstream_key KEY)")
                   : 0;
    bool pending = false;
    int rc = unit_restore_pending(d->unit, &pending);
    if (rc)
        return rc;
    d->restoring = pending;
    link_up_opts_t lo = {
        .endpoint = up, .server_key = config_get(d->unit->config, "upstream_key"),
        .keys = &d->keys, .origin = store_origin(d->unit->store), .epoch = d->epoch,
        .hello_flags = d->o.restore || pending ? MSG_HELLO_RESTORE : 0,
        .heartbeat_ms = d->o.heartbeat_ms, .out = d->o.out,
    };
    rc = link_up_init(&d->loop, &d->up, d->zctx, d->unit->store, &lo);
    if (rc)
        return rc;
    d->has_up = true;
    d->up.data = d;
    return link_up_start(&d->up, on_up);
}

int daemon_init(daemon_t *d, const daemon_opts_t *o)
{
    memset(d, 0, sizeof *d);
    d->o = *o;
    d->lock_fd = -1;
    tune_malloc();   /* before libzmq starts its threads and their arenas */
    uv_loop_init(&d->loop);
    int rc = unit_open(o->dir, NULL, &d->unit);
    if (!rc)
        rc = lock_dir(d);
    if (!rc)
        rc = keys_load(o->dir, &d->keys);
    if (!rc)
        rc = unit_epoch(d->unit, d->epoch);
    if (rc)
        return rc;
    d->zctx = zmq_ctx_new();
    if (!d->zctx)
        return err_set(LD_ENOMEM, "cannot create the ZeroMQ context");
    if ((rc = nudge_init(&d->loop, &d->nudge, o->dir)))
        return rc;
    d->has_nudge = true;
    d->nudge.data = d;
    nudge_start(&d->nudge, on_nudge);
    if (!o->quiet_ctl) {
        if ((rc = ctl_init(&d->loop, &d->ctl, d->zctx, o->dir)))
            return rc;
        d->has_ctl = true;
        d->ctl.data = d;
        ctl_start(&d->ctl, on_ctl);
    }
    uv_signal_init(&d->loop, &d->sigint);
    uv_signal_init(&d->loop, &d->sigterm);
    d->sigint.data = d->sigterm.data = d;
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_timer_init(&d->loop, &d->slow);
    d->slow.data = d;
    uv_timer_start(&d->slow, on_slow, 1000, 1000);
    d->has_handles = true;
    return start_up_link(d);
}

int daemon_run(daemon_t *d)
{
    uv_run(&d->loop, UV_RUN_DEFAULT);
    return d->exit_code;
}

static void close_handle(uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h))
        uv_close(h, NULL);
}

void daemon_stop(daemon_t *d, int exit_code)
{
    if (d->stopping)
        return;
    d->stopping = true;
    d->exit_code = exit_code;
    daemon_save_acked(d);
    if (d->on_stop)
        d->on_stop(d);
    if (d->has_up)
        link_up_close(&d->up, NULL);
    if (d->has_ctl)
        ctl_close(&d->ctl, NULL);
    if (d->has_nudge)
        nudge_close(&d->nudge, NULL);
    if (d->has_handles) {
        close_handle((uv_handle_t *)&d->sigint);
        close_handle((uv_handle_t *)&d->sigterm);
        close_handle((uv_handle_t *)&d->slow);
    }
    d->has_up = d->has_ctl = d->has_nudge = d->has_handles = false;
}

void daemon_destroy(daemon_t *d)
{
    daemon_stop(d, d->exit_code); /* after a failed init: close what was opened */
    /* Run the loop once more so close callbacks complete before it closes. */
    uv_run(&d->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&d->loop) == UV_EBUSY)
        log_warn("daemon", "loop closed with handles still open");
    if (d->zctx)
        zmq_ctx_term(d->zctx);
    keys_wipe(&d->keys);
    unit_close(&d->unit);
    if (d->lock_fd >= 0)
        close(d->lock_fd);
}
