/*
 * ec2ctl's renderers (ctl/output.c): the status table, the lists, the
 * one-line results, and log and progress events on and off a terminal.
 * Output goes to memory streams and the time is fixed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/ec2ctl.h"

/* 2026-11-26T05:04:51Z */
#define NOW_MS	1795669491000LL

static const char status_json[] =
    "{\"cluster\":\"dev04\",\"instances_online\":5,\"workers\":6,"
    "\"workers_online\":2,\"queued_jobs\":3,\"queued_high_load_jobs\":2,"
    "\"running_jobs\":4,\"instances\":["
    "{\"id\":\"i-0abc\",\"name\":\"dev04-admin\",\"state\":\"running\","
    "\"maintenance\":false,\"mh_host\":\"http://10.0.1.10:8080\","
    "\"role\":\"admin\",\"held\":false,\"uptime_s\":5400,"
    "\"running_jobs\":1},"
    "{\"id\":\"i-0def\",\"name\":\"dev04-worker1\",\"state\":\"running\","
    "\"maintenance\":true,\"mh_host\":\"http://10.0.1.11:8080\","
    "\"role\":\"worker\",\"held\":true,\"uptime_s\":300,"
    "\"running_jobs\":3},"
    "{\"id\":\"i-0123456789abcdef0\",\"name\":\"dev04-worker2\","
    "\"state\":\"stopped\",\"maintenance\":null,\"mh_host\":null,"
    "\"role\":\"worker\",\"held\":false,\"uptime_s\":null,"
    "\"running_jobs\":null},"
    "{\"id\":\"i-0db\",\"name\":\"dev04-db\",\"state\":\"running\","
    "\"maintenance\":null,\"mh_host\":null,\"role\":\"db\",\"held\":false,"
    "\"uptime_s\":200000,\"running_jobs\":null}],"
    "\"autoscale\":{\"enabled\":true,\"reason\":null,"
    "\"last_decision\":{\"ts\":\"2026-11-26T05:03:36Z\",\"action\":\"none\","
    "\"reason\":\"2 queued high-load jobs, at most 0; max_workers reached\"},"
    "\"next_tick_s\":75},"
    "\"ec2\":{\"ok\":true,\"error\":null},"
    "\"opencast\":{\"reachable\":false,\"error\":\"connection refused\"},"
    "\"operation\":{\"cmd\":\"stop\",\"step\":\"wait_idle\","
    "\"started_at\":\"2026-11-26T05:00:00Z\"},"
    "\"updated_at\":\"2026-11-26T05:04:51Z\"}";

/* A memory stream and what it collected. */
struct capture {
	FILE	*fp;
	char	*text;
	size_t	 len;
};

static void
capture_open(struct capture *c)
{
	c->text = NULL;
	c->len = 0;
	c->fp = open_memstream(&c->text, &c->len);
	assert_non_null(c->fp);
}

/* Closes the stream; the text stays until capture_free(). */
static const char *
capture_close(struct capture *c)
{
	fclose(c->fp);
	c->fp = NULL;
	return c->text;
}

static void
capture_free(struct capture *c)
{
	free(c->text);
	c->text = NULL;
}

/* The line of text that starts with prefix, copied into buf. */
static const char *
line_starting(const char *text, const char *prefix, char *buf, size_t len)
{
	const char *p = text;

	while (p != NULL && *p != '\0') {
		size_t n = strcspn(p, "\n");

		if (strncmp(p, prefix, strlen(prefix)) == 0) {
			snprintf(buf, len, "%.*s", (int)n, p);
			return buf;
		}
		p = p[n] == '\n' ? p + n + 1 : NULL;
	}
	fail_msg("no line starts with \"%s\" in:\n%s", prefix, text);
	return NULL;
}

/* Splits a table row into its whitespace-separated cells. */
static size_t
cells(const char *line, char out[][64], size_t max)
{
	size_t n = 0;

	while (*line && n < max) {
		size_t k;

		line += strspn(line, " ");
		k = strcspn(line, " ");
		if (k == 0)
			break;
		snprintf(out[n++], 64, "%.*s", (int)k, line);
		line += k;
	}
	return n;
}

static void
assert_row(const char *text, const char *name, const char *const *want)
{
	char line[512], got[12][64];
	size_t n;

	line_starting(text, name, line, sizeof(line));
	n = cells(line, got, 12);
	for (size_t i = 0; want[i]; i++) {
		if (i >= n)
			fail_msg("row %s: missing cell %zu", line, i);
		if (strcmp(got[i], want[i]) != 0)
			fail_msg("row \"%s\": cell %zu is \"%s\", not \"%s\"",
			    line, i, got[i], want[i]);
	}
}

static void
test_status_table(void **state)
{
	static const char *const admin[] = { "dev04-admin", "i-0abc", "admin",
	    "running", "no", "1", "1h30m", "no", "http://10.0.1.10:8080",
	    NULL };
	static const char *const w1[] = { "dev04-worker1", "i-0def", "worker",
	    "running", "yes", "3", "5m", "yes", "http://10.0.1.11:8080",
	    NULL };
	static const char *const w2[] = { "dev04-worker2",
	    "i-0123456789abcdef0", "worker", "stopped", "-", "-", "-", "no",
	    "-", NULL };
	static const char *const db[] = { "dev04-db", "i-0db", "db",
	    "running", "-", "-", "2d07h", "no", "-", NULL };
	static const char *const head[] = { "NAME", "ID", "ROLE", "STATE",
	    "MAINT", "JOBS", "UPTIME", "HELD", "HOST", NULL };
	json_t *st = json_loads(status_json, 0, NULL);
	struct capture c;
	const char *text, *hdr;
	char line[512];

	(void)state;
	assert_non_null(st);
	capture_open(&c);
	output_status_table(c.fp, st, false, false);
	text = capture_close(&c);

	assert_string_equal(line_starting(text, "Cluster:", line,
	    sizeof(line)), "Cluster:    dev04");
	assert_string_equal(line_starting(text, "Instances:", line,
	    sizeof(line)), "Instances:  5 online");
	assert_string_equal(line_starting(text, "Workers:", line,
	    sizeof(line)), "Workers:    2 online of 6");
	assert_string_equal(line_starting(text, "Jobs:", line, sizeof(line)),
	    "Jobs:       3 queued (2 high-load), 4 running");
	assert_string_equal(line_starting(text, "Autoscale:", line,
	    sizeof(line)), "Autoscale:  on, next tick in 1m15s");
	assert_string_equal(line_starting(text, "Decision:", line,
	    sizeof(line)), "Decision:   none at 2026-11-26T05:03:36Z: 2 "
	    "queued high-load jobs, at most 0; max_workers reached");
	assert_string_equal(line_starting(text, "Operation:", line,
	    sizeof(line)), "Operation:  stop, step wait_idle, since "
	    "2026-11-26T05:00:00Z");
	assert_string_equal(line_starting(text, "EC2:", line, sizeof(line)),
	    "EC2:        ok");
	assert_string_equal(line_starting(text, "Opencast:", line,
	    sizeof(line)), "Opencast:   unreachable: connection refused");
	assert_string_equal(line_starting(text, "Updated:", line,
	    sizeof(line)), "Updated:    2026-11-26T05:04:51Z");

	assert_row(text, "NAME ", head);
	assert_row(text, "dev04-admin ", admin);
	assert_row(text, "dev04-worker1 ", w1);
	assert_row(text, "dev04-worker2 ", w2);
	assert_row(text, "dev04-db ", db);

	/* Columns line up: every row has its ID where the header has it. */
	hdr = line_starting(text, "NAME", line, sizeof(line));
	{
		size_t id_col = (size_t)(strstr(hdr, "ID") - hdr);
		char row[512];

		line_starting(text, "dev04-worker2", row, sizeof(row));
		assert_memory_equal(row + id_col, "i-0123456789abcdef0", 19);
		line_starting(text, "dev04-db", row, sizeof(row));
		assert_memory_equal(row + id_col, "i-0db ", 6);
		/* No trailing blanks after the last column. */
		assert_true(row[strlen(row) - 1] != ' ');
	}
	capture_free(&c);
	json_decref(st);
}

/* What the daemon does not know is "-", never "null" or a crash. */
static void
test_status_table_nulls(void **state)
{
	json_t *st = json_loads("{\"cluster\":\"dev04\",\"instances_online\":"
	    "null,\"workers\":null,\"workers_online\":null,\"queued_jobs\":"
	    "null,\"queued_high_load_jobs\":null,\"running_jobs\":null,"
	    "\"instances\":[{\"id\":\"i-1\",\"name\":\"dev04-nfs\",\"state\":"
	    "\"pending\",\"maintenance\":null,\"mh_host\":null,\"role\":null,"
	    "\"held\":null,\"uptime_s\":null,\"running_jobs\":null}],"
	    "\"autoscale\":{\"enabled\":false,\"reason\":\"paused by ec2ctl\","
	    "\"last_decision\":null,\"next_tick_s\":null},\"ec2\":{\"ok\":"
	    "false,\"error\":\"RequestLimitExceeded\"},\"opencast\":"
	    "{\"reachable\":null,\"error\":null},\"operation\":null,"
	    "\"updated_at\":null}", 0, NULL);
	static const char *const nfs[] = { "dev04-nfs", "i-1", "-", "pending",
	    "-", "-", "-", "-", "-", NULL };
	struct capture c;
	const char *text;
	char line[512];

	(void)state;
	assert_non_null(st);
	capture_open(&c);
	output_status_table(c.fp, st, false, false);
	text = capture_close(&c);
	assert_null(strstr(text, "null"));
	assert_string_equal(line_starting(text, "Workers:", line,
	    sizeof(line)), "Workers:    - online of -");
	assert_string_equal(line_starting(text, "Jobs:", line, sizeof(line)),
	    "Jobs:       - queued (- high-load), - running");
	assert_string_equal(line_starting(text, "Autoscale:", line,
	    sizeof(line)), "Autoscale:  off (paused by ec2ctl), next tick -");
	assert_string_equal(line_starting(text, "Decision:", line,
	    sizeof(line)), "Decision:   -");
	assert_string_equal(line_starting(text, "Operation:", line,
	    sizeof(line)), "Operation:  none");
	assert_string_equal(line_starting(text, "EC2:", line, sizeof(line)),
	    "EC2:        failing: RequestLimitExceeded");
	assert_string_equal(line_starting(text, "Opencast:", line,
	    sizeof(line)), "Opencast:   -");
	assert_string_equal(line_starting(text, "Updated:", line,
	    sizeof(line)), "Updated:    -");
	assert_row(text, "dev04-nfs", nfs);
	capture_free(&c);
	json_decref(st);

	/* Not even an object: every field is unknown. */
	st = json_loads("{\"instances\":[]}", 0, NULL);
	capture_open(&c);
	output_status_table(c.fp, st, false, false);
	text = capture_close(&c);
	assert_non_null(strstr(text, "Cluster:    -\n"));
	assert_non_null(strstr(text, "No instances.\n"));
	capture_free(&c);
	json_decref(st);
}

static void
test_uptime(void **state)
{
	static const struct {
		const char *json;
		const char *want;
	} cases[] = {
		{ "5400", "1h30m" }, { "300", "5m" }, { "359", "5m" },
		{ "42", "42s" }, { "0", "0s" }, { "3600", "1h00m" },
		{ "3660", "1h01m" }, { "86399", "23h59m" },
		{ "86400", "1d00h" },
		{ "200000", "2d07h" }, { "90.7", "1m" }, { "null", "-" },
		{ "-5", "-" }, { "\"1h\"", "-" }, { "true", "-" },
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);

		output_uptime(buf, sizeof(buf), v);
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("%s: \"%s\", not \"%s\"", cases[i].json, buf,
			    cases[i].want);
		json_decref(v);
	}
	output_uptime(buf, sizeof(buf), NULL);
	assert_string_equal(buf, "-");
}

/* Names and messages from the daemon cannot drive the terminal. */
static void
test_control_characters(void **state)
{
	json_t *st = json_loads("{\"cluster\":\"dev04\",\"instances\":[{"
	    "\"name\":\"evil\\u001b[2J\",\"id\":\"i-1\\r\"}]}", 0, NULL);
	struct capture c;
	const char *text;

	(void)state;
	capture_open(&c);
	output_status_table(c.fp, st, false, false);
	text = capture_close(&c);
	assert_null(strchr(text, '\033'));
	assert_null(strchr(text, '\r'));
	assert_non_null(strstr(text, "evil?[2J"));
	capture_free(&c);
	json_decref(st);
}

/* A status of a large cluster: admin, engage, db, then n workers of which
 * every tenth is stopped, worker 7 is pending, workers 3 and 5 are in
 * maintenance, worker 9 is held; every running worker has one job. */
static json_t *
large_status(size_t n)
{
	json_t *st = json_loads(status_json, 0, NULL);
	json_t *arr = json_array();
	static const char *const support[] = { "admin", "engage", "db" };

	assert_non_null(st);
	for (size_t i = 0; i < 3; i++)
		json_array_append_new(arr, json_pack("{s:s+, s:s+, s:s, s:s, "
		    "s:n, s:n, s:b, s:i, s:n}", "name", "big-", support[i],
		    "id", "i-s", support[i], "role", support[i],
		    "state", "running", "maintenance", "mh_host", "held", 0,
		    "uptime_s", 60, "running_jobs"));
	for (size_t i = 0; i < n; i++) {
		char name[32], id[32];
		const char *state = i % 10 == 0 ? "stopped" : i == 7 ?
		    "pending" : "running";
		bool running = strcmp(state, "running") == 0;

		snprintf(name, sizeof(name), "big-worker%zu", i);
		snprintf(id, sizeof(id), "i-w%zu", i);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, "
		    "s:o, s:n, s:b, s:i, s:o}", "name", name, "id", id,
		    "role", "worker", "state", state, "maintenance",
		    running ? json_boolean(i == 3 || i == 5) : json_null(),
		    "mh_host", "held", i == 9, "uptime_s", 60,
		    "running_jobs", running ? json_integer(1) : json_null()));
	}
	json_object_set_new(st, "instances", arr);
	return st;
}

static void
test_status_table_large(void **state)
{
	static const char *const worker[] = { "worker", "2500", "2249", "1",
	    "0", "250", "0", "2", "1", "2249", NULL };
	static const char *const total[] = { "total", "2503", "2252", "1",
	    "0", "250", "0", "2", "1", "2249", NULL };
	static const char *const admin[] = { "admin", "1", "1", "0", "0",
	    "0", "0", "0", "0", "-", NULL };
	json_t *st = large_status(2500);
	struct capture c;
	const char *text;
	size_t lines = 0;

	(void)state;
	capture_open(&c);
	output_status_table(c.fp, st, false, false);
	text = capture_close(&c);
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	/* A screenful, not 2,503 rows. */
	assert_true(lines < 40);
	assert_row(text, "ROLE", (const char *const[]){ "ROLE", "INSTANCES",
	    "RUNNING", "PENDING", "STOPPING", "STOPPED", "OTHER", "MAINT",
	    "HELD", "JOBS", NULL });
	assert_row(text, "worker ", worker);
	assert_row(text, "total ", total);
	assert_row(text, "admin ", admin);
	/* The support nodes and the notable workers have rows of their
	 * own; quiet workers do not. */
	assert_non_null(strstr(text, "\nbig-admin "));
	assert_non_null(strstr(text, "\nbig-db "));
	assert_non_null(strstr(text, "\nbig-worker3 "));
	assert_non_null(strstr(text, "\nbig-worker5 "));
	assert_non_null(strstr(text, "\nbig-worker7 "));
	assert_non_null(strstr(text, "\nbig-worker9 "));
	assert_null(strstr(text, "\nbig-worker1 "));
	assert_null(strstr(text, "\nbig-worker10 "));
	assert_non_null(strstr(text, "in maintenance or held: 4.\n"));
	assert_non_null(strstr(text, "2503 instances summarised"));
	capture_free(&c);

	/* --all lists every instance. */
	capture_open(&c);
	output_status_table(c.fp, st, true, false);
	text = capture_close(&c);
	lines = 0;
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	assert_true(lines > 2503);
	assert_non_null(strstr(text, "\nbig-worker2499 "));
	capture_free(&c);
	json_decref(st);

	/* Up to OUTPUT_TABLE_MAX_ROWS instances are listed as ever. */
	st = large_status(OUTPUT_TABLE_MAX_ROWS - 3);
	capture_open(&c);
	output_status_table(c.fp, st, false, false);
	text = capture_close(&c);
	assert_null(strstr(text, "summarised"));
	assert_non_null(strstr(text, "\nbig-worker1 "));
	capture_free(&c);
	json_decref(st);
}

static void
test_status_table_large_many_notable(void **state)
{
	json_t *st = large_status(500), *inst;
	struct capture c;
	const char *text;
	size_t i, rows = 0;

	(void)state;
	/* Every worker is held: the list stops at OUTPUT_TABLE_MAX_ROWS. */
	json_array_foreach(json_object_get(st, "instances"), i, inst)
		json_object_set_new(inst, "held", json_true());
	capture_open(&c);
	output_status_table(c.fp, st, false, false);
	text = capture_close(&c);
	for (const char *p = strstr(text, "\nbig-"); p != NULL;
	    p = strstr(p + 1, "\nbig-"))
		rows++;
	assert_int_equal(rows, OUTPUT_TABLE_MAX_ROWS);
	assert_non_null(strstr(text, "in maintenance or held: 500, the "
	    "first 37 listed.\n"));
	assert_non_null(strstr(text, "(463 more not listed)\n"));
	capture_free(&c);
	json_decref(st);
}

static void
test_status_json(void **state)
{
	json_t *st = json_loads(status_json, 0, NULL), *back;
	struct capture c;
	const char *text;

	(void)state;
	capture_open(&c);
	output_status_json(c.fp, st, false);
	text = capture_close(&c);
	/* One line, the same object. */
	assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);
	back = json_loads(text, 0, NULL);
	assert_true(json_equal(back, st));
	json_decref(back);
	capture_free(&c);

	capture_open(&c);
	output_status_json(c.fp, st, true);
	text = capture_close(&c);
	assert_non_null(strstr(text, "\n  \"cluster\": \"dev04\""));
	back = json_loads(text, 0, NULL);
	assert_true(json_equal(back, st));
	json_decref(back);
	capture_free(&c);
	json_decref(st);
}

static void
test_clusters(void **state)
{
	json_t *r = json_loads("{\"clusters\":["
	    "{\"cluster\":\"dev04\",\"instances_online\":5,\"workers\":6,"
	    "\"workers_online\":2,\"autoscale\":{\"enabled\":true,"
	    "\"reason\":null},\"operation\":null},"
	    "{\"cluster\":\"prod-eu\",\"instances_online\":12,\"workers\":10,"
	    "\"workers_online\":8,\"autoscale\":{\"enabled\":false,"
	    "\"reason\":\"paused by ec2ctl\"},\"operation\":{\"cmd\":\"scale\","
	    "\"step\":\"wait_running\",\"started_at\":\"x\"}},"
	    "{\"cluster\":\"test\",\"instances_online\":0,\"workers\":2,"
	    "\"workers_online\":0,\"autoscale\":{\"enabled\":false,"
	    "\"reason\":\"tag autoscale=off on the admin\"},"
	    "\"operation\":null}]}", 0, NULL);
	struct capture c;
	const char *text;

	(void)state;
	assert_non_null(r);
	capture_open(&c);
	output_clusters(c.fp, r, false);
	text = capture_close(&c);
	assert_string_equal(text,
	    "dev04    5 online   workers 2/6   autoscale on                    "
	    "                no operation\n"
	    "prod-eu  12 online  workers 8/10  autoscale paused by ec2ctl      "
	    "                scale (wait_running)\n"
	    "test     0 online   workers 0/2   autoscale off (tag "
	    "autoscale=off on the admin)  no operation\n");
	capture_free(&c);
	json_decref(r);
}

/* Issue 14: Updated: is the last refresh that read both EC2 and
 * Opencast (the older last_ok_at), with its age and a failed refresh
 * after it; clusters ends a cluster's line with what failed. */
static void
status_with(const char *ec2, const char *oc, char *line, size_t len)
{
	char *text;
	json_t *st;
	struct capture c;

	text = NULL;
	if (asprintf(&text, "{\"cluster\":\"dev04\",\"instances\":[],"
	    "\"ec2\":%s,\"opencast\":%s,"
	    "\"updated_at\":\"2026-11-26T05:04:51Z\"}", ec2, oc) < 0)
		fail();
	st = json_loads(text, 0, NULL);
	free(text);
	assert_non_null(st);
	capture_open(&c);
	output_status_table(c.fp, st, false, false);
	line_starting(capture_close(&c), "Updated:", line, len);
	capture_free(&c);
	json_decref(st);
}

static void
test_updated_and_failures(void **state)
{
	json_t *r;
	struct capture c;
	const char *text;
	char line[512];

	(void)state;
	/* EC2 failing: its last good read is the older one. */
	status_with("{\"ok\":false,\"error\":\"x\",\"last_ok_at\":"
	    "\"2000-01-01T00:00:00Z\"}", "{\"reachable\":true,\"error\":null,"
	    "\"last_ok_at\":\"2000-01-02T00:00:00Z\"}", line, sizeof(line));
	assert_true(strncmp(line, "Updated:    2000-01-01T00:00:00Z (",
	    34) == 0);
	assert_non_null(strstr(line, "h ago); the refresh at "
	    "2026-11-26T05:04:51Z failed"));
	/* Both fine: no failure after it. */
	status_with("{\"ok\":true,\"error\":null,\"last_ok_at\":"
	    "\"2000-01-03T00:00:00Z\"}", "{\"reachable\":true,\"error\":null,"
	    "\"last_ok_at\":\"2000-01-02T00:00:00Z\"}", line, sizeof(line));
	assert_true(strncmp(line, "Updated:    2000-01-02T00:00:00Z (",
	    34) == 0);
	assert_null(strstr(line, "failed"));
	/* Never read completely. */
	status_with("{\"ok\":false,\"error\":\"x\",\"last_ok_at\":null}",
	    "{\"reachable\":false,\"error\":\"y\",\"last_ok_at\":null}", line,
	    sizeof(line));
	assert_string_equal(line, "Updated:    never; the refresh at "
	    "2026-11-26T05:04:51Z failed");

	r = json_loads("{\"clusters\":["
	    "{\"cluster\":\"a\",\"instances_online\":0,\"workers\":0,"
	    "\"workers_online\":0,\"autoscale\":{\"enabled\":true,"
	    "\"reason\":null},\"operation\":null,"
	    "\"ec2\":{\"ok\":false,\"error\":\"no AWS credentials found\"},"
	    "\"opencast\":{\"reachable\":false,\"error\":\"not read\"}},"
	    "{\"cluster\":\"b\",\"instances_online\":0,\"workers\":0,"
	    "\"workers_online\":0,\"autoscale\":{\"enabled\":true,"
	    "\"reason\":null},\"operation\":null,"
	    "\"ec2\":{\"ok\":true,\"error\":null},"
	    "\"opencast\":{\"reachable\":false,\"error\":\"HTTP 503\"}},"
	    "{\"cluster\":\"c\",\"instances_online\":0,\"workers\":0,"
	    "\"workers_online\":0,\"autoscale\":{\"enabled\":true,"
	    "\"reason\":null},\"operation\":null,"
	    "\"ec2\":{\"ok\":true,\"error\":null},"
	    "\"opencast\":{\"reachable\":true,\"error\":null}}]}", 0, NULL);
	assert_non_null(r);
	capture_open(&c);
	output_clusters(c.fp, r, false);
	text = capture_close(&c);
	assert_string_equal(text,
	    "a  0 online  workers 0/0  autoscale on  no operation; EC2 "
	    "failing: no AWS credentials found\n"
	    "b  0 online  workers 0/0  autoscale on  no operation; Opencast "
	    "unreachable: HTTP 503\n"
	    "c  0 online  workers 0/0  autoscale on  no operation\n");
	capture_free(&c);
	json_decref(r);
}

static void
test_events(void **state)
{
	json_t *r = json_loads("{\"events\":["
	    "{\"ts\":\"2026-11-26T05:00:00Z\",\"kind\":\"decision\","
	    "\"message\":\"no change: 0 queued\"},"
	    "{\"seq\":8,\"ts\":\"2026-11-26T05:02:00Z\",\"kind\":"
	    "\"operation\",\"level\":\"info\",\"msg\":\"scale up 1 "
	    "succeeded\",\"data\":{}}]}", 0, NULL);
	struct capture c;
	const char *text;

	(void)state;
	capture_open(&c);
	output_events(c.fp, r, false);
	text = capture_close(&c);
	assert_string_equal(text,
	    "2026-11-26T05:00:00Z  decision   no change: 0 queued\n"
	    "2026-11-26T05:02:00Z  operation  scale up 1 succeeded\n");
	capture_free(&c);
	json_decref(r);
}

/* A display writing to two memory streams. */
static void
display(struct ctl_display *d, struct capture *out, struct capture *err,
    bool tty)
{
	memset(d, 0, sizeof(*d));
	capture_open(out);
	capture_open(err);
	d->out = out->fp;
	d->err = err->fp;
	d->out_tty = d->err_tty = tty;
	d->level = PROTO_LEVEL_INFO;
	d->cluster = "dev04";
	d->waited = true;
}

static void
event(struct ctl_display *d, const char *line)
{
	json_t *ev = json_loads(line, 0, NULL);

	assert_non_null(ev);
	output_human.event(d, line, ev, NOW_MS);
	json_decref(ev);
}

static void
test_events_off_terminal(void **state)
{
	struct ctl_display d;
	struct capture out, err;

	(void)state;
	display(&d, &out, &err, false);
	event(&d, "{\"id\":1,\"event\":\"log\",\"level\":\"info\","
	    "\"ts\":\"2026-11-26T05:04:00Z\",\"msg\":\"Starting 2 workers\"}");
	event(&d, "{\"id\":1,\"event\":\"log\",\"level\":\"debug\","
	    "\"ts\":\"2026-11-26T05:04:01Z\",\"msg\":\"hidden\"}");
	event(&d, "{\"id\":1,\"event\":\"progress\",\"step\":\"wait_running\","
	    "\"done\":1,\"total\":3,\"msg\":\"waiting\"}");
	event(&d, "{\"id\":1,\"event\":\"progress\",\"step\":\"wait_running\","
	    "\"done\":3,\"total\":3,\"msg\":\"\"}");
	event(&d, "{\"id\":1,\"event\":\"log\",\"level\":\"warning\","
	    "\"msg\":\"no ts\"}");
	event(&d, "{\"id\":1,\"event\":\"someday\",\"x\":1}");
	assert_string_equal(capture_close(&err),
	    "2026-11-26T05:04:00Z info: Starting 2 workers\n"
	    "2026-11-26T05:04:51Z wait_running 1/3: waiting\n"
	    "2026-11-26T05:04:51Z wait_running 3/3\n"
	    "2026-11-26T05:04:51Z warning: no ts\n");
	assert_string_equal(capture_close(&out), "");
	capture_free(&out);
	capture_free(&err);
}

static void
test_events_levels(void **state)
{
	static const char *const lines[] = {
		"{\"id\":1,\"event\":\"log\",\"level\":\"debug\","
		"\"msg\":\"d\"}",
		"{\"id\":1,\"event\":\"log\",\"level\":\"info\","
		"\"msg\":\"i\"}",
		"{\"id\":1,\"event\":\"log\",\"level\":\"warning\","
		"\"msg\":\"w\"}",
		"{\"id\":1,\"event\":\"log\",\"level\":\"error\","
		"\"msg\":\"e\"}",
		"{\"id\":1,\"event\":\"progress\",\"step\":\"s\",\"done\":1,"
		"\"total\":2,\"msg\":\"p\"}",
	};
	static const struct {
		enum proto_level level;
		const char *want;
	} cases[] = {
		{ PROTO_LEVEL_WARNING, "warning: w\nerror: e\n" },
		{ PROTO_LEVEL_INFO, "info: i\nwarning: w\nerror: e\n"
		    "\r\033[Ks 1/2: p\n" },
		{ PROTO_LEVEL_DEBUG, "debug: d\ninfo: i\nwarning: w\n"
		    "error: e\n\r\033[Ks 1/2: p\n" },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(*cases); k++) {
		struct ctl_display d;
		struct capture out, err;

		display(&d, &out, &err, true);
		d.level = cases[k].level;
		for (size_t i = 0; i < sizeof(lines) / sizeof(*lines); i++)
			event(&d, lines[i]);
		output_end_live(&d);
		assert_string_equal(capture_close(&err), cases[k].want);
		capture_close(&out);
		capture_free(&out);
		capture_free(&err);
	}
}

/* On a terminal a step is one line redrawn in place; a new step, a log
 * line or the reply end it. */
static void
test_progress_on_terminal(void **state)
{
	struct ctl_display d;
	struct capture out, err;
	json_t *result = json_loads("{}", 0, NULL);
	struct ctl_request r = { .cmd = &proto_cmds[PROTO_CMD_START] };

	(void)state;
	display(&d, &out, &err, true);
	d.err_cols = 20;
	event(&d, "{\"id\":1,\"event\":\"progress\",\"step\":\"start\","
	    "\"done\":0,\"total\":2,\"msg\":\"a\"}");
	event(&d, "{\"id\":1,\"event\":\"progress\",\"step\":\"start\","
	    "\"done\":2,\"total\":2,\"msg\":\"b\"}");
	event(&d, "{\"id\":1,\"event\":\"progress\",\"step\":\"wait\","
	    "\"done\":1,\"total\":2,\"msg\":\"a long message cut at 19\"}");
	event(&d, "{\"id\":1,\"event\":\"log\",\"level\":\"info\","
	    "\"ts\":\"x\",\"msg\":\"note\"}");
	event(&d, "{\"id\":1,\"event\":\"progress\",\"step\":\"wait\","
	    "\"done\":2,\"total\":2}");
	output_human.result(&d, &r, "{}", result);
	assert_string_equal(capture_close(&err),
	    "\r\033[Kstart 0/2: a\r\033[Kstart 2/2: b\n"
	    "\r\033[Kwait 1/2: a long me\n"
	    "info: note\n"
	    "\r\033[Kwait 2/2\n");
	assert_string_equal(capture_close(&out), "dev04: start done\n");
	assert_false(d.live);
	capture_free(&out);
	capture_free(&err);
	json_decref(result);
}

/* With -j, events, results and errors are the lines as received, whatever
 * the level; stderr gets the reason of the failure only. */
static void
test_json_mode_is_verbatim(void **state)
{
	static const char ev_line[] = "{\"id\": 1, \"event\": \"log\", "
	    "\"level\": \"debug\", \"msg\": \"as sent\"}";
	static const char ok_line[] = "{\"result\":{\"message\":\"x\"},"
	    "\"ok\":true,\"id\":1}";
	static const char err_line[] = "{\"id\":2,\"ok\":false,\"error\":"
	    "{\"code\":\"refused\",\"message\":\"no\"}}";
	struct ctl_request r = { .cmd = &proto_cmds[PROTO_CMD_STATUS] };
	struct ctl_display d;
	struct capture out, err;
	json_t *ev = json_loads(ev_line, 0, NULL);
	json_t *ok = json_loads(ok_line, 0, NULL);

	(void)state;
	display(&d, &out, &err, false);
	d.level = PROTO_LEVEL_WARNING;
	output_json.event(&d, ev_line, ev, NOW_MS);
	output_json.result(&d, &r, ok_line, json_object_get(ok, "result"));
	output_json.error(&d, err_line, "refused", "no");
	assert_string_equal(capture_close(&out), "{\"id\": 1, \"event\": "
	    "\"log\", \"level\": \"debug\", \"msg\": \"as sent\"}\n"
	    "{\"result\":{\"message\":\"x\"},\"ok\":true,\"id\":1}\n"
	    "{\"id\":2,\"ok\":false,\"error\":{\"code\":\"refused\","
	    "\"message\":\"no\"}}\n");
	assert_string_equal(capture_close(&err), "ec2ctl: no\n");
	capture_free(&out);
	capture_free(&err);
	json_decref(ev);
	json_decref(ok);
}

/* Piped without -j: the same JSON lines on stdout, and the log and
 * progress events for people on stderr; history entries are output and
 * stay on stdout alone. */
static void
test_json_mode_echo(void **state)
{
	static const char *const lines[] = {
		"{\"id\":1,\"event\":\"log\",\"level\":\"info\","
		"\"ts\":\"2026-11-26T05:04:00Z\",\"msg\":\"Starting\"}",
		"{\"id\":1,\"event\":\"log\",\"level\":\"debug\","
		"\"ts\":\"2026-11-26T05:04:00Z\",\"msg\":\"hidden\"}",
		"{\"id\":1,\"event\":\"progress\",\"step\":\"wait\","
		"\"done\":1,\"total\":2,\"msg\":\"w\"}",
		"{\"id\":1,\"event\":\"entry\",\"seq\":3,\"ts\":\"t\","
		"\"kind\":\"decision\",\"level\":\"info\",\"msg\":\"m\"}",
	};
	struct ctl_display d;
	struct capture out, err;

	(void)state;
	display(&d, &out, &err, false);
	d.echo = true;
	for (size_t i = 0; i < sizeof(lines) / sizeof(*lines); i++) {
		json_t *ev = json_loads(lines[i], 0, NULL);

		output_json.event(&d, lines[i], ev, NOW_MS);
		json_decref(ev);
	}
	assert_string_equal(capture_close(&out), "{\"id\":1,\"event\":"
	    "\"log\",\"level\":\"info\",\"ts\":\"2026-11-26T05:04:00Z\","
	    "\"msg\":\"Starting\"}\n"
	    "{\"id\":1,\"event\":\"log\",\"level\":\"debug\","
	    "\"ts\":\"2026-11-26T05:04:00Z\",\"msg\":\"hidden\"}\n"
	    "{\"id\":1,\"event\":\"progress\",\"step\":\"wait\","
	    "\"done\":1,\"total\":2,\"msg\":\"w\"}\n"
	    "{\"id\":1,\"event\":\"entry\",\"seq\":3,\"ts\":\"t\","
	    "\"kind\":\"decision\",\"level\":\"info\",\"msg\":\"m\"}\n");
	assert_string_equal(capture_close(&err),
	    "2026-11-26T05:04:00Z info: Starting\n"
	    "2026-11-26T05:04:51Z wait 1/2: w\n");
	capture_free(&out);
	capture_free(&err);
}

/* events --follow for people: each entry a line on stdout as it comes,
 * a "lost" notice on stderr, the daemon's end of the stream on stderr. */
static void
test_follow_for_people(void **state)
{
	struct ctl_request r = { .cmd = &proto_cmds[PROTO_CMD_EVENTS],
	    .follow = true };
	json_t *end = json_loads("{\"cluster\":\"dev04\",\"end\":"
	    "\"the daemon is stopping\"}", 0, NULL);
	struct ctl_display d;
	struct capture out, err;

	(void)state;
	display(&d, &out, &err, false);
	event(&d, "{\"id\":1,\"event\":\"entry\",\"seq\":3,\"ts\":"
	    "\"2026-11-26T05:00:00Z\",\"kind\":\"decision\",\"level\":"
	    "\"info\",\"msg\":\"no change\"}");
	event(&d, "{\"id\":1,\"event\":\"lost\",\"count\":2,\"msg\":"
	    "\"2 events left out: the client read too slowly\"}");
	event(&d, "{\"id\":1,\"event\":\"entry\",\"seq\":6,\"ts\":"
	    "\"2026-11-26T05:01:00Z\",\"kind\":\"operation\",\"level\":"
	    "\"warning\",\"msg\":\"stop failed\"}");
	output_human.result(&d, &r, "", end);
	assert_string_equal(capture_close(&out),
	    "2026-11-26T05:00:00Z  decision   no change\n"
	    "2026-11-26T05:01:00Z  operation  stop failed\n");
	assert_string_equal(capture_close(&err),
	    "warning: 2 events left out: the client read too slowly\n"
	    "ec2ctl: dev04: no more events: the daemon is stopping\n");
	capture_free(&out);
	capture_free(&err);
	json_decref(end);
}

/* Colours: only for a terminal, never with NO_COLOR set (not empty) or
 * TERM=dumb; they change no column. */
static void
test_colors(void **state)
{
	json_t *st = json_loads(status_json, 0, NULL);
	json_t *ev = json_loads("{\"events\":[{\"ts\":\"t\",\"kind\":"
	    "\"operation\",\"level\":\"warning\",\"msg\":\"w\"}]}", 0,
	    NULL);
	struct capture plain, color;
	struct ctl_display d;
	struct capture out, err;
	char *stripped;
	size_t n = 0;

	(void)state;
	assert_true(output_color_wanted(true, NULL, "xterm"));
	assert_true(output_color_wanted(true, "", "xterm"));
	assert_true(output_color_wanted(true, NULL, NULL));
	assert_false(output_color_wanted(true, "1", "xterm"));
	assert_false(output_color_wanted(true, "0", "xterm"));
	assert_false(output_color_wanted(false, NULL, "xterm"));
	assert_false(output_color_wanted(true, NULL, "dumb"));

	capture_open(&plain);
	output_status_table(plain.fp, st, false, false);
	capture_close(&plain);
	capture_open(&color);
	output_status_table(color.fp, st, false, true);
	capture_close(&color);
	assert_null(strchr(plain.text, '\033'));
	assert_non_null(strstr(color.text, "\033[32mrunning\033[0m"));
	assert_non_null(strstr(color.text, "\033[31munreachable\033[0m"));
	/* Without its escapes the coloured table is the plain one. */
	stripped = calloc(1, color.len + 1);
	for (size_t i = 0; i < color.len; i++) {
		if (color.text[i] == '\033') {
			i += strcspn(color.text + i, "m");
			continue;
		}
		stripped[n++] = color.text[i];
	}
	assert_string_equal(stripped, plain.text);
	free(stripped);
	capture_free(&plain);
	capture_free(&color);

	/* A cluster whose EC2 fails: its last column in red. */
	{
		json_t *cl = json_loads("{\"clusters\":[{\"cluster\":\"a\","
		    "\"operation\":null,\"ec2\":{\"ok\":false,\"error\":"
		    "\"x\"}},{\"cluster\":\"b\",\"operation\":{\"cmd\":"
		    "\"stop\",\"step\":\"s\"}}]}", 0, NULL);

		capture_open(&color);
		output_clusters(color.fp, cl, true);
		capture_close(&color);
		assert_non_null(strstr(color.text, "\033[31mno operation; "
		    "EC2 failing: x\033[0m\n"));
		assert_non_null(strstr(color.text, "\033[33mstop (s)\033[0m"));
		capture_free(&color);
		json_decref(cl);
	}
	capture_open(&color);
	output_events(color.fp, ev, true);
	assert_string_equal(capture_close(&color),
	    "t  operation  \033[33mw\033[0m\n");
	capture_free(&color);

	display(&d, &out, &err, true);
	d.color_err = true;
	event(&d, "{\"id\":1,\"event\":\"log\",\"level\":\"error\","
	    "\"msg\":\"e\"}");
	output_human.error(&d, "{}", "refused", "no");
	assert_string_equal(capture_close(&err), "\033[31merror\033[0m: e\n"
	    "ec2ctl: \033[31mno\033[0m\n");
	capture_close(&out);
	capture_free(&out);
	capture_free(&err);
	json_decref(st);
	json_decref(ev);
}

/* Shows result for request r and checks what reached stdout. */
static void
assert_result(struct ctl_request *r, const char *result, bool waited,
    bool dry_run, bool tty, const char *want)
{
	json_t *res = result ? json_loads(result, 0, NULL) : NULL;
	struct ctl_display d;
	struct capture out, err;

	display(&d, &out, &err, tty);
	d.waited = waited;
	d.dry_run = dry_run;
	output_human.result(&d, r, result ? result : "", res);
	if (strcmp(capture_close(&out), want) != 0)
		fail_msg("got \"%s\", wanted \"%s\"", out.text, want);
	assert_string_equal(capture_close(&err), "");
	capture_free(&out);
	capture_free(&err);
	json_decref(res);
}

static void
test_results(void **state)
{
	struct ctl_request stop = { .cmd = &proto_cmds[PROTO_CMD_STOP] };
	struct ctl_request scale = { .cmd = &proto_cmds[PROTO_CMD_SCALE] };
	struct ctl_request as = { .cmd = &proto_cmds[PROTO_CMD_AUTOSCALE] };
	struct ctl_request ping = { .cmd = &proto_cmds[PROTO_CMD_PING] };
	struct ctl_request ver = { .cmd = &proto_cmds[PROTO_CMD_VERSION] };
	struct ctl_request st = { .cmd = &proto_cmds[PROTO_CMD_STATUS] };

	(void)state;
	assert_result(&stop, "{\"message\":\"Stopped 8 instances\"}", true,
	    false, false, "Stopped 8 instances\n");
	assert_result(&stop, "{}", true, false, false, "dev04: stop done\n");
	assert_result(&stop, NULL, true, false, false, "dev04: stop done\n");
	assert_result(&scale, "{}", false, false, false,
	    "dev04: scale accepted\n");
	assert_result(&scale, "{}", true, true, false,
	    "dev04: scale would succeed (dry run)\n");
	assert_result(&as, "{\"decision\":{\"action\":\"none\",\"reason\":"
	    "\"no workers available to stop\"}}", true, false, false,
	    "dev04: autoscale: none: no workers available to stop\n");
	assert_result(&ping, "{}", true, false, false, "pong\n");
	assert_result(&ver, "{\"version\":\"0.1.0\"}", true, false, false,
	    "ec2-managerd 0.1.0\n");
	assert_result(&ver, "{}", true, false, false, "ec2-managerd -\n");
	/* For people, status is a table even off a terminal (-f table);
	 * JSON is output_json's. */
	assert_result(&st, "{\"cluster\":\"dev04\"}", true, false, false,
	    "Cluster:    dev04\n"
	    "Instances:  - online\n"
	    "Workers:    - online of -\n"
	    "Jobs:       - queued (- high-load), - running\n"
	    "Autoscale:  -, next tick -\n"
	    "Decision:   -\n"
	    "Operation:  -\n"
	    "EC2:        -\n"
	    "Opencast:   -\n"
	    "Updated:    -\n"
	    "\n"
	    "No instances.\n");
}

static void
test_status_auto_on_terminal(void **state)
{
	struct ctl_request st = { .cmd = &proto_cmds[PROTO_CMD_STATUS] };
	json_t *res = json_loads(status_json, 0, NULL);
	struct ctl_display d;
	struct capture out, err;
	const char *text;

	(void)state;
	display(&d, &out, &err, true);
	output_human.result(&d, &st, status_json, res);
	text = capture_close(&out);
	assert_true(strncmp(text, "Cluster:    dev04\n", 18) == 0);
	capture_free(&out);
	capture_close(&err);
	capture_free(&err);

	/* --watch on a terminal redraws the whole screen. */
	st.watch = true;
	display(&d, &out, &err, true);
	output_human.result(&d, &st, status_json, res);
	text = capture_close(&out);
	assert_true(strncmp(text, "\033[H\033[2JCluster:", 15) == 0);
	capture_free(&out);
	capture_close(&err);
	capture_free(&err);
	json_decref(res);
}

static void
test_errors(void **state)
{
	static const struct {
		const char *code, *message, *want;
	} cases[] = {
		{ "refused", "Stopping 2 workers violates min workers setting "
		  "of 2", "ec2ctl: Stopping 2 workers violates min workers "
		  "setting of 2\n" },
		{ "permission_denied", "stop needs uid 0 or group ec2-manager",
		  "ec2ctl: permission denied: stop needs uid 0 or group "
		  "ec2-manager\n" },
		{ "busy", NULL, "ec2ctl: busy\n" },
		{ NULL, NULL, "ec2ctl: the daemon gave no reason\n" },
		{ "internal", "line\nbreak", "ec2ctl: line?break\n" },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(*cases); k++) {
		struct ctl_display d;
		struct capture out, err;

		display(&d, &out, &err, false);
		output_human.error(&d, "{}", cases[k].code, cases[k].message);
		assert_string_equal(capture_close(&err), cases[k].want);
		assert_string_equal(capture_close(&out), "");
		capture_free(&out);
		capture_free(&err);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_table),
		cmocka_unit_test(test_status_table_nulls),
		cmocka_unit_test(test_status_table_large),
		cmocka_unit_test(test_status_table_large_many_notable),
		cmocka_unit_test(test_uptime),
		cmocka_unit_test(test_control_characters),
		cmocka_unit_test(test_status_json),
		cmocka_unit_test(test_clusters),
		cmocka_unit_test(test_updated_and_failures),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_events_off_terminal),
		cmocka_unit_test(test_events_levels),
		cmocka_unit_test(test_progress_on_terminal),
		cmocka_unit_test(test_json_mode_is_verbatim),
		cmocka_unit_test(test_json_mode_echo),
		cmocka_unit_test(test_follow_for_people),
		cmocka_unit_test(test_colors),
		cmocka_unit_test(test_results),
		cmocka_unit_test(test_status_auto_on_terminal),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
