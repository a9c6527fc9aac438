/*
 * A libuv timer for an owner (a call, an operation, a cluster) that may be
 * freed before libuv has finished closing the timer.  The timer lives in
 * its own allocation with a pointer back to the owner; looptimer_free()
 * cuts that pointer and closes the handle, and libuv's close callback
 * releases the memory.  A callback never runs after looptimer_free().
 */
#ifndef EC2M_LOOPTIMER_H
#define EC2M_LOOPTIMER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

struct looptimer;

/* Called by libuv when the timer fires, with the owner. */
typedef void looptimer_fn(void *owner);

struct looptimer *looptimer_new(uv_loop_t *loop, void *owner);
/* (Re)starts the timer: fn(owner) runs once, after ms milliseconds. */
void looptimer_start(struct looptimer *t, uint64_t ms, looptimer_fn *fn);
void looptimer_stop(struct looptimer *t);
bool looptimer_active(const struct looptimer *t);
/* Milliseconds until it fires (0 when not active). */
uint64_t looptimer_due_in(const struct looptimer *t);
/* Stops it for good; NULL is a no-op. */
void looptimer_free(struct looptimer *t);

#endif
