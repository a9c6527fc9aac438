/*
 * The daemon's runtime state: one loop, the upstream clients shared by the
 * clusters, and the managed clusters (cluster.h).  core.c builds and frees
 * it; main.c adds the process around it.  A plain data header: it includes
 * no module's header, so every module may include it.
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
struct metricsrv;
struct operation;
struct zadara_client;
struct zadara_call;
struct loggly;

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
	struct loggly	*loggly;	/* NULL without a Loggly token */
	struct cluster	*clusters;	/* in config order */
	/* What every cluster's event history may hold together
	 * (events.h); each ring takes its share. */
	struct event_budget events_budget;
	struct control	*control;
	struct metricsrv *metrics;	/* NULL without metrics_listen */
	struct xrand	 rng;		/* jitter of timers */
	int64_t		 started_ms;
	bool		 stopping;
	/* The last reload (SIGHUP, systemctl reload): when (0: none since
	 * start-up), whether it was applied, and why not (NULL when it was).
	 * daemon_core_note_reload() sets them; `clusters` shows them. */
	int64_t		 reload_ms;
	bool		 reload_ok;
	char		*reload_error;
};

#endif
