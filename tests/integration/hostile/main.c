/*
 * main.c -- liandong-hostile: a misbehaving child, for
 * tests/integration/test_sync_hostile.sh.
 *
 *   liandong-hostile MODE --endpoint tcp://HOST:PORT --server-key KEY
 *                    [--dir CHILD_DIR] [--victim-dir DIR] [--as ORIGIN]
 *                    [--phase N] [--seq N] [--vv N] [--count N] [--timeout S]
 *   liandong-hostile ctl --dir DATA_DIR [CMD]   (a running daemon's ctl reply,
 *                    e.g. the hub's "status" counters, which the CLI does not show)
 *
 * It connects to a running hub the way a child does (DEALER to PORT, XPUB
 * to PORT+1, SUB to PORT+2), with the CurveZMQ key pair of CHILD_DIR, a
 * fresh one, or none, and does one bad thing (MODE, see usage()). It exits 0
 * if it managed to send it and 1 if it could not (bad arguments, no
 * connection, no WELCOME when one was needed); what the hub made of it is
 * for the script to check with the CLI. Lines on stdout, each "hostile:
 * ...", say what came back (WELCOME, ACK heads, ERROR codes, handshake and
 * disconnect events), so a failing run shows what the hub did.
 *
 * The events it sends are real: CHILD_DIR's own log read from its store
 * (opened read-only; no daemon may run on it), continued with events it
 * generates itself, chained with proto_hash. The generated part is
 * deterministic (fixed HLC, body derived from seq), so two runs build the
 * same chain and a later run can equivocate on an event an earlier one
 * sent. Everything is bounded in time by --timeout (default 10 s).
 *
 * This file holds the command line; hostile.h lists the other pieces:
 * wire.c (sockets and control messages), chain.c (the events), modes.c
 * (who may send what) and garbage.c (malformed, oversized, floods).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include <jansson.h>
#include <sodium.h>

#include "common/ctl.h"
#include "common/err.h"
#include "common/link_up.h"
#include "hostile.h"

typedef struct opts {
    const char *mode, *endpoint, *server_key, *dir, *victim_dir, *as;
    int phase, n_vv, count;
    uint64_t seq;
    int timeout_s;
} opts_t;

static int usage(void)
{
    fprintf(stderr,
        "usage: liandong-hostile MODE --endpoint tcp://HOST:PORT --server-key KEY\n"
        "         [--dir CHILD_DIR] [--victim-dir DIR] [--as ORIGIN] [--phase 1|2]\n"
        "         [--seq N] [--timeout SECONDS]\n"
        "       liandong-hostile ctl --dir DATA_DIR [CMD]\n\n"
        "modes: no-curve, unknown-key (HELLO and BATCH as --as or the victim),\n"
        "  foreign-origin, forged-hello (need --victim-dir), malformed,\n"
        "  seq-gap (--phase 1: seq 1-3 and 7-9; 2: seq 4-6), replay-different (--seq N),\n"
        "  oversized [--vv N: entries of the HELLO flood], origin-flood [--count N],\n"
        "  eavesdrop --as OTHER_CHILD [--count SECONDS] (--dir: whose key).\n"
        "Exit 0: the bad thing was sent; the hub's reaction is printed, not judged.\n");
    return 2;
}

static int ctl_mode(const char *dir, const char *cmd)
{
    json_t *req = json_pack("{s:s}", "cmd", cmd), *rep = NULL;
    int rc = ctl_call(dir, req, 3000, &rep);
    json_decref(req);
    if (rc)
        return die(err_msg());
    char *s = json_dumps(rep, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(rep);
    return 0;
}

/* Opens DIR/store read-only: its origin (*origin) and epoch (h->epoch if h). */
static store_t *open_child(const char *dir, hx_t *h)
{
    char path[4096];
    store_t *s = NULL;
    snprintf(path, sizeof path, "%s/store", dir);
    if (store_open(path, STORE_RDONLY, NULL, &s)) {
        fprintf(stderr, "liandong-hostile: %s: %s\n", path, err_msg());
        exit(1);
    }
    store_txn_t *t;
    const void *v;
    size_t len;
    if (h && store_read_begin(s, &t) == 0) {
        if (store_meta_get(t, "epoch", &v, &len) == 0 && len <= MSG_EPOCH_MAX)
            snprintf(h->epoch, sizeof h->epoch, "%.*s", (int)len, (const char *)v);
        store_read_end(&t);
    }
    return s;
}

static int run(hx_t *h, const opts_t *o)
{
    store_t *victim = o->victim_dir ? open_child(o->victim_dir, NULL) : NULL;
    const char *vorigin = victim ? store_origin(victim) : o->as ? o->as : h->origin;
    const char *m = o->mode;
    int rc;
    if (strcmp(m, "no-curve") == 0 || strcmp(m, "unknown-key") == 0) {
        h->curve = strcmp(m, "unknown-key") == 0;
        char pub[KEYS_Z85_LEN + 1], sec[KEYS_Z85_LEN + 1];
        if (h->curve && zmq_curve_keypair(pub, sec))
            return die("zmq_curve_keypair failed");
        memcpy(h->keys.public, pub, sizeof pub);
        memcpy(h->keys.secret, sec, sizeof sec);
        rc = mode_unadmitted(h, o->as ? o->as : vorigin, victim);
    } else if (strcmp(m, "eavesdrop") == 0 && o->as) {
        rc = mode_eavesdrop(h, o->as, o->count ? o->count : 3);
    } else if (!h->store) {
        rc = die("this mode needs --dir CHILD_DIR");
    } else if (strcmp(m, "foreign-origin") == 0 && victim) {
        rc = mode_foreign(h, victim, vorigin);
    } else if (strcmp(m, "forged-hello") == 0 && victim) {
        rc = mode_forged(h, victim, vorigin);
    } else if (strcmp(m, "malformed") == 0) {
        rc = mode_malformed(h, o->endpoint);
    } else if (strcmp(m, "oversized") == 0) {
        rc = mode_oversized(h, o->n_vv);
    } else if (strcmp(m, "seq-gap") == 0) {
        rc = mode_seq_gap(h, o->phase);
    } else if (strcmp(m, "origin-flood") == 0) {
        rc = mode_origin_flood(h, o->count ? o->count : 1000);
    } else if (strcmp(m, "replay-different") == 0) {
        rc = mode_replay(h, o->seq);
    } else {
        rc = usage();
    }
    store_close(&victim);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"endpoint", 1, 0, 'e'}, {"server-key", 1, 0, 'k'}, {"dir", 1, 0, 'd'},
        {"victim-dir", 1, 0, 'v'}, {"as", 1, 0, 'a'}, {"phase", 1, 0, 'p'},
        {"seq", 1, 0, 's'}, {"timeout", 1, 0, 't'}, {"vv", 1, 0, 'V'}, {"count", 1, 0, 'c'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    opts_t o = {.phase = 1, .seq = 5, .timeout_s = 10, .n_vv = MSG_VV_MAX};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'e': o.endpoint = optarg; break;
        case 'k': o.server_key = optarg; break;
        case 'd': o.dir = optarg; break;
        case 'v': o.victim_dir = optarg; break;
        case 'a': o.as = optarg; break;
        case 'p': o.phase = atoi(optarg); break;
        case 's': o.seq = strtoull(optarg, NULL, 10); break;
        case 't': o.timeout_s = atoi(optarg); break;
        case 'V': o.n_vv = atoi(optarg); break;
        case 'c': o.count = atoi(optarg); break;
        default: return usage();
        }
    }
    if (optind >= argc)
        return usage();
    o.mode = argv[optind];
    if (strcmp(o.mode, "ctl") == 0)
        return o.dir ? ctl_mode(o.dir, optind + 1 < argc ? argv[optind + 1] : "status") : usage();
    if (!o.endpoint || !o.server_key || sodium_init() < 0)
        return usage();
    hx_t h = {.curve = true, .deadline_ms = now_ms() + (uint64_t)o.timeout_s * 1000};
    if (link_endpoints(o.endpoint, h.ep))
        return die(err_msg());
    snprintf(h.server_key, sizeof h.server_key, "%s", o.server_key);
    snprintf(h.origin, sizeof h.origin, "%s", o.as ? o.as : "hrb/hostile");
    if (o.dir) {
        if (keys_load(o.dir, &h.keys))
            return die(err_msg());
        h.store = open_child(o.dir, &h);
        snprintf(h.origin, sizeof h.origin, "%s", store_origin(h.store));
    }
    h.z = zmq_ctx_new();
    int rc = run(&h, &o);
    close_sockets(&h);
    zmq_ctx_term(h.z);
    store_close(&h.store);
    keys_wipe(&h.keys);
    buf_free(&h.rx);
    return rc;
}
