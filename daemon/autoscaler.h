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
 * decided); decision: its record (borrowed); why_not: when !ran. */
typedef void autoscale_done_fn(void *arg, struct cluster *c, bool ran,
    json_t *decision, const char *why_not);

/* Evaluates now.  dry_run: an action is only a dry run.  cb is called
 * exactly once: at once when the evaluation cannot start (switched off,
 * busy, shutting down), else when it has decided, or with ran false when
 * it is dropped (shutdown, the cluster removed).  An action that could not
 * start (another operation, shutdown) is recorded as not carried out. */
void autoscaler_evaluate(struct cluster *c, bool dry_run,
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

/* The state file of one cluster: {"autoscale_paused": bool,
 * "last_action_ms": n}.  Missing file: defaults. */
int autoscaler_state_load(const char *dir, const char *cluster, bool *paused,
    int64_t *last_action_ms, char *err, size_t errlen);
/* Writes it atomically (temporary file, fsync, rename). */
int autoscaler_state_save(const char *dir, const char *cluster, bool paused,
    int64_t last_action_ms, char *err, size_t errlen);

#endif
