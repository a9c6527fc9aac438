/*
 * Command handlers.  Read-only commands answer from the daemon's current
 * state without waiting, except `status --refresh`, which joins or starts a
 * refresh of the cluster and answers when it ends.
 */
#include "daemon/commands.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/autoscaler.h"
#include "daemon/cluster.h"
#include "daemon/control.h"
#include "daemon/core.h"
#include "daemon/daemon.h"
#include "daemon/operation.h"
#include "daemon/status.h"

typedef void cmd_fn(struct daemon *d, struct ctl_req *r, struct cluster *c);

/* Unpacks the request's args strictly (unknown keys are errors); replies
 * bad_request and returns -1 when they do not fit fmt. */
static int
args_unpack(struct ctl_req *r, const char *fmt, ...)
{
	json_error_t jerr;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = json_vunpack_ex(ctl_req_get(r)->args, &jerr, JSON_STRICT, fmt, ap);
	va_end(ap);
	if (rc != 0) {
		ctl_req_error(r, PROTO_ERR_BAD_REQUEST, "invalid arguments for "
		    "\"%s\": %s", ctl_req_get(r)->cmd->name, jerr.text);
		return -1;
	}
	return 0;
}

static void
cmd_ping(struct daemon *d, struct ctl_req *r, struct cluster *c)
{
	(void)d;
	(void)c;
	if (args_unpack(r, "{}") == 0)
		ctl_req_ok(r, json_pack("{s:b}", "pong", 1));
}

static void
cmd_version(struct daemon *d, struct ctl_req *r, struct cluster *c)
{
	(void)d;
	(void)c;
	if (args_unpack(r, "{}") == 0)
		ctl_req_ok(r, json_pack("{s:s, s:i}", "version", EC2M_VERSION,
		    "protocol", PROTO_VERSION));
}

static void
cmd_clusters(struct daemon *d, struct ctl_req *r, struct cluster *c)
{
	int64_t now = time_now_ms();
	json_t *arr;

	(void)c;
	if (args_unpack(r, "{}") != 0)
		return;
	arr = json_array();
	for (struct cluster *x = d->clusters; x; x = x->next)
		json_array_append_new(arr, status_summary_json(x, now));
	ctl_req_ok(r, json_pack("{s:o, s:o}", "clusters", arr, "reload",
	    daemon_core_reload_json(d)));
}

/* Answers with the cluster's status, from its cache when it holds. */
static void
status_reply(struct ctl_req *r, struct cluster *c)
{
	size_t len;
	const char *text = status_cluster_encoded(c, time_now_ms(), &len);

	ctl_req_ok_encoded(r, text, len);
}

/* Called when the refresh that `status --refresh` asked for has ended. */
static void
on_status_refreshed(void *arg, struct cluster *c, bool ok, const char *error)
{
	struct ctl_req *r = arg;

	if (!ok)
		ctl_req_error(r, PROTO_ERR_UPSTREAM, "refresh of %s failed: %s",
		    c->name, error);
	else
		status_reply(r, c);
}

static void
cmd_status(struct daemon *d, struct ctl_req *r, struct cluster *c)
{
	int refresh = 0;

	(void)d;
	if (args_unpack(r, "{s?b}", "refresh", &refresh) != 0)
		return;
	if (refresh)
		cluster_refresh(c, on_status_refreshed, r);
	else
		status_reply(r, c);
}

/*
 * `events --follow`: the newest n events, then each new one as it is
 * recorded, as "entry" events on the request, until the client leaves,
 * the daemon stops or a reload removes the cluster.  What the client has
 * not read yet is bounded: beyond FOLLOW_MAX_BACKLOG bytes entries are
 * left out and counted, and a "lost" event says how many before the next
 * entry that fits.  The loop never waits for a slow reader.
 */
#define FOLLOW_MAX_BACKLOG	(1u << 20)
/* Tests lower it (bytes, 1 KiB to 1 MiB): see ec2-managerd(8). */
#define FOLLOW_BACKLOG_ENV	"EC2M_FOLLOW_MAX_BACKLOG"

/* The bound, read once. */
static size_t
follow_max_backlog(void)
{
	static size_t max;
	const char *v;
	char *end;
	long n;

	if (max != 0)
		return max;
	max = FOLLOW_MAX_BACKLOG;
	v = getenv(FOLLOW_BACKLOG_ENV);
	if (v != NULL && *v != '\0') {
		n = strtol(v, &end, 10);
		if (*end == '\0' && n >= 1024 && n <= (long)FOLLOW_MAX_BACKLOG)
			max = (size_t)n;
		else
			log_warnx("%s=%s is not 1024 to %u bytes; using %u",
			    FOLLOW_BACKLOG_ENV, v, FOLLOW_MAX_BACKLOG,
			    FOLLOW_MAX_BACKLOG);
	}
	return max;
}

struct follower {
	struct ctl_req	*r;
	struct event_ring *ring;	/* NULL once the cluster is gone */
	struct event_watch watch;
	uint64_t	 lost;
	char		 cluster[PROTO_MAX_CLUSTER_NAME + 1];
};

/* Called by the event ring after an event was added. */
static void
follow_added(void *arg, const struct event *e)
{
	struct follower *f = arg;

	if (ctl_req_backlog(f->r) > follow_max_backlog()) {
		f->lost++;
		return;
	}
	if (f->lost > 0) {
		ctl_req_send_event(f->r, proto_event_lost(
		    ctl_req_get(f->r)->id, f->lost));
		f->lost = 0;
	}
	ctl_req_send_event(f->r, proto_event_entry(ctl_req_get(f->r)->id,
	    event_json(e)));
}

static void
follow_end(struct follower *f, const char *why)
{
	struct ctl_req *r = f->r;

	if (f->ring != NULL)
		events_unwatch(f->ring, &f->watch);
	ctl_req_ok(r, json_pack("{s:s, s:s}", "cluster", f->cluster, "end",
	    why));
	free(f);
}

/* Called by the event ring when it is freed with its cluster. */
static void
follow_ring_ended(void *arg)
{
	struct follower *f = arg;

	f->ring = NULL;
	follow_end(f, "the cluster is no longer managed");
}

/* Called by the control server when the client left or at shutdown. */
static void
follow_stream_ended(void *arg, struct ctl_req *r)
{
	struct follower *f = arg;

	follow_end(f, ctl_req_connected(r) ? "the daemon is stopping" :
	    "the client left");
}

static void
cmd_events(struct daemon *d, struct ctl_req *r, struct cluster *c)
{
	json_int_t n = 20;
	int follow = 0;
	struct follower *f;

	(void)d;
	if (args_unpack(r, "{s?I, s?b}", "n", &n, "follow", &follow) != 0)
		return;
	if (n < 1 || n > PROTO_MAX_EVENTS) {
		ctl_req_error(r, PROTO_ERR_BAD_REQUEST, "\"n\" must be between "
		    "1 and %d", PROTO_MAX_EVENTS);
		return;
	}
	if (!follow) {
		ctl_req_ok(r, json_pack("{s:s, s:o}", "cluster", c->name,
		    "events", events_json(&c->events, (size_t)n)));
		return;
	}
	f = xcalloc(1, sizeof(*f));
	f->r = r;
	f->ring = &c->events;
	utf8_snprintf(f->cluster, sizeof(f->cluster), "%s", c->name);
	/* The history, under the same bound as what follows. */
	events_foreach_last(&c->events, (size_t)n, follow_added, f);
	f->watch.added = follow_added;
	f->watch.ended = follow_ring_ended;
	f->watch.arg = f;
	events_watch(&c->events, &f->watch);
	ctl_req_set_stream(r, follow_stream_ended, f);
}

/* Fills the parts of an operation that every command shares. */
static void
op_params_init(struct op_params *p, enum op_kind kind, struct ctl_req *r)
{
	const struct proto_request *req = ctl_req_get(r);

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->workers = -1;
	p->dry_run = req->dry_run;
	p->force = req->force;
	p->wait = req->wait;
	utf8_snprintf(p->initiator, sizeof(p->initiator), "uid %d pid %d",
	    (int)ctl_req_uid(r), (int)ctl_req_pid(r));
}

static bool
workers_ok(struct ctl_req *r, json_int_t n, json_int_t min)
{
	if (n < min || n > PROTO_MAX_WORKERS) {
		ctl_req_error(r, PROTO_ERR_BAD_REQUEST, "\"workers\" must be "
		    "between %lld and %d", (long long)min, PROTO_MAX_WORKERS);
		return false;
	}
	return true;
}

static void
cmd_start(struct daemon *d, struct ctl_req *r, struct cluster *c)
{
	struct op_params p;
	json_int_t n = -1;

	(void)d;
	if (args_unpack(r, "{s?I}", "workers", &n) != 0)
		return;
	if (n != -1 && !workers_ok(r, n, 0))
		return;
	op_params_init(&p, OP_START, r);
	p.workers = (int)n;
	operation_start(c, &p, r, NULL, NULL);
}

static void
cmd_stop(struct daemon *d, struct ctl_req *r, struct cluster *c)
{
	struct op_params p;

	(void)d;
	if (args_unpack(r, "{}") != 0)
		return;
	op_params_init(&p, OP_STOP, r);
	operation_start(c, &p, r, NULL, NULL);
}

static void
cmd_scale(struct daemon *d, struct ctl_req *r, struct cluster *c)
{
	struct op_params p;
	const char *dir;
	json_int_t n = 1;

	(void)d;
	if (args_unpack(r, "{s:s, s?I}", "direction", &dir, "workers",
	    &n) != 0)
		return;
	if (strcmp(dir, "up") != 0 && strcmp(dir, "down") != 0) {
		ctl_req_error(r, PROTO_ERR_BAD_REQUEST, "\"direction\" must be "
		    "\"up\" or \"down\"");
		return;
	}
	if (!workers_ok(r, n, 1))
		return;
	op_params_init(&p, strcmp(dir, "up") == 0 ? OP_SCALE_UP :
	    OP_SCALE_DOWN, r);
	p.workers = (int)n;
	operation_start(c, &p, r, NULL, NULL);
}

static void
cmd_scale_to(struct daemon *d, struct ctl_req *r, struct cluster *c)
{
	struct op_params p;
	json_int_t n;

	(void)d;
	if (args_unpack(r, "{s:I}", "workers", &n) != 0 ||
	    !workers_ok(r, n, 0))
		return;
	op_params_init(&p, OP_SCALE_TO, r);
	p.workers = (int)n;
	operation_start(c, &p, r, NULL, NULL);
}

static void
cmd_maintenance(struct daemon *d, struct ctl_req *r, struct cluster *c)
{
	struct op_params p;
	const char *mode;

	(void)d;
	if (args_unpack(r, "{s:s}", "mode", &mode) != 0)
		return;
	if (strcmp(mode, "on") != 0 && strcmp(mode, "off") != 0) {
		ctl_req_error(r, PROTO_ERR_BAD_REQUEST, "\"mode\" must be "
		    "\"on\" or \"off\"");
		return;
	}
	op_params_init(&p, strcmp(mode, "on") == 0 ? OP_MAINTENANCE_ON :
	    OP_MAINTENANCE_OFF, r);
	operation_start(c, &p, r, NULL, NULL);
}

/* Called when `autoscale` has evaluated: exit 0 when the evaluation ran,
 * whatever it decided; refused with the reason when it could not run.  An
 * action that the request follows answers it itself (handed_over). */
static void
on_autoscaled(void *arg, struct cluster *c, bool ran, json_t *decision,
    const char *why_not, bool handed_over)
{
	struct ctl_req *r = arg;
	const char *action, *reason;
	char *message;

	if (handed_over)
		return;
	if (!ran) {
		ctl_req_error(r, PROTO_ERR_REFUSED, "%s: autoscale could not "
		    "run: %s", c->name, why_not ? why_not : "unknown");
		return;
	}
	action = json_string_value(json_object_get(decision, "action"));
	reason = json_string_value(json_object_get(decision, "reason"));
	if (json_is_false(json_object_get(decision, "carried_out"))) {
		/* The decision stands in the events; its action failed. */
		ctl_req_error(r, PROTO_ERR_BUSY, "%s: autoscale %s: %s",
		    c->name, action ? action : "none", reason ? reason : "");
		return;
	}
	/* --no-wait: the action (if any) runs on by itself. */
	message = utf8_asprintf("%s: %s%s", action ? action : "none",
	    reason ? reason : "", action && strcmp(action, "none") != 0 ?
	    "; started, not waited for (--no-wait)" : "");
	ctl_req_ok(r, json_pack("{s:o, s:O}", "message", json_text(message),
	    "decision", decision));
	free(message);
}

static void
cmd_autoscale(struct daemon *d, struct ctl_req *r, struct cluster *c)
{
	const char *action = "evaluate";
	char err[512];

	(void)d;
	if (args_unpack(r, "{s?s}", "action", &action) != 0)
		return;
	if (strcmp(action, "evaluate") == 0) {
		const struct proto_request *req = ctl_req_get(r);
		struct autoscale_ask ask = {
			.dry_run = req->dry_run,
			.force = req->force,
			.follow = req->wait ? r : NULL,
		};

		autoscaler_evaluate(c, &ask, on_autoscaled, r);
	} else if (strcmp(action, "pause") == 0 ||
	    strcmp(action, "resume") == 0) {
		bool pause = strcmp(action, "pause") == 0;

		if (autoscaler_set_paused(c, pause, err, sizeof(err)) != 0)
			ctl_req_error(r, PROTO_ERR_INTERNAL, "%s", err);
		else
			ctl_req_ok(r, json_pack("{s:s+, s:b}", "message",
			    "autoscaling ", pause ? "paused" : "resumed",
			    "paused", pause));
	} else {
		ctl_req_error(r, PROTO_ERR_BAD_REQUEST, "\"action\" must be "
		    "\"evaluate\", \"pause\" or \"resume\"");
	}
}

/* Called when `explain` has decided (or could not read the cluster). */
static void
on_explained(void *arg, struct cluster *c, bool ran, json_t *decision,
    const char *why_not, bool handed_over)
{
	struct ctl_req *r = arg;
	const char *action, *reason;
	char *message;

	(void)handed_over;	/* explain never acts */
	if (decision == NULL) {
		ctl_req_error(r, PROTO_ERR_REFUSED, "%s: cannot explain: %s",
		    c->name, why_not ? why_not : "unknown");
		return;
	}
	action = json_string_value(json_object_get(decision, "action"));
	reason = json_string_value(json_object_get(decision, "reason"));
	message = utf8_asprintf("%s%s: %s", ran ? "" : "would not run: ",
	    action ? action : "none", reason ? reason : "");
	ctl_req_ok(r, json_pack("{s:o, s:O}", "message", json_text(message),
	    "decision", decision));
	free(message);
}

static void
cmd_explain(struct daemon *d, struct ctl_req *r, struct cluster *c)
{
	(void)d;
	if (args_unpack(r, "{}") == 0)
		autoscaler_explain(c, on_explained, r);
}

static cmd_fn *const handlers[PROTO_CMD_COUNT] = {
	[PROTO_CMD_PING] = cmd_ping,
	[PROTO_CMD_VERSION] = cmd_version,
	[PROTO_CMD_CLUSTERS] = cmd_clusters,
	[PROTO_CMD_STATUS] = cmd_status,
	[PROTO_CMD_EVENTS] = cmd_events,
	[PROTO_CMD_START] = cmd_start,
	[PROTO_CMD_STOP] = cmd_stop,
	[PROTO_CMD_SCALE] = cmd_scale,
	[PROTO_CMD_SCALE_TO] = cmd_scale_to,
	[PROTO_CMD_MAINTENANCE] = cmd_maintenance,
	[PROTO_CMD_AUTOSCALE] = cmd_autoscale,
	[PROTO_CMD_EXPLAIN] = cmd_explain,
};

void
commands_dispatch(void *arg, struct ctl_req *r)
{
	struct daemon *d = arg;
	const struct proto_request *req = ctl_req_get(r);
	struct cluster *c = NULL;
	cmd_fn *fn = handlers[req->cmd->cmd];

	if (fn == NULL) {
		ctl_req_error(r, PROTO_ERR_UNKNOWN_COMMAND, "command \"%s\" is "
		    "not available in this version", req->cmd->name);
		return;
	}
	if (d->stopping) {
		ctl_req_error(r, PROTO_ERR_BUSY, "the daemon is shutting down");
		return;
	}
	if (!(req->cmd->flags & CMD_F_NO_CLUSTER)) {
		c = cluster_find(d, req->cluster);
		if (c == NULL) {
			ctl_req_error(r, PROTO_ERR_UNKNOWN_CLUSTER, "no "
			    "cluster \"%s\" is configured", req->cluster);
			return;
		}
	}
	fn(d, r, c);
}
