/*
 * liandong-wrlock -- holds a unit's LMDB writer lock, as a daemon frozen in
 * the middle of a commit would (test_rdonly.sh).
 *
 *   liandong-wrlock --dir DIR [--seconds N]
 *
 * Opens the unit read-write, begins a write transaction, appends one event
 * of the unit's own origin (kind deputy.training, topic "uncommitted") that
 * is never committed, prints "locked" on standard output and sleeps inside
 * the transaction for N seconds (default 60) or until killed. The event is
 * then dropped: the transaction is aborted, so the store is unchanged.
 * Exit status 0 after the sleep, 1 on any error (message on stderr).
 */
#include "common/err.h"
#include "common/unit.h"
#include "proto/json.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct hold {
    unsigned seconds;
    bool slept;         /* the abort below is the one we asked for */
    store_new_t ev;
} hold_t;

static int hold_fn(store_txn_t *t, void *arg)
{
    hold_t *h = arg;
    store_ref_t ref;
    int rc = store_txn_append(t, &h->ev, &ref);
    if (rc)
        return rc;
    printf("locked\n");
    fflush(stdout);
    struct timespec left = {(time_t)h->seconds, 0};
    while (nanosleep(&left, &left) != 0)
        ;
    h->slept = true;
    return err_set(LD_EINVAL, "held the writer lock for %u s; aborted", h->seconds);
}

static int pack_body(buf_t *out)
{
    json_t *body = json_pack("{s:s, s:s, s:i}", "deputy", "d99", "topic", "uncommitted",
                             "hours", 1);
    if (!body)
        return err_set(LD_ENOMEM, "out of memory");
    int rc = proto_body_pack_json(body, out);
    json_decref(body);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'}, {"seconds", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    hold_t h = {.seconds = 60};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            dir = optarg;
        else if (c == 's')
            h.seconds = (unsigned)strtoul(optarg, NULL, 10);
        else
            return 2;
    }
    if (!dir) {
        fprintf(stderr, "usage: liandong-wrlock --dir DIR [--seconds N]\n");
        return 2;
    }
    unit_t *u;
    buf_t body = BUF_INIT;
    int rc = unit_open(dir, NULL, &u);
    if (rc) {
        fprintf(stderr, "liandong-wrlock: %s\n", err_msg());
        return 1;
    }
    if (!(rc = pack_body(&body))) {
        h.ev = (store_new_t){.kind = "deputy.training", .date = "2026-06-01",
                             .body = body.data, .body_len = body.len};
        rc = store_write(u->store, hold_fn, &h);
    }
    buf_free(&body);
    unit_close(&u);
    if (rc && !h.slept) {
        fprintf(stderr, "liandong-wrlock: %s\n", err_msg());
        return 1;
    }
    return 0;
}
