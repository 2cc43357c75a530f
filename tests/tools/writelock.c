/*
 * liandong-writelock -- holds a store's LMDB writer lock for a while, for
 * tests of what a daemon does while it waits for it.
 *
 *   liandong-writelock --dir STORE_DIR --ms N
 *
 * Opens the store, begins a write transaction, prints "locked" (flushed),
 * sleeps N ms without using the CPU, and commits nothing. A big import
 * holds the lock as well, but also takes both cores of a small machine,
 * which starves the daemons under test in ways that have nothing to do with
 * the lock.
 */
#include "common/err.h"
#include "common/store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int hold(store_txn_t *t, void *arg)
{
    (void)t;
    long ms = *(long *)arg;
    printf("locked\n");
    fflush(stdout);
    struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&d, &d) != 0)
        ;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'}, {"ms", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    long ms = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd') dir = optarg;
        else if (c == 'm') ms = atol(optarg);
        else return 2;
    }
    if (!dir || ms <= 0) {
        fprintf(stderr, "usage: liandong-writelock --dir STORE_DIR --ms N\n");
        return 2;
    }
    store_t *s;
    int rc = store_open(dir, 0, NULL, &s);
    if (!rc)
        rc = store_write(s, hold, &ms);
    if (rc)
        fprintf(stderr, "liandong-writelock: %s\n", err_msg());
    store_close(&s);
    return rc ? 1 : 0;
}
