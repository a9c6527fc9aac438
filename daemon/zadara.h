/*
 * The asynchronous Zadara client: reads a VPSA's state from the
 * provisioning portal, hibernates and restores it, and drives it to a
 * target state (zadara_ensure) for the start and stop operations
 * (SPEC §5).  The account token goes in an X-Token header, never in a
 * URL, and is never logged or put in a message.  Reads are retried with
 * backoff when the failure is transient (no answer, 5xx).  A hibernate or
 * restore that failed that way is only sent again after a fresh read shows
 * that the first one did not go through: two restores in a row can drive
 * an array to `failed` (reference §6).
 *
 * Every call is answered exactly once, by its callback, unless its owner
 * cancels it (zadara_call_cancel()).  A call pins its client:
 * zadara_client_free() only releases the owner's hold, and calls in flight
 * go on and are answered as usual (see upstream.h).  When the daemon tears
 * down (the HTTP client shuts down), calls still in flight are answered
 * with ZADARA_ERR_CANCELLED.
 */
#ifndef EC2M_ZADARA_H
#define EC2M_ZADARA_H

#include <stdbool.h>

#include <uv.h>

#include "daemon/zadara_msg.h"

struct http_client;
struct zadara_client;
struct zadara_call;

struct zadara_settings {
	const char *base_url;	/* e.g. https://manage.zadarastorage.com */
	const char *token;	/* the account token */
	long	 timeout_ms;	/* per request; 0: 10 s */
	int	 max_attempts;	/* 0: 3 */
	double	 backoff_base_s;	/* 0: 0.5 s */
};

/* Copies what it needs from s (the token is wiped when the client goes).
 * http must outlive the client's last call.  An empty token is accepted here; every call then
 * fails with ZADARA_ERR_CONFIG. */
struct zadara_client *zadara_client_new(uv_loop_t *loop,
    struct http_client *http, const struct zadara_settings *s);
/* Releases the owner's hold.  Calls in flight are not ended: each is
 * answered by its callback as usual, and the client goes with the last of
 * them.  NULL is a no-op.  Some memory is released by libuv close
 * callbacks: run the loop afterwards. */
void zadara_client_free(struct zadara_client *c);
const char *zadara_client_url(const struct zadara_client *c);

/* Callbacks run from the loop, never before the call's function returns.
 * err is NULL on success; what they are given is valid during the call
 * only.  A callback may cancel other calls and start new ones. */
typedef void zadara_vpsa_fn(void *arg, const struct zadara_vpsa *vpsa,
    const struct zadara_error *err);
/* response: the portal's text ("VPSA restoring."), possibly "". */
typedef void zadara_action_fn(void *arg, const char *response,
    const struct zadara_error *err);

/* GET {base}/api/vpsas/{id}.json. */
struct zadara_call *zadara_get_state(struct zadara_client *c,
    const char *vpsa_id, zadara_vpsa_fn *cb, void *arg);
/* POST {base}/api/vpsas/{id}/hibernate.json with an empty body. */
struct zadara_call *zadara_hibernate(struct zadara_client *c,
    const char *vpsa_id, zadara_action_fn *cb, void *arg);
/* POST {base}/api/vpsas/{id}/restore.json with an empty body. */
struct zadara_call *zadara_restore(struct zadara_client *c,
    const char *vpsa_id, zadara_action_fn *cb, void *arg);

enum zadara_target { ZADARA_TARGET_UP, ZADARA_TARGET_DOWN };

struct zadara_wait {
	long	 interval_ms;	/* between polls; 0: 30 s */
	int	 max_polls;	/* per wait; 0: 20 */
};

enum zadara_phase {
	ZADARA_PHASE_SETTLE,	/* waiting for a transition to end */
	ZADARA_PHASE_ACTION,	/* the portal accepted restore/hibernate */
	ZADARA_PHASE_TARGET,	/* waiting for the target state */
};

struct zadara_progress {
	enum zadara_phase phase;
	const struct zadara_vpsa *vpsa;	/* as last read */
	int	 poll;		/* polls so far (0: the first read) */
	int	 max_polls;
	const char *message;	/* one sentence for an operator */
};

enum zadara_outcome {
	ZADARA_ALREADY,		/* was at the target: nothing sent */
	ZADARA_CHANGED,		/* sent the action, reached the target */
	ZADARA_WOULD_CHANGE,	/* dry run: says what it would have done */
};

struct zadara_result {
	enum zadara_outcome outcome;
	const struct zadara_vpsa *vpsa;	/* last read, NULL if none */
	int	 polls;		/* in the last wait */
	const char *message;	/* on error, err->message */
};

typedef void zadara_progress_fn(void *arg, const struct zadara_progress *p);
/* r is never NULL; err is NULL on success. */
typedef void zadara_ensure_fn(void *arg, const struct zadara_result *r,
    const struct zadara_error *err);

/* Brings the VPSA to target.  Reads its state; while it is in a
 * transitional (or unknown) state, polls every interval until it settles,
 * at most max_polls times.  Already at the target: done, nothing sent.
 * Otherwise sends restore or hibernate and polls until the target state,
 * at most max_polls times, reporting every read through progress (which
 * may be NULL).  `failed` is an error at once; running out of polls is a
 * ZADARA_ERR_TIMEOUT error (whether that is fatal is the caller's
 * decision).  A dry run reads the state once and reports what it would do,
 * without sending anything or waiting.  Cancel with zadara_call_cancel(),
 * also from within progress. */
struct zadara_call *zadara_ensure(struct zadara_client *c,
    const char *vpsa_id, enum zadara_target target,
    const struct zadara_wait *w, bool dry_run, zadara_progress_fn *progress,
    zadara_ensure_fn *done, void *arg);

/* The call's owner ends a call of any kind: its callbacks are not called
 * (again), which is the owner's own answer to whoever waits on the call.
 * From the call's own progress callback it ends when that returns; from
 * its done callback it is a no-op.  NULL is a no-op. */
void zadara_call_cancel(struct zadara_call *call);

#endif
