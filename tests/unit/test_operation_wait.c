/* The pure half of operations (daemon/operation_wait.c): what each wait
 * predicate answers, and why, on hand-built models; which nodes still need
 * a maintenance switch; the restore's backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/utf8.h"
#include "daemon/operation_wait.h"

#define MAXI 8

/* A model built by hand: members with an instance, maybe a host. */
struct fx {
	struct ec2_instance inst[MAXI];
	struct oc_host host[MAXI];
	struct model_member m[MAXI];
	char ids[MAXI][16];
	char urls[MAXI][40];
	char names[MAXI][24];
	struct model md;
};

static struct fx F;

static void
fx_init(bool opencast_known)
{
	memset(&F, 0, sizeof(F));
	F.md.m = F.m;
	F.md.opencast_known = opencast_known;
}

/* Adds member i-N; host_state: 0 none, 1 online, 2 offline. */
static const char *
add(enum role role, enum ec2_state st, int host_state, bool maint, int jobs)
{
	size_t i = F.md.n++;

	snprintf(F.ids[i], sizeof(F.ids[i]), "i-%zu", i);
	snprintf(F.names[i], sizeof(F.names[i]), "dev04-%s",
	    model_role_name(role));
	snprintf(F.urls[i], sizeof(F.urls[i]), "http://10.0.1.%zu:8080", i);
	F.inst[i].id = F.ids[i];
	F.inst[i].name = F.names[i];
	F.inst[i].state = st;
	F.m[i].inst = &F.inst[i];
	F.m[i].role = role;
	F.m[i].running_jobs = jobs;
	if (host_state) {
		F.host[i].base_url = F.urls[i];
		F.host[i].online = host_state == 1;
		F.host[i].maintenance = maint;
		F.host[i].running_jobs = jobs;
		F.m[i].host = &F.host[i];
	}
	return F.ids[i];
}

static struct strv
ids_of(const char *a, const char *b)
{
	struct strv s = { 0 };

	if (a)
		strv_add(&s, a);
	if (b)
		strv_add(&s, b);
	return s;
}

static void
test_running_and_stopped(void **state)
{
	struct strv s;
	char why[256];
	const char *a, *b;

	(void)state;
	fx_init(true);
	a = add(ROLE_WORKER, EC2_STATE_RUNNING, 1, false, 0);
	b = add(ROLE_WORKER, EC2_STATE_PENDING, 0, false, 0);
	s = ids_of(a, NULL);
	why[0] = '\0';
	assert_true(op_wait_running(&F.md, &s, why, sizeof(why)));
	strv_clear(&s);

	s = ids_of(a, b);
	why[0] = '\0';
	assert_false(op_wait_running(&F.md, &s, why, sizeof(why)));
	assert_string_equal(why, "i-1 is pending; 1 of 2 running");
	why[0] = '\0';
	assert_false(op_wait_stopped(&F.md, &s, why, sizeof(why)));
	assert_string_equal(why, "i-0 is running; 0 of 2 stopped");
	strv_clear(&s);

	/* An instance that went away is not running. */
	s = ids_of("i-9", NULL);
	why[0] = '\0';
	assert_false(op_wait_running(&F.md, &s, why, sizeof(why)));
	assert_string_equal(why, "i-9 is gone; 0 of 1 running");
	/* No ids: nothing to wait for. */
	strv_clear(&s);
	why[0] = '\0';
	assert_true(op_wait_stopped(&F.md, &s, why, sizeof(why)));
}

static void
test_ready(void **state)
{
	struct strv s;
	char why[256];
	const char *ok, *unreg, *off, *maint;

	(void)state;
	fx_init(true);
	ok = add(ROLE_WORKER, EC2_STATE_RUNNING, 1, false, 0);
	unreg = add(ROLE_WORKER, EC2_STATE_RUNNING, 0, false, 0);
	off = add(ROLE_WORKER, EC2_STATE_RUNNING, 2, false, 0);
	maint = add(ROLE_WORKER, EC2_STATE_RUNNING, 1, true, 0);

	s = ids_of(ok, NULL);
	why[0] = '\0';
	assert_true(op_wait_ready(&F.md, &s, why, sizeof(why)));
	strv_clear(&s);
	s = ids_of(ok, unreg);
	why[0] = '\0';
	assert_false(op_wait_ready(&F.md, &s, why, sizeof(why)));
	assert_string_equal(why, "i-1 is not registered in Opencast yet");
	strv_clear(&s);
	s = ids_of(off, maint);
	why[0] = '\0';
	assert_false(op_wait_ready(&F.md, &s, why, sizeof(why)));
	assert_string_equal(why, "i-2 is offline in Opencast");
	strv_clear(&s);
	s = ids_of(maint, "i-7");
	why[0] = '\0';
	assert_false(op_wait_ready(&F.md, &s, why, sizeof(why)));
	assert_string_equal(why, "i-3 is still in maintenance");
	strv_clear(&s);
}

static void
test_opencast_ready(void **state)
{
	struct strv none = { 0 };
	char why[256];

	(void)state;
	fx_init(false);
	add(ROLE_ADMIN, EC2_STATE_RUNNING, 1, false, 0);
	why[0] = '\0';
	assert_false(op_wait_opencast_ready(&F.md, &none, why, sizeof(why)));
	assert_string_equal(why, "Opencast does not answer yet");

	F.md.opencast_known = true;
	why[0] = '\0';
	assert_true(op_wait_opencast_ready(&F.md, &none, why, sizeof(why)));
	/* A stopped worker need not be registered; a running one must be;
	 * support nodes never are. */
	add(ROLE_WORKER, EC2_STATE_STOPPED, 0, false, 0);
	add(ROLE_DB, EC2_STATE_RUNNING, 0, false, 0);
	why[0] = '\0';
	assert_true(op_wait_opencast_ready(&F.md, &none, why, sizeof(why)));
	add(ROLE_ENGAGE, EC2_STATE_RUNNING, 0, false, 0);
	why[0] = '\0';
	assert_false(op_wait_opencast_ready(&F.md, &none, why, sizeof(why)));
	assert_string_equal(why, "dev04-engage (i-3) is not registered in "
	    "Opencast yet");
}

static void
test_maintenance(void **state)
{
	struct strv s;
	char why[256];
	const char *in, *out, *nohost;

	(void)state;
	fx_init(true);
	in = add(ROLE_WORKER, EC2_STATE_RUNNING, 1, true, 0);
	out = add(ROLE_WORKER, EC2_STATE_RUNNING, 1, false, 0);
	nohost = add(ROLE_WORKER, EC2_STATE_RUNNING, 0, false, 0);
	s = ids_of(in, nohost);
	why[0] = '\0';
	assert_true(op_wait_maint_on(&F.md, &s, why, sizeof(why)));
	why[0] = '\0';
	assert_false(op_wait_maint_off(&F.md, &s, why, sizeof(why)));
	assert_string_equal(why, "http://10.0.1.0:8080 is still in "
	    "maintenance");
	strv_clear(&s);
	s = ids_of(out, in);
	why[0] = '\0';
	assert_false(op_wait_maint_on(&F.md, &s, why, sizeof(why)));
	assert_string_equal(why, "http://10.0.1.1:8080 is still out of "
	    "maintenance");
	strv_clear(&s);
}

static void
test_workers_idle(void **state)
{
	struct strv none = { 0 };
	char why[256];

	(void)state;
	fx_init(false);
	add(ROLE_WORKER, EC2_STATE_RUNNING, 1, false, 0);
	why[0] = '\0';
	assert_false(op_wait_workers_idle(&F.md, &none, why, sizeof(why)));
	assert_string_equal(why, "Opencast cannot be read");

	F.md.opencast_known = true;
	why[0] = '\0';
	assert_true(op_wait_workers_idle(&F.md, &none, why, sizeof(why)));
	/* The admin's jobs (workflows) do not count. */
	add(ROLE_ADMIN, EC2_STATE_RUNNING, 1, false, 4);
	why[0] = '\0';
	assert_true(op_wait_workers_idle(&F.md, &none, why, sizeof(why)));
	add(ROLE_WORKER, EC2_STATE_RUNNING, 1, false, 1);
	why[0] = '\0';
	assert_false(op_wait_workers_idle(&F.md, &none, why, sizeof(why)));
	assert_string_equal(why, "1 worker still runs 1 job");
	add(ROLE_WORKER, EC2_STATE_RUNNING, 1, true, 2);
	why[0] = '\0';
	assert_false(op_wait_workers_idle(&F.md, &none, why, sizeof(why)));
	assert_string_equal(why, "2 workers still run 3 jobs");
}

static void
test_why_is_cut_safely(void **state)
{
	struct strv s;
	char why[12];

	(void)state;
	fx_init(true);
	s = ids_of(add(ROLE_WORKER, EC2_STATE_PENDING, 0, false, 0),
	    add(ROLE_WORKER, EC2_STATE_STOPPING, 0, false, 0));
	memset(why, 0, sizeof(why));
	assert_false(op_wait_running(&F.md, &s, why, sizeof(why)));
	assert_true(strlen(why) < sizeof(why));
	assert_true(utf8_valid(why, strlen(why)));
	strv_clear(&s);
}

static void
test_pairs_and_running(void **state)
{
	struct strv ids = { 0 }, hosts = { 0 }, hids = { 0 };
	const char *a, *b, *c, *d;

	(void)state;
	fx_init(true);
	a = add(ROLE_ADMIN, EC2_STATE_RUNNING, 1, false, 0);
	b = add(ROLE_WORKER, EC2_STATE_RUNNING, 1, true, 0);
	c = add(ROLE_WORKER, EC2_STATE_STOPPED, 1, false, 0);
	d = add(ROLE_WORKER, EC2_STATE_RUNNING, 0, false, 0);
	add(ROLE_DB, EC2_STATE_RUNNING, 0, false, 0);

	op_running_opencast(&F.md, &ids);
	assert_int_equal(ids.n, 3);
	assert_string_equal(ids.v[0], a);
	assert_string_equal(ids.v[1], b);
	assert_string_equal(ids.v[2], d);
	strv_add(&ids, c);
	strv_add(&ids, "i-gone");

	/* Into maintenance: the running ones with a host not in it yet. */
	op_pairs_needing(&F.md, &ids, true, &hosts, &hids);
	assert_int_equal(hosts.n, 1);
	assert_string_equal(hosts.v[0], "http://10.0.1.0:8080");
	assert_string_equal(hids.v[0], a);
	strv_clear(&hosts);
	strv_clear(&hids);
	/* Out of it: only b; c is stopped, d has no host. */
	op_pairs_needing(&F.md, &ids, false, &hosts, &hids);
	assert_int_equal(hosts.n, 1);
	assert_string_equal(hids.v[0], b);
	assert_non_null(op_member(&F.md, d));
	assert_null(op_member(&F.md, "i-gone"));
	strv_clear(&hosts);
	strv_clear(&hids);
	strv_clear(&ids);
}

static void
test_backoff(void **state)
{
	(void)state;
	/* 1 s doubling to 60 s, the delay in [d/2, d). */
	assert_int_equal(op_backoff_ms(1, 1000, 60000, 0), 500);
	assert_true(op_backoff_ms(1, 1000, 60000, 0.999) < 1000);
	assert_int_equal(op_backoff_ms(2, 1000, 60000, 0), 1000);
	assert_int_equal(op_backoff_ms(3, 1000, 60000, 0), 2000);
	assert_int_equal(op_backoff_ms(7, 1000, 60000, 0), 30000);
	assert_int_equal(op_backoff_ms(8, 1000, 60000, 0), 30000);
	assert_true(op_backoff_ms(8, 1000, 60000, 0.999) < 60000);
	assert_true(op_backoff_ms(8, 1000, 60000, 0.999) >= 59000);
	/* Far past the cap, no overflow; odd inputs stay in bounds. */
	assert_int_equal(op_backoff_ms(1000000, 1000, 60000, 0), 30000);
	assert_int_equal(op_backoff_ms(0, 1000, 60000, 0), 500);
	assert_int_equal(op_backoff_ms(-5, 1000, 60000, 0), 500);
	assert_int_equal(op_backoff_ms(3, 1000, 60000, -1), 2000);
	assert_int_equal(op_backoff_ms(3, 1000, 60000, 7), 2000);
	assert_int_equal(op_backoff_ms(40, UINT64_MAX / 2, UINT64_MAX, 0),
	    UINT64_MAX / 2);
	assert_int_equal(op_backoff_ms(1, 1, 60000, 0), 1);
	assert_int_equal(op_backoff_ms(1, 0, 60000, 0.5), 0);
	assert_int_equal(op_backoff_ms(5, 5000, 1000, 0), 500);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_running_and_stopped),
		cmocka_unit_test(test_ready),
		cmocka_unit_test(test_opencast_ready),
		cmocka_unit_test(test_maintenance),
		cmocka_unit_test(test_workers_idle),
		cmocka_unit_test(test_why_is_cut_safely),
		cmocka_unit_test(test_pairs_and_running),
		cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
