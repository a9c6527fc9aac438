/*
 * The daemon's core (see core.h): which clients and clusters exist, built
 * from one configuration and released in the reverse order.
 */
#include "daemon/core.h"

#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/aws.h"
#include "daemon/autoscaler.h"
#include "daemon/awscreds.h"
#include "daemon/cluster.h"
#include "daemon/daemon.h"
#include "daemon/ec2.h"
#include "daemon/http.h"
#include "daemon/loggly.h"
#include "daemon/metrics.h"
#include "daemon/metricsrv.h"
#include "daemon/operation.h"
#include "daemon/secrets.h"
#include "daemon/status.h"
#include "daemon/zadara.h"

static const char *
env_get(const char *name)
{
	return getenv(name);
}

/* A positive number from the environment (tests shrink the Loggly queue
 * and its flush interval), else 0. */
static uint64_t
env_count(const char *name)
{
	const char *v = env_get(name);
	char *end;
	unsigned long long n;

	if (v == NULL || *v == '\0')
		return 0;
	n = strtoull(v, &end, 10);
	return *end == '\0' ? (uint64_t)n : 0;
}

/* The Loggly sink, when a token is given (loggly.h).  It is told every
 * secret the daemon holds, so that none is sent. */
static void
start_loggly(struct daemon *d, const char *zadara_token)
{
	char *token = secret_loggly_token(env_get);
	const char *secrets[] = {
		d->oc_password, zadara_token,
		env_get("AWS_SECRET_ACCESS_KEY"), env_get("AWS_SESSION_TOKEN"),
	};
	struct loggly_settings ls = {
		.url = d->config->loggly_url,
		.token = token,
		.ca_file = d->config->loggly_ca_file,
		.secrets = secrets,
		.nsecrets = sizeof(secrets) / sizeof(secrets[0]),
		.queue_max = (size_t)env_count("EC2M_LOGGLY_QUEUE_MAX"),
		.flush_ms = env_count("EC2M_LOGGLY_FLUSH_MS"),
	};

	if (token == NULL)
		return;
	d->loggly = loggly_new(d->loop, d->http, &ls);
	free_secret(token);
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

		start_loggly(d, token);
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
	if (!aws_region_valid(region)) {
		utf8_snprintf(err, errlen, "AWS region \"%s\" is not a region "
		    "name", region);
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
	    region, aws_creds_provider_describe(d->creds));
	return 0;
}

/* Releases the clients (any of them may be missing). */
static void
free_clients(struct daemon *d)
{
	ec2_client_free(d->ec2);
	zadara_client_free(d->zadara);
	aws_creds_provider_free(d->creds);
	loggly_free(d->loggly);
	d->loggly = NULL;
	http_client_free(d->http);
	d->ec2 = NULL;
	d->zadara = NULL;
	d->creds = NULL;
	d->http = NULL;
	free(d->oc_user);
	free_secret(d->oc_password);
	d->oc_user = d->oc_password = NULL;
}

/* After the first refresh that read a cluster's instances: what a crash
 * of the last run left in maintenance is taken out again (SPEC §8). */
static void
on_cluster_refreshed(struct cluster *c)
{
	if (c->recovery_checked || c->d->stopping)
		return;
	c->recovery_checked = true;
	operation_recover(c);
}

/* A cluster and what hangs off it, made and freed in one place. */
static struct cluster *
new_cluster(struct daemon *d, const struct cluster_config *cfg)
{
	struct cluster *c = cluster_new(d, cfg);

	c->refreshed = on_cluster_refreshed;
	autoscaler_attach(c);
	return c;
}

/* Teardown order: the operation, the autoscaler, the cluster. */
static void
free_cluster(struct cluster *c)
{
	if (c->op)
		operation_cancel(c->op, "the daemon is exiting before the "
		    "operation reached a safe point");
	autoscaler_detach(c);
	status_release(c);
	cluster_free(c);
}

static void
make_clusters(struct daemon *d)
{
	struct cluster **tail = &d->clusters;

	for (size_t i = 0; i < d->config->nclusters; i++) {
		*tail = new_cluster(d, &d->config->clusters[i]);
		tail = &(*tail)->next;
	}
}

void
daemon_core_refresh_all(struct daemon *d)
{
	for (struct cluster *c = d->clusters; c; c = c->next)
		cluster_refresh(c, NULL, NULL);
}

int
daemon_core_init(struct daemon *d, uv_loop_t *loop, struct config *cfg,
    char *err, size_t errlen)
{
	d->loop = loop;
	d->config = cfg;
	if (make_clients(d, err, errlen) != 0) {
		free_clients(d);
		d->config = NULL;
		return -1;
	}
	if (cfg->metrics_listen[0] != '\0' && (d->metrics =
	    metricsrv_start(d, cfg->metrics_listen, err, errlen)) == NULL) {
		free_clients(d);
		d->config = NULL;
		return -1;
	}
	make_clusters(d);
	return 0;
}

int
daemon_core_reload(struct daemon *d, struct config *nc, char *err,
    size_t errlen)
{
	struct config *old = d->config;
	struct cluster *list = NULL, **tail = &list, *c;
	struct metricsrv *metrics = d->metrics;
	int64_t now = time_now_ms();

	/* A cluster that runs an operation cannot go away under it. */
	for (c = d->clusters; c; c = c->next) {
		if (c->op && config_cluster(nc, c->name) == NULL) {
			utf8_snprintf(err, errlen, "cluster %s would no longer "
			    "be managed but an operation runs on it; reload "
			    "again when it has ended", c->name);
			return -1;
		}
	}
	/* A new metrics address is bound before anything changes, so that
	 * a reload that cannot bind it changes nothing. */
	if (strcmp(old->metrics_listen, nc->metrics_listen) != 0 &&
	    nc->metrics_listen[0] != '\0' && (metrics = metricsrv_start(d,
	    nc->metrics_listen, err, errlen)) == NULL)
		return -1;
	if (metrics != d->metrics) {
		metricsrv_stop(d->metrics);
		d->metrics = metrics;
	} else if (nc->metrics_listen[0] == '\0') {
		metricsrv_stop(d->metrics);
		d->metrics = NULL;
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
			c = new_cluster(d, &nc->clusters[i]);
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
		metrics_forget_cluster(c->name);
		free_cluster(c);
	}
	d->clusters = list;
	d->config = nc;
	log_set_level(nc->log_level);
	if (d->loggly)
		loggly_set_endpoint(d->loggly, nc->loggly_url,
		    nc->loggly_ca_file);
	if (strcmp(old->region, nc->region) != 0 ||
	    strcmp(old->endpoint, nc->endpoint) != 0 ||
	    strcmp(old->profile, nc->profile) != 0 ||
	    strcmp(old->socket, nc->socket) != 0 ||
	    strcmp(old->socket_group, nc->socket_group) != 0)
		log_warnx("changes to [aws] and [daemon] socket settings take "
		    "effect after a restart");
	config_free(old);
	return 0;
}

void
daemon_core_note_reload(struct daemon *d, bool ok, const char *why)
{
	const char *nl;
	size_t more = 0;

	free(d->reload_error);
	d->reload_error = NULL;
	d->reload_ms = time_now_ms();
	d->reload_ok = ok;
	if (ok)
		return;
	if (why == NULL || *why == '\0')
		why = "unknown";
	nl = strchr(why, '\n');
	for (const char *p = nl; p != NULL; p = strchr(p + 1, '\n'))
		more++;
	if (nl == NULL)
		d->reload_error = xstrdup(why);
	else
		d->reload_error = utf8_asprintf("%.*s (and %zu more)",
		    (int)(nl - why), why, more);
}

json_t *
daemon_core_reload_json(const struct daemon *d)
{
	char ts[TIME_ISO8601_LEN];

	if (d->reload_ms == 0)
		return json_null();
	time_format_iso8601(d->reload_ms, ts);
	return json_pack("{s:o, s:b, s:o}", "at", json_text(ts), "ok",
	    d->reload_ok, "error", d->reload_error ?
	    json_text(d->reload_error) : json_null());
}

void
daemon_core_release(struct daemon *d)
{
	struct cluster *c;

	while ((c = d->clusters)) {
		d->clusters = c->next;
		free_cluster(c);
	}
	metricsrv_stop(d->metrics);
	d->metrics = NULL;
	free_clients(d);
	config_free(d->config);
	d->config = NULL;
	free(d->reload_error);
	d->reload_error = NULL;
}

void
daemon_core_stop(struct daemon *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	for (struct cluster *c = d->clusters; c; c = c->next) {
		autoscaler_stop(c);
		if (c->op)
			operation_abort(c->op, "the daemon is shutting down");
	}
}

size_t
daemon_core_busy(const struct daemon *d)
{
	size_t n = 0;

	for (const struct cluster *c = d->clusters; c; c = c->next)
		if (c->op)
			n++;
	return n;
}

void
daemon_core_cancel_operations(struct daemon *d)
{
	for (struct cluster *c = d->clusters; c; c = c->next)
		if (c->op)
			operation_cancel(c->op, "the daemon is exiting before "
			    "the operation reached a safe point");
}
