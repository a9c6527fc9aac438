/*
 * The control socket server.  Connections are struct ctl_conn, allocated in
 * on_connection and freed only once both of their libuv handles (the pipe
 * and the idle timer) have closed.  Requests on a connection are handled
 * one at a time, in order: the rest wait in the connection's queue, and
 * reading pauses when the queue is full.  The request being handled is a
 * struct ctl_req that the connection points to and that points back; when
 * the connection closes first the link is cut and the request's replies go
 * nowhere.  This file is the only one that touches client sockets.
 */
#include "daemon/control.h"

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

struct control {
	uv_loop_t	*loop;
	uv_pipe_t	 listener;
	bool		 listener_closing;
	bool		 listener_closed;
	bool		 freed;		/* control_free was called */
	ctl_dispatch_fn	*dispatch;
	void		*arg;
	gid_t		 group;
	char		*group_name;	/* its name, for the refusal */
	LIST_HEAD(ctl_conns, ctl_conn) conns;
	size_t		 nconns;
	uint64_t	 next_id;
	char		*path;		/* bound by us: unlinked at the end */
};

struct ctl_conn {
	uv_pipe_t	 pipe;
	uv_timer_t	 timer;
	int		 open_handles;
	struct control	*ctl;
	uint64_t	 id;
	struct linebuf	 in;
	struct ucred	 cred;
	bool		 may_mutate;
	struct ctl_req	*active;
	char		**queue;	/* request lines waiting, owned */
	size_t		 nqueue;
	size_t		 qcap;
	size_t		 pending_write;
	bool		 reading;
	bool		 eof;		/* the client will send no more */
	bool		 closing;
	bool		 close_after_write;
	bool		 pumping;
	LIST_ENTRY(ctl_conn) link;
};

struct ctl_req {
	struct ctl_conn	*conn;		/* NULL once the client left */
	struct proto_request req;
	uid_t		 uid;
	pid_t		 pid;
	ctl_stream_end_fn *stream_end;	/* a stream: how to end it */
	void		*stream_arg;
};

struct ctl_write {
	uv_write_t	 req;
	char		*buf;
	size_t		 len;
	struct ctl_conn	*conn;
};

static void conn_pump(struct ctl_conn *c);
static void conn_close(struct ctl_conn *c);
static void conn_arm_timer(struct ctl_conn *c);
static void conn_start_reading(struct ctl_conn *c);

struct control *
control_new(uv_loop_t *loop, ctl_dispatch_fn *dispatch, void *arg)
{
	struct control *c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	c->dispatch = dispatch;
	c->arg = arg;
	c->group = (gid_t)-1;
	uv_pipe_init(loop, &c->listener, 0);
	c->listener.data = c;
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

/* Writing. */

static void
on_conn_closed(uv_handle_t *h)
{
	struct ctl_conn *c = h->data;

	if (--c->open_handles > 0)
		return;
	for (size_t i = 0; i < c->nqueue; i++)
		free(c->queue[i]);
	free(c->queue);
	linebuf_release(&c->in);
	free(c);
}

/* Called by libuv when a write has gone out (or failed). */
static void
on_written(uv_write_t *req, int status)
{
	struct ctl_write *w = (struct ctl_write *)req;
	struct ctl_conn *c = w->conn;

	c->pending_write -= w->len;
	free(w->buf);
	free(w);
	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (c->close_after_write && c->pending_write == 0)
		conn_close(c);
	else if (!c->reading && !c->eof &&
	    c->pending_write < CTL_MAX_PENDING_WRITE / 2 &&
	    c->nqueue < CTL_MAX_QUEUED)
		conn_start_reading(c);
}

/* Queues line (stolen) for the client. */
static void
conn_send(struct ctl_conn *c, char *line)
{
	struct ctl_write *w;
	uv_buf_t buf;

	if (c == NULL || c->closing) {
		free(line);
		return;
	}
	if (c->pending_write > CTL_MAX_PENDING_WRITE) {
		/* The client does not read what it asked for. */
		log_warnx("control: closing connection %llu of pid %d: "
		    "%zu bytes unread", (unsigned long long)c->id,
		    (int)c->cred.pid, c->pending_write);
		free(line);
		conn_close(c);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->buf = line;
	w->len = strlen(line);
	w->conn = c;
	buf = uv_buf_init(w->buf, (unsigned int)w->len);
	c->pending_write += w->len;
	if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1,
	    on_written) != 0) {
		c->pending_write -= w->len;
		free(w->buf);
		free(w);
		conn_close(c);
	}
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
ctl_req_log(struct ctl_req *r, enum proto_level level, const char *fmt, ...)
{
	char ts[TIME_ISO8601_LEN], *msg;
	va_list ap;

	if (r->conn == NULL || level > r->req.level)
		return;
	va_start(ap, fmt);
	msg = utf8_vasprintf(fmt, ap);
	va_end(ap);
	time_format_iso8601(time_now_ms(), ts);
	conn_send(r->conn, proto_event_log(r->req.id, level, ts, msg));
	free(msg);
}

void
ctl_req_progress(struct ctl_req *r, const char *step, int done, int total,
    const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (r->conn == NULL)
		return;
	va_start(ap, fmt);
	msg = utf8_vasprintf(fmt, ap);
	va_end(ap);
	conn_send(r->conn, proto_event_progress(r->req.id, step, done, total,
	    msg));
	free(msg);
}

void
ctl_req_send_event(struct ctl_req *r, char *line)
{
	conn_send(r->conn, line);
}

size_t
ctl_req_backlog(const struct ctl_req *r)
{
	return r->conn ? r->conn->pending_write : 0;
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

/* Ends a request after its final reply line was queued. */
static void
req_end(struct ctl_req *r, char *line)
{
	struct ctl_conn *c = r->conn;

	proto_request_release(&r->req);
	free(r);
	if (c == NULL) {
		free(line);
		return;
	}
	c->active = NULL;
	conn_send(c, line);
	if (c->closing)
		return;
	if (!c->pumping)
		conn_pump(c);
}

/* The control requests counter (metrics.h). */
static void
count_request(const struct ctl_req *r, const char *outcome)
{
	metrics_control_request(r->req.cmd ? r->req.cmd->name : "none",
	    outcome);
}

void
ctl_req_ok(struct ctl_req *r, json_t *result)
{
	count_request(r, "ok");
	req_end(r, proto_reply_ok(r->req.id, result));
}

void
ctl_req_ok_encoded(struct ctl_req *r, const char *result, size_t len)
{
	count_request(r, "ok");
	req_end(r, proto_reply_ok_encoded(r->req.id, result, len));
}

void
ctl_req_error(struct ctl_req *r, enum proto_err code, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = utf8_vasprintf(fmt, ap);
	va_end(ap);
	count_request(r, proto_err_name(code));
	req_end(r, proto_reply_error(r->req.id, code, msg));
	free(msg);
}

/* Connections. */

static void
conn_close(struct ctl_conn *c)
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
	conn_send(c, proto_reply_error(id, PROTO_ERR_PERMISSION_DENIED, msg));
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
		conn_send(c, proto_reply_error(id, e, msg));
		return;
	}
	if (!(r->req.cmd->flags & CMD_F_READONLY)) {
		if (!c->may_mutate) {
			clog(LOG_NOTICE, r->req.cluster, "control: denied "
			    "\"%s\" on %s to uid %d pid %d", r->req.cmd->name,
			    r->req.cluster, (int)c->cred.uid,
			    (int)c->cred.pid);
			count_request(r, "permission_denied");
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
static void
conn_pump(struct ctl_conn *c)
{
	c->pumping = true;
	while (!c->closing && c->active == NULL && c->nqueue > 0) {
		char *line = c->queue[0];

		memmove(c->queue, c->queue + 1, --c->nqueue * sizeof(char *));
		conn_handle_line(c, line, strlen(line));
		free(line);
	}
	c->pumping = false;
	if (c->closing)
		return;
	if (c->eof && c->active == NULL && c->nqueue == 0) {
		/* Everything asked was answered. */
		if (c->pending_write == 0)
			conn_close(c);
		else
			c->close_after_write = true;
		return;
	}
	if (!c->reading && !c->eof && c->nqueue < CTL_MAX_QUEUED &&
	    c->pending_write < CTL_MAX_PENDING_WRITE / 2)
		conn_start_reading(c);
	conn_arm_timer(c);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	buf->base = xmalloc(suggested);
	buf->len = suggested;
}

/* Called by libuv with bytes from a client. */
static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct ctl_conn *c = s->data;
	const char *line;
	size_t len;

	if (nread < 0) {
		free(buf->base);
		if (nread == UV_EOF && !c->closing) {
			/* Answer what was asked, then close. */
			uv_read_stop(s);
			c->reading = false;
			c->eof = true;
			conn_pump(c);
		} else {
			conn_close(c);
		}
		return;
	}
	if (!linebuf_append(&c->in, buf->base, (size_t)nread)) {
		free(buf->base);
		log_info("control: message over %d bytes from pid %d",
		    PROTO_MAX_LINE, (int)c->cred.pid);
		conn_send(c, proto_reply_error(0, PROTO_ERR_BAD_REQUEST,
		    "message too large (the limit is 65536 bytes)"));
		uv_read_stop(s);
		c->reading = false;
		c->close_after_write = true;
		return;
	}
	free(buf->base);
	while ((line = linebuf_next(&c->in, &len))) {
		if (len == 0)
			continue;
		c->queue = xgrow(c->queue, &c->qcap, c->nqueue + 1,
		    sizeof(char *));
		c->queue[c->nqueue++] = xstrndup(line, len);
	}
	if (c->in.overflow) {
		conn_send(c, proto_reply_error(0, PROTO_ERR_BAD_REQUEST,
		    "message too large (the limit is 65536 bytes)"));
		uv_read_stop(s);
		c->reading = false;
		c->close_after_write = true;
		return;
	}
	if (c->nqueue >= CTL_MAX_QUEUED) {
		uv_read_stop(s);	/* resumes as the queue drains */
		c->reading = false;
	}
	if (!c->pumping)
		conn_pump(c);
}

static void
conn_start_reading(struct ctl_conn *c)
{
	if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) == 0)
		c->reading = true;
}

/* Called by libuv when a connection was quiet for too long. */
static void
on_conn_timeout(uv_timer_t *t)
{
	struct ctl_conn *c = t->data;

	log_info("control: closing %s connection %llu of pid %d",
	    linebuf_pending(&c->in) ? "stalled" : "idle",
	    (unsigned long long)c->id, (int)c->cred.pid);
	conn_close(c);
}

/* While nothing is in flight, a connection may not stay silent for ever,
 * and half a message must be completed soon. */
static void
conn_arm_timer(struct ctl_conn *c)
{
	if (c->closing)
		return;
	if (c->active || c->nqueue > 0) {
		uv_timer_stop(&c->timer);
		return;
	}
	uv_timer_start(&c->timer, on_conn_timeout, linebuf_pending(&c->in) ?
	    CTL_PARTIAL_TIMEOUT_MS : CTL_IDLE_TIMEOUT_MS, 0);
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
		conn_close(c);
		return;
	}
	c->may_mutate = c->cred.uid == 0 || c->cred.uid == geteuid() ||
	    peer_in_group(c, ctl->group);
	if (ctl->nconns > CTL_MAX_CONNECTIONS) {
		log_warnx("control: too many connections, refusing pid %d",
		    (int)c->cred.pid);
		conn_send(c, proto_reply_error(0, PROTO_ERR_BUSY,
		    "too many connections"));
		c->close_after_write = true;
		return;
	}
	conn_start_reading(c);
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
	free(c);
}

/* Called by libuv when the listening socket is closed. */
static void
on_listener_closed(uv_handle_t *h)
{
	struct control *c = h->data;

	c->listener_closed = true;
	if (c->freed)
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
	while (!LIST_EMPTY(&c->conns))
		conn_close(LIST_FIRST(&c->conns));
	if (c->path)
		unlink(c->path);
	c->freed = true;
	if (c->listener_closed)
		control_release(c);
	else
		control_stop_listening(c);
}
