/*
 * test_mpk.c -- the strict msgpack reader: canonical forms are read back
 * from msgpack-c's packer, every padded or otherwise non-canonical form is
 * refused, lengths are checked against the input, and the UTF-8 check
 * follows the Unicode table of well-formed sequences.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "common/buf.h"
#include "common/err.h"
#include "proto/mpk.h"

/* A reader over an exactly-sized heap copy, so ASan sees any overread. */
typedef struct heap_input {
    uint8_t *data;
    mpk_reader_t r;
} heap_input_t;

static void heap_init(heap_input_t *h, const void *bytes, size_t len)
{
    h->data = malloc(len ? len : 1);
    assert_non_null(h->data);
    if (len)
        memcpy(h->data, bytes, len);
    mpk_reader_init(&h->r, h->data, len);
}

#define HEAP(name, ...)                                          \
    static const uint8_t name##_bytes[] = {__VA_ARGS__};         \
    heap_input_t name;                                           \
    heap_init(&name, name##_bytes, sizeof name##_bytes)

static void test_mpk_uint_round_trip_shortest(void **state)
{
    (void)state;
    static const struct { uint64_t v; size_t len; } cases[] = {
        {0, 1}, {127, 1}, {128, 2}, {255, 2}, {256, 3}, {65535, 3}, {65536, 5},
        {UINT32_MAX, 5}, {(uint64_t)UINT32_MAX + 1, 9}, {UINT64_MAX, 9},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_t b = BUF_INIT;
        msgpack_packer pk;
        msgpack_packer_init(&pk, &b, buf_msgpack_write);
        assert_int_equal(msgpack_pack_uint64(&pk, cases[i].v), 0);
        assert_int_equal(b.len, cases[i].len);
        heap_input_t h;
        heap_init(&h, b.data, b.len);
        uint64_t got;
        assert_int_equal(mpk_read_uint(&h.r, &got), 0);
        assert_true(got == cases[i].v);
        assert_int_equal(mpk_remaining(&h.r), 0);
        free(h.data);
        buf_free(&b);
    }
}

static void test_mpk_int_round_trip_shortest(void **state)
{
    (void)state;
    static const struct { int64_t v; size_t len; } cases[] = {
        {-1, 1}, {-32, 1}, {-33, 2}, {-128, 2}, {-129, 3}, {-32768, 3}, {-32769, 5},
        {INT32_MIN, 5}, {(int64_t)INT32_MIN - 1, 9}, {INT64_MIN, 9},
        {0, 1}, {127, 1}, {200, 2}, {INT64_MAX, 9},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_t b = BUF_INIT;
        msgpack_packer pk;
        msgpack_packer_init(&pk, &b, buf_msgpack_write);
        assert_int_equal(msgpack_pack_int64(&pk, cases[i].v), 0);
        assert_int_equal(b.len, cases[i].len);
        heap_input_t h;
        heap_init(&h, b.data, b.len);
        int64_t got;
        assert_int_equal(mpk_read_int(&h.r, &got), 0);
        assert_true(got == cases[i].v);
        assert_int_equal(mpk_remaining(&h.r), 0);
        free(h.data);
        buf_free(&b);
    }
}

static void expect_int_fails(const uint8_t *bytes, size_t len, int want)
{
    heap_input_t h;
    int64_t v;
    heap_init(&h, bytes, len);
    assert_int_equal(mpk_read_int(&h.r, &v), want);
    free(h.data);
    if (want == LD_EPROTO) {
        uint64_t u;
        heap_init(&h, bytes, len);
        assert_int_equal(mpk_read_uint(&h.r, &u), LD_EPROTO);
        free(h.data);
    }
}

static void test_mpk_rejects_noncanonical_ints(void **state)
{
    (void)state;
    static const uint8_t cases[][9] = {
        {0xcc, 0x05},                   /* 5 as uint8 */
        {0xcd, 0x00, 0xff},             /* 255 as uint16 */
        {0xce, 0x00, 0x00, 0xff, 0xff}, /* 65535 as uint32 */
        {0xcf, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff},
        {0xd0, 0x05},                   /* positive as int8 */
        {0xd0, 0xe0},                   /* -32 fits a negative fixint */
        {0xd1, 0xff, 0x80},             /* -128 as int16 */
        {0xd1, 0x00, 0x05},             /* positive as int16 */
        {0xd2, 0xff, 0xff, 0x80, 0x00}, /* -32768 as int32 */
        {0xd3, 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0}, /* INT32_MIN as int64 */
        {0xd3, 0, 0, 0, 0, 0, 0, 0, 1}, /* 1 as int64 */
    };
    static const size_t lens[] = {2, 3, 5, 9, 2, 2, 3, 3, 5, 9, 9};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        expect_int_fails(cases[i], lens[i], LD_EPROTO);
    /* above INT64_MAX: a valid uint, too big for an int */
    static const uint8_t big[] = {0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0};
    expect_int_fails(big, sizeof big, LD_ETOOBIG);
}

static void test_mpk_uint_rejects_negative_and_other_types(void **state)
{
    (void)state;
    static const uint8_t cases[] = {0xff, 0xd0, 0xc0, 0xc2, 0xa0, 0x90, 0x80, 0xca, 0xc1};
    for (size_t i = 0; i < sizeof cases; i++) {
        uint8_t in[9] = {cases[i], 0x80, 0, 0, 0, 0, 0, 0, 0};
        heap_input_t h;
        heap_init(&h, in, sizeof in);
        uint64_t u;
        assert_int_equal(mpk_read_uint(&h.r, &u), LD_EPROTO);
        assert_non_null(strstr(err_msg(), "expected"));
        free(h.data);
    }
}

static void test_mpk_str_headers_shortest(void **state)
{
    (void)state;
    static const struct { uint32_t len; uint8_t tag; size_t hdr; } cases[] = {
        {0, 0xa0, 1}, {31, 0xbf, 1}, {32, 0xd9, 2}, {255, 0xd9, 2}, {256, 0xda, 3},
        {65535, 0xda, 3}, {65536, 0xdb, 5},
    };
    char *text = malloc(65536);
    assert_non_null(text);
    memset(text, 'x', 65536);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_t b = BUF_INIT;
        msgpack_packer pk;
        msgpack_packer_init(&pk, &b, buf_msgpack_write);
        assert_int_equal(msgpack_pack_str_with_body(&pk, text, cases[i].len), 0);
        assert_int_equal(b.data[0], cases[i].tag);
        assert_int_equal(b.len, cases[i].hdr + cases[i].len);
        heap_input_t h;
        heap_init(&h, b.data, b.len);
        mpk_str_t s;
        assert_int_equal(mpk_read_str(&h.r, UINT32_MAX, &s), 0);
        assert_int_equal(s.len, cases[i].len);
        assert_int_equal(mpk_remaining(&h.r), 0);
        free(h.data);
        buf_free(&b);
    }
    free(text);
}

static void test_mpk_rejects_noncanonical_headers(void **state)
{
    (void)state;
    mpk_str_t s;
    const uint8_t *bin;
    uint32_t n;
    HEAP(str8, 0xd9, 0x03, 'a', 'b', 'c');
    assert_int_equal(mpk_read_str(&str8.r, 100, &s), LD_EPROTO);
    assert_non_null(strstr(err_msg(), "non-canonical"));
    HEAP(str16, 0xda, 0x00, 0x20, 'a');
    assert_int_equal(mpk_read_str(&str16.r, 100, &s), LD_EPROTO);
    HEAP(bin16, 0xc5, 0x00, 0x01, 'a');
    assert_int_equal(mpk_read_bin(&bin16.r, 100, &bin, &n), LD_EPROTO);
    HEAP(arr16, 0xdc, 0x00, 0x01, 0x01);
    assert_int_equal(mpk_read_array(&arr16.r, 100, &n), LD_EPROTO);
    HEAP(arr32, 0xdd, 0x00, 0x00, 0x00, 0x10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    assert_int_equal(mpk_read_array(&arr32.r, 100, &n), LD_EPROTO);
    HEAP(map16, 0xde, 0x00, 0x01, 0xa0, 0x01);
    assert_int_equal(mpk_read_map(&map16.r, 100, &n), LD_EPROTO);
    free(str8.data); free(str16.data); free(bin16.data);
    free(arr16.data); free(arr32.data); free(map16.data);
}

static void test_mpk_lengths_checked_against_input(void **state)
{
    (void)state;
    mpk_str_t s;
    uint32_t n;
    const uint8_t *bin;
    HEAP(str, 0xdb, 0xff, 0xff, 0xff, 0xff, 'a');
    assert_int_equal(mpk_read_str(&str.r, 10, &s), LD_ETOOBIG);
    str.r.p = str.data;
    assert_int_equal(mpk_read_str(&str.r, UINT32_MAX, &s), LD_EPROTO);
    HEAP(arr, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01);
    assert_int_equal(mpk_read_array(&arr.r, 10, &n), LD_ETOOBIG);
    arr.r.p = arr.data;
    assert_int_equal(mpk_read_array(&arr.r, UINT32_MAX, &n), LD_EPROTO);
    /* a map of 2 pairs needs 4 bytes, 3 are there */
    HEAP(map, 0x82, 0xa0, 0x01, 0xa0);
    assert_int_equal(mpk_read_map(&map.r, 10, &n), LD_EPROTO);
    HEAP(cut_bin, 0xc4, 0x20, 0x00); /* says 32 bytes, has 1 */
    assert_int_equal(mpk_read_bin_exact(&cut_bin.r, 32, &bin), LD_EPROTO);
    HEAP(short_bin, 0xc4, 0x02, 0x00, 0x00);
    assert_int_equal(mpk_read_bin_exact(&short_bin.r, 32, &bin), LD_EPROTO);
    assert_non_null(strstr(err_msg(), "32 bytes"));
    free(str.data); free(arr.data); free(map.data); free(cut_bin.data); free(short_bin.data);
}

static void test_mpk_truncated_input_everywhere(void **state)
{
    (void)state;
    /* every prefix of each value must fail cleanly, never read past it */
    static const uint8_t vals[][9] = {
        {0xcf, 1, 2, 3, 4, 5, 6, 7, 8}, {0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0},
        {0xda, 0x01, 0x00}, {0xc4, 0x20}, {0xdd, 0, 1, 0, 0}, {0xdf, 0, 1, 0, 0},
    };
    static const size_t lens[] = {9, 9, 3, 2, 5, 5};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (size_t cut = 0; cut < lens[i]; cut++) {
            heap_input_t h;
            heap_init(&h, vals[i], cut);
            assert_int_not_equal(mpk_skip(&h.r, 4), 0);
            free(h.data);
        }
    }
}

static void test_mpk_skip_depth_and_types(void **state)
{
    (void)state;
    uint8_t deep[101];
    memset(deep, 0x91, 100); /* 100 nested arrays of one element */
    deep[100] = 0x01;
    heap_input_t h;
    heap_init(&h, deep, sizeof deep);
    assert_int_equal(mpk_skip(&h.r, 8), LD_ETOOBIG);
    free(h.data);
    heap_init(&h, deep + 98, 3);
    assert_int_equal(mpk_skip(&h.r, 2), 0);
    assert_int_equal(mpk_remaining(&h.r), 0);
    free(h.data);
    HEAP(flt, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0);
    assert_int_equal(mpk_skip(&flt.r, 2), LD_EPROTO);
    HEAP(ext, 0xd4, 0x01, 0x00);
    assert_int_equal(mpk_skip(&ext.r, 2), LD_EPROTO);
    HEAP(never, 0xc1);
    assert_int_equal(mpk_skip(&never.r, 2), LD_EPROTO);
    HEAP(ok, 0x82, 0xa1, 'a', 0xc0, 0xa1, 'b', 0x92, 0xc3, 0xc4, 0x01, 0x00);
    assert_int_equal(mpk_skip(&ok.r, 2), 0);
    assert_int_equal(mpk_remaining(&ok.r), 0);
    free(flt.data); free(ext.data); free(never.data); free(ok.data);
}

static void test_mpk_peek_classifies_every_byte(void **state)
{
    (void)state;
    int counts[MPK_OTHER + 1] = {0};
    for (int b = 0; b < 256; b++) {
        uint8_t in = (uint8_t)b;
        mpk_reader_t r;
        mpk_type_t t;
        mpk_reader_init(&r, &in, 1);
        assert_int_equal(mpk_peek(&r, &t), 0);
        counts[t]++;
    }
    assert_int_equal(counts[MPK_NIL], 1);
    assert_int_equal(counts[MPK_BOOL], 2);
    assert_int_equal(counts[MPK_UINT], 128 + 4);
    assert_int_equal(counts[MPK_INT], 32 + 4);
    assert_int_equal(counts[MPK_STR], 32 + 3);
    assert_int_equal(counts[MPK_BIN], 3);
    assert_int_equal(counts[MPK_ARRAY], 16 + 2);
    assert_int_equal(counts[MPK_MAP], 16 + 2);
    assert_int_equal(counts[MPK_OTHER], 1 + 3 + 2 + 5); /* c1, ext8-32, floats, fixext */
    mpk_reader_t r;
    mpk_type_t t;
    mpk_reader_init(&r, "", 0);
    assert_int_equal(mpk_peek(&r, &t), LD_EPROTO);
}

static void test_mpk_nil_bool(void **state)
{
    (void)state;
    bool b;
    HEAP(in, 0xc0, 0xc3, 0xc2, 0x00);
    assert_int_equal(mpk_read_nil(&in.r), 0);
    assert_int_equal(mpk_read_bool(&in.r, &b), 0);
    assert_true(b);
    assert_int_equal(mpk_read_bool(&in.r, &b), 0);
    assert_false(b);
    assert_int_equal(mpk_read_bool(&in.r, &b), LD_EPROTO);
    assert_int_equal(mpk_read_nil(&in.r), LD_EPROTO);
    free(in.data);
}

static void test_mpk_str_order(void **state)
{
    (void)state;
    mpk_str_t a = {"a", 1}, aa = {"aa", 2}, ab = {"ab", 2}, b = {"b", 1}, e = {"", 0};
    mpk_str_t hi = {"\xe4\xb8\xad", 3};
    assert_true(mpk_str_less(e, a));
    assert_true(mpk_str_less(a, aa));
    assert_true(mpk_str_less(aa, ab));
    assert_true(mpk_str_less(ab, b));
    assert_true(mpk_str_less(b, hi)); /* bytewise: 0xe4 after ASCII */
    assert_false(mpk_str_less(a, a));
    assert_false(mpk_str_less(b, a));
    assert_true(mpk_str_eq(ab, "ab"));
    assert_false(mpk_str_eq(ab, "a"));
    assert_true(mpk_str_eq(e, ""));
}

static void test_mpk_utf8_validity(void **state)
{
    (void)state;
    static const char *const good[] = {
        "", "plain", "\xe5\xb1\xb1\xe6\xb2\xb3\xe9\x95\x87", /* 山河镇 */
        "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
        "\xf0\x90\x80\x80", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
    };
    static const char *const bad[] = {
        "\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xc2", "\xc2\x41", "\xe0\x80\x80",
        "\xe0\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xe4\xb8", "\xf0\x80\x80\x80",
        "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xfe", "\xff",
        "ok\xe4\xb8", "\xe4\xb8\xad\xc0",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(mpk_utf8_valid(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(mpk_utf8_valid(bad[i], strlen(bad[i])));
    /* NUL is a valid code point; the length, not a terminator, bounds the check */
    assert_true(mpk_utf8_valid("a\0b", 3));
    assert_false(mpk_utf8_valid("\xe4\xb8\xad", 2));
}

/* An independent oracle: decode each code point and judge it by value. */
static bool utf8_oracle(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint32_t cp, min;
        size_t n;
        if (s[i] < 0x80) { i++; continue; }
        if ((s[i] & 0xe0) == 0xc0) n = 1, cp = s[i] & 0x1f, min = 0x80;
        else if ((s[i] & 0xf0) == 0xe0) n = 2, cp = s[i] & 0x0f, min = 0x800;
        else if ((s[i] & 0xf8) == 0xf0) n = 3, cp = s[i] & 0x07, min = 0x10000;
        else return false;
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* The validator's fast paths (eight ASCII bytes at a time, three-byte CJK)
 * against the oracle, on strings made mostly of the bytes at the edges of
 * its rules, at every alignment of an ASCII run. */
static void test_mpk_utf8_matches_oracle(void **state)
{
    (void)state;
    static const uint8_t pool[] = {
        'a', 'a', 'a', 'a', 'a', 'a', 0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
        0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xe4, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf3,
        0xf4, 0xf5, 0xff, 0xb8, 0xad,
    };
    uint32_t x = 12345;
    uint8_t buf[48];
    size_t valid = 0;
    for (int round = 0; round < 300000; round++) {
        x = x * 1103515245u + 12345u;
        size_t len = (x >> 16) % sizeof buf;
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = pool[(x >> 16) % sizeof pool];
        }
        bool want = utf8_oracle(buf, len);
        valid += want;
        if (mpk_utf8_valid((const char *)buf, len) != want) {
            fprintf(stderr, "utf8 mismatch (oracle %d) on %zu bytes:", want, len);
            for (size_t i = 0; i < len; i++)
                fprintf(stderr, " %02x", buf[i]);
            fprintf(stderr, "\n");
            fail();
        }
    }
    assert_true(valid > 1000); /* the pool makes valid strings too, not only refusals */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mpk_uint_round_trip_shortest),
        cmocka_unit_test(test_mpk_int_round_trip_shortest),
        cmocka_unit_test(test_mpk_rejects_noncanonical_ints),
        cmocka_unit_test(test_mpk_uint_rejects_negative_and_other_types),
        cmocka_unit_test(test_mpk_str_headers_shortest),
        cmocka_unit_test(test_mpk_rejects_noncanonical_headers),
        cmocka_unit_test(test_mpk_lengths_checked_against_input),
        cmocka_unit_test(test_mpk_truncated_input_everywhere),
        cmocka_unit_test(test_mpk_skip_depth_and_types),
        cmocka_unit_test(test_mpk_peek_classifies_every_byte),
        cmocka_unit_test(test_mpk_nil_bool),
        cmocka_unit_test(test_mpk_str_order),
        cmocka_unit_test(test_mpk_utf8_validity),
        cmocka_unit_test(test_mpk_utf8_matches_oracle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
