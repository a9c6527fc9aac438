/*
 * The client end of the control socket: connect, send a line, read lines.
 * The socket is non-blocking and every wait is a poll(), so connecting and
 * sending give up after a timeout while waiting for a reply may last as
 * long as the operation does; a daemon that goes away ends the wait at
 * once.  Messages name the socket, since that is what an operator checks.
 * Deadlines are kept on CLOCK_MONOTONIC, so setting the clock (by hand,
 * NTP stepping it) neither cuts a wait short nor stretches it.  Replies
 * may be long (a large cluster's status is hundreds of kilobytes): lines
 * of up to PROTO_MAX_REPLY bytes are read.
 */
#include "ctl/ec2ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Milliseconds on CLOCK_MONOTONIC: for deadlines, never for display. */
static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What the errno of a failed connect() means to the user. */
static int
connect_failed(struct ctl_conn *c, int e, char *err, size_t errlen)
{
	if (e == EACCES || e == EPERM) {
		snprintf(err, errlen, "permission denied: cannot connect to "
		    "%s: %s", c->path, strerror(e));
		return CTL_EXIT_NOPERM;
	}
	snprintf(err, errlen, "cannot connect to %s: %s (is ec2-managerd "
	    "running?)", c->path, strerror(e));
	return CTL_EXIT_UNREACHABLE;
}

/* Milliseconds left until deadline_ms; -1 means no deadline. */
static int
remaining(int64_t deadline_ms)
{
	int64_t left;

	if (deadline_ms < 0)
		return -1;
	left = deadline_ms - mono_ms();
	return left < 0 ? 0 : left > 86400000 ? 86400000 : (int)left;
}

/* Waits for events on the socket.  Returns 1 when they came, 0 at the
 * deadline, or an exit status with a message in err. */
static int
wait_for(struct ctl_conn *c, short events, int64_t deadline_ms, char *err,
    size_t errlen)
{
	struct pollfd p = { .fd = c->fd, .events = events };

	for (;;) {
		int n;

		if (c->interrupted != NULL && *c->interrupted) {
			snprintf(err, errlen, "interrupted");
			return CTL_EXIT_INTERRUPTED;
		}
		n = poll(&p, 1, remaining(deadline_ms));
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return CTL_EXIT_UNREACHABLE;
		}
	}
}

int
client_connect(struct ctl_conn *c, const char *path, int timeout_ms,
    char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int64_t deadline = mono_ms() + timeout_ms;
	socklen_t elen;
	int e, r;

	c->path = path;
	c->fd = -1;
	linebuf_init(&c->lb, PROTO_MAX_REPLY);
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "cannot connect to %s: the path is too "
		    "long", path);
		return CTL_EXIT_UNREACHABLE;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return CTL_EXIT_UNREACHABLE;
	}
	/* A Unix socket connects at once unless the daemon's backlog is
	 * full, in which case it says EAGAIN: try again until the
	 * deadline. */
	for (;;) {
		if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return 0;
		e = errno;
		if (e == EISCONN)
			return 0;
		if (e == EINPROGRESS)
			break;
		if (e != EAGAIN && e != EINTR)
			return connect_failed(c, e, err, errlen);
		if (remaining(deadline) == 0) {
			snprintf(err, errlen, "cannot connect to %s: the "
			    "daemon is not accepting connections (is "
			    "ec2-managerd stuck?)", path);
			return CTL_EXIT_UNREACHABLE;
		}
		if (c->interrupted != NULL && *c->interrupted) {
			snprintf(err, errlen, "interrupted");
			return CTL_EXIT_INTERRUPTED;
		}
		poll(NULL, 0, 10);
	}
	r = wait_for(c, POLLOUT, deadline, err, errlen);
	if (r == 0) {
		snprintf(err, errlen, "cannot connect to %s: timed out (is "
		    "ec2-managerd stuck?)", path);
		return CTL_EXIT_UNREACHABLE;
	}
	if (r != 1)
		return r;
	elen = sizeof(e);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0)
		e = errno;
	if (e != 0)
		return connect_failed(c, e, err, errlen);
	return 0;
}

/* The daemon went away while a request was outstanding. */
static int
gone(struct ctl_conn *c, int e, char *err, size_t errlen)
{
	if (e == 0)
		snprintf(err, errlen, "the daemon closed the connection on %s "
		    "before replying", c->path);
	else
		snprintf(err, errlen, "lost the connection to the daemon on "
		    "%s: %s", c->path, strerror(e));
	return CTL_EXIT_UNREACHABLE;
}

int
client_send(struct ctl_conn *c, const char *line, int timeout_ms, char *err,
    size_t errlen)
{
	int64_t deadline = mono_ms() + timeout_ms;
	size_t len = strlen(line), off = 0;

	while (off < len) {
		ssize_t n = send(c->fd, line + off, len - off, MSG_NOSIGNAL);
		int r;

		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno != EAGAIN && errno != EINTR)
			return gone(c, errno, err, errlen);
		r = wait_for(c, POLLOUT, deadline, err, errlen);
		if (r == 0) {
			snprintf(err, errlen, "the daemon on %s does not take "
			    "requests (timed out sending)", c->path);
			return CTL_EXIT_UNREACHABLE;
		}
		if (r != 1)
			return r;
	}
	return 0;
}

/* Reads what the socket has into the line buffer.  Returns 0, or an exit
 * status when the daemon has gone or sent too long a line. */
static int
fill(struct ctl_conn *c, char *err, size_t errlen)
{
	char buf[65536];
	ssize_t n;

	n = recv(c->fd, buf, sizeof(buf), 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		return gone(c, errno, err, errlen);
	}
	if (n == 0)
		return gone(c, 0, err, errlen);
	if (!linebuf_append(&c->lb, buf, (size_t)n)) {
		snprintf(err, errlen, "invalid reply from the daemon: a line "
		    "longer than %d bytes", PROTO_MAX_REPLY);
		return CTL_EXIT_FAILED;
	}
	return 0;
}

int
client_read_line(struct ctl_conn *c, int timeout_ms, const char **line,
    size_t *len, char *err, size_t errlen)
{
	int64_t deadline = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;

	for (;;) {
		int r;

		*line = linebuf_next(&c->lb, len);
		if (*line != NULL)
			return 0;
		if (c->lb.overflow) {
			snprintf(err, errlen, "invalid reply from the daemon: "
			    "a line longer than %d bytes", PROTO_MAX_REPLY);
			return CTL_EXIT_FAILED;
		}
		r = wait_for(c, POLLIN, deadline, err, errlen);
		if (r == 0) {
			snprintf(err, errlen, "the daemon on %s did not answer "
			    "in time", c->path);
			return CTL_EXIT_UNREACHABLE;
		}
		if (r != 1)
			return r;
		r = fill(c, err, errlen);
		if (r != 0)
			return r;
	}
}

int
client_pause(struct ctl_conn *c, int timeout_ms, char *err, size_t errlen)
{
	int64_t deadline = mono_ms() + timeout_ms;

	for (;;) {
		int r = wait_for(c, POLLIN, deadline, err, errlen);

		if (r == 0)
			return 0;
		if (r != 1)
			return r;
		/* Nothing is expected between requests; whatever comes is
		 * kept for the next read, and an end of file is noticed
		 * now rather than at the next request. */
		r = fill(c, err, errlen);
		if (r != 0)
			return r;
	}
}

void
client_close(struct ctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	linebuf_release(&c->lb);
}
