/*
 * ec2m-simulate: replays a workload trace (docs/simulator.md) in virtual
 * time against a model of an Opencast cluster on EC2 and reports what each
 * autoscaling policy costs: billed worker-hours in both billing modes and
 * the queue wait of heavy jobs, for policy seed, policy demand and a
 * reference schedule that starts workers without delay exactly when a job
 * finds no room.  The policies are daemon/policy.c and policy_demand.c
 * themselves; the cluster settings come from an ec2-manager.conf.
 *
 * The model, one step per virtual second:
 *   - jobs arrive at their time "t", or when the job they wait for
 *     ("after") finishes, whichever is later, and queue;
 *   - every 2 s Opencast's dispatcher offers each queued job, oldest first,
 *     to the active workers ordered by load; a worker takes it if its load
 *     plus the job's stays within max_load (a job heavier than max_load
 *     goes to an idle worker);
 *   - a started worker is pending 60-120 s (EC2), then running (billed)
 *     and registering 45-90 s before Opencast dispatches to it;
 *   - the autoscaler evaluates every autoscale_interval with fresh data;
 *     a scale-down stops the chosen (idle) workers at once;
 *   - billing: per-second (at least 60 s per run) and hourly (every
 *     started hour of a run).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/utf8.h"
#include "common/xalloc.h"
#include "common/xrand.h"
#include "daemon/config.h"
#include "daemon/policy.h"

#define EPOCH_MS 1800000000000LL	/* virtual t = 0 */
#define DISPATCH_S 2
#define MAX_INSTANCES 64

enum job_state { J_WAIT, J_QUEUED, J_RUNNING, J_DONE };

struct job {
	int64_t	 id;
	int64_t	 t;		/* arrival, s */
	double	 load;
	int64_t	 duration;	/* s */
	int64_t	 after;		/* index of the job waited for; -1 none */
	bool	 heavy;
	/* per run */
	enum job_state st;
	int64_t	 queued_at;
	int64_t	 end;
	int	 worker;
	int64_t	 first_child;	/* index; -1 */
	int64_t	 next_sibling;
};

struct trace {
	struct job *jobs;
	size_t	 n;
	size_t	*by_t;		/* indices sorted by arrival */
	int64_t	 horizon;	/* last arrival */
	size_t	 heavy;
};

enum wstate { W_STOPPED, W_PENDING, W_REGISTERING, W_ACTIVE };

struct inst {
	enum wstate st;
	int64_t	 running_at;	/* pending -> running (billed) */
	int64_t	 active_at;	/* registering -> active */
	int64_t	 since;		/* running since */
	double	 load;
	int	 njobs;
	char	 id[16];
};

enum mode { M_SEED, M_DEMAND, M_REFERENCE };

struct result {
	double	 hours_ps;	/* billed per-second */
	double	 hours_hr;	/* billed hourly */
	double	 wait_mean, wait_p95, wait_max;	/* heavy jobs, s */
	int	 starts, stops;
	size_t	 heavy_done;
	int64_t	 end;
};

struct run {
	const struct trace *tr;
	struct policy_settings ps;
	enum mode mode;
	double	 max_load;
	struct xrand rng;
	struct inst w[MAX_INSTANCES];
	int	 nw;
	size_t	*queue;
	size_t	 nq;
	size_t	*runq;		/* running jobs */
	size_t	 nr;
	double	*waits;
	size_t	 nwaits;
	int64_t	 last_action_ms;
	int64_t	 bill_s;
	int64_t	 bill_h;
	int	 starts, stops;
};

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	utf8_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ec2m-simulate: %s\n", buf);
	exit(2);
}

static bool
is_heavy(const struct cluster_config *c, const char *type)
{
	for (size_t i = 0; i < c->n_high_load_services; i++)
		if (strcmp(c->high_load_services[i], type) == 0)
			return true;
	return false;
}

static const struct trace *sort_tr;

static int
cmp_t(const void *a, const void *b)
{
	const struct job *x = &sort_tr->jobs[*(const size_t *)a];
	const struct job *y = &sort_tr->jobs[*(const size_t *)b];

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Reads the trace: one JSON object a line (docs/simulator.md). */
static void
trace_load(struct trace *tr, const char *path,
    const struct cluster_config *c)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, alloc = 0, lineno = 0;
	int64_t *ids = NULL;

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	memset(tr, 0, sizeof(*tr));
	while (getline(&line, &cap, f) != -1) {
		json_error_t err;
		json_t *o, *after;
		struct job *j;
		const char *type;

		lineno++;
		if (line[strspn(line, " \t\r\n")] == '\0' || line[0] == '#')
			continue;
		o = json_loads(line, 0, &err);
		if (o == NULL || !json_is_object(o))
			die("%s:%zu: not a JSON object", path, lineno);
		if (tr->n == alloc) {
			alloc = alloc ? 2 * alloc : 1024;
			tr->jobs = xrealloc(tr->jobs, alloc *
			    sizeof(*tr->jobs));
			ids = xrealloc(ids, alloc * sizeof(*ids));
		}
		j = &tr->jobs[tr->n];
		memset(j, 0, sizeof(*j));
		type = json_string_value(json_object_get(o, "type"));
		if (!json_is_integer(json_object_get(o, "id")) ||
		    !json_is_number(json_object_get(o, "t")) ||
		    !json_is_number(json_object_get(o, "load")) ||
		    !json_is_number(json_object_get(o, "duration")) ||
		    type == NULL)
			die("%s:%zu: needs id, t, type, load and duration",
			    path, lineno);
		j->id = json_integer_value(json_object_get(o, "id"));
		j->t = (int64_t)json_number_value(json_object_get(o, "t"));
		j->load = json_number_value(json_object_get(o, "load"));
		j->duration = (int64_t)json_number_value(
		    json_object_get(o, "duration"));
		if (j->duration < 1)
			j->duration = 1;
		j->heavy = is_heavy(c, type);
		j->after = -1;
		after = json_object_get(o, "after");
		if (json_is_integer(after)) {
			int64_t a = json_integer_value(after);

			/* The job waited for is an earlier line. */
			for (size_t k = tr->n; k-- > 0;)
				if (ids[k] == a) {
					j->after = (int64_t)k;
					break;
				}
			if (j->after < 0)
				die("%s:%zu: after %lld: no earlier job with "
				    "that id", path, lineno, (long long)a);
		}
		ids[tr->n] = j->id;
		if (j->heavy)
			tr->heavy++;
		if (j->t > tr->horizon)
			tr->horizon = j->t;
		tr->n++;
		json_decref(o);
	}
	free(line);
	free(ids);
	fclose(f);
	tr->by_t = xcalloc(tr->n ? tr->n : 1, sizeof(*tr->by_t));
	for (size_t i = 0; i < tr->n; i++)
		tr->by_t[i] = i;
	sort_tr = tr;
	qsort(tr->by_t, tr->n, sizeof(*tr->by_t), cmp_t);
}

static void
queue_job(struct run *r, struct job *j, size_t idx, int64_t now)
{
	j->st = J_QUEUED;
	j->queued_at = now;
	r->queue[r->nq++] = idx;
}

static void
bill_stop(struct run *r, struct inst *w, int64_t now)
{
	int64_t up = now - w->since;

	r->bill_s += up < 60 ? 60 : up;
	r->bill_h += (up + 3599) / 3600 > 0 ? (up + 3599) / 3600 : 1;
}

static void
inst_start(struct run *r, struct inst *w, int64_t now)
{
	r->starts++;
	if (r->mode == M_REFERENCE) {
		w->st = W_ACTIVE;
		w->since = now;
		return;
	}
	w->st = W_PENDING;
	w->running_at = now + 60 + (int64_t)(xrand01(&r->rng) * 61);
	w->active_at = w->running_at + 45 + (int64_t)(xrand01(&r->rng) * 46);
}

static void
inst_stop(struct run *r, struct inst *w, int64_t now)
{
	r->stops++;
	bill_stop(r, w, now);
	w->st = W_STOPPED;
	w->load = 0;
	w->njobs = 0;
}

/* Opencast's dispatcher: oldest job first, to the least loaded worker
 * that has room.  Returns whether a job found no room. */
static bool
dispatch(struct run *r, int64_t now)
{
	size_t keep = 0;
	bool stuck = false;

	for (size_t q = 0; q < r->nq; q++) {
		struct job *j = &r->tr->jobs[r->queue[q]];
		int best = -1;

		for (int i = 0; i < r->nw; i++) {
			struct inst *w = &r->w[i];

			if (w->st != W_ACTIVE)
				continue;
			if (w->load + j->load > r->max_load + 1e-9 &&
			    !(j->load > r->max_load && w->njobs == 0))
				continue;
			if (best < 0 || w->load < r->w[best].load)
				best = i;
		}
		if (best < 0) {
			r->queue[keep++] = r->queue[q];
			stuck = true;
			continue;
		}
		j->st = J_RUNNING;
		j->worker = best;
		j->end = now + j->duration;
		r->w[best].load += j->load;
		r->w[best].njobs++;
		r->runq[r->nr++] = r->queue[q];
		if (j->heavy)
			r->waits[r->nwaits++] = (double)(now - j->queued_at);
	}
	r->nq = keep;
	return stuck;
}

static void
finish_jobs(struct run *r, int64_t now)
{
	size_t keep = 0;

	for (size_t k = 0; k < r->nr; k++) {
		size_t idx = r->runq[k];
		struct job *j = &r->tr->jobs[idx];

		if (j->end > now) {
			r->runq[keep++] = idx;
			continue;
		}
		j->st = J_DONE;
		r->w[j->worker].load -= j->load;
		if (r->w[j->worker].load < 1e-9)
			r->w[j->worker].load = 0;
		r->w[j->worker].njobs--;
		for (int64_t c = j->first_child; c >= 0;
		    c = r->tr->jobs[c].next_sibling) {
			struct job *ch = &r->tr->jobs[c];

			if (ch->st == J_WAIT && ch->t <= now)
				queue_job(r, ch, (size_t)c, now);
		}
	}
	r->nr = keep;
}

static void
autoscale(struct run *r, int64_t now)
{
	struct policy_worker pw[MAX_INSTANCES];
	struct policy_worker_demand pd[MAX_INSTANCES];
	struct policy_input in;
	struct policy_decision d;
	int queued_heavy = 0;
	double queued_load = 0;

	for (size_t q = 0; q < r->nq; q++) {
		queued_load += r->tr->jobs[r->queue[q]].load;
		if (r->tr->jobs[r->queue[q]].heavy)
			queued_heavy++;
	}
	memset(pw, 0, sizeof(pw));
	memset(pd, 0, sizeof(pd));
	for (int i = 0; i < r->nw; i++) {
		struct inst *w = &r->w[i];
		bool running = w->st == W_REGISTERING || w->st == W_ACTIVE;

		pw[i].id = w->id;
		pw[i].running = running;
		pw[i].stopped = w->st == W_STOPPED;
		pw[i].running_jobs = w->st == W_ACTIVE ? w->njobs : -1;
		pw[i].uptime_s = running ? now - w->since : -1;
		pd[i].starting = w->st == W_PENDING || w->st == W_REGISTERING;
		pd[i].load = w->load;
		pd[i].max_load = w->st == W_ACTIVE ? r->max_load : 0;
	}
	memset(&in, 0, sizeof(in));
	in.now_ms = EPOCH_MS + now * 1000;
	in.admin_running = true;
	in.opencast_reachable = true;
	in.ec2_at_ms = in.now_ms;
	in.oc_at_ms = in.now_ms;
	in.queued_high_load_jobs = queued_heavy;
	in.queued_load = queued_load;
	in.workers = pw;
	in.nworkers = (size_t)r->nw;
	in.demand = pd;
	in.last_action_ms = r->last_action_ms;
	if (r->mode == M_SEED)
		policy_decide(&r->ps, &in, &d);
	else
		policy_demand_decide(&r->ps, &in, &d);
	if (d.action == POLICY_SCALE_UP) {
		int k = d.count;

		/* Draining workers do not occur: a scale-down here stops at
		 * once, as the chosen workers are idle. */
		for (int i = 0; i < r->nw && k > 0; i++)
			if (r->w[i].st == W_STOPPED) {
				inst_start(r, &r->w[i], now);
				k--;
			}
		r->last_action_ms = in.now_ms;
	} else if (d.action == POLICY_SCALE_DOWN) {
		for (int j = 0; j < d.count; j++)
			inst_stop(r, &r->w[d.chosen[j]], now);
		r->last_action_ms = in.now_ms;
	}
	policy_decision_release(&d);
}

/* The reference: a worker starts, without delay, exactly when a queued
 * job finds no room, and an idle worker stops as soon as stopping wastes
 * nothing (per-second: at once; hourly: at the end of its paid hour). */
static void
reference(struct run *r, int64_t now)
{
	int active = 0;

	while (dispatch(r, now)) {
		int i;

		for (i = 0; i < r->nw; i++)
			if (r->w[i].st == W_STOPPED)
				break;
		if (i == r->nw)
			break;
		inst_start(r, &r->w[i], now);
	}
	for (int i = 0; i < r->nw; i++)
		if (r->w[i].st == W_ACTIVE)
			active++;
	for (int i = 0; i < r->nw && active > r->ps.min_workers; i++) {
		struct inst *w = &r->w[i];
		int64_t up = now - w->since;

		if (w->st != W_ACTIVE || w->njobs > 0 || r->nq > 0)
			continue;
		if (r->ps.billing == BILLING_HOURLY && up % 3600 < 3540)
			continue;
		if (r->ps.billing == BILLING_PER_SECOND && up < 60)
			continue;
		inst_stop(r, w, now);
		active--;
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
simulate(const struct trace *trc, const struct policy_settings *ps,
    enum mode mode, int nw, double max_load, uint64_t seed,
    int64_t interval, struct result *res)
{
	struct trace *tr = (struct trace *)trc;
	struct run r;
	size_t next = 0, done;
	int64_t now;

	memset(&r, 0, sizeof(r));
	r.tr = tr;
	r.ps = *ps;
	r.mode = mode;
	r.max_load = max_load;
	r.nw = nw;
	xrand_seed(&r.rng, seed);
	r.queue = xcalloc(tr->n + 1, sizeof(*r.queue));
	r.runq = xcalloc(tr->n + 1, sizeof(*r.runq));
	r.waits = xcalloc(tr->n + 1, sizeof(*r.waits));
	for (size_t i = 0; i < tr->n; i++) {
		tr->jobs[i].st = J_WAIT;
		tr->jobs[i].first_child = -1;
		tr->jobs[i].next_sibling = -1;
	}
	for (size_t i = tr->n; i-- > 0;)
		if (tr->jobs[i].after >= 0) {
			struct job *p = &tr->jobs[tr->jobs[i].after];

			tr->jobs[i].next_sibling = p->first_child;
			p->first_child = (int64_t)i;
		}
	for (int i = 0; i < nw; i++) {
		utf8_snprintf(r.w[i].id, sizeof(r.w[i].id), "i-%02d", i);
		if (i < ps->min_workers) {
			r.w[i].st = W_ACTIVE;
			r.w[i].since = 0;
		}
	}
	done = 0;
	for (now = 0;; now++) {
		finish_jobs(&r, now);
		while (next < tr->n && tr->jobs[tr->by_t[next]].t <= now) {
			size_t idx = tr->by_t[next++];
			struct job *j = &tr->jobs[idx];

			if (j->after < 0 || tr->jobs[j->after].st == J_DONE)
				queue_job(&r, j, idx, now);
		}
		for (int i = 0; i < nw; i++) {
			struct inst *w = &r.w[i];

			if (w->st == W_PENDING && now >= w->running_at) {
				w->st = W_REGISTERING;
				w->since = now;
			}
			if (w->st == W_REGISTERING && now >= w->active_at)
				w->st = W_ACTIVE;
		}
		if (mode == M_REFERENCE)
			reference(&r, now);
		else {
			if (now % DISPATCH_S == 0)
				dispatch(&r, now);
			if (now > 0 && now % interval == 0)
				autoscale(&r, now);
		}
		done = 0;
		if (next == tr->n && r.nq == 0 && r.nr == 0) {
			done = 1;
			for (size_t i = 0; i < tr->n; i++)
				if (tr->jobs[i].st != J_DONE) {
					done = 0;
					break;
				}
		}
		if (done && now >= tr->horizon)
			break;
		if (now > tr->horizon + 30 * 86400)
			die("the jobs did not finish within 30 days of the "
			    "last arrival");
	}
	for (int i = 0; i < nw; i++)
		if (r.w[i].st == W_REGISTERING || r.w[i].st == W_ACTIVE)
			bill_stop(&r, &r.w[i], now);
	memset(res, 0, sizeof(*res));
	res->end = now;
	res->hours_ps = (double)r.bill_s / 3600.0;
	res->hours_hr = (double)r.bill_h;
	res->starts = r.starts;
	res->stops = r.stops;
	res->heavy_done = r.nwaits;
	if (r.nwaits > 0) {
		double sum = 0;
		size_t p;

		qsort(r.waits, r.nwaits, sizeof(*r.waits), cmp_double);
		for (size_t i = 0; i < r.nwaits; i++)
			sum += r.waits[i];
		res->wait_mean = sum / (double)r.nwaits;
		p = (size_t)ceil(0.95 * (double)r.nwaits);
		res->wait_p95 = r.waits[p > 0 ? p - 1 : 0];
		res->wait_max = r.waits[r.nwaits - 1];
	}
	free(r.queue);
	free(r.runq);
	free(r.waits);
}

static const char *const mode_names[] = { "seed", "demand", "reference" };

static double
ratio(double a, double b)
{
	return b > 0 ? a / b : (a > 0 ? INFINITY : 1.0);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: ec2m-simulate [-c CONFIG] [-C CLUSTER] "
	    "[-m MAX_LOAD] [-s SEED] TRACE\n");
}

int
main(int argc, char **argv)
{
	const char *cpath = NULL, *cname = NULL;
	double max_load = 8.0;
	uint64_t seed = 1;
	int64_t interval;
	struct config *cfg = NULL;
	const struct cluster_config *cc;
	struct trace tr;
	char err[1024];
	int ch;
	static const enum billing modes[] = { BILLING_PER_SECOND,
	    BILLING_HOURLY };

	while ((ch = getopt(argc, argv, "c:C:m:s:h")) != -1) {
		switch (ch) {
		case 'c': cpath = optarg; break;
		case 'C': cname = optarg; break;
		case 'm': max_load = strtod(optarg, NULL); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	if (max_load <= 0)
		die("-m: max_load must be greater than 0");
	if (cpath == NULL)
		die("-c CONFIG is needed (the cluster settings)");
	if (config_load(cpath, &cfg, err, sizeof(err)) == -1)
		die("%s", err);
	cc = cname ? config_cluster(cfg, cname) :
	    (cfg->nclusters > 0 ? &cfg->clusters[0] : &cfg->defaults);
	if (cc == NULL)
		die("%s: no cluster %s", cpath, cname);
	if (cc->max_workers > MAX_INSTANCES)
		die("max_workers above %d", MAX_INSTANCES);
	trace_load(&tr, argv[optind], cc);
	interval = cc->autoscale_interval_ms / 1000 > 0 ?
	    cc->autoscale_interval_ms / 1000 : 1;

	printf("trace %s: %zu jobs, %zu heavy, last arrival at %.2f days; "
	    "cluster %s: workers %d-%d, max_load %.1f\n", argv[optind], tr.n,
	    tr.heavy, (double)tr.horizon / 86400.0,
	    cc->name ? cc->name : "[defaults]", cc->min_workers,
	    cc->max_workers, max_load);
	for (size_t b = 0; b < 2; b++) {
		struct result res[3];
		struct policy_settings ps;

		policy_settings_from_config(&ps, cc);
		ps.billing = modes[b];
		ps.default_max_load = max_load;
		for (int m = 0; m < 3; m++)
			simulate(&tr, &ps, (enum mode)m, cc->max_workers,
			    max_load, seed, interval, &res[m]);
		for (int m = 0; m < 3; m++) {
			double h = modes[b] == BILLING_HOURLY ?
			    res[m].hours_hr : res[m].hours_ps;
			double hr = modes[b] == BILLING_HOURLY ?
			    res[2].hours_hr : res[2].hours_ps;

			printf("billing=%s policy=%s worker_hours=%.2f "
			    "worker_hours_per_second=%.2f "
			    "worker_hours_hourly=%.0f wait_mean_s=%.0f "
			    "wait_p95_s=%.0f wait_max_s=%.0f starts=%d "
			    "stops=%d heavy_jobs=%zu end_s=%lld "
			    "hours_vs_reference=%.3f p95_vs_reference=%.3f\n",
			    modes[b] == BILLING_HOURLY ? "hourly" :
			    "per-second", mode_names[m], h, res[m].hours_ps,
			    res[m].hours_hr, res[m].wait_mean,
			    res[m].wait_p95, res[m].wait_max, res[m].starts,
			    res[m].stops, res[m].heavy_done,
			    (long long)res[m].end, ratio(h, hr),
			    ratio(res[m].wait_p95, res[2].wait_p95));
		}
	}
	free(tr.jobs);
	free(tr.by_t);
	config_free(cfg);
	return 0;
}
