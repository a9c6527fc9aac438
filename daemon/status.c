/*
 * Status and the `clusters` summary (status.h).
 */
#include "daemon/status.h"

#include "common/timeutil.h"
#include "common/utf8.h"
#include "daemon/autoscaler.h"
#include "daemon/cluster.h"
#include "daemon/model.h"
#include "daemon/operation.h"

json_t *
status_cluster_json(struct cluster *c, int64_t now_ms)
{
	struct model md;
	json_t *o;

	cluster_model(c, &md, now_ms);
	o = model_status_json(&md, c->name);
	json_object_set_new(o, "autoscale", autoscaler_status_json(c));
	json_object_set_new(o, "operation", operation_status_json(c->op));
	cluster_status_parts(c, o);
	model_release(&md);
	return o;
}

json_t *
status_summary_json(struct cluster *c, int64_t now_ms)
{
	char ts[TIME_ISO8601_LEN];
	struct model md;
	json_t *o;

	cluster_model(c, &md, now_ms);
	if (c->updated_ms > 0)
		time_format_iso8601(c->updated_ms, ts);
	o = json_pack("{s:o, s:i, s:i, s:i, s:o, s:o, s:b, s:b, s:o}",
	    "cluster", json_text(c->name),
	    "instances_online", md.instances_online,
	    "workers", md.workers, "workers_online", md.workers_online,
	    "autoscale", autoscaler_status_json(c),
	    "operation", operation_status_json(c->op),
	    "ec2_ok", c->ec2_ok, "opencast_reachable", c->oc_ok,
	    "updated_at", c->updated_ms > 0 ? json_text(ts) : json_null());
	/* What failed, for the cluster's line: "ec2" and "opencast" as in
	 * status. */
	cluster_status_parts(c, o);
	model_release(&md);
	return o;
}
