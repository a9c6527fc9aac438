/*
 * Maintenance and its undoing.  This file owns an operation's maintenance
 * switches (op_maintenance), its crash record (opjournal.h: written before
 * a node is put into maintenance, brought up to date as nodes come back,
 * kept only when an end leaves nodes behind), the restore that takes the
 * nodes of a failed operation out of maintenance again, and the recovery
 * of a record found at start-up.
 *
 * A restore retries while Opencast does not answer (503, unreachable):
 * rounds of one switch per node, each round after a capped exponential
 * backoff with jitter, for up to OP_RESTORE_GIVE_UP_MS.  The client that
 * asked for the operation hears its failure after the first round; if
 * nodes are left, the reply says that the restore goes on, and its end is
 * an event of its own.  Until then the restore keeps the cluster's
 * operation slot (status shows step restore_maintenance and the cluster
 * answers busy), so that no new operation and no autoscale action works
 * on nodes whose maintenance flag the daemon still owns.
 */
#include "daemon/operation_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/strbuf.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "common/xrand.h"
#include "daemon/cluster.h"
#include "daemon/daemon.h"
#include "daemon/looptimer.h"
#include "daemon/model.h"
#include "daemon/opencast.h"

/* The crash record. */

int
op_record_save(struct operation *op, char *err, size_t errlen)
{
	if (opjournal_save(op->c->d->config->state_dir, &op->rec, err,
	    errlen) != 0)
		return -1;
	op->recorded = true;
	op->rec_dirty = false;
	return 0;
}

void
op_record_flush(struct operation *op)
{
	char err[512];

	if (!op->recorded || !op->rec_dirty)
		return;
	if (op_record_save(op, err, sizeof(err)) != 0)
		clog_op(LOG_ERR, op->c->name, op_token(op), "%s: the crash "
		    "record is not up to date: %s", op->name, err);
}

/* Maintenance switches. */

/* True when Opencast certainly did not carry out a switch that failed
 * so: it refused the request itself (unknown host, credentials, another
 * 4xx).  No answer or a 5xx may come after the switch took effect. */
static bool
switch_refused(const struct oc_error *err)
{
	if (err->kind == OC_ERR_NOT_FOUND || err->kind == OC_ERR_AUTH)
		return true;
	return err->kind == OC_ERR_HTTP && err->http_status >= 400 &&
	    err->http_status < 500 && err->http_status != 408 &&
	    err->http_status != 429;
}

/* Called by the Opencast client with the answer to one switch. */
static void
on_op_maint(void *arg, const struct oc_error *err)
{
	struct op_maint_call *m = arg;
	struct operation *op = m->op;
	bool gone;

	m->call = NULL;
	if (err == NULL)
		clog_fields(LOG_INFO, op->c->name, op_token(op), m->id,
		    m->on ? LOG_EV_MAINTENANCE_SET :
		    LOG_EV_MAINTENANCE_RESTORED, "%s: %s %s maintenance",
		    op->name, m->host, m->on ? "put in" : "taken out of");
	if (err && op->maint_error == NULL)
		op->maint_error = utf8_asprintf("maintenance %s for %s: %s",
		    m->on ? "on" : "off", m->host, err->message);
	/* What the record keeps: a host switched off is out of maintenance,
	 * and one Opencast does not know is in none; a switch on that was
	 * refused did nothing.  Any other failure of a switch on may still
	 * have taken effect, so that host stays recorded for a restore; a
	 * switch off that Opencast refused for its credentials is tried
	 * again (a reload may bring new ones). */
	if (err == NULL)
		gone = !m->on;
	else if (m->on)
		gone = switch_refused(err);
	else
		gone = err->kind == OC_ERR_NOT_FOUND;
	if (gone && opjournal_remove_host(&op->rec, m->host))
		op->rec_dirty = true;
	LIST_REMOVE(m, link);
	free(m->host);
	free(m->id);
	free(m);
	if (--op->maint_pending > 0)
		return;
	op_record_flush(op);
	op_resume_in(op, 0);
}

/* Sends one switch per host; the answers resume the operation. */
static void
send_switches(struct operation *op, const struct strv *hosts,
    const struct strv *ids, bool on)
{
	struct oc_client *oc = op->c->oc;

	free(op->maint_error);
	op->maint_error = NULL;
	if (hosts->n == 0) {
		op_resume_in(op, 0);
		return;
	}
	if (oc == NULL) {
		op->maint_error = xstrdup("Opencast is not reachable");
		op_resume_in(op, 0);
		return;
	}
	op->maint_pending = (int)hosts->n;
	for (size_t i = 0; i < hosts->n; i++) {
		struct op_maint_call *m = xcalloc(1, sizeof(*m));

		m->op = op;
		m->on = on;
		m->host = xstrdup(hosts->v[i]);
		m->id = xstrdup(ids->v[i]);
		LIST_INSERT_HEAD(&op->maint_calls, m, link);
		m->call = oc_set_maintenance(oc, m->host, on, on_op_maint, m);
	}
}

void
op_maintenance(struct operation *op, const struct strv *hosts,
    const struct strv *ids, bool on, int pc)
{
	char err[512];

	op->pc = pc;
	if (op->p.dry_run) {
		free(op->maint_error);
		op->maint_error = NULL;
		for (size_t i = 0; i < hosts->n; i++)
			op_say(op, LOG_INFO, "would put %s %s maintenance",
			    hosts->v[i], on ? "in" : "out of");
		op_resume_in(op, 0);
		return;
	}
	if (on && hosts->n > 0) {
		/* Written down before the first switch goes out. */
		for (size_t i = 0; i < hosts->n; i++)
			opjournal_add_node(&op->rec, hosts->v[i], ids->v[i]);
		if (op_record_save(op, err, sizeof(err)) != 0) {
			for (size_t i = 0; i < hosts->n; i++)
				opjournal_remove_host(&op->rec, hosts->v[i]);
			op_fail(op, PROTO_ERR_INTERNAL, "nothing was put in "
			    "maintenance: the crash record cannot be written: "
			    "%s", err);
			return;
		}
	}
	send_switches(op, hosts, ids, on);
}

/* The restore. */

/* OP_RESTORE_GIVE_UP_MS, or EC2M_RESTORE_GIVE_UP_S for tests. */
static uint64_t
restore_give_up_ms(struct operation *op)
{
	const char *s = getenv("EC2M_RESTORE_GIVE_UP_S");
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return OP_RESTORE_GIVE_UP_MS;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end != '\0' || v < 0 || v > 7 * 24 * 3600) {
		clog_op(LOG_WARNING, op->c->name, op_token(op), "ignoring "
		    "EC2M_RESTORE_GIVE_UP_S=\"%s\": not a number of seconds",
		    s);
		return OP_RESTORE_GIVE_UP_MS;
	}
	return (uint64_t)v * 1000;
}

void
op_restore_begin(struct operation *op)
{
	op->restoring = true;
	op->rs.phase = RS_ROUND;
	op->rs.rounds = 0;
	op->rs.refreshed = false;
	op->rs.give_up_ms = restore_give_up_ms(op);
	op->rs.deadline = uv_now(op->c->d->loop) + op->rs.give_up_ms;
	op->step = "restore_maintenance";
	cluster_changed(op->c);
	op_say(op, LOG_WARNING, "taking %zu node%s out of maintenance again",
	    op->rec.hosts.n, op->rec.hosts.n == 1 ? "" : "s");
	op_resume_in(op, 0);
}

static void recover_finished(struct operation *op, bool all);

/* The restore is over: every node is out of maintenance (all), or it
 * gave up. */
static void
restore_finished(struct operation *op, bool all)
{
	struct cluster *c = op->c;
	char *hosts = strv_join(&op->rec.hosts, ", ");
	char total[32];

	time_format_duration((int64_t)op->rs.give_up_ms, total, sizeof(total));
	if (op->p.kind == OP_RECOVER) {
		free(hosts);
		recover_finished(op, all);
		return;
	}
	if (!op->concluded) {
		/* Over within the first round: the failure as it was. */
		if (!all) {
			char msg[sizeof(op->err)];

			utf8_snprintf(msg, sizeof(msg), "%s; could not take %s "
			    "out of maintenance again: %s", op->err, hosts,
			    op->maint_error ? op->maint_error : "no answer");
			memcpy(op->err, msg, sizeof(op->err));
		}
		free(hosts);
		op_finish(op, false);
		return;
	}
	if (all) {
		events_add(&c->events, time_now_ms(), EVENT_OPERATION,
		    LOG_NOTICE, NULL, "%s: took the last %zu node%s out of "
		    "maintenance again (after %d attempts)", op->name,
		    op->rs.left_at_conclusion, op->rs.left_at_conclusion == 1 ?
		    "" : "s", op->rs.rounds);
		clog_op(LOG_NOTICE, c->name, op_token(op), "%s: took the last "
		    "%zu node%s out of maintenance again (after %d attempts)",
		    op->name, op->rs.left_at_conclusion,
		    op->rs.left_at_conclusion == 1 ? "" : "s", op->rs.rounds);
	} else {
		events_add(&c->events, time_now_ms(), EVENT_OPERATION, LOG_ERR,
		    NULL, "%s: gave up taking %s out of maintenance again "
		    "after %s (%d attempts): %s; take %s out with `ec2ctl %s "
		    "maintenance off`", op->name, hosts, total, op->rs.rounds,
		    op->maint_error ? op->maint_error : "no answer",
		    op->rec.hosts.n == 1 ? "it" : "them", c->name);
		clog_op(LOG_ERR, c->name, op_token(op), "%s: gave up taking %s "
		    "out of maintenance again after %s (%d attempts): %s",
		    op->name, hosts, total, op->rs.rounds,
		    op->maint_error ? op->maint_error : "no answer");
	}
	free(hosts);
	op_end(op, false);
}

void
op_restore_turn(struct operation *op)
{
	struct cluster *c = op->c;
	uint64_t now, delay;
	char *hosts, total[32], again[32], extra[1024];

	if (op->maint_pending > 0 || op->refresh_pending)
		return;
	if (op->rs.phase == RS_ROUND) {
		if (c->oc == NULL && !op->rs.refreshed) {
			/* No Opencast client (yet): a read of the cluster
			 * makes one once the admin runs. */
			op->rs.refreshed = true;
			op->refresh_pending = true;
			cluster_refresh_parts(c, REFRESH_ALL, op_on_refreshed,
			    op);
			return;
		}
		op->rs.refreshed = false;
		op->rs.rounds++;
		op->rs.phase = RS_ANSWERS;
		send_switches(op, &op->rec.hosts, &op->rec.ids, false);
		return;
	}
	/* Every answer of the round is in. */
	if (op->rec.hosts.n == 0) {
		restore_finished(op, true);
		return;
	}
	now = uv_now(c->d->loop);
	if (now >= op->rs.deadline) {
		restore_finished(op, false);
		return;
	}
	delay = op_backoff_ms(op->rs.rounds, OP_RESTORE_BACKOFF_MS,
	    OP_RESTORE_BACKOFF_CAP_MS, xrand01(&c->d->rng));
	if (delay > op->rs.deadline - now)
		delay = op->rs.deadline - now;
	hosts = strv_join(&op->rec.hosts, ", ");
	time_format_duration((int64_t)op->rs.give_up_ms, total, sizeof(total));
	time_format_duration((int64_t)delay, again, sizeof(again));
	if (!op->concluded) {
		/* The outcome is known: the client need not wait for
		 * Opencast to come back. */
		op->rs.left_at_conclusion = op->rec.hosts.n;
		utf8_snprintf(extra, sizeof(extra), "; %zu node%s still in "
		    "maintenance (%s): %s; the daemon keeps trying to take %s "
		    "out in the background for up to %s", op->rec.hosts.n,
		    op->rec.hosts.n == 1 ? " is" : "s are", hosts,
		    op->maint_error ? op->maint_error : "no answer",
		    op->rec.hosts.n == 1 ? "it" : "them", total);
		op_conclude(op, false, extra);
	}
	clog_op(LOG_INFO, c->name, op_token(op), "%s: still in maintenance: %s "
	    "(%s); trying again in %s", op->name, hosts, op->maint_error ?
	    op->maint_error : "no answer", again);
	free(hosts);
	op->rs.phase = RS_ROUND;
	op_resume_in(op, delay);
}

/* The recovery of a crash record. */

struct recover_state {
	struct strv notes;	/* recorded nodes left as they were */
	struct strv planned;	/* hosts the plan takes out */
	int	 reads;		/* failed reads of EC2 so far */
	uint64_t deadline;	/* of those reads, uv_now() */
};

static void
recover_state_free(void *p)
{
	struct recover_state *rs = p;

	if (rs == NULL)
		return;
	strv_clear(&rs->notes);
	strv_clear(&rs->planned);
	free(rs);
}

/* What the record says about the operation that was cut short. */
static char *
recover_found(const struct operation *op)
{
	char ts[TIME_ISO8601_LEN];

	time_format_iso8601(op->rec.started_ms, ts);
	return utf8_asprintf("\"%s\" (started %s by %s)", op->rec.operation,
	    ts, op->rec.initiator ? op->rec.initiator : "someone");
}

static json_t *
strv_array(const struct strv *s)
{
	json_t *a = json_array();

	for (size_t i = 0; i < s->n; i++)
		json_array_append_new(a, json_text(s->v[i]));
	return a;
}

static void
recover_finished(struct operation *op, bool all)
{
	struct cluster *c = op->c;
	struct recover_state *rs = op->kstate;
	struct strv restored = { 0 };
	struct strbuf sb = STRBUF_INIT;
	char *found = recover_found(op), *s, total[32];
	int level = all ? LOG_NOTICE : LOG_ERR;
	json_t *data;

	for (size_t i = 0; i < rs->planned.n; i++)
		if (!strv_has(&op->rec.hosts, rs->planned.v[i]))
			strv_add(&restored, rs->planned.v[i]);
	strbuf_printf(&sb, "recovered from an unclean end during %s", found);
	if (restored.n) {
		s = strv_join(&restored, ", ");
		strbuf_printf(&sb, "; took %zu node%s out of maintenance: %s",
		    restored.n, restored.n == 1 ? "" : "s", s);
		free(s);
	}
	if (!all) {
		s = strv_join(&op->rec.hosts, ", ");
		time_format_duration((int64_t)op->rs.give_up_ms, total,
		    sizeof(total));
		strbuf_printf(&sb, "; could not take %s out of maintenance "
		    "within %s (%s): take %s out with `ec2ctl %s maintenance "
		    "off`", s, total, op->maint_error ? op->maint_error :
		    "no answer", op->rec.hosts.n == 1 ? "it" : "them",
		    c->name);
		free(s);
	}
	if (rs->notes.n) {
		s = strv_join(&rs->notes, "; ");
		strbuf_printf(&sb, "; left as they were: %s", s);
		free(s);
	}
	if (rs->planned.n == 0 && rs->notes.n == 0)
		strbuf_puts(&sb, "; nothing was left in maintenance");
	if (op->rec.stopping.n) {
		s = strv_join(&op->rec.stopping, ", ");
		strbuf_printf(&sb, "; it was stopping %s: not repeated", s);
		free(s);
	}
	data = json_pack("{s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:o}",
	    "operation", json_text(op->rec.operation),
	    "initiator", json_text_or_null(op->rec.initiator),
	    "started_ms", json_integer(op->rec.started_ms),
	    "ok", all,
	    "restored", strv_array(&restored),
	    "still_in_maintenance", strv_array(&op->rec.hosts),
	    "left", strv_array(&rs->notes),
	    "stopping", strv_array(&op->rec.stopping));
	events_add(&c->events, time_now_ms(), EVENT_RECOVERED, level, data,
	    "%s", strbuf_str(&sb));
	clog_fields(level, c->name, "recover", NULL, LOG_EV_RECOVERED, "%s",
	    strbuf_str(&sb));
	strbuf_release(&sb);
	strv_clear(&restored);
	free(found);
	op_end(op, false);
}

void
op_recover_interrupted(struct operation *op, const char *why)
{
	struct cluster *c = op->c;
	char *found = recover_found(op);

	events_add(&c->events, time_now_ms(), EVENT_RECOVERED, LOG_WARNING,
	    NULL, "the recovery from an unclean end during %s was "
	    "interrupted: %s; its record stays for the next start", found,
	    why);
	clog_fields(LOG_WARNING, c->name, "recover", NULL, LOG_EV_RECOVERED,
	    "the recovery from an unclean end during %s was interrupted: %s; "
	    "its record stays for the next start", found, why);
	free(found);
	op_end(op, true);
}

enum { RC_PLAN = 1 };

static void
run_recover(struct operation *op)
{
	struct recover_state *rs = op->kstate;
	struct opjournal_plan plan;
	struct model md;
	uint64_t now;

	switch (op->pc) {
	case 0:
		op->step = "read_cluster";
		cluster_changed(op->c);
		op_refresh(op, REFRESH_ALL, RC_PLAN);
		return;
	case RC_PLAN:
		if (!op->c->ec2_ok) {
			/* Which nodes still run is EC2's to say. */
			now = uv_now(op->c->d->loop);
			if (now >= rs->deadline) {
				op_recover_interrupted(op, op->refresh_error ?
				    op->refresh_error : "EC2 cannot be read");
				return;
			}
			op->pc = 0;
			op_resume_in(op, op_backoff_ms(++rs->reads,
			    OP_RESTORE_BACKOFF_MS, OP_RESTORE_BACKOFF_CAP_MS,
			    xrand01(&op->c->d->rng)));
			return;
		}
		op_model(op, &md);
		opjournal_plan(&op->rec, &md, &plan);
		model_release(&md);
		strv_clear(&op->rec.hosts);
		strv_clear(&op->rec.ids);
		for (size_t i = 0; i < plan.hosts.n; i++) {
			opjournal_add_node(&op->rec, plan.hosts.v[i],
			    plan.ids.v[i]);
			strv_add(&rs->planned, plan.hosts.v[i]);
		}
		for (size_t i = 0; i < plan.notes.n; i++)
			strv_add(&rs->notes, plan.notes.v[i]);
		opjournal_plan_release(&plan);
		op->rec_dirty = true;
		op_record_flush(op);
		if (op->rec.hosts.n == 0) {
			recover_finished(op, true);
			return;
		}
		op_restore_begin(op);
		return;
	}
}

void
op_recover_start(struct cluster *c, struct opjournal *rec)
{
	struct operation *op = xcalloc(1, sizeof(*op));
	struct recover_state *rs = xcalloc(1, sizeof(*rs));
	char *found;

	op->c = c;
	op->p.kind = OP_RECOVER;
	op->p.workers = -1;
	utf8_snprintf(op->p.initiator, sizeof(op->p.initiator), "the daemon");
	utf8_snprintf(op->name, sizeof(op->name), "recover");
	memcpy(op->what, op->name, sizeof(op->what));
	op->machine = run_recover;
	op->kstate = rs;
	op->kstate_free = recover_state_free;
	op->started_ms = time_now_ms();
	op->step = "starting";
	/* No client waits for it: its outcome is the `recovered` event. */
	op->accepted = true;
	op->concluded = true;
	LIST_INIT(&op->maint_calls);
	op->rec = *rec;
	opjournal_init(rec);
	op->recorded = true;
	op->timer = looptimer_new(c->d->loop, op);
	rs->deadline = uv_now(c->d->loop) + restore_give_up_ms(op);
	c->op = op;
	cluster_changed(c);
	found = recover_found(op);
	clog_fields(LOG_NOTICE, c->name, "recover", NULL, LOG_EV_RECOVERED,
	    "found the crash record of %s, written by pid %ld: %zu node%s "
	    "in maintenance, %zu instance%s being stopped; recovering", found,
	    op->rec.pid, op->rec.hosts.n, op->rec.hosts.n == 1 ? "" : "s",
	    op->rec.stopping.n, op->rec.stopping.n == 1 ? "" : "s");
	free(found);
	op_resume_in(op, 0);
}

void
operation_recover(struct cluster *c)
{
	const char *dir = c->d->config->state_dir;
	struct opjournal rec;
	char err[768], aside[512];
	int rc;

	if (c->d->stopping || c->op)
		return;
	rc = opjournal_load(dir, c->name, &rec, err, sizeof(err));
	if (rc == 0)
		return;
	if (rc < 0) {
		if (opjournal_set_aside(dir, c->name, aside,
		    sizeof(aside)) == 0)
			utf8_snprintf(aside, sizeof(aside), "it was renamed to "
			    "op-%s.json.bad; nodes it listed may still be in "
			    "maintenance", c->name);
		events_add(&c->events, time_now_ms(), EVENT_RECOVERED, LOG_ERR,
		    NULL, "the crash record of an earlier run cannot be "
		    "read: %s; %s", err, aside);
		clog_fields(LOG_ERR, c->name, "recover", NULL, LOG_EV_RECOVERED,
		    "the crash record of an earlier run cannot be read: %s; "
		    "%s", err, aside);
		return;
	}
	op_recover_start(c, &rec);
}
