/*
 * json.h -- events to and from the JSON shapes users and scripts see.
 *
 * Input (record --json, each import line):
 *   {"kind": K, "date": "YYYY-MM-DD", "author": A (optional), "body": {...}}
 * Output (export): the same object plus "origin", "seq", "hlc", "prev" and
 * "hash" (lower-case hex).
 *
 * JSON values map to msgpack one to one: string -> str, integer -> int,
 * true/false -> bool, array of strings -> array. Anything else (a float,
 * null, a nested object) is rejected with the field's name. The packed body
 * is canonical (keys sorted bytewise), ready for proto_event_encode().
 * Returned json_t objects are new references owned by the caller.
 */
#ifndef LD_PROTO_JSON_H
#define LD_PROTO_JSON_H

#include <jansson.h>

#include "common/buf.h"
#include "proto/event.h"
#include "proto/schema.h"

/* The parts of an input object, as views into the json_t (valid while it is). */
typedef struct proto_input {
    const char *kind;
    const char *date;   /* NULL if absent: the caller supplies today */
    const char *author; /* NULL if absent */
    json_t *body;       /* borrowed; an object (empty if absent) */
} proto_input_t;

/* Splits an input object into its parts. Header fields (origin, seq, hlc,
 * prev, hash) and any other unknown top-level key are LD_ESCHEMA errors:
 * import creates new events of this unit only. */
int proto_input_parse(json_t *obj, proto_input_t *out);

/* Packs a JSON object as a canonical msgpack body map, appending to out.
 * Type conversion only; schema rules are checked at decode. */
int proto_body_pack_json(json_t *body, buf_t *out);

/* Converts a --field value given as text into the JSON value its schema
 * type asks for (int parsed strictly, list split on commas, bool from
 * true/false/yes/no/1/0). f may be NULL (unknown field): the text is kept. */
int proto_field_from_text(const proto_field_t *f, const char *name, const char *text,
                          json_t **out);

/* A decoded event as its export object, hash included. */
json_t *proto_event_to_json(const proto_event_t *ev);

/* The body alone as a JSON object. */
json_t *proto_body_to_json(const proto_event_t *ev);

#endif
