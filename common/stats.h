/*
 * stats.h -- the statistics view: the figures a city or district hub (and a
 * township, for itself) reports, maintained incrementally.
 *
 * docs/statistics.md defines every figure: numerator, denominator, period
 * rule and which events count. In short: each event counts in the month of
 * its activity date (the `date` header, not arrival); per-entity state
 * (deputies, suggestions, joint inspections) is merged from the events about
 * it whatever their arrival order; and the aggregates are kept per (unit,
 * month) in the same write transaction that stores each event, so a query
 * reads a few records per unit and month, never the events.
 *
 * The view is attached to every store (common/views.c); a store whose
 * meta "stats.version" differs from this code's is rebuilt from its events
 * at attach time.
 *
 * Errors: 0 or a negative code (common/err.h) with err_msg() set.
 * Threads: stats_query may run in any thread with no transaction open.
 */
#ifndef LD_COMMON_STATS_H
#define LD_COMMON_STATS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/store.h"

/* Registers the indexer on s (before any write) and rebuilds the view if
 * it is missing or of another version. A read-only store is only
 * registered: there stats_query fails with LD_ENOTFOUND (never built) or
 * LD_EVERSION (another version) instead. */
int stats_attach(store_t *s);

/* Rebuilds the view from the events held (what attach does on a version
 * change, logging how long it took), in one write transaction. With
 * `progress`, it is called every 100,000 events with the count so far and
 * the total (a 10-million-event city takes a minute or more). */
typedef void (*stats_progress_fn)(uint64_t done, uint64_t total, void *arg);
int stats_rebuild(store_t *s);
int stats_rebuild_progress(store_t *s, stats_progress_fn progress, void *arg);

typedef enum stats_by {
    STATS_BY_CHILD,   /* one row per child of the unit (its subtree), and the unit itself */
    STATS_BY_UNIT,    /* one row per unit held at or below the unit */
    STATS_BY_LEVEL    /* one row per unit type: city, district, county, township, street */
} stats_by_t;

/* A period: whole months [from, to] as month indices (year * 12 + month - 1). */
typedef struct stats_period {
    int from, to;
    char label[48];   /* as the user wrote it, or "all" */
} stats_period_t;

/* Parses "all", "2026", "2026-Q1", "2026-03" or FROM..TO (each of those
 * forms; FROM's start to TO's end). LD_EINVAL with a message otherwise. */
int stats_period_parse(const char *s, stats_period_t *out);

typedef struct stats_query {
    const char *unit;       /* the subtree reported on; NULL: the store's own origin */
    stats_by_t by;
    stats_period_t period;  /* from > to is never passed; "all" is 0..INT16_MAX */
    uint64_t now_ms;        /* "now" for stale units and overdue reports; 0: the clock */
    unsigned stale_days;    /* nothing heard for this long: stale; 0: 7 */
    json_t *links;          /* a hub's per-child link records (children_json_stored),
                               borrowed; NULL at a township */
} stats_query_t;

/* Computes the figures. *out is a new JSON object in the shape of
 * docs/statistics.md ("Output"); the caller decrefs it. */
int stats_query(store_t *s, const stats_query_t *q, json_t **out);

/* Renderers of a stats_query() result. They write to f and return 0, or a
 * negative errno-style code if writing failed. */
int stats_render_table(FILE *f, const json_t *r);
int stats_render_csv(FILE *f, const json_t *r);      /* UTF-8 with BOM, CRLF */
int stats_render_json(FILE *f, const json_t *r);
int stats_render_html(FILE *f, const json_t *r);     /* self-contained, inline SVG */

#endif
