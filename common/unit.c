/*
 * unit.c -- creating and opening a data directory; see unit.h.
 *
 * Creation order matters for crash safety: keys, then the store with its
 * identity and `unit.registered`, and the config file last. A crash part-way
 * leaves a non-empty directory without liandong.conf, which unit_open
 * reports as "not initialised" and init refuses to overwrite, so nothing
 * half-made is ever used as if it were whole.
 */
#include "common/unit.h"
#include "common/err.h"
#include "common/keys.h"
#include "common/views.h"
#include "proto/json.h"

#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int dir_prepare(const char *dir)
{
    if (mkdir(dir, 0755) == 0)
        return 0;
    if (errno != EEXIST)
        return err_set(err_from_errno(errno), "%s: %s", dir, strerror(errno));
    DIR *d = opendir(dir);
    if (!d)
        return err_set(err_from_errno(errno), "%s: %s", dir, strerror(errno));
    struct dirent *e;
    int used = 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            used = 1;
    closedir(d);
    return used ? err_set(LD_EEXIST, "%s is not empty: refusing to overwrite it", dir) : 0;
}

typedef struct init_ctx {
    const unit_create_opts_t *o;
    const char *epoch;
} init_ctx_t;

static int init_meta(store_txn_t *t, void *arg)
{
    init_ctx_t *c = arg;
    const char *kv[][2] = {
        {"origin", c->o->id}, {"name", c->o->name}, {"type", c->o->type}, {"epoch", c->epoch},
        {"restore.pending", "1"},
    };
    size_t n = sizeof kv / sizeof *kv - (c->o->restore ? 0 : 1);
    for (size_t i = 0; i < n; i++) {
        int rc = store_meta_put(t, kv[i][0], kv[i][1], strlen(kv[i][1]));
        if (rc)
            return rc;
    }
    return 0;
}

typedef struct reg_ctx {
    store_new_t ev;
    store_ref_t ref;
} reg_ctx_t;

static int init_register(store_txn_t *t, void *arg)
{
    reg_ctx_t *c = arg;
    return store_txn_append(t, &c->ev, &c->ref);
}

static void today(char out[11])
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* Records unit.registered {id, name, type, parent?} as seq 1. */
static int register_unit(store_t *s, const char *id, const char *name, const char *type)
{
    json_t *body = json_pack("{s:s, s:s, s:s}", "id", id, "name", name, "type", type);
    const char *slash = strrchr(id, '/');
    if (body && slash)
        json_object_set_new(body, "parent", json_stringn(id, (size_t)(slash - id)));
    if (!body)
        return err_set(LD_ENOMEM, "out of memory");
    buf_t packed = BUF_INIT;
    char date[11];
    today(date);
    int rc = proto_body_pack_json(body, &packed);
    json_decref(body);
    if (!rc) {
        reg_ctx_t c = {.ev = {.kind = "unit.registered", .date = date, .body = packed.data,
                              .body_len = packed.len}};
        rc = store_write(s, init_register, &c);
    }
    buf_free(&packed);
    return rc;
}

static int create_store(const unit_create_opts_t *o, const char *path, store_t **out)
{
    if (mkdir(path, 0700))
        return err_set(err_from_errno(errno), "%s: %s", path, strerror(errno));
    uint8_t raw[8];
    char epoch[17];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(epoch, sizeof epoch, raw, sizeof raw);
    store_t *s;
    int rc = store_open(path, STORE_CREATE, o->store, &s);
    if (!rc)
        rc = views_attach(s);
    if (rc) {
        store_close(&s);
        return rc;
    }
    init_ctx_t ic = {o, epoch};
    rc = store_write(s, init_meta, &ic);
    /* Reopen so the store picks up its new identity from meta. */
    store_close(&s);
    if (!rc)
        rc = store_open(path, 0, o->store, &s);
    if (!rc)
        rc = views_attach(s);
    if (!rc && !o->restore && (rc = register_unit(s, o->id, o->name, o->type)))
        store_close(&s);
    *out = s;
    return rc;
}

/* Builds the config in memory: validates every setting before anything is
 * written to disk. */
static int build_config(const unit_create_opts_t *o, config_t **out)
{
    config_t *c;
    int rc = config_new(&c);
    const char *kv[][2] = {{"id", o->id}, {"name", o->name}, {"type", o->type},
                           {"upstream", o->upstream}, {"upstream_key", o->upstream_key},
                           {"listen", o->listen}};
    for (size_t i = 0; !rc && i < sizeof kv / sizeof *kv; i++)
        if (kv[i][1])
            rc = config_set(c, kv[i][0], kv[i][1]);
    if (rc)
        config_destroy(&c);
    *out = c;
    return rc;
}

static int validate_opts(const unit_create_opts_t *o)
{
    if (!o->id || !proto_origin_valid(o->id, strlen(o->id)))
        return err_set(LD_EINVAL, "--id '%s' is not a valid unit id (lower-case segments "
                       "joined by '/', e.g. hrb/wuchang/shanhe)", o->id ? o->id : "");
    if (!o->name || !*o->name || strlen(o->name) > 64)
        return err_set(LD_EINVAL, "--name is required (at most 64 bytes)");
    /* Everything else (type, endpoints, keys) config_set validates. */
    return 0;
}

static unit_t *unit_alloc(const char *dir)
{
    unit_t *u = calloc(1, sizeof *u);
    if (u && !(u->dir = strdup(dir))) {
        free(u);
        u = NULL;
    }
    return u;
}

int unit_create(const unit_create_opts_t *o, unit_t **out)
{
    config_t *config = NULL;
    int rc = validate_opts(o);
    if (rc || (rc = build_config(o, &config)) || (rc = dir_prepare(o->dir))) {
        config_destroy(&config);
        return rc;
    }
    unit_t *u = unit_alloc(o->dir);
    if (!u) {
        config_destroy(&config);
        return err_set(LD_ENOMEM, "out of memory");
    }
    u->config = config;
    char path[4096];
    rc = keys_generate(o->dir);
    unit_path(u, "store", path, sizeof path);
    if (!rc)
        rc = create_store(o, path, &u->store);
    unit_path(u, "liandong.conf", path, sizeof path);
    if (!rc)
        rc = config_save(u->config, path);
    if (rc)
        unit_close(&u);
    *out = u;
    return rc;
}

static int open_unit(const char *dir, unsigned store_flags, const store_opts_t *store_opts,
                     unit_t **out)
{
    unit_t *u = unit_alloc(dir);
    if (!u)
        return err_set(LD_ENOMEM, "out of memory");
    char path[4096];
    unit_path(u, "liandong.conf", path, sizeof path);
    int rc = config_load(path, &u->config);
    unit_path(u, "store", path, sizeof path);
    if (!rc)
        rc = store_open(path, store_flags, store_opts, &u->store);
    if (!rc)
        rc = views_attach(u->store);
    if (!rc && strcmp(store_origin(u->store), config_get(u->config, "id")) != 0)
        rc = err_set(LD_ECONFIG, "%s/liandong.conf says id '%s' but the store belongs to '%s'",
                     dir, config_get(u->config, "id"), store_origin(u->store));
    if (rc)
        unit_close(&u);
    *out = u;
    return rc;
}

int unit_open(const char *dir, const store_opts_t *store_opts, unit_t **out)
{
    return open_unit(dir, 0, store_opts, out);
}

int unit_open_rdonly(const char *dir, const store_opts_t *store_opts, unit_t **out)
{
    return open_unit(dir, STORE_RDONLY, store_opts, out);
}

void unit_close(unit_t **u)
{
    if (!u || !*u)
        return;
    store_close(&(*u)->store);
    config_destroy(&(*u)->config);
    free((*u)->dir);
    free(*u);
    *u = NULL;
}

int unit_restore_pending(unit_t *u, bool *pending)
{
    store_txn_t *t;
    int rc = store_read_begin(u->store, &t);
    const void *v;
    size_t len;
    if (!rc) {
        *pending = store_meta_get(t, "restore.pending", &v, &len) == 0 && len == 1 &&
                   *(const char *)v == '1';
        store_read_end(&t);
    }
    return rc;
}

static int restore_clear(store_txn_t *t, void *arg)
{
    (void)arg;
    return store_meta_put(t, "restore.pending", "0", 1);
}

int unit_restore_done(unit_t *u)
{
    store_txn_t *t;
    store_head_t h = {0};
    int rc = store_read_begin(u->store, &t);
    if (rc)
        return rc;
    store_head_get(t, store_origin(u->store), &h);
    store_read_end(&t);
    rc = store_write(u->store, restore_clear, NULL);
    if (!rc && h.seq == 0)
        rc = register_unit(u->store, config_get(u->config, "id"),
                           config_get(u->config, "name"), config_get(u->config, "type"));
    return rc;
}

int unit_epoch(unit_t *u, char out[33])
{
    store_txn_t *t;
    out[0] = '\0';
    int rc = store_read_begin(u->store, &t);
    if (rc)
        return rc;
    const void *v;
    size_t len;
    if (store_meta_get(t, "epoch", &v, &len) == 0 && len < 33) {
        memcpy(out, v, len);
        out[len] = '\0';
    }
    store_read_end(&t);
    return 0;
}

void unit_path(const unit_t *u, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", u->dir, name);
}

int unit_dir_resolve(const char *opt_dir, const char **out)
{
    const char *d = opt_dir && *opt_dir ? opt_dir : getenv("LIANDONG_DIR");
    if (!d || !*d)
        return err_set(LD_EINVAL, "no data directory: pass --dir DIR or set LIANDONG_DIR");
    *out = d;
    return 0;
}
