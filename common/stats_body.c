/*
 * stats_body.c -- the statistics indexer reads an event's body once, into
 * the few fields the figures use (stats_body_t). This runs for every event
 * at every level, so the common cases (short strings, small integers) take a
 * fast path over the msgpack bytes, which the decoder has validated already;
 * anything else goes through the mpk reader.
 */
#include "common/stats_int.h"

#include "common/err.h"
#include "proto/mpk.h"



static void bg_item(stats_body_t *b, mpk_str_t s)
{
    static const char *const law[] = {"law", "legal", "法律"};
    static const char *const fin[] = {"finance", "financial", "accounting", "金融", "财务",
                                      "财会"};
    for (size_t i = 0; i < sizeof law / sizeof *law; i++)
        if (mpk_str_eq(s, law[i]))
            b->bg |= 1;
    for (size_t i = 0; i < sizeof fin / sizeof *fin; i++)
        if (mpk_str_eq(s, fin[i]))
            b->bg |= 2;
}

/* The body fields the figures read, by name: a switch on the length
 * first, since this runs for every field of every event. */

static int field_id(mpk_str_t k)
{
#define IS(s) (memcmp(k.ptr, s, sizeof s - 1) == 0)
    switch (k.len) {
    case 2: return IS("id") ? B_ID : B_NONE;
    case 3: return IS("due") ? B_DUE : B_NONE;
    case 4: return IS("name") ? B_NAME : IS("type") ? B_TYPE : IS("term") ? B_TERM : B_NONE;
    case 5: return IS("level") ? B_LEVEL : IS("score") ? B_SCORE : IS("joint") ? B_JOINT
                 : IS("scope") ? B_SCOPE : B_NONE;
    case 6: return IS("deputy") ? B_DEPUTY : IS("rating") ? B_RATING : IS("status") ? B_STATUS
                 : IS("reason") ? B_REASON : IS("target") ? B_TARGET : B_NONE;
    case 7: return IS("finding") ? B_FINDING : B_NONE;
    case 8: return IS("category") ? B_CATEGORY : B_NONE;
    case 10: return IS("suggestion") ? B_SUGGESTION : IS("background") ? B_BACKGROUND : B_NONE;
    case 12: return IS("constituents") ? B_CONSTITUENTS : B_NONE;
    default: return B_NONE;
    }
#undef IS
}

static const size_t str_off[] = {
        [B_DEPUTY] = offsetof(stats_body_t, deputy),
        [B_SUGGESTION] = offsetof(stats_body_t, suggestion),
        [B_RATING] = offsetof(stats_body_t, rating), [B_STATUS] = offsetof(stats_body_t, status),
        [B_REASON] = offsetof(stats_body_t, reason), [B_LEVEL] = offsetof(stats_body_t, level),
        [B_CATEGORY] = offsetof(stats_body_t, category), [B_TERM] = offsetof(stats_body_t, term),
        [B_TARGET] = offsetof(stats_body_t, target), [B_ID] = offsetof(stats_body_t, id),
        [B_NAME] = offsetof(stats_body_t, name), [B_TYPE] = offsetof(stats_body_t, type),
        [B_JOINT] = offsetof(stats_body_t, joint), [B_FINDING] = offsetof(stats_body_t, finding),
        [B_DUE] = offsetof(stats_body_t, due),
};

static void read_value_str(stats_body_t *b, int id, mpk_str_t v)
{
    *(mpk_str_t *)(void *)((char *)b + str_off[id]) = v;
}

static int read_value(stats_body_t *b, int id, mpk_reader_t *r)
{
    mpk_type_t t;
    int rc = mpk_peek(r, &t);
    if (rc)
        return rc;
    if (id >= B_DEPUTY && id <= B_DUE && t == MPK_STR)
        return mpk_read_str(r, UINT32_MAX, (mpk_str_t *)(void *)((char *)b + str_off[id]));
    if ((id == B_SCORE || id == B_CONSTITUENTS) && (t == MPK_UINT || t == MPK_INT)) {
        int64_t v;
        if ((rc = mpk_read_int(r, &v)))
            return rc;
        if (id == B_SCORE) {
            b->score = v;
            b->has_score = true;
        } else {
            b->constituents = v;
        }
        return 0;
    }
    if (id == B_SCOPE && t == MPK_ARRAY) {
        b->scope = *r;
        b->has_scope = true;
    } else if (id == B_BACKGROUND && t == MPK_ARRAY) {
        mpk_reader_t a = *r;
        uint32_t n;
        b->has_bg = true;
        if ((rc = mpk_read_array(&a, 64, &n)))
            return rc;
        for (uint32_t i = 0; i < n; i++) {
            mpk_str_t s;
            if (mpk_read_str(&a, UINT32_MAX, &s))
                break;
            bg_item(b, s);
        }
    }
    return mpk_skip(r, 4);
}

/* Fast paths over the body's msgpack for the common cases (strings and
 * non-negative integers): the decoder has validated every byte already, so
 * only bounds are checked here. Anything else goes through the mpk reader. */
static bool fast_str(const uint8_t **p, const uint8_t *end, mpk_str_t *out)
{
    const uint8_t *q = *p;
    uint32_t n;
    if (q >= end)
        return false;
    if ((*q & 0xe0) == 0xa0) {
        n = *q & 0x1f;
        q += 1;
    } else if (*q == 0xd9 && end - q >= 2) {
        n = q[1];
        q += 2;
    } else if (*q == 0xda && end - q >= 3) {
        n = (uint32_t)q[1] << 8 | q[2];
        q += 3;
    } else {
        return false;
    }
    if ((size_t)(end - q) < n)
        return false;
    out->ptr = (const char *)q;
    out->len = n;
    *p = q + n;
    return true;
}

static bool fast_uint(const uint8_t **p, const uint8_t *end, int64_t *v)
{
    const uint8_t *q = *p;
    if (q < end && *q < 0x80) {
        *v = *q;
        *p = q + 1;
    } else if (q + 1 < end && *q == 0xcc) {
        *v = q[1];
        *p = q + 2;
    } else if (q + 2 < end && *q == 0xcd) {
        *v = (int64_t)q[1] << 8 | q[2];
        *p = q + 3;
    } else {
        return false;
    }
    return true;
}

int stats_body_read(const proto_event_t *ev, stats_body_t *b, uint32_t want)
{
    uint32_t found = 0;
    memset(b, 0, sizeof *b);
    mpk_reader_t r;
    mpk_reader_init(&r, ev->body, ev->body_len);
    uint32_t n;
    int rc = mpk_read_map(&r, PROTO_BODY_FIELDS, &n);
    for (uint32_t i = 0; !rc && i < n; i++) {
        mpk_str_t key, sv;
        int64_t iv;
        if (!fast_str(&r.p, r.end, &key) && (rc = mpk_read_str(&r, UINT32_MAX, &key)))
            break;
        int id = field_id(key);
        const uint8_t *at = r.p;
        /* Keys are in canonical order: once every wanted field is read, stop. */
        found |= 1u << id;
        if (id != B_NONE && (found & want) == want)
            n = i + 1;
        if (id == B_NONE || (id >= B_DEPUTY && id <= B_DUE)) {
            if (fast_str(&r.p, r.end, &sv)) {
                if (id != B_NONE)
                    read_value_str(b, id, sv);
                continue;
            }
            if (id == B_NONE && fast_uint(&r.p, r.end, &iv))
                continue;
        } else if ((id == B_SCORE || id == B_CONSTITUENTS) && fast_uint(&r.p, r.end, &iv)) {
            if (id == B_SCORE) {
                b->score = iv;
                b->has_score = true;
            } else {
                b->constituents = iv;
            }
            continue;
        }
        r.p = at;
        rc = read_value(b, id, &r);
    }
    return rc ? err_set(LD_ECORRUPT, "statistics: an event body does not read back") : 0;
}
