/*
 * stats_index.c -- the statistics indexer: called by the store for every
 * event that joins a contiguous log, inside the write transaction that
 * stores it (store_add_indexer), it updates the aggregates in stats.agg and
 * the entity records in stats.ent (layouts in stats_int.h).
 *
 * The per-event path reads the body once (no allocation), then either adds
 * flows for the event's month, or loads the one entity record the event is
 * about, computes that record's contribution to the aggregates before and
 * after merging the event, and applies the difference. Deltas are grouped
 * per (kind, month) so that an event touches each aggregate record once.
 *
 * Entity state is per (origin, id): a deputy or suggestion id is the id
 * within the unit that recorded it. Merges are commutative (earliest or
 * latest dates, counts, "latest event wins" under stats_ord_t), so the
 * records, and so the figures, do not depend on arrival order.
 */
#include "common/stats_int.h"

#include <stdlib.h>

#include "common/err.h"
#include "proto/schema.h"

const char *const stats_levels[STATS_NLEVEL] = {"township", "district", "city", "province",
                                                "national"};
const char *const stats_cats[STATS_NCAT] = {"worker", "farmer", "intellectual", "cadre",
                                            "business", "other"};
const char *const stats_sup_kinds[STATS_NSUP] = {
    "visit", "law_check", "inquiry", "interpellation", "work_review", "investigation",
    "decision_vote", "report_review", "budget_review",
};
static const char *const unit_types[] = {"township", "street", "district", "county", "city"};
static const char *const ratings[] = {"satisfied", "basically_satisfied", "dissatisfied"};

/* ---- small helpers ---- */

uint32_t stats_fnv(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

int stats_day_month(uint32_t day)
{
    /* Inverse of stats_days (H. Hinnant's civil_from_days). */
    int32_t z = (int32_t)day;
    int32_t era = (z >= 0 ? z : z - 146096) / 146097;
    int32_t doe = z - era * 146097;
    int32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int32_t y = yoe + era * 400;
    int32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int32_t mp = (5 * doy + 2) / 153;
    int32_t m = mp + (mp < 10 ? 3 : -9);
    return (y + (m <= 2)) * 12 + m - 1;
}

void stats_day_text(uint32_t day, char out[11])
{
    int mon = stats_day_month(day);
    unsigned y = (unsigned)(mon / 12) % 10000, m = (unsigned)(mon % 12) + 1;
    unsigned d = (unsigned)((int)day - stats_days((int)y, (int)m, 1) + 1) % 32;
    snprintf(out, 11, "%04u-%02u-%02u", y, m, d);
}

int stats_enum_index(mpk_str_t s, const char *const *vals, int n)
{
    for (int i = 0; s.ptr && i < n; i++)
        if (mpk_str_eq(s, vals[i]))
            return i + 1;
    return 0;
}

int stats_lmdb_fail(int rc, const char *what)
{
    /* store_write grows the map and retries on MDB_MAP_FULL: keep that code. */
    err_set(rc == MDB_MAP_FULL ? rc : (rc > 0 ? -rc : rc), "statistics: %s: %s", what,
            mdb_strerror(rc));
    return rc == MDB_MAP_FULL ? rc : (rc > 0 ? -rc : rc);
}

int stats_dbs(store_txn_t *t, MDB_dbi *agg, MDB_dbi *ent)
{
    int rc = store_dbi(t, "stats.agg", 0, agg);
    if (!rc)
        rc = store_dbi(t, "stats.ent", 0, ent);
    return rc;
}

/* ---- the body, read once ---- */


static void bg_item(stats_body_t *b, mpk_str_t s)
{
    static const char *const law[] = {"law", "legal", "法律"};
    static const char *const fin[] = {"finance", "financial", "accounting", "金融", "财务",
                                      "财会"};
    for (size_t i = 0; i < sizeof law / sizeof *law; i++)
        if (mpk_str_eq(s, law[i]))
            b->bg |= 1;
    for (size_t i = 0; i < sizeof fin / sizeof *fin; i++)
        if (mpk_str_eq(s, fin[i]))
            b->bg |= 2;
}

static int read_value(stats_body_t *b, mpk_str_t key, mpk_reader_t *r)
{
    mpk_type_t t;
    int rc = mpk_peek(r, &t);
    if (rc)
        return rc;
    if (t == MPK_STR) {
        static const struct { const char *name; size_t off; } fields[] = {
            {"deputy", offsetof(stats_body_t, deputy)}, {"suggestion", offsetof(stats_body_t, suggestion)},
            {"rating", offsetof(stats_body_t, rating)}, {"status", offsetof(stats_body_t, status)},
            {"reason", offsetof(stats_body_t, reason)}, {"level", offsetof(stats_body_t, level)},
            {"category", offsetof(stats_body_t, category)}, {"term", offsetof(stats_body_t, term)},
            {"target", offsetof(stats_body_t, target)}, {"id", offsetof(stats_body_t, id)},
            {"name", offsetof(stats_body_t, name)}, {"type", offsetof(stats_body_t, type)},
            {"joint", offsetof(stats_body_t, joint)}, {"finding", offsetof(stats_body_t, finding)},
            {"due", offsetof(stats_body_t, due)},
        };
        mpk_str_t v;
        if ((rc = mpk_read_str(r, UINT32_MAX, &v)))
            return rc;
        for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
            if (mpk_str_eq(key, fields[i].name))
                *(mpk_str_t *)(void *)((char *)b + fields[i].off) = v;
        return 0;
    }
    if ((t == MPK_UINT || t == MPK_INT) && (mpk_str_eq(key, "score") ||
                                             mpk_str_eq(key, "constituents"))) {
        int64_t v;
        if ((rc = mpk_read_int(r, &v)))
            return rc;
        if (mpk_str_eq(key, "score")) {
            b->score = v;
            b->has_score = true;
        } else {
            b->constituents = v;
        }
        return 0;
    }
    if (t == MPK_ARRAY && mpk_str_eq(key, "scope")) {
        b->scope = *r;
        b->has_scope = true;
    } else if (t == MPK_ARRAY && mpk_str_eq(key, "background")) {
        mpk_reader_t a = *r;
        uint32_t n;
        b->has_bg = true;
        if ((rc = mpk_read_array(&a, 64, &n)))
            return rc;
        for (uint32_t i = 0; i < n; i++) {
            mpk_str_t s;
            if (mpk_read_str(&a, UINT32_MAX, &s))
                break;
            bg_item(b, s);
        }
    }
    return mpk_skip(r, 4);
}

static int body_read(const proto_event_t *ev, stats_body_t *b)
{
    memset(b, 0, sizeof *b);
    mpk_reader_t r;
    mpk_reader_init(&r, ev->body, ev->body_len);
    uint32_t n;
    int rc = mpk_read_map(&r, PROTO_BODY_FIELDS, &n);
    for (uint32_t i = 0; !rc && i < n; i++) {
        mpk_str_t key;
        if (!(rc = mpk_read_str(&r, UINT32_MAX, &key)))
            rc = read_value(b, key, &r);
    }
    return rc ? err_set(LD_ECORRUPT, "statistics: an event body does not read back") : 0;
}

/* ---- deltas to the aggregates, grouped per record ---- */


void stats_add(stats_ix_t *x, int kind, int month, int idx, int32_t v)
{
    if (!v)
        return;
    for (int i = 0; i < x->nd; i++) {
        stats_delta_t *d = &x->d[i];
        if (d->kind == kind && d->month == month && d->idx == idx) {
            d->v += v;
            return;
        }
    }
    /* The contributions of one event stay far below MAX_DELTAS. */
    if (x->nd < MAX_DELTAS)
        x->d[x->nd++] = (stats_delta_t){(uint8_t)kind, month, (uint16_t)idx, v};
}

/* Applies the deltas of one record (kind, month) of `origin`. */
static int apply_record(stats_ix_t *x, const char *origin, size_t olen, int kind, int month,
                        bool *done)
{
    size_t n = kind == K_FLOW ? STATS_NF : kind == K_STOCK ? STATS_NS : STATS_HIST_N;
    int32_t vals[STATS_HIST_N];
    uint8_t k[STATS_KEY_MAX];
    MDB_val key = {stats_agg_key(k, origin, olen, kind, month, NULL, 0), k}, val;
    memset(vals, 0, n * sizeof *vals);
    int rc = mdb_get(x->txn, x->agg, &key, &val);
    if (rc && rc != MDB_NOTFOUND)
        return stats_lmdb_fail(rc, "read an aggregate");
    if (!rc)
        memcpy(vals, val.mv_data, val.mv_size < n * 4 ? val.mv_size : n * 4);
    bool nonzero = false;
    for (int i = 0; i < x->nd; i++) {
        stats_delta_t *d = &x->d[i];
        if (d->kind == kind && d->month == month) {
            vals[d->idx] += d->v;
            done[i] = true;
        }
    }
    for (size_t i = 0; i < n && !nonzero; i++)
        nonzero = vals[i] != 0;
    if (!nonzero) {
        rc = mdb_del(x->txn, x->agg, &key, NULL);
        return rc && rc != MDB_NOTFOUND ? stats_lmdb_fail(rc, "delete an aggregate") : 0;
    }
    val.mv_size = n * sizeof *vals;
    val.mv_data = vals;
    rc = mdb_put(x->txn, x->agg, &key, &val, 0);
    return rc ? stats_lmdb_fail(rc, "write an aggregate") : 0;
}

static int apply(stats_ix_t *x, const char *origin, size_t olen)
{
    bool done[MAX_DELTAS] = {false};
    for (int i = 0; i < x->nd; i++) {
        if (done[i] || !x->d[i].v) {
            done[i] = true;
            continue;
        }
        int rc = apply_record(x, origin, olen, x->d[i].kind, x->d[i].month, done);
        if (rc)
            return rc;
    }
    x->nd = 0;
    return 0;
}

/* ---- entity records ---- */

static size_t ent_key(uint8_t *k, int kind, const char *a, size_t alen, const char *b,
                      size_t blen)
{
    k[0] = (uint8_t)kind;
    memcpy(k + 1, a, alen);
    k[1 + alen] = 0;
    memcpy(k + 2 + alen, b, blen);
    return 2 + alen + blen;
}

/* Loads a record into rec (zeroed if absent); *found says which. */
int stats_ent_get(stats_ix_t *x, const uint8_t *k, size_t klen, void *rec, size_t size, bool *found)
{
    MDB_val key = {klen, (void *)k}, val;
    memset(rec, 0, size);
    int rc = mdb_get(x->txn, x->ent, &key, &val);
    *found = rc == 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return stats_lmdb_fail(rc, "read an entity");
    memcpy(rec, val.mv_data, val.mv_size < size ? val.mv_size : size);
    return 0;
}

int stats_ent_put(stats_ix_t *x, const uint8_t *k, size_t klen, const void *rec, size_t size)
{
    MDB_val key = {klen, (void *)k}, val = {size, (void *)rec};
    int rc = mdb_put(x->txn, x->ent, &key, &val, 0);
    return rc ? stats_lmdb_fail(rc, "write an entity") : 0;
}

/* ---- deputies ---- */

static int mon_of(uint32_t day) { return stats_day_month(day); }

static bool in_term(const dep_rec_t *r, int year)
{
    return !r->term_from || (year >= r->term_from && year <= r->term_to);
}

/* Month of the first duty report in the term, and of the second training
 * in the term; 0 if none. */
static void dep_firsts(const dep_rec_t *r, int *rep, int *tr2)
{
    int n = 0;
    *rep = *tr2 = 0;
    for (int i = 0; i < r->nyears && i < DEP_YEARS; i++) {
        const dep_year_t *y = &r->years[i];
        if (!in_term(r, y->year))
            continue;
        if (y->reports && (!*rep || y->rep_mon < *rep))
            *rep = y->rep_mon;
        for (int j = 0; j < 2 && j < y->trainings && n < 2; j++, n++)
            if (n == 1)
                *tr2 = y->tr_mon[j];
    }
}

/* Adds sign * the record's contribution to the aggregates. */
static void dep_contrib(stats_ix_t *x, const dep_rec_t *r, int sign)
{
    if (!r->reg_day)
        return;
    int reg_m = mon_of(r->reg_day);
    bool left = r->left_day != 0;
    int left_m = left ? mon_of(r->left_day > r->reg_day ? r->left_day : r->reg_day) : 0;
    int idx[6], n = 0;
    idx[n++] = S_IN_OFFICE;
    if (r->level)
        idx[n++] = S_LEVEL + r->level - 1;
    if (r->cat)
        idx[n++] = S_CAT + r->cat - 1;
    if (r->bg & 1)
        idx[n++] = S_LAW;
    if (r->bg & 2)
        idx[n++] = S_FINANCE;
    if (r->bg & 3)
        idx[n++] = S_LAW_OR_FINANCE;
    for (int i = 0; i < n; i++) {
        stats_add(x, K_STOCK, reg_m, idx[i], sign);
        if (left)
            stats_add(x, K_STOCK, left_m, idx[i], -sign);
    }
    stats_add(x, K_FLOW, reg_m, F_DEP_REGISTERED, sign);
    if (left) {
        stats_add(x, K_FLOW, left_m, F_DEP_LEFT, sign);
        if (r->left_reason == 3)   /* v_left: term_end, resigned, persuaded, ... */
            stats_add(x, K_FLOW, left_m, F_DEP_PERSUADED, sign);
    }
    int firsts[2], which[2] = {S_REPORTED, S_TRAINED2};
    dep_firsts(r, &firsts[0], &firsts[1]);
    for (int i = 0; i < 2; i++) {
        if (!firsts[i])
            continue;
        int a = firsts[i] > reg_m ? firsts[i] : reg_m;
        if (left && a >= left_m)
            continue;
        stats_add(x, K_STOCK, a, which[i], sign);
        if (left)
            stats_add(x, K_STOCK, left_m, which[i], -sign);
    }
}

static dep_year_t *dep_year(dep_rec_t *r, int year)
{
    int i = 0;
    while (i < r->nyears && r->years[i].year < year)
        i++;
    if (i < r->nyears && r->years[i].year == year)
        return &r->years[i];
    if (r->nyears == DEP_YEARS) {   /* full: forget the earliest year */
        if (i == 0)
            return NULL;
        memmove(&r->years[0], &r->years[1], (size_t)(i - 1) * sizeof r->years[0]);
        i--;
    } else {
        memmove(&r->years[i + 1], &r->years[i], (size_t)(r->nyears - i) * sizeof r->years[0]);
        r->nyears++;
    }
    memset(&r->years[i], 0, sizeof r->years[i]);
    r->years[i].year = (uint16_t)year;
    return &r->years[i];
}

static void tr_insert(dep_year_t *y, uint16_t m)
{
    if (y->trainings == 0) {
        y->tr_mon[0] = m;
    } else if (m < y->tr_mon[0]) {
        y->tr_mon[1] = y->tr_mon[0];
        y->tr_mon[0] = m;
    } else if (y->trainings == 1 || m < y->tr_mon[1]) {
        y->tr_mon[1] = m;
    }
    if (y->trainings < UINT16_MAX)
        y->trainings++;
}

bool stats_newer(stats_ord_t *have, const stats_ord_t *ord)
{
    if (have->day && stats_ord_cmp(ord, have) <= 0)
        return false;
    *have = *ord;
    return true;
}

static void dep_term(dep_rec_t *r, mpk_str_t s)
{
    r->term_from = r->term_to = 0;
    if (s.len != 9 || s.ptr[4] != '-')
        return;
    int a = 0, b = 0;
    for (int i = 0; i < 4; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9' || s.ptr[5 + i] < '0' || s.ptr[5 + i] > '9')
            return;
        a = a * 10 + s.ptr[i] - '0';
        b = b * 10 + s.ptr[5 + i] - '0';
    }
    if (a <= b) {
        r->term_from = (uint16_t)a;
        r->term_to = (uint16_t)b;
    }
}

static void dep_merge(stats_ix_t *x, dep_rec_t *r, const stats_body_t *b, int kind)
{
    static const char *const left_reasons[] = {"term_end", "resigned", "persuaded", "removed",
                                               "deceased", "transferred", "other"};
    const stats_ord_t *o = &x->ord;
    if (kind == 'R' && (!r->reg_day || x->day < r->reg_day))
        r->reg_day = x->day;
    if (kind == 'R' || kind == 'U') {
        if (b->level.ptr && stats_newer(&r->level_ord, o))
            r->level = (uint8_t)stats_enum_index(b->level, stats_levels, STATS_NLEVEL);
        if (b->category.ptr && stats_newer(&r->cat_ord, o))
            r->cat = (uint8_t)stats_enum_index(b->category, stats_cats, STATS_NCAT);
        if (b->has_bg && stats_newer(&r->bg_ord, o))
            r->bg = b->bg;
        if (b->term.ptr && stats_newer(&r->term_ord, o))
            dep_term(r, b->term);
    } else if (kind == 'L') {
        if (stats_newer(&r->left_ord, o)) {
            r->left_day = x->day;
            r->left_reason = (uint8_t)stats_enum_index(b->reason, left_reasons, 7);
        }
    } else {
        dep_year_t *y = dep_year(r, x->mon / 12);
        if (!y)
            return;
        if (kind == 'D') {
            if (!y->reports || x->mon < y->rep_mon)
                y->rep_mon = (uint16_t)x->mon;
            if (y->reports < UINT16_MAX)
                y->reports++;
        } else {
            tr_insert(y, (uint16_t)x->mon);
        }
    }
}

static int deputy_event(stats_ix_t *x, const stats_body_t *b, int kind)
{
    const proto_event_t *ev = x->ev;
    if (!b->deputy.ptr || b->deputy.len > 64)
        return 0;
    uint8_t k[STATS_KEY_MAX];
    size_t klen = ent_key(k, E_DEPUTY, ev->origin.ptr, ev->origin.len, b->deputy.ptr,
                          b->deputy.len);
    dep_rec_t r;
    bool found;
    int rc = stats_ent_get(x, k, klen, &r, sizeof r, &found);
    if (rc)
        return rc;
    dep_contrib(x, &r, -1);
    dep_merge(x, &r, b, kind);
    dep_contrib(x, &r, +1);
    size_t size = offsetof(dep_rec_t, years) + r.nyears * sizeof r.years[0];
    return stats_ent_put(x, k, klen, &r, size);
}

/* ---- suggestions ---- */

static void sug_contrib(stats_ix_t *x, const sug_rec_t *r, int sign)
{
    if (!r->sub_day)
        return;
    int sub_m = mon_of(r->sub_day);
    stats_add(x, K_FLOW, sub_m, F_SUG_SUBMITTED, sign);
    stats_add(x, K_STOCK, sub_m, S_SUG_OPEN, sign);
    if (r->asg_day)
        stats_add(x, K_FLOW, mon_of(r->asg_day), F_SUG_ASSIGNED, sign);
    if (r->ans_day) {
        int m = mon_of(r->ans_day);
        int32_t days = r->ans_day > r->sub_day ? (int32_t)(r->ans_day - r->sub_day) : 0;
        stats_add(x, K_FLOW, m, F_SUG_ANSWERED, sign);
        stats_add(x, K_FLOW, m, F_SUG_ANSWER_DAYS, sign * days);
        stats_add(x, K_HIST, m, days < STATS_HIST_N - 1 ? days : STATS_HIST_N - 1, sign);
        stats_add(x, K_FLOW, sub_m, F_SUG_SUB_ANSWERED, sign);
    }
    if (r->rating) {
        int m = mon_of(r->rate_day);
        stats_add(x, K_FLOW, m, F_SUG_RATED, sign);
        stats_add(x, K_FLOW, m, F_SUG_SATISFIED + (int)r->rating - 1, sign);
    }
    if (r->close_day) {
        stats_add(x, K_FLOW, mon_of(r->close_day), F_SUG_CLOSED, sign);
        int m = mon_of(r->close_day > r->sub_day ? r->close_day : r->sub_day);
        stats_add(x, K_STOCK, m, S_SUG_OPEN, -sign);
    }
}

void stats_day_min(uint32_t *have, uint32_t day)
{
    if (!*have || day < *have)
        *have = day;
}

static int suggestion_event(stats_ix_t *x, const stats_body_t *b, int kind)
{
    const proto_event_t *ev = x->ev;
    if (!b->suggestion.ptr || b->suggestion.len > 64)
        return 0;
    uint8_t k[STATS_KEY_MAX];
    size_t klen = ent_key(k, E_SUG, ev->origin.ptr, ev->origin.len, b->suggestion.ptr,
                          b->suggestion.len);
    sug_rec_t r;
    bool found;
    int rc = stats_ent_get(x, k, klen, &r, sizeof r, &found);
    if (rc)
        return rc;
    sug_contrib(x, &r, -1);
    switch (kind) {
    case 'S': if (x->day > r.sub_day) r.sub_day = x->day; break;
    case 'A': stats_day_min(&r.asg_day, x->day); break;
    case 'N': stats_day_min(&r.ans_day, x->day); break;
    case 'C': stats_day_min(&r.close_day, x->day); break;
    case 'R': {
        int v = stats_enum_index(b->rating, ratings, 3);
        if (v && stats_newer(&r.rate_ord, &x->ord)) {
            r.rating = (uint32_t)v;
            r.rate_day = x->day;
        }
        break;
    }
    }
    sug_contrib(x, &r, +1);
    return stats_ent_put(x, k, klen, &r, sizeof r);
}

/* ---- units ---- */

static int unit_event(stats_ix_t *x, const stats_body_t *b)
{
    if (!b->id.ptr || !b->name.ptr || b->id.len > PROTO_ORIGIN_MAX)
        return 0;
    uint8_t k[STATS_KEY_MAX];
    k[0] = E_UNIT;
    memcpy(k + 1, b->id.ptr, b->id.len);
    unit_rec_t r;
    bool found;
    int rc = stats_ent_get(x, k, 1 + b->id.len, &r, sizeof r, &found);
    if (rc || !stats_newer(&r.ord, &x->ord))
        return rc;
    r.type = (uint8_t)stats_enum_index(b->type, unit_types, 5);
    /* Cut at a character boundary. */
    size_t n = b->name.len < sizeof r.name ? b->name.len : sizeof r.name;
    while (n < b->name.len && n > 0 && ((uint8_t)b->name.ptr[n] & 0xc0) == 0x80)
        n--;
    memcpy(r.name, b->name.ptr, n);
    r.name_len = (uint8_t)n;
    return stats_ent_put(x, k, 1 + b->id.len, &r, offsetof(unit_rec_t, name) + n);
}

/* ---- dispatch ---- */

static int flows_only(stats_ix_t *x, const stats_body_t *b, const char *k)
{
    const proto_event_t *ev = x->ev;
    if (strncmp(k, "deputy.", 7) == 0) {
        k += 7;
        if (strcmp(k, "contact") == 0) {
            stats_add(x, K_FLOW, x->mon, F_CONTACTS, 1);
            stats_add(x, K_FLOW, x->mon, F_CONTACT_PEOPLE, (int32_t)b->constituents);
        } else if (strcmp(k, "evaluation") == 0) {
            stats_add(x, K_FLOW, x->mon, F_EVALUATIONS, 1);
        } else if (strcmp(k, "attendance") == 0) {
            if (mpk_str_eq(b->status, "present"))
                stats_add(x, K_FLOW, x->mon, F_ATT_PRESENT, 1);
            else if (mpk_str_eq(b->status, "excused"))
                stats_add(x, K_FLOW, x->mon, F_ATT_EXCUSED, 1);
            else if (mpk_str_eq(b->status, "absent"))
                stats_add(x, K_FLOW, x->mon, F_ATT_ABSENT, 1);
        }
        return 0;
    }
    if (strncmp(k, "supervision.", 12) == 0) {
        int i = 0;
        while (i < STATS_NSUP && strcmp(k + 12, stats_sup_kinds[i]) != 0)
            i++;
        if (i < STATS_NSUP)
            stats_add(x, K_FLOW, x->mon, F_SUP_FIRST + i, 1);
        if (i == 4 && b->target.ptr && b->has_score && b->target.len <= 64)
            return stats_review_event(x, b, ev);
    }
    return 0;
}

static int index_event(stats_ix_t *x, const stats_body_t *b)
{
    char k[PROTO_KIND_MAX + 1];
    const proto_event_t *ev = x->ev;
    snprintf(k, sizeof k, "%.*s", (int)ev->kind.len, ev->kind.ptr);
    static const struct { const char *kind; int (*fn)(stats_ix_t *, const stats_body_t *, int); int c; }
    entity[] = {
        {"deputy.registered", deputy_event, 'R'}, {"deputy.updated", deputy_event, 'U'}, {"deputy.left", deputy_event, 'L'},
        {"deputy.duty_report", deputy_event, 'D'}, {"deputy.training", deputy_event, 'T'},
        {"suggestion.submitted", suggestion_event, 'S'},
        {"suggestion.assigned", suggestion_event, 'A'},
        {"suggestion.answered", suggestion_event, 'N'},
        {"suggestion.rated", suggestion_event, 'R'},
        {"suggestion.closed", suggestion_event, 'C'},
        {"joint.opened", stats_joint_event, 'O'}, {"joint.updated", stats_joint_event, 'U'},
        {"joint.closed", stats_joint_event, 'C'}, {"joint.report", stats_joint_event, 'P'},
        {"joint.finding", stats_joint_event, 'F'}, {"joint.rectification", stats_joint_event, 'X'},
    };
    stats_add(x, K_FLOW, x->mon, F_EVENTS, 1);
    if (!ev->schema) {
        stats_add(x, K_FLOW, x->mon, F_OTHER, 1);
        return 0;
    }
    if (strcmp(k, "deputy.duty_report") == 0)
        stats_add(x, K_FLOW, x->mon, F_DUTY_REPORTS, 1);
    else if (strcmp(k, "deputy.training") == 0)
        stats_add(x, K_FLOW, x->mon, F_TRAININGS, 1);
    if (strcmp(k, "unit.registered") == 0)
        return unit_event(x, b);
    for (size_t i = 0; i < sizeof entity / sizeof *entity; i++)
        if (strcmp(k, entity[i].kind) == 0)
            return entity[i].fn(x, b, entity[i].c);
    return flows_only(x, b, k);
}

/* The store indexer (store_index_fn). */
static int stats_index(store_txn_t *t, const proto_event_t *ev, void *arg)
{
    (void)arg;
    stats_ix_t x;
    x.t = t;
    x.txn = store_txn_mdb(t);
    x.nd = 0;
    x.ev = ev;
    int rc = store_dbi(t, "stats.agg", MDB_CREATE, &x.agg);
    if (!rc)
        rc = store_dbi(t, "stats.ent", MDB_CREATE, &x.ent);
    if (rc)
        return rc;
    if (ev->date.len != 10)
        return 0;
    stats_date(ev->date.ptr, &x.day, &x.mon);
    x.ord = (stats_ord_t){x.day, stats_fnv(ev->origin.ptr, ev->origin.len), ev->hlc, ev->seq};
    stats_body_t b;
    if (ev->schema && (rc = body_read(ev, &b)))
        return rc;
    if (!ev->schema)
        memset(&b, 0, sizeof b);
    if ((rc = index_event(&x, &b)))
        return rc;
    return apply(&x, ev->origin.ptr, ev->origin.len);
}

/* ---- attach and rebuild ---- */

static int rebuild_one(const char *origin, uint64_t seq, const uint8_t *raw, size_t len,
                       void *arg)
{
    proto_event_t ev;
    if (proto_event_decode(raw, len, 0, &ev))
        return err_set(LD_ECORRUPT, "statistics: stored event %s#%llu does not decode",
                       origin, (unsigned long long)seq);
    return stats_index(arg, &ev, NULL);
}

static int rebuild_fn(store_txn_t *t, void *arg)
{
    (void)arg;
    MDB_dbi agg, ent;
    int rc = store_dbi(t, "stats.agg", MDB_CREATE, &agg);
    if (!rc)
        rc = store_dbi(t, "stats.ent", MDB_CREATE, &ent);
    if (!rc && (rc = mdb_drop(store_txn_mdb(t), agg, 0)) == 0)
        rc = mdb_drop(store_txn_mdb(t), ent, 0);
    if (rc)
        return rc < 0 ? rc : stats_lmdb_fail(rc, "empty the view");
    if ((rc = store_events_foreach(t, "", 0, rebuild_one, t)))
        return rc;
    return store_meta_put(t, "stats.version", STATS_VERSION, strlen(STATS_VERSION));
}

int stats_rebuild(store_t *s)
{
    return store_write(s, rebuild_fn, NULL);
}

static int version_ok(store_t *s, bool *ok)
{
    store_txn_t *t;
    int rc = store_read_begin(s, &t);
    if (rc)
        return rc;
    const void *v;
    size_t len;
    rc = store_meta_get(t, "stats.version", &v, &len);
    *ok = rc == 0 && len == strlen(STATS_VERSION) && memcmp(v, STATS_VERSION, len) == 0;
    store_read_end(&t);
    return rc == LD_ENOTFOUND ? 0 : rc;
}

int stats_attach(store_t *s)
{
    int rc = store_add_indexer(s, stats_index, NULL);
    bool ok = false;
    if (!rc)
        rc = version_ok(s, &ok);
    if (rc || ok)
        return rc;
    rc = stats_rebuild(s);
    /* A read-only store cannot be rebuilt; its queries say so. */
    return rc == LD_EINVAL ? 0 : rc;
}
