/*
 * ec2-probe: runs the daemon's EC2 client (credential chain, SigV4, HTTP on
 * libuv, retries, XML parsing) against an endpoint and prints each result as
 * one JSON line, so that integration tests can check the real C code
 * against the EC2 emulator.  On exit it closes every libuv handle and fails
 * if the loop does not close cleanly.
 *
 *   ec2-probe [--region R] [--endpoint URL] [--profile P] [--page-size N]
 *             [--repeat N] [--interval-ms MS] [--timeout-ms MS]
 *             [--free-client] [--shutdown-after-ms MS] COMMAND ARGS
 *   COMMAND: describe PREFIX | start [--dry-run] ID... | stop [--dry-run] ID...
 *
 * --free-client frees the client as soon as the first call has been made
 * (that call must still be answered; no more rounds are made).
 * --shutdown-after-ms shuts the HTTP client down (the daemon's teardown)
 * that long after the start, which answers a call in flight as cancelled.
 *
 * Exit status: 0 every call succeeded, 1 a call failed, 2 usage, 3 set-up
 * (no credentials, bad endpoint), 4 the loop did not close cleanly.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "daemon/aws.h"
#include "daemon/awscreds.h"
#include "daemon/ec2.h"
#include "daemon/http.h"

struct probe {
	uv_loop_t	 loop;
	uv_timer_t	 timer;
	uv_timer_t	 shutdown;
	struct http_client *http;
	struct aws_creds_provider *creds;
	struct ec2_client *ec2;		/* NULL once freed */
	const struct ec2_stats *stats;	/* valid while a call runs */
	const char	*cmd;
	char		**args;
	int		 nargs;
	bool		 dry_run;
	int		 repeat;
	int		 interval_ms;
	int		 done;
	int		 failures;
};

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
error_json(const struct aws_error *e)
{
	char buf[1024];

	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:i, s:b, s:s}",
	    "kind", aws_err_kind_name(e->kind), "code", e->code,
	    "message", e->message, "http_status", (json_int_t)e->http_status,
	    "request_id", e->request_id, "attempts", e->attempts,
	    "timed_out", e->timed_out,
	    "text", aws_error_format(e, buf, sizeof(buf)));
}

static json_t *
opt_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

static void next_round(struct probe *p);

static void
round_done(struct probe *p, json_t *result, const struct aws_error *err)
{
	const struct ec2_stats *st = p->stats;

	if (err) {
		p->failures++;
		result = json_pack("{s:b, s:o}", "ok", 0, "error",
		    error_json(err));
	}
	json_object_set_new(result, "source",
	    json_string(aws_creds_provider_source(p->creds)));
	json_object_set_new(result, "requests", json_integer(
	    (json_int_t)st->requests));
	json_object_set_new(result, "retries", json_integer(
	    (json_int_t)st->retries));
	print_json(result);
	p->done++;
	next_round(p);
}

static void
on_described(void *arg, struct ec2_instance_list *l,
    const struct aws_error *err)
{
	struct probe *p = arg;
	json_t *arr, *res;

	if (err) {
		round_done(p, NULL, err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < l->n; i++) {
		const struct ec2_instance *in = &l->v[i];
		json_t *tags = json_object();
		char lt[TIME_ISO8601_LEN] = "";

		for (size_t t = 0; t < in->ntags; t++)
			json_object_set_new(tags, in->tags[t].key,
			    json_string(in->tags[t].value));
		if (in->launch_time_ms)
			time_format_iso8601(in->launch_time_ms, lt);
		json_array_append_new(arr, json_pack(
		    "{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
		    "id", in->id, "name", in->name,
		    "state", ec2_state_name(in->state),
		    "instance_type", opt_str(in->instance_type),
		    "private_ip", opt_str(in->private_ip),
		    "public_ip", opt_str(in->public_ip),
		    "private_dns", opt_str(in->private_dns),
		    "public_dns", opt_str(in->public_dns),
		    "launch_time", lt[0] ? json_string(lt) : json_null(),
		    "tags", tags));
	}
	res = json_pack("{s:b, s:I, s:o}", "ok", 1, "count",
	    (json_int_t)l->n, "instances", arr);
	ec2_instance_list_free(l);
	round_done(p, res, NULL);
}

static void
on_changed(void *arg, struct ec2_state_changes *ch,
    const struct aws_error *err)
{
	struct probe *p = arg;
	json_t *arr, *res;

	if (err) {
		round_done(p, NULL, err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < ch->n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s}",
		    "id", ch->v[i].id,
		    "previous", ec2_state_name(ch->v[i].previous),
		    "current", ec2_state_name(ch->v[i].current)));
	res = json_pack("{s:b, s:b, s:o}", "ok", 1, "dry_run", p->dry_run,
	    "changes", arr);
	ec2_state_changes_free(ch);
	round_done(p, res, NULL);
}

/* Called by libuv: run one round of the command. */
static void
on_round(uv_timer_t *t)
{
	struct probe *p = t->data;

	if (strcmp(p->cmd, "describe") == 0)
		ec2_describe_prefix(p->ec2, p->args[0], on_described, p);
	else if (strcmp(p->cmd, "start") == 0)
		ec2_start_instances(p->ec2, (const char *const *)p->args,
		    (size_t)p->nargs, p->dry_run, on_changed, p);
	else
		ec2_stop_instances(p->ec2, (const char *const *)p->args,
		    (size_t)p->nargs, p->dry_run, on_changed, p);
}

static void
next_round(struct probe *p)
{
	if (p->done < p->repeat && p->ec2 != NULL)
		uv_timer_start(&p->timer, on_round,
		    p->done ? (uint64_t)p->interval_ms : 0, 0);
}

/* Called by libuv for --shutdown-after-ms. */
static void
on_shutdown(uv_timer_t *t)
{
	struct probe *p = t->data;

	http_client_shutdown(p->http);
}

static void
usage(void)
{
	fprintf(stderr, "usage: ec2-probe [--region R] [--endpoint URL] "
	    "[--profile P] [--page-size N] [--repeat N] [--interval-ms MS]\n"
	    "                 [--timeout-ms MS] [--free-client] "
	    "[--shutdown-after-ms MS]\n"
	    "                 describe PREFIX | start|stop [--dry-run] ID...\n");
	exit(2);
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
		{ "region", required_argument, NULL, 'r' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "profile", required_argument, NULL, 'p' },
		{ "page-size", required_argument, NULL, 's' },
		{ "repeat", required_argument, NULL, 'n' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "free-client", no_argument, NULL, 'f' },
		{ "shutdown-after-ms", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct probe p = { .repeat = 1 };
	struct aws_creds_settings cs = { NULL, env_get };
	struct ec2_settings es = { 0 };
	const char *region = NULL, *endpoint = NULL;
	char err[512], url[512];
	bool free_client = false;
	long shutdown_after = -1;
	int c, rc;

	log_init("ec2-probe", getenv("EC2_PROBE_DEBUG") ? LOG_DEBUG : LOG_INFO);
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'r': region = optarg; break;
		case 'e': endpoint = optarg; break;
		case 'p': cs.profile = optarg; break;
		case 's': es.page_size = atoi(optarg); break;
		case 'n': p.repeat = atoi(optarg); break;
		case 'i': p.interval_ms = atoi(optarg); break;
		case 't': es.timeout_ms = atol(optarg); break;
		case 'f': free_client = true; break;
		case 'S': shutdown_after = atol(optarg); break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();
	p.cmd = argv[optind++];
	/* The rest are ids (or the prefix), and the command's --dry-run. */
	p.args = calloc((size_t)(argc - optind + 1), sizeof(*p.args));
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0)
			p.dry_run = true;
		else
			p.args[p.nargs++] = argv[i];
	}
	if (p.nargs < 1 || p.repeat < 1 ||
	    (strcmp(p.cmd, "describe") != 0 && strcmp(p.cmd, "start") != 0 &&
	    strcmp(p.cmd, "stop") != 0))
		usage();

	curl_global_init(CURL_GLOBAL_DEFAULT);
	uv_loop_init(&p.loop);
	uv_timer_init(&p.loop, &p.timer);
	p.timer.data = &p;
	uv_timer_init(&p.loop, &p.shutdown);
	p.shutdown.data = &p;
	p.http = http_client_new(&p.loop);
	p.creds = aws_creds_provider_new(&p.loop, p.http, &cs, err,
	    sizeof(err));
	if (p.creds) {
		region = aws_resolve_region(region,
		    aws_creds_provider_region(p.creds), env_get);
		if (aws_resolve_endpoint(endpoint, region, env_get, url,
		    sizeof(url)) != 0)
			snprintf(err, sizeof(err), "endpoint too long");
		es.region = region;
		es.endpoint = url;
		es.retry = aws_retry_policy_default(env_get);
		p.ec2 = ec2_client_new(&p.loop, p.http, p.creds, &es, err,
		    sizeof(err));
	}
	if (p.ec2 == NULL) {
		print_json(json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error",
		    "kind", "config", "message", err));
		rc = 3;
	} else {
		p.stats = ec2_client_stats(p.ec2);
		if (free_client) {
			/* The call just made must be answered all the same. */
			on_round(&p.timer);
			ec2_client_free(p.ec2);
			p.ec2 = NULL;
		} else {
			next_round(&p);
		}
		if (shutdown_after >= 0)
			uv_timer_start(&p.shutdown, on_shutdown,
			    (uint64_t)shutdown_after, 0);
		uv_run(&p.loop, UV_RUN_DEFAULT);
		rc = p.failures ? 1 : 0;
	}

	ec2_client_free(p.ec2);
	aws_creds_provider_free(p.creds);
	http_client_free(p.http);
	uv_close((uv_handle_t *)&p.timer, NULL);
	uv_close((uv_handle_t *)&p.shutdown, NULL);
	uv_run(&p.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&p.loop) != 0) {
		fprintf(stderr, "ec2-probe: handles left open at exit\n");
		uv_walk(&p.loop, on_walk_close, NULL);
		uv_run(&p.loop, UV_RUN_DEFAULT);
		uv_loop_close(&p.loop);
		rc = 4;
	}
	curl_global_cleanup();
	free(p.args);
	return rc;
}
