/*
 * test_zap_hub.c -- the hub/child CURVE topology the ZAP handler guards.
 *
 * The topology tests build what the sync design needs: a hub context with the
 * handler and three CURVE server sockets (ROUTER control, SUB data up, PUB data
 * down) on consecutive ephemeral loopback ports, and child contexts that
 * connect DEALER, PUB and SUB as CURVE clients pinning the hub's key. All
 * sockets run on one libuv loop through zloop. A child that must be kept out
 * runs next to an allowed one (the positive control); the run ends once the
 * allowed child's traffic has gone both ways and the hub has seen the bad
 * child's handshakes fail on all three sockets, plus a short grace period.
 */
#include "common/err.h"
#include "common/keys.h"
#include "common/zap.h"
#include "common/zloop.h"
#include "zap_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

/* ---- children ---- */

typedef enum { CHILD_GOOD, CHILD_UNKNOWN_KEY, CHILD_WRONG_SERVER, CHILD_PLAIN } child_kind_t;

typedef struct child {
    child_kind_t kind;
    void *ctx;
    keys_t keys;
    void *dealer, *pub, *sub;
    zloop_t w_dealer, w_sub;
    unsigned welcomes, downs;
    char dealer_uid[64];
} child_t;

static void on_child_dealer(zloop_t *w, zloop_msg_t *m)
{
    child_t *c = w->data;
    if (m->count == 1 && frame_eq(m, 0, "welcome") && c->welcomes++ == 0)
        copy_str(c->dealer_uid, sizeof c->dealer_uid, zloop_msg_user_id(m));
}

static void on_child_sub(zloop_t *w, zloop_msg_t *m)
{
    child_t *c = w->data;
    if (m->count == 1 && frame_eq(m, 0, "down"))
        c->downs++;
}

static void child_open(child_t *c, child_kind_t kind, uv_loop_t *loop, hub_t *h)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->ctx = zmq_ctx_new();
    new_keys(&c->keys);
    keys_t wrong;
    new_keys(&wrong);
    const char *pinned = kind == CHILD_WRONG_SERVER ? wrong.public : h->keys.public;

    void **socks[3] = {&c->dealer, &c->pub, &c->sub};
    static const int types[3] = {ZMQ_DEALER, ZMQ_PUB, ZMQ_SUB};
    static const int target[3] = {H_ROUTER, H_SUB, H_PUB};
    for (int i = 0; i < 3; i++) {
        *socks[i] = socket_new(c->ctx, types[i]);
        if (kind != CHILD_PLAIN)
            assert_int_equal(keys_curve_client(*socks[i], &c->keys, pinned), 0);
        assert_int_equal(zmq_connect(*socks[i], h->ep[target[i]]), 0);
    }
    keys_wipe(&wrong);
    assert_int_equal(zmq_setsockopt(c->sub, ZMQ_SUBSCRIBE, "", 0), 0);
    assert_int_equal(zloop_init(loop, &c->w_dealer, c->dealer), 0);
    assert_int_equal(zloop_init(loop, &c->w_sub, c->sub), 0);
    c->w_dealer.data = c->w_sub.data = c;
    assert_int_equal(zloop_start(&c->w_dealer, on_child_dealer), 0);
    assert_int_equal(zloop_start(&c->w_sub, on_child_sub), 0);
}

/* One tick of traffic. PUB drops until the subscription has arrived (slow
 * joiner), so data is resent every tick; a bad child says "evil". */
static void child_send(child_t *c)
{
    const char *text = c->kind == CHILD_GOOD ? "hello" : "evil";
    if (c->kind != CHILD_GOOD || c->welcomes == 0)
        (void)zloop_send(&c->w_dealer, text, strlen(text), 0);   /* -EAGAIN: queue full */
    text = c->kind == CHILD_GOOD ? "data" : "evil";
    (void)zmq_send(c->pub, text, strlen(text), ZMQ_DONTWAIT);
}

static void child_close(child_t *c)
{
    zloop_close(&c->w_dealer, NULL);
    zloop_close(&c->w_sub, NULL);
    zmq_close(c->dealer);
    zmq_close(c->pub);
    zmq_close(c->sub);
}

static void child_term(child_t *c)
{
    assert_int_equal(zmq_ctx_term(c->ctx), 0);
    keys_wipe(&c->keys);
}

/* ---- one scenario: a good child, optionally a bad one ---- */

typedef struct scenario {
    uv_loop_t loop;
    uv_timer_t tick, deadline;
    hub_t hub;
    child_t good, bad;
    bool with_bad, expired;
    char bad_public[KEYS_Z85_LEN + 1];  /* kept: child_term() wipes the keys */
    uint64_t grace_until;       /* 0 until the end condition first held */
} scenario_t;

static bool good_done(scenario_t *s)
{
    return s->hub.good_router && s->hub.good_sub && s->good.welcomes && s->good.downs;
}

static bool bad_refused(scenario_t *s)
{
    if (!s->with_bad)
        return true;
    for (int i = 0; i < 3; i++)
        if (s->hub.failed[i] == 0)
            return false;
    return true;
}

static void on_tick(uv_timer_t *t)
{
    scenario_t *s = t->data;
    child_send(&s->good);
    if (s->with_bad)
        child_send(&s->bad);
    (void)zmq_send(s->hub.sock[H_PUB], "down", 4, ZMQ_DONTWAIT);
    if (!s->grace_until && good_done(s) && bad_refused(s))
        s->grace_until = uv_now(&s->loop) + (s->with_bad ? GRACE_MS : 0);
    if (s->grace_until && uv_now(&s->loop) >= s->grace_until)
        uv_stop(&s->loop);
}

/* allow_bad: also put the bad child's key in the allow table (to show that
 * pinning the wrong server key fails even for an allowed key). */
static void scenario_run(scenario_t *s, bool with_bad, child_kind_t bad_kind, bool allow_bad)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(uv_loop_init(&s->loop), 0);
    hub_open(&s->hub, &s->loop);
    child_open(&s->good, CHILD_GOOD, &s->loop, &s->hub);
    assert_int_equal(zap_allow(&s->hub.zap, GOOD_ORIGIN, s->good.keys.public), 0);
    s->with_bad = with_bad;
    if (with_bad) {
        child_open(&s->bad, bad_kind, &s->loop, &s->hub);
        memcpy(s->bad_public, s->bad.keys.public, sizeof s->bad_public);
        if (allow_bad)
            assert_int_equal(zap_allow(&s->hub.zap, "hrb/evil", s->bad.keys.public), 0);
    }
    uv_timer_init(&s->loop, &s->tick);
    uv_timer_init(&s->loop, &s->deadline);
    s->tick.data = s;
    s->deadline.data = &s->expired;
    uv_timer_start(&s->tick, on_tick, TICK_MS, TICK_MS);
    uv_timer_start(&s->deadline, on_deadline, DEADLINE_MS, 0);
    uv_run(&s->loop, UV_RUN_DEFAULT);

    uv_close((uv_handle_t *)&s->tick, NULL);
    uv_close((uv_handle_t *)&s->deadline, NULL);
    child_close(&s->good);
    if (with_bad)
        child_close(&s->bad);
    hub_close(&s->hub);
    assert_int_equal(uv_run(&s->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&s->loop), 0);
    child_term(&s->good);
    if (with_bad)
        child_term(&s->bad);
    hub_term(&s->hub);
}

static void assert_good_child_through(scenario_t *s)
{
    assert_false(s->expired);
    assert_true(s->hub.good_router > 0);
    assert_true(s->hub.good_sub > 0);
    assert_true(s->good.welcomes > 0);
    assert_true(s->good.downs > 0);
    /* The authenticated origin arrives as User-Id on ROUTER and on SUB. */
    assert_string_equal(s->hub.router_uid, GOOD_ORIGIN);
    assert_string_equal(s->hub.sub_uid, GOOD_ORIGIN);
    assert_true(s->hub.zap.accepted >= 3);
}

static void assert_bad_child_kept_out(scenario_t *s)
{
    assert_int_equal(s->hub.evil, 0);
    assert_int_equal(s->bad.welcomes, 0);
    assert_int_equal(s->bad.downs, 0);
    for (int i = 0; i < 3; i++)
        assert_true(s->hub.failed[i] > 0);
}

/* (a) + hub PUB -> child SUB */
static void test_zap_hub_allowed_child(void **state)
{
    (void)state;
    scenario_t *s = calloc(1, sizeof *s);
    scenario_run(s, false, CHILD_GOOD, false);
    assert_good_child_through(s);
    assert_int_equal(s->hub.zap.refused, 0);
    for (int i = 0; i < 3; i++)
        assert_true(s->hub.succeeded[i] > 0);
    printf("# User-Id on hub ROUTER payload: %s, on its routing-id frame: %s, "
           "on hub SUB: %s, on the child's DEALER (client side): %s\n",
           s->hub.router_uid, s->hub.router_rid_uid, s->hub.sub_uid,
           s->good.dealer_uid);
    free(s);
}

/* (b) unknown key: refused by the handler on all three sockets */
static void test_zap_hub_unknown_key(void **state)
{
    (void)state;
    scenario_t *s = calloc(1, sizeof *s);
    scenario_run(s, true, CHILD_UNKNOWN_KEY, false);
    assert_good_child_through(s);
    assert_bad_child_kept_out(s);
    assert_true(s->hub.zap.refused >= 3);
    assert_string_equal(s->hub.zap.last_refused_key, s->bad_public);
    assert_string_equal(s->hub.zap.last_refused_mechanism, "CURVE");
    assert_string_equal(s->hub.zap.last_refused_address, "127.0.0.1");
    free(s);
}

/* (c) allowed key, but pinning the wrong server key: the handshake fails
 * before ZAP is even asked. */
static void test_zap_hub_wrong_server_key(void **state)
{
    (void)state;
    scenario_t *s = calloc(1, sizeof *s);
    scenario_run(s, true, CHILD_WRONG_SERVER, true);
    assert_good_child_through(s);
    assert_bad_child_kept_out(s);
    assert_int_equal(s->hub.zap.refused, 0);
    free(s);
}

/* (d) a plain (NULL mechanism) client against CURVE servers */
static void test_zap_hub_plain_client(void **state)
{
    (void)state;
    scenario_t *s = calloc(1, sizeof *s);
    scenario_run(s, true, CHILD_PLAIN, false);
    assert_good_child_through(s);
    assert_bad_child_kept_out(s);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zap_hub_allowed_child),
        cmocka_unit_test(test_zap_hub_unknown_key),
        cmocka_unit_test(test_zap_hub_wrong_server_key),
        cmocka_unit_test(test_zap_hub_plain_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
