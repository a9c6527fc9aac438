/*
 * Newline framing for the control protocol: bytes go in as they arrive,
 * complete lines come out.  Each side sets the limit for what it reads:
 * the daemon reads requests (PROTO_MAX_REQUEST), ec2ctl reads replies
 * (PROTO_MAX_REPLY, many megabytes).  A line longer than the limit is
 * reported once and the connection is expected to be closed after that.
 *
 * Every byte is looked at a bounded number of times, however the line
 * arrives, so a reply of many megabytes read in small pieces costs time
 * in proportion to its length.
 */
#ifndef EC2M_LINEBUF_H
#define EC2M_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>

struct linebuf {
	char	*buf;		/* owned */
	size_t	 len;		/* bytes held */
	size_t	 cap;
	size_t	 start;		/* where the next line starts */
	size_t	 scan;		/* no newline in [start, scan) */
	size_t	 tail;		/* where the unfinished last line starts */
	size_t	 max_line;	/* newline included */
	bool	 overflow;	/* a line exceeded max_line */
};

void linebuf_init(struct linebuf *lb, size_t max_line);
void linebuf_release(struct linebuf *lb);
/* Appends data; returns false (and sets overflow) once the unfinished line
 * is longer than max_line: the caller answers with an error and closes. */
bool linebuf_append(struct linebuf *lb, const char *data, size_t len);
/* The next complete line without its '\n' (and without a '\r' before it),
 * or NULL.  Valid until the next call on lb. */
const char *linebuf_next(struct linebuf *lb, size_t *len);
/* Bytes of an unfinished line being held. */
size_t linebuf_pending(const struct linebuf *lb);

#endif
