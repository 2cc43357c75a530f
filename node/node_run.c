/*
 * node_run.c -- the township's sync commands: `run` (the daemon: keeps the
 * link to the district hub up and sends each new event the moment the CLI
 * commits it) and `sync --once` (connect, exchange everything, exit).
 */
#include "common/cli.h"
#include "common/daemon.h"
#include "common/err.h"
#include "common/log.h"
#include "common/sync_once.h"
#include "node/node.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int node_cmd_sync(const cli_ctx_t *ctx, int argc, char **argv)
{
    daemon_opts_t o = {0};
    double timeout = 60;
    int ret = parse_run(ctx, "sync", argc, argv, &o, &timeout);
    if (ret >= 0)
        return ret;
    if (unit_dir_resolve(o.dir ? o.dir : ctx->dir, &o.dir))
        return cli_fail(ctx, LD_EINVAL);
    sync_once_opts_t so = {.timeout_s = timeout, .heartbeat_ms = o.heartbeat_ms,
                           .progress = cli_progress_wanted()};
    sync_once_result_t res = {0};
    int rc = sync_once(o.dir, &so, &res);
    if (rc) {
        fprintf(stderr, "%s: sync: %s\n", ctx->prog, err_msg());
        return 1;
    }
    printf("in sync: %llu events acknowledged by the hub, %llu received\n",
           (unsigned long long)res.acked, (unsigned long long)res.received);
    return 0;
}
