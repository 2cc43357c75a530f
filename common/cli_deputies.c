/*
 * cli_deputies.c -- `deputies`: the deputy registry, folded from the
 * deputy.registered / deputy.updated / deputy.left events held.
 *
 * The fold walks each origin's log in chain order, so the result depends only
 * on the events held, never on arrival order. A deputy is identified by
 * (origin, deputy id): ids are assigned by the unit that registers them.
 */
#include "common/cli.h"
#include "common/err.h"
#include "common/unit.h"
#include "proto/json.h"

#include <getopt.h>
#include <string.h>

typedef struct fold {
    json_t *index; /* "origin deputy" -> entry (borrowed from list) */
    json_t *list;  /* entries in order of first appearance */
} fold_t;

static const char *const deputy_fields[] = {
    "name", "gender", "level", "constituency", "category", "background", "term", "ethnicity",
};

static json_t *entry_get(fold_t *f, const proto_event_t *ev, const char *deputy)
{
    char key[PROTO_ORIGIN_MAX + 64];
    snprintf(key, sizeof key, "%.*s %s", (int)ev->origin.len, ev->origin.ptr, deputy);
    json_t *e = json_object_get(f->index, key);
    if (!e) {
        e = json_pack("{s:s#, s:s, s:s}", "origin", ev->origin.ptr, (int)ev->origin.len,
                      "deputy", deputy, "status", "in_office");
        json_array_append_new(f->list, e);
        json_object_set(f->index, key, e);
    }
    return e;
}

static int fold_one(const char *origin, uint64_t seq, const uint8_t *raw, size_t len, void *arg)
{
    proto_event_t ev;
    if (proto_event_decode(raw, len, 0, &ev))
        return err_wrap(LD_ECORRUPT, "stored event %s#%llu", origin, (unsigned long long)seq);
    if (ev.kind.len < 7 || memcmp(ev.kind.ptr, "deputy.", 7) != 0 || !ev.schema)
        return 0;
    json_t *body = proto_body_to_json(&ev);
    const char *id = json_string_value(json_object_get(body, "deputy"));
    if (!id) {
        json_decref(body);
        return 0;
    }
    json_t *e = entry_get(arg, &ev, id);
    if (mpk_str_eq(ev.kind, "deputy.registered") || mpk_str_eq(ev.kind, "deputy.updated")) {
        for (size_t i = 0; i < sizeof deputy_fields / sizeof *deputy_fields; i++) {
            json_t *v = json_object_get(body, deputy_fields[i]);
            if (v)
                json_object_set(e, deputy_fields[i], v);
        }
        if (mpk_str_eq(ev.kind, "deputy.registered"))
            json_object_set_new(e, "registered", json_stringn(ev.date.ptr, ev.date.len));
    } else if (mpk_str_eq(ev.kind, "deputy.left")) {
        json_object_set_new(e, "status", json_string("left"));
        json_object_set(e, "left_reason", json_object_get(body, "reason"));
        json_object_set_new(e, "left", json_stringn(ev.date.ptr, ev.date.len));
    }
    json_decref(body);
    return 0;
}

static const char *str_or(json_t *o, const char *k, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : dflt;
}

static void deputies_print(json_t *list)
{
    size_t i, j;
    json_t *e, *b;
    printf("%-20s %-10s %-12s %-10s %-12s %-10s %-20s %s\n", "UNIT", "ID", "NAME", "LEVEL",
           "CATEGORY", "TERM", "BACKGROUND", "STATUS");
    json_array_foreach(list, i, e) {
        char bg[128] = "";
        json_array_foreach(json_object_get(e, "background"), j, b) {
            size_t n = strlen(bg);
            snprintf(bg + n, sizeof bg - n, "%s%s", n ? "," : "", json_string_value(b));
        }
        char status[64];
        if (strcmp(str_or(e, "status", ""), "left") == 0)
            snprintf(status, sizeof status, "left %s (%s)", str_or(e, "left", "?"),
                     str_or(e, "left_reason", "?"));
        else
            snprintf(status, sizeof status, "in office");
        cli_print_cell(stdout, str_or(e, "origin", ""), 20);
        cli_print_cell(stdout, str_or(e, "deputy", ""), 10);
        cli_print_cell(stdout, str_or(e, "name", "?"), 12);
        printf("%-10s %-12s %-10s %-20s %s\n", str_or(e, "level", "?"),
               str_or(e, "category", "?"), str_or(e, "term", "?"), bg[0] ? bg : "-", status);
    }
}

int cli_cmd_deputies(const cli_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'}, {"json", no_argument, NULL, 'j'},
        {"origin", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *prefix = NULL;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'j': json = 1; break;
        case 'o': prefix = optarg; break;
        case 'h':
            printf("usage: %s deputies [--origin PREFIX] [--json] [--dir DIR]\n\n"
                   "The deputy registry: every deputy registered by this unit (or, with\n"
                   "--origin, by the units at or below PREFIX; --origin '' for all held),\n"
                   "with their current details and whether they are still in office.\n",
                   ctx->prog);
            return 0;
        default: return cli_usage_error(ctx, "deputies", "bad option");
        }
    }
    if (optind < argc)
        return cli_usage_error(ctx, "deputies", "unexpected argument '%s'", argv[optind]);
    unit_t *u;
    store_txn_t *t = NULL;
    int rc = cli_open(ctx, dir, CLI_RDONLY, &u);
    if (rc)
        return cli_fail(ctx, rc);
    fold_t f = {json_object(), json_array()};
    if (!(rc = store_read_begin(u->store, &t)))
        rc = store_events_foreach(t, prefix ? prefix : store_origin(u->store), 0, fold_one, &f);
    store_read_end(&t);
    unit_close(&u);
    if (!rc) {
        if (json) {
            json_dumpf(f.list, stdout, JSON_COMPACT);
            putchar('\n');
        } else {
            deputies_print(f.list);
        }
    }
    json_decref(f.index);
    json_decref(f.list);
    return rc ? cli_fail(ctx, rc) : 0;
}
