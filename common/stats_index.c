/*
 * stats_index.c -- the statistics indexer: called by the store for every
 * event that joins a contiguous log, inside the write transaction that
 * stores it (store_add_indexer), it updates the aggregates in stats.agg and
 * the entity records in stats.ent (layouts in stats_int.h).
 *
 * The per-event path reads the body once (no allocation, and only as far as
 * the fields it needs), adds the event's flows to its (unit, month) record,
 * and merges the event into the record of the entity it is about. Deputy
 * and suggestion records, the many, are merged in memory without reading
 * the database ("partial" records); stats_flush, before the commit,
 * resolves each against the stored record in key order: merge, apply the
 * change of the record's contribution to the aggregates, write. Joint and
 * unit records, the few, are read at once and their contribution applied
 * as each event comes. All records go through the write-back cache
 * (stats_cache.c), so an aggregate record is written once per transaction.
 *
 * Entity state is per (origin, id): a deputy or suggestion id is the id
 * within the unit that recorded it. Merges are commutative (earliest or
 * latest dates, counts, "latest event wins" under stats_ord_t), so the
 * records, and so the figures, do not depend on arrival order.
 */
#include "common/stats_int.h"

#include <pthread.h>
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

/* ---- deltas to the aggregates, grouped per record ---- */


void stats_add(stats_ix_t *x, int kind, int month, int idx, int32_t v)
{
    /* Appended as they come (a value and its reversal cancel when applied).
     * The contributions of one event stay well below MAX_DELTAS; going past
     * it is a bug, caught in apply(). */
    if (x->nd < MAX_DELTAS)
        x->d[x->nd] = (stats_delta_t){(uint8_t)kind, month, (uint16_t)idx, v};
    x->nd++;
}

/* Applies the deltas of one record (kind, month) of `origin`, each set to
 * zero as it is applied. Consecutive events mostly hit the same record (a
 * unit's flows of one month): the view remembers the last one and skips
 * the lookup. */
static int apply_record(stats_ix_t *x, const char *origin, size_t olen, int kind, int month)
{
    size_t n = kind == K_FLOW ? STATS_NF : kind == K_STOCK ? STATS_NS : STATS_HIST_N;
    uint8_t k[STATS_KEY_MAX];
    size_t klen = stats_agg_key(k, origin, olen, kind, month, NULL, 0);
    stats_view_t *v = x->v;
    stats_rec_t **memo = &v->memo[((unsigned)month * 4 + (kind == K_FLOW ? 0 : kind == K_STOCK
                                   ? 1 : 2)) & (STATS_MEMO - 1)];
    stats_rec_t *r = *memo;
    if (!r || r->klen != klen || memcmp(r->key, k, klen) != 0) {
        int rc = stats_cache_get(v->cache, x->txn, v->dbi[STATS_DB_AGG], STATS_DB_AGG, k, klen,
                                 n * 4, &r);
        if (rc)
            return rc;
        *memo = r;
    }
    for (int i = 0; i < x->nd; i++) {
        stats_delta_t *d = &x->d[i];
        if (d->v && d->kind == kind && d->month == month) {
            int32_t val;
            memcpy(&val, r->val + 4 * d->idx, 4);   /* the buffer is zero-filled to n * 4 */
            val += d->v;
            memcpy(r->val + 4 * d->idx, &val, 4);
            d->v = 0;
        }
    }
    r->len = (uint32_t)(n * 4);
    r->dirty = true;
    return 0;
}

static int apply(stats_ix_t *x, const char *origin, size_t olen)
{
    if (x->nd > MAX_DELTAS)
        return err_set(LD_ECORRUPT, "statistics: one event made more than %d changes",
                       MAX_DELTAS);
    for (int i = 0; i < x->nd; i++) {
        if (!x->d[i].v)
            continue;   /* applied with an earlier one of its record, or nothing */
        int rc = apply_record(x, origin, olen, x->d[i].kind, x->d[i].month);
        if (rc)
            return rc;
    }
    x->nd = 0;
    return 0;
}

void stats_memo_clear(stats_view_t *v)
{
    memset(v->memo, 0, sizeof v->memo);
    v->ememo = NULL;
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
int stats_ent_get(stats_ix_t *x, const uint8_t *k, size_t klen, void *rec, size_t size,
                  bool *found)
{
    stats_rec_t *r;
    int rc = stats_cache_get(x->v->cache, x->txn, x->v->dbi[STATS_DB_ENT], STATS_DB_ENT, k,
                             klen, size, &r);
    if (rc)
        return rc;
    x->v->ememo = r;   /* the put that usually follows finds it without a lookup */
    *found = r->len > 0;
    memset(rec, 0, size);
    memcpy(rec, r->val, r->len < size ? r->len : size);
    return 0;
}

int stats_ent_put(stats_ix_t *x, const uint8_t *k, size_t klen, const void *rec, size_t size)
{
    stats_rec_t *r = x->v->ememo;
    if (!r || r->klen != klen || memcmp(r->key, k, klen) != 0) {
        int rc = stats_cache_get(x->v->cache, x->txn, x->v->dbi[STATS_DB_ENT], STATS_DB_ENT, k,
                                 klen, size, &r);
        if (rc)
            return rc;
    }
    if (size > r->cap)   /* cannot happen: every get asked for the full record size */
        return err_set(LD_ECORRUPT, "statistics: a record outgrew its buffer");
    memcpy(r->val, rec, size);
    r->len = (uint32_t)size;
    r->dirty = true;
    return 0;
}

/* ---- deputies ---- */

/* Month of a day number, from a table for 1949..2099 (built once: this is
 * called several times per entity event). */
/* The month of a day: Hinnant's arithmetic, a few divisions. (A lookup table
 * of every day since 1949 cost 2.8 million instructions to build in every
 * process that records anything, for nanoseconds per event saved.) */
static int mon_of(uint32_t day)
{
    return stats_day_month(day);
}

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

/* The deputy's partial record in the cache (see stats_flush). */
static int partial(stats_ix_t *x, int kind, mpk_str_t id, size_t size, stats_rec_t **r)
{
    const proto_event_t *ev = x->ev;
    uint8_t k[STATS_KEY_MAX];
    size_t klen = ent_key(k, kind, ev->origin.ptr, ev->origin.len, id.ptr, id.len);
    int rc = stats_cache_find(x->v->cache, x->txn, x->v->dbi[STATS_DB_ENT], STATS_DB_ENT, k,
                              klen, size, false, r);
    if (!rc && !(*r)->partial)   /* only stats_flush makes these whole, and then clears */
        rc = err_set(LD_ECORRUPT, "statistics: an entity record is cached whole");
    return rc;
}

/* Merges the event into the deputy's partial record: what this transaction
 * knows of the deputy. stats_flush merges it with the stored record. */
static int deputy_event(stats_ix_t *x, const stats_body_t *b, int kind)
{
    if (!b->deputy.ptr || b->deputy.len > 64)
        return 0;
    stats_rec_t *r;
    int rc = partial(x, E_DEPUTY, b->deputy, sizeof(dep_rec_t), &r);
    if (rc)
        return rc;
    dep_rec_t *d = (dep_rec_t *)(void *)r->val;   /* 8-byte aligned, cap bytes, zero-filled */
    dep_merge(x, d, b, kind);
    r->len = (uint32_t)(offsetof(dep_rec_t, years) + d->nyears * sizeof d->years[0]);
    r->dirty = true;
    return 0;
}

/* Merges record s into d: earliest registration, latest leaving and field
 * values under their order keys, activity per year added up. */
static void dep_merge_rec(dep_rec_t *d, const dep_rec_t *s)
{
    if (s->reg_day && (!d->reg_day || s->reg_day < d->reg_day))
        d->reg_day = s->reg_day;
    if (s->left_ord.day && stats_newer(&d->left_ord, &s->left_ord)) {
        d->left_day = s->left_day;
        d->left_reason = s->left_reason;
    }
    if (s->level_ord.day && stats_newer(&d->level_ord, &s->level_ord))
        d->level = s->level;
    if (s->cat_ord.day && stats_newer(&d->cat_ord, &s->cat_ord))
        d->cat = s->cat;
    if (s->bg_ord.day && stats_newer(&d->bg_ord, &s->bg_ord))
        d->bg = s->bg;
    if (s->term_ord.day && stats_newer(&d->term_ord, &s->term_ord)) {
        d->term_from = s->term_from;
        d->term_to = s->term_to;
    }
    for (int i = 0; i < s->nyears && i < DEP_YEARS; i++) {
        const dep_year_t *sy = &s->years[i];
        dep_year_t *y = dep_year(d, sy->year);
        if (!y)
            continue;
        if (sy->reports) {
            if (!y->reports || sy->rep_mon < y->rep_mon)
                y->rep_mon = sy->rep_mon;
            y->reports = (uint16_t)(y->reports + sy->reports < UINT16_MAX
                                    ? y->reports + sy->reports : UINT16_MAX);
        }
        uint16_t n = sy->trainings;
        for (int j = 0; j < 2 && j < n; j++)   /* keeps the two smallest, counts one each */
            tr_insert(y, sy->tr_mon[j]);
        int rest = n > 2 ? n - 2 : 0;
        y->trainings = (uint16_t)(y->trainings + rest < UINT16_MAX ? y->trainings + rest
                                                                   : UINT16_MAX);
    }
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
    if (!b->suggestion.ptr || b->suggestion.len > 64)
        return 0;
    stats_rec_t *rec;
    int rc = partial(x, E_SUG, b->suggestion, sizeof(sug_rec_t), &rec);
    if (rc)
        return rc;
    sug_rec_t *r = (sug_rec_t *)(void *)rec->val;
    switch (kind) {
    case 'S': if (x->day > r->sub_day) r->sub_day = x->day; break;
    case 'A': stats_day_min(&r->asg_day, x->day); break;
    case 'N': stats_day_min(&r->ans_day, x->day); break;
    case 'C': stats_day_min(&r->close_day, x->day); break;
    case 'R': {
        int v = stats_enum_index(b->rating, ratings, 3);
        if (v && stats_newer(&r->rate_ord, &x->ord)) {
            r->rating = (uint32_t)v;
            r->rate_day = x->day;
        }
        break;
    }
    }
    rec->len = sizeof *r;
    rec->dirty = true;
    return 0;
}

static void sug_merge_rec(sug_rec_t *d, const sug_rec_t *s)
{
    if (s->sub_day > d->sub_day)
        d->sub_day = s->sub_day;
    if (s->asg_day)
        stats_day_min(&d->asg_day, s->asg_day);
    if (s->ans_day)
        stats_day_min(&d->ans_day, s->ans_day);
    if (s->close_day)
        stats_day_min(&d->close_day, s->close_day);
    if (s->rating && stats_newer(&d->rate_ord, &s->rate_ord)) {
        d->rating = s->rating;
        d->rate_day = s->rate_day;
    }
}

/* ---- resolving the partial records ---- */

/* One partial record: read the stored one, merge, apply the change of
 * contribution, and write the whole record back through the same cursor,
 * which is on its page already (the partials come sorted). */
static int resolve(stats_view_t *v, MDB_txn *txn, MDB_cursor *cur, stats_rec_t *r)
{
    union { dep_rec_t d; sug_rec_t s; } old, neu;
    size_t size = r->key[0] == E_DEPUTY ? sizeof(dep_rec_t) : sizeof(sug_rec_t);
    MDB_val key = {r->klen, r->key}, val;
    memset(&old, 0, sizeof old);
    /* A cursor: sorted lookups that fall in the page it is on skip the descent. */
    int rc = mdb_cursor_get(cur, &key, &val, MDB_SET);
    if (rc && rc != MDB_NOTFOUND)
        return stats_lmdb_fail(rc, "read an entity");
    if (!rc)
        memcpy(&old, val.mv_data, val.mv_size < size ? val.mv_size : size);
    bool existed = rc == 0;
    neu = old;
    stats_ix_t x;
    x.txn = txn;
    x.v = v;
    x.nd = 0;
    if (r->key[0] == E_DEPUTY) {
        dep_merge_rec(&neu.d, (const dep_rec_t *)(const void *)r->val);
        dep_contrib(&x, &old.d, -1);
        dep_contrib(&x, &neu.d, +1);
        size = offsetof(dep_rec_t, years) + neu.d.nyears * sizeof neu.d.years[0];
    } else {
        sug_merge_rec(&neu.s, (const sug_rec_t *)(const void *)r->val);
        sug_contrib(&x, &old.s, -1);
        sug_contrib(&x, &neu.s, +1);
    }
    val = (MDB_val){size, &neu};
    if ((rc = mdb_cursor_put(cur, &key, &val, existed ? MDB_CURRENT : 0)))
        return stats_lmdb_fail(rc, "write an entity");
    /* Written: the cache drops it at the end of this flush without writing. */
    r->partial = false;
    r->dirty = false;
    const uint8_t *z = memchr(r->key + 1, 0, r->klen - 1);
    return z ? apply(&x, (const char *)r->key + 1, (size_t)(z - r->key - 1)) : 0;
}

int stats_flush(stats_view_t *v, MDB_txn *txn)
{
    stats_index_init();
    stats_rec_t **p;
    size_t n;
    MDB_cursor *cur = NULL;
    int rc = stats_cache_partials(v->cache, &p, &n);
    if (!rc && n && (rc = mdb_cursor_open(txn, v->dbi[STATS_DB_ENT], &cur)))
        rc = stats_lmdb_fail(rc, "open a cursor");
    for (size_t i = 0; !rc && i < n; i++)
        rc = resolve(v, txn, cur, p[i]);
    if (cur)
        mdb_cursor_close(cur);
    free(p);
    stats_memo_clear(v);
    return rc ? rc : stats_cache_flush(v->cache, txn, v->dbi);
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

/* What the indexer does per kind, indexed by the kind's place in the schema
 * table (ev->schema - proto_schema_at(0)); built once. */
enum { X_NONE, X_UNIT, X_DEPUTY, X_SUGGESTION, X_JOINT, X_CONTACT, X_EVALUATION,
       X_ATTENDANCE, X_SUPERVISION };
typedef struct kind_rule {
    uint8_t what;      /* X_* */
    uint32_t body;     /* the body fields the handler reads (BODY bits); 0: none */
    char sub;          /* the entity handler's kind letter, or the supervision type index */
    int16_t flow;      /* a flow counted for every event of the kind, or -1 */
} kind_rule_t;

#define MAX_KINDS 64
static kind_rule_t rules[MAX_KINDS];
static size_t nrules;
static pthread_once_t rules_once = PTHREAD_ONCE_INIT;

static void rules_build(void);

void stats_index_init(void)
{
    pthread_once(&rules_once, rules_build);
}

static void rules_build(void)
{
    static const struct { const char *kind; kind_rule_t r; } map[] = {
        {"unit.registered", {X_UNIT, BODY_ALL, 0, -1}},
        {"deputy.registered", {X_DEPUTY, BODY_ALL, 'R', -1}},
        {"deputy.updated", {X_DEPUTY, BODY_ALL, 'U', -1}},
        {"deputy.left", {X_DEPUTY, BODY(B_DEPUTY) | BODY(B_REASON), 'L', -1}},
        {"deputy.duty_report", {X_DEPUTY, BODY(B_DEPUTY), 'D', F_DUTY_REPORTS}},
        {"deputy.training", {X_DEPUTY, BODY(B_DEPUTY), 'T', F_TRAININGS}},
        {"deputy.contact", {X_CONTACT, BODY(B_CONSTITUENTS), 0, F_CONTACTS}},
        {"deputy.evaluation", {X_EVALUATION, 0, 0, F_EVALUATIONS}},
        {"deputy.attendance", {X_ATTENDANCE, BODY(B_STATUS), 0, -1}},
        {"suggestion.submitted", {X_SUGGESTION, BODY(B_SUGGESTION), 'S', -1}},
        {"suggestion.assigned", {X_SUGGESTION, BODY(B_SUGGESTION), 'A', -1}},
        {"suggestion.answered", {X_SUGGESTION, BODY(B_SUGGESTION), 'N', -1}},
        {"suggestion.rated", {X_SUGGESTION, BODY(B_SUGGESTION) | BODY(B_RATING), 'R', -1}},
        {"suggestion.closed", {X_SUGGESTION, BODY(B_SUGGESTION), 'C', -1}},
        {"joint.opened", {X_JOINT, BODY_ALL, 'O', -1}}, {"joint.updated", {X_JOINT, BODY_ALL, 'U', -1}},
        {"joint.closed", {X_JOINT, BODY_ALL, 'C', -1}}, {"joint.report", {X_JOINT, BODY_ALL, 'P', -1}},
        {"joint.finding", {X_JOINT, BODY_ALL, 'F', -1}},
        {"joint.rectification", {X_JOINT, BODY_ALL, 'X', -1}},
    };
    nrules = proto_schema_count() < MAX_KINDS ? proto_schema_count() : MAX_KINDS;
    for (size_t i = 0; i < nrules; i++) {
        const char *name = proto_schema_at(i)->name;
        rules[i] = (kind_rule_t){X_NONE, 0, 0, -1};
        for (size_t j = 0; j < sizeof map / sizeof *map; j++)
            if (strcmp(name, map[j].kind) == 0)
                rules[i] = map[j].r;
        for (int j = 0; j < STATS_NSUP; j++)
            if (strncmp(name, "supervision.", 12) == 0 && strcmp(name + 12, stats_sup_kinds[j]) == 0)
                rules[i] = (kind_rule_t){X_SUPERVISION,
                                         j == 4 ? BODY(B_TARGET) | BODY(B_SCORE) : 0,
                                         (char)j, (int16_t)(F_SUP_FIRST + j)};
    }
}

static const kind_rule_t *rule_of(const proto_event_t *ev)
{
    static const kind_rule_t none = {X_NONE, 0, 0, -1};
    if (!ev->schema)
        return &none;
    size_t i = (size_t)(ev->schema - proto_schema_at(0));
    return i < nrules ? &rules[i] : &none;
}

static int index_event(stats_ix_t *x, const stats_body_t *b, const kind_rule_t *r)
{
    stats_add(x, K_FLOW, x->mon, F_EVENTS, 1);
    if (!x->ev->schema)
        stats_add(x, K_FLOW, x->mon, F_OTHER, 1);
    if (r->flow >= 0)
        stats_add(x, K_FLOW, x->mon, r->flow, 1);
    switch (r->what) {
    case X_UNIT: return unit_event(x, b);
    case X_DEPUTY: return deputy_event(x, b, r->sub);
    case X_SUGGESTION: return suggestion_event(x, b, r->sub);
    case X_JOINT: return stats_joint_event(x, b, r->sub);
    case X_CONTACT:
        stats_add(x, K_FLOW, x->mon, F_CONTACT_PEOPLE, (int32_t)b->constituents);
        return 0;
    case X_ATTENDANCE: {
        static const char *const st[] = {"present", "excused", "absent"};
        int i = stats_enum_index(b->status, st, 3);
        if (i)
            stats_add(x, K_FLOW, x->mon, F_ATT_PRESENT + i - 1, 1);
        return 0;
    }
    case X_SUPERVISION:
        if (r->sub == 4 && b->target.ptr && b->has_score && b->target.len <= 64)
            return stats_review_event(x, b, x->ev);
        return 0;
    default:
        return 0;
    }
}

/* The store indexer (store_index_fn). */
int stats_index(store_txn_t *t, const proto_event_t *ev, void *arg)
{
    stats_index_init();
    stats_ix_t x;
    x.t = t;
    x.txn = store_txn_mdb(t);
    x.v = arg;
    x.nd = 0;
    x.ev = ev;
    if (ev->date.len != 10)
        return 0;
    stats_date(ev->date.ptr, &x.day, &x.mon);
    const kind_rule_t *rule = rule_of(ev);
    /* The origin's hash orders events of different origins: only entities need it. */
    uint32_t ohash = 0;
    if (rule->what <= X_JOINT && rule->what != X_NONE) {
        stats_view_t *v = x.v;
        size_t len = ev->origin.len;
        if (!v->fnv_len || v->fnv_len != len || memcmp(v->fnv_origin, ev->origin.ptr, len)) {
            v->fnv = stats_fnv(ev->origin.ptr, len);
            v->fnv_len = len <= sizeof v->fnv_origin ? len : 0;   /* 0: not remembered */
            memcpy(v->fnv_origin, ev->origin.ptr, v->fnv_len);
        }
        ohash = v->fnv;
    }
    x.ord = (stats_ord_t){x.day, ohash, ev->hlc, ev->seq};
    stats_body_t b;
    int rc = 0;
    if (rule->body && (rc = stats_body_read(ev, &b, rule->body)))
        return rc;
    if (!rule->body)
        memset(&b, 0, sizeof b);
    if ((rc = index_event(&x, &b, rule)) ||
        (rc = apply(&x, ev->origin.ptr, ev->origin.len)))
        return rc;
    /* A big transaction (an import, a rebuild) writes its records out as it goes. */
    if (stats_cache_full(x.v->cache))
        rc = stats_flush(x.v, x.txn);
    return rc;
}
