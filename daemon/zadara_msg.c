/*
 * Zadara portal answers through jansson.  The portal is a small JSON API
 * whose exact shapes are only known from the clients that use it
 * (reference §6), so the readers take what those clients take and say
 * precisely where an answer stops making sense.  Text copied out of an
 * answer has its control characters replaced, since it ends up in log
 * lines and operator messages.
 */
#include "daemon/zadara_msg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/utf8.h"

void
zadara_error_set(struct zadara_error *e, enum zadara_err_kind kind,
    const char *fmt, ...)
{
	va_list ap;

	e->kind = kind;
	va_start(ap, fmt);
	utf8_vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

const char *
zadara_err_kind_name(enum zadara_err_kind kind)
{
	switch (kind) {
	case ZADARA_ERR_NONE:		return "none";
	case ZADARA_ERR_AUTH:		return "auth";
	case ZADARA_ERR_UNREACHABLE:	return "unreachable";
	case ZADARA_ERR_HTTP:		return "http";
	case ZADARA_ERR_PARSE:		return "parse";
	case ZADARA_ERR_NOT_FOUND:	return "not_found";
	case ZADARA_ERR_REFUSED:	return "refused";
	case ZADARA_ERR_FAILED:		return "failed";
	case ZADARA_ERR_TIMEOUT:	return "timeout";
	case ZADARA_ERR_CONFIG:		return "config";
	case ZADARA_ERR_CANCELLED:	return "cancelled";
	}
	return "unknown";
}

enum zadara_state
zadara_state_of(const char *status)
{
	static const char *const transitional[] = { "hibernate_offlining",
	    "hibernating", "launching", "booting", "restoring" };

	if (status == NULL)
		return ZADARA_UNKNOWN;
	if (strcmp(status, "created") == 0)
		return ZADARA_UP;
	if (strcmp(status, "hibernated") == 0)
		return ZADARA_DOWN;
	if (strcmp(status, "failed") == 0)
		return ZADARA_FAILED;
	for (size_t i = 0; i < sizeof(transitional) / sizeof(*transitional);
	    i++)
		if (strcmp(status, transitional[i]) == 0)
			return ZADARA_TRANSITIONAL;
	return ZADARA_UNKNOWN;
}

const char *
zadara_state_name(enum zadara_state state)
{
	switch (state) {
	case ZADARA_UP:			return "up";
	case ZADARA_DOWN:		return "down";
	case ZADARA_TRANSITIONAL:	return "transitional";
	case ZADARA_FAILED:		return "failed";
	case ZADARA_UNKNOWN:		return "unknown";
	}
	return "unknown";
}

/* Copies n bytes of s into buf, made valid UTF-8 and cut to fit at a
 * character boundary, control characters replaced by spaces.  Returns
 * false when s had to be cut. */
static bool
copy_text(char *buf, size_t buflen, const char *s, size_t n)
{
	char *v = utf8_sanitize(s, n);
	size_t vlen = strlen(v), m = utf8_copy(buf, buflen, v, vlen);

	free(v);
	for (size_t i = 0; i < m; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = ' ';
	return vlen < buflen;
}

static json_t *
load(const char *json, size_t len, const char *what,
    struct zadara_error *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr);

	if (root == NULL) {
		zadara_error_set(err, ZADARA_ERR_PARSE, "malformed JSON in %s: "
		    "%s (line %d, column %d, position %d)", what, jerr.text,
		    jerr.line, jerr.column, jerr.position);
		return NULL;
	}
	if (!json_is_object(root)) {
		zadara_error_set(err, ZADARA_ERR_PARSE, "%s is not a JSON "
		    "object", what);
		json_decref(root);
		return NULL;
	}
	return root;
}

/* A number or string as text into buf.  Returns 0, 1 when absent or null,
 * -1 for other types and numbers that are not whole. */
static int
scalar_text(json_t *v, char *buf, size_t buflen, bool *cut)
{
	double d;

	*cut = false;
	if (v == NULL || json_is_null(v))
		return 1;
	if (json_is_string(v)) {
		*cut = !copy_text(buf, buflen, json_string_value(v),
		    json_string_length(v));
		return 0;
	}
	if (json_is_integer(v)) {
		snprintf(buf, buflen, "%" JSON_INTEGER_FORMAT, /* not text */
		    json_integer_value(v));
		return 0;
	}
	if (json_is_real(v)) {
		/* Whole and exact in a double (no libm needed for that). */
		d = json_real_value(v);
		if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) ||
		    d != (double)(long long)d)
			return -1;
		snprintf(buf, buflen, "%.0f", d); /* not text */
		return 0;
	}
	return -1;
}

int
zadara_parse_vpsa(const char *json, size_t len, struct zadara_vpsa *out,
    struct zadara_error *err)
{
	const char *what = "the VPSA answer";
	json_t *root, *v, *field;
	bool cut;
	int r;

	memset(out, 0, sizeof(*out));
	out->state = ZADARA_UNKNOWN;
	if ((root = load(json, len, what, err)) == NULL)
		return -1;
	v = json_object_get(root, "vpsa");
	if (v == NULL && json_object_get(root, "status"))
		v = root;
	if (v == NULL || !json_is_object(v)) {
		zadara_error_set(err, ZADARA_ERR_PARSE, "%s has no \"vpsa\" "
		    "object", what);
		goto fail;
	}

	field = json_object_get(v, "id");
	r = scalar_text(field, out->id, sizeof(out->id), &cut);
	if (r < 0 || cut || (r == 0 && out->id[0] == '\0')) {
		zadara_error_set(err, ZADARA_ERR_PARSE, "%s: \"id\" is not a "
		    "whole number or a short string", what);
		goto fail;
	}
	if (r == 1)
		out->id[0] = '\0';

	field = json_object_get(v, "status");
	if (field == NULL || json_is_null(field) ||
	    (json_is_string(field) && json_string_length(field) == 0)) {
		zadara_error_set(err, ZADARA_ERR_PARSE, "%s has no \"status\"",
		    what);
		goto fail;
	}
	if (!json_is_string(field) || !copy_text(out->status,
	    sizeof(out->status), json_string_value(field),
	    json_string_length(field))) {
		zadara_error_set(err, ZADARA_ERR_PARSE, "%s: \"status\" is "
		    "not a short string", what);
		goto fail;
	}
	out->state = zadara_state_of(out->status);

	/* The name is only shown to people: take what can be shown. */
	if (scalar_text(json_object_get(v, "name"), out->name,
	    sizeof(out->name), &cut) != 0)
		out->name[0] = '\0';
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	memset(out, 0, sizeof(*out));
	out->state = ZADARA_UNKNOWN;
	return -1;
}

static bool
only_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

int
zadara_parse_action(const char *json, size_t len, char *msg, size_t msglen,
    struct zadara_error *err)
{
	const char *what = "the portal's answer";
	json_t *root, *resp, *status, *text;
	long code = 0;
	bool cut;
	char num[32];

	msg[0] = '\0';
	/* ec2-management never read this answer; an empty one is fine. */
	if (json == NULL || only_space(json, len))
		return 0;
	if ((root = load(json, len, what, err)) == NULL)
		return -1;
	resp = json_object_get(root, "response");
	if (resp == NULL || json_is_null(resp)) {
		json_decref(root);
		return 0;
	}
	if (json_is_string(resp)) {
		copy_text(msg, msglen, json_string_value(resp),
		    json_string_length(resp));
		json_decref(root);
		return 0;
	}
	if (!json_is_object(resp)) {
		zadara_error_set(err, ZADARA_ERR_PARSE, "%s: \"response\" is "
		    "neither a string nor an object", what);
		json_decref(root);
		return -1;
	}
	status = json_object_get(resp, "status");
	if (scalar_text(status, num, sizeof(num), &cut) == 0) {
		char *end;

		code = strtol(num, &end, 10);
		if (*end != '\0' || cut) {
			zadara_error_set(err, ZADARA_ERR_PARSE, "%s: "
			    "\"response.status\" is not a number", what);
			json_decref(root);
			return -1;
		}
	}
	text = json_object_get(resp, "message");
	if (json_is_string(text))
		copy_text(msg, msglen, json_string_value(text),
		    json_string_length(text));
	json_decref(root);
	if (code != 0) {
		zadara_error_set(err, ZADARA_ERR_REFUSED, "the portal refused "
		    "(status %ld): %s", code, msg[0] ? msg : "no message");
		return -1;
	}
	return 0;
}

/* Appends the text of a string value to buf (after "; " when buf is not
 * empty).  Returns true when something was added. */
static bool
add_text(char *buf, size_t buflen, json_t *v)
{
	size_t n = strlen(buf);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return false;
	if (n > 0 && n + 2 < buflen) {
		memcpy(buf + n, "; ", 3);
		n += 2;
	}
	if (n + 1 >= buflen)
		return false;
	copy_text(buf + n, buflen - n, json_string_value(v),
	    json_string_length(v));
	return true;
}

bool
zadara_error_body(const char *json, size_t len, char *buf, size_t buflen)
{
	json_t *root, *v, *item;
	size_t i;
	bool found = false;

	if (buflen == 0)
		return false;
	buf[0] = '\0';
	if (json == NULL || len == 0)
		return false;
	root = json_loadb(json, len, 0, NULL);
	if (root == NULL)
		return false;
	if (!json_is_object(root)) {
		json_decref(root);
		return false;
	}
	v = json_object_get(root, "error");
	if (json_is_object(v))
		v = json_object_get(v, "message");
	found = add_text(buf, buflen, v);
	if (!found && json_is_array(v = json_object_get(root, "errors")))
		json_array_foreach(v, i, item)
			found |= add_text(buf, buflen, item);
	if (!found)
		found = add_text(buf, buflen, json_object_get(root, "message"));
	if (!found && json_is_object(v = json_object_get(root, "response")))
		found = add_text(buf, buflen, json_object_get(v, "message"));
	json_decref(root);
	return found;
}
