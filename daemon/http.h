/*
 * Asynchronous HTTP on the libuv loop through libcurl's multi-socket API.
 * One http_client per loop; connections are reused across calls.  Callers
 * describe a request, get exactly one completion callback (unless they
 * cancel), and never see libcurl types.
 */
#ifndef EC2M_HTTP_H
#define EC2M_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

struct http_client;
struct http_call;

struct http_request {
	const char *method;		/* "GET", "POST", "PUT" */
	const char *url;
	const char *const *headers;	/* NULL-terminated "Name: value" */
	const void *body;		/* sent for POST and PUT */
	size_t	    body_len;
	long	    connect_timeout_ms;	/* 0: HTTP_DEFAULT_CONNECT_MS */
	long	    timeout_ms;		/* whole call; 0: HTTP_DEFAULT_TIMEOUT_MS */
	size_t	    max_body;		/* 0: HTTP_DEFAULT_MAX_BODY */
	const char *digest_user;	/* HTTP Digest auth when both set */
	const char *digest_password;
};

#define HTTP_DEFAULT_CONNECT_MS	5000
#define HTTP_DEFAULT_TIMEOUT_MS	30000
#define HTTP_DEFAULT_MAX_BODY	(256u << 20)

struct http_response {
	long	 status;	/* HTTP status; 0 if no answer was received */
	bool	 ok;		/* a complete HTTP answer arrived */
	bool	 timed_out;
	char	 error[256];	/* transport error text when !ok */
	const char *body;	/* NUL-terminated; borrowed for the callback */
	size_t	 body_len;
	double	 total_s;
};

/* Called once per call from the loop; resp is valid only during the call.
 * The callback may submit new calls and cancel others. */
typedef void http_done_fn(void *arg, const struct http_response *resp);

/* Returns a new client on loop; free with http_client_free(). */
struct http_client *http_client_new(uv_loop_t *loop);

/* Starts a call.  The request and everything it points to may be freed as
 * soon as this returns (the library copies what it needs).  Returns NULL
 * if the request cannot be set up (the callback is then not called). */
struct http_call *http_submit(struct http_client *c,
    const struct http_request *req, http_done_fn *done, void *arg);

/* Abandons a call; its callback will not be called.  The call handle is
 * invalid afterwards. */
void http_cancel(struct http_call *call);

/* Number of calls in flight. */
size_t http_active(const struct http_client *c);

/* Cancels every call in flight (their callbacks are not called) and
 * releases the client.  Some memory is released by libuv close callbacks,
 * so run the loop afterwards. */
void http_client_free(struct http_client *c);

#endif
