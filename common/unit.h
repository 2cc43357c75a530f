/*
 * unit.h -- a participant's data directory: its config, keys and store.
 *
 *   DIR/liandong.conf   settings (common/config.h)
 *   DIR/curve.key       CurveZMQ secret key, mode 0600 (common/keys.h)
 *   DIR/curve.pub       CurveZMQ public key
 *   DIR/store/          the LMDB environment (common/store.h)
 *
 * unit_create() makes all of it and records `unit.registered` as seq 1;
 * unit_open() opens an existing one and checks that the config and the store
 * agree on who this unit is. A unit_t is a plain object owned by its caller.
 * Errors: negative codes with err_msg() set.
 */
#ifndef LD_COMMON_UNIT_H
#define LD_COMMON_UNIT_H

#include <stdbool.h>

#include "common/config.h"
#include "common/store.h"

typedef struct unit {
    char *dir;
    config_t *config;
    store_t *store;
} unit_t;

typedef struct unit_create_opts {
    const char *dir;
    const char *id;
    const char *name;
    const char *type;          /* township, street, district, county, city */
    const char *upstream;      /* may be NULL */
    const char *upstream_key;  /* may be NULL */
    const char *listen;        /* hubs; may be NULL */
    bool restore;              /* the unit existed before: its log comes back from
                                  its hub (see unit_restore_pending) */
    const store_opts_t *store; /* may be NULL */
} unit_create_opts_t;

/* Refuses (LD_EEXIST) a directory that exists and is not empty. */
int unit_create(const unit_create_opts_t *opts, unit_t **out);
int unit_open(const char *dir, const store_opts_t *store_opts, unit_t **out);
/* unit_open() for commands that only read: the store is opened with
 * STORE_RDONLY and the views are attached without a rebuild, so opening
 * takes no write transaction and never waits for the writer lock (a daemon
 * in, or frozen in, a commit). Writes through u->store fail with LD_EINVAL;
 * a view that is missing or out of date says so when queried. */
int unit_open_rdonly(const char *dir, const store_opts_t *store_opts, unit_t **out);
void unit_close(unit_t **u);

/* A unit created with `restore` does not record anything until its own log
 * is back from its hub: appending first would fork its chain. *pending is
 * true until unit_restore_done(). */
int unit_restore_pending(unit_t *u, bool *pending);
/* Ends the restore: clears the flag and, if the hub held nothing of this
 * unit (it had never synced), records `unit.registered` as a new unit would. */
int unit_restore_done(unit_t *u);

/* The unit's store epoch (hex text), chosen at creation; "" if unknown. */
int unit_epoch(unit_t *u, char out[33]);

/* Path of a file in the unit's directory, into out (size n). */
void unit_path(const unit_t *u, const char *name, char *out, size_t n);

/* --dir beats $LIANDONG_DIR; LD_EINVAL (with a message) if neither is set. */
int unit_dir_resolve(const char *opt_dir, const char **out);

#endif
