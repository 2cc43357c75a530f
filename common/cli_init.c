/*
 * cli_init.c -- `init` (make a data directory) and `config` (show or change
 * its settings) for both programs.
 */
#include "common/cli.h"
#include "common/err.h"
#include "common/keys.h"
#include "common/sync_once.h"
#include "common/unit.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void init_help(const cli_ctx_t *ctx, FILE *f)
{
    fprintf(f,
        "usage: %s init --dir DIR --id ID --name NAME --type TYPE [--upstream ENDPOINT\n"
        "       --upstream-key KEY]%s [--restore [--timeout S]] [--json]\n\n"
        "Creates the data directory DIR (it must not exist or be empty): the config file,\n"
        "the store, and a CurveZMQ key pair; records `unit.registered` as event 1 and\n"
        "prints the public key to give to the parent hub (`liandong-hub allow ID KEY`).\n\n"
        "  --id ID              this unit's id, e.g. %s\n"
        "  --name NAME          display name, e.g. %s\n"
        "  --type TYPE          %s\n"
        "  --upstream ENDPOINT  the parent hub, tcp://HOST:PORT\n"
        "  --upstream-key KEY   the parent hub's public key (pinned)\n"
        "%s"
        "  --restore            this unit existed before (a reinstalled PC): fetch its\n"
        "                       own log back from the parent hub before anything is\n"
        "                       recorded, so its sequence numbers are never reused\n"
        "  --timeout S          how long --restore may take (default 60)\n"
        "  --json               print {\"origin\", \"public_key\", \"epoch\"}\n",
        ctx->prog, ctx->hub ? " [--listen ENDPOINT]" : "",
        ctx->hub ? "hrb/wuchang" : "hrb/wuchang/shanhe", ctx->hub ? "五常市" : "山河镇",
        ctx->hub ? "district | county | city" : "township | street",
        ctx->hub ? "  --listen ENDPOINT    where children connect, tcp://0.0.0.0:7700 "
                   "(uses PORT..PORT+2)\n" : "");
}

static int type_allowed(const cli_ctx_t *ctx, const char *type)
{
    static const char *const node_types[] = {"township", "street", NULL};
    static const char *const hub_types[] = {"district", "county", "city", NULL};
    for (const char *const *t = ctx->hub ? hub_types : node_types; *t; t++)
        if (strcmp(*t, type) == 0)
            return 1;
    return 0;
}

static int init_print(const cli_ctx_t *ctx, unit_t *u, int json)
{
    keys_t k;
    char epoch[33];
    int rc = keys_load(u->dir, &k);
    if (!rc)
        rc = unit_epoch(u, epoch);
    if (rc)
        return cli_fail(ctx, rc);
    const char *id = config_get(u->config, "id");
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "origin", id, "public_key", k.public,
                              "epoch", epoch);
        json_dumpf(o, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(o);
    } else {
        printf("initialised %s (%s) in %s\npublic key: %s\n", id,
               config_get(u->config, "name"), u->dir, k.public);
        printf("the parent hub admits this unit with:\n  liandong-hub allow %s %s\n", id,
               k.public);
    }
    keys_wipe(&k);
    return 0;
}

/* Fetches this unit's own log back from its hub (a reinstalled PC): until
 * that is done, nothing may be recorded here, or the chain would fork. */
static int init_restore(const cli_ctx_t *ctx, const char *dir, const char *id, double timeout)
{
    sync_once_opts_t so = {.timeout_s = timeout, .restore = true,
                           .progress = cli_progress_wanted()};
    sync_once_result_t res = {0};
    fprintf(stderr, "restoring %s from its hub (the hub must allow the key above)...\n", id);
    int rc = sync_once(dir, &so, &res);
    if (rc) {
        fprintf(stderr, "%s: restore not finished: %s\n"
                "  once the hub allows this key (liandong-hub allow %s KEY), finish it with:\n"
                "  %s sync --once --dir %s\n", ctx->prog, err_msg(), id, ctx->prog, dir);
        return 1;
    }
    fprintf(stderr, "restored: %llu events back from the hub\n",
            (unsigned long long)res.received);
    return 0;
}

int cli_cmd_init(const cli_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'}, {"id", required_argument, NULL, 'i'},
        {"name", required_argument, NULL, 'n'}, {"type", required_argument, NULL, 't'},
        {"upstream", required_argument, NULL, 'u'}, {"upstream-key", required_argument, NULL, 'k'},
        {"listen", required_argument, NULL, 'l'}, {"json", no_argument, NULL, 'j'},
        {"restore", no_argument, NULL, 'r'}, {"timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    unit_create_opts_t o = {0};
    const char *dir = NULL;
    int json = 0, c;
    double timeout = 60;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'i': o.id = optarg; break;
        case 'n': o.name = optarg; break;
        case 't': o.type = optarg; break;
        case 'u': o.upstream = optarg; break;
        case 'k': o.upstream_key = optarg; break;
        case 'l':
            if (!ctx->hub)
                return cli_usage_error(ctx, "init", "--listen is for hubs");
            o.listen = optarg;
            break;
        case 'j': json = 1; break;
        case 'r': o.restore = true; break;
        case 'T':
            timeout = strtod(optarg, &end);
            if (*end || timeout <= 0)
                return cli_usage_error(ctx, "init", "--timeout takes seconds");
            break;
        case 'h': init_help(ctx, stdout); return 0;
        default: return cli_usage_error(ctx, "init", "bad option");
        }
    }
    if (optind < argc)
        return cli_usage_error(ctx, "init", "unexpected argument '%s'", argv[optind]);
    if (!o.id || !o.name || !o.type)
        return cli_usage_error(ctx, "init", "--id, --name and --type are required");
    if (o.restore && (!o.upstream || !o.upstream_key))
        return cli_usage_error(ctx, "init", "--restore needs --upstream and --upstream-key: "
                               "the log comes back from the parent hub");
    if (!type_allowed(ctx, o.type))
        return cli_usage_error(ctx, "init", "--type must be %s",
                               ctx->hub ? "district, county or city" : "township or street");
    int rc = unit_dir_resolve(dir ? dir : ctx->dir, &o.dir);
    unit_t *u = NULL;
    if (rc || (rc = unit_create(&o, &u)))
        return cli_fail(ctx, rc);
    rc = init_print(ctx, u, json);
    unit_close(&u);
    if (!rc && o.restore)
        rc = init_restore(ctx, o.dir, o.id, timeout);
    return rc;
}

static void config_help(const cli_ctx_t *ctx, FILE *f)
{
    int n;
    const config_key_info_t *keys = config_keys(&n);
    fprintf(f, "usage: %s config [--dir DIR] show | get KEY | set KEY VALUE\n\n"
               "Shows or changes DIR/liandong.conf. Settings:\n", ctx->prog);
    for (int i = 0; i < n; i++)
        fprintf(f, "  %-13s %s\n", keys[i].key, keys[i].help);
}

static int config_run(const cli_ctx_t *ctx, unit_t *u, int argc, char **argv)
{
    const char *verb = argv[0];
    config_t *c = u->config;
    if (strcmp(verb, "show") == 0 && argc == 1) {
        int n;
        const config_key_info_t *keys = config_keys(&n);
        for (int i = 0; i < n; i++)
            printf("%s = %s\n", keys[i].key, config_get(c, keys[i].key));
        return 0;
    }
    if (strcmp(verb, "get") == 0 && argc == 2) {
        const char *v = config_get(c, argv[1]);
        if (!v)
            return cli_fail(ctx, err_set(LD_EINVAL, "unknown setting '%s'", argv[1]));
        printf("%s\n", v);
        return 0;
    }
    if (strcmp(verb, "set") == 0 && argc == 3) {
        /* The id is the identity of every event already recorded. */
        if (strcmp(argv[1], "id") == 0)
            return cli_fail(ctx, err_set(LD_EINVAL, "the unit id cannot be changed"));
        char path[4096];
        unit_path(u, "liandong.conf", path, sizeof path);
        int rc = config_set(c, argv[1], argv[2]);
        if (!rc)
            rc = config_save(c, path);
        return rc ? cli_fail(ctx, rc) : 0;
    }
    return cli_usage_error(ctx, "config", "expected show, get KEY or set KEY VALUE");
}

int cli_cmd_config(const cli_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *dash_key;
    int c;
    cli_take_dash_key(&argc, argv, &dash_key);
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            dir = optarg;
        else if (c == 'h') {
            config_help(ctx, stdout);
            return 0;
        } else
            return cli_usage_error(ctx, "config", "bad option");
    }
    if (optind >= argc)
        return cli_usage_error(ctx, "config", "expected show, get KEY or set KEY VALUE");
    /* show and get only read; set rewrites liandong.conf (not the store), and
     * keeps the read-write open it always had. */
    unit_t *u;
    int rc = cli_open(ctx, dir, strcmp(argv[optind], "set") == 0 ? CLI_RDWR : CLI_RDONLY, &u);
    if (rc)
        return cli_fail(ctx, rc);
    char *ops[8];
    int nops = 0;
    for (int i = optind; i < argc && nops < 7; i++)
        ops[nops++] = argv[i];
    if (dash_key)
        ops[nops++] = (char *)dash_key;
    rc = config_run(ctx, u, nops, ops);
    unit_close(&u);
    return rc;
}
