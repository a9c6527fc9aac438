/*
 * AWS credentials in the order the SDKs use: environment, the shared
 * credentials and config files for the selected profile, then the IMDSv2
 * instance role.  Static sources are read once when the provider is made;
 * instance-role credentials are fetched asynchronously and refreshed well
 * before they expire.  Secrets are never logged.
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
 * AWS_SESSION_TOKEN or the legacy AWS_SECURITY_TOKEN.  Returns true when
 * found. */
bool aws_credentials_from_env(env_get_fn *env, struct aws_credentials *out);

/* What a profile in the shared files holds. */
struct aws_profile {
	struct aws_credentials creds;	/* keys, when the profile has them */
	char	*region;
	bool	 found;			/* the profile exists in some file */
};

void aws_profile_clear(struct aws_profile *p);

/* Reads profile `name` from the credentials file (sections "[name]") and
 * the config file ("[profile name]", or "[default]").  Keys in the
 * credentials file win over keys in the config file.  A missing file is
 * not an error.  Returns 0, or -1 with a "file:line: reason" in err when a
 * file cannot be parsed. */
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
	const char *profile;	/* NULL: AWS_DEFAULT_PROFILE, AWS_PROFILE,
				   else "default" */
	env_get_fn *env;	/* getenv in production */
};

struct aws_creds_provider;

/* Resolves the source of credentials.  Returns NULL with err when none can
 * be had (or a named profile does not exist).  The provider makes HTTP
 * calls through http (for IMDS), on its loop. */
struct aws_creds_provider *aws_creds_provider_new(uv_loop_t *loop,
    struct http_client *http, const struct aws_creds_settings *s,
    char *err, size_t errlen);
void aws_creds_provider_free(struct aws_creds_provider *p);

/* "environment", "shared-credentials-file", "config-file" or
 * "instance-role"; for the log, never secret. */
const char *aws_creds_provider_source(const struct aws_creds_provider *p);
/* The region of the selected profile, or NULL. */
const char *aws_creds_provider_region(const struct aws_creds_provider *p);

/* Receives credentials (borrowed, valid during the call) or an error. */
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
