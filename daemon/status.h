/*
 * What `status` and `clusters` show (SPEC §6): the top of the daemon's
 * modules, putting together the model (model.c), the refresh's outcome
 * (cluster.c), the operation in progress (operation.c) and the autoscaler
 * (autoscaler.c).  Nothing below it knows status.
 *
 * A cluster's status answer is kept encoded until something it shows
 * changes (docs/design.md, "The status answer"): the cluster's state
 * generation (cluster_changed()), or the clock reaching the moment one of
 * its time fields (uptime_s, next_tick_s) would read differently.
 */
#ifndef EC2M_STATUS_H
#define EC2M_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct cluster;

/* SPEC §6 status, from what the daemon knows now. */
json_t *status_cluster_json(struct cluster *c, int64_t now_ms);
/* The same, encoded as it appears in a reply (proto_result_encode()):
 * from the cluster's cache while it holds, else built and kept.  The text
 * belongs to the cache and stays valid until the next call for c; NULL
 * when it could not be encoded. */
const char *status_cluster_encoded(struct cluster *c, int64_t now_ms,
    size_t *len);
/* Frees the cluster's cache (before cluster_free()). */
void status_release(struct cluster *c);
/* One line of `clusters`. */
json_t *status_summary_json(struct cluster *c, int64_t now_ms);

#endif
