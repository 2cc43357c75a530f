/*
 * cli_show.c -- read-only subcommands: export, status, digest, kinds.
 * Each reads in one LMDB read transaction, so what it prints is one
 * consistent snapshot even while a daemon or another CLI writes.
 */
#include "common/cli.h"
#include "common/ctl.h"
#include "common/err.h"
#include "common/unit.h"
#include "proto/json.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Options every read-only command takes. */
typedef struct show_opts {
    const char *dir;
    const char *origin;
    uint64_t since;
    int json;
} show_opts_t;

enum { OPT_DIR = 1000, OPT_JSON, OPT_ORIGIN, OPT_SINCE, OPT_HELP };

/* Parses --dir/--json (and --origin/--since when `filters`); returns -1 to go
 * on, else an exit status. */
static int show_parse(const cli_ctx_t *ctx, const char *cmd, const char *help, int filters,
                      int argc, char **argv, show_opts_t *o)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, OPT_DIR}, {"json", no_argument, NULL, OPT_JSON},
        {"origin", required_argument, NULL, OPT_ORIGIN},
        {"since", required_argument, NULL, OPT_SINCE}, {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case OPT_DIR: o->dir = optarg; break;
        case OPT_JSON: o->json = 1; break;
        case OPT_ORIGIN:
            if (!filters || (*optarg && !proto_origin_valid(optarg, strlen(optarg))))
                return cli_usage_error(ctx, cmd, "bad --origin '%s'", optarg);
            o->origin = optarg;
            break;
        case OPT_SINCE:
            errno = 0;
            o->since = strtoull(optarg, &end, 10);
            if (!filters || errno || *end || !*optarg || optarg[0] == '-')
                return cli_usage_error(ctx, cmd, "bad --since '%s'", optarg);
            break;
        case OPT_HELP: printf(help, ctx->prog); return 0;
        default: return cli_usage_error(ctx, cmd, "bad option");
        }
    }
    if (optind < argc)
        return cli_usage_error(ctx, cmd, "unexpected argument '%s'", argv[optind]);
    return -1;
}

static void print_json(json_t *j)
{
    json_dumpf(j, stdout, JSON_COMPACT);
    putchar('\n');
}

/* ---- export ---- */

static int export_one(const char *origin, uint64_t seq, const uint8_t *raw, size_t len,
                      void *arg)
{
    (void)origin; (void)seq; (void)arg;
    proto_event_t ev;
    int rc = proto_event_decode(raw, len, 0, &ev);
    if (rc)
        return err_wrap(LD_ECORRUPT, "stored event %s#%llu", origin, (unsigned long long)seq);
    json_t *j = proto_event_to_json(&ev);
    if (!j)
        return err_set(LD_ENOMEM, "out of memory");
    print_json(j);
    json_decref(j);
    return ferror(stdout) ? err_set(-EIO, "writing to standard output failed") : 0;
}

int cli_cmd_export(const cli_ctx_t *ctx, int argc, char **argv)
{
    show_opts_t o = {0};
    int ret = show_parse(ctx, "export", "usage: %s export [--origin PREFIX] [--since SEQ] "
                         "[--dir DIR]\n\nPrints stored events as JSON Lines, in (origin, seq) "
                         "order, with every header\nfield: origin, seq, hlc, prev and hash "
                         "(hex), kind, date, author, body.\n  --origin PREFIX  only this "
                         "origin and those below it\n  --since SEQ      only events with "
                         "seq > SEQ\n", 1, argc, argv, &o);
    if (ret >= 0)
        return ret;
    unit_t *u;
    store_txn_t *t = NULL;
    int rc = cli_open(ctx, o.dir, CLI_RDONLY, &u);
    if (rc)
        return cli_fail(ctx, rc);
    if (!(rc = store_read_begin(u->store, &t)))
        rc = store_events_foreach(t, o.origin ? o.origin : "", o.since, export_one, NULL);
    store_read_end(&t);
    unit_close(&u);
    if (!rc && fflush(stdout))
        rc = err_set(-EIO, "writing to standard output failed");
    return rc ? cli_fail(ctx, rc) : 0;
}

/* ---- digest ---- */

static int digest_one(const char *origin, const store_head_t *h, void *arg)
{
    json_t *out = arg;
    char hex[2 * PROTO_HASH_LEN + 1];
    proto_hash_hex(h->hash, hex);
    if (out)
        json_object_set_new(out, origin, json_pack("{s:I, s:s}", "seq", (json_int_t)h->seq,
                                                   "head", hex));
    else
        printf("%-32s %10llu %s\n", origin, (unsigned long long)h->seq, hex);
    return 0;
}

int cli_cmd_digest(const cli_ctx_t *ctx, int argc, char **argv)
{
    show_opts_t o = {0};
    int ret = show_parse(ctx, "digest", "usage: %s digest [--origin PREFIX] [--json] "
                         "[--dir DIR]\n\nPer origin held: the highest contiguous seq and "
                         "the hash of that event (the\nchain head). Two stores hold the "
                         "same log of an origin exactly when these agree.\n", 1,
                         argc, argv, &o);
    if (ret >= 0)
        return ret;
    unit_t *u;
    store_txn_t *t = NULL;
    int rc = cli_open(ctx, o.dir, CLI_RDONLY, &u);
    if (rc)
        return cli_fail(ctx, rc);
    json_t *out = o.json ? json_object() : NULL;
    if (!(rc = store_read_begin(u->store, &t)))
        rc = store_heads_foreach(t, o.origin ? o.origin : "", digest_one, out);
    store_read_end(&t);
    unit_close(&u);
    if (!rc && out)
        print_json(out);
    json_decref(out);
    return rc ? cli_fail(ctx, rc) : 0;
}

/* ---- status ---- */

typedef struct sync_sums {
    const char *self;
    json_t *acked;           /* origin -> seq the parent acknowledged */
    uint64_t pending, from_above;
} sync_sums_t;

static int sum_head(const char *origin, const store_head_t *h, void *arg)
{
    sync_sums_t *s = arg;
    size_t len = strlen(origin), slen = strlen(s->self);
    if (proto_origin_within(origin, len, s->self, slen)) {
        uint64_t acked = (uint64_t)json_integer_value(json_object_get(s->acked, origin));
        s->pending += h->seq > acked ? h->seq - acked : 0;
    } else if (proto_origin_within(s->self, slen, origin, len)) {
        s->from_above += h->seq; /* an ancestor's log: directives from above */
    }
    return 0;
}

/* What the store says about sync, for when no daemon can be asked. */
static json_t *status_sync(unit_t *u, store_txn_t *t, int *rc)
{
    const void *v;
    size_t len;
    sync_sums_t s = {store_origin(u->store), NULL, 0, 0};
    if (store_meta_get(t, "sync.acked", &v, &len) == 0)
        s.acked = json_loadb(v, len, 0, NULL);
    if (!s.acked)
        s.acked = json_object();
    *rc = store_heads_foreach(t, "", sum_head, &s);
    uint64_t last_ok = 0;
    if (store_meta_get(t, "sync.last_ok", &v, &len) == 0 && len == sizeof last_ok)
        memcpy(&last_ok, v, sizeof last_ok);
    json_decref(s.acked);
    return json_pack("{s:I, s:I, s:I}", "pending_upstream", (json_int_t)s.pending,
                     "from_above", (json_int_t)s.from_above,
                     "last_sync_ms", (json_int_t)last_ok);
}

static json_t *status_json(unit_t *u, store_txn_t *t, int *rc)
{
    store_info_t info;
    store_head_t head = {0};
    const char *origin = store_origin(u->store);
    if ((*rc = store_info_get(t, &info)))
        return NULL;
    if ((*rc = store_head_get(t, origin, &head)) == LD_ENOTFOUND)
        *rc = 0;
    char epoch[33] = "";
    const void *v;
    size_t len;
    if (store_meta_get(t, "epoch", &v, &len) == 0 && len < sizeof epoch)
        memcpy(epoch, v, len);
    json_t *sync = status_sync(u, t, rc);
    json_t *s = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s}",
                     "origin", origin, "name", config_get(u->config, "name"),
                     "type", config_get(u->config, "type"), "epoch", epoch,
                     "head_seq", (json_int_t)head.seq, "events", (json_int_t)info.events,
                     "origins", (json_int_t)info.origins, "held", (json_int_t)info.held,
                     "equivocations", (json_int_t)info.equivocations,
                     "data_bytes", (json_int_t)info.data_bytes,
                     "map_bytes", (json_int_t)info.map_size,
                     "upstream", config_get(u->config, "upstream"),
                     "dir", u->dir);
    json_object_update(s, sync);
    json_decref(sync);
    return s;
}

/* Live link state from the daemon, when one runs. */
static void status_live(unit_t *u, json_t *s)
{
    json_t *req = json_pack("{s:s}", "cmd", "link"), *rep = NULL;
    bool running = ctl_call(u->dir, req, 2000, &rep) == 0;
    json_decref(req);
    json_object_set_new(s, "daemon", json_boolean(running));
    if (running && json_is_true(json_object_get(rep, "configured"))) {
        json_object_set(s, "upstream_reachable", json_object_get(rep, "reachable"));
        json_object_set(s, "pending_upstream", json_object_get(rep, "pending_upstream"));
        json_object_set(s, "link", rep);
    }
    json_decref(rep);
}

static void status_print(json_t *s)
{
    printf("%s (%s, %s)\n", json_string_value(json_object_get(s, "name")),
           json_string_value(json_object_get(s, "origin")),
           json_string_value(json_object_get(s, "type")));
    static const char *const rows[][2] = {
        {"head_seq", "own events (head seq)"}, {"events", "events held"},
        {"origins", "origins held"}, {"held", "waiting for a gap"},
        {"pending_upstream", "pending for upstream"}, {"equivocations", "equivocations"},
        {"data_bytes", "data size (bytes)"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        printf("  %-24s %lld\n", rows[i][1],
               (long long)json_integer_value(json_object_get(s, rows[i][0])));
    printf("  %-24s %lld\n", "events from above", 
           (long long)json_integer_value(json_object_get(s, "from_above")));
    const char *up = json_string_value(json_object_get(s, "upstream"));
    printf("  %-24s %s\n", "upstream", up && *up ? up : "(none)");
    json_int_t last = json_integer_value(json_object_get(s, "last_sync_ms"));
    char when[64] = "never";
    if (last > 0) {
        time_t secs = (time_t)(last / 1000);
        struct tm tm;
        localtime_r(&secs, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    }
    printf("  %-24s %s\n", "last complete sync", when);
    json_t *reach = json_object_get(s, "upstream_reachable");
    printf("  %-24s %s\n", "daemon",
           !json_is_true(json_object_get(s, "daemon")) ? "not running"
           : json_is_true(reach) ? "running, hub reachable" : "running, hub NOT reachable");
    printf("  %-24s %s\n", "data directory", json_string_value(json_object_get(s, "dir")));
}

int cli_cmd_status(const cli_ctx_t *ctx, int argc, char **argv)
{
    show_opts_t o = {0};
    int ret = show_parse(ctx, "status", "usage: %s status [--json] [--dir DIR]\n\n"
                         "This unit's identity and what its store holds.\n", 0, argc, argv, &o);
    if (ret >= 0)
        return ret;
    unit_t *u;
    store_txn_t *t = NULL;
    int rc = cli_open(ctx, o.dir, CLI_RDONLY, &u);
    if (rc)
        return cli_fail(ctx, rc);
    json_t *s = NULL;
    if (!(rc = store_read_begin(u->store, &t)))
        s = status_json(u, t, &rc);
    store_read_end(&t);
    if (!rc && s) {
        status_live(u, s);
        o.json ? print_json(s) : status_print(s);
    }
    unit_close(&u);
    json_decref(s);
    return rc ? cli_fail(ctx, rc) : 0;
}

/* ---- kinds ---- */

static void kinds_print(json_t *all)
{
    size_t i, j;
    json_t *k, *f;
    json_array_foreach(all, i, k) {
        printf("%-28s %s\n", json_string_value(json_object_get(k, "kind")),
               json_string_value(json_object_get(k, "description")));
        json_array_foreach(json_object_get(k, "fields"), j, f) {
            const char *type = json_string_value(json_object_get(f, "type"));
            printf("    %-16s %-6s %s", json_string_value(json_object_get(f, "name")), type,
                   json_is_true(json_object_get(f, "required")) ? "required" : "optional");
            json_t *vals = json_object_get(f, "values");
            if (vals) {
                size_t x;
                json_t *v;
                printf("  one of:");
                json_array_foreach(vals, x, v) printf(" %s", json_string_value(v));
            }
            json_t *max = json_object_get(f, "max_length");
            if (max)
                printf("  max %lld bytes", (long long)json_integer_value(max));
            if (json_object_get(f, "min"))
                printf("  %lld..%lld", (long long)json_integer_value(json_object_get(f, "min")),
                       (long long)json_integer_value(json_object_get(f, "max")));
            putchar('\n');
        }
    }
}

int cli_cmd_kinds(const cli_ctx_t *ctx, int argc, char **argv)
{
    show_opts_t o = {0};
    int ret = show_parse(ctx, "kinds", "usage: %s kinds [--json]\n\nThe event kinds this "
                         "program knows and their fields: what `record` and\n`import` "
                         "accept.\n", 0, argc, argv, &o);
    if (ret >= 0)
        return ret;
    json_t *all = proto_schema_to_json();
    o.json ? print_json(all) : kinds_print(all);
    json_decref(all);
    return 0;
}
