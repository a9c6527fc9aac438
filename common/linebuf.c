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
	if (lb->overflow)
		return false;
	/* Drop consumed lines before growing. */
	if (lb->start > 0) {
		memmove(lb->buf, lb->buf + lb->start, lb->len - lb->start);
		lb->len -= lb->start;
		lb->start = 0;
	}
	lb->buf = xgrow(lb->buf, &lb->cap, lb->len + len + 1, 1);
	memcpy(lb->buf + lb->len, data, len);
	lb->len += len;
	/* An unfinished line (after the last newline) must stay short. */
	{
		char *nl = memrchr(lb->buf, '\n', lb->len);
		size_t tail = nl ? lb->len - (size_t)(nl - lb->buf) - 1 :
		    lb->len;

		if (tail >= lb->max_line) {
			lb->overflow = true;
			return false;
		}
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
	nl = memchr(line, '\n', lb->len - lb->start);
	if (nl == NULL)
		return NULL;
	n = (size_t)(nl - line);
	lb->start += n + 1;
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
