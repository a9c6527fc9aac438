/*
 * Opencast answers (daemon/opencast_msg.c).  Every input is read the four
 * ways the Opencast client reads a body: as /info/me.json, hosts.json,
 * activeJobs.json and statistics.json.  When it reads as hosts and as jobs
 * (a seed holds both, so mutations keep both), the hosts are also mapped to
 * instances and counted busy or idle, as status and the policy do.
 *
 * Checked: no crash, no leak; every error is valid UTF-8; every text that
 * reaches status (host names, URLs, job types) is valid UTF-8; and the job
 * aggregate is consistent: no negative count or load, the totals are the
 * sums of their parts, every host is either busy or idle, and the mapping
 * uses each host at most once and counts what it left over.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/opencast_msg.h"
#include "tests/fuzz/fuzz.h"

#define USER "opencast_system_account"

/* The daemon's default high-load services plus one that seeds use. */
static const char *const high_load_types[] = {
	"org.opencastproject.composer",
	"org.opencastproject.inspection",
	"org.opencastproject.videoeditor",
	"org.opencastproject.videosegmenter",
};
static const struct oc_service_set high_load = {
	high_load_types, sizeof(high_load_types) / sizeof(high_load_types[0]),
};

/* At most this many hosts are mapped, to keep one run quick. */
#define MAP_MAX 16

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
check_error(const char *what, const struct oc_error *err)
{
	FUZZ_CHECK(err->kind != OC_ERR_NONE, "%s failed without a kind", what);
	FUZZ_CHECK(err->message[0] != '\0', "%s failed without a message",
	    what);
	fuzz_check_utf8("Opencast error", err->message);
}

/* A load that status and the policy add up: finite and not negative. */
static void
check_load(const char *what, double load)
{
	FUZZ_CHECK(isfinite(load) && load >= 0, "%s is %g", what, load);
}

static bool
is_status(const struct oc_job *job, const char *a, const char *b)
{
	return strcmp(job->status, a) == 0 || (b && strcmp(job->status, b) == 0);
}

/* activeJobs.json keeps every job: the totals must be recomputable. */
static void
check_per_job(const struct oc_jobs *j)
{
	int running = 0, queued = 0, queued_high = 0, on_hosts = 0;
	double queued_high_load = 0;

	for (size_t i = 0; i < j->njobs; i++) {
		const struct oc_job *job = &j->jobs[i];

		FUZZ_CHECK(job->status != NULL, "job %zu has no status", i);
		fuzz_check_utf8("job type", job->type);
		fuzz_check_utf8("job status", job->status);
		fuzz_check_utf8("job processing host", job->processing_host);
		check_load("a job's load", job->load);
		FUZZ_CHECK(job->high_load ==
		    oc_service_set_has(&high_load, job->type),
		    "job %ld: high_load is wrong", job->id);
		if (is_status(job, "RUNNING", NULL))
			running++;
		if (is_status(job, "RUNNING", "DISPATCHING") &&
		    job->processing_host)
			on_hosts++;
		if (is_status(job, "QUEUED", "RESTART")) {
			queued++;
			if (job->high_load) {
				queued_high++;
				queued_high_load += job->load;
			}
		}
	}
	FUZZ_CHECK(running == j->running, "running %d, counted %d",
	    j->running, running);
	FUZZ_CHECK(queued == j->queued, "queued %d, counted %d", j->queued,
	    queued);
	FUZZ_CHECK(queued_high == j->queued_high_load,
	    "queued high-load %d, counted %d", j->queued_high_load,
	    queued_high);
	FUZZ_CHECK(queued_high_load == j->queued_high_load_load,
	    "queued high-load load %g, summed %g", j->queued_high_load_load,
	    queued_high_load);
	for (size_t h = 0; h < j->nhosts; h++)
		on_hosts -= j->hosts[h].running;
	FUZZ_CHECK(on_hosts == 0, "per-host running jobs are %d off the jobs",
	    on_hosts);
}

/* What both job readers promise. */
static void
check_jobs(const char *what, const struct oc_jobs *j)
{
	long host_running = 0;

	FUZZ_CHECK(j->running >= 0 && j->queued >= 0 &&
	    j->queued_high_load >= 0, "%s: running %d, queued %d, queued "
	    "high-load %d", what, j->running, j->queued, j->queued_high_load);
	FUZZ_CHECK(j->queued_high_load <= j->queued, "%s: %d of %d queued "
	    "jobs are high-load", what, j->queued_high_load, j->queued);
	check_load("the queued high-load load", j->queued_high_load_load);
	for (size_t h = 0; h < j->nhosts; h++) {
		const struct oc_job_host *jh = &j->hosts[h];

		FUZZ_CHECK(jh->base_url != NULL, "%s: host %zu has no URL",
		    what, h);
		fuzz_check_utf8("job host", jh->base_url);
		FUZZ_CHECK(jh->running >= 0, "%s: %d jobs on %s", what,
		    jh->running, jh->base_url);
		check_load("a host's running load", jh->load);
		for (size_t k = 0; k < h; k++)
			FUZZ_CHECK(strcmp(j->hosts[k].base_url,
			    jh->base_url) != 0, "%s: host %s listed twice",
			    what, jh->base_url);
		FUZZ_CHECK(oc_jobs_running_on(j, jh->base_url) == jh->running,
		    "%s: running_on(%s) disagrees", what, jh->base_url);
		host_running += jh->running;
	}
	if (j->per_job)
		check_per_job(j);
	else
		FUZZ_CHECK(host_running == j->running, "%s: %ld running on "
		    "hosts, %d in all", what, host_running, j->running);
}

static void
check_hosts(const struct oc_hosts *hosts)
{
	for (size_t i = 0; i < hosts->n; i++) {
		const struct oc_host *h = &hosts->v[i];

		FUZZ_CHECK(h->base_url != NULL && h->base_url[0] != '\0',
		    "host %zu has no base_url", i);
		fuzz_check_utf8("host base_url", h->base_url);
		fuzz_check_utf8("host address", h->address);
		fuzz_check_utf8("host node_name", h->node_name);
		FUZZ_CHECK(isfinite(h->max_load), "host %s: max_load %g",
		    h->base_url, h->max_load);
	}
}

/* Every host seen is busy or idle, never both or neither. */
static void
check_busy_idle(const struct oc_hosts *hosts, const struct oc_jobs *j)
{
	size_t busy = 0, idle = 0;

	for (size_t i = 0; i < hosts->n; i++) {
		int running = oc_jobs_running_on(j, hosts->v[i].base_url);

		FUZZ_CHECK(running >= 0, "%d jobs on %s", running,
		    hosts->v[i].base_url);
		if (running > 0)
			busy++;
		else
			idle++;
	}
	FUZZ_CHECK(busy + idle == hosts->n, "%zu busy + %zu idle of %zu "
	    "hosts", busy, idle, hosts->n);
}

/* Maps one instance per host (by the host part of its URL, or by its
 * address) plus one stranger, and checks the bookkeeping of oc_map(). */
static void
check_map(const struct oc_hosts *hosts)
{
	struct oc_map_instance inst[MAP_MAX + 1];
	char hostpart[MAP_MAX][256];
	int host_of[MAP_MAX + 1];
	bool used[MAP_MAX + 1] = { false };
	struct oc_map_result res;
	size_t n = 0, left_inst = 0, left_host = 0;

	if (hosts->n > MAP_MAX)
		return;
	for (size_t i = 0; i < hosts->n; i++) {
		const struct oc_host *h = &hosts->v[i];

		memset(&inst[n], 0, sizeof(inst[n]));
		if (oc_url_host(h->base_url, hostpart[i], sizeof(hostpart[i]))
		    == 0) {
			fuzz_check_utf8("URL host part", hostpart[i]);
			inst[n].private_dns = hostpart[i];
		}
		inst[n].private_ip = h->address;
		inst[n].opencast = true;
		n++;
	}
	memset(&inst[n], 0, sizeof(inst[n]));
	inst[n].private_ip = "192.0.2.77";
	inst[n].opencast = true;
	n++;

	oc_map(inst, n, hosts, host_of, &res);
	FUZZ_CHECK(res.host_of == host_of, "host_of not returned");
	for (size_t i = 0; i < n; i++) {
		int h = host_of[i];

		FUZZ_CHECK(h >= -1 && h < (int)hosts->n, "instance %zu maps "
		    "to host %d of %zu", i, h, hosts->n);
		if (h < 0) {
			left_inst++;
			continue;
		}
		FUZZ_CHECK(!used[h], "host %d mapped twice", h);
		used[h] = true;
	}
	for (size_t h = 0; h < hosts->n; h++)
		if (!used[h])
			left_host++;
	FUZZ_CHECK(res.unmapped_instances == left_inst && res.unmapped_hosts ==
	    left_host, "unmapped %zu instances and %zu hosts, counted %zu "
	    "and %zu", res.unmapped_instances, res.unmapped_hosts, left_inst,
	    left_host);
	if (res.paired)
		FUZZ_CHECK(res.paired_instance >= 0 && res.paired_host >= 0 &&
		    host_of[res.paired_instance] == res.paired_host,
		    "the one-left pairing is not in host_of");
}

/* Reads the input as jobs with one reader; returns the jobs or NULL. */
static struct oc_jobs *
read_jobs(const char *json, size_t len, bool active)
{
	struct oc_jobs *j = oc_jobs_new();
	struct oc_error err = { 0 };
	const char *what = active ? "activeJobs.json" : "statistics.json";
	int rc = active ?
	    oc_parse_active_jobs(json, len, &high_load, j, &err) :
	    oc_parse_statistics(json, len, &high_load, j, &err);

	if (rc != 0) {
		check_error(what, &err);
		oc_jobs_free(j);
		return NULL;
	}
	FUZZ_CHECK(j->per_job == active, "%s: per_job is %d", what,
	    (int)j->per_job);
	check_jobs(what, j);
	return j;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *json = (const char *)data;
	struct oc_hosts *hosts = oc_hosts_new();
	struct oc_jobs *jobs[2];
	struct oc_error err = { 0 };

	if (oc_parse_me(json, size, USER, &err) != 0)
		check_error("/info/me.json", &err);

	memset(&err, 0, sizeof(err));
	if (oc_parse_hosts(json, size, hosts, &err) != 0) {
		check_error("hosts.json", &err);
		oc_hosts_free(hosts);
		hosts = NULL;
	} else {
		check_hosts(hosts);
		check_map(hosts);
	}

	jobs[0] = read_jobs(json, size, true);
	jobs[1] = read_jobs(json, size, false);
	for (size_t i = 0; i < 2; i++) {
		if (hosts && jobs[i])
			check_busy_idle(hosts, jobs[i]);
		oc_jobs_free(jobs[i]);
	}
	oc_hosts_free(hosts);
	return 0;
}
