/*
 * joint.c -- the joint inspection view's indexer: what each event does to
 * the view's databases (joint_int.h), inside the transaction that stores it;
 * and joint_attach(), which registers it and rebuilds a stale view.
 *
 * The indexer runs for every event joining any log at every level, so an
 * event of another kind costs two length checks and at most one memcmp.
 *
 * Every update is commutative: counters, minima and maxima, sets (keys put
 * once), and "latest wins" under (hlc, origin, seq). A reference that does
 * not resolve -- an inspection or a finding not (yet) held -- is recorded
 * under the id it names and resolved when (if ever) the other event comes;
 * the indexer never fails a transaction over bad references, only over
 * storage errors (which abort the write, as they must: MDB_MAP_FULL makes
 * the store grow the map and run the transaction again).
 */
#include "common/joint.h"
#include "common/joint_int.h"

#include <stdio.h>

#include "common/err.h"
#include "proto/schema.h"

/* ---- small write helpers ---- */

static int put(store_txn_t *t, MDB_dbi dbi, const void *k, size_t klen, const void *v,
               size_t vlen, unsigned flags)
{
    MDB_val key = {klen, (void *)k}, val = {vlen, (void *)v};
    int rc = mdb_put(store_txn_mdb(t), dbi, &key, &val, flags);
    if (rc == 0 || rc == MDB_KEYEXIST)
        return rc;
    return err_set(rc > 0 ? -rc : rc, "joint view: write: %s", mdb_strerror(rc));
}

static int head_load(store_txn_t *t, const joint_dbs_t *d, const uint8_t *j, size_t jlen,
                     joint_head_t *h)
{
    const uint8_t *v;
    size_t vlen;
    int rc = joint_get(t, d->head, j, jlen, &v, &vlen);
    if (rc < 0)
        return rc;
    joint_head_decode(rc == 0 ? v : NULL, rc == 0 ? vlen : 0, h);
    return 0;
}

static int head_store(store_txn_t *t, const joint_dbs_t *d, const uint8_t *j, size_t jlen,
                      const joint_head_t *h)
{
    uint8_t v[JOINT_HEAD_LEN];
    joint_head_encode(h, v);
    return put(t, d->head, j, jlen, v, sizeof v, 0);
}

/* Key of a joint.idx entry: j, tag, unit [, 0x00] */
static size_t idx_key(uint8_t *k, const uint8_t *j, size_t jlen, char tag, const char *unit,
                      size_t ulen, bool sep)
{
    memcpy(k, j, jlen);
    k[jlen] = (uint8_t)tag;
    memcpy(k + jlen + 1, unit, ulen);
    if (sep)
        k[jlen + 1 + ulen] = 0;
    return jlen + 1 + ulen + (sep ? 1 : 0);
}

#define IDX_KEY_MAX (JOINT_REFKEY_MAX + 1 + PROTO_ORIGIN_MAX + 1 + 64)

static int unit_load(store_txn_t *t, const joint_dbs_t *d, const uint8_t *j, size_t jlen,
                     mpk_str_t unit, joint_unit_t *u)
{
    uint8_t k[IDX_KEY_MAX];
    size_t klen = idx_key(k, j, jlen, JOINT_TAG_UNIT, unit.ptr, unit.len, false);
    const uint8_t *v;
    size_t vlen;
    int rc = joint_get(t, d->idx, k, klen, &v, &vlen);
    if (rc < 0)
        return rc;
    joint_unit_decode(rc == 0 ? v : NULL, rc == 0 ? vlen : 0, u);
    return 0;
}

static int unit_store(store_txn_t *t, const joint_dbs_t *d, const uint8_t *j, size_t jlen,
                      mpk_str_t unit, const joint_unit_t *u)
{
    uint8_t k[IDX_KEY_MAX], v[JOINT_UNIT_LEN];
    size_t klen = idx_key(k, j, jlen, JOINT_TAG_UNIT, unit.ptr, unit.len, false);
    joint_unit_encode(u, v);
    return put(t, d->idx, k, klen, v, sizeof v, 0);
}

/* Counts one more event of a unit: activity dates. */
static void unit_touch(joint_unit_t *u, mpk_str_t date)
{
    char d[JOINT_DATE_LEN + 1];
    snprintf(d, sizeof d, "%.*s", (int)date.len, date.ptr);
    u->events++;
    if (!u->first_date[0] || strcmp(d, u->first_date) < 0)
        memcpy(u->first_date, d, sizeof d);
    if (strcmp(d, u->last_date) > 0)
        memcpy(u->last_date, d, sizeof d);
}

static int sev_code(mpk_str_t s)
{
    for (int i = 0; i < JOINT_SEV_N; i++)
        if (mpk_str_eq(s, joint_severity_names[i]))
            return i;
    return JOINT_SEV_LOW;
}

/* The inspection an event names in its "joint" field, as a ref key. */
static bool joint_field(const proto_event_t *ev, uint8_t *j, size_t *jlen)
{
    mpk_str_t s = proto_body_str(ev, "joint");
    return s.ptr && joint_refkey_parse(s.ptr, s.len, j, jlen);
}

/* ---- control events: opened, updated, closed ---- */

static int index_control(store_txn_t *t, const joint_dbs_t *d, const proto_event_t *ev,
                         char code)
{
    uint8_t j[JOINT_REFKEY_MAX];
    size_t jlen;
    if (code == JOINT_CTL_OPENED)
        jlen = joint_refkey(j, ev->origin.ptr, ev->origin.len, ev->seq);
    else if (!joint_field(ev, j, &jlen))
        return 0;
    joint_head_t h;
    int rc = head_load(t, d, j, jlen, &h);
    if (rc)
        return rc;
    h.events++;
    /* Only the opener changes an inspection: its id starts with its origin. */
    bool own = jlen == ev->origin.len + 9 && memcmp(j, ev->origin.ptr, ev->origin.len) == 0;
    if (!own) {
        h.ignored++;
        return head_store(t, d, j, jlen, &h);
    }
    h.control++;
    if (code == JOINT_CTL_OPENED)
        h.flags |= JOINT_HEAD_OPENED;
    uint8_t k[JOINT_REFKEY_MAX + 9];
    memcpy(k, j, jlen);
    k[jlen] = JOINT_TAG_CTL;
    joint_be64_put(k + jlen + 1, ev->seq);
    uint8_t v = (uint8_t)code;
    if ((rc = put(t, d->idx, k, jlen + 9, &v, 1, 0)))
        return rc;
    return head_store(t, d, j, jlen, &h);
}

/* ---- findings ---- */

/* Adds the finding's deputies to its unit's set; counts the new ones. */
static int finding_deputies(store_txn_t *t, const joint_dbs_t *d, const proto_event_t *ev,
                            const uint8_t *j, size_t jlen, joint_unit_t *u)
{
    mpk_reader_t r;
    bool found;
    uint32_t n;
    if (proto_body_find(ev, "deputies", &r, &found) || !found || mpk_read_array(&r, 1000, &n))
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        mpk_str_t dep;
        if (mpk_read_str(&r, 64, &dep))
            return 0;
        uint8_t k[IDX_KEY_MAX];
        size_t klen = idx_key(k, j, jlen, JOINT_TAG_DEPUTY, ev->origin.ptr, ev->origin.len, true);
        memcpy(k + klen, dep.ptr, dep.len);
        int rc = put(t, d->idx, k, klen + dep.len, "", 0, MDB_NOOVERWRITE);
        if (rc == 0)
            u->deputies++;
        else if (rc != MDB_KEYEXIST)
            return rc;
    }
    return 0;
}

/* The finding's date-histogram and per-unit entries in joint.idx. */
static int finding_keys(store_txn_t *t, const joint_dbs_t *d, const proto_event_t *ev,
                        const uint8_t *j, size_t jlen)
{
    uint8_t k[IDX_KEY_MAX];
    size_t klen = idx_key(k, j, jlen, JOINT_TAG_DATE, ev->origin.ptr, ev->origin.len, true);
    memcpy(k + klen, ev->date.ptr, JOINT_DATE_LEN);
    klen += JOINT_DATE_LEN;
    const uint8_t *v;
    size_t vlen;
    int rc = joint_get(t, d->idx, k, klen, &v, &vlen);
    if (rc < 0)
        return rc;
    uint8_t cnt[4];
    joint_be32_put(cnt, (rc == 0 && vlen == 4 ? joint_be32_get(v) : 0) + 1);
    if ((rc = put(t, d->idx, k, klen, cnt, 4, 0)))
        return rc;
    klen = idx_key(k, j, jlen, JOINT_TAG_FINDING, ev->origin.ptr, ev->origin.len, true);
    joint_be64_put(k + klen, ev->seq);
    return put(t, d->idx, k, klen + 8, "", 0, 0);
}

static int find_load(store_txn_t *t, const joint_dbs_t *d, const uint8_t *fk, size_t fklen,
                     joint_find_t *f)
{
    const uint8_t *v;
    size_t vlen;
    int rc = joint_get(t, d->find, fk, fklen, &v, &vlen);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        memset(f, 0, sizeof *f);
        return 0;
    }
    return joint_find_decode(v, vlen, f);
}

static int find_store(store_txn_t *t, const joint_dbs_t *d, const uint8_t *fk, size_t fklen,
                      const joint_find_t *f)
{
    uint8_t v[JOINT_FIND_MAX];
    return put(t, d->find, fk, fklen, v, joint_find_encode(f, v), 0);
}

/* Adds delta to the rect_waiting count of inspection wj. */
static int waiting_add(store_txn_t *t, const joint_dbs_t *d, const uint8_t *wj, size_t wjlen,
                       int delta)
{
    joint_head_t h;
    int rc = head_load(t, d, wj, wjlen, &h);
    if (!rc) {
        h.rect_waiting += (uint32_t)delta;
        rc = head_store(t, d, wj, wjlen, &h);
    }
    return rc;
}

static void rect_count(joint_unit_t *u, uint8_t status, int delta)
{
    if (status == JOINT_RECT_DONE)
        u->rect_done += (uint32_t)delta;
    else
        u->rect_progress += (uint32_t)delta;
}

/* Loads the inspection's head and this unit's row for an event a unit filed
 * (finding, report, rectification), counting the event on both. */
static int unit_event_load(store_txn_t *t, const joint_dbs_t *d, const uint8_t *j, size_t jlen,
                           const proto_event_t *ev, joint_head_t *h, joint_unit_t *u)
{
    int rc = head_load(t, d, j, jlen, h);
    if (!rc)
        rc = unit_load(t, d, j, jlen, ev->origin, u);
    if (rc)
        return rc;
    h->events++;
    unit_touch(u, ev->date);
    return 0;
}

static int index_finding(store_txn_t *t, const joint_dbs_t *d, const proto_event_t *ev)
{
    uint8_t j[JOINT_REFKEY_MAX], fk[JOINT_REFKEY_MAX];
    size_t jlen;
    if (!joint_field(ev, j, &jlen))
        return 0;
    size_t fklen = joint_refkey(fk, ev->origin.ptr, ev->origin.len, ev->seq);
    joint_find_t f;
    int rc = find_load(t, d, fk, fklen, &f);
    /* A rectification that came first waited in this record: it is no
     * longer waiting. */
    if (!rc && (f.flags & JOINT_FIND_RECT) && f.wj_len)
        rc = waiting_add(t, d, f.wj, f.wj_len, -1);
    joint_head_t h;
    joint_unit_t u;
    if (!rc)
        rc = unit_event_load(t, d, j, jlen, ev, &h, &u);
    if (rc)
        return rc;
    int sev = sev_code(proto_body_str(ev, "severity"));
    h.findings++;
    u.findings[sev]++;
    if (f.flags & JOINT_FIND_RECT)
        rect_count(&u, f.rect_status, +1);
    f.flags |= JOINT_FIND_HELD;
    f.severity = (uint8_t)sev;
    snprintf(f.date, sizeof f.date, "%.*s", (int)ev->date.len, ev->date.ptr);
    memcpy(f.fj, j, jlen);
    f.fj_len = jlen;
    f.wj_len = 0;
    if ((rc = finding_deputies(t, d, ev, j, jlen, &u)) || (rc = finding_keys(t, d, ev, j, jlen)) ||
        (rc = find_store(t, d, fk, fklen, &f)) || (rc = unit_store(t, d, j, jlen, ev->origin, &u)))
        return rc;
    return head_store(t, d, j, jlen, &h);
}

/* ---- rectifications ---- */

/* (hlc, origin, seq) of ev is later than the rectification f holds. */
static bool rect_newer(const joint_find_t *f, const proto_event_t *ev)
{
    if (!(f->flags & JOINT_FIND_RECT))
        return true;
    if (ev->hlc != f->rect_hlc)
        return ev->hlc > f->rect_hlc;
    size_t olen = strlen(f->rect_origin);
    size_t n = olen < ev->origin.len ? olen : ev->origin.len;
    int c = memcmp(ev->origin.ptr, f->rect_origin, n);
    if (c || olen != ev->origin.len)
        return c ? c > 0 : ev->origin.len > olen;
    return ev->seq > f->rect_seq;
}

/* The latest rectification of a held finding changes: move its unit's count. */
static int rect_apply_held(store_txn_t *t, const joint_dbs_t *d, const joint_find_t *f,
                           const uint8_t *fk, size_t fklen, uint8_t status)
{
    mpk_str_t unit = {(const char *)fk, (uint32_t)(fklen - 9)};
    joint_unit_t u;
    int rc = unit_load(t, d, f->fj, f->fj_len, unit, &u);
    if (rc)
        return rc;
    if (f->flags & JOINT_FIND_RECT)
        rect_count(&u, f->rect_status, -1);
    rect_count(&u, status, +1);
    return unit_store(t, d, f->fj, f->fj_len, unit, &u);
}

static int index_rect(store_txn_t *t, const joint_dbs_t *d, const proto_event_t *ev)
{
    uint8_t j[JOINT_REFKEY_MAX], fk[JOINT_REFKEY_MAX];
    size_t jlen, fklen;
    mpk_str_t fs = proto_body_str(ev, "finding");
    if (!joint_field(ev, j, &jlen) || !fs.ptr || !joint_refkey_parse(fs.ptr, fs.len, fk, &fklen))
        return 0;
    joint_head_t h;
    joint_unit_t u;
    int rc = unit_event_load(t, d, j, jlen, ev, &h, &u);
    if (rc)
        return rc;
    h.rects++;
    if ((rc = head_store(t, d, j, jlen, &h)) || (rc = unit_store(t, d, j, jlen, ev->origin, &u)))
        return rc;

    joint_find_t f;
    if ((rc = find_load(t, d, fk, fklen, &f)))
        return rc;
    f.rect_count++;
    if (rect_newer(&f, ev)) {
        uint8_t status = mpk_str_eq(proto_body_str(ev, "status"), "done") ? JOINT_RECT_DONE
                                                                          : JOINT_RECT_IN_PROGRESS;
        if (f.flags & JOINT_FIND_HELD) {
            rc = rect_apply_held(t, d, &f, fk, fklen, status);
        } else {
            /* The finding is not here yet: the rectification waits in its
             * record, counted under the inspection it names. */
            if (f.wj_len)
                rc = waiting_add(t, d, f.wj, f.wj_len, -1);
            if (!rc)
                rc = waiting_add(t, d, j, jlen, +1);
            memcpy(f.wj, j, jlen);
            f.wj_len = jlen;
        }
        if (rc)
            return rc;
        f.flags |= JOINT_FIND_RECT;
        f.rect_status = status;
        f.rect_hlc = ev->hlc;
        f.rect_seq = ev->seq;
        snprintf(f.rect_origin, sizeof f.rect_origin, "%.*s", (int)ev->origin.len,
                 ev->origin.ptr);
    }
    return find_store(t, d, fk, fklen, &f);
}

/* ---- reports ---- */

static int index_report(store_txn_t *t, const joint_dbs_t *d, const proto_event_t *ev)
{
    uint8_t j[JOINT_REFKEY_MAX];
    size_t jlen;
    if (!joint_field(ev, j, &jlen))
        return 0;
    joint_head_t h;
    joint_unit_t u;
    int rc = unit_event_load(t, d, j, jlen, ev, &h, &u);
    if (rc)
        return rc;
    h.reports++;
    u.reports++;
    char date[JOINT_DATE_LEN + 1];
    snprintf(date, sizeof date, "%.*s", (int)ev->date.len, ev->date.ptr);
    if (!u.first_report[0] || strcmp(date, u.first_report) < 0)
        memcpy(u.first_report, date, sizeof date);
    if (ev->seq > u.report_seq) {
        /* one origin: its later report has the higher seq (and hlc) */
        u.report_seq = ev->seq;
        u.participants = -1;
        mpk_reader_t r;
        bool found;
        int64_t n;
        if (!proto_body_find(ev, "participants", &r, &found) && found && !mpk_read_int(&r, &n) &&
            n >= 0 && n <= INT32_MAX)
            u.participants = (int32_t)n;
    }
    if ((rc = unit_store(t, d, j, jlen, ev->origin, &u)))
        return rc;
    return head_store(t, d, j, jlen, &h);
}

/* ---- the unit registry ---- */

static int index_unit(store_txn_t *t, const proto_event_t *ev)
{
    mpk_str_t id = proto_body_str(ev, "id"), name = proto_body_str(ev, "name");
    mpk_str_t type = proto_body_str(ev, "type");
    /* a unit describes itself or a unit below it, nothing else */
    if (!id.ptr || !name.ptr || name.len > JOINT_NAME_MAX ||
        !proto_origin_within(id.ptr, id.len, ev->origin.ptr, ev->origin.len))
        return 0;
    joint_dbs_t d;
    int rc = joint_dbs_open(t, &d);
    if (rc)
        return rc;
    const uint8_t *v;
    size_t vlen;
    if ((rc = joint_get(t, d.units, id.ptr, id.len, &v, &vlen)) < 0)
        return rc;
    joint_reg_t old;
    if (rc == 0 && joint_reg_decode(v, vlen, &old) == 0) {
        int c = old.hlc != ev->hlc ? (ev->hlc > old.hlc ? 1 : -1) : 0;
        if (!c) {
            char o[PROTO_ORIGIN_MAX + 1];
            snprintf(o, sizeof o, "%.*s", (int)ev->origin.len, ev->origin.ptr);
            c = strcmp(o, old.author);
        }
        if (c < 0 || (c == 0 && ev->seq <= old.seq))
            return 0; /* what is held is later */
    }
    uint8_t rec[18 + PROTO_ORIGIN_MAX + JOINT_NAME_MAX];
    joint_be64_put(rec, ev->hlc);
    joint_be64_put(rec + 8, ev->seq);
    rec[16] = JOINT_TYPE_TOWNSHIP;
    for (int i = 0; i < JOINT_TYPE_N; i++)
        if (mpk_str_eq(type, joint_type_names[i]))
            rec[16] = (uint8_t)i;
    rec[17] = (uint8_t)ev->origin.len;
    memcpy(rec + 18, ev->origin.ptr, ev->origin.len);
    memcpy(rec + 18 + ev->origin.len, name.ptr, name.len);
    return put(t, d.units, id.ptr, id.len, rec, 18 + ev->origin.len + name.len, 0);
}

/* ---- the indexer ---- */

static int index_joint(store_txn_t *t, const proto_event_t *ev)
{
    const char *k = ev->kind.ptr + 6;
    size_t n = ev->kind.len - 6;
    joint_dbs_t d;
    int rc = joint_dbs_open(t, &d);
    if (rc)
        return rc;
#define IS(s) (n == sizeof s - 1 && memcmp(k, s, n) == 0)
    if (IS("opened"))
        return index_control(t, &d, ev, JOINT_CTL_OPENED);
    if (IS("updated"))
        return index_control(t, &d, ev, JOINT_CTL_UPDATED);
    if (IS("closed"))
        return index_control(t, &d, ev, JOINT_CTL_CLOSED);
    if (IS("finding"))
        return index_finding(t, &d, ev);
    if (IS("report"))
        return index_report(t, &d, ev);
    if (IS("rectification"))
        return index_rect(t, &d, ev);
#undef IS
    return 0;
}

static int joint_index(store_txn_t *t, const proto_event_t *ev, void *arg)
{
    (void)arg;
    /* The hot path: every event at every level passes here. A kind the
     * schema does not know (from a newer node) is kept by the store but
     * has no meaning for this view. */
    if (ev->kind.len > 6 && memcmp(ev->kind.ptr, "joint.", 6) == 0)
        return ev->schema ? index_joint(t, ev) : 0;
    if (ev->kind.len == 15 && memcmp(ev->kind.ptr, "unit.registered", 15) == 0)
        return ev->schema ? index_unit(t, ev) : 0;
    return 0;
}

/* ---- attach and rebuild ---- */

static int rebuild_one(const char *origin, uint64_t seq, const uint8_t *raw, size_t len,
                       void *arg)
{
    proto_event_t ev;
    if (proto_event_decode(raw, len, 0, &ev))
        return err_set(LD_ECORRUPT, "joint view: stored event %s#%llu does not decode", origin,
                       (unsigned long long)seq);
    return joint_index(arg, &ev, NULL);
}

static bool version_current(store_txn_t *t)
{
    const void *v;
    size_t len;
    return store_meta_get(t, "joint.version", &v, &len) == 0 &&
           len == sizeof JOINT_VERSION - 1 && memcmp(v, JOINT_VERSION, len) == 0;
}

static int rebuild(store_txn_t *t, void *arg)
{
    (void)arg;
    if (version_current(t))
        return 0; /* another process rebuilt it meanwhile */
    joint_dbs_t d;
    int rc = joint_dbs_open(t, &d);
    MDB_dbi all[] = {d.units, d.head, d.idx, d.find};
    for (size_t i = 0; !rc && i < sizeof all / sizeof *all; i++)
        if ((rc = mdb_drop(store_txn_mdb(t), all[i], 0)))
            rc = err_set(rc > 0 ? -rc : rc, "joint view: clear: %s", mdb_strerror(rc));
    if (!rc)
        rc = store_events_foreach(t, "", 0, rebuild_one, t);
    if (!rc)
        rc = store_meta_put(t, "joint.version", JOINT_VERSION, sizeof JOINT_VERSION - 1);
    return rc;
}

int joint_attach(store_t *s)
{
    int rc = store_add_indexer(s, joint_index, NULL);
    if (rc)
        return rc;
    store_txn_t *t;
    if ((rc = store_read_begin(s, &t)))
        return rc;
    bool current = version_current(t);
    joint_dbs_t d;
    if (current)
        rc = joint_dbs_open(t, &d); /* make the handles known to the environment */
    store_read_end(&t);
    /* A read-only store is queried as it is; its queries report a missing
     * or stale view (views_version_check). */
    if (rc || current || store_rdonly(s))
        return rc;
    return store_write(s, rebuild, NULL);
}
