/*
 * ec2ctl's transport (ctl/client.c): deadlines on CLOCK_MONOTONIC and
 * replies far longer than a request may be.
 *
 * The test is linked with -Wl,--wrap=clock_gettime,--wrap=poll, so the
 * calls that client.c makes reach the wrappers below.  While the clocks
 * are faked, CLOCK_MONOTONIC stands still except inside poll(), which
 * "waits" by moving it forward by its timeout (and then polls for real
 * without waiting), while CLOCK_REALTIME jumps by a day on every reading.
 * A deadline computed from the wall clock would then expire at once (or
 * only after a day); one computed from the monotonic clock hands poll()
 * exactly the timeout asked for.  Nothing here measures how long anything
 * takes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl/ec2ctl.h"

int __real_clock_gettime(clockid_t clk, struct timespec *ts);
int __real_poll(struct pollfd *fds, nfds_t n, int timeout);
int __wrap_clock_gettime(clockid_t clk, struct timespec *ts);
int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout);

static struct {
	bool	 on;		/* fake the clocks */
	int64_t	 mono_ms;	/* the monotonic clock */
	int64_t	 wall_ms;	/* the wall clock */
	int64_t	 wall_step_ms;	/* added to it on every reading */
	int	 timeouts[16];	/* what poll() was given */
	size_t	 npolls;
} fake;

int
__wrap_clock_gettime(clockid_t clk, struct timespec *ts)
{
	int64_t ms;

	if (!fake.on)
		return __real_clock_gettime(clk, ts);
	if (clk == CLOCK_MONOTONIC) {
		ms = fake.mono_ms;
	} else {
		fake.wall_ms += fake.wall_step_ms;
		ms = fake.wall_ms;
	}
	ts->tv_sec = ms / 1000;
	ts->tv_nsec = (long)(ms % 1000) * 1000000;
	return 0;
}

int
__wrap_poll(struct pollfd *fds, nfds_t n, int timeout)
{
	if (!fake.on)
		return __real_poll(fds, n, timeout);
	if (fake.npolls < sizeof(fake.timeouts) / sizeof(*fake.timeouts))
		fake.timeouts[fake.npolls] = timeout;
	fake.npolls++;
	if (timeout > 0)
		fake.mono_ms += timeout;
	return __real_poll(fds, n, 0);
}

static void
fake_clocks(int64_t wall_step_ms)
{
	memset(&fake, 0, sizeof(fake));
	fake.on = true;
	fake.mono_ms = 5000;
	fake.wall_ms = 1795669491000LL;
	fake.wall_step_ms = wall_step_ms;
}

/* A connection over one end of a socket pair; the other end is *peer. */
static void
conn_open(struct ctl_conn *c, int *peer)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	memset(c, 0, sizeof(*c));
	c->fd = sv[0];
	c->path = "test.sock";
	linebuf_init(&c->lb, PROTO_MAX_REPLY);
	*peer = sv[1];
}

static void
test_pause_ignores_wall_clock_steps(void **state)
{
	static const int64_t steps[] = { 86400000, -86400000 };
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
		struct ctl_conn c;
		int peer;

		conn_open(&c, &peer);
		fake_clocks(steps[i]);
		/* Nothing arrives: the pause lasts its 2 s, in one wait. */
		assert_int_equal(client_pause(&c, 2000, err, sizeof(err)), 0);
		fake.on = false;
		assert_int_equal(fake.npolls, 1);
		assert_int_equal(fake.timeouts[0], 2000);
		client_close(&c);
		close(peer);
	}
}

static void
test_read_deadline_ignores_wall_clock_steps(void **state)
{
	struct ctl_conn c;
	const char *line;
	size_t len;
	char err[256];
	int peer;

	(void)state;
	conn_open(&c, &peer);
	fake_clocks(-86400000);
	/* No answer: the read gives up after exactly its timeout, not a day
	 * later. */
	assert_int_equal(client_read_line(&c, 5000, &line, &len, err,
	    sizeof(err)), CTL_EXIT_UNREACHABLE);
	fake.on = false;
	assert_non_null(strstr(err, "did not answer in time"));
	assert_int_equal(fake.npolls, 1);
	assert_int_equal(fake.timeouts[0], 5000);

	/* A line that is there is read whatever the wall clock does. */
	fake_clocks(86400000);
	assert_int_equal(write(peer, "{\"id\":1}\n", 9), 9);
	assert_int_equal(client_read_line(&c, 5000, &line, &len, err,
	    sizeof(err)), 0);
	fake.on = false;
	assert_string_equal(line, "{\"id\":1}");
	assert_int_equal(fake.timeouts[0], 5000);
	client_close(&c);
	close(peer);
}

/* Writes lines of the given lengths (newline included) to fd from a
 * child process, then closes it. */
static pid_t
write_lines(int fd, const size_t *lens, size_t n)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		for (size_t i = 0; i < n; i++) {
			char *buf = malloc(lens[i]);
			size_t off = 0;

			if (buf == NULL)
				_exit(2);
			memset(buf, 'x', lens[i] - 1);
			buf[0] = '"';
			buf[lens[i] - 2] = '"';
			buf[lens[i] - 1] = '\n';
			while (off < lens[i]) {
				ssize_t w = write(fd, buf + off, lens[i] - off);

				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0)
					_exit(1);
				off += (size_t)w;
			}
			free(buf);
		}
		close(fd);
		_exit(0);
	}
	return pid;
}

static void
test_long_replies(void **state)
{
	/* Longer than a request may be (64 KiB), a large cluster's status
	 * (400 KB), many megabytes, and exactly the limit. */
	static const size_t lens[] = { PROTO_MAX_REQUEST + 1, 410459,
	    5 * 1024 * 1024, PROTO_MAX_REPLY, 3 };
	struct ctl_conn c;
	const char *line;
	size_t len;
	char err[256];
	int peer, status;
	pid_t pid;

	(void)state;
	conn_open(&c, &peer);
	pid = write_lines(peer, lens, sizeof(lens) / sizeof(*lens));
	close(peer);
	for (size_t i = 0; i < sizeof(lens) / sizeof(*lens); i++) {
		assert_int_equal(client_read_line(&c, -1, &line, &len, err,
		    sizeof(err)), 0);
		assert_int_equal(len, lens[i] - 1);
		assert_int_equal(line[0], '"');
		assert_int_equal(line[len - 1], '"');
	}
	assert_int_equal(client_read_line(&c, -1, &line, &len, err,
	    sizeof(err)), CTL_EXIT_UNREACHABLE);
	assert_non_null(strstr(err, "closed the connection"));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	client_close(&c);
}

static void
test_too_long_reply(void **state)
{
	static const size_t lens[] = { PROTO_MAX_REPLY + 1 };
	struct ctl_conn c;
	const char *line;
	size_t len;
	char err[256];
	int peer, status;
	pid_t pid;

	(void)state;
	conn_open(&c, &peer);
	pid = write_lines(peer, lens, 1);
	close(peer);
	assert_int_equal(client_read_line(&c, -1, &line, &len, err,
	    sizeof(err)), CTL_EXIT_FAILED);
	assert_non_null(strstr(err, "a line longer than 67108864 bytes"));
	client_close(&c);
	/* The writer sees the connection go away (EPIPE or SIGPIPE). */
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pause_ignores_wall_clock_steps),
		cmocka_unit_test(test_read_deadline_ignores_wall_clock_steps),
		cmocka_unit_test(test_long_replies),
		cmocka_unit_test(test_too_long_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
