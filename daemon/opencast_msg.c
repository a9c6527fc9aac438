/*
 * Opencast answers through jansson.  Opencast serialises JAXB lists with
 * Jettison, so a list may arrive as an array, as a bare object (one
 * element), as "" (empty) or not at all; old versions send numbers and
 * booleans as strings (reference §2).  for_each_item() and the get_*()
 * helpers absorb those variants in one place so that the readers below can
 * be written as if Opencast produced plain JSON.  Documents are released
 * before a reader returns; only the compact structs survive.
 */
#include "daemon/opencast_msg.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/utf8.h"
#include "common/xalloc.h"

void
oc_error_set(struct oc_error *e, enum oc_err_kind kind, const char *fmt, ...)
{
	va_list ap;

	e->kind = kind;
	va_start(ap, fmt);
	utf8_vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

const char *
oc_err_kind_name(enum oc_err_kind kind)
{
	switch (kind) {
	case OC_ERR_NONE:	 return "none";
	case OC_ERR_AUTH:	 return "auth";
	case OC_ERR_UNREACHABLE: return "unreachable";
	case OC_ERR_HTTP:	 return "http";
	case OC_ERR_PARSE:	 return "parse";
	case OC_ERR_NOT_FOUND:	 return "not_found";
	case OC_ERR_CANCELLED:	 return "cancelled";
	}
	return "unknown";
}

bool
oc_service_set_has(const struct oc_service_set *s, const char *type)
{
	if (s == NULL || type == NULL)
		return false;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->types[i], type) == 0)
			return true;
	return false;
}

struct oc_hosts *
oc_hosts_new(void)
{
	return xcalloc(1, sizeof(struct oc_hosts));
}

void
oc_hosts_free(struct oc_hosts *h)
{
	if (h == NULL)
		return;
	free(h->v);
	pool_release(&h->pool);
	free(h);
}

struct oc_host *
oc_hosts_find(struct oc_hosts *h, const char *url)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i].base_url, url) == 0)
			return &h->v[i];
	return NULL;
}

struct oc_jobs *
oc_jobs_new(void)
{
	return xcalloc(1, sizeof(struct oc_jobs));
}

void
oc_jobs_free(struct oc_jobs *j)
{
	if (j == NULL)
		return;
	free(j->hosts);
	free(j->jobs);
	pool_release(&j->pool);
	free(j);
}

int
oc_jobs_running_on(const struct oc_jobs *j, const char *url)
{
	for (size_t i = 0; i < j->nhosts; i++)
		if (strcmp(j->hosts[i].base_url, url) == 0)
			return j->hosts[i].running;
	return 0;
}

double
oc_jobs_load_on(const struct oc_jobs *j, const char *url)
{
	for (size_t i = 0; i < j->nhosts; i++)
		if (strcmp(j->hosts[i].base_url, url) == 0)
			return j->hosts[i].load;
	return 0;
}

/* Shape-tolerant access. */

static json_t *
load(const char *json, size_t len, const char *what, struct oc_error *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr);

	if (root == NULL) {
		oc_error_set(err, OC_ERR_PARSE, "malformed JSON in %s: %s "
		    "(line %d, column %d, position %d)", what, jerr.text,
		    jerr.line, jerr.column, jerr.position);
		return NULL;
	}
	if (!json_is_object(root)) {
		oc_error_set(err, OC_ERR_PARSE, "%s is not a JSON object",
		    what);
		json_decref(root);
		return NULL;
	}
	return root;
}

typedef int item_fn(json_t *item, size_t index, void *ctx,
    struct oc_error *err);

/* Calls fn for every element of root[outer][inner], whatever shape the
 * list has.  A missing, null or "" wrapper is an empty list. */
static int
for_each_item(json_t *root, const char *outer, const char *inner,
    const char *what, item_fn *fn, void *ctx, struct oc_error *err)
{
	json_t *w = json_object_get(root, outer), *list;
	size_t i;
	json_t *item;

	if (w == NULL || json_is_null(w))
		return 0;
	if (json_is_string(w) && json_string_length(w) == 0)
		return 0;
	if (!json_is_object(w)) {
		oc_error_set(err, OC_ERR_PARSE, "%s: \"%s\" is neither an "
		    "object nor \"\"", what, outer);
		return -1;
	}
	list = json_object_get(w, inner);
	if (list == NULL || json_is_null(list) ||
	    (json_is_string(list) && json_string_length(list) == 0))
		return 0;
	if (json_is_object(list))
		return fn(list, 0, ctx, err);
	if (!json_is_array(list)) {
		oc_error_set(err, OC_ERR_PARSE, "%s: \"%s.%s\" is neither a "
		    "list nor an object", what, outer, inner);
		return -1;
	}
	json_array_foreach(list, i, item) {
		if (!json_is_object(item)) {
			oc_error_set(err, OC_ERR_PARSE, "%s: element %zu of "
			    "\"%s.%s\" is not an object", what, i, outer,
			    inner);
			return -1;
		}
		if (fn(item, i, ctx, err) != 0)
			return -1;
	}
	return 0;
}

/* A scalar as text in pool: strings as they are, numbers and booleans as
 * Jettison would have typed them from text.  NULL when absent or null;
 * -1 in *bad for objects and arrays. */
static const char *
get_text(struct pool *pool, json_t *obj, const char *key, bool *bad)
{
	json_t *v = json_object_get(obj, key);
	char buf[64];

	if (v == NULL || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return pool_strndup(pool, json_string_value(v),
		    json_string_length(v));
	if (json_is_integer(v)) {
		/* not text */
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return pool_strdup(pool, buf);
	}
	if (json_is_real(v)) {
		/* not text */
		snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
		return pool_strdup(pool, buf);
	}
	if (json_is_boolean(v))
		return pool_strdup(pool, json_is_true(v) ? "true" : "false");
	*bad = true;
	return NULL;
}

/* Bounds of the numbers Opencast sends.  A counter, a load or a host's
 * max_load above NUM_MAX is no real cluster's, and a job id above ID_MAX
 * (2^53) cannot be carried exactly by JSON; both are refused as garbage,
 * so that nothing downstream casts or sums an absurd value. */
#define NUM_MAX	1e6
#define ID_MAX	9007199254740992.0

/* A number that may be sent as a string, within [min, max].  Returns 0
 * (absent: *out = dflt) or -1 when the value is not a number or out of
 * range. */
static int
get_num(json_t *obj, const char *key, double dflt, double min, double max,
    double *out)
{
	json_t *v = json_object_get(obj, key);
	double d;

	*out = dflt;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_number(v)) {
		d = json_number_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;

		if (*s == '\0')
			return 0;
		d = strtod(s, &end);
		if (*end != '\0')
			return -1;
	} else {
		return -1;
	}
	if (!isfinite(d) || d < min || d > max)
		return -1;
	*out = d;
	return 0;
}

/* Adds n (0..NUM_MAX) to a count without overflowing it. */
static void
add_count(int *sum, double n)
{
	*sum = (double)*sum + n > INT_MAX ? INT_MAX : *sum + (int)n;
}

/* A boolean that may be sent as a string.  Returns 0 or -1. */
static int
get_bool(json_t *obj, const char *key, bool dflt, bool *out)
{
	json_t *v = json_object_get(obj, key);

	*out = dflt;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 0;
	}
	if (json_is_string(v)) {
		if (strcasecmp(json_string_value(v), "true") == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(json_string_value(v), "false") == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* me.json */

static bool
has_role(json_t *roles, const char *role)
{
	size_t i;
	json_t *r;

	if (json_is_string(roles))
		return strcmp(json_string_value(roles), role) == 0;
	json_array_foreach(roles, i, r)
		if (json_is_string(r) && strcmp(json_string_value(r), role) == 0)
			return true;
	return false;
}

int
oc_parse_me(const char *json, size_t len, const char *user,
    struct oc_error *err)
{
	json_t *root = load(json, len, "/info/me.json", err), *u, *name;
	const char *username;
	int rc = -1;

	if (root == NULL)
		return -1;
	/* Opencast 2+: {"user":{"username":..}}; Matterhorn 1.x: top level. */
	u = json_object_get(root, "user");
	name = json_object_get(json_is_object(u) ? u : root, "username");
	if (!json_is_string(name)) {
		oc_error_set(err, OC_ERR_PARSE,
		    "/info/me.json names no user");
		goto out;
	}
	username = json_string_value(name);
	if (strcmp(username, "anonymous") == 0 ||
	    has_role(json_object_get(root, "roles"), "ROLE_ANONYMOUS")) {
		oc_error_set(err, OC_ERR_AUTH, "authentication failed: "
		    "Opencast treated the request as anonymous");
		goto out;
	}
	if (strcmp(username, user) != 0) {
		oc_error_set(err, OC_ERR_AUTH, "authentication failed: "
		    "Opencast answered for user \"%s\", not \"%s\"", username,
		    user);
		goto out;
	}
	if (!has_role(json_object_get(root, "roles"), "ROLE_ADMIN")) {
		oc_error_set(err, OC_ERR_AUTH, "user \"%s\" lacks ROLE_ADMIN",
		    user);
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* hosts.json */

static int
host_item(json_t *item, size_t index, void *ctx, struct oc_error *err)
{
	struct oc_hosts *out = ctx;
	struct oc_host *h;
	bool bad = false;
	char uh[256];

	out->v = xgrow(out->v, &out->cap, out->n + 1, sizeof(*out->v));
	h = &out->v[out->n];
	memset(h, 0, sizeof(*h));
	h->base_url = get_text(&out->pool, item, "base_url", &bad);
	h->address = get_text(&out->pool, item, "address", &bad);
	h->node_name = get_text(&out->pool, item, "node_name", &bad);
	if (bad || h->base_url == NULL || *h->base_url == '\0') {
		oc_error_set(err, OC_ERR_PARSE, "hosts.json: host %zu has no "
		    "base_url", index);
		return -1;
	}
	/* Read once here, not at every mapping. */
	h->url_host = pool_strdup(&out->pool, oc_url_host(h->base_url, uh,
	    sizeof(uh)) == 0 ? uh : "");
	if (get_num(item, json_object_get(item, "max_load") ? "max_load" :
	    "max_jobs", 0, 0, NUM_MAX, &h->max_load) != 0 ||
	    get_bool(item, "online", true, &h->online) != 0 ||
	    get_bool(item, "active", true, &h->active) != 0 ||
	    get_bool(item, "maintenance", false, &h->maintenance) != 0) {
		oc_error_set(err, OC_ERR_PARSE, "hosts.json: host %s has a "
		    "field of the wrong type", h->base_url);
		return -1;
	}
	out->n++;
	return 0;
}

int
oc_parse_hosts(const char *json, size_t len, struct oc_hosts *out,
    struct oc_error *err)
{
	json_t *root = load(json, len, "hosts.json", err);
	int rc;

	if (root == NULL)
		return -1;
	if (json_object_get(root, "hosts") == NULL) {
		oc_error_set(err, OC_ERR_PARSE, "hosts.json has no \"hosts\"");
		json_decref(root);
		return -1;
	}
	rc = for_each_item(root, "hosts", "host", "hosts.json", host_item, out,
	    err);
	json_decref(root);
	return rc;
}

/* Jobs */

static struct oc_job_host *
job_host(struct oc_jobs *j, const char *url)
{
	struct oc_job_host *h;

	for (size_t i = 0; i < j->nhosts; i++)
		if (strcmp(j->hosts[i].base_url, url) == 0)
			return &j->hosts[i];
	j->hosts = xgrow(j->hosts, &j->hosts_cap, j->nhosts + 1,
	    sizeof(*j->hosts));
	h = &j->hosts[j->nhosts++];
	h->base_url = pool_strdup(&j->pool, url);
	h->running = 0;
	h->load = 0;
	return h;
}

struct jobs_ctx {
	struct oc_jobs *out;
	const struct oc_service_set *high_load;
};

static int
job_item(json_t *item, size_t index, void *vctx, struct oc_error *err)
{
	struct jobs_ctx *ctx = vctx;
	struct oc_jobs *j = ctx->out;
	struct oc_job job = { 0 };
	bool bad = false;
	double id;

	job.type = get_text(&j->pool, item, "type", &bad);
	job.status = get_text(&j->pool, item, "status", &bad);
	job.processing_host = get_text(&j->pool, item, "processingHost", &bad);
	if (bad || job.status == NULL) {
		oc_error_set(err, OC_ERR_PARSE, "activeJobs.json: job %zu has "
		    "no status", index);
		return -1;
	}
	/* jobLoad arrived with Opencast 2.2; before, every job counted 1. */
	if (get_num(item, "id", -1, -1, ID_MAX, &id) != 0 ||
	    get_num(item, "jobLoad", 1.0, 0, NUM_MAX, &job.load) != 0) {
		oc_error_set(err, OC_ERR_PARSE, "activeJobs.json: job %zu has "
		    "an id or jobLoad that is not a number in range", index);
		return -1;
	}
	job.id = (long)id;
	job.high_load = oc_service_set_has(ctx->high_load, job.type);
	if ((strcmp(job.status, "RUNNING") == 0 ||
	    strcmp(job.status, "DISPATCHING") == 0) && job.processing_host) {
		struct oc_job_host *h = job_host(j, job.processing_host);

		add_count(&h->running, 1);
		h->load += job.load;
	}
	if (strcmp(job.status, "RUNNING") == 0) {
		add_count(&j->running, 1);
		if (job.high_load) {
			add_count(&j->running_high_load, 1);
			j->running_high_load_load += job.load;
		}
	}
	if (strcmp(job.status, "QUEUED") == 0 ||
	    strcmp(job.status, "RESTART") == 0) {
		add_count(&j->queued, 1);
		if (job.high_load) {
			add_count(&j->queued_high_load, 1);
			j->queued_high_load_load += job.load;
		}
	}
	j->jobs = xgrow(j->jobs, &j->jobs_cap, j->njobs + 1, sizeof(*j->jobs));
	j->jobs[j->njobs++] = job;
	return 0;
}

int
oc_parse_active_jobs(const char *json, size_t len,
    const struct oc_service_set *high_load, struct oc_jobs *out,
    struct oc_error *err)
{
	struct jobs_ctx ctx = { out, high_load };
	json_t *root = load(json, len, "activeJobs.json", err);
	int rc;

	if (root == NULL)
		return -1;
	if (json_object_get(root, "jobs") == NULL) {
		oc_error_set(err, OC_ERR_PARSE,
		    "activeJobs.json has no \"jobs\"");
		json_decref(root);
		return -1;
	}
	out->per_job = true;
	rc = for_each_item(root, "jobs", "job", "activeJobs.json", job_item,
	    &ctx, err);
	json_decref(root);
	return rc;
}

static int
stat_item(json_t *item, size_t index, void *vctx, struct oc_error *err)
{
	struct jobs_ctx *ctx = vctx;
	struct oc_jobs *j = ctx->out;
	json_t *reg = json_object_get(item, "serviceRegistration");
	const char *type, *host;
	double running, queued;
	bool bad = false;

	if (!json_is_object(reg)) {
		oc_error_set(err, OC_ERR_PARSE, "statistics.json: entry %zu "
		    "has no serviceRegistration", index);
		return -1;
	}
	type = get_text(&j->pool, reg, "type", &bad);
	host = get_text(&j->pool, reg, "host", &bad);
	if (bad || type == NULL || host == NULL ||
	    get_num(item, "running", 0, 0, NUM_MAX, &running) != 0 ||
	    get_num(item, "queued", 0, 0, NUM_MAX, &queued) != 0) {
		oc_error_set(err, OC_ERR_PARSE, "statistics.json: entry %zu "
		    "lacks type, host or counters in range", index);
		return -1;
	}
	/* Counters are whole numbers; a fraction is cut, as Opencast's
	 * own long would be (both are at most NUM_MAX here). */
	running = (double)(int)running;
	queued = (double)(int)queued;
	if (running > 0) {
		struct oc_job_host *h = job_host(j, host);

		add_count(&h->running, running);
		h->load += running;
	}
	add_count(&j->running, running);
	add_count(&j->queued, queued);
	if (oc_service_set_has(ctx->high_load, type)) {
		add_count(&j->queued_high_load, queued);
		j->queued_high_load_load += queued;
		add_count(&j->running_high_load, running);
		j->running_high_load_load += running;
	}
	return 0;
}

int
oc_parse_statistics(const char *json, size_t len,
    const struct oc_service_set *high_load, struct oc_jobs *out,
    struct oc_error *err)
{
	struct jobs_ctx ctx = { out, high_load };
	json_t *root = load(json, len, "statistics.json", err);
	int rc;

	if (root == NULL)
		return -1;
	if (json_object_get(root, "statistics") == NULL) {
		oc_error_set(err, OC_ERR_PARSE,
		    "statistics.json has no \"statistics\"");
		json_decref(root);
		return -1;
	}
	out->per_job = false;
	rc = for_each_item(root, "statistics", "service", "statistics.json",
	    stat_item, &ctx, err);
	json_decref(root);
	return rc;
}

/* Mapping */

int
oc_url_host(const char *url, char *buf, size_t len)
{
	CURLU *u = curl_url();
	char *host = NULL;
	int rc = -1;

	if (u == NULL)
		abort();
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) ==
	    CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    strlen(host) < len && utf8_valid(host, strlen(host))) {
		/* libcurl decodes %XX in the host: a byte that is not text
		 * makes the URL unusable for mapping, like a parse error. */
		for (size_t i = 0; host[i]; i++)
			buf[i] = (char)(host[i] >= 'A' && host[i] <= 'Z' ?
			    host[i] - 'A' + 'a' : host[i]);
		buf[strlen(host)] = '\0';
		rc = 0;
	}
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

/* The hosts that have a key (a URL's host part, or an address), sorted by
 * key and then by their place in the list, so that the first host of a
 * key is found by binary search. */
struct host_key {
	const char *key;	/* lower case */
	int	 h;
};

static int
cmp_host_key(const void *a, const void *b)
{
	const struct host_key *x = a, *y = b;
	int r = strcmp(x->key, y->key);

	return r ? r : (x->h > y->h) - (x->h < y->h);
}

static void
lower_ascii(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* The first host in keys (n of them, sorted) whose key is value, without
 * case, that is not used yet; -1 when none. */
static int
first_free(const struct host_key *keys, size_t n, const char *value,
    const bool *used)
{
	char buf[256], *low;
	size_t lo = 0, hi = n, vl;
	int found = -1;

	if (value == NULL || *value == '\0' || n == 0)
		return -1;
	vl = strlen(value);
	low = vl < sizeof(buf) ? buf : xmalloc(vl + 1);
	memcpy(low, value, vl + 1);
	lower_ascii(low);
	while (lo < hi) {		/* the first key >= low */
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(keys[mid].key, low) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && strcmp(keys[lo].key, low) == 0; lo++) {
		if (!used[keys[lo].h]) {
			found = keys[lo].h;
			break;
		}
	}
	if (low != buf)
		free(low);
	return found;
}

static int
min_index(int a, int b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

void
oc_map(const struct oc_map_instance *inst, size_t n,
    const struct oc_hosts *hosts, int *host_of, struct oc_map_result *res)
{
	size_t nh = hosts->n, nurl = 0, naddr = 0;
	bool *used = xcalloc(nh ? nh : 1, sizeof(*used));
	struct host_key *by_url = xcalloc(nh ? nh : 1, sizeof(*by_url));
	struct host_key *by_addr = xcalloc(nh ? nh : 1, sizeof(*by_addr));
	char (*parsed)[256] = NULL;
	size_t left_inst = 0, left_host = 0;
	int last_inst = -1, last_host = -1;

	memset(res, 0, sizeof(*res));
	res->host_of = host_of;
	res->paired_instance = res->paired_host = -1;
	for (size_t h = 0; h < nh; h++) {
		const struct oc_host *oh = &hosts->v[h];
		const char *uh = oh->url_host;

		if (uh == NULL) {	/* a list built by hand */
			if (parsed == NULL)
				parsed = xcalloc(nh, sizeof(*parsed));
			if (oc_url_host(oh->base_url, parsed[h],
			    sizeof(parsed[h])) != 0)
				parsed[h][0] = '\0';
			uh = parsed[h];
		}
		if (*uh)
			by_url[nurl++] = (struct host_key){ uh, (int)h };
		if (oh->address && *oh->address) {
			char *a = xstrdup(oh->address);

			lower_ascii(a);
			by_addr[naddr++] = (struct host_key){ a, (int)h };
		}
	}
	qsort(by_url, nurl, sizeof(*by_url), cmp_host_key);
	qsort(by_addr, naddr, sizeof(*by_addr), cmp_host_key);
	for (size_t i = 0; i < n; i++) {
		const struct oc_map_instance *in = &inst[i];
		int h = first_free(by_url, nurl, in->private_ip, used);

		h = min_index(h, first_free(by_url, nurl, in->public_dns, used));
		h = min_index(h, first_free(by_url, nurl, in->private_dns,
		    used));
		h = min_index(h, first_free(by_url, nurl, in->public_ip, used));
		h = min_index(h, first_free(by_addr, naddr, in->private_ip,
		    used));
		host_of[i] = h;
		if (h >= 0)
			used[h] = true;
	}
	for (size_t i = 0; i < n; i++) {
		if (inst[i].opencast && host_of[i] < 0) {
			left_inst++;
			last_inst = (int)i;
		}
	}
	for (size_t h = 0; h < nh; h++) {
		if (!used[h]) {
			left_host++;
			last_host = (int)h;
		}
	}
	if (left_inst == 1 && left_host == 1) {
		host_of[last_inst] = last_host;
		res->paired = true;
		res->paired_instance = last_inst;
		res->paired_host = last_host;
		left_inst = left_host = 0;
	}
	res->unmapped_instances = left_inst;
	res->unmapped_hosts = left_host;
	for (size_t k = 0; k < naddr; k++)
		free((char *)by_addr[k].key);
	free(used);
	free(by_url);
	free(by_addr);
	free(parsed);
}
