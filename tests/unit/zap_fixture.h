/*
 * zap_fixture.h -- what the test_zap*.c pieces share: sockets without
 * linger, fresh CURVE key pairs, a deadline that bounds every run, and the
 * hub of the sync design: a context with the ZAP handler and three CURVE
 * server sockets (ROUTER control, SUB data up, PUB data down) on
 * consecutive ephemeral loopback ports, all on one libuv loop through
 * zloop, counting handshakes per socket and what arrives.
 *
 * Every helper fails the test (cmocka) when something it needs goes wrong.
 */
#ifndef LD_TESTS_ZAP_FIXTURE_H
#define LD_TESTS_ZAP_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/keys.h"
#include "common/zap.h"
#include "common/zloop.h"

#define DEADLINE_MS 20000
#define GRACE_MS 200
#define TICK_MS 5
#define DOMAIN "liandong-test"
#define GOOD_ORIGIN "hrb/wuchang/shanhe"

/* ---- plumbing ---- */

/* A socket of ctx with linger 0. */
void *socket_new(void *ctx, int type);
void new_keys(keys_t *k);
/* Frame i of m is exactly the string s. */
bool frame_eq(zloop_msg_t *m, size_t i, const char *s);
void copy_str(char *dst, size_t size, const char *src);
void on_deadline(uv_timer_t *t);

/* ---- the hub ---- */

enum { H_ROUTER, H_SUB, H_PUB };

typedef struct hub {
    void *ctx;
    zap_t zap;
    keys_t keys;
    void *sock[3];
    char ep[3][64];
    zloop_t w_router, w_sub;
    void *mon[3];
    zloop_t w_mon[3];
    unsigned failed[3], succeeded[3];   /* handshakes per socket */
    unsigned good_router, good_sub;     /* "hello" / "data" from the good child */
    unsigned evil;                      /* anything from a bad child */
    char router_uid[64], router_rid_uid[64], sub_uid[64];
} hub_t;

void hub_open(hub_t *h, uv_loop_t *loop);
void hub_close(hub_t *h);
void hub_term(hub_t *h);

#endif
