/*
 * The logging front end shared by both programs: the level filter, the
 * formatting of a message, the stderr backend (one readable line per
 * message, written in a single write so that concurrent writers do not
 * interleave within a line) and the pure builder of journal fields.  It
 * does not talk to journald itself: common/log_journal.c installs that
 * backend in the daemon only, so ec2ctl neither links nor uses it.
 */
#include "common/log.h"
#include "common/utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *log_ident = "ec2-manager";
static int log_max_level = LOG_INFO;
static log_backend_fn *log_backend;
static bool log_stderr_priority;
static struct {
	log_tap_fn	*fn;
	void		*arg;
} log_taps[LOG_TAPS_MAX];
static bool log_in_tap;

/* The key events: name and MESSAGE_ID.  systemd/ec2-manager.catalog has
 * one entry per id (tests/unit/test_log.c checks both ways). */
static const struct {
	const char	*name;
	const char	*id;
} log_events[LOG_EV_COUNT] = {
	[LOG_EV_OP_STARTED] = { "op_started",
	    "c82eac1539104e15b409c1347c15d387" },
	[LOG_EV_OP_FINISHED] = { "op_finished",
	    "73e41cdd8f124749b8431a35c15a67db" },
	[LOG_EV_OP_FAILED] = { "op_failed",
	    "6c0934725eb2448fa50fc4e0a9a6be2e" },
	[LOG_EV_DECISION] = { "decision",
	    "4d6fb6f60b624e38ae5b8b40e7d7c3e8" },
	[LOG_EV_MAINTENANCE_SET] = { "maintenance_set",
	    "cea861814c5946b1b57dcf259791e671" },
	[LOG_EV_MAINTENANCE_RESTORED] = { "maintenance_restored",
	    "e72df63296cc4c6a97a723f572346d31" },
	[LOG_EV_RELOAD_ACCEPTED] = { "reload_accepted",
	    "1421dae3ad2143e6a2012cf9583ce20f" },
	[LOG_EV_RELOAD_REJECTED] = { "reload_rejected",
	    "43d784c58a674131a8aecf9f220a1342" },
	[LOG_EV_RECOVERED] = { "recovered",
	    "eba0266cc7614b5cbb44af59f7fa5ad2" },
};

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "err", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void
log_init(const char *ident, int max_level)
{
	log_ident = ident;
	log_max_level = max_level;
	log_backend = NULL;
	log_stderr_priority = false;
	memset(log_taps, 0, sizeof(log_taps));
}

const char *
log_event_name(enum log_event e)
{
	if ((int)e <= LOG_EV_NONE || e >= LOG_EV_COUNT)
		return NULL;
	return log_events[e].name;
}

const char *
log_event_message_id(enum log_event e)
{
	if ((int)e <= LOG_EV_NONE || e >= LOG_EV_COUNT)
		return NULL;
	return log_events[e].id;
}

int
log_tap_add(log_tap_fn *fn, void *arg)
{
	for (size_t i = 0; i < LOG_TAPS_MAX; i++) {
		if (log_taps[i].fn == NULL) {
			log_taps[i].fn = fn;
			log_taps[i].arg = arg;
			return 0;
		}
	}
	return -1;
}

void
log_tap_remove(log_tap_fn *fn, void *arg)
{
	for (size_t i = 0; i < LOG_TAPS_MAX; i++)
		if (log_taps[i].fn == fn && log_taps[i].arg == arg)
			log_taps[i].fn = NULL;
}

void
log_set_level(int max_level)
{
	log_max_level = max_level;
}

int
log_get_level(void)
{
	return log_max_level;
}

bool
log_enabled(int level)
{
	return level <= log_max_level;
}

void
log_set_backend(log_backend_fn *fn)
{
	log_backend = fn;
}

void
log_set_stderr_priority(bool on)
{
	log_stderr_priority = on;
}

int
log_level_from_name(const char *name)
{
	for (int i = LOG_EMERG; i <= LOG_DEBUG; i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return i;
	if (strcasecmp(name, "error") == 0)
		return LOG_ERR;
	if (strcasecmp(name, "warn") == 0)
		return LOG_WARNING;
	return -1;
}

const char *
log_level_name(int level)
{
	if (level < LOG_EMERG || level > LOG_DEBUG)
		return "?";
	return level_names[level];
}

static bool
present(const char *s)
{
	return s != NULL && *s != '\0';
}

/* Appends "NAME=value" to f, the value made valid UTF-8 and cut short at
 * a character boundary when the buffer runs out; a field that does not
 * fit at all is left out. */
static void
fields_add(struct log_fields *f, size_t *used, const char *name,
    const char *value)
{
	size_t room = sizeof(f->buf) - *used;
	size_t nlen = strlen(name), vlen;
	char *p = f->buf + *used;

	/* Room for "NAME=", one byte of value and utf8_copy()'s NUL. */
	if (!present(value) || f->n >= LOG_FIELDS_MAX || room < nlen + 3)
		return;
	memcpy(p, name, nlen);
	p[nlen] = '=';
	vlen = utf8_copy(p + nlen + 1, room - nlen - 1, value, strlen(value));
	f->iov[f->n].iov_base = p;
	f->iov[f->n].iov_len = nlen + 1 + vlen;
	f->n++;
	*used += nlen + 1 + vlen;
}

const char *
log_fields_get(const struct log_fields *f, const char *name, size_t *len)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < f->n; i++) {
		const char *p = f->iov[i].iov_base;

		if (f->iov[i].iov_len > n && memcmp(p, name, n) == 0 &&
		    p[n] == '=') {
			*len = f->iov[i].iov_len - n - 1;
			return p + n + 1;
		}
	}
	return NULL;
}

size_t
log_fields_build(struct log_fields *f, const struct log_record *r)
{
	char num[2][16];
	size_t used = 0;

	f->n = 0;
	snprintf(num[0], sizeof(num[0]), "%d", r->level); /* not text */
	snprintf(num[1], sizeof(num[1]), "%d", r->line); /* not text */
	/* The short fields first, so that only the message can be cut. */
	fields_add(f, &used, "PRIORITY", num[0]);
	fields_add(f, &used, "SYSLOG_IDENTIFIER", r->ident);
	fields_add(f, &used, "CODE_FILE", r->file);
	if (present(r->file) && r->line > 0)
		fields_add(f, &used, "CODE_LINE", num[1]);
	fields_add(f, &used, "EC2M_CLUSTER", r->cluster);
	fields_add(f, &used, "EC2M_OP", r->op);
	fields_add(f, &used, "EC2M_INSTANCE", r->instance);
	fields_add(f, &used, "EC2M_EVENT", log_event_name(r->event));
	fields_add(f, &used, "MESSAGE_ID", log_event_message_id(r->event));
	/* journald wants a MESSAGE, so an empty message goes as one
	 * space. */
	fields_add(f, &used, "MESSAGE", present(r->msg) ? r->msg : " ");
	return f->n;
}

size_t
log_line_format(char *out, size_t outlen, const struct log_record *r,
    bool priority)
{
	const char *tags[3] = { r->cluster, r->op, r->instance };
	char head[256], prio[8] = "";
	size_t h = 0;
	int n;

	if (outlen < 2) {
		if (outlen == 1)
			out[0] = '\0';
		return 0;
	}
	head[0] = '\0';
	for (size_t i = 0; i < 3; i++) {
		if (!present(tags[i]) || h >= sizeof(head))
			continue;
		n = utf8_snprintf(head + h, sizeof(head) - h, "%s%s",
		    h == 0 ? "[" : " ", tags[i]);
		h += n > 0 ? (size_t)n : 0;
	}
	if (h > 0 && h < sizeof(head) - 2) {
		head[h++] = ']';
		head[h++] = ' ';
		head[h] = '\0';
	}
	if (priority && r->level >= LOG_EMERG && r->level <= LOG_DEBUG)
		snprintf(prio, sizeof(prio), "<%d>", r->level); /* not text */
	/* not text */
	n = snprintf(out, outlen, "%s%s: %s: %s%s\n", prio, r->ident,
	    log_level_name(r->level), head, r->msg);
	if (n < 0)
		n = 0;
	if ((size_t)n > outlen - 1) {
		n = (int)utf8_cut(out, outlen - 1, outlen - 2);
		out[n++] = '\n';
		out[n] = '\0';
	}
	return (size_t)n;
}

void
log_emit(int level, const struct log_ctx *ctx, const char *file, int line,
    const char *fmt, ...)
{
	static const struct log_ctx none;
	int saved_errno = errno;
	struct log_record r;
	struct log_fields f;
	char msg[2048];
	char out[2304];
	va_list ap;
	size_t n;

	if (!log_enabled(level))
		return;
	if (ctx == NULL)
		ctx = &none;
	va_start(ap, fmt);
	utf8_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r = (struct log_record){
		.level = level, .ident = log_ident, .cluster = ctx->cluster,
		.op = ctx->op, .instance = ctx->instance, .event = ctx->event,
		.file = file, .line = line, .msg = msg,
	};
	log_fields_build(&f, &r);
	if (log_backend == NULL || log_backend(&r, &f) != 0) {
		n = log_line_format(out, sizeof(out), &r,
		    log_stderr_priority);
		if (n > 0 && write(STDERR_FILENO, out, n) < 0) {
			/* Nowhere left to report it. */
		}
	}
	if (!log_in_tap) {
		log_in_tap = true;
		for (size_t i = 0; i < LOG_TAPS_MAX; i++)
			if (log_taps[i].fn != NULL)
				log_taps[i].fn(log_taps[i].arg, &r, &f);
		log_in_tap = false;
	}
	errno = saved_errno;
}
