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
	size_t n = strlen(s);

	if (n == 0 || n > PROTO_MAX_CLUSTER_NAME)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-_.") == n;
}

enum proto_err
proto_request_parse(const char *line, size_t len, struct proto_request *out,
    int64_t *id_out, char *msg, size_t msglen)
{
	json_error_t jerr;
	json_t *root, *args = NULL, *idv;
	const char *cmd = NULL, *cluster = NULL, *level = NULL;
	json_int_t v = 0, id = 0;
	int dry_run = 0, force = 0, wait = 1, lvl;

	memset(out, 0, sizeof(*out));
	*id_out = 0;
	/* JSON text has no NUL byte, but jansson's reader passes over some:
	 * refuse the line rather than run what a lenient reading makes of
	 * it. */
	if (memchr(line, '\0', len) != NULL) {
		utf8_snprintf(msg, msglen, "malformed JSON: a NUL byte in the "
		    "request line");
		return PROTO_ERR_BAD_REQUEST;
	}
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		utf8_snprintf(msg, msglen, "malformed JSON: %s (column %d)",
		    jerr.text, jerr.column);
		return PROTO_ERR_BAD_REQUEST;
	}
	if (!json_is_object(root)) {
		utf8_snprintf(msg, msglen, "a request must be a JSON object");
		json_decref(root);
		return PROTO_ERR_BAD_REQUEST;
	}
	/* Read the id first so that even a bad request gets it back. */
	idv = json_object_get(root, "id");
	if (json_is_integer(idv))
		*id_out = json_integer_value(idv);
	if (json_unpack_ex(root, &jerr, JSON_STRICT,
	    "{s:I, s:I, s:s, s?s, s?o, s?b, s?b, s?b, s?s}",
	    "v", &v, "id", &id, "cmd", &cmd, "cluster", &cluster,
	    "args", &args, "dry_run", &dry_run, "force", &force,
	    "wait", &wait, "level", &level) != 0) {
		utf8_snprintf(msg, msglen, "invalid request: %s", jerr.text);
		json_decref(root);
		return PROTO_ERR_BAD_REQUEST;
	}
	if (v != PROTO_VERSION) {
		utf8_snprintf(msg, msglen, "unsupported protocol version %lld "
		    "(this daemon speaks %d)", (long long)v, PROTO_VERSION);
		json_decref(root);
		return PROTO_ERR_BAD_REQUEST;
	}
	if (args && !json_is_object(args)) {
		utf8_snprintf(msg, msglen, "\"args\" must be an object");
		json_decref(root);
		return PROTO_ERR_BAD_REQUEST;
	}
	lvl = level ? proto_level_from_name(level) : PROTO_LEVEL_INFO;
	if (lvl < 0) {
		utf8_snprintf(msg, msglen, "unknown level \"%s\"", level);
		json_decref(root);
		return PROTO_ERR_BAD_REQUEST;
	}
	out->id = id;
	out->cmd = proto_cmd_find(cmd);
	if (out->cmd == NULL) {
		utf8_snprintf(msg, msglen, "unknown command \"%s\"", cmd);
		json_decref(root);
		return PROTO_ERR_UNKNOWN_COMMAND;
	}
	if (!(out->cmd->flags & CMD_F_NO_CLUSTER)) {
		if (cluster == NULL) {
			utf8_snprintf(msg, msglen,
			    "command \"%s\" needs a cluster",
			    out->cmd->name);
			json_decref(root);
			return PROTO_ERR_BAD_REQUEST;
		}
		if (!proto_cluster_name_valid(cluster)) {
			utf8_snprintf(msg, msglen, "invalid cluster name");
			json_decref(root);
			return PROTO_ERR_BAD_REQUEST;
		}
		utf8_snprintf(out->cluster, sizeof(out->cluster),
		    "%s", cluster);
	}
	out->args = args ? json_incref(args) : json_object();
	out->dry_run = dry_run;
	out->force = force;
	out->wait = wait;
	out->level = (enum proto_level)lvl;
	json_decref(root);
	return PROTO_OK;
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

char *
proto_reply_ok_encoded(int64_t id, const char *result, size_t len)
{
	char head[64];
	size_t hl;
	char *line;

	if (result == NULL)
		return line_of(id, NULL);
	/* The members in proto_reply_ok()'s order, as json_dumps() writes
	 * them with JSON_COMPACT. */
	hl = (size_t)snprintf(head, sizeof(head), /* not text */
	    "{\"id\":%lld,\"ok\":true,\"result\":", (long long)id);
	line = xmalloc(hl + len + 3);
	memcpy(line, head, hl);
	memcpy(line + hl, result, len);
	memcpy(line + hl + len, "}\n", 3);
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
