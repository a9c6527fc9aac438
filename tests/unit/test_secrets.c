/* Where secrets come from: systemd credentials first, then the environment
 * (new names before the old tool's), and a credential of only newlines --
 * the unit's SetCredential= default when the file is missing -- counts as
 * absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "daemon/secrets.h"

static const char *const *fake_env;

static const char *
env_get(const char *name)
{
	for (const char *const *e = fake_env; e && *e; e += 2)
		if (strcmp(e[0], name) == 0)
			return e[1];
	return NULL;
}

/* A credentials directory holding the given NAME, CONTENT pairs. */
static char *
cred_dir(const char *const *files)
{
	char *dir = strdup("/tmp/ec2m-creds-XXXXXX");

	assert_non_null(mkdtemp(dir));
	for (const char *const *f = files; f && *f; f += 2) {
		char *path = xasprintf("%s/%s", dir, f[0]);
		FILE *fp = fopen(path, "w");

		assert_non_null(fp);
		assert_int_equal(fwrite(f[1], 1, strlen(f[1]), fp),
		    strlen(f[1]));
		fclose(fp);
		free(path);
	}
	return dir;
}

static void
rm_dir(char *dir, const char *const *files)
{
	for (const char *const *f = files; f && *f; f += 2) {
		char *path = xasprintf("%s/%s", dir, f[0]);

		unlink(path);
		free(path);
	}
	rmdir(dir);
	free(dir);
}

static void
assert_secret(char *got, const char *want)
{
	if (want == NULL)
		assert_null(got);
	else {
		assert_non_null(got);
		assert_string_equal(got, want);
	}
	free_secret(got);
}

static void
test_credentials_win(void **state)
{
	static const char *const files[] = {
		"opencast-user", "admin\n",
		"opencast-password", "pw\r\n\n",
		"zadara-token", "ztok",
		"loggly-token", "ltok\n",
		NULL };
	char *dir = cred_dir(files);
	const char *env[] = { "CREDENTIALS_DIRECTORY", dir,
	    "OPENCAST_USER", "envuser", "OPENCAST_PASSWORD", "envpw",
	    "ZADARA_ACCOUNT_TOKEN", "envz", "LOGGLY_TOKEN", "envl", NULL };

	(void)state;
	fake_env = env;
	assert_secret(secret_opencast_user(env_get), "admin");
	assert_secret(secret_opencast_password(env_get), "pw");
	assert_secret(secret_zadara_token(env_get), "ztok");
	assert_secret(secret_loggly_token(env_get), "ltok");
	rm_dir(dir, files);
}

static void
test_environment_when_no_credentials(void **state)
{
	static const char *const env[] = {
	    "OPENCAST_USER", "envuser", "OPENCAST_PASSWORD", "envpw",
	    "ZADARA_ACCOUNT_TOKEN", "envz", "LOGGLY_TOKEN", "envl", NULL };

	(void)state;
	fake_env = env;
	assert_secret(secret_opencast_user(env_get), "envuser");
	assert_secret(secret_opencast_password(env_get), "envpw");
	assert_secret(secret_zadara_token(env_get), "envz");
	assert_secret(secret_loggly_token(env_get), "envl");
}

/* What systemd 252 gives the service when /etc/ec2-manager/opencast-user
 * is missing: the SetCredential= default, one newline.  The environment
 * (EnvironmentFile=/etc/ec2-manager/env) must then be read. */
static void
test_newline_default_counts_as_absent(void **state)
{
	static const char *const files[] = {
		"opencast-user", "\n",
		"opencast-password", "\n",
		"zadara-token", "\n",
		"loggly-token", "",
		NULL };
	char *dir = cred_dir(files);
	const char *env[] = { "CREDENTIALS_DIRECTORY", dir,
	    "OPENCAST_USER", "envuser", "OPENCAST_PASSWORD", "envpw",
	    "ZADARA_ACCOUNT_TOKEN", "envz", "LOGGLY_TOKEN", "envl", NULL };
	const char *env_none[] = { "CREDENTIALS_DIRECTORY", dir, NULL };

	(void)state;
	fake_env = env;
	assert_secret(secret_opencast_user(env_get), "envuser");
	assert_secret(secret_opencast_password(env_get), "envpw");
	assert_secret(secret_zadara_token(env_get), "envz");
	assert_secret(secret_loggly_token(env_get), "envl");
	fake_env = env_none;
	assert_secret(secret_opencast_user(env_get), NULL);
	assert_secret(secret_opencast_password(env_get), NULL);
	assert_secret(secret_zadara_token(env_get), NULL);
	assert_secret(secret_loggly_token(env_get), NULL);
	rm_dir(dir, files);
}

/* The old tool's .env names, used only when the new ones are unset or
 * empty. */
static void
test_old_names(void **state)
{
	static const char *const old[] = {
	    "MATTERHORN_ADMIN_SERVER_USER", "mhuser",
	    "MATTERHORN_ADMIN_SERVER_PASS", "mhpass",
	    "ZADARA_TOKEN", "oldz", NULL };
	static const char *const both[] = {
	    "OPENCAST_USER", "", "MATTERHORN_ADMIN_SERVER_USER", "mhuser",
	    "OPENCAST_PASSWORD", "new", "MATTERHORN_ADMIN_SERVER_PASS", "mhpass",
	    "ZADARA_ACCOUNT_TOKEN", "newz", "ZADARA_TOKEN", "oldz", NULL };

	(void)state;
	fake_env = old;
	assert_secret(secret_opencast_user(env_get), "mhuser");
	assert_secret(secret_opencast_password(env_get), "mhpass");
	assert_secret(secret_zadara_token(env_get), "oldz");
	fake_env = both;
	assert_secret(secret_opencast_user(env_get), "mhuser");
	assert_secret(secret_opencast_password(env_get), "new");
	assert_secret(secret_zadara_token(env_get), "newz");
}

static void
test_missing_directory_and_from(void **state)
{
	static const char *const files[] = { "opencast-user", "u\n", NULL };
	static const char *const names[] = { "OPENCAST_USER",
	    "MATTERHORN_ADMIN_SERVER_USER", NULL };
	char *dir = cred_dir(files);
	const char *with_dir[] = { "CREDENTIALS_DIRECTORY", dir,
	    "MATTERHORN_ADMIN_SERVER_USER", "mh", NULL };
	const char *gone[] = { "CREDENTIALS_DIRECTORY", "/nonexistent/creds",
	    "MATTERHORN_ADMIN_SERVER_USER", "mh", NULL };
	const char *from = "unset";

	(void)state;
	fake_env = with_dir;
	assert_secret(secret_read_from(env_get, "opencast-user", names, &from),
	    "u");
	assert_string_equal(from, "opencast-user");
	fake_env = gone;
	assert_secret(secret_read_from(env_get, "opencast-user", names, &from),
	    "mh");
	assert_string_equal(from, "MATTERHORN_ADMIN_SERVER_USER");
	assert_secret(secret_read_from(env_get, "nosuch", NULL, &from), NULL);
	assert_null(from);
	rm_dir(dir, files);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_credentials_win),
		cmocka_unit_test(test_environment_when_no_credentials),
		cmocka_unit_test(test_newline_default_counts_as_absent),
		cmocka_unit_test(test_old_names),
		cmocka_unit_test(test_missing_directory_and_from),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
