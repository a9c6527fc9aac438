/*
 * The crash record as data: building it, its JSON text, reading that text
 * back (a parser of outside input: the file may be cut short by a crash or
 * edited by hand, so everything is checked), and the plan of a recovery.
 * Pure; the file itself is opjournal_file.c's.
 */
#include "daemon/opjournal.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"

void
opjournal_init(struct opjournal *j)
{
	memset(j, 0, sizeof(*j));
}

void
opjournal_release(struct opjournal *j)
{
	free(j->cluster);
	free(j->operation);
	free(j->initiator);
	strv_clear(&j->hosts);
	strv_clear(&j->ids);
	strv_clear(&j->stopping);
	opjournal_init(j);
}

void
opjournal_set(char **field, const char *value)
{
	free(*field);
	*field = value ? xstrdup(value) : NULL;
}

void
opjournal_add_node(struct opjournal *j, const char *host, const char *id)
{
	if (strv_has(&j->hosts, host))
		return;
	strv_add(&j->hosts, host);
	strv_add(&j->ids, id);
}

bool
opjournal_remove_host(struct opjournal *j, const char *host)
{
	for (size_t i = 0; i < j->hosts.n; i++) {
		if (strcmp(j->hosts.v[i], host) == 0) {
			strv_remove_at(&j->hosts, i);
			strv_remove_at(&j->ids, i);
			return true;
		}
	}
	return false;
}

bool
opjournal_remove_instance(struct opjournal *j, const char *id)
{
	bool found = false;

	for (size_t i = 0; i < j->ids.n;) {
		if (strcmp(j->ids.v[i], id) == 0) {
			strv_remove_at(&j->hosts, i);
			strv_remove_at(&j->ids, i);
			found = true;
		} else {
			i++;
		}
	}
	return found;
}

char *
opjournal_dump(const struct opjournal *j)
{
	char ts[TIME_ISO8601_LEN];
	json_t *root, *maint = json_array(), *stopping = json_array();
	char *text, *line;

	for (size_t i = 0; i < j->hosts.n; i++)
		json_array_append_new(maint, json_pack("{s:o, s:o}",
		    "host", json_text(j->hosts.v[i]),
		    "instance", json_text(j->ids.v[i])));
	for (size_t i = 0; i < j->stopping.n; i++)
		json_array_append_new(stopping, json_text(j->stopping.v[i]));
	time_format_iso8601(j->started_ms, ts);
	root = json_pack("{s:i, s:o, s:o, s:o, s:s, s:I, s:I, s:o, s:o}",
	    "version", OPJOURNAL_VERSION,
	    "cluster", json_text(j->cluster ? j->cluster : ""),
	    "operation", json_text(j->operation ? j->operation : ""),
	    "initiator", json_text_or_null(j->initiator),
	    "started_at", ts,
	    "started_ms", (json_int_t)j->started_ms,
	    "pid", (json_int_t)j->pid,
	    "maintenance", maint,
	    "stopping", stopping);
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	line = xasprintf("%s\n", text);
	free(text);
	return line;
}

/* Parsing. */

static int
bad(char *err, size_t errlen, const char *what)
{
	utf8_snprintf(err, errlen, "%s", what);
	return -1;
}

/* A string of the record: present, non-empty, not too long, without NUL
 * bytes (jansson keeps "\u0000" inside a string). */
static int
get_text(json_t *v, const char *what, char **out, char *err, size_t errlen)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (s == NULL) {
		utf8_snprintf(err, errlen, "%s is not a string", what);
		return -1;
	}
	if (n == 0 || n > OPJOURNAL_MAX_TEXT || strlen(s) != n) {
		utf8_snprintf(err, errlen, "%s is empty, longer than %d bytes "
		    "or holds a NUL", what, OPJOURNAL_MAX_TEXT);
		return -1;
	}
	*out = xstrdup(s);
	return 0;
}

static int
parse_maintenance(json_t *a, struct opjournal *j, char *err, size_t errlen)
{
	size_t i;
	json_t *e;

	if (!json_is_array(a))
		return bad(err, errlen, "\"maintenance\" is not a list");
	if (json_array_size(a) > OPJOURNAL_MAX_NODES)
		return bad(err, errlen, "\"maintenance\" lists too many nodes");
	json_array_foreach(a, i, e) {
		char *host = NULL, *id = NULL, what[64];
		int rc;

		if (!json_is_object(e)) {
			utf8_snprintf(err, errlen, "maintenance[%zu] is not an "
			    "object", i);
			return -1;
		}
		utf8_snprintf(what, sizeof(what), "maintenance[%zu].host", i);
		rc = get_text(json_object_get(e, "host"), what, &host, err,
		    errlen);
		if (rc == 0) {
			utf8_snprintf(what, sizeof(what),
			    "maintenance[%zu].instance", i);
			rc = get_text(json_object_get(e, "instance"), what, &id,
			    err, errlen);
		}
		if (rc == 0)
			opjournal_add_node(j, host, id);
		free(host);
		free(id);
		if (rc != 0)
			return -1;
	}
	return 0;
}

static int
parse_stopping(json_t *a, struct opjournal *j, char *err, size_t errlen)
{
	size_t i;
	json_t *e;

	if (!json_is_array(a))
		return bad(err, errlen, "\"stopping\" is not a list");
	if (json_array_size(a) > OPJOURNAL_MAX_NODES)
		return bad(err, errlen, "\"stopping\" lists too many "
		    "instances");
	json_array_foreach(a, i, e) {
		char *id = NULL, what[32];

		utf8_snprintf(what, sizeof(what), "stopping[%zu]", i);
		if (get_text(e, what, &id, err, errlen) != 0)
			return -1;
		if (!strv_has(&j->stopping, id))
			strv_add(&j->stopping, id);
		free(id);
	}
	return 0;
}

/* An optional integer >= 0 (absent: 0). */
static int
get_count(json_t *root, const char *key, int64_t max, int64_t *out,
    char *err, size_t errlen)
{
	json_t *v = json_object_get(root, key);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > max) {
		utf8_snprintf(err, errlen, "\"%s\" is not a number from 0 to "
		    "%lld", key, (long long)max);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

static int
parse_root(json_t *root, struct opjournal *j, char *err, size_t errlen)
{
	json_t *v;
	int64_t n;

	if (!json_is_object(root))
		return bad(err, errlen, "the record is not a JSON object");
	v = json_object_get(root, "version");
	if (!json_is_integer(v))
		return bad(err, errlen, "\"version\" is missing");
	if (json_integer_value(v) != OPJOURNAL_VERSION) {
		utf8_snprintf(err, errlen, "version %lld is not %d",
		    (long long)json_integer_value(v), OPJOURNAL_VERSION);
		return -1;
	}
	if (get_text(json_object_get(root, "cluster"), "\"cluster\"",
	    &j->cluster, err, errlen) != 0 ||
	    get_text(json_object_get(root, "operation"), "\"operation\"",
	    &j->operation, err, errlen) != 0)
		return -1;
	v = json_object_get(root, "initiator");
	if (v && !json_is_null(v) && get_text(v, "\"initiator\"",
	    &j->initiator, err, errlen) != 0)
		return -1;
	/* Up to the year 9999. */
	if (get_count(root, "started_ms", INT64_C(253402300799999), &n, err,
	    errlen) != 0)
		return -1;
	j->started_ms = n;
	if (get_count(root, "pid", INT32_MAX, &n, err, errlen) != 0)
		return -1;
	j->pid = (long)n;
	v = json_object_get(root, "maintenance");
	if (v == NULL)
		return bad(err, errlen, "\"maintenance\" is missing");
	if (parse_maintenance(v, j, err, errlen) != 0)
		return -1;
	v = json_object_get(root, "stopping");
	if (v != NULL && parse_stopping(v, j, err, errlen) != 0)
		return -1;
	return 0;
}

int
opjournal_parse(const char *text, size_t len, struct opjournal *out,
    char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	opjournal_init(out);
	if (len > OPJOURNAL_MAX_FILE)
		return bad(err, errlen, "the record is too large");
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		utf8_snprintf(err, errlen, "not JSON: line %d: %s", jerr.line,
		    jerr.text);
		return -1;
	}
	rc = parse_root(root, out, err, errlen);
	json_decref(root);
	if (rc != 0)
		opjournal_release(out);
	return rc;
}

/* The plan of a recovery. */

void
opjournal_plan(const struct opjournal *j, const struct model *md,
    struct opjournal_plan *p)
{
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < j->hosts.n; i++) {
		const char *host = j->hosts.v[i], *id = j->ids.v[i];
		const struct model_member *m = NULL;
		char note[OPJOURNAL_MAX_TEXT * 2 + 96];

		for (size_t k = 0; k < md->n && m == NULL; k++)
			if (strcmp(md->m[k].inst->id, id) == 0)
				m = &md->m[k];
		note[0] = '\0';
		if (m == NULL)
			utf8_snprintf(note, sizeof(note), "%s (%s) is gone: "
			    "left as it is", id, host);
		else if (m->inst->state != EC2_STATE_RUNNING)
			utf8_snprintf(note, sizeof(note), "%s (%s) is %s: "
			    "left as it is", id, host,
			    ec2_state_name(m->inst->state));
		else if (md->opencast_known && m->host &&
		    strcmp(m->host->base_url, host) == 0 &&
		    !m->host->maintenance)
			utf8_snprintf(note, sizeof(note), "%s (%s) is out of "
			    "maintenance already", id, host);
		if (note[0]) {
			strv_add(&p->notes, note);
			continue;
		}
		strv_add(&p->hosts, host);
		strv_add(&p->ids, id);
	}
}

void
opjournal_plan_release(struct opjournal_plan *p)
{
	strv_clear(&p->hosts);
	strv_clear(&p->ids);
	strv_clear(&p->notes);
}
