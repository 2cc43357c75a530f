/*
 * test_joint.c -- the joint inspection view (common/joint.h): status and
 * figures per unit, order independence (the same events in many random
 * orders, with duplicates, give byte-identical views), events that arrive
 * before their inspection, units out of scope, late findings, scope changes,
 * rectifications before their finding, latest-wins, rebuild, and a failed
 * transaction leaving the view as it was.
 *
 * Events are made as in real life: each unit has its own store and appends
 * its own log; the views are built by putting their raw bytes into fresh
 * stores. One fake clock drives every HLC, so creation order is HLC order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/err.h"
#include "common/joint.h"
#include "common/store.h"
#include "proto/json.h"
#include "testutil.h"

#define MAX_EVENTS 256
#define MAX_STORES 32

typedef struct ev {
    uint8_t *raw;
    size_t len;
} ev_t;

typedef struct fx {
    char *dir;
    testutil_clock_t clock;
    int ndirs;
    store_t *stores[MAX_STORES];
    int nstores;
    ev_t ev[MAX_EVENTS];
    int nev;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->dir = testutil_tmpdir();
    f->clock.now_ms = 1770000000000ull;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    for (int i = 0; i < f->nstores; i++)
        store_close(&f->stores[i]);
    for (int i = 0; i < f->nev; i++)
        free(f->ev[i].raw);
    store_fault_after(0);
    testutil_rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* ---- stores ---- */

static char *store_path(fx_t *f, int n)
{
    char *p = malloc(strlen(f->dir) + 16);
    sprintf(p, "%s/s%d", f->dir, n);
    return p;
}

/* A store with the joint view attached, as unit_open makes it. */
static store_t *new_store(fx_t *f, const char *origin)
{
    char *path = store_path(f, f->ndirs++);
    assert_int_equal(mkdir(path, 0700), 0);
    store_opts_t o = {0, testutil_clock_ms, &f->clock};
    store_t *s = NULL;
    assert_int_equal(store_open(path, STORE_CREATE, &o, &s), 0);
    free(path);
    assert_int_equal(joint_attach(s), 0);
    assert_int_equal(store_write(s, testutil_set_origin_cb, (void *)origin), 0);
    assert_int_equal(f->nstores < MAX_STORES, 1);
    f->stores[f->nstores++] = s;
    return s;
}

typedef struct rec_ctx {
    const char *kind, *date;
    buf_t body;
    store_ref_t ref;
} rec_ctx_t;

static int rec_cb(store_txn_t *t, void *arg)
{
    rec_ctx_t *c = arg;
    store_new_t ev = {c->kind, c->date, NULL, c->body.data, c->body.len};
    return store_txn_append(t, &ev, &c->ref);
}

/* Appends one event to s's own log (the clock ticks first), keeps a copy of
 * its bytes in f->ev, and returns its id "ORIGIN#SEQ" (static buffer). */
static const char *rec(fx_t *f, store_t *s, const char *kind, const char *date,
                       const char *fmt, ...)
{
    static char id[256];
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_error_t jerr;
    json_t *body = json_loads(text, 0, &jerr);
    if (!body)
        print_error("bad test body %s: %s\n", text, jerr.text);
    assert_non_null(body);
    rec_ctx_t c = {kind, date, BUF_INIT, {0}};
    assert_int_equal(proto_body_pack_json(body, &c.body), 0);
    json_decref(body);
    f->clock.now_ms += 1000;
    int rc = store_write(s, rec_cb, &c);
    if (rc)
        print_error("record %s: %s\n", kind, err_msg());
    assert_int_equal(rc, 0);
    buf_free(&c.body);
    store_txn_t *t;
    const uint8_t *raw;
    size_t len;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_event_get(t, store_origin(s), c.ref.seq, &raw, &len), 0);
    assert_int_equal(f->nev < MAX_EVENTS, 1);
    f->ev[f->nev].raw = malloc(len);
    memcpy(f->ev[f->nev].raw, raw, len);
    f->ev[f->nev++].len = len;
    store_read_end(&t);
    snprintf(id, sizeof id, "%s#%llu", store_origin(s), (unsigned long long)c.ref.seq);
    return id;
}

/* A unit with its own store and its unit.registered. */
static store_t *unit(fx_t *f, const char *origin, const char *name, const char *type)
{
    store_t *s = new_store(f, origin);
    rec(f, s, "unit.registered", "2026-01-05", "{\"id\":\"%s\",\"name\":\"%s\",\"type\":\"%s\"}",
        origin, name, type);
    return s;
}

typedef struct put_ctx {
    const ev_t *ev;
    int n;
} put_ctx_t;

static int put_cb(store_txn_t *t, void *arg)
{
    put_ctx_t *c = arg;
    for (int i = 0; i < c->n; i++) {
        store_put_result_t res;
        int rc = store_txn_put(t, c->ev[i].raw, c->ev[i].len, &res);
        if (rc)
            return rc;
    }
    return 0;
}

static void put_events(store_t *s, const ev_t *ev, int n)
{
    put_ctx_t c = {ev, n};
    int rc = store_write(s, put_cb, &c);
    if (rc)
        print_error("put: %s\n", err_msg());
    assert_int_equal(rc, 0);
}

/* Events whose origin lies within one of the prefixes (NULL-terminated). */
static int select_events(const fx_t *f, const char *const *prefixes, ev_t *out)
{
    int n = 0;
    for (int i = 0; i < f->nev; i++) {
        proto_event_t e;
        assert_int_equal(proto_event_decode(f->ev[i].raw, f->ev[i].len, 0, &e), 0);
        for (const char *const *p = prefixes; *p; p++)
            if (proto_origin_within(e.origin.ptr, e.origin.len, *p, strlen(*p))) {
                out[n++] = f->ev[i];
                break;
            }
    }
    return n;
}

static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* A fresh store of `origin` fed ev[0..n) in a random order (seed), with
 * about half as many duplicates again, in transactions of 1..4 events. */
static store_t *replay(fx_t *f, const char *origin, const ev_t *ev, int n, uint64_t seed)
{
    store_t *s = new_store(f, origin);
    rng_state = seed * 2654435761u + 1;
    int total = n + n / 2;
    ev_t *all = malloc((size_t)total * sizeof *all);
    for (int i = 0; i < total; i++)
        all[i] = ev[i < n ? i : (int)(rnd() % (uint32_t)n)];
    for (int i = total - 1; i > 0; i--) {
        int j = (int)(rnd() % (uint32_t)(i + 1));
        ev_t x = all[i];
        all[i] = all[j];
        all[j] = x;
    }
    for (int i = 0; i < total;) {
        int k = 1 + (int)(rnd() % 4);
        if (k > total - i)
            k = total - i;
        put_events(s, all + i, k);
        i += k;
    }
    free(all);
    return s;
}

/* ---- views ---- */

#define DUMP (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10))

static json_t *show(store_t *s, const char *id, const char *today, bool findings)
{
    joint_query_t q = {.today = today, .findings = findings};
    store_txn_t *t;
    json_t *o = NULL;
    assert_int_equal(store_read_begin(s, &t), 0);
    int rc = joint_show(t, id, &q, &o);
    if (rc)
        print_error("joint_show %s: %s\n", id, err_msg());
    store_read_end(&t);
    assert_int_equal(rc, 0);
    return o;
}

static json_t *list(store_t *s, const char *today, joint_filter_t filter)
{
    joint_query_t q = {.today = today, .filter = filter};
    store_txn_t *t;
    json_t *o = NULL;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(joint_list(t, &q, &o), 0);
    store_read_end(&t);
    return o;
}

static char *dump(json_t *o)
{
    char *s = json_dumps(o, DUMP);
    json_decref(o);
    return s;
}

/* The row of `unit` in list `key` of a show object, or NULL. */
static json_t *row(json_t *o, const char *key, const char *unit)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(o, key), i, r)
        if (strcmp(json_string_value(json_object_get(r, "unit")), unit) == 0)
            return r;
    return NULL;
}

static const char *sget(json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *save, *p = strtok_r(buf, ".", &save);
    for (; p && o; p = strtok_r(NULL, ".", &save))
        o = json_object_get(o, p);
    return json_string_value(o);
}

static long long iget(json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *save, *p = strtok_r(buf, ".", &save);
    for (; p && o; p = strtok_r(NULL, ".", &save))
        o = json_object_get(o, p);
    if (!json_is_integer(o))
        print_error("%s is not an integer\n", path);
    assert_true(json_is_integer(o));
    return (long long)json_integer_value(o);
}

/* ---- a whole inspection, from several units ---- */

typedef struct world {
    char j1[64], j2[64], fx1[64], fx2[64], fy1[64], late_f[64];
} world_t;

/* The city opens J1 for hrb/a and hrb/b; hrb/a opens its own J2; townships
 * file findings, reports and rectifications; the city extends the due date,
 * narrows the scope to hrb/a and closes J1; one township files after that;
 * hrb/c/w (never in scope) files; one finding names an unknown inspection,
 * one rectification an unknown finding. */
static void build_world(fx_t *f, world_t *w)
{
    store_t *city = unit(f, "hrb", "哈尔滨市", "city");
    store_t *a = unit(f, "hrb/a", "道里区", "district");
    unit(f, "hrb/b", "南岗区", "district");
    store_t *x = unit(f, "hrb/a/x", "新农镇", "township");
    store_t *y = unit(f, "hrb/a/y", "太平镇", "township");
    store_t *z = unit(f, "hrb/b/z", "王岗镇", "township");
    store_t *cw = unit(f, "hrb/c/w", "红旗镇", "township");
    strcpy(w->j1, rec(f, city, "joint.opened", "2026-03-01",
                      "{\"title\":\"中心城区教育扩容专题调研\",\"type\":\"research\","
                      "\"scope\":[\"hrb/a\",\"hrb/b\"],\"from\":\"2026-03-01\","
                      "\"due\":\"2026-04-30\"}"));
    strcpy(w->j2, rec(f, a, "joint.opened", "2026-03-02",
                      "{\"title\":\"校舍安全视察\",\"type\":\"visit\",\"scope\":[\"hrb/a\"],"
                      "\"from\":\"2026-03-02\",\"due\":\"2026-04-15\"}"));
    strcpy(w->fx1, rec(f, x, "joint.finding", "2026-03-10",
                       "{\"joint\":\"%s\",\"site\":\"第一小学\",\"problem\":\"教室不足\","
                       "\"severity\":\"high\",\"deputies\":[\"d1\",\"d2\"]}", w->j1));
    strcpy(w->fx2, rec(f, x, "joint.finding", "2026-03-12",
                       "{\"joint\":\"%s\",\"site\":\"中学\",\"problem\":\"食堂拥挤\","
                       "\"severity\":\"low\",\"deputies\":[\"d2\",\"d3\"]}", w->j1));
    rec(f, x, "joint.finding", "2026-03-20", "{\"joint\":\"%s\",\"site\":\"幼儿园\","
        "\"problem\":\"消防通道\",\"severity\":\"medium\"}", w->j2);
    strcpy(w->fy1, rec(f, y, "joint.finding", "2026-03-15",
                       "{\"joint\":\"%s\",\"site\":\"村小\",\"problem\":\"师资不足\","
                       "\"severity\":\"medium\",\"deputies\":[\"d9\"]}", w->j1));
    /* y rectifies x's finding (in progress), x later says done: latest wins */
    rec(f, y, "joint.rectification", "2026-04-01", "{\"joint\":\"%s\",\"finding\":\"%s\","
        "\"status\":\"in_progress\"}", w->j1, w->fx1);
    rec(f, x, "joint.rectification", "2026-04-10", "{\"joint\":\"%s\",\"finding\":\"%s\","
        "\"status\":\"done\",\"note\":\"租用临时校舍\"}", w->j1, w->fx1);
    rec(f, x, "joint.rectification", "2026-04-11", "{\"joint\":\"%s\",\"finding\":\"%s\","
        "\"status\":\"in_progress\"}", w->j1, w->fy1);
    rec(f, z, "joint.finding", "2026-03-18", "{\"joint\":\"%s\",\"site\":\"二中\","
        "\"problem\":\"操场不足\",\"severity\":\"high\"}", w->j1);
    rec(f, a, "joint.finding", "2026-03-25", "{\"joint\":\"%s\",\"site\":\"区教育局\","
        "\"problem\":\"规划滞后\",\"severity\":\"medium\",\"deputies\":[\"q1\"]}", w->j1);
    rec(f, a, "joint.report", "2026-04-28", "{\"joint\":\"%s\",\"summary\":\"区级完成\","
        "\"participants\":12}", w->j1);
    rec(f, y, "joint.report", "2026-04-20", "{\"joint\":\"%s\",\"summary\":\"完成\","
        "\"participants\":5}", w->j1);
    rec(f, y, "joint.report", "2026-04-25", "{\"joint\":\"%s\",\"summary\":\"补充\","
        "\"participants\":7}", w->j1);
    rec(f, city, "joint.updated", "2026-04-20", "{\"joint\":\"%s\",\"due\":\"2026-05-15\","
        "\"note\":\"延期\"}", w->j1);
    rec(f, x, "joint.report", "2026-05-16", "{\"joint\":\"%s\",\"summary\":\"迟报\"}", w->j1);
    rec(f, city, "joint.updated", "2026-05-18", "{\"joint\":\"%s\",\"scope\":[\"hrb/a\"]}", w->j1);
    rec(f, cw, "joint.finding", "2026-03-30", "{\"joint\":\"%s\",\"site\":\"某校\","
        "\"problem\":\"越界\",\"severity\":\"low\"}", w->j1);
    rec(f, city, "joint.closed", "2026-05-20", "{\"joint\":\"%s\",\"summary\":\"总结\"}", w->j1);
    strcpy(w->late_f, rec(f, y, "joint.finding", "2026-05-25", "{\"joint\":\"%s\","
                          "\"site\":\"村小\",\"problem\":\"又发现\",\"severity\":\"low\"}",
                          w->j1));
    rec(f, x, "joint.finding", "2026-03-11", "{\"joint\":\"hrb#99\",\"site\":\"?\","
        "\"problem\":\"?\",\"severity\":\"low\"}");
    rec(f, x, "joint.rectification", "2026-04-12", "{\"joint\":\"%s\",\"finding\":"
        "\"hrb/a/y#99\",\"status\":\"done\"}", w->j1);
    /* the city's own part, and a change of J2 by someone else than its opener */
    rec(f, city, "joint.finding", "2026-03-05", "{\"joint\":\"%s\",\"site\":\"市教育局\","
        "\"problem\":\"统筹\",\"severity\":\"low\"}", w->j1);
    rec(f, city, "joint.updated", "2026-03-06", "{\"joint\":\"%s\",\"due\":\"2027-01-01\"}",
        w->j2);
}

static void test_joint_figures(void **state)
{
    fx_t *f = *state;
    world_t w;
    build_world(f, &w);
    store_t *s = replay(f, "hrb", f->ev, f->nev, 1);
    json_t *o = show(s, w.j1, "2026-06-01", true);
    assert_string_equal(sget(o, "state"), "closed");
    assert_string_equal(sget(o, "due"), "2026-05-15");
    assert_string_equal(sget(o, "closed.date"), "2026-05-20");
    assert_int_equal(json_array_size(json_object_get(o, "scope")), 1);
    /* in scope now: hrb/a, hrb/a/x, hrb/a/y */
    assert_int_equal(json_array_size(json_object_get(o, "units")), 3);
    json_t *ra = row(o, "units", "hrb/a"), *rx = row(o, "units", "hrb/a/x"),
           *ry = row(o, "units", "hrb/a/y");
    assert_non_null(ra);
    assert_string_equal(sget(ra, "status"), "reported");
    assert_string_equal(sget(ra, "name"), "道里区");
    assert_int_equal(iget(ra, "participants"), 12);
    assert_string_equal(sget(rx, "status"), "reported_late");
    assert_int_equal(iget(rx, "findings.total"), 2);
    assert_int_equal(iget(rx, "findings.high"), 1);
    assert_int_equal(iget(rx, "deputies"), 3);
    assert_int_equal(iget(rx, "rectification.done"), 1); /* done (x, later) beats y's */
    assert_string_equal(sget(ry, "status"), "reported");
    assert_int_equal(iget(ry, "participants"), 7);          /* the later report */
    assert_int_equal(iget(ry, "findings.late"), 1);         /* 05-25 > closed 05-20 */
    assert_int_equal(iget(ry, "rectification.in_progress"), 1);
    /* hrb/b/z was in scope when it filed: removed now, its finding kept */
    json_t *rz = row(o, "removed_from_scope", "hrb/b/z");
    assert_non_null(rz);
    assert_int_equal(iget(rz, "findings.high"), 1);
    assert_non_null(row(o, "out_of_scope", "hrb/c/w"));
    assert_non_null(row(o, "opener_part", "hrb"));
    assert_null(row(o, "units", "hrb/b"));
    assert_int_equal(iget(o, "totals.units"), 3);
    assert_int_equal(iget(o, "totals.reported"), 2);
    assert_int_equal(iget(o, "totals.reported_late"), 1);
    assert_int_equal(iget(o, "totals.findings.total"), 5); /* x 2, y 2, a 1 */
    assert_int_equal(iget(o, "totals.findings.late"), 1);
    assert_int_equal(iget(o, "waiting.rectifications"), 1);
    assert_null(json_object_get(o, "ignored"));
    assert_true(json_real_value(json_object_get(json_object_get(o, "totals"),
                                                "completion_rate")) == 1.0);
    /* the findings themselves */
    json_t *fl = json_object_get(o, "findings");
    size_t i;
    json_t *fi;
    int late = 0, done = 0;
    json_array_foreach(fl, i, fi) {
        late += json_is_true(json_object_get(fi, "late"));
        if (strcmp(sget(fi, "id"), w.fx1) == 0) {
            assert_string_equal(sget(fi, "rectification.status"), "done");
            assert_string_equal(sget(fi, "rectification.note"), "租用临时校舍");
            assert_int_equal(iget(fi, "rectification.count"), 2);
            done = 1;
        }
    }
    assert_int_equal(late, 1);
    assert_int_equal(done, 1);
    json_decref(o);
}

/* J2 (opened by a district) and the list of everything. */
static void test_joint_district_inspection_and_list(void **state)
{
    fx_t *f = *state;
    world_t w;
    build_world(f, &w);
    store_t *s = replay(f, "hrb", f->ev, f->nev, 2);
    size_t i;
    json_t *fi;
    /* the change by the city (not J2's opener) is ignored */
    json_t *o = show(s, w.j2, "2026-04-01", false);
    assert_string_equal(sget(o, "due"), "2026-04-15");
    assert_int_equal(iget(o, "ignored"), 1);
    assert_int_equal(iget(row(o, "units", "hrb/a/x"), "findings.medium"), 1);
    assert_string_equal(sget(row(o, "units", "hrb/a/y"), "status"), "not_started");
    json_decref(o);
    o = show(s, w.j2, "2026-04-16", false);
    assert_string_equal(sget(row(o, "units", "hrb/a/y"), "status"), "overdue");
    assert_string_equal(sget(row(o, "units", "hrb/a/x"), "status"), "overdue");
    json_decref(o);

    /* the list: J1, J2 and the unknown hrb#99 with its waiting event */
    o = list(s, "2026-04-16", JOINT_ALL);
    assert_int_equal(json_array_size(o), 3);
    int unknown = 0;
    json_array_foreach(o, i, fi)
        if (!json_is_true(json_object_get(fi, "known"))) {
            assert_string_equal(sget(fi, "id"), "hrb#99");
            assert_int_equal(iget(fi, "events"), 1);
            unknown++;
        }
    assert_int_equal(unknown, 1);
    json_decref(o);
    o = list(s, "2026-04-16", JOINT_OPEN);
    assert_int_equal(json_array_size(o), 1); /* J2; J1 is closed, hrb#99 unknown */
    json_decref(o);
    o = list(s, "2026-04-16", JOINT_OVERDUE);
    assert_int_equal(json_array_size(o), 1);
    assert_string_equal(sget(json_array_get(o, 0), "id"), w.j2);
    json_decref(o);
}

/* The same set of events in 8 random orders with duplicates, plus the order
 * of creation: byte-identical show (with findings) and list. */
static void test_joint_order_independent(void **state)
{
    fx_t *f = *state;
    world_t w;
    build_world(f, &w);
    store_t *ref = replay(f, "hrb", f->ev, f->nev, 0);
    char *want[3] = {dump(show(ref, w.j1, "2026-05-01", true)),
                     dump(show(ref, w.j2, "2026-05-01", true)),
                     dump(list(ref, "2026-05-01", JOINT_ALL))};
    if (getenv("TEST_JOINT_PRINT")) /* to look at the view by eye */
        printf("%s\n%s\n%s\n", want[0], want[1], want[2]);
    for (uint64_t seed = 1; seed <= 8; seed++) {
        store_t *s = replay(f, "hrb", f->ev, f->nev, seed);
        char *got[3] = {dump(show(s, w.j1, "2026-05-01", true)),
                        dump(show(s, w.j2, "2026-05-01", true)),
                        dump(list(s, "2026-05-01", JOINT_ALL))};
        for (int k = 0; k < 3; k++) {
            assert_string_equal(got[k], want[k]);
            free(got[k]);
        }
    }
    /* and in creation order, one transaction */
    store_t *s = new_store(f, "hrb");
    put_events(s, f->ev, f->nev);
    char *got = dump(show(s, w.j1, "2026-05-01", true));
    assert_string_equal(got, want[0]);
    free(got);
    for (int k = 0; k < 3; k++)
        free(want[k]);
}

/* A district sees its part of the city's inspection; for the units both
 * see, the rows are identical. */
static void test_joint_levels_agree(void **state)
{
    fx_t *f = *state;
    world_t w;
    build_world(f, &w);
    ev_t sel[MAX_EVENTS];
    /* what hrb/a holds: its subtree's logs and its ancestors' (the city's) */
    static const char *const dist[] = {"hrb/a", NULL};
    int n = select_events(f, dist, sel);
    for (int i = 0; i < f->nev; i++) {
        proto_event_t e;
        assert_int_equal(proto_event_decode(f->ev[i].raw, f->ev[i].len, 0, &e), 0);
        if (mpk_str_eq(e.origin, "hrb"))
            sel[n++] = f->ev[i];
    }
    store_t *d = replay(f, "hrb/a", sel, n, 3);
    store_t *c = replay(f, "hrb", f->ev, f->nev, 4);
    json_t *od = show(d, w.j1, "2026-05-01", false), *oc = show(c, w.j1, "2026-05-01", false);
    assert_string_equal(sget(od, "view"), "hrb/a");
    assert_int_equal(json_array_size(json_object_get(od, "units")), 3);
    assert_int_equal(json_array_size(json_object_get(od, "out_of_scope")), 0);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(od, "units"), i, r) {
        char *a = json_dumps(r, DUMP);
        char *b = json_dumps(row(oc, "units", sget(r, "unit")), DUMP);
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
    json_decref(od);
    json_decref(oc);
    /* a township sees only itself, and finds the inspection in its list */
    static const char *const town[] = {"hrb/a/y", NULL};
    n = select_events(f, town, sel);
    for (int i2 = 0; i2 < f->nev; i2++) {
        proto_event_t e;
        assert_int_equal(proto_event_decode(f->ev[i2].raw, f->ev[i2].len, 0, &e), 0);
        if (mpk_str_eq(e.origin, "hrb") || mpk_str_eq(e.origin, "hrb/a"))
            sel[n++] = f->ev[i2];
    }
    store_t *t = replay(f, "hrb/a/y", sel, n, 5);
    json_t *ot = show(t, w.j1, "2026-05-01", false);
    assert_int_equal(json_array_size(json_object_get(ot, "units")), 1);
    assert_string_equal(sget(json_array_get(json_object_get(ot, "units"), 0), "unit"), "hrb/a/y");
    json_decref(ot);
    json_t *l = list(t, "2026-05-01", JOINT_ALL);
    int seen = 0;
    json_array_foreach(l, i, r)
        if (strcmp(sget(r, "id"), w.j1) == 0) {
            assert_string_equal(sget(r, "this_unit.status"), "reported");
            seen = 1;
        }
    assert_int_equal(seen, 1);
    json_decref(l);
}

/* Everything from a township arrives before the city's joint.opened. */
static void test_joint_early_arrival(void **state)
{
    fx_t *f = *state;
    store_t *city = unit(f, "hrb", "哈尔滨市", "city");
    store_t *x = unit(f, "hrb/x", "区", "district");
    char j[64];
    strcpy(j, rec(f, city, "joint.opened", "2026-03-01", "{\"title\":\"t\",\"type\":\"visit\","
                  "\"scope\":[\"hrb\"],\"from\":\"2026-03-01\",\"due\":\"2026-04-30\"}"));
    int opened = f->nev - 1;
    rec(f, x, "joint.finding", "2026-03-05", "{\"joint\":\"%s\",\"site\":\"s\",\"problem\":\"p\","
        "\"severity\":\"high\"}", j);
    rec(f, x, "joint.report", "2026-03-06", "{\"joint\":\"%s\",\"summary\":\"s\"}", j);
    store_t *s = new_store(f, "hrb");
    /* all but the opening */
    for (int i = 0; i < f->nev; i++)
        if (i != opened)
            put_events(s, &f->ev[i], 1);
    json_t *l = list(s, "2026-03-10", JOINT_ALL);
    assert_int_equal(json_array_size(l), 1);
    assert_false(json_is_true(json_object_get(json_array_get(l, 0), "known")));
    assert_int_equal(iget(json_array_get(l, 0), "events"), 2);
    json_decref(l);
    store_txn_t *t;
    json_t *o = NULL;
    joint_query_t q = {.today = "2026-03-10"};
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(joint_show(t, j, &q, &o), LD_ENOTFOUND);
    assert_non_null(strstr(err_msg(), "2 events waiting"));
    store_read_end(&t);
    put_events(s, &f->ev[opened], 1);
    o = show(s, j, "2026-03-10", false);
    assert_string_equal(sget(row(o, "units", "hrb/x"), "status"), "reported");
    assert_int_equal(iget(o, "totals.findings.high"), 1);
    json_decref(o);
}

/* A rectification first, then its finding; then an earlier one (by HLC)
 * arriving last does not override the later. */
static void test_joint_rect_before_finding_latest_wins(void **state)
{
    fx_t *f = *state;
    store_t *city = unit(f, "hrb", "市", "city");
    store_t *x = unit(f, "hrb/x", "区", "district");
    store_t *y = unit(f, "hrb/y", "区2", "district");
    char j[64], fid[64];
    strcpy(j, rec(f, city, "joint.opened", "2026-03-01", "{\"title\":\"t\",\"type\":\"visit\","
                  "\"scope\":[\"hrb\"],\"from\":\"2026-03-01\",\"due\":\"2026-04-30\"}"));
    strcpy(fid, rec(f, x, "joint.finding", "2026-03-05", "{\"joint\":\"%s\",\"site\":\"s\","
                    "\"problem\":\"p\",\"severity\":\"low\"}", j));
    int ifind = f->nev - 1;
    rec(f, y, "joint.rectification", "2026-03-06", "{\"joint\":\"%s\",\"finding\":\"%s\","
        "\"status\":\"done\"}", j, fid);
    int early = f->nev - 1;
    rec(f, city, "joint.rectification", "2026-03-07", "{\"joint\":\"%s\",\"finding\":\"%s\","
        "\"status\":\"in_progress\"}", j, fid);
    int later = f->nev - 1;
    store_t *s = new_store(f, "hrb");
    for (int i = 0; i < f->nev; i++)
        if (i != ifind && i != early)
            put_events(s, &f->ev[i], 1);
    json_t *o = show(s, j, "2026-03-10", false);
    assert_int_equal(iget(o, "waiting.rectifications"), 1);
    assert_int_equal(iget(o, "totals.findings.total"), 0);
    json_decref(o);
    put_events(s, &f->ev[ifind], 1);
    o = show(s, j, "2026-03-10", false);
    assert_int_equal(iget(o, "waiting.rectifications"), 0);
    assert_int_equal(iget(row(o, "units", "hrb/x"), "rectification.in_progress"), 1);
    json_decref(o);
    put_events(s, &f->ev[early], 1);
    o = show(s, j, "2026-03-10", false);
    assert_int_equal(iget(row(o, "units", "hrb/x"), "rectification.in_progress"), 1);
    assert_int_equal(iget(row(o, "units", "hrb/x"), "rectification.done"), 0);
    json_decref(o);
    (void)later;
}

/* Widening the scope adds a unit from then on (not started, then overdue);
 * a unit outside every scope that files shows as out of scope. */
static void test_joint_scope_change(void **state)
{
    fx_t *f = *state;
    store_t *city = unit(f, "hrb", "市", "city");
    unit(f, "hrb/a", "甲区", "district");
    store_t *b = unit(f, "hrb/b", "乙区", "district");
    char j[64];
    strcpy(j, rec(f, city, "joint.opened", "2026-03-01", "{\"title\":\"t\",\"type\":\"law_check\","
                  "\"scope\":[\"hrb/a\"],\"from\":\"2026-03-01\",\"due\":\"2026-04-30\"}"));
    rec(f, b, "joint.finding", "2026-03-05", "{\"joint\":\"%s\",\"site\":\"s\",\"problem\":\"p\","
        "\"severity\":\"low\"}", j);
    store_t *s = new_store(f, "hrb");
    put_events(s, f->ev, f->nev);
    json_t *o = show(s, j, "2026-03-10", false);
    assert_int_equal(iget(o, "totals.units"), 1);
    assert_non_null(row(o, "out_of_scope", "hrb/b"));
    assert_int_equal(iget(o, "totals.findings.total"), 0);
    json_decref(o);
    int n0 = f->nev;
    rec(f, city, "joint.updated", "2026-03-11", "{\"joint\":\"%s\",\"scope\":[\"hrb/a\","
        "\"hrb/b\"]}", j);
    put_events(s, f->ev + n0, f->nev - n0);
    o = show(s, j, "2026-05-01", false);
    assert_int_equal(iget(o, "totals.units"), 2);
    assert_string_equal(sget(row(o, "units", "hrb/b"), "status"), "overdue");
    assert_string_equal(sget(row(o, "units", "hrb/a"), "status"), "overdue");
    assert_int_equal(iget(o, "totals.findings.total"), 1);
    assert_int_equal(json_array_size(json_object_get(o, "history")), 2);
    json_decref(o);
}

/* Deleting the version makes the next attach rebuild the same view. */
static int drop_version_cb(store_txn_t *t, void *arg)
{
    (void)arg;
    return store_meta_put(t, "joint.version", "0", 1);
}

static void test_joint_rebuild(void **state)
{
    fx_t *f = *state;
    world_t w;
    build_world(f, &w);
    store_t *s = replay(f, "hrb", f->ev, f->nev, 9);
    char *want = dump(show(s, w.j1, "2026-05-01", true));
    assert_int_equal(store_write(s, drop_version_cb, NULL), 0);
    int idx = f->nstores - 1;
    store_close(&f->stores[idx]);
    char *path = store_path(f, f->ndirs - 1);
    store_opts_t o = {0, testutil_clock_ms, &f->clock};
    assert_int_equal(store_open(path, 0, &o, &f->stores[idx]), 0);
    free(path);
    assert_int_equal(joint_attach(f->stores[idx]), 0);
    char *got = dump(show(f->stores[idx], w.j1, "2026-05-01", true));
    assert_string_equal(got, want);
    free(got);
    free(want);
}

/* A transaction that fails at any of its writes leaves the view as it was. */
static void test_joint_fault_leaves_view(void **state)
{
    fx_t *f = *state;
    world_t w;
    build_world(f, &w);
    int half = f->nev / 2;
    store_t *s = new_store(f, "hrb");
    put_events(s, f->ev, half);
    char *before = dump(show(s, w.j1, "2026-05-01", true));
    int failures = 0;
    for (int nth = 1; nth < 200; nth++) {
        store_fault_after(nth);
        put_ctx_t c = {f->ev + half, f->nev - half};
        int rc = store_write(s, put_cb, &c);
        store_fault_after(0);
        if (rc == 0)
            break;
        failures++;
        char *now = dump(show(s, w.j1, "2026-05-01", true));
        assert_string_equal(now, before);
        free(now);
    }
    assert_true(failures > 0);
    store_t *ref = replay(f, "hrb", f->ev, f->nev, 11);
    char *want = dump(show(ref, w.j1, "2026-05-01", true));
    char *got = dump(show(s, w.j1, "2026-05-01", true));
    assert_string_equal(got, want);
    free(before);
    free(want);
    free(got);
}

static void test_joint_bad_ids(void **state)
{
    fx_t *f = *state;
    store_t *s = new_store(f, "hrb");
    store_txn_t *t;
    json_t *o = NULL;
    joint_query_t q = {.today = "2026-01-01"};
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(joint_show(t, "nonsense", &q, &o), LD_EINVAL);
    assert_int_equal(joint_show(t, "hrb#0", &q, &o), LD_EINVAL);
    assert_int_equal(joint_show(t, "hrb#5", &q, &o), LD_ENOTFOUND);
    assert_int_equal(joint_info(t, "hrb#5", &o), LD_ENOTFOUND);
    assert_int_equal(joint_finding_info(t, "hrb/x#5", &o), LD_ENOTFOUND);
    assert_null(o);
    store_read_end(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_joint_figures),
        T(test_joint_district_inspection_and_list),
        T(test_joint_order_independent),
        T(test_joint_levels_agree),
        T(test_joint_early_arrival),
        T(test_joint_rect_before_finding_latest_wins),
        T(test_joint_scope_change),
        T(test_joint_rebuild),
        T(test_joint_fault_leaves_view),
        T(test_joint_bad_ids),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
