/*
 * The logging layer: the journal fields built for a message, the readable
 * stderr line, the level filter in front of both, and how the daemon
 * decides to use the journal.  Nothing here talks to journald; the fields
 * that log_fields_build() makes are exactly what sd_journal_sendv() gets.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"
#include "common/utf8.h"

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
		.event = LOG_EV_DECISION, .file = "../daemon/policy.c",
		.line = 123, .msg = "stop 2 workers",
	};
	struct log_fields f;

	(void)state;
	assert_int_equal(log_fields_build(&f, &r), 10);
	assert_int_equal(f.n, 10);
	assert_field(&f, "MESSAGE", "stop 2 workers");
	assert_field(&f, "PRIORITY", "4");
	assert_field(&f, "SYSLOG_IDENTIFIER", "ec2-managerd");
	assert_field(&f, "CODE_FILE", "../daemon/policy.c");
	assert_field(&f, "CODE_LINE", "123");
	assert_field(&f, "EC2M_CLUSTER", "dev04");
	assert_field(&f, "EC2M_OP", "scale");
	assert_field(&f, "EC2M_INSTANCE", "i-0abc");
	assert_field(&f, "EC2M_EVENT", "decision");
	assert_field(&f, "MESSAGE_ID", "4d6fb6f60b624e38ae5b8b40e7d7c3e8");
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
	assert_field(&f, "MESSAGE_ID", NULL);
}

/* Values from outside (an instance name, an upstream error) are made
 * valid UTF-8, and a long one is cut at a character boundary. */
static void
test_fields_utf8(void **state)
{
	static char big[6000];
	struct log_record r = {
		.level = LOG_INFO, .ident = "ec2-managerd",
		.cluster = "dev\xff" "04", .instance = "i-\xc3",
		.file = "x.c", .line = 3,
	};
	struct log_fields f;
	size_t i;

	(void)state;
	/* "é" (2 bytes) repeated: any cut in the middle would split one. */
	for (i = 0; i + 2 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[i] = '\0';
	r.msg = big;
	log_fields_build(&f, &r);
	assert_field(&f, "EC2M_CLUSTER", "dev" UTF8_REPLACEMENT "04");
	assert_field(&f, "EC2M_INSTANCE", "i-" UTF8_REPLACEMENT);
	for (i = 0; i < f.n; i++)
		assert_true(utf8_valid(f.iov[i].iov_base, f.iov[i].iov_len));
}

/* Every event has a distinct name and a distinct 128-bit id in the form
 * journald wants (32 lower-case hex digits). */
static void
test_event_table(void **state)
{
	(void)state;
	assert_null(log_event_name(LOG_EV_NONE));
	assert_null(log_event_message_id(LOG_EV_COUNT));
	for (int e = 1; e < LOG_EV_COUNT; e++) {
		const char *id = log_event_message_id(e);

		assert_non_null(log_event_name(e));
		assert_int_equal(strlen(id), 32);
		assert_int_equal(strspn(id, "0123456789abcdef"), 32);
		for (int o = 1; o < e; o++) {
			assert_string_not_equal(id, log_event_message_id(o));
			assert_string_not_equal(log_event_name(e),
			    log_event_name(o));
		}
	}
}

/* The journal catalog has an entry for every id of the code and no
 * other; each entry names its event. */
static void
test_catalog_matches_code(void **state)
{
	FILE *fp = fopen("../../systemd/ec2-manager.catalog", "r");
	bool seen[LOG_EV_COUNT] = { false };
	char line[512], id[64];
	int entries = 0, e;

	(void)state;
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		if (strncmp(line, "-- ", 3) != 0)
			continue;
		assert_int_equal(sscanf(line, "-- %63s", id), 1);
		entries++;
		for (e = 1; e < LOG_EV_COUNT; e++)
			if (strcmp(id, log_event_message_id(e)) == 0)
				break;
		if (e == LOG_EV_COUNT)
			fail_msg("catalog id %s is not used by the code", id);
		assert_false(seen[e]);
		seen[e] = true;
	}
	fclose(fp);
	for (e = 1; e < LOG_EV_COUNT; e++)
		if (!seen[e])
			fail_msg("event %s (%s) is not in the catalog",
			    log_event_name(e), log_event_message_id(e));
	assert_int_equal(entries, LOG_EV_COUNT - 1);
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
	r.event = LOG_EV_OP_FINISHED;	/* journal only */
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
capture(const struct log_record *r, const struct log_fields *f)
{
	(void)f;
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
	clog_fields(LOG_NOTICE, "dev04", "stop", "i-1", LOG_EV_OP_FINISHED,
	    "stopped %d", 3);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(ncaptured, 1);
	assert_int_equal(captured.level, LOG_NOTICE);
	assert_string_equal(captured.ident, "ec2-managerd");
	assert_string_equal(captured.cluster, "dev04");
	assert_string_equal(captured.op, "stop");
	assert_string_equal(captured.instance, "i-1");
	assert_int_equal(captured.event, LOG_EV_OP_FINISHED);
	assert_string_equal(captured.msg, "stopped 3");
	assert_non_null(strstr(captured.file, "test_log.c"));
	assert_true(captured.line > 0);

	/* The old calls still work and carry no extra fields. */
	clog(LOG_WARNING, "prod", "refresh failed");
	assert_int_equal(ncaptured, 2);
	assert_string_equal(captured.cluster, "prod");
	assert_null(captured.op);
	assert_null(captured.instance);
	assert_int_equal(captured.event, LOG_EV_NONE);
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

/* What the journal backend sends, and what a tap gets. */
static struct iovec sent[LOG_FIELDS_MAX];
static char sent_buf[4096];
static int nsent, nsends;
static struct log_fields tapped;
static int ntapped;

static int
fake_sendv(const struct iovec *iov, int n)
{
	size_t used = 0;

	nsends++;
	nsent = n;
	for (int i = 0; i < n && i < LOG_FIELDS_MAX; i++) {
		memcpy(sent_buf + used, iov[i].iov_base, iov[i].iov_len);
		sent[i].iov_base = sent_buf + used;
		sent[i].iov_len = iov[i].iov_len;
		used += iov[i].iov_len;
	}
	return 0;
}

static void
tap(void *arg, const struct log_record *r, const struct log_fields *f)
{
	(void)r;
	ntapped++;
	tapped = *f;
	/* Taps see the fields, not the stderr line; the pieces point into
	 * f->buf, so point them into the copy. */
	for (size_t i = 0; i < f->n; i++)
		tapped.iov[i].iov_base = tapped.buf +
		    ((const char *)f->iov[i].iov_base - f->buf);
	/* A message logged by a tap reaches the backend only. */
	if (arg != NULL)
		log_info("from inside the tap");
}

/* The journal gets exactly the pieces every tap gets (the Loggly sink and
 * the fields file are taps), in the same order. */
static void
test_journal_iov_is_the_tap_list(void **state)
{
	(void)state;
	log_init("ec2-managerd", LOG_INFO);
	setenv("EC2M_LOG_JOURNAL", "1", 1);
	log_journal_set_sender(fake_sendv);
	assert_true(log_journal_setup());
	assert_int_equal(log_tap_add(tap, NULL), 0);
	nsends = ntapped = 0;
	clog_fields(LOG_NOTICE, "dev04", "scale_up", "i-0abc",
	    LOG_EV_OP_STARTED, "scale up started by %s", "uid 0");
	assert_int_equal(nsends, 1);
	assert_int_equal(ntapped, 1);
	assert_int_equal(nsent, (int)tapped.n);
	assert_int_equal(tapped.n, 10);
	for (size_t i = 0; i < tapped.n; i++) {
		assert_int_equal(sent[i].iov_len, tapped.iov[i].iov_len);
		assert_memory_equal(sent[i].iov_base, tapped.iov[i].iov_base,
		    sent[i].iov_len);
	}
	assert_field(&tapped, "EC2M_EVENT", "op_started");
	assert_field(&tapped, "MESSAGE_ID",
	    "c82eac1539104e15b409c1347c15d387");
	assert_field(&tapped, "MESSAGE", "scale up started by uid 0");

	/* Below the level: neither gets it. */
	log_debug("hidden");
	assert_int_equal(nsends, 1);
	assert_int_equal(ntapped, 1);

	/* A tap that logs: its message goes to the journal, not to taps. */
	log_tap_remove(tap, NULL);
	assert_int_equal(log_tap_add(tap, (void *)1), 0);
	log_info("outer");
	assert_int_equal(nsends, 3);
	assert_int_equal(ntapped, 2);
	assert_field(&tapped, "MESSAGE", "outer");
	log_tap_remove(tap, (void *)1);
	log_info("no tap");
	assert_int_equal(ntapped, 2);

	unsetenv("EC2M_LOG_JOURNAL");
	log_journal_set_sender(NULL);
	log_init("ec2-managerd", LOG_INFO);
}

/* The fields file: one JSON array of the same pieces per message. */
static void
test_fields_file(void **state)
{
	char path[] = "/tmp/test_log_fields.XXXXXX";
	int fd = mkstemp(path);
	char buf[2048];
	ssize_t n;

	(void)state;
	assert_true(fd >= 0);
	log_init("ec2-managerd", LOG_INFO);
	log_set_backend(capture);
	backend_result = 0;
	setenv("EC2M_LOG_FIELDS_FILE", path, 1);
	assert_true(log_fields_file_setup());
	clog_fields(LOG_WARNING, "dev04", "stop", "i-1", LOG_EV_OP_FAILED,
	    "stop failed: \"quoted\"");
	log_fields_file_close();
	clog(LOG_WARNING, "dev04", "after the close");
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "\"EC2M_EVENT=op_failed\""));
	assert_non_null(strstr(buf, "\"MESSAGE_ID="
	    "6c0934725eb2448fa50fc4e0a9a6be2e\""));
	assert_non_null(strstr(buf, "\"MESSAGE=stop failed: \\\"quoted\\\"\""));
	assert_null(strstr(buf, "after the close"));
	/* One line. */
	assert_int_equal(buf[n - 1], '\n');
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
	close(fd);
	unlink(path);
	unsetenv("EC2M_LOG_FIELDS_FILE");
	assert_false(log_fields_file_setup());
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
		cmocka_unit_test(test_fields_utf8),
		cmocka_unit_test(test_event_table),
		cmocka_unit_test(test_catalog_matches_code),
		cmocka_unit_test(test_journal_iov_is_the_tap_list),
		cmocka_unit_test(test_fields_file),
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
