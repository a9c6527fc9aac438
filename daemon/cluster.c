/*
 * A managed cluster at run time: its refresh timer and the refresh itself.
 * A refresh reads the cluster's instances from EC2 (one paginated
 * DescribeInstances), finds the admin node, and reads Opencast through it:
 * the credentials probe when not yet verified, then hosts and job state in
 * parallel.  An operation's step may ask for one Opencast part alone
 * (REFRESH_OC_HOSTS, REFRESH_OC_JOBS): it replaces that part of a complete
 * view, and oc_at_ms stays the time of the older part; without a complete
 * view both parts are read.  Results replace the previous ones only when
 * they are complete; a failure keeps the old EC2 data (marked not ok) and
 * makes the Opencast numbers unknown, so nothing downstream mistakes
 * missing data for idle workers.  Status's refresh part is built here
 * (status.c puts status together).
 */
#include "daemon/cluster.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "common/log.h"
#include "common/strbuf.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "common/xrand.h"
#include "daemon/daemon.h"
#include "daemon/ec2.h"
#include "daemon/looptimer.h"
#include "daemon/metrics.h"
#include "daemon/model.h"
#include "daemon/opencast.h"
#include "daemon/zadara.h"

/* Someone waiting for a refresh: told the outcome of the parts it asked
 * for, whatever else the refresh it joined reads. */
struct cluster_waiter {
	cluster_refresh_fn *cb;
	void	*arg;
	unsigned parts;
	unsigned gen;		/* the refresh it waits for */
	TAILQ_ENTRY(cluster_waiter) link;
};

/* A cluster's refresh machinery, private to this file. */
struct cluster_refresh {
	struct looptimer *refresh_timer;
	/* The refresh in flight: the REFRESH_* parts it reads. */
	unsigned	 refreshing;
	struct ec2_call	*ec2_call;
	struct oc_call	*oc_me_call;
	struct oc_call	*oc_hosts_call;
	struct oc_call	*oc_jobs_call;
	struct oc_hosts	*new_hosts;
	struct oc_jobs	*new_jobs;
	char		*new_oc_error;
	int		 oc_pending;
	/* The Opencast parts being read: those asked for, or both while
	 * the cluster has no complete view to update. */
	unsigned	 oc_reading;
	/* Everyone waiting, for the refresh in flight (gen) or for the one
	 * queued behind it (gen + 1).  A waiter stays in this list until it
	 * is answered, so that cluster_refresh_cancel() finds it at any
	 * time, even while the waiters of an ending refresh are told. */
	TAILQ_HEAD(cluster_waiters, cluster_waiter) waiters;
	unsigned	 gen;
	/* Asked for while one ran, and not covered by it. */
	unsigned	 next_parts;
	struct zadara_call *zadara_call;
	/* The admin URL of c->oc. */
	char		*oc_url;
	bool		 oc_verified;	/* me.json accepted our credentials */
	char		*map_note;	/* the last mapping report logged */
};

static void on_refresh_timer(void *arg);
static void read_zadara(struct cluster *c);

static void
set_str(char **slot, const char *v)
{
	free(*slot);
	*slot = v ? xstrdup(v) : NULL;
}

struct cluster *
cluster_new(struct daemon *d, const struct cluster_config *cfg)
{
	struct cluster *c = xcalloc(1, sizeof(*c));

	c->d = d;
	c->name = xstrdup(cfg->name);
	c->cfg = cfg;
	c->rf = xcalloc(1, sizeof(*c->rf));
	TAILQ_INIT(&c->rf->waiters);
	events_init(&c->events, EVENTS_DEFAULT_CAPACITY);
	events_share(&c->events, &d->events_budget);
	c->rf->refresh_timer = looptimer_new(d->loop, c);
	return c;
}

void
cluster_changed(struct cluster *c)
{
	c->state_gen++;
}

struct cluster *
cluster_find(struct daemon *d, const char *name)
{
	for (struct cluster *c = d->clusters; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void
schedule_refresh(struct cluster *c)
{
	/* +-10% so that clusters with one interval do not move in step. */
	double f = 0.9 + 0.2 * xrand01(&c->d->rng);

	looptimer_start(c->rf->refresh_timer,
	    (uint64_t)((double)c->cfg->refresh_interval_ms * f),
	    on_refresh_timer);
}

void
cluster_reconfigure(struct cluster *c, const struct cluster_config *cfg)
{
	bool url_changed = strcmp(c->cfg->admin_url, cfg->admin_url) != 0;

	c->cfg = cfg;
	cluster_changed(c);
	if (url_changed) {
		/* The next refresh makes a client for the new URL. */
		free(c->rf->oc_url);
		c->rf->oc_url = NULL;
	}
}

static void
oc_results_drop(struct cluster *c)
{
	oc_hosts_free(c->rf->new_hosts);
	oc_jobs_free(c->rf->new_jobs);
	c->rf->new_hosts = NULL;
	c->rf->new_jobs = NULL;
	free(c->rf->new_oc_error);
	c->rf->new_oc_error = NULL;
}

static void refresh_begin(struct cluster *c);

/* The outcome of the given parts of the refresh that just ended: true
 * when they were read; else err says what failed. */
static bool
parts_outcome(const struct cluster *c, unsigned parts, char *err,
    size_t errlen)
{
	err[0] = '\0';
	/* EC2's texts name EC2 already ("EC2 DescribeInstances failed:
	 * ..."); Opencast's are the reader's. */
	if (!c->ec2_ok && (parts & REFRESH_EC2))
		utf8_snprintf(err, errlen, "%s", c->ec2_error);
	else if (!c->oc_ok && (parts & REFRESH_OPENCAST))
		utf8_snprintf(err, errlen, "Opencast: %s", c->oc_error);
	return err[0] == '\0';
}

/* The first waiter for refresh gen, or NULL. */
static struct cluster_waiter *
first_of_gen(struct cluster *c, unsigned gen)
{
	struct cluster_waiter *w;

	TAILQ_FOREACH(w, &c->rf->waiters, link)
		if (w->gen == gen)
			return w;
	return NULL;
}

/* Ends the refresh in flight: records failures and recoveries of full
 * refreshes, tells each waiter the outcome of the parts it asked for,
 * starts a queued refresh or arms the timer. */
static void
refresh_finish(struct cluster *c)
{
	struct cluster_waiter *w;
	int64_t now = time_now_ms();
	unsigned parts = c->rf->refreshing, gen = c->rf->gen++;
	char err[1200];
	bool ok = parts_outcome(c, parts, err, sizeof(err));

	c->rf->refreshing = 0;
	c->updated_ms = now;
	cluster_changed(c);
	if ((parts & REFRESH_EC2) && !c->ec2_ok)
		metrics_refresh_failed(c->name, "ec2");
	/* Opencast is not read when EC2 failed: not its failure. */
	if ((parts & REFRESH_OPENCAST) && !c->oc_ok && c->ec2_ok)
		metrics_refresh_failed(c->name, "opencast");
	if (parts == REFRESH_ALL) {
		if (!ok) {
			events_add(&c->events, now, EVENT_REFRESH, LOG_WARNING,
			    NULL, "refresh failed: %s", err);
			clog(LOG_WARNING, c->name, "refresh failed: %s", err);
		} else if (c->failing) {
			events_add(&c->events, now, EVENT_REFRESH, LOG_NOTICE,
			    NULL, "refresh succeeded again");
			clog(LOG_NOTICE, c->name, "refresh succeeded again");
		}
		c->failing = !ok;
	}
	if (c->rf->next_parts) {
		/* Asked for while this one ran, and not covered by it. */
		c->rf->refreshing = c->rf->next_parts;
		c->rf->next_parts = 0;
		refresh_begin(c);
	} else if (!c->d->stopping && parts == REFRESH_ALL) {
		schedule_refresh(c);
	}
	if ((parts & REFRESH_EC2) && c->ec2_ok && c->refreshed)
		c->refreshed(c);
	/* One at a time from the live list: a callback may cancel other
	 * waiters or add new ones (those wait for a later refresh). */
	while ((w = first_of_gen(c, gen)) != NULL) {
		TAILQ_REMOVE(&c->rf->waiters, w, link);
		if (w->cb) {
			bool wok = parts_outcome(c, w->parts, err, sizeof(err));

			w->cb(w->arg, c, wok, wok ? NULL : err);
		}
		free(w);
	}
}

static void
opencast_failed(struct cluster *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Opencast could not be read: its numbers become unknown. */
static void
opencast_failed(struct cluster *c, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = utf8_vasprintf(fmt, ap);
	va_end(ap);
	free(c->oc_error);
	c->oc_error = msg;
	c->oc_ok = false;
	oc_hosts_free(c->hosts);
	oc_jobs_free(c->jobs);
	c->hosts = NULL;
	c->jobs = NULL;
	cluster_changed(c);
}

/* Logs how EC2 instances and Opencast hosts were paired when that picture
 * changes: the one-left pairing, or the nodes that could not be mapped
 * (the first few by name; a large cluster that is still booting would
 * otherwise fill a screen). */
#define MAP_NOTE_NAMES 5

static void
note_mapping(struct cluster *c)
{
	struct strbuf sb = STRBUF_INIT;
	struct model md;
	bool *used;
	int level = LOG_INFO, unmapped = 0;

	model_build(&md, c->name, c->instances, c->hosts, c->jobs,
	    time_now_ms());
	used = xcalloc(c->hosts->n ? c->hosts->n : 1, sizeof(*used));
	for (size_t i = 0; i < md.n; i++)
		if (md.m[i].host)
			used[md.m[i].host - c->hosts->v] = true;
	if (md.map.paired)
		strbuf_printf(&sb, "paired %s (%s) with Opencast host %s, the "
		    "only instance and host left unmapped; ",
		    md.m[md.map.paired_instance].inst->name,
		    md.m[md.map.paired_instance].inst->id,
		    c->hosts->v[md.map.paired_host].base_url);
	for (size_t i = 0; i < md.n; i++) {
		const struct model_member *m = &md.m[i];

		if (m->host == NULL && model_role_is_opencast(m->role) &&
		    m->inst->state == EC2_STATE_RUNNING) {
			if (++unmapped <= MAP_NOTE_NAMES)
				strbuf_printf(&sb, "instance %s (%s) has no "
				    "Opencast host; ", m->inst->name,
				    m->inst->id);
			level = LOG_WARNING;
		}
	}
	if (unmapped > MAP_NOTE_NAMES)
		strbuf_printf(&sb, "%d more instances have no Opencast host; ",
		    unmapped - MAP_NOTE_NAMES);
	unmapped = 0;
	for (size_t h = 0; h < c->hosts->n; h++) {
		if (!used[h]) {
			if (++unmapped <= MAP_NOTE_NAMES)
				strbuf_printf(&sb, "Opencast host %s matches "
				    "no instance; ", c->hosts->v[h].base_url);
			level = LOG_WARNING;
		}
	}
	if (unmapped > MAP_NOTE_NAMES)
		strbuf_printf(&sb, "%d more Opencast hosts match no instance; ",
		    unmapped - MAP_NOTE_NAMES);
	if (sb.len >= 2)
		sb.buf[sb.len -= 2] = '\0';
	if (strcmp(strbuf_str(&sb), c->rf->map_note ? c->rf->map_note :
	    "") != 0) {
		if (sb.len)
			clog(level, c->name, "%s", sb.buf);
		else if (c->rf->map_note)
			clog(LOG_INFO, c->name, "every Opencast node is "
			    "mapped");
		set_str(&c->rf->map_note, sb.len ? sb.buf : NULL);
	}
	free(used);
	model_release(&md);
	strbuf_release(&sb);
}

static void
oc_part_done(struct cluster *c)
{
	if (--c->rf->oc_pending > 0)
		return;
	if (c->rf->new_oc_error) {
		opencast_failed(c, "%s", c->rf->new_oc_error);
		oc_results_drop(c);
	} else {
		int64_t now = time_now_ms();

		/* Only the parts read are replaced, and their times. */
		if (c->rf->oc_reading & REFRESH_OC_HOSTS) {
			oc_hosts_free(c->hosts);
			c->hosts = c->rf->new_hosts;
			c->rf->new_hosts = NULL;
			c->oc_hosts_at_ms = now;
		}
		if (c->rf->oc_reading & REFRESH_OC_JOBS) {
			oc_jobs_free(c->jobs);
			c->jobs = c->rf->new_jobs;
			c->rf->new_jobs = NULL;
			c->oc_jobs_at_ms = now;
		}
		c->oc_ok = true;
		c->oc_at_ms = c->oc_hosts_at_ms < c->oc_jobs_at_ms ?
		    c->oc_hosts_at_ms : c->oc_jobs_at_ms;
		set_str(&c->oc_error, NULL);
		cluster_changed(c);
		note_mapping(c);
	}
	refresh_finish(c);
}

static void
oc_note_error(struct cluster *c, const struct oc_error *err)
{
	if (c->rf->new_oc_error == NULL)
		c->rf->new_oc_error = xstrdup(err->message);
	if (err->kind == OC_ERR_AUTH)
		c->rf->oc_verified = false;
}

/* Called by the Opencast client with hosts.json. */
static void
on_oc_hosts(void *arg, struct oc_hosts *hosts, const struct oc_error *err)
{
	struct cluster *c = arg;

	c->rf->oc_hosts_call = NULL;
	if (err)
		oc_note_error(c, err);
	else
		c->rf->new_hosts = hosts;
	oc_part_done(c);
}

/* Called by the Opencast client with the job state. */
static void
on_oc_jobs(void *arg, struct oc_jobs *jobs, const struct oc_error *err)
{
	struct cluster *c = arg;

	c->rf->oc_jobs_call = NULL;
	if (err)
		oc_note_error(c, err);
	else
		c->rf->new_jobs = jobs;
	oc_part_done(c);
}

static void
read_opencast(struct cluster *c)
{
	struct oc_service_set set = {
		(const char *const *)c->cfg->high_load_services,
		c->cfg->n_high_load_services,
	};

	unsigned parts = c->rf->oc_reading;

	/* Answers come from the loop, after both calls went out. */
	c->rf->oc_pending = !!(parts & REFRESH_OC_HOSTS) +
	    !!(parts & REFRESH_OC_JOBS);
	if (parts & REFRESH_OC_HOSTS)
		c->rf->oc_hosts_call = oc_get_hosts(c->oc, on_oc_hosts, c);
	if (parts & REFRESH_OC_JOBS)
		c->rf->oc_jobs_call = oc_get_jobs(c->oc,
		    c->cfg->job_source == JOB_SOURCE_STATISTICS ?
		    OC_JOBS_STATISTICS : OC_JOBS_ACTIVE, &set, on_oc_jobs, c);
}

/* Called by the Opencast client with the credentials probe's outcome. */
static void
on_oc_me(void *arg, const struct oc_error *err)
{
	struct cluster *c = arg;

	c->rf->oc_me_call = NULL;
	if (err) {
		opencast_failed(c, "%s", err->message);
		refresh_finish(c);
		return;
	}
	if (!c->rf->oc_verified)
		clog(LOG_INFO, c->name, "Opencast at %s accepted the "
		    "credentials", c->rf->oc_url);
	c->rf->oc_verified = true;
	read_opencast(c);
}

/* Finds the admin node and starts the Opencast part of the refresh. */
static void
start_opencast(struct cluster *c)
{
	struct model md;
	const struct ec2_instance *admin;
	char err[256], *url;

	model_build(&md, c->name, c->instances, NULL, NULL, time_now_ms());
	if (md.admins != 1) {
		if (md.admins == 0)
			opencast_failed(c, "no admin instance named %s-admin",
			    c->name);
		else
			opencast_failed(c, "%zu admin instances named "
			    "%s-admin", md.admins, c->name);
		model_release(&md);
		refresh_finish(c);
		return;
	}
	admin = md.admin->inst;
	if (admin->state != EC2_STATE_RUNNING) {
		opencast_failed(c, "the admin instance %s is %s", admin->id,
		    ec2_state_name(admin->state));
		model_release(&md);
		refresh_finish(c);
		return;
	}
	url = config_admin_url(c->cfg->admin_url, admin->private_ip,
	    admin->public_ip, admin->private_dns, admin->public_dns, err,
	    sizeof(err));
	model_release(&md);
	if (url == NULL) {
		opencast_failed(c, "cannot make the admin URL: %s", err);
		refresh_finish(c);
		return;
	}
	if (c->oc == NULL || c->rf->oc_url == NULL ||
	    strcmp(url, c->rf->oc_url) != 0) {
		struct oc_settings s = {
			.base_url = url, .user = c->d->oc_user,
			.password = c->d->oc_password,
			.timeout_ms = c->d->config->opencast_timeout_ms,
		};

		oc_client_free(c->oc);
		c->oc = oc_client_new(c->d->loop, c->d->http, &s);
		set_str(&c->rf->oc_url, url);
		c->rf->oc_verified = false;
		clog(LOG_INFO, c->name, "Opencast admin at %s", url);
	}
	free(url);
	/* One part alone updates a complete view of this admin's Opencast
	 * only; without one, both are read. */
	c->rf->oc_reading = c->rf->refreshing & REFRESH_OPENCAST;
	if (!c->oc_ok || c->hosts == NULL || c->jobs == NULL ||
	    !c->rf->oc_verified)
		c->rf->oc_reading = REFRESH_OPENCAST;
	if (c->rf->oc_verified)
		read_opencast(c);
	else
		c->rf->oc_me_call = oc_check_me(c->oc, on_oc_me, c);
}

/* Called by the EC2 client with the cluster's instances. */
static void
on_described(void *arg, struct ec2_instance_list *list,
    const struct aws_error *err)
{
	struct cluster *c = arg;
	char buf[1024];

	c->rf->ec2_call = NULL;
	if (err) {
		c->ec2_ok = false;
		set_str(&c->ec2_error, aws_error_format(err, buf, sizeof(buf)));
		cluster_changed(c);
		/* Without fresh instances Opencast's view cannot be joined. */
		if (c->rf->refreshing & REFRESH_OPENCAST)
			opencast_failed(c, "not read: EC2 failed");
		refresh_finish(c);
		return;
	}
	ec2_instance_list_free(c->instances);
	c->instances = list;
	c->ec2_ok = true;
	c->ec2_at_ms = time_now_ms();
	set_str(&c->ec2_error, NULL);
	cluster_changed(c);
	if (c->rf->refreshing & REFRESH_OPENCAST)
		start_opencast(c);
	else
		refresh_finish(c);
}

/* Starts the parts in c->rf->refreshing. */
static void
refresh_begin(struct cluster *c)
{
	if (c->rf->refreshing == REFRESH_ALL) {
		looptimer_stop(c->rf->refresh_timer);
		read_zadara(c);
	}
	if (c->rf->refreshing & REFRESH_EC2) {
		c->rf->ec2_call = ec2_describe_prefix(c->d->ec2, c->name,
		    on_described, c);
	} else if (c->instances == NULL) {
		opencast_failed(c, "not read: no EC2 data yet");
		refresh_finish(c);
	} else {
		start_opencast(c);
	}
}

void
cluster_refresh_parts(struct cluster *c, unsigned parts,
    cluster_refresh_fn *cb, void *arg)
{
	struct cluster_waiter *w = xcalloc(1, sizeof(*w));

	w->cb = cb;
	w->arg = arg;
	w->parts = parts;
	w->gen = c->rf->gen;
	TAILQ_INSERT_TAIL(&c->rf->waiters, w, link);
	if (c->rf->refreshing && (parts & ~c->rf->refreshing) == 0)
		return;		/* the refresh in flight reads all of it */
	if (c->rf->refreshing) {
		w->gen++;	/* the one queued behind it */
		c->rf->next_parts |= parts;
		return;
	}
	c->rf->refreshing = parts;
	refresh_begin(c);
}

void
cluster_refresh(struct cluster *c, cluster_refresh_fn *cb, void *arg)
{
	cluster_refresh_parts(c, REFRESH_ALL, cb, arg);
}

void
cluster_refresh_cancel(struct cluster *c, void *arg)
{
	struct cluster_waiter *w, *next;

	for (w = TAILQ_FIRST(&c->rf->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, link);
		if (w->arg == arg) {
			TAILQ_REMOVE(&c->rf->waiters, w, link);
			free(w);
		}
	}
}

/* Called by the Zadara client with the array's state. */
static void
on_zadara_state(void *arg, const struct zadara_vpsa *vpsa,
    const struct zadara_error *err)
{
	struct cluster *c = arg;

	c->rf->zadara_call = NULL;
	if (vpsa)
		set_str(&c->zadara_status, vpsa->status);
	set_str(&c->zadara_error, err ? err->message : NULL);
	cluster_changed(c);
}

/* Reads the array's state for status, unless an operation is at it. */
static void
read_zadara(struct cluster *c)
{
	if (c->cfg->zadara_vpsa[0] == '\0' || c->d->zadara == NULL ||
	    c->rf->zadara_call || c->op)
		return;
	c->rf->zadara_call = zadara_get_state(c->d->zadara, c->cfg->zadara_vpsa,
	    on_zadara_state, c);
}

/* Called by the refresh timer when the refresh interval has passed. */
static void
on_refresh_timer(void *arg)
{
	cluster_refresh(arg, NULL, NULL);
}

void
cluster_free(struct cluster *c)
{
	struct cluster_waiter *w;

	if (c == NULL)
		return;
	ec2_call_cancel(c->rf->ec2_call);
	zadara_call_cancel(c->rf->zadara_call);
	oc_call_cancel(c->rf->oc_me_call);
	oc_call_cancel(c->rf->oc_hosts_call);
	oc_call_cancel(c->rf->oc_jobs_call);
	oc_results_drop(c);
	while ((w = TAILQ_FIRST(&c->rf->waiters)) != NULL) {
		TAILQ_REMOVE(&c->rf->waiters, w, link);
		if (w->cb)
			w->cb(w->arg, c, false, "the cluster is no longer "
			    "managed");
		free(w);
	}
	looptimer_free(c->rf->refresh_timer);
	oc_client_free(c->oc);
	ec2_instance_list_free(c->instances);
	oc_hosts_free(c->hosts);
	oc_jobs_free(c->jobs);
	events_release(&c->events);
	free(c->ec2_error);
	free(c->oc_error);
	free(c->rf->oc_url);
	free(c->rf->map_note);
	free(c->zadara_status);
	free(c->zadara_error);
	free(c->name);
	free(c->rf);
	free(c);
}

static json_t *
time_or_null(int64_t ms)
{
	char ts[TIME_ISO8601_LEN];

	if (ms <= 0)
		return json_null();
	time_format_iso8601(ms, ts);
	return json_text(ts);
}

/* The model of what the daemon knows now; empty before EC2 answered. */
void
cluster_model(struct cluster *c, struct model *md, int64_t now_ms)
{
	static const struct ec2_instance_list empty;

	model_build(md, c->name, c->instances ? c->instances : &empty,
	    c->oc_ok ? c->hosts : NULL, c->oc_ok ? c->jobs : NULL, now_ms);
}

void
cluster_status_parts(struct cluster *c, json_t *o)
{
	/* last_ok_at: the last read that succeeded (updated_at is the last
	 * refresh, whatever its outcome). */
	json_object_set_new(o, "ec2", json_pack("{s:b, s:o, s:o}", "ok",
	    c->ec2_ok, "error", c->instances || c->ec2_error ?
	    json_text_or_null(c->ec2_error) : json_text("not read yet"),
	    "last_ok_at", time_or_null(c->ec2_at_ms)));
	json_object_set_new(o, "opencast", json_pack("{s:b, s:o, s:o}",
	    "reachable", c->oc_ok, "error", c->oc_ok ? json_null() :
	    json_text(c->oc_error ? c->oc_error : "not read yet"),
	    "last_ok_at", time_or_null(c->oc_at_ms)));
	json_object_set_new(o, "zadara", c->cfg->zadara_vpsa[0] ?
	    json_pack("{s:o, s:o, s:o}", "vpsa", json_text(c->cfg->zadara_vpsa),
	    "status", json_text_or_null(c->zadara_status),
	    "error", json_text_or_null(c->d->zadara ? c->zadara_error :
	    "no Zadara account token")) : json_null());
	json_object_set_new(o, "updated_at", time_or_null(c->updated_ms));
}
