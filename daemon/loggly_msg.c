/*
 * The pure parts of the Loggly sink (loggly.h): the JSON event of a
 * message, the redaction of secrets, the bulk URL and the bounded queue.
 * No loop, no sockets, no clock.
 */
#include "daemon/loggly.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/strbuf.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"

char *
loggly_redact(const char *s, size_t len, const char *const *secrets,
    size_t nsecrets)
{
	struct strbuf sb = STRBUF_INIT;
	size_t i = 0, k, slen;

	while (i < len) {
		for (k = 0; k < nsecrets; k++) {
			slen = strlen(secrets[k]);
			if (slen >= LOGGLY_SECRET_MIN && slen <= len - i &&
			    memcmp(s + i, secrets[k], slen) == 0)
				break;
		}
		if (k < nsecrets) {
			strbuf_puts(&sb, LOGGLY_REDACTED);
			i += strlen(secrets[k]);
		} else {
			strbuf_putc(&sb, s[i++]);
		}
	}
	return strbuf_detach(&sb, NULL);
}

char *
loggly_event(const struct log_fields *f, int64_t now_ms, uint64_t seq,
    const char *const *secrets, size_t nsecrets)
{
	char ts[TIME_ISO8601_LEN], *name, *value, *out;
	json_t *o = json_object();

	time_format_iso8601(now_ms, ts);
	json_object_set_new(o, "timestamp", json_text(ts));
	json_object_set_new(o, "seq", json_integer((json_int_t)seq));
	for (size_t i = 0; i < f->n; i++) {
		const char *p = f->iov[i].iov_base, *eq;
		size_t len = f->iov[i].iov_len;

		eq = memchr(p, '=', len);
		if (eq == NULL)
			continue;
		name = utf8_sanitize(p, (size_t)(eq - p));
		value = loggly_redact(eq + 1, len - (size_t)(eq - p) - 1,
		    secrets, nsecrets);
		json_object_set_new(o, name, json_text(value));
		free(name);
		free_secret(value);
	}
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (out == NULL)
		out = xstrdup("{}");
	return out;
}

char *
loggly_bulk_url(const char *base, const char *token, const char *cluster)
{
	struct strbuf sb = STRBUF_INIT;
	size_t blen = strlen(base);

	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	strbuf_append(&sb, base, blen);
	strbuf_puts(&sb, "/bulk/");
	strbuf_puts(&sb, token);
	strbuf_puts(&sb, "/tag/" LOGGLY_TAG);
	if (cluster && *cluster) {
		strbuf_putc(&sb, ',');
		for (const char *p = cluster; *p; p++) {
			char ch = *p;
			bool ok = (ch >= 'a' && ch <= 'z') ||
			    (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '.' ||
			    ch == '-' || ch == '_';

			strbuf_putc(&sb, ok ? ch : '_');
		}
	}
	strbuf_putc(&sb, '/');
	return strbuf_detach(&sb, NULL);
}

void
loggly_entry_free(struct loggly_entry *e)
{
	if (e == NULL)
		return;
	free(e->cluster);
	free(e->line);
	free(e);
}

void
loggly_entries_free(struct loggly_entries *list)
{
	struct loggly_entry *e;

	while ((e = TAILQ_FIRST(list))) {
		TAILQ_REMOVE(list, e, link);
		loggly_entry_free(e);
	}
}

void
loggly_queue_init(struct loggly_queue *q, size_t max)
{
	TAILQ_INIT(&q->entries);
	q->n = 0;
	q->max = max > 0 ? max : 1;
	q->dropped = 0;
}

/* Drops the oldest entries beyond max. */
static size_t
trim(struct loggly_queue *q)
{
	struct loggly_entry *e;
	size_t dropped = 0;

	while (q->n > q->max && (e = TAILQ_FIRST(&q->entries))) {
		TAILQ_REMOVE(&q->entries, e, link);
		loggly_entry_free(e);
		q->n--;
		dropped++;
	}
	q->dropped += dropped;
	return dropped;
}

size_t
loggly_queue_push(struct loggly_queue *q, struct loggly_entry *e)
{
	TAILQ_INSERT_TAIL(&q->entries, e, link);
	q->n++;
	return trim(q);
}

static bool
same_cluster(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

size_t
loggly_queue_take(struct loggly_queue *q, struct loggly_entries *batch,
    size_t max_entries, size_t max_bytes)
{
	struct loggly_entry *first = TAILQ_FIRST(&q->entries), *e, *next;
	size_t n = 0, bytes = 0;

	for (e = first; e && n < max_entries; e = next) {
		next = TAILQ_NEXT(e, link);
		if (!same_cluster(e->cluster, first->cluster))
			continue;
		if (n > 0 && bytes + e->len > max_bytes)
			break;
		TAILQ_REMOVE(&q->entries, e, link);
		q->n--;
		TAILQ_INSERT_TAIL(batch, e, link);
		bytes += e->len;
		n++;
	}
	return n;
}

size_t
loggly_queue_put_back(struct loggly_queue *q, struct loggly_entries *batch)
{
	struct loggly_entry *e, *at;

	/* Both lists are in seq order: merge from the front. */
	at = TAILQ_FIRST(&q->entries);
	while ((e = TAILQ_FIRST(batch))) {
		TAILQ_REMOVE(batch, e, link);
		while (at && at->seq < e->seq)
			at = TAILQ_NEXT(at, link);
		if (at)
			TAILQ_INSERT_BEFORE(at, e, link);
		else
			TAILQ_INSERT_TAIL(&q->entries, e, link);
		q->n++;
	}
	return trim(q);
}

void
loggly_queue_clear(struct loggly_queue *q)
{
	loggly_entries_free(&q->entries);
	q->n = 0;
}
