/*
 * ec2-managerd: start-up, reload and shutdown.  main() loads and checks the
 * configuration, builds the HTTP, credential and EC2 clients, the clusters
 * and the control socket in that order, refreshes every cluster, tells
 * systemd it is ready and runs the loop; shutdown releases everything in
 * reverse order and requires the loop to close cleanly.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/aws.h"
#include "daemon/awscreds.h"
#include "daemon/commands.h"
#include "daemon/control.h"
#include "daemon/daemon.h"
#include "daemon/ec2.h"
#include "daemon/http.h"
#include "daemon/operation.h"
#include "daemon/model.h"
#include "daemon/secrets.h"
#include "daemon/zadara.h"

/* How often STATUS= is brought up to date at least; the watchdog may ask
 * for more. */
#define STATUS_INTERVAL_MS	5000

/* How long shutdown waits for interrupted operations to take the nodes
 * they put in maintenance out of it again. */
#define SHUTDOWN_GRACE_MS 20000

struct main_ctx {
	struct daemon	 d;
	uv_signal_t	 sig_term;
	uv_signal_t	 sig_int;
	uv_signal_t	 sig_hup;
	uv_timer_t	 shutdown_timer;
	uint64_t	 shutdown_at;
	uv_timer_t	 notify_timer;	/* WATCHDOG=1 and STATUS= */
	bool		 notify_timer_on;
	bool		 watchdog;
	const char	*socket_override;
};

static const char *
env_get(const char *name)
{
	return getenv(name);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: ec2-managerd [-c PATH] [--socket PATH] "
	    "[--check-config] [--version] [--help]\n"
	    "  -c, --config PATH   configuration file (default %s)\n"
	    "      --socket PATH   control socket (overrides [daemon] socket)\n"
	    "      --check-config  validate the configuration and exit\n",
	    CONFIG_DEFAULT_PATH);
}

/* Lets the daemon hold many client connections; it never uses select(). */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

void
daemon_notify_status(struct daemon *d)
{
	/* What systemd was told last, so that an unchanged line is not
	 * sent again on every tick. */
	static char last[256];
	size_t n = 0, unread = 0, failing = 0, ops = 0;
	int workers = 0, online = 0;
	int64_t now = time_now_ms();
	char text[256], extra[96], opstext[48];

	if (d->stopping)
		return;
	extra[0] = opstext[0] = '\0';
	for (struct cluster *c = d->clusters; c; c = c->next) {
		struct model md;

		n++;
		if (c->op != NULL)
			ops++;
		if (c->instances == NULL) {
			unread++;
			continue;
		}
		model_build(&md, c->name, c->instances, NULL, NULL, now);
		workers += md.workers;
		online += md.workers_online;
		model_release(&md);
		if (c->failing)
			failing++;
	}
	if (unread > 0 && failing > 0)
		utf8_snprintf(extra, sizeof(extra),
		    "; %zu not read yet, refresh "
		    "failing on %zu", unread, failing);
	else if (unread > 0)
		utf8_snprintf(extra, sizeof(extra),
		    "; %zu not read yet", unread);
	else if (failing > 0)
		utf8_snprintf(extra, sizeof(extra), "; refresh failing on %zu",
		    failing);
	if (ops > 0)
		utf8_snprintf(opstext, sizeof(opstext),
		    ", %zu operation%s running",
		    ops, ops == 1 ? "" : "s");
	utf8_snprintf(text, sizeof(text),
	    "%zu cluster%s, %d/%d workers online%s%s",
	    n, n == 1 ? "" : "s", online, workers, opstext, extra);
	if (strcmp(text, last) == 0)
		return;
	utf8_snprintf(last, sizeof(last), "%s", text);
	sd_notifyf(0, "STATUS=%s", text);
}

/* Called by libuv every half watchdog period, or every STATUS_INTERVAL_MS
 * if that is shorter.  That the timer fires at all proves the loop turns,
 * which is what the watchdog is there to check. */
static void
on_notify_timer(uv_timer_t *t)
{
	struct main_ctx *m = t->data;

	if (m->watchdog)
		sd_notify(0, "WATCHDOG=1");
	daemon_notify_status(&m->d);
}

/* Pings the watchdog at half of WATCHDOG_USEC when systemd asks for it,
 * and keeps STATUS= current while anyone listens on NOTIFY_SOCKET. */
static void
start_notify_timer(struct main_ctx *m)
{
	uint64_t usec = 0, ms;

	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	m->watchdog = sd_watchdog_enabled(0, &usec) > 0 && usec > 0;
	ms = STATUS_INTERVAL_MS;
	if (m->watchdog && usec / 2000 < ms)
		ms = usec / 2000 > 0 ? usec / 2000 : 1;
	if (m->watchdog)
		log_info("watchdog: pinging systemd every %llu ms",
		    (unsigned long long)ms);
	uv_timer_init(m->d.loop, &m->notify_timer);
	m->notify_timer.data = m;
	m->notify_timer_on = true;
	uv_timer_start(&m->notify_timer, on_notify_timer, m->watchdog ? 0 : ms,
	    ms);
}

static int
make_clients(struct daemon *d, char *err, size_t errlen)
{
	struct aws_creds_settings cs = { d->config->profile, env_get };
	struct ec2_settings es = { 0 };
	const char *region;
	char url[512];

	d->oc_user = secret_opencast_user(env_get);
	d->oc_password = secret_opencast_password(env_get);
	if (d->oc_user == NULL || d->oc_password == NULL) {
		utf8_snprintf(err, errlen,
		    "no Opencast user or password: give the "
		    "credentials opencast-user and opencast-password, or "
		    "OPENCAST_USER and OPENCAST_PASSWORD");
		return -1;
	}
	d->http = http_client_new(d->loop);
	{
		char *token = secret_zadara_token(env_get);

		if (token) {
			struct zadara_settings zs = {
				.base_url = d->config->zadara_url,
				.token = token,
			};

			d->zadara = zadara_client_new(d->loop, d->http, &zs);
			free_secret(token);
		}
	}
	d->creds = aws_creds_provider_new(d->loop, d->http, &cs, err, errlen);
	if (d->creds == NULL)
		return -1;
	region = aws_resolve_region(d->config->region,
	    aws_creds_provider_region(d->creds), env_get);
	if (region == NULL) {
		utf8_snprintf(err, errlen, "no AWS region: set [aws] region, "
		    "AWS_REGION or a profile region");
		return -1;
	}
	if (aws_resolve_endpoint(d->config->endpoint, region, env_get, url,
	    sizeof(url)) != 0) {
		utf8_snprintf(err, errlen, "the EC2 endpoint URL is too long");
		return -1;
	}
	es.region = region;
	es.endpoint = url;
	es.retry = aws_retry_policy_default(env_get);
	d->ec2 = ec2_client_new(d->loop, d->http, d->creds, &es, err, errlen);
	if (d->ec2 == NULL)
		return -1;
	log_info("EC2 endpoint %s, region %s, credentials from %s", url,
	    region, aws_creds_provider_source(d->creds));
	return 0;
}

static void
make_clusters(struct daemon *d)
{
	struct cluster **tail = &d->clusters;

	for (size_t i = 0; i < d->config->nclusters; i++) {
		*tail = cluster_new(d, &d->config->clusters[i]);
		tail = &(*tail)->next;
	}
}

static void
refresh_all(struct daemon *d)
{
	for (struct cluster *c = d->clusters; c; c = c->next)
		cluster_refresh(c, NULL, NULL);
}

static int
open_control(struct main_ctx *m, char *err, size_t errlen)
{
	struct daemon *d = &m->d;
	int n = sd_listen_fds(1);

	d->control = control_new(d->loop, commands_dispatch, d);
	if (n > 1) {
		utf8_snprintf(err, errlen,
		    "expected one socket from systemd, got "
		    "%d", n);
		return -1;
	}
	if (n == 1) {
		const char *group = d->config->socket_group;
		struct group *g;

		log_info("serving the socket passed by systemd");
		/* The socket unit sets the file's group; who may change
		 * clusters is still [daemon] socket_group. */
		if (group[0] != '\0') {
			if ((g = getgrnam(group)) == NULL) {
				utf8_snprintf(err, errlen,
				    "socket_group \"%s\" "
				    "does not exist", group);
				return -1;
			}
			control_set_group(d->control, g->gr_gid);
		}
		return control_listen_fd(d->control, SD_LISTEN_FDS_START, err,
		    errlen);
	}
	return control_listen_path(d->control, m->socket_override ?
	    m->socket_override : d->config->socket, d->config->socket_group,
	    err, errlen);
}

/* Applies a new configuration all or nothing (SIGHUP). */
static void
reload(struct daemon *d)
{
	struct config *nc = NULL, *old = d->config;
	struct cluster *list = NULL, **tail = &list, *c;
	char err[1024];
	int64_t now = time_now_ms();

	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)(uv_hrtime() / 1000));
	if (config_load(d->config_path, &nc, err, sizeof(err)) != 0) {
		log_err("reload rejected, the old configuration stays in "
		    "force: %s", err);
		sd_notify(0, "READY=1");
		return;
	}
	/* A cluster that runs an operation cannot go away under it. */
	for (c = d->clusters; c; c = c->next) {
		if (c->op && config_cluster(nc, c->name) == NULL) {
			log_err("reload rejected, the old configuration stays "
			    "in force: cluster %s would no longer be managed "
			    "but an operation runs on it; reload again when it "
			    "has ended", c->name);
			config_free(nc);
			sd_notify(0, "READY=1");
			return;
		}
	}
	/* New and kept clusters in the new order; removed ones go. */
	for (size_t i = 0; i < nc->nclusters; i++) {
		c = cluster_find(d, nc->clusters[i].name);
		if (c) {
			struct cluster **pp = &d->clusters;

			while (*pp != c)
				pp = &(*pp)->next;
			*pp = c->next;
			cluster_reconfigure(c, &nc->clusters[i]);
		} else {
			c = cluster_new(d, &nc->clusters[i]);
			clog(LOG_NOTICE, c->name, "now managed");
		}
		c->next = NULL;
		*tail = c;
		tail = &c->next;
		events_add(&c->events, now, EVENT_CONFIG, LOG_INFO, NULL,
		    "configuration reloaded");
	}
	while ((c = d->clusters)) {
		d->clusters = c->next;
		clog(LOG_NOTICE, c->name, "no longer managed");
		cluster_free(c);
	}
	d->clusters = list;
	d->config = nc;
	log_set_level(nc->log_level);
	if (strcmp(old->region, nc->region) != 0 ||
	    strcmp(old->endpoint, nc->endpoint) != 0 ||
	    strcmp(old->profile, nc->profile) != 0 ||
	    strcmp(old->socket, nc->socket) != 0 ||
	    strcmp(old->socket_group, nc->socket_group) != 0)
		log_warnx("changes to [aws] and [daemon] socket settings take "
		    "effect after a restart");
	config_free(old);
	log_info("configuration reloaded: %zu clusters", nc->nclusters);
	refresh_all(d);
	sd_notify(0, "READY=1");
	daemon_notify_status(d);
}

/* Releases everything once the operations have reached a safe point. */
static void
finish_shutdown(struct main_ctx *m)
{
	struct daemon *d = &m->d;
	struct cluster *c;

	uv_close((uv_handle_t *)&m->shutdown_timer, NULL);
	control_free(d->control);
	d->control = NULL;
	while ((c = d->clusters)) {
		d->clusters = c->next;
		cluster_free(c);
	}
	ec2_client_free(d->ec2);
	zadara_client_free(d->zadara);
	aws_creds_provider_free(d->creds);
	http_client_free(d->http);
	d->zadara = NULL;
	d->ec2 = NULL;
	d->creds = NULL;
	d->http = NULL;
	uv_close((uv_handle_t *)&m->sig_term, NULL);
	uv_close((uv_handle_t *)&m->sig_int, NULL);
	uv_close((uv_handle_t *)&m->sig_hup, NULL);
}

/* Called by libuv while shutdown waits for interrupted operations to take
 * their nodes out of maintenance again. */
static void
on_shutdown_poll(uv_timer_t *t)
{
	struct main_ctx *m = t->data;
	size_t busy = 0;

	for (struct cluster *c = m->d.clusters; c; c = c->next)
		if (c->op)
			busy++;
	if (busy && uv_now(m->d.loop) - m->shutdown_at < SHUTDOWN_GRACE_MS)
		return;
	if (busy)
		log_err("%zu operation%s did not reach a safe point within "
		    "%d s; exiting anyway", busy, busy == 1 ? "" : "s",
		    SHUTDOWN_GRACE_MS / 1000);
	uv_timer_stop(t);
	finish_shutdown(m);
}

static void
shutdown_daemon(struct main_ctx *m)
{
	struct daemon *d = &m->d;

	if (d->stopping)
		return;
	d->stopping = true;
	sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
	log_info("shutting down");
	/* The watchdog is still pinged while the rest winds down, but it no
	 * longer keeps the loop alive; main() closes it at the end. */
	if (m->notify_timer_on)
		uv_unref((uv_handle_t *)&m->notify_timer);
	/* No new clients; operations in flight stop at a safe point: the
	 * nodes they put in maintenance are taken out again. */
	control_stop_listening(d->control);
	for (struct cluster *c = d->clusters; c; c = c->next)
		if (c->op)
			operation_abort(c->op, "the daemon is shutting down");
	m->shutdown_at = uv_now(d->loop);
	uv_timer_start(&m->shutdown_timer, on_shutdown_poll, 0, 20);
}

/* Called by libuv on SIGTERM, SIGINT and SIGHUP. */
static void
on_signal(uv_signal_t *s, int signum)
{
	struct main_ctx *m = s->data;

	if (signum == SIGHUP)
		reload(&m->d);
	else
		shutdown_daemon(m);
}

static void
on_walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct main_ctx m;
	struct daemon *d = &m.d;
	const char *path = CONFIG_DEFAULT_PATH;
	bool check_only = false;
	uv_loop_t loop;
	char err[1024];
	int ch, rc = 0;

	memset(&m, 0, sizeof(m));
	log_init("ec2-managerd", LOG_INFO);
	log_journal_setup();
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 's': m.socket_override = optarg; break;
		case 'C': check_only = true; break;
		case 'V':
			printf("ec2-managerd %s\n", EC2M_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (config_load(path, &d->config, err, sizeof(err)) != 0) {
		log_err("%s", err);
		return 1;
	}
	if (check_only) {
		printf("configuration OK: %s, %zu cluster%s\n", path,
		    d->config->nclusters, d->config->nclusters == 1 ? "" : "s");
		config_free(d->config);
		return 0;
	}
	log_set_level(d->config->log_level);
	d->config_path = xstrdup(path);
	d->started_ms = time_now_ms();
	xrand_seed(&d->rng, uv_hrtime() ^ ((uint64_t)getpid() << 32));
	raise_fd_limit();
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	xmlInitParser();
	uv_loop_init(&loop);
	d->loop = &loop;

	if (make_clients(d, err, sizeof(err)) != 0 ||
	    open_control(&m, err, sizeof(err)) != 0) {
		log_err("%s", err);
		rc = 1;
		d->stopping = true;
		control_free(d->control);
		ec2_client_free(d->ec2);
		zadara_client_free(d->zadara);
		aws_creds_provider_free(d->creds);
		http_client_free(d->http);
		goto out;
	}
	make_clusters(d);
	uv_signal_init(&loop, &m.sig_term);
	uv_signal_init(&loop, &m.sig_int);
	uv_signal_init(&loop, &m.sig_hup);
	uv_timer_init(&loop, &m.shutdown_timer);
	m.shutdown_timer.data = &m;
	m.sig_term.data = m.sig_int.data = m.sig_hup.data = &m;
	uv_signal_start(&m.sig_term, on_signal, SIGTERM);
	uv_signal_start(&m.sig_int, on_signal, SIGINT);
	uv_signal_start(&m.sig_hup, on_signal, SIGHUP);
	refresh_all(d);
	log_info("ready: %zu cluster%s", d->config->nclusters,
	    d->config->nclusters == 1 ? "" : "s");
	sd_notify(0, "READY=1");
	daemon_notify_status(d);
	start_notify_timer(&m);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (m.notify_timer_on)
		uv_close((uv_handle_t *)&m.notify_timer, NULL);
out:
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0) {
		log_err("internal: libuv handles left open at exit");
		uv_walk(&loop, on_walk_close, NULL);
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
		rc = 1;
	}
	free(d->oc_user);
	free_secret(d->oc_password);
	config_free(d->config);
	free(d->config_path);
	xmlCleanupParser();
	curl_global_cleanup();
	return rc;
}
