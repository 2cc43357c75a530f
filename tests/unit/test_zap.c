/*
 * test_zap.c -- the ZAP handler by itself: the allow table (rotation,
 * conflicts, revocation, growth), one handler per context, and RFC 27 on
 * the wire with hand-made requests. The hub/child CURVE topology it guards
 * is in test_zap_hub.c; a context without a handler and revoking a live
 * key in test_zap_guard.c.
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

/* ---- the allow table ---- */

static void test_zap_table(void **state)
{
    (void)state;
    uv_loop_t loop;
    zap_t z;
    keys_t a, b;
    void *ctx = zmq_ctx_new();
    new_keys(&a);
    new_keys(&b);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(zap_init(&loop, &z, ctx), 0);

    assert_int_equal(zap_allow(&z, "hrb/wuchang/shanhe", a.public), 0);
    assert_int_equal(zap_allow(&z, "hrb/wuchang/shanhe", a.public), 0);  /* no-op */
    assert_int_equal(zap_allow(&z, "hrb/wuchang/shanhe", b.public), 0);  /* rotation */
    assert_string_equal(zap_lookup(&z, a.public), "hrb/wuchang/shanhe");
    assert_int_equal(zap_allow(&z, "hrb/daoli", a.public), LD_EEXIST);
    assert_non_null(strstr(err_msg(), "hrb/wuchang/shanhe"));
    assert_int_equal(zap_allow(&z, "hrb/daoli", "not-a-key"), LD_EINVAL);
    assert_int_equal(zap_allow(&z, "", a.public), LD_EINVAL);
    assert_int_equal(zap_allow(&z, "has space", a.public), LD_EINVAL);
    assert_int_equal(zap_allow(&z, NULL, a.public), LD_EINVAL);
    assert_true(zap_origin_allowed(&z, "hrb/wuchang/shanhe"));
    assert_false(zap_origin_allowed(&z, "hrb/daoli"));

    assert_int_equal(zap_deny(&z, "hrb/wuchang/shanhe"), 0);   /* both keys */
    assert_null(zap_lookup(&z, a.public));
    assert_null(zap_lookup(&z, b.public));
    assert_false(zap_origin_allowed(&z, "hrb/wuchang/shanhe"));
    assert_int_equal(zap_deny(&z, "hrb/wuchang/shanhe"), LD_ENOTFOUND);

    char origin[32];
    for (int i = 0; i < 40; i++) {          /* grows past the first block */
        keys_t k;
        new_keys(&k);
        snprintf(origin, sizeof origin, "hrb/t%d", i);
        assert_int_equal(zap_allow(&z, origin, k.public), 0);
        assert_string_equal(zap_lookup(&z, k.public), origin);
    }
    assert_true(zap_origin_allowed(&z, "hrb/t39"));
    zap_clear(&z);
    assert_false(zap_origin_allowed(&z, "hrb/t39"));
    assert_int_equal(zap_allow(&z, "hrb/daoli", a.public), 0);

    zap_close(&z, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(zmq_ctx_term(ctx), 0);
}

static void test_zap_one_handler_per_context(void **state)
{
    (void)state;
    uv_loop_t loop;
    zap_t z1, z2;
    void *ctx = zmq_ctx_new();
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(zap_init(&loop, &z1, ctx), 0);
    assert_int_equal(zap_init(&loop, &z2, ctx), -EADDRINUSE);
    assert_non_null(strstr(err_msg(), "already runs"));
    zap_close(&z1, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(zmq_ctx_term(ctx), 0);
}

/* ---- RFC 27 on the wire, with hand-made requests ---- */

typedef struct rfc27 {
    uv_loop_t loop;
    uv_timer_t deadline;
    zap_t zap;
    void *ctx, *client;
    zloop_t w;
    char reqid[16], code[8], text[64], user[64];
    size_t frames;
    bool expired;
} rfc27_t;

static void on_reply(zloop_t *w, zloop_msg_t *m)
{
    rfc27_t *r = w->data;
    char *dst[] = {NULL, NULL, r->reqid, r->code, r->text, r->user};
    size_t sizes[] = {0, 0, sizeof r->reqid, sizeof r->code, sizeof r->text, sizeof r->user};
    r->frames = m->count;
    for (size_t i = 2; i < 6 && i < m->count; i++) {
        size_t len;
        const char *d = zloop_msg_data(m, i, &len);
        snprintf(dst[i], sizes[i], "%.*s", (int)len, d);
    }
    uv_stop(&r->loop);
}

/* One hand-made request: [delimiter, version, request id, domain, address,
 * routing id, mechanism, credentials]. cred: "KEY" = the 32 raw bytes of key,
 * "SHORT" = 31 of them, "PLAIN" = user + password frames, "" = none. */
typedef struct rfc27_case {
    const char *version, *domain, *mechanism, *cred;
    bool good_key;
    const char *code, *user;
} rfc27_case_t;

static void ask(rfc27_t *r, const rfc27_case_t *c, const char *reqid, const char *key_z85)
{
    uint8_t raw[32];
    assert_non_null(zmq_z85_decode(raw, key_z85));
    zloop_frame_t f[10] = {
        {"", 0}, {c->version, 3}, {reqid, strlen(reqid)}, {c->domain, strlen(c->domain)},
        {"10.0.0.8", 8}, {"", 0}, {c->mechanism, strlen(c->mechanism)},
    };
    size_t n = 7;
    if (strcmp(c->cred, "KEY") == 0 || strcmp(c->cred, "SHORT") == 0)
        f[n++] = (zloop_frame_t){raw, strcmp(c->cred, "KEY") == 0 ? 32 : 31};
    else if (strcmp(c->cred, "PLAIN") == 0) {
        f[n++] = (zloop_frame_t){"user", 4};
        f[n++] = (zloop_frame_t){"pass", 4};
    }
    assert_int_equal(zloop_sendv(&r->w, f, n), 0);
    r->frames = 0;
    r->code[0] = r->user[0] = r->reqid[0] = '\0';
    uv_timer_start(&r->deadline, on_deadline, DEADLINE_MS, 0);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&r->deadline);
    assert_false(r->expired);
    assert_int_equal(r->frames, 7);
    assert_string_equal(r->reqid, reqid);
    assert_string_equal(r->code, c->code);
    assert_string_equal(r->user, c->user);
}

static const rfc27_case_t rfc27_cases[] = {
    {"1.0", DOMAIN, "CURVE", "KEY", true, "200", GOOD_ORIGIN},
    {"1.0", DOMAIN, "CURVE", "KEY", false, "400", ""},      /* unknown key */
    {"1.0", DOMAIN, "PLAIN", "PLAIN", true, "400", ""},
    {"1.0", DOMAIN, "NULL", "", true, "400", ""},
    {"2.0", DOMAIN, "CURVE", "KEY", true, "400", ""},       /* bad version */
    {"1.0", DOMAIN, "CURVE", "SHORT", true, "400", ""},     /* 31-byte key */
    {"1.0", "elsewhere", "CURVE", "KEY", true, "400", ""},  /* other domain */
};

static void rfc27_open(rfc27_t *r, const keys_t *good)
{
    r->ctx = zmq_ctx_new();
    assert_int_equal(uv_loop_init(&r->loop), 0);
    uv_timer_init(&r->loop, &r->deadline);
    r->deadline.data = &r->expired;
    assert_int_equal(zap_init(&r->loop, &r->zap, r->ctx), 0);
    assert_int_equal(zap_set_domain(&r->zap, DOMAIN), 0);
    assert_int_equal(zap_allow(&r->zap, GOOD_ORIGIN, good->public), 0);
    assert_int_equal(zap_start(&r->zap), 0);
    r->client = socket_new(r->ctx, ZMQ_DEALER);
    assert_int_equal(zmq_connect(r->client, ZAP_ENDPOINT), 0);
    assert_int_equal(zloop_init(&r->loop, &r->w, r->client), 0);
    r->w.data = r;
    assert_int_equal(zloop_start(&r->w, on_reply), 0);
}

static void test_zap_rfc27_requests(void **state)
{
    (void)state;
    rfc27_t *r = calloc(1, sizeof *r);
    keys_t good, unknown;
    char reqid[16];
    new_keys(&good);
    new_keys(&unknown);
    rfc27_open(r, &good);

    for (size_t i = 0; i < sizeof rfc27_cases / sizeof rfc27_cases[0]; i++) {
        const rfc27_case_t *c = &rfc27_cases[i];
        snprintf(reqid, sizeof reqid, "r%zu", i);
        ask(r, c, reqid, c->good_key ? good.public : unknown.public);
    }
    assert_string_equal(r->zap.last_refused_mechanism, "CURVE");
    assert_string_equal(r->zap.last_refused_address, "10.0.0.8");
    ask(r, &rfc27_cases[1], "unknown", unknown.public);
    assert_string_equal(r->zap.last_refused_key, unknown.public);
    ask(r, &rfc27_cases[2], "plain", good.public);
    assert_string_equal(r->zap.last_refused_key, "");
    assert_string_equal(r->zap.last_refused_mechanism, "PLAIN");

    /* Any domain once the filter is lifted. */
    assert_int_equal(zap_set_domain(&r->zap, NULL), 0);
    rfc27_case_t any = rfc27_cases[6];
    any.code = "200", any.user = GOOD_ORIGIN;
    ask(r, &any, "any", good.public);

    /* Not a request at all (no delimiter): no answer; the next one is. */
    assert_int_equal(zloop_send(&r->w, "junk", 4, 0), 0);
    ask(r, &rfc27_cases[0], "after-junk", good.public);
    assert_int_equal(r->zap.accepted, 3);
    assert_int_equal(r->zap.refused, 8);

    zloop_close(&r->w, NULL);
    zmq_close(r->client);
    zap_close(&r->zap, NULL);
    uv_close((uv_handle_t *)&r->deadline, NULL);
    assert_int_equal(uv_run(&r->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&r->loop), 0);
    assert_int_equal(zmq_ctx_term(r->ctx), 0);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zap_table),
        cmocka_unit_test(test_zap_one_handler_per_context),
        cmocka_unit_test(test_zap_rfc27_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
