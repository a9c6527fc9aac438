/*
 * The part of the credential chain that reads files and the environment:
 * the shared credentials and config files (read as botocore reads them),
 * the legacy boto files, and the resolution of profile, credential source
 * and region in the order of the AWS CLI v2 (awscreds.h), which start-up
 * and --check-config share.  No network, no loop.
 */
#include "daemon/awscreds.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/aws.h"
#include "daemon/config.h"

#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define IMDS_IPV6_ENDPOINT "http://[fd00:ec2::254]"

/*
 * The shared files.  botocore reads them with Python's configparser, and
 * the daemon must read the same values from them, so this follows
 * configparser rather than libinih: Debian's libinih cuts lines at 200
 * bytes and section names at 50 with process-wide settings that
 * config.c relies on (a session token is about a thousand bytes), strips
 * inline comments that configparser keeps, and takes indented lines for
 * keys of their own.
 */

#define INI_SPACE " \t\r\n\f\v"

struct ini_state {
	const char *path;
	int	 line;
	char	**sections;		/* seen, to refuse a second one */
	size_t	 nsections, scap;
	char	**keys;			/* of the current section */
	size_t	 nkeys, kcap;
};

static void
strv_free_n(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static bool
strv_has(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* Trims blanks at both ends in place. */
static char *
trim(char *s)
{
	size_t n;

	s += strspn(s, INI_SPACE);
	n = strlen(s);
	while (n > 0 && strchr(INI_SPACE, s[n - 1]) != NULL)
		s[--n] = '\0';
	return s;
}

int
aws_ini_parse(const char *path, aws_ini_fn *cb, void *arg, char *err,
    size_t errlen)
{
	struct ini_state st = { .path = path };
	char *buf = NULL, *section = NULL;
	size_t bufcap = 0, key_indent = 0;
	bool have_key = false;
	const char *why = NULL;
	ssize_t n;
	FILE *f;
	int rc = 0;

	if ((f = fopen(path, "re")) == NULL) {
		utf8_snprintf(err, errlen, "%s: cannot open: %s", path,
		    strerror(errno));
		return -1;
	}
	while ((n = getline(&buf, &bufcap, f)) != -1) {
		char *line, *eq, *key, *value;
		size_t indent;

		st.line++;
		if (memchr(buf, '\0', (size_t)n) != NULL) {
			why = "a NUL byte";
			break;
		}
		if (!utf8_valid(buf, (size_t)n)) {
			why = "not valid UTF-8";
			break;
		}
		if (st.line == 1 && strncmp(buf, "\xef\xbb\xbf", 3) == 0)
			memmove(buf, buf + 3, (size_t)n - 2);
		indent = strspn(buf, INI_SPACE);
		line = trim(buf);
		/* Blank lines and comments; a continuation line of a value
		 * (indented deeper than its key) adds to a value that is
		 * never a credential, a region or a role. */
		if (*line == '\0' || *line == '#' || *line == ';')
			continue;
		if (section != NULL && have_key && indent > key_indent)
			continue;
		key_indent = indent;
		if (line[0] == '[' && strrchr(line, ']') > line + 1) {
			/* "[name]" up to the last ']', as configparser. */
			*strrchr(line, ']') = '\0';
			line++;
			if (strv_has(st.sections, st.nsections, line)) {
				why = "a section given twice";
				break;
			}
			st.sections = xgrow(st.sections, &st.scap,
			    st.nsections + 1, sizeof(char *));
			st.sections[st.nsections++] = xstrdup(line);
			section = st.sections[st.nsections - 1];
			strv_free_n(st.keys, st.nkeys);
			st.keys = NULL;
			st.nkeys = st.kcap = 0;
			have_key = false;
			if ((rc = cb(arg, section, NULL, NULL)) != 0)
				break;
			continue;
		}
		if (section == NULL) {
			why = "a key before the first [section]";
			break;
		}
		eq = line + strcspn(line, "=:");
		if (*eq == '\0') {
			why = "neither a [section] nor key = value";
			break;
		}
		*eq = '\0';
		key = trim(line);
		value = trim(eq + 1);
		if (*key == '\0') {
			why = "a value without a key";
			break;
		}
		for (char *k = key; *k; k++)
			*k = (char)tolower((unsigned char)*k);
		if (strv_has(st.keys, st.nkeys, key)) {
			why = "a key given twice in its section";
			break;
		}
		st.keys = xgrow(st.keys, &st.kcap, st.nkeys + 1,
		    sizeof(char *));
		st.keys[st.nkeys++] = xstrdup(key);
		have_key = true;
		if ((rc = cb(arg, section, key, value)) != 0)
			break;
	}
	if (why == NULL && rc == 0 && ferror(f))
		why = "read error";
	if (why != NULL) {
		utf8_snprintf(err, errlen, "%s:%d: %s", path, st.line, why);
		rc = -1;
	} else if (rc != 0) {
		utf8_snprintf(err, errlen, "%s:%d: refused", path, st.line);
		rc = -1;
	}
	/* The line may hold a secret. */
	if (buf != NULL)
		explicit_bzero(buf, bufcap);
	free(buf);
	fclose(f);
	strv_free_n(st.sections, st.nsections);
	strv_free_n(st.keys, st.nkeys);
	return rc;
}

static const char *const profile_keys[AWS_PK_COUNT] = {
	[AWS_PK_ACCESS_KEY_ID] = "aws_access_key_id",
	[AWS_PK_SECRET_ACCESS_KEY] = "aws_secret_access_key",
	[AWS_PK_SECURITY_TOKEN] = "aws_security_token",
	[AWS_PK_SESSION_TOKEN] = "aws_session_token",
	[AWS_PK_REGION] = "region",
	[AWS_PK_ROLE_ARN] = "role_arn",
	[AWS_PK_WEB_IDENTITY_TOKEN_FILE] = "web_identity_token_file",
	[AWS_PK_SSO_ROLE_NAME] = "sso_role_name",
	[AWS_PK_SSO_ACCOUNT_ID] = "sso_account_id",
	[AWS_PK_CREDENTIAL_PROCESS] = "credential_process",
	[AWS_PK_IMDS_ENDPOINT] = "ec2_metadata_service_endpoint",
	[AWS_PK_IMDS_ENDPOINT_MODE] = "ec2_metadata_service_endpoint_mode",
};

static void
profile_part_clear(struct aws_profile_part *pp)
{
	for (size_t i = 0; i < AWS_PK_COUNT; i++)
		free_secret(pp->v[i]);
	memset(pp, 0, sizeof(*pp));
}

void
aws_profile_clear(struct aws_profile *p)
{
	aws_credentials_clear(&p->creds);
	free(p->region);
	profile_part_clear(&p->cred);
	profile_part_clear(&p->conf);
	memset(p, 0, sizeof(*p));
}

/*
 * The profile a config file section is for, as botocore's
 * build_profile_map() sees it: "default", or "profile NAME" (shell-split
 * into exactly two words, so NAME may be quoted).  Returns a new string,
 * or NULL when the section is no profile.
 */
static char *
config_section_profile(const char *section)
{
	const char *s;
	size_t n;

	if (strcmp(section, "default") == 0)
		return xstrdup("default");
	if (strncmp(section, "profile", 7) != 0 ||
	    !isspace((unsigned char)section[7]))
		return NULL;
	s = section + 7;
	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0] &&
	    memchr(s + 1, s[0], n - 2) == NULL)
		return xstrndup(s + 1, n - 2);
	for (size_t i = 0; i < n; i++)
		if (isspace((unsigned char)s[i]) || s[i] == '"' ||
		    s[i] == '\'' || s[i] == '\\')
			return NULL;
	return n > 0 ? xstrndup(s, n) : NULL;
}

struct profile_parse {
	const char *name;
	bool	 config_file;	/* sections are "profile NAME" there */
	struct aws_profile_part *out;
	bool	 in;		/* the current section is the profile's */
};

/* Called by aws_ini_parse() for every section and key. */
static int
profile_ini_cb(void *user, const char *section, const char *key,
    const char *value)
{
	struct profile_parse *pp = user;

	if (key == NULL) {
		if (pp->config_file) {
			char *name = config_section_profile(section);

			pp->in = name != NULL && strcmp(name, pp->name) == 0;
			free(name);
		} else {
			pp->in = strcmp(section, pp->name) == 0;
		}
		/* A later section for the same profile replaces an
		 * earlier one ([default] and [profile default]). */
		if (pp->in) {
			profile_part_clear(pp->out);
			pp->out->found = true;
		}
		return 0;
	}
	if (!pp->in)
		return 0;
	for (size_t i = 0; i < AWS_PK_COUNT; i++)
		if (strcmp(key, profile_keys[i]) == 0) {
			free_secret(pp->out->v[i]);
			pp->out->v[i] = xstrdup(value);
		}
	return 0;
}

static int
profile_parse_file(const char *path, bool config_file, const char *name,
    struct aws_profile_part *out, char *err, size_t errlen)
{
	struct profile_parse pp = { name, config_file, out, false };

	if (path == NULL || access(path, F_OK) != 0)
		return 0;	/* a missing file is no error */
	if (aws_ini_parse(path, profile_ini_cb, &pp, err, errlen) != 0) {
		profile_part_clear(out);
		return -1;
	}
	return 0;
}

/* Complete keys from a part, or false. */
static bool
part_creds(const struct aws_profile_part *pp, struct aws_credentials *out)
{
	const char *ak = pp->v[AWS_PK_ACCESS_KEY_ID];
	const char *sk = pp->v[AWS_PK_SECRET_ACCESS_KEY];
	const char *tok = pp->v[AWS_PK_SECURITY_TOKEN];

	if (!ak || !*ak || !sk || !*sk)
		return false;
	if (tok == NULL)
		tok = pp->v[AWS_PK_SESSION_TOKEN];
	aws_credentials_clear(out);
	out->access_key_id = xstrdup(ak);
	out->secret_access_key = xstrdup(sk);
	out->session_token = tok && *tok ? xstrdup(tok) : NULL;
	return true;
}

/* A setting of the profile as botocore sees it: the credentials file's
 * section is merged over the config file's. */
static const char *
profile_get(const struct aws_profile *p, enum aws_profile_key k)
{
	return p->cred.v[k] ? p->cred.v[k] : p->conf.v[k];
}

int
aws_profile_load(const char *credentials_path, const char *config_path,
    const char *name, struct aws_profile *out, char *err, size_t errlen)
{
	const char *region;

	memset(out, 0, sizeof(*out));
	if (profile_parse_file(credentials_path, false, name, &out->cred, err,
	    errlen) != 0 ||
	    profile_parse_file(config_path, true, name, &out->conf, err,
	    errlen) != 0) {
		aws_profile_clear(out);
		return -1;
	}
	out->found = out->cred.found || out->conf.found;
	if (!part_creds(&out->cred, &out->creds))
		part_creds(&out->conf, &out->creds);
	region = profile_get(out, AWS_PK_REGION);
	if (region && *region)
		out->region = xstrdup(region);
	return 0;
}

/* The resolution. */

void
aws_resolution_clear(struct aws_resolution *r)
{
	free(r->profile);
	free(r->credentials_file);
	free(r->config_file);
	free(r->keys_file);
	aws_credentials_clear(&r->creds);
	free(r->imds_endpoint);
	free(r->looked);
	free(r->region);
	free(r->region_file);
	memset(r, 0, sizeof(*r));
}

/* A variable that is set and not empty, or NULL. */
static const char *
env_nonempty(env_get_fn *env, const char *name)
{
	const char *v = env(name);

	return v && *v ? v : NULL;
}

/* The path in variable var ("~/" expanded), else HOME/rel; NULL without
 * HOME. */
static char *
home_path(env_get_fn *env, const char *var, const char *rel)
{
	const char *v = env_nonempty(env, var), *home = env("HOME");

	if (v && strncmp(v, "~/", 2) == 0 && home && *home)
		return xasprintf("%s/%s", home, v + 2);
	if (v)
		return xstrdup(v);
	if (home == NULL || *home == '\0')
		return NULL;
	return xasprintf("%s/%s", home, rel);
}

/* Keys from one file's part of the profile.  Returns 1 when the part names
 * an access key (out set), 0 when it does not, -1 with err when it names
 * one without its secret (botocore's PartialCredentialsError). */
static int
keys_from_part(const struct aws_profile_part *pp, const char *profile,
    const char *path, struct aws_resolution *out, char *err, size_t errlen)
{
	if (pp->v[AWS_PK_ACCESS_KEY_ID] == NULL)
		return 0;
	if (!part_creds(pp, &out->creds)) {
		utf8_snprintf(err, errlen, "profile \"%s\" in %s has an "
		    "incomplete key: both aws_access_key_id and "
		    "aws_secret_access_key must be set", profile, path);
		return -1;
	}
	out->keys_file = xstrdup(path);
	return 1;
}

/* Called by aws_ini_parse() for a boto config file: [Credentials]. */
static int
boto_ini_cb(void *user, const char *section, const char *key,
    const char *value)
{
	struct aws_profile_part *pp = user;

	if (strcmp(section, "Credentials") != 0)
		return 0;
	if (key == NULL) {
		pp->found = true;
		return 0;
	}
	if (strcmp(key, "aws_access_key_id") == 0) {
		free_secret(pp->v[AWS_PK_ACCESS_KEY_ID]);
		pp->v[AWS_PK_ACCESS_KEY_ID] = xstrdup(value);
	} else if (strcmp(key, "aws_secret_access_key") == 0) {
		free_secret(pp->v[AWS_PK_SECRET_ACCESS_KEY]);
		pp->v[AWS_PK_SECRET_ACCESS_KEY] = xstrdup(value);
	}
	return 0;
}

/* The legacy boto config files, as botocore's BotoProvider reads them:
 * BOTO_CONFIG if set, else /etc/boto.cfg and ~/.boto.  Returns 1, 0 or -1
 * like keys_from_part(). */
static int
keys_from_boto(const struct aws_creds_settings *s, struct aws_resolution *out,
    char *err, size_t errlen)
{
	const char *boto = s->env("BOTO_CONFIG"), *home = s->env("HOME");
	char *paths[2] = { NULL, NULL };
	int rc = 0;

	if (boto != NULL) {
		if (*boto != '\0')
			paths[0] = home_path(s->env, "BOTO_CONFIG", ".boto");
	} else {
		paths[0] = xstrdup("/etc/boto.cfg");
		if (home != NULL && *home != '\0')
			paths[1] = xasprintf("%s/.boto", home);
	}
	for (size_t i = 0; i < 2 && rc == 0; i++) {
		struct aws_profile_part pp = { 0 };

		if (paths[i] == NULL || access(paths[i], F_OK) != 0)
			continue;
		if (aws_ini_parse(paths[i], boto_ini_cb, &pp, err,
		    errlen) != 0) {
			rc = -1;
		} else if (pp.v[AWS_PK_ACCESS_KEY_ID] != NULL) {
			rc = part_creds(&pp, &out->creds) ? 1 : -1;
			if (rc < 0)
				utf8_snprintf(err, errlen, "%s: [Credentials] "
				    "has an incomplete key: both "
				    "aws_access_key_id and "
				    "aws_secret_access_key must be set",
				    paths[i]);
			else
				out->keys_file = xstrdup(paths[i]);
		}
		profile_part_clear(&pp);
	}
	free(paths[0]);
	free(paths[1]);
	return rc;
}

/* The instance metadata service's address, as botocore picks it. */
static int
imds_endpoint(env_get_fn *env, const struct aws_profile *prof,
    struct aws_resolution *out, char *err, size_t errlen)
{
	const char *v = env_nonempty(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode;
	size_t n;

	if (v == NULL)
		v = profile_get(prof, AWS_PK_IMDS_ENDPOINT);
	if (v == NULL || *v == '\0') {
		mode = env_nonempty(env,
		    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
		if (mode == NULL)
			mode = profile_get(prof, AWS_PK_IMDS_ENDPOINT_MODE);
		if (mode == NULL || *mode == '\0' ||
		    strcasecmp(mode, "ipv4") == 0) {
			v = IMDS_DEFAULT_ENDPOINT;
		} else if (strcasecmp(mode, "ipv6") == 0) {
			v = IMDS_IPV6_ENDPOINT;
		} else {
			utf8_snprintf(err, errlen, "the instance metadata "
			    "service endpoint mode \"%s\" is neither IPv4 "
			    "nor IPv6", mode);
			return -1;
		}
	}
	out->imds_endpoint = xstrdup(v);
	/* Trailing slashes would double up in the paths. */
	for (n = strlen(out->imds_endpoint);
	    n > 0 && out->imds_endpoint[n - 1] == '/'; n--)
		out->imds_endpoint[n - 1] = '\0';
	return 0;
}

/* A source of credentials the AWS CLI would use here but the daemon
 * cannot: refusing is better than signing with other keys. */
static int
unsupported(char *err, size_t errlen, const char *what)
{
	utf8_snprintf(err, errlen, "%s, which ec2-managerd does not support; "
	    "give keys in the credentials file or the environment, or use "
	    "the instance role", what);
	return -1;
}

int
aws_resolve_credentials(const struct aws_creds_settings *s,
    struct aws_resolution *out, char *err, size_t errlen)
{
	env_get_fn *env = s->env;
	struct aws_profile prof;
	const char *named = NULL, *v, *tokfile;
	bool in_config = s->profile && *s->profile;
	char why[512];
	int rc;

	memset(out, 0, sizeof(*out));
	if (in_config) {
		named = s->profile;
		out->profile_origin = "[aws] profile";
	} else if ((named = env_nonempty(env, "AWS_PROFILE")) != NULL) {
		out->profile_origin = "AWS_PROFILE";
	} else if ((named = env_nonempty(env, "AWS_DEFAULT_PROFILE")) !=
	    NULL) {
		out->profile_origin = "AWS_DEFAULT_PROFILE";
	}
	out->profile = xstrdup(named ? named : "default");
	out->credentials_file = home_path(env, "AWS_SHARED_CREDENTIALS_FILE",
	    ".aws/credentials");
	out->config_file = home_path(env, "AWS_CONFIG_FILE", ".aws/config");
	if (aws_profile_load(out->credentials_file, out->config_file,
	    out->profile, &prof, err, errlen) != 0)
		return -1;
	if (named && !prof.found) {
		utf8_snprintf(err, errlen, "AWS profile \"%s\" not found in "
		    "the shared credentials file %s or the config file %s "
		    "(named by %s)", named,
		    out->credentials_file ? out->credentials_file : "(no HOME)",
		    out->config_file ? out->config_file : "(no HOME)",
		    out->profile_origin);
		goto fail;
	}
	if (prof.region) {
		out->region = xstrdup(prof.region);
		out->region_file = xstrdup(prof.cred.v[AWS_PK_REGION] &&
		    *prof.cred.v[AWS_PK_REGION] ? out->credentials_file :
		    out->config_file);
	}

	/* 1. The environment, unless a profile was named in [aws]. */
	if (!in_config && (v = env_nonempty(env, "AWS_ACCESS_KEY_ID"))) {
		if (!aws_credentials_from_env(env, &out->creds)) {
			utf8_snprintf(err, errlen, "AWS_ACCESS_KEY_ID is set "
			    "but AWS_SECRET_ACCESS_KEY is not");
			goto fail;
		}
		out->kind = AWS_CREDS_ENV;
		goto done;
	}
	/* 2-4. Profiles that get keys from STS or SSO. */
	if (profile_get(&prof, AWS_PK_ROLE_ARN) &&
	    !profile_get(&prof, AWS_PK_WEB_IDENTITY_TOKEN_FILE)) {
		utf8_snprintf(why, sizeof(why), "profile \"%s\" assumes a role "
		    "(role_arn)", out->profile);
		unsupported(err, errlen, why);
		goto fail;
	}
	tokfile = in_config ? NULL : env_nonempty(env,
	    "AWS_WEB_IDENTITY_TOKEN_FILE");
	if (tokfile == NULL)
		tokfile = profile_get(&prof, AWS_PK_WEB_IDENTITY_TOKEN_FILE);
	if (tokfile && *tokfile) {
		unsupported(err, errlen, "a web identity token file is "
		    "configured (AWS_WEB_IDENTITY_TOKEN_FILE or "
		    "web_identity_token_file)");
		goto fail;
	}
	if (profile_get(&prof, AWS_PK_SSO_ROLE_NAME) ||
	    profile_get(&prof, AWS_PK_SSO_ACCOUNT_ID)) {
		utf8_snprintf(why, sizeof(why), "profile \"%s\" uses IAM "
		    "Identity Center (SSO)", out->profile);
		unsupported(err, errlen, why);
		goto fail;
	}
	/* 5. The credentials file. */
	rc = keys_from_part(&prof.cred, out->profile, out->credentials_file,
	    out, err, errlen);
	if (rc < 0)
		goto fail;
	if (rc > 0) {
		out->kind = AWS_CREDS_CREDENTIALS_FILE;
		goto done;
	}
	/* 6. credential_process. */
	if (profile_get(&prof, AWS_PK_CREDENTIAL_PROCESS)) {
		utf8_snprintf(why, sizeof(why), "profile \"%s\" runs a "
		    "credential_process", out->profile);
		unsupported(err, errlen, why);
		goto fail;
	}
	/* 7. The config file. */
	rc = keys_from_part(&prof.conf, out->profile, out->config_file, out,
	    err, errlen);
	if (rc < 0)
		goto fail;
	if (rc > 0) {
		out->kind = AWS_CREDS_CONFIG_FILE;
		goto done;
	}
	/* 8-10. Legacy files and containers. */
	if (env("AWS_CREDENTIAL_FILE") != NULL) {
		unsupported(err, errlen, "AWS_CREDENTIAL_FILE (the old "
		    "EC2 API tools' key file) is set");
		goto fail;
	}
	rc = keys_from_boto(s, out, err, errlen);
	if (rc < 0)
		goto fail;
	if (rc > 0) {
		out->kind = AWS_CREDS_BOTO;
		goto done;
	}
	if (env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != NULL ||
	    env("AWS_CONTAINER_CREDENTIALS_FULL_URI") != NULL) {
		unsupported(err, errlen, "container credentials "
		    "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI) "
		    "are configured");
		goto fail;
	}
	/* 11. The instance role. */
	if ((v = env("AWS_EC2_METADATA_DISABLED")) &&
	    strcasecmp(v, "true") == 0) {
		utf8_snprintf(err, errlen, "no AWS credentials: none in the "
		    "environment, none for profile \"%s\" in %s or %s, and "
		    "the instance role is off (AWS_EC2_METADATA_DISABLED=true)",
		    out->profile,
		    out->credentials_file ? out->credentials_file :
		    "the credentials file (no HOME)",
		    out->config_file ? out->config_file :
		    "the config file (no HOME)");
		goto fail;
	}
	if (imds_endpoint(env, &prof, out, err, errlen) != 0)
		goto fail;
	out->kind = AWS_CREDS_IMDS;
	/* Said when the instance role gives nothing either: a machine
	 * without one, or a HOME other than the operator thought. */
	v = env_nonempty(env, "HOME");
	out->looked = utf8_asprintf("none in the environment, none for "
	    "profile \"%s\" in the shared files %s and %s (%s%s)",
	    out->profile,
	    out->credentials_file ? out->credentials_file :
	    "(the credentials file)",
	    out->config_file ? out->config_file : "(the config file)",
	    v ? "HOME is " : "HOME is not set", v ? v : "");
done:
	aws_profile_clear(&prof);
	return 0;
fail:
	aws_profile_clear(&prof);
	aws_credentials_clear(&out->creds);
	out->kind = AWS_CREDS_NONE;
	return -1;
}

void
aws_resolution_describe(const struct aws_resolution *r, char *buf,
    size_t len)
{
	switch (r->kind) {
	case AWS_CREDS_ENV:
		utf8_snprintf(buf, len, "environment (AWS_ACCESS_KEY_ID%s)",
		    r->creds.session_token ? ", with a session token" : "");
		break;
	case AWS_CREDS_CREDENTIALS_FILE:
	case AWS_CREDS_CONFIG_FILE:
		utf8_snprintf(buf, len, "profile \"%s\" from %s", r->profile,
		    r->keys_file);
		break;
	case AWS_CREDS_BOTO:
		utf8_snprintf(buf, len, "boto config file %s", r->keys_file);
		break;
	case AWS_CREDS_IMDS:
		utf8_snprintf(buf, len, "instance role (instance metadata "
		    "service at %s)", r->imds_endpoint);
		break;
	case AWS_CREDS_NONE:
		utf8_snprintf(buf, len, "none");
		break;
	}
}

int
aws_check_config(const struct config *cfg, env_get_fn *env, char *report,
    size_t reportlen, char *err, size_t errlen)
{
	struct aws_creds_settings cs = { cfg->profile, env };
	struct aws_resolution res;
	struct strbuf rep = STRBUF_INIT, errs = STRBUF_INIT;
	const char *region, *region_from = NULL;
	char msg[1024], url[512];
	int rc;

	rc = aws_resolve_credentials(&cs, &res, msg, sizeof(msg));
	if (res.profile != NULL)
		strbuf_printf(&rep, "AWS profile: %s (%s)\n", res.profile,
		    res.profile_origin ? res.profile_origin :
		    "the default: no profile named");
	if (rc == 0) {
		aws_resolution_describe(&res, msg, sizeof(msg));
		strbuf_printf(&rep, "AWS credentials: %s%s\n", msg,
		    res.kind == AWS_CREDS_IMDS ? "; fetched at the first "
		    "refresh, not by --check-config" : "");
	} else {
		strbuf_printf(&errs, "AWS credentials: %s\n", msg);
	}
	region = aws_resolve_region(cfg->region, res.region, env);
	if (region == NULL) {
		strbuf_printf(&errs, "AWS region: none: set [aws] region, "
		    "AWS_REGION, AWS_DEFAULT_REGION or region in profile "
		    "\"%s\"\n", res.profile ? res.profile : "default");
	} else {
		if (cfg->region && *cfg->region)
			region_from = "[aws] region";
		else if (env_nonempty(env, "AWS_REGION"))
			region_from = "AWS_REGION";
		else if (env_nonempty(env, "AWS_DEFAULT_REGION"))
			region_from = "AWS_DEFAULT_REGION";
		if (region_from == NULL) {
			utf8_snprintf(msg, sizeof(msg), "profile \"%s\" in %s",
			    res.profile, res.region_file);
			region_from = msg;
		}
		if (!aws_region_valid(region))
			strbuf_printf(&errs, "AWS region: \"%s\" (from %s) is "
			    "not a region name such as eu-west-1\n", region,
			    region_from);
		else
			strbuf_printf(&rep, "AWS region: %s (%s)\n", region,
			    region_from);
	}
	if (region != NULL) {
		if (aws_resolve_endpoint(cfg->endpoint, region, env, url,
		    sizeof(url)) != 0)
			strbuf_printf(&errs, "EC2 endpoint: the URL is too "
			    "long\n");
		else if (aws_endpoint_check(url, msg, sizeof(msg)) != 0)
			strbuf_printf(&errs, "EC2 endpoint: %s\n", msg);
		else
			strbuf_printf(&rep, "EC2 endpoint: %s\n", url);
	}
	/* The problems one per line, without a newline at the end. */
	if (errs.len > 0)
		errs.buf[--errs.len] = '\0';
	utf8_snprintf(report, reportlen, "%s", strbuf_str(&rep));
	utf8_snprintf(err, errlen, "%s", strbuf_str(&errs));
	rc = errs.len > 0 ? -1 : 0;
	strbuf_release(&rep);
	strbuf_release(&errs);
	aws_resolution_clear(&res);
	return rc;
}

const char *
aws_getenv(const char *name)
{
	return getenv(name);
}
