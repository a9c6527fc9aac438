/*
 * The operation engine: an operation's life cycle (start, refusal, end),
 * its steps and what the client and the log see of them.  It owns struct
 * operation and c->op; the primitives a machine acts through are
 * operation_calls.c's, the machines (operation_cluster.c,
 * operation_scale.c) decide, the predicates they wait for are pure
 * (operation_wait.c), and the maintenance switch, the crash record and
 * restores are operation_restore.c's.
 *
 * Ending has two halves.  Concluding answers the client, records the
 * outcome and tells the caller's done callback, once; ending cancels what
 * is in flight, removes (or keeps) the crash record, frees the operation
 * and gives the cluster back.  A success or a failure with nothing left in
 * maintenance does both at once.  A failure whose nodes Opencast does not
 * take out of maintenance at once concludes, then keeps the cluster while
 * the restore goes on in the background (operation_restore.c), so that no other
 * operation ever shares that maintenance state.
 */
#include "daemon/operation_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/cluster.h"
#include "daemon/control.h"
#include "daemon/daemon.h"
#include "daemon/ec2.h"
#include "daemon/looptimer.h"
#include "daemon/metrics.h"
#include "daemon/model.h"
#include "daemon/opencast.h"

static void op_run(struct operation *op);

const char *
op_kind_name(enum op_kind k)
{
	switch (k) {
	case OP_START:		 return "start";
	case OP_STOP:		 return "stop";
	case OP_SCALE_UP:	 return "scale up";
	case OP_SCALE_DOWN:	 return "scale down";
	case OP_SCALE_TO:	 return "scale_to";
	case OP_MAINTENANCE_ON:	 return "maintenance on";
	case OP_MAINTENANCE_OFF: return "maintenance off";
	case OP_RECOVER:	 return "recover";
	}
	return "operation";
}

const char *
op_token(const struct operation *op)
{
	switch (op->p.kind) {
	case OP_SCALE_UP:	 return "scale_up";
	case OP_SCALE_DOWN:	 return "scale_down";
	case OP_MAINTENANCE_ON:	 return "maintenance_on";
	case OP_MAINTENANCE_OFF: return "maintenance_off";
	default:		 return op_kind_name(op->p.kind);
	}
}

/* Talking. */

static void
op_vsay(struct operation *op, int level, const char *instance,
    const char *fmt, va_list ap)
{
	enum proto_level pl = level <= LOG_ERR ? PROTO_LEVEL_ERROR :
	    level == LOG_WARNING ? PROTO_LEVEL_WARNING :
	    level == LOG_DEBUG ? PROTO_LEVEL_DEBUG : PROTO_LEVEL_INFO;
	char msg[1024];

	utf8_vsnprintf(msg, sizeof(msg), fmt, ap);
	clog_instance(level, op->c->name, op_token(op), instance, "%s: %s",
	    op->name, msg);
	if (op->req)
		ctl_req_log(op->req, pl, "%s", msg);
}

void
op_say(struct operation *op, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	op_vsay(op, level, NULL, fmt, ap);
	va_end(ap);
}

void
op_say_instance(struct operation *op, int level, const char *instance,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	op_vsay(op, level, instance, fmt, ap);
	va_end(ap);
}

void
op_warn(struct operation *op, const char *msg)
{
	strv_add(&op->warnings, msg);
	op_say(op, LOG_WARNING, "%s", msg);
}

void
op_step(struct operation *op, const char *step, int done, int total,
    const char *fmt, ...)
{
	va_list ap;
	char msg[1024];

	va_start(ap, fmt);
	utf8_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	op->step = step;
	cluster_changed(op->c);
	clog_op(LOG_INFO, op->c->name, op_token(op), "%s: %s: %s", op->name,
	    step, msg);
	if (op->req)
		ctl_req_progress(op->req, step, done, total, "%s", msg);
}

void
op_model(struct operation *op, struct model *md)
{
	cluster_model(op->c, md, time_now_ms());
}

void
op_log_summary(struct operation *op, const char *when)
{
	struct model md;

	op_model(op, &md);
	if (md.opencast_known)
		clog_op(LOG_INFO, op->c->name, op_token(op), "%s %s: %d "
		    "instances online, %d of %d workers online, %d queued "
		    "jobs (%d high-load), %d running jobs", when, op->name,
		    md.instances_online, md.workers_online, md.workers,
		    md.queued_jobs, md.queued_high_load_jobs, md.running_jobs);
	else
		clog_op(LOG_INFO, op->c->name, op_token(op), "%s %s: %d "
		    "instances online, %d of %d workers online, Opencast "
		    "unknown", when, op->name, md.instances_online,
		    md.workers_online, md.workers);
	model_release(&md);
}

void
op_accepted(struct operation *op)
{
	if (op->accepted)
		return;
	op->accepted = true;
	if (op->req && !op->p.wait) {
		ctl_req_ok(op->req, json_pack("{s:s, s:o, s:b, s:b}",
		    "message", "accepted", "operation", json_text(op->name),
		    "accepted", 1, "dry_run", op->p.dry_run));
		op->req = NULL;
	}
}

void
op_set_message(struct operation *op, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	utf8_vsnprintf(op->err, sizeof(op->err), fmt, ap);
	va_end(ap);
}

/* Resuming. */

/* Called by the operation's timer. */
static void
on_op_timer(void *arg)
{
	op_run(arg);
}

void
op_resume_in(struct operation *op, uint64_t ms)
{
	looptimer_start(op->timer, ms, on_op_timer);
}

void
op_goto(struct operation *op, int pc)
{
	op->pc = pc;
	op_resume_in(op, 0);
}

void
op_plan_refused(struct operation *op)
{
	op_fail(op, op->plan.error, "%s", op->plan.message);
}

void
op_plan_warnings(struct operation *op)
{
	for (size_t i = 0; i < op->plan.warnings.n; i++)
		op_warn(op, op->plan.warnings.v[i]);
}

/* Ending. */

void
op_cancel_calls(struct operation *op, bool switches)
{
	struct op_maint_call *m;

	zadara_call_cancel(op->zadara_call);
	op->zadara_call = NULL;
	ec2_call_cancel(op->ec2_call);
	op->ec2_call = NULL;
	if (op->refresh_pending) {
		cluster_refresh_cancel(op->c, op);
		op->refresh_pending = false;
	}
	while (switches && (m = LIST_FIRST(&op->maint_calls))) {
		LIST_REMOVE(m, link);
		oc_call_cancel(m->call);
		free(m->host);
		free(m->id);
		free(m);
	}
	if (switches)
		op->maint_pending = 0;
	op->waiting = false;
	looptimer_stop(op->timer);
}

static json_t *
strv_json(const struct strv *s)
{
	json_t *a = json_array();

	for (size_t i = 0; i < s->n; i++)
		json_array_append_new(a, json_text(s->v[i]));
	return a;
}

/* Cancels what is in flight, removes the crash record (or, with
 * keep_record, brings it up to date) and gives the cluster back. */
static void
op_release(struct operation *op, bool keep_record)
{
	char err[512];

	op_cancel_calls(op, true);
	if (op->recorded && keep_record) {
		op_record_flush(op);
	} else if (op->recorded) {
		if (opjournal_remove(op->c->d->config->state_dir,
		    op->c->name, err, sizeof(err)) != 0)
			clog_op(LOG_ERR, op->c->name, op_token(op), "%s: the "
			    "crash record stays: %s", op->name, err);
		op->recorded = false;
	}
	if (op->c->op == op) {
		op->c->op = NULL;
		cluster_changed(op->c);
	}
}

static void
op_free(struct operation *op)
{
	looptimer_free(op->timer);
	if (op->have_plan)
		plan_release(&op->plan);
	if (op->kstate_free)
		op->kstate_free(op->kstate);
	opjournal_release(&op->rec);
	strv_clear(&op->given);
	strv_clear(&op->batch);
	strv_clear(&op->started);
	strv_clear(&op->stopped);
	strv_clear(&op->would);
	strv_clear(&op->warnings);
	strv_clear(&op->wait_ids);
	json_decref(op->p.decision);
	free(op->refresh_error);
	free(op->maint_error);
	free(op->zadara_msg);
	free(op);
}

void
op_conclude(struct operation *op, bool ok, const char *extra)
{
	struct cluster *c = op->c;
	op_done_fn *done = op->done;
	char msg[1024], *s = NULL;
	json_t *result;

	if (op->concluded)
		return;
	op->concluded = true;
	metrics_operation(c->name, op_token(op), ok ? "succeeded" :
	    op->err_code == PROTO_ERR_REFUSED ? "refused" :
	    op->err_code == PROTO_ERR_BUSY ? "interrupted" : "failed",
	    op->p.dry_run, (double)(time_now_ms() - op->started_ms) / 1000);
	if (ok && op->p.dry_run)
		utf8_snprintf(msg, sizeof(msg), "dry run of %s passed every "
		    "rule%s%s", op->what, op->would.n ? "; would act on " : "",
		    op->would.n ? (s = strv_join(&op->would, ", ")) : "");
	else if (ok && !op->err[0])
		utf8_snprintf(msg, sizeof(msg), "%s done", op->name);
	else
		utf8_snprintf(msg, sizeof(msg), "%s%s", op->err,
		    extra ? extra : "");
	free(s);
	op_log_summary(op, "after");
	events_add(&c->events, time_now_ms(), EVENT_OPERATION, ok ? LOG_INFO :
	    LOG_WARNING, json_pack("{s:o, s:o, s:b, s:b, s:o, s:o, s:o}",
	    "operation", json_text(op->name),
	    "initiator", json_text(op->p.initiator),
	    "ok", ok, "dry_run", op->p.dry_run,
	    "started", strv_json(&op->started),
	    "stopped", strv_json(&op->stopped),
	    "warnings", strv_json(&op->warnings)),
	    "%s %s: %s", op->name, ok ? "succeeded" : "failed", msg);
	clog_fields(ok ? LOG_NOTICE : LOG_WARNING, c->name, op_token(op),
	    NULL, ok ? LOG_EV_OP_FINISHED : LOG_EV_OP_FAILED,
	    "%s %s: %s", op->name, ok ? "succeeded" : "failed", msg);
	result = json_pack("{s:o, s:o, s:b, s:o, s:o, s:o, s:o}",
	    "message", json_text(msg), "operation", json_text(op->name),
	    "dry_run", op->p.dry_run,
	    "started", strv_json(&op->started),
	    "stopped", strv_json(&op->stopped),
	    "would", strv_json(&op->would),
	    "warnings", strv_json(&op->warnings));
	if (op->p.decision) {
		/* The autoscaler's action: its decision, then the outcome. */
		s = utf8_asprintf("%s: %s; %s", json_string_value(
		    json_object_get(op->p.decision, "action")),
		    json_string_value(json_object_get(op->p.decision,
		    "reason")), msg);
		utf8_snprintf(msg, sizeof(msg), "%s", s);
		free(s);
		s = NULL;
		json_object_set(result, "decision", op->p.decision);
		json_object_set_new(result, "message", json_text(msg));
	}
	if (op->req) {
		if (ok)
			ctl_req_ok(op->req, json_incref(result));
		else
			ctl_req_error(op->req, op->err_code, "%s", msg);
		op->req = NULL;
	}
	op->done = NULL;
	if (done)
		done(op->done_arg, c, ok, result, ok ? NULL : msg);
	json_decref(result);
}

void
op_end(struct operation *op, bool keep_record)
{
	op_release(op, keep_record);
	op_free(op);
}

void
op_finish(struct operation *op, bool ok)
{
	/* The cluster is free again before done hears of it, as a caller
	 * may start the next operation from there. */
	op_release(op, false);
	op_conclude(op, ok, NULL);
	op_free(op);
}

void
op_fail(struct operation *op, enum proto_err code, const char *fmt, ...)
{
	va_list ap;

	if (op->restoring)
		return;
	op->err_code = code;
	va_start(ap, fmt);
	utf8_vsnprintf(op->err, sizeof(op->err), fmt, ap);
	va_end(ap);
	/* Maintenance switches in flight are answered first: one whose
	 * request Opencast has already taken may still take effect, and the
	 * restore's switch must come after it, not overtake it. */
	op_cancel_calls(op, false);
	if (op->p.kind == OP_RECOVER) {
		op_recover_interrupted(op, op->err);
		return;
	}
	if (op->rec.hosts.n == 0 || op->p.dry_run) {
		op_finish(op, false);
		return;
	}
	/* Undo what this operation did to Opencast, once the switches in
	 * flight are answered. */
	op_restore_begin(op);
}

/* Runs one turn: the restore, a wait in progress, or the machine. */
static void
op_run(struct operation *op)
{
	if (op->restoring) {
		op_restore_turn(op);
		return;
	}
	if (op->waiting) {
		op_wait_turn(op);
		return;
	}
	op->machine(op);
}

/* Starting. */

static void
refuse_busy(struct cluster *c, struct ctl_req *req)
{
	struct operation *op = c->op;
	char ts[TIME_ISO8601_LEN];

	if (req == NULL)
		return;
	time_format_iso8601(op->started_ms, ts);
	if (op->p.kind == OP_RECOVER)
		ctl_req_error(req, PROTO_ERR_BUSY, "%s is recovering from an "
		    "unclean end of the daemon: it takes the nodes the last "
		    "operation left in maintenance out again (step %s, since "
		    "%s)", c->name, op->step, ts);
	else if (op->concluded)
		ctl_req_error(req, PROTO_ERR_BUSY, "%s is busy taking %zu "
		    "node%s out of maintenance again after \"%s\" failed "
		    "(since %s)", c->name, op->rec.hosts.n,
		    op->rec.hosts.n == 1 ? "" : "s", op->name, ts);
	else
		ctl_req_error(req, PROTO_ERR_BUSY, "%s is busy with \"%s\" "
		    "(step %s, since %s)", c->name, op->name, op->step, ts);
}

static op_machine_fn *
machine_of(enum op_kind k)
{
	switch (k) {
	case OP_START:		 return op_run_start;
	case OP_STOP:		 return op_run_stop;
	case OP_SCALE_UP:	 return op_run_scale_up;
	case OP_SCALE_DOWN:	 return op_run_scale_down;
	case OP_SCALE_TO:	 return op_run_scale_to;
	case OP_MAINTENANCE_ON:
	case OP_MAINTENANCE_OFF: return op_run_maintenance;
	case OP_RECOVER:	 break;
	}
	return NULL;
}

int
operation_start(struct cluster *c, const struct op_params *p,
    struct ctl_req *req, op_done_fn *done, void *arg)
{
	struct operation *op;

	if (c->d->stopping) {
		if (req)
			ctl_req_error(req, PROTO_ERR_BUSY, "the daemon is "
			    "shutting down");
		return -1;
	}
	if (c->op == NULL &&
	    opjournal_exists(c->d->config->state_dir, c->name))
		/* Asked before the first refresh after start-up: the
		 * recovery comes first. */
		operation_recover(c);
	if (c->op) {
		refuse_busy(c, req);
		return -1;
	}
	if (machine_of(p->kind) == NULL) {
		if (req)
			ctl_req_error(req, PROTO_ERR_BAD_REQUEST, "%s cannot "
			    "be asked for", op_kind_name(p->kind));
		return -1;
	}
	op = xcalloc(1, sizeof(*op));
	op->c = c;
	op->p = *p;
	json_incref(op->p.decision);
	op->req = req;
	op->done = done;
	op->done_arg = arg;
	op->machine = machine_of(p->kind);
	op->started_ms = time_now_ms();
	op->step = "starting";
	LIST_INIT(&op->maint_calls);
	for (size_t i = 0; i < p->nids; i++)
		strv_add(&op->given, p->ids[i]);
	op->p.ids = NULL;
	op->p.nids = 0;
	if (p->kind == OP_SCALE_UP || p->kind == OP_SCALE_DOWN ||
	    p->kind == OP_SCALE_TO)
		utf8_snprintf(op->name, sizeof(op->name), "%s %d",
		    op_kind_name(p->kind), p->workers);
	else
		utf8_snprintf(op->name, sizeof(op->name), "%s",
		    op_kind_name(p->kind));
	memcpy(op->what, op->name, sizeof(op->what));
	if (p->dry_run)
		utf8_snprintf(op->name + strlen(op->name),
		    sizeof(op->name) - strlen(op->name), " (dry run)");
	opjournal_init(&op->rec);
	opjournal_set(&op->rec.cluster, c->name);
	opjournal_set(&op->rec.operation, op->name);
	opjournal_set(&op->rec.initiator, p->initiator);
	op->rec.started_ms = op->started_ms;
	op->rec.pid = (long)getpid();
	op->timer = looptimer_new(c->d->loop, op);
	c->op = op;
	cluster_changed(c);
	events_add(&c->events, op->started_ms, EVENT_OPERATION, LOG_INFO, NULL,
	    "%s started by %s%s", op->name, p->initiator, p->force ?
	    " with --force" : "");
	clog_fields(LOG_NOTICE, c->name, op_token(op), NULL,
	    LOG_EV_OP_STARTED, "%s started by %s", op->name, p->initiator);
	op_resume_in(op, 0);
	return 0;
}

void
operation_abort(struct operation *op, const char *why)
{
	op_fail(op, PROTO_ERR_BUSY, "interrupted: %s", why);
}

void
operation_cancel(struct operation *op, const char *why)
{
	size_t left = op->rec.hosts.n;
	char *hosts = strv_join(&op->rec.hosts, ", ");
	char extra[1024];

	op_cancel_calls(op, true);
	if (op->p.kind == OP_RECOVER) {
		op_recover_interrupted(op, why);
	} else if (!op->concluded) {
		if (!op->restoring) {
			op->err_code = PROTO_ERR_BUSY;
			utf8_snprintf(op->err, sizeof(op->err),
			    "interrupted: %s", why);
		}
		extra[0] = '\0';
		if (left && !op->p.dry_run)
			utf8_snprintf(extra, sizeof(extra), "; %zu node%s "
			    "still in maintenance (%s): the next start of the "
			    "daemon takes %s out", left, left == 1 ? " is" :
			    "s are", hosts, left == 1 ? "it" : "them");
		op_release(op, left > 0);
		op_conclude(op, false, extra);
		op_free(op);
	} else {
		/* The restore in the background, after the outcome. */
		events_add(&op->c->events, time_now_ms(), EVENT_OPERATION,
		    LOG_WARNING, NULL, "%s: taking nodes out of maintenance "
		    "again was interrupted (%s); still in maintenance: %s; "
		    "the next start of the daemon takes %s out", op->name,
		    why, hosts, left == 1 ? "it" : "them");
		clog_op(LOG_WARNING, op->c->name, op_token(op), "%s: taking "
		    "nodes out of maintenance again was interrupted (%s); "
		    "still in maintenance: %s", op->name, why, hosts);
		op_end(op, left > 0);
	}
	free(hosts);
}

json_t *
operation_status_json(const struct operation *op)
{
	char ts[TIME_ISO8601_LEN];

	if (op == NULL)
		return json_null();
	time_format_iso8601(op->started_ms, ts);
	return json_pack("{s:o, s:o, s:s}", "cmd", json_text(op->name),
	    "step", json_text(op->step), "started_at", ts);
}
