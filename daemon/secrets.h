/*
 * Secrets (the Opencast user and password, the Zadara token, the Loggly
 * token) come from systemd credentials ($CREDENTIALS_DIRECTORY/NAME) or
 * from the environment, never from the main config file.  Callers wipe and
 * free what they get with free_secret().
 *
 * A credential that is empty once its trailing newlines are dropped counts
 * as absent, and the environment is read instead: the shipped unit gives
 * every credential a default of one newline (SetCredential=NAME:\n) so
 * that systemd 252 starts the service when the file behind
 * LoadCredential=NAME:PATH is missing (see systemd/ec2-managerd.service.in).
 */
#ifndef EC2M_SECRETS_H
#define EC2M_SECRETS_H

typedef const char *secret_env_fn(const char *name);

/* Reads credential `cred_name` from $CREDENTIALS_DIRECTORY (trailing
 * newlines dropped), else the first of the NULL-terminated env_names that
 * is set and non-empty.  Returns a new string, or NULL when none has it. */
char *secret_read(secret_env_fn *env, const char *cred_name,
    const char *const *env_names);
/* The same; *from (when from is not NULL) is set to where the secret was
 * found: cred_name (a credential) or one of env_names (a variable), the
 * caller's own string, or NULL when it was not found. */
char *secret_read_from(secret_env_fn *env, const char *cred_name,
    const char *const *env_names, const char **from);

/* The Opencast user: credential opencast-user, else OPENCAST_USER, else
 * MATTERHORN_ADMIN_SERVER_USER (the old tool's .env). */
char *secret_opencast_user(secret_env_fn *env);
/* The password: opencast-password, OPENCAST_PASSWORD,
 * MATTERHORN_ADMIN_SERVER_PASS. */
char *secret_opencast_password(secret_env_fn *env);
/* The Zadara account token: credential zadara-token, else
 * ZADARA_ACCOUNT_TOKEN, else ZADARA_TOKEN (the old tool's .env). */
char *secret_zadara_token(secret_env_fn *env);
/* The Loggly customer token: credential loggly-token, else LOGGLY_TOKEN. */
char *secret_loggly_token(secret_env_fn *env);

#endif
