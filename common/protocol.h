/*
 * The control protocol between ec2ctl and ec2-managerd (SPEC §3): one JSON
 * object per line over a Unix stream socket.  A request is answered by zero
 * or more events and exactly one final reply carrying the request's id.
 * Both programs use these definitions; docs/protocol.md describes them for
 * people.
 *
 *   request:  {"v":1,"id":7,"cmd":"scale","cluster":"dev04",
 *              "args":{"direction":"down","workers":2},"dry_run":false,
 *              "force":false,"wait":true,"level":"info"}
 *   event:    {"id":7,"event":"log","level":"info","ts":"...","msg":"..."}
 *             {"id":7,"event":"progress","step":"wait_running","done":2,
 *              "total":3,"msg":"..."}
 *             {"id":7,"event":"entry","seq":12,"ts":"...","kind":"decision",
 *              "level":"info","msg":"...","data":{...}}   (events --follow)
 *             {"id":7,"event":"lost","count":3,"msg":"..."} (events --follow)
 *   reply:    {"id":7,"ok":true,"result":{...}}
 *             {"id":7,"ok":false,"error":{"code":"refused","message":"..."}}
 */
#ifndef EC2M_PROTOCOL_H
#define EC2M_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define PROTO_VERSION		1
/* Limits per direction, newline included (SPEC §3): a request is at most
 * 64 KiB; a reply or event is as long as its content needs (a
 * 2,500-instance status is about 400 KB), and ec2ctl reads lines of up to
 * 64 MiB. */
#define PROTO_MAX_REQUEST	(64 * 1024)
#define PROTO_MAX_REPLY		(64 * 1024 * 1024)
/* The older name of the request limit. */
#define PROTO_MAX_LINE		PROTO_MAX_REQUEST
#define PROTO_DEFAULT_SOCKET	"/run/ec2-manager/ctl.sock"
#define PROTO_SOCKET_ENV	"EC2CTL_SOCKET"
#define PROTO_MAX_CLUSTER_NAME	64

#define CMD_F_READONLY		0x1
#define CMD_F_NO_CLUSTER	0x2

enum proto_cmd {
#define CMD(id, name, flags, summary) PROTO_CMD_##id,
#include "common/commands.def"
#undef CMD
	PROTO_CMD_COUNT
};

struct proto_cmd_info {
	enum proto_cmd cmd;
	const char *name;
	unsigned flags;
	const char *summary;
};

extern const struct proto_cmd_info proto_cmds[PROTO_CMD_COUNT];

/* The command called name, or NULL. */
const struct proto_cmd_info *proto_cmd_find(const char *name);

/* A cluster name (the EC2 Name prefix): 1 to PROTO_MAX_CLUSTER_NAME
 * letters, digits, '-', '_' and '.'.  The one rule for the config file,
 * the daemon and ec2ctl. */
bool proto_cluster_name_valid(const char *s);

enum proto_err {
	PROTO_OK = 0,
	PROTO_ERR_BAD_REQUEST,
	PROTO_ERR_UNKNOWN_COMMAND,
	PROTO_ERR_UNKNOWN_CLUSTER,
	PROTO_ERR_PERMISSION_DENIED,
	PROTO_ERR_BUSY,
	PROTO_ERR_REFUSED,
	PROTO_ERR_UPSTREAM,
	PROTO_ERR_TIMEOUT,
	PROTO_ERR_INTERNAL,
	PROTO_ERR_COUNT
};

/* "bad_request", "unknown_command", ...; NULL for PROTO_OK. */
const char *proto_err_name(enum proto_err e);
/* PROTO_ERR_COUNT when name is not an error code. */
enum proto_err proto_err_from_name(const char *name);

/* Log levels carried by requests and log events. */
enum proto_level {
	PROTO_LEVEL_ERROR,
	PROTO_LEVEL_WARNING,
	PROTO_LEVEL_INFO,
	PROTO_LEVEL_DEBUG,
};

const char *proto_level_name(enum proto_level l);
/* -1 when name is not a level. */
int proto_level_from_name(const char *name);

struct proto_request {
	int64_t	 id;
	const struct proto_cmd_info *cmd;
	char	 cluster[PROTO_MAX_CLUSTER_NAME + 1];	/* "" if none */
	json_t	*args;		/* an object (owned; {} when absent) */
	bool	 dry_run;
	bool	 force;
	bool	 wait;		/* default true */
	enum proto_level level;	/* default info */
};

/* Parses one request line (without its newline).  On failure returns the
 * error code (bad_request, unknown_command) with a message in msg and, if
 * the id could be read, *id_out set (else 0).  Unknown top-level keys,
 * wrong types, a missing or wrong "v", a cluster that a command needs but
 * lacks, and duplicate keys are bad requests. */
enum proto_err proto_request_parse(const char *line, size_t len,
    struct proto_request *out, int64_t *id_out, char *msg, size_t msglen);
void proto_request_release(struct proto_request *r);

/* Encodes a request as one line ending in '\n'.  args is borrowed (NULL:
 * none).  Returns a new string. */
char *proto_request_encode(int64_t id, const char *cmd, const char *cluster,
    json_t *args, bool dry_run, bool force, bool wait, enum proto_level level);

/* Encoders for the daemon's messages; each returns a new string ending in
 * '\n' that is valid UTF-8 JSON whatever bytes the strings hold (they are
 * made valid with json_text()).  result is stolen; NULL (a builder that
 * failed) and any failure to encode give an `internal` error reply with
 * the same id instead: encoding never aborts. */
char *proto_reply_ok(int64_t id, json_t *result);
/* A result encoded once and sent many times (status from its cache):
 * proto_result_encode() gives the text of result (stolen) as it appears
 * inside proto_reply_ok()'s line, or NULL when it cannot be encoded;
 * proto_reply_ok_encoded() gives, byte for byte, the line proto_reply_ok()
 * would give for that result (NULL result: the `internal` error reply). */
char *proto_result_encode(json_t *result);
char *proto_reply_ok_encoded(int64_t id, const char *result, size_t len);
/* The same line in three parts, so that a cached result is sent without
 * a copy: proto_reply_ok_head() writes what comes before the result into
 * head (PROTO_REPLY_OK_HEAD_MAX bytes) and returns its length, and
 * PROTO_REPLY_OK_TAIL comes after it. */
#define PROTO_REPLY_OK_HEAD_MAX	48
#define PROTO_REPLY_OK_TAIL	"}\n"
size_t proto_reply_ok_head(char *head, int64_t id);
char *proto_reply_error(int64_t id, enum proto_err code, const char *message);
char *proto_event_log(int64_t id, enum proto_level level, const char *ts,
    const char *msg);
char *proto_event_progress(int64_t id, const char *step, int done, int total,
    const char *msg);

/*
 * `events` with "follow": true streams the cluster's event history: the
 * newest n entries, then each new one as it is recorded, every one as an
 * "entry" event (the members of an item of `events`' result, plus "id"
 * and "event").  When the client reads too slowly the daemon leaves
 * entries out and says how many in a "lost" event before the next entry
 * it sends.  The stream ends with a final reply {"cluster", "end"} when
 * the daemon stops or a reload removes the cluster; a client ends it by
 * closing the connection.
 */
#define PROTO_EVENT_LOG		"log"
#define PROTO_EVENT_PROGRESS	"progress"
#define PROTO_EVENT_ENTRY	"entry"
#define PROTO_EVENT_LOST	"lost"
/* entry (an object) is stolen; NULL gives an `internal` error line. */
char *proto_event_entry(int64_t id, json_t *entry);
char *proto_event_lost(int64_t id, uint64_t count);

/* Limits on a few request arguments, checked on both sides. */
#define PROTO_MAX_WORKERS	10000
#define PROTO_MAX_EVENTS	500

#endif
