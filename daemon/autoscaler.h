/*
 * The autoscaler's I/O half (the decision itself is policy.c): a jittered
 * timer per cluster, one evaluation per tick or per `ec2ctl CLUSTER
 * autoscale` (a fresh read of EC2 and Opencast, the policy, the decision
 * recorded with its inputs in the event history and the journal), and the
 * action carried out through the scale up/down operations.  Pausing and the
 * time of the last action persist in state_dir across restarts.
 */
#ifndef EC2M_AUTOSCALER_H
#define EC2M_AUTOSCALER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct cluster;

/* Gives c its autoscaler (core.c, after cluster_new): reads the state
 * file and arms the first tick one interval later. */
void autoscaler_attach(struct cluster *c);
/* Shutdown: no more ticks, and the evaluation in flight is dropped, its
 * asker answered.  Idempotent. */
void autoscaler_stop(struct cluster *c);
/* Takes c's autoscaler away (before cluster_free): an evaluation in
 * flight is dropped and its asker answered "no longer managed". */
void autoscaler_detach(struct cluster *c);

/* Told when an evaluation ends.  ran: the policy ran (whatever it
 * decided); decision: its record (borrowed); why_not: when !ran.
 * handed_over: the asker's request (autoscale_ask.follow) went to the
 * action, which answers it (or was answered by the action's refusal): the
 * callback must not answer it. */
typedef void autoscale_done_fn(void *arg, struct cluster *c, bool ran,
    json_t *decision, const char *why_not, bool handed_over);

struct ctl_req;

/* What an evaluation is asked for. */
struct autoscale_ask {
	bool	 dry_run;	/* an action is only a dry run */
	bool	 force;		/* ec2ctl --force: the policy ignores
				   min_workers, max_workers and the billing
				   threshold (holds, busy workers, the
				   switches and the cooldown still apply) */
	/* `ec2ctl CLUSTER autoscale` without --no-wait: when the decision
	 * is to act, the action is started with this request, which then
	 * gets the decision as a log event, the action's progress and, as
	 * its reply, the action's outcome with the decision (SPEC §5).
	 * NULL: a tick, or --no-wait (the action runs on alone). */
	struct ctl_req *follow;
};

/* Evaluates now.  cb is called exactly once: at once when the evaluation
 * cannot start (switched off, busy, shutting down), else when it has
 * decided (and started its action), or with ran false when it is dropped
 * (shutdown, the cluster removed).  An action that could not start
 * (another operation, shutdown) is recorded as not carried out. */
void autoscaler_evaluate(struct cluster *c, const struct autoscale_ask *ask,
    autoscale_done_fn *cb, void *arg);
/* `ec2ctl CLUSTER explain`: reads the cluster afresh and decides as an
 * evaluation would now, whatever the switches, the cooldown or an
 * operation in progress, but records nothing and acts on nothing.  cb is
 * called exactly once with the decision (ran false, with why, when the
 * read could not be done or the daemon stops or the cluster goes). */
void autoscaler_explain(struct cluster *c, autoscale_done_fn *cb, void *arg);
/* Pauses or resumes autoscaling and persists it.  Returns 0, or -1 with
 * err when the state cannot be written. */
int autoscaler_set_paused(struct cluster *c, bool paused, char *err,
    size_t errlen);
/* {"enabled","reason","paused","last_decision","next_tick_s"}. */
json_t *autoscaler_status_json(struct cluster *c);
/* Milliseconds of loop time until the next tick (UINT64_MAX: none is
 * scheduled): what next_tick_s counts down, for status's cache. */
uint64_t autoscaler_tick_due_in(struct cluster *c);

/* The state file of one cluster: {"autoscale_paused": bool,
 * "last_action_ms": n}.  Missing file: defaults. */
int autoscaler_state_load(const char *dir, const char *cluster, bool *paused,
    int64_t *last_action_ms, char *err, size_t errlen);
/* Writes it atomically (temporary file, fsync, rename). */
int autoscaler_state_save(const char *dir, const char *cluster, bool paused,
    int64_t last_action_ms, char *err, size_t errlen);

#endif
