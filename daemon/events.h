/*
 * A cluster's event history: a bounded ring of the most recent refresh
 * failures, decisions, operations and outcomes, each with its time, kind,
 * level, a message for people and optional structured data (a decision's
 * inputs, say).  Pure; the caller passes the time.
 */
#ifndef EC2M_EVENTS_H
#define EC2M_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define EVENTS_DEFAULT_CAPACITY 500

enum event_kind {
	EVENT_REFRESH,		/* a refresh failed or recovered */
	EVENT_DECISION,		/* an autoscale evaluation */
	EVENT_OPERATION,	/* an operation started, stepped or ended */
	EVENT_CONFIG,		/* configuration applied */
	EVENT_RECOVERED,	/* what a start found of an unclean end */
};

struct event {
	int64_t	 ts_ms;
	uint64_t seq;		/* 1, 2, ... over the ring's life */
	enum event_kind kind;
	int	 level;		/* syslog level */
	char	*msg;		/* owned */
	json_t	*data;		/* owned; may be NULL */
};

struct event_ring {
	struct event *v;	/* owned, cap entries */
	size_t	 cap;
	size_t	 head;		/* index of the oldest */
	size_t	 count;
	uint64_t seq;
};

void events_init(struct event_ring *r, size_t cap);
void events_release(struct event_ring *r);
const char *event_kind_name(enum event_kind k);
/* Adds an event (data is stolen), dropping the oldest when full. */
void events_add(struct event_ring *r, int64_t ts_ms, enum event_kind kind,
    int level, json_t *data, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* The newest event, or NULL. */
const struct event *events_last(const struct event_ring *r);
/* The newest n events as a JSON array, oldest first. */
json_t *events_json(const struct event_ring *r, size_t n);

#endif
