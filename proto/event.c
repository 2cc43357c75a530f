/*
 * event.c -- encoding, strict decoding and hashing of events, and the
 * syntax of the values every event header carries (origins, kinds, dates).
 *
 * The encoder is msgpack-c's packer, whose output is canonical; the decoder
 * is the strict reader in mpk.c, so decode(encode(x)) gives back the same
 * bytes and the same hash on every node. The body is checked against the
 * schema table (schema.c), which is the only place field rules live.
 */
#include "proto/event.h"

#include "common/err.h"
#include "proto/schema.h"

#include <msgpack.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#define EVENT_ELEMENTS 9
#define DATE_READ_MAX  32  /* longer than any date, so that a wrong one reads as wrong */

/* Copies at most 48 bytes of an untrusted view into out for an error
 * message: cut at a character boundary, control bytes and non-UTF-8 bytes
 * shown as '?', so a hostile message cannot garble a terminal or a log. */
static const char *clip(const char *p, size_t len, char out[64])
{
    size_t n = len > 48 ? 48 : len;
    while (n < len && n > 0 && ((uint8_t)p[n] & 0xc0) == 0x80)
        n--;
    bool utf8 = mpk_utf8_valid(p, n);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)p[i];
        out[i] = (c < 0x20 || c == 0x7f || (!utf8 && c >= 0x80)) ? '?' : (char)c;
    }
    strcpy(out + n, n < len ? "..." : "");
    return out;
}

/* ---- syntax of header values ---- */

static bool seg_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (!first && (c == '_' || c == '-'));
}

bool proto_origin_valid(const char *s, size_t len)
{
    if (len == 0 || len > PROTO_ORIGIN_MAX)
        return false;
    size_t seg = 0, depth = 1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '/') {
            if (seg == 0 || ++depth > PROTO_ORIGIN_DEPTH)
                return false;
            seg = 0;
        } else if (!seg_char(s[i], seg == 0) || ++seg > PROTO_SEGMENT_MAX) {
            return false;
        }
    }
    return seg > 0;
}

bool proto_origin_within(const char *origin, size_t olen, const char *prefix, size_t plen)
{
    if (plen == 0 || plen > olen || memcmp(origin, prefix, plen) != 0)
        return false;
    return olen == plen || origin[plen] == '/';
}

bool proto_event_ref_parse(const char *s, size_t len, mpk_str_t *origin, uint64_t *seq)
{
    const char *hash = len ? memchr(s, '#', len) : NULL;
    if (!hash)
        return false;
    size_t olen = (size_t)(hash - s), dlen = len - olen - 1;
    if (!proto_origin_valid(s, olen) || dlen == 0 || dlen > 19 || hash[1] == '0')
        return false;
    uint64_t v = 0;
    for (size_t i = 1; i <= dlen; i++) {
        if (hash[i] < '0' || hash[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(hash[i] - '0'); /* 19 digits cannot overflow uint64 */
    }
    if (v > (uint64_t)INT64_MAX)
        return false;
    if (origin)
        *origin = (mpk_str_t){s, (uint32_t)olen};
    if (seq)
        *seq = v;
    return true;
}

/* `[a-z][a-z_]*\.[a-z][a-z_]*`, at most PROTO_KIND_MAX bytes. */
static bool kind_valid(const char *s, size_t len)
{
    if (len == 0 || len > PROTO_KIND_MAX)
        return false;
    int dots = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool starts = i == 0 || s[i - 1] == '.';
        if (c == '.') {
            if (starts || ++dots > 1)
                return false;
        } else if (!(c >= 'a' && c <= 'z') && (starts || c != '_')) {
            return false;
        }
    }
    return dots == 1 && s[len - 1] != '.';
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

bool proto_date_valid(const char *s, size_t len)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return false;
    int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 1949 || y > 2099 || m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] + (m == 2 && leap))
        return false;
    return y > 1949 || m >= 10; /* the People's Republic, 1949-10-01 */
}

/* ---- encoding ---- */

/* Packs a string; *at gets the offset of its bytes in out. */
static int pack_cstr(msgpack_packer *pk, const buf_t *out, const char *s, size_t *at)
{
    size_t n = strlen(s);
    if (msgpack_pack_str(pk, n))
        return -1;
    *at = out->len;
    return msgpack_pack_str_body(pk, s, n);
}

static int check_sizes(const proto_header_t *h, size_t body_len)
{
    if (strlen(h->origin) > PROTO_ORIGIN_MAX || strlen(h->kind) > PROTO_KIND_MAX ||
        strlen(h->date) > DATE_READ_MAX || (h->author && strlen(h->author) > PROTO_AUTHOR_MAX))
        return err_set(LD_ETOOBIG, "event: a header string is over its limit");
    if (body_len > PROTO_BODY_MAX)
        return err_set(LD_ETOOBIG, "event: body of %zu bytes, at most %d", body_len,
                       PROTO_BODY_MAX);
    if (h->seq > (uint64_t)INT64_MAX || h->hlc > (uint64_t)INT64_MAX)
        return err_set(LD_ETOOBIG, "event: seq or hlc above 2^63-1");
    return 0;
}

/* Where the encoder put each part, as offsets into the output buffer. */
typedef struct layout {
    size_t origin, prev, kind, date, author, body;  /* author: 0 when absent */
} layout_t;

static int encode(const proto_header_t *h, const uint8_t *body, size_t body_len, buf_t *out,
                  layout_t *at)
{
    int rc = check_sizes(h, body_len);
    if (rc)
        return rc;
    size_t start = out->len;
    if ((rc = buf_reserve(out, 64 + PROTO_ORIGIN_MAX + PROTO_KIND_MAX + PROTO_AUTHOR_MAX +
                                   DATE_READ_MAX + body_len)))
        return rc;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_msgpack_write);
    bool has_author = h->author && h->author[0]; /* "" and NULL both mean absent: one encoding */
    at->author = 0;
    int bad = msgpack_pack_array(&pk, EVENT_ELEMENTS) ||
              msgpack_pack_uint32(&pk, PROTO_FORMAT_VERSION) ||
              pack_cstr(&pk, out, h->origin, &at->origin) ||
              msgpack_pack_uint64(&pk, h->seq) ||
              msgpack_pack_uint64(&pk, h->hlc) ||
              msgpack_pack_bin(&pk, PROTO_HASH_LEN) ||
              (at->prev = out->len, msgpack_pack_bin_body(&pk, h->prev, PROTO_HASH_LEN)) ||
              pack_cstr(&pk, out, h->kind, &at->kind) ||
              pack_cstr(&pk, out, h->date, &at->date) ||
              (has_author ? pack_cstr(&pk, out, h->author, &at->author)
                          : msgpack_pack_nil(&pk)) ||
              (at->body = out->len, buf_append(out, body, body_len));
    if (bad) {
        out->len = start;
        return err_set(LD_ENOMEM, "event: out of memory while encoding");
    }
    return 0;
}

int proto_event_encode(const proto_header_t *h, const uint8_t *body, size_t body_len,
                       buf_t *out)
{
    layout_t at;
    return encode(h, body, body_len, out, &at);
}

void proto_checked_from(const proto_event_t *ev, proto_checked_t *out)
{
    out->schema = ev->schema;
    out->body_fields = ev->body_fields;
}

int proto_event_encode_checked(const proto_header_t *h, const uint8_t *body, size_t body_len,
                               const proto_checked_t *checked, buf_t *out, proto_event_t *ev)
{
    layout_t at;
    size_t start = out->len;
    int rc = encode(h, body, body_len, out, &at);
    if (rc)
        return rc;
    const uint8_t *d = out->data;
    *ev = (proto_event_t){
        .version = PROTO_FORMAT_VERSION,
        .origin = {(const char *)d + at.origin, (uint32_t)strlen(h->origin)},
        .seq = h->seq,
        .hlc = h->hlc,
        .prev = d + at.prev,
        .kind = {(const char *)d + at.kind, (uint32_t)strlen(h->kind)},
        .date = {(const char *)d + at.date, (uint32_t)strlen(h->date)},
        .author = {at.author ? (const char *)d + at.author : NULL,
                   at.author ? (uint32_t)strlen(h->author) : 0},
        .body = d + at.body,
        .body_len = body_len,
        .body_fields = checked->body_fields,
        .raw = d + start,
        .raw_len = out->len - start,
        .schema = checked->schema,
        .flags = 0,   /* a strict decode accepts nothing it would flag */
    };
    return 0;
}

/* ---- decoding ---- */

static int field_err(int rc, const char *name)
{
    return err_wrap(rc, "event: field '%s'", name);
}

/* A string element: read within max bytes, then checked for UTF-8. */
static int read_text(mpk_reader_t *r, const char *name, uint32_t max, mpk_str_t *out)
{
    int rc = mpk_read_str(r, max, out);
    if (rc)
        return field_err(rc, name);
    if (!mpk_utf8_valid(out->ptr, out->len))
        return err_set(LD_EPROTO, "event: field '%s': not valid UTF-8", name);
    return 0;
}

static int decode_version(mpk_reader_t *r, proto_event_t *ev)
{
    uint32_t n;
    uint64_t v;
    int rc = mpk_read_array(r, 255, &n);
    if (rc)
        return err_wrap(rc, "event");
    if (n == 0)
        return err_set(LD_EPROTO, "event: empty array");
    if ((rc = mpk_read_uint(r, &v)))
        return field_err(rc, "version");
    /* The version comes before the shape: a newer format may change it. */
    if (v != PROTO_FORMAT_VERSION)
        return err_set(LD_EVERSION, "event: format version %llu, this build reads version %d",
                       (unsigned long long)v, PROTO_FORMAT_VERSION);
    if (n != EVENT_ELEMENTS)
        return err_set(LD_EPROTO, "event: array of %u elements, expected %d", n,
                       EVENT_ELEMENTS);
    ev->version = (uint32_t)v;
    return 0;
}

static int read_counter(mpk_reader_t *r, const char *name, uint64_t *out)
{
    int rc = mpk_read_uint(r, out);
    if (rc)
        return field_err(rc, name);
    if (*out > (uint64_t)INT64_MAX)
        return err_set(LD_ETOOBIG, "event: field '%s': above 2^63-1", name);
    return 0;
}

static int decode_ids(mpk_reader_t *r, proto_event_t *ev)
{
    char tmp[64];
    int rc = read_text(r, "origin", PROTO_ORIGIN_MAX, &ev->origin);
    if (rc)
        return rc;
    if (!proto_origin_valid(ev->origin.ptr, ev->origin.len))
        return err_set(LD_ESCHEMA, "event: field 'origin': '%s' is not a valid origin "
                       "(1-%d segments of [a-z0-9_-] separated by '/')",
                       clip(ev->origin.ptr, ev->origin.len, tmp), PROTO_ORIGIN_DEPTH);
    if ((rc = read_counter(r, "seq", &ev->seq)) || (rc = read_counter(r, "hlc", &ev->hlc)))
        return rc;
    if (ev->seq == 0)
        return err_set(LD_ESCHEMA, "event: field 'seq': must be at least 1");
    if ((rc = mpk_read_bin_exact(r, PROTO_HASH_LEN, &ev->prev)))
        return field_err(rc, "prev");
    return 0;
}

static int decode_meta(mpk_reader_t *r, proto_event_t *ev)
{
    char tmp[64];
    int rc = read_text(r, "kind", PROTO_KIND_MAX, &ev->kind);
    if (rc)
        return rc;
    if (!kind_valid(ev->kind.ptr, ev->kind.len))
        return err_set(LD_ESCHEMA, "event: field 'kind': '%s' is not of the form group.name",
                       clip(ev->kind.ptr, ev->kind.len, tmp));
    if ((rc = read_text(r, "date", DATE_READ_MAX, &ev->date)))
        return rc;
    if (!proto_date_valid(ev->date.ptr, ev->date.len))
        return err_set(LD_ESCHEMA, "event: field 'date': '%s' is not a date YYYY-MM-DD "
                       "between 1949-10-01 and 2099-12-31", clip(ev->date.ptr, ev->date.len, tmp));
    mpk_type_t t;
    if ((rc = mpk_peek(r, &t)))
        return field_err(rc, "author");
    if (t == MPK_NIL) {
        ev->author = (mpk_str_t){NULL, 0};
        return mpk_read_nil(r);
    }
    if ((rc = read_text(r, "author", PROTO_AUTHOR_MAX, &ev->author)))
        return rc;
    if (ev->author.len == 0)
        return err_set(LD_EPROTO, "event: field 'author': empty (an absent author is nil)");
    return 0;
}

/* The framing of the body, whole: every value complete and canonical, at
 * most two levels of containers (a map of fields whose values may be lists),
 * within PROTO_BODY_MAX, nothing after it. */
static int body_framing(const mpk_reader_t *r, const proto_event_t *ev)
{
    mpk_reader_t w = *r;
    int rc = mpk_skip(&w, 2);
    if (rc)
        return field_err(rc, "body");
    size_t len = (size_t)(w.p - ev->body);
    if (len > PROTO_BODY_MAX)
        return err_set(LD_ETOOBIG, "event: field 'body': %zu bytes, at most %d", len,
                       PROTO_BODY_MAX);
    if (mpk_remaining(&w))
        return err_set(LD_EPROTO, "event: %zu trailing bytes after the body", mpk_remaining(&w));
    return 0;
}

static int body_schema(proto_event_t *ev, unsigned mode)
{
    bool strict = mode & PROTO_DECODE_STRICT;
    ev->schema = proto_schema_find(ev->kind.ptr, ev->kind.len);
    if (!ev->schema) {
        if (strict)
            return err_set(LD_ESCHEMA, "unknown kind '%.*s' (see `kinds`)", (int)ev->kind.len,
                           ev->kind.ptr);
        ev->flags |= PROTO_FLAG_UNKNOWN_KIND;
    }
    return proto_schema_check_body(ev->schema, ev->body, ev->body_len, strict, &ev->flags);
}

/* The body is the last element, so it runs to the end of the event, and the
 * schema check walks all of it (refusing bytes after the map): an accepted
 * body is walked once. A refused one is walked again for its framing alone,
 * because a framing fault (truncation, a float, deep nesting, trailing
 * bytes, too long) is the better reason and the one to report. */
static int decode_body(mpk_reader_t *r, proto_event_t *ev, unsigned mode)
{
    ev->body = r->p;
    ev->body_len = mpk_remaining(r);
    mpk_reader_t m = *r;
    int rc = mpk_read_map(&m, PROTO_BODY_FIELDS, &ev->body_fields);
    if (rc)
        return field_err(rc, "body");
    if (ev->body_len <= PROTO_BODY_MAX && (rc = body_schema(ev, mode)) == 0)
        return 0;
    int frc = body_framing(r, ev);
    return frc ? frc : rc;
}

int proto_event_decode(const uint8_t *raw, size_t len, unsigned mode, proto_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    if (len > PROTO_EVENT_MAX)
        return err_set(LD_ETOOBIG, "event: %zu bytes, at most %d", len, PROTO_EVENT_MAX);
    mpk_reader_t r;
    mpk_reader_init(&r, raw, len);
    int rc;
    if ((rc = decode_version(&r, ev)) || (rc = decode_ids(&r, ev)) ||
        (rc = decode_meta(&r, ev)) || (rc = decode_body(&r, ev, mode)))
        return rc;
    ev->raw = raw;
    ev->raw_len = len;
    return 0;
}

/* ---- hashing ---- */

/* BLAKE2b works without sodium_init(), but only sodium_init() selects the
 * SIMD implementation for this CPU; without it every hash runs the portable
 * one, about twice the instructions (most of the hashing in an import).
 * sodium_init() is thread-safe and idempotent but takes a lock: call it once. */
static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void sodium_setup(void)
{
    if (sodium_init() < 0)
        return; /* the portable code is still correct, only slower */
}

void proto_hash(const uint8_t *raw, size_t len, uint8_t out[PROTO_HASH_LEN])
{
    pthread_once(&sodium_once, sodium_setup);
    crypto_generichash(out, PROTO_HASH_LEN, raw, len, NULL, 0);
}

void proto_event_hash(const proto_event_t *ev, uint8_t out[PROTO_HASH_LEN])
{
    if (ev->hash)
        memcpy(out, ev->hash, PROTO_HASH_LEN);
    else
        proto_hash(ev->raw, ev->raw_len, out);
}

void proto_hash_hex(const uint8_t hash[PROTO_HASH_LEN], char out[2 * PROTO_HASH_LEN + 1])
{
    sodium_bin2hex(out, 2 * PROTO_HASH_LEN + 1, hash, PROTO_HASH_LEN);
}

/* ---- body access ---- */

int proto_body_find(const proto_event_t *ev, const char *name, mpk_reader_t *val, bool *found)
{
    mpk_reader_t r;
    mpk_reader_init(&r, ev->body, ev->body_len);
    uint32_t n;
    int rc = mpk_read_map(&r, PROTO_BODY_FIELDS, &n);
    *found = false;
    for (uint32_t i = 0; !rc && i < n; i++) {
        mpk_str_t key;
        if ((rc = mpk_read_str(&r, UINT32_MAX, &key)))
            break;
        if (mpk_str_eq(key, name)) {
            *val = r;
            *found = true;
            return 0;
        }
        rc = mpk_skip(&r, 1);
    }
    return rc;
}

mpk_str_t proto_body_str(const proto_event_t *ev, const char *name)
{
    mpk_str_t s = {NULL, 0};
    mpk_reader_t r;
    mpk_type_t t;
    bool found;
    if (proto_body_find(ev, name, &r, &found) || !found || mpk_peek(&r, &t) || t != MPK_STR ||
        mpk_read_str(&r, UINT32_MAX, &s))
        return (mpk_str_t){NULL, 0};
    return s;
}
