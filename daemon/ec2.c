/*
 * EC2 calls on the loop.  A call goes: get credentials (possibly waiting for
 * an IMDS fetch) -> sign -> HTTP -> parse.  A failed try that is worth
 * retrying waits a full-jitter backoff on its own timer and starts over
 * with a fresh signature; DescribeInstances repeats the cycle per page.
 * The client does not log successes; callers decide what to report.
 */
#include "daemon/ec2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/log.h"
#include "common/strbuf.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/awscreds.h"
#include "daemon/http.h"
#include "daemon/sigv4.h"
#include "daemon/upstream.h"

#define EC2_CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define EC2_MAX_BODY (64u << 20)

struct ec2_client {
	struct upstream up;
	struct aws_creds_provider *creds;
	char	*region;
	char	*url;
	char	*host;		/* as in the Host header, for signing */
	long	 timeout_ms;
	long	 connect_timeout_ms;
	int	 page_size;
	struct aws_retry_quota quota;
	struct ec2_stats stats;
};

enum ec2_call_kind { CALL_DESCRIBE, CALL_START, CALL_STOP };

struct ec2_call {
	struct upstream_call up;	/* attempts: tries of the current page */
	struct ec2_client *client;
	enum ec2_call_kind kind;
	const char *action;
	struct aws_params params;
	bool	 dry_run;
	int	 quota_taken;
	bool	 creds_retried;
	struct ec2_instance_list *list;		/* describe: collected */
	struct aws_creds_wait *wait;
	ec2_describe_fn *describe_cb;
	ec2_change_fn *change_cb;
	void	*arg;
};

#define EC2_CALL(u) UPSTREAM_OWNER(u, struct ec2_call, up)

static void call_send(struct upstream_call *up);
static void on_answer(struct upstream_call *up, const struct http_response *r);
static void on_cancel(struct upstream_call *up);
static void on_release(struct upstream *u);

static const struct upstream_ops ec2_ops = {
	on_answer, on_cancel, on_release, "ec2",
};

static int
host_of(const char *url, char **host, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *h = NULL, *port = NULL;
	int rc = -1;

	if (u == NULL)
		abort();
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK) {
		utf8_snprintf(err, errlen,
		    "invalid EC2 endpoint URL \"%s\"", url);
		goto out;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		utf8_snprintf(err, errlen,
		    "EC2 endpoint \"%s\" is not http(s)", url);
		goto out;
	}
	/* curl sends the port in Host only when it is not the default. */
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
	    !((strcmp(scheme, "http") == 0 && strcmp(port, "80") == 0) ||
	    (strcmp(scheme, "https") == 0 && strcmp(port, "443") == 0)))
		*host = xasprintf("%s:%s", h, port);
	else
		*host = xstrdup(h);
	rc = 0;
out:
	curl_free(scheme);
	curl_free(h);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

struct ec2_client *
ec2_client_new(uv_loop_t *loop, struct http_client *http,
    struct aws_creds_provider *creds, const struct ec2_settings *s,
    char *err, size_t errlen)
{
	struct ec2_client *c = xcalloc(1, sizeof(*c));
	struct upstream_retry retry = { 0 };

	if (s->region == NULL || *s->region == '\0') {
		utf8_snprintf(err, errlen, "no AWS region configured");
		free(c);
		return NULL;
	}
	if (host_of(s->endpoint, &c->host, err, errlen) != 0) {
		free(c);
		return NULL;
	}
	c->creds = creds;
	c->region = xstrdup(s->region);
	c->url = xstrdup(s->endpoint);
	retry.max_attempts = s->retry.max_attempts;
	retry.base_s = s->retry.base_s;
	retry.cap_s = s->retry.cap_s;
	c->timeout_ms = s->timeout_ms;
	c->connect_timeout_ms = s->connect_timeout_ms;
	c->page_size = s->page_size >= 5 && s->page_size <= 1000 ?
	    s->page_size : 1000;
	c->quota = (struct aws_retry_quota)AWS_RETRY_QUOTA_INIT;
	upstream_init(&c->up, loop, http, &ec2_ops, &retry);
	return c;
}

const struct ec2_stats *
ec2_client_stats(const struct ec2_client *c)
{
	return &c->stats;
}

/* Called by the upstream layer once nobody holds the client and its last
 * call has ended. */
static void
on_release(struct upstream *u)
{
	struct ec2_client *c = UPSTREAM_OWNER(u, struct ec2_client, up);

	free(c->region);
	free(c->url);
	free(c->host);
	free(c);
}

static void
call_free(struct ec2_call *call)
{
	aws_creds_wait_cancel(call->wait);
	aws_params_free(&call->params);
	ec2_instance_list_free(call->list);
	/* May free the client: the last thing that touches it. */
	upstream_call_end(&call->up);
	free(call);
}

static void
call_finish(struct ec2_call *call, struct ec2_state_changes *changes,
    struct aws_error *err)
{
	struct ec2_client *c = call->client;
	struct ec2_instance_list *list = NULL;

	if (err) {
		err->attempts = call->up.attempts;
		utf8_snprintf(err->action, sizeof(err->action),
		    "%s", call->action);
		c->stats.failures++;
	} else {
		aws_retry_quota_release(&c->quota, call->quota_taken);
		list = call->list;
		call->list = NULL;
	}
	if (call->kind == CALL_DESCRIBE)
		call->describe_cb(call->arg, list, err);
	else
		call->change_cb(call->arg, changes, err);
	call_free(call);
}

/* Called by the upstream layer when the daemon tears down. */
static void
on_cancel(struct upstream_call *up)
{
	struct aws_error err;

	aws_error_clear(&err);
	aws_error_set(&err, AWS_ERR_CANCELLED, NULL,
	    "cancelled: the daemon is shutting down");
	call_finish(EC2_CALL(up), NULL, &err);
}

static bool
schedule_retry(struct ec2_call *call, const struct aws_error *err)
{
	struct ec2_client *c = call->client;
	char buf[768];
	int taken;

	if (!aws_error_retryable(err) || !upstream_can_retry(&call->up))
		return false;
	if ((taken = aws_retry_quota_acquire(&c->quota, err->timed_out)) == 0) {
		log_warnx("EC2 %s: retry quota exhausted, not retrying",
		    call->action);
		return false;
	}
	call->quota_taken += taken;
	c->stats.retries++;
	return upstream_retry(&call->up, aws_error_format(err, buf,
	    sizeof(buf)));
}

static void
handle_success(struct ec2_call *call, const struct http_response *r)
{
	struct aws_error err;
	char *next = NULL;

	aws_error_clear(&err);
	if (call->kind == CALL_DESCRIBE) {
		if (ec2_parse_describe(r->body, r->body_len, call->list, &next,
		    &err) != 0) {
			call_finish(call, NULL, &err);
			return;
		}
		if (next) {
			/* Next page: the same parameters plus the token. */
			aws_params_set(&call->params, "NextToken", next);
			free(next);
			call->up.attempts = 0;
			call_send(&call->up);
			return;
		}
		call_finish(call, NULL, NULL);
	} else {
		struct ec2_state_changes *ch = ec2_state_changes_new();

		if (ec2_parse_state_changes(r->body, r->body_len, ch,
		    &err) != 0) {
			ec2_state_changes_free(ch);
			call_finish(call, NULL, &err);
			return;
		}
		call_finish(call, ch, NULL);
	}
}

/* Called by the upstream layer when a try ends. */
static void
on_answer(struct upstream_call *up, const struct http_response *r)
{
	struct ec2_call *call = EC2_CALL(up);
	struct ec2_client *c = call->client;
	struct aws_error err;

	aws_error_clear(&err);
	if (!r->ok) {
		aws_error_set(&err, AWS_ERR_TRANSPORT, NULL, "%s (%s)",
		    r->error, c->url);
		err.timed_out = r->timed_out;
	} else if (r->status == 200) {
		handle_success(call, r);
		return;
	} else {
		ec2_parse_error(r->body, r->body_len, r->status, &err);
		if (call->dry_run && strcmp(err.code, "DryRunOperation") == 0) {
			call_finish(call, ec2_state_changes_new(), NULL);
			return;
		}
		if (strcmp(err.code, "AuthFailure") == 0 ||
		    strcmp(err.code, "ExpiredToken") == 0 ||
		    strcmp(err.code, "RequestExpired") == 0) {
			/* Fetched credentials may have been revoked or have
			 * expired: fetch new ones once. */
			if (!call->creds_retried &&
			    aws_creds_invalidate(c->creds)) {
				call->creds_retried = true;
				call_send(&call->up);
				return;
			}
		}
	}
	if (schedule_retry(call, &err))
		return;
	call_finish(call, NULL, &err);
}

/* Called with credentials: sign and send one try. */
static void
on_creds(void *arg, const struct aws_credentials *creds, const char *error)
{
	struct ec2_call *call = arg;
	struct ec2_client *c = call->client;
	struct strbuf body = STRBUF_INIT;
	struct sigv4_input in = { 0 };
	struct sigv4_output out;
	struct http_request req = { 0 };
	char amz_date[TIME_AMZ_LEN], h_date[64], *h_auth, *h_token = NULL;
	const char *headers[5];
	struct aws_error err;
	size_t nh = 0;
	int rc;

	call->wait = NULL;
	aws_error_clear(&err);
	if (error) {
		aws_error_set(&err, AWS_ERR_CREDENTIALS, NULL, "%s", error);
		call_finish(call, NULL, &err);
		return;
	}
	aws_params_encode(&call->params, &body);
	time_format_amz(time_now_ms(), amz_date);
	in.method = "POST";
	in.host = c->host;
	in.path = "/";
	in.query = "";
	in.content_type = EC2_CONTENT_TYPE;
	in.body = body.buf;
	in.body_len = body.len;
	in.amz_date = amz_date;
	in.region = c->region;
	in.service = "ec2";
	in.access_key_id = creds->access_key_id;
	in.secret_access_key = creds->secret_access_key;
	in.session_token = creds->session_token;
	if (sigv4_sign(&in, &out, NULL) != 0) {
		aws_error_set(&err, AWS_ERR_CREDENTIALS, NULL,
		    "cannot sign the request");
		strbuf_release(&body);
		call_finish(call, NULL, &err);
		return;
	}
	/* not text */
	snprintf(h_date, sizeof(h_date), "X-Amz-Date: %s", amz_date);
	h_auth = xasprintf("Authorization: %s", out.authorization);
	headers[nh++] = "Content-Type: " EC2_CONTENT_TYPE;
	headers[nh++] = h_date;
	headers[nh++] = h_auth;
	if (creds->session_token) {
		h_token = xasprintf("X-Amz-Security-Token: %s",
		    creds->session_token);
		headers[nh++] = h_token;
	}
	headers[nh] = NULL;
	req.method = "POST";
	req.url = c->url;
	req.headers = headers;
	req.body = body.buf;
	req.body_len = body.len;
	req.timeout_ms = c->timeout_ms;
	req.connect_timeout_ms = c->connect_timeout_ms;
	req.max_body = EC2_MAX_BODY;
	call->up.attempts++;
	call->up.what = call->action;
	c->stats.requests++;
	log_debug("EC2 %s: sending try %d", call->action, call->up.attempts);
	rc = upstream_submit(&call->up, &req);
	free(h_auth);
	free_secret(h_token);
	strbuf_release(&body);
	if (rc != 0) {
		aws_error_set(&err, AWS_ERR_TRANSPORT, NULL,
		    "cannot start an HTTP request to %s", c->url);
		call_finish(call, NULL, &err);
	}
}

/* A try: credentials first (the wait may end before this returns). */
static void
call_send(struct upstream_call *up)
{
	struct ec2_call *call = EC2_CALL(up);
	struct aws_creds_wait *w;

	/* The callback may run (and even end the call) before this returns;
	 * only a real wait handle is kept. */
	w = aws_creds_get(call->client->creds, on_creds, call);
	if (w)
		call->wait = w;
}

static struct ec2_call *
call_start(struct ec2_client *c, enum ec2_call_kind kind, void *arg)
{
	struct ec2_call *call = xcalloc(1, sizeof(*call));

	call->client = c;
	call->kind = kind;
	call->arg = arg;
	return call;
}

struct ec2_call *
ec2_describe_prefix(struct ec2_client *c, const char *prefix,
    ec2_describe_fn *cb, void *arg)
{
	struct ec2_call *call = call_start(c, CALL_DESCRIBE, arg);

	call->action = "DescribeInstances";
	call->describe_cb = cb;
	call->list = ec2_instance_list_new();
	ec2_build_describe(&call->params, prefix, c->page_size, NULL);
	upstream_call_start(&c->up, &call->up, call_send);
	return call;
}

static struct ec2_call *
start_stop(struct ec2_client *c, bool start, const char *const *ids,
    size_t n, bool dry_run, ec2_change_fn *cb, void *arg)
{
	struct ec2_call *call = call_start(c, start ? CALL_START : CALL_STOP,
	    arg);

	call->action = start ? "StartInstances" : "StopInstances";
	call->change_cb = cb;
	call->dry_run = dry_run;
	ec2_build_start_stop(&call->params, start, ids, n, dry_run);
	upstream_call_start(&c->up, &call->up, call_send);
	return call;
}

struct ec2_call *
ec2_start_instances(struct ec2_client *c, const char *const *ids, size_t n,
    bool dry_run, ec2_change_fn *cb, void *arg)
{
	return start_stop(c, true, ids, n, dry_run, cb, arg);
}

struct ec2_call *
ec2_stop_instances(struct ec2_client *c, const char *const *ids, size_t n,
    bool dry_run, ec2_change_fn *cb, void *arg)
{
	return start_stop(c, false, ids, n, dry_run, cb, arg);
}

void
ec2_call_cancel(struct ec2_call *call)
{
	if (call)
		call_free(call);
}

void
ec2_client_free(struct ec2_client *c)
{
	struct upstream_call *up;

	if (c == NULL)
		return;
	/* The owner may free the credentials provider next (at teardown,
	 * in this loop turn): a call waiting for credentials withdraws and
	 * asks again from the loop, so that nothing of the client is left
	 * with the provider. */
	TAILQ_FOREACH(up, &c->up.calls, link) {
		struct ec2_call *call = EC2_CALL(up);

		if (call->wait) {
			aws_creds_wait_cancel(call->wait);
			call->wait = NULL;
			upstream_call_later(up, 0);
		}
	}
	upstream_release(&c->up);
}
