/*
 * hub.h -- liandong-hub's own subcommands (the shared ones are in
 * common/cli.h).
 */
#ifndef LD_HUB_HUB_H
#define LD_HUB_HUB_H

#include "common/cli.h"

int hub_cmd_run(const cli_ctx_t *ctx, int argc, char **argv);
int hub_cmd_allow(const cli_ctx_t *ctx, int argc, char **argv);
int hub_cmd_deny(const cli_ctx_t *ctx, int argc, char **argv);
int hub_cmd_children(const cli_ctx_t *ctx, int argc, char **argv);
int hub_cmd_stats(const cli_ctx_t *ctx, int argc, char **argv);   /* hub_stats.c */

#endif
