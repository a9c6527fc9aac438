/*
 * The key table and the values' parsers (config_keys.h).
 */
#include "daemon/config_keys.h"

#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/protocol.h"
#include "common/strbuf.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/metrics.h"

#define CLUSTER_NAME_MAX PROTO_MAX_CLUSTER_NAME
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1)

const struct config_section_name config_section_names[] = {
	{ "daemon", SECT_DAEMON },
	{ "aws", SECT_AWS },
	{ "opencast", SECT_OPENCAST },
	{ "zadara", SECT_ZADARA },
	{ "defaults", SECT_DEFAULTS },
	{ NULL, SECT_NONE },
};

#define GLOBAL(f)	offsetof(struct config, f)
#define CLUSTER(f)	offsetof(struct cluster_config, f)
#define MINUTES(n)	((int64_t)(n) * 60 * 1000)

const struct key config_keys[] = {
	{ .section = SECT_DAEMON, .name = "socket", .type = KT_PATH,
	  .offset = GLOBAL(socket), .max = SUN_PATH_MAX,
	  .range = "too long for a Unix socket path",
	  .dflt = "/run/ec2-manager/ctl.sock" },
	{ .section = SECT_DAEMON, .name = "socket_group", .type = KT_STRING,
	  .offset = GLOBAL(socket_group), .dflt = "ec2-manager" },
	{ .section = SECT_DAEMON, .name = "state_dir", .type = KT_PATH,
	  .offset = GLOBAL(state_dir), .dflt = "/var/lib/ec2-manager" },
	{ .section = SECT_DAEMON, .name = "log_level", .type = KT_LOG_LEVEL,
	  .offset = GLOBAL(log_level), .dflt = "info" },
	{ .section = SECT_DAEMON, .name = "metrics_listen", .type = KT_LISTEN,
	  .offset = GLOBAL(metrics_listen), .dflt = "" },
	{ .section = SECT_DAEMON, .name = "loggly_url", .type = KT_URL,
	  .offset = GLOBAL(loggly_url), .min = 1,
	  .dflt = "https://logs-01.loggly.com" },
	{ .section = SECT_DAEMON, .name = "loggly_ca_file", .type = KT_STRING,
	  .offset = GLOBAL(loggly_ca_file), .dflt = "" },

	{ .section = SECT_AWS, .name = "region", .type = KT_STRING,
	  .offset = GLOBAL(region), .dflt = "" },
	{ .section = SECT_AWS, .name = "endpoint", .type = KT_URL,
	  .offset = GLOBAL(endpoint), .dflt = "" },
	{ .section = SECT_AWS, .name = "profile", .type = KT_STRING,
	  .offset = GLOBAL(profile), .dflt = "" },

	{ .section = SECT_OPENCAST, .name = "timeout", .type = KT_DURATION,
	  .offset = GLOBAL(opencast_timeout_ms), .min = 1,
	  .range = "must be greater than 0", .dflt = "10s" },

	{ .section = SECT_ZADARA, .name = "url", .type = KT_URL,
	  .offset = GLOBAL(zadara_url), .min = 1,
	  .dflt = "https://manage.zadarastorage.com" },

	{ .section = SECT_CLUSTER, .name = "min_workers", .type = KT_INT,
	  .offset = CLUSTER(min_workers), .min = 0,
	  .range = "must not be negative", .dflt = "2" },
	{ .section = SECT_CLUSTER, .name = "max_workers", .type = KT_INT,
	  .offset = CLUSTER(max_workers), .min = 1,
	  .range = "must be at least 1", .dflt = "10" },
	{ .section = SECT_CLUSTER, .name = "min_idle_workers", .type = KT_INT,
	  .offset = CLUSTER(min_idle_workers), .min = 0,
	  .range = "must not be negative", .dflt = "0" },
	{ .section = SECT_CLUSTER, .name = "max_queued_jobs", .type = KT_INT,
	  .offset = CLUSTER(max_queued_jobs), .min = 0,
	  .range = "must not be negative", .dflt = "0" },
	{ .section = SECT_CLUSTER, .name = "high_load_services",
	  .type = KT_LIST, .offset = CLUSTER(high_load_services),
	  .count_offset = CLUSTER(n_high_load_services),
	  .dflt = "org.opencastproject.composer org.opencastproject.inspection "
	      "org.opencastproject.videoeditor "
	      "org.opencastproject.videosegmenter" },
	{ .section = SECT_CLUSTER, .name = "job_source", .type = KT_JOB_SOURCE,
	  .offset = CLUSTER(job_source), .dflt = "active_jobs" },
	{ .section = SECT_CLUSTER, .name = "billing", .type = KT_BILLING,
	  .offset = CLUSTER(billing), .dflt = "hourly" },
	{ .section = SECT_CLUSTER, .name = "idle_uptime_threshold",
	  .type = KT_DURATION, .offset = CLUSTER(idle_uptime_threshold_ms),
	  .min = 0, .max = MINUTES(60) - 1,
	  .range = "must be less than 60m", .dflt = "50m" },
	{ .section = SECT_CLUSTER, .name = "min_uptime", .type = KT_DURATION,
	  .offset = CLUSTER(min_uptime_ms), .min = 0, .dflt = "10m" },
	{ .section = SECT_CLUSTER, .name = "wait_retries", .type = KT_INT,
	  .offset = CLUSTER(wait_retries), .min = 1,
	  .range = "must be at least 1", .dflt = "10" },
	{ .section = SECT_CLUSTER, .name = "wait_interval", .type = KT_DURATION,
	  .offset = CLUSTER(wait_interval_ms), .min = 1,
	  .range = "must be greater than 0", .dflt = "10s" },
	{ .section = SECT_CLUSTER, .name = "refresh_interval",
	  .type = KT_DURATION, .offset = CLUSTER(refresh_interval_ms),
	  .min = 1, .range = "must be greater than 0", .dflt = "60s" },
	{ .section = SECT_CLUSTER, .name = "autoscale", .type = KT_BOOL,
	  .offset = CLUSTER(autoscale), .dflt = "off" },
	{ .section = SECT_CLUSTER, .name = "autoscale_interval",
	  .type = KT_DURATION, .offset = CLUSTER(autoscale_interval_ms),
	  .min = 1, .range = "must be greater than 0", .dflt = "2m" },
	{ .section = SECT_CLUSTER, .name = "scale_up_step", .type = KT_INT,
	  .offset = CLUSTER(scale_up_step), .min = 1,
	  .range = "must be at least 1", .dflt = "1" },
	{ .section = SECT_CLUSTER, .name = "scale_down_step", .type = KT_INT,
	  .offset = CLUSTER(scale_down_step), .min = 1,
	  .range = "must be at least 1", .dflt = "1" },
	{ .section = SECT_CLUSTER, .name = "cooldown", .type = KT_DURATION,
	  .offset = CLUSTER(cooldown_ms), .min = 0, .dflt = "5m" },
	{ .section = SECT_CLUSTER, .name = "policy", .type = KT_POLICY,
	  .offset = CLUSTER(policy), .dflt = "seed" },
	{ .section = SECT_CLUSTER, .name = "scale_up_max_step", .type = KT_INT,
	  .offset = CLUSTER(scale_up_max_step), .min = 1,
	  .range = "must be at least 1", .dflt = "10" },
	{ .section = SECT_CLUSTER, .name = "admin_url", .type = KT_ADMIN_URL,
	  .offset = CLUSTER(admin_url), .dflt = "http://{private_ip}" },
	{ .section = SECT_CLUSTER, .name = "zadara_vpsa", .type = KT_STRING,
	  .offset = CLUSTER(zadara_vpsa), .dflt = "" },
};


static const char *const job_source_names[] = {
	[JOB_SOURCE_ACTIVE_JOBS] = "active_jobs",
	[JOB_SOURCE_STATISTICS] = "statistics",
	NULL
};

static const char *const policy_names[] = {
	[SCALING_SEED] = "seed",
	[SCALING_DEMAND] = "demand",
	NULL
};

static const char *const billing_names[] = {
	[BILLING_HOURLY] = "hourly",
	[BILLING_PER_SECOND] = "per-second",
	NULL
};

/*
 * Values.
 */

int
config_parse_duration(const char *s, int64_t *ms)
{
	static const struct {
		const char	*unit;
		int64_t		 ms;
	} units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 },
		{ "min", 60 * 1000 }, { "h", 60 * 60 * 1000 },
		{ "d", 24 * 60 * 60 * 1000 },
	};
	const char *p = s;
	int64_t n = 0;
	size_t i;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (n > (INT64_MAX - (*p - '0')) / 10)
			return -1;
		n = n * 10 + (*p - '0');
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) != 0)
			continue;
		if (n > INT64_MAX / units[i].ms)
			return -1;
		*ms = n * units[i].ms;
		return 0;
	}
	return -1;
}

char *
config_admin_url(const char *tmpl, const char *private_ip,
    const char *public_ip, const char *private_dns, const char *public_dns,
    char *err, size_t errlen)
{
	static const char *const names[] = { "private_ip", "public_ip",
	    "private_dns", "public_dns" };
	const char *values[] = { private_ip, public_ip, private_dns,
	    public_dns };
	struct strbuf sb = STRBUF_INIT;
	const char *p = tmpl, *open, *close;
	size_t i, len, n = sizeof(names) / sizeof(names[0]);

	for (;;) {
		open = strchr(p, '{');
		if (open == NULL)
			break;
		strbuf_append(&sb, p, open - p);
		close = strchr(open, '}');
		if (close == NULL) {
			utf8_snprintf(err, errlen,
			    "unterminated placeholder %s",
			    open);
			goto fail;
		}
		len = close - open - 1;
		for (i = 0; i < n; i++)
			if (strlen(names[i]) == len &&
			    strncmp(open + 1, names[i], len) == 0)
				break;
		if (i == n) {
			utf8_snprintf(err, errlen, "unknown placeholder {%.*s}",
			    (int)len, open + 1);
			goto fail;
		}
		/* An empty address would make a URL without a host. */
		if (values[i] == NULL || values[i][0] == '\0') {
			utf8_snprintf(err, errlen, "the instance has no %s",
			    names[i]);
			goto fail;
		}
		strbuf_puts(&sb, values[i]);
		p = close + 1;
	}
	strbuf_puts(&sb, p);
	return strbuf_detach(&sb, NULL);
fail:
	strbuf_release(&sb);
	return NULL;
}

/* Checks that s is an http or https URL with something after the
 * scheme. */
static int
check_url(const char *s, char *why, size_t whylen)
{
	size_t n;

	if (strncasecmp(s, "http://", 7) == 0)
		n = 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		n = 8;
	else {
		utf8_snprintf(why, whylen,
		    "must start with http:// or https://");
		return -1;
	}
	if (s[n] == '\0') {
		utf8_snprintf(why, whylen, "has no host");
		return -1;
	}
	return 0;
}

static int
parse_int(const char *s, int64_t *out, char *why, size_t whylen)
{
	const char *digits = s[0] == '-' ? s + 1 : s;
	char *end;
	long long n;

	/* strtoll() alone would also take blanks and a "+". */
	if (!isdigit((unsigned char)digits[0])) {
		utf8_snprintf(why, whylen, "not an integer");
		return -1;
	}
	errno = 0;
	n = strtoll(s, &end, 10);
	if (*end != '\0') {
		utf8_snprintf(why, whylen, "not an integer");
		return -1;
	}
	if (errno == ERANGE || n < INT_MIN || n > INT_MAX) {
		utf8_snprintf(why, whylen, "out of range");
		return -1;
	}
	*out = n;
	return 0;
}

static int
parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "on", "true", "yes", "1" };
	static const char *const no[] = { "off", "false", "no", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int
parse_name(const char *s, const char *const *names, char *why,
    size_t whylen)
{
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	utf8_snprintf(why, whylen, "expected %s or %s", names[0], names[1]);
	return -1;
}

void
config_free_list(char **list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* Splits s into whitespace-separated words. */
static void
set_list(char ***listp, size_t *np, const char *s)
{
	char **list = NULL;
	size_t n = 0, cap = 0, len;

	for (;;) {
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			break;
		for (len = 0; s[len] != '\0'; len++)
			if (isspace((unsigned char)s[len]))
				break;
		list = xgrow(list, &cap, n + 1, sizeof(*list));
		list[n++] = xstrndup(s, len);
		s += len;
	}
	config_free_list(*listp, *np);
	*listp = list;
	*np = n;
}

static void
set_string(char **p, const char *s)
{
	free(*p);
	*p = xstrdup(s);
}

static int
check_range(const struct key *k, int64_t n, char *why, size_t whylen)
{
	if (n < k->min || (k->max > 0 && n > k->max)) {
		utf8_snprintf(why, whylen, "%s",
		    k->range != NULL ? k->range : "out of range");
		return -1;
	}
	return 0;
}

/*
 * Parses s as the value of k into the struct at base (a struct config or a
 * struct cluster_config), replacing what was there.  Returns 0, or -1 with
 * the reason in why and base unchanged.
 */
int
config_key_set(const struct key *k, void *base, const char *s, char *why,
    size_t whylen)
{
	char *p = (char *)base + k->offset;
	int64_t n;
	bool b;
	int i;

	switch (k->type) {
	case KT_INT:
		if (parse_int(s, &n, why, whylen) == -1 ||
		    check_range(k, n, why, whylen) == -1)
			return -1;
		*(int *)(void *)p = (int)n;
		break;
	case KT_DURATION:
		if (config_parse_duration(s, &n) == -1) {
			utf8_snprintf(why, whylen,
			    "not a duration (such as 500ms, 90s, 5m, 1h, 2d)");
			return -1;
		}
		if (check_range(k, n, why, whylen) == -1)
			return -1;
		*(int64_t *)(void *)p = n;
		break;
	case KT_STRING:
		set_string((char **)(void *)p, s);
		break;
	case KT_LISTEN: {
		struct sockaddr_storage ss;

		if (s[0] != '\0' && metrics_parse_listen(s, &ss, why,
		    whylen) == -1)
			return -1;
		set_string((char **)(void *)p, s);
		break;
	}
	case KT_PATH:
		if (s[0] != '/') {
			utf8_snprintf(why, whylen, "must be an absolute path");
			return -1;
		}
		if (check_range(k, (int64_t)strlen(s), why, whylen) == -1)
			return -1;
		set_string((char **)(void *)p, s);
		break;
	case KT_URL:
		if (s[0] == '\0' && k->min > 0) {
			utf8_snprintf(why, whylen, "must not be empty");
			return -1;
		}
		if (s[0] != '\0' && check_url(s, why, whylen) == -1)
			return -1;
		set_string((char **)(void *)p, s);
		break;
	case KT_ADMIN_URL: {
		char *url;

		/* Expanding with stand-in addresses finds bad
		 * placeholders; the scheme is checked on the template so
		 * that no address can supply it. */
		if (check_url(s, why, whylen) == -1)
			return -1;
		url = config_admin_url(s, "192.0.2.1", "192.0.2.2",
		    "ip-192-0-2-1.example", "ec2-192-0-2-2.example", why,
		    whylen);
		if (url == NULL)
			return -1;
		free(url);
		set_string((char **)(void *)p, s);
		break;
	}
	case KT_LIST:
		set_list((char ***)(void *)p,
		    (size_t *)(void *)((char *)base + k->count_offset), s);
		break;
	case KT_JOB_SOURCE:
		i = parse_name(s, job_source_names, why, whylen);
		if (i == -1)
			return -1;
		*(enum job_source *)(void *)p = (enum job_source)i;
		break;
	case KT_BILLING:
		i = parse_name(s, billing_names, why, whylen);
		if (i == -1)
			return -1;
		*(enum billing *)(void *)p = (enum billing)i;
		break;
	case KT_POLICY:
		i = parse_name(s, policy_names, why, whylen);
		if (i == -1)
			return -1;
		*(enum scaling_policy *)(void *)p = (enum scaling_policy)i;
		break;
	case KT_BOOL:
		if (parse_bool(s, &b) == -1) {
			utf8_snprintf(why, whylen, "expected on or off");
			return -1;
		}
		*(bool *)(void *)p = b;
		break;
	case KT_LOG_LEVEL:
		i = log_level_from_name(s);
		if (i == -1) {
			utf8_snprintf(why, whylen,
			    "expected err, warning, notice, info or debug");
			return -1;
		}
		*(int *)(void *)p = i;
		break;
	}
	return 0;
}

/* Copies the value of k from the struct at src to the one at dst. */
void
config_key_copy(const struct key *k, void *dst, const void *src)
{
	char *d = (char *)dst + k->offset;
	const char *s = (const char *)src + k->offset;
	char *const *sl;
	char ***dl;
	size_t i, n, *dn;

	switch (k->type) {
	case KT_INT:
	case KT_LOG_LEVEL:
		memcpy(d, s, sizeof(int));
		break;
	case KT_DURATION:
		memcpy(d, s, sizeof(int64_t));
		break;
	case KT_BOOL:
		memcpy(d, s, sizeof(bool));
		break;
	case KT_JOB_SOURCE:
		memcpy(d, s, sizeof(enum job_source));
		break;
	case KT_BILLING:
		memcpy(d, s, sizeof(enum billing));
		break;
	case KT_POLICY:
		memcpy(d, s, sizeof(enum scaling_policy));
		break;
	case KT_STRING:
	case KT_LISTEN:
	case KT_PATH:
	case KT_URL:
	case KT_ADMIN_URL:
		set_string((char **)(void *)d,
		    *(char *const *)(const void *)s);
		break;
	case KT_LIST:
		dl = (char ***)(void *)d;
		dn = (size_t *)(void *)((char *)dst + k->count_offset);
		sl = *(char *const *const *)(const void *)s;
		memcpy(&n, (const char *)src + k->count_offset, sizeof(n));
		config_free_list(*dl, *dn);
		*dl = n > 0 ? xcalloc(n, sizeof(**dl)) : NULL;
		for (i = 0; i < n; i++)
			(*dl)[i] = xstrdup(sl[i]);
		*dn = n;
		break;
	}
}

void
config_key_free(const struct key *k, void *base)
{
	char *p = (char *)base + k->offset;
	size_t *np;

	switch (k->type) {
	case KT_STRING:
	case KT_LISTEN:
	case KT_PATH:
	case KT_URL:
	case KT_ADMIN_URL:
		free(*(char **)(void *)p);
		*(char **)(void *)p = NULL;
		break;
	case KT_LIST:
		np = (size_t *)(void *)((char *)base + k->count_offset);
		config_free_list(*(char ***)(void *)p, *np);
		*(char ***)(void *)p = NULL;
		*np = 0;
		break;
	default:
		break;
	}
}

const struct key *
config_key_find(enum section section, const char *name)
{
	size_t i;

	for (i = 0; i < CONFIG_NKEYS; i++)
		if (config_keys[i].section == section &&
		    strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}


_Static_assert(sizeof(config_keys) / sizeof(config_keys[0]) == CONFIG_NKEYS,
    "CONFIG_NKEYS is the number of rows of config_keys");
