/*
 * What the control socket sends back (control_priv.h): the replies that
 * end requests, the events sent while they run, and the write path under
 * them.
 *
 * A line is not written at once: it waits in its connection's cork until
 * the loop's next round begins (an idle handle runs then, before the loop
 * polls again), and every corked connection is then written in turn, its
 * lines with one uv_try_write.  So the replies of one round of reads go
 * out back to back rather than each between the parsing of the next
 * requests (fewer wake-ups of readers, measured with bench/ctl_bench.py);
 * and the usual reply costs one write, with no libuv request,
 * callback or change of the poll set.  What the socket does not take, and
 * everything after it until it is written, goes through libuv's write
 * queue (uv_write), which keeps the order.  pending_write counts both the
 * corked and the queued bytes: what the client has not read, which the
 * limits and ctl_req_backlog() see.
 *
 * The one exception is a reply from a cached answer (status): when
 * nothing of its connection waits, it is written at once from its parts,
 * the id's head, the cached text and the tail, with no copy into a line
 * (conn_send_parts); only what the socket does not take is copied.
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

/* After bytes left: closes c if that was waited for, or reads again
 * once the client has caught up. */
static void
conn_written(struct ctl_conn *c)
{
	if (c->close_after_write && c->pending_write == 0)
		control_conn_close(c);
	else if (!c->reading && !c->eof && !c->close_after_write &&
	    c->pending_write < CTL_MAX_PENDING_WRITE / 2 &&
	    c->nqueue < CTL_MAX_QUEUED)
		control_conn_start_reading(c);
}

/* Called by libuv when a queued write has gone out (or failed). */
static void
on_written(uv_write_t *req, int status)
{
	struct ctl_write *w = (struct ctl_write *)req;
	struct ctl_conn *c = w->conn;

	c->pending_write -= w->len;
	c->queued -= w->len;
	free(w->line);
	free(w);
	if (c->closing)
		return;
	if (status < 0) {
		control_conn_close(c);
		return;
	}
	conn_written(c);
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

/* Hands line (stolen) from byte off on to libuv's queue. */
static void
conn_queue(struct ctl_conn *c, char *line, size_t off, size_t len)
{
	struct ctl_write *w = xcalloc(1, sizeof(*w));
	uv_buf_t buf;

	w->line = line;
	w->len = len - off;
	w->conn = c;
	buf = uv_buf_init(line + off, (unsigned int)w->len);
	c->queued += w->len;
	if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1,
	    on_written) != 0) {
		c->queued -= w->len;
		c->pending_write -= w->len;
		free(w->line);
		free(w);
		control_conn_close(c);
	}
}

void
control_conn_drop_cork(struct ctl_conn *c)
{
	for (size_t i = 0; i < c->ncork; i++)
		free(c->cork[i].s);
	free(c->cork);
	c->cork = NULL;
	c->ncork = c->corkcap = 0;
	if (c->in_corked) {
		LIST_REMOVE(c, cork_link);
		c->in_corked = false;
	}
}

/* The most lines one write takes. */
#define FLUSH_MAX	64

/* Writes c's corked lines with one write; what the socket does not take
 * goes to libuv's queue, in order. */
static void
conn_flush(struct ctl_conn *c)
{
	struct ctl_line few[FLUSH_MAX], *lines = few;
	size_t nl = c->ncork, n = nl < FLUSH_MAX ? nl : FLUSH_MAX, done, i;
	uv_buf_t bufs[FLUSH_MAX];
	int r;

	if (nl == 0)
		return;
	/* Taken off c first: closing c below drops what is left of it.  A
	 * few lines are copied, and c keeps its array for the next ones
	 * (no allocation a round). */
	if (nl <= FLUSH_MAX) {
		memcpy(few, c->cork, nl * sizeof(*few));
	} else {
		lines = c->cork;
		c->cork = NULL;
		c->corkcap = 0;
	}
	c->ncork = 0;
	for (i = 0; i < n; i++)
		bufs[i] = uv_buf_init(lines[i].s, (unsigned int)lines[i].len);
	r = uv_try_write((uv_stream_t *)&c->pipe, bufs, (unsigned int)n);
	done = r > 0 ? (size_t)r : 0;
	c->pending_write -= done;
	for (i = 0; i < nl; i++) {
		size_t len = lines[i].len;

		if (done >= len) {
			done -= len;
			free(lines[i].s);
		} else if (r < 0 && r != UV_EAGAIN) {
			free(lines[i].s);	/* the client is gone */
		} else if (c->closing) {
			free(lines[i].s);
		} else {
			conn_queue(c, lines[i].s, done, len);
			done = 0;
		}
	}
	if (lines != few)
		free(lines);
	if (r < 0 && r != UV_EAGAIN)
		control_conn_close(c);
	else if (!c->closing)
		conn_written(c);
}

void
control_flush(uv_idle_t *h)
{
	struct control *ctl = h->data;
	struct ctl_conn *c;

	while ((c = LIST_FIRST(&ctl->corked)) != NULL) {
		LIST_REMOVE(c, cork_link);
		c->in_corked = false;
		conn_flush(c);
	}
	uv_idle_stop(h);
}

void
control_conn_send(struct ctl_conn *c, char *line)
{
	size_t len;

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
	c->pending_write += len;
	if (c->queued > 0) {
		/* Behind what already waits in libuv's queue. */
		conn_queue(c, line, 0, len);
		return;
	}
	/* Corked: written with the lines of the other connections at the
	 * start of the next round, one after the other. */
	c->cork = xgrow(c->cork, &c->corkcap, c->ncork + 1, sizeof(*c->cork));
	c->cork[c->ncork].s = line;
	c->cork[c->ncork++].len = len;
	if (!c->in_corked) {
		LIST_INSERT_HEAD(&c->ctl->corked, c, cork_link);
		c->in_corked = true;
		uv_idle_start(&c->ctl->flusher, control_flush);
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

/*
 * Sends parts (not owned) as one line, after everything sent before.  When
 * nothing of c waits they are written at once, with one write and no copy
 * (a cached status answer is not copied into a line); what the socket
 * does not take, or all of it when lines wait, is copied and sent as
 * control_conn_send() sends a line.
 */
static void
conn_send_parts(struct ctl_conn *c, const uv_buf_t *parts, unsigned int n)
{
	size_t total = 0, done = 0, off = 0;
	char *rest;
	int r;

	if (c->closing)
		return;
	for (unsigned int i = 0; i < n; i++)
		total += parts[i].len;
	if (c->queued == 0 && c->ncork == 0) {
		r = uv_try_write((uv_stream_t *)&c->pipe, parts, n);
		if (r < 0 && r != UV_EAGAIN) {
			control_conn_close(c);		/* the client is gone */
			return;
		}
		done = r > 0 ? (size_t)r : 0;
		if (done == total) {
			conn_written(c);
			return;
		}
	}
	rest = xmalloc(total - done + 1);
	for (unsigned int i = 0; i < n; i++) {
		size_t skip = done < parts[i].len ? done : parts[i].len;

		memcpy(rest + off, parts[i].base + skip, parts[i].len - skip);
		off += parts[i].len - skip;
		done -= skip;
	}
	rest[off] = '\0';
	control_conn_send(c, rest);
}

/* A request has its final reply: r is freed, and its connection (NULL
 * when the client has gone) takes the next request. */
static struct ctl_conn *
req_release(struct ctl_req *r)
{
	struct ctl_conn *c = r->conn;

	proto_request_release(&r->req);
	free(r);
	if (c != NULL)
		c->active = NULL;
	return c;
}

static void
conn_next(struct ctl_conn *c)
{
	if (c != NULL && !c->closing && !c->pumping)
		control_conn_pump(c);
}

/* Ends a request after its final reply line was made. */
static void
req_end(struct ctl_req *r, char *line)
{
	struct ctl_conn *c = req_release(r);

	if (c == NULL) {
		free(line);
		return;
	}
	control_conn_send(c, line);
	conn_next(c);
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
	char head[PROTO_REPLY_OK_HEAD_MAX];
	uv_buf_t parts[3];
	struct ctl_conn *c;

	count_request(r, "ok");
	if (result == NULL || r->conn == NULL) {
		req_end(r, proto_reply_ok_encoded(r->req.id, result, len));
		return;
	}
	/* proto_reply_ok_encoded()'s line, in its parts. */
	parts[0] = uv_buf_init(head, (unsigned int)proto_reply_ok_head(head,
	    r->req.id));
	parts[1] = uv_buf_init((char *)result, (unsigned int)len);
	parts[2] = uv_buf_init((char *)PROTO_REPLY_OK_TAIL,
	    sizeof(PROTO_REPLY_OK_TAIL) - 1);
	c = req_release(r);
	conn_send_parts(c, parts, 3);
	conn_next(c);
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
