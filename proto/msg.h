/*
 * msg.h -- the sync messages exchanged between a child (township node or
 * child hub) and its parent hub. docs/protocol.md has them byte by byte.
 *
 * Every message is one msgpack array whose first element is its type:
 *
 *   HELLO    [1, ver, origin, epoch, session, flags, vv]      child -> parent, control
 *   WELCOME  [2, ver, origin, epoch, session, vv]             parent -> child, control
 *   ACK      [3, session, batch, vv]                          receiver -> sender, control
 *   NACK     [4, session, expected]                           receiver -> sender, control
 *   PING     [5, session, head, pending]                      both ways, control
 *   ERROR    [6, code, text]                                  parent -> child, control
 *   BATCH    [7, session, batch, [event, ...]]                sender -> receiver, data
 *   NUDGE    [8]                                              CLI -> local daemon (ipc)
 *
 * `vv` (a version vector) is an array of [origin, seq, hash] triples;
 * `event` is a bin holding an event's exact stored bytes (proto/event.h), so
 * a hub forwards what it received without re-encoding.
 *
 * Decoding is strict (proto/mpk.h): wrong types, extra or missing elements,
 * trailing bytes, counts over the limits below all fail with LD_EPROTO or
 * LD_ETOOBIG and err_msg() naming the element. Events inside a BATCH are not
 * decoded here; the receiver decodes each one (proto_event_decode) and
 * rejects the batch as a whole if any is bad.
 *
 * A decoded msg_t holds views into the message bytes; it is valid as long as
 * they are (until the received ZeroMQ frame is closed). Thread-safe.
 */
#ifndef LD_PROTO_MSG_H
#define LD_PROTO_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "proto/event.h"
#include "proto/mpk.h"

#define MSG_PROTOCOL_VERSION 1
#define MSG_VV_MAX        100000     /* origins in one version vector */
#define MSG_BATCH_EVENTS  4096       /* events in one batch */
#define MSG_BATCH_BYTES   (4u << 20) /* bytes of events in one batch */
#define MSG_MAX_BYTES     (MSG_BATCH_BYTES + 65536) /* any message: ZMQ_MAXMSGSIZE */
#define MSG_EPOCH_MAX     32
#define MSG_TEXT_MAX      512

/* MSG_T_: glibc's <sys/socket.h> already owns the name MSG_BATCH. */
typedef enum msg_type {
    MSG_T_HELLO = 1, MSG_T_WELCOME, MSG_T_ACK, MSG_T_NACK, MSG_T_PING, MSG_T_ERROR, MSG_T_BATCH, MSG_T_NUDGE
} msg_type_t;

/* HELLO flags. */
enum {
    /* The child's store is new and wants its own subtree's logs back from the
     * parent (`init --restore`): the parent sends them down. */
    MSG_HELLO_RESTORE = 1u << 0
};

/* ERROR codes a parent sends before it stops talking to a child. */
enum {
    MSG_ERR_VERSION = 1,   /* protocol version not supported */
    MSG_ERR_ORIGIN  = 2,   /* an origin this key may not speak for (HELLO or a BATCH) */
    MSG_ERR_EPOCH   = 3,   /* the child's store is not the one the parent knows */
    MSG_ERR_BUSY    = 4,   /* try again later */
    MSG_ERR_BATCH   = 5,   /* a BATCH refused for anything else: malformed, invalid
                              events, over a limit; the text says which */
    MSG_ERR_SESSION = 6    /* the session this connection had was ended by the hub
                              (it heard nothing for a while): say HELLO again */
};

typedef struct msg_vv_entry {
    mpk_str_t origin;
    uint64_t seq;
    const uint8_t *hash;   /* PROTO_HASH_LEN bytes */
} msg_vv_entry_t;

typedef struct msg {
    msg_type_t type;
    uint64_t session;
    /* HELLO, WELCOME */
    uint32_t version;
    mpk_str_t origin;
    mpk_str_t epoch;
    uint32_t flags;
    /* HELLO, WELCOME, ACK: the version vector, iterate with msg_vv_next() */
    mpk_reader_t vv;
    uint32_t vv_count;
    /* ACK, BATCH: batch number; NACK: the batch expected next */
    uint64_t batch;
    /* PING */
    uint64_t head, pending;
    /* ERROR */
    uint32_t code;
    mpk_str_t text;
    /* BATCH: events, iterate with msg_batch_next() */
    mpk_reader_t events;
    uint32_t nevents;
} msg_t;

/* Decodes one message. Errors: LD_EPROTO, LD_ETOOBIG, LD_EVERSION. */
int msg_decode(const uint8_t *data, size_t len, msg_t *out);

/* Next version-vector entry; *more false at the end. Call at most vv_count
 * times. LD_EPROTO for a malformed entry (invalid origin, hash not 32 bytes). */
int msg_vv_next(msg_t *m, msg_vv_entry_t *e);

/* Next event's bytes of a BATCH. LD_EPROTO/LD_ETOOBIG for a bad entry. */
int msg_batch_next(msg_t *m, const uint8_t **raw, size_t *len);

/* ---- encoding: each appends one message to out ---- */

/* A version vector under construction (msg_vv_add per entry, then pass to
 * the HELLO/WELCOME/ACK encoders). */
typedef struct msg_vv_builder {
    buf_t body;    /* the packed entries */
    uint32_t count;
} msg_vv_builder_t;

int msg_vv_add(msg_vv_builder_t *b, const char *origin, uint64_t seq,
               const uint8_t hash[PROTO_HASH_LEN]);
void msg_vv_free(msg_vv_builder_t *b);

int msg_encode_hello(buf_t *out, const char *origin, const char *epoch, uint64_t session,
                     uint32_t flags, const msg_vv_builder_t *vv);
int msg_encode_welcome(buf_t *out, const char *origin, const char *epoch, uint64_t session,
                       const msg_vv_builder_t *vv);
int msg_encode_ack(buf_t *out, uint64_t session, uint64_t batch, const msg_vv_builder_t *vv);
int msg_encode_nack(buf_t *out, uint64_t session, uint64_t expected);
int msg_encode_ping(buf_t *out, uint64_t session, uint64_t head, uint64_t pending);
int msg_encode_error(buf_t *out, uint32_t code, const char *text);
int msg_encode_nudge(buf_t *out);

/* A BATCH is built incrementally: begin, add events, finish. Events are
 * written once, straight into `out`, after a gap big enough for the longest
 * message header; finish writes the canonical header into the end of that
 * gap and returns where the message starts. So the message is out->data +
 * *offset .. out->len (bytes before *offset are unused). */
typedef struct msg_batch_builder {
    buf_t *out;
    size_t start;       /* offset of the reserved header gap in out */
    uint64_t session, batch;
    uint32_t count;
    size_t bytes;       /* event bytes added */
} msg_batch_builder_t;

int msg_batch_begin(msg_batch_builder_t *b, buf_t *out, uint64_t session, uint64_t batch);
/* LD_ETOOBIG if the event would take the batch over MSG_BATCH_EVENTS or
 * MSG_BATCH_BYTES: the caller finishes this batch and starts another. */
int msg_batch_add(msg_batch_builder_t *b, const uint8_t *raw, size_t len);
void msg_batch_finish(msg_batch_builder_t *b, size_t *offset);

#endif
