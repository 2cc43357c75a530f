/*
 * children_view.c -- what `children` shows per child (BRIEF "Observability"):
 * connected or not, last seen, last progress, the head it announced, what
 * this hub holds of it, what is pending, how long the oldest missing event
 * has been missing, equivocations, and a verdict. "Connected but not
 * progressing" is a fault, not health.
 */
#include "common/err.h"
#include "hub/children_int.h"

#include <string.h>

typedef struct held_sum {
    uint64_t events, held_aside;
} held_sum_t;

static int sum_heads(const char *origin, const store_head_t *h, void *arg)
{
    (void)origin;
    held_sum_t *s = arg;
    s->events += h->seq;
    s->held_aside += h->held;
    return 0;
}

static int count_equiv(const char *origin, uint64_t seq, const uint8_t *raw, size_t len,
                       void *arg)
{
    (void)seq; (void)raw; (void)len;
    const char **o = arg;
    if (proto_origin_within(origin, strlen(origin), o[0], strlen(o[0])))
        (*(uint64_t *)(void *)o[1])++;
    return 0;
}

static const char *verdict(children_t *c, child_t *ch, uint64_t held, uint64_t now)
{
    bool behind = ch->announced_head > held || ch->announced_pending > 0;
    if (ch->epoch_alarm)
        return "ALARM: store epoch changed (reinstalled without restore?)";
    if (!ch->active)
        return "offline";
    if (behind && now - ch->last_progress_ms > c->o.stall_ms)
        return "FAULT: connected but not progressing";
    return behind ? "catching up" : "in sync";
}

json_t *child_json(children_t *c, child_t *ch, store_txn_t *t, uint64_t now)
{
    store_head_t own = {0};
    store_head_get(t, ch->origin, &own);
    held_sum_t sum = {0, 0};
    store_heads_foreach(t, ch->origin, sum_heads, &sum);
    uint64_t equiv = 0;
    const char *args[2] = {ch->origin, (const char *)(void *)&equiv};
    store_equivocations_foreach(t, count_equiv, args);
    if (ch->announced_head > own.seq) {
        if (!ch->behind_since_ms)
            ch->behind_since_ms = now;
    } else {
        ch->behind_since_ms = 0;
    }
    return json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:b, s:s}",
        "origin", ch->origin, "connected", ch->active,
        "last_seen_ms_ago", (json_int_t)(ch->last_seen_ms ? (int64_t)(now - ch->last_seen_ms) : -1),
        "last_progress_ms_ago",
        (json_int_t)(ch->last_progress_ms ? (int64_t)(now - ch->last_progress_ms) : -1),
        "announced_head", (json_int_t)ch->announced_head,
        "held", (json_int_t)own.seq,
        "held_subtree", (json_int_t)sum.events,
        "pending", (json_int_t)(ch->announced_head > own.seq
                                    ? ch->announced_head - own.seq : ch->announced_pending),
        "oldest_missing_age_ms",
        (json_int_t)(ch->behind_since_ms ? now - ch->behind_since_ms : 0),
        "equivocations", (json_int_t)equiv,
        "batches_rejected", (json_int_t)ch->batches_rejected,
        "epoch", ch->epoch, "epoch_alarm", ch->epoch_alarm,
        "state", verdict(c, ch, own.seq, now));
}

typedef struct list_ctx {
    children_t *c;
    json_t *out;
} list_ctx_t;

/* Allowed children that never connected since the daemon started. */
static int add_allowed(const char *origin, const char *key, void *arg)
{
    (void)key;
    list_ctx_t *l = arg;
    for (size_t i = 0; i < l->c->n; i++)
        if (strcmp(l->c->child[i]->origin, origin) == 0)
            return 0;
    json_array_append_new(l->out, json_pack("{s:s, s:b, s:s}", "origin", origin,
                                            "connected", 0, "state", "never connected"));
    return 0;
}

json_t *children_json(children_t *c)
{
    json_t *out = json_array();
    store_txn_t *t;
    uv_update_time(c->loop);
    uint64_t now = uv_now(c->loop);
    if (store_read_begin(c->store, &t) == 0) {
        for (size_t i = 0; i < c->n; i++)
            json_array_append_new(out, child_json(c, c->child[i], t, now));
        store_read_end(&t);
    }
    list_ctx_t l = {c, out};
    children_allow_foreach(c->store, add_allowed, &l);
    return out;
}

static int add_origin(const char *origin, const char *key, void *arg)
{
    (void)key;
    return json_array_append_new(arg, json_string(origin)) ? LD_ENOMEM : 0;
}

json_t *children_json_stored(store_t *s, const char *self)
{
    (void)self;
    /* The allowed origins first: children_allow_foreach holds a read
     * transaction, and a thread gets one at a time. */
    json_t *origins = json_array(), *out = json_array();
    children_allow_foreach(s, add_origin, origins);
    store_txn_t *t = NULL;
    store_read_begin(s, &t);
    size_t i;
    json_t *o;
    json_array_foreach(origins, i, o) {
        const char *origin = json_string_value(o);
        json_t *rec = t ? children_record_get(t, origin) : NULL;
        store_head_t h = {0};
        if (t)
            store_head_get(t, origin, &h);
        if (!rec)
            rec = json_object();
        json_object_set_new(rec, "origin", json_string(origin));
        json_object_set_new(rec, "connected", json_false());
        json_object_set_new(rec, "held", json_integer((json_int_t)h.seq));
        json_object_set_new(rec, "state", json_string("hub daemon not running"));
        json_array_append_new(out, rec);
    }
    store_read_end(&t);
    json_decref(origins);
    return out;
}
