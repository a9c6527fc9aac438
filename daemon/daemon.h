/*
 * The daemon's runtime state: one loop, one HTTP client, one EC2 client and
 * the managed clusters, each with the data of its last refresh and its
 * event history.  main.c owns the struct daemon; cluster.c owns clusters.
 */
#ifndef EC2M_DAEMON_H
#define EC2M_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "common/xrand.h"
#include "daemon/config.h"
#include "daemon/events.h"

struct http_client;
struct aws_creds_provider;
struct ec2_client;
struct ec2_call;
struct ec2_instance_list;
struct oc_client;
struct oc_call;
struct oc_hosts;
struct oc_jobs;
struct control;
struct operation;
struct zadara_client;
struct zadara_call;

struct daemon {
	uv_loop_t	*loop;
	char		*config_path;
	struct config	*config;
	struct http_client *http;
	struct aws_creds_provider *creds;
	struct ec2_client *ec2;
	char		*oc_user;
	char		*oc_password;
	struct zadara_client *zadara;	/* NULL without a token */
	struct cluster	*clusters;	/* in config order */
	struct control	*control;
	struct xrand	 rng;		/* jitter of timers */
	int64_t		 started_ms;
	bool		 stopping;
};

/* Called when a refresh that was asked for has ended; ok tells whether EC2
 * and Opencast (when it could be asked) both answered. */
typedef void cluster_refresh_fn(void *arg, struct cluster *c, bool ok,
    const char *error);

struct cluster_waiter;
struct looptimer;

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
	int64_t		 oc_at_ms;
	bool		 oc_ok;
	char		*oc_error;
	int64_t		 updated_ms;	/* end of the last refresh */

	/* The Opencast client for the current admin URL. */
	struct oc_client *oc;
	char		*oc_url;
	bool		 oc_verified;	/* me.json accepted our credentials */
	char		*map_note;	/* the last mapping report logged */

	/* A refresh in flight: the REFRESH_* parts it reads. */
	unsigned	 refreshing;
	struct ec2_call	*ec2_call;
	struct oc_call	*oc_me_call;
	struct oc_call	*oc_hosts_call;
	struct oc_call	*oc_jobs_call;
	struct oc_hosts	*new_hosts;
	struct oc_jobs	*new_jobs;
	char		*new_oc_error;
	int		 oc_pending;
	struct cluster_waiter *waiters;
	unsigned	 next_parts;	/* asked for while one ran */
	struct cluster_waiter *next_waiters;
	bool		 failing;	/* the last full refresh failed */
	struct operation *op;		/* the operation in progress, or NULL */
	/* The Zadara array (zadara_vpsa), as last read. */
	struct zadara_call *zadara_call;
	char		*zadara_status;	/* e.g. "created"; NULL: not read */
	char		*zadara_error;

	struct looptimer *refresh_timer;
	struct event_ring events;

	/* The autoscaler (autoscaler.c). */
	struct looptimer *autoscale_timer;
	bool		 autoscale_paused;	/* persisted */
	int64_t		 last_action_ms;	/* persisted */
	json_t		*last_decision;		/* {ts, ran, action, ...} */
	struct autoscale_eval *evaluating;	/* in flight, or NULL */
};

/* cluster.c */
struct cluster *cluster_new(struct daemon *d, const struct cluster_config *cfg);
/* Ends every call of the cluster (waiters are told it failed) and frees
 * it; timers are released by libuv close callbacks. */
void cluster_free(struct cluster *c);
struct cluster *cluster_find(struct daemon *d, const char *name);
/* Points the cluster at new settings (after a reload) and, if asked,
 * refreshes at once. */
void cluster_reconfigure(struct cluster *c, const struct cluster_config *cfg);
#define REFRESH_EC2		0x1	/* one paginated DescribeInstances */
#define REFRESH_OPENCAST	0x2	/* hosts and job state */
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
/* SPEC §6 status, from what the daemon knows. */
json_t *cluster_status_json(struct cluster *c, int64_t now_ms);
/* One line of `clusters`. */
json_t *cluster_summary_json(struct cluster *c, int64_t now_ms);


/* main.c: brings systemd's STATUS= line up to date (clusters, workers
 * online, ...) if it changed; call it when what it shows changes, e.g. as
 * an operation starts or ends.  Cheap, and a no-op outside systemd. */
void daemon_notify_status(struct daemon *d);

#endif
