/*
 * store_read.c -- how events and heads come out of the store: lookups, scans
 * by origin subtree, equivocations and the counters behind `status`.
 *
 * Subtree scans rely on the key layout (docs/storage.md): every origin at
 * or below a prefix starts with the prefix's bytes, so their keys form one
 * contiguous run from a seek to the prefix; inside that run a key whose
 * origin only looks alike ("hrb/wuchang" under "hrb/wu") is skipped by
 * seeking past that whole origin at once.
 */
#include "common/store_int.h"

#include <string.h>
#include <sys/stat.h>

#include "common/err.h"

int store_head_get(store_txn_t *t, const char *origin, store_head_t *out)
{
    if (!t || !origin || !out)
        return err_set(LD_EINVAL, "store: store_head_get without a transaction or origin");
    size_t olen = strlen(origin);
    store_head_cache_t *c = &t->hc;
    if (c->valid && c->olen == olen && memcmp(c->origin, origin, olen) == 0) {
        if (!c->exists)
            return err_set(LD_ENOTFOUND, "store: nothing held of origin '%s'", origin);
        *out = c->head;
        return 0;
    }
    const uint8_t *v;
    size_t vlen;
    int rc = olen ? store_txn_mget(t, t->s->db_heads, "get heads", origin, olen, &v, &vlen) : 1;
    if (rc == 1)
        return err_set(LD_ENOTFOUND, "store: nothing held of origin '%s'", origin);
    if (rc)
        return rc;
    if (vlen < STORE_HEAD_LEN)
        return err_set(LD_ECORRUPT, "store: head record of '%s' is %zu bytes", origin, vlen);
    store_head_decode(v, out);
    return 0;
}

static int cursor_open(store_txn_t *t, MDB_dbi dbi, MDB_cursor **c)
{
    int rc = mdb_cursor_open(t->txn, dbi, c);
    return rc ? store_lmdb_err(rc, "open cursor") : 0;
}

/* Positions c at the first key starting with prefix (or the first key). */
static int cursor_seek(MDB_cursor *c, const char *prefix, size_t plen, MDB_val *k, MDB_val *v)
{
    *k = (MDB_val){plen, (void *)prefix};
    return mdb_cursor_get(c, k, v, plen ? MDB_SET_RANGE : MDB_FIRST);
}

static bool key_has_prefix(const MDB_val *k, const char *prefix, size_t plen)
{
    return k->mv_size >= plen && memcmp(k->mv_data, prefix, plen) == 0;
}

static int heads_scan(MDB_cursor *c, const char *prefix, size_t plen,
                      store_head_fn fn, void *arg)
{
    MDB_val k, v;
    char origin[PROTO_ORIGIN_MAX + 1];
    int rc;
    for (rc = cursor_seek(c, prefix, plen, &k, &v); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (!key_has_prefix(&k, prefix, plen))
            return 0;
        if (plen && !proto_origin_within(k.mv_data, k.mv_size, prefix, plen))
            continue;
        if (k.mv_size > PROTO_ORIGIN_MAX || v.mv_size < STORE_HEAD_LEN)
            return err_set(LD_ECORRUPT, "store: malformed head record");
        memcpy(origin, k.mv_data, k.mv_size);
        origin[k.mv_size] = '\0';
        store_head_t h;
        store_head_decode(v.mv_data, &h);
        if ((rc = fn(origin, &h, arg)))
            return rc;
    }
    return rc == MDB_NOTFOUND ? 0 : store_lmdb_err(rc, "scan heads");
}

int store_heads_foreach(store_txn_t *t, const char *prefix, store_head_fn fn, void *arg)
{
    if (!t || !fn)
        return err_set(LD_EINVAL, "store: store_heads_foreach without a transaction or callback");
    prefix = prefix ? prefix : "";
    MDB_cursor *c;
    int rc = store_txn_flush(t);    /* the cached head goes to the database first */
    if (rc || (rc = cursor_open(t, t->s->db_heads, &c)))
        return rc;
    rc = heads_scan(c, prefix, strlen(prefix), fn, arg);
    mdb_cursor_close(c);
    return rc;
}

/* The event `index` places after the first of record v (0: the first). */
static int record_event(const MDB_val *v, uint64_t index, const uint8_t **raw, size_t *len)
{
    if (!store_record_is_chunk(v->mv_data, v->mv_size)) {
        if (index)
            return 1;
        *raw = v->mv_data;
        *len = v->mv_size;
        return 0;
    }
    store_chunk_iter_t it;
    store_chunk_begin(&it, v->mv_data, v->mv_size);
    int rc;
    for (uint64_t i = 0; (rc = store_chunk_next(&it, raw, len)) == 0; i++)
        if (i == index)
            return 0;
    return rc;
}

/* Does key k belong to `origin` and, if so, at which seq does it start? */
static bool key_of(const MDB_val *k, const char *origin, size_t olen, uint64_t *seq)
{
    const uint8_t *p = k->mv_data;
    if (k->mv_size != olen + 9 || p[olen] != 0 || memcmp(p, origin, olen) != 0)
        return false;
    *seq = store_be64_get(p + olen + 1);
    return true;
}

int store_events_find(store_txn_t *t, const char *origin, size_t olen, uint64_t seq,
                      const uint8_t **raw, size_t *len)
{
    int rc = store_events_tail_flush(t);
    if (rc)
        return rc;
    /* The record keyed by this seq (the event, or a chunk it starts)... */
    uint8_t key[STORE_EVKEY_MAX];
    MDB_val k = {store_evkey(key, origin, olen, seq), key}, v;
    rc = store_txn_mget(t, t->s->db_events, "get events", k.mv_data, k.mv_size,
                        (const uint8_t **)&v.mv_data, &v.mv_size);
    if (rc <= 0)
        return rc < 0 ? rc : record_event(&v, 0, raw, len);
    /* ...else the record before that key, if it is a chunk of this origin
     * that reaches this far. */
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(t->txn, t->s->db_events, &c)))
        return store_lmdb_err(rc, "open a cursor on events");
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (rc == 0 || rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(c, &k, &v, rc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV);
    uint64_t first;
    if (rc == 0 && key_of(&k, origin, olen, &first) && first < seq)
        rc = record_event(&v, seq - first, raw, len);
    else if (rc == 0 || rc == MDB_NOTFOUND)
        rc = 1;
    else
        rc = store_lmdb_err(rc, "find an event");
    mdb_cursor_close(c);
    return rc;
}

int store_event_get(store_txn_t *t, const char *origin, uint64_t seq,
                    const uint8_t **raw, size_t *len)
{
    size_t olen = origin ? strlen(origin) : 0;
    if (!t || !raw || !len || olen == 0 || olen > PROTO_ORIGIN_MAX)
        return err_set(LD_EINVAL, "store: store_event_get without a transaction or origin");
    int rc = store_events_find(t, origin, olen, seq, raw, len);
    if (rc == 1)
        return err_set(LD_ENOTFOUND, "store: no event %s/%llu", origin, (unsigned long long)seq);
    return rc;
}

/* Splits an event key into origin (copied, NUL-terminated) and seq;
 * `extra` bytes follow the seq (the hash in equivocation keys). */
static int key_split(const MDB_val *k, size_t extra, char origin[PROTO_ORIGIN_MAX + 1],
                     size_t *olen, uint64_t *seq)
{
    const uint8_t *p = k->mv_data;
    if (k->mv_size < 10 + extra || k->mv_size - 9 - extra > PROTO_ORIGIN_MAX)
        return err_set(LD_ECORRUPT, "store: malformed event key (%zu bytes)", k->mv_size);
    *olen = k->mv_size - 9 - extra;
    if (p[*olen] != 0)
        return err_set(LD_ECORRUPT, "store: malformed event key");
    memcpy(origin, p, *olen);
    origin[*olen] = '\0';
    *seq = store_be64_get(p + *olen + 1);
    return 0;
}

/* The seq of the last event of record v that starts at `first`. */
static int record_last(const MDB_val *v, uint64_t first, uint64_t *last)
{
    *last = first;
    if (!store_record_is_chunk(v->mv_data, v->mv_size))
        return 0;
    store_chunk_iter_t it;
    store_chunk_begin(&it, v->mv_data, v->mv_size);
    const uint8_t *raw;
    size_t len;
    int rc;
    uint64_t n = 0;
    while ((rc = store_chunk_next(&it, &raw, &len)) == 0)
        n++;
    *last = first + (n ? n - 1 : 0);
    return rc < 0 ? rc : 0;
}

/* Seeks past the events of `origin` with seq <= since, or past all of its
 * events (skip_all): to the first record holding a later event of it, which
 * may be a chunk that starts at or before `since`. */
static int events_skip(MDB_cursor *c, const char *origin, size_t olen, uint64_t since,
                       bool skip_all, MDB_val *k, MDB_val *v)
{
    uint8_t key[STORE_EVKEY_MAX];
    size_t klen;
    if (skip_all || since == UINT64_MAX) {
        memcpy(key, origin, olen);
        key[olen] = 0x01;    /* after every origin\0seq key */
        klen = olen + 1;
        *k = (MDB_val){klen, key};
        return mdb_cursor_get(c, k, v, MDB_SET_RANGE);
    }
    klen = store_evkey(key, origin, olen, since + 1);
    *k = (MDB_val){klen, key};
    int rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    bool at_end = rc == MDB_NOTFOUND;
    uint64_t first, last;
    if (!at_end && key_of(k, origin, olen, &first) && first == since + 1)
        return 0;   /* a record starts right there */
    MDB_val pk, pv;
    int prc = mdb_cursor_get(c, &pk, &pv, at_end ? MDB_LAST : MDB_PREV);
    if (prc == 0 && key_of(&pk, origin, olen, &first) && first <= since) {
        if ((rc = record_last(&pv, first, &last)))
            return rc;   /* LD_ECORRUPT */
        if (last > since) {
            *k = pk, *v = pv;   /* a chunk that reaches past `since` */
            return 0;
        }
    } else if (prc != 0 && prc != MDB_NOTFOUND) {
        return prc;
    }
    if (at_end)
        return MDB_NOTFOUND;
    return mdb_cursor_get(c, k, v, prc == 0 ? MDB_NEXT : MDB_SET_RANGE);
}

static int events_scan(MDB_cursor *c, const char *prefix, size_t plen, uint64_t since,
                       store_event_fn fn, void *arg)
{
    MDB_val k, v;
    char origin[PROTO_ORIGIN_MAX + 1];
    size_t olen = 0;   /* set by key_split; -O3 cannot see it */
    uint64_t seq = 0;
    int rc = cursor_seek(c, prefix, plen, &k, &v);
    while (rc == 0) {
        if (!key_has_prefix(&k, prefix, plen))
            return 0;
        if ((rc = key_split(&k, 0, origin, &olen, &seq)))
            return rc;
        bool within = plen == 0 || proto_origin_within(origin, olen, prefix, plen);
        bool chunk = store_record_is_chunk(v.mv_data, v.mv_size);
        uint64_t last = seq;
        if (within && chunk && seq <= since && (rc = record_last(&v, seq, &last)))
            return rc;
        if (!within || last <= since) {
            rc = events_skip(c, origin, olen, since, !within, &k, &v);
            continue;
        }
        if (chunk) {
            store_chunk_iter_t it;
            const uint8_t *raw;
            size_t len;
            store_chunk_begin(&it, v.mv_data, v.mv_size);
            for (; (rc = store_chunk_next(&it, &raw, &len)) == 0; seq++)
                if (seq > since && (rc = fn(origin, seq, raw, len, arg)))
                    return rc;
            if (rc < 0)
                return rc;
        } else if ((rc = fn(origin, seq, v.mv_data, v.mv_size, arg))) {
            return rc;
        }
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    return rc == MDB_NOTFOUND ? 0 : store_lmdb_err(rc, "scan events");
}

int store_events_foreach(store_txn_t *t, const char *prefix, uint64_t since,
                         store_event_fn fn, void *arg)
{
    if (!t || !fn)
        return err_set(LD_EINVAL, "store: store_events_foreach without a transaction or callback");
    prefix = prefix ? prefix : "";
    MDB_cursor *c;
    int rc = store_events_tail_flush(t);
    if (!rc)
        rc = cursor_open(t, t->s->db_events, &c);
    if (rc)
        return rc;
    rc = events_scan(c, prefix, strlen(prefix), since, fn, arg);
    mdb_cursor_close(c);
    return rc;
}

static int equiv_scan(MDB_cursor *c, store_event_fn fn, void *arg)
{
    MDB_val k, v;
    char origin[PROTO_ORIGIN_MAX + 1];
    size_t olen = 0;   /* set by key_split; -O3 cannot see it */
    uint64_t seq = 0;
    int rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if ((rc = key_split(&k, PROTO_HASH_LEN, origin, &olen, &seq)) ||
            (rc = fn(origin, seq, v.mv_data, v.mv_size, arg)))
            return rc;
    }
    return rc == MDB_NOTFOUND ? 0 : store_lmdb_err(rc, "scan equivocations");
}

int store_equivocations_foreach(store_txn_t *t, store_event_fn fn, void *arg)
{
    if (!t || !fn)
        return err_set(LD_EINVAL, "store: store_equivocations_foreach without a transaction");
    MDB_cursor *c;
    int rc = cursor_open(t, t->s->db_equiv, &c);
    if (rc)
        return rc;
    rc = equiv_scan(c, fn, arg);
    mdb_cursor_close(c);
    return rc;
}

int store_info_get(store_txn_t *t, store_info_t *out)
{
    if (!t || !out)
        return err_set(LD_EINVAL, "store: store_info_get without a transaction");
    memset(out, 0, sizeof *out);
    uint64_t *field[] = {&out->events, &out->held, &out->equivocations, &out->origins};
    int rc = store_txn_flush(t);
    for (int i = 0; !rc && i < 4; i++)
        rc = store_counter_get(t, i, field[i]);
    if (rc)
        return rc;
    struct stat st;
    if (stat(t->s->data_path, &st) == 0)
        out->data_bytes = (uint64_t)st.st_size;
    out->map_size = store_map_size(t->s);
    return 0;
}
