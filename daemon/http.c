/*
 * libcurl multi-socket glue for libuv, in the shape of curl's multi-uv
 * example: libcurl tells us which sockets to watch (curl_socket_cb) and when
 * to wake it (curl_timer_cb); libuv tells libcurl when a socket is ready
 * (on_uv_poll) or the timer fired (on_uv_timeout).  Finished transfers are
 * collected with curl_multi_info_read after every socket action.  No other
 * file calls libcurl for transfers.
 */
#include "daemon/http.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/log.h"
#include "common/strbuf.h"
#include "common/utf8.h"
#include "common/xalloc.h"

struct http_client {
	uv_loop_t	*loop;
	CURLM		*multi;
	uv_timer_t	 timer;
	TAILQ_HEAD(, http_call) calls;	/* in flight */
	size_t		 ncalls;
	LIST_HEAD(, http_sock) socks;	/* watched sockets */
	LIST_HEAD(, http_watch) watches;
	bool		 in_info_loop;
	bool		 shut;		/* http_client_shutdown() was called */
};

/* At most this many idle handles are kept per session. */
#define SESSION_IDLE	4

struct http_session {
	CURL		*idle[SESSION_IDLE];
	size_t		 nidle;
	size_t		 busy;		/* handles lent to calls */
	bool		 freed;		/* its owner let go */
};

struct http_call {
	struct http_client *client;
	CURL		*easy;
	struct http_session *session;	/* lent easy from there */
	bool		 reused;	/* easy served a call before */
	bool		 refused;	/* the answer was 401 */
	struct curl_slist *headers;
	char		*body;		/* our copy of the request body */
	struct strbuf	 resp;
	size_t		 max_body;
	bool		 too_big;
	char		 errbuf[CURL_ERROR_SIZE];
	http_done_fn	*done;
	void		*arg;
	TAILQ_ENTRY(http_call) link;
};

/* A socket libcurl asked us to watch. */
struct http_sock {
	uv_poll_t	 poll;
	curl_socket_t	 fd;
	struct http_client *client;
	LIST_ENTRY(http_sock) link;
};

static void check_multi_info(struct http_client *c);

static void
call_unlink(struct http_call *call)
{
	struct http_client *c = call->client;

	TAILQ_REMOVE(&c->calls, call, link);
	c->ncalls--;
}

static void
session_release(struct http_session *s)
{
	for (size_t i = 0; i < s->nidle; i++)
		curl_easy_cleanup(s->idle[i]);
	free(s);
}

/* Gives the call's easy handle back to its session when keep is set and
 * the session wants it, else cleans it up. */
static void
easy_release(struct http_call *call, bool keep)
{
	struct http_session *s = call->session;
	CURL *e = call->easy;

	if (s == NULL) {
		curl_easy_cleanup(e);
		return;
	}
	s->busy--;
	if (!keep && call->reused && call->refused) {
		/* What the session remembers no longer works for the
		 * server: its other handles would be refused as well. */
		while (s->nidle > 0)
			curl_easy_cleanup(s->idle[--s->nidle]);
	}
	if (keep && !s->freed && s->nidle < SESSION_IDLE) {
		/* Nothing of the call may stay pointed to. */
		curl_easy_setopt(e, CURLOPT_PRIVATE, NULL);
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, NULL);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
		s->idle[s->nidle++] = e;
	} else {
		curl_easy_cleanup(e);
	}
	if (s->freed && s->busy == 0)
		session_release(s);
}

static void
call_free(struct http_call *call, bool keep_easy)
{
	if (call->easy)
		easy_release(call, keep_easy);
	curl_slist_free_all(call->headers);
	free(call->body);
	strbuf_release(&call->resp);
	free(call);
}

/* Called by libcurl with response body bytes. */
static size_t
curl_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_call *call = userp;
	size_t n = size * nmemb;

	if (call->resp.len + n > call->max_body) {
		call->too_big = true;
		return 0;	/* makes libcurl fail with a write error */
	}
	strbuf_append(&call->resp, data, n);
	return n;
}

static void
on_sock_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
sock_close(struct http_sock *s)
{
	LIST_REMOVE(s, link);
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

/* Called by libuv when a watched socket is ready. */
static void
on_uv_poll(uv_poll_t *poll, int status, int events)
{
	struct http_sock *s = poll->data;
	struct http_client *c = s->client;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(c->multi, s->fd, flags, &running);
	check_multi_info(c);
}

/* Called by libcurl to say which events to watch on a socket. */
static int
curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
    void *socketp)
{
	struct http_client *c = userp;
	struct http_sock *s = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			sock_close(s);
			curl_multi_assign(c->multi, fd, NULL);
		}
		return 0;
	}
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->fd = fd;
		s->client = c;
		if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
			free(s);
			return -1;
		}
		s->poll.data = s;
		LIST_INSERT_HEAD(&c->socks, s, link);
		curl_multi_assign(c->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, on_uv_poll);
	return 0;
}

/* Called by libuv when libcurl's timeout expires. */
static void
on_uv_timeout(uv_timer_t *t)
{
	struct http_client *c = t->data;
	int running;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_multi_info(c);
}

/* Called by libcurl to (re)arm or cancel its single timer. */
static int
curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *c = userp;

	(void)multi;
	if (timeout_ms < 0)
		uv_timer_stop(&c->timer);
	else	/* 0 fires on the next loop turn, never from here. */
		uv_timer_start(&c->timer, on_uv_timeout, (uint64_t)timeout_ms, 0);
	return 0;
}

/* Answers the call; returns true when its handle is worth keeping (a
 * complete answer that did not refuse the credentials). */
static bool
complete(struct http_call *call, CURLcode code)
{
	struct http_response r;
	double total = 0;

	memset(&r, 0, sizeof(r));
	curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_getinfo(call->easy, CURLINFO_TOTAL_TIME, &total);
	r.total_s = total;
	r.ok = code == CURLE_OK;
	r.timed_out = code == CURLE_OPERATION_TIMEDOUT;
	r.reused = call->reused;
	if (!r.ok) {
		if (call->too_big)
			utf8_snprintf(r.error, sizeof(r.error),
			    "answer larger than %zu bytes", call->max_body);
		else
			utf8_snprintf(r.error, sizeof(r.error), "%s",
			    call->errbuf[0] ? call->errbuf :
			    curl_easy_strerror(code));
		r.status = 0;
	}
	r.body = strbuf_str(&call->resp);
	r.body_len = call->resp.len;
	call->refused = r.status == 401;
	call->done(call->arg, &r);
	return r.ok && !call->refused;
}

static void
check_multi_info(struct http_client *c)
{
	CURLMsg *msg;
	int pending;

	if (c->in_info_loop)
		return;
	c->in_info_loop = true;
	while ((msg = curl_multi_info_read(c->multi, &pending))) {
		struct http_call *call;
		CURLcode code;

		if (msg->msg != CURLMSG_DONE)
			continue;
		/* Read everything from msg before removing the handle:
		 * the message is invalid afterwards. */
		code = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &call);
		curl_multi_remove_handle(c->multi, call->easy);
		call_unlink(call);
		call_free(call, complete(call, code));
	}
	c->in_info_loop = false;
}

struct http_client *
http_client_new(uv_loop_t *loop)
{
	struct http_client *c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	TAILQ_INIT(&c->calls);
	LIST_INIT(&c->socks);
	LIST_INIT(&c->watches);
	c->multi = curl_multi_init();
	if (c->multi == NULL)
		abort();
	if (uv_timer_init(loop, &c->timer) != 0)
		abort();
	c->timer.data = c;
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
	return c;
}

/* An easy handle for the call: an idle one of its session, or a new one.
 * Every option a call sets is set again below, so a reused handle carries
 * nothing of its last call but libcurl's own state (auth, connection). */
static CURL *
easy_take(struct http_call *call, struct http_session *s)
{
	if (s && s->nidle > 0) {
		call->reused = true;
		call->easy = s->idle[--s->nidle];
	} else {
		call->easy = curl_easy_init();
	}
	if (call->easy && s) {
		call->session = s;
		s->busy++;
	}
	return call->easy;
}

struct http_call *
http_submit(struct http_client *c, const struct http_request *req,
    http_done_fn *done, void *arg)
{
	struct http_call *call;
	CURL *e;
	bool has_body = strcmp(req->method, "POST") == 0 ||
	    strcmp(req->method, "PUT") == 0;

	if (c->shut)
		return NULL;
	call = xcalloc(1, sizeof(*call));
	call->client = c;
	call->done = done;
	call->arg = arg;
	call->max_body = req->max_body ? req->max_body : HTTP_DEFAULT_MAX_BODY;
	if ((e = easy_take(call, req->session)) == NULL) {
		free(call);
		return NULL;
	}
	for (const char *const *h = req->headers; h && *h; h++)
		call->headers = curl_slist_append(call->headers, *h);
	/* No "Expect: 100-continue" round trip for small bodies. */
	call->headers = curl_slist_append(call->headers, "Expect:");

	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, call);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, curl_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms ?
	    req->connect_timeout_ms : (long)HTTP_DEFAULT_CONNECT_MS);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms ?
	    req->timeout_ms : (long)HTTP_DEFAULT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "ec2-manager/" EC2M_VERSION);
	if (req->ca_file && *req->ca_file && req->session == NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, req->ca_file);
	if (has_body) {
		call->body = xmalloc(req->body_len + 1);
		if (req->body_len)
			memcpy(call->body, req->body, req->body_len);
		call->body[req->body_len] = '\0';
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)req->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body);
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
	    strcmp(req->method, "GET") == 0 ||
	    strcmp(req->method, "POST") == 0 ? NULL : req->method);
	if (req->digest_user && req->digest_password) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_DIGEST);
		curl_easy_setopt(e, CURLOPT_USERNAME, req->digest_user);
		curl_easy_setopt(e, CURLOPT_PASSWORD, req->digest_password);
	} else if (call->reused) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, NULL);
		curl_easy_setopt(e, CURLOPT_PASSWORD, NULL);
	}

	TAILQ_INSERT_TAIL(&c->calls, call, link);
	c->ncalls++;
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
		call_unlink(call);
		call_free(call, false);
		return NULL;
	}
	return call;
}

void
http_cancel(struct http_call *call)
{
	if (call == NULL)
		return;
	curl_multi_remove_handle(call->client->multi, call->easy);
	call_unlink(call);
	/* Cut off mid-exchange: its auth state may be half-way. */
	call_free(call, false);
}

size_t
http_active(const struct http_client *c)
{
	return c->ncalls;
}

bool
http_watch_add(struct http_client *c, struct http_watch *w)
{
	if (c->shut)
		return false;
	LIST_INSERT_HEAD(&c->watches, w, link);
	w->linked = true;
	return true;
}

void
http_watch_remove(struct http_watch *w)
{
	if (w == NULL || !w->linked)
		return;
	LIST_REMOVE(w, link);
	w->linked = false;
}

void
http_client_shutdown(struct http_client *c)
{
	struct http_watch *w;
	struct http_call *call;

	if (c == NULL || c->shut)
		return;
	c->shut = true;
	/* Each watcher leaves the list before it is told, so that it may
	 * go away while it answers its calls. */
	while ((w = LIST_FIRST(&c->watches)) != NULL) {
		LIST_REMOVE(w, link);
		w->linked = false;
		w->shutdown(w);
	}
	/* Calls made directly (no upstream client) get a cancelled answer;
	 * their callbacks cannot start new ones any more. */
	while ((call = TAILQ_FIRST(&c->calls)) != NULL) {
		struct http_response r;

		curl_multi_remove_handle(c->multi, call->easy);
		call_unlink(call);
		memset(&r, 0, sizeof(r));
		r.cancelled = true;
		r.reused = call->reused;
		utf8_snprintf(r.error, sizeof(r.error),
		    "cancelled: the daemon is shutting down");
		r.body = strbuf_str(&call->resp);
		call->done(call->arg, &r);
		call_free(call, false);
	}
}

static void
on_client_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	http_client_shutdown(c);
	/* Closes cached connections; libcurl reports each socket removal
	 * through curl_socket_cb, which closes its poll handle. */
	curl_multi_cleanup(c->multi);
	while (!LIST_EMPTY(&c->socks))	/* any it did not report */
		sock_close(LIST_FIRST(&c->socks));
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_client_timer_closed);
}

struct http_session *
http_session_new(void)
{
	return xcalloc(1, sizeof(struct http_session));
}

void
http_session_free(struct http_session *s)
{
	if (s == NULL)
		return;
	s->freed = true;
	if (s->busy == 0)
		session_release(s);
}
