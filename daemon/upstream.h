/*
 * What the clients of the upstream services (ec2.c, opencast.c, zadara.c)
 * share: a client's set of calls in flight, and a call with its attempt
 * counter, its timer (the first try goes out on the next loop turn, a
 * retry after a capped exponential backoff with full jitter) and its HTTP
 * request.  Each client keeps what is its own: building and signing a
 * request, reading and classifying the answer, and its callbacks.  A client
 * embeds a struct upstream, and each of its calls a struct upstream_call.
 *
 * Who ends what:
 *  - A client is held by its owner until upstream_release(), and pinned by
 *    every call in flight: ops->release frees it once both are over.  So an
 *    owner who lets go of a client (a reload that changes a URL) does not
 *    end anyone's calls: they go on and are answered as usual.
 *  - A call ends with upstream_call_end(), which the client calls after it
 *    has answered the call, or when the call's owner cancelled it.
 *  - When the HTTP client shuts down (the daemon is tearing down, see
 *    http_client_shutdown()), every call of every client still in flight
 *    goes to ops->cancel, which answers it with the client's "cancelled"
 *    error and ends it; a call made after that is answered the same way
 *    from the loop, and nothing is sent any more.
 *
 * The fields of both structs are upstream.c's, except those marked for the
 * client.
 */
#ifndef EC2M_UPSTREAM_H
#define EC2M_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <uv.h>

#include "common/xrand.h"
#include "daemon/http.h"

struct looptimer;
struct upstream;
struct upstream_call;

/* The struct of type `type` whose member `member` is at ptr. */
#define UPSTREAM_OWNER(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

typedef void upstream_fn(struct upstream_call *call);

struct upstream_ops {
	/* A try ended with answer r (call->http is NULL again). */
	void	(*answer)(struct upstream_call *call,
		    const struct http_response *r);
	/* Answers the call with the client's "cancelled" error and ends it
	 * (it must end it).  Callbacks of other calls may run meanwhile. */
	upstream_fn *cancel;
	/* Frees the client: the owner has let go and the last call ended. */
	void	(*release)(struct upstream *u);
	/* The service label of its metrics: "ec2", "opencast", "zadara". */
	const char *service;
};

struct upstream_retry {
	int	 max_attempts;	/* tries per call, the first included */
	double	 base_s;	/* full jitter: the wait before try n+1 is */
	double	 cap_s;		/* rand * min(base_s * 2^(n-1), cap_s) */
	uint64_t deadline_ms;	/* no retry starts later than this after the
				   call was made; 0: no limit */
};

struct upstream {
	uv_loop_t	*loop;		/* for the client too */
	struct http_client *http;
	const struct upstream_ops *ops;
	struct upstream_retry retry;
	struct xrand	 rng;		/* jitter; for the client too */
	TAILQ_HEAD(upstream_calls, upstream_call) calls; /* read-only */
	size_t		 ncalls;
	bool		 held;		/* by its owner */
	bool		 shut;		/* the HTTP client has shut down */
	int		 sweeping;	/* answering its calls at shutdown */
	struct http_watch watch;
};

struct upstream_call {
	struct upstream	*u;
	int		 attempts;	/* tries so far: the client counts */
	uint64_t	 made;		/* loop time of upstream_call_start() */
	upstream_fn	*send;		/* a try; runs on the call's timer */
	struct looptimer *timer;
	struct http_call *http;		/* the request in flight */
	bool		 late;		/* made after the shutdown */
	const char	*what;		/* for the client: the call label of
					   its metrics (a static string, set
					   before upstream_submit()) */
	uint64_t	 sent_ns;	/* uv_hrtime() of the try in flight */
	TAILQ_ENTRY(upstream_call) link;
};

/* Sets up a client held by its owner.  max_attempts < 1 counts as 1. */
void upstream_init(struct upstream *u, uv_loop_t *loop,
    struct http_client *http, const struct upstream_ops *ops,
    const struct upstream_retry *retry);
/* The owner lets go.  ops->release runs now when no call is in flight
 * (before this returns), else when the last one ends. */
void upstream_release(struct upstream *u);

/* Adds a call to u (pinning it) and runs send(call) on the next loop turn,
 * so that no callback runs before the function that made the call has
 * returned. */
void upstream_call_start(struct upstream *u, struct upstream_call *call,
    upstream_fn *send);
/* Runs call->send again after ms (a client's own wait, e.g. a poll). */
void upstream_call_later(struct upstream_call *call, uint64_t ms);

/* True when another try is allowed: attempts left and the deadline not
 * passed.  Which failures deserve one is the client's decision. */
bool upstream_can_retry(const struct upstream_call *call);
/* If upstream_can_retry(), logs "<why>; retry N of M in S s", runs
 * call->send after the backoff, and returns true; else returns false. */
bool upstream_retry(struct upstream_call *call, const char *why);

/* Sends one try; ops->answer receives the outcome.  Returns -1 when the
 * request cannot be started (nothing will be answered: the client ends the
 * call with its own error).  After the shutdown nothing is sent and the
 * call goes to ops->cancel from the loop. */
int upstream_submit(struct upstream_call *call,
    const struct http_request *req);

/* Ends a call: cancels its request and timer and unpins the client, which
 * may go (ops->release) before this returns.  The call's memory is the
 * client's. */
void upstream_call_end(struct upstream_call *call);

#endif
