/*
 * The cluster model: from one EC2 read and one Opencast read to what the
 * daemon knows of a cluster (members with role, hold, host, jobs, uptime)
 * and the numbers of SPEC §6.  Pure: inputs, the time included, come in as
 * arguments; nothing here does I/O.  Policy and status build on it.
 */
#ifndef EC2M_MODEL_H
#define EC2M_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/ec2_msg.h"
#include "daemon/opencast_msg.h"

enum role {
	ROLE_ADMIN, ROLE_WORKER, ROLE_ENGAGE,	/* Opencast nodes */
	ROLE_DB, ROLE_MYSQL, ROLE_NFS,		/* support nodes */
	ROLE_OTHER,				/* listed, never touched */
};

/* The role of an instance called name in cluster prefix: by the suffix
 * after "PREFIX-" ("-admin", "-worker", ...; "dev04-worker" and
 * "dev04-worker3" are both workers, as are "dev04-worker-a"). */
enum role model_role(const char *prefix, const char *name);
const char *model_role_name(enum role r);
bool model_role_is_opencast(enum role r);
bool model_role_is_support(enum role r);

/* An instance with a tag whose key is "hold" in any case is held. */
bool model_instance_held(const struct ec2_instance *i);

struct model_member {
	const struct ec2_instance *inst;	/* borrowed */
	enum role role;
	bool	 held;
	const struct oc_host *host;	/* mapped Opencast host, or NULL */
	int	 running_jobs;		/* -1: unknown */
	double	 running_load;		/* their summed jobLoad; -1: unknown */
	int64_t	 uptime_s;		/* -1: not running */
};

/* What one read of EC2 and Opencast says about a cluster.  Borrowed
 * pointers into the lists given to model_build, which must outlive it. */
struct model {
	struct model_member *m;		/* owned array */
	size_t	 n;
	size_t	 admins;
	const struct model_member *admin;	/* the one admin, or NULL */
	bool	 opencast_known;	/* hosts and jobs were read */
	int	 instances_online;	/* running instances */
	int	 workers;
	int	 workers_online;	/* running workers */
	int	 queued_jobs;		/* -1 when Opencast is unknown */
	int	 queued_high_load_jobs;
	double	 queued_high_load_load;	/* their summed jobLoad; -1: unknown */
	int	 running_high_load_jobs;	/* RUNNING of a high-load type */
	double	 running_high_load_load;	/* their summed jobLoad */
	int	 running_jobs;
	struct oc_map_result map;
};

/* Builds the model.  hosts and jobs may be NULL (Opencast unknown). */
void model_build(struct model *md, const char *prefix,
    const struct ec2_instance_list *instances, const struct oc_hosts *hosts,
    const struct oc_jobs *jobs, int64_t now_ms);
void model_release(struct model *md);
/* The first wall-clock time (ms) at which a member's uptime_s would read
 * differently from md's, INT64_MAX when none will: status keeps its
 * answer until then. */
int64_t model_uptime_until(const struct model *md);

/* Autoscale switches of SPEC §5: returns NULL when autoscaling may run,
 * else the reason it may not. */
const char *model_autoscale_off_reason(const struct model *md,
    bool config_on, bool paused);

/* The cluster summary of SPEC §6 without the runtime parts (autoscale,
 * ec2, opencast, operation, updated_at), which the caller adds. */
json_t *model_status_json(const struct model *md, const char *cluster);

#endif
