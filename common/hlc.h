/*
 * hlc.h -- hybrid logical clock (Kulkarni et al.), packed into 64 bits.
 *
 * A stamp is (physical_ms << 16) | logical. Stamps from one clock strictly
 * increase even when the wall clock jumps backwards (office PCs are often
 * wrong), and observing a remote stamp moves the clock past it, so an event
 * recorded after receiving another sorts after it everywhere.
 *
 * The clock source is injectable so tests never sleep. The state is a plain
 * value; the store persists it in its meta database inside the same
 * transaction as the event it stamps, which makes it shared and monotonic
 * across processes using one data directory.
 */
#ifndef LD_COMMON_HLC_H
#define LD_COMMON_HLC_H

#include <stdint.h>

typedef uint64_t (*hlc_clock_fn)(void *arg); /* wall time in ms since the epoch */

typedef struct hlc {
    uint64_t last;          /* the last stamp issued or observed */
    hlc_clock_fn clock;     /* NULL: the real clock (CLOCK_REALTIME) */
    void *clock_arg;
} hlc_t;

#define HLC_PHYSICAL(stamp) ((stamp) >> 16)
#define HLC_LOGICAL(stamp)  ((stamp) & 0xffffu)

void hlc_init(hlc_t *h, uint64_t last, hlc_clock_fn clock, void *clock_arg);
/* A new stamp, strictly greater than every stamp issued or observed. */
uint64_t hlc_now(hlc_t *h);
/* Takes a remote stamp into account (receive rule). Stamps from more than
 * HLC_MAX_DRIFT_MS in the future of our wall clock are ignored, so that one
 * PC with its clock set to 2099 cannot drag every clock in the city along. */
void hlc_observe(hlc_t *h, uint64_t remote);
#define HLC_MAX_DRIFT_MS (24ull * 3600 * 1000)

/* The real clock. */
uint64_t hlc_wall_ms(void *arg);

#endif
