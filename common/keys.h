/*
 * keys.h -- a participant's CurveZMQ key pair on disk.
 *
 * A data directory holds DIR/curve.key (the secret key in Z85, 40 characters
 * and a newline, mode 0600) and DIR/curve.pub (the public key, same format,
 * mode 0644). The public key is what a hub is told to allow ("hub allow
 * ORIGIN PUBKEY") and what a child pins as its parent's key.
 *
 * The secret key file is created with O_CREAT|O_EXCL and mode 0600 from the
 * start, so it is never visible with wider permissions and never overwrites an
 * existing key. Loading refuses a secret key file that group or others can
 * access, the way ssh does.
 *
 * A keys_t is a plain value owned by its caller; it holds the secret key, so
 * wipe it with keys_wipe() when done. Functions here are thread-safe (no
 * shared state), set an err_msg() detail on failure, and do not log.
 */
#ifndef LD_COMMON_KEYS_H
#define LD_COMMON_KEYS_H

#include <stdbool.h>

#define KEYS_Z85_LEN 40                 /* a 32-byte key in Z85 */
#define KEYS_SECRET_FILE "curve.key"
#define KEYS_PUBLIC_FILE "curve.pub"

typedef struct keys {
    char public[KEYS_Z85_LEN + 1];      /* Z85, NUL-terminated */
    char secret[KEYS_Z85_LEN + 1];
} keys_t;

/* Creates a new key pair in the existing directory dir. Errors:
 * LD_EEXIST (either file already exists; nothing is changed),
 * -ENOTSUP (libzmq built without CURVE), -errno for file system failures
 * (a half-written pair is removed). */
int keys_generate(const char *dir);

/* Reads and checks dir's key pair into *out. Errors: -ENOENT (a file is
 * missing), LD_EDENIED (curve.key accessible by group or others; the message
 * says to chmod 600), LD_ECONFIG (not a 40-character Z85 key, or curve.pub is
 * not the public key of curve.key), -errno otherwise. On failure *out is
 * zeroed. */
int keys_load(const char *dir, keys_t *out);

/* True if z85 is a NUL-terminated 40-character Z85 encoding of 32 bytes
 * (what a hub accepts in "allow ORIGIN PUBKEY"). */
bool keys_valid_public(const char *z85);

/* Makes sock a CURVE server with k's secret key (ZMQ_CURVE_SERVER=1,
 * ZMQ_CURVE_SECRETKEY). Who may connect is the ZAP handler's decision (see
 * common/zap.h, zap_guard()). Call before bind. Errors: -(zmq errno). */
int keys_curve_server(void *sock, const keys_t *k);

/* Makes sock a CURVE client with key pair k that talks only to the server
 * whose public key is server_public (the pinned parent key). Call before
 * connect. Errors: LD_EINVAL (server_public not a Z85 key), -(zmq errno). */
int keys_curve_client(void *sock, const keys_t *k, const char *server_public);

/* Zeroes *k (sodium_memzero: not optimised away). */
void keys_wipe(keys_t *k);

#endif
