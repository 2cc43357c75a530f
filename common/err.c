/*
 * err.c -- thread-local detail messages and one strerror for every code
 * range the project meets (errno, LMDB, ZeroMQ, our own).
 */
#include "common/err.h"

#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

static _Thread_local char err_buf[512];

int err_setv(int rc, const char *fmt, va_list ap)
{
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    return rc;
}

int err_set(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_setv(rc, fmt, ap);
    va_end(ap);
    return rc;
}

int err_wrap(int rc, const char *fmt, ...)
{
    char msg[sizeof err_buf];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
    const char *old = err_buf[0] ? err_buf : err_str(rc);
    /* "PREFIX: OLD", cut to fit; built by hand because it reads err_buf. */
    size_t room = sizeof msg - 1 - len;
    size_t olen = strlen(old);
    if (room > 2) {
        memcpy(msg + len, ": ", 2);
        len += 2;
        room -= 2;
        if (olen > room)
            olen = room;
        memmove(msg + len, old, olen);
        len += olen;
    }
    msg[len] = '\0';
    memcpy(err_buf, msg, len + 1);
    return rc;
}

const char *err_msg(void) { return err_buf; }

void err_clear(void) { err_buf[0] = '\0'; }

static const char *ld_text(int rc)
{
    switch (rc) {
    case LD_EINVAL:    return "invalid argument";
    case LD_EPROTO:    return "malformed message";
    case LD_ETOOBIG:   return "over a size limit";
    case LD_ESCHEMA:   return "schema violation";
    case LD_EVERSION:  return "unknown format version";
    case LD_EEXIST:    return "already exists";
    case LD_ENOTFOUND: return "not found";
    case LD_ECHAIN:    return "hash chain broken";
    case LD_EEQUIV:    return "equivocation (same origin and seq, different content)";
    case LD_EORIGIN:   return "origin not allowed";
    case LD_ECONFIG:   return "bad configuration";
    case LD_ENOSPACE:  return "disk full";
    case LD_ECORRUPT:  return "stored data is corrupt";
    case LD_ETIMEOUT:  return "timed out";
    case LD_EUNREACH:  return "peer unreachable";
    case LD_EDENIED:   return "access denied";
    case LD_ENOMEM:    return "out of memory";
    case LD_EFAULT:    return "injected fault";
    default:           return NULL;
    }
}

const char *err_str(int rc)
{
    if (rc == 0)
        return "success";
    const char *t = ld_text(rc);
    if (t)
        return t;
    if (rc >= MDB_KEYEXIST && rc <= MDB_LAST_ERRCODE)
        return mdb_strerror(rc);
    if (rc < 0 && rc > -4096)
        return strerror(-rc);
    if (rc < 0 && -rc > ZMQ_HAUSNUMERO)
        return zmq_strerror(-rc);
    return "unknown error";
}
