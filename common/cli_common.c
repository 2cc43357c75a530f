/*
 * cli_common.c -- the program skeleton both binaries share: global options,
 * subcommand dispatch, and the one-line error convention of BRIEF section 5.
 */
#include "common/cli.h"
#include "common/err.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/unit.h"

#include <getopt.h>
#include <locale.h>
#include <wchar.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_fail(const cli_ctx_t *ctx, int rc)
{
    const char *m = err_msg();
    fprintf(stderr, "%s: %s\n", ctx->prog, m && *m ? m : err_str(rc));
    return 1;
}

int cli_usage_error(const cli_ctx_t *ctx, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s %s: ", ctx->prog, cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see `%s %s --help`)\n", ctx->prog, cmd);
    va_end(ap);
    return 2;
}

void cli_today(char out[11])
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

int cli_open(const cli_ctx_t *ctx, const char *opt_dir, cli_access_t access,
             struct unit **out)
{
    const char *dir;
    int rc = unit_dir_resolve(opt_dir ? opt_dir : ctx->dir, &dir);
    if (!rc)
        rc = access == CLI_RDONLY ? unit_open_rdonly(dir, NULL, out) : unit_open(dir, NULL, out);
    return rc;
}

void cli_print_cell(FILE *f, const char *s, int width)
{
    mbstate_t st = {0};
    int cols = 0;
    size_t len = strlen(s);
    for (const char *p = s; *p;) {
        wchar_t wc;
        size_t n = mbrtowc(&wc, p, len - (size_t)(p - s), &st);
        if (n == (size_t)-1 || n == (size_t)-2 || n == 0)
            break;
        int w = wcwidth(wc);
        cols += w > 0 ? w : 0;
        p += n;
    }
    fprintf(f, "%s%*s ", s, width > cols ? width - cols : 0, "");
}

void cli_take_dash_key(int *argc, char **argv, const char **key)
{
    *key = NULL;
    for (int i = 1; i < *argc; i++) {
        if (argv[i][0] != '-' || !keys_valid_public(argv[i]) || *key)
            continue;
        *key = argv[i];
        memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i) * sizeof *argv);
        (*argc)--;
        i--;
    }
}

bool cli_progress_wanted(void) { return isatty(STDERR_FILENO); }

static void usage(const cli_ctx_t *ctx, const cli_cmd_t *cmds, int n, FILE *f)
{
    fprintf(f, "usage: %s [--dir DIR] COMMAND [OPTIONS]\n\n"
               "%s\n\ncommands:\n", ctx->prog,
            ctx->hub ? "Liandong district/city hub: accepts and merges its children's logs, "
                       "forwards them upward, records its own work."
                     : "Liandong township node: records deputy and supervision work offline "
                       "and syncs it to the district hub.");
    for (int i = 0; i < n; i++)
        fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f, "\noptions:\n"
               "  --dir DIR    the data directory (default: $LIANDONG_DIR)\n"
               "  --help       this text; `%s COMMAND --help` for a command\n"
               "  --version    print the version\n", ctx->prog);
}

int cli_main(cli_ctx_t *ctx, const cli_cmd_t *cmds, int n, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    log_init_from_env();
    /* wcwidth needs a UTF-8 locale; "C.UTF-8" exists on every Debian. */
    if (!setlocale(LC_CTYPE, "C.UTF-8"))
        setlocale(LC_CTYPE, "");
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'd': ctx->dir = optarg; break;
        case 'h': usage(ctx, cmds, n, stdout); return 0;
        case 'V': printf("%s 0.1.0\n", ctx->prog); return 0;
        default:
            fprintf(stderr, "%s: unknown option '%s' (see `%s --help`)\n", ctx->prog,
                    argv[optind - 1], ctx->prog);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(ctx, cmds, n, stderr);
        return 2;
    }
    int first = optind;
    const char *name = argv[first];
    for (int i = 0; i < n; i++) {
        if (strcmp(cmds[i].name, name) == 0) {
            optind = 0; /* glibc: re-initialise getopt for the subcommand */
            opterr = 1;
            return cmds[i].fn(ctx, argc - first, argv + first);
        }
    }
    fprintf(stderr, "%s: unknown command '%s' (see `%s --help`)\n", ctx->prog, name, ctx->prog);
    return 2;
}
