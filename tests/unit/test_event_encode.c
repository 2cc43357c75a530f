/*
 * test_event_encode.c -- the encoders: over a limit they leave the buffer
 * as it was; proto_event_encode_checked() gives the bytes and views a
 * strict decode gives; the body size limit, byte for byte.
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

#include "common/buf.h"
#include "common/err.h"
#include "proto/event.h"
#include "proto/json.h"
#include "proto/schema.h"
#include "event_fixture.h"

/* ---- encoding content that was checked already ---- */

/* Every view proto_event_encode_checked() fills equals what a strict decode
 * of the same bytes gives: pointers, lengths and values. */
static void assert_same_event(const proto_event_t *a, const proto_event_t *b)
{
    assert_int_equal(a->version, b->version);
    assert_ptr_equal(a->origin.ptr, b->origin.ptr);
    assert_int_equal(a->origin.len, b->origin.len);
    assert_true(a->seq == b->seq && a->hlc == b->hlc);
    assert_ptr_equal(a->prev, b->prev);
    assert_ptr_equal(a->kind.ptr, b->kind.ptr);
    assert_int_equal(a->kind.len, b->kind.len);
    assert_ptr_equal(a->date.ptr, b->date.ptr);
    assert_int_equal(a->date.len, b->date.len);
    assert_ptr_equal(a->author.ptr, b->author.ptr);
    assert_int_equal(a->author.len, b->author.len);
    assert_ptr_equal(a->body, b->body);
    assert_int_equal(a->body_len, b->body_len);
    assert_int_equal(a->body_fields, b->body_fields);
    assert_ptr_equal(a->raw, b->raw);
    assert_int_equal(a->raw_len, b->raw_len);
    assert_ptr_equal(a->schema, b->schema);
    assert_int_equal(a->flags, b->flags);
}

static void test_event_encode_checked_matches_decode(void **state)
{
    (void)state;
    const char *authors[] = {"\xe7\x8e\x8b\xe8\x8a\xb3", NULL, ""};
    const uint64_t seqs[] = {1, 127, 128, 65536, (uint64_t)INT64_MAX};
    for (size_t i = 0; i < proto_schema_count(); i++) {
        const proto_kind_t *k = proto_schema_at(i);
        for (int full = 0; full <= 1; full++) {
            buf_t body = BUF_INIT, plain = BUF_INIT, out = BUF_INIT;
            kind_body(k, full, &body);
            /* checked once under seq 1, hlc 0 and a zero prev, as import does */
            proto_header_t h0 = header(k->name);
            h0.seq = 1, h0.hlc = 0;
            memset(h0.prev, 0, sizeof h0.prev);
            proto_event_t first;
            assert_int_equal(proto_event_encode(&h0, body.data, body.len, &plain), 0);
            assert_int_equal(proto_event_decode(plain.data, plain.len, PROTO_DECODE_STRICT,
                                                &first), 0);
            proto_checked_t c;
            proto_checked_from(&first, &c);
            for (size_t j = 0; j < sizeof seqs / sizeof seqs[0]; j++) {
                proto_header_t h = header(k->name);
                h.seq = seqs[j], h.hlc = seqs[j] * 3 / 2;
                h.author = authors[j % 3];
                /* after other bytes, as in a reused buffer */
                buf_reset(&out);
                assert_int_equal(buf_append(&out, "xyz", 3), 0);
                proto_event_t fast, dec;
                assert_int_equal(proto_event_encode_checked(&h, body.data, body.len, &c, &out,
                                                            &fast), 0);
                assert_int_equal(proto_event_decode(out.data + 3, out.len - 3,
                                                    PROTO_DECODE_STRICT, &dec), 0);
                assert_same_event(&fast, &dec);
                buf_reset(&plain);
                assert_int_equal(proto_event_encode(&h, body.data, body.len, &plain), 0);
                assert_int_equal(plain.len, out.len - 3);
                assert_memory_equal(plain.data, out.data + 3, plain.len);
            }
            buf_free(&body);
            buf_free(&plain);
            buf_free(&out);
        }
    }
}

static void test_event_encode_checked_limits_leave_buffer_unchanged(void **state)
{
    (void)state;
    buf_t out = BUF_INIT;
    assert_int_equal(buf_append(&out, "xyz", 3), 0);
    proto_checked_t c = {proto_schema_find("deputy.contact", 14), 1};
    static uint8_t big[PROTO_BODY_MAX + 1];
    big[0] = 0x80;
    proto_header_t h = header("deputy.contact");
    proto_event_t ev;
    assert_int_equal(proto_event_encode_checked(&h, big, sizeof big, &c, &out, &ev), LD_ETOOBIG);
    h.seq = (uint64_t)INT64_MAX + 1;
    assert_int_equal(proto_event_encode_checked(&h, big, 1, &c, &out, &ev), LD_ETOOBIG);
    assert_int_equal(out.len, 3);
    assert_memory_equal(out.data, "xyz", 3);
    buf_free(&out);
}

/* ---- encoder limits ---- */

static void test_event_encode_limits_leave_buffer_unchanged(void **state)
{
    (void)state;
    buf_t out = BUF_INIT;
    assert_int_equal(buf_append(&out, "xyz", 3), 0);
    static uint8_t big[PROTO_BODY_MAX + 1];
    big[0] = 0x80;
    proto_header_t h = header("deputy.contact");
    assert_int_equal(proto_event_encode(&h, big, sizeof big, &out), LD_ETOOBIG);
    h.seq = (uint64_t)INT64_MAX + 1;
    assert_int_equal(proto_event_encode(&h, big, 1, &out), LD_ETOOBIG);
    h = header("deputy.contact");
    h.author = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; /* 65 */
    assert_int_equal(proto_event_encode(&h, big, 1, &out), LD_ETOOBIG);
    assert_int_equal(out.len, 3);
    assert_memory_equal(out.data, "xyz", 3);
    buf_free(&out);
}

/* An unknown kind's body of exactly PROTO_BODY_MAX bytes decodes; one more
 * byte is over the limit. */
static void test_event_body_size_limit(void **state)
{
    (void)state;
    for (int extra = 0; extra <= 1; extra++) {
        size_t n = PROTO_BODY_MAX - 6 + (size_t)extra; /* map 1 + key 2 + str16 header 3 */
        buf_t body = BUF_INIT, raw = BUF_INIT;
        msgpack_packer pk;
        msgpack_packer_init(&pk, &body, buf_msgpack_write);
        msgpack_pack_map(&pk, 1);
        msgpack_pack_str_with_body(&pk, "x", 1);
        msgpack_pack_str(&pk, n);
        assert_int_equal(buf_reserve(&body, n), 0);
        memset(body.data + body.len, 'a', n);
        body.len += n;
        proto_header_t h = header("future.kind");
        int rc = proto_event_encode(&h, body.data, body.len, &raw);
        if (!extra) {
            assert_int_equal(body.len, PROTO_BODY_MAX);
            assert_int_equal(rc, 0);
            assert_int_equal(decode_copy(raw.data, raw.len, 0), 0);
        } else {
            assert_int_equal(rc, LD_ETOOBIG);
        }
        buf_free(&body);
        buf_free(&raw);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_encode_limits_leave_buffer_unchanged),
        cmocka_unit_test(test_event_encode_checked_matches_decode),
        cmocka_unit_test(test_event_encode_checked_limits_leave_buffer_unchanged),
        cmocka_unit_test(test_event_body_size_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
