/*
 * The autoscaler's decision (SPEC §5 "Autoscale evaluation").  The rules
 * are applied in a fixed order: can the evaluation run at all (switches,
 * admin, Opencast, fresh data), then the cooldown, then scale up, then
 * scale down, then "no change".  Everything here is pure: no I/O, no
 * clock, no randomness, so the same inputs always give the same decision.
 */
#include "daemon/policy.h"
#include "daemon/policy_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"

void
policy_settings_from_config(struct policy_settings *s,
    const struct cluster_config *c)
{
	memset(s, 0, sizeof(*s));
	s->min_workers = c->min_workers;
	s->max_workers = c->max_workers;
	s->min_idle_workers = c->min_idle_workers;
	s->max_queued_jobs = c->max_queued_jobs;
	s->scale_up_step = c->scale_up_step;
	s->scale_down_step = c->scale_down_step;
	s->billing = c->billing;
	s->idle_uptime_threshold_ms = c->idle_uptime_threshold_ms;
	s->min_uptime_ms = c->min_uptime_ms;
	s->cooldown_ms = c->cooldown_ms;
	s->max_data_age_ms = 2 * c->refresh_interval_ms;
	s->policy = c->policy;
	s->scale_up_max_step = c->scale_up_max_step;
	s->default_max_load = 8.0;
}

const char *
policy_action_name(enum policy_action a)
{
	switch (a) {
	case POLICY_NONE:	return "none";
	case POLICY_SCALE_UP:	return "scale_up";
	case POLICY_SCALE_DOWN:	return "scale_down";
	}
	return "none";
}

const char *
policy_verdict_name(enum policy_verdict v)
{
	switch (v) {
	case VERDICT_CHOSEN:		return "chosen";
	case VERDICT_BUSY:		return "busy";
	case VERDICT_UNKNOWN_JOBS:	return "unknown_jobs";
	case VERDICT_HELD:		return "held";
	case VERDICT_BILLING:		return "billing";
	case VERDICT_NOT_NEEDED:	return "not_needed";
	case VERDICT_NOT_RUNNING:	return "not_running";
	case VERDICT_NOT_CONSIDERED:	return "not_considered";
	case VERDICT_STARTING:		return "starting";
	case VERDICT_DRAINING:		return "draining";
	case VERDICT_TAKEN_BACK:	return "taken_back";
	case VERDICT_NEEDED:		return "needed";
	}
	return "unknown";
}

static const char *
billing_name(enum billing b)
{
	return b == BILLING_PER_SECOND ? "per-second" : "hourly";
}

/* Appends to the decision's reason; what does not fit is cut off. */
void
policy_reason_add(struct policy_decision *d, const char *fmt, ...)
{
	size_t len = strlen(d->reason);
	va_list ap;

	if (len + 1 >= sizeof(d->reason))
		return;
	va_start(ap, fmt);
	utf8_vsnprintf(d->reason + len, sizeof(d->reason) - len, fmt, ap);
	va_end(ap);
}

const char *
policy_plural(int64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* The seconds left of a cooldown, rounded up so that a last millisecond
 * still reads "1 s". */
static int64_t
ceil_seconds(int64_t ms)
{
	return ms <= 0 ? 0 : (ms + 999) / 1000;
}

/* Milliseconds left of the cooldown, or 0 when it is over (or none). */
static int64_t
cooldown_left_ms(const struct policy_settings *s,
    const struct policy_input *in)
{
	int64_t elapsed;

	if (in->last_action_ms <= 0 || s->cooldown_ms <= 0)
		return 0;
	elapsed = in->now_ms - in->last_action_ms;
	if (elapsed >= s->cooldown_ms)
		return 0;
	return s->cooldown_ms - elapsed;
}

/* How old data read at at_ms is, or -1 if it was never read. */
static int64_t
data_age_ms(int64_t at_ms, int64_t now_ms)
{
	return at_ms <= 0 ? -1 : now_ms - at_ms;
}

/* Checks that EC2 or Opencast data (what) is there and fresh; if not,
 * writes why into the reason and returns false. */
static bool
policy_data_fresh(const struct policy_settings *s,
    const struct policy_input *in, const char *what, int64_t at_ms,
    struct policy_decision *d)
{
	int64_t age = data_age_ms(at_ms, in->now_ms);
	char max[32];

	if (age < 0) {
		policy_reason_add(d,
		    "no fresh data: %s data was never read", what);
		return false;
	}
	if (age <= s->max_data_age_ms)
		return true;
	time_format_duration(s->max_data_age_ms, max, sizeof(max));
	policy_reason_add(d,
	    "no fresh data: %s data is %lld s old (more than %s)",
	    what, (long long)ceil_seconds(age), max);
	return false;
}

/* Whether a running worker is past its billing threshold, i.e. stopping
 * it now wastes nothing already paid for.  An unknown uptime never is.
 * Hourly billing compares the time into the current hour of uptime with
 * the threshold; for whole-minute thresholds that is exactly
 * (uptime_min % 60) >= threshold_min. */
bool
policy_may_run(const struct policy_settings *s, const struct policy_input *in,
    bool queued_known, struct policy_decision *d)
{
	if (in->disabled_reason != NULL) {
		policy_reason_add(d, "autoscale is off: %s",
		    in->disabled_reason);
		return false;
	}
	if (in->ec2_error != NULL) {
		policy_reason_add(d, "the cluster's instances could not be "
		    "read: %s", in->ec2_error);
		return false;
	}
	if (!in->admin_running) {
		policy_reason_add(d, "the admin is not running%s%s%s",
		    in->admin_detail ? " (" : "",
		    in->admin_detail ? in->admin_detail : "",
		    in->admin_detail ? ")" : "");
		return false;
	}
	if (!in->opencast_reachable) {
		policy_reason_add(d, "Opencast is not reachable%s%s",
		    in->opencast_error ? ": " : "",
		    in->opencast_error ? in->opencast_error : "");
		return false;
	}
	if (!policy_data_fresh(s, in, "EC2", in->ec2_at_ms, d) ||
	    !policy_data_fresh(s, in, "Opencast", in->oc_at_ms, d))
		return false;
	if (!queued_known) {
		policy_reason_add(d,
		    "no fresh data: the queued jobs are unknown");
		return false;
	}
	d->ran = true;
	return true;
}

bool
policy_past_billing(const struct policy_settings *s,
    const struct policy_worker *w)
{
	if (w->uptime_s < 0)
		return false;
	if (s->billing == BILLING_PER_SECOND)
		return w->uptime_s * 1000 >= s->min_uptime_ms;
	return (w->uptime_s % 3600) * 1000 >= s->idle_uptime_threshold_ms;
}

static bool
worker_idle(const struct policy_worker *w)
{
	return w->running && !w->held && w->running_jobs == 0;
}

/* Marks running workers "not considered" and the others "not running":
 * the verdicts of every evaluation that did not look at scaling down. */
static void
verdicts_not_considered(const struct policy_input *in,
    struct policy_decision *d)
{
	for (size_t i = 0; i < in->nworkers; i++)
		d->verdicts[i] = in->workers[i].running ?
		    VERDICT_NOT_CONSIDERED : VERDICT_NOT_RUNNING;
}

static int
min_int(int a, int b)
{
	return a < b ? a : b;
}

static void
scale_up(const struct policy_settings *s, const struct policy_input *in,
    struct policy_decision *d)
{
	int step = s->scale_up_step > 0 ? s->scale_up_step : 1;
	/* --force: max_workers does not apply. */
	int room = in->force ? d->stopped : s->max_workers - d->running;
	int k;

	verdicts_not_considered(in, d);
	policy_reason_add(d, "%d queued high-load %s > max_queued_jobs %d",
	    in->queued_high_load_jobs,
	    policy_plural(in->queued_high_load_jobs, "job", "jobs"),
	    s->max_queued_jobs);
	if (room <= 0) {
		d->warning = true;
		policy_reason_add(d,
		    ", but max_workers %d is reached (%d running)",
		    s->max_workers, d->running);
		return;
	}
	if (d->stopped == 0) {
		d->warning = true;
		policy_reason_add(d,
		    ", but no stopped worker is left to start");
		return;
	}
	k = min_int(step, min_int(room, d->stopped));
	d->action = POLICY_SCALE_UP;
	d->count = k;
	policy_reason_add(d,
	    ": start %d %s", k, policy_plural(k, "worker", "workers"));
	if (in->force && d->running + k > s->max_workers)
		policy_reason_add(d, " (max_workers %d ignored: --force)",
		    s->max_workers);
	if (k < step && room == k && !in->force) {
		d->warning = true;
		policy_reason_add(d,
		    " (scale_up_step %d cut by max_workers %d, "
		    "%d running)", step, s->max_workers, d->running);
	} else if (k < step) {
		d->warning = true;
		policy_reason_add(d,
		    " (scale_up_step %d, but only %d stopped %s "
		    "left)", step, d->stopped, policy_plural(d->stopped,
		    "worker is", "workers are"));
	}
}

/* Sorts the candidate indices by uptime, longest first; equal uptimes
 * keep their input order (an insertion sort is stable, and clusters are
 * small). */
void
policy_sort_by_uptime(const struct policy_worker *w, size_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		size_t x = v[i], j = i;

		while (j > 0 && w[v[j - 1]].uptime_s < w[x].uptime_s) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

/* Says why no idle worker could be stopped: all of them are too young
 * for the billing rule (or their uptime is unknown). */
static void
reason_billing(const struct policy_settings *s, const struct policy_input *in,
    struct policy_decision *d)
{
	int young = 0, unknown = 0;
	char thr[32];

	for (size_t i = 0; i < in->nworkers; i++) {
		if (d->verdicts[i] != VERDICT_BILLING)
			continue;
		if (in->workers[i].uptime_s < 0)
			unknown++;
		else
			young++;
	}
	policy_reason_add(d, ", but no workers available to stop:");
	if (young > 0 && s->billing == BILLING_PER_SECOND) {
		time_format_duration(s->min_uptime_ms, thr, sizeof(thr));
		policy_reason_add(d, " %d below min_uptime %s", young, thr);
	} else if (young > 0) {
		time_format_duration(s->idle_uptime_threshold_ms, thr,
		    sizeof(thr));
		policy_reason_add(d,
		    " %d within the billing hour (uptime below %s "
		    "into the hour)", young, thr);
	}
	if (unknown > 0)
		policy_reason_add(d,
		    "%s %d with unknown uptime", young > 0 ? "," : "",
		    unknown);
}

static void
scale_down(const struct policy_settings *s, const struct policy_input *in,
    struct policy_decision *d)
{
	int step = s->scale_down_step > 0 ? s->scale_down_step : 1;
	/* --force: min_workers does not apply. */
	int room = in->force ? d->running : d->running - s->min_workers;
	int spare = d->idle - s->min_idle_workers;
	size_t *cand, ncand = 0;
	int k;

	policy_reason_add(d, "%d idle %s > min_idle_workers %d", d->idle,
	    policy_plural(d->idle, "worker", "workers"), s->min_idle_workers);

	/* Every worker gets its verdict; the eligible ones are candidates. */
	cand = xcalloc(in->nworkers ? in->nworkers : 1, sizeof(*cand));
	for (size_t i = 0; i < in->nworkers; i++) {
		const struct policy_worker *w = &in->workers[i];

		if (!w->running)
			d->verdicts[i] = VERDICT_NOT_RUNNING;
		else if (w->held)
			d->verdicts[i] = VERDICT_HELD;
		else if (w->running_jobs > 0)
			d->verdicts[i] = VERDICT_BUSY;
		else if (w->running_jobs < 0)
			d->verdicts[i] = VERDICT_UNKNOWN_JOBS;
		else if (!in->force && !policy_past_billing(s, w))
			d->verdicts[i] = VERDICT_BILLING;
		else {
			d->verdicts[i] = VERDICT_NOT_NEEDED;
			cand[ncand++] = i;
		}
	}

	if (room <= 0) {
		d->warning = true;
		policy_reason_add(d,
		    ", but min_workers %d is reached (%d running)",
		    s->min_workers, d->running);
		goto out;
	}
	if (ncand == 0) {
		reason_billing(s, in, d);
		goto out;
	}

	k = min_int(min_int(step, spare), min_int(room, (int)ncand));
	policy_sort_by_uptime(in->workers, cand, ncand);
	d->action = POLICY_SCALE_DOWN;
	d->count = k;
	d->chosen = xcalloc((size_t)k, sizeof(*d->chosen));
	policy_reason_add(d,
	    ": stop %d %s", k, policy_plural(k, "worker", "workers"));
	for (int j = 0; j < k; j++) {
		d->chosen[j] = cand[j];
		d->verdicts[cand[j]] = VERDICT_CHOSEN;
		policy_reason_add(d, "%s%s", j == 0 ? " (" : ", ",
		    in->workers[cand[j]].id ? in->workers[cand[j]].id : "?");
	}
	policy_reason_add(d, ")");
	if (in->force)
		policy_reason_add(d, "; --force: %sthe billing threshold "
		    "ignored", d->running - k < s->min_workers ?
		    "min_workers and " : "");
	if (k < step && k < spare && k == room && !in->force) {
		d->warning = true;
		policy_reason_add(d,
		    "; scale_down_step %d cut by min_workers %d "
		    "(%d running)", step, s->min_workers, d->running);
	}
out:
	free(cand);
}

void
policy_decide(const struct policy_settings *s,
    const struct policy_input *in, struct policy_decision *d)
{
	int64_t left;

	memset(d, 0, sizeof(*d));
	d->action = POLICY_NONE;
	d->verdicts = xcalloc(in->nworkers ? in->nworkers : 1,
	    sizeof(*d->verdicts));

	/* The derived numbers are kept even when the evaluation cannot run,
	 * for the record. */
	for (size_t i = 0; i < in->nworkers; i++) {
		const struct policy_worker *w = &in->workers[i];

		if (w->running)
			d->running++;
		if (worker_idle(w))
			d->idle++;
		if (!w->running && w->stopped && !w->held)
			d->stopped++;
	}
	verdicts_not_considered(in, d);

	/* Can the evaluation run at all?  With no fresh data the
	 * autoscaler does nothing. */
	if (!policy_may_run(s, in, in->queued_high_load_jobs >= 0, d))
		return;

	if ((left = cooldown_left_ms(s, in)) > 0) {
		char cd[32];

		time_format_duration(s->cooldown_ms, cd, sizeof(cd));
		policy_reason_add(d,
		    "in cooldown: %lld s left of %s after the last "
		    "autoscale action", (long long)ceil_seconds(left), cd);
		return;
	}

	if (in->queued_high_load_jobs > s->max_queued_jobs) {
		scale_up(s, in, d);
		return;
	}
	if (d->idle > s->min_idle_workers) {
		scale_down(s, in, d);
		return;
	}
	policy_reason_add(d,
	    "no change: %d queued high-load %s <= max_queued_jobs %d "
	    "and %d idle %s <= min_idle_workers %d", in->queued_high_load_jobs,
	    policy_plural(in->queued_high_load_jobs, "job", "jobs"),
	    s->max_queued_jobs, d->idle,
	    policy_plural(d->idle, "worker", "workers"),
	    s->min_idle_workers);
}

void
policy_decision_release(struct policy_decision *d)
{
	free(d->chosen);
	free(d->verdicts);
	free(d->taken_back);
	memset(d, 0, sizeof(*d));
}

/* A duration in seconds: an integer when it is whole, else a real. */
static json_t *
seconds_json(int64_t ms)
{
	if (ms % 1000 == 0)
		return json_integer(ms / 1000);
	return json_real((double)ms / 1000.0);
}

static json_t *
age_json(int64_t at_ms, int64_t now_ms)
{
	int64_t age = data_age_ms(at_ms, now_ms);

	return age < 0 ? json_null() : json_integer(age / 1000);
}

static json_t *
time_json(int64_t ms)
{
	char buf[TIME_ISO8601_LEN];

	if (ms <= 0)
		return json_null();
	time_format_iso8601(ms, buf);
	return json_text(buf);
}

static json_t *
inputs_json(const struct policy_settings *s, const struct policy_input *in,
    const struct policy_decision *d)
{
	int64_t left = cooldown_left_ms(s, in);
	json_t *o = json_object();

	json_object_set_new(o, "now", time_json(in->now_ms));
	json_object_set_new(o, "disabled_reason", in->disabled_reason ?
	    json_text(in->disabled_reason) : json_null());
	json_object_set_new(o, "ec2_error", json_text_or_null(in->ec2_error));
	json_object_set_new(o, "admin_running",
	    json_boolean(in->admin_running));
	json_object_set_new(o, "opencast_reachable",
	    json_boolean(in->opencast_reachable));
	json_object_set_new(o, "force", json_boolean(in->force));
	json_object_set_new(o, "ec2_data_age_s",
	    age_json(in->ec2_at_ms, in->now_ms));
	json_object_set_new(o, "opencast_data_age_s",
	    age_json(in->oc_at_ms, in->now_ms));
	json_object_set_new(o, "max_data_age_s",
	    seconds_json(s->max_data_age_ms));
	json_object_set_new(o, "queued_high_load_jobs",
	    in->queued_high_load_jobs >= 0 ?
	    json_integer(in->queued_high_load_jobs) : json_null());
	json_object_set_new(o, "running", json_integer(d->running));
	json_object_set_new(o, "idle", json_integer(d->idle));
	json_object_set_new(o, "stopped", json_integer(d->stopped));
	json_object_set_new(o, "min_workers", json_integer(s->min_workers));
	json_object_set_new(o, "max_workers", json_integer(s->max_workers));
	json_object_set_new(o, "min_idle_workers",
	    json_integer(s->min_idle_workers));
	json_object_set_new(o, "max_queued_jobs",
	    json_integer(s->max_queued_jobs));
	json_object_set_new(o, "scale_up_step",
	    json_integer(s->scale_up_step));
	json_object_set_new(o, "scale_down_step",
	    json_integer(s->scale_down_step));
	json_object_set_new(o, "billing",
	    json_text(billing_name(s->billing)));
	json_object_set_new(o, "idle_uptime_threshold_s",
	    seconds_json(s->idle_uptime_threshold_ms));
	json_object_set_new(o, "min_uptime_s", seconds_json(s->min_uptime_ms));
	json_object_set_new(o, "cooldown_s", seconds_json(s->cooldown_ms));
	json_object_set_new(o, "last_action", time_json(in->last_action_ms));
	json_object_set_new(o, "cooldown_left_s", left > 0 ?
	    json_integer(ceil_seconds(left)) : json_null());
	return o;
}

json_t *
policy_decision_json(const struct policy_settings *s,
    const struct policy_input *in, const struct policy_decision *d)
{
	json_t *workers = json_array();

	for (size_t i = 0; i < in->nworkers; i++) {
		const struct policy_worker *w = &in->workers[i];

		json_array_append_new(workers, json_pack(
		    "{s:o, s:s, s:o, s:o, s:b}",
		    "id", json_text_or_null(w->id),
		    "verdict", policy_verdict_name(d->verdicts ?
		    d->verdicts[i] : VERDICT_NOT_CONSIDERED),
		    "running_jobs", w->running_jobs >= 0 ?
		    json_integer(w->running_jobs) : json_null(),
		    "uptime_s", w->uptime_s >= 0 ?
		    json_integer(w->uptime_s) : json_null(),
		    "held", w->held));
	}
	return json_pack("{s:b, s:s, s:i, s:o, s:b, s:o, s:o}",
	    "ran", d->ran, "action", policy_action_name(d->action),
	    "count", d->count, "reason", json_text(d->reason),
	    "warning", d->warning,
	    "inputs", inputs_json(s, in, d), "workers", workers);
}
