#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/timeutil.h"

static void
test_parse_forms(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(time_parse_iso8601("2024-01-15T08:02:11.000Z", &ms), 0);
	assert_int_equal(ms, 1705305731000LL);
	assert_int_equal(time_parse_iso8601("2024-01-15T08:02:11.250Z", &ms), 0);
	assert_int_equal(ms, 1705305731250LL);
	assert_int_equal(time_parse_iso8601("2024-01-15T15:21:07Z", &ms), 0);
	assert_int_equal(ms, 1705332067000LL);
	/* Opencast writes the server's zone. */
	assert_int_equal(time_parse_iso8601("2024-06-10T08:13:20.123+02:00",
	    &ms), 0);
	assert_int_equal(ms, 1718000000123LL);
	assert_int_equal(time_parse_iso8601("1970-01-01T00:00:00Z", &ms), 0);
	assert_int_equal(ms, 0);
}

static void
test_parse_rejects_garbage(void **state)
{
	static const char *const bad[] = {
		"", "2024", "2024-01-15", "2024-01-15T08:02:11",
		"2024-13-15T08:02:11Z", "2024-01-15T25:02:11Z",
		"2024-01-15T08:02:11.Z", "2024-01-15T08:02:11Zjunk",
		"x024-01-15T08:02:11Z", "2024-01-15T08:02:11+2",
	};
	int64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(time_parse_iso8601(bad[i], &ms), -1);
	assert_int_equal(time_parse_iso8601(NULL, &ms), -1);
}

static void
test_format(void **state)
{
	char iso[TIME_ISO8601_LEN], amz[TIME_AMZ_LEN];

	(void)state;
	time_format_iso8601(1705305731999LL, iso);
	assert_string_equal(iso, "2024-01-15T08:02:11Z");
	time_format_amz(1705311000000LL, amz);
	assert_string_equal(amz, "20240115T093000Z");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_parse_rejects_garbage),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
