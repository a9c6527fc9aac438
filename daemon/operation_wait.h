/*
 * What operations wait for and choose, as pure functions of the cluster's
 * model (model.h) and the instance ids a step is about: "are these running
 * yet?", "is every worker idle?", "which of these nodes still need their
 * maintenance flag switched?".  No I/O and no clock: the operation engine
 * (operation.c) reads the cluster once per poll and asks these; a false
 * answer comes with the reason, which the engine shows as progress and,
 * when it gives up, in its error.
 */
#ifndef EC2M_OPERATION_WAIT_H
#define EC2M_OPERATION_WAIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strv.h"
#include "daemon/model.h"

/*
 * A wait predicate: true when the cluster as md describes it is where the
 * step wants it.  ids are the instances of the step (some predicates look
 * at the whole cluster and ignore them).  When false, why (len > 0) holds
 * the first reason found, as a sentence fragment ("i-0a1 is pending; 1 of
 * 2 running"); why must be empty on entry.
 */
typedef bool op_wait_fn(const struct model *md, const struct strv *ids,
    char *why, size_t len);

/* Every instance of ids is running (stopped for op_wait_stopped). */
bool op_wait_running(const struct model *md, const struct strv *ids,
    char *why, size_t len);
bool op_wait_stopped(const struct model *md, const struct strv *ids,
    char *why, size_t len);
/* Every instance of ids has an Opencast host that is online and out of
 * maintenance.  A host row that went away in maintenance keeps looking
 * online, so "online" alone does not prove that a restarted node has
 * registered again; online and out of maintenance does, once the flag was
 * switched off. */
bool op_wait_ready(const struct model *md, const struct strv *ids,
    char *why, size_t len);
/* Opencast answers and knows every running Opencast node (ids unused). */
bool op_wait_opencast_ready(const struct model *md, const struct strv *ids,
    char *why, size_t len);
/* The hosts of ids that Opencast knows are in (out of) maintenance;
 * instances without a host are not waited for. */
bool op_wait_maint_on(const struct model *md, const struct strv *ids,
    char *why, size_t len);
bool op_wait_maint_off(const struct model *md, const struct strv *ids,
    char *why, size_t len);
/* No running worker known to Opencast runs a job (ids unused); false
 * while Opencast cannot be read. */
bool op_wait_workers_idle(const struct model *md, const struct strv *ids,
    char *why, size_t len);

/* The member whose instance id is id, or NULL. */
const struct model_member *op_member(const struct model *md, const char *id);

/* The running instances of ids whose Opencast host's maintenance flag is
 * not `want` yet: their hosts' base URLs go to hosts, their ids to
 * host_ids (parallel lists, appended to). */
void op_pairs_needing(const struct model *md, const struct strv *ids,
    bool want, struct strv *hosts, struct strv *host_ids);
/* Appends the ids of the running Opencast nodes (admin, engage, workers). */
void op_running_opencast(const struct model *md, struct strv *ids);

/* Capped exponential backoff with jitter before retry number `attempt`
 * (1 for the first retry): d = min(base_ms * 2^(attempt-1), cap_ms), then
 * a delay in [d/2, d) chosen by rand01 in [0, 1).  Never 0 when base_ms
 * is not. */
uint64_t op_backoff_ms(int attempt, uint64_t base_ms, uint64_t cap_ms,
    double rand01);

#endif
