/* The cluster model: roles, hold, membership, derived numbers, the
 * Opencast join, autoscale switches, the status JSON; and the event ring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>
#include <syslog.h>

#include "daemon/events.h"
#include "daemon/model.h"

#define NOW 1800000000000LL	/* 2027-01-15T08:00:00Z */

static void
test_roles(void **state)
{
	(void)state;
	assert_int_equal(model_role("dev04", "dev04-admin"), ROLE_ADMIN);
	assert_int_equal(model_role("dev04", "dev04-worker"), ROLE_WORKER);
	assert_int_equal(model_role("dev04", "dev04-worker3"), ROLE_WORKER);
	assert_int_equal(model_role("dev04", "dev04-worker-b"), ROLE_WORKER);
	assert_int_equal(model_role("dev04", "dev04-engage"), ROLE_ENGAGE);
	assert_int_equal(model_role("dev04", "dev04-db"), ROLE_DB);
	assert_int_equal(model_role("dev04", "dev04-mysql"), ROLE_MYSQL);
	assert_int_equal(model_role("dev04", "dev04-nfs"), ROLE_NFS);
	assert_int_equal(model_role("dev04", "dev04-workers"), ROLE_OTHER);
	assert_int_equal(model_role("dev04", "dev04-dbx"), ROLE_OTHER);
	assert_int_equal(model_role("dev04", "dev04-monitor"), ROLE_OTHER);
	assert_int_equal(model_role("dev04", "dev04x-admin"), ROLE_OTHER);
	assert_int_equal(model_role("dev04", "dev04"), ROLE_OTHER);
	assert_true(model_role_is_opencast(ROLE_ENGAGE));
	assert_false(model_role_is_opencast(ROLE_NFS));
	assert_true(model_role_is_support(ROLE_MYSQL));
	assert_string_equal(model_role_name(ROLE_WORKER), "worker");
}

/* A small cluster built by hand. */
struct fixture {
	struct ec2_instance_list *l;
	struct ec2_tag tags[8][3];
};

static void
add(struct fixture *f, const char *id, const char *name,
    enum ec2_state st, const char *ip, int64_t launch, const char *tagkey,
    const char *tagval)
{
	struct ec2_instance_list *l = f->l;
	struct ec2_instance *in = &l->v[l->n];

	memset(in, 0, sizeof(*in));
	in->id = id;
	in->name = name;
	in->state = st;
	in->private_ip = ip;
	in->launch_time_ms = launch;
	in->tags = f->tags[l->n];
	in->tags[0].key = "Name";
	in->tags[0].value = name;
	in->ntags = 1;
	if (tagkey) {
		in->tags[1].key = tagkey;
		in->tags[1].value = tagval;
		in->ntags = 2;
	}
	l->n++;
}

static struct ec2_instance v[8];

static void
build_cluster(struct fixture *f, const char *admin_tag, const char *val)
{
	static struct ec2_instance_list list;

	memset(&list, 0, sizeof(list));
	list.v = v;
	list.cap = 8;
	f->l = &list;
	add(f, "i-a", "dev04-admin", EC2_STATE_RUNNING, "10.0.0.10",
	    NOW - 3600000, admin_tag, val);
	add(f, "i-w1", "dev04-worker", EC2_STATE_RUNNING, "10.0.0.11",
	    NOW - 53 * 60000, NULL, NULL);
	add(f, "i-w2", "dev04-worker", EC2_STATE_RUNNING, "10.0.0.12",
	    NOW - 40 * 60000, "Hold", "");
	add(f, "i-w3", "dev04-worker", EC2_STATE_STOPPED, "10.0.0.13",
	    NOW - 86400000, NULL, NULL);
	add(f, "i-db", "dev04-db", EC2_STATE_RUNNING, "10.0.0.20",
	    NOW - 86400000, NULL, NULL);
	add(f, "i-x", "dev04x-admin", EC2_STATE_RUNNING, "10.0.0.30",
	    NOW, NULL, NULL);
}

static const char hosts_json[] = "{\"hosts\":{\"host\":["
    "{\"base_url\":\"http://10.0.0.10:8080\",\"maintenance\":false},"
    "{\"base_url\":\"http://10.0.0.11:8080\",\"maintenance\":true},"
    "{\"base_url\":\"http://10.0.0.12:8080\",\"maintenance\":false},"
    "{\"base_url\":\"http://10.0.0.13:8080\",\"maintenance\":true}]}}";
static const char jobs_json[] = "{\"jobs\":{\"job\":["
    "{\"id\":1,\"type\":\"org.opencastproject.composer\",\"status\":"
    "\"RUNNING\",\"processingHost\":\"http://10.0.0.12:8080\"},"
    "{\"id\":2,\"type\":\"org.opencastproject.composer\",\"status\":"
    "\"QUEUED\"},"
    "{\"id\":3,\"type\":\"org.opencastproject.workflow\",\"status\":"
    "\"QUEUED\"}]}}";
static const char *const heavy_t[] = { "org.opencastproject.composer" };
static const struct oc_service_set heavy = { heavy_t, 1 };

static void
test_build_without_opencast(void **state)
{
	struct fixture f;
	struct model md;

	(void)state;
	build_cluster(&f, NULL, NULL);
	model_build(&md, "dev04", f.l, NULL, NULL, NOW);
	assert_int_equal(md.n, 5);	/* not dev04x-admin */
	assert_int_equal(md.admins, 1);
	assert_string_equal(md.admin->inst->id, "i-a");
	assert_int_equal(md.instances_online, 4);
	assert_int_equal(md.workers, 3);
	assert_int_equal(md.workers_online, 2);
	assert_false(md.opencast_known);
	assert_int_equal(md.queued_jobs, -1);
	assert_int_equal(md.m[1].uptime_s, 53 * 60);
	assert_int_equal(md.m[3].uptime_s, -1);		/* stopped */
	assert_false(md.m[1].held);
	assert_true(md.m[2].held);	/* "Hold" in any case */
	assert_null(md.m[1].host);
	assert_int_equal(md.m[1].running_jobs, -1);
	model_release(&md);
}

static void
test_build_with_opencast(void **state)
{
	struct oc_hosts *h = oc_hosts_new();
	struct oc_jobs *j = oc_jobs_new();
	struct oc_error err = { 0 };
	struct fixture f;
	struct model md;
	json_t *st, *inst;

	(void)state;
	assert_int_equal(oc_parse_hosts(hosts_json, strlen(hosts_json), h,
	    &err), 0);
	assert_int_equal(oc_parse_active_jobs(jobs_json, strlen(jobs_json),
	    &heavy, j, &err), 0);
	build_cluster(&f, NULL, NULL);
	model_build(&md, "dev04", f.l, h, j, NOW);
	assert_true(md.opencast_known);
	assert_int_equal(md.queued_jobs, 2);
	assert_int_equal(md.queued_high_load_jobs, 1);
	assert_int_equal(md.running_jobs, 1);
	assert_string_equal(md.m[1].host->base_url, "http://10.0.0.11:8080");
	assert_true(md.m[1].host->maintenance);
	assert_int_equal(md.m[1].running_jobs, 0);
	assert_int_equal(md.m[2].running_jobs, 1);
	/* The stopped worker's stale host row is not joined. */
	assert_null(md.m[3].host);
	assert_null(md.m[4].host);

	st = model_status_json(&md, "dev04");
	assert_int_equal(json_integer_value(json_object_get(st, "workers")), 3);
	assert_int_equal(json_integer_value(json_object_get(st,
	    "queued_high_load_jobs")), 1);
	inst = json_array_get(json_object_get(st, "instances"), 1);
	assert_string_equal(json_string_value(json_object_get(inst, "role")),
	    "worker");
	assert_true(json_is_true(json_object_get(inst, "maintenance")));
	assert_string_equal(json_string_value(json_object_get(inst,
	    "mh_host")), "http://10.0.0.11:8080");
	assert_int_equal(json_integer_value(json_object_get(inst,
	    "uptime_s")), 3180);
	inst = json_array_get(json_object_get(st, "instances"), 3);
	assert_true(json_is_null(json_object_get(inst, "maintenance")));
	assert_true(json_is_null(json_object_get(inst, "uptime_s")));
	assert_true(json_is_null(json_object_get(inst, "running_jobs")));
	inst = json_array_get(json_object_get(st, "instances"), 4);
	assert_string_equal(json_string_value(json_object_get(inst, "role")),
	    "db");
	assert_true(json_is_null(json_object_get(inst, "mh_host")));
	json_decref(st);
	model_release(&md);
	oc_hosts_free(h);
	oc_jobs_free(j);
}

static void
test_no_or_two_admins(void **state)
{
	struct fixture f;
	struct model md;
	json_t *st;

	(void)state;
	build_cluster(&f, NULL, NULL);
	f.l->v[0].name = "dev04-adminx";
	model_build(&md, "dev04", f.l, NULL, NULL, NOW);
	assert_int_equal(md.admins, 0);
	assert_null(md.admin);
	st = model_status_json(&md, "dev04");
	assert_true(json_is_null(json_object_get(st, "queued_jobs")));
	json_decref(st);
	model_release(&md);
	f.l->v[0].name = "dev04-admin";
	f.l->v[1].name = "dev04-admin";
	model_build(&md, "dev04", f.l, NULL, NULL, NOW);
	assert_int_equal(md.admins, 2);
	assert_null(md.admin);
	model_release(&md);
}

static void
test_autoscale_switches(void **state)
{
	struct fixture f;
	struct model md;

	(void)state;
	build_cluster(&f, NULL, NULL);
	model_build(&md, "dev04", f.l, NULL, NULL, NOW);
	assert_null(model_autoscale_off_reason(&md, true, false));
	assert_non_null(strstr(model_autoscale_off_reason(&md, false, false),
	    "configuration"));
	assert_non_null(strstr(model_autoscale_off_reason(&md, true, true),
	    "paused"));
	model_release(&md);
	build_cluster(&f, "autoscale", "OFF");
	model_build(&md, "dev04", f.l, NULL, NULL, NOW);
	assert_non_null(strstr(model_autoscale_off_reason(&md, true, false),
	    "autoscale=off"));
	model_release(&md);
	build_cluster(&f, "autoscale", "on");
	model_build(&md, "dev04", f.l, NULL, NULL, NOW);
	assert_null(model_autoscale_off_reason(&md, true, false));
	model_release(&md);
	build_cluster(&f, "ec2m:autoscale_off", "1");
	model_build(&md, "dev04", f.l, NULL, NULL, NOW);
	assert_non_null(strstr(model_autoscale_off_reason(&md, true, false),
	    "ec2m:autoscale_off"));
	model_release(&md);
	build_cluster(&f, "ec2m:autoscale_off", "");
	model_build(&md, "dev04", f.l, NULL, NULL, NOW);
	assert_null(model_autoscale_off_reason(&md, true, false));
	model_release(&md);
}

static void
test_event_ring(void **state)
{
	struct event_ring r;
	json_t *a;

	(void)state;
	events_init(&r, 3);
	assert_null(events_last(&r));
	a = events_json(&r, 10);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	for (int i = 1; i <= 5; i++)
		events_add(&r, NOW + i * 1000, EVENT_OPERATION, LOG_INFO,
		    i == 5 ? json_pack("{s:i}", "k", 5) : NULL, "event %d", i);
	assert_int_equal(r.count, 3);
	assert_string_equal(events_last(&r)->msg, "event 5");
	a = events_json(&r, 10);
	assert_int_equal(json_array_size(a), 3);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(a, 0), "msg")), "event 3");
	assert_int_equal(json_integer_value(json_object_get(
	    json_array_get(a, 2), "seq")), 5);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    json_array_get(a, 2), "data"), "k")), 5);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(a, 0), "kind")), "operation");
	json_decref(a);
	a = events_json(&r, 1);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(a, 0), "ts")), "2027-01-15T08:00:05Z");
	json_decref(a);
	events_release(&r);
}

/* Whether two models of one list show the same uptimes. */
static bool
same_uptimes(const struct model *a, const struct model *b)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->m[i].uptime_s != b->m[i].uptime_s)
			return false;
	return true;
}

static void
test_uptime_until(void **state)
{
	struct fixture f;
	struct model md, later;

	(void)state;
	build_cluster(&f, NULL, NULL);
	/* Launches on whole seconds of NOW: the next second. */
	model_build(&md, "dev04", f.l, NULL, NULL, NOW + 250);
	assert_int_equal(model_uptime_until(&md), NOW + 1000);
	model_release(&md);
	/* A launch between seconds moves its uptime at its own moments; one
	 * in the future (clock skew) has none until it is reached. */
	v[1].launch_time_ms = NOW - 4300;
	v[2].launch_time_ms = NOW + 5000;
	for (int64_t now = NOW; now < NOW + 7000; now += 37) {
		int64_t until;

		model_build(&md, "dev04", f.l, NULL, NULL, now);
		until = model_uptime_until(&md);
		assert_true(until > now);
		/* The same up to the moment it names, different at it. */
		model_build(&later, "dev04", f.l, NULL, NULL, until - 1);
		assert_true(same_uptimes(&md, &later));
		model_release(&later);
		model_build(&later, "dev04", f.l, NULL, NULL, until);
		assert_false(same_uptimes(&md, &later));
		model_release(&later);
		model_release(&md);
	}
	model_build(&md, "dev04", f.l, NULL, NULL, NOW + 250);
	assert_int_equal(model_uptime_until(&md), NOW + 700);
	model_release(&md);
	/* Nothing running: nothing moves. */
	for (size_t i = 0; i < f.l->n; i++)
		v[i].state = EC2_STATE_STOPPED;
	model_build(&md, "dev04", f.l, NULL, NULL, NOW);
	assert_int_equal(model_uptime_until(&md), INT64_MAX);
	model_release(&md);
}

/* The job readers' counts are joined by base URL; a list built by hand
 * may name a URL twice, and the first entry counts, as it always did. */
static void
test_jobs_join(void **state)
{
	struct oc_hosts *h = oc_hosts_new();
	struct oc_error err = { 0 };
	struct oc_job_host jh[] = {
		{ "http://10.0.0.12:8080", 3, 4.5 },
		{ "http://10.0.0.99:8080", 7, 1 },
		{ "http://10.0.0.10:8080", 1, 0.5 },
		{ "http://10.0.0.12:8080", 9, 9 },
	};
	struct oc_jobs j = { .hosts = jh, .nhosts = 4 };
	struct fixture f;
	struct model md;

	(void)state;
	assert_int_equal(oc_parse_hosts(hosts_json, strlen(hosts_json), h,
	    &err), 0);
	build_cluster(&f, NULL, NULL);
	model_build(&md, "dev04", f.l, h, &j, NOW);
	assert_int_equal(md.m[0].running_jobs, 1);	/* 10.0.0.10 */
	assert_true(md.m[0].running_load == 0.5);
	assert_int_equal(md.m[1].running_jobs, 0);	/* none listed */
	assert_true(md.m[1].running_load == 0);
	assert_int_equal(md.m[2].running_jobs, 3);	/* the first of two */
	assert_true(md.m[2].running_load == 4.5);
	model_release(&md);
	oc_hosts_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_build_without_opencast),
		cmocka_unit_test(test_build_with_opencast),
		cmocka_unit_test(test_no_or_two_admins),
		cmocka_unit_test(test_autoscale_switches),
		cmocka_unit_test(test_event_ring),
		cmocka_unit_test(test_uptime_until),
		cmocka_unit_test(test_jobs_join),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
