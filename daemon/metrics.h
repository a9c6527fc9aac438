/*
 * Prometheus metrics (issue 15): the registry of what the daemon counts as
 * it goes (counters and histograms, bumped by hooks in the upstream layer,
 * operations, the autoscaler, refreshes and the control socket) and the
 * encoder of the text exposition format 0.0.4, which also writes the gauges
 * that metricsrv.c reads from the daemon's state at scrape time.
 *
 * No loop, no sockets, no clock: the hooks pass durations in, and the
 * registry is one process-wide table that metrics_reset() empties.  Label
 * values from outside (cluster names) are copied as valid UTF-8 and escaped
 * when written; a family's label names and a counter's meaning are fixed
 * here, so that every series of the daemon is documented in one place
 * (ec2-managerd(8), METRICS).
 */
#ifndef EC2M_METRICS_H
#define EC2M_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <jansson.h>

#include "common/strbuf.h"

/* The families the registry keeps. */
enum metrics_family {
	MF_UPSTREAM_REQUESTS,	/* counter: service, call, outcome */
	MF_UPSTREAM_LATENCY,	/* histogram: service, call */
	MF_UPSTREAM_RETRIES,	/* counter: service, call */
	MF_OPERATIONS,		/* counter: cluster, kind, outcome, dry_run */
	MF_OPERATION_DURATION,	/* histogram: cluster, kind */
	MF_DECISIONS,		/* counter: cluster, action, reason */
	MF_REFRESH_FAILURES,	/* counter: cluster, source */
	MF_CONTROL_REQUESTS,	/* counter: command, outcome */
	MF_CONTROL_CONNECTIONS,	/* counter: (none) */
	MF_NFAMILIES
};

/* Adds v to a counter (v >= 0), or observes v in a histogram; values holds
 * one label value per label name of the family (NULL counts as ""). */
void metrics_add(enum metrics_family f, const char *const *values, double v);
void metrics_observe(enum metrics_family f, const char *const *values,
    double v);
/* The value of a counter series, or the count of a histogram series; 0 if
 * it does not exist (for tests). */
double metrics_get(enum metrics_family f, const char *const *values);
/* Forgets every series whose label `cluster` is name (a cluster that is no
 * longer managed). */
void metrics_forget_cluster(const char *name);
/* Frees every series. */
void metrics_reset(void);

/* The hooks. */
/* One HTTP try of an upstream client ended: outcome is "ok" (2xx), "3xx",
 * "4xx", "5xx", "timeout", "error" (no answer) or "cancelled". */
void metrics_upstream_request(const char *service, const char *call,
    const char *outcome, double seconds);
void metrics_upstream_retry(const char *service, const char *call);
/* An operation concluded; outcome "succeeded", "failed", "refused" or
 * "interrupted".  Dry runs are counted but not timed. */
void metrics_operation(const char *cluster, const char *kind,
    const char *outcome, bool dry_run, double seconds);
/* An autoscale evaluation was recorded (decision as in the event history:
 * {"ran", "action", "warning", "inputs", "carried_out"}). */
void metrics_decision(const char *cluster, const json_t *decision);
void metrics_refresh_failed(const char *cluster, const char *source);
void metrics_control_request(const char *command, const char *outcome);
void metrics_control_connection(void);

/* The reason label of an autoscale decision: a fixed word for what the
 * operator reads in the decision's reason ("autoscale_off",
 * "admin_not_running", "opencast_unreachable", "no_fresh_data",
 * "not_carried_out", "cooldown", "queued_jobs", "idle_workers", "demand",
 * "limit", "no_change"). */
const char *metrics_decision_reason(const json_t *decision);

/* The outcome label of one HTTP try: HTTP status (0: no answer), whether
 * it timed out, whether it was cancelled. */
const char *metrics_http_outcome(long status, bool ok, bool timed_out,
    bool cancelled);

/*
 * The exposition format.  A family is written as its # HELP and # TYPE
 * lines followed by its samples; label values are escaped (\\, \", \n)
 * and made valid UTF-8.
 */
void metrics_write_header(struct strbuf *out, const char *name,
    const char *help, const char *type);
/* One sample: name{l1="v1",...} value.  names/values are n long. */
void metrics_write_sample(struct strbuf *out, const char *name,
    const char *const *names, const char *const *values, size_t n,
    double v);
/* Appends a value as the format writes it (integers without a fraction,
 * +Inf, -Inf, NaN). */
void metrics_write_value(struct strbuf *out, double v);
/* Appends s escaped as a label value (valid UTF-8 first). */
void metrics_write_label_value(struct strbuf *out, const char *s);
/* Writes every family of the registry (those without series too). */
void metrics_write_registry(struct strbuf *out);

/* Parses a listen address "IPV4:PORT" or "[IPV6]:PORT" (port 1-65535)
 * into ss; -1 with why when s is not one.  The empty string is off and
 * is not an address. */
int metrics_parse_listen(const char *s, struct sockaddr_storage *ss,
    char *why, size_t whylen);

#endif
