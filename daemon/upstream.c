/*
 * The upstream-call layer (see upstream.h): a client's calls in flight in
 * a TAILQ, each on its own looptimer, and the rule that a client lives as
 * long as its owner holds it or a call of its own is in flight.
 */
#include "daemon/upstream.h"

#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/aws.h"
#include "daemon/looptimer.h"
#include "daemon/metrics.h"

static void on_shutdown(struct http_watch *w);

static const char *
service_of(const struct upstream *u)
{
	return u->ops->service ? u->ops->service : "other";
}

/* Counts and times the try that ended with r (NULL: its owner ended the
 * call first). */
static void
count_try(struct upstream_call *call, const struct http_response *r)
{
	double s = (double)(uv_hrtime() - call->sent_ns) / 1e9;

	metrics_upstream_request(service_of(call->u), call->what ?
	    call->what : "other", r ? metrics_http_outcome(r->status, r->ok,
	    r->timed_out, r->cancelled) : "cancelled", s);
	call->sent_ns = 0;
}

/* Frees the client once nobody holds it and no call pins it. */
static void
maybe_release(struct upstream *u)
{
	if (u->held || u->ncalls > 0 || u->sweeping > 0)
		return;
	http_watch_remove(&u->watch);
	u->ops->release(u);
}

void
upstream_init(struct upstream *u, uv_loop_t *loop, struct http_client *http,
    const struct upstream_ops *ops, const struct upstream_retry *retry)
{
	u->loop = loop;
	u->http = http;
	u->ops = ops;
	u->retry = *retry;
	if (u->retry.max_attempts < 1)
		u->retry.max_attempts = 1;
	xrand_seed(&u->rng, uv_hrtime() ^ ((uint64_t)getpid() << 32) ^
	    (uintptr_t)u);
	TAILQ_INIT(&u->calls);
	u->ncalls = 0;
	u->held = true;
	u->sweeping = 0;
	u->watch.shutdown = on_shutdown;
	u->shut = !http_watch_add(http, &u->watch);
}

void
upstream_release(struct upstream *u)
{
	u->held = false;
	maybe_release(u);
}

/* Called by the call's timer: a try, or the answer after the shutdown. */
static void
on_timer(void *arg)
{
	struct upstream_call *call = arg;

	if (call->u->shut)
		call->u->ops->cancel(call);
	else
		call->send(call);
}

void
upstream_call_start(struct upstream *u, struct upstream_call *call,
    upstream_fn *send)
{
	call->u = u;
	call->attempts = 0;
	call->made = uv_now(u->loop);
	call->send = send;
	call->timer = looptimer_new(u->loop, call);
	call->http = NULL;
	call->late = u->shut;
	call->sent_ns = 0;
	TAILQ_INSERT_TAIL(&u->calls, call, link);
	u->ncalls++;
	looptimer_start(call->timer, 0, on_timer);
}

void
upstream_call_later(struct upstream_call *call, uint64_t ms)
{
	looptimer_start(call->timer, ms, on_timer);
}

bool
upstream_can_retry(const struct upstream_call *call)
{
	const struct upstream *u = call->u;

	if (u->shut || call->attempts >= u->retry.max_attempts)
		return false;
	return u->retry.deadline_ms == 0 ||
	    uv_now(u->loop) - call->made < u->retry.deadline_ms;
}

bool
upstream_retry(struct upstream_call *call, const char *why)
{
	struct upstream *u = call->u;
	struct aws_retry_policy p = { u->retry.max_attempts, u->retry.base_s,
	    u->retry.cap_s };
	uint64_t ms, left;
	double delay;

	if (!upstream_can_retry(call))
		return false;
	delay = aws_backoff_s(&p, call->attempts, xrand01(&u->rng));
	ms = (uint64_t)(delay * 1000);
	if (u->retry.deadline_ms) {
		left = call->made + u->retry.deadline_ms - uv_now(u->loop);
		if (ms > left)
			ms = left;
	}
	log_info("%s; retry %d of %d in %.2f s", why, call->attempts,
	    u->retry.max_attempts - 1, (double)ms / 1000);
	metrics_upstream_retry(service_of(u), call->what ? call->what :
	    "other");
	looptimer_start(call->timer, ms, on_timer);
	return true;
}

/* Called by the HTTP client when a try ends. */
static void
on_http_done(void *arg, const struct http_response *r)
{
	struct upstream_call *call = arg;

	call->http = NULL;
	count_try(call, r);
	call->u->ops->answer(call, r);
}

int
upstream_submit(struct upstream_call *call, const struct http_request *req)
{
	if (call->u->shut) {
		looptimer_start(call->timer, 0, on_timer);
		return 0;
	}
	call->sent_ns = uv_hrtime();
	call->http = http_submit(call->u->http, req, on_http_done, call);
	return call->http ? 0 : -1;
}

void
upstream_call_end(struct upstream_call *call)
{
	struct upstream *u = call->u;

	TAILQ_REMOVE(&u->calls, call, link);
	u->ncalls--;
	if (call->http)
		count_try(call, NULL);
	http_cancel(call->http);
	call->http = NULL;
	looptimer_free(call->timer);
	call->timer = NULL;
	call->u = NULL;
	maybe_release(u);
}

/* The first call that was in flight when the shutdown began. */
static struct upstream_call *
first_early(struct upstream *u)
{
	struct upstream_call *call;

	TAILQ_FOREACH(call, &u->calls, link)
		if (!call->late)
			return call;
	return NULL;
}

/* Called by the HTTP client when it shuts down: every call in flight is
 * answered as cancelled now.  A call made by one of those callbacks is
 * late: its timer answers it from the loop, after its maker returned. */
static void
on_shutdown(struct http_watch *w)
{
	struct upstream *u = UPSTREAM_OWNER(w, struct upstream, watch);
	struct upstream_call *call;

	u->shut = true;
	u->sweeping++;
	while ((call = first_early(u)) != NULL)
		u->ops->cancel(call);
	u->sweeping--;
	maybe_release(u);
}
