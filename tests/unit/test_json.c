/*
 * test_json.c -- the JSON faces of events: input objects, canonical body
 * packing (bytewise key order, rejected JSON types named by field), typed
 * --field values, and the export object.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/err.h"
#include "proto/event.h"
#include "proto/json.h"
#include "proto/schema.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON: %s", e.text);
    return j;
}

/* ---- input objects ---- */

static void test_json_input_parse_parts(void **state)
{
    (void)state;
    json_t *o = parse("{\"kind\":\"deputy.left\",\"date\":\"2024-01-02\",\"author\":\"li\","
                      "\"body\":{\"deputy\":\"d1\"}}");
    proto_input_t in;
    assert_int_equal(proto_input_parse(o, &in), 0);
    assert_string_equal(in.kind, "deputy.left");
    assert_string_equal(in.date, "2024-01-02");
    assert_string_equal(in.author, "li");
    assert_true(json_is_object(in.body) && json_object_size(in.body) == 1);
    json_decref(o);
    o = parse("{\"kind\":\"deputy.left\",\"author\":null}");
    assert_int_equal(proto_input_parse(o, &in), 0);
    assert_null(in.date);
    assert_null(in.author);
    assert_true(json_is_object(in.body) && json_object_size(in.body) == 0);
    json_decref(o);
}

static void test_json_input_parse_rejects(void **state)
{
    (void)state;
    static const struct { const char *json; int rc; const char *msg; } cases[] = {
        {"[]", LD_EINVAL, "expected a JSON object"},
        {"{}", LD_ESCHEMA, "'kind' is missing"},
        {"{\"kind\":5}", LD_ESCHEMA, "'kind' must be a string"},
        {"{\"kind\":\"a.b\",\"date\":20240101}", LD_ESCHEMA, "'date' must be a string"},
        {"{\"kind\":\"a.b\",\"body\":[]}", LD_ESCHEMA, "'body' must be an object"},
        {"{\"kind\":\"a.b\",\"seq\":3}", LD_ESCHEMA, "'seq' is assigned by the node"},
        {"{\"kind\":\"a.b\",\"origin\":\"hrb\"}", LD_ESCHEMA, "'origin' is assigned by the node"},
        {"{\"kind\":\"a.b\",\"hash\":\"00\"}", LD_ESCHEMA, "'hash' is assigned by the node"},
        {"{\"kind\":\"a.b\",\"colour\":\"red\"}", LD_ESCHEMA, "unknown key 'colour'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *o = parse(cases[i].json);
        proto_input_t in;
        int rc = proto_input_parse(o, &in);
        if (rc != cases[i].rc || strncmp(err_msg(), cases[i].msg, strlen(cases[i].msg)))
            fail_msg("%s: got %d '%s'", cases[i].json, rc, err_msg());
        json_decref(o);
    }
}

/* ---- body packing ---- */

static void test_json_pack_sorts_keys_bytewise(void **state)
{
    (void)state;
    json_t *b = parse("{\"b\":1,\"ab\":true,\"\xe4\xb8\xad\":\"z\",\"a\":[\"x\"],\"aa\":-1}");
    buf_t out = BUF_INIT;
    assert_int_equal(proto_body_pack_json(b, &out), 0);
    static const uint8_t want[] = {
        0x85, 0xa1, 'a', 0x91, 0xa1, 'x', 0xa2, 'a', 'a', 0xff, 0xa2, 'a', 'b', 0xc3,
        0xa1, 'b', 0x01, 0xa3, 0xe4, 0xb8, 0xad, 0xa1, 'z',
    };
    assert_int_equal(out.len, sizeof want);
    assert_memory_equal(out.data, want, sizeof want);
    /* packing converts types only: the decoder refuses the non-ASCII key
     * (not a field name) and accepts the rest in this canonical order */
    unsigned fl = 0;
    assert_int_equal(proto_schema_check_body(NULL, out.data, out.len, false, &fl), LD_ESCHEMA);
    json_object_del(b, "\xe4\xb8\xad");
    buf_reset(&out);
    assert_int_equal(proto_body_pack_json(b, &out), 0);
    assert_int_equal(proto_schema_check_body(NULL, out.data, out.len, false, &fl), 0);
    buf_free(&out);
    json_decref(b);
}

static void test_json_pack_rejects_types_naming_field(void **state)
{
    (void)state;
    static const struct { const char *json; const char *msg; } cases[] = {
        {"{\"ok\":1,\"score\":1.5}", "body field 'score': a fractional number is not allowed"},
        {"{\"topic\":null}", "body field 'topic': null is not allowed (leave the field out)"},
        {"{\"where\":{\"a\":1}}", "body field 'where': a nested object is not allowed"},
        {"{\"deputies\":[\"a\",2]}", "body field 'deputies': list item 2 is not a string"},
        {"{\"deputies\":[[\"a\"]]}", "body field 'deputies': list item 1 is not a string"},
        {"{\"deputies\":[null]}", "body field 'deputies': list item 1 is not a string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *b = parse(cases[i].json);
        buf_t out = BUF_INIT;
        assert_int_equal(buf_append(&out, "keep", 4), 0);
        assert_int_equal(proto_body_pack_json(b, &out), LD_ESCHEMA);
        assert_string_equal(err_msg(), cases[i].msg);
        assert_int_equal(out.len, 4); /* nothing half-appended */
        buf_free(&out);
        json_decref(b);
    }
    json_t *notobj = json_string("x");
    buf_t out = BUF_INIT;
    assert_int_equal(proto_body_pack_json(notobj, &out), LD_ESCHEMA);
    json_decref(notobj);
    json_t *many = json_object();
    for (int i = 0; i < PROTO_BODY_FIELDS + 1; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        json_object_set_new(many, k, json_integer(i));
    }
    assert_int_equal(proto_body_pack_json(many, &out), LD_ETOOBIG);
    assert_int_equal(out.len, 0);
    json_decref(many);
    buf_free(&out);
}

/* ---- --field values ---- */

static json_t *from_text(const char *kind, const char *name, const char *text, int want_rc)
{
    const proto_kind_t *k = proto_schema_find(kind, strlen(kind));
    const proto_field_t *f = k ? proto_kind_field(k, name, strlen(name)) : NULL;
    json_t *v = NULL;
    int rc = proto_field_from_text(f, name, text, &v);
    if (rc != want_rc)
        fail_msg("%s=%s: got %d (%s), expected %d", name, text, rc, err_msg(), want_rc);
    return v;
}

static void test_json_field_from_text_int(void **state)
{
    (void)state;
    json_t *v = from_text("deputy.evaluation", "score", "85", 0);
    assert_int_equal(json_integer_value(v), 85);
    json_decref(v);
    v = from_text("deputy.evaluation", "score", "0", 0);
    assert_int_equal(json_integer_value(v), 0);
    json_decref(v);
    static const char *const bad[] = {"", "-", "8.5", " 85", "85 ", "+85", "0x10", "85a",
                                      "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(from_text("deputy.evaluation", "score", bad[i], LD_EINVAL));
    assert_null(from_text("deputy.evaluation", "score", "101", LD_ESCHEMA));
    assert_string_equal(err_msg(), "field 'score': 101 is out of range 0..100");
    assert_null(from_text("deputy.evaluation", "score", "-1", LD_ESCHEMA));
}

static void test_json_field_from_text_list(void **state)
{
    (void)state;
    json_t *v = from_text("deputy.registered", "background", " law ,finance,\tit ", 0);
    assert_int_equal(json_array_size(v), 3);
    assert_string_equal(json_string_value(json_array_get(v, 0)), "law");
    assert_string_equal(json_string_value(json_array_get(v, 1)), "finance");
    assert_string_equal(json_string_value(json_array_get(v, 2)), "it");
    json_decref(v);
    v = from_text("deputy.registered", "background", "law", 0);
    assert_int_equal(json_array_size(v), 1);
    json_decref(v);
    assert_null(from_text("deputy.registered", "background", "law,,finance", LD_EINVAL));
    assert_string_equal(err_msg(), "field 'background': item 2 of the list is empty");
    assert_null(from_text("deputy.registered", "background", "", LD_EINVAL));
    assert_null(from_text("deputy.registered", "background", "law,", LD_EINVAL));
}

static void test_json_field_from_text_bool_and_strings(void **state)
{
    (void)state;
    /* no table field is a bool yet: use a private one */
    static const proto_field_t flag = {.name = "flag", .type = PROTO_T_BOOL, .description = "d"};
    static const char *const yes[] = {"true", "yes", "1", "TRUE", "Yes"};
    static const char *const no[] = {"false", "no", "0", "False", "NO"};
    json_t *v;
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(proto_field_from_text(&flag, "flag", yes[i], &v), 0);
        assert_true(json_is_true(v));
        assert_int_equal(proto_field_from_text(&flag, "flag", no[i], &v), 0);
        assert_true(json_is_false(v));
    }
    assert_int_equal(proto_field_from_text(&flag, "flag", "maybe", &v), LD_EINVAL);
    assert_null(v);
    /* strings, dates and enums stay text; the schema judges them at decode */
    v = from_text("joint.finding", "severity", "urgent", 0);
    assert_string_equal(json_string_value(v), "urgent");
    json_decref(v);
    v = from_text("joint.opened", "title", "a, b", 0);
    assert_string_equal(json_string_value(v), "a, b");
    json_decref(v);
    v = from_text("joint.opened", "no_such_field", "42", 0);
    assert_string_equal(json_string_value(v), "42");
    json_decref(v);
    assert_null(from_text("joint.opened", "title", "\xc0\x80", LD_EINVAL));
}

/* ---- export ---- */

static void test_json_event_to_json(void **state)
{
    (void)state;
    json_t *body = parse("{\"deputy\":\"d1\",\"reason\":\"persuaded\"}");
    buf_t b = BUF_INIT, raw = BUF_INIT;
    assert_int_equal(proto_body_pack_json(body, &b), 0);
    proto_header_t h = {.origin = "hrb/wuchang", .seq = 1, .hlc = 99, .kind = "deputy.left",
                        .date = "2024-05-06", .author = NULL};
    assert_int_equal(proto_event_encode(&h, b.data, b.len, &raw), 0);
    proto_event_t ev;
    assert_int_equal(proto_event_decode(raw.data, raw.len, PROTO_DECODE_STRICT, &ev), 0);
    json_t *o = proto_event_to_json(&ev);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "origin")), "hrb/wuchang");
    assert_int_equal(json_integer_value(json_object_get(o, "seq")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "hlc")), 99);
    assert_string_equal(json_string_value(json_object_get(o, "prev")),
                        "0000000000000000000000000000000000000000000000000000000000000000");
    uint8_t hash[PROTO_HASH_LEN];
    char hex[2 * PROTO_HASH_LEN + 1];
    proto_hash(raw.data, raw.len, hash);
    proto_hash_hex(hash, hex);
    assert_string_equal(json_string_value(json_object_get(o, "hash")), hex);
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "deputy.left");
    assert_string_equal(json_string_value(json_object_get(o, "date")), "2024-05-06");
    assert_null(json_object_get(o, "author"));
    assert_true(json_equal(json_object_get(o, "body"), body));
    /* key order of the export object */
    const char *order[] = {"origin", "seq", "hlc", "prev", "hash", "kind", "date", "body"};
    size_t i = 0;
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val)
        assert_string_equal(key, order[i++]);
    json_decref(o);
    /* with an author */
    buf_reset(&raw);
    h.author = "\xe5\xbc\xa0\xe4\xb8\x89";
    h.seq = 2;
    assert_int_equal(proto_event_encode(&h, b.data, b.len, &raw), 0);
    assert_int_equal(proto_event_decode(raw.data, raw.len, PROTO_DECODE_STRICT, &ev), 0);
    o = proto_event_to_json(&ev);
    assert_string_equal(json_string_value(json_object_get(o, "author")), h.author);
    json_decref(o);
    json_decref(body);
    buf_free(&b);
    buf_free(&raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_input_parse_parts),
        cmocka_unit_test(test_json_input_parse_rejects),
        cmocka_unit_test(test_json_pack_sorts_keys_bytewise),
        cmocka_unit_test(test_json_pack_rejects_types_naming_field),
        cmocka_unit_test(test_json_field_from_text_int),
        cmocka_unit_test(test_json_field_from_text_list),
        cmocka_unit_test(test_json_field_from_text_bool_and_strings),
        cmocka_unit_test(test_json_event_to_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
