/*
 * ec2-managerd: the process around the daemon's core (core.c).  main()
 * loads and checks the configuration, builds the core (clients and
 * clusters) and the control socket in that order, refreshes every
 * cluster, tells systemd it is ready and runs the loop; signals reload or
 * stop it; shutdown releases everything in reverse order and requires the
 * loop to close cleanly.
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
#include "daemon/awscreds.h"
#include "daemon/commands.h"
#include "daemon/control.h"
#include "daemon/cluster.h"
#include "daemon/core.h"
#include "daemon/daemon.h"
#include "daemon/model.h"
#include "daemon/preflight.h"

/* How often STATUS= is brought up to date at least; the watchdog may ask
 * for more. */
#define STATUS_INTERVAL_MS	5000

/* How long shutdown waits for interrupted operations to take the nodes
 * they put in maintenance out of it again. */
#define SHUTDOWN_GRACE_MS 20000
/* Tests shorten it (whole seconds, 1 to 600); see ec2-managerd(8). */
#define SHUTDOWN_GRACE_ENV "EC2M_SHUTDOWN_GRACE_S"

struct main_ctx {
	struct daemon	 d;
	uv_signal_t	 sig_term;
	uv_signal_t	 sig_int;
	uv_signal_t	 sig_hup;
	uv_timer_t	 shutdown_timer;
	uint64_t	 shutdown_at;
	uint64_t	 grace_ms;
	uv_timer_t	 notify_timer;	/* WATCHDOG=1 and STATUS= */
	bool		 notify_timer_on;
	bool		 watchdog;
	const char	*socket_override;
};

/* The short form follows a usage error; --help adds where the settings
 * and secrets come from and what the exit status means. */
static void
usage(FILE *f, bool full)
{
	const char *slash = strrchr(CONFIG_DEFAULT_PATH, '/');
	int dirlen = slash ? (int)(slash - CONFIG_DEFAULT_PATH) : 1;

	fprintf(f, "usage: ec2-managerd [-c PATH] [--socket PATH] "
	    "[--check-config] [--version]\n"
	    "                    [--help]\n");
	if (!full) {
		fprintf(f, "Try \"ec2-managerd --help\" for more.\n");
		return;
	}
	fprintf(f, "Keeps Opencast clusters on EC2 at the right size; "
	    "ec2ctl(1) talks to it.\n\n"
	    "  -c, --config PATH   configuration file (default below)\n"
	    "      --socket PATH   control socket (overrides [daemon] socket)\n"
	    "      --check-config  check everything start-up checks, report "
	    "every error,\n"
	    "                      and exit\n"
	    "      --version       show the version\n"
	    "  -h, --help          show this help\n\n");
	fprintf(f, "Configuration: the file given with -c, by default\n"
	    "  %s\nthen the drop-ins conf.d/*.conf in its directory, by "
	    "default\n  %.*s/conf.d/*.conf\nin lexical order, a later value "
	    "winning.  SIGHUP (systemctl reload) reads them\nagain.  See "
	    "ec2-manager.conf(5).\n\n", CONFIG_DEFAULT_PATH, dirlen,
	    slash ? CONFIG_DEFAULT_PATH : ".");
	fprintf(f, "Secrets never go in the configuration.  Each is read "
	    "from the file of that name\nin $CREDENTIALS_DIRECTORY "
	    "(systemd LoadCredential=), else from the first\nenvironment "
	    "variable set:\n"
	    "  opencast-user      OPENCAST_USER, MATTERHORN_ADMIN_SERVER_USER "
	    "(old name)\n"
	    "  opencast-password  OPENCAST_PASSWORD, "
	    "MATTERHORN_ADMIN_SERVER_PASS (old name)\n"
	    "  zadara-token       ZADARA_ACCOUNT_TOKEN, ZADARA_TOKEN (old "
	    "name)\n"
	    "  loggly-token       LOGGLY_TOKEN\n"
	    "AWS credentials are found as the AWS SDKs find them: the "
	    "environment\n(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
	    "AWS_SESSION_TOKEN), the shared\nfiles (~/.aws/credentials, "
	    "~/.aws/config, AWS_SHARED_CREDENTIALS_FILE,\nAWS_CONFIG_FILE, "
	    "AWS_PROFILE), then the instance role (IMDSv2).\n\n");
	fprintf(f, "Exit status: 0 stopped cleanly (SIGTERM) or, with "
	    "--check-config, the\nconfiguration is accepted; 1 the "
	    "configuration or start-up failed (the reasons\nare on stderr "
	    "and in the journal); 2 usage error.\n");
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

/* Brings systemd's STATUS= line up to date (clusters, workers online,
 * ...) if it changed.  Cheap, and a no-op outside systemd. */
static void
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

/* Serves the control socket; group is the socket group in force
 * (preflight_run(): "" for none). */
static int
open_control(struct main_ctx *m, const char *group, char *err, size_t errlen)
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
			control_set_group(d->control, g->gr_gid, group);
		}
		return control_listen_fd(d->control, SD_LISTEN_FDS_START, err,
		    errlen);
	}
	return control_listen_path(d->control, m->socket_override ?
	    m->socket_override : d->config->socket, group, err, errlen);
}

/*
 * The one check of start-up, SIGHUP and --check-config: the files (every
 * error with its file and line), then what the settings need from the
 * machine (preflight.h), run on what the files gave even when some lines
 * were wrong, so that every problem is reported at once.  Returns the
 * number of problems, each a line of err (no newline at the end); *cfg is
 * the configuration when there are none, else NULL.  pf is filled either
 * way.
 */
static size_t
load_and_check(const char *path, struct config **cfg, struct preflight *pf,
    char *err, size_t errlen)
{
	struct config *c = NULL;
	size_t n = 0, nm = 0;

	memset(pf, 0, sizeof(*pf));
	if (config_load_partial(path, &c, err, errlen) != 0) {
		n = 1;
		for (const char *p = err; (p = strchr(p, '\n')) != NULL; p++)
			n++;
	}
	if (c != NULL)
		nm = preflight_run(c, aws_getenv, pf);
	if (nm > 0) {
		size_t len = strlen(err);

		/* After the files' errors, without the last newline. */
		utf8_snprintf(err + len, errlen - len, "%s%.*s", len ? "\n" :
		    "", (int)strlen(pf->errors) - 1, pf->errors);
	}
	if (n + nm > 0) {
		config_free(c);
		c = NULL;
	}
	*cfg = c;
	return n + nm;
}

/* Logs each line of a multi-line error. */
static void
log_err_lines(const char *text)
{
	const char *p = text, *nl;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		if (nl == NULL) {
			log_err("%s", p);
			return;
		}
		log_err("%.*s", (int)(nl - p), p);
		p = nl + 1;
	}
}

/* --check-config: load_and_check(), with what it found on stdout and the
 * problems on stderr.  Returns the exit status. */
static int
check_config(const char *path)
{
	struct config *cfg = NULL;
	struct preflight pf;
	char err[16384];
	size_t n;

	n = load_and_check(path, &cfg, &pf, err, sizeof(err));
	if (pf.report != NULL)
		fputs(pf.report, stdout);
	fflush(stdout);
	if (n > 0)
		fprintf(stderr, "%s\nconfiguration rejected: %s: %zu error%s\n",
		    err, path, n, n == 1 ? "" : "s");
	else
		printf("configuration OK: %s, %zu cluster%s\n", path,
		    cfg->nclusters, cfg->nclusters == 1 ? "" : "s");
	preflight_clear(&pf);
	config_free(cfg);
	return n > 0;
}

/* Applies a new configuration all or nothing (SIGHUP). */
static void
reload(struct daemon *d)
{
	struct config *nc = NULL;
	struct preflight pf = { 0 };
	char err[4096];

	if (d->stopping) {
		log_notice("reload ignored: the daemon is shutting down");
		return;
	}
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)(uv_hrtime() / 1000));
	if (load_and_check(d->config_path, &nc, &pf, err, sizeof(err)) > 0 ||
	    daemon_core_reload(d, nc, err, sizeof(err)) != 0) {
		preflight_clear(&pf);
		config_free(nc);
		daemon_core_note_reload(d, false, err);
		clog_ctx(LOG_ERR, LOG_CTX(.event = LOG_EV_RELOAD_REJECTED),
		    "reload rejected, the old configuration stays in "
		    "force: %s", err);
		sd_notify(0, "READY=1");
		return;
	}
	clog_ctx(LOG_INFO, LOG_CTX(.event = LOG_EV_RELOAD_ACCEPTED),
	    "configuration reloaded: %zu clusters", d->config->nclusters);
	preflight_clear(&pf);
	daemon_core_note_reload(d, true, NULL);
	daemon_core_refresh_all(d);
	sd_notify(0, "READY=1");
	daemon_notify_status(d);
}

/* Releases everything once the operations have reached a safe point. */
static void
finish_shutdown(struct main_ctx *m)
{
	struct daemon *d = &m->d;

	uv_close((uv_handle_t *)&m->shutdown_timer, NULL);
	control_free(d->control);
	d->control = NULL;
	daemon_core_release(d);
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
	size_t busy = daemon_core_busy(&m->d);

	if (busy && uv_now(m->d.loop) - m->shutdown_at < m->grace_ms)
		return;
	if (busy) {
		/* Ended through their failure path now, while the control
		 * socket is still open: their clients get the answer on
		 * this turn, and the next poll releases everything. */
		log_err("%zu operation%s did not reach a safe point within "
		    "%d s; ending %s now", busy, busy == 1 ? "" : "s",
		    (int)(m->grace_ms / 1000), busy == 1 ? "it" : "them");
		daemon_core_cancel_operations(&m->d);
		return;
	}
	uv_timer_stop(t);
	finish_shutdown(m);
}

/* How long shutdown waits for operations to reach a safe point. */
static uint64_t
grace_ms(void)
{
	const char *v = getenv(SHUTDOWN_GRACE_ENV);
	char *end;
	long s;

	if (v == NULL || *v == '\0')
		return SHUTDOWN_GRACE_MS;
	s = strtol(v, &end, 10);
	if (*end != '\0' || s < 1 || s > 600) {
		log_warnx("%s=%s is not 1 to 600 seconds; using %d",
		    SHUTDOWN_GRACE_ENV, v, SHUTDOWN_GRACE_MS / 1000);
		return SHUTDOWN_GRACE_MS;
	}
	return (uint64_t)s * 1000;
}

static void
shutdown_daemon(struct main_ctx *m)
{
	struct daemon *d = &m->d;

	if (d->stopping)
		return;
	sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
	log_info("shutting down");
	/* The watchdog is still pinged while the rest winds down, but it no
	 * longer keeps the loop alive; main() closes it at the end. */
	if (m->notify_timer_on)
		uv_unref((uv_handle_t *)&m->notify_timer);
	/* No new clients, no new operation or evaluation; operations in
	 * flight stop at a safe point: the nodes they put in maintenance are
	 * taken out again. */
	control_stop_listening(d->control);
	daemon_core_stop(d);
	m->shutdown_at = uv_now(d->loop);
	m->grace_ms = grace_ms();
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
	struct config *cfg = NULL;
	struct preflight pf = { 0 };
	uv_loop_t loop;
	char err[16384];
	int ch, rc = 0;

	memset(&m, 0, sizeof(m));
	log_init("ec2-managerd", LOG_INFO);
	log_journal_setup();
	log_fields_file_setup();
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 's': m.socket_override = optarg; break;
		case 'C': check_only = true; break;
		case 'V':
			printf("ec2-managerd %s\n", EC2M_VERSION);
			return 0;
		case 'h':
			usage(stdout, true);
			return 0;
		default:
			usage(stderr, false);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr, false);
		return 2;
	}
	if (check_only)
		return check_config(path);
	if (load_and_check(path, &cfg, &pf, err, sizeof(err)) > 0) {
		log_err_lines(err);
		preflight_clear(&pf);
		return 1;
	}
	if (pf.group_missing)
		log_notice("socket_group: the default group ec2-manager does "
		    "not exist; only root and the daemon's user may change "
		    "clusters");
	log_set_level(cfg->log_level);
	d->config_path = xstrdup(path);
	d->started_ms = time_now_ms();
	xrand_seed(&d->rng, uv_hrtime() ^ ((uint64_t)getpid() << 32));
	raise_fd_limit();
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	xmlInitParser();
	uv_loop_init(&loop);

	if (daemon_core_init(d, &loop, cfg, err, sizeof(err)) != 0) {
		log_err("%s", err);
		preflight_clear(&pf);
		config_free(cfg);
		rc = 1;
		goto out;
	}
	rc = open_control(&m, pf.group, err, sizeof(err));
	preflight_clear(&pf);
	if (rc != 0) {
		log_err("%s", err);
		rc = 1;
		d->stopping = true;
		control_free(d->control);
		daemon_core_release(d);
		goto out;
	}
	uv_signal_init(&loop, &m.sig_term);
	uv_signal_init(&loop, &m.sig_int);
	uv_signal_init(&loop, &m.sig_hup);
	uv_timer_init(&loop, &m.shutdown_timer);
	m.shutdown_timer.data = &m;
	m.sig_term.data = m.sig_int.data = m.sig_hup.data = &m;
	uv_signal_start(&m.sig_term, on_signal, SIGTERM);
	uv_signal_start(&m.sig_int, on_signal, SIGINT);
	uv_signal_start(&m.sig_hup, on_signal, SIGHUP);
	daemon_core_refresh_all(d);
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
	free(d->config_path);
	log_fields_file_close();
	xmlCleanupParser();
	curl_global_cleanup();
	return rc;
}
