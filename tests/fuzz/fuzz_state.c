/*
 * The files the daemon reads back and the credentials it is handed:
 *   - the autoscaler's state file in state_dir (autoscaler_state_load);
 *   - the crash record of an operation in state_dir (opjournal_load), with
 *     the recovery planned from it (opjournal_plan);
 *   - the IMDS role-credentials JSON (aws_imds_parse_credentials);
 *   - the shared AWS credentials and config files (aws_profile_load): the
 *     input is split at "%%" lines (fuzz.h) into the credentials file and
 *     the config file, read for the profile "default" and a named one.
 * The whole input is each state file and the IMDS answer.
 *
 * Checked: no crash, no leak; a failure has a valid UTF-8 reason (it is
 * logged); what a success returns keeps the promises of the headers: a
 * crash record read back is written out again the same way and every text
 * of it and of its recovery plan (which reach the `recovered` event) is
 * valid UTF-8; credentials of any expiry can be judged fresh or not
 * without overflow.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/strv.h"
#include "common/xalloc.h"
#include "daemon/autoscaler.h"
#include "daemon/awscreds.h"
#include "daemon/ec2_msg.h"
#include "daemon/model.h"
#include "daemon/opjournal.h"
#include "tests/fuzz/fuzz.h"

#define CLUSTER "dev04"
/* 2026-11-26T05:04:51Z, the "now" of the IMDS reads. */
#define NOW_MS INT64_C(1795669491000)

static char *state_dir;
static char *state_path;
static char *record_path;
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
	record_path = opjournal_path(state_dir, CLUSTER);
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

static void
check_strv_utf8(const char *what, const struct strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		fuzz_check_utf8(what, v->v[i]);
}

/* Plans the recovery of record j on a cluster in which the recorded
 * instances are, in turn, running, stopped and gone. */
static void
check_plan(const struct opjournal *j)
{
	struct ec2_instance_list *list = ec2_instance_list_new();
	struct opjournal_plan plan;
	struct model md;

	for (size_t i = 0; i < j->ids.n; i++) {
		struct ec2_instance *in;

		if (i % 3 == 2)
			continue;
		list->v = xgrow(list->v, &list->cap, list->n + 1,
		    sizeof(*list->v));
		in = &list->v[list->n++];
		memset(in, 0, sizeof(*in));
		in->id = j->ids.v[i];
		in->name = CLUSTER "-worker";
		in->state = i % 3 == 0 ? EC2_STATE_RUNNING : EC2_STATE_STOPPED;
		in->private_ip = "10.0.1.11";
	}
	model_build(&md, CLUSTER, list, NULL, NULL, NOW_MS);
	opjournal_plan(j, &md, &plan);
	FUZZ_CHECK(plan.hosts.n == plan.ids.n, "plan: %zu hosts, %zu ids",
	    plan.hosts.n, plan.ids.n);
	FUZZ_CHECK(plan.hosts.n + plan.notes.n == j->hosts.n, "plan: %zu "
	    "hosts and %zu notes for %zu recorded", plan.hosts.n, plan.notes.n,
	    j->hosts.n);
	for (size_t i = 0; i < plan.hosts.n; i++)
		FUZZ_CHECK(strv_has(&j->hosts, plan.hosts.v[i]),
		    "plan: host %s was not recorded", plan.hosts.v[i]);
	check_strv_utf8("recovery note", &plan.notes);
	opjournal_plan_release(&plan);
	model_release(&md);
	ec2_instance_list_free(list);
}

static void
fuzz_crash_record(const uint8_t *data, size_t size)
{
	char err[768];	/* as op_restore.c's */
	struct opjournal j, again;
	char *line, *line2;
	int rc;

	fuzz_write_file(record_path, data, size);
	err[0] = '\0';
	rc = opjournal_load(state_dir, CLUSTER, &j, err, sizeof(err));
	FUZZ_CHECK(rc != 0, "an existing record read as none");
	if (rc < 0) {
		FUZZ_CHECK(err[0] != '\0', "record refused without a reason");
		fuzz_check_utf8("record error", err);
		return;
	}
	FUZZ_CHECK(j.cluster && strcmp(j.cluster, CLUSTER) == 0 &&
	    j.operation != NULL, "record without its cluster or operation");
	FUZZ_CHECK(j.hosts.n == j.ids.n, "record: %zu hosts, %zu instances",
	    j.hosts.n, j.ids.n);
	fuzz_check_utf8("record operation", j.operation);
	fuzz_check_utf8("record initiator", j.initiator);
	check_strv_utf8("record host", &j.hosts);
	check_strv_utf8("record instance", &j.ids);
	check_strv_utf8("record stopping", &j.stopping);

	/* What is read back is written out again unchanged. */
	line = opjournal_dump(&j);
	fuzz_check_utf8("record dump", line);
	FUZZ_CHECK(strchr(line, '\n') == line + strlen(line) - 1,
	    "the record is not one line");
	err[0] = '\0';
	FUZZ_CHECK(opjournal_parse(line, strlen(line), &again, err,
	    sizeof(err)) == 0, "the dump of a record does not read: %s", err);
	line2 = opjournal_dump(&again);
	FUZZ_CHECK(strcmp(line, line2) == 0, "a record changed when written "
	    "and read again:\n%s%s", line, line2);
	free(line2);
	free(line);
	opjournal_release(&again);

	check_plan(&j);
	opjournal_release(&j);
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
	fuzz_crash_record(data, size);
	fuzz_imds(data, size);
	fuzz_profiles(data, size);
	return 0;
}
