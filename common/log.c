/*
 * The stderr log backend: one readable line per message, prefixed with the
 * program name and the level.  Lines go out in a single write so that
 * concurrent writers do not interleave within a line.
 */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *log_ident = "ec2-manager";
static int log_max_level = LOG_INFO;

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

void
log_write(int level, const char *cluster, const char *file, int line,
    const char *fmt, ...)
{
	int saved_errno = errno;
	char msg[2048];
	char out[2304];
	va_list ap;
	int n;

	(void)file;
	(void)line;
	if (!log_enabled(level)) {
		errno = saved_errno;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cluster)
		n = snprintf(out, sizeof(out), "%s: %s: [%s] %s\n", log_ident,
		    log_level_name(level), cluster, msg);
	else
		n = snprintf(out, sizeof(out), "%s: %s: %s\n", log_ident,
		    log_level_name(level), msg);
	if (n > (int)sizeof(out) - 1) {
		n = sizeof(out) - 1;
		out[n - 1] = '\n';
	}
	if (n > 0 && write(STDERR_FILENO, out, (size_t)n) < 0) {
		/* Nowhere left to report it. */
	}
	errno = saved_errno;
}
