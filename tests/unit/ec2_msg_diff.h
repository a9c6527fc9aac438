/*
 * The two DescribeInstances readers side by side (daemon/ec2_msg.h): the
 * streaming one must give what the DOM one gives on every input, every
 * field of every instance, the tags, the next token and the error.  Used by
 * tests/unit/test_ec2_msg.c and tests/fuzz/fuzz_ec2_msg.c.  Header only.
 */
#ifndef EC2M_TEST_EC2_MSG_DIFF_H
#define EC2M_TEST_EC2_MSG_DIFF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ec2_msg.h"

/* A page both lists hold before the input is read, so that what a failed
 * read leaves behind is compared too. */
#define EC2_DIFF_SEED \
	"<DescribeInstancesResponse><reservationSet><item><instancesSet>" \
	"<item><instanceId>i-seed</instanceId><tagSet><item><key>Name</key>" \
	"<value>seed-1</value></item></tagSet></item>" \
	"</instancesSet></item></reservationSet></DescribeInstancesResponse>"

static int
ec2_diff_str(const char *what, const char *a, const char *b, char *diff,
    size_t size)
{
	if (a == NULL && b == NULL)
		return 0;
	if (a != NULL && b != NULL && strcmp(a, b) == 0)
		return 0;
	/* not text */
	snprintf(diff, size, "%.60s: DOM \"%.200s\", streaming \"%.200s\"",
	    what, a ? a : "(null)", b ? b : "(null)");
	return -1;
}

static int
ec2_diff_instance(size_t i, const struct ec2_instance *a,
    const struct ec2_instance *b, char *diff, size_t size)
{
	char what[64];

#define EC2_DIFF_FIELD(f) do { \
	snprintf(what, sizeof(what), "instance %zu " #f, i); /* not text */ \
	if (ec2_diff_str(what, a->f, b->f, diff, size) != 0) \
		return -1; \
} while (0)
	EC2_DIFF_FIELD(id);
	EC2_DIFF_FIELD(name);
	EC2_DIFF_FIELD(instance_type);
	EC2_DIFF_FIELD(private_ip);
	EC2_DIFF_FIELD(public_ip);
	EC2_DIFF_FIELD(private_dns);
	EC2_DIFF_FIELD(public_dns);
#undef EC2_DIFF_FIELD
	if (a->state != b->state || a->launch_time_ms != b->launch_time_ms ||
	    a->ntags != b->ntags) {
		/* not text */
		snprintf(diff, size, "instance %zu: state %d/%d, launch "
		    "%lld/%lld, %zu/%zu tags", i, (int)a->state, (int)b->state,
		    (long long)a->launch_time_ms, (long long)b->launch_time_ms,
		    a->ntags, b->ntags);
		return -1;
	}
	for (size_t t = 0; t < a->ntags; t++) {
		snprintf(what, sizeof(what), "instance %zu tag %zu key", /* not text */
		    i, t);
		if (ec2_diff_str(what, a->tags[t].key, b->tags[t].key, diff,
		    size) != 0)
			return -1;
		snprintf(what, sizeof(what), "instance %zu tag %zu value", /* not text */
		    i, t);
		if (ec2_diff_str(what, a->tags[t].value, b->tags[t].value,
		    diff, size) != 0)
			return -1;
	}
	return 0;
}

/* 0 when both readers agree on xml, else -1 with the first difference in
 * diff. */
static int
ec2_describe_diff(const char *xml, size_t len, char *diff, size_t size)
{
	struct ec2_instance_list *la = ec2_instance_list_new();
	struct ec2_instance_list *lb = ec2_instance_list_new();
	struct aws_error ea, eb;
	char *ta = NULL, *tb = NULL;
	int ra, rb, rc = -1;

	diff[0] = '\0';
	aws_error_clear(&ea);
	aws_error_clear(&eb);
	if (ec2_parse_describe_dom(EC2_DIFF_SEED, strlen(EC2_DIFF_SEED), la,
	    &ta, &ea) != 0 || ec2_parse_describe_dom(EC2_DIFF_SEED,
	    strlen(EC2_DIFF_SEED), lb, &tb, &eb) != 0 || la->n != 1) {
		snprintf(diff, size, "the seed page does not parse"); /* not text */
		goto out;
	}
	ra = ec2_parse_describe_dom(xml, len, la, &ta, &ea);
	rb = ec2_parse_describe_stream(xml, len, lb, &tb, &eb);
	if (ra != rb) {
		/* not text */
		snprintf(diff, size,
		    "DOM returns %d (%.200s), streaming %d (%.200s)", ra,
		    ea.message, rb, eb.message);
		goto out;
	}
	if (ea.kind != eb.kind || ea.http_status != eb.http_status) {
		snprintf(diff, size, "error kind %d/%d, HTTP %ld/%ld", /* not text */
		    (int)ea.kind, (int)eb.kind, ea.http_status, eb.http_status);
		goto out;
	}
	if (ec2_diff_str("error message", ea.message, eb.message, diff,
	    size) != 0 || ec2_diff_str("error code", ea.code, eb.code, diff,
	    size) != 0 || ec2_diff_str("next token", ta, tb, diff, size) != 0)
		goto out;
	if (la->n != lb->n) {
		snprintf(diff, size, "DOM lists %zu instances, streaming %zu", /* not text */
		    la->n, lb->n);
		goto out;
	}
	for (size_t i = 0; i < la->n; i++)
		if (ec2_diff_instance(i, &la->v[i], &lb->v[i], diff, size) != 0)
			goto out;
	rc = 0;
out:
	free(ta);
	free(tb);
	ec2_instance_list_free(la);
	ec2_instance_list_free(lb);
	return rc;
}

#endif
