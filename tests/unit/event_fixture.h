/*
 * event_fixture.h -- what the test_event*.c pieces share: a default header,
 * valid bodies for every kind of the schema table (at their lower or upper
 * limits), encoding from JSON, and decoding an exactly-sized heap copy so
 * that, in the ASan build, a single byte read past the end fails the test.
 *
 * Every helper fails the test (cmocka) when something it needs goes wrong.
 */
#ifndef LD_TESTS_EVENT_FIXTURE_H
#define LD_TESTS_EVENT_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "proto/event.h"
#include "proto/schema.h"

#define ORIGIN "hrb/wuchang/shanhe"

#define CONTACT_BODY "{\"deputy\":\"d001\",\"channel\":\"visit\",\"constituents\":12}"

/* A header of ORIGIN#7 of `kind`, with a fixed HLC, date, author and prev. */
proto_header_t header(const char *kind);
int decode_copy(const uint8_t *raw, size_t len, unsigned mode);
/* The error codes a decoder may return for bad input. */
bool allowed_error(int rc);
/* A body of kind k into out: all fields at their upper limits when full,
 * else the required ones at their lower limits. */
void kind_body(const proto_kind_t *k, bool full, buf_t *out);
/* An event with header h and the JSON body into out. */
void encode_with(const proto_header_t *h, const char *body_json, buf_t *out);
void encode_kind(const char *kind, const char *body_json, buf_t *out);
/* A NUL-terminated heap copy of s; the caller frees it. */
char *dup_view(mpk_str_t s);

#endif
