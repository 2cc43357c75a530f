/*
 * node_run.c -- the township's sync commands: `run` (the daemon: keeps the
 * link to the district hub up and sends each new event the moment the CLI
 * commits it) and `sync --once` (connect, exchange everything, exit).
 */
#include "common/cli.h"
#include "common/daemon.h"
#include "common/err.h"
#include "common/log.h"
#include "node/node.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct once {
    uv_timer_t deadline, progress;
    bool tty;
    uint64_t total;
    const char *why;
} once_t;

static int parse_run(const cli_ctx_t *ctx, const char *cmd, int argc, char **argv,
                     daemon_opts_t *o, double *timeout_s)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'}, {"heartbeat", required_argument, NULL, 'b'},
        {"timeout", required_argument, NULL, 't'}, {"once", no_argument, NULL, '1'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->dir = optarg; break;
        case 'b':
            o->heartbeat_ms = (unsigned)strtoul(optarg, &end, 10);
            if (*end || o->heartbeat_ms < 10 || o->heartbeat_ms > 600000)
                return cli_usage_error(ctx, cmd, "--heartbeat takes milliseconds, 10..600000");
            break;
        case 't':
            *timeout_s = strtod(optarg, &end);
            if (*end || *timeout_s <= 0)
                return cli_usage_error(ctx, cmd, "--timeout takes seconds");
            break;
        case '1': break;
        case 'h':
            if (strcmp(cmd, "run") == 0)
                printf("usage: %s run [--dir DIR] [--heartbeat MS]\n\n"
                       "The sync daemon: keeps the link to the district hub up, sends every\n"
                       "event recorded here as soon as it is committed, and stores what comes\n"
                       "down from above (joint inspections...). Reconnects by itself with\n"
                       "backoff. SIGINT/SIGTERM stop it cleanly.\n", ctx->prog);
            else
                printf("usage: %s sync --once [--timeout SECONDS] [--dir DIR]\n\n"
                       "Connects to the district hub, sends everything it lacks, receives\n"
                       "what is due from above, and exits 0 only when the hub has\n"
                       "acknowledged everything. Exits 1 with the reason otherwise\n"
                       "(unreachable, key refused, timeout; default timeout 60 s).\n",
                       ctx->prog);
            return 0;
        default: return cli_usage_error(ctx, cmd, "bad option");
        }
    }
    if (optind < argc)
        return cli_usage_error(ctx, cmd, "unexpected argument '%s'", argv[optind]);
    return -1;
}

static json_t *node_ctl(daemon_t *d, const char *cmd, json_t *req)
{
    (void)req;
    if (strcmp(cmd, "status") == 0)
        return daemon_link_json(d);
    return NULL;
}

int node_cmd_run(const cli_ctx_t *ctx, int argc, char **argv)
{
    daemon_opts_t o = {.need_upstream = true};
    double timeout = 0;
    int ret = parse_run(ctx, "run", argc, argv, &o, &timeout);
    if (ret >= 0)
        return ret;
    if (unit_dir_resolve(o.dir ? o.dir : ctx->dir, &o.dir))
        return cli_fail(ctx, LD_EINVAL);
    daemon_t d;
    int rc = daemon_init(&d, &o);
    d.on_ctl = node_ctl;
    if (rc) {
        ret = cli_fail(ctx, rc);
        daemon_destroy(&d);
        return ret;
    }
    log_info("node", "%s running, upstream %s", store_origin(d.unit->store),
             config_get(d.unit->config, "upstream"));
    ret = daemon_run(&d);
    daemon_destroy(&d);
    return ret;
}

/* ---- sync --once ---- */

static void once_finish(daemon_t *d, int code, const char *why)
{
    once_t *w = d->data;
    w->why = why;
    uv_close((uv_handle_t *)&w->deadline, NULL);
    uv_close((uv_handle_t *)&w->progress, NULL);
    daemon_stop(d, code);
}

static void once_check(daemon_t *d)
{
    once_t *w = d->data;
    if (d->stopping)
        return;
    uint64_t pending = link_up_pending(&d->up);
    if (w->tty && d->up.state == LINK_UP_ACTIVE) {
        if (pending > w->total)
            w->total = pending;
        uint64_t done = w->total - pending;
        int pct = w->total ? (int)(done * 100 / w->total) : 100;
        fprintf(stderr, "\rsync: [%-40.*s] %3d%% (%llu/%llu events)", pct * 40 / 100,
                "########################################", pct, (unsigned long long)done,
                (unsigned long long)w->total);
    }
    if (link_up_synced(&d->up))
        once_finish(d, 0, NULL);
}

static void once_on_up(daemon_t *d, link_up_event_t ev)
{
    if (ev == LINK_UP_EV_REFUSED)
        once_finish(d, 1, d->up.last_error);
    else
        once_check(d);
}

static void once_deadline(uv_timer_t *t)
{
    daemon_t *d = t->data;
    static char why[512];
    if (d->up.state == LINK_UP_ACTIVE)
        snprintf(why, sizeof why, "timed out with %llu events not yet acknowledged by the hub",
                 (unsigned long long)link_up_pending(&d->up));
    else
        snprintf(why, sizeof why, "timed out: the hub at %s did not answer (%s)",
                 config_get(d->unit->config, "upstream"),
                 d->up.last_error[0] ? d->up.last_error : "unreachable");
    once_finish(d, 1, why);
}

static void once_tick(uv_timer_t *t) { once_check(t->data); }

int node_cmd_sync(const cli_ctx_t *ctx, int argc, char **argv)
{
    daemon_opts_t o = {.need_upstream = true, .quiet_ctl = true};
    double timeout = 60;
    int ret = parse_run(ctx, "sync", argc, argv, &o, &timeout);
    if (ret >= 0)
        return ret;
    if (unit_dir_resolve(o.dir ? o.dir : ctx->dir, &o.dir))
        return cli_fail(ctx, LD_EINVAL);
    daemon_t d;
    once_t w = {.tty = cli_progress_wanted()};
    int rc = daemon_init(&d, &o);
    if (rc) {
        ret = cli_fail(ctx, rc);
        daemon_destroy(&d);
        return ret;
    }
    d.data = &w;
    d.on_up = once_on_up;
    w.deadline.data = w.progress.data = &d;
    uv_timer_init(&d.loop, &w.deadline);
    uv_timer_init(&d.loop, &w.progress);
    uv_timer_start(&w.deadline, once_deadline, (uint64_t)(timeout * 1000), 0);
    uv_timer_start(&w.progress, once_tick, 50, 50);
    ret = daemon_run(&d);
    if (w.tty)
        fputc('\n', stderr);
    if (ret)
        fprintf(stderr, "%s: sync: %s\n", ctx->prog, w.why ? w.why : "interrupted");
    else
        printf("in sync with %s: %llu events acknowledged, %llu received\n",
               config_get(d.unit->config, "upstream"),
               (unsigned long long)d.up.events_up_acked, (unsigned long long)d.up.events_down);
    daemon_destroy(&d);
    return ret;
}
