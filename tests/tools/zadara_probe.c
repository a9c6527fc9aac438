/*
 * zadara-probe: runs the daemon's Zadara client (X-Token auth through
 * libcurl on libuv, retries, the state check before an action is sent
 * again, zadara_ensure's polling) against a portal and prints each result
 * as one JSON line, for the integration tests.  The account token comes
 * from the daemon's secret sources ($CREDENTIALS_DIRECTORY/zadara-token or
 * ZADARA_ACCOUNT_TOKEN).
 *
 *   zadara-probe --url URL [--timeout-ms MS] [--attempts N] [--backoff-s S]
 *                state ID | hibernate ID | restore ID |
 *                ensure ID up|down [--dry-run] [--interval-ms N]
 *                    [--polls N] [--cancel-at-poll N] [--cancel-after-ms N]
 *                [--free-client] [--shutdown-after-ms MS]
 *
 * Options may follow the command.  ensure prints a line
 * {"progress": {...}} per progress report before its result.  With
 * --cancel-at-poll the ensure is cancelled from its progress callback at
 * that poll of the target wait; with --cancel-after-ms from a timer.  A
 * cancelled ensure prints {"cancelled": true}.  --free-client frees the
 * client as soon as the call has been made (the call must still be
 * answered); --shutdown-after-ms shuts the HTTP client down (the daemon's
 * teardown) that long after the start, which answers the call as cancelled.
 *
 * Exit status: 0 success (or cancelled), 1 the call failed, 2 usage, 3 no
 * token, 4 the loop did not close cleanly.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "daemon/http.h"
#include "daemon/secrets.h"
#include "daemon/zadara.h"

static int status = 0;
static struct zadara_call *pending;
static int cancel_at_poll = -1;
static uv_timer_t cancel_timer;
static uv_timer_t shutdown_timer;
static struct http_client *http;

static const char *
env_get(const char *name)
{
	return getenv(name);
}

static void
print_json(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);

	puts(s);
	fflush(stdout);
	free(s);
	json_decref(o);
}

static json_t *
vpsa_json(const struct zadara_vpsa *v)
{
	if (v == NULL)
		return json_null();
	return json_pack("{s:s, s:s, s:s, s:s}", "id", v->id, "name",
	    v->name, "status", v->status, "state",
	    zadara_state_name(v->state));
}

static json_t *
error_json(const struct zadara_error *err)
{
	return json_pack("{s:s, s:I, s:i, s:s}", "kind",
	    zadara_err_kind_name(err->kind), "http_status",
	    (json_int_t)err->http_status, "attempts", err->attempts,
	    "message", err->message);
}

static void
finished(void)
{
	pending = NULL;
	uv_timer_stop(&cancel_timer);
}

static void
on_vpsa(void *arg, const struct zadara_vpsa *v, const struct zadara_error *err)
{
	(void)arg;
	finished();
	if (err) {
		status = 1;
		print_json(json_pack("{s:b, s:o}", "ok", 0, "error",
		    error_json(err)));
		return;
	}
	print_json(json_pack("{s:b, s:o}", "ok", 1, "vpsa", vpsa_json(v)));
}

static void
on_action(void *arg, const char *response, const struct zadara_error *err)
{
	(void)arg;
	finished();
	if (err) {
		status = 1;
		print_json(json_pack("{s:b, s:o}", "ok", 0, "error",
		    error_json(err)));
		return;
	}
	print_json(json_pack("{s:b, s:s}", "ok", 1, "response", response));
}

static const char *
phase_name(enum zadara_phase phase)
{
	switch (phase) {
	case ZADARA_PHASE_SETTLE:	return "settle";
	case ZADARA_PHASE_ACTION:	return "action";
	case ZADARA_PHASE_TARGET:	return "target";
	}
	return "?";
}

static void
on_progress(void *arg, const struct zadara_progress *p)
{
	(void)arg;
	print_json(json_pack("{s:{s:s, s:i, s:i, s:s, s:s, s:s}}", "progress",
	    "phase", phase_name(p->phase), "poll", p->poll, "max_polls",
	    p->max_polls, "status", p->vpsa->status, "state",
	    zadara_state_name(p->vpsa->state), "message", p->message));
	if (p->phase == ZADARA_PHASE_TARGET && p->poll == cancel_at_poll) {
		zadara_call_cancel(pending);
		finished();
		print_json(json_pack("{s:b}", "cancelled", 1));
	}
}

static void
on_ensure(void *arg, const struct zadara_result *r,
    const struct zadara_error *err)
{
	static const char *const outcomes[] = { "already", "changed",
	    "would_change" };

	(void)arg;
	finished();
	if (err) {
		status = 1;
		print_json(json_pack("{s:b, s:o, s:i, s:o}", "ok", 0, "error",
		    error_json(err), "polls", r->polls, "vpsa",
		    vpsa_json(r->vpsa)));
		return;
	}
	print_json(json_pack("{s:b, s:s, s:s, s:i, s:o}", "ok", 1, "outcome",
	    outcomes[r->outcome], "message", r->message, "polls", r->polls,
	    "vpsa", vpsa_json(r->vpsa)));
}

static void
on_cancel_timer(uv_timer_t *t)
{
	(void)t;
	if (pending == NULL)
		return;
	zadara_call_cancel(pending);
	finished();
	print_json(json_pack("{s:b}", "cancelled", 1));
}

/* Called by libuv for --shutdown-after-ms. */
static void
on_shutdown(uv_timer_t *t)
{
	(void)t;
	http_client_shutdown(http);
}

static void
usage(void)
{
	fprintf(stderr, "usage: zadara-probe --url URL [--timeout-ms MS] "
	    "[--attempts N] [--backoff-s S]\n"
	    "         state ID | hibernate ID | restore ID |\n"
	    "         ensure ID up|down [--dry-run] [--interval-ms N] "
	    "[--polls N]\n"
	    "             [--cancel-at-poll N] [--cancel-after-ms N]\n"
	    "         [--free-client] [--shutdown-after-ms MS]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "attempts", required_argument, NULL, 'a' },
		{ "backoff-s", required_argument, NULL, 'b' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "polls", required_argument, NULL, 'p' },
		{ "cancel-at-poll", required_argument, NULL, 'c' },
		{ "cancel-after-ms", required_argument, NULL, 'C' },
		{ "free-client", no_argument, NULL, 'f' },
		{ "shutdown-after-ms", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct zadara_settings s = { 0 };
	struct zadara_wait w = { 0 };
	bool dry_run = false;
	long cancel_after = -1, shutdown_after = -1;
	bool free_client = false;
	const char *cmd, *id;
	char *token;
	struct zadara_client *zc;
	uv_loop_t loop;
	int c, nargs;

	log_init("zadara-probe", getenv("ZADARA_PROBE_DEBUG") ? LOG_DEBUG :
	    LOG_INFO);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': s.base_url = optarg; break;
		case 't': s.timeout_ms = atol(optarg); break;
		case 'a': s.max_attempts = atoi(optarg); break;
		case 'b': s.backoff_base_s = atof(optarg); break;
		case 'n': dry_run = true; break;
		case 'i': w.interval_ms = atol(optarg); break;
		case 'p': w.max_polls = atoi(optarg); break;
		case 'c': cancel_at_poll = atoi(optarg); break;
		case 'C': cancel_after = atol(optarg); break;
		case 'f': free_client = true; break;
		case 'S': shutdown_after = atol(optarg); break;
		default: usage();
		}
	}
	nargs = argc - optind;
	if (s.base_url == NULL || nargs < 2)
		usage();
	cmd = argv[optind];
	id = argv[optind + 1];
	if (strcmp(cmd, "ensure") == 0) {
		if (nargs != 3 || (strcmp(argv[optind + 2], "up") != 0 &&
		    strcmp(argv[optind + 2], "down") != 0))
			usage();
	} else if (nargs != 2 || (strcmp(cmd, "state") != 0 &&
	    strcmp(cmd, "hibernate") != 0 && strcmp(cmd, "restore") != 0)) {
		usage();
	}
	token = secret_zadara_token(env_get);
	if (token == NULL) {
		print_json(json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error",
		    "kind", "config", "message", "no Zadara account token "
		    "(credential zadara-token or ZADARA_ACCOUNT_TOKEN)"));
		return 3;
	}
	s.token = token;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	uv_loop_init(&loop);
	uv_timer_init(&loop, &cancel_timer);
	uv_timer_init(&loop, &shutdown_timer);
	http = http_client_new(&loop);
	zc = zadara_client_new(&loop, http, &s);
	free_secret(token);
	if (strcmp(cmd, "state") == 0)
		pending = zadara_get_state(zc, id, on_vpsa, NULL);
	else if (strcmp(cmd, "hibernate") == 0)
		pending = zadara_hibernate(zc, id, on_action, NULL);
	else if (strcmp(cmd, "restore") == 0)
		pending = zadara_restore(zc, id, on_action, NULL);
	else
		pending = zadara_ensure(zc, id,
		    strcmp(argv[optind + 2], "up") == 0 ? ZADARA_TARGET_UP :
		    ZADARA_TARGET_DOWN, &w, dry_run, on_progress, on_ensure,
		    NULL);
	if (cancel_after >= 0)
		uv_timer_start(&cancel_timer, on_cancel_timer,
		    (uint64_t)cancel_after, 0);
	if (free_client) {
		/* The call just made must be answered all the same. */
		zadara_client_free(zc);
		zc = NULL;
	}
	if (shutdown_after >= 0)
		uv_timer_start(&shutdown_timer, on_shutdown,
		    (uint64_t)shutdown_after, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	zadara_client_free(zc);
	http_client_free(http);
	uv_close((uv_handle_t *)&cancel_timer, NULL);
	uv_close((uv_handle_t *)&shutdown_timer, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0) {
		fprintf(stderr, "zadara-probe: handles left open at exit\n");
		status = 4;
	}
	curl_global_cleanup();
	return status;
}
