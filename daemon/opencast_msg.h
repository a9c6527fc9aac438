/*
 * Opencast REST answers read into plain C structs: the me.json credentials
 * probe, hosts.json, activeJobs.json and statistics.json, plus the mapping
 * of EC2 instances to Opencast hosts.  Pure (no I/O, no clock).  Parsing
 * accepts every shape real Opencast versions produce: a list, a bare object
 * where a one-element list was meant, "" for an empty list, numbers and
 * booleans sent as strings; anything else is an error that says where.
 */
#ifndef EC2M_OPENCAST_MSG_H
#define EC2M_OPENCAST_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/pool.h"

enum oc_err_kind {
	OC_ERR_NONE = 0,
	OC_ERR_AUTH,		/* 401, anonymous, wrong user, no ROLE_ADMIN */
	OC_ERR_UNREACHABLE,	/* no answer: refused, reset, timeout */
	OC_ERR_HTTP,		/* an unexpected HTTP status */
	OC_ERR_PARSE,		/* an answer we cannot read */
	OC_ERR_NOT_FOUND,	/* 404 (maintenance on an unknown host) */
	OC_ERR_CANCELLED,	/* the daemon tore down with the call in flight */
};

struct oc_error {
	enum oc_err_kind kind;
	long	 http_status;
	int	 attempts;
	char	 message[512];
};

void oc_error_set(struct oc_error *e, enum oc_err_kind kind,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *oc_err_kind_name(enum oc_err_kind kind);

/* The service types whose queued jobs count as high load. */
struct oc_service_set {
	const char *const *types;
	size_t	 n;
};

bool oc_service_set_has(const struct oc_service_set *s, const char *type);

struct oc_host {
	const char *base_url;
	/* The host part of base_url as oc_url_host() gives it, read once by
	 * oc_parse_hosts(); "" when base_url is not a URL, NULL when not
	 * read (a list built by hand: oc_map() reads it then). */
	const char *url_host;
	const char *address;	/* NULL when the server does not send it */
	const char *node_name;
	double	 max_load;	/* max_load, or max_jobs on Matterhorn 1.x */
	bool	 online;
	bool	 active;
	bool	 maintenance;
	/* Filled by the job readers: */
	int	 running_jobs;	/* RUNNING or DISPATCHING here */
	double	 running_load;	/* sum of their jobLoad */
};

struct oc_hosts {
	struct oc_host *v;
	size_t	 n;
	size_t	 cap;
	struct pool pool;
};

struct oc_hosts *oc_hosts_new(void);
void oc_hosts_free(struct oc_hosts *h);
/* The host whose base_url is exactly url, or NULL. */
struct oc_host *oc_hosts_find(struct oc_hosts *h, const char *url);

/* A job as the daemon keeps it: no payload, no arguments. */
struct oc_job {
	long	 id;
	const char *type;
	const char *status;
	const char *processing_host;	/* NULL until dispatched */
	double	 load;
	bool	 high_load;
};

/* The job state one evaluation needs, read in one request. */
struct oc_jobs {
	/* Per host (base_url), jobs running there: */
	struct oc_job_host {
		const char *base_url;
		int	 running;	/* RUNNING or DISPATCHING */
		double	 load;
	} *hosts;
	size_t	 nhosts;
	size_t	 hosts_cap;
	int	 queued;		/* QUEUED or RESTART, every type */
	int	 queued_high_load;	/* ... of a high-load type */
	double	 queued_high_load_load;	/* their summed jobLoad */
	int	 running;		/* RUNNING, every host */
	int	 running_high_load;	/* ... of a high-load type */
	double	 running_high_load_load;	/* their summed jobLoad */
	/* activeJobs.json only: every active job, compact. */
	struct oc_job *jobs;
	size_t	 njobs;
	size_t	 jobs_cap;
	bool	 per_job;		/* jobs[] is filled */
	struct pool pool;
};

struct oc_jobs *oc_jobs_new(void);
void oc_jobs_free(struct oc_jobs *j);
/* Running jobs on host url (0 when none). */
int oc_jobs_running_on(const struct oc_jobs *j, const char *url);
/* The summed jobLoad of the jobs running on host url (0 when none). */
double oc_jobs_load_on(const struct oc_jobs *j, const char *url);

/* Checks a /info/me.json answer: it must name `user` and hold ROLE_ADMIN;
 * `anonymous` (no credentials were accepted) is an authentication failure.
 * Returns 0, or -1 with err. */
int oc_parse_me(const char *json, size_t len, const char *user,
    struct oc_error *err);
int oc_parse_hosts(const char *json, size_t len, struct oc_hosts *out,
    struct oc_error *err);
/* /services/activeJobs.json (Opencast 2.2+). */
int oc_parse_active_jobs(const char *json, size_t len,
    const struct oc_service_set *high_load, struct oc_jobs *out,
    struct oc_error *err);
/* /services/statistics.json (Matterhorn 1.x, or jobstats.collect=true):
 * running per host from the counters, queued per type. */
int oc_parse_statistics(const char *json, size_t len,
    const struct oc_service_set *high_load, struct oc_jobs *out,
    struct oc_error *err);

/* The host part of a URL ("10.0.1.5" of "http://10.0.1.5:8080/"), lower
 * case, into buf.  Returns 0, or -1 if url is not a URL. */
int oc_url_host(const char *url, char *buf, size_t len);

/* What the mapping knows of one EC2 instance. */
struct oc_map_instance {
	const char *private_ip;
	const char *public_ip;
	const char *private_dns;
	const char *public_dns;
	bool	 opencast;	/* an admin, worker or engage node */
};

struct oc_map_result {
	int	*host_of;	/* per instance: index into hosts, or -1 */
	bool	 paired;	/* the one-left pairing was used */
	int	 paired_instance;
	int	 paired_host;
	size_t	 unmapped_instances;	/* Opencast instances */
	size_t	 unmapped_hosts;
};

/* Maps instances to hosts: an instance maps to the host whose base URL has
 * as its host part the instance's private IP, public DNS name, private DNS
 * name or public IP (any scheme, any port), or whose address is the private
 * IP, comparing without case; of several such hosts, to the first in
 * hosts' order that no earlier instance took.  When exactly one host and
 * exactly one Opencast instance remain unmapped, they are paired.  host_of
 * must hold n ints.  O((n + hosts) log hosts). */
void oc_map(const struct oc_map_instance *inst, size_t n,
    const struct oc_hosts *hosts, int *host_of, struct oc_map_result *res);

#endif
