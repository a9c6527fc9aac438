/*
 * ec2ctl, the command-line client of ec2-managerd (SPEC §4).  The program
 * has three parts, one file each: parser.c turns argv into a list of
 * requests without any I/O, client.c carries request and reply lines over
 * the control socket, and output.c renders events and results for people
 * or passes them through as JSON.  ec2ctl.c ties them together.
 */
#ifndef EC2M_CTL_EC2CTL_H
#define EC2M_CTL_EC2CTL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "common/linebuf.h"
#include "common/protocol.h"

/* Exit statuses (SPEC §4); 69 and 77 are sysexits' EX_UNAVAILABLE and
 * EX_NOPERM. */
enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILED = 1,		/* refused, or the operation failed */
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_UNREACHABLE = 69,	/* no daemon to talk to */
	CTL_EXIT_NOPERM = 77,
	CTL_EXIT_INTERRUPTED = 130,	/* SIGINT while waiting */
};

/* How a status result is printed. */
enum ctl_format {
	CTL_FORMAT_AUTO,	/* a table on a terminal, JSON otherwise */
	CTL_FORMAT_TABLE,
	CTL_FORMAT_JSON,
};

/* One command of the command line, ready to be sent. */
struct ctl_request {
	const struct proto_cmd_info *cmd;
	json_t	*args;		/* owned; the request's "args" object */
	enum ctl_format format;	/* status only */
	bool	 watch;		/* status --watch */
	bool	 all;		/* status --all: every instance in the table */
	bool	 follow;	/* events --follow: a stream until Ctrl-C */
};

/* Everything the command line asks for. */
struct ctl_invocation {
	enum proto_level level;	/* events wanted: -q, -v, -d */
	bool	 dry_run;
	bool	 force;
	bool	 json;		/* -j: print every line received, verbatim */
	bool	 wait;		/* false with --no-wait */
	bool	 help;
	const struct proto_cmd_info *help_cmd;	/* help on one; NULL: all */
	bool	 version;
	const char *socket;	/* borrowed from argv; NULL: not given */
	const char *cluster;	/* borrowed from argv; NULL: none */
	struct ctl_request *reqs;	/* owned */
	size_t	 nreqs;
};

/* parser.c */

/* Parses argv (argv[0] is the program name) into inv.  Returns 0, or -1 on
 * a usage error with a one-line message in err.  Every command is checked
 * before anything is sent, so an error anywhere means no request at all.
 * Uses getopt_long and resets it first.  Release inv with
 * ctl_invocation_release() in either case. */
int ctl_parse(int argc, char *argv[], struct ctl_invocation *inv, char *err,
    size_t errlen);
void ctl_invocation_release(struct ctl_invocation *inv);
/* Request number i of inv as one protocol line ending in '\n'.  Returns a
 * new string. */
char *ctl_request_line(const struct ctl_invocation *inv, size_t i,
    int64_t id);
/* Writes the --help text, generated from the command table. */
void ctl_usage(FILE *fp);
/* Writes "ec2ctl help COMMAND": the command's synopsis, summary (from
 * commands.def) and options. */
void ctl_usage_command(FILE *fp, const struct proto_cmd_info *info);
/* Whether request r's output is JSON lines: -j, -f json, or stdout not a
 * terminal without -f table. */
bool ctl_request_json(const struct ctl_invocation *inv,
    const struct ctl_request *r, bool out_tty);
/* The one-line reminder that follows a usage error. */
void ctl_usage_short(FILE *fp);

/* output.c */

/* Where events and results go, and what the renderers need to know. */
struct ctl_display {
	FILE	*out;		/* results; with -j, every line received */
	FILE	*err;		/* log and progress events, error messages */
	bool	 out_tty;
	bool	 err_tty;
	int	 err_cols;	/* the terminal's width; 0: unknown */
	enum proto_level level;	/* the most verbose log level shown */
	const char *cluster;	/* for summaries; NULL: none */
	bool	 waited;	/* the requests were sent with "wait" */
	bool	 dry_run;
	bool	 color_out;	/* colours on out (output_color_wanted()) */
	bool	 color_err;
	bool	 echo;		/* JSON on out: events for people on err too */
	bool	 live;		/* a progress line is open on err */
	char	 step[64];	/* the step of the last progress line */
};

/*
 * How the daemon's lines are shown: output_human renders them for people,
 * output_json writes each one to out exactly as received (-j, -f json, or
 * out not a terminal), and shows the reason of a failure on err too.  line is the
 * message as received (without its newline); the decoded parts are
 * borrowed.
 */
struct ctl_output {
	/* An event, at time now_ms. */
	void	(*event)(struct ctl_display *d, const char *line, json_t *ev,
		    int64_t now_ms);
	/* The result (may be NULL) of a successful request r. */
	void	(*result)(struct ctl_display *d, const struct ctl_request *r,
		    const char *line, json_t *result);
	/* A failed request: "ec2ctl: message" on err for people,
	 * "ec2ctl: permission denied: message" for that code; code and
	 * message may be NULL. */
	void	(*error)(struct ctl_display *d, const char *line,
		    const char *code, const char *message);
};

extern const struct ctl_output output_human;
extern const struct ctl_output output_json;

/* Ends an open progress line so that other output starts on its own line. */
void output_end_live(struct ctl_display *d);
/* Renderers, each writing to fp. */
/* Clusters of more than OUTPUT_TABLE_MAX_ROWS instances are summarised
 * (counts per role and state, then the instances that are not workers and
 * the first workers between states, in maintenance or held) unless all is
 * true. */
#define OUTPUT_TABLE_MAX_ROWS	40
void output_status_table(FILE *fp, json_t *status, bool all, bool color);
void output_status_json(FILE *fp, json_t *status, bool pretty);
void output_clusters(FILE *fp, json_t *result, bool color);
void output_events(FILE *fp, json_t *result, bool color);
/* One item of the event history: "TS  KIND  MSG", the message coloured
 * by its level when color is true. */
void output_event_entry(FILE *fp, json_t *entry, bool color);
/* Whether a stream gets colours: a terminal (tty), NO_COLOR unset or
 * empty (https://no-color.org) and TERM not "dumb".  Pure. */
bool output_color_wanted(bool tty, const char *no_color, const char *term);
void output_explain(FILE *fp, json_t *result);
/* "1h30m", "5m", "42s", "2d03h"; "-" when v is not a number of seconds. */
void output_uptime(char *buf, size_t len, json_t *v);

/* client.c */

/* One connection to the daemon. */
struct ctl_conn {
	int	 fd;
	const char *path;		/* borrowed */
	struct linebuf lb;
	volatile sig_atomic_t *interrupted;	/* set on SIGINT; may be NULL */
};

/* Connects to the socket at path, giving up after timeout_ms.  Returns 0,
 * or CTL_EXIT_UNREACHABLE or CTL_EXIT_NOPERM with a message in err. */
int client_connect(struct ctl_conn *c, const char *path, int timeout_ms,
    char *err, size_t errlen);
/* Sends one line.  Returns 0 or an exit status with a message in err. */
int client_send(struct ctl_conn *c, const char *line, int timeout_ms,
    char *err, size_t errlen);
/* Waits for the next line (timeout_ms < 0: for ever).  Returns 0 with the
 * line (borrowed until the next call) in *line, or an exit status with a
 * message in err: CTL_EXIT_UNREACHABLE when the daemon goes away or does
 * not answer in time, CTL_EXIT_FAILED for a line longer than the protocol
 * allows, CTL_EXIT_INTERRUPTED on SIGINT. */
int client_read_line(struct ctl_conn *c, int timeout_ms, const char **line,
    size_t *len, char *err, size_t errlen);
/* Waits timeout_ms while watching for the daemon going away.  Returns 0
 * after the time, or an exit status as client_read_line(). */
int client_pause(struct ctl_conn *c, int timeout_ms, char *err,
    size_t errlen);
void client_close(struct ctl_conn *c);

#endif
