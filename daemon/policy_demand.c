/*
 * policy = demand (policy.h): scale to the work that is waiting.  The
 * rules, in order: can the evaluation run at all (as for seed: switches,
 * admin, Opencast, fresh data, known queue), then the demand and the
 * target, then scale up (taking back draining workers first), then scale
 * down (only after the cooldown), then "no change".  Pure: no I/O, no
 * clock, no randomness.
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

static int
imin(int a, int b)
{
	return a < b ? a : b;
}

static int
imax(int a, int b)
{
	return a > b ? a : b;
}

/* A worker's demand view: the input's, or all zero. */
static struct policy_worker_demand
wd(const struct policy_input *in, size_t i)
{
	struct policy_worker_demand z;

	if (in->demand != NULL)
		return in->demand[i];
	memset(&z, 0, sizeof(z));
	return z;
}

/* Counts as capacity: taking jobs now (running, not draining) or soon. */
static bool
is_capacity(const struct policy_worker *w, const struct policy_worker_demand *x)
{
	return x->starting || (w->running && !x->draining);
}

/* The max_load used for the packing: the largest known one, else the
 * setting's default, else 1. */
static double
packing_max_load(const struct policy_settings *s,
    const struct policy_input *in)
{
	double m = 0;

	for (size_t i = 0; i < in->nworkers; i++)
		if (wd(in, i).max_load > m)
			m = wd(in, i).max_load;
	if (m <= 0)
		m = s->default_max_load;
	return m > 0 ? m : 1.0;
}

/* Fills the demand figures and the target. */
static void
demand_figures(const struct policy_settings *s, const struct policy_input *in,
    struct policy_decision *d)
{
	double q = in->queued_load > 0 ? in->queued_load : 0;
	double r;
	int64_t needed;

	for (size_t i = 0; i < in->nworkers; i++) {
		const struct policy_worker *w = &in->workers[i];
		struct policy_worker_demand x = wd(in, i);

		if (w->running && x.load > 0)
			d->running_load += x.load;
		if (is_capacity(w, &x))
			d->capacity++;
		if (x.starting)
			d->starting++;
		if (w->running && x.draining && !x.starting)
			d->draining++;
	}
	d->demand_load = d->running_load + q;
	d->max_load = packing_max_load(s, in);
	/* Rounded up, with a small tolerance so that 16.0000001 / 8 is 2
	 * workers. */
	r = d->demand_load / d->max_load - 1e-9;
	if (r > 100000)
		r = 100000;
	needed = r > 0 ? (int64_t)r : 0;
	if ((double)needed < r)
		needed++;
	d->needed = (int)needed;
	d->target = d->needed + s->min_idle_workers;
	/* --force: min_workers and max_workers do not apply. */
	if (d->target > s->max_workers && !in->force)
		d->target = s->max_workers;
	if (d->target < s->min_workers && !in->force)
		d->target = s->min_workers;
}

static void
demand_up(const struct policy_settings *s, const struct policy_input *in,
    struct policy_decision *d)
{
	int want = d->target - d->capacity;
	int step = s->scale_up_max_step > 0 ? s->scale_up_max_step : 1;
	int present = 0, k;

	for (size_t i = 0; i < in->nworkers; i++)
		if (in->workers[i].running || wd(in, i).starting)
			present++;
	/* Draining workers first: they are there already. */
	d->taken_back = xcalloc(in->nworkers ? in->nworkers : 1,
	    sizeof(*d->taken_back));
	for (size_t i = 0; i < in->nworkers && d->take_back < want; i++) {
		const struct policy_worker *w = &in->workers[i];
		struct policy_worker_demand x = wd(in, i);

		if (w->running && x.draining && !x.starting) {
			d->taken_back[d->take_back++] = i;
			d->verdicts[i] = VERDICT_TAKEN_BACK;
		}
	}
	want -= d->take_back;
	k = imin(want, step);
	if (!in->force)
		k = imin(k, imax(0, s->max_workers - present));
	k = imin(k, d->stopped);
	if (k < 0)
		k = 0;
	policy_reason_add(d,
	    ": take back %d draining, start %d", d->take_back, k);
	if (k < want) {
		d->warning = true;
		if (k == step)
			policy_reason_add(d, " (scale_up_max_step %d)", step);
		else if (present + k >= s->max_workers && !in->force)
			policy_reason_add(d,
			    " (max_workers %d reached)", s->max_workers);
		else
			policy_reason_add(d,
			    " (only %d stopped %s left)", d->stopped,
			    policy_plural(d->stopped, "worker", "workers"));
	}
	if (k > 0 || d->take_back > 0) {
		d->action = POLICY_SCALE_UP;
		d->count = k;
	}
}

static void
demand_down(const struct policy_settings *s, const struct policy_input *in,
    struct policy_decision *d, bool cooling)
{
	int surplus = d->capacity - d->target;
	int active = 0, k;
	size_t *cand, ncand = 0;

	cand = xcalloc(in->nworkers ? in->nworkers : 1, sizeof(*cand));
	for (size_t i = 0; i < in->nworkers; i++) {
		const struct policy_worker *w = &in->workers[i];
		struct policy_worker_demand x = wd(in, i);

		if (x.starting || !w->running || x.draining)
			continue;
		active++;
		if (w->held)
			d->verdicts[i] = VERDICT_HELD;
		else if (w->running_jobs > 0)
			d->verdicts[i] = VERDICT_BUSY;
		else if (w->running_jobs < 0)
			d->verdicts[i] = VERDICT_UNKNOWN_JOBS;
		else if (!in->force && !policy_past_billing(s, w))
			d->verdicts[i] = VERDICT_BILLING;
		else {
			d->verdicts[i] = VERDICT_NEEDED;
			cand[ncand++] = i;
		}
	}
	/* Never below min_workers among the workers taking jobs. */
	k = imin(surplus, in->force ? active : active - s->min_workers);
	k = imin(k, (int)ncand);
	if (cooling || k <= 0) {
		if (cooling) {
			policy_reason_add(d,
			    ", but in cooldown after the last action");
		} else if (active <= s->min_workers && !in->force) {
			d->warning = true;
			policy_reason_add(d, ", but min_workers %d is reached",
			    s->min_workers);
		} else {
			policy_reason_add(d,
			    ", but no idle worker is past the billing "
			    "threshold");
		}
		goto out;
	}
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
	for (size_t j = (size_t)k; j < ncand; j++)
		d->verdicts[cand[j]] = VERDICT_NOT_NEEDED;
out:
	free(cand);
}

void
policy_demand_decide(const struct policy_settings *s,
    const struct policy_input *in, struct policy_decision *d)
{
	bool cooling;

	memset(d, 0, sizeof(*d));
	d->action = POLICY_NONE;
	d->verdicts = xcalloc(in->nworkers ? in->nworkers : 1,
	    sizeof(*d->verdicts));
	for (size_t i = 0; i < in->nworkers; i++) {
		const struct policy_worker *w = &in->workers[i];
		struct policy_worker_demand x = wd(in, i);

		if (w->running)
			d->running++;
		if (w->running && !w->held && !x.starting &&
		    !x.draining && w->running_jobs == 0)
			d->idle++;
		if (!w->running && !x.starting && w->stopped && !w->held)
			d->stopped++;
		if (x.starting)
			d->verdicts[i] = VERDICT_STARTING;
		else if (w->running && x.draining)
			d->verdicts[i] = VERDICT_DRAINING;
		else
			d->verdicts[i] = w->running ?
			    VERDICT_NOT_CONSIDERED : VERDICT_NOT_RUNNING;
	}
	demand_figures(s, in, d);

	if (!policy_may_run(s, in, in->queued_load >= 0, d))
		return;

	policy_reason_add(d,
	    "demand %.1f (running %.1f + queued %.1f) needs %d %s of "
	    "max_load %.1f; target %d, capacity %d (%d starting)",
	    d->demand_load, d->running_load, d->demand_load - d->running_load,
	    d->needed,
	    policy_plural(d->needed, "worker", "workers"), d->max_load,
	    d->target, d->capacity, d->starting);
	if (in->force)
		policy_reason_add(d, " (--force: min_workers, max_workers and "
		    "the billing threshold ignored)");
	if (d->target > d->capacity) {
		demand_up(s, in, d);
		return;
	}
	cooling = in->last_action_ms > 0 && s->cooldown_ms > 0 &&
	    in->now_ms - in->last_action_ms < s->cooldown_ms;
	if (d->target < d->capacity) {
		demand_down(s, in, d, cooling);
		return;
	}
	policy_reason_add(d, ": no change");
}

json_t *
policy_demand_json(const struct policy_settings *s,
    const struct policy_input *in, const struct policy_decision *d)
{
	json_t *o = policy_decision_json(s, in, d);
	json_t *tb = json_array();

	for (int i = 0; d->taken_back != NULL && i < d->take_back; i++) {
		const char *id = in->workers[d->taken_back[i]].id;

		json_array_append_new(tb, json_text_or_null(id));
	}
	json_object_set_new(o, "policy", json_text("demand"));
	json_object_set_new(o, "demand", json_pack(
	    "{s:f, s:f, s:f, s:f, s:i, s:i, s:i, s:i, s:i, s:i, s:o}",
	    "demand_load", d->demand_load, "running_load", d->running_load,
	    "queued_load", in->queued_load >= 0 ? in->queued_load : 0.0,
	    "max_load", d->max_load, "needed", d->needed,
	    "target", d->target, "capacity", d->capacity,
	    "starting", d->starting, "draining", d->draining,
	    "scale_up_max_step", s->scale_up_max_step, "taken_back", tb));
	return o;
}
