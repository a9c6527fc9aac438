/*
 * The configuration loader: reads the main file and its conf.d drop-ins
 * with libinih into a struct config, applies the defaults and checks every
 * value, so that the rest of the daemon never sees a bad setting.  The key
 * table below is the one list of keys with their types, limits and
 * defaults.  Nothing here acts on the settings; the only I/O is reading the
 * files.
 */
#include "daemon/config.h"

#include <sys/un.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "common/log.h"
#include "common/protocol.h"
#include "common/strbuf.h"
#include "common/utf8.h"
#include "common/xalloc.h"

#define CLUSTER_NAME_MAX PROTO_MAX_CLUSTER_NAME
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1)

enum section {
	SECT_NONE,		/* before the first header of a file */
	SECT_DAEMON,
	SECT_AWS,
	SECT_OPENCAST,
	SECT_ZADARA,
	SECT_DEFAULTS,
	SECT_CLUSTER,		/* keys: [defaults] and [cluster NAME] */
};

static const struct {
	const char	*name;
	enum section	 section;
} section_names[] = {
	{ "daemon", SECT_DAEMON },
	{ "aws", SECT_AWS },
	{ "opencast", SECT_OPENCAST },
	{ "zadara", SECT_ZADARA },
	{ "defaults", SECT_DEFAULTS },
};

enum key_type {
	KT_INT,			/* int */
	KT_DURATION,		/* int64_t milliseconds */
	KT_STRING,		/* char *, any text */
	KT_PATH,		/* char *, an absolute path */
	KT_URL,			/* char *, http(s)://..., maybe "" */
	KT_ADMIN_URL,		/* char *, config_admin_url()'s template */
	KT_LIST,		/* char ** and a size_t count: words */
	KT_JOB_SOURCE,		/* enum job_source */
	KT_BILLING,		/* enum billing */
	KT_BOOL,		/* bool */
	KT_LOG_LEVEL,		/* int, a syslog level */
};

/*
 * One row per key.  Keys of SECT_CLUSTER live in struct cluster_config (of
 * [defaults] and of each [cluster NAME]); the others in struct config.  A
 * max of 0 means no upper limit; for KT_PATH, max limits the length, and
 * for KT_URL a min above 0 makes the value required.  The default is
 * written as in the file and goes through the same parser as the file's
 * values.
 */
struct key {
	enum section	 section;
	const char	*name;
	enum key_type	 type;
	size_t		 offset;
	size_t		 count_offset;	/* KT_LIST: of the count */
	int64_t		 min, max;
	const char	*range;		/* why min..max was missed */
	const char	*dflt;
};

#define GLOBAL(f)	offsetof(struct config, f)
#define CLUSTER(f)	offsetof(struct cluster_config, f)
#define MINUTES(n)	((int64_t)(n) * 60 * 1000)

static const struct key keys[] = {
	{ .section = SECT_DAEMON, .name = "socket", .type = KT_PATH,
	  .offset = GLOBAL(socket), .max = SUN_PATH_MAX,
	  .range = "too long for a Unix socket path",
	  .dflt = "/run/ec2-manager/ctl.sock" },
	{ .section = SECT_DAEMON, .name = "socket_group", .type = KT_STRING,
	  .offset = GLOBAL(socket_group), .dflt = "" },
	{ .section = SECT_DAEMON, .name = "state_dir", .type = KT_PATH,
	  .offset = GLOBAL(state_dir), .dflt = "/var/lib/ec2-manager" },
	{ .section = SECT_DAEMON, .name = "log_level", .type = KT_LOG_LEVEL,
	  .offset = GLOBAL(log_level), .dflt = "info" },

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
	  .offset = CLUSTER(autoscale), .dflt = "on" },
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
	{ .section = SECT_CLUSTER, .name = "admin_url", .type = KT_ADMIN_URL,
	  .offset = CLUSTER(admin_url), .dflt = "http://{private_ip}" },
	{ .section = SECT_CLUSTER, .name = "zadara_vpsa", .type = KT_STRING,
	  .offset = CLUSTER(zadara_vpsa), .dflt = "" },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const char *const job_source_names[] = {
	[JOB_SOURCE_ACTIVE_JOBS] = "active_jobs",
	[JOB_SOURCE_STATISTICS] = "statistics",
	NULL
};

static const char *const billing_names[] = {
	[BILLING_HOURLY] = "hourly",
	[BILLING_PER_SECOND] = "per-second",
	NULL
};

/* Where a key or a section header was seen: a file (an index into
 * loader.files) and a line.  Line 0 means nowhere. */
struct loc {
	int	file;
	int	line;
};

/* Where the keys of [defaults] or of one cluster were last set, which
 * decides what a cluster inherits and where a cross-key error is shown. */
struct origin {
	struct loc	 section;	/* the first [cluster NAME] header */
	struct loc	 keys[NKEYS];
};

/*
 * How lines reach libinih.  Debian builds libinih without line numbers in
 * the handler (INI_HANDLER_LINENO) and without a call for a section that
 * has no keys, so ini_read_cb() hands the file to ini_parse_stream() one
 * line per call and counts the lines itself; the handler runs while its
 * line is the last one read, so that count is the line of every key.
 *
 * Two things are done to each line before libinih sees it.  Leading
 * blanks (and a UTF-8 byte order mark) are removed, so indentation never
 * matters: libinih would otherwise take an indented line after a key as a
 * continuation of that key's value, and a block of indented keys would
 * silently turn into one odd value.  And a line longer than libinih's
 * buffer is an error here, where libinih would cut it in two.
 *
 * After every line that starts with "[" comes a probe line, PROBE: a key
 * line that ini_read_cb() makes up and ini_key_cb() recognises by the
 * probing flag, not by its name, so that no file can fake one.  libinih
 * reports the probe with the section it is in, so a header is seen even
 * when no key follows it, and libinih decides whether the line was a
 * header: when it was not, its section is not what the brackets hold, and
 * the syntax error comes back from ini_parse_stream().  That return value
 * is the first line that failed, a syntax error or one the handler
 * rejected; since probes shift libinih's line numbers, linemap turns them
 * back into ours.
 */
#define PROBE "\001=\n"

struct loader {
	struct config	*c;
	struct origin	 defaults;
	struct origin	*origins;	/* one per c->clusters */
	size_t		 ccap, ocap;	/* of c->clusters, origins */
	char		**files;	/* every file opened */
	size_t		 nfiles, filescap;

	/* The file being read. */
	FILE		*f;
	char		*buf;		/* its current line */
	size_t		 bufcap;
	const char	*text;		/* that line for libinih */
	int		 line;		/* its number */
	int		*linemap;	/* libinih's line numbers to ours */
	size_t		 linemapcap;
	int		 iniline;	/* lines handed to libinih */
	bool		 probe_next;
	bool		 probing;
	enum section	 section;
	size_t		 cluster;	/* with SECT_CLUSTER */

	/* The first error. */
	char		*err;
	size_t		 errlen;
	bool		 failed;
	int		 err_iniline;
};

static void fail(struct loader *, int, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_path(struct loader *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Records the first error as "PATH:LINE: message", or "PATH: message" for
 * line 0.  Later errors are dropped: the first one is what stops loading.
 */
static void
vfail(struct loader *ld, const char *path, int line, const char *fmt,
    va_list ap)
{
	int n;

	if (ld->failed)
		return;
	ld->failed = true;
	ld->err_iniline = line > 0 ? ld->iniline : INT_MAX;
	if (ld->err == NULL || ld->errlen == 0)
		return;
	if (line > 0)
		n = utf8_snprintf(ld->err, ld->errlen, "%s:%d: ", path, line);
	else
		n = utf8_snprintf(ld->err, ld->errlen, "%s: ", path);
	if (n >= 0 && (size_t)n < ld->errlen)
		utf8_vsnprintf(ld->err + n, ld->errlen - n, fmt, ap);
}

/* Records the first error, at a line of ld->files[file]. */
static void
fail(struct loader *ld, int file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(ld, ld->files[file], line, fmt, ap);
	va_end(ap);
}

/* Records the first error, about a path that is not a file read. */
static void
fail_path(struct loader *ld, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(ld, path, 0, fmt, ap);
	va_end(ap);
}

static int
cur_file(const struct loader *ld)
{
	return (int)ld->nfiles - 1;
}

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

static void
free_list(char **list, size_t n)
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
	free_list(*listp, *np);
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
static int
set_value(const struct key *k, void *base, const char *s, char *why,
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
static void
copy_value(const struct key *k, void *dst, const void *src)
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
	case KT_STRING:
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
		free_list(*dl, *dn);
		*dl = n > 0 ? xcalloc(n, sizeof(**dl)) : NULL;
		for (i = 0; i < n; i++)
			(*dl)[i] = xstrdup(sl[i]);
		*dn = n;
		break;
	}
}

static void
free_value(const struct key *k, void *base)
{
	char *p = (char *)base + k->offset;
	size_t *np;

	switch (k->type) {
	case KT_STRING:
	case KT_PATH:
	case KT_URL:
	case KT_ADMIN_URL:
		free(*(char **)(void *)p);
		*(char **)(void *)p = NULL;
		break;
	case KT_LIST:
		np = (size_t *)(void *)((char *)base + k->count_offset);
		free_list(*(char ***)(void *)p, *np);
		*(char ***)(void *)p = NULL;
		*np = 0;
		break;
	default:
		break;
	}
}

static const struct key *
find_key(enum section section, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (keys[i].section == section &&
		    strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/*
 * The config and its clusters.
 */

static struct config *
config_new(const char *path)
{
	struct config *c = xcalloc(1, sizeof(*c));
	void *base;
	char why[128];
	size_t i;

	c->path = xstrdup(path);
	for (i = 0; i < NKEYS; i++) {
		base = keys[i].section == SECT_CLUSTER ?
		    (void *)&c->defaults : (void *)c;
		/* The table's defaults are constants; one that does not
		 * parse is a bug that no configuration can work around. */
		if (set_value(&keys[i], base, keys[i].dflt, why,
		    sizeof(why)) == -1)
			abort();
	}
	return c;
}

static void
cluster_clear(struct cluster_config *cc)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (keys[i].section == SECT_CLUSTER)
			free_value(&keys[i], cc);
	free(cc->name);
	cc->name = NULL;
}

void
config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < NKEYS; i++)
		if (keys[i].section != SECT_CLUSTER)
			free_value(&keys[i], c);
	cluster_clear(&c->defaults);
	for (i = 0; i < c->nclusters; i++)
		cluster_clear(&c->clusters[i]);
	free(c->clusters);
	free(c->path);
	free(c);
}

const struct cluster_config *
config_cluster(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nclusters; i++)
		if (strcmp(c->clusters[i].name, name) == 0)
			return &c->clusters[i];
	return NULL;
}

/* The index of the cluster called name, which is added (with nothing set
 * yet) if it is new. */
static size_t
find_or_add_cluster(struct loader *ld, const char *name)
{
	struct config *c = ld->c;
	size_t i, n = c->nclusters;

	for (i = 0; i < n; i++)
		if (strcmp(c->clusters[i].name, name) == 0)
			return i;
	c->clusters = xgrow(c->clusters, &ld->ccap, n + 1,
	    sizeof(*c->clusters));
	ld->origins = xgrow(ld->origins, &ld->ocap, n + 1,
	    sizeof(*ld->origins));
	memset(&c->clusters[n], 0, sizeof(c->clusters[n]));
	memset(&ld->origins[n], 0, sizeof(ld->origins[n]));
	c->clusters[n].name = xstrdup(name);
	ld->origins[n].section = (struct loc){ cur_file(ld), ld->line };
	c->nclusters++;
	return n;
}

/*
 * Parsing, driven by libinih.
 */

/* Takes the section header hdr, the text between the brackets, which it
 * may change. */
static int
open_section(struct loader *ld, char *hdr)
{
	const char *name;
	size_t typelen, i, n;

	while (isspace((unsigned char)*hdr))
		hdr++;
	n = strlen(hdr);
	while (n > 0 && isspace((unsigned char)hdr[n - 1]))
		hdr[--n] = '\0';
	for (typelen = 0; hdr[typelen] != '\0'; typelen++)
		if (isspace((unsigned char)hdr[typelen]))
			break;
	name = hdr + typelen;
	while (isspace((unsigned char)*name))
		name++;
	if (typelen == 7 && strncmp(hdr, "cluster", 7) == 0) {
		if (*name == '\0') {
			fail(ld, cur_file(ld), ld->line,
			    "[cluster] needs a name, as in [cluster dev04]");
			return -1;
		}
		if (!proto_cluster_name_valid(name)) {
			fail(ld, cur_file(ld), ld->line,
			    "invalid cluster name \"%s\": it takes 1 to %d "
			    "letters, digits, '.', '_' or '-'", name,
			    CLUSTER_NAME_MAX);
			return -1;
		}
		ld->cluster = find_or_add_cluster(ld, name);
		ld->section = SECT_CLUSTER;
		return 0;
	}
	for (i = 0; *name == '\0' && i < sizeof(section_names) /
	    sizeof(section_names[0]); i++) {
		if (strlen(section_names[i].name) == typelen &&
		    strncmp(hdr, section_names[i].name, typelen) == 0) {
			ld->section = section_names[i].section;
			return 0;
		}
	}
	fail(ld, cur_file(ld), ld->line, "unknown section [%s]", hdr);
	return -1;
}

/*
 * Called for the probe after a line starting with "[", with libinih's
 * section.  libinih keeps at most 49 bytes of a section name, so the full
 * header is taken from the line itself, after checking that libinih's
 * section starts it.  If it does not, the line was no header and libinih
 * reports the syntax error.
 */
static int
on_probe(struct loader *ld, const char *section)
{
	const char *body = ld->text + 1, *end;
	size_t n = strlen(section);
	char *hdr;
	int rc;

	if (strncmp(body, section, n) != 0)
		return 0;
	end = strchr(body + n, ']');
	if (end == NULL)
		return 0;
	hdr = xstrndup(body, end - body);
	rc = open_section(ld, hdr);
	free(hdr);
	return rc;
}

static void
section_label(const struct loader *ld, char *buf, size_t len)
{
	size_t i;

	if (ld->section == SECT_CLUSTER) {
		utf8_snprintf(buf, len, "[cluster %s]",
		    ld->c->clusters[ld->cluster].name);
		return;
	}
	for (i = 0; i < sizeof(section_names) / sizeof(section_names[0]); i++)
		if (section_names[i].section == ld->section)
			utf8_snprintf(buf, len, "[%s]", section_names[i].name);
}

static int
on_key(struct loader *ld, const char *name, const char *value)
{
	const struct key *k;
	enum section ks = ld->section;
	struct origin *o = NULL;
	void *base = ld->c;
	char why[128], label[CLUSTER_NAME_MAX + 16];

	if (ld->section == SECT_NONE) {
		fail(ld, cur_file(ld), ld->line,
		    "key \"%s\" outside of a section", name);
		return -1;
	}
	if (ld->section == SECT_DEFAULTS) {
		ks = SECT_CLUSTER;
		base = &ld->c->defaults;
		o = &ld->defaults;
	} else if (ld->section == SECT_CLUSTER) {
		base = &ld->c->clusters[ld->cluster];
		o = &ld->origins[ld->cluster];
	}
	k = find_key(ks, name);
	if (k == NULL) {
		section_label(ld, label, sizeof(label));
		fail(ld, cur_file(ld), ld->line, "unknown key \"%s\" in %s",
		    name, label);
		return -1;
	}
	if (set_value(k, base, value, why, sizeof(why)) == -1) {
		fail(ld, cur_file(ld), ld->line,
		    "invalid value \"%s\" for %s: %s", value, name, why);
		return -1;
	}
	if (o != NULL)
		o->keys[k - keys] = (struct loc){ cur_file(ld), ld->line };
	return 0;
}

/* Called by libinih for each key, and for each probe. */
static int
ini_key_cb(void *user, const char *section, const char *name,
    const char *value)
{
	struct loader *ld = user;

	if (ld->failed)
		return 0;
	if (ld->probing)
		return on_probe(ld, section) == 0;
	/* A libinih built to report each header calls with no name; the
	 * probes see headers already. */
	if (name == NULL)
		return 1;
	/* A libinih built to allow keys without "=" calls with no value. */
	if (value == NULL) {
		fail(ld, cur_file(ld), ld->line, "syntax error");
		return 0;
	}
	return on_key(ld, name, value) == 0;
}

/* Notes that libinih's next line number stands for our line. */
static void
map_line(struct loader *ld)
{
	ld->iniline++;
	ld->linemap = xgrow(ld->linemap, &ld->linemapcap,
	    (size_t)ld->iniline + 1, sizeof(*ld->linemap));
	ld->linemap[ld->iniline] = ld->line;
}

/* Called by libinih for its next line, fgets() style: num is the size of
 * its buffer str. */
static char *
ini_read_cb(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	const char *s;
	ssize_t n;
	size_t len;

	ld->probing = false;
	if (ld->failed)
		return NULL;
	if (num < (int)sizeof(PROBE)) {
		fail(ld, cur_file(ld), 0, "libinih's line buffer is too small");
		return NULL;
	}
	if (ld->probe_next) {
		ld->probe_next = false;
		ld->probing = true;
		memcpy(str, PROBE, sizeof(PROBE));
		map_line(ld);
		return str;
	}
	n = getline(&ld->buf, &ld->bufcap, ld->f);
	if (n == -1) {
		if (ferror(ld->f))
			fail(ld, cur_file(ld), 0, "read error: %s",
			    strerror(errno));
		return NULL;
	}
	ld->line++;
	map_line(ld);
	if (n > 0 && ld->buf[n - 1] == '\n')
		ld->buf[--n] = '\0';
	if (memchr(ld->buf, '\0', n) != NULL) {
		fail(ld, cur_file(ld), ld->line, "syntax error: NUL byte");
		return NULL;
	}
	/* Values end up in status, events and the log: text only. */
	if (!utf8_valid(ld->buf, (size_t)n)) {
		fail(ld, cur_file(ld), ld->line, "not valid UTF-8 (the file "
		    "must be UTF-8 text)");
		return NULL;
	}
	s = ld->buf;
	if (ld->line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	/* The line, a newline and a NUL must fit. */
	if (len + 2 > (size_t)num) {
		fail(ld, cur_file(ld), ld->line,
		    "line too long (more than %d characters)", num - 2);
		return NULL;
	}
	memcpy(str, s, len);
	memcpy(str + len, "\n", 2);
	ld->text = s;
	ld->probe_next = s[0] == '[';
	return str;
}

static int
load_file(struct loader *ld, const char *path)
{
	int rc;

	ld->files = xgrow(ld->files, &ld->filescap, ld->nfiles + 1,
	    sizeof(*ld->files));
	ld->files[ld->nfiles++] = xstrdup(path);
	ld->f = fopen(path, "re");
	if (ld->f == NULL) {
		fail(ld, cur_file(ld), 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	ld->line = 0;
	ld->iniline = 0;
	ld->text = "";
	ld->probe_next = ld->probing = false;
	ld->section = SECT_NONE;
	rc = ini_parse_stream(ini_read_cb, ld, ini_key_cb, ld);
	/* libinih returns the first line that failed, ours or its own; one
	 * before ours is a syntax error. */
	if (rc > 0 && (!ld->failed || rc < ld->err_iniline)) {
		ld->failed = false;
		fail(ld, cur_file(ld), ld->linemap[rc], "syntax error");
	} else if (rc < 0)
		fail(ld, cur_file(ld), 0, "cannot parse (libinih error %d)",
		    rc);
	fclose(ld->f);
	ld->f = NULL;
	return ld->failed ? -1 : 0;
}

static bool
is_dropin(const char *name)
{
	size_t n = strlen(name);

	/* Hidden files are left alone: editors and package managers use
	 * them for temporary copies. */
	return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

static int
cmp_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists dir/\*.conf in byte order; a missing dir has none. */
static int
list_dropins(struct loader *ld, const char *dir, char ***out, size_t *nout)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int saved;

	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		fail_path(ld, dir, "cannot open: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL)
			break;
		if (!is_dropin(de->d_name))
			continue;
		names = xgrow(names, &cap, n + 1, sizeof(*names));
		names[n++] = xasprintf("%s/%s", dir, de->d_name);
	}
	saved = errno;
	closedir(d);
	if (saved != 0) {
		fail_path(ld, dir, "cannot read: %s", strerror(saved));
		free_list(names, n);
		return -1;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_strings);
	*out = names;
	*nout = n;
	return 0;
}

/* The drop-in directory beside path. */
static char *
dropin_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup("conf.d");
	if (slash == path)
		return xstrdup("/conf.d");
	return xasprintf("%.*s/conf.d", (int)(slash - path), path);
}

/*
 * After every file: inheritance and the checks that involve two keys.
 */

/* The later of two places, or the one that is set. */
static struct loc
later(struct loc a, struct loc b)
{
	if (a.line == 0)
		return b;
	if (b.line == 0)
		return a;
	if (a.file != b.file)
		return a.file > b.file ? a : b;
	return a.line > b.line ? a : b;
}

/* Says where a cluster's value of key i came from, unless the cluster set
 * it.  Returns a new string. */
static char *
origin_note(const struct loader *ld, size_t cluster, size_t i)
{
	struct loc d = ld->defaults.keys[i];

	if (ld->origins[cluster].keys[i].line > 0)
		return xstrdup("");
	if (d.line > 0)
		return xasprintf(", from [defaults] at %s:%d",
		    ld->files[d.file], d.line);
	return xstrdup(", the built-in default");
}

/*
 * Checks the keys of one cluster that limit each other.  The error is shown
 * where the cluster set the later of the keys involved, or at its first
 * header if it set neither (both came from [defaults] or the built-in
 * defaults): always inside the cluster's own section, which is what has to
 * change or override.
 */
static int
check_cluster(struct loader *ld, size_t i)
{
	const struct cluster_config *cc = &ld->c->clusters[i];
	const struct origin *o = &ld->origins[i];
	size_t kmin = find_key(SECT_CLUSTER, "min_workers") - keys;
	size_t kmax = find_key(SECT_CLUSTER, "max_workers") - keys;
	struct loc at;
	char *nmin, *nmax;

	if (cc->min_workers <= cc->max_workers)
		return 0;
	at = later(o->keys[kmin], o->keys[kmax]);
	if (at.line == 0)
		at = o->section;
	nmin = origin_note(ld, i, kmin);
	nmax = origin_note(ld, i, kmax);
	fail(ld, at.file, at.line, "min_workers (%d%s) is greater than "
	    "max_workers (%d%s) in [cluster %s]", cc->min_workers, nmin,
	    cc->max_workers, nmax, cc->name);
	free(nmin);
	free(nmax);
	return -1;
}

static int
finish(struct loader *ld)
{
	struct config *c = ld->c;
	size_t i, k;

	for (i = 0; i < c->nclusters; i++) {
		for (k = 0; k < NKEYS; k++)
			if (keys[k].section == SECT_CLUSTER &&
			    ld->origins[i].keys[k].line == 0)
				copy_value(&keys[k], &c->clusters[i],
				    &c->defaults);
		if (check_cluster(ld, i) == -1)
			return -1;
	}
	return 0;
}

int
config_load(const char *path, struct config **out, char *err,
    size_t errlen)
{
	struct loader ld = { .err = err, .errlen = errlen };
	char *dir = NULL, **dropins = NULL;
	size_t ndropins = 0, i;
	int rc = -1;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	ld.c = config_new(path);
	if (load_file(&ld, path) == -1)
		goto out;
	dir = dropin_dir(path);
	if (list_dropins(&ld, dir, &dropins, &ndropins) == -1)
		goto out;
	for (i = 0; i < ndropins; i++)
		if (load_file(&ld, dropins[i]) == -1)
			goto out;
	if (finish(&ld) == -1)
		goto out;
	*out = ld.c;
	ld.c = NULL;
	rc = 0;
out:
	config_free(ld.c);
	free_list(dropins, ndropins);
	free(dir);
	free_list(ld.files, ld.nfiles);
	free(ld.origins);
	free(ld.linemap);
	free(ld.buf);
	return rc;
}
