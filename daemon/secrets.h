/*
 * Secrets (the Opencast user and password, the Zadara token) come from
 * systemd credentials ($CREDENTIALS_DIRECTORY/NAME) or from the
 * environment, never from the main config file.  Callers wipe and free
 * what they get with free_secret().
 */
#ifndef EC2M_SECRETS_H
#define EC2M_SECRETS_H

typedef const char *secret_env_fn(const char *name);

/* Reads credential `cred_name` from $CREDENTIALS_DIRECTORY (trailing
 * newlines dropped), else the first of the NULL-terminated env_names that
 * is set and non-empty.  Returns a new string, or NULL when none has it. */
char *secret_read(secret_env_fn *env, const char *cred_name,
    const char *const *env_names);

/* The Opencast user: credential opencast-user, else OPENCAST_USER, else
 * MATTERHORN_ADMIN_SERVER_USER. */
char *secret_opencast_user(secret_env_fn *env);
/* The password: opencast-password, OPENCAST_PASSWORD,
 * MATTERHORN_ADMIN_SERVER_PASS. */
char *secret_opencast_password(secret_env_fn *env);
/* The Zadara account token: credential zadara-token, else
 * ZADARA_ACCOUNT_TOKEN. */
char *secret_zadara_token(secret_env_fn *env);

#endif
