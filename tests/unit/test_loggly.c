/*
 * The pure parts of the Loggly sink (daemon/loggly_msg.c): the JSON event
 * of a message's fields with secrets redacted, the bulk URL with its tags,
 * and the bounded queue that drops the oldest events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "daemon/loggly.h"

static void
test_event_has_every_field(void **state)
{
	struct log_record r = {
		.level = LOG_NOTICE, .ident = "ec2-managerd",
		.cluster = "dev04", .op = "scale_up", .instance = "i-0abc",
		.event = LOG_EV_OP_STARTED, .file = "operation.c", .line = 9,
		.msg = "scale up started by uid 0",
	};
	struct log_fields f;
	json_t *o;
	char *s;

	(void)state;
	log_fields_build(&f, &r);
	s = loggly_event(&f, 1764800000000, 42, NULL, 0);
	assert_null(strchr(s, '\n'));
	o = json_loads(s, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "timestamp")),
	    "2025-12-03T22:13:20Z");
	assert_int_equal(json_integer_value(json_object_get(o, "seq")), 42);
	/* Each journal field, under its journal name. */
	assert_int_equal(json_object_size(o), 2 + f.n);
	assert_string_equal(json_string_value(json_object_get(o,
	    "EC2M_CLUSTER")), "dev04");
	assert_string_equal(json_string_value(json_object_get(o, "EC2M_OP")),
	    "scale_up");
	assert_string_equal(json_string_value(json_object_get(o,
	    "EC2M_INSTANCE")), "i-0abc");
	assert_string_equal(json_string_value(json_object_get(o,
	    "EC2M_EVENT")), "op_started");
	assert_string_equal(json_string_value(json_object_get(o,
	    "MESSAGE_ID")), log_event_message_id(LOG_EV_OP_STARTED));
	assert_string_equal(json_string_value(json_object_get(o, "MESSAGE")),
	    "scale up started by uid 0");
	assert_string_equal(json_string_value(json_object_get(o,
	    "PRIORITY")), "5");
	json_decref(o);
	free(s);
}

static void
test_event_redacts_secrets(void **state)
{
	const char *secrets[] = { "hunter2-password", "tok3n-abcdef", "abc" };
	struct log_record r = {
		.level = LOG_WARNING, .ident = "ec2-managerd",
		.cluster = "tok3n-abcdef",
		.msg = "login hunter2-password failed; \"hunter2-password\" "
		    "again, abc stays",
	};
	struct log_fields f;
	json_t *o;
	char *s;

	(void)state;
	log_fields_build(&f, &r);
	s = loggly_event(&f, 0, 1, secrets, 3);
	assert_null(strstr(s, "hunter2"));
	assert_null(strstr(s, "tok3n"));
	o = json_loads(s, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "MESSAGE")),
	    "login [redacted] failed; \"[redacted]\" again, abc stays");
	assert_string_equal(json_string_value(json_object_get(o,
	    "EC2M_CLUSTER")), "[redacted]");
	json_decref(o);
	free(s);
}

static void
test_redact(void **state)
{
	const char *secrets[] = { "secret", "secretlonger" };
	char *s;

	(void)state;
	s = loggly_redact("secretsecret", 12, secrets, 1);
	assert_string_equal(s, "[redacted][redacted]");
	free(s);
	/* A counted text: bytes after len are not looked at. */
	s = loggly_redact("xsecre", 5, secrets, 1);
	assert_string_equal(s, "xsecr");
	free(s);
	s = loggly_redact("", 0, secrets, 2);
	assert_string_equal(s, "");
	free(s);
}

static void
test_bulk_url(void **state)
{
	char *u;

	(void)state;
	u = loggly_bulk_url("https://logs-01.loggly.com", "TOKEN", "dev04");
	assert_string_equal(u,
	    "https://logs-01.loggly.com/bulk/TOKEN/tag/ec2-manager,dev04/");
	free(u);
	u = loggly_bulk_url("https://127.0.0.1:4443//", "T", NULL);
	assert_string_equal(u, "https://127.0.0.1:4443/bulk/T/tag/ec2-manager/");
	free(u);
	/* A cluster name is made a tag: no '/', ',', space or '?'. */
	u = loggly_bulk_url("https://h", "T", "a b/c,d?\xc3\xa9.e-f_g");
	assert_string_equal(u, "https://h/bulk/T/tag/ec2-manager,"
	    "a_b_c_d___.e-f_g/");
	free(u);
}

static struct loggly_entry *
entry(uint64_t seq, const char *cluster)
{
	struct loggly_entry *e = xcalloc(1, sizeof(*e));

	e->seq = seq;
	e->cluster = cluster ? xstrdup(cluster) : NULL;
	e->line = xasprintf("{\"seq\":%llu}\n", (unsigned long long)seq);
	e->len = strlen(e->line);
	return e;
}

/* The seqs of a list, as "1 2 3". */
static void
seqs(const struct loggly_entries *l, char *out, size_t len)
{
	const struct loggly_entry *e;
	size_t n = 0;

	out[0] = '\0';
	TAILQ_FOREACH(e, l, link)
		n += (size_t)snprintf(out + n, len - n, "%s%llu", n ? " " : "",
		    (unsigned long long)e->seq);
}

static void
test_queue_drops_oldest(void **state)
{
	struct loggly_queue q;
	char got[128];

	(void)state;
	loggly_queue_init(&q, 3);
	assert_int_equal(loggly_queue_push(&q, entry(1, "a")), 0);
	assert_int_equal(loggly_queue_push(&q, entry(2, "a")), 0);
	assert_int_equal(loggly_queue_push(&q, entry(3, "b")), 0);
	assert_int_equal(loggly_queue_push(&q, entry(4, "a")), 1);
	assert_int_equal(loggly_queue_push(&q, entry(5, NULL)), 1);
	assert_int_equal(q.n, 3);
	assert_int_equal(q.dropped, 2);
	seqs(&q.entries, got, sizeof(got));
	assert_string_equal(got, "3 4 5");
	loggly_queue_clear(&q);
	assert_int_equal(q.n, 0);
	assert_true(TAILQ_EMPTY(&q.entries));
}

/* A batch is one cluster's (its tag is the request's), oldest first; what
 * was not sent goes back in order, and the bound then drops the oldest. */
static void
test_queue_batches_by_cluster(void **state)
{
	struct loggly_entries batch = TAILQ_HEAD_INITIALIZER(batch);
	struct loggly_queue q;
	char got[128];

	(void)state;
	loggly_queue_init(&q, 6);
	loggly_queue_push(&q, entry(1, "a"));
	loggly_queue_push(&q, entry(2, NULL));
	loggly_queue_push(&q, entry(3, "a"));
	loggly_queue_push(&q, entry(4, "b"));
	loggly_queue_push(&q, entry(5, "a"));
	assert_int_equal(loggly_queue_take(&q, &batch, 2, 1 << 20), 2);
	seqs(&batch, got, sizeof(got));
	assert_string_equal(got, "1 3");
	seqs(&q.entries, got, sizeof(got));
	assert_string_equal(got, "2 4 5");
	assert_int_equal(q.n, 3);

	/* Not sent: back between the others, by seq. */
	loggly_queue_push(&q, entry(6, "b"));
	assert_int_equal(loggly_queue_put_back(&q, &batch), 0);
	assert_true(TAILQ_EMPTY(&batch));
	seqs(&q.entries, got, sizeof(got));
	assert_string_equal(got, "1 2 3 4 5 6");
	/* Full: one more pushes out the oldest, 1. */
	assert_int_equal(loggly_queue_push(&q, entry(7, NULL)), 1);
	seqs(&q.entries, got, sizeof(got));
	assert_string_equal(got, "2 3 4 5 6 7");

	/* No cluster is a batch of its own too. */
	assert_int_equal(loggly_queue_take(&q, &batch, 10, 1 << 20), 2);
	seqs(&batch, got, sizeof(got));
	assert_string_equal(got, "2 7");
	/* Put back while newer ones came: the oldest go first. */
	assert_int_equal(loggly_queue_push(&q, entry(8, "a")), 0);
	assert_int_equal(loggly_queue_push(&q, entry(9, "a")), 0);
	assert_int_equal(loggly_queue_push(&q, entry(10, "a")), 1);  /* 3 */
	assert_int_equal(loggly_queue_put_back(&q, &batch), 2);  /* 2, 4 */
	seqs(&q.entries, got, sizeof(got));
	assert_string_equal(got, "5 6 7 8 9 10");
	assert_int_equal(q.dropped, 4);

	/* The byte bound: at least one entry, then no more than fits. */
	assert_int_equal(loggly_queue_take(&q, &batch, 10, 1), 1);
	loggly_entries_free(&batch);
	assert_int_equal(loggly_queue_take(&q, &batch, 10,
	    2 * strlen("{\"seq\":6}\n")), 1);	/* 6; 7 is another's */
	loggly_entries_free(&batch);
	loggly_queue_clear(&q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_has_every_field),
		cmocka_unit_test(test_event_redacts_secrets),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_bulk_url),
		cmocka_unit_test(test_queue_drops_oldest),
		cmocka_unit_test(test_queue_batches_by_cluster),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
