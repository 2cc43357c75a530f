/* hlc.c -- hybrid logical clock; see hlc.h. */
#include "common/hlc.h"

#include <time.h>

uint64_t hlc_wall_ms(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void hlc_init(hlc_t *h, uint64_t last, hlc_clock_fn clock, void *clock_arg)
{
    h->last = last;
    h->clock = clock ? clock : hlc_wall_ms;
    h->clock_arg = clock_arg;
}

uint64_t hlc_now(hlc_t *h)
{
    uint64_t wall = h->clock(h->clock_arg) << 16;
    /* When the wall clock is behind (or equal), the logical half counts up;
     * its overflow carries into the physical half, which is still monotonic. */
    h->last = wall > h->last ? wall : h->last + 1;
    return h->last;
}

void hlc_observe(hlc_t *h, uint64_t remote)
{
    /* Decided without the clock first: a hub observes every event it
     * merges, and reading the clock for each was 1 % of a catch-up. */
    if (remote <= h->last)
        return;
    uint64_t wall_ms = h->clock(h->clock_arg);
    if (HLC_PHYSICAL(remote) > wall_ms + HLC_MAX_DRIFT_MS)
        return;
    h->last = remote;
}
