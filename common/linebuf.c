#include "common/linebuf.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

void
linebuf_init(struct linebuf *lb, size_t max_line)
{
	memset(lb, 0, sizeof(*lb));
	lb->max_line = max_line;
}

void
linebuf_release(struct linebuf *lb)
{
	free(lb->buf);
	memset(lb, 0, sizeof(*lb));
}

size_t
linebuf_pending(const struct linebuf *lb)
{
	return lb->len - lb->start;
}

bool
linebuf_append(struct linebuf *lb, const char *data, size_t len)
{
	const char *nl;
	size_t at;

	if (lb->overflow)
		return false;
	/* Drop consumed lines before growing; what is left is the unread
	 * rest, usually part of one line. */
	if (lb->start > 0) {
		memmove(lb->buf, lb->buf + lb->start, lb->len - lb->start);
		lb->len -= lb->start;
		lb->scan -= lb->start;
		lb->tail = lb->tail > lb->start ? lb->tail - lb->start : 0;
		lb->start = 0;
	}
	lb->buf = xgrow(lb->buf, &lb->cap, lb->len + len + 1, 1);
	at = lb->len;
	memcpy(lb->buf + at, data, len);
	lb->len += len;
	/* An unfinished line (after the last newline) must stay short;
	 * only the new bytes can hold that newline. */
	nl = len > 0 ? memrchr(lb->buf + at, '\n', len) : NULL;
	if (nl != NULL)
		lb->tail = (size_t)(nl - lb->buf) + 1;
	if (lb->len - lb->tail >= lb->max_line) {
		lb->overflow = true;
		return false;
	}
	return true;
}

const char *
linebuf_next(struct linebuf *lb, size_t *len)
{
	char *line = lb->buf + lb->start, *nl;
	size_t n;

	if (lb->overflow || lb->start >= lb->len)
		return NULL;
	if (lb->scan < lb->start)
		lb->scan = lb->start;
	nl = memchr(lb->buf + lb->scan, '\n', lb->len - lb->scan);
	if (nl == NULL) {
		/* Searched once; the next search starts at the new bytes. */
		lb->scan = lb->len;
		return NULL;
	}
	n = (size_t)(nl - line);
	lb->start += n + 1;
	lb->scan = lb->start;
	if (n + 1 > lb->max_line) {
		lb->overflow = true;
		return NULL;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	*len = n;
	return line;
}
