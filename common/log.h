/*
 * Logging for both programs.  Levels are syslog's (LOG_ERR … LOG_DEBUG).
 * Messages may carry the cluster they concern, which the daemon's journald
 * backend turns into structured fields; the stderr backend prints it as a
 * "[cluster]" prefix.  Every function preserves errno.
 */
#ifndef EC2M_LOG_H
#define EC2M_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* Sets the program name shown on stderr and the most verbose level that is
 * written (LOG_INFO by default). */
void log_init(const char *ident, int max_level);
void log_set_level(int max_level);
int log_get_level(void);
bool log_enabled(int level);
/* Parses "err", "warning", "notice", "info", "debug"; -1 if unknown. */
int log_level_from_name(const char *name);
const char *log_level_name(int level);

void log_write(int level, const char *cluster, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define log_err(...)	log_write(LOG_ERR, NULL, __FILE__, __LINE__, __VA_ARGS__)
#define log_warnx(...)	log_write(LOG_WARNING, NULL, __FILE__, __LINE__, __VA_ARGS__)
#define log_notice(...)	log_write(LOG_NOTICE, NULL, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...)	log_write(LOG_INFO, NULL, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...)	log_write(LOG_DEBUG, NULL, __FILE__, __LINE__, __VA_ARGS__)

/* The same, about one cluster. */
#define clog(level, cluster, ...) \
	log_write((level), (cluster), __FILE__, __LINE__, __VA_ARGS__)

#endif
