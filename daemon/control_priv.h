/*
 * Inside the control module (control.h): the types its files share.
 * control.c accepts and reads connections and hands requests to the
 * dispatcher; control_write.c sends what goes back (replies, events) and
 * owns the write path (corks, the flusher, libuv's write queue).  Nothing outside the module includes this.
 */
#ifndef EC2M_CONTROL_PRIV_H
#define EC2M_CONTROL_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <uv.h>

#include "common/linebuf.h"
#include "common/protocol.h"
#include "daemon/control.h"

/* What one read may bring: the buffer libuv reads into is the
 * control's, shared by every connection, because each read is consumed
 * (appended to the connection's line buffer) before the read callback
 * returns. */
#define CTL_READ_BUF	(64u << 10)

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
	char		*rbuf;		/* CTL_READ_BUF bytes, owned */
	uv_idle_t	 flusher;	/* runs while lines wait in corks */
	bool		 flusher_closed;
	LIST_HEAD(ctl_corked, ctl_conn) corked;
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
	/* Request lines waiting, owned, with their lengths: a line is
	 * parsed from the same bytes whether it waited or not (a NUL in
	 * it is part of it, and makes it malformed). */
	struct ctl_line {
		char	*s;
		size_t	 len;
	}		*queue;
	size_t		 nqueue;
	size_t		 qcap;
	/* Bytes sent and not yet written to the socket: corked, or in
	 * libuv's queue (queued; while not 0 every new line goes behind
	 * them there, see control_write.c). */
	size_t		 pending_write;
	size_t		 queued;
	/* Lines not yet handed to the socket (owned), written together at
	 * the start of the loop's next round; only while queued is 0. */
	struct ctl_line	*cork;
	size_t		 ncork;
	size_t		 corkcap;
	bool		 in_corked;
	LIST_ENTRY(ctl_conn) cork_link;
	bool		 reading;
	bool		 eof;		/* the client will send no more */
	bool		 closing;
	bool		 close_after_write;
	bool		 pumping;
	bool		 quiet;		/* nothing in flight or waiting */
	uint64_t	 quiet_until;	/* loop ms: then closed, if still */
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

/* control.c */
void control_conn_close(struct ctl_conn *c);
void control_conn_pump(struct ctl_conn *c);
void control_conn_start_reading(struct ctl_conn *c);

/* control_write.c */
/* Sends line (stolen) to c's client after everything sent before; NULL c
 * or a closing one drops it.  May close c (an error, or a client that
 * does not read what it asked for). */
void control_conn_send(struct ctl_conn *c, char *line);
/* Closes c once what was sent has been written: now when nothing waits. */
void control_conn_close_when_written(struct ctl_conn *c);
/* Drops c's corked lines (c is closing). */
void control_conn_drop_cork(struct ctl_conn *c);
/* Called by libuv at the start of a loop round while lines are corked. */
void control_flush(uv_idle_t *h);

#endif
