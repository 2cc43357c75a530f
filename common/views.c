/*
 * views.c -- the list of views every store carries; see views.h. A view
 * module adds one line here.
 */
#include "common/views.h"
#include "common/err.h"
#include "common/joint.h"
#include "common/stats.h"

#include <string.h>

int views_attach(store_t *s)
{
    int rc = 0;
    if (!rc)
        rc = joint_attach(s);
    if (!rc)
        rc = stats_attach(s);
    return rc;
}

int views_version_check(store_txn_t *t, const char *key, const char *version, const char *view)
{
    const void *v;
    size_t len;
    int rc = store_meta_get(t, key, &v, &len);
    if (rc == LD_ENOTFOUND)
        return err_set(LD_ENOTFOUND, "this store has no %s yet: it is built when the unit is "
                       "next opened read-write (the daemon, or any record)", view);
    if (rc)
        return rc;
    if (len != strlen(version) || memcmp(v, version, len) != 0)
        return err_set(LD_EVERSION, "this store's %s is version %.*s, this build reads %s: it "
                       "is rebuilt when the unit is next opened read-write (the daemon, or "
                       "any record)", view, (int)(len < 16 ? len : 16), (const char *)v,
                       version);
    return 0;
}
