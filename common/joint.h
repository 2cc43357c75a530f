/*
 * joint.h -- the joint inspection view (上下联动): for each inspection a hub
 * opened, which units are in scope, what each has found, reported and
 * rectified, who is overdue; at every level, for its own subtree.
 *
 * The view maintains itself: joint_attach() registers an indexer that runs
 * for every event joining the store, inside the transaction that stores it,
 * and keeps commutative aggregates per inspection and per unit (layout in
 * common/joint_int.h and docs/storage.md). It is a pure function of the set
 * of events held: any arrival order, and duplicates, give the same view.
 * Events that arrive before the inspection they name are kept and counted
 * ("waiting"); nothing is ever refused or dropped by the view.
 *
 * Everything that depends on the date -- overdue, reported late, late
 * findings, completion -- is derived at query time from the aggregates, the
 * inspection's current due and close dates, and `today`.
 *
 * Queries run in a read (or write) transaction and return new jansson
 * references owned by the caller. Threads: as the store's transactions.
 * Errors: 0 or a negative code with err_msg() set (common/err.h).
 */
#ifndef LD_COMMON_JOINT_H
#define LD_COMMON_JOINT_H

#include <stdbool.h>

#include <jansson.h>

#include "common/store.h"

/* Adds the indexer to s (before any write) and, if the stored view's
 * version (meta "joint.version") is not this build's, rebuilds it from every
 * event held in one write transaction (not on a read-only store: there its
 * queries fail with LD_ENOTFOUND or LD_EVERSION instead). Called for every
 * store by views_attach(). */
int joint_attach(store_t *s);

typedef enum joint_filter {
    JOINT_ALL = 0,
    JOINT_OPEN,      /* not closed */
    JOINT_OVERDUE    /* some unit in scope here is overdue */
} joint_filter_t;

typedef struct joint_query {
    const char *today;      /* "YYYY-MM-DD": the date overdue is judged on */
    bool findings;          /* show: list every finding (and deputies) too */
    joint_filter_t filter;  /* list */
} joint_query_t;

/* The inspection `id` ("ORIGIN#SEQ") as its opener set it: {"id", "known",
 * and if known "opener", "title", "type", "from", "due", "scope", "state",
 * "closed"?, "history", ...}; "events" counts every event naming it.
 * LD_EINVAL if id is malformed; LD_ENOTFOUND if no event held names it. */
int joint_info(store_txn_t *t, const char *id, json_t **out);

/* True if `origin` is in the current scope of a known inspection `info`
 * (from joint_info): under one of its scope prefixes, within its opener's
 * subtree, and not the opener. */
bool joint_info_covers(const json_t *info, const char *origin);

/* The finding `id`: {"id", "held", "joint"?, "unit", "severity"?, "date"?,
 * "rectification"?}. LD_EINVAL if malformed; LD_ENOTFOUND if neither the
 * finding nor a rectification of it is held. */
int joint_finding_info(store_txn_t *t, const char *id, json_t **out);

/* The full view of inspection `id` within this store's subtree (the shape
 * docs/joint.md shows): its units in scope with status and figures, units
 * removed from the scope, units out of scope that filed anyway, totals, and
 * with q->findings the findings themselves. Errors as joint_info; an
 * inspection whose joint.opened is not held is LD_ENOTFOUND too, with a
 * message saying how many events wait for it. */
int joint_show(store_txn_t *t, const char *id, const joint_query_t *q, json_t **out);

/* Every inspection relevant here (opened within this subtree, or whose scope
 * reaches into it), oldest first, each with its summary figures and, if this
 * unit itself is in scope, "this_unit"; then the ids that events name but
 * whose joint.opened is not held, as {"id", "known": false, "events"}. */
int joint_list(store_txn_t *t, const joint_query_t *q, json_t **out);

#endif
