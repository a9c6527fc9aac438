/*
 * A request line, read with yajl's event parser (yajl/yajl_parse.h): the
 * fields go straight into struct proto_request, and "args", the one field
 * that stays JSON, is built as a jansson value from the same events.  A
 * jansson tree of the whole line and json_unpack() cost about 2.6 us of
 * the 3 us of daemon CPU a cached status answer took (issue 16,
 * bench/ctl_bench.py); yajl reads the line in about 0.4 us.
 *
 * What is refused is what jansson (JSON_REJECT_DUPLICATES) and json_unpack
 * (JSON_STRICT) refused before.  A line that is not one JSON object, holds
 * text that is not UTF-8 or a \u0000, or repeats a key of the request is
 * malformed JSON, answered with id 0.  A missing, mistyped or unknown field
 * is an invalid request, answered with the id when that is an integer.
 * Where yajl alone is laxer than jansson (control bytes as blanks, lone
 * surrogate escapes, an unclosed string after the object, what a value no
 * field takes holds), the line is refused here or jansson reads it too
 * (prescan(), proto_request_parse()); the fuzz target of control lines
 * checks every reply's id against jansson's reading of its line.
 */
#include "common/protocol.h"

#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "common/utf8.h"
#include "common/xalloc.h"

/* jansson's limit on nesting (the request object is 1). */
#define MAX_DEPTH	2048

/* The request's fields; K_OTHER is any other key. */
enum rkey {
	K_V, K_ID, K_CMD, K_CLUSTER, K_ARGS, K_DRY_RUN, K_FORCE, K_WAIT,
	K_LEVEL, K_OTHER,
};

enum rtype { T_INT, T_STR, T_BOOL, T_OBJ, T_REAL };

static const struct {
	const char *name;
	size_t	 len;
	enum rtype type;
} rkeys[K_OTHER] = {
#define RKEY(k, name, type) [k] = { name, sizeof(name) - 1, type }
	RKEY(K_V, "v", T_INT), RKEY(K_ID, "id", T_INT),
	RKEY(K_CMD, "cmd", T_STR), RKEY(K_CLUSTER, "cluster", T_STR),
	RKEY(K_ARGS, "args", T_OBJ), RKEY(K_DRY_RUN, "dry_run", T_BOOL),
	RKEY(K_FORCE, "force", T_BOOL), RKEY(K_WAIT, "wait", T_BOOL),
	RKEY(K_LEVEL, "level", T_STR),
#undef RKEY
};

/*
 * The memory of one line's read (yajl's handle, lexer and stacks; the
 * containers open in args and the key of its next value) comes from a
 * buffer on the stack, and what does not fit from malloc: reading a line
 * allocates nothing in the usual case.  Each block has its size before it;
 * a block of the buffer is freed with the whole buffer, when the read
 * ends.
 */
#define ARENA_SIZE	4096

struct arena {
	size_t	 used;
	alignas(max_align_t) unsigned char buf[ARENA_SIZE];
};

struct ablock {
	size_t	 size;
	bool	 heap;
	alignas(max_align_t) unsigned char data[];
};

static void *
arena_malloc(void *ctx, size_t size)
{
	struct arena *a = ctx;
	size_t need = sizeof(struct ablock) + (size + alignof(max_align_t) - 1) /
	    alignof(max_align_t) * alignof(max_align_t);
	struct ablock *b;

	if (need <= ARENA_SIZE - a->used) {
		b = (struct ablock *)(void *)(a->buf + a->used);
		a->used += need;
		b->heap = false;
	} else {
		b = xmalloc(sizeof(*b) + size);
		b->heap = true;
	}
	b->size = size;
	return b->data;
}

static struct ablock *
ablock_of(void *p)
{
	return (struct ablock *)(void *)((unsigned char *)p -
	    offsetof(struct ablock, data));
}

static void
arena_free(void *ctx, void *p)
{
	(void)ctx;
	if (p != NULL && ablock_of(p)->heap)
		free(ablock_of(p));
}

static void *
arena_realloc(void *ctx, void *p, size_t size)
{
	void *n;

	if (p == NULL)
		return arena_malloc(ctx, size);
	if (size <= ablock_of(p)->size)
		return p;
	n = arena_malloc(ctx, size);
	memcpy(n, p, ablock_of(p)->size);
	arena_free(ctx, p);
	return n;
}

/* What a field must be (no field is a real). */
static const char *const rtype_names[] = {
	[T_INT] = "an integer", [T_STR] = "a string",
	[T_BOOL] = "true or false", [T_OBJ] = "an object",
};

/* A string field: its first bytes (longer than any valid value). */
struct rtext {
	char	 s[PROTO_MAX_CLUSTER_NAME + 8];
	bool	 cut;		/* it was longer */
};

struct rq {
	yajl_handle h;
	size_t	 depth;		/* containers open; 1 inside the request */
	enum rkey key;		/* the field whose value is read (depth 1) */
	unsigned seen;		/* the fields given, a bit each */
	bool	 canceled;	/* malformed or not_object says why */
	bool	 not_object;
	size_t	 end_at;	/* just after the request's "}" */
	char	 malformed[160];
	char	 invalid[160];	/* the first field error */
	json_int_t v, id;
	bool	 id_read;	/* an integer */
	struct rtext cmd, cluster, level;
	bool	 dry_run, force, wait;
	/* args as it is built: the containers open in it, innermost last,
	 * and the key of the next value in the innermost object (in
	 * arena). */
	json_t	*args;
	json_t	**open;
	size_t	 nopen, open_cap;
	char	*akey;
	size_t	 akey_len;
	struct arena *arena;
};

static int
cancel(struct rq *q, const char *fmt, const char *what)
{
	utf8_snprintf(q->malformed, sizeof(q->malformed), fmt, what);
	q->canceled = true;
	return 0;
}

/* Text jansson would have refused: not UTF-8, or a \u0000 (yajl passes
 * strings decoded). */
static bool
text_ok(struct rq *q, const unsigned char *s, size_t len)
{
	if (utf8_valid((const char *)s, len))
		return true;
	cancel(q, "%s", memchr(s, '\0', len) ? "\\u0000 is not allowed in a "
	    "string" : "a string is not valid UTF-8");
	return false;
}

/* Inside args: its containers are open. */
static bool
in_args(const struct rq *q)
{
	return q->nopen > 0;
}

/* A container of args is open. */
static void
open_push(struct rq *q, json_t *v)
{
	if (q->nopen == q->open_cap) {
		q->open_cap = q->open_cap ? q->open_cap * 2 : 8;
		q->open = arena_realloc(q->arena, q->open,
		    q->open_cap * sizeof(*q->open));
	}
	q->open[q->nopen++] = v;
}

/* Adds v (stolen; NULL: no memory, or a real jansson refuses) to the
 * innermost container of args; a container is opened too.  0 stops the
 * parse. */
static int
args_add(struct rq *q, json_t *v, bool open)
{
	json_t *in = q->open[q->nopen - 1];

	if (v == NULL)
		return cancel(q, "%s", "a value jansson cannot hold");
	if (json_is_object(in)) {
		if (json_object_getn(in, q->akey, q->akey_len) != NULL) {
			json_decref(v);
			return cancel(q, "duplicate object key \"%s\"",
			    q->akey);
		}
		if (json_object_setn_new_nocheck(in, q->akey, q->akey_len,
		    v) != 0)
			return cancel(q, "%s", "no memory");
	} else if (json_array_append_new(in, v) != 0) {
		return cancel(q, "%s", "no memory");
	}
	if (open)
		open_push(q, v);
	return 1;
}

/* A value of the wrong type for its field, if it is a field's. */
static void
wrong_type(struct rq *q)
{
	if (q->depth != 1 || q->key == K_OTHER || q->invalid[0])
		return;		/* not a field's, or reported already */
	utf8_snprintf(q->invalid, sizeof(q->invalid), "\"%s\" must be %s",
	    rkeys[q->key].name, rtype_names[rkeys[q->key].type]);
}

/*
 * A value is starting.  The one that is the line itself must be an object;
 * one of a field (depth 1) is that field's if of its type.  Returns the
 * field that takes it (K_OTHER when none), or -1 to stop.
 */
static int
value(struct rq *q, enum rtype type)
{
	if (q->depth == 0) {
		cancel(q, "%s", "'{' expected");
		return -1;
	}
	if (q->depth > 1 || q->key == K_OTHER)
		return K_OTHER;
	if (rkeys[q->key].type != type) {
		wrong_type(q);
		return K_OTHER;
	}
	return q->key;
}

static int
r_null(void *ctx)
{
	struct rq *q = ctx;

	if (in_args(q))
		return args_add(q, json_null(), false);
	if (q->depth == 0)
		return cancel(q, "%s", "'{' expected");
	wrong_type(q);
	return 1;
}

static int
r_boolean(void *ctx, int b)
{
	struct rq *q = ctx;

	if (in_args(q))
		return args_add(q, json_boolean(b), false);
	switch (value(q, T_BOOL)) {
	case -1: return 0;
	case K_DRY_RUN: q->dry_run = b; break;
	case K_FORCE: q->force = b; break;
	case K_WAIT: q->wait = b; break;
	default: break;
	}
	return 1;
}

/*
 * A number, as yajl's lexer found it (the JSON grammar), converted as
 * jansson converts one: an integer when it has no fraction or exponent,
 * refused out of long long's range; else a double, refused when it
 * overflows.  (yajl's own conversion refuses -2^63.)
 */
static int
r_number(void *ctx, const char *s, size_t len)
{
	struct rq *q = ctx;
	char *text = arena_malloc(q->arena, len + 1), *end;
	bool integer = memchr(s, '.', len) == NULL &&
	    memchr(s, 'e', len) == NULL && memchr(s, 'E', len) == NULL;
	long long n = 0;
	double d = 0;

	memcpy(text, s, len);
	text[len] = '\0';
	errno = 0;
	if (integer)
		n = strtoll(text, &end, 10);
	else
		d = strtod(text, &end);
	arena_free(q->arena, text);
	if (integer && errno == ERANGE)
		return cancel(q, "%s", "too big integer");
	if (!integer && errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
		return cancel(q, "%s", "real number overflow");
	if (in_args(q))
		return args_add(q, integer ? json_integer(n) : json_real(d),
		    false);
	switch (value(q, integer ? T_INT : T_REAL)) {
	case -1: return 0;
	case K_V: q->v = n; break;
	case K_ID: q->id = n; q->id_read = true; break;
	default: break;
	}
	return 1;
}

/* s is valid UTF-8: cut at a character boundary, it stays text. */
static void
rtext_set(struct rtext *t, const unsigned char *s, size_t len)
{
	size_t n = utf8_cut((const char *)s, len, sizeof(t->s) - 1);

	t->cut = n < len;
	memcpy(t->s, s, n);
	t->s[n] = '\0';
}

static int
r_string(void *ctx, const unsigned char *s, size_t len)
{
	struct rq *q = ctx;

	if (!text_ok(q, s, len))
		return 0;
	if (in_args(q))
		return args_add(q, json_stringn_nocheck((const char *)s, len),
		    false);
	switch (value(q, T_STR)) {
	case -1: return 0;
	case K_CMD: rtext_set(&q->cmd, s, len); break;
	case K_CLUSTER: rtext_set(&q->cluster, s, len); break;
	case K_LEVEL: rtext_set(&q->level, s, len); break;
	default: break;
	}
	return 1;
}

static int
r_map_key(void *ctx, const unsigned char *s, size_t len)
{
	struct rq *q = ctx;
	enum rkey k;

	if (!text_ok(q, s, len))
		return 0;
	if (in_args(q)) {
		/* yajl's text is gone once the value comes. */
		q->akey = arena_realloc(q->arena, q->akey, len + 1);
		memcpy(q->akey, s, len);
		q->akey[len] = '\0';
		q->akey_len = len;
		return 1;
	}
	if (q->depth != 1)
		return 1;	/* in a value no field takes */
	for (k = 0; k < K_OTHER; k++)
		if (rkeys[k].len == len && memcmp(rkeys[k].name, s, len) == 0)
			break;
	q->key = k;
	if (k == K_OTHER) {
		if (q->invalid[0] == '\0')
			utf8_snprintf(q->invalid, sizeof(q->invalid),
			    "unknown field \"%.*s\"", (int)(len > 64 ? 64 : len),
			    (const char *)s);
		return 1;
	}
	if (q->seen & (1u << k))
		return cancel(q, "duplicate object key \"%s\"", rkeys[k].name);
	q->seen |= 1u << k;
	return 1;
}

static int
r_start_map(void *ctx)
{
	struct rq *q = ctx;

	if (q->depth == MAX_DEPTH)
		return cancel(q, "%s", "maximum parsing depth reached");
	if (in_args(q)) {
		q->depth++;
		return args_add(q, json_object(), true);
	}
	if (q->depth == 1 && value(q, T_OBJ) == K_ARGS) {
		if ((q->args = json_object()) == NULL)
			return cancel(q, "%s", "no memory");
		open_push(q, q->args);
	}
	q->depth++;
	return 1;
}

static int
r_end_container(void *ctx)
{
	struct rq *q = ctx;

	if (--q->depth == 0)
		q->end_at = yajl_get_bytes_consumed(q->h);
	if (in_args(q))
		q->nopen--;
	return 1;
}

static int
r_start_array(void *ctx)
{
	struct rq *q = ctx;

	if (q->depth == 0) {
		q->not_object = q->canceled = true;
		return 0;
	}
	if (q->depth == MAX_DEPTH)
		return cancel(q, "%s", "maximum parsing depth reached");
	if (in_args(q)) {
		q->depth++;
		return args_add(q, json_array(), true);
	}
	wrong_type(q);		/* no field is an array */
	q->depth++;
	return 1;
}

static const yajl_callbacks rq_callbacks = {
	.yajl_null = r_null,
	.yajl_boolean = r_boolean,
	.yajl_number = r_number,
	.yajl_string = r_string,
	.yajl_start_map = r_start_map,
	.yajl_map_key = r_map_key,
	.yajl_end_map = r_end_container,
	.yajl_start_array = r_start_array,
	.yajl_end_array = r_end_container,
};

/* Reads the line; 0, or -1 with the reason in msg (malformed JSON or not
 * an object: the id is not read). */
static int
rq_read(struct rq *q, const char *line, size_t len, char *msg, size_t msglen)
{
	yajl_alloc_funcs af = {
		.malloc = arena_malloc, .realloc = arena_realloc,
		.free = arena_free, .ctx = q->arena,
	};
	yajl_status st;
	size_t col;

	if ((q->h = yajl_alloc(&rq_callbacks, &af, q)) == NULL)
		abort();
	st = yajl_parse(q->h, (const unsigned char *)line, len);
	col = yajl_get_bytes_consumed(q->h) + 1;
	if (st == yajl_status_ok) {
		st = yajl_complete_parse(q->h);
		col = len + 1;
	}
	if (st == yajl_status_ok) {
		yajl_free(q->h);
		/* yajl takes an unclosed string after the value for one
		 * still to come: only blanks may follow. */
		for (size_t i = q->end_at; i < len; i++)
			if (line[i] != ' ' && line[i] != '\t' &&
			    line[i] != '\r' && line[i] != '\n') {
				utf8_snprintf(msg, msglen, "malformed JSON: "
				    "trailing garbage (column %zu)", i + 1);
				return -1;
			}
		return 0;
	}
	if (q->not_object) {
		utf8_snprintf(msg, msglen, "a request must be a JSON object");
	} else if (q->canceled) {
		utf8_snprintf(msg, msglen, "malformed JSON: %s (column %zu)",
		    q->malformed, col);
	} else {
		unsigned char *e = yajl_get_error(q->h, 0, NULL, 0);
		size_t n = strcspn((const char *)e, "\n");

		utf8_snprintf(msg, msglen, "malformed JSON: %.*s (column %zu)",
		    (int)n, (const char *)e, col);
		yajl_free_error(q->h, e);
	}
	yajl_free(q->h);
	return -1;
}

static enum proto_err
bad(char *msg, size_t msglen, const char *fmt, const char *what)
{
	utf8_snprintf(msg, msglen, fmt, what);
	return PROTO_ERR_BAD_REQUEST;
}

/* The fields of a request read whole: what it asks, or why not. */
static enum proto_err
rq_check(struct rq *q, struct proto_request *out, int64_t *id_out,
    char *msg, size_t msglen)
{
	int lvl;

	/* The line is JSON: even a bad request gets its id back. */
	if (q->id_read)
		*id_out = q->id;
	for (enum rkey k = K_V; q->invalid[0] == '\0' && k <= K_CMD; k++)
		if (!(q->seen & (1u << k)))
			utf8_snprintf(q->invalid, sizeof(q->invalid),
			    "\"%s\" is missing", rkeys[k].name);
	if (q->invalid[0])
		return bad(msg, msglen, "invalid request: %s", q->invalid);
	if (q->v != PROTO_VERSION) {
		utf8_snprintf(msg, msglen, "unsupported protocol version %lld "
		    "(this daemon speaks %d)", (long long)q->v, PROTO_VERSION);
		return PROTO_ERR_BAD_REQUEST;
	}
	lvl = q->seen & (1u << K_LEVEL) ? (q->level.cut ? -1 :
	    proto_level_from_name(q->level.s)) : PROTO_LEVEL_INFO;
	if (lvl < 0)
		return bad(msg, msglen, "unknown level \"%s\"", q->level.s);
	out->id = q->id;
	out->cmd = q->cmd.cut ? NULL : proto_cmd_find(q->cmd.s);
	if (out->cmd == NULL) {
		utf8_snprintf(msg, msglen, "unknown command \"%s%s\"",
		    q->cmd.s, q->cmd.cut ? "…" : "");
		return PROTO_ERR_UNKNOWN_COMMAND;
	}
	if (!(out->cmd->flags & CMD_F_NO_CLUSTER)) {
		if (!(q->seen & (1u << K_CLUSTER)))
			return bad(msg, msglen, "command \"%s\" needs a "
			    "cluster", out->cmd->name);
		if (q->cluster.cut || !proto_cluster_name_valid(q->cluster.s))
			return bad(msg, msglen, "%s", "invalid cluster name");
		memcpy(out->cluster, q->cluster.s, strlen(q->cluster.s) + 1);
	}
	out->args = q->args ? q->args : json_object();
	q->args = NULL;
	out->dry_run = q->dry_run;
	out->force = q->force;
	out->wait = q->wait;
	out->level = (enum proto_level)lvl;
	return PROTO_OK;
}

/*
 * Where yajl is laxer than JSON.  It takes a form feed or a vertical tab
 * for a blank: a control byte is in no valid line (in a string or out of
 * one), so one is refused here, a NUL with words of its own.  It reads a
 * lone surrogate escape as "?": *judge is set for a line with an escape
 * of U+D800 to U+DFFF, which jansson then reads as well.  Returns -1 with
 * the reason in msg for a line to refuse.
 */
static int
prescan(const char *line, size_t len, bool *judge, char *msg, size_t msglen)
{
	const char *p, *end = line + len;
	size_t i = 0;

	/* Eight bytes at a time while none is below 0x20 (no false
	 * negatives; after a true one the bytes are looked at one by one). */
	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, line + i, sizeof(w));
		if (((w - UINT64_C(0x2020202020202020)) & ~w &
		    UINT64_C(0x8080808080808080)) != 0)
			break;
	}
	for (; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if (ch >= 0x20 || ch == '\t' || ch == '\r' || ch == '\n')
			continue;
		if (ch == '\0')
			utf8_snprintf(msg, msglen, "malformed JSON: a NUL byte "
			    "in the request line");
		else
			utf8_snprintf(msg, msglen, "malformed JSON: control "
			    "character 0x%02X (column %zu)", ch, i + 1);
		return -1;
	}
	*judge = false;
	for (p = memchr(line, '\\', len); p != NULL && end - p > 1;
	    p = memchr(p, '\\', (size_t)(end - p))) {
		if (end - p > 3 && p[1] == 'u' && (p[2] | 0x20) == 'd') {
			char c = (char)(p[3] | 0x20);

			if (c == '8' || c == '9' || (c >= 'a' && c <= 'f')) {
				*judge = true;
				break;
			}
		}
		p += 2;		/* the escaped character is not one */
	}
	return 0;
}

/* jansson's verdict on the line: 0 when it reads it, else -1 with its
 * reason in msg. */
static int
jansson_reads(const char *line, size_t len, char *msg, size_t msglen)
{
	json_error_t jerr;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);

	if (o != NULL) {
		json_decref(o);
		return 0;
	}
	utf8_snprintf(msg, msglen, "malformed JSON: %s (column %d)", jerr.text,
	    jerr.column);
	return -1;
}

enum proto_err
proto_request_parse(const char *line, size_t len, struct proto_request *out,
    int64_t *id_out, char *msg, size_t msglen)
{
	struct arena arena;
	struct rq q = { .key = K_OTHER, .wait = true, .arena = &arena };
	enum proto_err e;
	bool judge;

	arena.used = 0;
	memset(out, 0, sizeof(*out));
	*id_out = 0;
	if (prescan(line, len, &judge, msg, msglen) != 0)
		return PROTO_ERR_BAD_REQUEST;
	/*
	 * A line yajl reads with a field that is unknown or mistyped is
	 * read by jansson too, as is one with a surrogate escape: only what
	 * a request may hold (args) is checked here as jansson checks it
	 * (duplicate keys, nesting), and a line jansson refuses is answered
	 * with id 0.
	 */
	if (rq_read(&q, line, len, msg, msglen) != 0 ||
	    ((judge || q.invalid[0]) && jansson_reads(line, len, msg,
	    msglen) != 0))
		e = PROTO_ERR_BAD_REQUEST;
	else
		e = rq_check(&q, out, id_out, msg, msglen);
	json_decref(q.args);
	arena_free(&arena, q.open);
	arena_free(&arena, q.akey);
	return e;
}
