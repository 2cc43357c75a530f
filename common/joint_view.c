/*
 * joint_view.c -- the joint inspection view's queries: joint_info,
 * joint_show, joint_list, joint_finding_info (joint.h).
 *
 * A query reads the aggregates the indexer keeps (joint_int.h); it does not
 * scan history. For one inspection: its few control events (opened,
 * updated, closed) are decoded to know its title, scope, due and close
 * dates; the unit registry is scanned for the units in scope within this
 * store's subtree; each unit's aggregate is one lookup. Only --findings
 * touches individual findings. Status, lateness and completion are derived
 * here from those figures, the due date and `today`, never stored.
 */
#include "common/joint.h"
#include "common/joint_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "common/views.h"
#include "proto/json.h"

/* ---- origins ---- */

static bool within(const char *o, const char *prefix)
{
    return proto_origin_within(o, strlen(o), prefix, strlen(prefix));
}

/* The deeper of a and b if one lies within the other; NULL otherwise. */
static const char *meet(const char *a, const char *b)
{
    if (!a || !b)
        return NULL;
    return within(a, b) ? a : within(b, a) ? b : NULL;
}

static bool scope_covers(const json_t *scope, const char *opener, const char *o)
{
    if (strcmp(o, opener) == 0 || !within(o, opener))
        return false;
    size_t i;
    json_t *p;
    json_array_foreach(scope, i, p)
        if (json_is_string(p) && within(o, json_string_value(p)))
            return true;
    return false;
}

/* ---- the inspection itself: head and control events ---- */

typedef struct insp {
    uint8_t j[JOINT_REFKEY_MAX];
    size_t jlen;
    char opener[PROTO_ORIGIN_MAX + 1];
    joint_head_t head;
    json_t *info;        /* joint_info's object */
    json_t *scopes;      /* every scope it has had, oldest first */
    const char *due;     /* views into info */
    const char *closed;  /* first close date; NULL while open */
    const json_t *scope; /* current */
} insp_t;

static void insp_free(insp_t *in)
{
    json_decref(in->info);
    json_decref(in->scopes);
}

/* Applies one control event (its body) to the inspection. */
static void control_apply(insp_t *in, char code, const char *id, const proto_event_t *ev,
                          json_t *body)
{
    json_t *info = in->info, *hist = json_object_get(info, "history");
    static const char *const kinds[] = {"opened", "updated", "closed"};
    const char *kind = kinds[code == JOINT_CTL_OPENED ? 0 : code == JOINT_CTL_UPDATED ? 1 : 2];
    json_t *h = json_pack("{s:s, s:s, s:s#}", "id", id, "kind", kind, "date", ev->date.ptr,
                          (int)ev->date.len);
    json_object_update(h, body);
    json_array_append_new(hist, h);
    if (code == JOINT_CTL_CLOSED) {
        json_t *c = json_object_get(info, "closed");
        if (!c) {
            c = json_pack("{s:s, s:s#}", "id", id, "date", ev->date.ptr, (int)ev->date.len);
            json_object_set_new(info, "closed", c);
            json_object_set_new(info, "state", json_string("closed"));
        }
        if (json_object_get(body, "summary"))
            json_object_set(c, "summary", json_object_get(body, "summary"));
        return;
    }
    static const char *const fields[] = {"title", "type", "scope", "from", "due",
                                         "description", "deputies"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        json_t *v = json_object_get(body, fields[i]);
        if (v && (code == JOINT_CTL_OPENED || i == 0 || i == 2 || i == 4 || i == 5))
            json_object_set(info, fields[i], v);
    }
    if (code == JOINT_CTL_OPENED)
        json_object_set_new(info, "opened_on", json_stringn(ev->date.ptr, ev->date.len));
    if (json_object_get(body, "scope"))
        json_array_append(in->scopes, json_object_get(body, "scope"));
}

static int control_fold(store_txn_t *t, const joint_dbs_t *d, insp_t *in)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(store_txn_mdb(t), d->idx, &c);
    if (rc)
        return err_set(rc > 0 ? -rc : rc, "joint view: %s", mdb_strerror(rc));
    uint8_t k[JOINT_REFKEY_MAX + 1];
    memcpy(k, in->j, in->jlen);
    k[in->jlen] = JOINT_TAG_CTL;
    MDB_val key = {in->jlen + 1, k}, val;
    for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
        if (key.mv_size != in->jlen + 9 || memcmp(key.mv_data, k, in->jlen + 1) != 0)
            break;
        uint64_t seq = joint_be64_get((uint8_t *)key.mv_data + in->jlen + 1);
        char code = val.mv_size ? ((char *)val.mv_data)[0] : 0;
        const uint8_t *raw;
        size_t len;
        proto_event_t ev;
        if (store_event_get(t, in->opener, seq, &raw, &len) || proto_event_decode(raw, len, 0, &ev))
            continue; /* cannot happen: the indexer saw it stored */
        char id[JOINT_REFKEY_MAX + 24];
        snprintf(id, sizeof id, "%s#%llu", in->opener, (unsigned long long)seq);
        json_t *body = proto_body_to_json(&ev);
        control_apply(in, code, id, &ev, body);
        json_decref(body);
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return err_set(rc > 0 ? -rc : rc, "joint view: %s", mdb_strerror(rc));
    return 0;
}

static void unit_names(store_txn_t *t, const joint_dbs_t *d, const char *o, json_t *obj,
                       const char *name_key, const char *type_key)
{
    const uint8_t *v;
    size_t vlen;
    joint_reg_t r;
    if (joint_get(t, d->units, o, strlen(o), &v, &vlen) == 0 && joint_reg_decode(v, vlen, &r) == 0) {
        json_object_set_new(obj, name_key, json_string(r.name));
        if (type_key)
            json_object_set_new(obj, type_key, json_string(joint_type_names[r.type]));
    } else {
        json_object_set_new(obj, name_key, json_null());
        if (type_key)
            json_object_set_new(obj, type_key, json_null());
    }
}

/* Loads the inspection j: its head and, if its joint.opened is held, what
 * its control events make it. LD_ENOTFOUND if nothing names it here. */
static int insp_load(store_txn_t *t, const joint_dbs_t *d, const uint8_t *j, size_t jlen,
                     insp_t *in)
{
    memset(in, 0, sizeof *in);
    memcpy(in->j, j, jlen);
    in->jlen = jlen;
    snprintf(in->opener, sizeof in->opener, "%.*s", (int)(jlen - 9), (const char *)j);
    char id[JOINT_REFKEY_MAX + 24];
    joint_refkey_text(j, jlen, id, sizeof id);
    const uint8_t *v;
    size_t vlen;
    int rc = joint_get(t, d->head, j, jlen, &v, &vlen);
    if (rc)
        return rc < 0 ? rc : err_set(LD_ENOTFOUND, "no inspection %s is held here", id);
    joint_head_decode(v, vlen, &in->head);
    bool known = in->head.flags & JOINT_HEAD_OPENED;
    in->info = json_pack("{s:s, s:b, s:I}", "id", id, "known", known, "events",
                         (json_int_t)in->head.events);
    in->scopes = json_array();
    if (!known)
        return 0;
    json_object_set_new(in->info, "opener", json_string(in->opener));
    unit_names(t, d, in->opener, in->info, "opener_name", NULL);
    json_object_set_new(in->info, "state", json_string("open"));
    json_object_set_new(in->info, "history", json_array());
    if ((rc = control_fold(t, d, in)))
        return rc;
    if (in->head.ignored)
        json_object_set_new(in->info, "ignored", json_integer(in->head.ignored));
    in->due = json_string_value(json_object_get(in->info, "due"));
    in->scope = json_object_get(in->info, "scope");
    json_t *c = json_object_get(in->info, "closed");
    in->closed = c ? json_string_value(json_object_get(c, "date")) : NULL;
    if (!in->due || !json_is_array(in->scope))
        return err_set(LD_ECORRUPT, "joint view: inspection %s has no due date or scope", id);
    return 0;
}

static int insp_load_text(store_txn_t *t, const joint_dbs_t *d, const char *id, insp_t *in)
{
    uint8_t j[JOINT_REFKEY_MAX];
    size_t jlen;
    if (!joint_refkey_parse(id, strlen(id), j, &jlen))
        return err_set(LD_EINVAL, "'%s' is not an inspection id (ORIGIN#SEQ, e.g. hrb#12)", id);
    return insp_load(t, d, j, jlen, in);
}

static int dbs_read(store_txn_t *t, joint_dbs_t *d)
{
    int rc = views_version_check(t, "joint.version", JOINT_VERSION,
                                 "joint inspection view");
    if (rc)
        return rc;
    rc = joint_dbs_open(t, d);
    if (rc == LD_ENOTFOUND)
        return err_set(LD_ENOTFOUND, "this store has no joint inspection view yet");
    return rc;
}

int joint_info(store_txn_t *t, const char *id, json_t **out)
{
    *out = NULL;
    joint_dbs_t d;
    insp_t in = {0};
    int rc = dbs_read(t, &d);
    if (rc)
        return rc;
    if (!(rc = insp_load_text(t, &d, id, &in))) {
        *out = in.info;
        in.info = NULL;
    }
    insp_free(&in);
    return rc;
}

bool joint_info_covers(const json_t *info, const char *origin)
{
    const char *opener = json_string_value(json_object_get(info, "opener"));
    return opener && scope_covers(json_object_get(info, "scope"), opener, origin);
}

/* ---- the units of one inspection ---- */

enum { ROW_IN, ROW_REMOVED, ROW_OUT, ROW_OPENER };
static const char *const row_class[] = {"in_scope", "removed_from_scope", "out_of_scope", "opener"};

typedef struct row {
    char unit[PROTO_ORIGIN_MAX + 1];
    int cls;
    bool active;          /* it has an aggregate */
    joint_unit_t agg;
    uint32_t late;        /* findings dated after the close date */
    const char *status;
} row_t;

typedef struct rows {
    row_t *v;
    size_t n, cap;
} rows_t;

static row_t *rows_add(rows_t *r, const char *unit, size_t ulen, int cls)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        row_t *p = realloc(r->v, cap * sizeof *p);
        if (!p)
            return NULL;
        r->v = p;
        r->cap = cap;
    }
    row_t *w = &r->v[r->n++];
    memset(w, 0, sizeof *w);
    snprintf(w->unit, sizeof w->unit, "%.*s", (int)ulen, unit);
    w->cls = cls;
    w->agg.participants = -1;
    return w;
}

static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const row_t *)a)->unit, ((const row_t *)b)->unit);
}

static int lmdb_err(int rc)
{
    return err_set(rc > 0 ? -rc : rc, "joint view: %s", mdb_strerror(rc));
}

/* Registered units under `prefix` (not the opener, in scope): expected to take part. */
static int rows_expected(store_txn_t *t, const joint_dbs_t *d, const insp_t *in,
                         const char *prefix, rows_t *r)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(store_txn_mdb(t), d->units, &c);
    if (rc)
        return lmdb_err(rc);
    size_t plen = strlen(prefix);
    MDB_val k = {plen, (void *)prefix}, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        char o[PROTO_ORIGIN_MAX + 1];
        snprintf(o, sizeof o, "%.*s", (int)k.mv_size, (const char *)k.mv_data);
        if (within(o, prefix) && scope_covers(in->scope, in->opener, o) &&
            !rows_add(r, o, strlen(o), ROW_IN)) {
            mdb_cursor_close(c);
            return err_set(LD_ENOMEM, "out of memory");
        }
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : lmdb_err(rc);
}

static int late_count(store_txn_t *t, const joint_dbs_t *d, const insp_t *in, row_t *w)
{
    uint8_t k[JOINT_REFKEY_MAX + 2 + PROTO_ORIGIN_MAX + JOINT_DATE_LEN];
    size_t ulen = strlen(w->unit), plen = in->jlen + 2 + ulen;
    memcpy(k, in->j, in->jlen);
    k[in->jlen] = JOINT_TAG_DATE;
    memcpy(k + in->jlen + 1, w->unit, ulen);
    k[plen - 1] = 0;
    memcpy(k + plen, in->closed, JOINT_DATE_LEN);
    MDB_cursor *c;
    int rc = mdb_cursor_open(store_txn_mdb(t), d->idx, &c);
    if (rc)
        return lmdb_err(rc);
    MDB_val key = {plen + JOINT_DATE_LEN, k}, val;
    for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
        if (key.mv_size != plen + JOINT_DATE_LEN || memcmp(key.mv_data, k, plen) != 0)
            break;
        if (memcmp((uint8_t *)key.mv_data + plen, in->closed, JOINT_DATE_LEN) > 0 &&
            val.mv_size == 4)
            w->late += joint_be32_get(val.mv_data);
    }
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : lmdb_err(rc);
}

static const char *row_status(const insp_t *in, const row_t *w, const char *today)
{
    if (w->cls == ROW_OUT)
        return "out_of_scope";
    if (w->cls == ROW_REMOVED)
        return "removed_from_scope";
    if (w->agg.reports)
        return strcmp(w->agg.first_report, in->due) <= 0 ? "reported" : "reported_late";
    if (w->cls == ROW_IN && strcmp(today, in->due) > 0)
        return "overdue";
    return w->agg.events ? "in_progress" : "not_started";
}

/* Units that took part but are not expected: classified. */
static int active_class(const insp_t *in, const char *o)
{
    if (scope_covers(in->scope, in->opener, o))
        return ROW_IN; /* in scope, but its registration is not held here */
    if (strcmp(o, in->opener) == 0)
        return ROW_OPENER;
    size_t i;
    json_t *s;
    json_array_foreach(in->scopes, i, s)
        if (scope_covers(s, in->opener, o))
            return ROW_REMOVED;
    return ROW_OUT;
}

/* Merges the units with an aggregate into the sorted expected rows. */
static int rows_active(store_txn_t *t, const joint_dbs_t *d, const insp_t *in, const char *root,
                       rows_t *r)
{
    size_t nexp = r->n, e = 0;
    MDB_cursor *c;
    int rc = mdb_cursor_open(store_txn_mdb(t), d->idx, &c);
    if (rc)
        return lmdb_err(rc);
    uint8_t k[JOINT_REFKEY_MAX + 1];
    memcpy(k, in->j, in->jlen);
    k[in->jlen] = JOINT_TAG_UNIT;
    size_t plen = in->jlen + 1;
    MDB_val key = {plen, k}, val;
    for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
        if (key.mv_size <= plen || memcmp(key.mv_data, k, plen) != 0)
            break;
        char o[PROTO_ORIGIN_MAX + 1];
        snprintf(o, sizeof o, "%.*s", (int)(key.mv_size - plen), (char *)key.mv_data + plen);
        if (!within(o, root))
            continue;
        while (e < nexp && strcmp(r->v[e].unit, o) < 0)
            e++;
        row_t *w = e < nexp && strcmp(r->v[e].unit, o) == 0 ? &r->v[e]
                                                             : rows_add(r, o, strlen(o), active_class(in, o));
        if (!w) {
            mdb_cursor_close(c);
            return err_set(LD_ENOMEM, "out of memory");
        }
        w->active = true;
        joint_unit_decode(val.mv_data, val.mv_size, &w->agg);
    }
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : lmdb_err(rc);
}

/* Every unit the view shows for inspection `in` within subtree `root`. */
static int rows_build(store_txn_t *t, const joint_dbs_t *d, const insp_t *in, const char *root,
                      const char *today, rows_t *r)
{
    int rc = 0;
    size_t i;
    json_t *p;
    json_array_foreach(in->scope, i, p) {
        const char *m = meet(meet(json_string_value(p), in->opener), root);
        if (m && (rc = rows_expected(t, d, in, m, r)))
            return rc;
    }
    if (r->n) /* qsort's base must not be NULL, even for no rows */
        qsort(r->v, r->n, sizeof *r->v, row_cmp);
    size_t n = 0; /* overlapping scope prefixes: drop repeats */
    for (size_t k = 0; k < r->n; k++)
        if (n == 0 || strcmp(r->v[n - 1].unit, r->v[k].unit) != 0)
            r->v[n++] = r->v[k];
    r->n = n;
    if ((rc = rows_active(t, d, in, root, r)))
        return rc;
    if (r->n)
        qsort(r->v, r->n, sizeof *r->v, row_cmp);
    for (size_t k = 0; k < r->n; k++) {
        row_t *w = &r->v[k];
        if (in->closed && w->agg.findings[0] + w->agg.findings[1] + w->agg.findings[2] &&
            (rc = late_count(t, d, in, w)))
            return rc;
        w->status = row_status(in, w, today);
    }
    return 0;
}

/* ---- totals ---- */

typedef struct totals {
    uint32_t units, not_started, in_progress, reported, reported_late, overdue;
    uint32_t findings[JOINT_SEV_N], late, done, progress, deputies;
    uint64_t participants;
} totals_t;

static void totals_add(totals_t *s, const row_t *w)
{
    if (w->cls != ROW_IN)
        return;
    s->units++;
    const char *st = w->status;
    uint32_t *c = !strcmp(st, "reported") ? &s->reported
                  : !strcmp(st, "reported_late") ? &s->reported_late
                  : !strcmp(st, "overdue") ? &s->overdue
                  : !strcmp(st, "in_progress") ? &s->in_progress : &s->not_started;
    (*c)++;
    for (int i = 0; i < JOINT_SEV_N; i++)
        s->findings[i] += w->agg.findings[i];
    s->late += w->late;
    s->done += w->agg.rect_done;
    s->progress += w->agg.rect_progress;
    s->deputies += w->agg.deputies;
    if (w->agg.participants > 0)
        s->participants += (uint64_t)w->agg.participants;
}

static json_t *findings_json(const uint32_t f[JOINT_SEV_N], uint32_t late)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I}", "low", (json_int_t)f[0], "medium",
                     (json_int_t)f[1], "high", (json_int_t)f[2], "total",
                     (json_int_t)f[0] + f[1] + f[2], "late", (json_int_t)late);
}

static json_t *rate_json(uint32_t done, uint32_t of)
{
    /* a ratio with 4 decimals, exact in text whatever the dump precision */
    return of ? json_real((double)((done * 10000ull + of / 2) / of) / 10000.0) : json_null();
}

static json_t *totals_json(const totals_t *s)
{
    uint32_t nf = s->findings[0] + s->findings[1] + s->findings[2];
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:{s:I, s:I, s:I}, s:I, s:I}",
                     "units", (json_int_t)s->units, "not_started", (json_int_t)s->not_started,
                     "in_progress", (json_int_t)s->in_progress, "reported",
                     (json_int_t)s->reported, "reported_late", (json_int_t)s->reported_late,
                     "overdue", (json_int_t)s->overdue, "completion_rate",
                     rate_json(s->reported + s->reported_late, s->units), "findings",
                     findings_json(s->findings, s->late), "rectification", "done",
                     (json_int_t)s->done, "in_progress", (json_int_t)s->progress, "total",
                     (json_int_t)nf, "deputies", (json_int_t)s->deputies, "participants",
                     (json_int_t)s->participants);
}

/* ---- rows and findings as JSON ---- */

static int deputies_json(store_txn_t *t, const joint_dbs_t *d, const insp_t *in, const char *unit,
                         json_t *out)
{
    uint8_t k[JOINT_REFKEY_MAX + 2 + PROTO_ORIGIN_MAX];
    size_t ulen = strlen(unit), plen = in->jlen + 2 + ulen;
    memcpy(k, in->j, in->jlen);
    k[in->jlen] = JOINT_TAG_DEPUTY;
    memcpy(k + in->jlen + 1, unit, ulen);
    k[plen - 1] = 0;
    MDB_cursor *c;
    int rc = mdb_cursor_open(store_txn_mdb(t), d->idx, &c);
    if (rc)
        return lmdb_err(rc);
    MDB_val key = {plen, k}, val;
    for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
        if (key.mv_size <= plen || memcmp(key.mv_data, k, plen) != 0)
            break;
        json_array_append_new(out, json_stringn((char *)key.mv_data + plen, key.mv_size - plen));
    }
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : lmdb_err(rc);
}

static json_t *row_json(store_txn_t *t, const joint_dbs_t *d, const row_t *w, bool detail,
                        const insp_t *in)
{
    const joint_unit_t *a = &w->agg;
    json_t *o = json_pack("{s:s, s:s, s:s}", "unit", w->unit, "scope", row_class[w->cls],
                          "status", w->status);
    unit_names(t, d, w->unit, o, "name", "type");
    json_object_set_new(o, "started", a->first_date[0] ? json_string(a->first_date) : json_null());
    json_object_set_new(o, "last_activity",
                        a->last_date[0] ? json_string(a->last_date) : json_null());
    json_object_set_new(o, "reports", json_integer(a->reports));
    json_object_set_new(o, "reported_on",
                        a->reports ? json_string(a->first_report) : json_null());
    json_object_set_new(o, "participants",
                        a->participants >= 0 ? json_integer(a->participants) : json_null());
    json_object_set_new(o, "findings", findings_json(a->findings, w->late));
    json_object_set_new(o, "rectification",
                        json_pack("{s:I, s:I, s:I}", "done", (json_int_t)a->rect_done,
                                  "in_progress", (json_int_t)a->rect_progress, "total",
                                  (json_int_t)a->findings[0] + a->findings[1] + a->findings[2]));
    json_object_set_new(o, "deputies", json_integer(a->deputies));
    if (detail && a->deputies) {
        json_t *ids = json_array();
        json_object_set_new(o, "deputy_ids", ids);
        deputies_json(t, d, in, w->unit, ids);
    }
    return o;
}

/* The latest rectification of a finding, for --findings. */
static json_t *rect_json(store_txn_t *t, const joint_find_t *f)
{
    if (!(f->flags & JOINT_FIND_RECT))
        return json_null();
    json_t *o = json_pack("{s:s, s:o, s:I}", "status",
                          f->rect_status == JOINT_RECT_DONE ? "done" : "in_progress", "id",
                          json_sprintf("%s#%llu", f->rect_origin,
                                       (unsigned long long)f->rect_seq),
                          "count", (json_int_t)f->rect_count);
    const uint8_t *raw;
    size_t len;
    proto_event_t ev;
    if (!store_event_get(t, f->rect_origin, f->rect_seq, &raw, &len) &&
        !proto_event_decode(raw, len, 0, &ev)) {
        json_object_set_new(o, "date", json_stringn(ev.date.ptr, ev.date.len));
        mpk_str_t note = proto_body_str(&ev, "note");
        if (note.ptr)
            json_object_set_new(o, "note", json_stringn(note.ptr, note.len));
    }
    return o;
}

static json_t *finding_json(store_txn_t *t, const joint_dbs_t *d, const insp_t *in,
                            const char *unit, uint64_t seq)
{
    uint8_t fk[JOINT_REFKEY_MAX];
    size_t fklen = joint_refkey(fk, unit, strlen(unit), seq);
    json_t *o = json_pack("{s:o, s:s}", "id",
                          json_sprintf("%s#%llu", unit, (unsigned long long)seq), "unit", unit);
    const uint8_t *raw;
    size_t len;
    proto_event_t ev;
    if (!store_event_get(t, unit, seq, &raw, &len) && !proto_event_decode(raw, len, 0, &ev)) {
        json_object_set_new(o, "date", json_stringn(ev.date.ptr, ev.date.len));
        json_t *body = proto_body_to_json(&ev);
        json_object_del(body, "joint");
        json_object_update(o, body);
        json_decref(body);
        json_object_set_new(o, "late", json_boolean(in->closed && memcmp(ev.date.ptr, in->closed,
                                                                         JOINT_DATE_LEN) > 0));
    }
    const uint8_t *v;
    size_t vlen;
    joint_find_t f;
    if (joint_get(t, d->find, fk, fklen, &v, &vlen) == 0 && joint_find_decode(v, vlen, &f) == 0)
        json_object_set_new(o, "rectification", rect_json(t, &f));
    return o;
}

static int findings_list(store_txn_t *t, const joint_dbs_t *d, const insp_t *in, const row_t *w,
                         json_t *out)
{
    uint8_t k[JOINT_REFKEY_MAX + 2 + PROTO_ORIGIN_MAX];
    size_t ulen = strlen(w->unit), plen = in->jlen + 2 + ulen;
    memcpy(k, in->j, in->jlen);
    k[in->jlen] = JOINT_TAG_FINDING;
    memcpy(k + in->jlen + 1, w->unit, ulen);
    k[plen - 1] = 0;
    MDB_cursor *c;
    int rc = mdb_cursor_open(store_txn_mdb(t), d->idx, &c);
    if (rc)
        return lmdb_err(rc);
    MDB_val key = {plen, k}, val;
    for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
        if (key.mv_size != plen + 8 || memcmp(key.mv_data, k, plen) != 0)
            break;
        uint64_t seq = joint_be64_get((uint8_t *)key.mv_data + plen);
        json_t *f = finding_json(t, d, in, w->unit, seq);
        json_object_set_new(f, "scope", json_string(row_class[w->cls]));
        json_array_append_new(out, f);
    }
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : lmdb_err(rc);
}

/* ---- show ---- */

static int show_build(store_txn_t *t, const joint_dbs_t *d, insp_t *in, const joint_query_t *q,
                      json_t *o)
{
    const char *root = store_origin(store_txn_store(t));
    rows_t r = {0};
    int rc = rows_build(t, d, in, root, q->today, &r);
    json_t *lists[] = {json_array(), json_array(), json_array(), json_array()};
    json_t *findings = q->findings ? json_array() : NULL;
    totals_t s = {0};
    for (size_t i = 0; !rc && i < r.n; i++) {
        totals_add(&s, &r.v[i]);
        json_array_append_new(lists[r.v[i].cls], row_json(t, d, &r.v[i], q->findings, in));
        if (findings && r.v[i].active)
            rc = findings_list(t, d, in, &r.v[i], findings);
    }
    json_object_set_new(o, "view", json_string(root));
    json_object_set_new(o, "today", json_string(q->today));
    json_object_set_new(o, "units", lists[ROW_IN]);
    json_object_set_new(o, "removed_from_scope", lists[ROW_REMOVED]);
    json_object_set_new(o, "out_of_scope", lists[ROW_OUT]);
    json_object_set_new(o, "opener_part", lists[ROW_OPENER]);
    json_object_set_new(o, "totals", totals_json(&s));
    json_object_set_new(o, "waiting", json_pack("{s:I}", "rectifications",
                                                (json_int_t)in->head.rect_waiting));
    if (findings)
        json_object_set_new(o, "findings", findings);
    free(r.v);
    return rc;
}

int joint_show(store_txn_t *t, const char *id, const joint_query_t *q, json_t **out)
{
    *out = NULL;
    joint_dbs_t d;
    insp_t in = {0};
    int rc = dbs_read(t, &d);
    if (rc)
        return rc;
    if ((rc = insp_load_text(t, &d, id, &in)))
        goto done;
    if (!(in.head.flags & JOINT_HEAD_OPENED)) {
        rc = err_set(LD_ENOTFOUND, "unknown inspection %s: its joint.opened is not held here "
                     "(%u event%s waiting for it)", id, in.head.events,
                     in.head.events == 1 ? "" : "s");
        goto done;
    }
    if (!(rc = show_build(t, &d, &in, q, in.info))) {
        *out = in.info;
        in.info = NULL;
    }
done:
    insp_free(&in);
    return rc;
}

/* ---- list ---- */

static bool relevant(const insp_t *in, const char *root)
{
    if (within(in->opener, root))
        return true;
    size_t i;
    json_t *p;
    json_array_foreach(in->scope, i, p)
        if (meet(meet(json_string_value(p), in->opener), root))
            return true;
    return false;
}

static int list_one(store_txn_t *t, const joint_dbs_t *d, insp_t *in, const joint_query_t *q,
                    json_t *out)
{
    const char *root = store_origin(store_txn_store(t));
    if (!(in->head.flags & JOINT_HEAD_OPENED)) {
        if (q->filter == JOINT_ALL)
            json_array_append(out, in->info);
        return 0;
    }
    if (!relevant(in, root) || (q->filter == JOINT_OPEN && in->closed))
        return 0;
    rows_t r = {0};
    int rc = rows_build(t, d, in, root, q->today, &r);
    totals_t s = {0};
    const row_t *self = NULL;
    for (size_t i = 0; i < r.n; i++) {
        totals_add(&s, &r.v[i]);
        if (strcmp(r.v[i].unit, root) == 0 && r.v[i].cls == ROW_IN)
            self = &r.v[i];
    }
    if (!rc && (q->filter != JOINT_OVERDUE || s.overdue)) {
        json_t *o = json_deep_copy(in->info);
        json_object_del(o, "history");
        json_object_del(o, "description");
        json_object_set_new(o, "totals", totals_json(&s));
        if (self)
            json_object_set_new(o, "this_unit", row_json(t, d, self, false, in));
        json_array_append_new(out, o);
    }
    free(r.v);
    return rc;
}

int joint_list(store_txn_t *t, const joint_query_t *q, json_t **out)
{
    *out = NULL;
    joint_dbs_t d;
    int rc = dbs_read(t, &d);
    if (rc)
        return rc;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(store_txn_mdb(t), d.head, &c)))
        return lmdb_err(rc);
    json_t *list = json_array();
    MDB_val k, v;
    int err = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        insp_t in = {0};
        if (k.mv_size < 10 || k.mv_size > JOINT_REFKEY_MAX) {
            err = err_set(LD_ECORRUPT, "joint view: a malformed inspection key");
            break;
        }
        err = insp_load(t, &d, k.mv_data, k.mv_size, &in);
        if (!err)
            err = list_one(t, &d, &in, q, list);
        insp_free(&in);
        if (err)
            break;
    }
    mdb_cursor_close(c);
    if (!err && rc != 0 && rc != MDB_NOTFOUND)
        err = lmdb_err(rc);
    if (err) {
        json_decref(list);
        return err;
    }
    *out = list;
    return 0;
}

/* ---- one finding ---- */

int joint_finding_info(store_txn_t *t, const char *id, json_t **out)
{
    *out = NULL;
    joint_dbs_t d;
    uint8_t fk[JOINT_REFKEY_MAX];
    size_t fklen;
    int rc = dbs_read(t, &d);
    if (rc)
        return rc;
    if (!joint_refkey_parse(id, strlen(id), fk, &fklen))
        return err_set(LD_EINVAL, "'%s' is not a finding id (ORIGIN#SEQ)", id);
    const uint8_t *v;
    size_t vlen;
    joint_find_t f;
    if ((rc = joint_get(t, d.find, fk, fklen, &v, &vlen)))
        return rc < 0 ? rc : err_set(LD_ENOTFOUND, "no finding %s is held here", id);
    if ((rc = joint_find_decode(v, vlen, &f)))
        return rc;
    json_t *o = json_pack("{s:s, s:b, s:s#}", "id", id, "held", (f.flags & JOINT_FIND_HELD) != 0,
                          "unit", (const char *)fk, (int)(fklen - 9));
    if (f.flags & JOINT_FIND_HELD) {
        char j[JOINT_REFKEY_MAX + 24];
        joint_refkey_text(f.fj, f.fj_len, j, sizeof j);
        json_object_set_new(o, "joint", json_string(j));
        json_object_set_new(o, "severity", json_string(joint_severity_names[f.severity]));
        json_object_set_new(o, "date", json_string(f.date));
    }
    json_object_set_new(o, "rectification", rect_json(t, &f));
    *out = o;
    return 0;
}
