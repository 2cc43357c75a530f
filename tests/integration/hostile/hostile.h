/*
 * hostile.h -- the pieces of liandong-hostile (see main.c for what it is
 * and how it is run), private to it: the state of one run (hx_t), one
 * origin's log (chain_t), and the functions the .c files share.
 *
 * It is single-threaded. The "hostile: ..." lines on stdout come from
 * say().
 */
#ifndef LD_TESTS_HOSTILE_H
#define LD_TESTS_HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/keys.h"
#include "common/store.h"
#include "proto/event.h"
#include "proto/msg.h"

#define CHAIN_MAX 64
#define WV_MAX 32

typedef struct wv_entry {
    char origin[PROTO_ORIGIN_MAX + 1];
    uint64_t seq;
    uint8_t hash[PROTO_HASH_LEN];
} wv_entry_t;

typedef struct hx {
    void *z, *ctl, *up, *down, *mon_ctl, *mon_up;
    char ep[3][300];
    bool curve;
    keys_t keys;
    char server_key[KEYS_Z85_LEN + 1];
    char origin[PROTO_ORIGIN_MAX + 1];
    char epoch[MSG_EPOCH_MAX + 1];
    store_t *store;                 /* CHILD_DIR's store, read-only; may be NULL */
    uint64_t session;
    bool welcomed, up_ready;
    wv_entry_t wv[WV_MAX];          /* the last WELCOME's heads */
    int nwv;
    uint64_t deadline_ms, last_ping_ms;
    buf_t rx;                       /* the last control message's bytes */
} hx_t;

/* One origin's log: events 1..n, bytes and hashes. */
typedef struct chain {
    buf_t ev[CHAIN_MAX + 1];
    uint8_t hash[CHAIN_MAX + 1][PROTO_HASH_LEN];
    uint64_t n;
} chain_t;

typedef struct evref {
    const uint8_t *p;
    size_t len;
} evref_t;

/* ---- wire.c: small helpers ---- */

uint64_t now_ms(void);
/* One line "hostile: ..." on stdout, flushed. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "liandong-hostile: what" on stderr; returns 1 (the exit code). */
int die(const char *what);
/* Milliseconds left of the overall bound, at most cap. */
int left(const hx_t *h, int cap);
/* A non-blocking send of one frame: 0, or -1 if not all of it went. */
int zsend(void *s, const void *data, size_t len, int flags);

/* ---- wire.c: sockets ---- */

/* Socket i of the hub's three (exits on failure), with a monitor on *mon if
 * mon is not NULL. */
void *open_socket(hx_t *h, int type, int i, void **mon, const char *name);
void open_sockets(hx_t *h);
void close_sockets(hx_t *h);
unsigned mon_drain(void *mon, const char *sock);
bool mon_wait(hx_t *h, void *mon, const char *name, unsigned ev, int ms);
bool wait_up_ready(hx_t *h, int ms);

/* ---- wire.c: control messages and batches ---- */

int ctl_wait(hx_t *h, int want, int ms, msg_t *m);
int send_hello(hx_t *h, const char *as, uint64_t session);
int session(hx_t *h, const char *as);
int batch_reply(hx_t *h, int ms);
int send_batch(hx_t *h, uint64_t batch, const evref_t *ev, size_t n);

/* ---- chain.c: events ---- */

int gen_event(const char *origin, uint64_t seq, const uint8_t prev[PROTO_HASH_LEN],
              int variant, buf_t *out);
int chain_build(store_t *s, const char *origin, uint64_t upto, chain_t *c);
void chain_free(chain_t *c);
evref_t ref(const buf_t *b);

/* ---- modes.c and garbage.c: one bad thing each; 0 if it was sent ---- */

/* How the hub answered a batch (batch_reply()), as a word. */
const char *verdict_name(int r);
int mode_unadmitted(hx_t *h, const char *as, store_t *victim);
int mode_foreign(hx_t *h, store_t *victim, const char *vorigin);
int mode_forged(hx_t *h, store_t *victim, const char *vorigin);
int mode_seq_gap(hx_t *h, int phase);
int mode_replay(hx_t *h, uint64_t seq);
int mode_eavesdrop(hx_t *h, const char *topic, int secs);
int mode_malformed(hx_t *h, const char *endpoint);
int mode_oversized(hx_t *h, int n_vv);
int mode_origin_flood(hx_t *h, int count);

#endif
