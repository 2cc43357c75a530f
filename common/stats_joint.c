/*
 * stats_joint.c -- the statistics indexer for joint inspections (joint.*
 * events, cross-origin: a hub opens, the units in scope report, find and
 * rectify) and for work reviews (per reviewed target). See stats_index.c
 * for the per-event rules; the layouts are in stats_int.h.
 */
#include "common/stats_int.h"

#include "common/err.h"

static const char *const rect_status[] = {"in_progress", "done"};

/* ---- work reviews: per (unit, month, target) count and score sum ---- */

int stats_review_event(stats_ix_t *x, const stats_body_t *b, const proto_event_t *ev)
{
    uint8_t k[STATS_KEY_MAX];
    size_t klen = stats_agg_key(k, ev->origin.ptr, ev->origin.len, K_REVIEW, x->mon,
                                b->target.ptr, b->target.len);
    stats_rec_t *r;
    int rc = stats_cache_get(x->v->cache, x->txn, x->v->dbi[STATS_DB_AGG], STATS_DB_AGG, k,
                             klen, 8, &r);
    if (rc)
        return rc;
    uint32_t v[2];
    memcpy(v, r->val, sizeof v);
    v[0]++;
    v[1] += (uint32_t)(b->score < 0 ? 0 : b->score);
    memcpy(r->val, v, sizeof v);
    r->len = sizeof v;
    r->dirty = true;
    stats_add(x, K_FLOW, x->mon, F_REVIEWS, 1);
    return 0;
}

/* ---- joint inspections ---- */

/* 'j'|'f' key of an event id: kind origin 0x00 seq(BE). */
static size_t id_key(uint8_t *k, int kind, const char *origin, size_t olen, uint64_t seq)
{
    k[0] = (uint8_t)kind;
    memcpy(k + 1, origin, olen);
    k[1 + olen] = 0;
    for (int i = 0; i < 8; i++)
        k[2 + olen + i] = (uint8_t)(seq >> (56 - 8 * i));
    return 10 + olen;
}

/* Adds to the (joint, unit) record. */
static int jrep_add(stats_ix_t *x, const char *joint, size_t jlen, const char *unit, size_t ulen,
                    uint32_t report_day, int32_t dfind, int32_t drect)
{
    mpk_str_t jo;
    uint64_t jseq;
    if (!proto_event_ref_parse(joint, jlen, &jo, &jseq))
        return 0;
    uint8_t k[STATS_KEY_MAX];
    size_t klen = id_key(k, E_JREP, jo.ptr, jo.len, jseq);
    memcpy(k + klen, unit, ulen);
    klen += ulen;
    jrep_rec_t r;
    bool found;
    int rc = stats_ent_get(x, k, klen, &r, sizeof r, &found);
    if (rc)
        return rc;
    if (report_day) {
        stats_day_min(&r.report_day, report_day);
        r.reports++;
    }
    r.findings += (uint32_t)dfind;
    r.rectified += (uint32_t)drect;
    return stats_ent_put(x, k, klen, &r, sizeof r);
}

static int joint_scope(joint_rec_t *r, mpk_reader_t a)
{
    uint32_t n;
    r->nscope = 0;
    r->scope_len = 0;
    if (mpk_read_array(&a, JOINT_SCOPE_MAX, &n))
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        mpk_str_t s;
        if (mpk_read_str(&a, PROTO_ORIGIN_MAX, &s))
            break;
        memcpy(r->scope + r->scope_len, s.ptr, s.len);
        r->scope_len = (uint16_t)(r->scope_len + s.len);
        r->scope[r->scope_len++] = 0;
        r->nscope++;
    }
    return 0;
}

static int joint_record(stats_ix_t *x, const stats_body_t *b, int kind)
{
    const proto_event_t *ev = x->ev;
    mpk_str_t jo = ev->origin;
    uint64_t jseq = ev->seq;
    if (kind != 'O' && !proto_event_ref_parse(b->joint.ptr, b->joint.len, &jo, &jseq))
        return 0;
    uint8_t k[STATS_KEY_MAX];
    size_t klen = id_key(k, E_JOINT, jo.ptr, jo.len, jseq);
    joint_rec_t r;
    bool found;
    int rc = stats_ent_get(x, k, klen, &r, sizeof r, &found);
    if (rc)
        return rc;
    if (kind == 'O')
        r.open_day = x->day;
    if (kind == 'C')
        stats_day_min(&r.close_day, x->day);
    if (b->due.ptr && b->due.len == 10 && stats_newer(&r.due_ord, &x->ord)) {
        int m;
        stats_date(b->due.ptr, &r.due_day, &m);
    }
    if (b->has_scope && stats_newer(&r.scope_ord, &x->ord))
        joint_scope(&r, b->scope);
    return stats_ent_put(x, k, klen, &r, offsetof(joint_rec_t, scope) + r.scope_len);
}

static void find_counts(const find_rec_t *r, int32_t *f, int32_t *d)
{
    *f = r->found ? 1 : 0;
    *d = r->found && r->status == 2 ? 1 : 0;
}

static int finding_event(stats_ix_t *x, const stats_body_t *b, int kind)
{
    const proto_event_t *ev = x->ev;
    mpk_str_t fo = ev->origin;
    uint64_t fseq = ev->seq;
    if (kind == 'X' && !proto_event_ref_parse(b->finding.ptr, b->finding.len, &fo, &fseq))
        return 0;
    uint8_t k[STATS_KEY_MAX];
    size_t klen = id_key(k, E_FIND, fo.ptr, fo.len, fseq);
    find_rec_t r;
    bool found;
    int rc = stats_ent_get(x, k, klen, &r, sizeof r, &found);
    if (rc)
        return rc;
    int32_t f0, d0, f1, d1;
    find_counts(&r, &f0, &d0);
    if (kind == 'F' && b->joint.len <= sizeof r.joint) {
        r.found = 1;
        memcpy(r.joint, b->joint.ptr, b->joint.len);
        r.jlen = (uint16_t)b->joint.len;
    } else if (kind == 'X' && stats_newer(&r.rect_ord, &x->ord)) {
        r.status = (uint8_t)stats_enum_index(b->status, rect_status, 2);
    }
    find_counts(&r, &f1, &d1);
    if ((rc = stats_ent_put(x, k, klen, &r, sizeof r)))
        return rc;
    if (f1 == f0 && d1 == d0)
        return 0;
    return jrep_add(x, r.joint, r.jlen, fo.ptr, fo.len, 0, f1 - f0, d1 - d0);
}

int stats_joint_event(stats_ix_t *x, const stats_body_t *b, int kind)
{
    const proto_event_t *ev = x->ev;
    switch (kind) {
    case 'P':
        stats_add(x, K_FLOW, x->mon, F_JOINT_REPORTS, 1);
        return jrep_add(x, b->joint.ptr, b->joint.len, ev->origin.ptr, ev->origin.len, x->day,
                        0, 0);
    case 'F':
        stats_add(x, K_FLOW, x->mon, F_JOINT_FINDINGS, 1);
        return finding_event(x, b, kind);
    case 'X':
        stats_add(x, K_FLOW, x->mon, F_JOINT_RECTIFICATIONS, 1);
        return finding_event(x, b, kind);
    default:
        return joint_record(x, b, kind);
    }
}

