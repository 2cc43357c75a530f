/*
 * hub_run.c -- the hub daemon (`run`) and the commands that manage its
 * children (`allow`, `deny`, `children`).
 *
 * The daemon wires three things on one loop: the ZAP handler (which keys
 * may connect, and as whom), the children (sessions, group commit), and,
 * when this hub has a parent, its own upward link. New events from below
 * are pumped upward; new events from above, or recorded here, are pumped
 * down to every child.
 */
#include "common/cli.h"
#include "common/ctl.h"
#include "common/daemon.h"
#include "common/err.h"
#include "common/log.h"
#include "common/nudge.h"
#include "hub/children.h"
#include "hub/hub.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

typedef struct hub {
    daemon_t d;
    zap_t zap;
    children_t children;
    bool zap_open, children_open;
    uint64_t allow_version;
} hub_t;

static int allow_one(const char *origin, const char *key, void *arg)
{
    int rc = zap_allow(arg, origin, key);
    if (rc)
        log_warn("hub", "allow %s: %s", origin, err_msg());
    return 0;
}

static uint64_t allow_version(store_t *s)
{
    store_txn_t *t;
    uint64_t v = 0;
    const void *p;
    size_t len;
    if (store_read_begin(s, &t) == 0) {
        if (store_meta_get(t, "allow.version", &p, &len) == 0 && len == sizeof v)
            memcpy(&v, p, sizeof v);
        store_read_end(&t);
    }
    return v;
}

static void reload_allow(hub_t *h)
{
    uint64_t v = allow_version(h->d.unit->store);
    if (v == h->allow_version)
        return;
    h->allow_version = v;
    zap_clear(&h->zap);
    children_allow_foreach(h->d.unit->store, allow_one, &h->zap);
    children_recheck_allowed(&h->children);
}

static void on_change(daemon_t *d)
{
    hub_t *h = d->data;
    reload_allow(h);
    children_pump_down(&h->children);
}

static void on_up(daemon_t *d, link_up_event_t ev)
{
    hub_t *h = d->data;
    if (ev == LINK_UP_EV_RECEIVED)
        children_pump_down(&h->children);
}

static void on_merged(children_t *c)
{
    hub_t *h = c->data;
    if (h->d.has_up)
        link_up_pump(&h->d.up);
}

static json_t *hub_ctl(daemon_t *d, const char *cmd, json_t *req)
{
    hub_t *h = d->data;
    (void)req;
    if (strcmp(cmd, "children") == 0)
        return json_pack("{s:o}", "children", children_json(&h->children));
    if (strcmp(cmd, "status") == 0) {
        children_stats_t *s = &h->children.stats;
        return json_pack("{s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
            "link", daemon_link_json(d), "children",
            "hellos", (json_int_t)s->hellos, "batches", (json_int_t)s->batches,
            "events_stored", (json_int_t)s->events_stored,
            "events_duplicate", (json_int_t)s->events_duplicate,
            "events_held", (json_int_t)s->events_held,
            "events_dropped", (json_int_t)s->events_dropped,
            "commits", (json_int_t)s->commits, "bad_batches", (json_int_t)s->bad_batches,
            "bad_messages", (json_int_t)s->bad_messages,
            "foreign_origin", (json_int_t)s->foreign_origin,
            "refused_keys", (json_int_t)h->zap.refused,
            "epoch_alarms", (json_int_t)s->epoch_alarms);
    }
    return NULL;
}

static void on_stop(daemon_t *d)
{
    hub_t *h = d->data;
    if (h->children_open)
        children_close(&h->children, NULL);
    /* The ZAP handler goes last: without it a CURVE server admits anyone. */
    if (h->zap_open)
        zap_close(&h->zap, NULL);
    h->children_open = h->zap_open = false;
}

static int hub_start(hub_t *h, unsigned heartbeat_ms)
{
    daemon_t *d = &h->d;
    const char *listen = config_get(d->unit->config, "listen");
    if (!listen || !*listen)
        return err_set(LD_ECONFIG, "no listen address (config set listen tcp://0.0.0.0:7700)");
    int rc = zap_init(&d->loop, &h->zap, d->zctx);
    if (rc)
        return rc;
    h->zap_open = true;
    zap_start(&h->zap);
    h->allow_version = UINT64_MAX;
    reload_allow(h);
    children_opts_t co = {.listen = listen, .keys = &d->keys, .epoch = d->epoch,
                          .heartbeat_ms = heartbeat_ms};
    rc = children_init(&d->loop, &h->children, d->zctx, d->unit->store, &h->zap, &co);
    h->children_open = true; /* opened in part even on failure: close it */
    if (rc)
        return rc;
    h->children.data = h;
    return children_start(&h->children, on_merged);
}

int hub_cmd_run(const cli_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'}, {"heartbeat", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    daemon_opts_t o = {0};
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd') {
            o.dir = optarg;
        } else if (c == 'b') {
            o.heartbeat_ms = (unsigned)strtoul(optarg, &end, 10);
            if (*end || o.heartbeat_ms < 10 || o.heartbeat_ms > 600000)
                return cli_usage_error(ctx, "run", "--heartbeat takes milliseconds, 10..600000");
        } else if (c == 'h') {
            printf("usage: %s run [--dir DIR] [--heartbeat MS]\n\n"
                   "The hub daemon: listens for its children (config `listen`), merges\n"
                   "their logs, forwards everything to its parent hub (config `upstream`,\n"
                   "if any) and sends its own and its ancestors' logs down to them.\n"
                   "SIGINT/SIGTERM stop it cleanly.\n", ctx->prog);
            return 0;
        } else {
            return cli_usage_error(ctx, "run", "bad option");
        }
    }
    if (unit_dir_resolve(o.dir ? o.dir : ctx->dir, &o.dir))
        return cli_fail(ctx, LD_EINVAL);
    hub_t *h = calloc(1, sizeof *h);
    int rc = daemon_init(&h->d, &o);
    h->d.data = h;
    h->d.on_change = on_change;
    h->d.on_up = on_up;
    h->d.on_ctl = hub_ctl;
    h->d.on_stop = on_stop;
    if (!rc)
        rc = hub_start(h, o.heartbeat_ms);
    int ret;
    if (rc) {
        ret = cli_fail(ctx, rc);
        h->d.exit_code = ret;
    } else {
        log_info("hub", "%s listening on %s%s%s", store_origin(h->d.unit->store),
                 config_get(h->d.unit->config, "listen"), h->d.has_up ? ", upstream " : "",
                 h->d.has_up ? config_get(h->d.unit->config, "upstream") : "");
        ret = daemon_run(&h->d);
    }
    daemon_destroy(&h->d);
    free(h);
    return ret;
}

/* ---- allow, deny, children ---- */

static int simple_opts(const cli_ctx_t *ctx, const char *cmd, const char *help, int argc,
                       char **argv, const char **dir, int *json)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            *dir = optarg;
        else if (c == 'j' && json)
            *json = 1;
        else if (c == 'h') {
            printf(help, ctx->prog);
            return 0;
        } else
            return cli_usage_error(ctx, cmd, "bad option");
    }
    return -1;
}

int hub_cmd_allow(const cli_ctx_t *ctx, int argc, char **argv)
{
    const char *dir = NULL, *dash_key;
    cli_take_dash_key(&argc, argv, &dash_key);
    int ret = simple_opts(ctx, "allow", "usage: %s allow [--dir DIR] ORIGIN PUBKEY\n\n"
                          "Admits a child (a township, or a district under the city) with the\n"
                          "public key its `init` printed. It may then send the events of its\n"
                          "own subtree, and nothing else. Takes effect at once.\n",
                          argc, argv, &dir, NULL);
    if (ret >= 0)
        return ret;
    if (optind + 2 - (dash_key != NULL) != argc)
        return cli_usage_error(ctx, "allow", "expected ORIGIN PUBKEY");
    const char *origin = argv[optind], *key = dash_key ? dash_key : argv[optind + 1];
    if (!proto_origin_valid(origin, strlen(origin)))
        return cli_usage_error(ctx, "allow", "'%s' is not a valid unit id", origin);
    if (!keys_valid_public(key))
        return cli_usage_error(ctx, "allow", "'%s' is not a public key (40 characters of Z85)",
                               key);
    unit_t *u;
    int rc = cli_open(ctx, dir, CLI_RDWR, &u);
    if (rc)
        return cli_fail(ctx, rc);
    const char *self = store_origin(u->store);
    if (!proto_origin_within(origin, strlen(origin), self, strlen(self)) ||
        strcmp(origin, self) == 0)
        rc = err_set(LD_EORIGIN, "%s is not below this hub (%s)", origin, self);
    if (!rc)
        rc = children_allow_put(u->store, origin, key);
    if (!rc)
        nudge_send(u->dir);
    unit_close(&u);
    return rc ? cli_fail(ctx, rc) : 0;
}

int hub_cmd_deny(const cli_ctx_t *ctx, int argc, char **argv)
{
    const char *dir = NULL;
    int ret = simple_opts(ctx, "deny", "usage: %s deny [--dir DIR] ORIGIN\n\n"
                          "Removes a child's key: new connections are refused, and a running\n"
                          "session ends. What it already sent stays stored.\n",
                          argc, argv, &dir, NULL);
    if (ret >= 0)
        return ret;
    if (optind + 1 != argc)
        return cli_usage_error(ctx, "deny", "expected ORIGIN");
    unit_t *u;
    int rc = cli_open(ctx, dir, CLI_RDWR, &u);
    if (!rc)
        rc = children_allow_del(u->store, argv[optind]);
    if (!rc)
        nudge_send(u->dir);
    unit_close(&u);
    return rc ? cli_fail(ctx, rc) : 0;
}

static void children_print(json_t *list)
{
    size_t i;
    json_t *c;
    printf("%-28s %-9s %10s %10s %9s %12s %12s  %s\n", "CHILD", "LINK", "ANNOUNCED", "HELD",
           "PENDING", "LAST SEEN", "PROGRESS", "STATE");
    json_array_foreach(list, i, c) {
        char seen[32] = "-", prog[32] = "-";
        json_int_t s = json_integer_value(json_object_get(c, "last_seen_ms_ago"));
        json_int_t p = json_integer_value(json_object_get(c, "last_progress_ms_ago"));
        if (json_object_get(c, "last_seen_ms_ago") && s >= 0)
            snprintf(seen, sizeof seen, "%.1fs ago", (double)s / 1000);
        if (json_object_get(c, "last_progress_ms_ago") && p >= 0)
            snprintf(prog, sizeof prog, "%.1fs ago", (double)p / 1000);
        printf("%-28s %-9s %10lld %10lld %9lld %12s %12s  %s\n",
               json_string_value(json_object_get(c, "origin")),
               json_is_true(json_object_get(c, "connected")) ? "up" : "down",
               (long long)json_integer_value(json_object_get(c, "announced_head")),
               (long long)json_integer_value(json_object_get(c, "held")),
               (long long)json_integer_value(json_object_get(c, "pending")), seen, prog,
               json_string_value(json_object_get(c, "state")));
    }
}

int hub_cmd_children(const cli_ctx_t *ctx, int argc, char **argv)
{
    const char *dir = NULL;
    int json = 0;
    int ret = simple_opts(ctx, "children", "usage: %s children [--json] [--dir DIR]\n\n"
                          "Each child's link as the running hub sees it: connected, the head it\n"
                          "announced, what this hub holds of it, pending, last seen, last\n"
                          "progress, and a verdict (in sync, catching up, offline, FAULT:\n"
                          "connected but not progressing, ALARM: store epoch changed). Without\n"
                          "a running daemon, what the store remembers.\n",
                          argc, argv, &dir, &json);
    if (ret >= 0)
        return ret;
    unit_t *u;
    int rc = cli_open(ctx, dir, CLI_RDONLY, &u);
    if (rc)
        return cli_fail(ctx, rc);
    json_t *req = json_pack("{s:s}", "cmd", "children"), *rep = NULL, *list;
    if (ctl_call(u->dir, req, 2000, &rep) == 0)
        list = json_incref(json_object_get(rep, "children"));
    else
        list = children_json_stored(u->store, store_origin(u->store));
    json_decref(req);
    json_decref(rep);
    unit_close(&u);
    if (json) {
        json_dumpf(list, stdout, JSON_COMPACT);
        putchar('\n');
    } else {
        children_print(list);
    }
    json_decref(list);
    return 0;
}
