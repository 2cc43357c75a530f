/*
 * zap.c -- the ZAP handler (RFC 27) on a ROUTER socket driven by zloop; see
 * zap.h. The allow table is a small array searched linearly: a hub has tens
 * of children, and it is consulted once per connection, not per message.
 */
#include "common/zap.h"

#include "common/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* ZMQ_ZAP_ENFORCE_DOMAIN is a draft option in libzmq 4.3: only in zmq.h with
 * ZMQ_BUILD_DRAFT_API, and only honoured by a library built with drafts. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

struct zap_entry {
    char key[KEYS_Z85_LEN + 1];
    char *origin;
};

/* A request as it arrives on a ROUTER: libzmq sends [empty delimiter,
 * version, request id, domain, address, routing id, mechanism, credentials...]
 * and the ROUTER puts the asking session's routing id in front. */
enum {
    F_RID, F_DELIM, F_VERSION, F_REQID, F_DOMAIN, F_ADDRESS, F_IDENTITY,
    F_MECHANISM, F_CREDENTIALS
};

static bool frame_is(zloop_msg_t *m, size_t i, const char *s)
{
    size_t len;
    const void *d = zloop_msg_data(m, i, &len);
    return len == strlen(s) && memcmp(d, s, len) == 0;
}

/* Copies frame i as a printable string (for logs), truncated to size - 1. */
static void frame_copy(zloop_msg_t *m, size_t i, char *out, size_t size)
{
    size_t len, n = 0;
    const char *d = zloop_msg_data(m, i, &len);
    for (; n < len && n + 1 < size; n++)
        out[n] = (d[n] >= 0x20 && d[n] < 0x7f) ? d[n] : '?';
    out[n] = '\0';
}

static void reply(zap_t *z, zloop_msg_t *m, const char *code, const char *text,
                  const char *user_id)
{
    zloop_frame_t f[8];
    f[0].data = zloop_msg_data(m, F_RID, &f[0].len);
    f[1] = (zloop_frame_t){"", 0};
    f[2] = (zloop_frame_t){"1.0", 3};
    f[3].data = zloop_msg_data(m, F_REQID, &f[3].len);
    f[4] = (zloop_frame_t){code, strlen(code)};
    f[5] = (zloop_frame_t){text, strlen(text)};
    f[6] = (zloop_frame_t){user_id, strlen(user_id)};
    f[7] = (zloop_frame_t){"", 0};          /* no extra metadata */
    /* Failure means the asking session is gone: nothing left to answer. */
    (void)zloop_sendv(&z->w, f, 8);
}

static void refuse(zap_t *z, zloop_msg_t *m, const char *text, const char *key)
{
    z->refused++;
    snprintf(z->last_refused_key, sizeof z->last_refused_key, "%s", key ? key : "");
    z->last_refused_mechanism[0] = z->last_refused_address[0] = '\0';
    if (m->count > F_MECHANISM) {
        frame_copy(m, F_MECHANISM, z->last_refused_mechanism,
                   sizeof z->last_refused_mechanism);
        frame_copy(m, F_ADDRESS, z->last_refused_address,
                   sizeof z->last_refused_address);
    }
    reply(z, m, "400", text, "");
}

static void on_request(zloop_t *w, zloop_msg_t *m)
{
    zap_t *z = w->data;
    size_t len;

    /* Without a routing id, delimiter and request id there is no one to
     * answer; only libzmq itself can reach this inproc endpoint anyway. */
    if (m->count <= F_REQID || (zloop_msg_data(m, F_DELIM, &len), len != 0))
        return;
    if (m->count <= F_MECHANISM || !frame_is(m, F_VERSION, "1.0")) {
        refuse(z, m, "malformed ZAP request", NULL);
        return;
    }
    if (z->domain && !frame_is(m, F_DOMAIN, z->domain)) {
        refuse(z, m, "wrong ZAP domain", NULL);
        return;
    }
    if (!frame_is(m, F_MECHANISM, "CURVE") || m->count != F_CREDENTIALS + 1) {
        refuse(z, m, "only CURVE is accepted", NULL);
        return;
    }
    const uint8_t *key = zloop_msg_data(m, F_CREDENTIALS, &len);
    char z85[KEYS_Z85_LEN + 1];
    if (len != 32 || !zmq_z85_encode(z85, key, len)) {
        refuse(z, m, "malformed CURVE key", NULL);
        return;
    }
    const char *origin = zap_lookup(z, z85);
    if (!origin) {
        refuse(z, m, "key not allowed", z85);
        return;
    }
    z->accepted++;
    reply(z, m, "200", "OK", origin);
}

int zap_init(uv_loop_t *loop, zap_t *z, void *zctx)
{
    int linger = 0, rc;

    *z = (zap_t){0};
    z->sock = zmq_socket(zctx, ZMQ_ROUTER);
    if (!z->sock)
        return err_set(-zmq_errno(), "ZAP socket: %s", zmq_strerror(zmq_errno()));
    zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(z->sock, ZAP_ENDPOINT) != 0) {
        int e = zmq_errno();
        zmq_close(z->sock);
        z->sock = NULL;
        return err_set(-e, "%s: %s%s", ZAP_ENDPOINT, zmq_strerror(e),
                       e == EADDRINUSE ? " (a ZAP handler already runs in this context)" : "");
    }
    if ((rc = zloop_init(loop, &z->w, z->sock)) != 0) {
        zmq_close(z->sock);
        z->sock = NULL;
        return err_set(rc, "ZAP socket on the loop: %s", err_str(rc));
    }
    z->w.data = z;
    return 0;
}

int zap_start(zap_t *z)
{
    return zloop_start(&z->w, on_request);
}

int zap_stop(zap_t *z)
{
    return zloop_stop(&z->w);
}

static void on_closed(zloop_t *w)
{
    zap_t *z = w->data;
    zmq_close(z->sock);
    z->sock = NULL;
    zap_clear(z);
    free(z->allow);
    z->allow = NULL;
    z->cap_allow = 0;
    free(z->domain);
    z->domain = NULL;
    if (z->close_cb)
        z->close_cb(z);
}

void zap_close(zap_t *z, zap_close_cb cb)
{
    z->close_cb = cb;
    zloop_close(&z->w, on_closed);
}

int zap_set_domain(zap_t *z, const char *domain)
{
    char *copy = NULL;
    if (domain && *domain && !(copy = strdup(domain)))
        return err_set(LD_ENOMEM, "out of memory");
    free(z->domain);
    z->domain = copy;
    return 0;
}

static bool origin_valid(const char *origin)
{
    size_t len = origin ? strnlen(origin, ZAP_ORIGIN_MAX + 1) : 0;
    if (len == 0 || len > ZAP_ORIGIN_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (origin[i] <= 0x20 || origin[i] >= 0x7f)
            return false;
    return true;
}

int zap_allow(zap_t *z, const char *origin, const char *key_z85)
{
    if (!keys_valid_public(key_z85))
        return err_set(LD_EINVAL, "not a CURVE public key (40 characters of Z85)");
    if (!origin_valid(origin))
        return err_set(LD_EINVAL, "bad origin id (1..%d printable ASCII characters)",
                       ZAP_ORIGIN_MAX);
    const char *holder = zap_lookup(z, key_z85);
    if (holder) {
        if (strcmp(holder, origin) == 0)
            return 0;
        return err_set(LD_EEXIST, "key %s is already allowed for %s", key_z85, holder);
    }
    if (z->n_allow == z->cap_allow) {
        size_t cap = z->cap_allow ? 2 * z->cap_allow : 8;
        struct zap_entry *a = realloc(z->allow, cap * sizeof *a);
        if (!a)
            return err_set(LD_ENOMEM, "out of memory");
        z->allow = a;
        z->cap_allow = cap;
    }
    struct zap_entry *e = &z->allow[z->n_allow];
    if (!(e->origin = strdup(origin)))
        return err_set(LD_ENOMEM, "out of memory");
    memcpy(e->key, key_z85, sizeof e->key);
    z->n_allow++;
    return 0;
}

int zap_deny(zap_t *z, const char *origin)
{
    if (!origin)
        return err_set(LD_ENOTFOUND, "no origin given");
    size_t kept = 0;
    for (size_t i = 0; i < z->n_allow; i++) {
        if (strcmp(z->allow[i].origin, origin) == 0)
            free(z->allow[i].origin);
        else
            z->allow[kept++] = z->allow[i];
    }
    if (kept == z->n_allow)
        return err_set(LD_ENOTFOUND, "no key is allowed for %s", origin);
    z->n_allow = kept;
    return 0;
}

void zap_clear(zap_t *z)
{
    for (size_t i = 0; i < z->n_allow; i++)
        free(z->allow[i].origin);
    z->n_allow = 0;
}

const char *zap_lookup(const zap_t *z, const char *key_z85)
{
    if (!key_z85)
        return NULL;
    for (size_t i = 0; i < z->n_allow; i++)
        if (strcmp(z->allow[i].key, key_z85) == 0)
            return z->allow[i].origin;
    return NULL;
}

bool zap_origin_allowed(const zap_t *z, const char *origin)
{
    if (!origin)
        return false;
    for (size_t i = 0; i < z->n_allow; i++)
        if (strcmp(z->allow[i].origin, origin) == 0)
            return true;
    return false;
}

int zap_guard(const zap_t *z, void *sock)
{
    /* libzmq 4.3 consults ZAP for CURVE unless ZMQ_ZAP_ENFORCE_DOMAIN is set
     * *without* a domain, in which case it skips ZAP and admits everyone. So
     * a domain is always set, and enforcement (no handler -> refuse instead
     * of admit) only together with it. */
    const char *domain = z->domain ? z->domain : ZAP_DOMAIN_DEFAULT;
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) != 0)
        return err_set(-zmq_errno(), "ZMQ_ZAP_DOMAIN: %s", zmq_strerror(zmq_errno()));
    /* EINVAL: a libzmq without the draft option; the ordering rule in zap.h
     * is then the only protection. */
    if (zmq_setsockopt(sock, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof one) != 0
        && zmq_errno() != EINVAL)
        return err_set(-zmq_errno(), "ZMQ_ZAP_ENFORCE_DOMAIN: %s", zmq_strerror(zmq_errno()));
    return 0;
}
