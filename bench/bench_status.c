/*
 * In-daemon cost of answering `status` from cache: building the model of a
 * cluster (membership, roles, the Opencast join) and its SPEC §6 JSON, and
 * encoding the reply line, for a cluster of N instances (default 50) with
 * Opencast hosts and a few hundred active jobs.  Reports the median CPU
 * time per answer over many rounds, built afresh (what a state change
 * costs) and from the cache (what every other answer costs).
 *
 *   bench_status [INSTANCES [ROUNDS]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/protocol.h"
#include "common/strbuf.h"
#include "daemon/model.h"

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 50;
	int rounds = argc > 2 ? atoi(argv[2]) : 20001;
	struct ec2_instance_list *l = ec2_instance_list_new();
	struct oc_hosts *hosts = oc_hosts_new();
	struct oc_jobs *jobs = oc_jobs_new();
	static const char *const types[] = { "org.opencastproject.composer" };
	struct oc_service_set set = { types, 1 };
	struct strbuf hj = STRBUF_INIT, jj = STRBUF_INIT;
	struct oc_error err = { 0 };
	double *t = calloc((size_t)rounds, sizeof(*t));
	int64_t now = 1800000000000LL;
	size_t bytes = 0;

	if (n < 4 || rounds < 1)
		return 2;
	l->v = calloc((size_t)n, sizeof(*l->v));
	l->cap = (size_t)n;
	strbuf_puts(&hj, "{\"hosts\":{\"host\":[");
	for (int i = 0; i < n; i++) {
		struct ec2_instance *in = &l->v[l->n++];
		const char *role = i == 0 ? "admin" : i == 1 ? "engage" :
		    i == 2 ? "db" : "worker";
		char ip[32], name[64];

		snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 250, i % 250 + 1);
		snprintf(name, sizeof(name), "bench-%s", role);
		in->id = pool_strdup(&l->pool, name);
		snprintf(name, sizeof(name), "i-%017d", i);
		in->id = pool_strdup(&l->pool, name);
		snprintf(name, sizeof(name), "bench-%s", role);
		in->name = pool_strdup(&l->pool, name);
		in->private_ip = pool_strdup(&l->pool, ip);
		in->state = i % 3 == 2 && i > 3 ? EC2_STATE_STOPPED :
		    EC2_STATE_RUNNING;
		in->launch_time_ms = now - (int64_t)(i + 1) * 61000;
		in->tags = pool_alloc(&l->pool, 2 * sizeof(*in->tags));
		in->tags[0].key = "Name";
		in->tags[0].value = in->name;
		in->tags[1].key = "owner";
		in->tags[1].value = "media";
		in->ntags = 2;
		if (in->state == EC2_STATE_RUNNING && i != 2)
			strbuf_printf(&hj, "%s{\"base_url\":\"http://%s:8080\","
			    "\"max_load\":4,\"online\":true,"
			    "\"maintenance\":false}", hj.len > 19 ? "," : "", ip);
	}
	strbuf_puts(&hj, "]}}");
	strbuf_puts(&jj, "{\"jobs\":{\"job\":[");
	for (int j = 0; j < 300; j++)
		strbuf_printf(&jj, "%s{\"id\":%d,\"type\":\"org.opencastproject."
		    "composer\",\"status\":\"%s\",\"processingHost\":\"http://"
		    "10.0.0.%d:8080\",\"jobLoad\":1.5}", j ? "," : "", j,
		    j % 4 ? "RUNNING" : "QUEUED", j % (n / 2) + 4);
	strbuf_puts(&jj, "]}}");
	if (oc_parse_hosts(hj.buf, hj.len, hosts, &err) != 0 ||
	    oc_parse_active_jobs(jj.buf, jj.len, &set, jobs, &err) != 0) {
		fprintf(stderr, "fixture: %s\n", err.message);
		return 1;
	}
	for (int r = -100; r < rounds; r++) {
		double t0 = cpu_now();
		struct model md;
		json_t *st;
		char *line;

		model_build(&md, "bench", l, hosts, jobs, now);
		st = model_status_json(&md, "bench");
		line = proto_reply_ok(1, st);
		bytes = strlen(line);
		free(line);
		model_release(&md);
		if (r >= 0)
			t[r] = cpu_now() - t0;
	}
	qsort(t, (size_t)rounds, sizeof(*t), cmp_double);
	printf("status: %d instances, %zu hosts, %zu jobs, %zu-byte reply, "
	    "%d rounds\n", n, hosts->n, jobs->njobs, bytes, rounds);
	printf("status: built: median %.1f us CPU per answer (p90 %.1f us, "
	    "max %.1f us), %.2f us per instance\n", t[rounds / 2] * 1e6,
	    t[rounds * 9 / 10] * 1e6, t[rounds - 1] * 1e6,
	    t[rounds / 2] * 1e6 / n);
	{
		/* From the cache (daemon/status.c): the kept result text
		 * copied into a reply line with the request's id. */
		struct model md;
		char *text;
		size_t tl;
		int batch = 100;

		model_build(&md, "bench", l, hosts, jobs, now);
		text = proto_result_encode(model_status_json(&md, "bench"));
		tl = strlen(text);
		for (int r = 0; r < rounds; r++) {
			double t0 = cpu_now();

			for (int k = 0; k < batch; k++)
				free(proto_reply_ok_encoded(r * batch + k,
				    text, tl));
			t[r] = (cpu_now() - t0) / batch;
		}
		qsort(t, (size_t)rounds, sizeof(*t), cmp_double);
		printf("status: from the cache: median %.2f us CPU per "
		    "answer (copying %zu bytes)\n", t[rounds / 2] * 1e6, tl);
		free(text);
		model_release(&md);
	}
	free(t);
	strbuf_release(&hj);
	strbuf_release(&jj);
	oc_hosts_free(hosts);
	oc_jobs_free(jobs);
	ec2_instance_list_free(l);
	return 0;
}
