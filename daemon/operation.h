/*
 * Operations (SPEC §5): start, stop, scale up/down, scale_to and
 * maintenance on/off as asynchronous state machines on the loop.  One
 * operation per cluster at a time.  An operation belongs to the daemon,
 * not to the connection that asked for it: it runs to its end if the
 * client leaves, and its outcome goes to the cluster's event history and
 * the log.  Whatever way it ends other than success, every node it put in
 * maintenance and did not stop is taken out of maintenance again.
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
};

/* Told when an operation ends; result is borrowed for the call. */
typedef void op_done_fn(void *arg, struct cluster *c, bool ok,
    json_t *result, const char *error);

/* Starts an operation on c.  req (may be NULL) receives progress events
 * and the final reply; done (may be NULL) is told the outcome.  When
 * another operation runs on c, req is answered `busy` (done is not
 * called) and -1 is returned. */
int operation_start(struct cluster *c, const struct op_params *p,
    struct ctl_req *req, op_done_fn *done, void *arg);

/* Interrupts an operation (daemon shutdown): its calls are cancelled, the
 * nodes it put in maintenance are taken out again, then it ends with an
 * error and frees itself. */
void operation_abort(struct operation *op, const char *why);

/* {"cmd", "step", "started_at"} for status. */
json_t *operation_status_json(const struct operation *op);

const char *op_kind_name(enum op_kind k);

#endif
