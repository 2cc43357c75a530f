/*
 * store.c -- the LMDB environment: opening it, transactions (with map
 * growth and retry), metadata, the per-transaction write-back cache and
 * fault injection. Events go in through store_put.c and come out through
 * store_read.c; docs/storage.md describes every database byte by byte.
 *
 * Threads: the environment is opened without MDB_NOTLS, as store.h says.
 * We enforce "one transaction per thread per store" ourselves (in_txn), so
 * LMDB's thread-bound reader slots cost us nothing, and they give each
 * thread one reusable slot instead of one per transaction object, so a
 * leaked read transaction cannot silently eat the reader table.
 */
#include "common/store_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/err.h"

/* 1 GiB of address space, not of disk: the file grows only as pages are
 * written. Starting small would make a big import re-run its transaction
 * at every doubling. */
#define DEFAULT_MAP_SIZE ((size_t)1 << 30)
/* Doublings one store_write may do: from 64 KiB that is far past any disk,
 * so hitting it means something is wrong rather than merely big. */
#define MAX_GROWTH       40
#define META_KEY_MAX     255

static const char *const COUNTER_KEY[] = {
    "count.events", "count.held", "count.equivocations", "count.origins"
};

/* ---- errors and fault injection ---- */

int store_lmdb_err(int rc, const char *what)
{
    if (rc <= LD_EINVAL && rc >= LD_EFAULT)
        return rc;   /* ours, reported already (a corrupt chunk met in a scan) */
    if (rc == ENOSPC)
        return err_set(LD_ENOSPACE, "store: %s: disk full; the write was refused and "
                       "nothing already stored was changed", what);
    if (rc == ENOMEM)
        return err_set(LD_ENOMEM, "store: %s: out of memory", what);
    return err_set(rc > 0 ? -rc : rc, "store: %s: %s", what, mdb_strerror(rc));
}

static atomic_int fault_countdown;

void store_fault_after(int nth)
{
    atomic_store(&fault_countdown, nth > 0 ? nth : 0);
}

int store_fault_check(const char *what)
{
    int n = atomic_load_explicit(&fault_countdown, memory_order_relaxed);
    while (n > 0 && !atomic_compare_exchange_weak(&fault_countdown, &n, n - 1))
        ;
    if (n == 1)
        return err_set(LD_EFAULT, "store: %s: injected fault", what);
    return 0;
}

/* ---- LMDB calls that write ---- */

int store_txn_fail(store_txn_t *t, int rc)
{
    if (!t->failed)
        t->failed = rc;
    return rc;
}

static int write_err(store_txn_t *t, int rc, const char *what)
{
    if (rc == MDB_MAP_FULL)
        t->map_full = true;
    return store_txn_fail(t, store_lmdb_err(rc, what));
}

int store_txn_mput(store_txn_t *t, MDB_dbi dbi, const char *what, const void *key, size_t klen,
                   const void *val, size_t vlen, unsigned flags)
{
    int rc = store_fault_check(what);
    if (rc)
        return store_txn_fail(t, rc);
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    rc = mdb_put(t->txn, dbi, &k, &v, flags);
    if (rc == 0 || (rc == MDB_KEYEXIST && (flags & (MDB_NOOVERWRITE | MDB_APPEND))))
        return rc;
    return write_err(t, rc, what);
}

int store_txn_mdel(store_txn_t *t, MDB_dbi dbi, const char *what, const void *key, size_t klen)
{
    int rc = store_fault_check(what);
    if (rc)
        return store_txn_fail(t, rc);
    MDB_val k = {klen, (void *)key};
    rc = mdb_del(t->txn, dbi, &k, NULL);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return rc;
    return write_err(t, rc, what);
}

int store_txn_mget(store_txn_t *t, MDB_dbi dbi, const char *what, const void *key, size_t klen,
                   const uint8_t **val, size_t *vlen)
{
    MDB_val k = {klen, (void *)key}, v;
    *val = NULL;
    *vlen = 0;
    int rc = mdb_get(t->txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 1;
    if (rc)
        return store_lmdb_err(rc, what);
    *val = v.mv_data;
    *vlen = v.mv_size;
    return 0;
}

/* ---- the map ---- */

size_t store_map_size(const store_t *s)
{
    MDB_envinfo info;
    if (!s || mdb_env_info(s->env, &info))
        return 0;
    return info.me_mapsize;
}

bool store_rdonly(const store_t *s)
{
    return s && (s->flags & STORE_RDONLY);
}

/* Another process grew the map (MDB_MAP_RESIZED): take its size. */
static int map_adopt(store_t *s)
{
    pthread_rwlock_wrlock(&s->remap);
    int rc = mdb_env_set_mapsize(s->env, 0);
    pthread_rwlock_unlock(&s->remap);
    return rc ? store_lmdb_err(rc, "adopt the new map size") : 0;
}

/* Doubles the map after MDB_MAP_FULL at size `seen`, unless a thread of this
 * process already grew it, or another process recorded a larger size (which
 * mdb_env_set_mapsize(0) adopts). The exclusive lock guarantees no
 * transaction of this process is open, as LMDB requires for a remap. */
static int map_grow(store_t *s, size_t seen)
{
    int rc = 0;
    pthread_rwlock_wrlock(&s->remap);
    if (store_map_size(s) == seen) {
        rc = mdb_env_set_mapsize(s->env, 0);
        if (!rc && store_map_size(s) <= seen)
            rc = seen > SIZE_MAX / 2 ? ENOMEM : mdb_env_set_mapsize(s->env, seen * 2);
    }
    pthread_rwlock_unlock(&s->remap);
    return rc ? store_lmdb_err(rc, "grow the map") : 0;
}

/* ---- transactions ---- */

static int txn_begin(store_t *s, bool write, store_txn_t *t)
{
    if (pthread_getspecific(s->in_txn))
        return err_set(LD_EINVAL, "store: this thread already holds a transaction of this store");
    bool heap = t->heap;
    memset(t, 0, sizeof *t);
    t->heap = heap;
    t->s = s;
    t->write = write;
    int rc;
    for (int tries = 0;; tries++) {
        pthread_rwlock_rdlock(&s->remap);
        rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
        if (rc != MDB_MAP_RESIZED || tries == 8)
            break;
        pthread_rwlock_unlock(&s->remap);
        if ((rc = map_adopt(s)))
            return rc;
    }
    if (rc) {
        pthread_rwlock_unlock(&s->remap);
        return store_lmdb_err(rc, "begin transaction");
    }
    pthread_setspecific(s->in_txn, t);
    return 0;
}

/* After commit or abort: the LMDB txn is gone. */
static void txn_release(store_txn_t *t)
{
    t->txn = NULL;
    t->ev_cur = NULL;   /* a write txn's cursors end with it */
    pthread_setspecific(t->s->in_txn, NULL);
    pthread_rwlock_unlock(&t->s->remap);
    buf_free(&t->enc);
    buf_free(&t->scratch);
    buf_free(&t->tail);
}

static void txn_abort(store_txn_t *t)
{
    mdb_txn_abort(t->txn);
    txn_release(t);
}

/* A commit that fills the disk part-way fails in LMDB with EIO (a short
 * writev), not ENOSPC: tell the two apart by the space left. */
static int commit_errno(const store_t *s, int rc)
{
    struct statvfs v;
    if (rc == EIO && statvfs(s->data_path, &v) == 0 &&
        (uint64_t)v.f_bavail * v.f_frsize < ((uint64_t)1 << 20))
        return ENOSPC;
    return rc;
}

/* The views' txn hooks (store_add_txn_hooks): `begin` or `flush`. */
static int run_hooks(store_txn_t *t, bool flush)
{
    store_t *s = t->s;
    for (int i = 0; i < s->nhook; i++) {
        store_txn_hook_fn fn = flush ? s->hook[i].flush : s->hook[i].begin;
        int rc = fn ? fn(t, s->hook[i].arg) : 0;
        if (rc)
            return store_txn_fail(t, rc);
    }
    return 0;
}

static int txn_commit(store_txn_t *t)
{
    int rc = t->failed ? 0 : run_hooks(t, true);
    if (!rc)
        rc = store_txn_flush(t);
    if (!rc)
        rc = t->failed;
    if (!rc)
        rc = store_fault_check("commit");
    if (rc) {
        txn_abort(t);
        return rc;
    }
    store_t *s = t->s;
    rc = mdb_txn_commit(t->txn);
    if (!rc && t->origin_set) {
        s->origin_len = strlen(t->new_origin);
        memcpy(s->origin, t->new_origin, s->origin_len + 1);
    }
    txn_release(t);
    if (rc == MDB_MAP_FULL)
        t->map_full = true;
    return rc ? store_lmdb_err(commit_errno(s, rc), "commit") : 0;
}

int store_write(store_t *s, store_write_fn fn, void *arg)
{
    if (!s || !fn)
        return err_set(LD_EINVAL, "store: store_write without a store or a callback");
    if (s->flags & STORE_RDONLY)
        return err_set(LD_EINVAL, "store: opened read-only");
    for (int grown = 0;; grown++) {
        store_txn_t t;
        t.heap = false;
        int rc = txn_begin(s, true, &t);
        if (rc)
            return rc;
        size_t seen = store_map_size(s);    /* fixed while the txn holds the lock */
        rc = run_hooks(&t, false);
        if (!rc)
            rc = fn(&t, arg);
        if (!rc && t.failed)
            rc = t.failed;      /* fn went on after a failed write: never commit that */
        if (rc)
            txn_abort(&t);
        else
            rc = txn_commit(&t);
        /* A view module's own mdb_put returns MDB_MAP_FULL without our flag. */
        if (!t.map_full && rc != MDB_MAP_FULL)
            return rc;
        if (grown == MAX_GROWTH)
            return err_set(LD_ETOOBIG, "store: the map cannot grow past %zu bytes", seen);
        if ((rc = map_grow(s, seen)))
            return rc;
    }
}

int store_read_begin(store_t *s, store_txn_t **out)
{
    if (!s || !out)
        return err_set(LD_EINVAL, "store: store_read_begin without a store");
    *out = NULL;
    store_txn_t *t = malloc(sizeof *t);
    if (!t)
        return err_set(LD_ENOMEM, "store: out of memory");
    t->heap = true;
    int rc = txn_begin(s, false, t);
    if (rc) {
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void store_read_end(store_txn_t **tp)
{
    if (!tp || !*tp)
        return;
    store_txn_t *t = *tp;
    *tp = NULL;
    /* Committing a read-only txn ends it like an abort but keeps the
     * database handles it opened (store_dbi, open_dbs) for the environment. */
    mdb_txn_commit(t->txn);
    txn_release(t);
    if (t->heap)
        free(t);
}

MDB_txn *store_txn_mdb(store_txn_t *t) { return t ? t->txn : NULL; }
store_t *store_txn_store(store_txn_t *t) { return t ? t->s : NULL; }

static bool name_reserved(const char *name)
{
    static const char *const own[] = {"events", "heads", "held", "equivocations", "meta"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (strcmp(name, own[i]) == 0)
            return true;
    return false;
}

int store_dbi(store_txn_t *t, const char *name, unsigned flags, MDB_dbi *out)
{
    if (!t || !name || !*name || !out || name_reserved(name))
        return err_set(LD_EINVAL, "store: database name '%s' is empty or reserved",
                       name ? name : "");
    store_t *s = t->s;
    pthread_mutex_lock(&s->dbi_lock);
    int rc = mdb_dbi_open(t->txn, name, flags | (t->write ? MDB_CREATE : 0), out);
    pthread_mutex_unlock(&s->dbi_lock);
    if (rc == MDB_NOTFOUND)
        return err_set(LD_ENOTFOUND, "store: database '%s' does not exist yet", name);
    return rc ? store_lmdb_err(rc, "open a view database") : 0;
}

int store_add_indexer(store_t *s, store_index_fn fn, void *arg)
{
    if (!s || !fn)
        return err_set(LD_EINVAL, "store: store_add_indexer without a store or a callback");
    if (s->nidx == STORE_MAX_INDEXERS)
        return err_set(LD_ETOOBIG, "store: at most %d indexers", STORE_MAX_INDEXERS);
    s->idx[s->nidx].fn = fn;
    s->idx[s->nidx].arg = arg;
    s->nidx++;
    return 0;
}

int store_add_txn_hooks(store_t *s, store_txn_hook_fn begin, store_txn_hook_fn flush,
                        void (*close)(void *arg), void *arg)
{
    if (!s)
        return err_set(LD_EINVAL, "store: store_add_txn_hooks without a store");
    if (s->nhook == STORE_MAX_INDEXERS)
        return err_set(LD_ETOOBIG, "store: at most %d sets of hooks", STORE_MAX_INDEXERS);
    s->hook[s->nhook].begin = begin;
    s->hook[s->nhook].flush = flush;
    s->hook[s->nhook].close = close;
    s->hook[s->nhook].arg = arg;
    s->nhook++;
    return 0;
}

/* ---- the write-back cache: head, HLC, counters ---- */

void store_head_decode(const uint8_t *v, store_head_t *h)
{
    h->seq = store_be64_get(v);
    memcpy(h->hash, v + 8, PROTO_HASH_LEN);
    h->held = store_be64_get(v + 8 + PROTO_HASH_LEN);
}

static int head_flush(store_txn_t *t)
{
    store_head_cache_t *c = &t->hc;
    if (!c->valid || !c->dirty)
        return 0;
    uint8_t v[STORE_HEAD_LEN];
    store_be64_put(v, c->head.seq);
    memcpy(v + 8, c->head.hash, PROTO_HASH_LEN);
    store_be64_put(v + 8 + PROTO_HASH_LEN, c->head.held);
    int rc = store_txn_mput(t, t->s->db_heads, "put heads", c->origin, c->olen, v, sizeof v, 0);
    if (rc)
        return rc;
    c->dirty = false;
    c->exists = true;
    return 0;
}

int store_head_load(store_txn_t *t, const char *origin, size_t olen, store_head_t **out)
{
    store_head_cache_t *c = &t->hc;
    if (c->valid && c->olen == olen && memcmp(c->origin, origin, olen) == 0) {
        *out = &c->head;
        return 0;
    }
    int rc = head_flush(t);
    if (rc)
        return rc;
    c->valid = false;
    const uint8_t *v;
    size_t vlen;
    rc = store_txn_mget(t, t->s->db_heads, "get heads", origin, olen, &v, &vlen);
    if (rc < 0)
        return rc;
    if (rc == 0 && vlen < STORE_HEAD_LEN)
        return err_set(LD_ECORRUPT, "store: head record of '%.*s' is %zu bytes",
                       (int)olen, origin, vlen);
    c->exists = rc == 0;
    if (c->exists)
        store_head_decode(v, &c->head);
    else
        memset(&c->head, 0, sizeof c->head);
    memcpy(c->origin, origin, olen);
    c->origin[olen] = '\0';
    c->olen = olen;
    c->dirty = false;
    c->valid = true;
    *out = &c->head;
    return 0;
}

int store_hlc_load(store_txn_t *t)
{
    if (t->hlc_loaded)
        return 0;
    const uint8_t *v;
    size_t len;
    uint64_t last = 0;
    int rc = store_txn_mget(t, t->s->db_meta, "get meta", "hlc", 3, &v, &len);
    if (rc < 0)
        return rc;
    if (rc == 0 && len != 8)
        return err_set(LD_ECORRUPT, "store: meta 'hlc' is %zu bytes, not 8", len);
    if (rc == 0)
        last = store_be64_get(v);
    hlc_init(&t->hlc, last, t->s->clock, t->s->clock_arg);
    t->hlc_loaded = true;
    return 0;
}

static int counter_add(store_txn_t *t, const char *key, int64_t *delta)
{
    if (*delta == 0)
        return 0;
    const uint8_t *v;
    size_t len;
    uint64_t n = 0;
    int rc = store_txn_mget(t, t->s->db_meta, "get meta", key, strlen(key), &v, &len);
    if (rc < 0)
        return store_txn_fail(t, rc);
    if (rc == 0 && len == 8)
        n = store_be64_get(v);
    if (*delta < 0 && (uint64_t)-*delta > n)
        return store_txn_fail(t, err_set(LD_ECORRUPT, "store: counter '%s' would go below zero", key));
    uint8_t buf[8];
    store_be64_put(buf, n + (uint64_t)*delta);
    rc = store_txn_mput(t, t->s->db_meta, "put meta", key, strlen(key), buf, 8, 0);
    if (!rc)
        *delta = 0;
    return rc;
}

int store_txn_flush(store_txn_t *t)
{
    if (!t->write)
        return 0;
    int rc = store_events_tail_flush(t);
    if (!rc)
        rc = head_flush(t);
    if (!rc && t->hlc_dirty) {
        uint8_t buf[8];
        store_be64_put(buf, t->hlc.last);
        rc = store_txn_mput(t, t->s->db_meta, "put meta", "hlc", 3, buf, 8, 0);
        if (!rc)
            t->hlc_dirty = false;
    }
    int64_t *d[] = {&t->d_events, &t->d_held, &t->d_equiv, &t->d_origins};
    for (size_t i = 0; !rc && i < sizeof d / sizeof d[0]; i++)
        rc = counter_add(t, COUNTER_KEY[i], d[i]);
    return rc;
}

/* Counter i (events, held, equivocations, origins) as the txn sees it. */
int store_counter_get(store_txn_t *t, int i, uint64_t *out)
{
    const uint8_t *v;
    size_t len;
    const char *key = COUNTER_KEY[i];
    int rc = store_txn_mget(t, t->s->db_meta, "get meta", key, strlen(key), &v, &len);
    if (rc < 0)
        return rc;
    *out = rc == 0 && len == 8 ? store_be64_get(v) : 0;
    return 0;
}

/* ---- metadata ---- */

static int meta_key_ok(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > META_KEY_MAX)
        return err_set(LD_EINVAL, "store: meta key must be 1..%d bytes", META_KEY_MAX);
    return 0;
}

int store_meta_get(store_txn_t *t, const char *key, const void **val, size_t *len)
{
    int rc;
    if (!t || !val || !len)
        return err_set(LD_EINVAL, "store: store_meta_get without a transaction");
    if ((rc = meta_key_ok(key)) || (rc = store_txn_flush(t)))
        return rc;
    const uint8_t *v;
    rc = store_txn_mget(t, t->s->db_meta, "get meta", key, strlen(key), &v, len);
    if (rc == 1)
        return err_set(LD_ENOTFOUND, "store: meta '%s' is not set", key);
    if (rc == 0)
        *val = v;
    return rc;
}

/* The origin may be set once; setting it again to the same value is fine. */
static int origin_check(store_txn_t *t, const void *val, size_t len)
{
    store_t *s = t->s;
    if (!proto_origin_valid(val, len))
        return err_set(LD_EINVAL, "store: '%.*s' is not a valid origin", (int)len, (const char *)val);
    if (s->origin_len && (s->origin_len != len || memcmp(s->origin, val, len)))
        return err_set(LD_EEXIST, "store: origin is already '%s'", s->origin);
    memcpy(t->new_origin, val, len);
    t->new_origin[len] = '\0';
    return 0;
}

int store_meta_put(store_txn_t *t, const char *key, const void *val, size_t len)
{
    int rc;
    if (!t || (!val && len))
        return err_set(LD_EINVAL, "store: store_meta_put without a transaction");
    if (!t->write)
        return err_set(LD_EINVAL, "store: store_meta_put in a read transaction");
    if ((rc = meta_key_ok(key)))
        return rc;
    bool is_origin = strcmp(key, "origin") == 0;
    if (is_origin && (rc = origin_check(t, val, len)))
        return rc;
    if ((rc = store_txn_flush(t)))
        return rc;
    rc = store_txn_mput(t, t->s->db_meta, "put meta", key, strlen(key), val, len, 0);
    if (rc)
        return rc;
    t->hlc_loaded = false;      /* the caller may have written "hlc" */
    if (is_origin)
        t->origin_set = true;
    return 0;
}

const char *store_origin(const store_t *s)
{
    return s ? s->origin : "";
}

/* ---- open and close ---- */

/* Run inside the first transaction: opens the store's databases (creating
 * them with STORE_CREATE), checks the format, caches the origin. */
static int open_dbs(store_txn_t *t, void *arg)
{
    store_t *s = arg;
    unsigned create = (s->flags & STORE_CREATE) && t->write ? MDB_CREATE : 0;
    MDB_dbi *dbi[] = {&s->db_events, &s->db_heads, &s->db_held, &s->db_equiv, &s->db_meta};
    const char *name[] = {"events", "heads", "held", "equivocations", "meta"};
    for (size_t i = 0; i < 5; i++) {
        int rc = mdb_dbi_open(t->txn, name[i], create, dbi[i]);
        if (rc == MDB_NOTFOUND)
            return err_set(LD_ENOTFOUND, "store: database '%s' is missing: not a store, "
                           "or not initialised", name[i]);
        if (rc)
            return store_lmdb_err(rc, "open databases");
    }
    const uint8_t *v;
    size_t len;
    int rc = store_txn_mget(t, s->db_meta, "get meta", "format", 6, &v, &len);
    if (rc < 0)
        return rc;
    if (rc == 1 && !create)
        return err_set(LD_ECORRUPT, "store: meta 'format' is missing");
    if (rc == 1) {
        uint8_t f[4] = {0, 0, 0, STORE_FORMAT};
        return store_txn_mput(t, s->db_meta, "put meta", "format", 6, f, 4, 0);
    }
    if (len != 4)
        return err_set(LD_ECORRUPT, "store: meta 'format' is %zu bytes, not 4", len);
    uint32_t f = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
    if (f != STORE_FORMAT && f != 1)
        return err_set(LD_EVERSION, "store: format %u, this build reads formats 1 and %u", f,
                       STORE_FORMAT);
    if (f == 1 && t->write) {
        /* Format 2 only adds chunk records to `events`, which a format-1
         * build would misread: mark the store before writing any. */
        uint8_t f2[4] = {0, 0, 0, STORE_FORMAT};
        if ((rc = store_txn_mput(t, s->db_meta, "put meta", "format", 6, f2, 4, 0)))
            return rc;
    }
    rc = store_txn_mget(t, s->db_meta, "get meta", "origin", 6, &v, &len);
    if (rc < 0)
        return rc;
    if (rc == 0 && (len > PROTO_ORIGIN_MAX || !proto_origin_valid((const char *)v, len)))
        return err_set(LD_ECORRUPT, "store: meta 'origin' is not a valid origin");
    s->origin_len = rc == 0 ? len : 0;
    memcpy(s->origin, rc == 0 ? (const char *)v : "", s->origin_len);
    s->origin[s->origin_len] = '\0';
    return 0;
}

/* The map a new store starts with: LIANDONG_MAP_SIZE (bytes, at least
 * 64 KiB) if set, for tests that want the map to grow under load. */
static size_t initial_map_size(void)
{
    const char *e = getenv("LIANDONG_MAP_SIZE");
    char *end;
    unsigned long long v = e ? strtoull(e, &end, 10) : 0;
    return e && *end == '\0' && v >= 65536 && v <= SIZE_MAX / 2 ? (size_t)v : DEFAULT_MAP_SIZE;
}

static int env_open(store_t *s, const char *dir, const store_opts_t *opts)
{
    int rc = mdb_env_create(&s->env);
    if (rc)
        return store_lmdb_err(rc, "create environment");
    size_t map = opts && opts->map_size ? opts->map_size : initial_map_size();
    /* View modules add their own named databases through store_dbi. */
    if ((rc = mdb_env_set_maxdbs(s->env, 32)) || (rc = mdb_env_set_mapsize(s->env, map)))
        return store_lmdb_err(rc, "configure environment");
    /* Durable commits: no MDB_NOSYNC / MDB_NOMETASYNC / MDB_WRITEMAP. */
    unsigned fl = (s->flags & STORE_RDONLY) ? MDB_RDONLY : 0;
    rc = mdb_env_open(s->env, dir, fl, 0600);
    if (rc)
        return err_set(rc == ENOENT ? LD_ENOTFOUND : (rc > 0 ? -rc : rc),
                       "store: %s: %s", dir, mdb_strerror(rc));
    /* LMDB keeps the largest map size any process has used in the file;
     * start from that, so a grown store is not regrown (with a retried
     * transaction per doubling) after every restart. */
    rc = mdb_env_set_mapsize(s->env, 0);
    if (!rc && store_map_size(s) < map)
        rc = mdb_env_set_mapsize(s->env, map);
    if (rc)
        return store_lmdb_err(rc, "set the map size");
    /* A process killed inside a read transaction leaves its reader slot
     * behind, pinning old pages so the file only grows: clear such slots. */
    int dead;
    mdb_reader_check(s->env, &dead);
    return 0;
}

static int store_init(store_t *s, const char *dir, const store_opts_t *opts)
{
    if (!(s->flags & STORE_CREATE) && access(s->data_path, F_OK) != 0)
        return err_set(LD_ENOTFOUND, "store: %s: no store here (run init first)", dir);
    int rc = env_open(s, dir, opts);
    if (rc)
        return rc;
    if (!(s->flags & STORE_RDONLY))
        return store_write(s, open_dbs, s);
    store_txn_t *t;
    if ((rc = store_read_begin(s, &t)))
        return rc;
    rc = open_dbs(t, s);
    store_read_end(&t);
    return rc;
}

/* The struct, its path and its locks; NULL when out of memory or keys. */
static store_t *store_alloc(const char *dir)
{
    size_t dlen = strlen(dir);
    store_t *s = calloc(1, sizeof *s);
    if (s)
        s->data_path = malloc(dlen + sizeof "/data.mdb");
    if (!s || !s->data_path || pthread_key_create(&s->in_txn, NULL)) {
        if (s)
            free(s->data_path);
        free(s);
        return NULL;
    }
    memcpy(s->data_path, dir, dlen);
    memcpy(s->data_path + dlen, "/data.mdb", sizeof "/data.mdb");
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    /* Writer preference: a growing writer must not starve behind readers. */
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->remap, &a);
    pthread_rwlockattr_destroy(&a);
    pthread_mutex_init(&s->dbi_lock, NULL);
    return s;
}

int store_open(const char *dir, unsigned flags, const store_opts_t *opts, store_t **out)
{
    if (!out || !dir || !*dir)
        return err_set(LD_EINVAL, "store: store_open without a directory");
    *out = NULL;
    store_t *s = store_alloc(dir);
    if (!s)
        return err_set(LD_ENOMEM, "store: out of memory");
    s->flags = flags;
    s->clock = opts ? opts->clock : NULL;
    s->clock_arg = opts ? opts->clock_arg : NULL;
    int rc = store_init(s, dir, opts);
    if (rc) {
        store_close(&s);
        return rc;
    }
    *out = s;
    return 0;
}

void store_close(store_t **sp)
{
    if (!sp || !*sp)
        return;
    store_t *s = *sp;
    *sp = NULL;
    if (s->env)
        mdb_env_close(s->env);
    for (int i = 0; i < s->nhook; i++)
        if (s->hook[i].close)
            s->hook[i].close(s->hook[i].arg);
    pthread_rwlock_destroy(&s->remap);
    pthread_mutex_destroy(&s->dbi_lock);
    pthread_key_delete(s->in_txn);
    free(s->data_path);
    free(s);
}
