/*
 * EC2 answers (daemon/ec2_msg.c).  Every input is read the three ways the
 * EC2 client reads a body: as a DescribeInstances page, as a
 * Start/StopInstances answer and as an error document.
 *
 * Checked: no crash, no leak; what a successful parse returns keeps the
 * promises of ec2_msg.h; every text that reaches status, events or a reply
 * (instance names and tags, error codes and messages, and the operator's
 * one-line error that aws_error_format() makes of them) is valid UTF-8;
 * the streaming DescribeInstances reader gives exactly what the DOM one
 * gives (tests/unit/ec2_msg_diff.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "common/timeutil.h"
#include "daemon/aws.h"
#include "daemon/ec2_msg.h"
#include "tests/fuzz/fuzz.h"
#include "tests/unit/ec2_msg_diff.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	xmlInitParser();
	return 0;
}

/* What an operator is shown of err, at the daemon's buffer size and at a
 * small one that cuts it. */
static void
check_error(const struct aws_error *err)
{
	char buf[1024], small[45];

	fuzz_check_utf8("error code", err->code);
	fuzz_check_utf8("error message", err->message);
	fuzz_check_utf8("error request id", err->request_id);
	fuzz_check_utf8("formatted error", aws_error_format(err, buf,
	    sizeof(buf)));
	fuzz_check_utf8("formatted error (cut)", aws_error_format(err, small,
	    sizeof(small)));
}

static void
check_parse_error(const char *what, const struct aws_error *err)
{
	FUZZ_CHECK(err->kind == AWS_ERR_PARSE, "%s failed with kind %d",
	    what, (int)err->kind);
	FUZZ_CHECK(err->message[0] != '\0', "%s failed without a message",
	    what);
	check_error(err);
}

static void
check_instance(const struct ec2_instance *in)
{
	char ts[TIME_ISO8601_LEN];

	FUZZ_CHECK(in->id != NULL && in->id[0] != '\0', "no instance id");
	FUZZ_CHECK(in->name != NULL, "instance %s has a NULL name", in->id);
	FUZZ_CHECK(in->state != EC2_STATE_TERMINATED,
	    "terminated instance %s listed", in->id);
	fuzz_check_utf8("instance id", in->id);
	fuzz_check_utf8("instance name", in->name);
	fuzz_check_utf8("instance type", in->instance_type);
	fuzz_check_utf8("private ip", in->private_ip);
	fuzz_check_utf8("public ip", in->public_ip);
	fuzz_check_utf8("private dns", in->private_dns);
	fuzz_check_utf8("public dns", in->public_dns);
	fuzz_check_utf8("state name", ec2_state_name(in->state));
	for (size_t t = 0; t < in->ntags; t++) {
		FUZZ_CHECK(in->tags[t].key && in->tags[t].value,
		    "instance %s: tag %zu without key or value", in->id, t);
		fuzz_check_utf8("tag key", in->tags[t].key);
		fuzz_check_utf8("tag value", in->tags[t].value);
	}
	if (in->name[0] != '\0')
		FUZZ_CHECK(ec2_instance_tag(in, "Name") != NULL,
		    "instance %s has a name but no Name tag", in->id);
	/* Status shows the launch time. */
	if (in->launch_time_ms != 0) {
		time_format_iso8601(in->launch_time_ms, ts);
		fuzz_check_utf8("launch time", ts);
	}
}

static void
fuzz_describe(const char *xml, size_t len)
{
	struct ec2_instance_list *list = ec2_instance_list_new();
	struct aws_error err;
	char *token = NULL, diff[1024];

	FUZZ_CHECK(ec2_describe_diff(xml, len, diff, sizeof(diff)) == 0,
	    "the streaming and DOM readers differ: %s", diff);
	aws_error_clear(&err);
	if (ec2_parse_describe(xml, len, list, &token, &err) == 0) {
		for (size_t i = 0; i < list->n; i++)
			check_instance(&list->v[i]);
		FUZZ_CHECK(token == NULL || token[0] != '\0',
		    "an empty next token");
	} else {
		FUZZ_CHECK(token == NULL, "a next token after a failure");
		check_parse_error("DescribeInstances", &err);
	}
	free(token);
	ec2_instance_list_free(list);
}

static void
fuzz_state_changes(const char *xml, size_t len)
{
	struct ec2_state_changes *changes = ec2_state_changes_new();
	struct aws_error err;

	aws_error_clear(&err);
	if (ec2_parse_state_changes(xml, len, changes, &err) == 0) {
		for (size_t i = 0; i < changes->n; i++) {
			const struct ec2_state_change *c = &changes->v[i];

			FUZZ_CHECK(c->id != NULL && c->id[0] != '\0',
			    "a state change without an instance id");
			fuzz_check_utf8("instance id", c->id);
		}
	} else {
		check_parse_error("Start/StopInstances", &err);
	}
	ec2_state_changes_free(changes);
}

static void
fuzz_error(const char *xml, size_t len)
{
	struct aws_error err;

	aws_error_clear(&err);
	snprintf(err.action, sizeof(err.action), "DescribeInstances");
	err.attempts = 3;
	ec2_parse_error(xml, len, 400, &err);
	FUZZ_CHECK(err.kind == AWS_ERR_SERVICE && err.http_status == 400,
	    "error answer read as kind %d, HTTP %ld", (int)err.kind,
	    err.http_status);
	FUZZ_CHECK(err.message[0] != '\0', "an error without a message");
	check_error(&err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *xml = (const char *)data;

	fuzz_describe(xml, size);
	fuzz_state_changes(xml, size);
	fuzz_error(xml, size);
	return 0;
}
