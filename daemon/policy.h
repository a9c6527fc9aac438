/*
 * The autoscaler's decision (SPEC §5 "Autoscale evaluation"), a pure
 * function: the cluster's state, the settings and the time of the
 * autoscaler's last action go in; a decision comes out (scale up k, scale
 * down these workers, or no change) with a reason an operator can read and
 * a verdict for every worker, so that each evaluation can be recorded with
 * its inputs.  No I/O, no clock: `now` is an input.
 */
#ifndef EC2M_POLICY_H
#define EC2M_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/config.h"

struct policy_settings {
	int	 min_workers;
	int	 max_workers;
	int	 min_idle_workers;
	int	 max_queued_jobs;
	int	 scale_up_step;
	int	 scale_down_step;
	enum billing billing;
	int64_t	 idle_uptime_threshold_ms;	/* hourly billing */
	int64_t	 min_uptime_ms;			/* per-second billing */
	int64_t	 cooldown_ms;
	int64_t	 max_data_age_ms;	/* older EC2/Opencast data is stale */
	/* policy = demand (policy_demand_decide): */
	enum scaling_policy policy;
	int	 scale_up_max_step;	/* the most workers one step starts */
	double	 default_max_load;	/* a worker's max_load while unknown */
};

/* Fills settings from a cluster's configuration; max_data_age_ms is set to
 * twice the refresh interval. */
void policy_settings_from_config(struct policy_settings *s,
    const struct cluster_config *c);

/* One worker instance (role worker) of the cluster. */
struct policy_worker {
	const char *id;
	bool	 running;	/* EC2 state running */
	bool	 stopped;	/* EC2 state stopped (startable) */
	bool	 held;		/* a "hold" tag */
	int	 running_jobs;	/* -1: unknown (not mapped to a host) */
	int64_t	 uptime_s;	/* -1: not running */
};

/* What policy = demand also knows of a worker (policy_input.demand). */
struct policy_worker_demand {
	bool	 starting;	/* EC2 pending, or running but not yet taking
				   jobs in Opencast: capacity on its way */
	bool	 draining;	/* in maintenance, chosen by a scale-down */
	double	 load;		/* sum of jobLoad of its running jobs */
	double	 max_load;	/* Opencast's max_load; 0: unknown */
};

struct policy_input {
	int64_t	 now_ms;
	const char *disabled_reason;	/* an autoscale switch is off: NULL if on */
	/* The last read of the cluster's instances failed: EC2's error (the
	 * data may be old, so the admin's state is not known); NULL: it did
	 * not fail. */
	const char *ec2_error;
	bool	 admin_running;
	const char *admin_detail;	/* why not, e.g. "no instance named
					   dev04-admin"; NULL: none given */
	bool	 opencast_reachable;
	const char *opencast_error;	/* why not; NULL: none given */
	/* ec2ctl --force: min_workers, max_workers and the billing
	 * threshold do not apply; holds, busy workers, the switches and the
	 * cooldown still do. */
	bool	 force;
	int64_t	 ec2_at_ms;		/* when EC2 data was read (0: never) */
	int64_t	 oc_at_ms;		/* when Opencast data was read */
	int	 queued_high_load_jobs;
	const struct policy_worker *workers;
	size_t	 nworkers;
	int64_t	 last_action_ms;	/* the autoscaler's last action; 0: none */
	/* policy = demand: the jobLoad of the queued jobs that workers would
	 * take (-1: unknown); the running jobs' load is the workers' load. */
	double	 queued_load;
	const struct policy_worker_demand *demand;	/* one per worker, or
							   NULL: all zero */
};

enum policy_action {
	POLICY_NONE,		/* no change (see reason) */
	POLICY_SCALE_UP,	/* start `count` stopped workers */
	POLICY_SCALE_DOWN,	/* stop the workers in `chosen` */
};

/* What the policy thought of each worker. */
enum policy_verdict {
	VERDICT_CHOSEN,		/* to be stopped */
	VERDICT_BUSY,		/* has running jobs */
	VERDICT_UNKNOWN_JOBS,	/* no Opencast host: idleness unknown */
	VERDICT_HELD,		/* never chosen */
	VERDICT_BILLING,	/* not yet past the billing threshold */
	VERDICT_NOT_NEEDED,	/* eligible, but enough were chosen */
	VERDICT_NOT_RUNNING,	/* stopped, pending, stopping, ... */
	VERDICT_NOT_CONSIDERED,	/* no scale-down was considered */
	/* policy = demand: */
	VERDICT_STARTING,	/* capacity on its way */
	VERDICT_DRAINING,	/* being drained, not needed back */
	VERDICT_TAKEN_BACK,	/* being drained: take out of maintenance */
	VERDICT_NEEDED,		/* idle, but needed for the target */
};

const char *policy_action_name(enum policy_action a);
const char *policy_verdict_name(enum policy_verdict v);

struct policy_decision {
	bool	 ran;		/* false: the evaluation could not run
				   (switched off, admin down, no fresh data) */
	enum policy_action action;
	int	 count;		/* workers to start (SCALE_UP) or stop */
	size_t	*chosen;	/* SCALE_DOWN: indices into input workers,
				   longest uptime first; owned */
	enum policy_verdict *verdicts;	/* one per input worker; owned */
	bool	 warning;	/* a limit stopped it (max/min reached) */
	char	 reason[512];	/* e.g. "3 queued high-load jobs > 0 ..." */
	/* Derived numbers, kept for the record: */
	int	 running;	/* running workers, held ones included */
	int	 idle;		/* running, not held, zero running jobs */
	int	 stopped;	/* startable workers, not held */
	/* policy = demand (zero for seed): */
	double	 demand_load;	/* running + queued jobLoad */
	double	 running_load;
	double	 max_load;	/* per worker, for the packing */
	int	 needed;	/* workers whose max_load covers the demand */
	int	 target;	/* needed + min_idle_workers, within limits */
	int	 capacity;	/* running, not draining, + starting */
	int	 starting;
	int	 draining;
	int	 take_back;	/* draining workers to take out of maintenance */
	size_t	*taken_back;	/* their indices; owned */
};

/* Decides.  Always fills out (release with policy_decision_release). */
void policy_decide(const struct policy_settings *s,
    const struct policy_input *in, struct policy_decision *out);
void policy_decision_release(struct policy_decision *d);

/* The decision with its inputs, for the event history and the journal:
 * {"ran", "action", "count", "reason", "warning", "inputs": {...},
 *  "workers": [{"id", "verdict", "running_jobs", "uptime_s", "held"}]}. */
json_t *policy_decision_json(const struct policy_settings *s,
    const struct policy_input *in, const struct policy_decision *d);

/* policy = demand (SPEC §5 with issue 17; daemon/policy_demand.c): the
 * target is the number of workers whose max_load covers the running and
 * queued jobs' load (Opencast's packing), plus min_idle_workers, within
 * min_workers/max_workers; starting workers count.  SCALE_UP starts
 * `count` workers (at most scale_up_max_step) and takes back `take_back`
 * draining ones first (count may be 0 then); the cooldown only holds back
 * scale-downs.  SCALE_DOWN stops idle workers past the billing threshold,
 * never going below the target.  Release with policy_decision_release. */
void policy_demand_decide(const struct policy_settings *s,
    const struct policy_input *in, struct policy_decision *out);

/* policy_decision_json plus a "demand" object with the figures. */
json_t *policy_demand_json(const struct policy_settings *s,
    const struct policy_input *in, const struct policy_decision *d);

#endif
