/*
 * A cluster's event history: the most recent refresh failures, decisions,
 * operations and outcomes, each with its time, kind, level, a message for
 * people and optional structured data (a decision's inputs, say).  Pure;
 * the caller passes the time.
 *
 * Bounded twice: by count (cap) and by memory.  The rings of one daemon
 * share an event_budget, EVENTS_TOTAL_BYTES unless set, split evenly among
 * them (at least EVENTS_MIN_RING_BYTES each), so that fifty clusters cost
 * no more than one: past its share a ring first drops the data of its
 * oldest events (never the newest's), then its oldest events.  A run of
 * identical events (same kind, level and message: the autoscaler saying
 * "no change" at every tick) is one entry whose count grows, holding the
 * newest data; each repeat takes a new sequence number, so a reader
 * polling by seq sees it.  Data is kept as compact JSON text, a seventh of
 * what the parsed tree costs.
 */
#ifndef EC2M_EVENTS_H
#define EC2M_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <jansson.h>

#define EVENTS_DEFAULT_CAPACITY 500
#define EVENTS_TOTAL_BYTES	(1024 * 1024)
#define EVENTS_MIN_RING_BYTES	(16 * 1024)

enum event_kind {
	EVENT_REFRESH,		/* a refresh failed or recovered */
	EVENT_DECISION,		/* an autoscale evaluation */
	EVENT_OPERATION,	/* an operation started, stepped or ended */
	EVENT_CONFIG,		/* configuration applied */
	EVENT_RECOVERED,	/* what a start found of an unclean end */
};

struct event {
	TAILQ_ENTRY(event) link;	/* the ring's, oldest first */
	int64_t	 ts_ms;		/* the newest of its repeats */
	int64_t	 first_ts_ms;	/* the first of its repeats */
	uint64_t seq;		/* rising over the ring's life */
	uint32_t repeats;	/* identical events in a row it stands for */
	enum event_kind kind;
	int	 level;		/* syslog level */
	char	*msg;		/* owned */
	char	*data;		/* owned compact JSON; NULL: none, or dropped
				 * to stay within the ring's share */
	size_t	 bytes;		/* what it costs the ring */
};
TAILQ_HEAD(event_list, event);

/* What the rings of one daemon may hold together (the daemon's). */
struct event_budget {
	size_t	 max_bytes;	/* 0: EVENTS_TOTAL_BYTES */
	size_t	 rings;		/* rings sharing it */
};

/*
 * Someone told of each event as it is added (`events --follow`).  The
 * watcher's owner allocates it and links it with events_watch(); the ring
 * only points to it.  ended is called once when the ring goes away
 * (events_release(): the cluster is freed), after the watcher has been
 * unlinked.
 */
struct event_watch {
	void	(*added)(void *arg, const struct event *e);
	void	(*ended)(void *arg);
	void	*arg;
	struct event_watch *next;	/* the ring's */
};

struct event_ring {
	struct event_list list;	/* owned */
	size_t	 cap;
	size_t	 count;
	size_t	 bytes;		/* the sum of the events' bytes */
	uint64_t seq;
	struct event *data_from;	/* the events before it have no data */
	struct event_budget *budget;	/* not owned; NULL: no byte bound */
	struct event_watch *watches;	/* not owned */
};

void events_init(struct event_ring *r, size_t cap);
/* Puts the ring under a shared budget until events_release(). */
void events_share(struct event_ring *r, struct event_budget *b);
/* The most the ring may hold now (SIZE_MAX without a budget). */
size_t events_limit(const struct event_ring *r);
void events_release(struct event_ring *r);
const char *event_kind_name(enum event_kind k);
/* Adds an event (data is stolen), or counts a repeat of the newest, then
 * drops data and old events past the ring's bounds. */
void events_add(struct event_ring *r, int64_t ts_ms, enum event_kind kind,
    int level, json_t *data, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* The newest event, or NULL. */
const struct event *events_last(const struct event_ring *r);
/* The newest n events as a JSON array, oldest first. */
json_t *events_json(const struct event_ring *r, size_t n);
/* One event as {seq, ts, kind, level, msg, data?, repeats?, first_ts?}
 * (repeats and first_ts when it stands for more than one), the items of
 * events_json(). */
json_t *event_json(const struct event *e);
/* The newest n events, oldest first, passed to fn. */
void events_foreach_last(const struct event_ring *r, size_t n,
    void (*fn)(void *arg, const struct event *e), void *arg);
/* Links w: its added() is called after each events_add() until
 * events_unwatch(). */
void events_watch(struct event_ring *r, struct event_watch *w);
void events_unwatch(struct event_ring *r, struct event_watch *w);

#endif
