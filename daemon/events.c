#include "daemon/events.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"

/* What one allocation costs beyond what was asked (glibc's header and
 * rounding), so that the budget follows the resident memory. */
#define ALLOC_OVERHEAD	16

void
events_init(struct event_ring *r, size_t cap)
{
	memset(r, 0, sizeof(*r));
	TAILQ_INIT(&r->list);
	r->cap = cap ? cap : 1;
}

void
events_share(struct event_ring *r, struct event_budget *b)
{
	r->budget = b;
	b->rings++;
}

size_t
events_limit(const struct event_ring *r)
{
	size_t total, share;

	if (r->budget == NULL)
		return SIZE_MAX;
	total = r->budget->max_bytes ? r->budget->max_bytes :
	    EVENTS_TOTAL_BYTES;
	share = total / (r->budget->rings ? r->budget->rings : 1);
	return share > EVENTS_MIN_RING_BYTES ? share : EVENTS_MIN_RING_BYTES;
}

static size_t
text_cost(const char *s)
{
	return s ? strlen(s) + 1 + ALLOC_OVERHEAD : 0;
}

static void
event_free(struct event *e)
{
	free(e->msg);
	free(e->data);
	free(e);
}

static void
drop_oldest(struct event_ring *r)
{
	struct event *e = TAILQ_FIRST(&r->list);

	if (r->data_from == e)
		r->data_from = TAILQ_NEXT(e, link);
	TAILQ_REMOVE(&r->list, e, link);
	r->count--;
	r->bytes -= e->bytes;
	event_free(e);
}

static void
drop_data(struct event_ring *r, struct event *e)
{
	size_t cost = text_cost(e->data);

	free(e->data);
	e->data = NULL;
	e->bytes -= cost;
	r->bytes -= cost;
}

/* Brings the ring back within its bounds: count, then bytes (the data of
 * the oldest events first, then the oldest events; the newest stays). */
static void
trim(struct event_ring *r)
{
	size_t limit = events_limit(r);
	struct event *newest = TAILQ_LAST(&r->list, event_list), *e;

	while (r->count > r->cap)
		drop_oldest(r);
	e = r->data_from ? r->data_from : TAILQ_FIRST(&r->list);
	for (; r->bytes > limit && e != NULL && e != newest;
	    e = TAILQ_NEXT(e, link))
		if (e->data != NULL)
			drop_data(r, e);
	r->data_from = e;
	while (r->bytes > limit && r->count > 1)
		drop_oldest(r);
}

void
events_release(struct event_ring *r)
{
	struct event_watch *w;

	/* Each watcher is unlinked before it is told, so it may free
	 * itself. */
	while ((w = r->watches) != NULL) {
		r->watches = w->next;
		w->next = NULL;
		w->ended(w->arg);
	}
	while (!TAILQ_EMPTY(&r->list))
		drop_oldest(r);
	if (r->budget != NULL)
		r->budget->rings--;
	memset(r, 0, sizeof(*r));
	TAILQ_INIT(&r->list);
}

const char *
event_kind_name(enum event_kind k)
{
	switch (k) {
	case EVENT_REFRESH:	return "refresh";
	case EVENT_DECISION:	return "decision";
	case EVENT_OPERATION:	return "operation";
	case EVENT_CONFIG:	return "config";
	case EVENT_RECOVERED:	return "recovered";
	}
	return "event";
}

void
events_add(struct event_ring *r, int64_t ts_ms, enum event_kind kind,
    int level, json_t *data, const char *fmt, ...)
{
	struct event *e = TAILQ_LAST(&r->list, event_list);
	char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
	va_list ap;
	char *msg;

	json_decref(data);
	va_start(ap, fmt);
	msg = utf8_vasprintf(fmt, ap);
	va_end(ap);
	if (e != NULL && e->kind == kind && e->level == level &&
	    strcmp(e->msg, msg) == 0) {
		/* A repeat: the entry takes the newest time and data. */
		free(msg);
		r->bytes -= e->bytes;
		free(e->data);
		if (e->repeats < UINT32_MAX)
			e->repeats++;
	} else {
		e = xcalloc(1, sizeof(*e));
		e->first_ts_ms = ts_ms;
		e->repeats = 1;
		e->kind = kind;
		e->level = level;
		e->msg = msg;
		TAILQ_INSERT_TAIL(&r->list, e, link);
		r->count++;
	}
	e->ts_ms = ts_ms;
	e->seq = ++r->seq;
	e->data = text;
	e->bytes = sizeof(*e) + ALLOC_OVERHEAD + text_cost(e->msg) +
	    text_cost(e->data);
	r->bytes += e->bytes;
	trim(r);
	/* A watcher may unwatch itself from added(); the next one is read
	 * first. */
	for (struct event_watch *w = r->watches, *next; w; w = next) {
		next = w->next;
		w->added(w->arg, e);
	}
}

void
events_watch(struct event_ring *r, struct event_watch *w)
{
	w->next = r->watches;
	r->watches = w;
}

void
events_unwatch(struct event_ring *r, struct event_watch *w)
{
	for (struct event_watch **pp = &r->watches; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			w->next = NULL;
			return;
		}
}

const struct event *
events_last(const struct event_ring *r)
{
	return TAILQ_LAST(&r->list, event_list);
}

json_t *
event_json(const struct event *e)
{
	char ts[TIME_ISO8601_LEN];
	json_t *o;

	time_format_iso8601(e->ts_ms, ts);
	o = json_pack("{s:I, s:s, s:s, s:s, s:o}", "seq", (json_int_t)e->seq,
	    "ts", ts, "kind", event_kind_name(e->kind), "level",
	    log_level_name(e->level), "msg", json_text(e->msg));
	if (o == NULL)
		return NULL;
	if (e->data != NULL)
		json_object_set_new(o, "data", json_loads(e->data,
		    JSON_DECODE_ANY, NULL));
	if (e->repeats > 1) {
		time_format_iso8601(e->first_ts_ms, ts);
		json_object_set_new(o, "repeats", json_integer(e->repeats));
		json_object_set_new(o, "first_ts", json_text(ts));
	}
	return o;
}

void
events_foreach_last(const struct event_ring *r, size_t n,
    void (*fn)(void *arg, const struct event *e), void *arg)
{
	struct event *e = TAILQ_LAST(&r->list, event_list);

	if (n == 0 || e == NULL)
		return;
	while (--n > 0 && TAILQ_PREV(e, event_list, link) != NULL)
		e = TAILQ_PREV(e, event_list, link);
	for (; e != NULL; e = TAILQ_NEXT(e, link))
		fn(arg, e);
}

static void
append_json(void *arg, const struct event *e)
{
	json_array_append_new(arg, event_json(e));
}

json_t *
events_json(const struct event_ring *r, size_t n)
{
	json_t *arr = json_array();

	events_foreach_last(r, n, append_json, arr);
	return arr;
}
