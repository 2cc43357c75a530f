/*
 * buf.h -- a growable byte buffer, the one way bytes are accumulated here
 * (encoded events, batches, file contents).
 *
 * A buf_t is a plain value: zero-initialise it (BUF_INIT) or call buf_init();
 * release with buf_free(). Growth failures return LD_ENOMEM and leave the
 * buffer unchanged. Not thread-safe; owned by its caller.
 */
#ifndef LD_COMMON_BUF_H
#define LD_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} buf_t;

#define BUF_INIT {NULL, 0, 0}

static inline void buf_init(buf_t *b) { b->data = NULL; b->len = b->cap = 0; }
/* Ensures room for `extra` more bytes. */
int buf_reserve(buf_t *b, size_t extra);
int buf_append(buf_t *b, const void *data, size_t len);
/* Appends a printf-formatted string without its NUL. */
int buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void buf_reset(buf_t *b) { b->len = 0; }
void buf_free(buf_t *b);

/* msgpack-c packer write callback: msgpack_packer_init(&pk, buf, buf_msgpack_write). */
int buf_msgpack_write(void *data, const char *bytes, size_t len);

/* Reads a whole file (at most max bytes, else LD_ETOOBIG) into b. */
int buf_read_file(buf_t *b, const char *path, size_t max);

#endif
