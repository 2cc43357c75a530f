/*
 * liandong-jointload -- loads a city hub with a large joint inspection and
 * unrelated history, for scripts/bench/joint.
 *
 *   liandong-jointload --dir HUBDIR [--units U] [--findings F] [--events N]
 *                      [--batch B] [--runs K] [--today D]
 *   liandong-jointload --dir HUBDIR --query ID [--runs K] [--today D]
 *
 * HUBDIR is a hub made by `liandong-hub init --id hrb`. The city opens one
 * inspection over its whole subtree; U units below it (districts hrb/dNN of
 * about 15 units each: the district and its townships hrb/dNN/tNN) each
 * send their log, which holds their unit.registered, F/U findings with
 * deputies, rectifications for half of them, a report for two units in
 * three (some after the due date), and unrelated history (deputy contacts,
 * about 200 bytes each) up to N events held in all. Logs are put the way a
 * hub merges (store_txn_put, B events per transaction), so every view's
 * indexer runs as in production.
 *
 * Then it times the query alone, in this process: K runs of a read
 * transaction, joint_show() and dumping its JSON; prints one line
 *
 *   jointload: id=ID units=U findings=F events=N load_s=S eps=E query_ms=Q query_cpu_ms=C
 *
 * (query_ms is the median wall time, query_cpu_ms the mean CPU time). Deterministic. With --query, only the timing
 * of inspection ID in a hub loaded before.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/err.h"
#include "common/joint.h"
#include "common/store.h"
#include "common/unit.h"
#include "proto/json.h"

typedef struct opts {
    const char *dir, *today, *query;
    long units, findings, events, batch, runs;
} opts_t;

typedef struct loader {
    store_t *s;
    buf_t data;            /* encoded events of the batch, back to back */
    size_t *off, n, cap;
    long batch;
    uint64_t hlc;          /* next stamp */
    uint64_t puts;
} loader_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "liandong-jointload: %s: %s\n", what, err_msg());
    exit(1);
}

static int put_batch_fn(store_txn_t *t, void *arg)
{
    loader_t *l = arg;
    for (size_t i = 0; i < l->n; i++) {
        store_put_result_t res;
        size_t end = i + 1 < l->n ? l->off[i + 1] : l->data.len;
        int rc = store_txn_put(t, l->data.data + l->off[i], end - l->off[i], &res);
        if (rc)
            return rc;
    }
    return 0;
}

static void flush(loader_t *l)
{
    if (!l->n)
        return;
    if (store_write(l->s, put_batch_fn, l))
        die("put");
    l->puts += l->n;
    l->n = 0;
    buf_reset(&l->data);
}

/* One origin's log being written. */
typedef struct logw {
    char origin[64];
    uint64_t seq;
    uint8_t prev[PROTO_HASH_LEN];
} logw_t;

static void emit(loader_t *l, logw_t *w, const char *kind, const char *date, const buf_t *body)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->off = realloc(l->off, l->cap * sizeof *l->off);
    }
    size_t at = l->data.len;
    proto_header_t h = {.origin = w->origin, .seq = ++w->seq, .hlc = l->hlc++, .kind = kind,
                        .date = date};
    memcpy(h.prev, w->prev, PROTO_HASH_LEN);
    if (proto_event_encode(&h, body->data, body->len, &l->data))
        die("encode");
    proto_hash(l->data.data + at, l->data.len - at, w->prev);
    l->off[l->n++] = at;
    if ((long)l->n >= l->batch)
        flush(l);
}

static void pack(buf_t *b, json_t *o)
{
    buf_reset(b);
    if (!o || proto_body_pack_json(o, b))
        die("pack");
    json_decref(o);
}

static void day(char out[11], int d) /* d days after 2026-03-01, within 2026 */
{
    struct tm tm = {.tm_year = 126, .tm_mon = 2, .tm_mday = 1 + d, .tm_hour = 12};
    mktime(&tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

#define FILLERS 64
static buf_t fillers[FILLERS];

static void make_fillers(void)
{
    static const char *const topics[] = {"春耕备耕农资供应情况", "农村饮水安全工程建设",
                                         "乡村道路硬化及养护", "冬季供暖保障工作"};
    for (int i = 0; i < FILLERS; i++) {
        char dep[8];
        snprintf(dep, sizeof dep, "d%02d", i % 40);
        pack(&fillers[i], json_pack("{s:s, s:s, s:i, s:s}", "deputy", dep, "channel",
                                    "reception_day", "constituents", 10 + i, "topic",
                                    topics[i % 4]));
    }
}

/* Writes the whole log of unit number u (origin o) into the loader. */
static void unit_log(loader_t *l, const opts_t *o, const char *j, int u, const char *origin,
                     long nevents, long nfind)
{
    logw_t w = {.seq = 0};
    snprintf(w.origin, sizeof w.origin, "%s", origin);
    memset(w.prev, 0, sizeof w.prev);
    buf_t b = BUF_INIT;
    char date[11], name[32], fid[96];
    bool district = strchr(origin + 4, '/') == NULL;
    snprintf(name, sizeof name, "%s%d", district ? "区" : "镇", u);
    pack(&b, json_pack("{s:s, s:s, s:s}", "id", origin, "name", name, "type",
                       district ? "district" : "township"));
    emit(l, &w, "unit.registered", "2026-01-05", &b);
    long filler = nevents - 1 - nfind - (nfind + 1) / 2 - (u % 3 != 2);
    static const char *const sev[] = {"low", "medium", "high"};
    for (long i = 0, f = 0, k = 0; i < filler || f < nfind; k++) {
        /* findings spread evenly through the unrelated history */
        if (f < nfind && (filler == 0 || k % ((filler + nfind) / nfind + 1) == 0 || i >= filler)) {
            day(date, (int)(f * 55 / (nfind ? nfind : 1)));
            char dep[2][8];
            snprintf(dep[0], sizeof dep[0], "d%02ld", f % 20);
            snprintf(dep[1], sizeof dep[1], "d%02ld", (f + 7) % 20);
            pack(&b, json_pack("{s:s, s:s, s:s, s:s, s:[s, s]}", "joint", j, "site", "中心小学",
                               "problem", "教室不足，大班额问题突出", "severity", sev[f % 3],
                               "deputies", dep[0], dep[1]));
            emit(l, &w, "joint.finding", date, &b);
            if (f % 2 == 0) {
                snprintf(fid, sizeof fid, "%s#%llu", origin, (unsigned long long)w.seq);
                pack(&b, json_pack("{s:s, s:s, s:s}", "joint", j, "finding", fid, "status",
                                   f % 4 == 0 ? "done" : "in_progress"));
                emit(l, &w, "joint.rectification", date, &b);
            }
            f++;
        } else {
            emit(l, &w, "deputy.contact", "2026-02-10", &fillers[(u + i) % FILLERS]);
            i++;
        }
    }
    if (u % 3 != 2) {
        day(date, u % 5 == 0 ? 62 : 55); /* most by the due date, some after */
        pack(&b, json_pack("{s:s, s:s, s:i}", "joint", j, "summary", "已按要求完成并报告",
                           "participants", 3 + u % 10));
        emit(l, &w, "joint.report", date, &b);
    }
    (void)o;
    buf_free(&b);
}

typedef struct open_ctx {
    buf_t body;
    store_ref_t ref;
} open_ctx_t;

static int open_fn(store_txn_t *t, void *arg)
{
    open_ctx_t *c = arg;
    store_new_t ev = {"joint.opened", "2026-03-01", NULL, c->body.data, c->body.len};
    return store_txn_append(t, &ev, &c->ref);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Median wall time of one query, and its mean CPU time (*cpu_ms): on a
 * busy machine the two differ. */
static double time_query(store_t *s, const char *j, const opts_t *o, double *cpu_ms)
{
    double *ms = calloc((size_t)o->runs, sizeof *ms);
    joint_query_t q = {.today = o->today};
    double c0 = cpu_s();
    for (long i = 0; i < o->runs; i++) {
        double t0 = now_s();
        store_txn_t *t;
        json_t *out;
        if (store_read_begin(s, &t) || joint_show(t, j, &q, &out))
            die("joint_show");
        char *text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
        store_read_end(&t);
        json_decref(out);
        free(text);
        ms[i] = (now_s() - t0) * 1000;
    }
    *cpu_ms = (cpu_s() - c0) * 1000 / (double)o->runs;
    qsort(ms, (size_t)o->runs, sizeof *ms, cmp_d);
    double med = ms[o->runs / 2];
    free(ms);
    return med;
}

static void parse(int argc, char **argv, opts_t *o)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'}, {"units", required_argument, NULL, 'u'},
        {"findings", required_argument, NULL, 'f'}, {"events", required_argument, NULL, 'n'},
        {"batch", required_argument, NULL, 'b'}, {"runs", required_argument, NULL, 'r'},
        {"today", required_argument, NULL, 't'}, {"query", required_argument, NULL, 'q'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->dir = optarg; break;
        case 'u': o->units = atol(optarg); break;
        case 'f': o->findings = atol(optarg); break;
        case 'n': o->events = atol(optarg); break;
        case 'b': o->batch = atol(optarg); break;
        case 'r': o->runs = atol(optarg); break;
        case 't': o->today = optarg; break;
        case 'q': o->query = optarg; break;
        default: exit(2);
        }
    }
    if (!o->dir || o->units < 1 || o->findings < 0 || o->batch < 1 || o->runs < 1 ||
        o->events < o->units * (2 + o->findings / o->units * 3 / 2)) {
        fprintf(stderr, "usage: liandong-jointload --dir HUBDIR [--units U] [--findings F] "
                        "[--events N] [--batch B] [--runs K] [--today D]\n"
                        "(N must leave room for every unit's findings)\n");
        exit(2);
    }
}

int main(int argc, char **argv)
{
    opts_t o = {.units = 300, .findings = 30000, .events = 1000000, .batch = 10000,
                .runs = 21, .today = "2026-05-05"};
    parse(argc, argv, &o);
    unit_t *u;
    if (unit_open(o.dir, NULL, &u))
        die(o.dir);
    if (o.query) { /* only time the query of an inspection loaded before */
        double cpu, q = time_query(u->store, o.query, &o, &cpu);
        printf("jointload: id=%s query_ms=%.2f query_cpu_ms=%.2f\n", o.query, q, cpu);
        unit_close(&u);
        return 0;
    }
    make_fillers();
    open_ctx_t oc = {BUF_INIT, {0}};
    pack(&oc.body, json_pack("{s:s, s:s, s:[s], s:s, s:s}", "title", "中心城区教育扩容专题调研",
                             "type", "research", "scope", "hrb", "from", "2026-03-01", "due",
                             "2026-04-30"));
    if (store_write(u->store, open_fn, &oc))
        die("open the inspection");
    char j[96];
    snprintf(j, sizeof j, "%s#%llu", store_origin(u->store), (unsigned long long)oc.ref.seq);
    buf_free(&oc.body);

    loader_t l = {.s = u->store, .data = BUF_INIT, .batch = o.batch,
                  .hlc = (1772000000000ull << 16)};
    long per = o.events / o.units, fper = o.findings / o.units;
    double t0 = now_s();
    for (long i = 0, d = 0, t = 0; i < o.units; i++) {
        char origin[64];
        if (i % 15 == 0) {
            d++;
            t = 0;
            snprintf(origin, sizeof origin, "hrb/d%02ld", d);
        } else {
            snprintf(origin, sizeof origin, "hrb/d%02ld/t%02ld", d, ++t);
        }
        unit_log(&l, &o, j, (int)i, origin, per, fper + (i < o.findings % o.units));
    }
    flush(&l);
    double load = now_s() - t0;
    double cpu, q = time_query(u->store, j, &o, &cpu);
    printf("jointload: id=%s units=%ld findings=%ld events=%llu load_s=%.1f eps=%.0f "
           "query_ms=%.2f query_cpu_ms=%.2f\n", j, o.units, o.findings,
           (unsigned long long)l.puts, load, l.puts / load, q, cpu);
    buf_free(&l.data);
    free(l.off);
    for (int i = 0; i < FILLERS; i++)
        buf_free(&fillers[i]);
    unit_close(&u);
    return 0;
}
