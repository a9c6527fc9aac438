/* policy = demand: the target from the jobs' load, scale-up by the whole
 * difference, taking back draining workers, the cooldown only for
 * scale-downs, the record, and a randomized property test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/policy.h"

#define NOW 1800000000000LL
#define MAXW 16

struct fx {
	struct policy_settings s;
	struct policy_input in;
	struct policy_worker w[MAXW];
	struct policy_worker_demand x[MAXW];
	char ids[MAXW][16];
	size_t n;
};

static void
fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->s.min_workers = 2;
	f->s.max_workers = 10;
	f->s.scale_up_step = 1;
	f->s.scale_down_step = 1;
	f->s.billing = BILLING_PER_SECOND;
	f->s.idle_uptime_threshold_ms = 50 * 60000;
	f->s.min_uptime_ms = 10 * 60000;
	f->s.cooldown_ms = 5 * 60000;
	f->s.max_data_age_ms = 120000;
	f->s.policy = SCALING_DEMAND;
	f->s.scale_up_max_step = 10;
	f->s.default_max_load = 8.0;
	f->in.now_ms = NOW;
	f->in.admin_running = true;
	f->in.opencast_reachable = true;
	f->in.ec2_at_ms = NOW - 5000;
	f->in.oc_at_ms = NOW - 5000;
	f->in.workers = f->w;
	f->in.demand = f->x;
}

/* Adds a running worker with this load, its job count, uptime in s. */
static size_t
fx_run(struct fx *f, double load, int jobs, int64_t up)
{
	size_t i = f->n++;

	snprintf(f->ids[i], sizeof(f->ids[i]), "i-%zu", i);
	f->w[i].id = f->ids[i];
	f->w[i].running = true;
	f->w[i].running_jobs = jobs;
	f->w[i].uptime_s = up;
	f->x[i].load = load;
	f->x[i].max_load = 8.0;
	f->in.nworkers = f->n;
	return i;
}

static size_t
fx_stopped(struct fx *f, int k)
{
	size_t first = f->n;

	for (int j = 0; j < k; j++) {
		size_t i = f->n++;

		snprintf(f->ids[i], sizeof(f->ids[i]), "i-%zu", i);
		f->w[i].id = f->ids[i];
		f->w[i].stopped = true;
		f->w[i].running_jobs = -1;
		f->w[i].uptime_s = -1;
	}
	f->in.nworkers = f->n;
	return first;
}

static void
test_scale_up_whole_difference(void **state)
{
	struct fx f;
	struct policy_decision d;

	(void)state;
	fx_init(&f);
	fx_run(&f, 8.0, 5, 3600);
	fx_run(&f, 8.0, 5, 3600);
	fx_stopped(&f, 8);
	f.in.queued_load = 30.0;	/* 46 load: 6 workers of 8 */
	f.in.last_action_ms = NOW - 1000;	/* cooldown: no matter */
	policy_demand_decide(&f.s, &f.in, &d);
	assert_true(d.ran);
	assert_int_equal(d.action, POLICY_SCALE_UP);
	assert_int_equal(d.needed, 6);
	assert_int_equal(d.target, 6);
	assert_int_equal(d.count, 4);
	policy_decision_release(&d);

	f.s.scale_up_max_step = 3;
	policy_demand_decide(&f.s, &f.in, &d);
	assert_int_equal(d.count, 3);
	assert_true(d.warning);
	policy_decision_release(&d);
}

static void
test_starting_counts(void **state)
{
	struct fx f;
	struct policy_decision d;
	size_t s0;

	(void)state;
	fx_init(&f);
	fx_run(&f, 8.0, 5, 3600);
	fx_run(&f, 8.0, 5, 3600);
	s0 = fx_stopped(&f, 4);
	f.w[s0].stopped = false;
	f.x[s0].starting = true;	/* pending */
	f.in.queued_load = 16.0;	/* 32: 4 workers */
	policy_demand_decide(&f.s, &f.in, &d);
	assert_int_equal(d.capacity, 3);
	assert_int_equal(d.count, 1);
	assert_int_equal(d.verdicts[s0], VERDICT_STARTING);
	policy_decision_release(&d);
}

static void
test_take_back_draining(void **state)
{
	struct fx f;
	struct policy_decision d;
	size_t a;

	(void)state;
	fx_init(&f);
	fx_run(&f, 8.0, 5, 3600);
	fx_run(&f, 8.0, 5, 3600);
	a = fx_run(&f, 1.5, 1, 3600);
	f.x[a].draining = true;
	fx_stopped(&f, 3);
	f.in.queued_load = 9.0;		/* 26.5: 4 workers */
	policy_demand_decide(&f.s, &f.in, &d);
	assert_int_equal(d.action, POLICY_SCALE_UP);
	assert_int_equal(d.take_back, 1);
	assert_int_equal(d.taken_back[0], a);
	assert_int_equal(d.verdicts[a], VERDICT_TAKEN_BACK);
	assert_int_equal(d.count, 1);
	policy_decision_release(&d);
}

static void
test_scale_down_idle_past_billing(void **state)
{
	struct fx f;
	struct policy_decision d;
	size_t busy, young, old1, old2;

	(void)state;
	fx_init(&f);
	busy = fx_run(&f, 3.0, 2, 7200);
	young = fx_run(&f, 0, 0, 60);
	old1 = fx_run(&f, 0, 0, 3000);
	old2 = fx_run(&f, 0, 0, 4000);
	f.in.queued_load = 0;		/* 3: 1 worker, target min 2 */
	policy_demand_decide(&f.s, &f.in, &d);
	assert_int_equal(d.target, 2);
	assert_int_equal(d.action, POLICY_SCALE_DOWN);
	assert_int_equal(d.count, 2);
	assert_int_equal(d.chosen[0], old2);
	assert_int_equal(d.chosen[1], old1);
	assert_int_equal(d.verdicts[busy], VERDICT_BUSY);
	assert_int_equal(d.verdicts[young], VERDICT_BILLING);
	policy_decision_release(&d);

	/* In cooldown: no scale-down. */
	f.in.last_action_ms = NOW - 60000;
	policy_demand_decide(&f.s, &f.in, &d);
	assert_int_equal(d.action, POLICY_NONE);
	policy_decision_release(&d);
}

/* --force: the target is not held within min_workers and max_workers,
 * starting is not cut by max_workers, and idle workers go whatever their
 * uptime; busy and held workers stay. */
static void
test_force(void **state)
{
	struct fx f;
	struct policy_decision d;
	size_t busy, young, held;

	(void)state;
	fx_init(&f);
	f.s.max_workers = 3;
	fx_run(&f, 8.0, 5, 3600);
	fx_run(&f, 8.0, 5, 3600);
	fx_stopped(&f, 4);
	f.in.queued_load = 24.0;	/* 40: 5 workers of 8 */
	policy_demand_decide(&f.s, &f.in, &d);
	assert_int_equal(d.target, 3);
	assert_int_equal(d.count, 1);
	policy_decision_release(&d);
	f.in.force = true;
	policy_demand_decide(&f.s, &f.in, &d);
	assert_true(d.ran);
	assert_int_equal(d.target, 5);
	assert_int_equal(d.action, POLICY_SCALE_UP);
	assert_int_equal(d.count, 3);
	assert_false(d.warning);
	assert_non_null(strstr(d.reason, "(--force: min_workers, max_workers "
	    "and the billing threshold ignored)"));
	policy_decision_release(&d);

	fx_init(&f);
	busy = fx_run(&f, 3.0, 2, 60);
	young = fx_run(&f, 0, 0, 60);
	held = fx_run(&f, 0, 0, 7200);
	f.w[held].held = true;
	f.in.queued_load = 0;		/* 3: 1 worker; min_workers 2 */
	policy_demand_decide(&f.s, &f.in, &d);
	assert_int_equal(d.action, POLICY_NONE);
	policy_decision_release(&d);
	f.in.force = true;
	policy_demand_decide(&f.s, &f.in, &d);
	assert_int_equal(d.target, 1);
	assert_int_equal(d.action, POLICY_SCALE_DOWN);
	assert_int_equal(d.count, 1);
	assert_int_equal(d.chosen[0], young);
	assert_int_equal(d.verdicts[busy], VERDICT_BUSY);
	assert_int_equal(d.verdicts[held], VERDICT_HELD);
	policy_decision_release(&d);
}

static void
test_stale_and_json(void **state)
{
	struct fx f;
	struct policy_decision d;
	json_t *j;

	(void)state;
	fx_init(&f);
	fx_run(&f, 0, 0, 7200);
	fx_run(&f, 0, 0, 7200);
	fx_run(&f, 0, 0, 7200);
	f.in.oc_at_ms = NOW - 200000;
	policy_demand_decide(&f.s, &f.in, &d);
	assert_false(d.ran);
	assert_int_equal(d.action, POLICY_NONE);
	j = policy_demand_json(&f.s, &f.in, &d);
	assert_non_null(json_object_get(j, "demand"));
	assert_int_equal(json_integer_value(json_object_get(
	    json_object_get(j, "demand"), "target")), 2);
	assert_int_equal(json_array_size(json_object_get(j, "workers")), 3);
	json_decref(j);
	policy_decision_release(&d);
}

/* Loads text as a main config file; returns 0 or -1 with err. */
static int
load_text(const char *text, struct config **c, char *err, size_t errlen)
{
	char dir[] = "/tmp/ec2m-demand-XXXXXX", path[64];
	FILE *f;
	int r;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ec2-manager.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	r = config_load(path, c, err, errlen);
	unlink(path);
	rmdir(dir);
	return r;
}

/* policy and scale_up_max_step: defaults seed and 10, reach the
 * settings, bad values are refused. */
static void
test_config_keys(void **state)
{
	struct config *c = NULL;
	struct policy_settings s;
	char err[512];

	(void)state;
	assert_int_equal(load_text("[cluster a]\n", &c, err, sizeof(err)), 0);
	policy_settings_from_config(&s, config_cluster(c, "a"));
	assert_int_equal(s.policy, SCALING_SEED);
	assert_int_equal(s.scale_up_max_step, 10);
	config_free(c);

	assert_int_equal(load_text("[defaults]\npolicy = demand\n"
	    "[cluster a]\nscale_up_max_step = 4\n[cluster b]\n"
	    "policy = seed\n", &c, err, sizeof(err)), 0);
	policy_settings_from_config(&s, config_cluster(c, "a"));
	assert_int_equal(s.policy, SCALING_DEMAND);
	assert_int_equal(s.scale_up_max_step, 4);
	policy_settings_from_config(&s, config_cluster(c, "b"));
	assert_int_equal(s.policy, SCALING_SEED);
	config_free(c);

	assert_int_equal(load_text("[cluster a]\npolicy = magic\n", &c, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "policy"));
	assert_int_equal(load_text("[cluster a]\nscale_up_max_step = 0\n",
	    &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "scale_up_max_step"));
}

static uint64_t
xs(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static int64_t
rnd(uint64_t *x, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(xs(x) % (uint64_t)(hi - lo + 1));
}

/* Never below min_workers (among workers taking jobs) by a scale-down,
 * never above max_workers by a scale-up, never a busy, held, starting,
 * draining or unknown worker stopped, never a scale-down on stale data,
 * never below the target. */
static void
test_properties(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	(void)state;
	for (int iter = 0; iter < 200000; iter++) {
		struct fx f;
		struct policy_decision d;
		int present = 0, active = 0;
		size_t n;
		bool stale;

		fx_init(&f);
		f.s.min_workers = (int)rnd(&x, 0, 5);
		f.s.max_workers = (int)rnd(&x, 0, 14);
		f.s.min_idle_workers = (int)rnd(&x, 0, 3);
		f.s.scale_up_max_step = (int)rnd(&x, 1, 6);
		f.s.billing = rnd(&x, 0, 1) ? BILLING_HOURLY :
		    BILLING_PER_SECOND;
		f.s.cooldown_ms = rnd(&x, 0, 1) ? 0 : rnd(&x, 1, 600000);
		n = (size_t)rnd(&x, 0, MAXW);
		for (size_t i = 0; i < n; i++) {
			int64_t st = rnd(&x, 0, 9);
			size_t k;

			if (st < 6) {
				k = fx_run(&f, (double)rnd(&x, 0, 80) / 10,
				    (int)rnd(&x, -1, 4), rnd(&x, -1, 20000));
				f.x[k].draining = rnd(&x, 0, 9) == 0;
				f.x[k].starting = rnd(&x, 0, 9) == 0;
				f.w[k].held = rnd(&x, 0, 9) == 0;
				if (rnd(&x, 0, 5) == 0)
					f.x[k].max_load = 0;
			} else {
				k = fx_stopped(&f, 1);
				if (st == 9) {
					f.w[k].stopped = false;
					f.x[k].starting = true;
				}
			}
		}
		f.in.now_ms = NOW + rnd(&x, 0, 86400000);
		f.in.ec2_at_ms = f.in.now_ms - rnd(&x, 0, 130000);
		f.in.oc_at_ms = rnd(&x, 0, 20) == 0 ? 0 :
		    f.in.now_ms - rnd(&x, 0, 130000);
		f.in.queued_load = rnd(&x, 0, 30) == 0 ? -1 :
		    (double)rnd(&x, 0, 800) / 10;
		f.in.last_action_ms = rnd(&x, 0, 1) ? 0 :
		    f.in.now_ms - rnd(&x, 0, 700000);
		stale = f.in.oc_at_ms <= 0 ||
		    f.in.now_ms - f.in.ec2_at_ms > f.s.max_data_age_ms ||
		    f.in.now_ms - f.in.oc_at_ms > f.s.max_data_age_ms ||
		    f.in.queued_load < 0;
		for (size_t i = 0; i < f.n; i++) {
			if (f.w[i].running || f.x[i].starting)
				present++;
			if (f.w[i].running && !f.x[i].starting &&
			    !f.x[i].draining)
				active++;
		}

		policy_demand_decide(&f.s, &f.in, &d);
		if (stale)
			assert_int_equal(d.action, POLICY_NONE);
		if (d.action == POLICY_SCALE_UP) {
			assert_true(d.count >= 0);
			assert_true(d.count <= f.s.scale_up_max_step);
			if (d.count > 0)
				assert_true(present + d.count <=
				    f.s.max_workers);
			assert_true(d.take_back + d.count <=
			    d.target - d.capacity);
		}
		if (d.action == POLICY_SCALE_DOWN) {
			assert_true(d.count > 0);
			assert_true(active - d.count >= f.s.min_workers);
			assert_true(d.capacity - d.count >= d.target);
			assert_true(f.s.cooldown_ms == 0 ||
			    f.in.last_action_ms == 0 ||
			    f.in.now_ms - f.in.last_action_ms >=
			    f.s.cooldown_ms);
			for (int j = 0; j < d.count; j++) {
				size_t c = d.chosen[j];

				assert_true(f.w[c].running);
				assert_false(f.w[c].held);
				assert_int_equal(f.w[c].running_jobs, 0);
				assert_false(f.x[c].starting);
				assert_false(f.x[c].draining);
				assert_true(f.w[c].uptime_s >= 0);
			}
		}
		assert_true(d.target <= f.s.max_workers ||
		    d.target == f.s.min_workers);
		policy_decision_release(&d);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scale_up_whole_difference),
		cmocka_unit_test(test_starting_counts),
		cmocka_unit_test(test_take_back_draining),
		cmocka_unit_test(test_scale_down_idle_past_billing),
		cmocka_unit_test(test_stale_and_json),
		cmocka_unit_test(test_force),
		cmocka_unit_test(test_properties),
		cmocka_unit_test(test_config_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
