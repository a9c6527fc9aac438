/* Opencast answers in every shape real versions produce (reference §2):
 * arrays, one-element objects, "" for empty lists, string numbers and
 * booleans, Matterhorn 1.x fields; job aggregation; host mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "common/strbuf.h"
#include "daemon/opencast_msg.h"

static const char *const heavy_types[] = {
	"org.opencastproject.composer", "org.opencastproject.inspection",
	"org.opencastproject.videoeditor",
	"org.opencastproject.videosegmenter",
};
static const struct oc_service_set heavy = { heavy_types, 4 };

static struct oc_hosts *
hosts_of(const char *json)
{
	struct oc_hosts *h = oc_hosts_new();
	struct oc_error err = { 0 };

	if (oc_parse_hosts(json, strlen(json), h, &err) != 0)
		fail_msg("hosts parse failed: %s", err.message);
	return h;
}

static void
test_hosts_array(void **state)
{
	struct oc_hosts *h = hosts_of("{\"hosts\":{\"host\":["
	    "{\"base_url\":\"http://10.0.1.11:8080\",\"address\":\"10.0.1.11\","
	    "\"node_name\":\"worker1\",\"memory\":16587472896,\"cores\":8,"
	    "\"max_load\":8,\"online\":true,\"active\":true,"
	    "\"maintenance\":false},"
	    "{\"base_url\":\"http://10.0.1.12:8080\",\"address\":\"10.0.1.12\","
	    "\"node_name\":42,\"memory\":1,\"cores\":4,\"max_load\":4.5,"
	    "\"online\":true,\"active\":true,\"maintenance\":true}]}}");

	(void)state;
	assert_int_equal(h->n, 2);
	assert_string_equal(h->v[0].base_url, "http://10.0.1.11:8080");
	assert_string_equal(h->v[0].address, "10.0.1.11");
	assert_string_equal(h->v[0].node_name, "worker1");
	assert_true(h->v[0].max_load == 8.0);
	assert_false(h->v[0].maintenance);
	/* The typing trap: a numeric node name arrives as a number. */
	assert_string_equal(h->v[1].node_name, "42");
	assert_true(h->v[1].max_load == 4.5);
	assert_true(h->v[1].maintenance);
	assert_non_null(oc_hosts_find(h, "http://10.0.1.12:8080"));
	assert_null(oc_hosts_find(h, "http://10.0.1.12"));
	oc_hosts_free(h);
}

static void
test_hosts_single_and_empty(void **state)
{
	struct oc_hosts *h;

	(void)state;
	h = hosts_of("{\"hosts\":{\"host\":{\"base_url\":\"http://a:8080\","
	    "\"online\":true,\"maintenance\":false,\"max_load\":4}}}");
	assert_int_equal(h->n, 1);
	assert_string_equal(h->v[0].base_url, "http://a:8080");
	assert_null(h->v[0].node_name);
	oc_hosts_free(h);
	h = hosts_of("{\"hosts\":\"\"}");
	assert_int_equal(h->n, 0);
	oc_hosts_free(h);
	/* Matterhorn 1.x: strings for everything, max_jobs, \/ escapes. */
	h = hosts_of("{\"hosts\":{\"host\":{\"base_url\":\"http:\\/\\/"
	    "10.0.0.5\",\"max_jobs\":\"3\",\"online\":\"true\","
	    "\"maintenance\":\"TRUE\"}}}");
	assert_string_equal(h->v[0].base_url, "http://10.0.0.5");
	assert_true(h->v[0].max_load == 3.0);
	assert_true(h->v[0].maintenance);
	assert_null(h->v[0].address);
	oc_hosts_free(h);
}

static void
expect_hosts_error(const char *json, enum oc_err_kind kind,
    const char *needle)
{
	struct oc_hosts *h = oc_hosts_new();
	struct oc_error err = { 0 };

	assert_int_equal(oc_parse_hosts(json, strlen(json), h, &err), -1);
	assert_int_equal(err.kind, kind);
	if (strstr(err.message, needle) == NULL)
		fail_msg("\"%s\" not in \"%s\"", needle, err.message);
	oc_hosts_free(h);
}

static void
test_hosts_errors(void **state)
{
	(void)state;
	expect_hosts_error("", OC_ERR_PARSE, "malformed JSON");
	expect_hosts_error("{\"hosts\":{\"host\":[", OC_ERR_PARSE,
	    "position");
	expect_hosts_error("<html>502</html>", OC_ERR_PARSE, "line 1");
	expect_hosts_error("[]", OC_ERR_PARSE, "not a JSON object");
	expect_hosts_error("{\"services\":\"\"}", OC_ERR_PARSE,
	    "no \"hosts\"");
	expect_hosts_error("{\"hosts\":5}", OC_ERR_PARSE, "neither");
	expect_hosts_error("{\"hosts\":{\"host\":7}}", OC_ERR_PARSE,
	    "neither a list");
	expect_hosts_error("{\"hosts\":{\"host\":[1]}}", OC_ERR_PARSE,
	    "element 0");
	expect_hosts_error("{\"hosts\":{\"host\":{\"address\":\"x\"}}}",
	    OC_ERR_PARSE, "no base_url");
	expect_hosts_error("{\"hosts\":{\"host\":{\"base_url\":\"u\","
	    "\"max_load\":\"lots\"}}}", OC_ERR_PARSE, "wrong type");
	expect_hosts_error("{\"hosts\":{\"host\":{\"base_url\":\"u\","
	    "\"online\":{}}}}", OC_ERR_PARSE, "wrong type");
}

#define JOB(id, type, status, host, load) \
	"{\"id\":" #id ",\"type\":\"org.opencastproject." type "\"," \
	"\"status\":\"" status "\"" host ",\"jobLoad\":" #load "," \
	"\"payload\":\"<mediapackage/>\",\"args\":{\"arg\":[\"a\",\"b\"]}}"
#define ON(h) ",\"processingHost\":\"http://10.0.1." #h ":8080\""

static struct oc_jobs *
jobs_of(const char *json)
{
	struct oc_jobs *j = oc_jobs_new();
	struct oc_error err = { 0 };

	if (oc_parse_active_jobs(json, strlen(json), &heavy, j, &err) != 0)
		fail_msg("activeJobs parse failed: %s", err.message);
	return j;
}

static void
test_active_jobs_aggregation(void **state)
{
	struct oc_jobs *j = jobs_of("{\"jobs\":{\"job\":["
	    JOB(1, "composer", "RUNNING", ON(11), 1.5) ","
	    JOB(2, "inspection", "DISPATCHING", ON(11), 0.2) ","
	    JOB(3, "composer", "RUNNING", ON(12), 2) ","
	    JOB(4, "composer", "QUEUED", "", 1.5) ","
	    JOB(5, "workflow", "QUEUED", "", 0) ","
	    JOB(6, "videoeditor", "RESTART", "", 0.8) ","
	    JOB(7, "workflow", "RUNNING", ON(10), 0) ","
	    JOB(8, "composer", "WAITING", ON(13), 1) ","
	    JOB(9, "composer", "PAUSED", "", 1) "]}}");

	(void)state;
	assert_true(j->per_job);
	assert_int_equal(j->njobs, 9);
	assert_int_equal(oc_jobs_running_on(j, "http://10.0.1.11:8080"), 2);
	assert_int_equal(oc_jobs_running_on(j, "http://10.0.1.12:8080"), 1);
	assert_int_equal(oc_jobs_running_on(j, "http://10.0.1.10:8080"), 1);
	/* WAITING is not running; an unknown host has nothing. */
	assert_int_equal(oc_jobs_running_on(j, "http://10.0.1.13:8080"), 0);
	assert_int_equal(oc_jobs_running_on(j, "http://10.0.1.99:8080"), 0);
	assert_int_equal(j->running, 3);	/* RUNNING only */
	assert_int_equal(j->queued, 3);		/* QUEUED + RESTART */
	assert_int_equal(j->queued_high_load, 2);
	assert_true(j->queued_high_load_load > 2.29 &&
	    j->queued_high_load_load < 2.31);
	assert_true(j->hosts[0].load > 1.69 && j->hosts[0].load < 1.71);
	assert_int_equal(j->jobs[3].id, 4);
	assert_true(j->jobs[3].high_load);
	assert_false(j->jobs[4].high_load);
	assert_null(j->jobs[3].processing_host);
	oc_jobs_free(j);
}

static void
test_active_jobs_shapes(void **state)
{
	struct oc_jobs *j;

	(void)state;
	j = jobs_of("{\"jobs\":\"\"}");
	assert_int_equal(j->njobs, 0);
	assert_int_equal(j->queued, 0);
	oc_jobs_free(j);
	j = jobs_of("{\"jobs\":{\"job\":" JOB(4711, "composer", "QUEUED", "",
	    1.5) "}}");
	assert_int_equal(j->njobs, 1);
	assert_int_equal(j->queued_high_load, 1);
	oc_jobs_free(j);
	/* Old servers: strings for numbers, no jobLoad (counts as 1). */
	j = jobs_of("{\"jobs\":{\"job\":[{\"id\":\"34567\",\"type\":"
	    "\"org.opencastproject.composer\",\"status\":\"RUNNING\","
	    "\"processingHost\":\"http:\\/\\/10.0.0.5\"},{\"id\":\"34568\","
	    "\"type\":\"org.opencastproject.composer\",\"status\":\"QUEUED\","
	    "\"jobLoad\":\"1.5\"}]}}");
	assert_int_equal(j->jobs[0].id, 34567);
	assert_true(j->jobs[0].load == 1.0);
	assert_true(j->jobs[1].load == 1.5);
	assert_int_equal(oc_jobs_running_on(j, "http://10.0.0.5"), 1);
	oc_jobs_free(j);
}

static void
test_active_jobs_errors(void **state)
{
	static const char *const bad[] = {
		"{\"jobs\":{\"job\":[{\"id\":1}]}}",
		"{\"jobs\":{\"job\":[{\"id\":\"x\",\"status\":\"QUEUED\"}]}}",
		"{\"jobs\":{\"job\":{\"status\":\"QUEUED\",\"jobLoad\":[]}}}",
		"{\"jobs\":[]}", "{\"job\":\"\"}", "{\"jobs\":",
		/* Numbers out of any real range (found by fuzz_opencast_msg):
		 * refused before they are cast or summed. */
		"{\"jobs\":{\"job\":{\"id\":1e91,\"status\":\"QUEUED\"}}}",
		"{\"jobs\":{\"job\":{\"id\":\"1e91\",\"status\":\"QUEUED\"}}}",
		"{\"jobs\":{\"job\":{\"id\":1,\"status\":\"QUEUED\","
		    "\"jobLoad\":-5}}}",
		"{\"jobs\":{\"job\":{\"id\":1,\"status\":\"QUEUED\","
		    "\"jobLoad\":1e308}}}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct oc_jobs *j = oc_jobs_new();
		struct oc_error err = { 0 };

		assert_int_equal(oc_parse_active_jobs(bad[i], strlen(bad[i]),
		    &heavy, j, &err), -1);
		assert_int_equal(err.kind, OC_ERR_PARSE);
		assert_true(err.message[0] != '\0');
		oc_jobs_free(j);
	}
}

#define STAT(type, host, running, queued) \
	"{\"meanruntime\":0,\"meanqueuetime\":0,\"finished\":3," \
	"\"running\":" running ",\"queued\":" queued "," \
	"\"serviceRegistration\":{\"type\":\"org.opencastproject." type "\"," \
	"\"host\":\"http://10.0.1." host ":8080\",\"online\":true}}"

static void
test_statistics(void **state)
{
	static const char json[] = "{\"statistics\":{\"service\":["
	    STAT("composer", "11", "2", "5") ","
	    STAT("inspection", "11", "1", "0") ","
	    STAT("composer", "12", "0", "1") ","
	    STAT("workflow", "10", "\"4\"", "\"2\"") "]}}";
	static const char zero[] = "{\"statistics\":{\"service\":"
	    STAT("composer", "11", "0", "0") "}}";
	static const char empty[] = "{\"statistics\":\"\"}";
	static const char noreg[] = "{\"statistics\":{\"service\":"
	    "{\"running\":1}}}";
	struct oc_jobs *j = oc_jobs_new();
	struct oc_error err = { 0 };

	(void)state;
	assert_int_equal(oc_parse_statistics(json, strlen(json), &heavy, j,
	    &err), 0);
	assert_false(j->per_job);
	assert_int_equal(oc_jobs_running_on(j, "http://10.0.1.11:8080"), 3);
	assert_int_equal(oc_jobs_running_on(j, "http://10.0.1.12:8080"), 0);
	assert_int_equal(oc_jobs_running_on(j, "http://10.0.1.10:8080"), 4);
	assert_int_equal(j->running, 7);
	assert_int_equal(j->queued, 8);
	assert_int_equal(j->queued_high_load, 6);
	oc_jobs_free(j);

	j = oc_jobs_new();
	assert_int_equal(oc_parse_statistics(zero, strlen(zero), &heavy, j,
	    &err), 0);
	assert_int_equal(j->running, 0);
	oc_jobs_free(j);
	j = oc_jobs_new();
	assert_int_equal(oc_parse_statistics(empty, strlen(empty), &heavy, j,
	    &err), 0);
	assert_int_equal(j->queued, 0);
	assert_int_equal(oc_parse_statistics(noreg, strlen(noreg), &heavy, j,
	    &err), -1);
	assert_int_equal(err.kind, OC_ERR_PARSE);
	oc_jobs_free(j);
}

/* Counters out of range are refused; many large ones saturate the sums
 * instead of overflowing them. */
static void
test_statistics_ranges(void **state)
{
	static const char huge[] = "{\"statistics\":{\"service\":"
	    STAT("composer", "11", "1e10", "0") "}}";
	static const char negative[] = "{\"statistics\":{\"service\":"
	    STAT("composer", "11", "0", "-1") "}}";
	struct strbuf sb = STRBUF_INIT;
	struct oc_jobs *j;
	struct oc_error err = { 0 };

	(void)state;
	j = oc_jobs_new();
	assert_int_equal(oc_parse_statistics(huge, strlen(huge), &heavy, j,
	    &err), -1);
	assert_int_equal(err.kind, OC_ERR_PARSE);
	assert_int_equal(oc_parse_statistics(negative, strlen(negative),
	    &heavy, j, &err), -1);
	oc_jobs_free(j);
	strbuf_puts(&sb, "{\"statistics\":{\"service\":[");
	for (int i = 0; i < 3000; i++)
		strbuf_printf(&sb, "%s" STAT("composer", "11", "1e6", "1e6"),
		    i ? "," : "");
	strbuf_puts(&sb, "]}}");
	j = oc_jobs_new();
	assert_int_equal(oc_parse_statistics(sb.buf, sb.len, &heavy, j, &err),
	    0);
	assert_int_equal(j->running, INT_MAX);
	assert_int_equal(j->queued, INT_MAX);
	assert_int_equal(oc_jobs_running_on(j, "http://10.0.1.11:8080"),
	    INT_MAX);
	oc_jobs_free(j);
	strbuf_release(&sb);
}

static void
test_me(void **state)
{
	static const char oc[] = "{\"user\":{\"username\":\"opencast_system_"
	    "account\",\"name\":\"System User\"},\"roles\":[\"ROLE_ADMIN\","
	    "\"ROLE_SUDO\"],\"org\":{\"id\":\"mh_default_org\"}}";
	static const char mh1[] = "{\"username\":\"matterhorn_system_account\","
	    "\"roles\":[\"ROLE_ADMIN\"],\"org\":{}}";
	static const char anon[] = "{\"user\":{\"username\":\"anonymous\"},"
	    "\"roles\":[\"ROLE_ANONYMOUS\"]}";
	static const char noadmin[] = "{\"user\":{\"username\":\"u\"},"
	    "\"roles\":[\"ROLE_USER\"]}";
	struct oc_error err = { 0 };

	(void)state;
	assert_int_equal(oc_parse_me(oc, strlen(oc),
	    "opencast_system_account", &err), 0);
	assert_int_equal(oc_parse_me(mh1, strlen(mh1),
	    "matterhorn_system_account", &err), 0);
	assert_int_equal(oc_parse_me(anon, strlen(anon), "u", &err), -1);
	assert_int_equal(err.kind, OC_ERR_AUTH);
	assert_non_null(strstr(err.message, "anonymous"));
	assert_int_equal(oc_parse_me(oc, strlen(oc), "admin", &err), -1);
	assert_int_equal(err.kind, OC_ERR_AUTH);
	assert_int_equal(oc_parse_me(noadmin, strlen(noadmin), "u", &err), -1);
	assert_non_null(strstr(err.message, "ROLE_ADMIN"));
	assert_int_equal(oc_parse_me("{}", 2, "u", &err), -1);
	assert_int_equal(err.kind, OC_ERR_PARSE);
}

static void
test_url_host(void **state)
{
	char buf[128];

	(void)state;
	assert_int_equal(oc_url_host("http://10.0.1.5:8080", buf,
	    sizeof(buf)), 0);
	assert_string_equal(buf, "10.0.1.5");
	assert_int_equal(oc_url_host("https://Admin.Example.ORG/", buf,
	    sizeof(buf)), 0);
	assert_string_equal(buf, "admin.example.org");
	assert_int_equal(oc_url_host("not a url", buf, sizeof(buf)), -1);
	/* libcurl decodes %XX in a host; a byte that is not text is no host
	 * (found by fuzz_opencast_msg). */
	assert_int_equal(oc_url_host("http://worker%ec.example:8080", buf,
	    sizeof(buf)), -1);
	assert_int_equal(oc_url_host("http://worker%c3%a9.example:8080", buf,
	    sizeof(buf)), 0);
}

static void
test_map(void **state)
{
	struct oc_hosts *h = hosts_of("{\"hosts\":{\"host\":["
	    "{\"base_url\":\"http://10.0.1.10:8080\"},"
	    "{\"base_url\":\"https://ec2-203-0-113-7.compute.amazonaws.com\"},"
	    "{\"base_url\":\"http://opencast-w2.internal:8080\","
	    "\"address\":\"10.0.1.12\"},"
	    "{\"base_url\":\"http://ip-10-0-1-13.ec2.internal\"},"
	    "{\"base_url\":\"http://engage.example.org\"}]}}");
	struct oc_map_instance inst[] = {
		{ "10.0.1.10", NULL, NULL, NULL, true },		/* admin */
		{ "10.0.1.11", "203.0.113.7", NULL,
		    "ec2-203-0-113-7.compute.amazonaws.com", true },
		{ "10.0.1.12", NULL, NULL, NULL, true },	/* by address */
		{ "10.0.1.13", NULL, "ip-10-0-1-13.ec2.internal", NULL, true },
		{ "10.0.1.14", NULL, NULL, NULL, true },	/* engage */
		{ "10.0.1.20", NULL, NULL, NULL, false },	/* db */
	};
	int host_of[6];
	struct oc_map_result r;

	(void)state;
	oc_map(inst, 6, h, host_of, &r);
	assert_int_equal(host_of[0], 0);
	assert_int_equal(host_of[1], 1);
	assert_int_equal(host_of[2], 2);
	assert_int_equal(host_of[3], 3);
	/* Exactly one of each left: paired (typically the engage node). */
	assert_true(r.paired);
	assert_int_equal(host_of[4], 4);
	assert_int_equal(r.paired_instance, 4);
	assert_int_equal(host_of[5], -1);
	assert_int_equal(r.unmapped_instances, 0);
	assert_int_equal(r.unmapped_hosts, 0);
	oc_hosts_free(h);
}

static void
test_map_ambiguous(void **state)
{
	struct oc_hosts *h = hosts_of("{\"hosts\":{\"host\":["
	    "{\"base_url\":\"http://10.0.1.10:8080\"},"
	    "{\"base_url\":\"http://engage.example.org\"},"
	    "{\"base_url\":\"http://other.example.org\"}]}}");
	struct oc_map_instance inst[] = {
		{ "10.0.1.10", NULL, NULL, NULL, true },
		{ "10.0.1.14", NULL, NULL, NULL, true },
		{ "10.0.1.15", NULL, NULL, NULL, true },
	};
	int host_of[3];
	struct oc_map_result r;

	(void)state;
	oc_map(inst, 3, h, host_of, &r);
	assert_int_equal(host_of[0], 0);
	assert_int_equal(host_of[1], -1);
	assert_int_equal(host_of[2], -1);
	assert_false(r.paired);
	assert_int_equal(r.unmapped_instances, 2);
	assert_int_equal(r.unmapped_hosts, 2);
	oc_hosts_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hosts_array),
		cmocka_unit_test(test_hosts_single_and_empty),
		cmocka_unit_test(test_hosts_errors),
		cmocka_unit_test(test_active_jobs_aggregation),
		cmocka_unit_test(test_active_jobs_shapes),
		cmocka_unit_test(test_active_jobs_errors),
		cmocka_unit_test(test_statistics),
		cmocka_unit_test(test_statistics_ranges),
		cmocka_unit_test(test_me),
		cmocka_unit_test(test_url_host),
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_map_ambiguous),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
