/*
 * The asynchronous EC2 client: DescribeInstances for a cluster (every page),
 * StartInstances and StopInstances with every id in one call.  Each request
 * is signed with SigV4 and retried with capped exponential backoff and full
 * jitter when the failure is worth retrying.
 *
 * Every call is answered exactly once, by its callback, unless its owner
 * cancels it (ec2_call_cancel()).  A call pins its client:
 * ec2_client_free() only releases the owner's hold, and calls in flight go
 * on and are answered as usual (see upstream.h).  When the daemon tears
 * down (the HTTP client shuts down), calls still in flight are answered
 * with AWS_ERR_CANCELLED.
 */
#ifndef EC2M_EC2_H
#define EC2M_EC2_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "daemon/aws.h"
#include "daemon/ec2_msg.h"

struct http_client;
struct aws_creds_provider;
struct ec2_client;
struct ec2_call;

struct ec2_settings {
	const char *region;
	const char *endpoint;		/* full URL, e.g. https://ec2.eu-west-1.amazonaws.com */
	struct aws_retry_policy retry;
	long	timeout_ms;		/* per HTTP request; 0: default */
	long	connect_timeout_ms;	/* 0: default */
	int	page_size;		/* MaxResults, 5..1000; 0: 1000 */
};

/* The client borrows http and creds; they must outlive its last call.
 * Returns NULL with err when the endpoint URL cannot be used. */
struct ec2_client *ec2_client_new(uv_loop_t *loop, struct http_client *http,
    struct aws_creds_provider *creds, const struct ec2_settings *s,
    char *err, size_t errlen);
/* Releases the owner's hold.  Calls in flight are not ended: each is
 * answered by its callback as usual, and the client goes with the last of
 * them.  A call waiting for credentials withdraws from the provider and
 * asks again from the loop, so that the owner may free the provider in
 * the same loop turn if it also shuts the HTTP client down then, as the
 * daemon's teardown does.  NULL is a no-op.  Some memory is released by
 * libuv close callbacks: run the loop afterwards. */
void ec2_client_free(struct ec2_client *c);

/* instances: on success a list the callee now owns (free with
 * ec2_instance_list_free), NULL on error.  err: NULL on success. */
typedef void ec2_describe_fn(void *arg, struct ec2_instance_list *instances,
    const struct aws_error *err);
/* changes: on success the callee owns it (ec2_state_changes_free); for a
 * dry run that EC2 allowed, an empty list.  err: NULL on success. */
typedef void ec2_change_fn(void *arg, struct ec2_state_changes *changes,
    const struct aws_error *err);

/* Every non-terminated instance whose Name starts with prefix + "-".
 * Callbacks of these calls always run from the loop, never before the
 * function that made the call has returned. */
struct ec2_call *ec2_describe_prefix(struct ec2_client *c, const char *prefix,
    ec2_describe_fn *cb, void *arg);
struct ec2_call *ec2_start_instances(struct ec2_client *c,
    const char *const *ids, size_t n, bool dry_run, ec2_change_fn *cb,
    void *arg);
struct ec2_call *ec2_stop_instances(struct ec2_client *c,
    const char *const *ids, size_t n, bool dry_run, ec2_change_fn *cb,
    void *arg);
/* The call's owner ends it: its callback is not called, which is the
 * owner's own answer to whoever waits on the call.  Not for a call whose
 * callback is running (it ends when that returns).  NULL is a no-op. */
void ec2_call_cancel(struct ec2_call *call);

/* Per-client counters, for status and benchmarks. */
struct ec2_stats {
	unsigned long requests;		/* HTTP requests sent */
	unsigned long retries;
	unsigned long failures;		/* calls that ended in error */
};
const struct ec2_stats *ec2_client_stats(const struct ec2_client *c);

#endif
