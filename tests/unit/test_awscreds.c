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
	static const char *const both[] = { "AWS_ACCESS_KEY_ID", "AKID",
	    "AWS_SECRET_ACCESS_KEY", "SECRET", "AWS_SESSION_TOKEN", "TOK",
	    "AWS_SECURITY_TOKEN", "OLD", NULL };
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
	/* Both: botocore takes AWS_SECURITY_TOKEN first. */
	fake_env = both;
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

/* Parses text as a file; returns 0 or -1 with the error's text after
 * "PATH:" in err. */
struct ini_seen {
	char	 text[1024];
};

static int
ini_collect(void *arg, const char *section, const char *key,
    const char *value)
{
	struct ini_seen *seen = arg;
	size_t n = strlen(seen->text);

	if (key == NULL)
		snprintf(seen->text + n, sizeof(seen->text) - n, "[%s]",
		    section);
	else
		snprintf(seen->text + n, sizeof(seen->text) - n, "%s=%s;",
		    key, value);
	return 0;
}

static int
ini_text(const char *text, size_t len, struct ini_seen *seen, char *err,
    size_t errlen)
{
	char *path = strdup("/tmp/ec2m-test-XXXXXX");
	int fd = mkstemp(path), rc;
	char full[512];

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	memset(seen, 0, sizeof(*seen));
	rc = aws_ini_parse(path, ini_collect, seen, full, sizeof(full));
	if (rc != 0) {
		assert_int_equal(strncmp(full, path, strlen(path)), 0);
		snprintf(err, errlen, "%s", full + strlen(path) + 1);
	}
	unlink(path);
	free(path);
	return rc;
}

/* What Python's configparser (and so botocore) makes of a file. */
static void
test_ini_like_configparser(void **state)
{
	static const struct {
		const char *text;
		const char *want;	/* sections and keys, or the error */
	} cases[] = {
		{ "[a]\nk = v\n", "[a]k=v;" },
		{ "\xef\xbb\xbf[a]\r\nk=v\r\n", "[a]k=v;" },
		/* ':' works too, the first delimiter counts, keys are
		 * lower-cased, blanks trimmed. */
		{ "[a]\n  Key : v=w:x  \n", "[a]key=v=w:x;" },
		/* No inline comments: the value is what is written. */
		{ "[a]\nk = v ; c # d\n", "[a]k=v ; c # d;" },
		/* Full-line comments, also indented; empty values. */
		{ "# c\n[a]\n ; c\nk =\n", "[a]k=;" },
		/* Continuation lines belong to the key above. */
		{ "[a]\ns3 =\n  k = v\nj = w\n", "[a]s3=;j=w;" },
		/* Keys indented alike are keys of their own. */
		{ "[a]\n  k = v\n  j = w\n", "[a]k=v;j=w;" },
		/* An empty section, and brackets up to the last ']'. */
		{ "[a]\n[b]c]\n", "[a][b]c]" },
		{ "[a]\nk\n", "2: neither a [section] nor key = value" },
		{ "k = v\n[a]\n", "1: a key before the first [section]" },
		{ "[a]\n[b]\n[a]\n", "3: a section given twice" },
		{ "[a]\nk = 1\nK = 2\n", "3: a key given twice in its section" },
		{ "[a]\n= v\n", "2: a value without a key" },
		{ "[a]\nk = \xff\n", "2: not valid UTF-8" },
		{ "[a]\nk = a\0b\n", "2: a NUL byte" },
	};
	struct ini_seen seen;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const char *t = cases[i].text;
		size_t len = strlen(t);

		/* The NUL case: its length is up to the final newline. */
		if (strstr(cases[i].want, "NUL") != NULL)
			len = 12;
		if (ini_text(t, len, &seen, err, sizeof(err)) == 0) {
			if (strcmp(seen.text, cases[i].want) != 0)
				fail_msg("case %zu: got \"%s\", want \"%s\"",
				    i, seen.text, cases[i].want);
		} else if (strcmp(err, cases[i].want) != 0) {
			fail_msg("case %zu: error \"%s\", want \"%s\"", i,
			    err, cases[i].want);
		}
	}
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
	snprintf(want, sizeof(want), "%s:3: neither a [section] nor key = "
	    "value", bad);
	assert_string_equal(err, want);
	assert_null(p.creds.access_key_id);
	unlink(bad);
	free(bad);
}

/* Values of any length, as session tokens are. */
static void
test_profile_long_values(void **state)
{
	char token[3001], text[4000], *cred;
	struct aws_profile p;
	char err[256];

	(void)state;
	memset(token, 'T', sizeof(token) - 1);
	token[sizeof(token) - 1] = '\0';
	snprintf(text, sizeof(text), "[default]\naws_access_key_id = A\n"
	    "aws_secret_access_key = S\naws_session_token = %s\n", token);
	cred = write_tmp(text);
	assert_int_equal(aws_profile_load(cred, NULL, "default", &p, err,
	    sizeof(err)), 0);
	assert_string_equal(p.creds.session_token, token);
	aws_profile_clear(&p);
	unlink(cred);
	free(cred);
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
	assert_non_null(strstr(err, "AWS profile \"missing\" not found in "
	    "the shared credentials file "));
	assert_non_null(strstr(err, "(named by [aws] profile)"));
	s.profile = NULL;

	/* Environment keys beat AWS_PROFILE. */
	fake_env = (const char *const *)env_keys;
	p = aws_creds_provider_new(NULL, NULL, &s, err, sizeof(err));
	assert_non_null(p);
	assert_string_equal(aws_creds_provider_source(p), "environment");
	aws_creds_provider_free(p);

	fake_env = (const char *const *)env_none;
	assert_null(aws_creds_provider_new(NULL, NULL, &s, err, sizeof(err)));
	assert_non_null(strstr(err, "AWS_EC2_METADATA_DISABLED=true"));

	fake_env = (const char *const *)env_imds;
	p = aws_creds_provider_new(NULL, NULL, &s, err, sizeof(err));
	assert_non_null(p);
	assert_string_equal(aws_creds_provider_source(p), "instance-role");
	assert_string_equal(aws_creds_provider_describe(p), "instance role "
	    "(instance metadata service at http://127.0.0.1:1)");
	aws_creds_provider_free(p);
	unlink(cred);
	free(cred);
}

static const char res_credentials[] =
    "[default]\n"
    "aws_access_key_id = AKIDDEFAULT\n"
    "aws_secret_access_key = SKDEFAULT\n"
    "[x]\n"
    "aws_access_key_id = AKIDX\n"
    "aws_secret_access_key = SKX\n"
    "region = ap-south-1\n"
    "[half]\n"
    "aws_access_key_id = AKIDHALF\n"
    "[Upper]\n"
    "AWS_ACCESS_KEY_ID = AKIDUPPER\n"
    "Aws_Secret_Access_Key : SKUPPER\n"
    "[profile x]\n"
    "; not profile x in the credentials file\n"
    "aws_access_key_id = AKIDWRONG\n"
    "aws_secret_access_key = SKWRONG\n";

static const char res_config[] =
    "[default]\n"
    "region = eu-west-1\n"
    "[profile x]\n"
    "region = eu-central-1\n"
    "aws_access_key_id = AKIDXCONF\n"
    "aws_secret_access_key = SKXCONF\n"
    "[profile conf]\n"
    "aws_access_key_id = AKIDCONF\n"
    "aws_secret_access_key = SKCONF ; not a comment\n"
    "region = us-east-2\n"
    "[profile role]\n"
    "role_arn = arn:aws:iam::123456789012:role/r\n"
    "source_profile = default\n"
    "[profile webid]\n"
    "role_arn = arn:aws:iam::123456789012:role/r\n"
    "web_identity_token_file = /tmp/token\n"
    "[profile sso]\n"
    "sso_account_id = 123456789012\n"
    "[profile proc]\n"
    "credential_process = /bin/true\n"
    "[profile \"quoted name\"]\n"
    "aws_access_key_id = AKIDQUOTED\n"
    "aws_secret_access_key = SKQUOTED\n"
    "[profile empty]\n"
    "[profile v6]\n"
    "ec2_metadata_service_endpoint_mode = IPv6\n"
    "[profile badmode]\n"
    "ec2_metadata_service_endpoint_mode = IPv5\n"
    "[profile imdsurl]\n"
    "ec2_metadata_service_endpoint = http://127.0.0.1:9/\n";

static const char res_boto[] =
    "[Boto]\n"
    "debug = 0\n"
    "[Credentials]\n"
    "aws_access_key_id = AKIDBOTO\n"
    "aws_secret_access_key = SKBOTO\n";

#define ENV_MAX 16

/* The AWS CLI v2's choices, row by row (ec2-manager.conf(5)).  The files
 * above are AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE in every row;
 * IMDS is off unless a row turns it on. */
static const struct res_case {
	const char *what;
	const char *profile;		/* [aws] profile */
	const char *env[ENV_MAX];	/* name, value, ... */
	enum aws_creds_kind kind;	/* AWS_CREDS_NONE: an error */
	const char *key;		/* the access key id, or the error */
	const char *region;		/* the profile's region */
	const char *used;		/* the profile used */
} res_cases[] = {
	{ "environment only",
	  NULL, { "AWS_ACCESS_KEY_ID", "AKIDENV", "AWS_SECRET_ACCESS_KEY",
	    "SKENV", "AWS_SHARED_CREDENTIALS_FILE", "/nonexistent",
	    "AWS_CONFIG_FILE", "/nonexistent" },
	  AWS_CREDS_ENV, "AKIDENV", NULL, "default" },
	{ "the default profile",
	  NULL, { NULL },
	  AWS_CREDS_CREDENTIALS_FILE, "AKIDDEFAULT", "eu-west-1", "default" },
	{ "a profile in the config file only",
	  NULL, { "AWS_PROFILE", "conf" },
	  AWS_CREDS_CONFIG_FILE, "AKIDCONF", "us-east-2", "conf" },
	{ "a profile in the credentials file: its region wins",
	  NULL, { "AWS_PROFILE", "x" },
	  AWS_CREDS_CREDENTIALS_FILE, "AKIDX", "ap-south-1", "x" },
	{ "[aws] profile wins over environment keys",
	  "x", { "AWS_ACCESS_KEY_ID", "AKIDENV", "AWS_SECRET_ACCESS_KEY",
	    "SKENV" },
	  AWS_CREDS_CREDENTIALS_FILE, "AKIDX", "ap-south-1", "x" },
	{ "[aws] profile wins over AWS_PROFILE",
	  "conf", { "AWS_PROFILE", "x" },
	  AWS_CREDS_CONFIG_FILE, "AKIDCONF", "us-east-2", "conf" },
	{ "environment keys win over AWS_PROFILE",
	  NULL, { "AWS_ACCESS_KEY_ID", "AKIDENV", "AWS_SECRET_ACCESS_KEY",
	    "SKENV", "AWS_PROFILE", "x" },
	  AWS_CREDS_ENV, "AKIDENV", "ap-south-1", "x" },
	{ "AWS_PROFILE wins over AWS_DEFAULT_PROFILE",
	  NULL, { "AWS_PROFILE", "x", "AWS_DEFAULT_PROFILE", "conf" },
	  AWS_CREDS_CREDENTIALS_FILE, "AKIDX", "ap-south-1", "x" },
	{ "AWS_DEFAULT_PROFILE alone",
	  NULL, { "AWS_DEFAULT_PROFILE", "conf" },
	  AWS_CREDS_CONFIG_FILE, "AKIDCONF", "us-east-2", "conf" },
	{ "keys are case-insensitive, ':' separates too",
	  NULL, { "AWS_PROFILE", "Upper" },
	  AWS_CREDS_CREDENTIALS_FILE, "AKIDUPPER", NULL, "Upper" },
	{ "a quoted profile name",
	  NULL, { "AWS_PROFILE", "quoted name" },
	  AWS_CREDS_CONFIG_FILE, "AKIDQUOTED", NULL, "quoted name" },
	{ "a named profile that does not exist",
	  NULL, { "AWS_PROFILE", "nosuch" },
	  AWS_CREDS_NONE, "AWS profile \"nosuch\" not found", NULL,
	  "nosuch" },
	{ "\"default\" named but absent",
	  "default", { "AWS_SHARED_CREDENTIALS_FILE", "/nonexistent",
	    "AWS_CONFIG_FILE", "/nonexistent" },
	  AWS_CREDS_NONE, "not found", NULL, "default" },
	{ "an access key without its secret",
	  NULL, { "AWS_PROFILE", "half" },
	  AWS_CREDS_NONE, "profile \"half\" in ", NULL, "half" },
	{ "an access key without its secret in the environment",
	  NULL, { "AWS_ACCESS_KEY_ID", "AKIDENV" },
	  AWS_CREDS_NONE, "AWS_SECRET_ACCESS_KEY is not", "eu-west-1",
	  "default" },
	{ "assume role",
	  NULL, { "AWS_PROFILE", "role" },
	  AWS_CREDS_NONE, "assumes a role (role_arn), which ec2-managerd "
	  "does not support", NULL, "role" },
	{ "web identity in the profile",
	  NULL, { "AWS_PROFILE", "webid" },
	  AWS_CREDS_NONE, "web identity", NULL, "webid" },
	{ "web identity in the environment",
	  NULL, { "AWS_WEB_IDENTITY_TOKEN_FILE", "/tmp/t" },
	  AWS_CREDS_NONE, "web identity", "eu-west-1", "default" },
	{ "...which [aws] profile turns off",
	  "x", { "AWS_WEB_IDENTITY_TOKEN_FILE", "/tmp/t" },
	  AWS_CREDS_CREDENTIALS_FILE, "AKIDX", "ap-south-1", "x" },
	{ "SSO",
	  NULL, { "AWS_PROFILE", "sso" },
	  AWS_CREDS_NONE, "(SSO)", NULL, "sso" },
	{ "credential_process",
	  NULL, { "AWS_PROFILE", "proc" },
	  AWS_CREDS_NONE, "credential_process", NULL, "proc" },
	{ "a profile without keys, no instance role",
	  NULL, { "AWS_PROFILE", "empty" },
	  AWS_CREDS_NONE, "no AWS credentials: none in the environment, "
	  "none for profile \"empty\" in ", NULL, "empty" },
	{ "the old EC2 tools' file",
	  NULL, { "AWS_PROFILE", "empty", "AWS_CREDENTIAL_FILE", "/x" },
	  AWS_CREDS_NONE, "AWS_CREDENTIAL_FILE", NULL, "empty" },
	{ "boto",
	  NULL, { "AWS_PROFILE", "empty", "BOTO_CONFIG", "@BOTO" },
	  AWS_CREDS_BOTO, "AKIDBOTO", NULL, "empty" },
	{ "container credentials",
	  NULL, { "AWS_PROFILE", "empty",
	    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/x" },
	  AWS_CREDS_NONE, "container credentials", NULL, "empty" },
	{ "the instance role",
	  NULL, { "AWS_PROFILE", "empty", "AWS_EC2_METADATA_DISABLED",
	    "false" },
	  AWS_CREDS_IMDS, "http://169.254.169.254", NULL, "empty" },
	{ "the instance role over IPv6",
	  NULL, { "AWS_PROFILE", "v6", "AWS_EC2_METADATA_DISABLED", "no" },
	  AWS_CREDS_IMDS, "http://[fd00:ec2::254]", NULL, "v6" },
	{ "the instance role at an address from the profile",
	  NULL, { "AWS_PROFILE", "imdsurl", "AWS_EC2_METADATA_DISABLED",
	    "no" },
	  AWS_CREDS_IMDS, "http://127.0.0.1:9", NULL, "imdsurl" },
	{ "...or from the environment",
	  NULL, { "AWS_PROFILE", "imdsurl", "AWS_EC2_METADATA_DISABLED",
	    "no", "AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://h:1" },
	  AWS_CREDS_IMDS, "http://h:1", NULL, "imdsurl" },
	{ "a bad endpoint mode",
	  NULL, { "AWS_PROFILE", "badmode", "AWS_EC2_METADATA_DISABLED",
	    "no" },
	  AWS_CREDS_NONE, "\"IPv5\" is neither IPv4 nor IPv6", NULL,
	  "badmode" },
	{ "nothing at all",
	  NULL, { "AWS_SHARED_CREDENTIALS_FILE", "/nonexistent",
	    "AWS_CONFIG_FILE", "/nonexistent" },
	  AWS_CREDS_NONE, "no AWS credentials", NULL, "default" },
};

static void
test_resolution_order(void **state)
{
	char *cred = write_tmp(res_credentials), *conf = write_tmp(res_config);
	char *boto = write_tmp(res_boto);

	(void)state;
	for (size_t i = 0; i < sizeof(res_cases) / sizeof(*res_cases); i++) {
		const struct res_case *c = &res_cases[i];
		const char *env[2 * ENV_MAX + 16];
		struct aws_creds_settings s = { c->profile, env_get };
		struct aws_resolution r;
		size_t n = 0;
		char err[512], desc[512];
		int rc;

		/* The row's variables come first and so win. */
		for (size_t k = 0; k < ENV_MAX && c->env[k]; k += 2) {
			env[n++] = c->env[k];
			env[n++] = strcmp(c->env[k + 1], "@BOTO") == 0 ? boto :
			    c->env[k + 1];
		}
		env[n++] = "AWS_SHARED_CREDENTIALS_FILE";
		env[n++] = cred;
		env[n++] = "AWS_CONFIG_FILE";
		env[n++] = conf;
		env[n++] = "HOME";
		env[n++] = "/nonexistent";
		env[n++] = "BOTO_CONFIG";
		env[n++] = "";
		env[n++] = "AWS_EC2_METADATA_DISABLED";
		env[n++] = "true";
		env[n] = NULL;
		fake_env = env;
		err[0] = '\0';
		rc = aws_resolve_credentials(&s, &r, err, sizeof(err));
		if (c->kind == AWS_CREDS_NONE) {
			if (rc != -1 || strstr(err, c->key) == NULL)
				fail_msg("%s: rc %d, error \"%s\", want \"%s\"",
				    c->what, rc, err, c->key);
		} else if (rc != 0) {
			fail_msg("%s: error %s", c->what, err);
		} else if (r.kind != c->kind) {
			fail_msg("%s: kind %d, want %d", c->what, r.kind,
			    c->kind);
		} else if (c->kind == AWS_CREDS_IMDS) {
			if (strcmp(r.imds_endpoint, c->key) != 0)
				fail_msg("%s: IMDS at %s", c->what,
				    r.imds_endpoint);
		} else if (strcmp(r.creds.access_key_id, c->key) != 0) {
			fail_msg("%s: key %s, want %s", c->what,
			    r.creds.access_key_id, c->key);
		}
		if (strcmp(r.profile, c->used) != 0)
			fail_msg("%s: profile %s, want %s", c->what, r.profile,
			    c->used);
		if ((c->region == NULL) != (r.region == NULL) ||
		    (c->region && strcmp(c->region, r.region) != 0))
			fail_msg("%s: region %s, want %s", c->what,
			    r.region ? r.region : "none",
			    c->region ? c->region : "none");
		/* No secret is ever described. */
		aws_resolution_describe(&r, desc, sizeof(desc));
		assert_null(strstr(desc, "SK"));
		assert_null(strstr(err, "SK"));
		aws_resolution_clear(&r);
	}
	unlink(cred);
	unlink(conf);
	unlink(boto);
	free(cred);
	free(conf);
	free(boto);
}

static void
test_resolution_details(void **state)
{
	char *cred = write_tmp(res_credentials), *conf = write_tmp(res_config);
	const char *env[] = { "AWS_PROFILE", "conf",
	    "AWS_SHARED_CREDENTIALS_FILE", cred, "AWS_CONFIG_FILE", conf,
	    "AWS_EC2_METADATA_DISABLED", "true", "BOTO_CONFIG", "", NULL };
	const char *home[] = { "HOME", "/home/op", "AWS_SHARED_CREDENTIALS_FILE",
	    "~/creds", NULL };
	struct aws_creds_settings s = { NULL, env_get };
	struct aws_resolution r;
	char err[512], desc[512], want[512];

	(void)state;
	fake_env = env;
	assert_int_equal(aws_resolve_credentials(&s, &r, err, sizeof(err)), 0);
	/* The value is the whole rest of the line. */
	assert_string_equal(r.creds.secret_access_key,
	    "SKCONF ; not a comment");
	assert_string_equal(r.profile_origin, "AWS_PROFILE");
	assert_string_equal(r.region_file, conf);
	aws_resolution_describe(&r, desc, sizeof(desc));
	snprintf(want, sizeof(want), "profile \"conf\" from %s", conf);
	assert_string_equal(desc, want);
	aws_resolution_clear(&r);

	/* "~/" in a path is HOME. */
	fake_env = home;
	assert_int_equal(aws_resolve_credentials(&s, &r, err, sizeof(err)), 0);
	assert_string_equal(r.credentials_file, "/home/op/creds");
	assert_string_equal(r.config_file, "/home/op/.aws/config");
	assert_null(r.profile_origin);
	aws_resolution_clear(&r);
	unlink(cred);
	unlink(conf);
	free(cred);
	free(conf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_profiles),
		cmocka_unit_test(test_ini_like_configparser),
		cmocka_unit_test(test_profile_syntax_error),
		cmocka_unit_test(test_profile_long_values),
		cmocka_unit_test(test_imds_json),
		cmocka_unit_test(test_freshness),
		cmocka_unit_test(test_provider_sources),
		cmocka_unit_test(test_resolution_order),
		cmocka_unit_test(test_resolution_details),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
