/*
 * AWS Signature Version 4 for the EC2 Query API, and the query-parameter
 * list that requests are built from.  Pure: no clock, no I/O; the caller
 * passes the time and the credentials in.
 */
#ifndef EC2M_SIGV4_H
#define EC2M_SIGV4_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strbuf.h"

/* One request parameter, e.g. ("Filter.1.Name", "tag:Name"). */
struct aws_param {
	char	*name;
	char	*value;
};

struct aws_params {
	struct aws_param *v;	/* owned, with the strings */
	size_t	 n;
	size_t	 cap;
};

void aws_params_add(struct aws_params *p, const char *name, const char *value);
/* Sets name to value, replacing an existing parameter of that name. */
void aws_params_set(struct aws_params *p, const char *name, const char *value);
/* Appends the canonical form: RFC 3986 encoding of each name and value,
 * pairs sorted by encoded name then encoded value, joined with '&'.  The
 * same string serves as a POST body and as a canonical query string. */
void aws_params_encode(const struct aws_params *p, struct strbuf *out);
void aws_params_free(struct aws_params *p);

/* Appends s percent-encoded as SigV4 wants: everything but A-Z a-z 0-9
 * - _ . ~ becomes %XX with upper-case hex. */
void aws_uri_encode(struct strbuf *out, const char *s);

struct sigv4_input {
	const char *method;		/* "POST", "GET" */
	const char *host;		/* as sent in Host: with :port if not default */
	const char *path;		/* "/" */
	const char *query;		/* canonical query string, "" for none */
	const char *content_type;	/* signed when not NULL */
	const void *body;
	size_t	    body_len;
	const char *amz_date;		/* "20240115T093000Z" */
	const char *region;
	const char *service;		/* "ec2" */
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;	/* signed as x-amz-security-token if set */
};

#define SIGV4_HEX_LEN 65

struct sigv4_output {
	char	payload_hash[SIGV4_HEX_LEN];
	char	signature[SIGV4_HEX_LEN];
	char	authorization[512];
};

/* Signs the request.  When canonical is not NULL, the canonical request is
 * appended to it (for tests and debugging).  Returns 0, or -1 when an input
 * is missing or the result does not fit. */
int sigv4_sign(const struct sigv4_input *in, struct sigv4_output *out,
    struct strbuf *canonical);

#endif
