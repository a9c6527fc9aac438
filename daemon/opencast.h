/*
 * The asynchronous Opencast client: the me.json credentials probe,
 * hosts.json, job state in one request (activeJobs.json, or statistics.json
 * for Matterhorn 1.x), and the maintenance switch.  HTTP Digest
 * authentication is libcurl's; the user and password are never logged.
 * The client keeps its libcurl handles between requests (http_session),
 * so that once challenged it answers the next requests with the nonce it
 * has, in one round trip; a nonce that has expired (stale=true) is renewed
 * by libcurl without an error.  Failed reads and maintenance calls (both
 * idempotent) are retried with backoff when the failure is transient (no
 * answer, 5xx).
 *
 * Every call is answered exactly once, by its callback, unless its owner
 * cancels it (oc_call_cancel()).  A call pins its client: oc_client_free()
 * only releases the owner's hold, and calls in flight go on and are
 * answered as usual (see upstream.h).  When the daemon tears down (the
 * HTTP client shuts down), calls still in flight are answered with
 * OC_ERR_CANCELLED.
 */
#ifndef EC2M_OPENCAST_H
#define EC2M_OPENCAST_H

#include <stdbool.h>

#include <uv.h>

#include "daemon/opencast_msg.h"

struct http_client;
struct oc_client;
struct oc_call;

enum oc_job_source { OC_JOBS_ACTIVE, OC_JOBS_STATISTICS };

struct oc_settings {
	const char *base_url;	/* the admin node, e.g. http://10.0.1.10:8080 */
	const char *user;
	const char *password;
	long	 timeout_ms;	/* per request; 0: 10 s */
	int	 max_attempts;	/* 0: 3 */
	double	 backoff_base_s;	/* 0: 0.5 s */
};

/* Copies what it needs from s (the password is wiped when the client
 * goes).  http must outlive the client's last call. */
struct oc_client *oc_client_new(uv_loop_t *loop, struct http_client *http,
    const struct oc_settings *s);
/* Releases the owner's hold.  Calls in flight are not ended: each is
 * answered by its callback as usual, and the client goes with the last of
 * them (its URL, user and connections with it).  NULL is a no-op.  Some
 * memory is released by libuv close callbacks: run the loop afterwards. */
void oc_client_free(struct oc_client *c);
const char *oc_client_url(const struct oc_client *c);

/* Callbacks run from the loop, never before the call's function returns.
 * err is NULL on success; results passed in are owned by the callee. */
typedef void oc_done_fn(void *arg, const struct oc_error *err);
typedef void oc_hosts_fn(void *arg, struct oc_hosts *hosts,
    const struct oc_error *err);
typedef void oc_jobs_fn(void *arg, struct oc_jobs *jobs,
    const struct oc_error *err);

/* GET /info/me.json with the digest headers: fails unless Opencast
 * answers for the configured user with ROLE_ADMIN. */
struct oc_call *oc_check_me(struct oc_client *c, oc_done_fn *cb, void *arg);
struct oc_call *oc_get_hosts(struct oc_client *c, oc_hosts_fn *cb, void *arg);
/* high_load is copied. */
struct oc_call *oc_get_jobs(struct oc_client *c, enum oc_job_source src,
    const struct oc_service_set *high_load, oc_jobs_fn *cb, void *arg);
/* POST /services/maintenance for the host whose base URL is host_url. */
struct oc_call *oc_set_maintenance(struct oc_client *c, const char *host_url,
    bool on, oc_done_fn *cb, void *arg);
/* The call's owner ends it: its callback is not called, which is the
 * owner's own answer to whoever waits on the call.  Not for a call whose
 * callback is running (it ends when that returns).  NULL is a no-op. */
void oc_call_cancel(struct oc_call *call);

#endif
