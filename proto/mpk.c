/*
 * mpk.c -- the strict msgpack reader behind every decoder in proto/.
 *
 * It reads exactly one encoding per value (the shortest one, as msgpack-c's
 * packer writes it) and refuses everything else, so that equal events have
 * equal bytes and therefore equal hashes. Every length is checked against
 * the bytes actually left before anything is read or looped over; nothing
 * here allocates or reads past `end`. See mpk.h for the rules.
 */
#include "proto/mpk.h"

#include "common/err.h"

#include <string.h>

/* Describes a msgpack value by its first byte, for error messages. */
static const char *tag_name(uint8_t b)
{
    if (b <= 0x7f || (b >= 0xcc && b <= 0xd3) || b >= 0xe0)
        return "an integer";
    if (b <= 0x8f || b == 0xde || b == 0xdf)
        return "a map";
    if (b <= 0x9f || b == 0xdc || b == 0xdd)
        return "an array";
    if (b <= 0xbf || (b >= 0xd9 && b <= 0xdb))
        return "a string";
    switch (b) {
    case 0xc0: return "nil";
    case 0xc1: return "the never-used byte 0xc1";
    case 0xc2: case 0xc3: return "a boolean";
    case 0xc4: case 0xc5: case 0xc6: return "binary";
    case 0xca: case 0xcb: return "a float";
    default: return "an extension type";
    }
}

static int type_error(const mpk_reader_t *r, const char *want)
{
    return err_set(LD_EPROTO, "expected %s, found %s", want, tag_name(*r->p));
}

static int need(const mpk_reader_t *r, size_t n)
{
    if (mpk_remaining(r) >= n)
        return 0;
    return err_set(LD_EPROTO, "truncated: needs %zu more bytes, %zu left", n,
                   mpk_remaining(r));
}

static uint64_t load_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* The type of every first byte: a peek precedes nearly every read. */
#define U MPK_UINT
#define I MPK_INT
#define M MPK_MAP
#define A MPK_ARRAY
#define S MPK_STR
#define N MPK_NIL
#define B MPK_BOOL
#define X MPK_BIN
#define O MPK_OTHER
static const uint8_t type_of[256] = {
    U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,  /* 00 */
    U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,  /* 10 */
    U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,  /* 20 */
    U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,  /* 30 */
    U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,  /* 40 */
    U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,  /* 50 */
    U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,  /* 60 */
    U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,  /* 70 */
    M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,  /* 80 */
    A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,  /* 90 */
    S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S,  /* A0 */
    S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S,  /* B0 */
    N, O, B, B, X, X, X, O, O, O, O, O, U, U, U, U,  /* C0 */
    I, I, I, I, O, O, O, O, O, S, S, S, A, A, M, M,  /* D0 */
    I, I, I, I, I, I, I, I, I, I, I, I, I, I, I, I,  /* E0 */
    I, I, I, I, I, I, I, I, I, I, I, I, I, I, I, I,  /* F0 */
};
#undef U
#undef I
#undef M
#undef A
#undef S
#undef N
#undef B
#undef X
#undef O

int mpk_peek(const mpk_reader_t *r, mpk_type_t *type)
{
    if (r->p >= r->end)
        return err_set(LD_EPROTO, "unexpected end of input");
    *type = (mpk_type_t)type_of[*r->p];
    return 0;
}

int mpk_read_nil(mpk_reader_t *r)
{
    int rc = need(r, 1);
    if (rc)
        return rc;
    if (*r->p != 0xc0)
        return type_error(r, "nil");
    r->p++;
    return 0;
}

int mpk_read_bool(mpk_reader_t *r, bool *out)
{
    int rc = need(r, 1);
    if (rc)
        return rc;
    if (*r->p != 0xc2 && *r->p != 0xc3)
        return type_error(r, "a boolean");
    *out = *r->p == 0xc3;
    r->p++;
    return 0;
}

/* Reads any canonical integer: *neg tells whether it landed in *s (negative)
 * or in *u (non-negative). Each wider form is accepted only for values the
 * narrower forms cannot hold, and non-negative values only as unsigned. */
static int read_integer(mpk_reader_t *r, bool *neg, uint64_t *u, int64_t *s)
{
    static const int width[4] = {1, 2, 4, 8};
    int rc = need(r, 1);
    if (rc)
        return rc;
    uint8_t b = *r->p;
    *neg = false;
    if (b <= 0x7f || b >= 0xe0) {
        *neg = b >= 0xe0;
        *u = b;
        *s = (int8_t)b;
        r->p++;
        return 0;
    }
    bool is_uint = b >= 0xcc && b <= 0xcf, is_sint = b >= 0xd0 && b <= 0xd3;
    if (!is_uint && !is_sint)
        return type_error(r, "an integer");
    int n = width[b & 3];
    if ((rc = need(r, 1 + (size_t)n)))
        return rc;
    uint64_t raw = load_be(r->p + 1, n);
    if (is_uint) {
        static const uint64_t min[4] = {0x80, 0x100, 0x10000, 0x100000000ull};
        if (raw < min[b & 3])
            return err_set(LD_EPROTO, "non-canonical integer: %llu in %d bytes",
                           (unsigned long long)raw, n);
        *u = raw;
    } else {
        int64_t v = n == 1 ? (int8_t)raw : n == 2 ? (int16_t)raw
                  : n == 4 ? (int32_t)raw : (int64_t)raw;
        static const int64_t lim[4] = {-32, -128, -32768, -2147483648LL};
        if (v >= lim[b & 3])
            return err_set(LD_EPROTO, "non-canonical integer: %lld in %d bytes",
                           (long long)v, n);
        *neg = true;
        *s = v;
    }
    r->p += 1 + n;
    return 0;
}

int mpk_read_uint(mpk_reader_t *r, uint64_t *out)
{
    bool neg;
    uint64_t u = 0; /* read_integer sets it on success; -O3 cannot see that err_set is never 0 */
    int64_t s;
    int rc = read_integer(r, &neg, &u, &s);
    if (rc)
        return rc;
    if (neg)
        return err_set(LD_EPROTO, "expected a non-negative integer, found %lld", (long long)s);
    *out = u;
    return 0;
}

int mpk_read_int(mpk_reader_t *r, int64_t *out)
{
    bool neg;
    uint64_t u = 0; /* read_integer sets it on success; -O3 cannot see that err_set is never 0 */
    int64_t s;
    int rc = read_integer(r, &neg, &u, &s);
    if (rc)
        return rc;
    if (!neg && u > (uint64_t)INT64_MAX)
        return err_set(LD_ETOOBIG, "integer %llu is larger than 2^63-1", (unsigned long long)u);
    *out = neg ? s : (int64_t)u;
    return 0;
}

/* The headers of the four length-prefixed families. `fix_mask` is zero when
 * the family has no fix form; a zero tag means no such form. min16/min32 are
 * the smallest lengths the 16/32-bit forms may carry (anything smaller has a
 * shorter form and is therefore not canonical). */
typedef struct family {
    const char *what, *noun;
    uint8_t fix_base, fix_mask, t8, t16, t32;
    uint32_t min8, min16;
} family_t;

static const family_t fam_str = {"a string", "string", 0xa0, 0x1f, 0xd9, 0xda, 0xdb, 32, 256};
static const family_t fam_bin = {"binary", "binary", 0, 0, 0xc4, 0xc5, 0xc6, 0, 256};
static const family_t fam_array = {"an array", "array", 0x90, 0x0f, 0, 0xdc, 0xdd, 0, 16};
static const family_t fam_map = {"a map", "map", 0x80, 0x0f, 0, 0xde, 0xdf, 0, 16};

static int read_header_slow(mpk_reader_t *r, const family_t *f, uint32_t *len)
{
    int rc = need(r, 1);
    if (rc)
        return rc;
    uint8_t b = *r->p;
    int n;
    uint32_t min;
    if (f->fix_mask && (b & (uint8_t)~f->fix_mask) == f->fix_base) {
        *len = b & f->fix_mask;
        r->p++;
        return 0;
    }
    if (f->t8 && b == f->t8)
        n = 1, min = f->min8;
    else if (b == f->t16)
        n = 2, min = f->min16;
    else if (b == f->t32)
        n = 4, min = 65536;
    else
        return type_error(r, f->what);
    if ((rc = need(r, 1 + (size_t)n)))
        return rc;
    *len = (uint32_t)load_be(r->p + 1, n);
    if (*len < min)
        return err_set(LD_EPROTO, "non-canonical header: %s of length %u with a %d-byte length",
                       f->noun, *len, n);
    r->p += 1 + n;
    return 0;
}

/* The fix and 8-bit forms, which nearly every header we read has (field
 * names, Chinese text, hashes, events in a batch), inline where the family
 * is a constant; everything else, and every error, in read_header_slow. */
static inline int read_header(mpk_reader_t *r, const family_t *f, uint32_t *len)
{
    if (r->end - r->p >= 2) {
        uint8_t b = *r->p;
        if (f->fix_mask && (b & (uint8_t)~f->fix_mask) == f->fix_base) {
            *len = b & f->fix_mask;
            r->p++;
            return 0;
        }
        if (f->t8 && b == f->t8 && r->p[1] >= f->min8) {
            *len = r->p[1];
            r->p += 2;
            return 0;
        }
    }
    return read_header_slow(r, f, len);
}

int mpk_read_str(mpk_reader_t *r, uint32_t max_len, mpk_str_t *out)
{
    uint32_t len = 0; /* see mpk_read_uint */
    int rc = read_header(r, &fam_str, &len);
    if (rc)
        return rc;
    if (len > max_len)
        return err_set(LD_ETOOBIG, "string of %u bytes, at most %u allowed", len, max_len);
    if ((rc = need(r, len)))
        return rc;
    out->ptr = (const char *)r->p;
    out->len = len;
    r->p += len;
    return 0;
}

int mpk_read_bin(mpk_reader_t *r, uint32_t max_len, const uint8_t **out, uint32_t *len)
{
    int rc = read_header(r, &fam_bin, len);
    if (rc)
        return rc;
    if (*len > max_len)
        return err_set(LD_ETOOBIG, "binary of %u bytes, at most %u allowed", *len, max_len);
    if ((rc = need(r, *len)))
        return rc;
    *out = r->p;
    r->p += *len;
    return 0;
}

int mpk_read_bin_exact(mpk_reader_t *r, uint32_t len, const uint8_t **out)
{
    uint32_t got = 0; /* see mpk_read_uint */
    int rc = read_header(r, &fam_bin, &got);
    if (rc)
        return rc;
    if (got != len)
        return err_set(LD_EPROTO, "expected %u bytes of binary, found %u", len, got);
    if ((rc = need(r, len)))
        return rc;
    *out = r->p;
    r->p += len;
    return 0;
}

/* Shared by array and map: `per` is the number of values per counted item. */
static int read_count(mpk_reader_t *r, const family_t *f, uint32_t per, uint32_t max_count,
                      uint32_t *count)
{
    int rc = read_header(r, f, count);
    if (rc)
        return rc;
    if (*count > max_count)
        return err_set(LD_ETOOBIG, "%s of %u elements, at most %u allowed", f->noun, *count,
                       max_count);
    if ((uint64_t)*count * per > mpk_remaining(r))
        return err_set(LD_EPROTO, "truncated: %s of %u elements but only %zu bytes left",
                       f->noun, *count, mpk_remaining(r));
    return 0;
}

int mpk_read_array(mpk_reader_t *r, uint32_t max_count, uint32_t *count)
{
    return read_count(r, &fam_array, 1, max_count, count);
}

int mpk_read_map(mpk_reader_t *r, uint32_t max_count, uint32_t *count)
{
    return read_count(r, &fam_map, 2, max_count, count);
}

/* Every element consumes at least one byte, so the total work is bounded by
 * the input length; the recursion is bounded by max_depth. */
int mpk_skip(mpk_reader_t *r, int max_depth)
{
    mpk_type_t t = MPK_OTHER; /* see mpk_read_uint */
    int rc = mpk_peek(r, &t);
    if (rc)
        return rc;
    uint32_t n, per = 1;
    switch (t) {
    case MPK_NIL: return mpk_read_nil(r);
    case MPK_BOOL: { bool b; return mpk_read_bool(r, &b); }
    case MPK_UINT: { uint64_t u; return mpk_read_uint(r, &u); }
    case MPK_INT: { int64_t s; return mpk_read_int(r, &s); }
    case MPK_STR: { mpk_str_t s; return mpk_read_str(r, UINT32_MAX, &s); }
    case MPK_BIN: { const uint8_t *b; return mpk_read_bin(r, UINT32_MAX, &b, &n); }
    case MPK_OTHER: return type_error(r, "nil, a boolean, an integer, a string, binary, an array or a map");
    case MPK_ARRAY: rc = mpk_read_array(r, UINT32_MAX, &n); break;
    case MPK_MAP: rc = mpk_read_map(r, UINT32_MAX, &n); per = 2; break;
    }
    if (rc)
        return rc;
    if (max_depth < 1)
        return err_set(LD_ETOOBIG, "containers nested too deeply");
    for (uint64_t i = 0; i < (uint64_t)n * per; i++)
        if ((rc = mpk_skip(r, max_depth - 1)))
            return rc;
    return 0;
}

/* Byte loops, not memcmp/strlen: these compare field names and enum
 * values of a few bytes, where a libc call costs more than the loop. */
bool mpk_str_less(mpk_str_t a, mpk_str_t b)
{
    uint32_t n = a.len < b.len ? a.len : b.len;
    for (uint32_t i = 0; i < n; i++)
        if (a.ptr[i] != b.ptr[i])
            return (uint8_t)a.ptr[i] < (uint8_t)b.ptr[i];
    return a.len < b.len;
}

bool mpk_str_eq(mpk_str_t a, const char *s)
{
    for (uint32_t i = 0; i < a.len; i++)
        if (!s[i] || s[i] != a.ptr[i])
            return false;
    return s[a.len] == '\0';
}

/* Follows the Unicode table of well-formed byte sequences (Unicode 15,
 * table 3-7): the second byte's range depends on the first, which is what
 * excludes overlongs (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and
 * code points above U+10FFFF (F4 90.., F5..FF). */
bool mpk_utf8_valid(const char *str, size_t len)
{
    const uint8_t *s = (const uint8_t *)str, *end = s + len;
    while (s < end) {
        uint8_t c = *s;
        if (c < 0x80) {
            /* ASCII: eight bytes at a time while there are eight */
            s++;
            while (end - s >= 8) {
                uint64_t w;
                memcpy(&w, s, 8);
                if (w & 0x8080808080808080ull)
                    break;
                s += 8;
            }
            continue;
        }
        if (c >= 0xe1 && c <= 0xef && c != 0xed) {
            /* Three bytes with no restriction on the second (E1..EC, EE, EF):
             * all of CJK, most of what this product stores. */
            if (end - s < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
                return false;
            s += 3;
            continue;
        }
        int n;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf)
            n = 1;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        else
            return false;
        if (end - s <= n)
            return false;
        if (s[1] < lo || s[1] > hi)
            return false;
        for (int i = 2; i <= n; i++)
            if (s[i] < 0x80 || s[i] > 0xbf)
                return false;
        s += n + 1;
    }
    return true;
}
