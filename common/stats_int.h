/*
 * stats_int.h -- what the statistics files share: the figures' indices, the
 * layouts of the records in the two databases, and date arithmetic.
 * Not for use outside common/stats*.c (docs/storage.md, "Statistics view",
 * has the same layouts byte by byte).
 *
 * Two named databases:
 *
 *   stats.agg  aggregates, keyed (origin, kind, month[, target]):
 *              'F' flows   int32[STATS_NF]: what happened in that month
 *              'S' stocks  int32[STATS_NS]: changes, in that month, of a
 *                          level (deputies in office...): the level at the
 *                          end of month M is the sum of changes up to M
 *              'H' answer-time histogram uint32[STATS_HIST_N]
 *              'R' work reviews of one target: {uint32 count, uint32 sum}
 *   stats.ent  one record per entity whose state the figures depend on:
 *              'd' deputy, 's' suggestion, 'u' unit, 'j' joint inspection,
 *              'r' (joint, unit) participation, 'f' joint finding
 *
 * Every figure is a function of the entity records, and each record is a
 * commutative merge of the events about it (min/max dates, the value of the
 * latest event under a total order), so the databases depend only on the
 * set of events held. A record's contribution to the aggregates is
 * recomputed on every change and only the difference applied.
 */
#ifndef LD_COMMON_STATS_INT_H
#define LD_COMMON_STATS_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/stats.h"
#include "common/store.h"

#define STATS_VERSION "1"   /* meta "stats.version": a different value rebuilds */

/* ---- flows: counted in the month of their date ---- */
enum {
    F_EVENTS,            /* every event dated in the month */
    F_OTHER,             /* events of a kind this build does not know */
    F_CONTACTS,          /* deputy.contact events */
    F_CONTACT_PEOPLE,    /* their constituents */
    F_DUTY_REPORTS,      /* deputy.duty_report events */
    F_TRAININGS,         /* deputy.training events */
    F_EVALUATIONS,       /* deputy.evaluation events */
    F_ATT_PRESENT, F_ATT_EXCUSED, F_ATT_ABSENT,
    F_DEP_REGISTERED,    /* deputies whose registration is dated in the month */
    F_DEP_LEFT,          /* registered deputies whose leaving is dated in the month */
    F_DEP_PERSUADED,     /* ... with reason persuaded (劝辞) */
    F_SUG_SUBMITTED,     /* suggestions (with a submission held) by submission month */
    F_SUG_SUB_ANSWERED,  /* ... of those, answered (at any date), by submission month */
    F_SUG_ASSIGNED,      /* by month of first assignment */
    F_SUG_ANSWERED,      /* by month of first answer */
    F_SUG_ANSWER_DAYS,   /* sum of days submission -> first answer, by answer month */
    F_SUG_RATED,         /* by month of the latest rating */
    F_SUG_SATISFIED, F_SUG_BASIC, F_SUG_DISSATISFIED,
    F_SUG_CLOSED,        /* by month of first closing */
    F_SUP_FIRST,         /* supervision.* by type, in stats_sup_kinds order */
    F_SUP_LAST = F_SUP_FIRST + 8,
    F_REVIEWS,           /* work reviews (also in 'R' records per target) */
    F_JOINT_REPORTS, F_JOINT_FINDINGS, F_JOINT_RECTIFICATIONS,
    STATS_NF
};

/* ---- stocks: changes of levels ---- */
enum {
    S_IN_OFFICE,
    S_LEVEL,             /* 5: township, district, city, province, national */
    S_CAT = S_LEVEL + 5, /* 6: worker, farmer, intellectual, cadre, business, other */
    S_LAW = S_CAT + 6,
    S_FINANCE,
    S_LAW_OR_FINANCE,
    S_REPORTED,          /* in office and reported to voters in the term */
    S_TRAINED2,          /* in office and trained at least twice in the term */
    S_SUG_OPEN,          /* submitted and not closed */
    STATS_NS
};

#define STATS_NLEVEL 5
#define STATS_NCAT   6
#define STATS_NSUP   9
#define STATS_HIST_N 181    /* days 0..179, and 180 for "180 or more" */

extern const char *const stats_levels[STATS_NLEVEL];
extern const char *const stats_cats[STATS_NCAT];
extern const char *const stats_sup_kinds[STATS_NSUP];   /* "visit", "law_check"... */

/* ---- keys ---- */
#define STATS_KEY_MAX 512
enum { K_FLOW = 'F', K_STOCK = 'S', K_HIST = 'H', K_REVIEW = 'R' };
enum { E_DEPUTY = 'd', E_SUG = 's', E_UNIT = 'u', E_JOINT = 'j', E_JREP = 'r', E_FIND = 'f' };

/* agg key: origin 0x00 kind month(u16 BE) [target] */
static inline size_t stats_agg_key(uint8_t *k, const char *origin, size_t olen, int kind,
                                   int month, const char *target, size_t tlen)
{
    memcpy(k, origin, olen);
    k[olen] = 0;
    k[olen + 1] = (uint8_t)kind;
    k[olen + 2] = (uint8_t)(month >> 8);
    k[olen + 3] = (uint8_t)month;
    if (tlen)
        memcpy(k + olen + 4, target, tlen);
    return olen + 4 + tlen;
}

/* ---- order keys: "the latest" event under a total order ---- */
typedef struct stats_ord {
    uint32_t day;      /* the event's date as a day number */
    uint32_t ohash;    /* FNV-1a of its origin: a tie-break across origins */
    uint64_t hlc;
    uint64_t seq;
} stats_ord_t;

static inline int stats_ord_cmp(const stats_ord_t *a, const stats_ord_t *b)
{
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    if (a->hlc != b->hlc)
        return a->hlc < b->hlc ? -1 : 1;
    if (a->ohash != b->ohash)
        return a->ohash < b->ohash ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}

/* ---- entity records (host byte order; fixed layouts, docs/storage.md) ---- */

#define DEP_YEARS 24
typedef struct dep_year {
    uint16_t year;
    uint16_t reports;     /* duty reports dated in the year */
    uint16_t rep_mon;     /* month index of the earliest */
    uint16_t trainings;
    uint16_t tr_mon[2];   /* month indices of the two earliest */
} dep_year_t;

typedef struct dep_rec {
    uint32_t reg_day;     /* earliest deputy.registered date; 0: none held */
    uint32_t left_day;    /* date of the latest deputy.left; 0: none */
    stats_ord_t left_ord;
    uint8_t left_reason;  /* 1 + index in the schema's values; 0 none */
    uint8_t level, cat;   /* 1 + index; 0 unknown */
    uint8_t bg;           /* bit 0 law, bit 1 finance */
    uint16_t term_from, term_to;  /* years; 0: not "YYYY-YYYY" (every date counts) */
    uint16_t nyears;
    stats_ord_t level_ord, cat_ord, bg_ord, term_ord;
    dep_year_t years[DEP_YEARS];  /* sorted by year; only nyears stored */
} dep_rec_t;

typedef struct sug_rec {
    uint32_t sub_day;     /* latest submission date; 0: none held */
    uint32_t asg_day;     /* earliest assignment */
    uint32_t ans_day;     /* earliest answer */
    uint32_t close_day;   /* earliest closing */
    uint32_t rate_day;    /* date of the latest rating */
    uint32_t rating;      /* 1 satisfied, 2 basically, 3 dissatisfied; 0 none */
    stats_ord_t rate_ord;
} sug_rec_t;

typedef struct unit_rec {
    stats_ord_t ord;
    uint8_t type;         /* 1 + index of township, street, district, county, city */
    uint8_t name_len;
    char name[64];
} unit_rec_t;

#define JOINT_SCOPE_MAX 64
typedef struct joint_rec {
    uint32_t open_day;    /* 0: joint.opened not held */
    uint32_t due_day;
    uint32_t close_day;   /* earliest joint.closed; 0: open */
    stats_ord_t due_ord, scope_ord;
    uint16_t nscope;
    uint16_t scope_len;   /* bytes of scope[]: origins each followed by 0x00 */
    char scope[JOINT_SCOPE_MAX * 161];
} joint_rec_t;

typedef struct jrep_rec {
    uint32_t report_day;  /* earliest joint.report from the unit; 0: none */
    uint32_t reports;
    uint32_t findings;    /* joint.finding events of the unit held */
    uint32_t rectified;   /* ... whose latest rectification says done */
} jrep_rec_t;

typedef struct find_rec {
    uint8_t found;        /* the joint.finding itself is held */
    uint8_t status;       /* latest rectification: 0 none, 1 in progress, 2 done */
    uint16_t jlen;        /* bytes of joint[] */
    stats_ord_t rect_ord;
    char joint[200];      /* the finding's joint, ORIGIN#SEQ text */
} find_rec_t;

/* ---- the write-back cache (stats_cache.c) ---- */

enum { STATS_DB_AGG, STATS_DB_ENT };

/* One cached record: its key, and its value in a buffer of cap bytes of
 * which len are the record (0: absent). Set dirty after changing it. */
typedef struct stats_rec {
    uint16_t klen;
    uint8_t db, existed;
    bool dirty;
    bool partial;         /* made without reading the database: holds only what this
                             transaction merged; stats_flush resolves it */
    uint32_t len, cap;
    uint8_t *key, *val;
} stats_rec_t;

typedef struct stats_cache stats_cache_t;
stats_cache_t *stats_cache_new(void);
void stats_cache_destroy(stats_cache_t **c);
/* Drops every record without writing. */
void stats_cache_clear(stats_cache_t *c);
/* The record (db, key), read from dbi on the first touch; valid until the
 * next clear or flush. cap: room for the largest value the caller writes. */
int stats_cache_get(stats_cache_t *c, MDB_txn *txn, MDB_dbi dbi, int db, const uint8_t *k,
                    size_t klen, size_t cap, stats_rec_t **out);
/* stats_cache_get, or with load false: a record not cached yet is made
 * empty and `partial` without reading the database. */
int stats_cache_find(stats_cache_t *c, MDB_txn *txn, MDB_dbi dbi, int db, const uint8_t *k,
                     size_t klen, size_t cap, bool load, stats_rec_t **out);
/* The partial records, sorted by key, in a new array the caller frees. */
int stats_cache_partials(stats_cache_t *c, stats_rec_t ***out, size_t *n);
/* True when the cache should be flushed before it grows further. */
bool stats_cache_full(const stats_cache_t *c);
/* Writes every dirty record into dbi[db] in key order (an all-zero
 * aggregate or an empty record is deleted), then clears. */
int stats_cache_flush(stats_cache_t *c, MDB_txn *txn, const MDB_dbi dbi[2]);

#define STATS_MEMO 64

/* The view attached to one store: its databases (opened in every write
 * transaction by the begin hook) and its cache. */
typedef struct stats_view {
    MDB_dbi dbi[2];
    stats_cache_t *cache;
    stats_rec_t *memo[STATS_MEMO]; /* aggregate records touched lately, by (kind, month);
                                      all NULL after a clear or flush */
    stats_rec_t *ememo;     /* the entity record read last; likewise */
    /* stats_fnv of the origin of the last entity event: consecutive events
     * mostly share it (a child's run of a batch) */
    char fnv_origin[PROTO_ORIGIN_MAX];
    size_t fnv_len;
    uint32_t fnv;
} stats_view_t;

/* ---- the indexer's per-event state (stats_index.c, stats_joint.c) ---- */

typedef struct body {
    mpk_str_t deputy, suggestion, rating, status, reason, level, category, term, target,
              id, name, type, joint, finding, due;
    int64_t score, constituents;
    bool has_bg, has_scope, has_score;
    uint8_t bg;
    mpk_reader_t scope;   /* positioned at the scope array */
} stats_body_t;

#define MAX_DELTAS 96
typedef struct delta {
    uint8_t kind;
    int month;
    uint16_t idx;
    int32_t v;
} stats_delta_t;

typedef struct stats_ix {
    store_txn_t *t;
    MDB_txn *txn;
    stats_view_t *v;
    const proto_event_t *ev;
    stats_ord_t ord;
    uint32_t day;
    int mon;
    int nd;
    stats_delta_t d[MAX_DELTAS];
} stats_ix_t;

/* Adds v to figure idx of the (kind, month) record of the event's origin. */
void stats_add(stats_ix_t *x, int kind, int month, int idx, int32_t v);
/* Loads an entity record into rec (zeroed if absent). */
int stats_ent_get(stats_ix_t *x, const uint8_t *k, size_t klen, void *rec, size_t size,
                  bool *found);
int stats_ent_put(stats_ix_t *x, const uint8_t *k, size_t klen, const void *rec, size_t size);
/* An LMDB failure as this project's error (MDB_MAP_FULL kept for the retry). */
int stats_lmdb_fail(int rc, const char *what);
/* True, and *have = *ord, if ord is later than *have (or *have is unset). */
bool stats_newer(stats_ord_t *have, const stats_ord_t *ord);
/* *have = day if unset or later. */
void stats_day_min(uint32_t *have, uint32_t day);
/* 1 + the index of s in vals[n]; 0 if absent. */
int stats_enum_index(mpk_str_t s, const char *const *vals, int n);

/* The body fields the figures read (stats_body.c). */
enum { B_NONE, B_DEPUTY, B_SUGGESTION, B_RATING, B_STATUS, B_REASON, B_LEVEL, B_CATEGORY,
       B_TERM, B_TARGET, B_ID, B_NAME, B_TYPE, B_JOINT, B_FINDING, B_DUE, B_SCORE,
       B_CONSTITUENTS, B_SCOPE, B_BACKGROUND };
#define BODY(f) (1u << (f))
#define BODY_ALL (~0u << 1)

/* stats_body.c: reads the fields the figures use, stopping once those in
 * `want` (BODY bits) are read; LD_ECORRUPT if the body does not read back. */
int stats_body_read(const proto_event_t *ev, stats_body_t *b, uint32_t want);
/* stats_index.c: the store indexer (arg: the view), its one-time set-up,
 * and forgetting the records remembered between events. */
int stats_index(store_txn_t *t, const proto_event_t *ev, void *arg);
void stats_index_init(void);
void stats_memo_clear(stats_view_t *v);
/* Resolves the partial deputy and suggestion records against what is stored
 * (merging them, applying the change of their contribution to the
 * aggregates), then writes everything (stats_cache_flush). */
int stats_flush(stats_view_t *v, MDB_txn *txn);

/* stats_joint.c: joint.* events (kind: O opened, U updated, C closed,
 * P report, F finding, X rectification) and work reviews. */
int stats_joint_event(stats_ix_t *x, const stats_body_t *b, int kind);
int stats_review_event(stats_ix_t *x, const stats_body_t *b, const proto_event_t *ev);

/* ---- dates ---- */

/* Days since 0000-03-01 of a proleptic Gregorian date (H. Hinnant). */
static inline int32_t stats_days(int y, int m, int d)
{
    y -= m <= 2;
    int32_t era = (y >= 0 ? y : y - 399) / 400;
    int32_t yoe = y - era * 400;
    int32_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int32_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe;
}

/* "YYYY-MM-DD" (already validated by the decoder) to a day number and a
 * month index (year * 12 + month - 1). */
static inline void stats_date(const char *s, uint32_t *day, int *mon)
{
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    *day = (uint32_t)stats_days(y, m, d);
    *mon = y * 12 + m - 1;
}

/* Month index of a day number. */
int stats_day_month(uint32_t day);
/* Day number to "YYYY-MM-DD". */
void stats_day_text(uint32_t day, char out[11]);

uint32_t stats_fnv(const char *s, size_t len);

/* The databases; LD_ENOTFOUND in a read txn if the view was never built. */
int stats_dbs(store_txn_t *t, MDB_dbi *agg, MDB_dbi *ent);

#endif
