/* The control protocol: newline framing (partial reads, several messages
 * in one read, oversized lines) and request/reply encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/linebuf.h"
#include "common/protocol.h"

static void
test_partial_reads(void **state)
{
	static const char msg[] = "{\"v\":1,\"id\":7,\"cmd\":\"ping\"}\n";
	struct linebuf lb;
	const char *line;
	size_t len;

	(void)state;
	linebuf_init(&lb, 128);
	/* One byte at a time: nothing until the newline. */
	for (size_t i = 0; i < sizeof(msg) - 2; i++) {
		assert_true(linebuf_append(&lb, msg + i, 1));
		assert_null(linebuf_next(&lb, &len));
	}
	assert_int_equal(linebuf_pending(&lb), sizeof(msg) - 2);
	assert_true(linebuf_append(&lb, msg + sizeof(msg) - 2, 1));
	line = linebuf_next(&lb, &len);
	assert_non_null(line);
	assert_int_equal(len, sizeof(msg) - 2);
	assert_memory_equal(line, msg, len);
	assert_null(linebuf_next(&lb, &len));
	assert_int_equal(linebuf_pending(&lb), 0);
	linebuf_release(&lb);
}

static void
test_several_in_one_read(void **state)
{
	static const char data[] = "a\nbb\r\n\nccc\ndd";
	struct linebuf lb;
	const char *line;
	size_t len;

	(void)state;
	linebuf_init(&lb, 128);
	assert_true(linebuf_append(&lb, data, strlen(data)));
	line = linebuf_next(&lb, &len);
	assert_int_equal(len, 1);
	assert_string_equal(line, "a");
	line = linebuf_next(&lb, &len);
	assert_string_equal(line, "bb");	/* CR dropped */
	line = linebuf_next(&lb, &len);
	assert_int_equal(len, 0);		/* empty line */
	line = linebuf_next(&lb, &len);
	assert_string_equal(line, "ccc");
	assert_null(linebuf_next(&lb, &len));
	assert_int_equal(linebuf_pending(&lb), 2);
	assert_true(linebuf_append(&lb, "d\n", 2));
	line = linebuf_next(&lb, &len);
	assert_string_equal(line, "ddd");
	linebuf_release(&lb);
}

static void
test_oversized(void **state)
{
	struct linebuf lb;
	char big[200];
	size_t len;

	(void)state;
	memset(big, 'x', sizeof(big));
	/* Exactly the limit, newline included, is fine. */
	linebuf_init(&lb, 100);
	assert_true(linebuf_append(&lb, big, 99));
	assert_true(linebuf_append(&lb, "\n", 1));
	assert_non_null(linebuf_next(&lb, &len));
	assert_int_equal(len, 99);
	/* One more byte without a newline overflows... */
	assert_false(linebuf_append(&lb, big, 100));
	assert_true(lb.overflow);
	assert_null(linebuf_next(&lb, &len));
	/* ...and stays overflowed. */
	assert_false(linebuf_append(&lb, "\n", 1));
	linebuf_release(&lb);

	/* A too-long line that arrives complete in one read. */
	linebuf_init(&lb, 100);
	big[150] = '\n';
	assert_true(linebuf_append(&lb, big, 151));
	assert_null(linebuf_next(&lb, &len));
	assert_true(lb.overflow);
	linebuf_release(&lb);
}

static void
test_parse_request(void **state)
{
	static const char line[] = "{\"v\":1,\"id\":7,\"cmd\":\"scale\","
	    "\"cluster\":\"dev04\",\"args\":{\"direction\":\"down\","
	    "\"workers\":2},\"dry_run\":true,\"force\":false,\"wait\":false,"
	    "\"level\":\"debug\"}";
	static const char ping[] = "{\"v\":1,\"id\":1,\"cmd\":\"ping\"}";
	struct proto_request r;
	int64_t id;
	char msg[256];

	(void)state;
	assert_int_equal(proto_request_parse(line, strlen(line), &r, &id, msg,
	    sizeof(msg)), PROTO_OK);
	assert_int_equal(r.id, 7);
	assert_int_equal(r.cmd->cmd, PROTO_CMD_SCALE);
	assert_string_equal(r.cluster, "dev04");
	assert_true(r.dry_run);
	assert_false(r.force);
	assert_false(r.wait);
	assert_int_equal(r.level, PROTO_LEVEL_DEBUG);
	assert_int_equal(json_integer_value(json_object_get(r.args,
	    "workers")), 2);
	proto_request_release(&r);

	assert_int_equal(proto_request_parse(ping, strlen(ping), &r, &id, msg,
	    sizeof(msg)), PROTO_OK);
	assert_true(r.wait);
	assert_int_equal(r.level, PROTO_LEVEL_INFO);
	assert_true(json_is_object(r.args));
	assert_string_equal(r.cluster, "");
	proto_request_release(&r);
}

static void
expect_bad(const char *line, enum proto_err want, int64_t want_id,
    const char *needle)
{
	struct proto_request r;
	int64_t id;
	char msg[256];

	assert_int_equal(proto_request_parse(line, strlen(line), &r, &id, msg,
	    sizeof(msg)), want);
	assert_int_equal(id, want_id);
	if (strstr(msg, needle) == NULL)
		fail_msg("\"%s\" not in \"%s\"", needle, msg);
	assert_null(r.args);
}

static void
test_bad_requests(void **state)
{
	/* jansson's reader passes over this NUL; the request is refused. */
	static const char nul[] = "{\"v\":1\0,\"id\":9,\"cmd\":\"ping\"}";
	struct proto_request r;
	int64_t id;
	char msg[256];

	(void)state;
	assert_int_equal(proto_request_parse(nul, sizeof(nul) - 1, &r, &id,
	    msg, sizeof(msg)), PROTO_ERR_BAD_REQUEST);
	assert_int_equal(id, 0);
	assert_non_null(strstr(msg, "NUL byte"));
	assert_null(r.args);
	expect_bad("", PROTO_ERR_BAD_REQUEST, 0, "malformed JSON");
	expect_bad("{\"v\":1,\"id\":", PROTO_ERR_BAD_REQUEST, 0,
	    "malformed JSON");
	expect_bad("\"ping\"", PROTO_ERR_BAD_REQUEST, 0, "malformed JSON");
	expect_bad("[1]", PROTO_ERR_BAD_REQUEST, 0, "JSON object");
	expect_bad("{\"id\":4,\"cmd\":\"ping\"}", PROTO_ERR_BAD_REQUEST, 4,
	    "invalid request");
	expect_bad("{\"v\":3,\"id\":4,\"cmd\":\"ping\"}",
	    PROTO_ERR_BAD_REQUEST, 4, "version 3");
	expect_bad("{\"v\":1,\"id\":4,\"cmd\":\"ping\",\"x\":1}",
	    PROTO_ERR_BAD_REQUEST, 4, "invalid request");
	expect_bad("{\"v\":1,\"id\":4,\"cmd\":\"ping\",\"args\":[]}",
	    PROTO_ERR_BAD_REQUEST, 4, "args");
	expect_bad("{\"v\":1,\"id\":4,\"cmd\":\"ping\",\"level\":\"loud\"}",
	    PROTO_ERR_BAD_REQUEST, 4, "level");
	expect_bad("{\"v\":1,\"id\":4,\"cmd\":\"ping\",\"cmd\":\"ping\"}",
	    PROTO_ERR_BAD_REQUEST, 0, "duplicate");
	expect_bad("{\"v\":1,\"id\":4,\"cmd\":\"explode\"}",
	    PROTO_ERR_UNKNOWN_COMMAND, 4, "explode");
	expect_bad("{\"v\":1,\"id\":4,\"cmd\":\"stop\"}",
	    PROTO_ERR_BAD_REQUEST, 4, "needs a cluster");
	expect_bad("{\"v\":1,\"id\":4,\"cmd\":\"stop\",\"cluster\":\"a b\"}",
	    PROTO_ERR_BAD_REQUEST, 4, "invalid cluster");
	expect_bad("{\"v\":1,\"id\":4,\"cmd\":\"stop\",\"cluster\":\"\"}",
	    PROTO_ERR_BAD_REQUEST, 4, "invalid cluster");
	expect_bad("{\"v\":1,\"id\":\"4\",\"cmd\":\"ping\"}",
	    PROTO_ERR_BAD_REQUEST, 0, "invalid request");
}

/* The line is read with yajl's events (common/protocol_request.c): what
 * jansson refused stays refused, args is the JSON it was, and the id comes
 * back whenever the line is JSON. */
static void
test_request_reader(void **state)
{
#define REQ(rest) "{\"v\":1,\"id\":4,\"cmd\":\"status\",\"cluster\":\"c\"" \
	rest "}"
	static const char args_line[] = REQ(",\"args\":{\"a\":[1,-2.5,null,"
	    "true,{\"b\":\"\\u00e9\\n\"},[]],\"c\":{},\"d\":\"x\"}");
	char deep[8192];
	struct proto_request r;
	int64_t id;
	char msg[256], *dump;
	size_t n;

	(void)state;
	/* Every kind of value in args, nested, as jansson holds it. */
	assert_int_equal(proto_request_parse(args_line, strlen(args_line), &r,
	    &id, msg, sizeof(msg)), PROTO_OK);
	dump = json_dumps(r.args, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(dump, "{\"a\":[1,-2.5,null,true,{\"b\":"
	    "\"\xc3\xa9\\n\"},[]],\"c\":{},\"d\":\"x\"}");
	free(dump);
	proto_request_release(&r);
	/* Keys in any order, blanks anywhere; the reply's id is the line's. */
	expect_bad(" { \"cluster\" : \"c\" , \"cmd\":\"status\", \"id\" : "
	    "-9223372036854775807 , \"v\" : 2 } ", PROTO_ERR_BAD_REQUEST,
	    -INT64_MAX, "version 2");
	/* Malformed: id 0. */
	expect_bad(REQ(",\"args\":{\"a\":1,\"a\":2}"), PROTO_ERR_BAD_REQUEST,
	    0, "duplicate object key \"a\"");
	expect_bad(REQ(",\"args\":{\"a\":{\"b\":1,\"b\":1}}"),
	    PROTO_ERR_BAD_REQUEST, 0, "duplicate");
	expect_bad(REQ(",\"cmd\":\"ping\""), PROTO_ERR_BAD_REQUEST, 0,
	    "duplicate object key \"cmd\"");
	expect_bad(REQ(",\"args\":{\"a\\u0000\":1}"), PROTO_ERR_BAD_REQUEST,
	    0, "\\u0000");
	expect_bad("{\"v\":1,\"id\":4,\"cmd\":\"st\\u0000atus\"}",
	    PROTO_ERR_BAD_REQUEST, 0, "\\u0000");
	expect_bad(REQ(",\"args\":{\"a\":\"\xc0\x80\"}"), PROTO_ERR_BAD_REQUEST,
	    0, "UTF-8");
	expect_bad("{\"v\":1,\"id\":4,\"cmd\":\"\xed\xa0\x80\"}",
	    PROTO_ERR_BAD_REQUEST, 0, "UTF-8");
	expect_bad(REQ("") " {}", PROTO_ERR_BAD_REQUEST, 0, "malformed JSON");
	/* yajl itself lets an unclosed string after the value pass. */
	expect_bad(REQ("") "\"}", PROTO_ERR_BAD_REQUEST, 0, "trailing");
	expect_bad(REQ("") " \"", PROTO_ERR_BAD_REQUEST, 0, "trailing");
	expect_bad(REQ(","), PROTO_ERR_BAD_REQUEST, 0, "malformed JSON");
	expect_bad("{\"v\":1,\"id\":99999999999999999999,\"cmd\":\"ping\"}",
	    PROTO_ERR_BAD_REQUEST, 0, "malformed JSON");
	expect_bad("/**/{\"v\":1,\"id\":4,\"cmd\":\"ping\"}",
	    PROTO_ERR_BAD_REQUEST, 0, "malformed JSON");
	expect_bad("4", PROTO_ERR_BAD_REQUEST, 0, "malformed JSON");
	expect_bad("null", PROTO_ERR_BAD_REQUEST, 0, "malformed JSON");
	expect_bad("{", PROTO_ERR_BAD_REQUEST, 0, "malformed JSON");
	/* Nesting deeper than jansson reads. */
	n = (size_t)snprintf(deep, sizeof(deep), "{\"v\":1,\"id\":4,\"cmd\":"
	    "\"ping\",\"args\":{\"a\":"); /* not text */
	memset(deep + n, '[', 2100);
	memset(deep + n + 2100, ']', 2100);
	memcpy(deep + n + 4200, "}}", 3);
	expect_bad(deep, PROTO_ERR_BAD_REQUEST, 0, "depth");
	/* Where yajl alone is laxer than JSON, the line is still refused:
	 * a form feed as a blank, a lone surrogate escape, a duplicate key
	 * in a value no field takes. */
	expect_bad("{\"v\":1,\f\"id\":4,\"cmd\":\"ping\"}",
	    PROTO_ERR_BAD_REQUEST, 0, "control character 0x0C");
	expect_bad(REQ(",\"args\":{\"a\":\"\\ud800\"}"),
	    PROTO_ERR_BAD_REQUEST, 0, "malformed JSON");
	expect_bad(REQ(",\"args\":{\"\\uDBFF\\u0041\":1}"),
	    PROTO_ERR_BAD_REQUEST, 0, "malformed JSON");
	expect_bad(REQ(",\"x\":1,\"x\":2"), PROTO_ERR_BAD_REQUEST, 0,
	    "duplicate");
	expect_bad(REQ(",\"force\":{\"a\":1,\"a\":1}"),
	    PROTO_ERR_BAD_REQUEST, 0, "duplicate");
	expect_bad("{\"v\":1,\"id\":-9223372036854775809,\"cmd\":\"ping\"}",
	    PROTO_ERR_BAD_REQUEST, 0, "too big");
	expect_bad(REQ(",\"args\":{\"a\":1e400}"), PROTO_ERR_BAD_REQUEST, 0,
	    "overflow");
	/* What jansson reads, this reads: the lowest id, a pair of
	 * surrogate escapes, an escaped backslash before "u". */
	expect_bad("{\"v\":2,\"id\":-9223372036854775808,\"cmd\":\"ping\"}",
	    PROTO_ERR_BAD_REQUEST, INT64_MIN, "version 2");
	{
		static const char ok[] = REQ(",\"args\":{\"a\":\"\\ud83d"
		    "\\ude00\\\\ud800\",\"n\":[-0,1.5e3,-9223372036854775808]}");

		assert_int_equal(proto_request_parse(ok, strlen(ok), &r, &id,
		    msg, sizeof(msg)), PROTO_OK);
		dump = json_dumps(r.args, JSON_COMPACT | JSON_SORT_KEYS);
		assert_string_equal(dump, "{\"a\":\"\xf0\x9f\x98\x80\\\\"
		    "ud800\",\"n\":[0,1500.0,-9223372036854775808]}");
		free(dump);
		proto_request_release(&r);
	}
	/* Invalid requests: the id comes back. */
	expect_bad(REQ(",\"args\":null"), PROTO_ERR_BAD_REQUEST, 4,
	    "\"args\" must be an object");
	expect_bad(REQ(",\"wait\":1"), PROTO_ERR_BAD_REQUEST, 4,
	    "\"wait\" must be true or false");
	expect_bad(REQ(",\"level\":[\"debug\"]"), PROTO_ERR_BAD_REQUEST, 4,
	    "\"level\" must be a string");
	expect_bad(REQ(",\"x\":{\"deep\":[1,{\"y\":2}]}"),
	    PROTO_ERR_BAD_REQUEST, 4, "unknown field \"x\"");
	expect_bad("{\"v\":1.0,\"id\":4,\"cmd\":\"ping\"}",
	    PROTO_ERR_BAD_REQUEST, 4, "\"v\" must be an integer");
	expect_bad("{\"v\":1,\"id\":4}", PROTO_ERR_BAD_REQUEST, 4,
	    "\"cmd\" is missing");
	expect_bad("{\"v\":1,\"id\":4,\"cmd\":\"ping\",\"level\":\"debugging"
	    "debugging debugging debugging debugging debugging debugging\"}",
	    PROTO_ERR_BAD_REQUEST, 4, "unknown level");
	expect_bad("{\"v\":1,\"id\":4,\"cmd\":\"statusstatusstatusstatusstatus"
	    "statusstatusstatusstatusstatusstatusstatus\"}",
	    PROTO_ERR_UNKNOWN_COMMAND, 4, "statusstatus");
	expect_bad("{\"v\":1,\"id\":4,\"cmd\":\"stop\",\"cluster\":\"aaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaa\"}", PROTO_ERR_BAD_REQUEST, 4, "invalid cluster");
#undef REQ
}

static void
test_encoders_are_one_line(void **state)
{
	json_t *args = json_pack("{s:s}", "note", "two\nlines");
	char *s;

	(void)state;
	s = proto_request_encode(3, "status", "dev04", args, false, true,
	    true, PROTO_LEVEL_WARNING);
	assert_string_equal(s, "{\"v\":1,\"id\":3,\"cmd\":\"status\","
	    "\"cluster\":\"dev04\",\"args\":{\"note\":\"two\\nlines\"},"
	    "\"dry_run\":false,\"force\":true,\"wait\":true,"
	    "\"level\":\"warning\"}\n");
	free(s);
	json_decref(args);
	s = proto_reply_error(9, PROTO_ERR_REFUSED, "Stopping 2 workers "
	    "violates min workers setting of 2");
	assert_string_equal(s, "{\"id\":9,\"ok\":false,\"error\":{\"code\":"
	    "\"refused\",\"message\":\"Stopping 2 workers violates min "
	    "workers setting of 2\"}}\n");
	free(s);
	s = proto_reply_ok(1, json_object());
	assert_string_equal(s, "{\"id\":1,\"ok\":true,\"result\":{}}\n");
	free(s);
	/* A result that failed to build is an internal error, not {}. */
	s = proto_reply_ok(4, NULL);
	assert_string_equal(s, "{\"id\":4,\"ok\":false,\"error\":{\"code\":"
	    "\"internal\",\"message\":\"the reply could not be encoded\"}}\n");
	free(s);
	s = proto_event_progress(7, "wait_running", 2, 3, "2 of 3 running");
	assert_string_equal(s, "{\"id\":7,\"event\":\"progress\",\"step\":"
	    "\"wait_running\",\"done\":2,\"total\":3,\"msg\":\"2 of 3 "
	    "running\"}\n");
	free(s);
	s = proto_event_log(7, PROTO_LEVEL_INFO, "2026-11-26T05:04:51Z",
	    "caf\xc3\xa9");
	assert_non_null(strstr(s, "\"msg\":\"caf\\u00E9\"}\n"));
	assert_ptr_equal(strchr(s, '\n'), s + strlen(s) - 1);
	free(s);
}

/* events --follow: an entry is the history item with "id" and "event"
 * first; an entry that is not an object is an internal error line. */
static void
test_follow_events(void **state)
{
	char *s;

	(void)state;
	s = proto_event_entry(5, json_pack("{s:i, s:s, s:s, s:s, s:s, s:{}}",
	    "seq", 12, "ts", "2026-11-26T05:04:51Z", "kind", "decision",
	    "level", "info", "msg", "no change", "data"));
	assert_string_equal(s, "{\"id\":5,\"event\":\"entry\",\"seq\":12,"
	    "\"ts\":\"2026-11-26T05:04:51Z\",\"kind\":\"decision\","
	    "\"level\":\"info\",\"msg\":\"no change\",\"data\":{}}\n");
	free(s);
	/* An entry cannot pass itself off as another request's. */
	s = proto_event_entry(5, json_pack("{s:i, s:s}", "id", 9, "event",
	    "log"));
	assert_string_equal(s, "{\"id\":5,\"event\":\"entry\"}\n");
	free(s);
	s = proto_event_entry(6, json_array());
	assert_non_null(strstr(s, "\"code\":\"internal\""));
	free(s);
	s = proto_event_entry(6, NULL);
	assert_non_null(strstr(s, "\"code\":\"internal\""));
	free(s);
	s = proto_event_lost(5, 3);
	assert_string_equal(s, "{\"id\":5,\"event\":\"lost\",\"count\":3,"
	    "\"msg\":\"3 events left out: the client read too slowly\"}\n");
	free(s);
}

static void
test_tables(void **state)
{
	(void)state;
	assert_string_equal(proto_cmds[PROTO_CMD_SCALE_TO].name, "scale_to");
	assert_ptr_equal(proto_cmd_find("events"),
	    &proto_cmds[PROTO_CMD_EVENTS]);
	assert_null(proto_cmd_find("scale-to"));	/* alias: ctl only */
	assert_true(proto_cmds[PROTO_CMD_STATUS].flags & CMD_F_READONLY);
	assert_false(proto_cmds[PROTO_CMD_STOP].flags & CMD_F_READONLY);
	for (int e = PROTO_OK + 1; e < PROTO_ERR_COUNT; e++)
		assert_int_equal(proto_err_from_name(proto_err_name(e)), e);
	assert_int_equal(proto_err_from_name("nope"), PROTO_ERR_COUNT);
	assert_null(proto_err_name(PROTO_OK));
	assert_int_equal(proto_level_from_name("debug"), PROTO_LEVEL_DEBUG);
	assert_int_equal(proto_level_from_name("verbose"), -1);
}

/* A status answer's result is encoded once and sent with many ids: the
 * line is byte for byte what proto_reply_ok() gives. */
static void
test_reply_ok_encoded(void **state)
{
	json_t *result = json_pack("{s:s, s:[i, n, b], s:f, s:{}}", "name",
	    "caf\xc3\xa9 \"q\" \\ \n", "list", 1, 0, "x", 0.5, "o");
	char *text, *want, *got;

	(void)state;
	text = proto_result_encode(json_incref(result));
	assert_non_null(text);
	for (int64_t id = -3; id < 1000000000000LL;
	    id = id < 0 ? 0 : id * 7 + 11) {
		want = proto_reply_ok(id, json_incref(result));
		got = proto_reply_ok_encoded(id, text, strlen(text));
		assert_string_equal(got, want);
		free(want);
		free(got);
	}
	/* The ends of the range (the id is written without snprintf). */
	for (int i = 0; i < 4; i++) {
		static const int64_t ends[] = { INT64_MIN, INT64_MIN + 1,
		    INT64_MAX, -1000000 };

		want = proto_reply_ok(ends[i], json_incref(result));
		got = proto_reply_ok_encoded(ends[i], text, strlen(text));
		assert_string_equal(got, want);
		free(want);
		free(got);
	}
	/* Nothing to send: the internal error, as for a failed builder. */
	want = proto_reply_ok(5, NULL);
	got = proto_reply_ok_encoded(5, NULL, 0);
	assert_string_equal(got, want);
	assert_non_null(strstr(got, "\"internal\""));
	free(want);
	free(got);
	free(text);
	json_decref(result);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partial_reads),
		cmocka_unit_test(test_several_in_one_read),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_parse_request),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_request_reader),
		cmocka_unit_test(test_encoders_are_one_line),
		cmocka_unit_test(test_reply_ok_encoded),
		cmocka_unit_test(test_follow_events),
		cmocka_unit_test(test_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
