/*
 * What start-up needs besides well-formed files (SPEC §7): at least one
 * cluster; the AWS profile, credential source, region and endpoint; the
 * Opencast user and password; the Zadara token wherever a cluster has a
 * VPSA; and socket_group.  One function checks all of it and is used by
 * start-up, by SIGHUP and by --check-config, so that whatever
 * --check-config accepts, the daemon starts with.  It makes no network
 * call: it reads the environment, the credential and AWS files and the
 * group database, and never reports a secret, only where it comes from.
 */
#ifndef EC2M_PREFLIGHT_H
#define EC2M_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>

struct config;

typedef const char *preflight_env_fn(const char *name);

struct preflight {
	char	*report;	/* one line per setting, each ending in \n */
	char	*errors;	/* one line per problem, each ending in \n */
	size_t	 nerrors;
	/* The socket group in force: socket_group, or "" when it is empty
	 * or when the default group (ec2-manager) does not exist. */
	char	*group;
	bool	 group_missing;	/* the default group does not exist */
};

/* Checks cfg on this machine with env (getenv in production).  Returns
 * the number of problems (0: the daemon can start); out is filled either
 * way and freed with preflight_clear(). */
size_t preflight_run(const struct config *cfg, preflight_env_fn *env,
    struct preflight *out);
void preflight_clear(struct preflight *p);

#endif
