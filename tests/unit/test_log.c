/*
 * The logging layer: the journal fields built for a message, the readable
 * stderr line, the level filter in front of both, and how the daemon
 * decides to use the journal.  Nothing here talks to journald; the fields
 * that log_fields_build() makes are exactly what sd_journal_sendv() gets.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"

/* The value of field name in f, as a new string, or NULL if absent. */
static char *
field(const struct log_fields *f, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < f->n; i++) {
		const char *p = f->iov[i].iov_base;
		size_t len = f->iov[i].iov_len;

		if (len > n && memcmp(p, name, n) == 0 && p[n] == '=')
			return strndup(p + n + 1, len - n - 1);
	}
	return NULL;
}

static void
assert_field(const struct log_fields *f, const char *name, const char *want)
{
	char *got = field(f, name);

	if (want == NULL) {
		if (got != NULL)
			fail_msg("%s=%s should be absent", name, got);
		return;
	}
	if (got == NULL)
		fail_msg("%s missing", name);
	assert_string_equal(got, want);
	free(got);
}

static void
test_fields_all(void **state)
{
	struct log_record r = {
		.level = LOG_WARNING, .ident = "ec2-managerd",
		.cluster = "dev04", .op = "scale", .instance = "i-0abc",
		.event = "decision", .file = "../daemon/policy.c", .line = 123,
		.msg = "stop 2 workers",
	};
	struct log_fields f;

	(void)state;
	assert_int_equal(log_fields_build(&f, &r), 9);
	assert_int_equal(f.n, 9);
	assert_field(&f, "MESSAGE", "stop 2 workers");
	assert_field(&f, "PRIORITY", "4");
	assert_field(&f, "SYSLOG_IDENTIFIER", "ec2-managerd");
	assert_field(&f, "CODE_FILE", "../daemon/policy.c");
	assert_field(&f, "CODE_LINE", "123");
	assert_field(&f, "EC2M_CLUSTER", "dev04");
	assert_field(&f, "EC2M_OP", "scale");
	assert_field(&f, "EC2M_INSTANCE", "i-0abc");
	assert_field(&f, "EC2M_EVENT", "decision");
	/* Every piece lies inside the buffer, one after the other. */
	for (size_t i = 0; i < f.n; i++) {
		const char *p = f.iov[i].iov_base;

		assert_true(p >= f.buf &&
		    p + f.iov[i].iov_len <= f.buf + sizeof(f.buf));
	}
}

static void
test_fields_absent(void **state)
{
	struct log_record r = {
		.level = LOG_INFO, .ident = "ec2-managerd", .cluster = NULL,
		.op = "", .file = "main.c", .line = 7, .msg = "ready",
	};
	struct log_fields f;

	(void)state;
	assert_int_equal(log_fields_build(&f, &r), 5);
	assert_field(&f, "MESSAGE", "ready");
	assert_field(&f, "PRIORITY", "6");
	assert_field(&f, "CODE_LINE", "7");
	assert_field(&f, "EC2M_CLUSTER", NULL);
	assert_field(&f, "EC2M_OP", NULL);
	assert_field(&f, "EC2M_INSTANCE", NULL);
	assert_field(&f, "EC2M_EVENT", NULL);
}

/* A message with a newline stays one field (sd_journal_sendv() encodes
 * it), and an empty one is still sent. */
static void
test_fields_message_forms(void **state)
{
	struct log_record r = {
		.level = LOG_ERR, .ident = "x", .file = "f.c", .line = 1,
		.msg = "two\nlines",
	};
	struct log_fields f;

	(void)state;
	log_fields_build(&f, &r);
	assert_field(&f, "MESSAGE", "two\nlines");
	r.msg = "";
	log_fields_build(&f, &r);
	assert_field(&f, "MESSAGE", " ");
}

static void
test_fields_long_message_cut(void **state)
{
	static char big[3 * 4096];
	struct log_record r = {
		.level = LOG_INFO, .ident = "ec2-managerd", .cluster = "dev04",
		.file = "main.c", .line = 9,
	};
	struct log_fields f;
	char *m;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	r.msg = big;
	assert_int_equal(log_fields_build(&f, &r), 6);
	assert_field(&f, "EC2M_CLUSTER", "dev04");
	m = field(&f, "MESSAGE");
	assert_non_null(m);
	assert_true(strlen(m) > 3000 && strlen(m) < sizeof(f.buf));
	free(m);
}

static void
test_line_format(void **state)
{
	struct log_record r = {
		.level = LOG_WARNING, .ident = "ec2-managerd",
		.cluster = "dev04", .msg = "refresh failed: EC2: HTTP 401",
	};
	char out[256], small[16];
	size_t n;

	(void)state;
	n = log_line_format(out, sizeof(out), &r, false);
	assert_string_equal(out,
	    "ec2-managerd: warning: [dev04] refresh failed: EC2: HTTP 401\n");
	assert_int_equal(n, strlen(out));
	r.cluster = NULL;
	log_line_format(out, sizeof(out), &r, false);
	assert_string_equal(out,
	    "ec2-managerd: warning: refresh failed: EC2: HTTP 401\n");
	r.cluster = "dev04";
	r.op = "scale";
	r.instance = "i-0abc";
	r.event = "outcome";	/* journal only */
	r.level = LOG_INFO;
	r.msg = "stopped";
	log_line_format(out, sizeof(out), &r, false);
	assert_string_equal(out,
	    "ec2-managerd: info: [dev04 scale i-0abc] stopped\n");
	/* For journald reading stderr: the sd-daemon(3) prefix. */
	log_line_format(out, sizeof(out), &r, true);
	assert_string_equal(out,
	    "<6>ec2-managerd: info: [dev04 scale i-0abc] stopped\n");
	/* Cut short, it still ends the line. */
	n = log_line_format(small, sizeof(small), &r, false);
	assert_int_equal(n, sizeof(small) - 1);
	assert_int_equal(small[n - 1], '\n');
	assert_int_equal(small[n], '\0');
}

static struct log_record captured;
static char captured_msg[256];
static int ncaptured;
static int backend_result;

static int
capture(const struct log_record *r)
{
	captured = *r;
	snprintf(captured_msg, sizeof(captured_msg), "%s", r->msg);
	captured.msg = captured_msg;
	ncaptured++;
	errno = EBADF;		/* the backend may clobber errno */
	return backend_result;
}

static void
test_backend_and_filter(void **state)
{
	(void)state;
	log_init("ec2-managerd", LOG_INFO);
	log_set_backend(capture);
	ncaptured = 0;
	backend_result = 0;

	errno = ENOENT;
	clog_fields(LOG_NOTICE, "dev04", "stop", "i-1", "outcome",
	    "stopped %d", 3);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(ncaptured, 1);
	assert_int_equal(captured.level, LOG_NOTICE);
	assert_string_equal(captured.ident, "ec2-managerd");
	assert_string_equal(captured.cluster, "dev04");
	assert_string_equal(captured.op, "stop");
	assert_string_equal(captured.instance, "i-1");
	assert_string_equal(captured.event, "outcome");
	assert_string_equal(captured.msg, "stopped 3");
	assert_non_null(strstr(captured.file, "test_log.c"));
	assert_true(captured.line > 0);

	/* The old calls still work and carry no extra fields. */
	clog(LOG_WARNING, "prod", "refresh failed");
	assert_int_equal(ncaptured, 2);
	assert_string_equal(captured.cluster, "prod");
	assert_null(captured.op);
	assert_null(captured.instance);
	assert_null(captured.event);
	log_info("plain");
	assert_int_equal(ncaptured, 3);
	assert_null(captured.cluster);

	/* log_level filters what reaches any backend. */
	log_debug("hidden");
	clog_op(LOG_DEBUG, "dev04", "scale", "hidden too");
	assert_int_equal(ncaptured, 3);
	log_set_level(LOG_DEBUG);
	clog_instance(LOG_DEBUG, "dev04", "scale", "i-2", "shown");
	assert_int_equal(ncaptured, 4);
	assert_string_equal(captured.instance, "i-2");
	log_set_level(LOG_WARNING);
	log_notice("hidden");
	log_err("shown");
	assert_int_equal(ncaptured, 5);
	assert_int_equal(captured.level, LOG_ERR);
	log_init("ec2-managerd", LOG_INFO);
}

/* Runs fn with stderr going to a temporary file; returns what it wrote. */
static void
capture_stderr(void (*fn)(void), char *buf, size_t len)
{
	char path[] = "/tmp/test_log.XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	unlink(path);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, len - 1, 0);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
}

static void
warn_dev04(void)
{
	clog(LOG_WARNING, "dev04", "no journal: %s", "fallback");
}

static void
set_journal_stream(unsigned long long dev, unsigned long long ino)
{
	char v[64];

	snprintf(v, sizeof(v), "%llu:%llu", dev, ino);
	setenv("JOURNAL_STREAM", v, 1);
}

/* The journal is chosen when JOURNAL_STREAM is our stderr, or when forced;
 * the backend is only installed, nothing is sent here. */
static void
test_journal_setup(void **state)
{
	struct stat st;

	(void)state;
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	unsetenv("EC2M_LOG_JOURNAL");
	unsetenv("JOURNAL_STREAM");
	assert_false(log_journal_setup());

	set_journal_stream(st.st_dev, st.st_ino);
	assert_true(log_journal_setup());
	/* Inherited by a process whose stderr went elsewhere. */
	set_journal_stream(st.st_dev, st.st_ino + 1);
	assert_false(log_journal_setup());
	setenv("JOURNAL_STREAM", "garbage", 1);
	assert_false(log_journal_setup());
	set_journal_stream(st.st_dev, st.st_ino);
	setenv("JOURNAL_STREAM", "1:2:3", 1);
	assert_false(log_journal_setup());

	set_journal_stream(st.st_dev, st.st_ino);
	setenv("EC2M_LOG_JOURNAL", "0", 1);
	assert_false(log_journal_setup());
	unsetenv("JOURNAL_STREAM");
	setenv("EC2M_LOG_JOURNAL", "1", 1);
	assert_true(log_journal_setup());

	unsetenv("EC2M_LOG_JOURNAL");
	log_set_backend(NULL);
}

/* A backend that fails hands the message to stderr, as a readable line. */
static void
test_backend_failure_falls_back(void **state)
{
	char buf[512];

	(void)state;
	log_init("ec2-managerd", LOG_INFO);
	log_set_backend(capture);
	backend_result = -1;
	ncaptured = 0;
	capture_stderr(warn_dev04, buf, sizeof(buf));
	assert_int_equal(ncaptured, 1);
	assert_string_equal(buf,
	    "ec2-managerd: warning: [dev04] no journal: fallback\n");
	log_init("ec2-managerd", LOG_INFO);
}

/* When stderr is journald's stream but the native protocol is switched
 * off, the lines carry their priority for journald to read. */
static void
test_journal_stream_without_native(void **state)
{
	struct stat st;
	char buf[512];

	(void)state;
	log_init("ec2-managerd", LOG_INFO);
	/* Decided once, by the stderr of the moment of the setup. */
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	set_journal_stream(st.st_dev, st.st_ino);
	setenv("EC2M_LOG_JOURNAL", "0", 1);
	assert_false(log_journal_setup());
	capture_stderr(warn_dev04, buf, sizeof(buf));
	assert_string_equal(buf,
	    "<4>ec2-managerd: warning: [dev04] no journal: fallback\n");
	/* Not journald's stream: plain lines again. */
	unsetenv("JOURNAL_STREAM");
	assert_false(log_journal_setup());
	capture_stderr(warn_dev04, buf, sizeof(buf));
	assert_string_equal(buf,
	    "ec2-managerd: warning: [dev04] no journal: fallback\n");
	unsetenv("EC2M_LOG_JOURNAL");
	log_init("ec2-managerd", LOG_INFO);
}

static void
test_level_names(void **state)
{
	(void)state;
	assert_int_equal(log_level_from_name("debug"), LOG_DEBUG);
	assert_int_equal(log_level_from_name("WARN"), LOG_WARNING);
	assert_int_equal(log_level_from_name("error"), LOG_ERR);
	assert_int_equal(log_level_from_name("loud"), -1);
	assert_string_equal(log_level_name(LOG_NOTICE), "notice");
	assert_string_equal(log_level_name(42), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields_all),
		cmocka_unit_test(test_fields_absent),
		cmocka_unit_test(test_fields_message_forms),
		cmocka_unit_test(test_fields_long_message_cut),
		cmocka_unit_test(test_line_format),
		cmocka_unit_test(test_backend_and_filter),
		cmocka_unit_test(test_backend_failure_falls_back),
		cmocka_unit_test(test_journal_setup),
		cmocka_unit_test(test_journal_stream_without_native),
		cmocka_unit_test(test_level_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
