/*
 * vv.h -- a version vector in memory: origin -> highest contiguous seq.
 *
 * A sorted array with binary search: the vectors a link handles hold tens
 * to a few thousand origins, where this beats a hash table and iterates in
 * the same (origin) order as the store's heads. A vv_t is a plain value
 * (VV_INIT / vv_free); origin strings are copied in. Not thread-safe.
 */
#ifndef LD_COMMON_VV_H
#define LD_COMMON_VV_H

#include <stddef.h>
#include <stdint.h>

typedef struct vv_entry {
    char *origin;
    uint64_t seq;
} vv_entry_t;

typedef struct vv {
    vv_entry_t *e;
    size_t n, cap;
} vv_t;

#define VV_INIT {NULL, 0, 0}

/* 0 if the origin is absent. */
uint64_t vv_get(const vv_t *v, const char *origin, size_t len);
/* Sets the entry to seq (adds it if absent). */
int vv_set(vv_t *v, const char *origin, size_t len, uint64_t seq);
/* Sets it to max(current, seq). */
int vv_raise(vv_t *v, const char *origin, size_t len, uint64_t seq);
int vv_copy(vv_t *dst, const vv_t *src);
void vv_clear(vv_t *v);
void vv_free(vv_t *v);

#endif
