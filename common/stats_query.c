/*
 * stats_query.c -- the figures of one subtree and period, from the
 * aggregates (stats.agg) and the few entity records a query needs (units,
 * joint inspections), never from the events: the cost grows with units x
 * months held, not with history. The JSON shape is docs/statistics.md's.
 */
#include "common/stats_int.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "common/err.h"
#include "common/views.h"
#include "proto/event.h"

enum { L_OPENED, L_IN_SCOPE, L_ON_TIME, L_LATE, L_OVERDUE, L_NOT_DUE, L_FINDINGS,
       L_RECTIFIED, NL };

typedef struct acc {
    char key[PROTO_ORIGIN_MAX + 1];
    int64_t f[STATS_NF];
    int64_t s[STATS_NS];
    uint64_t hist[STATS_HIST_N];
    int64_t l[NL];
} acc_t;

typedef struct review {
    char unit[PROTO_ORIGIN_MAX + 1];
    char target[65];
    uint64_t count, sum;
} review_t;

typedef struct q {
    const stats_query_t *in;
    store_txn_t *t;
    MDB_dbi agg, ent;
    char root[PROTO_ORIGIN_MAX + 1];
    size_t rlen;
    acc_t total;
    acc_t **g;
    size_t ng, capg;
    review_t *rv;
    size_t nrv, caprv, rv_from;   /* rv_from: the first review of the current origin */
    json_t *units;     /* origin -> {"name", "type"} */
    uint32_t today;    /* day number of now */
} q_t;

static const char *const unit_types[] = {"township", "street", "district", "county", "city"};

static bool within(const q_t *q, const char *o, size_t olen)
{
    return q->rlen == 0 || proto_origin_within(o, olen, q->root, q->rlen);
}

static const char *unit_type(const q_t *q, const char *origin)
{
    const char *t = json_string_value(json_object_get(json_object_get(q->units, origin),
                                                      "type"));
    return t ? t : "unknown";
}

/* The group an origin's figures go to. */
static void group_key(const q_t *q, const char *o, size_t olen, char *out)
{
    if (q->in->by == STATS_BY_LEVEL) {
        char tmp[PROTO_ORIGIN_MAX + 1];
        snprintf(tmp, sizeof tmp, "%.*s", (int)olen, o);
        snprintf(out, PROTO_ORIGIN_MAX + 1, "%s", unit_type(q, tmp));
        return;
    }
    size_t n = olen;
    if (q->in->by == STATS_BY_CHILD && olen > q->rlen) {
        size_t start = q->rlen ? q->rlen + 1 : 0;
        n = start;
        while (n < olen && o[n] != '/')
            n++;
    }
    snprintf(out, PROTO_ORIGIN_MAX + 1, "%.*s", (int)n, o);
}

static acc_t *group_get(q_t *q, const char *o, size_t olen)
{
    char key[PROTO_ORIGIN_MAX + 1];
    group_key(q, o, olen, key);
    for (size_t i = q->ng; i-- > 0;)
        if (strcmp(q->g[i]->key, key) == 0)
            return q->g[i];
    if (q->ng == q->capg) {
        size_t cap = q->capg ? 2 * q->capg : 16;
        acc_t **g = realloc(q->g, cap * sizeof *g);
        if (!g)
            return NULL;
        q->g = g;
        q->capg = cap;
    }
    acc_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    snprintf(a->key, sizeof a->key, "%s", key);
    q->g[q->ng++] = a;
    return a;
}

/* ---- aggregates ---- */

static int review_add(q_t *q, const char *o, size_t olen, const uint8_t *t, size_t tlen,
                      const uint32_t v[2])
{
    /* Records come sorted by origin: search only this origin's targets. */
    if (q->nrv == 0 || strncmp(q->rv[q->rv_from].unit, o, olen) != 0 ||
        q->rv[q->rv_from].unit[olen] != 0)
        q->rv_from = q->nrv;
    for (size_t i = q->rv_from; i < q->nrv; i++) {
        review_t *r = &q->rv[i];
        if (strncmp(r->target, (const char *)t, tlen) == 0 && r->target[tlen] == 0) {
            r->count += v[0];
            r->sum += v[1];
            return 0;
        }
    }
    if (q->nrv == q->caprv) {
        size_t cap = q->caprv ? 2 * q->caprv : 16;
        review_t *rv = realloc(q->rv, cap * sizeof *rv);
        if (!rv)
            return err_set(LD_ENOMEM, "out of memory");
        q->rv = rv;
        q->caprv = cap;
    }
    review_t *r = &q->rv[q->nrv++];
    snprintf(r->unit, sizeof r->unit, "%.*s", (int)olen, o);
    snprintf(r->target, sizeof r->target, "%.*s", (int)(tlen < 64 ? tlen : 64), t);
    r->count = v[0];
    r->sum = v[1];
    return 0;
}

static void acc_add(acc_t *a, int kind, const void *v, size_t len)
{
    if (kind == K_FLOW) {
        for (size_t i = 0; i < STATS_NF && i * 4 < len; i++) {
            int32_t x;
            memcpy(&x, (const char *)v + 4 * i, 4);
            a->f[i] += x;
        }
    } else if (kind == K_STOCK) {
        for (size_t i = 0; i < STATS_NS && i * 4 < len; i++) {
            int32_t x;
            memcpy(&x, (const char *)v + 4 * i, 4);
            a->s[i] += x;
        }
    } else {
        for (size_t i = 0; i < STATS_HIST_N && i * 4 < len; i++) {
            uint32_t x;
            memcpy(&x, (const char *)v + 4 * i, 4);
            a->hist[i] += x;
        }
    }
}

/* One stats.agg record. */
static int agg_one(q_t *q, const MDB_val *k, const MDB_val *v, acc_t **last, char *last_o)
{
    const uint8_t *p = k->mv_data;
    const uint8_t *z = memchr(p, 0, k->mv_size);
    if (!z || (size_t)(z - p) + 4 > k->mv_size)
        return 0;
    size_t olen = (size_t)(z - p);
    if (!within(q, (const char *)p, olen))
        return 0;
    int kind = z[1], month = (z[2] << 8) | z[3];
    const stats_period_t *pd = &q->in->period;
    bool in = month >= pd->from && month <= pd->to;
    if (kind == K_STOCK ? month > pd->to : !in)
        return 0;
    if (kind == K_REVIEW) {
        uint32_t rv[2];
        if (v->mv_size != sizeof rv)
            return 0;
        memcpy(rv, v->mv_data, sizeof rv);
        return review_add(q, (const char *)p, olen, z + 4, k->mv_size - olen - 4, rv);
    }
    if (!*last || strlen(last_o) != olen || memcmp(last_o, p, olen) != 0) {
        if (!(*last = group_get(q, (const char *)p, olen)))
            return err_set(LD_ENOMEM, "out of memory");
        memcpy(last_o, p, olen);
        last_o[olen] = 0;
    }
    acc_add(*last, kind, v->mv_data, v->mv_size);
    acc_add(&q->total, kind, v->mv_data, v->mv_size);
    return 0;
}

static int agg_scan(q_t *q)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(store_txn_mdb(q->t), q->agg, &c);
    if (rc)
        return stats_lmdb_fail(rc, "open a cursor");
    MDB_val k = {q->rlen, q->root}, v;
    acc_t *last = NULL;
    char last_o[PROTO_ORIGIN_MAX + 1] = "";
    rc = mdb_cursor_get(c, &k, &v, q->rlen ? MDB_SET_RANGE : MDB_FIRST);
    while (!rc) {
        if (k.mv_size < q->rlen || memcmp(k.mv_data, q->root, q->rlen) != 0)
            break;
        if ((rc = agg_one(q, &k, &v, &last, last_o)))
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc > 0 ? stats_lmdb_fail(rc, "read the aggregates") : rc;
}

/* ---- units (names, types) ---- */

static int units_load(q_t *q)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(store_txn_mdb(q->t), q->ent, &c);
    if (rc)
        return stats_lmdb_fail(rc, "open a cursor");
    uint8_t start = E_UNIT;
    MDB_val k = {1, &start}, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (!rc && k.mv_size > 1 && ((uint8_t *)k.mv_data)[0] == E_UNIT) {
        unit_rec_t u;
        memset(&u, 0, sizeof u);
        memcpy(&u, v.mv_data, v.mv_size < sizeof u ? v.mv_size : sizeof u);
        char id[PROTO_ORIGIN_MAX + 1];
        snprintf(id, sizeof id, "%.*s", (int)(k.mv_size - 1), (char *)k.mv_data + 1);
        json_object_set_new(q->units, id, json_pack("{s:s#, s:s}", "name", u.name,
                            (int)u.name_len, "type", u.type && u.type <= 5
                            ? unit_types[u.type - 1] : "unknown"));
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : stats_lmdb_fail(rc, "read the units");
}

/* ---- joint inspections ---- */

static bool joint_covers(const joint_rec_t *j, const char *opener, const char *u)
{
    size_t ulen = strlen(u), olen = strlen(opener);
    if (strcmp(u, opener) == 0 || !proto_origin_within(u, ulen, opener, olen))
        return false;
    for (size_t off = 0; off < j->scope_len;) {
        size_t n = strlen(j->scope + off);
        if (proto_origin_within(u, ulen, j->scope + off, n))
            return true;
        off += n + 1;
    }
    return false;
}

static void link_add(q_t *q, const char *o, int i, int64_t v)
{
    acc_t *a = group_get(q, o, strlen(o));
    if (a)
        a->l[i] += v;
    q->total.l[i] += v;
}

/* The (joint, unit) records of one inspection opened in the period. */
static int joint_units(q_t *q, MDB_cursor *c, const uint8_t *jk, size_t jklen,
                       const joint_rec_t *j, const char *opener)
{
    uint8_t k[STATS_KEY_MAX];
    memcpy(k, jk, jklen);
    k[0] = E_JREP;
    const char *u;
    json_t *info;
    json_object_foreach(q->units, u, info) {
        if (!within(q, u, strlen(u)) || !joint_covers(j, opener, u))
            continue;
        link_add(q, u, L_IN_SCOPE, 1);
        size_t ulen = strlen(u);
        memcpy(k + jklen, u, ulen);
        MDB_val key = {jklen + ulen, k}, v;
        jrep_rec_t r = {0, 0, 0, 0};
        if (mdb_get(store_txn_mdb(q->t), q->ent, &key, &v) == 0)
            memcpy(&r, v.mv_data, v.mv_size < sizeof r ? v.mv_size : sizeof r);
        if (r.report_day)
            link_add(q, u, r.report_day <= j->due_day ? L_ON_TIME : L_LATE, 1);
        else
            link_add(q, u, j->due_day < q->today ? L_OVERDUE : L_NOT_DUE, 1);
    }
    /* Findings and rectifications, whoever filed them. */
    MDB_val key = {jklen, k}, v;
    int rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE);
    while (!rc && key.mv_size > jklen && memcmp(key.mv_data, k, jklen) == 0) {
        jrep_rec_t r = {0, 0, 0, 0};
        memcpy(&r, v.mv_data, v.mv_size < sizeof r ? v.mv_size : sizeof r);
        char o[PROTO_ORIGIN_MAX + 1];
        snprintf(o, sizeof o, "%.*s", (int)(key.mv_size - jklen), (char *)key.mv_data + jklen);
        if (within(q, o, strlen(o))) {
            link_add(q, o, L_FINDINGS, r.findings);
            link_add(q, o, L_RECTIFIED, r.rectified);
        }
        rc = mdb_cursor_get(c, &key, &v, MDB_NEXT);
    }
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : stats_lmdb_fail(rc, "read joint reports");
}

static int joints_scan(q_t *q)
{
    MDB_cursor *c, *c2;
    MDB_txn *txn = store_txn_mdb(q->t);
    int rc = mdb_cursor_open(txn, q->ent, &c);
    if (rc)
        return stats_lmdb_fail(rc, "open a cursor");
    if ((rc = mdb_cursor_open(txn, q->ent, &c2))) {
        mdb_cursor_close(c);
        return stats_lmdb_fail(rc, "open a cursor");
    }
    uint8_t start = E_JOINT;
    MDB_val k = {1, &start}, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (!rc && k.mv_size > 10 && ((uint8_t *)k.mv_data)[0] == E_JOINT) {
        joint_rec_t j;
        memset(&j, 0, sizeof j);
        memcpy(&j, v.mv_data, v.mv_size < sizeof j ? v.mv_size : sizeof j);
        char opener[PROTO_ORIGIN_MAX + 1];
        snprintf(opener, sizeof opener, "%.*s", (int)(k.mv_size - 10), (char *)k.mv_data + 1);
        int m = j.open_day ? stats_day_month(j.open_day) : -1;
        if (m >= q->in->period.from && m <= q->in->period.to) {
            if (within(q, opener, strlen(opener)))
                link_add(q, opener, L_OPENED, 1);
            uint8_t jk[STATS_KEY_MAX];
            memcpy(jk, k.mv_data, k.mv_size);
            if ((rc = joint_units(q, c2, jk, k.mv_size, &j, opener)))
                break;
        }
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c2);
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc > 0 ? stats_lmdb_fail(rc, "read joints") : rc;
}

/* ---- figures as JSON ---- */

/* num / den rounded to 4 decimals, or null. */
static json_t *ratio(int64_t num, int64_t den)
{
    if (den <= 0)
        return json_null();
    return json_real(round((double)num / (double)den * 10000.0) / 10000.0);
}

/* The median of the histogram; *capped if it lies in the last bin. */
static json_t *median(const uint64_t *h, bool *capped)
{
    uint64_t n = 0;
    for (int i = 0; i < STATS_HIST_N; i++)
        n += h[i];
    *capped = false;
    if (!n)
        return json_null();
    uint64_t want[2] = {(n + 1) / 2, n / 2 + 1}, seen = 0;
    int at[2] = {-1, -1};
    for (int i = 0; i < STATS_HIST_N; i++) {
        seen += h[i];
        for (int j = 0; j < 2; j++)
            if (at[j] < 0 && seen >= want[j])
                at[j] = i;
    }
    *capped = at[1] == STATS_HIST_N - 1;
    return json_real((at[0] + at[1]) / 2.0);
}

static json_t *deputies_json(const acc_t *a)
{
    json_t *lv = json_object(), *cat = json_object(), *share = json_object();
    for (int i = 0; i < STATS_NLEVEL; i++)
        json_object_set_new(lv, stats_levels[i], json_integer(a->s[S_LEVEL + i]));
    for (int i = 0; i < STATS_NCAT; i++) {
        json_object_set_new(cat, stats_cats[i], json_integer(a->s[S_CAT + i]));
        json_object_set_new(share, stats_cats[i], ratio(a->s[S_CAT + i], a->s[S_IN_OFFICE]));
    }
    return json_pack("{s:I, s:o, s:o, s:o, s:I, s:I, s:I, s:o, s:I, s:I, s:I}",
        "in_office", (json_int_t)a->s[S_IN_OFFICE], "by_level", lv, "by_category", cat,
        "category_share", share, "law", (json_int_t)a->s[S_LAW],
        "finance", (json_int_t)a->s[S_FINANCE],
        "law_or_finance", (json_int_t)a->s[S_LAW_OR_FINANCE],
        "law_or_finance_share", ratio(a->s[S_LAW_OR_FINANCE], a->s[S_IN_OFFICE]),
        "registered", (json_int_t)a->f[F_DEP_REGISTERED], "left", (json_int_t)a->f[F_DEP_LEFT],
        "persuaded", (json_int_t)a->f[F_DEP_PERSUADED]);
}

static json_t *activity_json(const acc_t *a)
{
    int64_t in = a->s[S_IN_OFFICE];
    int64_t att = a->f[F_ATT_PRESENT] + a->f[F_ATT_EXCUSED] + a->f[F_ATT_ABSENT];
    return json_pack("{s:I, s:I, s:o, s:I, s:I, s:o, s:I, s:I, s:o, s:I, s:{s:I, s:I, s:I, s:o}}",
        "duty_reports", (json_int_t)a->f[F_DUTY_REPORTS],
        "reported", (json_int_t)a->s[S_REPORTED],
        "duty_report_coverage", ratio(a->s[S_REPORTED], in),
        "trainings", (json_int_t)a->f[F_TRAININGS],
        "trained_twice", (json_int_t)a->s[S_TRAINED2],
        "training_coverage", ratio(a->s[S_TRAINED2], in),
        "contacts", (json_int_t)a->f[F_CONTACTS],
        "constituents_met", (json_int_t)a->f[F_CONTACT_PEOPLE],
        "contacts_per_deputy", ratio(a->f[F_CONTACTS], in),
        "evaluations", (json_int_t)a->f[F_EVALUATIONS],
        "attendance", "present", (json_int_t)a->f[F_ATT_PRESENT],
        "excused", (json_int_t)a->f[F_ATT_EXCUSED], "absent", (json_int_t)a->f[F_ATT_ABSENT],
        "rate", ratio(a->f[F_ATT_PRESENT], att));
}

static json_t *suggestions_json(const acc_t *a)
{
    bool capped;
    json_t *med = median(a->hist, &capped);
    return json_pack("{s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:o, s:o, s:b}",
        "submitted", (json_int_t)a->f[F_SUG_SUBMITTED],
        "assigned", (json_int_t)a->f[F_SUG_ASSIGNED],
        "answered", (json_int_t)a->f[F_SUG_ANSWERED],
        "submitted_answered", (json_int_t)a->f[F_SUG_SUB_ANSWERED],
        "answer_rate", ratio(a->f[F_SUG_SUB_ANSWERED], a->f[F_SUG_SUBMITTED]),
        "rated", (json_int_t)a->f[F_SUG_RATED], "satisfied", (json_int_t)a->f[F_SUG_SATISFIED],
        "basically_satisfied", (json_int_t)a->f[F_SUG_BASIC],
        "dissatisfied", (json_int_t)a->f[F_SUG_DISSATISFIED],
        "satisfaction_rate", ratio(a->f[F_SUG_SATISFIED] + a->f[F_SUG_BASIC], a->f[F_SUG_RATED]),
        "closed", (json_int_t)a->f[F_SUG_CLOSED],
        "carried_over", (json_int_t)a->s[S_SUG_OPEN],
        "median_days_to_answer", med,
        "mean_days_to_answer", ratio(a->f[F_SUG_ANSWER_DAYS], a->f[F_SUG_ANSWERED]),
        "median_capped", capped);
}

static json_t *supervision_json(const acc_t *a)
{
    json_t *o = json_object();
    int64_t total = 0;
    for (int i = 0; i < STATS_NSUP; i++) {
        json_object_set_new(o, stats_sup_kinds[i], json_integer(a->f[F_SUP_FIRST + i]));
        total += a->f[F_SUP_FIRST + i];
    }
    json_object_set_new(o, "total", json_integer(total));
    return o;
}

static json_t *linkage_json(const acc_t *a)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I}",
        "opened", (json_int_t)a->l[L_OPENED], "in_scope", (json_int_t)a->l[L_IN_SCOPE],
        "reported_on_time", (json_int_t)a->l[L_ON_TIME],
        "reported_late", (json_int_t)a->l[L_LATE], "overdue", (json_int_t)a->l[L_OVERDUE],
        "not_yet_due", (json_int_t)a->l[L_NOT_DUE], "findings", (json_int_t)a->l[L_FINDINGS],
        "rectified", (json_int_t)a->l[L_RECTIFIED],
        "rectification_rate", ratio(a->l[L_RECTIFIED], a->l[L_FINDINGS]),
        "reports", (json_int_t)a->f[F_JOINT_REPORTS],
        "rectifications", (json_int_t)a->f[F_JOINT_RECTIFICATIONS]);
}

static json_t *group_json(const q_t *q, const acc_t *a, const char *key)
{
    json_t *g = json_pack("{s:s}", "unit", key);
    json_t *u = json_object_get(q->units, key);
    if (q->in->by == STATS_BY_LEVEL)
        json_object_set_new(g, "name", json_string(key));
    else
        json_object_set_new(g, "name", u ? json_incref(json_object_get(u, "name"))
                                         : json_string(key));
    json_object_set_new(g, "events", json_integer(a->f[F_EVENTS]));
    json_object_set_new(g, "other_events", json_integer(a->f[F_OTHER]));
    json_object_set_new(g, "deputies", deputies_json(a));
    json_object_set_new(g, "activity", activity_json(a));
    json_object_set_new(g, "suggestions", suggestions_json(a));
    json_object_set_new(g, "supervision", supervision_json(a));
    json_object_set_new(g, "work_reviews", json_integer(a->f[F_REVIEWS]));
    json_object_set_new(g, "linkage", linkage_json(a));
    return g;
}

static int group_cmp(const void *a, const void *b)
{
    return strcmp((*(acc_t *const *)a)->key, (*(acc_t *const *)b)->key);
}

static int review_cmp(const void *a, const void *b)
{
    const review_t *x = a, *y = b;
    /* x.sum/x.count < y.sum/y.count, exactly. */
    unsigned __int128 l = (unsigned __int128)x->sum * y->count,
                      r = (unsigned __int128)y->sum * x->count;
    if (l != r)
        return l < r ? -1 : 1;
    int c = strcmp(x->unit, y->unit);
    return c ? c : strcmp(x->target, y->target);
}

static json_t *reviews_json(q_t *q)
{
    if (q->nrv)
        qsort(q->rv, q->nrv, sizeof *q->rv, review_cmp);
    json_t *out = json_array();
    for (size_t i = 0; i < q->nrv; i++) {
        const review_t *r = &q->rv[i];
        json_t *u = json_object_get(q->units, r->unit);
        json_array_append_new(out, json_pack("{s:I, s:s, s:o, s:s, s:I, s:o}",
            "rank", (json_int_t)(i + 1), "reviewer", r->unit,
            "reviewer_name", u ? json_incref(json_object_get(u, "name")) : json_string(r->unit),
            "target", r->target, "reviews", (json_int_t)r->count,
            "average_score", ratio((int64_t)r->sum, (int64_t)r->count)));
    }
    return out;
}

/* ---- sync health ---- */

typedef struct sync_ctx {
    q_t *q;
    json_t *units;   /* origin -> entry */
} sync_ctx_t;

static void iso_time(uint64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *sync_entry(sync_ctx_t *c, const char *origin)
{
    json_t *e = json_object_get(c->units, origin);
    if (e)
        return e;
    json_t *u = json_object_get(c->q->units, origin);
    e = json_pack("{s:s, s:o, s:I, s:I, s:n, s:n}", "unit", origin, "name",
                  u ? json_incref(json_object_get(u, "name")) : json_string(origin),
                  "events", (json_int_t)0, "pending", (json_int_t)0, "last_heard",
                  "days_since");
    json_object_set_new(c->units, origin, e);
    return e;
}

static int sync_head(const char *origin, const store_head_t *h, void *arg)
{
    sync_ctx_t *c = arg;
    json_t *e = sync_entry(c, origin);
    json_object_set_new(e, "events", json_integer((json_int_t)h->seq));
    json_object_set_new(e, "pending", json_integer((json_int_t)h->held));
    const uint8_t *raw;
    size_t len;
    proto_event_t ev;
    if (h->seq && store_event_get(c->q->t, origin, h->seq, &raw, &len) == 0 &&
        proto_event_decode(raw, len, 0, &ev) == 0) {
        char t[32];
        uint64_t ms = HLC_PHYSICAL(ev.hlc);
        iso_time(ms, t);
        json_object_set_new(e, "last_heard", json_string(t));
        json_object_set_new(e, "last_heard_ms", json_integer((json_int_t)ms));
    }
    return 0;
}

/* A hub's link records: pending as the child last announced it. */
static void sync_links(sync_ctx_t *c)
{
    size_t i;
    json_t *l;
    json_array_foreach(c->q->in->links, i, l) {
        const char *o = json_string_value(json_object_get(l, "origin"));
        if (!o || !within(c->q, o, strlen(o)))
            continue;
        json_t *e = sync_entry(c, o);
        json_int_t held = json_integer_value(json_object_get(e, "events"));
        json_int_t head = json_integer_value(json_object_get(l, "announced_head"));
        json_int_t pend = json_integer_value(json_object_get(l, "pending"));
        if (head > held && head - held > pend)
            pend = head - held;
        pend += json_integer_value(json_object_get(e, "pending"));
        json_object_set_new(e, "pending", json_integer(pend));
        json_object_set_new(e, "child", json_true());
    }
}

static json_t *sync_json(q_t *q, uint64_t now)
{
    sync_ctx_t c = {q, json_object()};
    store_heads_foreach(q->t, q->root, sync_head, &c);
    sync_links(&c);
    unsigned days = q->in->stale_days ? q->in->stale_days : 7;
    json_t *units = json_array(), *stale = json_array();
    const char *o;
    json_t *e;
    json_object_foreach(c.units, o, e) {
        json_t *ms = json_object_get(e, "last_heard_ms");
        bool is_stale = true;
        if (ms) {
            uint64_t t = (uint64_t)json_integer_value(ms);
            uint64_t ago = now > t ? now - t : 0;
            json_object_set_new(e, "days_since", json_integer((json_int_t)(ago / 86400000)));
            is_stale = ago >= (uint64_t)days * 86400000;
            json_object_del(e, "last_heard_ms");
        }
        json_object_set_new(e, "stale", json_boolean(is_stale));
        if (is_stale)
            json_array_append_new(stale, json_string(o));
        json_array_append(units, e);
    }
    json_decref(c.units);
    char t[32];
    iso_time(now, t);
    return json_pack("{s:s, s:I, s:o, s:o}", "now", t, "stale_days", (json_int_t)days,
                     "units", units, "stale", stale);
}

/* ---- the query ---- */

static int run(q_t *q, uint64_t now, json_t **out)
{
    int rc = views_version_check(q->t, "stats.version", STATS_VERSION, "statistics view");
    if (rc)
        return rc;
    rc = stats_dbs(q->t, &q->agg, &q->ent);
    if (rc == LD_ENOTFOUND)
        return err_set(LD_ENOTFOUND, "statistics: this store has no statistics view yet "
                       "(open it once read-write to build it)");
    if (rc || (rc = units_load(q)) || (rc = agg_scan(q)) || (rc = joints_scan(q)))
        return rc;
    if (q->ng)
        qsort(q->g, q->ng, sizeof *q->g, group_cmp);
    json_t *groups = json_array();
    for (size_t i = 0; i < q->ng; i++)
        json_array_append_new(groups, group_json(q, q->g[i], q->g[i]->key));
    const char *by[] = {"child", "unit", "level"};
    const stats_period_t *p = &q->in->period;
    json_t *period = json_pack("{s:s}", "label", p->label);
    if (p->from > 0) {
        char f[16], t[16];
        snprintf(f, sizeof f, "%04d-%02d", p->from / 12, p->from % 12 + 1);
        snprintf(t, sizeof t, "%04d-%02d", p->to / 12, p->to % 12 + 1);
        json_object_set_new(period, "from", json_string(f));
        json_object_set_new(period, "to", json_string(t));
    }
    json_t *root = json_object_get(q->units, q->root);
    *out = json_pack("{s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o}", "unit", q->root,
        "name", root ? json_incref(json_object_get(root, "name")) : json_string(q->root),
        "by", by[q->in->by], "period", period, "total", group_json(q, &q->total, q->root),
        "groups", groups, "work_reviews", reviews_json(q), "sync", sync_json(q, now));
    return *out ? 0 : err_set(LD_ENOMEM, "out of memory");
}

int stats_query(store_t *s, const stats_query_t *in, json_t **out)
{
    *out = NULL;
    q_t *q = calloc(1, sizeof *q);
    if (!q)
        return err_set(LD_ENOMEM, "out of memory");
    q->in = in;
    snprintf(q->root, sizeof q->root, "%s", in->unit ? in->unit : store_origin(s));
    q->rlen = strlen(q->root);
    q->units = json_object();
    uint64_t now = in->now_ms;
    if (!now) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    }
    char today[11];
    time_t tt = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    int m;
    stats_date(today, &q->today, &m);
    int rc = store_read_begin(s, &q->t);
    if (!rc)
        rc = run(q, now, out);
    store_read_end(&q->t);
    for (size_t i = 0; i < q->ng; i++)
        free(q->g[i]);
    free(q->g);
    free(q->rv);
    json_decref(q->units);
    free(q);
    return rc;
}

/* ---- periods ---- */

/* One of YYYY, YYYY-Qn, YYYY-MM: its first and last month. */
static bool period_one(const char *s, size_t n, int *from, int *to)
{
    int y = 0;
    for (int i = 0; i < 4; i++) {
        if (n < 4 || s[i] < '0' || s[i] > '9')
            return false;
        y = y * 10 + s[i] - '0';
    }
    if (y < 1949 || y > 2099)
        return false;
    if (n == 4) {
        *from = y * 12;
        *to = y * 12 + 11;
    } else if (n == 7 && s[4] == '-' && (s[5] == 'Q' || s[5] == 'q') && s[6] >= '1' &&
               s[6] <= '4') {
        *from = y * 12 + (s[6] - '1') * 3;
        *to = *from + 2;
    } else if (n == 7 && s[4] == '-' && s[5] >= '0' && s[5] <= '1' && s[6] >= '0' &&
               s[6] <= '9' && (s[5] - '0') * 10 + s[6] - '0' >= 1 &&
               (s[5] - '0') * 10 + s[6] - '0' <= 12) {
        *from = *to = y * 12 + (s[5] - '0') * 10 + s[6] - '0' - 1;
    } else {
        return false;
    }
    return true;
}

int stats_period_parse(const char *s, stats_period_t *out)
{
    snprintf(out->label, sizeof out->label, "%s", s ? s : "all");
    if (!s || strcmp(s, "all") == 0) {
        out->from = 0;
        out->to = INT16_MAX;
        return 0;
    }
    const char *dots = strstr(s, "..");
    int a, b, c, d;
    bool ok = dots ? period_one(s, (size_t)(dots - s), &a, &b) &&
                     period_one(dots + 2, strlen(dots + 2), &c, &d) && a <= d
                   : period_one(s, strlen(s), &a, &d);
    if (!ok || strlen(s) >= sizeof out->label)
        return err_set(LD_EINVAL, "bad period '%s': give all, YYYY, YYYY-Qn, YYYY-MM or "
                       "FROM..TO of those (whole months: the figures are kept per month)", s);
    out->from = a;
    out->to = d;
    return 0;
}
