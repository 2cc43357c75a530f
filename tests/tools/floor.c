/*
 * liandong-floor -- what the parts of a catch-up that the design requires
 * cost per event on this machine, each alone, and the throughput that
 * leaves as an upper bound (scripts/bench/floor).
 *
 *   liandong-floor --dir NODE_DIR [--reps N]
 *
 * Reads every event of the node's store (real bytes, as `import` made them)
 * and times, per event:
 *   decode  proto_event_decode(STRICT): what each hub does to what it receives
 *   hash    BLAKE2b-256 of the event: each hub, for the chain check
 *   curve   CurveZMQ's box (XSalsa20-Poly1305) sealed and opened once, on
 *           batches of 1,024 events: one hop, both ends, without libzmq's
 *           own copies and framing
 *   lmdb    the bytes put into LMDB under (origin, seq) in runs of at most
 *           256 events / 32 KiB (the store's chunks), four origins
 *           interleaved in runs of 1,024, committed durably every 8,192
 *           events (a hub's group), with one head record per origin per commit
 * A township -> district -> city catch-up pays each of these twice (two
 * hops, two hubs), so the floor per event is 2 * (decode + hash + curve +
 * lmdb), and with C cores (default 2) no implementation of this design
 * passes C / floor events/s: everything else (the views, forwarding,
 * sockets, the townships reading their logs) comes on top. One line:
 *
 *   floor: events=N decode_ns= hash_ns= curve_ns= lmdb_ns= floor_ns= max_eps=
 */
#include "common/err.h"
#include "common/store.h"
#include "common/unit.h"
#include "proto/event.h"

#include <getopt.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CURVE_BATCH 1024
#define LMDB_GROUP  8192
#define ORIGINS     4
#define CHUNK_EVENTS 256
#define CHUNK_BYTES  32768

typedef struct raw {
    uint8_t *d;
    size_t len;
} raw_t;

static raw_t *evs;
static size_t nev, cap;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int keep(const char *origin, uint64_t seq, const uint8_t *v, size_t len, void *arg)
{
    (void)origin, (void)seq, (void)arg;
    if (nev == cap) {
        size_t n = cap ? cap * 2 : 4096;
        raw_t *p = realloc(evs, n * sizeof *p);
        if (!p)
            return err_set(LD_ENOMEM, "out of memory");
        evs = p, cap = n;
    }
    if (!(evs[nev].d = malloc(len)))
        return err_set(LD_ENOMEM, "out of memory");
    memcpy(evs[nev].d, v, len);
    evs[nev++].len = len;
    return 0;
}

static double time_decode(int reps)
{
    double t0 = now_ns();
    for (int r = 0; r < reps; r++)
        for (size_t i = 0; i < nev; i++) {
            proto_event_t e;
            if (proto_event_decode(evs[i].d, evs[i].len, PROTO_DECODE_STRICT, &e)) {
                fprintf(stderr, "liandong-floor: event %zu: %s\n", i, err_msg());
                exit(1);
            }
        }
    return (now_ns() - t0) / ((double)reps * (double)nev);
}

static double time_hash(int reps)
{
    uint8_t h[PROTO_HASH_LEN];
    double t0 = now_ns();
    for (int r = 0; r < reps; r++)
        for (size_t i = 0; i < nev; i++)
            proto_hash(evs[i].d, evs[i].len, h);
    return (now_ns() - t0) / ((double)reps * (double)nev);
}

/* Batches of CURVE_BATCH events laid end to end, as a BATCH message holds
 * them; each sealed and opened with a precomputed key, as CurveZMQ does
 * after its handshake. */
static double time_curve(int reps)
{
    unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
    unsigned char k[crypto_box_BEFORENMBYTES], nonce[crypto_box_NONCEBYTES] = {0};
    crypto_box_keypair(pk, sk);
    if (crypto_box_beforenm(k, pk, sk) != 0)
        exit(1);
    size_t most = 0;
    for (size_t i = 0; i < nev; i += CURVE_BATCH) {
        size_t b = 0;
        for (size_t j = i; j < nev && j < i + CURVE_BATCH; j++)
            b += evs[j].len;
        most = b > most ? b : most;
    }
    unsigned char *plain = malloc(most), *box = malloc(most + crypto_box_MACBYTES);
    if (!plain || !box)
        exit(1);
    double spent = 0;
    for (int r = 0; r < reps; r++)
        for (size_t i = 0; i < nev; i += CURVE_BATCH) {
            size_t b = 0;
            for (size_t j = i; j < nev && j < i + CURVE_BATCH; j++) {
                memcpy(plain + b, evs[j].d, evs[j].len);
                b += evs[j].len;
            }
            double t0 = now_ns();
            nonce[0]++;
            crypto_box_easy_afternm(box, plain, b, nonce, k);
            if (crypto_box_open_easy_afternm(plain, box, b + crypto_box_MACBYTES, nonce, k)) {
                fprintf(stderr, "liandong-floor: a box did not open\n");
                exit(1);
            }
            spent += now_ns() - t0;
        }
    free(plain);
    free(box);
    return spent / ((double)reps * (double)nev);
}

static int lmdb_check(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "liandong-floor: %s: %s\n", what, mdb_strerror(rc));
        exit(1);
    }
    return 0;
}

/* Key: origin bytes, 0, seq big-endian -- the shape of the store's key. */
static size_t evkey(uint8_t *k, int origin, uint64_t seq)
{
    size_t n = (size_t)snprintf((char *)k, 40, "hrb/district/town%d", origin) + 1;
    for (int i = 7; i >= 0; i--)
        k[n++] = (uint8_t)(seq >> (8 * i));
    return n;
}

static double time_lmdb(const char *dir)
{
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi events, heads;
    lmdb_check(mdb_env_create(&env), "env");
    mdb_env_set_maxdbs(env, 4);
    mdb_env_set_mapsize(env, (size_t)4 << 30);
    lmdb_check(mdb_env_open(env, dir, MDB_NOSUBDIR, 0600), dir);
    lmdb_check(mdb_txn_begin(env, NULL, 0, &t), "begin");
    lmdb_check(mdb_dbi_open(t, "events", MDB_CREATE, &events), "dbi");
    lmdb_check(mdb_dbi_open(t, "heads", MDB_CREATE, &heads), "dbi");
    lmdb_check(mdb_txn_commit(t), "commit");
    /* Each event goes in once per origin copy: ORIGINS logs of nev events,
     * interleaved in runs, as four townships' batches reach a district. */
    size_t total = nev * ORIGINS, done = 0;
    uint8_t *chunk = malloc(CHUNK_BYTES + 70000);
    if (!chunk)
        exit(1);
    double t0 = now_ns();
    while (done < total) {
        lmdb_check(mdb_txn_begin(env, NULL, 0, &t), "begin");
        size_t end = done + LMDB_GROUP < total ? done + LMDB_GROUP : total;
        while (done < end) {
            /* one chunk: consecutive events of one origin's run */
            size_t run = done / CURVE_BATCH, len = 1, n = 0;
            int origin = (int)(run % ORIGINS);
            size_t i0 = (run / ORIGINS) * CURVE_BATCH + done % CURVE_BATCH;
            chunk[0] = 0xc1;
            while (done < end && done / CURVE_BATCH == run && n < CHUNK_EVENTS) {
                const raw_t *e = &evs[(i0 + n) % nev];
                if (n && len + 4 + e->len > CHUNK_BYTES)
                    break;
                for (int b = 3; b >= 0; b--)
                    chunk[len++] = (uint8_t)(e->len >> (8 * b));
                memcpy(chunk + len, e->d, e->len);
                len += e->len;
                n++, done++;
            }
            uint8_t k[64];
            MDB_val key = {evkey(k, origin, i0 + 1), k}, val = {len, chunk};
            lmdb_check(mdb_put(t, events, &key, &val, 0), "put");
        }
        for (int o = 0; o < ORIGINS; o++) {
            uint8_t k[64], head[40] = {0};
            MDB_val key = {(size_t)snprintf((char *)k, 40, "hrb/district/town%d", o), k};
            MDB_val val = {sizeof head, head};
            lmdb_check(mdb_put(t, heads, &key, &val, 0), "put head");
        }
        lmdb_check(mdb_txn_commit(t), "commit"); /* durable: data fdatasync, then meta */
    }
    double per = (now_ns() - t0) / (double)total;
    free(chunk);
    mdb_env_close(env);
    return per;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'}, {"reps", required_argument, NULL, 'r'},
        {"cores", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    int reps = 5, cores = 2, c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd') dir = optarg;
        else if (c == 'r') reps = atoi(optarg);
        else if (c == 'c') cores = atoi(optarg);
        else {
            fprintf(stderr, "usage: liandong-floor --dir NODE_DIR [--reps N] [--cores C]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (!dir || reps < 1 || cores < 1 || sodium_init() < 0) {
        fprintf(stderr, "usage: liandong-floor --dir NODE_DIR [--reps N] [--cores C]\n");
        return 2;
    }
    unit_t *u;
    store_txn_t *t;
    if (unit_open_rdonly(dir, NULL, &u) || store_read_begin(u->store, &t)) {
        fprintf(stderr, "liandong-floor: %s\n", err_msg());
        return 1;
    }
    int rc = store_events_foreach(t, "", 0, keep, NULL);
    store_read_end(&t);
    unit_close(&u);
    if (rc || nev == 0) {
        fprintf(stderr, "liandong-floor: %s\n", rc ? err_msg() : "the store holds no events");
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/floor.mdb", dir);
    double decode = time_decode(reps), hash = time_hash(reps), curve = time_curve(reps);
    double lmdb = time_lmdb(path);
    remove(path);
    snprintf(path, sizeof path, "%s/floor.mdb-lock", dir);
    remove(path);
    double floor_ns = 2 * (decode + hash + curve + lmdb);
    printf("floor: events=%zu decode_ns=%.0f hash_ns=%.0f curve_ns=%.0f lmdb_ns=%.0f "
           "floor_ns=%.0f max_eps=%.0f\n", nev, decode, hash, curve, lmdb, floor_ns,
           cores * 1e9 / floor_ns);
    for (size_t i = 0; i < nev; i++)
        free(evs[i].d);
    free(evs);
    return 0;
}
