/*
 * A cluster's event history (daemon/events.c): the ring keeps the newest
 * events, and watchers (events --follow) are told of each new one and of
 * the ring's end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <cmocka.h>

#include "daemon/events.h"

struct seen {
	uint64_t seq[16];
	size_t	 n;
	int	 ended;
	struct event_ring *ring;	/* unwatch after this many */
	size_t	 stop_after;
};

static void
on_added(void *arg, const struct event *e)
{
	struct seen *s = arg;

	assert_true(s->n < 16);
	s->seq[s->n++] = e->seq;
}

static void
on_ended(void *arg)
{
	struct seen *s = arg;

	s->ended++;
}

static struct event_watch *self_watch;

/* Unwatches itself from inside added(). */
static void
on_added_then_leave(void *arg, const struct event *e)
{
	struct seen *s = arg;

	on_added(arg, e);
	if (s->n == s->stop_after)
		events_unwatch(s->ring, self_watch);
}

static void
test_watchers(void **state)
{
	struct event_ring r;
	struct seen a = { .n = 0 }, b = { .n = 0 };
	struct event_watch wa = { .added = on_added, .ended = on_ended,
	    .arg = &a };
	struct event_watch wb = { .added = on_added_then_leave,
	    .ended = on_ended, .arg = &b };

	(void)state;
	events_init(&r, 3);
	events_add(&r, 1000, EVENT_CONFIG, LOG_INFO, NULL, "before");
	events_watch(&r, &wa);
	b.ring = &r;
	b.stop_after = 2;
	self_watch = &wb;
	events_watch(&r, &wb);
	events_add(&r, 2000, EVENT_DECISION, LOG_INFO, NULL, "one");
	events_add(&r, 3000, EVENT_OPERATION, LOG_WARNING, NULL, "two");
	events_add(&r, 4000, EVENT_REFRESH, LOG_ERR, NULL, "three");
	/* a saw every event after it watched; b left after two. */
	assert_int_equal(a.n, 3);
	assert_int_equal(a.seq[0], 2);
	assert_int_equal(a.seq[2], 4);
	assert_int_equal(b.n, 2);
	events_unwatch(&r, &wa);
	events_add(&r, 5000, EVENT_CONFIG, LOG_INFO, NULL, "four");
	assert_int_equal(a.n, 3);
	/* Releasing the ring tells the watchers still linked, once. */
	events_watch(&r, &wa);
	events_release(&r);
	assert_int_equal(a.ended, 1);
	assert_int_equal(b.ended, 0);
}

static void
collect(void *arg, const struct event *e)
{
	on_added(arg, e);
}

static void
test_last_n_and_json(void **state)
{
	struct event_ring r;
	struct seen s = { .n = 0 };
	json_t *arr, *one;

	(void)state;
	events_init(&r, 4);
	for (int i = 0; i < 6; i++)
		events_add(&r, 1795669491000LL + i * 1000, EVENT_DECISION,
		    LOG_INFO, i == 5 ? json_pack("{s:i}", "k", 1) : NULL,
		    "event %d", i);
	/* The ring holds 3..6; the newest 2 are 5 and 6, oldest first. */
	events_foreach_last(&r, 2, collect, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seq[0], 5);
	assert_int_equal(s.seq[1], 6);
	s.n = 0;
	events_foreach_last(&r, 100, collect, &s);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.seq[0], 3);
	arr = events_json(&r, 1);
	assert_int_equal(json_array_size(arr), 1);
	one = event_json(events_last(&r));
	assert_true(json_equal(json_array_get(arr, 0), one));
	assert_int_equal(json_integer_value(json_object_get(one, "seq")), 6);
	assert_string_equal(json_string_value(json_object_get(one, "ts")),
	    "2026-11-26T05:04:56Z");
	assert_string_equal(json_string_value(json_object_get(one, "kind")),
	    "decision");
	assert_string_equal(json_string_value(json_object_get(one, "msg")),
	    "event 5");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    one, "data"), "k")), 1);
	json_decref(one);
	json_decref(arr);
	events_release(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_watchers),
		cmocka_unit_test(test_last_n_and_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
