/* Zadara portal answers: the VPSA object (id as number or string, every
 * status, missing fields, garbage), the status classification, the answer
 * to hibernate and restore, and the message in error bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "daemon/zadara_msg.h"

static int
parse(const char *json, struct zadara_vpsa *v, struct zadara_error *err)
{
	memset(err, 0, sizeof(*err));
	return zadara_parse_vpsa(json, strlen(json), v, err);
}

static void
test_vpsa_full(void **state)
{
	/* The shape of the zadarest.py fixture (reference §6). */
	const char *json = "{\"vpsa\": {\"allocation_zones\": [\"zone_0\"],"
	    "\"cache\": {\"total_partitions\": 1, \"total_gb\": 20},"
	    "\"description\": \"Description for vpsa this_vpsa\","
	    "\"drive_count\": 3, \"engine\": {\"key\": \"vsa.V2.xlarge.vf\","
	    "\"name\": \"1200\"}, \"id\": 1234, \"ip_address\": \"10.0.0.10\","
	    "\"locked_down\": false, \"management_url\": "
	    "\"https://vpsa-00001234-aws2.zadaravpsa.com\", \"name\": "
	    "\"this_vpsa\", \"provider\": {\"key\": \"aws2\"}, \"status\": "
	    "\"hibernated\", \"time_created_gmt\": \"2015-01-09 22:47:37\","
	    "\"version\": \"Z2\"}}";
	struct zadara_vpsa v;
	struct zadara_error err;

	(void)state;
	assert_int_equal(parse(json, &v, &err), 0);
	assert_string_equal(v.id, "1234");
	assert_string_equal(v.name, "this_vpsa");
	assert_string_equal(v.status, "hibernated");
	assert_int_equal(v.state, ZADARA_DOWN);
}

static void
test_vpsa_id_shapes(void **state)
{
	struct zadara_vpsa v;
	struct zadara_error err;

	(void)state;
	assert_int_equal(parse("{\"vpsa\":{\"id\":\"1234\",\"status\":"
	    "\"created\"}}", &v, &err), 0);
	assert_string_equal(v.id, "1234");
	assert_int_equal(v.state, ZADARA_UP);
	assert_int_equal(parse("{\"vpsa\":{\"id\":\"vsa-0000000a\","
	    "\"status\":\"created\"}}", &v, &err), 0);
	assert_string_equal(v.id, "vsa-0000000a");
	/* A whole number written as a real is still an id. */
	assert_int_equal(parse("{\"vpsa\":{\"id\":1234.0,\"status\":"
	    "\"created\"}}", &v, &err), 0);
	assert_string_equal(v.id, "1234");
	/* A bare VPSA object is accepted as well. */
	assert_int_equal(parse("{\"id\":7,\"status\":\"booting\"}", &v, &err),
	    0);
	assert_string_equal(v.id, "7");
	assert_int_equal(v.state, ZADARA_TRANSITIONAL);
	/* A numeric name arrives as text. */
	assert_int_equal(parse("{\"vpsa\":{\"id\":1,\"name\":42,\"status\":"
	    "\"created\"}}", &v, &err), 0);
	assert_string_equal(v.name, "42");

	assert_int_equal(parse("{\"vpsa\":{\"id\":12.5,\"status\":"
	    "\"created\"}}", &v, &err), -1);
	assert_int_equal(err.kind, ZADARA_ERR_PARSE);
	assert_non_null(strstr(err.message, "\"id\""));
	assert_int_equal(parse("{\"vpsa\":{\"id\":true,\"status\":"
	    "\"created\"}}", &v, &err), -1);
	assert_int_equal(parse("{\"vpsa\":{\"id\":\"\",\"status\":"
	    "\"created\"}}", &v, &err), -1);
	assert_int_equal(parse("{\"vpsa\":{\"id\":[1],\"status\":"
	    "\"created\"}}", &v, &err), -1);
}

static void
test_vpsa_missing_fields(void **state)
{
	struct zadara_vpsa v;
	struct zadara_error err;

	(void)state;
	/* No id and no name: left empty for the client to fill in. */
	assert_int_equal(parse("{\"vpsa\":{\"status\":\"launching\"}}", &v,
	    &err), 0);
	assert_string_equal(v.id, "");
	assert_string_equal(v.name, "");
	assert_int_equal(v.state, ZADARA_TRANSITIONAL);
	assert_int_equal(parse("{\"vpsa\":{\"id\":1,\"name\":null,"
	    "\"status\":\"failed\"}}", &v, &err), 0);
	assert_string_equal(v.name, "");
	assert_int_equal(v.state, ZADARA_FAILED);

	/* The status is what the answer is for. */
	assert_int_equal(parse("{\"vpsa\":{\"id\":1}}", &v, &err), -1);
	assert_int_equal(err.kind, ZADARA_ERR_PARSE);
	assert_string_equal(err.message, "the VPSA answer has no \"status\"");
	assert_int_equal(parse("{\"vpsa\":{\"id\":1,\"status\":null}}", &v,
	    &err), -1);
	/* An empty status is no status (found by fuzz_zadara_msg). */
	assert_int_equal(parse("{\"vpsa\":{\"id\":1,\"status\":\"\"}}", &v,
	    &err), -1);
	assert_string_equal(err.message, "the VPSA answer has no \"status\"");
	assert_int_equal(parse("{\"vpsa\":{\"id\":1,\"status\":5}}", &v,
	    &err), -1);
	assert_non_null(strstr(err.message, "\"status\" is not"));
	assert_int_equal(parse("{\"vpsas\":[]}", &v, &err), -1);
	assert_string_equal(err.message,
	    "the VPSA answer has no \"vpsa\" object");
	assert_int_equal(parse("{\"vpsa\":\"created\"}", &v, &err), -1);
	assert_int_equal(parse("{\"vpsa\":null}", &v, &err), -1);
}

static void
test_vpsa_garbage(void **state)
{
	struct zadara_vpsa v;
	struct zadara_error err;
	char long_status[200];

	(void)state;
	assert_int_equal(parse("{\"vpsa\":{\"id\":1,\"status\":\"cre", &v,
	    &err), -1);
	assert_int_equal(err.kind, ZADARA_ERR_PARSE);
	assert_non_null(strstr(err.message, "malformed JSON in the VPSA "
	    "answer"));
	assert_non_null(strstr(err.message, "position 29"));
	assert_int_equal(v.state, ZADARA_UNKNOWN);
	assert_string_equal(v.status, "");

	assert_int_equal(parse("<html><body>502 Bad Gateway</body></html>",
	    &v, &err), -1);
	assert_non_null(strstr(err.message, "line 1, column 1, position 1"));
	assert_int_equal(parse("", &v, &err), -1);
	assert_int_equal(err.kind, ZADARA_ERR_PARSE);
	assert_int_equal(parse("[1,2]", &v, &err), -1);
	assert_string_equal(err.message,
	    "the VPSA answer is not a JSON object");

	/* An overlong status is refused rather than cut into another. */
	memset(long_status, 'x', sizeof(long_status));
	memcpy(long_status, "{\"vpsa\":{\"status\":\"", 19);
	memcpy(long_status + sizeof(long_status) - 5, "\"}}", 4);
	assert_int_equal(parse(long_status, &v, &err), -1);

	/* Control characters in the name do not reach log lines. */
	assert_int_equal(parse("{\"vpsa\":{\"id\":1,\"name\":\"a\\nb\\u0001c\","
	    "\"status\":\"created\"}}", &v, &err), 0);
	assert_string_equal(v.name, "a b c");
}

static void
test_vpsa_long_name_is_cut(void **state)
{
	char json[600], name[300];
	struct zadara_vpsa v;
	struct zadara_error err;

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(json, sizeof(json), "{\"vpsa\":{\"id\":1,\"name\":\"%s\","
	    "\"status\":\"created\"}}", name);
	assert_int_equal(parse(json, &v, &err), 0);
	assert_int_equal(strlen(v.name), sizeof(v.name) - 1);
}

static void
test_state_of(void **state)
{
	(void)state;
	assert_int_equal(zadara_state_of("created"), ZADARA_UP);
	assert_int_equal(zadara_state_of("hibernated"), ZADARA_DOWN);
	assert_int_equal(zadara_state_of("hibernate_offlining"),
	    ZADARA_TRANSITIONAL);
	assert_int_equal(zadara_state_of("hibernating"), ZADARA_TRANSITIONAL);
	assert_int_equal(zadara_state_of("launching"), ZADARA_TRANSITIONAL);
	assert_int_equal(zadara_state_of("booting"), ZADARA_TRANSITIONAL);
	assert_int_equal(zadara_state_of("restoring"), ZADARA_TRANSITIONAL);
	assert_int_equal(zadara_state_of("failed"), ZADARA_FAILED);
	assert_int_equal(zadara_state_of("Created"), ZADARA_UNKNOWN);
	assert_int_equal(zadara_state_of("deleting"), ZADARA_UNKNOWN);
	assert_int_equal(zadara_state_of(""), ZADARA_UNKNOWN);
	assert_int_equal(zadara_state_of(NULL), ZADARA_UNKNOWN);
	assert_string_equal(zadara_state_name(ZADARA_UP), "up");
	assert_string_equal(zadara_state_name(ZADARA_TRANSITIONAL),
	    "transitional");
	assert_string_equal(zadara_err_kind_name(ZADARA_ERR_AUTH), "auth");
	assert_string_equal(zadara_err_kind_name(ZADARA_ERR_TIMEOUT),
	    "timeout");
}

static int
action(const char *json, char *msg, size_t len, struct zadara_error *err)
{
	memset(err, 0, sizeof(*err));
	return zadara_parse_action(json, strlen(json), msg, len, err);
}

static void
test_action_answers(void **state)
{
	struct zadara_error err;
	char msg[64];

	(void)state;
	assert_int_equal(action("{\"response\":\"VPSA restoring.\"}", msg,
	    sizeof(msg), &err), 0);
	assert_string_equal(msg, "VPSA restoring.");
	assert_int_equal(action("{\"response\":\"VPSA being put into "
	    "hibernating state.\"}", msg, sizeof(msg), &err), 0);
	assert_string_equal(msg, "VPSA being put into hibernating state.");
	/* Nothing at all, or no "response": accepted without words. */
	assert_int_equal(action("", msg, sizeof(msg), &err), 0);
	assert_string_equal(msg, "");
	assert_int_equal(action(" \r\n", msg, sizeof(msg), &err), 0);
	assert_int_equal(action("{}", msg, sizeof(msg), &err), 0);
	assert_string_equal(msg, "");
	/* The VPSA API's envelope: status 0 is success. */
	assert_int_equal(action("{\"response\":{\"status\":0,\"message\":"
	    "\"ok\"}}", msg, sizeof(msg), &err), 0);
	assert_string_equal(msg, "ok");
	assert_int_equal(action("{\"response\":{\"status\":\"5\",\"message\":"
	    "\"VPSA is busy\"}}", msg, sizeof(msg), &err), -1);
	assert_int_equal(err.kind, ZADARA_ERR_REFUSED);
	assert_string_equal(err.message,
	    "the portal refused (status 5): VPSA is busy");
	/* A long text is cut to the buffer. */
	assert_int_equal(action("{\"response\":\"0123456789\"}", msg, 5,
	    &err), 0);
	assert_string_equal(msg, "0123");

	assert_int_equal(action("{\"response\":\"VPSA rest", msg,
	    sizeof(msg), &err), -1);
	assert_int_equal(err.kind, ZADARA_ERR_PARSE);
	assert_non_null(strstr(err.message, "position"));
	assert_int_equal(action("{\"response\":[1]}", msg, sizeof(msg), &err),
	    -1);
	assert_int_equal(err.kind, ZADARA_ERR_PARSE);
	assert_int_equal(action("{\"response\":{\"status\":\"x\"}}", msg,
	    sizeof(msg), &err), -1);
	assert_int_equal(err.kind, ZADARA_ERR_PARSE);
}

static bool
body(const char *json, char *buf, size_t len)
{
	return zadara_error_body(json, strlen(json), buf, len);
}

static void
test_error_bodies(void **state)
{
	char buf[64];

	(void)state;
	assert_true(body("{\"error\":\"Cannot hibernate VPSA in status "
	    "hibernated.\"}", buf, sizeof(buf)));
	assert_string_equal(buf, "Cannot hibernate VPSA in status hibernated.");
	assert_true(body("{\"error\":{\"message\":\"nope\",\"code\":7}}", buf,
	    sizeof(buf)));
	assert_string_equal(buf, "nope");
	assert_true(body("{\"errors\":[\"a\",5,\"b\"]}", buf, sizeof(buf)));
	assert_string_equal(buf, "a; b");
	assert_true(body("{\"message\":\"m\"}", buf, sizeof(buf)));
	assert_string_equal(buf, "m");
	assert_true(body("{\"response\":{\"status\":1,\"message\":\"r\"}}",
	    buf, sizeof(buf)));
	assert_string_equal(buf, "r");
	assert_true(body("{\"error\":\"tab\\there\"}", buf, sizeof(buf)));
	assert_string_equal(buf, "tab here");
	assert_true(body("{\"error\":\"0123456789\"}", buf, 6));
	assert_string_equal(buf, "01234");

	assert_false(body("<html><body>We're sorry, but something went "
	    "wrong.</body></html>", buf, sizeof(buf)));
	assert_string_equal(buf, "");
	assert_false(body("{\"error\":5}", buf, sizeof(buf)));
	assert_false(body("{\"error\":\"\"}", buf, sizeof(buf)));
	assert_false(body("[\"x\"]", buf, sizeof(buf)));
	assert_false(body("", buf, sizeof(buf)));
	assert_false(body("{\"errors\":[]}", buf, sizeof(buf)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vpsa_full),
		cmocka_unit_test(test_vpsa_id_shapes),
		cmocka_unit_test(test_vpsa_missing_fields),
		cmocka_unit_test(test_vpsa_garbage),
		cmocka_unit_test(test_vpsa_long_name_is_cut),
		cmocka_unit_test(test_state_of),
		cmocka_unit_test(test_action_answers),
		cmocka_unit_test(test_error_bodies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
