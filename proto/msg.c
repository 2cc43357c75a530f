/*
 * msg.c -- encoding and strict decoding of the sync messages (msg.h;
 * docs/protocol.md, "Sync messages", has them byte by byte).
 *
 * Encoding goes through msgpack-c's packer, whose output is canonical.
 * Decoding goes through the strict reader (mpk.h) and checks the whole
 * message up front: element counts per type, types, limits, every
 * version-vector entry and the header of every event of a BATCH, and no
 * trailing bytes. The iterators (msg_vv_next, msg_batch_next) then walk the
 * same bytes again from readers saved by the decoder, without allocating;
 * they keep their own checks so that a msg_t filled in by hand cannot make
 * them read out of bounds. Events themselves are not decoded here: the
 * receiver does that (sync_in_check), once per event.
 */
#include "proto/msg.h"

#include <msgpack.h>
#include <string.h>

#include "common/err.h"

/* [origin, seq, hash] needs at least fixarray + fixstr "a" + fixint +
 * bin8 header + 32 bytes. */
#define VV_ENTRY_MIN (1 + 2 + 1 + 2 + PROTO_HASH_LEN)
/* fixarray(4), type, session (uint64), batch (uint64), array32 header. */
#define BATCH_HEADER_MAX (1 + 1 + 9 + 9 + 5)
#define SEQ_MAX ((uint64_t)INT64_MAX)

static const char *const type_name[] = {
    "message", "HELLO", "WELCOME", "ACK", "NACK", "PING", "ERROR", "BATCH", "NUDGE"
};

/* ---- decoding helpers: each names the message and the element ---- */

typedef struct dec {
    mpk_reader_t r;
    const char *msg;   /* type name for error messages */
} dec_t;

static int elem_err(int rc, const dec_t *d, const char *elem)
{
    return err_wrap(rc, "%s: element '%s'", d->msg, elem);
}

static int count_check(const dec_t *d, uint32_t n, uint32_t want)
{
    if (n == want)
        return 0;
    return err_set(LD_EPROTO, "%s: array of %u elements, expected %u", d->msg, n, want);
}

static int get_u64(dec_t *d, const char *elem, uint64_t max, uint64_t *out)
{
    int rc = mpk_read_uint(&d->r, out);
    if (rc)
        return elem_err(rc, d, elem);
    if (*out > max)
        return err_set(LD_ETOOBIG, "%s: element '%s': %llu is above %llu", d->msg, elem,
                       (unsigned long long)*out, (unsigned long long)max);
    return 0;
}

static int get_u32(dec_t *d, const char *elem, uint32_t *out)
{
    uint64_t v;
    int rc = get_u64(d, elem, UINT32_MAX, &v);
    *out = (uint32_t)v;
    return rc;
}

static int get_origin(dec_t *d, const char *elem, mpk_str_t *out)
{
    int rc = mpk_read_str(&d->r, PROTO_ORIGIN_MAX, out);
    if (rc)
        return elem_err(rc, d, elem);
    if (!proto_origin_valid(out->ptr, out->len))
        return err_set(LD_EPROTO, "%s: element '%s': not a valid origin", d->msg, elem);
    return 0;
}

/* The epoch is hex text today; the wire admits any printable ASCII without
 * spaces, so a future epoch form still decodes, but nothing that could
 * garble a log line. */
static int get_epoch(dec_t *d, mpk_str_t *out)
{
    int rc = mpk_read_str(&d->r, MSG_EPOCH_MAX, out);
    if (rc)
        return elem_err(rc, d, "epoch");
    for (uint32_t i = 0; i < out->len; i++)
        if (out->ptr[i] < 0x21 || out->ptr[i] > 0x7e)
            return err_set(LD_EPROTO, "%s: element 'epoch': byte %u is not printable ASCII",
                           d->msg, i);
    return 0;
}

static int get_text(dec_t *d, mpk_str_t *out)
{
    int rc = mpk_read_str(&d->r, MSG_TEXT_MAX, out);
    if (rc)
        return elem_err(rc, d, "text");
    if (!mpk_utf8_valid(out->ptr, out->len))
        return err_set(LD_EPROTO, "%s: element 'text': not valid UTF-8", d->msg);
    return 0;
}

/* One [origin, seq, hash] entry. */
static int vv_entry_read(mpk_reader_t *r, msg_vv_entry_t *e)
{
    uint32_t n;
    int rc = mpk_read_array(r, 255, &n);
    if (rc)
        return rc;
    if (n != 3)
        return err_set(LD_EPROTO, "entry of %u elements, expected 3", n);
    if ((rc = mpk_read_str(r, PROTO_ORIGIN_MAX, &e->origin)))
        return err_wrap(rc, "origin");
    if (!proto_origin_valid(e->origin.ptr, e->origin.len))
        return err_set(LD_EPROTO, "origin: not a valid origin");
    if ((rc = mpk_read_uint(r, &e->seq)))
        return err_wrap(rc, "seq");
    if (e->seq > SEQ_MAX)
        return err_set(LD_ETOOBIG, "seq: above 2^63-1");
    if ((rc = mpk_read_bin_exact(r, PROTO_HASH_LEN, &e->hash)))
        return err_wrap(rc, "hash");
    return 0;
}

/* The version vector, the last element of HELLO, WELCOME and ACK: every
 * entry is checked now, and m->vv keeps a reader at the first one. */
static int get_vv(dec_t *d, msg_t *m)
{
    int rc = mpk_read_array(&d->r, MSG_VV_MAX, &m->vv_count);
    if (rc)
        return elem_err(rc, d, "vv");
    if ((uint64_t)m->vv_count * VV_ENTRY_MIN > mpk_remaining(&d->r))
        return err_set(LD_EPROTO, "%s: element 'vv': %u entries cannot fit in %zu bytes",
                       d->msg, m->vv_count, mpk_remaining(&d->r));
    m->vv = d->r;
    for (uint32_t i = 0; i < m->vv_count; i++) {
        msg_vv_entry_t e;
        if ((rc = vv_entry_read(&d->r, &e)))
            return err_wrap(rc, "%s: element 'vv': entry %u", d->msg, i);
    }
    return 0;
}

/* The events of a BATCH: each a bin of at most PROTO_EVENT_MAX bytes, at
 * most MSG_BATCH_BYTES in all. */
static int get_events(dec_t *d, msg_t *m)
{
    int rc = mpk_read_array(&d->r, MSG_BATCH_EVENTS, &m->nevents);
    if (rc)
        return elem_err(rc, d, "events");
    m->events = d->r;
    size_t total = 0;
    for (uint32_t i = 0; i < m->nevents; i++) {
        const uint8_t *raw;
        uint32_t len;
        if ((rc = mpk_read_bin(&d->r, PROTO_EVENT_MAX, &raw, &len)))
            return err_wrap(rc, "BATCH: element 'events': entry %u", i);
        total += len;
    }
    if (total > MSG_BATCH_BYTES)
        return err_set(LD_ETOOBIG, "BATCH: %zu bytes of events, at most %u", total,
                       MSG_BATCH_BYTES);
    return 0;
}

/* ---- per type: the elements after the type ---- */

/* HELLO and WELCOME: the version is judged before the shape, so that a
 * newer protocol with other elements is reported as a version mismatch. */
static int dec_greeting(dec_t *d, uint32_t n, msg_t *m)
{
    uint64_t ver;
    int rc;
    if (n < 2)
        return count_check(d, n, m->type == MSG_T_HELLO ? 7 : 6);
    if ((rc = get_u64(d, "version", UINT32_MAX, &ver)))
        return rc;
    if (ver != MSG_PROTOCOL_VERSION)
        return err_set(LD_EVERSION, "%s: protocol version %llu, this build speaks version %d",
                       d->msg, (unsigned long long)ver, MSG_PROTOCOL_VERSION);
    m->version = (uint32_t)ver;
    if ((rc = count_check(d, n, m->type == MSG_T_HELLO ? 7 : 6)) ||
        (rc = get_origin(d, "origin", &m->origin)) || (rc = get_epoch(d, &m->epoch)) ||
        (rc = get_u64(d, "session", UINT64_MAX, &m->session)))
        return rc;
    if (m->type == MSG_T_HELLO && (rc = get_u32(d, "flags", &m->flags)))
        return rc;
    return get_vv(d, m);
}

static int dec_ack(dec_t *d, uint32_t n, msg_t *m)
{
    int rc;
    if ((rc = count_check(d, n, 4)) || (rc = get_u64(d, "session", UINT64_MAX, &m->session)) ||
        (rc = get_u64(d, "batch", UINT64_MAX, &m->batch)))
        return rc;
    return get_vv(d, m);
}

static int dec_nack(dec_t *d, uint32_t n, msg_t *m)
{
    int rc;
    if ((rc = count_check(d, n, 3)) || (rc = get_u64(d, "session", UINT64_MAX, &m->session)))
        return rc;
    return get_u64(d, "expected", UINT64_MAX, &m->batch);
}

static int dec_ping(dec_t *d, uint32_t n, msg_t *m)
{
    int rc;
    if ((rc = count_check(d, n, 4)) || (rc = get_u64(d, "session", UINT64_MAX, &m->session)) ||
        (rc = get_u64(d, "head", UINT64_MAX, &m->head)))
        return rc;
    return get_u64(d, "pending", UINT64_MAX, &m->pending);
}

static int dec_error(dec_t *d, uint32_t n, msg_t *m)
{
    int rc;
    if ((rc = count_check(d, n, 3)) || (rc = get_u32(d, "code", &m->code)))
        return rc;
    return get_text(d, &m->text);
}

static int dec_batch(dec_t *d, uint32_t n, msg_t *m)
{
    int rc;
    if ((rc = count_check(d, n, 4)) || (rc = get_u64(d, "session", UINT64_MAX, &m->session)) ||
        (rc = get_u64(d, "batch", UINT64_MAX, &m->batch)))
        return rc;
    return get_events(d, m);
}

static int dec_nudge(dec_t *d, uint32_t n, msg_t *m)
{
    (void)m;
    return count_check(d, n, 1);
}

typedef int (*dec_fn)(dec_t *d, uint32_t n, msg_t *m);
static const dec_fn decoders[] = {
    NULL, dec_greeting, dec_greeting, dec_ack, dec_nack, dec_ping, dec_error, dec_batch,
    dec_nudge
};

int msg_decode(const uint8_t *data, size_t len, msg_t *out)
{
    memset(out, 0, sizeof *out);
    if (len > MSG_MAX_BYTES)
        return err_set(LD_ETOOBIG, "message of %zu bytes, at most %u", len, MSG_MAX_BYTES);
    dec_t d = {.msg = type_name[0]};
    mpk_reader_init(&d.r, data, len);
    uint32_t n;
    uint64_t type;
    int rc = mpk_read_array(&d.r, 255, &n);
    if (rc)
        return err_wrap(rc, "message");
    if (n == 0)
        return err_set(LD_EPROTO, "message: empty array");
    if ((rc = mpk_read_uint(&d.r, &type)))
        return elem_err(rc, &d, "type");
    if (type < MSG_T_HELLO || type > MSG_T_NUDGE)
        return err_set(LD_EPROTO, "message: unknown type %llu", (unsigned long long)type);
    out->type = (msg_type_t)type;
    d.msg = type_name[type];
    if ((rc = decoders[type](&d, n, out)))
        return rc;
    if (mpk_remaining(&d.r))
        return err_set(LD_EPROTO, "%s: %zu trailing bytes", d.msg, mpk_remaining(&d.r));
    return 0;
}

int msg_vv_next(msg_t *m, msg_vv_entry_t *e)
{
    if (m->vv.p >= m->vv.end)
        return err_set(LD_EPROTO, "version vector: no more entries");
    int rc = vv_entry_read(&m->vv, e);
    return rc ? err_wrap(rc, "version vector") : 0;
}

int msg_batch_next(msg_t *m, const uint8_t **raw, size_t *len)
{
    if (m->events.p >= m->events.end)
        return err_set(LD_EPROTO, "BATCH: no more events");
    uint32_t n;
    int rc = mpk_read_bin(&m->events, PROTO_EVENT_MAX, raw, &n);
    if (rc)
        return err_wrap(rc, "BATCH: event");
    *len = n;
    return 0;
}

/* ---- encoding ---- */

static int pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

/* Ends an encoder: on a packer failure (only allocation can fail) the
 * partial message is cut off again. */
static int done(buf_t *out, size_t start, int bad, const char *what)
{
    if (!bad)
        return 0;
    out->len = start;
    return err_set(LD_ENOMEM, "%s: out of memory while encoding", what);
}

int msg_vv_add(msg_vv_builder_t *b, const char *origin, uint64_t seq,
               const uint8_t hash[PROTO_HASH_LEN])
{
    size_t olen = strlen(origin);
    if (!proto_origin_valid(origin, olen) || seq > SEQ_MAX || !hash)
        return err_set(LD_EINVAL, "version vector: bad entry for '%.*s'",
                       (int)(olen > PROTO_ORIGIN_MAX ? PROTO_ORIGIN_MAX : olen), origin);
    if (b->count >= MSG_VV_MAX)
        return err_set(LD_ETOOBIG, "version vector: more than %d origins", MSG_VV_MAX);
    size_t start = b->body.len;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b->body, buf_msgpack_write);
    int bad = msgpack_pack_array(&pk, 3) || pack_str(&pk, origin, olen) ||
              msgpack_pack_uint64(&pk, seq) || msgpack_pack_bin(&pk, PROTO_HASH_LEN) ||
              msgpack_pack_bin_body(&pk, hash, PROTO_HASH_LEN);
    if (!bad)
        b->count++;
    return done(&b->body, start, bad, "version vector");
}

void msg_vv_free(msg_vv_builder_t *b)
{
    buf_free(&b->body);
    b->count = 0;
}

static int pack_vv(msgpack_packer *pk, buf_t *out, const msg_vv_builder_t *vv)
{
    if (!vv)
        return msgpack_pack_array(pk, 0);
    return msgpack_pack_array(pk, vv->count) || buf_append(out, vv->body.data, vv->body.len);
}

static int check_greeting(const char *origin, const char *epoch)
{
    size_t elen = strlen(epoch);
    if (!proto_origin_valid(origin, strlen(origin)))
        return err_set(LD_EINVAL, "greeting: not a valid origin");
    if (elen > MSG_EPOCH_MAX)
        return err_set(LD_EINVAL, "greeting: epoch of %zu bytes, at most %d", elen,
                       MSG_EPOCH_MAX);
    for (size_t i = 0; i < elen; i++)
        if (epoch[i] < 0x21 || epoch[i] > 0x7e)
            return err_set(LD_EINVAL, "greeting: epoch is not printable ASCII");
    return 0;
}

static int encode_greeting(buf_t *out, msg_type_t type, const char *origin, const char *epoch,
                           uint64_t session, uint32_t flags, const msg_vv_builder_t *vv)
{
    int rc = check_greeting(origin, epoch);
    if (rc)
        return rc;
    size_t start = out->len;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_msgpack_write);
    int bad = msgpack_pack_array(&pk, type == MSG_T_HELLO ? 7 : 6) ||
              msgpack_pack_uint32(&pk, type) ||
              msgpack_pack_uint32(&pk, MSG_PROTOCOL_VERSION) ||
              pack_str(&pk, origin, strlen(origin)) || pack_str(&pk, epoch, strlen(epoch)) ||
              msgpack_pack_uint64(&pk, session) ||
              (type == MSG_T_HELLO && msgpack_pack_uint32(&pk, flags)) ||
              pack_vv(&pk, out, vv);
    return done(out, start, bad, type_name[type]);
}

int msg_encode_hello(buf_t *out, const char *origin, const char *epoch, uint64_t session,
                     uint32_t flags, const msg_vv_builder_t *vv)
{
    return encode_greeting(out, MSG_T_HELLO, origin, epoch, session, flags, vv);
}

int msg_encode_welcome(buf_t *out, const char *origin, const char *epoch, uint64_t session,
                       const msg_vv_builder_t *vv)
{
    return encode_greeting(out, MSG_T_WELCOME, origin, epoch, session, 0, vv);
}

int msg_encode_ack(buf_t *out, uint64_t session, uint64_t batch, const msg_vv_builder_t *vv)
{
    size_t start = out->len;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_msgpack_write);
    int bad = msgpack_pack_array(&pk, 4) || msgpack_pack_uint32(&pk, MSG_T_ACK) ||
              msgpack_pack_uint64(&pk, session) || msgpack_pack_uint64(&pk, batch) ||
              pack_vv(&pk, out, vv);
    return done(out, start, bad, "ACK");
}

/* The messages made of small integers only: [type, a, b, c][0..n). */
static int encode_ints(buf_t *out, msg_type_t type, int n, uint64_t a, uint64_t b, uint64_t c)
{
    const uint64_t v[3] = {a, b, c};
    size_t start = out->len;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_msgpack_write);
    int bad = msgpack_pack_array(&pk, (size_t)n + 1) || msgpack_pack_uint32(&pk, type);
    for (int i = 0; i < n && !bad; i++)
        bad = msgpack_pack_uint64(&pk, v[i]);
    return done(out, start, bad, type_name[type]);
}

int msg_encode_nack(buf_t *out, uint64_t session, uint64_t expected)
{
    return encode_ints(out, MSG_T_NACK, 2, session, expected, 0);
}

int msg_encode_ping(buf_t *out, uint64_t session, uint64_t head, uint64_t pending)
{
    return encode_ints(out, MSG_T_PING, 3, session, head, pending);
}

int msg_encode_nudge(buf_t *out)
{
    return encode_ints(out, MSG_T_NUDGE, 0, 0, 0, 0);
}

/* The text is cut to MSG_TEXT_MAX bytes at a character boundary, and bytes
 * of invalid UTF-8 become '?', so that what is sent always decodes. */
int msg_encode_error(buf_t *out, uint32_t code, const char *text)
{
    char t[MSG_TEXT_MAX + 1] = {0};
    size_t n = strlen(text);
    if (n > MSG_TEXT_MAX) {
        n = MSG_TEXT_MAX;
        while (n > 0 && ((uint8_t)text[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(t, text, n);
    if (!mpk_utf8_valid(t, n))
        for (size_t i = 0; i < n; i++)
            if ((uint8_t)t[i] >= 0x80)
                t[i] = '?';
    size_t start = out->len;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_msgpack_write);
    int bad = msgpack_pack_array(&pk, 3) || msgpack_pack_uint32(&pk, MSG_T_ERROR) ||
              msgpack_pack_uint32(&pk, code) || pack_str(&pk, t, n);
    return done(out, start, bad, "ERROR");
}

/* ---- the BATCH builder ---- */

int msg_batch_begin(msg_batch_builder_t *b, buf_t *out, uint64_t session, uint64_t batch)
{
    int rc = buf_reserve(out, BATCH_HEADER_MAX);
    if (rc)
        return rc;
    *b = (msg_batch_builder_t){out, out->len, session, batch, 0, 0};
    memset(out->data + out->len, 0, BATCH_HEADER_MAX);
    out->len += BATCH_HEADER_MAX;
    return 0;
}

int msg_batch_add(msg_batch_builder_t *b, const uint8_t *raw, size_t len)
{
    /* Not ETOOBIG: a fresh batch would not take it either. */
    if (len > PROTO_EVENT_MAX)
        return err_set(LD_EINVAL, "BATCH: event of %zu bytes, at most %d", len,
                       PROTO_EVENT_MAX);
    if (b->count >= MSG_BATCH_EVENTS || b->bytes + len > MSG_BATCH_BYTES)
        return err_set(LD_ETOOBIG, "BATCH: full (%u events, %zu bytes)", b->count, b->bytes);
    size_t start = b->out->len;
    msgpack_packer pk;
    msgpack_packer_init(&pk, b->out, buf_msgpack_write);
    int bad = msgpack_pack_bin(&pk, len) || msgpack_pack_bin_body(&pk, raw, len);
    if (bad)
        return done(b->out, start, bad, "BATCH");
    b->count++;
    b->bytes += len;
    return 0;
}

typedef struct hdr {
    uint8_t b[BATCH_HEADER_MAX];
    size_t n;
} hdr_t;

static int hdr_write(void *data, const char *bytes, size_t len)
{
    hdr_t *h = data;
    if (len > sizeof h->b - h->n)
        return -1;
    memcpy(h->b + h->n, bytes, len);
    h->n += len;
    return 0;
}

void msg_batch_finish(msg_batch_builder_t *b, size_t *offset)
{
    hdr_t h = {.n = 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &h, hdr_write);
    /* Cannot fail: BATCH_HEADER_MAX holds the longest header. */
    (void)(msgpack_pack_array(&pk, 4) || msgpack_pack_uint32(&pk, MSG_T_BATCH) ||
           msgpack_pack_uint64(&pk, b->session) || msgpack_pack_uint64(&pk, b->batch) ||
           msgpack_pack_array(&pk, b->count));
    *offset = b->start + BATCH_HEADER_MAX - h.n;
    memcpy(b->out->data + *offset, h.b, h.n);
}
