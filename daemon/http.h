/*
 * Asynchronous HTTP on the libuv loop through libcurl's multi-socket API.
 * One http_client per loop; connections are reused across calls.  Callers
 * describe a request, get exactly one completion callback (unless they
 * cancel), and never see libcurl types.
 *
 * A session (http_session) keeps libcurl's easy handles between the calls
 * made in it, and with them what libcurl remembers per handle: the HTTP
 * Digest nonce and its counter, so that a client that talks to one server
 * as one user authenticates in one round trip once it has been challenged.
 */
#ifndef EC2M_HTTP_H
#define EC2M_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include <uv.h>

struct http_client;
struct http_call;
struct http_session;

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
	struct http_session *session;	/* NULL: a handle of its own */
	const char *ca_file;		/* CA bundle to trust instead of the
					   system's; only without a session */
};

#define HTTP_DEFAULT_CONNECT_MS	5000
#define HTTP_DEFAULT_TIMEOUT_MS	30000
#define HTTP_DEFAULT_MAX_BODY	(256u << 20)

struct http_response {
	long	 status;	/* HTTP status; 0 if no answer was received */
	bool	 ok;		/* a complete HTTP answer arrived */
	bool	 timed_out;
	bool	 cancelled;	/* the HTTP client shut down (!ok) */
	bool	 reused;	/* sent on a session's handle used before */
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
 * if the request cannot be set up, or the client has shut down (the
 * callback is then not called). */
struct http_call *http_submit(struct http_client *c,
    const struct http_request *req, http_done_fn *done, void *arg);

/* Abandons a call; its callback will not be called.  The call handle is
 * invalid afterwards.  NULL is a no-op. */
void http_cancel(struct http_call *call);

/* Number of calls in flight. */
size_t http_active(const struct http_client *c);

/*
 * Whoever must hear that the client shuts down: the upstream clients
 * (upstream.h), so that they answer the calls they have in flight.  The
 * fields are http.c's.
 */
struct http_watch {
	void	(*shutdown)(struct http_watch *w);
	LIST_ENTRY(http_watch) link;
	bool	 linked;
};

/* Tells w->shutdown(w) when c shuts down.  Returns false, and does not
 * add w, when c has shut down already. */
bool http_watch_add(struct http_client *c, struct http_watch *w);
/* Stops telling w; a no-op when it is not added. */
void http_watch_remove(struct http_watch *w);

/* The daemon is tearing down: tells every watcher (each upstream client
 * answers its calls with its "cancelled" error), then answers every call
 * still in flight with resp->cancelled set.  Callbacks run before this
 * returns; from then on http_submit() returns NULL.  Idempotent. */
void http_client_shutdown(struct http_client *c);

/* Shuts the client down (above) if that has not been done, and releases
 * it.  Some memory is released by libuv close callbacks, so run the loop
 * afterwards. */
void http_client_free(struct http_client *c);

/* A set of easy handles reused by the calls made in it (see the top).
 * It needs no client; one call at a time uses a handle, so concurrent
 * calls in one session each get one. */
struct http_session *http_session_new(void);
/* Releases the idle handles; a handle still in use by a call is released
 * when that call ends.  NULL is a no-op. */
void http_session_free(struct http_session *s);

#endif
