/*
 * The machines that change the number of running workers (SPEC §5):
 * scale up (with the next stopped worker tried at once when EC2 lacks
 * capacity), scale down (race-free: only the chosen workers go into
 * maintenance, Opencast is read again, the ones that took a job meanwhile
 * are taken back out) and scale_to, which hands over to one of the two.
 * Each keeps its own state in op->kstate; the rules are rules.c's, the
 * primitives operation.c's.
 */
#include "daemon/operation_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/cluster.h"
#include "daemon/model.h"

/* Scale up. */

struct scale_up {
	int	 want;		/* workers to start */
	struct strv queue;	/* one at a time, after a capacity error */
	struct strv spares;	/* other stopped workers to try */
};

static void
scale_up_free(void *p)
{
	struct scale_up *su = p;

	strv_clear(&su->queue);
	strv_clear(&su->spares);
	free(su);
}

enum {
	SU_PLAN = 1, SU_STARTED, SU_NEXT_SINGLE, SU_SINGLE_DONE, SU_RUNNING,
	SU_MAINT_OFF, SU_REGISTERED, SU_DONE,
};

static bool
is_capacity_error(const struct aws_error *e)
{
	return strcmp(e->code, "InsufficientInstanceCapacity") == 0;
}

/* The next worker to try alone; false when none is left. */
static bool
next_single(struct operation *op, struct scale_up *su)
{
	if (su->queue.n == 0) {
		if (su->spares.n == 0)
			return false;
		strv_add(&su->queue, su->spares.v[0]);
		strv_remove_at(&su->spares, 0);
	}
	strv_clear(&op->batch);
	strv_add(&op->batch, su->queue.v[0]);
	strv_remove_at(&su->queue, 0);
	return true;
}

void
op_run_scale_up(struct operation *op)
{
	struct scale_up *su = op->kstate;
	struct strv hosts = { 0 }, ids = { 0 };
	char *s;

	if (su == NULL) {
		op->kstate = su = xcalloc(1, sizeof(*su));
		op->kstate_free = scale_up_free;
	}
	switch (op->pc) {
	case 0:
		/* The hosts for the maintenance flag a stopped worker may
		 * have kept (SU_MAINT_OFF); the jobs are not needed. */
		op_refresh(op, REFRESH_EC2 | REFRESH_OC_HOSTS, SU_PLAN);
		return;
	case SU_PLAN:
		if (!op_refreshed_ok(op))
			return;
		OP_PLAN(op, rules_scale_up(&md_, op->c->cfg, op->p.workers,
		    op->p.force, &op->plan));
		op_plan_warnings(op);
		op_log_summary(op, "before");
		su->want = op->p.workers;
		strv_clear(&op->batch);
		for (size_t i = 0; i < op->plan.start_nodes.n; i++)
			strv_add(i < (size_t)su->want ? &op->batch :
			    &su->spares, op->plan.start_nodes.v[i]);
		s = op_batch_text(op);
		op_step(op, "start_workers", 0, su->want, "starting %d "
		    "worker%s: %s", su->want, su->want == 1 ? "" : "s", s);
		free(s);
		op_ec2(op, true, SU_STARTED);
		return;
	case SU_STARTED:
		if (op->ec2_failed && is_capacity_error(&op->ec2_err)) {
			/* Find out which one lacks capacity: one by one. */
			op_say(op, LOG_WARNING, "EC2 lacks capacity for one of "
			    "them; starting the workers one at a time");
			strv_clear(&su->queue);
			for (size_t i = 0; i < op->batch.n; i++)
				strv_add(&su->queue, op->batch.v[i]);
			op_goto(op, SU_NEXT_SINGLE);
			return;
		}
		if (op->ec2_failed) {
			op_fail_ec2(op);
			return;
		}
		op_goto(op, SU_RUNNING);
		return;
	case SU_NEXT_SINGLE:
		if ((int)(op->started.n + op->would.n) >= su->want) {
			op_goto(op, SU_RUNNING);
			return;
		}
		if (!next_single(op, su)) {
			op_fail(op, PROTO_ERR_UPSTREAM, "EC2 has no capacity "
			    "(InsufficientInstanceCapacity) and no other "
			    "stopped worker is left; started %zu of %d",
			    op->started.n, su->want);
			return;
		}
		op_ec2(op, true, SU_SINGLE_DONE);
		return;
	case SU_SINGLE_DONE:
		if (op->ec2_failed && is_capacity_error(&op->ec2_err)) {
			op_say_instance(op, LOG_WARNING, op->batch.v[0],
			    "EC2 has no capacity for %s; trying the next "
			    "stopped worker", op->batch.v[0]);
		} else if (op->ec2_failed) {
			op_fail_ec2(op);
			return;
		}
		op_goto(op, SU_NEXT_SINGLE);
		return;
	case SU_RUNNING:
		op_accepted(op);
		op_batch_set(op, op->p.dry_run ? &op->would : &op->started);
		s = op_batch_text(op);
		op_step(op, "wait_running", 0, (int)op->batch.n, "waiting "
		    "until %s run%s", s, op->batch.n == 1 ? "s" : "");
		free(s);
		op_wait(op, REFRESH_EC2, op_wait_running, &op->batch,
		    "the started workers run", SU_MAINT_OFF);
		return;
	case SU_MAINT_OFF:
		/* Workers that were stopped in maintenance keep the flag in
		 * Opencast's database: switch it off now, so that it is off
		 * when they register. */
		op_pairs(op, &op->batch, false, &hosts, &ids);
		if (hosts.n)
			op_step(op, "maintenance_off", 0, (int)hosts.n,
			    "taking %zu new worker%s out of maintenance",
			    hosts.n, hosts.n == 1 ? "" : "s");
		op_maintenance(op, &hosts, &ids, false, SU_REGISTERED);
		strv_clear(&hosts);
		strv_clear(&ids);
		return;
	case SU_REGISTERED:
		if (op->maint_error) {
			op_fail(op, PROTO_ERR_UPSTREAM, "%s", op->maint_error);
			return;
		}
		op_step(op, "wait_registered", 0, (int)op->batch.n, "waiting "
		    "until Opencast knows the new workers, out of "
		    "maintenance");
		op_wait(op, REFRESH_OC_HOSTS, op_wait_ready, &op->batch,
		    "the new workers are registered in Opencast and out of "
		    "maintenance", SU_DONE);
		return;
	case SU_DONE:
		s = strv_join(&op->started, ", ");
		op_set_message(op, "started %zu worker%s: %s", op->started.n,
		    op->started.n == 1 ? "" : "s", s);
		free(s);
		op_finish(op, true);
		return;
	}
}

/* Scale down. */

struct scale_down {
	struct strv chosen;	/* the workers put in maintenance */
};

static void
scale_down_free(void *p)
{
	struct scale_down *sd = p;

	strv_clear(&sd->chosen);
	free(sd);
}

enum {
	SD_PLAN = 1, SD_RECHECK_READ, SD_RECHECK, SD_STOP, SD_STOPPED, SD_DONE,
};

/* The caller chose (the autoscaler, by billing): the rules still had
 * their say on numbers; each chosen one must be a running, unheld
 * worker.  Fails the operation and returns false otherwise. */
static bool
given_ok(struct operation *op)
{
	struct model md;
	const char *bad = NULL;

	op_model(op, &md);
	for (size_t i = 0; i < op->given.n && bad == NULL; i++) {
		const struct model_member *m = op_member(&md, op->given.v[i]);

		if (m == NULL || m->role != ROLE_WORKER || m->held ||
		    m->inst->state != EC2_STATE_RUNNING)
			bad = op->given.v[i];
	}
	model_release(&md);
	if (bad)
		op_fail(op, PROTO_ERR_REFUSED, "%s is no longer a running, "
		    "unheld worker", bad);
	return bad == NULL;
}

/* After the recheck: which chosen workers to stop (into op->batch) and
 * the hosts of the others, which this operation put in maintenance and
 * now takes back out. */
static void
recheck(struct operation *op, struct scale_down *sd, struct strv *hosts,
    struct strv *ids)
{
	struct strv stop = { 0 }, release = { 0 };
	struct model md;

	op_model(op, &md);
	rules_scale_down_recheck(&md, &sd->chosen, op->p.force &&
	    !op->p.keep_busy, &stop, &release);
	model_release(&md);
	op_batch_set(op, &stop);
	for (size_t i = 0; i < release.n; i++) {
		op_say_instance(op, LOG_INFO, release.v[i],
		    "keeping %s: it took a job meanwhile", release.v[i]);
		for (size_t k = 0; k < op->rec.ids.n; k++) {
			if (strcmp(op->rec.ids.v[k], release.v[i]) == 0) {
				strv_add(hosts, op->rec.hosts.v[k]);
				strv_add(ids, release.v[i]);
			}
		}
	}
	strv_clear(&stop);
	strv_clear(&release);
}

void
op_run_scale_down(struct operation *op)
{
	struct scale_down *sd = op->kstate;
	struct strv hosts = { 0 }, ids = { 0 };
	char *s;

	if (sd == NULL) {
		op->kstate = sd = xcalloc(1, sizeof(*sd));
		op->kstate_free = scale_down_free;
	}
	switch (op->pc) {
	case 0:
		op_refresh(op, REFRESH_ALL, SD_PLAN);
		return;
	case SD_PLAN:
		if (!op_refreshed_ok(op))
			return;
		OP_PLAN(op, rules_scale_down(&md_, op->c->cfg, op->p.workers,
		    op->p.force, &op->plan));
		op_plan_warnings(op);
		op_log_summary(op, "before");
		if (op->given.n && !given_ok(op))
			return;
		op_batch_set(op, op->given.n ? &op->given :
		    &op->plan.stop_nodes);
		strv_clear(&sd->chosen);
		for (size_t i = 0; i < op->batch.n; i++)
			strv_add(&sd->chosen, op->batch.v[i]);
		op_accepted(op);
		/* Only the chosen ones, never the whole cluster. */
		op_pairs(op, &sd->chosen, true, &hosts, &ids);
		s = op_batch_text(op);
		op_step(op, "maintenance_on", 0, (int)hosts.n, "chose %s; "
		    "putting %zu in maintenance", s, hosts.n);
		free(s);
		op_maintenance(op, &hosts, &ids, true, SD_RECHECK_READ);
		strv_clear(&hosts);
		strv_clear(&ids);
		return;
	case SD_RECHECK_READ:
		if (op->maint_error) {
			op_fail(op, PROTO_ERR_UPSTREAM, "%s", op->maint_error);
			return;
		}
		op_step(op, "recheck", 0, 1, "reading Opencast again");
		/* The jobs tell who took one meanwhile; the hosts (their
		 * addresses) are the plan's. */
		op_refresh(op, REFRESH_OC_JOBS, SD_RECHECK);
		return;
	case SD_RECHECK:
		if (!op->refresh_ok) {
			op_fail(op, PROTO_ERR_UPSTREAM, "cannot read Opencast "
			    "again: %s", op->refresh_error ? op->refresh_error :
			    "refresh failed");
			return;
		}
		recheck(op, sd, &hosts, &ids);
		op_maintenance(op, &hosts, &ids, false, SD_STOP);
		strv_clear(&hosts);
		strv_clear(&ids);
		return;
	case SD_STOP:
		if (op->maint_error) {
			op_fail(op, PROTO_ERR_UPSTREAM, "%s", op->maint_error);
			return;
		}
		if (op->batch.n == 0) {
			op_fail(op, PROTO_ERR_REFUSED, "every chosen worker "
			    "took a job meanwhile; nothing was stopped");
			return;
		}
		if (op->batch.n < sd->chosen.n)
			op_warn(op, "only some chosen workers stayed idle");
		s = op_batch_text(op);
		op_step(op, "stop_workers", 0, (int)op->batch.n, "stopping %s",
		    s);
		free(s);
		op_ec2(op, false, SD_STOPPED);
		return;
	case SD_STOPPED:
		if (op->ec2_failed) {
			op_fail_ec2(op);
			return;
		}
		op_step(op, "wait_stopped", 0, (int)op->batch.n, "waiting "
		    "until they are stopped");
		op_wait(op, REFRESH_EC2, op_wait_stopped, &op->batch,
		    "the workers are stopped", SD_DONE);
		return;
	case SD_DONE:
		s = strv_join(&op->stopped, ", ");
		op_set_message(op, "stopped %zu worker%s: %s", op->stopped.n,
		    op->stopped.n == 1 ? "" : "s", s);
		free(s);
		op_finish(op, true);
		return;
	}
}

/* scale_to: nothing to do, or the same rules and steps as scale up or
 * down by the difference. */

enum { TO_PLAN = 1 };

void
op_run_scale_to(struct operation *op)
{
	struct model md;
	int active;

	switch (op->pc) {
	case 0:
		/* EC2 decides the direction; then Opencast is read for the
		 * machine it hands over to, as that one reads it. */
		op_refresh(op, REFRESH_EC2, TO_PLAN);
		return;
	case TO_PLAN:
		if (!op_refreshed_ok(op))
			return;
		op_model(op, &md);
		active = rules_active_workers(&md);
		model_release(&md);
		if (op->p.workers == active) {
			OP_PLAN(op, rules_scale_to(&md_, op->c->cfg,
			    op->p.workers, op->p.force, &op->plan));
			op_set_message(op, "%s", op->plan.message);
			op_finish(op, true);
			return;
		}
		if (op->p.workers > active) {
			op->p.workers -= active;
			op->machine = op_run_scale_up;
			op_refresh(op, REFRESH_OC_HOSTS, SU_PLAN);
		} else {
			op->p.workers = active - op->p.workers;
			op->machine = op_run_scale_down;
			op_refresh(op, REFRESH_OPENCAST, SD_PLAN);
		}
		return;
	}
}
