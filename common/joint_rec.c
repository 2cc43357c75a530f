/*
 * joint_rec.c -- the joint view's record formats and keys (joint_int.h):
 * encoding and decoding each record, ref keys, opening the databases.
 */
#include "common/joint_int.h"

#include <stdio.h>

#include "common/err.h"

const char *const joint_severity_names[JOINT_SEV_N] = {"low", "medium", "high"};
const char *const joint_type_names[JOINT_TYPE_N] = {"township", "street", "district", "county",
                                                    "city"};

int joint_dbs_open(store_txn_t *t, joint_dbs_t *d)
{
    int rc = store_dbi(t, "joint.units", 0, &d->units);
    if (!rc)
        rc = store_dbi(t, "joint.head", 0, &d->head);
    if (!rc)
        rc = store_dbi(t, "joint.idx", 0, &d->idx);
    if (!rc)
        rc = store_dbi(t, "joint.find", 0, &d->find);
    return rc;
}

int joint_get(store_txn_t *t, MDB_dbi dbi, const void *k, size_t klen, const uint8_t **v,
              size_t *vlen)
{
    MDB_val key = {klen, (void *)k}, val;
    int rc = mdb_get(store_txn_mdb(t), dbi, &key, &val);
    if (rc == MDB_NOTFOUND)
        return 1;
    if (rc)
        return err_set(rc > 0 ? -rc : rc, "joint view: read: %s", mdb_strerror(rc));
    *v = val.mv_data;
    *vlen = val.mv_size;
    return 0;
}

size_t joint_refkey(uint8_t *k, const char *origin, size_t olen, uint64_t seq)
{
    memcpy(k, origin, olen);
    k[olen] = 0;
    joint_be64_put(k + olen + 1, seq);
    return olen + 9;
}

bool joint_refkey_parse(const char *s, size_t len, uint8_t *k, size_t *klen)
{
    mpk_str_t o;
    uint64_t seq;
    if (!s || !proto_event_ref_parse(s, len, &o, &seq))
        return false;
    *klen = joint_refkey(k, o.ptr, o.len, seq);
    return true;
}

void joint_refkey_text(const uint8_t *k, size_t klen, char *out, size_t n)
{
    size_t olen = klen >= 9 ? klen - 9 : 0;
    snprintf(out, n, "%.*s#%llu", (int)olen, (const char *)k,
             (unsigned long long)(klen >= 9 ? joint_be64_get(k + olen + 1) : 0));
}

/* ---- dates: 10 bytes, all zero for none ---- */

static void date_put(uint8_t *p, const char *d)
{
    if (d[0])
        memcpy(p, d, JOINT_DATE_LEN);
    else
        memset(p, 0, JOINT_DATE_LEN);
}

static void date_get(const uint8_t *p, char *d)
{
    if (p[0])
        memcpy(d, p, JOINT_DATE_LEN);
    d[p[0] ? JOINT_DATE_LEN : 0] = '\0';
}

/* ---- joint.head ---- */

void joint_head_decode(const uint8_t *v, size_t len, joint_head_t *h)
{
    memset(h, 0, sizeof *h);
    if (len < JOINT_HEAD_LEN)
        return;
    h->flags = v[0];
    uint32_t *f[] = {&h->events, &h->findings, &h->reports, &h->rects, &h->control,
                     &h->ignored, &h->rect_waiting};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        *f[i] = joint_be32_get(v + 1 + 4 * i);
}

void joint_head_encode(const joint_head_t *h, uint8_t out[JOINT_HEAD_LEN])
{
    out[0] = h->flags;
    const uint32_t f[] = {h->events, h->findings, h->reports, h->rects, h->control,
                          h->ignored, h->rect_waiting};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        joint_be32_put(out + 1 + 4 * i, f[i]);
}

/* ---- joint.idx 'u' ---- */

void joint_unit_decode(const uint8_t *v, size_t len, joint_unit_t *u)
{
    memset(u, 0, sizeof *u);
    u->participants = -1;
    if (len < JOINT_UNIT_LEN)
        return;
    u->events = joint_be32_get(v);
    for (int i = 0; i < JOINT_SEV_N; i++)
        u->findings[i] = joint_be32_get(v + 4 + 4 * i);
    u->rect_done = joint_be32_get(v + 16);
    u->rect_progress = joint_be32_get(v + 20);
    u->reports = joint_be32_get(v + 24);
    date_get(v + 28, u->first_report);
    u->report_seq = joint_be64_get(v + 38);
    u->participants = (int32_t)joint_be32_get(v + 46);
    u->deputies = joint_be32_get(v + 50);
    date_get(v + 54, u->first_date);
    date_get(v + 64, u->last_date);
}

void joint_unit_encode(const joint_unit_t *u, uint8_t out[JOINT_UNIT_LEN])
{
    joint_be32_put(out, u->events);
    for (int i = 0; i < JOINT_SEV_N; i++)
        joint_be32_put(out + 4 + 4 * i, u->findings[i]);
    joint_be32_put(out + 16, u->rect_done);
    joint_be32_put(out + 20, u->rect_progress);
    joint_be32_put(out + 24, u->reports);
    date_put(out + 28, u->first_report);
    joint_be64_put(out + 38, u->report_seq);
    joint_be32_put(out + 46, (uint32_t)u->participants);
    joint_be32_put(out + 50, u->deputies);
    date_put(out + 54, u->first_date);
    date_put(out + 64, u->last_date);
}

/* ---- joint.find ----
 * flags(1) severity(1) date(10) rect_count(4) rect_hlc(8) rect_seq(8)
 * rect_status(1) rect_origin_len(1) rect_origin fj_len(1) fj wj_len(1) wj */

size_t joint_find_encode(const joint_find_t *f, uint8_t *out)
{
    uint8_t *p = out;
    *p++ = f->flags;
    *p++ = f->severity;
    date_put(p, f->date);
    p += JOINT_DATE_LEN;
    joint_be32_put(p, f->rect_count);
    joint_be64_put(p + 4, f->rect_hlc);
    joint_be64_put(p + 12, f->rect_seq);
    p += 20;
    *p++ = f->rect_status;
    size_t olen = strlen(f->rect_origin);
    *p++ = (uint8_t)olen;
    memcpy(p, f->rect_origin, olen);
    p += olen;
    *p++ = (uint8_t)f->fj_len;
    memcpy(p, f->fj, f->fj_len);
    p += f->fj_len;
    *p++ = (uint8_t)f->wj_len;
    memcpy(p, f->wj, f->wj_len);
    p += f->wj_len;
    return (size_t)(p - out);
}

int joint_find_decode(const uint8_t *v, size_t len, joint_find_t *f)
{
    memset(f, 0, sizeof *f);
    const uint8_t *p = v, *end = v + len;
    if (len < 34)
        goto bad;
    f->flags = p[0];
    f->severity = p[1] < JOINT_SEV_N ? p[1] : 0;
    date_get(p + 2, f->date);
    f->rect_count = joint_be32_get(p + 12);
    f->rect_hlc = joint_be64_get(p + 16);
    f->rect_seq = joint_be64_get(p + 24);
    f->rect_status = p[32];
    size_t olen = p[33];
    p += 34;
    if (olen > PROTO_ORIGIN_MAX || (size_t)(end - p) < olen + 1)
        goto bad;
    memcpy(f->rect_origin, p, olen);
    f->rect_origin[olen] = '\0';
    p += olen;
    f->fj_len = *p++;
    if (f->fj_len > JOINT_REFKEY_MAX || (size_t)(end - p) < f->fj_len + 1)
        goto bad;
    memcpy(f->fj, p, f->fj_len);
    p += f->fj_len;
    f->wj_len = *p++;
    if (f->wj_len > JOINT_REFKEY_MAX || (size_t)(end - p) < f->wj_len)
        goto bad;
    memcpy(f->wj, p, f->wj_len);
    return 0;
bad:
    return err_set(LD_ECORRUPT, "joint view: a finding record is malformed");
}

/* ---- joint.units ---- */

int joint_reg_decode(const uint8_t *v, size_t len, joint_reg_t *r)
{
    memset(r, 0, sizeof *r);
    if (len < 18 || len < 18u + v[17] || v[17] > PROTO_ORIGIN_MAX ||
        len - 18 - v[17] > JOINT_NAME_MAX)
        return err_set(LD_ECORRUPT, "joint view: a unit record is malformed");
    r->hlc = joint_be64_get(v);
    r->seq = joint_be64_get(v + 8);
    r->type = v[16] < JOINT_TYPE_N ? v[16] : JOINT_TYPE_TOWNSHIP;
    size_t alen = v[17];
    memcpy(r->author, v + 18, alen);
    r->author[alen] = '\0';
    size_t nlen = len - 18 - alen;
    memcpy(r->name, v + 18 + alen, nlen);
    r->name[nlen] = '\0';
    return 0;
}
