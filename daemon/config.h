/*
 * The configuration (SPEC §7): /etc/ec2-manager/ec2-manager.conf plus the
 * drop-ins conf.d/NAME.conf beside it, in lexical order, read with libinih into
 * a fully validated struct config with every default applied.  Loading has
 * no side effects and touches nothing but the files; every error names the
 * file, the line and the reason.  Secrets never live here (daemon/secrets.h).
 */
#ifndef EC2M_CONFIG_H
#define EC2M_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/paths.h"

/* <sysconfdir>/ec2-manager/ec2-manager.conf, from meson (daemon/meson.build). */
#define CONFIG_DEFAULT_PATH EC2M_CONFIG_DEFAULT_PATH

enum job_source { JOB_SOURCE_ACTIVE_JOBS, JOB_SOURCE_STATISTICS };
enum billing { BILLING_HOURLY, BILLING_PER_SECOND };
enum scaling_policy { SCALING_SEED, SCALING_DEMAND };

/* Per-cluster settings: [defaults] and each [cluster NAME]. */
struct cluster_config {
	char	*name;			/* NAME of [cluster NAME] = the Name prefix */
	int	 min_workers;		/* 2 */
	int	 max_workers;		/* 10 */
	int	 min_idle_workers;	/* 0 */
	int	 max_queued_jobs;	/* 0 */
	char	**high_load_services;	/* composer inspection videoeditor videosegmenter */
	size_t	 n_high_load_services;
	enum job_source job_source;	/* active_jobs */
	enum billing billing;		/* hourly */
	int64_t	 idle_uptime_threshold_ms;	/* 50m; 0 allowed, < 60m */
	int64_t	 min_uptime_ms;		/* 10m; 0 allowed */
	int	 wait_retries;		/* 10; >= 1 */
	int64_t	 wait_interval_ms;	/* 10s; > 0 */
	int64_t	 refresh_interval_ms;	/* 60s; > 0 */
	bool	 autoscale;		/* off: opt-in */
	int64_t	 autoscale_interval_ms;	/* 2m; > 0 */
	int	 scale_up_step;		/* 1; >= 1 */
	int	 scale_down_step;	/* 1; >= 1 */
	int64_t	 cooldown_ms;		/* 5m; 0 allowed */
	enum scaling_policy policy;	/* seed */
	int	 scale_up_max_step;	/* 10; >= 1 (policy demand) */
	char	*admin_url;		/* "http://{private_ip}" */
	char	*zadara_vpsa;		/* "" = none */
};

struct config {
	char	*path;			/* the main file */
	/* [daemon] */
	char	*socket;		/* "/run/ec2-manager/ctl.sock" */
	char	*socket_group;		/* "ec2-manager"; "" = none; see
					   config_where() for whether it was
					   set or is the default */
	char	*state_dir;		/* "/var/lib/ec2-manager" */
	int	 log_level;		/* syslog level; "info" */
	char	*loggly_url;		/* "https://logs-01.loggly.com" */
	char	*loggly_ca_file;	/* "" = the system's CAs */
	char	*metrics_listen;	/* "" = no metrics listener */
	/* [aws] */
	char	*region;		/* "" = from the environment/profile */
	char	*endpoint;		/* "" = from the environment/region */
	char	*profile;		/* "" = from the environment/"default" */
	/* [opencast] */
	int64_t	 opencast_timeout_ms;	/* 10s; > 0 */
	/* [zadara] */
	char	*zadara_url;		/* "https://manage.zadarastorage.com" */
	/* [defaults] after every file was read, and the clusters, in the
	 * order their sections first appear. */
	struct cluster_config defaults;
	struct cluster_config *clusters;
	size_t	 nclusters;
	/* "FILE:LINE" where each key outside [defaults] and [cluster NAME]
	 * was last set, NULL where it keeps its default (config_where()). */
	char	**key_at;
};

/* Loads path and the drop-ins DIR/conf.d/NAME.conf, DIR being path's
 * directory (lexical order).  Later files and later lines override earlier
 * ones, key by key; each [cluster NAME] starts from the final [defaults].
 * Returns 0 and a new config (free with config_free), or -1 with every
 * error in err, one "FILE:LINE: reason" per line without a newline at the
 * end (just "FILE: reason" when no line applies, e.g. cannot open).
 * What the settings need from the machine (the region, the secrets, the
 * group) is checked by preflight_run() (preflight.h), not here. */
int config_load(const char *path, struct config **out, char *err,
    size_t errlen);
/* The same, but on errors *out is the configuration as far as the files
 * could be read (the lines in error left out), for checks that report
 * every problem at once; NULL only when the main file cannot be opened.
 * The caller frees it either way; it must never be put in force when
 * -1 is returned. */
int config_load_partial(const char *path, struct config **out, char *err,
    size_t errlen);
void config_free(struct config *c);

/* "FILE:LINE" where the key called name of [daemon], [aws], [opencast]
 * or [zadara] was set, or NULL when it has its built-in default. */
const char *config_where(const struct config *c, const char *name);

/* The cluster called name, or NULL. */
const struct cluster_config *config_cluster(const struct config *c,
    const char *name);

/* Parses a duration: a non-negative integer with an optional unit, "ms",
 * "s", "m", "min", "h" or "d" (no unit = seconds), e.g. "90s", "5m", "1h",
 * "0".  Returns 0, or -1 if s is not one. */
int config_parse_duration(const char *s, int64_t *ms);

/* Expands admin_url for an instance: {private_ip}, {public_ip},
 * {private_dns}, {public_dns} (NULL values make it fail).  Returns a new
 * string, or NULL with err. */
char *config_admin_url(const char *tmpl, const char *private_ip,
    const char *public_ip, const char *private_dns, const char *public_dns,
    char *err, size_t errlen);

#endif
