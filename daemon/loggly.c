/*
 * The Loggly sink on the loop (loggly.h): the log tap that queues events,
 * the timer that makes batches, and the POST of each batch through the
 * daemon's HTTP client.  The tap only queues and arms the timer: nothing
 * is sent from inside a log call.
 */
#include "daemon/loggly.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/strbuf.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/http.h"
#include "daemon/looptimer.h"

#define LOGGLY_TIMEOUT_MS	30000
/* The wait after failures: flush_ms doubled per failure, at most this many
 * flush intervals. */
#define LOGGLY_BACKOFF_CAP	30

struct loggly {
	uv_loop_t	*loop;
	struct http_client *http;
	char		*url;
	char		*token;
	char		*ca_file;
	char		**secrets;
	size_t		 nsecrets;
	uint64_t	 flush_ms;
	size_t		 batch_max;
	struct loggly_queue queue;
	struct loggly_entries batch;	/* the POST in flight */
	size_t		 batch_n;
	struct http_call *call;
	struct looptimer *timer;
	uint64_t	 seq;
	int		 failures;	/* in a row */
	uint64_t	 dropped_logged; /* loggly_dropped_total() when said */
};

static uint64_t dropped_total;

uint64_t
loggly_dropped_total(void)
{
	return dropped_total;
}

static void flush(void *owner);

/* Arms the timer to send: now when a batch is full, else after the flush
 * interval (or the backoff after failures); never earlier than armed. */
static void
schedule(struct loggly *l)
{
	uint64_t ms = l->flush_ms;

	if (l->call != NULL || l->queue.n == 0)
		return;
	if (l->failures > 0) {
		int shift = l->failures < 16 ? l->failures : 16;

		ms = l->flush_ms << shift;
		if (ms > l->flush_ms * LOGGLY_BACKOFF_CAP)
			ms = l->flush_ms * LOGGLY_BACKOFF_CAP;
	} else if (l->queue.n >= l->batch_max) {
		ms = 0;
	}
	if (looptimer_active(l->timer) && looptimer_due_in(l->timer) <= ms)
		return;
	looptimer_start(l->timer, ms, flush);
}

static void
tap(void *arg, const struct log_record *r, const struct log_fields *f)
{
	struct loggly *l = arg;
	struct loggly_entry *e = xcalloc(1, sizeof(*e));
	const char *cluster;
	size_t clen, n;
	char *ev;

	(void)r;
	e->seq = ++l->seq;
	/* The cluster becomes a tag in the URL: no secret there either. */
	cluster = log_fields_get(f, "EC2M_CLUSTER", &clen);
	if (cluster)
		e->cluster = loggly_redact(cluster, clen,
		    (const char *const *)l->secrets, l->nsecrets);
	ev = loggly_event(f, time_now_ms(), e->seq,
	    (const char *const *)l->secrets, l->nsecrets);
	n = strlen(ev);
	e->line = xrealloc(ev, n + 2);
	e->line[n] = '\n';
	e->line[n + 1] = '\0';
	e->len = n + 1;
	dropped_total += loggly_queue_push(&l->queue, e);
	schedule(l);
}

/* Says, once per streak, that sending fails, and when it works again,
 * how many events were dropped meanwhile. */
static void
report(struct loggly *l, bool ok, const char *why)
{
	if (!ok && l->failures == 1)
		log_warnx("Loggly: sending failed: %s; retrying, the oldest "
		    "of at most %zu waiting events are dropped", why,
		    l->queue.max);
	if (ok && (l->failures > 0 || dropped_total != l->dropped_logged)) {
		log_notice("Loggly: sending again; %llu events dropped so far",
		    (unsigned long long)dropped_total);
		l->dropped_logged = dropped_total;
	}
}

static void
on_posted(void *arg, const struct http_response *resp)
{
	struct loggly *l = arg;
	bool ok = resp->ok && resp->status >= 200 && resp->status < 300;
	char why[320];

	l->call = NULL;
	if (resp->cancelled) {
		loggly_entries_free(&l->batch);
		return;
	}
	if (ok) {
		loggly_entries_free(&l->batch);
		report(l, true, NULL);
		l->failures = 0;
	} else {
		if (resp->ok)
			utf8_snprintf(why, sizeof(why), "HTTP %ld",
			    resp->status);
		else
			utf8_snprintf(why, sizeof(why), "%s", resp->error);
		dropped_total += loggly_queue_put_back(&l->queue, &l->batch);
		l->failures++;
		report(l, false, why);
	}
	schedule(l);
}

static void
flush(void *owner)
{
	static const char *const headers[] = {
		"Content-Type: text/plain", NULL
	};
	struct loggly *l = owner;
	struct strbuf body = STRBUF_INIT;
	struct http_request req = { 0 };
	struct loggly_entry *e;
	char *url;

	if (l->call != NULL || l->queue.n == 0)
		return;
	loggly_queue_take(&l->queue, &l->batch, l->batch_max,
	    LOGGLY_BATCH_BYTES);
	TAILQ_FOREACH(e, &l->batch, link)
		strbuf_append(&body, e->line, e->len);
	e = TAILQ_FIRST(&l->batch);
	url = loggly_bulk_url(l->url, l->token, e ? e->cluster : NULL);
	req.method = "POST";
	req.url = url;
	req.headers = headers;
	req.body = body.buf;
	req.body_len = body.len;
	req.timeout_ms = LOGGLY_TIMEOUT_MS;
	req.max_body = 64 * 1024;
	req.ca_file = l->ca_file;
	l->call = http_submit(l->http, &req, on_posted, l);
	free_secret(url);		/* it holds the token */
	strbuf_release(&body);
	if (l->call == NULL) {
		/* The client has shut down: nothing more goes out. */
		loggly_entries_free(&l->batch);
		loggly_queue_clear(&l->queue);
	}
}

struct loggly *
loggly_new(uv_loop_t *loop, struct http_client *http,
    const struct loggly_settings *s)
{
	struct loggly *l = xcalloc(1, sizeof(*l));

	l->loop = loop;
	l->http = http;
	l->url = xstrdup(s->url && *s->url ? s->url : LOGGLY_DEFAULT_URL);
	l->token = xstrdup(s->token);
	l->ca_file = xstrdup(s->ca_file ? s->ca_file : "");
	l->secrets = xcalloc(s->nsecrets + 1, sizeof(*l->secrets));
	for (size_t i = 0; i < s->nsecrets; i++)
		if (s->secrets[i] != NULL)
			l->secrets[l->nsecrets++] = xstrdup(s->secrets[i]);
	/* The token is a secret too: it must not appear in a body. */
	l->secrets[l->nsecrets++] = xstrdup(s->token);
	l->flush_ms = s->flush_ms > 0 ? s->flush_ms : LOGGLY_FLUSH_MS;
	loggly_queue_init(&l->queue, s->queue_max > 0 ? s->queue_max :
	    LOGGLY_QUEUE_MAX);
	l->batch_max = l->queue.max / 4 > 0 ? l->queue.max / 4 : 1;
	if (l->batch_max > LOGGLY_BATCH_MAX)
		l->batch_max = LOGGLY_BATCH_MAX;
	TAILQ_INIT(&l->batch);
	l->timer = looptimer_new(loop, l);
	if (log_tap_add(tap, l) != 0) {
		log_err("Loggly: cannot add a log sink");
		loggly_free(l);
		return NULL;
	}
	log_info("Loggly: sending the log to %s with the tag %s (at most %zu "
	    "events waiting, %zu a request)", l->url, LOGGLY_TAG,
	    l->queue.max, l->batch_max);
	return l;
}

void
loggly_set_endpoint(struct loggly *l, const char *url, const char *ca_file)
{
	const char *u = url && *url ? url : LOGGLY_DEFAULT_URL;

	if (strcmp(u, l->url) != 0) {
		free(l->url);
		l->url = xstrdup(u);
		log_info("Loggly: sending the log to %s", l->url);
	}
	free(l->ca_file);
	l->ca_file = xstrdup(ca_file ? ca_file : "");
}

void
loggly_free(struct loggly *l)
{
	if (l == NULL)
		return;
	log_tap_remove(tap, l);
	http_cancel(l->call);
	l->call = NULL;
	looptimer_free(l->timer);
	loggly_entries_free(&l->batch);
	loggly_queue_clear(&l->queue);
	for (size_t i = 0; i < l->nsecrets; i++)
		free_secret(l->secrets[i]);
	free(l->secrets);
	free(l->url);
	free_secret(l->token);
	free(l->ca_file);
	free(l);
}
