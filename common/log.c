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

/* Appends "NAME=value" to f, cutting the value short when the buffer runs
 * out; a field that does not fit at all is left out. */
static void
fields_add(struct log_fields *f, size_t *used, const char *name,
    const char *value)
{
	size_t room = sizeof(f->buf) - *used;
	size_t nlen = strlen(name), vlen;
	char *p = f->buf + *used;

	if (!present(value) || f->n >= LOG_FIELDS_MAX || room < nlen + 2)
		return;
	vlen = utf8_cut(value, strlen(value), room - nlen - 1);
	memcpy(p, name, nlen);
	p[nlen] = '=';
	memcpy(p + nlen + 1, value, vlen);
	f->iov[f->n].iov_base = p;
	f->iov[f->n].iov_len = nlen + 1 + vlen;
	f->n++;
	*used += nlen + 1 + vlen;
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
	fields_add(f, &used, "EC2M_EVENT", r->event);
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

static void
log_vwrite(int level, const char *cluster, const char *op,
    const char *instance, const char *event, const char *file, int line,
    const char *fmt, va_list ap)
{
	struct log_record r = {
		.level = level, .ident = log_ident, .cluster = cluster,
		.op = op, .instance = instance, .event = event, .file = file,
		.line = line,
	};
	char msg[2048];
	char out[2304];
	size_t n;

	utf8_vsnprintf(msg, sizeof(msg), fmt, ap);
	r.msg = msg;
	if (log_backend != NULL && log_backend(&r) == 0)
		return;
	n = log_line_format(out, sizeof(out), &r, log_stderr_priority);
	if (n > 0 && write(STDERR_FILENO, out, n) < 0) {
		/* Nowhere left to report it. */
	}
}

void
log_write(int level, const char *cluster, const char *file, int line,
    const char *fmt, ...)
{
	int saved_errno = errno;
	va_list ap;

	if (log_enabled(level)) {
		va_start(ap, fmt);
		log_vwrite(level, cluster, NULL, NULL, NULL, file, line, fmt,
		    ap);
		va_end(ap);
	}
	errno = saved_errno;
}

void
log_write_fields(int level, const char *cluster, const char *op,
    const char *instance, const char *event, const char *file, int line,
    const char *fmt, ...)
{
	int saved_errno = errno;
	va_list ap;

	if (log_enabled(level)) {
		va_start(ap, fmt);
		log_vwrite(level, cluster, op, instance, event, file, line,
		    fmt, ap);
		va_end(ap);
	}
	errno = saved_errno;
}
