/*
 * liandong-latency -- one record at a township until it is visible at the
 * city, N times (the online path of BRIEF section 4, measured end to end).
 *
 *   liandong-latency --node DIR --city DIR [--n 1000]
 *
 * Each round appends one event to the township's store exactly as `record`
 * does (one durable commit, then a nudge to the running daemon) and then
 * watches the city's store until its head for the township reaches that
 * seq; the city commits durably before it counts. Prints
 *   latency: n=N p50_ms=… p99_ms=… max_ms=…
 * Needs the daemons of the whole path running.
 */
#include "common/err.h"
#include "common/nudge.h"
#include "common/unit.h"
#include "proto/json.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct rec {
    store_new_t ev;
    store_ref_t ref;
} rec_t;

static int append_fn(store_txn_t *t, void *arg)
{
    rec_t *r = arg;
    return store_txn_append(t, &r->ev, &r->ref);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int wait_for(store_t *city, const char *origin, uint64_t seq, double limit_ms)
{
    double start = now_ms();
    struct timespec nap = {0, 20000};
    for (;;) {
        store_txn_t *t;
        store_head_t h = {0};
        if (store_read_begin(city, &t) == 0) {
            store_head_get(t, origin, &h);
            store_read_end(&t);
        }
        if (h.seq >= seq)
            return 0;
        if (now_ms() - start > limit_ms)
            return -1;
        nanosleep(&nap, NULL);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"node", required_argument, NULL, 'n'}, {"city", required_argument, NULL, 'c'},
        {"n", required_argument, NULL, 'N'}, {NULL, 0, NULL, 0},
    };
    const char *node_dir = NULL, *city_dir = NULL;
    int n = 1000, c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'n') node_dir = optarg;
        else if (c == 'c') city_dir = optarg;
        else if (c == 'N') n = atoi(optarg);
        else return 2;
    }
    if (!node_dir || !city_dir || n < 1) {
        fprintf(stderr, "usage: liandong-latency --node DIR --city DIR [--n N]\n");
        return 2;
    }
    unit_t *node, *city;
    if (unit_open(node_dir, NULL, &node) || unit_open(city_dir, NULL, &city)) {
        fprintf(stderr, "liandong-latency: %s\n", err_msg());
        return 1;
    }
    json_t *body = json_pack("{s:s, s:s, s:s}", "deputy", "d0001", "channel", "reception_day",
                             "topic", "春耕备耕农资供应情况");
    buf_t packed = BUF_INIT;
    proto_body_pack_json(body, &packed);
    json_decref(body);
    double *lat = calloc((size_t)n, sizeof *lat);
    const char *origin = store_origin(node->store);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        rec_t r = {.ev = {.kind = "deputy.contact", .date = "2026-03-05",
                          .body = packed.data, .body_len = packed.len}};
        double t0 = now_ms();
        if ((rc = store_write(node->store, append_fn, &r)))
            break;
        nudge_send(node->dir);
        if (wait_for(city->store, origin, r.ref.seq, 10000)) {
            rc = err_set(LD_ETIMEOUT, "event %llu did not reach the city in 10 s",
                         (unsigned long long)r.ref.seq);
            break;
        }
        lat[i] = now_ms() - t0;
    }
    if (rc) {
        fprintf(stderr, "liandong-latency: %s\n", err_msg());
        return 1;
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    printf("latency: n=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", n, lat[n / 2],
           lat[(n * 99) / 100 - (n >= 100 ? 1 : 0)], lat[n - 1]);
    free(lat);
    buf_free(&packed);
    unit_close(&node);
    unit_close(&city);
    return 0;
}
