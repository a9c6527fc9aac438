/*
 * What the AWS clients share and that needs no I/O: the structured error an
 * operator is shown, which failures are retried and after how long, the
 * retry quota, and where requests go (region and endpoint resolution).
 */
#ifndef EC2M_AWS_H
#define EC2M_AWS_H

#include <stdbool.h>
#include <stddef.h>

enum aws_err_kind {
	AWS_ERR_NONE = 0,
	AWS_ERR_TRANSPORT,	/* no HTTP answer: connect, timeout, reset */
	AWS_ERR_SERVICE,	/* an HTTP error answer, with code if parsed */
	AWS_ERR_PARSE,		/* an answer we cannot read */
	AWS_ERR_CREDENTIALS,	/* no usable credentials */
	AWS_ERR_CONFIG,		/* no region, bad endpoint, ... */
	AWS_ERR_CANCELLED,	/* the daemon tore down with the call in flight */
};

struct aws_error {
	enum aws_err_kind kind;
	long	http_status;		/* 0 when there was no answer */
	bool	timed_out;		/* transport error was a timeout */
	char	code[64];		/* AWS error code, e.g. AuthFailure */
	char	message[512];
	char	request_id[80];
	char	action[40];		/* e.g. DescribeInstances */
	int	attempts;
};

void aws_error_clear(struct aws_error *e);
void aws_error_set(struct aws_error *e, enum aws_err_kind kind,
    const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* One line for an operator: "EC2 StartInstances failed: AuthFailure: AWS
 * was not able ... (HTTP 401, request id ..., after 1 attempt)". */
const char *aws_error_format(const struct aws_error *e, char *buf, size_t len);
const char *aws_err_kind_name(enum aws_err_kind kind);

/* True for the throttling codes botocore knows. */
bool aws_error_is_throttle(const char *code);
/* True when a call that failed this way may be sent again: transport
 * errors, HTTP 500/502/503/504, throttling and request-timeout codes. */
bool aws_error_retryable(const struct aws_error *e);

struct aws_retry_policy {
	int	max_attempts;	/* total tries, first included (>= 1) */
	double	base_s;		/* backoff base (1 s in the SDKs) */
	double	cap_s;		/* backoff cap (20 s in the SDKs) */
};

/* The SDK "standard" mode: 3 attempts, base 1 s, cap 20 s, with
 * AWS_MAX_ATTEMPTS from env_get honoured when valid. */
struct aws_retry_policy aws_retry_policy_default(
    const char *(*env_get)(const char *));

/* Full-jitter backoff before the next try, in seconds, after `attempts`
 * tries have been made: rand01 * min(base * 2^(attempts-1), cap).
 * rand01 is in [0, 1). */
double aws_backoff_s(const struct aws_retry_policy *p, int attempts,
    double rand01);

/* The SDKs' client-side retry quota: retries draw from a bucket so that a
 * failing endpoint is not hammered by every caller at once. */
struct aws_retry_quota {
	int	capacity;
	int	available;
};

#define AWS_RETRY_QUOTA_INIT { 500, 500 }

/* Takes the cost of one retry (10 after a timeout, else 5).  Returns the
 * amount taken, or 0 when the bucket is empty and no retry may be made. */
int aws_retry_quota_acquire(struct aws_retry_quota *q, bool timeout);
/* After a call succeeded: gives back what its retries took, or 1 when it
 * succeeded at once. */
void aws_retry_quota_release(struct aws_retry_quota *q, int taken);

/* Resolves the region as the AWS CLI v2 does: configured ([aws] region,
 * like aws --region), else AWS_REGION, else AWS_DEFAULT_REGION, else
 * profile_region (aws_creds_provider_region()).  NULL when none. */
const char *aws_resolve_region(const char *configured,
    const char *profile_region, const char *(*env_get)(const char *));

/* True when region has the shape of an AWS region name: a two-letter area,
 * one or more lower-case words and a number, joined by '-' ("eu-west-1",
 * "us-gov-west-1"), at most 63 characters.  "eu-west1" is not one. */
bool aws_region_valid(const char *region);

/* Checks that url is an http or https URL with a host, as the EC2 client
 * needs it.  Returns 0, or -1 with the reason in err. */
int aws_endpoint_check(const char *url, char *err, size_t errlen);

/* Resolves the EC2 endpoint URL into buf: configured, else
 * AWS_ENDPOINT_URL_EC2, else AWS_ENDPOINT_URL (both skipped when
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), else the regional endpoint.
 * Returns 0, or -1 when it does not fit. */
int aws_resolve_endpoint(const char *configured, const char *region,
    const char *(*env_get)(const char *), char *buf, size_t len);

#endif
