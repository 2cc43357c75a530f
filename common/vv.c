/*
 * vv.c -- the in-memory version vector: a sorted array searched by
 * bisection. Origins are ordered bytewise, a shorter origin before a longer
 * one it prefixes, which is the order of LMDB's default key comparison and
 * therefore of the store's heads. See vv.h.
 */
#include "common/vv.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* <0, 0, >0 as the entry's origin sorts before, equal to, after (s, len). */
static int cmp(const vv_entry_t *e, const char *s, size_t len)
{
    size_t elen = strlen(e->origin), n = elen < len ? elen : len;
    int c = n ? memcmp(e->origin, s, n) : 0;
    if (c)
        return c;
    return elen < len ? -1 : elen > len;
}

/* Index of the origin if present (*found), else where it would go. */
static size_t find(const vv_t *v, const char *origin, size_t len, bool *found)
{
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp(&v->e[mid], origin, len);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

uint64_t vv_get(const vv_t *v, const char *origin, size_t len)
{
    bool found;
    size_t i = find(v, origin, len, &found);
    return found ? v->e[i].seq : 0;
}

/* Inserts a new entry at i. */
static int insert(vv_t *v, size_t i, const char *origin, size_t len, uint64_t seq)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        vv_entry_t *e = realloc(v->e, cap * sizeof *e);
        if (!e)
            return err_set(LD_ENOMEM, "out of memory growing a version vector");
        v->e = e;
        v->cap = cap;
    }
    char *copy = strndup(origin, len);
    if (!copy)
        return err_set(LD_ENOMEM, "out of memory copying an origin");
    memmove(&v->e[i + 1], &v->e[i], (v->n - i) * sizeof *v->e);
    v->e[i] = (vv_entry_t){copy, seq};
    v->n++;
    return 0;
}

static int update(vv_t *v, const char *origin, size_t len, uint64_t seq, bool raise_only)
{
    bool found;
    size_t i = find(v, origin, len, &found);
    if (!found)
        return insert(v, i, origin, len, seq);
    if (!raise_only || seq > v->e[i].seq)
        v->e[i].seq = seq;
    return 0;
}

int vv_set(vv_t *v, const char *origin, size_t len, uint64_t seq)
{
    return update(v, origin, len, seq, false);
}

int vv_raise(vv_t *v, const char *origin, size_t len, uint64_t seq)
{
    return update(v, origin, len, seq, true);
}

int vv_copy(vv_t *dst, const vv_t *src)
{
    if (dst == src)
        return 0;
    vv_clear(dst);
    if (src->n > dst->cap) {
        vv_entry_t *e = realloc(dst->e, src->n * sizeof *e);
        if (!e)
            return err_set(LD_ENOMEM, "out of memory copying a version vector");
        dst->e = e;
        dst->cap = src->n;
    }
    for (size_t i = 0; i < src->n; i++) {
        char *copy = strdup(src->e[i].origin);
        if (!copy) {
            vv_clear(dst);
            return err_set(LD_ENOMEM, "out of memory copying an origin");
        }
        dst->e[i] = (vv_entry_t){copy, src->e[i].seq};
        dst->n = i + 1;
    }
    return 0;
}

void vv_clear(vv_t *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->e[i].origin);
    v->n = 0;
}

void vv_free(vv_t *v)
{
    vv_clear(v);
    free(v->e);
    *v = (vv_t)VV_INIT;
}
