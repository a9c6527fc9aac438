/*
 * The machines that act on a whole cluster (SPEC §5): start (Zadara
 * array, support nodes, Opencast nodes, Opencast's API, maintenance off),
 * stop (maintenance on, idle workers, Opencast nodes, support nodes,
 * Zadara array) and maintenance on|off.  The rules are rules.c's, the
 * primitives operation.c's; only maintenance keeps state of its own.
 */
#include "daemon/operation_internal.h"

#include <stdlib.h>

#include "common/log.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/cluster.h"

/* Start. */

enum {
	SA_PLAN = 1, SA_ZADARA, SA_SUPPORT, SA_SUPPORT_STARTED, SA_NODES,
	SA_NODES_STARTED, SA_OPENCAST, SA_MAINT_OFF, SA_MAINT_WAIT, SA_DONE,
};

void
op_run_start(struct operation *op)
{
	struct strv ids = { 0 }, hosts = { 0 }, hids = { 0 };
	char *s;

	switch (op->pc) {
	case 0:
		/* The rules of start need EC2 alone; Opencast is read by the
		 * waits, when it answers.  A dry run skips them, so it reads
		 * the hosts now for the maintenance it would switch off. */
		op_refresh(op, REFRESH_EC2 | (op->p.dry_run ?
		    REFRESH_OC_HOSTS : 0), SA_PLAN);
		return;
	case SA_PLAN:
		if (!op_refreshed_ok(op))
			return;
		OP_PLAN(op, rules_start(&md_, op->c->cfg, op->p.workers,
		    op->p.force, &op->plan));
		op_plan_warnings(op);
		op_log_summary(op, "before");
		if (op->c->cfg->zadara_vpsa[0]) {
			op_accepted(op);
			op_step(op, "zadara_resume", 0, 1, "resuming Zadara "
			    "array %s", op->c->cfg->zadara_vpsa);
		}
		op_zadara(op, ZADARA_TARGET_UP, SA_ZADARA);
		return;
	case SA_ZADARA:
		if (!op_zadara_ok(op, "resume"))
			return;
		op_goto(op, SA_SUPPORT);
		return;
	case SA_SUPPORT:
		if (op->plan.start_support.n == 0) {
			op_goto(op, SA_NODES);
			return;
		}
		op_batch_set(op, &op->plan.start_support);
		s = op_batch_text(op);
		op_step(op, "start_support", 0, (int)op->batch.n, "starting "
		    "support nodes %s", s);
		free(s);
		op_ec2(op, true, SA_SUPPORT_STARTED);
		return;
	case SA_SUPPORT_STARTED:
		if (op->ec2_failed) {
			op_fail_ec2(op);
			return;
		}
		op_accepted(op);
		op_step(op, "wait_support_running", 0, (int)op->batch.n,
		    "waiting until the support nodes run");
		op_wait(op, REFRESH_EC2, op_wait_running, &op->batch,
		    "the support nodes run", SA_NODES);
		return;
	case SA_NODES:
		if (op->plan.start_nodes.n == 0) {
			op_goto(op, SA_OPENCAST);
			return;
		}
		op_batch_set(op, &op->plan.start_nodes);
		s = op_batch_text(op);
		op_step(op, "start_nodes", 0, (int)op->batch.n, "starting "
		    "Opencast nodes %s", s);
		free(s);
		op_ec2(op, true, SA_NODES_STARTED);
		return;
	case SA_NODES_STARTED:
		if (op->ec2_failed) {
			op_fail_ec2(op);
			return;
		}
		op_accepted(op);
		op_step(op, "wait_running", 0, (int)op->batch.n, "waiting "
		    "until the Opencast nodes run");
		op_wait(op, REFRESH_EC2, op_wait_running, &op->batch,
		    "the Opencast nodes run", SA_OPENCAST);
		return;
	case SA_OPENCAST:
		op_accepted(op);
		op_step(op, "wait_opencast", 0, 1, "waiting until Opencast "
		    "answers and knows every node");
		/* The hosts alone per poll: EC2 was read once the nodes ran
		 * (the admin's address with it), or at the plan. */
		op_wait(op, REFRESH_OC_HOSTS, op_wait_opencast_ready,
		    &op->batch,
		    "Opencast answers and knows every running node",
		    SA_MAINT_OFF);
		return;
	case SA_MAINT_OFF:
		op_running(op, &ids);
		op_pairs(op, &ids, false, &hosts, &hids);
		if (hosts.n)
			op_step(op, "maintenance_off", 0, (int)hosts.n,
			    "taking %zu node%s out of maintenance", hosts.n,
			    hosts.n == 1 ? "" : "s");
		op_maintenance(op, &hosts, &hids, false, SA_MAINT_WAIT);
		strv_clear(&ids);
		strv_clear(&hosts);
		strv_clear(&hids);
		return;
	case SA_MAINT_WAIT:
		if (op->maint_error) {
			op_fail(op, PROTO_ERR_UPSTREAM, "%s", op->maint_error);
			return;
		}
		op_running(op, &ids);
		op_batch_set(op, &ids);
		strv_clear(&ids);
		op_step(op, "wait_maintenance_off", 0, (int)op->batch.n,
		    "waiting until Opencast shows every node online and out "
		    "of maintenance");
		op_wait(op, REFRESH_OC_HOSTS, op_wait_ready, &op->batch,
		    "Opencast shows every node online and out of maintenance",
		    SA_DONE);
		return;
	case SA_DONE:
		op_set_message(op, "started the cluster with %d worker%s",
		    op->plan.workers, op->plan.workers == 1 ? "" : "s");
		op_finish(op, true);
		return;
	}
}

/* Stop. */

enum {
	ST_PLAN = 1, ST_WAIT_IDLE, ST_STOP_NODES, ST_NODES_STOPPING,
	ST_STOP_SUPPORT, ST_SUPPORT_STOPPING, ST_ZADARA, ST_ZADARA_DONE,
	ST_DONE,
};

void
op_run_stop(struct operation *op)
{
	struct strv ids = { 0 }, hosts = { 0 }, hids = { 0 };
	char *s;

	switch (op->pc) {
	case 0:
		/* Instances and hosts (their maintenance); the jobs are what
		 * wait_idle polls. */
		op_refresh(op, REFRESH_EC2 | REFRESH_OC_HOSTS, ST_PLAN);
		return;
	case ST_PLAN:
		if (!op_refreshed_ok(op))
			return;
		OP_PLAN(op, rules_stop(&md_, op->c->cfg, op->p.force,
		    &op->plan));
		op_plan_warnings(op);
		op_log_summary(op, "before");
		op_accepted(op);
		if (!op->c->oc_ok) {
			/* Forced without Opencast (rules_stop warned). */
			op_goto(op, ST_STOP_NODES);
			return;
		}
		op_running(op, &ids);
		op_pairs(op, &ids, true, &hosts, &hids);
		op_step(op, "maintenance_on", 0, (int)hosts.n, "putting %zu "
		    "Opencast node%s in maintenance", hosts.n,
		    hosts.n == 1 ? "" : "s");
		op_maintenance(op, &hosts, &hids, true, ST_WAIT_IDLE);
		strv_clear(&ids);
		strv_clear(&hosts);
		strv_clear(&hids);
		return;
	case ST_WAIT_IDLE:
		if (op->maint_error) {
			op_fail(op, PROTO_ERR_UPSTREAM, "%s", op->maint_error);
			return;
		}
		op_step(op, "wait_idle", 0, op->c->cfg->wait_retries,
		    "waiting until the workers run no jobs");
		op_wait(op, REFRESH_OC_JOBS, op_wait_workers_idle, &op->batch,
		    "the workers are idle", ST_STOP_NODES);
		return;
	case ST_STOP_NODES:
		if (op->plan.stop_nodes.n == 0) {
			op_goto(op, ST_STOP_SUPPORT);
			return;
		}
		op_batch_set(op, &op->plan.stop_nodes);
		s = op_batch_text(op);
		op_step(op, "stop_nodes", 0, (int)op->batch.n, "stopping "
		    "Opencast nodes %s", s);
		free(s);
		op_ec2(op, false, ST_NODES_STOPPING);
		return;
	case ST_NODES_STOPPING:
		if (op->ec2_failed) {
			op_fail_ec2(op);
			return;
		}
		op_step(op, "wait_stopped", 0, (int)op->batch.n, "waiting "
		    "until the Opencast nodes are stopped");
		op_wait(op, REFRESH_EC2, op_wait_stopped, &op->batch,
		    "the Opencast nodes are stopped", ST_STOP_SUPPORT);
		return;
	case ST_STOP_SUPPORT:
		if (op->plan.stop_support.n == 0) {
			op_goto(op, ST_ZADARA);
			return;
		}
		op_batch_set(op, &op->plan.stop_support);
		s = op_batch_text(op);
		op_step(op, "stop_support", 0, (int)op->batch.n, "stopping "
		    "support nodes %s", s);
		free(s);
		op_ec2(op, false, ST_SUPPORT_STOPPING);
		return;
	case ST_SUPPORT_STOPPING:
		if (op->ec2_failed) {
			op_fail_ec2(op);
			return;
		}
		op_step(op, "wait_support_stopped", 0, (int)op->batch.n,
		    "waiting until the support nodes are stopped");
		op_wait(op, REFRESH_EC2, op_wait_stopped, &op->batch,
		    "the support nodes are stopped", ST_ZADARA);
		return;
	case ST_ZADARA:
		if (op->c->cfg->zadara_vpsa[0])
			op_step(op, "zadara_hibernate", 0, 1, "hibernating "
			    "Zadara array %s", op->c->cfg->zadara_vpsa);
		op_zadara(op, ZADARA_TARGET_DOWN, ST_ZADARA_DONE);
		return;
	case ST_ZADARA_DONE:
		if (!op_zadara_ok(op, "hibernate"))
			return;
		op_goto(op, ST_DONE);
		return;
	case ST_DONE:
		op_set_message(op, "stopped the cluster: %zu instance%s",
		    op->stopped.n, op->stopped.n == 1 ? "" : "s");
		op_finish(op, true);
		return;
	}
}

/* Maintenance on|off. */

struct maint_state {
	struct strv hosts;	/* the hosts switched, with ... */
	struct strv ids;	/* ... their instances */
};

static void
maint_state_free(void *p)
{
	struct maint_state *ms = p;

	strv_clear(&ms->hosts);
	strv_clear(&ms->ids);
	free(ms);
}

enum { MA_PLAN = 1, MA_WAIT, MA_DONE };

void
op_run_maintenance(struct operation *op)
{
	bool on = op->p.kind == OP_MAINTENANCE_ON;
	struct maint_state *ms = op->kstate;
	struct strv ids = { 0 };

	if (ms == NULL) {
		op->kstate = ms = xcalloc(1, sizeof(*ms));
		op->kstate_free = maint_state_free;
	}
	switch (op->pc) {
	case 0:
		op_refresh(op, REFRESH_EC2 | REFRESH_OC_HOSTS, MA_PLAN);
		return;
	case MA_PLAN:
		if (!op_refreshed_ok(op))
			return;
		OP_PLAN(op, rules_maintenance(&md_, on, &op->plan));
		op_log_summary(op, "before");
		op_accepted(op);
		op_running(op, &ids);
		op_pairs(op, &ids, on, &ms->hosts, &ms->ids);
		strv_clear(&ids);
		op_step(op, on ? "maintenance_on" : "maintenance_off", 0,
		    (int)ms->hosts.n, "switching %zu of %zu node%s",
		    ms->hosts.n, op->plan.maintenance.n,
		    op->plan.maintenance.n == 1 ? "" : "s");
		op_maintenance(op, &ms->hosts, &ms->ids, on, MA_WAIT);
		return;
	case MA_WAIT:
		if (op->maint_error) {
			op_fail(op, PROTO_ERR_UPSTREAM, "%s", op->maint_error);
			return;
		}
		op_step(op, "wait_maintenance", 0, (int)ms->hosts.n,
		    "waiting until Opencast shows it");
		op_wait(op, REFRESH_OC_HOSTS, on ? op_wait_maint_on :
		    op_wait_maint_off, &ms->ids, on ? "Opencast shows the "
		    "nodes in maintenance" : "Opencast shows the nodes out of "
		    "maintenance", MA_DONE);
		return;
	case MA_DONE:
		/* Asked for: nothing to restore. */
		strv_clear(&op->rec.hosts);
		strv_clear(&op->rec.ids);
		op_set_message(op, "%zu Opencast node%s %s maintenance",
		    op->plan.maintenance.n, op->plan.maintenance.n == 1 ?
		    "" : "s", on ? "in" : "out of");
		op_finish(op, true);
		return;
	}
}
