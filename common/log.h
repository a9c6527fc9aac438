/*
 * Logging for both programs.  Levels are syslog's (LOG_ERR … LOG_DEBUG).
 * A message may carry the cluster, the operation, the instance and the
 * kind of event it concerns.  The daemon sends them to the journal as the
 * structured fields EC2M_CLUSTER, EC2M_OP, EC2M_INSTANCE and EC2M_EVENT
 * when journald reads its stderr (log_journal_setup()); everywhere else,
 * ec2ctl and the test tools included, each message is one readable stderr
 * line with the cluster as a "[cluster]" prefix.  Every function preserves
 * errno.
 */
#ifndef EC2M_LOG_H
#define EC2M_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>
#include <syslog.h>

/* Sets the program name (the stderr prefix and the journal's
 * SYSLOG_IDENTIFIER) and the most verbose level that is written (LOG_INFO
 * by default).  Starts on the stderr backend. */
void log_init(const char *ident, int max_level);
void log_set_level(int max_level);
int log_get_level(void);
bool log_enabled(int level);
/* Parses "err", "warning", "notice", "info", "debug"; -1 if unknown. */
int log_level_from_name(const char *name);
const char *log_level_name(int level);

/* One message with everything known about it.  The strings are borrowed;
 * NULL (or "") leaves a field out. */
struct log_record {
	int		 level;
	const char	*ident;
	const char	*cluster;
	const char	*op;		/* "scale", "stop", ... */
	const char	*instance;	/* an EC2 instance id */
	const char	*event;		/* "decision", "outcome", ... */
	const char	*file;
	int		 line;
	const char	*msg;
};

/* MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, CODE_FILE, CODE_LINE and the four
 * EC2M_* fields. */
#define LOG_FIELDS_MAX	9

/* The journal fields of one record, as "NAME=value" pieces ready for
 * sd_journal_sendv().  iov points into buf. */
struct log_fields {
	struct iovec	 iov[LOG_FIELDS_MAX];
	size_t		 n;
	char		 buf[4096];
};

/* Builds the journal fields of r into f (pure: no I/O, no globals).  Fields
 * whose value is NULL or empty are left out; a value that does not fit in
 * f->buf is cut short, MESSAGE last of all.  Returns the number of fields. */
size_t log_fields_build(struct log_fields *f, const struct log_record *r);

/* Formats r as the stderr line "IDENT: LEVEL: [CLUSTER OP INSTANCE] MSG\n"
 * (the bracket only when there is a cluster, op or instance; with
 * priority, preceded by "<N>") into out, cutting it short to fit but
 * always ending it with "\n".  Returns its length. */
size_t log_line_format(char *out, size_t outlen, const struct log_record *r,
    bool priority);

/* A backend takes a record that passed the level filter and returns 0, or
 * -1 to have it written to stderr instead. */
typedef int log_backend_fn(const struct log_record *r);
/* Installs a backend (NULL: back to stderr only). */
void log_set_backend(log_backend_fn *fn);
/* With on, stderr lines start with the sd-daemon(3) priority prefix
 * ("<4>"), for a stderr that journald reads but the native backend does
 * not serve (forced off, or failing). */
void log_set_stderr_priority(bool on);

/*
 * The daemon's switch to the journal (common/log_journal.c; links
 * libsystemd).  Uses the journal when EC2M_LOG_JOURNAL is "1" (forced on),
 * or when it is unset and JOURNAL_STREAM names the device and inode of
 * stderr, which is how systemd says that stderr goes to journald.
 * EC2M_LOG_JOURNAL=0 keeps stderr.  Whenever stderr is the journal's,
 * stderr lines get priority prefixes.  Returns true if the journal is
 * used.  ec2ctl never calls it.
 */
bool log_journal_setup(void);

void log_write(int level, const char *cluster, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void log_write_fields(int level, const char *cluster, const char *op,
    const char *instance, const char *event, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 8, 9)));

#define log_err(...) \
	log_write(LOG_ERR, NULL, __FILE__, __LINE__, __VA_ARGS__)
#define log_warnx(...) \
	log_write(LOG_WARNING, NULL, __FILE__, __LINE__, __VA_ARGS__)
#define log_notice(...) \
	log_write(LOG_NOTICE, NULL, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...) \
	log_write(LOG_INFO, NULL, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) \
	log_write(LOG_DEBUG, NULL, __FILE__, __LINE__, __VA_ARGS__)

/* The same, about one cluster. */
#define clog(level, cluster, ...) \
	log_write((level), (cluster), __FILE__, __LINE__, __VA_ARGS__)

/* About one cluster, with any of the other fields (NULL: none), e.g.
 *   clog_fields(LOG_INFO, c->name, "scale", NULL, "decision",
 *       "start %d workers", n);
 * lets `journalctl EC2M_OP=scale` or `EC2M_EVENT=decision` find it. */
#define clog_fields(level, cluster, op, instance, event, ...) \
	log_write_fields((level), (cluster), (op), (instance), (event), \
	    __FILE__, __LINE__, __VA_ARGS__)
/* Shorthands: a message of an operation, and one about an instance. */
#define clog_op(level, cluster, op, ...) \
	clog_fields((level), (cluster), (op), NULL, NULL, __VA_ARGS__)
#define clog_instance(level, cluster, op, instance, ...) \
	clog_fields((level), (cluster), (op), (instance), NULL, __VA_ARGS__)

#endif
