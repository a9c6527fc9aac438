/* Retry classification, the backoff schedule's bounds, the retry quota,
 * region and endpoint resolution, and the operator's error line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "daemon/aws.h"

/* A fake environment: pairs of name, value. */
static const char *const *fake_env;

static const char *
env_get(const char *name)
{
	for (const char *const *e = fake_env; e && *e; e += 2)
		if (strcmp(e[0], name) == 0)
			return e[1];
	return NULL;
}

static struct aws_error
service_error(long status, const char *code)
{
	struct aws_error e;

	aws_error_clear(&e);
	aws_error_set(&e, AWS_ERR_SERVICE, code, "m");
	e.http_status = status;
	return e;
}

static void
test_retryable(void **state)
{
	struct aws_error e;

	(void)state;
	e = service_error(503, "RequestLimitExceeded");
	assert_true(aws_error_retryable(&e));
	e = service_error(400, "Throttling");
	assert_true(aws_error_retryable(&e));
	e = service_error(500, "InternalError");
	assert_true(aws_error_retryable(&e));
	e = service_error(503, "Unavailable");
	assert_true(aws_error_retryable(&e));
	e = service_error(504, "");
	assert_true(aws_error_retryable(&e));
	e = service_error(400, "RequestTimeout");
	assert_true(aws_error_retryable(&e));
	/* Client errors are not retried. */
	e = service_error(401, "AuthFailure");
	assert_false(aws_error_retryable(&e));
	e = service_error(400, "InvalidInstanceID.NotFound");
	assert_false(aws_error_retryable(&e));
	e = service_error(412, "DryRunOperation");
	assert_false(aws_error_retryable(&e));
	e = service_error(501, "");
	assert_false(aws_error_retryable(&e));
	/* Capacity is the caller's business (try another instance). */
	e = service_error(500, "InsufficientInstanceCapacity");
	assert_false(aws_error_retryable(&e));
	aws_error_clear(&e);
	aws_error_set(&e, AWS_ERR_TRANSPORT, NULL, "connection refused");
	assert_true(aws_error_retryable(&e));
	aws_error_set(&e, AWS_ERR_PARSE, NULL, "bad xml");
	assert_false(aws_error_retryable(&e));
}

static void
test_backoff_bounds(void **state)
{
	struct aws_retry_policy p = { 5, 1.0, 20.0 };

	(void)state;
	/* rand01 = 0 gives 0; just below 1 approaches the ceiling. */
	assert_true(aws_backoff_s(&p, 1, 0.0) == 0.0);
	assert_true(aws_backoff_s(&p, 1, 0.999) < 1.0);
	assert_true(aws_backoff_s(&p, 1, 0.999) > 0.99);
	assert_true(aws_backoff_s(&p, 2, 0.999) < 2.0);
	assert_true(aws_backoff_s(&p, 2, 0.999) > 1.99);
	assert_true(aws_backoff_s(&p, 3, 0.5) == 2.0);
	/* Capped at 20 s however many attempts. */
	assert_true(aws_backoff_s(&p, 6, 0.999) < 20.0);
	assert_true(aws_backoff_s(&p, 6, 0.999) > 16.0);
	assert_true(aws_backoff_s(&p, 60, 0.999) < 20.0);
	/* Out-of-range randomness is clamped into [0, ceiling). */
	assert_true(aws_backoff_s(&p, 1, 7.0) < 1.0);
	assert_true(aws_backoff_s(&p, 1, -1.0) == 0.0);
	/* Full jitter: every draw stays within [0, ceiling). */
	srand(42);
	for (int n = 1; n <= 10; n++) {
		double ceiling = n >= 6 ? 20.0 : (double)(1 << (n - 1));

		for (int i = 0; i < 1000; i++) {
			double d = aws_backoff_s(&p, n,
			    (double)rand() / ((double)RAND_MAX + 1));

			assert_true(d >= 0.0 && d < ceiling);
		}
	}
}

static void
test_policy_default_and_env(void **state)
{
	static const char *const env_ok[] = { "AWS_MAX_ATTEMPTS", "5", NULL };
	static const char *const env_bad[] = { "AWS_MAX_ATTEMPTS", "x", NULL };
	struct aws_retry_policy p;

	(void)state;
	fake_env = NULL;
	p = aws_retry_policy_default(env_get);
	assert_int_equal(p.max_attempts, 3);
	assert_true(p.base_s == 1.0 && p.cap_s == 20.0);
	fake_env = env_ok;
	assert_int_equal(aws_retry_policy_default(env_get).max_attempts, 5);
	fake_env = env_bad;
	assert_int_equal(aws_retry_policy_default(env_get).max_attempts, 3);
}

static void
test_quota(void **state)
{
	struct aws_retry_quota q = AWS_RETRY_QUOTA_INIT;
	int taken = 0, n = 0, t;

	(void)state;
	while ((t = aws_retry_quota_acquire(&q, false)) > 0) {
		taken += t;
		n++;
	}
	assert_int_equal(n, 100);
	assert_int_equal(q.available, 0);
	aws_retry_quota_release(&q, 5);
	assert_int_equal(q.available, 5);
	assert_int_equal(aws_retry_quota_acquire(&q, true), 0);
	assert_int_equal(aws_retry_quota_acquire(&q, false), 5);
	/* A success without retries refunds 1, never above capacity. */
	q.available = 500;
	aws_retry_quota_release(&q, 0);
	assert_int_equal(q.available, 500);
}

static void
test_region(void **state)
{
	static const char *const both[] = { "AWS_REGION", "eu-west-1",
	    "AWS_DEFAULT_REGION", "us-east-1", NULL };
	static const char *const dflt[] = { "AWS_DEFAULT_REGION", "us-east-1",
	    NULL };

	(void)state;
	fake_env = both;
	assert_string_equal(aws_resolve_region("eu-central-1", "x", env_get),
	    "eu-central-1");
	assert_string_equal(aws_resolve_region(NULL, "x", env_get),
	    "eu-west-1");
	fake_env = dflt;
	assert_string_equal(aws_resolve_region("", NULL, env_get), "us-east-1");
	fake_env = NULL;
	assert_string_equal(aws_resolve_region(NULL, "ap-south-1", env_get),
	    "ap-south-1");
	assert_null(aws_resolve_region(NULL, NULL, env_get));
}

/* The shape of a region name (issue 14: "eu-west1" passed the check and
 * became ec2.eu-west1.amazonaws.com). */
static void
test_region_valid(void **state)
{
	static const char *const good[] = { "eu-west-1", "us-east-1",
	    "ap-southeast-2", "us-gov-west-1", "us-isob-east-1",
	    "cn-north-1", "il-central-1", "eu-central-12" };
	static const char *const bad[] = { "eu-west1", "euwest-1", "eu-1",
	    "eu-west-", "-eu-west-1", "eu--west-1", "EU-WEST-1", "e-west-1",
	    "eur-west-1", "eu-west-1a", "eu-west-1 ", "eu-west-1   # Ireland",
	    "", "Ireland", "eu-west-x1", "12-west-1" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!aws_region_valid(good[i]))
			fail_msg("refused %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (aws_region_valid(bad[i]))
			fail_msg("accepted \"%s\"", bad[i]);
	assert_false(aws_region_valid(NULL));
}

static void
test_endpoint(void **state)
{
	static const char *const env_both[] = {
		"AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:4566",
		"AWS_ENDPOINT_URL", "http://127.0.0.1:9999", NULL };
	static const char *const env_generic[] = {
		"AWS_ENDPOINT_URL", "http://127.0.0.1:9999", NULL };
	static const char *const env_ignored[] = {
		"AWS_ENDPOINT_URL", "http://127.0.0.1:9999",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", NULL };
	char buf[256];

	(void)state;
	fake_env = env_both;
	assert_int_equal(aws_resolve_endpoint("http://cfg", "eu-west-1",
	    env_get, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "http://cfg");
	assert_int_equal(aws_resolve_endpoint(NULL, "eu-west-1", env_get, buf,
	    sizeof(buf)), 0);
	assert_string_equal(buf, "http://127.0.0.1:4566");
	fake_env = env_generic;
	aws_resolve_endpoint(NULL, "eu-west-1", env_get, buf, sizeof(buf));
	assert_string_equal(buf, "http://127.0.0.1:9999");
	fake_env = env_ignored;
	aws_resolve_endpoint(NULL, "eu-west-1", env_get, buf, sizeof(buf));
	assert_string_equal(buf, "https://ec2.eu-west-1.amazonaws.com");
	fake_env = NULL;
	aws_resolve_endpoint(NULL, "cn-north-1", env_get, buf, sizeof(buf));
	assert_string_equal(buf, "https://ec2.cn-north-1.amazonaws.com.cn");
	assert_int_equal(aws_resolve_endpoint(NULL, "eu-west-1", env_get, buf,
	    10), -1);
}

static void
test_error_format(void **state)
{
	struct aws_error e = service_error(503, "RequestLimitExceeded");
	char buf[512];

	(void)state;
	strcpy(e.message, "Request limit exceeded.");
	strcpy(e.request_id, "abc-123");
	strcpy(e.action, "DescribeInstances");
	e.attempts = 3;
	assert_string_equal(aws_error_format(&e, buf, sizeof(buf)),
	    "EC2 DescribeInstances failed: RequestLimitExceeded: Request limit "
	    "exceeded. (HTTP 503, request id abc-123, after 3 attempts)");
	aws_error_clear(&e);
	aws_error_set(&e, AWS_ERR_TRANSPORT, NULL, "Connection refused");
	e.attempts = 1;
	assert_string_equal(aws_error_format(&e, buf, sizeof(buf)),
	    "EC2 call failed: Connection refused (after 1 attempt)");
	/* No credentials: no call was made; the message says it all. */
	aws_error_clear(&e);
	aws_error_set(&e, AWS_ERR_CREDENTIALS, NULL, "no AWS credentials "
	    "found: none anywhere");
	strcpy(e.action, "DescribeInstances");
	assert_string_equal(aws_error_format(&e, buf, sizeof(buf)),
	    "no AWS credentials found: none anywhere");
	aws_error_clear(&e);
	aws_error_set(&e, AWS_ERR_CREDENTIALS, NULL, "cannot sign");
	strcpy(e.action, "DescribeInstances");
	assert_string_equal(aws_error_format(&e, buf, sizeof(buf)),
	    "EC2 DescribeInstances failed: cannot sign");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retryable),
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_policy_default_and_env),
		cmocka_unit_test(test_quota),
		cmocka_unit_test(test_region),
		cmocka_unit_test(test_region_valid),
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_error_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
