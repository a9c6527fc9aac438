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
#include "daemon/control.h"
#include "daemon/daemon.h"

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
		json_array_append_new(arr, cluster_summary_json(x, now));
	ctl_req_ok(r, json_pack("{s:o}", "clusters", arr));
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
		ctl_req_ok(r, cluster_status_json(c, time_now_ms()));
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
		ctl_req_ok(r, cluster_status_json(c, time_now_ms()));
}

static void
cmd_events(struct daemon *d, struct ctl_req *r, struct cluster *c)
{
	json_int_t n = 20;

	(void)d;
	if (args_unpack(r, "{s?I}", "n", &n) != 0)
		return;
	if (n < 1 || n > PROTO_MAX_EVENTS) {
		ctl_req_error(r, PROTO_ERR_BAD_REQUEST, "\"n\" must be between "
		    "1 and %d", PROTO_MAX_EVENTS);
		return;
	}
	ctl_req_ok(r, json_pack("{s:s, s:o}", "cluster", c->name, "events",
	    events_json(&c->events, (size_t)n)));
}

static cmd_fn *const handlers[PROTO_CMD_COUNT] = {
	[PROTO_CMD_PING] = cmd_ping,
	[PROTO_CMD_VERSION] = cmd_version,
	[PROTO_CMD_CLUSTERS] = cmd_clusters,
	[PROTO_CMD_STATUS] = cmd_status,
	[PROTO_CMD_EVENTS] = cmd_events,
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
			ctl_req_error(r, PROTO_ERR_UNKNOWN_CLUSTER, "no cluster "
			    "\"%s\" is configured", req->cluster);
			return;
		}
	}
	fn(d, r, c);
}
