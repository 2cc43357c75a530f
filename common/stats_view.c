/*
 * stats_view.c -- the statistics view's life on a store: attaching it (the
 * indexer and the transaction hooks of its write-back cache), rebuilding it
 * from the events when its layout version changed, and which view belongs
 * to which open store (for stats_rebuild).
 */
#include "common/stats_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"

/* ---- the store's transaction hooks ---- */

static int hook_begin(store_txn_t *t, void *arg)
{
    stats_view_t *v = arg;
    stats_cache_clear(v->cache);   /* a retried transaction starts over */
    stats_memo_clear(v);
    int rc = store_dbi(t, "stats.agg", MDB_CREATE, &v->dbi[STATS_DB_AGG]);
    return rc ? rc : store_dbi(t, "stats.ent", MDB_CREATE, &v->dbi[STATS_DB_ENT]);
}

static int hook_flush(store_txn_t *t, void *arg)
{
    return stats_flush(arg, store_txn_mdb(t));
}

static void views_forget(stats_view_t *v);

static void hook_close(void *arg)
{
    stats_view_t *v = arg;
    views_forget(v);
    stats_cache_destroy(&v->cache);
    free(v);
}

/* ---- attach and rebuild ---- */

typedef struct rebuild {
    store_txn_t *t;
    stats_view_t *v;
    stats_progress_fn progress;
    void *arg;
    uint64_t done, total;
} rebuild_t;

static int rebuild_one(const char *origin, uint64_t seq, const uint8_t *raw, size_t len,
                       void *arg)
{
    rebuild_t *r = arg;
    proto_event_t ev;
    if (proto_event_decode(raw, len, 0, &ev))
        return err_set(LD_ECORRUPT, "statistics: stored event %s#%llu does not decode",
                       origin, (unsigned long long)seq);
    if (r->progress && ++r->done % 100000 == 0)
        r->progress(r->done, r->total, r->arg);
    return stats_index(r->t, &ev, r->v);
}

static int rebuild_fn(store_txn_t *t, void *arg)
{
    rebuild_t *rp = arg, r = *rp;   /* a retried transaction counts again */
    r.t = t;
    store_info_t info;
    if (r.progress && store_info_get(t, &info) == 0)
        r.total = info.events;
    MDB_txn *txn = store_txn_mdb(t);
    int rc = mdb_drop(txn, r.v->dbi[STATS_DB_AGG], 0);
    if (!rc)
        rc = mdb_drop(txn, r.v->dbi[STATS_DB_ENT], 0);
    if (rc)
        return stats_lmdb_fail(rc, "empty the view");
    stats_cache_clear(r.v->cache);
    stats_memo_clear(r.v);
    if ((rc = store_events_foreach(t, "", 0, rebuild_one, &r)))
        return rc;
    return store_meta_put(t, "stats.version", STATS_VERSION, strlen(STATS_VERSION));
}

static stats_view_t *view_of(store_t *s);

int stats_rebuild_progress(store_t *s, stats_progress_fn progress, void *arg)
{
    stats_view_t *v = view_of(s);
    if (!v)
        return err_set(LD_EINVAL, "statistics: the view is not attached to this store");
    rebuild_t r = {NULL, v, progress, arg, 0, 0};
    return store_write(s, rebuild_fn, &r);
}

int stats_rebuild(store_t *s)
{
    return stats_rebuild_progress(s, NULL, NULL);
}

static int version_ok(store_t *s, bool *ok)
{
    store_txn_t *t;
    int rc = store_read_begin(s, &t);
    if (rc)
        return rc;
    const void *v;
    size_t len;
    rc = store_meta_get(t, "stats.version", &v, &len);
    *ok = rc == 0 && len == strlen(STATS_VERSION) && memcmp(v, STATS_VERSION, len) == 0;
    store_read_end(&t);
    return rc == LD_ENOTFOUND ? 0 : rc;
}

/* Which view belongs to which open store: attach registers, close forgets. */
#define MAX_STORES 64
static struct { store_t *s; stats_view_t *v; } views[MAX_STORES];
static pthread_mutex_t views_lock = PTHREAD_MUTEX_INITIALIZER;

static stats_view_t *view_of(store_t *s)
{
    stats_view_t *v = NULL;
    pthread_mutex_lock(&views_lock);
    for (int i = 0; i < MAX_STORES && !v; i++)
        if (views[i].s == s)
            v = views[i].v;
    pthread_mutex_unlock(&views_lock);
    return v;
}

static void views_forget(stats_view_t *v)
{
    pthread_mutex_lock(&views_lock);
    for (int i = 0; i < MAX_STORES; i++)
        if (views[i].v == v)
            views[i].s = NULL, views[i].v = NULL;
    pthread_mutex_unlock(&views_lock);
}

static int views_remember(store_t *s, stats_view_t *v)
{
    int rc = err_set(LD_ETOOBIG, "statistics: more than %d stores open in one process",
                     MAX_STORES);
    pthread_mutex_lock(&views_lock);
    for (int i = 0; i < MAX_STORES && rc; i++)
        if (!views[i].s) {
            views[i].s = s;
            views[i].v = v;
            rc = 0;
        }
    pthread_mutex_unlock(&views_lock);
    return rc;
}

int stats_attach(store_t *s)
{
    /* The indexer builds its tables on first use (stats_index_init): a
     * `record` or `status` process should not pay for them at start. */
    stats_view_t *v = calloc(1, sizeof *v);
    if (!v || !(v->cache = stats_cache_new())) {
        free(v);
        return err_set(LD_ENOMEM, "statistics: out of memory");
    }
    int rc = views_remember(s, v);
    if (rc) {
        stats_cache_destroy(&v->cache);
        free(v);
        return rc;
    }
    /* From here on the store owns v and frees it in store_close. */
    if ((rc = store_add_txn_hooks(s, hook_begin, hook_flush, hook_close, v))) {
        views_forget(v);
        stats_cache_destroy(&v->cache);
        free(v);
        return rc;
    }
    bool ok = false;
    if ((rc = store_add_indexer(s, stats_index, v)) || (rc = version_ok(s, &ok)) || ok)
        return rc;
    /* A read-only store cannot be rebuilt; its queries say so
     * (views_version_check in stats_query). */
    if (store_rdonly(s))
        return 0;
    /* On a big hub this takes a while, inside whatever opened the store
     * (the daemon's start, a record): say so. */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    rc = stats_rebuild(s);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    if (!rc && secs >= 1)
        log_info("stats", "statistics view (layout %s) rebuilt from the events held in %.1f s",
                 STATS_VERSION, secs);
    return rc;
}
