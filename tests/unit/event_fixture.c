/* event_fixture.c -- see event_fixture.h. */
#include "event_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "proto/json.h"

proto_header_t header(const char *kind)
{
    proto_header_t h = {.origin = ORIGIN, .seq = 7, .hlc = 0x0001234500000003ull,
                        .kind = kind, .date = "2024-03-05", .author = "\xe7\x8e\x8b\xe8\x8a\xb3"};
    for (int i = 0; i < PROTO_HASH_LEN; i++)
        h.prev[i] = (uint8_t)i;
    return h;
}

/* Decodes a heap copy of exactly len bytes; the copy is freed before return,
 * so *ev is not used afterwards by callers of this helper. */
int decode_copy(const uint8_t *raw, size_t len, unsigned mode)
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

bool allowed_error(int rc)
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
void kind_body(const proto_kind_t *k, bool full, buf_t *out)
{
    json_t *body = json_object();
    for (size_t i = 0; i < k->nfields; i++)
        if (full || k->fields[i].required)
            json_object_set_new(body, k->fields[i].name, value_for(&k->fields[i], full));
    assert_int_equal(proto_body_pack_json(body, out), 0);
    json_decref(body);
}

void encode_with(const proto_header_t *h, const char *body_json, buf_t *out)
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

void encode_kind(const char *kind, const char *body_json, buf_t *out)
{
    proto_header_t h = header(kind);
    encode_with(&h, body_json, out);
}

char *dup_view(mpk_str_t s)
{
    char *p = malloc(s.len + 1);
    assert_non_null(p);
    memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
    return p;
}
