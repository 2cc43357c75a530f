/*
 * test_event.c -- events: a round trip for every kind of the schema table
 * (minimal and maximal bodies, bytes identical after decode and re-encode),
 * header extremes, the hash, the worked example of docs/protocol.md, body
 * access and the syntax helpers (the origin validator against an oracle).
 * Rejections are in test_event_reject.c, the encoders in
 * test_event_encode.c, hostile inputs and sweeps in test_event_hostile.c.
 *
 * Inputs are copied into exactly-sized heap buffers so that, in the
 * ASan build, a single byte read past the end fails the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/buf.h"
#include "common/err.h"
#include "proto/event.h"
#include "proto/json.h"
#include "proto/schema.h"
#include "event_fixture.h"

/* ---- round trips ---- */

/* Decodes raw, checks the header fields against h, and re-encodes from the
 * decoded views: the bytes must come out identical. */
static void check_round_trip(const proto_header_t *h, const buf_t *raw, const buf_t *body,
                             const proto_kind_t *k)
{
    proto_event_t ev;
    assert_int_equal(proto_event_decode(raw->data, raw->len, PROTO_DECODE_STRICT, &ev), 0);
    assert_ptr_equal(ev.schema, k);
    assert_int_equal(ev.flags, 0);
    assert_true(mpk_str_eq(ev.origin, h->origin) && mpk_str_eq(ev.kind, h->kind));
    assert_true(mpk_str_eq(ev.date, h->date) && mpk_str_eq(ev.author, h->author));
    assert_true(ev.seq == h->seq && ev.hlc == h->hlc);
    assert_memory_equal(ev.prev, h->prev, PROTO_HASH_LEN);
    assert_int_equal(ev.body_len, body->len);
    assert_memory_equal(ev.body, body->data, body->len);
    assert_ptr_equal(ev.raw, raw->data);
    assert_int_equal(ev.raw_len, raw->len);
    proto_header_t h2 = {.seq = ev.seq, .hlc = ev.hlc};
    memcpy(h2.prev, ev.prev, PROTO_HASH_LEN);
    char *o = dup_view(ev.origin), *kd = dup_view(ev.kind), *d = dup_view(ev.date),
         *a = dup_view(ev.author);
    h2.origin = o, h2.kind = kd, h2.date = d, h2.author = a;
    buf_t again = BUF_INIT;
    assert_int_equal(proto_event_encode(&h2, ev.body, ev.body_len, &again), 0);
    assert_int_equal(again.len, raw->len);
    assert_memory_equal(again.data, raw->data, raw->len);
    /* export -> import of the body is byte-identical too */
    json_t *bj = proto_body_to_json(&ev);
    assert_non_null(bj);
    buf_reset(&again);
    assert_int_equal(proto_body_pack_json(bj, &again), 0);
    assert_int_equal(again.len, body->len);
    assert_memory_equal(again.data, body->data, body->len);
    json_decref(bj);
    buf_free(&again);
    free(o), free(kd), free(d), free(a);
}

static void test_event_round_trip_every_kind(void **state)
{
    (void)state;
    for (size_t i = 0; i < proto_schema_count(); i++) {
        const proto_kind_t *k = proto_schema_at(i);
        for (int full = 0; full <= 1; full++) {
            proto_header_t h = header(k->name);
            buf_t body = BUF_INIT, raw = BUF_INIT;
            kind_body(k, full, &body);
            assert_int_equal(proto_event_encode(&h, body.data, body.len, &raw), 0);
            check_round_trip(&h, &raw, &body, k);
            assert_int_equal(decode_copy(raw.data, raw.len, PROTO_DECODE_STRICT), 0);
            buf_free(&body);
            buf_free(&raw);
        }
    }
}

static void test_event_round_trip_header_extremes(void **state)
{
    (void)state;
    char origin[PROTO_ORIGIN_MAX + 1], author[PROTO_AUTHOR_MAX + 1];
    /* 8 segments: 4 of 32 bytes, then 7 + 6 + 6 + 6, and 7 slashes: 160 */
    snprintf(origin, sizeof origin, "%.32s/%.32s/%.32s/%.32s/abcdefg/abcdef/abcdeg/abcdeh",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0",
             "c_c-c_c-c_c-c_c-c_c-c_c-c_c-c_c-c", "9999999999999999999999999999999999");
    assert_int_equal(strlen(origin), PROTO_ORIGIN_MAX);
    memset(author, 'x', PROTO_AUTHOR_MAX);
    author[PROTO_AUTHOR_MAX] = '\0';
    const uint64_t seqs[] = {1, 127, 128, 65536, (uint64_t)INT64_MAX};
    const proto_kind_t *k = proto_schema_find("deputy.left", 11);
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        proto_header_t h = header("deputy.left");
        h.origin = origin, h.author = author, h.seq = seqs[i], h.hlc = seqs[i];
        h.date = "2099-12-31";
        buf_t body = BUF_INIT, raw = BUF_INIT;
        kind_body(k, false, &body);
        assert_int_equal(proto_event_encode(&h, body.data, body.len, &raw), 0);
        check_round_trip(&h, &raw, &body, k);
        buf_free(&body);
        buf_free(&raw);
    }
}

static void test_event_author_absent_is_nil(void **state)
{
    (void)state;
    const char *authors[] = {NULL, ""};
    for (int i = 0; i < 2; i++) {
        proto_header_t h = header("deputy.contact");
        h.author = authors[i];
        buf_t raw = BUF_INIT;
        encode_with(&h, CONTACT_BODY, &raw);
        proto_event_t ev;
        assert_int_equal(proto_event_decode(raw.data, raw.len, PROTO_DECODE_STRICT, &ev), 0);
        assert_null(ev.author.ptr);
        assert_int_equal(ev.author.len, 0);
        buf_free(&raw);
    }
}

static void test_event_hash_is_blake2b_256(void **state)
{
    (void)state;
    uint8_t h[PROTO_HASH_LEN];
    char hex[2 * PROTO_HASH_LEN + 1];
    proto_hash((const uint8_t *)"", 0, h);
    proto_hash_hex(h, hex);
    /* BLAKE2b-256 of the empty string (RFC 7693 parameters, no key) */
    assert_string_equal(hex, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
    proto_hash((const uint8_t *)"abc", 3, h);
    proto_hash_hex(h, hex);
    assert_string_equal(hex, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
}

/* The worked example of docs/protocol.md: if this changes, the document
 * (and every stored hash) is wrong. */
static void test_event_doc_example(void **state)
{
    (void)state;
    proto_header_t h = {.origin = ORIGIN, .seq = 1, .hlc = 1709625600000ull << 16,
                        .kind = "deputy.contact", .date = "2024-03-05",
                        .author = "\xe7\x8e\x8b\xe8\x8a\xb3"};
    buf_t raw = BUF_INIT;
    encode_with(&h, "{\"deputy\":\"d001\",\"channel\":\"reception_day\",\"constituents\":12}",
                &raw);
    static const char want_hex[] =
        "9901b26872622f77756368616e672f7368616e686501cf018e0da068000000c4"
        "2000000000000000000000000000000000000000000000000000000000000000"
        "00ae6465707574792e636f6e74616374aa323032342d30332d3035a6e78e8be8"
        "8ab383a76368616e6e656cad726563657074696f6e5f646179ac636f6e737469"
        "7475656e74730ca6646570757479a464303031";
    char hex[2 * 160 + 1];
    assert_int_equal(raw.len, 147);
    sodium_bin2hex(hex, sizeof hex, raw.data, raw.len);
    assert_string_equal(hex, want_hex);
    uint8_t hash[PROTO_HASH_LEN];
    proto_hash(raw.data, raw.len, hash);
    proto_hash_hex(hash, hex);
    assert_string_equal(hex, "eb2034a0cc892e3e40e723686e4bd497cf48c82152606886fb21dd0fbdc674b0");
    buf_free(&raw);
}

/* ---- body access ---- */

static void test_event_body_find_and_str(void **state)
{
    (void)state;
    buf_t raw = BUF_INIT;
    encode_kind("deputy.contact", CONTACT_BODY, &raw);
    proto_event_t ev;
    assert_int_equal(proto_event_decode(raw.data, raw.len, PROTO_DECODE_STRICT, &ev), 0);
    mpk_reader_t r;
    bool found;
    int64_t v;
    assert_int_equal(proto_body_find(&ev, "constituents", &r, &found), 0);
    assert_true(found);
    assert_int_equal(mpk_read_int(&r, &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(proto_body_find(&ev, "topic", &r, &found), 0);
    assert_false(found);
    mpk_str_t s = proto_body_str(&ev, "channel");
    assert_true(mpk_str_eq(s, "visit"));
    assert_null(proto_body_str(&ev, "constituents").ptr); /* not a string */
    assert_null(proto_body_str(&ev, "absent").ptr);
    buf_free(&raw);
}

/* ---- syntax helpers ---- */

static void test_event_origin_within(void **state)
{
    (void)state;
#define W(o, p) proto_origin_within(o, strlen(o), p, strlen(p))
    assert_true(W("hrb", "hrb"));
    assert_true(W("hrb/wuchang/shanhe", "hrb"));
    assert_true(W("hrb/wuchang/shanhe", "hrb/wuchang"));
    assert_false(W("hrb/wu", "hrb/w"));
    assert_false(W("hrb", "hrb/wuchang"));
    assert_false(W("hrbx", "hrb"));
    assert_false(W("hrb", ""));
#undef W
}

static void test_event_ref_parse(void **state)
{
    (void)state;
    mpk_str_t o;
    uint64_t seq;
    assert_true(proto_event_ref_parse("hrb/wuchang#12", 14, &o, &seq));
    assert_true(mpk_str_eq(o, "hrb/wuchang"));
    assert_int_equal(seq, 12);
    assert_true(proto_event_ref_parse("hrb#9223372036854775807", 23, NULL, &seq));
    assert_true(seq == (uint64_t)INT64_MAX);
    static const char *const bad[] = {"", "#1", "hrb#", "hrb#0", "hrb#01", "hrb#-1", "hrb#1x",
                                      "HRB#1", "hrb#9223372036854775808", "hrb#12345678901234567890",
                                      "hrb#1#2", "hrb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(proto_event_ref_parse(bad[i], strlen(bad[i]), NULL, NULL));
}

/* An independent oracle for the origin syntax: split on '/', judge each
 * segment and the whole by the rules as docs/protocol.md states them. */
static bool origin_oracle(const char *s, size_t len)
{
    if (len < 1 || len > PROTO_ORIGIN_MAX)
        return false;
    size_t segments = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '/')
            continue;
        size_t n = i - start;
        if (n < 1 || n > PROTO_SEGMENT_MAX || ++segments > PROTO_ORIGIN_DEPTH)
            return false;
        for (size_t j = start; j < i; j++) {
            char c = s[j];
            bool alnum = strchr("abcdefghijklmnopqrstuvwxyz0123456789", c) && c != '\0';
            bool mark = c == '_' || c == '-';
            if (!(alnum || (mark && j > start)))
                return false;
        }
        start = i + 1;
    }
    return true;
}

static uint32_t lcg(uint32_t *x)
{
    *x = *x * 1103515245u + 12345u;
    return *x >> 16;
}

/* Appends a segment of n bytes of [a-z0-9_-] that starts with a letter or digit. */
static size_t good_segment(char *p, size_t n, uint32_t *x)
{
    static const char first[] = "az09", rest[] = "az09_-";
    for (size_t i = 0; i < n; i++)
        p[i] = i ? rest[lcg(x) % (sizeof rest - 1)] : first[lcg(x) % (sizeof first - 1)];
    return n;
}

/* The origin validator against the oracle. Four kinds of input, each
 * near one of the rules: random bytes from the edges of the classes; one or
 * two segments around the segment limit; six to ten short segments around
 * the depth limit; and good segments of 19 around the whole length limit.
 * One string in eight then has one byte replaced (NUL, '/', or a letter). */
static void test_event_origin_valid_matches_oracle(void **state)
{
    (void)state;
    static const char pool[] = "aaaaz09_-/////A.\x80";
    uint32_t x = 2024;
    char buf[2 * PROTO_ORIGIN_MAX];
    size_t valid = 0, valid_by[4] = {0};
    for (int round = 0; round < 400000; round++) {
        int kind = round % 4;
        size_t len = 0;
        if (kind == 0) {
            for (size_t n = lcg(&x) % 48; len < n; len++)
                buf[len] = pool[lcg(&x) % (sizeof pool - 1)];
        } else if (kind == 1) {
            for (size_t k = 0, n = 1 + lcg(&x) % 2; k < n; k++) {
                if (k)
                    buf[len++] = '/';
                len += good_segment(buf + len, PROTO_SEGMENT_MAX - 2 + lcg(&x) % 5, &x);
            }
        } else if (kind == 2) {
            for (size_t k = 0, n = PROTO_ORIGIN_DEPTH - 2 + lcg(&x) % 5; k < n; k++) {
                if (k)
                    buf[len++] = '/';
                len += good_segment(buf + len, 1 + lcg(&x) % 4, &x);
            }
        } else {
            size_t n = PROTO_ORIGIN_MAX - 8 + lcg(&x) % 16;
            while (len < n) {
                if (len)
                    buf[len++] = '/';
                size_t seg = n - len < 19 ? n - len : 19;
                len += good_segment(buf + len, seg ? seg : 1, &x);
            }
        }
        if (len && lcg(&x) % 8 == 0) {
            uint32_t r = lcg(&x);
            buf[r % len] = (char)(r % 3 == 0 ? '\0' : r % 3 == 1 ? '/' : 'b');
        }
        bool want = origin_oracle(buf, len);
        valid += want;
        valid_by[kind] += want;
        if (proto_origin_valid(buf, len) != want)
            fail_msg("origin '%.*s' (%zu bytes): oracle says %d", (int)len, buf, len, want);
    }
    /* every kind makes valid origins too, not only refusals */
    for (int k = 0; k < 4; k++)
        assert_true(valid_by[k] > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_round_trip_every_kind),
        cmocka_unit_test(test_event_round_trip_header_extremes),
        cmocka_unit_test(test_event_author_absent_is_nil),
        cmocka_unit_test(test_event_hash_is_blake2b_256),
        cmocka_unit_test(test_event_doc_example),
        cmocka_unit_test(test_event_body_find_and_str),
        cmocka_unit_test(test_event_origin_within),
        cmocka_unit_test(test_event_ref_parse),
        cmocka_unit_test(test_event_origin_valid_matches_oracle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
