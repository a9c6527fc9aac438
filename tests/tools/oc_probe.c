/*
 * oc-probe: runs the daemon's Opencast client (digest auth through
 * libcurl on libuv, retries, shape-tolerant parsing) against a server and
 * prints each result as one JSON line, for the integration tests.  The user
 * and password come from the daemon's secret sources ($CREDENTIALS_DIRECTORY
 * or OPENCAST_USER / OPENCAST_PASSWORD and the Matterhorn-era names).
 *
 *   oc-probe --url URL [--timeout-ms MS] [--attempts N]
 *            [--source active|statistics] [--high-load TYPE,TYPE...]
 *            [--repeat N] [--interval-ms MS] [--free-client]
 *            [--shutdown-after-ms MS]
 *            me | hosts | jobs | maintenance HOST_URL on|off
 *
 * --repeat makes the call N times in a row on one client (each after the
 * last has been answered, --interval-ms apart).  --free-client frees the
 * client as soon as the first call has been made: the call must still be
 * answered.  --shutdown-after-ms shuts the HTTP client down (the daemon's
 * teardown) that long after the start: calls in flight are answered as
 * cancelled.
 *
 * Exit status: 0 success, 1 the call failed, 2 usage, 3 no credentials,
 * 4 the loop did not close cleanly.
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
#include "daemon/opencast.h"
#include "daemon/secrets.h"

static int status = 0;

/* What --repeat and the teardown options need. */
static struct {
	uv_loop_t	*loop;
	struct oc_client *oc;
	struct http_client *http;
	uv_timer_t	 timer;		/* the next round */
	uv_timer_t	 shutdown;
	const char	*cmd;
	const char	*host;		/* maintenance */
	bool		 on;
	enum oc_job_source src;
	struct oc_service_set set;
	int		 repeat;
	int		 done;
	long		 interval_ms;
} P;

static void next_round(void);

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

static void
print_error(const struct oc_error *err)
{
	status = 1;
	print_json(json_pack("{s:b, s:{s:s, s:I, s:i, s:s}}", "ok", 0,
	    "error", "kind", oc_err_kind_name(err->kind),
	    "http_status", (json_int_t)err->http_status,
	    "attempts", err->attempts, "message", err->message));
}

static void
on_done(void *arg, const struct oc_error *err)
{
	(void)arg;
	if (err)
		print_error(err);
	else
		print_json(json_pack("{s:b}", "ok", 1));
	next_round();
}

static void
on_hosts(void *arg, struct oc_hosts *h, const struct oc_error *err)
{
	json_t *arr;

	(void)arg;
	if (err) {
		print_error(err);
		next_round();
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < h->n; i++)
		json_array_append_new(arr, json_pack(
		    "{s:s, s:s?, s:s?, s:f, s:b, s:b, s:b}",
		    "base_url", h->v[i].base_url, "address", h->v[i].address,
		    "node_name", h->v[i].node_name,
		    "max_load", h->v[i].max_load, "online", h->v[i].online,
		    "active", h->v[i].active,
		    "maintenance", h->v[i].maintenance));
	print_json(json_pack("{s:b, s:o}", "ok", 1, "hosts", arr));
	oc_hosts_free(h);
	next_round();
}

static void
on_jobs(void *arg, struct oc_jobs *j, const struct oc_error *err)
{
	json_t *per_host;

	(void)arg;
	if (err) {
		print_error(err);
		next_round();
		return;
	}
	per_host = json_object();
	for (size_t i = 0; i < j->nhosts; i++)
		json_object_set_new(per_host, j->hosts[i].base_url,
		    json_integer(j->hosts[i].running));
	print_json(json_pack("{s:b, s:i, s:i, s:i, s:f, s:I, s:o}", "ok", 1,
	    "running", j->running, "queued", j->queued,
	    "queued_high_load", j->queued_high_load,
	    "queued_high_load_load", j->queued_high_load_load,
	    "jobs", (json_int_t)j->njobs, "running_per_host", per_host));
	oc_jobs_free(j);
	next_round();
}

/* Called by libuv: one call of the command. */
static void
on_round(uv_timer_t *t)
{
	(void)t;
	if (strcmp(P.cmd, "me") == 0)
		oc_check_me(P.oc, on_done, NULL);
	else if (strcmp(P.cmd, "hosts") == 0)
		oc_get_hosts(P.oc, on_hosts, NULL);
	else if (strcmp(P.cmd, "jobs") == 0)
		oc_get_jobs(P.oc, P.src, &P.set, on_jobs, NULL);
	else
		oc_set_maintenance(P.oc, P.host, P.on, on_done, NULL);
}

static void
next_round(void)
{
	if (++P.done < P.repeat && P.oc != NULL)
		uv_timer_start(&P.timer, on_round, (uint64_t)P.interval_ms, 0);
}

/* Called by libuv for --shutdown-after-ms. */
static void
on_shutdown(uv_timer_t *t)
{
	(void)t;
	http_client_shutdown(P.http);
}

static void
usage(void)
{
	fprintf(stderr, "usage: oc-probe --url URL [--timeout-ms MS] "
	    "[--attempts N] [--source active|statistics]\n"
	    "                [--high-load TYPE,...] [--repeat N] "
	    "[--interval-ms MS] [--free-client]\n"
	    "                [--shutdown-after-ms MS] me | hosts | jobs | "
	    "maintenance HOST_URL on|off\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "attempts", required_argument, NULL, 'a' },
		{ "source", required_argument, NULL, 's' },
		{ "high-load", required_argument, NULL, 'h' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "free-client", no_argument, NULL, 'f' },
		{ "shutdown-after-ms", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const default_types[] = {
		"org.opencastproject.composer",
		"org.opencastproject.inspection",
		"org.opencastproject.videoeditor",
		"org.opencastproject.videosegmenter",
	};
	struct oc_settings s = { 0 };
	enum oc_job_source src = OC_JOBS_ACTIVE;
	const char *types[32];
	struct oc_service_set set = { default_types, 4 };
	char *user, *password, *list = NULL;
	const char *cmd;
	struct http_client *http;
	struct oc_client *oc;
	uv_loop_t loop;
	bool free_client = false;
	long shutdown_after = -1;
	int c;

	P.repeat = 1;

	log_init("oc-probe", getenv("OC_PROBE_DEBUG") ? LOG_DEBUG : LOG_INFO);
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'u': s.base_url = optarg; break;
		case 't': s.timeout_ms = atol(optarg); break;
		case 'a': s.max_attempts = atoi(optarg); break;
		case 's':
			if (strcmp(optarg, "statistics") == 0)
				src = OC_JOBS_STATISTICS;
			else if (strcmp(optarg, "active") != 0)
				usage();
			break;
		case 'h':
			list = xstrdup(optarg);
			set.n = 0;
			for (char *t = strtok(list, ","); t && set.n < 32;
			    t = strtok(NULL, ","))
				types[set.n++] = t;
			set.types = types;
			break;
		case 'r': P.repeat = atoi(optarg); break;
		case 'i': P.interval_ms = atol(optarg); break;
		case 'f': free_client = true; break;
		case 'S': shutdown_after = atol(optarg); break;
		default: usage();
		}
	}
	if (s.base_url == NULL || optind >= argc)
		usage();
	cmd = argv[optind];
	if (strcmp(cmd, "maintenance") == 0 && (argc - optind != 3 ||
	    (strcmp(argv[optind + 2], "on") != 0 &&
	    strcmp(argv[optind + 2], "off") != 0)))
		usage();
	user = secret_opencast_user(env_get);
	password = secret_opencast_password(env_get);
	if (user == NULL || password == NULL) {
		print_json(json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error",
		    "kind", "config", "message", "no Opencast user or password "
		    "(credentials opencast-user/opencast-password or "
		    "OPENCAST_USER/OPENCAST_PASSWORD)"));
		return 3;
	}
	s.user = user;
	s.password = password;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	uv_loop_init(&loop);
	http = http_client_new(&loop);
	oc = oc_client_new(&loop, http, &s);
	free(user);
	free_secret(password);
	if (strcmp(cmd, "me") != 0 && strcmp(cmd, "hosts") != 0 &&
	    strcmp(cmd, "jobs") != 0 && strcmp(cmd, "maintenance") != 0)
		usage();
	P.loop = &loop;
	P.oc = oc;
	P.http = http;
	P.cmd = cmd;
	P.src = src;
	P.set = set;
	if (strcmp(cmd, "maintenance") == 0) {
		P.host = argv[optind + 1];
		P.on = strcmp(argv[optind + 2], "on") == 0;
	}
	uv_timer_init(&loop, &P.timer);
	uv_timer_init(&loop, &P.shutdown);
	on_round(&P.timer);
	if (free_client) {
		/* The call just made must be answered all the same. */
		oc_client_free(oc);
		P.oc = oc = NULL;
	}
	if (shutdown_after >= 0)
		uv_timer_start(&P.shutdown, on_shutdown,
		    (uint64_t)shutdown_after, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	/* The shutdown timer may not have fired: the calls ended first. */
	uv_close((uv_handle_t *)&P.timer, NULL);
	uv_close((uv_handle_t *)&P.shutdown, NULL);
	oc_client_free(oc);
	http_client_free(http);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0) {
		fprintf(stderr, "oc-probe: handles left open at exit\n");
		status = 4;
	}
	curl_global_cleanup();
	free(list);
	return status;
}
