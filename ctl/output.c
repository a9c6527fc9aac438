/*
 * What ec2ctl shows: the daemon's log and progress events on stderr, and the
 * results of commands on stdout, either for people (tables, one-line
 * summaries) or, with -j, exactly the lines the daemon sent.  Text that
 * comes from the daemon is printed with control characters replaced, so a
 * name or message cannot move the cursor.  Nothing here does I/O other
 * than writing to the FILEs it is given, and the time is passed in.
 */
#include "ctl/ec2ctl.h"

#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "common/timeutil.h"
#include "common/xalloc.h"

/* The label column of the status header. */
#define LABEL_WIDTH	12

/* SGR colours, used only when the stream is a terminal and NO_COLOR is
 * not set (output_color_wanted()). */
#define SGR_RED		"31"
#define SGR_GREEN	"32"
#define SGR_YELLOW	"33"
#define SGR_BOLD	"1"
#define SGR_DIM		"2"

bool
output_color_wanted(bool tty, const char *no_color, const char *term)
{
	/* https://no-color.org: set and not empty means no colour. */
	if (!tty || (no_color != NULL && no_color[0] != '\0'))
		return false;
	return term == NULL || strcmp(term, "dumb") != 0;
}

/* Appends text, in colour code when color is true and code not NULL. */
static void
put_sgr(struct strbuf *sb, bool color, const char *code, const char *text)
{
	if (color && code != NULL)
		strbuf_printf(sb, "\033[%sm%s\033[0m", code, text);
	else
		strbuf_puts(sb, text);
}

/* The colour of an instance state. */
static const char *
state_color(const char *state)
{
	if (state == NULL)
		return NULL;
	if (strcmp(state, "running") == 0)
		return SGR_GREEN;
	if (strcmp(state, "pending") == 0 || strcmp(state, "stopping") == 0)
		return SGR_YELLOW;
	if (strcmp(state, "stopped") == 0)
		return NULL;
	return SGR_RED;
}

/* The colour of an event's or a log line's level name. */
static const char *
level_color(const char *level)
{
	if (level == NULL)
		return NULL;
	if (strcmp(level, "warning") == 0)
		return SGR_YELLOW;
	if (strcmp(level, "error") == 0 || strcmp(level, "err") == 0 ||
	    strcmp(level, "crit") == 0 || strcmp(level, "alert") == 0 ||
	    strcmp(level, "emerg") == 0)
		return SGR_RED;
	if (strcmp(level, "debug") == 0)
		return SGR_DIM;
	return NULL;
}

/* Appends s with control characters replaced by '?'. */
static void
put_clean(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		strbuf_putc(sb, c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
}

/* A JSON value as text for a person: "-" for null or missing, yes/no for
 * booleans, numbers as written.  Returns a new string. */
static char *
value_text(json_t *v)
{
	struct strbuf sb = STRBUF_INIT;
	char *dump;

	if (v == NULL || json_is_null(v))
		return xstrdup("-");
	if (json_is_string(v)) {
		put_clean(&sb, json_string_value(v));
		if (sb.len == 0)
			return xstrdup("-");
		return strbuf_detach(&sb, NULL);
	}
	if (json_is_integer(v))
		return xasprintf("%lld", (long long)json_integer_value(v));
	if (json_is_real(v))
		return xasprintf("%g", json_real_value(v));
	if (json_is_boolean(v))
		return xstrdup(json_is_true(v) ? "yes" : "no");
	dump = json_dumps(v, JSON_COMPACT);
	put_clean(&sb, dump ? dump : "?");
	free(dump);
	return strbuf_detach(&sb, NULL);
}

/* Appends the text of member key of o. */
static void
put_member(struct strbuf *sb, json_t *o, const char *key)
{
	char *s = value_text(json_object_get(o, key));

	strbuf_puts(sb, s);
	free(s);
}

/* The string member key of o, or NULL. */
static const char *
str_member(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A number of seconds, or -1 when v is not one. */
static long long
seconds_of(json_t *v)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		return (long long)json_integer_value(v);
	if (json_is_real(v) && json_real_value(v) >= 0 &&
	    json_real_value(v) < 1e15)
		return (long long)json_real_value(v);
	return -1;
}

void
output_uptime(char *buf, size_t len, json_t *v)
{
	long long s = seconds_of(v);

	if (s < 0)
		snprintf(buf, len, "-");
	else if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm", s / 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

/* "1m15s", "45s": a short wait. */
static void
format_wait(char *buf, size_t len, long long s)
{
	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
}

/*
 * A table of text cells printed in columns as wide as their widest cell,
 * two spaces apart, the last column unpadded.
 */
struct table {
	size_t	 ncols;
	size_t	 nrows;
	size_t	 cap;
	size_t	 ccap;
	char	**cells;	/* nrows * ncols, each owned */
	const char **colors;	/* nrows * ncols SGR codes or NULL */
	bool	 color;		/* print the colours */
};

static void
table_add(struct table *t, char **row)
{
	t->cells = xgrow(t->cells, &t->cap, (t->nrows + 1) * t->ncols,
	    sizeof(*t->cells));
	t->colors = xgrow(t->colors, &t->ccap, (t->nrows + 1) * t->ncols,
	    sizeof(*t->colors));
	memcpy(t->cells + t->nrows * t->ncols, row, t->ncols * sizeof(*row));
	memset(t->colors + t->nrows * t->ncols, 0, t->ncols *
	    sizeof(*t->colors));
	t->nrows++;
}

/* Colours cell col of the last row. */
static void
table_color(struct table *t, size_t col, const char *code)
{
	t->colors[(t->nrows - 1) * t->ncols + col] = code;
}

static void
table_print(FILE *fp, struct table *t)
{
	size_t *width = xcalloc(t->ncols, sizeof(*width));

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t n = strlen(t->cells[r * t->ncols + c]);

			if (n > width[c])
				width[c] = n;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			const char *code = t->colors[r * t->ncols + c];
			int pad = (int)(width[c] - strlen(s));

			/* The escapes take no columns: pad outside them. */
			if (t->color && code != NULL)
				fprintf(fp, "\033[%sm%s\033[0m", code, s);
			else
				fputs(s, fp);
			if (c + 1 == t->ncols)
				fputc('\n', fp);
			else
				fprintf(fp, "%*s  ", pad, "");
		}
	}
	free(width);
}

static void
table_release(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->colors);
	memset(t, 0, sizeof(*t));
}

static void
header_line(FILE *fp, const char *label, struct strbuf *sb)
{
	char l[LABEL_WIDTH + 2];

	snprintf(l, sizeof(l), "%s:", label);
	fprintf(fp, "%-*s%s\n", LABEL_WIDTH, l, strbuf_str(sb));
	strbuf_reset(sb);
}

static void
status_autoscale(struct strbuf *sb, json_t *as)
{
	json_t *enabled = json_object_get(as, "enabled");
	const char *reason = str_member(as, "reason");
	long long next = seconds_of(json_object_get(as, "next_tick_s"));
	char wait[32];

	if (json_is_boolean(enabled))
		strbuf_puts(sb, json_is_true(enabled) ? "on" : "off");
	else
		strbuf_puts(sb, "-");
	if (reason != NULL) {
		strbuf_puts(sb, " (");
		put_clean(sb, reason);
		strbuf_puts(sb, ")");
	}
	strbuf_puts(sb, ", next tick ");
	if (next < 0) {
		strbuf_puts(sb, "-");
	} else {
		format_wait(wait, sizeof(wait), next);
		strbuf_printf(sb, "in %s", wait);
	}
}

static void
status_decision(struct strbuf *sb, json_t *dec)
{
	const char *reason;

	if (!json_is_object(dec)) {
		strbuf_puts(sb, "-");
		return;
	}
	put_member(sb, dec, "action");
	if (str_member(dec, "ts") != NULL) {
		strbuf_puts(sb, " at ");
		put_member(sb, dec, "ts");
	}
	reason = str_member(dec, "reason");
	if (reason != NULL) {
		strbuf_puts(sb, ": ");
		put_clean(sb, reason);
	}
}

static void
status_operation(struct strbuf *sb, json_t *op)
{
	if (json_is_null(op)) {
		strbuf_puts(sb, "none");
		return;
	}
	if (!json_is_object(op)) {
		strbuf_puts(sb, "-");
		return;
	}
	put_member(sb, op, "cmd");
	strbuf_puts(sb, ", step ");
	put_member(sb, op, "step");
	strbuf_puts(sb, ", since ");
	put_member(sb, op, "started_at");
}

/* "ok", "reachable", or the failure with its error. */
static void
status_health(struct strbuf *sb, json_t *o, const char *okkey,
    const char *good, const char *bad, bool color)
{
	json_t *ok = json_object_get(o, okkey);
	const char *error = str_member(o, "error");

	if (!json_is_boolean(ok))
		strbuf_puts(sb, "-");
	else if (json_is_true(ok))
		put_sgr(sb, color, SGR_GREEN, good);
	else
		put_sgr(sb, color, SGR_RED, bad);
	if (error != NULL) {
		strbuf_puts(sb, ": ");
		put_clean(sb, error);
	}
}

/* A source's last_ok_at in ms, or 0 when null or not a time. */
static int64_t
last_ok_ms(json_t *o)
{
	const char *ts = str_member(o, "last_ok_at");
	int64_t ms;

	if (ts == NULL || time_parse_iso8601(ts, &ms) != 0)
		return 0;
	return ms;
}

/* `Updated:` the last refresh that read EC2 and Opencast both (the older
 * of their last_ok_at) with its age, and a failed refresh since then.  A
 * daemon without last_ok_at: its updated_at as it is. */
static void
status_updated(struct strbuf *sb, json_t *st, int64_t now_ms)
{
	json_t *ec2 = json_object_get(st, "ec2");
	json_t *oc = json_object_get(st, "opencast");
	int64_t e = last_ok_ms(ec2), o = last_ok_ms(oc), last;
	char ts[TIME_ISO8601_LEN], age[32];
	json_t *secs;

	if (json_object_get(ec2, "last_ok_at") == NULL &&
	    json_object_get(oc, "last_ok_at") == NULL) {
		put_member(sb, st, "updated_at");
		return;
	}
	last = e > 0 && o > 0 ? (e < o ? e : o) : 0;
	if (last == 0) {
		strbuf_puts(sb, "never");
	} else {
		time_format_iso8601(last, ts);
		secs = json_integer(now_ms > last ? (now_ms - last) / 1000 : 0);
		output_uptime(age, sizeof(age), secs);
		json_decref(secs);
		strbuf_printf(sb, "%s (%s ago)", ts, age);
	}
	if ((json_is_false(json_object_get(ec2, "ok")) ||
	    json_is_false(json_object_get(oc, "reachable"))) &&
	    str_member(st, "updated_at") != NULL) {
		strbuf_puts(sb, "; the refresh at ");
		put_member(sb, st, "updated_at");
		strbuf_puts(sb, " failed");
	}
}

/* The columns of the instance table. */
static const char *const inst_heads[] = { "NAME", "ID", "ROLE", "STATE",
    "MAINT", "JOBS", "UPTIME", "HELD", "HOST" };
static const char *const inst_keys[] = { "name", "id", "role", "state",
    "maintenance", "running_jobs", "uptime_s", "held", "mh_host" };
#define INST_COLS	(sizeof(inst_heads) / sizeof(*inst_heads))

static void
table_add_heads(struct table *t, const char *const *heads)
{
	char *row[16];

	for (size_t i = 0; i < t->ncols; i++)
		row[i] = xstrdup(heads[i]);
	table_add(t, row);
}

static void
table_add_instance(struct table *t, json_t *inst)
{
	char *row[INST_COLS], up[32];

	for (size_t c = 0; c < INST_COLS; c++) {
		json_t *v = json_object_get(inst, inst_keys[c]);

		if (strcmp(inst_keys[c], "uptime_s") == 0) {
			output_uptime(up, sizeof(up), v);
			row[c] = xstrdup(up);
		} else {
			row[c] = value_text(v);
		}
	}
	table_add(t, row);
	for (size_t c = 0; c < INST_COLS; c++)
		if (strcmp(inst_keys[c], "state") == 0)
			table_color(t, c, state_color(str_member(inst,
			    "state")));
}

/* The header lines above the instances. */
static void
status_header(FILE *fp, json_t *st, bool color)
{
	struct strbuf sb = STRBUF_INIT;

	put_member(&sb, st, "cluster");
	header_line(fp, "Cluster", &sb);
	put_member(&sb, st, "instances_online");
	strbuf_puts(&sb, " online");
	header_line(fp, "Instances", &sb);
	put_member(&sb, st, "workers_online");
	strbuf_puts(&sb, " online of ");
	put_member(&sb, st, "workers");
	header_line(fp, "Workers", &sb);
	put_member(&sb, st, "queued_jobs");
	strbuf_puts(&sb, " queued (");
	put_member(&sb, st, "queued_high_load_jobs");
	strbuf_puts(&sb, " high-load), ");
	put_member(&sb, st, "running_jobs");
	strbuf_puts(&sb, " running");
	header_line(fp, "Jobs", &sb);
	status_autoscale(&sb, json_object_get(st, "autoscale"));
	header_line(fp, "Autoscale", &sb);
	status_decision(&sb, json_object_get(json_object_get(st, "autoscale"),
	    "last_decision"));
	header_line(fp, "Decision", &sb);
	status_operation(&sb, json_object_get(st, "operation"));
	header_line(fp, "Operation", &sb);
	status_health(&sb, json_object_get(st, "ec2"), "ok", "ok", "failing",
	    color);
	header_line(fp, "EC2", &sb);
	status_health(&sb, json_object_get(st, "opencast"), "reachable",
	    "reachable", "unreachable", color);
	header_line(fp, "Opencast", &sb);
	status_updated(&sb, st, time_now_ms());
	header_line(fp, "Updated", &sb);
	strbuf_release(&sb);
}

/* The instances of one role, counted for the summary table. */
struct role_sum {
	char	*role;
	long	 total, running, pending, stopping, stopped, other;
	long	 maint, held, jobs;
	bool	 jobs_known;
};

enum { SUM_TOTAL, SUM_RUNNING, SUM_PENDING, SUM_STOPPING, SUM_STOPPED,
    SUM_OTHER, SUM_MAINT, SUM_HELD, SUM_NCOUNTS };

static void
role_sum_add(struct role_sum *r, json_t *inst)
{
	const char *state = str_member(inst, "state");
	json_t *jobs = json_object_get(inst, "running_jobs");

	r->total++;
	if (state == NULL)
		r->other++;
	else if (strcmp(state, "running") == 0)
		r->running++;
	else if (strcmp(state, "pending") == 0)
		r->pending++;
	else if (strcmp(state, "stopping") == 0)
		r->stopping++;
	else if (strcmp(state, "stopped") == 0)
		r->stopped++;
	else
		r->other++;
	if (json_is_true(json_object_get(inst, "maintenance")))
		r->maint++;
	if (json_is_true(json_object_get(inst, "held")))
		r->held++;
	if (json_is_integer(jobs) && json_integer_value(jobs) >= 0) {
		r->jobs += (long)json_integer_value(jobs);
		r->jobs_known = true;
	}
}

static void
role_sum_row(struct table *t, const struct role_sum *r, const char *name)
{
	long v[] = { r->total, r->running, r->pending, r->stopping,
	    r->stopped, r->other, r->maint, r->held };
	char *row[SUM_NCOUNTS + 2];
	struct strbuf sb = STRBUF_INIT;

	put_clean(&sb, name);
	row[0] = strbuf_detach(&sb, NULL);
	for (size_t i = 0; i < SUM_NCOUNTS; i++)
		row[i + 1] = xasprintf("%ld", v[i]);
	row[SUM_NCOUNTS + 1] = r->jobs_known ? xasprintf("%ld", r->jobs) :
	    xstrdup("-");
	table_add(t, row);
}

/* A worker an operator wants to see in a summarised table: one between
 * states, in maintenance, or held by an operation. */
static bool
worker_notable(json_t *inst)
{
	const char *state = str_member(inst, "state");

	return state == NULL || (strcmp(state, "running") != 0 &&
	    strcmp(state, "stopped") != 0) ||
	    json_is_true(json_object_get(inst, "maintenance")) ||
	    json_is_true(json_object_get(inst, "held"));
}

static bool
is_worker(json_t *inst)
{
	const char *role = str_member(inst, "role");

	return role != NULL && strcmp(role, "worker") == 0;
}

/*
 * A cluster too large to list: one row of counts per role (in the order
 * the roles first appear), then the instances that are not workers and
 * the first workers that are between states, in maintenance or held, at
 * most OUTPUT_TABLE_MAX_ROWS rows in all.
 */
static void
status_summary(FILE *fp, json_t *instances, bool color)
{
	static const char *const sum_heads[] = { "ROLE", "INSTANCES",
	    "RUNNING", "PENDING", "STOPPING", "STOPPED", "OTHER", "MAINT",
	    "HELD", "JOBS" };
	struct table t = { .ncols = sizeof(sum_heads) / sizeof(*sum_heads) };
	struct role_sum *sums = NULL, all = { 0 };
	size_t nsums = 0, cap = 0, i, listed = 0, others = 0, notable = 0;
	size_t notable_listed = 0;
	json_t *inst;

	json_array_foreach(instances, i, inst) {
		const char *role = str_member(inst, "role");
		size_t k;

		if (role == NULL)
			role = "-";
		for (k = 0; k < nsums; k++)
			if (strcmp(sums[k].role, role) == 0)
				break;
		if (k == nsums) {
			sums = xgrow(sums, &cap, nsums + 1, sizeof(*sums));
			memset(&sums[k], 0, sizeof(*sums));
			sums[k].role = xstrdup(role);
			nsums++;
		}
		role_sum_add(&sums[k], inst);
		role_sum_add(&all, inst);
		if (!is_worker(inst))
			others++;
		else if (worker_notable(inst))
			notable++;
	}
	table_add_heads(&t, sum_heads);
	for (size_t k = 0; k < nsums; k++)
		role_sum_row(&t, &sums[k], sums[k].role);
	role_sum_row(&t, &all, "total");
	table_print(fp, &t);
	table_release(&t);
	for (size_t k = 0; k < nsums; k++)
		free(sums[k].role);
	free(sums);

	/* The instances worth a row of their own. */
	t.ncols = INST_COLS;
	t.color = color;
	table_add_heads(&t, inst_heads);
	json_array_foreach(instances, i, inst) {
		if (listed >= OUTPUT_TABLE_MAX_ROWS)
			break;
		if (!is_worker(inst)) {
			table_add_instance(&t, inst);
			listed++;
		}
	}
	json_array_foreach(instances, i, inst) {
		if (listed >= OUTPUT_TABLE_MAX_ROWS)
			break;
		if (is_worker(inst) && worker_notable(inst)) {
			table_add_instance(&t, inst);
			listed++;
			notable_listed++;
		}
	}
	fputc('\n', fp);
	if (notable == 0)
		fprintf(fp, "Every worker is running or stopped, none in "
		    "maintenance or held.\n");
	else if (notable_listed == notable)
		fprintf(fp, "Workers between states, in maintenance or held: "
		    "%zu.\n", notable);
	else
		fprintf(fp, "Workers between states, in maintenance or held: "
		    "%zu, the first %zu listed.\n", notable, notable_listed);
	if (listed > 0) {
		fputc('\n', fp);
		table_print(fp, &t);
	}
	table_release(&t);
	if (listed < others + notable)
		fprintf(fp, "(%zu more not listed)\n",
		    others + notable - listed);
	fprintf(fp, "%zu instances summarised; \"status --all\" lists every "
	    "one.\n", json_array_size(instances));
}

void
output_status_table(FILE *fp, json_t *st, bool all, bool color)
{
	struct table t = { .ncols = INST_COLS, .color = color };
	json_t *instances = json_object_get(st, "instances"), *inst;
	size_t i;

	status_header(fp, st, color);
	fputc('\n', fp);
	if (!json_is_array(instances) || json_array_size(instances) == 0) {
		fprintf(fp, "No instances.\n");
		return;
	}
	if (!all && json_array_size(instances) > OUTPUT_TABLE_MAX_ROWS) {
		status_summary(fp, instances, color);
		return;
	}
	table_add_heads(&t, inst_heads);
	json_array_foreach(instances, i, inst)
		table_add_instance(&t, inst);
	table_print(fp, &t);
	table_release(&t);
}

void
output_status_json(FILE *fp, json_t *st, bool pretty)
{
	json_dumpf(st, fp, pretty ? JSON_INDENT(2) : JSON_COMPACT);
	fputc('\n', fp);
}

/* The array that a list result holds under key, or the result itself when
 * it is an array. */
static json_t *
list_of(json_t *result, const char *key)
{
	if (json_is_array(result))
		return result;
	return json_object_get(result, key);
}

/* What failed, at the end of a cluster's line (its numbers are old or
 * unknown then): "; EC2 failing: ERROR" or "; Opencast unreachable:
 * ERROR".  Nothing when both answered. */
static void
cluster_failure(struct strbuf *sb, json_t *c)
{
	json_t *ec2 = json_object_get(c, "ec2");
	json_t *oc = json_object_get(c, "opencast");
	json_t *bad = NULL;

	if (json_is_false(json_object_get(ec2, "ok"))) {
		strbuf_puts(sb, "; EC2 failing");
		bad = ec2;
	} else if (json_is_false(json_object_get(oc, "reachable"))) {
		strbuf_puts(sb, "; Opencast unreachable");
		bad = oc;
	}
	if (bad != NULL && str_member(bad, "error") != NULL) {
		strbuf_puts(sb, ": ");
		put_clean(sb, str_member(bad, "error"));
	}
}

/* The daemon's last reload, one line after the clusters (nothing when
 * there was none since it started). */
static void
reload_line(FILE *fp, json_t *reload)
{
	struct strbuf sb = STRBUF_INIT;

	if (!json_is_object(reload))
		return;
	strbuf_puts(&sb, "last reload: ");
	put_member(&sb, reload, "at");
	if (json_is_true(json_object_get(reload, "ok"))) {
		strbuf_puts(&sb, " accepted");
	} else {
		strbuf_puts(&sb, " rejected, the old configuration stays in "
		    "force: ");
		put_member(&sb, reload, "error");
	}
	fprintf(fp, "%s\n", strbuf_str(&sb));
	strbuf_release(&sb);
}

void
output_clusters(FILE *fp, json_t *result, bool color)
{
	struct table t = { .ncols = 5, .color = color };
	json_t *list = list_of(result, "clusters"), *c;
	struct strbuf sb = STRBUF_INIT;
	size_t i;

	json_array_foreach(list, i, c) {
		json_t *as = json_object_get(c, "autoscale");
		json_t *op = json_object_get(c, "operation");
		json_t *enabled = json_object_get(as, "enabled");
		const char *reason = str_member(as, "reason");
		char *row[5];

		row[0] = value_text(json_object_get(c,
		    json_object_get(c, "cluster") ? "cluster" : "name"));
		put_member(&sb, c, "instances_online");
		strbuf_puts(&sb, " online");
		row[1] = strbuf_detach(&sb, NULL);
		strbuf_puts(&sb, "workers ");
		put_member(&sb, c, "workers_online");
		strbuf_putc(&sb, '/');
		put_member(&sb, c, "workers");
		row[2] = strbuf_detach(&sb, NULL);
		strbuf_puts(&sb, "autoscale ");
		/* "autoscale paused by ec2ctl" reads better than "off
		 * (paused by ec2ctl)". */
		if (json_is_false(enabled) && reason != NULL &&
		    strncmp(reason, "paused", 6) == 0) {
			put_clean(&sb, reason);
		} else {
			strbuf_puts(&sb, !json_is_boolean(enabled) ? "-" :
			    json_is_true(enabled) ? "on" : "off");
			if (reason != NULL) {
				strbuf_puts(&sb, " (");
				put_clean(&sb, reason);
				strbuf_putc(&sb, ')');
			}
		}
		row[3] = strbuf_detach(&sb, NULL);
		if (json_is_object(op)) {
			put_member(&sb, op, "cmd");
			strbuf_puts(&sb, " (");
			put_member(&sb, op, "step");
			strbuf_putc(&sb, ')');
		} else {
			strbuf_puts(&sb, json_is_null(op) ? "no operation" :
			    "-");
		}
		cluster_failure(&sb, c);
		row[4] = strbuf_detach(&sb, NULL);
		table_add(&t, row);
		/* What failed is red; an operation in progress yellow. */
		if (json_is_false(json_object_get(json_object_get(c, "ec2"),
		    "ok")) || json_is_false(json_object_get(json_object_get(c,
		    "opencast"), "reachable")))
			table_color(&t, 4, SGR_RED);
		else if (json_is_object(op))
			table_color(&t, 4, SGR_YELLOW);
	}
	table_print(fp, &t);
	reload_line(fp, json_object_get(result, "reload"));
	table_release(&t);
	strbuf_release(&sb);
}

/* The width of the kind column: the longest kind, "operation". */
#define KIND_WIDTH	9

void
output_event_entry(FILE *fp, json_t *e, bool color)
{
	struct strbuf sb = STRBUF_INIT;
	char *ts = value_text(json_object_get(e, "ts"));
	char *kind = value_text(json_object_get(e,
	    json_object_get(e, "kind") ? "kind" : "type"));
	const char *msg = str_member(e, str_member(e, "message") ?
	    "message" : "msg");
	const char *code = level_color(str_member(e, "level"));

	strbuf_printf(&sb, "%s  %-*s  ", ts, KIND_WIDTH, kind);
	if (msg != NULL && code != NULL && color) {
		struct strbuf m = STRBUF_INIT;

		put_clean(&m, msg);
		put_sgr(&sb, true, code, strbuf_str(&m));
		strbuf_release(&m);
	} else {
		put_clean(&sb, msg ? msg : "-");
	}
	fprintf(fp, "%s\n", strbuf_str(&sb));
	strbuf_release(&sb);
	free(ts);
	free(kind);
}

void
output_events(FILE *fp, json_t *result, bool color)
{
	json_t *list = list_of(result, "events"), *e;
	size_t i;

	json_array_foreach(list, i, e)
		output_event_entry(fp, e, color);
}

/* `explain`: the decision's one line, the demand figures when the policy
 * is demand, then each worker's verdict. */
void
output_explain(FILE *fp, json_t *result)
{
	static const char *const heads[] = { "WORKER", "VERDICT", "JOBS",
	    "UPTIME", "HELD" };
	static const char *const keys[] = { "id", "verdict", "running_jobs",
	    "uptime_s", "held" };
	json_t *dec = json_object_get(result, "decision");
	json_t *demand = json_object_get(dec, "demand");
	json_t *list = json_object_get(dec, "workers"), *w;
	struct strbuf sb = STRBUF_INIT;
	struct table t = { .ncols = 5 };
	const char *k;
	json_t *v;
	size_t i;

	put_clean(&sb, str_member(result, "message") ?
	    str_member(result, "message") : "-");
	fprintf(fp, "%s\n", strbuf_str(&sb));
	strbuf_reset(&sb);
	if (json_is_object(demand)) {
		json_object_foreach(demand, k, v) {
			char *text = value_text(v);

			strbuf_printf(&sb, "%s%s %s", sb.len ? ", " : "", k,
			    text);
			free(text);
		}
		header_line(fp, "Demand", &sb);
	}
	table_add_heads(&t, heads);
	json_array_foreach(list, i, w) {
		char *row[5], up[32];

		for (size_t c = 0; c < 5; c++)
			row[c] = value_text(json_object_get(w, keys[c]));
		output_uptime(up, sizeof(up), json_object_get(w, keys[3]));
		free(row[3]);
		row[3] = xstrdup(up);
		table_add(&t, row);
	}
	if (t.nrows > 1)
		table_print(fp, &t);
	table_release(&t);
	strbuf_release(&sb);
}

void
output_end_live(struct ctl_display *d)
{
	if (!d->live)
		return;
	fputc('\n', d->err);
	fflush(d->err);
	d->live = false;
}

/* "wait_running 2/3: msg", for both kinds of progress line. */
static void
progress_text(struct strbuf *sb, json_t *ev)
{
	json_t *done = json_object_get(ev, "done");
	json_t *total = json_object_get(ev, "total");
	const char *msg = str_member(ev, "msg");

	put_member(sb, ev, "step");
	if (json_is_integer(done) && json_is_integer(total) &&
	    json_integer_value(total) > 0)
		strbuf_printf(sb, " %lld/%lld",
		    (long long)json_integer_value(done),
		    (long long)json_integer_value(total));
	if (msg != NULL && msg[0] != '\0') {
		strbuf_puts(sb, ": ");
		put_clean(sb, msg);
	}
}

static void
show_progress(struct ctl_display *d, json_t *ev, int64_t now_ms)
{
	const char *step = str_member(ev, "step");
	struct strbuf sb = STRBUF_INIT;
	char ts[TIME_ISO8601_LEN];

	if (step == NULL)
		step = "";
	if (!d->err_tty) {
		time_format_iso8601(now_ms, ts);
		strbuf_printf(&sb, "%s ", ts);
		progress_text(&sb, ev);
		fprintf(d->err, "%s\n", strbuf_str(&sb));
		strbuf_release(&sb);
		return;
	}
	/* A new step keeps the last line of the one before and starts its
	 * own; the same step is redrawn in place. */
	if (d->live && strcmp(step, d->step) != 0)
		output_end_live(d);
	progress_text(&sb, ev);
	if (d->err_cols > 1 && sb.len >= (size_t)d->err_cols) {
		size_t n = (size_t)d->err_cols - 1;

		/* Cut at a character boundary, not inside UTF-8. */
		while (n > 0 && ((unsigned char)sb.buf[n] & 0xc0) == 0x80)
			n--;
		sb.buf[n] = '\0';
	}
	fprintf(d->err, "\r\033[K%s", strbuf_str(&sb));
	fflush(d->err);
	strbuf_release(&sb);
	d->live = true;
	snprintf(d->step, sizeof(d->step), "%s", step);
}

static void
show_log(struct ctl_display *d, json_t *ev, int64_t now_ms)
{
	const char *lname = str_member(ev, "level");
	const char *msg = str_member(ev, "msg");
	int level = lname ? proto_level_from_name(lname) : -1;
	struct strbuf sb = STRBUF_INIT;
	char ts[TIME_ISO8601_LEN];

	if (level < 0)
		level = PROTO_LEVEL_INFO;
	if (level > (int)d->level)
		return;
	if (!d->err_tty) {
		if (str_member(ev, "ts") != NULL) {
			put_member(&sb, ev, "ts");
		} else {
			time_format_iso8601(now_ms, ts);
			strbuf_puts(&sb, ts);
		}
		strbuf_putc(&sb, ' ');
	}
	output_end_live(d);
	put_sgr(&sb, d->color_err, level_color(proto_level_name(
	    (enum proto_level)level)), proto_level_name((enum proto_level)
	    level));
	strbuf_puts(&sb, ": ");
	put_clean(&sb, msg ? msg : "");
	fprintf(d->err, "%s\n", strbuf_str(&sb));
	fflush(d->err);
	strbuf_release(&sb);
}

/* events --follow left entries out: a warning on err. */
static void
show_lost(struct ctl_display *d, json_t *ev)
{
	struct strbuf sb = STRBUF_INIT;

	output_end_live(d);
	put_sgr(&sb, d->color_err, SGR_YELLOW, "warning");
	strbuf_puts(&sb, ": ");
	put_clean(&sb, str_member(ev, "msg") ? str_member(ev, "msg") :
	    "events were left out");
	fflush(d->out);
	fprintf(d->err, "%s\n", strbuf_str(&sb));
	fflush(d->err);
	strbuf_release(&sb);
}

static void
human_event(struct ctl_display *d, const char *line, json_t *ev,
    int64_t now_ms)
{
	const char *kind = str_member(ev, "event");

	/* Kinds this ctl does not know yet are left out. */
	if (kind == NULL)
		return;
	if (strcmp(kind, PROTO_EVENT_LOG) == 0) {
		show_log(d, ev, now_ms);
	} else if (strcmp(kind, PROTO_EVENT_PROGRESS) == 0 &&
	    d->level >= PROTO_LEVEL_INFO) {
		show_progress(d, ev, now_ms);
	} else if (strcmp(kind, PROTO_EVENT_ENTRY) == 0) {
		/* An entry of events --follow is output, at once. */
		output_end_live(d);
		output_event_entry(d->out, ev, d->color_out);
		fflush(d->out);
	} else if (strcmp(kind, PROTO_EVENT_LOST) == 0) {
		show_lost(d, ev);
	}
}

/* The daemon ended an events --follow stream: say why on err. */
static void
follow_ended(struct ctl_display *d, json_t *result)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_puts(&sb, "ec2ctl: ");
	put_clean(&sb, d->cluster ? d->cluster : "-");
	strbuf_puts(&sb, ": no more events: ");
	put_clean(&sb, str_member(result, "end") ? str_member(result, "end") :
	    "-");
	fflush(d->out);
	fprintf(d->err, "%s\n", strbuf_str(&sb));
	fflush(d->err);
	strbuf_release(&sb);
}

/* The line printed for an operation that answered without a message. */
static void
summary(struct ctl_display *d, const struct ctl_request *r, json_t *result)
{
	json_t *decision = json_object_get(result, "decision");
	struct strbuf sb = STRBUF_INIT;

	if (d->cluster != NULL) {
		put_clean(&sb, d->cluster);
		strbuf_puts(&sb, ": ");
	}
	strbuf_puts(&sb, r->cmd->name);
	if (json_is_object(decision)) {
		strbuf_puts(&sb, ": ");
		status_decision(&sb, decision);
	} else if (!d->waited) {
		strbuf_puts(&sb, " accepted");
	} else if (d->dry_run) {
		strbuf_puts(&sb, " would succeed (dry run)");
	} else {
		strbuf_puts(&sb, " done");
	}
	fprintf(d->out, "%s\n", strbuf_str(&sb));
	strbuf_release(&sb);
}

static void
human_result(struct ctl_display *d, const struct ctl_request *r,
    const char *line, json_t *result)
{
	const char *msg = str_member(result, "message");
	struct strbuf sb = STRBUF_INIT;

	output_end_live(d);
	switch (r->cmd->cmd) {
	case PROTO_CMD_STATUS:
		/* JSON is output_json's: here the table. */
		/* Home, then clear: the next picture replaces the last
		 * one. */
		if (r->watch && d->out_tty)
			fputs("\033[H\033[2J", d->out);
		output_status_table(d->out, result, r->all, d->color_out);
		if (r->watch && !d->out_tty)
			fputc('\n', d->out);
		break;
	case PROTO_CMD_CLUSTERS:
		output_clusters(d->out, result, d->color_out);
		break;
	case PROTO_CMD_EVENTS:
		if (r->follow) {
			follow_ended(d, result);
			break;
		}
		output_events(d->out, result, d->color_out);
		break;
	case PROTO_CMD_EXPLAIN:
		output_explain(d->out, result);
		break;
	case PROTO_CMD_PING:
		fprintf(d->out, "pong\n");
		break;
	case PROTO_CMD_VERSION:
		strbuf_puts(&sb, "ec2-managerd ");
		if (str_member(result, "version") != NULL)
			put_member(&sb, result, "version");
		else
			put_clean(&sb, "-");
		fprintf(d->out, "%s\n", strbuf_str(&sb));
		break;
	default:
		if (msg != NULL) {
			put_clean(&sb, msg);
			fprintf(d->out, "%s\n", strbuf_str(&sb));
		} else {
			summary(d, r, result);
		}
		break;
	}
	strbuf_release(&sb);
	fflush(d->out);
}

static void
human_error(struct ctl_display *d, const char *line, const char *code,
    const char *message)
{
	struct strbuf sb = STRBUF_INIT;

	output_end_live(d);
	if (code != NULL &&
	    proto_err_from_name(code) == PROTO_ERR_PERMISSION_DENIED)
		strbuf_puts(&sb, "permission denied: ");
	if (message != NULL && message[0] != '\0')
		put_clean(&sb, message);
	else if (code != NULL)
		put_clean(&sb, code);
	else
		strbuf_puts(&sb, "the daemon gave no reason");
	fflush(d->out);
	if (d->color_err)
		fprintf(d->err, "ec2ctl: \033[%sm%s\033[0m\n", SGR_RED,
		    strbuf_str(&sb));
	else
		fprintf(d->err, "ec2ctl: %s\n", strbuf_str(&sb));
	fflush(d->err);
	strbuf_release(&sb);
}

const struct ctl_output output_human = {
	.event = human_event,
	.result = human_result,
	.error = human_error,
};

/* Writes a line as received, at once: a reader may be following along. */
static void
json_line(struct ctl_display *d, const char *line)
{
	/* A live progress line on err is ended only when out shares the
	 * terminal with it. */
	if (d->out_tty)
		output_end_live(d);
	fprintf(d->out, "%s\n", line);
	fflush(d->out);
}

/* With JSON on out, people still see the log and progress events on err
 * unless -j asked for JSON alone (d->echo false). */
static void
json_event(struct ctl_display *d, const char *line, json_t *ev,
    int64_t now_ms)
{
	const char *kind = str_member(ev, "event");

	json_line(d, line);
	if (d->echo && kind != NULL && strcmp(kind, PROTO_EVENT_ENTRY) != 0)
		human_event(d, line, ev, now_ms);
}

static void
json_result(struct ctl_display *d, const struct ctl_request *r,
    const char *line, json_t *result)
{
	json_line(d, line);
	output_end_live(d);	/* the request is over */
	if (d->echo && r->follow)
		follow_ended(d, result);
}

/* The reason of a failure goes to err as well, as SPEC §4 wants it. */
static void
json_error(struct ctl_display *d, const char *line, const char *code,
    const char *message)
{
	json_line(d, line);
	human_error(d, line, code, message);
}

const struct ctl_output output_json = {
	.event = json_event,
	.result = json_result,
	.error = json_error,
};
