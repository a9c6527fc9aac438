/*
 * Encoding and decoding of control messages with jansson.  Every message is
 * dumped with JSON_COMPACT, which never writes a raw newline, so one message
 * is always one line.
 */
#include "common/protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "common/xalloc.h"

const struct proto_cmd_info proto_cmds[PROTO_CMD_COUNT] = {
#define CMD(id, name, flags, summary) \
	{ PROTO_CMD_##id, name, flags, summary },
#include "common/commands.def"
#undef CMD
};

static const char *const err_names[PROTO_ERR_COUNT] = {
	[PROTO_OK] = NULL,
	[PROTO_ERR_BAD_REQUEST] = "bad_request",
	[PROTO_ERR_UNKNOWN_COMMAND] = "unknown_command",
	[PROTO_ERR_UNKNOWN_CLUSTER] = "unknown_cluster",
	[PROTO_ERR_PERMISSION_DENIED] = "permission_denied",
	[PROTO_ERR_BUSY] = "busy",
	[PROTO_ERR_REFUSED] = "refused",
	[PROTO_ERR_UPSTREAM] = "upstream",
	[PROTO_ERR_TIMEOUT] = "timeout",
	[PROTO_ERR_INTERNAL] = "internal",
};

static const char *const level_names[] = {
	[PROTO_LEVEL_ERROR] = "error", [PROTO_LEVEL_WARNING] = "warning",
	[PROTO_LEVEL_INFO] = "info", [PROTO_LEVEL_DEBUG] = "debug",
};

const struct proto_cmd_info *
proto_cmd_find(const char *name)
{
	for (int i = 0; i < PROTO_CMD_COUNT; i++)
		if (strcmp(proto_cmds[i].name, name) == 0)
			return &proto_cmds[i];
	return NULL;
}

const char *
proto_err_name(enum proto_err e)
{
	return e > PROTO_OK && e < PROTO_ERR_COUNT ? err_names[e] : NULL;
}

enum proto_err
proto_err_from_name(const char *name)
{
	for (int e = PROTO_OK + 1; e < PROTO_ERR_COUNT; e++)
		if (strcmp(err_names[e], name) == 0)
			return (enum proto_err)e;
	return PROTO_ERR_COUNT;
}

const char *
proto_level_name(enum proto_level l)
{
	return l <= PROTO_LEVEL_DEBUG ? level_names[l] : "info";
}

int
proto_level_from_name(const char *name)
{
	for (int l = PROTO_LEVEL_ERROR; l <= PROTO_LEVEL_DEBUG; l++)
		if (strcmp(level_names[l], name) == 0)
			return l;
	return -1;
}

bool
proto_cluster_name_valid(const char *s)
{
	size_t n;

	/* A test a byte: strspn() builds its table on every call, on the
	 * path of every request. */
	for (n = 0; s[n] != '\0'; n++) {
		unsigned char ch = (unsigned char)s[n];

		if (n == PROTO_MAX_CLUSTER_NAME || !((ch >= 'a' && ch <= 'z') ||
		    (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '_' || ch == '.'))
			return false;
	}
	return n > 0;
}

void
proto_request_release(struct proto_request *r)
{
	json_decref(r->args);
	r->args = NULL;
}

/* Dumps o (stolen) as one line ending in '\n'.  Every string in o was made
 * with json_text() or comes from jansson's own parser, so dumping does not
 * fail; should it fail all the same (o NULL because a json_pack() failed,
 * or no memory), the answer is an `internal` error reply carrying id,
 * never an abort. */
static char *
line_of(int64_t id, json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	char *line;

	json_decref(o);
	if (s == NULL)
		return xasprintf("{\"id\":%lld,\"ok\":false,\"error\":"
		    "{\"code\":\"internal\",\"message\":"
		    "\"the reply could not be encoded\"}}\n", (long long)id);
	line = xasprintf("%s\n", s);
	free(s);
	return line;
}

char *
proto_request_encode(int64_t id, const char *cmd, const char *cluster,
    json_t *args, bool dry_run, bool force, bool wait, enum proto_level level)
{
	json_t *o = json_pack("{s:i, s:I, s:o}", "v", PROTO_VERSION,
	    "id", (json_int_t)id, "cmd", json_text(cmd));

	if (cluster)
		json_object_set_new(o, "cluster", json_text(cluster));
	if (args)
		json_object_set(o, "args", args);
	json_object_set_new(o, "dry_run", json_boolean(dry_run));
	json_object_set_new(o, "force", json_boolean(force));
	json_object_set_new(o, "wait", json_boolean(wait));
	json_object_set_new(o, "level", json_string(proto_level_name(level)));
	return line_of(id, o);
}

char *
proto_reply_ok(int64_t id, json_t *result)
{
	if (result == NULL)	/* building it failed */
		return line_of(id, NULL);
	return line_of(id, json_pack("{s:I, s:b, s:o}", "id",
	    (json_int_t)id, "ok", 1, "result", result));
}

char *
proto_result_encode(json_t *result)
{
	char *s = result ? json_dumps(result, JSON_COMPACT |
	    JSON_ENSURE_ASCII) : NULL;

	json_decref(result);
	return s;
}

/* v in decimal at dst (room for 20 bytes); returns its length.  By hand:
 * formatting it was a tenth of the daemon's own time on a cached answer. */
static size_t
int_text(char *dst, int64_t v)
{
	char rev[20];
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	size_t n = 0, len = 0;

	do {
		rev[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		dst[len++] = '-';
	while (n > 0)
		dst[len++] = rev[--n];
	return len;
}

size_t
proto_reply_ok_head(char *head, int64_t id)
{
	/* The members in proto_reply_ok()'s order, as json_dumps() writes
	 * them with JSON_COMPACT. */
	static const char pre[] = "{\"id\":", post[] = ",\"ok\":true,"
	    "\"result\":";
	size_t n = sizeof(pre) - 1;

	_Static_assert(sizeof(pre) - 1 + 20 + sizeof(post) - 1 <=
	    PROTO_REPLY_OK_HEAD_MAX, "PROTO_REPLY_OK_HEAD_MAX");
	memcpy(head, pre, n);
	n += int_text(head + n, id);
	memcpy(head + n, post, sizeof(post) - 1);
	return n + sizeof(post) - 1;
}

char *
proto_reply_ok_encoded(int64_t id, const char *result, size_t len)
{
	char head[PROTO_REPLY_OK_HEAD_MAX];
	size_t hl;
	char *line;

	if (result == NULL)
		return line_of(id, NULL);
	hl = proto_reply_ok_head(head, id);
	line = xmalloc(hl + len + sizeof(PROTO_REPLY_OK_TAIL));
	memcpy(line, head, hl);
	memcpy(line + hl, result, len);
	memcpy(line + hl + len, PROTO_REPLY_OK_TAIL,
	    sizeof(PROTO_REPLY_OK_TAIL));
	return line;
}

char *
proto_reply_error(int64_t id, enum proto_err code, const char *message)
{
	return line_of(id, json_pack("{s:I, s:b, s:{s:s, s:o}}", "id",
	    (json_int_t)id, "ok", 0, "error", "code", proto_err_name(code),
	    "message", json_text(message)));
}

char *
proto_event_log(int64_t id, enum proto_level level, const char *ts,
    const char *msg)
{
	return line_of(id, json_pack("{s:I, s:s, s:s, s:o, s:o}", "id",
	    (json_int_t)id, "event", PROTO_EVENT_LOG, "level",
	    proto_level_name(level),
	    "ts", json_text(ts), "msg", json_text(msg)));
}

char *
proto_event_progress(int64_t id, const char *step, int done, int total,
    const char *msg)
{
	return line_of(id, json_pack("{s:I, s:s, s:o, s:i, s:i, s:o}", "id",
	    (json_int_t)id, "event", PROTO_EVENT_PROGRESS, "step",
	    json_text(step),
	    "done", done, "total", total, "msg", json_text(msg)));
}

char *
proto_event_entry(int64_t id, json_t *entry)
{
	json_t *o;

	if (!json_is_object(entry)) {
		json_decref(entry);
		return line_of(id, NULL);
	}
	o = json_pack("{s:I, s:s}", "id", (json_int_t)id, "event",
	    PROTO_EVENT_ENTRY);
	/* The entry's own members follow, in their order. */
	json_object_del(entry, "id");
	json_object_del(entry, "event");
	if (o == NULL || json_object_update(o, entry) != 0) {
		json_decref(o);
		o = NULL;
	}
	json_decref(entry);
	return line_of(id, o);
}

char *
proto_event_lost(int64_t id, uint64_t count)
{
	char *msg = utf8_asprintf("%llu event%s left out: the client read "
	    "too slowly", (unsigned long long)count, count == 1 ? "" : "s");
	char *line = line_of(id, json_pack("{s:I, s:s, s:I, s:o}", "id",
	    (json_int_t)id, "event", PROTO_EVENT_LOST, "count",
	    (json_int_t)count, "msg", json_text(msg)));

	free(msg);
	return line;
}
