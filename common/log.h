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

/*
 * The key events of the daemon.  Each has a name (EC2M_EVENT) and a fixed
 * 128-bit MESSAGE_ID explained by the journal catalog
 * systemd/ec2-manager.catalog (`journalctl -x`); the table is in log.c and
 * nowhere else.
 */
enum log_event {
	LOG_EV_NONE = 0,
	LOG_EV_OP_STARTED,		/* "op_started" */
	LOG_EV_OP_FINISHED,		/* "op_finished" */
	LOG_EV_OP_FAILED,		/* "op_failed" */
	LOG_EV_DECISION,		/* "decision": autoscale evaluation */
	LOG_EV_MAINTENANCE_SET,		/* "maintenance_set" */
	LOG_EV_MAINTENANCE_RESTORED,	/* "maintenance_restored" */
	LOG_EV_RELOAD_ACCEPTED,		/* "reload_accepted" */
	LOG_EV_RELOAD_REJECTED,		/* "reload_rejected" */
	LOG_EV_RECOVERED,		/* "recovered": after an unclean end */
	LOG_EV_COUNT
};

/* The EC2M_EVENT value and the MESSAGE_ID (32 lower-case hex digits) of
 * an event; NULL for LOG_EV_NONE or out of range. */
const char *log_event_name(enum log_event e);
const char *log_event_message_id(enum log_event e);

/* What a message is about.  The strings are borrowed; NULL (or "") leaves
 * a field out. */
struct log_ctx {
	const char	*cluster;
	const char	*op;		/* "scale", "stop", ... */
	const char	*instance;	/* an EC2 instance id */
	enum log_event	 event;
};

/* One message with everything known about it. */
struct log_record {
	int		 level;
	const char	*ident;
	const char	*cluster;
	const char	*op;
	const char	*instance;
	enum log_event	 event;
	const char	*file;
	int		 line;
	const char	*msg;
};

/* MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, CODE_FILE, CODE_LINE, the four
 * EC2M_* fields and MESSAGE_ID. */
#define LOG_FIELDS_MAX	10

/* The fields of one record, as "NAME=value" pieces ready for
 * sd_journal_sendv(): built once per message and handed to every sink
 * (journal, Loggly, the test file), so that they all see the same list.
 * iov points into buf; every value is valid UTF-8. */
struct log_fields {
	struct iovec	 iov[LOG_FIELDS_MAX];
	size_t		 n;
	char		 buf[4096];
};

/* Builds the fields of r into f (pure: no I/O, no globals).  Fields whose
 * value is NULL or empty are left out; values are made valid UTF-8, and a
 * value that does not fit in f->buf is cut short at a character boundary,
 * MESSAGE last of all.  Returns the number of fields. */
size_t log_fields_build(struct log_fields *f, const struct log_record *r);

/* The value of field name in f (not NUL-terminated; its length in *len),
 * or NULL. */
const char *log_fields_get(const struct log_fields *f, const char *name,
    size_t *len);

/* Formats r as the stderr line "IDENT: LEVEL: [CLUSTER OP INSTANCE] MSG\n"
 * (the bracket only when there is a cluster, op or instance; with
 * priority, preceded by "<N>") into out, cutting it short to fit but
 * always ending it with "\n".  Returns its length. */
size_t log_line_format(char *out, size_t outlen, const struct log_record *r,
    bool priority);

/* A backend takes a message that passed the level filter, with its
 * fields, and returns 0, or -1 to have it written to stderr instead. */
typedef int log_backend_fn(const struct log_record *r,
    const struct log_fields *f);
/* Installs a backend (NULL: back to stderr only). */
void log_set_backend(log_backend_fn *fn);

/* A tap gets every message that passed the level filter, with the same
 * fields as the backend, after it (the Loggly sink, the fields file of
 * the tests).  A message logged from inside a tap reaches the backend
 * only.  At most LOG_TAPS_MAX taps; log_tap_add() returns -1 when full. */
#define LOG_TAPS_MAX	4
typedef void log_tap_fn(void *arg, const struct log_record *r,
    const struct log_fields *f);
int log_tap_add(log_tap_fn *fn, void *arg);
void log_tap_remove(log_tap_fn *fn, void *arg);

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

/* For tests: what the journal backend sends with (sd_journal_sendv() by
 * default; NULL restores it). */
typedef int log_journal_send_fn(const struct iovec *iov, int n);
void log_journal_set_sender(log_journal_send_fn *fn);

/*
 * The fields file (common/log_file.c): with EC2M_LOG_FIELDS_FILE set to a
 * path, every message's fields are appended to it as one JSON array of
 * "NAME=value" strings a line, exactly the pieces the journal gets.  It
 * lets the tests see the journal fields where no journald runs.  Returns
 * true if the file is in use; log_fields_file_close() ends it.
 */
bool log_fields_file_setup(void);
void log_fields_file_close(void);

/* The one entry point: formats the message, builds its fields once and
 * hands them to the backend (or stderr) and every tap.  ctx may be NULL. */
void log_emit(int level, const struct log_ctx *ctx, const char *file,
    int line, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define LOG_CTX(...)	(&(const struct log_ctx){ __VA_ARGS__ })

#define log_err(...) \
	log_emit(LOG_ERR, NULL, __FILE__, __LINE__, __VA_ARGS__)
#define log_warnx(...) \
	log_emit(LOG_WARNING, NULL, __FILE__, __LINE__, __VA_ARGS__)
#define log_notice(...) \
	log_emit(LOG_NOTICE, NULL, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...) \
	log_emit(LOG_INFO, NULL, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) \
	log_emit(LOG_DEBUG, NULL, __FILE__, __LINE__, __VA_ARGS__)

/* A message with a context, e.g.
 *   clog_ctx(LOG_NOTICE, LOG_CTX(.cluster = c->name, .op = "scale",
 *       .event = LOG_EV_OP_STARTED), "scale started by %s", who);
 * lets `journalctl EC2M_OP=scale` or `EC2M_EVENT=op_started` find it. */
#define clog_ctx(level, ctx, ...) \
	log_emit((level), (ctx), __FILE__, __LINE__, __VA_ARGS__)

/* About one cluster. */
#define clog(level, cl, ...) \
	clog_ctx((level), LOG_CTX(.cluster = (cl)), __VA_ARGS__)
/* About a cluster, with any of the other fields (NULL, LOG_EV_NONE:
 * none). */
#define clog_fields(level, cl, o, inst, ev, ...) \
	clog_ctx((level), LOG_CTX(.cluster = (cl), .op = (o), \
	    .instance = (inst), .event = (ev)), __VA_ARGS__)
/* Shorthands: a message of an operation, and one about an instance. */
#define clog_op(level, cl, o, ...) \
	clog_fields((level), (cl), (o), NULL, LOG_EV_NONE, __VA_ARGS__)
#define clog_instance(level, cl, o, inst, ...) \
	clog_fields((level), (cl), (o), (inst), LOG_EV_NONE, __VA_ARGS__)

#endif
