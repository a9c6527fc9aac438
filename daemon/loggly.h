/*
 * The Loggly sink: with a loggly-token credential (or LOGGLY_TOKEN), every
 * message the daemon logs is also sent to Loggly's HTTPS bulk endpoint,
 * POST BASE/bulk/TOKEN/tag/ec2-manager,CLUSTER/ with one JSON event a
 * line, on the daemon's loop through the shared HTTP client (http.h).
 *
 * The sink is a log tap (log.h): it gets the very fields the journal gets,
 * makes each message one JSON event (the field names as keys, plus
 * "timestamp" and a "seq" number), and puts it into a bounded queue.
 * Nothing on the logging path blocks or grows without bound: when the
 * queue is full the OLDEST entry is dropped and counted
 * (loggly_dropped_total(), for the metrics).  A batch is one POST of up to
 * LOGGLY_BATCH_MAX events of one cluster (the cluster is a tag of the
 * whole request), sent when that many are queued or after the flush
 * interval; one POST is in flight at a time.  A failed POST puts its
 * events back in order and the next try waits longer (doubling, capped).
 *
 * No secret leaves: every value is searched for the secrets the daemon
 * holds (given in the settings: the Opencast password, the Zadara and
 * Loggly tokens, the AWS secret key) and each occurrence is replaced by
 * "[redacted]" before the event is encoded.  Secrets shorter than
 * LOGGLY_SECRET_MIN bytes are not searched for (they would mangle
 * ordinary words).
 *
 * The pure parts (the event, the URL, the queue) are in loggly_msg.c and
 * unit-tested alone; loggly.c is the loop side.
 */
#ifndef EC2M_LOGGLY_H
#define EC2M_LOGGLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "common/log.h"

struct http_client;
struct loggly;
struct uv_loop_s;

#define LOGGLY_DEFAULT_URL	"https://logs-01.loggly.com"
#define LOGGLY_TAG		"ec2-manager"
#define LOGGLY_QUEUE_MAX	10000	/* events */
#define LOGGLY_BATCH_MAX	100	/* events per POST */
#define LOGGLY_BATCH_BYTES	(1u << 20)	/* body per POST (Loggly: 5 MB) */
#define LOGGLY_FLUSH_MS		2000	/* the longest an event waits */
#define LOGGLY_SECRET_MIN	6
#define LOGGLY_REDACTED		"[redacted]"

struct loggly_settings {
	const char	*url;		/* base; "" or NULL: the default */
	const char	*token;
	const char	*ca_file;	/* "" or NULL: the system's CAs */
	const char *const *secrets;	/* copied; wiped when freed */
	size_t		 nsecrets;
	size_t		 queue_max;	/* 0: LOGGLY_QUEUE_MAX */
	uint64_t	 flush_ms;	/* 0: LOGGLY_FLUSH_MS */
};

/* Starts the sink: copies the settings and installs the log tap.  Returns
 * NULL (and logs why) when the tap cannot be installed. */
struct loggly *loggly_new(struct uv_loop_s *loop, struct http_client *http,
    const struct loggly_settings *s);
/* A reload: the base URL and the CA file of the next POST. */
void loggly_set_endpoint(struct loggly *l, const char *url,
    const char *ca_file);
/* Removes the tap, abandons the POST in flight and frees what is queued
 * (events not yet sent are lost).  NULL is a no-op. */
void loggly_free(struct loggly *l);

/* Events dropped because the queue was full, since the start. */
uint64_t loggly_dropped_total(void);

/* Pure parts (loggly_msg.c). */

/* The JSON event (one line, no newline) of a message's fields: each field
 * "NAME=value" becomes "NAME":"value", after "timestamp" (ISO 8601, UTC)
 * and "seq"; secrets in values are redacted.  Returns a new string. */
char *loggly_event(const struct log_fields *f, int64_t now_ms, uint64_t seq,
    const char *const *secrets, size_t nsecrets);
/* s[0..len) with every occurrence of each secret (of at least
 * LOGGLY_SECRET_MIN bytes) replaced by LOGGLY_REDACTED.  New string. */
char *loggly_redact(const char *s, size_t len, const char *const *secrets,
    size_t nsecrets);
/* The bulk URL BASE/bulk/TOKEN/tag/ec2-manager[,CLUSTER]/, the cluster
 * name made a valid tag (characters other than letters, digits, '.', '-'
 * and '_' become '_'); a trailing '/' of base is dropped.  New string. */
char *loggly_bulk_url(const char *base, const char *token,
    const char *cluster);

struct loggly_entry {
	uint64_t	 seq;
	char		*cluster;	/* NULL: none */
	char		*line;		/* the event, with its '\n' */
	size_t		 len;
	TAILQ_ENTRY(loggly_entry) link;
};
TAILQ_HEAD(loggly_entries, loggly_entry);

/* Entries in seq order, at most max of them. */
struct loggly_queue {
	struct loggly_entries entries;
	size_t		 n;
	size_t		 max;
	uint64_t	 dropped;	/* by this queue */
};

void loggly_queue_init(struct loggly_queue *q, size_t max);
/* Adds e (seq larger than any queued) and drops the oldest entries beyond
 * max; returns how many it dropped. */
size_t loggly_queue_push(struct loggly_queue *q, struct loggly_entry *e);
/* Moves into batch the oldest entry and the following ones of the same
 * cluster, in order, up to max_entries and max_bytes of lines (at least
 * one entry).  Returns how many it moved. */
size_t loggly_queue_take(struct loggly_queue *q, struct loggly_entries *batch,
    size_t max_entries, size_t max_bytes);
/* Puts the entries of a batch that was not sent back in seq order, then
 * drops the oldest beyond max; returns how many it dropped.  batch ends
 * empty. */
size_t loggly_queue_put_back(struct loggly_queue *q,
    struct loggly_entries *batch);
void loggly_entry_free(struct loggly_entry *e);
void loggly_entries_free(struct loggly_entries *list);
void loggly_queue_clear(struct loggly_queue *q);

#endif
