/*
 * Files in state_dir, replaced atomically and durably (statefile.h).
 */
#include "daemon/statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/utf8.h"
#include "common/xalloc.h"

/* Makes the last rename or unlink in dir durable. */
static int
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
statefile_write(const char *dir, const char *name, const char *data,
    size_t len, char *err, size_t errlen)
{
	char *path = xasprintf("%s/%s", dir, name);
	char *tmp = xasprintf("%s.tmp", path);
	int fd, rc = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		utf8_snprintf(err, errlen, "cannot write %s: %s", tmp,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) != 0) {
		utf8_snprintf(err, errlen, "cannot write %s: %s", tmp,
		    strerror(errno));
		unlink(tmp);
		goto out;
	}
	/* The rename replaces the old version at once. */
	if (rename(tmp, path) != 0) {
		utf8_snprintf(err, errlen, "cannot replace %s: %s", path,
		    strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (sync_dir(dir) != 0) {
		utf8_snprintf(err, errlen, "cannot sync %s: %s", dir,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	free(path);
	return rc;
}

int
statefile_read(const char *dir, const char *name, size_t max, char **out,
    size_t *lenp, char *err, size_t errlen)
{
	char *path = xasprintf("%s/%s", dir, name);
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	int fd, rc = -1;

	*out = NULL;
	*lenp = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			rc = 0;
		else
			utf8_snprintf(err, errlen, "cannot open %s: %s", path,
			    strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (unsigned long long)st.st_size > max) {
		utf8_snprintf(err, errlen, "%s is not a regular file of at "
		    "most %zu bytes", path, max);
		goto out;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + len, (size_t)st.st_size - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			utf8_snprintf(err, errlen, "cannot read %s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*out = buf;
	*lenp = len;
	buf = NULL;
	rc = 1;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(path);
	return rc;
}

int
statefile_remove(const char *dir, const char *name, char *err, size_t errlen)
{
	char *path = xasprintf("%s/%s", dir, name);
	int rc = 0;

	if (unlink(path) != 0) {
		if (errno != ENOENT) {
			utf8_snprintf(err, errlen, "cannot remove %s: %s", path,
			    strerror(errno));
			rc = -1;
		}
	} else if (sync_dir(dir) != 0) {
		utf8_snprintf(err, errlen, "cannot sync %s: %s", dir,
		    strerror(errno));
		rc = -1;
	}
	free(path);
	return rc;
}

int
statefile_set_aside(const char *dir, const char *name, char *err,
    size_t errlen)
{
	char *path = xasprintf("%s/%s", dir, name);
	char *bad = xasprintf("%s.bad", path);
	int rc = 0;

	if (rename(path, bad) != 0 || sync_dir(dir) != 0) {
		utf8_snprintf(err, errlen, "cannot rename %s to %s: %s", path,
		    bad, strerror(errno));
		rc = -1;
	}
	free(bad);
	free(path);
	return rc;
}
