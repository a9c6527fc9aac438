/* The autoscaler's decision: every rule of SPEC §5 "Autoscale evaluation"
 * at its boundaries, the record in JSON, and a randomized property test
 * over generated cluster states. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/policy.h"

#define NOW 1800000000000LL	/* 2027-01-15T08:00:00Z */
#define MIN(m) ((int64_t)(m) * 60)	/* uptime in seconds */
#define HM(h, m) ((int64_t)(h) * 3600 + (int64_t)(m) * 60)

#define RUN(id, jobs, up)	{ id, true, false, false, jobs, up }
#define HELD_RUN(id, jobs, up)	{ id, true, false, true, jobs, up }
#define STOP(id)		{ id, false, true, false, -1, -1 }
#define HELD_STOP(id)		{ id, false, true, true, -1, -1 }
#define PENDING(id)		{ id, false, false, false, -1, -1 }
#define NW(a) (sizeof(a) / sizeof(*(a)))

/* The configuration's defaults (SPEC §7) with refresh_interval = 60s. */
static struct policy_settings
defaults(void)
{
	struct policy_settings s;

	memset(&s, 0, sizeof(s));
	s.min_workers = 2;
	s.max_workers = 10;
	s.min_idle_workers = 0;
	s.max_queued_jobs = 0;
	s.scale_up_step = 1;
	s.scale_down_step = 1;
	s.billing = BILLING_HOURLY;
	s.idle_uptime_threshold_ms = 50 * 60000;
	s.min_uptime_ms = 10 * 60000;
	s.cooldown_ms = 5 * 60000;
	s.max_data_age_ms = 120000;
	return s;
}

/* Fresh data, admin running, Opencast reachable, no earlier action. */
static struct policy_input
input(const struct policy_worker *w, size_t n, int queued)
{
	struct policy_input in;

	memset(&in, 0, sizeof(in));
	in.now_ms = NOW;
	in.admin_running = true;
	in.opencast_reachable = true;
	in.ec2_at_ms = NOW - 5000;
	in.oc_at_ms = NOW - 4000;
	in.queued_high_load_jobs = queued;
	in.workers = w;
	in.nworkers = n;
	return in;
}

static void
decide(const struct policy_settings *s, const struct policy_worker *w,
    size_t n, int queued, struct policy_decision *d)
{
	struct policy_input in = input(w, n, queued);

	policy_decide(s, &in, d);
}

static void
assert_verdicts(const struct policy_decision *d,
    const enum policy_verdict *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (d->verdicts[i] != want[i])
			fail_msg("worker %zu: verdict %s, want %s", i,
			    policy_verdict_name(d->verdicts[i]),
			    policy_verdict_name(want[i]));
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(policy_action_name(POLICY_NONE), "none");
	assert_string_equal(policy_action_name(POLICY_SCALE_UP), "scale_up");
	assert_string_equal(policy_action_name(POLICY_SCALE_DOWN),
	    "scale_down");
	assert_string_equal(policy_verdict_name(VERDICT_CHOSEN), "chosen");
	assert_string_equal(policy_verdict_name(VERDICT_BUSY), "busy");
	assert_string_equal(policy_verdict_name(VERDICT_UNKNOWN_JOBS),
	    "unknown_jobs");
	assert_string_equal(policy_verdict_name(VERDICT_HELD), "held");
	assert_string_equal(policy_verdict_name(VERDICT_BILLING), "billing");
	assert_string_equal(policy_verdict_name(VERDICT_NOT_NEEDED),
	    "not_needed");
	assert_string_equal(policy_verdict_name(VERDICT_NOT_RUNNING),
	    "not_running");
	assert_string_equal(policy_verdict_name(VERDICT_NOT_CONSIDERED),
	    "not_considered");
}

static void
test_settings_from_config(void **state)
{
	struct cluster_config c;
	struct policy_settings s;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.min_workers = 1;
	c.max_workers = 7;
	c.min_idle_workers = 2;
	c.max_queued_jobs = 3;
	c.scale_up_step = 4;
	c.scale_down_step = 5;
	c.billing = BILLING_PER_SECOND;
	c.idle_uptime_threshold_ms = 45 * 60000;
	c.min_uptime_ms = 15 * 60000;
	c.cooldown_ms = 90000;
	c.refresh_interval_ms = 60000;
	c.autoscale_interval_ms = 120000;
	policy_settings_from_config(&s, &c);
	assert_int_equal(s.min_workers, 1);
	assert_int_equal(s.max_workers, 7);
	assert_int_equal(s.min_idle_workers, 2);
	assert_int_equal(s.max_queued_jobs, 3);
	assert_int_equal(s.scale_up_step, 4);
	assert_int_equal(s.scale_down_step, 5);
	assert_int_equal(s.billing, BILLING_PER_SECOND);
	assert_int_equal(s.idle_uptime_threshold_ms, 45 * 60000);
	assert_int_equal(s.min_uptime_ms, 15 * 60000);
	assert_int_equal(s.cooldown_ms, 90000);
	assert_int_equal(s.max_data_age_ms, 120000);
}

/* A cluster that would scale up if the evaluation ran. */
static const struct policy_worker wanting[] = {
	RUN("i-w1", 1, MIN(53)), RUN("i-w2", 0, MIN(53)), STOP("i-w3"),
};

static void
assert_not_ran(const struct policy_input *in, const char *reason)
{
	struct policy_settings s = defaults();
	struct policy_decision d;

	policy_decide(&s, in, &d);
	assert_false(d.ran);
	assert_int_equal(d.action, POLICY_NONE);
	assert_int_equal(d.count, 0);
	assert_null(d.chosen);
	assert_false(d.warning);
	assert_string_equal(d.reason, reason);
	/* The derived numbers are there for the record all the same. */
	assert_int_equal(d.running, 2);
	assert_int_equal(d.idle, 1);
	assert_int_equal(d.stopped, 1);
	assert_int_equal(d.verdicts[0], VERDICT_NOT_CONSIDERED);
	assert_int_equal(d.verdicts[2], VERDICT_NOT_RUNNING);
	policy_decision_release(&d);
}

static void
test_cannot_run(void **state)
{
	struct policy_input in;

	(void)state;
	in = input(wanting, NW(wanting), 4);
	in.disabled_reason = "tag autoscale=off on the admin instance";
	assert_not_ran(&in, "autoscale is off: tag autoscale=off on the admin "
	    "instance");

	in = input(wanting, NW(wanting), 4);
	in.admin_running = false;
	assert_not_ran(&in, "the admin is not running");

	in = input(wanting, NW(wanting), 4);
	in.opencast_reachable = false;
	assert_not_ran(&in, "Opencast is not reachable");

	in = input(wanting, NW(wanting), 4);
	in.ec2_at_ms = 0;
	assert_not_ran(&in, "no fresh data: EC2 data was never read");

	in = input(wanting, NW(wanting), 4);
	in.oc_at_ms = 0;
	assert_not_ran(&in, "no fresh data: Opencast data was never read");

	in = input(wanting, NW(wanting), -1);
	assert_not_ran(&in, "no fresh data: the queued jobs are unknown");

	/* The switches are checked in the order SPEC §5 writes them. */
	in = input(wanting, NW(wanting), 4);
	in.disabled_reason = "paused";
	in.admin_running = false;
	in.opencast_reachable = false;
	in.ec2_at_ms = 0;
	assert_not_ran(&in, "autoscale is off: paused");
	in.disabled_reason = NULL;
	assert_not_ran(&in, "the admin is not running");
}

/* Issue 14: the reason names what is actually wrong, in the order the
 * evaluation checks it: a switch, then EC2 (whose old data cannot tell
 * whether the admin runs), then the admin, then Opencast, then freshness. */
static void
test_causes(void **state)
{
	struct policy_input in;

	(void)state;
	in = input(wanting, NW(wanting), 4);
	in.ec2_error = "no AWS credentials found: none anywhere";
	in.admin_running = false;
	in.opencast_reachable = false;
	assert_not_ran(&in, "the cluster's instances could not be read: no "
	    "AWS credentials found: none anywhere");
	/* A switch still comes first. */
	in.disabled_reason = "autoscale = off in the configuration";
	assert_not_ran(&in, "autoscale is off: autoscale = off in the "
	    "configuration");

	in = input(wanting, NW(wanting), 4);
	in.admin_running = false;
	in.admin_detail = "the admin instance i-1 is stopped";
	assert_not_ran(&in, "the admin is not running (the admin instance i-1 "
	    "is stopped)");

	in = input(wanting, NW(wanting), 4);
	in.opencast_reachable = false;
	in.opencast_error = "HTTP 503 from /info/me.json";
	assert_not_ran(&in, "Opencast is not reachable: HTTP 503 from "
	    "/info/me.json");
}

/* --force (SPEC §5): min_workers, max_workers and the billing threshold do
 * not apply; holds, busy workers and the cooldown still do. */
static void
test_force(void **state)
{
	static const struct policy_worker full[] = {
		RUN("i-0", 1, 10), RUN("i-1", 1, 10), STOP("i-2"),
		STOP("i-3"), HELD_STOP("i-4"),
	};
	static const struct policy_worker young[] = {
		RUN("i-0", 0, MIN(40)), RUN("i-1", 0, HM(1, 40)),
		RUN("i-2", 3, MIN(55)), HELD_RUN("i-3", 0, MIN(55)),
	};
	static const enum policy_verdict young_v[] = {
		VERDICT_NOT_NEEDED, VERDICT_CHOSEN, VERDICT_BUSY,
		VERDICT_HELD,
	};
	struct policy_settings s = defaults();
	struct policy_input in;
	struct policy_decision d;

	(void)state;
	/* max_workers 2 reached: without --force a warning and no change. */
	s.max_workers = 2;
	s.scale_up_step = 5;
	in = input(full, NW(full), 4);
	policy_decide(&s, &in, &d);
	assert_int_equal(d.action, POLICY_NONE);
	assert_true(d.warning);
	policy_decision_release(&d);
	/* With it: up to the stopped, unheld workers (2 of 3). */
	in.force = true;
	policy_decide(&s, &in, &d);
	assert_true(d.ran);
	assert_int_equal(d.action, POLICY_SCALE_UP);
	assert_int_equal(d.count, 2);
	assert_string_equal(d.reason, "4 queued high-load jobs > "
	    "max_queued_jobs 0: start 2 workers (max_workers 2 ignored: "
	    "--force) (scale_up_step 5, but only 2 stopped workers are "
	    "left)");
	policy_decision_release(&d);

	/* Idle workers within the billing hour, min_workers 3 of 4
	 * running: without --force nothing to stop. */
	s = defaults();
	s.min_workers = 3;
	s.scale_down_step = 3;
	in = input(young, NW(young), 0);
	policy_decide(&s, &in, &d);
	assert_int_equal(d.action, POLICY_NONE);
	policy_decision_release(&d);
	/* With it the idle ones go, longest uptime first, up to the step
	 * and min_idle_workers; the busy and the held one stay. */
	in.force = true;
	policy_decide(&s, &in, &d);
	assert_true(d.ran);
	assert_int_equal(d.action, POLICY_SCALE_DOWN);
	assert_int_equal(d.count, 2);
	assert_int_equal(d.chosen[0], 1);
	assert_int_equal(d.chosen[1], 0);
	assert_string_equal(d.reason, "2 idle workers > min_idle_workers 0: "
	    "stop 2 workers (i-1, i-0); --force: min_workers and the billing "
	    "threshold ignored");
	policy_decision_release(&d);
	s.min_idle_workers = 1;
	policy_decide(&s, &in, &d);
	assert_int_equal(d.action, POLICY_SCALE_DOWN);
	assert_int_equal(d.count, 1);
	assert_verdicts(&d, young_v, NW(young_v));
	policy_decision_release(&d);

	/* The cooldown and the switches still apply. */
	in.last_action_ms = NOW - 1000;
	policy_decide(&s, &in, &d);
	assert_int_equal(d.action, POLICY_NONE);
	assert_non_null(strstr(d.reason, "in cooldown"));
	policy_decision_release(&d);
	in.last_action_ms = 0;
	in.disabled_reason = "paused";
	policy_decide(&s, &in, &d);
	assert_false(d.ran);
	assert_int_equal(d.action, POLICY_NONE);
	policy_decision_release(&d);
}

static void
test_stale_data(void **state)
{
	struct policy_settings s = defaults();
	struct policy_input in;
	struct policy_decision d;

	(void)state;
	/* Exactly max_data_age old is still fresh. */
	in = input(wanting, NW(wanting), 4);
	in.ec2_at_ms = NOW - 120000;
	in.oc_at_ms = NOW - 120000;
	policy_decide(&s, &in, &d);
	assert_true(d.ran);
	assert_int_equal(d.action, POLICY_SCALE_UP);
	policy_decision_release(&d);

	/* One millisecond more is stale, for either source. */
	in.ec2_at_ms = NOW - 120001;
	assert_not_ran(&in, "no fresh data: EC2 data is 121 s old (more than "
	    "2m)");
	in.ec2_at_ms = NOW - 120000;
	in.oc_at_ms = NOW - 120001;
	assert_not_ran(&in, "no fresh data: Opencast data is 121 s old (more "
	    "than 2m)");
	in.oc_at_ms = NOW - 3600000;
	assert_not_ran(&in, "no fresh data: Opencast data is 3600 s old (more "
	    "than 2m)");
}

static void
test_cooldown(void **state)
{
	struct policy_settings s = defaults();
	struct policy_input in;
	struct policy_decision d;

	(void)state;
	in = input(wanting, NW(wanting), 4);
	in.last_action_ms = NOW - 180000;
	policy_decide(&s, &in, &d);
	assert_true(d.ran);
	assert_int_equal(d.action, POLICY_NONE);
	assert_false(d.warning);
	assert_string_equal(d.reason, "in cooldown: 120 s left of 5m after "
	    "the last autoscale action");
	assert_int_equal(d.verdicts[1], VERDICT_NOT_CONSIDERED);
	policy_decision_release(&d);

	/* One millisecond before the end: still in cooldown. */
	in.last_action_ms = NOW - (s.cooldown_ms - 1);
	policy_decide(&s, &in, &d);
	assert_true(d.ran);
	assert_int_equal(d.action, POLICY_NONE);
	assert_string_equal(d.reason, "in cooldown: 1 s left of 5m after the "
	    "last autoscale action");
	policy_decision_release(&d);

	/* Exactly cooldown later: no longer. */
	in.last_action_ms = NOW - s.cooldown_ms;
	policy_decide(&s, &in, &d);
	assert_int_equal(d.action, POLICY_SCALE_UP);
	assert_int_equal(d.count, 1);
	policy_decision_release(&d);

	/* cooldown = 0: never, even right after an action. */
	s.cooldown_ms = 0;
	in.last_action_ms = NOW;
	policy_decide(&s, &in, &d);
	assert_int_equal(d.action, POLICY_SCALE_UP);
	policy_decision_release(&d);

	/* No earlier action: no cooldown. */
	s = defaults();
	in.last_action_ms = 0;
	policy_decide(&s, &in, &d);
	assert_int_equal(d.action, POLICY_SCALE_UP);
	policy_decision_release(&d);

	/* A cooldown blocks scaling down as well. */
	{
		static const struct policy_worker w[] = {
			RUN("i-1", 0, MIN(53)), RUN("i-2", 0, MIN(55)),
			RUN("i-3", 0, MIN(57)),
		};

		in = input(w, NW(w), 0);
		in.last_action_ms = NOW - 60000;
		policy_decide(&s, &in, &d);
		assert_true(d.ran);
		assert_int_equal(d.action, POLICY_NONE);
		assert_null(d.chosen);
		assert_string_equal(d.reason, "in cooldown: 240 s left of 5m "
		    "after the last autoscale action");
		policy_decision_release(&d);
	}
}

static void
test_scale_up_threshold(void **state)
{
	static const struct policy_worker w[] = {
		RUN("i-1", 2, MIN(10)), RUN("i-2", 1, MIN(20)), STOP("i-3"),
		STOP("i-4"), PENDING("i-5"),
	};
	static const enum policy_verdict up[] = {
		VERDICT_NOT_CONSIDERED, VERDICT_NOT_CONSIDERED,
		VERDICT_NOT_RUNNING, VERDICT_NOT_RUNNING, VERDICT_NOT_RUNNING,
	};
	struct policy_settings s = defaults();
	struct policy_decision d;

	(void)state;
	s.max_queued_jobs = 3;
	decide(&s, w, NW(w), 3, &d);
	assert_true(d.ran);
	assert_int_equal(d.action, POLICY_NONE);
	assert_string_equal(d.reason, "no change: 3 queued high-load jobs <= "
	    "max_queued_jobs 3 and 0 idle workers <= min_idle_workers 0");
	assert_int_equal(d.running, 2);
	assert_int_equal(d.idle, 0);
	assert_int_equal(d.stopped, 2);
	assert_verdicts(&d, up, NW(up));
	policy_decision_release(&d);

	decide(&s, w, NW(w), 4, &d);
	assert_true(d.ran);
	assert_int_equal(d.action, POLICY_SCALE_UP);
	assert_int_equal(d.count, 1);
	assert_null(d.chosen);
	assert_false(d.warning);
	assert_string_equal(d.reason, "4 queued high-load jobs > "
	    "max_queued_jobs 3: start 1 worker");
	assert_verdicts(&d, up, NW(up));
	policy_decision_release(&d);

	s.max_queued_jobs = 0;
	decide(&s, w, NW(w), 1, &d);
	assert_string_equal(d.reason, "1 queued high-load job > "
	    "max_queued_jobs 0: start 1 worker");
	policy_decision_release(&d);
	decide(&s, w, NW(w), 0, &d);
	assert_string_equal(d.reason, "no change: 0 queued high-load jobs <= "
	    "max_queued_jobs 0 and 0 idle workers <= min_idle_workers 0");
	policy_decision_release(&d);
}

static void
test_scale_up_limits(void **state)
{
	static const struct policy_worker ten[] = {
		RUN("i-0", 0, MIN(53)), RUN("i-1", 0, MIN(53)),
		RUN("i-2", 1, 10), RUN("i-3", 1, 10), RUN("i-4", 1, 10),
		RUN("i-5", 1, 10), RUN("i-6", 1, 10), RUN("i-7", 1, 10),
		RUN("i-8", 1, 10), HELD_RUN("i-9", 0, 10), STOP("i-10"),
	};
	static const struct policy_worker eight[] = {
		RUN("i-0", 1, 10), RUN("i-1", 1, 10), RUN("i-2", 1, 10),
		RUN("i-3", 1, 10), RUN("i-4", 1, 10), RUN("i-5", 1, 10),
		RUN("i-6", 1, 10), RUN("i-7", 1, 10), STOP("i-8"),
		STOP("i-9"), STOP("i-10"), STOP("i-11"),
	};
	static const struct policy_worker none_left[] = {
		RUN("i-0", 1, 10), HELD_STOP("i-1"), PENDING("i-2"),
	};
	static const struct policy_worker one_left[] = {
		RUN("i-0", 1, 10), HELD_STOP("i-1"), STOP("i-2"),
	};
	struct policy_settings s = defaults();
	struct policy_decision d;

	(void)state;
	/* max_workers reached (the held worker counts as running): a
	 * warning and no change, and no scaling down in its place although
	 * two workers are idle. */
	decide(&s, ten, NW(ten), 4, &d);
	assert_true(d.ran);
	assert_int_equal(d.action, POLICY_NONE);
	assert_int_equal(d.count, 0);
	assert_true(d.warning);
	assert_int_equal(d.running, 10);
	assert_int_equal(d.idle, 2);
	assert_string_equal(d.reason, "4 queued high-load jobs > "
	    "max_queued_jobs 0, but max_workers 10 is reached (10 running)");
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(d.verdicts[i], VERDICT_NOT_CONSIDERED);
	assert_int_equal(d.verdicts[10], VERDICT_NOT_RUNNING);
	policy_decision_release(&d);

	/* Above max_workers (lowered in the configuration): still no. */
	s.max_workers = 8;
	decide(&s, ten, NW(ten), 4, &d);
	assert_int_equal(d.action, POLICY_NONE);
	assert_true(d.warning);
	assert_string_equal(d.reason, "4 queued high-load jobs > "
	    "max_queued_jobs 0, but max_workers 8 is reached (10 running)");
	policy_decision_release(&d);

	/* step 3 cut to 2 by max_workers. */
	s = defaults();
	s.scale_up_step = 3;
	decide(&s, eight, NW(eight), 5, &d);
	assert_int_equal(d.action, POLICY_SCALE_UP);
	assert_int_equal(d.count, 2);
	assert_true(d.warning);
	assert_string_equal(d.reason, "5 queued high-load jobs > "
	    "max_queued_jobs 0: start 2 workers (scale_up_step 3 cut by "
	    "max_workers 10, 8 running)");
	policy_decision_release(&d);

	/* step 2, room for it: no warning. */
	s.scale_up_step = 2;
	decide(&s, eight, NW(eight), 5, &d);
	assert_int_equal(d.action, POLICY_SCALE_UP);
	assert_int_equal(d.count, 2);
	assert_false(d.warning);
	assert_string_equal(d.reason, "5 queued high-load jobs > "
	    "max_queued_jobs 0: start 2 workers");
	policy_decision_release(&d);

	/* Held or pending workers are not startable. */
	s = defaults();
	decide(&s, none_left, NW(none_left), 1, &d);
	assert_true(d.ran);
	assert_int_equal(d.action, POLICY_NONE);
	assert_true(d.warning);
	assert_int_equal(d.stopped, 0);
	assert_string_equal(d.reason, "1 queued high-load job > "
	    "max_queued_jobs 0, but no stopped worker is left to start");
	policy_decision_release(&d);

	/* step 3 cut to 1 by the stopped workers left. */
	s.scale_up_step = 3;
	decide(&s, one_left, NW(one_left), 2, &d);
	assert_int_equal(d.action, POLICY_SCALE_UP);
	assert_int_equal(d.count, 1);
	assert_int_equal(d.stopped, 1);
	assert_true(d.warning);
	assert_string_equal(d.reason, "2 queued high-load jobs > "
	    "max_queued_jobs 0: start 1 worker (scale_up_step 3, but only 1 "
	    "stopped worker is left)");
	policy_decision_release(&d);
}

static void
test_idle_threshold(void **state)
{
	static const struct policy_worker one[] = {
		RUN("i-1", 0, MIN(53)), RUN("i-2", 3, MIN(55)),
		RUN("i-3", 1, MIN(57)),
	};
	static const struct policy_worker two[] = {
		RUN("i-1", 0, MIN(53)), RUN("i-2", 0, MIN(55)),
		RUN("i-3", 1, MIN(57)),
	};
	static const enum policy_verdict want[] = {
		VERDICT_NOT_NEEDED, VERDICT_CHOSEN, VERDICT_BUSY,
	};
	struct policy_settings s = defaults();
	struct policy_decision d;

	(void)state;
	s.min_idle_workers = 1;
	decide(&s, one, NW(one), 0, &d);
	assert_true(d.ran);
	assert_int_equal(d.action, POLICY_NONE);
	assert_false(d.warning);
	assert_string_equal(d.reason, "no change: 0 queued high-load jobs <= "
	    "max_queued_jobs 0 and 1 idle worker <= min_idle_workers 1");
	assert_int_equal(d.verdicts[0], VERDICT_NOT_CONSIDERED);
	policy_decision_release(&d);

	decide(&s, two, NW(two), 0, &d);
	assert_int_equal(d.action, POLICY_SCALE_DOWN);
	assert_int_equal(d.count, 1);
	assert_false(d.warning);
	assert_int_equal(d.chosen[0], 1);	/* the longer uptime */
	assert_string_equal(d.reason, "2 idle workers > min_idle_workers 1: "
	    "stop 1 worker (i-2)");
	assert_verdicts(&d, want, NW(want));
	policy_decision_release(&d);
}

static void
test_min_workers(void **state)
{
	static const struct policy_worker three[] = {
		RUN("i-1", 0, MIN(53)), RUN("i-2", 0, MIN(54)),
		RUN("i-3", 0, MIN(55)), STOP("i-4"),
	};
	static const struct policy_worker two[] = {
		RUN("i-1", 0, MIN(53)), RUN("i-2", 0, MIN(54)), STOP("i-3"),
	};
	static const enum policy_verdict blocked[] = {
		VERDICT_NOT_NEEDED, VERDICT_NOT_NEEDED, VERDICT_NOT_RUNNING,
	};
	struct policy_settings s = defaults();
	struct policy_decision d;

	(void)state;
	/* running - 1 = min_workers: allowed. */
	decide(&s, three, NW(three), 0, &d);
	assert_int_equal(d.action, POLICY_SCALE_DOWN);
	assert_int_equal(d.count, 1);
	assert_int_equal(d.chosen[0], 2);
	assert_false(d.warning);
	policy_decision_release(&d);

	/* running = min_workers: blocked with a warning. */
	decide(&s, two, NW(two), 0, &d);
	assert_true(d.ran);
	assert_int_equal(d.action, POLICY_NONE);
	assert_null(d.chosen);
	assert_true(d.warning);
	assert_string_equal(d.reason, "2 idle workers > min_idle_workers 0, "
	    "but min_workers 2 is reached (2 running)");
	assert_verdicts(&d, blocked, NW(blocked));
	policy_decision_release(&d);

	/* step 3 cut to 1 by min_workers. */
	s.scale_down_step = 3;
	decide(&s, three, NW(three), 0, &d);
	assert_int_equal(d.action, POLICY_SCALE_DOWN);
	assert_int_equal(d.count, 1);
	assert_true(d.warning);
	assert_string_equal(d.reason, "3 idle workers > min_idle_workers 0: "
	    "stop 1 worker (i-3); scale_down_step 3 cut by min_workers 2 "
	    "(3 running)");
	policy_decision_release(&d);
}

static void
test_hourly_billing(void **state)
{
	/* SPEC §5: 40, 1:40 or 3:33 of uptime: keep; 53 or 5:53: may stop. */
	static const struct policy_worker w[] = {
		RUN("i-40", 0, MIN(40)), RUN("i-1:40", 0, HM(1, 40)),
		RUN("i-3:33", 0, HM(3, 33)), RUN("i-53", 0, MIN(53)),
		RUN("i-5:53", 0, HM(5, 53)),
	};
	static const enum policy_verdict want[] = {
		VERDICT_BILLING, VERDICT_BILLING, VERDICT_BILLING,
		VERDICT_CHOSEN, VERDICT_CHOSEN,
	};
	struct policy_settings s = defaults();
	struct policy_decision d;

	(void)state;
	s.min_workers = 0;
	s.scale_down_step = 5;
	decide(&s, w, NW(w), 0, &d);
	assert_int_equal(d.action, POLICY_SCALE_DOWN);
	assert_int_equal(d.count, 2);
	assert_false(d.warning);
	assert_int_equal(d.chosen[0], 4);	/* 5:53 before 0:53 */
	assert_int_equal(d.chosen[1], 3);
	assert_verdicts(&d, want, NW(want));
	assert_string_equal(d.reason, "5 idle workers > min_idle_workers 0: "
	    "stop 2 workers (i-5:53, i-53)");
	policy_decision_release(&d);
}

static void
test_hourly_edges(void **state)
{
	static const struct policy_worker w[] = {
		RUN("i-50", 0, MIN(50)),
		RUN("i-49:59", 0, MIN(50) - 1),
		RUN("i-1:50", 0, HM(1, 50)),
		RUN("i-1:49:59", 0, HM(1, 50) - 1),
		RUN("i-59:59", 0, MIN(60) - 1),
		RUN("i-60", 0, MIN(60)),
		RUN("i-0", 0, 0),
		RUN("i-unknown", 0, -1),
	};
	static const enum policy_verdict want[] = {
		VERDICT_CHOSEN, VERDICT_BILLING, VERDICT_CHOSEN,
		VERDICT_BILLING, VERDICT_CHOSEN, VERDICT_BILLING,
		VERDICT_BILLING, VERDICT_BILLING,
	};
	struct policy_settings s = defaults();
	struct policy_decision d;

	(void)state;
	s.min_workers = 0;
	s.scale_down_step = 10;
	decide(&s, w, NW(w), 0, &d);
	assert_int_equal(d.action, POLICY_SCALE_DOWN);
	assert_int_equal(d.count, 3);
	assert_int_equal(d.chosen[0], 2);
	assert_int_equal(d.chosen[1], 4);
	assert_int_equal(d.chosen[2], 0);
	assert_verdicts(&d, want, NW(want));
	policy_decision_release(&d);

	/* A threshold of 0 lets every known uptime go. */
	s.idle_uptime_threshold_ms = 0;
	decide(&s, w, NW(w), 0, &d);
	assert_int_equal(d.count, 7);
	assert_int_equal(d.verdicts[7], VERDICT_BILLING);
	policy_decision_release(&d);
}

static void
test_per_second_billing(void **state)
{
	static const struct policy_worker w[] = {
		RUN("i-below", 0, 599), RUN("i-at", 0, 600),
		RUN("i-above", 0, 601), RUN("i-1:10", 0, HM(1, 10)),
	};
	static const enum policy_verdict want[] = {
		VERDICT_BILLING, VERDICT_CHOSEN, VERDICT_CHOSEN, VERDICT_CHOSEN,
	};
	static const struct policy_worker young[] = {
		RUN("i-1", 0, 599), RUN("i-2", 0, 1), RUN("i-3", 2, 6000),
	};
	struct policy_settings s = defaults();
	struct policy_decision d;

	(void)state;
	s.billing = BILLING_PER_SECOND;
	s.min_workers = 0;
	s.scale_down_step = 4;
	decide(&s, w, NW(w), 0, &d);
	assert_int_equal(d.action, POLICY_SCALE_DOWN);
	assert_int_equal(d.count, 3);
	/* 1:10 would be within the billing hour; per second it may go. */
	assert_int_equal(d.chosen[0], 3);
	assert_int_equal(d.chosen[1], 2);
	assert_int_equal(d.chosen[2], 1);
	assert_verdicts(&d, want, NW(want));
	policy_decision_release(&d);

	decide(&s, young, NW(young), 0, &d);
	assert_true(d.ran);
	assert_int_equal(d.action, POLICY_NONE);
	assert_false(d.warning);
	assert_string_equal(d.reason, "2 idle workers > min_idle_workers 0, "
	    "but no workers available to stop: 2 below min_uptime 10m");
	policy_decision_release(&d);
}

static void
test_no_workers_available(void **state)
{
	static const struct policy_worker w[] = {
		RUN("i-1", 0, MIN(40)), RUN("i-2", 0, HM(3, 33)),
		RUN("i-3", 1, MIN(55)), RUN("i-4", 0, MIN(20)),
	};
	static const struct policy_worker unknown[] = {
		RUN("i-1", 0, MIN(40)), RUN("i-2", 0, -1), RUN("i-3", 1, 10),
	};
	static const struct policy_worker only_unknown[] = {
		RUN("i-1", 0, -1), RUN("i-2", 1, 10), RUN("i-3", 1, 10),
	};
	struct policy_settings s = defaults();
	struct policy_decision d;

	(void)state;
	s.min_idle_workers = 1;
	decide(&s, w, NW(w), 0, &d);
	assert_true(d.ran);
	assert_int_equal(d.action, POLICY_NONE);
	assert_false(d.warning);
	assert_null(d.chosen);
	assert_non_null(strstr(d.reason, "no workers available to stop"));
	assert_string_equal(d.reason, "3 idle workers > min_idle_workers 1, "
	    "but no workers available to stop: 3 within the billing hour "
	    "(uptime below 50m into the hour)");
	assert_int_equal(d.verdicts[2], VERDICT_BUSY);
	assert_int_equal(d.verdicts[3], VERDICT_BILLING);
	policy_decision_release(&d);

	s.min_idle_workers = 0;
	decide(&s, unknown, NW(unknown), 0, &d);
	assert_string_equal(d.reason, "2 idle workers > min_idle_workers 0, "
	    "but no workers available to stop: 1 within the billing hour "
	    "(uptime below 50m into the hour), 1 with unknown uptime");
	policy_decision_release(&d);

	decide(&s, only_unknown, NW(only_unknown), 0, &d);
	assert_false(d.warning);
	assert_string_equal(d.reason, "1 idle worker > min_idle_workers 0, "
	    "but no workers available to stop: 1 with unknown uptime");
	policy_decision_release(&d);
}

static void
test_order_and_step(void **state)
{
	static const struct policy_worker w[] = {
		RUN("i-a", 0, MIN(51)), RUN("i-b", 0, HM(2, 55)),
		RUN("i-c", 0, MIN(51)), RUN("i-d", 0, HM(1, 59)),
		RUN("i-e", 0, MIN(51)), RUN("i-f", 4, HM(9, 59)),
		STOP("i-g"),
	};
	struct policy_settings s = defaults();
	struct policy_decision d;

	(void)state;
	s.min_workers = 1;
	s.scale_down_step = 2;
	decide(&s, w, NW(w), 0, &d);
	assert_int_equal(d.action, POLICY_SCALE_DOWN);
	assert_int_equal(d.count, 2);
	assert_int_equal(d.chosen[0], 1);
	assert_int_equal(d.chosen[1], 3);
	assert_int_equal(d.verdicts[0], VERDICT_NOT_NEEDED);
	assert_int_equal(d.verdicts[5], VERDICT_BUSY);
	assert_int_equal(d.verdicts[6], VERDICT_NOT_RUNNING);
	assert_string_equal(d.reason, "5 idle workers > min_idle_workers 0: "
	    "stop 2 workers (i-b, i-d)");
	policy_decision_release(&d);

	/* Equal uptimes go in input order. */
	s.scale_down_step = 4;
	decide(&s, w, NW(w), 0, &d);
	assert_int_equal(d.count, 4);
	assert_int_equal(d.chosen[0], 1);
	assert_int_equal(d.chosen[1], 3);
	assert_int_equal(d.chosen[2], 0);
	assert_int_equal(d.chosen[3], 2);
	assert_int_equal(d.verdicts[4], VERDICT_NOT_NEEDED);
	policy_decision_release(&d);

	/* min_idle_workers keeps some idle ones. */
	s.scale_down_step = 10;
	s.min_idle_workers = 3;
	decide(&s, w, NW(w), 0, &d);
	assert_int_equal(d.count, 2);
	assert_false(d.warning);
	policy_decision_release(&d);
}

static void
test_held(void **state)
{
	/* The only idle one is held: it is not idle, nothing happens. */
	static const struct policy_worker only[] = {
		HELD_RUN("i-held", 0, HM(4, 55)), RUN("i-2", 1, MIN(55)),
		RUN("i-3", 2, MIN(55)),
	};
	/* A held worker counts as running (so min_workers allows one),
	 * but is never chosen, even as the longest-running idle one. */
	static const struct policy_worker mixed[] = {
		HELD_RUN("i-held", 0, HM(4, 55)), RUN("i-2", 0, MIN(55)),
		HELD_STOP("i-held-stopped"),
	};
	static const enum policy_verdict want[] = {
		VERDICT_HELD, VERDICT_CHOSEN, VERDICT_NOT_RUNNING,
	};
	struct policy_settings s = defaults();
	struct policy_decision d;

	(void)state;
	s.min_workers = 0;
	decide(&s, only, NW(only), 0, &d);
	assert_int_equal(d.action, POLICY_NONE);
	assert_int_equal(d.running, 3);
	assert_int_equal(d.idle, 0);
	assert_string_equal(d.reason, "no change: 0 queued high-load jobs <= "
	    "max_queued_jobs 0 and 0 idle workers <= min_idle_workers 0");
	policy_decision_release(&d);

	s.min_workers = 1;
	s.scale_down_step = 2;
	decide(&s, mixed, NW(mixed), 0, &d);
	assert_int_equal(d.running, 2);
	assert_int_equal(d.idle, 1);
	assert_int_equal(d.stopped, 0);
	assert_int_equal(d.action, POLICY_SCALE_DOWN);
	assert_int_equal(d.count, 1);
	assert_int_equal(d.chosen[0], 1);
	assert_verdicts(&d, want, NW(want));
	policy_decision_release(&d);

	/* The held stopped worker is never started either. */
	decide(&s, mixed, NW(mixed), 3, &d);
	assert_int_equal(d.action, POLICY_NONE);
	assert_true(d.warning);
	assert_non_null(strstr(d.reason, "no stopped worker is left"));
	policy_decision_release(&d);
}

static void
test_unknown_jobs(void **state)
{
	static const struct policy_worker w[] = {
		RUN("i-1", -1, HM(5, 55)), RUN("i-2", -1, MIN(53)),
		RUN("i-3", 0, MIN(53)), RUN("i-4", 0, MIN(52)),
	};
	static const enum policy_verdict want[] = {
		VERDICT_UNKNOWN_JOBS, VERDICT_UNKNOWN_JOBS, VERDICT_CHOSEN,
		VERDICT_NOT_NEEDED,
	};
	static const struct policy_worker all_unknown[] = {
		RUN("i-1", -1, HM(5, 55)), RUN("i-2", -1, MIN(53)),
		RUN("i-3", -1, MIN(53)),
	};
	struct policy_settings s = defaults();
	struct policy_decision d;

	(void)state;
	s.min_workers = 0;
	decide(&s, w, NW(w), 0, &d);
	assert_int_equal(d.idle, 2);
	assert_int_equal(d.action, POLICY_SCALE_DOWN);
	assert_int_equal(d.chosen[0], 2);
	assert_verdicts(&d, want, NW(want));
	policy_decision_release(&d);

	decide(&s, all_unknown, NW(all_unknown), 0, &d);
	assert_int_equal(d.idle, 0);
	assert_int_equal(d.action, POLICY_NONE);
	assert_string_equal(d.reason, "no change: 0 queued high-load jobs <= "
	    "max_queued_jobs 0 and 0 idle workers <= min_idle_workers 0");
	policy_decision_release(&d);
}

static void
test_no_workers(void **state)
{
	struct policy_settings s = defaults();
	struct policy_decision d;

	(void)state;
	decide(&s, NULL, 0, 0, &d);
	assert_true(d.ran);
	assert_int_equal(d.action, POLICY_NONE);
	assert_non_null(d.verdicts);
	assert_int_equal(d.running, 0);
	policy_decision_release(&d);
	assert_null(d.verdicts);

	decide(&s, NULL, 0, 2, &d);
	assert_int_equal(d.action, POLICY_NONE);
	assert_true(d.warning);
	assert_string_equal(d.reason, "2 queued high-load jobs > "
	    "max_queued_jobs 0, but no stopped worker is left to start");
	policy_decision_release(&d);
}

static void
test_json(void **state)
{
	static const struct policy_worker w[] = {
		RUN("i-1", 0, HM(2, 53)), RUN("i-2", 3, MIN(55)),
		HELD_RUN("i-3", 0, MIN(55)), RUN("i-4", -1, MIN(55)),
		RUN("i-5", 0, MIN(20)), STOP("i-6"),
	};
	static const char *const verdicts[] = {
		"chosen", "busy", "held", "unknown_jobs", "billing",
		"not_running",
	};
	struct policy_settings s = defaults();
	struct policy_input in = input(w, NW(w), 0);
	struct policy_decision d;
	json_t *j, *inp, *arr, *o;

	(void)state;
	s.min_workers = 1;
	in.last_action_ms = NOW - 3600000;
	policy_decide(&s, &in, &d);
	assert_int_equal(d.action, POLICY_SCALE_DOWN);
	j = policy_decision_json(&s, &in, &d);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "ran")));
	assert_string_equal(json_string_value(json_object_get(j, "action")),
	    "scale_down");
	assert_int_equal(json_integer_value(json_object_get(j, "count")), 1);
	assert_string_equal(json_string_value(json_object_get(j, "reason")),
	    d.reason);
	assert_true(json_is_false(json_object_get(j, "warning")));

	inp = json_object_get(j, "inputs");
	assert_true(json_is_object(inp));
	assert_string_equal(json_string_value(json_object_get(inp, "now")),
	    "2027-01-15T08:00:00Z");
	assert_true(json_is_true(json_object_get(inp, "admin_running")));
	assert_true(json_is_true(json_object_get(inp, "opencast_reachable")));
	assert_true(json_is_null(json_object_get(inp, "disabled_reason")));
	assert_int_equal(json_integer_value(json_object_get(inp,
	    "ec2_data_age_s")), 5);
	assert_int_equal(json_integer_value(json_object_get(inp,
	    "opencast_data_age_s")), 4);
	assert_int_equal(json_integer_value(json_object_get(inp,
	    "max_data_age_s")), 120);
	assert_int_equal(json_integer_value(json_object_get(inp,
	    "queued_high_load_jobs")), 0);
	assert_int_equal(json_integer_value(json_object_get(inp, "running")),
	    5);
	assert_int_equal(json_integer_value(json_object_get(inp, "idle")), 2);
	assert_int_equal(json_integer_value(json_object_get(inp, "stopped")),
	    1);
	assert_int_equal(json_integer_value(json_object_get(inp,
	    "min_workers")), 1);
	assert_int_equal(json_integer_value(json_object_get(inp,
	    "max_workers")), 10);
	assert_int_equal(json_integer_value(json_object_get(inp,
	    "min_idle_workers")), 0);
	assert_int_equal(json_integer_value(json_object_get(inp,
	    "max_queued_jobs")), 0);
	assert_int_equal(json_integer_value(json_object_get(inp,
	    "scale_up_step")), 1);
	assert_int_equal(json_integer_value(json_object_get(inp,
	    "scale_down_step")), 1);
	assert_string_equal(json_string_value(json_object_get(inp,
	    "billing")), "hourly");
	assert_int_equal(json_integer_value(json_object_get(inp,
	    "idle_uptime_threshold_s")), 3000);
	assert_int_equal(json_integer_value(json_object_get(inp,
	    "min_uptime_s")), 600);
	assert_int_equal(json_integer_value(json_object_get(inp,
	    "cooldown_s")), 300);
	assert_string_equal(json_string_value(json_object_get(inp,
	    "last_action")), "2027-01-15T07:00:00Z");
	assert_true(json_is_null(json_object_get(inp, "cooldown_left_s")));

	arr = json_object_get(j, "workers");
	assert_int_equal(json_array_size(arr), NW(w));
	for (size_t i = 0; i < NW(w); i++) {
		o = json_array_get(arr, i);
		assert_string_equal(json_string_value(json_object_get(o,
		    "id")), w[i].id);
		assert_string_equal(json_string_value(json_object_get(o,
		    "verdict")), verdicts[i]);
	}
	o = json_array_get(arr, 0);
	assert_int_equal(json_integer_value(json_object_get(o,
	    "running_jobs")), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "uptime_s")),
	    HM(2, 53));
	assert_true(json_is_false(json_object_get(o, "held")));
	assert_true(json_is_true(json_object_get(json_array_get(arr, 2),
	    "held")));
	o = json_array_get(arr, 3);
	assert_true(json_is_null(json_object_get(o, "running_jobs")));
	o = json_array_get(arr, 5);
	assert_true(json_is_null(json_object_get(o, "uptime_s")));
	json_decref(j);
	policy_decision_release(&d);

	/* An evaluation that could not run: ages and cooldown unknown or
	 * running, per-second billing. */
	in.oc_at_ms = 0;
	in.opencast_reachable = false;
	in.queued_high_load_jobs = -1;
	in.last_action_ms = NOW - 60000;
	in.disabled_reason = "paused";
	s.billing = BILLING_PER_SECOND;
	s.cooldown_ms = 90500;
	policy_decide(&s, &in, &d);
	j = policy_decision_json(&s, &in, &d);
	assert_true(json_is_false(json_object_get(j, "ran")));
	assert_string_equal(json_string_value(json_object_get(j, "action")),
	    "none");
	inp = json_object_get(j, "inputs");
	assert_string_equal(json_string_value(json_object_get(inp,
	    "disabled_reason")), "paused");
	assert_true(json_is_false(json_object_get(inp, "opencast_reachable")));
	assert_true(json_is_null(json_object_get(inp,
	    "opencast_data_age_s")));
	assert_true(json_is_null(json_object_get(inp,
	    "queued_high_load_jobs")));
	assert_string_equal(json_string_value(json_object_get(inp,
	    "billing")), "per-second");
	assert_int_equal(json_integer_value(json_object_get(inp,
	    "cooldown_left_s")), 31);
	assert_true(json_real_value(json_object_get(inp, "cooldown_s")) ==
	    90.5);
	arr = json_object_get(j, "workers");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(arr, 0), "verdict")), "not_considered");
	json_decref(j);
	policy_decision_release(&d);
}

/*
 * The property test: random cluster states and settings, each decision
 * checked against invariants computed independently of policy.c.
 */

#define PROP_SEED 0x5eed2027c0ffee01ULL
#define PROP_ITERATIONS 20000
#define PROP_MAX_WORKERS 16

static uint64_t
xorshift64(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* A number in [lo, hi]. */
static int64_t
rnd(uint64_t *x, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(xorshift64(x) % (uint64_t)(hi - lo + 1));
}

static bool
chance(uint64_t *x, int percent)
{
	return rnd(x, 0, 99) < percent;
}

struct gen {
	struct policy_settings s;
	struct policy_input in;
	struct policy_worker w[PROP_MAX_WORKERS];
	char ids[PROP_MAX_WORKERS][24];
};

static int64_t
gen_duration(uint64_t *x, int64_t max_min)
{
	int64_t ms = rnd(x, 0, max_min) * 60000;

	if (chance(x, 25))
		ms += rnd(x, 0, 59999);
	return chance(x, 10) ? 0 : ms;
}

static void
generate(uint64_t *x, struct gen *g)
{
	struct policy_settings *s = &g->s;
	struct policy_input *in = &g->in;
	size_t n = (size_t)rnd(x, 0, PROP_MAX_WORKERS);

	memset(g, 0, sizeof(*g));
	s->min_workers = (int)rnd(x, 0, 5);
	s->max_workers = (int)rnd(x, 0, 14);
	s->min_idle_workers = (int)rnd(x, 0, 3);
	s->max_queued_jobs = (int)rnd(x, 0, 5);
	s->scale_up_step = (int)rnd(x, 1, 4);
	s->scale_down_step = (int)rnd(x, 1, 4);
	s->billing = chance(x, 50) ? BILLING_HOURLY : BILLING_PER_SECOND;
	s->idle_uptime_threshold_ms = gen_duration(x, 59);
	s->min_uptime_ms = gen_duration(x, 90);
	s->cooldown_ms = chance(x, 30) ? 0 : rnd(x, 1, 600000);
	s->max_data_age_ms = rnd(x, 1000, 300000);

	for (size_t i = 0; i < n; i++) {
		struct policy_worker *w = &g->w[i];
		int64_t st = rnd(x, 0, 9);

		snprintf(g->ids[i], sizeof(g->ids[i]), "i-%zu", i);
		w->id = g->ids[i];
		w->running = st < 6;
		w->stopped = st >= 6 && st < 9;
		w->held = chance(x, 12);
		w->running_jobs = -1;
		w->uptime_s = -1;
		if (!w->running)
			continue;
		if (chance(x, 15))
			w->running_jobs = -1;
		else if (chance(x, 55))
			w->running_jobs = 0;
		else
			w->running_jobs = (int)rnd(x, 1, 5);
		if (chance(x, 5))
			w->uptime_s = -1;
		else if (chance(x, 15))	/* right at a threshold */
			w->uptime_s = (s->billing == BILLING_HOURLY ?
			    s->idle_uptime_threshold_ms : s->min_uptime_ms) /
			    1000 + rnd(x, 0, 5) * 3600 + rnd(x, -1, 1);
		else if (chance(x, 20))	/* several with one uptime */
			w->uptime_s = 3000;
		else
			w->uptime_s = rnd(x, 0, 8 * 3600);
		if (w->uptime_s < -1)
			w->uptime_s = 0;
	}

	in->now_ms = NOW + rnd(x, 0, 86400000);
	in->disabled_reason = chance(x, 5) ? "paused" : NULL;
	in->admin_running = !chance(x, 5);
	in->opencast_reachable = !chance(x, 5);
	in->ec2_at_ms = chance(x, 4) ? 0 : in->now_ms -
	    (chance(x, 5) ? s->max_data_age_ms + rnd(x, 0, 1) :
	    rnd(x, 0, s->max_data_age_ms + 2000));
	in->oc_at_ms = chance(x, 4) ? 0 : in->now_ms -
	    (chance(x, 5) ? s->max_data_age_ms + rnd(x, 0, 1) :
	    rnd(x, 0, s->max_data_age_ms + 2000));
	in->queued_high_load_jobs = chance(x, 3) ? -1 : (int)rnd(x, 0, 9);
	in->last_action_ms = chance(x, 40) ? 0 : in->now_ms -
	    (chance(x, 10) ? s->cooldown_ms + rnd(x, -1, 1) :
	    rnd(x, 0, 2 * s->cooldown_ms + 1));
	in->workers = g->w;
	in->nworkers = n;
}

static void
dump(uint64_t seed, int iter, const struct gen *g,
    const struct policy_decision *d, const char *why)
{
	const struct policy_settings *s = &g->s;
	const struct policy_input *in = &g->in;

	fprintf(stderr, "property failed: %s\n"
	    "  seed 0x%llx, iteration %d\n"
	    "  settings: min_workers %d max_workers %d min_idle_workers %d "
	    "max_queued_jobs %d up_step %d down_step %d billing %s "
	    "idle_uptime_threshold_ms %lld min_uptime_ms %lld cooldown_ms "
	    "%lld max_data_age_ms %lld\n"
	    "  input: now_ms %lld disabled %s admin %d opencast %d ec2_at_ms "
	    "%lld oc_at_ms %lld queued %d last_action_ms %lld\n",
	    why, (unsigned long long)seed, iter, s->min_workers,
	    s->max_workers, s->min_idle_workers, s->max_queued_jobs,
	    s->scale_up_step, s->scale_down_step,
	    s->billing == BILLING_HOURLY ? "hourly" : "per-second",
	    (long long)s->idle_uptime_threshold_ms,
	    (long long)s->min_uptime_ms, (long long)s->cooldown_ms,
	    (long long)s->max_data_age_ms, (long long)in->now_ms,
	    in->disabled_reason ? in->disabled_reason : "-",
	    in->admin_running, in->opencast_reachable,
	    (long long)in->ec2_at_ms, (long long)in->oc_at_ms,
	    in->queued_high_load_jobs, (long long)in->last_action_ms);
	for (size_t i = 0; i < in->nworkers; i++) {
		const struct policy_worker *w = &in->workers[i];

		fprintf(stderr, "  worker %zu %s: running %d stopped %d "
		    "held %d jobs %d uptime_s %lld verdict %s\n", i, w->id,
		    w->running, w->stopped, w->held, w->running_jobs,
		    (long long)w->uptime_s,
		    policy_verdict_name(d->verdicts[i]));
	}
	fprintf(stderr, "  decision: ran %d action %s count %d warning %d "
	    "running %d idle %d stopped %d reason \"%s\"\n", d->ran,
	    policy_action_name(d->action), d->count, d->warning, d->running,
	    d->idle, d->stopped, d->reason);
	for (int j = 0; d->chosen && j < d->count; j++)
		fprintf(stderr, "  chosen[%d] = %zu\n", j, d->chosen[j]);
}

/* The billing rule as the brief and SPEC §5 write it, computed here
 * independently of policy.c. */
static bool
ref_past_threshold(const struct policy_settings *s,
    const struct policy_worker *w)
{
	if (w->uptime_s < 0)
		return false;
	if (s->billing == BILLING_PER_SECOND)
		return w->uptime_s * 1000 >= s->min_uptime_ms;
	if (s->idle_uptime_threshold_ms % 60000 == 0)
		return (w->uptime_s / 60) % 60 >=
		    s->idle_uptime_threshold_ms / 60000;
	return (w->uptime_s % 3600) * 1000 >= s->idle_uptime_threshold_ms;
}

static bool
ref_eligible(const struct policy_settings *s, const struct policy_worker *w)
{
	return w->running && !w->held && w->running_jobs == 0 &&
	    ref_past_threshold(s, w);
}

static int
imin(int a, int b)
{
	return a < b ? a : b;
}

/* Returns NULL if every invariant holds, else the first broken one. */
static const char *
check(const struct gen *g, const struct policy_decision *d)
{
	const struct policy_settings *s = &g->s;
	const struct policy_input *in = &g->in;
	int running = 0, idle = 0, startable = 0, eligible = 0;
	bool can_run, cooldown, chosen[PROP_MAX_WORKERS] = { false };

	for (size_t i = 0; i < in->nworkers; i++) {
		const struct policy_worker *w = &in->workers[i];

		running += w->running;
		idle += w->running && !w->held && w->running_jobs == 0;
		startable += w->stopped && !w->held;
		eligible += ref_eligible(s, w);
	}
	if (d->verdicts == NULL)
		return "no verdicts";
	if (d->running != running || d->idle != idle ||
	    d->stopped != startable)
		return "derived numbers differ";
	if (strlen(d->reason) == 0 || strlen(d->reason) >= sizeof(d->reason))
		return "empty or unterminated reason";

	can_run = in->disabled_reason == NULL && in->admin_running &&
	    in->opencast_reachable && in->ec2_at_ms > 0 && in->oc_at_ms > 0 &&
	    in->now_ms - in->ec2_at_ms <= s->max_data_age_ms &&
	    in->now_ms - in->oc_at_ms <= s->max_data_age_ms &&
	    in->queued_high_load_jobs >= 0;
	if (d->ran != can_run)
		return "ran differs from the switches, admin, Opencast, data";
	cooldown = in->last_action_ms > 0 && s->cooldown_ms > 0 &&
	    in->now_ms - in->last_action_ms < s->cooldown_ms;

	if (d->action == POLICY_NONE) {
		if (d->count != 0 || d->chosen != NULL)
			return "no change with a count or chosen workers";
	} else {
		if (!d->ran)
			return "an action without running the evaluation";
		if (cooldown)
			return "an action during the cooldown";
		if (d->count < 1)
			return "an action of no workers";
	}
	if (d->action != POLICY_SCALE_DOWN)
		for (size_t i = 0; i < in->nworkers; i++)
			if (d->verdicts[i] != (in->workers[i].running ?
			    VERDICT_NOT_CONSIDERED : VERDICT_NOT_RUNNING) &&
			    !(d->ran && !cooldown &&
			    in->queued_high_load_jobs <= s->max_queued_jobs &&
			    idle > s->min_idle_workers))
				return "verdicts other than not considered";

	if (d->action == POLICY_SCALE_UP) {
		if (in->queued_high_load_jobs <= s->max_queued_jobs)
			return "scale up without enough queued jobs";
		if (d->count > startable)
			return "scale up of more than the startable workers";
		if (running + d->count > s->max_workers)
			return "scale up above max_workers";
		if (d->count > s->scale_up_step)
			return "scale up by more than scale_up_step";
		if (d->chosen != NULL)
			return "scale up with chosen workers";
	}

	if (d->action == POLICY_SCALE_DOWN) {
		if (in->queued_high_load_jobs > s->max_queued_jobs)
			return "scale down while scale up is indicated";
		if (idle <= s->min_idle_workers)
			return "scale down without enough idle workers";
		if (running - d->count < s->min_workers)
			return "scale down below min_workers";
		if (idle - d->count < s->min_idle_workers)
			return "scale down below min_idle_workers";
		if (d->count > s->scale_down_step)
			return "scale down by more than scale_down_step";
		if (d->chosen == NULL)
			return "scale down without chosen workers";
		for (int j = 0; j < d->count; j++) {
			size_t c = d->chosen[j];
			const struct policy_worker *w;

			if (c >= in->nworkers || chosen[c])
				return "chosen index out of range or twice";
			chosen[c] = true;
			w = &in->workers[c];
			if (!w->running)
				return "chose a worker that is not running";
			if (w->held)
				return "chose a held worker";
			if (w->running_jobs != 0)
				return "chose a busy or unknown worker";
			if (!ref_past_threshold(s, w))
				return "chose a worker within its billing "
				    "threshold";
			if (j > 0 && in->workers[d->chosen[j - 1]].uptime_s <
			    w->uptime_s)
				return "chosen not by uptime, longest first";
			if (j > 0 && in->workers[d->chosen[j - 1]].uptime_s ==
			    w->uptime_s && d->chosen[j - 1] > c)
				return "equal uptimes not in input order";
		}
		/* Nobody left out had a better claim. */
		for (size_t i = 0; i < in->nworkers; i++) {
			const struct policy_worker *w = &in->workers[i];
			const struct policy_worker *last =
			    &in->workers[d->chosen[d->count - 1]];

			if (chosen[i] || !ref_eligible(s, w))
				continue;
			if (w->uptime_s > last->uptime_s ||
			    (w->uptime_s == last->uptime_s &&
			    i < d->chosen[d->count - 1]))
				return "an unchosen worker came first";
		}
	}

	/* Verdicts agree with the chosen workers and the workers' state. */
	for (size_t i = 0; i < in->nworkers; i++) {
		const struct policy_worker *w = &in->workers[i];
		enum policy_verdict v = d->verdicts[i];

		if ((v == VERDICT_CHOSEN) != chosen[i])
			return "verdict chosen differs from chosen";
		if (!w->running && v != VERDICT_NOT_RUNNING)
			return "a worker not running without that verdict";
		if (w->running && v == VERDICT_NOT_RUNNING)
			return "a running worker marked not running";
		if (v == VERDICT_HELD && !w->held)
			return "held verdict on a worker not held";
		if (v == VERDICT_BUSY && (w->held || w->running_jobs <= 0))
			return "busy verdict on a worker not busy";
		if (v == VERDICT_UNKNOWN_JOBS &&
		    (w->held || w->running_jobs != -1))
			return "unknown jobs verdict on a known worker";
		if (v == VERDICT_BILLING && (w->held ||
		    w->running_jobs != 0 || ref_past_threshold(s, w)))
			return "billing verdict on a worker past it";
		if (v == VERDICT_NOT_NEEDED && !ref_eligible(s, w))
			return "not needed verdict on an ineligible worker";
	}

	/* The decision is the one the rules call for. */
	if (d->ran && !cooldown) {
		int want = POLICY_NONE, k = 0;

		if (in->queued_high_load_jobs > s->max_queued_jobs) {
			k = imin(s->scale_up_step, imin(s->max_workers -
			    running, startable));
			if (k > 0)
				want = POLICY_SCALE_UP;
			if (k <= 0 && !d->warning)
				return "no scale up without a warning";
		} else if (idle > s->min_idle_workers) {
			k = imin(imin(s->scale_down_step,
			    idle - s->min_idle_workers),
			    imin(running - s->min_workers, eligible));
			if (k > 0)
				want = POLICY_SCALE_DOWN;
			if (running - s->min_workers <= 0 && !d->warning)
				return "min_workers reached without a warning";
			if (running - s->min_workers > 0 && eligible == 0 &&
			    (d->warning || !strstr(d->reason,
			    "no workers available to stop")))
				return "no eligible worker misreported";
		}
		if ((int)d->action != want)
			return "not the action the rules call for";
		if (want != POLICY_NONE && d->count != k)
			return "not the count the rules call for";
	} else if (d->action != POLICY_NONE)
		return "an action when none may be taken";
	return NULL;
}

static void
test_property(void **state)
{
	uint64_t x = PROP_SEED;
	int actions[3] = { 0, 0, 0 }, notran = 0, cooldown = 0;
	struct gen *g = malloc(sizeof(*g));

	(void)state;
	assert_non_null(g);
	for (int iter = 0; iter < PROP_ITERATIONS; iter++) {
		struct policy_decision d;
		const char *why;
		json_t *j;

		generate(&x, g);
		policy_decide(&g->s, &g->in, &d);
		if ((why = check(g, &d)) != NULL) {
			dump(PROP_SEED, iter, g, &d, why);
			policy_decision_release(&d);
			free(g);
			fail_msg("%s (seed 0x%llx, iteration %d)", why,
			    (unsigned long long)PROP_SEED, iter);
		}
		j = policy_decision_json(&g->s, &g->in, &d);
		if (j == NULL || json_array_size(json_object_get(j,
		    "workers")) != g->in.nworkers ||
		    !json_is_object(json_object_get(j, "inputs"))) {
			dump(PROP_SEED, iter, g, &d, "bad JSON");
			fail_msg("bad JSON (iteration %d)", iter);
		}
		json_decref(j);
		actions[d.action]++;
		notran += !d.ran;
		cooldown += strncmp(d.reason, "in cooldown", 11) == 0;
		policy_decision_release(&d);
	}
	free(g);
	/* The generator reaches every branch often enough to matter. */
	assert_true(actions[POLICY_SCALE_UP] > 500);
	assert_true(actions[POLICY_SCALE_DOWN] > 500);
	assert_true(actions[POLICY_NONE] > 500);
	assert_true(notran > 500);
	assert_true(cooldown > 500);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_settings_from_config),
		cmocka_unit_test(test_cannot_run),
		cmocka_unit_test(test_causes),
		cmocka_unit_test(test_force),
		cmocka_unit_test(test_stale_data),
		cmocka_unit_test(test_cooldown),
		cmocka_unit_test(test_scale_up_threshold),
		cmocka_unit_test(test_scale_up_limits),
		cmocka_unit_test(test_idle_threshold),
		cmocka_unit_test(test_min_workers),
		cmocka_unit_test(test_hourly_billing),
		cmocka_unit_test(test_hourly_edges),
		cmocka_unit_test(test_per_second_billing),
		cmocka_unit_test(test_no_workers_available),
		cmocka_unit_test(test_order_and_step),
		cmocka_unit_test(test_held),
		cmocka_unit_test(test_unknown_jobs),
		cmocka_unit_test(test_no_workers),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_property),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
