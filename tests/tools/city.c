/*
 * liandong-city -- a realistic generated city for the statistics tests, the
 * demo and the benchmark (the generator is tests/unit/citygen.h).
 *
 *   liandong-city load --dir HUBDIR [--seed S] [--activity A] [--townships N]
 *                      [--year Y] [--clock MS] [--only ORIGIN] [--batch B]
 *                      [--views all|stats|joint|none] [--vs DIR2 [--vs-views V]] [--shuffle] [--dups PCT] [--events N]
 *       generates the city and puts every event into the hub at HUBDIR (made
 *       by `liandong-hub init --id hrb`) the way its merge does: store_txn_put
 *       in transactions of B events (default 5000). --shuffle delivers in a
 *       random order (gaps wait as held events), --dups repeats PCT percent of
 *       them. --events N scales the activity to about N events. --pregen
 *       generates everything before loading (in order). --views picks the
 *       views maintained: all (default), none, stats or joint only. Prints one line with the ingest rate, timing
 *       only the store writes (not the generation). --vs DIR2 [--vs-views V2]
 *       loads a copy of the same hub (cp -a of HUBDIR before either was
 *       loaded) batch by batch alongside, in turns first, and prints its
 *       line second: two sets of views compared under the same conditions.
 *   liandong-city expect --dir DIR [--unit ORIGIN] [--period P] [--now DATE]
 *       the figures recomputed by a plain scan of the events held
 *       (tests/unit/stats_ref.h), as JSON.
 *   liandong-city check --dir DIR --stats FILE [--unit ORIGIN] [--period P] [--now DATE]
 *       compares those with `stats --format json` output in FILE (total and
 *       every group by child); prints each difference; exit 1 if any.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/joint.h"
#include "common/stats.h"
#include "common/store.h"
#include "common/unit.h"
#include "common/views.h"
#include "tests/unit/citygen.h"
#include "tests/unit/stats_ref.h"

typedef struct opts {
    const char *dir, *views, *unit, *period, *now, *stats;
    const char *vs_dir, *vs_views;   /* --vs: a second store loaded batch by batch alongside */
    cg_opts_t cg;
    size_t batch;
    bool shuffle, pregen;
    double dups;
} opts_t;

/* One store being loaded, and what its writes cost. */
typedef struct target {
    unit_t *u;            /* with --views all; else NULL and s opened alone */
    store_t *s;
    const char *views;
    uint64_t stored, dup, held, equiv;
    double wall, cpu;
} target_t;

typedef struct loader {
    target_t tg[2];       /* with --vs, each batch goes into both, in turns first */
    int ntg;
    size_t nbatch;
    buf_t data;           /* events back to back */
    size_t *off, n, cap;  /* offsets of the batch (or of everything, with --shuffle) */
    size_t batch;
    uint64_t total;
} loader_t;

static double now_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct put_ctx {
    loader_t *l;
    size_t from, to;
    uint64_t counts[STORE_PUT_RESULTS];
} put_ctx_t;

static int put_fn(store_txn_t *t, void *arg)
{
    put_ctx_t *p = arg;
    memset(p->counts, 0, sizeof p->counts);
    for (size_t i = p->from; i < p->to; i++) {
        size_t end = i + 1 < p->l->n ? p->l->off[i + 1] : p->l->data.len;
        store_put_result_t res;
        int rc = store_txn_put(t, p->l->data.data + p->l->off[i], end - p->l->off[i], &res);
        if (rc)
            return rc;
        p->counts[res]++;
    }
    return 0;
}

static int load_into(loader_t *l, target_t *g, size_t from, size_t to)
{
    put_ctx_t p = {l, from, to, {0}};
    double w = now_s(CLOCK_MONOTONIC), c = now_s(CLOCK_PROCESS_CPUTIME_ID);
    int rc = store_write(g->s, put_fn, &p);
    g->wall += now_s(CLOCK_MONOTONIC) - w;
    g->cpu += now_s(CLOCK_PROCESS_CPUTIME_ID) - c;
    g->stored += p.counts[STORE_PUT_STORED];
    g->held += p.counts[STORE_PUT_HELD];
    g->dup += p.counts[STORE_PUT_DUPLICATE];
    g->equiv += p.counts[STORE_PUT_EQUIVOCATION];
    return rc;
}

/* With two targets the batch goes into both, the first one first on even
 * batches and last on odd ones: whatever the machine does meanwhile (another
 * process, the page cache writing back) falls on both alike. */
static int load_range(loader_t *l, size_t from, size_t to)
{
    int rc = 0;
    for (int i = 0; i < l->ntg && !rc; i++)
        rc = load_into(l, &l->tg[(size_t)i ^ (l->nbatch & (size_t)(l->ntg - 1))], from, to);
    l->nbatch++;
    return rc;
}

static int emit(const uint8_t *raw, size_t len, void *arg)
{
    loader_t *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 4096;
        l->off = realloc(l->off, l->cap * sizeof *l->off);
        if (!l->off)
            return LD_ENOMEM;
    }
    l->off[l->n++] = l->data.len;
    l->total++;
    int rc = buf_append(&l->data, raw, len);
    if (rc || !l->batch || l->n < l->batch)
        return rc;
    rc = load_range(l, 0, l->n);
    l->n = 0;
    buf_reset(&l->data);
    return rc;
}

/* --shuffle: everything is in memory; deliver it in a random order. */
static int load_shuffled(loader_t *l, const opts_t *o)
{
    uint64_t r = 0x2545F4914F6CDD1Dull ^ (o->cg.seed + 1);
    size_t n = l->n, extra = (size_t)(n * o->dups / 100.0);
    size_t *idx = malloc((n + extra) * sizeof *idx);
    for (size_t i = 0; i < n; i++)
        idx[i] = l->off[i];
    for (size_t i = 0; i < extra; i++) {
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        idx[n + i] = l->off[r % n];
    }
    for (size_t i = n + extra; o->shuffle && i > 1; i--) {
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        size_t j = r % i, t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
    /* Rebuild data in the new order (lengths from the old offsets). */
    buf_t nd = BUF_INIT;
    size_t *noff = malloc((n + extra) * sizeof *noff);
    for (size_t i = 0; i < n + extra; i++) {
        size_t k = 0, lo = 0, hi = n;   /* find idx[i] among the sorted old offsets */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (l->off[mid] < idx[i]) lo = mid + 1; else hi = mid;
        }
        k = lo;
        size_t end = k + 1 < n ? l->off[k + 1] : l->data.len;
        noff[i] = nd.len;
        buf_append(&nd, l->data.data + idx[i], end - idx[i]);
    }
    buf_free(&l->data);
    free(l->off);
    free(idx);
    l->data = nd;
    l->off = noff;
    l->n = l->cap = n + extra;
    int rc = 0;
    for (size_t i = 0; i < l->n && !rc; i += l->batch)
        rc = load_range(l, i, i + l->batch < l->n ? i + l->batch : l->n);
    return rc;
}

static int open_target(const char *dir, const char *views, target_t *g)
{
    g->views = views;
    if (strcmp(views, "all") == 0) {
        int rc = unit_open(dir, NULL, &g->u);
        g->s = rc ? NULL : g->u->store;
        return rc;
    }
    if (strcmp(views, "stats") && strcmp(views, "joint") && strcmp(views, "none"))
        return err_set(LD_EINVAL, "--views: all, stats, joint or none, not %s", views);
    char path[4096];
    snprintf(path, sizeof path, "%s/store", dir);
    int rc = store_open(path, 0, NULL, &g->s);
    if (!rc && strcmp(views, "stats") == 0)
        rc = stats_attach(g->s);
    if (!rc && strcmp(views, "joint") == 0)
        rc = joint_attach(g->s);
    return rc;
}

static void close_target(target_t *g)
{
    if (g->u)
        unit_close(&g->u);
    else if (g->s)
        store_close(&g->s);
}

/* The head of the city's own log in g: the generated city continues it. */
static int root_head(target_t *g, store_head_t *h)
{
    if (strcmp(store_origin(g->s), "hrb") != 0)
        return err_set(LD_EINVAL, "the generated city is hrb: init the hub with --id hrb");
    store_txn_t *t;
    int rc = store_read_begin(g->s, &t);
    if (!rc) {
        store_head_get(t, "hrb", h);
        store_read_end(&t);
    }
    return rc;
}

static void print_target(const loader_t *l, const target_t *g)
{
    printf("city: events=%llu stored=%llu duplicates=%llu held=%llu equivocations=%llu "
           "views=%s seconds=%.2f ingest_eps=%.0f cpu_eps=%.0f\n",
           (unsigned long long)l->total, (unsigned long long)g->stored,
           (unsigned long long)g->dup, (unsigned long long)g->held,
           (unsigned long long)g->equiv, g->views, g->wall,
           g->stored / (g->wall > 0 ? g->wall : 1), g->stored / (g->cpu > 0 ? g->cpu : 1));
}

static int cmd_load(opts_t *o)
{
    loader_t l;
    memset(&l, 0, sizeof l);
    l.ntg = o->vs_dir ? 2 : 1;
    int rc = open_target(o->dir, o->views, &l.tg[0]);
    if (!rc && o->vs_dir)
        rc = open_target(o->vs_dir, o->vs_views ? o->vs_views : o->views, &l.tg[1]);
    store_head_t h = {0}, h2 = {0};
    if (!rc)
        rc = root_head(&l.tg[0], &h);
    if (!rc && o->vs_dir && !(rc = root_head(&l.tg[1], &h2)) &&
        (h.seq != h2.seq || memcmp(h.hash, h2.hash, PROTO_HASH_LEN)))
        rc = err_set(LD_EINVAL, "--vs: the two hubs must start as copies of one another");
    o->cg.root_seq = h.seq;
    memcpy(o->cg.root_prev, h.hash, PROTO_HASH_LEN);
    l.batch = o->shuffle || o->pregen ? 0 : o->batch;
    if (!rc)
        rc = citygen_run(&o->cg, emit, &l, NULL);
    if (!rc && (o->shuffle || o->pregen)) {
        l.batch = o->batch;
        rc = load_shuffled(&l, o);
    } else if (!rc && l.n) {
        rc = load_range(&l, 0, l.n);
    }
    for (int i = 0; !rc && i < l.ntg; i++)
        print_target(&l, &l.tg[i]);
    buf_free(&l.data);
    free(l.off);
    for (int i = 0; i < l.ntg; i++)
        close_target(&l.tg[i]);
    return rc;
}

static int collect(const char *origin, uint64_t seq, const uint8_t *raw, size_t len, void *arg)
{
    proto_event_t ev;
    if (proto_event_decode(raw, len, 0, &ev))
        return err_set(LD_ECORRUPT, "%s#%llu does not decode", origin, (unsigned long long)seq);
    json_array_append_new(arg, proto_event_to_json(&ev));
    return 0;
}

/* The plain-scan figures of the store at o->dir. */
static int expected(const opts_t *o, json_t **out)
{
    store_t *s;
    char path[4096];
    snprintf(path, sizeof path, "%s/store", o->dir);
    int rc = store_open(path, STORE_RDONLY, NULL, &s);
    if (rc)
        return rc;
    json_t *events = json_array();
    store_txn_t *t;
    if (!(rc = store_read_begin(s, &t))) {
        rc = store_events_foreach(t, "", 0, collect, events);
        store_read_end(&t);
    }
    ref_q_t q;
    memset(&q, 0, sizeof q);
    q.root = o->unit ? o->unit : store_origin(s);
    stats_period_t p;
    if (!rc && !(rc = stats_period_parse(o->period, &p))) {
        if (p.from == 0) {
            snprintf(q.from, sizeof q.from, "0000-00-00");
            snprintf(q.to, sizeof q.to, "9999-99-99");
        } else {
            snprintf(q.from, sizeof q.from, "%04u-%02u-01", (unsigned)(p.from / 12) % 10000,
                     (unsigned)(p.from % 12 + 1) % 13);
            int y = (p.to + 1) / 12, m = (p.to + 1) % 12 + 1;   /* the day before next month */
            struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = 0, .tm_hour = 12};
            time_t tt = timegm(&tm);
            strftime(q.to, sizeof q.to, "%Y-%m-%d", gmtime(&tt));
        }
        time_t now = time(NULL);
        struct tm tm;
        if (o->now && strptime(o->now, "%Y-%m-%d", &tm))
            now = timegm(&tm);
        strftime(q.today, sizeof q.today, "%Y-%m-%d", gmtime(&now));
        *out = stats_ref_compute(events, &q);
    }
    json_decref(events);
    store_close(&s);
    return rc;
}

static int cmd_check(const opts_t *o)
{
    json_error_t je;
    json_t *got = json_load_file(o->stats, 0, &je), *ref = NULL;
    if (!got)
        return err_set(LD_EINVAL, "%s: %s", o->stats, je.text);
    int rc = expected(o, &ref), bad = 0;
    if (!rc) {
        bad = stats_ref_diff_query(ref, got, stdout);
        printf("check: %zu groups, %d differences\n", json_object_size(json_object_get(ref, "groups")),
               bad);
    }
    json_decref(got);
    json_decref(ref);
    return rc ? rc : bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'}, {"seed", required_argument, NULL, 's'},
        {"activity", required_argument, NULL, 'a'}, {"townships", required_argument, NULL, 't'},
        {"year", required_argument, NULL, 'y'}, {"clock", required_argument, NULL, 'c'},
        {"only", required_argument, NULL, 'o'}, {"batch", required_argument, NULL, 'b'},
        {"views", required_argument, NULL, 'v'}, {"vs", required_argument, NULL, 'V'},
        {"vs-views", required_argument, NULL, 'W'}, {"shuffle", no_argument, NULL, 'S'},
        {"dups", required_argument, NULL, 'D'}, {"unit", required_argument, NULL, 'u'},
        {"period", required_argument, NULL, 'p'}, {"now", required_argument, NULL, 'n'},
        {"stats", required_argument, NULL, 'j'}, {"pregen", no_argument, NULL, 'P'},
        {"events", required_argument, NULL, 'e'},
        {NULL, 0, NULL, 0},
    };
    opts_t o;
    memset(&o, 0, sizeof o);
    o.views = "all";
    o.batch = 5000;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o.dir = optarg; break;
        case 's': o.cg.seed = strtoull(optarg, NULL, 10); break;
        case 'a': o.cg.activity = strtod(optarg, NULL); break;
        case 't': o.cg.townships = atoi(optarg); break;
        case 'y': o.cg.year = atoi(optarg); break;
        case 'c': o.cg.now_ms = strtoull(optarg, NULL, 10); break;
        case 'o': o.cg.only = optarg; break;
        case 'b': o.batch = strtoul(optarg, NULL, 10); break;
        case 'v': o.views = optarg; break;
        case 'V': o.vs_dir = optarg; break;
        case 'W': o.vs_views = optarg; break;
        case 'S': o.shuffle = true; break;
        case 'P': o.pregen = true; break;
        case 'e':   /* about N events: the city makes ~62,000 + ~105,600 per unit of activity */
            o.cg.activity = (strtod(optarg, NULL) - 62000.0) / 105600.0;
            if (o.cg.activity < 0.1)
                o.cg.activity = 0.1;
            break;
        case 'D': o.dups = strtod(optarg, NULL); break;
        case 'u': o.unit = optarg; break;
        case 'p': o.period = optarg; break;
        case 'n': o.now = optarg; break;
        case 'j': o.stats = optarg; break;
        default: return 2;
        }
    }
    const char *cmd = optind < argc ? argv[optind] : "";
    if (!o.dir || !o.batch) {
        fprintf(stderr, "usage: liandong-city load|expect|check --dir DIR [options] "
                        "(see tests/tools/city.c)\n");
        return 2;
    }
    int rc;
    if (strcmp(cmd, "load") == 0) {
        rc = cmd_load(&o);
    } else if (strcmp(cmd, "expect") == 0) {
        json_t *r = NULL;
        if (!(rc = expected(&o, &r)))
            json_dumpf(r, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
        json_decref(r);
    } else if (strcmp(cmd, "check") == 0 && o.stats) {
        rc = cmd_check(&o);
        if (rc == 1)
            return 1;
    } else {
        fprintf(stderr, "liandong-city: unknown command '%s'\n", cmd);
        return 2;
    }
    if (rc)
        fprintf(stderr, "liandong-city: %s\n", err_msg()[0] ? err_msg() : err_str(rc));
    return rc ? 1 : 0;
}
