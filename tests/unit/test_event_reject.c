/*
 * test_event_reject.c -- every rejection path of the strict decode, one by
 * one, with its error code and message (bad headers, calendar edges, bad
 * bodies), and unknown kinds and fields: flagged, and refused only when
 * strict.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/err.h"
#include "proto/event.h"
#include "proto/json.h"
#include "proto/schema.h"
#include "event_fixture.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_rejects_bad_headers),
        cmocka_unit_test(test_event_accepts_calendar_edges),
        cmocka_unit_test(test_event_rejects_bad_bodies),
        cmocka_unit_test(test_event_unknown_kind_flagged_unless_strict),
        cmocka_unit_test(test_event_unknown_field_flagged_unless_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
