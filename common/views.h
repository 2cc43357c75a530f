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
 * Errors per common/err.h.
 */
#ifndef LD_COMMON_VIEWS_H
#define LD_COMMON_VIEWS_H

#include "common/store.h"

/* Attaches every view to s (before any write) and rebuilds stale ones. */
int views_attach(store_t *s);

#endif
