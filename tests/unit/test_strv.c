/* String lists, in particular removing a string by a pointer into the list
 * itself (which once freed the key while still comparing with it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/strv.h"

static void
test_remove_aliasing(void **state)
{
	struct strv s = { 0 };

	(void)state;
	strv_add(&s, "a");
	strv_add(&s, "b");
	strv_add(&s, "a");
	strv_add(&s, "c");
	assert_true(strv_remove(&s, s.v[0]));	/* the list's own "a" */
	assert_int_equal(s.n, 2);
	assert_string_equal(s.v[0], "b");
	assert_string_equal(s.v[1], "c");
	assert_false(strv_remove(&s, "a"));
	assert_true(strv_has(&s, "c"));
	strv_clear(&s);
	assert_int_equal(s.n, 0);
}

static void
test_remove_at_and_join(void **state)
{
	struct strv s = { 0 };
	char *j;

	(void)state;
	strv_add(&s, "x");
	strv_add(&s, "y");
	strv_add(&s, "z");
	strv_remove_at(&s, 1);
	strv_remove_at(&s, 7);
	j = strv_join(&s, ", ");
	assert_string_equal(j, "x, z");
	free(j);
	strv_remove_at(&s, 0);
	strv_remove_at(&s, 0);
	j = strv_join(&s, ", ");
	assert_string_equal(j, "");
	free(j);
	strv_clear(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_remove_aliasing),
		cmocka_unit_test(test_remove_at_and_join),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
