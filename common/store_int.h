/*
 * store_int.h -- what the store's own files (store.c, store_put.c,
 * store_read.c) share: the store and transaction structs, key layouts, and
 * the write helpers that count injected faults. Not for use outside common/store*.c.
 *
 * The write path keeps a little state per transaction so that appending an
 * event costs a share of one LMDB put: the run of events being appended to
 * one origin (the tail, see STORE_CHUNK_TAG), the head record of the origin
 * last written (head cache), the HLC state, and counter deltas. They are
 * written back ("flushed") before commit and before anything that reads
 * them from the database (event lookups and scans, store_meta_get/put,
 * store_heads_foreach, store_info_get), so a caller of the public API never
 * sees the difference.
 */
#ifndef LD_COMMON_STORE_INT_H
#define LD_COMMON_STORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/store.h"

#define STORE_FORMAT        2u   /* 2: chunk records in `events`; 1 is read and upgraded */
#define STORE_MAX_INDEXERS  8
#define STORE_HEAD_LEN      (8 + PROTO_HASH_LEN + 8)  /* seq, hash, held */
/* origin, 0x00, seq (8, big-endian) */
#define STORE_EVKEY_MAX     (PROTO_ORIGIN_MAX + 1 + 8)
/* an event key followed by the event's hash */
#define STORE_EQKEY_MAX     (STORE_EVKEY_MAX + PROTO_HASH_LEN)

/* A record of the events database holds one event's bytes, or a run of
 * consecutive events of one origin (a "chunk"), keyed by the first one's
 * seq: STORE_CHUNK_TAG, then per event its length (4 bytes, big-endian) and
 * its bytes. The tag is msgpack's never-used byte, so no event starts with
 * it and a reader tells the two apart by the first byte. A transaction
 * gathers what it appends to one origin (the "tail") and writes it as one
 * record: one LMDB put per run instead of one per event, and records that
 * fill their pages (one event per put left leaves half empty). */
#define STORE_CHUNK_TAG     0xc1
#define STORE_CHUNK_EVENTS  256
#define STORE_CHUNK_BYTES   32768

typedef struct store_chunk_iter {
    const uint8_t *p, *end;
} store_chunk_iter_t;

static inline bool store_record_is_chunk(const void *v, size_t len)
{
    return len > 0 && *(const uint8_t *)v == STORE_CHUNK_TAG;
}

static inline void store_chunk_begin(store_chunk_iter_t *it, const void *v, size_t len)
{
    it->p = (const uint8_t *)v + 1;
    it->end = (const uint8_t *)v + len;
}

/* The next event of a chunk: 0 and its bytes, 1 at the end, LD_ECORRUPT
 * (err_set) if a length runs past the record. */
int store_chunk_next(store_chunk_iter_t *it, const uint8_t **raw, size_t *len);

struct store {
    MDB_env *env;
    MDB_dbi db_events, db_heads, db_held, db_equiv, db_meta;
    unsigned flags;
    hlc_clock_fn clock;
    void *clock_arg;
    /* Every transaction of this process holds it shared; remapping (map
     * growth, adopting another process's growth) holds it exclusively,
     * because LMDB may only remap while no transaction of this process is
     * open and read transactions of other threads point into the map. */
    pthread_rwlock_t remap;
    pthread_mutex_t dbi_lock;   /* mdb_dbi_open is not re-entrant */
    pthread_key_t in_txn;       /* non-NULL while this thread holds a txn */
    struct { store_index_fn fn; void *arg; } idx[STORE_MAX_INDEXERS];
    int nidx;
    struct { store_txn_hook_fn begin, flush; void (*close)(void *); void *arg; }
        hook[STORE_MAX_INDEXERS];
    int nhook;
    size_t origin_len;
    char origin[PROTO_ORIGIN_MAX + 1];
    char *data_path;            /* DIR/data.mdb, for store_info_get */
};

/* The head record of one origin, cached for the duration of a write txn. */
typedef struct store_head_cache {
    bool valid;                 /* origin/head below describe a real lookup */
    bool exists;                /* a record is (or will be) in the heads db */
    bool dirty;                 /* head differs from the database */
    size_t olen;
    char origin[PROTO_ORIGIN_MAX + 1];
    store_head_t head;
} store_head_cache_t;

struct store_txn {
    store_t *s;
    MDB_txn *txn;
    bool write;
    bool heap;                  /* allocated by store_read_begin */
    bool map_full;              /* an operation hit MDB_MAP_FULL: grow and retry */
    int failed;                 /* first failed write: the txn must not commit */
    int append_mode;            /* 0 try MDB_APPEND, -1 it failed once: plain puts */
    MDB_cursor *ev_cur;         /* for those puts; LMDB closes it with the txn */
    store_head_cache_t hc;
    bool hlc_loaded, hlc_dirty;
    hlc_t hlc;
    int64_t d_events, d_held, d_equiv, d_origins;  /* counter deltas */
    bool origin_set;            /* meta "origin" written in this txn */
    char new_origin[PROTO_ORIGIN_MAX + 1];
    buf_t enc;                  /* the event being appended */
    buf_t scratch;              /* a held event being moved in */
    /* The tail: events appended to one origin in this txn and not yet put
     * (a chunk in the making, see STORE_CHUNK_TAG). Written before commit
     * and before anything reads the events database. */
    buf_t tail;
    uint32_t tail_n;
    uint64_t tail_seq;          /* seq of its first event */
    size_t tail_olen;
    char tail_origin[PROTO_ORIGIN_MAX + 1];
};

static inline void store_be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static inline uint64_t store_be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Builds origin 0x00 seq(BE) into k; returns its length. */
static inline size_t store_evkey(uint8_t *k, const char *origin, size_t olen, uint64_t seq)
{
    memcpy(k, origin, olen);
    k[olen] = 0;
    store_be64_put(k + olen + 1, seq);
    return olen + 9;
}

/* Translates an LMDB or errno code from operation `what` into this
 * project's convention (ENOSPC -> LD_ENOSPACE) with err_set(). A code of
 * this project's passes through unchanged, its message with it. */
int store_lmdb_err(int rc, const char *what);
/* The fault hook: LD_EFAULT when the countdown of store_fault_after hits. */
int store_fault_check(const char *what);

/* mdb_put/mdb_del with the fault hook; a failure marks the txn failed
 * (MDB_KEYEXIST under MDB_NOOVERWRITE/MDB_APPEND and MDB_NOTFOUND from a
 * delete are returned as is, unmarked, for the caller to judge). */
int store_txn_mput(store_txn_t *t, MDB_dbi dbi, const char *what, const void *key, size_t klen,
                   const void *val, size_t vlen, unsigned flags);
int store_txn_mdel(store_txn_t *t, MDB_dbi dbi, const char *what, const void *key, size_t klen);
/* mdb_get; 1 if absent, 0 found, negative on error. */
int store_txn_mget(store_txn_t *t, MDB_dbi dbi, const char *what, const void *key, size_t klen,
                   const uint8_t **val, size_t *vlen);
/* Marks the transaction unusable for commit and returns rc. */
int store_txn_fail(store_txn_t *t, int rc);

/* Makes the head cache describe `origin` (flushing another origin's dirty
 * record first) and returns it. */
int store_head_load(store_txn_t *t, const char *origin, size_t olen, store_head_t **out);
/* Writes back the tail, the dirty head, HLC and counters. */
int store_txn_flush(store_txn_t *t);
/* Puts the tail (store_put.c); a no-op in a read txn or with no tail. */
int store_events_tail_flush(store_txn_t *t);
/* The bytes of event (origin, seq) wherever they are (store_read.c): 0,
 * 1 if absent, negative on error. Flushes the tail first. */
int store_events_find(store_txn_t *t, const char *origin, size_t olen, uint64_t seq,
                      const uint8_t **raw, size_t *len);
/* Loads the HLC state from meta (once per txn). */
int store_hlc_load(store_txn_t *t);
void store_head_decode(const uint8_t *v, store_head_t *h);
/* Counter i (0 events, 1 held, 2 equivocations, 3 origins) as stored,
 * without this txn's deltas. */
int store_counter_get(store_txn_t *t, int i, uint64_t *out);

#endif
