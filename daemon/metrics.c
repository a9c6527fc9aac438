/*
 * The metrics registry and the exposition encoder (metrics.h).  A family
 * keeps its series in an array searched linearly: label sets are few (tens
 * of calls and clusters), and a hook costs a few string compares.
 */
#include "daemon/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "common/xalloc.h"

#define MAX_LABELS	4
#define MAX_BUCKETS	16

struct series {
	char	*values[MAX_LABELS];	/* valid UTF-8, owned */
	double	 value;			/* counter; histogram: sum */
	uint64_t count;			/* histogram: observations */
	uint64_t buckets[MAX_BUCKETS];	/* histogram: per bucket, not
					   cumulative; +Inf is count */
};

struct family {
	const char *name;
	const char *help;
	bool	 histogram;
	const char *labels[MAX_LABELS];	/* NULL-terminated if fewer */
	const double *bounds;		/* histogram upper bounds */
	size_t	 nbounds;
	struct series *v;
	size_t	 n, cap;
};

/* Seconds: an HTTP call takes milliseconds to tens of seconds. */
static const double latency_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
};
/* Seconds: an operation takes a minute to half an hour of waits. */
static const double duration_bounds[] = {
	1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600,
};

#define NB(a) (sizeof(a) / sizeof((a)[0]))

static struct family families[MF_NFAMILIES] = {
	[MF_UPSTREAM_REQUESTS] = { "ec2m_upstream_requests_total",
	    "HTTP requests to EC2, Opencast and Zadara, by call and outcome "
	    "(every try counts).", false,
	    { "service", "call", "outcome" }, NULL, 0, NULL, 0, 0 },
	[MF_UPSTREAM_LATENCY] = { "ec2m_upstream_request_duration_seconds",
	    "Time from sending an HTTP request to EC2, Opencast or Zadara to "
	    "its answer.", true, { "service", "call" }, latency_bounds,
	    NB(latency_bounds), NULL, 0, 0 },
	[MF_UPSTREAM_RETRIES] = { "ec2m_upstream_retries_total",
	    "Retries of upstream calls after a throttling, a 5xx or a "
	    "transport error.", false, { "service", "call" }, NULL, 0, NULL,
	    0, 0 },
	[MF_OPERATIONS] = { "ec2m_operations_total",
	    "Operations that ended, by kind and outcome.", false,
	    { "cluster", "kind", "outcome", "dry_run" }, NULL, 0, NULL, 0, 0 },
	[MF_OPERATION_DURATION] = { "ec2m_operation_duration_seconds",
	    "How long operations (not dry runs) took from start to outcome.",
	    true, { "cluster", "kind" }, duration_bounds,
	    NB(duration_bounds), NULL, 0, 0 },
	[MF_DECISIONS] = { "ec2m_autoscale_decisions_total",
	    "Recorded autoscale evaluations, by action and reason.", false,
	    { "cluster", "action", "reason" }, NULL, 0, NULL, 0, 0 },
	[MF_REFRESH_FAILURES] = { "ec2m_refresh_failures_total",
	    "Reads of a cluster from EC2 or Opencast that failed.", false,
	    { "cluster", "source" }, NULL, 0, NULL, 0, 0 },
	[MF_CONTROL_REQUESTS] = { "ec2m_control_requests_total",
	    "Requests on the control socket, by command and outcome (ok or "
	    "the error code).", false, { "command", "outcome" }, NULL, 0,
	    NULL, 0, 0 },
	[MF_CONTROL_CONNECTIONS] = { "ec2m_control_connections_total",
	    "Connections accepted on the control socket.", false, { NULL },
	    NULL, 0, NULL, 0, 0 },
};

static size_t
nlabels(const struct family *f)
{
	size_t n = 0;

	while (n < MAX_LABELS && f->labels[n])
		n++;
	return n;
}

static const char *
value_of(const char *const *values, size_t i)
{
	return values && values[i] ? values[i] : "";
}

static struct series *
find(struct family *f, const char *const *values, bool create)
{
	size_t nl = nlabels(f), i, j;
	struct series *s;

	for (i = 0; i < f->n; i++) {
		for (j = 0; j < nl; j++)
			if (strcmp(f->v[i].values[j], value_of(values, j)) != 0)
				break;
		if (j == nl)
			return &f->v[i];
	}
	if (!create)
		return NULL;
	f->v = xgrow(f->v, &f->cap, f->n + 1, sizeof(*f->v));
	s = &f->v[f->n++];
	memset(s, 0, sizeof(*s));
	for (j = 0; j < nl; j++) {
		const char *v = value_of(values, j);

		s->values[j] = utf8_sanitize(v, strlen(v));
	}
	return s;
}

void
metrics_add(enum metrics_family fi, const char *const *values, double v)
{
	struct family *f = &families[fi];

	if (f->histogram || !(v >= 0))
		return;
	find(f, values, true)->value += v;
}

void
metrics_observe(enum metrics_family fi, const char *const *values, double v)
{
	struct family *f = &families[fi];
	struct series *s;
	size_t i;

	if (!f->histogram || isnan(v))
		return;
	s = find(f, values, true);
	for (i = 0; i < f->nbounds && v > f->bounds[i]; i++)
		;
	if (i < f->nbounds)
		s->buckets[i]++;
	s->count++;
	s->value += v;
}

double
metrics_get(enum metrics_family fi, const char *const *values)
{
	struct family *f = &families[fi];
	struct series *s = find(f, values, false);

	if (s == NULL)
		return 0;
	return f->histogram ? (double)s->count : s->value;
}

static void
series_free(struct family *f, struct series *s)
{
	for (size_t j = 0; j < MAX_LABELS; j++)
		free(s->values[j]);
	(void)f;
}

void
metrics_forget_cluster(const char *name)
{
	for (size_t fi = 0; fi < MF_NFAMILIES; fi++) {
		struct family *f = &families[fi];
		size_t nl = nlabels(f), j, i = 0;

		for (j = 0; j < nl && strcmp(f->labels[j], "cluster"); j++)
			;
		if (j == nl)
			continue;
		while (i < f->n) {
			if (strcmp(f->v[i].values[j], name) != 0) {
				i++;
				continue;
			}
			series_free(f, &f->v[i]);
			f->v[i] = f->v[--f->n];
		}
	}
}

void
metrics_reset(void)
{
	for (size_t fi = 0; fi < MF_NFAMILIES; fi++) {
		struct family *f = &families[fi];

		for (size_t i = 0; i < f->n; i++)
			series_free(f, &f->v[i]);
		free(f->v);
		f->v = NULL;
		f->n = f->cap = 0;
	}
}

/* The hooks. */

void
metrics_upstream_request(const char *service, const char *call,
    const char *outcome, double seconds)
{
	const char *v[] = { service, call, outcome };

	metrics_add(MF_UPSTREAM_REQUESTS, v, 1);
	if (strcmp(outcome, "cancelled") != 0)
		metrics_observe(MF_UPSTREAM_LATENCY, v, seconds);
}

void
metrics_upstream_retry(const char *service, const char *call)
{
	const char *v[] = { service, call };

	metrics_add(MF_UPSTREAM_RETRIES, v, 1);
}

void
metrics_operation(const char *cluster, const char *kind, const char *outcome,
    bool dry_run, double seconds)
{
	const char *v[] = { cluster, kind, outcome, dry_run ? "true" :
	    "false" };

	metrics_add(MF_OPERATIONS, v, 1);
	if (!dry_run)
		metrics_observe(MF_OPERATION_DURATION, v, seconds);
}

void
metrics_decision(const char *cluster, const json_t *decision)
{
	const char *action = json_string_value(json_object_get(decision,
	    "action"));
	const char *v[] = { cluster, action ? action : "none",
	    metrics_decision_reason(decision) };

	metrics_add(MF_DECISIONS, v, 1);
}

void
metrics_refresh_failed(const char *cluster, const char *source)
{
	const char *v[] = { cluster, source };

	metrics_add(MF_REFRESH_FAILURES, v, 1);
}

void
metrics_control_request(const char *command, const char *outcome)
{
	const char *v[] = { command, outcome };

	metrics_add(MF_CONTROL_REQUESTS, v, 1);
}

void
metrics_control_connection(void)
{
	metrics_add(MF_CONTROL_CONNECTIONS, NULL, 1);
}

/* Label values of the hooks. */

static bool
input_false(const json_t *inputs, const char *key)
{
	return json_is_false(json_object_get(inputs, key));
}

const char *
metrics_decision_reason(const json_t *decision)
{
	const json_t *inputs = json_object_get(decision, "inputs");
	const char *action = json_string_value(json_object_get(decision,
	    "action"));

	if (!json_is_true(json_object_get(decision, "ran"))) {
		/* Switched off before any read: no inputs at all. */
		if (inputs == NULL || !json_is_null(json_object_get(inputs,
		    "disabled_reason")))
			return "autoscale_off";
		if (input_false(inputs, "admin_running"))
			return "admin_not_running";
		if (input_false(inputs, "opencast_reachable"))
			return "opencast_unreachable";
		return "no_fresh_data";
	}
	if (json_is_false(json_object_get(decision, "carried_out")))
		return "not_carried_out";
	if (json_is_integer(json_object_get(inputs, "cooldown_left_s")) &&
	    (action == NULL || strcmp(action, "none") == 0))
		return "cooldown";
	if (json_object_get(decision, "demand") != NULL && action &&
	    strcmp(action, "none") != 0)
		return "demand";
	if (action && strcmp(action, "scale_up") == 0)
		return "queued_jobs";
	if (action && strcmp(action, "scale_down") == 0)
		return "idle_workers";
	if (json_is_true(json_object_get(decision, "warning")))
		return "limit";
	return "no_change";
}

const char *
metrics_http_outcome(long status, bool ok, bool timed_out, bool cancelled)
{
	if (cancelled)
		return "cancelled";
	if (timed_out)
		return "timeout";
	if (!ok || status < 100)
		return "error";
	if (status < 300)
		return "ok";
	if (status < 400)
		return "3xx";
	if (status < 500)
		return "4xx";
	return "5xx";
}

/* The exposition format. */

void
metrics_write_value(struct strbuf *out, double v)
{
	if (isnan(v))
		strbuf_puts(out, "NaN");
	else if (isinf(v))
		strbuf_puts(out, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		strbuf_printf(out, "%.0f", v);
	else {
		/* The shortest of 15 to 17 digits that reads back as v. */
		char buf[32];
		int prec;

		for (prec = 15; prec < 17; prec++) {
			/* not text */
			snprintf(buf, sizeof(buf), "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
		if (prec == 17)
			/* not text */
			snprintf(buf, sizeof(buf), "%.17g", v);
		strbuf_puts(out, buf);
	}
}

/* Appends s with \ and newline escaped, and " too when quote. */
static void
write_escaped(struct strbuf *out, const char *s, bool quote)
{
	char *clean = utf8_sanitize(s, strlen(s));

	for (const char *p = clean; *p; p++) {
		if (*p == '\\')
			strbuf_puts(out, "\\\\");
		else if (*p == '\n')
			strbuf_puts(out, "\\n");
		else if (*p == '"' && quote)
			strbuf_puts(out, "\\\"");
		else
			strbuf_putc(out, *p);
	}
	free(clean);
}

void
metrics_write_label_value(struct strbuf *out, const char *s)
{
	write_escaped(out, s, true);
}

void
metrics_write_header(struct strbuf *out, const char *name, const char *help,
    const char *type)
{
	strbuf_printf(out, "# HELP %s ", name);
	write_escaped(out, help, false);
	strbuf_printf(out, "\n# TYPE %s %s\n", name, type);
}

/* name{labels,extra="x"} value: extra (the bucket's le) may be NULL. */
static void
write_sample(struct strbuf *out, const char *name, const char *suffix,
    const char *const *names, const char *const *values, size_t n,
    const char *extra_name, const char *extra_value, double v)
{
	bool any = n > 0 || extra_name;

	strbuf_puts(out, name);
	if (suffix)
		strbuf_puts(out, suffix);
	if (any)
		strbuf_putc(out, '{');
	for (size_t i = 0; i < n; i++) {
		strbuf_printf(out, "%s%s=\"", i ? "," : "", names[i]);
		metrics_write_label_value(out, value_of(values, i));
		strbuf_putc(out, '"');
	}
	if (extra_name)
		strbuf_printf(out, "%s%s=\"%s\"", n ? "," : "", extra_name,
		    extra_value);
	if (any)
		strbuf_putc(out, '}');
	strbuf_putc(out, ' ');
	metrics_write_value(out, v);
	strbuf_putc(out, '\n');
}

void
metrics_write_sample(struct strbuf *out, const char *name,
    const char *const *names, const char *const *values, size_t n,
    double v)
{
	write_sample(out, name, NULL, names, values, n, NULL, NULL, v);
}

static void
write_histogram(struct strbuf *out, const struct family *f,
    const struct series *s)
{
	const char *const *vals = (const char *const *)s->values;
	size_t nl = nlabels(f);
	uint64_t cum = 0;
	struct strbuf le = STRBUF_INIT;

	for (size_t i = 0; i < f->nbounds; i++) {
		cum += s->buckets[i];
		strbuf_reset(&le);
		metrics_write_value(&le, f->bounds[i]);
		write_sample(out, f->name, "_bucket", f->labels, vals, nl,
		    "le", strbuf_str(&le), (double)cum);
	}
	write_sample(out, f->name, "_bucket", f->labels, vals, nl, "le",
	    "+Inf", (double)s->count);
	write_sample(out, f->name, "_sum", f->labels, vals, nl, NULL, NULL,
	    s->value);
	write_sample(out, f->name, "_count", f->labels, vals, nl, NULL, NULL,
	    (double)s->count);
	strbuf_release(&le);
}

void
metrics_write_registry(struct strbuf *out)
{
	for (size_t fi = 0; fi < MF_NFAMILIES; fi++) {
		const struct family *f = &families[fi];
		size_t nl = nlabels(f);

		metrics_write_header(out, f->name, f->help, f->histogram ?
		    "histogram" : "counter");
		for (size_t i = 0; i < f->n; i++) {
			if (f->histogram)
				write_histogram(out, f, &f->v[i]);
			else
				write_sample(out, f->name, NULL, f->labels,
				    (const char *const *)f->v[i].values, nl,
				    NULL, NULL, f->v[i].value);
		}
	}
}

/* The listen address. */

int
metrics_parse_listen(const char *s, struct sockaddr_storage *ss,
    char *why, size_t whylen)
{
	char host[64];
	const char *colon, *h = s, *p;
	size_t hlen;
	long port = 0;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':') {
			utf8_snprintf(why, whylen, "\"%s\" is not [IPV6]:PORT",
			    s);
			return -1;
		}
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || strchr(s, ':') != colon) {
			utf8_snprintf(why, whylen, "\"%s\" is not ADDRESS:PORT "
			    "(e.g. 127.0.0.1:9780, or [::1]:9780)", s);
			return -1;
		}
		hlen = (size_t)(colon - s);
	}
	for (p = colon + 1; *p >= '0' && *p <= '9' && port <= 65535; p++)
		port = port * 10 + (*p - '0');
	if (p == colon + 1 || *p != '\0' || port < 1 || port > 65535) {
		utf8_snprintf(why, whylen, "the port of \"%s\" is not 1 to "
		    "65535", s);
		return -1;
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		utf8_snprintf(why, whylen, "\"%s\" has no IP address", s);
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (s[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
			utf8_snprintf(why, whylen, "\"%s\" is not an IPv6 "
			    "address", host);
			return -1;
		}
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
			utf8_snprintf(why, whylen, "\"%s\" is not an IPv4 "
			    "address (a name is not resolved; IPv6 goes in "
			    "brackets)", host);
			return -1;
		}
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
	}
	return 0;
}
