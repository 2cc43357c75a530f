/*
 * test_views.c -- the views (common/views.h) on a read-only store: a unit
 * opened with unit_open_rdonly answers while another process sits inside a
 * write transaction (holding LMDB's writer lock), sees only what is
 * committed, and writes nothing; a view that was never built, or was built
 * by another version, is reported by its queries with a clear error instead
 * of being rebuilt or misread, and is rebuilt by the next read-write open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/err.h"
#include "common/joint.h"
#include "common/stats.h"
#include "common/store.h"
#include "common/unit.h"
#include "common/views.h"
#include "proto/json.h"
#include "testutil.h"

#define ORIGIN "hrb/daoli/xinnong"

typedef struct fx {
    char *dir;
    char path[4096];    /* the unit's directory, or a bare store's */
    json_int_t events;  /* make_unit: the statistics' event total, read-write */
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->dir = testutil_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/u", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    testutil_rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* ---- helpers ---- */

typedef struct append_ctx {
    const char *topic;
    int locked_fd, release_fd;  /* >= 0: signal, then wait inside the txn */
} append_ctx_t;

static int append_fn(store_txn_t *t, void *arg)
{
    append_ctx_t *a = arg;
    json_t *body = json_pack("{s:s, s:s, s:i}", "deputy", "d01", "topic", a->topic,
                             "hours", 2);
    buf_t packed = BUF_INIT;
    int rc = body ? proto_body_pack_json(body, &packed) : LD_ENOMEM;
    json_decref(body);
    store_ref_t ref;
    store_new_t ev = {"deputy.training", "2026-03-01", NULL, packed.data, packed.len};
    if (!rc)
        rc = store_txn_append(t, &ev, &ref);
    buf_free(&packed);
    if (rc || a->locked_fd < 0)
        return rc;
    char c = 'L';
    if (write(a->locked_fd, &c, 1) != 1 || read(a->release_fd, &c, 1) != 1)
        return LD_EINVAL;
    return LD_EEXIST;   /* abort: the held event is never committed */
}

static void append_one(store_t *s, const char *topic)
{
    append_ctx_t a = {topic, -1, -1};
    assert_int_equal(store_write(s, append_fn, &a), 0);
}

static uint64_t head_seq(store_t *s)
{
    store_txn_t *t;
    store_head_t h = {0};
    assert_int_equal(store_read_begin(s, &t), 0);
    store_head_get(t, ORIGIN, &h);
    store_read_end(&t);
    return h.seq;
}

static int query_joint(store_t *s, json_t **out)
{
    store_txn_t *t;
    joint_query_t q = {.today = "2026-03-10"};
    *out = NULL;
    int rc = store_read_begin(s, &t);
    if (!rc)
        rc = joint_list(t, &q, out);
    store_read_end(&t);
    return rc;
}

static int query_stats(store_t *s, json_t **out)
{
    stats_query_t q = {.now_ms = 1773000000000ull};
    assert_int_equal(stats_period_parse("2026", &q.period), 0);
    return stats_query(s, &q, out);
}

static json_int_t stats_events(const json_t *r)
{
    return json_integer_value(json_object_get(json_object_get(r, "total"), "events"));
}

/* Both views answer: the joint list (empty here) and the statistics. */
static void views_answer(store_t *s, json_int_t events)
{
    json_t *r;
    assert_int_equal(query_joint(s, &r), 0);
    assert_true(json_is_array(r));
    assert_int_equal(json_array_size(r), 0);
    json_decref(r);
    assert_int_equal(query_stats(s, &r), 0);
    assert_int_equal(stats_events(r), events);
    json_decref(r);
}

static void make_unit(fx_t *f)
{
    unit_create_opts_t o = {.dir = f->path, .id = ORIGIN, .name = "新农镇",
                            .type = "township"};
    unit_t *u;
    assert_int_equal(unit_create(&o, &u), 0);
    append_one(u->store, "预算审查");
    assert_int_equal(head_seq(u->store), 2);
    /* unit.registered is dated today: it counts in 2026 only in that year. */
    json_t *r;
    assert_int_equal(query_stats(u->store, &r), 0);
    f->events = stats_events(r);
    assert_true(f->events >= 1);
    json_decref(r);
    unit_close(&u);
}

/* A bare store with an origin and one event, closed; views as `attach` says. */
static void make_store(fx_t *f, bool attach)
{
    store_t *s;
    assert_int_equal(mkdir(f->path, 0700), 0);
    assert_int_equal(store_open(f->path, STORE_CREATE, NULL, &s), 0);
    if (attach)
        assert_int_equal(views_attach(s), 0);
    assert_int_equal(store_write(s, testutil_set_origin_cb, (void *)ORIGIN), 0);
    append_one(s, "预算审查");
    store_close(&s);
}

static store_t *open_store(fx_t *f, unsigned flags)
{
    store_t *s;
    assert_int_equal(store_open(f->path, flags, NULL, &s), 0);
    assert_int_equal(views_attach(s), 0);
    return s;
}

/* ---- the writer lock ---- */

/* The child: opens the unit read-write and sits inside a write transaction
 * (an uncommitted event appended) until the parent releases it. */
static void child_hold(const char *dir, int locked_fd, int release_fd)
{
    unit_t *u;
    append_ctx_t a = {"uncommitted", locked_fd, release_fd};
    int rc = unit_open(dir, NULL, &u);
    if (!rc)
        rc = store_write(u->store, append_fn, &a);
    unit_close(&u);
    _exit(rc == LD_EEXIST ? 0 : 1);
}

static void test_views_rdonly_open_while_writer_holds_lock(void **state)
{
    fx_t *f = *state;
    make_unit(f);
    int locked[2], release[2];
    assert_int_equal(pipe(locked), 0);
    assert_int_equal(pipe(release), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(locked[0]);
        close(release[1]);
        child_hold(f->path, locked[1], release[0]);
    }
    close(locked[1]);
    close(release[0]);
    alarm(30);  /* a read-only open that waited for the lock would hang here */
    char c = 0;
    assert_int_equal(read(locked[0], &c, 1), 1);
    assert_int_equal(c, 'L');

    unit_t *u;
    assert_int_equal(unit_open_rdonly(f->path, NULL, &u), 0);
    assert_true(store_rdonly(u->store));
    assert_int_equal(head_seq(u->store), 2);    /* not the child's uncommitted 3 */
    views_answer(u->store, f->events);          /* as before the lock */
    append_ctx_t a = {"refused", -1, -1};
    assert_int_equal(store_write(u->store, append_fn, &a), LD_EINVAL);
    unit_close(&u);

    assert_int_equal(write(release[1], "R", 1), 1);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    alarm(0);
    close(locked[0]);
    close(release[1]);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(unit_open(f->path, NULL, &u), 0);
    assert_int_equal(head_seq(u->store), 2);
    unit_close(&u);
}

/* ---- views missing or stale ---- */

static void test_views_rdonly_missing_view_reported(void **state)
{
    fx_t *f = *state;
    make_store(f, false);   /* as a store from before the views were added */
    store_t *s = open_store(f, STORE_RDONLY);
    json_t *r;
    assert_int_equal(query_joint(s, &r), LD_ENOTFOUND);
    assert_null(r);
    assert_non_null(strstr(err_msg(), "no joint inspection view yet"));
    assert_int_equal(query_stats(s, &r), LD_ENOTFOUND);
    assert_null(r);
    assert_non_null(strstr(err_msg(), "no statistics view yet"));
    /* Attaching wrote nothing: no version recorded, no database made. */
    store_txn_t *t;
    const void *v;
    size_t len;
    MDB_dbi dbi;
    assert_int_equal(store_read_begin(s, &t), 0);
    assert_int_equal(store_meta_get(t, "joint.version", &v, &len), LD_ENOTFOUND);
    assert_int_equal(store_meta_get(t, "stats.version", &v, &len), LD_ENOTFOUND);
    assert_int_equal(store_dbi(t, "joint.units", 0, &dbi), LD_ENOTFOUND);
    assert_int_equal(store_dbi(t, "stats.agg", 0, &dbi), LD_ENOTFOUND);
    store_read_end(&t);
    store_close(&s);

    s = open_store(f, 0);   /* read-write: built from the events */
    store_close(&s);
    s = open_store(f, STORE_RDONLY);
    views_answer(s, 1);
    store_close(&s);
}

static int stale_fn(store_txn_t *t, void *arg)
{
    (void)arg;
    int rc = store_meta_put(t, "joint.version", "0", 1);
    return rc ? rc : store_meta_put(t, "stats.version", "0", 1);
}

static void test_views_rdonly_stale_view_reported(void **state)
{
    fx_t *f = *state;
    make_store(f, true);
    store_t *s = open_store(f, STORE_RDONLY);
    views_answer(s, 1);
    store_close(&s);
    assert_int_equal(store_open(f->path, 0, NULL, &s), 0);
    assert_int_equal(store_write(s, stale_fn, NULL), 0);   /* an older build's views */
    store_close(&s);

    s = open_store(f, STORE_RDONLY);
    json_t *r;
    assert_int_equal(query_joint(s, &r), LD_EVERSION);
    assert_non_null(strstr(err_msg(), "joint inspection view is version 0"));
    assert_int_equal(query_stats(s, &r), LD_EVERSION);
    assert_non_null(strstr(err_msg(), "statistics view is version 0"));
    store_close(&s);

    s = open_store(f, 0);
    views_answer(s, 1);
    store_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_views_rdonly_open_while_writer_holds_lock),
        T(test_views_rdonly_missing_view_reported),
        T(test_views_rdonly_stale_view_reported),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
