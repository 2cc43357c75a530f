/*
 * liandong-await -- waits until a store holds at least N events, for the
 * benchmarks.
 *
 *   liandong-await --dir STORE_DIR --events N [--timeout S] [--every MS]
 *
 * Opens the LMDB store read-only (the running daemon keeps writing) and
 * polls its event count every MS milliseconds (default 5). Once the count
 * reaches N it prints `reached=SECONDS` (the wall clock, as `date +%s.%N`)
 * and exits 0; 1 on a timeout (default 600 s) or an error.
 *
 * Why not `liandong-node status --json | jq .events` in a shell loop: at
 * 20 polls a second that costs a process start, a view attach and a jq run
 * each time -- 10-15% of a 2-core machine during `scripts/bench/catchup`,
 * taken from the daemons being measured.
 */
#include "common/err.h"
#include "common/store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'}, {"events", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 't'}, {"every", required_argument, NULL, 'e'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    unsigned long long want = 0;
    double timeout = 600;
    long every_ms = 5;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd') dir = optarg;
        else if (c == 'n') want = strtoull(optarg, NULL, 10);
        else if (c == 't') timeout = atof(optarg);
        else if (c == 'e') every_ms = atol(optarg);
        else return 2;
    }
    if (!dir || !want || timeout <= 0 || every_ms < 1) {
        fprintf(stderr, "usage: liandong-await --dir STORE_DIR --events N [--timeout S] "
                        "[--every MS]\n");
        return 2;
    }
    store_t *s;
    if (store_open(dir, STORE_RDONLY, NULL, &s)) {
        fprintf(stderr, "liandong-await: %s\n", err_msg());
        return 1;
    }
    struct timespec nap = {every_ms / 1000, (every_ms % 1000) * 1000000L};
    double end = now_s() + timeout;
    store_info_t info = {0};
    int rc = 1;
    for (;;) {
        store_txn_t *t;
        if (store_read_begin(s, &t) == 0) {
            store_info_get(t, &info);
            store_read_end(&t);
        }
        if (info.events >= want) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            printf("reached=%lld.%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
            rc = 0;
            break;
        }
        if (now_s() > end) {
            fprintf(stderr, "liandong-await: %llu of %llu events after %.0f s\n",
                    (unsigned long long)info.events, want, timeout);
            break;
        }
        nanosleep(&nap, NULL);
    }
    store_close(&s);
    return rc;
}
