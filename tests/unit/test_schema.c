/*
 * test_schema.c -- the schema table is complete and well-formed (every kind
 * of BRIEF section 2, names and limits as specified), lookups work, bodies
 * are checked for order, duplicates and generic shape, and the JSON view
 * has the shape `kinds --json` promises.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "proto/event.h"
#include "proto/mpk.h"
#include "proto/schema.h"

static const char *const brief_kinds[] = {
    "unit.registered",
    "deputy.registered", "deputy.updated", "deputy.left",
    "deputy.contact", "deputy.duty_report", "deputy.evaluation", "deputy.training",
    "deputy.attendance",
    "suggestion.submitted", "suggestion.assigned", "suggestion.answered", "suggestion.rated",
    "suggestion.closed",
    "supervision.visit", "supervision.law_check", "supervision.inquiry",
    "supervision.interpellation", "supervision.work_review", "supervision.investigation",
    "supervision.decision_vote", "supervision.report_review", "supervision.budget_review",
    "joint.opened", "joint.updated", "joint.closed", "joint.finding", "joint.report",
    "joint.rectification",
};

static const proto_field_t *field(const char *kind, const char *name)
{
    const proto_kind_t *k = proto_schema_find(kind, strlen(kind));
    assert_non_null(k);
    const proto_field_t *f = proto_kind_field(k, name, strlen(name));
    if (!f)
        fail_msg("%s has no field %s", kind, name);
    return f;
}

static void test_schema_has_every_brief_kind(void **state)
{
    (void)state;
    size_t n = sizeof brief_kinds / sizeof brief_kinds[0];
    assert_int_equal(proto_schema_count(), n);
    for (size_t i = 0; i < n; i++) {
        const proto_kind_t *k = proto_schema_find(brief_kinds[i], strlen(brief_kinds[i]));
        if (!k)
            fail_msg("missing kind %s", brief_kinds[i]);
        assert_ptr_equal(proto_schema_at(i), k); /* table order is the brief's order */
    }
    assert_null(proto_schema_at(n));
    assert_null(proto_schema_find("deputy.contac", 13));
    assert_null(proto_schema_find("deputy.contactx", 15));
    assert_non_null(proto_schema_find("deputy.contactx", 14)); /* length, not NUL, bounds */
}

static bool has_non_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return true;
    return false;
}

static bool field_name_ok(const char *s)
{
    if (!*s || *s < 'a' || *s > 'z' || strlen(s) > 64)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(s);
}

static void check_field_well_formed(const proto_kind_t *k, const proto_field_t *f)
{
    assert_true(field_name_ok(f->name));
    assert_true(f->description && *f->description);
    assert_true(mpk_utf8_valid(f->description, strlen(f->description)));
    for (const proto_field_t *g = k->fields; g < f; g++)
        if (!strcmp(g->name, f->name))
            fail_msg("%s: field %s twice", k->name, f->name);
    switch (f->type) {
    case PROTO_T_STRING: assert_true(f->max_len > 0 && f->max_len <= PROTO_BODY_MAX); break;
    case PROTO_T_INT: assert_true(f->min <= f->max); break;
    case PROTO_T_ENUM: assert_non_null(f->values); assert_non_null(f->values[0]); break;
    case PROTO_T_LIST: assert_true(f->max_items > 0 && f->max_len > 0); break;
    default: break;
    }
    if (f->format != PROTO_FMT_TEXT)
        assert_true(f->type == PROTO_T_STRING || f->type == PROTO_T_LIST);
}

static void test_schema_table_well_formed(void **state)
{
    (void)state;
    static const char *const groups[] = {"unit", "deputy", "deputy activity", "suggestions",
                                         "supervision", "linkage"};
    for (size_t i = 0; i < proto_schema_count(); i++) {
        const proto_kind_t *k = proto_schema_at(i);
        bool group_ok = false;
        for (size_t g = 0; g < 6; g++)
            group_ok |= !strcmp(k->group, groups[g]);
        assert_true(group_ok);
        /* one line, with the Chinese term */
        assert_non_null(k->description);
        assert_null(strchr(k->description, '\n'));
        assert_true(has_non_ascii(k->description));
        assert_true(k->nfields > 0 && k->nfields <= 64); /* schema.c keeps a 64-bit mask */
        assert_int_equal(k->name_len, strlen(k->name)); /* lookups trust it */
        for (size_t j = 0; j < k->nfields; j++) {
            check_field_well_formed(k, &k->fields[j]);
            assert_int_equal(k->fields[j].name_len, strlen(k->fields[j].name));
        }
        const proto_field_t *note = proto_kind_field(k, "note", 4);
        assert_non_null(note);
        assert_false(note->required);
        assert_int_equal(note->type, PROTO_T_STRING);
        assert_int_equal(note->max_len, 2000);
    }
}

static void test_schema_fields_as_specified(void **state)
{
    (void)state;
    const proto_field_t *f = field("unit.registered", "id");
    assert_true(f->required && f->format == PROTO_FMT_ORIGIN && f->max_len == 160);
    f = field("deputy.left", "reason");
    assert_true(f->required && f->type == PROTO_T_ENUM);
    assert_string_equal(f->values[2], "persuaded");
    assert_null(f->values[7]);
    f = field("deputy.registered", "background");
    assert_true(f->type == PROTO_T_LIST && f->max_items == 8 && f->max_len == 32 && !f->required);
    assert_true(field("deputy.registered", "level")->required);
    assert_false(field("deputy.updated", "level")->required);
    f = field("supervision.budget_review", "year");
    assert_true(f->min == 1990 && f->max == 2100 && f->required);
    f = field("supervision.work_review", "score");
    assert_true(f->min == 0 && f->max == 100 && f->required);
    f = field("joint.opened", "scope");
    assert_true(f->required && f->max_items == 64 && f->max_len == 160 &&
                f->format == PROTO_FMT_ORIGIN);
    assert_int_equal(field("joint.updated", "scope")->format, PROTO_FMT_ORIGIN);
    assert_int_equal(field("joint.rectification", "finding")->format, PROTO_FMT_EVENT_REF);
    const char *joint_kinds[] = {"joint.updated", "joint.closed", "joint.finding", "joint.report",
                                 "joint.rectification"};
    for (size_t i = 0; i < 5; i++) {
        f = field(joint_kinds[i], "joint");
        assert_true(f->required && f->format == PROTO_FMT_EVENT_REF && f->max_len == 200);
    }
    assert_int_equal(field("suggestion.assigned", "deadline")->type, PROTO_T_DATE);
    assert_int_equal(field("supervision.decision_vote", "abstentions")->max, 100000);
    assert_int_equal(field("supervision.inquiry", "deputies")->max_items, 200);
}

static void test_schema_ftype_names(void **state)
{
    (void)state;
    assert_string_equal(proto_ftype_name(PROTO_T_STRING), "string");
    assert_string_equal(proto_ftype_name(PROTO_T_INT), "int");
    assert_string_equal(proto_ftype_name(PROTO_T_DATE), "date");
    assert_string_equal(proto_ftype_name(PROTO_T_BOOL), "bool");
    assert_string_equal(proto_ftype_name(PROTO_T_ENUM), "enum");
    assert_string_equal(proto_ftype_name(PROTO_T_LIST), "list");
}

/* ---- check_body directly ---- */

static int check(const char *kind, const char *bytes, size_t len, bool strict, unsigned *flags)
{
    const proto_kind_t *k = kind ? proto_schema_find(kind, strlen(kind)) : NULL;
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, bytes, len);
    *flags = 0;
    int rc = proto_schema_check_body(k, copy, len, strict, flags);
    free(copy);
    return rc;
}

#define CHECK(kind, lit, strict, flags) check(kind, lit, sizeof lit - 1, strict, flags)

/* Lookups match whole names only: no prefix, no extension, no embedded
 * NUL, no empty name. */
static void test_schema_find_exact_names(void **state)
{
    (void)state;
    const proto_kind_t *k = proto_schema_find("deputy.contact", 14);
    assert_non_null(k);
    assert_string_equal(k->name, "deputy.contact");
    assert_null(proto_schema_find("deputy.contac", 13));
    assert_null(proto_schema_find("deputy.contactx", 15));
    assert_null(proto_schema_find("deputy.contact\0", 15));
    assert_null(proto_schema_find("deputy\0contact", 14));
    assert_null(proto_schema_find("", 0));
    assert_non_null(proto_kind_field(k, "deputy", 6));
    assert_null(proto_kind_field(k, "deput", 5));
    assert_null(proto_kind_field(k, "deputy\0", 7));
    assert_null(proto_kind_field(k, "deputyx", 7));
    assert_null(proto_kind_field(k, "", 0));
}

static void test_schema_check_body_order_and_duplicates(void **state)
{
    (void)state;
    unsigned fl;
    assert_int_equal(CHECK("deputy.left", "\x82\xa6" "deputy" "\xa2" "d1" "\xa6" "reason" "\xa8" "resigned", true, &fl), 0);
    assert_int_equal(CHECK("deputy.left", "\x82\xa6" "reason" "\xa8" "resigned" "\xa6" "deputy" "\xa2" "d1", true, &fl), LD_EPROTO);
    assert_string_equal(err_msg(), "body field 'deputy': keys not in canonical (bytewise) order");
    assert_int_equal(CHECK("deputy.left", "\x83\xa6" "deputy" "\xa2" "d1" "\xa6" "deputy" "\xa2" "d1" "\xa6" "reason" "\xa8" "resigned", true, &fl), LD_EPROTO);
    assert_string_equal(err_msg(), "body field 'deputy': appears twice");
    /* shorter first on a common prefix */
    assert_int_equal(CHECK(NULL, "\x82\xa2" "ab" "\x01\xa1" "a" "\x01", false, &fl), LD_EPROTO);
    assert_int_equal(CHECK(NULL, "\x82\xa1" "a" "\x01\xa2" "ab" "\x01", false, &fl), 0);
    assert_int_equal(CHECK("deputy.left", "\x81\xa6" "deputy" "\xa2" "d1", true, &fl), LD_ESCHEMA);
    assert_string_equal(err_msg(), "body field 'reason': required by deputy.left but missing");
    assert_int_equal(CHECK("deputy.left", "\x80", true, &fl), LD_ESCHEMA);
    assert_int_equal(CHECK("deputy.left", "\x82\xa6" "deputy" "\xa2" "d1" "\xa6" "reason" "\xa8" "resigned" "\xc0", true, &fl), LD_EPROTO);
    assert_non_null(strstr(err_msg(), "trailing"));
}

static void test_schema_check_body_generic_shape(void **state)
{
    (void)state;
    unsigned fl;
    /* {a: "x", b: -5, c: true, d: ["p", "q"], e: []} */
    assert_int_equal(CHECK(NULL, "\x85\xa1" "a" "\xa1" "x" "\xa1" "b" "\xfb" "\xa1" "c" "\xc3"
                                 "\xa1" "d" "\x92\xa1" "p" "\xa1" "q" "\xa1" "e" "\x90", false, &fl), 0);
    assert_int_equal(fl, 0); /* no kind: nothing to flag */
    assert_int_equal(CHECK(NULL, "\x81\xa1" "a" "\xc0", false, &fl), LD_ESCHEMA);
    assert_int_equal(CHECK(NULL, "\x81\xa1" "a" "\x80", false, &fl), LD_ESCHEMA);
    assert_int_equal(CHECK(NULL, "\x81\xa1" "a" "\x91\x91\xa1" "x", false, &fl), LD_ESCHEMA);
    assert_int_equal(CHECK(NULL, "\x81\xa1" "a" "\x91\x01", false, &fl), LD_ESCHEMA);
    assert_int_equal(CHECK(NULL, "\x81\xa1" "a" "\xca\0\0\0\0", false, &fl), LD_ESCHEMA);
    assert_int_equal(CHECK(NULL, "\x81\xa1" "a" "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", false, &fl), LD_ETOOBIG);
    assert_int_equal(CHECK(NULL, "\x81\xa2" "1a" "\x01", false, &fl), LD_ESCHEMA);
    assert_int_equal(CHECK(NULL, "\x81\xa0" "\x01", false, &fl), LD_ESCHEMA);
    assert_int_equal(CHECK(NULL, "\x81\xa1" "a", false, &fl), LD_EPROTO);
    assert_int_equal(CHECK(NULL, "", false, &fl), LD_EPROTO);
    /* an unknown field of a known kind: flagged, or refused when strict */
    assert_int_equal(CHECK("deputy.left", "\x83\xa6" "deputy" "\xa2" "d1" "\xa6" "reason" "\xa8" "resigned" "\xa7" "sponsor" "\xa1" "x", false, &fl), 0);
    assert_int_equal(fl, PROTO_FLAG_UNKNOWN_FIELD);
    assert_int_equal(CHECK("deputy.left", "\x83\xa6" "deputy" "\xa2" "d1" "\xa6" "reason" "\xa8" "resigned" "\xa7" "sponsor" "\xa1" "x", true, &fl), LD_ESCHEMA);
    assert_string_equal(err_msg(), "body field 'sponsor': not a field of deputy.left (see `kinds`)");
}

static void test_schema_check_body_bool_field_type(void **state)
{
    (void)state;
    /* no kind has a bool field yet; check the rule through a private kind */
    static const proto_field_t fields[] = {
        {.name = "flag", .name_len = 4, .type = PROTO_T_BOOL, .required = true, .description = "d"},
    };
    static const proto_kind_t k = {"test.bool", 9, "unit", "test", fields, 1};
    unsigned fl = 0;
    static const uint8_t yes[] = {0x81, 0xa4, 'f', 'l', 'a', 'g', 0xc3};
    static const uint8_t no[] = {0x81, 0xa4, 'f', 'l', 'a', 'g', 0x01};
    assert_int_equal(proto_schema_check_body(&k, yes, sizeof yes, true, &fl), 0);
    assert_int_equal(proto_schema_check_body(&k, no, sizeof no, true, &fl), LD_ESCHEMA);
    assert_string_equal(err_msg(), "body field 'flag': expected a boolean, found an integer");
}

/* ---- JSON view ---- */

static void test_schema_to_json_shape(void **state)
{
    (void)state;
    json_t *all = proto_schema_to_json();
    assert_non_null(all);
    assert_int_equal(json_array_size(all), proto_schema_count());
    json_t *k = json_array_get(all, 0);
    assert_string_equal(json_string_value(json_object_get(k, "kind")), "unit.registered");
    assert_string_equal(json_string_value(json_object_get(k, "group")), "unit");
    assert_non_null(json_string_value(json_object_get(k, "description")));
    json_t *fields = json_object_get(k, "fields");
    json_t *id = json_array_get(fields, 0);
    assert_string_equal(json_string_value(json_object_get(id, "name")), "id");
    assert_string_equal(json_string_value(json_object_get(id, "type")), "string");
    assert_true(json_is_true(json_object_get(id, "required")));
    assert_int_equal(json_integer_value(json_object_get(id, "max_length")), 160);
    assert_string_equal(json_string_value(json_object_get(id, "format")), "origin");
    json_t *type = json_array_get(fields, 2);
    assert_int_equal(json_array_size(json_object_get(type, "values")), 5);
    assert_null(json_object_get(type, "max_length"));
    /* an int field has min and max */
    size_t i;
    json_t *kind;
    json_array_foreach(all, i, kind) {
        if (strcmp(json_string_value(json_object_get(kind, "kind")), "supervision.budget_review"))
            continue;
        json_t *year = json_array_get(json_object_get(kind, "fields"), 0);
        assert_int_equal(json_integer_value(json_object_get(year, "min")), 1990);
        assert_int_equal(json_integer_value(json_object_get(year, "max")), 2100);
    }
    json_decref(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_has_every_brief_kind),
        cmocka_unit_test(test_schema_table_well_formed),
        cmocka_unit_test(test_schema_fields_as_specified),
        cmocka_unit_test(test_schema_ftype_names),
        cmocka_unit_test(test_schema_find_exact_names),
        cmocka_unit_test(test_schema_check_body_order_and_duplicates),
        cmocka_unit_test(test_schema_check_body_generic_shape),
        cmocka_unit_test(test_schema_check_body_bool_field_type),
        cmocka_unit_test(test_schema_to_json_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
