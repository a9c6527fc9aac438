/*
 * Operations as state machines.  Each command is a machine (run_start,
 * run_stop, run_scale_up, ...) that resumes at op->pc; it decides with the
 * pure rules of rules.c and acts through the primitives below, each of
 * which ends by resuming the machine from the loop (never from the
 * machine's own stack):
 *   op_refresh      read EC2 and/or Opencast into the cluster
 *   op_ec2          one StartInstances/StopInstances with every id of a step
 *   op_wait         poll (one DescribeInstances, or one Opencast read, per
 *                   poll) every wait_interval, at most wait_retries times,
 *                   until a predicate holds
 *   op_maintenance  switch Opencast hosts in or out of maintenance
 * Every host an operation puts in maintenance is remembered until its
 * instance is stopped; an operation that ends in any way but success takes
 * those hosts out of maintenance again before it ends (op_fail).
 */
#include "daemon/operation.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/strv.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/control.h"
#include "daemon/cluster.h"
#include "daemon/daemon.h"
#include "daemon/ec2.h"
#include "daemon/looptimer.h"
#include "daemon/model.h"
#include "daemon/opencast.h"
#include "daemon/rules.h"
#include "daemon/zadara.h"

struct operation;
typedef void op_machine_fn(struct operation *op);
typedef bool op_pred_fn(struct operation *op, const struct model *md,
    char *why, size_t len);

/* One maintenance switch in flight. */
struct op_maint {
	struct operation *op;
	struct oc_call *call;
	char	*host;
	char	*id;
	bool	 on;
	struct op_maint *next;
};

struct operation {
	struct cluster	*c;
	struct op_params p;
	char		 name[64];	/* "scale down 2 (dry run)" */
	char		 what[64];	/* "scale down 2" */
	struct ctl_req	*req;
	op_done_fn	*done;
	void		*done_arg;
	op_machine_fn	*machine;
	int		 pc;
	const char	*step;
	int64_t		 started_ms;
	struct looptimer *timer;
	struct plan	 plan;
	bool		 have_plan;

	/* Hosts this operation put in maintenance and did not stop, with
	 * their instances (parallel lists). */
	struct strv	 maint_hosts;
	struct strv	 maint_ids;

	struct strv	 batch;		/* ids of the current step */
	struct strv	 started;
	struct strv	 stopped;
	struct strv	 would;		/* dry run: what would have been done */
	struct strv	 warnings;
	/* scale up: */
	int		 want;
	struct strv	 queue;
	struct strv	 spares;
	/* scale down: */
	struct strv	 chosen;
	struct strv	 given;		/* op_params ids, copied */
	struct strv	 pair_hosts;	/* hosts to switch, with ... */
	struct strv	 pair_ids;	/* ... their instances */

	/* The call in flight and its outcome. */
	struct ec2_call	*ec2_call;
	bool		 ec2_start;	/* the call starts (else stops) */
	bool		 ec2_failed;
	struct aws_error ec2_err;
	bool		 refresh_pending;
	bool		 refresh_ok;
	char		*refresh_error;
	struct op_maint	*maint_calls;
	int		 maint_pending;
	char		*maint_error;
	struct zadara_call *zadara_call;
	bool		 zadara_failed;
	enum zadara_err_kind zadara_err_kind;
	char		*zadara_msg;	/* the outcome, for the operator */

	/* A wait in progress. */
	bool		 waiting;
	unsigned	 wait_parts;
	op_pred_fn	*wait_pred;
	int		 wait_next;
	int		 polls;
	bool		 polled;
	const char	*wait_what;

	bool		 accepted;
	bool		 restoring;
	enum proto_err	 err_code;
	char		 err[768];
};

static void op_run(struct operation *op);
static void op_fail(struct operation *op, enum proto_err code,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void op_finish(struct operation *op, bool ok);

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
	}
	return "operation";
}

/* Talking. */

static void
op_say(struct operation *op, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A message for the log and for the client that asked. */
static void
op_say(struct operation *op, int level, const char *fmt, ...)
{
	enum proto_level pl = level <= LOG_ERR ? PROTO_LEVEL_ERROR :
	    level == LOG_WARNING ? PROTO_LEVEL_WARNING :
	    level == LOG_DEBUG ? PROTO_LEVEL_DEBUG : PROTO_LEVEL_INFO;
	va_list ap;
	char msg[1024];

	va_start(ap, fmt);
	utf8_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clog(level, op->c->name, "%s: %s", op->name, msg);
	if (op->req)
		ctl_req_log(op->req, pl, "%s", msg);
}

static void
op_warn(struct operation *op, const char *msg)
{
	strv_add(&op->warnings, msg);
	op_say(op, LOG_WARNING, "%s", msg);
}

static void
op_step(struct operation *op, const char *step, int done, int total,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Enters a step: status shows it, the client sees a progress event. */
static void
op_step(struct operation *op, const char *step, int done, int total,
    const char *fmt, ...)
{
	va_list ap;
	char msg[1024];

	va_start(ap, fmt);
	utf8_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	op->step = step;
	clog(LOG_INFO, op->c->name, "%s: %s: %s", op->name, step, msg);
	if (op->req)
		ctl_req_progress(op->req, step, done, total, "%s", msg);
}

static void
log_summary(struct operation *op, const char *when)
{
	struct model md;

	cluster_model(op->c, &md, time_now_ms());
	if (md.opencast_known)
		clog(LOG_INFO, op->c->name, "%s %s: %d instances online, %d of "
		    "%d workers online, %d queued jobs (%d high-load), %d "
		    "running jobs", when, op->name, md.instances_online,
		    md.workers_online, md.workers, md.queued_jobs,
		    md.queued_high_load_jobs, md.running_jobs);
	else
		clog(LOG_INFO, op->c->name, "%s %s: %d instances online, %d of "
		    "%d workers online, Opencast unknown", when, op->name,
		    md.instances_online, md.workers_online, md.workers);
	model_release(&md);
}

/* Replies at once to a client that asked not to wait. */
static void
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

/* Resuming. */

/* Called by the operation's timer. */
static void
on_op_timer(void *arg)
{
	op_run(arg);
}

/* Resumes the machine from the loop after ms milliseconds. */
static void
op_resume_in(struct operation *op, uint64_t ms)
{
	looptimer_start(op->timer, ms, on_op_timer);
}

static void
op_goto(struct operation *op, int pc)
{
	op->pc = pc;
	op_resume_in(op, 0);
}

/* Primitives. */

static void
on_op_refreshed(void *arg, struct cluster *c, bool ok, const char *error)
{
	struct operation *op = arg;

	(void)c;
	op->refresh_pending = false;
	op->refresh_ok = ok;
	free(op->refresh_error);
	op->refresh_error = error ? xstrdup(error) : NULL;
	op_resume_in(op, 0);
}

/* Reads the parts of the cluster, then resumes at pc. */
static void
op_refresh(struct operation *op, unsigned parts, int pc)
{
	op->pc = pc;
	op->refresh_pending = true;
	cluster_refresh_parts(op->c, parts, on_op_refreshed, op);
}

static void
on_op_ec2(void *arg, struct ec2_state_changes *ch,
    const struct aws_error *err)
{
	struct operation *op = arg;
	bool start = op->ec2_start;

	op->ec2_call = NULL;
	op->ec2_failed = err != NULL;
	if (err) {
		op->ec2_err = *err;
	} else if (op->p.dry_run) {
		for (size_t i = 0; i < op->batch.n; i++)
			strv_add(&op->would, op->batch.v[i]);
	} else {
		for (size_t i = 0; i < op->batch.n; i++) {
			const char *id = op->batch.v[i];

			strv_add(start ? &op->started : &op->stopped, id);
			if (!start) {
				/* A stopped node may stay in maintenance. */
				for (size_t k = 0; k < op->maint_ids.n; k++) {
					if (strcmp(op->maint_ids.v[k], id))
						continue;
					strv_remove_at(&op->maint_hosts, k);
					strv_remove_at(&op->maint_ids, k);
					break;
				}
			}
		}
	}
	ec2_state_changes_free(ch);
	op_resume_in(op, 0);
}

/* One StartInstances or StopInstances with every id of op->batch. */
static void
op_ec2(struct operation *op, bool start, int pc)
{
	op->pc = pc;
	op->ec2_failed = false;
	op->ec2_start = start;
	aws_error_clear(&op->ec2_err);
	if (start)
		op->ec2_call = ec2_start_instances(op->c->d->ec2,
		    (const char *const *)op->batch.v, op->batch.n,
		    op->p.dry_run, on_op_ec2, op);
	else
		op->ec2_call = ec2_stop_instances(op->c->d->ec2,
		    (const char *const *)op->batch.v, op->batch.n,
		    op->p.dry_run, on_op_ec2, op);
}

static void
op_fail_ec2(struct operation *op)
{
	char buf[1024];

	op_fail(op, PROTO_ERR_UPSTREAM, "%s",
	    aws_error_format(&op->ec2_err, buf, sizeof(buf)));
}

/* Waits until pred holds, reading parts once per poll; then resumes at
 * next.  A dry run does not wait: nothing would change. */
static void
op_wait(struct operation *op, unsigned parts, op_pred_fn *pred,
    const char *what, int next)
{
	if (op->p.dry_run) {
		op_say(op, LOG_INFO, "would wait until %s", what);
		op_goto(op, next);
		return;
	}
	op->waiting = true;
	op->wait_parts = parts;
	op->wait_pred = pred;
	op->wait_next = next;
	op->wait_what = what;
	op->polls = 0;
	op->polled = false;
	op_resume_in(op, 0);
}

/* One turn of a wait: poll, or look at what the poll read. */
static void
op_wait_turn(struct operation *op)
{
	const struct cluster_config *cfg = op->c->cfg;
	struct model md;
	char why[512] = "";
	bool ok;

	if (!op->polled) {
		op->polled = true;
		op->polls++;
		op->refresh_pending = true;
		cluster_refresh_parts(op->c, op->wait_parts, on_op_refreshed,
		    op);
		return;
	}
	if (!op->refresh_ok) {
		op->waiting = false;
		op_fail(op, PROTO_ERR_UPSTREAM, "while waiting until %s: %s",
		    op->wait_what, op->refresh_error ? op->refresh_error :
		    "refresh failed");
		return;
	}
	cluster_model(op->c, &md, time_now_ms());
	ok = op->wait_pred(op, &md, why, sizeof(why));
	model_release(&md);
	if (ok) {
		op->waiting = false;
		op_goto(op, op->wait_next);
		return;
	}
	if (op->polls >= cfg->wait_retries) {
		char msg[768], every[32];

		op->waiting = false;
		time_format_duration(cfg->wait_interval_ms, every,
		    sizeof(every));
		utf8_snprintf(msg, sizeof(msg),
		    "gave up waiting until %s after %d "
		    "polls %s apart: %s", op->wait_what, op->polls, every, why);
		if (op->p.force) {
			op_warn(op, msg);
			op_goto(op, op->wait_next);
		} else {
			op_fail(op, PROTO_ERR_TIMEOUT, "%s", msg);
		}
		return;
	}
	if (op->req)
		ctl_req_progress(op->req, op->step, op->polls,
		    cfg->wait_retries, "%s", why);
	op->polled = false;
	op_resume_in(op, (uint64_t)cfg->wait_interval_ms);
}

static void
maint_done(struct operation *op)
{
	if (--op->maint_pending > 0)
		return;
	op_resume_in(op, 0);
}

static void
on_op_maint(void *arg, const struct oc_error *err)
{
	struct op_maint *m = arg, **pp;
	struct operation *op = m->op;

	m->call = NULL;
	if (err) {
		if (op->maint_error == NULL)
			op->maint_error = xasprintf("maintenance %s for %s: %s",
			    m->on ? "on" : "off", m->host, err->message);
	} else if (m->on) {
		strv_add(&op->maint_hosts, m->host);
		strv_add(&op->maint_ids, m->id);
	} else {
		for (size_t k = 0; k < op->maint_hosts.n; k++) {
			if (strcmp(op->maint_hosts.v[k], m->host) == 0) {
				strv_remove_at(&op->maint_hosts, k);
				strv_remove_at(&op->maint_ids, k);
				break;
			}
		}
	}
	for (pp = &op->maint_calls; *pp != m; pp = &(*pp)->next)
		;
	*pp = m->next;
	free(m->host);
	free(m->id);
	free(m);
	maint_done(op);
}

/* Switches the hosts in op->pair_hosts (instances in op->pair_ids) on or
 * off, all at once; resumes at pc when every answer is in. */
static void
op_maintenance(struct operation *op, bool on, int pc)
{
	struct oc_client *oc = op->c->oc;

	op->pc = pc;
	free(op->maint_error);
	op->maint_error = NULL;
	if (op->pair_hosts.n == 0) {
		op_resume_in(op, 0);
		return;
	}
	if (op->p.dry_run) {
		for (size_t i = 0; i < op->pair_hosts.n; i++)
			op_say(op, LOG_INFO, "would put %s %s maintenance",
			    op->pair_hosts.v[i], on ? "in" : "out of");
		op_resume_in(op, 0);
		return;
	}
	if (oc == NULL) {
		op->maint_error = xstrdup("Opencast is not reachable");
		op_resume_in(op, 0);
		return;
	}
	op->maint_pending = (int)op->pair_hosts.n;
	for (size_t i = 0; i < op->pair_hosts.n; i++) {
		struct op_maint *m = xcalloc(1, sizeof(*m));

		m->op = op;
		m->on = on;
		m->host = xstrdup(op->pair_hosts.v[i]);
		m->id = xstrdup(op->pair_ids.v[i]);
		m->next = op->maint_calls;
		op->maint_calls = m;
		m->call = oc_set_maintenance(oc, m->host, on, on_op_maint, m);
	}
}

/* Called by the Zadara client with each poll of a wait. */
static void
on_op_zadara_progress(void *arg, const struct zadara_progress *pr)
{
	struct operation *op = arg;

	if (op->req)
		ctl_req_progress(op->req, op->step, pr->poll, pr->max_polls,
		    "%s", pr->message);
	clog(LOG_DEBUG, op->c->name, "%s: %s", op->name, pr->message);
}

/* Called by the Zadara client when the array is where it should be (or
 * cannot get there). */
static void
on_op_zadara(void *arg, const struct zadara_result *r,
    const struct zadara_error *err)
{
	struct operation *op = arg;
	struct cluster *c = op->c;

	op->zadara_call = NULL;
	op->zadara_failed = err != NULL;
	op->zadara_err_kind = err ? err->kind : ZADARA_ERR_NONE;
	free(op->zadara_msg);
	op->zadara_msg = xstrdup(err ? err->message : r->message ?
	    r->message : "done");
	if (r && r->vpsa) {
		free(c->zadara_status);
		c->zadara_status = xstrdup(r->vpsa->status);
	}
	free(c->zadara_error);
	c->zadara_error = err ? xstrdup(err->message) : NULL;
	op_resume_in(op, 0);
}

/* Brings the cluster's array up or down (zadara_ensure), then resumes at
 * pc; a cluster without an array resumes at once. */
static void
op_zadara(struct operation *op, enum zadara_target target, int pc)
{
	const char *vpsa = op->c->cfg->zadara_vpsa;
	struct zadara_wait w = {
		.interval_ms = (long)op->c->cfg->wait_interval_ms,
		.max_polls = op->c->cfg->wait_retries,
	};

	op->pc = pc;
	op->zadara_failed = false;
	free(op->zadara_msg);
	op->zadara_msg = NULL;
	if (vpsa == NULL || *vpsa == '\0') {
		op_resume_in(op, 0);
		return;
	}
	if (op->c->d->zadara == NULL) {
		op->zadara_failed = true;
		op->zadara_err_kind = ZADARA_ERR_CONFIG;
		op->zadara_msg = xstrdup("no Zadara account token (credential "
		    "zadara-token or ZADARA_ACCOUNT_TOKEN)");
		op_resume_in(op, 0);
		return;
	}
	op->zadara_call = zadara_ensure(op->c->d->zadara, vpsa, target, &w,
	    op->p.dry_run, on_op_zadara_progress, on_op_zadara, op);
}

/* After op_zadara: true to go on.  A give-up becomes a warning with
 * --force; any other failure ends the operation. */
static bool
op_zadara_ok(struct operation *op, const char *what)
{
	if (!op->zadara_failed) {
		if (op->zadara_msg)
			op_say(op, LOG_INFO, "Zadara array %s: %s",
			    op->c->cfg->zadara_vpsa, op->zadara_msg);
		return true;
	}
	if (op->p.force && op->zadara_err_kind == ZADARA_ERR_TIMEOUT) {
		char msg[768];

		utf8_snprintf(msg, sizeof(msg),
		    "gave up waiting to %s the Zadara "
		    "array; going on because of --force: %s", what,
		    op->zadara_msg);
		op_warn(op, msg);
		return true;
	}
	op_fail(op, op->zadara_err_kind == ZADARA_ERR_TIMEOUT ?
	    PROTO_ERR_TIMEOUT : PROTO_ERR_UPSTREAM, "Zadara array %s: %s",
	    op->c->cfg->zadara_vpsa, op->zadara_msg);
	return false;
}

/* Ending. */

static void
cancel_calls(struct operation *op)
{
	struct op_maint *m;

	zadara_call_cancel(op->zadara_call);
	op->zadara_call = NULL;

	ec2_call_cancel(op->ec2_call);
	op->ec2_call = NULL;
	if (op->refresh_pending) {
		cluster_refresh_cancel(op->c, op);
		op->refresh_pending = false;
	}
	while ((m = op->maint_calls)) {
		op->maint_calls = m->next;
		oc_call_cancel(m->call);
		free(m->host);
		free(m->id);
		free(m);
	}
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

static void
op_free(struct operation *op)
{
	cancel_calls(op);
	looptimer_free(op->timer);
	if (op->have_plan)
		plan_release(&op->plan);
	strv_clear(&op->maint_hosts);
	strv_clear(&op->maint_ids);
	strv_clear(&op->batch);
	strv_clear(&op->started);
	strv_clear(&op->stopped);
	strv_clear(&op->would);
	strv_clear(&op->warnings);
	strv_clear(&op->queue);
	strv_clear(&op->spares);
	strv_clear(&op->chosen);
	strv_clear(&op->given);
	strv_clear(&op->pair_hosts);
	strv_clear(&op->pair_ids);
	free(op->refresh_error);
	free(op->maint_error);
	free(op->zadara_msg);
	free(op);
}

/* Ends the operation: log, history, reply, outcome. */
static void
op_finish(struct operation *op, bool ok)
{
	struct cluster *c = op->c;
	int64_t now = time_now_ms();
	char msg[1024];
	json_t *result;

	cancel_calls(op);
	if (ok) {
		char *s = NULL;

		if (op->p.dry_run)
			utf8_snprintf(msg, sizeof(msg),
			    "dry run of %s passed every "
			    "rule%s%s", op->what, op->would.n ?
			    "; would act on " : "",
			    op->would.n ? (s = strv_join(&op->would, ", ")) :
			    "");
		else if (op->err[0])
			utf8_snprintf(msg, sizeof(msg), "%s", op->err);
		else
			utf8_snprintf(msg, sizeof(msg), "%s done", op->name);
		free(s);
	} else {
		utf8_snprintf(msg, sizeof(msg), "%s", op->err);
	}
	log_summary(op, "after");
	events_add(&c->events, now, EVENT_OPERATION, ok ? LOG_INFO :
	    LOG_WARNING, json_pack("{s:o, s:o, s:b, s:b, s:o, s:o, s:o}",
	    "operation", json_text(op->name),
	    "initiator", json_text(op->p.initiator),
	    "ok", ok, "dry_run", op->p.dry_run,
	    "started", strv_json(&op->started),
	    "stopped", strv_json(&op->stopped),
	    "warnings", strv_json(&op->warnings)),
	    "%s %s: %s", op->name, ok ? "succeeded" : "failed", msg);
	clog(ok ? LOG_NOTICE : LOG_WARNING, c->name, "%s %s: %s", op->name,
	    ok ? "succeeded" : "failed", msg);
	result = json_pack("{s:o, s:o, s:b, s:o, s:o, s:o, s:o}",
	    "message", json_text(msg), "operation", json_text(op->name),
	    "dry_run", op->p.dry_run,
	    "started", strv_json(&op->started),
	    "stopped", strv_json(&op->stopped),
	    "would", strv_json(&op->would),
	    "warnings", strv_json(&op->warnings));
	if (op->req) {
		if (ok)
			ctl_req_ok(op->req, json_incref(result));
		else
			ctl_req_error(op->req, op->err_code, "%s", msg);
		op->req = NULL;
	}
	c->op = NULL;
	if (op->done)
		op->done(op->done_arg, c, ok, result, ok ? NULL : msg);
	json_decref(result);
	op_free(op);
}

/* Called when the hosts put in maintenance are out of it again. */
static void
restore_done(struct operation *op)
{
	if (op->maint_error)
		op_say(op, LOG_ERR, "could not take every node out of "
		    "maintenance: %s; still in maintenance: %zu", op->maint_error,
		    op->maint_hosts.n);
	op_finish(op, false);
}

static void
op_fail(struct operation *op, enum proto_err code, const char *fmt, ...)
{
	va_list ap;

	if (op->restoring)
		return;
	op->err_code = code;
	va_start(ap, fmt);
	utf8_vsnprintf(op->err, sizeof(op->err), fmt, ap);
	va_end(ap);
	cancel_calls(op);
	if (op->maint_hosts.n == 0 || op->p.dry_run) {
		op_finish(op, false);
		return;
	}
	/* Undo what this operation did to Opencast. */
	op->restoring = true;
	op_say(op, LOG_WARNING, "taking %zu node%s out of maintenance again",
	    op->maint_hosts.n, op->maint_hosts.n == 1 ? "" : "s");
	strv_clear(&op->pair_hosts);
	strv_clear(&op->pair_ids);
	for (size_t i = 0; i < op->maint_hosts.n; i++) {
		strv_add(&op->pair_hosts, op->maint_hosts.v[i]);
		strv_add(&op->pair_ids, op->maint_ids.v[i]);
	}
	op_maintenance(op, false, 0);
}

static int
op_refuse_plan(struct operation *op)
{
	op_fail(op, op->plan.error, "%s", op->plan.message);
	return -1;
}

static void
op_plan_warnings(struct operation *op)
{
	for (size_t i = 0; i < op->plan.warnings.n; i++)
		op_warn(op, op->plan.warnings.v[i]);
}

/* Checks the outcome of op_refresh at the start of a machine. */
static bool
op_refreshed_ok(struct operation *op)
{
	if (op->refresh_ok || op->c->ec2_ok)
		return true;
	op_fail(op, PROTO_ERR_UPSTREAM, "cannot read the cluster: %s",
	    op->refresh_error ? op->refresh_error : "refresh failed");
	return false;
}

/* Builds the plan with fn on the current model. */
#define PLAN(op, call) do {						\
	struct model md_;						\
	int rc_;							\
	cluster_model((op)->c, &md_, time_now_ms());			\
	if ((op)->have_plan)						\
		plan_release(&(op)->plan);				\
	(op)->have_plan = true;						\
	rc_ = call;							\
	model_release(&md_);						\
	if (rc_ != 0) {							\
		op_refuse_plan(op);					\
		return;							\
	}								\
} while (0)

/* Predicates for waits. */

static const struct model_member *
member(const struct model *md, const char *id)
{
	for (size_t i = 0; i < md->n; i++)
		if (strcmp(md->m[i].inst->id, id) == 0)
			return &md->m[i];
	return NULL;
}

static bool
batch_in_state(struct operation *op, const struct model *md,
    enum ec2_state want, char *why, size_t len)
{
	int ready = 0;

	for (size_t i = 0; i < op->batch.n; i++) {
		const struct model_member *m = member(md, op->batch.v[i]);

		if (m && m->inst->state == want) {
			ready++;
			continue;
		}
		if (why[0] == '\0')
			utf8_snprintf(why, len, "%s is %s", op->batch.v[i],
			    m ? ec2_state_name(m->inst->state) : "gone");
	}
	if (ready < (int)op->batch.n) {
		char buf[128];

		utf8_snprintf(buf, sizeof(buf), "; %d of %zu %s", ready,
		    op->batch.n, ec2_state_name(want));
		strncat(why, buf, len - strlen(why) - 1);
		return false;
	}
	return true;
}

static bool
pred_running(struct operation *op, const struct model *md, char *why,
    size_t len)
{
	return batch_in_state(op, md, EC2_STATE_RUNNING, why, len);
}

static bool
pred_stopped(struct operation *op, const struct model *md, char *why,
    size_t len)
{
	return batch_in_state(op, md, EC2_STATE_STOPPED, why, len);
}

/* Every instance of the batch has an Opencast host that is online and out
 * of maintenance.  A host row that went away in maintenance keeps looking
 * online (reference §4.2), so "online" alone does not prove a restarted
 * node registered again; out of maintenance and online does once the
 * flag was switched off. */
static bool
pred_ready(struct operation *op, const struct model *md, char *why,
    size_t len)
{
	int ok = 0;

	for (size_t i = 0; i < op->batch.n; i++) {
		const struct model_member *m = member(md, op->batch.v[i]);

		if (m && m->host && m->host->online && !m->host->maintenance)
			ok++;
		else if (why[0] == '\0')
			utf8_snprintf(why, len, "%s is %s", op->batch.v[i],
			    m == NULL ? "gone" : m->host == NULL ?
			    "not registered in Opencast yet" :
			    !m->host->online ? "offline in Opencast" :
			    "still in maintenance");
	}
	return ok == (int)op->batch.n;
}

/* Opencast answers and knows every running Opencast node. */
static bool
pred_opencast_ready(struct operation *op, const struct model *md, char *why,
    size_t len)
{
	(void)op;
	if (!md->opencast_known) {
		utf8_snprintf(why, len, "Opencast does not answer yet");
		return false;
	}
	for (size_t i = 0; i < md->n; i++) {
		const struct model_member *m = &md->m[i];

		if (model_role_is_opencast(m->role) &&
		    m->inst->state == EC2_STATE_RUNNING && m->host == NULL) {
			utf8_snprintf(why, len, "%s (%s) is not registered in "
			    "Opencast yet", m->inst->name, m->inst->id);
			return false;
		}
	}
	return true;
}

static bool
pairs_in_maintenance(struct operation *op, const struct model *md, bool on,
    char *why, size_t len)
{
	for (size_t i = 0; i < op->pair_ids.n; i++) {
		const struct model_member *m = member(md, op->pair_ids.v[i]);

		if (m && m->host && m->host->maintenance != on) {
			utf8_snprintf(why, len, "%s is still %s maintenance",
			    m->host->base_url, on ? "out of" : "in");
			return false;
		}
	}
	return true;
}

static bool
pred_maint_on(struct operation *op, const struct model *md, char *why,
    size_t len)
{
	return pairs_in_maintenance(op, md, true, why, len);
}

static bool
pred_maint_off(struct operation *op, const struct model *md, char *why,
    size_t len)
{
	return pairs_in_maintenance(op, md, false, why, len);
}

/* No running worker known to Opencast runs a job. */
static bool
pred_workers_idle(struct operation *op, const struct model *md, char *why,
    size_t len)
{
	int busy = 0, jobs = 0;

	(void)op;
	if (!md->opencast_known) {
		utf8_snprintf(why, len, "Opencast cannot be read");
		return false;
	}
	for (size_t i = 0; i < md->n; i++) {
		const struct model_member *m = &md->m[i];

		if (m->role == ROLE_WORKER && m->running_jobs > 0) {
			busy++;
			jobs += m->running_jobs;
		}
	}
	if (busy) {
		utf8_snprintf(why, len,
		    "%d worker%s still run%s %d job%s", busy,
		    busy == 1 ? "" : "s", busy == 1 ? "s" : "", jobs,
		    jobs == 1 ? "" : "s");
		return false;
	}
	return true;
}

/* Fills op->pair_hosts/ids with the hosts of the given instances whose
 * maintenance flag is not `want` already. */
static void
pairs_needing(struct operation *op, const struct strv *ids, bool want)
{
	struct model md;

	strv_clear(&op->pair_hosts);
	strv_clear(&op->pair_ids);
	cluster_model(op->c, &md, time_now_ms());
	for (size_t i = 0; i < ids->n; i++) {
		const struct model_member *m = member(&md, ids->v[i]);

		if (m && m->host && m->inst->state == EC2_STATE_RUNNING &&
		    m->host->maintenance != want) {
			strv_add(&op->pair_hosts, m->host->base_url);
			strv_add(&op->pair_ids, m->inst->id);
		}
	}
	model_release(&md);
}

/* The running Opencast nodes of the cluster. */
static void
running_opencast(struct operation *op, struct strv *ids)
{
	struct model md;

	cluster_model(op->c, &md, time_now_ms());
	for (size_t i = 0; i < md.n; i++)
		if (model_role_is_opencast(md.m[i].role) &&
		    md.m[i].inst->state == EC2_STATE_RUNNING)
			strv_add(ids, md.m[i].inst->id);
	model_release(&md);
}

static void
batch_set(struct operation *op, const struct strv *ids)
{
	strv_clear(&op->batch);
	for (size_t i = 0; i < ids->n; i++)
		strv_add(&op->batch, ids->v[i]);
}

static char *
batch_text(struct operation *op)
{
	return strv_join(&op->batch, ", ");
}

/* The machines.  Each case ends by calling one primitive (or op_goto,
 * op_fail, op_finish) and returning. */

enum {
	SU_PLAN = 1, SU_STARTED, SU_NEXT_SINGLE, SU_SINGLE_DONE, SU_RUNNING,
	SU_MAINT_OFF, SU_REGISTERED, SU_DONE,
};

static bool
is_capacity_error(const struct aws_error *e)
{
	return strcmp(e->code, "InsufficientInstanceCapacity") == 0;
}

static void
run_scale_up(struct operation *op)
{
	char *s;

	switch (op->pc) {
	case 0:
		op_refresh(op, REFRESH_ALL, SU_PLAN);
		return;
	case SU_PLAN:
		if (!op_refreshed_ok(op))
			return;
		PLAN(op, rules_scale_up(&md_, op->c->cfg, op->p.workers,
		    op->p.force, &op->plan));
		op_plan_warnings(op);
		log_summary(op, "before");
		op->want = op->p.workers;
		strv_clear(&op->batch);
		for (size_t i = 0; i < op->plan.start_nodes.n; i++)
			strv_add(i < (size_t)op->want ? &op->batch :
			    &op->spares, op->plan.start_nodes.v[i]);
		s = batch_text(op);
		op_step(op, "start_workers", 0, op->want, "starting %d "
		    "worker%s: %s", op->want, op->want == 1 ? "" : "s", s);
		free(s);
		op_ec2(op, true, SU_STARTED);
		return;
	case SU_STARTED:
		if (op->ec2_failed && is_capacity_error(&op->ec2_err)) {
			/* Find out which one lacks capacity: one by one. */
			op_say(op, LOG_WARNING, "EC2 lacks capacity for one of "
			    "them; starting the workers one at a time");
			strv_clear(&op->queue);
			for (size_t i = 0; i < op->batch.n; i++)
				strv_add(&op->queue, op->batch.v[i]);
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
		if ((int)(op->started.n + op->would.n) >= op->want) {
			op_goto(op, SU_RUNNING);
			return;
		}
		if (op->queue.n == 0) {
			if (op->spares.n == 0) {
				op_fail(op, PROTO_ERR_UPSTREAM, "EC2 has no "
				    "capacity (InsufficientInstanceCapacity) "
				    "and no other stopped worker is left; "
				    "started %zu of %d", op->started.n,
				    op->want);
				return;
			}
			strv_add(&op->queue, op->spares.v[0]);
			strv_remove(&op->spares, op->queue.v[0]);
		}
		strv_clear(&op->batch);
		strv_add(&op->batch, op->queue.v[0]);
		strv_remove(&op->queue, op->batch.v[0]);
		op_ec2(op, true, SU_SINGLE_DONE);
		return;
	case SU_SINGLE_DONE:
		if (op->ec2_failed && is_capacity_error(&op->ec2_err)) {
			op_say(op, LOG_WARNING, "EC2 has no capacity for %s; "
			    "trying the next stopped worker", op->batch.v[0]);
		} else if (op->ec2_failed) {
			op_fail_ec2(op);
			return;
		}
		op_goto(op, SU_NEXT_SINGLE);
		return;
	case SU_RUNNING:
		op_accepted(op);
		batch_set(op, op->p.dry_run ? &op->would : &op->started);
		s = batch_text(op);
		op_step(op, "wait_running", 0, (int)op->batch.n, "waiting "
		    "until %s run%s", s, op->batch.n == 1 ? "s" : "");
		free(s);
		op_wait(op, REFRESH_EC2, pred_running, "the started workers "
		    "run", SU_MAINT_OFF);
		return;
	case SU_MAINT_OFF:
		/* Workers that were stopped in maintenance keep the flag in
		 * Opencast's database: switch it off now, so that it is off
		 * when they register. */
		pairs_needing(op, &op->batch, false);
		if (op->pair_hosts.n)
			op_step(op, "maintenance_off", 0,
			    (int)op->pair_hosts.n, "taking %zu new worker%s "
			    "out of maintenance", op->pair_hosts.n,
			    op->pair_hosts.n == 1 ? "" : "s");
		op_maintenance(op, false, SU_REGISTERED);
		return;
	case SU_REGISTERED:
		if (op->maint_error) {
			op_fail(op, PROTO_ERR_UPSTREAM, "%s", op->maint_error);
			return;
		}
		op_step(op, "wait_registered", 0, (int)op->batch.n, "waiting "
		    "until Opencast knows the new workers, out of "
		    "maintenance");
		op_wait(op, REFRESH_OPENCAST, pred_ready, "the new workers are "
		    "registered in Opencast and out of maintenance", SU_DONE);
		return;
	case SU_DONE:
		s = strv_join(&op->started, ", ");
		utf8_snprintf(op->err, sizeof(op->err),
		    "started %zu worker%s: %s",
		    op->started.n, op->started.n == 1 ? "" : "s", s);
		free(s);
		op_finish(op, true);
		return;
	}
}

enum {
	SD_PLAN = 1, SD_RECHECK_READ, SD_RECHECK, SD_STOP, SD_STOPPED, SD_DONE,
};

static void
run_scale_down(struct operation *op)
{
	struct strv stop = { 0 }, release = { 0 };
	struct model md;
	char *s;

	switch (op->pc) {
	case 0:
		op_refresh(op, REFRESH_ALL, SD_PLAN);
		return;
	case SD_PLAN:
		if (!op_refreshed_ok(op))
			return;
		PLAN(op, rules_scale_down(&md_, op->c->cfg, op->p.workers,
		    op->p.force, &op->plan));
		op_plan_warnings(op);
		log_summary(op, "before");
		if (op->given.n) {
			/* The caller chose (the autoscaler, by billing):
			 * the rules above still had their say on numbers;
			 * each chosen one must be a running, unheld worker. */
			cluster_model(op->c, &md, time_now_ms());
			for (size_t i = 0; i < op->given.n; i++) {
				const struct model_member *m =
				    member(&md, op->given.v[i]);

				if (m == NULL || m->role != ROLE_WORKER ||
				    m->held ||
				    m->inst->state != EC2_STATE_RUNNING) {
					model_release(&md);
					op_fail(op, PROTO_ERR_REFUSED, "%s is no "
					    "longer a running, unheld worker",
					    op->given.v[i]);
					return;
				}
			}
			model_release(&md);
			batch_set(op, &op->given);
		} else {
			batch_set(op, &op->plan.stop_nodes);
		}
		strv_clear(&op->chosen);
		for (size_t i = 0; i < op->batch.n; i++)
			strv_add(&op->chosen, op->batch.v[i]);
		op_accepted(op);
		/* Only the chosen ones, never the whole cluster. */
		pairs_needing(op, &op->chosen, true);
		s = batch_text(op);
		op_step(op, "maintenance_on", 0, (int)op->pair_hosts.n,
		    "chose %s; putting %zu in maintenance", s,
		    op->pair_hosts.n);
		free(s);
		op_maintenance(op, true, SD_RECHECK_READ);
		return;
	case SD_RECHECK_READ:
		if (op->maint_error) {
			op_fail(op, PROTO_ERR_UPSTREAM, "%s", op->maint_error);
			return;
		}
		op_step(op, "recheck", 0, 1, "reading Opencast again");
		op_refresh(op, REFRESH_OPENCAST, SD_RECHECK);
		return;
	case SD_RECHECK:
		if (!op->refresh_ok) {
			op_fail(op, PROTO_ERR_UPSTREAM, "cannot read Opencast "
			    "again: %s", op->refresh_error ? op->refresh_error :
			    "refresh failed");
			return;
		}
		cluster_model(op->c, &md, time_now_ms());
		rules_scale_down_recheck(&md, &op->chosen, op->p.force, &stop,
		    &release);
		model_release(&md);
		batch_set(op, &stop);
		/* Take back out only those this operation put in. */
		strv_clear(&op->pair_hosts);
		strv_clear(&op->pair_ids);
		for (size_t i = 0; i < release.n; i++) {
			op_say(op, LOG_INFO, "keeping %s: it took a job "
			    "meanwhile", release.v[i]);
			for (size_t k = 0; k < op->maint_ids.n; k++) {
				if (strcmp(op->maint_ids.v[k], release.v[i]))
					continue;
				strv_add(&op->pair_hosts, op->maint_hosts.v[k]);
				strv_add(&op->pair_ids, release.v[i]);
			}
		}
		strv_clear(&stop);
		strv_clear(&release);
		op_maintenance(op, false, SD_STOP);
		return;
	case SD_STOP:
		if (op->maint_error) {
			op_fail(op, PROTO_ERR_UPSTREAM, "%s", op->maint_error);
			return;
		}
		if (op->batch.n == 0) {
			op_fail(op, PROTO_ERR_REFUSED, "every chosen worker took "
			    "a job meanwhile; nothing was stopped");
			return;
		}
		if (op->batch.n < op->chosen.n)
			op_warn(op, "only some chosen workers stayed idle");
		s = batch_text(op);
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
		op_wait(op, REFRESH_EC2, pred_stopped, "the workers are "
		    "stopped", SD_DONE);
		return;
	case SD_DONE:
		s = strv_join(&op->stopped, ", ");
		utf8_snprintf(op->err, sizeof(op->err),
		    "stopped %zu worker%s: %s",
		    op->stopped.n, op->stopped.n == 1 ? "" : "s", s);
		free(s);
		op_finish(op, true);
		return;
	}
}

enum { TO_PLAN = 1 };

static void
run_scale_to(struct operation *op)
{
	struct model md;
	int active;

	switch (op->pc) {
	case 0:
		op_refresh(op, REFRESH_ALL, TO_PLAN);
		return;
	case TO_PLAN:
		if (!op_refreshed_ok(op))
			return;
		cluster_model(op->c, &md, time_now_ms());
		active = rules_active_workers(&md);
		model_release(&md);
		if (op->p.workers == active) {
			PLAN(op, rules_scale_to(&md_, op->c->cfg, op->p.workers,
			    op->p.force, &op->plan));
			utf8_snprintf(op->err, sizeof(op->err), "%s",
			    op->plan.message);
			op_finish(op, true);
			return;
		}
		/* The same rules and steps as scale up or down. */
		if (op->p.workers > active) {
			op->p.workers -= active;
			op->machine = run_scale_up;
			op->pc = SU_PLAN;
		} else {
			op->p.workers = active - op->p.workers;
			op->machine = run_scale_down;
			op->pc = SD_PLAN;
		}
		op_resume_in(op, 0);
		return;
	}
}

enum {
	SA_PLAN = 1, SA_ZADARA, SA_SUPPORT, SA_SUPPORT_STARTED, SA_NODES,
	SA_NODES_STARTED, SA_OPENCAST, SA_MAINT_OFF, SA_MAINT_WAIT, SA_DONE,
};

static void
run_start(struct operation *op)
{
	struct strv ids = { 0 };
	char *s;

	switch (op->pc) {
	case 0:
		op_refresh(op, REFRESH_ALL, SA_PLAN);
		return;
	case SA_PLAN:
		if (!op_refreshed_ok(op))
			return;
		PLAN(op, rules_start(&md_, op->c->cfg, op->p.workers,
		    op->p.force, &op->plan));
		op_plan_warnings(op);
		log_summary(op, "before");
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
		batch_set(op, &op->plan.start_support);
		s = batch_text(op);
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
		op_wait(op, REFRESH_EC2, pred_running, "the support nodes run",
		    SA_NODES);
		return;
	case SA_NODES:
		if (op->plan.start_nodes.n == 0) {
			op_goto(op, SA_OPENCAST);
			return;
		}
		batch_set(op, &op->plan.start_nodes);
		s = batch_text(op);
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
		op_wait(op, REFRESH_EC2, pred_running, "the Opencast nodes run",
		    SA_OPENCAST);
		return;
	case SA_OPENCAST:
		op_accepted(op);
		op_step(op, "wait_opencast", 0, 1, "waiting until Opencast "
		    "answers and knows every node");
		/* A full read per poll: the admin's address may be new. */
		op_wait(op, REFRESH_ALL, pred_opencast_ready, "Opencast "
		    "answers and knows every running node", SA_MAINT_OFF);
		return;
	case SA_MAINT_OFF:
		running_opencast(op, &ids);
		pairs_needing(op, &ids, false);
		strv_clear(&ids);
		if (op->pair_hosts.n)
			op_step(op, "maintenance_off", 0,
			    (int)op->pair_hosts.n, "taking %zu node%s out of "
			    "maintenance", op->pair_hosts.n,
			    op->pair_hosts.n == 1 ? "" : "s");
		op_maintenance(op, false, SA_MAINT_WAIT);
		return;
	case SA_MAINT_WAIT:
		if (op->maint_error) {
			op_fail(op, PROTO_ERR_UPSTREAM, "%s", op->maint_error);
			return;
		}
		running_opencast(op, &ids);
		batch_set(op, &ids);
		strv_clear(&ids);
		op_step(op, "wait_maintenance_off", 0, (int)op->batch.n,
		    "waiting until Opencast shows every node online and out "
		    "of maintenance");
		op_wait(op, REFRESH_OPENCAST, pred_ready, "Opencast shows every "
		    "node online and out of maintenance", SA_DONE);
		return;
	case SA_DONE:
		utf8_snprintf(op->err, sizeof(op->err),
		    "started the cluster with "
		    "%d worker%s", op->plan.workers, op->plan.workers == 1 ?
		    "" : "s");
		op_finish(op, true);
		return;
	}
}

enum {
	ST_PLAN = 1, ST_WAIT_IDLE, ST_STOP_NODES, ST_NODES_STOPPING,
	ST_STOP_SUPPORT, ST_SUPPORT_STOPPING, ST_ZADARA, ST_ZADARA_DONE,
	ST_DONE,
};

static void
run_stop(struct operation *op)
{
	struct strv ids = { 0 };
	char *s;

	switch (op->pc) {
	case 0:
		op_refresh(op, REFRESH_ALL, ST_PLAN);
		return;
	case ST_PLAN:
		if (!op_refreshed_ok(op))
			return;
		PLAN(op, rules_stop(&md_, op->c->cfg, op->p.force, &op->plan));
		op_plan_warnings(op);
		log_summary(op, "before");
		op_accepted(op);
		if (!op->c->oc_ok) {
			/* Forced without Opencast (rules_stop warned). */
			op_goto(op, ST_STOP_NODES);
			return;
		}
		running_opencast(op, &ids);
		pairs_needing(op, &ids, true);
		strv_clear(&ids);
		op_step(op, "maintenance_on", 0, (int)op->pair_hosts.n,
		    "putting %zu Opencast node%s in maintenance",
		    op->pair_hosts.n, op->pair_hosts.n == 1 ? "" : "s");
		op_maintenance(op, true, ST_WAIT_IDLE);
		return;
	case ST_WAIT_IDLE:
		if (op->maint_error) {
			op_fail(op, PROTO_ERR_UPSTREAM, "%s", op->maint_error);
			return;
		}
		op_step(op, "wait_idle", 0, op->c->cfg->wait_retries,
		    "waiting until the workers run no jobs");
		op_wait(op, REFRESH_OPENCAST, pred_workers_idle, "the workers "
		    "are idle", ST_STOP_NODES);
		return;
	case ST_STOP_NODES:
		if (op->plan.stop_nodes.n == 0) {
			op_goto(op, ST_STOP_SUPPORT);
			return;
		}
		batch_set(op, &op->plan.stop_nodes);
		s = batch_text(op);
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
		op_wait(op, REFRESH_EC2, pred_stopped, "the Opencast nodes are "
		    "stopped", ST_STOP_SUPPORT);
		return;
	case ST_STOP_SUPPORT:
		if (op->plan.stop_support.n == 0) {
			op_goto(op, ST_ZADARA);
			return;
		}
		batch_set(op, &op->plan.stop_support);
		s = batch_text(op);
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
		op_wait(op, REFRESH_EC2, pred_stopped, "the support nodes are "
		    "stopped", ST_ZADARA);
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
		utf8_snprintf(op->err, sizeof(op->err),
		    "stopped the cluster: %zu "
		    "instance%s", op->stopped.n, op->stopped.n == 1 ? "" : "s");
		op_finish(op, true);
		return;
	}
}

enum { MA_PLAN = 1, MA_WAIT, MA_DONE };

static void
run_maintenance(struct operation *op)
{
	bool on = op->p.kind == OP_MAINTENANCE_ON;
	struct strv ids = { 0 };

	switch (op->pc) {
	case 0:
		op_refresh(op, REFRESH_ALL, MA_PLAN);
		return;
	case MA_PLAN:
		if (!op_refreshed_ok(op))
			return;
		PLAN(op, rules_maintenance(&md_, on, &op->plan));
		log_summary(op, "before");
		op_accepted(op);
		running_opencast(op, &ids);
		pairs_needing(op, &ids, on);
		strv_clear(&ids);
		op_step(op, on ? "maintenance_on" : "maintenance_off", 0,
		    (int)op->pair_hosts.n, "switching %zu of %zu node%s",
		    op->pair_hosts.n, op->plan.maintenance.n,
		    op->plan.maintenance.n == 1 ? "" : "s");
		op_maintenance(op, on, MA_WAIT);
		return;
	case MA_WAIT:
		if (op->maint_error) {
			op_fail(op, PROTO_ERR_UPSTREAM, "%s", op->maint_error);
			return;
		}
		op_step(op, "wait_maintenance", 0, (int)op->pair_hosts.n,
		    "waiting until Opencast shows it");
		op_wait(op, REFRESH_OPENCAST, on ? pred_maint_on :
		    pred_maint_off, on ? "Opencast shows the nodes in "
		    "maintenance" : "Opencast shows the nodes out of "
		    "maintenance", MA_DONE);
		return;
	case MA_DONE:
		/* Asked for: nothing to restore. */
		strv_clear(&op->maint_hosts);
		strv_clear(&op->maint_ids);
		utf8_snprintf(op->err, sizeof(op->err),
		    "%zu Opencast node%s %s "
		    "maintenance", op->plan.maintenance.n,
		    op->plan.maintenance.n == 1 ? "" : "s", on ? "in" :
		    "out of");
		op_finish(op, true);
		return;
	}
}

/* Runs one turn: a wait in progress, restoration, or the machine. */
static void
op_run(struct operation *op)
{
	if (op->restoring) {
		if (op->maint_pending == 0)
			restore_done(op);
		return;
	}
	if (op->waiting) {
		op_wait_turn(op);
		return;
	}
	op->machine(op);
}

int
operation_start(struct cluster *c, const struct op_params *p,
    struct ctl_req *req, op_done_fn *done, void *arg)
{
	struct operation *op;
	char ts[TIME_ISO8601_LEN];

	if (c->op) {
		time_format_iso8601(c->op->started_ms, ts);
		if (req)
			ctl_req_error(req, PROTO_ERR_BUSY, "%s is busy with "
			    "\"%s\" (step %s, since %s)", c->name, c->op->name,
			    c->op->step, ts);
		return -1;
	}
	op = xcalloc(1, sizeof(*op));
	op->c = c;
	op->p = *p;
	op->req = req;
	op->done = done;
	op->done_arg = arg;
	op->started_ms = time_now_ms();
	op->step = "starting";
	for (size_t i = 0; i < p->nids; i++)
		strv_add(&op->given, p->ids[i]);
	op->p.ids = NULL;
	op->p.nids = 0;
	switch (p->kind) {
	case OP_START:
		op->machine = run_start;
		utf8_snprintf(op->name, sizeof(op->name), "start");
		break;
	case OP_STOP:
		op->machine = run_stop;
		utf8_snprintf(op->name, sizeof(op->name), "stop");
		break;
	case OP_SCALE_UP:
		op->machine = run_scale_up;
		utf8_snprintf(op->name, sizeof(op->name),
		    "scale up %d", p->workers);
		break;
	case OP_SCALE_DOWN:
		op->machine = run_scale_down;
		utf8_snprintf(op->name, sizeof(op->name), "scale down %d",
		    p->workers);
		break;
	case OP_SCALE_TO:
		op->machine = run_scale_to;
		utf8_snprintf(op->name, sizeof(op->name),
		    "scale_to %d", p->workers);
		break;
	case OP_MAINTENANCE_ON:
	case OP_MAINTENANCE_OFF:
		op->machine = run_maintenance;
		utf8_snprintf(op->name, sizeof(op->name),
		    "%s", op_kind_name(p->kind));
		break;
	}
	memcpy(op->what, op->name, sizeof(op->what));
	if (p->dry_run)
		strncat(op->name, " (dry run)", sizeof(op->name) -
		    strlen(op->name) - 1);
	op->timer = looptimer_new(c->d->loop, op);
	c->op = op;
	events_add(&c->events, op->started_ms, EVENT_OPERATION, LOG_INFO, NULL,
	    "%s started by %s%s", op->name, p->initiator, p->force ?
	    " with --force" : "");
	clog(LOG_NOTICE, c->name, "%s started by %s", op->name, p->initiator);
	op_resume_in(op, 0);
	return 0;
}

void
operation_abort(struct operation *op, const char *why)
{
	op_fail(op, PROTO_ERR_BUSY, "interrupted: %s", why);
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
