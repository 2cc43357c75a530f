/* buf.c -- growable byte buffer; see buf.h. */
#include "common/buf.h"
#include "common/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int buf_reserve(buf_t *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len)
        return err_set(LD_ENOMEM, "buffer of %zu bytes too large", b->len + extra);
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return err_set(LD_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return 0;
}

int buf_append(buf_t *b, const void *data, size_t len)
{
    int rc = buf_reserve(b, len);
    if (rc)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

int buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return err_set(LD_EINVAL, "bad format string");
    int rc = buf_reserve(b, (size_t)n + 1);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void buf_free(buf_t *b)
{
    free(b->data);
    buf_init(b);
}

int buf_msgpack_write(void *data, const char *bytes, size_t len)
{
    return buf_append((buf_t *)data, bytes, len) ? -1 : 0;
}

int buf_read_file(buf_t *b, const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(err_from_errno(errno), "%s: %s", path, strerror(errno));
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b->len + n > max) {
            rc = err_set(LD_ETOOBIG, "%s: larger than %zu bytes", path, max);
            break;
        }
        if ((rc = buf_append(b, chunk, n)))
            break;
    }
    if (!rc && ferror(f))
        rc = err_set(err_from_errno(errno), "%s: read failed: %s", path, strerror(errno));
    fclose(f);
    return rc;
}
