/* SigV4 against the worked example of the reference (§1.5, computed with
 * botocore) and the published AWS test-suite vectors (§1.6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "daemon/sigv4.h"

#define EX_AK "AKIDEXAMPLEDAEMON001"
#define EX_SK "dmVyeS1zZWNyZXQta2V5/EXAMPLE+not+real0001"
#define EX_BODY "Action=DescribeInstances&Filter.1.Name=tag%3AName&" \
	"Filter.1.Value.1=web-%2A&Filter.2.Name=instance-state-name&" \
	"Filter.2.Value.1=running&MaxResults=50&Version=2016-11-15"
#define EX_CT "application/x-www-form-urlencoded; charset=utf-8"

static struct sigv4_input
example_input(void)
{
	struct sigv4_input in = {
		.method = "POST", .host = "ec2.eu-west-1.amazonaws.com",
		.path = "/", .query = "", .content_type = EX_CT,
		.body = EX_BODY, .body_len = strlen(EX_BODY),
		.amz_date = "20240115T093000Z", .region = "eu-west-1",
		.service = "ec2", .access_key_id = EX_AK,
		.secret_access_key = EX_SK,
	};
	return in;
}

static void
test_params_encode_matches_example_body(void **state)
{
	struct aws_params p = { 0 };
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	/* Deliberately unsorted. */
	aws_params_add(&p, "Version", "2016-11-15");
	aws_params_add(&p, "MaxResults", "50");
	aws_params_add(&p, "Filter.2.Value.1", "running");
	aws_params_add(&p, "Action", "DescribeInstances");
	aws_params_add(&p, "Filter.1.Value.1", "web-*");
	aws_params_add(&p, "Filter.2.Name", "instance-state-name");
	aws_params_add(&p, "Filter.1.Name", "tag:Name");
	aws_params_encode(&p, &sb);
	assert_string_equal(strbuf_str(&sb), EX_BODY);
	assert_int_equal(sb.len, 166);
	strbuf_release(&sb);
	aws_params_free(&p);
}

static void
test_params_set_replaces(void **state)
{
	struct aws_params p = { 0 };
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	aws_params_add(&p, "A", "1");
	aws_params_set(&p, "NextToken", "x");
	aws_params_set(&p, "NextToken", "y/z");
	aws_params_encode(&p, &sb);
	assert_string_equal(strbuf_str(&sb), "A=1&NextToken=y%2Fz");
	strbuf_release(&sb);
	aws_params_free(&p);
}

static void
test_uri_encode(void **state)
{
	static const char *const cases[][2] = {
		{ "tag:Name", "tag%3AName" }, { "web-*", "web-%2A" },
		{ "web 1", "web%201" }, { "a/b", "a%2Fb" }, { "x=y", "x%3Dy" },
		{ "+", "%2B" }, { "\xc3\xa9", "%C3%A9" },
		{ "AZaz09-_.~", "AZaz09-_.~" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct strbuf sb = STRBUF_INIT;

		aws_uri_encode(&sb, cases[i][0]);
		assert_string_equal(strbuf_str(&sb), cases[i][1]);
		strbuf_release(&sb);
	}
}

static void
test_worked_example(void **state)
{
	struct sigv4_input in = example_input();
	struct sigv4_output out;
	struct strbuf creq = STRBUF_INIT;

	(void)state;
	assert_int_equal(sigv4_sign(&in, &out, &creq), 0);
	assert_string_equal(out.payload_hash,
	    "1af0a50db45cf429875eabc8561cb3af9d07a0486fdb489c67da14423299883a");
	assert_string_equal(strbuf_str(&creq),
	    "POST\n/\n\n"
	    "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
	    "host:ec2.eu-west-1.amazonaws.com\n"
	    "x-amz-date:20240115T093000Z\n\n"
	    "content-type;host;x-amz-date\n"
	    "1af0a50db45cf429875eabc8561cb3af9d07a0486fdb489c67da14423299883a");
	assert_int_equal(creq.len, 225);
	assert_string_equal(out.signature,
	    "d982b7e4753e3af30587fc6f4121d260c8e6aa3af3908be034427bb106b3be78");
	assert_string_equal(out.authorization,
	    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLEDAEMON001/20240115/"
	    "eu-west-1/ec2/aws4_request, SignedHeaders=content-type;host;"
	    "x-amz-date, Signature=d982b7e4753e3af30587fc6f4121d260c8e6aa3af"
	    "3908be034427bb106b3be78");
	strbuf_release(&creq);
}

static void
test_variant_a_get(void **state)
{
	struct sigv4_input in = example_input();
	struct sigv4_output out;

	(void)state;
	in.method = "GET";
	in.query = EX_BODY;
	in.content_type = NULL;
	in.body = NULL;
	in.body_len = 0;
	assert_int_equal(sigv4_sign(&in, &out, NULL), 0);
	assert_string_equal(out.payload_hash,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_string_equal(out.signature,
	    "9c042ceea0186055cf4a70882b91d93ee5b3233b2974cf5b118a662c0c386e1d");
}

static void
test_variant_b_session_token(void **state)
{
	struct sigv4_input in = example_input();
	struct sigv4_output out;

	(void)state;
	in.session_token =
	    "IQoJb3JpZ2luX2VjEXAMPLETOKEN//////////wEaCWV1LXdlc3QtMSJ=";
	assert_int_equal(sigv4_sign(&in, &out, NULL), 0);
	assert_string_equal(out.signature,
	    "e5a0ca196d17d1f13340e3c907e1eb382ea79cde2d6546e52be76a869ef9a478");
	assert_non_null(strstr(out.authorization, "SignedHeaders=content-type;"
	    "host;x-amz-date;x-amz-security-token,"));
}

static struct sigv4_input
suite_input(void)
{
	struct sigv4_input in = {
		.method = "GET", .host = "example.amazonaws.com", .path = "/",
		.query = "", .amz_date = "20150830T123600Z",
		.region = "us-east-1", .service = "service",
		.access_key_id = "AKIDEXAMPLE",
		.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	};
	return in;
}

static void
test_suite_get_vanilla(void **state)
{
	struct sigv4_input in = suite_input();
	struct sigv4_output out;

	(void)state;
	assert_int_equal(sigv4_sign(&in, &out, NULL), 0);
	assert_string_equal(out.signature,
	    "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

static void
test_suite_query_order(void **state)
{
	struct sigv4_input in = suite_input();
	struct sigv4_output out;
	struct aws_params p = { 0 };
	struct strbuf q = STRBUF_INIT;

	(void)state;
	aws_params_add(&p, "Param2", "value2");
	aws_params_add(&p, "Param1", "value1");
	aws_params_encode(&p, &q);
	in.query = strbuf_str(&q);
	assert_int_equal(sigv4_sign(&in, &out, NULL), 0);
	assert_string_equal(out.signature,
	    "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
	strbuf_release(&q);
	aws_params_free(&p);
}

static void
test_suite_post_form(void **state)
{
	struct sigv4_input in = suite_input();
	struct sigv4_output out;

	(void)state;
	in.method = "POST";
	in.content_type = "application/x-www-form-urlencoded";
	in.body = "Param1=value1";
	in.body_len = strlen("Param1=value1");
	assert_int_equal(sigv4_sign(&in, &out, NULL), 0);
	assert_string_equal(out.signature,
	    "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

static void
test_signature_depends_on_every_input(void **state)
{
	struct sigv4_input base = example_input(), in;
	struct sigv4_output ref, out;

	(void)state;
	assert_int_equal(sigv4_sign(&base, &ref, NULL), 0);
	in = base; in.host = "127.0.0.1:4566";
	assert_int_equal(sigv4_sign(&in, &out, NULL), 0);
	assert_string_not_equal(out.signature, ref.signature);
	in = base; in.region = "us-east-1";
	assert_int_equal(sigv4_sign(&in, &out, NULL), 0);
	assert_string_not_equal(out.signature, ref.signature);
	in = base; in.body_len--;
	assert_int_equal(sigv4_sign(&in, &out, NULL), 0);
	assert_string_not_equal(out.signature, ref.signature);
	in = base; in.secret_access_key = "other";
	assert_int_equal(sigv4_sign(&in, &out, NULL), 0);
	assert_string_not_equal(out.signature, ref.signature);
}

static void
test_missing_inputs_rejected(void **state)
{
	struct sigv4_input in = example_input();
	struct sigv4_output out;

	(void)state;
	in.amz_date = "20240115";
	assert_int_equal(sigv4_sign(&in, &out, NULL), -1);
	in = example_input();
	in.secret_access_key = NULL;
	assert_int_equal(sigv4_sign(&in, &out, NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params_encode_matches_example_body),
		cmocka_unit_test(test_params_set_replaces),
		cmocka_unit_test(test_uri_encode),
		cmocka_unit_test(test_worked_example),
		cmocka_unit_test(test_variant_a_get),
		cmocka_unit_test(test_variant_b_session_token),
		cmocka_unit_test(test_suite_get_vanilla),
		cmocka_unit_test(test_suite_query_order),
		cmocka_unit_test(test_suite_post_form),
		cmocka_unit_test(test_signature_depends_on_every_input),
		cmocka_unit_test(test_missing_inputs_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
