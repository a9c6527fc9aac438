/*
 * The files the daemon reads back and the credentials it is handed:
 *   - the autoscaler's state file in state_dir (autoscaler_state_load);
 *   - the IMDS role-credentials JSON (aws_imds_parse_credentials);
 *   - the shared AWS credentials and config files (aws_profile_load): the
 *     input is split at "%%" lines (fuzz.h) into the credentials file and
 *     the config file, read for the profile "default" and a named one.
 * The whole input is the state file and the IMDS answer.
 *
 * Checked: no crash, no leak; a failure has a valid UTF-8 reason (it is
 * logged); what a success returns keeps the promises of the headers, and
 * credentials of any expiry can be judged fresh or not without overflow.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/autoscaler.h"
#include "daemon/awscreds.h"
#include "tests/fuzz/fuzz.h"

#define CLUSTER "dev04"
/* 2026-11-26T05:04:51Z, the "now" of the IMDS reads. */
#define NOW_MS INT64_C(1795669491000)

static char *state_dir;
static char *state_path;
static char *credentials_path;
static char *config_path;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	state_dir = fuzz_path("state");
	if (mkdir(state_dir, 0700) != 0)
		FUZZ_CHECK(0, "cannot make %s", state_dir);
	state_path = fuzz_path("state/cluster-" CLUSTER ".json");
	credentials_path = fuzz_path("credentials");
	config_path = fuzz_path("config");
	return 0;
}

static void
fuzz_autoscaler_state(const uint8_t *data, size_t size)
{
	char err[512];	/* as autoscaler.c's */
	bool paused = true;
	int64_t last = -1;

	fuzz_write_file(state_path, data, size);
	err[0] = '\0';
	if (autoscaler_state_load(state_dir, CLUSTER, &paused, &last, err,
	    sizeof(err)) != 0) {
		FUZZ_CHECK(err[0] != '\0', "state file refused without a "
		    "reason");
		fuzz_check_utf8("state file error", err);
	}
}

/* a + b, held at the ends of int64_t. */
static int64_t
add_sat(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static void
check_credentials(const struct aws_credentials *c)
{
	/* Now, a minute before the expiry, at it, just after it, and at the
	 * far ends of time: judging freshness must not overflow. */
	const int64_t at[] = {
		NOW_MS, add_sat(c->expiration_ms, -60000), c->expiration_ms,
		add_sat(c->expiration_ms, 1), INT64_MAX, INT64_MIN,
	};

	FUZZ_CHECK(c->access_key_id && c->access_key_id[0] &&
	    c->secret_access_key && c->secret_access_key[0] &&
	    c->session_token && c->session_token[0],
	    "IMDS credentials accepted with an empty part");
	FUZZ_CHECK(c->obtained_ms == NOW_MS, "obtained_ms %lld",
	    (long long)c->obtained_ms);
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		enum aws_creds_freshness f = aws_creds_freshness(c, at[i]);

		FUZZ_CHECK(f >= AWS_CREDS_FRESH && f <= AWS_CREDS_EXPIRED,
		    "freshness %d", (int)f);
	}
}

static void
fuzz_imds(const uint8_t *data, size_t size)
{
	/* 256 as awscreds.c's; the small one cuts every reason. */
	static const size_t errlens[] = { 256, 29 };
	struct aws_credentials c = { 0 };
	char err[256];

	for (size_t i = 0; i < sizeof(errlens) / sizeof(errlens[0]); i++) {
		err[0] = '\0';
		if (aws_imds_parse_credentials((const char *)data, size,
		    NOW_MS, &c, err, errlens[i]) == 0) {
			check_credentials(&c);
			aws_credentials_clear(&c);
		} else {
			FUZZ_CHECK(err[0] != '\0', "IMDS credentials refused "
			    "without a reason");
			fuzz_check_utf8("IMDS error", err);
		}
	}
}

static void
fuzz_profiles(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "default", "ec2m" };
	struct fuzz_part parts[2];
	size_t n = fuzz_split(data, size, parts, 2);
	struct aws_profile p;
	char err[256];

	fuzz_write_file(credentials_path, parts[0].data, parts[0].len);
	if (n > 1)
		fuzz_write_file(config_path, parts[1].data, parts[1].len);
	else
		fuzz_remove_file(config_path);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		err[0] = '\0';
		if (aws_profile_load(credentials_path, config_path, names[i],
		    &p, err, sizeof(err)) != 0) {
			FUZZ_CHECK(err[0] != '\0', "profile refused without "
			    "a reason");
			fuzz_check_utf8("profile error", err);
			continue;
		}
		FUZZ_CHECK((p.creds.access_key_id == NULL) ==
		    (p.creds.secret_access_key == NULL),
		    "profile %s: a key without its secret", names[i]);
		FUZZ_CHECK(p.creds.access_key_id == NULL || p.found,
		    "profile %s: keys from a profile not found", names[i]);
		aws_profile_clear(&p);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_autoscaler_state(data, size);
	fuzz_imds(data, size);
	fuzz_profiles(data, size);
	return 0;
}
