/*
 * cli.h -- subcommands shared by liandong-node and liandong-hub.
 *
 * Recording, import, export, status, digest, the deputy registry, the schema
 * listing and config editing behave the same at a township and at a hub, so
 * they live here once. Each cli_cmd_* parses its own options (getopt_long,
 * --help on every one), runs, and returns the process exit status: 0 on
 * success; otherwise it has printed one line "PROG: reason" on stderr (or,
 * for import, one line per bad input line) and returns 1 (2 for usage).
 */
#ifndef LD_COMMON_CLI_H
#define LD_COMMON_CLI_H

#include <stdbool.h>
#include <stdio.h>

typedef struct cli_ctx {
    const char *prog;       /* "liandong-node" or "liandong-hub" */
    bool hub;               /* which unit types init accepts, and the help texts */
    const char *dir;        /* --dir given before the subcommand, or NULL */
} cli_ctx_t;

typedef int (*cli_cmd_fn)(const cli_ctx_t *ctx, int argc, char **argv);

typedef struct cli_cmd {
    const char *name;
    cli_cmd_fn fn;
    const char *summary;
} cli_cmd_t;

int cli_cmd_init(const cli_ctx_t *ctx, int argc, char **argv);
int cli_cmd_record(const cli_ctx_t *ctx, int argc, char **argv);
int cli_cmd_import(const cli_ctx_t *ctx, int argc, char **argv);
int cli_cmd_export(const cli_ctx_t *ctx, int argc, char **argv);
int cli_cmd_status(const cli_ctx_t *ctx, int argc, char **argv);
int cli_cmd_digest(const cli_ctx_t *ctx, int argc, char **argv);
int cli_cmd_deputies(const cli_ctx_t *ctx, int argc, char **argv);
int cli_cmd_kinds(const cli_ctx_t *ctx, int argc, char **argv);
int cli_cmd_config(const cli_ctx_t *ctx, int argc, char **argv);

/* Runs the program: global options (--dir, --help, --version), then the
 * subcommand named by the first operand, looked up in cmds[n]. */
int cli_main(cli_ctx_t *ctx, const cli_cmd_t *cmds, int n, int argc, char **argv);

/* ---- helpers for subcommand implementations ---- */

/* Prints "PROG: MESSAGE" for the last failure (err_msg(), else err_str(rc)) and
 * returns 1. */
int cli_fail(const cli_ctx_t *ctx, int rc);
/* Prints "PROG CMD: MESSAGE" plus a hint to use --help; returns 2. */
int cli_usage_error(const cli_ctx_t *ctx, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Today's date in local time, "YYYY-MM-DD". */
void cli_today(char out[11]);

struct unit;
/* How a subcommand opens the unit: CLI_RDONLY for one that only reads
 * (status, digest, export, ...): unit_open_rdonly, which never waits for
 * the store's writer lock, so it answers while a daemon is in (or stuck in)
 * a commit. CLI_RDWR for one that records or changes the store. */
typedef enum cli_access { CLI_RDWR, CLI_RDONLY } cli_access_t;
/* Resolves the data directory (the subcommand's --dir, else the global one,
 * else $LIANDONG_DIR) and opens the unit there. */
int cli_open(const cli_ctx_t *ctx, const char *opt_dir, cli_access_t access,
             struct unit **out);

/* Records one event of unit u through the path `record` takes (validate
 * strictly, append durably, nudge the daemon): obj is the input object
 * {"kind", "date"?, "author"?, "body"} (borrowed). On success writes its id
 * "ORIGIN#SEQ" into id[idlen]. Errors as `record` reports them. (Added for
 * `joint`, in common/cli_record.c.) */
struct json_t;
int cli_record_obj(struct unit *u, struct json_t *obj, char *id, size_t idlen);
int cli_cmd_joint(const cli_ctx_t *ctx, int argc, char **argv);

/* `stats` (common/cli_stats.c). A hub passes `links`, which returns its
 * per-child link records (children_json_stored: a new JSON array) for the
 * sync-health figures; a township passes NULL. */
struct store;
typedef struct json_t *(*cli_links_fn)(struct store *s, const char *self);
int cli_stats_run(const cli_ctx_t *ctx, int argc, char **argv, cli_links_fn links);
int cli_cmd_stats(const cli_ctx_t *ctx, int argc, char **argv);

/* Prints s left-aligned in `width` terminal columns (CJK characters take
 * two, measured with wcwidth), then a space. */
void cli_print_cell(FILE *f, const char *s, int width);

/* Z85 keys may begin with '-', which getopt would take for options. Removes
 * from argv[1..] every element that is a valid Z85 public key beginning with
 * '-' and returns it (at most one) in *key, so the caller can append it to
 * the operands; *argc shrinks accordingly. */
void cli_take_dash_key(int *argc, char **argv, const char **key);

/* True if stderr is a terminal (progress output is shown only then). */
bool cli_progress_wanted(void);

#endif
