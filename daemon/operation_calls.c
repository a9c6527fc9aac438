/*
 * The primitives a machine acts through (operation_internal.h): reading the
 * cluster, one EC2 start or stop per step, waits that poll a pure
 * predicate of operation_wait.h, and the Zadara array.  Each resumes the
 * operation from the loop when its answer is in; the outcome waits in
 * struct operation for the machine's next turn.
 */
#include "daemon/operation_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/cluster.h"
#include "daemon/control.h"
#include "daemon/daemon.h"
#include "daemon/ec2.h"
#include "daemon/model.h"

void
op_on_refreshed(void *arg, struct cluster *c, bool ok, const char *error)
{
	struct operation *op = arg;

	(void)c;
	op->refresh_pending = false;
	op->refresh_ok = ok;
	free(op->refresh_error);
	op->refresh_error = error ? xstrdup(error) : NULL;
	op_resume_in(op, 0);
}

void
op_refresh(struct operation *op, unsigned parts, int pc)
{
	op->pc = pc;
	op->refresh_pending = true;
	cluster_refresh_parts(op->c, parts, op_on_refreshed, op);
}

bool
op_refreshed_ok(struct operation *op)
{
	if (op->refresh_ok || op->c->ec2_ok)
		return true;
	op_fail(op, PROTO_ERR_UPSTREAM, "cannot read the cluster: %s",
	    op->refresh_error ? op->refresh_error : "refresh failed");
	return false;
}

/* Called by the EC2 client with the answer to a start or a stop. */
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
			strv_add(start ? &op->started : &op->stopped,
			    op->batch.v[i]);
			/* A stopped node may stay in maintenance. */
			if (!start && opjournal_remove_instance(&op->rec,
			    op->batch.v[i]))
				op->rec_dirty = true;
		}
		op_record_flush(op);
	}
	ec2_state_changes_free(ch);
	op_resume_in(op, 0);
}

void
op_ec2(struct operation *op, bool start, int pc)
{
	struct ec2_client *ec2 = op->c->d->ec2;
	const char *const *ids = (const char *const *)op->batch.v;
	char err[512];

	op->pc = pc;
	op->ec2_failed = false;
	op->ec2_start = start;
	aws_error_clear(&op->ec2_err);
	if (!start && !op->p.dry_run) {
		/* Written down before the stop goes out: a recovery must
		 * know not to take these for nodes to bring back. */
		for (size_t i = 0; i < op->batch.n; i++)
			if (!strv_has(&op->rec.stopping, op->batch.v[i]))
				strv_add(&op->rec.stopping, op->batch.v[i]);
		if (op_record_save(op, err, sizeof(err)) != 0) {
			op_fail(op, PROTO_ERR_INTERNAL, "nothing was stopped: "
			    "the crash record cannot be written: %s", err);
			return;
		}
	}
	if (start)
		op->ec2_call = ec2_start_instances(ec2, ids, op->batch.n,
		    op->p.dry_run, on_op_ec2, op);
	else
		op->ec2_call = ec2_stop_instances(ec2, ids, op->batch.n,
		    op->p.dry_run, on_op_ec2, op);
}

void
op_fail_ec2(struct operation *op)
{
	char buf[1024];

	op_fail(op, PROTO_ERR_UPSTREAM, "%s",
	    aws_error_format(&op->ec2_err, buf, sizeof(buf)));
}

void
op_wait(struct operation *op, unsigned parts, op_wait_fn *pred,
    const struct strv *ids, const char *what, int next)
{
	if (op->p.dry_run) {
		op_say(op, LOG_INFO, "would wait until %s", what);
		op_goto(op, next);
		return;
	}
	op->waiting = true;
	op->wait_parts = parts;
	op->wait_pred = pred;
	strv_clear(&op->wait_ids);
	for (size_t i = 0; i < ids->n; i++)
		strv_add(&op->wait_ids, ids->v[i]);
	op->wait_next = next;
	op->wait_what = what;
	op->polls = 0;
	op->polled = false;
	op_resume_in(op, 0);
}

/* Gives up a wait: a warning with --force, else the operation fails. */
static void
op_wait_give_up(struct operation *op, const char *why)
{
	const struct cluster_config *cfg = op->c->cfg;
	char msg[768], every[32];

	op->waiting = false;
	time_format_duration(cfg->wait_interval_ms, every, sizeof(every));
	utf8_snprintf(msg, sizeof(msg), "gave up waiting until %s after %d "
	    "polls %s apart: %s", op->wait_what, op->polls, every, why);
	if (op->p.force) {
		op_warn(op, msg);
		op_goto(op, op->wait_next);
	} else {
		op_fail(op, PROTO_ERR_TIMEOUT, "%s", msg);
	}
}

void
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
		cluster_refresh_parts(op->c, op->wait_parts, op_on_refreshed,
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
	op_model(op, &md);
	ok = op->wait_pred(&md, &op->wait_ids, why, sizeof(why));
	model_release(&md);
	if (ok) {
		op->waiting = false;
		op_goto(op, op->wait_next);
		return;
	}
	if (op->polls >= cfg->wait_retries) {
		op_wait_give_up(op, why);
		return;
	}
	if (op->req)
		ctl_req_progress(op->req, op->step, op->polls,
		    cfg->wait_retries, "%s", why);
	op->polled = false;
	op_resume_in(op, (uint64_t)cfg->wait_interval_ms);
}

/* Called by the Zadara client with each poll of a wait. */
static void
on_op_zadara_progress(void *arg, const struct zadara_progress *pr)
{
	struct operation *op = arg;

	if (op->req)
		ctl_req_progress(op->req, op->step, pr->poll, pr->max_polls,
		    "%s", pr->message);
	clog_op(LOG_DEBUG, op->c->name, op_token(op), "%s: %s", op->name,
	    pr->message);
}

/* Called by the Zadara client when the array is where it should be (or
 * cannot get there).  What it read is also the cluster's latest view of
 * the array, for status. */
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
	cluster_changed(c);
	op_resume_in(op, 0);
}

void
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

bool
op_zadara_ok(struct operation *op, const char *what)
{
	char msg[768];

	if (!op->zadara_failed) {
		if (op->zadara_msg)
			op_say(op, LOG_INFO, "Zadara array %s: %s",
			    op->c->cfg->zadara_vpsa, op->zadara_msg);
		return true;
	}
	if (op->p.force && op->zadara_err_kind == ZADARA_ERR_TIMEOUT) {
		utf8_snprintf(msg, sizeof(msg), "gave up waiting to %s the "
		    "Zadara array; going on because of --force: %s", what,
		    op->zadara_msg);
		op_warn(op, msg);
		return true;
	}
	op_fail(op, op->zadara_err_kind == ZADARA_ERR_TIMEOUT ?
	    PROTO_ERR_TIMEOUT : PROTO_ERR_UPSTREAM, "Zadara array %s: %s",
	    op->c->cfg->zadara_vpsa, op->zadara_msg);
	return false;
}

void
op_batch_set(struct operation *op, const struct strv *ids)
{
	strv_clear(&op->batch);
	for (size_t i = 0; i < ids->n; i++)
		strv_add(&op->batch, ids->v[i]);
}

void
op_pairs(struct operation *op, const struct strv *ids, bool want,
    struct strv *hosts, struct strv *host_ids)
{
	struct model md;

	op_model(op, &md);
	op_pairs_needing(&md, ids, want, hosts, host_ids);
	model_release(&md);
}

void
op_running(struct operation *op, struct strv *ids)
{
	struct model md;

	op_model(op, &md);
	op_running_opencast(&md, ids);
	model_release(&md);
}

char *
op_batch_text(struct operation *op)
{
	return strv_join(&op->batch, ", ");
}
