/*
 * Opencast calls on the loop.  Each call is a request description plus a
 * reader for its answer; a try that fails transiently waits a full-jitter
 * backoff on the call's own timer and is sent again.  Every request carries
 * X-Requested-Auth: Digest (and the Matterhorn-era header), without which
 * Opencast would answer as `anonymous` instead of challenging.
 */
#include "daemon/opencast.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/log.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/http.h"
#include "daemon/upstream.h"

#define OC_MAX_BODY (256u << 20)

struct oc_client {
	struct upstream up;
	char	*base_url;	/* without a trailing slash */
	char	*user;
	char	*password;
	long	 timeout_ms;
	struct http_session *session;	/* keeps the digest nonce */
};

enum oc_call_kind { OC_CALL_ME, OC_CALL_HOSTS, OC_CALL_JOBS, OC_CALL_MAINT };

struct oc_call {
	struct upstream_call up;
	struct oc_client *client;
	enum oc_call_kind kind;
	char	*path;		/* e.g. /services/hosts.json */
	char	*body;		/* POST body, or NULL for GET */
	enum oc_job_source source;
	char	**types;	/* high-load service types (jobs) */
	size_t	 ntypes;
	bool	 refused_again;	/* a remembered nonce was refused once */
	union {
		oc_done_fn *done;
		oc_hosts_fn *hosts;
		oc_jobs_fn *jobs;
	} cb;
	void	*arg;
};

#define OC_CALL(u) UPSTREAM_OWNER(u, struct oc_call, up)

static void on_answer(struct upstream_call *up, const struct http_response *r);
static void on_cancel(struct upstream_call *up);
static void on_release(struct upstream *u);
static void call_send(struct upstream_call *up);

static const struct upstream_ops oc_ops = {
	on_answer, on_cancel, on_release, "opencast",
};

struct oc_client *
oc_client_new(uv_loop_t *loop, struct http_client *http,
    const struct oc_settings *s)
{
	struct oc_client *c = xcalloc(1, sizeof(*c));
	struct upstream_retry retry = { 0 };
	size_t n;

	c->base_url = xstrdup(s->base_url);
	n = strlen(c->base_url);
	while (n > 0 && c->base_url[n - 1] == '/')
		c->base_url[--n] = '\0';
	c->user = xstrdup(s->user ? s->user : "");
	c->password = xstrdup(s->password ? s->password : "");
	c->timeout_ms = s->timeout_ms > 0 ? s->timeout_ms : 10000;
	c->session = http_session_new();
	retry.max_attempts = s->max_attempts > 0 ? s->max_attempts : 3;
	retry.base_s = s->backoff_base_s > 0 ? s->backoff_base_s : 0.5;
	retry.cap_s = 10;
	upstream_init(&c->up, loop, http, &oc_ops, &retry);
	return c;
}

const char *
oc_client_url(const struct oc_client *c)
{
	return c->base_url;
}

/* Called by the upstream layer once nobody holds the client and its last
 * call has ended. */
static void
on_release(struct upstream *u)
{
	struct oc_client *c = UPSTREAM_OWNER(u, struct oc_client, up);

	http_session_free(c->session);
	free(c->base_url);
	free(c->user);
	free_secret(c->password);
	free(c);
}

void
oc_client_free(struct oc_client *c)
{
	if (c != NULL)
		upstream_release(&c->up);
}

static void
call_free(struct oc_call *call)
{
	for (size_t i = 0; i < call->ntypes; i++)
		free(call->types[i]);
	free(call->types);
	free(call->path);
	free(call->body);
	/* May free the client: the last thing that touches it. */
	upstream_call_end(&call->up);
	free(call);
}

/* Hands the outcome to the caller and ends the call. */
static void
call_finish(struct oc_call *call, void *result, struct oc_error *err)
{
	if (err)
		err->attempts = call->up.attempts;
	switch (call->kind) {
	case OC_CALL_ME:
	case OC_CALL_MAINT:
		call->cb.done(call->arg, err);
		break;
	case OC_CALL_HOSTS:
		call->cb.hosts(call->arg, result, err);
		break;
	case OC_CALL_JOBS:
		call->cb.jobs(call->arg, result, err);
		break;
	}
	call_free(call);
}

/* Called by the upstream layer when the daemon tears down. */
static void
on_cancel(struct upstream_call *up)
{
	struct oc_call *call = OC_CALL(up);
	struct oc_error err = { 0 };

	oc_error_set(&err, OC_ERR_CANCELLED, "Opencast request to %s%s "
	    "cancelled: the daemon is shutting down", call->client->base_url,
	    call->path);
	call_finish(call, NULL, &err);
}

static bool
retryable(const struct oc_error *err)
{
	return err->kind == OC_ERR_UNREACHABLE ||
	    (err->kind == OC_ERR_HTTP && err->http_status >= 500);
}

static int
read_answer(struct oc_call *call, const struct http_response *r,
    void **result, struct oc_error *err)
{
	struct oc_service_set set = { (const char *const *)call->types,
	    call->ntypes };
	struct oc_jobs *jobs;
	struct oc_hosts *hosts;

	switch (call->kind) {
	case OC_CALL_ME:
		return oc_parse_me(r->body, r->body_len, call->client->user,
		    err);
	case OC_CALL_MAINT:
		return 0;
	case OC_CALL_HOSTS:
		hosts = oc_hosts_new();
		if (oc_parse_hosts(r->body, r->body_len, hosts, err) != 0) {
			oc_hosts_free(hosts);
			return -1;
		}
		*result = hosts;
		return 0;
	case OC_CALL_JOBS:
		jobs = oc_jobs_new();
		if ((call->source == OC_JOBS_ACTIVE ?
		    oc_parse_active_jobs : oc_parse_statistics)(r->body,
		    r->body_len, &set, jobs, err) != 0) {
			oc_jobs_free(jobs);
			return -1;
		}
		*result = jobs;
		return 0;
	}
	return -1;
}

/* Puts base and path (the URL) and sep before a reader's message. */
static void
error_context(struct oc_error *err, const char *base, const char *path,
    const char *sep, const char *after)
{
	char *msg = utf8_asprintf("%s%s%s%s%s", base, path, sep,
	    err->message, after);

	utf8_copy(err->message, sizeof(err->message), msg, strlen(msg));
	free(msg);
}

/* Appends " (URL)" to a reader's message. */
static void
add_url(struct oc_error *err, const char *base, const char *path)
{
	char url[600];

	utf8_snprintf(url, sizeof(url), " (%s%s)", base, path);
	error_context(err, "", "", "", url);
}

/* Called by the upstream layer when a try ends. */
static void
on_answer(struct upstream_call *up, const struct http_response *r)
{
	struct oc_call *call = OC_CALL(up);
	struct oc_client *c = call->client;
	const char *method = call->body ? "POST" : "GET";
	struct oc_error err = { 0 };
	void *result = NULL;

	err.http_status = r->status;
	if (!r->ok) {
		oc_error_set(&err, OC_ERR_UNREACHABLE, "Opencast unreachable "
		    "at %s: %s", c->base_url, r->error);
	} else if (r->status == 401 && r->reused && !call->refused_again) {
		/* A nonce the session kept was refused without stale=true
		 * (libcurl renews stale ones itself): the session forgot
		 * it; one more try starts with a fresh challenge. */
		call->refused_again = true;
		log_debug("Opencast %s%s: remembered nonce refused, asking "
		    "for a new one", c->base_url, call->path);
		call->up.attempts--;	/* the same try, once more */
		call_send(&call->up);
		return;
	} else if (r->status == 401) {
		oc_error_set(&err, OC_ERR_AUTH, "authentication failed for "
		    "user \"%s\" at %s%s", c->user, c->base_url, call->path);
	} else if (r->status == 302 || r->status == 303) {
		oc_error_set(&err, OC_ERR_AUTH, "authentication failed at "
		    "%s%s: Opencast redirected to its login page", c->base_url,
		    call->path);
	} else if (r->status == 403) {
		oc_error_set(&err, OC_ERR_AUTH, "user \"%s\" may not %s %s%s "
		    "(HTTP 403)", c->user, method, c->base_url, call->path);
	} else if (r->status == 404 && call->kind == OC_CALL_MAINT) {
		oc_error_set(&err, OC_ERR_NOT_FOUND, "Opencast at %s does not "
		    "know the host of that maintenance request (HTTP 404)",
		    c->base_url);
	} else if (r->status < 200 || r->status > 299) {
		oc_error_set(&err, OC_ERR_HTTP, "Opencast answered HTTP %ld to "
		    "%s %s%s", r->status, method, c->base_url, call->path);
	} else if (read_answer(call, r, &result, &err) == 0) {
		call_finish(call, result, NULL);
		return;
	} else if (err.kind == OC_ERR_PARSE) {
		error_context(&err, c->base_url, call->path, ": ", "");
	} else if (err.kind == OC_ERR_AUTH) {
		add_url(&err, c->base_url, call->path);
	}
	if (retryable(&err) && upstream_retry(&call->up, err.message))
		return;
	call_finish(call, NULL, &err);
}

/* One try; runs on the call's timer. */
static void
call_send(struct upstream_call *up)
{
	struct oc_call *call = OC_CALL(up);
	struct oc_client *c = call->client;
	struct http_request req = { 0 };
	const char *headers[5];
	size_t nh = 0;
	char *url = xasprintf("%s%s", c->base_url, call->path);
	struct oc_error err = { 0 };
	int rc;

	headers[nh++] = "X-Requested-Auth: Digest";
	headers[nh++] = "X-Opencast-Matterhorn-Authorization: true";
	if (call->body)
		headers[nh++] = "Content-Type: application/x-www-form-urlencoded";
	else
		headers[nh++] = "Accept: application/json";
	headers[nh] = NULL;
	req.method = call->body ? "POST" : "GET";
	req.url = url;
	req.headers = headers;
	req.body = call->body;
	req.body_len = call->body ? strlen(call->body) : 0;
	req.timeout_ms = c->timeout_ms;
	req.connect_timeout_ms = c->timeout_ms < 5000 ? c->timeout_ms : 5000;
	req.max_body = OC_MAX_BODY;
	req.digest_user = c->user;
	req.digest_password = c->password;
	req.session = c->session;
	call->up.attempts++;
	log_debug("Opencast %s %s: try %d", req.method, call->path,
	    call->up.attempts);
	rc = upstream_submit(&call->up, &req);
	free(url);
	if (rc != 0) {
		oc_error_set(&err, OC_ERR_UNREACHABLE, "cannot start a request "
		    "to %s", c->base_url);
		call_finish(call, NULL, &err);
	}
}

static struct oc_call *
call_start(struct oc_client *c, enum oc_call_kind kind, const char *path,
    void *arg)
{
	struct oc_call *call = xcalloc(1, sizeof(*call));

	call->client = c;
	call->kind = kind;
	call->path = xstrdup(path);
	call->arg = arg;
	call->up.what = path;	/* a literal of the callers below */
	upstream_call_start(&c->up, &call->up, call_send);
	return call;
}

struct oc_call *
oc_check_me(struct oc_client *c, oc_done_fn *cb, void *arg)
{
	struct oc_call *call = call_start(c, OC_CALL_ME, "/info/me.json", arg);

	call->cb.done = cb;
	return call;
}

struct oc_call *
oc_get_hosts(struct oc_client *c, oc_hosts_fn *cb, void *arg)
{
	struct oc_call *call = call_start(c, OC_CALL_HOSTS,
	    "/services/hosts.json", arg);

	call->cb.hosts = cb;
	return call;
}

struct oc_call *
oc_get_jobs(struct oc_client *c, enum oc_job_source src,
    const struct oc_service_set *high_load, oc_jobs_fn *cb, void *arg)
{
	struct oc_call *call = call_start(c, OC_CALL_JOBS,
	    src == OC_JOBS_ACTIVE ? "/services/activeJobs.json" :
	    "/services/statistics.json", arg);

	call->cb.jobs = cb;
	call->source = src;
	if (high_load && high_load->n) {
		call->types = xcalloc(high_load->n, sizeof(*call->types));
		for (size_t i = 0; i < high_load->n; i++)
			call->types[i] = xstrdup(high_load->types[i]);
		call->ntypes = high_load->n;
	}
	return call;
}

struct oc_call *
oc_set_maintenance(struct oc_client *c, const char *host_url, bool on,
    oc_done_fn *cb, void *arg)
{
	struct oc_call *call = call_start(c, OC_CALL_MAINT,
	    "/services/maintenance", arg);
	char *host = curl_easy_escape(NULL, host_url, 0);

	if (host == NULL)
		abort();
	call->cb.done = cb;
	call->body = xasprintf("host=%s&maintenance=%s", host,
	    on ? "true" : "false");
	curl_free(host);
	return call;
}

void
oc_call_cancel(struct oc_call *call)
{
	if (call)
		call_free(call);
}
