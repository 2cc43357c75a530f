/*
 * liandong-hub -- the district/county/city program: accepts its children's
 * logs, merges them, forwards its whole subtree upward, sends its own and
 * its ancestors' logs down, and records its own work.
 */
#include "common/cli.h"
#include "hub/hub.h"

static const cli_cmd_t hub_cmds[] = {
    {"init", cli_cmd_init, "create this hub's data directory and keys"},
    {"allow", hub_cmd_allow, "admit a child: allow ORIGIN PUBKEY"},
    {"deny", hub_cmd_deny, "remove a child: deny ORIGIN"},
    {"run", hub_cmd_run, "the hub daemon"},
    {"children", hub_cmd_children, "each child's link: connected, pending, progress"},
    {"record", cli_cmd_record, "record one event of this hub (`kinds` lists them)"},
    {"import", cli_cmd_import, "record events from a JSON Lines file, all or nothing"},
    {"export", cli_cmd_export, "print stored events as JSON Lines"},
    {"status", cli_cmd_status, "what this hub is and what its store holds"},
    {"digest", cli_cmd_digest, "per origin: highest contiguous seq and chain head hash"},
    {"deputies", cli_cmd_deputies, "the deputy registry"},
    {"joint", cli_cmd_joint, "joint inspections: open, update, close, list, show, ..."},
    {"stats", hub_cmd_stats, "statistics of this hub's subtree, with its children's sync health"},
    {"kinds", cli_cmd_kinds, "the event kinds and their fields"},
    {"config", cli_cmd_config, "show or change settings (listen, upstream...)"},
};

int main(int argc, char **argv)
{
    cli_ctx_t ctx = {.prog = "liandong-hub", .hub = true};
    return cli_main(&ctx, hub_cmds, (int)(sizeof hub_cmds / sizeof *hub_cmds), argc, argv);
}
