/*
 * testutil.h -- helpers shared by the cmocka unit tests: a fresh temporary
 * directory per test, removed afterwards, and a settable fake clock so that
 * nothing sleeps.
 */
#ifndef LD_TESTUTIL_H
#define LD_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* mkdtemp under $TMPDIR (or /tmp); aborts the test on failure. Caller frees
 * the string after testutil_rmdir(). */
char *testutil_tmpdir(void);
/* rm -rf dir (only paths testutil_tmpdir made are passed here). */
void testutil_rmdir(const char *dir);

typedef struct testutil_clock {
    uint64_t now_ms;
} testutil_clock_t;
/* hlc_clock_fn over a testutil_clock_t. */
uint64_t testutil_clock_ms(void *arg);

struct store;
struct store_txn;

/* store_write callback that sets the store's origin meta to arg (a
 * NUL-terminated origin): the tests' way of making a store some unit's. */
int testutil_set_origin_cb(struct store_txn *t, void *arg);

/* A copy of one origin's contiguous log: raw[i] is the bytes of seq i + 1.
 * Fails the test if the store does not hold the origin. */
typedef struct testutil_log {
    size_t n;
    uint8_t **raw;
    size_t *len;
} testutil_log_t;

void testutil_log_copy(struct store *s, const char *origin, testutil_log_t *out);
void testutil_log_free(testutil_log_t *l);

#endif
