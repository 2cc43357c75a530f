/*
 * liandong-node -- the township program: records deputy and supervision work
 * offline into the local store, and (with the sync issue) syncs it upward.
 */
#include "common/cli.h"
#include "node/node.h"

static const cli_cmd_t node_cmds[] = {
    {"init", cli_cmd_init, "create this township's data directory and keys"},
    {"record", cli_cmd_record, "record one event (`kinds` lists what can be recorded)"},
    {"import", cli_cmd_import, "record events from a JSON Lines file, all or nothing"},
    {"export", cli_cmd_export, "print stored events as JSON Lines"},
    {"status", cli_cmd_status, "what this unit is and what its store holds"},
    {"digest", cli_cmd_digest, "per origin: highest contiguous seq and chain head hash"},
    {"deputies", cli_cmd_deputies, "the deputy registry"},
    {"joint", cli_cmd_joint, "joint inspections: list, show, finding, report, rectify"},
    {"stats", cli_cmd_stats, "statistics of this township: deputies, activity, suggestions..."},
    {"kinds", cli_cmd_kinds, "the event kinds and their fields"},
    {"run", node_cmd_run, "the sync daemon: keep the link to the district hub up"},
    {"sync", node_cmd_sync, "sync --once: exchange everything with the hub, then exit"},
    {"config", cli_cmd_config, "show or change settings (upstream, upstream-key...)"},
};

int main(int argc, char **argv)
{
    cli_ctx_t ctx = {.prog = "liandong-node", .hub = false};
    return cli_main(&ctx, node_cmds, (int)(sizeof node_cmds / sizeof *node_cmds), argc, argv);
}
