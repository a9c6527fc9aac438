/*
 * The crash record's file, STATE_DIR/op-CLUSTER.json.  A new version is
 * written to a temporary file, synced, renamed over the old one and the
 * directory synced, so that after a crash or a power loss the file holds
 * one whole version or the other, never a mix, and a removal or a rename
 * that returned has reached the disk.  Plain POSIX calls; the operations
 * call these from the loop (a few hundred bytes, rarely).
 */
#include "daemon/opjournal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/utf8.h"
#include "common/xalloc.h"

char *
opjournal_path(const char *dir, const char *cluster)
{
	return xasprintf("%s/op-%s.json", dir, cluster);
}

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
opjournal_save(const char *dir, const struct opjournal *j, char *err,
    size_t errlen)
{
	char *path = opjournal_path(dir, j->cluster);
	char *tmp = xasprintf("%s.tmp", path);
	char *text = opjournal_dump(j);
	int fd, rc = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 || write_all(fd, text, strlen(text)) != 0 ||
	    fsync(fd) != 0) {
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
	free(text);
	free(tmp);
	free(path);
	return rc;
}

int
opjournal_load(const char *dir, const char *cluster, struct opjournal *j,
    char *err, size_t errlen)
{
	char *path = opjournal_path(dir, cluster);
	char *buf = NULL, why[512];
	size_t len = 0;
	int fd, rc = -1;
	struct stat st;

	opjournal_init(j);
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
	    st.st_size > (off_t)OPJOURNAL_MAX_FILE) {
		utf8_snprintf(err, errlen, "%s is not a regular file of at "
		    "most %u bytes", path, OPJOURNAL_MAX_FILE);
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
	if (opjournal_parse(buf, len, j, why, sizeof(why)) != 0) {
		utf8_snprintf(err, errlen, "%s: %s", path, why);
		goto out;
	}
	if (strcmp(j->cluster, cluster) != 0) {
		utf8_snprintf(err, errlen, "%s is the record of cluster %s",
		    path, j->cluster);
		opjournal_release(j);
		goto out;
	}
	rc = 1;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(path);
	return rc;
}

bool
opjournal_exists(const char *dir, const char *cluster)
{
	char *path = opjournal_path(dir, cluster);
	bool yes = access(path, F_OK) == 0;

	free(path);
	return yes;
}

int
opjournal_remove(const char *dir, const char *cluster, char *err,
    size_t errlen)
{
	char *path = opjournal_path(dir, cluster);
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
opjournal_set_aside(const char *dir, const char *cluster, char *err,
    size_t errlen)
{
	char *path = opjournal_path(dir, cluster);
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
