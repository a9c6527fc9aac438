/* EC2 request parameters and XML answers: multi-reservation and
 * multi-page describes, minimal answers, start/stop, the error envelope,
 * and garbage or truncated XML. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "common/utf8.h"
#include "daemon/ec2_msg.h"

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void
test_build_describe(void **state)
{
	struct aws_params p = { 0 };
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	ec2_build_describe(&p, "dev04", 1000, NULL);
	aws_params_encode(&p, &sb);
	assert_string_equal(strbuf_str(&sb),
	    "Action=DescribeInstances&Filter.1.Name=tag%3AName&"
	    "Filter.1.Value.1=dev04-%2A&MaxResults=1000&Version=2016-11-15");
	strbuf_release(&sb);
	aws_params_free(&p);

	/* Wildcards in a prefix are escaped; the token is passed on. */
	ec2_build_describe(&p, "a*b?c\\", 5, "tok/1");
	aws_params_encode(&p, &sb);
	assert_non_null(strstr(strbuf_str(&sb),
	    "Filter.1.Value.1=a%5C%2Ab%5C%3Fc%5C%5C-%2A"));
	assert_non_null(strstr(strbuf_str(&sb), "NextToken=tok%2F1"));
	assert_non_null(strstr(strbuf_str(&sb), "MaxResults=5"));
	strbuf_release(&sb);
	aws_params_free(&p);
}

static void
test_build_start_stop(void **state)
{
	const char *ids[] = { "i-1", "i-2", "i-3" };
	struct aws_params p = { 0 };
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	ec2_build_start_stop(&p, true, ids, 3, false);
	aws_params_encode(&p, &sb);
	assert_string_equal(strbuf_str(&sb), "Action=StartInstances&"
	    "InstanceId.1=i-1&InstanceId.2=i-2&InstanceId.3=i-3&"
	    "Version=2016-11-15");
	strbuf_release(&sb);
	aws_params_free(&p);
	ec2_build_start_stop(&p, false, ids, 1, true);
	aws_params_encode(&p, &sb);
	assert_string_equal(strbuf_str(&sb), "Action=StopInstances&"
	    "DryRun=true&InstanceId.1=i-1&Version=2016-11-15");
	strbuf_release(&sb);
	aws_params_free(&p);
}

static void
test_parse_multi_reservation(void **state)
{
	struct ec2_instance_list *l = ec2_instance_list_new();
	struct aws_error err;
	const struct ec2_instance *a, *b, *c;
	char *next = NULL, *xml;
	size_t len;

	(void)state;
	aws_error_clear(&err);
	xml = slurp("data/describe_multi.xml", &len);
	assert_int_equal(ec2_parse_describe(xml, len, l, &next, &err), 0);
	/* The terminated instance is dropped. */
	assert_int_equal(l->n, 3);
	assert_string_equal(next, "eyJ2IjoiMiJ9EXAMPLE");

	a = &l->v[0];
	assert_string_equal(a->id, "i-0abc1234def567890");
	assert_string_equal(a->name, "dev04-worker");
	assert_int_equal(a->state, EC2_STATE_RUNNING);
	assert_string_equal(a->instance_type, "c5.xlarge");
	/* The primary private IP, not the ENI's secondary one. */
	assert_string_equal(a->private_ip, "10.0.1.23");
	assert_string_equal(a->public_ip, "203.0.113.10");
	assert_string_equal(a->private_dns,
	    "ip-10-0-1-23.eu-west-1.compute.internal");
	assert_string_equal(a->public_dns,
	    "ec2-203-0-113-10.eu-west-1.compute.amazonaws.com");
	assert_int_equal(a->launch_time_ms, 1705305731000LL);
	assert_int_equal(a->ntags, 3);
	assert_string_equal(ec2_instance_tag(a, "hold"), "");
	assert_string_equal(ec2_instance_tag(a, "owner"), "media & video");
	assert_null(ec2_instance_tag(a, "Hold"));

	b = &l->v[1];
	assert_string_equal(b->id, "i-0fff000000000beef");
	/* code 336 = 0x150: the high byte is internal. */
	assert_int_equal(b->state, EC2_STATE_STOPPED);
	assert_null(b->public_ip);
	assert_null(b->public_dns);
	assert_string_equal(b->name, "dev04-admin");
	assert_string_equal(ec2_instance_tag(b, "autoscale"), "OFF");

	c = &l->v[2];
	assert_int_equal(c->state, EC2_STATE_PENDING);
	assert_string_equal(c->name, "");
	assert_int_equal(c->ntags, 0);
	assert_null(c->private_ip);
	assert_int_equal(c->launch_time_ms, 0);

	free(next);
	free(xml);
	ec2_instance_list_free(l);
}

static void
test_parse_pages_accumulate(void **state)
{
	struct ec2_instance_list *l = ec2_instance_list_new();
	struct aws_error err;
	char *next = NULL, *xml;
	size_t len;

	(void)state;
	aws_error_clear(&err);
	/* An empty page may still carry a token. */
	xml = slurp("data/describe_empty_page_token.xml", &len);
	assert_int_equal(ec2_parse_describe(xml, len, l, &next, &err), 0);
	assert_int_equal(l->n, 0);
	assert_string_equal(next, "tok2");
	free(next);
	free(xml);
	xml = slurp("data/describe_multi.xml", &len);
	assert_int_equal(ec2_parse_describe(xml, len, l, &next, &err), 0);
	free(next);
	assert_int_equal(ec2_parse_describe(xml, len, l, &next, &err), 0);
	assert_int_equal(l->n, 6);
	/* Earlier pages' strings survive the growth of the array. */
	assert_string_equal(l->v[0].name, "dev04-worker");
	assert_string_equal(l->v[4].name, "dev04-admin");
	free(next);
	free(xml);
	xml = slurp("data/describe_empty.xml", &len);
	assert_int_equal(ec2_parse_describe(xml, len, l, &next, &err), 0);
	assert_null(next);
	assert_int_equal(l->n, 6);
	free(xml);
	ec2_instance_list_free(l);
}

static void
expect_parse_error(const char *xml, size_t len, const char *needle)
{
	struct ec2_instance_list *l = ec2_instance_list_new();
	struct aws_error err;
	char *next = NULL;

	aws_error_clear(&err);
	assert_int_equal(ec2_parse_describe(xml, len, l, &next, &err), -1);
	assert_int_equal(err.kind, AWS_ERR_PARSE);
	assert_null(next);
	if (strstr(err.message, needle) == NULL)
		fail_msg("\"%s\" not in \"%s\"", needle, err.message);
	ec2_instance_list_free(l);
}

static void
expect_parse_error_str(const char *xml, const char *needle)
{
	expect_parse_error(xml, strlen(xml), needle);
}

static void
test_garbage_and_truncated(void **state)
{
	char *xml;
	size_t len;

	(void)state;
	expect_parse_error("", 0, "malformed XML");
	expect_parse_error_str("not xml at all", "malformed XML");
	expect_parse_error_str("<html><body>502 Bad Gateway</body></html>",
	    "unexpected <html>");
	expect_parse_error("\xff\xfe<\x00", 4, "malformed XML");
	expect_parse_error_str("<DescribeInstancesResponse><reservationSet>"
	    "<item><instancesSet><item><instanceState><code>16</code>"
	    "</instanceState></item></instancesSet></item></reservationSet>"
	    "</DescribeInstancesResponse>", "without instanceId");
	xml = slurp("data/describe_multi.xml", &len);
	/* Every truncation is an error, never a crash or a partial list. */
	for (size_t cut = 1; cut < len - 30; cut += 37)
		expect_parse_error(xml, cut, "malformed XML");
	free(xml);
}

/* libxml2 quotes a tag name in its error text, raw bytes included: the
 * message that reaches status must still be valid UTF-8. */
static void
test_error_text_is_utf8(void **state)
{
	static const char *const bodies[] = {
		"<Response><r\xe9s></x></Response>",
		"<DescribeInstancesResponse><r\xe9" "servationSet></item>"
		    "</DescribeInstancesResponse>",
		"<a\xe6\x97></b>",
	};
	struct ec2_instance_list *l;
	struct aws_error err;
	char *next = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		l = ec2_instance_list_new();
		memset(&err, 0, sizeof(err));
		assert_int_equal(ec2_parse_describe(bodies[i],
		    strlen(bodies[i]), l, &next, &err), -1);
		assert_non_null(strstr(err.message, "malformed XML"));
		assert_true(utf8_valid(err.message, strlen(err.message)));
		ec2_instance_list_free(l);
		ec2_parse_error(bodies[i], strlen(bodies[i]), 500, &err);
		assert_true(utf8_valid(err.message, strlen(err.message)));
		assert_true(utf8_valid(err.code, strlen(err.code)));
	}
	/* The first one's text names the tag: the byte became U+FFFD. */
	l = ec2_instance_list_new();
	ec2_parse_describe(bodies[0], strlen(bodies[0]), l, &next, &err);
	assert_non_null(strstr(err.message, "r" UTF8_REPLACEMENT "s"));
	ec2_instance_list_free(l);
}

static void
test_parse_state_changes(void **state)
{
	struct ec2_state_changes *ch = ec2_state_changes_new();
	struct aws_error err;
	char *xml;
	size_t len;

	(void)state;
	aws_error_clear(&err);
	xml = slurp("data/start_instances.xml", &len);
	assert_int_equal(ec2_parse_state_changes(xml, len, ch, &err), 0);
	assert_int_equal(ch->n, 2);
	assert_string_equal(ch->v[0].id, "i-0abc1234def567890");
	assert_int_equal(ch->v[0].previous, EC2_STATE_STOPPED);
	assert_int_equal(ch->v[0].current, EC2_STATE_PENDING);
	assert_int_equal(ch->v[1].current, EC2_STATE_RUNNING);
	free(xml);
	ec2_state_changes_free(ch);

	ch = ec2_state_changes_new();
	xml = slurp("data/stop_instances.xml", &len);
	assert_int_equal(ec2_parse_state_changes(xml, len, ch, &err), 0);
	assert_int_equal(ch->n, 1);
	assert_int_equal(ch->v[0].current, EC2_STATE_STOPPING);
	/* A describe answer is not a start/stop answer. */
	free(xml);
	xml = slurp("data/describe_empty.xml", &len);
	assert_int_equal(ec2_parse_state_changes(xml, len, ch, &err), -1);
	assert_int_equal(err.kind, AWS_ERR_PARSE);
	free(xml);
	ec2_state_changes_free(ch);
}

static void
test_parse_error_envelope(void **state)
{
	struct aws_error err;
	char *xml;
	size_t len;

	(void)state;
	aws_error_clear(&err);
	xml = slurp("data/error_envelope.xml", &len);
	ec2_parse_error(xml, len, 400, &err);
	assert_int_equal(err.kind, AWS_ERR_SERVICE);
	assert_int_equal(err.http_status, 400);
	assert_string_equal(err.code, "InvalidInstanceID.NotFound");
	assert_string_equal(err.message,
	    "The instance ID 'i-0123456789abcdef0' does not exist");
	assert_string_equal(err.request_id,
	    "2c3b4a59-1111-2222-3333-444455556666");
	free(xml);

	/* A proxy's HTML page or nothing at all still gives a message. */
	aws_error_clear(&err);
	ec2_parse_error("<html>oops", 10, 502, &err);
	assert_int_equal(err.kind, AWS_ERR_SERVICE);
	assert_string_equal(err.code, "");
	assert_string_equal(err.message,
	    "HTTP 502 without an EC2 error document");
	aws_error_clear(&err);
	ec2_parse_error("", 0, 503, &err);
	assert_int_equal(err.http_status, 503);
}

static void
test_state_names(void **state)
{
	(void)state;
	assert_string_equal(ec2_state_name(EC2_STATE_SHUTTING_DOWN),
	    "shutting-down");
	assert_int_equal(ec2_state_from_name("stopping"), EC2_STATE_STOPPING);
	assert_int_equal(ec2_state_from_name("bogus"), EC2_STATE_UNKNOWN);
	assert_string_equal(ec2_state_name(EC2_STATE_UNKNOWN), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_describe),
		cmocka_unit_test(test_build_start_stop),
		cmocka_unit_test(test_parse_multi_reservation),
		cmocka_unit_test(test_parse_pages_accumulate),
		cmocka_unit_test(test_garbage_and_truncated),
		cmocka_unit_test(test_error_text_is_utf8),
		cmocka_unit_test(test_parse_state_changes),
		cmocka_unit_test(test_parse_error_envelope),
		cmocka_unit_test(test_state_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
