/*
 * The control socket server.  Connections are struct ctl_conn, allocated in
 * on_connection and freed only once both of their libuv handles (the pipe
 * and the idle timer) have closed.  Requests on a connection are handled
 * one at a time, in order: the rest wait in the connection's queue, and
 * reading pauses when the queue is full.  The request being handled is a
 * struct ctl_req that the connection points to and that points back; when
 * the connection closes first the link is cut and the request's replies go
 * nowhere.  This module is the only one that touches client sockets;
 * what goes back to them is sent by control_write.c.
 */
#include "daemon/control_priv.h"

#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/linebuf.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/metrics.h"

static void conn_arm_timer(struct ctl_conn *c);

struct control *
control_new(uv_loop_t *loop, ctl_dispatch_fn *dispatch, void *arg)
{
	struct control *c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	c->dispatch = dispatch;
	c->arg = arg;
	c->group = (gid_t)-1;
	c->rbuf = xmalloc(CTL_READ_BUF);
	uv_pipe_init(loop, &c->listener, 0);
	c->listener.data = c;
	uv_idle_init(loop, &c->flusher);
	c->flusher.data = c;
	LIST_INIT(&c->corked);
	return c;
}

void
control_set_group(struct control *c, gid_t gid, const char *name)
{
	c->group = gid;
	free(c->group_name);
	c->group_name = xstrdup(name);
}

size_t
control_connections(const struct control *c)
{
	return c->nconns;
}

/* Called by libuv as each of a connection's two handles has closed. */
static void
on_conn_closed(uv_handle_t *h)
{
	struct ctl_conn *c = h->data;

	if (--c->open_handles > 0)
		return;
	for (size_t i = 0; i < c->nqueue; i++)
		free(c->queue[i].s);
	free(c->queue);
	free(c->cork);
	linebuf_release(&c->in);
	free(c);
}

/* Requests. */

const struct proto_request *
ctl_req_get(const struct ctl_req *r)
{
	return &r->req;
}

uid_t
ctl_req_uid(const struct ctl_req *r)
{
	return r->uid;
}

pid_t
ctl_req_pid(const struct ctl_req *r)
{
	return r->pid;
}

bool
ctl_req_connected(const struct ctl_req *r)
{
	return r->conn != NULL;
}

void
ctl_req_set_stream(struct ctl_req *r, ctl_stream_end_fn *fn, void *arg)
{
	r->stream_end = fn;
	r->stream_arg = arg;
}

/* Tells a stream that it must end now (its client left, or shutdown). */
static void
req_end_stream(struct ctl_req *r)
{
	ctl_stream_end_fn *fn = r->stream_end;

	r->stream_end = NULL;
	fn(r->stream_arg, r);
}

/* Connections. */

void
control_conn_close(struct ctl_conn *c)
{
	struct control *ctl = c->ctl;

	if (c->closing)
		return;
	c->closing = true;
	if (c->active) {
		struct ctl_req *r = c->active;

		r->conn = NULL;	/* it goes on without a client */
		c->active = NULL;
		if (r->stream_end != NULL)
			req_end_stream(r);	/* nobody to stream to */
	}
	control_conn_drop_cork(c);
	LIST_REMOVE(c, link);
	ctl->nconns--;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_conn_closed);
	uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
}

static bool
peer_in_group(const struct ctl_conn *c, gid_t group)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);
	int fd;

	if (group == (gid_t)-1)
		return false;
	if (c->cred.gid == group)
		return true;
	if (uv_fileno((const uv_handle_t *)&c->pipe, &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0)
		return false;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == group)
			return true;
	return false;
}

/* The refusal of a mutating request, with what would allow it. */
static void
deny(struct ctl_conn *c, int64_t id)
{
	const struct control *ctl = c->ctl;
	char msg[512];

	if (ctl->group_name != NULL)
		utf8_snprintf(msg, sizeof(msg), "only root, the daemon's user "
		    "or members of group %s (socket_group) may change "
		    "clusters; to let this user (uid %d) do it: usermod -aG "
		    "%s USER, then log in again", ctl->group_name,
		    (int)c->cred.uid, ctl->group_name);
	else
		utf8_snprintf(msg, sizeof(msg), "only root or the daemon's "
		    "user may change clusters: no socket_group is in force; "
		    "create group ec2-manager (systemd-sysusers) or set "
		    "[daemon] socket_group, restart ec2-managerd, then "
		    "usermod -aG GROUP USER and log in again");
	control_conn_send(c, proto_reply_error(id, PROTO_ERR_PERMISSION_DENIED,
	    msg));
}

/* Handles one request line. */
static void
conn_handle_line(struct ctl_conn *c, const char *line, size_t len)
{
	struct control *ctl = c->ctl;
	struct ctl_req *r;
	enum proto_err e;
	int64_t id;
	char msg[512];

	r = xcalloc(1, sizeof(*r));
	e = proto_request_parse(line, len, &r->req, &id, msg, sizeof(msg));
	if (e != PROTO_OK) {
		free(r);
		metrics_control_request("none", proto_err_name(e));
		log_info("control: %s from pid %d: %s", proto_err_name(e),
		    (int)c->cred.pid, msg);
		control_conn_send(c, proto_reply_error(id, e, msg));
		return;
	}
	if (!(r->req.cmd->flags & CMD_F_READONLY)) {
		if (!c->may_mutate) {
			clog(LOG_NOTICE, r->req.cluster, "control: denied "
			    "\"%s\" on %s to uid %d pid %d", r->req.cmd->name,
			    r->req.cluster, (int)c->cred.uid,
			    (int)c->cred.pid);
			metrics_control_request(r->req.cmd->name,
			    "permission_denied");
			deny(c, r->req.id);
			proto_request_release(&r->req);
			free(r);
			return;
		}
		/* The audit trail of every mutating request. */
		clog(LOG_NOTICE, r->req.cluster,
		    "control: uid %d pid %d asks \"%s\" on %s%s%s",
		    (int)c->cred.uid, (int)c->cred.pid, r->req.cmd->name,
		    r->req.cluster, r->req.dry_run ? " (dry run)" : "",
		    r->req.force ? " (force)" : "");
	}
	r->conn = c;
	r->uid = c->cred.uid;
	r->pid = c->cred.pid;
	c->active = r;
	ctl->dispatch(ctl->arg, r);
}

/* Handles queued requests while none is in flight. */
void
control_conn_pump(struct ctl_conn *c)
{
	c->pumping = true;
	while (!c->closing && c->active == NULL && c->nqueue > 0) {
		struct ctl_line line = c->queue[0];

		memmove(c->queue, c->queue + 1, --c->nqueue *
		    sizeof(*c->queue));
		conn_handle_line(c, line.s, line.len);
		free(line.s);
	}
	c->pumping = false;
	if (c->closing)
		return;
	if (c->eof && c->active == NULL && c->nqueue == 0) {
		/* Everything asked was answered. */
		control_conn_close_when_written(c);
		return;
	}
	if (!c->reading && !c->eof && !c->close_after_write &&
	    c->nqueue < CTL_MAX_QUEUED &&
	    c->pending_write < CTL_MAX_PENDING_WRITE / 2)
		control_conn_start_reading(c);
	conn_arm_timer(c);
}

/* Called by libuv before a read: every connection reads into the
 * control's buffer, which on_read empties before it returns. */
static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct ctl_conn *c = h->data;

	(void)suggested;
	buf->base = c->ctl->rbuf;
	buf->len = CTL_READ_BUF;
}

/* A line over the limit: the refusal, then the connection closes. */
static void
conn_refuse_long_line(struct ctl_conn *c)
{
	log_info("control: message over %d bytes from pid %d",
	    PROTO_MAX_LINE, (int)c->cred.pid);
	control_conn_send(c, proto_reply_error(0, PROTO_ERR_BAD_REQUEST,
	    "message too large (the limit is 65536 bytes)"));
	if (c->closing)
		return;
	uv_read_stop((uv_stream_t *)&c->pipe);
	c->reading = false;
	control_conn_close_when_written(c);
}

/* Called by libuv with bytes from a client. */
static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct ctl_conn *c = s->data;
	const char *line;
	bool was_pumping;
	size_t len;

	if (nread < 0) {
		if (nread == UV_EOF && !c->closing) {
			/* Answer what was asked, then close. */
			uv_read_stop(s);
			c->reading = false;
			c->eof = true;
			control_conn_pump(c);
		} else {
			control_conn_close(c);
		}
		return;
	}
	if (!linebuf_append(&c->in, buf->base, (size_t)nread)) {
		conn_refuse_long_line(c);
		return;
	}
	/* A line with nothing before it waiting is handled where it lies
	 * in the line buffer (valid until the next linebuf call); the
	 * others wait, copied, in the queue. */
	was_pumping = c->pumping;
	c->pumping = true;
	while (!c->closing && (line = linebuf_next(&c->in, &len))) {
		if (len == 0)
			continue;
		if (!was_pumping && c->active == NULL && c->nqueue == 0) {
			conn_handle_line(c, line, len);
			continue;
		}
		c->queue = xgrow(c->queue, &c->qcap, c->nqueue + 1,
		    sizeof(*c->queue));
		c->queue[c->nqueue].s = xmalloc(len + 1);
		memcpy(c->queue[c->nqueue].s, line, len);
		c->queue[c->nqueue].s[len] = '\0';
		c->queue[c->nqueue++].len = len;
	}
	c->pumping = was_pumping;
	if (c->closing)
		return;
	if (c->in.overflow) {
		conn_refuse_long_line(c);
		return;
	}
	if (c->nqueue >= CTL_MAX_QUEUED) {
		uv_read_stop(s);	/* resumes as the queue drains */
		c->reading = false;
	}
	if (!c->pumping)
		control_conn_pump(c);
}

void
control_conn_start_reading(struct ctl_conn *c)
{
	if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) == 0)
		c->reading = true;
}

/* Called by libuv when a connection's timer is due: it may have been
 * busy since, or made quiet again later (conn_arm_timer leaves a timer
 * that is due earlier running). */
static void
on_conn_timeout(uv_timer_t *t)
{
	struct ctl_conn *c = t->data;
	uint64_t now = uv_now(c->ctl->loop);

	if (!c->quiet)
		return;		/* armed again when it is */
	if (now < c->quiet_until) {
		uv_timer_start(&c->timer, on_conn_timeout,
		    c->quiet_until - now, 0);
		return;
	}
	log_info("control: closing %s connection %llu of pid %d",
	    linebuf_pending(&c->in) ? "stalled" : "idle",
	    (unsigned long long)c->id, (int)c->cred.pid);
	control_conn_close(c);
}

/* While nothing is in flight, a connection may not stay silent for ever,
 * and half a message must be completed soon.  The timer is not moved on
 * every request: one due earlier than the new limit stays, and its
 * callback looks again. */
static void
conn_arm_timer(struct ctl_conn *c)
{
	uint64_t timeout;

	if (c->closing)
		return;
	if (c->active || c->nqueue > 0) {
		c->quiet = false;
		return;
	}
	timeout = linebuf_pending(&c->in) ? CTL_PARTIAL_TIMEOUT_MS :
	    CTL_IDLE_TIMEOUT_MS;
	c->quiet = true;
	c->quiet_until = uv_now(c->ctl->loop) + timeout;
	if (!uv_is_active((uv_handle_t *)&c->timer) ||
	    uv_timer_get_due_in(&c->timer) > timeout)
		uv_timer_start(&c->timer, on_conn_timeout, timeout, 0);
}

/* Called by libuv when a client connects. */
static void
on_connection(uv_stream_t *server, int status)
{
	struct control *ctl = server->data;
	struct ctl_conn *c;
	socklen_t len = sizeof(c->cred);
	int fd;

	if (status < 0) {
		log_warnx("control: accept: %s", uv_strerror(status));
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->ctl = ctl;
	c->id = ++ctl->next_id;
	linebuf_init(&c->in, PROTO_MAX_LINE);
	uv_pipe_init(ctl->loop, &c->pipe, 0);
	uv_timer_init(ctl->loop, &c->timer);
	c->pipe.data = c->timer.data = c;
	c->open_handles = 2;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
		c->closing = true;
		uv_close((uv_handle_t *)&c->timer, on_conn_closed);
		uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
		return;
	}
	LIST_INSERT_HEAD(&ctl->conns, c, link);
	ctl->nconns++;
	metrics_control_connection();
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) != 0) {
		control_conn_close(c);
		return;
	}
	c->may_mutate = c->cred.uid == 0 || c->cred.uid == geteuid() ||
	    peer_in_group(c, ctl->group);
	if (ctl->nconns > CTL_MAX_CONNECTIONS) {
		log_warnx("control: too many connections, refusing pid %d",
		    (int)c->cred.pid);
		control_conn_send(c, proto_reply_error(0, PROTO_ERR_BUSY,
		    "too many connections"));
		control_conn_close_when_written(c);
		return;
	}
	control_conn_start_reading(c);
	conn_arm_timer(c);
}

/* Listening. */

static int
start_listening(struct control *c, char *err, size_t errlen)
{
	int r = uv_listen((uv_stream_t *)&c->listener, 128, on_connection);

	if (r != 0) {
		utf8_snprintf(err, errlen, "cannot listen: %s", uv_strerror(r));
		return -1;
	}
	return 0;
}

/* Fails if a daemon answers at path; removes a stale socket file. */
static int
clear_stale_socket(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		utf8_snprintf(err, errlen,
		    "%s exists and is not a socket", path);
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path); /* not text */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		utf8_snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (r == 0) {
		utf8_snprintf(err, errlen,
		    "another daemon is serving %s", path);
		return -1;
	}
	if (errno != ECONNREFUSED) {
		utf8_snprintf(err, errlen, "cannot check %s: %s", path,
		    strerror(errno));
		return -1;
	}
	log_info("control: removing stale socket %s", path);
	if (unlink(path) != 0 && errno != ENOENT) {
		utf8_snprintf(err, errlen, "cannot remove stale %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
control_listen_path(struct control *c, const char *path, const char *group,
    char *err, size_t errlen)
{
	gid_t gid = (gid_t)-1;
	mode_t old;
	int r;

	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		utf8_snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	if (group && *group) {
		struct group *g = getgrnam(group);

		if (g == NULL) {
			utf8_snprintf(err, errlen,
			    "socket_group \"%s\" does not "
			    "exist", group);
			return -1;
		}
		gid = g->gr_gid;
	}
	if (clear_stale_socket(path, err, errlen) != 0)
		return -1;
	/* No moment in which the socket is open to everybody. */
	old = umask(0117);
	r = uv_pipe_bind(&c->listener, path);
	umask(old);
	if (r != 0) {
		utf8_snprintf(err, errlen, "cannot bind %s: %s", path,
		    uv_strerror(r));
		return -1;
	}
	c->path = xstrdup(path);
	if (chmod(path, 0660) != 0 ||
	    (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) != 0)) {
		utf8_snprintf(err, errlen,
		    "cannot set the mode or group of %s: %s",
		    path, strerror(errno));
		return -1;
	}
	if (gid != (gid_t)-1)
		control_set_group(c, gid, group);
	return start_listening(c, err, errlen);
}

int
control_listen_fd(struct control *c, int fd, char *err, size_t errlen)
{
	int r = uv_pipe_open(&c->listener, fd);

	if (r != 0) {
		utf8_snprintf(err, errlen, "cannot use the passed socket: %s",
		    uv_strerror(r));
		return -1;
	}
	return start_listening(c, err, errlen);
}

static void
control_release(struct control *c)
{
	free(c->path);
	free(c->group_name);
	free(c->rbuf);
	free(c);
}

/* Called by libuv when the listening socket is closed. */
static void
on_listener_closed(uv_handle_t *h)
{
	struct control *c = h->data;

	c->listener_closed = true;
	if (c->freed && c->flusher_closed)
		control_release(c);
}

/* Called by libuv when the flusher is closed (control_free). */
static void
on_flusher_closed(uv_handle_t *h)
{
	struct control *c = h->data;

	c->flusher_closed = true;
	if (c->listener_closed)
		control_release(c);
}

void
control_stop_listening(struct control *c)
{
	if (c->listener_closing)
		return;
	c->listener_closing = true;
	uv_close((uv_handle_t *)&c->listener, on_listener_closed);
}

void
control_free(struct control *c)
{
	if (c == NULL)
		return;
	/* Streams get their final reply before their connections close;
	 * ending one may start the next request queued on its connection,
	 * so look again from the start each time. */
	for (;;) {
		struct ctl_conn *conn;

		LIST_FOREACH(conn, &c->conns, link)
			if (conn->active && conn->active->stream_end)
				break;
		if (conn == NULL)
			break;
		req_end_stream(conn->active);
	}
	control_flush(&c->flusher);	/* those final replies included */
	uv_close((uv_handle_t *)&c->flusher, on_flusher_closed);
	while (!LIST_EMPTY(&c->conns))
		control_conn_close(LIST_FIRST(&c->conns));
	if (c->path)
		unlink(c->path);
	c->freed = true;
	control_stop_listening(c);
}
