/*
 * children_db.c -- what the hub keeps in its store about its children:
 * the allow table (db "allow") and one record per child (db "children"),
 * so that `allow` works without a daemon and `children` can say when a
 * child was last seen even after a restart.
 *
 *   allow:    key = origin, value = the child's Z85 public key (40 bytes)
 *   children: key = origin, value = a JSON object {"epoch", "epoch_alarm",
 *             "last_seen_ms", "last_progress_ms", "announced_head",
 *             "announced_pending"} (small, rarely written, read by people)
 */
#include "hub/children.h"
#include "common/err.h"
#include "hub/children_int.h"

#include <string.h>

typedef struct allow_put {
    const char *origin, *key;
} allow_put_t;

static int allow_put_fn(store_txn_t *t, void *arg)
{
    allow_put_t *a = arg;
    MDB_dbi dbi;
    int rc = store_dbi(t, "allow", MDB_CREATE, &dbi);
    if (rc)
        return rc;
    MDB_val k = {strlen(a->origin), (void *)a->origin};
    if (a->key) {
        MDB_val v = {strlen(a->key), (void *)a->key};
        rc = mdb_put(store_txn_mdb(t), dbi, &k, &v, 0);
    } else {
        rc = mdb_del(store_txn_mdb(t), dbi, &k, NULL);
        if (rc == MDB_NOTFOUND)
            return err_set(LD_ENOTFOUND, "%s is not allowed here", a->origin);
    }
    if (rc)
        return err_set(rc, "allow table: %s", mdb_strerror(rc));
    /* Bumped so a running daemon sees that the table changed. */
    const void *v;
    size_t len;
    uint64_t version = 0;
    if (store_meta_get(t, "allow.version", &v, &len) == 0 && len == sizeof version)
        memcpy(&version, v, sizeof version);
    version++;
    return store_meta_put(t, "allow.version", &version, sizeof version);
}

int children_allow_put(store_t *s, const char *origin, const char *key)
{
    allow_put_t a = {origin, key};
    return store_write(s, allow_put_fn, &a);
}

int children_allow_del(store_t *s, const char *origin)
{
    allow_put_t a = {origin, NULL};
    return store_write(s, allow_put_fn, &a);
}

int children_allow_foreach(store_t *s, children_allow_fn fn, void *arg)
{
    store_txn_t *t;
    int rc = store_read_begin(s, &t);
    if (rc)
        return rc;
    MDB_dbi dbi;
    MDB_cursor *cur = NULL;
    rc = store_dbi(t, "allow", 0, &dbi);
    if (rc == LD_ENOTFOUND || rc == MDB_NOTFOUND) {
        store_read_end(&t);
        return 0;
    }
    if (!rc)
        rc = mdb_cursor_open(store_txn_mdb(t), dbi, &cur);
    MDB_val k, v;
    int op = MDB_FIRST;
    while (!rc && (rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
        op = MDB_NEXT;
        char origin[PROTO_ORIGIN_MAX + 1], key[KEYS_Z85_LEN + 1];
        if (k.mv_size > PROTO_ORIGIN_MAX || v.mv_size != KEYS_Z85_LEN)
            continue;
        memcpy(origin, k.mv_data, k.mv_size);
        origin[k.mv_size] = '\0';
        memcpy(key, v.mv_data, v.mv_size);
        key[v.mv_size] = '\0';
        rc = fn(origin, key, arg);
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (cur)
        mdb_cursor_close(cur);
    store_read_end(&t);
    return rc;
}

int children_record_put(store_txn_t *t, const char *origin, json_t *rec)
{
    MDB_dbi dbi;
    int rc = store_dbi(t, "children", MDB_CREATE, &dbi);
    if (rc)
        return rc;
    char *text = json_dumps(rec, JSON_COMPACT);
    if (!text)
        return err_set(LD_ENOMEM, "out of memory");
    MDB_val k = {strlen(origin), (void *)origin}, v = {strlen(text), text};
    rc = mdb_put(store_txn_mdb(t), dbi, &k, &v, 0);
    free(text);
    return rc ? err_set(rc, "children table: %s", mdb_strerror(rc)) : 0;
}

json_t *children_record_get(store_txn_t *t, const char *origin)
{
    MDB_dbi dbi;
    if (store_dbi(t, "children", 0, &dbi))
        return NULL;
    MDB_val k = {strlen(origin), (void *)origin}, v;
    if (mdb_get(store_txn_mdb(t), dbi, &k, &v))
        return NULL;
    return json_loadb(v.mv_data, v.mv_size, 0, NULL);
}
