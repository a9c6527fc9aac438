/*
 * The control socket on a real libuv loop, with a client socket driven
 * from the same thread: requests in one write are answered in order, also
 * while one of them is answered later; a reply larger than the socket
 * takes at once waits in libuv's queue and what follows it stays behind
 * it; a line over the limit is refused and the connection closed with
 * nothing left to write; a client that shuts its side gets its answers,
 * then the end.  The loop runs without blocking (UV_RUN_NOWAIT) until the
 * client has what a test waits for, a bounded number of rounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "common/protocol.h"
#include "daemon/control.h"

#define MAX_ROUNDS	200000

struct fixture {
	uv_loop_t	 loop;
	struct control	*ctl;
	char		 dir[64];
	char		 path[128];
	struct ctl_req	*held;		/* answered when the test says */
	size_t		 big;		/* size of the result for id 1 */
	int		 dispatched;
	int		 fd;		/* the client */
	char		*text;		/* an encoded result, for ids 13, 14 */
	size_t		 textlen;
	char		*in;		/* what the client read */
	size_t		 inlen;
	bool		 eof;
};

static struct fixture *fx;

/* Answers ping with {"n": id}; holds id 7 until the test releases it;
 * id 1 gets a result of fx->big bytes when big is set; ids 13 and 14 get
 * fx->text as an encoded (cached) result, 13 after three progress events. */
static void
dispatch(void *arg, struct ctl_req *r)
{
	const struct proto_request *q = ctl_req_get(r);

	(void)arg;
	fx->dispatched++;
	if (q->id == 7) {
		fx->held = r;
		return;
	}
	if (q->id == 13 || q->id == 14) {
		for (int i = 0; q->id == 13 && i < 3; i++)
			ctl_req_progress(r, "step", i, 3, "event %d", i);
		ctl_req_ok_encoded(r, fx->text, fx->textlen);
		return;
	}
	if (q->id == 1 && fx->big > 0) {
		char *s = malloc(fx->big + 1);

		memset(s, 'x', fx->big);
		s[fx->big] = '\0';
		ctl_req_ok(r, json_pack("{s:s}", "big", s));
		free(s);
		return;
	}
	ctl_req_ok(r, json_pack("{s:I}", "n", (json_int_t)q->id));
}

static int
setup(void **state)
{
	char err[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	fx = calloc(1, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/ec2m-test-control-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/ctl.sock", fx->dir);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	fx->ctl = control_new(&fx->loop, dispatch, NULL);
	assert_int_equal(control_listen_path(fx->ctl, fx->path, "", err,
	    sizeof(err)), 0);
	fx->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memcpy(sa.sun_path, fx->path, strlen(fx->path) + 1);
	assert_int_equal(connect(fx->fd, (struct sockaddr *)&sa, sizeof(sa)),
	    0);
	assert_int_equal(fcntl(fx->fd, F_SETFL, O_NONBLOCK), 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (fx->held != NULL)
		ctl_req_ok(fx->held, json_object());
	close(fx->fd);
	control_free(fx->ctl);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	rmdir(fx->dir);
	free(fx->in);
	free(fx->text);
	free(fx);
	return 0;
}

static void
client_send(const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fx->fd, data, len);

		if (n < 0 && errno == EAGAIN) {
			uv_run(&fx->loop, UV_RUN_NOWAIT);
			continue;
		}
		assert_true(n > 0);
		data += n;
		len -= (size_t)n;
	}
}

/* Reads what the client socket has now. */
static void
client_read(void)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fx->fd, buf, sizeof(buf))) > 0) {
		fx->in = realloc(fx->in, fx->inlen + (size_t)n + 1);
		memcpy(fx->in + fx->inlen, buf, (size_t)n);
		fx->inlen += (size_t)n;
		fx->in[fx->inlen] = '\0';
	}
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		fx->eof = true;
}

static size_t
lines_in(void)
{
	size_t n = 0;

	for (size_t i = 0; i < fx->inlen; i++)
		n += fx->in[i] == '\n';
	return n;
}

/* Runs the loop and reads until the client holds want lines (and, with
 * want_eof, saw the end); fails after MAX_ROUNDS. */
static void
run_until(size_t want, bool want_eof)
{
	for (int i = 0; i < MAX_ROUNDS; i++) {
		uv_run(&fx->loop, UV_RUN_NOWAIT);
		client_read();
		if (lines_in() >= want && (!want_eof || fx->eof))
			return;
	}
	fail_msg("waited for %zu lines%s, have %zu", want,
	    want_eof ? " and the end" : "", lines_in());
}

/* The k-th reply line (from 0), parsed. */
static json_t *
reply(size_t k)
{
	const char *p = fx->in;
	json_error_t e;

	for (size_t i = 0; i < k; i++) {
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	return json_loadb(p, (size_t)(strchr(p, '\n') - p), 0, &e);
}

static json_int_t
reply_id(size_t k)
{
	json_t *o = reply(k);
	json_int_t id;

	assert_non_null(o);
	id = json_integer_value(json_object_get(o, "id"));
	json_decref(o);
	return id;
}

#define PING(id) "{\"v\":1,\"id\":" #id ",\"cmd\":\"ping\"}\n"

static void
test_pipelined_in_one_write(void **state)
{
	const char *three = PING(1) PING(2) "\r\n\n" PING(3);

	(void)state;
	client_send(three, strlen(three));
	run_until(3, false);
	assert_int_equal(lines_in(), 3);
	assert_int_equal(reply_id(0), 1);
	assert_int_equal(reply_id(1), 2);
	assert_int_equal(reply_id(2), 3);
	assert_int_equal(fx->dispatched, 3);
}

static void
test_held_request_keeps_the_order(void **state)
{
	const char *lines = PING(7) PING(8) PING(9);

	(void)state;
	client_send(lines, strlen(lines));
	for (int i = 0; i < 1000 && fx->held == NULL; i++)
		uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_non_null(fx->held);
	for (int i = 0; i < 1000; i++) {
		uv_run(&fx->loop, UV_RUN_NOWAIT);
		client_read();
	}
	assert_int_equal(lines_in(), 0);	/* 8 and 9 wait for 7 */
	assert_int_equal(fx->dispatched, 1);
	ctl_req_ok(fx->held, json_object());
	fx->held = NULL;
	run_until(3, false);
	assert_int_equal(reply_id(0), 7);
	assert_int_equal(reply_id(1), 8);
	assert_int_equal(reply_id(2), 9);
}

/* A NUL byte is part of its line (and makes it malformed), the same
 * whether the line is handled where it lies or waits behind a held
 * request: it is never cut at the NUL and run. */
static void
test_nul_in_a_line_same_on_both_paths(void **state)
{
	static const char nul_line[] = "{\"v\":1,\"id\":5,\"cmd\":\"ping\"}"
	    "\0junk\n";
	json_t *first, *second;

	(void)state;
	/* Nothing waits: handled in place. */
	client_send(nul_line, sizeof(nul_line) - 1);
	run_until(1, false);
	/* Behind a held request: it waits in the queue. */
	client_send(PING(7), strlen(PING(7)));
	for (int i = 0; i < 1000 && fx->held == NULL; i++)
		uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_non_null(fx->held);
	client_send(nul_line, sizeof(nul_line) - 1);
	for (int i = 0; i < 1000; i++)
		uv_run(&fx->loop, UV_RUN_NOWAIT);
	ctl_req_ok(fx->held, json_object());
	fx->held = NULL;
	run_until(3, false);
	assert_int_equal(reply_id(1), 7);
	first = reply(0);
	second = reply(2);
	assert_non_null(first);
	assert_non_null(second);
	assert_true(json_equal(first, second));
	assert_int_equal(json_integer_value(json_object_get(first, "id")), 0);
	assert_true(json_is_false(json_object_get(first, "ok")));
	/* Only the held ping reached the dispatcher. */
	assert_int_equal(fx->dispatched, 1);
	json_decref(first);
	json_decref(second);
}

static void
test_big_reply_then_small_in_order(void **state)
{
	const char *lines = PING(1) PING(2);
	json_t *o;

	(void)state;
	/* Far more than a Unix socket's buffer: most of it must wait in
	 * libuv's queue while the client does not read. */
	fx->big = 4u << 20;
	client_send(lines, strlen(lines));
	for (int i = 0; i < 1000 && fx->dispatched < 2; i++)
		uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(fx->dispatched, 2);
	assert_int_equal(lines_in(), 0);
	run_until(2, false);
	assert_int_equal(lines_in(), 2);
	o = reply(0);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "id")), 1);
	assert_int_equal(json_string_length(json_object_get(
	    json_object_get(o, "result"), "big")), fx->big);
	json_decref(o);
	assert_int_equal(reply_id(1), 2);
}

/* An encoded (cached) result is written from its parts when nothing of
 * the connection waits: a reply far larger than the socket takes arrives
 * whole, byte for byte proto_reply_ok_encoded()'s line, before the next;
 * one behind events of its request comes after them. */
static void
test_encoded_reply_whole_and_in_order(void **state)
{
	const char *lines = PING(14) PING(2) PING(13);
	char *want;
	size_t n = 4u << 20;

	(void)state;
	fx->text = malloc(n + 3);
	fx->text[0] = '"';
	memset(fx->text + 1, 'x', n);
	memcpy(fx->text + 1 + n, "\"", 2);
	fx->textlen = n + 2;
	client_send(lines, strlen(lines));
	for (int i = 0; i < 1000 && fx->dispatched < 1; i++)
		uv_run(&fx->loop, UV_RUN_NOWAIT);
	/* The socket took part of it; the client has not read yet. */
	assert_int_equal(lines_in(), 0);
	run_until(6, false);
	assert_int_equal(lines_in(), 6);
	want = proto_reply_ok_encoded(14, fx->text, fx->textlen);
	assert_true(fx->inlen > strlen(want));
	assert_memory_equal(fx->in, want, strlen(want));
	free(want);
	assert_int_equal(reply_id(1), 2);
	for (size_t k = 2; k < 5; k++) {
		json_t *o = reply(k);

		assert_string_equal(json_string_value(json_object_get(o,
		    "event")), "progress");
		assert_int_equal(json_integer_value(json_object_get(o, "id")),
		    13);
		json_decref(o);
	}
	want = proto_reply_ok_encoded(13, fx->text, fx->textlen);
	assert_string_equal(strstr(fx->in, "{\"id\":13,\"ok\""), want);
	free(want);
}

static void
test_backlog_counts_what_waits(void **state)
{
	const char *follow = PING(7);
	char line[64];

	(void)state;
	fx->big = 0;
	client_send(follow, strlen(follow));
	for (int i = 0; i < 1000 && fx->held == NULL; i++)
		uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_non_null(fx->held);
	assert_int_equal(ctl_req_backlog(fx->held), 0);
	/* Events to a client that does not read wait and count. */
	for (int i = 0; i < 20000 && ctl_req_backlog(fx->held) == 0; i++) {
		snprintf(line, sizeof(line), "{\"id\":7,\"event\":\"x\","
		    "\"n\":%d}\n", i);
		ctl_req_send_event(fx->held, strdup(line));
	}
	assert_true(ctl_req_backlog(fx->held) > 0);
	assert_true(ctl_req_connected(fx->held));
	/* Reading drains it. */
	for (int i = 0; i < MAX_ROUNDS && ctl_req_backlog(fx->held) > 0;
	    i++) {
		uv_run(&fx->loop, UV_RUN_NOWAIT);
		client_read();
	}
	assert_int_equal(ctl_req_backlog(fx->held), 0);
}

static void
test_oversized_line_refused_then_closed(void **state)
{
	char *big = malloc(70 * 1024);
	json_t *o;

	(void)state;
	memset(big, 'x', 70 * 1024);
	client_send(big, 70 * 1024);
	free(big);
	run_until(1, true);
	assert_int_equal(lines_in(), 1);
	o = reply(0);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    o, "error"), "code")), "bad_request");
	json_decref(o);
	assert_true(fx->eof);
	assert_int_equal(fx->dispatched, 0);
}

static void
test_shutdown_gets_answers_then_end(void **state)
{
	const char *two = PING(4) PING(5);

	(void)state;
	client_send(two, strlen(two));
	assert_int_equal(shutdown(fx->fd, SHUT_WR), 0);
	run_until(2, true);
	assert_int_equal(reply_id(0), 4);
	assert_int_equal(reply_id(1), 5);
	assert_true(fx->eof);
	for (int i = 0; i < 1000 && control_connections(fx->ctl) > 0; i++)
		uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(control_connections(fx->ctl), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_nul_in_a_line_same_on_both_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_in_one_write,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_held_request_keeps_the_order, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_big_reply_then_small_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_encoded_reply_whole_and_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_backlog_counts_what_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_oversized_line_refused_then_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_shutdown_gets_answers_then_end, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);	/* as the daemon does */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
