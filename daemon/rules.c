/*
 * The rules of SPEC §5, made exact.  Every function starts from a model of
 * the cluster and fills a plan; nothing here does I/O.
 *
 * Counting: a worker is active when it is pending or running (a pending
 * worker already takes a slot against max_workers).  Held workers count as
 * running when they run, but are never chosen to start or stop by scale
 * up, scale down, scale_to or the autoscaler, with or without --force.
 */
#include "daemon/rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "common/xalloc.h"

void
plan_release(struct plan *p)
{
	strv_clear(&p->warnings);
	strv_clear(&p->start_support);
	strv_clear(&p->start_nodes);
	strv_clear(&p->stop_nodes);
	strv_clear(&p->stop_support);
	strv_clear(&p->maintenance);
}

static int
refuse(struct plan *p, enum proto_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
refuse(struct plan *p, enum proto_err code, const char *fmt, ...)
{
	va_list ap;

	p->error = code;
	va_start(ap, fmt);
	utf8_vsnprintf(p->message, sizeof(p->message), fmt, ap);
	va_end(ap);
	return -1;
}

static void
warn(struct plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
warn(struct plan *p, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	utf8_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	strv_add(&p->warnings, buf);
}

static void
say(struct plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(struct plan *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	utf8_vsnprintf(p->message, sizeof(p->message), fmt, ap);
	va_end(ap);
}

static const char *
s_if(int n)
{
	return n == 1 ? "" : "s";
}

static bool
is_active(const struct model_member *m)
{
	return m->inst->state == EC2_STATE_RUNNING ||
	    m->inst->state == EC2_STATE_PENDING;
}

int
rules_active_workers(const struct model *md)
{
	int n = 0;

	for (size_t i = 0; i < md->n; i++)
		if (md->m[i].role == ROLE_WORKER && is_active(&md->m[i]))
			n++;
	return n;
}

/* The admin must exist, be unique and run. */
static int
require_admin(const struct model *md, const char *what, struct plan *p)
{
	if (md->admins == 0)
		return refuse(p, PROTO_ERR_REFUSED, "The cluster has no admin "
		    "instance; %s needs one", what);
	if (md->admins > 1)
		return refuse(p, PROTO_ERR_REFUSED, "The cluster has %zu admin "
		    "instances; %s needs exactly one", md->admins, what);
	if (md->admin->inst->state != EC2_STATE_RUNNING)
		return refuse(p, PROTO_ERR_REFUSED, "The admin instance %s is "
		    "%s; %s needs it running", md->admin->inst->id,
		    ec2_state_name(md->admin->inst->state), what);
	return 0;
}

static int
cmp_id(const void *a, const void *b)
{
	const struct model_member *x = *(const struct model_member *const *)a;
	const struct model_member *y = *(const struct model_member *const *)b;

	return strcmp(x->inst->id, y->inst->id);
}

/* Stopped, unheld workers in a stable order (by id). */
static size_t
startable_workers(const struct model *md, const struct model_member **out)
{
	size_t k = 0;

	for (size_t i = 0; i < md->n; i++) {
		const struct model_member *m = &md->m[i];

		if (m->role == ROLE_WORKER && !m->held &&
		    m->inst->state == EC2_STATE_STOPPED)
			out[k++] = m;
	}
	qsort(out, k, sizeof(*out), cmp_id);
	return k;
}

int
rules_scale_up(const struct model *md, const struct cluster_config *cfg,
    int n, bool force, struct plan *p)
{
	const struct model_member **cand;
	int active = rules_active_workers(md);
	size_t k;

	memset(p, 0, sizeof(*p));
	p->workers = n;
	if (require_admin(md, "scale up", p) != 0)
		return -1;
	cand = xcalloc(md->n ? md->n : 1, sizeof(*cand));
	k = startable_workers(md, cand);
	if ((int)k < n) {
		free(cand);
		return refuse(p, PROTO_ERR_REFUSED, "Cluster only has %zu "
		    "stopped worker%s that may be started but was asked to "
		    "start %d", k, k == 1 ? "" : "s", n);
	}
	if (active + n > cfg->max_workers) {
		if (!force) {
			free(cand);
			return refuse(p, PROTO_ERR_REFUSED, "Starting %d worker%s "
			    "violates max workers setting of %d (%d running)",
			    n, s_if(n), cfg->max_workers, active);
		}
		warn(p, "Starting %d worker%s exceeds max workers setting of "
		    "%d (%d running); going ahead because of --force", n,
		    s_if(n), cfg->max_workers, active);
	}
	/* All candidates, in order: the first n are started, the rest are
	 * spares in case EC2 lacks capacity for one. */
	for (size_t i = 0; i < k; i++)
		strv_add(&p->start_nodes, cand[i]->inst->id);
	free(cand);
	say(p, "start %d worker%s", n, s_if(n));
	return 0;
}

/* Orders scale-down candidates: idle before busy before unknown; idle and
 * unknown by uptime (longest first), busy by fewest jobs then uptime. */
static int
cmp_candidate(const void *a, const void *b)
{
	const struct model_member *x = *(const struct model_member *const *)a;
	const struct model_member *y = *(const struct model_member *const *)b;
	int cx = x->running_jobs == 0 ? 0 : x->running_jobs > 0 ? 1 : 2;
	int cy = y->running_jobs == 0 ? 0 : y->running_jobs > 0 ? 1 : 2;

	if (cx != cy)
		return cx - cy;
	if (cx == 1 && x->running_jobs != y->running_jobs)
		return x->running_jobs - y->running_jobs;
	if (x->uptime_s != y->uptime_s)
		return x->uptime_s > y->uptime_s ? -1 : 1;
	return strcmp(x->inst->id, y->inst->id);
}

int
rules_scale_down(const struct model *md, const struct cluster_config *cfg,
    int n, bool force, struct plan *p)
{
	const struct model_member **cand;
	int running = 0, idle = 0;
	size_t k = 0;

	memset(p, 0, sizeof(*p));
	p->workers = n;
	if (require_admin(md, "scale down", p) != 0)
		return -1;
	for (size_t i = 0; i < md->n; i++)
		if (md->m[i].role == ROLE_WORKER &&
		    md->m[i].inst->state == EC2_STATE_RUNNING)
			running++;
	if (running < n)
		return refuse(p, PROTO_ERR_REFUSED, "Cluster only has %d "
		    "running worker%s but was asked to stop %d", running,
		    s_if(running), n);
	if (running - n < cfg->min_workers) {
		if (!force)
			return refuse(p, PROTO_ERR_REFUSED, "Stopping %d "
			    "worker%s violates min workers setting of %d", n,
			    s_if(n), cfg->min_workers);
		warn(p, "Stopping %d worker%s goes below min workers setting "
		    "of %d; going ahead because of --force", n, s_if(n),
		    cfg->min_workers);
	}
	/* Idleness needs Opencast: missing data never means idle. */
	if (!md->opencast_known)
		return refuse(p, PROTO_ERR_UPSTREAM, "Opencast cannot be read, "
		    "so idle workers cannot be told from busy ones");
	cand = xcalloc(md->n ? md->n : 1, sizeof(*cand));
	for (size_t i = 0; i < md->n; i++) {
		const struct model_member *m = &md->m[i];

		if (m->role != ROLE_WORKER || m->held ||
		    m->inst->state != EC2_STATE_RUNNING)
			continue;
		cand[k++] = m;
		if (m->running_jobs == 0)
			idle++;
	}
	qsort(cand, k, sizeof(*cand), cmp_candidate);
	if (idle < n) {
		if (!force || (int)k < n) {
			free(cand);
			if ((int)k < n)
				return refuse(p, PROTO_ERR_REFUSED, "Only %zu "
				    "running worker%s may be stopped (held "
				    "ones never are) but %d %s asked", k,
				    k == 1 ? "" : "s", n,
				    n == 1 ? "was" : "were");
			return refuse(p, PROTO_ERR_REFUSED, "Only %d of %d "
			    "running worker%s %s idle but %d %s asked to stop",
			    idle, running, s_if(running),
			    idle == 1 ? "is" : "are", n,
			    n == 1 ? "was" : "were");
		}
		warn(p, "Only %d of %d running worker%s %s idle; stopping "
		    "busy workers too because of --force", idle, running,
		    s_if(running), idle == 1 ? "is" : "are");
	}
	for (int i = 0; i < n; i++) {
		strv_add(&p->stop_nodes, cand[i]->inst->id);
		if (cand[i]->host)
			strv_add(&p->maintenance, cand[i]->host->base_url);
	}
	free(cand);
	say(p, "stop %d worker%s", n, s_if(n));
	return 0;
}

int
rules_scale_to(const struct model *md, const struct cluster_config *cfg,
    int n, bool force, struct plan *p)
{
	int active = rules_active_workers(md);
	int rc;

	if (n == active) {
		memset(p, 0, sizeof(*p));
		if (require_admin(md, "scale_to", p) != 0)
			return -1;
		p->nothing_to_do = true;
		say(p, "%d worker%s already running: nothing to do", n, s_if(n));
		return 0;
	}
	if (n > active)
		rc = rules_scale_up(md, cfg, n - active, force, p);
	else
		rc = rules_scale_down(md, cfg, active - n, force, p);
	p->workers = n - active;
	return rc;
}

int
rules_start(const struct model *md, const struct cluster_config *cfg, int n,
    bool force, struct plan *p)
{
	const struct model_member **cand;
	int workers = md->workers, active = rules_active_workers(md), need;
	size_t k;

	memset(p, 0, sizeof(*p));
	if (n < 0)
		n = cfg->min_workers;
	p->workers = n;
	if (workers < n)
		return refuse(p, PROTO_ERR_REFUSED, "Cluster only has %d "
		    "worker%s but was asked to start with %d", workers,
		    s_if(workers), n);
	if (active > n)
		return refuse(p, PROTO_ERR_REFUSED, "Cluster already has %d "
		    "worker%s running, more than the %d asked for", active,
		    s_if(active), n);
	if (n < cfg->min_workers || n > cfg->max_workers) {
		const char *which = n < cfg->min_workers ? "min" : "max";
		int limit = n < cfg->min_workers ? cfg->min_workers :
		    cfg->max_workers;

		if (!force)
			return refuse(p, PROTO_ERR_REFUSED, "Starting with %d "
			    "worker%s violates %s workers setting of %d", n,
			    s_if(n), which, limit);
		warn(p, "Starting with %d worker%s is outside %s workers "
		    "setting of %d; going ahead because of --force", n,
		    s_if(n), which, limit);
	}
	if (md->admins != 1)
		return refuse(p, PROTO_ERR_REFUSED, md->admins ? "The cluster "
		    "has more than one admin instance" : "The cluster has no "
		    "admin instance");
	for (size_t i = 0; i < md->n; i++) {
		const struct model_member *m = &md->m[i];

		if (m->inst->state != EC2_STATE_STOPPED)
			continue;
		if (model_role_is_support(m->role))
			strv_add(&p->start_support, m->inst->id);
		else if (m->role == ROLE_ADMIN || m->role == ROLE_ENGAGE)
			strv_add(&p->start_nodes, m->inst->id);
	}
	cand = xcalloc(md->n ? md->n : 1, sizeof(*cand));
	k = startable_workers(md, cand);
	need = n - active;
	if ((int)k < need) {
		free(cand);
		return refuse(p, PROTO_ERR_REFUSED, "Cluster has only %zu "
		    "stopped worker%s that may be started (held ones never "
		    "are) but needs %d more", k, k == 1 ? "" : "s", need);
	}
	for (int i = 0; i < need; i++)
		strv_add(&p->start_nodes, cand[i]->inst->id);
	free(cand);
	say(p, "start the cluster with %d worker%s", n, s_if(n));
	return 0;
}

int
rules_stop(const struct model *md, const struct cluster_config *cfg,
    bool force, struct plan *p)
{
	struct strv held = { 0 };

	(void)cfg;
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < md->n; i++)
		if (md->m[i].held && md->m[i].role != ROLE_OTHER)
			strv_add(&held, md->m[i].inst->name[0] ?
			    md->m[i].inst->name : md->m[i].inst->id);
	if (held.n) {
		char *names = strv_join(&held, ", ");

		if (!force) {
			refuse(p, PROTO_ERR_REFUSED, "The cluster has %zu held "
			    "instance%s (%s): stop refuses held instances "
			    "unless forced", held.n, held.n == 1 ? "" : "s",
			    names);
			free(names);
			strv_clear(&held);
			return -1;
		}
		warn(p, "Stopping held instance%s (%s) because of --force",
		    held.n == 1 ? "" : "s", names);
		free(names);
	}
	strv_clear(&held);
	if (require_admin(md, "stop", p) != 0)
		return -1;
	/* Without Opencast the nodes cannot be put in maintenance first. */
	if (!md->opencast_known) {
		if (!force)
			return refuse(p, PROTO_ERR_UPSTREAM, "Opencast cannot be "
			    "read, so its nodes cannot be put in maintenance "
			    "before they stop");
		warn(p, "Opencast cannot be read: stopping without maintenance "
		    "and without waiting for idle workers, because of "
		    "--force");
	}
	for (size_t i = 0; i < md->n; i++) {
		const struct model_member *m = &md->m[i];

		if (!is_active(m))
			continue;
		if (model_role_is_support(m->role))
			strv_add(&p->stop_support, m->inst->id);
		else if (model_role_is_opencast(m->role)) {
			strv_add(&p->stop_nodes, m->inst->id);
			if (m->host && m->inst->state == EC2_STATE_RUNNING)
				strv_add(&p->maintenance, m->host->base_url);
		}
	}
	say(p, "stop the cluster");
	return 0;
}

int
rules_maintenance(const struct model *md, bool on, struct plan *p)
{
	memset(p, 0, sizeof(*p));
	if (require_admin(md, on ? "maintenance on" : "maintenance off",
	    p) != 0)
		return -1;
	if (!md->opencast_known)
		return refuse(p, PROTO_ERR_UPSTREAM, "Opencast cannot be read");
	for (size_t i = 0; i < md->n; i++) {
		const struct model_member *m = &md->m[i];

		if (model_role_is_opencast(m->role) && m->host &&
		    m->inst->state == EC2_STATE_RUNNING)
			strv_add(&p->maintenance, m->host->base_url);
	}
	say(p, "put %zu Opencast node%s %s maintenance", p->maintenance.n,
	    p->maintenance.n == 1 ? "" : "s", on ? "in" : "out of");
	return 0;
}

void
rules_scale_down_recheck(const struct model *md, const struct strv *chosen,
    bool force, struct strv *stop, struct strv *release)
{
	for (size_t c = 0; c < chosen->n; c++) {
		const struct model_member *m = NULL;

		for (size_t i = 0; i < md->n; i++)
			if (strcmp(md->m[i].inst->id, chosen->v[c]) == 0)
				m = &md->m[i];
		/* Gone or no longer running: nothing to stop or release. */
		if (m == NULL || m->inst->state != EC2_STATE_RUNNING)
			continue;
		if (force || (md->opencast_known && m->running_jobs == 0))
			strv_add(stop, m->inst->id);
		else
			strv_add(release, m->inst->id);
	}
}
