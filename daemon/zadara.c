/*
 * Zadara portal calls on the loop, in the manner of the Opencast client:
 * each call is a request description plus a reader for its answer, and a
 * try that fails transiently waits a full-jitter backoff on the call's own
 * timer before the next.  A hibernate or restore is not idempotent (a
 * second restore while the first runs can leave the array `failed`), so a
 * try after a failed one first reads the state and sends the action again
 * only if the array is still where it was; if it has moved along the
 * action's path, the earlier request went through and the call succeeds.
 *
 * zadara_ensure() is a call too: it owns a poll timer and at most one
 * sub-call (a read or an action) at a time, made through the public
 * functions with itself as the callback argument.
 */
#include "daemon/zadara.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/log.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "common/xrand.h"
#include "daemon/http.h"
#include "daemon/upstream.h"

#define ZADARA_MAX_BODY (1u << 20)

struct zadara_client {
	struct upstream up;
	char	*base_url;	/* without a trailing slash */
	char	*token;
	long	 timeout_ms;
};

enum zcall_kind { ZCALL_STATE, ZCALL_HIBERNATE, ZCALL_RESTORE, ZCALL_ENSURE };

struct zadara_call {
	struct upstream_call up;
	struct zadara_client *client;
	enum zcall_kind kind;
	char	*id;		/* as the caller gave it */
	char	*path;		/* what the call sends */
	char	*state_path;	/* /api/vpsas/ID.json */
	bool	 check_first;	/* next try reads the state first */
	bool	 sent_get;	/* a state read is in flight */
	bool	 in_cb;		/* a callback of the call runs */
	bool	 cancelled;	/* ... and it cancelled the call */
	struct zadara_error last;	/* an action's last failed try */
	union {
		zadara_vpsa_fn *vpsa;
		zadara_action_fn *action;
		zadara_ensure_fn *ensure;
	} cb;
	void	*arg;

	/* A sub-call of an ensure points to it, and the ensure to its
	 * sub-call, so that either can go first. */
	struct zadara_call *parent;
	struct zadara_call *sub;

	/* zadara_ensure() */
	enum zadara_target target;
	struct zadara_wait wait;
	bool	 dry_run;
	zadara_progress_fn *progress;
	enum zadara_phase phase;
	int	 polls;
	bool	 read_once;	/* the first read has started */
	uint64_t poll_sent;	/* loop time the last read was started */
	struct zadara_vpsa vpsa;	/* as last read */
	bool	 have_vpsa;
};

#define ZADARA_CALL(u) UPSTREAM_OWNER(u, struct zadara_call, up)

static void call_send(struct upstream_call *up);
static void on_answer(struct upstream_call *up, const struct http_response *r);
static void on_cancel(struct upstream_call *up);
static void on_release(struct upstream *u);
static void ensure_end(struct zadara_call *e, enum zadara_outcome outcome,
    const char *message, struct zadara_error *err);

static const struct upstream_ops zadara_ops = {
	on_answer, on_cancel, on_release, "zadara",
};

struct zadara_client *
zadara_client_new(uv_loop_t *loop, struct http_client *http,
    const struct zadara_settings *s)
{
	struct zadara_client *c = xcalloc(1, sizeof(*c));
	struct upstream_retry retry = { 0 };
	size_t n;

	c->base_url = xstrdup(s->base_url ? s->base_url : "");
	n = strlen(c->base_url);
	while (n > 0 && c->base_url[n - 1] == '/')
		c->base_url[--n] = '\0';
	c->token = xstrdup(s->token ? s->token : "");
	c->timeout_ms = s->timeout_ms > 0 ? s->timeout_ms : 10000;
	retry.max_attempts = s->max_attempts > 0 ? s->max_attempts : 3;
	retry.base_s = s->backoff_base_s > 0 ? s->backoff_base_s : 0.5;
	retry.cap_s = 10;
	upstream_init(&c->up, loop, http, &zadara_ops, &retry);
	return c;
}

const char *
zadara_client_url(const struct zadara_client *c)
{
	return c->base_url;
}

/* Called by the upstream layer once nobody holds the client and its last
 * call has ended. */
static void
on_release(struct upstream *u)
{
	struct zadara_client *c = UPSTREAM_OWNER(u, struct zadara_client, up);

	free(c->base_url);
	free_secret(c->token);
	free(c);
}

static void
call_free(struct zadara_call *call)
{
	if (call->parent)
		call->parent->sub = NULL;
	if (call->sub) {
		call->sub->parent = NULL;
		call_free(call->sub);
	}
	free(call->id);
	free(call->path);
	free(call->state_path);
	/* May free the client: the last thing that touches it. */
	upstream_call_end(&call->up);
	free(call);
}

void
zadara_call_cancel(struct zadara_call *call)
{
	if (call == NULL)
		return;
	if (call->in_cb) {
		/* Freed once the callback has returned. */
		call->cancelled = true;
		return;
	}
	call_free(call);
}

void
zadara_client_free(struct zadara_client *c)
{
	if (c != NULL)
		upstream_release(&c->up);
}

/* Masks the token wherever a message quotes it (a server could echo it). */
static void
scrub(const struct zadara_client *c, char *msg)
{
	size_t n = strlen(c->token);
	char *p;

	if (n < 4)
		return;
	while ((p = strstr(msg, c->token)) != NULL)
		memset(p, '*', n);
}

static const char *
action_verb(enum zcall_kind kind)
{
	return kind == ZCALL_RESTORE ? "restore" : "hibernate";
}

/* Hands the outcome of a read or an action to the caller and ends it. */
static void
call_finish(struct zadara_call *call, const struct zadara_vpsa *vpsa,
    const char *text, struct zadara_error *err)
{
	if (err) {
		err->attempts = call->up.attempts;
		scrub(call->client, err->message);
	}
	call->in_cb = true;
	if (call->kind == ZCALL_STATE)
		call->cb.vpsa(call->arg, err ? NULL : vpsa, err);
	else
		call->cb.action(call->arg, err ? NULL : text, err);
	call_free(call);
}

/* Called by the upstream layer when the daemon tears down. */
static void
on_cancel(struct upstream_call *up)
{
	struct zadara_call *call = ZADARA_CALL(up);
	struct zadara_error err = { 0 };

	zadara_error_set(&err, ZADARA_ERR_CANCELLED, "Zadara request for VPSA "
	    "%s cancelled: the daemon is shutting down", call->id);
	if (call->kind == ZCALL_ENSURE)
		ensure_end(call, ZADARA_ALREADY, NULL, &err);
	else
		call_finish(call, NULL, NULL, &err);
}

static bool
retryable(const struct zadara_error *err)
{
	return err->kind == ZADARA_ERR_UNREACHABLE ||
	    (err->kind == ZADARA_ERR_HTTP && err->http_status >= 500);
}

static bool
schedule_retry(struct zadara_call *call, const struct zadara_error *err)
{
	if (!retryable(err) || !upstream_can_retry(&call->up))
		return false;
	if (call->kind != ZCALL_STATE) {
		/* The action may have been carried out all the same. */
		call->check_first = true;
		call->last = *err;
	}
	return upstream_retry(&call->up, err->message);
}

static void
send_request(struct zadara_call *call, bool get)
{
	struct zadara_client *c = call->client;
	struct http_request req = { 0 };
	const char *headers[4];
	const char *path = get ? call->state_path : call->path;
	char *auth = xasprintf("X-Token: %s", c->token);
	char *url = xasprintf("%s%s", c->base_url, path);
	struct zadara_error err = { 0 };
	int rc;

	headers[0] = auth;
	headers[1] = "Content-Type: application/json";
	headers[2] = "Accept: application/json";
	headers[3] = NULL;
	req.method = get ? "GET" : "POST";
	req.url = url;
	req.headers = headers;
	req.body = get ? NULL : "";
	req.body_len = 0;
	req.timeout_ms = c->timeout_ms;
	req.connect_timeout_ms = c->timeout_ms < 5000 ? c->timeout_ms : 5000;
	req.max_body = ZADARA_MAX_BODY;
	call->sent_get = get;
	call->up.what = get ? "vpsa" : action_verb(call->kind);
	log_debug("Zadara %s %s: try %d", req.method, path,
	    call->up.attempts);
	rc = upstream_submit(&call->up, &req);
	free_secret(auth);
	free(url);
	if (rc != 0) {
		zadara_error_set(&err, ZADARA_ERR_UNREACHABLE, "cannot start a "
		    "request to %s", c->base_url);
		call_finish(call, NULL, NULL, &err);
	}
}

/* Starts a try: the request itself, or a state read before an action is
 * sent again. */
static void
call_send(struct upstream_call *up)
{
	struct zadara_call *call = ZADARA_CALL(up);
	struct zadara_client *c = call->client;
	struct zadara_error err = { 0 };

	if (c->token[0] == '\0') {
		zadara_error_set(&err, ZADARA_ERR_CONFIG, "no Zadara account "
		    "token (credential zadara-token or ZADARA_ACCOUNT_TOKEN)");
	} else if (strpbrk(c->token, "\r\n\t") != NULL) {
		zadara_error_set(&err, ZADARA_ERR_CONFIG, "the Zadara account "
		    "token contains a line break or tab");
	} else if (call->id[0] == '\0') {
		zadara_error_set(&err, ZADARA_ERR_CONFIG, "no VPSA id");
	} else {
		call->up.attempts++;
		send_request(call, call->kind == ZCALL_STATE ||
		    call->check_first);
		return;
	}
	/* Nothing was sent: reported with 0 attempts. */
	call_finish(call, NULL, NULL, &err);
}

/* True when status lies on the way of the action or at its end, i.e. the
 * action went through. */
static bool
on_action_path(enum zcall_kind kind, const char *status)
{
	static const char *const restore[] = { "launching", "booting",
	    "restoring", "created", NULL };
	static const char *const hibernate[] = { "hibernate_offlining",
	    "hibernating", "hibernated", NULL };

	for (const char *const *s = kind == ZCALL_RESTORE ? restore :
	    hibernate; *s; s++)
		if (strcmp(*s, status) == 0)
			return true;
	return false;
}

/* The state read before an action is sent again. */
static void
action_checked(struct zadara_call *call, const struct zadara_vpsa *v)
{
	enum zadara_state from = call->kind == ZCALL_RESTORE ? ZADARA_DOWN :
	    ZADARA_UP;
	const char *verb = action_verb(call->kind);
	struct zadara_error err = call->last;
	char text[160];

	if (v->state == from) {
		log_info("VPSA %s is still %s: sending %s again", call->id,
		    v->status, verb);
		call->check_first = false;
		send_request(call, false);
		return;
	}
	if (on_action_path(call->kind, v->status)) {
		log_info("VPSA %s is %s: the earlier %s went through", call->id,
		    v->status, verb);
		utf8_snprintf(text, sizeof(text),
		    "VPSA %s is %s: the earlier %s "
		    "request went through", call->id, v->status, verb);
		call_finish(call, NULL, text, NULL);
		return;
	}
	if (v->state == ZADARA_FAILED)
		zadara_error_set(&err, ZADARA_ERR_FAILED, "VPSA %s is in state "
		    "failed after a %s request that got no clear answer",
		    call->id, verb);
	else
		zadara_error_set(&err, call->last.kind, "%s; VPSA %s is now "
		    "%s, so %s was not sent again", call->last.message,
		    call->id, v->status, verb);
	call_finish(call, NULL, NULL, &err);
}

/* Adds ": <message>" from an error body, if it has one. */
static void
body_message(const struct http_response *r, char *buf, size_t len)
{
	char msg[256];

	buf[0] = '\0';
	if (zadara_error_body(r->body, r->body_len, msg, sizeof(msg)))
		utf8_snprintf(buf, len, ": %s", msg);
}

/* Puts the formatted text before err's message. */
static void
prefix(struct zadara_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
prefix(struct zadara_error *err, const char *fmt, ...)
{
	va_list ap;
	char *head, *msg;

	va_start(ap, fmt);
	head = utf8_vasprintf(fmt, ap);
	va_end(ap);
	msg = utf8_asprintf("%s%s", head, err->message);
	utf8_copy(err->message, sizeof(err->message), msg, strlen(msg));
	free(msg);
	free(head);
}

/* Called by the upstream layer when a request ends. */
static void
on_answer(struct upstream_call *up, const struct http_response *r)
{
	struct zadara_call *call = ZADARA_CALL(up);
	struct zadara_client *c = call->client;
	const char *path = call->sent_get ? call->state_path : call->path;
	const char *method = call->sent_get ? "GET" : "POST";
	struct zadara_error err = { 0 };
	struct zadara_vpsa vpsa;
	char extra[260], text[256];

	err.http_status = r->status;
	if (!r->ok) {
		zadara_error_set(&err, ZADARA_ERR_UNREACHABLE, "Zadara "
		    "unreachable at %s: %s", c->base_url, r->error);
	} else if (r->status == 401 || r->status == 403) {
		zadara_error_set(&err, ZADARA_ERR_AUTH, "Zadara rejected the "
		    "account token (HTTP %ld from %s%s)", r->status,
		    c->base_url, path);
	} else if (r->status == 404) {
		zadara_error_set(&err, ZADARA_ERR_NOT_FOUND, "no VPSA %s at %s "
		    "(HTTP 404 from %s)", call->id, c->base_url, path);
	} else if (r->status >= 400 && r->status < 500 && !call->sent_get) {
		body_message(r, extra, sizeof(extra));
		zadara_error_set(&err, ZADARA_ERR_REFUSED, "Zadara refused to "
		    "%s VPSA %s (HTTP %ld)%s", action_verb(call->kind),
		    call->id, r->status, extra);
	} else if (r->status < 200 || r->status > 299) {
		body_message(r, extra, sizeof(extra));
		zadara_error_set(&err, ZADARA_ERR_HTTP, "Zadara answered HTTP "
		    "%ld to %s %s%s%s", r->status, method, c->base_url, path,
		    extra);
	} else if (call->sent_get) {
		if (zadara_parse_vpsa(r->body, r->body_len, &vpsa, &err) == 0) {
			if (vpsa.id[0] == '\0')
				utf8_snprintf(vpsa.id, sizeof(vpsa.id), "%s",
				    call->id);
			if (call->kind == ZCALL_STATE)
				call_finish(call, &vpsa, NULL, NULL);
			else
				action_checked(call, &vpsa);
			return;
		}
		prefix(&err, "%s%s: ", c->base_url, path);
	} else if (zadara_parse_action(r->body, r->body_len, text,
	    sizeof(text), &err) == 0) {
		call_finish(call, NULL, text, NULL);
		return;
	} else if (err.kind == ZADARA_ERR_PARSE) {
		/* The portal said yes; only its words are garbled. */
		scrub(c, err.message);
		log_warnx("%s%s: %s; taking HTTP %ld as accepted", c->base_url,
		    path, err.message, r->status);
		call_finish(call, NULL, "", NULL);
		return;
	} else {
		prefix(&err, "Zadara refused to %s VPSA %s: ",
		    action_verb(call->kind), call->id);
	}
	scrub(c, err.message);
	if (schedule_retry(call, &err))
		return;
	call_finish(call, NULL, NULL, &err);
}

static struct zadara_call *
call_start(struct zadara_client *c, enum zcall_kind kind, const char *id,
    void *arg, upstream_fn *send)
{
	struct zadara_call *call = xcalloc(1, sizeof(*call));
	char *esc = curl_easy_escape(NULL, id ? id : "", 0);

	if (esc == NULL)
		abort();
	call->client = c;
	call->kind = kind;
	call->id = xstrdup(id ? id : "");
	call->state_path = xasprintf("/api/vpsas/%s.json", esc);
	if (kind == ZCALL_HIBERNATE || kind == ZCALL_RESTORE)
		call->path = xasprintf("/api/vpsas/%s/%s.json", esc,
		    action_verb(kind));
	else
		call->path = xstrdup(call->state_path);
	curl_free(esc);
	call->arg = arg;
	upstream_call_start(&c->up, &call->up, send);
	return call;
}

struct zadara_call *
zadara_get_state(struct zadara_client *c, const char *vpsa_id,
    zadara_vpsa_fn *cb, void *arg)
{
	struct zadara_call *call = call_start(c, ZCALL_STATE, vpsa_id, arg,
	    call_send);

	call->cb.vpsa = cb;
	return call;
}

struct zadara_call *
zadara_hibernate(struct zadara_client *c, const char *vpsa_id,
    zadara_action_fn *cb, void *arg)
{
	struct zadara_call *call = call_start(c, ZCALL_HIBERNATE, vpsa_id,
	    arg, call_send);

	call->cb.action = cb;
	return call;
}

struct zadara_call *
zadara_restore(struct zadara_client *c, const char *vpsa_id,
    zadara_action_fn *cb, void *arg)
{
	struct zadara_call *call = call_start(c, ZCALL_RESTORE, vpsa_id, arg,
	    call_send);

	call->cb.action = cb;
	return call;
}

/* zadara_ensure() */

static const char *
label(const struct zadara_call *e, char *buf, size_t len)
{
	if (e->have_vpsa && e->vpsa.name[0])
		utf8_snprintf(buf, len, "VPSA %s (%s)", e->id, e->vpsa.name);
	else
		utf8_snprintf(buf, len, "VPSA %s", e->id);
	return buf;
}

static void
ensure_end(struct zadara_call *e, enum zadara_outcome outcome,
    const char *message, struct zadara_error *err)
{
	struct zadara_result r = { 0 };

	if (err)
		scrub(e->client, err->message);
	r.outcome = outcome;
	r.vpsa = e->have_vpsa ? &e->vpsa : NULL;
	r.polls = e->polls;
	r.message = err ? err->message : message;
	e->in_cb = true;
	e->cb.ensure(e->arg, &r, err);
	call_free(e);
}

static void
ensure_fail(struct zadara_call *e, enum zadara_err_kind kind,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
ensure_fail(struct zadara_call *e, enum zadara_err_kind kind,
    const char *fmt, ...)
{
	struct zadara_error err = { 0 };
	va_list ap;

	err.kind = kind;
	va_start(ap, fmt);
	utf8_vsnprintf(err.message, sizeof(err.message), fmt, ap);
	va_end(ap);
	ensure_end(e, ZADARA_ALREADY, NULL, &err);
}

/* Tells the caller how things stand.  Returns false when the caller
 * cancelled the ensure from its progress callback (it is gone then). */
static bool
report(struct zadara_call *e, enum zadara_phase phase, const char *message)
{
	struct zadara_progress p = { 0 };

	if (e->progress == NULL)
		return true;
	p.phase = phase;
	p.vpsa = &e->vpsa;
	p.poll = e->polls;
	p.max_polls = e->wait.max_polls;
	p.message = message;
	e->in_cb = true;
	e->progress(e->arg, &p);
	e->in_cb = false;
	if (e->cancelled) {
		call_free(e);
		return false;
	}
	return true;
}

/* Waits one interval (with 10% jitter), counted from the start of the last
 * read, so that a slow answer does not stretch the schedule. */
static void
schedule_poll(struct zadara_call *e)
{
	struct zadara_client *c = e->client;
	double want = (double)e->wait.interval_ms *
	    (0.9 + 0.2 * xrand01(&c->up.rng));
	uint64_t spent = uv_now(c->up.loop) - e->poll_sent;
	uint64_t delay = want > (double)spent ? (uint64_t)want - spent : 0;

	upstream_call_later(&e->up, delay);
}

static void ensure_on_vpsa(void *arg, const struct zadara_vpsa *v,
    const struct zadara_error *err);
static void ensure_on_action(void *arg, const char *response,
    const struct zadara_error *err);

/* The ensure's timer: its first read, or a poll. */
static void
ensure_read(struct upstream_call *up)
{
	struct zadara_call *e = ZADARA_CALL(up);

	if (e->read_once)
		e->polls++;
	e->read_once = true;
	e->poll_sent = uv_now(e->client->up.loop);
	e->sub = zadara_get_state(e->client, e->id, ensure_on_vpsa, e);
	e->sub->parent = e;
}

/* Detaches the sub-call whose callback is running; it frees itself. */
static void
detach_sub(struct zadara_call *e)
{
	if (e->sub) {
		e->sub->parent = NULL;
		e->sub = NULL;
	}
}

static void
ensure_settle(struct zadara_call *e, const struct zadara_vpsa *v)
{
	bool up = e->target == ZADARA_TARGET_UP;
	enum zadara_state want = up ? ZADARA_UP : ZADARA_DOWN;
	const char *verb = up ? "resume" : "hibernate";
	char name[200], msg[400];

	label(e, name, sizeof(name));
	if (v->state == want) {
		utf8_snprintf(msg, sizeof(msg), "%s is already %s", name,
		    up ? "up" : "hibernated");
		ensure_end(e, ZADARA_ALREADY, msg, NULL);
		return;
	}
	if (v->state == ZADARA_UP || v->state == ZADARA_DOWN) {
		if (e->dry_run) {
			utf8_snprintf(msg, sizeof(msg),
			    "would %s %s, which is %s",
			    verb, name, v->status);
			ensure_end(e, ZADARA_WOULD_CHANGE, msg, NULL);
			return;
		}
		log_info("%s is %s: sending %s", name, v->status,
		    up ? "restore" : "hibernate");
		e->sub = (up ? zadara_restore : zadara_hibernate)(e->client,
		    e->id, ensure_on_action, e);
		e->sub->parent = e;
		return;
	}
	/* Transitional, or a status we do not know: never act on it. */
	if (e->dry_run) {
		utf8_snprintf(msg, sizeof(msg),
		    "%s is %s: would wait for it to "
		    "settle, then %s it unless it is %s", name, v->status, verb,
		    up ? "up" : "hibernated");
		ensure_end(e, ZADARA_WOULD_CHANGE, msg, NULL);
		return;
	}
	utf8_snprintf(msg, sizeof(msg), "%s is %s: waiting for it to settle "
	    "(poll %d of %d)", name, v->status, e->polls, e->wait.max_polls);
	if (!report(e, ZADARA_PHASE_SETTLE, msg))
		return;
	if (e->polls >= e->wait.max_polls) {
		ensure_fail(e, ZADARA_ERR_TIMEOUT, "%s is still %s after %d "
		    "polls; not %s", name, v->status, e->polls,
		    up ? "resumed" : "hibernated");
		return;
	}
	schedule_poll(e);
}

static void
ensure_target(struct zadara_call *e, const struct zadara_vpsa *v)
{
	bool up = e->target == ZADARA_TARGET_UP;
	enum zadara_state want = up ? ZADARA_UP : ZADARA_DOWN;
	char name[200], msg[400];

	label(e, name, sizeof(name));
	utf8_snprintf(msg, sizeof(msg), "%s is %s (poll %d of %d)", name,
	    v->status, e->polls, e->wait.max_polls);
	if (!report(e, ZADARA_PHASE_TARGET, msg))
		return;
	if (v->state == want) {
		utf8_snprintf(msg, sizeof(msg),
		    "%s is %s after %d poll%s", name,
		    up ? "up" : "hibernated", e->polls,
		    e->polls == 1 ? "" : "s");
		ensure_end(e, ZADARA_CHANGED, msg, NULL);
		return;
	}
	if (e->polls >= e->wait.max_polls) {
		ensure_fail(e, ZADARA_ERR_TIMEOUT, "%s did not %s: still %s "
		    "after %d polls", name, up ? "come up" : "hibernate",
		    v->status, e->polls);
		return;
	}
	schedule_poll(e);
}

static void
ensure_on_vpsa(void *arg, const struct zadara_vpsa *v,
    const struct zadara_error *err)
{
	struct zadara_call *e = arg;
	struct zadara_error copy;
	char name[200];

	detach_sub(e);
	if (err) {
		copy = *err;
		ensure_end(e, ZADARA_ALREADY, NULL, &copy);
		return;
	}
	e->vpsa = *v;
	e->have_vpsa = true;
	if (v->state == ZADARA_FAILED) {
		ensure_fail(e, ZADARA_ERR_FAILED, "%s is in state failed; see "
		    "the Zadara provisioning portal", label(e, name,
		    sizeof(name)));
		return;
	}
	if (e->phase == ZADARA_PHASE_SETTLE)
		ensure_settle(e, v);
	else
		ensure_target(e, v);
}

static void
ensure_on_action(void *arg, const char *response,
    const struct zadara_error *err)
{
	struct zadara_call *e = arg;
	struct zadara_error copy;
	char name[200], msg[500];

	detach_sub(e);
	if (err) {
		copy = *err;
		ensure_end(e, ZADARA_ALREADY, NULL, &copy);
		return;
	}
	e->phase = ZADARA_PHASE_TARGET;
	e->polls = 0;
	utf8_snprintf(msg, sizeof(msg), "Zadara accepted the %s of %s%s%s",
	    e->target == ZADARA_TARGET_UP ? "restore" : "hibernation",
	    label(e, name, sizeof(name)), response && *response ? ": " : "",
	    response ? response : "");
	log_info("%s", msg);
	if (!report(e, ZADARA_PHASE_ACTION, msg))
		return;
	e->poll_sent = uv_now(e->client->up.loop);
	schedule_poll(e);
}

struct zadara_call *
zadara_ensure(struct zadara_client *c, const char *vpsa_id,
    enum zadara_target target, const struct zadara_wait *w, bool dry_run,
    zadara_progress_fn *progress, zadara_ensure_fn *done, void *arg)
{
	struct zadara_call *e = call_start(c, ZCALL_ENSURE, vpsa_id, arg,
	    ensure_read);

	e->cb.ensure = done;
	e->target = target;
	e->wait.interval_ms = w && w->interval_ms > 0 ? w->interval_ms : 30000;
	e->wait.max_polls = w && w->max_polls > 0 ? w->max_polls : 20;
	e->dry_run = dry_run;
	e->progress = progress;
	e->phase = ZADARA_PHASE_SETTLE;
	return e;
}
