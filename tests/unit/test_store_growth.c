/*
 * test_store_growth.c -- the LMDB map growing under load: in one process,
 * with two processes appending to one directory at once, when another
 * process grew the map, and while another thread reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "common/err.h"
#include "common/store.h"
#include "store_fixture.h"

static void test_store_map_grows(void **state)
{
    fx_t *f = *state;
    f->s = open_origin(f, "a", "hrb/a", 64 * 1024);
    size_t before = store_map_size(f->s);
    for (int i = 0; i < 20; i++)                 /* many small txns */
        assert_int_equal(append_n(f->s, 100, "a note long enough to fill pages quickly"), 0);
    assert_int_equal(append_n(f->s, 3000, "and one large transaction"), 0);
    assert_true(store_map_size(f->s) > before);
    assert_int_equal(head_of(f->s, "hrb/a").seq, 5000);
    assert_int_equal(verify_all(f->s, "").events, 5000);
    assert_int_equal(info_of(f->s).events, 5000);
}

/* Two processes append to one directory at once: LMDB serialises them, so
 * the log stays gapless. A small map makes both grow it under each other. */
static void test_store_two_processes_append(void **state)
{
    fx_t *f = *state;
    char *d = subdir(f, "shared");
    f->s = open_at(f, d, 64 * 1024);
    set_origin(f->s, "hrb/a");
    assert_int_equal(append_n(f->s, 1, "init"), 0);
    store_close(&f->s);
    pid_t pid[2];
    for (int k = 0; k < 2; k++) {
        pid[k] = fork();
        assert_true(pid[k] >= 0);
        if (pid[k] == 0) {
            store_t *s = NULL;
            int rc = store_open(d, 0, &(store_opts_t){64 * 1024, NULL, NULL}, &s);
            for (int i = 0; i < 50 && !rc; i++)
                rc = append_n(s, 10, k ? "child two" : "child one");
            if (rc)
                fprintf(stderr, "child %d: %s\n", k, err_msg());
            store_close(&s);
            _exit(rc ? 1 : 0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status;
        assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    f->s = open_at(f, d, 0);
    free(d);
    assert_int_equal(head_of(f->s, "hrb/a").seq, 1001);
    assert_int_equal(verify_all(f->s, "").events, 1001);
    assert_int_equal(info_of(f->s).events, 1001);
}

/* One process has the store open with a small map while another grows it
 * far past that: the first one's next transaction meets MDB_MAP_RESIZED,
 * adopts the new size and goes on. */
static void test_store_adopts_growth_by_another_process(void **state)
{
    fx_t *f = *state;
    char *d = subdir(f, "shared");
    f->s = open_at(f, d, 64 * 1024);
    set_origin(f->s, "hrb/a");
    store_close(&f->s);
    int go[2], done[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(done), 0);
    pid_t small = fork();
    assert_true(small >= 0);
    if (small == 0) {
        store_t *s = NULL;
        char c;
        int rc = store_open(d, 0, &(store_opts_t){64 * 1024, NULL, NULL}, &s);
        if (write(done[1], "o", 1) != 1 || read(go[0], &c, 1) != 1)
            rc = -1;
        if (!rc)
            rc = append_n(s, 5, "after the other grew it");
        store_close(&s);
        _exit(rc ? 1 : 0);
    }
    char c;
    assert_int_equal(read(done[0], &c, 1), 1);     /* the small one is open */
    pid_t big = fork();
    assert_true(big >= 0);
    if (big == 0) {
        store_t *s = NULL;
        int rc = store_open(d, 0, &(store_opts_t){64 * 1024, NULL, NULL}, &s);
        for (int i = 0; i < 20 && !rc; i++)
            rc = append_n(s, 200, "a note long enough to need a much larger map");
        store_close(&s);
        _exit(rc ? 1 : 0);
    }
    int status;
    assert_int_equal(waitpid(big, &status, 0), big);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(write(go[1], "g", 1), 1);
    assert_int_equal(waitpid(small, &status, 0), small);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(go[0]); close(go[1]); close(done[0]); close(done[1]);
    f->s = open_at(f, d, 0);
    free(d);
    assert_int_equal(verify_all(f->s, "").events, 4005);
}

typedef struct reader_ctx {
    store_t *s;
    atomic_int stop;
    int rounds, errors;
} reader_ctx_t;

static void *reader_main(void *arg)
{
    reader_ctx_t *r = arg;
    while (!atomic_load(&r->stop)) {
        store_txn_t *t;
        store_info_t i;
        int n = 0;
        if (store_read_begin(r->s, &t) || store_info_get(t, &i) ||
            store_events_foreach(t, "", 0, count_cb, &n) || (uint64_t)n != i.events)
            r->errors++;
        store_read_end(&t);
        r->rounds++;
    }
    return NULL;
}

/* One thread reads in a loop while another appends into a tiny map: growth
 * must wait for the readers' transactions, never unmap under them. */
static void test_store_threads_read_while_map_grows(void **state)
{
    fx_t *f = *state;
    f->s = open_origin(f, "a", "hrb/a", 64 * 1024);
    reader_ctx_t r = {f->s, 0, 0, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, reader_main, &r), 0);
    for (int i = 0; i < 30; i++)
        assert_int_equal(append_n(f->s, 100, "written while another thread reads"), 0);
    atomic_store(&r.stop, 1);
    pthread_join(th, NULL);
    assert_int_equal(r.errors, 0);
    assert_true(r.rounds > 0);
    assert_true(store_map_size(f->s) > 64 * 1024);
    assert_int_equal(verify_all(f->s, "").events, 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_store_map_grows),
        T(test_store_two_processes_append),
        T(test_store_adopts_growth_by_another_process),
        T(test_store_threads_read_while_map_grows),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
