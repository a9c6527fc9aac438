/*
 * Status and the `clusters` summary (status.h).
 *
 * The answer cache: a cluster's status is kept as the encoded text of the
 * reply's result, with what it was built from: the cluster's state
 * generation, the loop time of the next autoscale tick, and the interval
 * of wall-clock and loop time over which every time field it holds reads
 * the same.  A request inside all of that is answered by copying the text;
 * any other builds it again.  So an answer is never stale: state changes
 * bump the generation where they happen (cluster_changed()), and the
 * fields that move with the clock (uptime_s, next_tick_s) say when they
 * next move.
 */
#include "daemon/status.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "common/log.h"
#include "common/protocol.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/autoscaler.h"
#include "daemon/cluster.h"
#include "daemon/daemon.h"
#include "daemon/model.h"
#include "daemon/operation.h"

struct status_cache {
	char	*text;		/* NULL: nothing kept */
	size_t	 len;
	uint64_t gen;		/* c->state_gen it shows */
	uint64_t tick_at;	/* loop time of the next tick; UINT64_MAX */
	int64_t	 built_ms;	/* wall clock when built */
	int64_t	 wall_until;	/* first wall-clock ms it reads differently */
	uint64_t built_loop;	/* loop time when built */
	uint64_t loop_until;	/* first loop ms it reads differently */
};

/* The answer and the first wall-clock ms at which its uptimes move. */
static json_t *
build(struct cluster *c, int64_t now_ms, int64_t *wall_until)
{
	struct model md;
	json_t *o;

	cluster_model(c, &md, now_ms);
	o = model_status_json(&md, c->name);
	*wall_until = model_uptime_until(&md);
	json_object_set_new(o, "autoscale", autoscaler_status_json(c));
	json_object_set_new(o, "operation", operation_status_json(c->op));
	cluster_status_parts(c, o);
	model_release(&md);
	return o;
}

json_t *
status_cluster_json(struct cluster *c, int64_t now_ms)
{
	int64_t until;

	return build(c, now_ms, &until);
}

/* EC2M_STATUS_CACHE_CHECK=1 (the tests): every answer from the cache is
 * compared with one built afresh, and a difference ends the daemon. */
static bool
check_enabled(void)
{
	static int enabled = -1;

	if (enabled < 0) {
		const char *v = getenv("EC2M_STATUS_CACHE_CHECK");

		enabled = v != NULL && strcmp(v, "1") == 0;
	}
	return enabled;
}

static void
check_hit(struct cluster *c, const struct status_cache *sc, int64_t now_ms)
{
	int64_t until;
	char *fresh = proto_result_encode(build(c, now_ms, &until));

	if (fresh == NULL || strcmp(fresh, sc->text) != 0) {
		log_warnx("status of %s: the cached answer (generation %llu, "
		    "built at %lld) differs from a fresh one at %lld:\n%s\n%s",
		    c->name, (unsigned long long)sc->gen,
		    (long long)sc->built_ms, (long long)now_ms, sc->text,
		    fresh ? fresh : "(none)");
		abort();
	}
	free(fresh);
}

const char *
status_cluster_encoded(struct cluster *c, int64_t now_ms, size_t *len)
{
	struct status_cache *sc = c->status;
	uint64_t due = autoscaler_tick_due_in(c);
	uint64_t loop_now = uv_now(c->d->loop);
	uint64_t tick_at = due == UINT64_MAX ? UINT64_MAX : loop_now + due;
	uint64_t secs;

	if (sc == NULL)
		sc = c->status = xcalloc(1, sizeof(*sc));
	if (sc->text && sc->gen == c->state_gen && sc->tick_at == tick_at &&
	    now_ms >= sc->built_ms && now_ms < sc->wall_until &&
	    loop_now >= sc->built_loop && loop_now < sc->loop_until) {
		if (check_enabled())
			check_hit(c, sc, now_ms);
		*len = sc->len;
		return sc->text;
	}
	free(sc->text);
	sc->text = proto_result_encode(build(c, now_ms, &sc->wall_until));
	sc->len = sc->text ? strlen(sc->text) : 0;
	sc->gen = c->state_gen;
	sc->tick_at = tick_at;
	sc->built_ms = now_ms;
	sc->built_loop = loop_now;
	/* next_tick_s is the due time rounded up to whole seconds: it reads
	 * the same until the due time falls to the next lower second. */
	secs = due == UINT64_MAX ? 0 : (due + 999) / 1000;
	sc->loop_until = due == UINT64_MAX ? UINT64_MAX :
	    secs == 0 ? loop_now + 1 : loop_now + due - (secs - 1) * 1000;
	*len = sc->len;
	return sc->text;
}

void
status_release(struct cluster *c)
{
	if (c->status == NULL)
		return;
	free(c->status->text);
	free(c->status);
	c->status = NULL;
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
