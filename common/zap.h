/*
 * zap.h -- the ZAP handler (ZeroMQ RFC 27) that decides which CurveZMQ keys
 * a hub accepts, and names each accepted peer by its origin id.
 *
 * libzmq asks the handler bound to inproc://zeromq.zap.01 in the socket's
 * context about every incoming connection on a CURVE server socket. This one
 * holds an allow table (public key -> origin id such as "hrb/wuchang/shanhe")
 * and answers 200 with User-Id = that origin for an allowed key, so every
 * message from that peer carries its origin as "User-Id" metadata
 * (zloop_msg_user_id(), zmq_msg_gets()). Unknown keys, other mechanisms
 * (NULL, PLAIN) and requests for another ZAP domain get 400, are counted and
 * the last refused key is kept for logs. It runs on the hub's libuv loop
 * through common/zloop.
 *
 * SECURITY CAVEATS (libzmq 4.3):
 *  - With NO handler bound in the context, a CURVE server admits every
 *    client key (the "Stonehouse" legacy behaviour; ZMQ_ZAP_ENFORCE_DOMAIN,
 *    which would close that, is a draft option). So start the handler before
 *    binding the sockets it guards and close it only after closing them.
 *    zap_guard() enables ZMQ_ZAP_ENFORCE_DOMAIN when this libzmq has it.
 *  - ZAP runs once per connection, at the handshake. zap_deny() refuses new
 *    connections but does not cut open ones: the sync code should check each
 *    message's User-Id with zap_origin_allowed() as well.
 *
 * Lifecycle (libuv's): the caller allocates the zap_t; zap_init(loop, z,
 * zctx) creates and binds the handler socket in zctx (one handler per
 * context); zap_start(); zap_stop() (handshakes then wait, unanswered);
 * zap_close(z, cb), after whose callback z may be freed and zctx terminated.
 * Everything here runs on the loop thread. Errors per common/err.h, with an
 * err_msg() detail; nothing is logged.
 */
#ifndef LD_COMMON_ZAP_H
#define LD_COMMON_ZAP_H

#include "common/keys.h"
#include "common/zloop.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_ORIGIN_MAX 255      /* longest origin id accepted by zap_allow() */
#define ZAP_DOMAIN_DEFAULT "liandong" /* zap_guard() uses it if no domain is set */

typedef struct zap zap_t;
typedef void (*zap_close_cb)(zap_t *z);

struct zap_entry;

struct zap {
    void *data;                         /* user data */
    /* read-only statistics */
    uint64_t accepted;                  /* handshakes answered 200 */
    uint64_t refused;                   /* handshakes answered 400 */
    char last_refused_key[KEYS_Z85_LEN + 1]; /* Z85; "" if none or not CURVE */
    char last_refused_mechanism[16];    /* "CURVE", "NULL", "PLAIN", ... */
    char last_refused_address[64];      /* peer IP address as libzmq gave it */
    /* private */
    zloop_t w;
    void *sock;
    char *domain;                       /* NULL: any domain */
    struct zap_entry *allow;
    size_t n_allow, cap_allow;
    zap_close_cb close_cb;
};

/* Creates the handler socket in zctx and binds it to ZAP_ENDPOINT. Errors:
 * -EADDRINUSE (a handler is already bound in this context), LD_ENOMEM,
 * other -(zmq errno) or libuv codes. On failure nothing needs closing. */
int zap_init(uv_loop_t *loop, zap_t *z, void *zctx);

/* Starts / stops answering requests. Return 0 or a libuv code. */
int zap_start(zap_t *z);
int zap_stop(zap_t *z);

/* Closes the handler: its socket, its table. cb (may be NULL) runs on a later
 * loop turn; then z may be freed. See the caveat above about the order. */
void zap_close(zap_t *z, zap_close_cb cb);

/* Answers only requests for this ZAP domain (the ZMQ_ZAP_DOMAIN of the
 * guarded sockets); NULL or "" answers any domain. Errors: LD_ENOMEM. */
int zap_set_domain(zap_t *z, const char *domain);

/* Allows the CURVE public key key_z85 as origin `origin`. An origin may have
 * several keys (rotation); a key belongs to one origin. Allowing the same
 * pair again is a no-op. Errors: LD_EINVAL (not a Z85 public key; origin
 * empty, longer than ZAP_ORIGIN_MAX or not printable ASCII), LD_EEXIST (the
 * key is already allowed for another origin), LD_ENOMEM. Takes effect for
 * new connections. */
int zap_allow(zap_t *z, const char *origin, const char *key_z85);

/* Removes every key of origin. Returns 0, or LD_ENOTFOUND if it had none.
 * Open connections are not cut (see the caveat above). */
int zap_deny(zap_t *z, const char *origin);

/* Removes every key. */
void zap_clear(zap_t *z);

/* The origin allowed for key_z85, or NULL. Valid until the table changes. */
const char *zap_lookup(const zap_t *z, const char *key_z85);

/* True if origin currently has at least one allowed key. */
bool zap_origin_allowed(const zap_t *z, const char *origin);

/* Puts sock under this handler: sets ZMQ_ZAP_DOMAIN (the handler's domain,
 * or ZAP_DOMAIN_DEFAULT) and, where this libzmq has it,
 * ZMQ_ZAP_ENFORCE_DOMAIN, so that if no handler is bound the handshake fails
 * instead of admitting everyone. Use together with keys_curve_server(),
 * before bind. Errors: -(zmq errno). */
int zap_guard(const zap_t *z, void *sock);

#endif
