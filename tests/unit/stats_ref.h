/*
 * stats_ref.h -- the statistics recomputed the plain way, as a check on the
 * incremental view (header-only test code, included by tests/tools/city.c
 * and tests/unit/test_stats.c).
 *
 * It reads every event (as `export` prints them), gathers all the events
 * about each deputy, suggestion and joint inspection, and then applies the
 * definitions of docs/statistics.md directly, with dates compared as text:
 * no month buckets, no deltas, nothing shared with common/stats*.c. Its
 * result has the shape of `stats --format json` for the figures it covers
 * ("total" and "groups" by child), so a checker compares leaf by leaf.
 */
#ifndef LD_TESTS_STATS_REF_H
#define LD_TESTS_STATS_REF_H

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/event.h"

typedef struct ref_q {
    const char *root;         /* "" for everything */
    char from[11], to[11];    /* the period as dates, inclusive */
    char today[11];           /* for overdue */
} ref_q_t;

/* ev_a later than ev_b: by date, then HLC, then origin, then seq. */
static int ref_later(json_t *a, json_t *b)
{
    if (!b)
        return 1;
    int c = strcmp(json_string_value(json_object_get(a, "date")),
                   json_string_value(json_object_get(b, "date")));
    if (c)
        return c > 0;
    json_int_t x = json_integer_value(json_object_get(a, "hlc")),
               y = json_integer_value(json_object_get(b, "hlc"));
    if (x != y)
        return x > y;
    c = strcmp(json_string_value(json_object_get(a, "origin")),
               json_string_value(json_object_get(b, "origin")));
    if (c)
        return c > 0;
    return json_integer_value(json_object_get(a, "seq")) >
           json_integer_value(json_object_get(b, "seq"));
}

static const char *ref_s(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }
static const char *ref_b(json_t *ev, const char *k) { return ref_s(json_object_get(ev, "body"), k); }

static json_t *ref_ratio(long long n, long long d)
{
    return d > 0 ? json_real(round((double)n / (double)d * 10000.0) / 10000.0) : json_null();
}

/* Days between two "YYYY-MM-DD" dates (b - a). */
static long ref_days(const char *a, const char *b)
{
    struct tm x = {0}, y = {0};
    strptime(a, "%Y-%m-%d", &x);
    strptime(b, "%Y-%m-%d", &y);
    return (long)((timegm(&y) - timegm(&x)) / 86400);
}

static int ref_in(const ref_q_t *q, const char *d) { return strcmp(d, q->from) >= 0 && strcmp(d, q->to) <= 0; }

/* The group (child of the root) of an origin. */
static void ref_group(const ref_q_t *q, const char *o, char *out)
{
    size_t r = strlen(q->root), n = strlen(o);
    if (n > r) {
        size_t i = r ? r + 1 : 0;
        while (i < n && o[i] != '/')
            i++;
        n = i;
    }
    snprintf(out, 200, "%.*s", (int)n, o);
}

/* Counter `path` += v in the total and in the origin's group. */
static void ref_add(json_t *out, const ref_q_t *q, const char *origin, const char *path, long long v)
{
    char g[200];
    ref_group(q, origin, g);
    json_t *targets[2] = {json_object_get(out, "total"), NULL};
    json_t *groups = json_object_get(out, "groups");
    if (!json_object_get(groups, g))
        json_object_set_new(groups, g, json_object());
    targets[1] = json_object_get(groups, g);
    for (int t = 0; t < 2; t++) {
        json_t *o = targets[t];
        char part[64];
        const char *p = path;
        for (const char *dot; (dot = strchr(p, '.')); p = dot + 1) {
            snprintf(part, sizeof part, "%.*s", (int)(dot - p), p);
            if (!json_object_get(o, part))
                json_object_set_new(o, part, json_object());
            o = json_object_get(o, part);
        }
        json_object_set_new(o, p, json_integer(json_integer_value(json_object_get(o, p)) + v));
    }
}

static long long ref_get(json_t *o, const char *path)
{
    char part[64];
    const char *p = path;
    for (const char *dot; o && (dot = strchr(p, '.')); p = dot + 1) {
        snprintf(part, sizeof part, "%.*s", (int)(dot - p), p);
        o = json_object_get(o, part);
    }
    return o ? json_integer_value(json_object_get(o, p)) : 0;
}

/* The year range of a term "YYYY-YYYY"; 0..9999 otherwise. */
static void ref_term(const char *t, int *a, int *b)
{
    *a = 0;
    *b = 9999;
    int x, y;
    char tail;
    if (t && strlen(t) == 9 && sscanf(t, "%4d-%4d%c", &x, &y, &tail) == 2 && x <= y) {
        *a = x;
        *b = y;
    }
}

static void ref_deputy(json_t *out, const ref_q_t *q, const char *origin, json_t *evs)
{
    const char *start = NULL;
    json_t *attr[4] = {NULL, NULL, NULL, NULL}, *left = NULL;
    static const char *const fields[4] = {"level", "category", "background", "term"};
    size_t i;
    json_t *e;
    json_array_foreach(evs, i, e) {
        const char *k = ref_s(e, "kind"), *d = ref_s(e, "date");
        if (!strcmp(k, "deputy.registered") && (!start || strcmp(d, start) < 0))
            start = d;
        if (!strcmp(k, "deputy.registered") || !strcmp(k, "deputy.updated"))
            for (int f = 0; f < 4; f++)
                if (json_object_get(json_object_get(e, "body"), fields[f]) && ref_later(e, attr[f]))
                    attr[f] = e;
        if (!strcmp(k, "deputy.left") && ref_later(e, left))
            left = e;
    }
    if (!start)
        return;
    const char *left_d = left ? ref_s(left, "date") : NULL;
    if (left_d && strcmp(left_d, start) < 0)
        left_d = start;
    if (ref_in(q, start))
        ref_add(out, q, origin, "deputies.registered", 1);
    if (left_d && ref_in(q, left_d)) {
        ref_add(out, q, origin, "deputies.left", 1);
        if (!strcmp(ref_b(left, "reason"), "persuaded"))
            ref_add(out, q, origin, "deputies.persuaded", 1);
    }
    /* In office at the end of the period? */
    if (strcmp(start, q->to) > 0 || (left_d && strcmp(left_d, q->to) <= 0))
        return;
    ref_add(out, q, origin, "deputies.in_office", 1);
    char path[96];
    if (attr[0]) {
        snprintf(path, sizeof path, "deputies.by_level.%s", ref_b(attr[0], "level"));
        ref_add(out, q, origin, path, 1);
    }
    if (attr[1]) {
        snprintf(path, sizeof path, "deputies.by_category.%s", ref_b(attr[1], "category"));
        ref_add(out, q, origin, path, 1);
    }
    int law = 0, fin = 0;
    json_t *bg = attr[2] ? json_object_get(json_object_get(attr[2], "body"), "background") : NULL;
    json_array_foreach(bg, i, e) {
        const char *s = json_string_value(e);
        law |= !strcmp(s, "law") || !strcmp(s, "legal") || !strcmp(s, "法律");
        fin |= !strcmp(s, "finance") || !strcmp(s, "financial") || !strcmp(s, "accounting") ||
               !strcmp(s, "金融") || !strcmp(s, "财务") || !strcmp(s, "财会");
    }
    ref_add(out, q, origin, "deputies.law", law);
    ref_add(out, q, origin, "deputies.finance", fin);
    ref_add(out, q, origin, "deputies.law_or_finance", law || fin);
    int ta, tb, reports = 0, trainings = 0;
    ref_term(attr[3] ? ref_b(attr[3], "term") : NULL, &ta, &tb);
    json_array_foreach(evs, i, e) {
        const char *k = ref_s(e, "kind"), *d = ref_s(e, "date");
        int y = atoi(d);
        if (strcmp(d, q->to) > 0 || y < ta || y > tb)
            continue;
        reports += !strcmp(k, "deputy.duty_report");
        trainings += !strcmp(k, "deputy.training");
    }
    ref_add(out, q, origin, "activity.reported", reports > 0);
    ref_add(out, q, origin, "activity.trained_twice", trainings >= 2);
}

static void ref_suggestion(json_t *out, const ref_q_t *q, const char *origin, json_t *evs,
                           json_t *days)
{
    const char *sub = NULL, *asg = NULL, *ans = NULL, *closed = NULL;
    json_t *rated = NULL, *e;
    size_t i;
    json_array_foreach(evs, i, e) {
        const char *k = ref_s(e, "kind"), *d = ref_s(e, "date");
        if (!strcmp(k, "suggestion.submitted") && (!sub || strcmp(d, sub) > 0)) sub = d;
        if (!strcmp(k, "suggestion.assigned") && (!asg || strcmp(d, asg) < 0)) asg = d;
        if (!strcmp(k, "suggestion.answered") && (!ans || strcmp(d, ans) < 0)) ans = d;
        if (!strcmp(k, "suggestion.closed") && (!closed || strcmp(d, closed) < 0)) closed = d;
        if (!strcmp(k, "suggestion.rated") && ref_later(e, rated)) rated = e;
    }
    if (!sub)
        return;
    if (ref_in(q, sub)) {
        ref_add(out, q, origin, "suggestions.submitted", 1);
        ref_add(out, q, origin, "suggestions.submitted_answered", ans != NULL);
    }
    if (asg && ref_in(q, asg))
        ref_add(out, q, origin, "suggestions.assigned", 1);
    if (ans && ref_in(q, ans)) {
        long d = ref_days(sub, ans);
        ref_add(out, q, origin, "suggestions.answered", 1);
        ref_add(out, q, origin, "suggestions.answer_days", d > 0 ? d : 0);
        char g[200];
        ref_group(q, origin, g);
        json_array_append_new(json_object_get(days, ""), json_integer(d > 0 ? d : 0));
        if (!json_object_get(days, g))
            json_object_set_new(days, g, json_array());
        json_array_append_new(json_object_get(days, g), json_integer(d > 0 ? d : 0));
    }
    if (rated && ref_in(q, ref_s(rated, "date"))) {
        char path[96];
        ref_add(out, q, origin, "suggestions.rated", 1);
        snprintf(path, sizeof path, "suggestions.%s", ref_b(rated, "rating"));
        ref_add(out, q, origin, path, 1);
    }
    if (closed && ref_in(q, closed))
        ref_add(out, q, origin, "suggestions.closed", 1);
    if (strcmp(sub, q->to) <= 0 && !(closed && strcmp(closed, q->to) <= 0))
        ref_add(out, q, origin, "suggestions.carried_over", 1);
}

static int ref_cmp_int(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

static json_t *ref_median(json_t *list)
{
    size_t n = json_array_size(list);
    if (!n)
        return json_null();
    long *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i] = (long)json_integer_value(json_array_get(list, i));
        if (v[i] > 180)
            v[i] = 180;
    }
    qsort(v, n, sizeof *v, ref_cmp_int);
    double m = (v[(n + 1) / 2 - 1] + v[n / 2]) / 2.0;
    free(v);
    return json_real(m);
}

static int ref_within(const char *o, const char *p)
{
    return proto_origin_within(o, strlen(o), p, strlen(p));
}

/* Joint inspections opened in the period: their units in scope (registered
 * units within the root), reports, findings and rectifications. */
static void ref_joints(json_t *out, const ref_q_t *q, json_t *all, json_t *units)
{
    json_t *joints = json_object(), *e;   /* id -> {"events": [...]} */
    json_t *rects = json_object();        /* finding id -> its latest rectification */
    size_t i;
    json_array_foreach(all, i, e) {
        const char *k = ref_s(e, "kind");
        if (strncmp(k, "joint.", 6) != 0)
            continue;
        if (!strcmp(k, "joint.rectification") &&
            ref_later(e, json_object_get(rects, ref_b(e, "finding"))))
            json_object_set(rects, ref_b(e, "finding"), e);
        char id[256];
        if (!strcmp(k, "joint.opened"))
            snprintf(id, sizeof id, "%s#%lld", ref_s(e, "origin"),
                     (long long)json_integer_value(json_object_get(e, "seq")));
        else
            snprintf(id, sizeof id, "%s", ref_b(e, "joint"));
        if (!json_object_get(joints, id))
            json_object_set_new(joints, id, json_pack("{s:[]}", "events"));
        json_array_append(json_object_get(json_object_get(joints, id), "events"), e);
    }
    const char *id;
    json_t *j;
    json_object_foreach(joints, id, j) {
        json_t *opened = NULL, *due = NULL, *scope = NULL, *evs = json_object_get(j, "events");
        json_array_foreach(evs, i, e) {
            json_t *b = json_object_get(e, "body");
            if (!strcmp(ref_s(e, "kind"), "joint.opened"))
                opened = e;
            if (json_object_get(b, "due") && ref_later(e, due))
                due = e;
            if (json_object_get(b, "scope") && ref_later(e, scope))
                scope = e;
        }
        if (!opened || !ref_in(q, ref_s(opened, "date")))
            continue;
        const char *opener = ref_s(opened, "origin"), *due_d = ref_b(due, "due");
        if (!q->root[0] || ref_within(opener, q->root))
            ref_add(out, q, opener, "linkage.opened", 1);
        const char *u;
        json_t *x;
        json_object_foreach(units, u, x) {
            if ((q->root[0] && !ref_within(u, q->root)) || !strcmp(u, opener) ||
                !ref_within(u, opener))
                continue;
            int in = 0;
            json_t *s;
            size_t n;
            json_array_foreach(json_object_get(json_object_get(scope, "body"), "scope"), n, s)
                in |= ref_within(u, json_string_value(s));
            if (!in)
                continue;
            ref_add(out, q, u, "linkage.in_scope", 1);
            const char *rep = NULL;
            json_array_foreach(evs, i, e)
                if (!strcmp(ref_s(e, "kind"), "joint.report") && !strcmp(ref_s(e, "origin"), u) &&
                    (!rep || strcmp(ref_s(e, "date"), rep) < 0))
                    rep = ref_s(e, "date");
            ref_add(out, q, u, rep ? (strcmp(rep, due_d) <= 0 ? "linkage.reported_on_time"
                                                               : "linkage.reported_late")
                                   : (strcmp(due_d, q->today) < 0 ? "linkage.overdue"
                                                                   : "linkage.not_yet_due"), 1);
        }
        /* Findings of this inspection, wherever they were filed from. */
        json_array_foreach(evs, i, e) {
            if (strcmp(ref_s(e, "kind"), "joint.finding"))
                continue;
            const char *o = ref_s(e, "origin");
            if (q->root[0] && !ref_within(o, q->root))
                continue;
            char fid[256];
            snprintf(fid, sizeof fid, "%s#%lld", o, (long long)json_integer_value(json_object_get(e, "seq")));
            json_t *last = json_object_get(rects, fid);
            ref_add(out, q, o, "linkage.findings", 1);
            ref_add(out, q, o, "linkage.rectified", last && !strcmp(ref_b(last, "status"), "done"));
        }
    }
    json_decref(joints);
    json_decref(rects);
}

/* Rates and medians from the counts of one group. */
static void ref_finish(json_t *g, json_t *days)
{
    long long in = ref_get(g, "deputies.in_office");
    json_t *a = json_object_get(g, "activity"), *s = json_object_get(g, "suggestions");
    json_t *l = json_object_get(g, "linkage");
    if (a) {
        json_object_set_new(a, "duty_report_coverage", ref_ratio(ref_get(g, "activity.reported"), in));
        json_object_set_new(a, "training_coverage", ref_ratio(ref_get(g, "activity.trained_twice"), in));
    }
    if (s) {
        json_object_set_new(s, "answer_rate", ref_ratio(ref_get(g, "suggestions.submitted_answered"),
                                                        ref_get(g, "suggestions.submitted")));
        json_object_set_new(s, "satisfaction_rate",
                            ref_ratio(ref_get(g, "suggestions.satisfied") +
                                      ref_get(g, "suggestions.basically_satisfied"),
                                      ref_get(g, "suggestions.rated")));
        json_object_set_new(s, "mean_days_to_answer", ref_ratio(ref_get(g, "suggestions.answer_days"),
                                                                ref_get(g, "suggestions.answered")));
        json_object_del(s, "answer_days");
        json_object_set_new(s, "median_days_to_answer", ref_median(days));
    }
    if (l)
        json_object_set_new(l, "rectification_rate", ref_ratio(ref_get(g, "linkage.rectified"),
                                                               ref_get(g, "linkage.findings")));
}

/* The figures of q over `events` (an array of exported events). New reference:
 * {"total": {...}, "groups": {"GROUP": {...}}}. */
static json_t *stats_ref_compute(json_t *events, const ref_q_t *q)
{
    json_t *out = json_pack("{s:{}, s:{}}", "total", "groups");
    json_t *deps = json_object(), *sugs = json_object(), *units = json_object(), *days = json_object();
    json_object_set_new(days, "", json_array());
    static const char *const sup[] = {"visit", "law_check", "inquiry", "interpellation", "work_review",
                                      "investigation", "decision_vote", "report_review", "budget_review"};
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e) {
        const char *o = ref_s(e, "origin"), *k = ref_s(e, "kind"), *d = ref_s(e, "date");
        if (!strcmp(k, "unit.registered"))
            json_object_set_new(units, ref_b(e, "id"), json_true());
        if (q->root[0] && !ref_within(o, q->root))
            continue;
        char key[256];
        if (!strncmp(k, "deputy.", 7) && ref_b(e, "deputy")) {
            snprintf(key, sizeof key, "%s\t%s", o, ref_b(e, "deputy"));
            if (!json_object_get(deps, key))
                json_object_set_new(deps, key, json_array());
            json_array_append(json_object_get(deps, key), e);
        }
        if (!strncmp(k, "suggestion.", 11)) {
            snprintf(key, sizeof key, "%s\t%s", o, ref_b(e, "suggestion"));
            if (!json_object_get(sugs, key))
                json_object_set_new(sugs, key, json_array());
            json_array_append(json_object_get(sugs, key), e);
        }
        if (!ref_in(q, d))
            continue;
        ref_add(out, q, o, "events", 1);
        if (!strcmp(k, "deputy.contact")) {
            ref_add(out, q, o, "activity.contacts", 1);
            ref_add(out, q, o, "activity.constituents_met",
                    json_integer_value(json_object_get(json_object_get(e, "body"), "constituents")));
        }
        if (!strcmp(k, "deputy.duty_report")) ref_add(out, q, o, "activity.duty_reports", 1);
        if (!strcmp(k, "deputy.training")) ref_add(out, q, o, "activity.trainings", 1);
        if (!strcmp(k, "deputy.evaluation")) ref_add(out, q, o, "activity.evaluations", 1);
        if (!strcmp(k, "deputy.attendance")) {
            snprintf(key, sizeof key, "activity.attendance.%s", ref_b(e, "status"));
            ref_add(out, q, o, key, 1);
        }
        for (int s = 0; s < 9; s++) {
            snprintf(key, sizeof key, "supervision.%s", sup[s]);
            if (!strcmp(k, key) || (!strncmp(k, "supervision.", 12) && !strcmp(k + 12, sup[s]))) {
                ref_add(out, q, o, key, 1);
                ref_add(out, q, o, "supervision.total", 1);
            }
        }
        if (!strcmp(k, "supervision.work_review")) ref_add(out, q, o, "work_reviews", 1);
    }
    const char *key;
    json_t *list;
    json_object_foreach(deps, key, list) {
        char o[200];
        snprintf(o, sizeof o, "%.*s", (int)(strchr(key, '\t') - key), key);
        ref_deputy(out, q, o, list);
    }
    json_object_foreach(sugs, key, list) {
        char o[200];
        snprintf(o, sizeof o, "%.*s", (int)(strchr(key, '\t') - key), key);
        ref_suggestion(out, q, o, list, days);
    }
    ref_joints(out, q, events, units);
    ref_finish(json_object_get(out, "total"), json_object_get(days, ""));
    json_t *g;
    json_object_foreach(json_object_get(out, "groups"), key, g)
        ref_finish(g, json_object_get(days, key) ? json_object_get(days, key) : json_array());
    json_decref(deps);
    json_decref(sugs);
    json_decref(units);
    json_decref(days);
    return out;
}

/* Compares every leaf of ref (path p) with the same path in got (a stats
 * group); prints each difference to f; returns how many. Missing counters
 * in ref mean 0. */
static int stats_ref_diff(json_t *ref, json_t *got, const char *p, FILE *f)
{
    int bad = 0;
    const char *k;
    json_t *v;
    json_object_foreach(ref, k, v) {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", p, *p ? "." : "", k);
        json_t *w = json_object_get(got, k);
        if (json_is_object(v)) {
            bad += stats_ref_diff(v, w, path, f);
            continue;
        }
        int same = json_is_null(v) ? (!w || json_is_null(w))
                 : json_is_integer(v) ? json_is_integer(w) && json_integer_value(v) == json_integer_value(w)
                 : json_is_number(w) && fabs(json_number_value(v) - json_number_value(w)) < 1e-9;
        if (!same) {
            char *a = json_dumps(v, JSON_ENCODE_ANY), *b = w ? json_dumps(w, JSON_ENCODE_ANY) : NULL;
            fprintf(f, "%s: expected %s, got %s\n", path, a, b ? b : "(absent)");
            free(a);
            free(b);
            bad++;
        }
    }
    return bad;
}

/* stats_ref_diff over a whole query: the total, then each group of ref
 * against the group of got for the same unit (absent: every leaf differs). */
static int stats_ref_diff_query(json_t *ref, json_t *got, FILE *f)
{
    int bad = stats_ref_diff(json_object_get(ref, "total"), json_object_get(got, "total"),
                             "total", f);
    const char *k;
    json_t *g;
    json_object_foreach(json_object_get(ref, "groups"), k, g) {
        json_t *mine = NULL, *x;
        size_t i;
        json_array_foreach(json_object_get(got, "groups"), i, x)
            if (strcmp(json_string_value(json_object_get(x, "unit")), k) == 0)
                mine = x;
        bad += stats_ref_diff(g, mine, k, f);
    }
    return bad;
}

#endif
