/*
 * The fields file of the daemon's log (log.h, log_fields_file_setup()):
 * a tap that appends each message's fields, the very pieces the journal
 * gets, as one JSON array of "NAME=value" strings a line.  It exists for
 * the tests, which have no journald to read the fields back from.
 */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/utf8.h"

static int fields_fd = -1;

static void
fields_file_tap(void *arg, const struct log_record *r,
    const struct log_fields *f)
{
	json_t *a = json_array();
	char *line, *piece;
	size_t len;

	(void)arg;
	(void)r;
	for (size_t i = 0; i < f->n; i++) {
		piece = utf8_sanitize(f->iov[i].iov_base, f->iov[i].iov_len);
		json_array_append_new(a, json_text(piece));
		free(piece);
	}
	line = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (line == NULL)
		return;
	len = strlen(line);
	line[len] = '\n';	/* over the NUL: one write() per line */
	if (write(fields_fd, line, len + 1) < 0) {
		/* A test sees the line missing. */
	}
	free(line);
}

bool
log_fields_file_setup(void)
{
	const char *path = getenv("EC2M_LOG_FIELDS_FILE");
	int saved_errno = errno;

	log_fields_file_close();
	if (path == NULL || *path == '\0')
		return false;
	fields_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600);
	if (fields_fd >= 0 && log_tap_add(fields_file_tap, NULL) != 0) {
		close(fields_fd);
		fields_fd = -1;
	}
	errno = saved_errno;
	return fields_fd >= 0;
}

void
log_fields_file_close(void)
{
	if (fields_fd < 0)
		return;
	log_tap_remove(fields_file_tap, NULL);
	close(fields_fd);
	fields_fd = -1;
}
