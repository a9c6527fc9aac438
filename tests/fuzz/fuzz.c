/*
 * Helpers of the libFuzzer targets (see fuzz.h).  A failed check aborts:
 * libFuzzer then writes the input to a crash file, and the message printed
 * here says which invariant broke.
 */
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/utf8.h"
#include "common/xalloc.h"

void
fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz check failed: %s:%d: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void
fuzz_check_utf8(const char *what, const char *s)
{
	size_t len;

	if (s == NULL)
		return;
	len = strlen(s);
	if (utf8_valid(s, len))
		return;
	fprintf(stderr, "fuzz check failed: %s is not valid UTF-8: \"", what);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '\\' || c == '"')
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputs("\"\n", stderr);
	abort();
}

static char *tmpdir;

/* Called by nftw() for every entry, children first. */
static int
remove_entry(const char *path, const struct stat *st, int type,
    struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

/* Called by exit(): removes the directory and everything in it. */
static void
remove_tmpdir(void)
{
	nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(tmpdir);
	tmpdir = NULL;
}

const char *
fuzz_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (tmpdir != NULL)
		return tmpdir;
	tmpdir = xasprintf("%s/ec2m-fuzz-XXXXXX", base && *base ? base :
	    "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		fprintf(stderr, "fuzz: cannot make %s: %s\n", tmpdir,
		    strerror(errno));
		abort();
	}
	atexit(remove_tmpdir);
	return tmpdir;
}

char *
fuzz_path(const char *name)
{
	return xasprintf("%s/%s", fuzz_tmpdir(), name);
}

void
fuzz_write_file(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0) {
		fprintf(stderr, "fuzz: cannot write %s: %s\n", path,
		    strerror(errno));
		abort();
	}
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "fuzz: cannot write %s: %s\n", path,
			    strerror(errno));
			abort();
		}
		data += n;
		len -= (size_t)n;
	}
	close(fd);
}

void
fuzz_remove_file(const char *path)
{
	if (unlink(path) != 0 && errno != ENOENT) {
		fprintf(stderr, "fuzz: cannot remove %s: %s\n", path,
		    strerror(errno));
		abort();
	}
}

/* The offset of the first separator line in data[0..size), or size; *skip
 * becomes its length with its line ends. */
static size_t
find_separator(const uint8_t *data, size_t size, size_t *skip)
{
	static const char sep[] = "\n" FUZZ_SEPARATOR "\n";
	const size_t n = sizeof(sep) - 1;

	/* At the very start the separator has no newline before it. */
	if (size >= n - 1 && memcmp(data, sep + 1, n - 1) == 0) {
		*skip = n - 1;
		return 0;
	}
	for (size_t i = 0; i + n <= size; i++) {
		if (memcmp(data + i, sep, n) == 0) {
			/* The newline before the marker ends this part. */
			*skip = n - 1;
			return i + 1;
		}
	}
	*skip = 0;
	return size;
}

size_t
fuzz_split(const uint8_t *data, size_t size, struct fuzz_part *parts,
    size_t max)
{
	size_t n = 0;

	while (n + 1 < max) {
		size_t skip, at = find_separator(data, size, &skip);

		if (skip == 0)
			break;
		parts[n].data = data;
		parts[n].len = at;
		n++;
		data += at + skip;
		size -= at + skip;
	}
	parts[n].data = data;
	parts[n].len = size;
	return n + 1;
}
