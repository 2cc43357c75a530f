/*
 * schema.h -- the one table of event kinds and their body fields.
 *
 * Every kind in BRIEF section 2 is here, with each field's type, whether it
 * is required, and its limits. Both creation paths (record, import) and the
 * network decoder check bodies against this table through
 * proto_schema_check_body(), so a rule exists in exactly one place.
 *
 * The table is static and immutable; returned pointers live forever.
 * Thread-safe.
 */
#ifndef LD_PROTO_SCHEMA_H
#define LD_PROTO_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef enum proto_ftype {
    PROTO_T_STRING, /* UTF-8 text, max_len bytes */
    PROTO_T_INT,    /* integer in [min, max] */
    PROTO_T_DATE,   /* "YYYY-MM-DD" (proto_date_valid) */
    PROTO_T_BOOL,
    PROTO_T_ENUM,   /* one of values[] */
    PROTO_T_LIST    /* array of 1..max_items strings of <= max_len bytes each;
                       on the command line, comma-separated */
} proto_ftype_t;

/* A syntax rule a STRING value (or each LIST item) must follow besides its
 * length. (Added by the proto/ implementation: some fields are ids of
 * origins or of events, and the table is the one place rules live.) */
typedef enum proto_fformat {
    PROTO_FMT_TEXT = 0,  /* any non-empty UTF-8 */
    PROTO_FMT_ORIGIN,    /* proto_origin_valid() */
    PROTO_FMT_EVENT_REF  /* "ORIGIN#SEQ": an event's identity, SEQ >= 1 */
} proto_fformat_t;

typedef struct proto_field {
    const char *name;
    uint8_t name_len;           /* strlen(name): lookups compare lengths first */
    proto_ftype_t type;
    bool required;
    uint32_t max_len;           /* STRING, LIST items */
    uint32_t max_items;         /* LIST */
    int64_t min, max;           /* INT */
    const char *const *values;  /* ENUM: NULL-terminated */
    const char *description;
    proto_fformat_t format;     /* STRING, LIST items (added, see above) */
} proto_field_t;

typedef struct proto_kind {
    const char *name;           /* "deputy.contact" */
    uint8_t name_len;           /* strlen(name) */
    const char *group;          /* "deputy activity" */
    const char *description;    /* one line, with the Chinese term */
    const proto_field_t *fields;
    size_t nfields;
} proto_kind_t;

size_t proto_schema_count(void);
const proto_kind_t *proto_schema_at(size_t i);
/* NULL if the kind is unknown. */
const proto_kind_t *proto_schema_find(const char *name, size_t len);
/* NULL if the kind has no such field. */
const proto_field_t *proto_kind_field(const proto_kind_t *k, const char *name, size_t len);

/* Checks an encoded body map against kind k: required fields present,
 * every known field of the right type and within limits, canonical key
 * order, no duplicates. Unknown fields: LD_ESCHEMA if strict, else
 * PROTO_FLAG_UNKNOWN_FIELD is or-ed into *flags. k == NULL (unknown kind)
 * checks only the generic shape (string keys, values of the allowed msgpack
 * types). Errors: LD_ESCHEMA / LD_EPROTO with err_msg() naming the field. */
int proto_schema_check_body(const proto_kind_t *k, const uint8_t *body, size_t len,
                            bool strict, unsigned *flags);

/* The schema as JSON, the shape of `kinds --json`:
 * [{"kind","group","description","fields":[{"name","type","required",
 *   "values"?,"max_length"?,"min"?,"max"?,"description"}]}]. New reference.
 * (Also "max_items" for lists and "format": "origin"|"event_ref" where a
 * field has one; added by the proto/ implementation.) */
json_t *proto_schema_to_json(void);

/* Name of a field type as `kinds` shows it: "string", "int", "date", ... */
const char *proto_ftype_name(proto_ftype_t t);

#endif
