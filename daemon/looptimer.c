#include "daemon/looptimer.h"

#include <stdlib.h>

#include "common/xalloc.h"

struct looptimer {
	uv_timer_t	 handle;
	void		*owner;		/* NULL once freed */
	looptimer_fn	*fn;
};

struct looptimer *
looptimer_new(uv_loop_t *loop, void *owner)
{
	struct looptimer *t = xcalloc(1, sizeof(*t));

	uv_timer_init(loop, &t->handle);
	t->handle.data = t;
	t->owner = owner;
	return t;
}

/* Called by libuv when the timer fires. */
static void
on_fire(uv_timer_t *h)
{
	struct looptimer *t = h->data;

	if (t->owner && t->fn)
		t->fn(t->owner);
}

void
looptimer_start(struct looptimer *t, uint64_t ms, looptimer_fn *fn)
{
	t->fn = fn;
	uv_timer_start(&t->handle, on_fire, ms, 0);
}

void
looptimer_stop(struct looptimer *t)
{
	uv_timer_stop(&t->handle);
}

bool
looptimer_active(const struct looptimer *t)
{
	return uv_is_active((const uv_handle_t *)&t->handle);
}

uint64_t
looptimer_due_in(const struct looptimer *t)
{
	return looptimer_active(t) ? uv_timer_get_due_in(&t->handle) : 0;
}

/* Called by libuv once the handle is closed: the memory may go. */
static void
on_closed(uv_handle_t *h)
{
	free(h->data);
}

void
looptimer_free(struct looptimer *t)
{
	if (t == NULL)
		return;
	t->owner = NULL;
	uv_timer_stop(&t->handle);
	uv_close((uv_handle_t *)&t->handle, on_closed);
}
