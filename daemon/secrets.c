#include "daemon/secrets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "common/xalloc.h"

#define SECRET_MAX 4096

static char *
read_credential(const char *dir, const char *name)
{
	struct strbuf sb = STRBUF_INIT;
	char *path = xasprintf("%s/%s", dir, name), buf[512];
	FILE *f = fopen(path, "r");
	size_t n;

	free(path);
	if (f == NULL)
		return NULL;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && sb.len < SECRET_MAX)
		strbuf_append(&sb, buf, n);
	fclose(f);
	while (sb.len > 0 && (sb.buf[sb.len - 1] == '\n' ||
	    sb.buf[sb.len - 1] == '\r'))
		sb.buf[--sb.len] = '\0';
	if (sb.len == 0) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb, NULL);
}

char *
secret_read_from(secret_env_fn *env, const char *cred_name,
    const char *const *env_names, const char **from)
{
	const char *dir = env("CREDENTIALS_DIRECTORY"), *v;
	char *s;

	if (from)
		*from = NULL;
	if (dir && *dir && (s = read_credential(dir, cred_name))) {
		if (from)
			*from = cred_name;
		return s;
	}
	for (; env_names && *env_names; env_names++)
		if ((v = env(*env_names)) && *v) {
			if (from)
				*from = *env_names;
			return xstrdup(v);
		}
	return NULL;
}

char *
secret_read(secret_env_fn *env, const char *cred_name,
    const char *const *env_names)
{
	return secret_read_from(env, cred_name, env_names, NULL);
}

char *
secret_opencast_user(secret_env_fn *env)
{
	static const char *const names[] = { "OPENCAST_USER",
	    "MATTERHORN_ADMIN_SERVER_USER", NULL };

	return secret_read(env, "opencast-user", names);
}

char *
secret_opencast_password(secret_env_fn *env)
{
	static const char *const names[] = { "OPENCAST_PASSWORD",
	    "MATTERHORN_ADMIN_SERVER_PASS", NULL };

	return secret_read(env, "opencast-password", names);
}

char *
secret_zadara_token(secret_env_fn *env)
{
	static const char *const names[] = { "ZADARA_ACCOUNT_TOKEN",
	    "ZADARA_TOKEN", NULL };

	return secret_read(env, "zadara-token", names);
}

char *
secret_loggly_token(secret_env_fn *env)
{
	static const char *const names[] = { "LOGGLY_TOKEN", NULL };

	return secret_read(env, "loggly-token", names);
}
