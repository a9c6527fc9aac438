/* The pure parts of the credential chain: environment, shared credentials
 * and config files, the IMDS credentials document, refresh windows; and the
 * provider's choice of source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/awscreds.h"

#define MINUTE (60 * 1000LL)

static const char *const *fake_env;

static const char *
env_get(const char *name)
{
	for (const char *const *e = fake_env; e && *e; e += 2)
		if (strcmp(e[0], name) == 0)
			return e[1];
	return NULL;
}

static char *
write_tmp(const char *text)
{
	char *path = strdup("/tmp/ec2m-test-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
test_env(void **state)
{
	static const char *const full[] = { "AWS_ACCESS_KEY_ID", "AKID",
	    "AWS_SECRET_ACCESS_KEY", "SECRET", "AWS_SESSION_TOKEN", "TOK",
	    NULL };
	static const char *const legacy[] = { "AWS_ACCESS_KEY_ID", "AKID",
	    "AWS_SECRET_ACCESS_KEY", "SECRET", "AWS_SECURITY_TOKEN", "OLD",
	    NULL };
	static const char *const half[] = { "AWS_ACCESS_KEY_ID", "AKID", NULL };
	struct aws_credentials c = { 0 };

	(void)state;
	fake_env = full;
	assert_true(aws_credentials_from_env(env_get, &c));
	assert_string_equal(c.access_key_id, "AKID");
	assert_string_equal(c.secret_access_key, "SECRET");
	assert_string_equal(c.session_token, "TOK");
	assert_int_equal(c.expiration_ms, 0);
	fake_env = legacy;
	assert_true(aws_credentials_from_env(env_get, &c));
	assert_string_equal(c.session_token, "OLD");
	aws_credentials_clear(&c);
	fake_env = half;
	assert_false(aws_credentials_from_env(env_get, &c));
	assert_null(c.access_key_id);
}

static const char credentials_file[] =
    "[default]\n"
    "aws_access_key_id = AKIDEXAMPLEDAEMON001\n"
    "aws_secret_access_key = dmVyeS1zZWNyZXQta2V5/EXAMPLE+not+real0001\n"
    "\n"
    "[scaler]\n"
    "aws_access_key_id=AKIDSCALER\n"
    "aws_secret_access_key=SCALERSECRET\n"
    "aws_session_token = SCALERTOKEN\n";

static const char config_file[] =
    "[default]\n"
    "region = eu-west-1\n"
    "[profile scaler]\n"
    "region = eu-central-1\n"
    "aws_access_key_id = AKIDFROMCONFIG\n"
    "aws_secret_access_key = CONFIGSECRET\n"
    "[profile onlyconfig]\n"
    "aws_access_key_id = AKIDONLYCONFIG\n"
    "aws_secret_access_key = ONLYCONFIGSECRET\n"
    "[scaler]\n"
    "; a bare section in the config file is not a profile\n"
    "region = us-west-2\n"
    "[services local]\n"
    "ec2 =\n"
    "  endpoint_url = http://127.0.0.1:4566\n";

static void
test_profiles(void **state)
{
	char *cred = write_tmp(credentials_file), *conf = write_tmp(config_file);
	struct aws_profile p;
	char err[256];

	(void)state;
	assert_int_equal(aws_profile_load(cred, conf, "default", &p, err,
	    sizeof(err)), 0);
	assert_true(p.found);
	assert_string_equal(p.creds.access_key_id, "AKIDEXAMPLEDAEMON001");
	assert_string_equal(p.creds.secret_access_key,
	    "dmVyeS1zZWNyZXQta2V5/EXAMPLE+not+real0001");
	assert_null(p.creds.session_token);
	assert_string_equal(p.region, "eu-west-1");
	aws_profile_clear(&p);

	/* The credentials file wins over keys in the config file. */
	assert_int_equal(aws_profile_load(cred, conf, "scaler", &p, err,
	    sizeof(err)), 0);
	assert_string_equal(p.creds.access_key_id, "AKIDSCALER");
	assert_string_equal(p.creds.session_token, "SCALERTOKEN");
	assert_string_equal(p.region, "eu-central-1");
	aws_profile_clear(&p);

	assert_int_equal(aws_profile_load(cred, conf, "onlyconfig", &p, err,
	    sizeof(err)), 0);
	assert_string_equal(p.creds.access_key_id, "AKIDONLYCONFIG");
	assert_null(p.region);
	aws_profile_clear(&p);

	assert_int_equal(aws_profile_load(cred, conf, "nope", &p, err,
	    sizeof(err)), 0);
	assert_false(p.found);
	assert_null(p.creds.access_key_id);
	aws_profile_clear(&p);

	/* Missing files are not errors. */
	assert_int_equal(aws_profile_load("/nonexistent/c", "/nonexistent/f",
	    "default", &p, err, sizeof(err)), 0);
	assert_false(p.found);
	aws_profile_clear(&p);
	unlink(cred);
	unlink(conf);
	free(cred);
	free(conf);
}

static void
test_profile_syntax_error(void **state)
{
	char *bad = write_tmp("[default]\naws_access_key_id = A\n[broken\n");
	struct aws_profile p;
	char err[256], want[300];

	(void)state;
	assert_int_equal(aws_profile_load(bad, NULL, "default", &p, err,
	    sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3: cannot parse", bad);
	assert_string_equal(err, want);
	assert_null(p.creds.access_key_id);
	unlink(bad);
	free(bad);
}

static void
test_imds_json(void **state)
{
	static const char good[] = "{\"Code\":\"Success\",\"LastUpdated\":"
	    "\"2024-01-15T08:59:00Z\",\"Type\":\"AWS-HMAC\",\"AccessKeyId\":"
	    "\"ASIAX\",\"SecretAccessKey\":\"S\",\"Token\":\"T\","
	    "\"Expiration\":\"2024-01-15T15:21:07Z\"}";
	static const char *const bad[] = {
		"", "{", "[]", "{\"Code\":\"Failure\",\"Message\":\"no\"}",
		"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
		    "\"Token\":\"T\"}",
		"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
		    "\"Token\":\"T\",\"Expiration\":\"soon\"}",
		"{\"AccessKeyId\":1,\"SecretAccessKey\":\"S\","
		    "\"Token\":\"T\",\"Expiration\":\"2024-01-15T15:21:07Z\"}",
	};
	struct aws_credentials c = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(aws_imds_parse_credentials(good, strlen(good), 1000,
	    &c, err, sizeof(err)), 0);
	assert_string_equal(c.access_key_id, "ASIAX");
	assert_string_equal(c.session_token, "T");
	assert_int_equal(c.expiration_ms, 1705332067000LL);
	assert_int_equal(c.obtained_ms, 1000);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		err[0] = '\0';
		assert_int_equal(aws_imds_parse_credentials(bad[i],
		    strlen(bad[i]), 0, &c, err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
		/* A failed parse leaves the old credentials alone. */
		assert_string_equal(c.access_key_id, "ASIAX");
	}
	aws_credentials_clear(&c);
}

static void
test_freshness(void **state)
{
	struct aws_credentials c = { 0 };

	(void)state;
	assert_int_equal(aws_creds_freshness(&c, 0), AWS_CREDS_EXPIRED);
	c.access_key_id = (char *)"A";
	assert_int_equal(aws_creds_freshness(&c, 1LL << 50), AWS_CREDS_FRESH);
	/* Six hours of life: botocore's 15 and 10 minute windows. */
	c.obtained_ms = 0;
	c.expiration_ms = 360 * MINUTE;
	assert_int_equal(aws_creds_freshness(&c, 345 * MINUTE - 1),
	    AWS_CREDS_FRESH);
	assert_int_equal(aws_creds_freshness(&c, 345 * MINUTE), AWS_CREDS_ADVISORY);
	assert_int_equal(aws_creds_freshness(&c, 350 * MINUTE - 1),
	    AWS_CREDS_ADVISORY);
	assert_int_equal(aws_creds_freshness(&c, 350 * MINUTE),
	    AWS_CREDS_MANDATORY);
	assert_int_equal(aws_creds_freshness(&c, 360 * MINUTE), AWS_CREDS_EXPIRED);
	/* Eight seconds of life: half and a quarter of it. */
	c.obtained_ms = 1000;
	c.expiration_ms = 9000;
	assert_int_equal(aws_creds_freshness(&c, 4999), AWS_CREDS_FRESH);
	assert_int_equal(aws_creds_freshness(&c, 5000), AWS_CREDS_ADVISORY);
	assert_int_equal(aws_creds_freshness(&c, 7000), AWS_CREDS_MANDATORY);
	assert_int_equal(aws_creds_freshness(&c, 9000), AWS_CREDS_EXPIRED);
}

static void
test_provider_sources(void **state)
{
	char *cred = write_tmp(credentials_file);
	char *env_files[] = { "AWS_SHARED_CREDENTIALS_FILE", cred,
	    "AWS_CONFIG_FILE", "/nonexistent", "HOME", "/nonexistent",
	    "AWS_EC2_METADATA_DISABLED", "true", NULL };
	char *env_keys[] = { "AWS_ACCESS_KEY_ID", "AKENV",
	    "AWS_SECRET_ACCESS_KEY", "SKENV", "AWS_SHARED_CREDENTIALS_FILE",
	    cred, "AWS_PROFILE", "scaler", NULL };
	char *env_none[] = { "HOME", "/nonexistent",
	    "AWS_EC2_METADATA_DISABLED", "TRUE", NULL };
	char *env_imds[] = { "HOME", "/nonexistent",
	    "AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1/", NULL };
	struct aws_creds_settings s = { NULL, env_get };
	struct aws_creds_provider *p;
	char err[256];

	(void)state;
	fake_env = (const char *const *)env_files;
	p = aws_creds_provider_new(NULL, NULL, &s, err, sizeof(err));
	assert_non_null(p);
	assert_string_equal(aws_creds_provider_source(p), "shared-files");
	aws_creds_provider_free(p);

	/* A named profile that does not exist is an error. */
	s.profile = "missing";
	assert_null(aws_creds_provider_new(NULL, NULL, &s, err, sizeof(err)));
	assert_string_equal(err, "AWS profile \"missing\" not found in the "
	    "shared credentials or config file");
	s.profile = NULL;

	/* Environment keys beat AWS_PROFILE. */
	fake_env = (const char *const *)env_keys;
	p = aws_creds_provider_new(NULL, NULL, &s, err, sizeof(err));
	assert_non_null(p);
	assert_string_equal(aws_creds_provider_source(p), "environment");
	aws_creds_provider_free(p);

	fake_env = (const char *const *)env_none;
	assert_null(aws_creds_provider_new(NULL, NULL, &s, err, sizeof(err)));
	assert_non_null(strstr(err, "IMDS is disabled"));

	fake_env = (const char *const *)env_imds;
	p = aws_creds_provider_new(NULL, NULL, &s, err, sizeof(err));
	assert_non_null(p);
	assert_string_equal(aws_creds_provider_source(p), "instance-role");
	aws_creds_provider_free(p);
	unlink(cred);
	free(cred);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_profiles),
		cmocka_unit_test(test_profile_syntax_error),
		cmocka_unit_test(test_imds_json),
		cmocka_unit_test(test_freshness),
		cmocka_unit_test(test_provider_sources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
