/*
 * views.h -- the derived views a store maintains (joint inspections,
 * statistics), attached to every store a unit opens.
 *
 * A view is a pure function of the SET of events held: it maintains itself
 * through a store indexer (store_add_indexer), inside the same write
 * transaction that stores each event, so every process writing a store (the
 * CLI, a daemon) keeps it current and a query never scans history. A view
 * whose stored version differs from the code's (a new store, an upgrade)
 * is rebuilt from the events at attach time.
 *
 * On a read-only store (STORE_RDONLY, unit_open_rdonly) attaching writes
 * nothing and rebuilds nothing: a view that is missing or out of date stays
 * so, and its queries say so (views_version_check) until the unit is next
 * opened read-write.
 *
 * Errors per common/err.h.
 */
#ifndef LD_COMMON_VIEWS_H
#define LD_COMMON_VIEWS_H

#include "common/store.h"

/* Attaches every view to s (before any write) and rebuilds stale ones. */
int views_attach(store_t *s);

/* For a view's queries, in the query's transaction: 0 if meta `key` holds
 * `version`, the layout this build reads. Otherwise LD_ENOTFOUND (never
 * built) or LD_EVERSION (built by another version), with a message naming
 * `view` ("the joint inspection view") and how it gets built. Only a
 * read-only store can be in either state: a read-write open rebuilds. */
int views_version_check(store_txn_t *t, const char *key, const char *version, const char *view);

#endif
