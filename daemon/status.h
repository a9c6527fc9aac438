/*
 * What `status` and `clusters` show (SPEC §6): the top of the daemon's
 * modules, putting together the model (model.c), the refresh's outcome
 * (cluster.c), the operation in progress (operation.c) and the autoscaler
 * (autoscaler.c).  Nothing below it knows status.
 */
#ifndef EC2M_STATUS_H
#define EC2M_STATUS_H

#include <stdint.h>

#include <jansson.h>

struct cluster;

/* SPEC §6 status, from what the daemon knows now. */
json_t *status_cluster_json(struct cluster *c, int64_t now_ms);
/* One line of `clusters`. */
json_t *status_summary_json(struct cluster *c, int64_t now_ms);

#endif
