/*
 * The rules of SPEC §5 for the operations an operator asks for: whether a
 * command may run on the cluster as it is, and on which instances.  Pure:
 * the model of the cluster (model.h) and the settings go in, a plan or a
 * refusal naming the rule and its numbers comes out.  Refusals are checked
 * in the order SPEC §5 writes them, so the first broken rule is the one
 * reported.  With --force a rule that allows forcing becomes a warning in
 * the plan.
 */
#ifndef EC2M_RULES_H
#define EC2M_RULES_H

#include <stdbool.h>

#include "common/protocol.h"
#include "common/strv.h"
#include "daemon/config.h"
#include "daemon/model.h"

struct plan {
	enum proto_err error;	/* PROTO_OK, or why it may not run */
	char	 message[512];	/* the refusal, or what the plan does */
	struct strv warnings;	/* forced past a rule, and the like */
	struct strv start_support;	/* support nodes to start */
	struct strv start_nodes;	/* admin, engage and workers to start */
	struct strv stop_nodes;		/* Opencast nodes to stop */
	struct strv stop_support;	/* support nodes to stop */
	struct strv maintenance;	/* Opencast hosts (base URLs) to switch */
	int	 workers;	/* the number the command is about */
	bool	 nothing_to_do;
};

void plan_release(struct plan *p);

/* scale up N: start N stopped workers. */
int rules_scale_up(const struct model *md, const struct cluster_config *cfg,
    int n, bool force, struct plan *p);
/* scale down N: chooses N running workers to stop (idle ones first,
 * longest uptime first), listed in p->stop_nodes; their hosts are in
 * p->maintenance. */
int rules_scale_down(const struct model *md, const struct cluster_config *cfg,
    int n, bool force, struct plan *p);
/* scale_to N: scale up or down by the difference (p->workers holds the
 * difference, positive to start); nothing_to_do when N already run. */
int rules_scale_to(const struct model *md, const struct cluster_config *cfg,
    int n, bool force, struct plan *p);
/* start [-w N]: n < 0 means min_workers. */
int rules_start(const struct model *md, const struct cluster_config *cfg,
    int n, bool force, struct plan *p);
int rules_stop(const struct model *md, const struct cluster_config *cfg,
    bool force, struct plan *p);
/* maintenance on|off: every running Opencast node's host. */
int rules_maintenance(const struct model *md, bool on, struct plan *p);

/* After the chosen workers of a scale-down were put in maintenance and
 * Opencast was read again: which of them to stop (still idle, or all with
 * force) and which to take back out of maintenance.  chosen lists instance
 * ids; stop and release receive ids. */
void rules_scale_down_recheck(const struct model *md,
    const struct strv *chosen, bool force, struct strv *stop,
    struct strv *release);

/* Workers in state running or pending. */
int rules_active_workers(const struct model *md);

#endif
