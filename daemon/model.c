/*
 * Cluster membership and the numbers derived from it.  A cluster's members
 * are the non-terminated instances whose Name starts with "PREFIX-" (the
 * EC2 client already dropped terminated ones).  Opencast's view is joined
 * through the host mapping of opencast_msg.c.
 */
#include "daemon/model.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utf8.h"
#include "common/xalloc.h"

static const struct {
	const char *suffix;
	enum role role;
} role_suffixes[] = {
	{ "admin", ROLE_ADMIN }, { "worker", ROLE_WORKER },
	{ "engage", ROLE_ENGAGE }, { "db", ROLE_DB },
	{ "mysql", ROLE_MYSQL }, { "nfs", ROLE_NFS },
};

enum role
model_role(const char *prefix, const char *name)
{
	size_t pl = strlen(prefix);
	const char *rest;

	if (strncmp(name, prefix, pl) != 0 || name[pl] != '-')
		return ROLE_OTHER;
	rest = name + pl + 1;
	for (size_t i = 0; i < sizeof(role_suffixes) / sizeof(*role_suffixes);
	    i++) {
		size_t sl = strlen(role_suffixes[i].suffix);
		char next;

		if (strncmp(rest, role_suffixes[i].suffix, sl) != 0)
			continue;
		/* "worker", "worker3", "worker-a"; not "workers" or "dbx". */
		next = rest[sl];
		if (next == '\0' || next == '-' || (next >= '0' && next <= '9'))
			return role_suffixes[i].role;
	}
	return ROLE_OTHER;
}

const char *
model_role_name(enum role r)
{
	switch (r) {
	case ROLE_ADMIN:	return "admin";
	case ROLE_WORKER:	return "worker";
	case ROLE_ENGAGE:	return "engage";
	case ROLE_DB:		return "db";
	case ROLE_MYSQL:	return "mysql";
	case ROLE_NFS:		return "nfs";
	case ROLE_OTHER:	return "other";
	}
	return "other";
}

bool
model_role_is_opencast(enum role r)
{
	return r == ROLE_ADMIN || r == ROLE_WORKER || r == ROLE_ENGAGE;
}

bool
model_role_is_support(enum role r)
{
	return r == ROLE_DB || r == ROLE_MYSQL || r == ROLE_NFS;
}

bool
model_instance_held(const struct ec2_instance *i)
{
	for (size_t t = 0; t < i->ntags; t++)
		if (strcasecmp(i->tags[t].key, "hold") == 0)
			return true;
	return false;
}

static int
cmp_job_host(const void *a, const void *b)
{
	const struct oc_job_host *const *x = a, *const *y = b;
	int r = strcmp((*x)->base_url, (*y)->base_url);

	/* Ties in list order (the pointers are into one array). */
	return r ? r : (*x > *y) - (*x < *y);
}

/* The job readers' first entry for host url in byurl (sorted by
 * cmp_job_host), or NULL. */
static const struct oc_job_host *
job_host_find(const struct oc_job_host **byurl, size_t n, const char *url)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(byurl[mid]->base_url, url) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && strcmp(byurl[lo]->base_url, url) == 0 ? byurl[lo] :
	    NULL;
}

void
model_build(struct model *md, const char *prefix,
    const struct ec2_instance_list *instances, const struct oc_hosts *hosts,
    const struct oc_jobs *jobs, int64_t now_ms)
{
	struct oc_map_instance *mi;
	const struct oc_job_host **byurl;
	int *host_of;

	memset(md, 0, sizeof(*md));
	md->m = xcalloc(instances->n ? instances->n : 1, sizeof(*md->m));
	md->opencast_known = hosts != NULL && jobs != NULL;
	md->queued_jobs = md->queued_high_load_jobs = md->running_jobs = -1;
	md->queued_high_load_load = -1;
	md->running_high_load_jobs = -1;
	md->running_high_load_load = -1;
	for (size_t i = 0; i < instances->n; i++) {
		const struct ec2_instance *in = &instances->v[i];
		struct model_member *m = &md->m[md->n];

		if (strncmp(in->name, prefix, strlen(prefix)) != 0 ||
		    in->name[strlen(prefix)] != '-')
			continue;
		m->inst = in;
		m->role = model_role(prefix, in->name);
		m->held = model_instance_held(in);
		m->running_jobs = -1;
		m->running_load = -1;
		m->uptime_s = -1;
		if (in->state == EC2_STATE_RUNNING) {
			md->instances_online++;
			if (in->launch_time_ms > 0 && now_ms >= in->launch_time_ms)
				m->uptime_s = (now_ms - in->launch_time_ms) / 1000;
		}
		if (m->role == ROLE_WORKER) {
			md->workers++;
			if (in->state == EC2_STATE_RUNNING)
				md->workers_online++;
		}
		if (m->role == ROLE_ADMIN) {
			md->admins++;
			md->admin = m;
		}
		md->n++;
	}
	if (md->admins != 1)
		md->admin = NULL;
	if (!md->opencast_known)
		return;

	md->queued_jobs = jobs->queued;
	md->queued_high_load_jobs = jobs->queued_high_load;
	md->queued_high_load_load = jobs->queued_high_load_load;
	md->running_high_load_jobs = jobs->running_high_load;
	md->running_high_load_load = jobs->running_high_load_load;
	md->running_jobs = jobs->running;
	mi = xcalloc(md->n ? md->n : 1, sizeof(*mi));
	host_of = xcalloc(md->n ? md->n : 1, sizeof(*host_of));
	for (size_t i = 0; i < md->n; i++) {
		const struct ec2_instance *in = md->m[i].inst;

		mi[i].private_ip = in->private_ip;
		mi[i].public_ip = in->public_ip;
		mi[i].private_dns = in->private_dns;
		mi[i].public_dns = in->public_dns;
		/* Only running Opencast nodes can be registered hosts. */
		mi[i].opencast = model_role_is_opencast(md->m[i].role) &&
		    in->state == EC2_STATE_RUNNING;
		if (!mi[i].opencast) {
			/* Stopped nodes keep their private IP and would map
			 * to their stale host row; only running ones count. */
			mi[i].private_ip = mi[i].public_ip = NULL;
			mi[i].private_dns = mi[i].public_dns = NULL;
		}
	}
	oc_map(mi, md->n, hosts, host_of, &md->map);
	md->map.host_of = NULL;	/* the array dies below */
	/* The job readers count per base URL: one sort, then a binary
	 * search per member (the first entry of a URL, as a scan would). */
	byurl = xcalloc(jobs->nhosts ? jobs->nhosts : 1, sizeof(*byurl));
	for (size_t k = 0; k < jobs->nhosts; k++)
		byurl[k] = &jobs->hosts[k];
	qsort(byurl, jobs->nhosts, sizeof(*byurl), cmp_job_host);
	for (size_t i = 0; i < md->n; i++) {
		struct model_member *m = &md->m[i];
		const struct oc_job_host *jh;

		if (host_of[i] < 0)
			continue;
		m->host = &hosts->v[host_of[i]];
		jh = job_host_find(byurl, jobs->nhosts, m->host->base_url);
		m->running_jobs = jh ? jh->running : 0;
		m->running_load = jh ? jh->load : 0;
	}
	free(byurl);
	free(mi);
	free(host_of);
}

void
model_release(struct model *md)
{
	free(md->m);
	memset(md, 0, sizeof(*md));
}

int64_t
model_uptime_until(const struct model *md)
{
	int64_t until = INT64_MAX;

	for (size_t i = 0; i < md->n; i++) {
		const struct model_member *m = &md->m[i];
		int64_t launch = m->inst->launch_time_ms, t;

		/* As model_build() counts: whole seconds since the launch,
		 * while running; none before the launch time. */
		if (m->inst->state != EC2_STATE_RUNNING || launch <= 0)
			continue;
		t = m->uptime_s >= 0 ? launch + (m->uptime_s + 1) * 1000 :
		    launch;
		if (t < until)
			until = t;
	}
	return until;
}

const char *
model_autoscale_off_reason(const struct model *md, bool config_on,
    bool paused)
{
	if (!config_on)
		return "autoscale = off in the configuration";
	if (paused)
		return "paused with 'ec2ctl CLUSTER autoscale pause'";
	if (md->admin) {
		const char *v = ec2_instance_tag(md->admin->inst, "autoscale");
		const char *legacy = ec2_instance_tag(md->admin->inst,
		    "ec2m:autoscale_off");

		if (v && strcasecmp(v, "off") == 0)
			return "tag autoscale=off on the admin instance";
		if (legacy && *legacy)
			return "tag ec2m:autoscale_off on the admin instance";
	}
	return NULL;
}

static json_t *
int_or_null(int v)
{
	return v < 0 ? json_null() : json_integer(v);
}

json_t *
model_status_json(const struct model *md, const char *cluster)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < md->n; i++) {
		const struct model_member *m = &md->m[i];
		bool running = m->inst->state == EC2_STATE_RUNNING;
		/* Support nodes and stopped instances have no Opencast
		 * state; unmapped Opencast nodes have an unknown one. */
		bool oc = running && model_role_is_opencast(m->role) && m->host;

		json_array_append_new(arr, json_pack(
		    "{s:o, s:o, s:s, s:o, s:o, s:s, s:b, s:o, s:o}",
		    "id", json_text(m->inst->id), "name",
		    json_text(m->inst->name),
		    "state", ec2_state_name(m->inst->state),
		    "maintenance", oc ? json_boolean(m->host->maintenance) :
		    json_null(),
		    "mh_host", oc ? json_text(m->host->base_url) : json_null(),
		    "role", model_role_name(m->role), "held", m->held,
		    "uptime_s", m->uptime_s >= 0 ?
		    json_integer(m->uptime_s) : json_null(),
		    "running_jobs", oc ? int_or_null(m->running_jobs) :
		    json_null()));
	}
	return json_pack("{s:o, s:i, s:i, s:i, s:o, s:o, s:o, s:o}",
	    "cluster", json_text(cluster),
	    "instances_online", md->instances_online,
	    "workers", md->workers, "workers_online", md->workers_online,
	    "queued_jobs", int_or_null(md->queued_jobs),
	    "queued_high_load_jobs", int_or_null(md->queued_high_load_jobs),
	    "running_jobs", int_or_null(md->running_jobs),
	    "instances", arr);
}
