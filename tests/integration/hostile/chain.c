/*
 * chain.c -- the events liandong-hostile sends: valid deputy.contact events
 * it generates (deterministic: fixed HLC, body derived from seq, so two runs
 * build the same chain), and one origin's log as CHILD_DIR's store holds it,
 * continued with generated events.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "proto/json.h"
#include "hostile.h"

/* 2026-01-01T00:00:00Z as an HLC stamp: generated events are in the past. */
#define HLC_BASE (1767225600000ull << 16)

/* A valid deputy.contact event of origin#seq chained to prev; `variant`
 * changes the body (an equivocation of the plain one). */
int gen_event(const char *origin, uint64_t seq, const uint8_t prev[PROTO_HASH_LEN],
                     int variant, buf_t *out)
{
    char topic[64];
    if (variant)
        snprintf(topic, sizeof topic, "伪造的另一版本 %d", variant);
    else
        snprintf(topic, sizeof topic, "hostile chain %llu", (unsigned long long)seq);
    json_t *body = json_pack("{s:s, s:s, s:I, s:s}", "deputy", "d001", "channel",
                             "reception_day", "constituents", (json_int_t)(seq % 100 + 1),
                             "topic", topic);
    buf_t b = BUF_INIT;
    proto_header_t hd = {origin, seq, HLC_BASE + seq, {0}, "deputy.contact", "2026-03-05", NULL};
    memcpy(hd.prev, prev, PROTO_HASH_LEN);
    buf_reset(out);
    int rc = body ? proto_body_pack_json(body, &b) : LD_ENOMEM;
    if (!rc)
        rc = proto_event_encode(&hd, b.data, b.len, out);
    proto_event_t e;
    if (!rc && (rc = proto_event_decode(out->data, out->len, PROTO_DECODE_STRICT, &e)))
        fprintf(stderr, "liandong-hostile: generated event does not decode: %s\n", err_msg());
    json_decref(body);
    buf_free(&b);
    return rc;
}

/* origin's log up to `upto`: what `s` holds of it (if s), then generated. */
int chain_build(store_t *s, const char *origin, uint64_t upto, chain_t *c)
{
    static const uint8_t zero[PROTO_HASH_LEN];
    store_txn_t *t = NULL;
    if (upto > CHAIN_MAX)
        return LD_ETOOBIG;
    if (s && store_read_begin(s, &t))
        t = NULL;
    int rc = 0;
    c->n = 0;
    for (uint64_t k = 1; !rc && k <= upto; k++) {
        const uint8_t *raw;
        size_t len;
        buf_reset(&c->ev[k]);
        if (t && store_event_get(t, origin, k, &raw, &len) == 0)
            rc = buf_append(&c->ev[k], raw, len);
        else
            rc = gen_event(origin, k, k == 1 ? zero : c->hash[k - 1], 0, &c->ev[k]);
        if (!rc) {
            proto_hash(c->ev[k].data, c->ev[k].len, c->hash[k]);
            c->n = k;
        }
    }
    store_read_end(&t);
    return rc;
}

void chain_free(chain_t *c)
{
    for (int k = 0; k <= CHAIN_MAX; k++)
        buf_free(&c->ev[k]);
}

evref_t ref(const buf_t *b)
{
    return (evref_t){b->data, b->len};
}
