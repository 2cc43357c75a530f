/*
 * test_event.c -- events: a round trip for every kind of the schema table
 * (minimal and maximal bodies, bytes identical after decode and re-encode),
 * every rejection path with its error code and message, a table of hostile
 * inputs, every truncation, and a sweep flipping each bit of a valid event.
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
#include <msgpack.h>
#include <sodium.h>

#include "common/buf.h"
#include "common/err.h"
#include "proto/event.h"
#include "proto/json.h"
#include "proto/schema.h"

#define ORIGIN "hrb/wuchang/shanhe"

/* ---- helpers ---- */

static proto_header_t header(const char *kind)
{
    proto_header_t h = {.origin = ORIGIN, .seq = 7, .hlc = 0x0001234500000003ull,
                        .kind = kind, .date = "2024-03-05", .author = "\xe7\x8e\x8b\xe8\x8a\xb3"};
    for (int i = 0; i < PROTO_HASH_LEN; i++)
        h.prev[i] = (uint8_t)i;
    return h;
}

/* Decodes a heap copy of exactly len bytes; the copy is freed before return,
 * so *ev is not used afterwards by callers of this helper. */
static int decode_copy(const uint8_t *raw, size_t len, unsigned mode)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, raw, len);
    proto_event_t ev;
    int rc = proto_event_decode(copy, len, mode, &ev);
    free(copy);
    return rc;
}

static bool allowed_error(int rc)
{
    return rc == LD_EPROTO || rc == LD_ETOOBIG || rc == LD_ESCHEMA || rc == LD_EVERSION;
}

/* A text value of exactly n bytes, mostly 3-byte characters, so that
 * limits are seen to count bytes, not characters. */
static json_t *text_of(size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    size_t i = 0;
    for (; i + 3 <= n; i += 3)
        memcpy(s + i, "\xe5\xb1\xb1", 3); /* 山 */
    for (; i < n; i++)
        s[i] = 'a';
    s[n] = '\0';
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *list_of(const proto_field_t *f, bool full)
{
    json_t *a = json_array();
    size_t n = full ? f->max_items : 1;
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, f->format == PROTO_FMT_ORIGIN ? json_string("hrb/wuchang")
                                                               : text_of(full ? f->max_len : 1));
    return a;
}

/* A valid value for f: at its upper limits when full, at its lower ones
 * otherwise. */
static json_t *value_for(const proto_field_t *f, bool full)
{
    size_t nv = 0;
    switch (f->type) {
    case PROTO_T_STRING:
        if (f->format == PROTO_FMT_ORIGIN)
            return json_string(ORIGIN);
        if (f->format == PROTO_FMT_EVENT_REF)
            return json_string("hrb/wuchang#12");
        return text_of(full ? f->max_len : 1);
    case PROTO_T_INT:
        return json_integer(full ? f->max : f->min);
    case PROTO_T_DATE:
        return json_string(full ? "2024-02-29" : "1949-10-01");
    case PROTO_T_BOOL:
        return json_boolean(full);
    case PROTO_T_ENUM:
        while (f->values[nv])
            nv++;
        return json_string(f->values[full ? nv - 1 : 0]);
    case PROTO_T_LIST:
        return list_of(f, full);
    }
    return NULL;
}

/* All fields when full, else the required ones only. */
static void kind_body(const proto_kind_t *k, bool full, buf_t *out)
{
    json_t *body = json_object();
    for (size_t i = 0; i < k->nfields; i++)
        if (full || k->fields[i].required)
            json_object_set_new(body, k->fields[i].name, value_for(&k->fields[i], full));
    assert_int_equal(proto_body_pack_json(body, out), 0);
    json_decref(body);
}

static void encode_with(const proto_header_t *h, const char *body_json, buf_t *out)
{
    json_error_t jerr;
    json_t *j = json_loads(body_json, 0, &jerr);
    assert_non_null(j);
    buf_t body = BUF_INIT;
    assert_int_equal(proto_body_pack_json(j, &body), 0);
    assert_int_equal(proto_event_encode(h, body.data, body.len, out), 0);
    buf_free(&body);
    json_decref(j);
}

static void encode_kind(const char *kind, const char *body_json, buf_t *out)
{
    proto_header_t h = header(kind);
    encode_with(&h, body_json, out);
}

#define CONTACT_BODY "{\"deputy\":\"d001\",\"channel\":\"visit\",\"constituents\":12}"

/* ---- round trips ---- */

static char *dup_view(mpk_str_t s)
{
    char *p = malloc(s.len + 1);
    assert_non_null(p);
    memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
    return p;
}

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

/* ---- rejection paths, one by one ---- */

typedef struct reject_case {
    const char *what;
    proto_header_t h;   /* fields left NULL/0 take the defaults */
    const char *body;   /* JSON; NULL: the contact body */
    int rc;
    const char *msg;    /* expected prefix of err_msg() */
} reject_case_t;

static void run_reject(const reject_case_t *c)
{
    proto_header_t h = header(c->h.kind ? c->h.kind : "deputy.contact");
    if (c->h.origin) h.origin = c->h.origin;
    if (c->h.date) h.date = c->h.date;
    if (c->h.author) h.author = c->h.author;
    if (c->h.seq == 1) h.seq = 0; /* 1 in a case means "seq 0" */
    buf_t raw = BUF_INIT;
    encode_with(&h, c->body ? c->body : CONTACT_BODY, &raw);
    proto_event_t ev;
    int rc = proto_event_decode(raw.data, raw.len, PROTO_DECODE_STRICT, &ev);
    if (rc != c->rc || strncmp(err_msg(), c->msg, strlen(c->msg)) != 0)
        fail_msg("%s: got %d '%s', expected %d '%s...'", c->what, rc, err_msg(), c->rc, c->msg);
    assert_int_equal(decode_copy(raw.data, raw.len, PROTO_DECODE_STRICT), c->rc);
    buf_free(&raw);
}

static void test_event_rejects_bad_headers(void **state)
{
    (void)state;
    static const reject_case_t cases[] = {
        {"upper-case origin", {.origin = "hrb/Wuchang"}, NULL, LD_ESCHEMA, "event: field 'origin': 'hrb/Wuchang' is not a valid origin"},
        {"empty segment", {.origin = "hrb//x"}, NULL, LD_ESCHEMA, "event: field 'origin':"},
        {"trailing slash", {.origin = "hrb/"}, NULL, LD_ESCHEMA, "event: field 'origin':"},
        {"leading dash", {.origin = "hrb/-x"}, NULL, LD_ESCHEMA, "event: field 'origin':"},
        {"nine segments", {.origin = "a/b/c/d/e/f/g/h/i"}, NULL, LD_ESCHEMA, "event: field 'origin':"},
        {"33-byte segment", {.origin = "hrb/abcdefghijabcdefghijabcdefghijklm"}, NULL, LD_ESCHEMA, "event: field 'origin':"},
        {"empty origin", {.origin = ""}, NULL, LD_ESCHEMA, "event: field 'origin':"},
        {"seq 0", {.seq = 1}, NULL, LD_ESCHEMA, "event: field 'seq': must be at least 1"},
        {"kind without dot", {.kind = "deputy"}, NULL, LD_ESCHEMA, "event: field 'kind': 'deputy' is not of the form"},
        {"kind with two dots", {.kind = "a.b.c"}, NULL, LD_ESCHEMA, "event: field 'kind':"},
        {"kind upper-case", {.kind = "Deputy.contact"}, NULL, LD_ESCHEMA, "event: field 'kind':"},
        {"kind digit", {.kind = "deputy.c2"}, NULL, LD_ESCHEMA, "event: field 'kind':"},
        {"kind leading underscore", {.kind = "_a.b"}, NULL, LD_ESCHEMA, "event: field 'kind':"},
        {"kind trailing dot", {.kind = "deputy."}, NULL, LD_ESCHEMA, "event: field 'kind':"},
        {"unknown kind", {.kind = "x.y"}, "{}", LD_ESCHEMA, "unknown kind 'x.y' (see `kinds`)"},
        {"not a leap year", {.date = "2023-02-29"}, NULL, LD_ESCHEMA, "event: field 'date': '2023-02-29' is not a date"},
        {"1900 not leap", {.date = "1900-02-29"}, NULL, LD_ESCHEMA, "event: field 'date':"},
        {"April 31", {.date = "2024-04-31"}, NULL, LD_ESCHEMA, "event: field 'date':"},
        {"month 13", {.date = "2024-13-01"}, NULL, LD_ESCHEMA, "event: field 'date':"},
        {"day 0", {.date = "2024-01-00"}, NULL, LD_ESCHEMA, "event: field 'date':"},
        {"short date", {.date = "2024-3-05"}, NULL, LD_ESCHEMA, "event: field 'date':"},
        {"before 1949-10-01", {.date = "1949-09-30"}, NULL, LD_ESCHEMA, "event: field 'date':"},
        {"after 2099", {.date = "2100-01-01"}, NULL, LD_ESCHEMA, "event: field 'date':"},
        {"date with slashes", {.date = "2024/03/05"}, NULL, LD_ESCHEMA, "event: field 'date':"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_reject(&cases[i]);
}

static void test_event_accepts_calendar_edges(void **state)
{
    (void)state;
    static const char *const good[] = {"1949-10-01", "2000-02-29", "2024-02-29", "2099-12-31",
                                       "2023-12-31", "2024-04-30"};
    static const char *const bad[] = {"", "2024-02-3", "2024-02-300", "2100-02-29", "20240229",
                                      "2024-02-29 ", "+024-01-01", "2024-0a-01", "1949-09-30"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(proto_date_valid(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(proto_date_valid(bad[i], strlen(bad[i])));
}

static void test_event_rejects_bad_bodies(void **state)
{
    (void)state;
    static const reject_case_t cases[] = {
        {"enum", {.kind = "joint.finding"}, "{\"joint\":\"hrb#1\",\"site\":\"s\",\"problem\":\"p\",\"severity\":\"urgent\"}", LD_ESCHEMA,
         "body field 'severity': 'urgent' is not one of low, medium, high"},
        {"missing required", {.kind = "joint.finding"}, "{\"joint\":\"hrb#1\",\"site\":\"s\",\"severity\":\"low\"}", LD_ESCHEMA,
         "body field 'problem': required by joint.finding but missing"},
        {"int over max", {0}, "{\"deputy\":\"d\",\"channel\":\"visit\",\"constituents\":100001}", LD_ESCHEMA,
         "body field 'constituents': 100001 is out of range 0..100000"},
        {"negative int", {0}, "{\"deputy\":\"d\",\"channel\":\"visit\",\"constituents\":-1}", LD_ESCHEMA,
         "body field 'constituents': -1 is out of range"},
        {"int as string", {0}, "{\"deputy\":\"d\",\"channel\":\"visit\",\"constituents\":\"12\"}", LD_ESCHEMA,
         "body field 'constituents': expected an integer, found a string"},
        {"string as int", {0}, "{\"deputy\":5,\"channel\":\"visit\"}", LD_ESCHEMA,
         "body field 'deputy': expected a string, found an integer"},
        {"string too long", {0}, "{\"deputy\":\"123456789012345678901234567890123\",\"channel\":\"visit\"}", LD_ESCHEMA,
         "body field 'deputy': 33 bytes, at most 32"},
        {"empty string", {0}, "{\"deputy\":\"\",\"channel\":\"visit\"}", LD_ESCHEMA, "body field 'deputy': empty"},
        {"unknown field (strict)", {0}, "{\"deputy\":\"d\",\"channel\":\"visit\",\"mood\":\"ok\"}", LD_ESCHEMA,
         "body field 'mood': not a field of deputy.contact"},
        {"bool where enum", {0}, "{\"deputy\":\"d\",\"channel\":true}", LD_ESCHEMA,
         "body field 'channel': expected a string, found a boolean"},
        {"bad date field", {.kind = "suggestion.assigned"}, "{\"suggestion\":\"s1\",\"handler\":\"h\",\"deadline\":\"2024-02-30\"}", LD_ESCHEMA,
         "body field 'deadline': '2024-02-30' is not a date"},
        {"list too long", {.kind = "deputy.registered"}, "{\"deputy\":\"d\",\"name\":\"n\",\"level\":\"city\",\"category\":\"other\",\"term\":\"t\",\"background\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]}", LD_ESCHEMA,
         "body field 'background': 9 items, at most 8"},
        {"empty list", {.kind = "deputy.registered"}, "{\"deputy\":\"d\",\"name\":\"n\",\"level\":\"city\",\"category\":\"other\",\"term\":\"t\",\"background\":[]}", LD_ESCHEMA,
         "body field 'background': empty list"},
        {"list item too long", {.kind = "deputy.registered"}, "{\"deputy\":\"d\",\"name\":\"n\",\"level\":\"city\",\"category\":\"other\",\"term\":\"t\",\"background\":[\"law\",\"123456789012345678901234567890123\"]}", LD_ESCHEMA,
         "body field 'background': item 2: 33 bytes, at most 32"},
        {"unit id not an origin", {.kind = "unit.registered"}, "{\"id\":\"Shanhe\",\"name\":\"n\",\"type\":\"township\"}", LD_ESCHEMA,
         "body field 'id': 'Shanhe' is not a valid origin"},
        {"scope item not an origin", {.kind = "joint.opened"}, "{\"title\":\"t\",\"type\":\"visit\",\"scope\":[\"hrb/daoli\",\"hrb daoli\"],\"from\":\"2024-01-01\",\"due\":\"2024-02-01\"}", LD_ESCHEMA,
         "body field 'scope': item 2: 'hrb daoli' is not a valid origin"},
        {"joint ref without seq", {.kind = "joint.report"}, "{\"joint\":\"hrb/daoli\",\"summary\":\"s\"}", LD_ESCHEMA,
         "body field 'joint': 'hrb/daoli' is not an event id ORIGIN#SEQ"},
        {"joint ref seq 0", {.kind = "joint.closed"}, "{\"joint\":\"hrb#0\"}", LD_ESCHEMA, "body field 'joint':"},
        {"finding ref leading zero", {.kind = "joint.rectification"}, "{\"joint\":\"hrb#1\",\"finding\":\"hrb#01\",\"status\":\"done\"}", LD_ESCHEMA, "body field 'finding':"},
        {"year out of range", {.kind = "supervision.budget_review"}, "{\"year\":1989}", LD_ESCHEMA, "body field 'year': 1989 is out of range 1990..2100"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_reject(&cases[i]);
}

/* ---- unknown kinds and fields: flagged unless strict ---- */

static void test_event_unknown_kind_flagged_unless_strict(void **state)
{
    (void)state;
    buf_t raw = BUF_INIT;
    encode_kind("petition.filed", "{\"count\":3,\"future\":[\"a\",\"b\"],\"ok\":true,\"text\":\"x\"}", &raw);
    proto_event_t ev;
    assert_int_equal(proto_event_decode(raw.data, raw.len, 0, &ev), 0);
    assert_null(ev.schema);
    assert_int_equal(ev.flags, PROTO_FLAG_UNKNOWN_KIND);
    assert_int_equal(ev.body_fields, 4);
    assert_int_equal(proto_event_decode(raw.data, raw.len, PROTO_DECODE_STRICT, &ev), LD_ESCHEMA);
    assert_string_equal(err_msg(), "unknown kind 'petition.filed' (see `kinds`)");
    buf_free(&raw);
    /* even an unknown kind's body has the generic shape: no nil values */
    proto_header_t h = header("petition.filed");
    static const uint8_t nil_body[] = {0x81, 0xa1, 'x', 0xc0};
    assert_int_equal(proto_event_encode(&h, nil_body, sizeof nil_body, &raw), 0);
    assert_int_equal(proto_event_decode(raw.data, raw.len, 0, &ev), LD_ESCHEMA);
    assert_string_equal(err_msg(), "body field 'x': expected a string, an integer, a boolean "
                        "or a list of strings, found nil");
    buf_free(&raw);
}

static void test_event_unknown_field_flagged_unless_strict(void **state)
{
    (void)state;
    buf_t raw = BUF_INIT;
    encode_kind("deputy.contact", "{\"deputy\":\"d1\",\"channel\":\"phone\",\"zz_new\":5}", &raw);
    proto_event_t ev;
    assert_int_equal(proto_event_decode(raw.data, raw.len, 0, &ev), 0);
    assert_non_null(ev.schema);
    assert_int_equal(ev.flags, PROTO_FLAG_UNKNOWN_FIELD);
    assert_int_equal(proto_event_decode(raw.data, raw.len, PROTO_DECODE_STRICT, &ev), LD_ESCHEMA);
    buf_free(&raw);
    /* known fields are still fully checked in non-strict mode */
    encode_kind("deputy.contact", "{\"deputy\":\"d1\",\"channel\":\"fax\",\"zz_new\":5}", &raw);
    assert_int_equal(proto_event_decode(raw.data, raw.len, 0, &ev), LD_ESCHEMA);
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
        cmocka_unit_test(test_event_round_trip_every_kind),
        cmocka_unit_test(test_event_round_trip_header_extremes),
        cmocka_unit_test(test_event_author_absent_is_nil),
        cmocka_unit_test(test_event_hash_is_blake2b_256),
        cmocka_unit_test(test_event_doc_example),
        cmocka_unit_test(test_event_rejects_bad_headers),
        cmocka_unit_test(test_event_accepts_calendar_edges),
        cmocka_unit_test(test_event_rejects_bad_bodies),
        cmocka_unit_test(test_event_unknown_kind_flagged_unless_strict),
        cmocka_unit_test(test_event_unknown_field_flagged_unless_strict),
        cmocka_unit_test(test_event_body_find_and_str),
        cmocka_unit_test(test_event_origin_within),
        cmocka_unit_test(test_event_ref_parse),
        cmocka_unit_test(test_event_encode_limits_leave_buffer_unchanged),
        cmocka_unit_test(test_event_encode_checked_matches_decode),
        cmocka_unit_test(test_event_encode_checked_limits_leave_buffer_unchanged),
        cmocka_unit_test(test_event_body_size_limit),
        cmocka_unit_test(test_event_hostile_header_parts),
        cmocka_unit_test(test_event_hostile_sizes),
        cmocka_unit_test(test_event_hostile_bodies),
        cmocka_unit_test(test_event_every_truncation_fails),
        cmocka_unit_test(test_event_bit_flip_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
