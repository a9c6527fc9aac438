/*
 * Operations (SPEC §5): start, stop, scale up/down, scale_to and
 * maintenance on/off as asynchronous state machines on the loop.  One
 * operation per cluster at a time.  An operation belongs to the daemon,
 * not to the connection that asked for it: it runs to its end if the
 * client leaves, and its outcome goes to the cluster's event history and
 * the log.  Whatever way it ends other than success, every node it put in
 * maintenance and did not stop is taken out of maintenance again, retried
 * with backoff for up to 30 minutes while Opencast does not answer; what
 * it puts in maintenance or is about to stop is written down first in
 * state_dir (opjournal.h), so that the next start can undo it after a
 * crash (operation_recover).
 *
 * The files: operation.c (life cycle, steps, ending), operation_calls.c
 * (calls and waits), operation_wait.c (pure predicates),
 * operation_restore.c (maintenance switch, crash record, restore,
 * recovery), operation_cluster.c and operation_scale.c (the machines);
 * operation_internal.h is what they share.
 */
#ifndef EC2M_OPERATION_H
#define EC2M_OPERATION_H

#include <stdbool.h>

#include <jansson.h>

struct cluster;
struct ctl_req;
struct operation;

enum op_kind {
	OP_START,
	OP_STOP,
	OP_SCALE_UP,
	OP_SCALE_DOWN,
	OP_SCALE_TO,
	OP_MAINTENANCE_ON,
	OP_MAINTENANCE_OFF,
	OP_RECOVER,		/* internal: operation_recover() */
};

struct op_params {
	enum op_kind kind;
	int	 workers;	/* -1: the command's default */
	bool	 dry_run;
	bool	 force;
	bool	 wait;		/* false: reply once accepted */
	char	 initiator[64];	/* "uid 0 pid 42", "autoscaler" */
	/* scale down only: these workers (e.g. the autoscaler's choice)
	 * instead of the rules' own; workers must equal their number. */
	const char *const *ids;
	size_t	 nids;
	/* scale down with force: a chosen worker that took a job meanwhile
	 * is still kept (the autoscaler's --force lifts the limits only). */
	bool	 keep_busy;
	/* The autoscaler's decision that asked for this, or NULL: the
	 * result carries it as "decision" and the reply's message starts
	 * with it.  The operation holds a reference while it lives. */
	json_t	*decision;
};

/* Told when an operation ends; result is borrowed for the call. */
typedef void op_done_fn(void *arg, struct cluster *c, bool ok,
    json_t *result, const char *error);

/*
 * Starts an operation on c.  req (may be NULL) receives progress events
 * and the final reply; done (may be NULL) is told the outcome.
 *
 * Returns 0 when the operation was started: done is then called exactly
 * once, never before operation_start returns: from the loop when the
 * operation's outcome is known (a failure is known before the restore of
 * maintenance that may follow it has ended), or from within
 * operation_cancel(); req is answered exactly once as well.
 *
 * Returns -1 when it was refused, without calling done: req (if any) has
 * been answered `busy` with the reason, and a caller without req (the
 * autoscaler) must report the refusal itself.  (OP_RECOVER, which only
 * operation_recover() starts, is refused as a bad request.)  It is refused
 * `busy` when
 *   - the daemon is shutting down (c->d->stopping: after SIGTERM);
 *   - another operation runs on c, or the restore of maintenance that a
 *     failed one left behind still does (it owns the cluster until done);
 *   - a crash record of an earlier run waits for its recovery: the
 *     recovery is started then, and the cluster is busy until it is done.
 */
int operation_start(struct cluster *c, const struct op_params *p,
    struct ctl_req *req, op_done_fn *done, void *arg);

/* Interrupts an operation (daemon shutdown): its calls are cancelled
 * (maintenance switches in flight are answered first), the nodes it put in
 * maintenance are taken out again (retried with backoff), then it ends
 * with an error and frees itself.  Asynchronous: c->op stays set until
 * then.  A restore in progress goes on; a recovery not yet restoring ends
 * at once, keeping its record. */
void operation_abort(struct operation *op, const char *why);

/*
 * Ends an operation now, through its failure path, synchronously (the end
 * of the shutdown grace, before clusters are freed): its calls are
 * cancelled, its client answered and its outcome recorded (if that had not
 * happened yet), done told; nodes still in maintenance because of it stay
 * listed in its crash record, so that the next start takes them out.
 * When it returns, the operation is freed, c->op is NULL and nothing of it
 * is left on the loop (no timer, no call, no refresh waiter).
 */
void operation_cancel(struct operation *op, const char *why);

/*
 * Called once per cluster after its first successful refresh following
 * start-up (any time is safe: the recovery reads the cluster itself, and
 * waits for EC2 to answer).  Reads the crash record of c in state_dir; when there is one,
 * starts the recovery: the recorded nodes that still run and are still in
 * maintenance are taken out of it (retried with backoff for up to 30
 * minutes), no stop is repeated, a `recovered` event says what was found
 * and done, and the record is removed.  The recovery holds c->op like an
 * operation (status shows "recover").  A record that cannot be read is
 * renamed to op-CLUSTER.json.bad and reported.  No-op when there is no
 * record, while an operation runs, or once the daemon is stopping.
 */
void operation_recover(struct cluster *c);

/* {"cmd", "step", "started_at"} for status. */
json_t *operation_status_json(const struct operation *op);

const char *op_kind_name(enum op_kind k);

#endif
