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
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* Appends staged item i of s. */
static int stage_append(store_txn_t *t, const stage_t *s, size_t i, store_ref_t *ref)
{
    const staged_t *it = &s->items[i];
    /* stage_add() decoded exactly this content strictly: not again */
    proto_checked_t checked = {it->kind, it->body_fields};
    store_new_t ev = {
        .kind = it->kind->name, .date = it->date,
        .author = it->author_len == UINT32_MAX ? NULL
                                               : (const char *)s->bytes.data + it->author_off,
        .body = s->bytes.data + it->body_off, .body_len = it->body_len,
    };
    return store_txn_append_checked(t, &ev, &checked, ref);
}

static int stage_commit_fn(store_txn_t *t, void *arg)
{
    stage_t *s = arg;
    for (size_t i = 0; i < s->n; i++) {
        store_ref_t ref;
        int rc = stage_append(t, s, i, &ref);
        if (rc)
            return err_wrap(rc, "event %zu", i + 1);
        if (i == 0)
            s->first = ref;
        s->last = ref;
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
        rc = cli_open(ctx, a.dir, CLI_RDWR, &u);
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

/*
 * Parsing and validating a line (jansson, then the strict decoder) costs
 * several times what appending it does, so import is a pipeline: worker
 * threads take chunks of lines from the file in turn and stage them, while
 * this thread, inside the one write transaction, appends the chunks in file
 * order as they complete. After the first bad line nothing more is appended,
 * but every line is still checked, so that all bad lines are listed; the
 * transaction is then aborted: all or nothing, as before. Chunks are kept
 * until the end, so that a re-run of the callback (store_write, after
 * growing the map) appends them again without the file, which may be a pipe.
 * The write transaction is open while the file is checked, so a daemon's
 * writes wait for the whole import, not only for its writing half.
 */

#define IMPORT_MAX_REPORTED 100
#define IMPORT_CHUNK_LINES  1024
#define IMPORT_MAX_WORKERS  4

typedef struct chunk {
    stage_t st;                /* its valid events, in line order */
    buf_t bad;                 /* its bad lines: size_t lineno, then the message and NUL */
    size_t nbad;
} chunk_t;

typedef struct import {
    FILE *f;                   /* read only by a worker holding lock */
    const char *name, *origin;
    char today[11];
    bool progress;
    pthread_mutex_t lock;
    pthread_cond_t done;       /* a chunk was completed, or a worker stopped */
    /* under lock */
    size_t lineno;             /* lines read so far */
    bool eof, stop;            /* input ended; the writer gave up */
    int fail;                  /* a worker failed (read error, no memory): its error */
    char fail_msg[256];
    chunk_t **chunk;           /* by number; NULL until the chunk is complete */
    size_t nchunks, cap;       /* chunks handed out */
    /* the writer's (this thread only) */
    size_t seen;               /* chunks whose bad lines were counted and listed */
    size_t bad, events;
    store_ref_t first, last;
} import_t;

static void chunk_free(chunk_t *c)
{
    if (!c)
        return;
    stage_free(&c->st);
    buf_free(&c->bad);
    free(c);
}

/*
 * jansson allocates every value, key and hash table of a line separately
 * (about 30 blocks) and frees them all again at json_decref: a tenth of
 * the cost of a line. While import runs, its allocator functions serve a
 * worker thread from that thread's arena, which is emptied after each
 * line; anything else (another thread, a block too big for what is left)
 * gets malloc, and free() is called for any block outside the calling
 * thread's arena. No jansson value may cross threads while the arena
 * functions are installed; in import none does.
 */
#define ARENA_SIZE 65536

typedef struct arena {
    _Alignas(16) char mem[ARENA_SIZE];
    size_t used;
} arena_t;

static _Thread_local arena_t *tl_arena;

static void *arena_malloc(size_t n)
{
    arena_t *a = tl_arena;
    n = (n + 15) & ~(size_t)15;
    if (a && n >= 16 && n <= ARENA_SIZE - a->used) {
        void *p = a->mem + a->used;
        a->used += n;
        return p;
    }
    return malloc(n);
}

static void arena_free(void *p)
{
    arena_t *a = tl_arena;
    if (a && (char *)p >= a->mem && (char *)p < a->mem + ARENA_SIZE)
        return;
    free(p);
}

static int import_line(stage_t *s, const char *origin, const char *line, size_t len,
                       const char *today)
{
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc;
    if (!obj)
        rc = err_set(LD_EINVAL, "not valid JSON: %s (column %d)", jerr.text, jerr.column);
    else
        rc = json_is_object(obj) ? stage_add(s, origin, obj, today)
                                 : err_set(LD_EINVAL, "not a JSON object");
    json_decref(obj);
    if (tl_arena)
        tl_arena->used = 0;   /* nothing of this line's JSON is left */
    return rc;
}

/* A worker's copy of the lines of one chunk: text, and per line its
 * offset, length and number. */
typedef struct lines {
    buf_t text;
    struct { size_t off, len, lineno; } *at;
    size_t n;
} lines_t;

/* Under im->lock: reads up to IMPORT_CHUNK_LINES non-blank lines into l. */
static int read_chunk(import_t *im, lines_t *l, char **line, size_t *cap)
{
    ssize_t len;
    buf_reset(&l->text);
    l->n = 0;
    while (l->n < IMPORT_CHUNK_LINES && (len = getline(line, cap, im->f)) >= 0) {
        im->lineno++;
        while (len > 0 && ((*line)[len - 1] == '\n' || (*line)[len - 1] == '\r'))
            (*line)[--len] = '\0';
        if (strspn(*line, " \t") == (size_t)len)
            continue;
        l->at[l->n].off = l->text.len;
        l->at[l->n].len = (size_t)len;
        l->at[l->n].lineno = im->lineno;
        l->n++;
        int rc = buf_append(&l->text, *line, (size_t)len + 1);
        if (rc)
            return rc;
    }
    if (l->n < IMPORT_CHUNK_LINES) {
        im->eof = true;
        if (ferror(im->f))
            return err_set(LD_EINVAL, "%s: read error", im->name);
    }
    return 0;
}

/* Stages every line of l into a new chunk; bad lines are noted in it. */
static int stage_chunk(import_t *im, const lines_t *l, chunk_t **out)
{
    chunk_t *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(LD_ENOMEM, "out of memory");
    for (size_t i = 0; i < l->n; i++) {
        const char *text = (const char *)l->text.data + l->at[i].off;
        if (!import_line(&c->st, im->origin, text, l->at[i].len, im->today))
            continue;
        const char *msg = err_msg();
        c->nbad++;
        if (buf_append(&c->bad, &l->at[i].lineno, sizeof l->at[i].lineno) ||
            buf_append(&c->bad, msg, strlen(msg) + 1)) {
            chunk_free(c);
            return err_set(LD_ENOMEM, "out of memory");
        }
    }
    buf_free(&c->st.scratch);
    *out = c;
    return 0;
}

/* Under im->lock: room for chunk number im->nchunks. */
static int chunk_slot(import_t *im)
{
    if (im->nchunks < im->cap)
        return 0;
    size_t cap = im->cap ? im->cap * 2 : 256;
    chunk_t **p = realloc(im->chunk, cap * sizeof *p);
    if (!p)
        return err_set(LD_ENOMEM, "out of memory");
    im->chunk = p;
    im->cap = cap;
    return 0;
}

static void *import_worker(void *arg)
{
    import_t *im = arg;
    lines_t l = {BUF_INIT, malloc(IMPORT_CHUNK_LINES * sizeof *l.at), 0};
    char *line = NULL;
    size_t cap = 0;
    tl_arena = calloc(1, sizeof *tl_arena);   /* without it: plain malloc, slower */
    int rc = l.at ? 0 : err_set(LD_ENOMEM, "out of memory");
    while (!rc) {
        pthread_mutex_lock(&im->lock);
        if (im->eof || im->stop || im->fail) {
            pthread_mutex_unlock(&im->lock);
            break;
        }
        size_t k = im->nchunks;
        rc = chunk_slot(im);
        if (!rc) {
            im->chunk[k] = NULL;
            im->nchunks++;
            rc = read_chunk(im, &l, &line, &cap);
        }
        pthread_mutex_unlock(&im->lock);
        chunk_t *c = NULL;
        if (!rc)
            rc = stage_chunk(im, &l, &c);
        pthread_mutex_lock(&im->lock);
        if (!rc)
            im->chunk[k] = c;
        pthread_cond_broadcast(&im->done);
        pthread_mutex_unlock(&im->lock);
    }
    if (rc) {
        pthread_mutex_lock(&im->lock);
        if (!im->fail) {
            im->fail = rc;
            snprintf(im->fail_msg, sizeof im->fail_msg, "%s", err_msg());
        }
        pthread_cond_broadcast(&im->done);
        pthread_mutex_unlock(&im->lock);
    }
    free(line);
    free(l.at);
    buf_free(&l.text);
    free(tl_arena);
    tl_arena = NULL;
    return NULL;
}

/* Waits for chunk k; NULL once the input ended before it, or on failure
 * (*rc set). */
static chunk_t *import_wait(import_t *im, size_t k, int *rc)
{
    pthread_mutex_lock(&im->lock);
    while (!im->fail && !(k < im->nchunks && im->chunk[k]) && !(im->eof && k >= im->nchunks))
        pthread_cond_wait(&im->done, &im->lock);
    chunk_t *c = !im->fail && k < im->nchunks ? im->chunk[k] : NULL;
    if (im->fail)
        *rc = err_set(im->fail, "%s", im->fail_msg);
    pthread_mutex_unlock(&im->lock);
    return c;
}

/* Counts and lists (the first IMPORT_MAX_REPORTED of) a chunk's bad lines. */
static void import_report(import_t *im, const chunk_t *c)
{
    const uint8_t *p = c->bad.data, *end = p + c->bad.len;
    while (p < end) {
        size_t lineno;
        memcpy(&lineno, p, sizeof lineno);
        const char *msg = (const char *)p + sizeof lineno;
        if (++im->bad <= IMPORT_MAX_REPORTED)
            fprintf(stderr, "%s%s:%zu: %s\n", im->progress ? "\r" : "", im->name, lineno, msg);
        p += sizeof lineno + strlen(msg) + 1;
    }
}

static int import_commit_fn(store_txn_t *t, void *arg)
{
    import_t *im = arg;
    im->events = 0;
    int rc = 0;
    chunk_t *c;
    for (size_t k = 0; !rc && (c = import_wait(im, k, &rc)); k++) {
        if (k == im->seen) {
            import_report(im, c);
            im->seen++;
        }
        for (size_t i = 0; !im->bad && i < c->st.n; i++) {
            store_ref_t ref;
            if ((rc = stage_append(t, &c->st, i, &ref)))
                return err_wrap(rc, "event %zu", im->events + 1);
            if (im->events++ == 0)
                im->first = ref;
            im->last = ref;
            if (im->progress && im->events % 50000 == 0)
                fprintf(stderr, "\rimport: %zu events", im->events);
        }
    }
    if (rc)
        return rc;
    if (im->bad > IMPORT_MAX_REPORTED)
        fprintf(stderr, "%s: ... and %zu more bad lines\n", im->name,
                im->bad - IMPORT_MAX_REPORTED);
    if (im->bad)
        return err_set(LD_ESCHEMA, "%s: %zu bad line%s of %zu: nothing imported", im->name,
                       im->bad, im->bad == 1 ? "" : "s", im->lineno);
    return 0;
}

static int import_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > IMPORT_MAX_WORKERS ? IMPORT_MAX_WORKERS : (int)n;
}

/* Checks and appends every line of im->f in one write transaction. */
static int import_run(import_t *im, store_t *store)
{
    pthread_t tid[IMPORT_MAX_WORKERS];
    int n = 0, rc = 0;
    /* jansson seeds its hash function on first use: do that here, once */
    json_decref(json_object());
    json_malloc_t old_malloc;
    json_free_t old_free;
    json_get_alloc_funcs(&old_malloc, &old_free);
    json_set_alloc_funcs(arena_malloc, arena_free);
    for (int want = import_workers(); n < want; n++)
        if (pthread_create(&tid[n], NULL, import_worker, im))
            break;
    if (n == 0)
        rc = err_set(LD_ENOMEM, "import: cannot start a thread");
    if (!rc)
        rc = store_write(store, import_commit_fn, im);
    pthread_mutex_lock(&im->lock);
    im->stop = true;            /* after a failed write the rest need not be read */
    pthread_mutex_unlock(&im->lock);
    for (int i = 0; i < n; i++)
        pthread_join(tid[i], NULL);
    json_set_alloc_funcs(old_malloc, old_free);
    return rc;
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
    import_t im = {.f = f, .name = name, .progress = cli_progress_wanted()};
    pthread_mutex_init(&im.lock, NULL);
    pthread_cond_init(&im.done, NULL);
    cli_today(im.today);
    int rc = cli_open(ctx, dir, CLI_RDWR, &u);
    if (!rc)
        rc = check_not_restoring(u);
    if (!rc) {
        im.origin = store_origin(u->store);
        rc = import_run(&im, u->store);
    }
    if (!rc && im.events)
        nudge_send(u->dir);
    if (im.progress)
        fputc('\n', stderr);
    if (!rc && im.events)
        printf("imported %zu events (%s#%llu..%llu)\n", im.events, store_origin(u->store),
               (unsigned long long)im.first.seq, (unsigned long long)im.last.seq);
    else if (!rc)
        printf("imported 0 events\n");
    int ret = rc ? cli_fail(ctx, rc) : 0;
    if (f != stdin)
        fclose(f);
    for (size_t i = 0; i < im.nchunks; i++)
        chunk_free(im.chunk[i]);
    free(im.chunk);
    pthread_cond_destroy(&im.done);
    pthread_mutex_destroy(&im.lock);
    unit_close(&u);
    return ret;
}

/* ---- the record path for other subcommands ---- */

int cli_record_obj(struct unit *u, json_t *obj, char *id, size_t idlen)
{
    stage_t s = {0};
    char today[11];
    cli_today(today);
    int rc = check_not_restoring(u);
    if (!rc)
        rc = stage_add(&s, store_origin(u->store), obj, today);
    if (!rc)
        rc = store_write(u->store, stage_commit_fn, &s);
    if (!rc) {
        nudge_send(u->dir); /* a running daemon sends it on at once */
        snprintf(id, idlen, "%s#%llu", store_origin(u->store), (unsigned long long)s.first.seq);
    }
    stage_free(&s);
    return rc;
}
