/*
 * ec2ctl's command line (ctl/parser.c): every command and option becomes the
 * request the daemon expects, and every malformed command line is a usage
 * error before anything is sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/ec2ctl.h"

#define MAX_ARGS	12

/* Runs ctl_parse on "ec2ctl" followed by args (up to a NULL). */
static int
parse(char *const *args, struct ctl_invocation *inv, char *err, size_t len)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;

	argv[argc++] = "ec2ctl";
	for (size_t i = 0; i < MAX_ARGS && args[i] != NULL; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	return ctl_parse(argc, argv, inv, err, len);
}

/* Checks that request i of inv, sent with id, is the JSON text want. */
static void
assert_request(const struct ctl_invocation *inv, size_t i, int64_t id,
    const char *want)
{
	char *line = ctl_request_line(inv, i, id);
	size_t n = strlen(line);
	json_error_t jerr;
	json_t *got, *exp;

	assert_true(n > 0 && line[n - 1] == '\n');
	assert_null(memchr(line, '\n', n - 1));
	got = json_loads(line, 0, &jerr);
	assert_non_null(got);
	exp = json_loads(want, 0, &jerr);
	if (exp == NULL)
		fail_msg("bad expectation %s: %s", want, jerr.text);
	if (!json_equal(got, exp))
		fail_msg("request %s\nwanted  %s", line, want);
	json_decref(got);
	json_decref(exp);
	free(line);
}

/* One command on cluster dev04 (or none): the "cmd" and "args" sent. */
static const struct {
	char	*argv[MAX_ARGS + 1];
	const char *cmd;
	const char *args;
} one_command[] = {
	{ { "dev04", "status", NULL }, "status", "{\"refresh\":false}" },
	{ { "dev04", "status", "--refresh", NULL }, "status",
	  "{\"refresh\":true}" },
	{ { "dev04", "status", "-f", "json", "--refresh", NULL }, "status",
	  "{\"refresh\":true}" },
	{ { "dev04", "status", "--watch", NULL }, "status",
	  "{\"refresh\":false}" },
	{ { "dev04", "status", "--all", "--watch", NULL }, "status",
	  "{\"refresh\":false}" },
	{ { "dev04", "start", NULL }, "start", "{}" },
	{ { "dev04", "start", "-w", "3", NULL }, "start", "{\"workers\":3}" },
	{ { "dev04", "start", "-w0", NULL }, "start", "{\"workers\":0}" },
	{ { "dev04", "start", "--workers", "10000", NULL }, "start",
	  "{\"workers\":10000}" },
	{ { "dev04", "start", "--workers=7", NULL }, "start",
	  "{\"workers\":7}" },
	{ { "dev04", "stop", NULL }, "stop", "{}" },
	{ { "dev04", "scale", "up", NULL }, "scale",
	  "{\"direction\":\"up\",\"workers\":1}" },
	{ { "dev04", "scale", "down", "-w", "2", NULL }, "scale",
	  "{\"direction\":\"down\",\"workers\":2}" },
	{ { "dev04", "scale", "-w", "2", "down", NULL }, "scale",
	  "{\"direction\":\"down\",\"workers\":2}" },
	{ { "dev04", "scale", "up", "--workers=10000", NULL }, "scale",
	  "{\"direction\":\"up\",\"workers\":10000}" },
	{ { "dev04", "scale_to", "4", NULL }, "scale_to", "{\"workers\":4}" },
	{ { "dev04", "scale-to", "0", NULL }, "scale_to", "{\"workers\":0}" },
	{ { "dev04", "scale_to", "10000", NULL }, "scale_to",
	  "{\"workers\":10000}" },
	{ { "dev04", "maintenance", "on", NULL }, "maintenance",
	  "{\"mode\":\"on\"}" },
	{ { "dev04", "maintenance", "off", NULL }, "maintenance",
	  "{\"mode\":\"off\"}" },
	{ { "dev04", "autoscale", NULL }, "autoscale",
	  "{\"action\":\"evaluate\"}" },
	{ { "dev04", "autoscale", "pause", NULL }, "autoscale",
	  "{\"action\":\"pause\"}" },
	{ { "dev04", "autoscale", "resume", NULL }, "autoscale",
	  "{\"action\":\"resume\"}" },
	{ { "dev04", "events", NULL }, "events", "{\"n\":20}" },
	{ { "dev04", "events", "-n", "5", NULL }, "events", "{\"n\":5}" },
	{ { "dev04", "events", "-n1", NULL }, "events", "{\"n\":1}" },
	{ { "dev04", "events", "--follow", NULL }, "events",
	  "{\"n\":20,\"follow\":true}" },
	{ { "dev04", "events", "--follow", "-n", "3", NULL }, "events",
	  "{\"n\":3,\"follow\":true}" },
	{ { "dev04", "stop", "-f", "table", NULL }, "stop", "{}" },
	{ { "dev04", "scale", "up", "--json", NULL }, "scale",
	  "{\"direction\":\"up\",\"workers\":1}" },
	{ { "dev04", "events", "--count=500", NULL }, "events",
	  "{\"n\":500}" },
	{ { "clusters", NULL }, "clusters", "{}" },
	{ { "ping", NULL }, "ping", "{}" },
	{ { "version", NULL }, "version", "{}" },
};

static void
test_each_command(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(one_command) / sizeof(*one_command);
	    k++) {
		struct ctl_invocation inv;
		char err[256], want[512];
		bool cluster = strcmp(one_command[k].argv[0], "dev04") == 0;

		if (parse(one_command[k].argv, &inv, err, sizeof(err)) != 0)
			fail_msg("case %zu: %s", k, err);
		assert_int_equal(inv.nreqs, 1);
		assert_false(inv.help || inv.version);
		snprintf(want, sizeof(want), "{\"v\":1,\"id\":1,\"cmd\":\"%s\","
		    "%s\"args\":%s,\"dry_run\":false,\"force\":false,"
		    "\"wait\":true,\"level\":\"info\"}", one_command[k].cmd,
		    cluster ? "\"cluster\":\"dev04\"," : "",
		    one_command[k].args);
		assert_request(&inv, 0, 1, want);
		ctl_invocation_release(&inv);
	}
}

static void
test_status_format_and_watch(void **state)
{
	static char *plain[] = { "dev04", "status", NULL };
	static char *json[] = { "dev04", "status", "-f", "json", NULL };
	static char *table[] = { "dev04", "status", "--format=table", NULL };
	static char *glued[] = { "dev04", "status", "-fjson", NULL };
	static char *watch[] = { "dev04", "status", "--watch", NULL };
	static char *all[] = { "dev04", "status", "--all", NULL };
	static char *j[] = { "-j", "dev04", "status", NULL };
	static char *jt[] = { "-j", "dev04", "status", "-f", "table", NULL };
	static char *late[] = { "dev04", "status", "--json", NULL };
	static char *late_j[] = { "dev04", "status", "-j", "--refresh", NULL };
	struct ctl_invocation inv;
	char err[256];

	(void)state;
	assert_int_equal(parse(plain, &inv, err, sizeof(err)), 0);
	assert_int_equal(inv.reqs[0].format, CTL_FORMAT_AUTO);
	assert_false(inv.reqs[0].watch);
	ctl_invocation_release(&inv);
	assert_int_equal(parse(json, &inv, err, sizeof(err)), 0);
	assert_int_equal(inv.reqs[0].format, CTL_FORMAT_JSON);
	ctl_invocation_release(&inv);
	assert_int_equal(parse(table, &inv, err, sizeof(err)), 0);
	assert_int_equal(inv.reqs[0].format, CTL_FORMAT_TABLE);
	ctl_invocation_release(&inv);
	assert_int_equal(parse(glued, &inv, err, sizeof(err)), 0);
	assert_int_equal(inv.reqs[0].format, CTL_FORMAT_JSON);
	ctl_invocation_release(&inv);
	assert_int_equal(parse(watch, &inv, err, sizeof(err)), 0);
	assert_true(inv.reqs[0].watch);
	ctl_invocation_release(&inv);
	/* --all is for the table only: it is not sent. */
	assert_int_equal(parse(all, &inv, err, sizeof(err)), 0);
	assert_true(inv.reqs[0].all);
	assert_false(inv.reqs[0].watch);
	ctl_invocation_release(&inv);
	assert_int_equal(parse(plain, &inv, err, sizeof(err)), 0);
	assert_false(inv.reqs[0].all);
	ctl_invocation_release(&inv);
	/* -j means JSON, whatever -f says. */
	assert_int_equal(parse(j, &inv, err, sizeof(err)), 0);
	assert_true(inv.json);
	assert_true(ctl_request_json(&inv, &inv.reqs[0], true));
	assert_true(ctl_request_json(&inv, &inv.reqs[0], false));
	ctl_invocation_release(&inv);
	assert_int_equal(parse(jt, &inv, err, sizeof(err)), 0);
	assert_int_equal(inv.reqs[0].format, CTL_FORMAT_TABLE);
	assert_true(ctl_request_json(&inv, &inv.reqs[0], true));
	ctl_invocation_release(&inv);
	/* Without -f: a table on a terminal, JSON lines otherwise; -f
	 * decides for its command wherever the output goes. */
	assert_int_equal(parse(plain, &inv, err, sizeof(err)), 0);
	assert_false(ctl_request_json(&inv, &inv.reqs[0], true));
	assert_true(ctl_request_json(&inv, &inv.reqs[0], false));
	ctl_invocation_release(&inv);
	assert_int_equal(parse(table, &inv, err, sizeof(err)), 0);
	assert_false(ctl_request_json(&inv, &inv.reqs[0], false));
	ctl_invocation_release(&inv);
	assert_int_equal(parse(json, &inv, err, sizeof(err)), 0);
	assert_true(ctl_request_json(&inv, &inv.reqs[0], true));
	ctl_invocation_release(&inv);
	/* "status --json" (as people type it) is -f json for that command
	 * only: the other output stays human. */
	assert_int_equal(parse(late, &inv, err, sizeof(err)), 0);
	assert_int_equal(inv.reqs[0].format, CTL_FORMAT_JSON);
	assert_false(inv.json);
	ctl_invocation_release(&inv);
	assert_int_equal(parse(late_j, &inv, err, sizeof(err)), 0);
	assert_int_equal(inv.reqs[0].format, CTL_FORMAT_JSON);
	assert_true(json_is_true(json_object_get(inv.reqs[0].args,
	    "refresh")));
	ctl_invocation_release(&inv);
}

static void
test_global_options(void **state)
{
	static char *all[] = { "-n", "-f", "--no-wait", "-d", "dev04", "stop",
	    NULL };
	static char *longs[] = { "--dry-run", "--force", "--quiet", "dev04",
	    "stop", NULL };
	static char *grouped[] = { "-nfq", "dev04", "stop", NULL };
	static char *last_wins[] = { "-q", "-d", "-v", "dev04", "stop", NULL };
	static char *debug[] = { "--debug", "--verbose", "--debug", "dev04",
	    "stop", NULL };
	static char *sock[] = { "--socket", "/tmp/x.sock", "-j", "ping", NULL };
	static char *sock_eq[] = { "--socket=/tmp/y.sock", "ping", NULL };
	static char *sock_s[] = { "-s", "/tmp/z.sock", "ping", NULL };
	struct ctl_invocation inv;
	char err[256];

	(void)state;
	assert_int_equal(parse(all, &inv, err, sizeof(err)), 0);
	assert_true(inv.dry_run && inv.force && !inv.wait);
	assert_int_equal(inv.level, PROTO_LEVEL_DEBUG);
	assert_null(inv.socket);
	assert_request(&inv, 0, 1, "{\"v\":1,\"id\":1,\"cmd\":\"stop\","
	    "\"cluster\":\"dev04\",\"args\":{},\"dry_run\":true,"
	    "\"force\":true,\"wait\":false,\"level\":\"debug\"}");
	ctl_invocation_release(&inv);

	assert_int_equal(parse(longs, &inv, err, sizeof(err)), 0);
	assert_request(&inv, 0, 9, "{\"v\":1,\"id\":9,\"cmd\":\"stop\","
	    "\"cluster\":\"dev04\",\"args\":{},\"dry_run\":true,"
	    "\"force\":true,\"wait\":true,\"level\":\"warning\"}");
	ctl_invocation_release(&inv);

	assert_int_equal(parse(grouped, &inv, err, sizeof(err)), 0);
	assert_true(inv.dry_run && inv.force);
	assert_int_equal(inv.level, PROTO_LEVEL_WARNING);
	ctl_invocation_release(&inv);

	assert_int_equal(parse(last_wins, &inv, err, sizeof(err)), 0);
	assert_int_equal(inv.level, PROTO_LEVEL_INFO);
	ctl_invocation_release(&inv);
	assert_int_equal(parse(debug, &inv, err, sizeof(err)), 0);
	assert_int_equal(inv.level, PROTO_LEVEL_DEBUG);
	ctl_invocation_release(&inv);

	assert_int_equal(parse(sock, &inv, err, sizeof(err)), 0);
	assert_string_equal(inv.socket, "/tmp/x.sock");
	assert_true(inv.json);
	assert_null(inv.cluster);
	ctl_invocation_release(&inv);
	assert_int_equal(parse(sock_eq, &inv, err, sizeof(err)), 0);
	assert_string_equal(inv.socket, "/tmp/y.sock");
	ctl_invocation_release(&inv);
	assert_int_equal(parse(sock_s, &inv, err, sizeof(err)), 0);
	assert_string_equal(inv.socket, "/tmp/z.sock");
	ctl_invocation_release(&inv);
}

static void
test_help_and_version(void **state)
{
	static char *help[] = { "--help", NULL };
	static char *h[] = { "-h", "whatever", "garbage", NULL };
	static char *cmd_help[] = { "dev04", "scale", "--help", NULL };
	static char *version[] = { "--version", NULL };
	/* Help on one command, never needing a cluster or a socket. */
	static const struct {
		char	*argv[5];
		enum proto_cmd cmd;
	} one[] = {
		{ { "help", "status", NULL }, PROTO_CMD_STATUS },
		{ { "help", "scale-to", NULL }, PROTO_CMD_SCALE_TO },
		{ { "help", "clusters", NULL }, PROTO_CMD_CLUSTERS },
		{ { "status", "--help", NULL }, PROTO_CMD_STATUS },
		{ { "events", "-n", "x", "-h", NULL }, PROTO_CMD_EVENTS },
		{ { "dev04", "scale", "sideways", "--help", NULL },
		  PROTO_CMD_SCALE },
		{ { "dev04", "stop", "events", "--help", NULL },
		  PROTO_CMD_EVENTS },
		{ { "clusters", "--help", NULL }, PROTO_CMD_CLUSTERS },
	};
	static char *bare[] = { "help", NULL };
	static char *unknown[] = { "help", "frob", NULL };
	static char *two[] = { "help", "status", "stop", NULL };
	struct ctl_invocation inv;
	char err[256];

	(void)state;
	for (size_t k = 0; k < sizeof(one) / sizeof(*one); k++) {
		if (parse(one[k].argv, &inv, err, sizeof(err)) != 0)
			fail_msg("case %zu: %s", k, err);
		assert_true(inv.help);
		assert_non_null(inv.help_cmd);
		assert_int_equal(inv.help_cmd->cmd, one[k].cmd);
		ctl_invocation_release(&inv);
	}
	assert_int_equal(parse(bare, &inv, err, sizeof(err)), 0);
	assert_true(inv.help);
	assert_null(inv.help_cmd);
	ctl_invocation_release(&inv);
	assert_int_equal(parse(unknown, &inv, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown command \"frob\""));
	ctl_invocation_release(&inv);
	assert_int_equal(parse(two, &inv, err, sizeof(err)), -1);
	ctl_invocation_release(&inv);
	assert_int_equal(parse(help, &inv, err, sizeof(err)), 0);
	assert_true(inv.help);
	ctl_invocation_release(&inv);
	assert_int_equal(parse(h, &inv, err, sizeof(err)), 0);
	assert_true(inv.help);
	ctl_invocation_release(&inv);
	assert_int_equal(parse(cmd_help, &inv, err, sizeof(err)), 0);
	assert_true(inv.help);
	ctl_invocation_release(&inv);
	assert_int_equal(parse(version, &inv, err, sizeof(err)), 0);
	assert_true(inv.version);
	assert_int_equal(inv.nreqs, 0);
	ctl_invocation_release(&inv);
}

static void
test_chained(void **state)
{
	static char *chain[] = { "-n", "dev04", "maintenance", "on", "scale",
	    "down", "-w", "2", "stop", "status", "--refresh", NULL };
	static char *optional[] = { "dev04", "autoscale", "stop", "autoscale",
	    "pause", "events", NULL };
	static char *no_cluster[] = { "ping", "version", "clusters", NULL };
	struct ctl_invocation inv;
	char err[256];

	(void)state;
	assert_int_equal(parse(chain, &inv, err, sizeof(err)), 0);
	assert_int_equal(inv.nreqs, 4);
	assert_request(&inv, 0, 1, "{\"v\":1,\"id\":1,\"cmd\":\"maintenance\","
	    "\"cluster\":\"dev04\",\"args\":{\"mode\":\"on\"},"
	    "\"dry_run\":true,\"force\":false,\"wait\":true,"
	    "\"level\":\"info\"}");
	assert_request(&inv, 1, 2, "{\"v\":1,\"id\":2,\"cmd\":\"scale\","
	    "\"cluster\":\"dev04\",\"args\":{\"direction\":\"down\","
	    "\"workers\":2},\"dry_run\":true,\"force\":false,\"wait\":true,"
	    "\"level\":\"info\"}");
	assert_request(&inv, 2, 3, "{\"v\":1,\"id\":3,\"cmd\":\"stop\","
	    "\"cluster\":\"dev04\",\"args\":{},\"dry_run\":true,"
	    "\"force\":false,\"wait\":true,\"level\":\"info\"}");
	assert_string_equal(inv.reqs[3].cmd->name, "status");
	assert_true(json_is_true(json_object_get(inv.reqs[3].args,
	    "refresh")));
	ctl_invocation_release(&inv);

	/* An optional word that does not fit begins the next command. */
	assert_int_equal(parse(optional, &inv, err, sizeof(err)), 0);
	assert_int_equal(inv.nreqs, 4);
	assert_string_equal(json_string_value(json_object_get(
	    inv.reqs[0].args, "action")), "evaluate");
	assert_string_equal(inv.reqs[1].cmd->name, "stop");
	assert_string_equal(json_string_value(json_object_get(
	    inv.reqs[2].args, "action")), "pause");
	assert_string_equal(inv.reqs[3].cmd->name, "events");
	ctl_invocation_release(&inv);

	assert_int_equal(parse(no_cluster, &inv, err, sizeof(err)), 0);
	assert_int_equal(inv.nreqs, 3);
	assert_null(inv.cluster);
	ctl_invocation_release(&inv);
}

/* Command lines that are usage errors, with a word the message must
 * contain. */
static const struct {
	char	*argv[MAX_ARGS + 1];
	const char *says;
} usage_errors[] = {
	{ { NULL }, "missing" },
	{ { "dev04", NULL }, "missing command" },
	{ { "status", NULL }, "missing cluster" },
	{ { "dev04", "frobnicate", NULL }, "unknown command \"frobnicate\"" },
	{ { "dev04", "Status", NULL }, "unknown command" },
	{ { "dev04", "scale_to_x", "3", NULL }, "unknown command" },
	{ { "dev04", "status", "bogus", NULL }, "unknown command \"bogus\"" },
	{ { "dev04", "status", "-x", NULL }, "unknown option \"-x\"" },
	{ { "dev04", "status", "--wtach", NULL }, "unknown option" },
	{ { "dev04", "status", "-f", "xml", NULL }, "json|table" },
	{ { "dev04", "status", "-f", NULL }, "needs a value" },
	{ { "dev04", "status", "--refresh=yes", NULL }, "takes no value" },
	{ { "dev04", "status", "-w", "2", NULL }, "unknown option" },
	{ { "dev04", "start", "-w", NULL }, "needs a value" },
	{ { "dev04", "start", "-w", "-1", NULL }, "from 0 to 10000" },
	{ { "dev04", "start", "-w", "10001", NULL }, "from 0 to 10000" },
	{ { "dev04", "start", "-w", "abc", NULL }, "not \"abc\"" },
	{ { "dev04", "start", "-w", "3x", NULL }, "number" },
	{ { "dev04", "start", "-w", "+3", NULL }, "number" },
	{ { "dev04", "start", "-w", " 3", NULL }, "number" },
	{ { "dev04", "start", "-w", "", NULL }, "number" },
	{ { "dev04", "start", "--workers=", NULL }, "number" },
	{ { "dev04", "start", "-w", "99999999999999999999", NULL }, "number" },
	{ { "dev04", "start", "3", NULL }, "unknown command \"3\"" },
	{ { "dev04", "scale", NULL }, "missing up|down" },
	{ { "dev04", "scale", "-w", "2", NULL }, "missing up|down" },
	{ { "dev04", "scale", "sideways", NULL }, "expected up|down" },
	{ { "dev04", "scale", "up", "-w", "0", NULL }, "from 1 to 10000" },
	{ { "dev04", "scale", "up", "-n", "2", NULL }, "global option" },
	{ { "dev04", "scale", "up", "-x", NULL }, "unknown option \"-x\"" },
	{ { "dev04", "scale", "up", "down", NULL }, "unknown command" },
	{ { "dev04", "scale_to", NULL }, "missing the number" },
	{ { "dev04", "scale-to", NULL }, "missing the number" },
	{ { "dev04", "scale_to", "-1", NULL }, "from 0 to 10000" },
	{ { "dev04", "scale_to", "10001", NULL }, "from 0 to 10000" },
	{ { "dev04", "scale_to", "x", NULL }, "not \"x\"" },
	{ { "dev04", "scale_to", "2.5", NULL }, "number" },
	{ { "dev04", "maintenance", NULL }, "missing on|off" },
	{ { "dev04", "maintenance", "maybe", NULL }, "expected on|off" },
	{ { "dev04", "autoscale", "now", NULL }, "unknown command \"now\"" },
	{ { "dev04", "events", "-n", "0", NULL }, "from 1 to 500" },
	{ { "dev04", "events", "-n", "501", NULL }, "from 1 to 500" },
	{ { "dev04", "events", "-n", NULL }, "needs a value" },
	{ { "dev04", "stop", "now", NULL }, "unknown command \"now\"" },
	{ { "dev04", "stop", "--now", NULL }, "unknown option \"--now\"" },
	{ { "dev04", "-n", "stop", NULL }, "before the cluster" },
	{ { "dev04", "stop", "--dry-run", NULL }, "before the cluster" },
	{ { "dev04", "ping", NULL }, "takes no cluster" },
	{ { "dev04", "status", "clusters", NULL }, "takes no cluster" },
	{ { "ping", "status", NULL }, "needs a cluster" },
	{ { "clusters", "dev04", NULL }, "unknown command \"dev04\"" },
	{ { "--bogus", "dev04", "status", NULL }, "unknown option --bogus" },
	{ { "-x", "dev04", "status", NULL }, "unknown option -x" },
	{ { "--socket", NULL }, "needs a value" },
	{ { "--socket=", "dev04", "status", NULL }, "needs a path" },
	{ { "--json=1", "ping", NULL }, "--json takes no value" },
	{ { "bad/name", "status", NULL }, "invalid cluster name" },
	{ { "dev 04", "status", NULL }, "invalid cluster name" },
	{ { "", "status", NULL }, "invalid cluster name" },
	{ { "a123456789b123456789c123456789d123456789e123456789f123456789"
	    "g1234", "status", NULL }, "invalid cluster name" },
	{ { "dev04", "status", "--watch", "stop", NULL }, "last command" },
	{ { "dev04", "events", "--follow", "status", NULL }, "last command" },
	{ { "dev04", "events", "--follow=yes", NULL }, "takes no value" },
	{ { "dev04", "stop", "-f", NULL }, "--force goes before the cluster" },
	{ { "dev04", "stop", "-f", "xml", NULL }, "-f must be json|table" },
	{ { "dev04", "status", "stop", "scale", "sideways", NULL },
	  "expected up|down" },
};

static void
test_usage_errors(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(usage_errors) / sizeof(*usage_errors);
	    k++) {
		struct ctl_invocation inv;
		char err[256];

		if (parse(usage_errors[k].argv, &inv, err, sizeof(err)) == 0)
			fail_msg("case %zu (%s ...) parsed", k,
			    usage_errors[k].argv[0] ? usage_errors[k].argv[0] :
			    "");
		if (strstr(err, usage_errors[k].says) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", k, err,
			    usage_errors[k].says);
		ctl_invocation_release(&inv);
	}
}

static void
test_longest_cluster_name(void **state)
{
	static char *ok[] = { "a123456789b123456789c123456789d123456789"
	    "e123456789f123456789g123", "status", NULL };
	static char *dots[] = { "Dev_04.eu-west-1", "stop", NULL };
	struct ctl_invocation inv;
	char err[256];

	(void)state;
	assert_int_equal(parse(ok, &inv, err, sizeof(err)), 0);
	assert_int_equal(strlen(inv.cluster), PROTO_MAX_CLUSTER_NAME);
	ctl_invocation_release(&inv);
	assert_int_equal(parse(dots, &inv, err, sizeof(err)), 0);
	assert_string_equal(inv.cluster, "Dev_04.eu-west-1");
	ctl_invocation_release(&inv);
}

/* The daemon reads what the ctl writes: the two halves of the protocol
 * agree on every request. */
static void
test_daemon_accepts_requests(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(one_command) / sizeof(*one_command);
	    k++) {
		struct ctl_invocation inv;
		struct proto_request req;
		char err[256], msg[256];
		int64_t id;
		char *line;

		assert_int_equal(parse(one_command[k].argv, &inv, err,
		    sizeof(err)), 0);
		line = ctl_request_line(&inv, 0, 42);
		if (proto_request_parse(line, strlen(line) - 1, &req, &id, msg,
		    sizeof(msg)) != PROTO_OK)
			fail_msg("%s: %s", line, msg);
		assert_int_equal(req.id, 42);
		assert_ptr_equal(req.cmd, inv.reqs[0].cmd);
		assert_true(json_equal(req.args, inv.reqs[0].args));
		proto_request_release(&req);
		free(line);
		ctl_invocation_release(&inv);
	}
}

/* Every command of the protocol can be typed, and --help lists it. */
static void
test_every_protocol_command(void **state)
{
	char *help = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&help, &len);

	(void)state;
	assert_non_null(fp);
	ctl_usage(fp);
	fclose(fp);
	for (int k = 0; k < PROTO_CMD_COUNT; k++) {
		char *args[4] = { "dev04", (char *)proto_cmds[k].name, NULL };
		struct ctl_invocation inv;
		char err[256];

		if (proto_cmds[k].flags & CMD_F_NO_CLUSTER) {
			args[0] = (char *)proto_cmds[k].name;
			args[1] = NULL;
		} else if (k == PROTO_CMD_SCALE) {
			args[2] = "up";
		} else if (k == PROTO_CMD_SCALE_TO) {
			args[2] = "1";
		} else if (k == PROTO_CMD_MAINTENANCE) {
			args[2] = "on";
		}
		if (parse(args, &inv, err, sizeof(err)) != 0)
			fail_msg("%s: %s", proto_cmds[k].name, err);
		assert_ptr_equal(inv.reqs[0].cmd, &proto_cmds[k]);
		ctl_invocation_release(&inv);
		assert_non_null(strstr(help, proto_cmds[k].summary));
	}
	free(help);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_command),
		cmocka_unit_test(test_status_format_and_watch),
		cmocka_unit_test(test_global_options),
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_chained),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_longest_cluster_name),
		cmocka_unit_test(test_daemon_accepts_requests),
		cmocka_unit_test(test_every_protocol_command),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
