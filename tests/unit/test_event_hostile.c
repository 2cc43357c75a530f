/*
 * test_event_hostile.c -- the decoder against hostile inputs: a table of
 * header parts, sizes and bodies replaced by bad bytes, every truncation
 * of a valid event, and a sweep flipping each bit of one.
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

/* ---- hostile inputs ---- */

#define ELEM_HEADER -1 /* the array header */
#define ELEM_TAIL    9 /* bytes after the last element */
#define ELEM_ALL   -2  /* the whole input */

typedef struct hostile {
    const char *what;
    int rc;
    int elem[2];        /* which parts are replaced (elem[1] may be -3: none) */
    buf_t bytes[2];
} hostile_t;

/* The parts of the valid contact event, each packed on its own. */
static void default_part(int e, buf_t *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_msgpack_write);
    proto_header_t h = header("deputy.contact");
    buf_t all = BUF_INIT;
    switch (e) {
    case ELEM_HEADER: msgpack_pack_array(&pk, 9); break;
    case 0: msgpack_pack_uint8(&pk, 1); break;
    case 1: msgpack_pack_str_with_body(&pk, h.origin, strlen(h.origin)); break;
    case 2: msgpack_pack_uint64(&pk, h.seq); break;
    case 3: msgpack_pack_uint64(&pk, h.hlc); break;
    case 4: msgpack_pack_bin_with_body(&pk, h.prev, PROTO_HASH_LEN); break;
    case 5: msgpack_pack_str_with_body(&pk, h.kind, strlen(h.kind)); break;
    case 6: msgpack_pack_str_with_body(&pk, h.date, strlen(h.date)); break;
    case 7: msgpack_pack_str_with_body(&pk, h.author, strlen(h.author)); break;
    case 8:
        encode_kind("deputy.contact", CONTACT_BODY, &all);
        /* the body is the tail of the event: find it by decoding */
        {
            proto_event_t ev;
            assert_int_equal(proto_event_decode(all.data, all.len, 0, &ev), 0);
            buf_append(out, ev.body, ev.body_len);
        }
        break;
    default: break;
    }
    buf_free(&all);
}

static void run_hostile(hostile_t *c)
{
    buf_t raw = BUF_INIT;
    if (c->elem[0] == ELEM_ALL) {
        buf_append(&raw, c->bytes[0].data, c->bytes[0].len);
    } else {
        for (int e = ELEM_HEADER; e <= ELEM_TAIL; e++) {
            int which = c->elem[0] == e ? 0 : c->elem[1] == e ? 1 : -1;
            if (which >= 0)
                buf_append(&raw, c->bytes[which].data, c->bytes[which].len);
            else
                default_part(e, &raw);
        }
    }
    for (unsigned mode = 0; mode <= PROTO_DECODE_STRICT; mode++) {
        int rc = decode_copy(raw.data, raw.len, mode);
        if (rc != c->rc)
            fail_msg("hostile '%s' (mode %u): got %d (%s), expected %d", c->what, mode, rc,
                     err_msg(), c->rc);
        assert_true(allowed_error(rc));
    }
    buf_free(&raw);
    buf_free(&c->bytes[0]);
    buf_free(&c->bytes[1]);
}

/* Builders for the replacement bytes. */
static msgpack_packer pk_on(buf_t *b)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, buf_msgpack_write);
    return pk;
}
static void p_str(buf_t *b, const char *s) { msgpack_packer pk = pk_on(b); msgpack_pack_str_with_body(&pk, s, strlen(s)); }
static void p_raw(buf_t *b, const char *bytes, size_t n) { buf_append(b, bytes, n); }
static void p_fill_str(buf_t *b, size_t n, char c)
{
    msgpack_packer pk = pk_on(b);
    msgpack_pack_str(&pk, n);
    for (size_t i = 0; i < n; i++)
        buf_append(b, &c, 1);
}

#define RAW(b, lit) p_raw(b, lit, sizeof lit - 1)

/* One case: part `elem` replaced by the literal bytes. */
#define HOSTILE(what_, rc_, elem_, lit) do {                       \
        hostile_t c_ = {what_, rc_, {elem_, -3}, {BUF_INIT, BUF_INIT}}; \
        RAW(&c_.bytes[0], lit);                                     \
        run_hostile(&c_);                                           \
    } while (0)

static void test_event_hostile_header_parts(void **state)
{
    (void)state;
    HOSTILE("empty input", LD_EPROTO, ELEM_ALL, "");
    HOSTILE("nil", LD_EPROTO, ELEM_ALL, "\xc0");
    HOSTILE("never-used byte", LD_EPROTO, ELEM_ALL, "\xc1");
    HOSTILE("float64", LD_EPROTO, ELEM_ALL, "\xcb\0\0\0\0\0\0\0\0");
    HOSTILE("fixext1", LD_EPROTO, ELEM_ALL, "\xd4\x01\x00");
    HOSTILE("huge map", LD_EPROTO, ELEM_ALL, "\xdf\xff\xff\xff\xff");
    HOSTILE("array header only", LD_EPROTO, ELEM_ALL, "\x99");
    HOSTILE("huge array header", LD_ETOOBIG, ELEM_HEADER, "\xdd\xff\xff\xff\xff");
    HOSTILE("array16 of 9", LD_EPROTO, ELEM_HEADER, "\xdc\x00\x09");
    HOSTILE("map instead of array", LD_EPROTO, ELEM_HEADER, "\x89");
    HOSTILE("empty array first", LD_EPROTO, ELEM_HEADER, "\x90");
    HOSTILE("10 elements", LD_EPROTO, ELEM_HEADER, "\x9a");
    HOSTILE("version 2", LD_EVERSION, 0, "\x02");
    HOSTILE("version 0", LD_EVERSION, 0, "\x00");
    HOSTILE("version as uint16", LD_EPROTO, 0, "\xcd\x00\x01");
    HOSTILE("version negative", LD_EPROTO, 0, "\xff");
    HOSTILE("version string", LD_EPROTO, 0, "\xa1" "1");
    HOSTILE("version float", LD_EPROTO, 0, "\xca\x3f\x80\x00\x00");
    HOSTILE("origin nil", LD_EPROTO, 1, "\xc0");
    HOSTILE("origin int", LD_EPROTO, 1, "\x01");
    HOSTILE("origin bin", LD_EPROTO, 1, "\xc4\x03" "hrb");
    HOSTILE("origin str8 of 3", LD_EPROTO, 1, "\xd9\x03" "hrb");
    HOSTILE("origin str16 of 3", LD_EPROTO, 1, "\xda\x00\x03" "hrb");
    HOSTILE("origin upper case", LD_ESCHEMA, 1, "\xa3" "HRB");
    HOSTILE("origin overlong NUL", LD_EPROTO, 1, "\xa2\xc0\x80");
    HOSTILE("origin surrogate", LD_EPROTO, 1, "\xa3\xed\xa0\x80");
    HOSTILE("origin 4 GiB", LD_ETOOBIG, 1, "\xdb\xff\xff\xff\xff");
    HOSTILE("seq 0", LD_ESCHEMA, 2, "\x00");
    HOSTILE("seq as uint16", LD_EPROTO, 2, "\xcd\x00\x07");
    HOSTILE("seq as int8", LD_EPROTO, 2, "\xd0\x07");
    HOSTILE("seq negative", LD_EPROTO, 2, "\xd0\x80");
    HOSTILE("seq 2^63", LD_ETOOBIG, 2, "\xcf\x80\0\0\0\0\0\0\0");
    HOSTILE("seq string", LD_EPROTO, 2, "\xa1" "7");
    HOSTILE("hlc 2^64-1", LD_ETOOBIG, 3, "\xcf\xff\xff\xff\xff\xff\xff\xff\xff");
    HOSTILE("hlc nil", LD_EPROTO, 3, "\xc0");
    HOSTILE("prev 31 bytes", LD_EPROTO, 4, "\xc4\x1f" "0123456789012345678901234567890");
    HOSTILE("prev 33 bytes", LD_EPROTO, 4, "\xc4\x21" "012345678901234567890123456789012");
    HOSTILE("prev bin16", LD_EPROTO, 4, "\xc5\x00\x20" "01234567890123456789012345678901");
    HOSTILE("prev as str", LD_EPROTO, 4, "\xd9\x20" "01234567890123456789012345678901");
    HOSTILE("prev nil", LD_EPROTO, 4, "\xc0");
    HOSTILE("kind without dot", LD_ESCHEMA, 5, "\xa6" "deputy");
    HOSTILE("kind not UTF-8", LD_EPROTO, 5, "\xa3\xff\xfe\xfd");
    HOSTILE("kind nil", LD_EPROTO, 5, "\xc0");
    HOSTILE("date Feb 29 2023", LD_ESCHEMA, 6, "\xaa" "2023-02-29");
    HOSTILE("date bin", LD_EPROTO, 6, "\xc4\x0a" "2024-03-05");
    HOSTILE("date int", LD_EPROTO, 6, "\x01");
    HOSTILE("author empty", LD_EPROTO, 7, "\xa0");
    HOSTILE("author overlong", LD_EPROTO, 7, "\xa2\xc0\xaf");
    HOSTILE("author low surrogate", LD_EPROTO, 7, "\xa3\xed\xb0\x80");
    HOSTILE("author above U+10FFFF", LD_EPROTO, 7, "\xa4\xf4\x90\x80\x80");
    HOSTILE("author int", LD_EPROTO, 7, "\x05");
    HOSTILE("author false", LD_EPROTO, 7, "\xc2");
    HOSTILE("trailing nil", LD_EPROTO, ELEM_TAIL, "\xc0");
    HOSTILE("trailing zero", LD_EPROTO, ELEM_TAIL, "\x00");
}

static void test_event_hostile_sizes(void **state)
{
    (void)state;
    hostile_t c = {"origin 161 bytes", LD_ETOOBIG, {1, -3}, {BUF_INIT, BUF_INIT}};
    p_fill_str(&c.bytes[0], 161, 'a');
    run_hostile(&c);
    c = (hostile_t){"kind 65 bytes", LD_ETOOBIG, {5, -3}, {BUF_INIT, BUF_INIT}};
    p_fill_str(&c.bytes[0], 65, 'a');
    run_hostile(&c);
    c = (hostile_t){"author 65 bytes", LD_ETOOBIG, {7, -3}, {BUF_INIT, BUF_INIT}};
    p_fill_str(&c.bytes[0], 65, 'a');
    run_hostile(&c);
    c = (hostile_t){"8 elements", LD_EPROTO, {ELEM_HEADER, 8}, {BUF_INIT, BUF_INIT}};
    RAW(&c.bytes[0], "\x98");
    run_hostile(&c);
    /* a body of 65537 bytes: within the event limit, over the body limit */
    c = (hostile_t){"body over 64 KiB", LD_ETOOBIG, {8, -3}, {BUF_INIT, BUF_INIT}};
    RAW(&c.bytes[0], "\x81\xa4note");
    p_fill_str(&c.bytes[0], PROTO_BODY_MAX - 6 - 3 + 1, 'a'); /* map, key, str16 header */
    run_hostile(&c);
    c = (hostile_t){"event over the event limit", LD_ETOOBIG, {8, -3}, {BUF_INIT, BUF_INIT}};
    RAW(&c.bytes[0], "\x81\xa4note");
    p_fill_str(&c.bytes[0], PROTO_EVENT_MAX, 'a');
    run_hostile(&c);
    c = (hostile_t){"two events", LD_EPROTO, {ELEM_TAIL, -3}, {BUF_INIT, BUF_INIT}};
    encode_kind("deputy.contact", CONTACT_BODY, &c.bytes[0]);
    run_hostile(&c);
    c = (hostile_t){"100-deep nesting at the top", LD_EPROTO, {ELEM_ALL, -3}, {BUF_INIT, BUF_INIT}};
    for (int i = 0; i < 100; i++)
        RAW(&c.bytes[0], "\x91");
    RAW(&c.bytes[0], "\x01");
    run_hostile(&c);
    c = (hostile_t){"100-deep nesting in the body", LD_ETOOBIG, {8, -3}, {BUF_INIT, BUF_INIT}};
    RAW(&c.bytes[0], "\x83\xa7" "channel" "\xa5" "visit" "\xac" "constituents");
    for (int i = 0; i < 100; i++)
        RAW(&c.bytes[0], "\x91");
    RAW(&c.bytes[0], "\x01\xa6" "deputy" "\xa2" "d1");
    run_hostile(&c);
    c = (hostile_t){"65 body fields", LD_ETOOBIG, {8, -3}, {BUF_INIT, BUF_INIT}};
    RAW(&c.bytes[0], "\xde\x00\x41");
    for (int i = 0; i < 65; i++) {
        char key[8];
        snprintf(key, sizeof key, "k%03d", i);
        p_str(&c.bytes[0], key);
        RAW(&c.bytes[0], "\x01");
    }
    run_hostile(&c);
}

/* Bodies of deputy.contact; canonical key order is channel, constituents, deputy. */
static void test_event_hostile_bodies(void **state)
{
    (void)state;
    HOSTILE("body array", LD_EPROTO, 8, "\x92\xa1" "a" "\xa1" "b");
    HOSTILE("body nil", LD_EPROTO, 8, "\xc0");
    HOSTILE("body huge map", LD_ETOOBIG, 8, "\xdf\xff\xff\xff\xff");
    HOSTILE("body map16 of 2", LD_EPROTO, 8, "\xde\x00\x02\xa7" "channel" "\xa5" "visit" "\xa6" "deputy" "\xa2" "d1");
    HOSTILE("unsorted keys", LD_EPROTO, 8, "\x82\xa6" "deputy" "\xa2" "d1" "\xa7" "channel" "\xa5" "visit");
    HOSTILE("duplicate keys", LD_EPROTO, 8, "\x83\xa7" "channel" "\xa5" "visit" "\xa6" "deputy" "\xa2" "d1" "\xa6" "deputy" "\xa2" "d2");
    HOSTILE("int key", LD_EPROTO, 8, "\x82\x01\xa5" "visit" "\xa6" "deputy" "\xa2" "d1");
    HOSTILE("upper-case key", LD_ESCHEMA, 8, "\x82\xa7" "Channel" "\xa5" "visit" "\xa6" "deputy" "\xa2" "d1");
    HOSTILE("key not UTF-8", LD_EPROTO, 8, "\x82\xa2\xc3\x28\xa5" "visit" "\xa6" "deputy" "\xa2" "d1");
    HOSTILE("float value", LD_EPROTO, 8, "\x82\xa7" "channel" "\xcb\0\0\0\0\0\0\0\0" "\xa6" "deputy" "\xa2" "d1");
    HOSTILE("ext value", LD_EPROTO, 8, "\x82\xa7" "channel" "\xd4\x01\x00" "\xa6" "deputy" "\xa2" "d1");
    HOSTILE("nil value", LD_ESCHEMA, 8, "\x82\xa7" "channel" "\xc0" "\xa6" "deputy" "\xa2" "d1");
    HOSTILE("bin value", LD_ESCHEMA, 8, "\x82\xa7" "channel" "\xc4\x01" "v" "\xa6" "deputy" "\xa2" "d1");
    HOSTILE("map value", LD_ESCHEMA, 8, "\x82\xa7" "channel" "\x80" "\xa6" "deputy" "\xa2" "d1");
    HOSTILE("nested list", LD_ETOOBIG, 8, "\x82\xa7" "channel" "\xa5" "visit" "\xa6" "deputy" "\x91\x91\xa1" "d");
    HOSTILE("value not UTF-8", LD_EPROTO, 8, "\x82\xa7" "channel" "\xa5" "visit" "\xa6" "deputy" "\xa2\xc3\x28");
    HOSTILE("value str8 of 2", LD_EPROTO, 8, "\x82\xa7" "channel" "\xa5" "visit" "\xa6" "deputy" "\xd9\x02" "d1");
    HOSTILE("value uint8 of 12", LD_EPROTO, 8, "\x83\xa7" "channel" "\xa5" "visit" "\xac" "constituents" "\xcc\x0c" "\xa6" "deputy" "\xa2" "d1");
    HOSTILE("value truncated", LD_EPROTO, 8, "\x82\xa7" "channel" "\xa5" "visit" "\xa6" "deputy" "\xa2" "d");
    HOSTILE("map short of pairs", LD_EPROTO, 8, "\x83\xa7" "channel" "\xa5" "visit" "\xa6" "deputy" "\xa2" "d1");
}

/* ---- sweeps ---- */

static void valid_event(buf_t *raw)
{
    encode_kind("joint.finding", "{\"joint\":\"hrb/wuchang#3\",\"site\":\"\xe5\xb1\xb1\xe6\xb2\xb3\","
                "\"problem\":\"p\",\"severity\":\"high\",\"deputies\":[\"d1\",\"d2\"]}", raw);
}

static void test_event_every_truncation_fails(void **state)
{
    (void)state;
    buf_t raw = BUF_INIT;
    valid_event(&raw);
    for (size_t n = 0; n < raw.len; n++) {
        int rc = decode_copy(raw.data, n, 0);
        assert_true(allowed_error(rc));
    }
    assert_int_equal(decode_copy(raw.data, raw.len, 0), 0);
    buf_free(&raw);
}

/* Every single-bit change either fails cleanly or yields another valid,
 * canonical event (a changed letter in a string, say): then re-encoding
 * what was decoded must give the flipped bytes back exactly. */
static void test_event_bit_flip_sweep(void **state)
{
    (void)state;
    buf_t raw = BUF_INIT;
    valid_event(&raw);
    size_t accepted = 0;
    for (size_t bit = 0; bit < raw.len * 8; bit++) {
        uint8_t *copy = malloc(raw.len);
        assert_non_null(copy);
        memcpy(copy, raw.data, raw.len);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        proto_event_t ev;
        int rc = proto_event_decode(copy, raw.len, 0, &ev);
        if (rc == 0) {
            accepted++;
            char *o = dup_view(ev.origin), *k = dup_view(ev.kind), *d = dup_view(ev.date),
                 *a = ev.author.ptr ? dup_view(ev.author) : NULL;
            proto_header_t h = {.origin = o, .seq = ev.seq, .hlc = ev.hlc, .kind = k,
                                .date = d, .author = a};
            memcpy(h.prev, ev.prev, PROTO_HASH_LEN);
            buf_t again = BUF_INIT;
            assert_int_equal(proto_event_encode(&h, ev.body, ev.body_len, &again), 0);
            assert_int_equal(again.len, raw.len);
            assert_memory_equal(again.data, copy, raw.len);
            buf_free(&again);
            free(o), free(k), free(d), free(a);
        } else {
            assert_true(allowed_error(rc));
        }
        (void)proto_event_decode(copy, raw.len, PROTO_DECODE_STRICT, &ev);
        free(copy);
    }
    assert_true(accepted > 0 && accepted < raw.len * 8);
    buf_free(&raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_hostile_header_parts),
        cmocka_unit_test(test_event_hostile_sizes),
        cmocka_unit_test(test_event_hostile_bodies),
        cmocka_unit_test(test_event_every_truncation_fails),
        cmocka_unit_test(test_event_bit_flip_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
