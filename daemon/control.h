/*
 * The control socket (SPEC §3): a Unix stream socket serving ec2ctl.  Each
 * connection is read as newline-framed JSON requests that are answered in
 * order; a request is handed to the dispatcher as a struct ctl_req, which
 * the handler ends with exactly one reply, now or later.  A request outlives
 * its connection: replies to a client that left are dropped.
 */
#ifndef EC2M_CONTROL_H
#define EC2M_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>
#include <uv.h>

#include "common/protocol.h"

struct control;
struct ctl_req;

typedef void ctl_dispatch_fn(void *arg, struct ctl_req *req);

/* Limits. */
#define CTL_MAX_CONNECTIONS	4096
#define CTL_MAX_QUEUED		64		/* requests waiting per connection */
#define CTL_MAX_PENDING_WRITE	(8u << 20)	/* unread output per connection */
#define CTL_PARTIAL_TIMEOUT_MS	(30 * 1000)	/* half a message then silence */
#define CTL_IDLE_TIMEOUT_MS	(15 * 60 * 1000)

struct control *control_new(uv_loop_t *loop, ctl_dispatch_fn *dispatch,
    void *arg);
/* Serves on path: refuses when a live daemon answers there, removes a
 * stale socket file, binds with mode 0660 and, when group is not empty,
 * that group.  Returns 0, or -1 with err. */
int control_listen_path(struct control *c, const char *path,
    const char *group, char *err, size_t errlen);
/* Serves on an inherited listening socket (systemd socket activation). */
int control_listen_fd(struct control *c, int fd, char *err, size_t errlen);
/* Peers in this group (gid, called name) may send mutating commands
 * (besides root and the daemon's own user).  Without a call: nobody
 * else. */
void control_set_group(struct control *c, gid_t gid, const char *name);
/* Stops listening and closes every connection; requests in flight stay
 * valid and their replies are dropped.  Memory is released by libuv close
 * callbacks: run the loop afterwards. */
void control_free(struct control *c);
/* Stops accepting new connections (shutdown begins). */
void control_stop_listening(struct control *c);
size_t control_connections(const struct control *c);

const struct proto_request *ctl_req_get(const struct ctl_req *r);
uid_t ctl_req_uid(const struct ctl_req *r);
pid_t ctl_req_pid(const struct ctl_req *r);
/* True while the client that asked is still connected. */
bool ctl_req_connected(const struct ctl_req *r);
/* Sends a log event if the request asked for that level. */
void ctl_req_log(struct ctl_req *r, enum proto_level level, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
void ctl_req_progress(struct ctl_req *r, const char *step, int done,
    int total, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Sends an event line made by a proto_event_*() encoder (stolen). */
void ctl_req_send_event(struct ctl_req *r, char *line);
/* Bytes written to r's client that it has not read yet; 0 once it left. */
size_t ctl_req_backlog(const struct ctl_req *r);
/*
 * Marks r as a stream, a request with no end of its own (`events
 * --follow`): fn is called once if its client leaves (ctl_req_connected()
 * is then false) or the control socket is freed at shutdown while r is
 * open, and must end r with a final reply.
 */
typedef void ctl_stream_end_fn(void *arg, struct ctl_req *r);
void ctl_req_set_stream(struct ctl_req *r, ctl_stream_end_fn *fn, void *arg);
/* Final replies; each ends (and frees) the request.  result is stolen. */
void ctl_req_ok(struct ctl_req *r, json_t *result);
/* The same with a result already encoded (proto_result_encode()),
 * borrowed; NULL gives the `internal` error reply. */
void ctl_req_ok_encoded(struct ctl_req *r, const char *result, size_t len);
void ctl_req_error(struct ctl_req *r, enum proto_err code, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

#endif
