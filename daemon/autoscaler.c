/*
 * Autoscale ticks and evaluations.  An evaluation reads the cluster afresh
 * (one DescribeInstances, one Opencast read), hands the model to the pure
 * policy, records the decision with its inputs, and, when the decision is
 * to scale, starts the same operation an operator's `scale up` or
 * `scale down` would (with the policy's own choice of workers).  Nothing
 * happens while another operation runs on the cluster or while a switch is
 * off.
 */
#include "daemon/autoscaler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "common/xrand.h"
#include "daemon/cluster.h"
#include "daemon/control.h"
#include "daemon/daemon.h"
#include "daemon/looptimer.h"
#include "daemon/metrics.h"
#include "daemon/model.h"
#include "daemon/operation.h"
#include "daemon/policy.h"
#include "daemon/statefile.h"

/* One evaluation in flight. */
struct autoscale_eval {
	struct cluster *c;
	struct autoscale_ask ask;
	bool	 handed_over;	/* ask.follow went to the action */
	bool	 explain;	/* decide only: no record, no action */
	LIST_ENTRY(autoscale_eval) link;	/* explain: in explains */
	autoscale_done_fn *cb;
	void	*arg;
	json_t	*decision;	/* owned, once decided */
};

/* A cluster's autoscaler (c->autoscaler), owned by this file. */
struct autoscaler {
	struct looptimer *timer;
	bool	 paused;		/* persisted */
	int64_t	 last_action_ms;	/* persisted */
	json_t	*last_decision;		/* {ts, ran, action, ...} */
	struct autoscale_eval *evaluating;	/* in flight, or NULL */
	LIST_HEAD(, autoscale_eval) explains;	/* `explain`s in flight */
	bool	 stopped;		/* autoscaler_stop(): no more ticks */
};

static void on_tick(void *arg);

/* State file: STATE_DIR/cluster-NAME.json, replaced whole (statefile.h). */

#define STATE_MAX_FILE	4096

int
autoscaler_state_load(const char *dir, const char *cluster, bool *paused,
    int64_t *last_action_ms, char *err, size_t errlen)
{
	char *name = xasprintf("cluster-%s.json", cluster), *buf = NULL;
	json_error_t jerr;
	json_t *root = NULL;
	json_int_t last = 0;
	size_t len;
	int p = 0, rc;

	*paused = false;
	*last_action_ms = 0;
	rc = statefile_read(dir, name, STATE_MAX_FILE, &buf, &len, err,
	    errlen);
	if (rc == 1) {
		root = json_loadb(buf, len, 0, &jerr);
		if (root == NULL || json_unpack_ex(root, &jerr, 0,
		    "{s?b, s?I}", "autoscale_paused", &p, "last_action_ms",
		    &last) != 0) {
			utf8_snprintf(err, errlen, "%s/%s: %s", dir, name,
			    jerr.text);
			rc = -1;
		} else {
			*paused = p;
			*last_action_ms = last;
		}
	}
	json_decref(root);
	free(buf);
	free(name);
	return rc < 0 ? -1 : 0;
}

int
autoscaler_state_save(const char *dir, const char *cluster, bool paused,
    int64_t last_action_ms, char *err, size_t errlen)
{
	char *name = xasprintf("cluster-%s.json", cluster);
	json_t *root = json_pack("{s:b, s:I}", "autoscale_paused", paused,
	    "last_action_ms", (json_int_t)last_action_ms);
	char *text = json_dumps(root, JSON_COMPACT);
	int rc = statefile_write(dir, name, text, strlen(text), err, errlen);

	free(text);
	json_decref(root);
	free(name);
	return rc;
}

static void
save_state(struct cluster *c)
{
	char err[512];

	if (autoscaler_state_save(c->d->config->state_dir, c->name,
	    c->autoscaler->paused, c->autoscaler->last_action_ms, err,
	    sizeof(err)) != 0)
		clog(LOG_ERR, c->name, "autoscale state not saved: %s", err);
}

/* Timer. */

static void
schedule_tick(struct cluster *c)
{
	double f = 0.9 + 0.2 * xrand01(&c->d->rng);

	looptimer_start(c->autoscaler->timer,
	    (uint64_t)((double)c->cfg->autoscale_interval_ms * f), on_tick);
}

void
autoscaler_attach(struct cluster *c)
{
	char err[512];

	c->autoscaler = xcalloc(1, sizeof(*c->autoscaler));
	c->autoscaler->timer = looptimer_new(c->d->loop, c);
	if (autoscaler_state_load(c->d->config->state_dir, c->name,
	    &c->autoscaler->paused, &c->autoscaler->last_action_ms, err,
	    sizeof(err)) != 0)
		clog(LOG_ERR, c->name, "autoscale state not read, using "
		    "defaults: %s", err);
	if (c->autoscaler->paused)
		clog(LOG_NOTICE, c->name, "autoscaling is paused");
	/* The first tick comes one interval after start-up. */
	schedule_tick(c);
}

static void
eval_free(struct autoscale_eval *ev)
{
	json_decref(ev->decision);
	free(ev);
}

/* Drops the evaluation in flight, if any: its read is withdrawn and
 * whoever asked for it is answered with why (SPEC §7: a request waiting
 * on a cluster is always answered). */
static void
drop_evaluation(struct cluster *c, const char *why)
{
	struct autoscale_eval *ev;

	while ((ev = LIST_FIRST(&c->autoscaler->explains)) != NULL) {
		LIST_REMOVE(ev, link);
		cluster_refresh_cancel(c, ev);
		if (ev->cb)
			ev->cb(ev->arg, c, false, NULL, why, false);
		eval_free(ev);
	}
	if ((ev = c->autoscaler->evaluating) == NULL)
		return;
	c->autoscaler->evaluating = NULL;
	cluster_refresh_cancel(c, ev);
	clog_op(LOG_INFO, c->name, "autoscale",
	    "autoscale evaluation dropped: %s", why);
	if (ev->cb)
		ev->cb(ev->arg, c, false, NULL, why, false);
	eval_free(ev);
}

void
autoscaler_stop(struct cluster *c)
{
	if (c->autoscaler == NULL || c->autoscaler->stopped)
		return;
	c->autoscaler->stopped = true;
	looptimer_stop(c->autoscaler->timer);
	drop_evaluation(c, "the daemon is shutting down");
}

void
autoscaler_detach(struct cluster *c)
{
	if (c->autoscaler == NULL)
		return;
	drop_evaluation(c, "the cluster is no longer managed");
	looptimer_free(c->autoscaler->timer);
	json_decref(c->autoscaler->last_decision);
	free(c->autoscaler);
	c->autoscaler = NULL;
}

/* Evaluation. */

/* Records an evaluation: history, journal, status. */
static void
record(struct cluster *c, json_t *decision)
{
	const char *reason = json_string_value(json_object_get(decision,
	    "reason"));
	const char *action = json_string_value(json_object_get(decision,
	    "action"));
	bool ran = json_is_true(json_object_get(decision, "ran"));
	bool warning = json_is_true(json_object_get(decision, "warning"));
	char *inputs = json_dumps(decision, JSON_COMPACT);
	char ts[TIME_ISO8601_LEN];
	int64_t now = time_now_ms();
	json_t *count;

	metrics_decision(c->name, decision);
	events_add(&c->events, now, EVENT_DECISION, warning ? LOG_WARNING :
	    LOG_INFO, json_incref(decision), "autoscale%s: %s: %s",
	    ran ? "" : " did not run", action ? action : "none",
	    reason ? reason : "");
	clog_fields(warning ? LOG_WARNING : LOG_INFO, c->name, "autoscale",
	    NULL, LOG_EV_DECISION, "autoscale%s: %s: %s", ran ? "" :
	    " did not run", action ? action : "none", reason ? reason : "");
	clog_op(LOG_DEBUG, c->name, "autoscale", "autoscale decision: %s",
	    inputs);
	free(inputs);
	time_format_iso8601(now, ts);
	count = json_object_get(decision, "count");
	json_decref(c->autoscaler->last_decision);
	c->autoscaler->last_decision = json_pack(
	    "{s:s, s:b, s:o, s:o, s:o, s:b}", "ts", ts, "ran", ran,
	    "action", json_text(action ? action : "none"),
	    "count", count ? json_incref(count) : json_integer(0),
	    "reason", json_text(reason ? reason : ""), "warning", warning);
	cluster_changed(c);
}

static void
eval_end(struct autoscale_eval *ev, bool ran, const char *why_not)
{
	struct cluster *c = ev->c;

	if (ev->explain)
		LIST_REMOVE(ev, link);
	else
		c->autoscaler->evaluating = NULL;
	if (ev->cb)
		ev->cb(ev->arg, c, ran, ev->decision, why_not,
		    ev->handed_over);
	eval_free(ev);
}

/* Called when the action the autoscaler started has ended. */
static void
on_action_done(void *arg, struct cluster *c, bool ok, json_t *result,
    const char *error)
{
	(void)arg;
	(void)result;
	if (!ok)
		clog_op(LOG_WARNING, c->name, "autoscale",
		    "autoscale action failed: %s", error);
}

static const char *
switch_off_reason(struct cluster *c)
{
	struct model md;
	const char *r;

	cluster_model(c, &md, time_now_ms());
	r = model_autoscale_off_reason(&md, c->cfg->autoscale,
	    c->autoscaler->paused);
	model_release(&md);
	return r;
}

/* The decision was to act, but operation_start() refused the action
 * (another operation, a restore, shutdown): the record says so, as a
 * warning, rather than claiming the scale. */
static void
not_carried_out(struct cluster *c, json_t *decision)
{
	const char *reason = json_string_value(json_object_get(decision,
	    "reason"));
	json_t *op = operation_status_json(c->op);
	const char *cmd = json_string_value(json_object_get(op, "cmd"));
	char *r;

	if (c->d->stopping)
		r = utf8_asprintf("%s; not carried out: the daemon is shutting "
		    "down", reason ? reason : "");
	else
		r = utf8_asprintf("%s; not carried out: busy: %s is in "
		    "progress", reason ? reason : "", cmd ? cmd :
		    "another operation");
	json_object_set_new(decision, "reason", json_text(r));
	json_object_set_new(decision, "carried_out", json_false());
	json_object_set_new(decision, "warning", json_true());
	json_decref(op);
	free(r);
}

/* Why the admin is not running, for the reason; "" when it is. */
static void
admin_detail_text(struct cluster *c, const struct model *md, char *buf,
    size_t len)
{
	buf[0] = '\0';
	if (md->admins == 0)
		utf8_snprintf(buf, len, "no instance named %s-admin", c->name);
	else if (md->admins > 1)
		utf8_snprintf(buf, len, "%zu instances named %s-admin",
		    md->admins, c->name);
	else if (md->admin->inst->state != EC2_STATE_RUNNING)
		utf8_snprintf(buf, len, "the admin instance %s is %s",
		    md->admin->inst->id,
		    ec2_state_name(md->admin->inst->state));
}

/* Called when the evaluation's read of the cluster has ended. */
static void
on_eval_refreshed(void *arg, struct cluster *c, bool ok, const char *error)
{
	struct autoscale_eval *ev = arg;
	struct policy_settings ps;
	struct policy_input in = { 0 };
	struct policy_decision dec;
	struct policy_worker *w;
	struct policy_worker_demand *wd;
	struct model md;
	int64_t now = time_now_ms();
	size_t nw = 0;
	char admin_detail[256];

	(void)ok;
	(void)error;
	if (c->d->stopping) {
		eval_end(ev, false, "the daemon is shutting down");
		return;
	}
	cluster_model(c, &md, now);
	w = xcalloc(md.n ? md.n : 1, sizeof(*w));
	wd = xcalloc(md.n ? md.n : 1, sizeof(*wd));
	for (size_t i = 0; i < md.n; i++) {
		const struct model_member *m = &md.m[i];

		if (m->role != ROLE_WORKER)
			continue;
		/* What policy = demand also needs: a worker EC2 still starts,
		 * or that runs but Opencast does not know yet, is capacity on
		 * its way.  None is draining: no evaluation runs while a
		 * scale-down does. */
		wd[nw].starting = m->inst->state == EC2_STATE_PENDING ||
		    (m->inst->state == EC2_STATE_RUNNING && c->oc_ok &&
		    m->host == NULL);
		wd[nw].load = m->running_load > 0 ? m->running_load : 0;
		wd[nw].max_load = m->host ? m->host->max_load : 0;
		w[nw].id = m->inst->id;
		w[nw].running = m->inst->state == EC2_STATE_RUNNING;
		w[nw].stopped = m->inst->state == EC2_STATE_STOPPED;
		w[nw].held = m->held;
		w[nw].running_jobs = m->host ? m->running_jobs : -1;
		w[nw].uptime_s = m->uptime_s;
		nw++;
	}
	policy_settings_from_config(&ps, c->cfg);
	in.now_ms = now;
	in.disabled_reason = model_autoscale_off_reason(&md, c->cfg->autoscale,
	    c->autoscaler->paused);
	/* What is wrong, each as what it is (issue 14): EC2 unreadable is
	 * not "the admin is not running". */
	in.ec2_error = c->ec2_ok ? NULL : c->ec2_error ? c->ec2_error :
	    "not read yet";
	in.admin_running = md.admin &&
	    md.admin->inst->state == EC2_STATE_RUNNING;
	admin_detail_text(c, &md, admin_detail, sizeof(admin_detail));
	in.admin_detail = admin_detail[0] ? admin_detail : NULL;
	in.opencast_reachable = c->oc_ok;
	in.opencast_error = c->oc_ok ? NULL : c->oc_error;
	in.force = ev->ask.force;
	in.ec2_at_ms = c->ec2_ok ? c->ec2_at_ms : 0;
	in.oc_at_ms = c->oc_ok ? c->oc_at_ms : 0;
	in.queued_high_load_jobs = md.queued_high_load_jobs;
	in.workers = w;
	in.nworkers = nw;
	in.queued_load = md.queued_high_load_load;
	in.demand = wd;
	in.last_action_ms = c->autoscaler->last_action_ms;
	if (ps.policy == SCALING_DEMAND) {
		policy_demand_decide(&ps, &in, &dec);
		ev->decision = policy_demand_json(&ps, &in, &dec);
	} else {
		policy_decide(&ps, &in, &dec);
		ev->decision = policy_decision_json(&ps, &in, &dec);
	}

	/* (A demand decision that only takes draining workers back has no
	 * count; none are draining here, see above.) */
	if (!ev->explain && dec.ran && dec.action != POLICY_NONE &&
	    dec.count > 0) {
		struct op_params p = { 0 };
		const char **ids = xcalloc((size_t)dec.count + 1, sizeof(*ids));

		p.kind = dec.action == POLICY_SCALE_UP ? OP_SCALE_UP :
		    OP_SCALE_DOWN;
		p.workers = dec.count;
		p.dry_run = ev->ask.dry_run;
		p.force = ev->ask.force;
		/* --force lifts the limits only: a chosen worker that took a
		 * job meanwhile is still kept. */
		p.keep_busy = true;
		p.wait = true;
		p.decision = ev->decision;
		utf8_snprintf(p.initiator, sizeof(p.initiator),
		    "the autoscaler");
		if (dec.action == POLICY_SCALE_DOWN) {
			for (int i = 0; i < dec.count; i++)
				ids[i] = w[dec.chosen[i]].id;
			p.ids = ids;
			p.nids = (size_t)dec.count;
		}
		if (ev->ask.follow != NULL) {
			/* The decision first, then the action's progress and
			 * outcome, as `scale` shows them.  A refusal answers
			 * the request too. */
			ctl_req_log(ev->ask.follow, PROTO_LEVEL_INFO,
			    "autoscale decided %s: %s",
			    policy_action_name(dec.action), dec.reason);
			ev->handed_over = true;
		}
		if (operation_start(c, &p, ev->ask.follow, on_action_done,
		    NULL) != 0)
			not_carried_out(c, ev->decision);
		else if (!ev->ask.dry_run) {
			c->autoscaler->last_action_ms = now;
			save_state(c);
		}
		free(ids);
	}
	if (!ev->explain)
		record(c, ev->decision);
	policy_decision_release(&dec);
	free(wd);
	free(w);
	model_release(&md);
	eval_end(ev, json_is_true(json_object_get(ev->decision, "ran")),
	    json_string_value(json_object_get(ev->decision, "reason")));
}

void
autoscaler_evaluate(struct cluster *c, const struct autoscale_ask *ask,
    autoscale_done_fn *cb, void *arg)
{
	struct autoscale_eval *ev;
	const char *off;
	char why[512];

	if (c->d->stopping || c->autoscaler->stopped) {
		if (cb)
			cb(arg, c, false, NULL, "the daemon is shutting down",
			    false);
		return;
	}
	if (c->op || c->autoscaler->evaluating) {
		utf8_snprintf(why, sizeof(why), c->op ? "an operation is in "
		    "progress on %s" : "an evaluation of %s is in progress",
		    c->name);
		clog_op(LOG_INFO, c->name, "autoscale",
		    "autoscale skipped: %s", why);
		if (cb)
			cb(arg, c, false, NULL, why, false);
		return;
	}
	ev = xcalloc(1, sizeof(*ev));
	ev->c = c;
	ev->ask = *ask;
	ev->cb = cb;
	ev->arg = arg;
	/* Switched off: no reads at all; the decision records why. */
	if ((off = switch_off_reason(c)) != NULL) {
		ev->decision = json_pack("{s:b, s:s, s:i, s:s, s:b}", "ran", 0,
		    "action", "none", "count", 0, "reason", "", "warning", 0);
		utf8_snprintf(why, sizeof(why), "autoscale is off: %s", off);
		json_object_set_new(ev->decision, "reason", json_text(why));
		record(c, ev->decision);
		eval_end(ev, false, why);
		return;
	}
	c->autoscaler->evaluating = ev;
	cluster_refresh(c, on_eval_refreshed, ev);
}

void
autoscaler_explain(struct cluster *c, autoscale_done_fn *cb, void *arg)
{
	struct autoscale_eval *ev;

	if (c->d->stopping || c->autoscaler->stopped) {
		cb(arg, c, false, NULL, "the daemon is shutting down", false);
		return;
	}
	ev = xcalloc(1, sizeof(*ev));
	ev->c = c;
	ev->explain = true;
	ev->cb = cb;
	ev->arg = arg;
	LIST_INSERT_HEAD(&c->autoscaler->explains, ev, link);
	cluster_refresh(c, on_eval_refreshed, ev);
}

/* Called by the autoscale timer every autoscale_interval (with jitter). */
static void
on_tick(void *arg)
{
	static const struct autoscale_ask tick = { 0 };
	struct cluster *c = arg;

	if (c->d->stopping || c->autoscaler->stopped)
		return;
	schedule_tick(c);
	autoscaler_evaluate(c, &tick, NULL, NULL);
}

int
autoscaler_set_paused(struct cluster *c, bool paused, char *err,
    size_t errlen)
{
	bool old = c->autoscaler->paused;

	c->autoscaler->paused = paused;
	if (autoscaler_state_save(c->d->config->state_dir, c->name, paused,
	    c->autoscaler->last_action_ms, err, errlen) != 0) {
		c->autoscaler->paused = old;
		return -1;
	}
	cluster_changed(c);
	events_add(&c->events, time_now_ms(), EVENT_DECISION, LOG_NOTICE,
	    NULL, "autoscaling %s", paused ? "paused" : "resumed");
	clog(LOG_NOTICE, c->name, "autoscaling %s", paused ? "paused" :
	    "resumed");
	return 0;
}

uint64_t
autoscaler_tick_due_in(struct cluster *c)
{
	return looptimer_active(c->autoscaler->timer) ?
	    looptimer_due_in(c->autoscaler->timer) : UINT64_MAX;
}

json_t *
autoscaler_status_json(struct cluster *c)
{
	const char *reason = switch_off_reason(c);
	uint64_t due = looptimer_due_in(c->autoscaler->timer);

	return json_pack("{s:b, s:o, s:b, s:O, s:o}", "enabled",
	    reason == NULL, "reason", reason ? json_text(reason) :
	    json_null(), "paused", c->autoscaler->paused, "last_decision",
	    c->autoscaler->last_decision ? c->autoscaler->last_decision :
	    json_null(), "next_tick_s",
	    looptimer_active(c->autoscaler->timer) ?
	    json_integer((json_int_t)((due + 999) / 1000)) : json_null());
}
