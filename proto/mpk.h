/*
 * mpk.h -- a strict, zero-copy msgpack reader for our own formats.
 *
 * Encoding goes through msgpack-c's packer. Decoding does not go through
 * msgpack-c's unpacker, on purpose: that unpacker allocates count * 24 bytes
 * from an attacker-chosen array/map header before reading a single element,
 * copies into a zone, and cannot tell a canonical encoding from a padded one.
 * Our hashes are over bytes, so the decoder must reject every non-canonical
 * form (a 5 stored as uint32, a str8 holding 3 bytes, unsorted or duplicate
 * map keys); this reader does exactly that, reads nothing past `end`, never
 * allocates, and returns views into the input.
 *
 * Canonical form (what msgpack-c's packer emits, which the encoder relies on):
 *   - integers in the shortest encoding; non-negative values always unsigned
 *   - str in the shortest header (fixstr, str8, str16, str32); bin likewise
 *   - array/map in the shortest header
 * Map-key order is checked by the caller that knows the map (mpk_map_keys_ok).
 *
 * All functions return 0 or LD_EPROTO/LD_ETOOBIG with err_set() called; on
 * error the reader's position is unspecified and it must not be used again.
 * Thread-safe: a reader is a plain value owned by its caller.
 */
#ifndef LD_PROTO_MPK_H
#define LD_PROTO_MPK_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct mpk_reader {
    const uint8_t *p;   /* next byte to read */
    const uint8_t *end; /* one past the last readable byte */
} mpk_reader_t;

/* A view into the reader's input; valid as long as that input is. Not
 * NUL-terminated. */
typedef struct mpk_str {
    const char *ptr;
    uint32_t len;
} mpk_str_t;

typedef enum mpk_type {
    MPK_NIL, MPK_BOOL, MPK_UINT, MPK_INT, MPK_STR, MPK_BIN,
    MPK_ARRAY, MPK_MAP, MPK_OTHER /* float, ext: never canonical for us */
} mpk_type_t;

static inline void mpk_reader_init(mpk_reader_t *r, const void *buf, size_t len)
{
    r->p = (const uint8_t *)buf;
    r->end = r->p + len;
}

static inline size_t mpk_remaining(const mpk_reader_t *r) { return (size_t)(r->end - r->p); }

/* Type of the next value without consuming it; LD_EPROTO at end of input. */
int mpk_peek(const mpk_reader_t *r, mpk_type_t *type);

int mpk_read_nil(mpk_reader_t *r);
int mpk_read_bool(mpk_reader_t *r, bool *out);
/* Non-negative integer. */
int mpk_read_uint(mpk_reader_t *r, uint64_t *out);
/* Any integer (a canonical non-negative one arrives as uint). */
int mpk_read_int(mpk_reader_t *r, int64_t *out);
/* A string of at most max_len bytes; not checked for UTF-8 here. */
int mpk_read_str(mpk_reader_t *r, uint32_t max_len, mpk_str_t *out);
/* Binary of exactly `len` bytes (hashes). */
int mpk_read_bin_exact(mpk_reader_t *r, uint32_t len, const uint8_t **out);
/* Binary of at most max_len bytes. */
int mpk_read_bin(mpk_reader_t *r, uint32_t max_len, const uint8_t **out, uint32_t *len);
/* Array/map headers: the count is checked against max_count and against the
 * bytes left (each element needs at least one byte), so a hostile header
 * cannot make a caller loop or allocate beyond the input. */
int mpk_read_array(mpk_reader_t *r, uint32_t max_count, uint32_t *count);
int mpk_read_map(mpk_reader_t *r, uint32_t max_count, uint32_t *count);
/* Skips one complete canonical value of any type, nesting at most max_depth. */
int mpk_skip(mpk_reader_t *r, int max_depth);

/* True if a comes strictly before b in canonical key order (bytewise, then
 * shorter first). Canonical maps have strictly increasing keys. */
bool mpk_str_less(mpk_str_t a, mpk_str_t b);

/* Compares a view with a NUL-terminated string. */
bool mpk_str_eq(mpk_str_t a, const char *s);

/* True if the bytes are valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool mpk_utf8_valid(const char *s, size_t len);

#endif
