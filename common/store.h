/*
 * store.h -- the LMDB store: every event this participant holds, per-origin
 * heads (the version vector), out-of-order arrivals, equivocations, metadata.
 *
 * One LMDB environment per data directory (docs/storage.md has the layout).
 * Events are kept as their exact bytes, so a hub forwards without
 * re-encoding and hashes never drift.
 *
 * Writes go through store_write(): it runs a callback inside one write
 * transaction and commits durably (fsync), so "recorded" means on disk.
 * If the map fills up, the transaction is aborted, the map doubled, and the
 * callback run again from the start; a callback must therefore have no
 * effect outside the transaction except on its own argument, which it
 * must (re)initialise at its start. LMDB serialises writers across
 * processes, so the CLI and a daemon may write one directory at once and a
 * log stays gapless.
 *
 * Reads go through read transactions (store_read_begin/end). Pointers
 * returned from a read or write transaction point into the LMDB map and are
 * valid until that transaction ends.
 *
 * Threads: a store_t may be shared by threads, but each transaction belongs
 * to the thread that began it, and a thread holds at most one at a time
 * (LMDB's rule; the environment is opened with MDB_NOTLS off).
 *
 * Errors: 0 or a negative code (common/err.h) with err_msg() set. Disk full
 * (ENOSPC) becomes LD_ENOSPACE; nothing already stored is touched.
 */
#ifndef LD_COMMON_STORE_H
#define LD_COMMON_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "common/hlc.h"
#include "proto/event.h"

typedef struct store store_t;
typedef struct store_txn store_txn_t;

typedef struct store_opts {
    size_t map_size;          /* initial map size in bytes; 0: 1 GiB (address space, not disk) */
    hlc_clock_fn clock;       /* NULL: the real clock */
    void *clock_arg;
} store_opts_t;

enum {
    STORE_CREATE = 1u << 0,   /* create the environment if missing */
    STORE_RDONLY = 1u << 1
};

/* Opens (or with STORE_CREATE creates) the environment in directory `dir`,
 * which must exist. opts may be NULL. */
int store_open(const char *dir, unsigned flags, const store_opts_t *opts, store_t **out);
/* Closes and frees; *s becomes NULL. Accepts NULL and *s == NULL.
 * No transaction of this store may be open. */
void store_close(store_t **s);

/* The current map size (it grows by doubling on MDB_MAP_FULL). */
size_t store_map_size(const store_t *s);
/* True if s was opened with STORE_RDONLY: it never begins a write
 * transaction, so it never waits for LMDB's writer lock, and store_write
 * returns LD_EINVAL. */
bool store_rdonly(const store_t *s);

/* ---- transactions ---- */

typedef int (*store_write_fn)(store_txn_t *t, void *arg);
/* Runs fn in one write transaction; commits if it returns 0, aborts and
 * returns its code otherwise. See the retry rule above. */
int store_write(store_t *s, store_write_fn fn, void *arg);

int store_read_begin(store_t *s, store_txn_t **out);
/* Ends a read transaction; *t becomes NULL. Accepts NULL. */
void store_read_end(store_txn_t **t);

/* The underlying LMDB transaction, for view modules that keep their own
 * named databases in the same environment and transaction. */
MDB_txn *store_txn_mdb(store_txn_t *t);
store_t *store_txn_store(store_txn_t *t);
/* Opens (creating in a write txn) a named database for a view module;
 * LMDB caches the handle per environment. */
int store_dbi(store_txn_t *t, const char *name, unsigned flags, MDB_dbi *out);

/* ---- metadata (identity, HLC state, format version, config echoes) ---- */

/* Value view valid until the transaction ends; LD_ENOTFOUND if absent. */
int store_meta_get(store_txn_t *t, const char *key, const void **val, size_t *len);
int store_meta_put(store_txn_t *t, const char *key, const void *val, size_t len);
/* The local origin, set once by init (meta key "origin"); "" if unset. The
 * store caches it at open. */
const char *store_origin(const store_t *s);

/* ---- writing events ---- */

/* A new event of the local origin. Strings NUL-terminated; author may be NULL. */
typedef struct store_new {
    const char *kind;
    const char *date;
    const char *author;
    const uint8_t *body;   /* canonical body map (proto_body_pack_json) */
    size_t body_len;
} store_new_t;

typedef struct store_ref {
    uint64_t seq;
    uint8_t hash[PROTO_HASH_LEN];
} store_ref_t;

/* Appends an event of the local origin: seq = head + 1, prev = head hash,
 * a fresh HLC stamp (persisted with it). The event is decoded strictly
 * before it is stored: LD_ESCHEMA etc. for a body the schema rejects.
 * LD_EINVAL if the store has no origin yet (init sets it first). */
int store_txn_append(store_txn_t *t, const store_new_t *ev, store_ref_t *out);

/* store_txn_append() for content the caller has validated already: exactly
 * this kind, date, author and body, under this store's origin, were
 * accepted by proto_event_decode(PROTO_DECODE_STRICT), and `checked` is what
 * that decode found (proto_checked_from). Record and import validate every
 * event before they write (to report every bad line at once); this saves
 * them a second decode per event. The event is only encoded under its new
 * seq, hlc and prev, which no rule of the decoder depends on (see
 * proto_event_encode_checked); everything else is as store_txn_append.
 * Passing content not validated so is a programming error: it would store
 * an unchecked event. */
int store_txn_append_checked(store_txn_t *t, const store_new_t *ev,
                             const proto_checked_t *checked, store_ref_t *out);

/* What one sender can make a store keep that is not part of a log: events
 * held at most this far beyond an origin's contiguous head (a sender goes
 * in order and has at most 16 batches of 4,096 events unacknowledged, so
 * twice that), and at most this many conflicting versions of one event. */
#define STORE_HELD_SPAN       131072
#define STORE_EQUIV_PER_EVENT 4

typedef enum store_put_result {
    STORE_PUT_STORED,      /* new, appended to its origin's log (head advanced) */
    STORE_PUT_HELD,        /* new, beyond the head: held until the gap fills */
    STORE_PUT_DUPLICATE,   /* already held with the same bytes: no-op */
    STORE_PUT_EQUIVOCATION,/* conflicts with what is held: kept aside (up to
                              STORE_EQUIV_PER_EVENT versions), counted */
    STORE_PUT_DROPPED      /* more than STORE_HELD_SPAN beyond the head: not kept */
} store_put_result_t;
#define STORE_PUT_RESULTS 5

/* Puts an event from elsewhere (a child, a parent, a restore). The bytes
 * must decode (non-strict); the caller has checked the sender may send
 * this origin. An event that extends the contiguous head is chained
 * (prev must equal the head's hash, else it is an equivocation), and held
 * events that now follow are moved in, each checked the same way.
 * Equivocations never replace stored events. Returns 0 with *res set for
 * all five outcomes; negative only for bad bytes or storage failure. */
int store_txn_put(store_txn_t *t, const uint8_t *raw, size_t len, store_put_result_t *res);

/* store_txn_put() for an event the caller has decoded already: *ev must be
 * what proto_event_decode() (either mode) returned for the bytes ev->raw,
 * which must stay valid until this returns (they are copied into the
 * store). Saves the second decode where a receiver judges a whole batch
 * before it puts any of it (sync_in.c). Same results and errors as
 * store_txn_put. */
int store_txn_put_event(store_txn_t *t, const proto_event_t *ev, store_put_result_t *res);

/* Called for every event that joins a contiguous log (appended, put, or
 * moved in from held), inside the write transaction, in chain order per
 * origin. Views (joint inspections, statistics) maintain themselves here.
 * A non-zero return aborts the whole transaction. */
typedef int (*store_index_fn)(store_txn_t *t, const proto_event_t *ev, void *arg);
/* Adds an indexer (at most 8); call before any write. */
int store_add_indexer(store_t *s, store_index_fn fn, void *arg);

/* Hooks for a view that batches its updates in memory over a write
 * transaction (the statistics view). `begin` runs when a write transaction
 * starts, inside it: each retry of store_write starts a new transaction, so
 * anything kept from an aborted attempt must be dropped here. `flush` runs
 * just before the commit, inside the transaction: it writes the batch; a
 * non-zero return aborts the transaction and store_write returns it
 * (MDB_MAP_FULL grows the map and retries as usual). `close` runs in
 * store_close, to free arg. Any of the three may be NULL; at most 8 sets;
 * add them before any write. (Added for the statistics view.) */
typedef int (*store_txn_hook_fn)(store_txn_t *t, void *arg);
int store_add_txn_hooks(store_t *s, store_txn_hook_fn begin, store_txn_hook_fn flush,
                        void (*close)(void *arg), void *arg);

/* ---- reading ---- */

typedef struct store_head {
    uint64_t seq;                  /* highest contiguous seq (0: none) */
    uint8_t hash[PROTO_HASH_LEN];  /* hash of event `seq` (zeros if seq 0) */
    uint64_t held;                 /* events held beyond seq, waiting for a gap */
} store_head_t;

/* LD_ENOTFOUND if nothing of that origin is held. */
int store_head_get(store_txn_t *t, const char *origin, store_head_t *out);

/* Calls fn for each origin equal to or below `prefix` ("" for all), in key
 * order. A non-zero return from fn stops and is returned. */
typedef int (*store_head_fn)(const char *origin, const store_head_t *head, void *arg);
int store_heads_foreach(store_txn_t *t, const char *prefix, store_head_fn fn, void *arg);

/* One stored event's bytes; LD_ENOTFOUND if absent. */
int store_event_get(store_txn_t *t, const char *origin, uint64_t seq,
                    const uint8_t **raw, size_t *len);

/* Calls fn for each event of the contiguous logs of origins equal to or below
 * `prefix`, with seq > since, in (origin, seq) order. The raw view is valid
 * until the transaction ends. */
typedef int (*store_event_fn)(const char *origin, uint64_t seq,
                              const uint8_t *raw, size_t len, void *arg);
int store_events_foreach(store_txn_t *t, const char *prefix, uint64_t since,
                         store_event_fn fn, void *arg);

/* Equivocations kept aside: calls fn for each (origin, seq, raw). */
int store_equivocations_foreach(store_txn_t *t, store_event_fn fn, void *arg);

typedef struct store_info {
    uint64_t events;        /* in contiguous logs, all origins */
    uint64_t held;          /* waiting for a gap to fill */
    uint64_t equivocations;
    uint64_t origins;
    uint64_t data_bytes;    /* size of the data file on disk */
    size_t map_size;
} store_info_t;
int store_info_get(store_txn_t *t, store_info_t *out);

/* ---- fault injection (tests) ---- */

/* The nth LMDB write operation (put, del, commit) from now on in this
 * process fails with LD_EFAULT; 0 disables. Lets tests sweep a failure
 * through every step of an operation (STYLE item 11). */
void store_fault_after(int nth);

#endif
