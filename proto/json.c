/*
 * json.c -- the JSON faces of an event: the input object of `record --json`
 * and `import`, the packing of its body into canonical msgpack, typed
 * values from `--field k=v` text, and the export object.
 *
 * JSON and body values map one to one (string, integer, boolean, array of
 * strings), so export -> import gives back the same bodies. Only type
 * conversion happens here; the schema rules are checked once, at decode.
 */
#include "proto/json.h"

#include "common/err.h"

#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A JSON key or value for an error message: at most 48 bytes, cut at a
 * character boundary, control bytes as '?'. jansson guarantees UTF-8. */
static const char *clip(const char *s, size_t len, char out[64])
{
    size_t n = len > 48 ? 48 : len;
    while (n < len && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    for (size_t i = 0; i < n; i++)
        out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    strcpy(out + n, n < len ? "..." : "");
    return out;
}

/* ---- input objects ---- */

static int input_string(json_t *v, const char *key, bool nullable, const char **out)
{
    if (nullable && json_is_null(v)) {
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v))
        return err_set(LD_ESCHEMA, "'%s' must be a string", key);
    *out = json_string_value(v);
    return 0;
}

static int input_key(json_t *v, const char *key, proto_input_t *out)
{
    static const char *const header[] = {"origin", "seq", "hlc", "prev", "hash", NULL};
    char tmp[64];
    if (!strcmp(key, "kind"))
        return input_string(v, key, false, &out->kind);
    if (!strcmp(key, "date"))
        return input_string(v, key, false, &out->date);
    if (!strcmp(key, "author"))
        return input_string(v, key, true, &out->author);
    if (!strcmp(key, "body")) {
        if (!json_is_object(v))
            return err_set(LD_ESCHEMA, "'body' must be an object");
        out->body = v;
        return 0;
    }
    for (const char *const *h = header; *h; h++)
        if (!strcmp(key, *h))
            return err_set(LD_ESCHEMA, "'%s' is assigned by the node: import and record "
                           "create new events of this unit only", key);
    return err_set(LD_ESCHEMA, "unknown key '%s' (expected kind, date, author, body)",
                   clip(key, strlen(key), tmp));
}

int proto_input_parse(json_t *obj, proto_input_t *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(obj))
        return err_set(LD_EINVAL, "expected a JSON object");
    const char *key;
    json_t *v;
    int rc;
    json_object_foreach(obj, key, v)
        if ((rc = input_key(v, key, out)))
            return rc;
    if (!out->kind)
        return err_set(LD_ESCHEMA, "'kind' is missing");
    if (!out->body) {
        /* stored in obj so that the borrowed view lives exactly as long as it */
        if (json_object_set_new(obj, "body", json_object()))
            return err_set(LD_ENOMEM, "out of memory");
        out->body = json_object_get(obj, "body");
    }
    return 0;
}

/* ---- body packing ---- */

static int cmp_keys(const void *a, const void *b)
{
    const mpk_str_t *x = a, *y = b;
    return mpk_str_less(*x, *y) ? -1 : mpk_str_less(*y, *x) ? 1 : 0;
}

static int pack_value(msgpack_packer *pk, json_t *v, const char *key)
{
    size_t i;
    json_t *item;
    switch (json_typeof(v)) {
    case JSON_STRING:
        return msgpack_pack_str_with_body(pk, json_string_value(v), json_string_length(v))
                   ? LD_ENOMEM : 0;
    case JSON_INTEGER:
        return msgpack_pack_int64(pk, json_integer_value(v)) ? LD_ENOMEM : 0;
    case JSON_TRUE:
        return msgpack_pack_true(pk) ? LD_ENOMEM : 0;
    case JSON_FALSE:
        return msgpack_pack_false(pk) ? LD_ENOMEM : 0;
    case JSON_ARRAY:
        json_array_foreach(v, i, item)
            if (!json_is_string(item))
                return err_set(LD_ESCHEMA, "body field '%s': list item %zu is not a string",
                               key, i + 1);
        if (msgpack_pack_array(pk, json_array_size(v)))
            return LD_ENOMEM;
        json_array_foreach(v, i, item)
            if (pack_value(pk, item, key))
                return LD_ENOMEM;
        return 0;
    case JSON_REAL:
        return err_set(LD_ESCHEMA, "body field '%s': a fractional number is not allowed", key);
    case JSON_NULL:
        return err_set(LD_ESCHEMA, "body field '%s': null is not allowed (leave the field out)",
                       key);
    default:
        return err_set(LD_ESCHEMA, "body field '%s': a nested object is not allowed", key);
    }
}

/* Keys are sorted into canonical order: bytewise, shorter first. */
static int pack_sorted(json_t *body, mpk_str_t *keys, size_t n, buf_t *out)
{
    size_t i = 0;
    void *it;
    char tmp[64];
    for (it = json_object_iter(body); it; it = json_object_iter_next(body, it), i++)
        keys[i] = (mpk_str_t){json_object_iter_key(it), (uint32_t)json_object_iter_key_len(it)};
    qsort(keys, n, sizeof *keys, cmp_keys);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_msgpack_write);
    if (msgpack_pack_map(&pk, n))
        return LD_ENOMEM;
    for (i = 0; i < n; i++) {
        const char *key = clip(keys[i].ptr, keys[i].len, tmp);
        int rc = msgpack_pack_str_with_body(&pk, keys[i].ptr, keys[i].len) ? LD_ENOMEM : 0;
        if (rc || (rc = pack_value(&pk, json_object_getn(body, keys[i].ptr, keys[i].len), key)))
            return rc;
    }
    return 0;
}

int proto_body_pack_json(json_t *body, buf_t *out)
{
    if (!json_is_object(body))
        return err_set(LD_ESCHEMA, "body: expected an object");
    size_t n = json_object_size(body);
    if (n > PROTO_BODY_FIELDS)
        return err_set(LD_ETOOBIG, "body: %zu fields, at most %d", n, PROTO_BODY_FIELDS);
    mpk_str_t keys[PROTO_BODY_FIELDS];
    size_t start = out->len;
    int rc = pack_sorted(body, keys, n, out);
    if (rc) {
        out->len = start;
        if (rc == LD_ENOMEM)
            err_set(rc, "out of memory packing a body");
    }
    return rc;
}

/* ---- --field values ---- */

/* Optional '-', then 1..19 digits, nothing else: no spaces, no '+', no hex. */
static int parse_int(const proto_field_t *f, const char *name, const char *text, json_t **out)
{
    char tmp[64];
    const char *d = text + (text[0] == '-');
    size_t nd = strspn(d, "0123456789");
    errno = 0;
    long long v = nd && !d[nd] ? strtoll(text, NULL, 10) : 0;
    if (!nd || d[nd] || errno)
        return err_set(LD_EINVAL, "field '%s': '%s' is not an integer", name,
                       clip(text, strlen(text), tmp));
    if (v < f->min || v > f->max)
        return err_set(LD_ESCHEMA, "field '%s': %lld is out of range %lld..%lld", name, v,
                       (long long)f->min, (long long)f->max);
    *out = json_integer(v);
    return 0;
}

static int parse_bool(const char *name, const char *text, json_t **out)
{
    static const char *const yes[] = {"true", "yes", "1"}, *const no[] = {"false", "no", "0"};
    char tmp[64];
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(text, yes[i]) || !strcasecmp(text, no[i])) {
            *out = json_boolean(!strcasecmp(text, yes[i]));
            return 0;
        }
    }
    return err_set(LD_EINVAL, "field '%s': '%s' is not true/false/yes/no/1/0", name,
                   clip(text, strlen(text), tmp));
}

static int parse_list(const char *name, const char *text, json_t **out)
{
    json_t *list = json_array();
    const char *p = text;
    for (size_t i = 1; list; i++) {
        const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (end == p) {
            json_decref(list);
            return err_set(LD_EINVAL, "field '%s': item %zu of the list is empty", name, i);
        }
        json_t *item = json_stringn(p, (size_t)(end - p));
        if (!item) {
            json_decref(list);
            return err_set(LD_EINVAL, "field '%s': item %zu is not valid UTF-8", name, i);
        }
        if (json_array_append_new(list, item))
            break;
        if (!comma) {
            *out = list;
            return 0;
        }
        p = comma + 1;
    }
    json_decref(list);
    return err_set(LD_ENOMEM, "out of memory");
}

int proto_field_from_text(const proto_field_t *f, const char *name, const char *text,
                          json_t **out)
{
    int rc = 0;
    *out = NULL;
    if (f && f->type == PROTO_T_INT)
        rc = parse_int(f, name, text, out);
    else if (f && f->type == PROTO_T_BOOL)
        rc = parse_bool(name, text, out);
    else if (f && f->type == PROTO_T_LIST)
        return parse_list(name, text, out);
    else if (!(*out = json_string(text)))
        return err_set(LD_EINVAL, "field '%s': not valid UTF-8", name);
    if (!rc && !*out)
        return err_set(LD_ENOMEM, "out of memory");
    return rc;
}

/* ---- export ---- */

static json_t *value_to_json(mpk_reader_t *r)
{
    mpk_type_t t;
    mpk_str_t s;
    int64_t v;
    bool b;
    uint32_t n;
    if (mpk_peek(r, &t))
        return NULL;
    switch (t) {
    case MPK_STR:
        return mpk_read_str(r, UINT32_MAX, &s) ? NULL : json_stringn(s.ptr, s.len);
    case MPK_UINT:
    case MPK_INT:
        return mpk_read_int(r, &v) ? NULL : json_integer(v);
    case MPK_BOOL:
        return mpk_read_bool(r, &b) ? NULL : json_boolean(b);
    case MPK_ARRAY: {
        json_t *list = mpk_read_array(r, UINT32_MAX, &n) ? NULL : json_array();
        for (uint32_t i = 0; list && i < n; i++) {
            if (json_array_append_new(list, value_to_json(r))) {
                json_decref(list);
                list = NULL;
            }
        }
        return list;
    }
    default:
        return NULL; /* decode lets nothing else through */
    }
}

json_t *proto_body_to_json(const proto_event_t *ev)
{
    mpk_reader_t r;
    mpk_reader_init(&r, ev->body, ev->body_len);
    uint32_t n;
    json_t *obj = mpk_read_map(&r, PROTO_BODY_FIELDS, &n) ? NULL : json_object();
    for (uint32_t i = 0; obj && i < n; i++) {
        mpk_str_t key;
        if (mpk_read_str(&r, UINT32_MAX, &key) ||
            json_object_setn_new(obj, key.ptr, key.len, value_to_json(&r))) {
            json_decref(obj);
            obj = NULL;
        }
    }
    return obj;
}

json_t *proto_event_to_json(const proto_event_t *ev)
{
    char prev[2 * PROTO_HASH_LEN + 1], hash[2 * PROTO_HASH_LEN + 1];
    uint8_t h[PROTO_HASH_LEN];
    proto_hash(ev->raw, ev->raw_len, h);
    proto_hash_hex(h, hash);
    proto_hash_hex(ev->prev, prev);
    /* "s%" takes a length: views are not NUL-terminated; seq and hlc are
     * <= 2^63-1 (decode checks), so they fit json_int_t */
    json_t *o = json_pack("{s:s%, s:I, s:I, s:s, s:s, s:s%, s:s%}",
                          "origin", ev->origin.ptr, (size_t)ev->origin.len,
                          "seq", (json_int_t)ev->seq, "hlc", (json_int_t)ev->hlc,
                          "prev", prev, "hash", hash,
                          "kind", ev->kind.ptr, (size_t)ev->kind.len,
                          "date", ev->date.ptr, (size_t)ev->date.len);
    if (o && ev->author.ptr &&
        json_object_set_new(o, "author", json_stringn(ev->author.ptr, ev->author.len))) {
        json_decref(o);
        return NULL;
    }
    if (o && json_object_set_new(o, "body", proto_body_to_json(ev))) {
        json_decref(o);
        return NULL;
    }
    return o;
}
