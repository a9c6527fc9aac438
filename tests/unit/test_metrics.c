/* The metrics registry and the Prometheus text exposition encoder
 * (daemon/metrics.c): escaping, cumulative histogram buckets with +Inf,
 * values, the decision reason labels and the listen address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/metrics.h"

static int
teardown(void **state)
{
	(void)state;
	metrics_reset();
	return 0;
}

/* The line of text that starts with prefix, or NULL. */
static const char *
line_of(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *p = text; p && *p; p = strchr(p, '\n'),
	    p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, n) == 0)
			return p;
	return NULL;
}

static void
assert_line(const char *text, const char *line)
{
	const char *p = line_of(text, line);

	if (p == NULL)
		fail_msg("no line \"%s\" in:\n%s", line, text);
	assert_true(p[strlen(line)] == '\n');
}

static void
test_label_escaping(void **state)
{
	struct strbuf out = STRBUF_INIT;
	const char *names[] = { "cluster", "call" };
	const char *values[] = { "a\"b\\c\nd", "caf\xc3\xa9 \xff" };

	(void)state;
	metrics_write_sample(&out, "ec2m_x", names, values, 2, 3);
	/* ", \ and newline escaped; the invalid byte is U+FFFD, valid UTF-8
	 * is kept. */
	assert_string_equal(strbuf_str(&out),
	    "ec2m_x{cluster=\"a\\\"b\\\\c\\nd\",call=\"caf\xc3\xa9 "
	    "\xef\xbf\xbd\"} 3\n");
	strbuf_release(&out);
}

static void
test_help_escaping(void **state)
{
	struct strbuf out = STRBUF_INIT;

	(void)state;
	/* In HELP, \ and newline are escaped but " is not. */
	metrics_write_header(&out, "ec2m_y", "say \"hi\"\\\nnow", "gauge");
	assert_string_equal(strbuf_str(&out),
	    "# HELP ec2m_y say \"hi\"\\\\\\nnow\n# TYPE ec2m_y gauge\n");
	strbuf_release(&out);
}

static void
test_values(void **state)
{
	struct strbuf out = STRBUF_INIT;

	(void)state;
	metrics_write_value(&out, 42);
	strbuf_putc(&out, ' ');
	metrics_write_value(&out, 0.25);
	strbuf_putc(&out, ' ');
	metrics_write_value(&out, INFINITY);
	strbuf_putc(&out, ' ');
	metrics_write_value(&out, -INFINITY);
	strbuf_putc(&out, ' ');
	metrics_write_value(&out, NAN);
	strbuf_putc(&out, ' ');
	metrics_write_value(&out, 1764800000.5);
	assert_string_equal(strbuf_str(&out),
	    "42 0.25 +Inf -Inf NaN 1764800000.5");
	strbuf_release(&out);
}

static void
test_sample_without_labels(void **state)
{
	struct strbuf out = STRBUF_INIT;

	(void)state;
	metrics_write_sample(&out, "ec2m_z", NULL, NULL, 0, 7);
	assert_string_equal(strbuf_str(&out), "ec2m_z 7\n");
	strbuf_release(&out);
}

static void
test_histogram_cumulative(void **state)
{
	struct strbuf out = STRBUF_INIT;
	const char *text;

	(void)state;
	/* Latency buckets: ... 0.05 0.1 0.25 0.5 1 2.5 5 10 30. */
	metrics_upstream_request("ec2", "DescribeInstances", "ok", 0.07);
	metrics_upstream_request("ec2", "DescribeInstances", "ok", 0.1);
	metrics_upstream_request("ec2", "DescribeInstances", "5xx", 0.3);
	metrics_upstream_request("ec2", "DescribeInstances", "timeout", 99);
	/* A cancelled try is counted but not timed. */
	metrics_upstream_request("ec2", "DescribeInstances", "cancelled", 5);
	metrics_write_registry(&out);
	text = strbuf_str(&out);
	assert_line(text, "# TYPE ec2m_upstream_request_duration_seconds "
	    "histogram");
#define B(le) "ec2m_upstream_request_duration_seconds_bucket{service=" \
	"\"ec2\",call=\"DescribeInstances\",le=\"" le "\"}"
	assert_line(text, B("0.05") " 0");
	/* 0.1 is in the bucket le="0.1" (upper bounds are inclusive). */
	assert_line(text, B("0.1") " 2");
	assert_line(text, B("0.25") " 2");
	assert_line(text, B("0.5") " 3");
	assert_line(text, B("30") " 3");
	assert_line(text, B("+Inf") " 4");
#undef B
	assert_line(text, "ec2m_upstream_request_duration_seconds_count{"
	    "service=\"ec2\",call=\"DescribeInstances\"} 4");
	assert_line(text, "ec2m_upstream_request_duration_seconds_sum{"
	    "service=\"ec2\",call=\"DescribeInstances\"} 99.47");
	assert_line(text, "ec2m_upstream_requests_total{service=\"ec2\","
	    "call=\"DescribeInstances\",outcome=\"ok\"} 2");
	assert_line(text, "ec2m_upstream_requests_total{service=\"ec2\","
	    "call=\"DescribeInstances\",outcome=\"cancelled\"} 1");
	/* The bucket lines come before +Inf, _sum and _count, in order. */
	assert_true(strstr(text, "le=\"0.005\"") < strstr(text, "le=\"30\""));
	assert_true(strstr(text, "le=\"30\"") < strstr(text, "le=\"+Inf\""));
	strbuf_release(&out);
}

static void
test_families_once(void **state)
{
	struct strbuf out = STRBUF_INIT;
	const char *text, *p;
	int n = 0;

	(void)state;
	metrics_operation("dev04", "scale_up", "succeeded", false, 12);
	metrics_operation("dev05", "scale_up", "failed", false, 3);
	metrics_operation("dev04", "scale_up", "succeeded", true, 1);
	metrics_write_registry(&out);
	text = strbuf_str(&out);
	for (p = text; (p = strstr(p, "# TYPE ec2m_operations_total ")); p++)
		n++;
	assert_int_equal(n, 1);
	assert_line(text, "ec2m_operations_total{cluster=\"dev04\","
	    "kind=\"scale_up\",outcome=\"succeeded\",dry_run=\"false\"} 1");
	assert_line(text, "ec2m_operations_total{cluster=\"dev04\","
	    "kind=\"scale_up\",outcome=\"succeeded\",dry_run=\"true\"} 1");
	/* Dry runs are not timed. */
	assert_line(text, "ec2m_operation_duration_seconds_count{cluster="
	    "\"dev04\",kind=\"scale_up\"} 1");
	/* A family without series still has its HELP and TYPE. */
	assert_non_null(line_of(text, "# TYPE ec2m_upstream_retries_total "
	    "counter"));
	/* Counters never go down. */
	metrics_add(MF_DECISIONS, NULL, -1);
	assert_true(metrics_get(MF_DECISIONS, NULL) == 0);
	strbuf_release(&out);
}

static void
test_forget_cluster(void **state)
{
	const char *a[] = { "dev04", "ec2" }, *b[] = { "dev05", "ec2" };

	(void)state;
	metrics_refresh_failed("dev04", "ec2");
	metrics_refresh_failed("dev04", "ec2");
	metrics_refresh_failed("dev05", "ec2");
	assert_true(metrics_get(MF_REFRESH_FAILURES, a) == 2);
	metrics_forget_cluster("dev04");
	assert_true(metrics_get(MF_REFRESH_FAILURES, a) == 0);
	assert_true(metrics_get(MF_REFRESH_FAILURES, b) == 1);
}

static const char *
reason_of(const char *json)
{
	static char buf[64];
	json_t *d = json_loads(json, 0, NULL);

	assert_non_null(d);
	strcpy(buf, metrics_decision_reason(d));
	json_decref(d);
	return buf;
}

static void
test_decision_reasons(void **state)
{
	(void)state;
	assert_string_equal(reason_of("{\"ran\":false,\"action\":\"none\"}"),
	    "autoscale_off");
	assert_string_equal(reason_of("{\"ran\":false,\"inputs\":{"
	    "\"disabled_reason\":null,\"admin_running\":false}}"),
	    "admin_not_running");
	assert_string_equal(reason_of("{\"ran\":false,\"inputs\":{"
	    "\"disabled_reason\":null,\"admin_running\":true,"
	    "\"opencast_reachable\":false}}"), "opencast_unreachable");
	assert_string_equal(reason_of("{\"ran\":false,\"inputs\":{"
	    "\"disabled_reason\":null,\"admin_running\":true,"
	    "\"opencast_reachable\":true}}"), "no_fresh_data");
	assert_string_equal(reason_of("{\"ran\":true,\"action\":\"none\","
	    "\"inputs\":{\"cooldown_left_s\":30}}"), "cooldown");
	assert_string_equal(reason_of("{\"ran\":true,\"action\":\"scale_up\","
	    "\"inputs\":{\"cooldown_left_s\":null}}"), "queued_jobs");
	assert_string_equal(reason_of("{\"ran\":true,\"action\":"
	    "\"scale_down\",\"inputs\":{}}"), "idle_workers");
	assert_string_equal(reason_of("{\"ran\":true,\"action\":\"scale_up\","
	    "\"carried_out\":false}"), "not_carried_out");
	assert_string_equal(reason_of("{\"ran\":true,\"action\":\"scale_up\","
	    "\"demand\":{}}"), "demand");
	assert_string_equal(reason_of("{\"ran\":true,\"action\":\"none\","
	    "\"warning\":true,\"inputs\":{}}"), "limit");
	assert_string_equal(reason_of("{\"ran\":true,\"action\":\"none\","
	    "\"inputs\":{\"cooldown_left_s\":null}}"), "no_change");
	metrics_decision("dev04", NULL);
}

static void
test_http_outcome(void **state)
{
	(void)state;
	assert_string_equal(metrics_http_outcome(200, true, false, false),
	    "ok");
	assert_string_equal(metrics_http_outcome(412, true, false, false),
	    "4xx");
	assert_string_equal(metrics_http_outcome(503, true, false, false),
	    "5xx");
	assert_string_equal(metrics_http_outcome(0, false, true, false),
	    "timeout");
	assert_string_equal(metrics_http_outcome(0, false, false, false),
	    "error");
	assert_string_equal(metrics_http_outcome(0, false, false, true),
	    "cancelled");
}

static void
test_parse_listen(void **state)
{
	struct sockaddr_storage ss;
	char why[256];

	(void)state;
	assert_int_equal(metrics_parse_listen("127.0.0.1:9780", &ss, why,
	    sizeof(why)), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9780);
	assert_int_equal(metrics_parse_listen("[::1]:9100", &ss, why,
	    sizeof(why)), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port),
	    9100);
	assert_int_equal(metrics_parse_listen("localhost:9780", &ss, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "not an IPv4 address"));
	assert_int_equal(metrics_parse_listen("127.0.0.1:0", &ss, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "1 to 65535"));
	assert_int_equal(metrics_parse_listen("127.0.0.1:65536", &ss, why,
	    sizeof(why)), -1);
	assert_int_equal(metrics_parse_listen("127.0.0.1", &ss, why,
	    sizeof(why)), -1);
	assert_int_equal(metrics_parse_listen("::1:9780", &ss, why,
	    sizeof(why)), -1);
	assert_int_equal(metrics_parse_listen("[::1:9780", &ss, why,
	    sizeof(why)), -1);
	assert_int_equal(metrics_parse_listen(":9780", &ss, why,
	    sizeof(why)), -1);
	assert_int_equal(metrics_parse_listen("127.0.0.1:97x", &ss, why,
	    sizeof(why)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_label_escaping, teardown),
		cmocka_unit_test_teardown(test_help_escaping, teardown),
		cmocka_unit_test_teardown(test_values, teardown),
		cmocka_unit_test_teardown(test_sample_without_labels, teardown),
		cmocka_unit_test_teardown(test_histogram_cumulative, teardown),
		cmocka_unit_test_teardown(test_families_once, teardown),
		cmocka_unit_test_teardown(test_forget_cluster, teardown),
		cmocka_unit_test_teardown(test_decision_reasons, teardown),
		cmocka_unit_test_teardown(test_http_outcome, teardown),
		cmocka_unit_test_teardown(test_parse_listen, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
