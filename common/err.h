/*
 * err.h -- one error convention for the whole project.
 *
 * Every fallible function returns 0 on success or a negative code. The code
 * says what kind of failure it was; err_msg() says, in one line a user can
 * act on, what exactly failed ("line 7: field 'severity': 'urgent' is not
 * one of low, medium, high").
 *
 * Code ranges (all negative):
 *   -1 .. -4095          negated errno values (ENOENT, ENOSPC, ...)
 *   -30799 .. -30780     LMDB's own codes (MDB_KEYEXIST ...), passed through
 *   LD_E*  (-20000 ..)   this project's codes below
 *   -(ZMQ errno)         ZeroMQ codes, negated (they live above 156384712)
 * err_str() knows all four.
 *
 * The detail message is thread-local and belongs to the most recent err_set()
 * in this thread; a function that returns an error without calling err_set()
 * leaves it stale, so callers print err_msg() only right after a failure
 * from a function documented to set it (the LD_E* producers all do).
 * Per STYLE item 8, modules do not log the errors they return.
 */
#ifndef LD_COMMON_ERR_H
#define LD_COMMON_ERR_H

#include <stdarg.h>

enum {
    LD_EINVAL    = -20001, /* bad argument or bad user input */
    LD_EPROTO    = -20002, /* malformed bytes: not valid msgpack or not our format */
    LD_ETOOBIG   = -20003, /* over a size or count limit */
    LD_ESCHEMA   = -20004, /* well-formed but violates the schema table */
    LD_EVERSION  = -20005, /* unknown format version */
    LD_EEXIST    = -20006, /* already there (init into a used directory, ...) */
    LD_ENOTFOUND = -20007, /* no such origin/event/key */
    LD_ECHAIN    = -20008, /* prev hash does not match the chain */
    LD_EEQUIV    = -20009, /* same (origin, seq), different bytes: equivocation */
    LD_EORIGIN   = -20010, /* origin not allowed here (forged, out of subtree) */
    LD_ECONFIG   = -20011, /* config file missing or malformed */
    LD_ENOSPACE  = -20012, /* disk full: write refused, nothing lost */
    LD_ECORRUPT  = -20013, /* stored data fails its own invariants */
    LD_ETIMEOUT  = -20014, /* an operation ran out of time */
    LD_EUNREACH  = -20015, /* peer not reachable */
    LD_EDENIED   = -20016, /* authentication or authorisation refused */
    LD_ENOMEM    = -20017, /* allocation failed */
    LD_EFAULT    = -20018  /* injected fault (tests only) */
};

/* Records a detail message for the calling thread and returns rc, so that a
 * failure reads `return err_set(LD_ESCHEMA, "field '%s' ...", name);`. */
int err_set(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int err_setv(int rc, const char *fmt, va_list ap);

/* Prefixes the current detail message with "PREFIX: " and returns rc;
 * used to add context on the way up (e.g. the line number of an import). */
int err_wrap(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The calling thread's last detail message; "" if none. Valid until the next
 * err_set()/err_wrap() in this thread. */
const char *err_msg(void);

/* Clears the detail message of this thread. */
void err_clear(void);

/* Static text for any code described above; never NULL. */
const char *err_str(int rc);

/* Converts a zmq_errno()/errno value into this convention: -e. */
static inline int err_from_errno(int e) { return e > 0 ? -e : LD_EINVAL; }

#endif
