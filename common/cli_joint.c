/*
 * cli_joint.c -- `joint`: joint inspections (上下联动) from the command line.
 *
 *   joint open|update|close        a hub opens (发起/下达), changes, closes one
 *   joint finding|report|rectify   a unit in scope records its part (开展,
 *                                  上报, 整改) as ordinary events of its own
 *   joint list|show                anyone follows them (汇总)
 *
 * Recording goes through the one record path (cli_record_obj: strict schema
 * check, durable append, daemon nudge). Before it, the subcommand checks what
 * the store knows, so that a clerk's mistake is a clear one-line error: an
 * inspection or finding id not held here, a unit outside the scope, a scope
 * outside this hub's subtree. (Events from the network are never refused:
 * the view flags them instead; see common/joint.h.)
 */
#include "common/cli.h"
#include "common/err.h"
#include "common/joint.h"
#include "common/unit.h"
#include "proto/json.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum {
    O_DIR = 1000, O_HELP, O_JSON, O_TODAY, O_DATE, O_AUTHOR, O_OPEN, O_OVERDUE, O_FINDINGS,
    O_FIELD = 1100 /* + index into the subcommand's field table */
};

/* Which of the shared options a subcommand takes. */
enum { M_REC = 1 << 0, M_VIEW = 1 << 1, M_LIST = 1 << 2, M_SHOW = 1 << 3 };

typedef struct jfield {
    const char *opt;   /* --opt */
    const char *field; /* body field */
    bool required;
} jfield_t;

typedef struct jargs {
    const char *dir, *today, *date, *author, *id;
    const char *vals[16];
    bool json, findings;
    joint_filter_t filter;
    char today_buf[11];
} jargs_t;

typedef struct jsub jsub_t;
typedef int (*jrun_fn)(const cli_ctx_t *ctx, const jsub_t *sub, unit_t *u, jargs_t *a);

struct jsub {
    const char *name;
    const char *summary;
    const char *kind;   /* the event kind it records; NULL for list/show */
    bool hub_only;
    bool takes_id;
    unsigned mask;
    const jfield_t *fields;
    size_t nfields;
    const char *help;   /* printf format, %s = program */
    jrun_fn run;
};

static int run_record(const cli_ctx_t *ctx, const jsub_t *sub, unit_t *u, jargs_t *a);
static int run_list(const cli_ctx_t *ctx, const jsub_t *sub, unit_t *u, jargs_t *a);
static int run_show(const cli_ctx_t *ctx, const jsub_t *sub, unit_t *u, jargs_t *a);

static const jfield_t f_open[] = {
    {"title", "title", true}, {"kind", "type", true}, {"scope", "scope", false},
    {"from", "from", true}, {"due", "due", true}, {"description", "description", false},
    {"deputies", "deputies", false}, {"note", "note", false},
};
static const jfield_t f_update[] = {
    {"due", "due", false}, {"scope", "scope", false}, {"title", "title", false},
    {"description", "description", false}, {"note", "note", false},
};
static const jfield_t f_close[] = {{"summary", "summary", false}, {"note", "note", false}};
static const jfield_t f_finding[] = {
    {"site", "site", true}, {"problem", "problem", true}, {"severity", "severity", true},
    {"deputies", "deputies", false}, {"suggestion", "suggestion", false}, {"note", "note", false},
};
static const jfield_t f_report[] = {
    {"summary", "summary", true}, {"participants", "participants", false},
    {"note", "note", false},
};
static const jfield_t f_rectify[] = {
    {"finding", "finding", true}, {"status", "status", true}, {"note", "note", false},
};
#define FIELDS(f) f, sizeof f / sizeof *f

static const char REC_OPTS[] =
    "  --date D         the date of the work (default: today)\n"
    "  --author NAME    who entered it\n"
    "  --dir DIR        the data directory\n";
static const char VIEW_OPTS[] =
    "  --today D        judge due dates as of D (default: today's local date)\n"
    "  --json           one JSON object (keys sorted)\n"
    "  --dir DIR        the data directory\n";

static const jsub_t subs[] = {
    {"open", "open an inspection and hand it down to the units in scope (hubs)",
     "joint.opened", true, false, M_REC, FIELDS(f_open),
     "usage: %s joint open --title T --kind research|visit|law_check|inquiry\n"
     "       [--scope PREFIX,...] --from YYYY-MM-DD --due YYYY-MM-DD [--description TEXT]\n"
     "       [--deputies D1,D2] [--note TEXT]\n\n"
     "Opens (发起) a joint inspection and hands it down (下达) to the units in scope: they\n"
     "receive it with this hub's log. Prints its id, ORIGIN#SEQ.\n\n"
     "  --scope P,...    units under these prefixes take part (default: this hub's whole\n"
     "                   subtree); each must lie within this hub's subtree\n", run_record},
    {"update", "change the due date, scope, title or description; add a note (hubs)",
     "joint.updated", true, true, M_REC, FIELDS(f_update),
     "usage: %s joint update ID [--due D] [--scope P,...] [--title T] [--description T]\n"
     "       [--note TEXT]\n\n"
     "Changes an inspection this hub opened: extend the due date, change the scope (it\n"
     "applies from now on; the view keeps what units filed before), add a note.\n", run_record},
    {"close", "close an inspection (hubs)",
     "joint.closed", true, true, M_REC, FIELDS(f_close),
     "usage: %s joint close ID [--summary TEXT] [--note TEXT]\n\n"
     "Closes an inspection this hub opened. Findings dated after the close date are\n"
     "still kept, and shown as late.\n", run_record},
    {"finding", "record a problem found in this unit's part",
     "joint.finding", false, true, M_REC, FIELDS(f_finding),
     "usage: %s joint finding ID --site TEXT --problem TEXT --severity low|medium|high\n"
     "       [--deputies D1,D2] [--suggestion TEXT] [--note TEXT]\n\n"
     "Records a problem this unit found (发现问题) while carrying out inspection ID.\n"
     "Prints the finding's id, which rectifications refer to.\n", run_record},
    {"report", "report this unit's part as done",
     "joint.report", false, true, M_REC, FIELDS(f_report),
     "usage: %s joint report ID --summary TEXT [--participants N] [--note TEXT]\n\n"
     "Reports (上报) that this unit's part of inspection ID is done. A report dated after\n"
     "the due date shows as reported late.\n", run_record},
    {"rectify", "record the rectification state of a finding",
     "joint.rectification", false, true, M_REC, FIELDS(f_rectify),
     "usage: %s joint rectify ID --finding FINDING_ID --status in_progress|done\n"
     "       [--note TEXT]\n\n"
     "Records the state of rectification (整改) of a finding of inspection ID. The\n"
     "latest rectification of a finding is its state.\n", run_record},
    {"list", "the inspections that concern this unit",
     NULL, false, false, M_VIEW | M_LIST, NULL, 0,
     "usage: %s joint list [--open | --overdue] [--today D] [--json]\n\n"
     "The inspections that concern this unit: those it opened, and those whose scope\n"
     "reaches into its subtree, with due dates and figures for its subtree (and its\n"
     "own status where it is in scope). Ids that events name but whose inspection is\n"
     "not held here are listed as unknown, with the number of events waiting.\n\n"
     "  --open           only inspections not closed\n"
     "  --overdue        only inspections with a unit overdue\n", run_list},
    {"show", "the merged picture of one inspection",
     NULL, false, true, M_VIEW | M_SHOW, NULL, 0,
     "usage: %s joint show ID [--findings] [--today D] [--json]\n\n"
     "The merged picture (汇总) of inspection ID within this unit's subtree: for each\n"
     "unit in scope its status (not started, in progress, reported, reported late,\n"
     "overdue), findings by severity, rectifications done, deputies who took part;\n"
     "totals and completion rate; units removed from the scope and units outside it\n"
     "that filed anyway, separately.\n\n"
     "  --findings       also every finding, with its rectification state\n", run_show},
};
#define NSUBS (sizeof subs / sizeof *subs)

static void joint_help(const cli_ctx_t *ctx, FILE *f)
{
    fprintf(f, "usage: %s joint COMMAND [OPTIONS]\n\nJoint inspections (上下联动).\n\n"
               "commands:\n", ctx->prog);
    for (size_t i = 0; i < NSUBS; i++)
        if (ctx->hub || !subs[i].hub_only)
            fprintf(f, "  %-9s %s\n", subs[i].name, subs[i].summary);
    fprintf(f, "\n`%s joint COMMAND --help` for each. Dates are YYYY-MM-DD.\n", ctx->prog);
}

static void sub_help(const cli_ctx_t *ctx, const jsub_t *s)
{
    printf(s->help, ctx->prog);
    fputs(s->mask & M_REC ? REC_OPTS : VIEW_OPTS, stdout);
}

/* Parses the subcommand's options; -1 to go on, else an exit status. */
static int sub_parse(const cli_ctx_t *ctx, const jsub_t *s, int argc, char **argv, jargs_t *a)
{
    struct option opts[32] = {
        {"dir", required_argument, NULL, O_DIR}, {"help", no_argument, NULL, O_HELP},
    };
    int n = 2;
    if (s->mask & M_REC) {
        opts[n++] = (struct option){"date", required_argument, NULL, O_DATE};
        opts[n++] = (struct option){"author", required_argument, NULL, O_AUTHOR};
    }
    if (s->mask & M_VIEW) {
        opts[n++] = (struct option){"json", no_argument, NULL, O_JSON};
        opts[n++] = (struct option){"today", required_argument, NULL, O_TODAY};
    }
    if (s->mask & M_LIST) {
        opts[n++] = (struct option){"open", no_argument, NULL, O_OPEN};
        opts[n++] = (struct option){"overdue", no_argument, NULL, O_OVERDUE};
    }
    if (s->mask & M_SHOW)
        opts[n++] = (struct option){"findings", no_argument, NULL, O_FINDINGS};
    for (size_t i = 0; i < s->nfields; i++)
        opts[n++] = (struct option){s->fields[i].opt, required_argument, NULL, O_FIELD + (int)i};
    char cmd[32];
    snprintf(cmd, sizeof cmd, "joint %s", s->name);
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_DIR: a->dir = optarg; break;
        case O_HELP: sub_help(ctx, s); return 0;
        case O_JSON: a->json = true; break;
        case O_TODAY: a->today = optarg; break;
        case O_DATE: a->date = optarg; break;
        case O_AUTHOR: a->author = optarg; break;
        case O_OPEN: a->filter = JOINT_OPEN; break;
        case O_OVERDUE: a->filter = JOINT_OVERDUE; break;
        case O_FINDINGS: a->findings = true; break;
        default:
            if (c >= O_FIELD && c < O_FIELD + (int)s->nfields) {
                a->vals[c - O_FIELD] = optarg;
                break;
            }
            return cli_usage_error(ctx, cmd, "bad option");
        }
    }
    if (s->takes_id && optind < argc)
        a->id = argv[optind++];
    if (optind < argc)
        return cli_usage_error(ctx, cmd, "unexpected argument '%s'", argv[optind]);
    if (s->takes_id && !a->id)
        return cli_usage_error(ctx, cmd, "the inspection ID (ORIGIN#SEQ) is required");
    for (size_t i = 0; i < s->nfields; i++)
        if (s->fields[i].required && !a->vals[i])
            return cli_usage_error(ctx, cmd, "--%s is required", s->fields[i].opt);
    if (a->today && !proto_date_valid(a->today, strlen(a->today)))
        return cli_usage_error(ctx, cmd, "--today '%s' is not a date YYYY-MM-DD", a->today);
    if (!a->today) {
        cli_today(a->today_buf);
        a->today = a->today_buf;
    }
    return -1;
}

int cli_cmd_joint(const cli_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        joint_help(ctx, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const jsub_t *s = NULL;
    for (size_t i = 0; i < NSUBS; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            s = &subs[i];
    if (!s)
        return cli_usage_error(ctx, "joint", "unknown command '%s'", argv[1]);
    if (s->hub_only && !ctx->hub)
        return cli_usage_error(ctx, "joint", "'%s' is for hubs: a district or city opens, "
                               "changes and closes inspections", s->name);
    jargs_t a = {0};
    optind = 0;
    int ret = sub_parse(ctx, s, argc - 1, argv + 1, &a);
    if (ret >= 0)
        return ret;
    /* list and show (no kind) only read; the others record. */
    unit_t *u = NULL;
    int rc = cli_open(ctx, a.dir, s->kind ? CLI_RDWR : CLI_RDONLY, &u);
    if (rc)
        return cli_fail(ctx, rc);
    ret = s->run(ctx, s, u, &a);
    unit_close(&u);
    return ret;
}

/* ---- recording ---- */

static const char *val(const jsub_t *s, const jargs_t *a, const char *field)
{
    for (size_t i = 0; i < s->nfields; i++)
        if (strcmp(s->fields[i].field, field) == 0 && a->vals[i])
            return a->vals[i];
    return NULL;
}

/* Each prefix of a comma-separated scope must lie within this hub's subtree. */
static int scope_check(const char *scope, const char *self)
{
    char buf[64 * 161];
    snprintf(buf, sizeof buf, "%s", scope);
    char *save = NULL;
    for (char *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (!proto_origin_valid(p, strlen(p)))
            return err_set(LD_EINVAL, "scope '%s' is not a unit id (like hrb/daoli)", p);
        if (!proto_origin_within(p, strlen(p), self, strlen(self)))
            return err_set(LD_EINVAL, "scope '%s' is not within this hub's subtree (%s)", p,
                           self);
    }
    return 0;
}

/* The inspection must be held here, with its joint.opened. */
static int known_joint(store_txn_t *t, const char *id, json_t **info)
{
    int rc = joint_info(t, id, info);
    if (rc == LD_ENOTFOUND)
        return err_set(LD_ENOTFOUND, "unknown inspection %s: it is not held here (check the "
                       "id with `joint list`; a new one arrives with the next sync)", id);
    if (!rc && !json_is_true(json_object_get(*info, "known")))
        rc = err_set(LD_ENOTFOUND, "unknown inspection %s: its opening is not held here yet "
                     "(%lld events of it wait; it arrives with the next sync)", id,
                     (long long)json_integer_value(json_object_get(*info, "events")));
    return rc;
}

static int check_control(const jsub_t *s, const jargs_t *a, const char *self, json_t *info)
{
    const char *opener = json_string_value(json_object_get(info, "opener"));
    if (strcmp(opener, self) != 0)
        return err_set(LD_EINVAL, "inspection %s was opened by %s: only that hub changes or "
                       "closes it", a->id, opener);
    if (json_object_get(info, "closed"))
        return err_set(LD_EINVAL, "inspection %s is closed already (on %s)", a->id,
                       json_string_value(json_object_get(json_object_get(info, "closed"),
                                                         "date")));
    if (strcmp(s->name, "update") == 0) {
        size_t i;
        for (i = 0; i < s->nfields && !a->vals[i]; i++)
            ;
        if (i == s->nfields)
            return err_set(LD_EINVAL, "nothing to change: give --due, --scope, --title, "
                           "--description or --note");
    }
    return 0;
}

static int check_part(const jsub_t *s, const jargs_t *a, store_txn_t *t, const char *self,
                      json_t *info)
{
    const char *opener = json_string_value(json_object_get(info, "opener"));
    if (strcmp(opener, self) != 0 && !joint_info_covers(info, self)) {
        char *scope = json_dumps(json_object_get(info, "scope"), JSON_COMPACT);
        int rc = err_set(LD_EINVAL, "this unit (%s) is not in the scope of inspection %s "
                         "(scope: %s)", self, a->id, scope ? scope : "?");
        free(scope);
        return rc;
    }
    if (strcmp(s->name, "rectify") == 0) {
        const char *fid = val(s, a, "finding");
        json_t *f = NULL;
        int rc = joint_finding_info(t, fid, &f);
        if (rc == LD_ENOTFOUND || (!rc && !json_is_true(json_object_get(f, "held"))))
            rc = err_set(LD_ENOTFOUND, "unknown finding %s: it is not held here", fid);
        else if (!rc && strcmp(json_string_value(json_object_get(f, "joint")), a->id) != 0)
            rc = err_set(LD_EINVAL, "finding %s belongs to inspection %s, not %s", fid,
                         json_string_value(json_object_get(f, "joint")), a->id);
        json_decref(f);
        return rc;
    }
    json_t *closed = json_object_get(info, "closed");
    if (closed && strcmp(s->name, "finding") == 0)
        fprintf(stderr, "note: inspection %s was closed on %s: this finding is kept and "
                "shown as late\n", a->id, json_string_value(json_object_get(closed, "date")));
    return 0;
}

/* The checks before recording, in one read transaction. */
static int record_check(const jsub_t *s, const jargs_t *a, unit_t *u)
{
    const char *self = store_origin(u->store);
    if (strcmp(s->name, "open") == 0) {
        const char *from = val(s, a, "from"), *due = val(s, a, "due"), *kind = val(s, a, "type");
        int rc = val(s, a, "scope") ? scope_check(val(s, a, "scope"), self) : 0;
        if (!rc && strcmp(kind, "research") && strcmp(kind, "visit") &&
            strcmp(kind, "law_check") && strcmp(kind, "inquiry"))
            rc = err_set(LD_EINVAL, "--kind '%s' is not one of research (专题调研), visit (视察), "
                         "law_check (执法检查), inquiry (专题询问)", kind);
        if (!rc && strcmp(from, due) > 0)
            rc = err_set(LD_EINVAL, "--due %s is before --from %s", due, from);
        return rc;
    }
    if (val(s, a, "scope")) {
        int rc = scope_check(val(s, a, "scope"), self);
        if (rc)
            return rc;
    }
    store_txn_t *t;
    json_t *info = NULL;
    int rc = store_read_begin(u->store, &t);
    if (!rc)
        rc = known_joint(t, a->id, &info);
    if (!rc)
        rc = s->hub_only ? check_control(s, a, self, info) : check_part(s, a, t, self, info);
    json_decref(info);
    store_read_end(&t);
    return rc;
}

static int build_body(const jsub_t *s, const jargs_t *a, json_t *body)
{
    const proto_kind_t *k = proto_schema_find(s->kind, strlen(s->kind));
    if (s->takes_id)
        json_object_set_new(body, "joint", json_string(a->id));
    for (size_t i = 0; i < s->nfields; i++) {
        if (!a->vals[i])
            continue;
        const char *name = s->fields[i].field;
        json_t *v;
        int rc = proto_field_from_text(proto_kind_field(k, name, strlen(name)), name,
                                       a->vals[i], &v);
        if (rc)
            return err_wrap(rc, "--%s", s->fields[i].opt);
        json_object_set_new(body, name, v);
    }
    return 0;
}

static int run_record(const cli_ctx_t *ctx, const jsub_t *s, unit_t *u, jargs_t *a)
{
    json_t *body = json_object();
    json_t *obj = json_pack("{s:s, s:o}", "kind", s->kind, "body", body);
    if (a->date)
        json_object_set_new(obj, "date", json_string(a->date));
    if (a->author)
        json_object_set_new(obj, "author", json_string(a->author));
    if (strcmp(s->name, "open") == 0 && !val(s, a, "scope"))
        json_object_set_new(body, "scope", json_pack("[s]", store_origin(u->store)));
    char id[PROTO_ORIGIN_MAX + 24];
    int rc = record_check(s, a, u);
    if (!rc)
        rc = build_body(s, a, body);
    if (!rc)
        rc = cli_record_obj(u, obj, id, sizeof id);
    json_decref(obj);
    if (rc)
        return cli_fail(ctx, rc);
    printf("%s\n", id);
    return 0;
}

/* ---- list and show ---- */

#define DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10))

static const char *str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "-";
}

static long long num(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

/* "reported_late" -> "reported late" */
static const char *label(const char *status, char *buf, size_t n)
{
    snprintf(buf, n, "%s", status);
    for (char *p = buf; *p; p++)
        if (*p == '_')
            *p = ' ';
    return buf;
}

static void print_list(const json_t *list)
{
    size_t i;
    json_t *o;
    if (!json_array_size(list)) {
        printf("no joint inspections here\n");
        return;
    }
    json_array_foreach(list, i, o) {
        if (!json_is_true(json_object_get(o, "known"))) {
            printf("%-16s unknown inspection %s (%lld events waiting)\n", str(o, "id"),
                   str(o, "id"), num(o, "events"));
            continue;
        }
        json_t *tt = json_object_get(o, "totals");
        char b[32];
        printf("%-16s ", str(o, "id"));
        cli_print_cell(stdout, str(o, "title"), 28);
        printf("%-9s %-6s %s..%s", str(o, "type"), str(o, "state"), str(o, "from"),
               str(o, "due"));
        json_t *self = json_object_get(o, "this_unit");
        if (!self || num(tt, "units") > 1) /* a hub: the figures of its subtree */
            printf("  units %lld: reported %lld (%lld late), overdue %lld; findings %lld",
                   num(tt, "units"), num(tt, "reported") + num(tt, "reported_late"),
                   num(tt, "reported_late"), num(tt, "overdue"),
                   num(json_object_get(tt, "findings"), "total"));
        if (self)
            printf("%sthis unit: %s, %lld finding%s", num(tt, "units") > 1 ? "; " : "  ",
                   label(str(self, "status"), b, sizeof b),
                   num(json_object_get(self, "findings"), "total"),
                   num(json_object_get(self, "findings"), "total") == 1 ? "" : "s");
        putchar('\n');
    }
}

static void print_rows(const char *title, const json_t *rows)
{
    if (!json_array_size(rows))
        return;
    printf("\n%s\n", title);
    printf("  %-28s ", "UNIT");
    cli_print_cell(stdout, "NAME", 12);
    printf("%-18s %-10s %-10s %-17s %-5s %-9s %s\n", "STATUS", "STARTED", "REPORTED",
           "FINDINGS L/M/H", "LATE", "RECTIFIED", "DEPUTIES");
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        json_t *f = json_object_get(r, "findings"), *x = json_object_get(r, "rectification");
        char b[32], fl[40], rf[24];
        snprintf(fl, sizeof fl, "%lld (%lld/%lld/%lld)", num(f, "total"), num(f, "low"),
                 num(f, "medium"), num(f, "high"));
        snprintf(rf, sizeof rf, "%lld/%lld", num(x, "done"), num(x, "total"));
        printf("  %-28s ", str(r, "unit"));
        cli_print_cell(stdout, str(r, "name"), 12);
        printf("%-18s %-10s %-10s %-17s %-5lld %-9s %lld\n", label(str(r, "status"), b, sizeof b),
               str(r, "started"), str(r, "reported_on"), fl, num(f, "late"), rf,
               num(r, "deputies"));
    }
}

static void print_history(const json_t *show)
{
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(show, "history"), i, h) {
        if (strcmp(str(h, "kind"), "opened") == 0)
            continue;
        printf("  %s %s %s:", str(h, "date"), str(h, "kind"), str(h, "id"));
        static const char *const keys[] = {"due", "title", "description", "summary", "note"};
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
            if (json_object_get(h, keys[k]))
                printf(" %s %s;", keys[k], str(h, keys[k]));
        if (json_object_get(h, "scope")) {
            char *sc = json_dumps(json_object_get(h, "scope"), JSON_COMPACT);
            printf(" scope %s;", sc ? sc : "?");
            free(sc);
        }
        putchar('\n');
    }
}

static void print_findings(const json_t *list)
{
    printf("\nfindings\n");
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f) {
        printf("  %-32s %s %-6s %s: %s", str(f, "id"), str(f, "date"), str(f, "severity"),
               str(f, "site"), str(f, "problem"));
        if (json_object_get(f, "suggestion"))
            printf(" (suggestion: %s)", str(f, "suggestion"));
        json_t *r = json_object_get(f, "rectification");
        if (json_is_object(r))
            printf("; rectification %s on %s (%s)", str(r, "status"), str(r, "date"), str(r, "id"));
        else
            printf("; not rectified");
        if (json_is_true(json_object_get(f, "late")))
            printf("; LATE");
        if (strcmp(str(f, "scope"), "in_scope") != 0)
            printf("; %s", str(f, "scope"));
        putchar('\n');
    }
}

static void print_show(const json_t *o, bool findings)
{
    printf("%s  %s\n", str(o, "id"), str(o, "title"));
    printf("  %s, opened by %s (%s) on %s; from %s, due %s; %s\n", str(o, "type"),
           str(o, "opener_name"), str(o, "opener"), str(o, "opened_on"), str(o, "from"),
           str(o, "due"), str(o, "state"));
    printf("  scope:");
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(o, "scope"), i, p)
        printf("%s %s", i ? "," : "", json_string_value(p));
    putchar('\n');
    print_history(o);
    json_t *c = json_object_get(o, "closed");
    if (c)
        printf("  closed on %s%s%s\n", str(c, "date"), json_object_get(c, "summary") ? ": " : "",
               json_object_get(c, "summary") ? str(c, "summary") : "");
    printf("  view: %s, as of %s\n", str(o, "view"), str(o, "today"));
    print_rows("units in scope", json_object_get(o, "units"));
    print_rows("removed from the scope (what they filed before is kept)",
               json_object_get(o, "removed_from_scope"));
    print_rows("OUT OF SCOPE, filed anyway (not counted in the totals)",
               json_object_get(o, "out_of_scope"));
    print_rows("the opener's own part", json_object_get(o, "opener_part"));
    json_t *t = json_object_get(o, "totals"), *f = json_object_get(t, "findings"),
           *x = json_object_get(t, "rectification"), *rate = json_object_get(t, "completion_rate");
    printf("\ntotals: %lld units; reported %lld (%lld late), in progress %lld, not started %lld, "
           "overdue %lld; completion %.1f%%\n", num(t, "units"),
           num(t, "reported") + num(t, "reported_late"), num(t, "reported_late"),
           num(t, "in_progress"), num(t, "not_started"), num(t, "overdue"),
           json_is_number(rate) ? json_number_value(rate) * 100 : 0.0);
    printf("        findings %lld (low %lld, medium %lld, high %lld), %lld late; rectified %lld "
           "of %lld (%lld in progress); deputies %lld; participants %lld\n", num(f, "total"),
           num(f, "low"), num(f, "medium"), num(f, "high"), num(f, "late"), num(x, "done"),
           num(x, "total"), num(x, "in_progress"), num(t, "deputies"), num(t, "participants"));
    long long w = num(json_object_get(o, "waiting"), "rectifications");
    if (w)
        printf("waiting: %lld rectification%s of findings not held here\n", w, w == 1 ? "" : "s");
    if (json_object_get(o, "ignored"))
        printf("ignored: %lld changes by units other than the opener\n", num(o, "ignored"));
    if (findings)
        print_findings(json_object_get(o, "findings"));
}

static int run_view(const cli_ctx_t *ctx, unit_t *u, jargs_t *a, bool show)
{
    joint_query_t q = {.today = a->today, .findings = a->findings, .filter = a->filter};
    store_txn_t *t;
    json_t *out = NULL;
    int rc = store_read_begin(u->store, &t);
    if (!rc)
        rc = show ? joint_show(t, a->id, &q, &out) : joint_list(t, &q, &out);
    if (!rc && a->json) {
        char *text = json_dumps(out, DUMP_FLAGS); /* one write, not one per token */
        if (text)
            puts(text);
        free(text);
    } else if (!rc && show) {
        print_show(out, a->findings);
    } else if (!rc) {
        print_list(out);
    }
    store_read_end(&t);
    json_decref(out);
    return rc ? cli_fail(ctx, rc) : 0;
}

static int run_list(const cli_ctx_t *ctx, const jsub_t *s, unit_t *u, jargs_t *a)
{
    (void)s;
    return run_view(ctx, u, a, false);
}

static int run_show(const cli_ctx_t *ctx, const jsub_t *s, unit_t *u, jargs_t *a)
{
    (void)s;
    return run_view(ctx, u, a, true);
}
