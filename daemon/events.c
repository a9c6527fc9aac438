#include "daemon/events.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"

void
events_init(struct event_ring *r, size_t cap)
{
	memset(r, 0, sizeof(*r));
	r->cap = cap ? cap : 1;
	r->v = xcalloc(r->cap, sizeof(*r->v));
}

static void
event_clear(struct event *e)
{
	free(e->msg);
	json_decref(e->data);
	memset(e, 0, sizeof(*e));
}

void
events_release(struct event_ring *r)
{
	for (size_t i = 0; i < r->cap; i++)
		event_clear(&r->v[i]);
	free(r->v);
	memset(r, 0, sizeof(*r));
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
	struct event *e;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = utf8_vasprintf(fmt, ap);
	va_end(ap);
	if (r->count == r->cap) {
		e = &r->v[r->head];
		event_clear(e);
		r->head = (r->head + 1) % r->cap;
	} else {
		e = &r->v[(r->head + r->count) % r->cap];
		r->count++;
	}
	e->ts_ms = ts_ms;
	e->seq = ++r->seq;
	e->kind = kind;
	e->level = level;
	e->msg = msg;
	e->data = data;
}

const struct event *
events_last(const struct event_ring *r)
{
	if (r->count == 0)
		return NULL;
	return &r->v[(r->head + r->count - 1) % r->cap];
}

json_t *
events_json(const struct event_ring *r, size_t n)
{
	json_t *arr = json_array();
	size_t first;

	if (n > r->count)
		n = r->count;
	first = r->count - n;
	for (size_t i = first; i < r->count; i++) {
		const struct event *e = &r->v[(r->head + i) % r->cap];
		char ts[TIME_ISO8601_LEN];
		json_t *o;

		time_format_iso8601(e->ts_ms, ts);
		o = json_pack("{s:I, s:s, s:s, s:s, s:o}", "seq",
		    (json_int_t)e->seq, "ts", ts, "kind",
		    event_kind_name(e->kind), "level",
		    log_level_name(e->level), "msg", json_text(e->msg));
		if (e->data)
			json_object_set(o, "data", e->data);
		json_array_append_new(arr, o);
	}
	return arr;
}
