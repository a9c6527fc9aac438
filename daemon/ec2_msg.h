/*
 * EC2 Query API messages: building the parameters of DescribeInstances,
 * StartInstances and StopInstances, and reading their XML answers (and the
 * error envelope) into plain C structs.  Pure: no I/O, no clock.  This
 * module (ec2_msg.c, ec2_msg_stream.c) is the only place that knows libxml2.
 */
#ifndef EC2M_EC2_MSG_H
#define EC2M_EC2_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/pool.h"
#include "daemon/aws.h"
#include "daemon/sigv4.h"

#define EC2_API_VERSION "2016-11-15"

enum ec2_state {
	EC2_STATE_UNKNOWN = -1,
	EC2_STATE_PENDING = 0,
	EC2_STATE_RUNNING = 16,
	EC2_STATE_SHUTTING_DOWN = 32,
	EC2_STATE_TERMINATED = 48,
	EC2_STATE_STOPPING = 64,
	EC2_STATE_STOPPED = 80,
};

const char *ec2_state_name(enum ec2_state s);
enum ec2_state ec2_state_from_name(const char *name);

struct ec2_tag {
	const char *key;
	const char *value;
};

/* Strings are never NULL for id and name ("" when the Name tag is
 * missing); the optional ones are NULL when EC2 did not send them. */
struct ec2_instance {
	const char *id;
	const char *name;
	const char *instance_type;
	const char *private_ip;
	const char *public_ip;
	const char *private_dns;
	const char *public_dns;
	enum ec2_state state;
	int64_t	 launch_time_ms;	/* 0 when unknown */
	struct ec2_tag *tags;
	size_t	 ntags;
};

/* A list of instances that owns all their strings (in pool). */
struct ec2_instance_list {
	struct ec2_instance *v;
	size_t	 n;
	size_t	 cap;
	struct pool pool;
};

struct ec2_instance_list *ec2_instance_list_new(void);
void ec2_instance_list_free(struct ec2_instance_list *l);
/* The value of tag `key` (exact match), or NULL. */
const char *ec2_instance_tag(const struct ec2_instance *i, const char *key);

struct ec2_state_change {
	const char *id;
	enum ec2_state previous;
	enum ec2_state current;
};

struct ec2_state_changes {
	struct ec2_state_change *v;
	size_t	 n;
	size_t	 cap;
	struct pool pool;
};

struct ec2_state_changes *ec2_state_changes_new(void);
void ec2_state_changes_free(struct ec2_state_changes *c);

/* DescribeInstances for the instances whose Name starts with prefix + "-"
 * (wildcards in the prefix are escaped), one page of max_results, from
 * next_token when not NULL. */
void ec2_build_describe(struct aws_params *p, const char *prefix,
    int max_results, const char *next_token);
/* StartInstances or StopInstances with every id in one call. */
void ec2_build_start_stop(struct aws_params *p, bool start,
    const char *const *ids, size_t n, bool dry_run);

/* Parses a DescribeInstancesResponse, appending every non-terminated
 * instance to out.  *next_token becomes a malloc'ed token, or NULL on the
 * last page.  Returns 0, or -1 with err filled (kind AWS_ERR_PARSE). */
int ec2_parse_describe(const char *xml, size_t len,
    struct ec2_instance_list *out, char **next_token, struct aws_error *err);
/* The two readers behind it, with identical results on every input: a
 * streaming one (SAX2, no tree; what ec2_parse_describe uses) and the DOM
 * one it replaced, kept for the differential test, the fuzz target and the
 * benchmark. */
int ec2_parse_describe_stream(const char *xml, size_t len,
    struct ec2_instance_list *out, char **next_token, struct aws_error *err);
int ec2_parse_describe_dom(const char *xml, size_t len,
    struct ec2_instance_list *out, char **next_token, struct aws_error *err);
/* Parses a Start/StopInstancesResponse into out. */
int ec2_parse_state_changes(const char *xml, size_t len,
    struct ec2_state_changes *out, struct aws_error *err);
/* Fills err from an error answer: the <Response><Errors> envelope when the
 * body holds one, else a generic message with the HTTP status.  Sets kind,
 * http_status, code, message and request_id. */
void ec2_parse_error(const char *xml, size_t len, long http_status,
    struct aws_error *err);

#endif
