/*
 * store_put.c -- how events get into the store: appending a new local event
 * (store_txn_append) and taking in an event from elsewhere (store_txn_put),
 * with the chain check, held out-of-order arrivals, equivocations and the
 * indexers. This is the hot path of import and merge: the common case is one
 * encode, one decode and one hash per event (no decode when the caller has
 * validated the event already) and a copy into the transaction's tail; the
 * tail, heads, the HLC and counters are written back once per run or
 * transaction (store_int.h).
 */
#include "common/store_int.h"

#include <string.h>

#include "common/err.h"
#include "proto/schema.h"

static const uint8_t ZERO_HASH[PROTO_HASH_LEN];

static int run_indexers(store_txn_t *t, const proto_event_t *ev)
{
    store_t *s = t->s;
    for (int i = 0; i < s->nidx; i++) {
        int rc = s->idx[i].fn(t, ev, s->idx[i].arg);
        if (rc)
            return store_txn_fail(t, rc);
    }
    return 0;
}

/* Puts an event that extends its origin's log. MDB_APPEND skips the tree
 * search when the key sorts last in the database (the usual case for a
 * township's own log); once it does not, this txn stops trying. */
static int events_put(store_txn_t *t, const char *origin, size_t olen, uint64_t seq,
                      const uint8_t *raw, size_t len)
{
    uint8_t k[STORE_EVKEY_MAX];
    size_t klen = store_evkey(k, origin, olen, seq);
    int rc;
    if (t->append_mode == 0) {
        rc = store_txn_mput(t, t->s->db_events, "put events", k, klen, raw, len, MDB_APPEND);
        if (rc != MDB_KEYEXIST)
            goto done;
        t->append_mode = -1;   /* interleaved origins: puts from here on */
    } else if ((rc = store_fault_check("put events"))) {
        return store_txn_fail(t, rc);
    }
    /* Through one cursor for the whole transaction: a put that lands on the
     * leaf page the cursor is on (the next seq of the origin put last) skips
     * the descent from the root; LMDB checks that itself. */
    if (!t->ev_cur && (rc = mdb_cursor_open(t->txn, t->s->db_events, &t->ev_cur)))
        return store_txn_fail(t, store_lmdb_err(rc, "open a cursor on events"));
    MDB_val kv = {klen, k}, vv = {len, (void *)raw};
    rc = mdb_cursor_put(t->ev_cur, &kv, &vv, MDB_NOOVERWRITE);
    if (rc && rc != MDB_KEYEXIST) {
        if (rc == MDB_MAP_FULL)
            t->map_full = true;
        return store_txn_fail(t, store_lmdb_err(rc, "put events"));
    }
done:
    if (rc == MDB_KEYEXIST)
        return store_txn_fail(t, err_set(LD_ECORRUPT, "store: event %.*s/%llu is stored "
                                         "beyond its head", (int)olen, origin,
                                         (unsigned long long)seq));
    return rc;
}

int store_events_tail_flush(store_txn_t *t)
{
    if (!t->write || t->tail_n == 0)
        return 0;
    const uint8_t *v = t->tail.data;
    size_t len = t->tail.len;
    if (t->tail_n == 1) {   /* a run of one is stored as the event itself */
        v += 5;
        len -= 5;
    }
    t->tail_n = 0;   /* written or not: a failed put fails the txn (events_put) */
    return events_put(t, t->tail_origin, t->tail_olen, t->tail_seq, v, len);
}

/* Appends an event that extends its origin's log to the tail, putting the
 * tail first if it is another origin's, not contiguous, or full. */
static int events_append(store_txn_t *t, const char *origin, size_t olen, uint64_t seq,
                         const uint8_t *raw, size_t len)
{
    int rc;
    if (t->tail_n && (t->tail_olen != olen || memcmp(t->tail_origin, origin, olen) != 0 ||
                      seq != t->tail_seq + t->tail_n || t->tail_n >= STORE_CHUNK_EVENTS ||
                      t->tail.len + 4 + len > STORE_CHUNK_BYTES) &&
        (rc = store_events_tail_flush(t)))
        return rc;
    if (t->tail_n == 0) {
        buf_reset(&t->tail);
        uint8_t tag = STORE_CHUNK_TAG;
        if ((rc = buf_append(&t->tail, &tag, 1)))
            return store_txn_fail(t, rc);
        memcpy(t->tail_origin, origin, olen);
        t->tail_origin[olen] = '\0';
        t->tail_olen = olen;
        t->tail_seq = seq;
    }
    uint8_t be[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                     (uint8_t)len};
    if ((rc = buf_append(&t->tail, be, 4)) || (rc = buf_append(&t->tail, raw, len)))
        return store_txn_fail(t, rc);
    t->tail_n++;
    return 0;
}

int store_chunk_next(store_chunk_iter_t *it, const uint8_t **raw, size_t *len)
{
    if (it->p == it->end)
        return 1;
    if (it->end - it->p < 4)
        return err_set(LD_ECORRUPT, "store: a chunk record ends inside a length");
    size_t n = (size_t)it->p[0] << 24 | (size_t)it->p[1] << 16 | (size_t)it->p[2] << 8 | it->p[3];
    if (n == 0 || n > (size_t)(it->end - it->p) - 4)
        return err_set(LD_ECORRUPT, "store: a chunk record holds an event of %zu bytes "
                       "past its end", n);
    *raw = it->p + 4;
    *len = n;
    it->p += 4 + n;
    return 0;
}

/* Takes a remote stamp into the local clock (HLC receive rule), so that an
 * event recorded here after this one arrived sorts after it everywhere. */
static int hlc_take(store_txn_t *t, uint64_t remote)
{
    int rc = store_hlc_load(t);
    if (rc)
        return rc;
    uint64_t before = t->hlc.last;
    hlc_observe(&t->hlc, remote);
    if (t->hlc.last != before)
        t->hlc_dirty = true;
    return 0;
}

/* The cached head gets a record if it had none: a new origin. */
static void origin_new(store_txn_t *t)
{
    if (!t->hc.exists) {
        t->hc.exists = true;
        t->hc.dirty = true;
        t->d_origins++;
    }
}

/* Both appends; checked == NULL: decode strictly. */
static int append(store_txn_t *t, const store_new_t *ev, const proto_checked_t *checked,
                  store_ref_t *out)
{
    if (!t || !t->write || !ev || !ev->kind || !ev->date || (!ev->body && ev->body_len))
        return err_set(LD_EINVAL, "store: appending needs a write transaction and an event");
    store_t *s = t->s;
    const char *origin = t->origin_set ? t->new_origin : s->origin;
    size_t olen = t->origin_set ? strlen(origin) : s->origin_len;
    if (!olen)
        return err_set(LD_EINVAL, "store: this store has no origin yet (run init first)");
    store_head_t *h;
    int rc = store_head_load(t, origin, olen, &h);
    if (!rc)
        rc = store_hlc_load(t);
    if (rc)
        return rc;
    /* Events of our own origin held beyond the head mean a restore has not
     * finished: appending now would fork our own log. */
    if (h->held)
        return err_set(LD_ECHAIN, "store: this unit's own log is incomplete: %llu of its events "
                       "are held waiting for seq %llu; finish the restore first",
                       (unsigned long long)h->held, (unsigned long long)h->seq + 1);
    proto_header_t hd = {origin, h->seq + 1, 0, {0}, ev->kind, ev->date, ev->author};
    uint64_t hlc_before = t->hlc.last;
    hd.hlc = hlc_now(&t->hlc);
    memcpy(hd.prev, h->hash, PROTO_HASH_LEN);
    buf_reset(&t->enc);
    proto_event_t e;
    if (checked) {
        rc = proto_event_encode_checked(&hd, ev->body, ev->body_len, checked, &t->enc, &e);
    } else {
        rc = proto_event_encode(&hd, ev->body, ev->body_len, &t->enc);
        if (!rc)
            rc = proto_event_decode(t->enc.data, t->enc.len, PROTO_DECODE_STRICT, &e);
    }
    if (rc) {
        t->hlc.last = hlc_before;   /* nothing stored: the stamp was not issued */
        return rc;
    }
    t->hlc_dirty = true;
    uint8_t hash[PROTO_HASH_LEN];
    proto_hash(t->enc.data, t->enc.len, hash);
    if ((rc = events_append(t, origin, olen, hd.seq, t->enc.data, t->enc.len)))
        return rc;
    origin_new(t);
    h->seq = hd.seq;
    memcpy(h->hash, hash, PROTO_HASH_LEN);
    t->hc.dirty = true;
    t->d_events++;
    if (out) {
        out->seq = hd.seq;
        memcpy(out->hash, hash, PROTO_HASH_LEN);
    }
    return run_indexers(t, &e);
}

int store_txn_append(store_txn_t *t, const store_new_t *ev, store_ref_t *out)
{
    return append(t, ev, NULL, out);
}

int store_txn_append_checked(store_txn_t *t, const store_new_t *ev,
                             const proto_checked_t *checked, store_ref_t *out)
{
    /* The kind is the one cheap thing to cross-check: a mismatch would give
     * the indexers a schema that is not the event's. */
    if (!checked || !checked->schema || !ev || !ev->kind ||
        strcmp(checked->schema->name, ev->kind) != 0)
        return err_set(LD_EINVAL, "store: store_txn_append_checked: the check does not "
                       "match this event's kind");
    return append(t, ev, checked, out);
}

/* ---- events from elsewhere ---- */

/* The versions of (origin, seq) kept aside already, up to `max`. */
static int equiv_count(store_txn_t *t, const uint8_t *k, size_t klen, int max, int *n)
{
    MDB_cursor *cur;
    *n = 0;
    int rc = mdb_cursor_open(store_txn_mdb(t), t->s->db_equiv, &cur);
    if (rc)
        return store_txn_fail(t, store_lmdb_err(rc, "open a cursor on equivocations"));
    MDB_val key = {klen, (void *)k}, val;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
         !rc && *n < max && key.mv_size == klen + PROTO_HASH_LEN &&
         memcmp(key.mv_data, k, klen) == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
        (*n)++;
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return store_txn_fail(t, store_lmdb_err(rc, "count equivocations"));
    return 0;
}

/* Keeps a conflicting version aside; the same version twice is kept once,
 * and no more than STORE_EQUIV_PER_EVENT versions of one event: a sender
 * minting versions of its own events must not fill the disk (the first
 * ones are the evidence; every one is still counted as an equivocation). */
static int equiv_keep(store_txn_t *t, const proto_event_t *e, const uint8_t hash[PROTO_HASH_LEN])
{
    uint8_t k[STORE_EQKEY_MAX];
    size_t klen = store_evkey(k, e->origin.ptr, e->origin.len, e->seq);
    int n;
    int rc = equiv_count(t, k, klen, STORE_EQUIV_PER_EVENT, &n);
    if (rc || n >= STORE_EQUIV_PER_EVENT)
        return rc;
    memcpy(k + klen, hash, PROTO_HASH_LEN);
    rc = store_txn_mput(t, t->s->db_equiv, "put equivocations", k, klen + PROTO_HASH_LEN,
                            e->raw, e->raw_len, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST)
        return 0;
    if (!rc)
        t->d_equiv++;
    return rc;
}

/* The event has the same key as stored bytes `old`: a duplicate or an
 * equivocation. */
static int put_conflict(store_txn_t *t, const proto_event_t *e, const uint8_t *old, size_t old_len,
                        store_put_result_t *res)
{
    if (old_len == e->raw_len && memcmp(old, e->raw, old_len) == 0) {
        *res = STORE_PUT_DUPLICATE;
        return 0;
    }
    uint8_t hash[PROTO_HASH_LEN];
    proto_event_hash(e, hash);
    *res = STORE_PUT_EQUIVOCATION;
    return equiv_keep(t, e, hash);
}

/* Appends e (seq == head + 1, prev already checked) to its log. */
static int chain_extend(store_txn_t *t, store_head_t *h, const proto_event_t *e)
{
    uint8_t hash[PROTO_HASH_LEN];
    proto_event_hash(e, hash);
    int rc = events_append(t, e->origin.ptr, e->origin.len, e->seq, e->raw, e->raw_len);
    if (rc)
        return rc;
    h->seq = e->seq;
    memcpy(h->hash, hash, PROTO_HASH_LEN);
    t->hc.dirty = true;
    t->d_events++;
    return run_indexers(t, e);
}

/* Removes held[origin, seq] from held and the head's count. */
static int held_remove(store_txn_t *t, store_head_t *h, const uint8_t *k, size_t klen)
{
    int rc = store_txn_mdel(t, t->s->db_held, "delete held", k, klen);
    if (rc == MDB_NOTFOUND)
        rc = store_txn_fail(t, err_set(LD_ECORRUPT, "store: held event vanished"));
    if (rc)
        return rc;
    h->held--;
    t->d_held--;
    t->hc.dirty = true;
    return 0;
}

/* After the head advanced: moves in held events that now follow it, each
 * checked against the chain; one whose prev does not match is an
 * equivocation, and the moving stops there (the gap is open again). */
static int held_drain(store_txn_t *t, const char *origin, size_t olen, store_head_t *h)
{
    while (h->held > 0) {
        uint8_t k[STORE_EVKEY_MAX];
        size_t klen = store_evkey(k, origin, olen, h->seq + 1);
        const uint8_t *v;
        size_t vlen;
        int rc = store_txn_mget(t, t->s->db_held, "get held", k, klen, &v, &vlen);
        if (rc)
            return rc < 0 ? rc : 0;
        /* Copy out of the map: the puts below may reuse that page. */
        buf_reset(&t->scratch);
        if ((rc = buf_append(&t->scratch, v, vlen)))
            return rc;
        proto_event_t e;
        if (proto_event_decode(t->scratch.data, t->scratch.len, 0, &e))
            return store_txn_fail(t, err_set(LD_ECORRUPT, "store: held event %.*s/%llu does "
                                             "not decode", (int)olen, origin,
                                             (unsigned long long)h->seq + 1));
        if ((rc = held_remove(t, h, k, klen)))
            return rc;
        if (memcmp(e.prev, h->hash, PROTO_HASH_LEN) != 0) {
            uint8_t hash[PROTO_HASH_LEN];
            proto_hash(e.raw, e.raw_len, hash);
            return equiv_keep(t, &e, hash);
        }
        if ((rc = chain_extend(t, h, &e)))
            return rc;
    }
    return 0;
}

/* e is beyond head + 1: hold it until the gap fills -- unless it is further
 * than any honest sender gets ahead (STORE_HELD_SPAN), which bounds what a
 * sender can park here. */
static int put_held(store_txn_t *t, store_head_t *h, const proto_event_t *e,
                    store_put_result_t *res)
{
    if (e->seq - h->seq > STORE_HELD_SPAN) {
        *res = STORE_PUT_DROPPED;
        return 0;
    }
    uint8_t k[STORE_EVKEY_MAX];
    size_t klen = store_evkey(k, e->origin.ptr, e->origin.len, e->seq);
    const uint8_t *v;
    size_t vlen;
    int rc = store_txn_mget(t, t->s->db_held, "get held", k, klen, &v, &vlen);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return put_conflict(t, e, v, vlen, res);
    rc = store_txn_mput(t, t->s->db_held, "put held", k, klen, e->raw, e->raw_len, 0);
    if (rc)
        return rc;
    origin_new(t);
    h->held++;
    t->hc.dirty = true;
    t->d_held++;
    *res = STORE_PUT_HELD;
    return hlc_take(t, e->hlc);
}

/* e is at or below the head: it is stored already, or it conflicts. */
static int put_known(store_txn_t *t, const proto_event_t *e, store_put_result_t *res)
{
    const uint8_t *v;
    size_t vlen;
    int rc = store_events_find(t, e->origin.ptr, e->origin.len, e->seq, &v, &vlen);
    if (rc == 1)
        return err_set(LD_ECORRUPT, "store: event %.*s/%llu is missing below its head",
                       (int)e->origin.len, e->origin.ptr, (unsigned long long)e->seq);
    return rc ? rc : put_conflict(t, e, v, vlen, res);
}

int store_txn_put(store_txn_t *t, const uint8_t *raw, size_t len, store_put_result_t *res)
{
    if (!t || !t->write || !raw || !res)
        return err_set(LD_EINVAL, "store: store_txn_put needs a write transaction and bytes");
    proto_event_t e;
    int rc = proto_event_decode(raw, len, 0, &e);
    return rc ? rc : store_txn_put_event(t, &e, res);
}

int store_txn_put_event(store_txn_t *t, const proto_event_t *e, store_put_result_t *res)
{
    if (!t || !t->write || !e || !e->raw || !res)
        return err_set(LD_EINVAL, "store: putting needs a write transaction and an event");
    if (e->seq == 0)
        return err_set(LD_EPROTO, "store: seq 0 is not a valid sequence number");
    store_head_t *h;
    int rc = store_head_load(t, e->origin.ptr, e->origin.len, &h);
    if (rc)
        return rc;
    if (e->seq <= h->seq)
        return put_known(t, e, res);
    if (e->seq > h->seq + 1)
        return put_held(t, h, e, res);
    if (memcmp(e->prev, h->seq ? h->hash : ZERO_HASH, PROTO_HASH_LEN) != 0) {
        uint8_t hash[PROTO_HASH_LEN];
        proto_event_hash(e, hash);
        *res = STORE_PUT_EQUIVOCATION;
        return equiv_keep(t, e, hash);
    }
    origin_new(t);
    if ((rc = chain_extend(t, h, e)) || (rc = hlc_take(t, e->hlc)))
        return rc;
    *res = STORE_PUT_STORED;
    return held_drain(t, e->origin.ptr, e->origin.len, h);
}
