/* Opencast answers in every shape real versions produce (reference §2):
 * arrays, one-element objects, "" for empty lists, string numbers and
 * booleans, Matterhorn 1.x fields; job aggregation; host mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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
	/* Jobs 1 and 3: composer; 7 is a workflow, 2 only DISPATCHING. */
	assert_int_equal(j->running_high_load, 2);
	assert_true(j->running_high_load_load > 3.49 &&
	    j->running_high_load_load < 3.51);
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
	/* composer 2 + inspection 1; the workflow runs are not heavy. */
	assert_int_equal(j->running_high_load, 3);
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

/* The mapping as it was written before it was made O(n log n): for each
 * instance in turn, the first host in list order that no earlier instance
 * took and whose host part (or address) matches, without case.  oc_map()
 * must give exactly what this gives. */
static bool
ref_same(const char *a, const char *b)
{
	return a && b && *a && strcasecmp(a, b) == 0;
}

static void
ref_map(const struct oc_map_instance *inst, size_t n,
    const struct oc_hosts *hosts, int *host_of, struct oc_map_result *res)
{
	bool used[64] = { false };
	char hp[64][256];
	size_t li = 0, lh = 0;
	int last_i = -1, last_h = -1;

	memset(res, 0, sizeof(*res));
	res->paired_instance = res->paired_host = -1;
	for (size_t h = 0; h < hosts->n; h++)
		if (oc_url_host(hosts->v[h].base_url, hp[h], sizeof(hp[h])))
			hp[h][0] = '\0';
	for (size_t i = 0; i < n; i++) {
		host_of[i] = -1;
		for (size_t h = 0; h < hosts->n && host_of[i] < 0; h++) {
			if (!used[h] && (ref_same(inst[i].private_ip, hp[h]) ||
			    ref_same(inst[i].public_dns, hp[h]) ||
			    ref_same(inst[i].private_dns, hp[h]) ||
			    ref_same(inst[i].public_ip, hp[h]) ||
			    ref_same(inst[i].private_ip,
			    hosts->v[h].address))) {
				host_of[i] = (int)h;
				used[h] = true;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		if (inst[i].opencast && host_of[i] < 0) {
			li++;
			last_i = (int)i;
		}
	for (size_t h = 0; h < hosts->n; h++)
		if (!used[h]) {
			lh++;
			last_h = (int)h;
		}
	if (li == 1 && lh == 1) {
		host_of[last_i] = last_h;
		res->paired = true;
		res->paired_instance = last_i;
		res->paired_host = last_h;
		li = lh = 0;
	}
	res->unmapped_instances = li;
	res->unmapped_hosts = lh;
}

static unsigned
rnd(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 16) & 0x7fff;
}

/* A name from a small pool, so that collisions, duplicates and case
 * differences are common; sometimes NULL or "". */
static const char *
pick_name(unsigned *s, char *buf, size_t len)
{
	static const char *const pool[] = {
		"10.0.1.1", "10.0.1.2", "10.0.1.3", "ip-10-0-1-4.ec2.internal",
		"Ip-10-0-1-4.EC2.internal", "ec2-1-2-3-4.compute.amazonaws.com",
		"engage.example.org", "ENGAGE.example.org", "203.0.113.9",
	};
	unsigned k = rnd(s) % 11;

	if (k == 9)
		return NULL;
	if (k == 10)
		return "";
	snprintf(buf, len, "%s", pool[k]);
	if (rnd(s) % 3 == 0)
		for (char *p = buf; *p; p++)
			if (*p >= 'a' && *p <= 'z' && rnd(s) % 2)
				*p = (char)(*p - 'a' + 'A');
	return buf;
}

static void
test_map_matches_reference(void **state)
{
	unsigned seed = 7;
	size_t matched = 0, paired = 0;

	(void)state;
	for (int round = 0; round < 3000; round++) {
		struct strbuf js = STRBUF_INIT;
		char names[40][4][64], urlbuf[64], addr[64];
		struct oc_map_instance inst[40];
		int got[40], want[40];
		struct oc_map_result gr, wr;
		size_t n = rnd(&seed) % 12, nh = rnd(&seed) % 12;
		struct oc_hosts *h;

		strbuf_puts(&js, "{\"hosts\":{\"host\":[");
		for (size_t k = 0; k < nh; k++) {
			const char *name = pick_name(&seed, urlbuf,
			    sizeof(urlbuf));
			const char *a = pick_name(&seed, addr, sizeof(addr));
			unsigned form = rnd(&seed) % 5;

			strbuf_printf(&js, "%s{\"base_url\":\"%s%s%s\"", k ?
			    "," : "", form == 4 ? "not a url " : form == 3 ?
			    "https://" : "http://", name ? name : "x",
			    form == 1 ? ":8080" : form == 2 ? "/path" : "");
			if (a && rnd(&seed) % 2)
				strbuf_printf(&js, ",\"address\":\"%s\"", a);
			strbuf_puts(&js, "}");
		}
		strbuf_puts(&js, "]}}");
		h = nh ? hosts_of(js.buf) : oc_hosts_new();
		for (size_t i = 0; i < n; i++) {
			const char **f[4] = { &inst[i].private_ip,
			    &inst[i].public_ip, &inst[i].private_dns,
			    &inst[i].public_dns };

			for (int k = 0; k < 4; k++)
				*f[k] = pick_name(&seed, names[i][k], 64);
			inst[i].opencast = rnd(&seed) % 4 != 0;
		}
		for (int pass = 0; pass < 2; pass++) {
			/* Pass 1: a list built by hand, host parts not read. */
			if (pass == 1)
				for (size_t k = 0; k < h->n; k++)
					h->v[k].url_host = NULL;
			oc_map(inst, n, h, got, &gr);
			ref_map(inst, n, h, want, &wr);
			assert_memory_equal(got, want, n * sizeof(int));
			assert_int_equal(gr.paired, wr.paired);
			assert_int_equal(gr.paired_instance, wr.paired_instance);
			assert_int_equal(gr.paired_host, wr.paired_host);
			assert_int_equal(gr.unmapped_instances,
			    wr.unmapped_instances);
			assert_int_equal(gr.unmapped_hosts, wr.unmapped_hosts);
		}
		for (size_t i = 0; i < n; i++)
			matched += got[i] >= 0;
		paired += gr.paired;
		oc_hosts_free(h);
		strbuf_release(&js);
	}
	/* The rounds did exercise the matching, not only empty lists. */
	assert_true(matched > 3000);
	assert_true(paired > 20);
}

static void
test_hosts_url_host_read_once(void **state)
{
	struct oc_hosts *h = hosts_of("{\"hosts\":{\"host\":["
	    "{\"base_url\":\"HTTP://Node-1.Example.ORG:8080/x\"},"
	    "{\"base_url\":\"no url\"}]}}");

	(void)state;
	assert_string_equal(h->v[0].url_host, "node-1.example.org");
	assert_string_equal(h->v[1].url_host, "");
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
		cmocka_unit_test(test_map_matches_reference),
		cmocka_unit_test(test_hosts_url_host_read_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
