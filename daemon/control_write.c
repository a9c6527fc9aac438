/*
 * What the control socket sends back (control_priv.h): the replies that
 * end requests, the events sent while they run, and the write path under
 * them.
 *
 * A line is first written straight to the socket (uv_try_write) when
 * nothing sent before is still waiting, so that the common case, a reply
 * that fits in the socket's buffer, costs one write and no libuv request,
 * callback or change of the poll set.  What does not fit, and everything
 * after it until it is written, goes through libuv's write queue
 * (uv_write), which keeps the order and counts in pending_write; that
 * count is what the client has not read and what the limits apply to.
 */
#include "daemon/control_priv.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/metrics.h"

struct ctl_write {
	uv_write_t	 req;
	char		*line;		/* owned */
	size_t		 len;		/* bytes of it queued */
	struct ctl_conn	*conn;
};

/* Called by libuv when a queued write has gone out (or failed). */
static void
on_written(uv_write_t *req, int status)
{
	struct ctl_write *w = (struct ctl_write *)req;
	struct ctl_conn *c = w->conn;

	c->pending_write -= w->len;
	free(w->line);
	free(w);
	if (c->closing)
		return;
	if (status < 0) {
		control_conn_close(c);
		return;
	}
	if (c->close_after_write && c->pending_write == 0)
		control_conn_close(c);
	else if (!c->reading && !c->eof && !c->close_after_write &&
	    c->pending_write < CTL_MAX_PENDING_WRITE / 2 &&
	    c->nqueue < CTL_MAX_QUEUED)
		control_conn_start_reading(c);
}

void
control_conn_close_when_written(struct ctl_conn *c)
{
	if (c->closing)
		return;
	if (c->pending_write == 0)
		control_conn_close(c);
	else
		c->close_after_write = true;
}

void
control_conn_send(struct ctl_conn *c, char *line)
{
	struct ctl_write *w;
	size_t len, off = 0;
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
		control_conn_close(c);
		return;
	}
	len = strlen(line);
	if (c->pending_write == 0) {
		/* Nothing queued before it: straight to the socket. */
		int n;

		buf = uv_buf_init(line, (unsigned int)len);
		n = uv_try_write((uv_stream_t *)&c->pipe, &buf, 1);
		if (n >= 0 && (size_t)n == len) {
			free(line);
			return;
		}
		if (n < 0 && n != UV_EAGAIN) {
			/* The client is gone (EPIPE, ECONNRESET). */
			free(line);
			control_conn_close(c);
			return;
		}
		if (n > 0)
			off = (size_t)n;
	}
	/* The rest waits in libuv's queue until the socket takes it. */
	w = xcalloc(1, sizeof(*w));
	w->line = line;
	w->len = len - off;
	w->conn = c;
	buf = uv_buf_init(line + off, (unsigned int)w->len);
	c->pending_write += w->len;
	if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1,
	    on_written) != 0) {
		c->pending_write -= w->len;
		free(w->line);
		free(w);
		control_conn_close(c);
	}
}

/* Requests. */

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
	control_conn_send(r->conn, proto_event_log(r->req.id, level, ts,
	    msg));
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
	control_conn_send(r->conn, proto_event_progress(r->req.id, step, done,
	    total, msg));
	free(msg);
}

void
ctl_req_send_event(struct ctl_req *r, char *line)
{
	control_conn_send(r->conn, line);
}

size_t
ctl_req_backlog(const struct ctl_req *r)
{
	return r->conn ? r->conn->pending_write : 0;
}

/* Ends a request after its final reply line was made. */
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
	control_conn_send(c, line);
	if (c->closing)
		return;
	if (!c->pumping)
		control_conn_pump(c);
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
