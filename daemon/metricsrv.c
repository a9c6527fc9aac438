/*
 * The metrics listener (metricsrv.h): libmicrohttpd in "external polling"
 * mode on the daemon's loop, and the gauges read from the clusters at
 * scrape time.
 *
 * libmicrohttpd with MHD_USE_EPOLL and no internal thread keeps its
 * sockets in an epoll descriptor of its own (MHD_DAEMON_INFO_EPOLL_FD); a
 * uv_poll watches that descriptor, and after every MHD_run() a uv_timer is
 * armed with MHD_get_timeout(), as microhttpd.h requires of external
 * polling (data it holds back, connections that time out).  MHD_run() in
 * this mode does not block.
 */
#include "daemon/metricsrv.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <uv.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/autoscaler.h"
#include "daemon/cluster.h"
#include "daemon/control.h"
#include "daemon/daemon.h"
#include "daemon/loggly.h"
#include "daemon/metrics.h"
#include "daemon/model.h"

#define CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"
#define MAX_CONNECTIONS	16
#define CONN_TIMEOUT_S	10

struct metricsrv {
	struct daemon	*d;
	char		*addr;
	struct MHD_Daemon *mhd;
	uv_poll_t	 poll;
	uv_timer_t	 timer;
	int		 open_handles;
	char		 last_error[256];	/* MHD's last log line */
};

/*
 * The gauges.
 */

/* EC2 states in the order they are written. */
static const enum ec2_state states[] = {
	EC2_STATE_PENDING, EC2_STATE_RUNNING, EC2_STATE_STOPPING,
	EC2_STATE_STOPPED, EC2_STATE_SHUTTING_DOWN, EC2_STATE_TERMINATED,
	EC2_STATE_UNKNOWN,
};
#define NSTATES	(sizeof(states) / sizeof(states[0]))
#define NROLES	((size_t)ROLE_OTHER + 1)

/* What one cluster shows, read once per scrape. */
struct cl {
	const char *name;
	bool	 have_ec2;		/* instances were read */
	int	 inst[NROLES][NSTATES];
	int	 workers, running, held;
	bool	 oc;			/* Opencast's numbers are known */
	int	 online, busy, idle, maint;
	int	 queued, queued_hl, running_jobs;
	bool	 load;			/* policy = demand uses load */
	double	 queued_hl_load, running_load;
	int	 running_hl;
	double	 running_hl_load;
	bool	 as_enabled, as_paused;
	bool	 op;
	bool	 failing;
	int64_t	 ec2_at_ms, oc_at_ms;
	/* Workers that Opencast knows: their maintenance flag.  The
	 * instances are c->instances', alive for the scrape. */
	const struct ec2_instance **mw;
	bool	*mw_on;
	size_t	 nmw;
};

static size_t
state_index(enum ec2_state s)
{
	for (size_t i = 0; i < NSTATES; i++)
		if (states[i] == s)
			return i;
	return NSTATES - 1;
}

static void
read_cluster(struct cluster *c, struct cl *g, int64_t now)
{
	struct model md;
	json_t *as;

	memset(g, 0, sizeof(*g));
	g->name = c->name;
	g->have_ec2 = c->instances != NULL;
	g->op = c->op != NULL;
	g->failing = c->failing;
	g->ec2_at_ms = c->ec2_at_ms;
	g->oc_at_ms = c->oc_at_ms;
	as = autoscaler_status_json(c);
	g->as_enabled = json_is_true(json_object_get(as, "enabled"));
	g->as_paused = json_is_true(json_object_get(as, "paused"));
	json_decref(as);
	if (!g->have_ec2)
		return;
	cluster_model(c, &md, now);
	g->oc = md.opencast_known;
	g->load = c->cfg->policy == SCALING_DEMAND;
	g->mw = xcalloc(md.n ? md.n : 1, sizeof(*g->mw));
	g->mw_on = xcalloc(md.n ? md.n : 1, sizeof(*g->mw_on));
	for (size_t i = 0; i < md.n; i++) {
		const struct model_member *m = &md.m[i];
		bool running = m->inst->state == EC2_STATE_RUNNING;

		g->inst[m->role][state_index(m->inst->state)]++;
		if (m->role != ROLE_WORKER)
			continue;
		g->workers++;
		g->running += running;
		g->held += m->held;
		if (m->host) {
			g->online += m->host->online;
			g->maint += m->host->maintenance;
			g->mw[g->nmw] = m->inst;
			g->mw_on[g->nmw++] = m->host->maintenance;
		}
		if (running && m->running_jobs > 0)
			g->busy++;
		if (running && !m->held && m->running_jobs == 0)
			g->idle++;
		if (m->running_load > 0)
			g->running_load += m->running_load;
	}
	g->queued = md.queued_jobs;
	g->queued_hl = md.queued_high_load_jobs;
	g->running_jobs = md.running_jobs;
	g->queued_hl_load = md.queued_high_load_load;
	g->running_hl = md.running_high_load_jobs;
	g->running_hl_load = md.running_high_load_load;
	model_release(&md);
}

static const char *const cluster_label[] = { "cluster" };

/* A gauge with one sample per cluster; get returns false to leave a
 * cluster out (not known). */
typedef bool gauge_fn(const struct cl *g, double *v);

static void
cluster_gauge(struct strbuf *out, const struct cl *v, size_t n,
    const char *name, const char *help, gauge_fn *get)
{
	double x;

	metrics_write_header(out, name, help, "gauge");
	for (size_t i = 0; i < n; i++)
		if (get(&v[i], &x))
			metrics_write_sample(out, name, cluster_label,
			    &v[i].name, 1, x);
}

#define GAUGE(fn, cond, expr) \
	static bool fn(const struct cl *g, double *v) \
	{ if (!(cond)) return false; *v = (expr); return true; }

GAUGE(g_workers, g->have_ec2, g->workers)
GAUGE(g_running, g->have_ec2, g->running)
GAUGE(g_held, g->have_ec2, g->held)
GAUGE(g_online, g->oc, g->online)
GAUGE(g_busy, g->oc, g->busy)
GAUGE(g_idle, g->oc, g->idle)
GAUGE(g_maint, g->oc, g->maint)
GAUGE(g_queued, g->oc && g->queued >= 0, g->queued)
GAUGE(g_queued_hl, g->oc && g->queued_hl >= 0, g->queued_hl)
GAUGE(g_running_jobs, g->oc && g->running_jobs >= 0, g->running_jobs)
GAUGE(g_queued_hl_load, g->oc && g->load && g->queued_hl_load >= 0,
    g->queued_hl_load)
GAUGE(g_running_load, g->oc && g->load, g->running_load)
GAUGE(g_running_hl, g->oc && g->running_hl >= 0, g->running_hl)
GAUGE(g_running_hl_load, g->oc && g->load && g->running_hl_load >= 0,
    g->running_hl_load)
GAUGE(g_as_enabled, true, g->as_enabled)
GAUGE(g_as_paused, true, g->as_paused)
GAUGE(g_op, true, g->op)
GAUGE(g_failing, true, g->failing)

static void
write_instances(struct strbuf *out, const struct cl *v, size_t n)
{
	static const char *const names[] = { "cluster", "role", "state" };
	const char *vals[3];

	metrics_write_header(out, "ec2m_instances", "Instances of the "
	    "cluster, by role (name suffix) and EC2 state.", "gauge");
	for (size_t i = 0; i < n; i++) {
		if (!v[i].have_ec2)
			continue;
		for (size_t r = 0; r < NROLES; r++) {
			for (size_t s = 0; s < NSTATES; s++) {
				if (v[i].inst[r][s] == 0)
					continue;
				vals[0] = v[i].name;
				vals[1] = model_role_name((enum role)r);
				vals[2] = ec2_state_name(states[s]);
				metrics_write_sample(out, "ec2m_instances",
				    names, vals, 3, v[i].inst[r][s]);
			}
		}
	}
}

static void
write_worker_maintenance(struct strbuf *out, const struct cl *v, size_t n)
{
	static const char *const names[] = { "cluster", "instance_id",
	    "name" };
	const char *vals[3];

	metrics_write_header(out, "ec2m_worker_maintenance", "1 while "
	    "Opencast has the worker in maintenance, else 0 (workers that "
	    "Opencast knows).", "gauge");
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < v[i].nmw; j++) {
			vals[0] = v[i].name;
			vals[1] = v[i].mw[j]->id ? v[i].mw[j]->id : "";
			vals[2] = v[i].mw[j]->name ? v[i].mw[j]->name : "";
			metrics_write_sample(out, "ec2m_worker_maintenance",
			    names, vals, 3, v[i].mw_on[j]);
		}
	}
}

static void
write_refresh(struct strbuf *out, const struct cl *v, size_t n)
{
	static const char *const names[] = { "cluster", "source" };
	const char *vals[2];

	metrics_write_header(out, "ec2m_last_refresh_success_timestamp_seconds",
	    "When the cluster was last read successfully from EC2 or "
	    "Opencast (Unix time).", "gauge");
	for (size_t i = 0; i < n; i++) {
		vals[0] = v[i].name;
		if (v[i].ec2_at_ms > 0) {
			vals[1] = "ec2";
			metrics_write_sample(out,
			    "ec2m_last_refresh_success_timestamp_seconds",
			    names, vals, 2, (double)v[i].ec2_at_ms / 1000);
		}
		if (v[i].oc_at_ms > 0) {
			vals[1] = "opencast";
			metrics_write_sample(out,
			    "ec2m_last_refresh_success_timestamp_seconds",
			    names, vals, 2, (double)v[i].oc_at_ms / 1000);
		}
	}
}

static void
write_daemon(struct daemon *d, struct strbuf *out, size_t nclusters)
{
	static const char *const version_label[] = { "version" };
	const char *version = EC2M_VERSION;

	metrics_write_header(out, "ec2m_build_info", "Always 1; the version "
	    "of ec2-managerd in a label.", "gauge");
	metrics_write_sample(out, "ec2m_build_info", version_label, &version,
	    1, 1);
	metrics_write_header(out, "ec2m_start_time_seconds", "When the daemon "
	    "started (Unix time).", "gauge");
	metrics_write_sample(out, "ec2m_start_time_seconds", NULL, NULL, 0,
	    (double)d->started_ms / 1000);
	metrics_write_header(out, "ec2m_clusters", "Clusters managed by the "
	    "configuration in force.", "gauge");
	metrics_write_sample(out, "ec2m_clusters", NULL, NULL, 0,
	    (double)nclusters);
	metrics_write_header(out, "ec2m_control_connections", "Connections "
	    "open on the control socket.", "gauge");
	metrics_write_sample(out, "ec2m_control_connections", NULL, NULL, 0,
	    d->control ? (double)control_connections(d->control) : 0);
	metrics_write_header(out, "ec2m_loggly_dropped_total", "Log entries "
	    "the Loggly sink dropped (the oldest first) because its queue was "
	    "full.", "counter");
	metrics_write_sample(out, "ec2m_loggly_dropped_total", NULL, NULL, 0,
	    (double)loggly_dropped_total());
}

void
metricsrv_write(struct daemon *d, struct strbuf *out)
{
	int64_t now = time_now_ms();
	size_t n = 0, i = 0;
	struct cl *v;

	for (struct cluster *c = d->clusters; c; c = c->next)
		n++;
	v = xcalloc(n ? n : 1, sizeof(*v));
	for (struct cluster *c = d->clusters; c; c = c->next)
		read_cluster(c, &v[i++], now);

	write_daemon(d, out, n);
	write_instances(out, v, n);
	cluster_gauge(out, v, n, "ec2m_workers", "Worker instances of the "
	    "cluster, in any EC2 state.", g_workers);
	cluster_gauge(out, v, n, "ec2m_workers_running", "Workers in EC2 "
	    "state running (held ones included).", g_running);
	cluster_gauge(out, v, n, "ec2m_workers_held", "Workers with a hold "
	    "tag.", g_held);
	cluster_gauge(out, v, n, "ec2m_workers_online", "Workers that "
	    "Opencast lists as online (absent while Opencast is unknown).",
	    g_online);
	cluster_gauge(out, v, n, "ec2m_workers_busy", "Running workers with "
	    "running jobs (absent while Opencast is unknown).", g_busy);
	cluster_gauge(out, v, n, "ec2m_workers_idle", "Running workers, not "
	    "held, without running jobs (absent while Opencast is unknown).",
	    g_idle);
	cluster_gauge(out, v, n, "ec2m_workers_maintenance", "Workers that "
	    "Opencast has in maintenance (absent while Opencast is unknown).",
	    g_maint);
	cluster_gauge(out, v, n, "ec2m_jobs_queued", "Jobs in QUEUED or "
	    "RESTART.", g_queued);
	cluster_gauge(out, v, n, "ec2m_high_load_jobs_queued", "Queued jobs of "
	    "the high_load_services types.", g_queued_hl);
	cluster_gauge(out, v, n, "ec2m_jobs_running", "Jobs in RUNNING.",
	    g_running_jobs);
	cluster_gauge(out, v, n, "ec2m_high_load_jobs_running", "Running jobs "
	    "of the high_load_services types.", g_running_hl);
	cluster_gauge(out, v, n, "ec2m_high_load_jobs_queued_load", "Summed "
	    "jobLoad of the queued high-load jobs (policy = demand).",
	    g_queued_hl_load);
	cluster_gauge(out, v, n, "ec2m_high_load_jobs_running_load", "Summed "
	    "jobLoad of the running high-load jobs (policy = demand).",
	    g_running_hl_load);
	cluster_gauge(out, v, n, "ec2m_workers_running_load", "Summed jobLoad "
	    "of the jobs running on workers (policy = demand).",
	    g_running_load);
	cluster_gauge(out, v, n, "ec2m_autoscale_enabled", "1 when no "
	    "autoscale switch is off (config, tag, pause).", g_as_enabled);
	cluster_gauge(out, v, n, "ec2m_autoscale_paused", "1 while paused "
	    "with ec2ctl CLUSTER autoscale pause.", g_as_paused);
	cluster_gauge(out, v, n, "ec2m_operation_in_progress", "1 while an "
	    "operation (or a restore or recovery) holds the cluster.", g_op);
	cluster_gauge(out, v, n, "ec2m_refresh_failing", "1 when the last "
	    "full refresh of the cluster failed.", g_failing);
	write_worker_maintenance(out, v, n);
	write_refresh(out, v, n);
	metrics_write_registry(out);
	for (i = 0; i < n; i++) {
		free(v[i].mw);
		free(v[i].mw_on);
	}
	free(v);
}

/*
 * HTTP.
 */

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned int status, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text),
	    (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* Called by libmicrohttpd (from MHD_run, on the loop) for a request. */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct metricsrv *m = cls;
	struct strbuf body = STRBUF_INIT;
	struct MHD_Response *r;
	enum MHD_Result rc;
	size_t len;
	char *buf;

	(void)version;
	(void)upload_data;
	(void)con_cls;
	*upload_data_size = 0;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "only GET /metrics is served here\n");
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND,
		    "not found: the metrics are at /metrics\n");
	metricsrv_write(m->d, &body);
	buf = strbuf_detach(&body, &len);
	r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

/* Called by libmicrohttpd with an error of its own. */
static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct metricsrv *m = cls;
	char *msg = utf8_vasprintf(fmt, ap);
	size_t n = strlen(msg);

	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '.'))
		msg[--n] = '\0';
	utf8_snprintf(m->last_error, sizeof(m->last_error), "%s", msg);
	if (m->open_handles > 0)
		log_warnx("metrics listener %s: %s", m->addr, msg);
	free(msg);
}

static void on_timer(uv_timer_t *t);

/* One turn of libmicrohttpd, then its next deadline. */
static void
mhd_turn(struct metricsrv *m)
{
	MHD_UNSIGNED_LONG_LONG ms;

	MHD_run(m->mhd);
	if (MHD_get_timeout(m->mhd, &ms) == MHD_YES)
		uv_timer_start(&m->timer, on_timer, (uint64_t)ms, 0);
	else
		uv_timer_stop(&m->timer);
}

/* Called by libuv when libmicrohttpd's epoll descriptor is readable. */
static void
on_poll(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	mhd_turn(p->data);
}

/* Called by libuv when libmicrohttpd's timeout is due. */
static void
on_timer(uv_timer_t *t)
{
	mhd_turn(t->data);
}

struct metricsrv *
metricsrv_start(struct daemon *d, const char *addr, char *err,
    size_t errlen)
{
	struct metricsrv *m = xcalloc(1, sizeof(*m));
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	char why[256];
	int r;

	if (metrics_parse_listen(addr, &ss, why, sizeof(why)) != 0) {
		utf8_snprintf(err, errlen, "metrics_listen: %s", why);
		free(m);
		return NULL;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m->d = d;
	m->addr = xstrdup(addr);
	m->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONN_TIMEOUT_S,
	    MHD_OPTION_SIGPIPE_HANDLED_BY_APP, (int)1,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, m,
	    MHD_OPTION_END);
	if (m->mhd == NULL) {
		utf8_snprintf(err, errlen, "metrics_listen: cannot listen on "
		    "%s: %s", addr, m->last_error[0] ? m->last_error :
		    "libmicrohttpd did not start");
		free(m->addr);
		free(m);
		return NULL;
	}
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || (r = uv_poll_init(d->loop, &m->poll,
	    info->epoll_fd)) != 0) {
		utf8_snprintf(err, errlen, "metrics_listen: cannot watch the "
		    "listener on %s", addr);
		MHD_stop_daemon(m->mhd);
		free(m->addr);
		free(m);
		return NULL;
	}
	uv_timer_init(d->loop, &m->timer);
	m->poll.data = m->timer.data = m;
	m->open_handles = 2;
	uv_poll_start(&m->poll, UV_READABLE, on_poll);
	mhd_turn(m);
	log_info("metrics: serving http://%s/metrics", addr);
	return m;
}

const char *
metricsrv_addr(const struct metricsrv *m)
{
	return m->addr;
}

static void
on_closed(uv_handle_t *h)
{
	struct metricsrv *m = h->data;

	if (--m->open_handles > 0)
		return;
	free(m->addr);
	free(m);
}

void
metricsrv_stop(struct metricsrv *m)
{
	if (m == NULL)
		return;
	/* The poll goes before the descriptor it watches. */
	uv_close((uv_handle_t *)&m->poll, on_closed);
	uv_close((uv_handle_t *)&m->timer, on_closed);
	MHD_stop_daemon(m->mhd);
	m->mhd = NULL;
}
