/* The configuration loader: every key, every default, units, [defaults]
 * inheritance, drop-in order, each kind of error with its file and line,
 * the admin URL template, and the sample etc/ec2-manager.conf.  Each test
 * writes its files into a fresh temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/config_keys.h"

#define SEC	1000LL
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)
#define DAY	(24 * HOUR)

#define SAMPLE	"../../etc/ec2-manager.conf"
#define NAME64	"abcdefghij0123456789ABCDEFGHIJ0123456789" \
	"abcdefghij0123456789-._x"
/* The longest socket path that sun_path holds (107 bytes and a NUL), and
 * one byte more. */
#define SOCKET107 "/run/ec2-manager/012345678901234567890123456789012345" \
	"678901234567890123456789012345678901234567890123456789"
#define LONG_SOCKET SOCKET107 "x"

#define MAIN	"ec2-manager.conf"

/* The temporary directory of the running test. */
struct fixture {
	char	dir[64];
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/ec2m-config-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	*state = fx;
	return 0;
}

static int
remove_cb(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(path);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	nftw(fx->dir, remove_cb, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Writes len bytes of text to dir/name, making conf.d when name is in it. */
static void
put_len(const char *dir, const char *name, const char *text, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	if (strncmp(name, "conf.d/", 7) == 0) {
		snprintf(path, sizeof(path), "%s/conf.d", dir);
		mkdir(path, 0700);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
put(const char *dir, const char *name, const char *text)
{
	put_len(dir, name, text, strlen(text));
}

static char *
main_path(const char *dir)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, MAIN);
	return path;
}

/* Loads path, which must succeed. */
static struct config *
load_path(const char *path)
{
	struct config *c = NULL;
	char err[512];

	if (config_load(path, &c, err, sizeof(err)) != 0)
		fail_msg("config_load(%s): %s", path, err);
	assert_non_null(c);
	return c;
}

static struct config *
load(const char *dir)
{
	return load_path(main_path(dir));
}

/* Loads dir's main file, which must fail with dir/want; a "%s" in want
 * stands for dir once more. */
static void
expect_error(const char *dir, const char *want)
{
	struct config *c = NULL;
	char err[512], full[1024], tail[512];

	snprintf(tail, sizeof(tail), want, dir);
	snprintf(full, sizeof(full), "%s/%s", dir, tail);
	assert_int_equal(config_load(main_path(dir), &c, err, sizeof(err)),
	    -1);
	assert_null(c);
	assert_string_equal(err, full);
}

/* Loads dir's main file, which must fail with want, every "@" in it
 * standing for dir (several errors, one per line). */
static void
expect_lines(const char *dir, const char *want)
{
	struct config *c = NULL;
	char err[4096], full[4096];
	size_t n = 0;

	for (const char *p = want; *p != '\0' && n + 128 < sizeof(full);
	    p++) {
		if (*p == '@') {
			n += (size_t)snprintf(full + n, sizeof(full) - n, "%s",
			    dir);	/* not text */
		} else
			full[n++] = *p;
	}
	full[n] = '\0';
	assert_int_equal(config_load(main_path(dir), &c, err, sizeof(err)),
	    -1);
	assert_null(c);
	assert_string_equal(err, full);
}

struct error_case {
	const char	*text;		/* the main file */
	const char	*want;		/* the error after "DIR/" */
};

static void
expect_errors(const char *dir, const struct error_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		put(dir, MAIN, cases[i].text);
		expect_error(dir, cases[i].want);
	}
}

static void
assert_list(char **list, size_t n, const char *const *want)
{
	size_t i;

	for (i = 0; want[i] != NULL; i++) {
		assert_true(i < n);
		assert_string_equal(list[i], want[i]);
	}
	assert_int_equal(n, i);
}

static const char *const builtin_services[] = {
	"org.opencastproject.composer", "org.opencastproject.inspection",
	"org.opencastproject.videoeditor",
	"org.opencastproject.videosegmenter", NULL
};

/* The built-in per-cluster defaults, written out. */
static void
assert_builtin_cluster(const struct cluster_config *cc)
{
	assert_int_equal(cc->min_workers, 2);
	assert_int_equal(cc->max_workers, 10);
	assert_int_equal(cc->min_idle_workers, 0);
	assert_int_equal(cc->max_queued_jobs, 0);
	assert_list(cc->high_load_services, cc->n_high_load_services,
	    builtin_services);
	assert_int_equal(cc->job_source, JOB_SOURCE_ACTIVE_JOBS);
	assert_int_equal(cc->billing, BILLING_HOURLY);
	assert_int_equal(cc->idle_uptime_threshold_ms, 50 * MIN);
	assert_int_equal(cc->min_uptime_ms, 10 * MIN);
	assert_int_equal(cc->wait_retries, 10);
	assert_int_equal(cc->wait_interval_ms, 10 * SEC);
	assert_int_equal(cc->refresh_interval_ms, 60 * SEC);
	/* Autoscaling is opt-in (SPEC §7). */
	assert_false(cc->autoscale);
	assert_int_equal(cc->autoscale_interval_ms, 2 * MIN);
	assert_int_equal(cc->scale_up_step, 1);
	assert_int_equal(cc->scale_down_step, 1);
	assert_int_equal(cc->cooldown_ms, 5 * MIN);
	assert_string_equal(cc->admin_url, "http://{private_ip}");
	assert_string_equal(cc->zadara_vpsa, "");
}

/* The built-in defaults of the other sections. */
static void
assert_builtin_globals(const struct config *c)
{
	assert_string_equal(c->socket, "/run/ec2-manager/ctl.sock");
	/* The group systemd/ec2-manager.sysusers creates. */
	assert_string_equal(c->socket_group, "ec2-manager");
	assert_string_equal(c->state_dir, "/var/lib/ec2-manager");
	assert_int_equal(c->log_level, LOG_INFO);
	assert_string_equal(c->region, "");
	assert_string_equal(c->endpoint, "");
	assert_string_equal(c->profile, "");
	assert_int_equal(c->opencast_timeout_ms, 10 * SEC);
	assert_string_equal(c->zadara_url, "https://manage.zadarastorage.com");
}

/* Every per-cluster key with a value other than its default. */
static const char every_cluster_key[] =
    "min_workers = 0\n"
    "max_workers = 25\n"
    "min_idle_workers = 2\n"
    "max_queued_jobs = 4\n"
    "high_load_services = org.opencastproject.composer "
    "org.opencastproject.execute\n"
    "job_source = statistics\n"
    "billing = per-second\n"
    "idle_uptime_threshold = 0\n"
    "min_uptime = 90s\n"
    "wait_retries = 3\n"
    "wait_interval = 500ms\n"
    "refresh_interval = 2min\n"
    "autoscale = on\n"
    "autoscale_interval = 1h\n"
    "scale_up_step = 2\n"
    "scale_down_step = 3\n"
    "cooldown = 0\n"
    "admin_url = https://{public_dns}:8443/\n"
    "zadara_vpsa = vsa-0000000a\n";

static void
assert_every_cluster_key(const struct cluster_config *cc)
{
	static const char *const services[] = {
		"org.opencastproject.composer", "org.opencastproject.execute",
		NULL
	};

	assert_int_equal(cc->min_workers, 0);
	assert_int_equal(cc->max_workers, 25);
	assert_int_equal(cc->min_idle_workers, 2);
	assert_int_equal(cc->max_queued_jobs, 4);
	assert_list(cc->high_load_services, cc->n_high_load_services,
	    services);
	assert_int_equal(cc->job_source, JOB_SOURCE_STATISTICS);
	assert_int_equal(cc->billing, BILLING_PER_SECOND);
	assert_int_equal(cc->idle_uptime_threshold_ms, 0);
	assert_int_equal(cc->min_uptime_ms, 90 * SEC);
	assert_int_equal(cc->wait_retries, 3);
	assert_int_equal(cc->wait_interval_ms, 500);
	assert_int_equal(cc->refresh_interval_ms, 2 * MIN);
	assert_true(cc->autoscale);
	assert_int_equal(cc->autoscale_interval_ms, HOUR);
	assert_int_equal(cc->scale_up_step, 2);
	assert_int_equal(cc->scale_down_step, 3);
	assert_int_equal(cc->cooldown_ms, 0);
	assert_string_equal(cc->admin_url, "https://{public_dns}:8443/");
	assert_string_equal(cc->zadara_vpsa, "vsa-0000000a");
}

/* Two per-cluster settings are equal in every key. */
static void
assert_same_cluster(const struct cluster_config *a,
    const struct cluster_config *b)
{
	size_t i;

	assert_int_equal(a->min_workers, b->min_workers);
	assert_int_equal(a->max_workers, b->max_workers);
	assert_int_equal(a->min_idle_workers, b->min_idle_workers);
	assert_int_equal(a->max_queued_jobs, b->max_queued_jobs);
	assert_int_equal(a->n_high_load_services, b->n_high_load_services);
	for (i = 0; i < a->n_high_load_services; i++)
		assert_string_equal(a->high_load_services[i],
		    b->high_load_services[i]);
	assert_int_equal(a->job_source, b->job_source);
	assert_int_equal(a->billing, b->billing);
	assert_int_equal(a->idle_uptime_threshold_ms,
	    b->idle_uptime_threshold_ms);
	assert_int_equal(a->min_uptime_ms, b->min_uptime_ms);
	assert_int_equal(a->wait_retries, b->wait_retries);
	assert_int_equal(a->wait_interval_ms, b->wait_interval_ms);
	assert_int_equal(a->refresh_interval_ms, b->refresh_interval_ms);
	assert_int_equal(a->autoscale, b->autoscale);
	assert_int_equal(a->autoscale_interval_ms, b->autoscale_interval_ms);
	assert_int_equal(a->scale_up_step, b->scale_up_step);
	assert_int_equal(a->scale_down_step, b->scale_down_step);
	assert_int_equal(a->cooldown_ms, b->cooldown_ms);
	assert_string_equal(a->admin_url, b->admin_url);
	assert_string_equal(a->zadara_vpsa, b->zadara_vpsa);
}

static void
test_duration(void **state)
{
	static const struct {
		const char	*s;
		int64_t		 ms;
	} good[] = {
		{ "0", 0 }, { "0ms", 0 }, { "0d", 0 }, { "90", 90 * SEC },
		{ "90s", 90 * SEC }, { "5m", 5 * MIN }, { "5min", 5 * MIN },
		{ "1h", HOUR }, { "2d", 2 * DAY }, { "500ms", 500 },
		{ "007s", 7 * SEC }, { "9223372036854775807ms", INT64_MAX },
	};
	static const char *const bad[] = {
		"", "s", "ms", "-1", "-5m", "+1", "1.5m", "5 m", " 5m", "5m ",
		"5M", "5x", "5mss", "5sm", "1e3", "0x10", "5 min",
		"9223372036854775808ms", "9223372036854775807s",
		"106751991167301d", "99999999999999999999999",
	};
	int64_t ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = -1;
		assert_int_equal(config_parse_duration(good[i].s, &ms), 0);
		assert_int_equal(ms, good[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = 42;
		if (config_parse_duration(bad[i], &ms) != -1)
			fail_msg("\"%s\" parsed as a duration", bad[i]);
		assert_int_equal(ms, 42);
	}
}

static void
test_defaults(void **state)
{
	struct fixture *fx = *state;
	struct config *c;

	/* An empty file, and one with only headers and comments. */
	put(fx->dir, MAIN, "");
	c = load(fx->dir);
	assert_string_equal(c->path, main_path(fx->dir));
	assert_builtin_globals(c);
	assert_builtin_cluster(&c->defaults);
	assert_null(c->defaults.name);
	assert_int_equal(c->nclusters, 0);
	assert_null(config_cluster(c, "dev04"));
	/* Nothing was set: every key has its default. */
	assert_null(config_where(c, "socket_group"));
	assert_null(config_where(c, "region"));
	config_free(c);

	put(fx->dir, MAIN, "# nothing\n[daemon]\n[aws]\n; nothing\n"
	    "[opencast]\n[zadara]\n[defaults]\n");
	c = load(fx->dir);
	assert_builtin_globals(c);
	assert_builtin_cluster(&c->defaults);
	assert_int_equal(c->nclusters, 0);
	config_free(c);

	/* A cluster that sets nothing gets every default. */
	put(fx->dir, MAIN, "[cluster dev04]\n");
	c = load(fx->dir);
	assert_int_equal(c->nclusters, 1);
	assert_string_equal(c->clusters[0].name, "dev04");
	assert_builtin_cluster(&c->clusters[0]);
	config_free(c);
	config_free(NULL);
}

static void
test_every_key(void **state)
{
	struct fixture *fx = *state;
	struct config *c;
	char text[4096];

	snprintf(text, sizeof(text),
	    "[daemon]\n"
	    "socket = /tmp/ec2m.sock\n"
	    "socket_group = staff\n"
	    "state_dir = /srv/ec2m\n"
	    "log_level = debug\n"
	    "[aws]\n"
	    "region = eu-central-1\n"
	    "endpoint = http://127.0.0.1:4566\n"
	    "profile = scaler\n"
	    "[opencast]\n"
	    "timeout = 1500ms\n"
	    "[zadara]\n"
	    "url = https://zadara.example.org\n"
	    "[cluster dev04]\n"
	    "%s"
	    "[cluster plain]\n", every_cluster_key);
	put(fx->dir, MAIN, text);
	c = load(fx->dir);
	assert_string_equal(c->socket, "/tmp/ec2m.sock");
	assert_string_equal(c->socket_group, "staff");
	assert_non_null(config_where(c, "socket_group"));
	assert_string_equal(c->state_dir, "/srv/ec2m");
	assert_int_equal(c->log_level, LOG_DEBUG);
	assert_string_equal(c->region, "eu-central-1");
	assert_string_equal(c->endpoint, "http://127.0.0.1:4566");
	assert_string_equal(c->profile, "scaler");
	assert_int_equal(c->opencast_timeout_ms, 1500);
	assert_string_equal(c->zadara_url, "https://zadara.example.org");
	assert_int_equal(c->nclusters, 2);
	assert_string_equal(c->clusters[0].name, "dev04");
	assert_every_cluster_key(&c->clusters[0]);
	assert_ptr_equal(config_cluster(c, "dev04"), &c->clusters[0]);
	/* Neither [defaults] nor the other cluster took any of it. */
	assert_builtin_cluster(&c->defaults);
	assert_builtin_cluster(&c->clusters[1]);
	config_free(c);

	/* The same keys in [defaults] reach a cluster that sets none. */
	snprintf(text, sizeof(text), "[defaults]\n%s[cluster dev05]\n",
	    every_cluster_key);
	put(fx->dir, MAIN, text);
	c = load(fx->dir);
	assert_every_cluster_key(&c->defaults);
	assert_every_cluster_key(&c->clusters[0]);
	assert_builtin_globals(c);
	/* The cluster has copies, not [defaults]'s strings. */
	assert_ptr_not_equal(c->clusters[0].admin_url, c->defaults.admin_url);
	assert_ptr_not_equal(c->clusters[0].high_load_services,
	    c->defaults.high_load_services);
	config_free(c);
}

static void
test_values(void **state)
{
	static const char *const on[] = { "on", "ON", "true", "True", "yes",
	    "YES", "1" };
	static const char *const off[] = { "off", "Off", "false", "FALSE",
	    "no", "No", "0" };
	static const struct {
		const char	*name;
		int		 level;
	} levels[] = {
		{ "err", LOG_ERR }, { "error", LOG_ERR },
		{ "warning", LOG_WARNING }, { "warn", LOG_WARNING },
		{ "notice", LOG_NOTICE }, { "info", LOG_INFO },
		{ "DEBUG", LOG_DEBUG },
	};
	static const char *const none[] = { NULL };
	struct fixture *fx = *state;
	struct config *c;
	char text[512];
	size_t i;

	for (i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		snprintf(text, sizeof(text), "[defaults]\nautoscale = %s\n",
		    on[i]);
		put(fx->dir, MAIN, text);
		c = load(fx->dir);
		assert_true(c->defaults.autoscale);
		config_free(c);
		snprintf(text, sizeof(text), "[defaults]\nautoscale = %s\n",
		    off[i]);
		put(fx->dir, MAIN, text);
		c = load(fx->dir);
		assert_false(c->defaults.autoscale);
		config_free(c);
	}
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		snprintf(text, sizeof(text), "[daemon]\nlog_level = %s\n",
		    levels[i].name);
		put(fx->dir, MAIN, text);
		c = load(fx->dir);
		assert_int_equal(c->log_level, levels[i].level);
		config_free(c);
	}

	/* Units, the limits of the durations, and the other enum values. */
	put(fx->dir, MAIN,
	    "[defaults]\n"
	    "idle_uptime_threshold = 3599999ms\n"
	    "min_uptime = 1d\n"
	    "wait_interval = 2\n"
	    "refresh_interval = 1ms\n"
	    "autoscale_interval = 90s\n"
	    "cooldown = 3h\n"
	    "billing = hourly\n"
	    "job_source = active_jobs\n"
	    "[cluster a]\n"
	    "idle_uptime_threshold = 59m\n"
	    "min_uptime = 0\n"
	    "cooldown = 0s\n"
	    "max_workers = 2147483647\n"
	    "min_workers = -0\n"
	    "high_load_services =\n"
	    "admin_url = HTTP://admin.example.org:8080\n"
	    "[daemon]\n"
	    "socket = " SOCKET107 "\n"
	    "[cluster b]\n"
	    "min_workers = 3\n"
	    "max_workers = 3\n"
	    "high_load_services = \t one  two\tthree \n");
	c = load(fx->dir);
	assert_int_equal(c->defaults.idle_uptime_threshold_ms, 60 * MIN - 1);
	assert_int_equal(c->defaults.min_uptime_ms, DAY);
	assert_int_equal(c->defaults.wait_interval_ms, 2 * SEC);
	assert_int_equal(c->defaults.refresh_interval_ms, 1);
	assert_int_equal(c->defaults.autoscale_interval_ms, 90 * SEC);
	assert_int_equal(c->defaults.cooldown_ms, 3 * HOUR);
	assert_int_equal(c->defaults.billing, BILLING_HOURLY);
	assert_int_equal(c->defaults.job_source, JOB_SOURCE_ACTIVE_JOBS);
	assert_int_equal(c->clusters[0].idle_uptime_threshold_ms, 59 * MIN);
	assert_int_equal(c->clusters[0].min_uptime_ms, 0);
	assert_int_equal(c->clusters[0].cooldown_ms, 0);
	assert_int_equal(c->clusters[0].max_workers, INT_MAX);
	assert_int_equal(c->clusters[0].min_workers, 0);
	/* An empty list is allowed: nothing counts as high load. */
	assert_list(c->clusters[0].high_load_services,
	    c->clusters[0].n_high_load_services, none);
	assert_string_equal(c->clusters[0].admin_url,
	    "HTTP://admin.example.org:8080");
	assert_int_equal(c->clusters[0].wait_interval_ms, 2 * SEC);
	assert_int_equal(strlen(c->socket), 107);
	assert_string_equal(c->socket, SOCKET107);
	assert_int_equal(c->clusters[1].min_workers, 3);
	assert_int_equal(c->clusters[1].max_workers, 3);
	assert_list(c->clusters[1].high_load_services,
	    c->clusters[1].n_high_load_services,
	    (const char *const []){ "one", "two", "three", NULL });
	config_free(c);
}

static void
test_inheritance(void **state)
{
	static const char *const ab[] = { "a", "b", NULL };
	struct fixture *fx = *state;
	const struct cluster_config *early, *late;
	struct config *c;

	/* [defaults] after the cluster, twice, and again in a drop-in: the
	 * clusters get the final value of each key. */
	put(fx->dir, MAIN,
	    "[cluster early]\n"
	    "max_workers = 8\n"
	    "\n"
	    "[defaults]\n"
	    "min_workers = 3\n"
	    "billing = per-second\n"
	    "cooldown = 1m\n"
	    "\n"
	    "[defaults]\n"
	    "cooldown = 2m\n"
	    "\n"
	    "[cluster late]\n"
	    "min_workers = 1\n"
	    "high_load_services = x\n");
	put(fx->dir, "conf.d/10-defaults.conf",
	    "[defaults]\n"
	    "job_source = statistics\n"
	    "admin_url = https://{public_dns}:8443\n"
	    "high_load_services = a b\n"
	    "min_workers = 4\n");
	c = load(fx->dir);
	assert_int_equal(c->nclusters, 2);
	early = config_cluster(c, "early");
	late = config_cluster(c, "late");
	assert_ptr_equal(early, &c->clusters[0]);
	assert_ptr_equal(late, &c->clusters[1]);

	assert_int_equal(c->defaults.min_workers, 4);
	assert_int_equal(c->defaults.max_workers, 10);
	assert_int_equal(c->defaults.billing, BILLING_PER_SECOND);
	assert_int_equal(c->defaults.cooldown_ms, 2 * MIN);
	assert_int_equal(c->defaults.job_source, JOB_SOURCE_STATISTICS);

	assert_int_equal(early->max_workers, 8);
	assert_int_equal(early->min_workers, 4);
	assert_int_equal(early->billing, BILLING_PER_SECOND);
	assert_int_equal(early->cooldown_ms, 2 * MIN);
	assert_int_equal(early->job_source, JOB_SOURCE_STATISTICS);
	assert_string_equal(early->admin_url, "https://{public_dns}:8443");
	assert_list(early->high_load_services, early->n_high_load_services,
	    ab);
	assert_int_equal(early->wait_retries, 10);

	/* A key the cluster sets wins over [defaults], wherever that is. */
	assert_int_equal(late->min_workers, 1);
	assert_int_equal(late->max_workers, 10);
	assert_list(late->high_load_services, late->n_high_load_services,
	    (const char *const []){ "x", NULL });
	assert_int_equal(late->billing, BILLING_PER_SECOND);
	assert_string_equal(late->admin_url, "https://{public_dns}:8443");
	config_free(c);
}

static void
test_dropin_order(void **state)
{
	struct fixture *fx = *state;
	struct config *c;

	put(fx->dir, MAIN,
	    "[daemon]\n"
	    "log_level = err\n"
	    "state_dir = /main\n"
	    "[cluster a]\n"
	    "min_workers = 1\n");
	/* Written out of order: the loader sorts. */
	put(fx->dir, "conf.d/20-b.conf",
	    "[daemon]\n"
	    "log_level = debug\n"
	    "[cluster a]\n"
	    "max_workers = 7\n");
	put(fx->dir, "conf.d/10-a.conf",
	    "[daemon]\n"
	    "log_level = warning\n"
	    "socket_group = first\n"
	    "[cluster a]\n"
	    "max_workers = 5\n"
	    "min_workers = 3\n"
	    "[cluster b]\n");
	/* Byte order, not the locale's: "Z" comes before "_" and "a".  The
	 * clusters show the order in which the files were read. */
	put(fx->dir, "conf.d/a.conf", "[daemon]\nstate_dir = /a\n"
	    "[cluster a]\n");
	put(fx->dir, "conf.d/Z.conf", "[daemon]\nstate_dir = /Z\n"
	    "[cluster Z]\n");
	put(fx->dir, "conf.d/15-x.conf", "[cluster 15]\n");
	put(fx->dir, "conf.d/_.conf", "[cluster _]\n");
	put(fx->dir, "conf.d/05-x.conf", "[cluster 05]\n");
	put(fx->dir, "conf.d/9.conf", "[cluster 9]\n");
	/* None of these is a drop-in; each would fail if read. */
	put(fx->dir, "conf.d/README", "[bogus]\n");
	put(fx->dir, "conf.d/.hidden.conf", "[bogus]\n");
	put(fx->dir, "conf.d/30-c.conf.bak", "[bogus]\n");
	put(fx->dir, "conf.d/30-c.conf~", "[bogus]\n");
	put(fx->dir, "conf.d/.conf", "[bogus]\n");
	c = load(fx->dir);
	assert_int_equal(c->log_level, LOG_DEBUG);
	assert_string_equal(c->socket_group, "first");
	assert_string_equal(c->state_dir, "/a");
	assert_int_equal(c->nclusters, 7);
	assert_string_equal(c->clusters[0].name, "a");
	assert_int_equal(c->clusters[0].min_workers, 3);
	assert_int_equal(c->clusters[0].max_workers, 7);
	assert_string_equal(c->clusters[1].name, "05");
	assert_string_equal(c->clusters[2].name, "b");
	assert_builtin_cluster(&c->clusters[2]);
	assert_string_equal(c->clusters[3].name, "15");
	assert_string_equal(c->clusters[4].name, "9");
	assert_string_equal(c->clusters[5].name, "Z");
	assert_string_equal(c->clusters[6].name, "_");
	/* The path is the main file's, drop-ins or not. */
	assert_string_equal(c->path, main_path(fx->dir));
	config_free(c);
}

static void
test_clusters(void **state)
{
	static const char name64[] = NAME64;
	struct fixture *fx = *state;
	struct config *c;
	char text[512];

	assert_int_equal(strlen(name64), 64);
	snprintf(text, sizeof(text),
	    "[cluster b]\n"
	    "min_workers = 1\n"
	    "max_workers = 5\n"
	    "[cluster a]\n"
	    "[  cluster \t c.d_e-F9  ]\n"
	    "[cluster %s]\n"
	    "max_queued_jobs = 7\n", name64);
	put(fx->dir, MAIN, text);
	put(fx->dir, "conf.d/10-more.conf",
	    "[cluster z]\n"
	    "[cluster a]\n"
	    "max_workers = 3\n");
	c = load(fx->dir);
	/* In the order the sections first appear; a drop-in's section of a
	 * cluster overrides keys of the earlier files. */
	assert_int_equal(c->nclusters, 5);
	assert_string_equal(c->clusters[0].name, "b");
	assert_string_equal(c->clusters[1].name, "a");
	assert_string_equal(c->clusters[2].name, "c.d_e-F9");
	assert_string_equal(c->clusters[3].name, name64);
	assert_string_equal(c->clusters[4].name, "z");
	assert_int_equal(c->clusters[0].min_workers, 1);
	assert_int_equal(c->clusters[0].max_workers, 5);
	assert_int_equal(c->clusters[1].min_workers, 2);
	assert_int_equal(c->clusters[1].max_workers, 3);
	assert_builtin_cluster(&c->clusters[2]);
	assert_int_equal(c->clusters[3].max_queued_jobs, 7);
	assert_builtin_cluster(&c->clusters[4]);
	assert_ptr_equal(config_cluster(c, "a"), &c->clusters[1]);
	assert_ptr_equal(config_cluster(c, name64), &c->clusters[3]);
	assert_null(config_cluster(c, "A"));
	assert_null(config_cluster(c, "nope"));
	config_free(c);
}

static void
test_syntax(void **state)
{
	static const char text[] =
	    "\xef\xbb\xbf[daemon]\r\n"
	    "  log_level = debug   ; an inline comment\r\n"
	    "\t# a comment\r\n"
	    "; a comment\r\n"
	    "\r\n"
	    "socket_group = staff # a comment, too\r\n"
	    "[aws]\r\n"
	    "region: eu-west-1   # Ireland\r\n"
	    "endpoint = http://h/#frag ;x\r\n"
	    "  [opencast]\r\n"
	    "    timeout = 30s\r\n"
	    "    [defaults]\n"
	    "    min_workers = 1\n"
	    "    max_workers = 3\n"
	    "[cluster x];comment\n"
	    "zadara_vpsa = vsa-1";
	struct fixture *fx = *state;
	struct config *c;

	put(fx->dir, MAIN, text);
	c = load(fx->dir);
	assert_int_equal(c->log_level, LOG_DEBUG);
	/* "#" after a blank starts a comment too (issue 14). */
	assert_string_equal(c->socket_group, "staff");
	assert_string_equal(c->region, "eu-west-1");
	/* Without a blank before it, "#" is part of the value. */
	assert_string_equal(c->endpoint, "http://h/#frag");
	assert_int_equal(c->opencast_timeout_ms, 30 * SEC);
	/* Indented keys are keys, not continuations of the one before. */
	assert_int_equal(c->defaults.min_workers, 1);
	assert_int_equal(c->defaults.max_workers, 3);
	assert_int_equal(c->nclusters, 1);
	assert_string_equal(c->clusters[0].zadara_vpsa, "vsa-1");
	config_free(c);
}

static void
test_section_errors(void **state)
{
	static const struct error_case cases[] = {
		{ "[foo]\n", MAIN ":1: unknown section [foo]" },
		{ "[daemon]\nlog_level = info\n[cluster]\n",
		  MAIN ":3: [cluster] needs a name, as in [cluster dev04]" },
		{ "[cluster   ]\n",
		  MAIN ":1: [cluster] needs a name, as in [cluster dev04]" },
		{ "[cluster a b]\n", MAIN ":1: invalid cluster name \"a b\": "
		  "it takes 1 to 64 letters, digits, '.', '_' or '-'" },
		{ "\n[cluster a/b]\n", MAIN ":2: invalid cluster name \"a/b\": "
		  "it takes 1 to 64 letters, digits, '.', '_' or '-'" },
		{ "[cluster " NAME64 "y]\n", MAIN ":1: invalid cluster name "
		  "\"" NAME64 "y\": it takes 1 to 64 letters, digits, '.', "
		  "'_' or '-'" },
		{ "[daemon extra]\n", MAIN ":1: unknown section "
		  "[daemon extra]: [daemon] takes no name" },
		{ "[defaults x]\n", MAIN ":1: unknown section [defaults x]: "
		  "[defaults] takes no name" },
		{ "[Daemon]\n", MAIN ":1: unknown section [Daemon]; did you "
		  "mean [daemon]?" },
		{ "[clusters a]\n", MAIN ":1: unknown section [clusters a]; "
		  "did you mean [cluster a]?" },
		{ "[clustr]\n", MAIN ":1: unknown section [clustr]; did you "
		  "mean [cluster NAME]?" },
		{ "[opencats]\n", MAIN ":1: unknown section [opencats]; did "
		  "you mean [opencast]?" },
		{ "[paths]\n", MAIN ":1: unknown section [paths]" },
		{ "[]\n", MAIN ":1: unknown section []" },
		/* Errors in sections that no key follows. */
		{ "[daemon]\n[bogus]\n[aws]\n", MAIN ":2: unknown section "
		  "[bogus]" },
	};
	struct fixture *fx = *state;

	expect_errors(fx->dir, cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_key_errors(void **state)
{
	static const struct error_case cases[] = {
		{ "[cluster dev04]\nmin_workers = 1\nmin_worker = 3\n",
		  MAIN ":3: unknown key \"min_worker\" in [cluster dev04]; "
		  "did you mean min_workers?" },
		{ "[aws]\nregoin = eu-west-1\n", MAIN ":2: unknown key "
		  "\"regoin\" in [aws]; did you mean region?" },
		{ "[defaults]\nautoscael = on\n", MAIN ":2: unknown key "
		  "\"autoscael\" in [defaults]; did you mean autoscale?" },
		{ "[defaults]\nfrobnicate = 2\n", MAIN ":2: unknown key "
		  "\"frobnicate\" in [defaults]" },
		/* Secrets are not keys. */
		{ "[opencast]\npassword = secret\n",
		  MAIN ":2: unknown key \"password\" in [opencast]" },
		{ "[zadara]\ntoken = secret\n",
		  MAIN ":2: unknown key \"token\" in [zadara]" },
		{ "[defaults]\nsocket = /x\n", MAIN ":2: unknown key "
		  "\"socket\" in [defaults]; it belongs in [daemon]" },
		{ "[daemon]\nmin_workers = 3\n", MAIN ":2: unknown key "
		  "\"min_workers\" in [daemon]; it belongs in [defaults] or "
		  "[cluster NAME]" },
		{ "[aws]\nRegion = x\n", MAIN ":2: unknown key \"Region\" "
		  "in [aws]; did you mean region?" },
		{ "\nmin_workers = 3\n",
		  MAIN ":2: key \"min_workers\" outside of a section" },
	};
	struct fixture *fx = *state;

	expect_errors(fx->dir, cases, sizeof(cases) / sizeof(cases[0]));

	/* A drop-in starts outside of any section, too. */
	put(fx->dir, MAIN, "[cluster a]\n");
	put(fx->dir, "conf.d/10-x.conf", "# more\nmax_workers = 3\n");
	expect_error(fx->dir, "conf.d/10-x.conf:2: key \"max_workers\" "
	    "outside of a section");
}

#define DURATION_WHY "not a duration (such as 500ms, 90s, 5m, 1h, 2d)"

static void
test_value_errors(void **state)
{
	static const struct error_case cases[] = {
		{ "[defaults]\nmin_workers = abc\n", MAIN ":2: invalid value "
		  "\"abc\" for min_workers: not an integer" },
		{ "[defaults]\nmin_workers = 2x\n", MAIN ":2: invalid value "
		  "\"2x\" for min_workers: not an integer" },
		{ "[defaults]\nmin_workers =\n", MAIN ":2: invalid value "
		  "\"\" for min_workers: not an integer" },
		{ "[defaults]\nmin_workers = +3\n", MAIN ":2: invalid value "
		  "\"+3\" for min_workers: not an integer" },
		{ "[defaults]\nmin_workers = 1.5\n", MAIN ":2: invalid value "
		  "\"1.5\" for min_workers: not an integer" },
		{ "[defaults]\nmin_workers = -1\n", MAIN ":2: invalid value "
		  "\"-1\" for min_workers: must not be negative" },
		{ "[defaults]\nmin_workers = 2147483648\n", MAIN ":2: invalid "
		  "value \"2147483648\" for min_workers: out of range" },
		{ "[defaults]\nmax_workers = 99999999999999999999\n", MAIN
		  ":2: invalid value \"99999999999999999999\" for max_workers: "
		  "out of range" },
		{ "[defaults]\nmax_workers = 0\n", MAIN ":2: invalid value "
		  "\"0\" for max_workers: must be at least 1" },
		{ "[cluster a]\nmin_idle_workers = -2\n", MAIN ":2: invalid "
		  "value \"-2\" for min_idle_workers: must not be negative" },
		{ "[cluster a]\nmax_queued_jobs = -1\n", MAIN ":2: invalid "
		  "value \"-1\" for max_queued_jobs: must not be negative" },
		{ "[cluster a]\nwait_retries = 0\n", MAIN ":2: invalid value "
		  "\"0\" for wait_retries: must be at least 1" },
		{ "[cluster a]\nscale_up_step = 0\n", MAIN ":2: invalid value "
		  "\"0\" for scale_up_step: must be at least 1" },
		{ "[cluster a]\nscale_down_step = -2\n", MAIN ":2: invalid "
		  "value \"-2\" for scale_down_step: must be at least 1" },
		{ "[defaults]\ncooldown = 5x\n", MAIN ":2: invalid value "
		  "\"5x\" for cooldown: " DURATION_WHY },
		{ "[defaults]\ncooldown = -1m\n", MAIN ":2: invalid value "
		  "\"-1m\" for cooldown: " DURATION_WHY },
		{ "[defaults]\nmin_uptime = 1.5h\n", MAIN ":2: invalid value "
		  "\"1.5h\" for min_uptime: " DURATION_WHY },
		{ "[defaults]\nidle_uptime_threshold = 60m\n", MAIN ":2: "
		  "invalid value \"60m\" for idle_uptime_threshold: must be "
		  "less than 60m" },
		{ "[defaults]\nidle_uptime_threshold = 1h\n", MAIN ":2: "
		  "invalid value \"1h\" for idle_uptime_threshold: must be "
		  "less than 60m" },
		{ "[defaults]\nwait_interval = 0\n", MAIN ":2: invalid value "
		  "\"0\" for wait_interval: must be greater than 0" },
		{ "[defaults]\nrefresh_interval = 0s\n", MAIN ":2: invalid "
		  "value \"0s\" for refresh_interval: must be greater than 0" },
		{ "[defaults]\nautoscale_interval = 0ms\n", MAIN ":2: invalid "
		  "value \"0ms\" for autoscale_interval: must be greater than "
		  "0" },
		{ "[opencast]\ntimeout = 0\n", MAIN ":2: invalid value \"0\" "
		  "for timeout: must be greater than 0" },
		{ "[opencast]\ntimeout =\n", MAIN ":2: invalid value \"\" "
		  "for timeout: " DURATION_WHY },
		{ "[defaults]\njob_source = jobs\n", MAIN ":2: invalid value "
		  "\"jobs\" for job_source: expected active_jobs or "
		  "statistics" },
		{ "[defaults]\nbilling = monthly\n", MAIN ":2: invalid value "
		  "\"monthly\" for billing: expected hourly or per-second" },
		{ "[defaults]\nbilling = Hourly\n", MAIN ":2: invalid value "
		  "\"Hourly\" for billing: expected hourly or per-second" },
		{ "[defaults]\nautoscale = maybe\n", MAIN ":2: invalid value "
		  "\"maybe\" for autoscale: expected on or off" },
		{ "[daemon]\nlog_level = verbose\n", MAIN ":2: invalid value "
		  "\"verbose\" for log_level: expected err, warning, notice, "
		  "info or debug" },
		{ "[defaults]\nadmin_url = http://{private_ip}:8080/{foo}\n",
		  MAIN ":2: invalid value \"http://{private_ip}:8080/{foo}\" "
		  "for admin_url: unknown placeholder {foo}" },
		{ "[defaults]\nadmin_url = http://{private_ip\n", MAIN ":2: "
		  "invalid value \"http://{private_ip\" for admin_url: "
		  "unterminated placeholder {private_ip" },
		{ "[defaults]\nadmin_url = ftp://x\n", MAIN ":2: invalid "
		  "value \"ftp://x\" for admin_url: must start with http:// or "
		  "https://" },
		{ "[defaults]\nadmin_url = {private_ip}\n", MAIN ":2: invalid "
		  "value \"{private_ip}\" for admin_url: must start with "
		  "http:// or https://" },
		{ "[defaults]\nadmin_url = https://\n", MAIN ":2: invalid "
		  "value \"https://\" for admin_url: has no host" },
		{ "[aws]\nendpoint = localhost:4566\n", MAIN ":2: invalid "
		  "value \"localhost:4566\" for endpoint: must start with "
		  "http:// or https://" },
		{ "[zadara]\nurl =\n", MAIN ":2: invalid value \"\" for url: "
		  "must not be empty" },
		{ "[daemon]\nsocket = run/ctl.sock\n", MAIN ":2: invalid "
		  "value \"run/ctl.sock\" for socket: must be an absolute "
		  "path" },
		{ "[daemon]\nsocket = " LONG_SOCKET "\n", MAIN ":2: invalid "
		  "value \"" LONG_SOCKET "\" for socket: too long for a Unix "
		  "socket path" },
		{ "[daemon]\nstate_dir =\n", MAIN ":2: invalid value \"\" "
		  "for state_dir: must be an absolute path" },
	};
	struct fixture *fx = *state;

	expect_errors(fx->dir, cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_syntax_errors(void **state)
{
	static const struct error_case cases[] = {
		{ "[daemon\n", MAIN ":1: unclosed section header \"[daemon\": "
		  "the \"]\" is missing" },
		{ "[daemon]\nlog_level\n", MAIN ":2: syntax error: "
		  "\"log_level\" is not \"key = value\", a [section] or a "
		  "comment" },
		/* The keys of a header that failed are not looked at. */
		{ "[daemon]\n[aws\nregion = x\nbogus = 1\n", MAIN ":2: "
		  "unclosed section header \"[aws\": the \"]\" is missing" },
		{ "[aws]\n[aws ;x]\nregion = x\n", MAIN ":2: syntax error in "
		  "section header \"[aws ;x]\" (a comment must not start "
		  "inside the brackets)" },
		/* There are no continuation lines. */
		{ "[defaults]\nhigh_load_services = a\n    b\n",
		  MAIN ":3: syntax error: \"b\" is not \"key = value\", a "
		  "[section] or a comment" },
	};
	struct fixture *fx = *state;
	char text[512];

	expect_errors(fx->dir, cases, sizeof(cases) / sizeof(cases[0]));

	/* Every error at once, in the order of the lines, whatever their
	 * kind. */
	put(fx->dir, MAIN, "[daemon]\nfoo\nbar = 1\n[aws\n[bogus]\n"
	    "[defaults]\nmin_workers = x\nmax_workers = 0\n[cluster a]\n"
	    "min_workers = 5\nmax_workers = 3\n");
	expect_lines(fx->dir,
	    "@/" MAIN ":2: syntax error: \"foo\" is not \"key = value\", a "
	    "[section] or a comment\n"
	    "@/" MAIN ":3: unknown key \"bar\" in [daemon]\n"
	    "@/" MAIN ":4: unclosed section header \"[aws\": the \"]\" is "
	    "missing\n"
	    "@/" MAIN ":5: unknown section [bogus]\n"
	    "@/" MAIN ":7: invalid value \"x\" for min_workers: not an "
	    "integer\n"
	    "@/" MAIN ":8: invalid value \"0\" for max_workers: must be at "
	    "least 1\n"
	    "@/" MAIN ":11: min_workers (5) is greater than max_workers (3) "
	    "in [cluster a]");

	/* A cluster has one section per file. */
	put(fx->dir, MAIN, "[cluster a]\nmin_workers = 1\n\n[cluster b]\n"
	    "[cluster a]\n");
	expect_lines(fx->dir, "@/" MAIN ":5: [cluster a] again: it was "
	    "opened at line 1 of this file; give each cluster one section "
	    "per file");

	/* Lines up to 198 characters fit libinih's buffer. */
	snprintf(text, sizeof(text), "[aws]\nprofile = %0188d\n", 7);
	assert_int_equal(strlen(text), 6 + 198 + 1);
	put(fx->dir, MAIN, text);
	config_free(load(fx->dir));
	snprintf(text, sizeof(text), "[aws]\n#\nprofile = %0189d\n", 7);
	put(fx->dir, MAIN, text);
	expect_error(fx->dir, MAIN ":3: line too long (more than 198 "
	    "characters)");

	put_len(fx->dir, MAIN, "[aws]\nregion = a\0b\n", 19);
	expect_error(fx->dir, MAIN ":2: syntax error: NUL byte");
	/* The lines after a bad one are still read. */
	put_len(fx->dir, MAIN, "[aws]\nregion = a\0b\nfoo = 1\n", 27);
	expect_lines(fx->dir, "@/" MAIN ":2: syntax error: NUL byte\n"
	    "@/" MAIN ":3: unknown key \"foo\" in [aws]");
	/* Values reach status and the log: a Latin-1 byte is refused with
	 * its line, and valid UTF-8 (in a comment here) is fine. */
	put(fx->dir, MAIN, "[aws]\n# Ireland \xc3\xa9\nregion = caf\xe9\n");
	expect_error(fx->dir, MAIN ":3: not valid UTF-8 (the file must be "
	    "UTF-8 text)");
	put(fx->dir, MAIN, "[aws]\n# caf\xc3\xa9\nregion = x\n");
	config_free(load(fx->dir));

	/* An error in a drop-in names the drop-in; every file is read. */
	put(fx->dir, MAIN, "[daemon]\n");
	put(fx->dir, "conf.d/10-ok.conf", "[aws]\nregion = x\n");
	put(fx->dir, "conf.d/20-bad.conf", "[aws]\n\nregion = y\nfoo = 1\n");
	put(fx->dir, "conf.d/30-bad.conf", "[bogus]\n");
	expect_lines(fx->dir, "@/conf.d/20-bad.conf:4: unknown key \"foo\" "
	    "in [aws]\n@/conf.d/30-bad.conf:1: unknown section [bogus]");
}

static void
test_cross_key(void **state)
{
	static const struct error_case cases[] = {
		/* Both set in the cluster: the later line. */
		{ "[cluster a]\nmax_workers = 3\nmin_workers = 5\n",
		  MAIN ":3: min_workers (5) is greater than max_workers (3) "
		  "in [cluster a]" },
		{ "[cluster a]\nmin_workers = 5\n\nmax_workers = 3\n",
		  MAIN ":4: min_workers (5) is greater than max_workers (3) "
		  "in [cluster a]" },
		/* Neither: the cluster's first header. */
		{ "[defaults]\nmin_workers = 12\n\n[cluster a]\n"
		  "autoscale = off\n",
		  MAIN ":4: min_workers (12, from [defaults] at %s/" MAIN
		  ":2) is greater than max_workers (10, the built-in "
		  "default) in [cluster a]" },
		/* One: that one, even with [defaults] after it. */
		{ "[cluster a]\nmax_workers = 3\n[defaults]\nmin_workers = 5\n",
		  MAIN ":2: min_workers (5, from [defaults] at %s/" MAIN
		  ":4) is greater than max_workers (3) in [cluster a]" },
	};
	struct fixture *fx = *state;
	struct config *c;

	expect_errors(fx->dir, cases, sizeof(cases) / sizeof(cases[0]));

	/* Every cluster that breaks the rule, after the lines' errors. */
	put(fx->dir, MAIN, "[cluster ok]\nmin_workers = 10\n[cluster bad]\n"
	    "max_workers = 1\n[cluster worse]\nmax_workers = 0\n"
	    "[cluster worst]\nmax_workers = 1\n");
	expect_lines(fx->dir, "@/" MAIN ":6: invalid value \"0\" for "
	    "max_workers: must be at least 1\n"
	    "@/" MAIN ":4: min_workers (2, the built-in default) is greater "
	    "than max_workers (1) in [cluster bad]\n"
	    "@/" MAIN ":8: min_workers (2, the built-in default) is greater "
	    "than max_workers (1) in [cluster worst]");

	/* The later of the two may be in a later file. */
	put(fx->dir, MAIN, "[cluster a]\nmin_workers = 3\nmax_workers = 9\n");
	put(fx->dir, "conf.d/10-x.conf", "\n[cluster a]\nmax_workers = 2\n");
	expect_error(fx->dir, "conf.d/10-x.conf:3: min_workers (3) is "
	    "greater than max_workers (2) in [cluster a]");

	/* [defaults] is a template and need not be valid alone; only the
	 * clusters are checked. */
	put(fx->dir, MAIN, "[defaults]\nmin_workers = 20\n"
	    "[cluster a]\nmax_workers = 30\n");
	put(fx->dir, "conf.d/10-x.conf", "");
	c = load(fx->dir);
	assert_int_equal(c->defaults.min_workers, 20);
	assert_int_equal(c->clusters[0].min_workers, 20);
	assert_int_equal(c->clusters[0].max_workers, 30);
	config_free(c);
}

static void
test_files(void **state)
{
	struct fixture *fx = *state;
	struct config *c = NULL, *keep = (struct config *)&keep;
	char path[PATH_MAX], err[512], want[PATH_MAX + 64];

	/* A missing main file is an error; the old config is untouched. */
	snprintf(path, sizeof(path), "%s/missing.conf", fx->dir);
	c = keep;
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -1);
	assert_ptr_equal(c, keep);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or "
	    "directory", path);
	assert_string_equal(err, want);

	/* A conf.d that is not a directory is one too. */
	put(fx->dir, MAIN, "[daemon]\n");
	put(fx->dir, "conf.d", "");
	snprintf(want, sizeof(want), "%s/conf.d: cannot open: Not a "
	    "directory", fx->dir);
	c = NULL;
	assert_int_equal(config_load(main_path(fx->dir), &c, err,
	    sizeof(err)), -1);
	assert_null(c);
	assert_string_equal(err, want);

	/* A drop-in that cannot be read. */
	snprintf(path, sizeof(path), "%s/conf.d", fx->dir);
	remove(path);
	snprintf(path, sizeof(path), "%s/conf.d/10-dir.conf", fx->dir);
	put(fx->dir, "conf.d/05-ok.conf", "");
	assert_int_equal(mkdir(path, 0700), 0);
	expect_error(fx->dir, "conf.d/10-dir.conf: read error: Is a "
	    "directory");
	assert_int_equal(rmdir(path), 0);

	/* No err buffer is fine. */
	put(fx->dir, MAIN, "[bogus]\n");
	assert_int_equal(config_load(main_path(fx->dir), &c, NULL, 0), -1);

	/* A relative path finds conf.d in the working directory's. */
	c = load_path("data/config/relative.conf");
	assert_int_equal(c->nclusters, 1);
	assert_string_equal(c->clusters[0].name, "fromdropin");
	assert_int_equal(c->clusters[0].max_workers, 4);
	assert_string_equal(c->path, "data/config/relative.conf");
	config_free(c);
}

static void
test_admin_url(void **state)
{
	char err[128], *url;

	(void)state;
	url = config_admin_url("http://{private_ip}", "10.0.0.5", NULL, NULL,
	    NULL, err, sizeof(err));
	assert_string_equal(url, "http://10.0.0.5");
	free(url);

	url = config_admin_url("https://{public_dns}:8443/{private_ip}/"
	    "{public_ip}/{private_dns}/{public_dns}", "10.0.0.5", "203.0.113.7",
	    "ip-10-0-0-5.ec2.internal", "ec2-203-0-113-7.compute.example",
	    err, sizeof(err));
	assert_string_equal(url, "https://ec2-203-0-113-7.compute.example:"
	    "8443/10.0.0.5/203.0.113.7/ip-10-0-0-5.ec2.internal/"
	    "ec2-203-0-113-7.compute.example");
	free(url);

	/* A literal URL needs no address at all. */
	url = config_admin_url("https://admin.example.org}/x", NULL, NULL,
	    NULL, NULL, err, sizeof(err));
	assert_string_equal(url, "https://admin.example.org}/x");
	free(url);

	assert_null(config_admin_url("http://{public_ip}", "10.0.0.5", NULL,
	    "a", "b", err, sizeof(err)));
	assert_string_equal(err, "the instance has no public_ip");
	assert_null(config_admin_url("http://{private_dns}", "10.0.0.5",
	    "1.2.3.4", "", "b", err, sizeof(err)));
	assert_string_equal(err, "the instance has no private_dns");
	assert_null(config_admin_url("http://{private_ip}/{bogus}",
	    "10.0.0.5", NULL, NULL, NULL, err, sizeof(err)));
	assert_string_equal(err, "unknown placeholder {bogus}");
	assert_null(config_admin_url("http://{}", "10.0.0.5", NULL, NULL,
	    NULL, err, sizeof(err)));
	assert_string_equal(err, "unknown placeholder {}");
	assert_null(config_admin_url("http://{private_ip", "10.0.0.5", NULL,
	    NULL, NULL, err, sizeof(err)));
	assert_string_equal(err, "unterminated placeholder {private_ip");
}

/* The sample as shipped sets nothing: it loads to the built-in defaults
 * and defines no cluster. */
static void
test_sample(void **state)
{
	struct fixture *fx = *state;
	struct config *c, *empty;

	put(fx->dir, MAIN, "");
	empty = load(fx->dir);
	c = load_path(SAMPLE);
	assert_builtin_globals(c);
	assert_builtin_cluster(&c->defaults);
	assert_same_cluster(&c->defaults, &empty->defaults);
	assert_int_equal(c->nclusters, 0);
	config_free(c);
	config_free(empty);
}

/*
 * Every key is in the sample as "#key = default".  With each "#key" line
 * uncommented, the sample still loads to the built-in defaults, which
 * proves that the defaults it shows are the real ones; and its example
 * cluster comes to life.
 */
static void
test_sample_uncommented(void **state)
{
	static const char *const names[] = {
		"socket", "socket_group", "state_dir", "log_level", "region",
		"endpoint", "profile", "timeout", "url", "min_workers",
		"max_workers", "min_idle_workers", "max_queued_jobs",
		"high_load_services", "job_source", "billing",
		"idle_uptime_threshold", "min_uptime", "wait_retries",
		"wait_interval", "refresh_interval", "autoscale",
		"autoscale_interval", "scale_up_step", "scale_down_step",
		"cooldown", "admin_url", "zadara_vpsa",
	};
	struct fixture *fx = *state;
	const struct cluster_config *dev04;
	struct config *c;
	char line[512], want[64], *text = NULL;
	size_t i, len = 0, n;
	FILE *in, *out;

	in = fopen(SAMPLE, "r");
	assert_non_null(in);
	out = open_memstream(&text, &len);
	assert_non_null(out);
	while (fgets(line, sizeof(line), in) != NULL) {
		n = strlen(line);
		assert_true(n > 0 && line[n - 1] == '\n');
		if (line[0] == '#' && line[1] != ' ' && line[1] != '#' &&
		    line[1] != '\n')
			fputs(line + 1, out);
		else
			fputs(line, out);
	}
	fclose(in);
	assert_int_equal(fclose(out), 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(want, sizeof(want), "\n%s =", names[i]);
		if (strstr(text, want) == NULL)
			fail_msg("the sample does not show %s", names[i]);
	}
	put(fx->dir, MAIN, text);
	free(text);

	c = load(fx->dir);
	assert_builtin_globals(c);
	assert_builtin_cluster(&c->defaults);
	assert_int_equal(c->nclusters, 1);
	dev04 = config_cluster(c, "dev04");
	assert_non_null(dev04);
	assert_int_equal(dev04->min_workers, 1);
	assert_int_equal(dev04->max_workers, 4);
	assert_int_equal(dev04->billing, BILLING_PER_SECOND);
	assert_string_equal(dev04->admin_url, "https://{public_dns}");
	assert_string_equal(dev04->zadara_vpsa, "vsa-0000000a");
	assert_int_equal(dev04->cooldown_ms, 5 * MIN);
	/* The sample shows how to turn autoscaling on. */
	assert_true(dev04->autoscale);
	config_free(c);
}

/* The table has CONFIG_NKEYS rows, each complete (a count that is too
 * high leaves empty rows at the end). */
static void
test_key_table(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (config_keys[i].name == NULL || config_keys[i].dflt == NULL)
			fail_msg("row %zu of config_keys is empty: CONFIG_NKEYS "
			    "is more than the rows", i);
		for (j = 0; j < i; j++)
			if (config_keys[j].section == config_keys[i].section &&
			    strcmp(config_keys[j].name, config_keys[i].name)
			    == 0)
				fail_msg("key %s twice", config_keys[i].name);
	}
}

/* "Did you mean": the edit distance, and which words are close enough. */
static void
test_suggest(void **state)
{
	static const char *const words[] = { "min_workers", "max_workers",
	    "region", "autoscale", "autoscale_interval", "cooldown", NULL };

	(void)state;
	assert_int_equal(config_edit_distance("", ""), 0);
	assert_int_equal(config_edit_distance("abc", ""), 3);
	assert_int_equal(config_edit_distance("", "ab"), 2);
	assert_int_equal(config_edit_distance("region", "region"), 0);
	assert_int_equal(config_edit_distance("regoin", "region"), 1);
	assert_int_equal(config_edit_distance("min_worker", "min_workers"),
	    1);
	assert_int_equal(config_edit_distance("kitten", "sitting"), 3);
	assert_int_equal(config_edit_distance("ca", "abc"), 3);

	assert_string_equal(config_suggest("min_worker", words),
	    "min_workers");
	assert_string_equal(config_suggest("max_worker", words),
	    "max_workers");
	assert_string_equal(config_suggest("regoin", words), "region");
	assert_string_equal(config_suggest("Region", words), "region");
	assert_string_equal(config_suggest("autoscael", words), "autoscale");
	assert_string_equal(config_suggest("cooldwon", words), "cooldown");
	assert_string_equal(config_suggest("autoscale_intervall", words),
	    "autoscale_interval");
	/* Nothing close: no suggestion, and an exact word is no typo. */
	assert_null(config_suggest("frobnicate", words));
	assert_null(config_suggest("rg", words));
	assert_null(config_suggest("x", words));
	assert_null(config_suggest("region", words));
	assert_null(config_suggest("anything", (const char *const []){
	    NULL }));
}

/* The old tool's MAJOR_LOAD_OPERATION_TYPES values are refused with the
 * job types they stand for, wherever the list is (issue 14). */
static void
test_operation_ids(void **state)
{
	static const struct error_case cases[] = {
		{ "[defaults]\nhigh_load_services = compose editor inspect "
		  "video-segment\n", MAIN ":2: high_load_services lists "
		  "workflow operation ids (the old MAJOR_LOAD_OPERATION_TYPES), "
		  "not job types: compose means org.opencastproject.composer, "
		  "editor means org.opencastproject.videoeditor, inspect means "
		  "org.opencastproject.inspection, video-segment means "
		  "org.opencastproject.videosegmenter; write "
		  "high_load_services = org.opencastproject.composer "
		  "org.opencastproject.videoeditor "
		  "org.opencastproject.inspection "
		  "org.opencastproject.videosegmenter" },
		/* Each type once; real types are kept as they are. */
		{ "[cluster a]\nhigh_load_services = encode "
		  "org.opencastproject.composer compose x.y\n", MAIN ":2: "
		  "high_load_services lists workflow operation ids (the old "
		  "MAJOR_LOAD_OPERATION_TYPES), not job types: encode means "
		  "org.opencastproject.composer, compose means "
		  "org.opencastproject.composer; write high_load_services = "
		  "org.opencastproject.composer x.y" },
	};
	struct fixture *fx = *state;
	struct config *c;

	assert_string_equal(config_operation_service("compose"),
	    "org.opencastproject.composer");
	assert_string_equal(config_operation_service("editor"),
	    "org.opencastproject.videoeditor");
	assert_string_equal(config_operation_service("inspect"),
	    "org.opencastproject.inspection");
	assert_string_equal(config_operation_service("video-segment"),
	    "org.opencastproject.videosegmenter");
	assert_null(config_operation_service("org.opencastproject.composer"));
	assert_null(config_operation_service("Compose"));
	expect_errors(fx->dir, cases, sizeof(cases) / sizeof(cases[0]));
	/* Service types load as they are. */
	put(fx->dir, MAIN, "[defaults]\nhigh_load_services = "
	    "org.opencastproject.composer org.opencastproject.execute\n");
	c = load(fx->dir);
	assert_int_equal(c->defaults.n_high_load_services, 2);
	config_free(c);
}

/* On errors, config_load_partial() still gives what the good lines set,
 * for the checks that report every problem at once; nothing when the main
 * file cannot be read. */
static void
test_partial(void **state)
{
	struct fixture *fx = *state;
	struct config *c = (struct config *)&c;
	char err[512], path[PATH_MAX];

	put(fx->dir, MAIN, "[aws]\nregion = eu-west-1\nregoin = x\n"
	    "[cluster a]\nmax_workers = 0\nmin_workers = 1\n");
	assert_int_equal(config_load_partial(main_path(fx->dir), &c, err,
	    sizeof(err)), -1);
	assert_non_null(c);
	assert_non_null(strstr(err, ":3: unknown key \"regoin\""));
	assert_non_null(strstr(err, ":5: invalid value \"0\""));
	assert_string_equal(c->region, "eu-west-1");
	assert_int_equal(c->nclusters, 1);
	assert_int_equal(c->clusters[0].min_workers, 1);
	assert_int_equal(c->clusters[0].max_workers, 10);
	config_free(c);

	snprintf(path, sizeof(path), "%s/missing.conf", fx->dir);
	c = (struct config *)&c;
	assert_int_equal(config_load_partial(path, &c, err, sizeof(err)), -1);
	assert_null(c);

	put(fx->dir, MAIN, "[aws]\nregion = eu-west-1\n");
	assert_int_equal(config_load_partial(main_path(fx->dir), &c, err,
	    sizeof(err)), 0);
	assert_non_null(c);
	assert_string_equal(err, "");
	config_free(c);
}

#define TEST(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_duration),
		TEST(test_defaults),
		TEST(test_every_key),
		TEST(test_values),
		TEST(test_inheritance),
		TEST(test_dropin_order),
		TEST(test_clusters),
		TEST(test_syntax),
		TEST(test_section_errors),
		TEST(test_key_errors),
		TEST(test_value_errors),
		TEST(test_syntax_errors),
		TEST(test_cross_key),
		TEST(test_files),
		TEST(test_admin_url),
		TEST(test_sample),
		TEST(test_sample_uncommented),
		TEST(test_key_table),
		TEST(test_suggest),
		TEST(test_operation_ids),
		TEST(test_partial),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
