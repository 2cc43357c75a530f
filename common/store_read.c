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

int store_event_get(store_txn_t *t, const char *origin, uint64_t seq,
                    const uint8_t **raw, size_t *len)
{
    size_t olen = origin ? strlen(origin) : 0;
    if (!t || !raw || !len || olen == 0 || olen > PROTO_ORIGIN_MAX)
        return err_set(LD_EINVAL, "store: store_event_get without a transaction or origin");
    uint8_t k[STORE_EVKEY_MAX];
    size_t klen = store_evkey(k, origin, olen, seq);
    int rc = store_txn_mget(t, t->s->db_events, "get events", k, klen, raw, len);
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

/* Seeks past the events of `origin` with seq <= since, or past all of its
 * events (skip_all). */
static int events_skip(MDB_cursor *c, const char *origin, size_t olen, uint64_t since,
                       bool skip_all, MDB_val *k, MDB_val *v)
{
    uint8_t key[STORE_EVKEY_MAX];
    size_t klen;
    if (skip_all || since == UINT64_MAX) {
        memcpy(key, origin, olen);
        key[olen] = 0x01;    /* after every origin\0seq key */
        klen = olen + 1;
    } else {
        klen = store_evkey(key, origin, olen, since + 1);
    }
    *k = (MDB_val){klen, key};
    return mdb_cursor_get(c, k, v, MDB_SET_RANGE);
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
        if (!within || seq <= since) {
            rc = events_skip(c, origin, olen, since, !within, &k, &v);
            continue;
        }
        if ((rc = fn(origin, seq, v.mv_data, v.mv_size, arg)))
            return rc;
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
    int rc = cursor_open(t, t->s->db_events, &c);
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
