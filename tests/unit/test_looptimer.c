/* looptimer on a real libuv loop: it fires with its owner, a stopped or
 * freed timer never calls back, and the loop closes cleanly afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/xrand.h"
#include "daemon/looptimer.h"

static int fired;

static void
on_fire(void *owner)
{
	fired += *(int *)owner;
}

static void
test_fire_stop_free(void **state)
{
	uv_loop_t loop;
	int one = 1, ten = 10, hundred = 100;
	struct looptimer *a, *b, *c;

	(void)state;
	fired = 0;
	assert_int_equal(uv_loop_init(&loop), 0);
	a = looptimer_new(&loop, &one);
	b = looptimer_new(&loop, &ten);
	c = looptimer_new(&loop, &hundred);
	looptimer_start(a, 0, on_fire);
	looptimer_start(b, 5, on_fire);
	looptimer_start(c, 5, on_fire);
	assert_true(looptimer_active(b));
	assert_true(looptimer_due_in(b) <= 5);
	looptimer_stop(b);		/* stopped: never fires */
	assert_false(looptimer_active(b));
	assert_int_equal(looptimer_due_in(b), 0);
	looptimer_free(c);		/* freed while pending */
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(fired, 1);
	looptimer_start(a, 1, on_fire);	/* restarts */
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(fired, 2);
	looptimer_free(a);
	looptimer_free(b);
	looptimer_free(NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void
test_xrand(void **state)
{
	struct xrand r, s;
	double sum = 0;

	(void)state;
	xrand_seed(&r, 0);
	xrand_seed(&s, 0);
	for (int i = 0; i < 10000; i++) {
		double x = xrand01(&r);

		assert_true(x >= 0.0 && x < 1.0);
		assert_true(x == xrand01(&s));	/* same seed, same run */
		sum += x;
	}
	assert_true(sum / 10000 > 0.45 && sum / 10000 < 0.55);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fire_stop_free),
		cmocka_unit_test(test_xrand),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
