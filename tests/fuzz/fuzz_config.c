/*
 * The configuration loader (daemon/config.c): a main file and up to two
 * drop-ins.  The input is split at "%%" lines (fuzz.h) into
 * TMP/ec2-manager.conf, TMP/conf.d/10-a.conf and TMP/conf.d/20-b.conf,
 * which are loaded as the daemon loads /etc/ec2-manager.
 *
 * Checked: no crash, no leak; a failure has a reason that names the file
 * and is valid UTF-8 (it reaches stderr, the journal and the reply to
 * `ec2ctl reload`); a success satisfies what config.h promises and every
 * text of the configuration that status shows is valid UTF-8.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/config.h"
#include "tests/fuzz/fuzz.h"

static char *main_path;
static char *dropin_paths[2];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *dir = fuzz_path("conf.d");

	(void)argc;
	(void)argv;
	if (mkdir(dir, 0700) != 0)
		FUZZ_CHECK(0, "cannot make %s", dir);
	free(dir);
	main_path = fuzz_path("ec2-manager.conf");
	dropin_paths[0] = fuzz_path("conf.d/10-a.conf");
	dropin_paths[1] = fuzz_path("conf.d/20-b.conf");
	return 0;
}

/* Expands admin_url as the daemon does for each instance: with every
 * address (the loader checked that this works), and without the public
 * ones (a stopped instance), which may fail with a reason. */
static void
check_admin_url(const char *tmpl)
{
	char err[256], *url;

	url = config_admin_url(tmpl, "10.0.1.5", "52.16.0.9",
	    "ip-10-0-1-5.eu-west-1.compute.internal",
	    "ec2-52-16-0-9.eu-west-1.compute.amazonaws.com", err, sizeof(err));
	FUZZ_CHECK(url != NULL, "admin_url %s accepted but not expanded: %s",
	    tmpl, err);
	fuzz_check_utf8("expanded admin_url", url);
	free(url);
	err[0] = '\0';
	url = config_admin_url(tmpl, "10.0.1.5", NULL,
	    "ip-10-0-1-5.eu-west-1.compute.internal", NULL, err, sizeof(err));
	if (url == NULL) {
		FUZZ_CHECK(err[0] != '\0', "admin_url failed without a reason");
		fuzz_check_utf8("admin_url error", err);
	}
	fuzz_check_utf8("expanded admin_url", url);
	free(url);
}

/* The settings of [defaults] or of one cluster. */
static void
check_cluster(const struct cluster_config *cc)
{
	FUZZ_CHECK(cc->min_workers >= 0 && cc->max_workers >= 1,
	    "min_workers %d, max_workers %d", cc->min_workers,
	    cc->max_workers);
	FUZZ_CHECK(cc->wait_retries >= 1 && cc->scale_up_step >= 1 &&
	    cc->scale_down_step >= 1, "a count below 1");
	FUZZ_CHECK(cc->wait_interval_ms > 0 && cc->refresh_interval_ms > 0 &&
	    cc->autoscale_interval_ms > 0, "an interval that is not positive");
	FUZZ_CHECK(cc->idle_uptime_threshold_ms >= 0 &&
	    cc->min_uptime_ms >= 0 && cc->cooldown_ms >= 0,
	    "a negative duration");
	FUZZ_CHECK(cc->admin_url != NULL && cc->zadara_vpsa != NULL,
	    "a string setting is NULL");
	fuzz_check_utf8("cluster name", cc->name);
	fuzz_check_utf8("admin_url", cc->admin_url);
	check_admin_url(cc->admin_url);
	fuzz_check_utf8("zadara_vpsa", cc->zadara_vpsa);
	for (size_t i = 0; i < cc->n_high_load_services; i++)
		fuzz_check_utf8("high_load_services",
		    cc->high_load_services[i]);
}

static void
check_config(const struct config *c)
{
	FUZZ_CHECK(c->socket && c->socket_group && c->state_dir &&
	    c->region && c->endpoint && c->profile && c->zadara_url,
	    "a string setting is NULL");
	FUZZ_CHECK(c->opencast_timeout_ms > 0, "opencast timeout %lld",
	    (long long)c->opencast_timeout_ms);
	fuzz_check_utf8("socket", c->socket);
	fuzz_check_utf8("state_dir", c->state_dir);
	fuzz_check_utf8("region", c->region);
	fuzz_check_utf8("endpoint", c->endpoint);
	fuzz_check_utf8("profile", c->profile);
	fuzz_check_utf8("zadara url", c->zadara_url);
	check_cluster(&c->defaults);
	for (size_t i = 0; i < c->nclusters; i++) {
		check_cluster(&c->clusters[i]);
		/* Checked per cluster only: [defaults] may hold a minimum
		 * above the maximum that every cluster overrides. */
		FUZZ_CHECK(c->clusters[i].min_workers <=
		    c->clusters[i].max_workers, "min_workers %d > "
		    "max_workers %d", c->clusters[i].min_workers,
		    c->clusters[i].max_workers);
		FUZZ_CHECK(config_cluster(c, c->clusters[i].name) ==
		    &c->clusters[i], "cluster %s listed twice",
		    c->clusters[i].name);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_part parts[3];
	size_t n = fuzz_split(data, size, parts, 3);
	struct config *c = NULL;
	char err[1024];	/* as large as main.c's */

	fuzz_write_file(main_path, parts[0].data, parts[0].len);
	for (size_t i = 0; i < 2; i++) {
		if (i + 1 < n)
			fuzz_write_file(dropin_paths[i], parts[i + 1].data,
			    parts[i + 1].len);
		else
			fuzz_remove_file(dropin_paths[i]);
	}
	if (config_load(main_path, &c, err, sizeof(err)) == 0) {
		FUZZ_CHECK(c != NULL, "success without a config");
		check_config(c);
		config_free(c);
		return 0;
	}
	FUZZ_CHECK(strncmp(err, fuzz_tmpdir(), strlen(fuzz_tmpdir())) == 0,
	    "the reason names no file: %s", err);
	fuzz_check_utf8("config error", err);
	return 0;
}
