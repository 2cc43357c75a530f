/*
 * test_stats.c -- the statistics view: its incremental figures equal a plain
 * recomputation (tests/unit/stats_ref.h) on a generated county, at the city
 * and at a district; any arrival order with duplicates gives identical
 * output; a rebuild gives the same; and the edge cases of the issue: a
 * period with no data, a deputy who leaves mid-term, a suggestion rated
 * twice, an answer recorded before its submission, a work review of a unit
 * never reviewed before.
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

#include "common/err.h"
#include "common/stats.h"
#include "common/store.h"
#include "proto/json.h"
#include "testutil.h"
#include "tests/unit/citygen.h"
#include "tests/unit/stats_ref.h"

/* ---- events, made the way a node makes them ---- */

typedef struct evlist {
    size_t n, cap;
    uint8_t **raw;
    size_t *len;
} evlist_t;

static void evlist_add(evlist_t *l, const uint8_t *raw, size_t len)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->raw = realloc(l->raw, l->cap * sizeof *l->raw);
        l->len = realloc(l->len, l->cap * sizeof *l->len);
    }
    l->raw[l->n] = malloc(len);
    memcpy(l->raw[l->n], raw, len);
    l->len[l->n++] = len;
}

static void evlist_free(evlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->raw[i]);
    free(l->raw);
    free(l->len);
    memset(l, 0, sizeof *l);
}

static int emit_to_list(const uint8_t *raw, size_t len, void *arg)
{
    evlist_add(arg, raw, len);
    return 0;
}

/* One origin's chain. */
typedef struct chain {
    const char *origin;
    uint64_t seq;
    uint8_t prev[PROTO_HASH_LEN];
} chain_t;

static void ev(evlist_t *l, chain_t *c, const char *kind, const char *date, const char *body)
{
    json_error_t je;
    json_t *b = json_loads(body, 0, &je);
    assert_non_null(b);
    buf_t packed = BUF_INIT, raw = BUF_INIT;
    assert_int_equal(proto_body_pack_json(b, &packed), 0);
    proto_header_t h = {c->origin, ++c->seq, (1767000000000ull + c->seq * 1000) << 16, {0},
                        kind, date, NULL};
    memcpy(h.prev, c->prev, PROTO_HASH_LEN);
    assert_int_equal(proto_event_encode(&h, packed.data, packed.len, &raw), 0);
    proto_event_t e;
    if (proto_event_decode(raw.data, raw.len, PROTO_DECODE_STRICT, &e))
        fail_msg("%s: %s", kind, err_msg());
    proto_hash(raw.data, raw.len, c->prev);
    evlist_add(l, raw.data, raw.len);
    buf_free(&packed);
    buf_free(&raw);
    json_decref(b);
}

/* ---- stores ---- */

typedef struct fx {
    char *dir;
    int nstores;
    store_t *s[4];
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->dir = testutil_tmpdir();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    for (int i = 0; i < f->nstores; i++)
        store_close(&f->s[i]);
    testutil_rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static store_t *store_new_map(fx_t *f, size_t map_size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/s%d", f->dir, f->nstores);
    mkdir(path, 0700);
    store_t *s = NULL;
    store_opts_t o = {map_size, NULL, NULL};
    assert_int_equal(store_open(path, STORE_CREATE, &o, &s), 0);
    assert_int_equal(stats_attach(s), 0);
    f->s[f->nstores++] = s;
    return s;
}

static store_t *store_new(fx_t *f) { return store_new_map(f, 0); }

typedef struct put_ctx {
    const evlist_t *l;
    const size_t *order;
    size_t from, to;
} put_ctx_t;

static int put_fn(store_txn_t *t, void *arg)
{
    put_ctx_t *p = arg;
    for (size_t i = p->from; i < p->to; i++) {
        size_t k = p->order ? p->order[i] : i;
        store_put_result_t res;
        int rc = store_txn_put(t, p->l->raw[k], p->l->len[k], &res);
        if (rc)
            return rc;
    }
    return 0;
}

/* Puts the events (in `order`, or as listed) in transactions of `batch`. */
static void load(store_t *s, const evlist_t *l, const size_t *order, size_t n, size_t batch)
{
    for (size_t i = 0; i < n; i += batch) {
        put_ctx_t p = {l, order, i, i + batch < n ? i + batch : n};
        int rc = store_write(s, put_fn, &p);
        if (rc)
            fail_msg("store_write: %s", err_msg());
    }
}

static json_t *query(store_t *s, const char *unit, const char *period, stats_by_t by)
{
    stats_query_t q;
    memset(&q, 0, sizeof q);
    q.unit = unit;
    q.by = by;
    q.now_ms = 1768003200000ull;   /* 2026-01-10 */
    assert_int_equal(stats_period_parse(period, &q.period), 0);
    json_t *r = NULL;
    if (stats_query(s, &q, &r))
        fail_msg("stats_query: %s", err_msg());
    return r;
}

static char *dump(json_t *r)
{
    char *d = json_dumps(r, JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
    json_decref(r);
    return d;
}

/* ---- against the plain recomputation ---- */

static int collect(const char *origin, uint64_t seq, const uint8_t *raw, size_t len, void *arg)
{
    (void)origin; (void)seq;
    proto_event_t e;
    assert_int_equal(proto_event_decode(raw, len, 0, &e), 0);
    json_array_append_new(arg, proto_event_to_json(&e));
    return 0;
}

static void check_against_ref(store_t *s, const char *unit, const char *period,
                              const char *from, const char *to)
{
    json_t *events = json_array();
    store_txn_t *t;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_events_foreach(t, "", 0, collect, events), 0);
    store_read_end(&t);
    ref_q_t q;
    memset(&q, 0, sizeof q);
    q.root = unit;
    snprintf(q.from, sizeof q.from, "%s", from);
    snprintf(q.to, sizeof q.to, "%s", to);
    snprintf(q.today, sizeof q.today, "2026-01-10");
    json_t *ref = stats_ref_compute(events, &q);
    json_t *got = query(s, unit, period, STATS_BY_CHILD);
    int bad = stats_ref_diff_query(ref, got, stderr);
    assert_int_equal(bad, 0);
    /* The check is not vacuous. */
    assert_true(ref_get(json_object_get(ref, "total"), "deputies.in_office") > 0);
    json_decref(ref);
    json_decref(got);
    json_decref(events);
}

/* A county of the generated city (8 townships) and the city's own log. */
static void county(evlist_t *l)
{
    cg_opts_t o;
    memset(&o, 0, sizeof o);
    o.seed = 5;
    o.townships = 8;
    o.only = "hrb/yanshou";
    assert_int_equal(citygen_run(&o, emit_to_list, l, NULL), 0);
    assert_true(l->n > 5000);
}

static void test_stats_matches_plain_scan(void **state)
{
    fx_t *f = *state;
    evlist_t l = {0};
    county(&l);
    store_t *s = store_new(f);
    load(s, &l, NULL, l.n, 2000);
    check_against_ref(s, "hrb", "2025", "2025-01-01", "2025-12-31");
    check_against_ref(s, "hrb/yanshou", "2025", "2025-01-01", "2025-12-31");
    check_against_ref(s, "hrb/yanshou", "2025-Q2..2025-Q3", "2025-04-01", "2025-09-30");
    check_against_ref(s, "hrb", "all", "0000-00-00", "9999-99-99");
    evlist_free(&l);
}

static uint64_t rnd(uint64_t *r)
{
    *r ^= *r << 13;
    *r ^= *r >> 7;
    *r ^= *r << 17;
    return *r;
}

static void test_stats_order_independent(void **state)
{
    fx_t *f = *state;
    evlist_t l = {0};
    county(&l);
    store_t *a = store_new(f), *b = store_new(f), *c = store_new(f);
    load(a, &l, NULL, l.n, 5000);
    /* b: shuffled, with a fifth repeated; c: backwards, one event per transaction
     * for the first thousand. */
    size_t n = l.n + l.n / 5;
    size_t *order = malloc(n * sizeof *order);
    uint64_t r = 42;
    for (size_t i = 0; i < n; i++)
        order[i] = i < l.n ? i : rnd(&r) % l.n;
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd(&r) % i, t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    load(b, &l, order, n, 700);
    for (size_t i = 0; i < l.n; i++)
        order[i] = l.n - 1 - i;
    load(c, &l, order, 1000, 1);
    load(c, &l, order + 1000, l.n - 1000, 3000);
    free(order);
    static const char *const periods[] = {"2025", "all", "2025-03", "2026"};
    for (size_t p = 0; p < 4; p++)
        for (int by = 0; by < 3; by++) {
            char *x = dump(query(a, "hrb", periods[p], (stats_by_t)by));
            char *y = dump(query(b, "hrb", periods[p], (stats_by_t)by));
            char *z = dump(query(c, "hrb", periods[p], (stats_by_t)by));
            assert_string_equal(x, y);
            assert_string_equal(x, z);
            free(x);
            free(y);
            free(z);
        }
    /* A rebuild from the events gives the same again. */
    char *before = dump(query(b, "hrb", "2025", STATS_BY_UNIT));
    assert_int_equal(stats_rebuild(b), 0);
    char *after = dump(query(b, "hrb", "2025", STATS_BY_UNIT));
    assert_string_equal(before, after);
    free(before);
    free(after);
    evlist_free(&l);
}

/* A map far too small: store_write aborts, grows the map and runs the
 * transaction again, many times, some of them while the view's cache is
 * being written at commit. The view must come out exactly as in a store
 * that never had to grow. */
static void test_stats_map_growth_retries(void **state)
{
    fx_t *f = *state;
    evlist_t l = {0};
    county(&l);
    store_t *a = store_new(f), *b = store_new_map(f, 1u << 16);
    load(a, &l, NULL, l.n, l.n);
    load(b, &l, NULL, l.n, l.n);
    assert_true(store_map_size(b) > (1u << 20));
    char *x = dump(query(a, "hrb", "all", STATS_BY_UNIT));
    char *y = dump(query(b, "hrb", "all", STATS_BY_UNIT));
    assert_string_equal(x, y);
    free(x);
    free(y);
    evlist_free(&l);
}

/* ---- edge cases, by hand ---- */

static json_t *total(store_t *s, const char *period)
{
    json_t *r = query(s, "hrb/x", period, STATS_BY_CHILD);
    json_t *t = json_incref(json_object_get(r, "total"));
    json_decref(r);
    return t;
}

static long long num(json_t *o, const char *path) { return ref_get(o, path); }

static double real(json_t *o, const char *path)
{
    const char *dot;
    char part[64];
    while ((dot = strchr(path, '.'))) {
        snprintf(part, sizeof part, "%.*s", (int)(dot - path), path);
        o = json_object_get(o, part);
        path = dot + 1;
    }
    return json_number_value(json_object_get(o, path));
}

static void test_stats_empty_period(void **state)
{
    fx_t *f = *state;
    store_t *s = store_new(f);
    evlist_t l = {0};
    chain_t c = {"hrb/x", 0, {0}};
    ev(&l, &c, "unit.registered", "2025-01-01", "{\"id\":\"hrb/x\",\"name\":\"某镇\",\"type\":\"township\"}");
    ev(&l, &c, "deputy.contact", "2025-05-01", "{\"deputy\":\"d1\",\"channel\":\"visit\"}");
    load(s, &l, NULL, l.n, 10);
    json_t *t = total(s, "2019");
    assert_int_equal(num(t, "events"), 0);
    assert_int_equal(num(t, "deputies.in_office"), 0);
    assert_true(json_is_null(json_object_get(json_object_get(t, "activity"), "duty_report_coverage")));
    assert_true(json_is_null(json_object_get(json_object_get(t, "suggestions"), "median_days_to_answer")));
    json_decref(t);
    t = total(s, "2025");
    assert_int_equal(num(t, "events"), 2);
    assert_int_equal(num(t, "activity.contacts"), 1);
    json_decref(t);
    /* A store nobody wrote to answers too. */
    store_t *e = store_new(f);
    json_t *r = query(e, "hrb", "2025", STATS_BY_UNIT);
    assert_int_equal(json_array_size(json_object_get(r, "groups")), 0);
    json_decref(r);
    evlist_free(&l);
}

static void test_stats_deputy_leaves_mid_term(void **state)
{
    fx_t *f = *state;
    store_t *s = store_new(f);
    evlist_t l = {0};
    chain_t c = {"hrb/x", 0, {0}};
    ev(&l, &c, "deputy.registered", "2021-12-01",
       "{\"deputy\":\"d1\",\"name\":\"张三\",\"level\":\"township\",\"category\":\"farmer\","
       "\"term\":\"2021-2026\",\"background\":[\"law\"]}");
    ev(&l, &c, "deputy.registered", "2021-12-01",
       "{\"deputy\":\"d2\",\"name\":\"李四\",\"level\":\"township\",\"category\":\"worker\","
       "\"term\":\"2021-2026\"}");
    ev(&l, &c, "deputy.duty_report", "2025-03-10", "{\"deputy\":\"d1\"}");
    ev(&l, &c, "deputy.training", "2024-05-01", "{\"deputy\":\"d1\",\"topic\":\"培训\"}");
    ev(&l, &c, "deputy.training", "2025-04-01", "{\"deputy\":\"d1\",\"topic\":\"培训\"}");
    ev(&l, &c, "deputy.left", "2025-06-15", "{\"deputy\":\"d1\",\"reason\":\"persuaded\"}");
    ev(&l, &c, "deputy.duty_report", "2025-09-01", "{\"deputy\":\"d2\"}");
    load(s, &l, NULL, l.n, 1);
    json_t *t = total(s, "2025-05");   /* still in office at the end of May */
    assert_int_equal(num(t, "deputies.in_office"), 2);
    assert_int_equal(num(t, "deputies.law"), 1);
    assert_int_equal(num(t, "activity.reported"), 1);
    assert_int_equal(num(t, "activity.trained_twice"), 1);
    assert_int_equal(num(t, "deputies.left"), 0);
    json_decref(t);
    t = total(s, "2025");              /* gone by the end of the year */
    assert_int_equal(num(t, "deputies.in_office"), 1);
    assert_int_equal(num(t, "deputies.by_category.farmer"), 0);
    assert_int_equal(num(t, "deputies.by_category.worker"), 1);
    assert_int_equal(num(t, "deputies.law"), 0);
    assert_int_equal(num(t, "deputies.left"), 1);
    assert_int_equal(num(t, "deputies.persuaded"), 1);
    assert_int_equal(num(t, "activity.reported"), 1);   /* d2 */
    assert_int_equal(num(t, "activity.trained_twice"), 0);
    assert_true(real(t, "activity.duty_report_coverage") == 1.0);
    json_decref(t);
    evlist_free(&l);
}

static void test_stats_suggestion_chain(void **state)
{
    fx_t *f = *state;
    store_t *a = store_new(f), *b = store_new(f);
    evlist_t l = {0};
    chain_t c = {"hrb/x", 0, {0}};
    /* Recorded out of order: the answer and a rating before the submission. */
    ev(&l, &c, "suggestion.answered", "2025-04-20", "{\"suggestion\":\"s1\"}");
    ev(&l, &c, "suggestion.rated", "2025-05-20", "{\"suggestion\":\"s1\",\"rating\":\"dissatisfied\"}");
    ev(&l, &c, "suggestion.submitted", "2025-03-31",
       "{\"suggestion\":\"s1\",\"deputy\":\"d1\",\"title\":\"关于修路的建议\"}");
    ev(&l, &c, "suggestion.assigned", "2025-04-02", "{\"suggestion\":\"s1\",\"handler\":\"交通局\"}");
    /* Rated again later: the later rating counts, whatever the order. */
    ev(&l, &c, "suggestion.rated", "2025-07-01", "{\"suggestion\":\"s1\",\"rating\":\"satisfied\"}");
    ev(&l, &c, "suggestion.submitted", "2025-06-01",
       "{\"suggestion\":\"s2\",\"deputy\":\"d1\",\"title\":\"关于学校的建议\"}");
    ev(&l, &c, "suggestion.closed", "2026-02-01", "{\"suggestion\":\"s1\"}");
    load(a, &l, NULL, l.n, 1);
    size_t rev[7] = {6, 5, 4, 3, 2, 1, 0};
    load(b, &l, rev, 7, 7);
    json_t *t = total(a, "2025");
    assert_int_equal(num(t, "suggestions.submitted"), 2);
    assert_int_equal(num(t, "suggestions.assigned"), 1);
    assert_int_equal(num(t, "suggestions.answered"), 1);
    assert_int_equal(num(t, "suggestions.rated"), 1);
    assert_int_equal(num(t, "suggestions.satisfied"), 1);
    assert_int_equal(num(t, "suggestions.dissatisfied"), 0);
    assert_true(real(t, "suggestions.satisfaction_rate") == 1.0);
    assert_true(real(t, "suggestions.answer_rate") == 0.5);
    assert_true(real(t, "suggestions.median_days_to_answer") == 20.0);
    assert_int_equal(num(t, "suggestions.carried_over"), 2);   /* closed only in 2026 */
    json_decref(t);
    t = total(a, "2025-Q2");   /* the first rating is the latest one by the end of June... */
    assert_int_equal(num(t, "suggestions.rated"), 0);          /* ...but a rating counts once, in its latest month */
    json_decref(t);
    t = total(a, "2026");
    assert_int_equal(num(t, "suggestions.closed"), 1);
    assert_int_equal(num(t, "suggestions.carried_over"), 1);
    json_decref(t);
    char *x = dump(query(a, "hrb/x", "all", STATS_BY_UNIT));
    char *y = dump(query(b, "hrb/x", "all", STATS_BY_UNIT));
    assert_string_equal(x, y);
    free(x);
    free(y);
    evlist_free(&l);
}

static void test_stats_work_review_new_target(void **state)
{
    fx_t *f = *state;
    store_t *s = store_new(f);
    evlist_t l = {0};
    chain_t c = {"hrb/x", 0, {0}};
    ev(&l, &c, "unit.registered", "2025-01-01", "{\"id\":\"hrb/x\",\"name\":\"某县\",\"type\":\"county\"}");
    ev(&l, &c, "supervision.work_review", "2025-03-01", "{\"target\":\"县教育局\",\"score\":80}");
    ev(&l, &c, "supervision.work_review", "2025-03-02", "{\"target\":\"县教育局\",\"score\":91}");
    load(s, &l, NULL, l.n, 10);
    size_t mark = l.n;
    ev(&l, &c, "supervision.work_review", "2025-09-01", "{\"target\":\"县水务局\",\"score\":62}");
    ev(&l, &c, "supervision.visit", "2025-09-02", "{\"topic\":\"防汛\"}");
    size_t idx[2] = {mark, mark + 1};
    load(s, &l, idx, 2, 2);
    json_t *r = query(s, "hrb/x", "2025", STATS_BY_UNIT);
    json_t *rv = json_object_get(r, "work_reviews");
    assert_int_equal(json_array_size(rv), 2);
    json_t *first = json_array_get(rv, 0), *second = json_array_get(rv, 1);
    assert_string_equal(json_string_value(json_object_get(first, "target")), "县水务局");
    assert_true(json_number_value(json_object_get(first, "average_score")) == 62.0);
    assert_string_equal(json_string_value(json_object_get(first, "reviewer_name")), "某县");
    assert_true(json_number_value(json_object_get(second, "average_score")) == 85.5);
    assert_int_equal(num(json_object_get(r, "total"), "supervision.work_review"), 3);
    assert_int_equal(num(json_object_get(r, "total"), "supervision.visit"), 1);
    json_decref(r);
    evlist_free(&l);
}

static void test_stats_period_parse(void **state)
{
    (void)state;
    stats_period_t p;
    assert_int_equal(stats_period_parse("2026", &p), 0);
    assert_int_equal(p.from, 2026 * 12);
    assert_int_equal(p.to, 2026 * 12 + 11);
    assert_int_equal(stats_period_parse("2026-Q2", &p), 0);
    assert_int_equal(p.from, 2026 * 12 + 3);
    assert_int_equal(p.to, 2026 * 12 + 5);
    assert_int_equal(stats_period_parse("2026-03", &p), 0);
    assert_int_equal(p.from, p.to);
    assert_int_equal(stats_period_parse("2025-11..2026-Q1", &p), 0);
    assert_int_equal(p.from, 2025 * 12 + 10);
    assert_int_equal(p.to, 2026 * 12 + 2);
    static const char *const bad[] = {"", "26", "2026-13", "2026-Q5", "2026-3", "2027..2026",
                                      "2026-03-01", "x..2026", "2026..", "1800"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(stats_period_parse(bad[i], &p), LD_EINVAL);
}

static void test_stats_renderers(void **state)
{
    fx_t *f = *state;
    evlist_t l = {0};
    county(&l);
    store_t *s = store_new(f);
    load(s, &l, NULL, l.n, 5000);
    json_t *r = query(s, "hrb", "2025", STATS_BY_CHILD);
    char *buf;
    size_t len;
    FILE *m = open_memstream(&buf, &len);
    assert_int_equal(stats_render_csv(m, r), 0);
    fclose(m);
    assert_memory_equal(buf, "\xEF\xBB\xBFrow,unit,name,", 17);
    assert_non_null(strstr(buf, "\r\n"));
    assert_non_null(strstr(buf, "延寿县"));
    free(buf);
    m = open_memstream(&buf, &len);
    assert_int_equal(stats_render_html(m, r), 0);
    fclose(m);
    assert_non_null(strstr(buf, "<svg"));
    assert_non_null(strstr(buf, "id=\"kf-duty-coverage\""));
    assert_null(strstr(buf, "http://") == NULL ? NULL : strstr(buf, "src=\"http"));
    assert_null(strstr(buf, "<script"));
    assert_null(strstr(buf, "<link"));
    free(buf);
    m = open_memstream(&buf, &len);
    assert_int_equal(stats_render_table(m, r), 0);
    fclose(m);
    assert_non_null(strstr(buf, "延寿县"));
    assert_non_null(strstr(buf, "合计 Total"));
    free(buf);
    json_decref(r);
    evlist_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stats_matches_plain_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_order_independent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_map_growth_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_empty_period, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_deputy_leaves_mid_term, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_suggestion_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_work_review_new_target, setup, teardown),
        cmocka_unit_test(test_stats_period_parse),
        cmocka_unit_test_setup_teardown(test_stats_renderers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
