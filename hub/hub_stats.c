/*
 * hub_stats.c -- `liandong-hub stats`: the shared `stats` command
 * (common/cli_stats.c) with this hub's stored per-child link records, so that
 * sync health shows pending events and children never heard from.
 */
#include "hub/children.h"
#include "hub/hub.h"

static json_t *links(store_t *s, const char *self)
{
    return children_json_stored(s, self);
}

int hub_cmd_stats(const cli_ctx_t *ctx, int argc, char **argv)
{
    return cli_stats_run(ctx, argc, argv, links);
}
