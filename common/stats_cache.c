/*
 * stats_cache.c -- the statistics view's write-back cache: the records an
 * indexing transaction touches, kept in memory and written to LMDB once,
 * sorted by key, before the transaction commits (store txn hooks). A group
 * commit of thousands of events then costs one put per distinct record
 * instead of one get and one put per event and record.
 *
 * Records live in an arena that is dropped as a whole; the table is open
 * addressing over (hash, pointer) slots, and a list keeps the records in
 * the order they were made. When it grows past its limits in the middle of
 * a big transaction (an import, a rebuild), it is written out and emptied
 * there: that is allowed at any point of the transaction.
 */
#include "common/stats_int.h"

#include <stdlib.h>

#include "common/err.h"

#define ARENA_CHUNK   (1u << 20)
#define MAX_RECORDS   (1u << 17)      /* flush beyond this many records... */
#define MAX_BYTES     (96u << 20)     /* ...or this much memory */

/* A slot keeps the record's hash beside the pointer: a probe that does not
 * match costs no visit to the record (a cache miss in a table of 10^5). */
typedef struct slot {
    uint32_t hash;
    stats_rec_t *r;
} slot_t;

struct stats_cache {
    slot_t *slot;
    size_t cap, n;
    stats_rec_t **list;   /* the n records in the order made: walked in the
                             arena's order, not the table's (cache misses) */
    size_t caplist;
    char **chunk;
    size_t nchunk, capchunk, used, bytes;
};

/* A multiplicative hash, eight bytes at a time. */
static uint32_t hash(int db, const uint8_t *k, size_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)db ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, k + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, k + i, len - i);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return (uint32_t)(h ^ (h >> 32));
}

stats_cache_t *stats_cache_new(void)
{
    stats_cache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->cap = 1u << 12;
    c->slot = calloc(c->cap, sizeof *c->slot);
    if (!c->slot) {
        free(c);
        return NULL;
    }
    return c;
}

void stats_cache_clear(stats_cache_t *c)
{
    if (!c)
        return;
    memset(c->slot, 0, c->cap * sizeof *c->slot);
    for (size_t i = 1; i < c->nchunk; i++)   /* keep the first chunk */
        free(c->chunk[i]);
    c->nchunk = c->nchunk ? 1 : 0;
    c->n = c->used = c->bytes = 0;
}

void stats_cache_destroy(stats_cache_t **cp)
{
    if (!cp || !*cp)
        return;
    stats_cache_t *c = *cp;
    *cp = NULL;
    for (size_t i = 0; i < c->nchunk; i++)
        free(c->chunk[i]);
    free(c->chunk);
    free(c->slot);
    free(c->list);
    free(c);
}

static void *arena(stats_cache_t *c, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (!c->nchunk || c->used + size > ARENA_CHUNK) {
        if (c->nchunk == c->capchunk) {
            size_t cap = c->capchunk ? 2 * c->capchunk : 16;
            char **ch = realloc(c->chunk, cap * sizeof *ch);
            if (!ch)
                return NULL;
            c->chunk = ch;
            c->capchunk = cap;
        }
        /* The first chunk is kept across clears; a big record gets its own. */
        size_t want = size > ARENA_CHUNK ? size : ARENA_CHUNK;
        if (c->nchunk == 0 || c->used || size > ARENA_CHUNK) {
            char *p = malloc(want);
            if (!p)
                return NULL;
            c->chunk[c->nchunk++] = p;
        }
        c->used = 0;
    }
    void *p = c->chunk[c->nchunk - 1] + c->used;
    c->used += size;
    c->bytes += size;
    return p;
}

static int grow(stats_cache_t *c)
{
    size_t cap = c->cap * 2;
    slot_t *slot = calloc(cap, sizeof *slot);
    if (!slot)
        return err_set(LD_ENOMEM, "statistics: out of memory");
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->slot[i].r)
            continue;
        size_t j = c->slot[i].hash & (cap - 1);
        while (slot[j].r)
            j = (j + 1) & (cap - 1);
        slot[j] = c->slot[i];
    }
    free(c->slot);
    c->slot = slot;
    c->cap = cap;
    return 0;
}

int stats_cache_get(stats_cache_t *c, MDB_txn *txn, MDB_dbi dbi, int db, const uint8_t *k,
                    size_t klen, size_t cap, stats_rec_t **out)
{
    return stats_cache_find(c, txn, dbi, db, k, klen, cap, true, out);
}

int stats_cache_find(stats_cache_t *c, MDB_txn *txn, MDB_dbi dbi, int db, const uint8_t *k,
                     size_t klen, size_t cap, bool load, stats_rec_t **out)
{
    uint32_t h = hash(db, k, klen);
    size_t i = h & (c->cap - 1);
    for (; c->slot[i].r; i = (i + 1) & (c->cap - 1)) {
        stats_rec_t *r = c->slot[i].r;
        if (c->slot[i].hash == h && r->db == db && r->klen == klen &&
            memcmp(r->key, k, klen) == 0) {
            *out = r;
            return 0;
        }
    }
    MDB_val key = {klen, (void *)k}, val = {0, NULL};
    int rc = load ? mdb_get(txn, dbi, &key, &val) : MDB_NOTFOUND;
    if (rc && rc != MDB_NOTFOUND)
        return stats_lmdb_fail(rc, "read a record");
    if (!rc && val.mv_size > cap)
        cap = val.mv_size;
    size_t kpad = (klen + 7) & ~(size_t)7;   /* the value is 8-byte aligned */
    stats_rec_t *r = arena(c, sizeof *r + kpad + cap);
    if (!r)
        return err_set(LD_ENOMEM, "statistics: out of memory");
    r->db = (uint8_t)db;
    r->klen = (uint16_t)klen;
    r->existed = rc == 0;
    r->partial = !load;
    r->dirty = false;
    r->cap = (uint32_t)cap;
    r->len = rc ? 0 : (uint32_t)val.mv_size;
    r->key = (uint8_t *)(r + 1);
    r->val = r->key + kpad;
    memcpy(r->key, k, klen);
    memset(r->val, 0, cap);
    if (r->len)
        memcpy(r->val, val.mv_data, r->len);
    if (c->n == c->caplist) {
        size_t cap2 = c->caplist ? 2 * c->caplist : 1024;
        stats_rec_t **l = realloc(c->list, cap2 * sizeof *l);
        if (!l)
            return err_set(LD_ENOMEM, "statistics: out of memory");
        c->list = l;
        c->caplist = cap2;
    }
    c->list[c->n] = r;
    c->slot[i] = (slot_t){h, r};
    if (++c->n * 2 > c->cap && (rc = grow(c)))
        return rc;
    *out = r;
    return 0;
}

/*
 * Sorting by key: qsort over record pointers would visit two records per
 * comparison. The first 16 key bytes (the database before them) are copied
 * beside each pointer instead; only keys that share them are compared whole.
 */
typedef struct sort_ent {
    uint64_t k0, k1;
    stats_rec_t *r;
} sort_ent_t;

static uint64_t key_word(const stats_rec_t *r, size_t from, size_t n)
{
    uint64_t w = 0;
    for (size_t j = from; j < from + n; j++)
        w = (w << 8) | (j < r->klen ? r->key[j] : 0);
    return w;
}

static int sort_cmp(const void *a, const void *b)
{
    const sort_ent_t *x = a, *y = b;
    if (x->k0 != y->k0)
        return x->k0 < y->k0 ? -1 : 1;
    if (x->k1 != y->k1)
        return x->k1 < y->k1 ? -1 : 1;
    size_t n = x->r->klen < y->r->klen ? x->r->klen : y->r->klen;
    int c = memcmp(x->r->key, y->r->key, n);
    return c ? c : (x->r->klen > y->r->klen) - (x->r->klen < y->r->klen);
}

/* Collects the records that pass `want` into a new array sorted by
 * (database, key). */
static int collect_sorted(stats_cache_t *c, bool (*want)(const stats_rec_t *),
                          stats_rec_t ***out, size_t *n)
{
    *n = 0;
    *out = malloc((c->n ? c->n : 1) * sizeof **out);
    sort_ent_t *e = malloc((c->n ? c->n : 1) * sizeof *e);
    if (!*out || !e) {
        free(*out);
        *out = NULL;
        free(e);
        return err_set(LD_ENOMEM, "statistics: out of memory");
    }
    size_t m = 0;
    for (size_t i = 0; i < c->n; i++) {
        stats_rec_t *r = c->list[i];
        if (want(r))
            e[m++] = (sort_ent_t){(uint64_t)r->db << 56 | key_word(r, 0, 7),
                                  key_word(r, 7, 8), r};
    }
    qsort(e, m, sizeof *e, sort_cmp);
    for (size_t i = 0; i < m; i++)
        (*out)[i] = e[i].r;
    free(e);
    *n = m;
    return 0;
}

static bool is_partial(const stats_rec_t *r)
{
    return r->partial;
}

static bool is_dirty(const stats_rec_t *r)
{
    return r->dirty;
}

int stats_cache_partials(stats_cache_t *c, stats_rec_t ***out, size_t *n)
{
    return collect_sorted(c, is_partial, out, n);
}

bool stats_cache_full(const stats_cache_t *c)
{
    return c->n >= MAX_RECORDS || c->bytes >= MAX_BYTES;
}

static bool all_zero(const stats_rec_t *r)
{
    for (uint32_t i = 0; i < r->len; i++)
        if (r->val[i])
            return false;
    return true;
}

/* Writes a run of records sorted by key, through one cursor per database:
 * each put searches from the root anyway, but the cursor set-up is paid once
 * and sorted keys touch each page in turn. */
static int write_run(MDB_txn *txn, const MDB_dbi dbi[2], MDB_cursor *cur[2],
                     stats_rec_t *const *run, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        stats_rec_t *r = run[i];
        MDB_val key = {r->klen, r->key}, val = {r->len, r->val};
        if (!cur[r->db] && (rc = mdb_cursor_open(txn, dbi[r->db], &cur[r->db])))
            break;
        /* An aggregate that adds up to nothing is not kept. */
        if (!r->len || (r->db == STATS_DB_AGG && all_zero(r))) {
            if (r->existed && (rc = mdb_cursor_get(cur[r->db], &key, NULL, MDB_SET)) == 0)
                rc = mdb_cursor_del(cur[r->db], 0);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        } else {
            rc = mdb_cursor_put(cur[r->db], &key, &val, 0);
        }
    }
    return rc;
}

int stats_cache_flush(stats_cache_t *c, MDB_txn *txn, const MDB_dbi dbi[2])
{
    size_t n;
    stats_rec_t **dirty;
    int rc = collect_sorted(c, is_dirty, &dirty, &n);
    if (rc)
        return rc;
    MDB_cursor *cur[2] = {NULL, NULL};
    rc = write_run(txn, dbi, cur, dirty, n);
    for (int i = 0; i < 2; i++)
        if (cur[i])
            mdb_cursor_close(cur[i]);
    free(dirty);
    if (rc)
        return stats_lmdb_fail(rc, "write a record");
    stats_cache_clear(c);
    return 0;
}
