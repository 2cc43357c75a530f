/*
 * views.c -- the list of views every store carries; see views.h. A view
 * module adds one line here.
 */
#include "common/views.h"
#include "common/joint.h"
#include "common/stats.h"

int views_attach(store_t *s)
{
    int rc = 0;
    if (!rc)
        rc = joint_attach(s);
    if (!rc)
        rc = stats_attach(s);
    return rc;
}
