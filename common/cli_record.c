/*
 * cli_record.c -- `record` (one event from options) and `import` (JSON Lines,
 * all or nothing).
 *
 * Both build the same input object {"kind", "date", "author", "body"} and go
 * through one path: parse (proto/json.h), pack the body, validate the whole
 * event with the strict decoder, then append in one durable transaction
 * (passing what the decode found, so that the store does not decode it
 * again: only seq, hlc and prev are new there).
 * Import validates every line before it writes anything, so one bad line
 * means nothing stored and a list of every bad line, not just the first.
 */
#include "common/cli.h"
#include "common/err.h"
#include "common/nudge.h"
#include "common/unit.h"
#include "proto/json.h"

#include <assert.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One validated event waiting to be appended. Offsets into the staging
 * buffer keep millions of them compact and let store_write retry (after a
 * map resize) from the start without reparsing. */
typedef struct staged {
    const proto_kind_t *kind;
    char date[11];
    uint32_t author_off, author_len; /* author_len == UINT32_MAX: no author */
    size_t body_off;
    uint32_t body_len;
    uint32_t body_fields;            /* from the strict decode (proto_checked_t) */
} staged_t;

typedef struct stage {
    staged_t *items;
    size_t n, cap;
    buf_t bytes;
    buf_t scratch;                   /* the event being validated */
    store_ref_t first, last;
    int progress;
} stage_t;

static void stage_free(stage_t *s)
{
    free(s->items);
    buf_free(&s->bytes);
    buf_free(&s->scratch);
}

/* Validates one input object as a new event of `origin` and stages it. */
static int stage_add(stage_t *s, const char *origin, json_t *obj, const char *today)
{
    proto_input_t in;
    int rc = proto_input_parse(obj, &in);
    if (rc)
        return rc;
    const proto_kind_t *k = proto_schema_find(in.kind, strlen(in.kind));
    if (!k)
        return err_set(LD_ESCHEMA, "unknown kind '%s' (see `kinds`)", in.kind);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        staged_t *p = realloc(s->items, cap * sizeof *p);
        if (!p)
            return err_set(LD_ENOMEM, "out of memory");
        s->items = p;
        s->cap = cap;
    }
    staged_t *it = &s->items[s->n];
    it->kind = k;
    snprintf(it->date, sizeof it->date, "%s", in.date ? in.date : today);
    if (in.date && strlen(in.date) != 10)
        return err_set(LD_ESCHEMA, "date '%s' is not YYYY-MM-DD", in.date);
    it->author_len = UINT32_MAX;
    size_t mark = s->bytes.len;
    if (in.author) {
        it->author_off = (uint32_t)s->bytes.len;
        it->author_len = (uint32_t)strlen(in.author);
        if ((rc = buf_append(&s->bytes, in.author, it->author_len + 1)))
            return rc;
    }
    it->body_off = s->bytes.len;
    if ((rc = proto_body_pack_json(in.body, &s->bytes)))
        goto undo;
    it->body_len = (uint32_t)(s->bytes.len - it->body_off);

    /* Validate the event as it will be stored; only the header differs. */
    proto_header_t h = {.origin = origin, .seq = 1, .hlc = 0, .kind = k->name,
                        .date = it->date, .author = in.author};
    memset(h.prev, 0, sizeof h.prev);
    proto_event_t dec;
    buf_reset(&s->scratch);
    rc = proto_event_encode(&h, s->bytes.data + it->body_off, it->body_len, &s->scratch);
    if (!rc)
        rc = proto_event_decode(s->scratch.data, s->scratch.len, PROTO_DECODE_STRICT, &dec);
    if (!rc) {
        assert(dec.schema == k);
        it->body_fields = dec.body_fields;
        s->n++;
        return 0;
    }
undo:
    s->bytes.len = mark;
    return rc;
}

static void progress(const char *what, size_t done, size_t total)
{
    if (total)
        fprintf(stderr, "\r%s: %zu/%zu (%d%%)", what, done, total, (int)(done * 100 / total));
    else
        fprintf(stderr, "\r%s: %zu", what, done);
}

/* A unit being restored must not record before its own log is back. */
static int check_not_restoring(unit_t *u)
{
    bool pending = false;
    int rc = unit_restore_pending(u, &pending);
    if (!rc && pending)
        rc = err_set(LD_ECHAIN, "this unit is being restored from its hub and cannot record "
                     "yet: finish the restore with `sync --once` first");
    return rc;
}

static int stage_commit_fn(store_txn_t *t, void *arg)
{
    stage_t *s = arg;
    for (size_t i = 0; i < s->n; i++) {
        staged_t *it = &s->items[i];
        /* stage_add() decoded exactly this content strictly: not again */
        proto_checked_t checked = {it->kind, it->body_fields};
        store_new_t ev = {
            .kind = it->kind->name, .date = it->date,
            .author = it->author_len == UINT32_MAX ? NULL
                                                   : (const char *)s->bytes.data + it->author_off,
            .body = s->bytes.data + it->body_off, .body_len = it->body_len,
        };
        store_ref_t ref;
        int rc = store_txn_append_checked(t, &ev, &checked, &ref);
        if (rc)
            return err_wrap(rc, "event %zu", i + 1);
        if (i == 0)
            s->first = ref;
        s->last = ref;
        if (s->progress && (i % 50000 == 0 || i + 1 == s->n))
            progress("import: writing", i + 1, s->n);
    }
    return 0;
}

/* ---- record ---- */

static void record_help(const cli_ctx_t *ctx)
{
    printf("usage: %s record KIND [--date YYYY-MM-DD] [--deputy ID] [--field KEY=VALUE ...]\n"
           "       [--author NAME] [--json '{...}'] [--dir DIR]\n\n"
           "Records one event of this unit and prints its id ORIGIN#SEQ once it is on disk.\n"
           "`%s kinds` lists the kinds and their fields.\n\n"
           "  --date D         the activity date (default: today)\n"
           "  --deputy ID      shorthand for --field deputy=ID\n"
           "  --field K=V      a body field; V is parsed by the field's type (lists are\n"
           "                   comma-separated)\n"
           "  --author NAME    who entered it\n"
           "  --json OBJ       the whole event: {\"kind\", \"date\", \"author\", \"body\": {...}};\n"
           "                   --field/--deputy add to or override its body\n",
           ctx->prog, ctx->prog);
}

static int set_field(json_t *obj, const char *kind, const char *name, const char *text)
{
    json_t *body = json_object_get(obj, "body");
    if (!json_is_object(body)) {
        body = json_object();
        json_object_set_new(obj, "body", body);
    }
    const proto_kind_t *k = kind ? proto_schema_find(kind, strlen(kind)) : NULL;
    const proto_field_t *f = k ? proto_kind_field(k, name, strlen(name)) : NULL;
    json_t *v;
    int rc = proto_field_from_text(f, name, text, &v);
    if (!rc)
        json_object_set_new(body, name, v);
    return rc;
}

typedef struct record_args {
    json_t *obj;
    const char *dir;
    const char *fields[128];
    int nfields;
} record_args_t;

static int record_parse(const cli_ctx_t *ctx, int argc, char **argv, record_args_t *a)
{
    static const struct option opts[] = {
        {"date", required_argument, NULL, 'D'}, {"deputy", required_argument, NULL, 'p'},
        {"field", required_argument, NULL, 'f'}, {"author", required_argument, NULL, 'a'},
        {"json", required_argument, NULL, 'j'}, {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    int c;
    json_t *top = json_object();
    a->obj = top;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        json_error_t jerr;
        switch (c) {
        case 'D': json_object_set_new(top, "date", json_string(optarg)); break;
        case 'a': json_object_set_new(top, "author", json_string(optarg)); break;
        case 'd': a->dir = optarg; break;
        case 'p': case 'f':
            if (a->nfields == 128)
                return cli_usage_error(ctx, "record", "too many fields");
            a->fields[a->nfields++] = c == 'p' ? NULL : optarg;
            if (c == 'p')
                a->fields[a->nfields++] = optarg;
            break;
        case 'j': {
            json_t *j = json_loads(optarg, JSON_REJECT_DUPLICATES, &jerr);
            if (!json_is_object(j)) {
                json_decref(j);
                return cli_usage_error(ctx, "record", "--json: %s",
                                       j ? "not a JSON object" : jerr.text);
            }
            json_object_update_missing(j, top);
            json_decref(top);
            a->obj = top = j;
            break;
        }
        case 'h': record_help(ctx); return 0;
        default: return cli_usage_error(ctx, "record", "bad option");
        }
    }
    if (optind < argc)
        json_object_set_new(top, "kind", json_string(argv[optind++]));
    if (optind < argc)
        return cli_usage_error(ctx, "record", "unexpected argument '%s'", argv[optind]);
    if (!json_is_string(json_object_get(top, "kind")))
        return cli_usage_error(ctx, "record", "KIND is required");
    return -1; /* go on */
}

static int record_fields(record_args_t *a)
{
    const char *kind = json_string_value(json_object_get(a->obj, "kind"));
    for (int i = 0; i < a->nfields; i++) {
        int rc;
        if (!a->fields[i]) { /* --deputy ID */
            rc = set_field(a->obj, kind, "deputy", a->fields[++i]);
        } else {
            const char *eq = strchr(a->fields[i], '=');
            if (!eq || eq == a->fields[i])
                return err_set(LD_EINVAL, "--field '%s': expected KEY=VALUE", a->fields[i]);
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(eq - a->fields[i]), a->fields[i]);
            rc = set_field(a->obj, kind, name, eq + 1);
        }
        if (rc)
            return rc;
    }
    return 0;
}

int cli_cmd_record(const cli_ctx_t *ctx, int argc, char **argv)
{
    record_args_t a = {0};
    int ret = record_parse(ctx, argc, argv, &a);
    if (ret >= 0) {
        json_decref(a.obj);
        return ret;
    }
    unit_t *u = NULL;
    stage_t s = {0};
    char today[11];
    cli_today(today);
    int rc = record_fields(&a);
    if (!rc)
        rc = cli_open(ctx, a.dir, &u);
    if (!rc)
        rc = check_not_restoring(u);
    if (!rc)
        rc = stage_add(&s, store_origin(u->store), a.obj, today);
    if (!rc)
        rc = store_write(u->store, stage_commit_fn, &s);
    if (!rc)
        nudge_send(u->dir); /* a running daemon sends it on at once */
    if (!rc)
        printf("%s#%llu\n", store_origin(u->store), (unsigned long long)s.first.seq);
    ret = rc ? cli_fail(ctx, rc) : 0;
    stage_free(&s);
    unit_close(&u);
    json_decref(a.obj);
    return ret;
}

/* ---- import ---- */

static void import_help(const cli_ctx_t *ctx)
{
    printf("usage: %s import [--dir DIR] FILE|-\n\n"
           "Records every event in FILE (JSON Lines; - for standard input), all or nothing:\n"
           "one line per event, {\"kind\", \"date\", \"author\", \"body\": {...}}, the shape\n"
           "`record --json` takes. If any line is bad, nothing is stored and every bad line\n"
           "is listed as `FILE:LINE: reason`. Blank lines are skipped.\n", ctx->prog);
}

#define IMPORT_MAX_REPORTED 100

static int import_line(stage_t *s, const char *origin, char *line, size_t len,
                       const char *today)
{
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj)
        return err_set(LD_EINVAL, "not valid JSON: %s (column %d)", jerr.text, jerr.column);
    int rc = json_is_object(obj) ? stage_add(s, origin, obj, today)
                                 : err_set(LD_EINVAL, "not a JSON object");
    json_decref(obj);
    return rc;
}

static int import_read(FILE *f, const char *name, stage_t *s, const char *origin)
{
    char today[11], *line = NULL;
    size_t cap = 0, lineno = 0, bad = 0;
    ssize_t len;
    cli_today(today);
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (strspn(line, " \t") == (size_t)len)
            continue;
        if (import_line(s, origin, line, (size_t)len, today)) {
            if (++bad <= IMPORT_MAX_REPORTED)
                fprintf(stderr, "%s%s:%zu: %s\n", s->progress ? "\r" : "", name, lineno,
                        err_msg());
        }
        if (s->progress && lineno % 50000 == 0)
            progress("import: checking", lineno, 0);
    }
    free(line);
    if (ferror(f))
        return err_set(LD_EINVAL, "%s: read error", name);
    if (bad > IMPORT_MAX_REPORTED)
        fprintf(stderr, "%s: ... and %zu more bad lines\n", name, bad - IMPORT_MAX_REPORTED);
    if (bad)
        return err_set(LD_ESCHEMA, "%s: %zu bad line%s of %zu: nothing imported", name, bad,
                       bad == 1 ? "" : "s", lineno);
    return 0;
}

int cli_cmd_import(const cli_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            dir = optarg;
        else if (c == 'h') {
            import_help(ctx);
            return 0;
        } else
            return cli_usage_error(ctx, "import", "bad option");
    }
    if (optind + 1 != argc)
        return cli_usage_error(ctx, "import", "expected one FILE (or - for standard input)");
    const char *name = argv[optind];
    FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "r");
    if (!f)
        return cli_fail(ctx, err_set(LD_ENOTFOUND, "%s: cannot open", name));
    unit_t *u = NULL;
    stage_t s = {.progress = cli_progress_wanted()};
    int rc = cli_open(ctx, dir, &u);
    if (!rc)
        rc = check_not_restoring(u);
    if (!rc)
        rc = import_read(f, name, &s, store_origin(u->store));
    if (!rc && s.n && !(rc = store_write(u->store, stage_commit_fn, &s)))
        nudge_send(u->dir);
    if (s.progress)
        fputc('\n', stderr);
    if (!rc && s.n)
        printf("imported %zu events (%s#%llu..%llu)\n", s.n, store_origin(u->store),
               (unsigned long long)s.first.seq, (unsigned long long)s.last.seq);
    else if (!rc)
        printf("imported 0 events\n");
    int ret = rc ? cli_fail(ctx, rc) : 0;
    if (f != stdin)
        fclose(f);
    stage_free(&s);
    unit_close(&u);
    return ret;
}
