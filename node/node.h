/*
 * node.h -- liandong-node's own subcommands (the shared ones are in
 * common/cli.h).
 */
#ifndef LD_NODE_NODE_H
#define LD_NODE_NODE_H

#include "common/cli.h"

int node_cmd_run(const cli_ctx_t *ctx, int argc, char **argv);
int node_cmd_sync(const cli_ctx_t *ctx, int argc, char **argv);

#endif
