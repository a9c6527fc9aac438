/*
 * The UTF-8 helpers (common/utf8.c) and the protocol encoders built on
 * them: whatever bytes go in, valid UTF-8 and one line of JSON come out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/protocol.h"
#include "common/utf8.h"

#define RE UTF8_REPLACEMENT

static void
test_valid(void **state)
{
	static const struct { const char *s; size_t len; bool ok; } cases[] = {
		{ "", 0, true },
		{ "plain ascii", 11, true },
		{ "caf\xc3\xa9", 5, true },
		{ "\xe6\x97\xa5", 3, true },			/* U+65E5 */
		{ "\xf0\x9f\x98\x80", 4, true },		/* U+1F600 */
		{ "\xf4\x8f\xbf\xbf", 4, true },		/* U+10FFFF */
		{ "\xef\xbf\xbd", 3, true },			/* U+FFFD */
		{ "\xe9", 1, false },				/* Latin-1 */
		{ "\x80", 1, false },				/* stray */
		{ "\xc0\xaf", 2, false },			/* overlong / */
		{ "\xe0\x80\xaf", 3, false },			/* overlong */
		{ "\xed\xa0\x80", 3, false },			/* surrogate */
		{ "\xf4\x90\x80\x80", 4, false },		/* > U+10FFFF */
		{ "\xf5\x80\x80\x80", 4, false },
		{ "\xe6\x97", 2, false },			/* truncated */
		{ "a\0b", 3, false },				/* NUL */
		{ "\xff", 1, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(utf8_valid(cases[i].s, cases[i].len),
		    cases[i].ok);
}

static void
test_sanitize(void **state)
{
	static const struct { const char *in; size_t len; const char *out; }
	    cases[] = {
		{ "caf\xc3\xa9", 5, "caf\xc3\xa9" },
		{ "caf\xe9", 4, "caf" RE },
		{ "a\xe9\xe9z", 4, "a" RE RE "z" },
		/* A truncated sequence is one maximal subpart: one U+FFFD. */
		{ "x\xe6\x97y", 4, "x" RE "y" },
		{ "\xf0\x9f\x98", 3, RE },
		/* Each byte of an overlong form or a surrogate is its own. */
		{ "\xc0\xaf", 2, RE RE },
		{ "\xed\xa0\x80", 3, RE RE RE },
		{ "a\0b", 3, "a" RE "b" },
		{ "\xe6\x97\xa5\x80", 4, "\xe6\x97\xa5" RE },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = utf8_sanitize(cases[i].in, cases[i].len);

		assert_string_equal(s, cases[i].out);
		assert_true(utf8_valid(s, strlen(s)));
		free(s);
	}
}

/* 200 × U+65E5 with a one-byte prefix, so that every cut position falls
 * at each offset inside a character somewhere. */
static char *
wide_name(size_t prefix)
{
	size_t len = prefix + 200 * 3;
	char *s = malloc(len + 1);

	memset(s, 'x', prefix);
	for (size_t i = 0; i < 200; i++)
		memcpy(s + prefix + 3 * i, "\xe6\x97\xa5", 3);
	s[len] = '\0';
	return s;
}

static void
test_cut_every_position(void **state)
{
	(void)state;
	for (size_t prefix = 0; prefix < 3; prefix++) {
		char *s = wide_name(prefix);
		size_t len = strlen(s);

		for (size_t max = 0; max <= len + 1; max++) {
			size_t n = utf8_cut(s, len, max);

			assert_true(n <= max && n <= len);
			assert_true(utf8_valid(s, n));
			/* Maximal: at most one character is dropped. */
			assert_true(n + 3 > (max < len ? max : len));
		}
		free(s);
	}
}

static void
test_copy_and_format_every_size(void **state)
{
	char buf[700];

	(void)state;
	for (size_t prefix = 0; prefix < 3; prefix++) {
		char *s = wide_name(prefix);

		for (size_t size = 1; size <= sizeof(buf); size++) {
			size_t n = utf8_copy(buf, size, s, strlen(s));

			assert_int_equal(n, strlen(buf));
			assert_true(n < size);
			assert_true(utf8_valid(buf, n));
			n = utf8_snprintf(buf, size, "worker %s is not "
			    "registered in Opencast yet", s);
			assert_int_equal(n, strlen(buf));
			assert_true(n < size);
			assert_true(utf8_valid(buf, n));
		}
		free(s);
	}
	/* A text that fits is copied unchanged; one that is cut says so. */
	assert_int_equal(utf8_snprintf(buf, sizeof(buf), "%s-%d", "ab", 7), 4);
	assert_string_equal(buf, "ab-7");
	utf8_snprintf(buf, 12, "%s", "0123456789abcdef");
	assert_string_equal(buf, "01234567\xe2\x80\xa6");
	/* Invalid bytes in an argument are replaced, not passed on. */
	utf8_snprintf(buf, sizeof(buf), "EC2: %s", "tag \xe9t\xe9");
	assert_string_equal(buf, "EC2: tag " RE "t" RE);
}

/* xorshift: the same "random" bytes on every run. */
static uint32_t
next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* Every encoder, given random bytes as text, writes one line of valid
 * UTF-8 JSON that carries the id. */
static void
test_encoders_random_bytes(void **state)
{
	uint32_t x = 2463534242u;
	char text[300];

	(void)state;
	for (int round = 0; round < 2000; round++) {
		size_t len = next(&x) % (sizeof(text) - 1);
		char *lines[4];

		for (size_t i = 0; i < len; i++)
			text[i] = (char)(next(&x) % 255 + 1);	/* no NUL */
		text[len] = '\0';
		lines[0] = proto_reply_error(round, PROTO_ERR_REFUSED, text);
		lines[1] = proto_event_log(round, PROTO_LEVEL_INFO, text, text);
		lines[2] = proto_event_progress(round, text, 1, 2, text);
		lines[3] = proto_reply_ok(round, json_pack("{s:o}", "name",
		    json_text(text)));
		for (int i = 0; i < 4; i++) {
			size_t n = strlen(lines[i]);
			json_error_t jerr;
			json_t *o;

			assert_true(utf8_valid(lines[i], n));
			assert_ptr_equal(strchr(lines[i], '\n'),
			    lines[i] + n - 1);
			o = json_loadb(lines[i], n - 1, 0, &jerr);
			assert_non_null(o);
			assert_int_equal(json_integer_value(json_object_get(o,
			    "id")), round);
			if (i == 0)
				assert_string_equal(json_string_value(
				    json_object_get(json_object_get(o,
				    "error"), "code")), "refused");
			if (i == 3)
				assert_true(json_is_true(json_object_get(o,
				    "ok")));
			json_decref(o);
			free(lines[i]);
		}
	}
}

/* A request whose command is 34 × U+65E5 (the first abort found). */
static void
test_unknown_wide_command(void **state)
{
	for (int count = 30; count < 60; count++) {
		char line[512], msg[256], *reply;
		struct proto_request r;
		int64_t id;
		size_t n;

		(void)state;
		n = (size_t)snprintf(line, sizeof(line),
		    "{\"v\":1,\"id\":5,\"cmd\":\"");
		for (int i = 0; i < count; i++, n += 3)
			memcpy(line + n, "\xe6\x97\xa5", 3);
		memcpy(line + n, "\"}", 3);
		n += 2;
		assert_int_equal(proto_request_parse(line, n, &r, &id, msg,
		    sizeof(msg)), PROTO_ERR_UNKNOWN_COMMAND);
		assert_int_equal(id, 5);
		assert_true(utf8_valid(msg, strlen(msg)));
		reply = proto_reply_error(id, PROTO_ERR_UNKNOWN_COMMAND, msg);
		assert_non_null(strstr(reply, "\"code\":\"unknown_command\""));
		free(reply);
	}
}

static void
test_json_text(void **state)
{
	json_t *j;

	(void)state;
	j = json_text("caf\xe9");
	assert_string_equal(json_string_value(j), "caf" RE);
	json_decref(j);
	j = json_text(NULL);
	assert_string_equal(json_string_value(j), "");
	json_decref(j);
	j = json_text_or_null(NULL);
	assert_true(json_is_null(j));
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_cut_every_position),
		cmocka_unit_test(test_copy_and_format_every_size),
		cmocka_unit_test(test_encoders_random_bytes),
		cmocka_unit_test(test_unknown_wide_command),
		cmocka_unit_test(test_json_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
