/*
 * The checks of start-up that need the machine (preflight.h).
 */
#include "daemon/preflight.h"

#include <grp.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/awscreds.h"
#include "daemon/config.h"
#include "daemon/secrets.h"

#define DEFAULT_GROUP "ec2-manager"

struct check {
	struct strbuf	 report;
	struct strbuf	 errors;
	size_t		 nerrors;
};

static void check_line(struct strbuf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void check_error(struct check *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
check_line(struct strbuf *sb, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	utf8_vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	strbuf_puts(sb, line);
	strbuf_putc(sb, '\n');
}

static void
check_error(struct check *ck, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	utf8_vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	strbuf_puts(&ck->errors, line);
	strbuf_putc(&ck->errors, '\n');
	ck->nerrors++;
}

/*
 * Where a secret comes from, told by the questions the secret reader asks:
 * it reads the credential when CREDENTIALS_DIRECTORY is set and stops
 * there if the credential has a value; otherwise it asks for its
 * variables in turn and stops at the first one that is set.  So the last
 * question that got a non-empty answer names the source.  The loop runs
 * one check at a time, so one static watcher is enough.
 */
static preflight_env_fn *watched_env;
static const char *last_answered;

static const char *
watching_env(const char *name)
{
	const char *v = watched_env(name);

	if (v != NULL && *v != '\0')
		last_answered = name;
	return v;
}

/* Reads a secret with read(), wipes it, and says where it came from
 * ("credential NAME" or the variable), or NULL when it is absent. */
static const char *
secret_source(char *(*read)(secret_env_fn *), preflight_env_fn *env,
    const char *cred, char *buf, size_t len)
{
	char *v;

	watched_env = env;
	last_answered = NULL;
	v = read(watching_env);
	watched_env = NULL;
	if (v == NULL)
		return NULL;
	free_secret(v);
	if (last_answered != NULL &&
	    strcmp(last_answered, "CREDENTIALS_DIRECTORY") != 0)
		return last_answered;
	utf8_snprintf(buf, len, "credential %s (in $CREDENTIALS_DIRECTORY)",
	    cred);
	return buf;
}

static void
check_opencast(struct check *ck, preflight_env_fn *env)
{
	const char *from;
	char buf[128];

	from = secret_source(secret_opencast_user, env, "opencast-user", buf,
	    sizeof(buf));
	if (from != NULL)
		check_line(&ck->report, "Opencast user: from %s", from);
	else
		check_error(ck, "Opencast user: none: give the credential "
		    "opencast-user, or set OPENCAST_USER (or the old "
		    "MATTERHORN_ADMIN_SERVER_USER)");
	from = secret_source(secret_opencast_password, env,
	    "opencast-password", buf, sizeof(buf));
	if (from != NULL)
		check_line(&ck->report, "Opencast password: from %s", from);
	else
		check_error(ck, "Opencast password: none: give the credential "
		    "opencast-password, or set OPENCAST_PASSWORD (or the old "
		    "MATTERHORN_ADMIN_SERVER_PASS)");
}

static void
check_zadara(struct check *ck, const struct config *cfg,
    preflight_env_fn *env)
{
	const char *from;
	char buf[128];
	size_t i;
	bool needed = false;

	for (i = 0; i < cfg->nclusters; i++)
		if (cfg->clusters[i].zadara_vpsa[0] != '\0')
			needed = true;
	from = secret_source(secret_zadara_token, env, "zadara-token", buf,
	    sizeof(buf));
	if (from != NULL) {
		check_line(&ck->report, "Zadara token: from %s", from);
		return;
	}
	if (!needed)
		return;
	for (i = 0; i < cfg->nclusters; i++)
		if (cfg->clusters[i].zadara_vpsa[0] != '\0')
			check_error(ck, "[cluster %s] has zadara_vpsa = %s but "
			    "there is no Zadara token: give the credential "
			    "zadara-token, or set ZADARA_ACCOUNT_TOKEN",
			    cfg->clusters[i].name,
			    cfg->clusters[i].zadara_vpsa);
}

static void
check_group(struct check *ck, const struct config *cfg,
    struct preflight *out)
{
	const char *where = config_where(cfg, "socket_group");
	const char *name = cfg->socket_group;
	struct group *g;

	if (name[0] == '\0') {
		check_line(&ck->report, "socket group: none (socket_group is "
		    "empty at %s): only root and the daemon's user may change "
		    "clusters", where ? where : "?");
		out->group = xstrdup("");
		return;
	}
	g = getgrnam(name);
	if (g != NULL) {
		check_line(&ck->report, "socket group: %s (gid %u, %s)", name,
		    (unsigned)g->gr_gid, where ? where : "the default");
		out->group = xstrdup(name);
		return;
	}
	out->group = xstrdup("");
	if (where != NULL) {
		check_error(ck, "%s: socket_group \"%s\" does not exist",
		    where, name);
		return;
	}
	/* The default group is made by the package (sysusers.d); without
	 * it the daemon still runs, for root and its own user. */
	out->group_missing = true;
	check_line(&ck->report, "socket group: none: the default group %s "
	    "does not exist, so only root and the daemon's user may change "
	    "clusters (create it with systemd-sysusers)", DEFAULT_GROUP);
}

/* aws_check_config()'s problems, with the place in the file where a
 * setting of [aws] is the cause. */
static void
check_aws(struct check *ck, const struct config *cfg, preflight_env_fn *env)
{
	char report[4096], errs[4096], *line, *next;
	const char *region_at = config_where(cfg, "region");
	const char *endpoint_at = config_where(cfg, "endpoint");
	const char *at;

	if (aws_check_config(cfg, env, report, sizeof(report), errs,
	    sizeof(errs)) == 0)
		errs[0] = '\0';
	strbuf_puts(&ck->report, report);
	for (line = errs; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		at = NULL;
		if (strncmp(line, "AWS region:", 11) == 0 && cfg->region[0])
			at = region_at;
		else if (strncmp(line, "EC2 endpoint:", 13) == 0 &&
		    cfg->endpoint[0])
			at = endpoint_at;
		if (at != NULL)
			check_error(ck, "%s: %s", at, line);
		else
			check_error(ck, "%s", line);
	}
}

size_t
preflight_run(const struct config *cfg, preflight_env_fn *env,
    struct preflight *out)
{
	struct check ck = { STRBUF_INIT, STRBUF_INIT, 0 };

	memset(out, 0, sizeof(*out));
	if (cfg->nclusters == 0)
		check_error(&ck, "%s: no [cluster NAME] section, so there is "
		    "nothing to manage; add one, as in [cluster dev04]",
		    cfg->path);
	check_aws(&ck, cfg, env);
	check_opencast(&ck, env);
	check_zadara(&ck, cfg, env);
	check_group(&ck, cfg, out);
	out->report = strbuf_detach(&ck.report, NULL);
	out->errors = strbuf_detach(&ck.errors, NULL);
	out->nerrors = ck.nerrors;
	return ck.nerrors;
}

void
preflight_clear(struct preflight *p)
{
	free(p->report);
	free(p->errors);
	free(p->group);
	memset(p, 0, sizeof(*p));
}
