/*
 * AWS credentials in the order the AWS CLI v2 uses: the environment, the
 * shared credentials and config files for the selected profile, then the
 * IMDSv2 instance role.  Static sources are read once when the provider is
 * made; instance-role credentials are fetched asynchronously and refreshed
 * well before they expire.  Secrets are never logged.
 */
#ifndef EC2M_AWSCREDS_H
#define EC2M_AWSCREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct http_client;

typedef const char *env_get_fn(const char *name);

struct aws_credentials {
	char	*access_key_id;
	char	*secret_access_key;
	char	*session_token;		/* NULL for long-term keys */
	int64_t	 obtained_ms;		/* when they were read */
	int64_t	 expiration_ms;		/* 0: they do not expire */
};

void aws_credentials_clear(struct aws_credentials *c);

/* From AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (both needed) and
 * AWS_SECURITY_TOKEN or AWS_SESSION_TOKEN, the first that is set (botocore's
 * order).  Returns true when found. */
bool aws_credentials_from_env(env_get_fn *env, struct aws_credentials *out);

/*
 * Reads an INI file the way Python's configparser reads it for botocore
 * and the AWS CLI: "key = value" or "key: value" (the first '=' or ':'),
 * keys lower-cased, values as written with no inline comments, lines
 * starting with '#' or ';' ignored, indented continuation lines ignored
 * (their values are never credentials), a key before any section, a line
 * that is none of these, a section or key given twice, a NUL byte or
 * invalid UTF-8 an error.  cb is called with key NULL for every section
 * header, then for every key; it returns 0 to go on.  Returns 0, or -1
 * with "path:line: reason" in err.
 */
typedef int aws_ini_fn(void *arg, const char *section, const char *key,
    const char *value);
int aws_ini_parse(const char *path, aws_ini_fn *cb, void *arg, char *err,
    size_t errlen);

/* The profile settings that matter to the daemon. */
enum aws_profile_key {
	AWS_PK_ACCESS_KEY_ID,
	AWS_PK_SECRET_ACCESS_KEY,
	AWS_PK_SECURITY_TOKEN,
	AWS_PK_SESSION_TOKEN,
	AWS_PK_REGION,
	AWS_PK_ROLE_ARN,
	AWS_PK_WEB_IDENTITY_TOKEN_FILE,
	AWS_PK_SSO_ROLE_NAME,
	AWS_PK_SSO_ACCOUNT_ID,
	AWS_PK_CREDENTIAL_PROCESS,
	AWS_PK_IMDS_ENDPOINT,		/* ec2_metadata_service_endpoint */
	AWS_PK_IMDS_ENDPOINT_MODE,	/* ec2_metadata_service_endpoint_mode */
	AWS_PK_COUNT
};

/* What one file says about a profile. */
struct aws_profile_part {
	bool	 found;			/* the file has a section for it */
	char	*v[AWS_PK_COUNT];	/* NULL: not set; "" when set empty */
};

/* What a profile in the shared files holds. */
struct aws_profile {
	struct aws_credentials creds;	/* complete keys: the credentials
					   file's, else the config file's */
	char	*region;		/* likewise; NULL when none */
	bool	 found;			/* the profile exists in some file */
	struct aws_profile_part cred;	/* the credentials file: [NAME] */
	struct aws_profile_part conf;	/* the config file: [profile NAME],
					   or [default] for "default" */
};

void aws_profile_clear(struct aws_profile *p);

/* Reads profile `name` from the credentials file and the config file.  A
 * setting in the credentials file wins over the same setting in the config
 * file, as botocore merges them.  A missing file is not an error.  Returns
 * 0, or -1 with a "file:line: reason" in err when a file cannot be read or
 * parsed (botocore refuses such a file too). */
int aws_profile_load(const char *credentials_path, const char *config_path,
    const char *name, struct aws_profile *out, char *err, size_t errlen);

/* Parses the IMDS role-credentials JSON.  Returns 0, or -1 with err. */
int aws_imds_parse_credentials(const char *json, size_t len, int64_t now_ms,
    struct aws_credentials *out, char *err, size_t errlen);

enum aws_creds_freshness {
	AWS_CREDS_FRESH,	/* use them */
	AWS_CREDS_ADVISORY,	/* use them, refresh in the background */
	AWS_CREDS_MANDATORY,	/* refresh before use */
	AWS_CREDS_EXPIRED,	/* unusable */
};

/* Where credentials stand at now_ms.  The refresh windows are those of
 * botocore (15 and 10 minutes before expiry), shrunk for credentials that
 * live shorter than that (half and a quarter of their lifetime). */
enum aws_creds_freshness aws_creds_freshness(const struct aws_credentials *c,
    int64_t now_ms);

struct aws_creds_settings {
	const char *profile;	/* [aws] profile; NULL or "": none.  Named
				   here it wins over AWS_PROFILE and
				   AWS_DEFAULT_PROFILE and turns off the
				   environment's keys, as aws --profile
				   does. */
	env_get_fn *env;	/* getenv in production */
};

/* Where credentials come from. */
enum aws_creds_kind {
	AWS_CREDS_NONE,
	AWS_CREDS_ENV,			/* AWS_ACCESS_KEY_ID... */
	AWS_CREDS_CREDENTIALS_FILE,	/* the profile in the credentials file */
	AWS_CREDS_CONFIG_FILE,		/* the profile in the config file */
	AWS_CREDS_BOTO,			/* a legacy boto config file */
	AWS_CREDS_IMDS,			/* the instance role */
};

/*
 * The outcome of resolving the profile, the credential source and the
 * profile's region without any network, in the order of the AWS CLI v2
 * (see ec2-manager.conf(5) for the table):
 *
 *   profile: [aws] profile, AWS_PROFILE, AWS_DEFAULT_PROFILE, "default";
 *            a named profile must exist in the config or credentials file
 *   keys:    the environment (not with [aws] profile), then the profile
 *            (assume-role, web identity and SSO first: not supported, an
 *            error), its credentials file section, credential_process
 *            (not supported), its config file section, AWS_CREDENTIAL_FILE
 *            (not supported), boto config files, container credentials
 *            (not supported), then the instance role unless
 *            AWS_EC2_METADATA_DISABLED=true
 *   region:  the profile's region (the credentials file's, else the
 *            config file's); aws_resolve_region() puts [aws] region,
 *            AWS_REGION and AWS_DEFAULT_REGION before it
 */
struct aws_resolution {
	char	*profile;		/* the profile used */
	const char *profile_origin;	/* "[aws] profile", "AWS_PROFILE",
					   "AWS_DEFAULT_PROFILE", or NULL
					   for the default */
	char	*credentials_file;	/* the paths looked at; NULL */
	char	*config_file;		/* without HOME */
	enum aws_creds_kind kind;
	char	*keys_file;		/* the file static keys came from */
	struct aws_credentials creds;	/* static keys */
	char	*imds_endpoint;		/* AWS_CREDS_IMDS */
	char	*looked;		/* AWS_CREDS_IMDS: where keys were
					   looked for before the instance role,
					   for "no AWS credentials found" */
	char	*region;		/* the profile's region, or NULL */
	char	*region_file;		/* the file it is in */
};

/* Fills out as far as it gets.  Returns 0, or -1 with the reason in err
 * (out->profile and the region are still set when the profile could be
 * read). */
int aws_resolve_credentials(const struct aws_creds_settings *s,
    struct aws_resolution *out, char *err, size_t errlen);
void aws_resolution_clear(struct aws_resolution *r);
/* Where the keys come from, for people: "environment
 * (AWS_ACCESS_KEY_ID)", "profile \"x\" from /path/credentials", "instance
 * role (IMDS at http://169.254.169.254)".  Never a secret. */
void aws_resolution_describe(const struct aws_resolution *r, char *buf,
    size_t len);

struct config;

/*
 * ec2-managerd --check-config for [aws]: resolves the profile, the
 * credential source, the region and the endpoint exactly as start-up does,
 * without any network (the instance role is accepted as start-up accepts
 * it, and fetched at the first refresh).  Writes one line per setting to
 * report ("AWS credentials: profile \"x\" from FILE"), never a secret.
 * Returns 0, or -1 with every problem in err, one per line (no newline at
 * the end).
 */
int aws_check_config(const struct config *cfg, env_get_fn *env,
    char *report, size_t reportlen, char *err, size_t errlen);
/* getenv(3) as an env_get_fn. */
const char *aws_getenv(const char *name);

struct aws_creds_provider;

/* Resolves the source of credentials (aws_resolve_credentials()).  Returns
 * NULL with err when none can be had (or a named profile does not exist).
 * The provider makes HTTP calls through http (for IMDS), on its loop. */
struct aws_creds_provider *aws_creds_provider_new(uv_loop_t *loop,
    struct http_client *http, const struct aws_creds_settings *s,
    char *err, size_t errlen);
void aws_creds_provider_free(struct aws_creds_provider *p);

/* "environment", "shared-files" (the credentials or config file),
 * "boto-config" or "instance-role"; for the log, never secret. */
const char *aws_creds_provider_source(const struct aws_creds_provider *p);
/* The same in full: aws_resolution_describe(). */
const char *aws_creds_provider_describe(const struct aws_creds_provider *p);
/* The region of the selected profile, or NULL. */
const char *aws_creds_provider_region(const struct aws_creds_provider *p);

/* Receives credentials (borrowed, valid during the call) or an error.
 * When the instance role is the last resort and it never gave credentials
 * (no IMDS, IMDS refusing with 403, no role attached), the error is
 * "no AWS credentials found: " with every place that was looked at and
 * what IMDS answered. */
typedef void aws_creds_fn(void *arg, const struct aws_credentials *creds,
    const char *error);

struct aws_creds_wait;

/* Asks for credentials.  When usable ones are at hand the callback runs
 * before this returns and NULL is returned; otherwise the callback runs
 * later from the loop and a handle is returned that
 * aws_creds_wait_cancel() can withdraw. */
struct aws_creds_wait *aws_creds_get(struct aws_creds_provider *p,
    aws_creds_fn *cb, void *arg);
void aws_creds_wait_cancel(struct aws_creds_wait *w);

/* Forgets fetched credentials after EC2 rejected them, so the next
 * aws_creds_get() fetches new ones.  Returns true when that can help
 * (instance-role credentials), false for static ones. */
bool aws_creds_invalidate(struct aws_creds_provider *p);

#endif
