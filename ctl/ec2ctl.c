/*
 * main() of ec2ctl: parse the whole command line, connect once, then send
 * the requests one after another on that connection, showing each one's
 * events and result, and stop at the first failure.  The exit status says
 * whether the daemon could not be reached (69), refused the caller (77) or
 * said no (1).  An operation belongs to the daemon, so an interrupted
 * ec2ctl leaves it running.
 */
#include "ctl/ec2ctl.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/timeutil.h"

/* Generous bounds on reaching the daemon; the wait for a reply has none,
 * since an operation may take many minutes. */
#define CONNECT_TIMEOUT_MS	30000
#define SEND_TIMEOUT_MS		30000
/* --version only asks in passing, so it does not wait long. */
#define VERSION_TIMEOUT_MS	5000
#define WATCH_INTERVAL_MS	2000

static volatile sig_atomic_t interrupted;

struct session {
	const struct ctl_invocation *inv;
	const struct ctl_output *out;	/* for people, or JSON lines */
	struct ctl_display *d;
	struct ctl_conn conn;
	int64_t	 next_id;
};

/* Called on SIGINT; the waits in client.c notice the flag. */
static void
on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void
catch_sigint(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: poll() must return so the flag is seen. */
	sigaction(SIGINT, &sa, NULL);
}

static const char *
socket_path(const struct ctl_invocation *inv)
{
	const char *env = getenv(PROTO_SOCKET_ENV);

	if (inv->socket != NULL)
		return inv->socket;
	if (env != NULL && env[0] != '\0')
		return env;
	return PROTO_DEFAULT_SOCKET;
}

/* Reports a failure to talk to the daemon (not a refusal) and returns its
 * exit status. */
static int
fail(struct session *s, int rc, const char *err)
{
	output_end_live(s->d);
	if (rc != CTL_EXIT_INTERRUPTED) {
		fflush(s->d->out);
		fprintf(s->d->err, "ec2ctl: %s\n", err);
	}
	return rc;
}

/* Handles the final reply msg (line as received) to request r with id.
 * Returns the exit status. */
static int
finish(struct session *s, const struct ctl_request *r, int64_t id,
    const char *line, json_t *msg)
{
	json_t *ok = json_object_get(msg, "ok");
	json_t *idv = json_object_get(msg, "id");
	json_t *error;
	const char *code, *message;
	char err[128];

	if (!json_is_boolean(ok) || !json_is_integer(idv))
		return fail(s, CTL_EXIT_FAILED, "invalid reply from the "
		    "daemon: neither an event nor a reply with \"ok\" and "
		    "\"id\"");
	if (json_is_true(ok)) {
		if (json_integer_value(idv) != id) {
			snprintf(err, sizeof(err), "invalid reply from the "
			    "daemon: it answers request %lld, not %lld",
			    (long long)json_integer_value(idv),
			    (long long)id);
			return fail(s, CTL_EXIT_FAILED, err);
		}
		s->out->result(s->d, r, line, json_object_get(msg, "result"));
		return CTL_EXIT_OK;
	}
	/* A refusal is reported whatever its id: a request the daemon could
	 * not read may come back with id 0. */
	error = json_object_get(msg, "error");
	code = json_string_value(json_object_get(error, "code"));
	message = json_string_value(json_object_get(error, "message"));
	s->out->error(s->d, line, code, message);
	if (code != NULL &&
	    proto_err_from_name(code) == PROTO_ERR_PERMISSION_DENIED)
		return CTL_EXIT_NOPERM;
	return CTL_EXIT_FAILED;
}

/* Sends request i and shows what comes back up to its final reply.
 * Returns the exit status. */
static int
run_request(struct session *s, size_t i, int timeout_ms)
{
	const struct ctl_request *r = &s->inv->reqs[i];
	int64_t id = s->next_id++;
	char *req = ctl_request_line(s->inv, i, id);
	char err[512];
	int rc;

	/* One shape for machines whatever the command: JSON lines. */
	s->out = ctl_request_json(s->inv, r, s->d->out_tty) ? &output_json :
	    &output_human;
	rc = client_send(&s->conn, req, SEND_TIMEOUT_MS, err, sizeof(err));
	free(req);
	if (rc != 0)
		return fail(s, rc, err);
	for (;;) {
		json_error_t jerr;
		const char *line;
		json_t *msg;
		size_t len;

		rc = client_read_line(&s->conn, timeout_ms, &line, &len, err,
		    sizeof(err));
		if (rc != 0)
			return fail(s, rc, err);
		msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
		if (msg == NULL || !json_is_object(msg)) {
			snprintf(err, sizeof(err), "invalid reply from the "
			    "daemon: %s", msg ? "not a JSON object" :
			    jerr.text);
			json_decref(msg);
			return fail(s, CTL_EXIT_FAILED, err);
		}
		if (json_object_get(msg, "event") != NULL) {
			s->out->event(s->d, line, msg, time_now_ms());
			json_decref(msg);
			continue;
		}
		rc = finish(s, r, id, line, msg);
		json_decref(msg);
		return rc;
	}
}

/* status --watch: the same request every WATCH_INTERVAL_MS until Ctrl-C,
 * which ends it successfully. */
static int
run_watch(struct session *s, size_t i)
{
	char err[512];
	int rc;

	for (;;) {
		rc = run_request(s, i, -1);
		if (rc == 0) {
			rc = client_pause(&s->conn, WATCH_INTERVAL_MS, err,
			    sizeof(err));
			if (rc != 0)
				rc = fail(s, rc, err);
		}
		if (rc == CTL_EXIT_INTERRUPTED)
			return CTL_EXIT_OK;
		if (rc != 0)
			return rc;
	}
}

static void
display_init(struct ctl_display *d, const struct ctl_invocation *inv)
{
	struct winsize ws;

	memset(d, 0, sizeof(*d));
	d->out = stdout;
	d->err = stderr;
	d->out_tty = isatty(STDOUT_FILENO);
	d->err_tty = isatty(STDERR_FILENO);
	d->color_out = output_color_wanted(d->out_tty, getenv("NO_COLOR"),
	    getenv("TERM"));
	d->color_err = output_color_wanted(d->err_tty, getenv("NO_COLOR"),
	    getenv("TERM"));
	/* -j: JSON alone; piped or -f json: people still see events. */
	d->echo = !inv->json;
	if (d->err_tty && ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0)
		d->err_cols = ws.ws_col;
	d->level = inv->level;
	d->cluster = inv->cluster;
	d->waited = inv->wait;
	d->dry_run = inv->dry_run;
}

static int
run(const struct ctl_invocation *inv, const char *path)
{
	struct ctl_display d;
	struct session s = { .inv = inv, .d = &d, .next_id = 1 };
	char err[512];
	int rc;

	display_init(&d, inv);
	s.conn.interrupted = &interrupted;
	rc = client_connect(&s.conn, path, CONNECT_TIMEOUT_MS, err,
	    sizeof(err));
	if (rc != 0) {
		fail(&s, rc, err);
		goto out;
	}
	for (size_t i = 0; i < inv->nreqs && rc == 0; i++) {
		if (inv->reqs[i].watch) {
			rc = run_watch(&s, i);
			continue;
		}
		rc = run_request(&s, i, -1);
		/* events --follow runs until Ctrl-C: that is its end. */
		if (rc == CTL_EXIT_INTERRUPTED && inv->reqs[i].follow)
			rc = CTL_EXIT_OK;
		else if (rc == CTL_EXIT_INTERRUPTED &&
		    !(inv->reqs[i].cmd->flags & CMD_F_READONLY))
			fprintf(stderr, "ec2ctl: interrupted; the operation "
			    "goes on in the daemon (see \"ec2ctl %s status\")"
			    "\n", inv->cluster ? inv->cluster : "CLUSTER");
		else if (rc == CTL_EXIT_INTERRUPTED)
			fprintf(stderr, "ec2ctl: interrupted\n");
	}
out:
	client_close(&s.conn);
	return rc;
}

/* --version: ours, and the daemon's if it answers soon. */
static int
show_version(const struct ctl_invocation *inv, const char *path)
{
	struct ctl_invocation q = *inv;
	/* Text even when piped: --version is for people. */
	struct ctl_request r = { .cmd = &proto_cmds[PROTO_CMD_VERSION],
	    .format = CTL_FORMAT_TABLE };
	struct ctl_display d;
	struct session s = { .inv = &q, .out = &output_human, .d = &d,
	    .next_id = 1 };
	char err[512];

	printf("ec2ctl %s\n", EC2M_VERSION);
	fflush(stdout);
	display_init(&d, inv);
	/* Only the daemon's version is wanted here: no events, no JSON, and
	 * no complaint when it does not answer. */
	q.json = false;
	q.level = d.level = PROTO_LEVEL_ERROR;
	q.cluster = NULL;
	q.reqs = &r;
	q.nreqs = 1;
	d.err = fopen("/dev/null", "w");
	if (d.err == NULL)
		return CTL_EXIT_OK;
	s.conn.interrupted = &interrupted;
	r.args = json_object();
	if (client_connect(&s.conn, path, VERSION_TIMEOUT_MS, err,
	    sizeof(err)) == 0)
		run_request(&s, 0, VERSION_TIMEOUT_MS);
	client_close(&s.conn);
	json_decref(r.args);
	fclose(d.err);
	return CTL_EXIT_OK;
}

int
main(int argc, char *argv[])
{
	struct ctl_invocation inv;
	char err[512];
	int rc;

	if (ctl_parse(argc, argv, &inv, err, sizeof(err)) != 0) {
		fprintf(stderr, "ec2ctl: %s\n", err);
		ctl_usage_short(stderr);
		ctl_invocation_release(&inv);
		return CTL_EXIT_USAGE;
	}
	catch_sigint();
	if (inv.help) {
		/* Offline: the socket is never touched. */
		if (inv.help_cmd != NULL)
			ctl_usage_command(stdout, inv.help_cmd);
		else
			ctl_usage(stdout);
		rc = CTL_EXIT_OK;
	} else if (inv.version) {
		rc = show_version(&inv, socket_path(&inv));
	} else {
		rc = run(&inv, socket_path(&inv));
	}
	ctl_invocation_release(&inv);
	return rc;
}
