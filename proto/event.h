/*
 * event.h -- the event: the one immutable record everything else is made of.
 *
 * Wire and storage form (docs/protocol.md has it byte by byte): a canonical
 * msgpack array of 9 elements
 *
 *   [ version, origin, seq, hlc, prev, kind, date, author, body ]
 *     uint     str     uint uint bin32 str   str   nil|str map
 *
 * An event's hash is BLAKE2b-256 over exactly those bytes; `prev` is the hash
 * of the previous event of the same origin (32 zero bytes for seq 1), so each
 * origin's log is a hash chain. Because the decoder accepts only the
 * canonical encoding, the same event always has the same bytes and hash.
 *
 * Ownership: proto_event_t is a set of views into the bytes it was decoded
 * from; it is valid exactly as long as those bytes are (an LMDB read
 * transaction, a received ZeroMQ message). Nothing here allocates except
 * proto_event_encode(), which appends to a caller-owned buf_t.
 * Thread-safe: no shared state.
 */
#ifndef LD_PROTO_EVENT_H
#define LD_PROTO_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "proto/mpk.h"

#define PROTO_FORMAT_VERSION 1
#define PROTO_HASH_LEN       32
#define PROTO_ORIGIN_MAX     160   /* bytes */
#define PROTO_ORIGIN_DEPTH   8     /* segments */
#define PROTO_SEGMENT_MAX    32    /* bytes per segment */
#define PROTO_KIND_MAX       64
#define PROTO_AUTHOR_MAX     64    /* bytes of UTF-8 */
#define PROTO_BODY_MAX       65536 /* bytes of the encoded body map */
#define PROTO_BODY_FIELDS    64
#define PROTO_EVENT_MAX      (PROTO_BODY_MAX + 512)

/* Flags set by the decoder on events it accepts but cannot fully judge. */
enum {
    PROTO_FLAG_UNKNOWN_KIND  = 1u << 0, /* kind not in this build's schema */
    PROTO_FLAG_UNKNOWN_FIELD = 1u << 1  /* known kind, a body field we do not know */
};

/* Decoder modes. */
enum {
    /* Local creation: unknown kinds and unknown fields are errors. Without it
     * (events from other units) they are accepted and flagged, so that a newer
     * node's events are stored and forwarded through an older hub. */
    PROTO_DECODE_STRICT = 1u << 0
};

struct proto_kind;

typedef struct proto_event {
    uint32_t version;
    mpk_str_t origin;
    uint64_t seq;
    uint64_t hlc;
    const uint8_t *prev;       /* PROTO_HASH_LEN bytes */
    mpk_str_t kind;
    mpk_str_t date;            /* "YYYY-MM-DD" */
    mpk_str_t author;          /* ptr == NULL when absent (nil) */
    const uint8_t *body;       /* the encoded body map, header included */
    size_t body_len;
    uint32_t body_fields;
    const uint8_t *raw;        /* the whole event */
    size_t raw_len;
    const struct proto_kind *schema; /* NULL for an unknown kind */
    unsigned flags;            /* PROTO_FLAG_* */
    /* BLAKE2b-256 of raw when whoever holds the event computed it already
     * (a hub does on receipt, off its commit thread), else NULL: never set
     * by a decode. The caller keeps the bytes alive as long as the event. */
    const uint8_t *hash;
} proto_event_t;

/* What a caller supplies to build an event. Strings are NUL-terminated;
 * author may be NULL. body is an encoded canonical body map (see
 * proto_body_pack_json in proto/json.h). */
typedef struct proto_header {
    const char *origin;
    uint64_t seq;
    uint64_t hlc;
    uint8_t prev[PROTO_HASH_LEN];
    const char *kind;
    const char *date;
    const char *author;
} proto_header_t;

/* Appends the canonical encoding to out. Does not validate against the
 * schema (decode does); fails only with LD_ENOMEM or LD_ETOOBIG. */
int proto_event_encode(const proto_header_t *h, const uint8_t *body, size_t body_len,
                       buf_t *out);

/* What a strict decode established about an event's content (its kind,
 * date, author and body), for proto_event_encode_checked(). A caller that
 * validates new content before its seq, hlc and prev are known (record,
 * import) keeps this instead of the whole event, whose views die with the
 * bytes they were decoded from. (Added for the import fast path.) */
typedef struct proto_checked {
    const struct proto_kind *schema; /* ev->schema: never NULL after a strict decode */
    uint32_t body_fields;            /* ev->body_fields */
} proto_checked_t;

/* Fills *out from an event that proto_event_decode(PROTO_DECODE_STRICT)
 * accepted. */
void proto_checked_from(const proto_event_t *ev, proto_checked_t *out);

/* Encodes like proto_event_encode() and fills *ev with exactly the views a
 * strict decode of the result would give, WITHOUT validating anything
 * beyond the encoder's own limits. Only for content that has already
 * passed proto_event_decode(PROTO_DECODE_STRICT) with the same origin, kind,
 * date, author and body bytes, under other seq, hlc and prev: none of the
 * decoder's rules looks at those three beyond "seq >= 1" and "at most
 * 2^63-1", which the caller (the store: seq = head + 1) and this function
 * (as proto_event_encode) guarantee. `checked` is what that decode found.
 * ev's views point into out->data from its old length on, and are valid
 * until out is changed. Errors: LD_ENOMEM, LD_ETOOBIG; on error out is
 * left as it was. */
int proto_event_encode_checked(const proto_header_t *h, const uint8_t *body, size_t body_len,
                               const proto_checked_t *checked, buf_t *out, proto_event_t *ev);

/* Decodes and validates raw[0..len): structure, canonical form, limits,
 * origin and kind syntax, date validity, UTF-8 of every string, trailing
 * bytes, and the body against the schema table. Errors (err_msg() names the
 * element and the rule): LD_EPROTO, LD_ETOOBIG, LD_EVERSION, LD_ESCHEMA. */
int proto_event_decode(const uint8_t *raw, size_t len, unsigned mode, proto_event_t *ev);

/* BLAKE2b-256 of raw bytes. */
void proto_hash(const uint8_t *raw, size_t len, uint8_t out[PROTO_HASH_LEN]);
/* The hash of ev's raw bytes: ev->hash when set, else computed. */
void proto_event_hash(const proto_event_t *ev, uint8_t out[PROTO_HASH_LEN]);

/* Lower-case hex of a hash into out (65 bytes incl. NUL). */
void proto_hash_hex(const uint8_t hash[PROTO_HASH_LEN], char out[2 * PROTO_HASH_LEN + 1]);

/* Origins: 1..PROTO_ORIGIN_DEPTH segments of [a-z0-9_-]{1,32} (starting with
 * a letter or digit) joined by '/', at most PROTO_ORIGIN_MAX bytes. */
bool proto_origin_valid(const char *s, size_t len);
/* True if origin equals prefix or lies below it ("hrb/wu" is NOT below "hrb/w"). */
bool proto_origin_within(const char *origin, size_t olen, const char *prefix, size_t plen);

/* An event's identity written as text, "ORIGIN#SEQ" (e.g. "hrb/wuchang#12"):
 * a valid origin, '#', and SEQ in decimal, 1..2^63-1, no leading zeros. On
 * success *origin views s and *seq is set; either may be NULL. (Added by the
 * proto/ implementation: joint.* bodies refer to events this way.) */
bool proto_event_ref_parse(const char *s, size_t len, mpk_str_t *origin, uint64_t *seq);

/* "YYYY-MM-DD", a real calendar date between 1949-10-01 and 2099-12-31. */
bool proto_date_valid(const char *s, size_t len);

/* Looks up a body field by name; *found false if absent. The value is left
 * in a reader positioned at it. Body bytes must have passed decode. */
int proto_body_find(const proto_event_t *ev, const char *name, mpk_reader_t *val, bool *found);
/* Convenience: a string field's view, or {NULL,0} if absent or not a string. */
mpk_str_t proto_body_str(const proto_event_t *ev, const char *name);

#endif
