/*
 * stall.h -- telling a daemon's own stall from its peer's silence.
 *
 * A periodic libuv timer runs late by however long the loop was blocked (a
 * long commit, the store's writer lock held by an import), and meanwhile
 * the peers' messages wait unread in the sockets. Heartbeat checks measure
 * that lateness and do not count it against the peers. Loop thread only;
 * no state beyond the caller's two timestamps.
 */
#ifndef LD_COMMON_STALL_H
#define LD_COMMON_STALL_H

#include <stdint.h>

/* The timer's lateness beyond one period, if more than one more period
 * (0 otherwise, and on the first tick); records `now` as the last tick. */
static inline uint64_t stall_measure(uint64_t *last_tick_ms, uint64_t now, uint64_t period_ms)
{
    uint64_t stalled = *last_tick_ms && now - *last_tick_ms > 2 * period_ms
                           ? now - *last_tick_ms - period_ms : 0;
    *last_tick_ms = now;
    return stalled;
}

/* Moves a peer's last-heard time forward by the stall, never past now. */
static inline void stall_forgive(uint64_t *heard_ms, uint64_t stalled, uint64_t now)
{
    *heard_ms = *heard_ms + stalled < now ? *heard_ms + stalled : now;
}

#endif
