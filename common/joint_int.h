/*
 * joint_int.h -- what the joint inspection view's files share (joint.c, the
 * indexer; joint_view.c, the queries): its databases, key layouts and
 * record formats. docs/storage.md, "Joint inspection view", describes the
 * same bytes for maintainers. Not for use outside common/joint*.c.
 *
 * Integers are big-endian; dates are the 10 bytes "YYYY-MM-DD" (all zero
 * for "none"). An event's identity in a key ("ref key") is the store's own
 * event key form: origin bytes, 0x00, seq as 8 bytes. Origins never contain
 * 0x00, so a ref key is self-delimiting and a key can go on after it.
 *
 * Every record is a commutative aggregate of the events that name it
 * (counts, minima, maxima, "latest wins" under a total order), so the view
 * depends only on the set of events held, never on their arrival order.
 */
#ifndef LD_COMMON_JOINT_INT_H
#define LD_COMMON_JOINT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <lmdb.h>

#include "common/store.h"
#include "proto/event.h"

#define JOINT_VERSION      "1"          /* meta "joint.version": bump to rebuild */
#define JOINT_REFKEY_MAX   (PROTO_ORIGIN_MAX + 9)
#define JOINT_DATE_LEN     10
#define JOINT_NAME_MAX     64           /* unit.registered name, schema limit */

/* The four databases (store_dbi names). */
typedef struct joint_dbs {
    MDB_dbi units; /* "joint.units": unit origin -> registry record */
    MDB_dbi head;  /* "joint.head":  inspection ref key -> joint_head_t */
    MDB_dbi idx;   /* "joint.idx":   inspection ref key, tag, ... (below) */
    MDB_dbi find;  /* "joint.find":  finding ref key -> joint_find_t */
} joint_dbs_t;

/* Tags of joint.idx keys, after the inspection's ref key:
 *   'c' seq(8)                    -> 1 byte: 'o' opened, 'u' updated, 'x' closed
 *                                    (the opener's own control events)
 *   'u' unit                      -> joint_unit_t (the unit's aggregate)
 *   'd' unit 0x00 date(10)        -> u32: the unit's findings dated that day
 *   'p' unit 0x00 deputy          -> empty: a deputy of the unit took part
 *   'f' unit 0x00 seq(8)          -> empty: a finding of the unit (its event
 *                                    is unit#seq) */
enum { JOINT_TAG_CTL = 'c', JOINT_TAG_UNIT = 'u', JOINT_TAG_DATE = 'd',
       JOINT_TAG_DEPUTY = 'p', JOINT_TAG_FINDING = 'f' };

/* Control event codes in 'c' values. */
enum { JOINT_CTL_OPENED = 'o', JOINT_CTL_UPDATED = 'u', JOINT_CTL_CLOSED = 'x' };

/* joint.head value: JOINT_HEAD_LEN bytes. */
#define JOINT_HEAD_LEN 29
enum { JOINT_HEAD_OPENED = 1u << 0 };
typedef struct joint_head {
    uint8_t flags;         /* JOINT_HEAD_OPENED: its joint.opened is held */
    uint32_t events;       /* events naming it (all kinds; the opened one too) */
    uint32_t findings, reports, rects;
    uint32_t control;      /* opened/updated/closed by its opener */
    uint32_t ignored;      /* updated/closed by another origin: kept, not applied */
    uint32_t rect_waiting; /* findings not held whose latest rectification names it */
} joint_head_t;

/* joint.idx 'u' value: JOINT_UNIT_LEN bytes. */
#define JOINT_UNIT_LEN 74
enum { JOINT_SEV_LOW, JOINT_SEV_MEDIUM, JOINT_SEV_HIGH, JOINT_SEV_N };
typedef struct joint_unit {
    uint32_t events;                 /* this unit's events naming the inspection */
    uint32_t findings[JOINT_SEV_N];  /* by severity */
    uint32_t rect_done, rect_progress; /* its findings whose latest rectification is so */
    uint32_t reports;
    char first_report[JOINT_DATE_LEN + 1]; /* earliest report date; "" none */
    uint64_t report_seq;             /* the latest report (highest seq: one origin) */
    int32_t participants;            /* of that report; -1 if it gave none */
    uint32_t deputies;               /* distinct 'p' keys */
    char first_date[JOINT_DATE_LEN + 1], last_date[JOINT_DATE_LEN + 1];
} joint_unit_t;

/* joint.find value: fixed part, then the two ref keys of variable length. */
enum { JOINT_FIND_HELD = 1u << 0, JOINT_FIND_RECT = 1u << 1 };
enum { JOINT_RECT_IN_PROGRESS = 0, JOINT_RECT_DONE = 1 };
typedef struct joint_find {
    uint8_t flags;               /* JOINT_FIND_HELD: the finding event is held;
                                    JOINT_FIND_RECT: a rectification is */
    uint8_t severity;            /* JOINT_SEV_*, if HELD */
    char date[JOINT_DATE_LEN + 1];
    uint32_t rect_count;         /* rectifications naming it */
    uint64_t rect_hlc, rect_seq; /* the latest rectification, by (hlc, origin, seq) */
    uint8_t rect_status;         /* JOINT_RECT_* */
    char rect_origin[PROTO_ORIGIN_MAX + 1];
    uint8_t fj[JOINT_REFKEY_MAX]; /* the finding's inspection, if HELD */
    size_t fj_len;
    uint8_t wj[JOINT_REFKEY_MAX]; /* not HELD: the inspection its latest
                                     rectification names (counted there as waiting) */
    size_t wj_len;
} joint_find_t;

/* joint.units value: hlc(8) seq(8) type(1) author_len(1) author name. */
enum { JOINT_TYPE_TOWNSHIP, JOINT_TYPE_STREET, JOINT_TYPE_DISTRICT, JOINT_TYPE_COUNTY,
       JOINT_TYPE_CITY, JOINT_TYPE_N };
typedef struct joint_reg {
    uint64_t hlc, seq;
    uint8_t type;
    char author[PROTO_ORIGIN_MAX + 1];
    char name[JOINT_NAME_MAX + 1];
} joint_reg_t;

extern const char *const joint_severity_names[JOINT_SEV_N];
extern const char *const joint_type_names[JOINT_TYPE_N];

/* Opens the four databases in t (creating them in a write txn). */
int joint_dbs_open(store_txn_t *t, joint_dbs_t *d);

/* Builds the ref key of origin#seq into k; returns its length. */
size_t joint_refkey(uint8_t *k, const char *origin, size_t olen, uint64_t seq);
/* Parses "ORIGIN#SEQ" text into a ref key; false if malformed. */
bool joint_refkey_parse(const char *s, size_t len, uint8_t *k, size_t *klen);
/* Writes a ref key as "ORIGIN#SEQ" into out (size >= JOINT_REFKEY_MAX + 12). */
void joint_refkey_text(const uint8_t *k, size_t klen, char *out, size_t n);

void joint_head_decode(const uint8_t *v, size_t len, joint_head_t *h);
void joint_head_encode(const joint_head_t *h, uint8_t out[JOINT_HEAD_LEN]);
void joint_unit_decode(const uint8_t *v, size_t len, joint_unit_t *u);
void joint_unit_encode(const joint_unit_t *u, uint8_t out[JOINT_UNIT_LEN]);
/* LD_ECORRUPT if v is not a valid record. */
int joint_find_decode(const uint8_t *v, size_t len, joint_find_t *f);
/* Returns the encoded length (<= JOINT_FIND_MAX). */
#define JOINT_FIND_MAX (24 + 1 + PROTO_ORIGIN_MAX + 2 * (1 + JOINT_REFKEY_MAX) + 8)
size_t joint_find_encode(const joint_find_t *f, uint8_t *out);
int joint_reg_decode(const uint8_t *v, size_t len, joint_reg_t *r);

/* mdb_get into a copy-free view; 1 if absent, 0 if found, <0 on error. */
int joint_get(store_txn_t *t, MDB_dbi dbi, const void *k, size_t klen, const uint8_t **v,
              size_t *vlen);

static inline void joint_be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline uint32_t joint_be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void joint_be64_put(uint8_t *p, uint64_t v)
{
    joint_be32_put(p, (uint32_t)(v >> 32));
    joint_be32_put(p + 4, (uint32_t)v);
}
static inline uint64_t joint_be64_get(const uint8_t *p)
{
    return (uint64_t)joint_be32_get(p) << 32 | joint_be32_get(p + 4);
}

#endif
