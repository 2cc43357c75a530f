/*
 * sync_scope.c -- which origins a link carries in one direction (sync.h):
 * a short list of origins, each alone or with its subtree.
 */
#include "common/sync.h"

#include <string.h>

#include "common/err.h"

int sync_scope_add(sync_scope_t *s, const char *origin, bool subtree)
{
    size_t len = strlen(origin);
    if (!proto_origin_valid(origin, len))
        return err_set(LD_EINVAL, "scope: not a valid origin");
    if (s->n >= SYNC_SCOPE_MAX)
        return err_set(LD_ETOOBIG, "scope: more than %d items", SYNC_SCOPE_MAX);
    memcpy(s->item[s->n].origin, origin, len + 1);
    s->item[s->n].subtree = subtree;
    s->n++;
    return 0;
}

bool sync_scope_has(const sync_scope_t *s, const char *origin, size_t len)
{
    for (int i = 0; i < s->n; i++) {
        const char *o = s->item[i].origin;
        size_t olen = strlen(o);
        if (s->item[i].subtree ? proto_origin_within(origin, len, o, olen)
                               : (len == olen && memcmp(origin, o, len) == 0))
            return true;
    }
    return false;
}

int sync_scope_down(sync_scope_t *s, const char *child, bool restore)
{
    size_t len = strlen(child);
    char prefix[PROTO_ORIGIN_MAX + 1];
    s->n = 0;
    if (!proto_origin_valid(child, len))
        return err_set(LD_EINVAL, "scope: not a valid origin");
    int rc = 0;
    for (size_t i = 0; i < len && !rc; i++) {
        if (child[i] != '/')
            continue;
        memcpy(prefix, child, i);
        prefix[i] = '\0';
        rc = sync_scope_add(s, prefix, false);
    }
    if (!rc && restore)
        rc = sync_scope_add(s, child, true);
    return rc;
}

int sync_vv_from_msg(msg_t *m, const sync_scope_t *only, vv_t *out)
{
    msg_vv_entry_t e;
    for (uint32_t i = 0; i < m->vv_count; i++) {
        int rc = msg_vv_next(m, &e);
        if (!rc && (!only || sync_scope_has(only, e.origin.ptr, e.origin.len)))
            rc = vv_set(out, e.origin.ptr, e.origin.len, e.seq);
        if (rc)
            return rc;
    }
    return 0;
}
