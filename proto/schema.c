/*
 * schema.c -- the rules that check an event body against the schema table
 * (the table itself is data, in schema_table.c), and the table as JSON for
 * `kinds --json`.
 *
 * A body is a canonical msgpack map: field names as keys in strictly
 * increasing bytewise order (which also rules out duplicates), each value a
 * string, an integer, a boolean or an array of strings. Known fields are
 * held to their type and limits; unknown ones, which a newer node may send,
 * are held to that generic shape only and flagged, or refused in strict mode.
 */
#include "proto/schema.h"

#include "common/err.h"
#include "proto/event.h"
#include "proto/mpk.h"

#include <string.h>

#define FIELD_NAME_MAX 64

extern const proto_kind_t proto_schema_table_[];
extern const size_t proto_schema_table_len_;

size_t proto_schema_count(void) { return proto_schema_table_len_; }

const proto_kind_t *proto_schema_at(size_t i)
{
    return i < proto_schema_table_len_ ? &proto_schema_table_[i] : NULL;
}

/* From the end: kinds share their beginnings ("deputy.", "suggestion."),
 * so a candidate of the right length most often differs in its last bytes. */
static bool name_eq(const char *name, size_t name_len, const char *s, size_t len)
{
    if (name_len != len)
        return false;
    for (size_t i = len; i-- > 0;)
        if (name[i] != s[i])
            return false;
    return true;
}

const proto_kind_t *proto_schema_find(const char *name, size_t len)
{
    for (size_t i = 0; i < proto_schema_table_len_; i++)
        if (name_eq(proto_schema_table_[i].name, proto_schema_table_[i].name_len, name, len))
            return &proto_schema_table_[i];
    return NULL;
}

const proto_field_t *proto_kind_field(const proto_kind_t *k, const char *name, size_t len)
{
    for (size_t i = 0; i < k->nfields; i++)
        if (name_eq(k->fields[i].name, k->fields[i].name_len, name, len))
            return &k->fields[i];
    return NULL;
}

const char *proto_ftype_name(proto_ftype_t t)
{
    switch (t) {
    case PROTO_T_STRING: return "string";
    case PROTO_T_INT:    return "int";
    case PROTO_T_DATE:   return "date";
    case PROTO_T_BOOL:   return "bool";
    case PROTO_T_ENUM:   return "enum";
    case PROTO_T_LIST:   return "list";
    }
    return "?";
}

/* ---- checking values ---- */

/* At most 48 bytes of an untrusted (already UTF-8-checked) value for an
 * error message, cut at a character boundary, control bytes as '?'. */
static const char *clip(mpk_str_t s, char out[64])
{
    size_t n = s.len > 48 ? 48 : s.len;
    while (n < s.len && n > 0 && ((uint8_t)s.ptr[n] & 0xc0) == 0x80)
        n--;
    for (size_t i = 0; i < n; i++)
        out[i] = ((uint8_t)s.ptr[i] < 0x20 || s.ptr[i] == 0x7f) ? '?' : s.ptr[i];
    strcpy(out + n, n < s.len ? "..." : "");
    return out;
}

static const char *mpk_type_name(mpk_type_t t)
{
    static const char *const names[] = {"nil", "a boolean", "an integer", "an integer",
                                        "a string", "binary", "a list", "a map",
                                        "a float or extension"};
    return names[t];
}

/* Checks the type of the next value; ESCHEMA naming both types if wrong. */
static int expect(const mpk_reader_t *r, const char *key, mpk_type_t want, const char *want_name)
{
    mpk_type_t t;
    int rc = mpk_peek(r, &t);
    if (rc)
        return err_wrap(rc, "body field '%s'", key);
    if (t == want || (want == MPK_INT && t == MPK_UINT))
        return 0;
    return err_set(LD_ESCHEMA, "body field '%s': expected %s, found %s", key, want_name,
                   mpk_type_name(t));
}

/* A UTF-8 string of 1..max bytes following format fmt. `what` names the
 * value in messages ("" for the field itself, "list item 3: " for items). */
static int check_text(mpk_reader_t *r, const char *key, const char *what, uint32_t max,
                      proto_fformat_t fmt, mpk_str_t *s)
{
    char tmp[64];
    int rc = expect(r, key, MPK_STR, "a string");
    if (rc)
        return rc;
    if ((rc = mpk_read_str(r, PROTO_BODY_MAX, s)))
        return err_wrap(rc, "body field '%s'", key);
    if (!mpk_utf8_valid(s->ptr, s->len))
        return err_set(LD_EPROTO, "body field '%s': %snot valid UTF-8", key, what);
    if (s->len == 0)
        return err_set(LD_ESCHEMA, "body field '%s': %sempty (leave the field out instead)",
                       key, what);
    if (s->len > max)
        return err_set(LD_ESCHEMA, "body field '%s': %s%u bytes, at most %u", key, what, s->len,
                       max);
    if (fmt == PROTO_FMT_ORIGIN && !proto_origin_valid(s->ptr, s->len))
        return err_set(LD_ESCHEMA, "body field '%s': %s'%s' is not a valid origin", key, what,
                       clip(*s, tmp));
    if (fmt == PROTO_FMT_EVENT_REF && !proto_event_ref_parse(s->ptr, s->len, NULL, NULL))
        return err_set(LD_ESCHEMA, "body field '%s': %s'%s' is not an event id ORIGIN#SEQ",
                       key, what, clip(*s, tmp));
    return 0;
}

static int check_enum(mpk_reader_t *r, const proto_field_t *f, const char *key)
{
    mpk_str_t s;
    int rc = check_text(r, key, "", 256, PROTO_FMT_TEXT, &s);
    if (rc)
        return rc;
    for (const char *const *v = f->values; *v; v++)
        if (mpk_str_eq(s, *v))
            return 0;
    /* the list of allowed values is built only for the message */
    char tmp[64], list[512] = "";
    for (const char *const *v = f->values; *v; v++) {
        size_t n = strlen(list);
        snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "", *v);
    }
    return err_set(LD_ESCHEMA, "body field '%s': '%s' is not one of %s", key, clip(s, tmp), list);
}

static int check_int(mpk_reader_t *r, const proto_field_t *f, const char *key)
{
    int64_t v;
    int rc = expect(r, key, MPK_INT, "an integer");
    if (rc)
        return rc;
    if ((rc = mpk_read_int(r, &v)))
        return err_wrap(rc, "body field '%s'", key);
    if (v < f->min || v > f->max)
        return err_set(LD_ESCHEMA, "body field '%s': %lld is out of range %lld..%lld", key,
                       (long long)v, (long long)f->min, (long long)f->max);
    return 0;
}

static int check_list(mpk_reader_t *r, const proto_field_t *f, const char *key)
{
    uint32_t n;
    int rc = expect(r, key, MPK_ARRAY, "a list of strings");
    if (rc)
        return rc;
    if ((rc = mpk_read_array(r, UINT32_MAX, &n)))
        return err_wrap(rc, "body field '%s'", key);
    if (n == 0)
        return err_set(LD_ESCHEMA, "body field '%s': empty list (leave the field out instead)",
                       key);
    if (n > f->max_items)
        return err_set(LD_ESCHEMA, "body field '%s': %u items, at most %u", key, n,
                       f->max_items);
    for (uint32_t i = 0; i < n; i++) {
        char what[32];
        mpk_str_t s;
        snprintf(what, sizeof what, "item %u: ", i + 1);
        if ((rc = check_text(r, key, what, f->max_len, f->format, &s)))
            return rc;
    }
    return 0;
}

static int check_value(mpk_reader_t *r, const proto_field_t *f, const char *key)
{
    char tmp[64];
    mpk_str_t s;
    bool b;
    int rc;
    switch (f->type) {
    case PROTO_T_STRING:
        return check_text(r, key, "", f->max_len, f->format, &s);
    case PROTO_T_INT:
        return check_int(r, f, key);
    case PROTO_T_DATE:
        if ((rc = check_text(r, key, "", 64, PROTO_FMT_TEXT, &s)))
            return rc;
        if (!proto_date_valid(s.ptr, s.len))
            return err_set(LD_ESCHEMA, "body field '%s': '%s' is not a date YYYY-MM-DD "
                           "between 1949-10-01 and 2099-12-31", key, clip(s, tmp));
        return 0;
    case PROTO_T_BOOL:
        if ((rc = expect(r, key, MPK_BOOL, "a boolean")))
            return rc;
        return mpk_read_bool(r, &b);
    case PROTO_T_ENUM:
        return check_enum(r, f, key);
    case PROTO_T_LIST:
        return check_list(r, f, key);
    }
    return err_set(LD_ESCHEMA, "body field '%s': bad schema type", key);
}

/* A field this build does not know: a string, an integer, a boolean or an
 * array of strings, nothing else, so that every body converts to JSON. */
static int check_generic(mpk_reader_t *r, const char *key)
{
    mpk_type_t t;
    mpk_str_t s;
    int64_t v;
    bool b;
    uint32_t n;
    int rc = mpk_peek(r, &t);
    if (rc)
        return err_wrap(rc, "body field '%s'", key);
    switch (t) {
    case MPK_STR:
        return check_text(r, key, "", PROTO_BODY_MAX, PROTO_FMT_TEXT, &s);
    case MPK_UINT:
    case MPK_INT:
        rc = mpk_read_int(r, &v);
        break;
    case MPK_BOOL:
        rc = mpk_read_bool(r, &b);
        break;
    case MPK_ARRAY:
        rc = mpk_read_array(r, UINT32_MAX, &n);
        for (uint32_t i = 0; !rc && i < n; i++)
            rc = check_text(r, key, "list item: ", PROTO_BODY_MAX, PROTO_FMT_TEXT, &s);
        return rc;
    default:
        return err_set(LD_ESCHEMA, "body field '%s': expected a string, an integer, a boolean "
                       "or a list of strings, found %s", key, mpk_type_name(t));
    }
    return rc ? err_wrap(rc, "body field '%s'", key) : 0;
}

/* ---- checking a body ---- */

/* `[a-z][a-z0-9_]*`, at most FIELD_NAME_MAX bytes: safe to print, and a
 * JSON key as it is. */
static bool field_name_valid(mpk_str_t s)
{
    if (s.len == 0 || s.len > FIELD_NAME_MAX || s.ptr[0] < 'a' || s.ptr[0] > 'z')
        return false;
    for (uint32_t i = 1; i < s.len; i++) {
        char c = s.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* Reads a key into a NUL-terminated copy, checking name syntax and order,
 * and finds its field of k (*f NULL if none). A key that names a field is a
 * valid name already (the table's names are, a test checks): only others
 * are checked character by character. */
static int read_key(mpk_reader_t *r, const proto_kind_t *k, mpk_str_t *prev, uint32_t i,
                    char key[FIELD_NAME_MAX + 1], const proto_field_t **f)
{
    mpk_str_t s;
    int rc = mpk_read_str(r, PROTO_BODY_MAX, &s);
    if (rc)
        return err_wrap(rc, "body: key %u", i + 1);
    *f = k ? proto_kind_field(k, s.ptr, s.len) : NULL;
    if (!*f && !field_name_valid(s)) {
        char tmp[64];
        bool utf8 = mpk_utf8_valid(s.ptr, s.len);
        return err_set(utf8 ? LD_ESCHEMA : LD_EPROTO, "body: key %u: '%s' is not a field name "
                       "([a-z][a-z0-9_]*, at most %d bytes)", i + 1,
                       utf8 ? clip(s, tmp) : "(not UTF-8)", FIELD_NAME_MAX);
    }
    memcpy(key, s.ptr, s.len);
    key[s.len] = '\0';
    if (i > 0 && !mpk_str_less(*prev, s)) {
        if (prev->len == s.len && memcmp(prev->ptr, s.ptr, s.len) == 0)
            return err_set(LD_EPROTO, "body field '%s': appears twice", key);
        return err_set(LD_EPROTO, "body field '%s': keys not in canonical (bytewise) order",
                       key);
    }
    *prev = s;
    return 0;
}

static int check_field(mpk_reader_t *r, const proto_kind_t *k, const proto_field_t *f,
                       const char *key, bool strict, unsigned *flags, uint64_t *seen)
{
    if (f) {
        *seen |= 1ull << (f - k->fields);
        return check_value(r, f, key);
    }
    if (k && strict)
        return err_set(LD_ESCHEMA, "body field '%s': not a field of %s (see `kinds`)", key,
                       k->name);
    if (k)
        *flags |= PROTO_FLAG_UNKNOWN_FIELD;
    return check_generic(r, key);
}

int proto_schema_check_body(const proto_kind_t *k, const uint8_t *body, size_t len,
                            bool strict, unsigned *flags)
{
    mpk_reader_t r;
    mpk_reader_init(&r, body, len);
    uint32_t n;
    int rc = mpk_read_map(&r, PROTO_BODY_FIELDS, &n);
    if (rc)
        return err_wrap(rc, "body");
    mpk_str_t prev = {NULL, 0};
    uint64_t seen = 0; /* bit i: k->fields[i] present; tests keep nfields <= 64 */
    for (uint32_t i = 0; i < n; i++) {
        char key[FIELD_NAME_MAX + 1];
        const proto_field_t *f = NULL;   /* read_key sets it; -O2 cannot see that */
        if ((rc = read_key(&r, k, &prev, i, key, &f)) ||
            (rc = check_field(&r, k, f, key, strict, flags, &seen)))
            return rc;
    }
    if (mpk_remaining(&r))
        return err_set(LD_EPROTO, "body: %zu trailing bytes after the map", mpk_remaining(&r));
    for (size_t i = 0; k && i < k->nfields; i++)
        if (k->fields[i].required && !(seen & (1ull << i)))
            return err_set(LD_ESCHEMA, "body field '%s': required by %s but missing",
                           k->fields[i].name, k->name);
    return 0;
}

/* ---- the table as JSON ---- */

static json_t *field_to_json(const proto_field_t *f)
{
    static const char *const formats[] = {NULL, "origin", "event_ref"};
    json_t *o = json_pack("{s:s, s:s, s:b, s:s}", "name", f->name, "type",
                          proto_ftype_name(f->type), "required", f->required,
                          "description", f->description);
    int bad = !o;
    if (!bad && f->type == PROTO_T_ENUM) {
        json_t *vals = json_array();
        for (const char *const *v = f->values; vals && *v; v++)
            bad |= json_array_append_new(vals, json_string(*v));
        bad |= json_object_set_new(o, "values", vals);
    }
    if (!bad && (f->type == PROTO_T_STRING || f->type == PROTO_T_LIST))
        bad |= json_object_set_new(o, "max_length", json_integer(f->max_len));
    if (!bad && f->type == PROTO_T_LIST)
        bad |= json_object_set_new(o, "max_items", json_integer(f->max_items));
    if (!bad && f->type == PROTO_T_INT)
        bad |= json_object_set_new(o, "min", json_integer(f->min)) |
               json_object_set_new(o, "max", json_integer(f->max));
    if (!bad && formats[f->format])
        bad |= json_object_set_new(o, "format", json_string(formats[f->format]));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *kind_to_json(const proto_kind_t *k)
{
    json_t *fields = json_array();
    for (size_t i = 0; fields && i < k->nfields; i++) {
        if (json_array_append_new(fields, field_to_json(&k->fields[i]))) {
            json_decref(fields);
            return NULL;
        }
    }
    /* "o" steals fields, also when json_pack fails */
    return json_pack("{s:s, s:s, s:s, s:o}", "kind", k->name, "group", k->group,
                     "description", k->description, "fields", fields);
}

json_t *proto_schema_to_json(void)
{
    json_t *all = json_array();
    for (size_t i = 0; all && i < proto_schema_table_len_; i++) {
        if (json_array_append_new(all, kind_to_json(&proto_schema_table_[i]))) {
            json_decref(all);
            return NULL;
        }
    }
    return all;
}
