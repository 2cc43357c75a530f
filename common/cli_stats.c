/*
 * cli_stats.c -- `stats`: the statistics of a unit's subtree for a period,
 * as a table, JSON, CSV or a self-contained HTML report (common/stats.h;
 * docs/statistics.md defines every figure). The same command at a township
 * and at a hub; a hub adds what it knows of its children's links.
 */
#include "common/cli.h"
#include "common/err.h"
#include "common/stats.h"
#include "common/unit.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { O_DIR = 1000, O_BY, O_PERIOD, O_UNIT, O_FORMAT, O_OUTPUT, O_STALE, O_NOW, O_JSON,
       O_REBUILD, O_TIMING, O_HELP };

static const char help[] =
    "usage: %s stats [--by child|unit|level] [--period P] [--unit ORIGIN]\n"
    "                   [--format table|json|csv|html] [--output FILE]\n"
    "                   [--stale-days N] [--now TIME] [--json] [--rebuild] [--dir DIR]\n\n"
    "The statistics of this unit's subtree (docs/statistics.md defines every figure):\n"
    "deputies and their structure, duty-report and training coverage, contacts,\n"
    "attendance, suggestions, supervision by type, work-review scores, joint\n"
    "inspections, and sync health. Figures come from aggregates kept as events are\n"
    "stored, so the command answers at once whatever the history's size.\n\n"
    "  --by child|unit|level  rows: each child's subtree (default), each unit, or\n"
    "                      each unit type (city, district, county, township, street)\n"
    "  --period P          all (default), YYYY, YYYY-Qn, YYYY-MM or FROM..TO of those;\n"
    "                      events count by their activity date\n"
    "  --unit ORIGIN       report on this subtree (default: this unit's own)\n"
    "  --format F          table (default), json, csv (UTF-8 with BOM, for Excel) or\n"
    "                      html (one self-contained file with charts)\n"
    "  --json              the same as --format json\n"
    "  --output FILE       write there instead of standard output\n"
    "  --stale-days N      a unit not heard from for N days is stale (default: the\n"
    "                      config's stale_days, else 7)\n"
    "  --now TIME          judge staleness and overdue reports as of TIME\n"
    "                      (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC; default: now)\n"
    "  --rebuild           recompute the statistics from every event held first\n"
    "  --timing            print on stderr how long the query and the output took\n";

typedef struct opts {
    const char *dir, *unit, *format, *output;
    stats_query_t q;
    bool rebuild, timing;
} opts_t;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int parse_now(const char *s, uint64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end) {
        memset(&tm, 0, sizeof tm);
        end = strptime(s, "%Y-%m-%d", &tm);
    }
    if (!end || *end)
        return -1;
    time_t t = timegm(&tm);
    if (t < 0)
        return -1;
    *out = (uint64_t)t * 1000;
    return 0;
}

static int parse(const cli_ctx_t *ctx, int argc, char **argv, opts_t *o)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, O_DIR}, {"by", required_argument, NULL, O_BY},
        {"period", required_argument, NULL, O_PERIOD}, {"unit", required_argument, NULL, O_UNIT},
        {"format", required_argument, NULL, O_FORMAT},
        {"output", required_argument, NULL, O_OUTPUT},
        {"stale-days", required_argument, NULL, O_STALE}, {"now", required_argument, NULL, O_NOW},
        {"json", no_argument, NULL, O_JSON}, {"rebuild", no_argument, NULL, O_REBUILD},
        {"timing", no_argument, NULL, O_TIMING},
        {"help", no_argument, NULL, O_HELP}, {NULL, 0, NULL, 0},
    };
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_DIR: o->dir = optarg; break;
        case O_BY:
            if (strcmp(optarg, "child") == 0) o->q.by = STATS_BY_CHILD;
            else if (strcmp(optarg, "unit") == 0) o->q.by = STATS_BY_UNIT;
            else if (strcmp(optarg, "level") == 0) o->q.by = STATS_BY_LEVEL;
            else return cli_usage_error(ctx, "stats", "--by takes child, unit or level");
            break;
        case O_PERIOD:
            if (stats_period_parse(optarg, &o->q.period))
                return cli_usage_error(ctx, "stats", "%s", err_msg());
            break;
        case O_UNIT:
            if (*optarg && !proto_origin_valid(optarg, strlen(optarg)))
                return cli_usage_error(ctx, "stats", "bad --unit '%s'", optarg);
            o->unit = optarg;
            break;
        case O_FORMAT:
            if (strcmp(optarg, "table") && strcmp(optarg, "json") && strcmp(optarg, "csv") &&
                strcmp(optarg, "html"))
                return cli_usage_error(ctx, "stats", "--format takes table, json, csv or html");
            o->format = optarg;
            break;
        case O_JSON: o->format = "json"; break;
        case O_OUTPUT: o->output = optarg; break;
        case O_STALE:
            errno = 0;
            o->q.stale_days = (unsigned)strtoul(optarg, &end, 10);
            if (errno || *end || !*optarg || optarg[0] == '-' || !o->q.stale_days ||
                o->q.stale_days > 3650)
                return cli_usage_error(ctx, "stats", "--stale-days takes 1..3650");
            break;
        case O_NOW:
            if (parse_now(optarg, &o->q.now_ms))
                return cli_usage_error(ctx, "stats", "bad --now '%s'", optarg);
            break;
        case O_REBUILD: o->rebuild = true; break;
        case O_TIMING: o->timing = true; break;
        case O_HELP: printf(help, ctx->prog); return 0;
        default: return cli_usage_error(ctx, "stats", "bad option");
        }
    }
    if (optind < argc)
        return cli_usage_error(ctx, "stats", "unexpected argument '%s'", argv[optind]);
    return -1;
}

static int render(const opts_t *o, json_t *r, FILE *f)
{
    if (strcmp(o->format, "json") == 0)
        return stats_render_json(f, r);
    if (strcmp(o->format, "csv") == 0)
        return stats_render_csv(f, r);
    if (strcmp(o->format, "html") == 0)
        return stats_render_html(f, r);
    return stats_render_table(f, r);
}

static int output(const cli_ctx_t *ctx, const opts_t *o, json_t *r)
{
    FILE *f = stdout;
    if (o->output && !(f = fopen(o->output, "w"))) {
        fprintf(stderr, "%s: %s: %s\n", ctx->prog, o->output, strerror(errno));
        return 1;
    }
    int rc = render(o, r, f);
    if (f != stdout && fclose(f))
        rc = -errno;
    if (rc) {
        fprintf(stderr, "%s: writing the statistics: %s\n", ctx->prog, strerror(-rc));
        return 1;
    }
    return 0;
}

static void rebuild_progress(uint64_t done, uint64_t total, void *arg)
{
    (void)arg;
    fprintf(stderr, "\rstats: rebuilding, %llu of %llu events", (unsigned long long)done,
            (unsigned long long)total);
}

int cli_stats_run(const cli_ctx_t *ctx, int argc, char **argv, cli_links_fn links)
{
    opts_t o;
    memset(&o, 0, sizeof o);
    o.format = "table";
    stats_period_parse(NULL, &o.q.period);
    int rc = parse(ctx, argc, argv, &o);
    if (rc >= 0)
        return rc;
    unit_t *u;
    /* Only --rebuild writes (the statistics view, from every event held). */
    if ((rc = cli_open(ctx, o.dir, o.rebuild ? CLI_RDWR : CLI_RDONLY, &u)))
        return cli_fail(ctx, rc);
    if (!o.q.stale_days) {
        const char *d = config_get(u->config, "stale_days");
        o.q.stale_days = d && *d ? (unsigned)strtoul(d, NULL, 10) : 7;
    }
    o.q.unit = o.unit;
    if (links)
        o.q.links = links(u->store, store_origin(u->store));
    json_t *r = NULL;
    rc = o.rebuild ? stats_rebuild_progress(u->store, cli_progress_wanted() ? rebuild_progress
                                                                             : NULL, NULL)
                   : 0;
    if (o.rebuild && cli_progress_wanted())
        fputc('\n', stderr);
    double t0 = now_ms();
    if (!rc)
        rc = stats_query(u->store, &o.q, &r);
    double t1 = now_ms();
    unit_close(&u);
    json_decref(o.q.links);
    int status = rc ? cli_fail(ctx, rc) : output(ctx, &o, r);
    if (o.timing && !rc)
        fprintf(stderr, "query_ms=%.1f output_ms=%.1f\n", t1 - t0, now_ms() - t1);
    json_decref(r);
    return status;
}

int cli_cmd_stats(const cli_ctx_t *ctx, int argc, char **argv)
{
    return cli_stats_run(ctx, argc, argv, NULL);
}
