/*
 * A managed cluster: its settings, what its last refresh read from EC2,
 * Opencast and Zadara, its refresh timer and its event history.  cluster.c
 * owns all of it and is the bottom of the daemon's modules: it knows the
 * upstream clients but neither operations nor the autoscaler, which hang
 * their own state off the two opaque pointers below and own it.
 */
#ifndef EC2M_CLUSTER_H
#define EC2M_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/config.h"
#include "daemon/events.h"

struct autoscaler;
struct cluster;
struct daemon;
struct ec2_call;
struct ec2_instance_list;
struct model;
struct oc_call;
struct oc_client;
struct oc_hosts;
struct oc_jobs;
struct operation;
struct status_cache;
struct zadara_call;

/* Called when a refresh that was asked for has ended; ok tells whether
 * the parts this waiter asked for were read (error says what failed), not
 * whatever else the refresh it joined read. */
typedef void cluster_refresh_fn(void *arg, struct cluster *c, bool ok,
    const char *error);

struct cluster_refresh;

struct cluster {
	struct daemon	*d;
	char		*name;		/* also the EC2 Name prefix */
	const struct cluster_config *cfg;	/* into d->config */
	struct cluster	*next;

	/* What the last refresh read. */
	struct ec2_instance_list *instances;	/* NULL until EC2 answered */
	int64_t		 ec2_at_ms;
	bool		 ec2_ok;
	char		*ec2_error;
	struct oc_hosts	*hosts;		/* NULL while Opencast is unknown */
	struct oc_jobs	*jobs;
	/* When hosts and jobs were last read (an operation's step may read
	 * one of them alone); oc_at_ms is the older of the two, so that a
	 * read of one part never makes the other look fresh. */
	int64_t		 oc_hosts_at_ms;
	int64_t		 oc_jobs_at_ms;
	int64_t		 oc_at_ms;
	bool		 oc_ok;
	char		*oc_error;
	int64_t		 updated_ms;	/* end of the last refresh */

	/* The Opencast client for the current admin URL (operations use it
	 * too; a call pins its client, so a reload's new client does not end
	 * the calls in flight on the old one). */
	struct oc_client *oc;
	/* Last read of the Zadara array (zadara_vpsa). */
	char		*zadara_status;	/* e.g. "created"; NULL: not read */
	char		*zadara_error;
	bool		 failing;	/* the last full refresh failed */

	/* cluster.c's own: the refresh in flight and its waiters. */
	struct cluster_refresh *rf;
	struct event_ring events;

	/* Called by cluster.c after every refresh that read EC2 (set by its
	 * owner, core.c; may be NULL): Opencast may well be down then, as
	 * after a crash in the middle of `stop`. */
	void		(*refreshed)(struct cluster *c);
	bool		 recovery_checked;	/* core.c's */

	/* Owned by operation.c: the operation in progress, or NULL. */
	struct operation *op;
	/* Owned by autoscaler.c (autoscaler_attach/detach). */
	struct autoscaler *autoscaler;

	/* Bumped by cluster_changed() whenever anything status shows
	 * changes; status.c keeps its encoded answer while it stays. */
	uint64_t	 state_gen;
	/* Owned by status.c (status_release). */
	struct status_cache *status;
};

struct cluster *cluster_new(struct daemon *d, const struct cluster_config *cfg);
/* Says that something status shows has changed: the refresh's results,
 * the operation (its start, steps and end), the autoscaler's decision or
 * switches, the settings.  Every site that changes such state calls it
 * right there; status.c rebuilds its answer at the next request. */
void cluster_changed(struct cluster *c);
/* Ends every call of the cluster (waiters are answered: it failed) and
 * frees it; timers are released by libuv close callbacks.  Whoever hung
 * state off it (operation, autoscaler) must have released it first. */
void cluster_free(struct cluster *c);
struct cluster *cluster_find(struct daemon *d, const char *name);
/* Points the cluster at new settings (after a reload) and, if asked,
 * refreshes at once. */
void cluster_reconfigure(struct cluster *c, const struct cluster_config *cfg);
#define REFRESH_EC2		0x1	/* one paginated DescribeInstances */
#define REFRESH_OC_HOSTS	0x2	/* GET /services/hosts.json */
#define REFRESH_OC_JOBS		0x4	/* job state: activeJobs.json (or
					   statistics.json) */
/* A part of Opencast alone only updates a complete view: while the
 * cluster has none (Opencast unknown, or a new admin URL), asking for one
 * part reads both. */
#define REFRESH_OPENCAST	(REFRESH_OC_HOSTS | REFRESH_OC_JOBS)
#define REFRESH_ALL		(REFRESH_EC2 | REFRESH_OPENCAST)

/* Reads the given parts now, or joins the refresh in flight when it reads
 * them (else queues behind it); cb (may be NULL) is called when it ends. */
void cluster_refresh_parts(struct cluster *c, unsigned parts,
    cluster_refresh_fn *cb, void *arg);
/* A full refresh: cluster_refresh_parts(c, REFRESH_ALL, cb, arg). */
void cluster_refresh(struct cluster *c, cluster_refresh_fn *cb, void *arg);
/* Withdraws every waiter whose arg is arg (its callback will not run). */
void cluster_refresh_cancel(struct cluster *c, void *arg);
/* The model of what the daemon knows now (release with model_release). */
struct model;
void cluster_model(struct cluster *c, struct model *md, int64_t now_ms);
/* The refresh's part of status: {"ok","error"} of EC2, {"reachable",
 * "error"} of Opencast, the Zadara array (or null), "updated_at". */
void cluster_status_parts(struct cluster *c, json_t *status);

#endif
