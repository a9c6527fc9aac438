/*
 * Inside operations: the struct operation that the engine (operation.c
 * and its primitives, operation_calls.c), the maintenance switch and its
 * restore (operation_restore.c) and the machines (operation_cluster.c:
 * start, stop, maintenance; operation_scale.c: scale up, down, scale_to)
 * share, and the engine's primitives.  Not for the rest of the
 * daemon, which uses operation.h.
 *
 * A machine is a function resumed at op->pc.  Each case ends by calling
 * exactly one primitive (or op_goto, op_fail, op_finish) and returning;
 * every primitive resumes the machine from the loop, never from the
 * machine's own stack:
 *   op_refresh      read EC2 and/or Opencast into the cluster
 *   op_ec2          one StartInstances/StopInstances with every id of
 *                   op->batch
 *   op_wait         poll (one DescribeInstances, or one Opencast read, per
 *                   poll) every wait_interval, at most wait_retries times,
 *                   until a pure predicate of operation_wait.h holds
 *   op_maintenance  switch Opencast hosts in or out of maintenance
 *   op_zadara       bring the cluster's Zadara array up or down
 * State that only one kind of operation needs lives in that machine's own
 * struct, hung off op->kstate.
 */
#ifndef EC2M_OPERATION_INTERNAL_H
#define EC2M_OPERATION_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "common/protocol.h"
#include "common/strv.h"
#include "daemon/aws.h"
#include "daemon/operation_wait.h"
#include "daemon/operation.h"
#include "daemon/opjournal.h"
#include "daemon/rules.h"
#include "daemon/zadara.h"

struct cluster;
struct ec2_call;
struct looptimer;
struct oc_call;
struct zadara_call;

/* How long a restore of maintenance is retried (SPEC §8), and its
 * backoff.  EC2M_RESTORE_GIVE_UP_S (whole seconds) replaces the total;
 * it is meant for tests, and read each time a restore begins. */
#define OP_RESTORE_GIVE_UP_MS	(30 * 60 * 1000)
#define OP_RESTORE_BACKOFF_MS	1000
#define OP_RESTORE_BACKOFF_CAP_MS (60 * 1000)

typedef void op_machine_fn(struct operation *op);

/* One maintenance switch in flight. */
struct op_maint_call {
	struct operation *op;
	struct oc_call	*call;
	char		*host;
	char		*id;
	bool		 on;
	LIST_ENTRY(op_maint_call) link;
};

enum op_restore_phase { RS_ROUND, RS_ANSWERS };

struct operation {
	struct cluster	*c;
	struct op_params p;		/* p.ids is NULL: see given */
	struct strv	 given;		/* op_params ids, copied */
	char		 name[64];	/* "scale down 2 (dry run)" */
	char		 what[64];	/* "scale down 2" */
	struct ctl_req	*req;		/* NULL once answered */
	op_done_fn	*done;		/* NULL once told */
	void		*done_arg;
	op_machine_fn	*machine;
	int		 pc;
	void		*kstate;	/* the machine's own state */
	void		(*kstate_free)(void *);
	const char	*step;
	int64_t		 started_ms;
	struct looptimer *timer;
	struct plan	 plan;
	bool		 have_plan;

	/* The crash record (opjournal.h).  rec.hosts/rec.ids are the hosts
	 * this operation may have put in maintenance and has neither taken
	 * out again nor stopped: what a failure restores. */
	struct opjournal rec;
	bool		 recorded;	/* rec is on disk */
	bool		 rec_dirty;	/* rec changed since it was saved */

	struct strv	 batch;		/* ids of the current step */
	struct strv	 started;
	struct strv	 stopped;
	struct strv	 would;		/* dry run: what would have been done */
	struct strv	 warnings;

	/* The call in flight and its outcome. */
	struct ec2_call	*ec2_call;
	bool		 ec2_start;	/* the call starts (else stops) */
	bool		 ec2_failed;
	struct aws_error ec2_err;
	bool		 refresh_pending;
	bool		 refresh_ok;
	char		*refresh_error;
	LIST_HEAD(, op_maint_call) maint_calls;
	int		 maint_pending;
	char		*maint_error;
	struct zadara_call *zadara_call;
	bool		 zadara_failed;
	enum zadara_err_kind zadara_err_kind;
	char		*zadara_msg;	/* the outcome, for the operator */

	/* A wait in progress. */
	bool		 waiting;
	unsigned	 wait_parts;
	op_wait_fn	*wait_pred;
	struct strv	 wait_ids;
	int		 wait_next;
	int		 polls;
	bool		 polled;
	const char	*wait_what;

	/* Ending. */
	bool		 accepted;
	bool		 concluded;	/* answered, recorded, done told */
	bool		 restoring;
	struct {
		enum op_restore_phase phase;
		int	 rounds;
		uint64_t give_up_ms;
		uint64_t deadline;	/* uv_now() */
		bool	 refreshed;	/* this round read the cluster first */
		size_t	 left_at_conclusion;
	} rs;
	enum proto_err	 err_code;
	char		 err[768];
};

/* operation.c: talking. */
/* The EC2M_OP journal field: one word per kind ("scale_up"). */
const char *op_token(const struct operation *op);
void op_say(struct operation *op, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, about one instance (EC2M_INSTANCE in the journal). */
void op_say_instance(struct operation *op, int level, const char *instance,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void op_warn(struct operation *op, const char *msg);
/* Enters a step: status shows it, the client sees a progress event. */
void op_step(struct operation *op, const char *step, int done, int total,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* "before"/"after" summary of the cluster in the log. */
void op_log_summary(struct operation *op, const char *when);
/* Replies at once to a client that asked not to wait. */
void op_accepted(struct operation *op);
/* The model of the cluster now (model_release it). */
void op_model(struct operation *op, struct model *md);

/* operation.c: resuming. */
void op_resume_in(struct operation *op, uint64_t ms);
void op_goto(struct operation *op, int pc);

/* operation_calls.c: the primitives. */
void op_refresh(struct operation *op, unsigned parts, int pc);
/* After op_refresh at the start of a machine: true to go on. */
bool op_refreshed_ok(struct operation *op);
void op_ec2(struct operation *op, bool start, int pc);
void op_fail_ec2(struct operation *op);
/* Waits until pred holds over ids (copied), reading parts once per
 * poll; then resumes at next.  A dry run does not wait. */
void op_wait(struct operation *op, unsigned parts, op_wait_fn *pred,
    const struct strv *ids, const char *what, int next);
/* One turn of a wait: poll, or look at what the poll read (op_run). */
void op_wait_turn(struct operation *op);
void op_zadara(struct operation *op, enum zadara_target target, int pc);
/* After op_zadara: true to go on (else the operation failed). */
bool op_zadara_ok(struct operation *op, const char *what);
void op_batch_set(struct operation *op, const struct strv *ids);
/* op_pairs_needing() and op_running_opencast() on the cluster now. */
void op_pairs(struct operation *op, const struct strv *ids, bool want,
    struct strv *hosts, struct strv *host_ids);
void op_running(struct operation *op, struct strv *ids);
/* "i-1, i-2" of op->batch (free() it). */
char *op_batch_text(struct operation *op);
/* Called by the cluster when a refresh asked for by op has ended. */
void op_on_refreshed(void *arg, struct cluster *c, bool ok,
    const char *error);

/* operation.c: ending. */
void op_fail(struct operation *op, enum proto_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Success; the message is op->err when set. */
void op_finish(struct operation *op, bool ok);
/* Answers the client, records the outcome (event, log) and tells done;
 * extra (may be NULL) is appended to the message.  Once. */
void op_conclude(struct operation *op, bool ok, const char *extra);
/* Frees the operation; the cluster is free for the next one.  The crash
 * record is removed unless keep_record. */
void op_end(struct operation *op, bool keep_record);
/* Cancels every call in flight (maintenance switches only with switches)
 * and stops the timer. */
void op_cancel_calls(struct operation *op, bool switches);
/* Sets the message of a successful end (op->err). */
void op_set_message(struct operation *op, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* operation.c: plans. */
/* Builds op->plan with call on the current model (md_ in call); a refusal
 * fails the operation and returns from the machine. */
#define OP_PLAN(op, call) do {						\
	struct model md_;						\
	int rc_;							\
	op_model((op), &md_);						\
	if ((op)->have_plan)						\
		plan_release(&(op)->plan);				\
	(op)->have_plan = true;						\
	rc_ = call;							\
	model_release(&md_);						\
	if (rc_ != 0) {							\
		op_plan_refused(op);					\
		return;							\
	}								\
} while (0)
void op_plan_refused(struct operation *op);
void op_plan_warnings(struct operation *op);

/* operation_restore.c: maintenance, the crash record and restores. */
/* Switches hosts (instances ids, parallel lists, copied) on or off, all
 * at once; resumes at pc when every answer is in, with op->maint_error
 * set if one failed.  Switching on records the hosts first. */
void op_maintenance(struct operation *op, const struct strv *hosts,
    const struct strv *ids, bool on, int pc);
/* Writes op->rec; -1 (with err) when it could not be written. */
int op_record_save(struct operation *op, char *err, size_t errlen);
/* Writes op->rec if it changed; a failure is logged. */
void op_record_flush(struct operation *op);
/* Starts taking rec.hosts out of maintenance (op_fail). */
void op_restore_begin(struct operation *op);
/* One turn of the restore (op_run while restoring). */
void op_restore_turn(struct operation *op);
/* Starts the recovery of a record found in state_dir (taken over). */
void op_recover_start(struct cluster *c, struct opjournal *rec);
/* Ends a recovery early (shutdown): the record stays. */
void op_recover_interrupted(struct operation *op, const char *why);

/* The machines. */
/* operation_cluster.c */
void op_run_start(struct operation *op);
void op_run_stop(struct operation *op);
void op_run_maintenance(struct operation *op);
/* operation_scale.c */
void op_run_scale_up(struct operation *op);
void op_run_scale_down(struct operation *op);
void op_run_scale_to(struct operation *op);

#endif
