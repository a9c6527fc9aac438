/*
 * The memory bounds of the event history (daemon/events.c, issue 16):
 * identical events in a row are one entry with a count, and the rings of
 * one daemon share a byte budget, dropping old data, then old events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <cmocka.h>

#include "daemon/events.h"

/* A decision-sized payload: about size bytes of JSON, distinct per i. */
static json_t *
payload(int i, size_t size)
{
	json_t *o = json_pack("{s:i}", "i", i);
	char *fill = malloc(size + 1);

	memset(fill, 'x', size);
	fill[size] = '\0';
	json_object_set_new(o, "fill", json_string(fill));
	free(fill);
	return o;
}

static void
test_repeats_fold_into_one_entry(void **state)
{
	struct event_ring r;
	json_t *j;
	uint64_t seq;

	(void)state;
	events_init(&r, 10);
	events_add(&r, 1795669491000LL, EVENT_DECISION, LOG_INFO,
	    json_pack("{s:i}", "k", 1), "autoscale: none: no change");
	seq = events_last(&r)->seq;
	for (int i = 2; i <= 5; i++)
		events_add(&r, 1795669491000LL + i * 1000, EVENT_DECISION,
		    LOG_INFO, json_pack("{s:i}", "k", i),
		    "autoscale: none: no change");
	assert_int_equal(r.count, 1);
	assert_int_equal(events_last(&r)->repeats, 5);
	/* Every repeat is news to a reader polling by sequence number. */
	assert_int_equal(events_last(&r)->seq, seq + 4);
	j = event_json(events_last(&r));
	assert_int_equal(json_integer_value(json_object_get(j, "repeats")), 5);
	assert_string_equal(json_string_value(json_object_get(j, "first_ts")),
	    "2026-11-26T05:04:51Z");
	assert_string_equal(json_string_value(json_object_get(j, "ts")),
	    "2026-11-26T05:04:56Z");
	/* The entry holds the newest data. */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    j, "data"), "k")), 5);
	json_decref(j);
	/* Another level, kind or message is a new entry. */
	events_add(&r, 1795669500000LL, EVENT_DECISION, LOG_WARNING, NULL,
	    "autoscale: none: no change");
	events_add(&r, 1795669501000LL, EVENT_OPERATION, LOG_WARNING, NULL,
	    "autoscale: none: no change");
	events_add(&r, 1795669502000LL, EVENT_OPERATION, LOG_WARNING, NULL,
	    "autoscale: none: other");
	assert_int_equal(r.count, 4);
	j = event_json(events_last(&r));
	assert_null(json_object_get(j, "repeats"));
	assert_null(json_object_get(j, "first_ts"));
	assert_null(json_object_get(j, "data"));
	json_decref(j);
	events_release(&r);
}

static void
test_data_round_trips(void **state)
{
	struct event_ring r;
	json_t *in = json_pack("{s:s, s:f, s:[i, n, b], s:{s:s}}", "s",
	    "caf\xc3\xa9", "f", 0.1, "a", 1, 0, "o", "k", "v");
	json_t *j;

	(void)state;
	events_init(&r, 2);
	events_add(&r, 0, EVENT_RECOVERED, LOG_NOTICE, json_incref(in), "r");
	j = event_json(events_last(&r));
	assert_true(json_equal(json_object_get(j, "data"), in));
	json_decref(j);
	json_decref(in);
	events_release(&r);
}

static void
test_rings_share_one_budget(void **state)
{
	struct event_budget b = { .max_bytes = 2 * EVENTS_MIN_RING_BYTES };
	struct event_ring r1, r2, r3;
	size_t with_data = 0, n = 0;
	json_t *j;

	(void)state;
	events_init(&r1, 500);
	events_share(&r1, &b);
	assert_int_equal(events_limit(&r1), 2 * EVENTS_MIN_RING_BYTES);
	events_init(&r2, 500);
	events_share(&r2, &b);
	events_init(&r3, 500);
	events_share(&r3, &b);
	/* A third of the budget is below the floor: each gets the floor. */
	assert_int_equal(events_limit(&r1), EVENTS_MIN_RING_BYTES);
	events_release(&r3);
	assert_int_equal(b.rings, 2);
	/* Two rings: half each. */
	assert_int_equal(events_limit(&r1), EVENTS_MIN_RING_BYTES);
	assert_int_equal(events_limit(&r2), EVENTS_MIN_RING_BYTES);

	/* 500 distinct events with 2 KB of data each: about 1 MB asked. */
	for (int i = 0; i < 500; i++) {
		events_add(&r1, i * 1000LL, EVENT_DECISION, LOG_INFO,
		    payload(i, 2000), "decision %d", i);
		assert_true(r1.bytes <= events_limit(&r1));
	}
	/* The newest keeps its data; the oldest events went first. */
	j = event_json(events_last(&r1));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    j, "data"), "i")), 499);
	json_decref(j);
	for (const struct event *e = TAILQ_FIRST(&r1.list); e;
	    e = TAILQ_NEXT(e, link)) {
		n++;
		with_data += e->data != NULL;
		/* Data is dropped oldest first: no event with data before
		 * one without. */
		if (e->data == NULL)
			assert_int_equal(with_data, 0);
	}
	assert_int_equal(n, r1.count);
	assert_true(n > with_data);
	assert_true(with_data >= 1);
	/* Messages alone fit by the hundred. */
	assert_true(n >= 100);
	assert_int_equal(events_last(&r1)->seq, 500);

	/* The other ring was not touched by r1's trimming. */
	events_add(&r2, 0, EVENT_CONFIG, LOG_INFO, payload(0, 100), "x");
	assert_int_equal(r2.count, 1);
	assert_non_null(events_last(&r2)->data);
	events_release(&r1);
	events_release(&r2);
	assert_int_equal(b.rings, 0);
}

static void
test_one_huge_event_stays(void **state)
{
	struct event_budget b = { .max_bytes = EVENTS_MIN_RING_BYTES };
	struct event_ring r;

	(void)state;
	events_init(&r, 10);
	events_share(&r, &b);
	events_add(&r, 0, EVENT_CONFIG, LOG_INFO, NULL, "small");
	events_add(&r, 1, EVENT_OPERATION, LOG_INFO,
	    payload(1, 4 * EVENTS_MIN_RING_BYTES), "huge");
	/* The newest event is never dropped, even over the share. */
	assert_int_equal(r.count, 1);
	assert_string_equal(events_last(&r)->msg, "huge");
	assert_non_null(events_last(&r)->data);
	events_release(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_repeats_fold_into_one_entry),
		cmocka_unit_test(test_data_round_trips),
		cmocka_unit_test(test_rings_share_one_budget),
		cmocka_unit_test(test_one_huge_event_stays),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
