/* The upstream-call layer on a real libuv loop, with a client of its own
 * that sends nothing over the network: calls start on the next loop turn,
 * retries stop at the attempt limit and the deadline, a call pins its
 * client past the owner's release, and the HTTP client's shutdown answers
 * every call exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/log.h"
#include "daemon/http.h"
#include "daemon/metrics.h"
#include "daemon/upstream.h"

struct fake {
	struct upstream	 up;
	int		 released;
};

struct fcall {
	struct upstream_call up;
	int		 sends;
	int		 cancels;
	int		 retry_until;	/* send retries while sends < this */
	bool		 ended;
	struct fcall	*spawn;		/* started from its cancel */
};

static int cancels;		/* every cancel, in order */
static struct fcall *order[8];

static void
fake_answer(struct upstream_call *up, const struct http_response *r)
{
	(void)up;
	(void)r;
	fail_msg("nothing is sent");
}

static void
end(struct fcall *fc)
{
	fc->ended = true;
	upstream_call_end(&fc->up);
}

static void
fake_send(struct upstream_call *up)
{
	struct fcall *fc = UPSTREAM_OWNER(up, struct fcall, up);

	fc->sends++;
	fc->up.attempts++;
	if (fc->sends < fc->retry_until) {
		if (upstream_retry(up, "fake failure"))
			return;
		end(fc);
	}
}

static void fake_cancel(struct upstream_call *up);

static void
fake_release(struct upstream *u)
{
	UPSTREAM_OWNER(u, struct fake, up)->released++;
}

static const struct upstream_ops fake_ops = {
	fake_answer, fake_cancel, fake_release, "test",
};

static void
fake_cancel(struct upstream_call *up)
{
	struct fcall *fc = UPSTREAM_OWNER(up, struct fcall, up);
	struct upstream *u = up->u;

	fc->cancels++;
	if (cancels < 8)
		order[cancels] = fc;
	cancels++;
	if (fc->spawn)		/* an owner that tries again at once */
		upstream_call_start(u, &fc->spawn->up, fake_send);
	end(fc);
}

static void
setup_fake(struct fake *f, uv_loop_t *loop, struct http_client *http,
    int attempts, uint64_t deadline_ms)
{
	struct upstream_retry r = { attempts, 0.002, 0.004, deadline_ms };

	memset(f, 0, sizeof(*f));
	upstream_init(&f->up, loop, http, &fake_ops, &r);
}

static void
test_start_pins_the_client(void **state)
{
	uv_loop_t loop;
	struct http_client *http;
	struct fake f, g;
	struct fcall a = { 0 };

	(void)state;
	uv_loop_init(&loop);
	http = http_client_new(&loop);
	setup_fake(&f, &loop, http, 3, 0);
	upstream_call_start(&f.up, &a.up, fake_send);
	assert_int_equal(a.sends, 0);	/* never before the maker returns */
	assert_int_equal(f.up.ncalls, 1);
	upstream_release(&f.up);
	assert_int_equal(f.released, 0);	/* pinned by a */
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(a.sends, 1);
	assert_int_equal(f.released, 0);
	end(&a);
	assert_int_equal(f.released, 1);

	/* Without calls, the release is at once. */
	setup_fake(&g, &loop, http, 3, 0);
	upstream_release(&g.up);
	assert_int_equal(g.released, 1);

	http_client_free(http);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void
test_retry_attempts_and_deadline(void **state)
{
	uv_loop_t loop;
	struct http_client *http;
	struct fake f, g;
	struct fcall a = { .retry_until = 100 }, b = { .retry_until = 100000 };
	const char *labels[] = { "test", "FakeCall" };
	uint64_t t0;

	(void)state;
	uv_loop_init(&loop);
	http = http_client_new(&loop);
	setup_fake(&f, &loop, http, 3, 0);
	a.up.what = "FakeCall";
	upstream_call_start(&f.up, &a.up, fake_send);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(a.sends, 3);		/* the first and two retries */
	assert_true(a.ended);
	/* Each retry is counted for the client's service and the call. */
	assert_true(metrics_get(MF_UPSTREAM_RETRIES, labels) == 2);
	upstream_release(&f.up);
	assert_int_equal(f.released, 1);

	/* Plenty of attempts, a 60 ms deadline: retries stop in time. */
	setup_fake(&g, &loop, http, 1000000, 60);
	uv_update_time(&loop);
	t0 = uv_now(&loop);
	upstream_call_start(&g.up, &b.up, fake_send);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(b.ended);
	assert_true(b.sends > 2);
	assert_true(uv_now(&loop) - t0 >= 60);
	assert_true(uv_now(&loop) - t0 < 1000);
	upstream_release(&g.up);
	assert_int_equal(g.released, 1);

	http_client_free(http);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void
test_shutdown_answers_every_call_once(void **state)
{
	uv_loop_t loop;
	struct http_client *http;
	struct fake f, g, h;
	struct fcall a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 }, e = { 0 };
	struct http_request req = { .method = "GET", .url = "http://x/" };

	(void)state;
	cancels = 0;
	uv_loop_init(&loop);
	http = http_client_new(&loop);
	setup_fake(&f, &loop, http, 3, 0);
	setup_fake(&g, &loop, http, 3, 0);
	upstream_call_start(&f.up, &a.up, fake_send);
	upstream_call_start(&f.up, &b.up, fake_send);
	upstream_call_start(&g.up, &d.up, fake_send);
	a.spawn = &c;		/* a's owner makes c from a's answer */
	/* g's owner let go: d pins it through the shutdown. */
	upstream_release(&g.up);

	http_client_shutdown(http);
	assert_int_equal(cancels, 3);	/* a, b and d, before it returned */
	assert_int_equal(a.cancels + b.cancels + d.cancels, 3);
	assert_int_equal(a.sends + b.sends + d.sends, 0);
	assert_int_equal(g.released, 1);	/* after its sweep, once */
	assert_int_equal(c.cancels, 0);	/* late: answered from the loop */
	assert_true(f.up.shut);
	assert_null(http_submit(http, &req, NULL, NULL));

	/* A try after the shutdown is never sent: the call is answered. */
	upstream_call_start(&f.up, &e.up, fake_send);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(c.cancels, 1);
	assert_int_equal(e.cancels, 1);
	assert_int_equal(c.sends + e.sends, 0);
	assert_int_equal(cancels, 5);
	assert_int_equal(f.released, 0);	/* still held by its owner */
	upstream_release(&f.up);
	assert_int_equal(f.released, 1);

	/* A client made after the shutdown is shut from the start. */
	setup_fake(&h, &loop, http, 3, 0);
	assert_true(h.up.shut);
	memset(&a, 0, sizeof(a));
	upstream_call_start(&h.up, &a.up, fake_send);
	upstream_release(&h.up);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(a.cancels, 1);
	assert_int_equal(h.released, 1);

	http_client_shutdown(http);	/* idempotent */
	http_client_free(http);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* A call that was submitted (HTTP in flight) when the client shut down is
 * answered by the sweep, and its request is cancelled, not answered. */
static void
test_submitted_call_is_cancelled(void **state)
{
	uv_loop_t loop;
	struct http_client *http;
	struct http_session *s;
	struct fake f;
	struct fcall a = { 0 };
	/* A port nothing listens on: the request stays in flight for a
	 * loop turn at least (connection refused comes later). */
	struct http_request req = { .method = "GET",
	    .url = "http://127.0.0.1:9/" };
	const char *cancelled[] = { "test", "Probe", "cancelled" };
	const char *errored[] = { "test", "Probe", "error" };

	(void)state;
	cancels = 0;
	uv_loop_init(&loop);
	http = http_client_new(&loop);
	s = http_session_new();
	req.session = s;
	setup_fake(&f, &loop, http, 1, 0);
	upstream_call_start(&f.up, &a.up, fake_send);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(a.sends, 1);
	a.up.what = "Probe";
	assert_int_equal(upstream_submit(&a.up, &req), 0);
	assert_non_null(a.up.http);
	assert_int_equal(http_active(http), 1);
	http_client_free(http);
	assert_int_equal(a.cancels, 1);
	/* The try in flight is counted once, as cancelled. */
	assert_true(metrics_get(MF_UPSTREAM_REQUESTS, cancelled) == 1);
	assert_true(metrics_get(MF_UPSTREAM_REQUESTS, errored) == 0);
	upstream_release(&f.up);
	assert_int_equal(f.released, 1);
	http_session_free(s);
	http_session_free(NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_pins_the_client),
		cmocka_unit_test(test_retry_attempts_and_deadline),
		cmocka_unit_test(test_shutdown_answers_every_call_once),
		cmocka_unit_test(test_submitted_call_is_cancelled),
	};

	int rc;

	log_init("test_upstream", LOG_WARNING);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	metrics_reset();
	return rc;
}
