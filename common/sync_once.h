/*
 * sync_once.h -- one complete exchange with the parent hub, then return:
 * what `sync --once` runs, and what `init --restore` runs to fetch this
 * unit's own log back from its hub.
 *
 * Succeeds only when the parent has acknowledged every event of this
 * subtree held here AND everything the parent's WELCOME listed as due from
 * above (and, for a restore, this unit's own logs) is stored here.
 * Otherwise returns LD_ETIMEOUT, LD_EDENIED (the hub refused us: its reason
 * in err_msg()) or another code, with err_msg() saying why in one line.
 * Runs its own loop; blocking; not thread-safe.
 */
#ifndef LD_COMMON_SYNC_ONCE_H
#define LD_COMMON_SYNC_ONCE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sync_once_opts {
    double timeout_s;        /* 0: 60 */
    unsigned heartbeat_ms;   /* 0: default */
    bool restore;            /* ask the parent for this unit's own logs too */
    bool progress;           /* a progress bar on stderr */
} sync_once_opts_t;

typedef struct sync_once_result {
    uint64_t acked;          /* events the parent acknowledged */
    uint64_t received;       /* events stored from above */
} sync_once_result_t;

int sync_once(const char *dir, const sync_once_opts_t *o, sync_once_result_t *res);

#endif
