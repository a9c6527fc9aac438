/* The crash record (daemon/opjournal.c, opjournal_file.c): its text and
 * the parser of it (round trip, every refusal with a reason), the plan of
 * a recovery on hand-built models, and the file written atomically in a
 * temporary state_dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/opjournal.h"

static void
sample(struct opjournal *j)
{
	opjournal_init(j);
	opjournal_set(&j->cluster, "dev04");
	opjournal_set(&j->operation, "scale down 2");
	opjournal_set(&j->initiator, "uid 0 pid 42");
	j->started_ms = INT64_C(1796403960000);
	j->pid = 4242;
	opjournal_add_node(j, "http://10.0.1.11:8080", "i-0a");
	opjournal_add_node(j, "http://10.0.1.12:8080", "i-0b");
	strv_add(&j->stopping, "i-0a");
}

static void
assert_same(const struct opjournal *a, const struct opjournal *b)
{
	assert_string_equal(a->cluster, b->cluster);
	assert_string_equal(a->operation, b->operation);
	if (a->initiator == NULL)
		assert_null(b->initiator);
	else
		assert_string_equal(a->initiator, b->initiator);
	assert_int_equal(a->started_ms, b->started_ms);
	assert_int_equal(a->pid, b->pid);
	assert_int_equal(a->hosts.n, b->hosts.n);
	assert_int_equal(a->ids.n, b->ids.n);
	for (size_t i = 0; i < a->hosts.n; i++) {
		assert_string_equal(a->hosts.v[i], b->hosts.v[i]);
		assert_string_equal(a->ids.v[i], b->ids.v[i]);
	}
	assert_int_equal(a->stopping.n, b->stopping.n);
	for (size_t i = 0; i < a->stopping.n; i++)
		assert_string_equal(a->stopping.v[i], b->stopping.v[i]);
}

static void
test_round_trip(void **state)
{
	struct opjournal j, back;
	char err[256], *text;

	(void)state;
	sample(&j);
	text = opjournal_dump(&j);
	assert_non_null(strstr(text,
	    "\"started_at\":\"2026-12-04T17:06:00Z\""));
	assert_int_equal(text[strlen(text) - 1], '\n');
	assert_true(strchr(text, '\n') == text + strlen(text) - 1);
	assert_int_equal(opjournal_parse(text, strlen(text), &back, err,
	    sizeof(err)), 0);
	assert_same(&j, &back);
	free(text);
	opjournal_release(&back);

	/* No initiator, nothing recorded, text outside ASCII. */
	opjournal_release(&j);
	opjournal_init(&j);
	opjournal_set(&j.cluster, "dev04");
	opjournal_set(&j.operation, "stop (dry run) \xc3\xa9");
	text = opjournal_dump(&j);
	assert_int_equal(opjournal_parse(text, strlen(text), &back, err,
	    sizeof(err)), 0);
	assert_same(&j, &back);
	free(text);
	opjournal_release(&back);
	opjournal_release(&j);
}

static void
test_nodes(void **state)
{
	struct opjournal j;

	(void)state;
	sample(&j);
	/* A host is listed once. */
	opjournal_add_node(&j, "http://10.0.1.11:8080", "i-0a");
	assert_int_equal(j.hosts.n, 2);
	assert_true(opjournal_remove_host(&j, "http://10.0.1.11:8080"));
	assert_false(opjournal_remove_host(&j, "http://10.0.1.11:8080"));
	assert_int_equal(j.hosts.n, 1);
	assert_string_equal(j.ids.v[0], "i-0b");
	assert_false(opjournal_remove_instance(&j, "i-0a"));
	assert_true(opjournal_remove_instance(&j, "i-0b"));
	assert_int_equal(j.hosts.n, 0);
	assert_int_equal(j.ids.n, 0);
	opjournal_release(&j);
	assert_null(j.cluster);
}

/* Each refusal has a reason that names what is wrong. */
static void
refused(const char *text, const char *reason)
{
	struct opjournal j;
	char err[256];

	err[0] = '\0';
	assert_int_equal(opjournal_parse(text, strlen(text), &j, err,
	    sizeof(err)), -1);
	if (strstr(err, reason) == NULL)
		fail_msg("\"%s\": \"%s\" lacks \"%s\"", text, err, reason);
	assert_true(utf8_valid(err, strlen(err)));
	assert_null(j.cluster);
	assert_int_equal(j.hosts.n, 0);
}

static void
test_refusals(void **state)
{
	char *big;
	size_t n;

	(void)state;
	refused("", "not JSON");
	refused("{\"version\":1,", "not JSON");
	refused("[]", "not a JSON object");
	refused("{}", "\"version\" is missing");
	refused("{\"version\":2}", "version 2 is not 1");
	refused("{\"version\":1,\"operation\":\"stop\",\"maintenance\":[]}",
	    "\"cluster\" is not a string");
	refused("{\"version\":1,\"cluster\":\"\",\"operation\":\"stop\","
	    "\"maintenance\":[]}", "\"cluster\" is empty");
	refused("{\"version\":1,\"cluster\":\"a\\u0000b\","
	    "\"operation\":\"stop\",\"maintenance\":[]}", "not JSON");
	refused("{\"version\":1,\"cluster\":\"dev04\",\"operation\":\"stop\"}",
	    "\"maintenance\" is missing");
	refused("{\"version\":1,\"cluster\":\"dev04\",\"operation\":\"stop\","
	    "\"maintenance\":{}}", "\"maintenance\" is not a list");
	refused("{\"version\":1,\"cluster\":\"dev04\",\"operation\":\"stop\","
	    "\"maintenance\":[1]}", "maintenance[0] is not an object");
	refused("{\"version\":1,\"cluster\":\"dev04\",\"operation\":\"stop\","
	    "\"maintenance\":[{\"host\":\"h\"}]}",
	    "maintenance[0].instance is not a string");
	refused("{\"version\":1,\"cluster\":\"dev04\",\"operation\":\"stop\","
	    "\"maintenance\":[],\"stopping\":[\"i-1\",7]}",
	    "stopping[1] is not a string");
	refused("{\"version\":1,\"cluster\":\"dev04\",\"operation\":\"stop\","
	    "\"maintenance\":[],\"started_ms\":-1}", "\"started_ms\" is not");
	refused("{\"version\":1,\"cluster\":\"dev04\",\"operation\":\"stop\","
	    "\"maintenance\":[],\"pid\":\"42\"}", "\"pid\" is not");
	refused("{\"version\":1,\"version\":1}", "not JSON");
	/* Too many nodes. */
	big = xmalloc(OPJOURNAL_MAX_NODES * 40 + 200);
	n = (size_t)sprintf(big, "{\"version\":1,\"cluster\":\"dev04\","
	    "\"operation\":\"stop\",\"maintenance\":[],\"stopping\":[");
	for (int i = 0; i <= OPJOURNAL_MAX_NODES; i++)
		n += (size_t)sprintf(big + n, "%s\"i-%d\"", i ? "," : "", i);
	sprintf(big + n, "]}");
	refused(big, "too many");
	free(big);
	/* Larger than any record. */
	big = xcalloc(1, OPJOURNAL_MAX_FILE + 2);
	memset(big, ' ', OPJOURNAL_MAX_FILE + 1);
	refused(big, "too large");
	free(big);
}

static void
test_lenient_parts(void **state)
{
	static const char text[] = "{\"version\":1,\"cluster\":\"dev04\","
	    "\"operation\":\"stop\",\"initiator\":null,\"future\":[1,2],"
	    "\"maintenance\":[{\"host\":\"h1\",\"instance\":\"i-1\","
	    "\"note\":true},{\"host\":\"h1\",\"instance\":\"i-1\"}],"
	    "\"stopping\":[\"i-1\",\"i-1\"]}";
	struct opjournal j;
	char err[256];

	(void)state;
	/* Unknown keys are ignored, repeats are listed once, optional
	 * parts may be missing. */
	assert_int_equal(opjournal_parse(text, sizeof(text) - 1, &j, err,
	    sizeof(err)), 0);
	assert_null(j.initiator);
	assert_int_equal(j.started_ms, 0);
	assert_int_equal(j.hosts.n, 1);
	assert_int_equal(j.stopping.n, 1);
	opjournal_release(&j);
}

/* The plan: a model of five recorded nodes in different states. */
static void
test_plan(void **state)
{
	struct ec2_instance inst[5] = {
		{ .id = "i-run-in", .state = EC2_STATE_RUNNING },
		{ .id = "i-run-out", .state = EC2_STATE_RUNNING },
		{ .id = "i-stopped", .state = EC2_STATE_STOPPED },
		{ .id = "i-unknown", .state = EC2_STATE_RUNNING },
		{ .id = "i-moved", .state = EC2_STATE_RUNNING },
	};
	struct oc_host host[5] = {
		{ .base_url = "http://h0", .online = true,
		  .maintenance = true },
		{ .base_url = "http://h1", .online = true },
		{ .base_url = "http://h2", .online = true,
		  .maintenance = true },
		{ .base_url = "http://h3" },
		{ .base_url = "http://h4-new", .online = true },
	};
	struct model_member m[5];
	struct model md = { .m = m, .n = 5, .opencast_known = true };
	struct opjournal j;
	struct opjournal_plan p;

	(void)state;
	memset(m, 0, sizeof(m));
	for (int i = 0; i < 5; i++) {
		m[i].inst = &inst[i];
		m[i].role = ROLE_WORKER;
		m[i].host = i == 3 ? NULL : &host[i];
	}
	opjournal_init(&j);
	opjournal_set(&j.cluster, "dev04");
	opjournal_set(&j.operation, "stop");
	opjournal_add_node(&j, "http://h0", "i-run-in");
	opjournal_add_node(&j, "http://h1", "i-run-out");
	opjournal_add_node(&j, "http://h2", "i-stopped");
	opjournal_add_node(&j, "http://h3", "i-unknown");
	opjournal_add_node(&j, "http://h4", "i-moved");
	opjournal_add_node(&j, "http://h5", "i-gone");
	strv_add(&j.stopping, "i-stopped");

	opjournal_plan(&j, &md, &p);
	/* In maintenance, unmapped, or mapped to another URL: restore. */
	assert_int_equal(p.hosts.n, 3);
	assert_string_equal(p.hosts.v[0], "http://h0");
	assert_string_equal(p.ids.v[0], "i-run-in");
	assert_string_equal(p.hosts.v[1], "http://h3");
	assert_string_equal(p.hosts.v[2], "http://h4");
	assert_int_equal(p.notes.n, 3);
	assert_string_equal(p.notes.v[0], "i-run-out (http://h1) is out of "
	    "maintenance already");
	assert_string_equal(p.notes.v[1], "i-stopped (http://h2) is stopped: "
	    "left as it is");
	assert_string_equal(p.notes.v[2], "i-gone (http://h5) is gone: left "
	    "as it is");
	opjournal_plan_release(&p);

	/* Opencast unknown: every running one, the switch is idempotent. */
	md.opencast_known = false;
	opjournal_plan(&j, &md, &p);
	assert_int_equal(p.hosts.n, 4);
	assert_int_equal(p.notes.n, 2);
	opjournal_plan_release(&p);
	opjournal_release(&j);
}

/* A temporary state_dir. */
static char *
tmpdir(void)
{
	char *d = xstrdup("/tmp/ec2m-opjournal-XXXXXX");

	assert_non_null(mkdtemp(d));
	return d;
}

static size_t
entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
put(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

static void
test_file(void **state)
{
	char *dir = tmpdir(), *path, *bad, err[512];
	struct opjournal j, back;

	(void)state;
	sample(&j);
	assert_false(opjournal_exists(dir, "dev04"));
	assert_int_equal(opjournal_load(dir, "dev04", &back, err,
	    sizeof(err)), 0);
	assert_int_equal(opjournal_remove(dir, "dev04", err, sizeof(err)), 0);

	assert_int_equal(opjournal_save(dir, &j, err, sizeof(err)), 0);
	assert_true(opjournal_exists(dir, "dev04"));
	assert_int_equal(entries(dir), 1);	/* no temporary file left */
	path = opjournal_path(dir, "dev04");
	assert_true(strstr(path, "/op-dev04.json") != NULL);
	assert_int_equal(opjournal_load(dir, "dev04", &back, err,
	    sizeof(err)), 1);
	assert_same(&j, &back);
	opjournal_release(&back);

	/* Replaced as a whole. */
	opjournal_remove_host(&j, "http://10.0.1.11:8080");
	assert_int_equal(opjournal_save(dir, &j, err, sizeof(err)), 0);
	assert_int_equal(opjournal_load(dir, "dev04", &back, err,
	    sizeof(err)), 1);
	assert_int_equal(back.hosts.n, 1);
	opjournal_release(&back);

	/* Another cluster's record under this name is refused. */
	assert_int_equal(opjournal_load(dir, "dev05", &back, err,
	    sizeof(err)), 0);
	put(dir, "op-dev05.json", "{\"version\":1,\"cluster\":\"dev04\","
	    "\"operation\":\"stop\",\"maintenance\":[]}");
	assert_int_equal(opjournal_load(dir, "dev05", &back, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "is the record of cluster dev04"));

	/* A record cut short, then set aside. */
	put(dir, "op-dev04.json", "{\"version\":1,\"clus");
	assert_int_equal(opjournal_load(dir, "dev04", &back, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "op-dev04.json: not JSON"));
	assert_int_equal(opjournal_set_aside(dir, "dev04", err, sizeof(err)),
	    0);
	assert_false(opjournal_exists(dir, "dev04"));
	bad = xasprintf("%s.bad", path);
	assert_int_equal(access(bad, F_OK), 0);

	assert_int_equal(opjournal_remove(dir, "dev05", err, sizeof(err)), 0);
	assert_false(opjournal_exists(dir, "dev05"));
	unlink(bad);
	free(bad);
	free(path);

	/* A directory that is not there. */
	path = xasprintf("%s/missing", dir);
	assert_int_equal(opjournal_save(path, &j, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot write"));
	free(path);
	assert_int_equal(rmdir(dir), 0);
	free(dir);
	opjournal_release(&j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_nodes),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_lenient_parts),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
