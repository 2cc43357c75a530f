/*
 * test_msg.c -- the sync messages: every type round-trips; the strict
 * decoder refuses every truncation, wrong type, extra or missing element,
 * oversized count or field, bad origin, short hash, non-bin event,
 * non-UTF-8 text, unknown type and other protocol version; the BATCH
 * builder at 0, 1 and many events and at its limits.
 *
 * Every hostile input is decoded from an exactly sized malloc'd copy, so
 * that AddressSanitizer reports any read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "common/err.h"
#include "proto/msg.h"

static uint8_t hash_a[PROTO_HASH_LEN], hash_b[PROTO_HASH_LEN];

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < PROTO_HASH_LEN; i++) {
        hash_a[i] = (uint8_t)i;
        hash_b[i] = (uint8_t)(0xff - i);
    }
    return 0;
}

/* Decodes an exactly sized heap copy; on success also walks the vector and
 * the events, as a receiver would. */
static int decode_copy(const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, data, len);
    msg_t m;
    int rc = msg_decode(copy, len, &m);
    for (uint32_t i = 0; rc == 0 && i < m.vv_count; i++) {
        msg_vv_entry_t e;
        rc = msg_vv_next(&m, &e);
    }
    for (uint32_t i = 0; rc == 0 && i < m.nevents; i++) {
        const uint8_t *raw;
        size_t n;
        rc = msg_batch_next(&m, &raw, &n);
    }
    free(copy);
    if (rc)
        assert_true(strlen(err_msg()) > 0);
    return rc;
}

static void expect_fail(const buf_t *b, int want)
{
    int rc = decode_copy(b->data, b->len);
    if (want ? rc != want : rc >= 0)
        fail_msg("decode gave %d (%s), wanted %d", rc, err_msg(), want);
}

static void sample_vv(msg_vv_builder_t *vv)
{
    *vv = (msg_vv_builder_t){BUF_INIT, 0};
    assert_int_equal(msg_vv_add(vv, "hrb/wuchang", 42, hash_a), 0);
    assert_int_equal(msg_vv_add(vv, "hrb/wuchang/shanhe", 0, hash_b), 0);
}

static void check_sample_vv(msg_t *m)
{
    msg_vv_entry_t e;
    assert_int_equal(m->vv_count, 2);
    assert_int_equal(msg_vv_next(m, &e), 0);
    assert_true(mpk_str_eq(e.origin, "hrb/wuchang"));
    assert_int_equal(e.seq, 42);
    assert_memory_equal(e.hash, hash_a, PROTO_HASH_LEN);
    assert_int_equal(msg_vv_next(m, &e), 0);
    assert_true(mpk_str_eq(e.origin, "hrb/wuchang/shanhe"));
    assert_int_equal(e.seq, 0);
    assert_memory_equal(e.hash, hash_b, PROTO_HASH_LEN);
    assert_int_equal(msg_vv_next(m, &e), LD_EPROTO);   /* past the end */
}

/* ---- round trips ---- */

static void test_msg_round_trip_hello(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    msg_vv_builder_t vv;
    sample_vv(&vv);
    assert_int_equal(msg_encode_hello(&b, "hrb/wuchang", "0123456789abcdef", UINT64_MAX,
                                      MSG_HELLO_RESTORE, &vv), 0);
    msg_t m;
    assert_int_equal(msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.type, MSG_T_HELLO);
    assert_int_equal(m.version, MSG_PROTOCOL_VERSION);
    assert_true(mpk_str_eq(m.origin, "hrb/wuchang"));
    assert_true(mpk_str_eq(m.epoch, "0123456789abcdef"));
    assert_true(m.session == UINT64_MAX);
    assert_int_equal(m.flags, MSG_HELLO_RESTORE);
    check_sample_vv(&m);
    msg_vv_free(&vv);
    buf_free(&b);
}

static void test_msg_round_trip_welcome(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    msg_vv_builder_t vv;
    sample_vv(&vv);
    assert_int_equal(msg_encode_welcome(&b, "hrb", "", 7, &vv), 0);
    msg_t m;
    assert_int_equal(msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.type, MSG_T_WELCOME);
    assert_true(mpk_str_eq(m.origin, "hrb"));
    assert_int_equal(m.epoch.len, 0);
    assert_int_equal(m.session, 7);
    check_sample_vv(&m);
    /* A NULL builder is an empty vector. */
    buf_reset(&b);
    assert_int_equal(msg_encode_welcome(&b, "hrb", "e", 7, NULL), 0);
    assert_int_equal(msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.vv_count, 0);
    msg_vv_free(&vv);
    buf_free(&b);
}

static void test_msg_round_trip_ack_nack_ping(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    msg_vv_builder_t vv;
    sample_vv(&vv);
    msg_t m;
    assert_int_equal(msg_encode_ack(&b, 3, 1u << 20, &vv), 0);
    assert_int_equal(msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.type, MSG_T_ACK);
    assert_int_equal(m.session, 3);
    assert_int_equal(m.batch, 1u << 20);
    check_sample_vv(&m);

    buf_reset(&b);
    assert_int_equal(msg_encode_nack(&b, 3, 17), 0);
    assert_int_equal(msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.type, MSG_T_NACK);
    assert_int_equal(m.session, 3);
    assert_int_equal(m.batch, 17);

    buf_reset(&b);
    assert_int_equal(msg_encode_ping(&b, 9, 1000000, 12), 0);
    assert_int_equal(msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.type, MSG_T_PING);
    assert_int_equal(m.session, 9);
    assert_int_equal(m.head, 1000000);
    assert_int_equal(m.pending, 12);
    msg_vv_free(&vv);
    buf_free(&b);
}

static void test_msg_round_trip_error_nudge(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    msg_t m;
    assert_int_equal(msg_encode_error(&b, MSG_ERR_ORIGIN, "origin 不对"), 0);
    assert_int_equal(msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.type, MSG_T_ERROR);
    assert_int_equal(m.code, MSG_ERR_ORIGIN);
    assert_true(mpk_str_eq(m.text, "origin 不对"));

    buf_reset(&b);
    assert_int_equal(msg_encode_nudge(&b), 0);
    assert_int_equal(b.len, 2);
    assert_int_equal(msg_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.type, MSG_T_NUDGE);
    buf_free(&b);
}

/* The encoder cuts long text at a character and replaces invalid UTF-8, so
 * that it always sends what the decoder takes. */
static void test_msg_error_text_is_made_valid(void **state)
{
    (void)state;
    char text[1200];
    size_t n = 0;
    text[n++] = 'x';
    while (n + 3 < sizeof text - 1) {
        memcpy(text + n, "镇", 3);
        n += 3;
    }
    text[n] = '\0';
    buf_t b = BUF_INIT;
    msg_t m;
    assert_int_equal(msg_encode_error(&b, 1, text), 0);
    assert_int_equal(msg_decode(b.data, b.len, &m), 0);
    assert_true(m.text.len <= MSG_TEXT_MAX && m.text.len > MSG_TEXT_MAX - 3);
    assert_true(mpk_utf8_valid(m.text.ptr, m.text.len));

    buf_reset(&b);
    assert_int_equal(msg_encode_error(&b, 1, "bad \xff\xfe bytes"), 0);
    assert_int_equal(msg_decode(b.data, b.len, &m), 0);
    assert_true(mpk_str_eq(m.text, "bad ?? bytes"));
    buf_free(&b);
}

static void test_msg_encoders_refuse_what_decoders_refuse(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    msg_vv_builder_t vv = {BUF_INIT, 0};
    assert_int_equal(msg_vv_add(&vv, "HRB", 1, hash_a), LD_EINVAL);
    assert_int_equal(msg_vv_add(&vv, "hrb//x", 1, hash_a), LD_EINVAL);
    assert_int_equal(msg_vv_add(&vv, "", 1, hash_a), LD_EINVAL);
    assert_int_equal(msg_vv_add(&vv, "hrb", (uint64_t)INT64_MAX + 1, hash_a), LD_EINVAL);
    assert_int_equal(vv.count, 0);
    assert_int_equal(vv.body.len, 0);
    assert_int_equal(msg_encode_hello(&b, "Hrb", "e", 1, 0, NULL), LD_EINVAL);
    assert_int_equal(msg_encode_hello(&b, "hrb", "0123456789abcdef0123456789abcdef0", 1, 0, NULL),
                     LD_EINVAL);
    assert_int_equal(msg_encode_welcome(&b, "hrb", "a b", 1, NULL), LD_EINVAL);
    assert_int_equal(b.len, 0);
    msg_vv_free(&vv);
    buf_free(&b);
}

/* ---- hostile input ---- */

/* Element kinds of the generic packer below. */
enum { E_UINT, E_STR, E_VV, E_EVENTS };
typedef struct elem {
    int kind;
    uint64_t u;
    const char *s;
} elem_t;

typedef struct spec {
    const char *name;
    int n;
    elem_t e[7];
} spec_t;

static const spec_t specs[] = {
    {"HELLO", 7, {{E_UINT, 1, 0}, {E_UINT, 1, 0}, {E_STR, 0, "hrb/wuchang"}, {E_STR, 0, "ab12"},
                  {E_UINT, 77, 0}, {E_UINT, 1, 0}, {E_VV, 0, 0}}},
    {"WELCOME", 6, {{E_UINT, 2, 0}, {E_UINT, 1, 0}, {E_STR, 0, "hrb"}, {E_STR, 0, "cd34"},
                    {E_UINT, 77, 0}, {E_VV, 0, 0}}},
    {"ACK", 4, {{E_UINT, 3, 0}, {E_UINT, 77, 0}, {E_UINT, 5, 0}, {E_VV, 0, 0}}},
    {"NACK", 3, {{E_UINT, 4, 0}, {E_UINT, 77, 0}, {E_UINT, 6, 0}}},
    {"PING", 4, {{E_UINT, 5, 0}, {E_UINT, 77, 0}, {E_UINT, 300, 0}, {E_UINT, 2, 0}}},
    {"ERROR", 3, {{E_UINT, 6, 0}, {E_UINT, 2, 0}, {E_STR, 0, "no"}}},
    {"BATCH", 4, {{E_UINT, 7, 0}, {E_UINT, 77, 0}, {E_UINT, 5, 0}, {E_EVENTS, 0, 0}}},
    {"NUDGE", 1, {{E_UINT, 8, 0}}},
};
#define NSPECS (sizeof specs / sizeof specs[0])

/* How to spoil the message. */
typedef struct spoil {
    int wrong_at;      /* element replaced by one of another type; -1 none */
    int count_delta;   /* +1: an extra element; -1: the last one missing */
    int vv_entry_bad;  /* 1 origin, 2 short hash, 3 entry not array, 4 entry of 4,
                          5 seq too big */
    int event_bad;     /* 1 entry is a str, 2 entry is nil */
} spoil_t;

static int pk_str(msgpack_packer *pk, const char *s)
{
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void pack_vv(msgpack_packer *pk, int bad)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_array(pk, 3);
    pk_str(pk, "hrb/wuchang");
    msgpack_pack_uint64(pk, 9);
    msgpack_pack_bin_with_body(pk, hash_a, PROTO_HASH_LEN);
    if (bad == 3) {
        msgpack_pack_uint64(pk, 1);
        return;
    }
    msgpack_pack_array(pk, bad == 4 ? 4 : 3);
    pk_str(pk, bad == 1 ? "hrb/Wuchang" : "hrb/wuchang/shanhe");
    msgpack_pack_uint64(pk, bad == 5 ? (uint64_t)INT64_MAX + 1 : 3);
    msgpack_pack_bin_with_body(pk, hash_b, bad == 2 ? 31 : PROTO_HASH_LEN);
    if (bad == 4)
        msgpack_pack_nil(pk);
}

static void pack_events(msgpack_packer *pk, int bad)
{
    static const uint8_t ev[5] = {1, 2, 3, 4, 5};
    msgpack_pack_array(pk, 3);
    msgpack_pack_bin_with_body(pk, ev, 5);
    if (bad == 1)
        pk_str(pk, "event");
    else if (bad == 2)
        msgpack_pack_nil(pk);
    else
        msgpack_pack_bin_with_body(pk, ev, 3);
    msgpack_pack_bin_with_body(pk, ev, 0);
}

static void pack_spec(buf_t *b, const spec_t *s, const spoil_t *sp)
{
    msgpack_packer pk;
    buf_reset(b);
    msgpack_packer_init(&pk, b, buf_msgpack_write);
    int n = s->n + sp->count_delta;
    msgpack_pack_array(&pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        if (i >= s->n) {
            msgpack_pack_uint64(&pk, 0);
            continue;
        }
        const elem_t *e = &s->e[i];
        if (i == sp->wrong_at) {
            /* Another type: a string where a number goes, a number elsewhere. */
            if (e->kind == E_UINT)
                pk_str(&pk, "1");
            else
                msgpack_pack_uint64(&pk, 1);
            continue;
        }
        switch (e->kind) {
        case E_UINT: msgpack_pack_uint64(&pk, e->u); break;
        case E_STR: pk_str(&pk, e->s); break;
        case E_VV: pack_vv(&pk, sp->vv_entry_bad); break;
        case E_EVENTS: pack_events(&pk, sp->event_bad); break;
        }
    }
}

static const spoil_t clean = {-1, 0, 0, 0};

/* The generic packer's clean output decodes: the spoilt versions below
 * therefore fail for the reason spoilt, not by accident. */
static void test_msg_generic_specs_decode(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < NSPECS; i++) {
        pack_spec(&b, &specs[i], &clean);
        if (decode_copy(b.data, b.len))
            fail_msg("%s: %s", specs[i].name, err_msg());
    }
    buf_free(&b);
}

static void test_msg_every_truncation_fails(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < NSPECS; i++) {
        pack_spec(&b, &specs[i], &clean);
        for (size_t len = 0; len < b.len; len++)
            if (decode_copy(b.data, len) >= 0)
                fail_msg("%s cut to %zu of %zu bytes decoded", specs[i].name, len, b.len);
    }
    buf_free(&b);
}

static void test_msg_wrong_type_at_each_position(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < NSPECS; i++)
        for (int pos = 0; pos < specs[i].n; pos++) {
            spoil_t sp = clean;
            sp.wrong_at = pos;
            pack_spec(&b, &specs[i], &sp);
            if (decode_copy(b.data, b.len) >= 0)
                fail_msg("%s with a wrong type at %d decoded", specs[i].name, pos);
        }
    buf_free(&b);
}

static void test_msg_extra_or_missing_element(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < NSPECS; i++)
        for (int d = -1; d <= 1; d += 2) {
            spoil_t sp = clean;
            sp.count_delta = d;
            pack_spec(&b, &specs[i], &sp);
            expect_fail(&b, LD_EPROTO);
        }
    buf_free(&b);
}

static void test_msg_trailing_bytes(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < NSPECS; i++) {
        pack_spec(&b, &specs[i], &clean);
        buf_append(&b, "\xc0", 1);
        expect_fail(&b, LD_EPROTO);
    }
    buf_free(&b);
}

static void test_msg_bad_vv_entries(void **state)
{
    (void)state;
    static const int want[] = {0, LD_EPROTO, LD_EPROTO, LD_EPROTO, LD_EPROTO, LD_ETOOBIG};
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < 3; i++)     /* HELLO, WELCOME, ACK */
        for (int bad = 1; bad <= 5; bad++) {
            spoil_t sp = clean;
            sp.vv_entry_bad = bad;
            pack_spec(&b, &specs[i], &sp);
            expect_fail(&b, want[bad]);
        }
    buf_free(&b);
}

static void test_msg_batch_entry_not_bin(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    for (int bad = 1; bad <= 2; bad++) {
        spoil_t sp = clean;
        sp.event_bad = bad;
        pack_spec(&b, &specs[6], &sp);
        expect_fail(&b, LD_EPROTO);
    }
    buf_free(&b);
}

/* [type, ...prefix..., array header of `count`, then `have` real entries]. */
static void pack_counted(buf_t *b, int type, uint32_t count, uint32_t have)
{
    msgpack_packer pk;
    buf_reset(b);
    msgpack_packer_init(&pk, b, buf_msgpack_write);
    if (type == MSG_T_ACK) {
        msgpack_pack_array(&pk, 4);
        msgpack_pack_uint64(&pk, 3);
        msgpack_pack_uint64(&pk, 1);
        msgpack_pack_uint64(&pk, 1);
    } else {
        msgpack_pack_array(&pk, 4);
        msgpack_pack_uint64(&pk, 7);
        msgpack_pack_uint64(&pk, 1);
        msgpack_pack_uint64(&pk, 1);
    }
    msgpack_pack_array(&pk, count);
    for (uint32_t i = 0; i < have; i++) {
        if (type == MSG_T_ACK) {
            msgpack_pack_array(&pk, 3);
            pk_str(&pk, "a");
            msgpack_pack_uint64(&pk, 1);
            msgpack_pack_bin_with_body(&pk, hash_a, PROTO_HASH_LEN);
        } else {
            msgpack_pack_bin_with_body(&pk, "e", 1);
        }
    }
}

static void test_msg_huge_counts(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    pack_counted(&b, MSG_T_ACK, UINT32_MAX, 0);
    expect_fail(&b, LD_ETOOBIG);
    pack_counted(&b, MSG_T_ACK, MSG_VV_MAX + 1, 3);
    expect_fail(&b, LD_ETOOBIG);
    /* Within the limit, but the bytes left cannot hold that many entries. */
    pack_counted(&b, MSG_T_ACK, 5000, 100);
    expect_fail(&b, LD_EPROTO);
    pack_counted(&b, MSG_T_ACK, 100, 100);
    assert_int_equal(decode_copy(b.data, b.len), 0);

    pack_counted(&b, MSG_T_BATCH, UINT32_MAX, 0);
    expect_fail(&b, LD_ETOOBIG);
    pack_counted(&b, MSG_T_BATCH, MSG_BATCH_EVENTS + 1, MSG_BATCH_EVENTS + 1);
    expect_fail(&b, LD_ETOOBIG);
    pack_counted(&b, MSG_T_BATCH, MSG_BATCH_EVENTS, MSG_BATCH_EVENTS - 1);
    expect_fail(&b, LD_EPROTO);
    pack_counted(&b, MSG_T_BATCH, MSG_BATCH_EVENTS, MSG_BATCH_EVENTS);
    assert_int_equal(decode_copy(b.data, b.len), 0);

    /* The outer array. */
    msgpack_packer pk;
    buf_reset(&b);
    msgpack_packer_init(&pk, &b, buf_msgpack_write);
    msgpack_pack_array(&pk, 65535);
    msgpack_pack_uint64(&pk, 4);
    expect_fail(&b, 0);
    buf_free(&b);
}

static void test_msg_oversized_fields(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    msgpack_packer pk;
    char big[MSG_TEXT_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';

    /* ERROR text of 513 bytes */
    msgpack_packer_init(&pk, &b, buf_msgpack_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint64(&pk, 6);
    msgpack_pack_uint64(&pk, 1);
    pk_str(&pk, big);
    expect_fail(&b, LD_ETOOBIG);
    /* ERROR code beyond 32 bits */
    buf_reset(&b);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint64(&pk, 6);
    msgpack_pack_uint64(&pk, 1ull << 32);
    pk_str(&pk, "x");
    expect_fail(&b, LD_ETOOBIG);

    /* HELLO epoch of 33 bytes, epoch with a space, origin too long */
    for (int k = 0; k < 3; k++) {
        char origin[PROTO_ORIGIN_MAX + 8];
        memset(origin, 'a', sizeof origin - 1);
        origin[sizeof origin - 1] = '\0';
        big[33] = '\0';
        buf_reset(&b);
        msgpack_pack_array(&pk, 7);
        msgpack_pack_uint64(&pk, 1);
        msgpack_pack_uint64(&pk, 1);
        pk_str(&pk, k == 2 ? origin : "hrb");
        pk_str(&pk, k == 0 ? big : k == 1 ? "ab cd" : "ab");
        msgpack_pack_uint64(&pk, 1);
        msgpack_pack_uint64(&pk, 0);
        msgpack_pack_array(&pk, 0);
        expect_fail(&b, k == 1 ? LD_EPROTO : LD_ETOOBIG);
    }

    /* One event over PROTO_EVENT_MAX */
    uint8_t *ev = calloc(1, PROTO_EVENT_MAX + 1);
    buf_reset(&b);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_uint64(&pk, 7);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_bin_with_body(&pk, ev, PROTO_EVENT_MAX + 1);
    expect_fail(&b, LD_ETOOBIG);
    /* Events adding up to more than MSG_BATCH_BYTES */
    uint32_t n = MSG_BATCH_BYTES / PROTO_EVENT_MAX + 1;
    buf_reset(&b);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_uint64(&pk, 7);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++)
        msgpack_pack_bin_with_body(&pk, ev, PROTO_EVENT_MAX);
    assert_true(b.len <= MSG_MAX_BYTES);
    expect_fail(&b, LD_ETOOBIG);
    free(ev);

    /* Anything over MSG_MAX_BYTES is refused before it is read. */
    buf_reset(&b);
    buf_reserve(&b, MSG_MAX_BYTES + 1);
    memset(b.data, 0xc0, MSG_MAX_BYTES + 1);
    b.len = MSG_MAX_BYTES + 1;
    expect_fail(&b, LD_ETOOBIG);
    buf_free(&b);
}

static void test_msg_non_utf8_text(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, buf_msgpack_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint64(&pk, 6);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_str_with_body(&pk, "ab\xc3\x28", 4);
    expect_fail(&b, LD_EPROTO);
    buf_free(&b);
}

static void test_msg_unknown_type(void **state)
{
    (void)state;
    static const uint64_t types[] = {0, 9, 127, 1000};
    buf_t b = BUF_INIT;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, buf_msgpack_write);
    for (size_t i = 0; i < 4; i++) {
        buf_reset(&b);
        msgpack_pack_array(&pk, 1);
        msgpack_pack_uint64(&pk, types[i]);
        expect_fail(&b, LD_EPROTO);
    }
    /* Not an array at all; an empty array; a negative type. */
    buf_reset(&b);
    msgpack_pack_map(&pk, 0);
    expect_fail(&b, LD_EPROTO);
    buf_reset(&b);
    msgpack_pack_array(&pk, 0);
    expect_fail(&b, LD_EPROTO);
    buf_reset(&b);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int64(&pk, -1);
    expect_fail(&b, LD_EPROTO);
    buf_free(&b);
}

/* Version 2 is reported as such, whatever shape it has. */
static void test_msg_version_2(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, buf_msgpack_write);
    for (int type = MSG_T_HELLO; type <= MSG_T_WELCOME; type++)
        for (int n = 2; n <= 9; n += 7) {
            buf_reset(&b);
            msgpack_pack_array(&pk, (size_t)n);
            msgpack_pack_uint64(&pk, (uint64_t)type);
            msgpack_pack_uint64(&pk, 2);
            for (int i = 2; i < n; i++)
                msgpack_pack_nil(&pk);
            expect_fail(&b, LD_EVERSION);
        }
    buf_free(&b);
}

/* A non-canonical integer (5 as uint32) is refused like everywhere else. */
static void test_msg_non_canonical(void **state)
{
    (void)state;
    static const uint8_t nack[] = {0x93, 0x04, 0xce, 0, 0, 0, 5, 0x01};
    assert_int_equal(decode_copy(nack, sizeof nack), LD_EPROTO);
    static const uint8_t ok[] = {0x93, 0x04, 0x05, 0x01};
    assert_int_equal(decode_copy(ok, sizeof ok), 0);
}

/* ---- the BATCH builder ---- */

static void build_and_check(size_t prefix, uint32_t nev, uint64_t session, uint64_t batch)
{
    buf_t out = BUF_INIT;
    for (size_t i = 0; i < prefix; i++)
        buf_append(&out, "p", 1);
    msg_batch_builder_t bb;
    assert_int_equal(msg_batch_begin(&bb, &out, session, batch), 0);
    uint8_t ev[300];
    for (uint32_t i = 0; i < nev; i++) {
        size_t len = 1 + (i * 37) % sizeof ev;
        memset(ev, (int)(i & 0xff), len);
        assert_int_equal(msg_batch_add(&bb, ev, len), 0);
    }
    assert_int_equal(bb.count, nev);
    size_t off;
    msg_batch_finish(&bb, &off);
    assert_true(off >= prefix);
    for (size_t i = 0; i < prefix; i++)
        assert_int_equal(out.data[i], 'p');
    msg_t m;
    uint8_t *copy = malloc(out.len - off);
    memcpy(copy, out.data + off, out.len - off);
    assert_int_equal(msg_decode(copy, out.len - off, &m), 0);
    assert_int_equal(m.type, MSG_T_BATCH);
    assert_true(m.session == session);
    assert_true(m.batch == batch);
    assert_int_equal(m.nevents, nev);
    for (uint32_t i = 0; i < nev; i++) {
        const uint8_t *raw;
        size_t len;
        assert_int_equal(msg_batch_next(&m, &raw, &len), 0);
        assert_int_equal(len, 1 + (i * 37) % sizeof ev);
        assert_int_equal(raw[len - 1], i & 0xff);
    }
    const uint8_t *raw;
    size_t len;
    assert_int_equal(msg_batch_next(&m, &raw, &len), LD_EPROTO);
    free(copy);
    buf_free(&out);
}

static void test_msg_batch_builder_counts(void **state)
{
    (void)state;
    build_and_check(0, 0, 1, 1);
    build_and_check(3, 1, 5, 2);
    build_and_check(0, 15, 1, 1);     /* fixarray */
    build_and_check(10, 16, 1, 1);    /* array16 */
    build_and_check(1, 1000, UINT64_MAX, UINT64_MAX);
    build_and_check(0, MSG_BATCH_EVENTS, 1ull << 40, 70000);
}

static void test_msg_batch_builder_limits(void **state)
{
    (void)state;
    buf_t out = BUF_INIT;
    msg_batch_builder_t bb;
    /* At most MSG_BATCH_EVENTS events. */
    assert_int_equal(msg_batch_begin(&bb, &out, 1, 1), 0);
    for (int i = 0; i < MSG_BATCH_EVENTS; i++)
        assert_int_equal(msg_batch_add(&bb, (const uint8_t *)"e", 1), 0);
    size_t len = out.len;
    assert_int_equal(msg_batch_add(&bb, (const uint8_t *)"e", 1), LD_ETOOBIG);
    assert_int_equal(out.len, len);
    size_t off;
    msg_batch_finish(&bb, &off);
    msg_t m;
    assert_int_equal(msg_decode(out.data + off, out.len - off, &m), 0);
    assert_int_equal(m.nevents, MSG_BATCH_EVENTS);

    /* At most MSG_BATCH_BYTES bytes of events. */
    buf_reset(&out);
    uint8_t *ev = calloc(1, PROTO_EVENT_MAX + 1);
    assert_int_equal(msg_batch_begin(&bb, &out, 1, 2), 0);
    uint32_t n = 0;
    while (msg_batch_add(&bb, ev, PROTO_EVENT_MAX) == 0)
        n++;
    assert_int_equal(n, MSG_BATCH_BYTES / PROTO_EVENT_MAX);
    size_t left = MSG_BATCH_BYTES - bb.bytes;
    assert_int_equal(msg_batch_add(&bb, ev, left + 1), LD_ETOOBIG);
    assert_int_equal(msg_batch_add(&bb, ev, left), 0);
    assert_int_equal(bb.bytes, MSG_BATCH_BYTES);
    msg_batch_finish(&bb, &off);
    assert_true(out.len - off <= MSG_MAX_BYTES);
    assert_int_equal(decode_copy(out.data + off, out.len - off), 0);

    /* An event no batch can take is a different error. */
    assert_int_equal(msg_batch_begin(&bb, &out, 1, 3), 0);
    assert_int_equal(msg_batch_add(&bb, ev, PROTO_EVENT_MAX + 1), LD_EINVAL);
    free(ev);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msg_round_trip_hello),
        cmocka_unit_test(test_msg_round_trip_welcome),
        cmocka_unit_test(test_msg_round_trip_ack_nack_ping),
        cmocka_unit_test(test_msg_round_trip_error_nudge),
        cmocka_unit_test(test_msg_error_text_is_made_valid),
        cmocka_unit_test(test_msg_encoders_refuse_what_decoders_refuse),
        cmocka_unit_test(test_msg_generic_specs_decode),
        cmocka_unit_test(test_msg_every_truncation_fails),
        cmocka_unit_test(test_msg_wrong_type_at_each_position),
        cmocka_unit_test(test_msg_extra_or_missing_element),
        cmocka_unit_test(test_msg_trailing_bytes),
        cmocka_unit_test(test_msg_bad_vv_entries),
        cmocka_unit_test(test_msg_batch_entry_not_bin),
        cmocka_unit_test(test_msg_huge_counts),
        cmocka_unit_test(test_msg_oversized_fields),
        cmocka_unit_test(test_msg_non_utf8_text),
        cmocka_unit_test(test_msg_unknown_type),
        cmocka_unit_test(test_msg_version_2),
        cmocka_unit_test(test_msg_non_canonical),
        cmocka_unit_test(test_msg_batch_builder_counts),
        cmocka_unit_test(test_msg_batch_builder_limits),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
