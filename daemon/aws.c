#include "daemon/aws.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "common/utf8.h"

void
aws_error_clear(struct aws_error *e)
{
	memset(e, 0, sizeof(*e));
}

void
aws_error_set(struct aws_error *e, enum aws_err_kind kind, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	e->kind = kind;
	utf8_snprintf(e->code, sizeof(e->code), "%s", code ? code : "");
	va_start(ap, fmt);
	utf8_vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

const char *
aws_err_kind_name(enum aws_err_kind kind)
{
	switch (kind) {
	case AWS_ERR_NONE:		return "none";
	case AWS_ERR_TRANSPORT:		return "transport";
	case AWS_ERR_SERVICE:		return "service";
	case AWS_ERR_PARSE:		return "parse";
	case AWS_ERR_CREDENTIALS:	return "credentials";
	case AWS_ERR_CONFIG:		return "config";
	case AWS_ERR_CANCELLED:		return "cancelled";
	}
	return "unknown";
}

const char *
aws_error_format(const struct aws_error *e, char *buf, size_t len)
{
	char detail[200] = "";
	size_t n = 0;

	if (e->http_status)
		n += utf8_snprintf(detail + n, sizeof(detail) - n, "HTTP %ld",
		    e->http_status);
	if (e->request_id[0] && n < sizeof(detail))
		n += utf8_snprintf(detail + n, sizeof(detail) - n,
		    "%srequest id %s", n ? ", " : "", e->request_id);
	if (e->attempts > 0 && n < sizeof(detail))
		utf8_snprintf(detail + n, sizeof(detail) - n,
		    "%safter %d attempt%s",
		    n ? ", " : "", e->attempts, e->attempts == 1 ? "" : "s");
	/* No credentials: no call was made, and the message says why in
	 * full ("no AWS credentials found: ..."). */
	if (e->kind == AWS_ERR_CREDENTIALS &&
	    strncmp(e->message, "no AWS credentials", 18) == 0) {
		utf8_snprintf(buf, len, "%s", e->message);
		return buf;
	}
	utf8_snprintf(buf, len, "EC2 %s failed: %s%s%s%s%s%s",
	    e->action[0] ? e->action : "call",
	    e->code, e->code[0] ? ": " : "", e->message,
	    detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
	return buf;
}

static const char *const throttle_codes[] = {
	"Throttling", "ThrottlingException", "ThrottledException",
	"RequestThrottledException", "TooManyRequestsException",
	"ProvisionedThroughputExceededException",
	"TransactionInProgressException", "RequestLimitExceeded",
	"BandwidthLimitExceeded", "LimitExceededException",
	"RequestThrottled", "SlowDown", "PriorRequestNotComplete",
	"EC2ThrottledException",
};

bool
aws_error_is_throttle(const char *code)
{
	for (size_t i = 0; i < sizeof(throttle_codes) / sizeof(*throttle_codes);
	    i++)
		if (strcmp(code, throttle_codes[i]) == 0)
			return true;
	return false;
}

bool
aws_error_retryable(const struct aws_error *e)
{
	switch (e->kind) {
	case AWS_ERR_TRANSPORT:
		return true;
	case AWS_ERR_SERVICE:
		if (aws_error_is_throttle(e->code) ||
		    strcmp(e->code, "RequestTimeout") == 0 ||
		    strcmp(e->code, "RequestTimeoutException") == 0)
			return true;
		/* Capacity errors come with HTTP 500 but retrying at once
		 * does not help: the caller decides (try another worker). */
		if (strcmp(e->code, "InsufficientInstanceCapacity") == 0)
			return false;
		return e->http_status == 500 || e->http_status == 502 ||
		    e->http_status == 503 || e->http_status == 504;
	default:
		return false;
	}
}

struct aws_retry_policy
aws_retry_policy_default(const char *(*env_get)(const char *))
{
	struct aws_retry_policy p = { 3, 1.0, 20.0 };
	const char *v = env_get ? env_get("AWS_MAX_ATTEMPTS") : NULL;

	if (v && *v) {
		char *end;
		long n = strtol(v, &end, 10);

		if (*end == '\0' && n >= 1 && n <= 20)
			p.max_attempts = (int)n;
	}
	return p;
}

double
aws_backoff_s(const struct aws_retry_policy *p, int attempts, double rand01)
{
	double ceiling = p->base_s;

	if (attempts < 1)
		attempts = 1;
	for (int i = 1; i < attempts && ceiling < p->cap_s; i++)
		ceiling *= 2;
	if (ceiling > p->cap_s)
		ceiling = p->cap_s;
	if (rand01 < 0)
		rand01 = 0;
	if (rand01 >= 1)
		rand01 = 0.999999;
	return rand01 * ceiling;
}

int
aws_retry_quota_acquire(struct aws_retry_quota *q, bool timeout)
{
	int cost = timeout ? 10 : 5;

	if (q->available < cost)
		return 0;
	q->available -= cost;
	return cost;
}

void
aws_retry_quota_release(struct aws_retry_quota *q, int taken)
{
	q->available += taken > 0 ? taken : 1;
	if (q->available > q->capacity)
		q->available = q->capacity;
}

const char *
aws_resolve_region(const char *configured, const char *profile_region,
    const char *(*env_get)(const char *))
{
	const char *v;

	if (configured && *configured)
		return configured;
	if ((v = env_get("AWS_REGION")) && *v)
		return v;
	if ((v = env_get("AWS_DEFAULT_REGION")) && *v)
		return v;
	if (profile_region && *profile_region)
		return profile_region;
	return NULL;
}

bool
aws_region_valid(const char *region)
{
	const char *p = region, *part;
	size_t n, parts = 0;
	bool digits = false;

	/* AREA-[QUALIFIER-]...-NAME-N: "eu-west-1", "us-gov-west-1",
	 * "ap-southeast-2"; not "eu-west1" or "Ireland". */
	if (region == NULL || strlen(region) > 63)
		return false;
	for (;;) {
		part = p;
		digits = *p >= '0' && *p <= '9';
		while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
			p++;
		n = (size_t)(p - part);
		if (n == 0)
			return false;
		for (size_t i = 0; i < n; i++)
			if ((part[i] >= '0' && part[i] <= '9') != digits)
				return false;
		if (parts == 0 && (n != 2 || digits))
			return false;
		parts++;
		if (*p == '\0')
			break;
		if (*p != '-' || digits)
			return false;
		p++;
	}
	return parts >= 3 && digits;
}

int
aws_endpoint_check(const char *url, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int rc = -1;

	if (u == NULL) {
		utf8_snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    *host == '\0')
		utf8_snprintf(err, errlen, "\"%s\" is not a URL with a host",
		    url);
	else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		utf8_snprintf(err, errlen, "\"%s\" is not an http or https "
		    "URL", url);
	else
		rc = 0;
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

int
aws_resolve_endpoint(const char *configured, const char *region,
    const char *(*env_get)(const char *), char *buf, size_t len)
{
	const char *ignore = env_get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	const char *v = NULL;
	int n;

	if (configured && *configured)
		v = configured;
	else if (!(ignore && strcasecmp(ignore, "true") == 0)) {
		if ((v = env_get("AWS_ENDPOINT_URL_EC2")) && !*v)
			v = NULL;
		if (!v && (v = env_get("AWS_ENDPOINT_URL")) && !*v)
			v = NULL;
	}
	if (v)
		n = snprintf(buf, len, "%s", v); /* not text */
	else if (region && strncmp(region, "cn-", 3) == 0)
		/* not text */
		n = snprintf(buf, len, "https://ec2.%s.amazonaws.com.cn", region);
	else
		/* not text */
		n = snprintf(buf, len, "https://ec2.%s.amazonaws.com",
		    region ? region : "");
	return n > 0 && (size_t)n < len ? 0 : -1;
}
