/* The rules of SPEC §5 for operator commands: each refusal with its
 * message and numbers, the order in which they are checked, --force, and
 * the choice of instances. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "daemon/rules.h"

#define NOW 1800000000000LL
#define MAXI 16

/* A hand-built cluster: admin, db and workers with states, jobs, holds. */
struct fx {
	struct ec2_instance_list l;
	struct ec2_instance v[MAXI];
	struct ec2_tag tags[MAXI][2];
	char ids[MAXI][16];
	struct oc_host hostv[MAXI];
	char urls[MAXI][40];
	struct oc_hosts hosts;
	struct oc_jobs jobs;
	struct oc_job_host jh[MAXI];
	struct model md;
	struct cluster_config cfg;
};

static struct fx F;

static void
fx_init(void)
{
	memset(&F, 0, sizeof(F));
	F.l.v = F.v;
	F.l.cap = MAXI;
	F.hosts.v = F.hostv;
	F.hosts.cap = MAXI;
	F.jobs.hosts = F.jh;
	F.jobs.hosts_cap = MAXI;
	F.cfg.min_workers = 2;
	F.cfg.max_workers = 10;
}

/* Adds an instance; jobs < 0: not registered in Opencast. */
static void
add(const char *role, enum ec2_state st, int jobs, int uptime_min,
    bool held)
{
	size_t i = F.l.n++;
	struct ec2_instance *in = &F.v[i];
	static char names[MAXI][32];

	snprintf(F.ids[i], sizeof(F.ids[i]), "i-%02zu", i);
	snprintf(names[i], sizeof(names[i]), "c-%s", role);
	in->id = F.ids[i];
	in->name = names[i];
	in->state = st;
	in->launch_time_ms = NOW - (int64_t)uptime_min * 60000;
	in->tags = F.tags[i];
	in->tags[0].key = "Name";
	in->tags[0].value = in->name;
	in->ntags = 1;
	if (held) {
		in->tags[1].key = "hold";
		in->tags[1].value = "";
		in->ntags = 2;
	}
	snprintf(F.urls[i], sizeof(F.urls[i]), "http://10.0.0.%zu:8080", i);
	{
		static char ip[MAXI][16];

		snprintf(ip[i], sizeof(ip[i]), "10.0.0.%zu", i);
		in->private_ip = ip[i];
	}
	if (jobs >= 0 && st == EC2_STATE_RUNNING) {
		struct oc_host *h = &F.hostv[F.hosts.n++];

		h->base_url = F.urls[i];
		h->online = true;
		if (jobs > 0) {
			F.jh[F.jobs.nhosts].base_url = F.urls[i];
			F.jh[F.jobs.nhosts++].running = jobs;
		}
	}
}

static void
build(void)
{
	model_build(&F.md, "c", &F.l, &F.hosts, &F.jobs, NOW);
}

static void
expect(int rc, struct plan *p, const char *msg)
{
	if (rc != -1 || strcmp(p->message, msg) != 0)
		fail_msg("wanted refusal \"%s\", got rc %d \"%s\"", msg, rc,
		    p->message);
	assert_int_equal(p->error, PROTO_ERR_REFUSED);
}

static void
basic(int running, int stopped)
{
	fx_init();
	add("admin", EC2_STATE_RUNNING, 0, 600, false);
	add("db", EC2_STATE_RUNNING, -1, 600, false);
	for (int i = 0; i < running; i++)
		add("worker", EC2_STATE_RUNNING, 0, 50 + i, false);
	for (int i = 0; i < stopped; i++)
		add("worker", EC2_STATE_STOPPED, -1, 0, false);
}

static void
test_scale_up(void **state)
{
	struct plan p;

	(void)state;
	basic(2, 3);
	F.cfg.max_workers = 4;
	build();
	expect(rules_scale_up(&F.md, &F.cfg, 4, false, &p), &p, "Cluster only "
	    "has 3 stopped workers that may be started but was asked to "
	    "start 4");
	plan_release(&p);
	/* Fewer stopped is checked before max_workers. */
	expect(rules_scale_up(&F.md, &F.cfg, 4, true, &p), &p, "Cluster only "
	    "has 3 stopped workers that may be started but was asked to "
	    "start 4");
	plan_release(&p);
	expect(rules_scale_up(&F.md, &F.cfg, 3, false, &p), &p, "Starting 3 "
	    "workers violates max workers setting of 4 (2 running)");
	plan_release(&p);
	assert_int_equal(rules_scale_up(&F.md, &F.cfg, 2, false, &p), 0);
	assert_int_equal(p.start_nodes.n, 3);	/* 2 + a spare */
	assert_string_equal(p.start_nodes.v[0], "i-04");
	assert_int_equal(p.warnings.n, 0);
	plan_release(&p);
	assert_int_equal(rules_scale_up(&F.md, &F.cfg, 3, true, &p), 0);
	assert_int_equal(p.warnings.n, 1);
	assert_non_null(strstr(p.warnings.v[0], "exceeds max workers setting "
	    "of 4"));
	plan_release(&p);
	model_release(&F.md);
	/* Held stopped workers are never started; pending ones count. */
	basic(2, 2);
	F.v[5].tags[1].key = "Hold";
	F.v[5].tags[1].value = "x";
	F.v[5].ntags = 2;
	F.v[4].state = EC2_STATE_PENDING;
	F.cfg.max_workers = 3;
	build();
	expect(rules_scale_up(&F.md, &F.cfg, 1, false, &p), &p, "Cluster only "
	    "has 0 stopped workers that may be started but was asked to "
	    "start 1");
	plan_release(&p);
	model_release(&F.md);
}

static void
test_admin_required(void **state)
{
	struct plan p;

	(void)state;
	basic(2, 1);
	F.v[0].state = EC2_STATE_STOPPED;
	build();
	expect(rules_scale_up(&F.md, &F.cfg, 1, true, &p), &p, "The admin "
	    "instance i-00 is stopped; scale up needs it running");
	plan_release(&p);
	expect(rules_scale_down(&F.md, &F.cfg, 1, true, &p), &p, "The admin "
	    "instance i-00 is stopped; scale down needs it running");
	plan_release(&p);
	expect(rules_maintenance(&F.md, true, &p), &p, "The admin instance "
	    "i-00 is stopped; maintenance on needs it running");
	plan_release(&p);
	model_release(&F.md);
	fx_init();
	add("worker", EC2_STATE_RUNNING, 0, 60, false);
	build();
	expect(rules_stop(&F.md, &F.cfg, false, &p), &p, "The cluster has no "
	    "admin instance; stop needs one");
	plan_release(&p);
	model_release(&F.md);
}

static void
test_scale_down(void **state)
{
	struct plan p;

	(void)state;
	basic(3, 1);
	F.cfg.min_workers = 2;
	build();
	expect(rules_scale_down(&F.md, &F.cfg, 4, false, &p), &p, "Cluster "
	    "only has 3 running workers but was asked to stop 4");
	plan_release(&p);
	expect(rules_scale_down(&F.md, &F.cfg, 2, false, &p), &p, "Stopping 2 "
	    "workers violates min workers setting of 2");
	plan_release(&p);
	/* Idle, longest uptime first: worker i-04 has 52 min. */
	assert_int_equal(rules_scale_down(&F.md, &F.cfg, 1, false, &p), 0);
	assert_int_equal(p.stop_nodes.n, 1);
	assert_string_equal(p.stop_nodes.v[0], "i-04");
	assert_string_equal(p.maintenance.v[0], "http://10.0.0.4:8080");
	plan_release(&p);
	assert_int_equal(rules_scale_down(&F.md, &F.cfg, 2, true, &p), 0);
	assert_int_equal(p.warnings.n, 1);
	assert_string_equal(p.stop_nodes.v[1], "i-03");
	plan_release(&p);
	model_release(&F.md);
}

static void
test_scale_down_busy_held_unknown(void **state)
{
	struct plan p;

	(void)state;
	fx_init();
	F.cfg.min_workers = 0;
	add("admin", EC2_STATE_RUNNING, 0, 600, false);
	add("worker", EC2_STATE_RUNNING, 3, 300, false);	/* busy */
	add("worker", EC2_STATE_RUNNING, 1, 200, false);	/* busy */
	add("worker", EC2_STATE_RUNNING, 0, 900, true);		/* held */
	add("worker", EC2_STATE_RUNNING, -1, 999, false);	/* unknown */
	add("worker", EC2_STATE_RUNNING, 0, 100, false);	/* idle */
	build();
	expect(rules_scale_down(&F.md, &F.cfg, 2, false, &p), &p, "Only 1 of 5 "
	    "running workers is idle but 2 were asked to stop");
	plan_release(&p);
	/* Forced: idle first, then busy by fewest jobs; unknown last;
	 * held never. */
	assert_int_equal(rules_scale_down(&F.md, &F.cfg, 4, true, &p), 0);
	assert_int_equal(p.stop_nodes.n, 4);
	assert_string_equal(p.stop_nodes.v[0], "i-05");
	assert_string_equal(p.stop_nodes.v[1], "i-02");
	assert_string_equal(p.stop_nodes.v[2], "i-01");
	assert_string_equal(p.stop_nodes.v[3], "i-04");
	plan_release(&p);
	expect(rules_scale_down(&F.md, &F.cfg, 5, true, &p), &p, "Only 4 "
	    "running workers may be stopped (held ones never are) but 5 were "
	    "asked");
	plan_release(&p);
	model_release(&F.md);
	/* Without Opencast nothing may be stopped: unknown is not idle. */
	model_build(&F.md, "c", &F.l, NULL, NULL, NOW);
	assert_int_equal(rules_scale_down(&F.md, &F.cfg, 1, true, &p), -1);
	assert_int_equal(p.error, PROTO_ERR_UPSTREAM);
	plan_release(&p);
	model_release(&F.md);
}

static void
test_scale_to(void **state)
{
	struct plan p;

	(void)state;
	basic(2, 3);
	F.cfg.min_workers = 1;
	F.cfg.max_workers = 4;
	build();
	assert_int_equal(rules_scale_to(&F.md, &F.cfg, 2, false, &p), 0);
	assert_true(p.nothing_to_do);
	assert_string_equal(p.message, "2 workers already running: nothing to "
	    "do");
	plan_release(&p);
	assert_int_equal(rules_scale_to(&F.md, &F.cfg, 4, false, &p), 0);
	assert_int_equal(p.workers, 2);
	plan_release(&p);
	expect(rules_scale_to(&F.md, &F.cfg, 5, false, &p), &p, "Starting 3 "
	    "workers violates max workers setting of 4 (2 running)");
	plan_release(&p);
	assert_int_equal(rules_scale_to(&F.md, &F.cfg, 1, false, &p), 0);
	assert_int_equal(p.workers, -1);
	assert_int_equal(p.stop_nodes.n, 1);
	plan_release(&p);
	expect(rules_scale_to(&F.md, &F.cfg, 0, false, &p), &p, "Stopping 2 "
	    "workers violates min workers setting of 1");
	plan_release(&p);
	model_release(&F.md);
}

static void
test_start(void **state)
{
	struct plan p;

	(void)state;
	fx_init();
	F.cfg.min_workers = 2;
	F.cfg.max_workers = 4;
	add("admin", EC2_STATE_STOPPED, -1, 0, false);
	add("engage", EC2_STATE_STOPPED, -1, 0, false);
	add("db", EC2_STATE_STOPPED, -1, 0, false);
	add("nfs", EC2_STATE_RUNNING, -1, 5, false);
	add("monitor", EC2_STATE_STOPPED, -1, 0, false);
	for (int i = 0; i < 5; i++)
		add("worker", EC2_STATE_STOPPED, -1, 0, false);
	build();
	/* In SPEC order: too few workers, too many running, the limits. */
	expect(rules_start(&F.md, &F.cfg, 6, true, &p), &p, "Cluster only has "
	    "5 workers but was asked to start with 6");
	plan_release(&p);
	expect(rules_start(&F.md, &F.cfg, 5, false, &p), &p, "Starting with 5 "
	    "workers violates max workers setting of 4");
	plan_release(&p);
	expect(rules_start(&F.md, &F.cfg, 1, false, &p), &p, "Starting with 1 "
	    "worker violates min workers setting of 2");
	plan_release(&p);
	assert_int_equal(rules_start(&F.md, &F.cfg, -1, false, &p), 0);
	assert_int_equal(p.workers, 2);
	/* Support: db (nfs runs); then admin, engage and two workers; the
	 * unknown role is never touched. */
	assert_int_equal(p.start_support.n, 1);
	assert_string_equal(p.start_support.v[0], "i-02");
	assert_int_equal(p.start_nodes.n, 4);
	assert_string_equal(p.start_nodes.v[0], "i-00");
	assert_string_equal(p.start_nodes.v[1], "i-01");
	plan_release(&p);
	assert_int_equal(rules_start(&F.md, &F.cfg, 5, true, &p), 0);
	assert_int_equal(p.warnings.n, 1);
	plan_release(&p);
	F.v[5].state = EC2_STATE_RUNNING;
	F.v[6].state = EC2_STATE_PENDING;
	F.v[7].state = EC2_STATE_RUNNING;
	model_release(&F.md);
	build();
	expect(rules_start(&F.md, &F.cfg, 2, false, &p), &p, "Cluster already "
	    "has 3 workers running, more than the 2 asked for");
	plan_release(&p);
	model_release(&F.md);
}

static void
test_stop(void **state)
{
	struct plan p;

	(void)state;
	basic(2, 1);
	F.v[3].tags[1].key = "HOLD";
	F.v[3].tags[1].value = "";
	F.v[3].ntags = 2;
	build();
	expect(rules_stop(&F.md, &F.cfg, false, &p), &p, "The cluster has 1 "
	    "held instance (c-worker): stop refuses held instances unless "
	    "forced");
	plan_release(&p);
	assert_int_equal(rules_stop(&F.md, &F.cfg, true, &p), 0);
	assert_int_equal(p.warnings.n, 1);
	/* Opencast nodes (admin + 2 running workers), then support. */
	assert_int_equal(p.stop_nodes.n, 3);
	assert_int_equal(p.stop_support.n, 1);
	assert_string_equal(p.stop_support.v[0], "i-01");
	assert_int_equal(p.maintenance.n, 3);
	plan_release(&p);
	model_release(&F.md);
	/* Held comes before the admin rule. */
	F.v[0].state = EC2_STATE_STOPPED;
	build();
	expect(rules_stop(&F.md, &F.cfg, false, &p), &p, "The cluster has 1 "
	    "held instance (c-worker): stop refuses held instances unless "
	    "forced");
	plan_release(&p);
	expect(rules_stop(&F.md, &F.cfg, true, &p), &p, "The admin instance "
	    "i-00 is stopped; stop needs it running");
	plan_release(&p);
	model_release(&F.md);
}

static void
test_recheck(void **state)
{
	struct strv chosen = { 0 }, stop = { 0 }, rel = { 0 };

	(void)state;
	basic(3, 0);
	F.jh[0].base_url = F.urls[3];
	F.jh[0].running = 1;
	F.jobs.nhosts = 1;
	build();
	strv_add(&chosen, "i-02");
	strv_add(&chosen, "i-03");
	strv_add(&chosen, "i-99");	/* gone meanwhile */
	rules_scale_down_recheck(&F.md, &chosen, false, &stop, &rel);
	assert_int_equal(stop.n, 1);
	assert_string_equal(stop.v[0], "i-02");
	assert_int_equal(rel.n, 1);
	assert_string_equal(rel.v[0], "i-03");
	strv_clear(&stop);
	strv_clear(&rel);
	rules_scale_down_recheck(&F.md, &chosen, true, &stop, &rel);
	assert_int_equal(stop.n, 2);
	assert_int_equal(rel.n, 0);
	strv_clear(&stop);
	strv_clear(&chosen);
	model_release(&F.md);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scale_up),
		cmocka_unit_test(test_admin_required),
		cmocka_unit_test(test_scale_down),
		cmocka_unit_test(test_scale_down_busy_held_unknown),
		cmocka_unit_test(test_scale_to),
		cmocka_unit_test(test_start),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_recheck),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
